//! `cargo xtask ci`: if this passes here, CI is green.
//!
//! Runs every check CI runs, in order, failing fast: formatting, clippy, the tests
//! (doctests included), `no_std` builds, the conformance suite, the loom models and Miri.
//! Each step starts with an `==> step` header; a table of steps, results and seconds comes
//! at the end, also after a failure. Steps that need something this machine may lack (the
//! embedded target, nightly Miri, a missing conformance crate) say so and fall
//! back or skip instead of failing.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cmd::{Cmd, Result, cargo};
use crate::{conformance, loom, miri};

/// The embedded target the `no_std` builds are checked on.
pub const EMBEDDED_TARGET: &str = "thumbv7em-none-eabihf";

/// Every combination of the core crate's features that must build without `std`.
pub const NO_STD_FEATURES: [&str; 4] = ["", "alloc", "critical-section", "alloc,critical-section"];

/// The example crate (`examples/no-std`) that must build for the embedded target.
pub const NO_STD_EXAMPLE: &str = "admit-example-no-std";

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Passed,
    Skipped,
    Failed,
}

/// A finished step, with an optional note ("host fallback", "miri not installed").
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    status: Status,
    note: String,
}

impl Outcome {
    fn passed(note: impl Into<String>) -> Self {
        Outcome {
            status: Status::Passed,
            note: note.into(),
        }
    }

    fn skipped(note: impl Into<String>) -> Self {
        Outcome {
            status: Status::Skipped,
            note: note.into(),
        }
    }
}

/// A step as it appears in the summary.
#[derive(Debug, Clone)]
struct Record {
    name: &'static str,
    outcome: Outcome,
    seconds: f64,
}

