//! The runtime-helpers suite: admit's `TaskPool` and `RateLimiter` on every
//! adapter's runtime (tokio, async-std, smol, each with
//! `admit_benches::runtimes::THREADS` workers), next to what users would write
//! without them.
//!
//! Groups (the parameter is the runtime as bench rows name it: `tokio mt-2`,
//! `async-std 2`, `smol 2`):
//!
//! - `fanout`: 100,000 small jobs (a multiply, and the runtime's `yield_now`
//!   in every [`YIELD_EVERY`]th job), at most 64 in flight, driven from
//!   `block_on`. Ours: `admit-pool-inline` (`TaskPool::gather`, the jobs
//!   polled by the pool itself), `admit-pool-spawned`
//!   (`TaskPool::spawn_gather`, one task per job) and, on tokio,
//!   `admit-joinset` (a `JoinSet` bounded by an admit semaphore). Peers:
//!   `buffer-unordered` (`futures::StreamExt::buffer_unordered(64)`) and, on
//!   tokio, `tokio-joinset-semaphore` (`JoinSet` + `tokio::sync::Semaphore`).
//!   Time per job.
//! - `rate_limiter`: `RateLimiter::acquire().await` on a limiter that never
//!   limits (one permit per nanosecond, a burst of 2^20), next to a bare
//!   `Semaphore::acquire().await` + drop (`baseline-admit-semaphore`, the
//!   reference the report divides by): what the limiter costs on top.
//!
//! Run: `cargo bench -p admit-benches --bench runtime` (add `-- --quick`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use admit::rate::Gcra;
use admit_benches::runtimes::{self, ASYNC_STD, SMOL, Tokio};
use admit_conformance::Flavor;
use admit_runtime::{RateLimiter, Runtime, TaskPool};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use futures::StreamExt as _;

/// Jobs per fan-out.
const JOBS: usize = 100_000;

/// Jobs in flight at most.
const IN_FLIGHT: usize = 64;

/// Every this many jobs, one yields once (so the pools see pending jobs and
/// wake-ups, not only jobs that finish on their first poll).
const YIELD_EVERY: usize = 8;

/// One small job: a few nanoseconds of work, and a yield every
/// [`YIELD_EVERY`] jobs.
async fn job<R: Runtime>(index: usize) {
    black_box(black_box(index).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    if index % YIELD_EVERY == 0 {
        R::yield_now().await;
    }
}

/// The jobs of one fan-out.
fn jobs<R: Runtime>() -> impl Iterator<Item = impl Future<Output = ()> + Send + 'static> {
    (0..JOBS).map(job::<R>)
}

fn fanout(c: &mut Criterion) {
    let tokio = Tokio::new();
    let mut group = c.benchmark_group("fanout");
    group.throughput(Throughput::Elements(JOBS as u64));
    // One iteration is a whole fan-out (milliseconds): the same number of
    // iterations per sample, not criterion's linear ramp.
    group.sampling_mode(SamplingMode::Flat);
    fanout_on(&mut group, &tokio);
    tokio_joinsets(&mut group, &tokio);
    fanout_on(&mut group, &ASYNC_STD);
    fanout_on(&mut group, &SMOL);
    group.finish();
}

/// Times `iters` runs of `fan_out` on `runtime`, each from a fresh start.
fn time_fanouts<R: Flavor, F: Future<Output = ()>>(
    runtime: &R,
    iters: u64,
    mut fan_out: impl FnMut() -> F,
) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            fan_out().await;
        }
        start.elapsed()
    })
}

/// The pools and `buffer_unordered`, which every runtime has.
fn fanout_on<F: Flavor>(group: &mut BenchmarkGroup<'_, WallTime>, runtime: &F) {
    let label = runtime.label();
    group.bench_function(BenchmarkId::new("admit-pool-inline", &label), |b| {
        let pool = TaskPool::<F::Runtime>::new(IN_FLIGHT).expect("non-zero limit");
        b.iter_custom(|iters| {
            time_fanouts(runtime, iters, || async {
                let done = pool.gather(jobs::<F::Runtime>()).await.expect("pool runs");
                assert_eq!(done.len(), JOBS);
            })
        });
    });
    group.bench_function(BenchmarkId::new("admit-pool-spawned", &label), |b| {
        let pool = TaskPool::<F::Runtime>::new(IN_FLIGHT).expect("non-zero limit");
        b.iter_custom(|iters| {
            time_fanouts(runtime, iters, || async {
                let done = pool
                    .spawn_gather(jobs::<F::Runtime>())
                    .await
                    .expect("pool runs");
                assert_eq!(done.len(), JOBS);
            })
        });
    });
    group.bench_function(BenchmarkId::new("buffer-unordered", &label), |b| {
        b.iter_custom(|iters| {
            time_fanouts(runtime, iters, || async {
                let done = futures::stream::iter(jobs::<F::Runtime>())
                    .buffer_unordered(IN_FLIGHT)
                    .count()
                    .await;
                assert_eq!(done, JOBS);
            })
        });
    });
}

