//! `TaskPool` on the runtime, inline (jobs polled by the caller) and spawned (jobs as
//! tasks): order, the bound, failures, progress, stopping early, panics, sharing a semaphore,
//! streams of jobs and one-by-one submission.
//!
//! Most cases run the same checks in both modes (`for spawned in [false, true]`); the jobs
//! are counted by a `Tracker` and held back by `Gate`s.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use admit_runtime::{
    AcquireTimeoutError, Incomplete, Inline, IntoJobs, JobStream, PoolError, PoolSet, Progress,
    Runtime, Semaphore, Spawned, TaskPool, ZeroLimitError,
};
use futures_lite::future::{self, FutureExt};
use futures_lite::{Stream, StreamExt};

use crate::harness::{
    Gate, MS, PROMPTLY, Tracker, at_rest, eventually, jitter, lock, panic_message, within,
};
use crate::{CaseResult, Failure, Options};

/// The name of a pool mode in messages.
fn mode(spawned: bool) -> &'static str {
    if spawned { "spawned" } else { "inline" }
}

/// `gather` (inline) or `spawn_gather` (spawned) of `jobs` on `pool`.
async fn gather_in<R: Runtime, J>(
    pool: &TaskPool<R>,
    jobs: J,
    spawned: bool,
) -> Result<Vec<J::Output>, Incomplete<J::Output>>
where
    J: IntoJobs,
    J::Job: Send + 'static,
    J::Output: Send + 'static,
{
    if spawned {
        pool.spawn_gather(jobs).await
    } else {
        pool.gather(jobs).await
    }
}

/// [`gather_in`], within [`PROMPTLY`]; a pool error is a failure.
async fn gather_all<R: Runtime, J>(
    pool: &TaskPool<R>,
    jobs: J,
    spawned: bool,
) -> Result<Vec<J::Output>, Failure>
where
    J: IntoJobs,
    J::Job: Send + 'static,
    J::Output: Send + 'static,
{
    let what = format!("{} gather returns", mode(spawned));
    within::<R, _>(PROMPTLY, &what, gather_in(pool, jobs, spawned))
        .await?
        .map_err(|e| Failure::new(format!("{} gather failed: {e}", mode(spawned))))
}

/// A limit of zero is an error, not a hang: from `TaskPool::new`, and from every operation
/// of a pool on a semaphore without capacity. Nothing to run is fine.
pub(super) async fn zero_limit_is_an_error<R: Runtime>(_: Options) -> CaseResult {
    let zero = TaskPool::<R>::new(0).err();
    ensure!(
        zero == Some(ZeroLimitError),
        "TaskPool::new(0) did not fail"
    );
    let pool = TaskPool::<R>::with_semaphore(Arc::new(Semaphore::new(0)));
    let gathered = within::<R, _>(
        PROMPTLY,
        "gather fails",
        pool.gather((0..3).map(|_| async {})),
    )
    .await?
    .err()
    .map(|stopped| stopped.error);
    ensure!(
        gathered == Some(PoolError::ZeroLimit),
        "gather on a semaphore of capacity 0 gave {gathered:?}"
    );
    let jobs = (0..3).map(|_| async { Ok::<_, ()>(()) });
    let spawned = within::<R, _>(
        PROMPTLY,
        "try_spawn_gather fails",
        pool.try_spawn_gather(jobs),
    )
    .await?
    .err()
    .map(|stopped| stopped.error);
    ensure!(
        spawned == Some(PoolError::ZeroLimit),
        "try_spawn_gather on a semaphore of capacity 0 gave {spawned:?}"
    );
    let mut set = pool.join_set();
    let submitted = within::<R, _>(PROMPTLY, "PoolSet::spawn fails", set.spawn(async {})).await?;
    ensure!(
        submitted == Err(PoolError::ZeroLimit) && set.is_empty(),
        "PoolSet::spawn on a semaphore of capacity 0 gave {submitted:?} ({} jobs in the set)",
        set.len()
    );
    let nothing = within::<R, _>(
        PROMPTLY,
        "gather of no jobs returns",
        pool.gather(Vec::<future::Ready<()>>::new()),
    )
    .await?;
    ensure!(
        nothing.as_ref().is_ok_and(Vec::is_empty),
        "gather of no jobs gave {nothing:?}"
    );
    Ok(())
}

/// `gather` and `spawn_gather` return every output (of any type: plain `u32` here) in input
/// order, with more than one and at most K jobs running at once, and give back every permit.
pub(super) async fn gather_keeps_input_order_and_bound<R: Runtime>(_: Options) -> CaseResult {
    const JOBS: usize = 120;
    const LIMIT: usize = 6;
    let expected: Vec<u32> = (0..JOBS as u32).map(|i| i * 3).collect();
    for spawned in [false, true] {
        let tracker = Arc::new(Tracker::default());
        let pool = TaskPool::<R>::new(LIMIT).expect("non-zero");
        let jobs = (0..JOBS).map(|i| tracker.job::<R, _>(jitter(i), i as u32 * 3));
        let outputs = gather_all(&pool, jobs, spawned).await?;
        ensure!(
            outputs == expected,
            "{} gather returned {outputs:?}",
            mode(spawned)
        );
        let most = Tracker::get(&tracker.most_running);
        ensure!(
            most <= LIMIT,
            "{} gather ran {most} jobs at once, limit {LIMIT}",
            mode(spawned)
        );
        ensure!(
            most > 1,
            "{} gather never ran two jobs at once",
            mode(spawned)
        );
        let finished = Tracker::get(&tracker.finished);
        ensure!(
            finished == JOBS,
            "{} gather returned with {finished} of {JOBS} jobs finished",
            mode(spawned)
        );
        at_rest(pool.semaphore().as_core(), LIMIT)?;
    }
    Ok(())
}

