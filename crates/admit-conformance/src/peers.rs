//! The semaphores compared, seen through one trait, [`PeerSemaphore`]: admit under both
//! fairness policies ([`AdmitFifo`], [`AdmitThroughput`]), `tokio::sync::Semaphore`,
//! `async_lock::Semaphore`, `futures_intrusive::sync::Semaphore` (fair mode) and
//! `maitake_sync::Semaphore`, and (with the `fleet` feature) the fleet semaphore
//! `admit_redis::FleetSemaphore` on a real Redis (the wrapper is `admit_conformance::fleet`).
//!
//! The same implementations serve two users: the peer guarantees here (the single-permit and
//! weighted cases, checked on every semaphore) and the benches (`admit-benches`), which
//! measure the acquire-await-drop loop through this trait. So the trait costs nothing: its
//! futures and permits are each semaphore's own ([`PeerSemaphore::Permit`] is a generic
//! associated type, the acquires return `impl Future`), and the only adaptation, turning
//! the peer's error into [`PeerClosed`], happens inside `poll`, with no state machine of its
//! own.
//!
//! A guarantee a semaphore has no operation for (async-lock has no weighted acquire and no
//! close) is [`Verdict::NotApplicable`]; a guarantee it breaks is a finding
//! ([`Verdict::Broken`]), never an error of the run. [`AdmitThroughput`] is not
//! [`FAIR`](PeerSemaphore::FAIR) and breaks the two guarantees against overtaking by design.
//!
//! Peers have no `waiter_count`, so a case knows a task is queued when the task says so:
//! it polls its acquire future once (which registers it in the queue) before announcing
//! itself and awaiting the rest.
//!
//! # Examples
//!
//! ```
//! use admit_conformance::adapters::TokioMultiThread;
//! use admit_conformance::peers::{self, AdmitFifo, Verdict};
//!
//! let verdicts = peers::run_peer::<AdmitFifo, _>(&TokioMultiThread::default());
//! assert!(verdicts.iter().all(|(_, verdict)| *verdict == Verdict::Kept), "{verdicts:?}");
//! ```

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use admit_runtime::Runtime;
use futures_lite::future;

use crate::harness::{MS, PROMPTLY, eventually, join, lock, within};
use crate::{Case, CaseResult, Failure, Flavor, Options, run_case};

/// The semaphore was closed.
///
/// # Examples
///
/// ```
/// assert_eq!(admit_conformance::peers::PeerClosed.to_string(), "closed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerClosed;

impl fmt::Display for PeerClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("closed")
    }
}

impl std::error::Error for PeerClosed {}

