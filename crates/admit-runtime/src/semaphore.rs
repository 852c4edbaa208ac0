//! [`Semaphore<R>`](Semaphore): the core's semaphore with its async acquires under runtime
//! `R`'s cooperative scheduling, and its timeouts on `R`'s clock, written once for every
//! adapter.
//!
//! Every method is the core's ([`admit::Semaphore`]), so the semantics (FIFO or throughput
//! fairness, weighted requests, cancel safety, bounded or unbounded) are exactly the core's.
//! What this type adds: each async acquire is wrapped in [`Runtime::cooperative`] (tokio's task
//! budget; nothing on async-std and smol), and the `*_timeout` / `*_deadline` methods race the
//! acquire against the runtime's timer. Library code that takes `&admit::Semaphore` gets one
//! through [`Semaphore::as_core`] or `AsRef`; an `admit::Semaphore` converts with `From`.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use admit::futures::{Acquire, AcquireOwned};
use admit::{AcquireError, Fairness, OwnedPermit, Permit, ReleaseError, TryAcquireError};

use crate::timeout::{AcquireTimeoutError, with_deadline};
use crate::{Runtime, deadline_after};

/// An async counting semaphore for runtime `R`: [`admit::Semaphore`] whose acquires respect
/// the runtime's cooperative scheduling, with timeouts as methods.
///
/// The adapters name it with the runtime filled in (`admit_tokio::Semaphore`,
/// `admit_async_std::Semaphore`, `admit_smol::Semaphore`); it is `const`-constructible, so it
/// works in a `static`. On tokio, every async acquire consumes task budget as
/// `tokio::sync::Semaphore`'s does, so a loop of acquires that are always ready still lets the
/// other tasks on its worker run.
///
/// # Examples
///
/// ```
/// use admit_runtime::{Runtime, Semaphore};
///
/// async fn worker<R: Runtime>(sem: &Semaphore<R>) -> Result<(), admit::AcquireError> {
///     for _ in 0..1_000 {
///         let _permit = sem.acquire().await?; // yields when the task's budget is spent
///     }
///     Ok(())
/// }
/// ```
pub struct Semaphore<R> {
    inner: admit::Semaphore,
    runtime: PhantomData<fn() -> R>,
}

impl<R> Semaphore<R> {
    /// A FIFO-fair, unbounded semaphore with `permits` permits; see [`admit::Semaphore::new`].
    ///
    /// # Panics
    ///
    /// If `permits > admit::MAX_PERMITS` (at compile time in a `const` or `static`).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn limit<R: Runtime>() -> Semaphore<R> {
    ///     Semaphore::new(10)
    /// }
    /// ```
    #[must_use]
    pub const fn new(permits: usize) -> Self {
        Self::from_core(admit::Semaphore::new(permits))
    }

    /// A FIFO-fair semaphore whose capacity is fixed at `permits`; see
    /// [`admit::Semaphore::bounded`]. Only bounded semaphores fail a request larger than the
    /// capacity at once.
    ///
    /// # Panics
    ///
    /// If `permits > admit::MAX_PERMITS`.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn fixed<R: Runtime>() -> bool {
    ///     Semaphore::<R>::bounded(2).is_bounded()
    /// }
    /// ```
    #[must_use]
    pub const fn bounded(permits: usize) -> Self {
        Self::from_core(admit::Semaphore::bounded(permits))
    }

