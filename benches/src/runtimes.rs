//! The runtimes the workloads run on, each an [`admit_conformance::Flavor`]
//! (the trait the conformance suite runs on too), each with the same number
//! of worker threads ([`THREADS`]).
//!
//! - tokio: a multi-thread runtime built with `worker_threads(THREADS)`, or a
//!   current-thread runtime ([`Tokio`]), or several multi-thread runtimes
//!   sharing the work ([`TokioSet`]). Unlike the conformance flavors, which
//!   build a runtime per case, these keep theirs for the whole bench.
//! - async-std: its global executor, sized by `ASYNC_STD_THREAD_COUNT`
//!   ([`ASYNC_STD`], the conformance flavor).
//! - smol: its global executor (the one `admit_smol::Smol::spawn` uses),
//!   sized by `SMOL_THREADS` ([`SMOL`], the conformance flavor).
//!
//! Both global executors read their variable once, when first used, so a
//! bench's `main` calls [`ensure_thread_counts`] before anything else and
//! [`check_thread_counts`] once the runtimes are up. In every case the
//! measuring future runs on the calling thread (`block_on`) and the spawned
//! tasks run on the `THREADS` workers.
//!
//! What does not live here: the semaphores
//! ([`admit_conformance::peers::PeerSemaphore`]) and the workloads (the bench
//! targets).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use admit_conformance::Flavor;
use admit_conformance::adapters::{self, AsyncStdFlavor, SmolFlavor};
use admit_runtime::Runtime;

/// Worker threads of every runtime. The bench machine has 2 cores; the report
/// (`cargo xtask bench`) states this number in its "Setup" section.
///
/// # Examples
///
/// ```
/// assert_eq!(admit_benches::runtimes::THREADS, 2);
/// ```
pub const THREADS: usize = 2;

/// async-std's global executor, [`THREADS`] threads once
/// [`ensure_thread_counts`] ran; rows call it `async-std 2`.
///
/// # Examples
///
/// ```
/// use admit_benches::runtimes::ASYNC_STD;
/// use admit_conformance::Flavor;
///
/// assert_eq!(ASYNC_STD.block_on(async { ASYNC_STD.spawn(async { 1 + 1 }).await }), 2);
/// ```
pub const ASYNC_STD: AsyncStdFlavor = AsyncStdFlavor;

/// smol's global executor on [`THREADS`] threads (its `block_on` refuses to
/// run unless [`ensure_thread_counts`] ran); rows call it `smol 2`.
///
/// # Examples
///
/// ```
/// use admit_benches::runtimes::SMOL;
/// use admit_conformance::Flavor;
///
/// assert_eq!(SMOL.label(), "smol 2");
/// ```
pub const SMOL: SmolFlavor = SmolFlavor { threads: THREADS };

/// Makes sure `ASYNC_STD_THREAD_COUNT` and `SMOL_THREADS` are [`THREADS`] in
/// this process, so that every runtime has the same number of workers: if they
/// are not, runs this same program again with them set and exits with its
/// status ([`adapters::rerun_with`]). Call it first thing in `main`.
///
/// # Examples
///
/// ```no_run
/// use admit_benches::runtimes;
///
/// fn main() {
///     runtimes::ensure_thread_counts();
///     runtimes::check_thread_counts();
///     // ... the benchmarks
/// }
/// ```
pub fn ensure_thread_counts() {
    let threads = THREADS.to_string();
    let environment = [
        ("ASYNC_STD_THREAD_COUNT", threads.as_str()),
        ("SMOL_THREADS", threads.as_str()),
    ];
    if let Some(code) = adapters::rerun_with(&environment) {
        std::process::exit(code);
    }
}

/// Checks, where the OS says (Linux `/proc`), that the async-std and smol
/// executors really run (at least) [`THREADS`] threads each, after one task was spawned
/// on each; panics otherwise. A no-op where `/proc/self/task` is missing.
///
/// The executors start their threads in the background, so a count below
/// [`THREADS`] is looked at again for up to two seconds before it fails.
///
/// # Examples
///
/// ```no_run
/// admit_benches::runtimes::ensure_thread_counts();
/// // Panics if a runtime does not run `THREADS` workers.
/// admit_benches::runtimes::check_thread_counts();
/// ```
pub fn check_thread_counts() {
    ASYNC_STD.block_on(ASYNC_STD.spawn(async {}));
    SMOL.block_on(SMOL.spawn(async {}));
    // Thread names as the kernel keeps them (at most 15 bytes).
    let runtimes = [("async-std", "async-std/runti"), ("smol", "smol-")];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let Some(names) = thread_names() else {
            return;
        };
        let counts = runtimes.map(|(runtime, prefix)| {
            (
                runtime,
                names.iter().filter(|n| n.starts_with(prefix)).count(),
            )
        });
        let starting = counts.iter().any(|&(_, count)| count < THREADS);
        if starting && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            continue;
        }
        for (runtime, count) in counts {
            assert!(
                count >= THREADS,
                "{runtime} runs {count} worker threads, not {THREADS}: was \
                 ensure_thread_counts called first in main?"
            );
            // A thread started without a name by a worker inherits the worker's name,
            // so a count above `THREADS` is not necessarily a worker: say so, go on.
            if count > THREADS {
                eprintln!(
                    "note: {count} threads named like {runtime}'s workers ({THREADS} configured)"
                );
            }
        }
        return;
    }
}

