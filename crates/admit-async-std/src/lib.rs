#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub use admit::*;
pub use admit_runtime::{
    AcquireTimeoutError, AsCompleted, BlockOn, Incomplete, Inline, IntoJobs, JobStream, PoolError,
    PoolSet, Progress, Runtime, Spawned, ZeroLimitError,
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
///     let limit = admit_async_std::RateLimiter::per(1_000, Duration::from_secs(1));
///     limit.acquire().await.unwrap();
/// });
/// ```
pub type RateLimiter = admit_runtime::RateLimiter<AsyncStd>;

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
/// use admit_async_std::{AcquireTimeoutError, Semaphore};
/// use std::time::Duration;
///
/// async_std::task::block_on(async {
///     let sem = Semaphore::new(0);
///     let late = admit_async_std::acquire_timeout(&sem, 1, Duration::from_millis(10)).await;
///     assert_eq!(late.unwrap_err(), AcquireTimeoutError::Timeout);
/// });
/// ```
pub fn acquire_timeout(
    sem: &Semaphore,
    n: usize,
    timeout: Duration,
) -> impl Future<Output = Result<Permit<'_>, AcquireTimeoutError>> + Send + '_ {
    admit_runtime::acquire_timeout::<AsyncStd>(sem, n, timeout)
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
/// use admit_async_std::Semaphore;
/// use std::time::{Duration, Instant};
///
/// async_std::task::block_on(async {
///     let sem = Semaphore::new(2);
///     let deadline = Instant::now() + Duration::from_secs(1);
///     assert!(admit_async_std::acquire_deadline(&sem, 2, deadline).await.is_ok());
/// });
/// ```
pub fn acquire_deadline(
    sem: &Semaphore,
    n: usize,
    deadline: Instant,
) -> impl Future<Output = Result<Permit<'_>, AcquireTimeoutError>> + Send + '_ {
    admit_runtime::acquire_deadline::<AsyncStd>(sem, n, deadline)
}
