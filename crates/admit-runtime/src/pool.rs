//! [`TaskPool`]: run a collection of futures with at most K in flight.
//!
//! # Implementation details
//!
//! One engine, [`AsCompleted`], does all the work; [`TaskPool::gather`] and
//! [`TaskPool::try_gather`] are loops over it. The engine is a [`Stream`] that, each time it
//! is polled,
//!
//! 1. admits work: takes the next future from the input, acquires one owned permit from the
//!    pool's semaphore for it (FIFO-fair, so pools sharing a semaphore take turns), and starts
//!    it — in [`Inline`] mode by pinning it in a slot the engine polls itself, in [`Spawned`]
//!    mode by spawning it on the runtime with the permit moved into the task (which hands it
//!    back with its output, so a permit is free again only once the pool has seen its task
//!    finish);
//! 2. polls the running jobs, and yields the first that has finished, dropping its permit.
//!
//! Every permit belongs to exactly one running job, so at most K run. Dropping the engine
//! stops everything: inline futures are dropped on the spot (with their permits); spawned tasks
//! are told to stop through a shared cancellation signal, and each drops its future and its
//! permit the next time the runtime polls it (at once, since the signal wakes it). A panic in
//! a job unwinds out of the engine's `poll_next` into the caller, and the unwinding drops the
//! engine, stopping the rest.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use admit::futures::AcquireOwned;
use admit::{OwnedPermit, Semaphore, TryAcquireError};
use futures_lite::{Stream, StreamExt, future};

use crate::{Runtime, Signal};

/// How a finished task counts in [`Progress`]: succeeded or failed.
///
/// Pool operations accept futures whose output implements it: `Result<T, E>` (an `Err` is a
/// failure) and `()` (never a failure). Implement it for your own output types, or wrap
/// plain values in `Ok`.
///
/// # Examples
///
/// ```
/// use admit_runtime::Outcome;
///
/// struct Status(u16);
///
/// impl Outcome for Status {
///     fn is_failure(&self) -> bool {
///         self.0 >= 500
///     }
/// }
///
/// assert!(Status(503).is_failure());
/// assert!(Err::<(), ()>(()).is_failure());
/// ```
pub trait Outcome {
    /// Whether the task that produced this output failed.
    fn is_failure(&self) -> bool;
}

impl<T, E> Outcome for Result<T, E> {
    fn is_failure(&self) -> bool {
        self.is_err()
    }
}

impl Outcome for () {
    fn is_failure(&self) -> bool {
        false
    }
}

/// A snapshot of a pool operation's progress, passed to the hook set with
/// [`TaskPool::on_progress`].
///
/// # Examples
///
/// ```
/// use admit_runtime::Progress;
///
/// fn render(p: Progress) -> String {
///     let total = p.total.map_or("?".to_string(), |t| t.to_string());
///     format!("{}/{total} done, {} failed, {} running", p.done, p.failed, p.in_flight)
/// }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Tasks that finished and succeeded.
    pub done: usize,
    /// Tasks that finished and failed (see [`Outcome`]).
    pub failed: usize,
    /// Tasks started and not yet finished (at most the pool's limit).
    pub in_flight: usize,
    /// The number of tasks, if the input iterator knows it exactly (`size_hint`).
    pub total: Option<usize>,
}

impl Progress {
    /// Tasks finished, successfully or not.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::Progress;
    ///
    /// assert_eq!(Progress::default().finished(), 0);
    /// ```
    #[must_use]
    pub fn finished(&self) -> usize {
        self.done + self.failed
    }
}

