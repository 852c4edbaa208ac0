//! tokio's cooperative budget: loops of always-ready acquires, in the plain method spelling,
//! must let other tasks and timers run on a current-thread runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use admit_tokio::rate::Gcra;
use admit_tokio::{RateLimiter, Semaphore, TaskPool};

const LIMIT: usize = 100_000;

/// More steps than any loop here needs for a 5 ms timer to fire (each step is well under
/// 1 µs in release and a few µs in debug builds); a loop that never yields reaches it.
const TIMER_LIMIT: usize = 2_000_000;

/// Runs `step` until a task spawned beforehand on the same (single) thread has run, and
/// returns how many steps that took (`LIMIT` if it never ran).
async fn steps_until_other_task_runs<F, Fut>(mut step: F) -> usize
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let other_ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&other_ran);
    let other = tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
    let mut steps = 0;
    while !other_ran.load(Ordering::SeqCst) && steps < LIMIT {
        step().await;
        steps += 1;
    }
    other.await.unwrap();
    steps
}

/// Runs `step` until a task sleeping 5 ms, spawned beforehand, has woken and run; returns
/// whether it did before the loop gave up (`TIMER_LIMIT` steps).
async fn timer_fires_during<F, Fut>(mut step: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let fired = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&fired);
    let timer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        flag.store(true, Ordering::SeqCst);
    });
    let mut steps = 0;
    while !fired.load(Ordering::SeqCst) && steps < TIMER_LIMIT {
        step().await;
        steps += 1;
    }
    let fired_during_loop = fired.load(Ordering::SeqCst);
    timer.await.unwrap();
    fired_during_loop
}

#[tokio::test(flavor = "current_thread")]
async fn core_acquire_loop_never_yields() {
    // The control: the core's own type knows no runtime, so this loop starves the other task.
    let sem = admit::Semaphore::new(1);
    let steps = steps_until_other_task_runs(|| async {
        drop(sem.acquire().await.unwrap());
    })
    .await;
    assert_eq!(steps, LIMIT);
}

#[tokio::test(flavor = "current_thread")]
async fn method_acquires_yield_to_other_tasks() {
    let sem = Arc::new(Semaphore::new(4));
    let steps = steps_until_other_task_runs(|| async {
        drop(sem.acquire().await.unwrap());
    })
    .await;
    assert!(
        steps <= 1_000,
        "{steps} always-ready acquires without yielding"
    );

    let steps = steps_until_other_task_runs(|| async {
        drop(sem.acquire_many(2).await.unwrap());
    })
    .await;
    assert!(steps <= 1_000, "{steps}");

    let steps = steps_until_other_task_runs(|| async {
        drop(Arc::clone(&sem).acquire_owned().await.unwrap());
    })
    .await;
    assert!(steps <= 1_000, "{steps}");

    let steps = steps_until_other_task_runs(|| async {
        drop(Arc::clone(&sem).acquire_many_owned(3).await.unwrap());
    })
    .await;
    assert!(steps <= 1_000, "{steps}");
}

#[tokio::test(flavor = "current_thread")]
async fn method_acquires_let_a_timer_fire() {
    static STATIC: Semaphore = Semaphore::new(2);
    assert!(
        timer_fires_during(|| async { drop(STATIC.acquire().await.unwrap()) }).await,
        "acquire"
    );
    let sem = Arc::new(Semaphore::new(4));
    assert!(
        timer_fires_during(|| async { drop(sem.acquire_many(3).await.unwrap()) }).await,
        "acquire_many"
    );
    assert!(
        timer_fires_during(|| async { drop(Arc::clone(&sem).acquire_owned().await.unwrap()) })
            .await,
        "acquire_owned"
    );
    assert!(
        timer_fires_during(|| async {
            drop(Arc::clone(&sem).acquire_many_owned(2).await.unwrap());
        })
        .await,
        "acquire_many_owned"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_core_type_starves_the_timer() {
    // The control for the test above: the same loop on `admit::Semaphore` never lets the
    // timer task run, so `timer_fires_during` can return false.
    let sem = admit::Semaphore::new(1);
    let fired = timer_fires_during(|| async { drop(sem.acquire().await.unwrap()) }).await;
    assert!(!fired);
}

#[tokio::test(flavor = "current_thread")]
async fn timeouts_rate_limits_and_pools_yield() {
    let sem = Semaphore::new(1);
    let steps = steps_until_other_task_runs(|| async {
        drop(sem.acquire_timeout(Duration::from_secs(1)).await.unwrap());
    })
    .await;
    assert!(steps <= 1_000, "timeouts: {steps}");

    let sem = Arc::new(sem);
    let steps = steps_until_other_task_runs(|| async {
        let permit = Arc::clone(&sem).acquire_owned_timeout(Duration::from_secs(1));
        drop(permit.await.unwrap());
    })
    .await;
    assert!(steps <= 1_000, "owned timeouts: {steps}");

    // A limit so generous that every acquire is ready at once.
    let limit = RateLimiter::new(Gcra::new(u64::MAX, Duration::from_secs(1)).with_burst(1 << 20));
    let steps = steps_until_other_task_runs(|| limit.acquire()).await;
    assert!(steps <= 1_000, "rate limiter: {steps}");

    // One pool run over many always-ready futures.
    let other_ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&other_ran);
    let other = tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
    let pool = TaskPool::new(8).unwrap();
    let seen = &other_ran;
    let outputs = pool
        .gather(
            (0..LIMIT)
                .map(|i| async move { Ok::<_, ()>(seen.load(Ordering::SeqCst).then_some(i)) }),
        )
        .await
        .unwrap();
    other.await.unwrap();
    let first_after = outputs.iter().position(|o| matches!(o, Ok(Some(_))));
    assert!(
        first_after.is_some_and(|i| i <= 1_000),
        "the pool ran {first_after:?} futures before yielding"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn pool_acquires_yield() {
    // Submitting always-ready jobs one by one: each `spawn` acquires the pool's permit, which
    // consumes budget even though the job finishes at once (collected with `join_next`).
    let sem = Arc::new(Semaphore::new(4));
    let pool = TaskPool::with_semaphore(Arc::clone(&sem));
    let mut set = pool.join_set();
    let other_ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&other_ran);
    let other = tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
    let mut steps = 0;
    while !other_ran.load(Ordering::SeqCst) && steps < LIMIT {
        set.spawn(std::future::ready(())).await.unwrap();
        steps += 1;
    }
    other.await.unwrap();
    assert!(steps <= 1_000, "PoolSet::spawn: {steps}");
    while set.join_next().await.is_some() {}
    assert_eq!(sem.available_permits(), 4);

    // A loop of direct acquires on the pool's semaphore yields too, so the two can share it.
    let steps = steps_until_other_task_runs(|| async {
        drop(Arc::clone(pool.semaphore()).acquire_owned().await.unwrap());
    })
    .await;
    assert!(steps <= 1_000, "acquires on the pool's semaphore: {steps}");
}
