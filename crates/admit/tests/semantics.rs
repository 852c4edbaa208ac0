//! The semaphore's semantics, one test each, polled by hand with counting
//! wakers so that the order of wakeups is observable.
#![cfg(not(admit_loom))]

mod common;

use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Wake, Waker};

use admit::futures::Acquire;
use admit::{
    AcquireError, Fairness, MAX_PERMITS, OVERTAKE_LIMIT, ReleaseError, Semaphore, TryAcquireError,
};
use common::{CountingWaker, poll_noop, poll_with};

type Waiting<'a> = Pin<Box<Acquire<'a>>>;

/// Queues `n`-permit acquires, polled once each (so they are queued in this
/// order), each with its own counting waker.
fn queue<'a>(sem: &'a Semaphore, sizes: &[usize]) -> Vec<(Waiting<'a>, Arc<CountingWaker>)> {
    sizes
        .iter()
        .map(|&n| {
            let mut fut = Box::pin(sem.acquire_many(n));
            let waker = CountingWaker::new();
            assert!(
                poll_with(fut.as_mut(), &waker).is_pending(),
                "acquire_many({n}) should queue"
            );
            (fut, waker)
        })
        .collect()
}

fn wakes(waiting: &[(Waiting<'_>, Arc<CountingWaker>)]) -> Vec<usize> {
    waiting.iter().map(|(_, w)| w.wakes()).collect()
}

#[test]
fn fifo_order_of_wakeups_and_grants() {
    let sem = Semaphore::new(0);
    let mut waiting = queue(&sem, &[1, 1, 1, 1]);
    assert_eq!(sem.waiter_count(), 4);
    let mut held = Vec::new();
    for i in 0..4 {
        sem.add_permits(1);
        let expected: Vec<usize> = (0..4).map(|j| usize::from(j <= i)).collect();
        assert_eq!(
            wakes(&waiting),
            expected,
            "release {i} must wake waiter {i} only"
        );
        // Later waiters are still pending; waiter i is granted.
        for (j, (fut, w)) in waiting.iter_mut().enumerate().skip(i) {
            match poll_with(fut.as_mut(), w) {
                Poll::Ready(Ok(p)) => {
                    assert_eq!(j, i, "waiter {j} granted after release {i}");
                    held.push(p);
                }
                Poll::Ready(Err(e)) => panic!("{e}"),
                Poll::Pending => assert_ne!(j, i, "waiter {i} not granted"),
            }
        }
    }
    assert_eq!(held.len(), 4);
    assert_eq!(sem.waiter_count(), 0);
}

#[test]
fn later_acquire_never_overtakes_a_queued_waiter() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut first = queue(&sem, &[1]);
    drop(held); // goes straight to `first`
    let mut late = pin!(sem.acquire());
    assert!(
        poll_noop(late.as_mut()).is_pending(),
        "a newcomer must queue behind"
    );
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    let (fut, w) = &mut first[0];
    let permit = match poll_with(fut.as_mut(), w) {
        Poll::Ready(Ok(p)) => p,
        other => panic!("first waiter should hold the permit, got {other:?}"),
    };
    drop(permit);
    assert!(matches!(poll_noop(late.as_mut()), Poll::Ready(Ok(_))));
}

#[test]
fn try_acquire_does_not_overtake_a_weighted_head() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    let _head = queue(&sem, &[3]);
    drop(held); // 2 of 3 assigned to the head
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
}

#[test]
fn weighted_head_blocks_smaller_and_gets_partial_assignment() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    let mut waiting = queue(&sem, &[3, 1]);
    drop(held);
    assert_eq!(
        wakes(&waiting),
        [0, 0],
        "2 of 3 permits: nobody can proceed yet"
    );
    assert_eq!(sem.available_permits(), 0, "assigned to the head, not free");
    sem.add_permits(1);
    assert_eq!(wakes(&waiting), [1, 0]);
    let (fut, w) = &mut waiting[0];
    let Poll::Ready(Ok(big)) = poll_with(fut.as_mut(), w) else {
        panic!("head not granted")
    };
    assert_eq!(big.num_permits(), 3);
    drop(big);
    assert_eq!(wakes(&waiting), [1, 1]);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn release_then_reacquire_goes_to_the_back() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut others = queue(&sem, &[1]);
    drop(held);
    let mut again = pin!(sem.acquire());
    assert!(poll_noop(again.as_mut()).is_pending());
    assert_eq!(wakes(&others), [1]);
    let (fut, w) = &mut others[0];
    assert!(poll_with(fut.as_mut(), w).is_ready());
}

