//! The benches of admit and its peers: one seam over every semaphore they
//! compare (admit under both fairness policies, tokio, async-lock,
//! futures-intrusive in its fair mode, maitake-sync), the workloads, and the
//! one way they are measured.
//!
//! - [`BenchSemaphore`] (and [`WeightedSemaphore`] where a weighted acquire
//!   exists): every semaphore runs exactly the same loop. Each method is a
//!   thin `#[inline]` forwarding call, so the seam costs nothing measurable.
//! - [`runtimes`]: the runtimes the workloads run on (tokio multi-thread and
//!   current-thread, several tokio runtimes at once, async-std, smol).
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

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

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

/// A semaphore as the benches see it: acquire one permit (or try to), and
/// give it back by dropping the permit.
///
/// `Send + Sync + 'static` so that an `Arc<Self>` can be moved into tasks of
/// a multi-thread runtime.
///
/// # Examples
///
/// ```
/// use admit_benches::{AdmitFifo, BenchSemaphore};
///
/// fn one_at_a_time<S: BenchSemaphore>() {
///     let sem = S::with_permits(1);
///     let permit = futures_lite::future::block_on(sem.acquire());
///     assert!(sem.try_acquire().is_none(), "{}: the only permit is out", S::NAME);
///     drop(permit);
///     assert!(sem.try_acquire().is_some());
/// }
///
/// one_at_a_time::<AdmitFifo>();
/// one_at_a_time::<tokio::sync::Semaphore>();
/// one_at_a_time::<async_lock::Semaphore>();
/// ```
pub trait BenchSemaphore: Send + Sync + 'static {
    /// The contender's name in the rows. Ours start with `admit`; a peer
    /// uses its crate name (`tokio`, `async-lock`, ...), which is what the
    /// report tool matches on.
    const NAME: &'static str;

    /// Whether waiters are served strictly in arrival order; the report
    /// compares admit with the best *fair* peer.
    const FAIR: bool;

    /// The RAII permit; dropping it returns the permits.
    type Permit<'a>: Send
    where
        Self: 'a;

    /// A semaphore holding `permits` permits.
    fn with_permits(permits: usize) -> Self;

    /// Waits for one permit. Panics if the semaphore is closed (the benches
    /// never close one).
    fn acquire(&self) -> impl Future<Output = Self::Permit<'_>> + Send;

    /// Takes one permit if one is free right now.
    fn try_acquire(&self) -> Option<Self::Permit<'_>>;
}

/// A semaphore with a weighted acquire (several permits at once, released
/// together). async-lock has none, so it does not implement this.
///
/// # Examples
///
/// ```
/// use admit_benches::{AdmitFifo, BenchSemaphore, WeightedSemaphore};
///
/// let sem = AdmitFifo::with_permits(4);
/// let three = futures_lite::future::block_on(sem.acquire_many(3));
/// assert!(sem.try_acquire().is_some(), "one permit is left");
/// drop(three);
/// ```
pub trait WeightedSemaphore: BenchSemaphore {
    /// Waits for `n` permits.
    fn acquire_many(&self, n: usize) -> impl Future<Output = Self::Permit<'_>> + Send;
}

/// admit's semaphore, with the throughput policy when `THROUGHPUT` is set.
///
/// # Examples
///
/// ```
/// use admit_benches::{AdmitThroughput, BenchSemaphore};
///
/// let sem = AdmitThroughput::with_permits(2);
/// assert_eq!(sem.0.available_permits(), 2);
/// assert!(!AdmitThroughput::FAIR);
/// ```
pub struct Admit<const THROUGHPUT: bool>(pub admit::Semaphore);

/// admit with [`admit::Fairness::Fifo`] (the default policy).
///
/// # Examples
///
/// ```
/// use admit_benches::{AdmitFifo, BenchSemaphore};
///
/// assert_eq!((AdmitFifo::NAME, AdmitFifo::FAIR), ("admit-fifo", true));
/// ```
pub type AdmitFifo = Admit<false>;

/// admit with [`admit::Fairness::Throughput`] (bounded barging).
///
/// # Examples
///
/// ```
/// use admit_benches::{AdmitThroughput, BenchSemaphore};
///
/// assert_eq!(AdmitThroughput::NAME, "admit-throughput");
/// ```
pub type AdmitThroughput = Admit<true>;

pin_project_lite::pin_project! {
    /// Resolves a peer's `Result`-returning acquire future to its permit, by
    /// mapping in `poll`. A named wrapper rather than an `async` block, so the
    /// seam adds no state machine (and no extra move of the inner future) to
    /// what is measured.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_benches::Unwrap;
    ///
    /// let ok = std::future::ready(Ok::<u8, ()>(7));
    /// assert_eq!(futures_lite::future::block_on(Unwrap::new(ok)), 7);
    /// ```
    pub struct Unwrap<F> {
        #[pin]
        inner: F,
    }
}

