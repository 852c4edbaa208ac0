//! A small HTTP/1.1 server on `127.0.0.1` for the examples: one thread per connection, a
//! routing function that decides each reply (status, body, how long to take), and the numbers
//! the examples check — how many connections it served at once, and when each request came.
//!
//! It is deliberately plain blocking `std::net` code on its own threads, so that it is the
//! same server whichever async runtime the client under test uses.
//!
//! Everything is bounded: it listens on a random port of the loopback interface only, serves
//! at most [`MAX_CONNECTIONS`], gives every socket read and write timeouts, and stops (joining
//! all its threads) when dropped.
//!
//! # Counting connections
//!
//! A connection counts as being served from the moment its thread starts until its reply is
//! decided, and it stops counting *before* the reply is written. So when a client has read its
//! reply and releases its permit, the server has already stopped counting it, and the next
//! client's connection can never be counted alongside it: with a semaphore of 3 the server sees
//! at most 3, exactly, with no allowance for timing.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Gauge;
use crate::support::lock;

/// The most connections a server accepts in its lifetime; later ones are refused.
pub const MAX_CONNECTIONS: usize = 10_000;

/// How long the server waits for a client to send its request or take its reply.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest request head the server reads.
const MAX_REQUEST: usize = 8 * 1024;

/// How the server answers one request.
///
/// # Examples
///
/// ```
/// use admit_examples::server::Reply;
/// use std::time::Duration;
///
/// let slow_failure = Reply::status(500).after(Duration::from_millis(200));
/// assert_eq!(slow_failure.status, 500);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// The response body.
    pub body: Vec<u8>,
    /// How long the server takes before replying (it stops early if the client hangs up).
    pub delay: Duration,
}

impl Reply {
    /// `200 OK` with `body`, at once.
    #[must_use]
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    /// `status` with its reason phrase as the body, at once.
    #[must_use]
    pub fn status(status: u16) -> Self {
        Self {
            status,
            body: reason(status).as_bytes().to_vec(),
            delay: Duration::ZERO,
        }
    }

    /// The same reply, sent after `delay`.
    #[must_use]
    pub fn after(self, delay: Duration) -> Self {
        Self { delay, ..self }
    }
}

/// The reason phrase of the status codes the examples use.
#[must_use]
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The request path (empty if the request could not be read).
    pub path: String,
    /// When the connection was accepted.
    pub arrived: Instant,
    /// The status the route chose (400 for an unreadable request).
    pub status: u16,
    /// Whether the client hung up before the reply was sent (e.g. it timed out).
    pub client_hung_up: bool,
}

/// A running server; stops when dropped.
///
/// # Examples
///
/// ```
/// use admit_examples::server::{Reply, Server};
/// use std::io::{Read, Write};
///
/// let server = Server::start(|path| Reply::ok(format!("you asked for {path}"))).unwrap();
/// let mut client = std::net::TcpStream::connect(server.addr()).unwrap();
/// client.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
/// let mut reply = String::new();
/// client.read_to_string(&mut reply).unwrap();
/// assert!(reply.starts_with("HTTP/1.1 200 OK"));
/// assert!(reply.ends_with("you asked for /hello"));
/// assert_eq!(server.hits().len(), 1);
/// ```
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

type Route = Box<dyn Fn(&str) -> Reply + Send + Sync>;

struct Shared {
    route: Route,
    serving: Gauge,
    hits: Mutex<Vec<Hit>>,
    stopping: AtomicBool,
    handlers: Mutex<Vec<JoinHandle<()>>>,
}

impl Server {
    /// Starts a server on `127.0.0.1` at a random port, answering each request path with
    /// `route(path)`.
    ///
    /// # Errors
    ///
    /// If the port cannot be bound or the accept thread cannot be started.
    pub fn start(route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            route: Box::new(route),
            serving: Gauge::default(),
            hits: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            handlers: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("example-server".into())
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(Self {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The address to connect to.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The most connections the server was serving at once (see the [module docs](self)).
    #[must_use]
    pub fn max_serving(&self) -> usize {
        self.shared.serving.max()
    }

    /// Every request so far, in the order they finished.
    #[must_use]
    pub fn hits(&self) -> Vec<Hit> {
        lock(&self.shared.hits).clone()
    }

    /// Stops accepting, waits for the connections in progress to finish, and joins every
    /// thread. Also done on drop.
    pub fn stop(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wakes the blocking `accept`; it sees `stopping` and returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = acceptor.join();
        let handlers = std::mem::take(&mut *lock(&self.shared.handlers));
        for handler in handlers {
            let _ = handler.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for _ in 0..MAX_CONNECTIONS {
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let arrived = Instant::now();
        let handler = {
            let shared = Arc::clone(shared);
            std::thread::Builder::new()
                .name("example-connection".into())
                .spawn(move || serve(&shared, stream, arrived))
        };
        let mut handlers = lock(&shared.handlers);
        handlers.retain(|handler| !handler.is_finished());
        // A connection that gets no thread is dropped, which the client sees as a reset.
        handlers.extend(handler.ok());
    }
}

fn serve(shared: &Shared, mut stream: TcpStream, arrived: Instant) {
    let serving = shared.serving.enter();
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let (path, reply) = match read_request_path(&mut stream) {
        Some(path) => {
            let reply = (shared.route)(&path);
            (path, reply)
        }
        None => (String::new(), Reply::status(400)),
    };
    let client_hung_up = wait_unless_hung_up(&mut stream, reply.delay);
    // Stop counting before replying; see the module docs.
    drop(serving);
    if !client_hung_up {
        let _ = write_reply(&mut stream, &reply);
    }
    lock(&shared.hits).push(Hit {
        path,
        arrived,
        status: reply.status,
        client_hung_up,
    });
}

/// Reads a request head and returns the path of its request line.
fn read_request_path(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut chunk = [0_u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST {
            return None;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut request_line = head.lines().next()?.split(' ');
    match (request_line.next(), request_line.next()) {
        (Some("GET"), Some(path)) => Some(path.to_owned()),
        _ => None,
    }
}

/// Waits `delay`, watching the socket: returns `true` at once if the client hangs up, as a
/// real server would notice a client that gave up (so a timed-out request stops counting).
fn wait_unless_hung_up(stream: &mut TcpStream, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    let mut scratch = [0_u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut scratch) {
            Ok(0) => return true,
            // Stray bytes after the request, a timeout or an interruption: keep waiting.
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return true,
        }
    }
}

fn write_reply(stream: &mut TcpStream, reply: &Reply) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        reply.status,
        reason(reply.status),
        reply.body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&reply.body)?;
    stream.flush()
}
