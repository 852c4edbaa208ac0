//! A downloader in the style of the classic flags example: fetch many resources from a
//! server, at most K in flight, with a progress bar, a tally of what succeeded and failed,
//! and a report of which failed and why.
//!
//! The server is local and scripted (from a seed, so every run is the same): most flags come
//! quickly, some slowly, some are missing (404), some fail (500), and a few never come in
//! time. Every request is bounded: one attempt per resource, each with a time limit. The
//! limit of K in flight is a [`TaskPool`]; its progress hook drives the bar.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use admit_runtime::TaskPool;
use indicatif::{ProgressBar, ProgressStyle};

use crate::http::{self, FetchError};
use crate::server::{Hit, Reply, Server, reason};
use crate::{Example, ExampleRuntime, Gauge, SplitMix64};

/// The scenario's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// How many resources to fetch.
    pub resources: usize,
    /// The most requests in flight at once (`--concurrency`).
    pub concurrency: usize,
    /// The time limit of each request (`--timeout-ms`).
    pub timeout: Duration,
    /// The seed of the server's script.
    pub seed: u64,
    /// Whether to draw the progress bar (indicatif hides it anyway when stderr is not a
    /// terminal).
    pub progress_bar: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            resources: 200,
            concurrency: 8,
            timeout: Duration::from_secs(1),
            seed: 2024,
            progress_bar: true,
        }
    }
}

/// What the server is scripted to do for one resource, and so what the client should see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// A quick or slow `200 OK`, within the time limit.
    Ok,
    /// `404 Not Found`.
    NotFound,
    /// `500 Internal Server Error`.
    ServerError,
    /// A reply that would come long after the time limit.
    TimedOut,
}

/// One resource of the server's script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// Its two-letter "country code" (`aa`, `ab`, …).
    pub code: String,
    /// The path to request.
    pub path: String,
    /// What the server does.
    pub reply: Reply,
    /// What the client should see.
    pub expected: Expected,
}

impl Config {
    /// The server's script: mostly quick flags; 12% slow (up to half the time limit), 6%
    /// missing, 4% failing, 2% stuck (three times the time limit).
    #[must_use]
    pub fn script(&self) -> Vec<Resource> {
        let mut random = SplitMix64::new(self.seed);
        let millis = |random: &mut SplitMix64, low: u64, high: u64| {
            Duration::from_millis(low + random.below(high.saturating_sub(low).max(1)))
        };
        let timeout_ms = u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX);
        (0..self.resources)
            .map(|i| {
                let code = country_code(i);
                let path = format!("/flags/{code}/{code}.gif");
                let (reply, expected) =
                    match random.below(100) {
                        0..6 => (Reply::status(404), Expected::NotFound),
                        6..10 => (
                            Reply::status(500).after(millis(&mut random, 0, 50)),
                            Expected::ServerError,
                        ),
                        10..12 => (
                            Reply::ok(flag(&code, 1024)).after(self.timeout * 3),
                            Expected::TimedOut,
                        ),
                        12..24 => (
                            Reply::ok(flag(&code, 4096)).after(millis(
                                &mut random,
                                timeout_ms / 10,
                                timeout_ms / 2,
                            )),
                            Expected::Ok,
                        ),
                        _ => (
                            Reply::ok(flag(&code, 1024 + random.below(3072) as usize))
                                .after(millis(&mut random, 1, 20)),
                            Expected::Ok,
                        ),
                    };
                Resource {
                    code,
                    path,
                    reply,
                    expected,
                }
            })
            .collect()
    }
}

/// `aa`, `ab`, … `zz`, then `aaa`…: distinct codes for any number of resources.
fn country_code(i: usize) -> String {
    let letter = |n: usize| char::from(b'a' + u8::try_from(n % 26).unwrap_or(0));
    let mut code = String::new();
    if i >= 26 * 26 {
        code.push_str(&country_code(i / (26 * 26) - 1));
    }
    code.push(letter(i / 26 % 26));
    code.push(letter(i));
    code
}

