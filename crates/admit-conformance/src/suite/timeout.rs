//! The timed acquires of the runtime's `Semaphore<R>` (`acquire_timeout`,
//! `acquire_many_timeout`, `acquire_deadline`, the owned variants): expiry on the runtime's
//! clock, and a wait that times out or is dropped leaving the semaphore as it was.
//!
//! The timed futures are not provably `Send` in generic code (they wrap the runtime's
//! `Cooperative` future), so the waiting side is a future of the case itself; the tasks
//! around it are spawned.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use admit::AcquireError;
use admit_runtime::{AcquireTimeoutError, Runtime, Semaphore};
use futures_lite::future;

use crate::harness::{MS, PROMPTLY, at_rest, join, queued, spawn_acquire, within};
use crate::{CaseResult, Failure, Options};

/// A timeout expires after its duration on the runtime's clock (not much later), and leaves
/// the semaphore as it was.
pub(super) async fn expires_on_the_runtime_clock<R: Runtime>(_: Options) -> CaseResult {
    let sem = Semaphore::<R>::new(1);
    let held = sem.try_acquire().expect("free");
    let start = R::now();
    let expired = within::<R, _>(
        20 * MS + PROMPTLY,
        "a 20 ms timeout expires",
        sem.acquire_timeout(20 * MS),
    )
    .await?
    .map(|p| p.num_permits());
    let elapsed = R::now() - start;
    ensure!(
        expired == Err(AcquireTimeoutError::Timeout),
        "acquire_timeout with the only permit held returned {expired:?}"
    );
    ensure!(
        elapsed >= 20 * MS && elapsed < 20 * MS + PROMPTLY,
        "a 20 ms timeout expired after {elapsed:?}"
    );
    at_rest(sem.as_core(), 0)?;
    drop(held);
    at_rest(sem.as_core(), 1)
}

/// A zero timeout takes a free permit and expires at once without one; a deadline already
/// past expires at once.
pub(super) async fn zero_and_past_deadlines<R: Runtime>(_: Options) -> CaseResult {
    let sem = Semaphore::<R>::new(1);
    let ready = within::<R, _>(
        PROMPTLY,
        "a zero timeout returns",
        sem.acquire_timeout(Duration::ZERO),
    )
    .await?
    .map(|p| p.num_permits());
    ensure!(
        ready == Ok(1),
        "a zero timeout with a free permit returned {ready:?}"
    );
    let held = sem.try_acquire().expect("free");
    let empty = within::<R, _>(
        PROMPTLY,
        "a zero timeout returns",
        sem.acquire_timeout(Duration::ZERO),
    )
    .await?
    .map(|p| p.num_permits());
    ensure!(
        empty == Err(AcquireTimeoutError::Timeout),
        "a zero timeout with nothing free returned {empty:?}"
    );
    let past = R::now().checked_sub(10 * MS).unwrap_or_else(R::now);
    let late = within::<R, _>(
        PROMPTLY,
        "a past deadline expires",
        sem.acquire_deadline(past.into()),
    )
    .await?
    .map(|p| p.num_permits());
    ensure!(
        late == Err(AcquireTimeoutError::Timeout),
        "a past deadline returned {late:?}"
    );
    drop(held);
    at_rest(sem.as_core(), 1)
}

/// The clock starts when the timed future is created, not when it is first polled: a future
/// first polled after its time is up times out on that poll.
pub(super) async fn clock_starts_when_created<R: Runtime>(_: Options) -> CaseResult {
    let sem = Semaphore::<R>::new(0);
    let mut late = pin!(sem.acquire_many_timeout(1, 10 * MS));
    R::sleep(20 * MS).await;
    let Some(result) = future::poll_once(&mut late).await else {
        return Err(Failure::new(
            "a 10 ms timeout first polled after 20 ms was still pending",
        ));
    };
    let result = result.map(|p| p.num_permits());
    ensure!(
        result == Err(AcquireTimeoutError::Timeout),
        "a 10 ms timeout first polled after 20 ms returned {result:?}"
    );
    at_rest(sem.as_core(), 0)
}

/// A permit released by another task before the deadline is granted.
pub(super) async fn permit_in_time_is_granted<R: Runtime>(_: Options) -> CaseResult {
    let sem = Arc::new(Semaphore::<R>::new(1));
    let held = Arc::clone(&sem).try_acquire_owned().expect("free");
    let releaser = R::spawn(async move {
        R::sleep(5 * MS).await;
        drop(held);
    });
    let in_time = within::<R, _>(
        Duration::from_secs(5) + PROMPTLY,
        "the timed acquire returns",
        sem.acquire_many_timeout(1, Duration::from_secs(5)),
    )
    .await?
    .map(|p| p.num_permits());
    ensure!(
        in_time == Ok(1),
        "a permit released by another task after 5 ms did not arrive within 5 s: {in_time:?}"
    );
    join::<R, _>(releaser, "the releasing task ends").await?;
    at_rest(sem.as_core(), 1)
}

