//! The permit-accounting engine behind [`Semaphore`](crate::Semaphore): the
//! state word, the wait queue and every path that moves permits. What lives
//! elsewhere: the list operations ([`crate::list`]), the lock ([`crate::lock`]),
//! the batch of wakers ([`crate::wake_list`]), the user-facing docs
//! (`semaphore.rs`).
//!
//! # Implementation details
//!
//! ## The state word
//!
//! One `AtomicUsize`, `state`, holds everything the lock-free paths need:
//!
//! ```text
//!  usize::BITS-1 .. 7   6 .. 3     2           1        0
//! +-----------------+----------+------------+--------+--------+
//! |   free (signed) | overtakes| THROUGHPUT | QUEUED | CLOSED |
//! +-----------------+----------+------------+--------+--------+
//! ```
//!
//! - `free` is a *signed* count of permits nobody holds. It goes negative when
//!   [`set_capacity`](crate::Semaphore::set_capacity) shrinks the semaphore
//!   below what is held: the deficit is a debt that later returns pay first,
//!   with no extra bookkeeping on the return path.
//! - `CLOSED` is set once by `close` and never cleared.
//! - `QUEUED` is set exactly while the wait queue is non-empty (it changes only
//!   under the wait-queue lock).
//! - `THROUGHPUT` is the fairness policy, fixed at construction.
//! - `overtakes` counts acquisitions that took free permits while waiters were
//!   queued; the lock-free acquire path is open only while it is below
//!   [`OVERTAKE_LIMIT`] (see "Fairness").
//!
//! Two more counters are off the hot paths: `total`, the permits the
//! semaphore manages (`free + held + assigned to waiters`), and `bound`, the
//! capacity of a bounded semaphore (`usize::MAX` when unbounded). `bound` and
//! the growing writes of `total` are made under the lock; forgetting free
//! permits lowers `total` without it (one `fetch_sub`), which is why checks
//! against `total` under the lock stay true: it only shrinks concurrently.
//!
//! ## The queue
//!
//! A doubly-linked [`List`] of [`Waiter`] nodes guarded by the wait-queue
//! lock. Each node lives inside its acquire future (the future is `!Unpin`),
//! so waiting allocates nothing. The semaphore stores the head (in the lock's
//! word, see [`crate::lock`]) and the tail. Dequeuing the head touches no
//! other node and enqueuing touches only the old tail, so the lock holder
//! visits at most one waiter it does not own (another task's memory, often in
//! another core's cache) per enqueue or dequeue.
//!
//! A node's `needed` counter is the number of permits it still lacks. It is
//! only written under the lock, but the owning future reads it without the
//! lock: `0` means "granted and unlinked", and two sentinels above
//! `MAX_PERMITS` mean "closed" and "can never be satisfied". Whoever settles a
//! node (`Locked::settle`) finishes every access to it (taking its waker out,
//! unlinking it) *before* storing the outcome with `Release`; from that store
//! on, the owner may free the node, and it reads the value with `Acquire`
//! before doing so. An owner that leaves on its own (cancellation) unlinks its
//! node under the lock first.
//!
//! ## How permits move
//!
//! The names say which way:
//!
//! - *return* (`return_permits`): held permits come back; the total is
//!   unchanged. *Add* (`try_add_permits`): new permits, the total grows,
//!   checked against the bound.
//! - *assign*: permits go to a waiter's account (its `needed` shrinks).
//!   `Locked::assign_returned` assigns permits that are being returned and
//!   never reach `state`; `Locked::offer_free` takes free permits out of
//!   `state` to assign them.
//! - *offer* (`offer_free`, and `offer_free_and_unlock`, how every slow path
//!   ends): serve the queue from what is free, assigning in hand-off mode or
//!   notifying the head while newcomers may compete.
//! - *settle*: a waiter leaves the queue with its outcome (granted, closed,
//!   too large) recorded for its owner; *dequeue* only unlinks it.
//!
//! ## The fast paths
//!
//! - acquire / `try_acquire` with enough free permits and nobody to respect:
//!   one `compare_exchange` loop on `state`, no lock.
//! - returning permits: a plain load, then one `fetch_add` on `state` when
//!   nobody waits. If the load shows `QUEUED`, the returner takes the lock and
//!   in hand-off mode assigns the permits to the head directly
//!   (`return_to_queue`), without writing `state`; if the `fetch_add`'s
//!   previous value shows it, the permits are free already and the returner
//!   offers them (`lock_and_offer_free`).
//!
//! Both are checked by `uncontended_paths_take_no_lock` below: they complete
//! while another thread holds the lock.
//!
//! A waiter sets `QUEUED` with a `compare_exchange` under the lock that also
//! re-checks `free`, so a return either happens before it (and the waiter
//! sees the permits) or sees `QUEUED` (and comes to the lock). No wakeup can
//! be lost between the two.
//!
//! ## Fairness
//!
//! - FIFO (the default): the overtake count is pinned at the limit for as
//!   long as anyone is queued, so the lock-free path is closed and newcomers
//!   never pass a waiter. Permits are assigned to the head directly
//!   (hand-off mode); a partly assigned head keeps what it has and blocks the
//!   requests behind it, so a large request is not starved by small ones.
//! - Throughput: the count starts at zero for each new head. Below the limit
//!   newcomers may take free permits ahead of the queue (each such take counts
//!   one overtake) and the head is only notified that enough are free; it
//!   takes them itself when polled, if they are still there. At the limit the
//!   semaphore is in hand-off mode, as under FIFO, until that head is served.
//!
//! ## Memory orderings
//!
//! - Taking permits uses `Acquire`, returning them `Release`, so everything a
//!   holder did happens-before the next holder's critical section. Permits
//!   offered from `state` travel by the same chain: the returner's `Release`
//!   RMW is read by the lock holder's `AcqRel` CAS, whose thread then stores
//!   `needed` with `Release`, read by the waiter with `Acquire`. Permits
//!   assigned while being returned skip `state`: the returner's own `Release`
//!   store of `needed` carries them.
//! - Flag changes are made under the lock with RMWs; the lock orders them
//!   among themselves, the RMWs order them against the lock-free paths.
//! - `total` and `bound` are read and written with `Relaxed`: they are never
//!   used to publish other memory.
//!
//! ## Wakers
//!
//! Wakers are taken out of nodes under the lock into a [`WakeList`] of up to
//! 32 and woken after the lock is released. Long hand-overs (a return that
//! serves hundreds of waiters, `close`) proceed in batches. Waker `clone` and
//! `drop` also happen with the lock released, so a waker may call back into
//! the semaphore.

