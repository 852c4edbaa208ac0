// The front page is the crate's README, shared with crates.io (so its links are absolute);
// its example runs as a doctest.
#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use admit_runtime::{BlockOn, Runtime};

/// Returns early with a [`Failure`] built from a format string unless `$condition` holds.
macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        let held: bool = $condition;
        if !held {
            return Err($crate::Failure::new(format!($($message)+)));
        }
    };
}

mod harness;
mod suite;

#[cfg(feature = "adapters")]
pub mod adapters;
#[cfg(feature = "fleet")]
pub mod fleet;
#[cfg(feature = "peers")]
pub mod peers;

pub use suite::{CASES, suite};

/// Why a case failed: a message meant for a person reading the matrix.
///
/// # Examples
///
/// ```
/// use admit_conformance::Failure;
///
/// let failure = Failure::new("permit 3 went to task 4");
/// assert_eq!(failure.to_string(), "permit 3 went to task 4");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(String);

impl Failure {
    /// A failure with this message.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::Failure;
    ///
    /// assert_eq!(Failure::new(format!("{} waiters left", 2)).message(), "2 waiters left");
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// The message.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::Failure;
    ///
    /// assert_eq!(Failure::new("hung").message(), "hung");
    /// ```
    #[must_use]
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// What a case returns.
pub type CaseResult = Result<(), Failure>;

/// The future of one run of a case (not `Send`: it is driven by `block_on` on one thread).
pub type CaseFuture = Pin<Box<dyn Future<Output = CaseResult>>>;

/// One named behaviour of the suite, instantiated for a runtime.
///
/// # Examples
///
/// ```
/// use admit_conformance::{Case, CaseFuture, Options};
///
/// fn always_passes(_: &Options) -> CaseFuture {
///     Box::pin(async { Ok(()) })
/// }
///
/// let case = Case::new("always_passes", always_passes);
/// assert_eq!(case.name(), "always_passes");
/// ```
#[derive(Clone, Copy)]
pub struct Case {
    name: &'static str,
    run: fn(&Options) -> CaseFuture,
}

impl Case {
    /// A case called `name`, whose body `run` builds.
    ///
    /// # Examples
    ///
    /// See [`Case`].
    #[must_use]
    pub const fn new(name: &'static str, run: fn(&Options) -> CaseFuture) -> Self {
        Self { name, run }
    }

    /// The case's name, as printed in the matrix (`semaphore::fifo_order`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "adapters")] {
    /// let cases = admit_conformance::suite::<admit_smol::Smol>();
    /// assert_eq!(cases[0].name(), "runtime::spawn_returns_output");
    /// # }
    /// ```
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Builds the case's future (to be driven by the flavor's `block_on`).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::{Case, Options};
    ///
    /// let case = Case::new("ok", |_| Box::pin(async { Ok(()) }));
    /// assert!(futures_lite::future::block_on(case.start(&Options::default())).is_ok());
    /// ```
    #[must_use]
    pub fn start(&self, options: &Options) -> CaseFuture {
        (self.run)(options)
    }
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case").field("name", &self.name).finish()
    }
}

/// Knobs of a run.
///
/// # Examples
///
/// ```
/// use admit_conformance::Options;
/// use std::time::Duration;
///
/// let options = Options::default().with_case_timeout(Duration::from_secs(30));
/// assert_eq!(options.case_timeout, Duration::from_secs(30));
/// assert!(options.soak_operations > Options::quick().soak_operations);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Operations the soak case performs in total (over all its tasks).
    pub soak_operations: usize,
    /// A case that has not finished after this long fails as hung (its thread is abandoned).
    pub case_timeout: Duration,
}

impl Default for Options {
    /// The full suite: a soak of about a second per runtime in release mode.
    fn default() -> Self {
        Self {
            soak_operations: 100_000,
            case_timeout: Duration::from_secs(20),
        }
    }
}

impl Options {
    /// A shorter soak, for debug builds and `cargo test`.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::Options;
    ///
    /// assert_eq!(Options::quick().soak_operations, 10_000);
    /// ```
    #[must_use]
    pub fn quick() -> Self {
        Self {
            soak_operations: 10_000,
            ..Self::default()
        }
    }

