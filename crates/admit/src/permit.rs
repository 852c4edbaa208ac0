//! RAII permits: [`Permit`] borrows its semaphore, [`OwnedPermit`] holds it
//! through an `Arc` (of the semaphore, or of a type wrapping one). Dropping
//! either returns its permits.

use core::fmt;
#[cfg(feature = "alloc")]
use core::ptr::NonNull;

#[cfg(feature = "alloc")]
use alloc::sync::Arc;

use crate::Semaphore;
#[cfg(feature = "alloc")]
use crate::error::TryAcquireError;

/// The semaphore an `Arc<S>` handle refers to, read once through `AsRef`.
///
/// # Safety
///
/// Valid only beside the `Arc<S>` it was read from, for as long as that `Arc`
/// is held: `AsRef::as_ref(&S)` returns a reference that lives as long as the
/// borrow of `S` (or longer), and the `Arc` keeps `S` alive and only ever
/// shared. Reading it once means a handle whose `as_ref` changes its answer
/// cannot make a waiter leave a queue it never joined, or return permits to a
/// semaphore that never lent them.
#[cfg(feature = "alloc")]
#[derive(Clone, Copy)]
pub(crate) struct SemaphoreRef(NonNull<Semaphore>);

// SAFETY: it stands for a `&Semaphore`, which is `Send` and `Sync` because
// `Semaphore` is `Sync`.
#[cfg(feature = "alloc")]
unsafe impl Send for SemaphoreRef {}
// SAFETY: as for `Send`.
#[cfg(feature = "alloc")]
unsafe impl Sync for SemaphoreRef {}

#[cfg(feature = "alloc")]
impl SemaphoreRef {
    pub(crate) fn of<S: AsRef<Semaphore>>(handle: &Arc<S>) -> Self {
        Self(NonNull::from(S::as_ref(handle)))
    }

    /// # Safety
    ///
    /// The `Arc` this was read from must still be held by the caller's owner
    /// (see the type's invariant); the result must not outlive it.
    pub(crate) unsafe fn get<'a>(self) -> &'a Semaphore {
        // SAFETY: by the type's invariant and the caller's promise, the
        // pointer comes from a shared reference that is still valid.
        unsafe { self.0.as_ref() }
    }
}

/// Permits acquired from a [`Semaphore`], returned when dropped.
///
/// # Examples
///
/// ```
/// use admit::Semaphore;
///
/// let sem = Semaphore::new(4);
/// let mut permit = sem.try_acquire_many(3).unwrap();
/// let one = permit.split(1).unwrap();
/// assert_eq!((permit.num_permits(), one.num_permits()), (2, 1));
/// drop(one);
/// assert_eq!(sem.available_permits(), 2);
/// ```
#[must_use = "permits are returned as soon as they are dropped"]
#[clippy::has_significant_drop]
pub struct Permit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

impl<'a> Permit<'a> {
    pub(crate) fn new(sem: &'a Semaphore, permits: usize) -> Self {
        Self { sem, permits }
    }

    /// How many permits this holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore these permits came from.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(std::ptr::eq(permit.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &'a Semaphore {
        self.sem
    }

    /// Drops the permits without returning them: the semaphore's capacity
    /// shrinks by that many (a bounded semaphore can get them back through
    /// [`Semaphore::release`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// assert_eq!(sem.capacity(), 1);
    /// ```
    pub fn forget(mut self) {
        self.sem
            .raw()
            .forget_held(core::mem::take(&mut self.permits));
    }

    /// Splits `n` permits off into a new permit; `None` if this holds fewer
    /// than `n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(3);
    /// let mut permit = sem.try_acquire_many(3).unwrap();
    /// assert!(permit.split(4).is_none());
    /// let two = permit.split(2).unwrap();
    /// assert_eq!((permit.num_permits(), two.num_permits()), (1, 2));
    /// ```
    pub fn split(&mut self, n: usize) -> Option<Self> {
        self.permits = self.permits.checked_sub(n)?;
        Some(Self::new(self.sem, n))
    }

    /// Takes over the permits of `other`, which must come from the same
    /// semaphore.
    ///
    /// # Panics
    ///
    /// If `other` belongs to a different semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(3);
    /// let mut a = sem.try_acquire().unwrap();
    /// a.merge(sem.try_acquire_many(2).unwrap());
    /// assert_eq!(a.num_permits(), 3);
    /// ```
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            core::ptr::eq(self.sem, other.sem),
            "merged permits must come from the same semaphore"
        );
        self.permits += core::mem::take(&mut other.permits);
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.sem.raw().return_permits(self.permits);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

