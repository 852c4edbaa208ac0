//! Rate-limiting arithmetic: the Generic Cell Rate Algorithm (GCRA) with time passed in.
//!
//! This module holds only the arithmetic. It knows no clock, no runtime and no waiting: the
//! caller says what time it is (a `u64` count of nanoseconds since an origin of its choosing)
//! and [`Gcra`] answers "yes" or "not before `until`". The async rate limiter that queues
//! callers fairly and sleeps until that instant lives in `admit-runtime` and the runtime
//! adapters (`admit-tokio`, `admit-async-std`, `admit-smol`), which bring the clock.
//!
//! # Implementation details
//!
//! GCRA is the token bucket expressed as one number: the *theoretical arrival time* (TAT), the
//! instant at which the bucket would be full again if nothing else were taken. With `count`
//! permits per `period`, each permit costs one *emission interval* `T = period / count`, and
//! the bucket tolerates `burst × T` of debt:
//!
//! * a request for `n` permits at time `now` conforms when `max(TAT, now) + n × T ≤ now + burst × T`;
//! * when it does, `TAT = max(TAT, now) + n × T`;
//! * when it does not, it will conform from `until = TAT + n × T − burst × T` on (and nothing
//!   changes, so a refused request costs nothing).
//!
//! `T` is rarely a whole number of nanoseconds (3 per second is 333,333,333⅓ ns), and rounding
//! it would drift over a long run. So every instant is kept *scaled by `count`*: one nanosecond
//! is `count` units, and `T` is exactly `period` (in nanoseconds) units. The state is one `u128`,
//! all arithmetic is exact integer arithmetic (saturating at the extremes), and the only
//! rounding is the final conversion of `until` back to nanoseconds, which rounds *up* so that a
//! caller who waits until `until` is never refused. The `k`-th permit after an idle start is
//! therefore granted at exactly `⌈k × period / count⌉` ns: the error never accumulates. (To
//! keep it so, a caller less than one nanosecond behind the TAT counts as on time.)
//!
//! Guarantee: in any window of length `d`, at most `burst + d / T` permits conform (rounded
//! down). With `burst = 1` (the default) permits are evenly spaced; a larger burst lets an idle
//! limiter bank up to `burst` permits.
//!
//! # Waiters woken late
//!
//! A caller refused with `Wait { until }` sleeps, and a runtime's timer wakes it *after*
//! `until` (tokio's timer has 1 ms resolution). Plain GCRA charges a request from
//! `max(TAT, now)`, so each late wake-up would shift the whole schedule by its lateness and the
//! long-run rate would fall short. [`Gcra::try_acquire_after_wait`] is for callers that have
//! been waiting: it charges from `max(TAT, now − T)` instead, so a waiter up to one interval
//! late is charged from its scheduled time and the schedule does not drift. Catching up is
//! bounded to that one interval: the state is never more than `T` behind `now`, so the
//! limiter behaves at worst like a GCRA with burst `burst + 1`, and a half-open window of one
//! period admits at most `count + burst` permits (one more than the `count + burst − 1` of a
//! strict schedule). Lateness beyond one interval is not caught up: it is lost, never turned
//! into a longer burst. [`Gcra::try_acquire_late`] forgives more (a bound of the caller's
//! choice), for callers that bound their windows themselves: the async limiter keeps a log of
//! the last period's grants, so it can catch up whole stalls and still admit at most
//! `count + burst` per period.
//!
//! The type is a plain value (`&mut self`): no atomics (so it works on targets without 64-bit
//! atomics), no allocation, no `unsafe`. Share it behind whatever lock fits the platform.

use core::fmt;
use core::time::Duration;

/// A GCRA rate-limiter state: at most `count` permits per `period`, with a configurable burst.
///
/// Time is a `u64` count of nanoseconds since an origin the caller chooses and keeps (for
/// example the `Instant` at which the limiter was created). Time may stand still or even go
/// backwards; the limiter never grants more than its rate because of it.
///
/// `Gcra` is a small `Copy` value and allocates nothing.
///
/// # Examples
///
/// Ten permits per second, evenly spaced:
///
/// ```
/// use admit::rate::{Gcra, RateError};
/// use core::time::Duration;
///
/// let mut limit = Gcra::new(10, Duration::from_secs(1));
/// assert_eq!(limit.try_acquire(0, 1), Ok(()));
/// // The next permit is 100 ms later.
/// assert_eq!(limit.try_acquire(1_000, 1), Err(RateError::Wait { until: 100_000_000 }));
/// assert_eq!(limit.try_acquire(100_000_000, 1), Ok(()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    /// Permits per period (the scale factor: one nanosecond is `count` units).
    count: u64,
    /// Length of the period in nanoseconds; also the emission interval in scaled units.
    period_ns: u64,
    /// How many permits may be taken at once after the limiter has been idle.
    burst: usize,
    /// Theoretical arrival time, in scaled units (nanoseconds × `count`).
    tat: u128,
}

