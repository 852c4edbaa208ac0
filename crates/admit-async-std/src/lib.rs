#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use admit::*;
pub use admit_runtime::{
    AcquireTimeoutError, AsCompleted, BlockOn, BurstExceeded, Incomplete, Inline, IntoJobs,
    JobStream, PoolError, PoolSet, Progress, Runtime, Spawned, TryRateError, ZeroLimitError,
};

use futures_lite::FutureExt;

/// The async-std runtime, as [`admit_runtime`] sees it.
///
/// * [`spawn`](Runtime::spawn) is `async_std::task::spawn`, on async-std's global executor
///   (one thread per CPU unless `ASYNC_STD_THREAD_COUNT` is set, read once at first use).
/// * Dropping a [`JoinHandle`] detaches the task; a panic in the task is resumed in whoever
///   awaits it.
/// * The clock is `std::time::Instant`; sleeps are `async-io` timers (async-std's own timer
///   backend).
/// * There is no cooperative budget: [`cooperative`](Runtime::cooperative) returns the
///   future unchanged.
///
/// # Examples
///
/// ```
/// use admit_async_std::{AsyncStd, Runtime};
/// use std::time::Duration;
///
/// async_std::task::block_on(async {
///     let start = AsyncStd::now();
///     AsyncStd::sleep(Duration::from_millis(2)).await;
///     assert!(AsyncStd::now() - start >= Duration::from_millis(2));
///     assert_eq!(AsyncStd::spawn(async { 42 }).await, 42);
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStd;

/// An async-std task's handle: resolves to its output, resumes its panic, detaches on drop.
///
/// # Examples
///
/// ```
/// use admit_async_std::{AsyncStd, Runtime};
///
/// async_std::task::block_on(async {
///     let handle: admit_async_std::JoinHandle<u32> = AsyncStd::spawn(async { 7 });
///     assert_eq!(handle.await, 7);
/// });
/// ```
#[derive(Debug)]
#[must_use = "dropping a join handle detaches the task"]
pub struct JoinHandle<T>(async_std::task::JoinHandle<std::thread::Result<T>>);

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|joined| joined.unwrap_or_else(|payload| std::panic::resume_unwind(payload)))
    }
}

/// An `async-io` timer that completes with `()`.
///
/// # Examples
///
/// ```
/// use admit_async_std::{AsyncStd, Runtime};
/// use std::time::Duration;
///
/// let sleep: admit_async_std::Sleep = AsyncStd::sleep(Duration::from_millis(1));
/// async_std::task::block_on(sleep);
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Sleep(async_io::Timer);

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx).map(drop)
    }
}

impl Runtime for AsyncStd {
    type JoinHandle<T: Send + 'static> = JoinHandle<T>;
    type Sleep = Sleep;
    type Cooperative<F: Future> = F;
    type Instant = Instant;

    fn spawn<F>(future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // Caught here (async-std would abort or rethrow depending on its version).
        JoinHandle(async_std::task::spawn(
            AssertUnwindSafe(future).catch_unwind(),
        ))
    }

    fn sleep_until(deadline: Instant) -> Sleep {
        Sleep(async_io::Timer::at(deadline))
    }

    fn sleep(duration: Duration) -> Sleep {
        Sleep(async_io::Timer::after(duration))
    }

    fn now() -> Instant {
        Instant::now()
    }

    fn cooperative<F: Future>(future: F) -> F {
        future
    }

    type Budget = std::future::Ready<()>;

    fn budget() -> Self::Budget {
        std::future::ready(())
    }

    /// `async_std::task::yield_now`: the task is woken at once and rescheduled.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_async_std::{AsyncStd, Runtime};
    /// use std::sync::Mutex;
    ///
    /// let log = Mutex::new(Vec::new());
    /// let steps = |id| {
    ///     let log = &log;
    ///     async move {
    ///         for _ in 0..2 {
    ///             log.lock().unwrap().push(id);
    ///             AsyncStd::yield_now().await;
    ///         }
    ///     }
    /// };
    /// async_std::task::block_on(futures_lite::future::zip(steps(1), steps(2)));
    /// assert_eq!(*log.lock().unwrap(), [1, 2, 1, 2]);
    /// ```
    fn yield_now() -> impl Future<Output = ()> + Send {
        async_std::task::yield_now()
    }
}

