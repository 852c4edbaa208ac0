//! The acquire futures. Each embeds its wait-queue node, so waiting allocates
//! nothing; that is also why they are `!Unpin`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

#[cfg(feature = "alloc")]
use alloc::sync::Arc;

use crate::Semaphore;
use crate::error::AcquireError;
use crate::permit::Permit;
#[cfg(feature = "alloc")]
use crate::permit::{OwnedPermit, SemaphoreRef};
use crate::raw::RawAcquire;

/// The future returned by [`Semaphore::acquire`] and
/// [`Semaphore::acquire_many`].
///
/// It holds its place in the semaphore's queue, so it is `!Unpin`: pin it
/// (`.await` does) before polling.
///
/// ```compile_fail,E0277
/// fn assert_unpin<T: Unpin>(_: T) {}
/// let sem = admit::Semaphore::new(1);
/// assert_unpin(sem.acquire());
/// ```
///
/// # Cancel safety
///
/// Dropping it at any point gives back every permit it was assigned and wakes
/// whoever can proceed instead.
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics.
///
/// # Examples
///
/// ```
/// use admit::Semaphore;
/// # futures_lite::future::block_on(async {
/// let sem = Semaphore::new(1);
/// let acquire = sem.acquire(); // nothing happens until it is polled
/// assert_eq!(sem.available_permits(), 1);
/// let _permit = acquire.await.unwrap();
/// assert_eq!(sem.available_permits(), 0);
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    raw: RawAcquire,
}

impl<'a> Acquire<'a> {
    pub(crate) fn new(sem: &'a Semaphore, n: usize) -> Self {
        Self {
            sem,
            raw: RawAcquire::new(n),
        }
    }

    fn project(self: Pin<&mut Self>) -> (&'a Semaphore, Pin<&mut RawAcquire>) {
        // SAFETY: `raw` is structurally pinned: it is never moved out of `self`
        // and `Drop` only uses it in place.
        unsafe {
            let this = self.get_unchecked_mut();
            (this.sem, Pin::new_unchecked(&mut this.raw))
        }
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<Permit<'a>, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (sem, raw) = self.project();
        let n = raw.requested();
        match raw.poll(sem.raw(), cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(Permit::new(sem, n))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Acquire<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `drop` is the last use of `self`; if it was ever pinned, it
        // is still at the same address (the `Pin` drop guarantee).
        let (sem, raw) = unsafe { Pin::new_unchecked(self) }.project();
        raw.cancel(sem.raw());
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("permits", &self.raw.requested())
            .field("queued", &self.raw.is_queued())
            .finish_non_exhaustive()
    }
}

/// The future returned by [`Semaphore::acquire_owned`] and
/// [`Semaphore::acquire_many_owned`]; `'static` and `Send`.
///
/// `S` is the shared handle the permit will hold: the semaphore itself (the
/// default) or a type wrapping one (see [`OwnedPermit`] and
/// [`AcquireOwned::new`]).
///
/// ```compile_fail,E0277
/// fn assert_unpin<T: Unpin>(_: T) {}
/// let sem = std::sync::Arc::new(admit::Semaphore::new(1));
/// assert_unpin(sem.acquire_owned());
/// ```
///
/// # Cancel safety
///
/// As for [`Acquire`].
///
/// # Panics
///
/// Polling it again after it returned `Ready` panics.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use admit::Semaphore;
/// # futures_lite::future::block_on(async {
/// let sem = Arc::new(Semaphore::new(1));
/// let permit = sem.clone().acquire_owned().await.unwrap();
/// assert_eq!(permit.num_permits(), 1);
/// # });
/// ```
#[cfg(feature = "alloc")]
#[must_use = "futures do nothing unless polled"]
pub struct AcquireOwned<S: AsRef<Semaphore> = Semaphore> {
    handle: Arc<S>,
    /// `handle`'s semaphore, whose queue `raw` joins (see [`SemaphoreRef`]).
    sem: SemaphoreRef,
    raw: RawAcquire,
}

#[cfg(feature = "alloc")]
impl<S: AsRef<Semaphore>> AcquireOwned<S> {
    /// Waits for `n` permits from the semaphore `handle` refers to, holding
    /// the handle: [`Semaphore::acquire_many_owned`] for a type that wraps a
    /// semaphore. Nothing happens until it is polled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::Semaphore;
    /// use admit::futures::AcquireOwned;
    ///
    /// struct Pool { sem: Semaphore }
    /// impl AsRef<Semaphore> for Pool {
    ///     fn as_ref(&self) -> &Semaphore { &self.sem }
    /// }
    ///
    /// # futures_lite::future::block_on(async {
    /// let pool = Arc::new(Pool { sem: Semaphore::new(3) });
    /// let permit = AcquireOwned::new(pool.clone(), 2).await.unwrap();
    /// assert_eq!(permit.num_permits(), 2);
    /// assert_eq!(pool.sem.available_permits(), 1);
    /// # });
    /// ```
    pub fn new(handle: Arc<S>, n: usize) -> Self {
        Self {
            sem: SemaphoreRef::of(&handle),
            handle,
            raw: RawAcquire::new(n),
        }
    }

