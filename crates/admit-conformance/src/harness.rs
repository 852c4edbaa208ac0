//! What the cases (of the suite and of the peers) share: waiting with a limit, joining a
//! task, locking a mutex whatever a panicking task left in it, and a small deterministic
//! random number generator. Nothing here asserts; everything returns a [`Failure`].

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use admit_runtime::Runtime;
use futures_lite::future;

use crate::{CaseResult, Failure};

/// One millisecond.
pub(crate) const MS: Duration = Duration::from_millis(1);

/// How long a case waits for something that should happen "at once" on any runtime (a
/// wakeup, a task being scheduled): generous, so a loaded CI machine does not fail a case.
pub(crate) const PROMPTLY: Duration = Duration::from_secs(2);

/// Awaits `future`, or fails with "timed out after ... waiting until `what`".
pub(crate) async fn within<R: Runtime, T>(
    limit: Duration,
    what: &str,
    future: impl Future<Output = T>,
) -> Result<T, Failure> {
    let expire = async {
        R::sleep(limit).await;
        Err(Failure::new(format!(
            "timed out after {limit:?} waiting until {what}"
        )))
    };
    future::or(async { Ok(future.await) }, expire).await
}

/// Awaits a spawned task, failing if it does not finish [`PROMPTLY`].
pub(crate) async fn join<R: Runtime, T: Send + 'static>(
    handle: R::JoinHandle<T>,
    what: &str,
) -> Result<T, Failure> {
    within::<R, _>(PROMPTLY, what, handle).await
}

/// Locks `mutex`, also after a task panicked holding it (the case reports that panic).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits (sleeping 1 ms at a time) until `condition` holds, or fails after `limit`.
pub(crate) async fn eventually<R: Runtime>(
    limit: Duration,
    what: &str,
    condition: impl Fn() -> bool,
) -> CaseResult {
    let deadline = R::now() + limit;
    while !condition() {
        if R::now() >= deadline {
            return Err(Failure::new(format!(
                "timed out after {limit:?} waiting until {what}"
            )));
        }
        R::sleep(MS).await;
    }
    Ok(())
}

/// Yields to the scheduler `times` times, then completes.
pub(crate) async fn yield_times(times: usize) {
    for _ in 0..times {
        future::yield_now().await;
    }
}

/// xorshift64*: deterministic, so a failing soak can be replayed.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..bound`.
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| String::from("(a panic payload that is not a string)"))
}
