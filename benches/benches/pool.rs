//! The task-pool benchmark: one completion per wake, at K = 16, 256 and 4096 jobs in flight.
//!
//! Each job waits for its own event; the events are released one at a time, in input order
//! (each job, as it finishes, releases the next one), so every wake makes exactly one job
//! ready, the normal case for I/O-bound jobs. A pool that polls every running job on every
//! wake pays O(K) per completion here; one that polls only the woken job pays O(1).
//!
//! Contenders, on the same jobs, interleaved round by round in one process:
//!
//! * `admit-pool-inline`: `TaskPool::gather` (the jobs polled by the caller's task);
//! * `admit-pool-spawned`: `TaskPool::spawn_gather` (a task per job);
//! * `futures-buffer_unordered`: `stream::iter(jobs).buffer_unordered(K)`, collected and put
//!   back in input order as `gather` does;
//! * `tokio-joinset+semaphore` (tokio only): acquire an owned `tokio::sync::Semaphore` permit,
//!   `JoinSet::spawn` the job holding it, collect with `try_join_next` / `join_next`.
//!
//! Runtimes: tokio's current-thread runtime, and smol (`smol::block_on`; spawned jobs run on
//! smol's global executor, one thread unless `SMOL_THREADS` says otherwise).
//!
//! Wall time and process CPU time (user + system, summed over the process's threads from
//! `/proc/self/task/*/schedstat`; `null` where that file is missing) are reported per job,
//! median over rounds. The rows go to `$ADMIT_BENCH_OUT/pool.json` (default
//! `target/admit-bench/pool.json`) in the format every admit bench writes, and a summary of
//! the two goals (admit's inline pool within 1.1x of `buffer_unordered` at every K; its time
//! per job at K = 4096 within 1.2x of that at K = 16) is printed.
//!
//! Run: `cargo bench -p admit-benches --bench pool` (add `-- --quick` for fewer rounds and
//! jobs; the full run measures for well under a minute).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use admit_benches::Args;
use admit_benches::measure::process_cpu_time;
use futures::StreamExt as _;
use serde_json::json;

/// Jobs in flight.
const LIMITS: [usize; 3] = [16, 256, 4096];

/// (rounds, jobs per run).
const FULL: (usize, usize) = (25, 40_000);
const QUICK: (usize, usize) = (7, 16_384);

const GROUP: &str = "pool";

/// An event one job waits for: opened once, waking that job.
#[derive(Default)]
struct Event {
    open: AtomicBool,
    waiter: Mutex<Option<Waker>>,
}

impl Event {
    fn open(&self) {
        self.open.store(true, Ordering::Release);
        let waiter = self
            .waiter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waiter {
            waker.wake();
        }
    }

    fn wait(&self) -> WaitEvent<'_> {
        WaitEvent(self)
    }
}

struct WaitEvent<'a>(&'a Event);

impl Future for WaitEvent<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let event = self.0;
        if event.open.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut waiter = event.waiter.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *waiter {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        drop(waiter);
        // Checked again after registering, so an `open` in between is not missed.
        if event.open.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// One run's events: job `i` waits for event `i` and, when it finishes, opens event `i + 1`.
struct Chain(Vec<Event>);

impl Chain {
    fn new(jobs: usize) -> Arc<Self> {
        let chain = Arc::new(Self((0..jobs).map(|_| Event::default()).collect()));
        chain.0[0].open();
        chain
    }

    fn job(self: &Arc<Self>, i: usize) -> impl Future<Output = usize> + Send + 'static + use<> {
        let chain = Arc::clone(self);
        async move {
            chain.0[i].wait().await;
            if let Some(next) = chain.0.get(i + 1) {
                next.open();
            }
            i
        }
    }
}

/// Puts indexed outputs back in input order (what `gather` returns), for the peers.
fn in_order(jobs: usize, outputs: impl IntoIterator<Item = (usize, usize)>) -> Vec<usize> {
    let mut ordered = vec![usize::MAX; jobs];
    for (index, output) in outputs {
        ordered[index] = output;
    }
    ordered
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Tokio,
    Smol,
}

