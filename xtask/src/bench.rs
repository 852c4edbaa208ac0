//! `cargo xtask bench [--quick] [--no-run] [-- CRITERION_ARGS...]`: runs the criterion
//! benchmarks of `admit-benches` and writes `docs/benchmarks.{md,json,svg}`.
//!
//! This module runs things and asks the machine about itself; reading criterion's files
//! and rendering the report is `report.rs`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::cmd::{Cmd, Error, Result, cargo};
use crate::report::{self, Environment, Report};
use crate::workspace::Workspace;

/// The package that holds the benchmarks.
pub const PACKAGE: &str = "admit-benches";

/// Where the `interleaved` bench writes its rows, under the target directory.
const INTERLEAVED_FILE: &str = "admit-interleaved.tsv";

/// What `cargo xtask bench` was asked to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Pass `--quick` to criterion: stop sampling once the estimate is stable.
    pub quick: bool,
    /// Do not run anything: rewrite the report from the results already on disk.
    pub no_run: bool,
    /// Further arguments for criterion (a benchmark name filter, `--sample-size 10`, ...).
    pub criterion_args: Vec<String>,
}

/// Runs the benchmarks (unless `--no-run`) and writes the report into `docs/`.
///
/// # Errors
///
/// The benchmarks package is missing, a benchmark fails, no results were found, or the
/// report cannot be written.
pub fn run(root: &Path, options: &Options) -> Result<Report> {
    let workspace = Workspace::load(root)?;
    let criterion_dir = match env::var_os("CRITERION_HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home),
        _ => workspace.target_directory.join("criterion"),
    };

    let interleaved = workspace.target_directory.join(INTERLEAVED_FILE);
    let load_before = load_average();
    // Read before the run: the code measured is what was there when it started.
    let revision = revision(root);
    let mut since = None;
    let command = if options.no_run {
        format!(
            "cargo xtask bench --no-run (results already in {})",
            criterion_dir.display()
        )
    } else {
        if workspace.package(PACKAGE).is_none() {
            return Err(Error::new(format!(
                "{PACKAGE} not present: no workspace package is named {PACKAGE}"
            )));
        }
        // `--bench '*'` selects the criterion targets only: the library's libtest harness
        // would reject criterion's arguments.
        let mut cmd = cargo(root)
            .args(["bench", "-p", PACKAGE, "--bench", "*"])
            .env("ADMIT_INTERLEAVED_OUT", interleaved.display().to_string());
        // Rows from an earlier run must not pass for this one's.
        let _ = fs::remove_file(&interleaved);
        let mut criterion_args = Vec::new();
        if options.quick {
            criterion_args.push("--quick".to_owned());
        }
        criterion_args.extend(options.criterion_args.iter().cloned());
        if !criterion_args.is_empty() {
            cmd = cmd.arg("--").args(criterion_args);
        }
        // A little slack for coarse file timestamps; older results are from earlier runs.
        since = Some(SystemTime::now() - Duration::from_secs(1));
        cmd.run()?;
        cmd.display()
    };

    let mut measurements = report::collect(&criterion_dir, since)?;
    let mut cross_core = None;
    if let Ok(text) = fs::read_to_string(&interleaved) {
        measurements.extend(
            report::parse_interleaved(&text)
                .map_err(|e| Error::new(format!("{}: {e}", interleaved.display())))?,
        );
        cross_core = report::parse_round_trip(&text);
    }
    if measurements.is_empty() {
        return Err(Error::new(format!(
            "no criterion results found under {}",
            criterion_dir.display()
        )));
    }
    let report = Report {
        environment: environment(root, command, revision, load_before, cross_core),
        measurements,
    };
    write_report(root, &report)?;
    Ok(report)
}

/// Writes `docs/benchmarks.md`, `.json` and `.svg`.
fn write_report(root: &Path, report: &Report) -> Result<()> {
    let docs = root.join("docs");
    fs::create_dir_all(&docs).map_err(|e| format!("creating {}: {e}", docs.display()))?;
    for (name, contents) in [
        ("benchmarks.md", report.markdown()),
        ("benchmarks.json", report.json()),
        ("benchmarks.svg", report.svg()),
    ] {
        let path = docs.join(name);
        fs::write(&path, contents).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Where the numbers come from: date, machine, toolchain, load after the run, with what was
/// read before it (revision, load) and the interleaved bench's cross-core round trip.
/// Anything that cannot be found out is reported as `unknown` rather than failing the run.
fn environment(
    root: &Path,
    command: String,
    revision: String,
    load_before: String,
    cross_core: Option<String>,
) -> Environment {
    Environment {
        date: report::utc_timestamp(SystemTime::now()),
        machine: ask(root, Cmd::new("uname").arg("-srm")).unwrap_or_else(|| "unknown".to_owned()),
        cpu: cpu(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        toolchain: ask(root, Cmd::new("rustc").arg("--version"))
            .unwrap_or_else(|| "unknown".to_owned()),
        revision,
        command,
        load_before,
        load_after: load_average(),
        threads: bench_threads(root),
        cross_core,
    }
}

/// The trimmed output of a quick command run in `root`, or `None` if it fails or says
/// nothing.
fn ask(root: &Path, cmd: Cmd) -> Option<String> {
    cmd.current_dir(root)
        .timeout(Duration::from_secs(30))
        .probe()
        .map(|out| out.trim().to_owned())
        .ok()
        .filter(|out| !out.is_empty())
}

/// `git rev-parse --short HEAD`, with `-dirty` when anything but the generated reports
/// (`docs/benchmarks.*`, `docs/profile.md`) is uncommitted, or `unknown`.
pub fn revision(root: &Path) -> String {
    match ask(root, Cmd::new("git").args(["rev-parse", "--short", "HEAD"])) {
        None => "unknown".to_owned(),
        Some(hash) => {
            // The reports' own files do not make the tree dirty: they change on every run.
            let changes = ask(
                root,
                Cmd::new("git").args([
                    "status",
                    "--porcelain",
                    "--",
                    ".",
                    ":(exclude)docs/benchmarks.*",
                    ":(exclude)docs/profile.md",
                ]),
            );
            if changes.is_some() {
                format!("{hash}-dirty")
            } else {
                hash
            }
        }
    }
}

/// The CPU model from `/proc/cpuinfo`, or `unknown CPU`.
pub fn cpu() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The 1, 5 and 15 minute load averages from `/proc/loadavg` (`0.52 0.61 0.70`), or
/// `unknown` where there is no such file.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|load| !load.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Where the benches declare their worker-thread count.
const THREADS_SOURCE: &str = "benches/src/runtimes.rs";

/// The benches' worker threads per runtime, read from the `pub const THREADS: usize = N;`
/// line of [`THREADS_SOURCE`], so the report states what the benches really used.
fn bench_threads(root: &Path) -> Option<usize> {
    parse_threads(&fs::read_to_string(root.join(THREADS_SOURCE)).ok()?)
}

/// The `N` of a `pub const THREADS: usize = N;` line.
fn parse_threads(source: &str) -> Option<usize> {
    source.lines().find_map(|line| {
        line.trim()
            .strip_prefix("pub const THREADS: usize =")?
            .trim()
            .strip_suffix(';')?
            .trim()
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bench_thread_count() {
        assert_eq!(
            parse_threads("x\n  pub const THREADS: usize = 4;\n"),
            Some(4)
        );
        assert_eq!(parse_threads("const OTHER: usize = 4;"), None);
        assert!(
            bench_threads(&crate::project_root()).is_some(),
            "{THREADS_SOURCE} must declare `pub const THREADS: usize = N;`"
        );
    }
}
