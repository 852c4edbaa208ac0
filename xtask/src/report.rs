//! The benchmark report, from the rows files the benchmarks write (one `<group>.json` each:
//! a group's id, title, unit and command, then its rows, as [`Group`] and [`Row`] read them):
//! Markdown, JSON and an SVG chart, and the one-screen summary of `cargo xtask compare`.
//!
//! Every row is one contender on one workload and runtime, measured in interleaved rounds
//! (every contender once per round, in rotating order), with the median, fastest and slowest
//! round. Rows are compared only within their *series*: the same group, workload and runtime.
//! Contenders whose name starts with `admit` are admit's; `floor` and `baseline-*` rows are
//! references (what nothing can beat, or admit's own building block); every other row is a
//! peer. For each series the report shows the fastest contender and admit's ratio to the best
//! peer and to the best fair (FIFO) peer, with the range the ratio of two rounds can take
//! (admit's fastest round against the peer's slowest, and its slowest against their fastest).
//! A group without peers (admit's rows only, as the rate limiter's) has nothing to compare:
//! it is shown as one table of its rows with their `extra` values, and judged on those.
//!
//! Everything here is pure (rows in, text out) except [`load`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Result;

/// One rows file: a group of workloads, every contender of each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Short id (`contended`), also the file name.
    pub group: String,
    /// Human heading.
    pub title: String,
    /// What the times are per (`ns/op`).
    pub unit: String,
    /// The command that produced the rows.
    pub command: String,
    pub rows: Vec<Row>,
}

/// One contender on one workload and runtime, over its rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub workload: String,
    pub runtime: String,
    pub contender: String,
    /// Whether the contender serves waiters first come, first served.
    pub fair: bool,
    pub rounds: u32,
    pub wall_ns: Wall,
    /// Process CPU time (user + sys) per unit, when measured.
    pub cpu_ns: Option<Cpu>,
    /// Further numbers (`p99_wait_ns`), free-form.
    #[serde(default)]
    pub extra: BTreeMap<String, f64>,
}

/// Wall time per unit over the rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Wall {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// CPU time per unit, the mean over the rounds (the benches' `rows` module says why).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    pub mean: f64,
}

impl Row {
    fn is_admit(&self) -> bool {
        self.contender.starts_with("admit")
    }

    fn is_reference(&self) -> bool {
        self.contender == "floor" || self.contender.starts_with("baseline")
    }

    fn is_peer(&self) -> bool {
        !self.is_admit() && !self.is_reference()
    }

    /// The number a goal is judged on: wall median, or an `extra` value.
    fn metric(&self, metric: Option<&str>) -> Option<f64> {
        match metric {
            None => Some(self.wall_ns.median),
            Some(key) => self.extra.get(key).copied(),
        }
    }
}

/// Reads every `*.json` rows file in `dir`, in the order of [`GOALS`] (then by name).
///
/// # Errors
///
/// The directory cannot be read, holds no rows file, or a file is not in the rows format.
pub fn load(dir: &Path) -> Result<Vec<Group>> {
    let mut groups = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let text = std::fs::read_to_string(&path)?;
            let group: Group = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not a rows file: {e}", path.display()))?;
            groups.push(group);
        }
    }
    if groups.is_empty() {
        return Err(format!("no rows files (*.json) in {}", dir.display()).into());
    }
    groups.sort_by_key(|g| {
        let known = GOALS.iter().position(|(name, ..)| *name == g.group);
        (known.unwrap_or(GOALS.len()), g.group.clone())
    });
    Ok(groups)
}

/// The rows of one workload on one runtime, fastest first.
pub struct Series<'a> {
    pub workload: &'a str,
    pub runtime: &'a str,
    pub rows: Vec<&'a Row>,
}

/// A group's series, in the order their first rows appear.
pub fn series(group: &Group) -> Vec<Series<'_>> {
    let mut all: Vec<Series<'_>> = Vec::new();
    for row in &group.rows {
        match all
            .iter_mut()
            .find(|s| s.workload == row.workload && s.runtime == row.runtime)
        {
            Some(series) => series.rows.push(row),
            None => all.push(Series {
                workload: &row.workload,
                runtime: &row.runtime,
                rows: vec![row],
            }),
        }
    }
    for series in &mut all {
        series
            .rows
            .sort_by(|a, b| a.wall_ns.median.total_cmp(&b.wall_ns.median));
    }
    all
}