/// A semaphore as the peer guarantees and the benches see it, implemented once for each
/// semaphore compared.
///
/// `Send + Sync + 'static` so that an `Arc<Self>` can move into tasks of a multi-thread
/// runtime. Every method forwards to the semaphore's own operation (`#[inline]`), and the
/// futures and permits are the semaphore's own types: measuring through the trait measures
/// the semaphore.
///
/// # Examples
///
/// ```
/// use admit_conformance::peers::{AdmitFifo, PeerSemaphore};
///
/// fn one_at_a_time<S: PeerSemaphore>() {
///     let sem = S::with_permits(1);
///     let permit = futures_lite::future::block_on(sem.acquire()).expect("never closed");
///     assert!(sem.try_acquire().is_none(), "{}: the only permit is out", S::NAME);
///     drop(permit);
///     assert!(sem.try_acquire().is_some());
/// }
///
/// one_at_a_time::<AdmitFifo>();
/// one_at_a_time::<tokio::sync::Semaphore>();
/// one_at_a_time::<async_lock::Semaphore>();
///
/// fn describe<S: PeerSemaphore>() -> String {
///     format!("{}: weighted {}, closable {}", S::NAME, S::WEIGHTED, S::CLOSABLE)
/// }
/// assert_eq!(describe::<async_lock::Semaphore>(), "async-lock: weighted false, closable false");
/// ```
pub trait PeerSemaphore: Send + Sync + Sized + 'static {
    /// The name in the peer table and in bench rows. Ours start with `admit`; a peer uses its
    /// crate name (`tokio`, `async-lock`, ...), which is what the reports match on.
    const NAME: &'static str;
    /// Whether waiters are served strictly in arrival order, a newcomer never overtaking a
    /// queued waiter (the reports compare admit with the best fair peer).
    const FAIR: bool;
    /// Whether it can acquire several permits at once.
    const WEIGHTED: bool;
    /// Whether it can be closed.
    const CLOSABLE: bool;

    /// The RAII permit; dropping it returns the permits.
    type Permit<'a>: Send
    where
        Self: 'a;

    /// A semaphore with `permits` permits (fair, where fairness is an option).
    fn with_permits(permits: usize) -> Self;

    /// Waits for one permit.
    ///
    /// # Errors
    ///
    /// [`PeerClosed`] if the semaphore is closed.
    fn acquire(&self) -> impl Future<Output = Acquired<'_, Self>> + Send;

    /// Waits for `n` permits.
    ///
    /// # Errors
    ///
    /// [`PeerClosed`] if the semaphore is closed.
    ///
    /// # Panics
    ///
    /// If `n` is not 1 and the semaphore is not [`WEIGHTED`](Self::WEIGHTED).
    fn acquire_many(&self, n: usize) -> impl Future<Output = Acquired<'_, Self>> + Send;

    /// Takes one permit if one is free now (and the semaphore allows it).
    fn try_acquire(&self) -> Option<Self::Permit<'_>>;

    /// Takes `n` permits now, if it allows it.
    ///
    /// # Panics
    ///
    /// As [`acquire_many`](Self::acquire_many).
    fn try_acquire_many(&self, n: usize) -> Option<Self::Permit<'_>>;

    /// Adds `n` permits.
    fn add_permits(&self, n: usize);

    /// Closes the semaphore.
    ///
    /// # Panics
    ///
    /// If it is not [`CLOSABLE`](Self::CLOSABLE).
    fn close(&self);

    /// The permits free now.
    fn available_permits(&self) -> usize;

    /// Runs after each check, inside the runtime: waits for what the check's semaphores left
    /// to settle and fails if anything was left behind. Nothing to do for an in-process
    /// semaphore (the default); the fleet semaphore checks that Redis is clean.
    fn settle() -> impl Future<Output = CaseResult> + Send {
        std::future::ready(Ok(()))
    }
}

/// What an acquire of `S` resolves to: its permit, or [`PeerClosed`].
///
/// # Examples
///
/// ```
/// use admit_conformance::peers::{Acquired, AdmitFifo, PeerSemaphore};
///
/// let sem = AdmitFifo::with_permits(1);
/// let acquired: Acquired<'_, AdmitFifo> = futures_lite::future::block_on(sem.acquire());
/// assert!(acquired.is_ok());
/// ```
pub type Acquired<'a, S> = Result<<S as PeerSemaphore>::Permit<'a>, PeerClosed>;

pin_project_lite::pin_project! {
    /// A peer's acquire future with its output mapped by `map` in `poll`: the peers' own
    /// `Result`s become [`PeerClosed`] errors without an `async` block around the peer's
    /// future (no state machine, no extra move of the inner future on the measured path).
    pub(crate) struct Resolve<F, M> {
        #[pin]
        inner: F,
        map: M,
    }
}

impl<F, M> Resolve<F, M> {
    #[inline]
    pub(crate) fn new(inner: F, map: M) -> Self {
        Self { inner, map }
    }
}