/// Why a pool operation stopped.
///
/// # Examples
///
/// ```
/// use admit_runtime::PoolError;
///
/// let e: PoolError<std::io::Error> = PoolError::ZeroLimit;
/// assert_eq!(e.to_string(), "a task pool needs a limit of at least one task in flight");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolError<E = Infallible> {
    /// The limit is zero (or the shared semaphore has no capacity): nothing could ever run.
    ZeroLimit,
    /// The pool's semaphore was closed: no more tasks are started.
    Closed,
    /// A task failed and the operation fails fast ([`TaskPool::try_gather`]); the other
    /// tasks were cancelled.
    Failed {
        /// The failed task's position in the input.
        index: usize,
        /// Its error.
        error: E,
    },
}

impl PoolError {
    /// The same pool-level error with a task error type of choice.
    fn widen<E>(self) -> PoolError<E> {
        match self {
            Self::ZeroLimit => PoolError::ZeroLimit,
            Self::Closed => PoolError::Closed,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for PoolError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroLimit => f.write_str("ZeroLimit"),
            Self::Closed => f.write_str("Closed"),
            Self::Failed { index, error } => f
                .debug_struct("Failed")
                .field("index", index)
                .field("error", error)
                .finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for PoolError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroLimit => {
                f.write_str("a task pool needs a limit of at least one task in flight")
            }
            Self::Closed => f.write_str("the task pool's semaphore was closed"),
            Self::Failed { index, error } => write!(f, "task {index} failed: {error}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for PoolError<E> {}

/// [`TaskPool::new`] was given a limit of zero: nothing could ever run.
///
/// Converts into [`PoolError::ZeroLimit`], so `?` works in functions returning a
/// [`PoolError`].
///
/// # Examples
///
/// ```
/// use admit_runtime::{PoolError, ZeroLimitError};
///
/// let e: PoolError<std::io::Error> = ZeroLimitError.into();
/// assert!(matches!(e, PoolError::ZeroLimit));
/// assert_eq!(ZeroLimitError.to_string(), "a task pool needs a limit of at least one task in flight");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroLimitError;

impl fmt::Display for ZeroLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a task pool needs a limit of at least one task in flight")
    }
}

impl std::error::Error for ZeroLimitError {}

impl<E> From<ZeroLimitError> for PoolError<E> {
    fn from(_: ZeroLimitError) -> Self {
        Self::ZeroLimit
    }
}

type ProgressHook = Arc<dyn Fn(Progress) + Send + Sync>;

/// Runs collections of futures with at most K in flight, on runtime `R`.
///
/// * **Order**: [`gather`](Self::gather) returns results in input order;
///   [`as_completed`](Self::as_completed) streams them in completion order, with their input
///   index.
/// * **Mode**: the plain methods run *inline*: the caller polls the futures itself, nothing is
///   spawned and the futures need not be `Send` or `'static`. The `spawn_` methods run each
///   future as a task on the runtime (for parallelism), holding an owned permit.
/// * **Errors**: the `try_` methods fail fast: the first `Err` cancels the rest and is
///   returned. The others run everything and collect every result.
/// * **Progress**: [`on_progress`](Self::on_progress) installs a hook called with a
///   [`Progress`] snapshot whenever a task starts or finishes.
/// * **Shared limits**: [`with_semaphore`](Self::with_semaphore) makes pools (and any other
///   code) share one semaphore; they take turns in its FIFO order.
///
/// Dropping a pool operation half-way stops everything (see [`AsCompleted`]) and leaks no
/// permit. A task that panics makes the operation panic with the same payload, after the rest
/// have been stopped.
///
/// A `TaskPool` is cheap to clone (the clones share the limit).
///
/// # Examples
///
/// ```
/// use admit_runtime::{PoolError, Runtime, TaskPool};
///
/// async fn fetch(url: &str) -> Result<usize, std::io::Error> {
///     Ok(url.len())
/// }
///
/// async fn fetch_all<R: Runtime>(urls: &[&str]) -> Result<Vec<usize>, PoolError<std::io::Error>> {
///     let pool = TaskPool::<R>::new(3)?; // at most 3 requests in flight
///     pool.try_gather(urls.iter().map(|url| fetch(url))).await
/// }
/// ```
pub struct TaskPool<R> {
    semaphore: Arc<Semaphore>,
    progress: Option<ProgressHook>,
    runtime: PhantomData<fn() -> R>,
}

impl<R> Clone for TaskPool<R> {
    fn clone(&self) -> Self {
        Self {
            semaphore: Arc::clone(&self.semaphore),
            progress: self.progress.clone(),
            runtime: PhantomData,
        }
    }
}

impl<R> fmt::Debug for TaskPool<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskPool")
            .field("semaphore", &self.semaphore)
            .field("progress_hook", &self.progress.is_some())
            .finish()
    }
}

