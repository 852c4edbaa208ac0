//! What a pool takes its jobs from: any `IntoIterator` of futures, or a [`Stream`] of futures
//! wrapped in [`JobStream`]; [`IntoJobs`] is the bound the pool's methods use for both.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::Stream;

pub(crate) mod sealed {
    use super::{Context, Future, Poll};

    /// Where a running pool takes its next job from: an iterator, or a [`JobStream`](super::JobStream).
    pub trait Source {
        /// A job: a future the pool runs.
        type Job: Future;

        /// The next job, `None` once there are no more, `Pending` if a stream has none yet
        /// (it wakes `cx` when it has).
        fn poll_next_job(&mut self, cx: &mut Context<'_>) -> Poll<Option<Self::Job>>;

        /// Bounds on the number of jobs left, as `Iterator::size_hint`.
        fn jobs_left(&self) -> (usize, Option<usize>);
    }
}

use sealed::Source;

impl<I> Source for I
where
    I: Iterator,
    I::Item: Future,
{
    type Job = I::Item;

    fn poll_next_job(&mut self, _: &mut Context<'_>) -> Poll<Option<I::Item>> {
        Poll::Ready(self.next())
    }

    fn jobs_left(&self) -> (usize, Option<usize>) {
        self.size_hint()
    }
}

/// A [`Stream`] of futures, as jobs for a [`TaskPool`](crate::TaskPool): the pool takes the
/// next future from the stream whenever it has a free slot, so jobs can arrive while others
/// run (from a channel, a directory listing, a paginated API...). Any `IntoIterator` of
/// futures needs no wrapper.
///
/// The stream is pinned in a box of its own, once, so it need not be `Unpin`.
///
/// # Examples
///
/// ```
/// use admit_runtime::{JobStream, Runtime, TaskPool};
/// use futures_lite::{StreamExt, stream};
///
/// async fn lengths<R: Runtime>() -> Vec<usize> {
///     let pool = TaskPool::<R>::new(4).unwrap();
///     let words = stream::iter(["a", "bb", "ccc"]).map(|w| async move { w.len() });
///     pool.gather(JobStream::new(words)).await.unwrap()
/// }
/// ```
pub struct JobStream<S>(Pin<Box<S>>);

impl<S> JobStream<S>
where
    S: Stream,
    S::Item: Future,
{
    /// Wraps `stream` so that a pool takes its jobs from it.
    ///
    /// # Examples
    ///
    /// See [`JobStream`].
    pub fn new(stream: S) -> Self {
        Self(Box::pin(stream))
    }
}

impl<S> fmt::Debug for JobStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobStream").finish_non_exhaustive()
    }
}

impl<S> Source for JobStream<S>
where
    S: Stream,
    S::Item: Future,
{
    type Job = S::Item;

    fn poll_next_job(&mut self, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.0.as_mut().poll_next(cx)
    }

    fn jobs_left(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

/// Inputs a [`TaskPool`](crate::TaskPool) can run: any `IntoIterator` whose items are
/// futures (a `Vec`, an iterator chain such as `(0..n).map(|i| async move { ... })`), or a
/// stream of futures wrapped in [`JobStream`].
///
/// Sealed: implemented for exactly those two.
///
/// # Examples
///
/// ```
/// use admit_runtime::{IntoJobs, JobStream};
///
/// fn takes_jobs<J: IntoJobs<Output = u32>>(_: J) {}
///
/// takes_jobs((0..3).map(|i| async move { i }));
/// takes_jobs(vec![std::future::ready(1u32)]);
/// takes_jobs(JobStream::new(futures_lite::stream::once(async { 7u32 })));
/// ```
///
/// Anything else is an error at the call, naming the input (E0277, "`{integer}` is not a
/// future"):
///
/// ```compile_fail,E0277
/// fn takes_jobs<J: admit_runtime::IntoJobs>(_: J) {}
///
/// takes_jobs(vec![1, 2, 3]); // numbers, not futures
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a collection of jobs a task pool can run",
    label = "expected an iterator of futures, or a stream of futures in `JobStream::new`",
    note = "jobs are futures: `(0..n).map(|i| async move {{ ... }})`, or a `Vec` of futures"
)]
pub trait IntoJobs {
    /// What each job returns.
    type Output;
    /// A job.
    type Job: Future<Output = Self::Output>;
    /// Where the pool takes the jobs from.
    type Jobs: Source<Job = Self::Job>;

    /// Turns the input into the pool's job source.
    fn into_jobs(self) -> Self::Jobs;
}

impl<I> IntoJobs for I
where
    I: IntoIterator,
    I::Item: Future,
{
    type Output = <I::Item as Future>::Output;
    type Job = I::Item;
    type Jobs = I::IntoIter;

    fn into_jobs(self) -> I::IntoIter {
        self.into_iter()
    }
}

impl<S> IntoJobs for JobStream<S>
where
    S: Stream,
    S::Item: Future,
{
    type Output = <S::Item as Future>::Output;
    type Job = S::Item;
    type Jobs = Self;

    fn into_jobs(self) -> Self {
        self
    }
}
