//! The synchronization facade: `core` atomics and cells normally, loom's under
//! `--cfg admit_loom`, so the model tests exercise the very code that ships.
//!
//! Only what the semaphore needs lives here. The wait-queue lock is in
//! [`crate::lock`].

#[cfg(admit_loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

#[cfg(not(admit_loom))]
pub(crate) use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// An `UnsafeCell` with loom's closure-based access API, so that loom can
/// track every access to lock-protected data.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(
    #[cfg(admit_loom)] loom::cell::UnsafeCell<T>,
    #[cfg(not(admit_loom))] core::cell::UnsafeCell<T>,
);

impl<T> UnsafeCell<T> {
    #[cfg(not(admit_loom))]
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    #[cfg(admit_loom)]
    pub(crate) fn new(value: T) -> Self {
        Self(loom::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a mutable pointer to the contents.
    ///
    /// The caller must dereference the pointer only while it has exclusive
    /// access to the contents (in this crate: while holding the wait-queue
    /// lock, or while owning an unlinked waiter).
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(admit_loom)]
        {
            self.0.with_mut(f)
        }
        #[cfg(not(admit_loom))]
        {
            f(self.0.get())
        }
    }
}

/// Declares a function `const` except under loom, whose types have no const
/// constructors.
macro_rules! loom_const_fn {
    ($(#[$meta:meta])* $vis:vis fn $($rest:tt)*) => {
        #[cfg(not(admit_loom))]
        $(#[$meta])* $vis const fn $($rest)*
        #[cfg(admit_loom)]
        $(#[$meta])* $vis fn $($rest)*
    };
}
pub(crate) use loom_const_fn;
