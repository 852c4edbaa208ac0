//! The fleet rate limiter against a real Redis: the long-run rate across processes (handles),
//! weights, try, timeouts, cancellation refunds, bad input.

mod support;

use std::time::{Duration, Instant};

use admit::rate::Gcra;
use admit_redis::{Error, FleetRateLimiter, Options};
use admit_tokio::Tokio;
use support::{Redis, unique};

type Limiter = FleetRateLimiter<Tokio>;

async fn open(redis: &Redis, name: &str, limit: Gcra) -> Limiter {
    Limiter::connect_with(&redis.url, name, limit, Options::new())
        .await
        .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_run_rate_within_one_percent_across_processes() {
    let redis = Redis::shared();
    let name = unique("rate");
    const RATE: u64 = 100;
    const GRANTS: usize = 240;
    let handles = [
        open(&redis, &name, Gcra::new(RATE, Duration::from_secs(1))).await,
        open(&redis, &name, Gcra::new(RATE, Duration::from_secs(1))).await,
    ];
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let limiter = handles[t % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            for _ in 0..GRANTS / 4 {
                limiter.acquire().await.unwrap();
                times.push(Instant::now());
            }
            times
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.unwrap());
    }
    times.sort();
    // The rate is the slope of grant time against grant number (least squares over every
    // grant), so one late wake-up at either end cannot skew it on a loaded machine; a rate
    // charged from late wake-ups instead of scheduled instants would show as a flatter slope.
    let secs: Vec<f64> = times
        .iter()
        .map(|t| (*t - times[0]).as_secs_f64())
        .collect();
    let n = secs.len() as f64;
    let mean_i = (n - 1.0) / 2.0;
    let mean_t = secs.iter().sum::<f64>() / n;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for (i, t) in secs.iter().enumerate() {
        covariance += (i as f64 - mean_i) * (t - mean_t);
        variance += (i as f64 - mean_i).powi(2);
    }
    let rate = variance / covariance;
    assert!(rate <= RATE as f64 * 1.01, "{rate:.2}/s, limit {RATE}/s");
    assert!(rate >= RATE as f64 * 0.99, "{rate:.2}/s, limit {RATE}/s");
    // Not grossly faster end to end either (only the first grant's wake-up may be late).
    let span = secs[GRANTS - 1];
    assert!(
        span >= (GRANTS - 1) as f64 / RATE as f64 * 0.95,
        "{GRANTS} grants in {span:.3} s"
    );
    assert!(times[0] - start < Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_burst_try_and_timeout() {
    let redis = Redis::shared();
    let name = unique("rate-weighted");
    let limit = Gcra::new(10, Duration::from_secs(1)).with_burst(4);
    let a = open(&redis, &name, limit).await;
    let b = open(&redis, &name, limit).await;
    a.try_acquire_many(4).await.unwrap();
    assert!(matches!(b.try_acquire_many(1).await, Err(Error::NoPermits)));
    assert!(matches!(
        b.acquire_many(5).await,
        Err(Error::TooLarge {
            requested: 5,
            capacity: 4
        })
    ));
    // Four permits cost 400 ms: a 100 ms timeout cannot make it, and takes nothing.
    let start = Instant::now();
    assert!(matches!(
        b.acquire_many_timeout(4, Duration::from_millis(100)).await,
        Err(Error::Timeout)
    ));
    b.acquire_many(2).await.unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(190), "{waited:?}");
    assert!(b.acquire_many(0).await.is_ok());
    let mismatch = Limiter::connect(&redis.url, &name, 11, Duration::from_secs(1)).await;
    assert!(
        matches!(mismatch, Err(Error::ConfigMismatch { .. })),
        "{mismatch:?}"
    );
    assert!(matches!(
        Limiter::connect(&redis.url, &name, 0, Duration::from_secs(1)).await,
        Err(Error::InvalidConfig(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_reservation_is_refunded() {
    let redis = Redis::shared();
    let name = unique("rate-refund");
    let limiter = open(&redis, &name, Gcra::new(2, Duration::from_secs(1))).await;
    limiter.acquire().await.unwrap();
    // The next slot is 500 ms away: reserve it, then give up after 50 ms.
    let attempt = limiter.acquire();
    assert!(
        tokio::time::timeout(Duration::from_millis(50), attempt)
            .await
            .is_err()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Refunded: the slot 500 ms after the first grant is free again, not the one after it.
    let start = Instant::now();
    limiter.acquire().await.unwrap();
    let waited = start.elapsed();
    assert!(
        waited < Duration::from_millis(450),
        "{waited:?}: the reservation was not refunded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fractional_intervals_are_exact_in_redis() {
    // 3 per second: each permit costs 333,333,333⅓ ns. With a large burst every request
    // conforms at once, so the stored TAT is base + k × period / count, kept as the exact pair
    // (ns, frac / count) of `admit::rate::Gcra`: after 300 permits exactly 100 s, no drift.
    let redis = Redis::shared();
    let name = unique("rate-exact");
    let limit = Gcra::new(3, Duration::from_secs(1)).with_burst(1_000);
    let limiter = open(&redis, &name, limit).await;
    let key = format!("admit:{{{name}}}:rate");
    let mut conn = redis.conn();
    let state = |conn: &mut redis::Connection| -> (i64, i64) {
        let (tat, frac): (i64, i64) = redis::cmd("HMGET")
            .arg(&key)
            .arg("tat")
            .arg("frac")
            .query(conn)
            .unwrap();
        (tat, frac)
    };
    limiter.acquire().await.unwrap();
    let (first_ns, first_frac) = state(&mut conn);
    assert_eq!(first_frac, 1);
    for _ in 1..300 {
        limiter.try_acquire_many(1).await.unwrap();
    }
    let (last_ns, last_frac) = state(&mut conn);
    assert_eq!(last_frac, 0);
    assert_eq!(last_ns - first_ns, 100_000_000_000 - 333_333_333);
    // The local arithmetic from time 0 lands on the same whole nanoseconds.
    let mut local = limit;
    local.try_acquire(0, 1).unwrap();
    assert!(
        format!("{local:?}").contains("tat_ns: 333333333 "),
        "{local:?}"
    );
    for _ in 1..300 {
        local.try_acquire(0, 1).unwrap();
    }
    assert!(
        format!("{local:?}").contains("tat_ns: 100000000000 "),
        "{local:?}"
    );
}

#[test]
fn reservation_dropped_outside_the_runtime_does_not_panic() {
    let redis = Redis::shared();
    let name = unique("rate-outside");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (limiter, first, pending) = runtime.block_on(async {
        let limiter = open(&redis, &name, Gcra::new(2, Duration::from_secs(1))).await;
        limiter.acquire().await.unwrap();
        let first = Instant::now();
        // The next slot is 500 ms away: this acquire reserves it and sleeps.
        let mut pending = Box::pin(limiter.acquire());
        assert!(
            tokio::time::timeout(Duration::from_millis(100), &mut pending)
                .await
                .is_err()
        );
        (limiter, first, pending)
    });
    // Outside any runtime: tokio cannot spawn the refund; the drop must not panic.
    drop(pending);
    runtime.block_on(async {
        limiter.acquire().await.unwrap();
    });
    // Not refunded: the dropped reservation's slot (500 ms) went unused, this one came after.
    assert!(
        first.elapsed() >= Duration::from_millis(900),
        "{:?}: granted inside the dropped reservation's slot",
        first.elapsed()
    );
}
