//! `cargo xtask compare`: is admit correct and how fast is it next to its peers?
//!
//! Runs the conformance suite (when it exists) and then `bench --quick`, with a progress
//! line per step, and prints the benchmark tables to the terminal (they are also written to
//! `docs/benchmarks.md`).

use std::path::Path;
use std::time::Instant;

use crate::bench::{self, Options};
use crate::cmd::Result;
use crate::conformance;

/// Runs both steps, stopping at the first failure.
///
/// # Errors
///
/// The conformance suite or the benchmarks fail.
pub fn run(root: &Path) -> Result<()> {
    let started = Instant::now();
    let progress = |step: usize, what: &str| {
        println!(
            "==> [{step}/2] {what} ({:.1} s elapsed)",
            started.elapsed().as_secs_f64()
        );
    };

    progress(1, "conformance");
    if conformance::present(root) {
        conformance::run(root, None)?;
    } else {
        println!("conformance suite not present yet: skipped");
    }

    progress(2, "bench --quick");
    let report = bench::run(
        root,
        &Options {
            quick: true,
            ..Options::default()
        },
    )?;

    println!(
        "==> done in {:.1} s: admit next to its peers (ns/op, ratio to the best peer)\n",
        started.elapsed().as_secs_f64()
    );
    print!("{}", report.targets_markdown());
    print!("{}", report.tables());
    Ok(())
}
