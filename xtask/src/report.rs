//! The benchmark report: reads criterion's result files and writes them out as Markdown
//! tables, JSON and an SVG bar chart.
//!
//! Criterion leaves one directory per benchmark under `target/criterion`; its `new/`
//! subdirectory holds `benchmark.json` (the ids: `group_id`, `function_id`, `value_str`)
//! and `estimates.json` (`mean.point_estimate`, nanoseconds per iteration). An iteration
//! that covers several operations says so with criterion's `Throughput::Elements(n)` (a
//! fan-out of 100,000 jobs is one iteration), and the report divides by `n`: every time in it
//! is per operation. Each criterion group becomes one table, each parameter within it one
//! "series"; the benches put the runtime first in the parameter (`tokio/T16-P1`), so rows are
//! only ever compared on the same runtime.
//!
//! A row is *ours* when its function name starts with `admit`; every other row is a peer,
//! and each row is compared with the *best peer*: the fastest peer of the same group and
//! parameter. *Reference* rows are peers too: `floor` (the bare atomics a semaphore cannot
//! beat) and any row named `baseline-*`, such as `baseline-admit-semaphore` in the
//! `rate_limiter` group, where admit's rate limiter is divided by admit's own bare semaphore
//! to show what the limiter costs. They are marked as references in the tables.
//!
//! [`Report::targets`] checks the performance targets of issue 2 against the data, each one
//! reported as met or not met (or "no data" when its rows were not run).
//!
//! Everything here is pure (paths in, text out) except [`collect`], which walks the
//! directory; running the benchmarks and asking the machine about itself live in
//! `bench.rs`.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use crate::json::{self, Json};

/// One benchmark result.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Criterion's group (`acquire_release`).
    pub group: String,
    /// The implementation measured (`admit`, `tokio`); the group name for benchmarks that
    /// have no function id.
    pub function: String,
    /// The parameter, if the benchmark has one (`"16"` tasks).
    pub parameter: Option<String>,
    /// Mean time per operation, in nanoseconds: criterion's mean per iteration divided by
    /// [`elements`](Self::elements).
    pub mean_ns: f64,
    /// Operations per iteration (criterion's `Throughput::Elements`, 1 without one).
    pub elements: u64,
}

impl Measurement {
    /// Reads one benchmark from the text of its `benchmark.json` and `estimates.json`.
    ///
    /// # Errors
    ///
    /// Either text is not JSON or lacks `group_id` / `mean.point_estimate`.
    pub fn from_criterion(benchmark: &str, estimates: &str) -> Result<Measurement, String> {
        let id = Json::parse(benchmark).map_err(|e| format!("benchmark.json: {e}"))?;
        let estimates = Json::parse(estimates).map_err(|e| format!("estimates.json: {e}"))?;
        let group = id
            .get("group_id")
            .and_then(Json::as_str)
            .ok_or("benchmark.json: no group_id")?
            .to_owned();
        let optional = |key: &str| id.get(key).and_then(Json::as_str).map(str::to_owned);
        let mean_ns = estimates
            .get("mean")
            .and_then(|mean| mean.get("point_estimate"))
            .and_then(Json::as_f64)
            .ok_or("estimates.json: no mean.point_estimate")?;
        let elements = id
            .get("throughput")
            .and_then(|t| t.get("Elements"))
            .and_then(Json::as_f64)
            .filter(|&n| n >= 1.0)
            .map_or(1, |n| n as u64);
        Ok(Measurement {
            function: optional("function_id").unwrap_or_else(|| group.clone()),
            group,
            parameter: optional("value_str"),
            mean_ns: mean_ns / elements as f64,
            elements,
        })
    }

    /// Whether this row measures admit itself rather than a peer.
    pub fn is_ours(&self) -> bool {
        self.function.to_ascii_lowercase().starts_with("admit")
    }

    /// Whether this row is a reference point rather than a competitor: `floor` or
    /// `baseline-*`. References are not ours, so they count as peers.
    pub fn is_reference(&self) -> bool {
        let name = self.function.to_ascii_lowercase();
        name == "floor" || name.starts_with("baseline-")
    }
}

/// Finds every `new/benchmark.json` + `new/estimates.json` pair under `criterion_dir`.
///
/// With `since`, results whose `estimates.json` is older are left out: they are left over
/// from benchmarks that this run did not execute (renamed, removed or filtered out).
///
/// # Errors
///
/// A directory cannot be read, or a result file is malformed.
pub fn collect(
    criterion_dir: &Path,
    since: Option<SystemTime>,
) -> Result<Vec<Measurement>, String> {
    let mut found = Vec::new();
    let mut pending = vec![criterion_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("reading {}: {e}", dir.display()))?
                .path();
            if !path.is_dir() {
                continue;
            }
            let benchmark = path.join("benchmark.json");
            let estimates = path.join("estimates.json");
            if path.file_name().is_some_and(|n| n == "new") && benchmark.is_file() {
                if !estimates.is_file() {
                    continue;
                }
                if let Some(since) = since {
                    let modified = fs::metadata(&estimates).and_then(|m| m.modified());
                    if modified.is_ok_and(|m| m < since) {
                        continue;
                    }
                }
                let read = |p: &Path| {
                    fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))
                };
                let measurement =
                    Measurement::from_criterion(&read(&benchmark)?, &read(&estimates)?)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                found.push(measurement);
            } else {
                pending.push(path);
            }
        }
    }
    found.sort_by(|a, b| {
        (a.group.as_str(), a.function.as_str())
            .cmp(&(b.group.as_str(), b.function.as_str()))
            .then_with(|| compare_parameters(a.parameter.as_deref(), b.parameter.as_deref()))
    });
    Ok(found)
}

/// Orders parameters as a person would: numbers by value (`"2"` before `"16"`), and runs of
/// digits inside text too (`"T4-P2"` before `"T16-P2"`); no parameter comes first.
pub fn compare_parameters(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) => x.total_cmp(&y),
            _ => natural_cmp(a, b),
        },
    }
}

/// Compares text chunk by chunk, digit runs by their value.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        let (Some(x), Some(y)) = (a.chars().next(), b.chars().next()) else {
            return a.len().cmp(&b.len());
        };
        let ordering = if x.is_ascii_digit() && y.is_ascii_digit() {
            let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (na, nb) = (digits(a), digits(b));
            let (da, db) = (
                a[..na].trim_start_matches('0'),
                b[..nb].trim_start_matches('0'),
            );
            let ordering = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
            a = &a[na..];
            b = &b[nb..];
            ordering
        } else {
            a = &a[x.len_utf8()..];
            b = &b[y.len_utf8()..];
            x.cmp(&y)
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
}

/// A measurement next to the best peer it is compared with.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The row itself.
    pub measurement: &'a Measurement,
    /// The fastest non-admit measurement with the same group and parameter (possibly this
    /// row itself); `None` when there are no peers.
    pub best_peer: Option<&'a Measurement>,
}

