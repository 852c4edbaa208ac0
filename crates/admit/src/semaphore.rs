//! The public [`Semaphore`] type: user-facing docs over the engine in
//! [`crate::raw`].

use core::fmt;

#[cfg(feature = "alloc")]
use alloc::sync::Arc;

#[cfg(feature = "std")]
use crate::error::AcquireError;
use crate::error::{ReleaseError, TryAcquireError};
use crate::futures::Acquire;
#[cfg(feature = "alloc")]
use crate::futures::AcquireOwned;
#[cfg(feature = "alloc")]
use crate::permit::OwnedPermit;
use crate::permit::Permit;
use crate::raw::RawSemaphore;
use crate::sync::loom_const_fn;

/// Who gets free permits when waiters are queued.
///
/// # Examples
///
/// ```
/// use admit::{Fairness, Semaphore};
///
/// let fair = Semaphore::new(4);
/// assert_eq!(fair.fairness(), Fairness::Fifo);
/// let fast = Semaphore::new(4).with_fairness(Fairness::Throughput);
/// assert_eq!(fast.fairness(), Fairness::Throughput);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Fairness {
    /// Strict first-in, first-out (the default). A queued waiter is never
    /// overtaken, neither by a later [`acquire`](Semaphore::acquire) nor by
    /// [`try_acquire`](Semaphore::try_acquire); a large request at the head
    /// holds back smaller ones behind it. Released permits go straight to the
    /// waiters at the head.
    #[default]
    Fifo,
    /// Bounded unfairness for throughput. A newcomer may take free permits
    /// ahead of queued waiters (so a running task need not wait for a
    /// sleeping one to be scheduled), but at most
    /// [`OVERTAKE_LIMIT`](crate::OVERTAKE_LIMIT) times while a given waiter
    /// is at the head of the queue. Then the semaphore stops admitting
    /// newcomers and hands released permits to the head directly until it is
    /// served. A waiter with `m` waiters ahead of it is therefore overtaken at
    /// most `OVERTAKE_LIMIT * (m + 1)` times. Waiters among themselves are
    /// served in FIFO order.
    Throughput,
}

/// An async counting semaphore: at most N permits are out at any time.
///
/// - **Fair**: waiters are served strictly first-in, first-out by default
///   (see [`Fairness`] for the bounded-unfair throughput policy).
/// - **Weighted**: [`acquire_many`](Self::acquire_many) takes several permits
///   at once, atomically.
/// - **Cancel-safe**: dropping an acquire future at any point gives back every
///   permit it was assigned; no permit is lost, no wakeup is lost.
/// - **No allocation per acquire**: the waiter lives inside the future.
/// - **Closable** ([`close`](Self::close)) and **resizable**
///   ([`set_capacity`](Self::set_capacity)); **bounded** on request
///   ([`bounded`](Self::bounded), like Python's `asyncio.BoundedSemaphore`).
///
/// Counts are `usize`, up to [`MAX_PERMITS`](crate::MAX_PERMITS).
///
/// # Examples
///
/// Limit concurrent requests to a server:
///
/// ```
/// use admit::Semaphore;
/// use futures_lite::future;
///
/// async fn fetch(limit: &Semaphore, id: u32) -> u32 {
///     let _permit = limit.acquire().await.expect("never closed");
///     // ... at most 3 of these run at once ...
///     id * 2
/// }
///
/// let limit = Semaphore::new(3);
/// let results = future::block_on(async {
///     let (a, b) = future::zip(fetch(&limit, 1), fetch(&limit, 2)).await;
///     a + b
/// });
/// assert_eq!(results, 6);
/// ```
pub struct Semaphore {
    raw: RawSemaphore,
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold; the same as
    /// [`crate::MAX_PERMITS`].
    pub const MAX_PERMITS: usize = crate::MAX_PERMITS;

