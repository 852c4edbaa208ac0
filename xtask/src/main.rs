//! `cargo xtask`: the admit workspace's developer tasks, in Rust so that they run the same on
//! every machine (the rust-analyzer pattern; `cargo xtask` is an alias in
//! `.cargo/config.toml`).
//!
//! One module per command: `ci` (with the `loom` and `miri` steps, which are commands too),
//! `conformance`, `bench` and `compare`; `report` renders the benchmark report from the rows
//! files the benchmarks write. Processes run through `xshell`, which prints each command
//! before it runs it. This file reads the command line and holds the few helpers every module
//! uses.
#![forbid(unsafe_code)]

mod bench;
mod ci;
mod compare;
mod conformance;
mod report;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lexopt::prelude::*;

/// What every command returns: errors are printed once, in `main`.
type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci [--strict]  every check CI runs (if this passes here, CI is green): fmt, clippy, test,
                 doc, no_std, conformance, loom, miri, package, msrv. With --strict (implied
                 by CI=true) nothing may be skipped: missing toolchains and targets are
                 installed with rustup, and a step that cannot run fails
  loom           the loom models of the core crate
  miri           every test of the core crate under nightly Miri
  conformance [--adapter NAME] [--docs]
                 the behaviour suite on every adapter (one process each) and the peer
                 guarantees, or those whose name starts with NAME (tokio, smol-2, peers);
                 writes target/admit-conformance/conformance.md, and docs/conformance.md
                 with --docs
  bench [--quick] [--bench NAME]... [--no-run]
                 run the benchmarks and write docs/benchmarks.{md,json,svg} from their rows;
                 --no-run renders docs/benchmarks.json again instead
  compare [--bench NAME]...
                 is admit right, and how fast next to its peers? conformance, then a quick
                 interleaved bench, then one screen of answers (writes under target/ only)
  help           this text";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Task {
    Ci { strict: bool },
    Loom,
    Miri,
    Conformance { adapter: Option<String>, docs: bool },
    Bench(bench::Options),
    Compare { benches: Vec<String> },
    Help,
}

/// Reads the arguments after `cargo xtask`.
fn parse(mut parser: lexopt::Parser) -> std::result::Result<Task, lexopt::Error> {
    let Some(Value(command)) = parser.next()? else {
        return Ok(Task::Help);
    };
    let mut task = match command.string()?.as_str() {
        "ci" => Task::Ci { strict: false },
        "loom" => Task::Loom,
        "miri" => Task::Miri,
        "conformance" => Task::Conformance {
            adapter: None,
            docs: false,
        },
        "bench" => Task::Bench(bench::Options::default()),
        "compare" => Task::Compare {
            benches: Vec::new(),
        },
        "help" => Task::Help,
        other => return Err(format!("unknown command `{other}`").into()),
    };
    while let Some(arg) = parser.next()? {
        match (&mut task, arg) {
            (Task::Ci { strict }, Long("strict")) => *strict = true,
            (Task::Conformance { adapter, .. }, Long("adapter")) => {
                *adapter = Some(parser.value()?.string()?);
            }
            (Task::Conformance { docs, .. }, Long("docs")) => *docs = true,
            (Task::Bench(options), Long("quick")) => options.quick = true,
            (Task::Bench(options), Long("no-run")) => options.no_run = true,
            (
                Task::Bench(bench::Options { benches, .. }) | Task::Compare { benches },
                Long("bench"),
            ) => {
                benches.push(parser.value()?.string()?);
            }
            (_, arg) => return Err(arg.unexpected()),
        }
    }
    Ok(task)
}

fn main() -> ExitCode {
    let task = match parse(lexopt::Parser::from_env()) {
        Ok(task) => task,
        Err(err) => {
            eprintln!("xtask: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match task {
        Task::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Task::Ci { strict } => ci::run(strict),
        Task::Loom => shell().and_then(|sh| ci::loom(&sh)),
        Task::Miri => shell().and_then(|sh| ci::miri_toolchain(&sh).and_then(|()| ci::miri(&sh))),
        Task::Conformance { adapter, docs } => conformance::run(adapter.as_deref(), docs).map(drop),
        Task::Bench(options) => bench::run(&options),
        Task::Compare { benches } => compare::run(&benches),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: xtask lives in `<root>/xtask`, wherever it is run from.
fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// A shell whose working directory is the workspace root.
fn shell() -> Result<xshell::Shell> {
    let sh = xshell::Shell::new()?;
    sh.change_dir(project_root());
    Ok(sh)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else `target/` in the root.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => project_root().join(dir),
        _ => project_root().join("target"),
    }
}

/// A table with a header row, as Markdown or as aligned text indented by two spaces.
fn table<S: AsRef<str>>(header: &[&str], rows: &[Vec<S>], markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|{}|", vec!["---"; header.len()].join("|"));
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| c.as_ref().replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        return out;
    }
    let rows: Vec<Vec<&str>> = std::iter::once(header.to_vec())
        .chain(
            rows.iter()
                .map(|row| row.iter().map(AsRef::as_ref).collect()),
        )
        .collect();
    let width = |column: usize| rows.iter().map(|r| r[column].chars().count()).max();
    let widths: Vec<usize> = (0..header.len()).map(|c| width(c).unwrap_or(0)).collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(line: &str) -> std::result::Result<Task, String> {
        parse(lexopt::Parser::from_args(line.split_whitespace())).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_every_command_and_rejects_unknown_input() {
        assert_eq!(parse_words(""), Ok(Task::Help));
        assert_eq!(parse_words("ci --strict"), Ok(Task::Ci { strict: true }));
        let (adapter, docs) = (Some("smol".to_owned()), true);
        let conformance = parse_words("conformance --adapter=smol --docs");
        assert_eq!(conformance, Ok(Task::Conformance { adapter, docs }));
        let benches = vec!["pool".to_owned()];
        let bench = bench::Options {
            quick: true,
            no_run: false,
            benches: benches.clone(),
        };
        assert_eq!(
            parse_words("bench --quick --bench pool"),
            Ok(Task::Bench(bench))
        );
        assert_eq!(
            parse_words("compare --bench pool"),
            Ok(Task::Compare { benches })
        );
        assert!(
            parse_words("deploy")
                .unwrap_err()
                .contains("unknown command")
        );
        for wrong in [
            "ci --fast",
            "conformance --adapter",
            "loom --quick",
            "compare --quick",
        ] {
            assert!(parse_words(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn tables_align_text_and_escape_markdown() {
        let rows = [vec!["fmt", "ok"], vec!["conformance", "a|b"]];
        let text = table(&["step", "status"], &rows, false);
        assert_eq!(
            text,
            "  step         status\n  fmt          ok\n  conformance  a|b\n"
        );
        let markdown = table(&["step", "status"], &rows, true);
        assert!(markdown.ends_with("|---|---|\n| fmt | ok |\n| conformance | a\\|b |\n"));
    }
}
