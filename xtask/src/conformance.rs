//! `cargo xtask conformance [--adapter NAME] [--docs]`: the behaviour suite on every adapter,
//! and the peer guarantees, from `admit-conformance`'s `matrix` test.
//!
//! The test binary lists one test per adapter and `peers`, and runs once for each, as its own
//! process with `ADMIT_CONFORMANCE_ADAPTER` naming it; results are read from the harness's
//! `test NAME ... ok | FAILED | ignored` lines. A failed case on an adapter fails the command.
//! In the peer table (a test `semaphore::guarantee` each) a broken guarantee is a finding
//! about that semaphore; whether our own columns kept every guarantee, the matrix test's own
//! `peers` test (run without the variable) decides.

use std::io::Write as _;
use std::time::Instant;

use xshell::{Cmd, Shell};

use crate::Result;

/// The variable the `matrix` test reads: an adapter's name, or `peers`.
const SELECT: &str = "ADMIT_CONFORMANCE_ADAPTER";

/// One result: its column (an adapter or a semaphore), its row (a case or a guarantee), and
/// its cell (`✓`, `✗` or `n/a`).
pub type Cell = (String, String, &'static str);

/// Everything a run found.
#[derive(Debug, Default)]
pub struct Results {
    /// admit's cases on every adapter.
    pub adapters: Vec<Cell>,
    /// The guarantees of every semaphore.
    pub peers: Vec<Cell>,
    /// The harness's report of the broken guarantees: what was seen.
    pub seen: String,
    /// What fails the run: failed cases, our semaphores breaking a guarantee, crashes.
    pub failures: Vec<String>,
}

/// Runs the matrix (or the tests whose name starts with `adapter`), prints it and writes its
/// page; fails when the suite does not build, nothing matches, or one of our results fails.
pub fn run(adapter: Option<&str>, docs: bool) -> Result<Results> {
    let sh = crate::shell()?;
    matrix(&sh).arg("--no-run").run()?;
    let listed = matrix(&sh).args(["--quiet", "--", "--list"]).read()?;
    let tests = listed.lines().filter_map(|l| l.strip_suffix(": test"));
    let chosen = |test: &&str| adapter.is_none_or(|a| test.starts_with(a));
    let selections: Vec<&str> = tests.filter(chosen).collect();
    if selections.is_empty() {
        return Err(format!("nothing matches {adapter:?}; the matrix lists:\n{listed}").into());
    }
    let mut results = Results::default();
    for (index, &selection) in selections.iter().enumerate() {
        print!("  [{}/{}] {selection:<10} ", index + 1, selections.len());
        let _ = std::io::stdout().flush();
        let started = Instant::now();
        let (cells, report) = run_test(&sh, Some(selection), &mut results.failures)?;
        let count = |cell| cells.iter().filter(|(_, c)| *c == cell).count();
        let (ok, failed, ignored) = (count("✓"), count("✗"), count("n/a"));
        let seconds = started.elapsed().as_secs_f64();
        println!("{ok} ok, {failed} failed, {ignored} ignored in {seconds:.1} s");
        if selection != "peers" {
            for (case, cell) in cells {
                results.adapters.push((selection.to_owned(), case, cell));
            }
            if failed > 0 {
                let failure = format!("{selection}: {failed} case(s) failed:\n{report}");
                results.failures.push(failure);
            }
            continue;
        }
        for (name, cell) in cells {
            let (peer, guarantee) = name.split_once("::").unwrap_or((selection, &name));
            let cell = (peer.to_owned(), guarantee.to_owned(), cell);
            results.peers.push(cell);
        }
        results.seen = report;
        // The matrix test's own check that our columns kept every guarantee.
        let (ours, report) = run_test(&sh, None, &mut results.failures)?;
        if !ours.iter().any(|(_, cell)| *cell == "✓") {
            let failure = format!("our semaphores broke a guarantee:\n{report}");
            results.failures.push(failure);
        }
    }
    print!("\n{}", render(&results, false));
    let mut paths = vec![crate::target_dir().join("admit-conformance/conformance.md")];
    paths.extend(docs.then(|| crate::project_root().join("docs/conformance.md")));
    for path in paths {
        sh.write_file(&path, render(&results, true))?;
        println!("wrote {}", path.display());
    }
    if results.failures.is_empty() {
        Ok(results)
    } else {
        let failures = results.failures.join("\n");
        Err(format!("admit failed the conformance suite:\n{failures}").into())
    }
}

/// `cargo test` of the matrix test (release: the full soak), without the variable set.
fn matrix(sh: &Shell) -> Cmd<'_> {
    let args = "test -p admit-conformance --release --test matrix".split(' ');
    sh.cmd("cargo").args(args).env_remove(SELECT)
}

