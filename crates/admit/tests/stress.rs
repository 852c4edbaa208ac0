//! Many threads, random weighted acquires (async and blocking), random
//! cancellations: concurrent holders never exceed capacity, and at the end
//! every permit is back.
#![cfg(not(admit_loom))]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use admit::{AcquireError, Fairness, Semaphore};
use futures_lite::future::block_on;

const CAPACITY: usize = 6;

/// A tiny xorshift so each thread has its own reproducible sequence.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Joins `t`, failing the test if the thread has not finished within a minute (these runs take
/// well under a second): a thread blocked for good, by a lost permit or wakeup, fails the
/// test instead of hanging it.
fn join<T>(t: std::thread::JoinHandle<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !t.is_finished() {
        assert!(
            std::time::Instant::now() < deadline,
            "a thread is still blocked after a minute"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    t.join().unwrap()
}

fn stress(fairness: Fairness) {
    let threads = 6;
    let ops = if cfg!(miri) { 30 } else { 20_000 };
    let sem = Arc::new(Semaphore::new(CAPACITY).with_fairness(fairness));
    let in_use = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (sem, in_use, max_seen) = (sem.clone(), in_use.clone(), max_seen.clone());
            std::thread::spawn(move || {
                let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1);
                for _ in 0..ops {
                    let r = next(&mut seed);
                    let n = (r % 3) as usize + 1;
                    let permit = match r % 4 {
                        // Cancel after one poll: queued, or granted and dropped.
                        0 => {
                            let mut fut = pin!(sem.acquire_many(n));
                            match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                                Poll::Ready(p) => Some(p.unwrap()),
                                Poll::Pending => None,
                            }
                        }
                        1 => sem.try_acquire_many(n).ok(),
                        _ => Some(block_on(sem.acquire_many(n)).unwrap()),
                    };
                    if let Some(p) = permit {
                        let now =
                            in_use.fetch_add(p.num_permits(), Ordering::SeqCst) + p.num_permits();
                        max_seen.fetch_max(now, Ordering::SeqCst);
                        assert!(now <= CAPACITY, "{now} permits held at once");
                        if r & 64 == 0 {
                            std::thread::yield_now();
                        }
                        in_use.fetch_sub(p.num_permits(), Ordering::SeqCst);
                        drop(p);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        join(h);
    }
    assert_eq!(sem.available_permits(), CAPACITY, "every permit is back");
    assert_eq!(sem.waiter_count(), 0);
    assert!(max_seen.load(Ordering::SeqCst) >= 2, "the test did contend");
}

#[test]
fn stress_fifo() {
    stress(Fairness::Fifo);
}

#[test]
fn stress_throughput() {
    stress(Fairness::Throughput);
}

#[test]
fn stress_close_while_waiting() {
    let rounds = if cfg!(miri) { 3 } else { 300 };
    for _ in 0..rounds {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let sem = sem.clone();
                std::thread::spawn(move || block_on(sem.acquire()).map(|p| p.num_permits()))
            })
            .collect();
        std::thread::yield_now();
        sem.close();
        drop(held);
        for w in waiters {
            // The only permit was held until after the close: whether it queued before the
            // close or arrived after it, every waiter sees the close.
            assert_eq!(join(w), Err(AcquireError::Closed));
        }
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(sem.waiter_count(), 0);
    }
}