/// A permit handed to the waiter in the same poll as its deadline passes is kept (the wait
/// succeeds), not lost.
pub(super) async fn ready_permit_wins_over_deadline<R: Runtime>(_: Options) -> CaseResult {
    let sem = Semaphore::<R>::new(0);
    let deadline = R::now() + 5 * MS;
    let mut waiting = pin!(sem.acquire_many_deadline(1, deadline.into()));
    ensure!(
        future::poll_once(&mut waiting).await.is_none(),
        "a deadline wait on an empty semaphore was ready at once"
    );
    // Both happen before the next poll: the deadline passes, and a permit is handed over.
    R::sleep_until(deadline + MS).await;
    sem.add_permits(1);
    let Some(result) = future::poll_once(&mut waiting).await else {
        return Err(Failure::new(
            "the waiter handed a permit was still pending after its deadline",
        ));
    };
    let permit =
        result.map_err(|e| Failure::new(format!("the deadline won over a handed permit: {e}")))?;
    ensure!(
        permit.num_permits() == 1 && sem.available_permits() == 0,
        "the waiter got {} permit(s), {} left free",
        permit.num_permits(),
        sem.available_permits()
    );
    drop(permit);
    at_rest(sem.as_core(), 1)
}

/// A waiter whose timeout expires leaves the queue, and the waiter behind it is served by
/// the next release.
pub(super) async fn expired_waiter_passes_its_place_on<R: Runtime>(_: Options) -> CaseResult {
    let sem = Arc::new(Semaphore::<R>::new(1));
    let held = Arc::clone(&sem).try_acquire_owned().expect("free");
    let mut impatient = pin!(sem.acquire_timeout(20 * MS));
    ensure!(
        future::poll_once(&mut impatient).await.is_none(),
        "acquire_timeout succeeded while the only permit was held"
    );
    queued::<R>(sem.as_core(), 1).await?;
    let patient = spawn_acquire::<R>(&sem, 1);
    queued::<R>(sem.as_core(), 2).await?;
    let expired = within::<R, _>(PROMPTLY, "the timeout expires", impatient)
        .await?
        .map(|p| p.num_permits());
    ensure!(
        expired == Err(AcquireTimeoutError::Timeout),
        "acquire_timeout returned {expired:?} while the only permit was held"
    );
    ensure!(
        sem.waiter_count() == 1 && sem.available_permits() == 0,
        "after the timeout: {} waiters, {} free (expected 1 and 0)",
        sem.waiter_count(),
        sem.available_permits()
    );
    drop(held);
    let served = join::<R, _>(patient, "the next waiter is served").await?;
    ensure!(served == Ok(1), "the next waiter got {served:?}");
    at_rest(sem.as_core(), 1)
}