/// One step: its name (in the header and the summary) and how it runs.
type Step = (&'static str, fn(&Path) -> Result<Outcome>);

/// The steps in the order they run.
const STEPS: [Step; 8] = [
    ("fmt", |root| {
        cargo(root)
            .args(["fmt", "--all", "--check"])
            .run()
            .map(|()| Outcome::passed(""))
    }),
    ("clippy", |root| {
        cargo(root)
            .args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ])
            .run()
            .map(|()| Outcome::passed(""))
    }),
    ("test", |root| {
        cargo(root)
            .args(["test", "--workspace", "--locked"])
            .run()
            .map(|()| Outcome::passed("doctests included"))
    }),
    // Broken intra-doc links and malformed docs fail here.
    ("doc", |root| {
        cargo(root)
            .args(["doc", "--workspace", "--no-deps", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings")
            .run()
            .map(|()| Outcome::passed(""))
    }),
    ("no_std", no_std),
    ("conformance", conformance_step),
    ("loom", |root| loom::run(root).map(|()| Outcome::passed(""))),
    ("miri", miri_step),
];

/// Runs every step.
///
/// # Errors
///
/// The first step that fails, with its exit code.
pub fn run(root: &Path) -> Result<()> {
    let started = Instant::now();
    let mut records = Vec::new();
    for (index, (name, step)) in STEPS.into_iter().enumerate() {
        println!("\n==> [{}/{}] {name}", index + 1, STEPS.len());
        let step_started = Instant::now();
        let result = step(root);
        let seconds = step_started.elapsed().as_secs_f64();
        match result {
            Ok(outcome) => records.push(Record {
                name,
                outcome,
                seconds,
            }),
            Err(err) => {
                records.push(Record {
                    name,
                    outcome: Outcome {
                        status: Status::Failed,
                        note: String::new(),
                    },
                    seconds,
                });
                print!("{}", summary(&records, started.elapsed()));
                println!(
                    "ci: FAILED at step `{name}` after {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                println!("{}", tally(&records));
                return Err(err);
            }
        }
    }
    print!("{}", summary(&records, started.elapsed()));
    println!(
        "ci: all steps passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("{}", tally(&records));
    Ok(())
}

/// Builds the core crate without `std` in every feature combination, and the `no_std`
/// example, for the embedded target when it is (or can be) installed, else for the host.
fn no_std(root: &Path) -> Result<Outcome> {
    let target = match ensure_target(EMBEDDED_TARGET) {
        Ok(()) => Some(EMBEDDED_TARGET),
        Err(reason) => {
            println!("{EMBEDDED_TARGET} unavailable: fell back to a host no_std build");
            println!("  (why: {reason})");
            None
        }
    };
    for features in NO_STD_FEATURES {
        let mut cmd = cargo(root).args(["build", "-p", "admit", "--no-default-features"]);
        if !features.is_empty() {
            cmd = cmd.args(["--features", features]);
        }
        if let Some(target) = target {
            cmd = cmd.args(["--target", target]);
        }
        cmd.run()?;
    }
    // The bare-metal example: the core used from a `#![no_std]` crate with no allocator.
    let mut cmd = cargo(root).args(["build", "-p", NO_STD_EXAMPLE]);
    if let Some(target) = target {
        cmd = cmd.args(["--target", target]);
    }
    cmd.run()?;
    Ok(match target {
        Some(target) => Outcome::passed(format!(
            "{} feature sets and {NO_STD_EXAMPLE}, {target}",
            NO_STD_FEATURES.len()
        )),
        None => Outcome::passed(format!("host fallback: {EMBEDDED_TARGET} unavailable")),
    })
}

/// Makes sure rustup has `target` for the active toolchain, adding it if it can.
fn ensure_target(target: &str) -> std::result::Result<(), String> {
    let installed = Cmd::new("rustup")
        .args(["target", "list", "--installed"])
        .timeout(Duration::from_secs(60))
        .probe()?;
    if installed.lines().any(|line| line.trim() == target) {
        return Ok(());
    }
    println!("{target} is not installed: trying to add it");
    // Bounded: without network access rustup may hang instead of failing.
    Cmd::new("rustup")
        .args(["target", "add", target])
        .timeout(Duration::from_secs(300))
        .run()
        .map_err(|e| e.message)
}

fn conformance_step(root: &Path) -> Result<Outcome> {
    if conformance::present(root) {
        conformance::run(root, None).map(|()| Outcome::passed(""))
    } else {
        println!("conformance suite not present yet: skipped");
        Ok(Outcome::skipped("not present yet"))
    }
}

fn miri_step(root: &Path) -> Result<Outcome> {
    match miri::available() {
        Err(reason) => {
            println!("miri skipped: nightly Miri is not available ({reason})");
            println!("  install it with: {}", miri::INSTALL);
            return Ok(Outcome::skipped("nightly miri not installed"));
        }
        Ok(version) => println!("using {version}"),
    }
    if let Err(reason) = miri::ensure_rust_src() {
        println!("miri skipped: {reason}");
        return Ok(Outcome::skipped("nightly rust-src missing"));
    }
    miri::run_tests(root, miri::Scope::Ci).map(|()| Outcome::passed("reduced set: --lib --tests"))
}

/// The table printed at the end: step, status, seconds, note, then the total.
fn summary(records: &[Record], total: Duration) -> String {
    let mut out = String::from("\n==> summary\n");
    let _ = writeln!(out, "{:<12} {:<8} {:>8}  note", "step", "status", "seconds");
    for record in records {
        let status = match record.outcome.status {
            Status::Passed => "ok",
            Status::Skipped => "skipped",
            Status::Failed => "FAILED",
        };
        let line = format!(
            "{:<12} {:<8} {:>8.1}  {}",
            record.name, status, record.seconds, record.outcome.note
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "{:<12} {:<8} {:>8.1}",
        "total",
        "",
        total.as_secs_f64()
    );
    out
}

/// The closing line, in the plain `N passed, N failed, N skipped` form that CI logs are
/// read for (counting steps).
fn tally(records: &[Record]) -> String {
    let count = |status| {
        records
            .iter()
            .filter(|r| r.outcome.status == status)
            .count()
    };
    format!(
        "steps: {} passed, {} failed, {} skipped",
        count(Status::Passed),
        count(Status::Failed),
        count(Status::Skipped)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_steps_and_total() {
        let records = [
            Record {
                name: "fmt",
                outcome: Outcome::passed(""),
                seconds: 0.31,
            },
            Record {
                name: "miri",
                outcome: Outcome::skipped("nightly miri not installed"),
                seconds: 0.04,
            },
            Record {
                name: "loom",
                outcome: Outcome {
                    status: Status::Failed,
                    note: String::new(),
                },
                seconds: 61.0,
            },
        ];
        let text = summary(&records, Duration::from_millis(61_290));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "==> summary");
        assert_eq!(lines[2], "step         status    seconds  note");
        assert_eq!(lines[3], "fmt          ok            0.3");
        assert_eq!(
            lines[4],
            "miri         skipped       0.0  nightly miri not installed"
        );
        assert_eq!(lines[5], "loom         FAILED       61.0");
        assert_eq!(lines[6], "total                     61.3");
        assert_eq!(tally(&records), "steps: 1 passed, 1 failed, 1 skipped");
    }
}
