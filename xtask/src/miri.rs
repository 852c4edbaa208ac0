//! `cargo xtask miri`: the core crate's tests under Miri, to catch undefined behaviour in
//! its `unsafe` code (the intrusive wait queue).
//!
//! Miri needs the nightly toolchain with the `miri` and `rust-src` components. The tests
//! scale their sizes down under `cfg(miri)`. cargo-miri builds in `<target>/miri` on its
//! own, away from the normal cache; passing `--target-dir target/miri` would nest it as
//! `target/miri/miri`, so no target directory is passed.

use std::env;
use std::path::Path;
use std::time::Duration;

use crate::cmd::{Cmd, Error, Result, cargo};

/// Miri's flags unless `MIRIFLAGS` is already set: strict provenance makes integer-to-pointer
/// casts an error, which the wait queue's pointer juggling must never need.
pub const MIRIFLAGS: &str = "-Zmiri-strict-provenance";

/// The command that installs what this step needs.
pub const INSTALL: &str = "rustup toolchain install nightly --component miri";

/// How much to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every test of `admit`, doctests included.
    Full,
    /// The library and integration tests only: what fits CI's time budget.
    Ci,
}

/// Miri's version line, or why Miri cannot run here.
///
/// # Errors
///
/// A one-line reason: no rustup, no nightly, or no miri component.
pub fn available() -> std::result::Result<String, String> {
    Cmd::new("cargo")
        .args(["+nightly", "miri", "--version"])
        // Asking must not download a toolchain.
        .env("RUSTUP_AUTO_INSTALL", "0")
        .timeout(Duration::from_secs(60))
        .probe()
        .map(|version| version.trim().to_owned())
}

/// Makes sure nightly has `rust-src`, which Miri builds its standard library from;
/// installs it with rustup when it is missing.
///
/// # Errors
///
/// A one-line reason when it is missing and could not be installed.
pub fn ensure_rust_src() -> std::result::Result<(), String> {
    let sysroot = Cmd::new("rustc")
        .args(["+nightly", "--print", "sysroot"])
        .timeout(Duration::from_secs(60))
        .probe()?;
    let library = Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library");
    if library.is_dir() {
        return Ok(());
    }
    println!("nightly has no rust-src component: installing it");
    Cmd::new("rustup")
        .args(["component", "add", "--toolchain", "nightly", "rust-src"])
        .timeout(Duration::from_secs(300))
        .run()
        .map_err(|e| format!("rust-src is missing and could not be installed: {e}"))
}

/// Runs the tests under Miri; the caller has checked [`available`] and
/// [`ensure_rust_src`].
///
/// # Errors
///
/// A test fails or hits undefined behaviour.
pub fn run_tests(root: &Path, scope: Scope) -> Result<()> {
    let flags = env::var("MIRIFLAGS").unwrap_or_else(|_| MIRIFLAGS.to_owned());
    let mut cmd = cargo(root).args(["+nightly", "miri", "test", "-p", "admit"]);
    if scope == Scope::Ci {
        cmd = cmd.args(["--lib", "--tests"]);
    }
    cmd.env("MIRIFLAGS", flags).run()
}

/// `cargo xtask miri`: fails with the install command when Miri is missing.
///
/// # Errors
///
/// Miri is not installed, `rust-src` cannot be had, or [`run_tests`] fails.
pub fn run(root: &Path) -> Result<()> {
    match available() {
        Ok(version) => println!("using {version}"),
        Err(reason) => {
            return Err(Error::new(format!(
                "Miri is not available ({reason}).\ninstall it with: {INSTALL}"
            )));
        }
    }
    ensure_rust_src().map_err(Error::new)?;
    run_tests(root, Scope::Full)
}
