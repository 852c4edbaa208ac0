//! The seam contract every [`Runtime`] implementation keeps (see its `# Contract`): what the
//! helpers of `admit-runtime` rely on, checked with real tasks.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use admit_runtime::Runtime;
use futures_lite::FutureExt;

use crate::harness::{MS, PROMPTLY, eventually, join, panic_message, within};
use crate::{CaseResult, Failure, Options};

/// A spawned task's output comes back through its handle, for many tasks at once.
pub(super) async fn spawn_returns_output<R: Runtime>(_: Options) -> CaseResult {
    let handles: Vec<_> = (0..10u32)
        .map(|i| {
            R::spawn(async move {
                R::sleep(MS * (i % 3)).await;
                i * 2
            })
        })
        .collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(join::<R, _>(handle, "a spawned task finishes").await?);
    }
    let expected: Vec<u32> = (0..10).map(|i| i * 2).collect();
    ensure!(
        outputs == expected,
        "the handles returned {outputs:?}, expected {expected:?}"
    );
    Ok(())
}

/// Dropping a join handle detaches the task: it still runs to completion.
pub(super) async fn dropped_handle_detaches<R: Runtime>(_: Options) -> CaseResult {
    let done = Arc::new(AtomicUsize::new(0));
    let flag = Arc::clone(&done);
    drop(R::spawn(async move {
        R::sleep(5 * MS).await;
        flag.store(1, SeqCst);
    }));
    eventually::<R>(
        PROMPTLY,
        "the task whose handle was dropped finishes",
        || done.load(SeqCst) == 1,
    )
    .await
}

/// A panic in a spawned task is resumed, with its payload, in whoever awaits the handle; the
/// runtime survives it.
pub(super) async fn panic_reaches_awaiter<R: Runtime>(_: Options) -> CaseResult {
    let handle = R::spawn(async {
        R::sleep(MS).await;
        if true {
            panic!("boom in a task");
        }
    });
    let outcome = within::<R, _>(
        PROMPTLY,
        "the panicking task ends",
        AssertUnwindSafe(handle).catch_unwind(),
    )
    .await?;
    let Err(payload) = outcome else {
        return Err(Failure::new(
            "awaiting a task that panicked returned normally",
        ));
    };
    let message = panic_message(&*payload);
    ensure!(
        message == "boom in a task",
        "the awaiter got the panic payload {message:?}, expected \"boom in a task\""
    );
    let after = join::<R, _>(R::spawn(async { 1 }), "a task after the panic finishes").await?;
    ensure!(after == 1, "a task after the panic returned {after}");
    Ok(())
}

/// `sleep` waits at least its duration on the runtime's clock (and not far longer);
/// `sleep_until` an instant in the past is ready at once.
pub(super) async fn sleep_follows_clock<R: Runtime>(_: Options) -> CaseResult {
    let start = R::now();
    within::<R, _>(PROMPTLY, "a 10 ms sleep ends", R::sleep(10 * MS)).await?;
    let slept = R::now() - start;
    ensure!(
        slept >= 10 * MS,
        "a 10 ms sleep ended after {slept:?} on the runtime's clock"
    );
    let start = R::now();
    let past = start.checked_sub(MS).unwrap_or(start);
    within::<R, _>(
        PROMPTLY,
        "a sleep until a past instant ends",
        R::sleep_until(past),
    )
    .await?;
    let slept = R::now() - start;
    ensure!(
        slept < Duration::from_secs(1),
        "sleep_until an instant in the past took {slept:?}"
    );
    Ok(())
}

/// `cooperative` gives the wrapped future's output, and `budget` always completes: a loop of
/// ten thousand units runs to the end (on a runtime with a budget, it yields on the way).
pub(super) async fn cooperative_hooks_pass_through<R: Runtime>(_: Options) -> CaseResult {
    let output = within::<R, _>(
        PROMPTLY,
        "a cooperative future completes",
        R::cooperative(async { 42 }),
    )
    .await?;
    ensure!(output == 42, "cooperative(async {{ 42 }}) gave {output}");
    let spent = async {
        for _ in 0..10_000 {
            R::budget().await;
        }
    };
    within::<R, _>(PROMPTLY, "10,000 budget units are consumed", spent).await
}