impl Row<'_> {
    /// This row's time divided by the best peer's: below 1 is faster than every peer.
    pub fn ratio(&self) -> Option<f64> {
        self.best_peer
            .map(|peer| self.measurement.mean_ns / peer.mean_ns)
    }
}

/// The rows of one group that share a parameter, fastest first.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// The shared parameter.
    pub parameter: Option<&'a str>,
    /// The rows, fastest first.
    pub rows: Vec<Row<'a>>,
}

/// One criterion group: one table in the report.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    /// The group name.
    pub name: &'a str,
    /// One series per parameter, in parameter order.
    pub series: Vec<Series<'a>>,
}

/// Sorts measurements into groups and series and picks each series' best peer.
pub fn groups(measurements: &[Measurement]) -> Vec<Group<'_>> {
    let mut names: Vec<&str> = measurements.iter().map(|m| m.group.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let in_group: Vec<&Measurement> =
                measurements.iter().filter(|m| m.group == name).collect();
            let mut parameters: Vec<Option<&str>> =
                in_group.iter().map(|m| m.parameter.as_deref()).collect();
            parameters.sort_by(|a, b| compare_parameters(*a, *b));
            parameters.dedup();
            let series = parameters
                .into_iter()
                .map(|parameter| {
                    let mut members: Vec<&Measurement> = in_group
                        .iter()
                        .copied()
                        .filter(|m| m.parameter.as_deref() == parameter)
                        .collect();
                    members.sort_by(|a, b| {
                        a.mean_ns
                            .total_cmp(&b.mean_ns)
                            .then_with(|| a.function.cmp(&b.function))
                    });
                    let best_peer = members.iter().copied().find(|m| !m.is_ours());
                    let rows = members
                        .into_iter()
                        .map(|measurement| Row {
                            measurement,
                            best_peer,
                        })
                        .collect();
                    Series { parameter, rows }
                })
                .collect();
            Group { name, series }
        })
        .collect()
}

/// Where and how the numbers were taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// When, as `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// `uname -srm`.
    pub machine: String,
    /// The CPU model from `/proc/cpuinfo`.
    pub cpu: String,
    /// Cores available to the process.
    pub cores: usize,
    /// `rustc --version`.
    pub toolchain: String,
    /// `git rev-parse --short HEAD`, with `-dirty` for uncommitted changes.
    pub revision: String,
    /// The command that ran the benchmarks.
    pub command: String,
    /// `/proc/loadavg` (1, 5 and 15 minute averages) before the run, or `unknown`: the
    /// machine may be shared, and a loaded machine makes the contended rows noisy.
    pub load_before: String,
    /// `/proc/loadavg` after the run, or `unknown`.
    pub load_after: String,
    /// Worker threads of every runtime (`THREADS` in `benches/src/runtimes.rs`), if known.
    pub threads: Option<usize>,
    /// The cross-core round trip measured before each interleaved round
    /// ([`parse_round_trip`]), if they ran.
    pub cross_core: Option<String>,
}

/// A complete report: the environment and the measurements.
#[derive(Debug, Clone)]
pub struct Report {
    /// Where and how.
    pub environment: Environment,
    /// What was measured.
    pub measurements: Vec<Measurement>,
}

/// The group of the `interleaved` bench: the contended workload with every semaphore run once
/// per round, each row the median over the rounds. When present, the contended targets are
/// computed from it rather than from criterion's `contended` group, whose rows are measured
/// one after the other while the machine's conditions drift.
pub const INTERLEAVED_GROUP: &str = "contended_interleaved";

/// Reads the rows the `interleaved` bench writes (`parameter`, semaphore, median ns, then
/// the fastest and slowest round, tab-separated) as measurements of [`INTERLEAVED_GROUP`].
///
/// # Errors
///
/// A line without a parameter, a name and a positive median.
pub fn parse_interleaved(text: &str) -> Result<Vec<Measurement>, String> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let median = fields.get(2).and_then(|f| f.parse::<f64>().ok());
            match (fields.first(), fields.get(1), median) {
                (Some(parameter), Some(name), Some(ns)) if ns > 0.0 && !name.is_empty() => {
                    Ok(Measurement {
                        group: INTERLEAVED_GROUP.to_owned(),
                        function: (*name).to_owned(),
                        parameter: Some((*parameter).to_owned()),
                        mean_ns: ns,
                        elements: 1,
                    })
                }
                _ => Err(format!("malformed row {line:?}")),
            }
        })
        .collect()
}

/// The cross-core round trip the `interleaved` bench measured before its rounds, from its
/// `#cross-core-round-trip` line (median, fastest, slowest ns, count), as the report shows
/// it: `median 85 ns (70–450 ns, 27 measurements)`.
pub fn parse_round_trip(text: &str) -> Option<String> {
    let fields: Vec<&str> = text
        .lines()
        .find_map(|line| line.strip_prefix("#cross-core-round-trip\t"))?
        .split('\t')
        .collect();
    let number = |i: usize| fields.get(i)?.trim().parse::<u64>().ok();
    Some(format!(
        "median {} ns ({}–{} ns, {} measurements)",
        number(0)?,
        number(1)?,
        number(2)?,
        number(3)?
    ))
}

/// The admit configuration the targets are about: the default, FIFO-fair policy.
pub const TARGET_SUBJECT: &str = "admit-fifo";

/// The peers that serve waiters in arrival order, like admit's default policy (mirrors
/// `BenchSemaphore::FAIR` in `benches/src/lib.rs`); async-lock lets newcomers barge, so the
/// contended target leaves it out.
pub const FAIR_PEERS: [&str; 3] = ["tokio", "futures-intrusive", "maitake-sync"];

/// The fastest of the [`FAIR_PEERS`] among the rows of `group` with `parameter`: what the
/// contended targets (and `cargo xtask profile`) divide [`TARGET_SUBJECT`]'s time by.
pub fn best_fair_peer<'a>(
    measurements: &'a [Measurement],
    group: &str,
    parameter: &str,
) -> Option<&'a Measurement> {
    measurements
        .iter()
        .filter(|m| m.group == group && m.parameter.as_deref() == Some(parameter))
        .filter(|m| FAIR_PEERS.contains(&m.function.as_str()))
        .min_by(|a, b| a.mean_ns.total_cmp(&b.mean_ns))
}

/// Uncontended acquire + release: at most this many times the `floor`.
pub const UNCONTENDED_VS_FLOOR: f64 = 1.3;

/// Contended: at least 15% more throughput than the best fair peer, i.e. a time ratio of at
/// most 1 / 1.15 ≈ 0.87.
pub const CONTENDED_VS_FAIR: f64 = 1.0 / 1.15;

/// Cost per acquire with 10,000 queued waiters: at most this many times the cost with 10.
pub const WAITER_SCALING: f64 = 1.5;

