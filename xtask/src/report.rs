//! The benchmark report, from the rows files the benchmarks write (a [`Group`] each):
//! `benchmarks.md`, `.json` and `.svg`, and the closing screen of `cargo xtask compare`.
//! Everything here is pure (rows in, text out) except [`load`].
//!
//! Rows are compared only within a *series*: the same group, workload and runtime. Contenders
//! named `admit*` are admit's, `floor` and `baseline-*` are references, every other one is a
//! peer. A goal ([`GOALS`]) divides a number of admit's best row by the best peer's, or by a
//! limit its own row carries. Against a peer, wall times are compared round by round where
//! both rows carry their rounds ([`paired`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Result, table};

/// `benchmarks.json`: where the numbers were taken, and every group as its rows file has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub environment: Environment,
    pub groups: Vec<Group>,
}

/// Where and when the numbers were taken (`unknown` what could not be found out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Environment {
    pub date: String,
    pub machine: String,
    pub cpu: String,
    pub cores: usize,
    pub toolchain: String,
    pub revision: String,
    /// A cache line's round trip to another core and back, before and after the run.
    pub round_trip_ns: (f64, f64),
}

/// One rows file: a group of workloads, every contender of each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Short id (`contended`), also the file's name.
    pub group: String,
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
    /// Process CPU time (user + system) per unit, when measured.
    pub cpu_ns: Option<Cpu>,
    /// Further numbers (`p99_wait_ns`, `floor_ns`), free-form.
    #[serde(default)]
    pub extra: BTreeMap<String, f64>,
}

/// Wall time per unit over the rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wall {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Each round's, in round order, when the benchmark wrote them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<f64>,
}

/// CPU time per unit, the mean over the rounds (the benches' `rows` module says why).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    pub mean: f64,
}

/// admit's wall time `a` over a peer's `p`, with its spread: the median and range of the ratios
/// round by round when both rows carry the same rounds (each round ran both, one after the
/// other, so the machine's drift between rounds cancels out); else the ratio of the medians,
/// between admit's fastest round over the peer's slowest and its slowest over their fastest.
fn paired(a: &Wall, p: &Wall) -> (f64, f64, f64) {
    if a.rounds.is_empty() || a.rounds.len() != p.rounds.len() {
        return (a.median / p.median, a.min / p.max, a.max / p.min);
    }
    let mut ratios: Vec<f64> = a.rounds.iter().zip(&p.rounds).map(|(a, p)| a / p).collect();
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    (ratios[n / 2], ratios[0], ratios[n - 1])
}

/// admit's wall time over a peer's with its spread ([`paired`]): `0.87× (0.80–0.90)`.
fn spread(admit: &Row, peer: &Row) -> String {
    let (ratio, low, high) = paired(&admit.wall_ns, &peer.wall_ns);
    format!("{ratio:.2}× ({low:.2}–{high:.2})")
}

impl Row {
    fn is_admit(&self) -> bool {
        self.contender.starts_with("admit")
    }

    fn is_peer(&self) -> bool {
        let reference = self.contender == "floor" || self.contender.starts_with("baseline");
        !self.is_admit() && !reference
    }

    /// The wall median (`value` `None`), or the `extra` value named.
    fn value(&self, value: Option<&str>) -> Option<f64> {
        value.map_or(Some(self.wall_ns.median), |key| {
            self.extra.get(key).copied()
        })
    }

    /// [`Row::value`] as text: times (the wall median, `*_ns`) as [`ns`] writes them, whole
    /// numbers as they are, others to a precision that suits them; `–` when missing.
    fn shown(&self, value: Option<&str>) -> String {
        let time = value.is_none_or(|key| key.ends_with("_ns"));
        match self.value(value) {
            None => "–".to_owned(),
            Some(v) if time => ns(v),
            Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
            Some(v) if v.abs() >= 100.0 => format!("{v:.1}"),
            Some(v) => format!("{v:.3}"),
        }
    }

    fn cpu(&self) -> String {
        self.cpu_ns.map_or("–".to_owned(), |cpu| ns(cpu.mean))
    }
}

/// `446 ns, 741 ns`: a row's wall time and CPU time per unit.
fn wall_cpu(row: &Row) -> String {
    format!("{}, {}", ns(row.wall_ns.median), row.cpu())
}

