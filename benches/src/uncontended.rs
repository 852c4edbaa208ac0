//! The single-thread workloads: acquire and release with nobody waiting, and
//! the hand-off to the head of a long queue of waiters.
//!
//! [`contenders`] gives every semaphore of the benches as a [`Contender`]
//! of one [`Workload`], for [`crate::measure::interleave`], next to the
//! [`Floor`] the uncontended rows are compared with.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_lite::future::block_on;

use crate::measure::{Contender, Meter, Sample};
use crate::{Floor, PeerSemaphore, Visit, each_semaphore};

/// The name of the [`Floor`] contender; not a semaphore, so the bench puts
/// its time in the other rows' `extra` (`floor_ns`) rather than in a row.
pub const FLOOR: &str = "floor";

/// A single-thread workload.
///
/// # Examples
///
/// ```
/// use admit_benches::uncontended::Workload;
///
/// assert_eq!(Workload::Acquire.label(), "acquire+drop");
/// assert_eq!(Workload::Handoff { waiters: 10 }.label(), "W10 release-to-head");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `acquire().await` + drop on a free permit, inside one `block_on`.
    Acquire,
    /// `try_acquire()` + drop on a free permit.
    TryAcquire,
    /// With one permit held and `waiters` acquire futures queued behind it,
    /// one operation drops the held permit (the head is granted), polls the
    /// head to take its permit, and queues a fresh acquire at the back; the
    /// futures are polled by hand with a no-op waker.
    Handoff {
        /// Queued waiters.
        waiters: usize,
    },
}

impl Workload {
    /// The name rows give it.
    pub fn label(self) -> String {
        match self {
            Self::Acquire => String::from("acquire+drop"),
            Self::TryAcquire => String::from("try_acquire+drop"),
            Self::Handoff { waiters } => format!("W{waiters} release-to-head"),
        }
    }

    /// What runs it, for the rows' `runtime`.
    pub fn runtime(self) -> &'static str {
        match self {
            Self::Acquire => "one thread (block_on)",
            Self::TryAcquire | Self::Handoff { .. } => "one thread (polled by hand)",
        }
    }
}

/// `ops` operations of `workload` on a fresh semaphore `S`.
///
/// # Panics
///
/// If a semaphore breaks the workload's expectations (a free permit not
/// granted, the head waiter not granted the released permit).
///
/// # Examples
///
/// ```
/// use admit_benches::AdmitFifo;
/// use admit_benches::uncontended::{Workload, run};
///
/// let sample = run::<AdmitFifo>(Workload::Handoff { waiters: 10 }, 1_000);
/// assert!(sample.wall.as_nanos() > 0);
/// ```
pub fn run<S: PeerSemaphore>(workload: Workload, ops: u64) -> Sample {
    let sem = S::with_permits(1);
    match workload {
        Workload::Acquire => block_on(async {
            let meter = Meter::start();
            for _ in 0..ops {
                let permit = black_box(&sem).acquire().await.expect("never closed");
                drop(black_box(permit));
            }
            meter.stop()
        }),
        Workload::TryAcquire => {
            let meter = Meter::start();
            for _ in 0..ops {
                let permit = black_box(&sem).try_acquire();
                assert!(permit.is_some(), "the only permit is free");
                drop(black_box(permit));
            }
            meter.stop()
        }
        Workload::Handoff { waiters } => handoff(&sem, waiters, ops),
    }
}

/// [`Floor::cycle`] `ops` times: the uncontended rows' floor.
///
/// # Examples
///
/// ```
/// assert!(admit_benches::uncontended::floor(1_000).wall.as_nanos() > 0);
/// ```
pub fn floor(ops: u64) -> Sample {
    let floor = Floor::new();
    let meter = Meter::start();
    for _ in 0..ops {
        let _ = black_box(black_box(&floor).cycle());
    }
    meter.stop()
}

/// Polls a pinned slot's future once with a no-op waker.
fn poll_slot<F: Future>(slot: &mut Pin<Box<Option<F>>>) -> Poll<F::Output> {
    let future = slot.as_mut().as_pin_mut().expect("slot holds a future");
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// [`Workload::Handoff`]; the slots are allocated before the clock starts.
fn handoff<S: PeerSemaphore>(sem: &S, waiters: usize, ops: u64) -> Sample {
    let mut held = Some(sem.try_acquire().expect("the only permit is free"));
    let mut slots: Vec<_> = (0..waiters)
        .map(|_| Box::pin(Some(sem.acquire())))
        .collect();
    for slot in &mut slots {
        assert!(poll_slot(slot).is_pending(), "the permit is held");
    }
    let mut head = 0;
    let meter = Meter::start();
    for _ in 0..ops {
        drop(held.take());
        let slot = &mut slots[head];
        let Poll::Ready(Ok(permit)) = poll_slot(slot) else {
            panic!(
                "{}: the head waiter was not granted the released permit",
                S::NAME
            );
        };
        held = Some(permit);
        slot.as_mut().set(Some(sem.acquire()));
        assert!(poll_slot(slot).is_pending(), "the permit is held");
        head = (head + 1) % waiters;
    }
    let sample = meter.stop();
    drop(slots);
    drop(held);
    sample
}

/// Every semaphore of the benches as a contender of `workload`, `ops`
/// operations per run; on [`Workload::Acquire`] and
/// [`Workload::TryAcquire`], the [`Floor`] too (named [`FLOOR`]).
///
/// # Examples
///
/// ```
/// use admit_benches::uncontended::{FLOOR, Workload, contenders};
///
/// let names: Vec<_> = contenders(Workload::Acquire, 10).iter().map(|c| c.name).collect();
/// assert_eq!(names.len(), 7);
/// assert_eq!(names[6], FLOOR);
/// ```
pub fn contenders(workload: Workload, ops: u64) -> Vec<Contender<'static>> {
    struct Contenders(Workload, u64);
    impl Visit for Contenders {
        type Output = Contender<'static>;

        fn visit<S: PeerSemaphore>(&mut self) -> Option<Contender<'static>> {
            let Self(workload, ops) = *self;
            Some(Contender::new(S::NAME, S::FAIR, move || {
                run::<S>(workload, ops)
            }))
        }
    }
    let mut contenders = each_semaphore(&mut Contenders(workload, ops));
    if !matches!(workload, Workload::Handoff { .. }) {
        contenders.push(Contender::new(FLOOR, false, move || floor(ops)));
    }
    contenders
}
