//! [`FleetSemaphore`]: a FIFO-fair, weighted semaphore shared by many processes through Redis.
//!
//! # Implementation details
//!
//! **In Redis** (see the `scripts` module for the keys): a queue of tickets ordered by arrival,
//! a set of holders with lease expiries, the permits in use, and a fencing counter. Every
//! change is a Lua script reading the server's clock, and every script first purges what has
//! expired and grants the queue's head while it fits, so crashed processes are cleaned up by
//! whoever runs next.
//!
//! **In each process**, one [`FleetSemaphore`] handle (cheap to clone) owns:
//!
//! * a *local* [`admit::Semaphore`] of `capacity` permits in front of Redis: local callers queue
//!   there first, FIFO, so at most `capacity` permits' worth of requests from this process are
//!   ever in Redis, and a caller that could not be granted anyway costs no command;
//! * one multiplexed connection ([`redis::aio::ConnectionManager`], which reconnects) for
//!   every script, shared by all local callers;
//! * one pub/sub connection subscribed to the semaphore's wake-up channel: a script that grants
//!   a queued ticket publishes `g <id> <fence>`, and the subscriber completes the local waiter
//!   with that ticket id — a release wakes the next waiter in about one round trip;
//! * one *keeper* task that, every TTL/3, refreshes the leases and tickets of every local
//!   holder and waiter in **one** script call, learns of any grant whose message was missed,
//!   and notices lost leases. While nothing changes, that is the only command a waiting process
//!   sends.
//!
//! Ticket ids are chosen by the client (`<process>:<counter>`), so a waiter is registered
//! locally before its ticket reaches Redis (no grant message can arrive too early) and a
//! cancelled acquire can remove its ticket without knowing whether its script ran.
//!
//! **Cancellation**: a dropped acquire or a timed-out one spawns a script that removes its
//! ticket or, if it was granted meanwhile, releases it. If that script never runs (the process
//! died, Redis was down), the ticket expires within the TTL because nobody refreshes it.
//!
//! **Loss of state**: every reply carries the state's *epoch* (a random id chosen when the
//! state was created). A script run by a client that knew an epoch but finds no state knows the
//! state was lost (a restart without persistence, a failover to a replica that missed writes):
//! it grants nothing for one TTL, after which every lease granted before the loss has expired
//! on its holder's own clock.
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use admit::{OwnedPermit, Semaphore, TryAcquireError};
use admit_runtime::{Runtime, deadline_after};
use event_listener::Event;
use redis::aio::ConnectionManager;

use crate::Error;
use crate::options::{Options, lock, process_token, spawn_detached, timed_out, with_timeout};
use crate::scripts::Scripts;

mod background;

use background::{Stop, keeper, subscribe, subscriber};

/// What the keeper and the subscriber know about one ticket of this process.
enum Phase {
    Waiting,
    Held { fence: u64 },
    Lost(Error),
}

struct TicketState {
    phase: Phase,
    /// A lower bound of the ticket's or lease's expiry in Redis, on this process's clock: the
    /// send time of the last request that set it, plus the TTL.
    expires: Instant,
}

/// One acquire of this process, waiting or holding, as the keeper and subscriber see it.
struct Ticket {
    state: Mutex<TicketState>,
    changed: Event,
    /// Set once the acquire script has answered: before that a refresh could reach Redis
    /// first and find no such ticket, so the keeper leaves it alone.
    in_redis: AtomicBool,
}

impl Ticket {
    fn new(expires: Instant) -> Self {
        Self {
            state: Mutex::new(TicketState {
                phase: Phase::Waiting,
                expires,
            }),
            changed: Event::new(),
            in_redis: AtomicBool::new(false),
        }
    }

    fn grant(&self, fence: u64) {
        let mut state = lock(&self.state);
        if matches!(state.phase, Phase::Waiting) {
            state.phase = Phase::Held { fence };
            drop(state);
            self.changed.notify(usize::MAX);
        }
    }

