//! The fleet semaphore, [`admit_redis::FleetSemaphore`] on a real Redis, seen through
//! [`PeerSemaphore`] so the peer guarantees run on it as one more column.
//!
//! What the wrapper adapts, and why:
//!
//! * **Redis.** `ADMIT_REDIS_URL` if set (`cargo xtask ci` starts one server for the test
//!   step), else a private `redis-server` on a free loopback port without persistence,
//!   started once per process and killed when the process ends (it is tied to a pipe this
//!   process holds). A missing `redis-server` fails the check with a one-line hint; nothing
//!   is skipped.
//! * **Names.** Each semaphore of a check gets a name no other run uses (process id, clock,
//!   counter), so runs sharing a server never meet.
//! * **A fixed capacity.** A fleet semaphore's capacity is fixed at creation and at least 1,
//!   and it has no `add_permits`. [`with_permits(n)`](PeerSemaphore::with_permits) opens it
//!   with `n` + [`SPARE`] permits and takes the spare ones as single permits held by the
//!   wrapper; [`add_permits(k)`](PeerSemaphore::add_permits) drops `k` of them: permits
//!   become free through the fleet's own release path, which is what the cases observe.
//! * **Async operations.** `try_acquire_many` and `available_permits` are a round trip to
//!   Redis; the wrapper runs them to completion on tokio's blocking section
//!   (`block_in_place`), so the checks must run on tokio's multi-thread runtime with I/O
//!   enabled ([`TokioMultiThread`](crate::adapters::TokioMultiThread) is).
//! * **Leaving Redis clean.** After every check, [`PeerSemaphore::settle`] waits until every
//!   release of the check's semaphores has reached Redis and asserts that each has every
//!   permit back and no ticket left (no holder, no waiter, nothing in use); a leftover fails
//!   the check.
//!
//! Closing is local to a handle (other processes keep their permits and queue); the close
//! guarantee checks exactly that handle's waiters.
//!
//! # Examples
//!
//! ```no_run
//! use admit_conformance::adapters::TokioMultiThread;
//! use admit_conformance::fleet::Fleet;
//! use admit_conformance::peers::{self, Verdict};
//!
//! // Needs `redis-server` (or ADMIT_REDIS_URL).
//! let verdicts = peers::run_peer::<Fleet, _>(&TokioMultiThread::default());
//! let fifo = verdicts.iter().find(|(name, _)| *name == "fifo_order").unwrap();
//! assert_eq!(fifo.1, Verdict::Kept);
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use admit_redis::test_server::RedisServer;
use admit_redis::{Error, FleetPermit, FleetSemaphore};
use admit_tokio::Tokio;

use crate::harness::lock;
use crate::peers::{Acquired, PeerClosed, PeerSemaphore, Resolve};
use crate::{CaseResult, Failure};

/// The spare permits a [`Fleet`] opens beyond those asked for, to hand out through
/// [`add_permits`](PeerSemaphore::add_permits): more than any case adds.
pub const SPARE: usize = 16;

/// How long a check waits for its semaphores' releases to reach Redis.
const SETTLE: Duration = Duration::from_secs(5);

/// A [`FleetSemaphore`] on tokio, with [`SPARE`] permits held back for `add_permits`.
///
/// # Examples
///
/// See the [module](self).
pub struct Fleet {
    semaphore: FleetSemaphore<Tokio>,
    spare: Mutex<Vec<FleetPermit<Tokio>>>,
}

/// The handles of the semaphores opened since the last [`PeerSemaphore::settle`].
static OPENED: Mutex<Vec<FleetSemaphore<Tokio>>> = Mutex::new(Vec::new());

/// Runs `future` to completion from synchronous code inside a tokio multi-thread runtime.
fn block<T>(future: impl Future<Output = T>) -> T {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| handle.block_on(future))
}

fn unexpected(operation: &str, error: &Error) -> ! {
    panic!("the fleet semaphore's {operation} failed: {error}")
}

impl PeerSemaphore for Fleet {
    const NAME: &'static str = "admit-redis (fleet)";
    const FAIR: bool = true;
    const WEIGHTED: bool = true;
    const CLOSABLE: bool = true;
    type Permit<'a> = FleetPermit<Tokio>;

    fn with_permits(permits: usize) -> Self {
        let url = redis_url();
        let name = unique_name();
        let semaphore = block(FleetSemaphore::<Tokio>::connect(
            url,
            &name,
            permits + SPARE,
        ))
        .unwrap_or_else(|error| unexpected("connect", &error));
        let spare = (0..SPARE)
            .map(|_| {
                block(semaphore.try_acquire())
                    .unwrap_or_else(|error| unexpected("try_acquire of a spare permit", &error))
            })
            .collect();
        lock(&OPENED).push(semaphore.clone());
        Self {
            semaphore,
            spare: Mutex::new(spare),
        }
    }

