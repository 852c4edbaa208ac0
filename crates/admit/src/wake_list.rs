//! A fixed-size batch of wakers, collected under the wait-queue lock and woken
//! after it is released.

use core::task::Waker;

/// Up to [`WakeList::CAPACITY`] wakers; no allocation.
pub(crate) struct WakeList {
    wakers: [Option<Waker>; Self::CAPACITY],
    len: usize,
}

impl WakeList {
    /// How many wakers one batch holds. Bounds the work done under the lock
    /// per batch, and the stack space taken (16 bytes a waker).
    pub(crate) const CAPACITY: usize = 32;

    pub(crate) const fn new() -> Self {
        Self {
            wakers: [const { None }; Self::CAPACITY],
            len: 0,
        }
    }

    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.len == Self::CAPACITY
    }

    /// Adds a waker. The caller checks [`is_full`](Self::is_full) first.
    #[inline]
    pub(crate) fn push(&mut self, waker: Waker) {
        debug_assert!(!self.is_full());
        self.wakers[self.len] = Some(waker);
        self.len += 1;
    }

    /// Wakes every collected waker. Must be called with no lock held: a
    /// waker may call back into the semaphore.
    pub(crate) fn wake_all(&mut self) {
        let len = core::mem::replace(&mut self.len, 0);
        for slot in &mut self.wakers[..len] {
            if let Some(waker) = slot.take() {
                waker.wake();
            }
        }
    }
}

impl Drop for WakeList {
    fn drop(&mut self) {
        // Only reached on unwinding between collecting and waking: waking is
        // still the right thing, a lost wakeup would hang a task.
        self.wake_all();
    }
}
