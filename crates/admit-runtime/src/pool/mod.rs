//! [`TaskPool`]: run many futures with at most K in flight.
//!
//! # Implementation details
//!
//! One engine (in `engine.rs`) does the work; the pool's operations differ only in how they
//! feed it jobs and read its outputs:
//!
//! * [`AsCompleted`] feeds it from an input (an iterator, or a [`JobStream`]) and is a
//!   [`Stream`](futures_lite::Stream) of outputs in completion order;
//!   [`TaskPool::gather`] and [`TaskPool::try_gather`] are loops over it that put the outputs
//!   back in input order;
//! * [`PoolSet`] is fed one job at a time by its caller, like a bounded `JoinSet`.
//!
//! To start a job the engine takes one owned permit from the pool's semaphore (FIFO-fair, so
//! pools sharing a semaphore take turns), waiting in its queue when none is free, with the
//! pool's acquire timeout if it has one. In [`Inline`] mode the job is pinned in a slot the
//! engine polls itself; in [`Spawned`] mode it is spawned on the runtime with the permit moved
//! into the task, which hands it back with its output, so a permit is free again only once
//! the pool has seen its job finish. Every permit belongs to exactly one running job, so at
//! most K run.
//!
//! Each slot has its own waker, which queues the slot on a shared ready list; the engine
//! polls only the jobs on that list, so a completion costs the same whatever K is (the
//! scheme of `futures::stream::FuturesUnordered`). Slots, their wakers and (inline) the
//! boxes the jobs are pinned in are reused from job to job.
//!
//! Dropping the engine stops everything: inline jobs are dropped on the spot (with their
//! permits); spawned tasks are told to stop through a shared cancellation signal, and each
//! drops its future and its permit the next time the runtime polls it (at once, since the
//! signal wakes it). A job's panic is caught where the engine polls it, the job's slot and
//! permit are freed, and the panic is resumed in the caller; unwinding out of `gather` drops
//! the engine, stopping the rest.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::{Runtime, Semaphore};

mod as_completed;
mod engine;
mod error;
mod jobs;
mod set;

pub use as_completed::AsCompleted;
use engine::Engine;
pub use engine::{Inline, Spawned};
pub use error::{Incomplete, PoolError, ZeroLimitError};
pub use jobs::{IntoJobs, JobStream};
pub use set::PoolSet;

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
///     format!("{}/{total} done, {} running", p.finished, p.in_flight)
/// }
/// assert_eq!(render(Progress::default()), "0/? done, 0 running");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Jobs that finished (whatever their output).
    pub finished: usize,
    /// Jobs started and not yet finished (at most the pool's limit).
    pub in_flight: usize,
    /// The number of jobs, if the input knows it exactly (its `size_hint`).
    pub total: Option<usize>,
}

pub(crate) type ProgressHook = Arc<dyn Fn(Progress) + Send + Sync>;