use core::marker::PhantomPinned;
use core::mem::MaybeUninit;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll, Waker};

use crate::error::{AcquireError, ReleaseError, TryAcquireError};
use crate::list::{Links, List, Node};
use crate::lock::{HeadGuard, HeadLock};
use crate::sync::{AtomicUsize, Ordering::*, UnsafeCell, loom_const_fn};
use crate::wake_list::WakeList;
use crate::{Fairness, MAX_PERMITS};

const CLOSED: usize = 1;
const QUEUED: usize = 1 << 1;
const THROUGHPUT: usize = 1 << 2;
const OVERTAKE_SHIFT: u32 = 3;
const OVERTAKE_MASK: usize = 0b1111 << OVERTAKE_SHIFT;
const PERMIT_SHIFT: u32 = 7;

/// How many times, at most, newcomers may take permits ahead of the waiter at
/// the head of the queue under [`Fairness::Throughput`].
pub const OVERTAKE_LIMIT: usize = 8;
const OVERTAKES_AT_LIMIT: usize = OVERTAKE_LIMIT << OVERTAKE_SHIFT;

// The overtake counter must be able to hold the limit.
const _: () = assert!(OVERTAKE_LIMIT <= OVERTAKE_MASK >> OVERTAKE_SHIFT);
// `free` ranges over [-MAX_PERMITS, MAX_PERMITS] and must fit the signed field.
const _: () = assert!(MAX_PERMITS <= (isize::MAX >> PERMIT_SHIFT) as usize);

/// `needed` of a waiter woken because the semaphore closed.
const NEEDED_CLOSED: usize = usize::MAX;
/// `needed` of a waiter that can never be served (capacity shrank below it).
const NEEDED_TOO_LARGE: usize = usize::MAX - 1;
/// `bound` of an unbounded semaphore.
const UNBOUNDED: usize = usize::MAX;

#[inline]
fn free(state: usize) -> isize {
    (state as isize) >> PERMIT_SHIFT
}

#[inline]
const fn permits(n: usize) -> usize {
    n << PERMIT_SHIFT
}

#[inline]
fn newcomers_allowed(state: usize) -> bool {
    state & OVERTAKE_MASK < OVERTAKES_AT_LIMIT
}

/// The `THROUGHPUT` bit of a policy.
#[inline]
const fn policy_bit(fairness: Fairness) -> usize {
    match fairness {
        Fairness::Fifo => 0,
        Fairness::Throughput => THROUGHPUT,
    }
}

/// The overtake count a queue starts with (or restarts with for a new head).
#[inline]
fn fresh_overtakes(state: usize) -> usize {
    if state & THROUGHPUT != 0 {
        0
    } else {
        OVERTAKES_AT_LIMIT
    }
}

/// `free(state) >= n` for `n <= MAX_PERMITS`, without the shift: the word,
/// signed, is `free * permits(1)` plus flag bits worth less than
/// `permits(1)`, so it reaches `permits(n)` (which fits `isize`) exactly when
/// `free` reaches `n`. One compare on the acquire path, fused with the
/// subtraction that takes the permits.
#[inline]
fn has_free(state: usize, n: usize) -> bool {
    debug_assert!(n <= MAX_PERMITS);
    state as isize >= permits(n) as isize
}

/// Takes `n` permits (at most `MAX_PERMITS`) from `state` for a newcomer,
/// counting an overtake if anyone is queued. `None` if the newcomer must not
/// take them now.
#[inline]
fn take_as_newcomer(state: usize, n: usize) -> Option<usize> {
    if !has_free(state, n) || state & CLOSED != 0 || !newcomers_allowed(state) {
        return None;
    }
    // QUEUED is bit 1: shifting it to the overtake field adds one overtake.
    let overtake = (state & QUEUED) << (OVERTAKE_SHIFT - 1);
    Some(state.wrapping_sub(permits(n)).wrapping_add(overtake))
}

/// The semaphore engine. See the module docs.
///
/// `repr(C)`: the three words every contended operation touches come first
/// and stay together, so that they share a cache line wherever the 40 bytes
/// land (unless the semaphore starts in the last 16 bytes of a line); the two
/// counters off the hot paths come last.
#[repr(C)]
pub(crate) struct RawSemaphore {
    state: AtomicUsize,
    /// The wait-queue lock and the queue's head.
    queue: HeadLock<Waiter>,
    /// The tail of the wait queue.
    ///
    /// # Safety
    ///
    /// Only accessed while `queue` is locked.
    tail: UnsafeCell<Option<NonNull<Waiter>>>,
    total: AtomicUsize,
    bound: AtomicUsize,
}