/// Reads every `*.json` rows file in `dir`, in the order of [`GOALS`] (then by name); fails
/// when `dir` holds none or one is not in the rows format.
pub fn load(dir: &Path) -> Result<Vec<Group>> {
    let mut groups = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let group = serde_json::from_str(&std::fs::read_to_string(&path)?);
            groups.push(group.map_err(|e| format!("{}: not rows: {e}", path.display()))?);
        }
    }
    if groups.is_empty() {
        return Err(format!("no rows files (*.json) in {}", dir.display()).into());
    }
    groups.sort_by_key(|g: &Group| {
        let known = GOALS.iter().position(|goal| goal.0 == g.group);
        (known.unwrap_or(GOALS.len()), g.group.clone())
    });
    Ok(groups)
}

/// `benchmarks.json`, by way of a [`serde_json::Value`], whose objects keep their keys sorted.
pub fn json(report: &Report) -> Result<String> {
    Ok(serde_json::to_string_pretty(&serde_json::to_value(report)?)? + "\n")
}

/// The rows of one workload on one runtime, fastest first.
type Series<'a> = Vec<&'a Row>;

/// A group's series, in the order their first rows appear.
fn series(group: &Group) -> Vec<Series<'_>> {
    let mut all: Vec<Series<'_>> = Vec::new();
    for row in &group.rows {
        let same = |s: &&mut Series| s[0].workload == row.workload && s[0].runtime == row.runtime;
        match all.iter_mut().find(same) {
            Some(series) => series.push(row),
            None => all.push(vec![row]),
        }
    }
    for series in &mut all {
        series.sort_by(|a, b| a.wall_ns.median.total_cmp(&b.wall_ns.median));
    }
    all
}

/// What a goal holds admit's number against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Against {
    /// The same number of the best fair peer (admit's fair rows only).
    FairPeers,
    /// The same number of the best peer.
    Peers,
    /// Another number of admit's own row, from `extra`: a limit, a configured rate.
    Own(&'static str),
}

use Against::{FairPeers, Own, Peers};

/// A goal: in a group, admit's number (the wall median, or an `extra` value) divided by what
/// it is held against must be in the range, for admit's best row.
type Goal = (&'static str, Option<&'static str>, Against, (f64, f64));

const AHEAD: (f64, f64) = (0.0, 1.0);

/// The goal of a group [`GOALS`] does not list: ahead of every fair peer.
const DEFAULT_GOAL: Goal = ("", None, FairPeers, AHEAD);

/// What admit must reach on each group (a group may have several goals).
pub const GOALS: [Goal; 10] = [
    ("uncontended", None, Own("floor_ns"), (0.0, 1.3)),
    ("uncontended", None, Peers, AHEAD),
    ("contended", None, FairPeers, AHEAD),
    ("oversubscribed", None, FairPeers, AHEAD),
    ("wait-times", Some("p99_wait_ns"), FairPeers, AHEAD),
    ("waiter-scaling", None, FairPeers, AHEAD),
    ("pool", None, Peers, AHEAD),
    (
        "rate",
        Some("achieved_per_s"),
        Own("configured_per_s"),
        (0.99, 1.01),
    ),
    ("rate", Some("max_window"), Own("window_bound"), AHEAD),
    ("redis", None, Peers, AHEAD),
];

/// How the report states a goal: `ahead of every fair peer`, `p99_wait_ns ≤ best fair
/// peer's`, `wall / floor_ns ≤ 1.30`, `achieved_per_s / configured_per_s in 0.99–1.01`.
fn stated(&(_, value, against, (low, high)): &Goal) -> String {
    let name = value.unwrap_or("wall");
    let fair = if against == FairPeers { "fair " } else { "" };
    match (value, against) {
        (_, Own(key)) if low > 0.0 => format!("{name} / {key} in {low:.2}–{high:.2}"),
        (_, Own(key)) => format!("{name} / {key} ≤ {high:.2}"),
        (None, _) => format!("ahead of every {fair}peer"),
        (Some(_), _) => format!("{name} ≤ best {fair}peer's"),
    }
}

/// admit's best row held against the best peer's or against a limit of its own.
struct Judged<'a> {
    admit: &'a Row,
    /// The peer held against (`None` for a limit).
    peer: Option<&'a Row>,
    /// admit's number (the wall median when `None`), and the peer or `extra` value it is
    /// divided by.
    value: Option<&'a str>,
    against: &'a str,
    ratio: f64,
}

impl Judged<'_> {
    /// `0.87× (0.80–0.90) admit-fifo vs tokio`, with the spread of wall times ([`paired`]),
    /// or against a limit `wall / floor_ns = 27.5 ns / 18.6 ns = 1.478 (admit-fifo)`.
    fn shown(&self) -> String {
        let (admit, ratio, against) = (self.admit, self.ratio, self.against);
        let Some(peer) = self.peer else {
            let name = self.value.unwrap_or("wall");
            let (mine, limit) = (admit.shown(self.value), admit.shown(Some(against)));
            let sum = format!("{name} / {against} = {mine} / {limit}");
            return format!("{sum} = {ratio:.3} ({})", admit.contender);
        };
        let names = format!("{} vs {against}", admit.contender);
        if self.value.is_some() {
            return format!("{ratio:.2}× {names}");
        }
        format!("{} {names}", spread(admit, peer))
    }
}

