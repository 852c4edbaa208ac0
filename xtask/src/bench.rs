//! `cargo xtask bench`: runs the benchmarks and writes `docs/benchmarks.{md,json,svg}`.
//!
//! Each benchmark of [`BENCHES`] writes one rows file per group into the directory named by
//! `ADMIT_BENCH_OUT` (here `target/admit-bench/`); the report reads every file there, so the
//! rows of a benchmark run by hand are shown too. Only this command writes the tracked
//! `docs/benchmarks.*`; `cargo xtask compare` writes under `target/`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use xshell::{Shell, cmd};

use crate::Result;
use crate::ci::Redis;
use crate::report::{self, Environment, Report};

/// What `cargo xtask bench` was asked to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Quick settings (fewer rounds): for trying things out, not for the tracked report.
    pub quick: bool,
    /// Run nothing: render `docs/benchmarks.json` again (after a change to the report).
    pub no_run: bool,
    /// Run only these of [`BENCHES`] (all when empty).
    pub benches: Vec<String>,
}

/// The benchmarks that write rows, in order, as cargo arguments (`--bench` names one by its
/// last word). The fleet benchmark gets a `redis-server` started here and, when npm can
/// install it, its npm peer `redis-semaphore`.
const BENCHES: [&str; 4] = [
    "bench -p admit-benches --bench interleaved",
    "bench -p admit-benches --bench pool",
    "bench -p admit-benches --bench rate",
    "run --release -p admit-redis --example fleet_bench",
];

/// Runs the benchmarks (unless `--no-run`) and writes the report into `docs/`.
pub fn run(options: &Options) -> Result {
    let sh = crate::shell()?;
    let docs = crate::project_root().join("docs");
    let report = if options.no_run {
        serde_json::from_str(&sh.read_file(docs.join("benchmarks.json"))?)?
    } else {
        let rows = crate::target_dir().join("admit-bench");
        measure(&sh, &options.benches, options.quick, &rows)?
    };
    print!("\n{}", report::screen(&report.groups));
    write_report(&sh, &docs, &report)
}