// SAFETY: the raw pointers in `queue` and `tail` point at waiters that are
// only touched under the lock (or by their owner once unlinked); all other
// fields are atomics.
unsafe impl Send for RawSemaphore {}
// SAFETY: as for `Send`: shared access goes through atomics or the lock.
unsafe impl Sync for RawSemaphore {}

/// A queued acquire. Lives inside the acquire future, pinned.
pub(crate) struct Waiter {
    /// Permits still missing; `0` once granted and unlinked, or one of the
    /// `NEEDED_*` sentinels. Written only under the lock (or before linking).
    needed: AtomicUsize,
    /// Permits asked for. Immutable once linked.
    requested: usize,
    /// # Safety
    ///
    /// Accessed only under the semaphore's lock while linked, or by the owner
    /// once unlinked and `needed` has been read with `Acquire`.
    inner: UnsafeCell<WaiterInner>,
    _pinned: PhantomPinned,
}

// SAFETY: the raw links and the waker are only accessed under the
// semaphore's lock while the waiter is linked, or by its owner (through `&mut`)
// once it is unlinked; `needed` is atomic and `requested` immutable. So a
// waiter (and the future that embeds it) may move to or be shared with another
// thread.
unsafe impl Send for Waiter {}
// SAFETY: as for `Send`: `&Waiter` only exposes the atomic `needed` and the
// immutable `requested` without the lock.
unsafe impl Sync for Waiter {}

struct WaiterInner {
    /// Its place in the queue (see [`crate::list`]).
    links: Links<Waiter>,
    waker: Option<Waker>,
    /// Throughput policy: the head was told that enough permits are free.
    notified: bool,
}

// SAFETY: `with_links` always gives the links inside the waiter's `inner`,
// which the engine touches apart from the waker and `notified` (never in the
// same closure).
unsafe impl Node for Waiter {
    #[inline]
    unsafe fn with_links<R>(node: NonNull<Self>, f: impl FnOnce(&mut Links<Self>) -> R) -> R {
        // SAFETY: the caller guarantees `node` is alive and that it has
        // exclusive access to the links: for a linked waiter, the wait-queue
        // lock that guards `inner`; for one being linked, ownership.
        unsafe { node.as_ref() }
            .inner
            .with_mut(|inner| f(unsafe { &mut (*inner).links }))
    }
}

/// Exclusive access to the queue, proven by holding the lock; unlocks (and
/// stores the head) on drop.
struct Locked<'a> {
    sem: &'a RawSemaphore,
    guard: HeadGuard<'a, Waiter>,
}

