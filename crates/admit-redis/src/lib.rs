#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod options;
mod rate;
mod scripts;
mod semaphore;
#[cfg(feature = "test-server")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-server")))]
pub mod test_server;

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
