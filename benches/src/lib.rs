//! The benches of admit and its peers: the workloads over every semaphore
//! they compare (admit under both fairness policies, tokio, async-lock,
//! futures-intrusive in its fair mode, maitake-sync), and the one way they
//! are measured.
//!
//! - The semaphores are seen through
//!   [`admit_conformance::peers::PeerSemaphore`], the trait the conformance
//!   peer guarantees use too: every semaphore runs exactly the same loop, and
//!   each method is a thin `#[inline]` forwarding call returning the
//!   semaphore's own future and permit, so the seam costs nothing measurable.
//!   [`each_semaphore`] lists them in row order.
//! - [`runtimes`]: the runtimes the workloads run on, each an
//!   [`admit_conformance::Flavor`] (tokio multi-thread and current-thread,
//!   several tokio runtimes at once, async-std, smol).
//! - [`contended`] and [`uncontended`]: the workloads, each semaphore of one
//!   of them a [`measure::Contender`].
//! - [`measure`]: interleaved rounds, wall and process CPU time per
//!   operation; [`rows`]: the JSON files the report reads.
//!
//! The `interleaved` bench target runs every semaphore workload; the
//! `runtime` target (criterion) measures the runtime helpers.
//!
//! The [`Floor`] type is not a semaphore: it is the baseline the uncontended
//! numbers are compared with (one compare-exchange to take, one `fetch_add`
//! to give back).
#![forbid(unsafe_code)]

pub mod contended;
pub mod measure;
pub mod rows;
pub mod runtimes;
pub mod uncontended;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub use admit_conformance::peers::{AdmitFifo, AdmitThroughput, PeerSemaphore};

use criterion::Criterion;

/// Warm-up per row, in full runs (`--quick` skips warm-up).
///
/// # Examples
///
/// ```
/// assert!(admit_benches::WARM_UP < admit_benches::MEASUREMENT);
/// ```
pub const WARM_UP: Duration = Duration::from_millis(400);

/// Measurement time per row in full runs ([`QUICK_MEASUREMENT`] with
/// `--quick`).
///
/// # Examples
///
/// ```
/// assert!(admit_benches::QUICK_MEASUREMENT < admit_benches::MEASUREMENT);
/// ```
pub const MEASUREMENT: Duration = Duration::from_millis(1500);

/// The cap on a row with `--quick`, which criterion otherwise stops once its
/// estimate is stable.
///
/// # Examples
///
/// ```
/// assert_eq!(admit_benches::QUICK_MEASUREMENT.as_millis(), 300);
/// ```
pub const QUICK_MEASUREMENT: Duration = Duration::from_millis(300);

/// The criterion configuration of the `runtime` bench target, command-line
/// arguments applied.
///
/// Short rows: the suite must finish in a few minutes on 2 cores, and in
/// about a minute with `--quick`.
///
/// # Examples
///
/// ```no_run
/// let mut criterion = admit_benches::criterion_config();
/// criterion.bench_function("nothing", |b| b.iter(|| ()));
/// criterion.final_summary();
/// ```
pub fn criterion_config() -> Criterion {
    let quick = std::env::args().any(|arg| arg == "--quick");
    Criterion::default()
        .measurement_time(if quick {
            QUICK_MEASUREMENT
        } else {
            MEASUREMENT
        })
        .warm_up_time(WARM_UP)
        .sample_size(10)
        .configure_from_args()
}

