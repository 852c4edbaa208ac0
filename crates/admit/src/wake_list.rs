//! A fixed-size batch of wakers, collected under the wait-queue lock and woken
//! after it is released.

use core::mem::MaybeUninit;
use core::task::Waker;

/// Up to [`WakeList::CAPACITY`] wakers; no allocation, and no work for the
/// unused slots (neither to initialize nor to drop them): it is created on
/// every slow path, so that matters.
pub(crate) struct WakeList {
    /// # Safety
    ///
    /// `wakers[..len]` are initialized; the rest are not.
    wakers: [MaybeUninit<Waker>; Self::CAPACITY],
    len: usize,
}

impl WakeList {
    /// How many wakers one batch holds. Bounds the work done under the lock
    /// per batch, and the stack space taken (16 bytes a waker).
    pub(crate) const CAPACITY: usize = 32;

    #[inline]
    pub(crate) const fn new() -> Self {
        Self {
            wakers: [const { MaybeUninit::uninit() }; Self::CAPACITY],
            len: 0,
        }
    }

    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.len == Self::CAPACITY
    }

    /// Adds a waker.
    ///
    /// # Panics
    ///
    /// If the list is full; callers check [`is_full`](Self::is_full) first.
    #[inline]
    pub(crate) fn push(&mut self, waker: Waker) {
        self.wakers[self.len].write(waker);
        self.len += 1;
    }

    /// Wakes every collected waker. Must be called with no lock held: a
    /// waker may call back into the semaphore.
    #[inline]
    pub(crate) fn wake_all(&mut self) {
        // Taken first: should a `wake` panic, the rest are dropped, not woken
        // twice or dropped twice.
        let len = core::mem::replace(&mut self.len, 0);
        for slot in &mut self.wakers[..len] {
            // SAFETY: slots below the old `len` are initialized, and with
            // `len` reset each is read exactly once.
            unsafe { slot.assume_init_read() }.wake();
        }
    }
}

impl Drop for WakeList {
    fn drop(&mut self) {
        // Only non-empty when unwinding between collecting and waking: waking
        // is still right, a lost wakeup would hang a task.
        self.wake_all();
    }
}
