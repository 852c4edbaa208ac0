//! The built-in flavors: the workspace's adapters on the runtimes and thread counts the
//! matrix covers (`tokio-ct`, `tokio-mt`, `async-std`, `smol-1`, `smol-2`).
//!
//! tokio runtimes are built here, one per case, with the scheduler and worker count of the
//! flavor; `admit_tokio::Tokio` spawns on whichever runtime is current. async-std and smol
//! spawn on global executors whose thread counts are read from the environment once per
//! process (`ASYNC_STD_THREAD_COUNT`, `SMOL_THREADS`): the `admit-conformance` binary runs
//! each flavor in a child process with the variable set (see [`Adapter::environment`]);
//! [`SmolFlavor`] refuses to run in a process configured for another thread count, and
//! [`rerun_with`] is how a program (the matrix test, a bench) gets the variables set.

use std::future::Future;

use crate::{CaseReport, Flavor, Options, run_suite_with};

/// tokio's current-thread scheduler: the case and its tasks all run on one thread.
///
/// # Examples
///
/// ```
/// use admit_conformance::Flavor;
/// use admit_conformance::adapters::TokioCurrentThread;
///
/// assert_eq!(TokioCurrentThread.name(), "tokio-ct");
/// assert_eq!(TokioCurrentThread.label(), "tokio current-thread");
/// assert_eq!(TokioCurrentThread.block_on(async { 2 }), 2);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioCurrentThread;

impl Flavor for TokioCurrentThread {
    type Runtime = admit_tokio::Tokio;

    fn name(&self) -> String {
        String::from("tokio-ct")
    }

    fn label(&self) -> String {
        String::from("tokio current-thread")
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("cannot build a tokio runtime")
            .block_on(future)
    }

    fn threads(&self) -> String {
        String::from("1 (current-thread scheduler)")
    }
}

/// tokio's multi-thread scheduler with a fixed number of workers (2 in the matrix).
///
/// # Examples
///
/// ```
/// use admit_conformance::Flavor;
/// use admit_conformance::adapters::TokioMultiThread;
///
/// let flavor = TokioMultiThread { workers: 2 };
/// assert_eq!(flavor.name(), "tokio-mt");
/// assert_eq!(flavor.label(), "tokio mt-2");
/// assert_eq!(flavor.block_on(async { 2 }), 2);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TokioMultiThread {
    /// Worker threads of the runtime.
    pub workers: usize,
}

impl Default for TokioMultiThread {
    /// Two workers.
    fn default() -> Self {
        Self { workers: 2 }
    }
}

impl Flavor for TokioMultiThread {
    type Runtime = admit_tokio::Tokio;

    fn name(&self) -> String {
        String::from("tokio-mt")
    }

    fn label(&self) -> String {
        format!("tokio mt-{}", self.workers)
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.workers)
            // Time for the cases; I/O for the fleet semaphore's Redis connections.
            .enable_all()
            .build()
            .expect("cannot build a tokio runtime")
            .block_on(future)
    }

    fn threads(&self) -> String {
        format!("{} workers (multi-thread scheduler)", self.workers)
    }
}

/// async-std's global executor (`ASYNC_STD_THREAD_COUNT` threads, one per CPU by default).
///
/// # Examples
///
/// ```
/// use admit_conformance::Flavor;
/// use admit_conformance::adapters::AsyncStdFlavor;
///
/// assert_eq!(AsyncStdFlavor.name(), "async-std");
/// assert_eq!(AsyncStdFlavor.block_on(async { 2 }), 2);
/// # if std::env::var_os("ASYNC_STD_THREAD_COUNT").is_none() {
/// assert_eq!(AsyncStdFlavor.label(), "async-std");
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStdFlavor;

impl AsyncStdFlavor {
    /// The thread count `ASYNC_STD_THREAD_COUNT` gives async-std's global executor in this
    /// process, if it is set (async-std runs one thread per CPU otherwise).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::adapters::AsyncStdFlavor;
    ///
    /// # if std::env::var_os("ASYNC_STD_THREAD_COUNT").is_none() {
    /// assert_eq!(AsyncStdFlavor::configured_threads(), None);
    /// # }
    /// ```
    #[must_use]
    pub fn configured_threads() -> Option<usize> {
        configured("ASYNC_STD_THREAD_COUNT")
    }
}

/// The number in the environment variable `var`, if it holds one.
fn configured(var: &str) -> Option<usize> {
    std::env::var(var).ok()?.parse().ok()
}

impl Flavor for AsyncStdFlavor {
    type Runtime = admit_async_std::AsyncStd;

