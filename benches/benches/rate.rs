//! The rate-limiter benchmark: the rate `RateLimiter::per(rate, 1 s)` (burst 1) really grants.
//!
//! One caller always waits: it calls `acquire().await` again as soon as the last one returned,
//! for a fixed span, and stamps every call and every return on the runtime's clock
//! (`Runtime::now`). From the stamps of `n + 1` grants (the first is the idle limiter's burst,
//! at once):
//!
//! * `achieved_per_s`: `n` over the time from the first return to the last (the median run);
//!   `error_pct` is how far that is from `configured_per_s`, in per cent;
//! * `max_window`: the most grants certainly inside one half-open window of one period (the
//!   worst run): grants `a..=b` where `b` returned less than a period after `a` was called.
//!   The limiter grants somewhere between a call and its return, so this never counts more
//!   than the limiter granted, and a count above `window_bound` (what the limiter promises,
//!   `count + burst`) would prove it broke its bound;
//! * `max_window_returns`: the same count on the return stamps alone (the worst run). It can
//!   count one more than was granted: when the caller's thread is preempted between a grant
//!   and its stamp (a loaded machine), the late stamp pulls the window's start forward.
//!
//! Wall time is the nanoseconds per grant on the runtime's clock (`1e9 / achieved_per_s`);
//! CPU time is the process's (user + system, every thread, `admit_benches::measure::Meter`)
//! per grant: what the waiting costs while the caller sleeps between grants.
//!
//! Runtimes: tokio multi-thread (2 workers), async-std and smol (2 threads each,
//! `admit_benches::runtimes`); the caller runs in `block_on`, the timers on the runtime.
//! Rates: 50, 500, 2,000, 5,000 and 10,000 per second, each run for 2 s, 2 rounds (about a
//! minute); `-- --quick` runs 1 round of 1 s (about 15 s).
//!
//! The rows go to `$ADMIT_BENCH_OUT/rate.json` (default `target/admit-bench/rate.json`).
//!
//! Run: `cargo bench -p admit-benches --bench rate` (add `-- --quick`).

use std::time::{Duration, Instant};

use admit_benches::Args;
use admit_benches::measure::{Measured, Meter, Sample, Waits, median};
use admit_benches::rows::{Group, Row};
use admit_benches::runtimes::{self, ASYNC_STD, SMOL, Tokio};
use admit_conformance::Flavor;
use admit_runtime::{RateLimiter, Runtime};

const GROUP: &str = "rate";

/// Acquisitions per period (per second).
const RATES: [u64; 5] = [50, 500, 2_000, 5_000, 10_000];

/// The limiter's period.
const PERIOD: Duration = Duration::from_secs(1);

/// The limiter's burst (`RateLimiter::per` gives 1).
const BURST: u64 = 1;

/// (rounds, span of one run).
const FULL: (usize, Duration) = (2, Duration::from_secs(2));
const QUICK: (usize, Duration) = (1, Duration::from_secs(1));

const CONTENDER: &str = "admit RateLimiter";

/// One run: the time stamps of every call and its return, and the process CPU time over them.
struct Run {
    calls: Vec<Instant>,
    grants: Vec<Instant>,
    sample: Sample,
}

impl Run {
    /// Grants after the first (the burst of the idle limiter).
    fn counted(&self) -> u64 {
        self.grants.len() as u64 - 1
    }

    fn span(&self) -> Duration {
        self.grants[self.grants.len() - 1] - self.grants[0]
    }

    fn achieved_per_s(&self) -> f64 {
        self.counted() as f64 / self.span().as_secs_f64()
    }

    /// The most grants certainly inside one half-open window of one period.
    fn max_window(&self) -> usize {
        most_within_period(&self.calls, &self.grants)
    }

    /// The most grants inside one half-open window of one period by their return stamps.
    fn max_window_returns(&self) -> usize {
        most_within_period(&self.grants, &self.grants)
    }
}

/// The most grants `a..=b` with `ends[b] - starts[a] < PERIOD`; both lists are in time order.
fn most_within_period(starts: &[Instant], ends: &[Instant]) -> usize {
    let mut end = 0;
    let mut most = 0;
    for (start, &at) in starts.iter().enumerate() {
        end = end.max(start);
        while end < ends.len() && ends[end].saturating_duration_since(at) < PERIOD {
            end += 1;
        }
        most = most.max(end - start);
    }
    most
}

/// One caller waiting on a fresh `RateLimiter::per(rate, PERIOD)` for the grants of `span` at
/// that rate (one more: the first, at once).
fn run<F: Flavor>(runtime: &F, rate: u64, span: Duration) -> Run {
    let grants = usize::try_from(rate * span.as_millis() as u64 / 1000).expect("a small count");
    let mut calls = Vec::with_capacity(grants + 1);
    let mut stamps = Vec::with_capacity(grants + 1);
    let meter = Meter::start();
    runtime.block_on(async {
        let limit = RateLimiter::<F::Runtime>::per(rate, PERIOD).expect("a valid rate");
        for _ in 0..=grants {
            calls.push(F::Runtime::now());
            limit.acquire().await;
            stamps.push(F::Runtime::now());
        }
    });
    let mut sample = meter.stop();
    // Wall time on the runtime's clock, from the first grant to the last.
    sample.wall = stamps[stamps.len() - 1] - stamps[0];
    Run {
        calls,
        grants: stamps,
        sample,
    }
}

