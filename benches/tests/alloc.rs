//! The core's "zero heap allocations per acquire" and "`size_of::<Semaphore>()`
//! ≤ 40 bytes" goals, checked with a counting global allocator; and that the
//! trait the benches measure through adds nothing (no allocation, no state).
//!
//! Counts are per thread (a `const` thread-local), so tests running in
//! parallel in this binary do not see each other's allocations. Tasks,
//! executors and wakers are set up before counting starts; only the
//! steady-state acquire/release loop is counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use admit::{Fairness, Semaphore};
use admit_benches::{AdmitFifo, PeerSemaphore, Visit, each_semaphore};
use futures_lite::future::block_on;

/// Acquisitions per test.
const ROUNDS: usize = 10_000;

/// Forwards to the system allocator, counting allocations (not frees) made by
/// the current thread.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn record_allocation() {
    // `try_with`: never panic inside the allocator, even during thread exit.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees carry over; counting touches only a thread-local
// `Cell<usize>` (const-initialised, no destructor, no allocation).
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record_allocation();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record_allocation();
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record_allocation();
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn semaphore(permits: usize, fairness: Fairness) -> Semaphore {
    Semaphore::new(permits).with_fairness(fairness)
}

/// A future that returns `Pending` once (without waking: the manual
/// executors below poll every task each round), so a task holds its permit
/// across a scheduling point.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

#[test]
fn counting_allocator_sees_allocations() {
    let before = allocations();
    let boxed = std::hint::black_box(Box::new(1_u64));
    assert_eq!(
        allocations() - before,
        1,
        "the counter must see a `Box::new`"
    );
    drop(boxed);
}

#[test]
fn uncontended_acquire_allocates_nothing() {
    for fairness in [Fairness::Fifo, Fairness::Throughput] {
        let sem = semaphore(2, fairness);
        let delta = block_on(async {
            drop(sem.acquire().await.unwrap()); // warm up anything lazy
            let before = allocations();
            for round in 0..ROUNDS {
                let permit = if round % 2 == 0 {
                    sem.acquire().await.unwrap()
                } else {
                    sem.acquire_many(2).await.unwrap()
                };
                drop(permit);
                drop(sem.try_acquire().unwrap());
            }
            allocations() - before
        });
        assert_eq!(
            delta, 0,
            "{fairness:?}: {delta} allocations in {ROUNDS} uncontended acquires"
        );
        assert_eq!(sem.available_permits(), 2);
    }
}

/// Polls every task round-robin with a no-op waker until all are done, then
/// asserts that some task really waited, that nothing was allocated during the
/// loop, and that all `capacity` permits are back. `what` names the workload.
fn assert_contended_run_allocates_nothing<F: Future<Output = ()>>(
    what: &str,
    sem: &Semaphore,
    capacity: usize,
    tasks: &mut [Pin<Box<Option<F>>>],
) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut most_queued = 0;
    let before = allocations();
    let mut live = tasks.len();
    while live > 0 {
        for task in tasks.iter_mut() {
            if let Some(future) = task.as_mut().as_pin_mut() {
                if future.poll(&mut cx).is_ready() {
                    task.as_mut().set(None);
                    live -= 1;
                }
            }
            most_queued = most_queued.max(sem.waiter_count());
        }
    }
    let delta = allocations() - before;
    assert!(
        most_queued > 0,
        "{what}: no task ever waited, the test is not contended"
    );
    assert_eq!(delta, 0, "{what}: {delta} allocations");
    assert_eq!(sem.available_permits(), capacity, "{what}: permits missing");
}

#[test]
fn contended_acquire_allocates_nothing() {
    const TASKS: usize = 8;
    for fairness in [Fairness::Fifo, Fairness::Throughput] {
        let sem = semaphore(2, fairness);
        let mut tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let sem = &sem;
                Box::pin(Some(async move {
                    for _ in 0..ROUNDS / TASKS {
                        let permit = sem.acquire().await.unwrap();
                        YieldOnce(false).await;
                        drop(permit);
                    }
                }))
            })
            .collect();
        let what = format!("{fairness:?}, {ROUNDS} contended acquires");
        assert_contended_run_allocates_nothing(&what, &sem, 2, &mut tasks);
    }
}

#[test]
fn contended_weighted_acquire_allocates_nothing() {
    const TASKS: usize = 8;
    for fairness in [Fairness::Fifo, Fairness::Throughput] {
        let sem = semaphore(4, fairness);
        let mut tasks: Vec<_> = (0..TASKS)
            .map(|index| {
                let sem = &sem;
                Box::pin(Some(async move {
                    for round in 0..ROUNDS / TASKS {
                        let permit = sem.acquire_many(1 + (index + round) % 4).await.unwrap();
                        YieldOnce(false).await;
                        drop(permit);
                    }
                }))
            })
            .collect();
        let what = format!("{fairness:?}, {ROUNDS} weighted acquires");
        assert_contended_run_allocates_nothing(&what, &sem, 4, &mut tasks);
    }
}

#[test]
fn acquire_across_threads_allocates_nothing() {
    const THREADS: usize = 4;
    for fairness in [Fairness::Fifo, Fairness::Throughput] {
        let sem = semaphore(1, fairness);
        let deltas: Vec<usize> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        block_on(async {
                            drop(sem.acquire().await.unwrap()); // warm up anything lazy
                            let before = allocations();
                            for _ in 0..ROUNDS / THREADS {
                                let permit = sem.acquire().await.unwrap();
                                std::thread::yield_now();
                                drop(permit);
                            }
                            allocations() - before
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect()
        });
        assert_eq!(deltas, [0; THREADS], "{fairness:?}: allocations per thread");
        assert_eq!(sem.available_permits(), 1);
    }
}

/// The benches measure every semaphore through `PeerSemaphore`: through it, the
/// uncontended loop allocates nothing either, and the acquire future is the
/// semaphore's own (the same size: no state added around it).
#[test]
fn peer_trait_adds_nothing_to_acquire() {
    struct Uncontended;

    impl Visit for Uncontended {
        type Output = &'static str;

        fn visit<S: PeerSemaphore>(&mut self) -> Option<&'static str> {
            let sem = S::with_permits(1);
            let delta = block_on(async {
                drop(sem.acquire().await.expect("open")); // warm up anything lazy
                let before = allocations();
                for _ in 0..ROUNDS {
                    drop(sem.acquire().await.expect("open"));
                    drop(sem.try_acquire().expect("the only permit is free"));
                }
                allocations() - before
            });
            assert_eq!(
                delta,
                0,
                "{}: {delta} allocations through the trait",
                S::NAME
            );
            Some(S::NAME)
        }
    }

    let checked = each_semaphore(&mut Uncontended);
    assert_eq!(checked.len(), 6, "every bench semaphore: {checked:?}");

    let admit = AdmitFifo::with_permits(1);
    assert_eq!(
        size_of_val(&PeerSemaphore::acquire(&admit)),
        size_of_val(&admit.0.acquire())
    );
    let tokio = tokio::sync::Semaphore::new(1);
    assert_eq!(
        size_of_val(&PeerSemaphore::acquire(&tokio)),
        size_of_val(&tokio.acquire())
    );
}

#[test]
fn semaphore_fits_in_40_bytes() {
    let size = size_of::<Semaphore>();
    assert!(
        size <= 40,
        "size_of::<admit::Semaphore>() is {size} bytes, the target is at most 40"
    );
}