impl<R: Runtime> TaskPool<R> {
    /// A pool running at most `limit` tasks at a time.
    ///
    /// # Errors
    ///
    /// [`ZeroLimitError`] if `limit` is zero (nothing could ever run); it converts into
    /// [`PoolError::ZeroLimit`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool, ZeroLimitError};
    ///
    /// fn pools<R: Runtime>() {
    ///     assert!(TaskPool::<R>::new(64).is_ok());
    ///     assert_eq!(TaskPool::<R>::new(0).unwrap_err(), ZeroLimitError);
    /// }
    /// ```
    pub fn new(limit: usize) -> Result<Self, ZeroLimitError> {
        if limit == 0 {
            return Err(ZeroLimitError);
        }
        Ok(Self::with_semaphore(Arc::new(Semaphore::new(limit))))
    }

    /// A pool whose tasks each hold one permit of `semaphore`: share it between pools (or
    /// with other code) to bound them all together.
    ///
    /// A semaphore with no capacity makes the operations fail with [`PoolError::ZeroLimit`];
    /// closing it makes them stop with [`PoolError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    /// use admit_runtime::{Runtime, TaskPool};
    /// use std::sync::Arc;
    ///
    /// fn two_pools<R: Runtime>() -> (TaskPool<R>, TaskPool<R>) {
    ///     let database = Arc::new(Semaphore::new(10)); // 10 connections between them
    ///     (
    ///         TaskPool::with_semaphore(Arc::clone(&database)),
    ///         TaskPool::with_semaphore(database),
    ///     )
    /// }
    /// ```
    #[must_use]
    pub fn with_semaphore(semaphore: Arc<Semaphore>) -> Self {
        Self {
            semaphore,
            progress: None,
            runtime: PhantomData,
        }
    }

