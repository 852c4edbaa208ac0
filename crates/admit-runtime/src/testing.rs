//! The behaviour suite every adapter runs: each test body is written once here, generic over
//! the runtime, and [`runtime_tests!`](crate::runtime_tests) turns the list into `#[test]`
//! functions for one runtime.
//!
//! Enabled by the `testing` feature, for the adapters' dev-dependencies; not a stable API.
//! Each test keeps its wall time to a fraction of a second.
//!
//! # Examples
//!
//! In an adapter's `tests/behaviour.rs`:
//!
//! ```text
//! admit_runtime::runtime_tests!(admit_smol::Smol);
//! ```
#![allow(clippy::missing_panics_doc)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use admit::rate::{Gcra, InvalidRate};
use admit::{AcquireError, Semaphore};
use futures_lite::StreamExt;
use futures_lite::future::{self, FutureExt};

use crate::{
    AcquireTimeoutError, BlockOn, JobStream, PoolError, PoolSet, Progress, RateLimiter, Runtime,
    TaskPool, TryRateError,
};

/// Expands to one `#[test]` per test of this suite, run on `$runtime` (a [`BlockOn`] type).
///
/// # Examples
///
/// ```text
/// admit_runtime::runtime_tests!(admit_tokio::Tokio);
/// ```
#[macro_export]
macro_rules! runtime_tests {
    ($runtime:ty) => {
        $crate::runtime_tests!(@tests $runtime;
            spawn_returns_output,
            dropped_join_handle_detaches,
            spawned_panic_reaches_awaiter,
            sleep_follows_clock,
            acquire_wrappers_work,
            timeout_expires_and_semaphore_is_unchanged,
            timeout_clock_starts_when_created,
            timeout_gives_back_partly_assigned_permits,
            timeout_keeps_permit_ready_with_deadline,
            timeout_succeeds_when_permit_comes_in_time,
            timeout_cancelled_midway_leaves_no_trace,
            timeout_reports_closed_and_too_large,
            timeout_owned_variants,
            pool_zero_limit_is_an_error,
            pool_gather_keeps_input_order_and_bound,
            pool_spawn_gather_keeps_input_order_and_bound,
            pool_as_completed_yields_completion_order,
            pool_spawn_as_completed_yields_completion_order,
            pool_try_gather_fails_fast,
            pool_try_spawn_gather_fails_fast,
            pool_gather_collects_all_failures,
            pool_progress_hook_reports_everything,
            pool_inline_dropped_halfway_stops_everything,
            pool_spawned_dropped_halfway_stops_everything,
            pool_inline_task_panic_reaches_caller,
            pool_spawned_task_panic_reaches_caller,
            pool_shared_semaphore_bounds_all_pools,
            pool_closed_semaphore_stops_admission,
            pool_shares_runtime_semaphore_with_direct_acquires,
            pool_inline_accepts_borrowing_non_send_futures,
            pool_gather_accepts_any_output,
            pool_gather_takes_jobs_from_a_stream,
            pool_join_set_submits_one_by_one,
            pool_spawn_join_set_submits_one_by_one,
            pool_acquire_timeout_stops_admission,
            pool_closed_mid_gather_keeps_finished_outputs,
            pool_polls_only_woken_jobs,
            pool_job_panic_frees_its_slot,
            rate_long_run_matches_configured_rate,
            rate_burst_one_keeps_the_schedule,
            rate_bad_input_is_an_error,
            rate_weighted_requests_cost_their_weight,
            rate_too_large_fails_at_once,
            rate_is_fifo_fair,
            rate_cancelled_waiter_takes_nothing,
            rate_try_acquire_does_not_overtake,
        );
    };
    (@tests $runtime:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::testing::$name::<$runtime>();
            }
        )*
    };
}

const MS: Duration = Duration::from_millis(1);

/// Waits (sleeping 1 ms at a time) until `condition` holds; panics after `limit`.
async fn eventually<R: Runtime>(limit: Duration, what: &str, condition: impl Fn() -> bool) {
    let deadline = R::now() + limit;
    while !condition() {
        assert!(R::now() < deadline, "timed out waiting until {what}");
        R::sleep(MS).await;
    }
}

/// Counts what the test jobs do: started, finished, dropped, and how many ran at once.
/// Shared with `admit-conformance`, whose pool cases count the same things.
#[derive(Default)]
pub struct Tracker {
    /// Jobs that started running.
    pub started: AtomicUsize,
    /// Jobs that ran to the end.
    pub finished: AtomicUsize,
    /// Jobs dropped, finished or not.
    pub dropped: AtomicUsize,
    running: AtomicUsize,
    /// The most jobs running at once.
    pub most_running: AtomicUsize,
}

/// Held by a running job: counts it as running until dropped.
struct Running(Arc<Tracker>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, SeqCst);
        self.0.dropped.fetch_add(1, SeqCst);
    }
}

impl Tracker {
    /// A job that runs for `duration` and then returns `output`.
    pub fn job<R: Runtime, T>(
        self: &Arc<Self>,
        duration: Duration,
        output: T,
    ) -> impl Future<Output = T> + Send + 'static + use<R, T>
    where
        T: Send + 'static,
    {
        let tracker = Arc::clone(self);
        async move {
            tracker.started.fetch_add(1, SeqCst);
            let now = tracker.running.fetch_add(1, SeqCst) + 1;
            tracker.most_running.fetch_max(now, SeqCst);
            let _running = Running(Arc::clone(&tracker));
            if !duration.is_zero() {
                R::sleep(duration).await;
            }
            tracker.finished.fetch_add(1, SeqCst);
            output
        }
    }

