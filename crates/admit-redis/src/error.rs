//! The error type of the fleet semaphore and rate limiter.

use std::fmt;
use std::sync::Arc;

/// Why a fleet operation failed.
///
/// # Examples
///
/// ```
/// use admit_redis::Error;
///
/// let error = Error::TooLarge { requested: 5, capacity: 3 };
/// assert_eq!(
///     error.to_string(),
///     "requested 5 permits but the fleet semaphore's capacity is 3: the request can never be granted"
/// );
/// assert!(!error.is_redis());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// This handle was closed ([`FleetSemaphore::close`](crate::FleetSemaphore::close)).
    Closed,
    /// More permits were asked for than the semaphore (or the limiter's burst) can ever give.
    TooLarge {
        /// Permits requested.
        requested: usize,
        /// The semaphore's capacity, or the rate limiter's burst.
        capacity: usize,
    },
    /// A `try_acquire` found no room (or others waiting ahead).
    NoPermits,
    /// A timeout passed before the permits were granted; nothing is held for the caller.
    Timeout,
    /// The name is already used in Redis with a different configuration.
    ConfigMismatch {
        /// The semaphore's or limiter's name.
        name: String,
        /// The configuration stored in Redis (capacity, or `count/period_ns/burst`).
        stored: String,
        /// The configuration this handle was created with.
        requested: String,
    },
    /// A configuration value is not usable (a zero capacity, a zero TTL, ...).
    InvalidConfig(&'static str),
    /// The ticket of a waiting caller vanished from Redis: the server lost its state (a restart
    /// without persistence, a failover) or could not be reached for longer than the TTL.
    /// Nothing is held; the caller may retry.
    TicketLost,
    /// Redis failed or could not be reached (connection refused, timeout, script error).
    Redis(Arc<redis::RedisError>),
}

impl Error {
    /// Whether the error came from Redis or the connection to it (and may go away on retry).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!admit_redis::Error::Closed.is_redis());
    /// ```
    #[must_use]
    pub fn is_redis(&self) -> bool {
        matches!(self, Self::Redis(_) | Self::TicketLost)
    }
}

impl From<redis::RedisError> for Error {
    fn from(error: redis::RedisError) -> Self {
        Self::Redis(Arc::new(error))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("fleet semaphore closed"),
            Self::TooLarge {
                requested,
                capacity,
            } => write!(
                f,
                "requested {requested} permits but the fleet semaphore's capacity is {capacity}: \
                 the request can never be granted"
            ),
            Self::NoPermits => f.write_str("no fleet permits available"),
            Self::Timeout => f.write_str("timed out waiting for fleet permits"),
            Self::ConfigMismatch {
                name,
                stored,
                requested,
            } => write!(
                f,
                "`{name}` exists in Redis with configuration {stored}, not {requested}: \
                 every process sharing a name must use the same configuration"
            ),
            Self::InvalidConfig(what) => write!(f, "invalid configuration: {what}"),
            Self::TicketLost => f.write_str(
                "the waiting ticket vanished from Redis (state lost, or the server was \
                 unreachable for longer than the TTL); nothing is held, retry",
            ),
            Self::Redis(error) => write!(f, "Redis error: {error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Redis(error) => Some(&**error),
            _ => None,
        }
    }
}
