//! [`RateLimiter`]: at most N acquisitions per period, FIFO-fair, weighted, cancel-safe.
//!
//! # Implementation details
//!
//! The arithmetic is [`admit::rate::Gcra`], fed with nanoseconds since the limiter's creation
//! on the runtime's clock. Fairness comes from the core semaphore: a one-permit [`Semaphore`]
//! is the *turn*. A caller first takes the turn (FIFO among callers, weighted or not), then,
//! holding it, asks the GCRA; if refused it waits until the instant the GCRA names and asks
//! again. Nobody can overtake the caller at the head, so a heavy request is not starved by
//! light ones, and a refused request has taken nothing.
//!
//! **Exactness.** A caller that had to wait (for the turn or for the rate) asks with
//! [`Gcra::try_acquire_after_wait`], which charges it from its scheduled time when it comes
//! less than one interval late: the lateness of a wake-up does not shift the schedule, and
//! catching up costs at most one permit over a window (see [`admit::rate`]). To keep wake-ups
//! within one interval even when the interval is shorter than the runtime's timer resolution
//! ([`Runtime::TIMER_RESOLUTION`], 1 ms on tokio), the head sleeps on the timer only until
//! that resolution before its instant, then yields to the runtime until the instant comes.
//! Only the caller at the head does so; everyone else waits in the semaphore's queue.
//!
//! Cancellation is the semaphore's: a caller dropped while queued leaves the queue; a caller
//! dropped while waiting releases the turn to the next in line; the GCRA is only touched by a
//! successful grant.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use admit::Semaphore;
use admit::rate::{Gcra, InvalidRate, RateError};

use crate::Runtime;

