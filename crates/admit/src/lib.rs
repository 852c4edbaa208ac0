// The front page is the crate's README, shared with crates.io (so its links are absolute);
// its examples run as doctests. The design is described at the top of `raw.rs`.
#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod acquire;
mod error;
mod list;
mod lock;
mod permit;
pub mod rate;
mod raw;
mod semaphore;
mod sync;
mod wake_list;

pub use error::{AcquireError, ReleaseError, TryAcquireError};
#[cfg(feature = "alloc")]
pub use permit::OwnedPermit;
pub use permit::Permit;
pub use raw::OVERTAKE_LIMIT;
pub use semaphore::{Fairness, Semaphore};

/// The named futures returned by the acquire methods.
pub mod futures {
    pub use crate::acquire::Acquire;
    #[cfg(feature = "alloc")]
    pub use crate::acquire::AcquireOwned;
}

/// The largest number of permits a semaphore can hold, and the largest
/// request it accepts: `usize::MAX >> 8` (2^56 - 1 on 64-bit targets, 2^24 - 1
/// on 32-bit ones). Also [`Semaphore::MAX_PERMITS`].
///
/// # Examples
///
/// ```
/// use admit::{MAX_PERMITS, Semaphore, TryAcquireError};
///
/// let sem = Semaphore::new(1);
/// assert_eq!(sem.try_acquire_many(MAX_PERMITS + 1).unwrap_err(), TryAcquireError::TooLarge);
/// ```
pub const MAX_PERMITS: usize = usize::MAX >> 8;