impl Locked<'_> {
    #[inline]
    fn head(&self) -> Option<NonNull<Waiter>> {
        self.guard.head
    }

    /// Runs `f` on the wait queue: the list whose head is in the lock's word
    /// and whose tail is `tail`.
    #[inline]
    fn with_queue<R>(&mut self, f: impl FnOnce(&mut List<'_, Waiter>) -> R) -> R {
        let head = &mut self.guard.head;
        self.sem.tail.with_mut(|tail| {
            // SAFETY: we hold the lock, which guards `tail`, the head and the
            // links of every linked waiter; both ends were only ever changed
            // through `List`, so they are the ends of one list.
            f(&mut unsafe { List::new(head, &mut *tail) })
        })
    }

    /// Runs `f` on a linked node's lock-protected fields.
    ///
    /// # Safety
    ///
    /// `node` must be linked in this semaphore's queue.
    #[inline]
    unsafe fn with_node<R>(
        &self,
        node: NonNull<Waiter>,
        f: impl FnOnce(&mut WaiterInner) -> R,
    ) -> R {
        // SAFETY: linked nodes are alive (their owners unlink them under this
        // lock before freeing them) and their `inner` is guarded by the lock
        // we hold.
        unsafe { node.as_ref() }
            .inner
            .with_mut(|inner| f(unsafe { &mut *inner }))
    }

    /// Links `node` at the back of the queue. (`QUEUED` is the caller's.)
    ///
    /// # Safety
    ///
    /// `node` must be alive, pinned and not linked in any queue, and must be
    /// unlinked under the lock before its memory is reused.
    #[inline]
    unsafe fn enqueue(&mut self, node: NonNull<Waiter>) {
        // SAFETY: the caller's promise is `push_back`'s.
        self.with_queue(|queue| unsafe { queue.push_back(node) });
    }

    /// Unlinks `node` and updates `QUEUED` and the overtake count. The
    /// caller still owes the node its outcome (`settle` pays it); a cancelled
    /// waiter's owner, which needs none, calls this directly.
    ///
    /// # Safety
    ///
    /// `node` must be linked in this semaphore's queue.
    unsafe fn dequeue(&mut self, node: NonNull<Waiter>) {
        // SAFETY: `node` is linked (caller).
        let was_head = self.with_queue(|queue| unsafe { queue.unlink(node) });
        let empty = self.head().is_none();
        // Under FIFO a new head keeps the overtake count pinned: no update.
        if empty || (was_head && self.sem.state.load(Relaxed) & THROUGHPUT != 0) {
            self.sem.update_state(|s| {
                if empty {
                    s & !(QUEUED | OVERTAKE_MASK)
                } else {
                    (s & !OVERTAKE_MASK) | fresh_overtakes(s)
                }
            });
        }
    }

    /// Takes a waiter out of the queue with its outcome: dequeues it, collects
    /// its waker and stores the outcome (`0` for granted, or a `NEEDED_*`
    /// sentinel) in `needed` as the last access, for the owner to read.
    ///
    /// # Safety
    ///
    /// `node` must be linked in this semaphore's queue.
    #[inline]
    unsafe fn settle(&mut self, node: NonNull<Waiter>, outcome: usize, wakers: &mut WakeList) {
        // SAFETY: linked (caller).
        let waker = unsafe { self.with_node(node, |n| n.waker.take()) };
        // SAFETY: linked (caller).
        unsafe { self.dequeue(node) };
        // SAFETY: the node is alive until its owner sees this store; this is
        // our last access to it.
        unsafe { node.as_ref() }.needed.store(outcome, Release);
        if let Some(waker) = waker {
            wakers.push(waker);
        }
    }

    /// Assigns `n` returned permits, which never reached `state`, to the
    /// waiters at the head in FIFO order. Only in hand-off mode (the caller
    /// checked it, and that no debt is owed). Returns what it could not place:
    /// everything past a partly served head's need, past an emptied queue,
    /// past a full `wakers`, or past a head change that lets newcomers in
    /// again.
    fn assign_returned(&mut self, mut n: usize, wakers: &mut WakeList) -> usize {
        while n > 0 {
            let Some(head) = self.head() else { break };
            if wakers.is_full() {
                break;
            }
            // SAFETY: `head` is linked and alive; `needed` is only written
            // under the lock we hold.
            let needed = unsafe { head.as_ref() }.needed.load(Relaxed);
            if n < needed {
                // SAFETY: as above.
                unsafe { head.as_ref() }.needed.store(needed - n, Release);
                return 0;
            }
            n -= needed;
            // SAFETY: `head` is linked.
            unsafe { self.settle(head, 0, wakers) };
            // Under the throughput policy a new head lets newcomers compete
            // again: the rest must be free permits, not an assignment.
            if newcomers_allowed(self.sem.state.load(Relaxed)) {
                break;
            }
        }
        n
    }

    /// Offers the free permits in `state` to the head of the queue, one batch
    /// of wakers at most: in hand-off mode takes them out of `state` and
    /// assigns them, head after head; while newcomers may still compete for
    /// them, leaves them free and notifies the head once that enough are
    /// there. Returns `true` if it stopped only because `wakers` is full.
    fn offer_free(&mut self, wakers: &mut WakeList) -> bool {
        loop {
            let Some(head) = self.head() else {
                return false;
            };
            if wakers.is_full() {
                return true;
            }
            let state = self.sem.state.load(Acquire);
            let free = free(state);
            if free <= 0 {
                return false;
            }
            let free = free as usize;
            // SAFETY: `head` is linked and alive; `needed` is only written
            // under the lock we hold.
            let needed = unsafe { head.as_ref() }.needed.load(Relaxed);
            if newcomers_allowed(state) {
                if free >= needed {
                    // SAFETY: `head` is linked.
                    let waker = unsafe {
                        self.with_node(head, |h| {
                            if h.notified {
                                None
                            } else {
                                h.notified = true;
                                h.waker.take()
                            }
                        })
                    };
                    if let Some(waker) = waker {
                        wakers.push(waker);
                    }
                }
                return false;
            }
            let take = free.min(needed);
            if self
                .sem
                .state
                .compare_exchange(state, state.wrapping_sub(permits(take)), AcqRel, Acquire)
                .is_err()
            {
                continue;
            }
            if take < needed {
                // SAFETY: `head` is linked; we hold the lock.
                unsafe { head.as_ref() }
                    .needed
                    .store(needed - take, Release);
                return false;
            }
            // SAFETY: `head` is linked.
            unsafe { self.settle(head, 0, wakers) };
        }
    }
}

impl RawSemaphore {
    loom_const_fn! {
        pub(crate) fn new(permits_: usize, bounded: bool, fairness: Fairness) -> Self {
            assert!(permits_ <= MAX_PERMITS, "a semaphore holds at most MAX_PERMITS permits");
            Self {
                state: AtomicUsize::new(permits(permits_) | policy_bit(fairness)),
                total: AtomicUsize::new(permits_),
                bound: AtomicUsize::new(if bounded { permits_ } else { UNBOUNDED }),
                queue: HeadLock::new(),
                tail: UnsafeCell::new(None),
            }
        }
    }

    loom_const_fn! {
        pub(crate) fn with_fairness(self, fairness: Fairness) -> Self {
            let Self { state, total, bound, queue, tail } = self;
            Self {
                state: AtomicUsize::new((state.into_inner() & !THROUGHPUT) | policy_bit(fairness)),
                total,
                bound,
                queue,
                tail,
            }
        }
    }

    pub(crate) fn fairness(&self) -> Fairness {
        if self.state.load(Relaxed) & THROUGHPUT != 0 {
            Fairness::Throughput
        } else {
            Fairness::Fifo
        }
    }