/// One performance target of issue 2, checked against the measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// What is compared (`uncontended acquire: admit-fifo / floor`).
    pub name: String,
    /// The goal as text (`≤ 1.30×`).
    pub goal: String,
    /// The ratio it must not exceed (or must stay below, with `strict`).
    pub limit: f64,
    /// Whether the ratio must be strictly below `limit` ("faster than").
    pub strict: bool,
    /// The measured ratio; `None` when a row it needs was not run.
    pub ratio: Option<f64>,
    /// The times behind the ratio, or why there is none.
    pub detail: String,
}

impl Target {
    /// `Some(true)` met, `Some(false)` not met, `None` no data.
    pub fn met(&self) -> Option<bool> {
        self.ratio.map(|r| {
            if self.strict {
                r < self.limit
            } else {
                r <= self.limit
            }
        })
    }

    /// A target comparing `ours` with `reference` (either may be missing).
    fn ratio_of(
        name: String,
        goal: String,
        limit: f64,
        strict: bool,
        ours: Option<&Measurement>,
        reference: Option<&Measurement>,
    ) -> Target {
        let (ratio, detail) = match (ours, reference) {
            (Some(a), Some(b)) => (
                Some(a.mean_ns / b.mean_ns),
                format!(
                    "{} ns vs {} ns ({})",
                    format_ns(a.mean_ns),
                    format_ns(b.mean_ns),
                    b.function
                ),
            ),
            _ => (None, "rows not measured in this run".to_owned()),
        };
        Target {
            name,
            goal,
            limit,
            strict,
            ratio,
            detail,
        }
    }
}

/// Nanoseconds with a precision that suits their size.
pub fn format_ns(ns: f64) -> String {
    if ns < 1.0 {
        format!("{ns:.3}")
    } else if ns < 10.0 {
        format!("{ns:.2}")
    } else if ns < 1000.0 {
        format!("{ns:.1}")
    } else {
        format!("{ns:.0}")
    }
}

/// A ratio as `0.82×`.
pub fn format_ratio(ratio: f64) -> String {
    format!("{ratio:.2}×")
}

/// Markdown table cells must not contain a bare `|`.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

