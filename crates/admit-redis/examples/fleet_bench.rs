//! The fleet benchmark: several processes sharing one limit on one local Redis, admit-redis
//! against npm `redis-semaphore`, plus the `PING` round trip as the floor.
//!
//! Each contender runs as P processes (one thread each: a tokio current-thread runtime for
//! admit-redis, node for redis-semaphore) of T tasks that together acquire and release the
//! shared semaphore of K permits `ops` times, back to back. Per run: wall time per acquire
//! (all processes' acquires over the wall time from "go" to the last finish), client CPU time
//! per acquire (the processes' user + system time from `/proc` between "go" and their report,
//! in 10 ms clock ticks, so coarse for short runs), and the acquire latency
//! percentiles over every acquire of every process. Contenders alternate in rotating order
//! over the rounds; the rows (group `redis`) go to `$ADMIT_BENCH_OUT/redis.json` or
//! `target/admit-bench/redis.json`.
//!
//! The redis-semaphore contender runs if its npm packages are installed: in the directory
//! named by `ADMIT_REDIS_BENCH_NODE_MODULES` (where `cargo xtask bench` installs them, under
//! `target/`), or else in `crates/admit-redis/bench/node_modules` (`npm ci` there); otherwise
//! only admit-redis and the floor are measured, and the run says so.
//!
//! ```text
//! cargo run --release -p admit-redis --example fleet_bench -- [--quick] [--processes 4]
//!     [--tasks 8] [--limit 10] [--ops 4000] [--rounds 5]
//! ```

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use admit_redis::FleetSemaphore;
use admit_tokio::Tokio;
use serde_json::{Value, json};