/// admit's row with the lowest ratio of its `value` to what it is held `against`; `None`
/// when the series lacks the rows or numbers for it.
fn judge<'a>(s: &[&'a Row], value: Option<&'a str>, against: Against) -> Option<Judged<'a>> {
    let fair = |row: &Row| row.fair || against != FairPeers;
    let lowest = |a: &(&Row, f64), b: &(&Row, f64)| a.1.total_cmp(&b.1);
    let peers = s.iter().filter(|r| r.is_peer() && fair(r));
    let peer = peers
        .filter_map(|r| Some((*r, r.value(value)?)))
        .min_by(lowest);
    let admits = s.iter().filter(|r| r.is_admit() && fair(r));
    let ratios = admits.filter_map(|admit| {
        let ratio = match (against, peer) {
            (Own(key), _) => admit.value(value)? / admit.extra.get(key)?,
            (_, Some((peer, _))) if value.is_none() => paired(&admit.wall_ns, &peer.wall_ns).0,
            (_, reference) => admit.value(value)? / reference?.1,
        };
        Some((*admit, ratio))
    });
    let (admit, ratio) = ratios.min_by(lowest)?;
    let (peer, against) = match against {
        Own(key) => (None, key),
        _ => (Some(peer?.0), peer?.0.contender.as_str()),
    };
    Some(Judged {
        admit,
        peer,
        value,
        against,
        ratio,
    })
}

/// A goal judged on a series: group, series, the goal as stated, and whether it was met and
/// how (`None` when the series lacks the rows or numbers it needs).
type Verdict<'a> = (&'a str, String, String, Option<(bool, Judged<'a>)>);

/// Every goal judged on every series with admit rows.
fn verdicts(groups: &[Group]) -> Vec<Verdict<'_>> {
    let with_admit = |s: &&Series| s.iter().any(|r| r.is_admit());
    let mut verdicts = Vec::new();
    for group in groups {
        let mut goals: Vec<&Goal> = GOALS.iter().filter(|g| g.0 == group.group).collect();
        if goals.is_empty() {
            goals.push(&DEFAULT_GOAL);
        }
        for s in series(group).iter().filter(with_admit) {
            let series = format!("{} / {}", s[0].workload, s[0].runtime);
            for goal @ &&(_, value, against, (low, high)) in &goals {
                let judged = judge(s, value, against).map(|j| ((low..=high).contains(&j.ratio), j));
                verdicts.push((group.group.as_str(), series.clone(), stated(goal), judged));
            }
        }
    }
    verdicts
}

/// Nanoseconds with a precision that suits their size.
fn ns(value: f64) -> String {
    match value {
        v if v >= 1e6 => format!("{:.2} ms", v / 1e6),
        v if v >= 1e4 => format!("{:.1} µs", v / 1e3),
        v if v >= 100.0 => format!("{v:.0} ns"),
        v => format!("{v:.1} ns"),
    }
}

/// Every row of `group`, fastest first within its series, with every `extra` value.
fn rows_table(group: &Group) -> String {
    let extras: BTreeSet<&String> = group.rows.iter().flat_map(|r| r.extra.keys()).collect();
    let header = "workload|runtime|contender|fair|rounds|wall median|fastest–slowest round|cpu";
    let mut header: Vec<&str> = header.split('|').collect();
    header.push("× fastest");
    header.extend(extras.iter().map(|key| key.as_str()));
    let mut rows = Vec::new();
    for s in series(group) {
        for row in &s {
            let bold = if row.is_admit() { "**" } else { "" };
            let wall = &row.wall_ns;
            let mut cells = vec![row.workload.clone(), row.runtime.clone()];
            cells.push(format!("{bold}{}{bold}", row.contender));
            cells.push(if row.fair { "yes" } else { "no" }.to_owned());
            cells.extend([row.rounds.to_string(), ns(wall.median)]);
            cells.extend([format!("{}–{}", ns(wall.min), ns(wall.max)), row.cpu()]);
            cells.push(format!("{:.2}×", wall.median / s[0].wall_ns.median));
            cells.extend(extras.iter().map(|key| row.shown(Some(key))));
            rows.push(cells);
        }
    }
    table(&header, &rows, true)
}

/// The widest line [`screen`] writes (for the rows of `docs/benchmarks.json`).
const SCREEN_WIDTH: usize = 120;

