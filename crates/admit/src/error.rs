//! The errors returned by acquiring and releasing.

use core::fmt;

/// Why an [`acquire`](crate::Semaphore::acquire) failed.
///
/// # Examples
///
/// ```
/// use admit::{AcquireError, Semaphore};
/// # futures_lite::future::block_on(async {
/// let sem = Semaphore::bounded(2);
/// assert_eq!(sem.acquire_many(3).await.unwrap_err(), AcquireError::TooLarge);
/// sem.close();
/// assert_eq!(sem.acquire().await.unwrap_err(), AcquireError::Closed);
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AcquireError {
    /// The semaphore was closed before the permits were granted.
    Closed,
    /// More permits were requested than the semaphore can ever hold: more than
    /// [`MAX_PERMITS`](crate::MAX_PERMITS), or more than the bound of a
    /// bounded semaphore.
    TooLarge,
}

/// Why a [`try_acquire`](crate::Semaphore::try_acquire) failed.
///
/// # Examples
///
/// ```
/// use admit::{Semaphore, TryAcquireError};
///
/// let sem = Semaphore::new(1);
/// let _held = sem.try_acquire().unwrap();
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TryAcquireError {
    /// The semaphore is closed.
    Closed,
    /// Not enough permits are free now, or waiters queued earlier come first.
    NoPermits,
    /// More permits were requested than the semaphore can ever hold.
    TooLarge,
}

/// Why a [`release`](crate::Semaphore::release) was refused. The semaphore is
/// unchanged.
///
/// # Examples
///
/// ```
/// use admit::{ReleaseError, Semaphore};
///
/// let sem = Semaphore::bounded(2);
/// assert_eq!(sem.release(1), Err(ReleaseError::ExceedsCapacity));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReleaseError {
    /// A bounded semaphore would hold more permits than its capacity.
    ExceedsCapacity,
    /// The semaphore would hold more than [`MAX_PERMITS`](crate::MAX_PERMITS).
    ExceedsMaxPermits,
}

impl From<AcquireError> for TryAcquireError {
    fn from(e: AcquireError) -> Self {
        match e {
            AcquireError::Closed => Self::Closed,
            AcquireError::TooLarge => Self::TooLarge,
        }
    }
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "semaphore closed",
            Self::TooLarge => "requested more permits than the semaphore can ever hold",
        })
    }
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "semaphore closed",
            Self::NoPermits => "no permits available",
            Self::TooLarge => "requested more permits than the semaphore can ever hold",
        })
    }
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ExceedsCapacity => "release would exceed the capacity of a bounded semaphore",
            Self::ExceedsMaxPermits => "release would exceed MAX_PERMITS",
        })
    }
}

impl core::error::Error for AcquireError {}
impl core::error::Error for TryAcquireError {}
impl core::error::Error for ReleaseError {}