    /// This semaphore with the given [`Fairness`] policy; see
    /// [`admit::Semaphore::with_fairness`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Fairness;
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn fast<R: Runtime>() -> Semaphore<R> {
    ///     Semaphore::new(8).with_fairness(Fairness::Throughput)
    /// }
    /// ```
    #[must_use]
    pub const fn with_fairness(self, fairness: Fairness) -> Self {
        Self::from_core(self.inner.with_fairness(fairness))
    }

    /// Wraps a core semaphore (also `From<admit::Semaphore>`).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn wrap<R: Runtime>(core: admit::Semaphore) -> Semaphore<R> {
    ///     Semaphore::from_core(core)
    /// }
    /// ```
    #[must_use]
    pub const fn from_core(inner: admit::Semaphore) -> Self {
        Self {
            inner,
            runtime: PhantomData,
        }
    }

    /// The core semaphore, for library code that takes `&admit::Semaphore` (also `AsRef`).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn free(sem: &admit::Semaphore) -> usize {
    ///     sem.available_permits()
    /// }
    ///
    /// fn report<R: Runtime>(sem: &Semaphore<R>) -> usize {
    ///     free(sem.as_core())
    /// }
    /// ```
    #[must_use]
    pub const fn as_core(&self) -> &admit::Semaphore {
        &self.inner
    }

    /// Unwraps the core semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn unwrap<R: Runtime>(sem: Semaphore<R>) -> admit::Semaphore {
    ///     sem.into_inner()
    /// }
    /// ```
    #[must_use]
    pub fn into_inner(self) -> admit::Semaphore {
        self.inner
    }

    /// The fairness policy; see [`admit::Semaphore::fairness`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit::Fairness;
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn is_fifo<R: Runtime>(sem: &Semaphore<R>) -> bool {
    ///     sem.fairness() == Fairness::Fifo
    /// }
    /// ```
    #[must_use]
    pub fn fairness(&self) -> Fairness {
        self.inner.fairness()
    }

    /// Whether the capacity is fixed; see [`admit::Semaphore::is_bounded`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn check<R: Runtime>() {
    ///     assert!(!Semaphore::<R>::new(1).is_bounded());
    /// }
    /// ```
    #[must_use]
    pub fn is_bounded(&self) -> bool {
        self.inner.is_bounded()
    }

    /// Takes one permit if one is free and nobody is queued (under FIFO); see
    /// [`admit::Semaphore::try_acquire`].
    ///
    /// # Errors
    ///
    /// As [`admit::Semaphore::try_acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn maybe<R: Runtime>(sem: &Semaphore<R>) -> bool {
    ///     sem.try_acquire().is_ok()
    /// }
    /// ```
    pub fn try_acquire(&self) -> Result<Permit<'_>, TryAcquireError> {
        self.inner.try_acquire()
    }

    /// Takes `n` permits now; see [`admit::Semaphore::try_acquire_many`].
    ///
    /// # Errors
    ///
    /// As [`admit::Semaphore::try_acquire_many`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn maybe_two<R: Runtime>(sem: &Semaphore<R>) -> bool {
    ///     sem.try_acquire_many(2).is_ok()
    /// }
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<Permit<'_>, TryAcquireError> {
        self.inner.try_acquire_many(n)
    }

    /// Adds `n` permits; see [`admit::Semaphore::add_permits`].
    ///
    /// # Panics
    ///
    /// As [`admit::Semaphore::add_permits`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn grow<R: Runtime>(sem: &Semaphore<R>) {
    ///     sem.add_permits(2);
    /// }
    /// ```
    #[track_caller]
    pub fn add_permits(&self, n: usize) {
        self.inner.add_permits(n);
    }

    /// Adds `n` permits, checked; see [`admit::Semaphore::release`].
    ///
    /// # Errors
    ///
    /// As [`admit::Semaphore::release`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn give_back<R: Runtime>(sem: &Semaphore<R>) -> Result<(), admit::ReleaseError> {
    ///     sem.release(1)
    /// }
    /// ```
    pub fn release(&self, n: usize) -> Result<(), ReleaseError> {
        self.inner.release(n)
    }

    /// Removes up to `n` free permits; see [`admit::Semaphore::forget_permits`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn shrink<R: Runtime>(sem: &Semaphore<R>) -> usize {
    ///     sem.forget_permits(2)
    /// }
    /// ```
    pub fn forget_permits(&self, n: usize) -> usize {
        self.inner.forget_permits(n)
    }

    /// Sets the capacity; see [`admit::Semaphore::set_capacity`].
    ///
    /// # Panics
    ///
    /// As [`admit::Semaphore::set_capacity`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn resize<R: Runtime>(sem: &Semaphore<R>) {
    ///     sem.set_capacity(4);
    /// }
    /// ```
    #[track_caller]
    pub fn set_capacity(&self, n: usize) {
        self.inner.set_capacity(n);
    }