impl<F> Unwrap<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        Self { inner }
    }
}

impl<F, T, E> Future for Unwrap<F>
where
    F: Future<Output = Result<T, E>>,
    E: std::fmt::Debug,
{
    type Output = T;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.project().inner.poll(cx) {
            Poll::Ready(result) => Poll::Ready(result.expect("bench semaphores are never closed")),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<const THROUGHPUT: bool> BenchSemaphore for Admit<THROUGHPUT> {
    const NAME: &'static str = if THROUGHPUT {
        "admit-throughput"
    } else {
        "admit-fifo"
    };
    const FAIR: bool = !THROUGHPUT;
    type Permit<'a> = admit::Permit<'a>;

    #[inline]
    fn with_permits(permits: usize) -> Self {
        let fairness = if THROUGHPUT {
            admit::Fairness::Throughput
        } else {
            admit::Fairness::Fifo
        };
        Self(admit::Semaphore::new(permits).with_fairness(fairness))
    }

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Permit<'_>> + Send {
        Unwrap::new(self.0.acquire())
    }

    #[inline]
    fn try_acquire(&self) -> Option<Self::Permit<'_>> {
        self.0.try_acquire().ok()
    }
}

impl<const THROUGHPUT: bool> WeightedSemaphore for Admit<THROUGHPUT> {
    #[inline]
    fn acquire_many(&self, n: usize) -> impl Future<Output = Self::Permit<'_>> + Send {
        Unwrap::new(self.0.acquire_many(n))
    }
}

/// `tokio::sync::Semaphore`: fair (FIFO), weighted.
impl BenchSemaphore for tokio::sync::Semaphore {
    const NAME: &'static str = "tokio";
    const FAIR: bool = true;
    type Permit<'a> = tokio::sync::SemaphorePermit<'a>;

    #[inline]
    fn with_permits(permits: usize) -> Self {
        Self::new(permits)
    }

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Permit<'_>> + Send {
        Unwrap::new(self.acquire())
    }

    #[inline]
    fn try_acquire(&self) -> Option<Self::Permit<'_>> {
        self.try_acquire().ok()
    }
}

impl WeightedSemaphore for tokio::sync::Semaphore {
    #[inline]
    fn acquire_many(&self, n: usize) -> impl Future<Output = Self::Permit<'_>> + Send {
        let n = u32::try_from(n).expect("tokio counts permits in u32");
        Unwrap::new(self.acquire_many(n))
    }
}

/// `async_lock::Semaphore`: unfair (newcomers may barge), no weighted acquire.
impl BenchSemaphore for async_lock::Semaphore {
    const NAME: &'static str = "async-lock";
    const FAIR: bool = false;
    type Permit<'a> = async_lock::SemaphoreGuard<'a>;

    #[inline]
    fn with_permits(permits: usize) -> Self {
        Self::new(permits)
    }

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Permit<'_>> + Send {
        self.acquire()
    }

    #[inline]
    fn try_acquire(&self) -> Option<Self::Permit<'_>> {
        self.try_acquire()
    }
}

/// `futures_intrusive::sync::Semaphore`, always built fair
/// (`Semaphore::new(true, n)`); weighted.
impl BenchSemaphore for futures_intrusive::sync::Semaphore {
    const NAME: &'static str = "futures-intrusive";
    const FAIR: bool = true;
    type Permit<'a> = futures_intrusive::sync::SemaphoreReleaser<'a>;

    #[inline]
    fn with_permits(permits: usize) -> Self {
        Self::new(true, permits)
    }

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Permit<'_>> + Send {
        self.acquire(1)
    }

    #[inline]
    fn try_acquire(&self) -> Option<Self::Permit<'_>> {
        self.try_acquire(1)
    }
}

impl WeightedSemaphore for futures_intrusive::sync::Semaphore {
    #[inline]
    fn acquire_many(&self, n: usize) -> impl Future<Output = Self::Permit<'_>> + Send {
        self.acquire(n)
    }
}

/// `maitake_sync::Semaphore` (default spin lock): fair (FIFO), weighted.
impl BenchSemaphore for maitake_sync::Semaphore {
    const NAME: &'static str = "maitake-sync";
    const FAIR: bool = true;
    type Permit<'a> = maitake_sync::semaphore::Permit<'a>;

    #[inline]
    fn with_permits(permits: usize) -> Self {
        Self::new(permits)
    }

    #[inline]
    fn acquire(&self) -> impl Future<Output = Self::Permit<'_>> + Send {
        Unwrap::new(self.acquire(1))
    }

    #[inline]
    fn try_acquire(&self) -> Option<Self::Permit<'_>> {
        self.try_acquire(1).ok()
    }
}

impl WeightedSemaphore for maitake_sync::Semaphore {
    #[inline]
    fn acquire_many(&self, n: usize) -> impl Future<Output = Self::Permit<'_>> + Send {
        Unwrap::new(self.acquire(n))
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