    fn lose(&self, error: Error) {
        let mut state = lock(&self.state);
        if !matches!(state.phase, Phase::Lost(_)) {
            state.phase = Phase::Lost(error);
            drop(state);
            self.changed.notify(usize::MAX);
        }
    }

    /// Applies one of the refresh script's answers (`h:<fence>`, `w`, `x`).
    fn refreshed(&self, answer: &str, expires: Instant) {
        if let Some(fence) = answer.strip_prefix("h:") {
            lock(&self.state).expires = expires;
            self.grant(fence.parse().unwrap_or(0));
        } else if answer == "w" {
            lock(&self.state).expires = expires;
        } else {
            self.lose(Error::TicketLost);
        }
    }

    /// Fails the ticket if its last refresh is more than a TTL ago on this clock: Redis has
    /// (or will have) expired it.
    fn check_expiry(&self, now: Instant, error: &Error) {
        let expired = lock(&self.state).expires <= now;
        if expired {
            self.lose(error.clone());
        }
    }
}

/// The state behind every clone of a [`FleetSemaphore`] and every permit it granted.
struct Shared<R> {
    name: String,
    keys: [String; 6],
    channel: String,
    capacity: usize,
    ttl: Duration,
    conn: ConnectionManager,
    scripts: Scripts,
    local: Arc<Semaphore>,
    process: String,
    next_id: AtomicU64,
    /// The epoch of the Redis state this process last saw; empty before the first reply.
    epoch: Mutex<String>,
    tickets: Mutex<HashMap<String, Arc<Ticket>>>,
    /// Asks the keeper for an early refresh (after the subscriber reconnected: it may have
    /// missed grants).
    recheck: Event,
    stop: Arc<Stop>,
    /// Releases spawned and not finished yet, for [`FleetSemaphore::flush`].
    releasing: AtomicUsize,
    released: Event,
    runtime: PhantomData<fn() -> R>,
}

impl<R> Drop for Shared<R> {
    fn drop(&mut self) {
        self.stop.set();
    }
}

/// The reply of a script, split into its status word and the rest.
struct Reply(Vec<String>);

impl Reply {
    fn status(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }

    fn field(&self, i: usize) -> &str {
        self.0.get(i).map_or("", String::as_str)
    }
}

