//! The semaphore suite: admit (`admit-fifo`, `admit-throughput`) side by side
//! with tokio, async-lock, futures-intrusive (fair) and maitake-sync, in one
//! run, on the same workloads.
//!
//! Groups (function ids are the semaphore names from
//! [`admit_benches::BenchSemaphore::NAME`]; the report tool matches on them):
//!
//! - `uncontended_acquire`: `acquire().await` + drop on one thread, inside a
//!   single `block_on` per sample, next to `floor` (one compare-exchange + one
//!   `fetch_add`).
//! - `try_acquire`: `try_acquire()` + drop, next to `floor`.
//! - `contended`: on each runtime (tokio, async-std, smol, each with
//!   `admit_benches::runtimes::THREADS` workers), T tasks each holding one permit across the
//!   runtime's `yield_now`, P permits; time per acquisition. The parameter
//!   names the runtime first: `tokio/T16-P1`.
//! - `waiter_scaling`: one release → head granted → re-enqueue cycle with W
//!   waiters queued, polled by hand with a no-op waker.
//! - `weighted`: `acquire_many(1..=4)` under contention, on each runtime
//!   (async-lock has no weighted acquire and is left out).
//!
//! Run: `cargo bench -p admit-benches --bench semaphore` (add `-- --quick`
//! for a fast pass).

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use admit_benches::contended;
use admit_benches::runtimes::{self, AsyncStd, BenchRuntime, Smol, Tokio};
use admit_benches::{AdmitFifo, AdmitThroughput, BenchSemaphore, Floor, WeightedSemaphore};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput};
use futures_lite::future::block_on;

/// Queue lengths for the `waiter_scaling` group.
const WAITERS: [usize; 2] = [10, 10_000];

/// (tasks, permits) for the `weighted` group; requests cycle through 1..=4.
const WEIGHTED: (usize, usize) = (16, 8);

/// Runs `$bench::<S>($args)` for every semaphore, ours first.
macro_rules! each_semaphore {
    ($bench:ident($($arg:expr),*)) => {
        $bench::<AdmitFifo>($($arg),*);
        $bench::<AdmitThroughput>($($arg),*);
        $bench::<tokio::sync::Semaphore>($($arg),*);
        $bench::<async_lock::Semaphore>($($arg),*);
        $bench::<futures_intrusive::sync::Semaphore>($($arg),*);
        $bench::<maitake_sync::Semaphore>($($arg),*);
    };
}

/// Runs `$bench::<S, _>($args)` for every semaphore with a weighted acquire,
/// the bench's second parameter (the runtime) inferred from the arguments.
macro_rules! each_weighted_semaphore {
    ($bench:ident::<_>($($arg:expr),*)) => {
        $bench::<AdmitFifo, _>($($arg),*);
        $bench::<AdmitThroughput, _>($($arg),*);
        $bench::<tokio::sync::Semaphore, _>($($arg),*);
        $bench::<futures_intrusive::sync::Semaphore, _>($($arg),*);
        $bench::<maitake_sync::Semaphore, _>($($arg),*);
    };
}

fn uncontended_acquire(c: &mut Criterion) {
    let mut group = c.benchmark_group("uncontended_acquire");
    group.throughput(Throughput::Elements(1));
    group.bench_function("floor", |b| {
        let floor = Floor::new();
        b.iter_custom(|iters| {
            block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let _ = black_box(black_box(&floor).cycle());
                }
                start.elapsed()
            })
        });
    });
    each_semaphore!(uncontended_acquire_one(&mut group));
    group.finish();
}

/// `acquire().await` + drop, `iters` times inside one `block_on`, so the
/// executor's entry cost is not part of the measurement.
fn uncontended_acquire_one<S: BenchSemaphore>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let sem = S::with_permits(1);
    group.bench_function(S::NAME, |b| {
        b.iter_custom(|iters| {
            block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let permit = black_box(&sem).acquire().await;
                    drop(black_box(permit));
                }
                start.elapsed()
            })
        });
    });
}

fn try_acquire(c: &mut Criterion) {
    let mut group = c.benchmark_group("try_acquire");
    group.throughput(Throughput::Elements(1));
    group.bench_function("floor", |b| {
        let floor = Floor::new();
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let _ = black_box(black_box(&floor).cycle());
            }
            start.elapsed()
        });
    });
    each_semaphore!(try_acquire_one(&mut group));
    group.finish();
}

/// `try_acquire()` + drop on a semaphore with a free permit.
fn try_acquire_one<S: BenchSemaphore>(group: &mut BenchmarkGroup<'_, WallTime>) {
    let sem = S::with_permits(1);
    group.bench_function(S::NAME, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let permit = black_box(&sem).try_acquire();
                assert!(permit.is_some(), "the only permit is free");
                drop(black_box(permit));
            }
            start.elapsed()
        });
    });
}

