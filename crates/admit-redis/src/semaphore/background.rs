//! The background tasks of one fleet semaphore: the *keeper* (a refresh of every local lease
//! and ticket every TTL/3, which is also the fallback for missed wake-ups and the detector of
//! lost leases) and the *subscriber* (push wake-ups from the pub/sub channel). Both hold only a
//! weak reference to the semaphore and stop when its last handle and permit are gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use admit_runtime::Runtime;
use event_listener::Event;
use futures_lite::StreamExt;

use super::Shared;
use crate::Error;
use crate::options::{timed_out, with_timeout};

/// A flag set once, with an event: stops the background tasks when the last handle goes.
#[derive(Default)]
pub(super) struct Stop {
    set: AtomicBool,
    event: Event,
}

impl Stop {
    pub(super) fn set(&self) {
        self.set.store(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
    }

    pub(super) async fn wait(&self) {
        while !self.set.load(Ordering::SeqCst) {
            let listener = self.event.listen();
            if self.set.load(Ordering::SeqCst) {
                return;
            }
            listener.await;
        }
    }
}

/// The background tasks of one semaphore: the keeper (periodic refresh, the fallback for
/// missed wake-ups, loss detection) and the subscriber (push wake-ups). Both hold only a weak
/// reference and stop when the last handle and permit are gone.
pub(super) async fn keeper<R: Runtime>(
    shared: Weak<Shared<R>>,
    stop: Arc<Stop>,
    interval: Duration,
) {
    let retry = (interval / 4).max(Duration::from_millis(5));
    let mut wait = interval;
    loop {
        let recheck = match shared.upgrade() {
            Some(shared) => shared.recheck.listen(),
            None => return,
        };
        let stopped = futures_lite::future::or(
            async {
                stop.wait().await;
                true
            },
            futures_lite::future::or(
                async {
                    R::sleep(wait).await;
                    false
                },
                async {
                    recheck.await;
                    false
                },
            ),
        )
        .await;
        if stopped {
            return;
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        wait = if shared.refresh().await.is_ok() {
            interval
        } else {
            retry
        };
    }
}

pub(super) async fn subscribe<R: Runtime>(
    client: &redis::Client,
    channel: &str,
    timeout: Duration,
) -> Result<redis::aio::PubSub, Error> {
    let connect = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, Error>(pubsub)
    };
    with_timeout::<R, _>(timeout, connect)
        .await
        .unwrap_or_else(|| Err(timed_out("subscribing to the wake-up channel")))
}

pub(super) async fn subscriber<R: Runtime>(
    shared: Weak<Shared<R>>,
    stop: Arc<Stop>,
    client: redis::Client,
    channel: String,
    first: redis::aio::PubSub,
    timeout: Duration,
) {
    let mut connection = Some(first);
    let mut backoff = Duration::from_millis(20);
    loop {
        let pubsub = match connection.take() {
            Some(pubsub) => pubsub,
            None => {
                let stopped = futures_lite::future::or(
                    async {
                        stop.wait().await;
                        true
                    },
                    async {
                        R::sleep(backoff).await;
                        false
                    },
                )
                .await;
                if stopped {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                match subscribe::<R>(&client, &channel, timeout).await {
                    Ok(pubsub) => {
                        backoff = Duration::from_millis(20);
                        // Grants published while we were away are found by a refresh.
                        match shared.upgrade() {
                            Some(shared) => shared.recheck.notify(usize::MAX),
                            None => return,
                        };
                        pubsub
                    }
                    _ => continue,
                }
            }
        };
        let mut messages = pubsub.into_on_message();
        loop {
            let next = futures_lite::future::or(
                async {
                    stop.wait().await;
                    None
                },
                async { Some(messages.next().await) },
            )
            .await;
            match next {
                None => return,
                Some(None) => break,
                Some(Some(message)) => {
                    let Some(shared) = shared.upgrade() else {
                        return;
                    };
                    if let Ok(payload) = std::str::from_utf8(message.get_payload_bytes()) {
                        shared.dispatch(payload);
                    }
                }
            }
        }
    }
}