    fn name(&self) -> String {
        String::from("async-std")
    }

    /// `async-std N` with `ASYNC_STD_THREAD_COUNT=N`, `async-std` without it.
    fn label(&self) -> String {
        match Self::configured_threads() {
            Some(count) => format!("async-std {count}"),
            None => self.name(),
        }
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        async_std::task::block_on(future)
    }

    fn threads(&self) -> String {
        match std::env::var("ASYNC_STD_THREAD_COUNT") {
            Ok(count) => format!("{count} (ASYNC_STD_THREAD_COUNT)"),
            Err(_) => String::from("one per CPU (ASYNC_STD_THREAD_COUNT unset)"),
        }
    }
}

/// smol's global executor on `threads` threads, plus the thread blocking on the case.
///
/// smol reads `SMOL_THREADS` (default 1) once, when the process first spawns a task, so
/// [`block_on`](Flavor::block_on) panics unless `SMOL_THREADS` says `threads`: the case
/// would silently run on another thread count otherwise.
///
/// # Examples
///
/// ```
/// use admit_conformance::Flavor;
/// use admit_conformance::adapters::SmolFlavor;
///
/// let flavor = SmolFlavor { threads: 1 };
/// assert_eq!(flavor.name(), "smol-1");
/// assert_eq!(flavor.label(), "smol 1");
/// # if std::env::var_os("SMOL_THREADS").is_none() {
/// assert_eq!(flavor.block_on(async { 2 }), 2);
/// // This process runs smol on 1 thread: a 2-thread flavor refuses to run.
/// let wrong = SmolFlavor { threads: 2 };
/// assert!(std::panic::catch_unwind(|| wrong.block_on(async {})).is_err());
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SmolFlavor {
    /// The executor threads, as set by `SMOL_THREADS`.
    pub threads: usize,
}

impl SmolFlavor {
    /// The thread count `SMOL_THREADS` gives smol's global executor in this process.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::adapters::SmolFlavor;
    ///
    /// # if std::env::var_os("SMOL_THREADS").is_none() {
    /// assert_eq!(SmolFlavor::configured_threads(), 1);
    /// # }
    /// ```
    #[must_use]
    pub fn configured_threads() -> usize {
        configured("SMOL_THREADS").unwrap_or(1)
    }
}

impl Flavor for SmolFlavor {
    type Runtime = admit_smol::Smol;

    fn name(&self) -> String {
        format!("smol-{}", self.threads)
    }

    fn label(&self) -> String {
        format!("smol {}", self.threads)
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        let configured = Self::configured_threads();
        assert!(
            configured == self.threads,
            "{} needs SMOL_THREADS={}, but this process runs smol on {configured} thread(s)",
            self.name(),
            self.threads
        );
        smol::block_on(future)
    }

    fn threads(&self) -> String {
        format!("{} executor thread(s) (SMOL_THREADS)", self.threads)
    }
}

/// One column of the matrix: a built-in flavor and the process environment it needs.
///
/// # Examples
///
/// ```
/// use admit_conformance::adapters::Adapter;
///
/// let names: Vec<_> = Adapter::ALL.iter().map(|a| a.name()).collect();
/// assert_eq!(names, ["tokio-ct", "tokio-mt", "async-std", "smol-1", "smol-2"]);
/// assert_eq!(Adapter::SMOL_2.environment(), [("SMOL_THREADS", "2")]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adapter(Which);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    TokioCt,
    TokioMt,
    AsyncStd,
    Smol1,
    Smol2,
}

impl Adapter {
    /// `tokio-ct`: tokio, current-thread scheduler.
    pub const TOKIO_CT: Self = Self(Which::TokioCt);
    /// `tokio-mt`: tokio, multi-thread scheduler with 2 workers.
    pub const TOKIO_MT: Self = Self(Which::TokioMt);
    /// `async-std`: async-std's global executor on 2 threads.
    pub const ASYNC_STD: Self = Self(Which::AsyncStd);
    /// `smol-1`: smol's global executor on 1 thread.
    pub const SMOL_1: Self = Self(Which::Smol1);
    /// `smol-2`: smol's global executor on 2 threads.
    pub const SMOL_2: Self = Self(Which::Smol2);
    /// Every built-in adapter, in matrix order.
    pub const ALL: [Self; 5] = [
        Self::TOKIO_CT,
        Self::TOKIO_MT,
        Self::ASYNC_STD,
        Self::SMOL_1,
        Self::SMOL_2,
    ];