    /// Calls `hook` with a [`Progress`] snapshot whenever a task starts or finishes.
    ///
    /// The hook runs on the task driving the operation, inside its `poll`: keep it short (update
    /// a progress bar, not redraw a screen).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    ///
    /// fn verbose<R: Runtime>() -> TaskPool<R> {
    ///     TaskPool::new(8)
    ///         .unwrap()
    ///         .on_progress(|p| eprintln!("{} done, {} running", p.done, p.in_flight))
    /// }
    /// ```
    #[must_use]
    pub fn on_progress(mut self, hook: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(hook));
        self
    }

    /// The semaphore bounding this pool.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    ///
    /// fn limit<R: Runtime>(pool: &TaskPool<R>) -> usize {
    ///     pool.semaphore().capacity()
    /// }
    /// ```
    #[must_use]
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.semaphore
    }

    /// Runs `futures` inline, at most K at a time, and streams their outputs in completion
    /// order, each with its index in the input.
    ///
    /// The stream yields `Err` once if the pool cannot run (K = 0) or its semaphore is closed
    /// (after the tasks already running have been yielded), then ends. To fail fast, stop at
    /// the first failed output and drop the stream: that cancels the rest.
    ///
    /// # Cancel safety
    ///
    /// Dropping the stream drops every started future and returns its permit.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    /// use futures_lite::StreamExt;
    ///
    /// async fn first_two<R: Runtime>() -> Vec<usize> {
    ///     let pool = TaskPool::<R>::new(4).unwrap();
    ///     let jobs = (0..100).map(|i| async move { Ok::<_, ()>(i * 2) });
    ///     let mut done = pool.as_completed(jobs);
    ///     let mut first = Vec::new();
    ///     while let Some(Ok((index, output))) = done.next().await {
    ///         first.push(output.unwrap());
    ///         if first.len() == 2 {
    ///             break; // dropping `done` cancels the rest
    ///         }
    ///     }
    ///     first
    /// }
    /// ```
    pub fn as_completed<I>(&self, futures: I) -> AsCompleted<I::IntoIter, Inline>
    where
        I: IntoIterator,
        I::Item: Future,
        <I::Item as Future>::Output: Outcome,
    {
        AsCompleted::new(self, futures.into_iter(), Inline)
    }

    /// Runs `futures` inline, at most K at a time, to the end, and returns their outputs in
    /// input order.
    ///
    /// # Errors
    ///
    /// [`PoolError::ZeroLimit`] or [`PoolError::Closed`] (see
    /// [`as_completed`](Self::as_completed)); task failures are in the outputs.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops every started future and returns its permit.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    ///
    /// async fn check_all<R: Runtime>(hosts: &[&str]) -> Vec<Result<(), String>> {
    ///     let pool = TaskPool::<R>::new(16).unwrap();
    ///     let checks = hosts.iter().map(|host| async move {
    ///         if host.is_empty() { Err("empty host".to_string()) } else { Ok(()) }
    ///     });
    ///     pool.gather(checks).await.unwrap()
    /// }
    /// ```
    pub async fn gather<I>(&self, futures: I) -> Result<Vec<<I::Item as Future>::Output>, PoolError>
    where
        I: IntoIterator,
        I::Item: Future,
        <I::Item as Future>::Output: Outcome,
    {
        collect::<R, _, _>(self.as_completed(futures)).await
    }

    /// Runs `futures` inline, at most K at a time, and returns their values in input order, or
    /// the first error, cancelling the rest (fail fast).
    ///
    /// # Errors
    ///
    /// [`PoolError::Failed`] with the first task error (in completion order), or
    /// [`PoolError::ZeroLimit`] / [`PoolError::Closed`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops every started future and returns its permit.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{PoolError, Runtime, TaskPool};
    ///
    /// async fn all_or_nothing<R: Runtime>() {
    ///     let pool = TaskPool::<R>::new(2).unwrap();
    ///     let jobs = (0..10).map(|i| async move { if i == 3 { Err(i) } else { Ok(i) } });
    ///     let result = pool.try_gather(jobs).await;
    ///     assert!(matches!(result, Err(PoolError::Failed { index: 3, error: 3 })));
    /// }
    /// ```
    pub async fn try_gather<I, T, E>(&self, futures: I) -> Result<Vec<T>, PoolError<E>>
    where
        I: IntoIterator,
        I::Item: Future<Output = Result<T, E>>,
    {
        try_collect::<R, _, _, _>(self.as_completed(futures)).await
    }

    /// Like [`as_completed`](Self::as_completed), but each future runs as a task on the
    /// runtime (in parallel on a multi-threaded runtime), holding an owned permit.
    ///
    /// # Panics
    ///
    /// Polling the stream panics with a task's panic payload if that task panicked; the other
    /// tasks are stopped when the stream is dropped.
    ///
    /// # Cancel safety
    ///
    /// Dropping the stream stops every task: each drops its future and its permit the next time
    /// the runtime polls it, which is promptly.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    /// use futures_lite::StreamExt;
    ///
    /// async fn hash_files<R: Runtime>(names: Vec<String>) {
    ///     let pool = TaskPool::<R>::new(4).unwrap();
    ///     let jobs = names.into_iter().map(|name| async move { Ok::<_, ()>(name.len()) });
    ///     let mut done = pool.spawn_as_completed(jobs);
    ///     while let Some(item) = done.next().await {
    ///         let (index, size) = item.unwrap();
    ///         println!("file {index}: {size:?}");
    ///     }
    /// }
    /// ```
    pub fn spawn_as_completed<I>(&self, futures: I) -> AsCompleted<I::IntoIter, Spawned<R>>
    where
        I: IntoIterator,
        I::Item: Future + Send + 'static,
        <I::Item as Future>::Output: Outcome + Send + 'static,
    {
        AsCompleted::new(self, futures.into_iter(), Spawned::new())
    }

    /// Like [`gather`](Self::gather), with each future spawned as a task on the runtime.
    ///
    /// # Errors
    ///
    /// As [`gather`](Self::gather).
    ///
    /// # Panics
    ///
    /// With a task's panic payload, after stopping the other tasks.
    ///
    /// # Cancel safety
    ///
    /// As [`spawn_as_completed`](Self::spawn_as_completed).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    ///
    /// async fn squares<R: Runtime>() -> Vec<Result<u64, ()>> {
    ///     let pool = TaskPool::<R>::new(8).unwrap();
    ///     pool.spawn_gather((0..100u64).map(|i| async move { Ok(i * i) })).await.unwrap()
    /// }
    /// ```
    pub async fn spawn_gather<I>(
        &self,
        futures: I,
    ) -> Result<Vec<<I::Item as Future>::Output>, PoolError>
    where
        I: IntoIterator,
        I::Item: Future + Send + 'static,
        <I::Item as Future>::Output: Outcome + Send + 'static,
    {
        collect::<R, _, _>(self.spawn_as_completed(futures)).await
    }

    /// Like [`try_gather`](Self::try_gather), with each future spawned as a task on the
    /// runtime: the first error stops every other task.
    ///
    /// # Errors
    ///
    /// As [`try_gather`](Self::try_gather).
    ///
    /// # Panics
    ///
    /// With a task's panic payload, after stopping the other tasks.
    ///
    /// # Cancel safety
    ///
    /// As [`spawn_as_completed`](Self::spawn_as_completed).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{PoolError, Runtime, TaskPool};
    ///
    /// async fn parse_all<R: Runtime>(lines: Vec<String>) -> Result<Vec<u32>, PoolError<std::num::ParseIntError>> {
    ///     let pool = TaskPool::<R>::new(4).unwrap();
    ///     pool.try_spawn_gather(lines.into_iter().map(|l| async move { l.parse::<u32>() })).await
    /// }
    /// ```
    pub async fn try_spawn_gather<I, T, E>(&self, futures: I) -> Result<Vec<T>, PoolError<E>>
    where
        I: IntoIterator,
        I::Item: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        try_collect::<R, _, _, _>(self.spawn_as_completed(futures)).await
    }
}