    /// Reads one of the counters.
    pub fn get(counter: &AtomicUsize) -> usize {
        counter.load(SeqCst)
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The runtime seam.

/// A spawned task's output comes back through its handle.
pub fn spawn_returns_output<R: BlockOn>() {
    R::block_on(async {
        let handles: Vec<_> = (0..10).map(|i| R::spawn(async move { i * 2 })).collect();
        let mut outputs = Vec::new();
        for handle in handles {
            outputs.push(handle.await);
        }
        assert_eq!(outputs, (0..10).map(|i| i * 2).collect::<Vec<_>>());
    });
}

/// Dropping a join handle detaches the task: it still runs to completion.
pub fn dropped_join_handle_detaches<R: BlockOn>() {
    R::block_on(async {
        let done = Arc::new(AtomicUsize::new(0));
        let flag = Arc::clone(&done);
        drop(R::spawn(async move {
            R::sleep(5 * MS).await;
            flag.store(1, SeqCst);
        }));
        eventually::<R>(Duration::from_secs(5), "the detached task finished", || {
            done.load(SeqCst) == 1
        })
        .await;
    });
}

/// A panic in a spawned task is resumed, with its payload, in whoever awaits the handle.
pub fn spawned_panic_reaches_awaiter<R: BlockOn>() {
    R::block_on(async {
        let handle = R::spawn(async {
            if true {
                panic!("boom in a task");
            }
        });
        let payload = AssertUnwindSafe(handle)
            .catch_unwind()
            .await
            .expect_err("the panic must reach the awaiter");
        assert_eq!(panic_message(&*payload), "boom in a task");
        // The runtime survives it.
        assert_eq!(R::spawn(async { 1 }).await, 1);
    });
}

/// `sleep` waits at least its duration on the runtime's clock; `sleep_until` a past instant is
/// ready at once.
pub fn sleep_follows_clock<R: BlockOn>() {
    R::block_on(async {
        let start = R::now();
        R::sleep(10 * MS).await;
        assert!(R::now() - start >= 10 * MS);
        let start = R::now();
        R::sleep_until(start.checked_sub(MS).unwrap_or(start)).await;
        assert!(R::now() - start < Duration::from_secs(1));
    });
}

/// The runtime's semaphore acquires like the core's: borrowed, weighted and owned, waiting
/// in the same FIFO queue, and converts to and from the core's type.
pub fn acquire_wrappers_work<R: BlockOn>() {
    R::block_on(async {
        let sem = Arc::new(crate::Semaphore::<R>::new(3));
        let one = sem.acquire().await.unwrap();
        let two = sem.acquire_many(2).await.unwrap();
        assert_eq!(sem.available_permits(), 0);
        drop((one, two));
        let owned = Arc::clone(&sem).acquire_owned().await.unwrap();
        let many = Arc::clone(&sem).acquire_many_owned(2).await.unwrap();
        assert!(Arc::ptr_eq(owned.semaphore(), &sem));
        assert_eq!(owned.num_permits() + many.num_permits(), 3);
        // A waiter queues, and is served when the owned permits come back.
        let mut waiting = pin!(sem.acquire_many(3));
        assert!(future::poll_once(&mut waiting).await.is_none());
        assert_eq!(sem.waiter_count(), 1);
        drop((owned, many));
        assert_eq!(waiting.await.unwrap().num_permits(), 3);
        assert_eq!(sem.available_permits(), 3);
        assert!(sem.clone().try_acquire_many_owned(4).is_err());

        let core: &Semaphore = sem.as_core();
        assert!(std::ptr::eq(core, AsRef::<Semaphore>::as_ref(&*sem)));
        let wrapped = crate::Semaphore::<R>::from(Semaphore::bounded(2));
        assert!(wrapped.is_bounded());
        assert_eq!(wrapped.into_inner().capacity(), 2);
    });
}

/// The owned timeouts give an `'static` permit, time out leaving the semaphore as it was, and
/// hand back what a timed-out weighted wait had been assigned.
pub fn timeout_owned_variants<R: BlockOn>() {
    R::block_on(async {
        let sem = Arc::new(crate::Semaphore::<R>::new(2));
        let permit = Arc::clone(&sem)
            .acquire_owned_timeout(Duration::from_secs(5))
            .await
            .unwrap();
        let spawned = R::spawn(async move { permit.num_permits() });
        assert_eq!(spawned.await, 1);
        assert_eq!(sem.available_permits(), 2);

        let mut held = sem.try_acquire_many(2).unwrap();
        let mut waiting = pin!(Arc::clone(&sem).acquire_many_owned_timeout(2, 30 * MS));
        assert!(future::poll_once(&mut waiting).await.is_none());
        drop(held.split(1).unwrap()); // assigned to the waiter, which then times out
        assert_eq!(waiting.await.unwrap_err(), AcquireTimeoutError::Timeout);
        assert_eq!((sem.available_permits(), sem.waiter_count()), (1, 0));
        drop(held);
        assert_eq!(sem.available_permits(), 2);
    });
}

// ---------------------------------------------------------------------------------------------
// Timeouts.

/// A timeout fires after its duration, and leaves the semaphore as it was.
pub fn timeout_expires_and_semaphore_is_unchanged<R: BlockOn>() {
    R::block_on(async {
        let sem = crate::Semaphore::<R>::new(1);
        let held = sem.try_acquire().unwrap();
        let start = R::now();
        let result = sem.acquire_many_timeout(1, 20 * MS).await;
        assert_eq!(result.unwrap_err(), AcquireTimeoutError::Timeout);
        assert!(R::now() - start >= 20 * MS);
        assert_eq!(sem.waiter_count(), 0);
        assert_eq!(sem.available_permits(), 0);
        drop(held);
        assert_eq!(sem.available_permits(), 1);
    });
}

/// `Semaphore::acquire_timeout`'s clock starts when the future is created, not when it is first polled: a
/// future first polled after its time is up times out on that poll.
pub fn timeout_clock_starts_when_created<R: BlockOn>() {
    R::block_on(async {
        let sem = crate::Semaphore::<R>::new(0);
        let mut late = pin!(sem.acquire_many_timeout(1, 10 * MS));
        R::sleep(20 * MS).await;
        let result = future::poll_once(&mut late)
            .await
            .expect("the time was up before the first poll");
        assert_eq!(result.unwrap_err(), AcquireTimeoutError::Timeout);
        assert_eq!(sem.waiter_count(), 0);
    });
}

/// A weighted wait that had been assigned some permits gives them back when it times out.
pub fn timeout_gives_back_partly_assigned_permits<R: BlockOn>() {
    R::block_on(async {
        let sem = crate::Semaphore::<R>::new(3);
        let mut held = sem.try_acquire_many(3).unwrap();
        let mut waiting = pin!(sem.acquire_many_timeout(3, 30 * MS));
        assert!(future::poll_once(&mut waiting).await.is_none());
        // One permit comes back and goes straight to the queued waiter.
        drop(held.split(1).unwrap());
        assert_eq!(waiting.await.unwrap_err(), AcquireTimeoutError::Timeout);
        assert_eq!(sem.waiter_count(), 0);
        assert_eq!(sem.available_permits(), 1);
        drop(held);
        assert_eq!(sem.available_permits(), 3);
    });
}

/// A permit granted in the same instant the deadline passes is returned, not lost.
pub fn timeout_keeps_permit_ready_with_deadline<R: BlockOn>() {
    R::block_on(async {
        let sem = crate::Semaphore::<R>::new(0);
        let deadline = R::now() + 5 * MS;
        let mut waiting = pin!(sem.acquire_many_deadline(1, deadline.into()));
        assert!(future::poll_once(&mut waiting).await.is_none());
        // Both fire: the deadline passes, and a permit is handed to the waiter.
        R::sleep_until(deadline + MS).await;
        sem.add_permits(1);
        let permit = future::poll_once(&mut waiting)
            .await
            .expect("ready")
            .expect("the permit wins over the deadline");
        assert_eq!(permit.num_permits(), 1);
        assert_eq!(sem.available_permits(), 0);
        drop(permit);
        assert_eq!(sem.available_permits(), 1);
    });
}

/// A permit released before the deadline is granted.
pub fn timeout_succeeds_when_permit_comes_in_time<R: BlockOn>() {
    R::block_on(async {
        let sem = crate::Semaphore::<R>::new(1);
        let held = sem.try_acquire().unwrap();
        let release = async {
            R::sleep(5 * MS).await;
            drop(held);
        };
        let (acquired, ()) =
            future::zip(sem.acquire_many_timeout(1, Duration::from_secs(5)), release).await;
        assert_eq!(acquired.unwrap().num_permits(), 1);
        assert_eq!(sem.available_permits(), 1);
    });
}

/// Dropping a timed acquire while it waits leaves no waiter and changes no count.
pub fn timeout_cancelled_midway_leaves_no_trace<R: BlockOn>() {
    R::block_on(async {
        let sem = crate::Semaphore::<R>::new(2);
        let held = sem.try_acquire().unwrap();
        {
            let mut waiting = pin!(sem.acquire_many_timeout(2, Duration::from_secs(10)));
            assert!(future::poll_once(&mut waiting).await.is_none());
            assert_eq!(sem.waiter_count(), 1);
        }
        assert_eq!(sem.waiter_count(), 0);
        assert_eq!(sem.available_permits(), 1);
        drop(held);
        assert_eq!(sem.available_permits(), 2);
    });
}

/// The semaphore's own errors come through.
pub fn timeout_reports_closed_and_too_large<R: BlockOn>() {
    R::block_on(async {
        let bounded = crate::Semaphore::<R>::bounded(2);
        assert_eq!(
            bounded.acquire_many_timeout(3, 10 * MS).await.unwrap_err(),
            AcquireTimeoutError::Acquire(AcquireError::TooLarge)
        );
        bounded.close();
        assert_eq!(
            bounded.acquire_many_timeout(1, 10 * MS).await.unwrap_err(),
            AcquireTimeoutError::Acquire(AcquireError::Closed)
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Task pools.

/// K = 0 is an error, not a hang, whether the pool owns its semaphore or shares one.
pub fn pool_zero_limit_is_an_error<R: BlockOn>() {
    assert_eq!(TaskPool::<R>::new(0).unwrap_err(), crate::ZeroLimitError);
    R::block_on(async {
        let pool = TaskPool::<R>::with_semaphore(Arc::new(crate::Semaphore::new(0)));
        let result = pool.gather((0..3).map(|_| async {})).await;
        assert_eq!(result.unwrap_err().error, PoolError::ZeroLimit);
        let result = pool
            .try_spawn_gather((0..3).map(|_| async { Ok::<_, ()>(()) }))
            .await;
        assert_eq!(result.unwrap_err().error, PoolError::ZeroLimit);
        let mut set = pool.join_set();
        assert_eq!(set.spawn(async {}).await, Err(PoolError::ZeroLimit));
        assert!(set.is_empty());
        // Nothing to run is fine.
        assert!(
            pool.gather(Vec::<future::Ready<()>>::new())
                .await
                .unwrap()
                .is_empty()
        );
    });
}

/// A varied, deterministic job length: 0 to 2 ms in steps of 0.5 ms.
pub fn jitter(i: usize) -> Duration {
    Duration::from_micros(((i * 7919) % 5) as u64 * 500)
}

/// Inline `gather`: input order, at most K at once, every permit back.
pub fn pool_gather_keeps_input_order_and_bound<R: BlockOn>() {
    R::block_on(async {
        let tracker = Arc::new(Tracker::default());
        let pool = TaskPool::<R>::new(8).unwrap();
        let jobs = (0..200).map(|i| tracker.job::<R, _>(jitter(i), Ok::<_, ()>(i)));
        let outputs = pool.gather(jobs).await.unwrap();
        assert_eq!(outputs, (0..200).map(Ok).collect::<Vec<_>>());
        assert!(Tracker::get(&tracker.most_running) <= 8);
        assert!(Tracker::get(&tracker.most_running) > 1, "the jobs overlap");
        assert_eq!(pool.semaphore().available_permits(), 8);
    });
}

/// Spawned `gather`: input order, at most K at once, every permit back.
pub fn pool_spawn_gather_keeps_input_order_and_bound<R: BlockOn>() {
    R::block_on(async {
        let tracker = Arc::new(Tracker::default());
        let pool = TaskPool::<R>::new(8).unwrap();
        let jobs = (0..200).map(|i| tracker.job::<R, _>(jitter(i), Ok::<_, ()>(i)));
        let outputs = pool.spawn_gather(jobs).await.unwrap();
        assert_eq!(outputs, (0..200).map(Ok).collect::<Vec<_>>());
        assert!(Tracker::get(&tracker.most_running) <= 8);
        assert_eq!(Tracker::get(&tracker.finished), 200);
        assert_eq!(pool.semaphore().available_permits(), 8);
    });
}

/// A one-way gate: tasks wait at it until it is opened. Shared with
/// `admit-conformance`, whose cases hold jobs back the same way.
///
/// # Examples
///
/// ```
/// use admit_runtime::testing::Gate;
///
/// let gate = Gate::default();
/// gate.open();
/// futures_lite::future::block_on(gate.wait()); // open: returns at once
/// ```
#[derive(Default)]
pub struct Gate(crate::Signal);

impl Gate {
    /// Opens the gate for good, waking every task waiting at it.
    pub fn open(&self) {
        self.0.set();
    }

    /// Waits until the gate is open.
    pub async fn wait(&self) {
        self.0.wait().await;
    }
}

/// Receives every item, opening the gate of job `i - 1` once job `i` has been received.
async fn receive_in_gate_order<S, T>(mut stream: S, gates: &[Arc<Gate>]) -> Vec<usize>
where
    S: futures_lite::Stream<Item = Result<(usize, Result<usize, T>), PoolError>> + Unpin,
    T: std::fmt::Debug + PartialEq,
{
    let mut order = Vec::new();
    gates[gates.len() - 1].open();
    while let Some(item) = stream.next().await {
        let (index, output) = item.unwrap();
        assert_eq!(output, Ok(index));
        order.push(index);
        if let Some(next) = index.checked_sub(1) {
            gates[next].open();
        }
    }
    order
}

async fn completion_order<R: Runtime>(spawned: bool) {
    // Five jobs run at once; each finishes when its gate opens, and the consumer opens the
    // gates one at a time, last job first, each after receiving the previous output. So the
    // completion order is 4, 3, 2, 1, 0 whatever the scheduling.
    let gates: Vec<Arc<Gate>> = (0..5).map(|_| Arc::default()).collect();
    let pool = TaskPool::<R>::new(5).unwrap();
    let jobs: Vec<_> = (0..5)
        .map(|i| {
            let gate = Arc::clone(&gates[i]);
            async move {
                gate.wait().await;
                Ok::<_, ()>(i)
            }
        })
        .collect();
    let order = if spawned {
        receive_in_gate_order(pool.spawn_as_completed(jobs), &gates).await
    } else {
        receive_in_gate_order(pool.as_completed(jobs), &gates).await
    };
    assert_eq!(order, [4, 3, 2, 1, 0]);
    assert_eq!(pool.semaphore().available_permits(), 5);
}

/// Inline `as_completed` yields in completion order, with input indices.
pub fn pool_as_completed_yields_completion_order<R: BlockOn>() {
    R::block_on(completion_order::<R>(false));
}

/// Spawned `as_completed` yields in completion order, with input indices.
pub fn pool_spawn_as_completed_yields_completion_order<R: BlockOn>() {
    R::block_on(completion_order::<R>(true));
}

async fn fails_fast<R: Runtime>(spawned: bool) {
    let tracker = Arc::new(Tracker::default());
    let pool = TaskPool::<R>::new(4).unwrap();
    let jobs = (0..50).map(|i| {
        if i == 2 {
            tracker.job::<R, _>(2 * MS, Err(format!("job {i} failed")))
        } else {
            tracker.job::<R, _>(Duration::from_secs(5), Ok(i))
        }
    });
    let start = R::now();
    let result = if spawned {
        pool.try_spawn_gather(jobs).await
    } else {
        pool.try_gather(jobs).await
    };
    assert_eq!(
        result.unwrap_err().error,
        PoolError::Failed {
            index: 2,
            error: "job 2 failed".to_string()
        }
    );
    assert!(R::now() - start < Duration::from_secs(4), "it failed fast");
    // The rest were cancelled: every started job is dropped, no permit leaks, none finishes.
    eventually::<R>(Duration::from_secs(5), "the other jobs are dropped", || {
        Tracker::get(&tracker.dropped) == Tracker::get(&tracker.started)
    })
    .await;
    assert_eq!(Tracker::get(&tracker.started), 4);
    assert_eq!(Tracker::get(&tracker.finished), 1);
    assert_eq!(pool.semaphore().available_permits(), 4);
}

/// Inline `try_gather`: the first error cancels the rest at once.
pub fn pool_try_gather_fails_fast<R: BlockOn>() {
    R::block_on(fails_fast::<R>(false));
}

/// Spawned `try_gather`: the first error stops the other tasks.
pub fn pool_try_spawn_gather_fails_fast<R: BlockOn>() {
    R::block_on(fails_fast::<R>(true));
}

/// `gather` runs everything and returns every failure in place.
pub fn pool_gather_collects_all_failures<R: BlockOn>() {
    R::block_on(async {
        let pool = TaskPool::<R>::new(3).unwrap();
        let jobs = (0..20).map(|i| async move { if i % 5 == 0 { Err(i) } else { Ok(i) } });
        let outputs = pool.gather(jobs).await.unwrap();
        for (i, output) in outputs.iter().enumerate() {
            assert_eq!(output.is_err(), i % 5 == 0);
        }
        let jobs = (0..20).map(|i| async move { if i % 5 == 0 { Err(i) } else { Ok(i) } });
        let outputs = pool.spawn_gather(jobs).await.unwrap();
        assert_eq!(outputs.iter().filter(|o| o.is_err()).count(), 4);
    });
}

/// The progress hook sees every start and finish; counts add up and respect the bound.
pub fn pool_progress_hook_reports_everything<R: BlockOn>() {
    R::block_on(async {
        for spawned in [false, true] {
            let seen = Arc::new(Mutex::new(Vec::<Progress>::new()));
            let pool = TaskPool::<R>::new(4).unwrap().on_progress({
                let seen = Arc::clone(&seen);
                move |p| seen.lock().unwrap().push(p)
            });
            let jobs = (0..30).map(|i| async move {
                R::sleep(jitter(i)).await;
                if i % 3 == 0 { Err(i) } else { Ok(i) }
            });
            if spawned {
                pool.spawn_gather(jobs).await.unwrap();
            } else {
                pool.gather(jobs).await.unwrap();
            }
            let seen = seen.lock().unwrap();
            assert_eq!(seen.len(), 60, "one report per start and per finish");
            assert!(seen.iter().all(|p| p.in_flight <= 4), "{seen:?}");
            assert!(seen.iter().all(|p| p.total == Some(30)), "{seen:?}");
            assert!(seen.windows(2).all(|w| w[0].finished <= w[1].finished));
            let last = seen.last().unwrap();
            assert_eq!((last.finished, last.in_flight), (30, 0));
        }
    });
}

async fn dropped_halfway<R: Runtime>(spawned: bool) {
    let tracker = Arc::new(Tracker::default());
    let pool = TaskPool::<R>::new(6).unwrap();
    let jobs: Vec<_> = (0..100)
        .map(|i| tracker.job::<R, _>(2 * MS + jitter(i), Ok::<_, ()>(i)))
        .collect();
    let mut received = 0;
    if spawned {
        let mut stream = pool.spawn_as_completed(jobs);
        while received < 10 {
            let (_, output) = stream.next().await.unwrap().unwrap();
            output.unwrap();
            received += 1;
        }
    } else {
        let mut stream = pool.as_completed(jobs);
        while received < 10 {
            let (_, output) = stream.next().await.unwrap().unwrap();
            output.unwrap();
            received += 1;
        }
    }
    // The stream is dropped: everything started is dropped, every permit comes back...
    eventually::<R>(
        Duration::from_secs(5),
        "every started job is dropped",
        || Tracker::get(&tracker.dropped) == Tracker::get(&tracker.started),
    )
    .await;
    assert_eq!(pool.semaphore().available_permits(), 6);
    // ... and nothing keeps running or starts.
    let started = Tracker::get(&tracker.started);
    let finished = Tracker::get(&tracker.finished);
    assert!(started < 100);
    R::sleep(20 * MS).await;
    assert_eq!(Tracker::get(&tracker.started), started);
    assert_eq!(Tracker::get(&tracker.finished), finished);
}

/// Dropping an inline pool half-way drops its futures and returns every permit.
pub fn pool_inline_dropped_halfway_stops_everything<R: BlockOn>() {
    R::block_on(dropped_halfway::<R>(false));
}

/// Dropping a spawned pool half-way stops its tasks and returns every permit.
pub fn pool_spawned_dropped_halfway_stops_everything<R: BlockOn>() {
    R::block_on(dropped_halfway::<R>(true));
}

async fn task_panic<R: Runtime>(spawned: bool) {
    let tracker = Arc::new(Tracker::default());
    let pool = TaskPool::<R>::new(4).unwrap();
    let jobs: Vec<_> = (0..20)
        .map(|i| {
            let job = tracker.job::<R, _>(Duration::from_secs(5), Ok::<_, ()>(i));
            async move {
                if i == 1 {
                    R::sleep(2 * MS).await;
                    panic!("job 1 panicked");
                }
                job.await
            }
            .boxed()
        })
        .collect();
    let run = async {
        if spawned {
            pool.spawn_gather(jobs).await
        } else {
            pool.gather(jobs).await
        }
    };
    let payload = AssertUnwindSafe(run)
        .catch_unwind()
        .await
        .expect_err("the panic reaches the caller");
    assert_eq!(panic_message(&*payload), "job 1 panicked");
    eventually::<R>(Duration::from_secs(5), "the other jobs are dropped", || {
        Tracker::get(&tracker.dropped) == Tracker::get(&tracker.started)
    })
    .await;
    assert_eq!(Tracker::get(&tracker.finished), 0);
    assert_eq!(pool.semaphore().available_permits(), 4);
}

/// A panicking inline task panics the caller; the others are dropped, no permit leaks.
pub fn pool_inline_task_panic_reaches_caller<R: BlockOn>() {
    R::block_on(task_panic::<R>(false));
}

/// A panicking spawned task panics the caller; the others are stopped, no permit leaks.
pub fn pool_spawned_task_panic_reaches_caller<R: BlockOn>() {
    R::block_on(task_panic::<R>(true));
}

/// Pools sharing a semaphore are bounded together.
pub fn pool_shared_semaphore_bounds_all_pools<R: BlockOn>() {
    R::block_on(async {
        let tracker = Arc::new(Tracker::default());
        let shared = Arc::new(crate::Semaphore::<R>::new(3));
        let a = TaskPool::<R>::with_semaphore(Arc::clone(&shared));
        let b = TaskPool::<R>::with_semaphore(Arc::clone(&shared));
        let jobs_a = (0..30).map(|i| tracker.job::<R, _>(jitter(i) + MS, Ok::<_, ()>(i)));
        let jobs_b = (0..30).map(|i| tracker.job::<R, _>(jitter(i) + MS, Ok::<_, ()>(i)));
        let (ra, rb) = future::zip(a.gather(jobs_a), b.spawn_gather(jobs_b)).await;
        assert_eq!(ra.unwrap().len(), 30);
        assert_eq!(rb.unwrap().len(), 30);
        assert!(Tracker::get(&tracker.most_running) <= 3);
        assert_eq!(shared.available_permits(), 3);
    });
}

/// A pool on the adapters' semaphore type, `Semaphore<R>`, shares it with code that acquires
/// from it directly (plain, owned, timed): all are bounded together, and every permit comes
/// back.
pub fn pool_shares_runtime_semaphore_with_direct_acquires<R: BlockOn>() {
    R::block_on(async {
        let sem = Arc::new(crate::Semaphore::<R>::new(3));
        let pool = TaskPool::<R>::with_semaphore(Arc::clone(&sem));
        assert!(Arc::ptr_eq(pool.semaphore(), &sem));

        // Direct holders keep two of the three permits: the pool runs one job at a time.
        let held = sem.acquire_many(2).await.unwrap();
        let tracker = Arc::new(Tracker::default());
        let outputs = pool
            .gather((0..6).map(|i| tracker.job::<R, _>(MS, i)))
            .await
            .unwrap();
        assert_eq!(outputs, [0, 1, 2, 3, 4, 5]);
        assert_eq!(Tracker::get(&tracker.most_running), 1);
        drop(held);

        // While the pool's jobs hold every permit, a timed direct acquire times out and
        // leaves the semaphore as it was.
        let gate = Arc::new(Gate::default());
        let gated = (0..3).map(|i| {
            let gate = Arc::clone(&gate);
            async move {
                gate.wait().await;
                i
            }
        });
        let probe = async {
            eventually::<R>(
                Duration::from_secs(5),
                "the pool holds every permit",
                || sem.available_permits() == 0,
            )
            .await;
            let late = sem.acquire_timeout(MS).await;
            assert_eq!(late.unwrap_err(), AcquireTimeoutError::Timeout);
            assert_eq!(sem.waiter_count(), 0);
            gate.open();
        };
        let (outputs, ()) = future::zip(pool.spawn_gather(gated), probe).await;
        assert_eq!(outputs.unwrap(), [0, 1, 2]);

        // Pool jobs (inline and spawned) and directly acquired owned permits, all at once,
        // counted together: never more than three.
        let tracker = Arc::new(Tracker::default());
        // Direct owned acquires in spawned tasks.
        let direct: Vec<_> = (0..6)
            .map(|i| {
                let (sem, job) = (Arc::clone(&sem), tracker.job::<R, _>(jitter(i) + MS, ()));
                R::spawn(async move {
                    // The timed spelling: `acquire_owned` is `R::Cooperative<_>`, which generic
                    // code cannot prove `Send`.
                    let permit = sem
                        .acquire_owned_timeout(Duration::from_secs(10))
                        .await
                        .unwrap();
                    job.await;
                    drop(permit);
                })
            })
            .collect();
        let inline = pool.gather((0..12).map(|i| tracker.job::<R, _>(jitter(i) + MS, i)));
        let spawned = pool.spawn_gather((0..12).map(|i| tracker.job::<R, _>(jitter(i) + MS, i)));
        let (inline, spawned) = future::zip(inline, spawned).await;
        for task in direct {
            task.await;
        }
        assert_eq!(inline.unwrap().len(), 12);
        assert_eq!(spawned.unwrap().len(), 12);
        assert_eq!(Tracker::get(&tracker.finished), 30);
        assert!(Tracker::get(&tracker.most_running) <= 3);
        assert_eq!(sem.available_permits(), 3);
        assert_eq!(sem.waiter_count(), 0);
    });
}

/// Closing the pool's semaphore stops admission; the operation reports it.
pub fn pool_closed_semaphore_stops_admission<R: BlockOn>() {
    R::block_on(async {
        let tracker = Arc::new(Tracker::default());
        let sem = Arc::new(crate::Semaphore::<R>::new(2));
        let pool = TaskPool::<R>::with_semaphore(Arc::clone(&sem));
        let jobs = (0..50).map(|i| tracker.job::<R, _>(2 * MS, Ok::<_, ()>(i)));
        let closer = async {
            R::sleep(5 * MS).await;
            sem.close();
        };
        let (result, ()) = future::zip(pool.gather(jobs), closer).await;
        assert_eq!(result.unwrap_err().error, PoolError::Closed);
        assert!(Tracker::get(&tracker.started) < 50);
        assert_eq!(
            Tracker::get(&tracker.started),
            Tracker::get(&tracker.finished)
        );
        assert_eq!(sem.available_permits(), 2);
    });
}

/// Inline mode needs neither `'static` nor `Send`: futures may borrow locals and hold `Rc`s.
pub fn pool_inline_accepts_borrowing_non_send_futures<R: BlockOn>() {
    R::block_on(async {
        let words = ["a".to_string(), "bb".to_string(), "ccc".to_string()];
        let shared = Rc::new(10);
        let pool = TaskPool::<R>::new(2).unwrap();
        let jobs = words.iter().map(|word| {
            let shared = Rc::clone(&shared);
            async move {
                future::yield_now().await;
                Ok::<_, ()>(word.len() + *shared)
            }
        });
        assert_eq!(pool.try_gather(jobs).await.unwrap(), [11, 12, 13]);
    });
}

/// `gather` takes jobs of any output type (plain `u32` here) and returns them in input order,
/// inline and spawned.
pub fn pool_gather_accepts_any_output<R: BlockOn>() {
    R::block_on(async {
        let tracker = Arc::new(Tracker::default());
        let pool = TaskPool::<R>::new(4).unwrap();
        let expected: Vec<u32> = (0..60).map(|i| i * 3).collect();
        let jobs = (0..60u32).map(|i| tracker.job::<R, _>(jitter(i as usize), i * 3));
        assert_eq!(pool.gather(jobs).await.unwrap(), expected);
        let jobs = (0..60u32).map(|i| tracker.job::<R, _>(jitter(i as usize), i * 3));
        assert_eq!(pool.spawn_gather(jobs).await.unwrap(), expected);
        assert!(Tracker::get(&tracker.most_running) <= 4);
        assert_eq!(pool.semaphore().available_permits(), 4);
    });
}

/// Jobs taken from a stream that produces them over time start while the stream is still
/// producing, stay within the bound, and come back in input order.
pub fn pool_gather_takes_jobs_from_a_stream<R: BlockOn>() {
    R::block_on(async {
        for spawned in [false, true] {
            let tracker = Arc::new(Tracker::default());
            let produced = Arc::new(AtomicUsize::new(0));
            // One job per millisecond; each runs for 3 ms.
            let arrivals = futures_lite::stream::unfold(0usize, |i| {
                let (tracker, produced) = (Arc::clone(&tracker), Arc::clone(&produced));
                async move {
                    if i == 30 {
                        return None;
                    }
                    R::sleep(MS).await;
                    produced.fetch_add(1, SeqCst);
                    Some((tracker.job::<R, _>(3 * MS, i), i + 1))
                }
            });
            let started_early = Arc::new(AtomicUsize::new(0));
            let watched = arrivals.map({
                let (tracker, produced, early) = (
                    Arc::clone(&tracker),
                    Arc::clone(&produced),
                    Arc::clone(&started_early),
                );
                move |job| {
                    // A job started before the stream produced its last job.
                    if Tracker::get(&tracker.started) > 0 && produced.load(SeqCst) < 30 {
                        early.store(1, SeqCst);
                    }
                    job
                }
            });
            let pool = TaskPool::<R>::new(4).unwrap();
            let jobs = JobStream::new(watched);
            let outputs = if spawned {
                pool.spawn_gather(jobs).await.unwrap()
            } else {
                pool.gather(jobs).await.unwrap()
            };
            assert_eq!(outputs, (0..30).collect::<Vec<_>>());
            assert_eq!(started_early.load(SeqCst), 1, "jobs ran while more arrived");
            assert!(Tracker::get(&tracker.most_running) <= 4);
            assert_eq!(pool.semaphore().available_permits(), 4);
        }
        // `try_gather` fails fast on a stream too, without draining it.
        let pool = TaskPool::<R>::new(2).unwrap();
        let jobs = futures_lite::stream::iter(0..)
            .map(|i| async move { if i == 5 { Err(i) } else { Ok(i) } });
        let stopped = pool.try_gather(JobStream::new(jobs)).await.unwrap_err();
        assert_eq!(stopped.error, PoolError::Failed { index: 5, error: 5 });
        assert_eq!(
            stopped.outputs[..5],
            [Some(0), Some(1), Some(2), Some(3), Some(4)]
        );
    });
}

async fn join_set_one_by_one<R, M>(pool: &TaskPool<R>, mut set: PoolSet<future::Boxed<usize>, M>)
where
    R: Runtime,
    M: crate::pool::Mode<future::Boxed<usize>, Runtime = R>,
{
    let tracker = Arc::new(Tracker::default());
    let gates: Vec<Arc<Gate>> = (0..4).map(|_| Arc::default()).collect();
    let gated = |i: usize| {
        let (gate, job) = (
            Arc::clone(&gates[i]),
            tracker.job::<R, _>(Duration::ZERO, i),
        );
        async move {
            gate.wait().await;
            job.await
        }
        .boxed()
    };
    // Three gated jobs fill the pool; the fourth `spawn` waits for a slot.
    for i in 0..3 {
        assert_eq!(set.spawn(gated(i)).await, Ok(i));
    }
    assert_eq!(pool.semaphore().available_permits(), 0);
    {
        let mut fourth = pin!(set.spawn(gated(3)));
        assert!(
            future::poll_once(&mut fourth).await.is_none(),
            "no slot is free"
        );
        gates[1].open();
        // Job 1 finishes, its slot goes to job 3; job 1's output is kept for join_next.
        assert_eq!(fourth.await, Ok(3));
    }
    assert_eq!(set.len(), 4);
    assert_eq!(set.join_next().await, Some((1, 1)));
    // More jobs, one by one, never more than 3 at once.
    for gate in &gates {
        gate.open();
    }
    let mut outputs = Vec::new();
    for i in 4..40 {
        let job = tracker.job::<R, _>(jitter(i), i).boxed();
        assert_eq!(set.spawn(job).await, Ok(i));
        if i % 5 == 0 {
            outputs.extend(set.join_next().await);
        }
    }
    while let Some(output) = set.join_next().await {
        outputs.push(output);
    }
    assert!(set.is_empty());
    assert_eq!(set.join_next().await, None);
    outputs.sort_unstable();
    assert_eq!(
        outputs,
        (0..40)
            .filter(|&i| i != 1)
            .map(|i| (i, i))
            .collect::<Vec<_>>()
    );
    assert!(Tracker::get(&tracker.most_running) <= 3);
    assert_eq!(pool.semaphore().available_permits(), 3);

    // Dropping a set with jobs running stops them and returns every permit.
    for _ in 0..3 {
        set.spawn(tracker.job::<R, _>(Duration::from_secs(10), 0).boxed())
            .await
            .unwrap();
    }
    assert_eq!(pool.semaphore().available_permits(), 0);
    drop(set);
    eventually::<R>(Duration::from_secs(5), "every permit is back", || {
        pool.semaphore().available_permits() == 3
    })
    .await;
    eventually::<R>(Duration::from_secs(5), "every job is dropped", || {
        Tracker::get(&tracker.dropped) == Tracker::get(&tracker.started)
    })
    .await;
    assert_eq!(Tracker::get(&tracker.finished), 40);
}

/// A `PoolSet` (inline): one-by-one submission waits for a free slot, keeps the outputs
/// finished meanwhile, and returns every permit.
pub fn pool_join_set_submits_one_by_one<R: BlockOn>() {
    let pool = TaskPool::<R>::new(3).unwrap();
    R::block_on(join_set_one_by_one(&pool, pool.join_set()));
}

/// A `PoolSet` (spawned): as the inline one.
pub fn pool_spawn_join_set_submits_one_by_one<R: BlockOn>() {
    let pool = TaskPool::<R>::new(3).unwrap();
    R::block_on(async { join_set_one_by_one(&pool, pool.spawn_join_set()).await });
}

/// The pool's own acquire timeout: when no slot comes free in time, the pool stops starting
/// jobs, the running ones finish and their outputs are kept; a `PoolSet`'s `spawn` fails and
/// leaves the set usable.
pub fn pool_acquire_timeout_stops_admission<R: BlockOn>() {
    R::block_on(async {
        let tracker = Arc::new(Tracker::default());
        let pool = TaskPool::<R>::new(1).unwrap().with_acquire_timeout(20 * MS);
        let jobs = (0..5).map(|i| tracker.job::<R, _>(if i == 0 { 60 * MS } else { MS }, i));
        let start = R::now();
        let stopped = pool.gather(jobs).await.unwrap_err();
        assert_eq!(stopped.error, PoolError::AcquireTimeout(20 * MS));
        assert!(R::now() - start >= 60 * MS, "job 0 ran to the end");
        assert_eq!(stopped.outputs, [Some(0), None]);
        assert_eq!(stopped.total, Some(5));
        assert_eq!(
            stopped.to_string(),
            "no task pool slot came free within 20ms (1 of 5 jobs finished)"
        );
        assert_eq!(Tracker::get(&tracker.started), 1);
        assert_eq!(pool.semaphore().available_permits(), 1);

        // A slot comes free in time: no error.
        let jobs = (0..5).map(|i| tracker.job::<R, _>(2 * MS, i));
        assert_eq!(pool.gather(jobs).await.unwrap(), [0, 1, 2, 3, 4]);

        let mut set = pool.join_set();
        set.spawn(tracker.job::<R, _>(60 * MS, 0).boxed())
            .await
            .unwrap();
        let start = R::now();
        let second = set.spawn(tracker.job::<R, _>(MS, 1).boxed()).await;
        assert_eq!(second, Err(PoolError::AcquireTimeout(20 * MS)));
        assert!(R::now() - start >= 20 * MS);
        assert_eq!(set.len(), 1);
        assert_eq!(set.join_next().await, Some((0, 0)));
        assert_eq!(set.spawn(tracker.job::<R, _>(MS, 2).boxed()).await, Ok(1));
        assert_eq!(set.join_next().await, Some((1, 2)));
        drop(set);
        assert_eq!(pool.semaphore().available_permits(), 1);
    });
}

/// Closing the semaphore mid-`gather` keeps the outputs of every job that finished (the jobs
/// running at the time run to the end), inline and spawned.
pub fn pool_closed_mid_gather_keeps_finished_outputs<R: BlockOn>() {
    R::block_on(async {
        for spawned in [false, true] {
            let tracker = Arc::new(Tracker::default());
            let sem = Arc::new(crate::Semaphore::<R>::new(2));
            let pool = TaskPool::<R>::with_semaphore(Arc::clone(&sem));
            let jobs = (0..40).map(|i| tracker.job::<R, _>(2 * MS, i * 10));
            let closer = async {
                eventually::<R>(Duration::from_secs(5), "a few jobs finished", || {
                    Tracker::get(&tracker.finished) >= 3
                })
                .await;
                sem.close();
            };
            let (result, ()) = if spawned {
                future::zip(pool.spawn_gather(jobs).boxed(), closer).await
            } else {
                future::zip(pool.gather(jobs).boxed(), closer).await
            };
            let stopped = result.unwrap_err();
            assert_eq!(stopped.error, PoolError::Closed);
            let finished = Tracker::get(&tracker.finished);
            assert!((3..40).contains(&finished), "{finished}");
            assert_eq!(stopped.finished(), finished, "no finished output is lost");
            for (i, output) in stopped.outputs.iter().enumerate() {
                if let Some(output) = output {
                    assert_eq!(*output, i * 10);
                }
            }
            assert_eq!(
                stopped.to_string(),
                format!("the task pool's semaphore was closed ({finished} of 40 jobs finished)")
            );
            assert_eq!(
                Tracker::get(&tracker.started),
                finished,
                "started jobs finished"
            );
            assert_eq!(sem.available_permits(), 2);
        }
    });
}

/// Only the jobs that were woken are polled: 256 jobs each waiting for their own gate,
/// released one at a time (last job first), are each polled a small constant number of times
/// (a pool that polls every running job on every wake polls job i about i times).
pub fn pool_polls_only_woken_jobs<R: BlockOn>() {
    const K: usize = 256;
    R::block_on(async {
        for use_set in [false, true] {
            let gates: Vec<Arc<Gate>> = (0..K).map(|_| Arc::default()).collect();
            let polls: Arc<Vec<AtomicUsize>> =
                Arc::new((0..K).map(|_| AtomicUsize::new(0)).collect());
            let job = |i: usize| {
                let (gate, polls) = (Arc::clone(&gates[i]), Arc::clone(&polls));
                async move {
                    let mut wait = Box::pin(gate.wait());
                    std::future::poll_fn(|cx| {
                        polls[i].fetch_add(1, SeqCst);
                        wait.as_mut().poll(cx)
                    })
                    .await;
                    i
                }
            };
            let pool = TaskPool::<R>::new(K).unwrap();
            let mut order = Vec::new();
            if use_set {
                let mut set = pool.join_set();
                for i in 0..K {
                    set.spawn(job(i)).await.unwrap();
                }
                for gate in gates.iter().rev() {
                    gate.open();
                    order.extend(set.join_next().await.map(|(_, i)| i));
                }
            } else {
                let mut stream = pool.as_completed((0..K).map(job));
                // Start them all: every job is pending at its gate.
                assert!(future::poll_once(stream.next()).await.is_none());
                for gate in gates.iter().rev() {
                    gate.open();
                    order.extend(stream.next().await.map(|item| item.unwrap().1));
                }
                assert!(stream.next().await.is_none());
            }
            assert_eq!(order, (0..K).rev().collect::<Vec<_>>());
            let most = polls.iter().map(|p| p.load(SeqCst)).max().unwrap();
            assert!(most <= 4, "a job was polled {most} times (set: {use_set})");
        }
    });
}

/// A job's panic reaches the reader of `as_completed` (or `join_next`, never `spawn`) with its
/// payload, after that job's permit is given back; polling on, the other jobs still finish.
pub fn pool_job_panic_frees_its_slot<R: BlockOn>() {
    R::block_on(async {
        let pool = TaskPool::<R>::new(3).unwrap();
        let jobs = (0..8).map(|i| {
            async move {
                future::yield_now().await;
                assert_ne!(i, 3, "job 3 panicked");
                i
            }
            .boxed()
        });
        let mut stream = pool.as_completed(jobs);
        let (mut outputs, mut panics) = (Vec::new(), Vec::new());
        loop {
            match AssertUnwindSafe(stream.next()).catch_unwind().await {
                Ok(Some(item)) => outputs.push(item.unwrap().1),
                Ok(None) => break,
                Err(payload) => panics.push(panic_message(&*payload)),
            }
        }
        outputs.sort_unstable();
        assert_eq!(outputs, [0, 1, 2, 4, 5, 6, 7]);
        assert_eq!(panics.len(), 1);
        assert!(panics[0].contains("job 3 panicked"), "{panics:?}");
        assert_eq!(pool.semaphore().available_permits(), 3);

        // The same through a spawned set: the task's panic is resumed by `join_next`, even if
        // `spawn` was waiting when it happened (the fourth `spawn` waits for a slot).
        let mut set = pool.spawn_join_set();
        for i in 0..4 {
            let job = async move {
                R::sleep(MS * (i as u32 + 1)).await;
                assert_ne!(i, 1, "task 1 panicked");
                i
            };
            set.spawn(job.boxed()).await.unwrap();
        }
        R::sleep(10 * MS).await;
        let (mut outputs, mut panics) = (Vec::new(), 0);
        loop {
            match AssertUnwindSafe(set.join_next()).catch_unwind().await {
                Ok(Some((_, i))) => outputs.push(i),
                Ok(None) => break,
                Err(_) => panics += 1,
            }
        }
        outputs.sort_unstable();
        assert_eq!((outputs, panics), (vec![0, 2, 3], 1));
        assert_eq!(pool.semaphore().available_permits(), 3);
    });
}

// ---------------------------------------------------------------------------------------------
// Rate limiting.

/// 2,000 acquisitions at 20,000/s (burst 100): never faster than the configured rate on the
/// runtime's clock (exactly, at every grant), and not much slower over the run.
pub fn rate_long_run_matches_configured_rate<R: BlockOn>() {
    R::block_on(async {
        const N: u64 = 2_000;
        const RATE: u64 = 20_000;
        const BURST: u64 = 100;
        let limit = RateLimiter::<R>::new(Gcra::new(RATE, Duration::from_secs(1)).with_burst(100));
        let start = R::now();
        let interval_ns = 1_000_000_000 / RATE;
        for granted in 1..=N {
            limit.acquire().await;
            // `start` is no later than the limiter's origin, so this can only be generous
            // by the time between the two clock reads.
            let elapsed = (R::now() - start).as_nanos() as u64;
            assert!(
                granted <= BURST + elapsed / interval_ns + 1,
                "{granted} grants after {elapsed} ns is faster than {RATE}/s"
            );
        }
        let elapsed = R::now() - start;
        let ideal = Duration::from_nanos((N - BURST) * interval_ns);
        assert!(elapsed >= ideal, "{elapsed:?} < {ideal:?}");
        // Late timers only delay single grants; the burst absorbs them, so the run is close to
        // ideal (about 100 ms when idle). The margin is wide for overloaded CI machines, yet
        // catches the failure that matters: a rate collapsing to one grant per timer tick
        // (1,000/s on tokio: 2 s for this run).
        assert!(
            elapsed <= ideal * 3 + 250 * MS,
            "{elapsed:?} is far slower than the ideal {ideal:?}"
        );
    });
}

/// 1,000 acquisitions at 5,000/s with burst 1, each caller waiting: the interval (200 µs) is
/// shorter than tokio's 1 ms timer tick, yet the run keeps the schedule. Never faster than
/// the rate allows (`count + burst` in a window), and not a timer tick per grant slower.
pub fn rate_burst_one_keeps_the_schedule<R: BlockOn>() {
    R::block_on(async {
        const N: u64 = 1_000;
        const RATE: u64 = 5_000;
        let limit = RateLimiter::<R>::per(RATE, Duration::from_secs(1)).unwrap();
        let interval_ns = 1_000_000_000 / RATE;
        let start = R::now();
        for granted in 1..=N {
            limit.acquire().await;
            let elapsed = (R::now() - start).as_nanos() as u64;
            // Burst 1, plus the one grant catching up after a late wake-up may cost.
            assert!(
                granted <= 2 + elapsed / interval_ns,
                "{granted} grants after {elapsed} ns is faster than {RATE}/s"
            );
        }
        let elapsed = R::now() - start;
        let ideal = Duration::from_nanos((N - 1) * interval_ns);
        // Charging each late wake-up to the schedule makes this run take a timer tick per
        // grant on tokio (1 s); exact, it takes 200 ms. Wide margin for loaded machines.
        assert!(
            elapsed <= ideal * 2 + 250 * MS,
            "{elapsed:?} is far slower than the ideal {ideal:?}"
        );
    });
}

/// Bad configurations are errors at construction, not panics or limiters that never grant.
pub fn rate_bad_input_is_an_error<R: BlockOn>() {
    assert_eq!(
        RateLimiter::<R>::per(0, Duration::from_secs(1)).unwrap_err(),
        InvalidRate::ZeroCount
    );
    assert_eq!(
        RateLimiter::<R>::per(1, Duration::ZERO).unwrap_err(),
        InvalidRate::ZeroPeriod
    );
}

/// A request for `n` costs `n` intervals.
pub fn rate_weighted_requests_cost_their_weight<R: BlockOn>() {
    R::block_on(async {
        // 1,000/s, burst 10: 10 at once, then 4 + 4 + 4 + 4 more cost 16 ms.
        let limit = RateLimiter::<R>::new(Gcra::new(1_000, Duration::from_secs(1)).with_burst(10));
        let start = R::now();
        limit.acquire_many(10).await.unwrap();
        assert!(R::now() - start < 50 * MS, "the burst is granted at once");
        for _ in 0..4 {
            limit.acquire_many(4).await.unwrap();
        }
        let elapsed = R::now() - start;
        assert!(elapsed >= 16 * MS, "{elapsed:?}");
        assert!(
            elapsed < 16 * MS + Duration::from_millis(200),
            "{elapsed:?}"
        );
        assert_eq!(limit.acquire_many(0).await, Ok(()));
    });
}

/// Requests above the burst fail at once, waiting or not.
pub fn rate_too_large_fails_at_once<R: BlockOn>() {
    R::block_on(async {
        let limit = RateLimiter::<R>::new(Gcra::new(1, Duration::from_secs(3600)).with_burst(3));
        let too_large = limit.acquire_many(4).await.unwrap_err();
        assert_eq!((too_large.requested(), too_large.burst()), (4, 3));
        assert!(too_large.to_string().contains("burst is 3"), "{too_large}");
        assert_eq!(
            limit.try_acquire_many(4),
            Err(TryRateError::BurstExceeded(too_large))
        );
        // Nothing was taken by the refused requests.
        assert_eq!(limit.try_acquire_many(3), Ok(()));
        assert_eq!(limit.try_acquire(), Err(TryRateError::Limited));
    });
}

/// Waiters are served in arrival order, a heavy one ahead of lighter ones behind it.
pub fn rate_is_fifo_fair<R: BlockOn>() {
    R::block_on(async {
        let limit = RateLimiter::<R>::new(Gcra::new(1_000, Duration::from_secs(1)).with_burst(4));
        limit.acquire_many(4).await.unwrap(); // drained
        let order = Mutex::new(Vec::new());
        let waiter = |name: &'static str, n: usize| {
            let limit = &limit;
            let order = &order;
            async move {
                limit.acquire_many(n).await.unwrap();
                order.lock().unwrap().push(name);
            }
        };
        // Polled in this order, so they queue in this order; "light" alone could go first.
        future::zip(
            future::zip(waiter("heavy", 4), waiter("light", 1)),
            waiter("last", 1),
        )
        .await;
        assert_eq!(*order.lock().unwrap(), ["heavy", "light", "last"]);
    });
}

/// A waiter dropped while waiting (queued or sleeping at the head) takes nothing.
pub fn rate_cancelled_waiter_takes_nothing<R: BlockOn>() {
    R::block_on(async {
        let limit = RateLimiter::<R>::new(Gcra::new(100, Duration::from_secs(1)));
        limit.acquire().await;
        let state = limit.limit();
        {
            let mut head = pin!(limit.acquire());
            let mut queued = pin!(limit.acquire());
            assert!(future::poll_once(&mut head).await.is_none());
            assert!(future::poll_once(&mut queued).await.is_none());
            assert_eq!(limit.waiter_count(), 1);
        }
        assert_eq!(limit.waiter_count(), 0);
        assert_eq!(limit.limit(), state, "the limiter's state is untouched");
        // Nothing was taken: the next grant comes one interval (10 ms) after the first.
        let start = R::now();
        limit.acquire().await;
        assert!(R::now() - start <= 10 * MS + Duration::from_millis(200));
        // And a third is another interval later, not earlier.
        let before = R::now();
        limit.acquire().await;
        assert!(R::now() - before >= 9 * MS);
    });
}

/// `try_acquire` does not overtake a queued waiter.
pub fn rate_try_acquire_does_not_overtake<R: BlockOn>() {
    R::block_on(async {
        let limit = RateLimiter::<R>::new(Gcra::new(20, Duration::from_secs(1)).with_burst(2));
        limit.acquire().await;
        // One acquisition is left, but a waiter for two is at the head (for about 50 ms).
        let mut waiting = pin!(limit.acquire_many(2));
        assert!(future::poll_once(&mut waiting).await.is_none());
        assert_eq!(limit.try_acquire(), Err(TryRateError::Limited));
        waiting.await.unwrap();
        assert_eq!(limit.try_acquire(), Err(TryRateError::Limited));
    });
}
