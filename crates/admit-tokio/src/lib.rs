#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use admit::*;
pub use admit_runtime::{
    AcquireTimeoutError, AsCompleted, BlockOn, BurstExceeded, Incomplete, Inline, IntoJobs,
    JobStream, PoolError, PoolSet, Progress, Runtime, Spawned, TryRateError, ZeroLimitError,
};

use tokio::task::coop::Coop;

/// The tokio runtime, as [`admit_runtime`] sees it.
///
/// * [`spawn`](Runtime::spawn) is `tokio::spawn`: it needs a running tokio runtime (it panics
///   outside one), and runs on that runtime's worker threads (set their number with
///   `tokio::runtime::Builder::worker_threads`, or `#[tokio::main(worker_threads = N)]`).
/// * The clock is tokio's (`tokio::time::Instant`, which tests may pause), converted to
///   `std::time::Instant`; the timer resolution is 1 ms.
/// * [`cooperative`](Runtime::cooperative) is `tokio::task::coop::cooperative`: every
///   acquire in this crate consumes task budget.
/// * [`block_on`](BlockOn::block_on) builds a multi-threaded runtime with 2 workers, with
///   timers and I/O enabled.
///
/// # Examples
///
/// ```
/// use admit_tokio::{Runtime, Tokio};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let start = Tokio::now();
/// Tokio::sleep(Duration::from_millis(2)).await;
/// assert!(Tokio::now() - start >= Duration::from_millis(2));
/// assert_eq!(Tokio::spawn(async { 42 }).await, 42);
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Tokio;

/// A tokio task's handle: resolves to its output, resumes its panic, detaches on drop.
///
/// # Examples
///
/// ```
/// use admit_tokio::{Runtime, Tokio};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle: admit_tokio::JoinHandle<u32> = Tokio::spawn(async { 7 });
/// assert_eq!(handle.await, 7);
/// # }
/// ```
#[derive(Debug)]
#[must_use = "dropping a join handle detaches the task"]
pub struct JoinHandle<T>(tokio::task::JoinHandle<T>);

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0).poll(cx).map(|joined| match joined {
            Ok(output) => output,
            Err(error) => match error.try_into_panic() {
                Ok(payload) => std::panic::resume_unwind(payload),
                // Only a runtime shutting down cancels a task we never abort.
                Err(error) => panic!("the awaited tokio task was cancelled: {error}"),
            },
        })
    }
}

impl Runtime for Tokio {
    type JoinHandle<T: Send + 'static> = JoinHandle<T>;
    type Sleep = tokio::time::Sleep;
    type Cooperative<F: Future> = Coop<F>;
    type Instant = tokio::time::Instant;

    fn spawn<F>(future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        JoinHandle(tokio::spawn(future))
    }

    fn sleep_until(deadline: Instant) -> tokio::time::Sleep {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }

    fn sleep(duration: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(duration)
    }

    fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn cooperative<F: Future>(future: F) -> Coop<F> {
        tokio::task::coop::cooperative(future)
    }

    type Budget = Coop<std::future::Ready<()>>;

    fn budget() -> Self::Budget {
        tokio::task::coop::cooperative(std::future::ready(()))
    }

    /// `tokio::task::yield_now`: the task goes to the back of its worker's queue, after the
    /// I/O and timer drivers had a turn.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_tokio::{Runtime, Tokio};
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let ran = Arc::new(AtomicBool::new(false));
    /// let flag = Arc::clone(&ran);
    /// let task = Tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
    /// Tokio::yield_now().await; // one thread: the spawned task runs now
    /// assert!(ran.load(Ordering::SeqCst));
    /// task.await;
    /// # }
    /// ```
    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
}

impl BlockOn for Tokio {
    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("cannot build a tokio runtime")
            .block_on(future)
    }
}