impl<R: Runtime> Shared<R> {
    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs one of the semaphore's scripts with the common arguments and `extra`.
    async fn run(&self, script: &redis::Script, extra: &[&str]) -> Result<Reply, Error> {
        let epoch = lock(&self.epoch).clone();
        let fresh_epoch = format!(
            "{}-{}",
            self.process,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let mut invocation = script.prepare_invoke();
        for key in &self.keys {
            invocation.key(key);
        }
        invocation
            .arg(self.capacity)
            .arg(epoch.as_str())
            .arg(fresh_epoch)
            .arg(self.ttl_ms())
            .arg(self.channel.as_str());
        for arg in extra {
            invocation.arg(*arg);
        }
        let mut conn = self.conn.clone();
        let reply = Reply(invocation.invoke_async(&mut conn).await?);
        if reply.status() == "mismatch" {
            return Err(Error::ConfigMismatch {
                name: self.name.clone(),
                stored: format!("capacity {}", reply.field(1)),
                requested: format!("capacity {}", self.capacity),
            });
        }
        let seen = reply.field(1);
        if seen != epoch {
            *lock(&self.epoch) = seen.to_owned();
        }
        Ok(reply)
    }

    /// Refreshes every lease and ticket of this process in one script call, and applies the
    /// answers: grants whose message was missed, tickets lost.
    async fn refresh(&self) -> Result<(), Error> {
        let tickets: Vec<(String, Arc<Ticket>)> = lock(&self.tickets)
            .iter()
            .filter(|(_, ticket)| ticket.in_redis.load(Ordering::SeqCst))
            .map(|(id, ticket)| (id.clone(), ticket.clone()))
            .collect();
        if tickets.is_empty() {
            return Ok(());
        }
        let sent = R::now();
        let ids: Vec<&str> = tickets.iter().map(|(id, _)| id.as_str()).collect();
        match self.run(&self.scripts.refresh, &ids).await {
            Ok(reply) => {
                let expires = sent + self.ttl;
                for (i, (_, ticket)) in tickets.iter().enumerate() {
                    ticket.refreshed(reply.field(2 + i), expires);
                }
                Ok(())
            }
            Err(error) => {
                let now = R::now();
                for (_, ticket) in &tickets {
                    ticket.check_expiry(now, &error);
                }
                Err(error)
            }
        }
    }

    /// Applies a wake-up message: `g <id> <fence> <id> <fence> …`.
    fn dispatch(&self, payload: &str) {
        let mut words = payload.split(' ');
        if words.next() != Some("g") {
            return;
        }
        let tickets = lock(&self.tickets);
        while let (Some(id), Some(fence)) = (words.next(), words.next()) {
            if let Some(ticket) = tickets.get(id) {
                ticket.grant(fence.parse().unwrap_or(0));
            }
        }
    }

    /// Forgets `id` locally and, on a spawned task, releases it in Redis (or removes its
    /// ticket), then returns the local permits. Never blocks the caller.
    fn release_later(self: &Arc<Self>, id: String, local: Option<OwnedPermit>) {
        lock(&self.tickets).remove(&id);
        let shared = self.clone();
        self.releasing.fetch_add(1, Ordering::SeqCst);
        let release = async move {
            // On failure the lease or ticket expires on its own within the TTL: nobody
            // refreshes it any more.
            let _ = shared.run(&shared.scripts.release, &[&id]).await;
            drop(local);
            shared.released();
        };
        // Where the runtime cannot spawn, the release is left to the lease's expiry.
        if !spawn_detached::<R>(release) {
            self.released();
        }
    }

    fn released(&self) {
        self.releasing.fetch_sub(1, Ordering::SeqCst);
        self.released.notify(usize::MAX);
    }

    async fn acquire(self: Arc<Self>, n: usize, try_only: bool) -> Result<FleetPermit<R>, Error> {
        if self.local.is_closed() {
            return Err(Error::Closed);
        }
        if n > self.capacity {
            return Err(Error::TooLarge {
                requested: n,
                capacity: self.capacity,
            });
        }
        let local = if try_only {
            self.local
                .clone()
                .try_acquire_many_owned(n)
                .map_err(|error| match error {
                    TryAcquireError::Closed => Error::Closed,
                    _ => Error::NoPermits,
                })?
        } else {
            self.local
                .clone()
                .acquire_many_owned(n)
                .await
                .map_err(|_| Error::Closed)?
        };
        if n == 0 {
            return Ok(FleetPermit {
                shared: self,
                id: None,
                ticket: None,
                local: Some(local),
                fence: 0,
            });
        }
        let id = format!(
            "{}:{}",
            self.process,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let ticket = Arc::new(Ticket::new(R::now() + self.ttl));
        lock(&self.tickets).insert(id.clone(), ticket.clone());
        // From here on, dropping the future (or failing) removes the ticket in Redis.
        let mut pending = Pending {
            shared: self.clone(),
            id: Some(id),
            local: Some(local),
            remote: true,
        };
        let id = pending.id.as_deref().unwrap_or_default();
        let count = n.to_string();
        let mode = if try_only { "try" } else { "wait" };
        let reply = self.run(&self.scripts.acquire, &[id, &count, mode]).await?;
        ticket.in_redis.store(true, Ordering::SeqCst);
        match reply.status() {
            "granted" => ticket.grant(reply.field(2).parse().unwrap_or(0)),
            "busy" => {
                pending.remote = false;
                return Err(Error::NoPermits);
            }
            _ => {}
        }
        let fence = loop {
            let listener = ticket.changed.listen();
            match &lock(&ticket.state).phase {
                Phase::Held { fence } => break *fence,
                Phase::Lost(error) => return Err(error.clone()),
                Phase::Waiting => {}
            }
            listener.await;
        };
        let (id, local) = pending.disarm();
        Ok(FleetPermit {
            shared: self,
            id: Some(id),
            ticket: Some(ticket),
            local: Some(local),
            fence,
        })
    }
}

/// An acquire in flight: dropping it removes its ticket (or the permits it was granted).
struct Pending<R: Runtime> {
    shared: Arc<Shared<R>>,
    id: Option<String>,
    local: Option<OwnedPermit>,
    /// Whether Redis may hold something for this id.
    remote: bool,
}

impl<R: Runtime> Pending<R> {
    fn disarm(&mut self) -> (String, OwnedPermit) {
        let id = self.id.take().unwrap_or_default();
        let local = self
            .local
            .take()
            .unwrap_or_else(|| unreachable!("taken once"));
        (id, local)
    }
}

impl<R: Runtime> Drop for Pending<R> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            if self.remote {
                self.shared.release_later(id, self.local.take());
            } else {
                lock(&self.shared.tickets).remove(&id);
            }
        }
    }
}