    #[inline]
    fn lock(&self) -> Locked<'_> {
        Locked {
            sem: self,
            guard: self.queue.lock(),
        }
    }

    /// A `fetch_update` that always succeeds.
    #[inline]
    fn update_state(&self, mut f: impl FnMut(usize) -> usize) -> usize {
        let mut state = self.state.load(Relaxed);
        loop {
            match self
                .state
                .compare_exchange_weak(state, f(state), AcqRel, Relaxed)
            {
                Ok(prev) => return prev,
                Err(actual) => state = actual,
            }
        }
    }

    pub(crate) fn is_bounded(&self) -> bool {
        self.bound.load(Relaxed) != UNBOUNDED
    }

    pub(crate) fn capacity(&self) -> usize {
        match self.bound.load(Relaxed) {
            UNBOUNDED => self.total.load(Relaxed),
            bound => bound,
        }
    }

    pub(crate) fn available_permits(&self) -> usize {
        free(self.state.load(Acquire)).max(0) as usize
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Acquire) & CLOSED != 0
    }

    pub(crate) fn waiter_count(&self) -> usize {
        self.lock().with_queue(|queue| queue.iter().count())
    }

    /// The lock-free acquire attempt.
    #[inline]
    pub(crate) fn try_acquire(&self, n: usize) -> Result<(), TryAcquireError> {
        if n > MAX_PERMITS {
            return Err(TryAcquireError::TooLarge);
        }
        self.try_take(n)
            .map_err(|state| self.classify_failure(state, n))
    }

    /// `try_acquire` for `n <= MAX_PERMITS`, without saying why it failed:
    /// `Err` carries the state word that refused. An acquire future, which
    /// enqueues on failure, learns the reason under the lock instead.
    #[inline]
    fn try_take(&self, n: usize) -> Result<(), usize> {
        let mut state = self.state.load(Relaxed);
        if n == 0 {
            // Zero permits are ready at once, even ahead of waiters.
            return if state & CLOSED != 0 {
                Err(state)
            } else {
                Ok(())
            };
        }
        loop {
            let Some(next) = take_as_newcomer(state, n) else {
                return Err(state);
            };
            match self
                .state
                .compare_exchange_weak(state, next, Acquire, Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => state = actual,
            }
        }
    }

    #[cold]
    fn classify_failure(&self, state: usize, n: usize) -> TryAcquireError {
        if state & CLOSED != 0 {
            TryAcquireError::Closed
        } else if n > self.bound.load(Relaxed) {
            TryAcquireError::TooLarge
        } else {
            TryAcquireError::NoPermits
        }
    }

    /// Returns `n` held permits (a dropped permit, a granted acquire
    /// cancelled before it saw the grant): one `fetch_add` when nobody waits;
    /// when someone does, the lock and an assignment to the head that leaves
    /// the state word alone. Unlike `try_add_permits`, the managed total does
    /// not change.
    #[inline]
    pub(crate) fn return_permits(&self, n: usize) {
        if n == 0 {
            return;
        }
        // A plain load first: with waiters queued, the permits go straight to
        // them and the contended state word is not written at all.
        if self.state.load(Relaxed) & QUEUED != 0 {
            return self.return_to_queue(n);
        }
        let prev = self.state.fetch_add(permits(n), Release);
        if prev & QUEUED != 0 {
            // Someone queued between the load and the add: the permits are
            // free now, in `state`, and the queue may want them.
            self.lock_and_offer_free();
        }
    }

    /// Returns `n` permits while waiters are queued: in hand-off mode assigns
    /// them to the waiters at the head without passing them through `state`;
    /// what is left over (or everything, when newcomers may compete or a
    /// shrink debt is owed) is added to `state` as a plain return would.
    #[cold]
    #[inline(never)]
    fn return_to_queue(&self, n: usize) {
        let mut wakers = WakeList::new();
        let mut locked = self.lock();
        let state = self.state.load(Acquire);
        // Both conditions hold until we unlock: only lock holders reset the
        // overtake count or lower `free` below zero.
        let left = if newcomers_allowed(state) || free(state) < 0 {
            n
        } else {
            locked.assign_returned(n, &mut wakers)
        };
        if left > 0 {
            self.state.fetch_add(permits(left), Release);
        }
        self.offer_free_and_unlock(locked, &mut wakers);
    }

    #[cold]
    #[inline(never)]
    fn lock_and_offer_free(&self) {
        self.offer_free_and_unlock(self.lock(), &mut WakeList::new());
    }

    /// How every slow path ends: offers the free permits to the waiters, then
    /// unlocks and wakes them, in batches of [`WakeList::CAPACITY`] until
    /// nothing more can be offered.
    ///
    /// Most calls find nothing to offer (a return that assigned its permits
    /// directly, a waiter that joined behind others): that look, at the head
    /// and at `state`, is inlined into the caller; offering is not. (Permits
    /// added to `state` after the look are added by someone who then sees
    /// `QUEUED`, or finds the queue empty, and offers them itself.)
    #[inline]
    fn offer_free_and_unlock<'a>(&'a self, locked: Locked<'a>, wakers: &mut WakeList) {
        if locked.head().is_none() || free(self.state.load(Relaxed)) <= 0 {
            drop(locked);
            wakers.wake_all();
        } else {
            self.offer_free_in_batches(locked, wakers);
        }
    }

    /// The loop behind `offer_free_and_unlock`: unlocks to wake each full
    /// batch, then locks again and goes on.
    #[inline(never)]
    fn offer_free_in_batches<'a>(&'a self, mut locked: Locked<'a>, wakers: &mut WakeList) {
        while locked.offer_free(wakers) {
            drop(locked);
            wakers.wake_all();
            locked = self.lock();
        }
        drop(locked);
        wakers.wake_all();
    }

    /// Adds `n` new permits to the managed total, unless that would pass the
    /// bound (or `MAX_PERMITS`), and offers them to the queue. Unlike
    /// `return_permits`, the total grows.
    pub(crate) fn try_add_permits(&self, n: usize) -> Result<(), ReleaseError> {
        if n == 0 {
            return Ok(());
        }
        let locked = self.lock();
        let bound = self.bound.load(Relaxed);
        let limit = bound.min(MAX_PERMITS);
        // `total` only shrinks concurrently (forgetting), so a check made now
        // stays true.
        if n > limit - self.total.load(Relaxed).min(limit) {
            return Err(if bound == UNBOUNDED {
                ReleaseError::ExceedsMaxPermits
            } else {
                ReleaseError::ExceedsCapacity
            });
        }
        self.total.fetch_add(n, Relaxed);
        self.state.fetch_add(permits(n), Release);
        self.offer_free_and_unlock(locked, &mut WakeList::new());
        Ok(())
    }

    /// Takes up to `n` free permits out of the semaphore for good.
    pub(crate) fn forget_free(&self, n: usize) -> usize {
        let mut taken = 0;
        self.update_state(|s| {
            taken = (free(s).max(0) as usize).min(n);
            s.wrapping_sub(permits(taken))
        });
        self.total.fetch_sub(taken, Relaxed);
        taken
    }

    /// Forgets `n` held permits. They pay any debt left by a shrink first
    /// (the semaphore wanted fewer permits anyway); the rest leave the managed
    /// total. Under the lock, so that `set_capacity` sees both counters move
    /// together.
    pub(crate) fn forget_held(&self, n: usize) {
        if n == 0 {
            return;
        }
        let _locked = self.lock();
        let mut paid = 0;
        self.update_state(|s| {
            paid = (-free(s)).clamp(0, n as isize) as usize;
            s.wrapping_add(permits(paid))
        });
        self.total.fetch_sub(n - paid, Relaxed);
    }

    #[track_caller]
    pub(crate) fn set_capacity(&self, n: usize) {
        assert!(n <= MAX_PERMITS, "capacity above MAX_PERMITS");
        let mut wakers = WakeList::new();
        let mut locked = self.lock();
        let old = self.total.swap(n, Relaxed);
        if n >= old {
            self.state.fetch_add(permits(n - old), Release);
        } else {
            // Free permits go now; what is held is owed and paid by releases.
            self.state.fetch_sub(permits(old - n), Release);
        }
        if self.is_bounded() && self.bound.swap(n, Relaxed) > n {
            locked = self.fail_oversized(locked, n, &mut wakers);
        }
        self.offer_free_and_unlock(locked, &mut wakers);
    }

    /// Fails every waiter that asks for more than `bound`, returning what it
    /// was assigned. Rare (a bounded semaphore shrinking), so it simply
    /// searches from the head again after each removal.
    fn fail_oversized<'a>(
        &'a self,
        mut locked: Locked<'a>,
        bound: usize,
        wakers: &mut WakeList,
    ) -> Locked<'a> {
        while let Some(node) = Self::find_oversized(&mut locked, bound) {
            if wakers.is_full() {
                drop(locked);
                wakers.wake_all();
                locked = self.lock();
                continue;
            }
            // SAFETY: `node` is linked, hence alive; we hold the lock.
            let waiter = unsafe { node.as_ref() };
            let assigned = waiter.requested - waiter.needed.load(Relaxed);
            self.state.fetch_add(permits(assigned), Release);
            // SAFETY: `node` is linked.
            unsafe { locked.settle(node, NEEDED_TOO_LARGE, wakers) };
        }
        locked
    }

    fn find_oversized(locked: &mut Locked<'_>, bound: usize) -> Option<NonNull<Waiter>> {
        locked.with_queue(|queue| {
            queue
                .iter()
                // SAFETY: linked nodes are alive; `requested` is immutable.
                .find(|node| unsafe { node.as_ref() }.requested > bound)
        })
    }

    pub(crate) fn close(&self) {
        let mut wakers = WakeList::new();
        loop {
            let mut locked = self.lock();
            self.state.fetch_or(CLOSED, Release);
            let mut refund = 0;
            while let Some(head) = locked.head() {
                if wakers.is_full() {
                    break;
                }
                // SAFETY: `head` is linked, hence alive; we hold the lock.
                let waiter = unsafe { head.as_ref() };
                refund += waiter.requested - waiter.needed.load(Relaxed);
                // SAFETY: `head` is linked.
                unsafe { locked.settle(head, NEEDED_CLOSED, &mut wakers) };
            }
            self.state.fetch_add(permits(refund), Release);
            let done = locked.head().is_none();
            drop(locked);
            wakers.wake_all();
            if done {
                return;
            }
        }
    }
}