/// The hand-written tokio pattern: acquire an owned permit, spawn the job
/// into a `JoinSet` with it, reap finished tasks as you go; with tokio's
/// semaphore (the peer) and with admit's.
fn tokio_joinsets(group: &mut BenchmarkGroup<'_, WallTime>, tokio: &Tokio) {
    group.bench_function(
        BenchmarkId::new("tokio-joinset-semaphore", tokio.label()),
        |b| {
            b.iter_custom(|iters| {
                time_fanouts(tokio, iters, || async {
                    let sem = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
                    joinset_fanout(|| {
                        let sem = Arc::clone(&sem);
                        async move { sem.acquire_owned().await.expect("open") }
                    })
                    .await;
                })
            });
        },
    );
    group.bench_function(BenchmarkId::new("admit-joinset", tokio.label()), |b| {
        b.iter_custom(|iters| {
            time_fanouts(tokio, iters, || async {
                let sem = Arc::new(admit::Semaphore::new(IN_FLIGHT));
                joinset_fanout(|| {
                    let sem = Arc::clone(&sem);
                    async move { sem.acquire_owned().await.expect("open") }
                })
                .await;
            })
        });
    });
}

/// The hand-written pattern on tokio: each job spawned into a `JoinSet` while
/// holding an owned permit from `acquire`, finished jobs reaped as it goes.
async fn joinset_fanout<P, F>(mut acquire: impl FnMut() -> F)
where
    F: Future<Output = P>,
    P: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    let mut done = 0;
    for job in jobs::<admit_tokio::Tokio>() {
        let permit = acquire().await;
        set.spawn(async move {
            job.await;
            drop(permit);
        });
        while let Some(joined) = set.try_join_next() {
            joined.expect("job panicked");
            done += 1;
        }
    }
    while let Some(joined) = set.join_next().await {
        joined.expect("job panicked");
        done += 1;
    }
    assert_eq!(done, JOBS);
}

fn rate_limiter(c: &mut Criterion) {
    let tokio = Tokio::new();
    let mut group = c.benchmark_group("rate_limiter");
    group.throughput(Throughput::Elements(1));
    rate_limiter_on(&mut group, &tokio);
    rate_limiter_on(&mut group, &ASYNC_STD);
    rate_limiter_on(&mut group, &SMOL);
    group.finish();
}

/// `iters` never-limited `RateLimiter::acquire`s, then as many bare
/// semaphore acquires, in one `block_on` on `runtime`.
fn rate_limiter_on<F: Flavor>(group: &mut BenchmarkGroup<'_, WallTime>, runtime: &F) {
    let label = runtime.label();
    group.bench_function(BenchmarkId::new("admit-rate-limiter", &label), |b| {
        b.iter_custom(|iters| {
            // One permit per nanosecond and a burst of 2^20: far faster than
            // anyone can ask, so no acquire ever waits.
            let limit = Gcra::new(1_000_000_000, Duration::from_secs(1)).with_burst(1 << 20);
            let limiter = RateLimiter::<F::Runtime>::new(limit);
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(&limiter).acquire().await;
                }
                start.elapsed()
            })
        });
    });
    group.bench_function(BenchmarkId::new("baseline-admit-semaphore", &label), |b| {
        let sem = admit::Semaphore::new(1);
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let permit = black_box(&sem).acquire().await.expect("open");
                    drop(black_box(permit));
                }
                start.elapsed()
            })
        });
    });
}

fn main() {
    runtimes::ensure_thread_counts();
    runtimes::check_thread_counts();
    let mut criterion = admit_benches::criterion_config();
    fanout(&mut criterion);
    rate_limiter(&mut criterion);
    criterion.final_summary();
}
