//! Small helpers shared by the examples: a concurrency gauge, a seeded random generator, a
//! timeout written over [`Runtime::sleep`], and a poison-tolerant mutex lock.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use admit_runtime::Runtime;

/// Counts how many things are in progress at once, and the most there ever were.
///
/// # Examples
///
/// ```
/// let gauge = admit_examples::Gauge::default();
/// let a = gauge.enter();
/// let b = gauge.enter();
/// drop((a, b));
/// assert_eq!((gauge.current(), gauge.max()), (0, 2));
/// ```
#[derive(Debug, Default)]
pub struct Gauge {
    current: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    /// Counts one more in progress until the guard drops.
    pub fn enter(&self) -> GaugeGuard<'_> {
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        GaugeGuard(self)
    }

    /// How many are in progress now.
    #[must_use]
    pub fn current(&self) -> usize {
        self.current.load(Ordering::SeqCst)
    }

    /// The most that were ever in progress at once.
    #[must_use]
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// One thing in progress on a [`Gauge`]; leaves it when dropped.
#[derive(Debug)]
#[must_use = "the gauge counts until the guard drops"]
pub struct GaugeGuard<'a>(&'a Gauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.current.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A tiny seeded random generator (SplitMix64), so the examples' "random" durations and
/// failures are the same on every run and every runtime.
///
/// # Examples
///
/// ```
/// let mut a = admit_examples::SplitMix64::new(7);
/// let mut b = admit_examples::SplitMix64::new(7);
/// assert_eq!(a.below(100), b.below(100));
/// ```
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0; the tiny modulo bias does not matter here).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// Runs `future` for at most `limit` on runtime `R`: `None` if the time ran out first (the
/// future is then dropped, which closes any socket it held).
///
/// # Examples
///
/// ```
/// use admit_examples::timeout;
/// use admit_smol::{BlockOn, Runtime, Smol};
/// use std::time::Duration;
///
/// let late = Smol::block_on(timeout::<Smol, _>(Duration::from_millis(5), Smol::sleep(Duration::from_secs(5))));
/// assert_eq!(late, None);
/// ```
pub async fn timeout<R: Runtime, F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    futures_lite::future::or(async { Some(future.await) }, async {
        R::sleep(limit).await;
        None
    })
    .await
}

/// Locks `mutex`, ignoring poisoning: the examples' shared values (counters, logs) stay valid
/// whatever panicked while holding them.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