struct Config {
    processes: usize,
    tasks: usize,
    limit: usize,
    ops: usize,
    rounds: usize,
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| {
            v.parse().unwrap_or_else(|_| panic!("bad value for {name}"))
        })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--worker") {
        worker(&args[1..]);
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let config = Config {
        processes: arg(&args, "--processes", 4),
        tasks: arg(&args, "--tasks", 8),
        limit: arg(&args, "--limit", 10),
        ops: arg(&args, "--ops", if quick { 1_500 } else { 4_000 }),
        rounds: arg(&args, "--rounds", if quick { 3 } else { 5 }),
    };
    let (url, _own) =
        admit_redis::test_server::url_or_start().unwrap_or_else(|error| panic!("{error}"));
    let bench_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench");
    let node_modules = std::env::var_os("ADMIT_REDIS_BENCH_NODE_MODULES")
        .map_or_else(|| bench_dir.join("node_modules"), PathBuf::from);
    let peer = node_modules.is_dir();
    if !peer {
        eprintln!(
            "fleet_bench: {} missing: redis-semaphore not measured (run `npm ci` in {})",
            node_modules.display(),
            bench_dir.display()
        );
    }
    let version = redis_version(&url);
    let runtime = format!("redis {version} local");
    let workload = format!(
        "P{}-T{}-K{} ops={}",
        config.processes, config.tasks, config.limit, config.ops
    );

    let (ping_p50, ping_p99) = ping_floor(&url);
    println!("PING round trip: p50 {ping_p50} ns, p99 {ping_p99} ns");

    let mut contenders: Vec<&str> = vec!["admit-redis"];
    if peer {
        contenders.push("redis-semaphore");
    }
    let mut results: Vec<Vec<Run>> = vec![Vec::new(); contenders.len()];
    for round in 0..config.rounds {
        for k in 0..contenders.len() {
            let index = (round + k) % contenders.len();
            let key = format!("bench-{}-{round}-{index}", std::process::id());
            let run = run_once(
                contenders[index],
                &url,
                &key,
                &config,
                &bench_dir,
                &node_modules,
            );
            println!(
                "round {round} {:16} {:>9.0} ns/acquire  cpu {:>9.0} ns  p50 {:>9} ns  p99 {:>10} ns  max {:>10} ns",
                contenders[index],
                run.wall_ns,
                run.cpu_ns.unwrap_or(f64::NAN),
                run.p50,
                run.p99,
                run.max
            );
            results[index].push(run);
        }
    }

    let mut rows = vec![json!({
        "workload": "PING round trip",
        "runtime": runtime,
        "contender": "redis PING",
        "fair": true,
        "rounds": 1,
        "wall_ns": { "median": ping_p50 as f64, "min": ping_p50 as f64, "max": ping_p50 as f64 },
        "cpu_ns": null,
        "extra": { "p50_ns": ping_p50, "p99_ns": ping_p99 },
    })];
    for (contender, runs) in contenders.iter().zip(&results) {
        let walls: Vec<f64> = runs.iter().map(|r| r.wall_ns).collect();
        let cpus: Vec<f64> = runs.iter().filter_map(|r| r.cpu_ns).collect();
        let median_u64 = |f: fn(&Run) -> u64| {
            let mut v: Vec<u64> = runs.iter().map(f).collect();
            v.sort_unstable();
            v[v.len() / 2]
        };
        rows.push(json!({
            "workload": workload,
            "runtime": runtime,
            "contender": contender,
            "fair": *contender == "admit-redis",
            "rounds": runs.len(),
            "wall_ns": {
                "median": median(&walls),
                "min": walls.iter().copied().fold(f64::INFINITY, f64::min),
                "max": walls.iter().copied().fold(0.0, f64::max),
            },
            "cpu_ns": if cpus.is_empty() { Value::Null } else { json!({ "mean": cpus.iter().sum::<f64>() / cpus.len() as f64 }) },
            "extra": {
                "p50_ns": median_u64(|r| r.p50),
                "p99_ns": median_u64(|r| r.p99),
                "max_ns": median_u64(|r| r.max),
                "acquires_per_s": (1e9 / median(&walls)).round(),
                "ping_p50_ns": ping_p50,
            },
        }));
    }
    let report = json!({
        "group": "redis",
        "title": "Fleet semaphore: processes sharing one limit on one local Redis (acquire + release)",
        "unit": "ns/acquire",
        "command": format!("cargo run --release -p admit-redis --example fleet_bench --{}", if quick { " --quick" } else { "" }),
        "rows": rows,
    });
    let dir = std::env::var_os("ADMIT_BENCH_OUT").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/admit-bench"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("creating the bench output directory");
    let path = dir.join("redis.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap()).expect("writing rows");
    println!("rows written to {}", path.display());
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[derive(Clone)]
struct Run {
    wall_ns: f64,
    cpu_ns: Option<f64>,
    p50: u64,
    p99: u64,
    max: u64,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Worker {
    fn line(&mut self) -> String {
        self.lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("a bench worker ended early: {:?}", self.child.try_wait()))
    }
}

/// One run of one contender: P processes, started, released together, measured.
fn run_once(
    contender: &str,
    url: &str,
    key: &str,
    config: &Config,
    bench_dir: &Path,
    node_modules: &Path,
) -> Run {
    let per_process = config.ops / config.processes;
    let mut workers: Vec<Worker> = (0..config.processes)
        .map(|_| {
            let mut command = if contender == "admit-redis" {
                let mut command = Command::new(std::env::current_exe().unwrap());
                command.arg("--worker");
                command
            } else {
                let mut command = Command::new("node");
                // `require` looks in NODE_PATH too, so the packages may live under target/.
                command
                    .arg(bench_dir.join("peer.js"))
                    .env("NODE_PATH", node_modules);
                command
            };
            let mut child = command
                .args([url, key])
                .args([config.limit, config.tasks, per_process].map(|n| n.to_string()))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("starting a {contender} worker: {e}"));
            let stdin = child.stdin.take().unwrap();
            let lines = BufReader::new(child.stdout.take().unwrap()).lines();
            Worker {
                child,
                stdin,
                lines,
            }
        })
        .collect();
    for worker in &mut workers {
        assert_eq!(worker.line(), "ready");
    }
    // CPU time from here on only: start-up (node loading its modules) is not the contender's
    // cost per acquire.
    let cpu_at_start: Vec<Option<u64>> = workers
        .iter()
        .map(|w| cpu_time_ticks(w.child.id()))
        .collect();
    let start = Instant::now();
    for worker in &mut workers {
        worker.stdin.write_all(b"go\n").unwrap();
        worker.stdin.flush().unwrap();
    }
    let mut latencies = Vec::with_capacity(config.ops);
    let mut ops = 0;
    let mut reports = Vec::new();
    for worker in &mut workers {
        reports.push(worker.line());
    }
    let wall = start.elapsed();
    let mut cpu_ticks = Some(0u64);
    for ((worker, report), at_start) in workers.iter_mut().zip(&reports).zip(&cpu_at_start) {
        let value: Value = serde_json::from_str(report).expect("a worker's report");
        ops += value["ops"].as_u64().unwrap() as usize;
        latencies.extend(
            value["lat"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap()),
        );
        let used = cpu_time_ticks(worker.child.id())
            .zip(*at_start)
            .map(|(end, start)| end - start);
        cpu_ticks = cpu_ticks.zip(used).map(|(a, b)| a + b);
        worker.stdin.write_all(b"exit\n").unwrap();
        worker.stdin.flush().unwrap();
    }
    for worker in &mut workers {
        let status = worker.child.wait().unwrap();
        assert!(status.success(), "a {contender} worker failed");
    }
    assert_eq!(ops, per_process * config.processes);
    latencies.sort_unstable();
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    // Linux reports CPU time in clock ticks of 10 ms (USER_HZ = 100).
    let cpu_ns = cpu_ticks.map(|ticks| ticks as f64 * 10_000_000.0 / ops as f64);
    Run {
        wall_ns: wall.as_nanos() as f64 / ops as f64,
        cpu_ns,
        p50: pick(0.50),
        p99: pick(0.99),
        max: *latencies.last().unwrap(),
    }
}