#[test]
fn one_release_wakes_every_waiter_it_can_satisfy() {
    let sem = Semaphore::new(0);
    let waiting = queue(&sem, &[1, 2, 1, 5]);
    sem.add_permits(4);
    assert_eq!(wakes(&waiting), [1, 1, 1, 0]);
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(sem.waiter_count(), 1);
}

#[test]
fn a_release_serving_more_than_one_batch_wakes_everyone() {
    let sem = Semaphore::new(0);
    let waiting = queue(&sem, &vec![1; 100]);
    sem.add_permits(100);
    assert_eq!(wakes(&waiting), vec![1; 100]);
}

#[test]
fn cancel_queued_waiter_leaves_the_queue() {
    let sem = Semaphore::new(0);
    let mut waiting = queue(&sem, &[1, 1]);
    drop(waiting.remove(0));
    assert_eq!(sem.waiter_count(), 1);
    sem.add_permits(1);
    assert_eq!(wakes(&waiting), [1]);
}

#[test]
fn cancelling_neighbours_in_the_middle_keeps_the_queue_linked() {
    // B leaves from the middle, then C, whose predecessor is now A: the
    // queue must link A to D, and serve A then D.
    let sem = Semaphore::new(0);
    let mut waiting = queue(&sem, &[1, 1, 1, 1]);
    drop(waiting.remove(1));
    drop(waiting.remove(1));
    assert_eq!(sem.waiter_count(), 2);
    sem.add_permits(1);
    assert_eq!(wakes(&waiting), [1, 0]);
    sem.add_permits(1);
    assert_eq!(wakes(&waiting), [1, 1]);
    for (fut, w) in &mut waiting {
        assert!(matches!(poll_with(fut.as_mut(), w), Poll::Ready(Ok(_))));
    }
    assert_eq!(sem.waiter_count(), 0);
}

#[test]
fn cancel_partially_assigned_returns_permits_and_wakes_next() {
    let sem = Semaphore::new(2);
    let held = sem.try_acquire_many(2).unwrap();
    let mut waiting = queue(&sem, &[3, 2]);
    drop(held);
    assert_eq!(sem.available_permits(), 0);
    drop(waiting.remove(0)); // gives back its 2 assigned permits ...
    assert_eq!(wakes(&waiting), [1], "... which serve the next waiter");
    let (fut, w) = &mut waiting[0];
    assert!(matches!(poll_with(fut.as_mut(), w), Poll::Ready(Ok(p)) if p.num_permits() == 2));
}

#[test]
fn cancel_granted_but_not_polled_returns_permits() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut waiting = queue(&sem, &[1, 1]);
    drop(held);
    assert_eq!(wakes(&waiting), [1, 0]);
    drop(waiting.remove(0)); // woken, never polled
    assert_eq!(wakes(&waiting), [1], "the permit moves on");
    drop(waiting);
    assert_eq!(sem.available_permits(), 1, "and finally comes back");
}

#[test]
fn requests_that_can_never_succeed_fail_at_once() {
    let sem = Semaphore::new(1);
    assert_eq!(
        poll_noop(pin!(sem.acquire_many(MAX_PERMITS + 1))).map(|r| r.err()),
        Poll::Ready(Some(AcquireError::TooLarge))
    );
    assert_eq!(
        sem.try_acquire_many(usize::MAX).unwrap_err(),
        TryAcquireError::TooLarge
    );
    let bounded = Semaphore::bounded(3);
    assert_eq!(
        poll_noop(pin!(bounded.acquire_many(4))).map(|r| r.err()),
        Poll::Ready(Some(AcquireError::TooLarge))
    );
    assert_eq!(
        bounded.try_acquire_many(4).unwrap_err(),
        TryAcquireError::TooLarge
    );
    // An unbounded semaphore can grow, so a large request waits.
    assert!(poll_noop(pin!(sem.acquire_many(4))).is_pending());
}

