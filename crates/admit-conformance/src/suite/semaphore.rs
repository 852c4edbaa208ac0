//! The core's semantics seen through real tasks on the runtime: FIFO order, no overtaking,
//! weighted heads, cancellation by dropping a task, close, resize and bounded release; the
//! runtime's `Semaphore<R>` wrappers; and the soak.
//!
//! "Queued" is observed through [`Semaphore::waiter_count`], so the order in which tasks
//! start waiting is known even on a multi-threaded runtime.

use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use admit::{AcquireError, ReleaseError, Semaphore, TryAcquireError};
use admit_runtime::{AcquireTimeoutError, Runtime, TaskPool};
use futures_lite::future;

use crate::harness::{
    Gate, MS, PROMPTLY, Rng, at_rest, eventually, jitter, join, lock, queued, spawn_acquire,
    within, yield_times,
};
use crate::{CaseResult, Failure, Options};

/// Spawns a task that waits for `n` permits, records `id` in `granted` and forgets them (so
/// the next grant needs new permits).
fn spawn_recorder<R: Runtime>(
    sem: &Arc<Semaphore>,
    n: usize,
    id: usize,
    granted: &Arc<Mutex<Vec<usize>>>,
) -> R::JoinHandle<Result<(), AcquireError>> {
    let sem = Arc::clone(sem);
    let granted = Arc::clone(granted);
    R::spawn(async move {
        let permit = sem.acquire_many(n).await?;
        lock(&granted).push(id);
        permit.forget();
        Ok(())
    })
}

/// Queues tasks of the given weights one at a time, then adds exactly the head's weight
/// at a time: each addition must go to the task that queued first.
async fn granted_in_queue_order<R: Runtime>(weights: &[usize]) -> CaseResult {
    let sem = Arc::new(Semaphore::new(0));
    let granted = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (id, &weight) in weights.iter().enumerate() {
        tasks.push(spawn_recorder::<R>(&sem, weight, id, &granted));
        queued::<R>(&sem, id + 1).await?;
    }
    for (id, &weight) in weights.iter().enumerate() {
        sem.add_permits(weight);
        eventually::<R>(PROMPTLY, &format!("grant {id} is taken"), || {
            lock(&granted).len() > id
        })
        .await?;
        // Give a wrongly woken task the chance to show up too.
        yield_times(3).await;
        let order = lock(&granted).clone();
        ensure!(
            order == (0..=id).collect::<Vec<_>>(),
            "adding {weight} permit(s) for waiter {id} (weights {weights:?}) gave the grant \
             order {order:?}"
        );
    }
    for task in tasks {
        join::<R, _>(task, "a granted task finishes")
            .await?
            .map_err(|e| Failure::new(format!("a queued acquire failed: {e}")))?;
    }
    at_rest(&sem, 0)
}

/// Single permits released one by one go to the tasks in the order they queued.
pub(super) async fn fifo_order<R: Runtime>(_: Options) -> CaseResult {
    granted_in_queue_order::<R>(&[1; 16]).await
}

/// A permit released while a task waits goes to the task: `try_acquire` cannot take it, nor
/// a free permit that a waiting weighted request needs.
pub(super) async fn no_overtaking_by_try_acquire<R: Runtime>(_: Options) -> CaseResult {
    for (capacity, want) in [(1, 1), (2, 2)] {
        let sem = Arc::new(Semaphore::new(capacity));
        let held = Arc::clone(&sem).try_acquire_owned().expect("free");
        // The waiter keeps its permits until the gate opens, so that a successful
        // try_acquire can only mean the permits were taken from under it.
        let gate = Arc::new(Gate::default());
        let waiter = {
            let (sem, gate) = (Arc::clone(&sem), Arc::clone(&gate));
            R::spawn(async move {
                let permit = sem.acquire_many(want).await?;
                gate.wait().await;
                Ok::<_, AcquireError>(permit.num_permits())
            })
        };
        queued::<R>(&sem, 1).await?;
        if capacity > 1 {
            ensure!(
                sem.try_acquire().map(|p| p.num_permits()) == Err(TryAcquireError::NoPermits),
                "try_acquire took a free permit needed by a queued acquire_many({want})"
            );
        }
        drop(held);
        let overtook = sem.try_acquire().map(|permit| permit.num_permits());
        gate.open();
        ensure!(
            overtook == Err(TryAcquireError::NoPermits),
            "try_acquire right after a release returned {overtook:?} although a task was \
             queued (capacity {capacity})"
        );
        let got = join::<R, _>(waiter, "the queued task gets the permit").await?;
        ensure!(got == Ok(want), "the queued task got {got:?}");
        at_rest(&sem, capacity)?;
    }
    Ok(())
}

