//! RAII permits: [`Permit`] borrows its semaphore, [`OwnedPermit`] holds it
//! through an `Arc`. Dropping either returns its permits.

use core::fmt;

#[cfg(feature = "alloc")]
use alloc::sync::Arc;

use crate::Semaphore;

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
pub struct OwnedPermit {
    sem: Arc<Semaphore>,
    permits: usize,
}

#[cfg(feature = "alloc")]
impl OwnedPermit {
    pub(crate) fn new(sem: Arc<Semaphore>, permits: usize) -> Self {
        Self { sem, permits }
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
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
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
        Some(Self::new(self.sem.clone(), n))
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
            Arc::ptr_eq(&self.sem, &other.sem),
            "merged permits must come from the same semaphore"
        );
        self.permits += core::mem::take(&mut other.permits);
    }
}

#[cfg(feature = "alloc")]
impl Drop for OwnedPermit {
    #[inline]
    fn drop(&mut self) {
        self.sem.raw().return_permits(self.permits);
    }
}

#[cfg(feature = "alloc")]
impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}