    fn acquire(&self) -> impl Future<Output = Acquired<'_, Self>> + Send {
        self.acquire_many(1)
    }

    fn acquire_many(&self, n: usize) -> impl Future<Output = Acquired<'_, Self>> + Send {
        Resolve::new(self.semaphore.acquire_many(n), |acquired| match acquired {
            Ok(permit) => Ok(permit),
            Err(Error::Closed) => Err(PeerClosed),
            Err(error) => unexpected("acquire_many", &error),
        })
    }

    fn try_acquire(&self) -> Option<FleetPermit<Tokio>> {
        self.try_acquire_many(1)
    }

    fn try_acquire_many(&self, n: usize) -> Option<FleetPermit<Tokio>> {
        match block(self.semaphore.try_acquire_many(n)) {
            Ok(permit) => Some(permit),
            Err(Error::NoPermits | Error::Closed) => None,
            Err(error) => unexpected("try_acquire_many", &error),
        }
    }

    fn add_permits(&self, n: usize) {
        let mut spare = lock(&self.spare);
        assert!(
            n <= spare.len(),
            "the wrapper holds only {SPARE} spare permits"
        );
        let kept = spare.len() - n;
        spare.truncate(kept);
    }

    fn close(&self) {
        self.semaphore.close();
    }

    fn available_permits(&self) -> usize {
        block(self.semaphore.available_permits())
            .unwrap_or_else(|error| unexpected("available_permits", &error))
    }

    fn settle() -> impl Future<Output = CaseResult> + Send {
        let opened = std::mem::take(&mut *lock(&OPENED));
        async move {
            let mut leftovers = Vec::new();
            for semaphore in opened {
                let flushed = tokio::time::timeout(SETTLE, semaphore.flush()).await;
                let name = semaphore.name().to_owned();
                drop(semaphore);
                if flushed.is_err() {
                    leftovers.push(format!("`{name}`: releases still running after {SETTLE:?}"));
                } else if let Err(left) = assert_clean(&name, SETTLE).await {
                    leftovers.push(left);
                }
            }
            if leftovers.is_empty() {
                Ok(())
            } else {
                Err(Failure::new(format!(
                    "Redis not left clean: {}",
                    leftovers.join("; ")
                )))
            }
        }
    }
}

/// Waits up to `limit` until the semaphore `name` has every permit back and no ticket left:
/// none of its queue, wait, holder, weight or fence keys exists and nothing is in use.
async fn assert_clean(name: &str, limit: Duration) -> Result<(), String> {
    let keys = admit_redis::semaphore_keys(name);
    let mut conn = connect(&format!("to check `{name}`")).await?;
    // The settings hash (`keys[0]`) stays; every other key must be gone.
    let mut exists = redis::pipe();
    for key in &keys[1..] {
        exists.cmd("EXISTS").arg(key);
    }
    let deadline = Instant::now() + limit;
    loop {
        let present: Vec<bool> = exists
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("inspecting `{name}`: {e}"))?;
        let used: Option<i64> = redis::cmd("HGET")
            .arg(&keys[0])
            .arg("used")
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("inspecting `{name}`: {e}"))?;
        if !present.contains(&true) && used.unwrap_or(0) == 0 {
            // Clean: the name is never used again, so its settings go too, and a shared
            // server does not collect one entry per check and run.
            return delete(name).await;
        }
        if Instant::now() > deadline {
            let left: Vec<&str> = keys[1..]
                .iter()
                .zip(&present)
                .filter(|(_, present)| **present)
                .map(|(key, _)| key.as_str())
                .collect();
            return Err(format!("`{name}`: used = {used:?}, keys left: {left:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Deletes every key of the semaphore `name`.
async fn delete(name: &str) -> Result<(), String> {
    let keys = admit_redis::semaphore_keys(name);
    let mut conn = connect(&format!("to delete `{name}`")).await?;
    redis::cmd("DEL")
        .arg(&keys)
        .query_async::<()>(&mut conn)
        .await
        .map_err(|e| format!("deleting `{name}`: {e}"))
}

/// A connection to the server of [`redis_url`]; an error says what it was for (`purpose`).
async fn connect(purpose: &str) -> Result<redis::aio::MultiplexedConnection, String> {
    let client = redis::Client::open(redis_url()).map_err(|e| e.to_string())?;
    client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("connecting {purpose}: {e}"))
}

/// A semaphore name no other check, process or earlier run on a shared server uses.
fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!(
        "admit-conformance-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `ADMIT_REDIS_URL`, or the URL of a private server started on first use. The server lives
/// in a static, so it is never dropped: it stops when this process ends, however it ends
/// ([`RedisServer`] ties it to a pipe this process holds).
///
/// # Panics
///
/// If `redis-server` is not installed or does not start, with a one-line hint.
fn redis_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("ADMIT_REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => SERVER
            .get_or_init(|| {
                RedisServer::start()
                    .unwrap_or_else(|error| panic!("{error} (or set ADMIT_REDIS_URL)"))
            })
            .url()
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flavor;
    use crate::adapters::TokioMultiThread;

    /// The cleanliness check is what makes a kept verdict mean "and nothing left in Redis":
    /// it must see a permit that was never released and a ticket still queued.
    #[test]
    fn settle_sees_what_a_check_left_behind() {
        TokioMultiThread::default().block_on(async {
            let fleet = Fleet::with_permits(1);
            let name = fleet.semaphore.name().to_owned();
            assert!(
                assert_clean(&name, Duration::ZERO).await.is_err(),
                "spares held"
            );

            let held = fleet.try_acquire_many(1).expect("the only permit is free");
            let mut queued = Box::pin(PeerSemaphore::acquire_many(&fleet, 1));
            assert!(futures_lite::future::poll_once(&mut queued).await.is_none());
            std::mem::forget(held);
            drop(queued);
            drop(fleet);
            let settled = Fleet::settle().await;
            let message = settled.expect_err("a forgotten permit is left in Redis");
            assert!(message.message().contains(&name), "{message:?}");
            delete(&name).await.expect("deleting what the test left");

            let fleet = Fleet::with_permits(2);
            let name = fleet.semaphore.name().to_owned();
            drop(fleet.try_acquire_many(2).expect("both permits are free"));
            drop(fleet);
            Fleet::settle().await.expect("every permit went back");
            let mut conn = connect("to count the keys left").await.unwrap();
            let left: usize = redis::cmd("EXISTS")
                .arg(&admit_redis::semaphore_keys(&name))
                .query_async(&mut conn)
                .await
                .unwrap();
            assert_eq!(left, 0, "a clean check deletes its semaphore's keys");
        });
    }
}
