//! The engine under every pool operation: job slots, a waker per slot, and the ready queue
//! those wakers feed, so that the engine polls only the jobs that were woken.
//!
//! * A **slot** holds one running job (in [`Inline`] mode, the future itself, pinned in a box
//!   that the slot keeps and reuses for the next job; in [`Spawned`] mode, the task's join
//!   handle), the job's permit, and a [`Waker`] made once from an `Arc<SlotWaker>` that knows
//!   the slot's number. Freed slots go on a free list and are reused, so a pool allocates at
//!   most K slots, whatever the number of jobs.
//! * Waking a slot's waker pushes the slot's number on the shared ready queue (once: an atomic
//!   `queued` flag per slot swallows repeated wakes until the engine has polled the job) and
//!   wakes the task driving the engine.
//! * Each time it is polled, the engine takes the whole ready queue under one lock and polls
//!   just those jobs, each with its own slot's waker. A completion thus costs O(1) whatever
//!   K is (as in `futures::stream::FuturesUnordered`), where polling every running job on
//!   every wake costs O(K).
//!
//! A stale wake (from a job that has since finished, for a slot now free or running another
//! job) at worst polls a job once more than needed; every poll checks that the slot is busy.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use admit::futures::AcquireOwned;
use admit::{AcquireError, TryAcquireError};
use futures_lite::future;

use super::{PoolError, Progress, ProgressHook};
use crate::{Runtime, Semaphore, Signal};

/// A job's permit: one permit of the pool's runtime-aware semaphore, held through its `Arc`.
pub(crate) type OwnedPermit<R> = admit::OwnedPermit<Semaphore<R>>;

/// The wait for a job's permit, when none was free.
type AcquirePermit<R> = AcquireOwned<Semaphore<R>>;

/// The runtime's sleep, for the pool's acquire timeout: pinned in a box that is reused.
type Deadline<R> = Pin<Box<Option<<R as Runtime>::Sleep>>>;

pub(crate) mod sealed {
    use super::{Context, Future, OwnedPermit, Poll, Runtime};

    /// How a pool runs a job; see [`Inline`](super::Inline) and [`Spawned`](super::Spawned).
    pub trait Mode<F: Future> {
        /// The runtime whose semaphore, clock and cooperative budget the pool uses.
        type Runtime: Runtime;

        /// What a slot keeps for its job (kept, and reused, after the job finishes).
        type Cell;

        /// Starts `future` in `cell`, holding `permit` until it finishes. Returns the permit
        /// if the pool should hold it for the job.
        fn start(
            &mut self,
            cell: &mut Option<Self::Cell>,
            future: F,
            permit: OwnedPermit<Self::Runtime>,
        ) -> Option<OwnedPermit<Self::Runtime>>;

        /// Polls the job running in `cell`.
        fn poll(cell: &mut Option<Self::Cell>, cx: &mut Context<'_>) -> Poll<F::Output>;

        /// Drops the job in `cell` (finished or not), keeping what can be reused.
        fn clear(cell: &mut Option<Self::Cell>);
    }
}

use sealed::Mode;

/// Pool mode: the jobs are polled by the caller, inside the pool's future or stream; nothing
/// is spawned, and jobs need be neither `Send` nor `'static`. `R` is the runtime whose
/// semaphore and cooperative budget the pool uses.
///
/// # Examples
///
/// ```
/// use admit_runtime::{AsCompleted, Inline};
///
/// // The type of `TaskPool::<R>::as_completed` over a vector of boxed futures.
/// type Jobs<R> = AsCompleted<
///     std::vec::IntoIter<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>>,
///     Inline<R>,
/// >;
/// ```
pub struct Inline<R> {
    runtime: PhantomData<fn() -> R>,
}

impl<R> Inline<R> {
    pub(crate) fn new() -> Self {
        Self {
            runtime: PhantomData,
        }
    }
}

impl<R> fmt::Debug for Inline<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Inline")
    }
}

impl<R: Runtime, F: Future> Mode<F> for Inline<R> {
    type Runtime = R;

    /// The job pinned in a box the slot keeps: the next job in this slot is written into the
    /// same box (`Pin::set`), so jobs cost no allocation once the pool has K slots.
    type Cell = Pin<Box<Option<F>>>;

    fn start(
        &mut self,
        cell: &mut Option<Self::Cell>,
        future: F,
        permit: OwnedPermit<R>,
    ) -> Option<OwnedPermit<R>> {
        match cell {
            Some(boxed) => boxed.as_mut().set(Some(future)),
            None => *cell = Some(Box::pin(Some(future))),
        }
        Some(permit)
    }