/// Permits acquired from a [`Semaphore`] held in an `Arc`, returned when
/// dropped. `'static`, so it can move into spawned tasks.
///
/// `S` is the shared handle: the semaphore itself (the default), or a type
/// that wraps one and implements `AsRef<Semaphore>`, such as the runtime
/// adapters' semaphores. `as_ref` is called once, when the permit is
/// acquired; the permits always go back to that semaphore.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use admit::Semaphore;
///
/// let sem = Arc::new(Semaphore::new(1));
/// let permit = sem.clone().try_acquire_owned().unwrap();
/// std::thread::spawn(move || drop(permit)).join().unwrap();
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[cfg(feature = "alloc")]
#[must_use = "permits are returned as soon as they are dropped"]
#[clippy::has_significant_drop]
pub struct OwnedPermit<S: AsRef<Semaphore> = Semaphore> {
    handle: Arc<S>,
    /// `handle`'s semaphore (see [`SemaphoreRef`]).
    sem: SemaphoreRef,
    permits: usize,
}

#[cfg(feature = "alloc")]
impl<S: AsRef<Semaphore>> OwnedPermit<S> {
    pub(crate) fn new(handle: Arc<S>, sem: SemaphoreRef, permits: usize) -> Self {
        Self {
            handle,
            sem,
            permits,
        }
    }

    /// Takes `n` permits now from the semaphore `handle` refers to, holding
    /// the handle: [`Semaphore::try_acquire_many_owned`] for a type that wraps
    /// a semaphore.
    ///
    /// # Errors
    ///
    /// As for [`Semaphore::try_acquire_many`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::{OwnedPermit, Semaphore};
    ///
    /// struct Pool { sem: Semaphore }
    /// impl AsRef<Semaphore> for Pool {
    ///     fn as_ref(&self) -> &Semaphore { &self.sem }
    /// }
    ///
    /// let pool = Arc::new(Pool { sem: Semaphore::new(2) });
    /// let permit: OwnedPermit<Pool> = OwnedPermit::try_acquire(pool.clone(), 2).unwrap();
    /// assert!(Arc::ptr_eq(permit.semaphore(), &pool));
    /// assert_eq!(pool.sem.available_permits(), 0);
    /// ```
    pub fn try_acquire(handle: Arc<S>, n: usize) -> Result<Self, TryAcquireError> {
        let sem = SemaphoreRef::of(&handle);
        // SAFETY: `handle` is held until it moves into the permit.
        unsafe { sem.get() }.raw().try_acquire(n)?;
        Ok(Self::new(handle, sem, n))
    }

    fn sem(&self) -> &Semaphore {
        // SAFETY: `self.handle` is the `Arc` `self.sem` was read from.
        unsafe { self.sem.get() }
    }

    /// How many permits this holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::Semaphore;
    ///
    /// let sem = Arc::new(Semaphore::new(2));
    /// assert_eq!(sem.try_acquire_many_owned(2).unwrap().num_permits(), 2);
    /// ```
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore these permits came from.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::Semaphore;
    ///
    /// let sem = Arc::new(Semaphore::new(1));
    /// let permit = sem.clone().try_acquire_owned().unwrap();
    /// assert!(Arc::ptr_eq(permit.semaphore(), &sem));
    /// ```
    pub fn semaphore(&self) -> &Arc<S> {
        &self.handle
    }

    /// Drops the permits without returning them (see [`Permit::forget`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::Semaphore;
    ///
    /// let sem = Arc::new(Semaphore::new(2));
    /// sem.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(sem.capacity(), 1);
    /// ```
    pub fn forget(mut self) {
        let permits = core::mem::take(&mut self.permits);
        self.sem().raw().forget_held(permits);
    }

    /// Splits `n` permits off into a new permit; `None` if this holds fewer
    /// than `n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::Semaphore;
    ///
    /// let sem = Arc::new(Semaphore::new(3));
    /// let mut permit = sem.clone().try_acquire_many_owned(3).unwrap();
    /// let one = permit.split(1).unwrap();
    /// assert_eq!((permit.num_permits(), one.num_permits()), (2, 1));
    /// ```
    pub fn split(&mut self, n: usize) -> Option<Self> {
        self.permits = self.permits.checked_sub(n)?;
        Some(Self::new(self.handle.clone(), self.sem, n))
    }

    /// Takes over the permits of `other`, which must come from the same
    /// semaphore.
    ///
    /// # Panics
    ///
    /// If `other` belongs to a different semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::Semaphore;
    ///
    /// let sem = Arc::new(Semaphore::new(2));
    /// let mut a = sem.clone().try_acquire_owned().unwrap();
    /// a.merge(sem.clone().try_acquire_owned().unwrap());
    /// assert_eq!(a.num_permits(), 2);
    /// ```
    #[track_caller]
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            core::ptr::eq(self.sem(), other.sem()),
            "merged permits must come from the same semaphore"
        );
        self.permits += core::mem::take(&mut other.permits);
    }
}

#[cfg(feature = "alloc")]
impl<S: AsRef<Semaphore>> Drop for OwnedPermit<S> {
    #[inline]
    fn drop(&mut self) {
        self.sem().raw().return_permits(self.permits);
    }
}

#[cfg(feature = "alloc")]
impl<S: AsRef<Semaphore>> fmt::Debug for OwnedPermit<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}
