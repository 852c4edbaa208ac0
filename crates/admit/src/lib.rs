// The README's examples run the adapters, which are not built under Miri
// (they are dev-dependencies only outside it): Miri runs the API examples.
#![cfg_attr(not(miri), doc = include_str!("../README.md"))]
//!
//! # Features
//!
//! - `std` (default): blocking acquire for threads; a waiter for the
//!   wait-queue lock yields its thread after a short spin. Implies `alloc`.
//! - `alloc`: owned permits ([`Semaphore::acquire_owned`] and friends).
//! - `critical-section`: guard the wait queue with a critical section, for
//!   embedded targets where interrupts acquire permits.
//!
//! Without `critical-section` the wait queue is guarded by a spin lock (a bit
//! of the queue's head pointer) held only for a few dozen instructions at a
//! time.
//!
//! The design (state word, queue, orderings, fairness) is described at the
//! top of the `raw` module source and in `docs/design.md`.
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
