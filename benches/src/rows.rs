//! The rows a bench writes for the report: one JSON file per group.
//!
//! ```json
//! {
//!   "group": "contended",
//!   "title": "Contended acquire/release, tasks holding a permit",
//!   "unit": "ns/op",
//!   "command": "cargo bench -p admit-benches --bench interleaved -- --quick",
//!   "rows": [
//!     {
//!       "workload": "T16-P4 hold=yield",
//!       "runtime": "tokio mt-2",
//!       "contender": "admit-fifo",
//!       "fair": true,
//!       "rounds": 3,
//!       "wall_ns": { "median": 123.4, "min": 110.0, "max": 150.2, "rounds": [123.4, 150.2, 110.0] },
//!       "cpu_ns": { "mean": 240.1 },
//!       "extra": { "p50_wait_ns": 1000, "p99_wait_ns": 5000, "max_wait_ns": 9000 }
//!     }
//!   ]
//! }
//! ```
//!
//! - `workload` is the same string for every contender of it; `runtime` is
//!   the runtime and its flavour ([`admit_conformance::Flavor::label`]).
//! - `contender`: admit's start with `admit`, a peer's is its crate name;
//!   `fair` says whether it serves waiters in arrival order (the report
//!   compares admit with the best fair peer).
//! - `wall_ns` and `cpu_ns` are per `unit`, over `rounds` interleaved rounds
//!   ([`crate::measure`]); `cpu_ns` is the process CPU time (user + system),
//!   the mean over the rounds, and `null` where it was not measured. Lower is
//!   better. CPU time is a mean, not a median, because kernels that account it
//!   in scheduler ticks (4 ms at 250 Hz) make one round's figure coarse, while
//!   the sum over every round is not biased by it.
//!   `wall_ns.rounds` lists each round's wall time in round order (empty
//!   where the rounds were not interleaved): the report divides admit's by a
//!   peer's round by round.
//! - `extra` holds free-form numbers (wait percentiles, the floor a workload
//!   cannot beat).
//!
//! Files go in the directory named by `ADMIT_BENCH_OUT` if it is set, else in
//! `target/admit-bench/`, named `<group>.json` ([`Group::write`]).

use std::io;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::measure::{Measured, median};

/// The environment variable naming the directory the rows go to.
pub const OUT_VAR: &str = "ADMIT_BENCH_OUT";

/// One contender on one workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The workload, e.g. `T16-P4 hold=yield`.
    pub workload: String,
    /// The runtime and flavour, e.g. `tokio mt-2`.
    pub runtime: String,
    /// The contender's results.
    pub measured: Measured,
    /// Free-form numbers for `extra`, in this order.
    pub extra: Vec<(String, f64)>,
}

impl Row {
    /// A row of `measured` on `workload` and `runtime`, with `extra` holding
    /// the wait percentiles if waits were recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_benches::measure::{Measured, Waits};
    /// use admit_benches::rows::Row;
    ///
    /// let measured = Measured {
    ///     name: "admit-fifo",
    ///     fair: true,
    ///     wall_ns: vec![2.0, 3.0, 1.0],
    ///     cpu_ns: vec![],
    ///     waits: Waits { p50_ns: vec![5], p99_ns: vec![7], max_ns: vec![9] },
    /// };
    /// let row = Row::new("T16-P4 hold=yield", "tokio mt-2", measured);
    /// assert_eq!(row.extra[2], ("max_wait_ns".to_owned(), 9.0));
    /// ```
    pub fn new(workload: &str, runtime: &str, measured: Measured) -> Self {
        let waits = &measured.waits;
        let extra = if waits.max_ns.is_empty() {
            Vec::new()
        } else {
            vec![
                ("p50_wait_ns".to_owned(), median(&waits.p50_ns) as f64),
                ("p99_wait_ns".to_owned(), median(&waits.p99_ns) as f64),
                (
                    "max_wait_ns".to_owned(),
                    waits.max_ns[waits.max_ns.len() - 1] as f64,
                ),
            ]
        };
        Self {
            workload: workload.to_owned(),
            runtime: runtime.to_owned(),
            measured,
            extra,
        }
    }

    /// The row as the file holds it.
    pub fn to_json(&self) -> Value {
        let wall = self.measured.wall_sorted();
        let extra: Map<String, Value> = self
            .extra
            .iter()
            .map(|(key, value)| (key.clone(), json!(value)))
            .collect();
        json!({
            "workload": self.workload,
            "runtime": self.runtime,
            "contender": self.measured.name,
            "fair": self.measured.fair,
            "rounds": wall.len(),
            "wall_ns": {
                "median": median(&wall),
                "min": wall[0],
                "max": wall[wall.len() - 1],
                "rounds": self.measured.wall_ns,
            },
            "cpu_ns": self.measured.cpu_mean().map(|mean| json!({ "mean": mean })),
            "extra": extra,
        })
    }
}

/// One file of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Short id, also the file name: `contended`, `wait-times`.
    pub group: &'static str,
    /// The heading the report gives it.
    pub title: &'static str,
    /// What the numbers are per (`ns/op`).
    pub unit: &'static str,
    /// The command that produced it.
    pub command: String,
    /// Its rows.
    pub rows: Vec<Row>,
}

impl Group {
    /// The file's contents.
    pub fn to_json(&self) -> Value {
        json!({
            "group": self.group,
            "title": self.title,
            "unit": self.unit,
            "command": self.command,
            "rows": self.rows.iter().map(Row::to_json).collect::<Vec<_>>(),
        })
    }

