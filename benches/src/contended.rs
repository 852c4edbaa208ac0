//! The contended workload, shared by the criterion `contended` group and the
//! interleaved measurement (`benches/interleaved.rs`).
//!
//! T tasks on a runtime's workers share a number of acquisitions of a
//! P-permit semaphore, each holding its permit across one `yield_now`.
//!
//! Why an interleaved measurement besides criterion's: criterion measures one
//! row after the other, for a second or two each. On a shared virtual machine
//! the speed of cross-core traffic changes over tens of seconds (rows of the
//! same code were seen to move by 2× between runs), so rows measured a minute
//! apart are compared under different conditions. [`interleaved`] runs every
//! semaphore once per round, round after round, and reports each one's median:
//! all of them see the same conditions, and a phase change moves them all.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::runtimes::BenchRuntime;
use crate::{AdmitFifo, AdmitThroughput, BenchSemaphore};

/// (tasks, permits) of the contended workload.
///
/// # Examples
///
/// ```
/// use admit_benches::contended::CONFIGS;
///
/// assert!(CONFIGS.iter().all(|&(tasks, permits)| tasks > permits));
/// ```
pub const CONFIGS: [(usize, usize); 3] = [(16, 1), (16, 4), (256, 8)];

/// How many of `total` operations task `index` of `tasks` performs (the
/// remainder goes to the first tasks, so the sum is exactly `total`).
///
/// # Examples
///
/// ```
/// use admit_benches::contended::share;
///
/// assert_eq!((0..3).map(|i| share(10, 3, i)).collect::<Vec<_>>(), [4, 3, 3]);
/// ```
pub fn share(total: u64, tasks: usize, index: usize) -> u64 {
    let tasks = tasks as u64;
    total / tasks + u64::from((index as u64) < total % tasks)
}

/// The parameter naming a workload in reports: `tokio/T16-P1`.
///
/// # Examples
///
/// ```
/// use admit_benches::contended::parameter;
/// use admit_benches::runtimes::Tokio;
///
/// assert_eq!(parameter::<Tokio>(16, 1), "tokio/T16-P1");
/// ```
pub fn parameter<R: BenchRuntime>(tasks: usize, permits: usize) -> String {
    format!("{}/T{tasks}-P{permits}", R::NAME)
}

/// Runs `acquisitions` acquisitions of a fresh `permits`-permit semaphore,
/// shared by `tasks` tasks on `runtime`, each task holding its permit across
/// the runtime's `yield_now`. Returns the time taken, spawning and joining the
/// tasks included (small next to the hand-offs).
///
/// # Examples
///
/// ```
/// use admit_benches::AdmitFifo;
/// use admit_benches::contended::run;
/// use admit_benches::runtimes::Tokio;
///
/// let elapsed = run::<AdmitFifo, _>(&Tokio::new(), 4, 2, 1_000);
/// assert!(elapsed.as_nanos() > 0);
/// ```
pub fn run<S: BenchSemaphore, R: BenchRuntime>(
    runtime: &R,
    tasks: usize,
    permits: usize,
    acquisitions: u64,
) -> Duration {
    fan_out(
        runtime,
        S::with_permits(permits),
        tasks,
        acquisitions,
        |sem, _, rounds| async move {
            for _ in 0..rounds {
                let permit = sem.acquire().await;
                R::yield_now().await;
                drop(permit);
            }
        },
    )
}

