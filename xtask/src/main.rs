//! `cargo xtask`: the admit workspace's developer tasks, in Rust so they run the same on
//! every machine (the rust-analyzer pattern; `cargo xtask` is an alias in
//! `.cargo/config.toml`).
//!
//! One module per command; `cmd` runs processes, `json` reads criterion's and cargo's
//! JSON, `report` renders the benchmark report, `workspace` asks `cargo metadata`.
#![forbid(unsafe_code)]

mod bench;
mod ci;
mod cmd;
mod compare;
mod conformance;
mod json;
mod loom;
mod miri;
mod profile;
mod report;
mod workspace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci                        every check CI runs: fmt, clippy, test, no_std, conformance,
                            loom, miri (if this passes here, CI is green)
  loom                      the loom models of the core crate (LOOM_MAX_PREEMPTIONS=2
                            unless set)
  miri                      the core crate's tests under nightly Miri
  conformance [--adapter NAME]
                            the behavioural suite every runtime adapter must pass
  bench [--quick] [--no-run] [-- CRITERION_ARGS...]
                            run the benchmarks and write docs/benchmarks.{md,json,svg};
                            --no-run rewrites the report from the last results
  compare                   conformance, then bench --quick, then print the tables
  profile                   where the contended bench's time goes (perf record per
                            semaphore) and how much of it any semaphore could save;
                            writes docs/profile.md (needs perf)
  help                      this text";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Task {
    Ci,
    Loom,
    Miri,
    Conformance { adapter: Option<String> },
    Bench(bench::Options),
    Compare,
    Profile,
    Help,
}

/// Reads the arguments after `cargo xtask`.
fn parse(args: &[String]) -> Result<Task, String> {
    let Some((command, rest)) = args.split_first() else {
        return Ok(Task::Help);
    };
    let no_arguments = |task: Task| match rest.first() {
        None => Ok(task),
        Some(extra) => Err(format!("`{command}` takes no arguments, got `{extra}`")),
    };
    match command.as_str() {
        "ci" => no_arguments(Task::Ci),
        "loom" => no_arguments(Task::Loom),
        "miri" => no_arguments(Task::Miri),
        "compare" => no_arguments(Task::Compare),
        "profile" => no_arguments(Task::Profile),
        "help" | "--help" | "-h" => Ok(Task::Help),
        "conformance" => match rest {
            [] => Ok(Task::Conformance { adapter: None }),
            [flag, name] if flag == "--adapter" => Ok(Task::Conformance {
                adapter: Some(name.clone()),
            }),
            [flag] if flag.starts_with("--adapter=") => Ok(Task::Conformance {
                adapter: Some(flag["--adapter=".len()..].to_owned()),
            }),
            _ => Err("usage: cargo xtask conformance [--adapter NAME]".to_owned()),
        },
        "bench" => {
            let mut options = bench::Options::default();
            let mut rest = rest.iter();
            while let Some(arg) = rest.next() {
                match arg.as_str() {
                    "--quick" => options.quick = true,
                    "--no-run" => options.no_run = true,
                    "--" => options.criterion_args.extend(rest.by_ref().cloned()),
                    other => return Err(format!("`bench` does not know `{other}`")),
                }
            }
            Ok(Task::Bench(options))
        }
        other => Err(format!("unknown command `{other}`")),
    }
}

/// The workspace root: xtask lives in `<root>/xtask`, wherever it is run from.
fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = match parse(&args) {
        Ok(task) => task,
        Err(message) => {
            eprintln!("xtask: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let root = project_root();
    let result = match task {
        Task::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Task::Ci => ci::run(&root),
        Task::Loom => loom::run(&root),
        Task::Miri => miri::run(&root),
        Task::Conformance { adapter } => conformance::run(&root, adapter.as_deref()),
        Task::Bench(options) => bench::run(&root, &options).map(drop),
        Task::Compare => compare::run(&root),
        Task::Profile => profile::run(&root),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            // Exit codes outside 1..=255 cannot be passed on as they are.
            ExitCode::from(
                u8::try_from(err.exit_code)
                    .ok()
                    .filter(|&c| c != 0)
                    .unwrap_or(1),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(line: &str) -> Result<Task, String> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse(&args)
    }

    #[test]
    fn parses_every_command() {
        assert_eq!(parse_words(""), Ok(Task::Help));
        assert_eq!(parse_words("ci"), Ok(Task::Ci));
        assert_eq!(parse_words("loom"), Ok(Task::Loom));
        assert_eq!(parse_words("miri"), Ok(Task::Miri));
        assert_eq!(parse_words("compare"), Ok(Task::Compare));
        assert_eq!(parse_words("profile"), Ok(Task::Profile));
        assert_eq!(
            parse_words("conformance"),
            Ok(Task::Conformance { adapter: None })
        );
        assert_eq!(
            parse_words("conformance --adapter tokio"),
            Ok(Task::Conformance {
                adapter: Some("tokio".to_owned())
            })
        );
        assert_eq!(
            parse_words("conformance --adapter=smol"),
            Ok(Task::Conformance {
                adapter: Some("smol".to_owned())
            })
        );
        assert_eq!(
            parse_words("bench --quick -- acquire --sample-size 10"),
            Ok(Task::Bench(bench::Options {
                quick: true,
                no_run: false,
                criterion_args: vec![
                    "acquire".to_owned(),
                    "--sample-size".to_owned(),
                    "10".to_owned()
                ],
            }))
        );
        assert_eq!(
            parse_words("bench --no-run"),
            Ok(Task::Bench(bench::Options {
                no_run: true,
                ..bench::Options::default()
            }))
        );
    }

    #[test]
    fn rejects_unknown_input() {
        assert!(
            parse_words("deploy")
                .unwrap_err()
                .contains("unknown command")
        );
        assert!(
            parse_words("ci --fast")
                .unwrap_err()
                .contains("takes no arguments")
        );
        assert!(parse_words("conformance --adapter").is_err());
        assert!(parse_words("bench --slow").is_err());
    }

    #[test]
    fn root_is_the_workspace() {
        assert!(project_root().join("xtask").join("Cargo.toml").is_file());
    }
}
