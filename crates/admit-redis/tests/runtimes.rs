//! The fleet semaphore and rate limiter on smol and on async-std (redis-rs drives their
//! connections with async-io, which both runtimes run on), against a real Redis.

mod support;

use std::time::{Duration, Instant};

use admit_redis::{Error, FleetRateLimiter, FleetSemaphore, Options};
use admit_runtime::{BlockOn, Runtime};
use support::{Redis, unique};

/// FIFO wake-up across two handles, try, timeout, cancellation, rate: the same on every runtime.
async fn exercise<R: Runtime>(redis: &Redis, name: &str) {
    let options = Options::new().with_lease_ttl(Duration::from_secs(2));
    let a = FleetSemaphore::<R>::connect_with(&redis.url, name, 2, options.clone())
        .await
        .unwrap();
    let b = FleetSemaphore::<R>::connect_with(&redis.url, name, 2, options)
        .await
        .unwrap();
    let held = a.acquire_many(2).await.unwrap();
    assert!(matches!(b.try_acquire().await, Err(Error::NoPermits)));
    assert!(matches!(
        b.acquire_timeout(Duration::from_millis(50)).await,
        Err(Error::Timeout)
    ));
    let waiter = R::spawn({
        let b = b.clone();
        async move { b.acquire_many(2).await.map(|permit| permit.fencing_token()) }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.waiter_count().await.unwrap() != 1 {
        assert!(Instant::now() < deadline, "never queued");
        R::sleep(Duration::from_millis(5)).await;
    }
    let token = held.fencing_token();
    drop(held);
    let woke = Instant::now();
    let next = waiter.await.unwrap();
    assert!(next > token);
    assert!(
        woke.elapsed() < Duration::from_millis(600),
        "woken by the fallback, not the push"
    );
    a.flush().await;
    b.flush().await;

    let limiter = FleetRateLimiter::<R>::connect(&redis.url, name, 20, Duration::from_secs(1))
        .await
        .unwrap();
    let start = R::now();
    for _ in 0..5 {
        limiter.acquire().await.unwrap();
    }
    assert!(R::now() - start >= Duration::from_millis(195));
}

/// Runs [`exercise`] on `R` against the shared server, then checks the keys. A run that has not
/// finished after 60 s (it takes well under a second) fails instead of hanging the test binary.
fn run_on<R: Runtime + BlockOn>(prefix: &str) {
    let redis = Redis::shared();
    let name = unique(prefix);
    let hung = async {
        R::sleep(Duration::from_secs(60)).await;
        panic!("the {prefix} run did not finish within 60 s");
    };
    R::block_on(futures_lite::future::or(exercise::<R>(&redis, &name), hung));
    redis.assert_clean(&name);
}

#[test]
fn smol() {
    run_on::<admit_smol::Smol>("smol");
}

#[test]
fn async_std() {
    run_on::<admit_async_std::AsyncStd>("async-std");
}
