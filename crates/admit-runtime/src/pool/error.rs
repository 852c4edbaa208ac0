//! What a pool operation reports when it cannot run every job: [`PoolError`] (why) and
//! [`Incomplete`] (why, with the outputs of the jobs that did finish).

use std::convert::Infallible;
use std::fmt;
use std::time::Duration;

/// Why a pool operation stopped before running every job.
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
    /// The pool's semaphore has no capacity (and nothing is running): nothing could ever run.
    ZeroLimit,
    /// The pool's semaphore was closed: no more jobs are started (those already running
    /// finish, and their outputs are kept).
    Closed,
    /// No slot came free within the pool's acquire timeout
    /// ([`TaskPool::with_acquire_timeout`](crate::TaskPool::with_acquire_timeout)): no more
    /// jobs are started (those already running finish, and their outputs are kept).
    AcquireTimeout(Duration),
    /// A job failed and the operation fails fast ([`TaskPool::try_gather`](crate::TaskPool::try_gather));
    /// the jobs still running were cancelled.
    Failed {
        /// The failed job's position in the input.
        index: usize,
        /// Its error.
        error: E,
    },
}

impl PoolError {
    /// The same pool-level error with a job error type of choice.
    pub(crate) fn widen<E>(self) -> PoolError<E> {
        match self {
            Self::ZeroLimit => PoolError::ZeroLimit,
            Self::Closed => PoolError::Closed,
            Self::AcquireTimeout(waited) => PoolError::AcquireTimeout(waited),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for PoolError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroLimit => f.write_str("ZeroLimit"),
            Self::Closed => f.write_str("Closed"),
            Self::AcquireTimeout(waited) => f.debug_tuple("AcquireTimeout").field(waited).finish(),
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
            Self::AcquireTimeout(waited) => {
                write!(f, "no task pool slot came free within {waited:?}")
            }
            Self::Failed { index, error } => write!(f, "job {index} failed: {error}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for PoolError<E> {}

/// [`TaskPool::new`](crate::TaskPool::new) was given a limit of zero: nothing could ever run.
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

/// A `gather` that stopped before every job finished: why ([`error`](Self::error)), and the
/// outputs of the jobs that did finish ([`outputs`](Self::outputs)), none of them lost.
///
/// Converts into its [`PoolError`] (dropping the outputs), so `?` works in functions
/// returning a [`PoolError`]; it is itself an [`Error`](std::error::Error) whatever the output
/// type (its `Debug` and `Display` show counts, not outputs).
///
/// # Examples
///
/// ```
/// use admit_runtime::{PoolError, Runtime, Semaphore, TaskPool};
/// use std::sync::Arc;
///
/// async fn run<R: Runtime>() {
///     let sem = Arc::new(Semaphore::<R>::new(1)); // one job at a time
///     let pool = TaskPool::<R>::with_semaphore(Arc::clone(&sem));
///     let jobs = (0..10).map(|i| {
///         let sem = Arc::clone(&sem);
///         async move {
///             if i == 3 {
///                 sem.close(); // stops admission; job 3 itself still finishes
///             }
///             i * 10
///         }
///     });
///     let stopped = pool.gather(jobs).await.unwrap_err();
///     assert_eq!(stopped.error, PoolError::Closed);
///     assert_eq!(stopped.outputs[..4], [Some(0), Some(10), Some(20), Some(30)]);
///     assert_eq!(stopped.finished(), 4);
///     assert_eq!(stopped.to_string(), "the task pool's semaphore was closed (4 of 10 jobs finished)");
/// }
/// ```
#[non_exhaustive]
pub struct Incomplete<T, E = Infallible> {
    /// Why the operation stopped.
    pub error: PoolError<E>,
    /// One entry per job the pool took from its input, in input order: `Some` with the output
    /// of each job that finished, `None` for those that were cancelled or never started. Jobs
    /// the pool never took from its input have no entry.
    pub outputs: Vec<Option<T>>,
    /// The number of jobs in the input, if it said so exactly (its `size_hint`).
    pub total: Option<usize>,
}

impl<T, E> Incomplete<T, E> {
    pub(crate) fn new(error: PoolError<E>, outputs: Vec<Option<T>>, total: Option<usize>) -> Self {
        Self {
            error,
            outputs,
            total,
        }
    }

    /// How many jobs finished (and have their output in [`outputs`](Self::outputs)).
    ///
    /// # Examples
    ///
    /// See [`Incomplete`].
    #[must_use]
    pub fn finished(&self) -> usize {
        self.outputs.iter().filter(|o| o.is_some()).count()
    }
}

impl<T, E> From<Incomplete<T, E>> for PoolError<E> {
    fn from(incomplete: Incomplete<T, E>) -> Self {
        incomplete.error
    }
}

impl<T, E: fmt::Debug> fmt::Debug for Incomplete<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incomplete")
            .field("error", &self.error)
            .field("finished", &self.finished())
            .field("taken", &self.outputs.len())
            .field("total", &self.total)
            .finish()
    }
}

impl<T, E: fmt::Display> fmt::Display for Incomplete<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let finished = self.finished();
        match self.total {
            Some(total) => write!(f, "{} ({finished} of {total} jobs finished)", self.error),
            None => write!(
                f,
                "{} ({finished} jobs finished, the rest did not run)",
                self.error
            ),
        }
    }
}

impl<T, E: fmt::Debug + fmt::Display> std::error::Error for Incomplete<T, E> {}