/// Every semaphore the benches compare, in row order: admit under both
/// policies, tokio, async-lock, futures-intrusive (fair) and maitake-sync,
/// each passed to `visit` as a type. A [`Visit`] returns `None` for a
/// semaphore it skips (async-lock on a weighted workload).
///
/// # Examples
///
/// ```
/// use admit_benches::{PeerSemaphore, Visit, each_semaphore};
///
/// struct Names;
///
/// impl Visit for Names {
///     type Output = &'static str;
///
///     fn visit<S: PeerSemaphore>(&mut self) -> Option<&'static str> {
///         S::WEIGHTED.then_some(S::NAME)
///     }
/// }
///
/// let weighted = each_semaphore(&mut Names);
/// assert_eq!(weighted[..2], ["admit-fifo", "admit-throughput"]);
/// assert!(!weighted.contains(&"async-lock"));
/// ```
pub fn each_semaphore<V: Visit>(visit: &mut V) -> Vec<V::Output> {
    [
        visit.visit::<AdmitFifo>(),
        visit.visit::<AdmitThroughput>(),
        visit.visit::<tokio::sync::Semaphore>(),
        visit.visit::<async_lock::Semaphore>(),
        visit.visit::<futures_intrusive::sync::Semaphore>(),
        visit.visit::<maitake_sync::Semaphore>(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What [`each_semaphore`] calls with each semaphore type.
///
/// # Examples
///
/// See [`each_semaphore`].
pub trait Visit {
    /// What a visit gives for one semaphore.
    type Output;

    /// The visit of semaphore `S`; `None` to leave it out.
    fn visit<S: PeerSemaphore>(&mut self) -> Option<Self::Output>;
}

/// The command-line arguments every bench target takes: `--quick`, and free
/// arguments (not starting with `-`) selecting groups by name.
///
/// # Examples
///
/// ```
/// let args = admit_benches::Args::parse(["--bench", "--quick", "wait"].map(String::from));
/// assert!(args.quick);
/// assert!(args.selects("wait-times"));
/// assert!(!args.selects("contended"));
/// assert!(admit_benches::Args::parse([]).selects("anything"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// Fewer and shorter rounds.
    pub quick: bool,
    /// The free arguments: a group runs if its name contains one (or there are none).
    pub filters: Vec<String>,
}

impl Args {
    /// This process's arguments ([`parse`](Self::parse) of `std::env::args`).
    pub fn from_env() -> Self {
        Self::parse(std::env::args().skip(1))
    }

    /// `args` as the bench targets read them (`cargo bench` passes `--bench`).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Self {
        let mut parsed = Self::default();
        for arg in args {
            if arg == "--quick" {
                parsed.quick = true;
            } else if !arg.starts_with('-') {
                parsed.filters.push(arg);
            }
        }
        parsed
    }

    /// Whether `group` is selected.
    pub fn selects(&self, group: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| group.contains(f.as_str()))
    }

    /// The command line that reproduces a run of `bench` with these settings, for the rows'
    /// `command`: `cargo bench -p admit-benches --bench pool -- --quick`.
    pub fn command(&self, bench: &str) -> String {
        format!(
            "cargo bench -p admit-benches --bench {bench}{}",
            if self.quick { " -- --quick" } else { "" }
        )
    }
}

/// The uncontended baseline: what a semaphore cannot beat on its fast path,
/// one compare-exchange to take a permit and one `fetch_add` to return it.
///
/// # Examples
///
/// ```
/// let floor = admit_benches::Floor::new();
/// assert_eq!(floor.cycle(), Ok(1));
/// assert_eq!(floor.cycle(), Ok(1), "the permit was given back");
/// ```
#[derive(Debug)]
pub struct Floor {
    permits: AtomicUsize,
}

impl Floor {
    /// A floor counter holding one permit.
    pub const fn new() -> Self {
        Self {
            permits: AtomicUsize::new(1),
        }
    }

    /// One take-and-give-back: a successful `compare_exchange(1, 0)` with
    /// acquire ordering, then `fetch_add(1)` with release ordering, the
    /// orderings a semaphore needs. Returns the exchange result so the
    /// caller can `black_box` it.
    #[inline]
    pub fn cycle(&self) -> Result<usize, usize> {
        let taken = self
            .permits
            .compare_exchange(1, 0, Ordering::Acquire, Ordering::Relaxed);
        self.permits.fetch_add(1, Ordering::Release);
        taken
    }
}

impl Default for Floor {
    fn default() -> Self {
        Self::new()
    }
}
