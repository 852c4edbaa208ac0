//! `cargo xtask ci [--strict]`: if this passes here, CI is green.
//!
//! Runs every check CI runs, in order, stops at the first failure, and ends with a table of
//! steps, results and seconds. What a step needs (the embedded target, nightly Miri, the MSRV
//! toolchain) rustup installs first; when it cannot, the step is skipped, loudly, or under
//! `--strict` (implied by `CI=true`) fails: a skipped step never makes CI green. The test
//! step gets a private `redis-server` ([`Redis`], `ADMIT_REDIS_URL`).

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xshell::{Shell, cmd};

use crate::{Result, conformance};

/// A step: its name, what it needs installed first (if anything), and the check itself.
type Step = (&'static str, Option<Check>, Check);
type Check = fn(&Shell) -> Result;

const STEPS: [Step; 10] = [
    ("fmt", None, |sh| cargo(sh, "fmt --all --check", &[])),
    ("clippy", None, |sh| cargo(sh, CLIPPY, &[])),
    ("test", None, test),
    ("doc", None, |sh| {
        cargo(sh, DOC, &[("RUSTDOCFLAGS", "-D warnings")])
    }),
    ("no_std", Some(embedded_target), no_std),
    ("conformance", None, |_| {
        conformance::run(None, false).map(drop)
    }),
    ("loom", None, loom),
    ("miri", Some(miri_toolchain), miri),
    ("package", None, package),
    ("msrv", Some(|sh| rustup(sh, &rust_version(sh)?, &[])), msrv),
];

const CLIPPY: &str = "clippy --workspace --all-targets --locked -- -D warnings";
const DOC: &str = "doc --workspace --no-deps --locked";

/// The embedded target of the `no_std` builds: the core crate's feature sets without `std`,
/// and the `no_std` example (a crate without an allocator).
const EMBEDDED_TARGET: &str = "thumbv7em-none-eabihf";
const NO_STD_BUILDS: [&str; 5] = [
    "-p admit --no-default-features",
    "-p admit --no-default-features --features alloc",
    "-p admit --no-default-features --features critical-section",
    "-p admit --no-default-features --features alloc,critical-section",
    "-p admit-example-no-std",
];

/// The library crates and feature sets checked with the declared `rust-version`.
const MSRV_CHECKS: [&str; 9] = [
    "-p admit --no-default-features",
    "-p admit",
    "-p admit --all-features",
    "-p admit-runtime --all-features",
    "-p admit-tokio --all-features",
    "-p admit-async-std --all-features",
    "-p admit-smol --all-features",
    "-p admit-redis --all-features",
    "-p admit-conformance --all-features",
];

/// Runs every step and prints the closing table; fails at the first step that fails.
/// `strict` (or `CI` set to `true` or `1`): no step may be skipped.
pub fn run(strict: bool) -> Result {
    let strict = strict || std::env::var("CI").is_ok_and(|v| v == "1" || v == "true");
    let sh = crate::shell()?;
    let (started, mut done) = (Instant::now(), Vec::new());
    for (index, (name, needs, check)) in STEPS.iter().enumerate() {
        println!("\n==> [{}/{}] {name}", index + 1, STEPS.len());
        let step_started = Instant::now();
        let needed = needs.map_or(Ok(()), |needs| needs(&sh));
        let skip = needed.is_err() && !strict;
        let (status, why) = match needed.and_then(|()| check(&sh)) {
            Ok(()) => ("ok", String::new()),
            Err(err) => (if skip { "SKIPPED" } else { "FAILED" }, err.to_string()),
        };
        done.push((*name, status, why, step_started.elapsed()));
        if status == "FAILED" {
            break;
        }
    }
    print!("{}", summary(&done, started.elapsed()));
    match done.last() {
        Some((name, "FAILED", why, _)) => Err(format!("ci failed at `{name}`: {why}").into()),
        _ => Ok(()),
    }
}

/// The closing table, and a loud line when a step was skipped.
fn summary(done: &[(&str, &str, String, Duration)], total: Duration) -> String {
    let row = |name: &str, status: &str, why: &str, took: Duration| {
        let seconds = format!("{:7.1}", took.as_secs_f64());
        let why = why.lines().next().unwrap_or("");
        [name, status, &seconds, why].map(str::to_owned).to_vec()
    };
    let mut rows: Vec<_> = done.iter().map(|(n, s, w, t)| row(n, s, w, *t)).collect();
    rows.push(row("total", "", "", total));
    let table = crate::table(&["step", "status", "seconds", "note"], &rows, false);
    let mut out = format!("\n==> ci summary\n{table}");
    if done.iter().any(|step| step.1 == "SKIPPED") {
        out.push_str("\n!!! steps SKIPPED: this run checked less than CI does (CI=true fails)\n");
    }
    out
}

/// Runs `cargo ARGS` (split at spaces) with `env` set.
fn cargo(sh: &Shell, args: &str, env: &[(&str, &str)]) -> Result {
    let args = args.split(' ');
    let cargo = cmd!(sh, "cargo {args...}").envs(env.iter().copied());
    Ok(cargo.run()?)
}

/// `cargo test --workspace`, doctests included, against a private `redis-server`; every test
/// binary runs even after one fails, so that one failure does not hide another.
fn test(sh: &Shell) -> Result {
    let redis = Redis::start()?;
    let env = [("ADMIT_REDIS_URL", redis.url.as_str())];
    cargo(sh, "test --workspace --locked --no-fail-fast", &env)
}

fn embedded_target(sh: &Shell) -> Result {
    Ok(cmd!(sh, "rustup target add {EMBEDDED_TARGET}").run()?)
}

fn no_std(sh: &Shell) -> Result {
    for build in NO_STD_BUILDS {
        let build = format!("build {build} --target {EMBEDDED_TARGET}");
        cargo(sh, &build, &[])?;
    }
    Ok(())
}

/// The loom models: `admit`'s tests named `*loom*`, under `--cfg admit_loom` (crate-prefixed,
/// so that tokio's loom stays off), in release mode and in `target/loom` (the changed
/// `RUSTFLAGS` would invalidate the normal build); `LOOM_MAX_PREEMPTIONS` is 2 unless set.
pub fn loom(sh: &Shell) -> Result {
    let preemptions = sh.var("LOOM_MAX_PREEMPTIONS").unwrap_or("2".to_owned());
    let rustflags = sh.var("RUSTFLAGS").unwrap_or_default() + " --cfg admit_loom";
    let _rustflags = sh.push_env("RUSTFLAGS", rustflags.trim());
    let _preemptions = sh.push_env("LOOM_MAX_PREEMPTIONS", preemptions);
    let target = crate::target_dir().join("loom").display().to_string();
    let args = format!("test -p admit --release --lib --tests --target-dir {target} loom");
    cargo(sh, &args, &[])
}

/// Nightly with the `miri` and `rust-src` components, installed when missing.
pub fn miri_toolchain(sh: &Shell) -> Result {
    rustup(sh, "nightly", &["miri", "rust-src"])
}

/// Every test of the core crate under Miri, doctests included; `MIRIFLAGS` defaults to strict
/// provenance (the wait queue's pointers must never need an integer-to-pointer cast).
pub fn miri(sh: &Shell) -> Result {
    let flags = sh.var("MIRIFLAGS");
    let flags = flags.as_deref().unwrap_or("-Zmiri-strict-provenance");
    cargo(sh, "+nightly miri test -p admit", &[("MIRIFLAGS", flags)])
}

/// Every publishable crate packaged and built. Cargo unpacks the workspace siblings from a
/// local registry into `$CARGO_HOME/registry/src/-<hash>/` and never unpacks a version twice,
/// so the unpacked `admit*` packages are removed first (else the last run's sources build).
fn package(sh: &Shell) -> Result {
    let home = sh.var("HOME").map(|home| home + "/.cargo");
    let cargo_home = sh.var("CARGO_HOME").or(home).unwrap_or_default();
    let named = |path: &Path, prefix| {
        path.file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with(prefix))
    };
    for kind in ["src", "cache"] {
        let registries = sh.read_dir(format!("{cargo_home}/registry/{kind}"));
        let registries = registries.unwrap_or_default();
        for registry in registries.iter().filter(|r| named(r, "-")) {
            for package in sh.read_dir(registry)?.iter().filter(|p| named(p, "admit")) {
                sh.remove_path(package)?;
            }
        }
    }
    cargo(sh, "package --workspace --locked", &[])
}