/// A fake GIF of `size` bytes.
fn flag(code: &str, size: usize) -> Vec<u8> {
    let mut body = format!("GIF89a flag of {code} ").into_bytes();
    body.resize(size.max(body.len()), b'.');
    body
}

/// Why a download failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with an error status.
    Http(u16),
    /// No answer, or a broken one.
    Fetch(FetchError),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(status) => write!(f, "HTTP {status} {}", reason(*status)),
            Self::Fetch(error) => error.fmt(f),
        }
    }
}

impl Failure {
    fn matches(&self, expected: Expected) -> bool {
        matches!(
            (self, expected),
            (Self::Http(404), Expected::NotFound)
                | (Self::Http(500), Expected::ServerError)
                | (Self::Fetch(FetchError::TimedOut(_)), Expected::TimedOut)
        )
    }
}

/// What the download of every resource came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The runtime the client ran on.
    pub runtime: &'static str,
    /// The parameters.
    pub config: Config,
    /// The script, in input order.
    pub script: Vec<Resource>,
    /// Each resource's result (bytes received, or why not), in input order.
    pub results: Vec<Result<usize, Failure>>,
    /// The most requests in flight at once, counted by the client.
    pub max_in_flight: usize,
    /// The most connections the server served at once.
    pub server_max: usize,
    /// Every request the server saw.
    pub server_hits: Vec<Hit>,
    /// The whole download.
    pub elapsed: Duration,
}

impl Report {
    /// The failures, in input order, with their resource.
    pub fn failures(&self) -> impl Iterator<Item = (&Resource, &Failure)> {
        self.script
            .iter()
            .zip(&self.results)
            .filter_map(|(resource, result)| Some((resource, result.as_ref().err()?)))
    }

    /// Whether the download kept its bounds and saw what the server was scripted to do: at
    /// most K in flight, one request per resource, every result as scripted.
    ///
    /// # Errors
    ///
    /// What did not hold.
    pub fn check(&self) -> Result<(), String> {
        let Config {
            resources,
            concurrency,
            ..
        } = self.config;
        if self.max_in_flight > concurrency {
            return Err(format!(
                "{} requests were in flight at once, over the limit of {concurrency}",
                self.max_in_flight
            ));
        }
        let timeouts = self
            .failures()
            .filter(|(_, f)| matches!(f, Failure::Fetch(FetchError::TimedOut(_))))
            .count();
        // A timed-out request still counts at the server until it notices the hang-up.
        if self.server_max > concurrency + timeouts {
            return Err(format!(
                "the server served {} connections at once (limit {concurrency}, {timeouts} timeouts)",
                self.server_max
            ));
        }
        if self.server_hits.len() != resources {
            return Err(format!(
                "the server saw {} requests for {resources} resources",
                self.server_hits.len()
            ));
        }
        let unexpected: Vec<String> = self
            .script
            .iter()
            .zip(&self.results)
            .filter(|(resource, result)| match result {
                Ok(_) => resource.expected != Expected::Ok,
                Err(failure) => !failure.matches(resource.expected),
            })
            .map(|(resource, result)| {
                let got = match result {
                    Ok(bytes) => format!("{bytes} bytes"),
                    Err(failure) => failure.to_string(),
                };
                format!(
                    "{}: got {got}, scripted {:?}",
                    resource.code, resource.expected
                )
            })
            .collect();
        if !unexpected.is_empty() {
            return Err(format!("unexpected results: {}", unexpected.join("; ")));
        }
        Ok(())
    }
}

impl Example for Config {
    type Report = Report;