/// Collects a stream of indexed outputs into input order (each item consuming cooperative
/// budget, so that a pool of always-ready futures still yields on tokio).
async fn collect<R: Runtime, S, O>(mut stream: S) -> Result<Vec<O>, PoolError>
where
    S: Stream<Item = Result<(usize, O), PoolError>> + Unpin,
{
    let mut slots: Vec<Option<O>> = Vec::with_capacity(stream.size_hint().0);
    while let Some(item) = {
        R::budget().await;
        stream.next().await
    } {
        let (index, output) = item?;
        place(&mut slots, index, output);
    }
    Ok(unslot(slots))
}

/// Collects a stream of indexed results into input order, stopping at the first error.
async fn try_collect<R: Runtime, S, T, E>(mut stream: S) -> Result<Vec<T>, PoolError<E>>
where
    S: Stream<Item = Result<(usize, Result<T, E>), PoolError>> + Unpin,
{
    let mut slots: Vec<Option<T>> = Vec::with_capacity(stream.size_hint().0);
    while let Some(item) = {
        R::budget().await;
        stream.next().await
    } {
        match item.map_err(PoolError::widen)? {
            (index, Ok(value)) => place(&mut slots, index, value),
            // Returning drops the stream, which cancels everything still running.
            (index, Err(error)) => return Err(PoolError::Failed { index, error }),
        }
    }
    Ok(unslot(slots))
}