/// Why [`Gcra::try_acquire`] refused a request.
///
/// # Examples
///
/// ```
/// use admit::rate::{Gcra, RateError};
/// use core::time::Duration;
///
/// let mut limit = Gcra::new(1, Duration::from_secs(1)).with_burst(2);
/// assert_eq!(
///     limit.try_acquire(0, 3),
///     Err(RateError::TooLarge { requested: 3, burst: 2 })
/// );
/// assert_eq!(limit.try_acquire(0, 2), Ok(()));
/// assert_eq!(limit.try_acquire(0, 1).unwrap_err().until(), Some(1_000_000_000));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RateError {
    /// The request does not conform yet; it will conform at `until` (nanoseconds since the
    /// caller's origin) if nothing else is taken meanwhile. Nothing was taken.
    Wait {
        /// The earliest instant, in nanoseconds since the origin, at which the request conforms.
        until: u64,
    },
    /// The request is larger than the burst: it can never conform, however long one waits.
    TooLarge {
        /// The number of permits requested.
        requested: usize,
        /// The limiter's burst, the most permits one request may take.
        burst: usize,
    },
}

impl RateError {
    /// The instant at which the request conforms, or `None` if it never will.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::RateError;
    ///
    /// assert_eq!(RateError::Wait { until: 5 }.until(), Some(5));
    /// assert_eq!(RateError::TooLarge { requested: 2, burst: 1 }.until(), None);
    /// ```
    #[must_use]
    pub const fn until(&self) -> Option<u64> {
        match *self {
            Self::Wait { until } => Some(until),
            Self::TooLarge { .. } => None,
        }
    }
}

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Wait { until } => write!(f, "rate limit reached; retry at {until} ns"),
            Self::TooLarge { requested, burst } => write!(
                f,
                "requested {requested} permits but the rate limiter's burst is {burst}: \
                 the request can never be granted"
            ),
        }
    }
}

impl core::error::Error for RateError {}

/// Why [`Gcra::try_new`] refused a configuration.
///
/// # Examples
///
/// ```
/// use admit::rate::{Gcra, InvalidRate};
/// use core::time::Duration;
///
/// assert_eq!(Gcra::try_new(0, Duration::from_secs(1)), Err(InvalidRate::ZeroCount));
/// assert!(InvalidRate::ZeroPeriod.to_string().contains("period"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidRate {
    /// The limit allows no permit per period: nothing could ever be granted.
    ZeroCount,
    /// The period is zero: the rate would be infinite.
    ZeroPeriod,
    /// The period is longer than `u64::MAX` nanoseconds (about 584 years).
    PeriodTooLong,
}

impl fmt::Display for InvalidRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZeroCount => "a rate limit needs at least one permit per period",
            Self::ZeroPeriod => "a rate limit needs a non-zero period",
            Self::PeriodTooLong => "the rate limit's period is too long (over u64::MAX ns)",
        })
    }
}

impl core::error::Error for InvalidRate {}

impl Gcra {
    /// A limiter granting at most `count` permits per `period`, evenly spaced (burst 1).
    ///
    /// # Panics
    ///
    /// If `count` is zero, or `period` is zero or longer than `u64::MAX` nanoseconds
    /// (about 584 years).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::Gcra;
    /// use core::time::Duration;
    ///
    /// const API_LIMIT: Gcra = Gcra::new(100, Duration::from_secs(60)).with_burst(10);
    /// assert_eq!(API_LIMIT.burst(), 10);
    /// assert_eq!(API_LIMIT.interval(), Duration::from_millis(600));
    /// ```
    #[must_use]
    pub const fn new(count: u64, period: Duration) -> Self {
        match Self::try_new(count, period) {
            Ok(limit) => limit,
            Err(InvalidRate::ZeroCount) => {
                panic!("a rate limit needs at least one permit per period")
            }
            Err(InvalidRate::ZeroPeriod) => panic!("a rate limit needs a non-zero period"),
            Err(InvalidRate::PeriodTooLong) => panic!("the rate limit's period is too long"),
        }
    }