/// The acquire future learns why it cannot take permits only once it has
/// failed and locked the queue; `try_acquire` classifies at once. Both give
/// the same reason, in the same order: above `MAX_PERMITS`, then closed,
/// then above the bound.
#[test]
fn acquire_and_try_acquire_give_the_same_reason() {
    let bounded = Semaphore::bounded(3);
    let held = bounded.try_acquire_many(3).unwrap();
    bounded.close();
    for n in [0, 1, 3, 4, MAX_PERMITS, MAX_PERMITS + 1] {
        let tried = bounded.try_acquire_many(n).unwrap_err();
        let Poll::Ready(Err(acquired)) = poll_noop(pin!(bounded.acquire_many(n))) else {
            panic!("acquire_many({n}) on a closed semaphore did not fail at once");
        };
        assert_eq!(TryAcquireError::from(acquired), tried, "acquire_many({n})");
        let expected = if n > MAX_PERMITS {
            TryAcquireError::TooLarge
        } else {
            TryAcquireError::Closed
        };
        assert_eq!(tried, expected, "try_acquire_many({n})");
    }
    drop(held);
    assert_eq!(bounded.available_permits(), 3, "no permit lost");
}

#[test]
fn acquire_zero_is_ready_at_once_even_behind_waiters() {
    let sem = Semaphore::new(0);
    let _waiting = queue(&sem, &[1]);
    let Poll::Ready(Ok(p)) = poll_noop(pin!(sem.acquire_many(0))) else {
        panic!("not ready")
    };
    assert_eq!(p.num_permits(), 0);
    assert!(sem.try_acquire_many(0).is_ok());
    sem.close();
    assert_eq!(
        sem.try_acquire_many(0).unwrap_err(),
        TryAcquireError::Closed
    );
}

#[test]
fn bounded_release_past_capacity_is_refused_and_changes_nothing() {
    let sem = Semaphore::bounded(2);
    let p = sem.try_acquire().unwrap();
    assert_eq!(sem.release(1), Err(ReleaseError::ExceedsCapacity));
    assert_eq!(sem.available_permits(), 1);
    p.forget();
    assert_eq!(sem.release(2), Err(ReleaseError::ExceedsCapacity));
    assert_eq!(sem.release(1), Ok(()));
    assert_eq!(sem.available_permits(), 2);
    assert_eq!(sem.capacity(), 2);
}

#[test]
#[should_panic(expected = "capacity")]
fn bounded_add_permits_past_capacity_panics() {
    Semaphore::bounded(1).add_permits(1);
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn unbounded_add_permits_past_max_permits_panics() {
    Semaphore::new(MAX_PERMITS).add_permits(1);
}

#[test]
#[should_panic(expected = "at most MAX_PERMITS")]
fn new_above_max_permits_panics() {
    let _ = Semaphore::new(MAX_PERMITS + 1);
}

#[test]
#[should_panic(expected = "at most MAX_PERMITS")]
fn bounded_above_max_permits_panics() {
    let _ = Semaphore::bounded(MAX_PERMITS + 1);
}

#[test]
fn set_capacity_above_max_permits_panics_and_changes_nothing() {
    let sem = Semaphore::new(1);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sem.set_capacity(MAX_PERMITS + 1)
    }));
    let message = caught.unwrap_err();
    let message = message
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| message.downcast_ref::<String>().map(String::as_str))
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("MAX_PERMITS"), "{message}");
    // Nothing changed.
    assert_eq!(sem.capacity(), 1);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn unbounded_release_past_max_permits_is_refused() {
    let sem = Semaphore::new(MAX_PERMITS);
    assert_eq!(sem.release(1), Err(ReleaseError::ExceedsMaxPermits));
    assert_eq!(sem.available_permits(), MAX_PERMITS);
}

#[test]
fn close_wakes_every_waiter_with_closed() {
    let sem = Semaphore::new(0);
    let mut waiting = queue(&sem, &vec![1; 100]);
    sem.close();
    assert_eq!(wakes(&waiting), vec![1; 100]);
    for (fut, w) in &mut waiting {
        assert!(matches!(
            poll_with(fut.as_mut(), w),
            Poll::Ready(Err(AcquireError::Closed))
        ));
    }
    assert_eq!(sem.waiter_count(), 0);
    assert!(matches!(
        poll_noop(pin!(sem.acquire())),
        Poll::Ready(Err(AcquireError::Closed))
    ));
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
}

