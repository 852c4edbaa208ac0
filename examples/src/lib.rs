//! The code behind admit's runnable examples, written once for every runtime.
//!
//! Each example in `examples/examples/` is a thin `main`: it parses its arguments
//! ([`cli`]), picks the runtime (`--runtime tokio|async-std|smol`, [`RuntimeChoice`]), runs
//! the scenario's `run` function from one of the modules below, prints the report, and exits
//! non-zero if what the example demonstrates did not hold. The integration test
//! `tests/run_examples.rs` calls the same `run` functions with smaller parameters on every
//! runtime, so CI checks what the examples claim.
//!
//! The scenarios:
//!
//! * [`connection_limit`]: 100 clients, at most 3 connections to a server, with a semaphore
//!   and with the hand-made counter-and-lock of the classic blog post, measured side by side;
//! * [`pool_wait`]: 10 jobs of random length, 2 at a time, through a `TaskPool`;
//! * [`downloader`]: 200 downloads with at most K in flight, a progress bar, timeouts, and a
//!   report of what failed and why;
//! * [`rate_limited_client`]: at most N calls per second against a server, measured.
//!
//! The support code: [`server`] (a small threaded HTTP/1.1 server on 127.0.0.1 that counts
//! the connections it serves at once and stops when dropped), [`http`] (a minimal client over
//! the chosen runtime's own TCP stream), [`ExampleRuntime`] (what the examples need beyond
//! [`admit_runtime::Runtime`]: a TCP connect and a `block_on` with I/O enabled), and small
//! helpers ([`Gauge`], [`SplitMix64`], [`timeout`]).
//!
//! What does not live here: anything the adapters already provide. The examples use
//! `admit_tokio`, `admit_async_std` and `admit_smol` exactly as a user would.
#![forbid(unsafe_code)]

pub mod cli;
pub mod connection_limit;
pub mod downloader;
pub mod http;
pub mod pool_wait;
pub mod rate_limited_client;
mod runtime;
pub mod server;
mod support;

pub use runtime::{Example, ExampleRuntime, RuntimeChoice, TokioStream};
pub use support::{Gauge, GaugeGuard, SplitMix64, timeout};

// The workspace README's examples run as doctests here, where every adapter is a dependency
// (the core crate, whose front page it once was, cannot depend on the adapters).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadme;