/// A semaphore shared by every process that opens the same `name` on the same Redis: at no
/// moment are more than `capacity` permits held across all of them.
///
/// FIFO-fair across the fleet (a ticket queue in Redis, in arrival order; a large request at
/// the head is never overtaken) and within the process (a local [`admit::Semaphore`] in front),
/// weighted, cancel-safe. Held permits are leases: refreshed automatically while the
/// [`FleetPermit`] lives, lost within the TTL if the process dies, each with a fencing token.
/// Waiting is push-based (pub/sub), with a refresh every TTL/3 as the fallback.
///
/// Generic over the runtime `R` (`admit_tokio::Tokio`, `admit_smol::Smol`,
/// `admit_async_std::AsyncStd`), which runs its background tasks and timers. Clones share
/// everything: the connections, the local queue and the background tasks.
///
/// # Examples
///
/// ```no_run
/// use admit_redis::FleetSemaphore;
/// use admit_tokio::Tokio;
///
/// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
/// // Every replica of the service: at most 100 calls to the partner's API at once.
/// let partner = FleetSemaphore::<Tokio>::connect("redis://127.0.0.1/", "partner-api", 100).await?;
/// let permit = partner.acquire().await?;
/// // ... call the API, passing permit.fencing_token() along if it can check it ...
/// drop(permit);
/// # Ok(()) }
/// ```
pub struct FleetSemaphore<R: Runtime> {
    shared: Arc<Shared<R>>,
}

impl<R: Runtime> Clone for FleetSemaphore<R> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<R: Runtime> fmt::Debug for FleetSemaphore<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetSemaphore")
            .field("name", &self.shared.name)
            .field("capacity", &self.shared.capacity)
            .field("ttl", &self.shared.ttl)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// The Redis keys of a semaphore (see the `scripts` module), in the scripts' order.
pub(crate) fn keys(name: &str) -> [String; 6] {
    ["meta", "queue", "waits", "holders", "weights", "fences"]
        .map(|part| format!("admit:{{{name}}}:{part}"))
}

impl<R: Runtime> FleetSemaphore<R> {
    /// Opens the fleet semaphore `name` with `capacity` permits on the Redis at `url`, with
    /// the default [`Options`] (10 s leases).
    ///
    /// Must be called inside the runtime `R` (it spawns two background tasks).
    ///
    /// # Errors
    ///
    /// * [`Error::ConfigMismatch`] if `name` exists with another capacity;
    /// * [`Error::InvalidConfig`] if `capacity` is zero or above `admit::MAX_PERMITS`;
    /// * [`Error::Redis`] if the server cannot be reached within the timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_redis::FleetSemaphore;
    /// use admit_smol::Smol;
    ///
    /// # <Smol as admit_runtime::BlockOn>::block_on(async {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let db = FleetSemaphore::<Smol>::connect(url, "db-connections", 50).await?;
    /// assert_eq!(db.capacity(), 50);
    /// # Ok::<_, admit_redis::Error>(()) }).unwrap();
    /// ```
    pub async fn connect(url: &str, name: &str, capacity: usize) -> Result<Self, Error> {
        Self::connect_with(url, name, capacity, Options::new()).await
    }