/// `gather` runs every job and returns every failure in its place, inline and spawned.
pub(super) async fn gather_collects_all_failures<R: Runtime>(_: Options) -> CaseResult {
    let result = |i: usize| if i % 5 == 0 { Err(i) } else { Ok(i) };
    let expected: Vec<_> = (0..20).map(result).collect();
    for spawned in [false, true] {
        let pool = TaskPool::<R>::new(3).expect("non-zero");
        let jobs = (0..20).map(|i| async move {
            R::sleep(jitter(i)).await;
            result(i)
        });
        let outputs = gather_all(&pool, jobs, spawned).await?;
        ensure!(
            outputs == expected,
            "{} gather of jobs failing at every fifth returned {outputs:?}",
            mode(spawned)
        );
        at_rest(pool.semaphore().as_core(), 3)?;
    }
    Ok(())
}

/// Receives every item of `stream`, opening the gate of job `i - 1` once job `i` has been
/// received (the last job's gate first): the order in which the items came.
async fn receive_in_gate_order<R, S>(
    mut stream: S,
    gates: &[Arc<Gate>],
) -> Result<Vec<usize>, Failure>
where
    R: Runtime,
    S: Stream<Item = Result<(usize, usize), PoolError>> + Unpin,
{
    let mut order = Vec::new();
    gates[gates.len() - 1].open();
    while let Some(item) = within::<R, _>(PROMPTLY, "the next job completes", stream.next()).await?
    {
        let (index, output) = item.map_err(|e| Failure::new(format!("the pool failed: {e}")))?;
        ensure!(output == index * 10, "job {index} returned {output}");
        order.push(index);
        if let Some(previous) = index.checked_sub(1) {
            gates[previous].open();
        }
    }
    Ok(order)
}

/// `as_completed` and `spawn_as_completed` yield outputs in completion order, with their
/// input index.
pub(super) async fn as_completed_yields_completion_order<R: Runtime>(_: Options) -> CaseResult {
    const JOBS: usize = 5;
    for spawned in [false, true] {
        // All five run at once; each finishes when its gate opens, and the gates open one at
        // a time, last job first, each after the previous output was received. So the
        // completion order is 4, 3, 2, 1, 0 whatever the scheduling.
        let gates: Vec<Arc<Gate>> = (0..JOBS).map(|_| Arc::default()).collect();
        let pool = TaskPool::<R>::new(JOBS).expect("non-zero");
        let jobs: Vec<_> = (0..JOBS)
            .map(|i| {
                let gate = Arc::clone(&gates[i]);
                async move {
                    gate.wait().await;
                    i * 10
                }
            })
            .collect();
        let order = if spawned {
            receive_in_gate_order::<R, _>(pool.spawn_as_completed(jobs), &gates).await?
        } else {
            receive_in_gate_order::<R, _>(pool.as_completed(jobs), &gates).await?
        };
        ensure!(
            order == [4, 3, 2, 1, 0],
            "{} as_completed gave the completion order {order:?}, expected [4, 3, 2, 1, 0]",
            mode(spawned)
        );
        at_rest(pool.semaphore().as_core(), JOBS)?;
    }
    Ok(())
}

/// `try_gather` and `try_spawn_gather` fail fast: the first error comes back at once, the
/// other jobs are dropped unfinished (none started beyond the first K) and every permit
/// comes back.
pub(super) async fn try_gather_fails_fast<R: Runtime>(_: Options) -> CaseResult {
    for spawned in [false, true] {
        let tracker = Arc::new(Tracker::default());
        let pool = TaskPool::<R>::new(4).expect("non-zero");
        let jobs = (0..50).map(|i| {
            if i == 2 {
                tracker.job::<R, _>(2 * MS, Err(format!("job {i} failed")))
            } else {
                tracker.job::<R, _>(Duration::from_secs(30), Ok(i))
            }
        });
        let result = if spawned {
            within::<R, _>(
                PROMPTLY,
                "try_spawn_gather fails",
                pool.try_spawn_gather(jobs),
            )
            .await?
        } else {
            within::<R, _>(PROMPTLY, "try_gather fails", pool.try_gather(jobs)).await?
        };
        let expected = PoolError::Failed {
            index: 2,
            error: "job 2 failed".to_owned(),
        };
        ensure!(
            result.as_ref().err().map(|stopped| &stopped.error) == Some(&expected),
            "{} try_gather returned {result:?}",
            mode(spawned)
        );
        // A stopped task drops its job, then its permit: both come back soon, not at once.
        eventually::<R>(
            PROMPTLY,
            "the other jobs are dropped, their permits back",
            || tracker.all_dropped() && pool.semaphore().available_permits() == 4,
        )
        .await?;
        let (started, finished) = (
            Tracker::get(&tracker.started),
            Tracker::get(&tracker.finished),
        );
        ensure!(
            (started, finished) == (4, 1),
            "{} try_gather: {started} jobs started and {finished} finished, expected the first \
             4 and the failing one",
            mode(spawned)
        );
        at_rest(pool.semaphore().as_core(), 4)?;
    }
    Ok(())
}