    /// These options with a soak of `operations` operations.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::Options;
    ///
    /// assert_eq!(Options::default().with_soak_operations(1_000_000).soak_operations, 1_000_000);
    /// ```
    #[must_use]
    pub fn with_soak_operations(mut self, operations: usize) -> Self {
        self.soak_operations = operations;
        self
    }

    /// These options with cases failing as hung after `timeout`.
    ///
    /// # Examples
    ///
    /// See [`Options`].
    #[must_use]
    pub fn with_case_timeout(mut self, timeout: Duration) -> Self {
        self.case_timeout = timeout;
        self
    }
}

/// A runtime to run the suite and the benches on: a [`Runtime`], how to block on it, how to
/// spawn on it, and its names (`tokio-mt` in the matrix, `tokio mt-2` in bench rows).
///
/// One runtime type can give several flavors (tokio's current-thread and multi-thread
/// schedulers both spawn with `tokio::spawn`). The runner calls
/// [`block_on`](Flavor::block_on) once per case, on a fresh thread; a bench calls it once per
/// measured run. The workloads spawn through [`spawn`](Flavor::spawn), which a flavor made of
/// several runtimes overrides to spread its tasks over them.
///
/// # Examples
///
/// A flavor that builds its own single-threaded tokio runtime for every case:
///
/// ```
/// use admit_conformance::Flavor;
/// use std::future::Future;
///
/// #[derive(Clone)]
/// struct MyTokio;
///
/// # #[cfg(feature = "adapters")]
/// impl Flavor for MyTokio {
///     type Runtime = admit_tokio::Tokio;
///
///     fn name(&self) -> String {
///         "my-tokio".into()
///     }
///
///     fn block_on<F: Future>(&self, future: F) -> F::Output {
///         tokio::runtime::Builder::new_current_thread()
///             .enable_time()
///             .build()
///             .unwrap()
///             .block_on(future)
///     }
/// }
///
/// # #[cfg(feature = "adapters")] {
/// assert_eq!(MyTokio.label(), "my-tokio");
/// assert_eq!(MyTokio.block_on(async { MyTokio.spawn(async { 6 * 7 }).await }), 42);
/// # }
/// ```
pub trait Flavor: Clone + Send + 'static {
    /// The runtime the cases are instantiated with.
    type Runtime: Runtime;

    /// The name in the matrix and in case names (`tokio-mt/fifo_order`).
    fn name(&self) -> String;

    /// The runtime and its threads as bench rows name them (`tokio mt-2`,
    /// `tokio current-thread`, `smol 2`); the [`name`](Flavor::name) unless overridden.
    fn label(&self) -> String {
        self.name()
    }

    /// Runs `future` to completion on the calling thread, inside the runtime.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// A short description of the threads this flavor runs tasks on, for reports.
    fn threads(&self) -> String {
        String::from("unspecified")
    }

    /// Spawns `future` on this flavor's runtime: [`Runtime::spawn`] unless overridden (a
    /// flavor of several runtimes spreads its tasks over them).
    ///
    /// # Panics
    ///
    /// As [`Runtime::spawn`] (tokio's panics outside a runtime: call it inside
    /// [`block_on`](Flavor::block_on)).
    fn spawn<F>(&self, future: F) -> <Self::Runtime as Runtime>::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Self::Runtime::spawn(future)
    }
}

/// The flavor of a runtime that implements [`BlockOn`]: its own `block_on`, under a name.
///
/// # Examples
///
/// ```
/// use admit_conformance::{BlockOnFlavor, Flavor};
///
/// # #[cfg(feature = "adapters")] {
/// let flavor = BlockOnFlavor::<admit_smol::Smol>::named("smol");
/// assert_eq!(flavor.name(), "smol");
/// assert_eq!(flavor.block_on(async { 1 + 1 }), 2);
/// # }
/// ```
pub struct BlockOnFlavor<R> {
    name: String,
    runtime: PhantomData<fn() -> R>,
}

impl<R> BlockOnFlavor<R> {
    /// The flavor called `name`.
    ///
    /// # Examples
    ///
    /// See [`BlockOnFlavor`].
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            runtime: PhantomData,
        }
    }
}

impl<R> Clone for BlockOnFlavor<R> {
    fn clone(&self) -> Self {
        Self::named(self.name.clone())
    }
}

