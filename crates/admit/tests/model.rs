//! Random operation sequences checked against a simple sequential model of
//! the FIFO semantics: acquire, try, cancel, release, add, forget, close,
//! resize. After every operation the semaphore and the model must agree on
//! free permits, capacity, queue length, and the outcome of every future.
#![cfg(not(admit_loom))]

mod common;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::Poll;

use admit::futures::Acquire;
use admit::{AcquireError, Permit, Semaphore};
use common::poll_noop;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Acquire(usize),
    TryAcquire(usize),
    /// Poll every pending future (collects granted permits).
    PollAll,
    /// Drop the i-th (mod len) pending future.
    Cancel(usize),
    /// Drop the i-th (mod len) held permit.
    Release(usize),
    /// Forget the i-th held permit.
    ForgetHeld(usize),
    Add(usize),
    ForgetFree(usize),
    Close,
    SetCapacity(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..5).prop_map(Op::Acquire),
        2 => (0usize..4).prop_map(Op::TryAcquire),
        3 => Just(Op::PollAll),
        2 => any::<usize>().prop_map(Op::Cancel),
        4 => any::<usize>().prop_map(Op::Release),
        1 => any::<usize>().prop_map(Op::ForgetHeld),
        2 => (0usize..4).prop_map(Op::Add),
        1 => (0usize..3).prop_map(Op::ForgetFree),
        1 => Just(Op::Close),
        2 => (0usize..8).prop_map(Op::SetCapacity),
    ]
}

/// Outcome of a model waiter.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Waiting,
    Granted,
    Failed(AcquireError),
}

#[derive(Debug)]
struct ModelWaiter {
    id: usize,
    requested: usize,
    needed: usize,
}

/// The sequential specification.
#[derive(Debug)]
struct Model {
    free: i64,
    total: usize,
    bound: Option<usize>,
    closed: bool,
    queue: VecDeque<ModelWaiter>,
    outcomes: Vec<Outcome>,
}

impl Model {
    fn assign_free(&mut self) {
        while let Some(head) = self.queue.front_mut() {
            if self.free <= 0 {
                return;
            }
            let take = (self.free as usize).min(head.needed);
            self.free -= take as i64;
            head.needed -= take;
            if head.needed > 0 {
                return;
            }
            let id = head.id;
            self.queue.pop_front();
            self.outcomes[id] = Outcome::Granted;
        }
    }

    fn release(&mut self, n: usize) {
        self.free += n as i64;
        self.assign_free();
    }

    /// First poll of a new acquire `id`.
    fn acquire(&mut self, id: usize, n: usize) {
        self.outcomes.push(Outcome::Waiting);
        self.outcomes[id] = if self.closed {
            Outcome::Failed(AcquireError::Closed)
        } else if self.bound.is_some_and(|b| n > b) {
            Outcome::Failed(AcquireError::TooLarge)
        } else if n == 0 || (self.queue.is_empty() && self.free >= n as i64) {
            self.free -= n as i64;
            Outcome::Granted
        } else {
            let assigned = if self.queue.is_empty() {
                (self.free.max(0) as usize).min(n)
            } else {
                0
            };
            self.free -= assigned as i64;
            self.queue.push_back(ModelWaiter {
                id,
                requested: n,
                needed: n - assigned,
            });
            Outcome::Waiting
        };
    }

    fn try_acquire(&mut self, n: usize) -> bool {
        if self.closed || (n > 0 && (!self.queue.is_empty() || self.free < n as i64)) {
            return false;
        }
        self.free -= n as i64;
        true
    }

    fn cancel(&mut self, id: usize) {
        if let Some(pos) = self.queue.iter().position(|w| w.id == id) {
            let w = self.queue.remove(pos).unwrap();
            self.release(w.requested - w.needed);
        }
    }

    fn close(&mut self) {
        self.closed = true;
        for w in std::mem::take(&mut self.queue) {
            self.free += (w.requested - w.needed) as i64;
            self.outcomes[w.id] = Outcome::Failed(AcquireError::Closed);
        }
    }

    fn add(&mut self, n: usize) -> bool {
        if self.total + n > self.bound.unwrap_or(admit::MAX_PERMITS) {
            return false;
        }
        self.total += n;
        self.release(n);
        true
    }

    fn forget_free(&mut self, n: usize) -> usize {
        let take = (self.free.max(0) as usize).min(n);
        self.free -= take as i64;
        self.total -= take;
        take
    }

    fn set_capacity(&mut self, n: usize) {
        self.free += n as i64 - self.total as i64;
        self.total = n;
        if self.bound.is_some() {
            self.bound = Some(n);
            let (keep, fail): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.queue)
                .into_iter()
                .partition(|w| w.requested <= n);
            self.queue = keep;
            for w in fail {
                self.free += (w.requested - w.needed) as i64;
                self.outcomes[w.id] = Outcome::Failed(AcquireError::TooLarge);
            }
        }
        self.assign_free();
    }
}

struct Pending<'a> {
    id: usize,
    requested: usize,
    fut: Pin<Box<Acquire<'a>>>,
}

