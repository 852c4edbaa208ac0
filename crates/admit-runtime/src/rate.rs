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
//! **Exactness.** A runtime's timer wakes a sleeper late (tokio's by up to a couple of
//! milliseconds, any runtime by much more on a loaded machine), and plain GCRA would charge
//! that lateness to the schedule, so the long-run rate would fall short. A caller that had to
//! wait (for the turn or for the rate) is instead charged from its scheduled time
//! ([`Gcra::try_acquire_late`]): the permits a late wake-up missed are caught up at once, up to
//! a tenth of a period behind the schedule (at least one interval). Catching up must not
//! break the window bound, so the limiter also keeps a log of the last period's grants and
//! admits nothing that would put more than `count + burst` in any half-open window of one
//! period. Limits of more than 65,536 per period keep no log (it would be too large) and
//! catch up one interval only, which the GCRA alone keeps within the window bound.
//!
//! Cancellation is the semaphore's: a caller dropped while queued leaves the queue; a caller
//! dropped while waiting releases the turn to the next in line; the GCRA is only touched by a
//! successful grant.

use std::collections::VecDeque;
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
/// is charged from its scheduled time, and the grants it missed are caught up at once (up to a
/// tenth of a period, at least one interval), so timer lateness does not accumulate. No
/// half-open window of one period ever admits more than `count + burst` (one more than a
/// strict schedule's `count + burst − 1`: what catching up may cost). An idle limiter starts
/// strictly on schedule: with burst 1, evenly spaced. Measured rates are in the repository's
/// `docs/benchmarks.md`.
///
/// Only the caller at the head of the line waits on a timer; the others wait in a queue. A
/// limiter of up to 65,536 per period keeps a log of the last period's grants (16 bytes
/// each) to bound its windows while it catches up; larger limits catch up one interval only.
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
    state: Mutex<Schedule>,
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
            state: Mutex::new(Schedule::new(limit)),
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
        self.lock().gcra
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
        let burst = self.lock().gcra.burst();
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
            let result = self.lock().try_grant(now, n, waited);
            match result {
                Ok(()) => return Ok(()),
                // A runtime's sleep never ends early, but a sleep cut short would only loop.
                Err(until) => R::sleep_until(self.instant_at(until)).await,
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
        let burst = self.lock().gcra.burst();
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
        let now = self.elapsed_nanos();
        self.lock()
            .try_grant(now, n, false)
            .map_err(|_| TryRateError::Limited)
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

/// Grants of the last period are logged while the limit is at most this many per period.
const LOG_LIMIT: u64 = 1 << 16;

/// The limiter's arithmetic, on nanoseconds since its origin: the GCRA schedule, with catching
/// up for callers that waited, and the log of the last period's grants that bounds every
/// window while it catches up.
#[derive(Clone, Debug)]
struct Schedule {
    gcra: Gcra,
    /// The period in nanoseconds.
    period: u64,
    /// `count + burst`: the most permits any half-open window of one period may hold.
    window_limit: u64,
    /// How far behind the schedule a waiter may be and still be charged from it.
    max_lag: u64,
    /// Whether grants are logged (the limit is at most [`LOG_LIMIT`] per period).
    logging: bool,
    /// The grants of the last period, oldest first: (time, permits).
    log: VecDeque<(u64, u64)>,
    /// The permits in `log`.
    logged: u64,
    /// Whether the last grant was charged from a schedule behind `now`.
    behind: bool,
}

impl Schedule {
    fn new(gcra: Gcra) -> Self {
        let period = u64::try_from(gcra.period().as_nanos()).unwrap_or(u64::MAX);
        let interval = u64::try_from(gcra.interval().as_nanos()).unwrap_or(u64::MAX);
        let window_limit = gcra.count().saturating_add(gcra.burst() as u64);
        let logging = window_limit <= LOG_LIMIT;
        Self {
            gcra,
            period,
            window_limit,
            max_lag: if logging {
                (period / 10).max(interval)
            } else {
                interval
            },
            logging,
            log: VecDeque::new(),
            logged: 0,
            behind: false,
        }
    }

    /// Grants `n` (at most the burst) at `now` if the schedule and every window allow it;
    /// otherwise the instant to ask again. `waited`: the caller has been waiting, so it is
    /// charged from its scheduled time if it comes late.
    fn try_grant(&mut self, now: u64, n: usize, waited: bool) -> Result<(), u64> {
        let weight = n as u64;
        if self.logging {
            while let Some(&(at, permits)) = self.log.front() {
                if at.saturating_add(self.period) > now {
                    break;
                }
                self.logged -= permits;
                self.log.pop_front();
            }
            let excess = (self.logged + weight).saturating_sub(self.window_limit);
            if excess > 0 {
                // Wait until enough of the oldest grants have left the window.
                let mut leaving = 0;
                for &(at, permits) in &self.log {
                    leaving += permits;
                    if leaving >= excess {
                        return Err(at.saturating_add(self.period));
                    }
                }
            }
        }
        // A caller is charged from the schedule if it waited, or if the grant before it was
        // (the limiter is behind, catching up) and the schedule is within reach; a caller of
        // an idle limiter is charged from now, so that burst 1 stays evenly spaced.
        let tat = self.gcra.check(now, 0).unwrap_or_default();
        let reach = u128::from(now.saturating_sub(self.max_lag)) * u128::from(self.gcra.count());
        let catch_up = waited || (self.behind && tat >= reach);
        let plain = self.gcra.check(now, n);
        let granted = if catch_up {
            self.gcra.try_acquire_late(now, n, self.max_lag)
        } else {
            self.gcra.try_acquire(now, n)
        };
        match granted {
            Ok(()) => {
                let charged = self.gcra.check(now, 0).unwrap_or_default();
                self.behind = catch_up && plain.is_ok_and(|strict| charged < strict);
                if self.logging && n > 0 {
                    match self.log.back_mut() {
                        Some((at, permits)) if *at == now => *permits += weight,
                        _ => self.log.push_back((now, weight)),
                    }
                    self.logged += weight;
                }
                Ok(())
            }
            Err(RateError::Wait { until }) => Err(until),
            // Callers check the burst first; a refusal would only make them wait forever.
            Err(_) => Err(u64::MAX),
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
    fn lock(&self) -> std::sync::MutexGuard<'_, Schedule> {
        // The schedule is plain values, valid after any panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<R> fmt::Debug for RateLimiter<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &self.lock().gcra)
            .field("waiters", &self.turn.waiter_count())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    //! The limiter's arithmetic on a simulated clock: late wake-ups, stalls, windows.

    use super::*;

    const SECOND: u64 = 1_000_000_000;

    /// A small deterministic generator (xorshift).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % bound.max(1)
        }
    }

    /// One caller that always waits, as the async limiter does: asks, sleeps until the instant
    /// it is given, is woken `late()` after it, asks again. Returns the grant times.
    fn always_waiting(
        schedule: &mut Schedule,
        calls: usize,
        mut weight: impl FnMut() -> usize,
        mut late: impl FnMut() -> u64,
    ) -> Vec<(u64, u64)> {
        let mut now = 0;
        let mut grants = Vec::with_capacity(calls);
        for _ in 0..calls {
            let n = weight();
            let mut waited = false;
            while let Err(until) = schedule.try_grant(now, n, waited) {
                assert!(until > now, "told to wait until {until} at {now}");
                now = until + late();
                waited = true;
            }
            grants.push((now, n as u64));
        }
        grants
    }

    /// The most permits in any half-open window `[t, t + period)`.
    fn busiest_window(grants: &[(u64, u64)], period: u64) -> u64 {
        let mut end = 0;
        let mut in_window = 0;
        let mut busiest = 0;
        for (start, &(at, _)) in grants.iter().enumerate() {
            while end < grants.len() && grants[end].0 < at + period {
                in_window += grants[end].1;
                end += 1;
            }
            busiest = busiest.max(in_window);
            in_window -= grants[start].1;
        }
        busiest
    }

    #[test]
    fn late_wake_ups_do_not_slow_the_long_run_rate() {
        // 5,000/s, burst 1, every wake-up up to 2 ms late (ten intervals, as tokio's timer):
        // 10,001 grants take 2 s, give or take the last wake-up's lateness.
        let mut schedule = Schedule::new(Gcra::new(5_000, Duration::from_secs(1)));
        let mut rng = Rng(0x2545_F491_4F6C_DD1D);
        let grants = always_waiting(&mut schedule, 10_001, || 1, || rng.below(2_000_000));
        let last = grants[10_000].0;
        assert!(last >= 2 * SECOND, "faster than the rate: {last}");
        assert!(
            last < 2 * SECOND + 2_000_000,
            "the schedule drifted: {last} ns"
        );
        assert!(busiest_window(&grants, SECOND) <= 5_001);
    }

    #[test]
    fn stalls_are_caught_up_within_the_window_bound() {
        // 500/s with lateness up to 1 ms and, every 100th wake-up, a 30 ms stall: the rate
        // stays exact (the stalls are caught up), and no window of one second holds more than
        // 500 + 1.
        for (count, burst, seed) in [(500, 1, 1), (50, 1, 2), (200, 4, 3)] {
            let mut schedule =
                Schedule::new(Gcra::new(count, Duration::from_secs(1)).with_burst(burst));
            let mut rng = Rng(0x9E37_79B9 ^ seed);
            let mut weights = Rng(seed);
            let mut wakes = 0;
            let calls = 4 * count as usize;
            let grants = always_waiting(
                &mut schedule,
                calls,
                || 1 + weights.below(burst as u64) as usize,
                || {
                    wakes += 1;
                    if wakes % 100 == 0 {
                        30_000_000
                    } else {
                        rng.below(1_000_000)
                    }
                },
            );
            let permits: u64 = grants.iter().map(|&(_, n)| n).sum();
            let last = grants[calls - 1].0;
            // `permits - burst` intervals after the start, plus at most the last lateness.
            let ideal = (permits - burst as u64) * SECOND / count;
            assert!(
                last + SECOND / count >= ideal,
                "{count}/s: faster than the rate"
            );
            assert!(
                last <= ideal + 31_000_000,
                "{count}/s: drifted to {last} (ideal {ideal})"
            );
            let busiest = busiest_window(&grants, SECOND);
            assert!(
                busiest <= count + burst as u64,
                "{count}/s burst {burst}: {busiest} in a second"
            );
        }
    }

    #[test]
    fn an_idle_limiter_is_evenly_spaced() {
        // Callers who did not wait are not charged from the past: burst 1 after an idle spell
        // grants one, then spaces the next by an interval.
        let mut schedule = Schedule::new(Gcra::new(10, Duration::from_secs(1)));
        assert_eq!(schedule.try_grant(5 * SECOND, 1, false), Ok(()));
        assert_eq!(
            schedule.try_grant(5 * SECOND, 1, false),
            Err(5 * SECOND + SECOND / 10)
        );
    }

    #[test]
    fn large_limits_keep_no_log_and_stay_within_the_window() {
        let mut schedule = Schedule::new(Gcra::new(1_000_000, Duration::from_secs(1)));
        assert!(!schedule.logging);
        let mut rng = Rng(7);
        let grants = always_waiting(&mut schedule, 3_000_000, || 1, || rng.below(3_000));
        assert!(schedule.log.is_empty());
        assert!(busiest_window(&grants, SECOND) <= 1_000_001);
    }
}