/// admit's best row next to the best peer it is compared with.
#[derive(Debug, Clone, Copy)]
pub struct Comparison<'a> {
    pub admit: &'a Row,
    pub peer: &'a Row,
    /// admit's metric divided by the peer's: below 1 admit is ahead.
    pub ratio: f64,
    /// The lowest and highest ratio of one of admit's rounds to one of the peer's, on wall
    /// time.
    pub range: (f64, f64),
}

impl<'a> Series<'a> {
    /// The lowest-`metric` row that `select` accepts.
    fn best(&self, metric: Option<&str>, select: impl Fn(&Row) -> bool) -> Option<&'a Row> {
        self.rows
            .iter()
            .copied()
            .filter(|row| select(row) && row.metric(metric).is_some())
            .min_by(|a, b| {
                a.metric(metric)
                    .unwrap_or(0.0)
                    .total_cmp(&b.metric(metric).unwrap_or(0.0))
            })
    }

    /// admit's best (fair, if `fair`) row against the best (fair) peer, on wall time.
    pub fn versus_peers(&self, fair: bool) -> Option<Comparison<'a>> {
        self.compare(
            None,
            |r| r.is_admit() && (r.fair || !fair),
            |r| r.is_peer() && (r.fair || !fair),
        )
    }

    fn compare(
        &self,
        metric: Option<&str>,
        ours: impl Fn(&Row) -> bool,
        theirs: impl Fn(&Row) -> bool,
    ) -> Option<Comparison<'a>> {
        let admit = self.best(metric, ours)?;
        let peer = self.best(metric, theirs)?;
        let ratio = admit.metric(metric)? / peer.metric(metric)?;
        // The widest the ratio of two rounds can be: admit's fastest round against the peer's
        // slowest, and admit's slowest against the peer's fastest.
        let range = (
            admit.wall_ns.min / peer.wall_ns.max,
            admit.wall_ns.max / peer.wall_ns.min,
        );
        Some(Comparison {
            admit,
            peer,
            ratio,
            range,
        })
    }
}

/// What admit must reach on a group's workloads; lower numbers are better everywhere.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// admit's best fair contender at or below the best fair peer, on wall time or on the
    /// `extra` value named.
    AheadOfFairPeers(Option<&'static str>),
    /// admit's best contender at or below the best peer.
    AheadOfPeers,
    /// admit's best contender within this many times the limit its row carries in `extra`.
    AtLimit(&'static str, f64),
    /// Every admit row's `extra` value `value`, divided by its `extra` value `of`, within
    /// `low..=high` (the farthest out is shown).
    ExtraRatio {
        value: &'static str,
        of: &'static str,
        low: f64,
        high: f64,
    },
}

/// The project's goals, per group (a group may have several), with how the report states
/// them. A group not listed is held to "ahead of every fair peer" (of every peer when it has
/// no fair one).
pub const GOALS: [(&str, Goal, &str); 9] = [
    (
        "uncontended",
        Goal::AtLimit("floor_ns", 1.3),
        "within 1.30× of the floor (bare atomics)",
    ),
    (
        "contended",
        Goal::AheadOfFairPeers(None),
        "ahead of every fair peer",
    ),
    (
        "oversubscribed",
        Goal::AheadOfFairPeers(None),
        "ahead of every fair peer",
    ),
    (
        "wait-times",
        Goal::AheadOfFairPeers(Some("p99_wait_ns")),
        "p99 wait ≤ best fair peer's",
    ),
    (
        "waiter-scaling",
        Goal::AheadOfFairPeers(None),
        "ahead of every fair peer",
    ),
    ("pool", Goal::AheadOfPeers, "ahead of every peer"),
    (
        "rate",
        Goal::ExtraRatio {
            value: "achieved_per_s",
            of: "configured_per_s",
            low: 0.99,
            high: 1.01,
        },
        "achieved rate within 1 % of the configured rate",
    ),
    (
        "rate",
        Goal::ExtraRatio {
            value: "max_window",
            of: "window_bound",
            low: 0.0,
            high: 1.0,
        },
        "most grants in one period ≤ count + burst",
    ),
    (
        "redis",
        Goal::AheadOfPeers,
        "ahead of every peer on the same server",
    ),
];

/// A goal judged on one series.
pub struct Verdict<'a> {
    pub text: &'a str,
    /// admit's row judged, what it was measured against, and the ratio; `None` when the
    /// series lacks the rows (or numbers) the goal needs.
    pub measured: Option<(&'a Row, String, f64)>,
    /// The measurement as the report's goal table shows it.
    pub shown: String,
    pub met: Option<bool>,
}

/// The goals of `group`, judged on `series`.
pub fn judge<'a>(group: &str, series: &Series<'a>) -> Vec<Verdict<'a>> {
    // A series of references only (a floor such as the PING round trip) has no goal.
    if !series.rows.iter().any(|row| row.is_admit()) {
        return Vec::new();
    }
    let mut goals: Vec<(Goal, &'static str)> = GOALS
        .iter()
        .filter(|(name, ..)| *name == group)
        .map(|&(_, goal, text)| (goal, text))
        .collect();
    if goals.is_empty() {
        let fair_peer = series.rows.iter().any(|r| r.is_peer() && r.fair);
        goals.push(if fair_peer {
            (Goal::AheadOfFairPeers(None), "ahead of every fair peer")
        } else {
            (Goal::AheadOfPeers, "ahead of every peer")
        });
    }
    goals
        .into_iter()
        .map(|(goal, text)| judge_goal(goal, text, series))
        .collect()
}

