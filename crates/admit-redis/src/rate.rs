//! [`FleetRateLimiter`]: at most N acquisitions per period across every process sharing a name.
//!
//! # Implementation details
//!
//! One Redis hash per limiter holds the GCRA state of [`admit::rate::Gcra`] (the theoretical
//! arrival time as an exact pair `ns + frac / count`, so the arithmetic is the same integer
//! arithmetic, without rounding drift) and the configuration. The script reads the server's
//! clock and *reserves*: a request that does not conform yet is scheduled at the first instant
//! it will, the state moves on as if it had been granted then, and the reply says how long to
//! wait. The caller sleeps that long on its runtime and is done: one round trip per acquire,
//! and the charge is from the scheduled instant, not from whenever the caller wakes up, so the
//! long-run rate is exact however late the wake-ups are.
//!
//! FIFO: within a process, callers take a one-permit local *turn* (an [`admit::Semaphore`],
//! FIFO, weighted requests included) for the round trip only, so their reservations are made in
//! arrival order; across processes, reservations are ordered by their arrival at Redis.
//!
//! Cancellation: a caller dropped while sleeping on its reservation refunds it if nothing was
//! reserved after it (the state still ends at its reservation); otherwise its slot goes unused
//! (the fleet then runs below the rate, never above).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use admit::Semaphore;
use admit::rate::Gcra;
use admit_runtime::{Runtime, deadline_after};
use redis::aio::ConnectionManager;

use crate::Error;
use crate::options::{Options, spawn_detached, timed_out, with_timeout};

struct Shared<R> {
    name: String,
    key: String,
    limit: Gcra,
    conn: ConnectionManager,
    script: redis::Script,
    turn: Semaphore,
    runtime: PhantomData<fn() -> R>,
}

/// A rate limiter shared by every process that opens the same `name` on the same Redis: at
/// most `count` permits per `period` across all of them, with the burst of the [`Gcra`] it was
/// created with.
///
/// Weighted (`acquire_many(n)` costs `n` intervals), FIFO (within a process by a local queue,
/// across processes by arrival at Redis), cancel-safe, one round trip per acquire, timed by the
/// server's clock. Clones share the connection and the local queue.
///
/// # Examples
///
/// ```no_run
/// use admit_redis::FleetRateLimiter;
/// use admit_tokio::Tokio;
/// use std::time::{Duration, Instant};
///
/// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
/// // 1,000 calls a minute for the whole fleet.
/// let limit = FleetRateLimiter::<Tokio>::connect("redis://127.0.0.1/", "partner", 1_000, Duration::from_secs(60)).await?;
/// limit.acquire().await?;
/// # Ok(()) }
/// ```
pub struct FleetRateLimiter<R: Runtime> {
    shared: Arc<Shared<R>>,
}

impl<R: Runtime> Clone for FleetRateLimiter<R> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for FleetRateLimiter<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetRateLimiter")
            .field("name", &self.shared.name)
            .field("limit", &self.shared.limit)
            .finish_non_exhaustive()
    }
}

/// A reservation made but not yet reached: dropping it refunds it (on a spawned task).
struct Reservation<R: Runtime> {
    shared: Option<Arc<Shared<R>>>,
    n: usize,
    tat: String,
    frac: String,
    origin: String,
}

impl<R: Runtime> Drop for Reservation<R> {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            let (n, tat, frac, origin) = (
                self.n,
                std::mem::take(&mut self.tat),
                std::mem::take(&mut self.frac),
                std::mem::take(&mut self.origin),
            );
            // Where the runtime cannot spawn, the reservation is not refunded: its slot goes
            // unused, as when a later reservation was made.
            spawn_detached::<R>(async move {
                let _ = shared.run(n, 0, &["refund", &tat, &frac, &origin]).await;
            });
        }
    }
}

enum Outcome {
    /// Granted: sleep this long, then go.
    Scheduled {
        wait: Duration,
        tat: String,
        frac: String,
        origin: String,
    },
    /// Would not conform within the allowed wait; nothing taken.
    Refused,
}

impl<R: Runtime> Shared<R> {
    async fn run(&self, n: usize, max_wait_ns: u64, extra: &[&str]) -> Result<Vec<String>, Error> {
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(&self.key)
            .arg(self.limit.count())
            .arg(u64::try_from(self.limit.period().as_nanos()).unwrap_or(u64::MAX))
            .arg(self.limit.burst())
            .arg(n)
            .arg(max_wait_ns);
        for arg in extra {
            invocation.arg(*arg);
        }
        let mut conn = self.conn.clone();
        let reply: Vec<String> = invocation.invoke_async(&mut conn).await?;
        if reply.first().map(String::as_str) == Some("mismatch") {
            return Err(Error::ConfigMismatch {
                name: self.name.clone(),
                stored: reply.get(1).cloned().unwrap_or_default(),
                requested: config(&self.limit),
            });
        }
        Ok(reply)
    }

