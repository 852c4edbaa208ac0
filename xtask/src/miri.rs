//! `cargo xtask miri`: every test of the core crate under Miri (unit and integration tests
//! and doctests), to catch undefined behaviour in its `unsafe` code (the intrusive wait
//! queue). The tests scale their sizes down under `cfg(miri)`; the whole run takes about
//! 8 minutes on 2 cores.
//!
//! Miri needs the nightly toolchain with the `miri` and `rust-src` components; cargo-miri
//! builds in `target/miri`, away from the normal cache.

use xshell::{Shell, cmd};

use crate::Result;

/// Miri's flags unless `MIRIFLAGS` is set: strict provenance makes integer-to-pointer casts
/// an error, which the wait queue's pointer juggling must never need.
const MIRIFLAGS: &str = "-Zmiri-strict-provenance";

/// Tests Miri does not run, by name, each with its reason. Empty: Miri runs every test.
const EXCLUSIONS: [(&str, &str); 0] = [];

/// What CI's summary says about the run.
pub const NOTE: &str = "every admit test: unit, integration and doctests";

/// Installs nightly with `miri` and `rust-src` when they are missing.
///
/// # Errors
///
/// rustup cannot install them.
pub fn ensure_installed(sh: &Shell) -> Result {
    crate::ci::ensure_toolchain(sh, "nightly", &["miri", "rust-src"])
}

/// Runs the tests under Miri; the caller has called [`ensure_installed`].
///
/// # Errors
///
/// A test fails or hits undefined behaviour.
pub fn run(sh: &Shell) -> Result {
    let flags = sh.var("MIRIFLAGS").unwrap_or_else(|_| MIRIFLAGS.to_owned());
    let skips = EXCLUSIONS.iter().flat_map(|(name, _)| ["--skip", name]);
    cmd!(sh, "cargo +nightly miri test -p admit -- {skips...}")
        .env("MIRIFLAGS", flags)
        .run()?;
    Ok(())
}