fn judge_goal<'a>(goal: Goal, text: &'a str, series: &Series<'a>) -> Verdict<'a> {
    let against = |c: Comparison<'a>| (c.admit, c.peer.contender.clone(), c.ratio);
    let (measured, bound) = match goal {
        Goal::AheadOfFairPeers(metric) => {
            let fair = |r: &Row| r.fair;
            let c = series.compare(
                metric,
                |r| r.is_admit() && fair(r),
                |r| r.is_peer() && fair(r),
            );
            (c.map(against), 1.0)
        }
        Goal::AheadOfPeers => (
            series
                .compare(None, Row::is_admit, Row::is_peer)
                .map(against),
            1.0,
        ),
        Goal::AtLimit(key, bound) => {
            let admit = series.best(None, Row::is_admit);
            let limit = admit.and_then(|row| Some((row, *row.extra.get(key)?)));
            let measured = limit.map(|(row, limit)| {
                let name = key.strip_suffix("_ns").unwrap_or(key).to_owned();
                (row, name, row.wall_ns.median / limit)
            });
            (measured, bound)
        }
        Goal::ExtraRatio {
            value,
            of,
            low,
            high,
        } => {
            let outside = |ratio: f64| (low - ratio).max(ratio - high);
            let worst = series
                .rows
                .iter()
                .copied()
                .filter(|row| row.is_admit())
                .filter_map(|row| Some((row, row.extra.get(value)? / row.extra.get(of)?)))
                .max_by(|a, b| outside(a.1).total_cmp(&outside(b.1)));
            let shown = worst.map_or_else(
                || "no rows to compare".to_owned(),
                |(row, ratio)| {
                    format!(
                        "{value} / {of} = {} / {} = {ratio:.4} ({})",
                        number(row.extra[value]),
                        number(row.extra[of]),
                        row.contender
                    )
                },
            );
            return Verdict {
                text,
                met: worst.map(|(_, ratio)| (low..=high).contains(&ratio)),
                measured: worst.map(|(row, ratio)| (row, of.to_owned(), ratio)),
                shown,
            };
        }
    };
    let shown = measured.as_ref().map_or_else(
        || "no rows to compare".to_owned(),
        |(admit, against, ratio)| format!("{ratio:.2}× ({} vs {against})", admit.contender),
    );
    Verdict {
        text,
        met: measured.as_ref().map(|m| m.2 <= bound),
        measured,
        shown,
    }
}

/// Where and how the numbers were taken.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Environment {
    pub date: String,
    pub machine: String,
    pub cpu: String,
    pub cores: usize,
    pub toolchain: String,
    pub revision: String,
    pub load_before: String,
    pub load_after: String,
}

/// Nanoseconds with a precision that suits their size.
pub fn ns(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} ms", value / 1e6)
    } else if value >= 1e4 {
        format!("{:.1} µs", value / 1e3)
    } else if value >= 100.0 {
        format!("{value:.0} ns")
    } else {
        format!("{value:.1} ns")
    }
}