/// Weighted requests are granted in the order they queued, whatever their sizes.
pub(super) async fn weighted_fifo_order<R: Runtime>(_: Options) -> CaseResult {
    granted_in_queue_order::<R>(&[2, 1, 3, 1, 1, 2, 3, 1, 2, 1]).await
}

/// A large request at the head holds back a smaller one behind it, even with enough free
/// permits for the smaller one; both are served once permits come back.
pub(super) async fn weighted_head_blocks_smaller<R: Runtime>(_: Options) -> CaseResult {
    let sem = Arc::new(Semaphore::new(4));
    let held = Arc::clone(&sem).try_acquire_many_owned(3).expect("free");
    let gate = Arc::new(Gate::default());
    let small_granted = Arc::new(AtomicUsize::new(0));
    let spawn = |n: usize, flag: Option<Arc<AtomicUsize>>| {
        let (sem, gate) = (Arc::clone(&sem), Arc::clone(&gate));
        R::spawn(async move {
            let permit = sem.acquire_many(n).await?;
            if let Some(flag) = flag {
                flag.store(1, SeqCst);
            }
            gate.wait().await;
            Ok::<_, AcquireError>(permit.num_permits())
        })
    };
    let big = spawn(3, None);
    queued::<R>(&sem, 1).await?;
    let small = spawn(1, Some(Arc::clone(&small_granted)));
    queued::<R>(&sem, 2).await?;
    R::sleep(10 * MS).await;
    ensure!(
        small_granted.load(SeqCst) == 0,
        "acquire(1) overtook a queued acquire_many(3) (1 permit was free)"
    );
    ensure!(
        sem.try_acquire().is_err(),
        "try_acquire overtook a queued acquire_many(3)"
    );
    drop(held);
    gate.open();
    let big = join::<R, _>(big, "the big request is served").await?;
    let small = join::<R, _>(small, "the small request is served").await?;
    ensure!(
        big == Ok(3) && small == Ok(1),
        "got {big:?} and {small:?}, expected Ok(3) and Ok(1)"
    );
    at_rest(&sem, 4)
}

/// A task stopped while it waits in acquire (its future dropped, as an aborted task's is)
/// leaves the queue; its permit, if it had just been granted one, goes to the next.
pub(super) async fn cancel_by_dropping_task<R: Runtime>(_: Options) -> CaseResult {
    // The task holds its acquire future until its gate opens, then drops it.
    let cancellable = |sem: &Arc<Semaphore>, stop: &Arc<Gate>| {
        let (sem, stop) = (Arc::clone(sem), Arc::clone(stop));
        R::spawn(async move {
            let acquire = async { Some(sem.acquire().await.map(|p| p.num_permits())) };
            future::or(acquire, async {
                stop.wait().await;
                None
            })
            .await
        })
    };
    for race in [false, true] {
        let sem = Arc::new(Semaphore::new(1));
        let held = Arc::clone(&sem).try_acquire_owned().expect("free");
        let stop = Arc::new(Gate::default());
        let doomed = cancellable(&sem, &stop);
        queued::<R>(&sem, 1).await?;
        let next = spawn_acquire::<R>(&sem, 1);
        queued::<R>(&sem, 2).await?;
        if race {
            // The permit is handed to the doomed task as it is being stopped: whichever wins,
            // the permit must reach the next task.
            drop(held);
            stop.open();
            let _ = join::<R, _>(doomed, "the stopped task ends").await?;
        } else {
            stop.open();
            let outcome = join::<R, _>(doomed, "the stopped task ends").await?;
            ensure!(
                outcome.is_none(),
                "the stopped task acquired {outcome:?} while the permit was held"
            );
            queued::<R>(&sem, 1).await?;
            drop(held);
        }
        let served = join::<R, _>(next, "the next task is served").await?;
        ensure!(
            served == Ok(1),
            "the next task got {served:?} (race: {race})"
        );
        at_rest(&sem, 1)?;
    }
    Ok(())
}

