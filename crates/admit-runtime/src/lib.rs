// The front page is the crate's README, shared with crates.io (so its links are absolute);
// its example runs as a doctest.
#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use event_listener::Event;

mod pool;
mod rate;
mod semaphore;
mod timeout;

pub use pool::{
    AsCompleted, Incomplete, Inline, IntoJobs, JobStream, PoolError, PoolSet, Progress, Spawned,
    TaskPool, ZeroLimitError,
};
pub use rate::{BurstExceeded, RateLimiter, TryRateError};
pub use semaphore::Semaphore;
pub use timeout::AcquireTimeoutError;

/// What the helpers need from an async runtime: spawn, sleep, a monotonic clock, and its
/// cooperative-scheduling hook.
///
/// Implemented by zero-sized marker types in the adapter crates (`admit_tokio::Tokio`,
/// `admit_async_std::AsyncStd`, `admit_smol::Smol`); every method is an associated function,
/// so generic code names the runtime as a type parameter (`TaskPool<R>`, `Semaphore<R>`) and
/// the adapters fill it in. The associated types keep the hot
/// paths free of boxing.
///
/// # Contract
///
/// Implementations normalise the runtimes' differences, and the `runtime::` cases
/// of `admit-conformance` check it on every adapter:
///
/// * **Dropping a [`JoinHandle`](Runtime::JoinHandle) detaches the task**; it keeps running
///   (smol's `Task` cancels on drop, so its adapter detaches explicitly).
/// * **A panic in a spawned task is resumed in whoever awaits its handle**, with the original
///   payload (`std::panic::resume_unwind`). An unawaited panicking task just ends.
/// * [`now`](Runtime::now) is the clock [`sleep_until`](Runtime::sleep_until) measures against
///   (tokio's clock, which tests may pause, is converted to `std::time::Instant`).
/// * A sleep never completes before its deadline (it may complete later, by up to the
///   runtime's timer resolution: a millisecond or two on tokio).
///
/// # Examples
///
/// Generic code written once (with a hypothetical `R` supplied by an adapter):
///
/// ```
/// use admit_runtime::Runtime;
/// use std::time::Duration;
///
/// async fn measure<R: Runtime>() -> Duration {
///     let start = R::now();
///     R::sleep(Duration::from_millis(5)).await;
///     R::now() - start
/// }
/// ```
///
/// See the [crate documentation](crate) for a complete implementation.
pub trait Runtime: Send + Sync + Sized + 'static {
    /// Awaits a spawned task's output. Detaches the task when dropped; resumes the task's
    /// panic when awaited.
    type JoinHandle<T: Send + 'static>: Future<Output = T> + Send + Unpin + 'static;

    /// The future returned by [`sleep_until`](Runtime::sleep_until).
    type Sleep: Future<Output = ()> + Send + 'static;

    /// The future returned by [`cooperative`](Runtime::cooperative): `F` itself on runtimes
    /// without a cooperative budget.
    type Cooperative<F: Future>: Future<Output = F::Output>;

    /// The runtime's own instant type, which [`Semaphore::acquire_deadline`] takes:
    /// `tokio::time::Instant` on tokio, `std::time::Instant` elsewhere. It converts to and
    /// from `std::time::Instant`, the type of [`now`](Runtime::now).
    type Instant: Copy + Ord + fmt::Debug + Send + Sync + 'static + From<Instant> + Into<Instant>;

    /// Spawns `future` as a task on the runtime (which must be running: tokio's `spawn`
    /// panics outside a runtime).
    ///
    /// # Panics
    ///
    /// As the runtime's own spawn; the returned handle resumes the task's panic when awaited.
    fn spawn<F>(future: F) -> Self::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// A future that completes at `deadline` (at once if it has passed).
    fn sleep_until(deadline: Instant) -> Self::Sleep;

    /// A future that completes after `duration`.
    fn sleep(duration: Duration) -> Self::Sleep {
        Self::sleep_until(deadline_after(Self::now(), duration))
    }

    /// The runtime's monotonic clock.
    fn now() -> Instant;

    /// Wraps `future` so that it respects the runtime's cooperative scheduling: on tokio, each
    /// completion consumes task budget, and an exhausted budget makes it yield first, so a
    /// loop of always-ready acquires cannot starve the other tasks of its worker.
    fn cooperative<F: Future>(future: F) -> Self::Cooperative<F>;

    /// The future returned by [`budget`](Runtime::budget).
    type Budget: Future<Output = ()> + Send + 'static;

    /// A future that consumes one unit of the runtime's cooperative budget, yielding first if
    /// the budget is spent: `cooperative(ready(()))`, but with a `Send` bound that generic code
    /// can rely on. The helpers await it before a borrowed future rather than wrapping that
    /// future in [`cooperative`](Runtime::cooperative), which keeps their futures `Send`.
    /// Runtimes without a budget return `std::future::ready(())`.
    fn budget() -> Self::Budget;

    /// A future that gives the rest of the task's turn to the scheduler once: it returns
    /// `Pending` on its first poll and is ready on the next, so other tasks of the same worker
    /// run in between.
    ///
    /// The adapters return their runtime's own (`tokio::task::yield_now`, which also lets the
    /// runtime's I/O and timer drivers run first; `async_std::task::yield_now`;
    /// `smol::future::yield_now`). The default, for runtimes without one, wakes its own task
    /// and returns `Pending` once (`futures_lite::future::yield_now`).
    ///
    /// # Examples
    ///
    /// Two futures taking turns, each yielding after every step (`Toy` is a runtime that
    /// keeps the default):
    ///
    /// ```
    /// use admit_runtime::Runtime;
    /// use std::sync::Mutex;
    ///
    /// async fn steps<R: Runtime>(id: u8, log: &Mutex<Vec<u8>>) {
    ///     for _ in 0..2 {
    ///         log.lock().unwrap().push(id);
    ///         R::yield_now().await;
    ///     }
    /// }
    ///
    /// # use std::future::{Future, Pending, Ready, pending, ready};
    /// # use std::time::Instant;
    /// # enum Toy {}
    /// # impl Runtime for Toy {
    /// #     type JoinHandle<T: Send + 'static> = Pending<T>;
    /// #     type Sleep = Ready<()>;
    /// #     type Cooperative<F: Future> = F;
    /// #     type Instant = Instant;
    /// #     type Budget = Ready<()>;
    /// #     fn spawn<F: Future + Send + 'static>(_: F) -> Pending<F::Output>
    /// #     where
    /// #         F::Output: Send + 'static,
    /// #     {
    /// #         pending()
    /// #     }
    /// #     fn sleep_until(_: Instant) -> Ready<()> { ready(()) }
    /// #     fn now() -> Instant { Instant::now() }
    /// #     fn cooperative<F: Future>(future: F) -> F { future }
    /// #     fn budget() -> Ready<()> { ready(()) }
    /// # }
    /// let log = Mutex::new(Vec::new());
    /// futures_lite::future::block_on(futures_lite::future::zip(
    ///     steps::<Toy>(1, &log),
    ///     steps::<Toy>(2, &log),
    /// ));
    /// assert_eq!(*log.lock().unwrap(), [1, 2, 1, 2]);
    /// ```
    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }
}