    /// As [`new`](Self::new), returning an error instead of panicking on a configuration
    /// that cannot work.
    ///
    /// # Errors
    ///
    /// [`InvalidRate`] if `count` is zero, or `period` is zero or longer than `u64::MAX`
    /// nanoseconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::{Gcra, InvalidRate};
    /// use core::time::Duration;
    ///
    /// assert_eq!(Gcra::try_new(5, Duration::ZERO), Err(InvalidRate::ZeroPeriod));
    /// assert_eq!(Gcra::try_new(5, Duration::from_secs(1)).unwrap().count(), 5);
    /// ```
    pub const fn try_new(count: u64, period: Duration) -> Result<Self, InvalidRate> {
        let period_ns = period.as_nanos();
        if count == 0 {
            Err(InvalidRate::ZeroCount)
        } else if period_ns == 0 {
            Err(InvalidRate::ZeroPeriod)
        } else if period_ns > u64::MAX as u128 {
            Err(InvalidRate::PeriodTooLong)
        } else {
            Ok(Self {
                count,
                period_ns: period_ns as u64,
                burst: 1,
                tat: 0,
            })
        }
    }

    /// Sets how many permits may be taken at once (after an idle spell); the default is 1.
    ///
    /// The burst is also the largest request [`try_acquire`](Self::try_acquire) accepts.
    ///
    /// # Panics
    ///
    /// If `burst` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::Gcra;
    /// use core::time::Duration;
    ///
    /// let mut limit = Gcra::new(1, Duration::from_secs(1)).with_burst(5);
    /// assert_eq!(limit.try_acquire(0, 5), Ok(()));
    /// assert!(limit.try_acquire(0, 1).is_err());
    /// ```
    #[must_use]
    pub const fn with_burst(mut self, burst: usize) -> Self {
        assert!(burst > 0, "a rate limit's burst must be at least 1");
        self.burst = burst;
        self
    }

    /// Permits per period.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::Gcra;
    /// use core::time::Duration;
    ///
    /// assert_eq!(Gcra::new(7, Duration::from_secs(1)).count(), 7);
    /// ```
    #[must_use]
    pub const fn count(&self) -> u64 {
        self.count
    }

    /// The period over which [`count`](Self::count) permits are granted.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::Gcra;
    /// use core::time::Duration;
    ///
    /// assert_eq!(Gcra::new(7, Duration::from_secs(2)).period(), Duration::from_secs(2));
    /// ```
    #[must_use]
    pub const fn period(&self) -> Duration {
        Duration::from_nanos(self.period_ns)
    }

    /// The most permits one request may take, and the most an idle limiter banks.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::Gcra;
    /// use core::time::Duration;
    ///
    /// assert_eq!(Gcra::new(7, Duration::from_secs(1)).burst(), 1);
    /// ```
    #[must_use]
    pub const fn burst(&self) -> usize {
        self.burst
    }

    /// The emission interval, `period / count`, rounded down to whole nanoseconds.
    ///
    /// This is for display and for sizing sleeps; the limiter itself computes with the exact
    /// fraction, so the rounding does not accumulate.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::Gcra;
    /// use core::time::Duration;
    ///
    /// let limit = Gcra::new(3, Duration::from_secs(1));
    /// assert_eq!(limit.interval(), Duration::from_nanos(333_333_333));
    /// ```
    #[must_use]
    pub const fn interval(&self) -> Duration {
        Duration::from_nanos(self.period_ns / self.count)
    }

    /// Takes `n` permits at time `now` (nanoseconds since the caller's origin) if the rate allows.
    ///
    /// `n = 0` always succeeds and changes nothing.
    ///
    /// # Errors
    ///
    /// * [`RateError::Wait`] if the request does not conform yet; `until` is the earliest
    ///   instant at which it will (if nothing else is taken meanwhile). Nothing is taken.
    /// * [`RateError::TooLarge`] if `n` exceeds the [burst](Self::burst): the request can
    ///   never conform.
    ///
    /// # Examples
    ///
    /// Weighted requests: two permits cost twice the interval.
    ///
    /// ```
    /// use admit::rate::{Gcra, RateError};
    /// use core::time::Duration;
    ///
    /// let mut limit = Gcra::new(1, Duration::from_secs(1)).with_burst(2);
    /// limit.try_acquire(0, 2).unwrap();
    /// assert_eq!(limit.try_acquire(0, 2), Err(RateError::Wait { until: 2_000_000_000 }));
    /// assert_eq!(limit.try_acquire(0, 1), Err(RateError::Wait { until: 1_000_000_000 }));
    /// ```
    pub fn try_acquire(&mut self, now: u64, n: usize) -> Result<(), RateError> {
        let tat = self.check_with_slack(now, n, 0)?;
        self.tat = tat;
        Ok(())
    }