/// Closing wakes every waiting task, however many, with `Closed`; later acquires fail too;
/// permits released after closing are still counted.
pub(super) async fn close_with_waiters<R: Runtime>(_: Options) -> CaseResult {
    const TASKS: usize = 40;
    let sem = Arc::new(Semaphore::new(2));
    let held = Arc::clone(&sem).try_acquire_many_owned(2).expect("free");
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| spawn_acquire::<R>(&sem, 1 + i % 3))
        .collect();
    queued::<R>(&sem, TASKS).await?;
    sem.close();
    for (i, task) in tasks.into_iter().enumerate() {
        let outcome = join::<R, _>(task, &format!("waiter {i} is woken by close")).await?;
        ensure!(
            outcome == Err(AcquireError::Closed),
            "waiter {i} got {outcome:?} from a closed semaphore"
        );
    }
    ensure!(sem.waiter_count() == 0, "waiters left after close");
    ensure!(
        sem.try_acquire().map(|p| p.num_permits()) == Err(TryAcquireError::Closed),
        "try_acquire on a closed semaphore did not fail with Closed"
    );
    let late = within::<R, _>(
        PROMPTLY,
        "acquire on a closed semaphore returns",
        sem.acquire(),
    )
    .await?
    .map(|p| p.num_permits());
    ensure!(
        late == Err(AcquireError::Closed),
        "acquire on a closed semaphore returned {late:?}"
    );
    drop(held);
    at_rest(&sem, 2)
}

/// `set_capacity` grows and shrinks the semaphore while tasks hold and wait: no grant ever
/// makes the holders exceed the capacity in force, and the final capacity is restored.
pub(super) async fn resize_under_load<R: Runtime>(_: Options) -> CaseResult {
    const WORKERS: usize = 16;
    const START: usize = 4;
    let sem = Arc::new(Semaphore::new(START));
    // Every capacity set, in order; a worker checks against the largest one in force
    // between the start of its acquire and the moment it counts itself as a holder.
    let history = Arc::new(Mutex::new(vec![START]));
    let held = Arc::new(AtomicUsize::new(0));
    let violation = Arc::new(Mutex::new(None::<String>));
    let grants = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (sem, history, held) = (Arc::clone(&sem), Arc::clone(&history), Arc::clone(&held));
            let (violation, grants, stop) = (
                Arc::clone(&violation),
                Arc::clone(&grants),
                Arc::clone(&stop),
            );
            R::spawn(async move {
                let mut rng = Rng::new(worker as u64 + 1);
                while !stop.load(SeqCst) {
                    let weight = 1 + rng.below(2);
                    let from = lock(&history).len() - 1;
                    let Ok(permit) = sem.acquire_many(weight).await else {
                        break;
                    };
                    let holding = held.fetch_add(weight, SeqCst) + weight;
                    let in_force = lock(&history)[from..].iter().copied().max().unwrap_or(0);
                    if holding > in_force {
                        lock(&violation).get_or_insert_with(|| {
                            format!("{holding} permits held with a capacity of at most {in_force}")
                        });
                    }
                    grants.fetch_add(1, SeqCst);
                    if rng.below(4) == 0 {
                        R::sleep(jitter(rng.below(5))).await;
                    } else {
                        yield_times(rng.below(3)).await;
                    }
                    held.fetch_sub(weight, SeqCst);
                    drop(permit);
                }
            })
        })
        .collect();
    // Never below 2, the largest request: a queued acquire_many(2) at the head of an
    // unbounded semaphore of capacity 1 rightly waits for it to grow, holding back the rest.
    for capacity in [8, 2, 6, 3, 7, 2, START] {
        let growing = capacity > sem.capacity();
        if growing {
            // Recorded before it is in force, so that no check sees a grant it allows early.
            lock(&history).push(capacity);
            sem.set_capacity(capacity);
        } else {
            // Recorded after: until `set_capacity` returns, the larger capacity may apply.
            sem.set_capacity(capacity);
            lock(&history).push(capacity);
        }
        let before = grants.load(SeqCst);
        R::sleep(15 * MS).await;
        eventually::<R>(
            PROMPTLY,
            &format!("grants continue at capacity {capacity}"),
            || grants.load(SeqCst) > before,
        )
        .await?;
        ensure!(
            sem.capacity() == capacity,
            "capacity() is {} after set_capacity({capacity})",
            sem.capacity()
        );
    }
    stop.store(true, SeqCst);
    for worker in workers {
        join::<R, _>(worker, "a worker stops").await?;
    }
    if let Some(violation) = lock(&violation).take() {
        return Err(Failure::new(violation));
    }
    ensure!(
        sem.capacity() == START,
        "final capacity {}, expected {START}",
        sem.capacity()
    );
    at_rest(&sem, START)
}