/// Running a future to completion on the current thread: for tests, benches and examples only.
///
/// Library code never blocks; it is generic over [`Runtime`] alone.
///
/// # Examples
///
/// ```
/// use admit_runtime::BlockOn;
///
/// fn run_twice<R: BlockOn>() -> u32 {
///     R::block_on(async { 1 }) + R::block_on(async { 1 })
/// }
/// ```
pub trait BlockOn: Runtime {
    /// Runs `future` to completion on the calling thread, inside the runtime (so that
    /// [`Runtime::spawn`] and [`Runtime::sleep`] work within it).
    fn block_on<F: Future>(future: F) -> F::Output;
}

/// A one-way signal: once [`set`](Signal::set), every [`wait`](Signal::wait) returns. Stops a
/// dropped pool's spawned tasks.
#[derive(Default)]
pub(crate) struct Signal {
    set: AtomicBool,
    event: Event,
}

impl Signal {
    /// Sets the signal for good, waking every waiter.
    pub(crate) fn set(&self) {
        // SeqCst, with the load below: the store-then-notify here and the
        // listen-then-load in `wait` must not both miss each other.
        self.set.store(true, Ordering::SeqCst);
        self.event.notify(usize::MAX);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    /// Waits until the signal is set.
    pub(crate) async fn wait(&self) {
        while !self.is_set() {
            let listener = self.event.listen();
            // Checked again after registering, so a `set` in between is not missed.
            if self.is_set() {
                return;
            }
            listener.await;
        }
    }
}

/// `now + duration`, or a deadline far enough away to mean "never" (about 30 years) if that
/// overflows: what the timeouts use to turn a duration into a deadline.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let now = Instant::now();
/// assert_eq!(admit_runtime::deadline_after(now, Duration::from_secs(1)), now + Duration::from_secs(1));
/// assert!(admit_runtime::deadline_after(now, Duration::MAX) > now);
/// ```
pub fn deadline_after(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration)
        .or_else(|| now.checked_add(Duration::from_secs(60 * 60 * 24 * 365 * 30)))
        .unwrap_or(now)
}