/// The names of this process's threads, or `None` where `/proc` is missing.
fn thread_names() -> Option<Vec<String>> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .map(|name| name.trim().to_owned())
            .collect(),
    )
}

/// A tokio runtime, timers enabled, kept for the whole bench: multi-thread
/// ([`Tokio::new`], [`Tokio::multi_thread`]) or current-thread
/// ([`Tokio::current_thread`], the spawned tasks then run on the thread in
/// `block_on`). Clones share the runtime; it shuts down when the last is
/// dropped.
///
/// # Examples
///
/// ```
/// use admit_benches::runtimes::Tokio;
/// use admit_conformance::Flavor;
///
/// let tokio = Tokio::new();
/// assert_eq!(tokio.block_on(async { tokio.spawn(async { 1 + 1 }).await }), 2);
/// assert_eq!(tokio.label(), "tokio mt-2");
/// assert_eq!(Tokio::current_thread().label(), "tokio current-thread");
/// ```
#[derive(Clone)]
pub struct Tokio {
    runtime: Arc<tokio::runtime::Runtime>,
    name: &'static str,
    label: String,
}

impl Tokio {
    /// A multi-thread runtime with [`THREADS`] workers.
    pub fn new() -> Self {
        Self::multi_thread(THREADS)
    }

    /// A multi-thread runtime with `workers` workers.
    ///
    /// # Panics
    ///
    /// If `workers` is zero or tokio cannot start the runtime.
    pub fn multi_thread(workers: usize) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_time()
            .build()
            .expect("build the tokio runtime");
        Self {
            runtime: Arc::new(runtime),
            name: "tokio-mt",
            label: format!("tokio mt-{workers}"),
        }
    }

    /// A current-thread runtime: everything runs on the thread that calls
    /// `block_on`.
    ///
    /// # Panics
    ///
    /// If tokio cannot build the runtime.
    pub fn current_thread() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("build the tokio runtime");
        Self {
            runtime: Arc::new(runtime),
            name: "tokio-ct",
            label: String::from("tokio current-thread"),
        }
    }
}

impl Default for Tokio {
    fn default() -> Self {
        Self::new()
    }
}

impl Flavor for Tokio {
    type Runtime = admit_tokio::Tokio;

    fn name(&self) -> String {
        self.name.to_owned()
    }

    fn label(&self) -> String {
        self.label.clone()
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Spawns on this runtime, from inside it or not.
    fn spawn<F>(&self, future: F) -> admit_tokio::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let _entered = self.runtime.enter();
        admit_tokio::Tokio::spawn(future)
    }
}

/// Several tokio multi-thread runtimes of [`THREADS`] workers each, seen as
/// one: tasks are spawned on them in turn, so one semaphore is shared by
/// more worker threads than the machine has cores (the oversubscribed
/// workload). `block_on` runs on the first runtime.
///
/// # Examples
///
/// ```
/// use admit_benches::runtimes::TokioSet;
/// use admit_conformance::Flavor;
///
/// let set = TokioSet::new(4);
/// assert_eq!(set.label(), "4x tokio mt-2");
/// set.block_on(async {
///     for _ in 0..8 {
///         set.spawn(async {}).await;
///     }
/// });
/// ```
#[derive(Clone)]
pub struct TokioSet {
    runtimes: Arc<[Tokio]>,
    next: Arc<AtomicUsize>,
}

impl TokioSet {
    /// `count` runtimes of [`THREADS`] workers each.
    ///
    /// # Panics
    ///
    /// If `count` is zero.
    pub fn new(count: usize) -> Self {
        assert!(count > 0, "a set of no runtimes");
        Self {
            runtimes: (0..count).map(|_| Tokio::new()).collect(),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Flavor for TokioSet {
    type Runtime = admit_tokio::Tokio;

    fn name(&self) -> String {
        format!("{}x-tokio-mt", self.runtimes.len())
    }

    fn label(&self) -> String {
        format!("{}x tokio mt-{THREADS}", self.runtimes.len())
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtimes[0].block_on(future)
    }

    /// Spawns on the runtimes in turn.
    fn spawn<F>(&self, future: F) -> admit_tokio::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let next = self.next.fetch_add(1, Ordering::Relaxed) % self.runtimes.len();
        self.runtimes[next].spawn(future)
    }
}