/// Runs many futures ("jobs") with at most K in flight, on runtime `R`.
///
/// * **Input**: any `IntoIterator` of futures, or a stream of futures in a [`JobStream`]; or
///   one job at a time, as they arrive, through a [`PoolSet`] ([`join_set`](Self::join_set)).
/// * **Order**: [`gather`](Self::gather) returns the outputs in input order, whatever their
///   type; [`as_completed`](Self::as_completed) streams them in completion order, with their
///   input index.
/// * **Mode**: the plain methods run *inline*: the caller polls the jobs itself, nothing is
///   spawned and the jobs need not be `Send` or `'static`. The `spawn_` methods run each job
///   as a task on the runtime (for parallelism), holding an owned permit.
/// * **Errors**: [`try_gather`](Self::try_gather) takes jobs returning `Result` and fails
///   fast: the first `Err` cancels the rest and is returned. A pool that stops early (its
///   semaphore closed, or its [acquire timeout](Self::with_acquire_timeout) passed) keeps the
///   outputs that finished, in [`Incomplete`].
/// * **Cost**: only the jobs that were woken are polled, so a completion costs the same at
///   K = 16 or K = 4096 (see `docs/benchmarks.md`, group "pool").
/// * **Progress**: [`on_progress`](Self::on_progress) installs a hook called with a
///   [`Progress`] snapshot whenever a job starts or finishes.
/// * **Shared limits**: [`with_semaphore`](Self::with_semaphore) makes pools, and code that
///   acquires directly, share one [`Semaphore<R>`](Semaphore) (the adapters' `Semaphore`);
///   they take turns in its FIFO order.
///
/// Dropping a pool operation half-way stops everything and leaks no permit. A job that panics
/// makes the operation panic with the same payload, after its permit is given back and (as
/// the unwinding drops the operation) the rest are stopped.
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
///     Ok(pool.try_gather(urls.iter().map(|url| fetch(url))).await?)
/// }
/// ```
///
/// A job's output type is checked at the call (error E0271, "expected `{async block}` to be
/// a future that resolves to `Result<_, _>`, but it resolves to `u32`", pointing at the
/// argument):
///
/// ```compile_fail,E0271
/// # use admit_runtime::{Runtime, TaskPool};
/// async fn wrong<R: Runtime>(pool: TaskPool<R>) {
///     // `try_gather` wants jobs returning `Result`; these return `u32`.
///     let _ = pool.try_gather((0..3u32).map(|i| async move { i })).await;
/// }
/// ```
pub struct TaskPool<R> {
    semaphore: Arc<Semaphore<R>>,
    progress: Option<ProgressHook>,
    acquire_timeout: Option<Duration>,
    runtime: PhantomData<fn() -> R>,
}

impl<R> Clone for TaskPool<R> {
    fn clone(&self) -> Self {
        Self {
            semaphore: Arc::clone(&self.semaphore),
            progress: self.progress.clone(),
            acquire_timeout: self.acquire_timeout,
            runtime: PhantomData,
        }
    }
}

impl<R> fmt::Debug for TaskPool<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskPool")
            .field("semaphore", &self.semaphore)
            .field("progress_hook", &self.progress.is_some())
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

impl<R: Runtime> TaskPool<R> {
    /// A pool running at most `limit` jobs at a time.
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

    /// A pool whose jobs each hold one permit of `semaphore`: share it between pools (or
    /// with other code, which acquires from it directly) to bound them all together.
    ///
    /// The semaphore is the runtime-aware [`Semaphore<R>`](Semaphore) (the adapters'
    /// `Semaphore`); wrap a core `admit::Semaphore` with `Semaphore::from`. The pool holds
    /// each job's permit through the `Arc` (no allocation per job), and its acquires consume
    /// the runtime's cooperative budget as the semaphore's own do.
    ///
    /// A semaphore with no capacity makes the operations fail with [`PoolError::ZeroLimit`];
    /// closing it makes them stop starting jobs, with [`PoolError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore, TaskPool};
    /// use std::sync::Arc;
    ///
    /// async fn two_pools<R: Runtime>() {
    ///     let database = Arc::new(Semaphore::<R>::new(10)); // 10 connections between them
    ///     let reads = TaskPool::with_semaphore(Arc::clone(&database));
    ///     let writes = TaskPool::with_semaphore(Arc::clone(&database));
    ///     let _admin = database.acquire().await.unwrap(); // and direct acquires too
    ///     let (r, w) = futures_lite::future::zip(
    ///         reads.gather((0..5).map(|i| async move { i })),
    ///         writes.gather((0..5).map(|i| async move { i * 2 })),
    ///     )
    ///     .await;
    ///     assert_eq!(r.unwrap().len() + w.unwrap().len(), 10);
    /// }
    /// ```
    #[must_use]
    pub fn with_semaphore(semaphore: Arc<Semaphore<R>>) -> Self {
        Self {
            semaphore,
            progress: None,
            acquire_timeout: None,
            runtime: PhantomData,
        }
    }