/// What an acquire future has done so far.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Not yet polled.
    Idle,
    /// The waiter is (or was, until someone settled it) in the queue.
    Queued,
    /// The outcome was returned from `poll`.
    Done,
}

/// The state of one acquire: shared by [`Acquire`](crate::futures::Acquire)
/// and [`AcquireOwned`](crate::futures::AcquireOwned).
pub(crate) struct RawAcquire {
    /// The queue node, written only when the acquire has to wait, so the
    /// uncontended path does not pay for it.
    ///
    /// # Safety
    ///
    /// Initialized exactly when `phase` is `Queued`, or `Done` after having
    /// been `Queued`; it is never dropped (an unlinked node holds no waker:
    /// whoever unlinks it takes the waker out).
    node: MaybeUninit<Waiter>,
    requested: usize,
    phase: Phase,
    _pinned: PhantomPinned,
}

impl RawAcquire {
    pub(crate) const fn new(n: usize) -> Self {
        Self {
            node: MaybeUninit::uninit(),
            requested: n,
            phase: Phase::Idle,
            _pinned: PhantomPinned,
        }
    }

    pub(crate) fn requested(&self) -> usize {
        self.requested
    }

    pub(crate) fn is_queued(&self) -> bool {
        self.phase == Phase::Queued
    }

    /// The queue node.
    ///
    /// # Safety
    ///
    /// The acquire must have been queued (see `node`).
    #[inline]
    unsafe fn node(&self) -> &Waiter {
        // SAFETY: initialized once queued (caller).
        unsafe { self.node.assume_init_ref() }
    }

