//! The one measurement method of the benches: interleaved rounds, wall time
//! and process CPU time.
//!
//! A workload's contenders (admit and its peers) run once per round, round
//! after round, each round starting with the next contender, all in one
//! process: on a shared virtual machine the speed of cross-core traffic
//! drifts over tens of seconds (rows of the same code were seen to move by 2×
//! between runs), so contenders measured a minute apart would be compared
//! under different conditions; interleaved, a phase change moves them all.
//! Statistics are over rounds ([`Measured`]).
//!
//! Every run is timed by a [`Meter`]: wall time, and CPU time of the whole
//! process (user + system, every thread), so a peer that is fast because it
//! puts a worker to sleep shows it in its CPU time per operation.
//!
//! What does not live here: the workloads ([`crate::contended`],
//! [`crate::uncontended`]) and the file format ([`crate::rows`]).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long the process is left alone before CPU time is read, so that
/// workers that just ran have parked (the kernel updates a thread's CPU time
/// when it is descheduled) and the reading is exact to about a microsecond.
const SETTLE: Duration = Duration::from_millis(1);

/// The CPU time all threads of this process have used so far, from the
/// kernel's per-thread scheduler statistics (`/proc/self/task/*/schedstat`,
/// nanoseconds on the CPU); `None` where `/proc` does not say.
///
/// Threads that have exited are not counted: the runtimes of the benches
/// keep their workers for the whole run.
///
/// # Examples
///
/// ```
/// use admit_benches::measure::process_cpu_time;
///
/// if let Some(before) = process_cpu_time() {
///     let mut x = 0u64;
///     for i in 0..1_000_000 {
///         x = std::hint::black_box(x + i);
///     }
///     std::thread::sleep(std::time::Duration::from_millis(1));
///     assert!(process_cpu_time().unwrap() > before);
/// }
/// ```
pub fn process_cpu_time() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(task) = task else { continue };
        // A thread may exit between the listing and the read: skip it.
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// One run of one contender: wall time, process CPU time, and the wait of
/// every acquisition where the workload records them.
///
/// # Examples
///
/// ```
/// use admit_benches::measure::Meter;
///
/// let sample = Meter::start().stop();
/// assert!(sample.waits_ns.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Wall time of the measured part.
    pub wall: Duration,
    /// Process CPU time over the measured part, if the OS says.
    pub cpu: Option<Duration>,
    /// Acquisition waits in nanoseconds (empty unless recorded).
    pub waits_ns: Vec<u64>,
}

/// Times one run: [`start`](Self::start) before the measured part,
/// [`stop`](Self::stop) after it.
///
/// Both ends wait a millisecond (for the workers to park) before reading the
/// CPU time, outside the wall time.
///
/// # Examples
///
/// ```
/// use admit_benches::measure::Meter;
///
/// let meter = Meter::start();
/// std::thread::sleep(std::time::Duration::from_millis(2));
/// let sample = meter.stop();
/// assert!(sample.wall.as_millis() >= 2);
/// if let Some(cpu) = sample.cpu {
///     assert!(cpu < sample.wall, "sleeping uses no CPU");
/// }
/// ```
#[derive(Debug)]
pub struct Meter {
    cpu: Option<Duration>,
    start: Instant,
}

impl Meter {
    /// Lets the process settle, reads its CPU time, starts the clock.
    pub fn start() -> Self {
        std::thread::sleep(SETTLE);
        let cpu = process_cpu_time();
        Self {
            cpu,
            start: Instant::now(),
        }
    }

    /// Stops the clock, lets the process settle, reads its CPU time; the
    /// CPU time of the meter itself ([`meter_cpu_cost`]) is taken off.
    pub fn stop(self) -> Sample {
        let sample = self.stop_raw();
        Sample {
            cpu: sample.cpu.map(|cpu| cpu.saturating_sub(meter_cpu_cost())),
            ..sample
        }
    }

    fn stop_raw(self) -> Sample {
        let wall = self.start.elapsed();
        std::thread::sleep(SETTLE);
        let cpu = match (self.cpu, process_cpu_time()) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before)),
            _ => None,
        };
        Sample {
            wall,
            cpu,
            waits_ns: Vec::new(),
        }
    }
}