    loom_const_fn! {
        /// Creates a FIFO-fair, unbounded semaphore with `permits` permits.
        ///
        /// Unbounded means [`add_permits`](Self::add_permits) and
        /// [`release`](Self::release) may raise the number of permits past
        /// `permits` (up to [`MAX_PERMITS`](crate::MAX_PERMITS)).
        ///
        /// # Panics
        ///
        /// If `permits > MAX_PERMITS` (at compile time in a `const` or
        /// `static`).
        ///
        /// # Examples
        ///
        /// ```
        /// use admit::Semaphore;
        ///
        /// static LIMIT: Semaphore = Semaphore::new(10);
        /// assert_eq!(LIMIT.available_permits(), 10);
        /// ```
        pub fn new(permits: usize) -> Self {
            Self { raw: RawSemaphore::new(permits, false, crate::Fairness::Fifo) }
        }
    }

    loom_const_fn! {
        /// Creates a FIFO-fair semaphore whose capacity is fixed at `permits`,
        /// like Python's `asyncio.BoundedSemaphore`: releasing permits past the
        /// capacity is an error ([`release`](Self::release)) or a panic
        /// ([`add_permits`](Self::add_permits)), and a request for more than
        /// the capacity fails at once with `TooLarge` instead of waiting
        /// forever. Only [`set_capacity`](Self::set_capacity) changes it.
        ///
        /// # Panics
        ///
        /// If `permits > MAX_PERMITS`.
        ///
        /// # Examples
        ///
        /// ```
        /// use admit::{ReleaseError, Semaphore};
        ///
        /// let sem = Semaphore::bounded(2);
        /// let permit = sem.try_acquire().unwrap();
        /// permit.forget(); // taken out by hand, as asyncio's acquire() does
        /// assert_eq!(sem.release(1), Ok(()));
        /// assert_eq!(sem.release(1), Err(ReleaseError::ExceedsCapacity));
        /// ```
        pub fn bounded(permits: usize) -> Self {
            Self { raw: RawSemaphore::new(permits, true, crate::Fairness::Fifo) }
        }
    }

    loom_const_fn! {
        /// Returns this semaphore with the given [`Fairness`] policy. Use it
        /// right after [`new`](Self::new) or [`bounded`](Self::bounded); it is
        /// `const`, so it works in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use admit::{Fairness, Semaphore};
        ///
        /// static POOL: Semaphore = Semaphore::new(8).with_fairness(Fairness::Throughput);
        /// assert_eq!(POOL.fairness(), Fairness::Throughput);
        /// ```
        pub fn with_fairness(self, fairness: Fairness) -> Self {
            Self { raw: self.raw.with_fairness(fairness) }
        }
    }

    /// The fairness policy chosen at construction.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::{Fairness, Semaphore};
    ///
    /// assert_eq!(Semaphore::new(1).fairness(), Fairness::Fifo);
    /// ```
    pub fn fairness(&self) -> Fairness {
        self.raw.fairness()
    }

    /// Whether this semaphore was created with [`bounded`](Self::bounded).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// assert!(Semaphore::bounded(1).is_bounded());
    /// assert!(!Semaphore::new(1).is_bounded());
    /// ```
    pub fn is_bounded(&self) -> bool {
        self.raw.is_bounded()
    }

