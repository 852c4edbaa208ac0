//! The three runtimes the workloads run on, behind one small trait, each with
//! the same number of worker threads ([`THREADS`]).
//!
//! - tokio: a multi-thread runtime built with `worker_threads(THREADS)`, or a
//!   current-thread runtime, or several multi-thread runtimes sharing the
//!   work ([`TokioSet`]).
//! - async-std: its global executor, sized by `ASYNC_STD_THREAD_COUNT`.
//! - smol: its global executor (the one `admit_smol::Smol::spawn` uses),
//!   sized by `SMOL_THREADS`.
//!
//! Both global executors read their variable once, when first used, so a
//! bench's `main` calls [`ensure_thread_counts`] before anything else and
//! [`check_thread_counts`] once the runtimes are up. In every case the
//! measuring future runs on the calling thread (`block_on`) and the spawned
//! tasks run on the `THREADS` workers.
//!
//! What does not live here: the semaphores ([`crate::BenchSemaphore`]) and
//! the workloads (the bench targets).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Worker threads of every runtime. The bench machine has 2 cores; the report
/// (`cargo xtask bench`) states this number in its "Setup" section.
///
/// # Examples
///
/// ```
/// assert_eq!(admit_benches::runtimes::THREADS, 2);
/// ```
pub const THREADS: usize = 2;

/// A spawned task's handle, boxed so that every runtime has the same type
/// (one allocation per spawned task, never per measured operation).
///
/// # Examples
///
/// ```
/// use admit_benches::runtimes::{BenchRuntime, Handle, Smol};
///
/// let handle: Handle = Smol.spawn(async {});
/// Smol.block_on(handle);
/// ```
pub type Handle = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A runtime as the workloads see it.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use admit_benches::runtimes::{AsyncStd, BenchRuntime, Smol, Tokio};
///
/// fn spawn_and_join<R: BenchRuntime>(runtime: &R) {
///     let ran = Arc::new(AtomicBool::new(false));
///     let flag = Arc::clone(&ran);
///     runtime.block_on(async {
///         runtime
///             .spawn(async move {
///                 R::yield_now().await;
///                 flag.store(true, Ordering::SeqCst);
///             })
///             .await;
///     });
///     assert!(ran.load(Ordering::SeqCst), "{}", R::NAME);
/// }
///
/// spawn_and_join(&Tokio::new());
/// spawn_and_join(&AsyncStd);
/// spawn_and_join(&Smol);
/// ```
pub trait BenchRuntime: Sync + 'static {
    /// The runtime's name (`tokio`), the parameter of the criterion rows of
    /// the `runtime` bench; the interleaved rows use [`label`](Self::label).
    const NAME: &'static str;

    /// The runtime and its flavour as the rows name it: `tokio mt-2`,
    /// `tokio current-thread`, `smol 2` (the number is the worker threads).
    fn label(&self) -> String;

    /// The admit adapter's marker type for this runtime (`admit_tokio::Tokio`),
    /// for `TaskPool<R>` and `RateLimiter<R>`.
    type Adapter: admit_runtime::Runtime;

    /// Runs `future` to completion on the calling thread.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// Spawns `future` on the runtime's worker threads. The handle resolves
    /// when the task is done and panics if the task panicked.
    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) -> Handle;

    /// The runtime's own `yield_now`.
    fn yield_now() -> impl Future<Output = ()> + Send;
}

/// Makes sure `ASYNC_STD_THREAD_COUNT` and `SMOL_THREADS` are [`THREADS`] in
/// this process, so that every runtime has the same number of workers: if they
/// are not, runs this same program again with them set and exits with its
/// status. (Setting them in-process would need `unsafe` `set_var`; the
/// workspace keeps `unsafe` in the core.) Call it first thing in `main`.
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
    const VARS: [&str; 2] = ["ASYNC_STD_THREAD_COUNT", "SMOL_THREADS"];
    let want = THREADS.to_string();
    if VARS
        .iter()
        .all(|var| std::env::var(var).is_ok_and(|v| v == want))
    {
        return;
    }
    let exe = std::env::current_exe().expect("cannot locate the bench executable");
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .envs(VARS.map(|var| (var, want.as_str())))
        .status()
        .expect("cannot re-run the bench with its thread counts set");
    std::process::exit(status.code().unwrap_or(1));
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
    AsyncStd.block_on(AsyncStd.spawn(async {}));
    Smol.block_on(Smol.spawn(async {}));
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