    async fn reserve(&self, n: usize, max_wait: Duration) -> Result<Outcome, Error> {
        let max_wait_ns = u64::try_from(max_wait.as_nanos()).unwrap_or(u64::MAX);
        let reply = self.run(n, max_wait_ns, &[]).await?;
        let field = |i: usize| reply.get(i).cloned().unwrap_or_default();
        if field(0) != "ok" {
            return Ok(Outcome::Refused);
        }
        Ok(Outcome::Scheduled {
            wait: Duration::from_nanos(field(1).parse().unwrap_or(0)),
            tat: field(2),
            frac: field(3),
            origin: field(4),
        })
    }

    /// Takes the local turn, then reserves: with `deadline` `None` whatever the wait, with a
    /// deadline only a wait ending by then (`try_only`: only no wait).
    async fn acquire(
        self: Arc<Self>,
        n: usize,
        try_only: bool,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        if n > self.limit.burst() {
            return Err(Error::TooLarge {
                requested: n,
                capacity: self.limit.burst(),
            });
        }
        if n == 0 {
            return Ok(());
        }
        let outcome = {
            let _turn = if try_only {
                self.turn.try_acquire().map_err(|_| Error::NoPermits)?
            } else {
                self.turn.acquire().await.map_err(|_| Error::Closed)?
            };
            let max_wait = match deadline {
                _ if try_only => Duration::ZERO,
                Some(deadline) => deadline.saturating_duration_since(R::now()),
                None => Duration::MAX,
            };
            self.reserve(n, max_wait).await?
        };
        match outcome {
            Outcome::Refused if try_only => Err(Error::NoPermits),
            Outcome::Refused => Err(Error::Timeout),
            Outcome::Scheduled {
                wait,
                tat,
                frac,
                origin,
            } => {
                if wait.is_zero() {
                    return Ok(());
                }
                let mut reservation = Reservation::<R> {
                    shared: Some(self.clone()),
                    n,
                    tat,
                    frac,
                    origin,
                };
                R::sleep(wait).await;
                reservation.shared = None;
                Ok(())
            }
        }
    }
}

fn config(limit: &Gcra) -> String {
    format!(
        "{}/{}/{}",
        limit.count(),
        limit.period().as_nanos(),
        limit.burst()
    )
}

impl<R: Runtime> FleetRateLimiter<R> {
    /// Opens the fleet rate limiter `name`: at most `count` permits per `period` across the
    /// fleet, evenly spaced (burst 1). Must be called inside the runtime `R`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a zero count or period; [`Error::Redis`] if the server
    /// cannot be reached within the timeout; [`Error::ConfigMismatch`] if `name` is in use
    /// with another rate.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use admit_redis::FleetRateLimiter;
    /// # use admit_smol::Smol;
    /// # use std::time::{Duration, Instant};
    /// # <Smol as admit_runtime::BlockOn>::block_on(async {
    /// let limit = FleetRateLimiter::<Smol>::connect("redis://127.0.0.1/", "emails", 10, Duration::from_secs(1)).await?;
    /// # Ok::<_, admit_redis::Error>(()) }).unwrap();
    /// ```
    pub async fn connect(
        url: &str,
        name: &str,
        count: u64,
        period: Duration,
    ) -> Result<Self, Error> {
        if count == 0 || period.is_zero() || period.as_nanos() > u128::from(u64::MAX) {
            return Err(Error::InvalidConfig(
                "a rate needs a count and a period of at least one nanosecond",
            ));
        }
        Self::connect_with(url, name, Gcra::new(count, period), Options::new()).await
    }