#[test]
fn permits_released_after_close_are_counted_and_partial_assignments_refunded() {
    let sem = Semaphore::new(3);
    let held = sem.try_acquire_many(3).unwrap();
    let waiting = queue(&sem, &[5]);
    sem.add_permits(2); // assigned to the waiter
    assert_eq!(sem.available_permits(), 0);
    sem.close();
    assert_eq!(
        sem.available_permits(),
        2,
        "the waiter's partial assignment comes back"
    );
    drop(held);
    assert_eq!(sem.available_permits(), 5);
    drop(waiting);
    sem.add_permits(1);
    assert_eq!(sem.available_permits(), 6);
    assert!(sem.is_closed(), "nothing reopens a closed semaphore");
}

/// A waker that calls back into the semaphore when woken and when dropped.
struct Reentrant {
    sem: Arc<Semaphore>,
    woken: AtomicUsize,
}

impl Wake for Reentrant {
    fn wake(self: Arc<Self>) {
        self.woken.fetch_add(1, Ordering::SeqCst);
        self.sem.add_permits(1);
        let _ = self.sem.try_acquire().map(|p| p.forget());
    }
}

impl Drop for Reentrant {
    fn drop(&mut self) {
        self.sem.add_permits(1);
    }
}

#[test]
fn wakers_calling_back_into_the_semaphore_do_not_deadlock() {
    for close in [false, true] {
        let sem = Arc::new(Semaphore::new(0));
        let reentrant = Arc::new(Reentrant {
            sem: sem.clone(),
            woken: AtomicUsize::new(0),
        });
        {
            let mut futs: Vec<_> = (0..40).map(|_| Box::pin(sem.acquire())).collect();
            let waker = Waker::from(reentrant.clone());
            for f in &mut futs {
                assert!(
                    f.as_mut()
                        .poll(&mut std::task::Context::from_waker(&waker))
                        .is_pending()
                );
            }
            drop(waker);
            if close {
                sem.close();
            } else {
                sem.add_permits(1); // each wake adds another: a chain through all 40
            }
            assert_eq!(
                reentrant.woken.load(Ordering::SeqCst),
                40,
                "close = {close}"
            );
        }
        // Dropping the 40 futures (some granted, never polled) woke nobody else.
        assert_eq!(reentrant.woken.load(Ordering::SeqCst), 40);
    }
}

#[test]
fn throughput_notified_head_takes_permits_when_polled_with_a_new_waker() {
    // The head of a throughput-policy queue, told permits are free, takes them
    // itself when polled again, here with a different waker; both wakers call
    // back into the semaphore when woken and dropped, which must not deadlock.
    let sem = Arc::new(Semaphore::new(1).with_fairness(Fairness::Throughput));
    let held = sem.try_acquire().unwrap();
    let mut head = Box::pin(sem.acquire());
    let first = Waker::from(Arc::new(Reentrant {
        sem: sem.clone(),
        woken: AtomicUsize::new(0),
    }));
    assert!(
        head.as_mut()
            .poll(&mut std::task::Context::from_waker(&first))
            .is_pending()
    );
    drop(first);
    drop(held); // notifies the head
    let second = Waker::from(Arc::new(Reentrant {
        sem: sem.clone(),
        woken: AtomicUsize::new(0),
    }));
    let polled = head
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&second));
    drop(second);
    let Poll::Ready(Ok(permit)) = polled else {
        panic!("the head should take the free permit")
    };
    drop(permit);
    // The wakers' wakes and drops added permits along the way (the first waker's wake added
    // one and took one for good, its drop and the second's added one each): none was lost,
    // none was counted twice, and nobody is left waiting.
    assert_eq!(sem.capacity(), 3);
    assert_eq!(sem.available_permits(), 3);
    assert_eq!(sem.waiter_count(), 0);
}

#[test]
fn set_capacity_grow_serves_waiters_in_fifo_order() {
    let sem = Semaphore::new(0);
    let waiting = queue(&sem, &[2, 1, 1]);
    sem.set_capacity(3);
    assert_eq!(wakes(&waiting), [1, 1, 0]);
    assert_eq!(sem.capacity(), 3);
}

#[test]
fn set_capacity_shrink_takes_free_now_and_absorbs_later_releases() {
    let sem = Semaphore::new(5);
    let a = sem.try_acquire_many(2).unwrap();
    let b = sem.try_acquire_many(2).unwrap();
    sem.set_capacity(1); // 1 free goes now; 3 more owed
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(sem.capacity(), 1);
    drop(a);
    assert_eq!(sem.available_permits(), 0, "absorbed");
    assert_eq!(b.num_permits(), 2, "held permits are never revoked");
    drop(b);
    assert_eq!(sem.available_permits(), 1);
    assert!(sem.try_acquire_many(2).is_err());
}

