//! `cargo xtask bench [--quick] [--no-run] [--bench NAME]...`: runs the benchmarks that feed
//! the report and writes `docs/benchmarks.{md,json,svg}` from their rows files.
//!
//! Each benchmark in [`BENCHES`] writes one rows file per group into the directory named by
//! `ADMIT_BENCH_OUT` (here `target/admit-bench/`); the report reads every file there, so the
//! rows of a benchmark that is not in the table yet (a new one run by hand) are shown too.
//! Only this command writes the tracked `docs/benchmarks.*`; `cargo xtask compare` writes
//! under `target/`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use xshell::{Shell, cmd};

use crate::Result;
use crate::ci::Redis;
use crate::report::{self, Environment, Group};

/// What `cargo xtask bench` was asked to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Quick settings (fewer rounds): for trying things out, not for the tracked report.
    pub quick: bool,
    /// Do not run anything: render the rows already on disk.
    pub no_run: bool,
    /// Run only these benchmarks of [`BENCHES`] (all when empty).
    pub benches: Vec<String>,
}

/// A benchmark that writes rows: its name, the cargo arguments that run it, and whether it
/// needs a local `redis-server` (then started here and passed as `ADMIT_REDIS_URL`).
pub struct Bench {
    pub name: &'static str,
    pub cargo: &'static [&'static str],
    pub redis: bool,
}

/// The benchmarks that feed the report, in the order they run. Quick runs add `-- --quick`.
/// The fleet benchmark measures npm `redis-semaphore` too, installed under `target/` from
/// `crates/admit-redis/bench`'s lockfile when `npm` is available ([`install_redis_peer`]).
pub const BENCHES: [Bench; 4] = [
    Bench {
        name: "interleaved",
        cargo: &["bench", "-p", "admit-benches", "--bench", "interleaved"],
        redis: false,
    },
    Bench {
        name: "pool",
        cargo: &["bench", "-p", "admit-benches", "--bench", "pool"],
        redis: false,
    },
    Bench {
        name: "rate",
        cargo: &["bench", "-p", "admit-benches", "--bench", "rate"],
        redis: false,
    },
    Bench {
        name: "redis",
        cargo: &[
            "run",
            "--release",
            "-p",
            "admit-redis",
            "--example",
            "fleet_bench",
        ],
        redis: true,
    },
];

/// Runs the benchmarks (unless `--no-run`) and writes the report into `docs/`.
///
/// # Errors
///
/// An unknown benchmark name, a benchmark fails, or no rows could be read.
pub fn run(options: &Options) -> Result {
    let sh = crate::shell()?;
    let rows = crate::target_dir().join("admit-bench");
    let environment = if options.no_run {
        environment(&sh, String::from("unknown (rendered from earlier rows)"))
    } else {
        measure(&sh, &options.benches, options.quick, &rows)?
    };
    let groups = report::load(&rows)?;
    print!("\n{}", report::screen(&groups));
    write_report(&sh, &sh.current_dir().join("docs"), &environment, &groups)
}

/// Runs `names` of [`BENCHES`] (all when empty) with their rows going to `out`, and returns
/// where they ran. Without a selection, earlier rows files in `out` are removed first, so
/// that no stale group passes for this run's.
///
/// # Errors
///
/// An unknown name, or a benchmark fails.
pub fn measure(sh: &Shell, names: &[String], quick: bool, out: &Path) -> Result<Environment> {
    if let Some(unknown) = names.iter().find(|n| !BENCHES.iter().any(|b| b.name == *n)) {
        let known: Vec<&str> = BENCHES.iter().map(|b| b.name).collect();
        return Err(format!(
            "no benchmark `{unknown}` (benchmarks: {})",
            known.join(", ")
        )
        .into());
    }
    sh.create_dir(out)?;
    if names.is_empty() {
        for path in sh.read_dir(out)? {
            if path.extension().is_some_and(|ext| ext == "json") {
                sh.remove_path(path)?;
            }
        }
    }
    let load_before = load_average();
    let revision = revision(sh);
    let selected: Vec<&Bench> = BENCHES
        .iter()
        .filter(|b| names.is_empty() || names.iter().any(|n| n == b.name))
        .collect();
    let started = Instant::now();
    for (index, bench) in selected.iter().enumerate() {
        println!(
            "==> bench [{}/{}] {} ({:.0} s elapsed)",
            index + 1,
            selected.len(),
            bench.name,
            started.elapsed().as_secs_f64()
        );
        let redis = if bench.redis {
            Some(Redis::start()?)
        } else {
            None
        };
        let quick = quick.then_some(["--", "--quick"]).into_iter().flatten();
        let args = bench.cargo;
        let mut command = cmd!(sh, "cargo {args...} {quick...}").env("ADMIT_BENCH_OUT", out);
        if let Some(redis) = &redis {
            command = command.env("ADMIT_REDIS_URL", &redis.url);
            if let Some(node_modules) = install_redis_peer(sh) {
                command = command.env("ADMIT_REDIS_BENCH_NODE_MODULES", node_modules);
            }
        }
        command.run()?;
    }
    let mut environment = environment(sh, revision);
    environment.load_before = load_before;
    Ok(environment)
}

