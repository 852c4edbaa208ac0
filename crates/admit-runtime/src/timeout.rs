//! Acquiring with a time limit: [`acquire_timeout`] and [`acquire_deadline`].
//!
//! Both race the core's acquire future against the runtime's sleep, always polling the acquire
//! first. So a permit that is ready in the same instant the deadline fires is returned, and a
//! timeout drops the acquire future, which gives back any permits already assigned to it: the
//! semaphore is exactly as it would have been had the caller never asked.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use admit::{AcquireError, Permit, Semaphore};
use futures_lite::future;

use crate::{Runtime, deadline_after};

/// Why [`acquire_timeout`] or [`acquire_deadline`] returned no permit.
///
/// # Examples
///
/// ```
/// use admit_runtime::AcquireTimeoutError;
///
/// let e = AcquireTimeoutError::Timeout;
/// assert_eq!(e.to_string(), "timed out waiting for permits");
/// assert!(e.is_timeout());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireTimeoutError {
    /// The deadline passed before the permits were granted. The semaphore is unchanged.
    Timeout,
    /// The acquire itself failed (the semaphore is closed, or the request is too large).
    Acquire(AcquireError),
}

impl AcquireTimeoutError {
    /// Whether this is [`Timeout`](Self::Timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::AcquireError;
    /// use admit_runtime::AcquireTimeoutError;
    ///
    /// assert!(!AcquireTimeoutError::Acquire(AcquireError::Closed).is_timeout());
    /// ```
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout)
    }
}

impl From<AcquireError> for AcquireTimeoutError {
    fn from(error: AcquireError) -> Self {
        Self::Acquire(error)
    }
}

impl fmt::Display for AcquireTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out waiting for permits"),
            Self::Acquire(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl std::error::Error for AcquireTimeoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Timeout => None,
            Self::Acquire(error) => Some(error),
        }
    }
}

/// Acquires `n` permits from `sem`, giving up after `timeout`.
///
/// Equivalent to [`acquire_deadline`] with the deadline `R::now() + timeout`, read when this
/// function is called: the clock starts when the future is created, not when it is first
/// polled. If the permits are available at once they are returned, even with a zero timeout.
///
/// # Errors
///
/// * [`AcquireTimeoutError::Timeout`] if `timeout` elapses first;
/// * [`AcquireTimeoutError::Acquire`] with the semaphore's error if it is closed or `n` can
///   never be granted.
///
/// # Cancel safety
///
/// Cancel-safe: dropping the future (or timing out) returns every permit the wait was given,
/// and a permit granted in the same instant the deadline fires is returned to the caller, never
/// lost.
///
/// # Examples
///
/// ```
/// use admit::Semaphore;
/// use admit_runtime::{AcquireTimeoutError, Runtime};
/// use std::time::Duration;
///
/// async fn try_for_a_while<R: Runtime>(sem: &Semaphore) -> bool {
///     match admit_runtime::acquire_timeout::<R>(sem, 1, Duration::from_millis(50)).await {
///         Ok(_permit) => true,
///         Err(AcquireTimeoutError::Timeout) => false,
///         Err(e) => panic!("{e}"),
///     }
/// }
/// ```
pub fn acquire_timeout<R: Runtime>(
    sem: &Semaphore,
    n: usize,
    timeout: Duration,
) -> impl Future<Output = Result<Permit<'_>, AcquireTimeoutError>> + Send + '_ {
    acquire_deadline::<R>(sem, n, deadline_after(R::now(), timeout))
}

/// Acquires `n` permits from `sem`, giving up at `deadline` (on the runtime's clock,
/// [`Runtime::now`]).
///
/// If the permits are available at once they are returned, even if the deadline has passed.
///
/// # Errors
///
/// * [`AcquireTimeoutError::Timeout`] if the deadline passes first;
/// * [`AcquireTimeoutError::Acquire`] with the semaphore's error if it is closed or `n` can
///   never be granted.
///
/// # Cancel safety
///
/// As [`acquire_timeout`].
///
/// # Examples
///
/// ```
/// use admit::Semaphore;
/// use admit_runtime::{AcquireTimeoutError, Runtime};
/// use std::time::Duration;
///
/// /// Handles a request within its budget, or not at all.
/// async fn handle<R: Runtime>(sem: &Semaphore) -> Result<(), AcquireTimeoutError> {
///     let deadline = R::now() + Duration::from_millis(100);
///     let _permit = admit_runtime::acquire_deadline::<R>(sem, 1, deadline).await?;
///     // ... the work, which may itself check the same deadline ...
///     Ok(())
/// }
/// ```
pub async fn acquire_deadline<R: Runtime>(
    sem: &Semaphore,
    n: usize,
    deadline: Instant,
) -> Result<Permit<'_>, AcquireTimeoutError> {
    R::budget().await;
    let acquire = async { sem.acquire_many(n).await.map_err(AcquireTimeoutError::from) };
    let expire = async {
        R::sleep_until(deadline).await;
        Err(AcquireTimeoutError::Timeout)
    };
    // `or` polls `acquire` first, so a permit ready together with the deadline wins; returning
    // drops the loser, and dropping `acquire` gives back whatever it had been assigned.
    future::or(acquire, expire).await
}
