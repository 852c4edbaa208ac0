//! The fleet semaphore across real processes: this binary is both the test runner and, started
//! again with `ADMIT_FLEET_ROLE` set, each member of the fleet.
//!
//! * 8 processes × 50 tasks, capacity 10: a counter in Redis, incremented on every grant and
//!   decremented before every release, never exceeds 10; every permit is back at the end.
//! * `kill -9` of a holding process: its permits come back within the TTL and a waiting process
//!   goes on; `kill -9` of a waiting process: its ticket leaves the queue within the TTL.
//! * Redis killed and restarted mid-run: callers get errors, then recover, and no more than
//!   the capacity is held at any moment (counted in-process, where it is exact).

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use admit_redis::{Error, FleetSemaphore, Options};
use admit_tokio::Tokio;
use support::{Redis, unique};

type Sem = FleetSemaphore<Tokio>;

const TTL: Duration = Duration::from_secs(1);

fn options() -> Options {
    Options::new()
        .with_lease_ttl(TTL)
        .with_timeout(Duration::from_secs(2))
}

/// Opens the fleet semaphore `name` on `url` with the fleet's [`options`].
async fn open(url: &str, name: &str, capacity: usize) -> Sem {
    Sem::connect_with(url, name, capacity, options())
        .await
        .expect("connect")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn main() {
    if let Ok(role) = std::env::var("ADMIT_FLEET_ROLE") {
        child(&role);
        return;
    }
    let cases: [(&str, fn()); 4] = [
        (
            "eight_processes_never_exceed_capacity",
            eight_processes_never_exceed_capacity,
        ),
        (
            "killed_holder_returns_its_permits_within_the_ttl",
            killed_holder_returns_its_permits,
        ),
        (
            "killed_waiter_leaves_the_queue_within_the_ttl",
            killed_waiter_leaves_the_queue,
        ),
        (
            "redis_restart_errors_then_recovers_within_capacity",
            redis_restart_recovers,
        ),
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The standard harness's flags that tools rely on: list the cases; no case is ignored.
    if args.iter().any(|a| a == "--list") {
        for (name, _) in cases {
            println!("{name}: test");
        }
        return;
    }
    if args.iter().any(|a| a == "--ignored") {
        return;
    }
    let filter: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    println!("running {} fleet cases", cases.len());
    for (name, case) in cases {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let start = Instant::now();
        case();
        println!("test {name} ... ok ({:.1?})", start.elapsed());
    }
}

// ---- the fleet's members ----

fn child(role: &str) {
    let env = |key: &str| std::env::var(key).unwrap_or_else(|_| panic!("{key} not set"));
    let url = env("ADMIT_FLEET_URL");
    let name = env("ADMIT_FLEET_NAME");
    let capacity: usize = env("ADMIT_FLEET_CAPACITY").parse().unwrap();
    let permits: usize = std::env::var("ADMIT_FLEET_PERMITS").map_or(1, |n| n.parse().unwrap());
    runtime().block_on(async move {
        let sem = open(&url, &name, capacity).await;
        match role {
            "load" => {
                load(&url, &name, sem.clone(), capacity).await;
                sem.flush().await;
            }
            "hold" => {
                let permit = sem.acquire_many(permits).await.unwrap();
                println!("held {}", permit.fencing_token());
                std::future::pending::<()>().await;
            }
            "wait" => {
                println!("started");
                let permit = sem.acquire_many(permits).await.unwrap();
                println!("granted {}", permit.fencing_token());
                drop(permit);
                sem.flush().await;
            }
            other => panic!("unknown role {other}"),
        }
    });
}

/// 50 tasks, each acquiring 3 times; on every grant a Redis counter goes up (and its maximum
/// is recorded atomically), then down before the release.
async fn load(url: &str, name: &str, sem: Sem, capacity: usize) {
    let client = redis::Client::open(url).unwrap();
    let conn = client.get_multiplexed_async_connection().await.unwrap();
    let enter = redis::Script::new(
        "local v = redis.call('INCR', KEYS[1]) \
         if v > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], v) end \
         return v",
    );
    let enter = Arc::new(enter);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (sem, mut conn, enter, name) =
            (sem.clone(), conn.clone(), enter.clone(), name.to_owned());
        tasks.push(tokio::spawn(async move {
            for _ in 0..3 {
                let permit = sem.acquire().await.unwrap();
                let inside: usize = enter
                    .key(format!("{name}:count"))
                    .key(format!("{name}:max"))
                    .invoke_async(&mut conn)
                    .await
                    .unwrap();
                assert!(inside <= capacity, "{inside} holders at once");
                tokio::time::sleep(Duration::from_millis(1)).await;
                let _: i64 = redis::cmd("DECR")
                    .arg(format!("{name}:count"))
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                drop(permit);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

// ---- the runner's side ----

struct Member {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Member {
    fn start(redis: &Redis, name: &str, capacity: usize, role: &str, permits: usize) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("ADMIT_FLEET_ROLE", role)
            .env("ADMIT_FLEET_URL", &redis.url)
            .env("ADMIT_FLEET_NAME", name)
            .env("ADMIT_FLEET_CAPACITY", capacity.to_string())
            .env("ADMIT_FLEET_PERMITS", permits.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        Self { child, lines }
    }

    fn expect_line(&self, prefix: &str, within: Duration) -> String {
        let line = self
            .lines
            .recv_timeout(within)
            .unwrap_or_else(|_| panic!("no `{prefix}` line within {within:?}"));
        assert!(
            line.starts_with(prefix),
            "expected `{prefix}`, got `{line}`"
        );
        line
    }

    /// `kill -9`.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn wait_success(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "fleet member failed: {status}");
                return;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("fleet member still running after {within:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn eight_processes_never_exceed_capacity() {
    let redis = Redis::shared();
    let name = unique("fleet-load");
    let mut members: Vec<Member> = (0..8)
        .map(|_| Member::start(&redis, &name, 10, "load", 1))
        .collect();
    for member in &mut members {
        member.wait_success(Duration::from_secs(40));
    }
    let mut conn = redis.conn();
    let count: i64 = redis::cmd("GET")
        .arg(format!("{name}:count"))
        .query(&mut conn)
        .unwrap();
    let max: i64 = redis::cmd("GET")
        .arg(format!("{name}:max"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(count, 0);
    assert!((2..=10).contains(&max), "at most {max} holders at once");
    redis.assert_clean(&name);
}

fn killed_holder_returns_its_permits() {
    let redis = Redis::shared();
    let name = unique("fleet-kill-holder");
    let mut holder = Member::start(&redis, &name, 3, "hold", 3);
    holder.expect_line("held", Duration::from_secs(10));
    let waiter = Member::start(&redis, &name, 3, "wait", 3);
    waiter.expect_line("started", Duration::from_secs(10));
    runtime().block_on(async {
        let sem = open(&redis.url, &name, 3).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while sem.waiter_count().await.unwrap() != 1 {
            assert!(Instant::now() < deadline, "the waiter never queued");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(matches!(sem.try_acquire().await, Err(Error::NoPermits)));
    });
    let killed = Instant::now();
    holder.kill();
    // The waiting process goes on once the dead holder's lease has expired.
    waiter.expect_line("granted", TTL + Duration::from_secs(3));
    let elapsed = killed.elapsed();
    assert!(elapsed < TTL + Duration::from_secs(3), "{elapsed:?}");
    let mut waiter = waiter;
    waiter.wait_success(Duration::from_secs(10));
    redis.assert_clean(&name);
}

fn killed_waiter_leaves_the_queue() {
    let redis = Redis::shared();
    let name = unique("fleet-kill-waiter");
    runtime().block_on(async {
        let sem = open(&redis.url, &name, 2).await;
        let held = sem.acquire_many(2).await.unwrap();
        let mut waiter = Member::start(&redis, &name, 2, "wait", 1);
        waiter.expect_line("started", Duration::from_secs(10));
        let deadline = Instant::now() + Duration::from_secs(10);
        while sem.waiter_count().await.unwrap() != 1 {
            assert!(Instant::now() < deadline, "the waiter never queued");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let killed = Instant::now();
        waiter.kill();
        while sem.waiter_count().await.unwrap() != 0 {
            assert!(
                killed.elapsed() < TTL + Duration::from_secs(3),
                "the dead waiter's ticket stayed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(held);
        sem.flush().await;
    });
    redis.assert_clean(&name);
}

fn redis_restart_recovers() {
    let mut redis = Redis::private();
    let name = unique("fleet-restart");
    const CAPACITY: usize = 3;
    let inside = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let after_restart = Arc::new(AtomicUsize::new(0));
    let restarted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rt = runtime();
    let handles: Vec<Sem> = rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..3 {
            handles.push(open(&redis.url, &name, CAPACITY).await);
        }
        handles
    });
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..9 {
        let sem = handles[i % 3].clone();
        let (inside, max, errors, after_restart, restarted, stop) = (
            inside.clone(),
            max.clone(),
            errors.clone(),
            after_restart.clone(),
            restarted.clone(),
            stop.clone(),
        );
        tasks.push(rt.spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                match sem.acquire_timeout(Duration::from_secs(5)).await {
                    Ok(permit) => {
                        let now_inside = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(now_inside, Ordering::SeqCst);
                        if restarted.load(Ordering::SeqCst) {
                            after_restart.fetch_add(1, Ordering::SeqCst);
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                    Err(error) => {
                        assert!(error.is_redis(), "unexpected error {error}");
                        errors.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(500));
    redis.kill();
    std::thread::sleep(Duration::from_millis(300));
    redis.restart();
    restarted.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(15);
    while after_restart.load(Ordering::SeqCst) < 50 {
        assert!(Instant::now() < deadline, "no recovery after the restart");
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    rt.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert!(errors.load(Ordering::SeqCst) > 0, "nobody saw the restart");
    assert!(
        max.load(Ordering::SeqCst) <= CAPACITY,
        "{} held at once",
        max.load(Ordering::SeqCst)
    );
    drop(handles);
    redis.assert_clean(&name);
}
