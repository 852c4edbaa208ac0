//! [`PoolSet`]: the engine fed one job at a time, like a bounded `JoinSet`.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{self, AssertUnwindSafe};
use std::task::Poll;
use std::thread;

use super::engine::Engine;
use super::engine::sealed::Mode;
use super::{PoolError, Progress};

/// Jobs submitted one at a time, at most K running, outputs collected as they finish: a
/// bounded `JoinSet`. Made by [`TaskPool::join_set`](crate::TaskPool::join_set) (inline) and
/// [`TaskPool::spawn_join_set`](crate::TaskPool::spawn_join_set) (a task per job).
///
/// [`spawn`](Self::spawn) waits for a free slot, then starts the job and returns its number
/// (0, 1, 2... in submission order); [`join_next`](Self::join_next) returns the next output to
/// finish, with that number. Outputs that finish while `spawn` waits are kept for
/// `join_next`.
///
/// Every job of a set has the same future type `F`: one `async` block in a loop is one type;
/// box jobs of different types (`Pin<Box<dyn Future<Output = T> + Send>>`).
///
/// In inline mode the jobs only make progress while `spawn` or `join_next` is being awaited
/// (as with `FuturesUnordered`); spawned jobs run on their own.
///
/// # Cancel safety
///
/// Dropping the set stops every job (inline jobs are dropped at once, spawned tasks as soon
/// as the runtime next polls them) and returns every permit. Dropping a `spawn` future before
/// it returns drops its job unstarted; dropping a `join_next` future loses no output.
///
/// # Panics
///
/// A job's panic is resumed in the caller of `join_next`, in completion order (as if it were
/// the job's output), after that job's permit is given back. `spawn` never panics for another
/// job: a panic it sees while waiting is kept for `join_next`.
///
/// # Examples
///
/// ```
/// use admit_runtime::{Runtime, TaskPool};
///
/// async fn crawl<R: Runtime>(mut links: Vec<String>) -> usize {
///     let pool = TaskPool::<R>::new(4).unwrap();
///     let mut set = pool.join_set();
///     let mut fetched = 0;
///     while let Some(link) = links.pop() {
///         // Waits while 4 fetches run; what finishes meanwhile is kept.
///         set.spawn(async move { link.len() }).await.unwrap();
///     }
///     while let Some((_number, size)) = set.join_next().await {
///         fetched += size;
///     }
///     fetched
/// }
/// ```
pub struct PoolSet<F, M>
where
    F: Future,
    M: Mode<F>,
{
    engine: Engine<F, M>,
    /// Outputs (or panics) that finished while `spawn` waited, in completion order.
    finished: VecDeque<thread::Result<(usize, F::Output)>>,
    submitted: usize,
}

impl<F, M> PoolSet<F, M>
where
    F: Future,
    M: Mode<F>,
{
    pub(crate) fn new(engine: Engine<F, M>) -> Self {
        Self {
            engine,
            finished: VecDeque::new(),
            submitted: 0,
        }
    }

    /// Waits for a free slot, then starts `job`; returns its number (the count of jobs
    /// submitted before it), which [`join_next`](Self::join_next) returns with its output.
    ///
    /// While it waits, it polls the running jobs (inline mode) and keeps their outputs.
    ///
    /// # Errors
    ///
    /// [`PoolError::Closed`] if the pool's semaphore is closed, [`PoolError::AcquireTimeout`]
    /// if no slot came free within the pool's acquire timeout, [`PoolError::ZeroLimit`] if the
    /// semaphore has no capacity. `job` is then dropped unstarted; the set is unchanged.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops `job` unstarted (it holds no permit yet) and loses no
    /// output.
    ///
    /// # Examples
    ///
    /// See [`PoolSet`].
    pub async fn spawn(&mut self, job: F) -> Result<usize, PoolError> {
        let mut job = Some(job);
        poll_fn(|cx| {
            self.engine.take_woken(cx);
            // Finished jobs first: each gives its permit back.
            self.keep_finished();
            let permit = match self.engine.poll_permit(cx) {
                Poll::Ready(Ok(permit)) => permit,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            };
            let number = self.submitted;
            self.submitted += 1;
            let job = job.take().expect("spawn completes once");
            self.engine.start(number, job, permit);
            // Polled now, so that it registers its waker (and may even finish).
            self.keep_finished();
            Poll::Ready(Ok(number))
        })
        .await
    }

    /// The next job to finish, with the number [`spawn`](Self::spawn) gave it; `None` when
    /// no job is left.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an output is only taken from the set by the poll that returns it.
    ///
    /// # Panics
    ///
    /// With a job's panic payload, if one panicked.
    ///
    /// # Examples
    ///
    /// See [`PoolSet`].
    pub async fn join_next(&mut self) -> Option<(usize, F::Output)> {
        // Not waiting to start anything: a permit assigned to an abandoned `spawn` goes back.
        self.engine.stop_waiting();
        poll_fn(|cx| {
            if let Some(finished) = self.finished.pop_front() {
                return Poll::Ready(Some(
                    finished.unwrap_or_else(|payload| panic::resume_unwind(payload)),
                ));
            }
            self.engine.take_woken(cx);
            if let Some(finished) = self.engine.next_finished() {
                return Poll::Ready(Some(finished));
            }
            if self.engine.running() == 0 {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// Polls the woken jobs, keeping what finishes (outputs and panics) for `join_next`.
    fn keep_finished(&mut self) {
        loop {
            match panic::catch_unwind(AssertUnwindSafe(|| self.engine.next_finished())) {
                Ok(Some(finished)) => self.finished.push_back(Ok(finished)),
                Ok(None) => return,
                Err(payload) => self.finished.push_back(Err(payload)),
            }
        }
    }

    /// Jobs started and not yet returned by [`join_next`](Self::join_next).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    ///
    /// async fn run<R: Runtime>() {
    ///     let pool = TaskPool::<R>::new(2).unwrap();
    ///     let mut set = pool.join_set();
    ///     set.spawn(async { 1 }).await.unwrap();
    ///     assert_eq!(set.len(), 1);
    ///     set.join_next().await;
    ///     assert!(set.is_empty());
    /// }
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.engine.running() + self.finished.len()
    }

    /// Whether no job is left (see [`len`](Self::len)).
    ///
    /// # Examples
    ///
    /// See [`len`](Self::len).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The progress so far; `total` is `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, TaskPool};
    ///
    /// fn fresh<R: Runtime>() -> usize {
    ///     let pool = TaskPool::<R>::new(2).unwrap();
    ///     let set = pool.join_set::<std::future::Ready<()>>();
    ///     set.progress().finished
    /// }
    /// ```
    #[must_use]
    pub fn progress(&self) -> Progress {
        self.engine.progress
    }
}

impl<F, M> fmt::Debug for PoolSet<F, M>
where
    F: Future,
    M: Mode<F>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolSet")
            .field("progress", &self.engine.progress)
            .field("finished_unjoined", &self.finished.len())
            .finish_non_exhaustive()
    }
}
