//! A rate-limited client: at most N calls per second against a server, however many callers
//! are ready, measured at the client and at the server.
//!
//! Sixteen callers (a [`TaskPool`]) share one [`RateLimiter`] of N per second (burst 1: calls
//! evenly spaced, 1/N s apart). Each call awaits the limiter, then makes its request. The
//! limiter never allows more than N + 1 calls in any one-second window (N + burst), and over a
//! run the rate comes out within 1 % of N on every runtime: a late timer does not shift the
//! limiter's schedule.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use admit_runtime::{RateLimiter, TaskPool};

use crate::server::{Reply, Server};
use crate::support::lock;
use crate::{Example, ExampleRuntime, http};

/// The lowest acceptable observed rate over a run of 2 s or more, as a share of the limit: the
/// limiter keeps its schedule however late the runtime's timer wakes it, so a long run is
/// within 1 % of the rate.
pub const SLOWEST_ACCEPTED: f64 = 0.99;

/// The lowest acceptable observed rate over a shorter run: the last grant's own wake-up
/// lateness (a millisecond or two on tokio, more on a loaded machine) is not caught up, and
/// weighs more in a short run.
pub const SLOWEST_ACCEPTED_SHORT: f64 = 0.9;

/// The scenario's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The most calls per second (`--rate`).
    pub rate: u64,
    /// How long to call for (`--seconds`): `rate × seconds` calls are made.
    pub duration: Duration,
    /// How many callers are ready at once.
    pub callers: usize,
    /// The time limit of each request.
    pub request_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rate: 50,
            duration: Duration::from_secs(2),
            callers: 16,
            request_timeout: Duration::from_secs(2),
        }
    }
}

impl Config {
    /// How many calls the run makes (at least 2, to measure an interval).
    #[must_use]
    pub fn calls(&self) -> usize {
        // Float to integer: the product is small and positive.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let calls = (self.rate as f64 * self.duration.as_secs_f64()).round() as usize;
        calls.max(2)
    }
}

/// What was measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The runtime the client ran on.
    pub runtime: &'static str,
    /// The parameters.
    pub config: Config,
    /// When the limiter let each call go, in order.
    pub grants: Vec<Instant>,
    /// When the server received each call, in order.
    pub arrivals: Vec<Instant>,
    /// Calls that failed.
    pub failures: Vec<String>,
}

/// Calls per second over `times` (sorted): intervals over the time they span.
fn rate_of(times: &[Instant]) -> f64 {
    match (times.first(), times.last()) {
        (Some(first), Some(last)) if last > first => {
            (times.len() - 1) as f64 / (*last - *first).as_secs_f64()
        }
        _ => f64::INFINITY,
    }
}

/// The most of `times` (sorted) in any half-open window `[t, t + 1 s)`.
fn busiest_second(times: &[Instant]) -> usize {
    let mut end = 0;
    let mut busiest = 0;
    for (start, &t) in times.iter().enumerate() {
        while end < times.len() && times[end] - t < Duration::from_secs(1) {
            end += 1;
        }
        busiest = busiest.max(end - start);
    }
    busiest
}

/// How many of `times` fall in each second since the first.
fn per_second(times: &[Instant]) -> Vec<usize> {
    let Some(&first) = times.first() else {
        return Vec::new();
    };
    let mut buckets = Vec::new();
    for &t in times {
        let second = usize::try_from((t - first).as_secs()).unwrap_or(usize::MAX);
        if buckets.len() <= second {
            buckets.resize(second + 1, 0);
        }
        buckets[second] += 1;
    }
    buckets
}

impl Report {
    /// The rate the client achieved, in calls per second.
    #[must_use]
    pub fn client_rate(&self) -> f64 {
        rate_of(&self.grants)
    }

    /// The rate the server saw, in calls per second.
    #[must_use]
    pub fn server_rate(&self) -> f64 {
        rate_of(&self.arrivals)
    }

