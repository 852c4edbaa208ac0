//! The contended workloads: T tasks on a runtime share a number of
//! acquisitions of a P-permit semaphore, each holding its permit across a
//! [`Hold`] (the runtime's `yield_now`, or CPU work).
//!
//! [`contenders`] gives every semaphore of the benches as a
//! [`Contender`] of one [`Workload`], for [`crate::measure::interleave`].

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use admit_conformance::Flavor;
use admit_runtime::Runtime;

use crate::measure::{Contender, Meter, Sample, spin};
use crate::{PeerSemaphore, Visit, each_semaphore};

/// What a task does while it holds its permit.
///
/// # Examples
///
/// ```
/// use admit_benches::contended::Hold;
///
/// assert_eq!(Hold::Yield.label(), "yield");
/// assert_eq!(Hold::Spin { nanos: 1_000, iterations: 3_000 }.label(), "spin 1us");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// One `yield_now` of the runtime: the task is rescheduled while holding.
    Yield,
    /// CPU work of about `nanos` nanoseconds ([`spin`] of `iterations`).
    Spin {
        /// The nominal duration, for the workload's name.
        nanos: u64,
        /// [`spin`] iterations taking about `nanos` on this machine.
        iterations: u64,
    },
}

impl Hold {
    /// A spin of about `nanos` nanoseconds, given the machine's
    /// [`crate::measure::spins_per_ns`].
    pub fn spin(nanos: u64, spins_per_ns: f64) -> Self {
        Self::Spin {
            nanos,
            iterations: (nanos as f64 * spins_per_ns).round() as u64,
        }
    }

    /// The hold as workload names show it: `yield`, `spin 1us`.
    pub fn label(self) -> String {
        match self {
            Self::Yield => String::from("yield"),
            Self::Spin { nanos, .. } if nanos % 1_000 == 0 => format!("spin {}us", nanos / 1_000),
            Self::Spin { nanos, .. } => format!("spin {nanos}ns"),
        }
    }

    async fn hold<R: Runtime>(self) {
        match self {
            Self::Yield => R::yield_now().await,
            Self::Spin { iterations, .. } => spin(iterations),
        }
    }
}

/// One contended workload.
///
/// # Examples
///
/// ```
/// use admit_benches::contended::{Hold, Workload};
///
/// let workload = Workload::new(16, 4, Hold::Yield);
/// assert_eq!(workload.label(), "T16-P4 hold=yield");
/// assert_eq!(workload.weighted().label(), "T16-P4 n=1..4 hold=yield");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Tasks sharing the acquisitions.
    pub tasks: usize,
    /// Permits of the semaphore.
    pub permits: usize,
    /// What a task does while holding.
    pub hold: Hold,
    /// Whether acquisitions ask for 1 to 4 permits in turn (acquisition `i`
    /// of task `t` asks for `1 + (t + i) % 4`) instead of one.
    pub weighted: bool,
    /// Whether every acquisition's wait is recorded (two clock reads more
    /// per acquisition).
    pub record_waits: bool,
}

impl Workload {
    /// `tasks` tasks, `permits` permits, one permit per acquisition.
    pub const fn new(tasks: usize, permits: usize, hold: Hold) -> Self {
        Self {
            tasks,
            permits,
            hold,
            weighted: false,
            record_waits: false,
        }
    }

    /// The same, asking for 1 to 4 permits in turn.
    #[must_use]
    pub const fn weighted(self) -> Self {
        Self {
            weighted: true,
            ..self
        }
    }

    /// The same, recording each acquisition's wait.
    #[must_use]
    pub const fn recording_waits(self) -> Self {
        Self {
            record_waits: true,
            ..self
        }
    }

    /// The name rows give it: `T16-P4 hold=yield`.
    pub fn label(&self) -> String {
        let weights = if self.weighted { " n=1..4" } else { "" };
        format!(
            "T{}-P{}{weights} hold={}",
            self.tasks,
            self.permits,
            self.hold.label()
        )
    }
}

/// How many of `total` operations task `index` of `tasks` performs (the
/// remainder goes to the first tasks, so the sum is exactly `total`).
///
/// # Examples
///
/// ```
/// use admit_benches::contended::share;
///
/// assert_eq!((0..3).map(|i| share(10, 3, i)).collect::<Vec<_>>(), [4, 3, 3]);
/// ```
pub fn share(total: u64, tasks: usize, index: usize) -> u64 {
    let tasks = tasks as u64;
    total / tasks + u64::from((index as u64) < total % tasks)
}

