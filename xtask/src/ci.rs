//! `cargo xtask ci [--strict] [--only STEP,...]`: if this passes here, CI is green.
//!
//! Runs every check CI runs, in order, stopping at the first failure, and ends with a table
//! of steps, results and seconds. A step that needs something the machine lacks (the
//! embedded target, nightly Miri, the MSRV toolchain) first asks rustup for it. Under
//! `--strict`, which `CI=true` implies, a step that still cannot run fails: nothing skipped
//! ever makes CI green. Without it, the step is skipped and the table says so loudly.
//!
//! The test step runs against a `redis-server` started here on a free loopback port, without
//! persistence, and stopped afterwards (also when the tests fail); the tests find it through
//! `ADMIT_REDIS_URL`. A machine without `redis-server` fails the step with the install hint.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xshell::{Shell, cmd};

use crate::{Result, conformance, loom, miri};

/// What `cargo xtask ci` was asked to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// No step may be skipped (also when the `CI` variable is `true` or `1`).
    pub strict: bool,
    /// Run only these steps (all when empty).
    pub only: Vec<String>,
}

/// The embedded target the `no_std` builds are checked on.
const EMBEDDED_TARGET: &str = "thumbv7em-none-eabihf";

/// Every combination of the core crate's features that must build without `std`.
const NO_STD_FEATURES: [&str; 4] = ["", "alloc", "critical-section", "alloc,critical-section"];

/// The bare-metal example: the core used from a `#![no_std]` crate with no allocator.
const NO_STD_EXAMPLE: &str = "admit-example-no-std";

/// The library crates and feature sets checked with the declared `rust-version`.
const MSRV_CHECKS: [&[&str]; 9] = [
    &["-p", "admit", "--no-default-features"],
    &["-p", "admit"],
    &["-p", "admit", "--all-features"],
    &["-p", "admit-runtime", "--all-features"],
    &["-p", "admit-tokio", "--all-features"],
    &["-p", "admit-async-std", "--all-features"],
    &["-p", "admit-smol", "--all-features"],
    &["-p", "admit-redis", "--all-features"],
    &["-p", "admit-conformance", "--all-features"],
];

/// How a step ended, with a note for the summary (steps themselves return `Passed` or
/// `Skipped`; an error becomes `Failed` and ends the run).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Passed(String),
    Skipped(String),
    Failed(String),
}