    /// Writes `<group>.json` into [`out_dir`], creating it; returns the path.
    ///
    /// # Errors
    ///
    /// If the directory cannot be created or the file written.
    pub fn write(&self) -> io::Result<PathBuf> {
        let dir = out_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{}.json", self.group));
        let text = serde_json::to_string_pretty(&self.to_json()).map_err(io::Error::other)?;
        std::fs::write(&path, text + "\n")?;
        Ok(path)
    }
}

/// Where the rows go: `$ADMIT_BENCH_OUT`, else `target/admit-bench/` of the
/// target directory the running bench was built in.
pub fn out_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(OUT_VAR) {
        return PathBuf::from(dir);
    }
    // A bench runs as `<target>/<profile>/deps/<name>-<hash>`.
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(PathBuf::from))
        .filter(|dir| dir.join("CACHEDIR.TAG").exists())
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("admit-bench")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Waits;

    /// The example of the format's documentation (the module docs), without
    /// its comments: the field names the report tool reads.
    const DOCUMENTED: &str = r#"{
      "group": "contended",
      "title": "Contended acquire/release, tasks holding a permit",
      "unit": "ns/op",
      "command": "cargo bench -p admit-benches --bench interleaved -- --quick",
      "rows": [
        {
          "workload": "T16-P4 hold=yield",
          "runtime": "tokio mt-2",
          "contender": "admit-fifo",
          "fair": true,
          "rounds": 3,
          "wall_ns": { "median": 123.4, "min": 110.0, "max": 150.2, "rounds": [123.4, 150.2, 110.0] },
          "cpu_ns":  { "mean": 240.1 },
          "extra": { "p50_wait_ns": 1000, "p99_wait_ns": 5000, "max_wait_ns": 9000 }
        }
      ]
    }"#;

    fn group(cpu_ns: Vec<f64>) -> Group {
        let measured = Measured {
            name: "admit-fifo",
            fair: true,
            wall_ns: vec![123.4, 150.2, 110.0],
            cpu_ns,
            waits: Waits {
                p50_ns: vec![900, 1000, 1100],
                p99_ns: vec![5000, 5000, 6000],
                max_ns: vec![8000, 8500, 9000],
            },
        };
        Group {
            group: "contended",
            title: "Contended acquire/release, tasks holding a permit",
            unit: "ns/op",
            command: "cargo bench -p admit-benches --bench interleaved -- --quick".to_owned(),
            rows: vec![Row::new("T16-P4 hold=yield", "tokio mt-2", measured)],
        }
    }

    /// The same keys at every level of two JSON values (values may differ).
    fn same_shape(ours: &Value, documented: &Value, at: &str) {
        match (ours, documented) {
            (Value::Object(a), Value::Object(b)) => {
                let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
                assert_eq!(keys(a), keys(b), "keys of {at}");
                for (key, value) in a {
                    same_shape(value, &b[key], &format!("{at}.{key}"));
                }
            }
            (Value::Array(a), Value::Array(b)) => {
                assert_eq!(a.len(), b.len(), "length of {at}");
                for (i, (a, b)) in a.iter().zip(b).enumerate() {
                    same_shape(a, b, &format!("{at}[{i}]"));
                }
            }
            (a, b) => assert_eq!(
                std::mem::discriminant(a),
                std::mem::discriminant(b),
                "type of {at}: {a} vs {b}"
            ),
        }
    }

    #[test]
    fn written_rows_have_the_documented_fields() {
        let documented: Value = serde_json::from_str(DOCUMENTED).unwrap();
        let ours = group(vec![240.0, 250.0, 290.0]).to_json();
        same_shape(&ours, &documented, "file");
        let row = &ours["rows"][0];
        assert_eq!(row["wall_ns"]["median"], 123.4);
        assert_eq!(row["wall_ns"]["min"], 110.0);
        assert_eq!(row["wall_ns"]["max"], 150.2);
        assert_eq!(
            row["wall_ns"]["rounds"],
            json!([123.4, 150.2, 110.0]),
            "in round order"
        );
        assert_eq!(row["cpu_ns"]["mean"], 260.0, "the mean, not the median");
        assert_eq!(row["rounds"], 3);
        assert_eq!(row["extra"]["p50_wait_ns"], 1000.0);
        assert_eq!(
            row["extra"]["max_wait_ns"], 9000.0,
            "the longest over all rounds"
        );
    }

    #[test]
    fn the_module_docs_show_the_documented_example() {
        let docs = include_str!("rows.rs");
        let shown: String = docs
            .lines()
            .take_while(|line| !line.starts_with("use "))
            .filter_map(|line| line.strip_prefix("//!"))
            .skip_while(|line| !line.contains("```json"))
            .skip(1)
            .take_while(|line| !line.contains("```"))
            .collect::<Vec<_>>()
            .join("\n");
        let shown: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(shown, serde_json::from_str::<Value>(DOCUMENTED).unwrap());
    }

    #[test]
    fn cpu_time_not_measured_is_null() {
        let ours = group(Vec::new()).to_json();
        assert!(ours["rows"][0]["cpu_ns"].is_null());
    }

    #[test]
    fn out_dir_follows_the_environment_or_the_target_directory() {
        let dir = out_dir();
        match std::env::var_os(OUT_VAR) {
            Some(set) => assert_eq!(dir, PathBuf::from(set)),
            None => assert!(dir.ends_with("target/admit-bench"), "{}", dir.display()),
        }
    }
}