    /// As [`connect`](Self::connect), with `options` (lease TTL, timeouts).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), and [`Error::InvalidConfig`] for a TTL under 10 ms or a
    /// zero timeout.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use admit_redis::{FleetSemaphore, Options};
    /// use admit_tokio::Tokio;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// let options = Options::new().with_lease_ttl(Duration::from_secs(30));
    /// let jobs = FleetSemaphore::<Tokio>::connect_with("redis://127.0.0.1/", "jobs", 8, options).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_with(
        url: &str,
        name: &str,
        capacity: usize,
        options: Options,
    ) -> Result<Self, Error> {
        options.check()?;
        if capacity == 0 || capacity > admit::MAX_PERMITS {
            return Err(Error::InvalidConfig(
                "the capacity must be between 1 and admit::MAX_PERMITS",
            ));
        }
        let timeout = options.timeout();
        let work = async {
            let (client, conn) = options.connect(url).await?;
            let channel = format!("admit:{{{name}}}:wake");
            let pubsub = subscribe::<R>(&client, &channel, timeout).await?;
            Ok::<_, Error>((client, conn, channel, pubsub))
        };
        let (client, conn, channel, pubsub) = with_timeout::<R, _>(timeout * 2, work)
            .await
            .ok_or_else(|| timed_out(&format!("connecting to {url}")))??;
        let stop = Arc::new(Stop::default());
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            keys: keys(name),
            channel: channel.clone(),
            capacity,
            ttl: options.lease_ttl(),
            conn,
            scripts: Scripts::new(),
            local: Arc::new(Semaphore::bounded(capacity)),
            process: process_token(),
            next_id: AtomicU64::new(0),
            epoch: Mutex::new(String::new()),
            tickets: Mutex::new(HashMap::new()),
            recheck: Event::new(),
            stop: stop.clone(),
            releasing: AtomicUsize::new(0),
            released: Event::new(),
            runtime: PhantomData,
        });
        // Checks the capacity against what is stored (or stores it) and learns the epoch.
        shared.run(&shared.scripts.status, &[]).await?;
        let weak = Arc::downgrade(&shared);
        drop(R::spawn(keeper::<R>(
            weak.clone(),
            stop.clone(),
            options.lease_ttl() / 3,
        )));
        drop(R::spawn(subscriber::<R>(
            weak, stop, client, channel, pubsub, timeout,
        )));
        Ok(Self { shared })
    }

    /// Acquires one permit, waiting in FIFO order behind every earlier caller of the fleet.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if this handle is closed first; [`Error::Redis`] if Redis fails;
    /// [`Error::TicketLost`] if the ticket vanished from Redis while waiting (the server lost
    /// its state, or was unreachable for longer than the TTL).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future removes its ticket from Redis (on a spawned task), or returns the
    /// permits if they were granted meanwhile; nothing is left behind. If that cleanup cannot
    /// run, the ticket expires within the TTL.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let sem = FleetSemaphore::<Tokio>::connect(url, "example", 3).await?;
    /// let permit = sem.acquire().await?;
    /// assert_eq!(permit.num_permits(), 1);
    /// # Ok(()) }
    /// ```
    pub fn acquire(
        &self,
    ) -> impl Future<Output = Result<FleetPermit<R>, Error>> + Send + 'static + use<R> {
        self.acquire_many(1)
    }

    /// Acquires `n` permits at once (all or nothing), FIFO: later callers, even smaller ones,
    /// wait until this one is granted. `n = 0` is granted at once without contacting Redis.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] at once if `n` exceeds the capacity; otherwise as
    /// [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let memory = FleetSemaphore::<Tokio>::connect(url, "gpu-gb", 80).await?;
    /// let permit = memory.acquire_many(24).await?; // a 24 GB job
    /// assert_eq!(permit.num_permits(), 24);
    /// # Ok(()) }
    /// ```
    pub fn acquire_many(
        &self,
        n: usize,
    ) -> impl Future<Output = Result<FleetPermit<R>, Error>> + Send + 'static + use<R> {
        self.shared.clone().acquire(n, false)
    }

    /// Takes one permit if it can be granted now (nobody waits ahead, in this process or the
    /// fleet, and one is free); never queues. One round trip to Redis.
    ///
    /// A permit dropped a moment ago still counts as held until its release, on a spawned
    /// task, has run; [`flush`](Self::flush) waits for that.
    ///
    /// # Errors
    ///
    /// [`Error::NoPermits`] if it cannot be granted now; [`Error::Closed`], [`Error::Redis`].
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::{Error, FleetSemaphore};
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let sem = FleetSemaphore::<Tokio>::connect(url, "try-example", 1).await?;
    /// let held = sem.try_acquire().await?;
    /// assert!(matches!(sem.try_acquire().await, Err(Error::NoPermits)));
    /// drop(held);
    /// sem.flush().await; // the release has run
    /// assert!(sem.try_acquire().await.is_ok());
    /// # Ok(()) }
    /// ```
    pub fn try_acquire(
        &self,
    ) -> impl Future<Output = Result<FleetPermit<R>, Error>> + Send + 'static + use<R> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they can be granted now; see [`try_acquire`](Self::try_acquire).
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] if `n` exceeds the capacity; otherwise as
    /// [`try_acquire`](Self::try_acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let sem = FleetSemaphore::<Tokio>::connect(url, "try-many", 4).await?;
    /// let three = sem.try_acquire_many(3).await?;
    /// assert!(sem.try_acquire_many(2).await.is_err());
    /// # Ok(()) }
    /// ```
    pub fn try_acquire_many(
        &self,
        n: usize,
    ) -> impl Future<Output = Result<FleetPermit<R>, Error>> + Send + 'static + use<R> {
        self.shared.clone().acquire(n, true)
    }

    /// [`acquire`](Self::acquire), giving up after `timeout` (measured from this call).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the permit was not granted in time (nothing is then held, and the
    /// ticket is removed); otherwise as [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::{Error, FleetSemaphore};
    /// # use admit_tokio::Tokio;
    /// # use std::time::Duration;
    /// # #[tokio::main] async fn main() -> Result<(), Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let sem = FleetSemaphore::<Tokio>::connect(url, "timeout-example", 1).await?;
    /// let _held = sem.acquire().await?;
    /// let second = sem.acquire_timeout(Duration::from_millis(50)).await;
    /// assert!(matches!(second, Err(Error::Timeout)));
    /// # Ok(()) }
    /// ```
    pub fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<FleetPermit<R>, Error>> + Send + 'static + use<R> {
        self.acquire_many_timeout(1, timeout)
    }

    /// [`acquire_many`](Self::acquire_many), giving up after `timeout` (from this call).
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Self::acquire_timeout) and [`acquire_many`](Self::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # use std::time::Duration;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// let sem = FleetSemaphore::<Tokio>::connect("redis://127.0.0.1/", "timeout-many", 4).await?;
    /// let permit = sem.acquire_many_timeout(4, Duration::from_secs(1)).await?;
    /// # Ok(()) }
    /// ```
    pub fn acquire_many_timeout(
        &self,
        n: usize,
        timeout: Duration,
    ) -> impl Future<Output = Result<FleetPermit<R>, Error>> + Send + 'static + use<R> {
        let deadline = deadline_after(R::now(), timeout);
        let acquire = self.acquire_many(n);
        async move {
            futures_lite::future::or(acquire, async move {
                R::sleep_until(deadline).await;
                Err(Error::Timeout)
            })
            .await
        }
    }

    /// Closes this handle (and its clones): every caller waiting through it fails with
    /// [`Error::Closed`] and its ticket leaves the queue; later acquires fail at once.
    ///
    /// Other processes, and other handles opened in this process with
    /// [`connect`](Self::connect), are not affected: closing is local, so one replica shutting
    /// down cannot stop the fleet. Permits held stay valid until dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::{Error, FleetSemaphore};
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let sem = FleetSemaphore::<Tokio>::connect(url, "closing", 1).await?;
    /// sem.close();
    /// assert!(sem.is_closed());
    /// assert!(matches!(sem.acquire().await, Err(Error::Closed)));
    /// # Ok(()) }
    /// ```
    pub fn close(&self) {
        self.shared.local.close();
        for ticket in lock(&self.shared.tickets).values() {
            let waiting = matches!(lock(&ticket.state).phase, Phase::Waiting);
            if waiting {
                ticket.lose(Error::Closed);
            }
        }
    }

    /// Waits until every release started by a dropped permit or a cancelled acquire of this
    /// process has reached Redis (or failed). Call it before the process exits: releases run on
    /// spawned tasks, and a runtime shut down before they ran leaves those permits held in
    /// Redis until their leases expire (within the TTL).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// let sem = FleetSemaphore::<Tokio>::connect("redis://127.0.0.1/", "flush", 1).await?;
    /// drop(sem.acquire().await?);
    /// sem.flush().await; // the permit is back in Redis
    /// # Ok(()) }
    /// ```
    pub async fn flush(&self) {
        loop {
            let listener = self.shared.released.listen();
            if self.shared.releasing.load(Ordering::SeqCst) == 0 {
                return;
            }
            listener.await;
        }
    }

    /// Whether [`close`](Self::close) was called on this handle or a clone.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let sem = FleetSemaphore::<Tokio>::connect(url, "open", 1).await?;
    /// assert!(!sem.is_closed());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.local.is_closed()
    }

    /// The capacity, fixed at creation and the same for every process sharing the name.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let sem = FleetSemaphore::<Tokio>::connect(url, "cap", 7).await?;
    /// assert_eq!(sem.capacity(), 7);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// The name shared by the fleet.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let sem = FleetSemaphore::<Tokio>::connect(url, "named", 1).await?;
    /// assert_eq!(sem.name(), "named");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The lease TTL of this handle's permits.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let sem = FleetSemaphore::<Tokio>::connect(url, "ttl", 1).await?;
    /// assert_eq!(sem.lease_ttl().as_secs(), 10);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn lease_ttl(&self) -> Duration {
        self.shared.ttl
    }

    /// Permits free across the fleet right now (one round trip; expired leases are purged
    /// first). A snapshot: it may change before the caller acts on it.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let sem = FleetSemaphore::<Tokio>::connect(url, "avail", 5).await?;
    /// let _two = sem.acquire_many(2).await?;
    /// assert_eq!(sem.available_permits().await?, 3);
    /// # Ok(()) }
    /// ```
    pub async fn available_permits(&self) -> Result<usize, Error> {
        let reply = self.shared.run(&self.shared.scripts.status, &[]).await?;
        Ok(reply.field(2).parse().unwrap_or(0))
    }

    /// Callers waiting in the fleet-wide queue right now (one round trip). Callers still in
    /// a process's local queue, behind that process's own requests, are not counted.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis fails.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// let url = "redis://127.0.0.1/";
    /// # let url = { let _ = url; server.url() };
    /// let sem = FleetSemaphore::<Tokio>::connect(url, "waiters", 5).await?;
    /// assert_eq!(sem.waiter_count().await?, 0);
    /// # Ok(()) }
    /// ```
    pub async fn waiter_count(&self) -> Result<usize, Error> {
        let reply = self.shared.run(&self.shared.scripts.status, &[]).await?;
        Ok(reply.field(3).parse().unwrap_or(0))
    }
}