impl<F: Future, M: FnMut(F::Output) -> T, T> Future for Resolve<F, M> {
    type Output = T;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.project();
        match this.inner.poll(cx) {
            Poll::Ready(output) => Poll::Ready((this.map)(output)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// `Err(_)` becomes [`PeerClosed`]: the one error of an acquire the cases make.
#[inline]
fn closed<P, E>(result: Result<P, E>) -> Result<P, PeerClosed> {
    result.map_err(|_| PeerClosed)
}

/// admit's semaphore, with [`admit::Fairness::Throughput`] when `THROUGHPUT` is set.
///
/// # Examples
///
/// ```
/// use admit_conformance::peers::{AdmitThroughput, PeerSemaphore};
///
/// let sem = AdmitThroughput::with_permits(2);
/// assert_eq!(sem.0.fairness(), admit::Fairness::Throughput);
/// assert!(!AdmitThroughput::FAIR);
/// ```
#[derive(Debug)]
pub struct Admit<const THROUGHPUT: bool>(pub admit::Semaphore);

/// admit with [`admit::Fairness::Fifo`] (the default policy).
///
/// # Examples
///
/// ```
/// use admit_conformance::peers::{AdmitFifo, PeerSemaphore};
///
/// assert_eq!((AdmitFifo::NAME, AdmitFifo::FAIR), ("admit-fifo", true));
/// ```
pub type AdmitFifo = Admit<false>;

/// admit with [`admit::Fairness::Throughput`] (bounded barging).
///
/// Not [`FAIR`](PeerSemaphore::FAIR), and it breaks three peer guarantees by design: a
/// newcomer may take a free permit ahead of the queue (`no_overtaking_by_try_acquire`, and
/// `weighted_head_blocks_smaller`: a `try_acquire(1)` takes a free permit while
/// `acquire_many(3)` waits), and a release frees permits and notifies the head instead of
/// handing them over, so the next waiter is woken when the head takes its permit
/// (`release_wakes_every_servable_waiter`). It keeps the others: waiters among themselves
/// are served in FIFO order, cancellation returns permits, `close` wakes every waiter.
///
/// # Examples
///
/// ```
/// use admit_conformance::peers::{AdmitThroughput, PeerSemaphore};
///
/// assert_eq!(AdmitThroughput::NAME, "admit-throughput");
/// ```
pub type AdmitThroughput = Admit<true>;

impl<const THROUGHPUT: bool> PeerSemaphore for Admit<THROUGHPUT> {
    const NAME: &'static str = if THROUGHPUT {
        "admit-throughput"
    } else {
        "admit-fifo"
    };
    const FAIR: bool = !THROUGHPUT;
    const WEIGHTED: bool = true;
    const CLOSABLE: bool = true;
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
    fn acquire(&self) -> impl Future<Output = Acquired<'_, Self>> + Send {
        Resolve::new(self.0.acquire(), closed)
    }

    #[inline]
    fn acquire_many(&self, n: usize) -> impl Future<Output = Acquired<'_, Self>> + Send {
        Resolve::new(self.0.acquire_many(n), closed)
    }

    #[inline]
    fn try_acquire(&self) -> Option<Self::Permit<'_>> {
        self.0.try_acquire().ok()
    }

    #[inline]
    fn try_acquire_many(&self, n: usize) -> Option<Self::Permit<'_>> {
        self.0.try_acquire_many(n).ok()
    }

    fn add_permits(&self, n: usize) {
        self.0.add_permits(n);
    }

    fn close(&self) {
        self.0.close();
    }

    fn available_permits(&self) -> usize {
        self.0.available_permits()
    }
}

fn as_u32(n: usize) -> u32 {
    u32::try_from(n).expect("tokio counts permits in u32")
}

/// `tokio::sync::Semaphore`: fair (FIFO), weighted, closable.
impl PeerSemaphore for tokio::sync::Semaphore {
    const NAME: &'static str = "tokio";
    const FAIR: bool = true;
    const WEIGHTED: bool = true;
    const CLOSABLE: bool = true;
    type Permit<'a> = tokio::sync::SemaphorePermit<'a>;

    #[inline]
    fn with_permits(permits: usize) -> Self {
        Self::new(permits)
    }

    #[inline]
    fn acquire(&self) -> impl Future<Output = Acquired<'_, Self>> + Send {
        Resolve::new(self.acquire(), closed)
    }

    #[inline]
    fn acquire_many(&self, n: usize) -> impl Future<Output = Acquired<'_, Self>> + Send {
        Resolve::new(self.acquire_many(as_u32(n)), closed)
    }

    #[inline]
    fn try_acquire(&self) -> Option<Self::Permit<'_>> {
        self.try_acquire().ok()
    }

    #[inline]
    fn try_acquire_many(&self, n: usize) -> Option<Self::Permit<'_>> {
        self.try_acquire_many(as_u32(n)).ok()
    }

    fn add_permits(&self, n: usize) {
        self.add_permits(n);
    }

    fn close(&self) {
        self.close();
    }

    fn available_permits(&self) -> usize {
        self.available_permits()
    }
}

fn one_at_a_time(n: usize) {
    assert_eq!(n, 1, "async-lock acquires one permit at a time");
}

/// `async_lock::Semaphore`: unfair (newcomers may barge), no weighted acquire, no close.
impl PeerSemaphore for async_lock::Semaphore {
    const NAME: &'static str = "async-lock";
    const FAIR: bool = false;
    const WEIGHTED: bool = false;
    const CLOSABLE: bool = false;
    type Permit<'a> = async_lock::SemaphoreGuard<'a>;

