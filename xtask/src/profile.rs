//! `cargo xtask profile`: where the contended benchmark's time goes, semaphore by
//! semaphore, and what that leaves for any semaphore to win.
//!
//! Issue 2 asks admit-fifo to take at most 0.87× the time of the best fair peer in the
//! contended workload (tokio, 2 workers). A semaphore can only save the time spent in
//! semaphore code; the rest (the runtime scheduling, waking and parking tasks, the kernel)
//! is the workload's. This command measures both:
//!
//! 1. the `interleaved` bench on the tokio workloads, every semaphore once per round, for
//!    the time ratios (same process, same machine conditions);
//! 2. each semaphore alone on each workload under `perf record` (without the bench's
//!    cross-core probe, whose spinning is no part of the workload), attributing every sample
//!    to the kernel, the semaphore's own code, the bench loop (into which the acquire and
//!    release fast paths are inlined: counted as semaphore time, the generous side) or the
//!    runtime;
//! 3. for admit-fifo, the *bound*: its time with its own code (bench loop included) taking
//!    no time at all, over the best fair peer's time, assuming the runtime's share stays
//!    what it was. If the bound is above the goal, no change to admit's code can meet it.
//!
//! Writes `docs/profile.md`. Needs `perf` (Debian's `linux-perf`) with access to the CPU
//! counters or to the software clock; says so and stops when there is none.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::bench::{self, PACKAGE};
use crate::cmd::{Cmd, Error, Result, cargo, display_path};
use crate::json::Json;
use crate::report::{self, CONTENDED_VS_FAIR, INTERLEAVED_GROUP, TARGET_SUBJECT};
use crate::workspace::Workspace;

/// The workloads of the contended target.
pub const PARAMETERS: [&str; 3] = ["tokio/T16-P1", "tokio/T16-P4", "tokio/T256-P8"];

/// The semaphores profiled, and the symbol fragments that mark their own code.
pub const SEMAPHORES: [(&str, &[&str]); 4] = [
    (TARGET_SUBJECT, &["admit::"]),
    ("tokio", &["tokio::sync::"]),
    ("futures-intrusive", &["futures_intrusive::"]),
    ("maitake-sync", &["maitake_sync::"]),
];

/// The bench crate's symbols: its loop, with the acquire and release fast paths inlined.
const BENCH_CODE: &str = "admit_benches::";

/// Samples per second and thread for `perf record`.
const FREQUENCY: &str = "4999";

/// Where one profile's samples went, in percent of all samples.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Shares {
    /// The kernel (`[k]` symbols): parking and waking threads, timers.
    pub kernel: f64,
    /// The semaphore's own (not inlined) functions.
    pub semaphore: f64,
    /// The bench loop with whatever was inlined into it.
    pub bench: f64,
    /// Everything else in user space: the runtime, the allocator, libc.
    pub runtime: f64,
}

impl Shares {
    /// The most any semaphore could save, in percent: its own code and the bench loop.
    pub fn saveable(&self) -> f64 {
        self.semaphore + self.bench
    }
}

/// Attributes the lines of `perf report --no-children --sort sym --stdio -g none`
/// (`    18.91%  [k] finish_task_switch`) to [`Shares`]; `own` marks the semaphore's
/// symbols.
pub fn classify(report: &str, own: &[&str]) -> Shares {
    let mut shares = Shares::default();
    for line in report.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((percent, rest)) = line.split_once('%') else {
            continue;
        };
        let Ok(percent) = percent.trim().parse::<f64>() else {
            continue;
        };
        let rest = rest.trim_start();
        let (kind, symbol) = rest.split_once(' ').unwrap_or((rest, ""));
        let bucket = if kind == "[k]" {
            &mut shares.kernel
        } else if symbol.trim_start_matches('<').starts_with(BENCH_CODE) {
            &mut shares.bench
        } else if own.iter().any(|marker| symbol.contains(marker)) {
            &mut shares.semaphore
        } else {
            &mut shares.runtime
        };
        *bucket += percent;
    }
    shares
}