/// The progress hook sees every start and finish, never more than K in flight, the total,
/// and the final tally, inline and spawned.
pub(super) async fn progress_hook_reports_everything<R: Runtime>(_: Options) -> CaseResult {
    for spawned in [false, true] {
        let seen = Arc::new(Mutex::new(Vec::<Progress>::new()));
        let pool = TaskPool::<R>::new(4).expect("non-zero").on_progress({
            let seen = Arc::clone(&seen);
            move |p| lock(&seen).push(p)
        });
        let jobs = (0..30).map(|i| async move {
            R::sleep(jitter(i)).await;
            if i % 3 == 0 { Err(i) } else { Ok(i) }
        });
        let what = format!("{} gather returns", mode(spawned));
        let gathered = within::<R, _>(PROMPTLY, &what, gather_in(&pool, jobs, spawned)).await?;
        ensure!(gathered.is_ok(), "the pool failed: {gathered:?}");
        let seen = lock(&seen);
        ensure!(
            seen.len() == 60,
            "{} progress reports for 30 jobs, expected 60 ({})",
            seen.len(),
            mode(spawned)
        );
        ensure!(
            seen.iter().all(|p| p.in_flight <= 4 && p.total == Some(30)),
            "a report with more than 4 in flight or a wrong total: {seen:?}"
        );
        ensure!(
            seen.windows(2).all(|w| w[0].finished <= w[1].finished),
            "the finished count went backwards: {seen:?}"
        );
        let last = seen.last().copied().unwrap_or_default();
        ensure!(
            (last.finished, last.in_flight) == (30, 0),
            "last report {last:?}, expected 30 finished, 0 in flight"
        );
    }
    Ok(())
}

/// Dropping an `as_completed` stream half-way drops every started job (inline) or stops
/// every task (spawned), returns every permit, and nothing more starts or finishes.
pub(super) async fn dropped_halfway_stops_everything<R: Runtime>(_: Options) -> CaseResult {
    for spawned in [false, true] {
        let tracker = Arc::new(Tracker::default());
        let pool = TaskPool::<R>::new(6).expect("non-zero");
        let jobs: Vec<_> = (0..100)
            .map(|i| tracker.job::<R, _>(2 * MS + jitter(i), i))
            .collect();
        let take_ten = async {
            let mut received = Vec::new();
            if spawned {
                let mut stream = pool.spawn_as_completed(jobs);
                while received.len() < 10 {
                    received.extend(stream.next().await);
                }
            } else {
                let mut stream = pool.as_completed(jobs);
                while received.len() < 10 {
                    received.extend(stream.next().await);
                }
            }
            received
        };
        let received = within::<R, _>(PROMPTLY, "ten jobs complete", take_ten).await?;
        ensure!(
            received.iter().all(Result::is_ok),
            "{} as_completed yielded {received:?}",
            mode(spawned)
        );
        // The stream is dropped: everything started is dropped, every permit comes back...
        eventually::<R>(
            PROMPTLY,
            "every started job is dropped, its permit back",
            || tracker.all_dropped() && pool.semaphore().available_permits() == 6,
        )
        .await?;
        at_rest(pool.semaphore().as_core(), 6)?;
        // ... and nothing keeps running or starts.
        let started = Tracker::get(&tracker.started);
        let finished = Tracker::get(&tracker.finished);
        ensure!(
            started < 100,
            "all 100 jobs started although the stream was dropped after 10 ({})",
            mode(spawned)
        );
        R::sleep(20 * MS).await;
        let later = (
            Tracker::get(&tracker.started),
            Tracker::get(&tracker.finished),
        );
        ensure!(
            later == (started, finished),
            "after the stream was dropped, jobs went on: started/finished {started}/{finished} \
             became {}/{} ({})",
            later.0,
            later.1,
            mode(spawned)
        );
    }
    Ok(())
}

