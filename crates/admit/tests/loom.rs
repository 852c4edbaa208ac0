//! Loom models of the interleavings that matter: acquire/release, cancel
//! (queued, partly assigned, granted but not polled), close, add, forget and
//! resize racing with each other.
//!
//! Under `--cfg admit_loom` (`cargo xtask loom`) loom explores every
//! interleaving; otherwise each model runs once as an ordinary test.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use admit::{AcquireError, Fairness, Semaphore};

#[cfg(admit_loom)]
use loom::{future::block_on, thread};
#[cfg(not(admit_loom))]
use {futures_lite::future::block_on, std::thread};

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
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
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
            t.join().unwrap();
            assert_eq!(sem.available_permits(), 1);
        });
    }
}

#[test]
fn loom_weighted_release_wakes_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.try_acquire_many(2).unwrap();
        let t = thread::spawn({
            let sem = sem.clone();
            move || block_on(sem.acquire_many(2)).unwrap().num_permits()
        });
        let mut held = held;
        let one = held.split(1).unwrap();
        drop(one);
        drop(held);
        assert_eq!(t.join().unwrap(), 2);
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn loom_cancel_queued_races_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let t = thread::spawn({
            let sem = sem.clone();
            move || {
                let mut fut = pin!(sem.acquire());
                // Queued, or granted if the release came first; then dropped.
                let _ = poll_once(fut.as_mut());
            }
        });
        drop(held);
        t.join().unwrap();
        assert_eq!(sem.available_permits(), 1, "no permit lost");
        assert_eq!(sem.waiter_count(), 0);
    });
}

#[test]
fn loom_cancel_partly_assigned_passes_permits_on() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.try_acquire_many(2).unwrap();
        let waiter = thread::spawn({
            let sem = sem.clone();
            move || block_on(sem.acquire()).unwrap().num_permits()
        });
        let canceller = thread::spawn({
            let sem = sem.clone();
            move || {
                let mut big = pin!(sem.acquire_many(2));
                let _ = poll_once(big.as_mut());
            }
        });
        drop(held);
        canceller.join().unwrap();
        assert_eq!(waiter.join().unwrap(), 1);
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn loom_close_races_cancel_and_release() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let t = thread::spawn({
            let sem = sem.clone();
            move || {
                let mut fut = pin!(sem.acquire());
                let first = poll_once(fut.as_mut()).map(|r| r.map(|p| p.num_permits()));
                // Dropped here, racing with close: queued, granted, or closed.
                first
            }
        });
        sem.close();
        drop(held);
        match t.join().unwrap() {
            Poll::Ready(Ok(1)) | Poll::Ready(Err(AcquireError::Closed)) | Poll::Pending => {}
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
        let t = thread::spawn({
            let sem = sem.clone();
            move || block_on(sem.acquire()).map(|p| p.num_permits())
        });
        sem.close();
        assert_eq!(t.join().unwrap(), Err(AcquireError::Closed));
    });
}

#[test]
fn loom_add_and_forget_race_with_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let t = thread::spawn({
            let sem = sem.clone();
            move || block_on(sem.acquire()).unwrap().num_permits()
        });
        sem.add_permits(2);
        let forgot = sem.forget_permits(1);
        assert_eq!(t.join().unwrap(), 1);
        assert_eq!(sem.available_permits() + forgot, 2);
        assert_eq!(sem.capacity(), 2 - forgot);
    });
}

#[test]
fn loom_resize_races_release_and_waiter() {
    model(|| {
        let sem = Arc::new(Semaphore::new(2));
        let held = sem.try_acquire_many(2).unwrap();
        let t = thread::spawn({
            let sem = sem.clone();
            move || block_on(sem.acquire()).unwrap().num_permits()
        });
        let resizer = thread::spawn({
            let sem = sem.clone();
            move || sem.set_capacity(1)
        });
        drop(held);
        resizer.join().unwrap();
        assert_eq!(t.join().unwrap(), 1);
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.capacity(), 1);
    });
}

#[test]
fn loom_throughput_newcomer_races_notified_head() {
    model(|| {
        let sem = Arc::new(Semaphore::new(1).with_fairness(Fairness::Throughput));
        let held = sem.try_acquire().unwrap();
        let head = thread::spawn({
            let sem = sem.clone();
            move || block_on(sem.acquire()).unwrap().num_permits()
        });
        drop(held);
        // A newcomer may or may not get in first; either way nothing is lost.
        if let Ok(p) = sem.try_acquire() {
            drop(p);
        }
        assert_eq!(head.join().unwrap(), 1);
        assert_eq!(sem.available_permits(), 1);
    });
}