    /// Polls for the permits. On `Ready(Ok(()))` the caller owns
    /// `requested()` permits.
    #[inline]
    pub(crate) fn poll(
        self: Pin<&mut Self>,
        sem: &RawSemaphore,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        // SAFETY: `node` is never moved out of `self`: we only use it through
        // a pinned pointer while it may be linked.
        let this = unsafe { self.get_unchecked_mut() };
        let result = match this.phase {
            Phase::Idle => {
                let n = this.requested;
                if n > MAX_PERMITS {
                    Poll::Ready(Err(AcquireError::TooLarge))
                } else if sem.try_take(n).is_ok() {
                    Poll::Ready(Ok(()))
                } else {
                    this.poll_enqueue(sem, cx)
                }
            }
            Phase::Queued => this.poll_queued(sem, cx),
            Phase::Done => panic!("acquire future polled after completion"),
        };
        if result.is_ready() {
            this.phase = Phase::Done;
        }
        result
    }

    #[cold]
    #[inline(never)]
    fn poll_enqueue(
        &mut self,
        sem: &RawSemaphore,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        let n = self.requested;
        // Cloned before locking: no user code runs under the lock.
        let waker = cx.waker().clone();
        let mut locked = sem.lock();
        let mut state = sem.state.load(Acquire);
        // The reasons `try_acquire` gives, in its order. Both hold until we
        // unlock: closing and lowering the bound take the lock.
        if state & CLOSED != 0 {
            return Poll::Ready(Err(AcquireError::Closed));
        }
        if n > sem.bound.load(Relaxed) {
            return Poll::Ready(Err(AcquireError::TooLarge));
        }
        let assigned = loop {
            let (next, assigned) = match take_as_newcomer(state, n) {
                Some(next) => (next, n),
                None => {
                    let first = state & QUEUED == 0;
                    let overtakes = if first {
                        fresh_overtakes(state)
                    } else {
                        state & OVERTAKE_MASK
                    };
                    // The first waiter in hand-off mode keeps what is free now.
                    let assigned = if first && overtakes >= OVERTAKES_AT_LIMIT {
                        (free(state).max(0) as usize).min(n)
                    } else {
                        0
                    };
                    let next = (state.wrapping_sub(permits(assigned)) & !OVERTAKE_MASK)
                        | QUEUED
                        | overtakes;
                    (next, assigned)
                }
            };
            // Joining a non-empty queue changes nothing in the word: `QUEUED`
            // is already set, so a release racing with us will come to the
            // lock and find us linked.
            if next == state {
                break assigned;
            }
            match sem.state.compare_exchange(state, next, AcqRel, Acquire) {
                Ok(_) => break assigned,
                Err(actual) => state = actual,
            }
        };
        if assigned == n {
            drop(locked);
            drop(waker);
            return Poll::Ready(Ok(()));
        }
        let node = NonNull::from(self.node.write(Waiter {
            needed: AtomicUsize::new(n - assigned),
            requested: n,
            inner: UnsafeCell::new(WaiterInner {
                links: Links::new(),
                waker: Some(waker),
                notified: false,
            }),
            _pinned: PhantomPinned,
        }));
        // SAFETY: the node is pinned inside this future (we were polled through
        // `Pin`), not linked yet, and will be unlinked under the lock before
        // the future is dropped (`cancel`).
        unsafe { locked.enqueue(node) };
        self.phase = Phase::Queued;
        Poll::Pending
    }

    /// Reads the outcome recorded by whoever unlinked the node, if any.
    #[inline]
    fn outcome(needed: usize) -> Option<Result<(), AcquireError>> {
        match needed {
            0 => Some(Ok(())),
            NEEDED_CLOSED => Some(Err(AcquireError::Closed)),
            NEEDED_TOO_LARGE => Some(Err(AcquireError::TooLarge)),
            _ => None,
        }
    }

    #[inline]
    fn poll_queued(
        &mut self,
        sem: &RawSemaphore,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        // SAFETY: we are `Queued`.
        if let Some(outcome) = Self::outcome(unsafe { self.node() }.needed.load(Acquire)) {
            return Poll::Ready(outcome);
        }
        self.poll_queued_slow(sem, cx)
    }