#[test]
fn bounded_shrink_fails_waiters_above_the_new_bound() {
    let sem = Semaphore::bounded(4);
    let held = sem.try_acquire_many(4).unwrap();
    let mut waiting = queue(&sem, &[4, 1]);
    sem.set_capacity(2);
    assert_eq!(wakes(&waiting), [1, 0]);
    let (fut, w) = &mut waiting[0];
    assert!(matches!(
        poll_with(fut.as_mut(), w),
        Poll::Ready(Err(AcquireError::TooLarge))
    ));
    drop(held); // 2 absorbed, 1 to the small waiter, 1 free
    assert_eq!(wakes(&waiting), [1, 1]);
    assert_eq!(sem.available_permits(), 1);
    assert_eq!(sem.release(1), Err(ReleaseError::ExceedsCapacity));
}

#[test]
fn throughput_policy_bounds_overtaking_then_hands_off() {
    let sem = Semaphore::new(1).with_fairness(Fairness::Throughput);
    let mut held = sem.try_acquire().unwrap();
    let mut head = queue(&sem, &[1]);
    let mut overtakes = 0;
    loop {
        drop(held);
        match sem.try_acquire() {
            Ok(p) => {
                overtakes += 1;
                held = p;
                assert!(overtakes <= OVERTAKE_LIMIT, "overtaken more than the limit");
            }
            Err(TryAcquireError::NoPermits) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        overtakes, OVERTAKE_LIMIT,
        "newcomers are let in up to the limit"
    );
    let (fut, w) = &mut head[0];
    assert!(w.wakes() >= 1);
    assert!(
        matches!(poll_with(fut.as_mut(), w), Poll::Ready(Ok(_))),
        "then the head is served"
    );
    // With the head served, newcomers are welcome again.
    drop(head);
    assert!(sem.try_acquire().is_ok());
}

#[test]
fn throughput_policy_bounds_overtaking_of_later_waiters() {
    // A waiter with m waiters ahead of it is overtaken at most
    // OVERTAKE_LIMIT * (m + 1) times: here m = 1 for the second waiter.
    let sem = Semaphore::new(1).with_fairness(Fairness::Throughput);
    let mut held = sem.try_acquire().unwrap();
    let mut waiting = queue(&sem, &[1, 1]);
    let mut overtakes = 0;
    let mut served = 0;
    while served < waiting.len() {
        drop(held);
        if let Ok(p) = sem.try_acquire() {
            overtakes += 1;
            assert!(
                overtakes <= 2 * OVERTAKE_LIMIT,
                "overtaken more than the bound"
            );
            held = p;
            continue;
        }
        // Newcomers are refused: the head has been handed the permit.
        let (fut, w) = &mut waiting[served];
        let Poll::Ready(Ok(p)) = poll_with(fut.as_mut(), w) else {
            panic!("waiter {served} not served once newcomers were refused")
        };
        held = p;
        served += 1;
    }
    assert_eq!(
        overtakes,
        2 * OVERTAKE_LIMIT,
        "the bound is reached, not just respected"
    );
}

#[test]
fn throughput_policy_notified_head_takes_free_permits() {
    let sem = Semaphore::new(1).with_fairness(Fairness::Throughput);
    let held = sem.try_acquire().unwrap();
    let mut waiting = queue(&sem, &[1, 1]);
    drop(held);
    assert_eq!(wakes(&waiting), [1, 0], "only the head is told");
    assert_eq!(
        sem.available_permits(),
        1,
        "the permit stays free for whoever is first"
    );
    let (fut, w) = &mut waiting[0];
    let Poll::Ready(Ok(p)) = poll_with(fut.as_mut(), w) else {
        panic!("head should take it")
    };
    drop(p);
    assert_eq!(wakes(&waiting), [1, 1], "the next head is told in turn");
}

#[test]
fn forget_permits_only_takes_free_ones() {
    let sem = Semaphore::new(4);
    let held = sem.try_acquire_many(3).unwrap();
    assert_eq!(sem.forget_permits(2), 1);
    assert_eq!(sem.capacity(), 3);
    drop(held);
    assert_eq!(sem.available_permits(), 3);
}

#[test]
fn permit_split_merge_forget() {
    let sem = Semaphore::new(5);
    let mut p = sem.try_acquire_many(4).unwrap();
    let q = p.split(3).unwrap();
    assert!(p.split(2).is_none());
    assert_eq!((p.num_permits(), q.num_permits()), (1, 3));
    p.merge(q);
    assert_eq!(p.num_permits(), 4);
    assert_eq!(sem.available_permits(), 1);
    p.forget();
    assert_eq!(sem.available_permits(), 1);
    assert_eq!(sem.capacity(), 1);
}

#[test]
#[should_panic(expected = "same semaphore")]
fn merging_permits_of_different_semaphores_panics() {
    let (a, b) = (Semaphore::new(1), Semaphore::new(1));
    a.try_acquire().unwrap().merge(b.try_acquire().unwrap());
}

#[test]
fn owned_permits_and_futures() {
    let sem = Arc::new(Semaphore::new(1));
    let p = sem.clone().try_acquire_owned().unwrap();
    let mut fut = pin!(sem.clone().acquire_many_owned(1));
    assert!(poll_noop(fut.as_mut()).is_pending());
    drop(p);
    let Poll::Ready(Ok(p)) = poll_noop(fut.as_mut()) else {
        panic!("not granted")
    };
    assert!(Arc::ptr_eq(p.semaphore(), &sem));
    drop(p);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
#[should_panic(expected = "after completion")]
fn polling_after_completion_panics() {
    let sem = Semaphore::new(1);
    let mut fut = pin!(sem.acquire());
    let _p = poll_noop(fut.as_mut());
    let _ = poll_noop(fut.as_mut());
}

#[test]
fn debug_shows_the_state() {
    let sem = Semaphore::bounded(3);
    let _p = sem.try_acquire().unwrap();
    let s = format!("{sem:?}");
    for needle in [
        "available_permits: 2",
        "capacity: 3",
        "bounded: true",
        "closed: false",
        "waiters: 0",
        "Fifo",
    ] {
        assert!(s.contains(needle), "{s} lacks {needle}");
    }
}

#[test]
fn futures_and_permits_are_send_and_sync() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let sem = Arc::new(Semaphore::new(1));
    send_sync(&sem.acquire());
    send_sync(&sem.clone().acquire_owned());
    send_sync(&sem.try_acquire().unwrap());
    send_sync(&sem.clone().try_acquire_owned().unwrap());
    send_sync(&*sem);
}

/// Five words (40 bytes on 64-bit targets): the state word, the queue head
/// with the lock bit, the tail, `total` and `bound`.
#[test]
fn semaphore_is_five_words() {
    assert_eq!(size_of::<Semaphore>(), 5 * size_of::<usize>());
}

/// The acquire future embeds its queue node, and nothing else grows it: the
/// semaphore reference, the request, its phase, and the node's `needed`,
/// `requested`, two links, waker and `notified` flag. The owned future holds
/// its handle's `Arc` beside the semaphore reference read from it once (so a
/// handle whose `as_ref` changes answer cannot move the future to another
/// queue): one word more.
#[test]
fn acquire_futures_are_ten_and_eleven_words() {
    let sem = Arc::new(Semaphore::new(1));
    assert_eq!(size_of_val(&sem.acquire()), 10 * size_of::<usize>());
    assert_eq!(
        size_of_val(&sem.clone().acquire_owned()),
        11 * size_of::<usize>()
    );
}

#[test]
fn blocking_acquire_waits_in_the_same_queue() {
    let sem = Arc::new(Semaphore::new(1));
    let held = sem.try_acquire().unwrap();
    let t = std::thread::spawn({
        let sem = sem.clone();
        move || sem.acquire_many_blocking(1).map(|p| p.num_permits())
    });
    while sem.waiter_count() == 0 {
        std::thread::yield_now();
    }
    drop(held);
    assert_eq!(t.join().unwrap(), Ok(1));
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn errors_display_and_are_errors() {
    fn is_error<E: std::error::Error>(_: &E) {}
    is_error(&AcquireError::Closed);
    is_error(&TryAcquireError::NoPermits);
    is_error(&ReleaseError::ExceedsCapacity);
    assert_eq!(AcquireError::Closed.to_string(), "semaphore closed");
    assert_eq!(
        TryAcquireError::from(AcquireError::TooLarge),
        TryAcquireError::TooLarge
    );
}
