//! `pool_wait`: ten jobs of random length, at most two at a time, through a
//! [`TaskPool`], printing as each starts and ends.
//!
//! The pool takes jobs in input order and starts the next one the moment a running one
//! finishes, so the two slots are never idle while jobs wait, and never more than two run.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use admit_runtime::TaskPool;

use crate::support::lock;
use crate::{Example, ExampleRuntime, Gauge, SplitMix64};

/// The scenario's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// How many jobs.
    pub jobs: usize,
    /// The most jobs running at once.
    pub limit: usize,
    /// The seed of the jobs' random durations (the same durations on every run).
    pub seed: u64,
    /// The shortest job.
    pub shortest: Duration,
    /// The longest job.
    pub longest: Duration,
    /// Whether to print each start and end as it happens.
    pub print_events: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            jobs: 10,
            limit: 2,
            seed: 42,
            shortest: Duration::from_millis(50),
            longest: Duration::from_millis(400),
            print_events: true,
        }
    }
}

impl Config {
    /// The jobs' durations, drawn from the seed.
    #[must_use]
    pub fn durations(&self) -> Vec<Duration> {
        let mut random = SplitMix64::new(self.seed);
        let spread = u64::try_from(self.longest.saturating_sub(self.shortest).as_micros())
            .unwrap_or(u64::MAX);
        (0..self.jobs)
            .map(|_| self.shortest + Duration::from_micros(random.below(spread.max(1))))
            .collect()
    }
}

/// A job starting or ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Since the pool started.
    pub at: Duration,
    /// The job's index.
    pub job: usize,
    /// `true` for a start, `false` for an end.
    pub start: bool,
    /// Jobs running just after the event.
    pub in_flight: usize,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.start { "starts" } else { "ends  " };
        write!(
            f,
            "[{:>5} ms] job {:>2} {what}   (running: {})",
            self.at.as_millis(),
            self.job,
            self.in_flight
        )
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The runtime the pool ran on.
    pub runtime: &'static str,
    /// The parameters.
    pub config: Config,
    /// Every start and end, in order.
    pub events: Vec<Event>,
    /// The most jobs running at once, as the jobs counted themselves.
    pub max_in_flight: usize,
    /// The most jobs in flight the pool reported to its progress hook.
    pub max_reported_in_flight: usize,
    /// How many jobs finished.
    pub finished: usize,
    /// From the first start to the last end.
    pub elapsed: Duration,
}

impl Report {
    /// The order in which the jobs started.
    #[must_use]
    pub fn start_order(&self) -> Vec<usize> {
        self.events
            .iter()
            .filter(|e| e.start)
            .map(|e| e.job)
            .collect()
    }

    /// Whether the pool ran every job, with exactly `limit` in flight at the busiest.
    ///
    /// # Errors
    ///
    /// What did not hold.
    pub fn check(&self) -> Result<(), String> {
        let limit = self.config.limit.min(self.config.jobs);
        if self.max_in_flight != limit {
            return Err(format!(
                "at most {} jobs ran at once, expected exactly {limit}",
                self.max_in_flight
            ));
        }
        if self.max_reported_in_flight > limit {
            return Err(format!(
                "the pool reported {} in flight, over its limit of {limit}",
                self.max_reported_in_flight
            ));
        }
        if self.finished != self.config.jobs {
            return Err(format!(
                "{} of {} jobs finished",
                self.finished, self.config.jobs
            ));
        }
        Ok(())
    }
}

impl Example for Config {
    type Report = Report;

    async fn run<R: ExampleRuntime>(self) -> Report {
        let durations = self.durations();
        if self.print_events {
            let listed: Vec<String> = durations
                .iter()
                .enumerate()
                .map(|(i, d)| format!("{i}: {} ms", d.as_millis()))
                .collect();
            println!(
                "{} jobs on {}, at most {} at a time; durations (seed {}): {}\n",
                self.jobs,
                R::NAME,
                self.limit,
                self.seed,
                listed.join(", ")
            );
        }
        let max_reported = Arc::new(Mutex::new(0_usize));
        let pool = TaskPool::<R>::new(self.limit)
            .expect("the limit is at least 1")
            .on_progress({
                let max_reported = Arc::clone(&max_reported);
                move |progress| {
                    let mut max = lock(&max_reported);
                    *max = (*max).max(progress.in_flight);
                }
            });
        let gauge = Gauge::default();
        let events = Mutex::new(Vec::new());
        let started = Instant::now();
        let record = |job, start| {
            let event = Event {
                at: started.elapsed(),
                job,
                start,
                in_flight: gauge.current(),
            };
            if self.print_events {
                println!("{event}");
            }
            lock(&events).push(event);
        };
        // The jobs borrow the gauge and the log: `gather` polls them in place, no spawning.
        let jobs = durations.iter().enumerate().map(|(job, &duration)| {
            let (gauge, record) = (&gauge, &record);
            async move {
                let running = gauge.enter();
                record(job, true);
                R::sleep(duration).await;
                drop(running);
                record(job, false);
            }
        });
        pool.gather(jobs)
            .await
            .expect("the pool's semaphore is never closed");
        let elapsed = started.elapsed();
        let events = events.into_inner().unwrap_or_else(PoisonError::into_inner);
        Report {
            runtime: R::NAME,
            config: self,
            // Counted from the jobs' own end events, not from the pool's outputs.
            finished: events.iter().filter(|e| !e.start).count(),
            events,
            max_in_flight: gauge.max(),
            max_reported_in_flight: *lock(&max_reported),
            elapsed,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let work: Duration = self.config.durations().iter().sum();
        let order: Vec<String> = self.start_order().iter().map(ToString::to_string).collect();
        writeln!(
            f,
            "{} jobs finished in {:.2} s on {} ({:.2} s of work, {} at a time)",
            self.finished,
            self.elapsed.as_secs_f64(),
            self.runtime,
            work.as_secs_f64(),
            self.config.limit
        )?;
        writeln!(
            f,
            "most running at once: {} (the pool's progress hook said {})",
            self.max_in_flight, self.max_reported_in_flight
        )?;
        write!(
            f,
            "start order: {} (input order: the pool is FIFO)",
            order.join(" ")
        )
    }
}