/// The CPU time a [`Meter`] measures around nothing: reading the CPU time
/// of every thread (a few files in `/proc`) costs tens of microseconds,
/// which the kernel only books to the reading thread at its next sleep, so
/// it lands inside the measured interval. The least of a few empty
/// measurements, measured once.
///
/// # Examples
///
/// ```
/// assert!(admit_benches::measure::meter_cpu_cost().as_millis() < 10);
/// ```
pub fn meter_cpu_cost() -> Duration {
    static COST: OnceLock<Duration> = OnceLock::new();
    *COST.get_or_init(|| {
        (0..5)
            .filter_map(|_| Meter::start().stop_raw().cpu)
            .min()
            .unwrap_or_default()
    })
}

/// One contender of a workload: its name, whether it is fair, and one run.
///
/// # Examples
///
/// ```
/// use admit_benches::measure::{Contender, Meter};
///
/// let mut contender = Contender::new("nothing", true, || Meter::start().stop());
/// assert_eq!(contender.name, "nothing");
/// let _ = (contender.run)();
/// ```
pub struct Contender<'a> {
    /// The name rows use: admit's start with `admit`, a peer's is its crate.
    pub name: &'static str,
    /// Whether waiters are served in arrival order.
    pub fair: bool,
    /// One run of the workload with this contender.
    pub run: Box<dyn FnMut() -> Sample + 'a>,
}

impl<'a> Contender<'a> {
    /// A contender running `run` once per round.
    pub fn new(name: &'static str, fair: bool, run: impl FnMut() -> Sample + 'a) -> Self {
        Self {
            name,
            fair,
            run: Box::new(run),
        }
    }
}

/// A contender's results over the rounds, per operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// [`Contender::name`].
    pub name: &'static str,
    /// [`Contender::fair`].
    pub fair: bool,
    /// Wall nanoseconds per operation, one per round, in round order: the
    /// report holds each round against the other contenders' same round.
    pub wall_ns: Vec<f64>,
    /// CPU nanoseconds per operation, one per round (empty if the OS does
    /// not say), sorted.
    pub cpu_ns: Vec<f64>,
    /// Per round (sorted separately): the median, 99th percentile and
    /// largest acquisition wait in nanoseconds; empty unless recorded.
    pub waits: Waits,
}

impl Measured {
    /// The wall times, fastest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_benches::measure::{Measured, Waits};
    ///
    /// let measured = Measured {
    ///     name: "admit-fifo",
    ///     fair: true,
    ///     wall_ns: vec![2.0, 3.0, 1.0],
    ///     cpu_ns: vec![4.0, 8.0],
    ///     waits: Waits::default(),
    /// };
    /// assert_eq!(measured.wall_sorted(), [1.0, 2.0, 3.0]);
    /// assert_eq!(measured.cpu_mean(), Some(6.0));
    /// ```
    #[must_use]
    pub fn wall_sorted(&self) -> Vec<f64> {
        let mut wall = self.wall_ns.clone();
        wall.sort_by(f64::total_cmp);
        wall
    }

    /// The mean CPU nanoseconds per operation over the rounds, if measured
    /// (the mean, not the median: `crate::rows` says why).
    #[must_use]
    pub fn cpu_mean(&self) -> Option<f64> {
        let cpu = &self.cpu_ns;
        (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64)
    }
}

/// Acquisition waits over the rounds: each field has one value per round,
/// sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Waits {
    /// The median wait of each round.
    pub p50_ns: Vec<u64>,
    /// The 99th percentile of each round.
    pub p99_ns: Vec<u64>,
    /// The longest wait of each round.
    pub max_ns: Vec<u64>,
}

/// The median of sorted, non-empty `values`.
///
/// # Examples
///
/// ```
/// assert_eq!(admit_benches::measure::median(&[1.0, 2.0, 10.0]), 2.0);
/// ```
pub fn median<T: Copy>(sorted: &[T]) -> T {
    sorted[sorted.len() / 2]
}

