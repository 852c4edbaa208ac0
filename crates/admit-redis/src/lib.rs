//! admit across a fleet: a semaphore and a rate limiter shared by many processes through
//! Redis, with the semantics of admit's local ones.
//!
//! * [`FleetSemaphore`]: at most `capacity` permits held across every process that opens the
//!   same name, FIFO-fair across the fleet (a large request at the head is never starved),
//!   weighted, cancel-safe; held permits are leases that expire when their process dies, and
//!   carry a fencing token; waiting is push-based (pub/sub) with a slow fallback refresh.
//! * [`FleetRateLimiter`]: at most N acquisitions per period across the fleet, GCRA on the
//!   server's clock with the arithmetic of [`admit::rate::Gcra`], FIFO, weighted.
//!
//! Both run on any runtime with an `admit_runtime::Runtime` implementation (tokio, smol and
//! async-std are tested); redis-rs drives the connection with tokio inside a tokio runtime and
//! with async-io (smol's reactor, on which async-std also runs) elsewhere.
//!
//! The design, the keys and scripts, the guarantees and exactly what breaks them (a restart
//! without persistence, a failover, clocks) are in `docs/distributed.md`.
//!
//! # Examples
//!
//! ```no_run
//! use admit_redis::{FleetRateLimiter, FleetSemaphore};
//! use admit_tokio::Tokio;
//! use std::time::Duration;
//!
//! # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
//! let url = "redis://127.0.0.1/";
//! // The partner allows 100 concurrent calls and 1,000 calls a minute, for all replicas.
//! let concurrent = FleetSemaphore::<Tokio>::connect(url, "partner", 100).await?;
//! let per_minute = FleetRateLimiter::<Tokio>::connect(url, "partner", 1_000, Duration::from_secs(60)).await?;
//!
//! per_minute.acquire().await?;
//! let permit = concurrent.acquire().await?;
//! // ... the call ...
//! drop(permit);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod error;
mod options;
mod rate;
mod scripts;
mod semaphore;

pub use error::Error;
pub use options::Options;
pub use rate::FleetRateLimiter;
pub use semaphore::{FleetPermit, FleetSemaphore};

/// The Redis keys used by the fleet semaphore `name`, for inspection and tests: `meta`,
/// `queue`, `waits`, `holders`, `weights`, `fences` (see `docs/distributed.md`).
///
/// # Examples
///
/// ```
/// let keys = admit_redis::semaphore_keys("api");
/// assert_eq!(keys[0], "admit:{api}:meta");
/// ```
#[must_use]
pub fn semaphore_keys(name: &str) -> [String; 6] {
    semaphore::keys(name)
}