impl Report {
    /// The whole Markdown document for `docs/benchmarks.md`: the setup, the targets of
    /// issue 2, the chart and one table per group.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("# Benchmarks\n\n");
        out.push_str(
            "Written by `cargo xtask bench`; do not edit by hand, run it again instead.\n\n",
        );
        out.push_str(&self.setup());
        out.push_str(&self.targets_markdown());
        out.push_str("## Results\n\n");
        out.push_str(
            "Times are criterion's mean per operation (per job in `fanout`). \"vs best peer\" \
             divides a row's time by that of the fastest non-admit row with the same parameter \
             (same runtime, same workload) in the same group: below 1.00× is faster than every \
             peer. *Reference* rows (`floor`, `baseline-*`) count as peers: they are what a \
             row is measured against, not competitors.\n\n",
        );
        out.push_str("![Bar chart of the same numbers](benchmarks.svg)\n\n");
        out.push_str(&self.tables());
        out
    }

    /// The "Setup" section: machine, toolchain, revision, command, load and threads.
    pub fn setup(&self) -> String {
        let env = &self.environment;
        let mut out = String::from("## Setup\n\n| | |\n| --- | --- |\n");
        let _ = writeln!(out, "| date | {} |", cell(&env.date));
        let _ = writeln!(
            out,
            "| machine | {}; {}; {} cores |",
            cell(&env.machine),
            cell(&env.cpu),
            env.cores
        );
        let _ = writeln!(out, "| toolchain | {} |", cell(&env.toolchain));
        let _ = writeln!(out, "| revision | `{}` |", cell(&env.revision));
        let _ = writeln!(out, "| command | `{}` |", cell(&env.command));
        let _ = writeln!(
            out,
            "| load average (1/5/15 min) | {} before, {} after |",
            cell(&env.load_before),
            cell(&env.load_after)
        );
        if let Some(round_trip) = &env.cross_core {
            let _ = writeln!(
                out,
                "| cross-core round trip | {} — two threads bouncing a cache line, measured \
                 before every `{INTERLEAVED_GROUP}` round. The contended rows are bound by such \
                 transfers; on this shared machine their cost changes over time (see \
                 docs/design.md, \"Where the time goes\"). |",
                cell(round_trip)
            );
        }
        let threads = env
            .threads
            .map_or_else(|| "unknown".to_owned(), |n| n.to_string());
        let _ = writeln!(
            out,
            "| threads | tokio: multi-thread runtime, `worker_threads({threads})`; async-std: \
             global executor, `ASYNC_STD_THREAD_COUNT={threads}`; smol: global executor, \
             `SMOL_THREADS={threads}`. The measuring future runs on the calling thread \
             (`block_on`), spawned tasks on the {threads} workers. |"
        );
        out.push('\n');
        out
    }

    /// The row of `group` / `function` / `parameter`, if measured.
    fn find(&self, group: &str, function: &str, parameter: Option<&str>) -> Option<&Measurement> {
        self.measurements.iter().find(|m| {
            m.group == group && m.function == function && m.parameter.as_deref() == parameter
        })
    }

    /// The performance targets of issue 2, computed from the measurements:
    ///
    /// - `uncontended_acquire`: [`TARGET_SUBJECT`] at most [`UNCONTENDED_VS_FLOOR`] × `floor`,
    ///   and faster than every peer;
    /// - `contended`, for each (T, P) on tokio: at most [`CONTENDED_VS_FAIR`] × the best of
    ///   the [`FAIR_PEERS`]; the same bar on the other runtimes is listed after, marked as
    ///   beyond the target;
    /// - `waiter_scaling`: the cost at 10,000 waiters at most [`WAITER_SCALING`] × the cost
    ///   at 10.
    pub fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let ours =
            |group: &str, parameter: Option<&str>| self.find(group, TARGET_SUBJECT, parameter);

        let group = "uncontended_acquire";
        targets.push(Target::ratio_of(
            format!("uncontended acquire: {TARGET_SUBJECT} / floor"),
            format!("≤ {}", format_ratio(UNCONTENDED_VS_FLOOR)),
            UNCONTENDED_VS_FLOOR,
            false,
            ours(group, None),
            self.find(group, "floor", None),
        ));
        let mut peers: Vec<&Measurement> = self
            .measurements
            .iter()
            .filter(|m| m.group == group && !m.is_ours() && !m.is_reference())
            .collect();
        peers.sort_by(|a, b| a.function.cmp(&b.function));
        for peer in peers {
            targets.push(Target::ratio_of(
                format!("uncontended acquire: {TARGET_SUBJECT} / {}", peer.function),
                "< 1.00× (faster)".to_owned(),
                1.0,
                true,
                ours(group, peer.parameter.as_deref()),
                Some(peer),
            ));
        }

        let group = if self
            .measurements
            .iter()
            .any(|m| m.group == INTERLEAVED_GROUP)
        {
            INTERLEAVED_GROUP
        } else {
            "contended"
        };
        let mut parameters: Vec<&str> = self
            .measurements
            .iter()
            .filter(|m| m.group == group)
            .filter_map(|m| m.parameter.as_deref())
            .collect();
        // tokio's rows are the target; the other runtimes follow.
        parameters.sort_by(|a, b| {
            (!a.starts_with("tokio/"))
                .cmp(&!b.starts_with("tokio/"))
                .then_with(|| compare_parameters(Some(a), Some(b)))
        });
        parameters.dedup();
        for parameter in parameters {
            let best_fair = best_fair_peer(&self.measurements, group, parameter);
            let scope = if parameter.starts_with("tokio/") {
                ""
            } else {
                " (same bar beyond the target, which names tokio)"
            };
            targets.push(Target::ratio_of(
                format!("{group} {parameter}: {TARGET_SUBJECT} / best fair peer{scope}"),
                format!(
                    "≤ {} (≥ 15% more throughput)",
                    format_ratio(CONTENDED_VS_FAIR)
                ),
                CONTENDED_VS_FAIR,
                false,
                ours(group, Some(parameter)),
                best_fair,
            ));
        }

        let group = "waiter_scaling";
        let mut scaling = Target::ratio_of(
            format!("waiter scaling: {TARGET_SUBJECT} at 10,000 waiters / at 10"),
            format!("≤ {}", format_ratio(WAITER_SCALING)),
            WAITER_SCALING,
            false,
            ours(group, Some("10000")),
            ours(group, Some("10")),
        );
        scaling.detail = scaling
            .detail
            .replace(&format!("({TARGET_SUBJECT})"), "(10 waiters)");
        targets.push(scaling);
        targets
    }

    /// The "Targets (issue 2)" section: one line per target, met or not.
    pub fn targets_markdown(&self) -> String {
        let mut out = String::from("## Targets (issue 2)\n\n");
        out.push_str(
            "Computed from the results below by `cargo xtask bench`. A ratio is a time ratio: \
             below 1.00× admit is faster. The contended targets use the \
             `contended_interleaved` group when it was measured: every semaphore runs once per \
             round, so all of them see the same machine conditions, and each row is the median \
             over the rounds (criterion's `contended` group measures the rows one after the \
             other, minutes apart).\n\n",
        );
        out.push_str("| target | goal | measured | times | status |\n");
        out.push_str("| --- | --- | ---: | --- | --- |\n");
        for target in self.targets() {
            let measured = target.ratio.map_or_else(|| "-".to_owned(), format_ratio);
            let status = match target.met() {
                Some(true) => "met",
                Some(false) => "**not met**",
                None => "no data",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {measured} | {} | {status} |",
                cell(&target.name),
                cell(&target.goal),
                cell(&target.detail)
            );
        }
        out.push('\n');
        out
    }

    /// One Markdown table per criterion group (also printed by `cargo xtask compare`).
    pub fn tables(&self) -> String {
        let mut out = String::new();
        if self.measurements.is_empty() {
            out.push_str("No benchmark results.\n");
        }
        for group in groups(&self.measurements) {
            let with_parameter = group.series.iter().any(|s| s.parameter.is_some());
            let _ = writeln!(out, "### {}\n", group.name);
            if with_parameter {
                out.push_str("| implementation | parameter | ns/op | vs best peer |\n");
                out.push_str("| --- | --- | ---: | ---: |\n");
            } else {
                out.push_str("| implementation | ns/op | vs best peer |\n");
                out.push_str("| --- | ---: | ---: |\n");
            }
            for series in &group.series {
                for row in &series.rows {
                    let m = row.measurement;
                    let name = if m.is_ours() {
                        format!("**{}**", cell(&m.function))
                    } else if m.is_reference() {
                        format!("{} (reference)", cell(&m.function))
                    } else {
                        cell(&m.function)
                    };
                    let versus = match (row.ratio(), row.best_peer) {
                        (Some(ratio), Some(peer)) if m.is_ours() => {
                            format!("**{}** ({})", format_ratio(ratio), cell(&peer.function))
                        }
                        (Some(ratio), _) => format_ratio(ratio),
                        _ => "no peer".to_owned(),
                    };
                    if with_parameter {
                        let parameter = cell(series.parameter.unwrap_or("-"));
                        let _ = writeln!(
                            out,
                            "| {name} | {parameter} | {} | {versus} |",
                            format_ns(m.mean_ns)
                        );
                    } else {
                        let _ = writeln!(out, "| {name} | {} | {versus} |", format_ns(m.mean_ns));
                    }
                }
            }
            out.push('\n');
        }
        out
    }

    /// The raw numbers for `docs/benchmarks.json`.
    pub fn json(&self) -> String {
        let env = &self.environment;
        let mut out = String::from("{\n");
        let fields = [
            ("generated_by", json::quote("cargo xtask bench")),
            ("date", json::quote(&env.date)),
            ("machine", json::quote(&env.machine)),
            ("cpu", json::quote(&env.cpu)),
            ("cores", env.cores.to_string()),
            ("toolchain", json::quote(&env.toolchain)),
            ("revision", json::quote(&env.revision)),
            ("command", json::quote(&env.command)),
            ("load_before", json::quote(&env.load_before)),
            ("load_after", json::quote(&env.load_after)),
            (
                "threads",
                env.threads.map_or("null".to_owned(), |n| n.to_string()),
            ),
            (
                "cross_core_round_trip",
                env.cross_core
                    .as_deref()
                    .map_or("null".to_owned(), json::quote),
            ),
            (
                "unit",
                json::quote(
                    "ns per operation (criterion mean point estimate per iteration / elements)",
                ),
            ),
        ];
        for (key, value) in fields {
            let _ = writeln!(out, "  {}: {value},", json::quote(key));
        }
        out.push_str("  \"results\": [");
        let rows = groups(&self.measurements)
            .into_iter()
            .flat_map(|g| g.series)
            .flat_map(|s| s.rows);
        for (index, row) in rows.enumerate() {
            let m = row.measurement;
            let optional = |text: Option<&str>| text.map_or("null".to_owned(), json::quote);
            out.push_str(if index == 0 { "\n" } else { ",\n" });
            let _ = write!(
                out,
                "    {{\"group\": {}, \"function\": {}, \"parameter\": {}, \"mean_ns\": {}, \
                 \"elements\": {}, \"ours\": {}, \"best_peer\": {}, \"ratio_vs_best_peer\": {}}}",
                json::quote(&m.group),
                json::quote(&m.function),
                optional(m.parameter.as_deref()),
                json::number(m.mean_ns),
                m.elements,
                m.is_ours(),
                optional(row.best_peer.map(|p| p.function.as_str())),
                row.ratio().map_or("null".to_owned(), json::number),
            );
        }
        out.push_str("\n  ]\n}\n");
        out
    }

    /// A horizontal bar chart for `docs/benchmarks.svg`: one block of bars per group and
    /// parameter, each block on its own scale (groups differ by orders of magnitude), the
    /// blocks in two columns so the chart stays about a screen wide and half as tall; admit's
    /// bars in colour, peers in grey, references (`floor`, `baseline-*`) in dark grey.
    pub fn svg(&self) -> String {
        const COLUMN: usize = 760;
        const LABEL_RIGHT: usize = 175;
        const BAR_LEFT: usize = 185;
        const BAR_MAX: f64 = 270.0;
        const ROW: usize = 20;
        const BAR: usize = 14;
        const TITLE: usize = 28;
        const GAP: usize = 14;
        const TOP: usize = 56;
        const OURS: &str = "#d9480f";
        const PEER: &str = "#adb5bd";
        const REFERENCE: &str = "#495057";

        let groups = groups(&self.measurements);
        let blocks: Vec<(&Group<'_>, &Series<'_>)> = groups
            .iter()
            .flat_map(|g| g.series.iter().map(move |s| (g, s)))
            .collect();
        let height = |series: &Series<'_>| TITLE + series.rows.len() * ROW + GAP;
        let total: usize = blocks.iter().map(|(_, s)| height(s)).sum();
        // The first column takes blocks until it holds half of the total height.
        let mut split = blocks.len();
        let mut running = 0;
        for (index, (_, series)) in blocks.iter().enumerate() {
            if running >= total.div_ceil(2) {
                split = index;
                break;
            }
            running += height(series);
        }

        let mut body = String::new();
        let _ = writeln!(
            body,
            r#"<text x="10" y="22" font-size="16" font-weight="bold">admit benchmarks: ns per operation, shorter is faster ({})</text>"#,
            xml(&self.environment.date)
        );
        let _ = writeln!(
            body,
            r#"<text x="10" y="42">Each block on its own scale. <tspan fill="{OURS}" font-weight="bold">admit</tspan> (with its ratio to the best peer), <tspan fill="{PEER}" font-weight="bold">peers</tspan>, <tspan fill="{REFERENCE}" font-weight="bold">references</tspan>. Parameters: runtime/tasks-permits.</text>"#
        );
        let mut bottom = TOP;
        if blocks.is_empty() {
            let _ = writeln!(body, r#"<text x="10" y="{}">no results</text>"#, TOP + 16);
            bottom += 30;
        }
        for (column, column_blocks) in [&blocks[..split], &blocks[split..]].into_iter().enumerate()
        {
            let left = column * COLUMN;
            let mut y = TOP;
            for (group, series) in column_blocks {
                let title = match series.parameter {
                    Some(p) => format!("{} ({p})", group.name),
                    None => group.name.to_owned(),
                };
                let _ = writeln!(
                    body,
                    r#"<text x="{}" y="{}" font-weight="bold">{}</text>"#,
                    left + 10,
                    y + 18,
                    xml(&title)
                );
                y += TITLE;
                let slowest = series
                    .rows
                    .iter()
                    .map(|r| r.measurement.mean_ns)
                    .fold(0.0_f64, f64::max);
                for row in &series.rows {
                    let m = row.measurement;
                    let scaled = if slowest > 0.0 {
                        BAR_MAX * m.mean_ns / slowest
                    } else {
                        0.0
                    };
                    let width = scaled.max(1.0);
                    let colour = if m.is_ours() {
                        OURS
                    } else if m.is_reference() {
                        REFERENCE
                    } else {
                        PEER
                    };
                    let text_y = y + BAR - 3;
                    let _ = writeln!(
                        body,
                        r#"<text x="{}" y="{text_y}" text-anchor="end">{}</text>"#,
                        left + LABEL_RIGHT,
                        xml(&m.function)
                    );
                    let _ = writeln!(
                        body,
                        r#"<rect x="{}" y="{y}" width="{width:.1}" height="{BAR}" fill="{colour}"><title>{}: {} ns/op</title></rect>"#,
                        left + BAR_LEFT,
                        xml(&m.function),
                        format_ns(m.mean_ns)
                    );
                    // admit's bars also say how they compare, so the chart stands alone.
                    let versus = match (row.ratio(), row.best_peer) {
                        (Some(ratio), Some(peer)) if m.is_ours() => {
                            format!(" ({} {})", format_ratio(ratio), xml(&peer.function))
                        }
                        _ => String::new(),
                    };
                    let _ = writeln!(
                        body,
                        r#"<text x="{:.1}" y="{text_y}">{} ns{versus}</text>"#,
                        (left + BAR_LEFT) as f64 + width + 6.0,
                        format_ns(m.mean_ns)
                    );
                    y += ROW;
                }
                y += GAP;
            }
            bottom = bottom.max(y);
        }
        let width = if split < blocks.len() {
            2 * COLUMN
        } else {
            COLUMN
        };
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{bottom}\" \
             viewBox=\"0 0 {width} {bottom}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n"
        )
    }
}