    /// Calls `hook` with a [`Progress`] snapshot whenever a job starts or finishes.
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
    ///         .on_progress(|p| eprintln!("{} done, {} running", p.finished, p.in_flight))
    /// }
    /// ```
    #[must_use]
    pub fn on_progress(mut self, hook: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(hook));
        self
    }

    /// Gives up waiting for a free slot after `timeout`, measured on the runtime's clock from
    /// when the pool starts waiting for the slot of a job.
    ///
    /// When it passes, the operation stops starting jobs, as if the semaphore had closed: the
    /// jobs already running finish, their outputs are kept, and the operation ends with
    /// [`PoolError::AcquireTimeout`] (in an [`Incomplete`] for `gather`).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{PoolError, Runtime, TaskPool};
    /// use std::time::Duration;
    ///
    /// async fn impatient<R: Runtime>() {
    ///     let pool = TaskPool::<R>::new(1).unwrap().with_acquire_timeout(Duration::from_millis(5));
    ///     let _busy = pool.semaphore().try_acquire().unwrap(); // someone else holds the slot
    ///     let stopped = pool.gather([async { 1 }]).await.unwrap_err();
    ///     assert_eq!(stopped.error, PoolError::AcquireTimeout(Duration::from_millis(5)));
    ///     assert_eq!(stopped.to_string(), "no task pool slot came free within 5ms (0 of 1 jobs finished)");
    /// }
    /// ```
    #[must_use]
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = Some(timeout);
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
    pub fn semaphore(&self) -> &Arc<Semaphore<R>> {
        &self.semaphore
    }

    fn engine<F, M>(&self, mode: M, total: Option<usize>) -> Engine<F, M>
    where
        F: Future,
        M: engine::sealed::Mode<F, Runtime = R>,
    {
        Engine::new(
            Arc::clone(&self.semaphore),
            mode,
            self.progress.clone(),
            self.acquire_timeout,
            total,
        )
    }

    fn stream<J, M>(&self, jobs: J, mode: M) -> AsCompleted<J::Jobs, M>
    where
        J: IntoJobs,
        M: engine::sealed::Mode<J::Job, Runtime = R>,
    {
        let source = jobs.into_jobs();
        let total = AsCompleted::<J::Jobs, M>::exact_total(&source);
        AsCompleted::new(self.engine(mode, total), source)
    }

    /// Runs `jobs` inline, at most K at a time, and streams their outputs in completion
    /// order, each with its index in the input.
    ///
    /// The stream yields `Err` once if the pool stops starting jobs (its semaphore closed, its
    /// acquire timeout passed, or no capacity), after the outputs of the jobs already
    /// running, then ends. To fail fast, stop at the first failed output and drop the stream:
    /// that cancels the rest.
    ///
    /// # Cancel safety
    ///
    /// Dropping the stream drops every started job and returns its permit.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    ///
    /// async fn first_two<R: Runtime>() -> Vec<usize> {
    ///     let pool = TaskPool::<R>::new(4).unwrap();
    ///     let jobs = (0..100).map(|i| async move { i * 2 });
    ///     let mut done = pool.as_completed(jobs);
    ///     let mut first = Vec::new();
    ///     while let Some(Ok((_index, output))) = done.next().await {
    ///         first.push(output);
    ///         if first.len() == 2 {
    ///             break; // dropping `done` cancels the rest
    ///         }
    ///     }
    ///     first
    /// }
    /// ```
    pub fn as_completed<J: IntoJobs>(&self, jobs: J) -> AsCompleted<J::Jobs, Inline<R>> {
        self.stream(jobs, Inline::new())
    }

    /// Runs `jobs` inline, at most K at a time, to the end, and returns their outputs in
    /// input order.
    ///
    /// # Errors
    ///
    /// [`Incomplete`] if the pool stopped starting jobs ([`PoolError::Closed`],
    /// [`PoolError::AcquireTimeout`], [`PoolError::ZeroLimit`]): it holds the outputs of every
    /// job that finished (the jobs already running when the pool stopped run to the end).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops every started job and returns its permit.
    ///
    /// # Panics
    ///
    /// With a job's panic payload, after that job's permit is given back (the others are
    /// dropped as the panic unwinds).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    ///
    /// async fn sizes<R: Runtime>(names: &[&str]) -> Vec<usize> {
    ///     let pool = TaskPool::<R>::new(16).unwrap();
    ///     pool.gather(names.iter().map(|name| async move { name.len() })).await.unwrap()
    /// }
    /// ```
    pub async fn gather<J: IntoJobs>(
        &self,
        jobs: J,
    ) -> Result<Vec<J::Output>, Incomplete<J::Output>> {
        collect::<R, _, _, _, _, _>(self.as_completed(jobs), Ok).await
    }

    /// Runs `jobs` inline, at most K at a time, and returns their values in input order, or
    /// the first error, cancelling the rest (fail fast).
    ///
    /// # Errors
    ///
    /// [`Incomplete`] with [`PoolError::Failed`] and the first job error (in completion order),
    /// or with the reasons [`gather`](Self::gather) gives; it holds the values of the jobs
    /// that finished first.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops every started job and returns its permit.
    ///
    /// # Panics
    ///
    /// As [`gather`](Self::gather).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{PoolError, Runtime, TaskPool};
    ///
    /// async fn all_or_nothing<R: Runtime>() {
    ///     let pool = TaskPool::<R>::new(2).unwrap();
    ///     let jobs = (0..10).map(|i| async move { if i == 3 { Err(i) } else { Ok(i) } });
    ///     let stopped = pool.try_gather(jobs).await.unwrap_err();
    ///     assert_eq!(stopped.error, PoolError::Failed { index: 3, error: 3 });
    /// }
    /// ```
    pub async fn try_gather<J, T, E>(&self, jobs: J) -> Result<Vec<T>, Incomplete<T, E>>
    where
        J: IntoJobs<Output = Result<T, E>>,
    {
        collect::<R, _, _, _, _, _>(self.as_completed(jobs), |output| output).await
    }

    /// Like [`as_completed`](Self::as_completed), but each job runs as a task on the
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
    ///
    /// async fn hash_files<R: Runtime>(names: Vec<String>) {
    ///     let pool = TaskPool::<R>::new(4).unwrap();
    ///     let jobs = names.into_iter().map(|name| async move { name.len() });
    ///     let mut done = pool.spawn_as_completed(jobs);
    ///     while let Some(item) = done.next().await {
    ///         let (index, size) = item.unwrap();
    ///         println!("file {index}: {size}");
    ///     }
    /// }
    /// ```
    pub fn spawn_as_completed<J>(&self, jobs: J) -> AsCompleted<J::Jobs, Spawned<R>>
    where
        J: IntoJobs,
        J::Job: Send + 'static,
        J::Output: Send + 'static,
    {
        self.stream(jobs, Spawned::new())
    }

    /// Like [`gather`](Self::gather), with each job spawned as a task on the runtime.
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
    /// async fn squares<R: Runtime>() -> Vec<u64> {
    ///     let pool = TaskPool::<R>::new(8).unwrap();
    ///     pool.spawn_gather((0..100u64).map(|i| async move { i * i })).await.unwrap()
    /// }
    /// ```
    pub async fn spawn_gather<J>(&self, jobs: J) -> Result<Vec<J::Output>, Incomplete<J::Output>>
    where
        J: IntoJobs,
        J::Job: Send + 'static,
        J::Output: Send + 'static,
    {
        collect::<R, _, _, _, _, _>(self.spawn_as_completed(jobs), Ok).await
    }

    /// Like [`try_gather`](Self::try_gather), with each job spawned as a task on the
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
    ///     Ok(pool.try_spawn_gather(lines.into_iter().map(|l| async move { l.parse::<u32>() })).await?)
    /// }
    /// ```
    pub async fn try_spawn_gather<J, T, E>(&self, jobs: J) -> Result<Vec<T>, Incomplete<T, E>>
    where
        J: IntoJobs<Output = Result<T, E>>,
        J::Job: Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        collect::<R, _, _, _, _, _>(self.spawn_as_completed(jobs), |output| output).await
    }

    /// An empty [`PoolSet`] on this pool: submit jobs one at a time with
    /// [`PoolSet::spawn`] (which waits for a free slot), collect outputs as they finish with
    /// [`PoolSet::join_next`]. The jobs run inline, polled while the set is awaited.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    ///
    /// async fn sum<R: Runtime>(numbers: std::sync::mpsc::Receiver<u64>) -> u64 {
    ///     let pool = TaskPool::<R>::new(8).unwrap();
    ///     let mut set = pool.join_set();
    ///     for n in numbers.try_iter() {
    ///         set.spawn(async move { n * 2 }).await.unwrap();
    ///     }
    ///     let mut total = 0;
    ///     while let Some((_, doubled)) = set.join_next().await {
    ///         total += doubled;
    ///     }
    ///     total
    /// }
    /// ```
    #[must_use]
    pub fn join_set<F: Future>(&self) -> PoolSet<F, Inline<R>> {
        PoolSet::new(self.engine(Inline::new(), None))
    }

    /// Like [`join_set`](Self::join_set), but each job runs as a task on the runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    ///
    /// async fn run<R: Runtime>() -> Vec<(usize, u32)> {
    ///     let pool = TaskPool::<R>::new(2).unwrap();
    ///     let mut set = pool.spawn_join_set();
    ///     for i in 0..5u32 {
    ///         set.spawn(async move { i + 1 }).await.unwrap();
    ///     }
    ///     let mut outputs = Vec::new();
    ///     while let Some(output) = set.join_next().await {
    ///         outputs.push(output);
    ///     }
    ///     outputs.sort();
    ///     outputs
    /// }
    /// ```
    #[must_use]
    pub fn spawn_join_set<F>(&self) -> PoolSet<F, Spawned<R>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        PoolSet::new(self.engine(Spawned::new(), None))
    }
}

