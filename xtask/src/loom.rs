//! `cargo xtask loom`: the loom model checks of the core crate.
//!
//! The models are ordinary `#[test]`s in `admit` whose names contain `loom`, compiled only
//! under the crate-prefixed `--cfg admit_loom` (so loom is not switched on for tokio or
//! async-lock in the same build). They build in release mode, since loom explores many
//! interleavings, and in `target/loom`, because the changed `RUSTFLAGS` would otherwise
//! invalidate the normal build cache.

use xshell::{Shell, cmd};

use crate::Result;

/// `LOOM_MAX_PREEMPTIONS` unless the environment sets it: 2 finds the bugs that need a
/// couple of unlucky context switches and still finishes in CI's time budget.
const DEFAULT_MAX_PREEMPTIONS: &str = "2";

/// Runs the loom models.
///
/// # Errors
///
/// The build fails or a model finds a bad interleaving.
pub fn run(sh: &Shell) -> Result {
    let preemptions = sh
        .var("LOOM_MAX_PREEMPTIONS")
        .unwrap_or_else(|_| DEFAULT_MAX_PREEMPTIONS.to_owned());
    let rustflags = match sh.var("RUSTFLAGS") {
        Ok(existing) if !existing.trim().is_empty() => format!("{existing} --cfg admit_loom"),
        _ => "--cfg admit_loom".to_owned(),
    };
    let target = crate::target_dir().join("loom");
    cmd!(
        sh,
        "cargo test -p admit --release --lib --tests --target-dir {target} loom"
    )
    .env("RUSTFLAGS", rustflags)
    .env("LOOM_MAX_PREEMPTIONS", preemptions)
    .run()?;
    Ok(())
}
