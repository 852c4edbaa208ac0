//! Loom models of the interleavings that matter: acquire/release, cancel
//! (queued, partly assigned, granted but not polled), close, add, forget and
//! resize racing with each other.
//!
//! Under `--cfg admit_loom` (`cargo xtask loom`) loom explores every
//! interleaving; otherwise each model runs once as an ordinary test.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use admit::{AcquireError, Fairness, Semaphore};

#[cfg(admit_loom)]
use loom::{future::block_on, sync::atomic::AtomicBool, thread};
#[cfg(not(admit_loom))]
use {futures_lite::future::block_on, std::sync::atomic::AtomicBool, std::thread};

use std::sync::atomic::Ordering::{Acquire, Release};

/// Spins (yielding to the model checker) until `done()`. Run once without loom, it gives up
/// after 10 s, so that a state that never comes fails the test instead of hanging it.
fn wait_until(mut done: impl FnMut() -> bool) {
    #[cfg(not(admit_loom))]
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        #[cfg(not(admit_loom))]
        assert!(
            std::time::Instant::now() < deadline,
            "the awaited state never came"
        );
        thread::yield_now();
    }
}

/// Joins `t`. Run once without loom, gives up after 10 s (see [`wait_until`]): a thread
/// blocked for good fails the test instead of hanging it.
fn join<T>(t: thread::JoinHandle<T>) -> T {
    #[cfg(not(admit_loom))]
    wait_until(|| t.is_finished());
    t.join().unwrap()
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    #[cfg(admit_loom)]
    {
        let mut builder = loom::model::Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(3);
        }
        builder.check(f);
    }
    #[cfg(not(admit_loom))]
    f();
}

/// Polls once with a no-op waker.
fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Spawns a thread that blocks until it has `n` permits and returns how many
/// it got; returns once that acquire is queued, as waiter number `position`.
fn spawn_waiter(
    sem: &Arc<Semaphore>,
    n: usize,
    position: usize,
) -> thread::JoinHandle<Result<usize, AcquireError>> {
    let t = thread::spawn({
        let sem = sem.clone();
        move || block_on(sem.acquire_many(n)).map(|p| p.num_permits())
    });
    wait_until(|| sem.waiter_count() == position);
    t
}

/// Spawns a thread that polls an acquire of `n` permits once (it must
/// queue) and then hands the future to `then`; the future is dropped when
/// `then` returns. Returns once the acquire is queued.
fn spawn_queued<T: Send + 'static>(
    sem: &Arc<Semaphore>,
    n: usize,
    then: impl FnOnce(Pin<&mut admit::futures::Acquire<'_>>) -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let queued = Arc::new(AtomicBool::new(false));
    let t = thread::spawn({
        let (sem, queued) = (sem.clone(), queued.clone());
        move || {
            let mut fut = pin!(sem.acquire_many(n));
            assert!(poll_once(fut.as_mut()).is_pending());
            queued.store(true, Release);
            then(fut)
        }
    });
    wait_until(|| queued.load(Acquire));
    t
}

#[test]
fn loom_acquire_release_two_threads() {
    for fairness in [Fairness::Fifo, Fairness::Throughput] {
        model(move || {
            let sem = Arc::new(Semaphore::new(1).with_fairness(fairness));
            let t = thread::spawn({
                let sem = sem.clone();
                move || drop(block_on(sem.acquire()).unwrap())
            });
            drop(block_on(sem.acquire()).unwrap());
            join(t);
            assert_eq!(sem.available_permits(), 1);
        });
    }
}

#[test]
fn loom_weighted_release_wakes_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let mut held = sem.try_acquire_many(2).unwrap();
        // Release only once the waiter is queued, so the permits are handed
        // over one by one (a partial assignment, then the rest).
        let t = spawn_waiter(&sem, 2, 1);
        drop(held.split(1).unwrap());
        drop(held);
        assert_eq!(join(t), Ok(2));
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn loom_cancel_queued_races_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        // Dropped at once, racing with the release: still queued, or granted
        // and never polled again.
        let t = spawn_queued(&sem, 1, |_| ());
        drop(held);
        join(t);
        assert_eq!(sem.available_permits(), 1, "no permit lost");
        assert_eq!(sem.waiter_count(), 0);
    });
}

#[test]
fn loom_cancel_partly_assigned_passes_permits_on() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let go = Arc::new(AtomicBool::new(false));
        let mut held = sem.try_acquire_many(2).unwrap();
        let canceller = spawn_queued(&sem, 2, {
            let go = go.clone();
            // Dropped partly assigned, racing with the second release.
            move |_| wait_until(|| go.load(Acquire))
        });
        let waiter = spawn_waiter(&sem, 1, 2);
        drop(held.split(1).unwrap()); // assigned to the big head
        go.store(true, Release);
        drop(held);
        join(canceller);
        assert_eq!(join(waiter), Ok(1));
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn loom_close_races_cancel_and_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        // Polled again and dropped, racing with close and release.
        let t = spawn_queued(&sem, 1, |mut fut| {
            poll_once(fut.as_mut()).map(|r| r.map(|p| p.num_permits()))
        });
        sem.close();
        drop(held);
        match join(t) {
            Poll::Ready(Err(AcquireError::Closed)) | Poll::Pending => {}
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.waiter_count(), 0);
    });
}

#[test]
fn loom_close_wakes_blocked_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let t = spawn_waiter(&sem, 1, 1);
        sem.close();
        assert_eq!(join(t), Err(AcquireError::Closed));
    });
}

#[test]
fn loom_add_and_forget_race_with_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let t = spawn_waiter(&sem, 1, 1);
        sem.add_permits(2);
        let forgot = sem.forget_permits(1);
        assert_eq!(join(t), Ok(1));
        assert_eq!(sem.available_permits() + forgot, 2);
        assert_eq!(sem.capacity(), 2 - forgot);
    });
}

#[test]
fn loom_resize_races_release_and_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.try_acquire_many(2).unwrap();
        let t = spawn_waiter(&sem, 1, 1);
        let resizer = thread::spawn({
            let sem = sem.clone();
            move || sem.set_capacity(1)
        });
        drop(held);
        join(resizer);
        assert_eq!(join(t), Ok(1));
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.capacity(), 1);
    });
}

#[test]
fn loom_throughput_newcomer_races_notified_head() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1).with_fairness(Fairness::Throughput));
        let held = sem.try_acquire().unwrap();
        let head = spawn_waiter(&sem, 1, 1);
        drop(held);
        // A newcomer may or may not get in first; either way nothing is lost.
        if let Ok(p) = sem.try_acquire() {
            drop(p);
        }
        assert_eq!(join(head), Ok(1));
        assert_eq!(sem.available_permits(), 1);
    });
}