/// Collects a stream of indexed outputs into input order, each output split by `split` into
/// the value kept or a job error that stops the collection (`Ok` for `gather`, where a job
/// cannot fail; the output itself for `try_gather`). Each item consumes cooperative budget,
/// so that a pool of always-ready futures still yields on tokio.
async fn collect<R, S, M, T, E, P>(
    mut stream: AsCompleted<S, M>,
    split: P,
) -> Result<Vec<T>, Incomplete<T, E>>
where
    R: Runtime,
    S: jobs::sealed::Source,
    M: engine::sealed::Mode<S::Job>,
    P: Fn(<S::Job as Future>::Output) -> Result<T, E>,
{
    let total = stream.progress().total;
    let mut slots: Vec<Option<T>> = Vec::with_capacity(total.unwrap_or(0));
    while let Some(item) = {
        R::budget().await;
        stream.next().await
    } {
        let error = match item.map(|(index, output)| (index, split(output))) {
            Ok((index, Ok(value))) => {
                place(&mut slots, index, value);
                continue;
            }
            Ok((index, Err(error))) => PoolError::Failed { index, error },
            Err(error) => error.widen(),
        };
        slots.resize_with(slots.len().max(stream.taken()), || None);
        // Returning drops the stream, which cancels every job still running.
        return Err(Incomplete::new(error, slots, total));
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
        .map(|slot| slot.expect("the pool yields every job's output exactly once"))
        .collect()
}