/// A tokio runtime, timers enabled: multi-thread ([`Tokio::new`],
/// [`Tokio::multi_thread`]) or current-thread ([`Tokio::current_thread`], the
/// spawned tasks then run on the thread in `block_on`).
///
/// # Examples
///
/// ```
/// use admit_benches::runtimes::{BenchRuntime, Tokio};
///
/// assert_eq!(Tokio::new().block_on(async { 1 + 1 }), 2);
/// assert_eq!(Tokio::new().label(), "tokio mt-2");
/// assert_eq!(Tokio::current_thread().label(), "tokio current-thread");
/// ```
pub struct Tokio {
    runtime: tokio::runtime::Runtime,
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
            runtime,
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
            runtime,
            label: String::from("tokio current-thread"),
        }
    }
}

impl Default for Tokio {
    fn default() -> Self {
        Self::new()
    }
}

impl BenchRuntime for Tokio {
    const NAME: &'static str = "tokio";
    type Adapter = admit_tokio::Tokio;

    fn label(&self) -> String {
        self.label.clone()
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) -> Handle {
        let handle = self.runtime.spawn(future);
        Box::pin(async move { handle.await.expect("bench task panicked") })
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
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
/// use admit_benches::runtimes::{BenchRuntime, TokioSet};
///
/// let set = TokioSet::new(4);
/// assert_eq!(set.label(), "4x tokio mt-2");
/// set.block_on(async {
///     for _ in 0..8 {
///         set.spawn(async {}).await;
///     }
/// });
/// ```
pub struct TokioSet {
    runtimes: Vec<Tokio>,
    next: AtomicUsize,
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
            next: AtomicUsize::new(0),
        }
    }
}

impl BenchRuntime for TokioSet {
    const NAME: &'static str = "tokio";
    type Adapter = admit_tokio::Tokio;

    fn label(&self) -> String {
        format!("{}x tokio mt-{THREADS}", self.runtimes.len())
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtimes[0].block_on(future)
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) -> Handle {
        let next = self.next.fetch_add(1, Ordering::Relaxed) % self.runtimes.len();
        self.runtimes[next].spawn(future)
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
}

/// async-std's global executor ([`THREADS`] threads once
/// [`ensure_thread_counts`] ran).
///
/// # Examples
///
/// ```
/// use admit_benches::runtimes::{AsyncStd, BenchRuntime};
///
/// assert_eq!(AsyncStd.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStd;

impl BenchRuntime for AsyncStd {
    const NAME: &'static str = "async-std";
    type Adapter = admit_async_std::AsyncStd;

    fn label(&self) -> String {
        format!("async-std {THREADS}")
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        async_std::task::block_on(future)
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) -> Handle {
        Box::pin(async_std::task::spawn(future))
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        async_std::task::yield_now()
    }
}

/// smol's global executor ([`THREADS`] threads once [`ensure_thread_counts`]
/// ran); `smol::block_on` drives the measuring future.
///
/// # Examples
///
/// ```
/// use admit_benches::runtimes::{BenchRuntime, Smol};
///
/// assert_eq!(Smol.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Smol;

impl BenchRuntime for Smol {
    const NAME: &'static str = "smol";
    type Adapter = admit_smol::Smol;

    fn label(&self) -> String {
        format!("smol {THREADS}")
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        smol::block_on(future)
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) -> Handle {
        Box::pin(smol::spawn(future))
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        smol::future::yield_now()
    }
}