    fn poll(cell: &mut Option<Self::Cell>, cx: &mut Context<'_>) -> Poll<F::Output> {
        cell.as_mut()
            .and_then(|boxed| boxed.as_mut().as_pin_mut())
            .expect("only busy slots are polled")
            .poll(cx)
    }

    fn clear(cell: &mut Option<Self::Cell>) {
        if let Some(boxed) = cell {
            boxed.as_mut().set(None);
        }
    }
}

/// Pool mode: each job runs as a task on runtime `R`, holding its permit; dropping the pool's
/// future, stream or set stops the tasks.
///
/// # Examples
///
/// ```
/// use admit_runtime::{AsCompleted, Runtime, Spawned};
///
/// type Jobs<R> = AsCompleted<
///     std::vec::IntoIter<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
///     Spawned<R>,
/// >;
/// ```
pub struct Spawned<R> {
    /// Set when the pool's engine is dropped: tells its tasks to stop.
    cancel: Arc<Signal>,
    runtime: PhantomData<fn() -> R>,
}

impl<R> Spawned<R> {
    pub(crate) fn new() -> Self {
        Self {
            cancel: Arc::new(Signal::default()),
            runtime: PhantomData,
        }
    }
}

impl<R> fmt::Debug for Spawned<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawned")
            .field("cancelled", &self.cancel.is_set())
            .finish()
    }
}

impl<R> Drop for Spawned<R> {
    fn drop(&mut self) {
        self.cancel.set();
    }
}

impl<R, F> Mode<F> for Spawned<R>
where
    R: Runtime,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Runtime = R;
    type Cell = R::JoinHandle<Option<(F::Output, OwnedPermit<R>)>>;

    fn start(
        &mut self,
        cell: &mut Option<Self::Cell>,
        future: F,
        permit: OwnedPermit<R>,
    ) -> Option<OwnedPermit<R>> {
        let cancel = Arc::clone(&self.cancel);
        // The task holds the permit while it runs, and hands it back with its output, so that
        // the permit is free again only once the pool has seen the task finish (keeping
        // "in flight" within the limit), or once a stopped or panicked task is dropped.
        let task = async move {
            let cancelled = async {
                cancel.wait().await;
                None
            };
            let output = future::or(async { Some(future.await) }, cancelled).await;
            output.map(|output| (output, permit))
        };
        *cell = Some(R::spawn(task));
        None
    }

    fn poll(cell: &mut Option<Self::Cell>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let handle = cell.as_mut().expect("only busy slots are polled");
        Pin::new(handle).poll(cx).map(|output| {
            let (output, permit) =
                output.expect("pool tasks are only stopped after the pool stops awaiting them");
            drop(permit);
            output
        })
    }

    fn clear(cell: &mut Option<Self::Cell>) {
        *cell = None;
    }
}

/// The slots woken since the engine last looked, and the waker of the task driving it.
#[derive(Default)]
struct ReadyQueue {
    state: Mutex<ReadyState>,
}

#[derive(Default)]
struct ReadyState {
    woken: Vec<usize>,
    driver: Option<Waker>,
}

impl ReadyQueue {
    fn lock(&self) -> MutexGuard<'_, ReadyState> {
        // Nothing runs user code under this lock, so a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A slot's waker: queues the slot for polling.
struct SlotWaker {
    slot: usize,
    /// Set while the slot is on the ready queue (or about to be polled), so that a job woken
    /// many times between two polls is queued once.
    queued: AtomicBool,
    queue: Arc<ReadyQueue>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // AcqRel, with the engine's swap to false: whichever comes second sees the other, so
        // a wake is never lost between the engine taking the slot and polling it.
        if !self.queued.swap(true, Ordering::AcqRel) {
            let mut state = self.queue.lock();
            state.woken.push(self.slot);
            if let Some(driver) = &state.driver {
                driver.wake_by_ref();
            }
        }
    }
}

struct Slot<C, R> {
    cell: Option<C>,
    /// The input index of the job running here, `None` while the slot is free.
    job: Option<usize>,
    /// The job's permit, if the pool holds it (inline mode); dropped when the job finishes.
    permit: Option<OwnedPermit<R>>,
    waker: Waker,
    flag: Arc<SlotWaker>,
}

