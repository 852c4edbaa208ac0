//! The benchmark report: reads criterion's result files and writes them out as Markdown
//! tables, JSON and an SVG bar chart.
//!
//! Criterion leaves one directory per benchmark under `target/criterion`; its `new/`
//! subdirectory holds `benchmark.json` (the ids: `group_id`, `function_id`, `value_str`)
//! and `estimates.json` (`mean.point_estimate`, nanoseconds per iteration). Each criterion
//! group becomes one table, each parameter within it one "series". A row is ours when its
//! function name starts with `admit`; every other row is a peer, and each row is compared
//! with the *best peer*: the fastest peer of the same group and parameter.
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
    /// Mean time per iteration, in nanoseconds.
    pub mean_ns: f64,
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
        Ok(Measurement {
            function: optional("function_id").unwrap_or_else(|| group.clone()),
            group,
            parameter: optional("value_str"),
            mean_ns,
        })
    }

    /// Whether this row measures admit itself rather than a peer.
    pub fn is_ours(&self) -> bool {
        self.function.to_ascii_lowercase().starts_with("admit")
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
}

/// A complete report: the environment and the measurements.
#[derive(Debug, Clone)]
pub struct Report {
    /// Where and how.
    pub environment: Environment,
    /// What was measured.
    pub measurements: Vec<Measurement>,
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
    /// The whole Markdown document for `docs/benchmarks.md`.
    pub fn markdown(&self) -> String {
        let env = &self.environment;
        let mut out = String::new();
        out.push_str("# Benchmarks\n\n");
        out.push_str(
            "Written by `cargo xtask bench`; do not edit by hand, run it again instead.\n\n",
        );
        out.push_str("| | |\n| --- | --- |\n");
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
        out.push('\n');
        out.push_str(
            "Times are criterion's mean per iteration. \"vs best peer\" divides a row's time by \
             that of the fastest non-admit row with the same parameter in the same group: \
             below 1.00× is faster than every peer.\n\n",
        );
        out.push_str("![Bar chart of the same numbers](benchmarks.svg)\n\n");
        out.push_str(&self.tables());
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
            let _ = writeln!(out, "## {}\n", group.name);
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
            (
                "unit",
                json::quote("ns per iteration (criterion mean point estimate)"),
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
                 \"ours\": {}, \"best_peer\": {}, \"ratio_vs_best_peer\": {}}}",
                json::quote(&m.group),
                json::quote(&m.function),
                optional(m.parameter.as_deref()),
                json::number(m.mean_ns),
                m.is_ours(),
                optional(row.best_peer.map(|p| p.function.as_str())),
                row.ratio().map_or("null".to_owned(), json::number),
            );
        }
        out.push_str("\n  ]\n}\n");
        out
    }

    /// A horizontal bar chart for `docs/benchmarks.svg`: one block of bars per group and
    /// parameter, each block on its own scale (groups differ by orders of magnitude);
    /// admit's bars in colour, peers in grey.
    pub fn svg(&self) -> String {
        const WIDTH: usize = 960;
        const LABEL_RIGHT: usize = 290;
        const BAR_LEFT: usize = 300;
        const BAR_MAX: f64 = 520.0;
        const ROW: usize = 20;
        const BAR: usize = 14;
        const TITLE: usize = 28;
        const GAP: usize = 14;
        const OURS: &str = "#d9480f";
        const PEER: &str = "#adb5bd";

        let groups = groups(&self.measurements);
        let mut body = String::new();
        let mut y = 36;
        let _ = writeln!(
            body,
            r#"<text x="10" y="22" font-size="16" font-weight="bold">admit benchmarks: ns/op, shorter is faster ({})</text>"#,
            xml(&self.environment.date)
        );
        if groups.is_empty() {
            let _ = writeln!(body, r#"<text x="10" y="{}">no results</text>"#, y + 16);
            y += 30;
        }
        for group in &groups {
            for series in &group.series {
                let title = match series.parameter {
                    Some(p) => format!("{} ({p})", group.name),
                    None => group.name.to_owned(),
                };
                let _ = writeln!(
                    body,
                    r#"<text x="10" y="{}" font-weight="bold">{}</text>"#,
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
                    let colour = if m.is_ours() { OURS } else { PEER };
                    let text_y = y + BAR - 3;
                    let _ = writeln!(
                        body,
                        r#"<text x="{LABEL_RIGHT}" y="{text_y}" text-anchor="end">{}</text>"#,
                        xml(&m.function)
                    );
                    let _ = writeln!(
                        body,
                        r#"<rect x="{BAR_LEFT}" y="{y}" width="{width:.1}" height="{BAR}" fill="{colour}"><title>{}: {} ns/op</title></rect>"#,
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
                        BAR_LEFT as f64 + width + 6.0,
                        format_ns(m.mean_ns)
                    );
                    y += ROW;
                }
                y += GAP;
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{y}\" \
             viewBox=\"0 0 {WIDTH} {y}\" font-family=\"sans-serif\" font-size=\"12\">\n\
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
        }
    }

    fn benchmark_json(group: &str, function: Option<&str>, value: Option<&str>) -> String {
        let optional = |t: Option<&str>| t.map_or("null".to_owned(), json::quote);
        format!(
            r#"{{"group_id":{},"function_id":{},"value_str":{},"throughput":null,"full_id":"x","directory_name":"x","title":"x"}}"#,
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
        assert!(md.contains("| date | 2026-01-02 03:04 UTC |"));
        assert!(md.contains("| machine | Linux 6.1 x86_64; Test CPU; 2 cores |"));
        assert!(md.contains("| toolchain | rustc 1.95.0 |"));
        assert!(md.contains("| revision | `abc1234-dirty` |"));
        assert!(md.contains("| command | `cargo bench -p admit-benches --bench '*' -- --quick` |"));
        assert_eq!(md.matches("\n## ").count(), 3);
        assert!(md.contains("| implementation | parameter | ns/op | vs best peer |"));
        assert!(md.contains("| **admit** | 1 | 50.0 | **0.83×** (tokio) |"));
        assert!(md.contains("| tokio | 1 | 60.0 | 1.00× |"));
        assert!(md.contains("| async-lock | 1 | 80.0 | 1.33× |"));
        assert!(md.contains("| **admit** | 8 | 150.0 | **1.50×** (async-lock) |"));
        // Groups without parameters have no parameter column.
        assert!(md.contains("## uncontended\n\n| implementation | ns/op | vs best peer |"));
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
        // admit in colour, peers in grey: 4 admit bars and 5 peer bars.
        assert_eq!(svg.matches("fill=\"#d9480f\"").count(), 4);
        assert_eq!(svg.matches("fill=\"#adb5bd\"").count(), 5);
        // Each series is scaled to its slowest row: tokio at 8 tasks gets the full width,
        // admit at 8 (150 of 200 ns) three quarters of it.
        assert!(svg.contains("width=\"520.0\" height=\"14\" fill=\"#adb5bd\"><title>tokio: 200.0"));
        assert!(svg.contains("width=\"390.0\" height=\"14\" fill=\"#d9480f\"><title>admit: 150.0"));
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