impl<R> fmt::Debug for BlockOnFlavor<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockOnFlavor")
            .field("name", &self.name)
            .finish()
    }
}

impl<R: BlockOn> Flavor for BlockOnFlavor<R> {
    type Runtime = R;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        R::block_on(future)
    }
}

/// The outcome of one case on one flavor.
///
/// # Examples
///
/// ```
/// use admit_conformance::{CaseReport, Failure};
/// use std::time::Duration;
///
/// let report = CaseReport {
///     flavor: "tokio-mt".into(),
///     case: "semaphore::fifo_order".into(),
///     outcome: Err(Failure::new("out of order")),
///     elapsed: Duration::from_millis(12),
/// };
/// assert!(!report.passed());
/// assert_eq!(
///     report.to_string(),
///     "tokio-mt/semaphore::fifo_order: FAILED in 12 ms: out of order"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    /// The flavor's name.
    pub flavor: String,
    /// The case's name.
    pub case: String,
    /// What happened.
    pub outcome: CaseResult,
    /// Wall time of the case (up to the deadline if it hung).
    pub elapsed: Duration,
}

impl CaseReport {
    /// Whether the case passed.
    ///
    /// # Examples
    ///
    /// See [`CaseReport`].
    #[must_use]
    pub fn passed(&self) -> bool {
        self.outcome.is_ok()
    }

    /// `flavor/case`, as printed.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::CaseReport;
    /// use std::time::Duration;
    ///
    /// let report = CaseReport {
    ///     flavor: "smol-2".into(),
    ///     case: "soak".into(),
    ///     outcome: Ok(()),
    ///     elapsed: Duration::ZERO,
    /// };
    /// assert_eq!(report.id(), "smol-2/soak");
    /// ```
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}/{}", self.flavor, self.case)
    }
}

impl fmt::Display for CaseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.elapsed.as_millis();
        match &self.outcome {
            Ok(()) => write!(f, "{}: ok in {millis} ms", self.id()),
            Err(failure) => write!(f, "{}: FAILED in {millis} ms: {failure}", self.id()),
        }
    }
}

/// Runs one case on `flavor`, on a thread of its own, and reports how it went.
///
/// A panic (in the case or in a task it awaits) is a failure with the panic's message; a
/// case still running after [`Options::case_timeout`] is a failure too, and its thread is
/// abandoned (it may keep running until the process exits).
///
/// # Examples
///
/// ```
/// use admit_conformance::{BlockOnFlavor, Case, Options};
/// use std::time::Duration;
///
/// # #[cfg(feature = "adapters")] {
/// let flavor = BlockOnFlavor::<admit_smol::Smol>::named("smol");
/// let case = Case::new("panics", |_| Box::pin(async { panic!("boom") }));
/// let report = admit_conformance::run_case(&flavor, case, &Options::default());
/// assert_eq!(report.outcome.unwrap_err().message(), "panicked: boom");
///
/// let case = Case::new("hangs", |_| Box::pin(std::future::pending()));
/// let options = Options::default().with_case_timeout(Duration::from_millis(50));
/// let report = admit_conformance::run_case(&flavor, case, &options);
/// assert_eq!(report.outcome.unwrap_err().message(), "hung: no result after 50ms");
/// # }
/// ```
pub fn run_case<F: Flavor>(flavor: &F, case: Case, options: &Options) -> CaseReport {
    let name = flavor.name();
    let started = Instant::now();
    let (sender, receiver) = mpsc::channel();
    let thread_flavor = flavor.clone();
    let thread_options = options.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("{name}/{}", case.name()))
        .spawn(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                thread_flavor.block_on(case.start(&thread_options))
            }));
            // The receiver may have given up on a hung case: nobody to tell then.
            let _ = sender.send(outcome);
        });
    let outcome = match spawned {
        Err(error) => Err(Failure::new(format!(
            "cannot spawn the case's thread: {error}"
        ))),
        Ok(_) => match receiver.recv_timeout(options.case_timeout) {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(payload)) => Err(Failure::new(format!(
                "panicked: {}",
                harness::panic_message(&*payload)
            ))),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Failure::new(format!(
                "hung: no result after {:?}",
                options.case_timeout
            ))),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(Failure::new("the case's thread died without a result"))
            }
        },
    };
    CaseReport {
        flavor: name,
        case: case.name().to_owned(),
        outcome,
        elapsed: started.elapsed(),
    }
}