    /// As [`try_acquire`](Self::try_acquire), for a caller that has been waiting for its turn
    /// (it was refused with [`RateError::Wait`], or queued behind callers who were): lateness
    /// of up to one emission interval is forgiven, so a waiter woken late by its timer is
    /// charged from its scheduled time and the schedule does not drift.
    ///
    /// The forgiveness is bounded to one interval (see [Waiters woken late](self#waiters-woken-late)):
    /// a half-open window of one period still admits at most `count + burst` permits. Use
    /// [`try_acquire`](Self::try_acquire) for a caller that did not wait, so that an idle
    /// limiter with burst 1 stays evenly spaced.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire); `until` is the same instant it names.
    ///
    /// # Examples
    ///
    /// A waiter told to wait until 100 ms is woken at 101 ms; it is charged from 100 ms, so the
    /// next permit is still due at 200 ms (not 201 ms):
    ///
    /// ```
    /// use admit::rate::{Gcra, RateError};
    /// use core::time::Duration;
    ///
    /// const MS: u64 = 1_000_000;
    /// let mut limit = Gcra::new(10, Duration::from_secs(1));
    /// limit.try_acquire(0, 1).unwrap();
    /// assert_eq!(limit.try_acquire(0, 1), Err(RateError::Wait { until: 100 * MS }));
    /// limit.try_acquire_after_wait(101 * MS, 1).unwrap();
    /// assert_eq!(limit.try_acquire_after_wait(101 * MS, 1), Err(RateError::Wait { until: 200 * MS }));
    /// ```
    pub fn try_acquire_after_wait(&mut self, now: u64, n: usize) -> Result<(), RateError> {
        self.try_acquire_late(now, n, self.period_ns / self.count)
    }

    /// As [`try_acquire_after_wait`](Self::try_acquire_after_wait), forgiving up to `max_lag`
    /// nanoseconds of lateness instead of one interval: a waiter up to `max_lag` behind the
    /// schedule is charged from its scheduled time, so the permits it missed can be caught up.
    ///
    /// With `max_lag` above one interval, catching up after a long stall can grant more than
    /// `count + burst` in one period; a caller using it bounds its windows itself (the async
    /// rate limiter of `admit-runtime` keeps a log of the last period's grants for that).
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::Gcra;
    /// use core::time::Duration;
    ///
    /// const MS: u64 = 1_000_000;
    /// let mut limit = Gcra::new(1_000, Duration::from_secs(1)); // one per ms
    /// limit.try_acquire(0, 1).unwrap();
    /// // Woken 3 ms late: with 5 ms of catch-up, the slots at 1, 2 and 3 ms are all granted now.
    /// for _ in 0..3 {
    ///     limit.try_acquire_late(3 * MS, 1, 5 * MS).unwrap();
    /// }
    /// assert!(limit.try_acquire_late(3 * MS, 1, 5 * MS).is_err());
    /// ```
    pub fn try_acquire_late(&mut self, now: u64, n: usize, max_lag: u64) -> Result<(), RateError> {
        let slack = u128::from(max_lag).saturating_mul(u128::from(self.count));
        let tat = self.check_with_slack(now, n, slack)?;
        self.tat = tat;
        Ok(())
    }

    /// Answers as [`try_acquire`](Self::try_acquire) would, without taking anything.
    ///
    /// On success it returns the theoretical arrival time the limiter would move to, in its
    /// internal scaled units; only its ordering is meaningful to callers.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Self::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::Gcra;
    /// use core::time::Duration;
    ///
    /// let limit = Gcra::new(1, Duration::from_secs(1));
    /// assert!(limit.check(0, 1).is_ok());
    /// assert!(limit.check(0, 1).is_ok()); // nothing was taken
    /// ```
    pub fn check(&self, now: u64, n: usize) -> Result<u128, RateError> {
        self.check_with_slack(now, n, 0)
    }