/// Runs jobs in slots, each holding one permit of the pool's semaphore, and reports them as
/// they finish. [`AsCompleted`](super::AsCompleted) and [`PoolSet`](super::PoolSet) are the
/// engine plus a way of feeding it jobs.
pub(crate) struct Engine<F: Future, M: Mode<F>> {
    slots: Vec<Slot<M::Cell, M::Runtime>>,
    free: Vec<usize>,
    queue: Arc<ReadyQueue>,
    /// Slots to poll in this pass: taken from the ready queue, plus jobs just started.
    to_poll: VecDeque<usize>,
    running: usize,
    /// Polls left in this pass before jobs woken during it wait for the next one.
    polls_left: usize,
    mode: M,
    semaphore: Arc<Semaphore<M::Runtime>>,
    /// The permit being waited for, when none was free (the box is reused).
    acquiring: Pin<Box<Option<AcquirePermit<M::Runtime>>>>,
    /// The pool's acquire timeout, if it has one.
    timeout: Option<Duration>,
    /// When the wait for `acquiring` times out: the runtime's sleep, in a box made at the
    /// first timed wait and reused for the next ones.
    deadline: Option<Deadline<M::Runtime>>,
    hook: Option<ProgressHook>,
    pub(crate) progress: Progress,
}

impl<F: Future, M: Mode<F>> Engine<F, M> {
    pub(crate) fn new(
        semaphore: Arc<Semaphore<M::Runtime>>,
        mode: M,
        hook: Option<ProgressHook>,
        timeout: Option<Duration>,
        total: Option<usize>,
    ) -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            queue: Arc::default(),
            to_poll: VecDeque::new(),
            running: 0,
            polls_left: 0,
            mode,
            semaphore,
            acquiring: Box::pin(None),
            timeout,
            deadline: None,
            hook,
            progress: Progress {
                total,
                ..Progress::default()
            },
        }
    }

    /// Jobs started and not yet finished.
    pub(crate) fn running(&self) -> usize {
        self.running
    }

    fn report(&self) {
        if let Some(hook) = &self.hook {
            hook(self.progress);
        }
    }

    /// Takes the woken slots off the ready queue, and makes `cx` the waker to wake on the
    /// next job wake. Call at the start of each poll of the engine's owner.
    pub(crate) fn take_woken(&mut self, cx: &Context<'_>) {
        let mut state = self.queue.lock();
        match &state.driver {
            Some(driver) if driver.will_wake(cx.waker()) => {}
            _ => state.driver = Some(cx.waker().clone()),
        }
        self.to_poll.extend(state.woken.drain(..));
        // As `FuturesUnordered`: at most about one poll per running job per pass.
        self.polls_left = self.running + 1;
    }

    /// Polls the woken jobs (see [`take_woken`](Self::take_woken)) until one finishes; returns
    /// it with its input index, its slot and permit already freed. `None` when none of them
    /// finished.
    ///
    /// A job's panic is resumed here, after its slot and permit are freed.
    pub(crate) fn next_finished(&mut self) -> Option<(usize, F::Output)> {
        loop {
            let Some(id) = self.to_poll.pop_front() else {
                // Jobs woken by other jobs during this pass are polled in it too (a job handing
                // something to another need not wait for the runtime to poll the driver
                // again), within the pass's budget, so that self-waking jobs cannot keep the
                // driver here forever.
                if self.polls_left == 0 || !self.take_woken_again() {
                    return None;
                }
                continue;
            };
            self.polls_left = self.polls_left.saturating_sub(1);
            let slot = &mut self.slots[id];
            slot.flag.queued.swap(false, Ordering::AcqRel);
            let Some(index) = slot.job else { continue };
            let mut cx = Context::from_waker(&slot.waker);
            let cell = &mut slot.cell;
            match panic::catch_unwind(AssertUnwindSafe(|| M::poll(cell, &mut cx))) {
                Ok(Poll::Pending) => {}
                Ok(Poll::Ready(output)) => {
                    self.free_slot(id);
                    return Some((index, output));
                }
                Err(payload) => {
                    self.free_slot(id);
                    panic::resume_unwind(payload);
                }
            }
        }
    }

    /// Takes what was woken since [`take_woken`](Self::take_woken); whether there was any.
    fn take_woken_again(&mut self) -> bool {
        let mut state = self.queue.lock();
        self.to_poll.extend(state.woken.drain(..));
        !self.to_poll.is_empty()
    }

    fn free_slot(&mut self, id: usize) {
        let slot = &mut self.slots[id];
        M::clear(&mut slot.cell);
        slot.job = None;
        // The permit goes back before anyone hears of the result.
        drop(slot.permit.take());
        self.free.push(id);
        self.running -= 1;
        self.progress.in_flight -= 1;
        self.progress.finished += 1;
        self.report();
    }

    /// A permit for the next job: at once if one is free, else by waiting in the semaphore's
    /// FIFO queue (with the pool's acquire timeout, if it has one).
    ///
    /// Each acquire first consumes one unit of the runtime's cooperative budget, yielding if
    /// it is spent (as [`Semaphore::acquire_owned`]'s `R::cooperative` does), so that a pool
    /// admitting always-ready jobs cannot starve the other tasks of a tokio worker.
    pub(crate) fn poll_permit(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<OwnedPermit<M::Runtime>, PoolError>> {
        if self.acquiring.is_none() {
            // A fresh budget future, polled once: it holds no state, so dropping it pending
            // only leaves the wake-up the runtime scheduled for the yield.
            if pin!(M::Runtime::budget()).poll(cx).is_pending() {
                return Poll::Pending;
            }
            match Arc::clone(&self.semaphore).try_acquire_owned() {
                Ok(permit) => return Poll::Ready(Ok(permit)),
                Err(TryAcquireError::NoPermits) => {
                    let acquire = AcquirePermit::new(Arc::clone(&self.semaphore), 1);
                    self.acquiring.as_mut().set(Some(acquire));
                    if let Some(timeout) = self.timeout {
                        let at = crate::deadline_after(M::Runtime::now(), timeout);
                        let sleep = M::Runtime::sleep_until(at);
                        match &mut self.deadline {
                            Some(boxed) => boxed.as_mut().set(Some(sleep)),
                            None => self.deadline = Some(Box::pin(Some(sleep))),
                        }
                    }
                }
                // A one-permit request is too large only for a bounded semaphore of capacity 0.
                Err(TryAcquireError::TooLarge) => return Poll::Ready(Err(PoolError::ZeroLimit)),
                Err(_) => return Poll::Ready(Err(PoolError::Closed)),
            }
        }
        let acquiring = self.acquiring.as_mut().as_pin_mut().expect("set above");
        let result = match acquiring.poll(cx) {
            Poll::Ready(Ok(permit)) => Ok(permit),
            Poll::Ready(Err(AcquireError::TooLarge)) => Err(PoolError::ZeroLimit),
            Poll::Ready(Err(_)) => Err(PoolError::Closed),
            Poll::Pending => {
                let timed_out = self
                    .deadline
                    .as_mut()
                    .and_then(|boxed| boxed.as_mut().as_pin_mut())
                    .is_some_and(|sleep| sleep.poll(cx).is_ready());
                if self.running == 0 && self.semaphore.capacity() == 0 {
                    // Nothing running can give a permit back: this would wait forever.
                    Err(PoolError::ZeroLimit)
                } else if timed_out {
                    let timeout = self.timeout.unwrap_or(Duration::ZERO);
                    Err(PoolError::AcquireTimeout(timeout))
                } else {
                    return Poll::Pending;
                }
            }
        };
        self.stop_waiting();
        Poll::Ready(result)
    }

    /// Gives up the wait for a permit, if any (returning whatever it was assigned).
    pub(crate) fn stop_waiting(&mut self) {
        self.acquiring.as_mut().set(None);
        if let Some(boxed) = &mut self.deadline {
            boxed.as_mut().set(None);
        }
    }

    /// Starts `future` (input `index`) with `permit`; it is polled in this pass.
    pub(crate) fn start(&mut self, index: usize, future: F, permit: OwnedPermit<M::Runtime>) {
        let id = self.free.pop().unwrap_or_else(|| {
            let id = self.slots.len();
            let flag = Arc::new(SlotWaker {
                slot: id,
                queued: AtomicBool::new(false),
                queue: Arc::clone(&self.queue),
            });
            self.slots.push(Slot {
                cell: None,
                job: None,
                permit: None,
                waker: Waker::from(Arc::clone(&flag)),
                flag,
            });
            id
        });
        let slot = &mut self.slots[id];
        slot.permit = self.mode.start(&mut slot.cell, future, permit);
        slot.job = Some(index);
        slot.flag.queued.store(true, Ordering::Release);
        self.to_poll.push_back(id);
        self.running += 1;
        self.progress.in_flight += 1;
        self.report();
    }

    /// Whether a permit is being waited for.
    pub(crate) fn is_waiting(&self) -> bool {
        self.acquiring.is_some()
    }
}