/// Runs every case of the [`suite`] on `flavor`, one after the other.
///
/// # Examples
///
/// ```
/// use admit_conformance::{BlockOnFlavor, Options};
///
/// # #[cfg(feature = "adapters")] {
/// let flavor = BlockOnFlavor::<admit_smol::Smol>::named("smol");
/// let reports = admit_conformance::run_suite(&flavor, &Options::quick());
/// assert_eq!(reports.len(), admit_conformance::CASES.len());
/// assert!(reports.iter().all(|r| r.passed()), "{reports:#?}");
/// # }
/// ```
pub fn run_suite<F: Flavor>(flavor: &F, options: &Options) -> Vec<CaseReport> {
    run_suite_with(flavor, options, |_| {})
}

/// [`run_suite`], calling `on_report` as each case finishes (for progress output).
///
/// # Examples
///
/// ```
/// use admit_conformance::{BlockOnFlavor, Options};
///
/// # #[cfg(feature = "adapters")] {
/// let flavor = BlockOnFlavor::<admit_async_std::AsyncStd>::named("async-std");
/// let reports = admit_conformance::run_suite_with(&flavor, &Options::quick(), |report| {
///     eprintln!("{report}");
/// });
/// assert!(reports.iter().all(|r| r.passed()));
/// # }
/// ```
pub fn run_suite_with<F: Flavor>(
    flavor: &F,
    options: &Options,
    mut on_report: impl FnMut(&CaseReport),
) -> Vec<CaseReport> {
    suite::<F::Runtime>()
        .into_iter()
        .map(|case| {
            let report = run_case(flavor, case, options);
            on_report(&report);
            report
        })
        .collect()
}

#[cfg(all(test, feature = "adapters"))]
mod tests {
    use super::*;

    /// A panic in a case's body or in a task it awaits, and a hang, are failures of that case
    /// with what happened, and the next case runs: on every built-in runtime (the peers run
    /// through the same [`run_case`]).
    fn panics_and_hangs_are_failures<R: BlockOn>(name: &str) {
        let flavor = BlockOnFlavor::<R>::named(name);
        let options = Options::default().with_case_timeout(Duration::from_millis(500));
        let cases = [
            Case::new("in_body", |_| {
                Box::pin(async { panic!("boom in the case") })
            }),
            Case::new("in_task", |_| {
                Box::pin(async {
                    R::spawn(async {
                        R::sleep(Duration::from_millis(1)).await;
                        panic!("boom in a task");
                    })
                    .await
                })
            }),
            Case::new("formatted", |_| {
                Box::pin(async { panic!("boom {} of {}", 1, 2) })
            }),
            Case::new("hangs", |_| Box::pin(std::future::pending())),
            Case::new("fails", |_| {
                Box::pin(async {
                    ensure!(1 + 1 == 3, "1 + 1 is {}", 1 + 1);
                    Ok(())
                })
            }),
            Case::new("passes", |_| Box::pin(async { Ok(()) })),
        ];
        let outcomes: Vec<_> = cases
            .into_iter()
            .map(|case| run_case(&flavor, case, &options).outcome)
            .collect();
        let failure = |message: &str| Err(Failure::new(message));
        assert_eq!(
            outcomes,
            [
                failure("panicked: boom in the case"),
                failure("panicked: boom in a task"),
                failure("panicked: boom 1 of 2"),
                failure("hung: no result after 500ms"),
                failure("1 + 1 is 2"),
                Ok(()),
            ],
            "on {name}"
        );
    }

    #[test]
    fn panics_and_hangs_are_failures_on_tokio() {
        panics_and_hangs_are_failures::<admit_tokio::Tokio>("tokio");
    }

    #[test]
    fn panics_and_hangs_are_failures_on_async_std() {
        panics_and_hangs_are_failures::<admit_async_std::AsyncStd>("async-std");
    }

    #[test]
    fn panics_and_hangs_are_failures_on_smol() {
        panics_and_hangs_are_failures::<admit_smol::Smol>("smol");
    }
}