/// A job's panic reaches the caller of `gather` or `spawn_gather` with its payload; the
/// other jobs are dropped unfinished and no permit leaks.
pub(super) async fn task_panic_reaches_caller<R: Runtime>(_: Options) -> CaseResult {
    for spawned in [false, true] {
        let tracker = Arc::new(Tracker::default());
        let pool = TaskPool::<R>::new(4).expect("non-zero");
        let jobs: Vec<_> = (0..20)
            .map(|i| {
                let job = tracker.job::<R, _>(Duration::from_secs(30), i);
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
        let run = gather_in(&pool, jobs, spawned);
        let outcome = within::<R, _>(
            PROMPTLY,
            "the panic reaches the caller",
            AssertUnwindSafe(run).catch_unwind(),
        )
        .await?;
        let Err(payload) = outcome else {
            return Err(Failure::new(format!(
                "{} gather returned although a job panicked",
                mode(spawned)
            )));
        };
        let message = panic_message(&*payload);
        ensure!(
            message == "job 1 panicked",
            "{} gather's caller got the panic {message:?}",
            mode(spawned)
        );
        // A stopped task drops its job, then its permit: both come back soon, not at once.
        eventually::<R>(
            PROMPTLY,
            "the other jobs are dropped, their permits back",
            || tracker.all_dropped() && pool.semaphore().available_permits() == 4,
        )
        .await?;
        let finished = Tracker::get(&tracker.finished);
        ensure!(
            finished == 0,
            "{finished} jobs finished after one panicked ({})",
            mode(spawned)
        );
        at_rest(pool.semaphore().as_core(), 4)?;
    }
    Ok(())
}

/// A job's panic reaches the reader of `as_completed` (or of a spawned set's `join_next`,
/// never its `spawn`) with its payload, after that job's permit is given back; reading on,
/// the other jobs still finish.
pub(super) async fn job_panic_frees_its_slot<R: Runtime>(_: Options) -> CaseResult {
    let pool = TaskPool::<R>::new(3).expect("non-zero");
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
        let next = AssertUnwindSafe(stream.next()).catch_unwind();
        match within::<R, _>(PROMPTLY, "the next job completes", next).await? {
            Ok(Some(Ok((_, output)))) => outputs.push(output),
            Ok(Some(Err(e))) => return Err(Failure::new(format!("as_completed failed: {e}"))),
            Ok(None) => break,
            Err(payload) => panics.push(panic_message(&*payload)),
        }
    }
    outputs.sort_unstable();
    ensure!(
        outputs == [0, 1, 2, 4, 5, 6, 7],
        "as_completed yielded {outputs:?} around the panicking job 3"
    );
    ensure!(
        panics.len() == 1 && panics[0].contains("job 3 panicked"),
        "the reader saw the panics {panics:?}"
    );
    at_rest(pool.semaphore().as_core(), 3)?;

    // A spawned set: the fourth `spawn` waits for a slot while task 1 panics; the panic is
    // resumed by `join_next`, not by that `spawn`.
    let mut set = pool.spawn_join_set();
    for i in 0..4u32 {
        let job = async move {
            R::sleep(MS * (i + 1)).await;
            assert_ne!(i, 1, "task 1 panicked");
            i
        };
        let spawn = AssertUnwindSafe(set.spawn(job.boxed())).catch_unwind();
        match within::<R, _>(PROMPTLY, "PoolSet::spawn returns", spawn).await? {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(Failure::new(format!("PoolSet::spawn failed: {e}"))),
            Err(payload) => {
                return Err(Failure::new(format!(
                    "PoolSet::spawn resumed a job's panic: {}",
                    panic_message(&*payload)
                )));
            }
        }
    }
    R::sleep(10 * MS).await;
    let (mut outputs, mut panics) = (Vec::new(), 0);
    loop {
        let next = AssertUnwindSafe(set.join_next()).catch_unwind();
        match within::<R, _>(PROMPTLY, "the next task completes", next).await? {
            Ok(Some((_, i))) => outputs.push(i),
            Ok(None) => break,
            Err(_) => panics += 1,
        }
    }
    outputs.sort_unstable();
    ensure!(
        (outputs.as_slice(), panics) == ([0, 2, 3].as_slice(), 1),
        "join_next gave {outputs:?} and {panics} panics, expected [0, 2, 3] and 1"
    );
    at_rest(pool.semaphore().as_core(), 3)
}

/// Pools sharing a semaphore are bounded together (one inline, one spawned).
pub(super) async fn shared_semaphore_bounds_pools_together<R: Runtime>(_: Options) -> CaseResult {
    let tracker = Arc::new(Tracker::default());
    let shared = Arc::new(Semaphore::<R>::new(3));
    let a = TaskPool::<R>::with_semaphore(Arc::clone(&shared));
    let b = TaskPool::<R>::with_semaphore(Arc::clone(&shared));
    let jobs_a = (0..30).map(|i| tracker.job::<R, _>(jitter(i) + MS, i));
    let jobs_b = (0..30).map(|i| tracker.job::<R, _>(jitter(i) + MS, i));
    let both = future::zip(a.gather(jobs_a), b.spawn_gather(jobs_b));
    let (ra, rb) = within::<R, _>(PROMPTLY, "both pools finish", both).await?;
    let lengths = (
        ra.map(|o| o.len()).map_err(|e| e.to_string()),
        rb.map(|o| o.len()).map_err(|e| e.to_string()),
    );
    ensure!(
        lengths == (Ok(30), Ok(30)),
        "the two pools returned {lengths:?}"
    );
    let most = Tracker::get(&tracker.most_running);
    ensure!(
        most <= 3,
        "{most} jobs ran at once in two pools sharing 3 permits"
    );
    at_rest(shared.as_core(), 3)
}

/// A pool on a `Semaphore<R>` shares it with code that acquires from it directly (plain,
/// owned, timed): all are bounded together, and every permit comes back.
pub(super) async fn shares_semaphore_with_direct_acquires<R: Runtime>(_: Options) -> CaseResult {
    let sem = Arc::new(Semaphore::<R>::new(3));
    let pool = TaskPool::<R>::with_semaphore(Arc::clone(&sem));
    ensure!(
        Arc::ptr_eq(pool.semaphore(), &sem),
        "pool.semaphore() is not the semaphore it was given"
    );

    // Direct holders keep two of the three permits: the pool runs one job at a time.
    let held = Arc::clone(&sem).try_acquire_many_owned(2).expect("free");
    let tracker = Arc::new(Tracker::default());
    let jobs = (0..6).map(|i| tracker.job::<R, _>(MS, i));
    let outputs = within::<R, _>(PROMPTLY, "gather with 1 permit left", pool.gather(jobs))
        .await?
        .map_err(|e| Failure::new(format!("gather failed: {e}")))?;
    ensure!(outputs == [0, 1, 2, 3, 4, 5], "gather returned {outputs:?}");
    let most = Tracker::get(&tracker.most_running);
    ensure!(
        most == 1,
        "{most} jobs ran at once with 2 of 3 permits held outside the pool"
    );
    drop(held);

    // While the pool's jobs hold every permit, a timed direct acquire times out and leaves
    // the semaphore as it was.
    let gate = Arc::new(Gate::default());
    let gated = (0..3).map(|i| {
        let gate = Arc::clone(&gate);
        async move {
            gate.wait().await;
            i
        }
    });
    let probe = async {
        let full = eventually::<R>(PROMPTLY, "the pool holds every permit", || {
            sem.available_permits() == 0
        })
        .await;
        let late = sem.acquire_timeout(MS).await.map(|p| p.num_permits());
        let waiters = sem.waiter_count();
        gate.open();
        full?;
        ensure!(
            late == Err(AcquireTimeoutError::Timeout) && waiters == 0,
            "a timed acquire while the pool held every permit gave {late:?}, {waiters} left \
             waiting"
        );
        Ok(())
    };
    let (outputs, probed) = within::<R, _>(
        PROMPTLY,
        "the gated jobs finish",
        future::zip(pool.spawn_gather(gated), probe),
    )
    .await?;
    probed?;
    let outputs = outputs.map_err(|e| Failure::new(format!("spawn_gather failed: {e}")))?;
    ensure!(outputs == [0, 1, 2], "spawn_gather returned {outputs:?}");

    // Pool jobs (inline and spawned) and directly acquired owned permits in spawned tasks,
    // all at once, counted together: never more than three.
    let tracker = Arc::new(Tracker::default());
    let direct: Vec<_> = (0..6)
        .map(|i| {
            let (sem, job) = (Arc::clone(&sem), tracker.job::<R, _>(jitter(i) + MS, ()));
            R::spawn(async move {
                // The timed spelling: `acquire_owned` is `R::Cooperative<_>`, which generic
                // code cannot prove `Send`.
                let permit = sem.acquire_owned_timeout(PROMPTLY).await;
                job.await;
                permit.map(|p| p.num_permits())
            })
        })
        .collect();
    let inline = pool.gather((0..12).map(|i| tracker.job::<R, _>(jitter(i) + MS, i)));
    let spawned = pool.spawn_gather((0..12).map(|i| tracker.job::<R, _>(jitter(i) + MS, i)));
    let (inline, spawned) =
        within::<R, _>(PROMPTLY, "both pools finish", future::zip(inline, spawned)).await?;
    for task in direct {
        let got = within::<R, _>(PROMPTLY, "a direct acquirer finishes", task).await?;
        ensure!(got == Ok(1), "a direct acquire_owned_timeout gave {got:?}");
    }
    let lengths = (
        inline.map(|o| o.len()).map_err(|e| e.to_string()),
        spawned.map(|o| o.len()).map_err(|e| e.to_string()),
    );
    ensure!(
        lengths == (Ok(12), Ok(12)),
        "the inline and spawned gathers returned {lengths:?}"
    );
    let (finished, most) = (
        Tracker::get(&tracker.finished),
        Tracker::get(&tracker.most_running),
    );
    ensure!(finished == 30, "{finished} of 30 jobs finished");
    ensure!(
        most <= 3,
        "{most} jobs ran at once on a semaphore of 3 shared by pools and direct acquires"
    );
    at_rest(sem.as_core(), 3)
}

/// Closing the pool's semaphore mid-`gather` stops admission: the operation reports
/// `Closed`, the jobs running at the time run to the end, and every finished output is kept
/// in its place, inline and spawned.
pub(super) async fn closed_semaphore_stops_admission<R: Runtime>(_: Options) -> CaseResult {
    for spawned in [false, true] {
        let tracker = Arc::new(Tracker::default());
        let sem = Arc::new(Semaphore::<R>::new(2));
        let pool = TaskPool::<R>::with_semaphore(Arc::clone(&sem));
        let jobs = (0..40).map(|i| tracker.job::<R, _>(2 * MS, i * 10));
        let closer = async {
            let finished = eventually::<R>(PROMPTLY, "a few jobs finished", || {
                Tracker::get(&tracker.finished) >= 3
            })
            .await;
            sem.close();
            finished
        };
        let (result, closed) = if spawned {
            within::<R, _>(
                PROMPTLY,
                "spawn_gather stops",
                future::zip(pool.spawn_gather(jobs).boxed(), closer),
            )
            .await?
        } else {
            within::<R, _>(
                PROMPTLY,
                "gather stops",
                future::zip(pool.gather(jobs).boxed(), closer),
            )
            .await?
        };
        closed?;
        let Err(stopped) = result else {
            return Err(Failure::new(format!(
                "{} gather ran every job although its semaphore was closed",
                mode(spawned)
            )));
        };
        ensure!(
            stopped.error == PoolError::Closed,
            "{} gather on a closed semaphore stopped with {:?}",
            mode(spawned),
            stopped.error
        );
        let finished = Tracker::get(&tracker.finished);
        ensure!(
            (3..40).contains(&finished),
            "{finished} of 40 jobs finished ({})",
            mode(spawned)
        );
        ensure!(
            stopped.finished() == finished,
            "{} of {finished} finished outputs kept ({})",
            stopped.finished(),
            mode(spawned)
        );
        let misplaced: Vec<_> = stopped
            .outputs
            .iter()
            .enumerate()
            .filter(|(i, output)| output.is_some_and(|o| o != i * 10))
            .collect();
        ensure!(
            misplaced.is_empty(),
            "outputs kept out of place: {misplaced:?}"
        );
        let message = stopped.to_string();
        let expected =
            format!("the task pool's semaphore was closed ({finished} of 40 jobs finished)");
        ensure!(message == expected, "the error reads {message:?}");
        let started = Tracker::get(&tracker.started);
        ensure!(
            started == finished,
            "{started} jobs started but {finished} finished: a running job was cut short ({})",
            mode(spawned)
        );
        at_rest(sem.as_core(), 2)?;
    }
    Ok(())
}

/// The pool's own acquire timeout: when no slot comes free in time, the pool stops starting
/// jobs, the running ones finish and their outputs are kept; a `PoolSet`'s `spawn` fails and
/// leaves the set usable.
pub(super) async fn acquire_timeout_stops_admission<R: Runtime>(_: Options) -> CaseResult {
    let tracker = Arc::new(Tracker::default());
    let pool = TaskPool::<R>::new(1)
        .expect("non-zero")
        .with_acquire_timeout(20 * MS);
    let jobs = (0..5).map(|i| tracker.job::<R, _>(if i == 0 { 60 * MS } else { MS }, i));
    let start = R::now();
    let result = within::<R, _>(PROMPTLY, "gather stops", pool.gather(jobs)).await?;
    let elapsed = R::now() - start;
    let Err(stopped) = result else {
        return Err(Failure::new(
            "gather ran every job although no slot came free within the acquire timeout",
        ));
    };
    ensure!(
        stopped.error == PoolError::AcquireTimeout(20 * MS),
        "gather stopped with {:?}",
        stopped.error
    );
    ensure!(
        elapsed >= 60 * MS,
        "gather returned after {elapsed:?}, before job 0 (60 ms) ran to the end"
    );
    ensure!(
        stopped.outputs == [Some(0), None] && stopped.total == Some(5),
        "gather kept {:?} of {:?} jobs, expected [Some(0), None] of Some(5)",
        stopped.outputs,
        stopped.total
    );
    let message = stopped.to_string();
    ensure!(
        message == "no task pool slot came free within 20ms (1 of 5 jobs finished)",
        "the error reads {message:?}"
    );
    let started = Tracker::get(&tracker.started);
    ensure!(started == 1, "{started} jobs started, expected only job 0");
    at_rest(pool.semaphore().as_core(), 1)?;

    // A slot comes free in time: no error.
    let jobs = (0..5).map(|i| tracker.job::<R, _>(2 * MS, i));
    let outputs = within::<R, _>(PROMPTLY, "gather", pool.gather(jobs)).await?;
    ensure!(
        outputs.as_deref().ok() == Some(&[0, 1, 2, 3, 4][..]),
        "gather of 2 ms jobs with a 20 ms acquire timeout returned {outputs:?}"
    );

    let mut set = pool.join_set();
    let first = within::<R, _>(
        PROMPTLY,
        "spawn",
        set.spawn(tracker.job::<R, _>(60 * MS, 0).boxed()),
    )
    .await?;
    ensure!(
        first == Ok(0),
        "the first PoolSet::spawn returned {first:?}"
    );
    let start = R::now();
    let second = within::<R, _>(
        PROMPTLY,
        "spawn times out",
        set.spawn(tracker.job::<R, _>(MS, 1).boxed()),
    )
    .await?;
    let elapsed = R::now() - start;
    ensure!(
        second == Err(PoolError::AcquireTimeout(20 * MS)) && elapsed >= 20 * MS,
        "PoolSet::spawn with the only slot busy returned {second:?} after {elapsed:?}"
    );
    ensure!(set.len() == 1, "{} jobs in the set, expected 1", set.len());
    let joined = within::<R, _>(PROMPTLY, "join_next", set.join_next()).await?;
    ensure!(joined == Some((0, 0)), "join_next returned {joined:?}");
    let third = within::<R, _>(
        PROMPTLY,
        "spawn",
        set.spawn(tracker.job::<R, _>(MS, 2).boxed()),
    )
    .await?;
    let joined = within::<R, _>(PROMPTLY, "join_next", set.join_next()).await?;
    ensure!(
        third == Ok(1) && joined == Some((1, 2)),
        "after the timeout, spawn returned {third:?} and join_next {joined:?}"
    );
    drop(set);
    at_rest(pool.semaphore().as_core(), 1)
}

/// Inline mode needs neither `'static` nor `Send`: jobs may borrow locals and hold `Rc`s.
pub(super) async fn inline_accepts_borrowing_non_send_futures<R: Runtime>(
    _: Options,
) -> CaseResult {
    let words = ["a".to_owned(), "bb".to_owned(), "ccc".to_owned()];
    let shared = Rc::new(10);
    let pool = TaskPool::<R>::new(2).expect("non-zero");
    let jobs = words.iter().map(|word| {
        let shared = Rc::clone(&shared);
        async move {
            future::yield_now().await;
            Ok::<_, ()>(word.len() + *shared)
        }
    });
    let outputs = within::<R, _>(PROMPTLY, "try_gather", pool.try_gather(jobs)).await?;
    ensure!(
        outputs.as_deref().ok() == Some(&[11, 12, 13][..]),
        "try_gather of borrowing jobs returned {outputs:?}"
    );
    Ok(())
}

/// Jobs taken from a stream that produces them over time start while the stream is still
/// producing, stay within the bound and come back in input order; `try_gather` fails fast
/// on an endless stream without draining it.
pub(super) async fn gather_takes_jobs_from_a_stream<R: Runtime>(_: Options) -> CaseResult {
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
        let pool = TaskPool::<R>::new(4).expect("non-zero");
        let jobs = JobStream::new(watched);
        let outputs = gather_all(&pool, jobs, spawned).await?;
        ensure!(
            outputs == (0..30).collect::<Vec<_>>(),
            "{} gather of a stream returned {outputs:?}",
            mode(spawned)
        );
        ensure!(
            started_early.load(SeqCst) == 1,
            "no job ran while more arrived ({})",
            mode(spawned)
        );
        let most = Tracker::get(&tracker.most_running);
        ensure!(most <= 4, "{most} jobs ran at once, limit 4");
        at_rest(pool.semaphore().as_core(), 4)?;
    }
    let pool = TaskPool::<R>::new(2).expect("non-zero");
    let jobs =
        futures_lite::stream::iter(0..).map(|i| async move { if i == 5 { Err(i) } else { Ok(i) } });
    let result = within::<R, _>(
        PROMPTLY,
        "try_gather of an endless stream fails",
        pool.try_gather(JobStream::new(jobs)),
    )
    .await?;
    let Err(stopped) = result else {
        return Err(Failure::new("try_gather of an endless stream returned Ok"));
    };
    ensure!(
        stopped.error == PoolError::Failed { index: 5, error: 5 },
        "try_gather of a stream failing at job 5 stopped with {:?}",
        stopped.error
    );
    ensure!(
        stopped.outputs.get(..5) == Some(&[Some(0), Some(1), Some(2), Some(3), Some(4)][..]),
        "try_gather kept {:?} before the failure",
        stopped.outputs
    );
    Ok(())
}