/// admit's best possible time over the best fair peer's: `ratio` (admit's time over the
/// best fair peer's) with admit's saveable share removed.
pub fn bound(ratio: f64, admit: &Shares) -> f64 {
    ratio * (1.0 - admit.saveable() / 100.0)
}

/// Runs the measurements and writes `docs/profile.md`.
///
/// # Errors
///
/// `perf` cannot record here, the bench cannot be built or run, or its output is not what
/// this command expects.
pub fn run(root: &Path) -> Result<()> {
    if let Err(why) = Cmd::new("perf")
        .args(["record", "-F", FREQUENCY, "-o", "/dev/null", "--", "true"])
        .probe()
    {
        return Err(Error::new(format!(
            "perf cannot record here ({why}); install it (Debian: linux-perf) and allow \
             sampling (sysctl kernel.perf_event_paranoid=1)"
        )));
    }
    let workspace = Workspace::load(root)?;
    // Read before the run: the code measured is what was there when it started.
    let revision = bench::revision(root);
    let dir = workspace.target_directory.join("admit-profile");
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let executable = build(root)?;
    let parameters = PARAMETERS.join(",");

    println!("==> [1/2] time ratios: the interleaved bench on {parameters}");
    let rows_file = dir.join("interleaved.tsv");
    Cmd::new(&executable)
        .env("ADMIT_INTERLEAVED_PARAMETERS", &parameters)
        .env("ADMIT_INTERLEAVED_OUT", rows_file.display().to_string())
        .run()?;
    let rows = fs::read_to_string(&rows_file)
        .map_err(|e| format!("reading {}: {e}", rows_file.display()))?;
    let round_trip = report::parse_round_trip(&rows).unwrap_or_else(|| "unknown".to_owned());
    let rows = report::parse_interleaved(&rows)
        .map_err(|e| Error::new(format!("{}: {e}", rows_file.display())))?;

    println!("==> [2/2] profiles: each semaphore alone under perf record");
    let mut profiles = Vec::new();
    for parameter in PARAMETERS {
        for (name, own) in SEMAPHORES {
            let data = dir.join(format!("{name}-{}.data", parameter.replace('/', "-")));
            // perf would keep the last run's file as `.old`.
            let _ = fs::remove_file(&data);
            Cmd::new("perf")
                .args(["record", "-q", "-F", FREQUENCY, "-o"])
                .arg(data.display().to_string())
                .arg("--")
                .arg(&executable)
                .env("ADMIT_INTERLEAVED_SEMAPHORES", name)
                .env("ADMIT_INTERLEAVED_PARAMETERS", parameter)
                // The cross-core probe before each round spins in `admit_benches::` code,
                // which would be counted as bench loop (saveable) time.
                .env("ADMIT_INTERLEAVED_NO_PROBE", "1")
                .env(
                    "ADMIT_INTERLEAVED_OUT",
                    dir.join("profiled.tsv").display().to_string(),
                )
                .run()?;
            let report = Cmd::new("perf")
                .args(["report", "--no-children", "--sort", "sym", "--stdio"])
                .args(["-g", "none", "-i"])
                .arg(data.display().to_string())
                .probe()
                .map_err(Error::new)?;
            let shares = classify(&report, own);
            if shares.kernel + shares.semaphore + shares.bench + shares.runtime < 90.0 {
                return Err(Error::new(format!(
                    "the perf report of {} accounts for too few samples",
                    data.display()
                )));
            }
            profiles.push((parameter, name, shares));
        }
    }

    let mut markdown = String::new();
    let command = "cargo xtask profile";
    let _ = writeln!(
        markdown,
        "# Where the contended time goes\n\n\
         Written by `{command}` ({}, revision {}, {}, {} cores, {}). How: `xtask/src/profile.rs`; \
         what it means: `docs/design.md`, \"Where the time goes\".\n",
        report::utc_timestamp(std::time::SystemTime::now()),
        revision,
        bench::cpu(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        bench::load_average(),
    );
    let _ = writeln!(
        markdown,
        "## Time ratios\n\n\
         The `interleaved` bench (median of 9 rounds, every semaphore once per round) on the \
         tokio runtime with 2 workers. The goal is admit-fifo ≤ {:.2}× the best fair peer. \
         Cross-core round trip before the rounds: {round_trip} (the ratios move with it: \
         docs/design.md).\n\n\
         | workload | admit-fifo | best fair peer | ratio |\n| --- | ---: | --- | ---: |",
        CONTENDED_VS_FAIR
    );
    let mut ratios = Vec::new();
    for parameter in PARAMETERS {
        let admit = rows
            .iter()
            .find(|m| m.parameter.as_deref() == Some(parameter) && m.function == TARGET_SUBJECT)
            .map(|m| m.mean_ns);
        let best = report::best_fair_peer(&rows, INTERLEAVED_GROUP, parameter);
        let (Some(admit), Some(peer)) = (admit, best) else {
            return Err(Error::new(format!(
                "the interleaved bench reported no {TARGET_SUBJECT} or fair peer row for {parameter}"
            )));
        };
        let ratio = admit / peer.mean_ns;
        ratios.push((parameter, ratio));
        let _ = writeln!(
            markdown,
            "| {parameter} | {admit:.1} ns | {}, {:.1} ns | {ratio:.2}× |",
            peer.function, peer.mean_ns
        );
    }
    let _ = writeln!(
        markdown,
        "\n## Profiles\n\n\
         Each semaphore alone under `perf record -F {FREQUENCY}` (its times there are not \
         compared: the runs are apart). Percent of all samples. *Bench loop* is the \
         benchmark's task body, into which the acquire and release fast paths are inlined: it \
         is counted as semaphore time. *Runtime* is every other user-space symbol (tokio's \
         scheduler, its timer, libc).\n\n\
         | workload | semaphore | kernel | runtime | semaphore code | bench loop |\n\
         | --- | --- | ---: | ---: | ---: | ---: |"
    );
    for (parameter, name, shares) in &profiles {
        let _ = writeln!(
            markdown,
            "| {parameter} | {name} | {:.1}% | {:.1}% | {:.1}% | {:.1}% |",
            shares.kernel, shares.runtime, shares.semaphore, shares.bench
        );
    }
    let _ = writeln!(
        markdown,
        "\n## The bound\n\n\
         admit-fifo's time over the best fair peer's if admit's own code and the whole bench \
         loop took no time at all, the rest staying as measured: ratio × (1 − saveable share). \
         Where the bound is above the goal ({:.2}×), no change to admit's code alone can meet \
         it; only a different use of the runtime could.\n\n\
         | workload | ratio | admit-fifo saveable | bound | goal reachable by admit's code alone |\n\
         | --- | ---: | ---: | ---: | --- |",
        CONTENDED_VS_FAIR
    );
    for (parameter, ratio) in &ratios {
        let admit = profiles
            .iter()
            .find(|(p, name, _)| p == parameter && *name == TARGET_SUBJECT)
            .map(|(_, _, shares)| *shares)
            .unwrap_or_default();
        let bound = bound(*ratio, &admit);
        let verdict = if bound > CONTENDED_VS_FAIR {
            "no"
        } else {
            "not excluded"
        };
        let _ = writeln!(
            markdown,
            "| {parameter} | {ratio:.2}× | {:.1}% | {bound:.2}× | {verdict} |",
            admit.saveable()
        );
    }
    print!("\n{markdown}");
    let path = root.join("docs/profile.md");
    fs::write(&path, &markdown).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("wrote {}", display_path(root, &path));
    Ok(())
}

/// Builds the `interleaved` bench and returns its executable.
fn build(root: &Path) -> Result<String> {
    let output = cargo(root)
        .args(["bench", "-p", PACKAGE, "--bench", "interleaved", "--no-run"])
        .args(["--message-format", "json-render-diagnostics"])
        .read()?;
    executable(&output, "interleaved")
        .ok_or_else(|| Error::new("cargo built no `interleaved` bench executable"))
}

/// The executable of the bench target `name` among cargo's JSON messages.
fn executable(messages: &str, name: &str) -> Option<String> {
    messages.lines().find_map(|line| {
        let message = Json::parse(line).ok()?;
        let is_bench = message
            .get("target")?
            .get("kind")?
            .as_array()?
            .iter()
            .any(|kind| kind.as_str() == Some("bench"));
        let named = message.get("target")?.get("name")?.as_str() == Some(name);
        (is_bench && named)
            .then(|| message.get("executable")?.as_str().map(str::to_owned))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "\
# Samples: 1K of event 'cpu-clock'
#
    40.00%  [k] finish_task_switch.isra.0
    20.00%  [.] tokio::runtime::scheduler::multi_thread::worker::Context::run
    10.00%  [.] admit::lock::HeadLock<T>::lock_contended
     5.00%  [.] <admit::futures::Acquire as core::future::future::Future>::poll
     8.00%  [.] admit_benches::contended::run::{{closure}}::{{closure}}
     2.00%  [.] <admit_benches::Unwrap<F> as core::future::future::Future>::poll
    15.00%  [.] __vdso_clock_gettime

";

    #[test]
    fn samples_are_attributed_by_symbol() {
        let shares = classify(REPORT, &["admit::"]);
        assert_eq!(shares.kernel, 40.0);
        assert_eq!(shares.semaphore, 15.0);
        assert_eq!(shares.bench, 10.0);
        assert_eq!(shares.runtime, 35.0);
        assert_eq!(shares.saveable(), 25.0);
        // Another semaphore's markers leave admit's symbols to the runtime.
        let other = classify(REPORT, &["futures_intrusive::"]);
        assert_eq!(other.semaphore, 0.0);
        assert_eq!(other.runtime, 50.0);
    }

    #[test]
    fn the_bound_removes_the_saveable_share() {
        let admit = Shares {
            kernel: 45.0,
            semaphore: 3.0,
            bench: 3.0,
            runtime: 49.0,
        };
        let bound = bound(0.98, &admit);
        assert!((bound - 0.98 * 0.94).abs() < 1e-12, "{bound}");
        assert!(bound > CONTENDED_VS_FAIR);
    }

    #[test]
    fn finds_the_bench_executable_in_cargo_messages() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"admit"},"executable":null}"#,
            "\n",
            r#"{"reason":"compiler-artifact","target":{"kind":["bench"],"name":"contended"},"executable":"/t/contended-1"}"#,
            "\n",
            r#"{"reason":"compiler-artifact","target":{"kind":["bench"],"name":"interleaved"},"executable":"/t/interleaved-2"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
        );
        assert_eq!(
            executable(messages, "interleaved").as_deref(),
            Some("/t/interleaved-2")
        );
        assert_eq!(executable(messages, "missing"), None);
    }

    /// The names xtask and the bench share without a common crate: the variables
    /// `bench.rs` and this module set, the group name and the round-trip line they read.
    #[test]
    fn the_interleaved_bench_uses_the_names_xtask_relies_on() {
        let path = crate::project_root().join("benches/benches/interleaved.rs");
        let source = fs::read_to_string(&path).unwrap();
        for name in [
            "ADMIT_INTERLEAVED_OUT",
            "ADMIT_INTERLEAVED_PARAMETERS",
            "ADMIT_INTERLEAVED_SEMAPHORES",
            "ADMIT_INTERLEAVED_NO_PROBE",
            INTERLEAVED_GROUP,
            "#cross-core-round-trip",
        ] {
            assert!(
                source.contains(&format!("\"{name}\"")),
                "{} does not use {name:?}",
                path.display()
            );
        }
    }
}