    /// The capacity; see [`admit::Semaphore::capacity`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn check<R: Runtime>() {
    ///     assert_eq!(Semaphore::<R>::new(3).capacity(), 3);
    /// }
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// Closes the semaphore; see [`admit::Semaphore::close`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn shut<R: Runtime>(sem: &Semaphore<R>) {
    ///     sem.close();
    ///     assert!(sem.is_closed());
    /// }
    /// ```
    pub fn close(&self) {
        self.inner.close();
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn check<R: Runtime>() {
    ///     assert!(!Semaphore::<R>::new(1).is_closed());
    /// }
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Free permits now; see [`admit::Semaphore::available_permits`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn check<R: Runtime>() {
    ///     assert_eq!(Semaphore::<R>::new(3).available_permits(), 3);
    /// }
    /// ```
    #[must_use]
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// Queued waiters now; see [`admit::Semaphore::waiter_count`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn check<R: Runtime>() {
    ///     assert_eq!(Semaphore::<R>::new(3).waiter_count(), 0);
    /// }
    /// ```
    #[must_use]
    pub fn waiter_count(&self) -> usize {
        self.inner.waiter_count()
    }

    /// Blocks the current thread until one permit is granted; see
    /// [`admit::Semaphore::acquire_blocking`].
    ///
    /// # Blocking
    ///
    /// Parks the thread: never call it from async code.
    ///
    /// # Errors
    ///
    /// As [`admit::Semaphore::acquire_blocking`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn from_a_thread<R: Runtime>(sem: &Semaphore<R>) {
    ///     let _permit = sem.acquire_blocking().unwrap();
    /// }
    /// ```
    pub fn acquire_blocking(&self) -> Result<Permit<'_>, AcquireError> {
        self.inner.acquire_blocking()
    }

    /// Blocks the current thread until `n` permits are granted; see
    /// [`admit::Semaphore::acquire_many_blocking`].
    ///
    /// # Blocking
    ///
    /// Parks the thread: never call it from async code.
    ///
    /// # Errors
    ///
    /// As [`admit::Semaphore::acquire_many_blocking`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// fn from_a_thread<R: Runtime>(sem: &Semaphore<R>) {
    ///     let _permits = sem.acquire_many_blocking(2).unwrap();
    /// }
    /// ```
    pub fn acquire_many_blocking(&self, n: usize) -> Result<Permit<'_>, AcquireError> {
        self.inner.acquire_many_blocking(n)
    }

    /// Takes one permit now, held through the `Arc`; see
    /// [`admit::Semaphore::try_acquire_owned`].
    ///
    /// # Errors
    ///
    /// As [`admit::Semaphore::try_acquire_owned`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    /// use std::sync::Arc;
    ///
    /// fn maybe<R: Runtime>(sem: &Arc<Semaphore<R>>) -> bool {
    ///     Arc::clone(sem).try_acquire_owned().is_ok()
    /// }
    /// ```
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedPermit<Self>, TryAcquireError> {
        OwnedPermit::try_acquire(self, 1)
    }

    /// Takes `n` permits now, held through the `Arc`; see
    /// [`admit::Semaphore::try_acquire_many_owned`].
    ///
    /// # Errors
    ///
    /// As [`admit::Semaphore::try_acquire_many_owned`].
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    /// use std::sync::Arc;
    ///
    /// fn maybe_two<R: Runtime>(sem: &Arc<Semaphore<R>>) -> bool {
    ///     Arc::clone(sem).try_acquire_many_owned(2).is_ok()
    /// }
    /// ```
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: usize,
    ) -> Result<OwnedPermit<Self>, TryAcquireError> {
        OwnedPermit::try_acquire(self, n)
    }
}

impl<R: Runtime> Semaphore<R> {
    /// Waits for one permit, under the runtime's cooperative scheduling; see
    /// [`admit::Semaphore::acquire`].
    ///
    /// # Errors
    ///
    /// As [`admit::Semaphore::acquire`] (closed).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives back every permit it was assigned.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// async fn job<R: Runtime>(sem: &Semaphore<R>) -> Result<(), admit::AcquireError> {
    ///     let _permit = sem.acquire().await?;
    ///     Ok(())
    /// }
    /// ```
    pub fn acquire(&self) -> R::Cooperative<Acquire<'_>> {
        R::cooperative(self.inner.acquire())
    }