const SCREEN_INTRO: &str = "\
Times per unit are medians of interleaved rounds; admit ÷ peer is the median ratio of paired rounds
(lowest–highest), for admit's best row against the best peer of any kind and the best fair one.
";

/// The `extra` values the screen shows for a group without peers (the report has them all).
const SCREEN_EXTRAS: [&str; 5] = [
    "achieved_per_s",
    "configured_per_s",
    "error_pct",
    "max_window",
    "window_bound",
];

/// The closing screen of `cargo xtask compare`, in [`SCREEN_WIDTH`] columns: what it shows,
/// the contenders' short names, then per group its [`judged_table`], or without peers every
/// row with the values of [`SCREEN_EXTRAS`].
pub fn screen(groups: &[Group]) -> String {
    let short = short_names(groups);
    let names = short.iter().filter(|(name, short)| *name != short);
    let names: Vec<String> = names
        .map(|(name, short)| format!("{short} = {name}"))
        .collect();
    let mut out = SCREEN_INTRO.to_owned() + &wrapped("Short names: ", &names, 2) + "\n";
    for g in groups {
        let (title, group, unit) = (&g.title, &g.group, &g.unit);
        let once = if g.rows.iter().all(|r| r.rounds == 1) {
            "; one round"
        } else {
            ""
        };
        let _ = writeln!(out, "{title} ({group}, {unit}{once})");
        out += &if g.rows.iter().any(Row::is_peer) {
            judged_table(g, &short, false)
        } else {
            own_table(g, &short)
        };
        out.push('\n');
    }
    out
}

/// `items` after `lead`, comma-separated, in lines of at most [`SCREEN_WIDTH`] columns, the
/// next ones indented by `indent` spaces.
pub fn wrapped(lead: &str, items: &[impl AsRef<str>], indent: usize) -> String {
    let (mut out, mut line) = (String::new(), lead.to_owned());
    for item in items {
        let item = item.as_ref();
        if line.chars().count() + item.chars().count() + 1 > SCREEN_WIDTH {
            out = out + line.trim_end() + "\n";
            line = " ".repeat(indent);
        }
        line = line + item + ", ";
    }
    out + line.trim_end_matches([',', ' ']) + "\n"
}

/// A contender's name on the screen: its initials (`af` for `admit-fifo`, `arl` for
/// `admit RateLimiter`) unless it is five characters or fewer, numbered where two would meet.
fn short_names(groups: &[Group]) -> BTreeMap<&str, String> {
    let mut names: BTreeMap<&str, String> = BTreeMap::new();
    for name in groups.iter().flat_map(|g| &g.rows).map(|r| &*r.contender) {
        if names.contains_key(name) {
            continue;
        }
        let mut initials = String::new();
        if name.chars().count() <= 5 {
            initials = name.to_owned();
        } else {
            let mut previous = ' ';
            for c in name.chars() {
                let word =
                    !previous.is_alphanumeric() || previous.is_lowercase() && c.is_uppercase();
                if c.is_alphanumeric() && word {
                    initials.extend(c.to_lowercase());
                }
                previous = c;
            }
        }
        let (mut short, mut number) = (initials.clone(), 1);
        while names.values().any(|taken| *taken == short) {
            number += 1;
            short = format!("{initials}{number}");
        }
        names.insert(name, short);
    }
    names
}

/// A screen table's rows: `lines` of each series, under a line naming the runtime wherever it
/// changes.
fn by_runtime<'a>(
    group: &'a Group,
    mut lines: impl FnMut(&Series<'a>) -> Vec<Vec<String>>,
) -> Vec<Vec<String>> {
    let (mut rows, mut runtime) = (Vec::new(), None);
    for s in series(group) {
        if runtime != Some(&s[0].runtime) {
            runtime = Some(&s[0].runtime);
            rows.push(vec![format!("{}:", s[0].runtime)]);
        }
        rows.extend(lines(&s));
    }
    rows
}