    #[cold]
    #[inline(never)]
    fn poll_queued_slow(
        &mut self,
        sem: &RawSemaphore,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        // Cloned before locking: no user code runs under the lock.
        let new_waker = cx.waker().clone();
        let mut wakers = WakeList::new();
        let mut locked = sem.lock();
        // SAFETY: we are `Queued`.
        let waiter = unsafe { self.node() };
        let node = NonNull::from(waiter);
        let mut spare_waker = None;
        let mut own_waker = None;
        let result = 'locked: {
            if let Some(outcome) = Self::outcome(waiter.needed.load(Acquire)) {
                spare_waker = Some(new_waker);
                break 'locked Poll::Ready(outcome);
            }
            // Register first: `offer_free` below may notify us, which takes the waker.
            // SAFETY: `node` is linked.
            unsafe {
                locked.with_node(node, |w| {
                    w.notified = false;
                    if w.waker
                        .as_ref()
                        .is_some_and(|old| old.will_wake(&new_waker))
                    {
                        spare_waker = Some(new_waker);
                    } else {
                        spare_waker = w.waker.replace(new_waker);
                    }
                })
            };
            // Throughput policy: the head may take what is free, as a newcomer
            // would, while newcomers are still allowed.
            if locked.head() == Some(node) {
                let needed = waiter.needed.load(Relaxed);
                let mut state = sem.state.load(Acquire);
                while newcomers_allowed(state) && has_free(state, needed) {
                    match sem.state.compare_exchange(
                        state,
                        state.wrapping_sub(permits(needed)),
                        AcqRel,
                        Acquire,
                    ) {
                        Ok(_) => {
                            // Our own waker must not be woken: take it first
                            // (and drop it once the lock is released).
                            // SAFETY: `node` is linked.
                            own_waker = unsafe { locked.with_node(node, |w| w.waker.take()) };
                            // SAFETY: `node` is linked.
                            unsafe { locked.settle(node, 0, &mut wakers) };
                            break 'locked Poll::Ready(Ok(()));
                        }
                        Err(actual) => state = actual,
                    }
                }
            }
            // In hand-off mode this may settle us (and wake us once more,
            // harmlessly); otherwise it may notify us, which wakes us again.
            locked.offer_free(&mut wakers);
            match Self::outcome(waiter.needed.load(Acquire)) {
                Some(outcome) => Poll::Ready(outcome),
                None => Poll::Pending,
            }
        };
        // The next head may be served by what is left, possibly past a full
        // batch of wakers.
        sem.offer_free_and_unlock(locked, &mut wakers);
        drop((spare_waker, own_waker));
        result
    }

    /// Called when the future is dropped: leaves the queue and gives back
    /// every permit this acquire was assigned.
    #[inline]
    pub(crate) fn cancel(self: Pin<&mut Self>, sem: &RawSemaphore) {
        if self.phase == Phase::Queued {
            // SAFETY: we do not move out of `self`.
            unsafe { self.get_unchecked_mut() }.cancel_queued(sem);
        }
    }

    #[cold]
    #[inline(never)]
    fn cancel_queued(&mut self, sem: &RawSemaphore) {
        self.phase = Phase::Done;
        let n = self.requested;
        // SAFETY: we were `Queued`.
        let waiter = unsafe { self.node() };
        match Self::outcome(waiter.needed.load(Acquire)) {
            // Granted but never polled: the permits are ours to return.
            Some(Ok(())) => return sem.return_permits(n),
            Some(Err(_)) => return,
            None => {}
        }
        let mut locked = sem.lock();
        let needed = waiter.needed.load(Acquire);
        match Self::outcome(needed) {
            Some(Ok(())) => {
                drop(locked);
                return sem.return_permits(n);
            }
            Some(Err(_)) => return,
            None => {}
        }
        let node = NonNull::from(waiter);
        // SAFETY: `node` is linked.
        let old_waker = unsafe { locked.with_node(node, |w| w.waker.take()) };
        // SAFETY: `node` is linked; after this nobody else can reach it.
        unsafe { locked.dequeue(node) };
        let assigned = n - needed;
        if assigned > 0 {
            sem.state.fetch_add(permits(assigned), Release);
        }
        sem.offer_free_and_unlock(locked, &mut WakeList::new());
        drop(old_waker);
    }
}

#[cfg(all(test, feature = "std", not(admit_loom)))]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::Semaphore;

    /// The `repr(C)` layout's point: the three words every contended
    /// operation touches are adjacent, at the start.
    #[test]
    fn contended_words_come_first() {
        use core::mem::{offset_of, size_of};
        let word = size_of::<usize>();
        assert_eq!(offset_of!(super::RawSemaphore, state), 0);
        assert_eq!(offset_of!(super::RawSemaphore, queue), word);
        assert_eq!(offset_of!(super::RawSemaphore, tail), 2 * word);
    }

    /// `has_free` (the acquire path's compare on the whole word) agrees with
    /// `free(state) >= n` for every flag combination, at the edges of both
    /// ranges: a debt, zero, one, and the most permits either can hold.
    #[test]
    fn has_free_is_free_compared() {
        use super::{MAX_PERMITS, OVERTAKE_MASK, PERMIT_SHIFT, free, has_free, permits};
        let max = MAX_PERMITS as isize;
        let counts = [-max, -max + 1, -2, -1, 0, 1, 2, 3, max - 1, max];
        let requests = [0, 1, 2, 3, MAX_PERMITS - 1, MAX_PERMITS];
        let flag_words = [0, 1, 0b111, OVERTAKE_MASK, (1 << PERMIT_SHIFT) - 1];
        let mut checked = 0;
        for count in counts {
            for flags in flag_words {
                let state = permits(count as usize) | flags;
                assert_eq!(free(state), count, "state {state:#x}");
                for n in requests {
                    assert_eq!(
                        has_free(state, n),
                        count >= n as isize,
                        "free {count}, flags {flags:#b}, n {n}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, counts.len() * flag_words.len() * requests.len());
    }

    /// The uncontended acquire, `try_acquire` and release complete while
    /// another thread holds the wait-queue lock: they do not take it. (If one
    /// did, it would block until the timeout; unwinding then drops the guard,
    /// so the test fails instead of hanging.)
    #[test]
    fn uncontended_paths_take_no_lock() {
        let sem = Semaphore::new(2);
        std::thread::scope(|scope| {
            let _locked = sem.raw().lock();
            let (done, finished) = mpsc::channel();
            let sem = &sem;
            scope.spawn(move || {
                let a = futures_lite::future::block_on(sem.acquire()).unwrap();
                let b = sem.try_acquire().unwrap();
                drop((a, b));
                done.send(sem.available_permits()).unwrap();
            });
            let available = finished.recv_timeout(Duration::from_secs(10));
            assert_eq!(available, Ok(2), "an uncontended path waited for the lock");
        });
    }
}
