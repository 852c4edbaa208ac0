//! Connection limiting: many clients, at most `limit` connections to a server at once.
//!
//! Two ways of doing it, measured side by side against the same kind of [`Server`], which
//! counts the connections it serves at once:
//!
//! * **the semaphore**: each client awaits a permit of an [`admit::Semaphore`], connects,
//!   and drops the permit when done;
//! * **the counter and lock** of the classic asyncio blog post: a shared counter behind a
//!   mutex; a client sleeps and re-checks while the counter is at the limit, then increments
//!   it (a second critical section), connects, and decrements it.
//!
//! The counter works, roughly — but it checks and increments in two steps (a window in which
//! two clients can both see room for one), every waiting client wakes up on every tick to find
//! nothing has changed, and a freed slot stays empty until some client's next tick. The
//! semaphore makes the check and the take one step, wakes a client only to hand it a permit,
//! in arrival order, and hands a freed permit over at once. [`Report`] puts numbers on each.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use admit::Semaphore;
use futures_lite::future::poll_fn;

use crate::server::{Reply, Server};
use crate::support::lock;
use crate::{Example, ExampleRuntime, http};

/// The scenario's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// How many clients (all started at once).
    pub clients: usize,
    /// The most connections allowed at once.
    pub limit: usize,
    /// How long the server takes to answer each connection.
    pub hold: Duration,
    /// How long the counter version sleeps between checks (the blog post's 0.1 s).
    pub poll_interval: Duration,
    /// The time limit of each request.
    pub request_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            clients: 100,
            limit: 3,
            hold: Duration::from_millis(20),
            poll_interval: Duration::from_millis(100),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// What one strategy achieved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measured {
    /// The most connections the server served at once.
    pub server_max: usize,
    /// From the first client's start to the last one's end.
    pub elapsed: Duration,
    /// The clients' mean wait for their turn.
    pub mean_wait: Duration,
    /// The longest any client waited for its turn.
    pub max_wait: Duration,
    /// How often waiting clients were woken up.
    pub wakeups: u64,
    /// Wake-ups after which the client still could not go (it had to wait again).
    pub wasted_wakeups: u64,
    /// Requests that failed (each one is listed).
    pub failures: Vec<String>,
}

/// Both strategies, measured on one runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The runtime the clients ran on.
    pub runtime: &'static str,
    /// The parameters.
    pub config: Config,
    /// The semaphore version.
    pub semaphore: Measured,
    /// The counter-and-lock version.
    pub counter: Measured,
}

impl Report {
    /// Whether the semaphore kept the limit exactly: the server saw `limit` connections at
    /// once, never more, and every request succeeded.
    ///
    /// # Errors
    ///
    /// What did not hold.
    pub fn check(&self) -> Result<(), String> {
        let Self {
            config, semaphore, ..
        } = self;
        if semaphore.server_max != config.limit {
            return Err(format!(
                "with a semaphore of {}, the server saw at most {} connections at once",
                config.limit, semaphore.server_max
            ));
        }
        for (name, measured) in [("semaphore", semaphore), ("counter", &self.counter)] {
            if !measured.failures.is_empty() {
                return Err(format!(
                    "{} request(s) failed in the {name} version: {}",
                    measured.failures.len(),
                    measured.failures.join("; ")
                ));
            }
        }
        Ok(())
    }
}

impl Example for Config {
    type Report = Report;

    async fn run<R: ExampleRuntime>(self) -> Report {
        Report {
            runtime: R::NAME,
            config: self,
            semaphore: measure::<R, _, _>(self, with_semaphore::<R>).await,
            counter: measure::<R, _, _>(self, with_counter::<R>).await,
        }
    }
}

/// One client's experience.
struct ClientRun {
    waited: Duration,
    wakeups: u64,
    wasted_wakeups: u64,
    result: Result<(), String>,
}

/// Runs one strategy against a fresh server and sums up what the clients saw.
async fn measure<R, S, F>(config: Config, strategy: S) -> Measured
where
    R: ExampleRuntime,
    S: FnOnce(Config, SocketAddr) -> F,
    F: Future<Output = Vec<ClientRun>>,
{
    let server = Server::start(move |_| Reply::ok("hello").after(config.hold))
        .expect("cannot start the local server");
    let started = R::now();
    let runs = strategy(config, server.addr()).await;
    let elapsed = R::now() - started;
    let total_wait: Duration = runs.iter().map(|run| run.waited).sum();
    Measured {
        server_max: server.max_serving(),
        elapsed,
        mean_wait: total_wait / u32::try_from(runs.len().max(1)).unwrap_or(u32::MAX),
        max_wait: runs.iter().map(|run| run.waited).max().unwrap_or_default(),
        wakeups: runs.iter().map(|run| run.wakeups).sum(),
        wasted_wakeups: runs.iter().map(|run| run.wasted_wakeups).sum(),
        failures: runs
            .iter()
            .enumerate()
            .filter_map(|(i, run)| {
                let error = run.result.as_ref().err()?;
                Some(format!("client {i}: {error}"))
            })
            .collect(),
    }
}