fn place<T>(slots: &mut Vec<Option<T>>, index: usize, value: T) {
    if slots.len() <= index {
        slots.resize_with(index + 1, || None);
    }
    slots[index] = Some(value);
}

fn unslot<T>(slots: Vec<Option<T>>) -> Vec<T> {
    slots
        .into_iter()
        .map(|slot| slot.expect("the pool yields every task's output exactly once"))
        .collect()
}

mod sealed {
    use super::{Future, OwnedPermit};

    /// How a pool starts a future; see [`Inline`](super::Inline) and
    /// [`Spawned`](super::Spawned).
    pub trait Mode<F: Future> {
        /// A started future: polled by the pool until it yields `F::Output`.
        type Job: Future<Output = F::Output> + Unpin;

        /// Starts `future`, which holds `permit` until it finishes. Returns the job, and the
        /// permit if the pool should hold it for the job.
        fn start(&mut self, future: F, permit: OwnedPermit) -> (Self::Job, Option<OwnedPermit>);
    }
}

/// Pool mode: the futures are polled by the caller, inside the pool's stream; nothing is
/// spawned.
///
/// # Examples
///
/// ```
/// use admit_runtime::{AsCompleted, Inline};
///
/// // The type of `TaskPool::as_completed` over a vector of boxed futures.
/// type Jobs = AsCompleted<
///     std::vec::IntoIter<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>>,
///     Inline,
/// >;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Inline;

impl<F: Future> sealed::Mode<F> for Inline {
    type Job = Pin<Box<F>>;

    fn start(&mut self, future: F, permit: OwnedPermit) -> (Self::Job, Option<OwnedPermit>) {
        (Box::pin(future), Some(permit))
    }
}

/// Pool mode: each future runs as a task on runtime `R`, holding its permit; dropping the
/// pool's stream stops the tasks.
///
/// # Examples
///
/// ```
/// use admit_runtime::{AsCompleted, Runtime, Spawned};
///
/// type Jobs<R> = AsCompleted<
///     std::vec::IntoIter<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
///     Spawned<R>,
/// >;
/// ```
pub struct Spawned<R> {
    /// Set when the pool's stream is dropped: tells its tasks to stop.
    cancel: Arc<Signal>,
    runtime: PhantomData<fn() -> R>,
}

impl<R> Spawned<R> {
    fn new() -> Self {
        Self {
            cancel: Arc::new(Signal::default()),
            runtime: PhantomData,
        }
    }
}

impl<R> fmt::Debug for Spawned<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawned")
            .field("cancelled", &self.cancel.is_set())
            .finish()
    }
}

impl<R> Drop for Spawned<R> {
    fn drop(&mut self) {
        self.cancel.set();
    }
}

impl<R, F> sealed::Mode<F> for Spawned<R>
where
    R: Runtime,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Job = SpawnedJob<R::JoinHandle<Option<(F::Output, OwnedPermit)>>>;

    fn start(&mut self, future: F, permit: OwnedPermit) -> (Self::Job, Option<OwnedPermit>) {
        let cancel = Arc::clone(&self.cancel);
        // The task holds the permit while it runs, and hands it back with its output, so that
        // the permit is free again only once the pool has seen the task finish (keeping
        // "in flight" within the limit), or once a stopped or panicked task is dropped.
        let task = async move {
            let cancelled = async {
                cancel.wait().await;
                None
            };
            let output = future::or(async { Some(future.await) }, cancelled).await;
            output.map(|output| (output, permit))
        };
        (SpawnedJob(R::spawn(task)), None)
    }
}

/// A spawned pool task, as the pool awaits it.
#[derive(Debug)]
pub struct SpawnedJob<H>(H);

