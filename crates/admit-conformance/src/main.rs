//! `admit-conformance`: runs the behaviour suite on every built-in adapter (and the peer
//! guarantees on the other semaphores) and prints the matrix.
//!
//! ```text
//! admit-conformance [--adapter NAME]... [--peers | --no-peers] [--quick]
//!                   [--json PATH] [--markdown PATH] [--list]
//! ```
//!
//! Each adapter runs in a child process of this binary (`--worker NAME`), with the
//! environment its runtime reads once per process (`SMOL_THREADS`, `ASYNC_STD_THREAD_COUNT`):
//! that is how smol on 1 thread and on 2 threads appear in one matrix, and a crash in one
//! adapter still leaves the others' results. The exit status is non-zero iff one of admit's
//! own cases fails (or cannot run); peer findings never fail the run.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use admit_conformance::adapters::{Adapter, TokioMultiThread};
use admit_conformance::peers::{self, GUARANTEE_NAMES, PEER_NAMES, Verdict};
use admit_conformance::report::{Matrix, json_string, table};
use admit_conformance::{CASES, CaseReport, Failure, Options};

const USAGE: &str = "\
usage: admit-conformance [--adapter NAME]... [--peers | --no-peers] [--quick]
                         [--json PATH] [--markdown PATH] [--list]

  --adapter NAME   run only this adapter (a prefix selects several: `tokio`, `smol`);
                   adapters: tokio-ct, tokio-mt, async-std, smol-1, smol-2
  --peers          also check the peer semaphores (the default without --adapter)
  --no-peers       do not check the peer semaphores
  --quick          a shorter soak (for debug builds)
  --json PATH      write the results as JSON
  --markdown PATH  write the results as a Markdown report (docs/conformance.md)
  --list           print the adapters, cases and peer guarantees, and exit

Exits with 1 if any of admit's cases fails on any adapter; peer findings do not count.";

