//! Every semaphore workload, measured interleaved: for each workload, round
//! after round, every contender (admit under both policies and the peers)
//! runs once per round, in rotating order, in this one process; each row
//! gives the median, fastest and slowest round in wall time per operation
//! and the median process CPU time per operation (`admit_benches::measure`).
//!
//! Groups, each written as `<group>.json` (`admit_benches::rows`) to
//! `$ADMIT_BENCH_OUT` or `target/admit-bench/`:
//!
//! - `uncontended`: `acquire().await` + drop and `try_acquire()` + drop on
//!   one thread, nobody waiting; `extra.floor_ns` (wall) and `floor_cpu_ns`
//!   are one compare-exchange plus one `fetch_add`, measured in the same
//!   rounds.
//! - `waiter-scaling`: the hand-off to the head of a queue of 10 and 10,000
//!   waiters, polled by hand.
//! - `contended`: T tasks sharing P permits, each holding its permit across
//!   the runtime's `yield_now` (T16-P1, T16-P4, T256-P8) on tokio (2
//!   workers), async-std and smol (2 threads each), and on a current-thread
//!   tokio runtime; across CPU work of about 1 µs and 10 µs on tokio
//!   (`extra.limit_ns` is the hold divided by the permits that can run at
//!   once, what a semaphore costing nothing would reach); weighted requests
//!   of 1 to 4 permits.
//! - `oversubscribed`: 4 tokio runtimes of 2 workers each (8 workers on the
//!   machine's cores) sharing one semaphore.
//! - `wait-times`: the wall time from calling `acquire` to holding the
//!   permit, per acquisition, under contention: `extra.p50_wait_ns` and
//!   `p99_wait_ns` are medians over rounds, `max_wait_ns` the longest wait
//!   of all rounds.
//!
//! Run: `cargo bench -p admit-benches --bench interleaved` (about 8 minutes
//! on a busy 2-core machine), `-- --quick` for fewer and shorter rounds (about
//! a minute).
//! Other arguments not starting with `-` select groups by name
//! (`-- --quick wait-times`).

use std::time::Instant;

use admit_benches::Args;
use admit_benches::contended::{self, Hold};
use admit_benches::measure::{self, Measured, interleave, median};
use admit_benches::rows::{Group, Row};
use admit_benches::runtimes::{self, ASYNC_STD, SMOL, THREADS, Tokio, TokioSet};
use admit_benches::uncontended::{self, FLOOR};
use admit_conformance::Flavor;

/// Rounds per workload (odd: the median is one of them), and the operations
/// per run of the yielding contended workloads (the others scale from it).
#[derive(Clone, Copy)]
struct Plan {
    rounds: usize,
    ops: u64,
}

const FULL: Plan = Plan {
    rounds: 21,
    ops: 120_000,
};
const QUICK: Plan = Plan {
    rounds: 9,
    ops: 50_000,
};

/// Operations per run of the single-thread workloads, as multiples of
/// [`Plan::ops`]: (uncontended, waiter hand-off); they take about 50 ns an
/// operation where the contended ones take hundreds.
const UNCONTENDED_SCALE: (u64, u64) = (4, 2);

/// The tasks and permits of the yielding contended workloads.
const CONFIGS: [(usize, usize); 3] = [(16, 1), (16, 4), (256, 8)];

/// The CPU work inside the hold, nanoseconds.
const SPINS: [u64; 2] = [1_000, 10_000];

/// Runtimes in the oversubscribed workload.
const OVERSUBSCRIBED_RUNTIMES: usize = 4;

