//! [`RateLimiter`]: at most N acquisitions per period, FIFO-fair, weighted, cancel-safe.
//!
//! # Implementation details
//!
//! The arithmetic is [`admit::rate::Gcra`], fed with nanoseconds since the limiter's creation
//! on the runtime's clock. Fairness comes from the core semaphore: a one-permit [`Semaphore`]
//! is the *turn*. A caller first takes the turn (FIFO among callers, weighted or not), then,
//! holding it, asks the GCRA; if refused it sleeps until the instant the GCRA names and asks
//! again. Nobody can overtake the caller at the head, so a heavy request is not starved by
//! light ones, and a refused request has taken nothing.
//!
//! Cancellation is therefore the semaphore's: a caller dropped while queued leaves the queue; a
//! caller dropped while sleeping releases the turn to the next in line; the GCRA is only
//! touched by a successful grant. Nothing spins: the head sleeps until the computed instant,
//! everyone else waits in the semaphore's queue.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use admit::rate::{Gcra, RateError};
use admit::{AcquireError, Semaphore, TryAcquireError};

use crate::Runtime;

/// A rate limiter: at most `count` acquisitions per `period`, with a burst, on runtime `R`.
///
/// FIFO-fair among waiters (weighted requests included), cancel-safe, and free of busy
/// waiting: the caller at the head of the line sleeps until the instant the rate allows. The
/// rate holds exactly over long runs (see [`admit::rate`]); individual grants may come late by
/// the runtime's timer resolution, and a burst larger than one absorbs that lateness.
///
/// Adapters export it with the runtime filled in (`admit_tokio::RateLimiter`).
///
/// # Examples
///
/// ```
/// use admit::rate::Gcra;
/// use admit_runtime::{RateLimiter, Runtime};
/// use std::time::Duration;
///
/// async fn call_api<R: Runtime>(limit: &RateLimiter<R>) -> Result<(), admit::AcquireError> {
///     limit.acquire().await?; // at most 10 calls per second
///     // ... the call ...
///     Ok(())
/// }
///
/// fn limiter<R: Runtime>() -> RateLimiter<R> {
///     RateLimiter::new(Gcra::new(10, Duration::from_secs(1)))
/// }
/// ```
pub struct RateLimiter<R> {
    /// One permit: held by the caller at the head of the line.
    turn: Semaphore,
    state: Mutex<Gcra>,
    /// Time zero of the GCRA's nanosecond clock.
    origin: Instant,
    runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime> RateLimiter<R> {
    /// A limiter enforcing `limit`, starting idle (its full burst available).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::Gcra;
    /// use admit_runtime::{RateLimiter, Runtime};
    /// use std::time::Duration;
    ///
    /// fn limiter<R: Runtime>() -> RateLimiter<R> {
    ///     // 100 per minute, up to 10 at once.
    ///     RateLimiter::new(Gcra::new(100, Duration::from_secs(60)).with_burst(10))
    /// }
    /// ```
    #[must_use]
    pub fn new(limit: Gcra) -> Self {
        Self {
            turn: Semaphore::new(1),
            state: Mutex::new(limit),
            origin: R::now(),
            runtime: PhantomData,
        }
    }

    /// A limiter of `count` acquisitions per `period`, with burst 1 (evenly spaced).
    ///
    /// # Panics
    ///
    /// If `count` or `period` is zero (see [`Gcra::new`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{RateLimiter, Runtime};
    /// use std::time::Duration;
    ///
    /// fn limiter<R: Runtime>() -> RateLimiter<R> {
    ///     RateLimiter::per(10, Duration::from_secs(1))
    /// }
    /// ```
    #[must_use]
    pub fn per(count: u64, period: Duration) -> Self {
        Self::new(Gcra::new(count, period))
    }

    /// The configured limit (with its current state).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{RateLimiter, Runtime};
    /// use std::time::Duration;
    ///
    /// fn burst<R: Runtime>(limit: &RateLimiter<R>) -> usize {
    ///     limit.limit().burst()
    /// }
    /// ```
    #[must_use]
    pub fn limit(&self) -> Gcra {
        *self.lock()
    }

    /// Waits for one acquisition to be allowed, and takes it.
    ///
    /// # Errors
    ///
    /// None with the current API (the error type leaves room for closing the limiter); see
    /// [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe; see [`acquire_many`](Self::acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{RateLimiter, Runtime};
    ///
    /// async fn tick<R: Runtime>(limit: &RateLimiter<R>) {
    ///     limit.acquire().await.expect("one permit is never too large");
    /// }
    /// ```
    pub async fn acquire(&self) -> Result<(), AcquireError> {
        self.acquire_many(1).await
    }

    /// Waits for `n` acquisitions to be allowed together, and takes them.
    ///
    /// Callers are served in the order they started waiting: a large request at the head of
    /// the line is not overtaken by smaller ones behind it. `n = 0` completes at once.
    ///
    /// # Errors
    ///
    /// [`AcquireError::TooLarge`] at once if `n` exceeds the limit's burst (it could never be
    /// granted).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future before it completes takes nothing from the limit and
    /// lets the next caller in line proceed.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{RateLimiter, Runtime};
    ///
    /// /// A batch of 5 calls counts as 5.
    /// async fn batch<R: Runtime>(limit: &RateLimiter<R>) -> Result<(), admit::AcquireError> {
    ///     limit.acquire_many(5).await
    /// }
    /// ```
    pub async fn acquire_many(&self, n: usize) -> Result<(), AcquireError> {
        if n > self.lock().burst() {
            return Err(AcquireError::TooLarge);
        }
        if n == 0 {
            return Ok(());
        }
        R::budget().await;
        let _turn = self.turn.acquire().await?;
        loop {
            let until = match self.lock().try_acquire(self.elapsed_nanos(), n) {
                Ok(()) => return Ok(()),
                Err(RateError::Wait { until }) => until,
                Err(_) => return Err(AcquireError::TooLarge),
            };
            // A runtime's sleep never ends early, but a sleep cut short would only loop.
            R::sleep_until(self.instant_at(until)).await;
        }
    }

    /// Takes one acquisition if the rate allows it now and nobody is waiting.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if the rate does not allow it yet or other callers are
    /// waiting (they are not overtaken).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{RateLimiter, Runtime};
    ///
    /// fn maybe_log<R: Runtime>(limit: &RateLimiter<R>, line: &str) {
    ///     if limit.try_acquire().is_ok() {
    ///         println!("{line}");
    ///     } // else: drop the line, we are logging too much
    /// }
    /// ```
    pub fn try_acquire(&self) -> Result<(), TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` acquisitions together if the rate allows it now and nobody is waiting.
    ///
    /// # Errors
    ///
    /// * [`TryAcquireError::TooLarge`] if `n` exceeds the burst;
    /// * [`TryAcquireError::NoPermits`] if the rate does not allow it yet or other callers are
    ///   waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{RateLimiter, Runtime};
    ///
    /// fn send_batch<R: Runtime>(limit: &RateLimiter<R>) -> bool {
    ///     limit.try_acquire_many(3).is_ok()
    /// }
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<(), TryAcquireError> {
        if n > self.lock().burst() {
            return Err(TryAcquireError::TooLarge);
        }
        if n == 0 {
            return Ok(());
        }
        let _turn = self.turn.try_acquire()?;
        self.lock()
            .try_acquire(self.elapsed_nanos(), n)
            .map_err(|error| match error {
                RateError::TooLarge { .. } => TryAcquireError::TooLarge,
                _ => TryAcquireError::NoPermits,
            })
    }

    /// The number of callers waiting for their turn (not counting the one at the head).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{RateLimiter, Runtime};
    ///
    /// fn is_busy<R: Runtime>(limit: &RateLimiter<R>) -> bool {
    ///     limit.waiter_count() > 0
    /// }
    /// ```
    #[must_use]
    pub fn waiter_count(&self) -> usize {
        self.turn.waiter_count()
    }

    fn elapsed_nanos(&self) -> u64 {
        let elapsed = R::now().saturating_duration_since(self.origin);
        u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX)
    }

    fn instant_at(&self, nanos: u64) -> Instant {
        crate::deadline_after(self.origin, Duration::from_nanos(nanos))
    }
}

impl<R> RateLimiter<R> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Gcra> {
        // The GCRA is a plain value, valid after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<R> fmt::Debug for RateLimiter<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &*self.lock())
            .field("waiters", &self.turn.waiter_count())
            .finish_non_exhaustive()
    }
}