    #[inline]
    fn with_permits(permits: usize) -> Self {
        Self::new(permits)
    }

    #[inline]
    fn acquire(&self) -> impl Future<Output = Acquired<'_, Self>> + Send {
        Resolve::new(self.acquire(), Ok)
    }

    fn acquire_many(&self, n: usize) -> impl Future<Output = Acquired<'_, Self>> + Send {
        one_at_a_time(n);
        Resolve::new(self.acquire(), Ok)
    }

    #[inline]
    fn try_acquire(&self) -> Option<Self::Permit<'_>> {
        self.try_acquire()
    }

    fn try_acquire_many(&self, n: usize) -> Option<Self::Permit<'_>> {
        one_at_a_time(n);
        self.try_acquire()
    }

    fn add_permits(&self, n: usize) {
        self.add_permits(n);
    }

    fn close(&self) {
        unreachable!("async-lock cannot be closed");
    }

    fn available_permits(&self) -> usize {
        self.available_permits()
    }
}

/// `futures_intrusive::sync::Semaphore`, always built fair (`Semaphore::new(true, n)`);
/// weighted, not closable.
impl PeerSemaphore for futures_intrusive::sync::Semaphore {
    const NAME: &'static str = "futures-intrusive";
    const FAIR: bool = true;
    const WEIGHTED: bool = true;
    const CLOSABLE: bool = false;
    type Permit<'a> = futures_intrusive::sync::SemaphoreReleaser<'a>;

    #[inline]
    fn with_permits(permits: usize) -> Self {
        Self::new(true, permits)
    }

    #[inline]
    fn acquire(&self) -> impl Future<Output = Acquired<'_, Self>> + Send {
        Resolve::new(self.acquire(1), Ok)
    }

    #[inline]
    fn acquire_many(&self, n: usize) -> impl Future<Output = Acquired<'_, Self>> + Send {
        Resolve::new(self.acquire(n), Ok)
    }

    #[inline]
    fn try_acquire(&self) -> Option<Self::Permit<'_>> {
        self.try_acquire(1)
    }

    #[inline]
    fn try_acquire_many(&self, n: usize) -> Option<Self::Permit<'_>> {
        self.try_acquire(n)
    }

    fn add_permits(&self, n: usize) {
        self.release(n);
    }

    fn close(&self) {
        unreachable!("futures-intrusive's semaphore cannot be closed");
    }

    fn available_permits(&self) -> usize {
        self.permits()
    }
}

/// `maitake_sync::Semaphore` (default spin lock): fair (FIFO), weighted, closable.
impl PeerSemaphore for maitake_sync::Semaphore {
    const NAME: &'static str = "maitake-sync";
    const FAIR: bool = true;
    const WEIGHTED: bool = true;
    const CLOSABLE: bool = true;
    type Permit<'a> = maitake_sync::semaphore::Permit<'a>;

    #[inline]
    fn with_permits(permits: usize) -> Self {
        Self::new(permits)
    }

    #[inline]
    fn acquire(&self) -> impl Future<Output = Acquired<'_, Self>> + Send {
        Resolve::new(self.acquire(1), closed)
    }

    #[inline]
    fn acquire_many(&self, n: usize) -> impl Future<Output = Acquired<'_, Self>> + Send {
        Resolve::new(self.acquire(n), closed)
    }

    #[inline]
    fn try_acquire(&self) -> Option<Self::Permit<'_>> {
        self.try_acquire(1).ok()
    }

    #[inline]
    fn try_acquire_many(&self, n: usize) -> Option<Self::Permit<'_>> {
        self.try_acquire(n).ok()
    }

    fn add_permits(&self, n: usize) {
        self.add_permits(n);
    }

    fn close(&self) {
        self.close();
    }

    fn available_permits(&self) -> usize {
        self.available_permits()
    }
}

/// How a semaphore fared on one guarantee.
///
/// # Examples
///
/// ```
/// use admit_conformance::peers::Verdict;
///
/// assert_eq!(Verdict::Kept.symbol(), "✓");
/// assert_eq!(Verdict::Broken("out of order".into()).symbol(), "✗");
/// assert_eq!(Verdict::NotApplicable("no close").symbol(), "n/a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The guarantee held.
    Kept,
    /// The guarantee was broken; what was seen.
    Broken(String),
    /// The semaphore has no operation the case needs.
    NotApplicable(&'static str),
}

