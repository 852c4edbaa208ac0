//! [`AsCompleted`]: the engine fed from an input (iterator or stream), as a [`Stream`] of
//! outputs in completion order.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::Stream;

use super::engine::Engine;
use super::engine::sealed::Mode;
use super::jobs::sealed::Source;
use super::{PoolError, Progress};

/// What [`AsCompleted`] yields: a job's input index and output, or why the pool stopped.
type Item<S> = Result<(usize, <<S as Source>::Job as Future>::Output), PoolError>;

/// The stream returned by [`TaskPool::as_completed`](crate::TaskPool::as_completed) and
/// [`TaskPool::spawn_as_completed`](crate::TaskPool::spawn_as_completed): each job's input
/// index and output, in completion order.
///
/// Read it with its own [`next`](Self::next) method (no trait to import), or as a
/// [`Stream`] (`futures::StreamExt` and `futures_lite::StreamExt` work).
///
/// Yields `Err` once if the pool stopped starting jobs ([`PoolError::Closed`],
/// [`PoolError::AcquireTimeout`], [`PoolError::ZeroLimit`]), after the outputs of every job
/// already running, then ends.
///
/// # Cancel safety
///
/// Dropping it stops everything and leaks no permit: inline jobs are dropped at once;
/// spawned tasks drop their future and permit as soon as the runtime next polls them (they
/// are woken for it). [`next`](Self::next) is cancel-safe: dropping its future loses no output.
///
/// # Panics
///
/// A job's panic is resumed in the caller of `next` (or `poll_next`), after that job's permit
/// is given back; the other jobs keep running if the stream is polled again, and stop when it
/// is dropped (as unwinding out of the caller does).
///
/// # Examples
///
/// ```
/// use admit_runtime::{Runtime, TaskPool};
///
/// async fn count_failures<R: Runtime>() -> usize {
///     let pool = TaskPool::<R>::new(4).unwrap();
///     let jobs = (0..10).map(|i| async move { if i % 3 == 0 { Err(i) } else { Ok(i) } });
///     let mut done = pool.as_completed(jobs);
///     let mut failures = 0;
///     while let Some(item) = done.next().await {
///         let (_index, output) = item.unwrap();
///         failures += usize::from(output.is_err());
///     }
///     failures
/// }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<S, M>
where
    S: Source,
    M: Mode<S::Job>,
{
    engine: Engine<S::Job, M>,
    source: S,
    /// The next input, waiting for its permit.
    next: Option<(usize, S::Job)>,
    /// Inputs taken from the source so far.
    taken: usize,
    /// Set when no more jobs are started: the input is exhausted or the pool stopped.
    admission_over: bool,
    /// An error to yield once the running jobs are drained.
    error: Option<PoolError>,
}

// The engine never pins its input nor an unstarted job (a job is pinned once started, in its
// slot's box or its task; a stream input in its own box), so it can move freely whatever
// they are.
impl<S, M> Unpin for AsCompleted<S, M>
where
    S: Source,
    M: Mode<S::Job>,
{
}

impl<S, M> AsCompleted<S, M>
where
    S: Source,
    M: Mode<S::Job>,
{
    pub(crate) fn new(engine: Engine<S::Job, M>, source: S) -> Self {
        Self {
            engine,
            source,
            next: None,
            taken: 0,
            admission_over: false,
            error: None,
        }
    }

    /// The input's exact length, if its size hint says so.
    pub(crate) fn exact_total(source: &S) -> Option<usize> {
        let (low, high) = source.jobs_left();
        (Some(low) == high).then_some(low)
    }

    /// The next output in completion order, with its input index; `None` at the end.
    ///
    /// The same as `StreamExt::next`, without importing a trait.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an output is only taken from the pool by the poll that returns it.
    ///
    /// # Panics
    ///
    /// With a job's panic payload, if that job panicked (see [`AsCompleted`]).
    ///
    /// # Examples
    ///
    /// See [`AsCompleted`].
    pub async fn next(&mut self) -> Option<Item<S>> {
        poll_fn(|cx| self.poll_item(cx)).await
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
        self.engine.progress
    }

    /// Inputs taken from the source so far (started, or waiting for a permit).
    pub(crate) fn taken(&self) -> usize {
        self.taken
    }

    fn stop_admission(&mut self, error: PoolError) {
        self.admission_over = true;
        self.next = None;
        self.engine.stop_waiting();
        self.error.get_or_insert(error);
    }

    /// Starts as many jobs as permits allow; returns whether it started any.
    fn admit(&mut self, cx: &mut Context<'_>) -> bool {
        let mut started = false;
        while !self.admission_over {
            if self.next.is_none() {
                match self.source.poll_next_job(cx) {
                    Poll::Ready(Some(job)) => {
                        self.next = Some((self.taken, job));
                        self.taken += 1;
                    }
                    Poll::Ready(None) => {
                        self.admission_over = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            match self.engine.poll_permit(cx) {
                Poll::Ready(Ok(permit)) => {
                    let (index, job) = self.next.take().expect("an input is waiting");
                    self.engine.start(index, job, permit);
                    started = true;
                }
                Poll::Ready(Err(error)) => self.stop_admission(error),
                Poll::Pending => break,
            }
        }
        started
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item<S>>> {
        self.engine.take_woken(cx);
        loop {
            // Finished jobs are looked at before new ones are admitted, so that a failure is
            // seen before its freed permit starts another job. The freed permit lets the next
            // input start on the next poll, which the caller makes at once since it got an
            // item.
            if let Some(finished) = self.engine.next_finished() {
                return Poll::Ready(Some(Ok(finished)));
            }
            // Newly started jobs are polled in the next pass, registering their wakers.
            if !self.admit(cx) {
                break;
            }
        }
        if self.admission_over && self.engine.running() == 0 {
            return Poll::Ready(self.error.take().map(Err));
        }
        Poll::Pending
    }
}

impl<S, M> Stream for AsCompleted<S, M>
where
    S: Source,
    M: Mode<S::Job>,
{
    type Item = Item<S>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let started = self.engine.running() + usize::from(self.next.is_some());
        if self.admission_over {
            let running = self.engine.running();
            (running, Some(running + 1))
        } else {
            let (low, high) = self.source.jobs_left();
            (
                low.saturating_add(started),
                high.and_then(|h| h.checked_add(started + 1)),
            )
        }
    }
}

impl<S, M> fmt::Debug for AsCompleted<S, M>
where
    S: Source,
    M: Mode<S::Job>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("progress", &self.engine.progress)
            .field("waiting_for_permit", &self.engine.is_waiting())
            .field("admission_over", &self.admission_over)
            .finish_non_exhaustive()
    }
}