fn main() {
    runtimes::ensure_thread_counts();
    runtimes::check_thread_counts();
    let args = Args::from_env();
    let selected = |group: &str| args.selects(group);
    let plan = if args.quick { QUICK } else { FULL };
    let mut bench = Bench {
        plan,
        command: args.command("interleaved"),
        start: Instant::now(),
    };
    println!(
        "interleaved: {} rounds per workload, every contender once per round",
        plan.rounds
    );

    if selected("uncontended") {
        let mut rows = Vec::new();
        for workload in [
            uncontended::Workload::Acquire,
            uncontended::Workload::TryAcquire,
        ] {
            let mut measured =
                bench.single_thread("uncontended", workload, plan.ops * UNCONTENDED_SCALE.0);
            let floor = measured
                .iter()
                .position(|m| m.name == FLOOR)
                .expect("floor");
            let floor = measured.remove(floor);
            for m in measured {
                let mut row = Row::new(&workload.label(), workload.runtime(), m);
                row.extra
                    .push(("floor_ns".to_owned(), median(&floor.wall_sorted())));
                if let Some(mean) = floor.cpu_mean() {
                    row.extra.push(("floor_cpu_ns".to_owned(), mean));
                }
                rows.push(row);
            }
        }
        bench.write(
            "uncontended",
            "Uncontended acquire and release, one thread",
            rows,
        );
    }

    if selected("waiter-scaling") {
        let mut rows = Vec::new();
        for waiters in [10, 10_000] {
            let workload = uncontended::Workload::Handoff { waiters };
            let measured =
                bench.single_thread("waiter-scaling", workload, plan.ops * UNCONTENDED_SCALE.1);
            rows.extend(
                measured
                    .into_iter()
                    .map(|m| Row::new(&workload.label(), workload.runtime(), m)),
            );
        }
        bench.write(
            "waiter-scaling",
            "Hand-off to the head of a queue of waiters",
            rows,
        );
    }

    if selected("contended") {
        let mut rows = Vec::new();
        let tokio = Tokio::new();
        let yielding =
            CONFIGS.map(|(tasks, permits)| contended::Workload::new(tasks, permits, Hold::Yield));
        rows.extend(bench.contended("contended", &tokio, &yielding, plan.ops));
        let spins_per_ns = measure::spins_per_ns();
        println!("  calibrated spin: {spins_per_ns:.2} iterations per ns");
        for nanos in SPINS {
            let workload = contended::Workload::new(16, 4, Hold::spin(nanos, spins_per_ns));
            let ops = (plan.ops * 500 / nanos).max(100);
            let limit = nanos as f64 / workload.permits.min(THREADS) as f64;
            for mut row in bench.contended("contended", &tokio, &[workload], ops) {
                row.extra.push(("hold_ns".to_owned(), nanos as f64));
                row.extra.push(("limit_ns".to_owned(), limit));
                rows.push(row);
            }
        }
        let weighted = contended::Workload::new(16, 8, Hold::Yield).weighted();
        rows.extend(bench.contended("contended", &tokio, &[weighted], plan.ops));
        drop(tokio);
        let current = Tokio::current_thread();
        rows.extend(bench.contended("contended", &current, &yielding[..2], plan.ops));
        drop(current);
        rows.extend(bench.contended("contended", &ASYNC_STD, &yielding, plan.ops));
        rows.extend(bench.contended("contended", &SMOL, &yielding, plan.ops));
        bench.write(
            "contended",
            "Contended acquire/release, tasks holding a permit",
            rows,
        );
    }

    if selected("oversubscribed") {
        let set = TokioSet::new(OVERSUBSCRIBED_RUNTIMES);
        let mut rows = Vec::new();
        let workloads = [4, 8].map(|permits| contended::Workload::new(64, permits, Hold::Yield));
        rows.extend(bench.contended("oversubscribed", &set, &workloads, plan.ops));
        bench.write(
            "oversubscribed",
            "Contended, more workers than cores: 4 tokio runtimes sharing one semaphore",
            rows,
        );
    }

    if selected("wait-times") {
        let tokio = Tokio::new();
        let workload = contended::Workload::new(16, 4, Hold::Yield).recording_waits();
        let rows = bench.contended("wait-times", &tokio, &[workload], plan.ops);
        bench.write(
            "wait-times",
            "Acquisition wait under contention (p50, p99, max in extra)",
            rows,
        );
    }
    println!(
        "interleaved: done in {:.0} s",
        bench.start.elapsed().as_secs_f64()
    );
}

/// The run's settings, and what it prints and writes.
struct Bench {
    plan: Plan,
    command: String,
    start: Instant,
}

impl Bench {
    /// Interleaves `contenders` and prints their results.
    fn measure(
        &mut self,
        group: &str,
        workload: &str,
        runtime: &str,
        ops: u64,
        contenders: &mut [measure::Contender<'_>],
    ) -> Vec<Measured> {
        println!(
            "[{:>4.0} s] {group}: {workload} on {runtime} ({ops} ops per run)",
            self.start.elapsed().as_secs_f64()
        );
        let measured = interleave(self.plan.rounds, ops, contenders);
        for m in &measured {
            let wall = m.wall_sorted();
            let cpu = m
                .cpu_mean()
                .map_or("-".to_owned(), |mean| format!("{mean:.1}"));
            let mut line = format!(
                "    {:<18} wall {:>9.1} ns/op ({:.1} .. {:.1})  cpu {cpu:>9} ns/op",
                m.name,
                median(&wall),
                wall[0],
                wall[wall.len() - 1]
            );
            if !m.waits.max_ns.is_empty() {
                line += &format!(
                    "  wait p50 {} p99 {} max {} ns",
                    median(&m.waits.p50_ns),
                    median(&m.waits.p99_ns),
                    m.waits.max_ns[m.waits.max_ns.len() - 1]
                );
            }
            println!("{line}");
        }
        measured
    }

    /// Measures the single-thread `workload` with every semaphore (and the floor, where it
    /// has one), `ops` operations per run.
    fn single_thread(
        &mut self,
        group: &str,
        workload: uncontended::Workload,
        ops: u64,
    ) -> Vec<Measured> {
        let mut contenders = uncontended::contenders(workload, ops);
        self.measure(
            group,
            &workload.label(),
            workload.runtime(),
            ops,
            &mut contenders,
        )
    }

    /// Measures each of `workloads` on `runtime` with every semaphore, as rows.
    fn contended<F: Flavor>(
        &mut self,
        group: &str,
        runtime: &F,
        workloads: &[contended::Workload],
        acquisitions: u64,
    ) -> Vec<Row> {
        let runtime_label = runtime.label();
        let mut rows = Vec::new();
        for workload in workloads {
            let label = workload.label();
            let mut contenders = contended::contenders(runtime, workload, acquisitions);
            let measured =
                self.measure(group, &label, &runtime_label, acquisitions, &mut contenders);
            rows.extend(
                measured
                    .into_iter()
                    .map(|m| Row::new(&label, &runtime_label, m)),
            );
        }
        rows
    }

    /// Writes one group's rows and says where.
    fn write(&mut self, group: &'static str, title: &'static str, rows: Vec<Row>) {
        let group = Group {
            group,
            title,
            unit: "ns/op",
            command: self.command.clone(),
            rows,
        };
        match group.write() {
            Ok(path) => println!("  wrote {}", path.display()),
            Err(e) => {
                eprintln!("writing the {} rows: {e}", group.group);
                std::process::exit(1);
            }
        }
    }
}
