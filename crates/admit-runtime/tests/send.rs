//! In code generic over the runtime, the helpers' futures are `Send`, so they can be moved
//! into spawned tasks. A compile-time test: it fails to build if they are not. Its `Send`
//! bounds are proved for every `R` when the generic function below is type-checked, without
//! instantiating it, so the binary has nothing left to run (`running 0 tests`).

use std::sync::Arc;
use std::time::Duration;

use admit_runtime::{RateLimiter, Runtime, Semaphore, TaskPool};

fn assert_send<T: Send>(value: T) -> T {
    value
}

/// Builds (does not run) each helper's future for any runtime and checks it is `Send`.
#[allow(dead_code, reason = "only compiled: the checks are the trait bounds")]
fn generic_helpers_are_send<R: Runtime>(
    sem: &'static Semaphore<R>,
    deadline: R::Instant,
    limiter: &'static RateLimiter<R>,
    pool: &'static TaskPool<R>,
) {
    drop(assert_send(sem.acquire_timeout(Duration::ZERO)));
    drop(assert_send(sem.acquire_many_timeout(2, Duration::ZERO)));
    drop(assert_send(sem.acquire_deadline(deadline)));
    drop(assert_send(sem.acquire_many_deadline(2, deadline)));
    let shared = Arc::new(Semaphore::<R>::new(1));
    drop(assert_send(
        Arc::clone(&shared).acquire_owned_timeout(Duration::ZERO),
    ));
    drop(assert_send(
        shared.acquire_many_owned_timeout(2, Duration::ZERO),
    ));
    drop(assert_send(limiter.acquire()));
    drop(assert_send(limiter.acquire_many(2)));
    drop(assert_send(
        pool.gather((0..3).map(|i| async move { Ok::<i32, ()>(i) })),
    ));
    drop(assert_send(pool.spawn_gather(
        (0..3).map(|i| async move { Ok::<i32, ()>(i) }),
    )));
    drop(assert_send(
        pool.try_gather((0..3).map(|i| async move { Ok::<i32, ()>(i) })),
    ));
    drop(assert_send(
        pool.as_completed((0..3).map(|i| async move { i })),
    ));
    drop(assert_send(async move {
        let mut set = pool.spawn_join_set();
        set.spawn(async { 1 }).await.ok();
        set.join_next().await
    }));
    drop(assert_send(async move {
        let mut set = pool.join_set();
        set.spawn(async { 1 }).await.ok();
        set.join_next().await
    }));
    drop(assert_send(async move {
        let permit = sem.acquire_timeout(Duration::ZERO).await;
        permit.map(|p| p.num_permits())
    }));
}