/// Writes `benchmarks.md`, `.json` and `.svg` into `dir`.
pub fn write_report(sh: &Shell, dir: &Path, environment: &Environment, groups: &[Group]) -> Result {
    sh.create_dir(dir)?;
    for (name, contents) in [
        ("benchmarks.md", report::markdown(environment, groups)),
        ("benchmarks.json", report::json(environment, groups)?),
        ("benchmarks.svg", report::svg(groups)),
    ] {
        sh.write_file(dir.join(name), contents)?;
        println!("wrote {}", dir.join(name).display());
    }
    Ok(())
}

/// The machine, toolchain and load now, with `revision` read before the run. What cannot be
/// found out is `unknown`.
fn environment(sh: &Shell, revision: String) -> Environment {
    let ask = |program: &str, args: &[&str]| {
        cmd!(sh, "{program} {args...}")
            .quiet()
            .ignore_stderr()
            .read()
            .ok()
            .filter(|out| !out.is_empty())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    Environment {
        date: ask("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        machine: ask("uname", &["-srm"]),
        cpu: std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                let line = info.lines().find(|line| line.starts_with("model name"))?;
                Some(line.split_once(':')?.1.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned()),
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        toolchain: ask("rustc", &["--version"]),
        revision,
        load_before: load_average(),
        load_after: load_average(),
    }
}

/// `git rev-parse --short HEAD`, with `-dirty` when anything but the generated reports is
/// uncommitted.
fn revision(sh: &Shell) -> String {
    let Ok(hash) = cmd!(sh, "git rev-parse --short HEAD").quiet().read() else {
        return "unknown".to_owned();
    };
    let changes = cmd!(
        sh,
        "git status --porcelain -- . :(exclude)docs/benchmarks.* :(exclude)docs/conformance.md"
    )
    .quiet()
    .read()
    .unwrap_or_default();
    if changes.is_empty() {
        hash
    } else {
        format!("{hash}-dirty")
    }
}

/// The 1, 5 and 15 minute load averages (`0.52 0.61 0.70`), or `unknown`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Installs the fleet benchmark's npm peer (`redis-semaphore`, from the lockfile in
/// `crates/admit-redis/bench`) under `target/admit-redis-bench/`, so that the checkout is left
/// as it was, and returns its `node_modules`. Without `npm`, or when the install fails, says so
/// and returns `None`: the benchmark then measures admit-redis and the floor only.
fn install_redis_peer(sh: &Shell) -> Option<PathBuf> {
    let dir = crate::target_dir().join("admit-redis-bench");
    let node_modules = dir.join("node_modules");
    let installed = (|| -> Result {
        sh.create_dir(&dir)?;
        for file in ["package.json", "package-lock.json"] {
            sh.copy_file(format!("crates/admit-redis/bench/{file}"), &dir)?;
        }
        if !node_modules.is_dir() {
            cmd!(sh, "npm ci --prefix {dir} --no-audit --no-fund").run()?;
        }
        Ok(())
    })();
    match installed {
        Ok(()) => Some(node_modules),
        Err(error) => {
            println!(
                "!!! npm redis-semaphore not installed ({error}): the fleet bench measures admit-redis only"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_benchmarks_are_refused_before_anything_runs() {
        let sh = crate::shell().unwrap();
        let out = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        let err = measure(&sh, &["criterion".to_owned()], true, &out).unwrap_err();
        assert!(
            err.to_string().contains("no benchmark `criterion`"),
            "{err}"
        );
        assert!(!out.exists(), "nothing is written for a refused run");
    }

    #[test]
    fn every_benchmark_is_a_cargo_bench_or_example_of_a_package() {
        for bench in &BENCHES {
            let target = match bench.cargo[0] {
                "bench" => "--bench",
                "run" => "--example",
                other => panic!("{}: `cargo {other}`", bench.name),
            };
            assert!(bench.cargo.contains(&"-p"), "{}", bench.name);
            assert!(bench.cargo.contains(&target), "{}", bench.name);
        }
    }
}