fn run(bounded: bool, initial: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let sem = if bounded {
        Semaphore::bounded(initial)
    } else {
        Semaphore::new(initial)
    };
    let mut model = Model {
        free: initial as i64,
        total: initial,
        bound: bounded.then_some(initial),
        closed: false,
        queue: VecDeque::new(),
        outcomes: Vec::new(),
    };
    let mut pending: Vec<Pending<'_>> = Vec::new();
    let mut held: Vec<Permit<'_>> = Vec::new();
    let mut next_id = 0;

    for op in ops {
        match op {
            Op::Acquire(n) => {
                let id = next_id;
                next_id += 1;
                model.acquire(id, n);
                let mut fut = Box::pin(sem.acquire_many(n));
                match poll_noop(fut.as_mut()) {
                    Poll::Ready(Ok(p)) => {
                        prop_assert_eq!(
                            model.outcomes[id],
                            Outcome::Granted,
                            "acquire({}) {:?}",
                            n,
                            model
                        );
                        held.push(p);
                    }
                    Poll::Ready(Err(e)) => prop_assert_eq!(model.outcomes[id], Outcome::Failed(e)),
                    Poll::Pending => {
                        prop_assert_eq!(
                            model.outcomes[id],
                            Outcome::Waiting,
                            "acquire({}) {:?}",
                            n,
                            model
                        );
                        pending.push(Pending {
                            id,
                            requested: n,
                            fut,
                        });
                    }
                }
            }
            Op::TryAcquire(n) => {
                let expect = model.try_acquire(n);
                let got = sem.try_acquire_many(n);
                prop_assert_eq!(got.is_ok(), expect, "try_acquire({}) {:?}", n, model);
                held.extend(got.ok());
            }
            Op::PollAll => {
                let mut still = Vec::new();
                for mut p in pending.drain(..) {
                    match poll_noop(p.fut.as_mut()) {
                        Poll::Ready(Ok(permit)) => {
                            prop_assert_eq!(model.outcomes[p.id], Outcome::Granted);
                            held.push(permit);
                        }
                        Poll::Ready(Err(e)) => {
                            prop_assert_eq!(model.outcomes[p.id], Outcome::Failed(e))
                        }
                        Poll::Pending => {
                            prop_assert_eq!(model.outcomes[p.id], Outcome::Waiting);
                            still.push(p);
                        }
                    }
                }
                pending = still;
            }
            Op::Cancel(i) if !pending.is_empty() => {
                let p = pending.remove(i % pending.len());
                match model.outcomes[p.id] {
                    Outcome::Waiting => model.cancel(p.id),
                    // Granted but never polled: the permits come back.
                    Outcome::Granted => model.release(p.requested),
                    Outcome::Failed(_) => {}
                }
                drop(p);
            }
            Op::Release(i) if !held.is_empty() => {
                let p = held.remove(i % held.len());
                model.release(p.num_permits());
                drop(p);
            }
            Op::ForgetHeld(i) if !held.is_empty() => {
                let p = held.remove(i % held.len());
                let n = p.num_permits();
                let paid = ((-model.free).max(0) as usize).min(n);
                model.free += paid as i64;
                model.total -= n - paid;
                p.forget();
            }
            Op::Add(n) => {
                let expect = model.add(n);
                prop_assert_eq!(sem.release(n).is_ok(), expect, "release({}) {:?}", n, model);
            }
            Op::ForgetFree(n) => prop_assert_eq!(sem.forget_permits(n), model.forget_free(n)),
            Op::Close => {
                model.close();
                sem.close();
            }
            Op::SetCapacity(n) => {
                model.set_capacity(n);
                sem.set_capacity(n);
            }
            Op::Cancel(_) | Op::Release(_) | Op::ForgetHeld(_) => {}
        }
        prop_assert_eq!(
            sem.available_permits() as i64,
            model.free.max(0),
            "free after {:?}",
            model
        );
        prop_assert_eq!(sem.waiter_count(), model.queue.len());
        prop_assert_eq!(sem.is_closed(), model.closed);
        let capacity = model.bound.unwrap_or(model.total);
        prop_assert_eq!(sem.capacity(), capacity);
    }
    // Everything returned: the semaphore is whole again.
    let granted_unpolled: usize = pending
        .iter()
        .filter(|p| model.outcomes[p.id] == Outcome::Granted)
        .map(|p| p.requested)
        .sum();
    drop(pending);
    let held_permits: usize = held.iter().map(Permit::num_permits).sum();
    drop(held);
    let expected = model.free
        + (held_permits + granted_unpolled) as i64
        + model
            .queue
            .iter()
            .map(|w| (w.requested - w.needed) as i64)
            .sum::<i64>();
    prop_assert_eq!(sem.available_permits() as i64, expected.max(0));
    prop_assert_eq!(sem.waiter_count(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(if cfg!(miri) {
        // Miri isolates the file system, which failure persistence needs.
        ProptestConfig { cases: 3, failure_persistence: None, ..ProptestConfig::default() }
    } else {
        ProptestConfig { cases: 512, ..ProptestConfig::default() }
    })]

    #[test]
    fn unbounded_matches_the_model(initial in 0usize..6, ops in prop::collection::vec(op(), 1..60)) {
        run(false, initial, ops)?;
    }

    #[test]
    fn bounded_matches_the_model(initial in 0usize..6, ops in prop::collection::vec(op(), 1..60)) {
        run(true, initial, ops)?;
    }
}