    async fn run<R: ExampleRuntime>(self) -> Report {
        let script = self.script();
        let replies: HashMap<String, Reply> = script
            .iter()
            .map(|r| (r.path.clone(), r.reply.clone()))
            .collect();
        let mut server = Server::start(move |path| {
            replies
                .get(path)
                .cloned()
                .unwrap_or_else(|| Reply::status(404))
        })
        .expect("cannot start the local server");
        let addr = server.addr();

        let bar = if self.progress_bar {
            ProgressBar::new(self.resources as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{elapsed:>3} [{wide_bar}] {pos}/{len} {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        // The pool reports how many finished; the downloads count their own failures.
        let failed = Arc::new(AtomicUsize::new(0));
        let pool = TaskPool::<R>::new(self.concurrency)
            .expect("--concurrency is at least 1")
            .on_progress({
                let (bar, failed) = (bar.clone(), Arc::clone(&failed));
                move |progress| {
                    bar.set_position(progress.finished as u64);
                    bar.set_message(format!(
                        "{} failed, {} in flight",
                        failed.load(Ordering::Relaxed),
                        progress.in_flight
                    ));
                }
            });

        let in_flight = Arc::new(Gauge::default());
        let timeout = self.timeout;
        let downloads = script.iter().map(|resource| {
            let (path, in_flight) = (resource.path.clone(), Arc::clone(&in_flight));
            let failed = Arc::clone(&failed);
            async move {
                let _counted = in_flight.enter();
                let result = match http::get::<R>(addr, &path, timeout).await {
                    Ok(response) if response.status == 200 => Ok(response.body.len()),
                    Ok(response) => Err(Failure::Http(response.status)),
                    Err(error) => Err(Failure::Fetch(error)),
                };
                if result.is_err() {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                result
            }
        });
        let started = R::now();
        // Each download runs as a task on the runtime; the results come back in input order.
        let results = pool
            .spawn_gather(downloads)
            .await
            .expect("the pool's semaphore is never closed");
        let elapsed = R::now() - started;
        bar.finish_and_clear();
        server.stop();

        Report {
            runtime: R::NAME,
            config: self,
            script,
            results,
            max_in_flight: in_flight.max(),
            server_max: server.max_serving(),
            server_hits: server.hits(),
            elapsed,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Config {
            resources,
            concurrency,
            timeout,
            ..
        } = self.config;
        let received: usize = self.results.iter().filter_map(|r| r.as_ref().ok()).sum();
        let succeeded = self.results.iter().filter(|r| r.is_ok()).count();
        let mut tally: Vec<(String, usize)> = Vec::new();
        for (_, failure) in self.failures() {
            let kind = match failure {
                Failure::Http(_) => failure.to_string(),
                Failure::Fetch(FetchError::TimedOut(limit)) => {
                    format!("timed out ({} ms)", limit.as_millis())
                }
                Failure::Fetch(_) => "network error".to_owned(),
            };
            match tally.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, count)) => *count += 1,
                None => tally.push((kind, 1)),
            }
        }
        writeln!(
            f,
            "{resources} downloads on {} in {:.2} s, at most {concurrency} in flight, {} ms limit each",
            self.runtime,
            self.elapsed.as_secs_f64(),
            timeout.as_millis()
        )?;
        writeln!(
            f,
            "  {succeeded} ok ({} KiB), {} failed",
            received / 1024,
            resources - succeeded
        )?;
        for (kind, count) in &tally {
            writeln!(f, "    {count:>4}  {kind}")?;
        }
        writeln!(f, "\nFailed:")?;
        for (resource, failure) in self.failures() {
            writeln!(f, "  {:<4} {:<20} {failure}", resource.code, resource.path)?;
        }
        let scripted_work: Duration = self.script.iter().map(|r| r.reply.delay.min(timeout)).sum();
        writeln!(
            f,
            "\nMost requests in flight: {} (limit {concurrency}); the server saw {} requests, one \
             per resource, and at most {} connections at once.",
            self.max_in_flight,
            self.server_hits.len(),
            self.server_max
        )?;
        write!(
            f,
            "One at a time, the server's delays alone would take {:.2} s.",
            scripted_work.as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_distinct() {
        let codes: std::collections::HashSet<String> = (0..1000).map(country_code).collect();
        assert_eq!(codes.len(), 1000);
        assert_eq!(country_code(0), "aa");
        assert_eq!(country_code(27), "bb");
    }

    #[test]
    fn script_has_every_kind_of_outcome() {
        let script = Config::default().script();
        for kind in [
            Expected::Ok,
            Expected::NotFound,
            Expected::ServerError,
            Expected::TimedOut,
        ] {
            assert!(script.iter().any(|r| r.expected == kind), "{kind:?}");
        }
    }
}