impl Runtime {
    fn label(self) -> &'static str {
        match self {
            Self::Tokio => "tokio current-thread",
            Self::Smol => "smol",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Contender {
    PoolInline,
    PoolSpawned,
    BufferUnordered,
    JoinSet,
}

impl Contender {
    const ALL: [Self; 4] = [
        Self::PoolInline,
        Self::PoolSpawned,
        Self::BufferUnordered,
        Self::JoinSet,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::PoolInline => "admit-pool-inline",
            Self::PoolSpawned => "admit-pool-spawned",
            Self::BufferUnordered => "futures-buffer_unordered",
            Self::JoinSet => "tokio-joinset+semaphore",
        }
    }

    /// Whether the contender admits jobs in FIFO order through a fair semaphore.
    fn fair(self) -> bool {
        !matches!(self, Self::BufferUnordered)
    }

    fn runs_on(self, runtime: Runtime) -> bool {
        self != Self::JoinSet || runtime == Runtime::Tokio
    }
}

/// Runs `jobs` jobs, `limit` at a time, with `contender` on `runtime`; returns (wall, cpu).
fn run(
    runtime: Runtime,
    tokio: &tokio::runtime::Runtime,
    contender: Contender,
    limit: usize,
    jobs: usize,
) -> (Duration, Option<Duration>) {
    let chain = Chain::new(jobs);
    let make = (0..jobs).map(|i| chain.job(i));
    let (cpu_before, start) = (process_cpu_time(), Instant::now());
    let outputs = match (runtime, contender) {
        (Runtime::Tokio, Contender::JoinSet) => tokio.block_on(joinset(make, limit, jobs)),
        (Runtime::Tokio, _) => tokio.block_on(common::<admit_tokio::Tokio, _>(
            contender, make, limit, jobs,
        )),
        (Runtime::Smol, _) => {
            smol::block_on(common::<admit_smol::Smol, _>(contender, make, limit, jobs))
        }
    };
    let wall = start.elapsed();
    let cpu = process_cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    assert!(
        outputs.iter().copied().eq(0..jobs),
        "{} returned the outputs out of order",
        contender.name()
    );
    (wall, cpu)
}

/// The tokio-only contender: acquire an owned permit, `JoinSet::spawn` the job holding it,
/// reap finished jobs as it goes.
async fn joinset<F>(make: impl Iterator<Item = F>, limit: usize, jobs: usize) -> Vec<usize>
where
    F: Future<Output = usize> + Send + 'static,
{
    let semaphore = Arc::new(tokio::sync::Semaphore::new(limit));
    let mut set = tokio::task::JoinSet::new();
    let mut outputs = Vec::with_capacity(jobs);
    for (i, job) in make.enumerate() {
        let permit = Arc::clone(&semaphore)
            .acquire_owned()
            .await
            .expect("never closed");
        set.spawn(async move {
            let output = job.await;
            drop(permit);
            (i, output)
        });
        while let Some(done) = set.try_join_next() {
            outputs.push(done.expect("no job panics"));
        }
    }
    while let Some(done) = set.join_next().await {
        outputs.push(done.expect("no job panics"));
    }
    in_order(jobs, outputs)
}

/// The contenders that run the same on every runtime: the pool (inline and spawned) and
/// `buffer_unordered`.
async fn common<R: admit_runtime::Runtime, F>(
    contender: Contender,
    make: impl Iterator<Item = F>,
    limit: usize,
    jobs: usize,
) -> Vec<usize>
where
    F: Future<Output = usize> + Send + 'static,
{
    let pool = || admit_runtime::TaskPool::<R>::new(limit).expect("non-zero");
    match contender {
        Contender::PoolInline => pool().gather(make).await.expect("never closed"),
        Contender::PoolSpawned => pool().spawn_gather(make).await.expect("never closed"),
        Contender::BufferUnordered => buffer_unordered(make, limit, jobs).await,
        Contender::JoinSet => unreachable!("tokio only: `joinset`"),
    }
}

async fn buffer_unordered<F>(
    jobs: impl Iterator<Item = F>,
    limit: usize,
    count: usize,
) -> Vec<usize>
where
    F: Future<Output = usize>,
{
    let outputs: Vec<(usize, usize)> = futures::stream::iter(jobs.enumerate())
        .map(|(i, job)| async move { (i, job.await) })
        .buffer_unordered(limit)
        .collect()
        .await;
    in_order(count, outputs)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

struct Measured {
    runtime: Runtime,
    contender: Contender,
    limit: usize,
    wall_ns: Vec<f64>,
    cpu_ns: Vec<f64>,
}

fn main() {
    let args = Args::from_env();
    if !args.selects(GROUP) {
        return;
    }
    let (rounds, jobs) = if args.quick { QUICK } else { FULL };
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");

    let mut measured: Vec<Measured> = Vec::new();
    for runtime in [Runtime::Tokio, Runtime::Smol] {
        for limit in LIMITS {
            for contender in Contender::ALL.into_iter().filter(|c| c.runs_on(runtime)) {
                measured.push(Measured {
                    runtime,
                    contender,
                    limit,
                    wall_ns: Vec::new(),
                    cpu_ns: Vec::new(),
                });
            }
        }
    }
    // Warm up once (allocator, executor threads), then interleave: in every round each
    // contender of a workload runs once, the order rotating from round to round.
    for m in &measured {
        run(m.runtime, &tokio, m.contender, m.limit, jobs / 4);
    }
    let started = Instant::now();
    for round in 0..rounds {
        for runtime in [Runtime::Tokio, Runtime::Smol] {
            for limit in LIMITS {
                let mut workload: Vec<&mut Measured> = measured
                    .iter_mut()
                    .filter(|m| m.runtime == runtime && m.limit == limit)
                    .collect();
                let len = workload.len();
                workload.rotate_left(round % len);
                for m in workload {
                    let (wall, cpu) = run(runtime, &tokio, m.contender, limit, jobs);
                    m.wall_ns.push(wall.as_nanos() as f64 / jobs as f64);
                    if let Some(cpu) = cpu {
                        m.cpu_ns.push(cpu.as_nanos() as f64 / jobs as f64);
                    }
                }
            }
        }
    }
    eprintln!(
        "pool: {rounds} rounds of {jobs} jobs per run in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let command = args.command("pool");
    let rows: Vec<_> = measured
        .iter_mut()
        .map(|m| {
            let mut wall = m.wall_ns.clone();
            let min = wall.iter().copied().fold(f64::INFINITY, f64::min);
            let max = wall.iter().copied().fold(0.0, f64::max);
            let cpu =
                (m.cpu_ns.len() == rounds).then(|| m.cpu_ns.iter().sum::<f64>() / rounds as f64);
            json!({
                "workload": workload_name(m.limit),
                "runtime": m.runtime.label(),
                "contender": m.contender.name(),
                "fair": m.contender.fair(),
                "rounds": rounds,
                "wall_ns": { "median": median(&mut wall), "min": min, "max": max, "rounds": m.wall_ns },
                "cpu_ns": cpu.map(|mean| json!({ "mean": mean })),
                "extra": { "in_flight": m.limit, "jobs_per_run": jobs },
            })
        })
        .collect();
    let report = json!({
        "group": GROUP,
        "title": "Task pools: one completion per wake, K jobs in flight",
        "unit": "ns/job",
        "command": command,
        "rows": rows,
    });
    let dir = std::env::var_os("ADMIT_BENCH_OUT").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/admit-bench"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("cannot create the bench output directory");
    let path = dir.join(format!("{GROUP}.json"));
    let text = serde_json::to_string_pretty(&report).expect("serialisable");
    std::fs::write(&path, text + "\n").expect("cannot write the bench rows");

    summarise(&measured);
    eprintln!("rows written to {}", path.display());
}

fn workload_name(limit: usize) -> String {
    format!("K={limit} one completion per wake")
}

/// Prints every median and checks the two goals, in words (the numbers are in the rows).
fn summarise(measured: &[Measured]) {
    let median_of = |runtime: Runtime, contender: Contender, limit: usize| {
        measured
            .iter()
            .find(|m| m.runtime == runtime && m.contender == contender && m.limit == limit)
            .map(|m| median(&mut m.wall_ns.clone()))
    };
    for runtime in [Runtime::Tokio, Runtime::Smol] {
        println!("{}: wall ns/job (median; cpu ns/job)", runtime.label());
        for m in measured.iter().filter(|m| m.runtime == runtime) {
            let cpu = if m.cpu_ns.is_empty() {
                "-".to_string()
            } else {
                format!("{:.0}", median(&mut m.cpu_ns.clone()))
            };
            println!(
                "  K={:<5} {:<26} {:>8.0}  ({cpu})",
                m.limit,
                m.contender.name(),
                median(&mut m.wall_ns.clone())
            );
        }
        for limit in LIMITS {
            if let (Some(pool), Some(peer)) = (
                median_of(runtime, Contender::PoolInline, limit),
                median_of(runtime, Contender::BufferUnordered, limit),
            ) {
                let ratio = pool / peer;
                let verdict = if ratio <= 1.1 { "ok" } else { "MISSED" };
                println!(
                    "  goal K={limit}: inline pool / buffer_unordered = {ratio:.2} (<= 1.1: {verdict})"
                );
            }
        }
        if let (Some(small), Some(large)) = (
            median_of(runtime, Contender::PoolInline, 16),
            median_of(runtime, Contender::PoolInline, 4096),
        ) {
            let ratio = large / small;
            let verdict = if ratio <= 1.2 { "ok" } else { "MISSED" };
            println!("  goal: inline pool K=4096 / K=16 = {ratio:.2} (<= 1.2: {verdict})");
        }
    }
}