/// A weighted wait that had been assigned some permits gives them back when it times out:
/// to the waiter behind it, or to the semaphore when nobody waits (borrowed and owned).
pub(super) async fn expired_waiter_gives_back_assigned_permits<R: Runtime>(
    _: Options,
) -> CaseResult {
    // A waiter behind: the permit assigned to the expiring head goes on to it.
    let sem = Arc::new(Semaphore::<R>::new(3));
    let mut held = Arc::clone(&sem).try_acquire_many_owned(3).expect("free");
    let mut big = pin!(sem.acquire_many_timeout(3, 40 * MS));
    ensure!(
        future::poll_once(&mut big).await.is_none(),
        "acquire_many_timeout(3) succeeded with nothing free"
    );
    queued::<R>(sem.as_core(), 1).await?;
    let small = spawn_acquire::<R>(&sem, 1);
    queued::<R>(sem.as_core(), 2).await?;
    drop(held.split(1).expect("3 held"));
    let expired = within::<R, _>(PROMPTLY, "the weighted timeout expires", big)
        .await?
        .map(|p| p.num_permits());
    ensure!(
        expired == Err(AcquireTimeoutError::Timeout),
        "acquire_many_timeout(3) returned {expired:?} with 1 permit free"
    );
    let served = join::<R, _>(
        small,
        "the permit assigned to the expired head reaches the next waiter",
    )
    .await?;
    ensure!(served == Ok(1), "the next waiter got {served:?}");
    drop(held);
    at_rest(sem.as_core(), 3)?;

    // Nobody behind, borrowed and owned: the assigned permit is free again.
    for owned in [false, true] {
        let mut held = sem.try_acquire_many(3).expect("free");
        let expired = if owned {
            let mut waiting = pin!(Arc::clone(&sem).acquire_many_owned_timeout(3, 30 * MS));
            ensure!(
                future::poll_once(&mut waiting).await.is_none(),
                "acquire_many_owned_timeout(3) succeeded with nothing free"
            );
            drop(held.split(1).expect("3 held")); // assigned to the waiter
            within::<R, _>(PROMPTLY, "the owned timeout expires", waiting)
                .await?
                .map(|p| p.num_permits())
        } else {
            let mut waiting = pin!(sem.acquire_many_timeout(3, 30 * MS));
            ensure!(
                future::poll_once(&mut waiting).await.is_none(),
                "acquire_many_timeout(3) succeeded with nothing free"
            );
            drop(held.split(1).expect("3 held")); // assigned to the waiter
            within::<R, _>(PROMPTLY, "the timeout expires", waiting)
                .await?
                .map(|p| p.num_permits())
        };
        ensure!(
            expired == Err(AcquireTimeoutError::Timeout),
            "the timed acquire_many(3) returned {expired:?} with 1 permit free (owned: {owned})"
        );
        ensure!(
            (sem.available_permits(), sem.waiter_count()) == (1, 0),
            "after the timeout: {} free, {} waiting; expected the assigned permit back and \
             nobody waiting (owned: {owned})",
            sem.available_permits(),
            sem.waiter_count()
        );
        drop(held);
        at_rest(sem.as_core(), 3)?;
    }
    Ok(())
}

/// Dropping a timed acquire while it waits leaves no waiter and changes no count.
pub(super) async fn dropped_wait_leaves_no_trace<R: Runtime>(_: Options) -> CaseResult {
    let sem = Semaphore::<R>::new(2);
    let held = sem.try_acquire().expect("free");
    {
        let mut waiting = pin!(sem.acquire_many_timeout(2, Duration::from_secs(10)));
        ensure!(
            future::poll_once(&mut waiting).await.is_none(),
            "acquire_many_timeout(2) succeeded with 1 permit free"
        );
        ensure!(
            sem.waiter_count() == 1,
            "{} waiters while one timed acquire waits",
            sem.waiter_count()
        );
    }
    at_rest(sem.as_core(), 1)?;
    drop(held);
    at_rest(sem.as_core(), 2)
}

/// The semaphore's own errors come through the timed acquires: `Closed`, and `TooLarge` on a
/// bounded semaphore.
pub(super) async fn errors_pass_through<R: Runtime>(_: Options) -> CaseResult {
    let bounded = Semaphore::<R>::bounded(2);
    let too_large = within::<R, _>(
        PROMPTLY,
        "acquire_many_timeout(3) on bounded(2) fails",
        bounded.acquire_many_timeout(3, Duration::from_secs(5)),
    )
    .await?
    .map(|p| p.num_permits());
    ensure!(
        too_large == Err(AcquireTimeoutError::Acquire(AcquireError::TooLarge)),
        "acquire_many_timeout(3) on bounded(2) returned {too_large:?}"
    );
    bounded.close();
    let closed = within::<R, _>(
        PROMPTLY,
        "acquire_timeout on a closed semaphore fails",
        bounded.acquire_timeout(Duration::from_secs(5)),
    )
    .await?
    .map(|p| p.num_permits());
    ensure!(
        closed == Err(AcquireTimeoutError::Acquire(AcquireError::Closed)),
        "acquire_timeout on a closed semaphore returned {closed:?}"
    );
    at_rest(bounded.as_core(), 2)
}

/// The owned timeouts give a `'static` permit that can move into a spawned task; dropping it
/// there gives it back.
pub(super) async fn owned_permit_outlives_the_borrow<R: Runtime>(_: Options) -> CaseResult {
    let sem = Arc::new(Semaphore::<R>::new(2));
    let permit = within::<R, _>(
        PROMPTLY,
        "acquire_owned_timeout returns",
        Arc::clone(&sem).acquire_owned_timeout(Duration::from_secs(5)),
    )
    .await?
    .map_err(|e| Failure::new(format!("acquire_owned_timeout with 2 free failed: {e}")))?;
    ensure!(
        sem.available_permits() == 1,
        "{} free while an owned permit is held",
        sem.available_permits()
    );
    let moved = R::spawn(async move { permit.num_permits() });
    let num = join::<R, _>(moved, "the task holding the owned permit ends").await?;
    ensure!(num == 1, "the owned permit held {num} permits");
    at_rest(sem.as_core(), 2)
}