    /// Whether the limit held: no one-second window with more than N + 1 calls (the burst of
    /// 1 over N), the run as a whole no faster than N per second (one tick of slack),
    /// and no slower than [`SLOWEST_ACCEPTED`] of N (over 2 s or more; else
    /// [`SLOWEST_ACCEPTED_SHORT`]); every call made once and answered.
    ///
    /// # Errors
    ///
    /// What did not hold.
    pub fn check(&self) -> Result<(), String> {
        let Config { rate, .. } = self.config;
        let calls = self.config.calls();
        if !self.failures.is_empty() {
            return Err(format!("calls failed: {}", self.failures.join("; ")));
        }
        if self.grants.len() != calls || self.arrivals.len() != calls {
            return Err(format!(
                "{} calls granted and {} received, {calls} expected",
                self.grants.len(),
                self.arrivals.len()
            ));
        }
        let busiest = busiest_second(&self.grants);
        if busiest as u64 > rate + 1 {
            return Err(format!(
                "{busiest} calls in one second, over the limit of {rate}"
            ));
        }
        let span = (self.grants[calls - 1] - self.grants[0]).as_secs_f64();
        // `calls - 1` intervals of 1/rate each; one tick of slack for the measurement.
        if (calls - 2) as f64 > rate as f64 * span {
            return Err(format!(
                "{calls} calls in {span:.3} s: faster than {rate} per second"
            ));
        }
        let observed = self.client_rate();
        let slowest = if self.config.duration >= Duration::from_secs(2) {
            SLOWEST_ACCEPTED
        } else {
            SLOWEST_ACCEPTED_SHORT
        };
        if observed < slowest * rate as f64 {
            return Err(format!(
                "only {observed:.1} calls per second, under {:.0}% of {rate}",
                slowest * 100.0
            ));
        }
        Ok(())
    }
}

impl Example for Config {
    type Report = Report;

    async fn run<R: ExampleRuntime>(self) -> Report {
        let mut server =
            Server::start(|_| Reply::ok("pong")).expect("cannot start the local server");
        let addr = server.addr();
        let limiter = Arc::new(
            RateLimiter::<R>::per(self.rate, Duration::from_secs(1)).expect("--rate is at least 1"),
        );
        let grants = Arc::new(Mutex::new(Vec::new()));
        let timeout = self.request_timeout;
        let calls = (0..self.calls()).map(|_| {
            let (limiter, grants) = (Arc::clone(&limiter), Arc::clone(&grants));
            async move {
                limiter.acquire().await;
                lock(&grants).push(R::now());
                http::get_ok::<R>(addr, "/ping", timeout).await
            }
        });
        let results = TaskPool::<R>::new(self.callers)
            .expect("at least one caller")
            // Inline: the callers spend their time waiting (for the limiter, then the server),
            // so polling them all from this task is enough; `spawn_gather` would work too.
            .gather(calls)
            .await
            .expect("the pool's semaphore is never closed");
        server.stop();
        let mut grants = std::mem::take(&mut *lock(&grants));
        grants.sort();
        let mut arrivals: Vec<Instant> = server.hits().iter().map(|hit| hit.arrived).collect();
        arrivals.sort();
        Report {
            runtime: R::NAME,
            config: self,
            grants,
            arrivals,
            failures: results.into_iter().filter_map(Result::err).collect(),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Config { rate, callers, .. } = self.config;
        let calls = self.config.calls();
        let span = match (self.grants.first(), self.grants.last()) {
            (Some(first), Some(last)) => (*last - *first).as_secs_f64(),
            _ => 0.0,
        };
        writeln!(
            f,
            "{calls} calls on {}, at most {rate} per second, {callers} callers ready at once",
            self.runtime
        )?;
        writeln!(
            f,
            "  at the client: {:.1} calls/s ({calls} calls over {span:.3} s; exactly {rate}/s would be {:.3} s)",
            self.client_rate(),
            (calls - 1) as f64 / rate as f64
        )?;
        writeln!(f, "  at the server: {:.1} calls/s", self.server_rate())?;
        writeln!(
            f,
            "  calls in each second since the first: {:?}",
            per_second(&self.grants)
        )?;
        write!(
            f,
            "  busiest one-second window: {} calls (limit {rate})",
            busiest_second(&self.grants)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_rates() {
        let start = Instant::now();
        let times: Vec<Instant> = (0..11)
            .map(|i| start + Duration::from_millis(100 * i))
            .collect();
        assert_eq!(busiest_second(&times), 10);
        assert!((rate_of(&times) - 10.0).abs() < 1e-9);
        assert_eq!(per_second(&times), vec![10, 1]);
    }
}