fn contended(c: &mut Criterion) {
    let tokio = Tokio::new();
    let mut group = c.benchmark_group("contended");
    group.throughput(Throughput::Elements(1));
    contended_on(&mut group, &tokio);
    contended_on(&mut group, &AsyncStd);
    contended_on(&mut group, &Smol);
    group.finish();
}

/// [`contended::run`] with `iters` acquisitions, for every (T, P) of
/// [`contended::CONFIGS`] and every semaphore of [`contended::runs`], on
/// `runtime`; reports time per acquisition.
fn contended_on<R: BenchRuntime>(group: &mut BenchmarkGroup<'_, WallTime>, runtime: &R) {
    for (tasks, permits) in contended::CONFIGS {
        for (name, run) in contended::runs::<R>() {
            let id = BenchmarkId::new(name, contended::parameter::<R>(tasks, permits));
            group.bench_function(id, |b| {
                b.iter_custom(|iters| run(runtime, tasks, permits, iters));
            });
        }
    }
}

fn waiter_scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("waiter_scaling");
    group.throughput(Throughput::Elements(1));
    for waiters in WAITERS {
        each_semaphore!(waiter_scaling_one(&mut group, waiters));
    }
    group.finish();
}

/// Polls a pinned slot's future once with a no-op waker.
fn poll_slot<F: Future>(slot: &mut Pin<Box<Option<F>>>) -> Poll<F::Output> {
    let future = slot.as_mut().as_pin_mut().expect("slot holds a future");
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// With one permit held and `waiters` acquire futures queued behind it, one
/// iteration is a handoff: drop the held permit (the head waiter is granted),
/// poll the head to take its permit, then reuse its slot for a fresh acquire
/// that queues at the back. The slots are allocated once, outside the timing.
fn waiter_scaling_one<S: BenchSemaphore>(group: &mut BenchmarkGroup<'_, WallTime>, waiters: usize) {
    group.bench_function(BenchmarkId::new(S::NAME, waiters), |b| {
        b.iter_custom(|iters| {
            let sem = S::with_permits(1);
            let mut held = Some(sem.try_acquire().expect("the only permit is free"));
            let mut slots: Vec<_> = (0..waiters)
                .map(|_| Box::pin(Some(sem.acquire())))
                .collect();
            for slot in &mut slots {
                assert!(poll_slot(slot).is_pending(), "the permit is held");
            }
            let mut head = 0;
            let start = Instant::now();
            for _ in 0..iters {
                drop(held.take());
                let slot = &mut slots[head];
                let Poll::Ready(permit) = poll_slot(slot) else {
                    panic!(
                        "{}: the head waiter was not granted the released permit",
                        S::NAME
                    );
                };
                held = Some(permit);
                slot.as_mut().set(Some(sem.acquire()));
                assert!(poll_slot(slot).is_pending(), "the permit is held");
                head = (head + 1) % waiters;
            }
            let elapsed = start.elapsed();
            drop(slots);
            drop(held);
            elapsed
        });
    });
}

fn weighted(c: &mut Criterion) {
    let tokio = Tokio::new();
    let mut group = c.benchmark_group("weighted");
    group.throughput(Throughput::Elements(1));
    let (tasks, permits) = WEIGHTED;
    each_weighted_semaphore!(weighted_one::<_>(&mut group, &tokio, tasks, permits));
    each_weighted_semaphore!(weighted_one::<_>(&mut group, &AsyncStd, tasks, permits));
    each_weighted_semaphore!(weighted_one::<_>(&mut group, &Smol, tasks, permits));
    group.finish();
}

/// Like the contended workload ([`contended::run`]), but acquisition `i` of
/// task `t` asks for `1 + (t + i) % 4` permits, so small and large requests
/// interleave.
fn weighted_one<S: WeightedSemaphore, R: BenchRuntime>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    runtime: &R,
    tasks: usize,
    permits: usize,
) {
    let parameter = format!("{}-n1..=4", contended::parameter::<R>(tasks, permits));
    let id = BenchmarkId::new(S::NAME, parameter);
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let sem = S::with_permits(permits);
            contended::fan_out(
                runtime,
                sem,
                tasks,
                iters,
                |sem, index, rounds| async move {
                    for round in 0..rounds {
                        let n = 1 + (index + round as usize) % 4;
                        let permit = sem.acquire_many(n).await;
                        R::yield_now().await;
                        drop(permit);
                    }
                },
            )
        });
    });
}

fn main() {
    runtimes::ensure_thread_counts();
    runtimes::check_thread_counts();
    let mut criterion = admit_benches::criterion_config();
    uncontended_acquire(&mut criterion);
    try_acquire(&mut criterion);
    contended(&mut criterion);
    waiter_scaling(&mut criterion);
    weighted(&mut criterion);
    criterion.final_summary();
}