fn msrv(sh: &Shell) -> Result {
    let version = rust_version(sh)?;
    for check in MSRV_CHECKS {
        cargo(sh, &format!("+{version} check --locked {check}"), &[])?;
    }
    Ok(())
}

/// The `rust-version` of the root manifest's `[workspace.package]`.
fn rust_version(sh: &Shell) -> Result<String> {
    let manifest = sh.read_file("Cargo.toml")?;
    let line = manifest.lines().find(|l| l.starts_with("rust-version"));
    let missing = "no `rust-version = \"...\"` in the root Cargo.toml";
    let (_, version) = line.and_then(|l| l.split_once('=')).ok_or(missing)?;
    Ok(version.trim().trim_matches('"').to_owned())
}

/// Makes sure rustup has `toolchain` (installed with the minimal profile when missing) with
/// `components` (rustup adds those only when missing).
fn rustup(sh: &Shell, toolchain: &str, components: &[&str]) -> Result {
    let failed = |e| format!("cannot install rust {toolchain} {components:?} with rustup: {e}");
    let installed = cmd!(sh, "rustup toolchain list").quiet().read()?;
    let prefix = format!("{toolchain}-");
    if !installed.lines().any(|line| line.starts_with(&prefix)) {
        let install = cmd!(sh, "rustup toolchain install {toolchain} --profile minimal");
        install.run().map_err(failed)?;
    }
    if !components.is_empty() {
        let add = cmd!(sh, "rustup +{toolchain} component add {components...}");
        add.run().map_err(failed)?;
    }
    Ok(())
}