/// A free-form `extra` number: whole numbers as they are, others to a precision that suits
/// their size.
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// `0.83× (0.60–1.30) admit-fifo vs tokio`.
fn ratio_cell(comparison: Option<Comparison<'_>>) -> String {
    comparison.map_or_else(
        || "–".to_owned(),
        |c| {
            let (low, high) = c.range;
            let (admit, peer) = (&c.admit.contender, &c.peer.contender);
            format!("{:.2}× ({low:.2}–{high:.2}) {admit} vs {peer}", c.ratio)
        },
    )
}

fn cpu_cell(row: &Row) -> String {
    row.cpu_ns
        .map_or_else(|| "–".to_owned(), |cpu| ns(cpu.mean))
}

/// One line per series: fastest contender, admit against the best peer and the best fair
/// peer, and CPU time per unit for admit's row and the best peer's.
pub fn summary_rows(group: &Group) -> Vec<Vec<String>> {
    series(group)
        .iter()
        .map(|s| {
            let all = s.versus_peers(false);
            let fair = s.versus_peers(true);
            let cpu = all.map_or_else(
                || "–".to_owned(),
                |c| format!("{}, {}", cpu_cell(c.admit), cpu_cell(c.peer)),
            );
            vec![
                s.workload.to_owned(),
                s.runtime.to_owned(),
                format!("{} ({})", s.rows[0].contender, ns(s.rows[0].wall_ns.median)),
                ratio_cell(all),
                ratio_cell(fair),
                cpu,
            ]
        })
        .collect()
}

const SUMMARY_HEADER: [&str; 6] = [
    "workload",
    "runtime",
    "fastest",
    "admit / best peer",
    "admit / best fair peer",
    "cpu/unit: admit, peer",
];

/// A table with a header row, as aligned text (indented by two spaces) or Markdown.
pub fn table<S: AsRef<str>>(header: &[&str], rows: &[Vec<S>], markdown: bool) -> String {
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
    let width = |column: usize| {
        let cells = rows
            .iter()
            .filter_map(|row| row.get(column))
            .map(|c| c.as_ref().chars().count());
        cells
            .chain([header[column].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let mut line = |cells: Vec<&str>| {
        let text: String = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width + 2 - cell.chars().count())))
            .collect();
        let _ = writeln!(out, "  {}", text.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(AsRef::as_ref).collect());
    }
    out
}

/// The closing screen of `cargo xtask compare`: one summary table per group (its rows, for a
/// group without peers).
pub fn screen(groups: &[Group]) -> String {
    let mut out = String::new();
    for group in groups {
        let _ = writeln!(
            out,
            "{} ({}, {}; median over interleaved rounds)",
            group.title, group.group, group.unit
        );
        if has_peers(group) {
            out.push_str(&table(&SUMMARY_HEADER, &summary_rows(group), false));
        } else {
            out.push_str(&rows_table(group, false));
        }
        out.push('\n');
    }
    out
}