    /// The conformance test, with the TAT allowed to lag up to `slack` scaled units behind
    /// `now`.
    fn check_with_slack(&self, now: u64, n: usize, slack: u128) -> Result<u128, RateError> {
        if n > self.burst {
            return Err(RateError::TooLarge {
                requested: n,
                burst: self.burst,
            });
        }
        if n == 0 {
            return Ok(self.tat);
        }
        let interval = u128::from(self.period_ns);
        let now_scaled = u128::from(now) * u128::from(self.count);
        let tolerance = interval.saturating_mul(self.burst as u128);
        let cost = interval.saturating_mul(n as u128);
        // Lateness below one nanosecond is not lateness: `now` has nanosecond resolution and
        // `until` was rounded up to it, so resetting the TAT to `now_scaled` there would lose
        // the fraction on every grant and drift.
        let base = if self.tat.saturating_add(u128::from(self.count - 1)) >= now_scaled {
            self.tat
        } else {
            // Behind schedule: a waiter is charged from at most `slack` before now.
            self.tat.max(now_scaled.saturating_sub(slack))
        };
        let new_tat = base.saturating_add(cost);
        if new_tat <= now_scaled.saturating_add(tolerance) {
            return Ok(new_tat);
        }
        // Not conforming means `base == tat > now_scaled - slack` and `n ≤ burst`, so this is
        // `new_tat - tolerance`, the first scaled instant `t` with `new_tat ≤ t + tolerance`.
        let until_scaled = new_tat - tolerance;
        let until = until_scaled.div_ceil(u128::from(self.count));
        Err(RateError::Wait {
            until: u64::try_from(until).unwrap_or(u64::MAX),
        })
    }

    /// How many permits one request could take at `now` (between 0 and the burst).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::Gcra;
    /// use core::time::Duration;
    ///
    /// let mut limit = Gcra::new(10, Duration::from_secs(1)).with_burst(5);
    /// assert_eq!(limit.available(0), 5);
    /// limit.try_acquire(0, 5).unwrap();
    /// assert_eq!(limit.available(0), 0);
    /// assert_eq!(limit.available(250_000_000), 2); // 2.5 intervals later
    /// ```
    #[must_use]
    pub fn available(&self, now: u64) -> usize {
        let interval = u128::from(self.period_ns);
        let now_scaled = u128::from(now) * u128::from(self.count);
        let tolerance = interval.saturating_mul(self.burst as u128);
        let debt = self.tat.saturating_sub(now_scaled);
        let room = tolerance.saturating_sub(debt) / interval;
        usize::try_from(room).map_or(self.burst, |room| room.min(self.burst))
    }

    /// Forgets all history: the limiter is idle again, with its full burst available.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::rate::Gcra;
    /// use core::time::Duration;
    ///
    /// let mut limit = Gcra::new(1, Duration::from_secs(1));
    /// limit.try_acquire(0, 1).unwrap();
    /// limit.reset();
    /// assert_eq!(limit.try_acquire(0, 1), Ok(()));
    /// ```
    pub fn reset(&mut self) {
        self.tat = 0;
    }
}