/// A bounded semaphore used asyncio-style across tasks: permits acquired and forgotten in one
/// task are released by hand in another; releasing past the capacity is refused; a request
/// above the bound fails at once, also when the bound shrinks under a waiting task.
pub(super) async fn bounded_release<R: Runtime>(_: Options) -> CaseResult {
    let sem = Arc::new(Semaphore::bounded(2));
    let taker = {
        let sem = Arc::clone(&sem);
        R::spawn(async move {
            for _ in 0..2 {
                sem.acquire().await?.forget();
            }
            Ok::<_, AcquireError>(())
        })
    };
    join::<R, _>(taker, "two permits are taken")
        .await?
        .map_err(|e| Failure::new(format!("acquire failed: {e}")))?;
    ensure!(sem.available_permits() == 0, "forgotten permits came back");
    let releaser = {
        let sem = Arc::clone(&sem);
        R::spawn(async move { [sem.release(1), sem.release(1), sem.release(1)] })
    };
    let released = join::<R, _>(releaser, "permits are released by hand").await?;
    ensure!(
        released == [Ok(()), Ok(()), Err(ReleaseError::ExceedsCapacity)],
        "three releases on a bounded(2) semaphore with 2 out returned {released:?}"
    );
    let too_large = within::<R, _>(PROMPTLY, "acquire_many(3) fails", sem.acquire_many(3))
        .await?
        .map(|p| p.num_permits());
    ensure!(
        too_large == Err(AcquireError::TooLarge),
        "acquire_many(3) on bounded(2) returned {too_large:?}"
    );
    let held = Arc::clone(&sem).try_acquire_owned().expect("free");
    let waiter = spawn_acquire::<R>(&sem, 2);
    queued::<R>(&sem, 1).await?;
    sem.set_capacity(1);
    let shrunk = join::<R, _>(waiter, "the waiter above the new bound fails").await?;
    ensure!(
        shrunk == Err(AcquireError::TooLarge),
        "acquire_many(2) waiting on a bounded semaphore shrunk to 1 returned {shrunk:?}"
    );
    drop(held);
    ensure!(
        sem.capacity() == 1,
        "capacity {} after set_capacity(1)",
        sem.capacity()
    );
    at_rest(&sem, 1)
}

