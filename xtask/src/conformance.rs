//! `cargo xtask conformance [--adapter NAME] [--docs]`: the behaviour suite on every adapter,
//! and the peer guarantees, from `admit-conformance`'s `matrix` test.
//!
//! The test binary lists one test per adapter and `peers`. It runs once per adapter, as its
//! own process with `ADMIT_CONFORMANCE_ADAPTER` naming it, and once with `peers`; results are
//! read from the harness's `test NAME ... ok | FAILED | ignored` lines, whatever the tests
//! are called. Every case on an adapter is admit's: one that fails fails the command. In the
//! peer table (a test `semaphore::guarantee` each) a broken guarantee is a finding about that
//! semaphore; which columns are this project's and must keep every guarantee is the matrix
//! test's to say, so its own `peers` test (run without the variable) decides.

use std::io::Write as _;
use std::time::Instant;

use xshell::{Shell, cmd};

use crate::Result;

/// The variable the `matrix` test reads: an adapter's name, or `peers`.
const SELECT: &str = "ADMIT_CONFORMANCE_ADAPTER";

/// The cargo arguments that run the matrix test (release: the full soak).
const MATRIX: [&str; 6] = [
    "test",
    "-p",
    "admit-conformance",
    "--release",
    "--test",
    "matrix",
];