    fn project(self: Pin<&mut Self>) -> (&Semaphore, &Arc<S>, SemaphoreRef, Pin<&mut RawAcquire>) {
        // SAFETY: `raw` is structurally pinned, as in `Acquire::project`;
        // `sem` was read from `handle`, which `self` holds, and the returned
        // reference borrows `self`.
        unsafe {
            let this = self.get_unchecked_mut();
            (
                this.sem.get(),
                &this.handle,
                this.sem,
                Pin::new_unchecked(&mut this.raw),
            )
        }
    }
}

#[cfg(feature = "alloc")]
impl<S: AsRef<Semaphore>> Future for AcquireOwned<S> {
    type Output = Result<OwnedPermit<S>, AcquireError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (sem, handle, sem_ref, raw) = self.project();
        let n = raw.requested();
        match raw.poll(sem.raw(), cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(OwnedPermit::new(handle.clone(), sem_ref, n))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(feature = "alloc")]
impl<S: AsRef<Semaphore>> Drop for AcquireOwned<S> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: as in `Acquire::drop`.
        let (sem, _, _, raw) = unsafe { Pin::new_unchecked(self) }.project();
        raw.cancel(sem.raw());
    }
}

#[cfg(feature = "alloc")]
impl<S: AsRef<Semaphore>> fmt::Debug for AcquireOwned<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned")
            .field("permits", &self.raw.requested())
            .field("queued", &self.raw.is_queued())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, feature = "std", not(admit_loom)))]
mod tests {
    //! The owned future and permit over a handle that wraps the semaphore (as the runtime
    //! adapters' semaphores do): queued, cancelled, granted, split and merged.

    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    use alloc::sync::Arc;

    use super::AcquireOwned;
    use crate::{OwnedPermit, Semaphore};

    struct Wrapper {
        _before: u64,
        sem: Semaphore,
    }

    impl AsRef<Semaphore> for Wrapper {
        fn as_ref(&self) -> &Semaphore {
            &self.sem
        }
    }

    #[test]
    fn owned_acquire_over_a_wrapping_handle() {
        let handle = Arc::new(Wrapper {
            _before: 7,
            sem: Semaphore::new(2),
        });
        let mut cx = Context::from_waker(Waker::noop());
        let mut held: OwnedPermit<Wrapper> = OwnedPermit::try_acquire(handle.clone(), 2).unwrap();
        {
            // Queued, then cancelled while one permit is assigned to it.
            let mut waiting = pin!(AcquireOwned::new(handle.clone(), 2));
            assert!(waiting.as_mut().poll(&mut cx).is_pending());
            assert_eq!(handle.sem.waiter_count(), 1);
            drop(held.split(1).unwrap());
        }
        assert_eq!(handle.sem.waiter_count(), 0);
        assert_eq!(handle.sem.available_permits(), 1);
        // Queued, then granted when the rest comes back.
        let mut waiting = pin!(AcquireOwned::new(handle.clone(), 2));
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        drop(held);
        let Poll::Ready(Ok(mut granted)) = waiting.as_mut().poll(&mut cx) else {
            panic!("the permits came back");
        };
        assert!(Arc::ptr_eq(granted.semaphore(), &handle));
        let one = granted.split(1).unwrap();
        granted.merge(one);
        assert_eq!(granted.num_permits(), 2);
        drop(granted);
        assert_eq!(handle.sem.available_permits(), 2);
        assert_eq!(
            Arc::strong_count(&handle),
            2,
            "the pinned future still holds one"
        );
    }
}