/// Spawns `tasks` tasks on `runtime`, task `index` running
/// `task(sem, index, rounds)` with its [`share`] of `acquisitions` as
/// `rounds`, and returns the time until all have finished (spawning and
/// joining included).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use admit_benches::contended::fan_out;
/// use admit_benches::runtimes::Tokio;
///
/// // 3 tasks share 10 rounds: 4 + 3 + 3.
/// let total = Arc::new(AtomicU64::new(0));
/// let counter = Arc::clone(&total);
/// fan_out(&Tokio::new(), (), 3, 10, move |_, _, rounds| {
///     let counter = Arc::clone(&counter);
///     async move {
///         counter.fetch_add(rounds, Ordering::SeqCst);
///     }
/// });
/// assert_eq!(total.load(Ordering::SeqCst), 10);
/// ```
pub fn fan_out<S, R, F>(
    runtime: &R,
    sem: S,
    tasks: usize,
    acquisitions: u64,
    task: impl Fn(Arc<S>, usize, u64) -> F,
) -> Duration
where
    S: Send + Sync + 'static,
    R: BenchRuntime,
    F: Future<Output = ()> + Send + 'static,
{
    let sem = Arc::new(sem);
    runtime.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|index| {
                let rounds = share(acquisitions, tasks, index);
                runtime.spawn(task(Arc::clone(&sem), index, rounds))
            })
            .collect();
        for handle in handles {
            handle.await;
        }
        start.elapsed()
    })
}

/// One semaphore's result in [`interleaved`].
///
/// # Examples
///
/// ```
/// use admit_benches::contended::interleaved;
/// use admit_benches::runtimes::Tokio;
///
/// let keep = |p: &str, name: &str| p == "tokio/T16-P4" && name == "tokio";
/// let row = &interleaved(&Tokio::new(), 3, 200, keep, || {})[0];
/// assert_eq!((row.parameter.as_str(), row.name), ("tokio/T16-P4", "tokio"));
/// assert!(row.range_ns.0 <= row.median_ns && row.median_ns <= row.range_ns.1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The workload, as [`parameter`] names it.
    pub parameter: String,
    /// The semaphore ([`BenchSemaphore::NAME`]).
    pub name: &'static str,
    /// Median time per acquisition over the rounds, in nanoseconds.
    pub median_ns: f64,
    /// Fastest and slowest round, in nanoseconds per acquisition.
    pub range_ns: (f64, f64),
}

/// [`run`] for one semaphore on runtime `R`.
///
/// # Examples
///
/// ```
/// use admit_benches::AdmitFifo;
/// use admit_benches::contended::{Run, run};
/// use admit_benches::runtimes::Tokio;
///
/// let fifo: Run<Tokio> = run::<AdmitFifo, Tokio>;
/// assert!(fifo(&Tokio::new(), 4, 2, 100).as_nanos() > 0);
/// ```
pub type Run<R> = fn(&R, usize, usize, u64) -> Duration;