/// `docs/benchmarks.md`.
pub fn markdown(environment: &Environment, groups: &[Group]) -> String {
    let e = environment;
    let mut out = format!(
        "# Benchmarks\n\n\
         Written by `cargo xtask bench` from the rows the benchmarks write (`target/admit-bench/*.json`);\n\
         do not edit by hand, run it again instead.\n\n\
         ## Setup\n\n\
         | | |\n| --- | --- |\n\
         | date | {} |\n| machine | {}; {}; {} cores |\n| toolchain | {} |\n| revision | `{}` |\n\
         | load average (1/5/15 min) | {} before, {} after |\n\n\
         ## How to read the tables\n\n\
         Every contender of a workload runs once per round, in rotating order, so all of them see the\n\
         same machine conditions; a time is the median over the rounds, per unit of the group. Rows are\n\
         compared only on the same workload and runtime. A ratio divides admit's time by the peer's:\n\
         below 1.00× admit is faster. In brackets, the range of the ratio of one round to\n\
         another: admit's fastest round against the peer's slowest, and admit's slowest against\n\
         their fastest. CPU time is the process's user + system time per unit, the mean over the\n\
         rounds (kernels that count it in scheduler ticks make one round's figure coarse): a\n\
         contender that is fast by putting a worker to sleep shows less CPU time, one that spins\n\
         shows more. `floor`\n\
         and `baseline-*` rows are references, not peers. Fair contenders serve waiters in arrival order.\n\n\
         ![Bar chart of the medians](benchmarks.svg)\n\n\
         ## Goals\n\n\
         What admit must reach on each workload; judged on the median ratio.\n\n",
        e.date, e.machine, e.cpu, e.cores, e.toolchain, e.revision, e.load_before, e.load_after
    );
    let mut goal_rows = Vec::new();
    for group in groups {
        for s in series(group) {
            for verdict in judge(&group.group, &s) {
                let status = match verdict.met {
                    Some(true) => "met",
                    Some(false) => "**not met**",
                    None => "no data",
                };
                goal_rows.push(vec![
                    group.group.clone(),
                    format!("{} / {}", s.workload, s.runtime),
                    verdict.text.to_owned(),
                    verdict.shown,
                    status.to_owned(),
                ]);
            }
        }
    }
    out.push_str(&table(
        &["group", "workload / runtime", "goal", "measured", "status"],
        &goal_rows,
        true,
    ));
    for group in groups {
        let _ = write!(
            out,
            "\n## {}\n\nGroup `{}`, {}; produced by `{}`.\n\n",
            group.title, group.group, group.unit, group.command
        );
        if has_peers(group) {
            out.push_str(&table(&SUMMARY_HEADER, &summary_rows(group), true));
            out.push('\n');
        }
        out.push_str(&rows_table(group, true));
    }
    out
}

/// Whether any row of `group` is a peer (neither admit's nor a reference).
fn has_peers(group: &Group) -> bool {
    group.rows.iter().any(Row::is_peer)
}

/// Every row of `group`, fastest first within its series, with every `extra` value the group's
/// rows carry. Without peers there is nothing to rank: the `fair` and `× fastest` columns are
/// left out.
pub fn rows_table(group: &Group, markdown: bool) -> String {
    let peers = has_peers(group);
    let extras: Vec<&String> = {
        let mut keys: Vec<&String> = group.rows.iter().flat_map(|r| r.extra.keys()).collect();
        keys.sort();
        keys.dedup();
        keys
    };
    let mut header = vec!["workload", "runtime", "contender"];
    if peers {
        header.push("fair");
    }
    header.extend(["rounds", "wall median", "fastest–slowest round", "cpu"]);
    if peers {
        header.push("× fastest");
    }
    header.extend(extras.iter().map(|k| k.as_str()));
    let mut rows = Vec::new();
    for s in series(group) {
        let fastest = s.rows[0].wall_ns.median;
        for row in &s.rows {
            let name = if row.is_admit() && markdown {
                format!("**{}**", row.contender)
            } else {
                row.contender.clone()
            };
            let mut cells = vec![row.workload.clone(), row.runtime.clone(), name];
            if peers {
                cells.push(if row.fair { "yes" } else { "no" }.to_owned());
            }
            cells.extend([
                row.rounds.to_string(),
                ns(row.wall_ns.median),
                format!("{}–{}", ns(row.wall_ns.min), ns(row.wall_ns.max)),
                cpu_cell(row),
            ]);
            if peers {
                cells.push(format!("{:.2}×", row.wall_ns.median / fastest));
            }
            cells.extend(extras.iter().map(|k| match row.extra.get(*k) {
                Some(v) if k.ends_with("_ns") => ns(*v),
                Some(v) => number(*v),
                None => "–".to_owned(),
            }));
            rows.push(cells);
        }
    }
    table(&header, &rows, markdown)
}

/// `docs/benchmarks.json`: the environment, the goals judged, and every row.
pub fn json(environment: &Environment, groups: &[Group]) -> Result<String> {
    let mut goals = Vec::new();
    for group in groups {
        for s in series(group) {
            for v in judge(&group.group, &s) {
                let m = v.measured.as_ref();
                goals.push(serde_json::json!({
                    "group": group.group, "workload": s.workload, "runtime": s.runtime,
                    "goal": v.text, "met": v.met, "admit": m.map(|m| &m.0.contender),
                    "versus": m.map(|m| &m.1), "ratio": m.map(|m| m.2),
                }));
            }
        }
    }
    let document =
        serde_json::json!({ "environment": environment, "goals": goals, "groups": groups });
    Ok(serde_json::to_string_pretty(&document)? + "\n")
}