impl BlockOn for AsyncStd {
    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }
}

/// Runs collections of futures with at most K in flight; see [`admit_runtime::TaskPool`].
///
/// # Examples
///
/// ```
/// async_std::task::block_on(async {
///     let pool = admit_async_std::TaskPool::new(3).unwrap(); // at most 3 at once
///     let lengths = pool.gather(["a", "bb"].map(|s| async move { s.len() })).await;
///     assert_eq!(lengths.unwrap(), [1, 2]); // in input order
/// });
/// ```
pub type TaskPool = admit_runtime::TaskPool<AsyncStd>;

/// At most N acquisitions per period, FIFO-fair; see [`admit_runtime::RateLimiter`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// async_std::task::block_on(async {
///     let limit = admit_async_std::RateLimiter::per(1_000, Duration::from_secs(1)).unwrap();
///     limit.acquire().await;
/// });
/// ```
pub type RateLimiter = admit_runtime::RateLimiter<AsyncStd>;

/// The semaphore for async-std: [`admit::Semaphore`] with every async acquire under the
/// runtime's cooperative scheduling (a no-op here: async-std has no budget), and timeouts as
/// methods; see [`admit_runtime::Semaphore`].
///
/// `const`-constructible (`static LIMIT: Semaphore = Semaphore::new(8);`); converts from an
/// `admit::Semaphore` with `From`, and lends one to library code through
/// [`as_core`](admit_runtime::Semaphore::as_core) or `AsRef`.
///
/// # Examples
///
/// ```
/// use admit_async_std::{AcquireTimeoutError, AsyncStd, Runtime, Semaphore};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// static LIMIT: Semaphore = Semaphore::new(3);
///
/// async_std::task::block_on(async {
///     let sem = Semaphore::new(2);
///     let permit = sem.acquire().await.unwrap(); // cooperative
///     assert_eq!(sem.available_permits(), 1);
///     drop(permit);
///
///     // Timeouts are methods; a timed-out wait leaves the semaphore as it was.
///     let held = sem.acquire_many(2).await.unwrap();
///     let late = sem.acquire_timeout(Duration::from_millis(10)).await;
///     assert_eq!(late.unwrap_err(), AcquireTimeoutError::Timeout);
///     drop(held);
///
///     // The deadline is the runtime's own instant.
///     let deadline = std::time::Instant::now() + Duration::from_secs(1);
///     assert_eq!(sem.acquire_many_deadline(2, deadline).await.unwrap().num_permits(), 2);
///
///     // Owned permits move into spawned tasks.
///     let sem = Arc::new(sem);
///     let permit = Arc::clone(&sem).acquire_owned_timeout(Duration::from_secs(1)).await.unwrap();
///     AsyncStd::spawn(async move { drop(permit) }).await;
///     assert_eq!(sem.available_permits(), 2);
///     assert_eq!(LIMIT.available_permits(), 3);
/// });
/// ```
pub type Semaphore = admit_runtime::Semaphore<AsyncStd>;

/// Permits held through an `Arc<`[`Semaphore`]`>`, returned when dropped; see
/// [`admit::OwnedPermit`].
///
/// # Examples
///
/// ```
/// use admit_async_std::{OwnedPermit, Semaphore};
/// use std::sync::Arc;
///
/// let sem = Arc::new(Semaphore::new(1));
/// let permit: OwnedPermit = Arc::clone(&sem).try_acquire_owned().unwrap();
/// assert_eq!(permit.num_permits(), 1);
/// ```
pub type OwnedPermit = admit::OwnedPermit<Semaphore>;
