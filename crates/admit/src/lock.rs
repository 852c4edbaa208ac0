//! The lock around the wait queue, chosen by feature.
//!
//! | build                          | lock                                         |
//! |--------------------------------|----------------------------------------------|
//! | `--cfg admit_loom`             | `loom::sync::Mutex` (model-checked)          |
//! | feature `critical-section`     | a [`critical_section`] (interrupt-safe, embedded) |
//! | otherwise (with or without `std`) | a test-and-test-and-set spin lock with exponential backoff; with `std` it yields the thread after the backoff |
//!
//! Why a spin lock and not `std::sync::Mutex` under `std`: the lock is held
//! for a few dozen instructions at a time (see below), so a waiter nearly
//! always gets it within the backoff. Its release is a plain `Release` store,
//! where the futex mutex's is an atomic swap (and a `futex` wake-up system
//! call once a thread has parked); in the contended benchmarks that
//! difference is measurable (docs/design.md). Should the holder be preempted,
//! waiters yield their CPU rather than burn it.
//!
//! On the acquire and release paths the lock is held only for short, bounded
//! pieces of work: linking or unlinking one waiter, or handing permits to at
//! most [`WakeList::CAPACITY`] waiters. Two rare operations walk the whole
//! queue under it: `Semaphore::waiter_count` (documented as a diagnostic) and
//! shrinking a bounded semaphore (to fail requests above the new bound). No
//! user code (waker `wake`, `clone` or `drop`) ever runs while it is held.
//!
//! [`WakeList::CAPACITY`]: crate::wake_list::WakeList::CAPACITY

#[cfg(not(any(admit_loom, feature = "critical-section")))]
use core::sync::atomic::{AtomicBool, Ordering};

use crate::sync::loom_const_fn;

/// The wait-queue lock. See the module docs for which implementation is used.
pub(crate) struct WaitLock {
    #[cfg(admit_loom)]
    inner: loom::sync::Mutex<()>,
    #[cfg(all(not(admit_loom), feature = "critical-section"))]
    inner: (),
    #[cfg(not(any(admit_loom, feature = "critical-section")))]
    locked: AtomicBool,
}

/// Proof that the wait-queue lock is held; releases it on drop.
pub(crate) struct WaitLockGuard<'a> {
    #[cfg(admit_loom)]
    _inner: loom::sync::MutexGuard<'a, ()>,
    #[cfg(all(not(admit_loom), feature = "critical-section"))]
    restore: critical_section::RestoreState,
    #[cfg(all(not(admit_loom), feature = "critical-section"))]
    _lock: core::marker::PhantomData<&'a WaitLock>,
    #[cfg(not(any(admit_loom, feature = "critical-section")))]
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
                #[cfg(not(any(admit_loom, feature = "critical-section")))]
                locked: AtomicBool::new(false),
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
        #[cfg(not(any(admit_loom, feature = "critical-section")))]
        {
            if self
                .locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                self.lock_contended();
            }
            WaitLockGuard { lock: self }
        }
    }

    /// Test-and-test-and-set with exponential backoff: spins reading the
    /// flag (no cache-line ping-pong while it is held), and with `std` gives
    /// the CPU away once the holder has taken unusually long (it may have
    /// been preempted).
    #[cfg(not(any(admit_loom, feature = "critical-section")))]
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        /// Backoff rounds that spin (1, 2, 4, ... 64 `spin_loop` hints each)
        /// before each further wait yields the thread instead.
        const SPIN_ROUNDS: u32 = 7;
        let mut round = 0;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                if round < SPIN_ROUNDS {
                    for _ in 0..1u32 << round {
                        core::hint::spin_loop();
                    }
                    round += 1;
                } else {
                    #[cfg(feature = "std")]
                    std::thread::yield_now();
                    #[cfg(not(feature = "std"))]
                    core::hint::spin_loop();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
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
        #[cfg(not(any(admit_loom, feature = "critical-section")))]
        {
            self.lock.locked.store(false, Ordering::Release);
        }
    }
}