/// A group with peers, series by series: the fastest row, and admit's best rows against the best
/// peer and the best fair peer (one line when both are the same rows), with their wall and CPU
/// times; contenders by the `names` given.
fn judged_table(group: &Group, names: &BTreeMap<&str, String>, markdown: bool) -> String {
    let named = |row: &Row, text: String| format!("{} {text}", names[&*row.contender]);
    let times = |row: &Row| named(row, wall_cpu(row));
    let rows = by_runtime(group, |s| {
        let (any, fair) = (judge(s, None, Peers), judge(s, None, FairPeers));
        let same = match (&any, &fair) {
            (Some(a), Some(f)) => a.admit.contender == f.admit.contender && a.against == f.against,
            (a, f) => a.is_none() && f.is_none(),
        };
        let judged = if same {
            vec![("any, fair", any)]
        } else {
            vec![("any", any), ("fair", fair)]
        };
        // The workload and its fastest row on the series' first line only.
        let mut first = vec![s[0].workload.clone(), named(s[0], ns(s[0].wall_ns.median))];
        let lines = judged.into_iter().map(|(peers, judged)| {
            let mut cells = std::mem::replace(&mut first, vec![String::new(); 2]);
            cells.push(peers.to_owned());
            let Some((admit, peer)) = judged.and_then(|j| Some((j.admit, j.peer?))) else {
                cells.push("–".to_owned());
                return cells;
            };
            cells.extend([spread(admit, peer), times(admit), times(peer)]);
            cells
        });
        lines.collect()
    });
    let header = "workload|fastest|best peer|admit ÷ peer|admit wall, cpu|peer wall, cpu";
    table(&header.split('|').collect::<Vec<_>>(), &rows, markdown)
}

/// A group without peers on the screen: every row, with the values of [`SCREEN_EXTRAS`] it has.
fn own_table(group: &Group, short: &BTreeMap<&str, String>) -> String {
    let has = |key: &&str| group.rows.iter().any(|r| r.extra.contains_key(*key));
    let extras: Vec<&str> = SCREEN_EXTRAS.into_iter().filter(has).collect();
    let mut header = vec!["workload", "contender", "wall", "cpu"];
    header.extend(&extras);
    let rows = by_runtime(group, |s| {
        let lines = s.iter().map(|row| {
            let (workload, name) = (row.workload.clone(), short[&*row.contender].clone());
            let mut cells = vec![workload, name, ns(row.wall_ns.median), row.cpu()];
            cells.extend(extras.iter().map(|key| row.shown(Some(key))));
            cells
        });
        lines.collect()
    });
    table(&header, &rows, false)
}

const HOW_TO_READ: &str = "\
## How to read the tables

Every contender of a workload runs once per round, in rotating order, so that all of them see
the same machine; a time is the median over the rounds, per unit of the group. Rows are
compared only on the same workload and runtime. A ratio divides admit's time by the peer's,
round by round (both ran in each round, one after the other): the median of those ratios, and
in brackets the lowest and highest; below 1.00× admit is faster. Rows without their rounds
(one-run groups) give the ratio of the medians, and in brackets admit's fastest round against
the peer's slowest and its slowest against their fastest. CPU time is the process's user +
system time per unit, the mean over the rounds: a contender that is fast by putting a worker
to sleep shows less of it, one that spins shows more. `floor` and `baseline-*` rows are
references, not peers. Fair contenders serve waiters in arrival order.
The cross-core round trip is a cache line's trip to another core and back, before and after
the run: on a shared virtual machine the contended rows move with it. The `hold=yield` rows on
2 tokio workers also move with whether the workers take turns or both stay busy (compare the
CPU times; `docs/benchmarks-notes.md` measures both).

![admit against the peer or limit of each goal](benchmarks.svg)

## Goals

What admit must reach on each workload: admit's best row against the best (fair) peer, its
time as the ratio above, or against a limit in its own row (`floor_ns`: bare atomics).
";

/// `benchmarks.md`.
pub fn markdown(report: &Report) -> String {
    let (e, groups) = (&report.environment, &report.groups);
    let (date, cpu, cores, toolchain, revision) =
        (&e.date, &e.cpu, e.cores, &e.toolchain, &e.revision);
    let machine = format!("{}; {cpu}; {cores} cores", e.machine);
    let (before, after) = (ns(e.round_trip_ns.0), ns(e.round_trip_ns.1));
    let mut out = format!(
        "# Benchmarks\n\n\
         Written by `cargo xtask bench` from the rows the benchmarks write \
         (`target/admit-bench/*.json`);\ndo not edit by hand, run it again.\n\n\
         ## Setup\n\n| | |\n|---|---|\n| date | {date} |\n| machine | {machine} |\n\
         | toolchain | {toolchain} |\n| revision | `{revision}` |\n\
         | cross-core round trip | {before} before, {after} after |\n\n{HOW_TO_READ}\n"
    );
    let mut goals = Vec::new();
    for (group, series, goal, judged) in verdicts(groups) {
        let (shown, status) = match judged {
            Some((met, j)) => (j.shown(), if met { "met" } else { "**not met**" }),
            None => ("no rows to compare".to_owned(), "no data"),
        };
        let status = status.to_owned();
        goals.push(vec![group.to_owned(), series, goal, shown, status]);
    }
    let header = ["group", "workload / runtime", "goal", "measured", "status"];
    out += &table(&header, &goals, true);
    for g in groups {
        let (title, group, unit, command) = (&g.title, &g.group, &g.unit, &g.command);
        out += &format!("\n## {title}\n\nGroup `{group}`, {unit}; produced by `{command}`.\n\n");
        if g.rows.iter().any(Row::is_peer) {
            let names = g.rows.iter().map(|r| (&*r.contender, r.contender.clone()));
            out += &judged_table(g, &names.collect(), true);
            out.push('\n');
        }
        out += &rows_table(g);
    }
    out
}