/// Runs collections of futures with at most K in flight; see [`admit_runtime::TaskPool`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pool = admit_tokio::TaskPool::new(3).unwrap(); // at most 3 at once
/// let lengths = pool.gather(["a", "bb", "ccc"].map(|s| async move { s.len() })).await;
/// assert_eq!(lengths.unwrap(), [1, 2, 3]); // in input order
///
/// // Or one job at a time, as they arrive, like a bounded `JoinSet`:
/// let mut set = pool.spawn_join_set();
/// for i in 0..10u64 {
///     set.spawn(async move { i * i }).await.unwrap(); // waits while 3 run
/// }
/// let mut sum = 0;
/// while let Some((_number, square)) = set.join_next().await {
///     sum += square;
/// }
/// assert_eq!(sum, 285);
///
/// // Pools and direct acquires can share one limit.
/// let db = std::sync::Arc::new(admit_tokio::Semaphore::new(2));
/// let pool = admit_tokio::TaskPool::with_semaphore(std::sync::Arc::clone(&db));
/// let admin = db.acquire().await.unwrap(); // one of the two connections
/// assert_eq!(pool.gather((0..4).map(|i| async move { i })).await.unwrap(), [0, 1, 2, 3]);
/// drop(admin);
/// assert_eq!(db.available_permits(), 2);
/// # }
/// ```
pub type TaskPool = admit_runtime::TaskPool<Tokio>;

/// At most N acquisitions per period, FIFO-fair; see [`admit_runtime::RateLimiter`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let limit = admit_tokio::RateLimiter::per(1_000, Duration::from_secs(1)).unwrap();
/// limit.acquire().await;
/// # }
/// ```
pub type RateLimiter = admit_runtime::RateLimiter<Tokio>;

/// The semaphore for tokio: [`admit::Semaphore`] with every async acquire under tokio's
/// cooperative task budget (as `tokio::sync::Semaphore`'s), and timeouts as methods; see
/// [`admit_runtime::Semaphore`].
///
/// `const`-constructible (`static LIMIT: Semaphore = Semaphore::new(8);`); converts from an
/// `admit::Semaphore` with `From`, and lends one to library code through
/// [`as_core`](admit_runtime::Semaphore::as_core) or `AsRef`.
///
/// # Examples
///
/// ```
/// use admit_tokio::{AcquireTimeoutError, Runtime, Semaphore, Tokio};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// static LIMIT: Semaphore = Semaphore::new(3);
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sem = Semaphore::new(2);
/// let permit = sem.acquire().await.unwrap(); // cooperative
/// assert_eq!(sem.available_permits(), 1);
/// drop(permit);
///
/// // Timeouts are methods; a timed-out wait leaves the semaphore as it was.
/// let held = sem.acquire_many(2).await.unwrap();
/// let late = sem.acquire_timeout(Duration::from_millis(10)).await;
/// assert_eq!(late.unwrap_err(), AcquireTimeoutError::Timeout);
/// drop(held);
///
/// // The deadline is the runtime's own instant.
/// let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
/// assert_eq!(sem.acquire_many_deadline(2, deadline).await.unwrap().num_permits(), 2);
///
/// // Owned permits move into spawned tasks.
/// let sem = Arc::new(sem);
/// let permit = Arc::clone(&sem).acquire_owned_timeout(Duration::from_secs(1)).await.unwrap();
/// Tokio::spawn(async move { drop(permit) }).await;
/// assert_eq!(sem.available_permits(), 2);
/// assert_eq!(LIMIT.available_permits(), 3);
/// # }
/// ```
pub type Semaphore = admit_runtime::Semaphore<Tokio>;

/// Permits held through an `Arc<`[`Semaphore`]`>`, returned when dropped; see
/// [`admit::OwnedPermit`].
///
/// # Examples
///
/// ```
/// use admit_tokio::{OwnedPermit, Semaphore};
/// use std::sync::Arc;
///
/// let sem = Arc::new(Semaphore::new(1));
/// let permit: OwnedPermit = Arc::clone(&sem).try_acquire_owned().unwrap();
/// assert_eq!(permit.num_permits(), 1);
/// ```
pub type OwnedPermit = admit::OwnedPermit<Semaphore>;