/// What [`join_set_submits_one_by_one`] needs of a `PoolSet`, inline or spawned (their mode
/// trait is sealed, so generic code cannot name it).
trait JoinSet {
    async fn spawn(&mut self, job: future::Boxed<usize>) -> Result<usize, PoolError>;
    async fn join_next(&mut self) -> Option<(usize, usize)>;
    fn len(&self) -> usize;
}

impl<R: Runtime> JoinSet for PoolSet<future::Boxed<usize>, Inline<R>> {
    async fn spawn(&mut self, job: future::Boxed<usize>) -> Result<usize, PoolError> {
        PoolSet::spawn(self, job).await
    }
    async fn join_next(&mut self) -> Option<(usize, usize)> {
        PoolSet::join_next(self).await
    }
    fn len(&self) -> usize {
        PoolSet::len(self)
    }
}

impl<R: Runtime> JoinSet for PoolSet<future::Boxed<usize>, Spawned<R>> {
    async fn spawn(&mut self, job: future::Boxed<usize>) -> Result<usize, PoolError> {
        PoolSet::spawn(self, job).await
    }
    async fn join_next(&mut self) -> Option<(usize, usize)> {
        PoolSet::join_next(self).await
    }
    fn len(&self) -> usize {
        PoolSet::len(self)
    }
}

