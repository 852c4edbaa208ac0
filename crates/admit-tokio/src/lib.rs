#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use admit::*;
pub use admit_runtime::{
    AcquireTimeoutError, AsCompleted, BlockOn, Incomplete, Inline, IntoJobs, JobStream, PoolError,
    PoolSet, Progress, Runtime, Spawned, ZeroLimitError,
};

use admit::futures::{Acquire, AcquireOwned};
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
/// let limit = admit_tokio::RateLimiter::per(1_000, Duration::from_secs(1));
/// limit.acquire().await.unwrap();
/// # }
/// ```
pub type RateLimiter = admit_runtime::RateLimiter<Tokio>;

/// Acquires `n` permits, giving up after `timeout`; see [`admit_runtime::acquire_timeout`].
///
/// # Errors
///
/// [`AcquireTimeoutError::Timeout`] when the time is up (the semaphore is then unchanged), or
/// the semaphore's own error.
///
/// # Cancel safety
///
/// Cancel-safe: a permit ready together with the deadline is returned, never lost.
///
/// # Examples
///
/// ```
/// use admit_tokio::{AcquireTimeoutError, Semaphore};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sem = Semaphore::new(1);
/// let held = sem.acquire().await.unwrap();
/// let late = admit_tokio::acquire_timeout(&sem, 1, Duration::from_millis(10)).await;
/// assert_eq!(late.unwrap_err(), AcquireTimeoutError::Timeout);
/// drop(held);
/// assert_eq!(sem.available_permits(), 1);
/// # }
/// ```
pub fn acquire_timeout(
    sem: &Semaphore,
    n: usize,
    timeout: Duration,
) -> impl Future<Output = Result<Permit<'_>, AcquireTimeoutError>> + Send + '_ {
    admit_runtime::acquire_timeout::<Tokio>(sem, n, timeout)
}

/// Acquires `n` permits, giving up at `deadline`; see [`admit_runtime::acquire_deadline`].
///
/// # Errors
///
/// As [`acquire_timeout`].
///
/// # Cancel safety
///
/// As [`acquire_timeout`].
///
/// # Examples
///
/// ```
/// use admit_tokio::{Runtime, Semaphore, Tokio};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sem = Semaphore::new(2);
/// let deadline = Tokio::now() + Duration::from_secs(1);
/// let permit = admit_tokio::acquire_deadline(&sem, 2, deadline).await.unwrap();
/// assert_eq!(permit.num_permits(), 2);
/// # }
/// ```
pub fn acquire_deadline(
    sem: &Semaphore,
    n: usize,
    deadline: Instant,
) -> impl Future<Output = Result<Permit<'_>, AcquireTimeoutError>> + Send + '_ {
    admit_runtime::acquire_deadline::<Tokio>(sem, n, deadline)
}

/// [`Semaphore::acquire`] consuming tokio's cooperative budget, so that a loop of
/// always-ready acquires yields to the other tasks.
///
/// # Errors
///
/// As [`Semaphore::acquire`].
///
/// # Cancel safety
///
/// As [`Semaphore::acquire`].
///
/// # Examples
///
/// ```
/// use admit_tokio::Semaphore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sem = Semaphore::new(1);
/// for _ in 0..10_000 {
///     let _permit = admit_tokio::acquire(&sem).await.unwrap(); // yields every 128 or so
/// }
/// # }
/// ```
pub fn acquire(sem: &Semaphore) -> Coop<Acquire<'_>> {
    admit_runtime::acquire::<Tokio>(sem)
}

/// [`Semaphore::acquire_many`] consuming tokio's cooperative budget; see [`acquire`].
///
/// # Errors
///
/// As [`Semaphore::acquire_many`].
///
/// # Cancel safety
///
/// As [`Semaphore::acquire_many`].
///
/// # Examples
///
/// ```
/// use admit_tokio::Semaphore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sem = Semaphore::new(4);
/// assert_eq!(admit_tokio::acquire_many(&sem, 3).await.unwrap().num_permits(), 3);
/// # }
/// ```
pub fn acquire_many(sem: &Semaphore, n: usize) -> Coop<Acquire<'_>> {
    admit_runtime::acquire_many::<Tokio>(sem, n)
}

/// [`Semaphore::acquire_owned`] consuming tokio's cooperative budget; see [`acquire`].
///
/// # Errors
///
/// As [`Semaphore::acquire_owned`].
///
/// # Cancel safety
///
/// As [`Semaphore::acquire_owned`].
///
/// # Examples
///
/// ```
/// use admit_tokio::Semaphore;
/// use std::sync::Arc;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sem = Arc::new(Semaphore::new(1));
/// let permit = admit_tokio::acquire_owned(Arc::clone(&sem)).await.unwrap();
/// tokio::spawn(async move { drop(permit) }).await.unwrap();
/// assert_eq!(sem.available_permits(), 1);
/// # }
/// ```
pub fn acquire_owned(sem: Arc<Semaphore>) -> Coop<AcquireOwned> {
    admit_runtime::acquire_owned::<Tokio>(sem)
}

/// [`Semaphore::acquire_many_owned`] consuming tokio's cooperative budget; see [`acquire`].
///
/// # Errors
///
/// As [`Semaphore::acquire_many_owned`].
///
/// # Cancel safety
///
/// As [`Semaphore::acquire_many_owned`].
///
/// # Examples
///
/// ```
/// use admit_tokio::Semaphore;
/// use std::sync::Arc;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let sem = Arc::new(Semaphore::new(3));
/// let permit = admit_tokio::acquire_many_owned(sem, 3).await.unwrap();
/// assert_eq!(permit.num_permits(), 3);
/// # }
/// ```
pub fn acquire_many_owned(sem: Arc<Semaphore>, n: usize) -> Coop<AcquireOwned> {
    admit_runtime::acquire_many_owned::<Tokio>(sem, n)
}