    /// Waits for one permit.
    ///
    /// Equivalent to [`acquire_many(1)`](Self::acquire_many).
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is closed before the permit
    /// is granted.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, and fair to cancel: dropping the future before it
    /// completes gives back anything it was assigned and leaves its place in
    /// the queue to the next waiter. A permit granted to a future that is then
    /// dropped without being polled again is returned, never lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    /// # futures_lite::future::block_on(async {
    /// let sem = Semaphore::new(1);
    /// let permit = sem.acquire().await.unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 1);
    /// # });
    /// ```
    #[inline]
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire::new(self, 1)
    }

    /// Waits for `n` permits, granted all at once.
    ///
    /// Under FIFO fairness a large request at the head of the queue holds back
    /// smaller requests behind it; released permits are assigned to it as
    /// they come in, so it is not starved. `acquire_many(0)` is ready at once.
    ///
    /// # Errors
    ///
    /// - [`AcquireError::TooLarge`], at once, if `n > MAX_PERMITS` or, for a
    ///   bounded semaphore, `n` is above its capacity (or the capacity is
    ///   shrunk below `n` while waiting).
    /// - [`AcquireError::Closed`] if the semaphore is closed first.
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire`](Self::acquire): permits assigned to a dropped
    /// future go back to the semaphore (and on to the next waiters).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    /// # futures_lite::future::block_on(async {
    /// let memory = Semaphore::new(1024); // kilobytes of a buffer budget
    /// let big = memory.acquire_many(768).await.unwrap();
    /// assert_eq!(big.num_permits(), 768);
    /// assert_eq!(memory.available_permits(), 256);
    /// # });
    /// ```
    #[inline]
    pub fn acquire_many(&self, n: usize) -> Acquire<'_> {
        Acquire::new(self, n)
    }

    /// Takes one permit if one is free now and no earlier waiter is queued.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] if none is free or (under FIFO
    /// fairness) waiters are queued; [`TryAcquireError::Closed`] if closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::{Semaphore, TryAcquireError};
    ///
    /// let sem = Semaphore::new(1);
    /// let held = sem.try_acquire().unwrap();
    /// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    /// drop(held);
    /// assert!(sem.try_acquire().is_ok());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free now and no earlier waiter is
    /// queued. `try_acquire_many(0)` succeeds unless the semaphore is closed.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`], [`TryAcquireError::Closed`], or
    /// [`TryAcquireError::TooLarge`] if `n` can never be granted (see
    /// [`acquire_many`](Self::acquire_many)).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(5);
    /// let three = sem.try_acquire_many(3).unwrap();
    /// assert!(sem.try_acquire_many(3).is_err());
    /// assert_eq!(three.num_permits(), 3);
    /// ```
    #[inline]
    pub fn try_acquire_many(&self, n: usize) -> Result<Permit<'_>, TryAcquireError> {
        self.raw.try_acquire(n)?;
        Ok(Permit::new(self, n))
    }

    /// Waits for one permit held through an `Arc`, so that the permit can
    /// move into a spawned task.
    ///
    /// # Errors
    ///
    /// As for [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::Semaphore;
    /// # futures_lite::future::block_on(async {
    /// let sem = Arc::new(Semaphore::new(2));
    /// let permit = sem.clone().acquire_owned().await.unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 2);
    /// # });
    /// ```
    #[cfg(feature = "alloc")]
    pub fn acquire_owned(self: Arc<Self>) -> AcquireOwned {
        AcquireOwned::new(self, 1)
    }

    /// Waits for `n` permits held through an `Arc`.
    ///
    /// # Errors
    ///
    /// As for [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::Semaphore;
    /// # futures_lite::future::block_on(async {
    /// let sem = Arc::new(Semaphore::new(4));
    /// let permit = sem.clone().acquire_many_owned(3).await.unwrap();
    /// assert_eq!(permit.num_permits(), 3);
    /// # });
    /// ```
    #[cfg(feature = "alloc")]
    pub fn acquire_many_owned(self: Arc<Self>, n: usize) -> AcquireOwned {
        AcquireOwned::new(self, n)
    }

    /// Takes one permit now, held through an `Arc`.
    ///
    /// # Errors
    ///
    /// As for [`try_acquire`](Self::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::Semaphore;
    ///
    /// let sem = Arc::new(Semaphore::new(1));
    /// let permit = sem.clone().try_acquire_owned().unwrap();
    /// assert!(sem.clone().try_acquire_owned().is_err());
    /// drop(permit);
    /// ```
    #[cfg(feature = "alloc")]
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedPermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// Takes `n` permits now, held through an `Arc`.
    ///
    /// # Errors
    ///
    /// As for [`try_acquire_many`](Self::try_acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::Semaphore;
    ///
    /// let sem = Arc::new(Semaphore::new(3));
    /// let permit = sem.clone().try_acquire_many_owned(2).unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// drop(permit);
    /// ```
    #[cfg(feature = "alloc")]
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: usize,
    ) -> Result<OwnedPermit, TryAcquireError> {
        OwnedPermit::try_acquire(self, n)
    }

    /// Adds `n` permits, handing them to queued waiters first (in FIFO order).
    ///
    /// Works on a closed semaphore too: the permits are counted, though no
    /// one can acquire them.
    ///
    /// # Panics
    ///
    /// If the semaphore would hold more than [`MAX_PERMITS`](crate::MAX_PERMITS)
    /// permits, or, for a bounded semaphore, more than its capacity. Use
    /// [`release`](Self::release) for the checked version.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// assert_eq!(sem.capacity(), 2);
    /// ```
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        if let Err(e) = self.raw.try_add_permits(n) {
            panic!("add_permits({n}): {e}");
        }
    }

    /// Adds `n` permits like [`add_permits`](Self::add_permits), but refuses
    /// instead of panicking: the checked release of a permit taken by hand
    /// (Python's `BoundedSemaphore.release`).
    ///
    /// # Errors
    ///
    /// [`ReleaseError::ExceedsCapacity`] if a bounded semaphore would hold
    /// more than its capacity, [`ReleaseError::ExceedsMaxPermits`] past
    /// [`MAX_PERMITS`](crate::MAX_PERMITS). An error changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::{ReleaseError, Semaphore};
    /// # futures_lite::future::block_on(async {
    /// let sem = Semaphore::bounded(1);
    /// sem.acquire().await.unwrap().forget(); // the asyncio style: acquire ...
    /// sem.release(1).unwrap(); // ... and release by hand
    /// assert_eq!(sem.release(1), Err(ReleaseError::ExceedsCapacity));
    /// assert_eq!(sem.available_permits(), 1);
    /// # });
    /// ```
    pub fn release(&self, n: usize) -> Result<(), ReleaseError> {
        self.raw.try_add_permits(n)
    }

    /// Removes up to `n` free permits for good and returns how many it
    /// removed. Held permits are not affected; see
    /// [`set_capacity`](Self::set_capacity) to shrink below what is held.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(5);
    /// let _held = sem.try_acquire_many(2).unwrap();
    /// assert_eq!(sem.forget_permits(10), 3);
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        self.raw.forget_free(n)
    }

    /// Resizes the semaphore to `n` permits while it is in use.
    ///
    /// Growing hands the new permits to waiters in FIFO order. Shrinking takes
    /// free permits now and absorbs later releases until the semaphore is
    /// down to `n`; held permits are never revoked. For a bounded semaphore
    /// this also sets the bound, and queued requests above the new bound fail
    /// with [`AcquireError::TooLarge`].
    ///
    /// # Panics
    ///
    /// If `n > MAX_PERMITS`.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(4);
    /// let held = sem.try_acquire_many(3).unwrap();
    /// sem.set_capacity(2); // one free permit goes now, one more later
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(held);
    /// assert_eq!(sem.available_permits(), 2);
    /// assert_eq!(sem.capacity(), 2);
    /// ```
    #[track_caller]
    pub fn set_capacity(&self, n: usize) {
        self.raw.set_capacity(n);
    }

    /// The capacity: for a bounded semaphore its bound; otherwise the number
    /// of permits it manages (free, held and assigned to waiters), which
    /// [`add_permits`](Self::add_permits), forgetting and
    /// [`set_capacity`](Self::set_capacity) change.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(3);
    /// let _held = sem.try_acquire().unwrap();
    /// assert_eq!(sem.capacity(), 3);
    /// ```
    pub fn capacity(&self) -> usize {
        self.raw.capacity()
    }

    /// Closes the semaphore: every queued waiter, however many, is woken with
    /// [`AcquireError::Closed`], and later acquires fail with `Closed`.
    /// Permits released after closing are still counted. Nothing reopens a
    /// closed semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::{AcquireError, Semaphore};
    /// # futures_lite::future::block_on(async {
    /// let sem = Semaphore::new(1);
    /// let held = sem.acquire().await.unwrap();
    /// sem.close();
    /// assert_eq!(sem.acquire().await.unwrap_err(), AcquireError::Closed);
    /// drop(held);
    /// assert_eq!(sem.available_permits(), 1);
    /// # });
    /// ```
    pub fn close(&self) {
        self.raw.close();
    }

    /// Whether [`close`](Self::close) has been called.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }

    /// The number of permits free right now (0 while a shrink is still
    /// absorbing releases).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(2);
    /// let _p = sem.try_acquire().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.raw.available_permits()
    }

    /// The number of acquire futures queued right now. Takes the wait-queue
    /// lock and walks the queue: meant for diagnostics and metrics, not for
    /// hot paths.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::future::Future;
    /// use std::task::{Context, Waker};
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(0);
    /// let mut waiting = pin!(sem.acquire());
    /// let _ = waiting.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    /// assert_eq!(sem.waiter_count(), 1);
    /// ```
    pub fn waiter_count(&self) -> usize {
        self.raw.waiter_count()
    }

    /// Blocks the current thread until one permit is granted.
    ///
    /// # Blocking
    ///
    /// Parks the thread; do not call it from async code (use
    /// [`acquire`](Self::acquire)). Waits in the same FIFO queue as async
    /// callers.
    ///
    /// # Errors
    ///
    /// As for [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use admit::Semaphore;
    ///
    /// let sem = Arc::new(Semaphore::new(1));
    /// let held = sem.acquire_blocking().unwrap();
    /// let other = std::thread::spawn({
    ///     let sem = sem.clone();
    ///     move || sem.acquire_blocking().map(|p| p.num_permits())
    /// });
    /// drop(held);
    /// assert_eq!(other.join().unwrap(), Ok(1));
    /// ```
    #[cfg(feature = "std")]
    pub fn acquire_blocking(&self) -> Result<Permit<'_>, AcquireError> {
        self.acquire_many_blocking(1)
    }

    /// Blocks the current thread until `n` permits are granted.
    ///
    /// # Blocking
    ///
    /// As for [`acquire_blocking`](Self::acquire_blocking).
    ///
    /// # Errors
    ///
    /// As for [`acquire_many`](Self::acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Semaphore;
    ///
    /// let sem = Semaphore::new(3);
    /// assert_eq!(sem.acquire_many_blocking(3).unwrap().num_permits(), 3);
    /// ```
    #[cfg(feature = "std")]
    pub fn acquire_many_blocking(&self, n: usize) -> Result<Permit<'_>, AcquireError> {
        futures_lite::future::block_on(self.acquire_many(n))
    }

    pub(crate) fn raw(&self) -> &RawSemaphore {
        &self.raw
    }
}

/// Lets a semaphore stand for itself where a handle to one is expected (the
/// `S` of [`OwnedPermit<S>`](crate::OwnedPermit) and
/// [`AcquireOwned<S>`](crate::futures::AcquireOwned)).
///
/// # Examples
///
/// ```
/// use admit::Semaphore;
///
/// let sem = Semaphore::new(1);
/// let same: &Semaphore = sem.as_ref();
/// assert!(std::ptr::eq(same, &sem));
/// ```
impl AsRef<Semaphore> for Semaphore {
    fn as_ref(&self) -> &Semaphore {
        self
    }
}

impl Default for Semaphore {
    /// A FIFO-fair, unbounded semaphore with no permits.
    fn default() -> Self {
        Self::new(0)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .field("capacity", &self.capacity())
            .field("bounded", &self.is_bounded())
            .field("fairness", &self.fairness())
            .field("closed", &self.is_closed())
            .field("waiters", &self.waiter_count())
            .finish()
    }
}
