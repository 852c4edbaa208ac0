//! [`Options`] and the connection and timing helpers both fleet primitives use.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use admit_runtime::Runtime;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::Error;

/// How a [`FleetSemaphore`](crate::FleetSemaphore) or a
/// [`FleetRateLimiter`](crate::FleetRateLimiter) connects, and how long its leases last.
///
/// # Examples
///
/// ```
/// use admit_redis::Options;
/// use std::time::Duration;
///
/// let options = Options::new().with_lease_ttl(Duration::from_secs(30));
/// assert_eq!(options.lease_ttl(), Duration::from_secs(30));
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    lease_ttl: Duration,
    timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self::new()
    }
}

impl Options {
    /// The defaults: a 10 s lease TTL and a 5 s connection and response timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// assert_eq!(admit_redis::Options::new().lease_ttl(), Duration::from_secs(10));
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            lease_ttl: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
        }
    }

    /// How long a lease (a held permit) or a waiting ticket lives in Redis without a refresh.
    ///
    /// This process refreshes every TTL/3, so a live holder keeps its permits for as long as it
    /// can reach Redis; a process that dies (or cannot reach Redis) loses them within the TTL.
    /// Pick it well above the longest pause you expect (GC, a slow Redis, a network blip) and
    /// as short as the time you can afford to wait for a crashed holder's permits; see
    /// `docs/distributed.md`. At least 10 ms.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = admit_redis::Options::new().with_lease_ttl(Duration::from_secs(2));
    /// assert_eq!(options.lease_ttl(), Duration::from_secs(2));
    /// ```
    #[must_use]
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// How long connecting, and each command, may take before it fails with
    /// [`Error::Redis`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = admit_redis::Options::new().with_timeout(Duration::from_millis(500));
    /// assert_eq!(options.timeout(), Duration::from_millis(500));
    /// ```
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The lease TTL.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(admit_redis::Options::new().lease_ttl().as_secs(), 10);
    /// ```
    #[must_use]
    pub fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    /// The connection and response timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(admit_redis::Options::new().timeout().as_secs(), 5);
    /// ```
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Checks the options: a TTL of at least 10 ms and a non-zero timeout.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.lease_ttl < Duration::from_millis(10) {
            return Err(Error::InvalidConfig("the lease TTL must be at least 10 ms"));
        }
        if self.timeout.is_zero() {
            return Err(Error::InvalidConfig("the timeout must not be zero"));
        }
        Ok(())
    }

    /// A connection manager that fails fast: a bounded connect, a bounded response, and few
    /// reconnection attempts per request, so an unreachable server is an error within about
    /// two timeouts rather than a hang.
    pub(crate) async fn connect(
        &self,
        url: &str,
    ) -> Result<(redis::Client, ConnectionManager), Error> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(200));
        let manager = client.get_connection_manager_with_config(config).await?;
        Ok((client, manager))
    }
}

/// A random-enough id for this process's tickets and epochs: the standard library's
/// randomly seeded hasher over the pid and the clock.
pub(crate) fn process_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hash = RandomState::new().hash_one((std::process::id(), nanos));
    format!("{:x}-{hash:016x}", std::process::id())
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn timed_out(what: &str) -> Error {
    Error::Redis(Arc::new(redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("timed out {what}"),
    ))))
}

/// Spawns `future` on `R` and detaches it; `false` if `R` cannot spawn here (tokio outside a
/// runtime panics in `spawn`), so that a `drop` calling this never panics. The caller then
/// leaves the cleanup to an expiry in Redis.
pub(crate) fn spawn_detached<R: Runtime>(
    future: impl Future<Output = ()> + Send + 'static,
) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(R::spawn(future)))).is_ok()
}

/// `future`, or `None` once `timeout` has passed on `R`'s clock.
pub(crate) async fn with_timeout<R: Runtime, T>(
    timeout: Duration,
    future: impl Future<Output = T>,
) -> Option<T> {
    futures_lite::future::or(async { Some(future.await) }, async {
        R::sleep(timeout).await;
        None
    })
    .await
}