    /// Opens the fleet rate limiter `name` enforcing `limit` (count, period and burst), with
    /// `options` (only the timeout applies).
    ///
    /// The limit is stored with the state; every process must use the same one.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use admit_redis::{FleetRateLimiter, Options};
    /// # use admit_tokio::Tokio;
    /// # use admit::rate::Gcra;
    /// # use std::time::{Duration, Instant};
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// let limit = Gcra::new(100, Duration::from_secs(60)).with_burst(10);
    /// let api = FleetRateLimiter::<Tokio>::connect_with("redis://127.0.0.1/", "api", limit, Options::new()).await?;
    /// api.acquire_many(10).await?; // the whole burst at once
    /// # Ok(()) }
    /// ```
    pub async fn connect_with(
        url: &str,
        name: &str,
        limit: Gcra,
        options: Options,
    ) -> Result<Self, Error> {
        options.check()?;
        let connect = options.connect(url);
        let (_, conn) = with_timeout::<R, _>(options.timeout() * 2, connect)
            .await
            .ok_or_else(|| timed_out(&format!("connecting to {url}")))??;
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            key: format!("admit:{{{name}}}:rate"),
            limit,
            conn,
            script: redis::Script::new(crate::scripts::GCRA),
            turn: Semaphore::new(1),
            runtime: PhantomData,
        });
        // Checks the stored configuration without taking anything (a zero-permit request
        // changes nothing but is checked like any other).
        shared.run(0, 0, &[]).await?;
        Ok(Self { shared })
    }

    /// Takes one permit, waiting (FIFO) until the fleet's rate allows it.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis fails.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it waits refunds its reservation if no later one was made
    /// (else the slot goes unused: the fleet runs below the rate, never above).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use admit_redis::FleetRateLimiter;
    /// # use admit_tokio::Tokio;
    /// # use std::time::{Duration, Instant};
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let limit = FleetRateLimiter::<Tokio>::connect("redis://127.0.0.1/", "doc", 5, Duration::from_secs(1)).await?;
    /// for _ in 0..5 {
    ///     limit.acquire().await?; // one every 200 ms, fleet-wide
    /// }
    /// # Ok(()) }
    /// ```
    pub fn acquire(&self) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<R> {
        self.acquire_many(1)
    }

    /// Takes `n` permits (costing `n` intervals), waiting until the rate allows.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] at once if `n` exceeds the burst; [`Error::Redis`].
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetRateLimiter;
    /// # use admit_tokio::Tokio;
    /// # use std::time::{Duration, Instant};
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// # let limit = FleetRateLimiter::<Tokio>::connect(server.url(), "doc-many", 5, Duration::from_secs(1)).await?;
    /// assert!(limit.acquire_many(2).await.is_err()); // the burst is 1
    /// # Ok(()) }
    /// ```
    pub fn acquire_many(
        &self,
        n: usize,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<R> {
        self.shared.clone().acquire(n, false, None)
    }

    /// Takes `n` permits only if the rate allows it now.
    ///
    /// # Errors
    ///
    /// [`Error::NoPermits`] if not now (nothing taken); [`Error::TooLarge`]; [`Error::Redis`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: nothing is reserved unless granted at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetRateLimiter;
    /// # use admit_tokio::Tokio;
    /// # use std::time::{Duration, Instant};
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// # let limit = FleetRateLimiter::<Tokio>::connect(server.url(), "doc-try", 1, Duration::from_secs(60)).await?;
    /// limit.try_acquire_many(1).await?;
    /// assert!(limit.try_acquire_many(1).await.is_err());
    /// # Ok(()) }
    /// ```
    pub fn try_acquire_many(
        &self,
        n: usize,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<R> {
        self.shared.clone().acquire(n, true, None)
    }

    /// Takes `n` permits if the rate allows it within `timeout` (from this call), waiting
    /// until then. Fails at once if the fleet's schedule already says it cannot.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] (nothing taken); [`Error::TooLarge`]; [`Error::Redis`].
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::{Error, FleetRateLimiter};
    /// # use admit_tokio::Tokio;
    /// # use std::time::{Duration, Instant};
    /// # #[tokio::main] async fn main() -> Result<(), Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// # let limit = FleetRateLimiter::<Tokio>::connect(server.url(), "doc-timeout", 1, Duration::from_secs(60)).await?;
    /// limit.acquire().await?;
    /// let next = limit.acquire_many_timeout(1, Duration::from_millis(10)).await;
    /// assert!(matches!(next, Err(Error::Timeout)));
    /// # Ok(()) }
    /// ```
    pub fn acquire_many_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<R> {
        let deadline = deadline_after(R::now(), timeout);
        let acquire = self.shared.clone().acquire(n, false, Some(deadline));
        async move {
            futures_lite::future::or(acquire, async {
                R::sleep_until(deadline).await;
                Err(Error::Timeout)
            })
            .await
        }
    }

    /// The limit: count, period and burst.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetRateLimiter;
    /// # use admit_tokio::Tokio;
    /// # use std::time::{Duration, Instant};
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// # let limit = FleetRateLimiter::<Tokio>::connect(server.url(), "doc-limit", 7, Duration::from_secs(1)).await?;
    /// assert_eq!(limit.limit().count(), 7);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn limit(&self) -> Gcra {
        self.shared.limit
    }
}