/// Runs `acquisitions` acquisitions of a fresh semaphore `S` on `runtime`
/// as `workload` says, and returns the measured [`Sample`] (spawning and
/// joining the tasks included, small next to the hand-offs). On a weighted
/// workload, acquisition `i` of task `t` asks for `1 + (t + i) % 4` permits,
/// so small and large requests interleave.
///
/// # Panics
///
/// If `workload.weighted` is set and `S` is not
/// [`WEIGHTED`](PeerSemaphore::WEIGHTED).
///
/// # Examples
///
/// ```
/// use admit_benches::AdmitFifo;
/// use admit_benches::contended::{Hold, Workload, run};
/// use admit_benches::runtimes::Tokio;
///
/// let workload = Workload::new(4, 2, Hold::Yield).recording_waits();
/// let sample = run::<AdmitFifo, _>(&Tokio::new(), &workload, 1_000);
/// assert_eq!(sample.waits_ns.len(), 1_000);
///
/// let weighted = Workload::new(4, 4, Hold::Yield).weighted();
/// let sample = run::<tokio::sync::Semaphore, _>(&Tokio::new(), &weighted, 1_000);
/// assert!(sample.wall.as_nanos() > 0);
/// ```
pub fn run<S: PeerSemaphore, F: Flavor>(
    runtime: &F,
    workload: &Workload,
    acquisitions: u64,
) -> Sample {
    assert!(
        S::WEIGHTED || !workload.weighted,
        "{} has no weighted acquire",
        S::NAME
    );
    let Workload {
        hold,
        weighted,
        record_waits: record,
        ..
    } = *workload;
    let waits = Arc::new(Mutex::new(Vec::new()));
    let all_waits = Arc::clone(&waits);
    let mut sample = fan_out(
        runtime,
        S::with_permits(workload.permits),
        workload.tasks,
        acquisitions,
        move |sem, index, rounds| {
            let all_waits = Arc::clone(&all_waits);
            async move {
                let mut waits = Vec::with_capacity(if record { rounds as usize } else { 0 });
                for round in 0..rounds {
                    let asked = record.then(Instant::now);
                    let permit = if weighted {
                        sem.acquire_many(1 + (index + round as usize) % 4).await
                    } else {
                        sem.acquire().await
                    }
                    .expect("bench semaphores are never closed");
                    if let Some(asked) = asked {
                        waits.push(u64::try_from(asked.elapsed().as_nanos()).unwrap_or(u64::MAX));
                    }
                    hold.hold::<F::Runtime>().await;
                    drop(permit);
                }
                if record {
                    all_waits.lock().expect("no task panicked").extend(waits);
                }
            }
        },
    );
    sample.waits_ns = std::mem::take(&mut *waits.lock().expect("no task panicked"));
    sample
}

/// Spawns `tasks` tasks on `runtime`, task `index` running
/// `task(sem, index, rounds)` with its [`share`] of `acquisitions` as
/// `rounds`, and measures until all have finished (spawning and joining
/// included).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use admit_benches::contended::fan_out;
/// use admit_benches::runtimes::Tokio;
///
/// // 3 tasks share 10 rounds: 4 + 3 + 3.
/// let total = Arc::new(AtomicU64::new(0));
/// let counter = Arc::clone(&total);
/// fan_out(&Tokio::new(), (), 3, 10, move |_, _, rounds| {
///     let counter = Arc::clone(&counter);
///     async move {
///         counter.fetch_add(rounds, Ordering::SeqCst);
///     }
/// });
/// assert_eq!(total.load(Ordering::SeqCst), 10);
/// ```
pub fn fan_out<S, R, T>(
    runtime: &R,
    sem: S,
    tasks: usize,
    acquisitions: u64,
    task: impl Fn(Arc<S>, usize, u64) -> T,
) -> Sample
where
    S: Send + Sync + 'static,
    R: Flavor,
    T: Future<Output = ()> + Send + 'static,
{
    let sem = Arc::new(sem);
    runtime.block_on(async {
        let meter = Meter::start();
        let handles: Vec<_> = (0..tasks)
            .map(|index| {
                let rounds = share(acquisitions, tasks, index);
                runtime.spawn(task(Arc::clone(&sem), index, rounds))
            })
            .collect();
        for handle in handles {
            handle.await;
        }
        meter.stop()
    })
}

/// Every semaphore of the benches as a contender of `workload` on
/// `runtime`, each run doing `acquisitions` acquisitions: admit under both
/// policies, tokio, async-lock, futures-intrusive (fair) and maitake-sync;
/// on a weighted workload, those with a weighted acquire (not async-lock).
///
/// # Examples
///
/// ```
/// use admit_benches::contended::{Hold, Workload, contenders};
/// use admit_benches::runtimes::Tokio;
///
/// let tokio = Tokio::new();
/// let plain = Workload::new(16, 4, Hold::Yield);
/// let weighted = plain.weighted();
/// let names = |w| contenders(&tokio, w, 100).iter().map(|c| c.name).collect::<Vec<_>>();
/// assert_eq!(names(&plain)[0], "admit-fifo");
/// assert_eq!(names(&plain).len(), 6);
/// assert!(!names(&weighted).contains(&"async-lock"));
/// ```
pub fn contenders<'a, F: Flavor>(
    runtime: &'a F,
    workload: &'a Workload,
    acquisitions: u64,
) -> Vec<Contender<'a>> {
    struct Contenders<'a, F> {
        runtime: &'a F,
        workload: &'a Workload,
        acquisitions: u64,
    }
    impl<'a, F: Flavor> Visit for Contenders<'a, F> {
        type Output = Contender<'a>;

        fn visit<S: PeerSemaphore>(&mut self) -> Option<Contender<'a>> {
            let Self {
                runtime,
                workload,
                acquisitions,
            } = *self;
            (S::WEIGHTED || !workload.weighted).then(|| {
                Contender::new(S::NAME, S::FAIR, move || {
                    run::<S, F>(runtime, workload, acquisitions)
                })
            })
        }
    }
    each_semaphore(&mut Contenders {
        runtime,
        workload,
        acquisitions,
    })
}
