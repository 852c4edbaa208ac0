//! The fleet semaphore's behaviour against a real Redis, on tokio: the local semaphore's
//! behaviour where it applies (FIFO, weighted, try, close, timeout, bad input), plus leases,
//! fencing, cancellation and push wake-ups. Several handles in one process stand for several
//! processes (each has its own connections, local queue and background tasks); the
//! multi-process cases are in `tests/fleet.rs`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use admit_redis::{Error, FleetSemaphore, Options};
use admit_tokio::Tokio;
use support::{Redis, unique};

type Sem = FleetSemaphore<Tokio>;

fn fast() -> Options {
    Options::new()
        .with_lease_ttl(Duration::from_secs(2))
        .with_timeout(Duration::from_secs(2))
}

/// A TTL far beyond every bounded wait of these tests (5 s at most), for the tests of what a
/// cancelled or closed acquire leaves behind: a ticket or lease a bug failed to remove stays
/// visible until the checks give up, instead of expiring (and being purged) before them.
fn long_lease() -> Options {
    Options::new()
        .with_lease_ttl(Duration::from_secs(60))
        .with_timeout(Duration::from_secs(2))
}

async fn open(redis: &Redis, name: &str, capacity: usize) -> Sem {
    open_with(redis, name, capacity, fast()).await
}

async fn open_with(redis: &Redis, name: &str, capacity: usize, options: Options) -> Sem {
    Sem::connect_with(&redis.url, name, capacity, options)
        .await
        .expect("connect")
}