    /// The column name.
    ///
    /// # Examples
    ///
    /// See [`Adapter`].
    #[must_use]
    pub fn name(self) -> &'static str {
        match self.0 {
            Which::TokioCt => "tokio-ct",
            Which::TokioMt => "tokio-mt",
            Which::AsyncStd => "async-std",
            Which::Smol1 => "smol-1",
            Which::Smol2 => "smol-2",
        }
    }

    /// The adapter called `name`.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::adapters::Adapter;
    ///
    /// assert_eq!(Adapter::named("smol-2"), Some(Adapter::SMOL_2));
    /// assert_eq!(Adapter::named("glommio"), None);
    /// ```
    #[must_use]
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|adapter| adapter.name() == name)
    }

    /// The environment variables a process running this adapter needs, set before the
    /// runtime first starts.
    ///
    /// # Examples
    ///
    /// See [`Adapter`].
    #[must_use]
    pub fn environment(self) -> Vec<(&'static str, &'static str)> {
        match self.0 {
            Which::TokioCt | Which::TokioMt => Vec::new(),
            Which::AsyncStd => vec![("ASYNC_STD_THREAD_COUNT", "2")],
            Which::Smol1 => vec![("SMOL_THREADS", "1")],
            Which::Smol2 => vec![("SMOL_THREADS", "2")],
        }
    }

    /// The threads this adapter's tasks run on, for reports.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::adapters::Adapter;
    ///
    /// assert_eq!(Adapter::TOKIO_MT.threads(), "2 workers (multi-thread scheduler)");
    /// ```
    #[must_use]
    pub fn threads(self) -> String {
        match self.0 {
            Which::TokioCt => TokioCurrentThread.threads(),
            Which::TokioMt => TokioMultiThread::default().threads(),
            Which::AsyncStd => String::from("2 (ASYNC_STD_THREAD_COUNT=2)"),
            Which::Smol1 => SmolFlavor { threads: 1 }.threads(),
            Which::Smol2 => SmolFlavor { threads: 2 }.threads(),
        }
    }

    /// Runs the suite on this adapter in the current process, calling `on_report` as each
    /// case finishes. The process must have [`environment`](Self::environment) set.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::Options;
    /// use admit_conformance::adapters::Adapter;
    ///
    /// let reports = Adapter::TOKIO_CT.run(&Options::quick(), |_| {});
    /// assert!(reports.iter().all(|r| r.passed()), "{reports:#?}");
    /// ```
    pub fn run(self, options: &Options, on_report: impl FnMut(&CaseReport)) -> Vec<CaseReport> {
        match self.0 {
            Which::TokioCt => run_suite_with(&TokioCurrentThread, options, on_report),
            Which::TokioMt => run_suite_with(&TokioMultiThread::default(), options, on_report),
            Which::AsyncStd => run_suite_with(&AsyncStdFlavor, options, on_report),
            Which::Smol1 => run_suite_with(&SmolFlavor { threads: 1 }, options, on_report),
            Which::Smol2 => run_suite_with(&SmolFlavor { threads: 2 }, options, on_report),
        }
    }
}

/// Makes sure this process runs with every variable of `environment` set as given: if one is
/// missing or differs, runs this same program again (same arguments) with them set, waits
/// for it, and returns its exit code; `None` when the environment is right already.
///
/// For the runtimes that read their thread count once per process (`SMOL_THREADS`,
/// `ASYNC_STD_THREAD_COUNT`): setting a variable in-process needs `unsafe` `set_var`, and
/// would come too late once the runtime started. Call it first thing in `main`.
///
/// # Panics
///
/// If this program cannot be found or started again.
///
/// # Examples
///
/// ```no_run
/// use admit_conformance::adapters::{Adapter, rerun_with};
///
/// fn main() {
///     if let Some(code) = rerun_with(&Adapter::SMOL_2.environment()) {
///         std::process::exit(code);
///     }
///     // SMOL_THREADS=2 from here on.
/// }
/// ```
#[must_use = "the caller exits with the child's code when it ran"]
pub fn rerun_with(environment: &[(&str, &str)]) -> Option<i32> {
    let matches = environment
        .iter()
        .all(|(var, value)| std::env::var(var).is_ok_and(|set| set == *value));
    if matches {
        return None;
    }
    let program = std::env::current_exe().expect("cannot locate this program to run it again");
    let status = std::process::Command::new(program)
        .args(std::env::args_os().skip(1))
        .envs(environment.iter().copied())
        .status()
        .expect("cannot run this program again with its environment set");
    Some(status.code().unwrap_or(1))
}