/// The runtime's `Semaphore<R>` acquires like the core's: borrowed, weighted and owned,
/// waiting in the same FIFO queue, and it converts to and from the core's type.
pub(super) async fn runtime_semaphore_wrappers<R: Runtime>(_: Options) -> CaseResult {
    let sem = Arc::new(admit_runtime::Semaphore::<R>::new(3));
    let acquired = async {
        let one = sem.acquire().await?;
        let two = sem.acquire_many(2).await?;
        Ok::<_, AcquireError>((one, two))
    };
    let (one, two) = within::<R, _>(PROMPTLY, "acquire and acquire_many(2)", acquired)
        .await?
        .map_err(|e| Failure::new(format!("acquiring 1 + 2 of 3 free permits failed: {e}")))?;
    ensure!(
        (
            one.num_permits(),
            two.num_permits(),
            sem.available_permits()
        ) == (1, 2, 0),
        "acquire and acquire_many(2) gave {} and {} permits, {} left free",
        one.num_permits(),
        two.num_permits(),
        sem.available_permits()
    );
    drop((one, two));
    let acquired = async {
        let owned = Arc::clone(&sem).acquire_owned().await?;
        let many = Arc::clone(&sem).acquire_many_owned(2).await?;
        Ok::<_, AcquireError>((owned, many))
    };
    let (owned, many) = within::<R, _>(PROMPTLY, "the owned acquires", acquired)
        .await?
        .map_err(|e| Failure::new(format!("the owned acquires failed: {e}")))?;
    ensure!(
        Arc::ptr_eq(owned.semaphore(), &sem),
        "an owned permit does not point to its semaphore"
    );
    ensure!(
        owned.num_permits() + many.num_permits() == 3,
        "acquire_owned and acquire_many_owned(2) gave {} and {} permits",
        owned.num_permits(),
        many.num_permits()
    );
    // A waiter queues, and is served when the owned permits come back.
    let mut waiting = pin!(sem.acquire_many(3));
    ensure!(
        future::poll_once(&mut waiting).await.is_none(),
        "acquire_many(3) succeeded while every permit was held"
    );
    ensure!(
        sem.waiter_count() == 1,
        "{} waiters after one acquire_many(3) queued",
        sem.waiter_count()
    );
    drop((owned, many));
    let served = within::<R, _>(PROMPTLY, "the queued waiter is served", waiting)
        .await?
        .map(|p| p.num_permits());
    ensure!(served == Ok(3), "the queued acquire_many(3) got {served:?}");
    ensure!(
        Arc::clone(&sem).try_acquire_many_owned(4).is_err(),
        "try_acquire_many_owned(4) succeeded with 3 permits"
    );
    at_rest(sem.as_core(), 3)?;

    let core: &Semaphore = sem.as_core();
    ensure!(
        std::ptr::eq(core, AsRef::<Semaphore>::as_ref(&*sem)),
        "as_core and as_ref name different semaphores"
    );
    let wrapped = admit_runtime::Semaphore::<R>::from(Semaphore::bounded(2));
    ensure!(
        wrapped.is_bounded(),
        "Semaphore<R>::from(bounded(2)) is not bounded"
    );
    let capacity = wrapped.into_inner().capacity();
    ensure!(
        capacity == 2,
        "bounded(2) wrapped and unwrapped has capacity {capacity}"
    );
    Ok(())
}

