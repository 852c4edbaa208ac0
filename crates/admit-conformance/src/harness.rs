//! What the cases (of the suite and of the peers) share: waiting with a limit, joining a
//! task, locking a mutex whatever a panicking task left in it, a small deterministic random
//! number generator, and the suite's test jobs ([`Tracker`], [`Gate`], [`jitter`]) and
//! semaphore checks ([`queued`], [`at_rest`]). Nothing here panics to report a finding;
//! everything returns a [`Failure`].

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

use admit::{AcquireError, Semaphore};
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

/// A varied, deterministic job length: 0 to 2 ms in steps of 0.5 ms.
pub(crate) fn jitter(i: usize) -> Duration {
    Duration::from_micros(((i * 7919) % 5) as u64 * 500)
}

/// Counts what the test jobs do: started, finished, dropped, and how many ran at once.
#[derive(Default)]
pub(crate) struct Tracker {
    /// Jobs that started running.
    pub(crate) started: AtomicUsize,
    /// Jobs that ran to the end.
    pub(crate) finished: AtomicUsize,
    /// Jobs dropped, finished or not.
    pub(crate) dropped: AtomicUsize,
    running: AtomicUsize,
    /// The most jobs running at once.
    pub(crate) most_running: AtomicUsize,
}

/// Held by a running job: counts it as running until dropped.
struct Running(Arc<Tracker>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, SeqCst);
        self.0.dropped.fetch_add(1, SeqCst);
    }
}

impl Tracker {
    /// A job that runs for `duration` and then returns `output`.
    pub(crate) fn job<R: Runtime, T>(
        self: &Arc<Self>,
        duration: Duration,
        output: T,
    ) -> impl Future<Output = T> + Send + 'static + use<R, T>
    where
        T: Send + 'static,
    {
        let tracker = Arc::clone(self);
        async move {
            tracker.started.fetch_add(1, SeqCst);
            let now = tracker.running.fetch_add(1, SeqCst) + 1;
            tracker.most_running.fetch_max(now, SeqCst);
            let _running = Running(Arc::clone(&tracker));
            if !duration.is_zero() {
                R::sleep(duration).await;
            }
            tracker.finished.fetch_add(1, SeqCst);
            output
        }
    }

    /// Reads one of the counters.
    pub(crate) fn get(counter: &AtomicUsize) -> usize {
        counter.load(SeqCst)
    }

    /// Whether every job that started has been dropped (finished or cancelled).
    pub(crate) fn all_dropped(&self) -> bool {
        Self::get(&self.dropped) == Self::get(&self.started)
    }
}

/// A one-way gate: tasks wait at it until it is opened, for good. It holds jobs back
/// without a semaphore (the thing under test) or a timer.
#[derive(Default)]
pub(crate) struct Gate {
    open: AtomicBool,
    waiting: Mutex<Vec<Waker>>,
}

impl Gate {
    /// Opens the gate for good, waking every task waiting at it.
    pub(crate) fn open(&self) {
        let waiting = {
            // Set under the lock: a `wait` that saw it closed has registered its waker.
            let mut waiting = lock(&self.waiting);
            self.open.store(true, SeqCst);
            std::mem::take(&mut *waiting)
        };
        for waker in waiting {
            waker.wake();
        }
    }

    /// Waits until the gate is open.
    pub(crate) async fn wait(&self) {
        std::future::poll_fn(|cx| {
            if self.open.load(SeqCst) {
                return Poll::Ready(());
            }
            let mut waiting = lock(&self.waiting);
            if self.open.load(SeqCst) {
                return Poll::Ready(());
            }
            if !waiting.iter().any(|waker| waker.will_wake(cx.waker())) {
                waiting.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
    }
}

/// Waits until exactly `n` acquire futures are queued on `sem`.
pub(crate) async fn queued<R: Runtime>(sem: &Semaphore, n: usize) -> CaseResult {
    eventually::<R>(PROMPTLY, &format!("{n} waiters are queued"), || {
        sem.waiter_count() == n
    })
    .await
    .map_err(|failure| {
        Failure::new(format!(
            "{failure} (the semaphore has {} waiters)",
            sem.waiter_count()
        ))
    })
}

/// Checks the semaphore is back at rest: `permits` free, nobody waiting.
pub(crate) fn at_rest(sem: &Semaphore, permits: usize) -> CaseResult {
    ensure!(
        sem.waiter_count() == 0,
        "{} waiters left at the end",
        sem.waiter_count()
    );
    ensure!(
        sem.available_permits() == permits,
        "{} permits free at the end, expected {permits} (capacity {})",
        sem.available_permits(),
        sem.capacity()
    );
    Ok(())
}

/// Spawns a task that waits for `n` permits and returns how many it got (dropping them).
/// `sem` is the core's semaphore or the runtime's (`admit_runtime::Semaphore<R>`).
pub(crate) fn spawn_acquire<R: Runtime>(
    sem: &Arc<impl AsRef<Semaphore> + Send + Sync + 'static>,
    n: usize,
) -> R::JoinHandle<Result<usize, AcquireError>> {
    let sem = Arc::clone(sem);
    R::spawn(async move {
        let sem: &Semaphore = (*sem).as_ref();
        sem.acquire_many(n).await.map(|p| p.num_permits())
    })
}
