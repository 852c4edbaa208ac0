//! tokio's cooperative budget: loops of always-ready acquires must let other tasks run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use admit_tokio::rate::Gcra;
use admit_tokio::{RateLimiter, Semaphore, TaskPool};

const LIMIT: usize = 100_000;

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

#[tokio::test(flavor = "current_thread")]
async fn plain_acquire_loop_never_yields() {
    // The control: the core's acquire knows no runtime, so this loop starves the other task.
    let sem = Semaphore::new(1);
    let steps = steps_until_other_task_runs(|| async {
        drop(sem.acquire().await.unwrap());
    })
    .await;
    assert_eq!(steps, LIMIT);
}

#[tokio::test(flavor = "current_thread")]
async fn cooperative_acquires_yield() {
    let sem = Arc::new(Semaphore::new(4));
    let steps = steps_until_other_task_runs(|| async {
        drop(admit_tokio::acquire(&sem).await.unwrap());
    })
    .await;
    assert!(
        steps <= 1_000,
        "{steps} always-ready acquires without yielding"
    );

    let steps = steps_until_other_task_runs(|| async {
        drop(admit_tokio::acquire_many(&sem, 2).await.unwrap());
    })
    .await;
    assert!(steps <= 1_000, "{steps}");

    let steps = steps_until_other_task_runs(|| async {
        drop(admit_tokio::acquire_owned(Arc::clone(&sem)).await.unwrap());
    })
    .await;
    assert!(steps <= 1_000, "{steps}");

    let steps = steps_until_other_task_runs(|| async {
        drop(
            admit_tokio::acquire_many_owned(Arc::clone(&sem), 3)
                .await
                .unwrap(),
        );
    })
    .await;
    assert!(steps <= 1_000, "{steps}");
}

#[tokio::test(flavor = "current_thread")]
async fn timeouts_rate_limits_and_pools_yield() {
    let sem = Semaphore::new(1);
    let steps = steps_until_other_task_runs(|| async {
        let permit = admit_tokio::acquire_timeout(&sem, 1, Duration::from_secs(1)).await;
        drop(permit.unwrap());
    })
    .await;
    assert!(steps <= 1_000, "timeouts: {steps}");

    // A limit so generous that every acquire is ready at once.
    let limit = RateLimiter::new(Gcra::new(u64::MAX, Duration::from_secs(1)).with_burst(1 << 20));
    let steps = steps_until_other_task_runs(|| async { limit.acquire().await.unwrap() }).await;
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