/// One column of a table: its name, and each test's name and cell (`✓`, `✗` or `n/a`) in
/// the order run.
pub type Column = (String, Vec<(String, &'static str)>);

/// Everything a run found.
#[derive(Debug, Default)]
pub struct Results {
    /// One column per adapter: its cases.
    pub adapters: Vec<Column>,
    /// One column per semaphore: its guarantees.
    pub peers: Vec<Column>,
    /// The harness's report of the broken guarantees: what was seen.
    pub seen: String,
    /// What fails the run: failed cases, our semaphores breaking a guarantee, crashes.
    pub failures: Vec<String>,
}

/// Runs the matrix (every adapter and the peers, or those whose name starts with `adapter`),
/// prints it and writes it as Markdown to `target/admit-conformance/conformance.md` (and to
/// `docs/conformance.md` with `docs`).
///
/// # Errors
///
/// The suite does not build, nothing matches `adapter`, or one of our results is a failure.
pub fn run(adapter: Option<&str>, docs: bool) -> Result<Results> {
    let sh = crate::shell()?;
    cmd!(sh, "cargo {MATRIX...} --no-run").run()?;
    let listed = cmd!(sh, "cargo {MATRIX...} --quiet -- --list")
        .env_remove(SELECT)
        .read()?;
    let tests = listed
        .lines()
        .filter_map(|line| line.strip_suffix(": test"));
    let selections: Vec<&str> = tests
        .filter(|t| adapter.is_none_or(|a| t.starts_with(a)))
        .collect();
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
        let peers = selection == "peers";
        let table = if peers {
            &mut results.peers
        } else {
            &mut results.adapters
        };
        for (name, cell) in &cells {
            let split = name.split_once("::").filter(|_| peers);
            let (column, row) = split.unwrap_or((selection, name));
            if table.last().is_none_or(|(last, _)| last != column) {
                table.push((column.to_owned(), Vec::new()));
            }
            table
                .last_mut()
                .expect("pushed")
                .1
                .push((row.to_owned(), cell));
        }
        if peers {
            results.seen = report;
            // The matrix test's own check that our columns kept every guarantee.
            let (ours, report) = run_test(&sh, None, &mut results.failures)?;
            if !ours.iter().any(|(_, cell)| *cell == "✓") {
                let failure = format!("our semaphores broke a guarantee:\n{report}");
                results.failures.push(failure);
            }
        } else if failed > 0 {
            let failure = format!("{selection}: {failed} case(s) failed:\n{report}");
            results.failures.push(failure);
        }
    }
    print!("\n{}", render(&results, false));
    let path = crate::target_dir().join("admit-conformance/conformance.md");
    for path in
        std::iter::once(path).chain(docs.then(|| crate::project_root().join("docs/conformance.md")))
    {
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

/// Runs the matrix test's tests selected by `select`, or, when `None`, its own `peers` test
/// with the variable removed. Returns each test's cell and the harness's failure report (the
/// text between its `failures:` lines); a crash (no closing `test result:` line, or a failed
/// exit without a failed test) is added to `failures`.
fn run_test(
    sh: &Shell,
    select: Option<&str>,
    failures: &mut Vec<String>,
) -> Result<(Vec<(String, &'static str)>, String)> {
    let filter = if select.is_none() {
        ["--exact", "peers"].as_slice()
    } else {
        &[]
    };
    let test = cmd!(sh, "cargo {MATRIX...} --quiet -- --color never {filter...}");
    let test = test
        .env_remove(SELECT)
        .envs(select.map(|select| (SELECT, select)));
    let output = test.ignore_status().quiet().output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let outcomes = parse_harness(&stdout);
    let failed = outcomes.iter().any(|(_, cell)| *cell == "✗");
    if !stdout.contains("\ntest result: ") || !(output.status.success() || failed) {
        let (status, stderr) = (output.status, String::from_utf8_lossy(&output.stderr));
        let what = select.unwrap_or("the matrix's peers test");
        failures.push(format!("{what} crashed ({status}):\n{stdout}{stderr}"));
    }
    let report = stdout
        .split("\nfailures:\n")
        .nth(1)
        .unwrap_or("")
        .trim()
        .to_owned();
    Ok((outcomes, report))
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

/// A table: one column per entry, one row per test name (in the order they first appear);
/// `?` where a column has no result.
fn grid(corner: &str, columns: &[Column], markdown: bool) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in columns.iter().flat_map(|(_, outcomes)| outcomes) {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let header: Vec<&str> = std::iter::once(corner)
        .chain(columns.iter().map(|c| c.0.as_str()))
        .collect();
    let cell = |name: &str, outcomes: &[(String, &'static str)]| {
        outcomes
            .iter()
            .find(|(n, _)| n == name)
            .map_or("?", |(_, cell)| *cell)
    };
    let row = |name| {
        std::iter::once(name)
            .chain(columns.iter().map(|c| cell(name, &c.1)))
            .collect()
    };
    let rows: Vec<Vec<&str>> = names.into_iter().map(row).collect();
    crate::table(&header, &rows, markdown)
}

/// The adapter × case matrix and the peer table, as Markdown or as aligned text.
fn render(results: &Results, markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        out.push_str(
            "# Conformance\n\n\
             Written by `cargo xtask conformance --docs` (release build, full soak); do not edit by\n\
             hand. Each adapter runs in its own process (`ADMIT_CONFORMANCE_ADAPTER=NAME cargo test\n\
             -p admit-conformance --release --test matrix`), and so do the peer semaphores\n\
             (`ADMIT_CONFORMANCE_ADAPTER=peers`). What each case and guarantee checks, and how each\n\
             peer is driven, is documented in the `admit-conformance` crate. `admit-fifo` and the\n\
             fleet semaphore must keep every guarantee; `admit-throughput` lets a running task take\n\
             free permits ahead of queued waiters, so it breaks the overtaking guarantees by design.\n\n\
             ## admit on every adapter\n\n",
        );
    }
    out.push_str("adapter × case: ✓ passed, ✗ failed, ? no result\n\n");
    out.push_str(&grid("case", &results.adapters, markdown));
    if !results.failures.is_empty() {
        out.push_str(&format!(
            "\nFailures:\n\n```text\n{}\n```\n",
            results.failures.join("\n")
        ));
    }
    if results.peers.is_empty() {
        return out;
    }
    out.push_str(if markdown {
        "\n## The guarantees the peer semaphores keep\n\n"
    } else {
        "\n"
    });
    out.push_str("semaphore × guarantee: ✓ kept, ✗ broken in this run, n/a no such operation;\n");
    out.push_str(
        "another semaphore breaking a guarantee is a finding about it, not a failure of admit\n\n",
    );
    out.push_str(&grid("guarantee", &results.peers, markdown));
    if markdown && !results.seen.is_empty() {
        out.push_str(&format!(
            "\nWhat was seen where a guarantee was broken:\n\n```text\n{}\n```\n",
            results.seen
        ));
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
        let names: Vec<(&str, &str)> = cells.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        let expected = [
            ("tokio::fifo_order", "✓"),
            ("async-lock::fifo_order", "✗"),
            ("async-lock::close_wakes_all", "n/a"),
        ];
        assert_eq!(names, expected);

        let column = |name: &str, cells: &[(&str, &'static str)]| {
            (
                name.to_owned(),
                cells.iter().map(|(n, c)| (n.to_string(), *c)).collect(),
            )
        };
        let results = Results {
            adapters: vec![
                column("tokio-ct", &[("soak", "✓"), ("cancel", "✓")]),
                column("smol-1", &[("soak", "✗")]),
            ],
            peers: vec![
                column("admit-fifo", &[("fifo_order", "✓")]),
                column("async-lock", &[("fifo_order", "✗"), ("close", "n/a")]),
            ],
            seen: "---- async-lock::fifo_order ----\nthe grants were [0, 2]".to_owned(),
            failures: vec!["smol-1: 1 case(s) failed:\nhung".to_owned()],
        };
        let text = render(&results, false);
        assert!(
            text.contains(
                "  case    tokio-ct  smol-1\n  soak    ✓         ✗\n  cancel  ✓         ?\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\nFailures:\n\n```text\nsmol-1: 1 case(s) failed:\nhung\n```\n"),
            "{text}"
        );
        assert!(text.contains("  guarantee   admit-fifo  async-lock\n  fifo_order  ✓           ✗\n  close       ?           n/a\n"), "{text}");
        let markdown = render(&results, true);
        assert!(
            markdown.contains(
                "| guarantee | admit-fifo | async-lock |\n|---|---|---|\n| fifo_order | ✓ | ✗ |\n"
            ),
            "{markdown}"
        );
        assert!(markdown.contains(
            "broken:\n\n```text\n---- async-lock::fifo_order ----\nthe grants were [0, 2]\n```"
        ));
        assert!(!markdown.to_lowercase().contains("issue"));
    }
}