impl<H, T> Future for SpawnedJob<H>
where
    H: Future<Output = Option<(T, OwnedPermit)>> + Unpin,
{
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0).poll(cx).map(|output| {
            let (output, permit) =
                output.expect("pool tasks are only stopped after the pool stops awaiting them");
            drop(permit);
            output
        })
    }
}

struct Running<J> {
    index: usize,
    job: J,
    /// The job's permit, if the pool holds it (inline mode); dropped when the job finishes.
    permit: Option<OwnedPermit>,
}

/// The stream returned by [`TaskPool::as_completed`] and [`TaskPool::spawn_as_completed`]:
/// each task's input index and output, in completion order.
///
/// Yields `Err` once if the pool cannot run ([`PoolError::ZeroLimit`]) or its semaphore was
/// closed ([`PoolError::Closed`], after the tasks already running), then ends.
///
/// Dropping it stops everything and leaks no permit: inline futures are dropped at once;
/// spawned tasks drop their future and permit as soon as the runtime next polls them (they
/// are woken for it).
///
/// # Examples
///
/// ```
/// use admit_runtime::{Runtime, TaskPool};
/// use futures_lite::StreamExt;
///
/// async fn count_failures<R: Runtime>() -> usize {
///     let pool = TaskPool::<R>::new(4).unwrap();
///     let jobs = (0..10).map(|i| async move { if i % 3 == 0 { Err(i) } else { Ok(i) } });
///     pool.as_completed(jobs)
///         .filter(|item| matches!(item, Ok((_, Err(_)))))
///         .count()
///         .await
/// }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<I, M>
where
    I: Iterator,
    I::Item: Future,
    M: sealed::Mode<I::Item>,
{
    input: std::iter::Enumerate<I>,
    /// The next input, waiting for its permit.
    next: Option<(usize, I::Item)>,
    /// The permit being waited for, when none was free.
    acquiring: Option<Pin<Box<AcquireOwned>>>,
    running: Vec<Running<M::Job>>,
    mode: M,
    semaphore: Arc<Semaphore>,
    hook: Option<ProgressHook>,
    progress: Progress,
    /// Set when no more tasks are started: the input is exhausted or the pool stopped.
    admission_over: bool,
    /// An error to yield once the running tasks are drained.
    error: Option<PoolError>,
}

// The engine never pins its input iterator nor an unstarted future (a future is only pinned
// once started, in its own box or task), so it can move freely whatever they are.
impl<I, M> Unpin for AsCompleted<I, M>
where
    I: Iterator,
    I::Item: Future,
    M: sealed::Mode<I::Item>,
{
}