/// A `PoolSet` (inline and spawned): one-by-one submission waits for a free slot, keeps the
/// outputs finished meanwhile, never runs more than K, and a set dropped with jobs running
/// stops them and returns every permit.
pub(super) async fn join_set_submits_one_by_one<R: Runtime>(_: Options) -> CaseResult {
    for spawned in [false, true] {
        let pool = TaskPool::<R>::new(3).expect("non-zero");
        let checked = if spawned {
            join_set_one_by_one::<R>(&pool, pool.spawn_join_set()).await
        } else {
            join_set_one_by_one::<R>(&pool, pool.join_set()).await
        };
        checked.map_err(|f| Failure::new(format!("{f} ({})", mode(spawned))))?;
    }
    Ok(())
}

async fn join_set_one_by_one<R: Runtime>(pool: &TaskPool<R>, mut set: impl JoinSet) -> CaseResult {
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
        let submitted =
            within::<R, _>(PROMPTLY, "spawn with a free slot", set.spawn(gated(i))).await?;
        ensure!(
            submitted == Ok(i),
            "spawn of job {i} returned {submitted:?}"
        );
    }
    ensure!(
        pool.semaphore().available_permits() == 0,
        "{} permits free with 3 jobs running in a pool of 3",
        pool.semaphore().available_permits()
    );
    {
        let mut fourth = pin!(set.spawn(gated(3)));
        ensure!(
            future::poll_once(&mut fourth).await.is_none(),
            "spawn of a fourth job returned with no slot free"
        );
        gates[1].open();
        // Job 1 finishes, its slot goes to job 3; job 1's output is kept for join_next.
        let fourth = within::<R, _>(PROMPTLY, "the fourth spawn gets a slot", fourth).await?;
        ensure!(fourth == Ok(3), "the fourth spawn returned {fourth:?}");
    }
    ensure!(set.len() == 4, "{} jobs in the set, expected 4", set.len());
    let first = within::<R, _>(PROMPTLY, "join_next", set.join_next()).await?;
    ensure!(
        first == Some((1, 1)),
        "join_next returned {first:?}, expected job 1's output kept while spawn waited"
    );
    // More jobs, one by one, never more than 3 at once.
    for gate in &gates {
        gate.open();
    }
    let mut outputs = Vec::new();
    for i in 4..40 {
        let job = tracker.job::<R, _>(jitter(i), i).boxed();
        let submitted = within::<R, _>(PROMPTLY, "spawn", set.spawn(job)).await?;
        ensure!(
            submitted == Ok(i),
            "spawn of job {i} returned {submitted:?}"
        );
        if i % 5 == 0 {
            outputs.extend(within::<R, _>(PROMPTLY, "join_next", set.join_next()).await?);
        }
    }
    while let Some(output) = within::<R, _>(PROMPTLY, "join_next", set.join_next()).await? {
        outputs.push(output);
    }
    ensure!(set.len() == 0, "{} jobs left in a drained set", set.len());
    outputs.sort_unstable();
    let expected: Vec<_> = (0..40).filter(|&i| i != 1).map(|i| (i, i)).collect();
    ensure!(outputs == expected, "join_next returned {outputs:?}");
    let most = Tracker::get(&tracker.most_running);
    ensure!(most <= 3, "{most} jobs ran at once in a pool of 3");
    at_rest(pool.semaphore().as_core(), 3)?;

    // Dropping a set with jobs running stops them and returns every permit.
    for _ in 0..3 {
        let job = tracker.job::<R, _>(Duration::from_secs(30), 0).boxed();
        within::<R, _>(PROMPTLY, "spawn", set.spawn(job))
            .await?
            .map_err(|e| Failure::new(format!("spawn failed: {e}")))?;
    }
    drop(set);
    eventually::<R>(PROMPTLY, "every permit is back", || {
        pool.semaphore().available_permits() == 3
    })
    .await?;
    eventually::<R>(PROMPTLY, "every job is dropped", || tracker.all_dropped()).await?;
    let finished = Tracker::get(&tracker.finished);
    ensure!(
        finished == 40,
        "{finished} jobs finished, expected 40 (the 3 left running when the set was dropped \
         must not finish)"
    );
    Ok(())
}