/// `docs/benchmarks.svg`: per series, one bar per contender, scaled to the series' slowest.
pub fn svg(groups: &[Group]) -> String {
    const WIDTH: f64 = 900.0;
    const LABEL: f64 = 330.0;
    const BAR: f64 = 14.0;
    let mut body = String::new();
    let mut y = 20.0;
    for group in groups {
        let _ = writeln!(
            body,
            r#"<text x="4" y="{y}" font-weight="bold">{}</text>"#,
            xml(&group.title)
        );
        y += 20.0;
        for s in series(group) {
            let _ = writeln!(
                body,
                r#"<text x="8" y="{y}" font-style="italic">{} · {}</text>"#,
                xml(s.workload),
                xml(s.runtime)
            );
            y += 4.0;
            let slowest = s
                .rows
                .iter()
                .map(|r| r.wall_ns.median)
                .fold(f64::MIN_POSITIVE, f64::max);
            for row in &s.rows {
                let width = (WIDTH - LABEL - 90.0) * row.wall_ns.median / slowest;
                let colour = if row.is_admit() {
                    "#2a7ab0"
                } else if row.is_reference() {
                    "#999999"
                } else {
                    "#e39c37"
                };
                let _ = writeln!(
                    body,
                    r#"<text x="16" y="{:.0}">{}</text><rect x="{LABEL}" y="{y:.0}" width="{width:.1}" height="{}" fill="{colour}"/><text x="{:.1}" y="{:.0}">{}{}</text>"#,
                    y + BAR - 3.0,
                    xml(&row.contender),
                    BAR - 2.0,
                    LABEL + width + 4.0,
                    y + BAR - 3.0,
                    xml(&ns(row.wall_ns.median)),
                    xml(group.unit.strip_prefix("ns").unwrap_or("")),
                );
                y += BAR;
            }
            y += 10.0;
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n",
        y + 10.0
    )
}

/// Escapes text for SVG content and attributes.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small rows file: two runtimes of one workload, admit ahead on one and behind on the
    /// other, a throughput-policy admit row and an unfair peer.
    pub const SAMPLE: &str = r#"{
      "group": "contended",
      "title": "Contended acquire/release, tasks holding a permit",
      "unit": "ns/op",
      "command": "cargo bench -p admit-benches --bench interleaved -- --quick",
      "rows": [
        {"workload": "T16-P4", "runtime": "tokio mt-2", "contender": "admit-fifo", "fair": true, "rounds": 15,
         "wall_ns": {"median": 200.0, "min": 180.0, "max": 260.0}, "cpu_ns": {"mean": 400.0}},
        {"workload": "T16-P4", "runtime": "tokio mt-2", "contender": "admit-throughput", "fair": false, "rounds": 15,
         "wall_ns": {"median": 150.0, "min": 140.0, "max": 170.0}, "cpu_ns": null},
        {"workload": "T16-P4", "runtime": "tokio mt-2", "contender": "tokio", "fair": true, "rounds": 15,
         "wall_ns": {"median": 250.0, "min": 200.0, "max": 300.0}, "cpu_ns": {"mean": 300.0},
         "extra": {"p99_wait_ns": 5000}},
        {"workload": "T16-P4", "runtime": "tokio mt-2", "contender": "async-lock", "fair": false, "rounds": 15,
         "wall_ns": {"median": 120.0, "min": 100.0, "max": 130.0}, "cpu_ns": {"mean": 240.0}},
        {"workload": "T16-P4", "runtime": "smol-2", "contender": "admit-fifo", "fair": true, "rounds": 15,
         "wall_ns": {"median": 330.0, "min": 300.0, "max": 400.0}, "cpu_ns": {"mean": 600.0}},
        {"workload": "T16-P4", "runtime": "smol-2", "contender": "futures-intrusive", "fair": true, "rounds": 15,
         "wall_ns": {"median": 300.0, "min": 290.0, "max": 320.0}, "cpu_ns": {"mean": 390.0}}
      ]
    }"#;

    fn sample() -> Vec<Group> {
        vec![serde_json::from_str(SAMPLE).expect("the sample is a rows file")]
    }

    #[test]
    fn series_compare_admit_with_the_best_peer_and_the_best_fair_peer() {
        let groups = sample();
        let all = series(&groups[0]);
        assert_eq!(all.len(), 2);
        let tokio = &all[0];
        assert_eq!((tokio.workload, tokio.runtime), ("T16-P4", "tokio mt-2"));
        assert_eq!(tokio.rows[0].contender, "async-lock", "fastest first");
        let any = tokio.versus_peers(false).unwrap();
        assert_eq!(
            (any.admit.contender.as_str(), any.peer.contender.as_str()),
            ("admit-throughput", "async-lock")
        );
        assert!((any.ratio - 1.25).abs() < 1e-9);
        let fair = tokio.versus_peers(true).unwrap();
        assert_eq!(
            (fair.admit.contender.as_str(), fair.peer.contender.as_str()),
            ("admit-fifo", "tokio")
        );
        assert!((fair.ratio - 0.8).abs() < 1e-9);
        let (low, high) = fair.range;
        assert!(
            (low - 0.6).abs() < 1e-9 && (high - 1.3).abs() < 1e-9,
            "{low} {high}"
        );

        let verdict = judge("contended", tokio).remove(0);
        assert_eq!(verdict.met, Some(true));
        let verdict = judge("contended", &all[1]).remove(0);
        assert_eq!(
            verdict.met,
            Some(false),
            "330 vs 300 ns is behind the fair peer"
        );
        // The p99 goal needs p99 on both sides: admit has none here.
        assert_eq!(judge("wait-times", tokio)[0].met, None);
    }

    #[test]
    fn a_limit_goal_divides_admit_by_the_limit_its_row_carries() {
        let text = SAMPLE.replace("\"contended\"", "\"uncontended\"").replace(
            "\"cpu_ns\": {\"mean\": 600.0}",
            "\"cpu_ns\": {\"mean\": 600.0}, \"extra\": {\"floor_ns\": 300.0}",
        );
        let group: Group = serde_json::from_str(&text).unwrap();
        let all = series(&group);
        let verdict = judge("uncontended", &all[1]).remove(0);
        let (row, against, ratio) = verdict.measured.unwrap();
        assert_eq!(
            (row.contender.as_str(), against.as_str()),
            ("admit-fifo", "floor")
        );
        assert!((ratio - 1.1).abs() < 1e-9);
        assert_eq!(
            verdict.met,
            Some(true),
            "1.10× is within 1.30× of the floor"
        );
        assert_eq!(
            judge("uncontended", &all[0])[0].met,
            None,
            "no floor in these rows"
        );
    }

    #[test]
    fn markdown_has_setup_goals_and_every_row() {
        let environment = Environment {
            date: "2026-12-03 09:00 UTC".into(),
            cores: 2,
            revision: "abc1234".into(),
            ..Environment::default()
        };
        let text = markdown(&environment, &sample());
        assert!(text.contains("| revision | `abc1234` |"));
        assert!(
            text.contains("| contended | T16-P4 / tokio mt-2 | ahead of every fair peer"),
            "{text}"
        );
        assert!(
            text.contains("| 0.80× (admit-fifo vs tokio) | met |"),
            "{text}"
        );
        assert!(
            text.contains("| 1.10× (admit-fifo vs futures-intrusive) | **not met** |"),
            "{text}"
        );
        assert!(
            text.contains(
                "produced by `cargo bench -p admit-benches --bench interleaved -- --quick`"
            )
        );
        assert!(text.contains("| T16-P4 | tokio mt-2 | **admit-fifo** | yes | 15 | 200 ns | 180 ns–260 ns | 400 ns | 1.67× | – |"), "{text}");
        assert!(text.contains("| p99_wait_ns |"));
        assert!(!text.to_lowercase().contains("issue"));
    }

    /// A group without peers: admit's rate limiter on two runtimes, the second too slow and
    /// over its window bound.
    const PEERLESS: &str = r#"{
      "group": "rate",
      "title": "Rate limiter",
      "unit": "ns/grant",
      "command": "cargo bench -p admit-benches --bench rate -- --quick",
      "rows": [
        {"workload": "500/s burst 1", "runtime": "tokio mt-2", "contender": "admit RateLimiter", "fair": true, "rounds": 1,
         "wall_ns": {"median": 2000400.0, "min": 2000400.0, "max": 2000400.0}, "cpu_ns": {"mean": 60000.0},
         "extra": {"configured_per_s": 500, "achieved_per_s": 499.9, "error_pct": -0.02, "max_window": 501, "window_bound": 501}},
        {"workload": "500/s burst 1", "runtime": "smol 2", "contender": "admit RateLimiter", "fair": true, "rounds": 1,
         "wall_ns": {"median": 2040000.0, "min": 2040000.0, "max": 2040000.0}, "cpu_ns": null,
         "extra": {"configured_per_s": 500, "achieved_per_s": 490.2, "error_pct": -1.96, "max_window": 502, "window_bound": 501}}
      ]
    }"#;

    #[test]
    fn a_group_without_peers_shows_its_rows_and_extra_values_and_is_judged_on_them() {
        let group: Group = serde_json::from_str(PEERLESS).unwrap();
        let all = series(&group);
        let tokio = judge("rate", &all[0]);
        assert_eq!(tokio.len(), 2, "two goals for the rate group");
        assert_eq!(
            tokio.iter().map(|v| v.met).collect::<Vec<_>>(),
            [Some(true), Some(true)]
        );
        assert_eq!(
            tokio[1].shown,
            "max_window / window_bound = 501 / 501 = 1.0000 (admit RateLimiter)"
        );
        let smol = judge("rate", &all[1]);
        assert_eq!(
            smol.iter().map(|v| v.met).collect::<Vec<_>>(),
            [Some(false), Some(false)],
            "1.96 % slow and one grant over the bound"
        );

        let text = markdown(&Environment::default(), std::slice::from_ref(&group));
        assert!(
            text.contains(
                "| rate | 500/s burst 1 / smol 2 | achieved rate within 1 % of the configured rate | \
                 achieved_per_s / configured_per_s = 490.2 / 500 = 0.9804 (admit RateLimiter) | **not met** |"
            ),
            "{text}"
        );
        assert!(
            !text.contains("admit / best peer"),
            "no ratio table: {text}"
        );
        assert!(
            text.contains(
                "| workload | runtime | contender | rounds | wall median | fastest–slowest round | cpu | \
                 achieved_per_s | configured_per_s | error_pct | max_window | window_bound |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| 500/s burst 1 | tokio mt-2 | **admit RateLimiter** | 1 | 2.00 ms | 2.00 ms–2.00 ms | \
                 60.0 µs | 499.9 | 500 | -0.020 | 501 | 501 |"
            ),
            "{text}"
        );

        let screen = screen(std::slice::from_ref(&group));
        assert!(
            screen
                .lines()
                .any(|line| line.contains("smol 2") && line.contains("-1.960")),
            "{screen}"
        );
    }

    #[test]
    fn the_screen_has_one_line_per_series() {
        let text = screen(&sample());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Contended acquire/release"));
        assert!(lines[1].trim_start().starts_with("workload"));
        assert!(
            lines[2].contains("async-lock (120 ns)")
                && lines[2].contains("1.25× (1.08–1.70) admit-throughput vs async-lock"),
            "{text}"
        );
        assert!(
            lines[2].contains("0.80× (0.60–1.30) admit-fifo vs tokio")
                && lines[2].contains("–, 240 ns"),
            "{text}"
        );
        assert!(
            lines[3].contains("futures-intrusive (300 ns)") && lines[3].contains("600 ns, 390 ns"),
            "{text}"
        );
    }

    #[test]
    fn json_and_svg_hold_every_row() {
        let groups = sample();
        let text = json(&Environment::default(), &groups).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["groups"][0]["rows"].as_array().unwrap().len(), 6);
        assert_eq!(back["goals"][0]["met"], true);
        let chart = svg(&groups);
        assert_eq!(chart.matches("<rect x=").count(), 6);
        assert!(chart.contains("futures-intrusive"));
    }

    #[test]
    fn load_reads_every_rows_file_and_rejects_others() {
        let dir = std::env::temp_dir().join(format!("xtask-rows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("contended.json"), SAMPLE).unwrap();
        std::fs::write(dir.join("notes.txt"), "not rows").unwrap();
        let pool = SAMPLE.replace("\"contended\"", "\"pool\"");
        std::fs::write(dir.join("pool.json"), pool).unwrap();
        let groups = load(&dir).unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(names, ["contended", "pool"]);
        std::fs::write(dir.join("broken.json"), "{\"group\": 1}").unwrap();
        assert!(load(&dir).unwrap_err().to_string().contains("broken.json"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(load(&dir).is_err());
    }
}
