//! A real Redis for the tests, and a check that a test left nothing behind in it.
//!
//! [`Redis::shared`] uses `ADMIT_REDIS_URL` if set (xtask starts one server for the whole
//! test step), else starts a private `redis-server` on a free loopback port without
//! persistence. [`Redis::private`] always starts one (for tests that restart it). A missing
//! `redis-server` fails the test with a one-line hint; nothing is skipped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A Redis server for a test: either the one named by `ADMIT_REDIS_URL`, or a child process
/// that dies with this value (or with the test process: it is tied to our stdin pipe).
pub struct Redis {
    pub url: String,
    port: u16,
    server: Option<Server>,
}

struct Server {
    /// The `sh` wrapper: closing its stdin makes it kill the server.
    shell: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
}

impl Redis {
    /// The test step's server if `ADMIT_REDIS_URL` is set, else a private one.
    pub fn shared() -> Self {
        match std::env::var("ADMIT_REDIS_URL") {
            Ok(url) if !url.is_empty() => Self {
                url,
                port: 0,
                server: None,
            },
            _ => Self::private(),
        }
    }

    /// A private `redis-server` on a free port of 127.0.0.1, without persistence.
    pub fn private() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("no free loopback port")
            .port();
        let mut redis = Self {
            url: format!("redis://127.0.0.1:{port}/"),
            port,
            server: None,
        };
        redis.start();
        redis
    }

    fn start(&mut self) {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            panic!("redis-server not found: install redis-server: apt-get install redis-server");
        }
        // The shell starts the server, prints its pid, and kills it when its stdin closes:
        // when this value drops, or when the test process dies in any way.
        let script = "redis-server --port \"$1\" --bind 127.0.0.1 --save '' --appendonly no \
                      --logfile '' --loglevel warning >/dev/null & pid=$!; echo $pid; read _; \
                      kill -9 $pid 2>/dev/null; wait";
        let mut shell = Command::new("sh")
            .args(["-c", script, "sh", &self.port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("could not start sh for redis-server");
        let mut line = String::new();
        BufReader::new(shell.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("reading redis-server's pid");
        let pid = line.trim().parse().expect("redis-server's pid");
        let stdin = shell.stdin.take();
        self.server = Some(Server { shell, stdin, pid });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if ping(&self.url) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not start",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the private server at once (`kill -9`: no chance to save anything).
    pub fn kill(&mut self) {
        let mut server = self
            .server
            .take()
            .expect("only a private server can be killed");
        let _ = Command::new("kill")
            .args(["-9", &server.pid.to_string()])
            .status();
        drop(server.stdin.take());
        let _ = server.shell.wait();
    }

    /// Starts the private server again on the same port, with empty state.
    pub fn restart(&mut self) {
        assert!(self.server.is_none(), "kill it first");
        self.start();
    }

    /// A synchronous connection for inspecting the state.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .expect("connecting to the test redis")
    }

    /// Asserts, within a few seconds (releases are asynchronous), that the semaphore `name`
    /// has every permit back and no ticket left: no holder, no waiter, `used` = 0.
    pub fn assert_clean(&self, name: &str) {
        let keys = admit_redis::semaphore_keys(name);
        let mut conn = self.conn();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let exists: usize = redis::cmd("EXISTS")
                .arg(&keys[1..])
                .query(&mut conn)
                .unwrap();
            let used: Option<i64> = redis::cmd("HGET")
                .arg(&keys[0])
                .arg("used")
                .query(&mut conn)
                .unwrap();
            if exists == 0 && used.unwrap_or(0) == 0 {
                return;
            }
            if Instant::now() > deadline {
                let dump: Vec<(String, String)> = keys[1..]
                    .iter()
                    .map(|key| {
                        let kind: String = redis::cmd("TYPE").arg(key).query(&mut conn).unwrap();
                        (key.clone(), kind)
                    })
                    .collect();
                panic!("`{name}` not clean: used = {used:?}, keys present: {dump:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            if let Some(mut stdin) = server.stdin.take() {
                let _ = stdin.write_all(b"\n");
            }
            let _ = server.shell.wait();
        }
    }
}

fn ping(url: &str) -> bool {
    redis::Client::open(url)
        .and_then(|client| client.get_connection_with_timeout(Duration::from_millis(200)))
        .and_then(|mut conn| redis::cmd("PING").query::<String>(&mut conn))
        .is_ok()
}

/// A name no other test (or earlier run on a shared server) uses.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