/// Many tasks doing random weighted acquires, timeouts and cancellations for a fixed number
/// of operations: the holders never exceed the capacity and every permit comes back.
///
/// Spawned tasks acquire, cancel (drop an acquire after a random number of scheduler rounds:
/// before, while or after it is granted) and `try_acquire`; timeout workers polled by the
/// case's own task (an inline pool, since the seam's timeout future is not provably `Send` in
/// generic code) race them with `acquire_timeout`s of up to 1.5 ms.
pub(super) async fn soak<R: Runtime>(options: Options) -> CaseResult {
    const CAPACITY: usize = 8;
    const TASKS: usize = 24;
    const TIMEOUT_WORKERS: usize = 8;
    let sem = Arc::new(admit_runtime::Semaphore::<R>::new(CAPACITY));
    let shared = Arc::new(Soak {
        remaining: AtomicUsize::new(options.soak_operations),
        ..Soak::default()
    });
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (sem, shared) = (Arc::clone(&sem), Arc::clone(&shared));
            R::spawn(async move {
                // The core's futures: the runtime's cooperative ones are not provably `Send`
                // in generic code.
                let sem = sem.as_core();
                let mut rng = Rng::new(0x5EED + task as u64);
                while shared.take_operation() {
                    let weight = 1 + rng.below(3);
                    let permit = match rng.below(6) {
                        0..=2 => Some(sem.acquire_many(weight).await),
                        3 | 4 => {
                            let rounds = rng.below(4);
                            let acquire = async { Some(sem.acquire_many(weight).await) };
                            let cancel = async {
                                yield_times(rounds).await;
                                None
                            };
                            let outcome = future::or(acquire, cancel).await;
                            if outcome.is_none() {
                                shared.cancels.fetch_add(1, SeqCst);
                            }
                            outcome
                        }
                        _ => sem.try_acquire_many(weight).ok().map(Ok),
                    };
                    match permit {
                        Some(Ok(permit)) => {
                            shared.hold::<R>(weight, rng.below(32)).await;
                            drop(permit);
                        }
                        Some(Err(e)) => return Err(e.to_string()),
                        None => {}
                    }
                }
                Ok(())
            })
        })
        .collect();
    let pool = TaskPool::<R>::new(TIMEOUT_WORKERS).expect("non-zero");
    let workers = (0..TIMEOUT_WORKERS).map(|worker| {
        let (sem, shared) = (&sem, &shared);
        async move {
            let mut rng = Rng::new(0xD1CE + worker as u64);
            while shared.take_operation() {
                let weight = 1 + rng.below(3);
                let timeout = Duration::from_micros(rng.below(1_500) as u64);
                match sem.acquire_many_timeout(weight, timeout).await {
                    Ok(permit) => {
                        shared.hold::<R>(weight, rng.below(32)).await;
                        drop(permit);
                    }
                    Err(AcquireTimeoutError::Timeout) => {
                        shared.timeouts.fetch_add(1, SeqCst);
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
            Ok::<_, String>(())
        }
    });
    let limit = Duration::from_secs(15);
    let worker_results = within::<R, _>(limit, "the timeout workers finish", pool.gather(workers))
        .await?
        .map_err(|e| Failure::new(format!("the pool failed: {e}")))?;
    for result in worker_results {
        result.map_err(|e| Failure::new(format!("a timeout worker failed: {e}")))?;
    }
    for task in tasks {
        within::<R, _>(limit, "the soak tasks finish", task)
            .await?
            .map_err(|e| Failure::new(format!("a soak task failed: {e}")))?;
    }
    let most = shared.most_held.load(SeqCst);
    ensure!(
        most <= CAPACITY,
        "{most} permits held at once with a capacity of {CAPACITY}"
    );
    let (grants, timeouts, cancels) = (
        shared.grants.load(SeqCst),
        shared.timeouts.load(SeqCst),
        shared.cancels.load(SeqCst),
    );
    ensure!(
        grants > 0 && timeouts > 0 && cancels > 0,
        "the soak did not exercise every path: {grants} grants, {timeouts} timeouts, \
         {cancels} cancellations"
    );
    ensure!(
        sem.capacity() == CAPACITY,
        "capacity {} after the soak, expected {CAPACITY}",
        sem.capacity()
    );
    at_rest(sem.as_core(), CAPACITY)
}

/// The soak's shared counters.
#[derive(Default)]
struct Soak {
    remaining: AtomicUsize,
    held: AtomicUsize,
    most_held: AtomicUsize,
    grants: AtomicUsize,
    timeouts: AtomicUsize,
    cancels: AtomicUsize,
}

impl Soak {
    /// Claims one operation of the budget; `false` once it is spent.
    fn take_operation(&self) -> bool {
        self.remaining
            .fetch_update(SeqCst, SeqCst, |left| left.checked_sub(1))
            .is_ok()
    }

    /// Counts `weight` permits as held for a while: one case in 32 (`pause` 0) for a
    /// millisecond, so that timeouts fire; otherwise for up to 2 scheduler rounds.
    async fn hold<R: Runtime>(&self, weight: usize, pause: usize) {
        self.grants.fetch_add(1, SeqCst);
        let holding = self.held.fetch_add(weight, SeqCst) + weight;
        self.most_held.fetch_max(holding, SeqCst);
        if pause == 0 {
            R::sleep(MS).await;
        } else {
            yield_times(pause % 3).await;
        }
        self.held.fetch_sub(weight, SeqCst);
    }
}