/// A rate limiter: at most `count` acquisitions per `period`, with a burst, on runtime `R`.
///
/// FIFO-fair among waiters (weighted requests included) and cancel-safe. A caller that always
/// waits gets the configured rate over long runs on every runtime: a wake-up that comes late
/// is charged from its scheduled time, so timer lateness does not accumulate, and no half-open
/// window of one period admits more than `count + burst` (one more than a strict schedule's
/// `count + burst − 1`, the most catching up after a late wake-up may cost). See the [module
/// documentation](self) for how, and `docs/benchmarks.md` in the repository for measured rates.
///
/// The caller at the head of the line sleeps until shortly before its instant and yields to
/// the runtime for the last [`Runtime::TIMER_RESOLUTION`]; at rates above one per timer tick
/// (1,000/s on tokio) the head therefore keeps its worker busy yielding while it waits.
///
/// Adapters export it with the runtime filled in (`admit_tokio::RateLimiter`).
///
/// # Examples
///
/// ```
/// use admit_runtime::{RateLimiter, Runtime};
/// use std::time::Duration;
///
/// async fn call_api<R: Runtime>(limit: &RateLimiter<R>) {
///     limit.acquire().await; // at most 10 calls per second
///     // ... the call ...
/// }
///
/// fn limiter<R: Runtime>() -> RateLimiter<R> {
///     RateLimiter::per(10, Duration::from_secs(1)).expect("a valid rate")
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
    /// # Errors
    ///
    /// [`InvalidRate`] if `count` is zero, or `period` is zero or longer than `u64::MAX`
    /// nanoseconds (see [`Gcra::try_new`]); nothing is created.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::InvalidRate;
    /// use admit_runtime::{RateLimiter, Runtime};
    /// use std::time::Duration;
    ///
    /// fn limiter<R: Runtime>(per_second: u64) -> Result<RateLimiter<R>, InvalidRate> {
    ///     RateLimiter::per(per_second, Duration::from_secs(1))
    /// }
    /// ```
    pub fn per(count: u64, period: Duration) -> Result<Self, InvalidRate> {
        Gcra::try_new(count, period).map(Self::new)
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

    /// Waits for one acquisition to be allowed, and takes it. It cannot fail: one acquisition
    /// is never more than the burst.
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
    ///     limit.acquire().await;
    /// }
    /// ```
    pub async fn acquire(&self) {
        // One is within every burst (bursts are at least 1).
        let granted = self.acquire_many(1).await;
        debug_assert!(granted.is_ok());
    }

    /// Waits for `n` acquisitions to be allowed together, and takes them.
    ///
    /// Callers are served in the order they started waiting: a large request at the head of
    /// the line is not overtaken by smaller ones behind it. `n = 0` completes at once.
    ///
    /// # Errors
    ///
    /// [`BurstExceeded`] at once if `n` exceeds the limit's burst (it could never be granted);
    /// nothing is taken and nobody waits for it.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future before it completes takes nothing from the limit and
    /// lets the next caller in line proceed.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{BurstExceeded, RateLimiter, Runtime};
    ///
    /// /// A batch of 5 calls counts as 5.
    /// async fn batch<R: Runtime>(limit: &RateLimiter<R>) -> Result<(), BurstExceeded> {
    ///     limit.acquire_many(5).await
    /// }
    /// ```
    pub async fn acquire_many(&self, n: usize) -> Result<(), BurstExceeded> {
        let burst = self.lock().burst();
        if n > burst {
            return Err(BurstExceeded {
                requested: n,
                burst,
            });
        }
        if n == 0 {
            return Ok(());
        }
        R::budget().await;
        // A caller that queued for the turn has been waiting: it is on the schedule.
        let (_turn, mut waited) = match self.turn.try_acquire() {
            Ok(turn) => (turn, false),
            Err(_) => (
                self.turn
                    .acquire()
                    .await
                    .expect("the turn semaphore is never closed and one permit always fits"),
                true,
            ),
        };
        loop {
            let now = self.elapsed_nanos();
            let result = if waited {
                self.lock().try_acquire_after_wait(now, n)
            } else {
                self.lock().try_acquire(now, n)
            };
            match result {
                Ok(()) => return Ok(()),
                Err(RateError::Wait { until }) => self.wait_until(until).await,
                // Checked above, and the burst never changes.
                Err(_) => {
                    return Err(BurstExceeded {
                        requested: n,
                        burst,
                    });
                }
            }
            waited = true;
        }
    }

    /// Takes one acquisition if the rate allows it now and nobody is waiting.
    ///
    /// # Errors
    ///
    /// [`TryRateError::Limited`] if the rate does not allow it yet or other callers are
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
    pub fn try_acquire(&self) -> Result<(), TryRateError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` acquisitions together if the rate allows it now and nobody is waiting.
    ///
    /// # Errors
    ///
    /// * [`TryRateError::BurstExceeded`] if `n` exceeds the burst;
    /// * [`TryRateError::Limited`] if the rate does not allow it yet or other callers are
    ///   waiting.
    ///
    /// Nothing is taken in either case.
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
    pub fn try_acquire_many(&self, n: usize) -> Result<(), TryRateError> {
        let burst = self.lock().burst();
        if n > burst {
            return Err(TryRateError::BurstExceeded(BurstExceeded {
                requested: n,
                burst,
            }));
        }
        if n == 0 {
            return Ok(());
        }
        let _turn = self.turn.try_acquire().map_err(|_| TryRateError::Limited)?;
        self.lock()
            .try_acquire(self.elapsed_nanos(), n)
            .map_err(|error| match error {
                RateError::TooLarge { requested, burst } => {
                    TryRateError::BurstExceeded(BurstExceeded { requested, burst })
                }
                _ => TryRateError::Limited,
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

    /// Waits until `nanos` on the limiter's clock: on the timer until the runtime's timer
    /// resolution before it (a timer may wake that late), then yielding to the runtime, so the
    /// caller is not late by a whole timer tick when the interval is shorter than one.
    async fn wait_until(&self, nanos: u64) {
        let deadline = self.instant_at(nanos);
        if let Some(wake) = deadline.checked_sub(R::TIMER_RESOLUTION) {
            if wake > R::now() {
                R::sleep_until(wake).await;
            }
        }
        while R::now() < deadline {
            futures_lite::future::yield_now().await;
        }
    }
}

/// A rate-limiter request for more acquisitions at once than the limiter's burst: it could
/// never be granted, so it fails at once and takes nothing.
///
/// # Examples
///
/// ```
/// use admit_runtime::BurstExceeded;
///
/// # fn show(e: BurstExceeded) {
/// println!("{e}"); // "requested 5 acquisitions at once but the rate limiter's burst is 4 ..."
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BurstExceeded {
    requested: usize,
    burst: usize,
}

impl BurstExceeded {
    /// The number of acquisitions requested.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(e: admit_runtime::BurstExceeded) -> usize {
    /// e.requested()
    /// # }
    /// ```
    #[must_use]
    pub fn requested(&self) -> usize {
        self.requested
    }

    /// The limiter's burst: the most acquisitions one request may take.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(e: admit_runtime::BurstExceeded) -> usize {
    /// e.burst()
    /// # }
    /// ```
    #[must_use]
    pub fn burst(&self) -> usize {
        self.burst
    }
}

impl fmt::Display for BurstExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "requested {} acquisitions at once but the rate limiter's burst is {}: \
             the request can never be granted",
            self.requested, self.burst
        )
    }
}

impl std::error::Error for BurstExceeded {}

/// Why [`RateLimiter::try_acquire`] or [`RateLimiter::try_acquire_many`] took nothing.
///
/// # Examples
///
/// ```
/// use admit_runtime::TryRateError;
///
/// assert_eq!(TryRateError::Limited.to_string(), "the rate limit does not allow it now");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TryRateError {
    /// The rate does not allow it yet, or other callers are waiting (they are not overtaken).
    Limited,
    /// The request exceeds the burst and could never be granted.
    BurstExceeded(BurstExceeded),
}

impl fmt::Display for TryRateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Limited => f.write_str("the rate limit does not allow it now"),
            Self::BurstExceeded(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl std::error::Error for TryRateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Limited => None,
            Self::BurstExceeded(error) => Some(error),
        }
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