/// The value below which `percent` % of sorted, non-empty `values` lie
/// (nearest rank).
///
/// # Examples
///
/// ```
/// use admit_benches::measure::percentile;
///
/// let values: Vec<u64> = (1..=100).collect();
/// assert_eq!((percentile(&values, 50), percentile(&values, 99)), (50, 99));
/// ```
pub fn percentile(sorted: &[u64], percent: usize) -> u64 {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Runs `rounds` rounds of `contenders`, round `r` starting with contender
/// `r` (so none always runs first), each run performing `ops` operations;
/// returns each contender's results in `contenders`' order.
///
/// # Panics
///
/// If `rounds` or `ops` is zero.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use admit_benches::measure::{Contender, Meter, interleave};
///
/// let order = RefCell::new(Vec::new());
/// let run = |name| {
///     let order = &order;
///     move || {
///         order.borrow_mut().push(name);
///         Meter::start().stop()
///     }
/// };
/// let mut contenders = [Contender::new("a", true, run("a")), Contender::new("b", false, run("b"))];
/// let measured = interleave(2, 10, &mut contenders);
/// assert_eq!(*order.borrow(), ["a", "b", "b", "a"]);
/// assert_eq!(measured[1].name, "b");
/// assert_eq!(measured[0].wall_ns.len(), 2);
/// ```
pub fn interleave(rounds: usize, ops: u64, contenders: &mut [Contender<'_>]) -> Vec<Measured> {
    assert!(rounds > 0 && ops > 0, "nothing to measure");
    let mut measured: Vec<Measured> = contenders
        .iter()
        .map(|contender| Measured {
            name: contender.name,
            fair: contender.fair,
            wall_ns: Vec::with_capacity(rounds),
            cpu_ns: Vec::with_capacity(rounds),
            waits: Waits::default(),
        })
        .collect();
    let count = contenders.len();
    for round in 0..rounds {
        for i in (0..count).map(|i| (i + round) % count) {
            let mut sample = (contenders[i].run)();
            let per_op = |time: Duration| time.as_nanos() as f64 / ops as f64;
            let results = &mut measured[i];
            results.wall_ns.push(per_op(sample.wall));
            results.cpu_ns.extend(sample.cpu.map(per_op));
            if !sample.waits_ns.is_empty() {
                sample.waits_ns.sort_unstable();
                let waits = &mut results.waits;
                waits.p50_ns.push(percentile(&sample.waits_ns, 50));
                waits.p99_ns.push(percentile(&sample.waits_ns, 99));
                waits.max_ns.push(percentile(&sample.waits_ns, 100));
            }
        }
    }
    for results in &mut measured {
        results.cpu_ns.sort_by(f64::total_cmp);
        results.waits.p50_ns.sort_unstable();
        results.waits.p99_ns.sort_unstable();
        results.waits.max_ns.sort_unstable();
    }
    measured
}

/// Busy work for the holds with CPU work in them: `iterations` turns of a
/// loop the compiler cannot remove.
///
/// # Examples
///
/// ```
/// admit_benches::measure::spin(1_000);
/// ```
#[inline]
pub fn spin(iterations: u64) {
    for i in 0..iterations {
        std::hint::black_box(i);
    }
}

/// How many [`spin`] iterations take one nanosecond on this machine: the
/// fastest of a few runs of about 10 ms (the fastest is the one least
/// disturbed by other processes).
///
/// # Examples
///
/// ```
/// assert!(admit_benches::measure::spins_per_ns() > 0.0);
/// ```
pub fn spins_per_ns() -> f64 {
    let mut iterations = 1_000u64;
    // Grow the run until it takes about 10 ms.
    loop {
        let start = Instant::now();
        spin(iterations);
        if start.elapsed() >= Duration::from_millis(10) || iterations >= 1 << 40 {
            break;
        }
        iterations *= 2;
    }
    let fastest = (0..5)
        .map(|_| {
            let start = Instant::now();
            spin(iterations);
            start.elapsed()
        })
        .min()
        .expect("five runs");
    iterations as f64 / fastest.as_nanos().max(1) as f64
}