/// Permits held from a [`FleetSemaphore`]: a lease in Redis, refreshed in the background
/// while this value lives, and released (on a spawned task) when it is dropped.
///
/// Drop it inside the runtime `R`: the release runs on a task spawned there, and until it has
/// run the permits count as held, in Redis and in this process ([`FleetSemaphore::flush`]
/// waits for it). Dropped where `R` cannot spawn (tokio outside a runtime), it is not released
/// but expires within the TTL.
///
/// # Examples
///
/// ```
/// # use admit_redis::FleetSemaphore;
/// # use admit_tokio::Tokio;
/// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
/// # let server = admit_redis::test_server::RedisServer::start().unwrap();
/// let url = "redis://127.0.0.1/";
/// # let url = { let _ = url; server.url() };
/// let sem = FleetSemaphore::<Tokio>::connect(url, "permit", 2).await?;
/// let permit = sem.acquire().await?;
/// assert!(permit.fencing_token() > 0);
/// assert!(!permit.is_lease_lost());
/// # Ok(()) }
/// ```
#[must_use = "dropping a permit releases it"]
#[clippy::has_significant_drop]
pub struct FleetPermit<R: Runtime> {
    shared: Arc<Shared<R>>,
    id: Option<String>,
    ticket: Option<Arc<Ticket>>,
    local: Option<OwnedPermit>,
    fence: u64,
}