/// Waits (bounded) until the fleet queue holds `n` tickets.
async fn until_waiting(sem: &Sem, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while sem.waiter_count().await.unwrap() != n {
        assert!(Instant::now() < deadline, "never saw {n} waiters");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_release_leaves_everything_back() {
    let redis = Redis::shared();
    let name = unique("basic");
    let sem = open(&redis, &name, 3).await;
    assert_eq!(sem.capacity(), 3);
    let one = sem.acquire().await.unwrap();
    let two = sem.acquire_many(2).await.unwrap();
    assert_eq!((one.num_permits(), two.num_permits()), (1, 2));
    assert_eq!(sem.available_permits().await.unwrap(), 0);
    assert!(two.fencing_token() > one.fencing_token());
    drop((one, two));
    redis.assert_clean(&name);
    assert_eq!(sem.available_permits().await.unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_across_processes_large_head_not_overtaken() {
    let redis = Redis::shared();
    let name = unique("fifo");
    let holder = open(&redis, &name, 2).await;
    let big_handle = open(&redis, &name, 2).await;
    let small_handle = open(&redis, &name, 2).await;
    let newcomer = open(&redis, &name, 2).await;
    let first = holder.acquire().await.unwrap();
    let second = holder.acquire().await.unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));

    let log = order.clone();
    let big = tokio::spawn(async move {
        let permit = big_handle.acquire_many(2).await.unwrap();
        log.lock().unwrap().push("big");
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(permit);
    });
    until_waiting(&holder, 1).await;
    let log = order.clone();
    let small = tokio::spawn(async move {
        let _permit = small_handle.acquire().await.unwrap();
        log.lock().unwrap().push("small");
    });
    until_waiting(&holder, 2).await;

    // One permit free: the small request would fit, but the big one is ahead of it.
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        order.lock().unwrap().is_empty(),
        "someone was granted out of turn"
    );
    // Nor does a newcomer from another process take the free permit ahead of the queue.
    assert!(
        matches!(newcomer.try_acquire().await, Err(Error::NoPermits)),
        "a newcomer overtook the queue"
    );
    drop(second);
    big.await.unwrap();
    small.await.unwrap();
    assert_eq!(*order.lock().unwrap(), ["big", "small"]);
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_within_a_process() {
    let redis = Redis::shared();
    let name = unique("local-fifo");
    let sem = open(&redis, &name, 1).await;
    let gate = sem.acquire().await.unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..5 {
        let sem = sem.clone();
        let log = order.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            log.lock().unwrap().push(i);
        }));
        // Each one queued (locally) before the next starts.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(gate);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4]);
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_acquire_never_queues() {
    let redis = Redis::shared();
    let name = unique("try");
    let sem = open(&redis, &name, 2).await;
    let other = open(&redis, &name, 2).await;
    let held = sem.try_acquire_many(2).await.unwrap();
    assert!(matches!(other.try_acquire().await, Err(Error::NoPermits)));
    assert!(matches!(sem.try_acquire().await, Err(Error::NoPermits)));
    assert_eq!(sem.waiter_count().await.unwrap(), 0);
    drop(held);
    redis.assert_clean(&name);
    let again = other.try_acquire().await.unwrap();
    assert_eq!(again.num_permits(), 1);
    drop(again);
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_wakes_waiters_and_refuses_new_acquires() {
    let redis = Redis::shared();
    let name = unique("close");
    let holder = open_with(&redis, &name, 1, long_lease()).await;
    let waiter = open_with(&redis, &name, 1, long_lease()).await;
    let held = holder.acquire().await.unwrap();
    let pending = tokio::spawn({
        let waiter = waiter.clone();
        async move { waiter.acquire().await }
    });
    until_waiting(&holder, 1).await;
    waiter.close();
    assert!(waiter.is_closed());
    let result = tokio::time::timeout(Duration::from_secs(2), pending)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(result, Err(Error::Closed)), "{result:?}");
    assert!(matches!(waiter.acquire().await, Err(Error::Closed)));
    assert!(matches!(waiter.try_acquire().await, Err(Error::Closed)));
    // Closing is per handle: the holder's handle still works.
    assert!(!holder.is_closed());
    drop(held);
    redis.assert_clean(&name);
    drop(holder.acquire().await.unwrap());
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_leaves_nothing() {
    let redis = Redis::shared();
    let name = unique("timeout");
    let holder = open_with(&redis, &name, 1, long_lease()).await;
    let other = open_with(&redis, &name, 1, long_lease()).await;
    let held = holder.acquire().await.unwrap();
    let start = Instant::now();
    let result = other.acquire_timeout(Duration::from_millis(200)).await;
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    assert!(start.elapsed() >= Duration::from_millis(200));
    until_waiting(&holder, 0).await;
    drop(held);
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_pending_acquire_removes_its_ticket() {
    let redis = Redis::shared();
    let name = unique("cancel");
    let holder = open_with(&redis, &name, 2, long_lease()).await;
    let other = open_with(&redis, &name, 2, long_lease()).await;
    let held = holder.acquire_many(2).await.unwrap();
    let pending = tokio::spawn({
        let other = other.clone();
        async move { other.acquire_many(2).await }
    });
    until_waiting(&holder, 1).await;
    pending.abort();
    assert!(pending.await.unwrap_err().is_cancelled());
    until_waiting(&holder, 0).await;
    drop(held);
    redis.assert_clean(&name);
    // The cancelled caller's local permits came back too, once its release (on a spawned
    // task, which returns them after Redis answers) has run.
    other.flush().await;
    drop(other.try_acquire_many(2).await.unwrap());
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_racing_grant_returns_the_permits() {
    let redis = Redis::shared();
    let name = unique("cancel-race");
    let sem = open_with(&redis, &name, 1, long_lease()).await;
    // Drop acquires at every stage: before the script, in flight, just after the grant.
    for delay_us in [0, 50, 100, 200, 400, 800, 1600, 3200] {
        let attempt = sem.acquire();
        let _ = tokio::time::timeout(Duration::from_micros(delay_us), attempt).await;
    }
    redis.assert_clean(&name);
    // The local permits come back when each release has run (`flush`), not when Redis is clean.
    sem.flush().await;
    drop(sem.try_acquire().await.unwrap());
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_at_once() {
    let redis = Redis::shared();
    let name = unique("bad");
    let sem = open(&redis, &name, 3).await;
    assert!(matches!(
        sem.acquire_many(4).await,
        Err(Error::TooLarge {
            requested: 4,
            capacity: 3
        })
    ));
    assert!(matches!(
        sem.try_acquire_many(4).await,
        Err(Error::TooLarge { .. })
    ));
    let zero = sem.acquire_many(0).await.unwrap();
    assert_eq!(zero.num_permits(), 0);
    assert_eq!(sem.available_permits().await.unwrap(), 3);
    drop(zero);
    let zero_ttl = Sem::connect_with(
        &redis.url,
        &name,
        3,
        Options::new().with_lease_ttl(Duration::ZERO),
    )
    .await;
    assert!(
        matches!(zero_ttl, Err(Error::InvalidConfig(_))),
        "{zero_ttl:?}"
    );
    let zero_capacity = Sem::connect(&redis.url, &unique("zero"), 0).await;
    assert!(matches!(zero_capacity, Err(Error::InvalidConfig(_))));
    let mismatch = Sem::connect_with(&redis.url, &name, 4, fast()).await;
    match mismatch {
        Err(error @ Error::ConfigMismatch { .. }) => {
            assert!(error.to_string().contains("capacity 3"), "{error}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_a_clear_error_within_bounded_time() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let start = Instant::now();
    let options = Options::new().with_timeout(Duration::from_millis(500));
    let result =
        Sem::connect_with(&format!("redis://127.0.0.1:{port}/"), "nowhere", 1, options).await;
    let error = result.unwrap_err();
    assert!(error.is_redis(), "{error}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    let bad_url = Sem::connect("not a url", "x", 1).await.unwrap_err();
    assert!(bad_url.is_redis(), "{bad_url}");

    // A server that accepts connections and never answers: the timeout bounds the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", silent.local_addr().unwrap());
    let start = Instant::now();
    let options = Options::new().with_timeout(Duration::from_millis(300));
    let error = Sem::connect_with(&url, "silent", 1, options)
        .await
        .unwrap_err();
    assert!(error.is_redis(), "{error}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_tokens_increase_with_every_grant() {
    let redis = Redis::shared();
    let name = unique("fence");
    let a = open(&redis, &name, 2).await;
    let b = open(&redis, &name, 2).await;
    let mut last = 0;
    for i in 0..20 {
        let sem = if i % 2 == 0 { &a } else { &b };
        let permit = sem.acquire().await.unwrap();
        assert!(permit.fencing_token() > last);
        last = permit.fencing_token();
    }
    // Two waiters granted by one release (one script run, one reading of the server's clock)
    // still get distinct tokens, both above every earlier one.
    let c = open(&redis, &name, 2).await;
    let held = a.acquire_many(2).await.unwrap();
    assert!(held.fencing_token() > last);
    last = held.fencing_token();
    let waiters = [b, c].map(|sem| tokio::spawn(async move { sem.acquire().await.unwrap() }));
    until_waiting(&a, 2).await;
    drop(held);
    let mut tokens = Vec::new();
    for waiter in waiters {
        tokens.push(waiter.await.unwrap().fencing_token());
    }
    assert_ne!(
        tokens[0], tokens[1],
        "two grants of one release share a token"
    );
    assert!(
        tokens.iter().all(|&token| token > last),
        "{tokens:?} after {last}"
    );
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_outlive_the_ttl_while_refreshed() {
    let redis = Redis::shared();
    let name = unique("refresh");
    let options = Options::new().with_lease_ttl(Duration::from_millis(300));
    let sem = open_with(&redis, &name, 1, options.clone()).await;
    let other = open_with(&redis, &name, 1, options).await;
    let permit = sem.acquire().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(!permit.is_lease_lost());
    assert!(matches!(other.try_acquire().await, Err(Error::NoPermits)));
    drop(permit);
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_lease_is_reported() {
    let redis = Redis::shared();
    let name = unique("lost");
    let sem = open(&redis, &name, 1).await;
    let permit = sem.acquire().await.unwrap();
    assert!(!permit.is_lease_lost());
    let lost_token = permit.fencing_token();
    // The state vanishes behind the holder's back (as after a restart without persistence).
    let keys = admit_redis::semaphore_keys(&name);
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query(&mut redis.conn())
        .unwrap();
    tokio::time::timeout(Duration::from_secs(3), permit.lease_lost())
        .await
        .expect("the loss was noticed within the TTL");
    assert!(permit.is_lease_lost());
    drop(permit);
    // The state was lost under a live client: nothing is granted for one TTL.
    let start = Instant::now();
    let again = sem.acquire().await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(1_000),
        "granted during the grace period"
    );
    // Fencing tokens stay above every earlier one, even across the loss of the state.
    assert!(
        again.fencing_token() > lost_token,
        "token {} after {lost_token}",
        again.fencing_token()
    );
    drop(again);
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_wakes_a_waiter_by_push_without_polling() {
    // A private server: its command counter must count only this test.
    let redis = Redis::private();
    let name = unique("push");
    let options = Options::new().with_lease_ttl(Duration::from_secs(9));
    let holder = open_with(&redis, &name, 1, options.clone()).await;
    let waiter = open_with(&redis, &name, 1, options).await;
    let held = holder.acquire().await.unwrap();
    let woke = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn({
        let woke = woke.clone();
        async move {
            let permit = waiter.acquire().await.unwrap();
            woke.store(1, Ordering::SeqCst);
            permit
        }
    });
    until_waiting(&holder, 1).await;
    let commands = || -> u64 {
        let info: String = redis::cmd("INFO")
            .arg("stats")
            .query(&mut redis.conn())
            .unwrap();
        info.lines()
            .find_map(|line| line.strip_prefix("total_commands_processed:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let before = commands();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // One INFO call and at most one refresh per process (every 3 s): no polling.
    let spent = commands() - before;
    assert!(spent <= 4, "{spent} commands while nothing changed");
    assert_eq!(woke.load(Ordering::SeqCst), 0);
    let released = Instant::now();
    drop(held);
    let permit = tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .unwrap()
        .unwrap();
    // Far below the 3 s fallback refresh: the push woke it.
    assert!(
        released.elapsed() < Duration::from_millis(1_000),
        "{:?}",
        released.elapsed()
    );
    drop(permit);
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_callers_queue_locally_and_share_one_connection() {
    // A private server: its client list must show only this test's connections.
    let redis = Redis::private();
    let mut inspector = redis.conn();
    let name = unique("local-queue");
    let holder = open(&redis, &name, 2).await;
    let busy = open(&redis, &name, 2).await;
    let held = holder.acquire_many(2).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let busy = busy.clone();
        tasks.push(tokio::spawn(
            async move { drop(busy.acquire().await.unwrap()) },
        ));
    }
    until_waiting(&holder, 2).await;
    // Ten callers wait, but only the two that could be granted (the local queue holds the
    // other eight) have tickets in Redis.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(holder.waiter_count().await.unwrap(), 2);
    // All of this process's callers use the same two connections (commands and pub/sub).
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut inspector)
        .unwrap();
    let before = clients.lines().count();
    let more = busy.clone();
    let extra = tokio::spawn(async move { drop(more.acquire().await.unwrap()) });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut inspector)
        .unwrap();
    assert_eq!(
        clients.lines().count(),
        before,
        "a new caller opened a connection"
    );
    drop(held);
    for task in tasks {
        task.await.unwrap();
    }
    extra.await.unwrap();
    redis.assert_clean(&name);
}

#[test]
fn permit_dropped_outside_the_runtime_expires_within_the_ttl() {
    let redis = Redis::shared();
    let name = unique("outside");
    let options = Options::new().with_lease_ttl(Duration::from_millis(500));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (sem, permit) = runtime.block_on(async {
        let sem = open_with(&redis, &name, 1, options).await;
        let permit = sem.acquire().await.unwrap();
        (sem, permit)
    });
    // Outside any runtime: tokio cannot spawn the release; the drop must not panic.
    drop(permit);
    runtime.block_on(async {
        let start = Instant::now();
        let again = sem.acquire_timeout(Duration::from_secs(3)).await.unwrap();
        assert!(start.elapsed() < Duration::from_secs(3));
        drop(again);
        sem.flush().await;
    });
    redis.assert_clean(&name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_futures_outlive_their_handle() {
    // The futures own what they need (`'static`, borrowing nothing from the handle), so they
    // can be made, the handle dropped, and awaited or spawned later.
    let redis = Redis::shared();
    let name = unique("outlive");
    let sem = open(&redis, &name, 2).await;
    let one = sem.acquire();
    let two = sem.try_acquire();
    drop(sem);
    let (one, two) = (
        one.await.unwrap(),
        tokio::spawn(two).await.unwrap().unwrap(),
    );
    assert_eq!(one.num_permits() + two.num_permits(), 2);
    drop((one, two));
    redis.assert_clean(&name);
}