    /// Waits for `n` permits at once, under the runtime's cooperative scheduling; see
    /// [`admit::Semaphore::acquire_many`].
    ///
    /// # Errors
    ///
    /// As [`admit::Semaphore::acquire_many`]: closed, or (bounded semaphores only) more than
    /// the capacity.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    ///
    /// async fn big_job<R: Runtime>(sem: &Semaphore<R>) -> Result<(), admit::AcquireError> {
    ///     let permit = sem.acquire_many(4).await?;
    ///     assert_eq!(permit.num_permits(), 4);
    ///     Ok(())
    /// }
    /// ```
    pub fn acquire_many(&self, n: usize) -> R::Cooperative<Acquire<'_>> {
        R::cooperative(self.inner.acquire_many(n))
    }

    /// Waits for one permit held through the `Arc` (`'static`, for spawned tasks), under the
    /// runtime's cooperative scheduling; see [`admit::Semaphore::acquire_owned`].
    ///
    /// # Errors
    ///
    /// As [`admit::Semaphore::acquire_owned`].
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    /// use std::sync::Arc;
    ///
    /// async fn hand_off<R: Runtime>(sem: Arc<Semaphore<R>>) -> Result<(), admit::AcquireError> {
    ///     let permit = sem.acquire_owned().await?;
    ///     R::spawn(async move { drop(permit) }).await;
    ///     Ok(())
    /// }
    /// ```
    pub fn acquire_owned(self: Arc<Self>) -> R::Cooperative<AcquireOwned<Self>> {
        R::cooperative(AcquireOwned::new(self, 1))
    }

    /// Waits for `n` permits held through the `Arc`, under the runtime's cooperative
    /// scheduling; see [`admit::Semaphore::acquire_many_owned`].
    ///
    /// # Errors
    ///
    /// As [`admit::Semaphore::acquire_many_owned`].
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{Runtime, Semaphore};
    /// use std::sync::Arc;
    ///
    /// async fn reserve<R: Runtime>(sem: Arc<Semaphore<R>>) -> Result<(), admit::AcquireError> {
    ///     let permit = sem.acquire_many_owned(2).await?;
    ///     assert_eq!(permit.num_permits(), 2);
    ///     Ok(())
    /// }
    /// ```
    pub fn acquire_many_owned(self: Arc<Self>, n: usize) -> R::Cooperative<AcquireOwned<Self>> {
        R::cooperative(AcquireOwned::new(self, n))
    }

    /// Waits for one permit, giving up after `timeout`.
    ///
    /// The clock starts when this method is called, not when the future is first polled. A
    /// permit available at once is returned even with a zero timeout, and one granted in the
    /// same instant the deadline fires is returned, never lost.
    ///
    /// # Errors
    ///
    /// * [`AcquireTimeoutError::Timeout`] if the time runs out (the semaphore is then exactly
    ///   as if the caller had never asked);
    /// * [`AcquireTimeoutError::Acquire`] with the semaphore's error.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future, or timing out, gives back every permit the wait was
    /// assigned.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{AcquireTimeoutError, Runtime, Semaphore};
    /// use std::time::Duration;
    ///
    /// async fn try_for_a_while<R: Runtime>(sem: &Semaphore<R>) -> bool {
    ///     match sem.acquire_timeout(Duration::from_millis(50)).await {
    ///         Ok(_permit) => true,
    ///         Err(AcquireTimeoutError::Timeout) => false,
    ///         Err(e) => panic!("{e}"),
    ///     }
    /// }
    /// ```
    pub fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Permit<'_>, AcquireTimeoutError>> + Send + '_ {
        self.acquire_many_timeout(1, timeout)
    }

    /// Waits for `n` permits at once, giving up after `timeout`; see
    /// [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{AcquireTimeoutError, Runtime, Semaphore};
    /// use std::time::Duration;
    ///
    /// async fn batch<R: Runtime>(sem: &Semaphore<R>) -> Result<(), AcquireTimeoutError> {
    ///     let permits = sem.acquire_many_timeout(3, Duration::from_secs(1)).await?;
    ///     assert_eq!(permits.num_permits(), 3);
    ///     Ok(())
    /// }
    /// ```
    pub fn acquire_many_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> impl Future<Output = Result<Permit<'_>, AcquireTimeoutError>> + Send + '_ {
        with_deadline::<R, _>(
            self.inner.acquire_many(n),
            deadline_after(R::now(), timeout),
        )
    }

    /// Waits for one permit, giving up at `deadline`, an instant of the runtime's own clock
    /// (`tokio::time::Instant` on tokio, `std::time::Instant` elsewhere).
    ///
    /// A permit available at once is returned even if the deadline has passed.
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{AcquireTimeoutError, Runtime, Semaphore};
    ///
    /// /// Handles a request within its budget, or not at all.
    /// async fn handle<R: Runtime>(
    ///     sem: &Semaphore<R>,
    ///     deadline: R::Instant,
    /// ) -> Result<(), AcquireTimeoutError> {
    ///     let _permit = sem.acquire_deadline(deadline).await?;
    ///     // ... the work, which may itself check the same deadline ...
    ///     Ok(())
    /// }
    /// ```
    pub fn acquire_deadline(
        &self,
        deadline: R::Instant,
    ) -> impl Future<Output = Result<Permit<'_>, AcquireTimeoutError>> + Send + '_ {
        self.acquire_many_deadline(1, deadline)
    }

    /// Waits for `n` permits at once, giving up at `deadline` (the runtime's own instant); see
    /// [`acquire_deadline`](Self::acquire_deadline).
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{AcquireTimeoutError, Runtime, Semaphore};
    ///
    /// async fn batch<R: Runtime>(
    ///     sem: &Semaphore<R>,
    ///     deadline: R::Instant,
    /// ) -> Result<usize, AcquireTimeoutError> {
    ///     Ok(sem.acquire_many_deadline(2, deadline).await?.num_permits())
    /// }
    /// ```
    pub fn acquire_many_deadline(
        &self,
        n: usize,
        deadline: R::Instant,
    ) -> impl Future<Output = Result<Permit<'_>, AcquireTimeoutError>> + Send + '_ {
        with_deadline::<R, _>(self.inner.acquire_many(n), deadline.into())
    }

    /// Waits for one permit held through the `Arc`, giving up after `timeout`: acquire, then
    /// spawn the work with the permit.
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{AcquireTimeoutError, Runtime, Semaphore};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// async fn start<R: Runtime>(sem: Arc<Semaphore<R>>) -> Result<(), AcquireTimeoutError> {
    ///     let permit = sem.acquire_owned_timeout(Duration::from_millis(100)).await?;
    ///     R::spawn(async move {
    ///         // ... the work ...
    ///         drop(permit);
    ///     });
    ///     Ok(())
    /// }
    /// ```
    pub fn acquire_owned_timeout(
        self: Arc<Self>,
        timeout: Duration,
    ) -> impl Future<Output = Result<OwnedPermit<Self>, AcquireTimeoutError>> + Send + 'static {
        self.acquire_many_owned_timeout(1, timeout)
    }

    /// Waits for `n` permits held through the `Arc`, giving up after `timeout`; see
    /// [`acquire_owned_timeout`](Self::acquire_owned_timeout).
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_runtime::{AcquireTimeoutError, Runtime, Semaphore};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// async fn reserve<R: Runtime>(sem: Arc<Semaphore<R>>) -> Result<usize, AcquireTimeoutError> {
    ///     let permits = sem.acquire_many_owned_timeout(2, Duration::from_secs(1)).await?;
    ///     Ok(permits.num_permits())
    /// }
    /// ```
    pub fn acquire_many_owned_timeout(
        self: Arc<Self>,
        n: usize,
        timeout: Duration,
    ) -> impl Future<Output = Result<OwnedPermit<Self>, AcquireTimeoutError>> + Send + 'static {
        with_deadline::<R, _>(
            AcquireOwned::new(self, n),
            deadline_after(R::now(), timeout),
        )
    }
}

impl<R> AsRef<admit::Semaphore> for Semaphore<R> {
    fn as_ref(&self) -> &admit::Semaphore {
        &self.inner
    }
}

impl<R> From<admit::Semaphore> for Semaphore<R> {
    fn from(inner: admit::Semaphore) -> Self {
        Self::from_core(inner)
    }
}

impl<R> Default for Semaphore<R> {
    /// A semaphore with no permits, as [`admit::Semaphore::default`].
    fn default() -> Self {
        Self::from_core(admit::Semaphore::default())
    }
}

impl<R> fmt::Debug for Semaphore<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