impl<R: Runtime> fmt::Debug for FleetPermit<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetPermit")
            .field("semaphore", &self.shared.name)
            .field("permits", &self.num_permits())
            .field("fencing_token", &self.fence)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> FleetPermit<R> {
    /// How many permits this holds.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// # let sem = FleetSemaphore::<Tokio>::connect(server.url(), "n", 3).await?;
    /// assert_eq!(sem.acquire_many(3).await?.num_permits(), 3);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn num_permits(&self) -> usize {
        self.local.as_ref().map_or(0, OwnedPermit::num_permits)
    }

    /// The fencing token: larger than the token of every earlier grant of this semaphore
    /// (while Redis keeps its state; across a loss of state it still grows, as long as the
    /// server's clock does not go back). Pass it to a downstream system that can reject writes
    /// carrying a smaller token than one it has seen. 0 for a zero-permit grant.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// # let sem = FleetSemaphore::<Tokio>::connect(server.url(), "fence", 1).await?;
    /// let first = sem.acquire().await?.fencing_token();
    /// let second = sem.acquire().await?.fencing_token();
    /// assert!(second > first);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn fencing_token(&self) -> u64 {
        self.fence
    }

    /// Whether the lease may have been lost: Redis reported it gone (it expired, or the server
    /// lost its state), or this process has not refreshed it for a whole TTL (measured from
    /// the send time of the last successful refresh, so it errs on the early side). Once
    /// lost, other processes may be granted these permits: stop using what they protect.
    ///
    /// # Examples
    ///
    /// ```
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let server = admit_redis::test_server::RedisServer::start().unwrap();
    /// # let sem = FleetSemaphore::<Tokio>::connect(server.url(), "lost", 1).await?;
    /// let permit = sem.acquire().await?;
    /// assert!(!permit.is_lease_lost());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn is_lease_lost(&self) -> bool {
        let Some(ticket) = &self.ticket else {
            return false;
        };
        let state = lock(&ticket.state);
        matches!(state.phase, Phase::Lost(_)) || state.expires <= R::now()
    }

    /// Completes when the lease is lost (see [`is_lease_lost`](Self::is_lease_lost)); never,
    /// for a zero-permit grant. Race it against the work the permit protects.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only observes.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use admit_redis::FleetSemaphore;
    /// # use admit_tokio::Tokio;
    /// # #[tokio::main] async fn main() -> Result<(), admit_redis::Error> {
    /// # let sem = FleetSemaphore::<Tokio>::connect("redis://127.0.0.1/", "lost-future", 1).await?;
    /// let permit = sem.acquire().await?;
    /// let work = async { /* the protected work */ };
    /// tokio::select! {
    ///     _ = work => {}
    ///     _ = permit.lease_lost() => { /* abandon the work: someone else may hold it now */ }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn lease_lost(&self) {
        let Some(ticket) = &self.ticket else {
            return std::future::pending().await;
        };
        loop {
            let listener = ticket.changed.listen();
            let expires = {
                let state = lock(&ticket.state);
                if matches!(state.phase, Phase::Lost(_)) {
                    return;
                }
                state.expires
            };
            if expires <= R::now() {
                return;
            }
            futures_lite::future::or(listener, R::sleep_until(expires)).await;
        }
    }
}

impl<R: Runtime> Drop for FleetPermit<R> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.shared.release_later(id, self.local.take());
        }
    }
}
