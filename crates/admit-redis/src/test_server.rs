//! A private `redis-server` for tests, examples and demos (feature `test-server`).
//!
//! [`RedisServer::start`] runs `redis-server --port P --bind 127.0.0.1 --save '' --appendonly no`
//! on a free loopback port and returns once it answers `PING`. The server is stopped when the
//! value drops, and also when the process that started it ends in any way (even `kill -9`):
//! it runs under a small `sh` wrapper that kills it as soon as the wrapper's stdin, a pipe
//! held by this process, closes. [`url_or_start`] uses `ADMIT_REDIS_URL` when it is set.
//!
//! A missing `redis-server` is an error whose message is the one-line hint
//! `install redis-server: apt-get install -y redis-server`.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The hint a missing `redis-server` fails with.
const HINT: &str = "install redis-server: apt-get install -y redis-server";

/// How long a new server gets to answer `PING`.
const START_LIMIT: Duration = Duration::from_secs(10);

/// A `redis-server` child on 127.0.0.1 without persistence, stopped on drop.
///
/// # Examples
///
/// ```
/// use admit_redis::test_server::RedisServer;
///
/// let server = RedisServer::start()?;
/// let mut conn = redis::Client::open(server.url())?.get_connection()?;
/// let pong: String = redis::cmd("PING").query(&mut conn)?;
/// assert_eq!(pong, "PONG");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RedisServer {
    url: String,
    port: u16,
    /// The `sh` wrapper: closing its stdin makes it kill the server.
    shell: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
}

impl RedisServer {
    /// Starts a server on a free port of 127.0.0.1 and waits until it answers `PING`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::NotFound`] with the install hint if `redis-server` is not installed;
    /// another [`io::Error`] if no loopback port is free or the server does not answer within
    /// 10 s.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = admit_redis::test_server::RedisServer::start()?;
    /// assert!(server.url().starts_with("redis://127.0.0.1:"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start() -> io::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Self::start_on(port)
    }

    /// Starts a server on `port` of 127.0.0.1 (for instance the port of one that was
    /// [killed](Self::kill), to restart it with empty state) and waits until it answers `PING`.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start); also if the port is taken (the server does not come up).
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_redis::test_server::RedisServer;
    ///
    /// let server = RedisServer::start()?;
    /// let port = server.port();
    /// server.kill();
    /// let again = RedisServer::start_on(port)?;
    /// assert_eq!(again.port(), port);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start_on(port: u16) -> io::Result<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            return Err(io::Error::new(io::ErrorKind::NotFound, HINT));
        }
        // The shell starts the server, prints its pid, and kills it when its stdin closes:
        // when this value drops, or when this process dies in any way.
        let script = "redis-server --port \"$1\" --bind 127.0.0.1 --save '' --appendonly no \
                      --logfile '' --loglevel warning >/dev/null & pid=$!; echo $pid; read _; \
                      kill -9 $pid 2>/dev/null; wait";
        let mut shell = Command::new("sh")
            .args(["-c", script, "sh", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        if let Some(stdout) = shell.stdout.take() {
            BufReader::new(stdout).read_line(&mut line)?;
        }
        let stdin = shell.stdin.take();
        let pid = line.trim().parse().unwrap_or(0);
        let server = Self {
            url: format!("redis://127.0.0.1:{port}/"),
            port,
            shell,
            stdin,
            pid,
        };
        if pid == 0 {
            return Err(io::Error::other("redis-server's pid could not be read"));
        }
        let deadline = Instant::now() + START_LIMIT;
        while !ping(&server.url) {
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("redis-server on 127.0.0.1:{port} did not start within 10 s"),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(server)
    }

    /// The server's URL, `redis://127.0.0.1:PORT/`.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = admit_redis::test_server::RedisServer::start()?;
    /// assert_eq!(server.url(), format!("redis://127.0.0.1:{}/", server.port()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's port on 127.0.0.1.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = admit_redis::test_server::RedisServer::start()?;
    /// assert_ne!(server.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server at once (`kill -9`: no chance to save or answer anything) and waits
    /// for it to be gone. Dropping the value stops it the same way.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = admit_redis::test_server::RedisServer::start()?;
    /// let url = server.url().to_owned();
    /// server.kill();
    /// assert!(redis::Client::open(url.as_str()).unwrap().get_connection().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .stderr(Stdio::null())
            .status();
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let _ = self.shell.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            self.stop();
        }
    }
}

/// `ADMIT_REDIS_URL` when it is set and not empty (with no server), else the URL of a
/// private server [started](RedisServer::start) here, returned with it: keep the server
/// alive as long as the URL is used.
///
/// # Errors
///
/// As [`RedisServer::start`], when a server has to be started.
///
/// # Examples
///
/// ```
/// let (url, _server) = admit_redis::test_server::url_or_start()?;
/// assert!(url.starts_with("redis://"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn url_or_start() -> io::Result<(String, Option<RedisServer>)> {
    match std::env::var("ADMIT_REDIS_URL") {
        Ok(url) if !url.is_empty() => Ok((url, None)),
        _ => {
            let server = RedisServer::start()?;
            Ok((server.url.clone(), Some(server)))
        }
    }
}

fn ping(url: &str) -> bool {
    redis::Client::open(url)
        .and_then(|client| client.get_connection_with_timeout(Duration::from_millis(200)))
        .and_then(|mut conn| redis::cmd("PING").query::<String>(&mut conn))
        .is_ok()
}