impl<I, M> AsCompleted<I, M>
where
    I: Iterator,
    I::Item: Future,
    M: sealed::Mode<I::Item>,
{
    fn new<R>(pool: &TaskPool<R>, input: I, mode: M) -> Self {
        let (low, high) = input.size_hint();
        Self {
            input: input.enumerate(),
            next: None,
            acquiring: None,
            running: Vec::new(),
            mode,
            semaphore: Arc::clone(&pool.semaphore),
            hook: pool.progress.clone(),
            progress: Progress {
                total: (Some(low) == high).then_some(low),
                ..Progress::default()
            },
            admission_over: false,
            error: None,
        }
    }

    /// The progress so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    ///
    /// fn total<R: Runtime>() -> Option<usize> {
    ///     let pool = TaskPool::<R>::new(2).unwrap();
    ///     pool.as_completed((0..5).map(|_| async {})).progress().total
    /// }
    /// ```
    #[must_use]
    pub fn progress(&self) -> Progress {
        self.progress
    }

    fn report(&self) {
        if let Some(hook) = &self.hook {
            hook(self.progress);
        }
    }

    fn stop_admission(&mut self, error: PoolError) {
        self.admission_over = true;
        self.next = None;
        self.acquiring = None;
        self.error.get_or_insert(error);
    }

    /// Starts as many tasks as permits allow. Returns after registering for a wakeup (or when
    /// admission is over).
    fn admit(&mut self, cx: &mut Context<'_>) {
        while !self.admission_over {
            if self.next.is_none() {
                match self.input.next() {
                    Some(item) => self.next = Some(item),
                    None => {
                        self.admission_over = true;
                        return;
                    }
                }
            }
            let permit = match self.acquiring.as_mut() {
                Some(acquiring) => match acquiring.as_mut().poll(cx) {
                    Poll::Ready(Ok(permit)) => {
                        self.acquiring = None;
                        permit
                    }
                    Poll::Ready(Err(_)) => return self.stop_admission(PoolError::Closed),
                    Poll::Pending => return self.check_capacity(),
                },
                None => match Arc::clone(&self.semaphore).try_acquire_owned() {
                    Ok(permit) => permit,
                    Err(TryAcquireError::NoPermits) => {
                        self.acquiring =
                            Some(Box::pin(Arc::clone(&self.semaphore).acquire_owned()));
                        continue;
                    }
                    Err(_) => return self.stop_admission(PoolError::Closed),
                },
            };
            let (index, future) = self.next.take().expect("an input is waiting");
            let (job, permit) = self.mode.start(future, permit);
            self.running.push(Running { index, job, permit });
            self.progress.in_flight += 1;
            self.report();
        }
    }

    /// A pool waiting for a permit of a semaphore with no capacity, and running nothing,
    /// would wait forever: fail instead.
    fn check_capacity(&mut self) {
        if self.running.is_empty() && self.semaphore.capacity() == 0 {
            self.stop_admission(PoolError::ZeroLimit);
        }
    }
}

impl<I, M> Stream for AsCompleted<I, M>
where
    I: Iterator,
    I::Item: Future,
    <I::Item as Future>::Output: Outcome,
    M: sealed::Mode<I::Item>,
{
    type Item = Result<(usize, <I::Item as Future>::Output), PoolError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // Finished jobs are looked at before new ones are admitted, so that a failure is seen
        // before its freed permit starts another job; newly admitted jobs are then polled once
        // so that they register their wakers.
        let mut first_unpolled = 0;
        loop {
            for position in first_unpolled..this.running.len() {
                let slot = &mut this.running[position];
                if let Poll::Ready(output) = Pin::new(&mut slot.job).poll(cx) {
                    let Running { index, permit, .. } = this.running.swap_remove(position);
                    // The permit goes back before anyone hears of the result.
                    drop(permit);
                    this.progress.in_flight -= 1;
                    if output.is_failure() {
                        this.progress.failed += 1;
                    } else {
                        this.progress.done += 1;
                    }
                    this.report();
                    // The freed permit may let the next input start; it is admitted on the
                    // next poll, which the caller makes right away since it got an item.
                    return Poll::Ready(Some(Ok((index, output))));
                }
            }
            first_unpolled = this.running.len();
            this.admit(cx);
            if this.running.len() == first_unpolled {
                break;
            }
        }
        if this.admission_over && this.running.is_empty() {
            return Poll::Ready(this.error.take().map(Err));
        }
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let started = self.running.len() + usize::from(self.next.is_some());
        let (low, high) = self.input.size_hint();
        if self.admission_over {
            (self.running.len(), Some(self.running.len() + 1))
        } else {
            (
                low.saturating_add(started),
                high.and_then(|h| h.checked_add(started + 1)),
            )
        }
    }
}

impl<I, M> fmt::Debug for AsCompleted<I, M>
where
    I: Iterator,
    I::Item: Future,
    M: sealed::Mode<I::Item>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("progress", &self.progress)
            .field("waiting_for_permit", &self.acquiring.is_some())
            .field("admission_over", &self.admission_over)
            .finish_non_exhaustive()
    }
}
