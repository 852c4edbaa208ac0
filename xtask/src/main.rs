//! `cargo xtask`: the admit workspace's developer tasks, in Rust so they run the same on
//! every machine (the rust-analyzer pattern; `cargo xtask` is an alias in
//! `.cargo/config.toml`).
//!
//! One module per command (`ci`, `loom`, `miri`, `conformance`, `bench`, `compare`), plus
//! `report`, which reads the benchmarks' rows files and renders the benchmark report.
//! Processes run through `xshell`, so every command is printed before it runs.
#![forbid(unsafe_code)]

mod bench;
mod ci;
mod compare;
mod conformance;
mod loom;
mod miri;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lexopt::prelude::*;

/// What every command returns: errors are printed once, in `main`.
type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci [--strict] [--only STEP,...]
                 every check CI runs (if this passes here, CI is green): fmt, clippy,
                 test, doc, no_std, conformance, loom, miri, package, msrv. With --strict
                 (implied by CI=true) nothing may be skipped: missing toolchains and
                 targets are installed with rustup, and a step that cannot run fails
  loom           the loom models of the core crate
  miri           every test of the core crate under nightly Miri
  conformance [--adapter NAME] [--docs]
                 the behaviour suite on every adapter (one process each) and the peer
                 guarantees, or those whose name starts with NAME (tokio, smol-2, peers);
                 writes target/admit-conformance/, and docs/conformance.md with --docs
  bench [--quick] [--no-run] [--bench NAME]...
                 run the benchmarks and write docs/benchmarks.{md,json,svg} from their
                 rows; --no-run renders the rows already in target/admit-bench/
  compare [--bench NAME]...
                 is admit right, and how fast next to its peers? conformance, then a
                 quick interleaved bench, then one screen of answers (writes target/ only)
  help           this text";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Task {
    Ci(ci::Options),
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
        "ci" => Task::Ci(ci::Options::default()),
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
            (Task::Ci(options), Long("strict")) => options.strict = true,
            (Task::Ci(options), Long("only")) => {
                let steps = parser.value()?.string()?;
                options.only = steps.split(',').map(str::to_owned).collect();
            }
            (Task::Conformance { adapter, .. }, Long("adapter")) => {
                *adapter = Some(parser.value()?.string()?);
            }
            (Task::Conformance { docs, .. }, Long("docs")) => *docs = true,
            (Task::Bench(options), Long("quick")) => options.quick = true,
            (Task::Bench(options), Long("no-run")) => options.no_run = true,
            (Task::Bench(options), Long("bench")) => {
                options.benches.push(parser.value()?.string()?);
            }
            (Task::Compare { benches }, Long("bench")) => benches.push(parser.value()?.string()?),
            (_, arg) => return Err(arg.unexpected()),
        }
    }
    Ok(task)
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
        Task::Ci(options) => ci::run(&options),
        Task::Loom => shell().and_then(|sh| loom::run(&sh)),
        Task::Miri => {
            shell().and_then(|sh| miri::ensure_installed(&sh).and_then(|()| miri::run(&sh)))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(line: &str) -> std::result::Result<Task, String> {
        parse(lexopt::Parser::from_args(line.split_whitespace())).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_every_command() {
        assert_eq!(parse_words(""), Ok(Task::Help));
        assert_eq!(parse_words("ci"), Ok(Task::Ci(ci::Options::default())));
        assert_eq!(
            parse_words("ci --strict --only fmt,clippy"),
            Ok(Task::Ci(ci::Options {
                strict: true,
                only: vec!["fmt".to_owned(), "clippy".to_owned()],
            }))
        );
        assert_eq!(parse_words("loom"), Ok(Task::Loom));
        assert_eq!(parse_words("miri"), Ok(Task::Miri));
        assert_eq!(
            parse_words("conformance --adapter=smol --docs"),
            Ok(Task::Conformance {
                adapter: Some("smol".to_owned()),
                docs: true
            })
        );
        assert_eq!(
            parse_words("bench --quick --bench pool"),
            Ok(Task::Bench(bench::Options {
                quick: true,
                no_run: false,
                benches: vec!["pool".to_owned()],
            }))
        );
        assert_eq!(
            parse_words("compare --bench interleaved"),
            Ok(Task::Compare {
                benches: vec!["interleaved".to_owned()]
            })
        );
    }

    #[test]
    fn rejects_unknown_input() {
        assert!(
            parse_words("deploy")
                .unwrap_err()
                .contains("unknown command")
        );
        assert!(parse_words("ci --fast").is_err());
        assert!(parse_words("conformance --adapter").is_err());
        assert!(parse_words("bench --slow").is_err());
        assert!(parse_words("loom --quick").is_err());
    }

    #[test]
    fn root_is_the_workspace() {
        assert!(project_root().join("xtask").join("Cargo.toml").is_file());
    }
}