/// Escapes text for SVG (XML) content and attribute values.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `time` as `YYYY-MM-DD HH:MM UTC`, without a date library.
pub fn utc_timestamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) date in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are within their small ranges by construction.
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn measurement(group: &str, function: &str, parameter: Option<&str>, ns: f64) -> Measurement {
        Measurement {
            group: group.to_owned(),
            function: function.to_owned(),
            parameter: parameter.map(str::to_owned),
            mean_ns: ns,
            elements: 1,
        }
    }

    fn benchmark_json(group: &str, function: Option<&str>, value: Option<&str>) -> String {
        benchmark_json_with(group, function, value, "null")
    }

    fn benchmark_json_with(
        group: &str,
        function: Option<&str>,
        value: Option<&str>,
        throughput: &str,
    ) -> String {
        let optional = |t: Option<&str>| t.map_or("null".to_owned(), json::quote);
        format!(
            r#"{{"group_id":{},"function_id":{},"value_str":{},"throughput":{throughput},"full_id":"x","directory_name":"x","title":"x"}}"#,
            json::quote(group),
            optional(function),
            optional(value)
        )
    }

    fn estimates_json(mean: f64) -> String {
        let estimate = |v: f64| {
            format!(
                r#"{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{},"upper_bound":{}}},"point_estimate":{v},"standard_error":0.5}}"#,
                v * 0.9,
                v * 1.1
            )
        };
        format!(
            r#"{{"mean":{},"median":{},"median_abs_dev":{},"slope":null,"std_dev":{}}}"#,
            estimate(mean),
            estimate(mean + 1.0),
            estimate(0.3),
            estimate(2.0)
        )
    }

    fn environment() -> Environment {
        Environment {
            date: "2026-01-02 03:04 UTC".to_owned(),
            machine: "Linux 6.1 x86_64".to_owned(),
            cpu: "Test CPU".to_owned(),
            cores: 2,
            toolchain: "rustc 1.95.0".to_owned(),
            revision: "abc1234-dirty".to_owned(),
            command: "cargo bench -p admit-benches --bench '*' -- --quick".to_owned(),
            load_before: "1.50 1.20 0.90".to_owned(),
            load_after: "2.00 1.40 1.00".to_owned(),
            threads: Some(2),
            cross_core: Some("median 85 ns (70–450 ns, 27 measurements)".to_owned()),
        }
    }

    /// admit beats tokio (the best peer) at 1 task and loses to async-lock at 8.
    fn fixture() -> Vec<Measurement> {
        vec![
            measurement("contended", "async-lock", Some("8"), 100.0),
            measurement("contended", "admit", Some("1"), 50.0),
            measurement("contended", "tokio", Some("1"), 60.0),
            measurement("contended", "async-lock", Some("1"), 80.0),
            measurement("contended", "admit", Some("8"), 150.0),
            measurement("contended", "tokio", Some("8"), 200.0),
            measurement("uncontended", "admit_try_acquire", None, 5.0),
            measurement("only_ours", "admit", None, 7.0),
        ]
    }

    #[test]
    fn reads_criterion_files() {
        let m = Measurement::from_criterion(
            &benchmark_json("contended", Some("tokio"), Some("16")),
            &estimates_json(123.25),
        )
        .unwrap();
        assert_eq!(m, measurement("contended", "tokio", Some("16"), 123.25));
        assert!(!m.is_ours());

        // `c.bench_function("admit_uncontended", ..)` has no function id or parameter.
        let m = Measurement::from_criterion(
            &benchmark_json("admit_uncontended", None, None),
            &estimates_json(4.5),
        )
        .unwrap();
        assert_eq!(
            m,
            measurement("admit_uncontended", "admit_uncontended", None, 4.5)
        );
        assert!(m.is_ours());

        let err = Measurement::from_criterion(&benchmark_json("g", None, None), "{}");
        assert!(err.unwrap_err().contains("point_estimate"));
        assert!(Measurement::from_criterion("{}", &estimates_json(1.0)).is_err());
    }

    #[test]
    fn divides_by_the_elements_of_an_iteration() {
        let m = Measurement::from_criterion(
            &benchmark_json_with(
                "fanout",
                Some("buffer-unordered"),
                Some("tokio"),
                r#"{"Elements":100000}"#,
            ),
            &estimates_json(5_000_000.0),
        )
        .unwrap();
        assert_eq!(m.elements, 100_000);
        assert!((m.mean_ns - 50.0).abs() < 1e-9);
        let one = Measurement::from_criterion(
            &benchmark_json_with("g", Some("f"), None, r#"{"Elements":1}"#),
            &estimates_json(7.0),
        )
        .unwrap();
        assert_eq!((one.elements, one.mean_ns), (1, 7.0));
    }

    #[test]
    fn references_are_peers_but_not_competitors() {
        let baseline = measurement(
            "rate_limiter",
            "baseline-admit-semaphore",
            Some("tokio"),
            7.0,
        );
        let floor = measurement("uncontended_acquire", "floor", None, 1.0);
        let peer = measurement("uncontended_acquire", "tokio", None, 1.0);
        assert!(baseline.is_reference() && !baseline.is_ours());
        assert!(floor.is_reference() && !floor.is_ours());
        assert!(!peer.is_reference());
        let measurements = vec![
            measurement("rate_limiter", "admit-rate-limiter", Some("tokio"), 70.0),
            baseline,
        ];
        let groups = groups(&measurements);
        let ours = &groups[0].series[0].rows[1];
        assert_eq!(ours.best_peer.unwrap().function, "baseline-admit-semaphore");
        assert!((ours.ratio().unwrap() - 10.0).abs() < 1e-12);
        let report = Report {
            environment: environment(),
            measurements,
        };
        assert!(
            report
                .tables()
                .contains("| baseline-admit-semaphore (reference) | tokio | 7.00 | 1.00× |")
        );
    }

    /// Rows for every target: two met, the rest not, one waiter-scaling row missing.
    fn target_fixture() -> Vec<Measurement> {
        vec![
            measurement("uncontended_acquire", "floor", None, 2.0),
            measurement("uncontended_acquire", "admit-fifo", None, 2.5),
            measurement("uncontended_acquire", "admit-throughput", None, 2.4),
            measurement("uncontended_acquire", "tokio", None, 5.0),
            measurement("uncontended_acquire", "async-lock", None, 2.5),
            measurement("contended", "admit-fifo", Some("tokio/T16-P1"), 80.0),
            measurement("contended", "tokio", Some("tokio/T16-P1"), 100.0),
            measurement("contended", "maitake-sync", Some("tokio/T16-P1"), 95.0),
            // async-lock is unfair: not the bar, though it is faster.
            measurement("contended", "async-lock", Some("tokio/T16-P1"), 10.0),
            measurement("contended", "admit-fifo", Some("smol/T16-P1"), 90.0),
            measurement("contended", "tokio", Some("smol/T16-P1"), 100.0),
            measurement("waiter_scaling", "admit-fifo", Some("10"), 10.0),
        ]
    }

    #[test]
    fn targets_are_computed_from_the_rows() {
        let report = Report {
            environment: environment(),
            measurements: target_fixture(),
        };
        let targets = report.targets();
        let by_name = |prefix: &str| {
            targets
                .iter()
                .find(|t| t.name.starts_with(prefix))
                .unwrap_or_else(|| panic!("no target {prefix}"))
        };
        let floor = by_name("uncontended acquire: admit-fifo / floor");
        assert_eq!((floor.ratio, floor.met()), (Some(1.25), Some(true)));
        assert_eq!(
            by_name("uncontended acquire: admit-fifo / tokio").met(),
            Some(true)
        );
        // Equal is not faster.
        assert_eq!(
            by_name("uncontended acquire: admit-fifo / async-lock").met(),
            Some(false)
        );
        let tokio = by_name("contended tokio/T16-P1");
        assert!((tokio.ratio.unwrap() - 80.0 / 95.0).abs() < 1e-12);
        assert_eq!(tokio.met(), Some(true));
        assert!(tokio.detail.contains("(maitake-sync)"));
        let smol = by_name("contended smol/T16-P1");
        assert_eq!(smol.met(), Some(false), "0.90 > 0.87");
        assert!(smol.name.contains("beyond the target"));
        // tokio's rows come first.
        let first_contended = targets
            .iter()
            .position(|t| t.name.starts_with("contended"))
            .unwrap();
        assert!(targets[first_contended].name.contains("tokio/"));
        let scaling = by_name("waiter scaling");
        assert_eq!(scaling.met(), None);

        let md = report.markdown();
        assert!(md.contains("## Targets (issue 2)"));
        assert!(md.contains(
            "| uncontended acquire: admit-fifo / floor | ≤ 1.30× | 1.25× | 2.50 ns vs 2.00 ns (floor) | met |"
        ));
        assert!(md.contains("| **not met** |"));
        assert!(md.contains("| rows not measured in this run | no data |"));
    }

    #[test]
    fn the_round_trip_line_is_read_apart_from_the_rows() {
        let text = "tokio/T16-P1\tadmit-fifo\t70.5\t60\t90\n\
                    #cross-core-round-trip\t85\t70\t450\t27\n";
        assert_eq!(parse_interleaved(text).unwrap().len(), 1);
        assert_eq!(
            parse_round_trip(text).as_deref(),
            Some("median 85 ns (70–450 ns, 27 measurements)")
        );
        assert_eq!(
            parse_round_trip("tokio/T16-P1\tadmit-fifo\t70.5\t60\t90\n"),
            None
        );
        assert_eq!(parse_round_trip("#cross-core-round-trip\t85\tfast\n"), None);
        let report = Report {
            environment: environment(),
            measurements: Vec::new(),
        };
        assert!(
            report
                .setup()
                .contains("| cross-core round trip | median 85 ns (70–450 ns, 27 measurements)")
        );
        assert!(
            report
                .json()
                .contains("\"cross_core_round_trip\": \"median 85 ns")
        );
    }

    #[test]
    fn interleaved_rows_become_the_contended_targets() {
        let rows = parse_interleaved(
            "tokio/T16-P1\tadmit-fifo\t70.5\t60\t90\n\
             tokio/T16-P1\tfutures-intrusive\t75\t70\t120\n\
             tokio/T16-P1\tasync-lock\t10\t9\t11\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0],
            Measurement {
                group: INTERLEAVED_GROUP.to_owned(),
                function: "admit-fifo".to_owned(),
                parameter: Some("tokio/T16-P1".to_owned()),
                mean_ns: 70.5,
                elements: 1,
            }
        );
        assert!(parse_interleaved("tokio/T16-P1\tadmit-fifo\n").is_err());
        assert!(parse_interleaved("tokio/T16-P1\tadmit-fifo\tfast\t1\t2\n").is_err());
        assert!(parse_interleaved("\n").unwrap().is_empty());

        // Criterion's contended rows say the target is met; the interleaved rows, preferred,
        // say it is not (async-lock is not a fair peer and does not count).
        let mut measurements = target_fixture();
        measurements.extend(rows);
        let report = Report {
            environment: environment(),
            measurements,
        };
        let targets = report.targets();
        assert!(!targets.iter().any(|t| t.name.starts_with("contended ")));
        let target = targets
            .iter()
            .find(|t| t.name == "contended_interleaved tokio/T16-P1: admit-fifo / best fair peer")
            .unwrap();
        assert!((target.ratio.unwrap() - 70.5 / 75.0).abs() < 1e-12);
        assert_eq!(target.met(), Some(false));
    }

    #[test]
    fn best_peer_is_the_fastest_non_admit_row_with_the_same_parameter() {
        let measurements = fixture();
        let groups = groups(&measurements);
        let names: Vec<&str> = groups.iter().map(|g| g.name).collect();
        assert_eq!(names, ["contended", "only_ours", "uncontended"]);

        let contended = &groups[0];
        let parameters: Vec<_> = contended.series.iter().map(|s| s.parameter).collect();
        assert_eq!(parameters, [Some("1"), Some("8")]);

        let one = &contended.series[0];
        let order: Vec<&str> = one
            .rows
            .iter()
            .map(|r| r.measurement.function.as_str())
            .collect();
        assert_eq!(order, ["admit", "tokio", "async-lock"], "fastest first");
        for row in &one.rows {
            assert_eq!(row.best_peer.unwrap().function, "tokio");
        }
        assert!((one.rows[0].ratio().unwrap() - 50.0 / 60.0).abs() < 1e-12);
        assert!((one.rows[1].ratio().unwrap() - 1.0).abs() < 1e-12);
        assert!((one.rows[2].ratio().unwrap() - 80.0 / 60.0).abs() < 1e-12);

        // At 8 tasks async-lock is the best peer, though tokio wins at 1.
        let eight = &contended.series[1];
        let admit = eight.rows.iter().find(|r| r.measurement.is_ours()).unwrap();
        assert_eq!(admit.best_peer.unwrap().function, "async-lock");
        assert!((admit.ratio().unwrap() - 1.5).abs() < 1e-12);

        // A group with only admit rows has nothing to compare with.
        assert!(groups[1].series[0].rows[0].ratio().is_none());
    }

    #[test]
    fn parameters_sort_numerically() {
        let mut parameters = vec![
            Some("16"),
            Some("2"),
            None,
            Some("b"),
            Some("128"),
            Some("a"),
        ];
        parameters.sort_by(|a, b| compare_parameters(*a, *b));
        assert_eq!(
            parameters,
            [
                None,
                Some("2"),
                Some("16"),
                Some("128"),
                Some("a"),
                Some("b")
            ]
        );
        let mut labels = vec![
            "T16-P2",
            "T4-P16",
            "T4-P2",
            "T64-P1",
            "T4-P2-n1..=4",
            "T004-P3",
        ];
        labels.sort_by(|a, b| compare_parameters(Some(a), Some(b)));
        assert_eq!(
            labels,
            [
                "T4-P2",
                "T4-P2-n1..=4",
                "T004-P3",
                "T4-P16",
                "T16-P2",
                "T64-P1"
            ]
        );
    }

    #[test]
    fn markdown_has_environment_and_one_table_per_group() {
        let report = Report {
            environment: environment(),
            measurements: fixture(),
        };
        let md = report.markdown();
        assert!(md.contains("## Setup"));
        assert!(md.contains(
            "| load average (1/5/15 min) | 1.50 1.20 0.90 before, 2.00 1.40 1.00 after |"
        ));
        assert!(md.contains("`worker_threads(2)`"));
        assert!(md.contains("`ASYNC_STD_THREAD_COUNT=2`"));
        assert!(md.contains("`SMOL_THREADS=2`"));
        assert!(md.contains("| date | 2026-01-02 03:04 UTC |"));
        assert!(md.contains("| machine | Linux 6.1 x86_64; Test CPU; 2 cores |"));
        assert!(md.contains("| toolchain | rustc 1.95.0 |"));
        assert!(md.contains("| revision | `abc1234-dirty` |"));
        assert!(md.contains("| command | `cargo bench -p admit-benches --bench '*' -- --quick` |"));
        assert_eq!(md.matches("\n### ").count(), 3);
        assert!(md.contains("| implementation | parameter | ns/op | vs best peer |"));
        assert!(md.contains("| **admit** | 1 | 50.0 | **0.83×** (tokio) |"));
        assert!(md.contains("| tokio | 1 | 60.0 | 1.00× |"));
        assert!(md.contains("| async-lock | 1 | 80.0 | 1.33× |"));
        assert!(md.contains("| **admit** | 8 | 150.0 | **1.50×** (async-lock) |"));
        // Groups without parameters have no parameter column.
        assert!(md.contains("### uncontended\n\n| implementation | ns/op | vs best peer |"));
        assert!(md.contains("| **admit_try_acquire** | 5.00 | no peer |"));
        // Tables come in the order: parameter, then speed.
        let admit_1 = md.find("| **admit** | 1 |").unwrap();
        let async_lock_8 = md.find("| async-lock | 8 |").unwrap();
        assert!(admit_1 < async_lock_8);
    }

    #[test]
    fn json_holds_every_row_and_parses_back() {
        let report = Report {
            environment: environment(),
            measurements: fixture(),
        };
        let doc = Json::parse(&report.json()).unwrap();
        assert_eq!(doc.get("cores").and_then(Json::as_f64), Some(2.0));
        assert_eq!(
            doc.get("revision").and_then(Json::as_str),
            Some("abc1234-dirty")
        );
        let results = doc.get("results").and_then(Json::as_array).unwrap();
        assert_eq!(results.len(), 8);
        let admit_at_8 = results
            .iter()
            .find(|r| {
                r.get("function").and_then(Json::as_str) == Some("admit")
                    && r.get("parameter").and_then(Json::as_str) == Some("8")
            })
            .unwrap();
        assert_eq!(
            admit_at_8.get("mean_ns").and_then(Json::as_f64),
            Some(150.0)
        );
        assert_eq!(admit_at_8.get("ours"), Some(&Json::Bool(true)));
        assert_eq!(
            admit_at_8.get("best_peer").and_then(Json::as_str),
            Some("async-lock")
        );
        assert_eq!(
            admit_at_8.get("ratio_vs_best_peer").and_then(Json::as_f64),
            Some(1.5)
        );
        let lonely = results
            .iter()
            .find(|r| r.get("group").and_then(Json::as_str) == Some("only_ours"))
            .unwrap();
        assert_eq!(lonely.get("parameter"), Some(&Json::Null));
        assert_eq!(lonely.get("ratio_vs_best_peer"), Some(&Json::Null));
    }

    #[test]
    fn svg_has_a_labelled_bar_per_row() {
        let mut measurements = fixture();
        measurements.push(measurement(
            "escaping",
            "futures<intrusive> & co",
            None,
            9.0,
        ));
        let report = Report {
            environment: environment(),
            measurements,
        };
        let svg = report.svg();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        // One background rectangle plus one bar per measurement.
        assert_eq!(svg.matches("<rect").count(), 1 + 9);
        // Series titles, bar labels and values.
        assert!(svg.contains(">contended (1)</text>"));
        assert!(svg.contains(">contended (8)</text>"));
        assert!(svg.contains(">uncontended</text>"));
        assert!(svg.contains(">async-lock</text>"));
        assert!(svg.contains(">200.0 ns</text>"));
        assert!(svg.contains(">150.0 ns (1.50× async-lock)</text>"));
        assert!(svg.contains(">50.0 ns (0.83× tokio)</text>"));
        assert!(svg.contains(">5.00 ns</text>"), "no peer, no ratio");
        assert!(svg.contains(">futures&lt;intrusive&gt; &amp; co</text>"));
        assert!(!svg.contains("futures<intrusive>"));
        // admit in colour, peers in grey: 4 admit bars and 5 peer bars, plus the legend.
        assert_eq!(svg.matches("fill=\"#d9480f\"").count(), 4 + 1);
        assert_eq!(svg.matches("fill=\"#adb5bd\"").count(), 5 + 1);
        // Each series is scaled to its slowest row: tokio at 8 tasks gets the full width,
        // admit at 8 (150 of 200 ns) three quarters of it.
        assert!(svg.contains("width=\"270.0\" height=\"14\" fill=\"#adb5bd\"><title>tokio: 200.0"));
        assert!(svg.contains("width=\"202.5\" height=\"14\" fill=\"#d9480f\"><title>admit: 150.0"));
        // Two columns: the second one starts at x = 760.
        assert!(svg.contains("width=\"1520\""));
        assert!(svg.contains("<text x=\"770\""));
    }

    #[test]
    fn collect_walks_criterion_output_and_skips_stale_results() {
        let dir = std::env::temp_dir().join(format!("xtask-report-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let write = |sub: &str, bench: &str, estimates: &str| {
            let new = dir.join(sub).join("new");
            fs::create_dir_all(&new).unwrap();
            fs::write(new.join("benchmark.json"), bench).unwrap();
            fs::write(new.join("estimates.json"), estimates).unwrap();
        };
        write(
            "contended/admit/1",
            &benchmark_json("contended", Some("admit"), Some("1")),
            &estimates_json(50.0),
        );
        write(
            "contended/tokio/1",
            &benchmark_json("contended", Some("tokio"), Some("1")),
            &estimates_json(60.0),
        );
        write(
            "old/admit",
            &benchmark_json("old", Some("admit"), None),
            &estimates_json(1.0),
        );
        // Criterion's html report directories hold no results and must be ignored.
        fs::create_dir_all(dir.join("contended/report")).unwrap();

        let all = collect(&dir, None).unwrap();
        assert_eq!(
            all,
            [
                measurement("contended", "admit", Some("1"), 50.0),
                measurement("contended", "tokio", Some("1"), 60.0),
                measurement("old", "admit", None, 1.0),
            ]
        );

        let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
        let stale = fs::File::options()
            .write(true)
            .open(dir.join("old/admit/new/estimates.json"))
            .unwrap();
        stale
            .set_modified(an_hour_ago - Duration::from_secs(60))
            .unwrap();
        let fresh = collect(&dir, Some(an_hour_ago)).unwrap();
        assert_eq!(fresh.len(), 2);
        assert!(fresh.iter().all(|m| m.group == "contended"));

        write("broken/x", "{", &estimates_json(1.0));
        assert!(collect(&dir, None).unwrap_err().contains("benchmark.json"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let at = |secs: u64| utc_timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01 00:00 UTC");
        // 2000-02-29 (a leap day in a year divisible by 400) 12:34 UTC.
        assert_eq!(at(951_827_640), "2000-02-29 12:34 UTC");
        // 2024-12-31 23:59 UTC.
        assert_eq!(at(1_735_689_540), "2024-12-31 23:59 UTC");
    }

    #[test]
    fn numbers_are_formatted_by_size() {
        assert_eq!(format_ns(0.1234), "0.123");
        assert_eq!(format_ns(5.0), "5.00");
        assert_eq!(format_ns(123.45), "123.5");
        assert_eq!(format_ns(12_345.6), "12346");
        assert_eq!(format_ratio(50.0 / 60.0), "0.83×");
    }
}
