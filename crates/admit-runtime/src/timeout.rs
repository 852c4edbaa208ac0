//! Acquiring with a time limit: the error type of the `*_timeout` and `*_deadline` methods of
//! [`Semaphore`](crate::Semaphore), and the race behind them.
//!
//! Each races the core's acquire future against the runtime's sleep, always polling the acquire
//! first. So a permit that is ready in the same instant the deadline fires is returned, and a
//! timeout drops the acquire future, which gives back any permits already assigned to it: the
//! semaphore is exactly as it would have been had the caller never asked.

use std::fmt;
use std::future::Future;
use std::time::Instant;

use admit::AcquireError;
use futures_lite::future;

use crate::Runtime;

/// Why a `*_timeout` or `*_deadline` acquire of [`Semaphore`](crate::Semaphore) returned no
/// permit.
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

/// Races an acquire future against the runtime's sleep until `deadline`: what every
/// `*_timeout` and `*_deadline` method of [`Semaphore`](crate::Semaphore) returns.
pub(crate) async fn with_deadline<R: Runtime, P>(
    acquire: impl Future<Output = Result<P, AcquireError>>,
    deadline: Instant,
) -> Result<P, AcquireTimeoutError> {
    R::budget().await;
    let acquire = async { acquire.await.map_err(AcquireTimeoutError::from) };
    let expire = async {
        R::sleep_until(deadline).await;
        Err(AcquireTimeoutError::Timeout)
    };
    // `or` polls `acquire` first, so a permit ready together with the deadline wins; returning
    // drops the loser, and dropping `acquire` gives back whatever it had been assigned.
    future::or(acquire, expire).await
}