/// `benchmarks.svg`: a bar per goal judged, admit's ratio on a scale to 2×, green where the
/// goal is met, with a line at 1×.
pub fn svg(report: &Report) -> String {
    let mut bars = String::new();
    let mut y = 30;
    for (group, series, _, judged) in verdicts(&report.groups) {
        let Some((met, j)) = judged else { continue };
        let (ratio, admit, against) = (j.ratio, &j.admit.contender, j.against);
        let width = 200.0 * ratio.min(2.0);
        let colour = if met { "#3a7d44" } else { "#c0392b" };
        let label = xml(&format!("{group} · {series}"));
        let text = xml(&format!("{ratio:.2}× {admit} vs {against}"));
        let _ = writeln!(
            bars,
            "<text x=\"424\" y=\"{0}\" text-anchor=\"end\">{label}</text>\
             <rect x=\"430\" y=\"{y}\" width=\"{width:.1}\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"836\" y=\"{0}\">{text}</text>",
            y + 10,
        );
        y += 16;
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1100\" height=\"{}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"430\" y=\"16\">admit / the peer or limit of each goal (below 1× admit is \
         faster)</text>\n{bars}\
         <line x1=\"630\" x2=\"630\" y1=\"22\" y2=\"{y}\" stroke=\"black\" stroke-dasharray=\"3\"/>\n\
         </svg>\n",
        y + 10
    )
}

