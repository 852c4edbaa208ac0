//! A real Redis for the tests, and a check that a test left nothing behind in it.
//!
//! [`Redis::shared`] uses `ADMIT_REDIS_URL` if set (xtask starts one server for the whole
//! test step), else starts a private `redis-server` on a free loopback port without
//! persistence. [`Redis::private`] always starts one (for tests that restart it). A missing
//! `redis-server` fails the test with a one-line hint; nothing is skipped.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use admit_redis::test_server::RedisServer;

/// A Redis server for a test: either the one named by `ADMIT_REDIS_URL`, or a private
/// [`RedisServer`] that dies with this value (or with the test process).
pub struct Redis {
    pub url: String,
    port: u16,
    server: Option<RedisServer>,
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
        let server = RedisServer::start().unwrap_or_else(|error| panic!("{error}"));
        Self {
            url: server.url().to_owned(),
            port: server.port(),
            server: Some(server),
        }
    }

    /// Kills the private server at once (`kill -9`: no chance to save anything).
    pub fn kill(&mut self) {
        self.server
            .take()
            .expect("only a private server can be killed")
            .kill();
    }

    /// Starts the private server again on the same port, with empty state.
    pub fn restart(&mut self) {
        assert!(self.server.is_none(), "kill it first");
        self.server =
            Some(RedisServer::start_on(self.port).unwrap_or_else(|error| panic!("{error}")));
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