/// The runs of one runtime at one rate.
struct Series {
    runtime: String,
    rate: u64,
    runs: Vec<Run>,
}

impl Series {
    fn row(&self) -> Row {
        let per_grant = |time: Duration, run: &Run| time.as_nanos() as f64 / run.counted() as f64;
        let mut wall_ns: Vec<f64> = self
            .runs
            .iter()
            .map(|run| per_grant(run.sample.wall, run))
            .collect();
        let mut cpu_ns: Vec<f64> = self
            .runs
            .iter()
            .filter_map(|run| Some(per_grant(run.sample.cpu?, run)))
            .collect();
        if cpu_ns.len() != self.runs.len() {
            cpu_ns.clear();
        }
        wall_ns.sort_by(f64::total_cmp);
        cpu_ns.sort_by(f64::total_cmp);
        let achieved = 1e9 / median(&wall_ns);
        let configured = self.rate as f64 / PERIOD.as_secs_f64();
        let max_window = self.runs.iter().map(Run::max_window).max().unwrap_or(0);
        let max_window_returns = self
            .runs
            .iter()
            .map(Run::max_window_returns)
            .max()
            .unwrap_or(0);
        // A window from a call holds no more than one from its (later) return.
        assert!(
            max_window <= max_window_returns,
            "the window counts are wrong"
        );
        let measured = Measured {
            name: CONTENDER,
            fair: true,
            wall_ns,
            cpu_ns,
            waits: Waits::default(),
        };
        let mut row = Row::new(&workload(self.rate), &self.runtime, measured);
        row.extra = vec![
            ("configured_per_s".to_owned(), configured),
            ("achieved_per_s".to_owned(), achieved),
            (
                "error_pct".to_owned(),
                (achieved / configured - 1.0) * 100.0,
            ),
            ("max_window".to_owned(), max_window as f64),
            ("max_window_returns".to_owned(), max_window_returns as f64),
            ("window_bound".to_owned(), (self.rate + BURST) as f64),
        ];
        row
    }
}

fn workload(rate: u64) -> String {
    format!("{rate}/s burst {BURST}")
}

/// Every rate on `runtime`, one run each, into `all` (created on the first round).
fn round<F: Flavor>(runtime: &F, span: Duration, all: &mut Vec<Series>) {
    let label = runtime.label();
    for rate in RATES {
        let run = run(runtime, rate, span);
        eprintln!(
            "{label} {}: {:.1}/s over {:.3} s, busiest period {} ({} by returns)",
            workload(rate),
            run.achieved_per_s(),
            run.span().as_secs_f64(),
            run.max_window(),
            run.max_window_returns()
        );
        match all
            .iter_mut()
            .find(|s| s.runtime == label && s.rate == rate)
        {
            Some(series) => series.runs.push(run),
            None => all.push(Series {
                runtime: label.clone(),
                rate,
                runs: vec![run],
            }),
        }
    }
}

fn main() {
    runtimes::ensure_thread_counts();
    runtimes::check_thread_counts();
    let args = Args::from_env();
    if !args.selects(GROUP) {
        return;
    }
    let (rounds, span) = if args.quick { QUICK } else { FULL };
    let tokio = Tokio::new();

    let started = Instant::now();
    let mut all = Vec::new();
    for _ in 0..rounds {
        round(&tokio, span, &mut all);
        round(&ASYNC_STD, span, &mut all);
        round(&SMOL, span, &mut all);
    }
    eprintln!(
        "rate: {rounds} round(s) of {} s per rate in {:.1} s",
        span.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );

    let group = Group {
        group: GROUP,
        title: "Rate limiter: one caller always waiting, achieved rate and busiest period",
        unit: "ns/grant",
        command: args.command("rate"),
        rows: all.iter().map(Series::row).collect(),
    };
    for row in &group.rows {
        let extra = |key: &str| row.extra.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
        println!(
            "{} / {}: achieved {:.1}/s ({:+.3} %), busiest period {} ({} by returns; bound {})",
            row.workload,
            row.runtime,
            extra("achieved_per_s").unwrap_or(f64::NAN),
            extra("error_pct").unwrap_or(f64::NAN),
            extra("max_window").unwrap_or(f64::NAN),
            extra("max_window_returns").unwrap_or(f64::NAN),
            extra("window_bound").unwrap_or(f64::NAN),
        );
    }
    let path = group.write().expect("cannot write the bench rows");
    eprintln!("rows written to {}", path.display());
}