/// A step's name and body, in the order they run.
type Step = (&'static str, fn(&Shell, bool) -> Result<Outcome>);

const STEPS: [Step; 10] = [
    ("fmt", |sh, _| {
        cmd!(sh, "cargo fmt --all --check").run()?;
        passed("")
    }),
    ("clippy", |sh, _| {
        cmd!(
            sh,
            "cargo clippy --workspace --all-targets --locked -- -D warnings"
        )
        .run()?;
        passed("")
    }),
    ("test", test),
    ("doc", |sh, _| {
        cmd!(sh, "cargo doc --workspace --no-deps --locked")
            .env("RUSTDOCFLAGS", "-D warnings")
            .run()?;
        passed("broken links and malformed docs fail")
    }),
    ("no_std", no_std),
    ("conformance", |_, _| {
        let results = conformance::run(None, false)?;
        let cases: usize = results.adapters.iter().map(|(_, cases)| cases.len()).sum();
        passed(format!(
            "{cases} case runs on {} adapters, {} peers",
            results.adapters.len(),
            results.peers.len()
        ))
    }),
    ("loom", |sh, _| {
        loom::run(sh)?;
        passed("")
    }),
    ("miri", |sh, strict| {
        if let Some(skip) = require(strict, miri::ensure_installed(sh))? {
            return Ok(skip);
        }
        miri::run(sh)?;
        passed(miri::NOTE)
    }),
    ("package", |sh, _| {
        // Each crate is packaged and its package built on its own, with the workspace
        // siblings it needs from a temporary local registry (cargo 1.90 and later).
        forget_packaged_sources()?;
        cmd!(sh, "cargo package --workspace --locked").run()?;
        passed("every publishable crate, in dependency order")
    }),
    ("msrv", msrv),
];

/// Runs the steps (all, or those of `--only`).
///
/// # Errors
///
/// An unknown step name, or the first step that fails.
pub fn run(options: &Options) -> Result {
    let strict = options.strict
        || std::env::var("CI").is_ok_and(|ci| ci.eq_ignore_ascii_case("true") || ci == "1");
    if let Some(unknown) = options
        .only
        .iter()
        .find(|name| !STEPS.iter().any(|(step, _)| step == name))
    {
        let names: Vec<&str> = STEPS.iter().map(|(name, _)| *name).collect();
        return Err(format!("no step `{unknown}` (steps: {})", names.join(", ")).into());
    }
    let steps: Vec<&Step> = STEPS
        .iter()
        .filter(|(name, _)| options.only.is_empty() || options.only.iter().any(|o| o == name))
        .collect();
    let sh = crate::shell()?;
    let started = Instant::now();
    let mut records = Vec::new();
    for (index, (name, step)) in steps.iter().enumerate() {
        println!("\n==> [{}/{}] {name}", index + 1, steps.len());
        let step_started = Instant::now();
        let outcome = step(&sh, strict).unwrap_or_else(|err| Outcome::Failed(err.to_string()));
        let seconds = step_started.elapsed().as_secs_f64();
        records.push((*name, outcome.clone(), seconds));
        if let Outcome::Failed(err) = outcome {
            print!("{}", summary(&records, strict, started.elapsed()));
            return Err(format!("ci failed at step `{name}`: {err}").into());
        }
    }
    print!("{}", summary(&records, strict, started.elapsed()));
    Ok(())
}

fn passed(note: impl Into<String>) -> Result<Outcome> {
    Ok(Outcome::Passed(note.into()))
}

/// What a missing requirement means: an error under `strict`, else a skip (returned so
/// the step can end with it). `None` when the requirement is there.
fn require(strict: bool, found: Result) -> Result<Option<Outcome>> {
    match found {
        Ok(()) => Ok(None),
        Err(err) if strict => Err(err),
        Err(err) => Ok(Some(Outcome::Skipped(err.to_string()))),
    }
}

/// `cargo test --workspace --locked`, doctests included, with a local Redis; every test
/// binary runs even after one fails, so that one failure does not hide another.
fn test(sh: &Shell, _strict: bool) -> Result<Outcome> {
    let redis = Redis::start()?;
    cmd!(sh, "cargo test --workspace --locked --no-fail-fast")
        .env("ADMIT_REDIS_URL", &redis.url)
        .run()?;
    passed(format!("doctests included; redis-server at {}", redis.url))
}

/// The core crate without `std` in every feature combination, and the `no_std` example,
/// built for the embedded target.
fn no_std(sh: &Shell, strict: bool) -> Result<Outcome> {
    if let Some(skip) = require(strict, ensure_target(sh, EMBEDDED_TARGET))? {
        return Ok(skip);
    }
    for features in NO_STD_FEATURES {
        let features = (!features.is_empty()).then(|| format!("--features={features}"));
        cmd!(
            sh,
            "cargo build -p admit --no-default-features {features...} --target {EMBEDDED_TARGET}"
        )
        .run()?;
    }
    cmd!(
        sh,
        "cargo build -p {NO_STD_EXAMPLE} --target {EMBEDDED_TARGET}"
    )
    .run()?;
    passed(format!(
        "{} feature sets and {NO_STD_EXAMPLE} on {EMBEDDED_TARGET}",
        NO_STD_FEATURES.len()
    ))
}

/// The library crates checked with the toolchain of the declared `rust-version`.
fn msrv(sh: &Shell, strict: bool) -> Result<Outcome> {
    let version = declared_rust_version(&sh.read_file("Cargo.toml")?)
        .ok_or("no `rust-version = \"...\"` in the root Cargo.toml")?;
    if let Some(skip) = require(strict, ensure_toolchain(sh, &version, &[]))? {
        return Ok(skip);
    }
    let toolchain = format!("+{version}");
    for args in MSRV_CHECKS {
        cmd!(sh, "cargo {toolchain} check --locked {args...}").run()?;
    }
    passed(format!(
        "rust {version}: {} crate/feature sets",
        MSRV_CHECKS.len()
    ))
}

/// `cargo package` unpacks the siblings a package needs from its temporary local registry
/// into `$CARGO_HOME/registry/src/-<hash>/` and never unpacks a version that is already
/// there, so a second run from the same checkout would build the first run's sources of
/// `admit-*` 0.1.0. Those unpacked copies (local registries' directories start with `-`,
/// crates.io's do not) are removed first.
///
/// # Errors
///
/// A copy that cannot be removed.
fn forget_packaged_sources() -> Result {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".cargo"))
        });
    let Some(cargo_home) = cargo_home else {
        return Ok(());
    };
    for kind in ["src", "cache"] {
        let Ok(registries) = std::fs::read_dir(cargo_home.join("registry").join(kind)) else {
            continue;
        };
        for registry in registries.flatten() {
            if !registry.file_name().to_string_lossy().starts_with('-') {
                continue;
            }
            for package in std::fs::read_dir(registry.path())?.flatten() {
                if package.file_name().to_string_lossy().starts_with("admit") {
                    let path = package.path();
                    if path.is_dir() {
                        std::fs::remove_dir_all(path)?;
                    } else {
                        std::fs::remove_file(path)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The `rust-version` of the root manifest's `[workspace.package]`.
fn declared_rust_version(manifest: &str) -> Option<String> {
    let line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("rust-version"))?;
    let value = line.split_once('=')?.1.trim().trim_matches('"');
    (!value.is_empty()).then(|| value.to_owned())
}

/// Makes sure rustup has `target` for the default toolchain, adding it when missing.
fn ensure_target(sh: &Shell, target: &str) -> Result {
    let installed = cmd!(sh, "rustup target list --installed").quiet().read()?;
    if !installed.lines().any(|line| line.trim() == target) {
        println!("{target} is not installed: adding it with rustup");
        cmd!(sh, "rustup target add {target}")
            .run()
            .map_err(|e| format!("cannot add the {target} target with rustup: {e}"))?;
    }
    Ok(())
}

/// Makes sure rustup has `toolchain` with `components` (by their short names: `miri`,
/// `rust-src`), installing what is missing.
pub fn ensure_toolchain(sh: &Shell, toolchain: &str, components: &[&str]) -> Result {
    let failed = |e: xshell::Error| format!("cannot install rust {toolchain} {components:?}: {e}");
    let toolchains = cmd!(sh, "rustup toolchain list").quiet().read()?;
    if !toolchains
        .lines()
        .any(|line| line.starts_with(&format!("{toolchain}-")))
    {
        println!("rust {toolchain} is not installed: installing it with rustup");
        cmd!(sh, "rustup toolchain install {toolchain} --profile minimal")
            .run()
            .map_err(failed)?;
    }
    let installed = cmd!(
        sh,
        "rustup component list --installed --toolchain {toolchain}"
    );
    let installed = installed.quiet().read()?;
    let missing: Vec<&str> = components
        .iter()
        .copied()
        .filter(|c| !installed.lines().any(|line| line.starts_with(c)))
        .collect();
    if !missing.is_empty() {
        println!("rust {toolchain} lacks {missing:?}: adding with rustup");
        cmd!(
            sh,
            "rustup component add --toolchain {toolchain} {missing...}"
        )
        .run()
        .map_err(failed)?;
    }
    Ok(())
}

/// A `redis-server` on 127.0.0.1 for the tests, stopped when dropped.
pub struct Redis {
    child: Child,
    /// `redis://127.0.0.1:PORT/`.
    pub url: String,
}

impl Redis {
    /// Starts `redis-server` on a free loopback port, without persistence, and waits until it
    /// answers `PING`.
    ///
    /// # Errors
    ///
    /// No `redis-server` (with the install hint), or it does not answer within 10 s.
    pub fn start() -> Result<Redis> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("cannot start redis-server ({e}); install redis-server: apt-get install -y redis-server")
            })?;
        let mut redis = Redis {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers_ping(port) {
            if let Some(status) = redis.child.try_wait()? {
                return Err(format!("redis-server exited at start ({status})").into());
            }
            if Instant::now() > deadline {
                return Err(
                    format!("redis-server did not answer on port {port} within 10 s").into(),
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!("redis-server ready at {}", redis.url);
        Ok(redis)
    }
}

fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A finished step: its name, how it ended, and how long it took in seconds.
type Record = (&'static str, Outcome, f64);

/// The closing table: step, status, seconds, note; a loud line about skipped steps; then the
/// `N passed, N failed, N skipped` line that CI logs are read for (counting steps).
fn summary(records: &[Record], strict: bool, total: Duration) -> String {
    let mut out = format!(
        "\n==> summary ({})\n{:<12} {:<8} {:>8}  note\n",
        if strict {
            "strict"
        } else {
            "not strict: steps may be skipped"
        },
        "step",
        "status",
        "seconds"
    );
    let mut counts = [0; 3];
    for (name, outcome, seconds) in records {
        let (index, status, note) = match outcome {
            Outcome::Passed(note) => (0, "ok", note),
            Outcome::Failed(note) => (1, "FAILED", note),
            Outcome::Skipped(note) => (2, "SKIPPED", note),
        };
        counts[index] += 1;
        let note = note.lines().next().unwrap_or("");
        let line = format!("{name:<12} {status:<8} {seconds:>8.1}  {note}");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "{:<12} {:<8} {:>8.1}",
        "total",
        "",
        total.as_secs_f64()
    );
    let [passed, failed, skipped] = counts;
    if skipped > 0 {
        let _ = writeln!(
            out,
            "\n!!! {skipped} step(s) SKIPPED: this run checked less than CI does (CI=true fails instead)"
        );
    }
    let _ = writeln!(
        out,
        "steps: {passed} passed, {failed} failed, {skipped} skipped"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_steps_and_shouts_about_skips() {
        let records = [
            ("fmt", Outcome::Passed(String::new()), 0.31),
            (
                "miri",
                Outcome::Skipped("no miri\nsecond line".into()),
                0.04,
            ),
            ("loom", Outcome::Failed(String::new()), 61.0),
        ];
        let text = summary(&records, false, Duration::from_millis(61_290));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "==> summary (not strict: steps may be skipped)");
        assert_eq!(lines[2], "step         status    seconds  note");
        assert_eq!(lines[3], "fmt          ok            0.3");
        assert_eq!(lines[4], "miri         SKIPPED       0.0  no miri");
        assert_eq!(lines[5], "loom         FAILED       61.0");
        assert_eq!(lines[6], "total                     61.3");
        assert!(lines[8].starts_with("!!! 1 step(s) SKIPPED"));
        assert_eq!(lines[9], "steps: 1 passed, 1 failed, 1 skipped");
        let strict = summary(&records[..1], true, Duration::ZERO);
        assert!(!strict.contains("!!!"));
        assert!(strict.ends_with("steps: 1 passed, 0 failed, 0 skipped\n"));
    }

    #[test]
    fn a_missing_requirement_fails_under_strict_and_skips_otherwise() {
        assert!(require(true, Err("no miri".into())).is_err());
        match require(false, Err("no miri".into())) {
            Ok(Some(Outcome::Skipped(why))) => assert_eq!(why, "no miri"),
            _ => panic!("a skip was expected"),
        }
        assert!(matches!(require(true, Ok(())), Ok(None)));
    }

    #[test]
    fn reads_the_declared_rust_version() {
        let manifest = "[workspace.package]\nedition = \"2024\"\nrust-version = \"1.85\"\n";
        assert_eq!(declared_rust_version(manifest).as_deref(), Some("1.85"));
        assert_eq!(declared_rust_version("[package]\n"), None);
        let root = std::fs::read_to_string(crate::project_root().join("Cargo.toml")).unwrap();
        assert!(declared_rust_version(&root).is_some());
    }

    #[test]
    fn redis_starts_answers_and_stops() {
        let redis = Redis::start().expect("redis-server is installed on the machines we run on");
        let port: u16 = redis
            .url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(answers_ping(port));
        drop(redis);
        assert!(!answers_ping(port), "redis-server still answers after drop");
    }

    #[test]
    fn only_names_known_steps() {
        let options = Options {
            strict: false,
            only: vec!["fmt".to_owned(), "lint".to_owned()],
        };
        let err = run(&options).unwrap_err().to_string();
        assert!(err.contains("no step `lint`"), "{err}");
    }
}