/// Every semaphore of the benches, by name, with its [`run`]: what the
/// criterion `contended` group and [`interleaved`] both measure.
///
/// # Examples
///
/// ```
/// use admit_benches::contended::runs;
/// use admit_benches::runtimes::Tokio;
///
/// assert_eq!(runs::<Tokio>()[0].0, "admit-fifo");
/// ```
pub fn runs<R: BenchRuntime>() -> [(&'static str, Run<R>); 6] {
    [
        (AdmitFifo::NAME, run::<AdmitFifo, R>),
        (AdmitThroughput::NAME, run::<AdmitThroughput, R>),
        (
            tokio::sync::Semaphore::NAME,
            run::<tokio::sync::Semaphore, R>,
        ),
        (async_lock::Semaphore::NAME, run::<async_lock::Semaphore, R>),
        (
            futures_intrusive::sync::Semaphore::NAME,
            run::<futures_intrusive::sync::Semaphore, R>,
        ),
        (
            maitake_sync::Semaphore::NAME,
            run::<maitake_sync::Semaphore, R>,
        ),
    ]
}

/// For each of [`CONFIGS`] on `runtime`: `rounds` rounds, each running every
/// semaphore once with `acquisitions` acquisitions (round `r` starting with
/// the `r`-th, so no semaphore always goes first); one [`Row`] per semaphore
/// and configuration, with the median over the rounds.
///
/// `keep(parameter, name)` selects what runs (for profiling one semaphore on
/// one workload, say); pass `|_, _| true` for everything. `before_round` runs
/// before each round (the bench measures the machine there, see
/// [`cross_core_round_trip`]).
///
/// # Panics
///
/// If `rounds` or `acquisitions` is zero.
///
/// # Examples
///
/// ```
/// use admit_benches::contended::interleaved;
/// use admit_benches::runtimes::Tokio;
///
/// let rows = interleaved(&Tokio::new(), 1, 200, |_, _| true, || {});
/// assert_eq!(rows.len(), 3 * 6);
/// assert!(rows.iter().all(|row| row.median_ns > 0.0));
///
/// // `before_round` runs once per round of every workload that runs.
/// let mut rounds = 0;
/// let fifo = interleaved(
///     &Tokio::new(),
///     2,
///     200,
///     |p, name| p == "tokio/T16-P4" && name == "admit-fifo",
///     || rounds += 1,
/// );
/// assert_eq!(fifo.len(), 1);
/// assert_eq!(rounds, 2);
/// ```
pub fn interleaved<R: BenchRuntime>(
    runtime: &R,
    rounds: usize,
    acquisitions: u64,
    keep: impl Fn(&str, &str) -> bool,
    mut before_round: impl FnMut(),
) -> Vec<Row> {
    assert!(rounds > 0 && acquisitions > 0, "nothing to measure");
    let mut rows = Vec::new();
    for (tasks, permits) in CONFIGS {
        let parameter = parameter::<R>(tasks, permits);
        let runs: Vec<_> = runs::<R>()
            .into_iter()
            .filter(|(name, _)| keep(&parameter, name))
            .collect();
        if runs.is_empty() {
            continue;
        }
        let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); runs.len()];
        for round in 0..rounds {
            before_round();
            // Each round starts with the next semaphore: none always runs first, right
            // after a change of workload or a round of another.
            for i in (0..runs.len()).map(|i| (i + round) % runs.len()) {
                let elapsed = (runs[i].1)(runtime, tasks, permits, acquisitions);
                times[i].push(elapsed.as_nanos() as f64 / acquisitions as f64);
            }
        }
        for ((name, _), mut times) in runs.iter().zip(times) {
            times.sort_by(f64::total_cmp);
            rows.push(Row {
                parameter: parameter.clone(),
                name,
                median_ns: times[times.len() / 2],
                range_ns: (times[0], times[times.len() - 1]),
            });
        }
    }
    rows
}

/// The mean time for a cache line to go from one thread to another and back,
/// over `trips` round trips between the calling thread and a new one.
///
/// The contended workloads are bound by such transfers, and on a shared
/// virtual machine their cost changes over time (round trips of 70–120 ns
/// and of 400+ ns were both seen within minutes): the interleaved bench
/// measures it before every round so that a report says which conditions its
/// rows were taken in.
///
/// # Examples
///
/// ```
/// use admit_benches::contended::cross_core_round_trip;
///
/// assert!(cross_core_round_trip(1_000).as_nanos() > 0);
/// ```
pub fn cross_core_round_trip(trips: u64) -> Duration {
    use std::sync::atomic::{AtomicU64, Ordering};

    // Odd values are the caller's serves, even ones the returns.
    let ball = Arc::new(AtomicU64::new(0));
    let other = Arc::clone(&ball);
    let returner = std::thread::spawn(move || {
        for trip in 0..trips {
            while other.load(Ordering::Acquire) != 2 * trip + 1 {
                std::hint::spin_loop();
            }
            other.store(2 * trip + 2, Ordering::Release);
        }
    });
    let start = Instant::now();
    for trip in 0..trips {
        ball.store(2 * trip + 1, Ordering::Release);
        while ball.load(Ordering::Acquire) != 2 * trip + 2 {
            std::hint::spin_loop();
        }
    }
    let elapsed = start.elapsed();
    returner.join().expect("the returning thread panicked");
    let mean = elapsed.as_nanos() / u128::from(trips.max(1));
    Duration::from_nanos(u64::try_from(mean).unwrap_or(u64::MAX))
}