impl Verdict {
    /// `✓`, `✗` or `n/a`.
    ///
    /// # Examples
    ///
    /// See [`Verdict`].
    #[must_use]
    pub fn symbol(&self) -> &'static str {
        match self {
            Self::Kept => "✓",
            Self::Broken(_) => "✗",
            Self::NotApplicable(_) => "n/a",
        }
    }
}

/// What a peer case needs beyond single-permit acquire.
#[derive(Clone, Copy)]
enum Needs {
    Nothing,
    Weighted,
    Close,
}

macro_rules! guarantees {
    ($($name:ident: $needs:ident),* $(,)?) => {
        /// The names of the guarantees compared (the rows of the peer table).
        ///
        /// # Examples
        ///
        /// ```
        /// assert_eq!(admit_conformance::peers::GUARANTEE_NAMES[0], "fifo_order");
        /// ```
        pub const GUARANTEE_NAMES: [&str; 8] = [$(stringify!($name)),*];

        /// The guarantees' cases on semaphore `S`, in [`GUARANTEE_NAMES`] order, with what
        /// each needs.
        fn guarantees<S: PeerSemaphore, R: Runtime>() -> [(Needs, Case); 8] {
            [$((Needs::$needs, Case::new(stringify!($name), |_| Box::pin(async {
                let outcome = $name::<S, R>().await;
                let settled = S::settle().await;
                outcome.and(settled)
            })))),*]
        }
    };
}

guarantees![
    fifo_order: Nothing,
    no_overtaking_by_try_acquire: Nothing,
    release_wakes_every_servable_waiter: Nothing,
    cancel_returns_permits: Nothing,
    weighted_fifo_order: Weighted,
    weighted_head_blocks_smaller: Weighted,
    cancel_returns_partial_permits: Weighted,
    close_wakes_all: Close,
];

