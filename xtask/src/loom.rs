//! `cargo xtask loom`: the loom model checks of the core crate.
//!
//! The models are ordinary `#[test]`s in `admit` whose names contain `loom`, compiled only
//! under the crate-prefixed `--cfg admit_loom` (so loom is not switched on for other crates
//! in the same build). They build in release mode, since loom explores many interleavings,
//! and in their own target directory, because a changed `RUSTFLAGS` would otherwise
//! invalidate the normal build cache.

use std::env;
use std::path::Path;

use crate::cmd::{Result, cargo, display_path};
use crate::workspace::target_dir;

/// `LOOM_MAX_PREEMPTIONS` unless the environment already sets it: 2 finds the bugs that
/// need a couple of unlucky context switches and still finishes in CI's time budget.
pub const DEFAULT_MAX_PREEMPTIONS: &str = "2";

/// The cfg that switches the core crate's sync facade over to loom.
pub const LOOM_CFG: &str = "--cfg admit_loom";

/// Runs the loom models.
///
/// # Errors
///
/// Cargo is missing, the build fails or a model finds a bad interleaving.
pub fn run(root: &Path) -> Result<()> {
    let preemptions =
        env::var("LOOM_MAX_PREEMPTIONS").unwrap_or_else(|_| DEFAULT_MAX_PREEMPTIONS.to_owned());
    let rustflags = match env::var("RUSTFLAGS") {
        Ok(existing) if !existing.trim().is_empty() => format!("{existing} {LOOM_CFG}"),
        _ => LOOM_CFG.to_owned(),
    };
    let loom_target = target_dir(root).join("loom");
    cargo(root)
        .args(["test", "-p", "admit", "--release", "--lib", "--tests"])
        .args(["--target-dir", &display_path(root, &loom_target)])
        .arg("loom")
        .env("RUSTFLAGS", rustflags)
        .env("LOOM_MAX_PREEMPTIONS", preemptions)
        .run()
}
