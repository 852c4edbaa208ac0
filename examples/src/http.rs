//! A minimal HTTP/1.1 client over the chosen runtime's TCP stream: one `GET` per connection,
//! always bounded in time, reading at most [`MAX_RESPONSE`] bytes.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::{ExampleRuntime, timeout};

/// The largest response the client reads; longer ones are malformed.
pub const MAX_RESPONSE: u64 = 1024 * 1024;

/// A response: its status code and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body (exactly `Content-Length` bytes).
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// No complete response within the time limit.
    TimedOut(Duration),
    /// The connection could not be made.
    Connect(String),
    /// The connection broke.
    Io(String),
    /// The bytes received were not a complete HTTP response.
    Malformed(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut(limit) => write!(f, "timed out after {} ms", limit.as_millis()),
            Self::Connect(error) => write!(f, "cannot connect: {error}"),
            Self::Io(error) => write!(f, "connection broke: {error}"),
            Self::Malformed(why) => write!(f, "malformed response: {why}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// `GET path` from the server at `addr`, giving up after `limit` (dropping the connection,
/// which the server notices).
///
/// # Errors
///
/// See [`FetchError`]. An HTTP error status is a [`Response`], not an error.
///
/// # Examples
///
/// ```
/// use admit_examples::{http, server::{Reply, Server}};
/// use admit_smol::{BlockOn, Smol};
/// use std::time::Duration;
///
/// let server = Server::start(|_| Reply::status(404)).unwrap();
/// let response = Smol::block_on(http::get::<Smol>(server.addr(), "/nope", Duration::from_secs(5)));
/// assert_eq!(response.unwrap().status, 404);
/// ```
pub async fn get<R: ExampleRuntime>(
    addr: SocketAddr,
    path: &str,
    limit: Duration,
) -> Result<Response, FetchError> {
    timeout::<R, _>(limit, exchange::<R>(addr, path))
        .await
        .unwrap_or(Err(FetchError::TimedOut(limit)))
}

/// `GET path`, for the calls whose only question is whether they succeeded: `Ok` on
/// `200 OK`, otherwise what went wrong, in words for a report.
pub(crate) async fn get_ok<R: ExampleRuntime>(
    addr: SocketAddr,
    path: &str,
    limit: Duration,
) -> Result<(), String> {
    match get::<R>(addr, path, limit).await {
        Ok(response) if response.status == 200 => Ok(()),
        Ok(response) => Err(format!("HTTP {}", response.status)),
        Err(error) => Err(error.to_string()),
    }
}

async fn exchange<R: ExampleRuntime>(addr: SocketAddr, path: &str) -> Result<Response, FetchError> {
    let io = |e: std::io::Error| FetchError::Io(e.to_string());
    let mut stream = R::connect(addr)
        .await
        .map_err(|e| FetchError::Connect(e.to_string()))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(io)?;
    stream.flush().await.map_err(io)?;
    let mut raw = Vec::new();
    (&mut stream)
        .take(MAX_RESPONSE)
        .read_to_end(&mut raw)
        .await
        .map_err(io)?;
    parse(&raw)
}

/// Parses a complete `Connection: close` response.
fn parse(raw: &[u8]) -> Result<Response, FetchError> {
    let malformed = |why: &str| FetchError::Malformed(why.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| malformed("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| malformed("headers not UTF-8"))?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| malformed("bad status line"))?;
    let length: Option<usize> = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    });
    match length {
        Some(length) if length != body.len() => Err(FetchError::Malformed(format!(
            "body of {} bytes, {length} announced",
            body.len()
        ))),
        _ => Ok(Response {
            status,
            body: body.to_vec(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response_and_checks_its_length() {
        let ok = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi").unwrap();
        assert_eq!((ok.status, ok.body.as_slice()), (200, &b"hi"[..]));
        let short = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi");
        assert!(matches!(short, Err(FetchError::Malformed(_))));
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