/// Only the jobs that were woken are polled: 256 jobs each waiting at their own gate,
/// released one at a time (last job first), are each polled a small constant number of times
/// (a pool that polls every running job on every wake polls job i about i times). For
/// `as_completed` and an inline `PoolSet`.
pub(super) async fn polls_only_woken_jobs<R: Runtime>(_: Options) -> CaseResult {
    const K: usize = 256;
    for use_set in [false, true] {
        let gates: Vec<Arc<Gate>> = (0..K).map(|_| Arc::default()).collect();
        let polls: Arc<Vec<AtomicUsize>> = Arc::new((0..K).map(|_| AtomicUsize::new(0)).collect());
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
        let pool = TaskPool::<R>::new(K).expect("non-zero");
        let mut order = Vec::new();
        let run = async {
            if use_set {
                let mut set = pool.join_set();
                for i in 0..K {
                    set.spawn(job(i))
                        .await
                        .map_err(|e| Failure::new(format!("spawn failed: {e}")))?;
                }
                for gate in gates.iter().rev() {
                    gate.open();
                    order.extend(set.join_next().await.map(|(_, i)| i));
                }
            } else {
                let mut stream = pool.as_completed((0..K).map(job));
                // Start them all: every job is pending at its gate.
                ensure!(
                    future::poll_once(stream.next()).await.is_none(),
                    "as_completed yielded before any gate opened"
                );
                for gate in gates.iter().rev() {
                    gate.open();
                    if let Some(item) = stream.next().await {
                        let (_, i) =
                            item.map_err(|e| Failure::new(format!("as_completed failed: {e}")))?;
                        order.push(i);
                    }
                }
                ensure!(
                    stream.next().await.is_none(),
                    "as_completed yielded more than {K} items"
                );
            }
            Ok(())
        };
        within::<R, _>(PROMPTLY, "every gated job finishes", run).await??;
        let what = if use_set { "a PoolSet" } else { "as_completed" };
        ensure!(
            order == (0..K).rev().collect::<Vec<_>>(),
            "{what} gave the jobs in the order {order:?}"
        );
        let (most, at) = polls
            .iter()
            .enumerate()
            .map(|(i, p)| (p.load(SeqCst), i))
            .max()
            .unwrap_or_default();
        ensure!(
            most <= 4,
            "{what} polled job {at} {most} times while 256 jobs waited at their own gates"
        );
    }
    Ok(())
}