impl fmt::Debug for Gcra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gcra")
            .field("count", &self.count)
            .field("period", &self.period())
            .field("burst", &self.burst)
            .field("tat_ns", &(self.tat / u128::from(self.count)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    /// Makes `requests` requests of `weight` permits, each at the earliest instant the limiter
    /// allows (simulated time), and returns the instants of the first and last grant.
    fn drain(limit: &mut Gcra, start: u64, requests: usize, weight: usize) -> (u64, u64) {
        let mut now = start;
        let mut first = None;
        let mut previous = now;
        for _ in 0..requests {
            loop {
                match limit.try_acquire(now, weight) {
                    Ok(()) => break,
                    Err(RateError::Wait { until }) => {
                        assert!(until > now, "a refused request must wait a positive time");
                        // Waiting less than `until` must still be refused.
                        assert!(limit.try_acquire(until - 1, weight).is_err());
                        now = until;
                    }
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            first.get_or_insert(now);
            assert!(now >= previous);
            previous = now;
        }
        (first.unwrap_or(now), now)
    }

    /// A small deterministic generator (xorshift), for simulated lateness.
    struct Lateness(u64);

    impl Lateness {
        fn next_below(&mut self, bound: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            if bound == 0 { 0 } else { self.0 % bound }
        }
    }

    /// One caller that always waits: each refused request sleeps until `until` and is woken
    /// `late(..)` later, as a runtime's timer would. Returns the grant instants and weights.
    fn late_waiter(
        limit: &mut Gcra,
        requests: usize,
        mut weight: impl FnMut(usize) -> usize,
        mut late: impl FnMut() -> u64,
    ) -> [(u64, usize); 400] {
        let mut grants = [(0, 0); 400];
        assert!(requests <= grants.len());
        let mut now = 0;
        for (i, grant) in grants.iter_mut().take(requests).enumerate() {
            let n = weight(i);
            let mut waited = i > 0;
            loop {
                let result = if waited {
                    limit.try_acquire_after_wait(now, n)
                } else {
                    limit.try_acquire(now, n)
                };
                match result {
                    Ok(()) => break,
                    Err(RateError::Wait { until }) => {
                        assert!(until > now);
                        now = until + late();
                        waited = true;
                    }
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            *grant = (now, n);
        }
        grants
    }

    /// The most permits granted in any half-open window `[t, t + period)`.
    fn busiest_window(grants: &[(u64, usize)], period: u64) -> usize {
        let mut most = 0;
        for (i, &(start, _)) in grants.iter().enumerate() {
            let in_window: usize = grants[i..]
                .iter()
                .take_while(|&&(at, _)| at < start + period)
                .map(|&(_, n)| n)
                .sum();
            most = most.max(in_window);
        }
        most
    }

    #[test]
    fn late_wake_ups_do_not_shift_the_schedule() {
        // 500/s (T = 2 ms) woken up to 1.9 ms late, as by tokio's 1 ms timer under load: the
        // schedule stays exact, so the 400th permit is due at 399 × T, whatever the lateness.
        let interval = SECOND / 500;
        let mut limit = Gcra::new(500, Duration::from_secs(1));
        let mut rng = Lateness(0x9E37_79B9_7F4A_7C15);
        let grants = late_waiter(&mut limit, 400, |_| 1, || rng.next_below(interval - 1));
        for (k, &(at, _)) in grants.iter().enumerate() {
            let slot = k as u64 * interval;
            assert!(at >= slot, "permit {k} early");
            assert!(
                at < slot + interval,
                "permit {k} drifted: {at} vs slot {slot}"
            );
        }
        // The next permit is due exactly one interval after the last slot.
        let last = grants[399].0;
        assert_eq!(
            limit.try_acquire_after_wait(last, 1),
            Err(RateError::Wait {
                until: 400 * interval
            })
        );
        assert!(busiest_window(&grants, SECOND) <= 500 + 1);

        // Plain `try_acquire` charges from `now`, so the same lateness accumulates: the check
        // above is one that can fail.
        let mut plain = Gcra::new(500, Duration::from_secs(1));
        let mut rng = Lateness(0x9E37_79B9_7F4A_7C15);
        let mut now = 0;
        for _ in 0..400 {
            while let Err(e) = plain.try_acquire(now, 1) {
                now = e.until().unwrap() + rng.next_below(interval - 1);
            }
        }
        assert!(
            now > 399 * interval + 100 * 1_000_000,
            "drift expected: {now}"
        );
    }

    #[test]
    fn catching_up_is_bounded_to_one_over_the_window() {
        // Lateness up to three intervals, weighted requests, several bursts: any half-open
        // window of one period admits at most `count + burst`.
        // 400 grants span several periods in each case, so every window is full.
        let cases = [
            (50, SECOND, 1, 1),
            (25, SECOND / 10, 1, 2),
            (100, SECOND / 10, 1, 3),
        ];
        for (count, period, burst, seed) in cases
            .into_iter()
            .chain([(40, SECOND / 10, 4, 4), (7, SECOND, 3, 5)])
        {
            let interval = period / count;
            let mut limit = Gcra::new(count, Duration::from_nanos(period)).with_burst(burst);
            let mut rng = Lateness(0xDEAD_BEEF ^ seed);
            let mut weights = Lateness(seed);
            let grants = late_waiter(
                &mut limit,
                400,
                |_| 1 + weights.next_below(burst as u64) as usize,
                || rng.next_below(3 * interval),
            );
            let busiest = busiest_window(&grants, period);
            assert!(
                busiest <= count as usize + burst,
                "{count}/s burst {burst}: {busiest} in one period"
            );
        }
    }

    #[test]
    fn a_waiter_on_time_is_charged_as_plain_gcra() {
        // Without lateness `try_acquire_after_wait` grants exactly the plain schedule.
        let mut limit = Gcra::new(3, Duration::from_secs(1));
        let grants = late_waiter(&mut limit, 300, |_| 1, || 0);
        for (k, &(at, _)) in grants.iter().take(300).enumerate() {
            assert_eq!(at, (k as u64 * SECOND).div_ceil(3), "permit {k}");
        }
    }

    #[test]
    fn try_new_rejects_what_new_panics_on() {
        assert_eq!(
            Gcra::try_new(0, Duration::from_secs(1)),
            Err(InvalidRate::ZeroCount)
        );
        assert_eq!(
            Gcra::try_new(1, Duration::ZERO),
            Err(InvalidRate::ZeroPeriod)
        );
        assert_eq!(
            Gcra::try_new(1, Duration::from_secs(u64::MAX)),
            Err(InvalidRate::PeriodTooLong)
        );
        assert_eq!(
            Gcra::try_new(3, Duration::from_secs(1)),
            Ok(Gcra::new(3, Duration::from_secs(1)))
        );
    }

    #[test]
    fn ten_thousand_at_100_per_second_are_exactly_spaced() {
        let mut limit = Gcra::new(100, Duration::from_secs(1));
        let mut now = 0;
        for k in 0..10_000u64 {
            let expected = k * (SECOND / 100);
            loop {
                match limit.try_acquire(now, 1) {
                    Ok(()) => break,
                    Err(RateError::Wait { until }) => now = until,
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            assert_eq!(now, expected, "permit {k}");
        }
        // 10,000 permits at 100/s: the last one at 99.99 s, exactly.
        assert_eq!(now, 9_999 * SECOND / 100);
    }

    #[test]
    fn fractional_interval_does_not_drift() {
        // 3 per second: 333,333,333.33… ns apart; after 30,000 permits the error is < 1 ns.
        let mut limit = Gcra::new(3, Duration::from_secs(1));
        let mut now = 0;
        for k in 0..30_000u64 {
            loop {
                match limit.try_acquire(now, 1) {
                    Ok(()) => break,
                    Err(RateError::Wait { until }) => now = until,
                    Err(e) => panic!("unexpected {e}"),
                }
            }
            // Granted at exactly ⌈k × 10⁹ / 3⌉.
            assert_eq!(now, (k * SECOND).div_ceil(3), "permit {k}");
        }
    }

    #[test]
    fn high_rate_long_run_with_burst() {
        // 20,000/s with burst 50, 2,000 permits: the first 50 at once, then one every 50 µs.
        let mut limit = Gcra::new(20_000, Duration::from_secs(1)).with_burst(50);
        let (first, last) = drain(&mut limit, 7, 2_000, 1);
        assert_eq!(first, 7);
        assert_eq!(last, 7 + (2_000 - 50) * 50_000);
    }

    #[test]
    fn burst_is_banked_while_idle_and_capped() {
        let mut limit = Gcra::new(10, Duration::from_secs(1)).with_burst(4);
        let t0 = 5 * SECOND;
        for _ in 0..4 {
            assert_eq!(limit.try_acquire(t0, 1), Ok(()));
        }
        assert_eq!(
            limit.try_acquire(t0, 1),
            Err(RateError::Wait {
                until: t0 + SECOND / 10
            })
        );
        // After a long idle spell, only `burst` are banked, not more.
        let t1 = t0 + 100 * SECOND;
        assert_eq!(limit.available(t1), 4);
        for _ in 0..4 {
            assert_eq!(limit.try_acquire(t1, 1), Ok(()));
        }
        assert!(limit.try_acquire(t1, 1).is_err());
    }

    #[test]
    fn window_guarantee_holds() {
        // In any window of length d, at most burst + d/T permits; check over a greedy run.
        let burst = 3;
        let mut limit = Gcra::new(5, Duration::from_secs(1)).with_burst(burst);
        let mut grants = [0u64; 200];
        let mut now = 0;
        for grant in &mut grants {
            loop {
                match limit.try_acquire(now, 1) {
                    Ok(()) => break,
                    Err(e) => now = e.until().unwrap(),
                }
            }
            *grant = now;
        }
        let interval = SECOND / 5;
        for i in 0..grants.len() {
            for j in i..grants.len() {
                let d = grants[j] - grants[i];
                let allowed = burst as u64 + d / interval;
                assert!((j - i + 1) as u64 <= allowed, "window {i}..={j}");
            }
        }
    }

    #[test]
    fn weighted_requests_cost_their_weight() {
        let mut limit = Gcra::new(1_000, Duration::from_secs(1)).with_burst(10);
        let (_, last) = drain(&mut limit, 0, 100, 10);
        // 1,000 permits: the first 10 free, then 990 ms.
        assert_eq!(last, 990 * 1_000_000);

        let mut limit = Gcra::new(1, Duration::from_secs(1)).with_burst(3);
        assert_eq!(limit.try_acquire(0, 2), Ok(()));
        assert_eq!(limit.try_acquire(0, 1), Ok(()));
        assert_eq!(
            limit.try_acquire(0, 3),
            Err(RateError::Wait { until: 3 * SECOND })
        );
        assert_eq!(
            limit.try_acquire(0, 2),
            Err(RateError::Wait { until: 2 * SECOND })
        );
        // A small request is not held back by a refused large one.
        assert_eq!(limit.try_acquire(SECOND, 1), Ok(()));
    }

    #[test]
    fn too_large_requests_fail_and_change_nothing() {
        let mut limit = Gcra::new(10, Duration::from_secs(1)).with_burst(4);
        let before = limit;
        assert_eq!(
            limit.try_acquire(0, 5),
            Err(RateError::TooLarge {
                requested: 5,
                burst: 4
            })
        );
        assert_eq!(
            limit.try_acquire(0, usize::MAX),
            Err(RateError::TooLarge {
                requested: usize::MAX,
                burst: 4
            })
        );
        assert_eq!(limit, before);
        assert_eq!(limit.try_acquire(0, 4), Ok(()));
    }

    #[test]
    fn zero_permits_always_succeed() {
        let mut limit = Gcra::new(1, Duration::from_secs(1));
        limit.try_acquire(0, 1).unwrap();
        let before = limit;
        assert_eq!(limit.try_acquire(0, 0), Ok(()));
        assert_eq!(limit, before);
    }

    #[test]
    fn refused_requests_take_nothing() {
        let mut limit = Gcra::new(1, Duration::from_secs(1));
        limit.try_acquire(0, 1).unwrap();
        let before = limit;
        for now in [0, 1, SECOND / 2, SECOND - 1] {
            assert!(limit.try_acquire(now, 1).is_err());
        }
        assert_eq!(limit, before);
        assert_eq!(limit.try_acquire(SECOND, 1), Ok(()));
    }

    #[test]
    fn time_going_backwards_grants_nothing_extra() {
        let mut limit = Gcra::new(1, Duration::from_secs(1));
        limit.try_acquire(10 * SECOND, 1).unwrap();
        assert_eq!(
            limit.try_acquire(SECOND, 1),
            Err(RateError::Wait { until: 11 * SECOND })
        );
    }

    #[test]
    fn extremes_saturate_instead_of_overflowing() {
        let mut limit = Gcra::new(u64::MAX, Duration::from_nanos(u64::MAX)).with_burst(usize::MAX);
        assert_eq!(limit.try_acquire(u64::MAX, usize::MAX), Ok(()));
        // Only checked not to overflow: here `now × count + burst × period` passes `u128::MAX`,
        // the comparisons saturate, and this second full burst at the same instant is granted
        // too (the limiter is exact only below that).
        let _ = limit.try_acquire(u64::MAX, usize::MAX);
        let _ = limit.available(u64::MAX);

        let mut slow = Gcra::new(1, Duration::from_nanos(u64::MAX));
        assert_eq!(slow.try_acquire(0, 1), Ok(()));
        assert_eq!(
            slow.try_acquire(0, 1),
            Err(RateError::Wait { until: u64::MAX })
        );
        assert_eq!(slow.try_acquire(u64::MAX, 1), Ok(()));
        // The next permit is due past the end of time: refused, with the latest instant.
        assert_eq!(
            slow.try_acquire(u64::MAX, 1),
            Err(RateError::Wait { until: u64::MAX })
        );
    }

    #[test]
    fn constructor_and_accessors() {
        const LIMIT: Gcra = Gcra::new(3, Duration::from_secs(1)).with_burst(2);
        assert_eq!(LIMIT.count(), 3);
        assert_eq!(LIMIT.period(), Duration::from_secs(1));
        assert_eq!(LIMIT.burst(), 2);
        assert_eq!(LIMIT.interval(), Duration::from_nanos(333_333_333));
        assert!(core::mem::size_of::<Gcra>() <= 48);
    }

    #[test]
    #[should_panic(expected = "at least one permit")]
    fn zero_count_panics() {
        let _ = Gcra::new(0, Duration::from_secs(1));
    }

    #[test]
    #[should_panic(expected = "non-zero period")]
    fn zero_period_panics() {
        let _ = Gcra::new(1, Duration::ZERO);
    }

    #[test]
    #[should_panic(expected = "period is too long")]
    fn period_past_u64_nanoseconds_panics() {
        let _ = Gcra::new(1, Duration::from_secs(u64::MAX));
    }

    #[test]
    #[should_panic(expected = "burst must be at least 1")]
    fn zero_burst_panics() {
        let _ = Gcra::new(1, Duration::from_secs(1)).with_burst(0);
    }

    #[test]
    fn errors_display() {
        extern crate alloc;
        use alloc::string::ToString;
        assert!(
            RateError::TooLarge {
                requested: 5,
                burst: 4
            }
            .to_string()
            .contains("can never be granted")
        );
        assert!(RateError::Wait { until: 3 }.to_string().contains("3 ns"));
    }
}
