//! The cases: each an `async fn` generic over the runtime that returns a
//! [`CaseResult`](crate::CaseResult),
//! grouped by area, one module per area:
//!
//! * `runtime`: the seam contract of [`Runtime`] (a spawned task's output, a dropped handle
//!   detaching, a panic reaching the awaiter, sleeping on the runtime's clock, the
//!   cooperative hooks);
//! * `semaphore`: the core's semantics seen through real tasks (FIFO order, no overtaking,
//!   weighted heads, cancellation by dropping a task, close, resize, bounded release), the
//!   runtime's `Semaphore<R>` wrappers, and the soak;
//! * `timeout`: the timed acquires of `Semaphore<R>`;
//! * `pool`: `TaskPool`, inline and spawned;
//! * `rate`: `RateLimiter`, its accuracy on the runtime's clock included.
//!
//! # Adding a case
//!
//! A new behaviour test goes into the module of its area (a new area gets a new module) as
//!
//! ```text
//! /// What the case shows, in a sentence or two: the property, not the steps.
//! pub(super) async fn name<R: Runtime>(_: Options) -> CaseResult {
//!     ...
//!     ensure!(observed == expected, "what went wrong: {observed:?}");
//!     Ok(())
//! }
//! ```
//!
//! and its name into the area's list in the `cases!` invocation below; it is then
//! `area::name` in [`CASES`], in the matrix and in `cargo test` output, and runs on every
//! flavor. The rules:
//!
//! * Report findings with `ensure!(condition, "message", args)` (or a [`Failure`](crate::Failure) returned
//!   with `?`), never with `assert!`: the message should say what was seen. A panic is still
//!   caught by the runner and reported as a failure, so `expect` is fine for setup that
//!   cannot fail.
//! * Never wait without a limit: wrap awaits that could hang in `within`/`join`, and poll
//!   conditions with `eventually` (all in the crate's harness), using `PROMPTLY` for
//!   anything that should happen at once.
//! * Tasks are spawned with [`Runtime::spawn`] and really run on the runtime's threads, so a
//!   case must hold on a multi-threaded runtime too: observe "queued" through
//!   [`Semaphore::waiter_count`](admit::Semaphore::waiter_count) (`queued`), hold jobs back
//!   with a `Gate`, count them with a `Tracker`. Times are measured on [`Runtime::now`].
//! * Keep a case to a fraction of a second (it runs on five flavors, in debug builds too),
//!   and timing bounds generous enough for a loaded two-core CI machine.

use admit_runtime::Runtime;

use crate::Case;

mod pool;
mod rate;
mod runtime;
mod semaphore;
mod timeout;

/// Lists the cases by area, in the order they run; each is named `area::case`.
macro_rules! cases {
    ($($area:ident: [$($case:ident),* $(,)?]),* $(,)?) => {
        /// The names of the suite's cases (`area::case`), in the order [`suite`] runs them
        /// (the rows of the matrix).
        ///
        /// # Examples
        ///
        /// ```
        /// assert!(admit_conformance::CASES.contains(&"semaphore::fifo_order"));
        /// assert!(admit_conformance::CASES.iter().any(|name| name.starts_with("pool::")));
        /// ```
        pub const CASES: &[&str] = &[$($(concat!(stringify!($area), "::", stringify!($case))),*),*];

        /// Every case of the suite, instantiated for runtime `R`; run them with
        /// [`run_case`](crate::run_case) or [`run_suite`](crate::run_suite).
        ///
        /// # Examples
        ///
        /// ```
        /// # #[cfg(feature = "adapters")] {
        /// let names: Vec<_> = admit_conformance::suite::<admit_tokio::Tokio>()
        ///     .iter()
        ///     .map(|case| case.name())
        ///     .collect();
        /// assert_eq!(names, admit_conformance::CASES);
        /// # }
        /// ```
        #[must_use]
        pub fn suite<R: Runtime>() -> Vec<Case> {
            vec![$($(Case::new(
                concat!(stringify!($area), "::", stringify!($case)),
                |options| Box::pin($area::$case::<R>(options.clone())),
            )),*),*]
        }
    };
}

cases! {
    runtime: [
        spawn_returns_output,
        dropped_handle_detaches,
        panic_reaches_awaiter,
        sleep_follows_clock,
        cooperative_hooks_pass_through,
    ],
    semaphore: [
        fifo_order,
        no_overtaking_by_try_acquire,
        weighted_fifo_order,
        weighted_head_blocks_smaller,
        cancel_by_dropping_task,
        close_with_waiters,
        resize_under_load,
        bounded_release,
        runtime_semaphore_wrappers,
        soak,
    ],
    timeout: [
        expires_on_the_runtime_clock,
        zero_and_past_deadlines,
        clock_starts_when_created,
        permit_in_time_is_granted,
        ready_permit_wins_over_deadline,
        expired_waiter_passes_its_place_on,
        expired_waiter_gives_back_assigned_permits,
        dropped_wait_leaves_no_trace,
        errors_pass_through,
        owned_permit_outlives_the_borrow,
    ],
    pool: [
        zero_limit_is_an_error,
        gather_keeps_input_order_and_bound,
        gather_collects_all_failures,
        as_completed_yields_completion_order,
        try_gather_fails_fast,
        progress_hook_reports_everything,
        dropped_halfway_stops_everything,
        task_panic_reaches_caller,
        job_panic_frees_its_slot,
        shared_semaphore_bounds_pools_together,
        shares_semaphore_with_direct_acquires,
        closed_semaphore_stops_admission,
        acquire_timeout_stops_admission,
        inline_accepts_borrowing_non_send_futures,
        gather_takes_jobs_from_a_stream,
        join_set_submits_one_by_one,
        polls_only_woken_jobs,
    ],
    rate: [
        long_run_matches_configured_rate,
        burst_1_at_50,
        burst_1_at_500,
        burst_1_at_5000,
        bad_input_is_an_error,
        weighted_requests_cost_their_weight,
        too_large_fails_at_once,
        fifo_fair,
        cancelled_waiter_takes_nothing,
        try_acquire_does_not_overtake,
    ],
}
