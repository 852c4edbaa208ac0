//! The adapter's futures can be spawned on tokio's multi-threaded runtime:
//! timed acquires, rate-limited acquires and cooperative acquires are `Send`.

use std::sync::Arc;
use std::time::Duration;

use admit_tokio::rate::Gcra;
use admit_tokio::{RateLimiter, Semaphore};

static SEM: Semaphore = Semaphore::new(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapter_futures_are_send_and_spawnable() {
    let timed = tokio::spawn(async {
        let permit = SEM.acquire_timeout(Duration::from_secs(5)).await.unwrap();
        permit.num_permits()
    });
    assert_eq!(timed.await.unwrap(), 1);

    let limiter = Arc::new(RateLimiter::new(Gcra::new(1_000, Duration::from_secs(1))));
    assert!(RateLimiter::per(0, Duration::from_secs(1)).is_err());
    let limited = tokio::spawn({
        let limiter = limiter.clone();
        async move { limiter.acquire_many(1).await.is_ok() }
    });
    assert!(limited.await.unwrap());

    let owned = tokio::spawn(async {
        let sem = Arc::new(Semaphore::new(2));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let timed = SEM.acquire_deadline(deadline).await.unwrap().num_permits();
        let owned = sem
            .clone()
            .acquire_many_owned(2)
            .await
            .unwrap()
            .num_permits();
        drop(sem.acquire_many_owned_timeout(2, Duration::from_secs(5)));
        timed + owned
    });
    assert_eq!(owned.await.unwrap(), 3);
    assert_eq!(SEM.available_permits(), 1);
}