/// The semaphore version: every client awaits a permit, then connects.
async fn with_semaphore<R: ExampleRuntime>(config: Config, addr: SocketAddr) -> Vec<ClientRun> {
    let connections = Arc::new(Semaphore::new(config.limit));
    let clients = (0..config.clients).map(|_| {
        let connections = Arc::clone(&connections);
        R::spawn(async move {
            let queued = R::now();
            // Counts the polls of the acquire future: after the first, each one is a wake-up.
            let (mut polls, mut pending) = (0_u64, 0_u64);
            let permit = {
                let mut acquire = pin!(connections.acquire());
                poll_fn(|cx| {
                    polls += 1;
                    let poll = acquire.as_mut().poll(cx);
                    pending += u64::from(poll.is_pending());
                    poll
                })
                .await
                .expect("the semaphore is never closed")
            };
            let waited = R::now() - queued;
            let result = http::get_ok::<R>(addr, "/", config.request_timeout).await;
            drop(permit);
            ClientRun {
                waited,
                wakeups: polls - 1,
                wasted_wakeups: pending.saturating_sub(1),
                result,
            }
        })
    });
    join_all(clients.collect()).await
}

/// The counter-and-lock version, as in the blog post: sleep while the counter is at the
/// limit, then increment it, connect, decrement it.
async fn with_counter<R: ExampleRuntime>(config: Config, addr: SocketAddr) -> Vec<ClientRun> {
    let connections = Arc::new(Mutex::new(0_usize));
    let clients = (0..config.clients).map(|_| {
        let connections = Arc::clone(&connections);
        R::spawn(async move {
            let queued = R::now();
            let mut wakeups = 0_u64;
            // The check and the increment are two critical sections: between them another
            // client may increment too.
            while *lock(&connections) >= config.limit {
                R::sleep(config.poll_interval).await;
                wakeups += 1;
            }
            *lock(&connections) += 1;
            let waited = R::now() - queued;
            let result = http::get_ok::<R>(addr, "/", config.request_timeout).await;
            *lock(&connections) -= 1;
            ClientRun {
                waited,
                wakeups,
                // Every wake-up but the last found the limit still reached.
                wasted_wakeups: wakeups.saturating_sub(1),
                result,
            }
        })
    });
    join_all(clients.collect()).await
}

async fn join_all<H: Future>(handles: Vec<H>) -> Vec<H::Output> {
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await);
    }
    outputs
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            runtime,
            config,
            semaphore,
            counter,
        } = self;
        writeln!(
            f,
            "{} clients on {runtime}, at most {} connections at once; the server holds each {} ms",
            config.clients,
            config.limit,
            config.hold.as_millis()
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<30} {:>10} {:>9} {:>10} {:>10} {:>19}",
            "", "server max", "total", "mean wait", "max wait", "wake-ups (wasted)"
        )?;
        let counter_name = format!(
            "counter + lock, poll {} ms",
            config.poll_interval.as_millis()
        );
        for (name, m) in [
            ("semaphore (admit)", semaphore),
            (counter_name.as_str(), counter),
        ] {
            writeln!(
                f,
                "{name:<30} {:>10} {:>7.2} s {:>7} ms {:>7} ms {:>19}",
                m.server_max,
                m.elapsed.as_secs_f64(),
                m.mean_wait.as_millis(),
                m.max_wait.as_millis(),
                format!("{} ({})", m.wakeups, m.wasted_wakeups),
            )?;
        }
        writeln!(f)?;
        writeln!(f, "Why the semaphore is the right tool, in these numbers:")?;
        let race = if counter.server_max > config.limit {
            format!(
                "and here it let {} in at once, over the limit of {}",
                counter.server_max, config.limit
            )
        } else {
            "it did not show this run, but nothing in the code prevents it".to_owned()
        };
        writeln!(
            f,
            "* correct by construction: checking for room and taking it is one step. The counter \
             checks and increments in two, so two clients can both see room for one ({race})."
        )?;
        writeln!(
            f,
            "* no polling: waiting clients were woken {} times, {} of them for nothing; the \
             counter's were woken {} times, {} of them for nothing.",
            semaphore.wakeups, semaphore.wasted_wakeups, counter.wakeups, counter.wasted_wakeups
        )?;
        writeln!(
            f,
            "* no idle slots: a released permit goes straight to the next client, so all {} \
             requests took {:.2} s; the counter's slots stay empty until someone's next tick: {:.2} s.",
            config.clients,
            semaphore.elapsed.as_secs_f64(),
            counter.elapsed.as_secs_f64()
        )?;
        write!(
            f,
            "* fair: clients go in arrival order, so the longest wait is {} ms; with polling \
             it is whoever happens to wake first: {} ms.",
            semaphore.max_wait.as_millis(),
            counter.max_wait.as_millis()
        )
    }
}
