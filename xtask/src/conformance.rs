//! `cargo xtask conformance [--adapter NAME] [--docs]`: the behaviour suite on every
//! adapter, and the peer guarantees, from `admit-conformance`'s `matrix` test.
//!
//! The test binary runs once per adapter, as its own process with `ADMIT_CONFORMANCE_ADAPTER`
//! set (the binary sets the adapter's thread-count variables itself), and once with `peers`.
//! Results are read from cargo's test-harness lines (`test NAME ... ok | FAILED |
//! ignored (why)`, failure messages under `---- NAME ----`). Only the project's own results
//! (admit's, and the fleet semaphore's peer column) fail the command; a peer breaking a
//! guarantee is a finding. The matrix is written to
//! `target/admit-conformance/conformance.{md,json}`, and to `docs/conformance.md` with
//! `--docs`.

use std::fmt::Write as _;

use serde::Serialize;
use xshell::cmd;

use crate::Result;
use crate::report::table;

/// The variable the `matrix` test reads: an adapter's name, or `peers`.
const SELECT: &str = "ADMIT_CONFORMANCE_ADAPTER";

/// The peer table's columns that are this project's: a broken guarantee there fails the run.
const OURS: [&str; 2] = ["admit", "admit-redis (fleet)"];

/// How one test ended, as the harness printed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed(String),
    Ignored(String),
}

/// Every result of a run.
#[derive(Debug, Default, Serialize)]
pub struct Results {
    /// For each adapter, in run order: case name and outcome.
    pub adapters: Vec<(String, Vec<(String, Outcome)>)>,
    /// For each semaphore, admit first: guarantee and outcome (`Failed`: broken; `Ignored`:
    /// the semaphore has no such operation).
    pub peers: Vec<(String, Vec<(String, Outcome)>)>,
    /// Processes that failed without a harness report (a crash, a build error).
    pub errors: Vec<String>,
}

impl Results {
    /// The project's own failures: failed cases, guarantees broken by admit or the fleet
    /// semaphore, crashed processes.
    pub fn failures(&self) -> Vec<String> {
        let cases = self.adapters.iter().flat_map(|(adapter, cases)| {
            cases
                .iter()
                .filter_map(move |(case, outcome)| match outcome {
                    Outcome::Failed(why) => Some(format!("{adapter}/{case}: {why}")),
                    _ => None,
                })
        });
        let admit = OURS.into_iter().flat_map(|ours| {
            self.broken(ours)
                .into_iter()
                .map(move |(g, why)| format!("{ours}/{g}: {why}"))
        });
        cases
            .chain(admit)
            .chain(self.errors.iter().cloned())
            .collect()
    }

    /// The guarantees `peer` broke, with what was seen.
    pub fn broken(&self, peer: &str) -> Vec<(&str, &str)> {
        let guarantees = self.peers.iter().find(|(name, _)| name == peer);
        guarantees.map_or_else(Vec::new, |(_, guarantees)| {
            guarantees
                .iter()
                .filter_map(|(g, outcome)| match outcome {
                    Outcome::Failed(why) => Some((g.as_str(), why.as_str())),
                    _ => None,
                })
                .collect()
        })
    }
}