/// A `redis-server` on 127.0.0.1 for tests and benchmarks, stopped when dropped.
pub struct Redis {
    child: Child,
    /// `redis://127.0.0.1:PORT/`.
    pub url: String,
}

impl Redis {
    /// Starts `redis-server` on a free loopback port, without persistence, and waits (10 s at
    /// most) until it accepts connections.
    pub fn start() -> Result<Redis> {
        let free = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?;
        let port = free.port();
        let args = format!("--port {port} --bind 127.0.0.1 --appendonly no");
        let mut server = Command::new("redis-server");
        server.args(args.split(' ')).args(["--save", ""]);
        let hint = |e| format!("cannot start redis-server ({e}): apt-get install -y redis-server");
        let child = server.stdout(Stdio::null()).spawn().map_err(hint)?;
        let url = format!("redis://127.0.0.1:{port}/");
        let mut redis = Redis { child, url };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Some(status) = redis.child.try_wait()? {
                return Err(format!("redis-server exited at start ({status})").into());
            } else if Instant::now() > deadline {
                return Err(format!("redis-server is not up on port {port} after 10 s").into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(redis)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    #[test]
    fn the_summary_lists_every_step_and_shouts_about_skips() {
        let step =
            |name, status, why: &str, ms| (name, status, why.into(), Duration::from_millis(ms));
        let done = [
            step("fmt", "ok", "", 310),
            step("miri", "SKIPPED", "no miri\nsecond line", 0),
            step("loom", "FAILED", "exit 101", 61_000),
        ];
        let text = summary(&done, Duration::from_millis(61_290));
        let expected = "\n==> ci summary\n  step   status   seconds  note\n  fmt    ok           0.3\n\
                        \x20 miri   SKIPPED      0.0  no miri\n  loom   FAILED      61.0  exit 101\n\
                        \x20 total              61.3\n\n!!! steps SKIPPED: this run checked less";
        assert!(text.starts_with(expected), "{text}");
        assert!(!summary(&done[..1], Duration::ZERO).contains("!!!"));
    }

    #[test]
    fn reads_the_declared_rust_version() {
        let version = rust_version(&crate::shell().unwrap()).unwrap();
        assert!(version.starts_with("1."), "{version}");
    }

    #[test]
    fn redis_starts_and_stops() {
        let redis = Redis::start().expect("redis-server is installed on the machines we run on");
        let port: u16 = redis.url[18..redis.url.len() - 1].parse().unwrap();
        let mut connection = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        let mut reply = [0; 7];
        connection.write_all(b"PING\r\n").unwrap();
        connection.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"+PONG\r\n");
        drop(redis);
        let down = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err();
        assert!(down, "still up after drop");
    }
}