macro_rules! peers {
    ($($(#[$attr:meta])* $peer:ty),* $(,)?) => {
        /// The names of the semaphores compared (the columns of the peer table), admit's
        /// two policies first; with the `fleet` feature, the fleet semaphore last.
        ///
        /// # Examples
        ///
        /// ```
        /// use admit_conformance::peers::PEER_NAMES;
        ///
        /// assert_eq!(PEER_NAMES[..2], ["admit-fifo", "admit-throughput"]);
        /// ```
        pub const PEER_NAMES: &[&str] = &[$($(#[$attr])* <$peer as PeerSemaphore>::NAME),*];

        /// [`run_peer`] for each semaphore compared, in [`PEER_NAMES`] order.
        fn peer_runs<F: Flavor>() -> Vec<fn(&F) -> Vec<(&'static str, Verdict)>> {
            vec![$($(#[$attr])* run_peer::<$peer, F>),*]
        }
    };
}

peers![
    AdmitFifo,
    AdmitThroughput,
    tokio::sync::Semaphore,
    async_lock::Semaphore,
    futures_intrusive::sync::Semaphore,
    maitake_sync::Semaphore,
    #[cfg(feature = "fleet")]
    crate::fleet::Fleet,
];

/// What the waiting tasks of a case report.
#[derive(Default)]
struct Log {
    /// Tasks whose acquire is registered (polled once).
    queued: AtomicUsize,
    /// Task ids, in the order they were granted.
    granted: Mutex<Vec<usize>>,
    /// Set when the tasks that keep their permits may return them.
    release_kept: AtomicBool,
}

/// Spawns a task that registers an acquire of `n`, announces itself in `log.queued`, waits,
/// records its `id` in `log.granted`, then keeps the permit until `log.release_kept` is set
/// (`keep`) or drops it.
fn spawn_waiter<S: PeerSemaphore, R: Runtime>(
    sem: &Arc<S>,
    n: usize,
    id: usize,
    log: &Arc<Log>,
    keep: bool,
) -> R::JoinHandle<Result<(), PeerClosed>> {
    let (sem, log) = (Arc::clone(sem), Arc::clone(log));
    R::spawn(async move {
        let mut acquire = pin!(sem.acquire_many(n));
        let first = future::poll_once(&mut acquire).await;
        log.queued.fetch_add(1, SeqCst);
        let permit = match first {
            Some(result) => result?,
            None => acquire.await?,
        };
        lock(&log.granted).push(id);
        // Held until the case is done: the next grant needs new permits.
        while keep && !log.release_kept.load(SeqCst) {
            R::sleep(MS).await;
        }
        drop(permit);
        Ok(())
    })
}

async fn wait_queued<R: Runtime>(log: &Log, n: usize) -> CaseResult {
    eventually::<R>(PROMPTLY, &format!("{n} tasks are queued"), || {
        log.queued.load(SeqCst) >= n
    })
    .await
}

async fn queue_order<S: PeerSemaphore, R: Runtime>(weights: &[usize]) -> CaseResult {
    let sem = Arc::new(S::with_permits(0));
    let log = Arc::new(Log::default());
    let mut tasks = Vec::new();
    for (id, &weight) in weights.iter().enumerate() {
        tasks.push(spawn_waiter::<S, R>(&sem, weight, id, &log, true));
        wait_queued::<R>(&log, id + 1).await?;
    }
    for (id, &weight) in weights.iter().enumerate() {
        sem.add_permits(weight);
        let granted = eventually::<R>(PROMPTLY, "", || lock(&log.granted).len() > id).await;
        R::sleep(MS).await;
        let order = lock(&log.granted).clone();
        ensure!(
            granted.is_ok() && order == (0..=id).collect::<Vec<_>>(),
            "after adding {weight} permit(s) for waiter {id} (weights {weights:?}) the grants \
             were {order:?}"
        );
    }
    log.release_kept.store(true, SeqCst);
    for task in tasks {
        let _ = join::<R, _>(task, "a granted task ends").await?;
    }
    Ok(())
}

async fn fifo_order<S: PeerSemaphore, R: Runtime>() -> CaseResult {
    queue_order::<S, R>(&[1; 10]).await
}

async fn weighted_fifo_order<S: PeerSemaphore, R: Runtime>() -> CaseResult {
    queue_order::<S, R>(&[2, 1, 3, 1, 1, 2]).await
}

async fn no_overtaking_by_try_acquire<S: PeerSemaphore, R: Runtime>() -> CaseResult {
    let sem = S::with_permits(1);
    let held = sem.try_acquire_many(1);
    ensure!(held.is_some(), "try_acquire on a fresh semaphore failed");
    // The waiter is a future in this task, queued by one poll and not polled
    // again until after the `try_acquire`: nothing else can race for the
    // released permit, so the verdict does not depend on scheduling.
    let mut waiter = pin!(sem.acquire_many(1));
    ensure!(
        future::poll_once(&mut waiter).await.is_none(),
        "acquire succeeded while the only permit was held"
    );
    drop(held);
    let overtaker = sem.try_acquire_many(1);
    let overtook = overtaker.is_some();
    // Whatever happened, the waiter must still be served once the permit is
    // back.
    drop(overtaker);
    let served = within::<R, _>(PROMPTLY, "the queued waiter is served", waiter).await;
    ensure!(
        !overtook,
        "try_acquire took the permit released while a task was queued"
    );
    ensure!(
        matches!(served, Ok(Ok(_))),
        "the queued waiter was not served"
    );
    Ok(())
}

async fn weighted_head_blocks_smaller<S: PeerSemaphore, R: Runtime>() -> CaseResult {
    let sem = Arc::new(S::with_permits(4));
    let log = Arc::new(Log::default());
    let held = sem.try_acquire_many(3);
    ensure!(held.is_some(), "try_acquire_many(3) of 4 failed");
    let big = spawn_waiter::<S, R>(&sem, 3, 0, &log, false);
    wait_queued::<R>(&log, 1).await?;
    let overtook = sem.try_acquire_many(1).is_some();
    ensure!(
        !overtook,
        "try_acquire(1) took a free permit while acquire_many(3) was queued"
    );
    let small = spawn_waiter::<S, R>(&sem, 1, 1, &log, false);
    wait_queued::<R>(&log, 2).await?;
    R::sleep(10 * MS).await;
    let early = lock(&log.granted).clone();
    drop(held);
    let served = (
        join::<R, _>(big, "the big request is served").await,
        join::<R, _>(small, "the small request is served").await,
    );
    ensure!(
        !early.contains(&1),
        "acquire(1) overtook a queued acquire_many(3) (1 permit was free)"
    );
    ensure!(
        matches!(served, (Ok(Ok(())), Ok(Ok(())))),
        "not both served after the release: {served:?}"
    );
    Ok(())
}

/// Counts how often it is woken.
struct CountingWaker(AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

async fn release_wakes_every_servable_waiter<S: PeerSemaphore, R: Runtime>() -> CaseResult {
    const WAITERS: usize = 4;
    let sem = S::with_permits(WAITERS);
    let held: Vec<_> = (0..WAITERS)
        .map_while(|_| sem.try_acquire_many(1))
        .collect();
    ensure!(
        held.len() == WAITERS,
        "try_acquire of {WAITERS} fresh permits failed"
    );
    // Queued by one poll each, every acquire with its own waker: each is
    // polled again only after the check, so a semaphore cannot rely on one
    // waiter's poll to wake the next.
    let mut waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let waker = Arc::new(CountingWaker(AtomicUsize::new(0)));
            (Box::pin(sem.acquire_many(1)), waker)
        })
        .collect();
    for (acquire, waker) in &mut waiters {
        let waker = std::task::Waker::from(Arc::clone(waker));
        let poll = acquire
            .as_mut()
            .poll(&mut std::task::Context::from_waker(&waker));
        ensure!(
            poll.is_pending(),
            "acquire succeeded while every permit was held"
        );
    }
    // One release at a time, nothing polled in between. A release may finish after the
    // drop (the fleet semaphore's goes through Redis), so the wakes are awaited; a waiter
    // that waits for another to be polled is not woken however long this waits.
    drop(held);
    let all_woken = || {
        waiters
            .iter()
            .filter(|(_, waker)| waker.0.load(SeqCst) > 0)
            .count()
            == WAITERS
    };
    let _ = eventually::<R>(PROMPTLY, "every waiter is woken", all_woken).await;
    let woken = waiters
        .iter()
        .filter(|(_, waker)| waker.0.load(SeqCst) > 0)
        .count();
    // Whatever was woken, every waiter must be served once polled.
    for (acquire, _) in waiters {
        let served = within::<R, _>(PROMPTLY, "a released waiter is served", acquire).await;
        ensure!(
            matches!(served, Ok(Ok(_))),
            "a waiter was not served after the releases"
        );
    }
    ensure!(
        woken == WAITERS,
        "{WAITERS} releases with {WAITERS} single-permit waiters queued woke {woken} of them \
         (the rest wait for a woken waiter to be polled)"
    );
    Ok(())
}

async fn cancel_returns_permits<S: PeerSemaphore, R: Runtime>() -> CaseResult {
    let sem = Arc::new(S::with_permits(1));
    let log = Arc::new(Log::default());
    let held = sem.try_acquire_many(1);
    ensure!(held.is_some(), "try_acquire on a fresh semaphore failed");
    // The first waiter is a future in this task: it is handed the permit, then dropped
    // without being polled again.
    let mut first = Box::pin(sem.acquire_many(1));
    ensure!(
        future::poll_once(&mut first).await.is_none(),
        "acquire succeeded while the only permit was held"
    );
    let next = spawn_waiter::<S, R>(&sem, 1, 1, &log, false);
    wait_queued::<R>(&log, 1).await?;
    drop(held);
    future::yield_now().await;
    drop(first);
    let served = join::<R, _>(next, "the next waiter gets the dropped waiter's permit").await?;
    ensure!(served.is_ok(), "the next waiter got {served:?}");
    eventually::<R>(PROMPTLY, "the permit is back", || {
        sem.available_permits() == 1
    })
    .await
}

async fn cancel_returns_partial_permits<S: PeerSemaphore, R: Runtime>() -> CaseResult {
    let sem = Arc::new(S::with_permits(3));
    let log = Arc::new(Log::default());
    let two = sem.try_acquire_many(2);
    let one = sem.try_acquire_many(1);
    ensure!(two.is_some() && one.is_some(), "taking 2 + 1 of 3 failed");
    let mut big = Box::pin(sem.acquire_many(3));
    ensure!(
        future::poll_once(&mut big).await.is_none(),
        "acquire_many(3) succeeded with nothing free"
    );
    let small = spawn_waiter::<S, R>(&sem, 1, 1, &log, false);
    wait_queued::<R>(&log, 1).await?;
    // The permit may be assigned to the big request at the head; dropping it must pass it on.
    drop(one);
    future::yield_now().await;
    drop(big);
    let served = join::<R, _>(small, "the small waiter gets the returned permit").await?;
    ensure!(served.is_ok(), "the small waiter got {served:?}");
    drop(two);
    eventually::<R>(PROMPTLY, "every permit is back", || {
        sem.available_permits() == 3
    })
    .await
    .map_err(|e| Failure::new(format!("{e}: {} free", sem.available_permits())))
}

async fn close_wakes_all<S: PeerSemaphore, R: Runtime>() -> CaseResult {
    const TASKS: usize = 20;
    let sem = Arc::new(S::with_permits(0));
    let log = Arc::new(Log::default());
    let tasks: Vec<_> = (0..TASKS)
        .map(|id| spawn_waiter::<S, R>(&sem, 1, id, &log, false))
        .collect();
    wait_queued::<R>(&log, TASKS).await?;
    sem.close();
    let mut woken = 0;
    for task in tasks {
        if let Ok(Err(PeerClosed)) = join::<R, _>(task, "a task is woken by close").await {
            woken += 1;
        }
    }
    ensure!(
        woken == TASKS,
        "{woken} of {TASKS} waiting tasks were woken with Closed"
    );
    Ok(())
}

/// Checks every guarantee on semaphore `S`, driven by `flavor`, and returns the verdicts in
/// [`GUARANTEE_NAMES`] order.
///
/// # Examples
///
/// ```
/// use admit_conformance::adapters::TokioMultiThread;
/// use admit_conformance::peers::{self, Verdict};
///
/// let verdict = |verdicts: &[(&str, Verdict)], guarantee| {
///     verdicts.iter().find(|(name, _)| *name == guarantee).unwrap().1.clone()
/// };
/// let flavor = TokioMultiThread::default();
/// let async_lock = peers::run_peer::<async_lock::Semaphore, _>(&flavor);
/// assert!(matches!(verdict(&async_lock, "close_wakes_all"), Verdict::NotApplicable(_)));
///
/// // Throughput mode lets a newcomer take a permit ahead of a queued waiter, by design.
/// let throughput = peers::run_peer::<peers::AdmitThroughput, _>(&flavor);
/// let overtaking = verdict(&throughput, "no_overtaking_by_try_acquire");
/// assert!(matches!(overtaking, Verdict::Broken(_)), "{overtaking:?}");
/// ```
pub fn run_peer<S: PeerSemaphore, F: Flavor>(flavor: &F) -> Vec<(&'static str, Verdict)> {
    let options = Options::default().with_case_timeout(PROMPTLY * 5);
    guarantees::<S, F::Runtime>()
        .into_iter()
        .map(|(needs, case)| {
            let verdict = match needs {
                Needs::Weighted if !S::WEIGHTED => Verdict::NotApplicable("no weighted acquire"),
                Needs::Close if !S::CLOSABLE => Verdict::NotApplicable("no close"),
                _ => match run_case(flavor, case, &options).outcome {
                    Ok(()) => Verdict::Kept,
                    Err(failure) => Verdict::Broken(failure.message().to_owned()),
                },
            };
            (case.name(), verdict)
        })
        .collect()
}

/// The peer table: for each semaphore (in [`PEER_NAMES`] order), its verdicts.
pub type PeerTable = Vec<(&'static str, Vec<(&'static str, Verdict)>)>;

/// Checks every guarantee on every semaphore, driven by `flavor`, calling `on_peer` as each
/// semaphore is done.
///
/// # Examples
///
/// ```no_run
/// use admit_conformance::adapters::TokioMultiThread;
///
/// let table = admit_conformance::peers::run_all(&TokioMultiThread::default(), |name, _| {
///     eprintln!("{name} done");
/// });
/// assert_eq!(table.len(), admit_conformance::peers::PEER_NAMES.len());
/// ```
pub fn run_all<F: Flavor>(
    flavor: &F,
    mut on_peer: impl FnMut(&str, &[(&'static str, Verdict)]),
) -> PeerTable {
    PEER_NAMES
        .iter()
        .copied()
        .zip(peer_runs::<F>())
        .map(|(name, run)| {
            let verdicts = run(flavor);
            on_peer(name, &verdicts);
            (name, verdicts)
        })
        .collect()
}