/// Escapes text for SVG.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of two groups: `contended` on two runtimes (admit ahead of the fair peers on one
    /// and behind on the other, a throughput-policy admit row, an unfair peer), and `rate`
    /// (no peers; the second runtime too slow and over its window bound).
    const ROWS: [&str; 2] = [
        r#"{"group": "contended", "title": "Contended", "unit": "ns/op", "command": "cargo bench --bench interleaved", "rows": [
            {"workload": "T16-P4", "runtime": "tokio", "contender": "admit-fifo", "fair": true, "rounds": 3, "wall_ns": {"median": 200, "min": 180, "max": 260, "rounds": [200, 180, 260]}, "cpu_ns": {"mean": 400}},
            {"workload": "T16-P4", "runtime": "tokio", "contender": "admit-throughput", "fair": false, "rounds": 15, "wall_ns": {"median": 150, "min": 140, "max": 170}, "cpu_ns": null},
            {"workload": "T16-P4", "runtime": "tokio", "contender": "tokio", "fair": true, "rounds": 3, "wall_ns": {"median": 250, "min": 200, "max": 300, "rounds": [250, 200, 300]}, "cpu_ns": {"mean": 300}, "extra": {"p99_wait_ns": 5000}},
            {"workload": "T16-P4", "runtime": "tokio", "contender": "async-lock", "fair": false, "rounds": 15, "wall_ns": {"median": 120, "min": 100, "max": 130}, "cpu_ns": {"mean": 240}},
            {"workload": "T16-P4", "runtime": "smol", "contender": "admit-fifo", "fair": true, "rounds": 15, "wall_ns": {"median": 330, "min": 300, "max": 400}, "cpu_ns": {"mean": 600}},
            {"workload": "T16-P4", "runtime": "smol", "contender": "futures-intrusive", "fair": true, "rounds": 15, "wall_ns": {"median": 300, "min": 290, "max": 320}, "cpu_ns": {"mean": 390}}]}"#,
        r#"{"group": "rate", "title": "Rate limiter", "unit": "ns/grant", "command": "cargo bench --bench rate", "rows": [
            {"workload": "500/s", "runtime": "tokio", "contender": "admit RateLimiter", "fair": true, "rounds": 1, "wall_ns": {"median": 2000400, "min": 2000400, "max": 2000400}, "cpu_ns": {"mean": 60000},
             "extra": {"configured_per_s": 500, "achieved_per_s": 499.9, "max_window": 501, "window_bound": 501}},
            {"workload": "500/s", "runtime": "smol", "contender": "admit RateLimiter", "fair": true, "rounds": 1, "wall_ns": {"median": 2040000, "min": 2040000, "max": 2040000}, "cpu_ns": null,
             "extra": {"configured_per_s": 500, "achieved_per_s": 490.2, "max_window": 502, "window_bound": 501}}]}"#,
    ];

    /// The rows with a setup that lacks what could not be found out.
    fn report() -> Report {
        let setup = r#"{"revision": "abc1234", "round_trip_ns": [180, 212.4]}"#;
        let groups = ROWS.join(", ");
        let text = format!(r#"{{"environment": {setup}, "groups": [{groups}]}}"#);
        serde_json::from_str(&text).expect("a report")
    }

    #[test]
    fn markdown_has_the_goals_and_every_row() {
        let text = markdown(&report());
        for line in [
            "| contended | T16-P4 / tokio | ahead of every fair peer | 0.87× (0.80–0.90) admit-fifo vs tokio | met |",
            "| contended | T16-P4 / smol | ahead of every fair peer | 1.10× (0.94–1.38) admit-fifo vs futures-intrusive | **not met** |",
            "| rate | 500/s / tokio | achieved_per_s / configured_per_s in 0.99–1.01 | achieved_per_s / configured_per_s = 499.9 / 500 = 1.000 (admit RateLimiter) | met |",
            "| rate | 500/s / smol | achieved_per_s / configured_per_s in 0.99–1.01 | achieved_per_s / configured_per_s = 490.2 / 500 = 0.980 (admit RateLimiter) | **not met** |",
            "| rate | 500/s / smol | max_window / window_bound ≤ 1.00 | max_window / window_bound = 502 / 501 = 1.002 (admit RateLimiter) | **not met** |",
            "| T16-P4 | async-lock 120 ns | any | 1.25× (1.08–1.70) | admit-throughput 150 ns, – | async-lock 120 ns, 240 ns |",
            "| T16-P4 | tokio | **admit-fifo** | yes | 3 | 200 ns | 180 ns–260 ns | 400 ns | 1.67× | – |",
            "| 500/s | smol | **admit RateLimiter** | yes | 1 | 2.04 ms | 2.04 ms–2.04 ms | – | 1.00× | 490.2 | 500 | 502 | 501 |",
        ] {
            assert!(text.contains(line), "missing {line}\nin\n{text}");
        }
        let summaries = text.matches("| admit ÷ peer |").count();
        assert_eq!(summaries, 1, "no summary without peers");
        assert!(!text.to_lowercase().contains("issue"));
    }

    #[test]
    fn goals_need_their_numbers_and_a_limit_is_the_rows_own() {
        let mut groups = report().groups;
        groups[0].group = "wait-times".to_owned();
        groups[0].rows[4].extra.insert("floor_ns".to_owned(), 300.0);
        let verdicts = verdicts(&groups);
        assert_eq!(verdicts[0].2, "p99_wait_ns ≤ best fair peer's");
        assert!(verdicts[0].3.is_none(), "admit has no p99 here");
        let floor = judge(&series(&groups[0])[1], None, Own("floor_ns")).unwrap();
        let shown = "wall / floor_ns = 330 ns / 300 ns = 1.100 (admit-fifo)";
        assert_eq!(floor.shown(), shown);
        assert!(judge(&series(&groups[0])[0], None, Own("floor_ns")).is_none());
    }

    #[test]
    fn the_screen_and_chart() {
        let report = report();
        let text = screen(&report.groups);
        let legend = "Short names: arl = admit RateLimiter, af = admit-fifo, at = admit-throughput, \
                      al = async-lock, fi = futures-intrusive\n\nContended (contended, ns/op)\n";
        let tokio = "  tokio:\n  T16-P4    al 120 ns  any        1.25× (1.08–1.70)  at 150 ns, –       al 120 ns, 240 ns\n\
                     \x20                      fair       0.87× (0.80–0.90)  af 200 ns, 400 ns  tokio 250 ns, 300 ns\n";
        let smol = "  smol:\n  T16-P4    fi 300 ns  any, fair  1.10× (0.94–1.38)  af 330 ns, 600 ns  fi 300 ns, 390 ns\n";
        let rate = "Rate limiter (rate, ns/grant; one round)\n\
                    \x20 workload  contender  wall     cpu      achieved_per_s  configured_per_s  max_window  window_bound\n";
        let rate_smol = "  500/s     arl        2.04 ms  –        490.2           500               502         501\n";
        for part in [legend, tokio, smol, rate, rate_smol] {
            assert!(text.contains(part), "{part}\nnot in\n{text}");
        }
        let (w, indent) = ("release_wakes_every_servable_waiter", " ".repeat(14));
        let wrapped = wrapped("  async-lock  ", &[w; 4], 14);
        assert_eq!(
            wrapped,
            format!("  async-lock  {w}, {w},\n{indent}{w}, {w}\n")
        );
        let chart = svg(&report);
        let bars = chart.matches("<rect x=\"430\"").count();
        assert_eq!(bars, 6, "a bar per goal judged");
        let bar = "1.10× admit-fifo vs futures-intrusive";
        assert!(chart.contains(bar), "{chart}");
    }

    #[test]
    fn load_reads_every_rows_file_in_goal_order_and_rejects_others() {
        let dir = std::env::temp_dir().join(format!("xtask-rows-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rate.json"), ROWS[1]).unwrap();
        std::fs::write(dir.join("contended.json"), ROWS[0]).unwrap();
        std::fs::write(dir.join("notes.txt"), "not rows").unwrap();
        let names: Vec<String> = load(&dir).unwrap().into_iter().map(|g| g.group).collect();
        assert_eq!(names, ["contended", "rate"]);
        std::fs::write(dir.join("broken.json"), "{\"group\": 1}").unwrap();
        assert!(load(&dir).unwrap_err().to_string().contains("broken.json"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(load(&dir).is_err());
    }

    /// The committed report's screen fits in [`SCREEN_WIDTH`] columns, lists every short name
    /// once, and has, each on one line in column order, each series' ratios with both rows'
    /// wall and CPU times, and a peerless row's times and the [`SCREEN_EXTRAS`] values it has.
    #[test]
    fn the_committed_screen_fits_and_answers() {
        let json = std::fs::read_to_string(crate::project_root().join("docs/benchmarks.json"));
        let report: Report = serde_json::from_str(&json.unwrap()).unwrap();
        let text = screen(&report.groups);
        let widest = text.lines().map(|line| line.chars().count()).max();
        assert!(
            widest <= Some(SCREEN_WIDTH),
            "wider than {SCREEN_WIDTH} columns:\n{text}"
        );
        let short = short_names(&report.groups);
        let distinct: BTreeSet<&String> = short.values().collect();
        assert_eq!(distinct.len(), short.len(), "{short:?}");
        for (name, short) in short.iter().filter(|(name, short)| *name != short) {
            assert!(text.contains(&format!(" {short} = {name}")), "{name}");
        }
        let lines: Vec<String> = text.lines().map(|line| format!("{line} ")).collect();
        // A line holding `parts` one after another, in their columns' order.
        let in_order = |line: &str, parts: &[String]| {
            let mut rest = line;
            parts.iter().all(|part| match rest.find(part.as_str()) {
                Some(at) => {
                    rest = &rest[at + part.len()..];
                    true
                }
                None => false,
            })
        };
        let on_a_line = |parts: &[String]| {
            let found = lines.iter().any(|line| in_order(line, parts));
            assert!(found, "no line with {parts:?} in order in\n{text}");
        };
        let named = |row: &Row| format!("{} {}", short[&*row.contender], wall_cpu(row));
        for group in &report.groups {
            let peers = group.rows.iter().any(Row::is_peer);
            for s in series(group) {
                let judged = [Peers, FairPeers].map(|against| judge(&s, None, against));
                for j in judged.iter().flatten() {
                    let peer = j.peer.unwrap();
                    on_a_line(&[spread(j.admit, peer), named(j.admit), named(peer)]);
                }
                if peers {
                    continue;
                }
                for row in &s {
                    let (name, wall) = (&short[&*row.contender], ns(row.wall_ns.median));
                    let mut parts = vec![format!("  {} ", row.workload), format!(" {name} ")];
                    parts.extend([format!(" {wall} "), format!(" {} ", row.cpu())]);
                    let extras = SCREEN_EXTRAS
                        .iter()
                        .filter(|key| row.extra.contains_key(**key));
                    parts.extend(extras.map(|key| format!(" {} ", row.shown(Some(key)))));
                    on_a_line(&parts);
                }
            }
        }
    }

    /// The committed report is what this code renders from its JSON (after a change here,
    /// `cargo xtask bench --no-run` writes it again), and every goal in it has its numbers.
    #[test]
    fn the_committed_report_renders_again() {
        let docs = crate::project_root().join("docs");
        let read = |name: &str| std::fs::read_to_string(docs.join(name)).unwrap();
        let report: Report = serde_json::from_str(&read("benchmarks.json")).unwrap();
        assert_eq!(json(&report).unwrap(), read("benchmarks.json"));
        assert_eq!(markdown(&report), read("benchmarks.md"));
        assert_eq!(svg(&report), read("benchmarks.svg"));
        assert!(!read("benchmarks.md").contains("| no data |"));
    }
}
