//! admit's core semaphore on a bare-metal target: no `std`, no allocator, no runtime.
//!
//! Firmware shares scarce hardware between drivers: here, two DMA channels. A `static`
//! [`Semaphore`] needs no heap and no initialisation code; drivers that cannot wait use
//! [`try_acquire`](Semaphore::try_acquire), and async drivers await
//! [`acquire`](Semaphore::acquire) on whatever executor the firmware runs (embassy,
//! RTIC's async tasks, a hand-written loop). [`demonstrate`] walks through both with a
//! hand-polled future and a no-op waker, so that it needs no executor at all.
//!
//! Build it for a Cortex-M4F (what CI does):
//!
//! ```text
//! cargo build -p admit-example-no-std --target thumbv7em-none-eabihf
//! ```
//!
//! and run the same walk-through on the host with `cargo test -p admit-example-no-std`.
//!
//! The crate is an `rlib`, so the firmware that links it brings the panic handler and the
//! entry point; with no `std` feature the core guards its wait queue with a spin lock (enable
//! admit's `critical-section` feature on single-core targets whose interrupts also acquire).
#![no_std]
#![forbid(unsafe_code)]

use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};

use admit::{AcquireError, Semaphore, TryAcquireError};

/// Two DMA channels shared by every driver of the firmware. `Semaphore::new` is a `const fn`:
/// no heap, no start-up code.
pub static DMA_CHANNELS: Semaphore = Semaphore::new(2);

/// What [`demonstrate`] saw at each step; every field is `true` when the semaphore behaved
/// as documented.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one flag per documented behaviour is the clearest report"
)]
pub struct Walkthrough {
    /// Both channels were taken without waiting.
    pub both_channels_taken_at_once: bool,
    /// A third `try_acquire` was refused with `NoPermits` instead of blocking.
    pub third_refused_without_blocking: bool,
    /// A third `acquire` future returned `Pending` and joined the wait queue.
    pub third_waits_in_queue: bool,
    /// A released channel went to the queued waiter, not to a later `try_acquire` (FIFO).
    pub release_goes_to_the_waiter: bool,
    /// The waiter's future then completed with the channel.
    pub waiter_completes: bool,
    /// A request for both channels waited until both were free.
    pub weighted_request_waits_for_both: bool,
    /// Closing the semaphore failed the queued waiters with `Closed`.
    pub close_fails_waiters: bool,
}

impl Walkthrough {
    /// Whether every step behaved as documented.
    #[must_use]
    pub fn all_hold(&self) -> bool {
        let Self {
            both_channels_taken_at_once,
            third_refused_without_blocking,
            third_waits_in_queue,
            release_goes_to_the_waiter,
            waiter_completes,
            weighted_request_waits_for_both,
            close_fails_waiters,
        } = *self;
        both_channels_taken_at_once
            && third_refused_without_blocking
            && third_waits_in_queue
            && release_goes_to_the_waiter
            && waiter_completes
            && weighted_request_waits_for_both
            && close_fails_waiters
    }
}

/// Polls `future` once with a waker that does nothing: enough here, because the walk-through
/// itself knows when to poll again (a real executor would be woken instead).
fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Walks through the semaphore's behaviour on a fresh two-permit semaphore (on the stack, so
/// the walk-through can close it), without an executor or an allocator.
///
/// # Examples
///
/// ```
/// assert!(admit_example_no_std::demonstrate().all_hold());
/// ```
#[must_use]
pub fn demonstrate() -> Walkthrough {
    let channels = Semaphore::new(2);
    let mut seen = Walkthrough::default();

    let first = channels.try_acquire();
    let second = channels.try_acquire();
    seen.both_channels_taken_at_once = first.is_ok() && second.is_ok();
    seen.third_refused_without_blocking =
        matches!(channels.try_acquire(), Err(TryAcquireError::NoPermits));

    // The future is pinned on the stack: the core's wait queue is intrusive, so waiting
    // allocates nothing.
    let mut third = pin!(channels.acquire());
    seen.third_waits_in_queue =
        poll_once(third.as_mut()).is_pending() && channels.waiter_count() == 1;

    // Releasing hands the channel to the queued waiter: a later `try_acquire` cannot barge in.
    drop(first);
    seen.release_goes_to_the_waiter =
        matches!(channels.try_acquire(), Err(TryAcquireError::NoPermits));
    let third = match poll_once(third.as_mut()) {
        Poll::Ready(Ok(permit)) => Some(permit),
        _ => None,
    };
    seen.waiter_completes = third.is_some();

    // A weighted request (both channels, for a double-buffered transfer) waits for both.
    let mut both = pin!(channels.acquire_many(2));
    let waited_with_one_free = {
        drop(second);
        poll_once(both.as_mut()).is_pending()
    };
    drop(third);
    let both = match poll_once(both.as_mut()) {
        Poll::Ready(Ok(permit)) => Some(permit),
        _ => None,
    };
    seen.weighted_request_waits_for_both =
        waited_with_one_free && both.as_ref().is_some_and(|p| p.num_permits() == 2);

    // Closing (e.g. the peripheral was powered down) fails everyone still waiting; the
    // transfer holding both channels keeps them until it ends.
    let mut late = pin!(channels.acquire());
    let queued = poll_once(late.as_mut()).is_pending();
    channels.close();
    seen.close_fails_waiters = queued
        && matches!(
            poll_once(late.as_mut()),
            Poll::Ready(Err(AcquireError::Closed))
        );
    drop(both);

    seen
}

/// What a driver that must not wait does: start a transfer if a channel is free, else report
/// busy. The channel is released when the permit drops, on every path.
///
/// # Examples
///
/// ```
/// assert_eq!(admit_example_no_std::start_transfer_if_free(), Ok(2));
/// ```
///
/// # Errors
///
/// [`TryAcquireError::NoPermits`] when both channels are in use.
pub fn start_transfer_if_free() -> Result<usize, TryAcquireError> {
    let channel = DMA_CHANNELS.try_acquire()?;
    // ... program the channel; here, report how many were free before we took one ...
    Ok(DMA_CHANNELS.available_permits() + channel.num_permits())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_holds() {
        let seen = demonstrate();
        assert!(seen.all_hold(), "{seen:?}");
    }

    #[test]
    fn static_semaphore_refuses_when_busy() {
        let held = DMA_CHANNELS
            .try_acquire_many(2)
            .expect("both channels start free");
        assert_eq!(start_transfer_if_free(), Err(TryAcquireError::NoPermits));
        drop(held);
        assert_eq!(start_transfer_if_free(), Ok(2));
    }
}
