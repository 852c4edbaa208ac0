//! `cargo xtask conformance [--adapter NAME]`: the behavioural suite every runtime adapter
//! must pass, from the `admit-conformance` crate.
//!
//! The crate's `admit-conformance` binary is the entry point and its exit code is passed
//! on. A crate without that binary is run as a test suite instead (the adapter name then
//! filters the tests).

use std::path::Path;

use crate::cmd::{Error, Result, cargo};
use crate::workspace::Workspace;

/// The package (and binary) that holds the suite.
pub const PACKAGE: &str = "admit-conformance";

/// Whether the suite exists in this checkout yet.
pub fn present(root: &Path) -> bool {
    root.join("crates")
        .join(PACKAGE)
        .join("Cargo.toml")
        .is_file()
}

/// Runs the suite, for every adapter or only `adapter`.
///
/// # Errors
///
/// The crate is not there, or the suite fails (with its exit code).
pub fn run(root: &Path, adapter: Option<&str>) -> Result<()> {
    if !present(root) {
        return Err(Error::new(format!(
            "{PACKAGE} not present (expected crates/{PACKAGE}/Cargo.toml)"
        )));
    }
    let workspace = Workspace::load(root)?;
    let package = workspace.package(PACKAGE).ok_or_else(|| {
        Error::new(format!(
            "crates/{PACKAGE} exists but cargo does not list a package named {PACKAGE}"
        ))
    })?;
    if package.bins.iter().any(|bin| bin == PACKAGE) {
        let mut cmd = cargo(root).args(["run", "-p", PACKAGE, "--release", "--bin", PACKAGE]);
        if let Some(name) = adapter {
            cmd = cmd.args(["--", "--adapter", name]);
        }
        cmd.run()
    } else {
        println!("{PACKAGE} has no `{PACKAGE}` binary: running its tests instead");
        let mut cmd = cargo(root).args(["test", "-p", PACKAGE, "--release"]);
        if let Some(name) = adapter {
            cmd = cmd.arg(name);
        }
        cmd.run()
    }
}
