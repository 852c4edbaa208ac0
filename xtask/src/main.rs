//! `cargo xtask`: the admit workspace's developer tasks, in Rust so that they run the same on
//! every machine (`cargo xtask` is an alias in `.cargo/config.toml`).
//!
//! One module per command (`ci` also runs `loom` and `miri`); `report` renders the benchmark
//! report. Processes run through `xshell`, which prints each command before it runs it.
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
    Compare(Vec<String>),
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
        "compare" => Task::Compare(Vec::new()),
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
                Task::Bench(bench::Options { benches, .. }) | Task::Compare(benches),
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
    let result = match parse(lexopt::Parser::from_env()) {
        Err(err) => {
            eprintln!("xtask: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
        Ok(Task::Help) => {
            println!("{USAGE}");
            Ok(())
        }
        Ok(Task::Ci { strict }) => ci::run(strict),
        Ok(Task::Loom) => shell().and_then(|sh| ci::loom(&sh)),
        Ok(Task::Miri) => {
            shell().and_then(|sh| ci::miri_toolchain(&sh).and_then(|()| ci::miri(&sh)))
        }
        Ok(Task::Conformance { adapter, docs }) => {
            conformance::run(adapter.as_deref(), docs).map(drop)
        }
        Ok(Task::Bench(options)) => bench::run(&options),
        Ok(Task::Compare(benches)) => compare::run(&benches),
    };
    if let Err(err) = result {
        eprintln!("xtask: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
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
    let dir = std::env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty());
    project_root().join(dir.unwrap_or("target".into()))
}

/// A table with a header row, as Markdown or as aligned text indented by two spaces.
fn table<S: AsRef<str>>(header: &[&str], rows: &[Vec<S>], markdown: bool) -> String {
    let body = rows.iter().map(|r| r.iter().map(AsRef::as_ref).collect());
    let rows: Vec<Vec<&str>> = std::iter::once(header.to_vec()).chain(body).collect();
    let width = |c: usize| {
        rows.iter()
            .filter_map(|r| Some(r.get(c)?.chars().count()))
            .max()
    };
    let widths: Vec<usize> = (0..header.len()).map(|c| width(c).unwrap_or(0)).collect();
    let mut out = String::new();
    for (index, row) in rows.iter().enumerate() {
        if markdown {
            let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
            if index == 0 {
                let _ = writeln!(out, "|{}|", vec!["---"; header.len()].join("|"));
            }
        } else {
            let cells = row.iter().enumerate();
            let cells = cells.map(|(c, cell)| format!("{cell:<w$}", w = widths[c]));
            let _ = writeln!(out, "  {}", cells.collect::<Vec<_>>().join("  ").trim_end());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command_and_rejects_unknown_input() {
        let parsed = |line: &str| parse(lexopt::Parser::from_args(line.split_whitespace()));
        let task = |line| parsed(line).unwrap();
        assert_eq!(task(""), Task::Help);
        assert_eq!(task("ci --strict"), Task::Ci { strict: true });
        let (adapter, docs) = (Some("smol".to_owned()), true);
        let conformance = task("conformance --adapter=smol --docs");
        assert_eq!(conformance, Task::Conformance { adapter, docs });
        let benches = vec!["pool".to_owned()];
        let bench = bench::Options {
            quick: true,
            no_run: true,
            benches: benches.clone(),
        };
        let line = "bench --quick --no-run --bench pool";
        assert_eq!(task(line), Task::Bench(bench));
        assert_eq!(task("compare --bench pool"), Task::Compare(benches));
        let unknown = parsed("deploy").unwrap_err().to_string();
        assert!(unknown.contains("unknown command"), "{unknown}");
        for wrong in "ci --fast,conformance --adapter,loom --quick,compare --quick".split(',') {
            assert!(parsed(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn tables_align_text_and_escape_markdown() {
        let rows = [vec!["fmt", "ok"], vec!["conformance", "a|b"]];
        let text = table(&["step", "status"], &rows, false);
        let aligned = "  step         status\n  fmt          ok\n  conformance  a|b\n";
        assert_eq!(text, aligned);
        let markdown = table(&["step", "status"], &rows, true);
        assert!(markdown.ends_with("|---|---|\n| fmt | ok |\n| conformance | a\\|b |\n"));
    }
}
