//! The lock around the wait queue, folded into the word that holds the
//! queue's head.
//!
//! The head pointer of the wait queue and the lock share one word: waiters
//! are at least 2-aligned, so bit 0 of the pointer is free to be the lock
//! bit. Taking the lock is one compare-exchange that also reads the head;
//! releasing it is one `Release` store that also publishes the new head. The
//! semaphore stays 40 bytes with a tail pointer beside the head (which spares
//! the lock holder a visit to a foreign waiter on every enqueue and dequeue).
//!
//! | build                      | mutual exclusion                                       |
//! |----------------------------|--------------------------------------------------------|
//! | `--cfg admit_loom`         | `loom::sync::Mutex` (model-checked); the word holds only the head |
//! | feature `critical-section` | a critical section from the `critical-section` crate (interrupt-safe, embedded); the word holds only the head |
//! | otherwise (with or without `std`) | the lock bit: test-and-test-and-set with exponential backoff; with `std` a waiter yields its thread after the backoff |
//!
//! Why a spin lock and not `std::sync::Mutex` under `std`: the lock is held
//! for a few dozen instructions at a time (see below), so a waiter nearly
//! always gets it within the backoff. Its release is a plain store, where the
//! futex mutex's is an atomic swap (and a `futex` wake-up system call once a
//! thread has parked); in the contended benchmarks that difference is
//! measurable (docs/benchmarks-notes.md). Should the holder be preempted, waiters yield
//! their CPU rather than burn it. (Loom cannot model a spin lock whose waiter
//! spins while the holder loops on the lock too, as the models' "wait until
//! queued" loops do: it sees an endless path. The models use its mutex; the
//! spin lock's part is its `Acquire` compare-exchange and `Release` store.)
//!
//! On the acquire and release paths the lock is held only for short, bounded
//! pieces of work: linking or unlinking one waiter, or handing permits to at
//! most [`WakeList::CAPACITY`] waiters. Two rare operations walk the whole
//! queue under it: `Semaphore::waiter_count` (documented as a diagnostic) and
//! shrinking a bounded semaphore (to fail requests above the new bound). No
//! user code (waker `wake`, `clone` or `drop`) ever runs while it is held.
//!
//! [`WakeList::CAPACITY`]: crate::wake_list::WakeList::CAPACITY

use core::ptr::NonNull;

use crate::sync::{AtomicPtr, Ordering, loom_const_fn};

/// The lock bit, in the head pointer's lowest (always zero) bit.
#[cfg(not(any(admit_loom, feature = "critical-section")))]
const LOCKED: usize = 1;

/// A head pointer to `T` and the lock that guards it (and whatever else the
/// owner decides it guards), in one word. See the module docs.
pub(crate) struct HeadLock<T> {
    word: AtomicPtr<T>,
    #[cfg(admit_loom)]
    mutex: loom::sync::Mutex<()>,
}

/// Proof that the lock is held, and the head while it is. Dropping it stores
/// `head` and releases the lock.
pub(crate) struct HeadGuard<'a, T> {
    /// The queue's head; whatever it is when the guard drops is stored.
    pub(crate) head: Option<NonNull<T>>,
    lock: &'a HeadLock<T>,
    #[cfg(all(not(admit_loom), feature = "critical-section"))]
    restore: critical_section::RestoreState,
    #[cfg(admit_loom)]
    _guard: loom::sync::MutexGuard<'a, ()>,
}

impl<T> HeadLock<T> {
    // The lock bit must be free in every pointer to `T`.
    const ALIGNED: () = assert!(core::mem::align_of::<T>() >= 2);

    loom_const_fn! {
        /// An unlocked, empty (null) head.
        pub(crate) fn new() -> Self {
            Self {
                word: AtomicPtr::new(core::ptr::null_mut()),
                #[cfg(admit_loom)]
                mutex: loom::sync::Mutex::new(()),
            }
        }
    }

    /// Takes the lock.
    #[inline]
    pub(crate) fn lock(&self) -> HeadGuard<'_, T> {
        let () = Self::ALIGNED;
        #[cfg(admit_loom)]
        {
            let guard = self.mutex.lock().unwrap();
            HeadGuard {
                head: NonNull::new(self.word.load(Ordering::Relaxed)),
                lock: self,
                _guard: guard,
            }
        }
        #[cfg(all(not(admit_loom), feature = "critical-section"))]
        {
            // SAFETY: the matching `release` is in `HeadGuard::drop`, and
            // guards are dropped in reverse order of acquisition because they
            // never escape the function that took them.
            let restore = unsafe { critical_section::acquire() };
            HeadGuard {
                head: NonNull::new(self.word.load(Ordering::Relaxed)),
                lock: self,
                restore,
            }
        }
        #[cfg(not(any(admit_loom, feature = "critical-section")))]
        {
            let head = self.word.load(Ordering::Relaxed);
            let head = if head.addr() & LOCKED == 0
                && self
                    .word
                    .compare_exchange(
                        head,
                        head.map_addr(|a| a | LOCKED),
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                head
            } else {
                self.lock_contended()
            };
            HeadGuard {
                head: NonNull::new(head),
                lock: self,
            }
        }
    }

    /// Test-and-test-and-set with exponential backoff: spins reading the word
    /// (no cache-line ping-pong while it is held).
    #[cfg(not(any(admit_loom, feature = "critical-section")))]
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) -> *mut T {
        let mut round = 0;
        loop {
            let head = self.word.load(Ordering::Relaxed);
            if head.addr() & LOCKED != 0 {
                backoff(&mut round);
            } else if self
                .word
                .compare_exchange_weak(
                    head,
                    head.map_addr(|a| a | LOCKED),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return head;
            }
        }
    }
}

impl<T> Drop for HeadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let head = self.head.map_or(core::ptr::null_mut(), NonNull::as_ptr);
        #[cfg(admit_loom)]
        {
            // The mutex guard, dropped after this, publishes the store.
            self.lock.word.store(head, Ordering::Relaxed);
        }
        #[cfg(all(not(admit_loom), feature = "critical-section"))]
        {
            self.lock.word.store(head, Ordering::Relaxed);
            // SAFETY: `restore` came from the `acquire` in `HeadLock::lock`,
            // and guards are released in reverse order (see there).
            unsafe { critical_section::release(self.restore) }
        }
        #[cfg(not(any(admit_loom, feature = "critical-section")))]
        {
            // Unlocks (the stored pointer has bit 0 clear) and publishes
            // everything written under the lock to the next holder.
            self.lock.word.store(head, Ordering::Release);
        }
    }
}

/// Waits a little before looking at the lock bit again: spins 1, 2, 4, ...
/// 64 hints, then (with `std`) yields the thread each time, as the holder may
/// have been preempted.
#[cfg(not(any(admit_loom, feature = "critical-section")))]
#[inline]
fn backoff(round: &mut u32) {
    /// Backoff rounds that spin before the waits that yield.
    const SPIN_ROUNDS: u32 = 7;
    if *round < SPIN_ROUNDS {
        for _ in 0..1u32 << *round {
            core::hint::spin_loop();
        }
        *round += 1;
    } else {
        #[cfg(feature = "std")]
        std::thread::yield_now();
        #[cfg(not(feature = "std"))]
        core::hint::spin_loop();
    }
}