/// Runs the tests `select` names, or, when `None`, the matrix test's own `peers` test; returns
/// each test's cell and the harness's failure report. A crash (no `test result:` line, or a
/// failed exit without a failed test) is added to `failures`.
fn run_test(
    sh: &Shell,
    select: Option<&str>,
    failures: &mut Vec<String>,
) -> Result<(Vec<(String, &'static str)>, String)> {
    let test = matrix(sh).args(["--quiet", "--", "--color", "never"]);
    let test = match select {
        Some(select) => test.env(SELECT, select),
        None => test.args(["--exact", "peers"]),
    };
    let output = test.ignore_status().quiet().output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let outcomes = parse_harness(&stdout);
    let failed = outcomes.iter().any(|(_, cell)| *cell == "✗");
    if !stdout.contains("\ntest result: ") || !(output.status.success() || failed) {
        let (status, stderr) = (output.status, String::from_utf8_lossy(&output.stderr));
        let what = select.unwrap_or("the matrix's peers test");
        failures.push(format!("{what} crashed ({status}):\n{stdout}{stderr}"));
    }
    Ok((outcomes, failure_report(&stdout)))
}

/// What the failed tests printed: libtest's first `failures:` section (the second lists names).
fn failure_report(stdout: &str) -> String {
    stdout
        .split("\nfailures:\n")
        .nth(1)
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// The results in a test harness's output, as cells, in the order printed.
fn parse_harness(stdout: &str) -> Vec<(String, &'static str)> {
    let results = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("test ")?.rsplit_once(" ... "));
    let cells = results.filter_map(|(name, result)| {
        let cell = match result.trim() {
            "ok" => "✓",
            "FAILED" => "✗",
            ignored if ignored.starts_with("ignored") => "n/a",
            _ => return None,
        };
        Some((name.trim().to_owned(), cell))
    });
    cells.collect()
}

/// Names in the order they first appear, each once.
pub fn names<'a>(names: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut unique: Vec<&str> = names.map(String::as_str).collect();
    let mut seen = std::collections::HashSet::new();
    unique.retain(|name| seen.insert(*name));
    unique
}

/// A table of `cells`: a column and a row per name, in the order they first appear; `?`
/// where a column has no result.
fn grid(corner: &str, cells: &[Cell], markdown: bool) -> String {
    let columns = names(cells.iter().map(|(column, ..)| column));
    let mut header = vec![corner];
    header.extend(&columns);
    let mut rows = Vec::new();
    for row in names(cells.iter().map(|(_, row, _)| row)) {
        let mut line = vec![row];
        for column in &columns {
            let found = cells.iter().find(|(c, r, _)| c == column && r == row);
            line.push(found.map_or("?", |(.., cell)| *cell));
        }
        rows.push(line);
    }
    crate::table(&header, &rows, markdown)
}

