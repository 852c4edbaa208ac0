//! A limit shared by several processes: P worker processes, each with T tasks, call one local
//! HTTP server through a fleet semaphore of K on Redis; the server counts the requests it
//! serves at once and must have seen exactly K.
//!
//! The server stops counting a request before it writes the reply, and a worker releases its
//! permit only after reading the reply, so a correct fleet-wide limit shows a maximum of K,
//! never K + 1, with no allowance for timing; and with more callers than K it reaches K.
//!
//! Redis: `--redis URL`, else `ADMIT_REDIS_URL`, else a `redis-server` started here on a free
//! loopback port without persistence (and stopped at the end).
//!
//! ```text
//! cargo run -p admit-examples --bin fleet_limit [-- --processes 4 --limit 3]
//! ```

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use admit_examples::cli::{self, Options};
use admit_examples::http;
use admit_examples::server::{Reply, Server};
use admit_redis::FleetSemaphore;
use admit_redis::test_server::url_or_start;
use admit_tokio::{BlockOn, Tokio};

const USAGE: &str = "\
usage: cargo run -p admit-examples --bin fleet_limit -- [options]
  --processes N   worker processes (default 4)
  --tasks N       tasks per worker (default 4)
  --requests N    requests per worker (default 40)
  --limit K       requests allowed at once across all workers (default 3)
  --hold-ms MS    how long the server takes per request (default 20)
  --redis URL     the Redis to share the limit through (default: ADMIT_REDIS_URL, or start one)";

const KNOWN: &[&str] = &[
    "processes",
    "tasks",
    "requests",
    "limit",
    "hold-ms",
    "redis",
    "worker",
    "server",
    "name",
];

fn main() -> ExitCode {
    let options = cli::parse_or_exit(USAGE, KNOWN);
    let result = if options.get("worker", false).unwrap_or(false) {
        worker(&options)
    } else {
        coordinator(&options)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fleet_limit: {error}");
            ExitCode::FAILURE
        }
    }
}

fn coordinator(options: &Options) -> Result<(), String> {
    let processes: usize = options.get("processes", 4)?;
    let tasks: usize = options.get("tasks", 4)?;
    let requests: usize = options.get("requests", 40)?;
    let limit: usize = options.get("limit", 3)?;
    let hold = Duration::from_millis(options.get("hold-ms", 20)?);
    if limit == 0 || processes * tasks <= limit {
        return Err("need --limit >= 1 and more callers (processes × tasks) than --limit".into());
    }
    let (url, own_redis) = match options.get("redis", String::new())? {
        url if !url.is_empty() => (url, None),
        _ => url_or_start().map_err(|e| e.to_string())?,
    };
    let server = Server::start(move |_| Reply::ok("ok").after(hold)).map_err(|e| e.to_string())?;
    let name = format!("fleet-limit-{}", std::process::id());
    println!(
        "fleet_limit: {processes} processes × {tasks} tasks, {requests} requests each, limit {limit}"
    );
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..processes {
        let child = Command::new(&exe)
            .args(["--worker", "true", "--redis", &url, "--name", &name])
            .args(["--server", &server.addr().to_string()])
            .args(["--limit", &limit.to_string(), "--tasks", &tasks.to_string()])
            .args(["--requests", &requests.to_string()])
            .spawn()
            .map_err(|e| e.to_string())?;
        workers.push(child);
    }
    let mut failures = 0;
    for mut worker in workers {
        match worker.wait() {
            Ok(status) if status.success() => {}
            _ => failures += 1,
        }
    }
    let max = server.max_serving();
    let served = server.hits().len();
    println!(
        "served {served} requests in {:.2?}; max concurrent: {max} (limit {limit})",
        started.elapsed()
    );
    drop(own_redis);
    if failures > 0 {
        return Err(format!("{failures} worker(s) failed"));
    }
    if served != processes * requests {
        return Err(format!(
            "served {served}, expected {}",
            processes * requests
        ));
    }
    if max != limit {
        return Err(format!(
            "the server saw {max} requests at once, not exactly {limit}"
        ));
    }
    println!("ok: the server saw exactly {limit} at once");
    Ok(())
}

fn worker(options: &Options) -> Result<(), String> {
    let url: String = options.get("redis", String::new())?;
    let name: String = options.get("name", String::new())?;
    let addr: std::net::SocketAddr = options.get("server", "127.0.0.1:0".parse().unwrap())?;
    let limit: usize = options.get("limit", 3)?;
    let tasks: usize = options.get("tasks", 4)?;
    let requests: usize = options.get("requests", 40)?;
    Tokio::block_on(async move {
        let sem = FleetSemaphore::<Tokio>::connect(&url, &name, limit)
            .await
            .map_err(|e| e.to_string())?;
        let mut handles = Vec::new();
        for task in 0..tasks {
            let sem = sem.clone();
            // Requests spread over the tasks; the first ones take the remainder.
            let mine = requests / tasks + usize::from(task < requests % tasks);
            handles.push(tokio::spawn(async move {
                for _ in 0..mine {
                    let permit = sem.acquire().await.map_err(|e| e.to_string())?;
                    let response = http::get::<Tokio>(addr, "/", Duration::from_secs(10)).await;
                    drop(permit);
                    match response {
                        Ok(response) if response.status == 200 => {}
                        other => return Err(format!("request failed: {other:?}")),
                    }
                }
                Ok::<(), String>(())
            }));
        }
        for handle in handles {
            handle.await.map_err(|e| e.to_string())??;
        }
        sem.flush().await;
        Ok(())
    })
}