/// Runs the matrix (every adapter and then the peers, or those whose name starts with
/// `adapter`: `tokio`, `smol-2`, `peers`), prints it and writes the reports.
///
/// # Errors
///
/// The suite does not build, no adapter matches, or one of admit's results is a failure.
pub fn run(adapter: Option<&str>, docs: bool) -> Result<Results> {
    let sh = crate::shell()?;
    let test = [
        "test",
        "-p",
        "admit-conformance",
        "--release",
        "--test",
        "matrix",
    ];
    cmd!(sh, "cargo {test...} --no-run").run()?;
    let listed = cmd!(sh, "cargo {test...} --quiet -- --list")
        .env_remove(SELECT)
        .read()?;
    // The matrix lists one test per adapter, then `peers`.
    let selections: Vec<&str> = listed
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .filter(|&name| adapter.is_none_or(|prefix| name.starts_with(prefix)))
        .collect();
    if selections.is_empty() {
        return Err(format!("nothing matches {adapter:?}; the matrix lists:\n{listed}").into());
    }
    let mut results = Results::default();
    let progress = indicatif::ProgressBar::new_spinner();
    progress.enable_steady_tick(std::time::Duration::from_millis(200));
    for (index, &selection) in selections.iter().enumerate() {
        progress.set_message(format!(
            "conformance [{}/{}] {selection}",
            index + 1,
            selections.len()
        ));
        let started = std::time::Instant::now();
        let output = cmd!(sh, "cargo {test...} --quiet -- --color never")
            .env(SELECT, selection)
            .ignore_status()
            .quiet()
            .output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let outcomes = parse_harness(&stdout);
        let line = summary_line(&outcomes, started.elapsed());
        progress.suspend(|| println!("  {selection:<10} {line}"));
        if crashed(&stdout, output.status.success(), &outcomes) {
            results.errors.push(format!(
                "{selection}: exited with {} after {} results:\n{stdout}{}",
                output.status,
                outcomes.len(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        if selection == "peers" {
            for (name, outcome) in outcomes {
                let (peer, guarantee) = name.split_once("::").unwrap_or(("?", &name));
                if results.peers.last().is_none_or(|(last, _)| last != peer) {
                    results.peers.push((peer.to_owned(), Vec::new()));
                }
                let (_, guarantees) = results.peers.last_mut().expect("pushed above");
                guarantees.push((guarantee.to_owned(), outcome));
            }
        } else {
            results.adapters.push((selection.to_owned(), outcomes));
        }
    }
    progress.finish_and_clear();

    print!("\n{}", render(&results, false));
    let dir = crate::target_dir().join("admit-conformance");
    sh.create_dir(&dir)?;
    sh.write_file(dir.join("conformance.md"), render(&results, true))?;
    sh.write_file(
        dir.join("conformance.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    println!("wrote {}/conformance.{{md,json}}", dir.display());
    if docs {
        sh.write_file("docs/conformance.md", render(&results, true))?;
        println!("wrote docs/conformance.md");
    }
    let failures = results.failures();
    if failures.is_empty() {
        Ok(results)
    } else {
        Err(format!(
            "admit failed the conformance suite:\n  {}",
            failures.join("\n  ")
        )
        .into())
    }
}

/// Whether a test process ended without its harness's closing line, or failed without a
/// failing test: then the tests it did not get to would show as `?` without failing the run.
fn crashed(stdout: &str, success: bool, outcomes: &[(String, Outcome)]) -> bool {
    let finished = stdout.lines().any(|l| l.starts_with("test result: "));
    let failed = outcomes
        .iter()
        .any(|(_, o)| matches!(o, Outcome::Failed(_)));
    !finished || (!success && !failed)
}

/// The results in cargo's test-harness output, in the order printed.
fn parse_harness(stdout: &str) -> Vec<(String, Outcome)> {
    let mut outcomes: Vec<(String, Outcome)> = stdout
        .lines()
        .filter_map(|line| {
            let (name, result) = line.strip_prefix("test ")?.rsplit_once(" ... ")?;
            let outcome = match result.trim() {
                "ok" => Outcome::Ok,
                "FAILED" => Outcome::Failed(String::new()),
                ignored => Outcome::Ignored(
                    ignored
                        .strip_prefix("ignored")?
                        .trim()
                        .trim_start_matches('(')
                        .trim_end_matches(')')
                        .to_owned(),
                ),
            };
            Some((name.trim().to_owned(), outcome))
        })
        .collect();
    // Failure messages: the lines under `---- NAME ----`, up to the next header or the
    // closing `failures:` list.
    let mut current: Option<String> = None;
    for line in stdout.lines() {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" ----"))
        {
            current = Some(name.trim().to_owned());
        } else if line == "failures:" {
            current = None;
        } else if let Some(name) = &current {
            if let Some((_, Outcome::Failed(message))) =
                outcomes.iter_mut().find(|(n, _)| n == name)
            {
                if !message.is_empty() || !line.trim().is_empty() {
                    message.push_str(line);
                    message.push('\n');
                }
            }
        }
    }
    for (_, outcome) in &mut outcomes {
        if let Outcome::Failed(message) = outcome {
            *message = message.trim_end().to_owned();
        }
    }
    outcomes
}

fn summary_line(outcomes: &[(String, Outcome)], elapsed: std::time::Duration) -> String {
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    format!(
        "{} ok, {} failed, {} ignored in {:.1} s",
        count(|o| *o == Outcome::Ok),
        count(|o| matches!(o, Outcome::Failed(_))),
        count(|o| matches!(o, Outcome::Ignored(_))),
        elapsed.as_secs_f64()
    )
}

/// What each peer guarantee means, for the Markdown report.
const GUARANTEES: &str = "\
- `fifo_order`: single-permit waiters, queued one after another, are granted in that order as
  permits are added one at a time.
- `no_overtaking_by_try_acquire`: a permit released while a task is queued goes to that task; a
  `try_acquire` right after the release fails.
- `release_wakes_every_servable_waiter`: with 4 permits held and 4 single-permit waiters queued,
  dropping the 4 permits (nothing polled in between) wakes all 4 within 2 s (a fleet
  release reaches the waiters through Redis).
- `cancel_returns_permits`: a waiter handed the permit and dropped before it is polled again
  passes the permit on to the next waiter.
- `weighted_fifo_order`: waiters of mixed weights are granted in queue order as exactly the
  head's weight is added each time.
- `weighted_head_blocks_smaller`: with an `acquire_many(3)` queued and 1 permit free, neither
  `try_acquire(1)` nor a later `acquire(1)` takes that permit.
- `cancel_returns_partial_permits`: permits assigned to a queued `acquire_many(3)` that is then
  dropped go to the waiter behind it.
- `close_wakes_all`: closing wakes all 20 queued tasks with an error.
";

const MATRIX_INTRO: &str = "# Conformance

Generated by `cargo xtask conformance --docs` (release build, full soak); do not edit by hand.
Each adapter runs in its own process (`ADMIT_CONFORMANCE_ADAPTER=NAME cargo test -p
admit-conformance --test matrix`; the adapters and their threads are described in
`admit_conformance::adapters`).

## admit on every adapter

The behaviour suite, written once, run with real tasks on each runtime (✓ passed, ✗ failed).

";

const PEERS_INTRO: &str = "
## Which guarantees the peer semaphores keep

The single-permit and weighted cases, run against each semaphore through the same small trait
(`admit_conformance::peers::PeerSemaphore`), driven by tokio's multi-thread runtime with 2
workers. ✓ kept, ✗ broken in this run, n/a: the semaphore has no such operation.
`futures-intrusive` is created in its fair mode. These are findings about the peers, not
failures of admit.

`admit-redis (fleet)` is `admit_redis::FleetSemaphore` on a real `redis-server` (loopback, no
persistence), one fresh semaphore name per check; after each check every permit must be back
in Redis with no ticket left, or the check fails. Its capacity is fixed, so it is opened with
16 spare permits held by the wrapper, and \"adding\" permits releases spare ones through the
fleet's own release path. `close` is local to one handle (other processes are unaffected);
the close check covers that handle's waiters.

";

/// A table of outcomes: one column per named list, one row per test name (in the order
/// they first appear), `✓`, `✗`, `n/a` or `?` (no result).
fn grid(corner: &str, columns: &[(String, Vec<(String, Outcome)>)], markdown: bool) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in columns.iter().flat_map(|(_, outcomes)| outcomes) {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let header: Vec<&str> = std::iter::once(corner)
        .chain(columns.iter().map(|(column, _)| column.as_str()))
        .collect();
    let rows: Vec<Vec<&str>> = names
        .iter()
        .map(|&name| {
            let cells = columns.iter().map(|(_, outcomes)| {
                match outcomes.iter().find(|(n, _)| n == name).map(|(_, o)| o) {
                    Some(Outcome::Ok) => "✓",
                    Some(Outcome::Failed(_)) => "✗",
                    Some(Outcome::Ignored(_)) => "n/a",
                    None => "?",
                }
            });
            std::iter::once(name).chain(cells).collect()
        })
        .collect();
    table(&header, &rows, markdown)
}

/// The adapter × behaviour matrix and the peer table, as aligned text or as Markdown.
fn render(results: &Results, markdown: bool) -> String {
    let bullet = if markdown { "- " } else { "  " };
    let mut out = String::from(if markdown {
        MATRIX_INTRO
    } else {
        "adapter × behaviour (✓ passed, ✗ failed, ? no result)\n\n"
    });
    if !results.adapters.is_empty() {
        out.push_str(&grid("behaviour", &results.adapters, markdown));
    }
    let failures = results.failures();
    if !failures.is_empty() {
        out.push_str("\nFailures:\n\n");
        for failure in failures {
            let _ = writeln!(out, "{bullet}{failure}");
        }
    }
    if results.peers.is_empty() {
        return out;
    }
    out.push_str(if markdown {
        PEERS_INTRO
    } else {
        "\npeer semaphores (✓ kept, ✗ broken, n/a no such operation): findings, not failures\n\n"
    });
    out.push_str(&grid("guarantee", &results.peers, markdown));
    if markdown {
        let _ = write!(out, "\nWhat each guarantee means:\n\n{GUARANTEES}");
        out.push_str("\nWhat was seen where a guarantee was broken:\n\n");
    } else {
        out.push('\n');
    }
    for (peer, _) in &results.peers {
        for (guarantee, seen) in results.broken(peer) {
            let _ = writeln!(
                out,
                "{bullet}{peer} / {guarantee}: {}",
                seen.replace('\n', " ")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a libtest-style harness prints for a run with a failure and an ignored test.
    const HARNESS: &str = "\
running 3 tests
test tokio::fifo_order                    ... ok
test async-lock::fifo_order               ... FAILED
test async-lock::close_wakes_all          ... ignored (no close)

failures:

---- async-lock::fifo_order ----
the grants were [0, 2]
after 1 permit


failures:
    async-lock::fifo_order

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s
";

    #[test]
    fn reads_the_harness_lines_and_failure_messages() {
        let outcomes = parse_harness(HARNESS);
        assert_eq!(
            outcomes,
            [
                ("tokio::fifo_order".to_owned(), Outcome::Ok),
                (
                    "async-lock::fifo_order".to_owned(),
                    Outcome::Failed("the grants were [0, 2]\nafter 1 permit".to_owned())
                ),
                (
                    "async-lock::close_wakes_all".to_owned(),
                    Outcome::Ignored("no close".to_owned())
                ),
            ]
        );
        assert_eq!(
            summary_line(&outcomes, std::time::Duration::ZERO),
            "1 ok, 1 failed, 1 ignored in 0.0 s"
        );
        assert!(parse_harness("running 0 tests\n").is_empty());
        assert!(
            !crashed(HARNESS, false, &outcomes),
            "a failing test explains the exit"
        );
        assert!(
            crashed(HARNESS, false, &outcomes[..1]),
            "failed, but no test did"
        );
        let cut = &HARNESS[..HARNESS.find("failures:").unwrap()];
        assert!(
            crashed(cut, false, &outcomes),
            "no closing line: it crashed"
        );
    }

    #[test]
    fn only_our_columns_fail_the_run_and_peers_are_findings() {
        let mut results = Results::default();
        results
            .adapters
            .push(("smol-1".to_owned(), vec![("soak".to_owned(), Outcome::Ok)]));
        for (name, outcomes) in [
            ("admit", vec![Outcome::Ok]),
            ("async-lock", vec![Outcome::Failed("out of order".into())]),
            ("admit-redis (fleet)", vec![Outcome::Ok]),
        ] {
            let guarantees = outcomes
                .into_iter()
                .map(|o| ("fifo_order".to_owned(), o))
                .collect();
            results.peers.push((name.to_owned(), guarantees));
        }
        assert!(results.failures().is_empty());
        assert_eq!(
            results.broken("async-lock"),
            [("fifo_order", "out of order")]
        );
        let text = render(&results, false);
        assert!(text.contains("soak       ✓"), "{text}");
        assert!(
            text.contains("async-lock / fifo_order: out of order"),
            "{text}"
        );
        let markdown = render(&results, true);
        assert!(
            markdown.contains("| guarantee | admit | async-lock | admit-redis (fleet) |"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| fifo_order | ✓ | ✗ | ✓ |"),
            "{markdown}"
        );

        results.adapters[0]
            .1
            .push(("fifo_order".to_owned(), Outcome::Failed("hung".into())));
        assert_eq!(results.failures(), ["smol-1/fifo_order: hung"]);
        assert!(render(&results, false).contains("fifo_order  ✗"));

        results.peers[2].1[0].1 = Outcome::Failed("left a ticket".into());
        assert_eq!(
            results.failures(),
            [
                "smol-1/fifo_order: hung",
                "admit-redis (fleet)/fifo_order: left a ticket"
            ]
        );
    }
}