/// The command line.
#[derive(Debug, Default)]
struct Args {
    adapters: Vec<Adapter>,
    peers: Option<bool>,
    quick: bool,
    json: Option<String>,
    markdown: Option<String>,
    list: bool,
    worker: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args::default();
    let value = |args: &mut dyn Iterator<Item = String>, flag: &str| {
        args.next().ok_or_else(|| format!("{flag} needs a value"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--adapter" => {
                let name = value(&mut args, "--adapter")?;
                let matching: Vec<Adapter> = Adapter::ALL
                    .into_iter()
                    .filter(|adapter| adapter.name().starts_with(name.as_str()))
                    .collect();
                if matching.is_empty() {
                    return Err(format!("no adapter named {name:?}"));
                }
                for adapter in matching {
                    if !parsed.adapters.contains(&adapter) {
                        parsed.adapters.push(adapter);
                    }
                }
            }
            "--peers" => parsed.peers = Some(true),
            "--no-peers" => parsed.peers = Some(false),
            "--quick" => parsed.quick = true,
            "--json" => parsed.json = Some(value(&mut args, "--json")?),
            "--markdown" => parsed.markdown = Some(value(&mut args, "--markdown")?),
            "--list" => parsed.list = true,
            "--worker" => parsed.worker = Some(value(&mut args, "--worker")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(error) => {
            if !error.is_empty() {
                eprintln!("admit-conformance: {error}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let options = if args.quick {
        Options::quick()
    } else {
        Options::default()
    };
    if let Some(worker) = &args.worker {
        return run_worker(worker, &options);
    }
    if args.list {
        println!("adapters: {}", names(Adapter::ALL.map(Adapter::name)));
        println!("cases: {}", names(CASES.iter().copied()));
        println!("peers: {}", names(PEER_NAMES));
        println!("peer guarantees: {}", names(GUARANTEE_NAMES));
        return ExitCode::SUCCESS;
    }
    run_parent(&args)
}

fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------------
// The worker: runs one adapter (or the peers) in this process and prints one line per result.

/// Tab-separated fields cannot hold tabs or newlines: escape them.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn run_worker(name: &str, options: &Options) -> ExitCode {
    let stdout = std::io::stdout();
    let emit = |line: String| {
        let mut out = stdout.lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    if name == "peers" {
        peers::run_all(&TokioMultiThread::default(), |peer, verdicts| {
            for (guarantee, verdict) in verdicts {
                let (status, message) = match verdict {
                    Verdict::Kept => ("kept", String::new()),
                    Verdict::Broken(message) => ("broken", escape(message)),
                    Verdict::NotApplicable(why) => ("na", escape(why)),
                };
                emit(format!("peer\t{peer}\t{guarantee}\t{status}\t{message}"));
            }
        });
        return ExitCode::SUCCESS;
    }
    let Some(adapter) = Adapter::named(name) else {
        eprintln!("admit-conformance: no adapter named {name:?}");
        return ExitCode::from(2);
    };
    adapter.run(options, |report| {
        let (status, message) = match &report.outcome {
            Ok(()) => ("ok", String::new()),
            Err(failure) => ("fail", escape(failure.message())),
        };
        emit(format!(
            "case\t{}\t{}\t{status}\t{}\t{message}",
            report.flavor,
            report.case,
            report.elapsed.as_micros()
        ));
    });
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// The parent: one worker process per adapter, then the tables.

/// What a worker process printed, line by line, as it printed it.
fn run_child(
    worker: &str,
    environment: &[(&str, &str)],
    quick: bool,
    mut on_line: impl FnMut(Vec<String>),
) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let mut command = Command::new(exe);
    command.args(["--worker", worker]);
    if quick {
        command.arg("--quick");
    }
    command
        .envs(environment.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start the {worker} worker: {e}"))?;
    // Panic messages of failing cases go to the worker's stderr: kept, and shown only if the
    // worker itself fails.
    let stderr = child.stderr.take().expect("piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut text);
        text
    });
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        on_line(line.split('\t').map(unescape).collect());
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for the {worker} worker: {e}"))?;
    let stderr = stderr_reader.join().unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the {worker} worker exited with {status}; its stderr:\n{}",
            stderr.trim_end()
        ))
    }
}

fn run_parent(args: &Args) -> ExitCode {
    let started = Instant::now();
    let adapters = if args.adapters.is_empty() {
        Adapter::ALL.to_vec()
    } else {
        args.adapters.clone()
    };
    let with_peers = args.peers.unwrap_or(args.adapters.is_empty());
    let mut matrix = Matrix::new(
        adapters.iter().map(|a| a.name().to_owned()).collect(),
        CASES.iter().map(|&case| case.to_owned()).collect(),
    );
    let mut worker_errors = Vec::new();
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    println!(
        "admit-conformance: {} cases × {} adapters{} ({build}{})",
        CASES.len(),
        adapters.len(),
        if with_peers { " + peer semaphores" } else { "" },
        if args.quick { ", quick soak" } else { "" }
    );
    for adapter in &adapters {
        let adapter_started = Instant::now();
        print!("  {:<10} ", adapter.name());
        let _ = std::io::stdout().flush();
        let result = run_child(
            adapter.name(),
            &adapter.environment(),
            args.quick,
            |fields| {
                if let [kind, flavor, case, status, micros, message] = fields.as_slice() {
                    if kind != "case" {
                        return;
                    }
                    let passed = status == "ok";
                    print!("{}", if passed { "✓" } else { "✗" });
                    let _ = std::io::stdout().flush();
                    matrix.push(CaseReport {
                        flavor: flavor.clone(),
                        case: case.clone(),
                        outcome: if passed {
                            Ok(())
                        } else {
                            Err(Failure::new(message.clone()))
                        },
                        elapsed: Duration::from_micros(micros.parse().unwrap_or(0)),
                    });
                }
            },
        );
        println!(
            "  {:.1} s, {}",
            adapter_started.elapsed().as_secs_f64(),
            adapter.threads()
        );
        if let Err(error) = result {
            worker_errors.push(error);
        }
    }

    let mut peer_table: Vec<(String, String, Verdict)> = Vec::new();
    let mut peer_error = None;
    if with_peers {
        let peers_started = Instant::now();
        print!("  {:<10} ", "peers");
        let _ = std::io::stdout().flush();
        let result = run_child("peers", &[], args.quick, |fields| {
            if let [kind, peer, guarantee, status, message] = fields.as_slice() {
                if kind != "peer" {
                    return;
                }
                let verdict = match status.as_str() {
                    "kept" => Verdict::Kept,
                    "broken" => Verdict::Broken(message.clone()),
                    _ => Verdict::NotApplicable(if message.contains("close") {
                        "no close"
                    } else {
                        "no weighted acquire"
                    }),
                };
                // One character per verdict: `·` stands for n/a here.
                let symbol = match verdict {
                    Verdict::NotApplicable(_) => "·",
                    _ => verdict.symbol(),
                };
                print!("{symbol}");
                let _ = std::io::stdout().flush();
                peer_table.push((peer.clone(), guarantee.clone(), verdict));
            }
        });
        println!(
            "  {:.1} s, driven by tokio-mt (2 workers)",
            peers_started.elapsed().as_secs_f64()
        );
        if let Err(error) = result {
            // A peer crashing the worker is a finding too.
            peer_error = Some(error);
        }
    }

    println!("\nadapter × behaviour (✓ passed, ✗ failed, ? no result)\n");
    print!("{}", matrix.render(false));
    let failures = matrix.failures();
    if !failures.is_empty() {
        println!("\nfailures:");
        for failure in &failures {
            println!("  {failure}");
        }
    }
    for error in &worker_errors {
        println!("\n{error}");
    }
    if with_peers {
        println!(
            "\npeer semaphores (✓ kept, ✗ broken, n/a no such operation); findings, not failures\n"
        );
        print!("{}", peer_rendering(&peer_table, false));
        for (peer, guarantee, verdict) in &peer_table {
            if let Verdict::Broken(message) = verdict {
                println!("  {peer}/{guarantee}: {message}");
            }
        }
        if let Some(error) = &peer_error {
            println!("\n{error}");
        }
    }

    let passed = failures.is_empty() && worker_errors.is_empty();
    let mut write_failed = false;
    if let Some(path) = &args.json {
        let json = json_report(&adapters, &matrix, &peer_table);
        write_failed |= !write(path, &json);
    }
    if let Some(path) = &args.markdown {
        let markdown = markdown_report(&adapters, &matrix, with_peers, &peer_table, args.quick);
        write_failed |= !write(path, &markdown);
    }
    println!(
        "\n{} in {:.1} s",
        if passed {
            "all of admit's cases passed"
        } else {
            "FAILED: some of admit's cases failed"
        },
        started.elapsed().as_secs_f64()
    );
    if passed && !write_failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn write(path: &str, contents: &str) -> bool {
    match std::fs::write(path, contents) {
        Ok(()) => {
            println!("wrote {path}");
            true
        }
        Err(error) => {
            eprintln!("admit-conformance: cannot write {path}: {error}");
            false
        }
    }
}

fn peer_rendering(peer_table: &[(String, String, Verdict)], markdown: bool) -> String {
    let mut header = vec![String::from("guarantee")];
    header.extend(PEER_NAMES.iter().map(|&name| name.to_owned()));
    let rows: Vec<Vec<String>> = GUARANTEE_NAMES
        .iter()
        .map(|&guarantee| {
            let mut row = vec![guarantee.to_owned()];
            row.extend(PEER_NAMES.iter().map(|&peer| {
                peer_table
                    .iter()
                    .find(|(p, g, _)| p == peer && g == guarantee)
                    .map_or("?", |(_, _, verdict)| verdict.symbol())
                    .to_owned()
            }));
            row
        })
        .collect();
    table(&header, &rows, markdown)
}

fn json_report(
    adapters: &[Adapter],
    matrix: &Matrix,
    peer_table: &[(String, String, Verdict)],
) -> String {
    let adapters: Vec<String> = adapters
        .iter()
        .map(|a| {
            format!(
                "{{\"name\": {}, \"threads\": {}}}",
                json_string(a.name()),
                json_string(&a.threads())
            )
        })
        .collect();
    let peers: Vec<String> = peer_table
        .iter()
        .map(|(peer, guarantee, verdict)| {
            let (status, message) = match verdict {
                Verdict::Kept => ("kept", String::from("null")),
                Verdict::Broken(message) => ("broken", json_string(message)),
                Verdict::NotApplicable(why) => ("n/a", json_string(why)),
            };
            format!(
                "{{\"peer\": {}, \"guarantee\": {}, \"verdict\": \"{status}\", \"detail\": {message}}}",
                json_string(peer),
                json_string(guarantee)
            )
        })
        .collect();
    format!(
        "{{\n\"passed\": {},\n\"adapters\": [{}],\n\"cases\": {},\n\"peers\": [\n  {}\n]\n}}\n",
        matrix.all_passed(),
        adapters.join(", "),
        matrix.to_json(),
        peers.join(",\n  ")
    )
}

fn markdown_report(
    adapters: &[Adapter],
    matrix: &Matrix,
    with_peers: bool,
    peer_table: &[(String, String, Verdict)],
    quick: bool,
) -> String {
    let mut out = String::from(
        "# Conformance\n\n\
         Generated by `cargo run -p admit-conformance --release -- --markdown docs/conformance.md`\n\
         (the `admit-conformance` binary; `cargo xtask conformance` runs the same matrix without\n\
         writing this file). Do not edit by hand: rerun the command.\n\n",
    );
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    out.push_str(&format!(
        "Machine: {} {}, {cpus} CPUs. Build: {}{}.\n\n",
        std::env::consts::OS,
        std::env::consts::ARCH,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        if quick { ", quick soak" } else { "" }
    ));
    out.push_str(
        "## admit on every adapter\n\n\
         The behaviour suite of `admit-conformance`, written once, run with real tasks on each\n\
         runtime (✓ passed, ✗ failed).\n\n",
    );
    out.push_str(&matrix.render(true));
    out.push_str("\nThreads:\n\n");
    for adapter in adapters {
        out.push_str(&format!("- `{}`: {}\n", adapter.name(), adapter.threads()));
    }
    let failures = matrix.failures();
    if !failures.is_empty() {
        out.push_str("\nFailures:\n\n");
        for failure in failures {
            out.push_str(&format!("- {failure}\n"));
        }
    }
    if with_peers {
        out.push_str(
            "\n## Which guarantees the peer semaphores keep\n\n\
             The single-permit and weighted cases, run against each semaphore through the same\n\
             small trait (`admit_conformance::peers::PeerSemaphore`), driven by tokio's\n\
             multi-thread runtime with 2 workers. ✓ kept, ✗ broken in this run, n/a: the\n\
             semaphore has no such operation (no weighted acquire, or no close).\n\
             `futures-intrusive` is created in its fair mode. These are findings about the\n\
             peers, not failures of admit.\n\n",
        );
        out.push_str(&peer_rendering(peer_table, true));
        out.push_str(
            "\nWhat each guarantee means:\n\n\
             - `fifo_order`: single-permit waiters, queued one after another, are granted in\n  \
               that order as permits are added one at a time.\n\
             - `no_overtaking_by_try_acquire`: a permit released while a task is queued goes to\n  \
               that task; a `try_acquire` right after the release fails.\n\
             - `release_wakes_every_servable_waiter`: with 4 permits held and 4 single-permit\n  \
               waiters queued, dropping the 4 permits (nothing polled in between) wakes all 4.\n\
             - `cancel_returns_permits`: a waiter handed the permit and dropped before it is\n  \
               polled again passes the permit on to the next waiter.\n\
             - `weighted_fifo_order`: waiters of mixed weights are granted in queue order as\n  \
               exactly the head's weight is added each time.\n\
             - `weighted_head_blocks_smaller`: with an `acquire_many(3)` queued and 1 permit free,\n  \
               neither `try_acquire(1)` nor a later `acquire(1)` takes that permit.\n\
             - `cancel_returns_partial_permits`: permits assigned to a queued `acquire_many(3)`\n  \
               that is then dropped go to the waiter behind it.\n\
             - `close_wakes_all`: closing wakes all 20 queued tasks with an error.\n",
        );
        let broken: Vec<_> = peer_table
            .iter()
            .filter_map(|(peer, guarantee, verdict)| match verdict {
                Verdict::Broken(message) => {
                    Some(format!("- `{peer}` / `{guarantee}`: {message}\n"))
                }
                _ => None,
            })
            .collect();
        if !broken.is_empty() {
            out.push_str("\nWhat was seen where a guarantee was broken:\n\n");
            for line in broken {
                out.push_str(&line);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips() {
        for text in ["plain", "a\tb\nc\\d", "\\n literally", ""] {
            assert_eq!(unescape(&escape(text)), text);
            assert!(!escape(text).contains(['\t', '\n']));
        }
    }

    #[test]
    fn adapter_names_select_by_prefix() {
        let args = parse(["--adapter", "smol"].map(String::from).into_iter()).unwrap();
        assert_eq!(args.adapters, [Adapter::SMOL_1, Adapter::SMOL_2]);
        let args = parse(["--adapter", "tokio-mt"].map(String::from).into_iter()).unwrap();
        assert_eq!(args.adapters, [Adapter::TOKIO_MT]);
        assert!(parse(["--adapter", "glommio"].map(String::from).into_iter()).is_err());
        assert!(parse(["--json"].map(String::from).into_iter()).is_err());
    }
}