/// User + system time of a live process, in clock ticks, from `/proc/<pid>/stat`.
fn cpu_time_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// A worker process: `--worker <url> <key> <limit> <tasks> <ops>`.
fn worker(args: &[String]) {
    let [url, key, limit, tasks, ops] = args else {
        panic!("usage: fleet_bench --worker <url> <key> <limit> <tasks> <ops>");
    };
    let (limit, tasks, ops): (usize, usize, usize) = (
        limit.parse().unwrap(),
        tasks.parse().unwrap(),
        ops.parse().unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let sem = FleetSemaphore::<Tokio>::connect(url, key, limit).await.unwrap();
        println!("ready");
        let mut line = String::new();
        let mut stdin = BufReader::new(std::io::stdin());
        stdin.read_line(&mut line).unwrap();
        let left = Arc::new(AtomicUsize::new(ops));
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let (sem, left) = (sem.clone(), left.clone());
            handles.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let t0 = Instant::now();
                    let permit = sem.acquire().await.unwrap();
                    latencies.push(t0.elapsed().as_nanos() as u64);
                    drop(permit);
                }
                latencies
            }));
        }
        let mut latencies = Vec::new();
        for handle in handles {
            latencies.extend(handle.await.unwrap());
        }
        let elapsed = start.elapsed();
        sem.flush().await;
        println!(
            "{}",
            json!({ "ops": latencies.len(), "elapsed_ns": elapsed.as_nanos() as u64, "lat": latencies })
        );
        line.clear();
        stdin.read_line(&mut line).unwrap();
    });
}

fn ping_floor(url: &str) -> (u64, u64) {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let mut samples: Vec<u64> = (0..2_000)
        .map(|_| {
            let t0 = Instant::now();
            let _: String = redis::cmd("PING").query(&mut conn).unwrap();
            t0.elapsed().as_nanos() as u64
        })
        .collect();
    samples.sort_unstable();
    (
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
    )
}

fn redis_version(url: &str) -> String {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let info: String = redis::cmd("INFO").arg("server").query(&mut conn).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .map_or_else(|| "?".to_owned(), |v| v.trim().to_owned())
}