/// Runs `names` of [`BENCHES`] (all when empty, after emptying `out`, so that no stale group
/// passes for this run's) with their rows going to `out`; returns the setup they ran in and
/// every group in `out`. Fails at an unknown name or a failing benchmark.
pub fn measure(sh: &Shell, names: &[String], quick: bool, out: &Path) -> Result<Report> {
    let name = |bench: &str| bench.rsplit(' ').next().unwrap_or_default().to_owned();
    let known: Vec<String> = BENCHES.map(name).into();
    if let Some(unknown) = names.iter().find(|n| !known.contains(n)) {
        return Err(format!("no benchmark `{unknown}` (benchmarks: {known:?})").into());
    }
    let wanted = |bench: &&str| names.is_empty() || names.contains(&name(bench));
    let chosen: Vec<&str> = BENCHES.into_iter().filter(wanted).collect();
    if names.is_empty() {
        sh.remove_path(out)?;
    }
    sh.create_dir(out)?;
    let (revision, round_trip_before, started) = (revision(sh), round_trip_ns(), Instant::now());
    for (index, bench) in chosen.iter().enumerate() {
        let elapsed = started.elapsed().as_secs_f64();
        let (number, count) = (index + 1, chosen.len());
        println!("==> bench [{number}/{count}] {bench} ({elapsed:.0} s elapsed)");
        let (args, quick) = (bench.split(' '), quick.then_some(["--", "--quick"]));
        let mut command = cmd!(sh, "cargo {args...}").args(quick.into_iter().flatten());
        let fleet = bench.contains("admit-redis");
        let redis = fleet.then(Redis::start).transpose()?;
        if let Some(redis) = &redis {
            command = command.env("ADMIT_REDIS_URL", &redis.url);
            match install_redis_peer(sh) {
                Ok(dir) => command = command.env("ADMIT_REDIS_BENCH_NODE_MODULES", dir),
                Err(error) => println!(
                    "!!! npm redis-semaphore not installed ({error}): admit-redis is measured alone"
                ),
            }
        }
        command.env("ADMIT_BENCH_OUT", out).run()?;
    }
    let ask = |command: xshell::Cmd| match command.quiet().ignore_stderr().read() {
        Ok(answer) if !answer.is_empty() => answer,
        _ => "unknown".to_owned(),
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name"));
    let cpu = model.map_or("unknown", |m| m.trim_start_matches([' ', '\t', ':']));
    Ok(Report {
        environment: Environment {
            date: ask(cmd!(sh, "date -u '+%Y-%m-%d %H:%M UTC'")),
            machine: ask(cmd!(sh, "uname -srm")),
            cpu: cpu.to_owned(),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            toolchain: ask(cmd!(sh, "rustc --version")),
            revision,
            round_trip_ns: (round_trip_before, round_trip_ns()),
        },
        groups: report::load(out)?,
    })
}

/// Writes `benchmarks.md`, `.json` and `.svg` into `dir`.
pub fn write_report(sh: &Shell, dir: &Path, report: &Report) -> Result {
    let markdown = ("benchmarks.md", report::markdown(report));
    let json = ("benchmarks.json", report::json(report)?);
    for (name, contents) in [markdown, json, ("benchmarks.svg", report::svg(report))] {
        sh.write_file(dir.join(name), contents)?;
        println!("wrote {}", dir.join(name).display());
    }
    Ok(())
}

/// `git rev-parse --short HEAD`, with `-dirty` when anything but the generated reports is
/// uncommitted.
fn revision(sh: &Shell) -> String {
    let Ok(hash) = cmd!(sh, "git rev-parse --short HEAD").quiet().read() else {
        return "unknown".to_owned();
    };
    let reports = ":(exclude)docs/benchmarks.* :(exclude)docs/conformance.md".split(' ');
    let status = cmd!(sh, "git status --porcelain -- . {reports...}");
    let clean = status.quiet().read().is_ok_and(|c| c.is_empty());
    if clean { hash } else { format!("{hash}-dirty") }
}

/// The median time, over five windows of 20 ms, for a cache line to go to another thread (on
/// another core when one is free) and back: two threads bounce a counter.
fn round_trip_ns() -> f64 {
    let ball = AtomicU64::new(0);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            loop {
                match ball.load(Ordering::Acquire) {
                    u64::MAX => return,
                    odd if odd % 2 == 1 => ball.store(odd + 1, Ordering::Release),
                    _ => std::hint::spin_loop(),
                }
            }
        });
        let mut next = 1;
        let mut window = || {
            let (started, mut trips) = (Instant::now(), 0u32);
            while trips % 64 != 0 || started.elapsed() < Duration::from_millis(20) {
                ball.store(next, Ordering::Release);
                while ball.load(Ordering::Acquire) != next + 1 {
                    std::hint::spin_loop();
                }
                (next, trips) = (next + 2, trips + 1);
            }
            started.elapsed().as_nanos() as f64 / f64::from(trips)
        };
        let mut windows: Vec<f64> = (0..5).map(|_| window()).collect();
        ball.store(u64::MAX, Ordering::Release);
        windows.sort_by(f64::total_cmp);
        windows[2]
    })
}

/// Installs `redis-semaphore` from the lockfile in `crates/admit-redis/bench` under
/// `target/admit-redis-bench/` (the checkout stays as it was) and returns its `node_modules`.
fn install_redis_peer(sh: &Shell) -> Result<String> {
    let dir = crate::target_dir().join("admit-redis-bench");
    for file in ["package.json", "package-lock.json"] {
        let lock = sh.read_file(format!("crates/admit-redis/bench/{file}"))?;
        sh.write_file(dir.join(file), lock)?;
    }
    if !dir.join("node_modules").is_dir() {
        cmd!(sh, "npm ci --prefix {dir} --no-audit --no-fund").run()?;
    }
    Ok(dir.join("node_modules").display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_benchmarks_are_refused_before_anything_runs() {
        let out = std::env::temp_dir().join(format!("xtask-bench-{}", std::process::id()));
        let sh = crate::shell().unwrap();
        let err = measure(&sh, &["criterion".to_owned()], true, &out).unwrap_err();
        let known = r#"(benchmarks: ["interleaved", "pool", "rate", "fleet_bench"])"#;
        assert_eq!(err.to_string(), format!("no benchmark `criterion` {known}"));
        assert!(!out.exists(), "nothing is written for a refused run");
    }

    #[test]
    fn the_round_trip_takes_a_plausible_time() {
        let ns = round_trip_ns();
        assert!(ns > 1.0 && ns < 1e7, "{ns} ns");
    }
}