/// The adapter × case matrix and the peer table, as Markdown or as aligned text.
fn render(results: &Results, markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        out += "# Conformance\n\n\
             Written by `cargo xtask conformance --docs` (release build, full soak); do not edit by\n\
             hand. Each adapter runs in its own process (`ADMIT_CONFORMANCE_ADAPTER=NAME cargo test\n\
             -p admit-conformance --release --test matrix`), and so do the peer semaphores\n\
             (`ADMIT_CONFORMANCE_ADAPTER=peers`). What each case and guarantee checks, and how each\n\
             peer is driven, is documented in the `admit-conformance` crate. `admit-fifo` and the\n\
             fleet semaphore must keep every guarantee; `admit-throughput` lets a running task take\n\
             free permits ahead of queued waiters, so it breaks the overtaking guarantees by design.\n\n\
             ## admit on every adapter\n\n";
    }
    out += "adapter × case: ✓ passed, ✗ failed, ? no result\n\n";
    out += &grid("case", &results.adapters, markdown);
    if !results.failures.is_empty() {
        let failures = results.failures.join("\n");
        out += &format!("\nFailures:\n\n```text\n{failures}\n```\n");
    }
    if results.peers.is_empty() {
        return out;
    }
    out += if markdown {
        "\n## The guarantees the peer semaphores keep\n\n"
    } else {
        "\n"
    };
    out += "semaphore × guarantee: ✓ kept, ✗ broken in this run, n/a no such operation;\n\
            another semaphore breaking a guarantee is a finding about it, not a failure of admit\n\n";
    out += &grid("guarantee", &results.peers, markdown);
    if markdown && !results.seen.is_empty() {
        let seen = &results.seen;
        out += &format!("\nWhat was seen where a guarantee was broken:\n\n```text\n{seen}\n```\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_harness_and_renders_both_tables() {
        let harness = "\
running 3 tests
test tokio::fifo_order                    ... ok
test async-lock::fifo_order               ... FAILED
test async-lock::close_wakes_all          ... ignored (no close)

failures:

---- async-lock::fifo_order ----
the grants were [0, 2]


failures:
    async-lock::fifo_order

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out
";
        let cells = parse_harness(harness);
        let cells: Vec<String> = cells.iter().map(|(n, c)| format!("{n} {c}")).collect();
        let expected =
            "tokio::fifo_order ✓, async-lock::fifo_order ✗, async-lock::close_wakes_all n/a";
        assert_eq!(cells.join(", "), expected);
        let seen = "---- async-lock::fifo_order ----\nthe grants were [0, 2]";
        assert_eq!(failure_report(harness), seen);

        // Cells written `column row cell`, comma-separated.
        let cells = |text: &'static str| -> Vec<Cell> {
            let cell = |cell: &'static str| cell.split(' ').collect::<Vec<_>>();
            let cells = text.split(", ").map(cell);
            cells.map(|c| (c[0].into(), c[1].into(), c[2])).collect()
        };
        let results = Results {
            adapters: cells("tokio-ct soak ✓, tokio-ct cancel ✓, smol-1 soak ✗"),
            peers: cells("admit-fifo fifo_order ✓, async-lock fifo_order ✗, async-lock close n/a"),
            seen: seen.to_owned(),
            failures: vec!["smol-1: 1 case(s) failed:\nhung".to_owned()],
        };
        let text = render(&results, false);
        let adapters = "  case    tokio-ct  smol-1\n  soak    ✓         ✗\n  cancel  ✓         ?\n";
        let failures = "\nFailures:\n\n```text\nsmol-1: 1 case(s) failed:\nhung\n```\n";
        let peers = "  guarantee   admit-fifo  async-lock\n  fifo_order  ✓           ✗\n  close       ?           n/a\n";
        for table in [adapters, failures, peers] {
            assert!(text.contains(table), "{table}\nnot in\n{text}");
        }
        let markdown = render(&results, true);
        let peers =
            "| guarantee | admit-fifo | async-lock |\n|---|---|---|\n| fifo_order | ✓ | ✗ |\n";
        let seen =
            "broken:\n\n```text\n---- async-lock::fifo_order ----\nthe grants were [0, 2]\n```";
        for part in [peers, seen] {
            assert!(markdown.contains(part), "{part}\nnot in\n{markdown}");
        }
        assert!(!markdown.to_lowercase().contains("issue"));
    }
}
