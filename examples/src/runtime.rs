//! Choosing the runtime: [`RuntimeChoice`] (from `--runtime`), [`ExampleRuntime`] (what the
//! examples need beyond [`Runtime`]) and [`Example`] (a scenario written once, generic over
//! the runtime).

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll, ready};

use admit_async_std::AsyncStd;
use admit_runtime::BlockOn;
use admit_smol::Smol;
use admit_tokio::Tokio;
use futures_lite::{AsyncRead, AsyncWrite};

/// What the examples need from a runtime beyond the adapters'
/// [`Runtime`](admit_runtime::Runtime) and [`BlockOn`] (which `main` runs the example
/// with, timers and I/O enabled): its own TCP stream.
///
/// The TCP stream is the runtime's own (`tokio::net`, `async_std::net`, `smol::net`), so each
/// example exercises the I/O a user of that runtime would write.
pub trait ExampleRuntime: BlockOn {
    /// The name `--runtime` accepts.
    const NAME: &'static str;

    /// The runtime's TCP stream, seen through the `futures-io` traits.
    type TcpStream: AsyncRead + AsyncWrite + Send + Unpin + 'static;

    /// Connects to `addr`.
    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::TcpStream>> + Send;
}

impl ExampleRuntime for Tokio {
    const NAME: &'static str = "tokio";
    type TcpStream = TokioStream;

    async fn connect(addr: SocketAddr) -> io::Result<TokioStream> {
        tokio::net::TcpStream::connect(addr).await.map(TokioStream)
    }
}

impl ExampleRuntime for AsyncStd {
    const NAME: &'static str = "async-std";
    type TcpStream = async_std::net::TcpStream;

    async fn connect(addr: SocketAddr) -> io::Result<async_std::net::TcpStream> {
        async_std::net::TcpStream::connect(addr).await
    }
}

impl ExampleRuntime for Smol {
    const NAME: &'static str = "smol";
    type TcpStream = smol::net::TcpStream;

    async fn connect(addr: SocketAddr) -> io::Result<smol::net::TcpStream> {
        smol::net::TcpStream::connect(addr).await
    }
}

/// A tokio TCP stream seen through the `futures-io` traits the other runtimes use (what
/// `tokio_util::compat` does, in the few lines this needs).
#[derive(Debug)]
pub struct TokioStream(tokio::net::TcpStream);

impl AsyncRead for TokioStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buf = tokio::io::ReadBuf::new(buf);
        ready!(tokio::io::AsyncRead::poll_read(
            Pin::new(&mut self.0),
            cx,
            &mut buf
        ))?;
        Poll::Ready(Ok(buf.filled().len()))
    }
}

impl AsyncWrite for TokioStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut self.0), cx)
    }
}

/// A scenario written once, generic over the runtime; [`RuntimeChoice::run`] runs it on the
/// chosen one.
pub trait Example {
    /// What the scenario measured; printed by the example, checked by the tests.
    type Report;

    /// The scenario, on runtime `R`.
    fn run<R: ExampleRuntime>(self) -> impl Future<Output = Self::Report>;
}

/// The runtime an example runs on, as chosen with `--runtime`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuntimeChoice {
    /// `admit-tokio` (the default).
    #[default]
    Tokio,
    /// `admit-async-std`.
    AsyncStd,
    /// `admit-smol`.
    Smol,
}

impl RuntimeChoice {
    /// Every runtime, for tests that run an example on each.
    pub const ALL: [Self; 3] = [Self::Tokio, Self::AsyncStd, Self::Smol];

    /// Runs `example` to completion on this runtime.
    pub fn run<E: Example>(self, example: E) -> E::Report {
        match self {
            Self::Tokio => Tokio::block_on(example.run::<Tokio>()),
            Self::AsyncStd => AsyncStd::block_on(example.run::<AsyncStd>()),
            Self::Smol => Smol::block_on(example.run::<Smol>()),
        }
    }

    /// The name `--runtime` accepts.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Tokio => Tokio::NAME,
            Self::AsyncStd => AsyncStd::NAME,
            Self::Smol => Smol::NAME,
        }
    }
}

impl fmt::Display for RuntimeChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RuntimeChoice {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|choice| choice.name() == name)
            .ok_or_else(|| format!("unknown runtime `{name}`: expected tokio, async-std or smol"))
    }
}
