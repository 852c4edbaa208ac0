//! The lock around the wait queue, chosen by feature.
//!
//! | build                          | lock                                         |
//! |--------------------------------|----------------------------------------------|
//! | `--cfg admit_loom`             | `loom::sync::Mutex` (model-checked)          |
//! | feature `critical-section`     | a [`critical_section`] (interrupt-safe, embedded) |
//! | feature `std`                  | `std::sync::Mutex<()>` (futex, parks threads) |
//! | neither                        | a test-and-test-and-set spin lock            |
//!
//! On the acquire and release paths the lock is held only for short, bounded
//! pieces of work: linking or unlinking one waiter, or handing permits to at
//! most [`WakeList::CAPACITY`] waiters. Two rare operations walk the whole
//! queue under it: `Semaphore::waiter_count` (documented as a diagnostic) and
//! shrinking a bounded semaphore (to fail requests above the new bound). No
//! user code (waker `wake`, `clone` or `drop`) ever runs while it is held.
//!
//! [`WakeList::CAPACITY`]: crate::wake_list::WakeList::CAPACITY

#[cfg(not(any(admit_loom, feature = "critical-section", feature = "std")))]
use core::sync::atomic::{AtomicBool, Ordering};

use crate::sync::loom_const_fn;

/// The wait-queue lock. See the module docs for which implementation is used.
pub(crate) struct WaitLock {
    #[cfg(admit_loom)]
    inner: loom::sync::Mutex<()>,
    #[cfg(all(not(admit_loom), feature = "critical-section"))]
    inner: (),
    #[cfg(all(not(admit_loom), not(feature = "critical-section"), feature = "std"))]
    inner: std::sync::Mutex<()>,
    #[cfg(not(any(admit_loom, feature = "critical-section", feature = "std")))]
    inner: AtomicBool,
}

/// Proof that the wait-queue lock is held; releases it on drop.
pub(crate) struct WaitLockGuard<'a> {
    #[cfg(admit_loom)]
    _inner: loom::sync::MutexGuard<'a, ()>,
    #[cfg(all(not(admit_loom), feature = "critical-section"))]
    restore: critical_section::RestoreState,
    #[cfg(all(not(admit_loom), feature = "critical-section"))]
    _lock: core::marker::PhantomData<&'a WaitLock>,
    #[cfg(all(not(admit_loom), not(feature = "critical-section"), feature = "std"))]
    _inner: std::sync::MutexGuard<'a, ()>,
    #[cfg(not(any(admit_loom, feature = "critical-section", feature = "std")))]
    lock: &'a WaitLock,
}

impl WaitLock {
    loom_const_fn! {
        pub(crate) fn new() -> Self {
            Self {
                #[cfg(admit_loom)]
                inner: loom::sync::Mutex::new(()),
                #[cfg(all(not(admit_loom), feature = "critical-section"))]
                inner: (),
                #[cfg(all(not(admit_loom), not(feature = "critical-section"), feature = "std"))]
                inner: std::sync::Mutex::new(()),
                #[cfg(not(any(admit_loom, feature = "critical-section", feature = "std")))]
                inner: AtomicBool::new(false),
            }
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> WaitLockGuard<'_> {
        #[cfg(admit_loom)]
        {
            WaitLockGuard {
                _inner: self.inner.lock().unwrap(),
            }
        }
        #[cfg(all(not(admit_loom), feature = "critical-section"))]
        {
            let () = self.inner;
            // SAFETY: the matching `release` is in `WaitLockGuard::drop`, and
            // guards are dropped in reverse order of acquisition because they
            // never escape the function that took them.
            let restore = unsafe { critical_section::acquire() };
            WaitLockGuard {
                restore,
                _lock: core::marker::PhantomData,
            }
        }
        #[cfg(all(not(admit_loom), not(feature = "critical-section"), feature = "std"))]
        {
            // No user code runs under the lock, so a poisoned lock only means
            // some unrelated panic unwound through a guard; the queue is
            // consistent at every point where a panic could happen.
            WaitLockGuard {
                _inner: self.inner.lock().unwrap_or_else(|e| e.into_inner()),
            }
        }
        #[cfg(not(any(admit_loom, feature = "critical-section", feature = "std")))]
        {
            loop {
                if self
                    .inner
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return WaitLockGuard { lock: self };
                }
                while self.inner.load(Ordering::Relaxed) {
                    core::hint::spin_loop();
                }
            }
        }
    }
}

impl Drop for WaitLockGuard<'_> {
    fn drop(&mut self) {
        #[cfg(all(not(admit_loom), feature = "critical-section"))]
        {
            // SAFETY: `restore` came from the `acquire` in `WaitLock::lock`,
            // and guards are released in reverse order (see there).
            unsafe { critical_section::release(self.restore) }
        }
        #[cfg(not(any(admit_loom, feature = "critical-section", feature = "std")))]
        {
            self.lock.inner.store(false, Ordering::Release);
        }
    }
}
