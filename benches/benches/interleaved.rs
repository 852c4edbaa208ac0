//! The contended workload (`admit_benches::contended`) measured interleaved:
//! on each runtime and for each (T, P), round after round, every semaphore
//! runs once per round; each one's median over the rounds is reported. All
//! semaphores thus see the same machine conditions, which on a shared virtual
//! machine drift over tens of seconds (see the `contended` module docs).
//!
//! Run: `cargo bench -p admit-benches --bench interleaved` (add `-- --quick`
//! for fewer rounds). `cargo xtask bench` runs it after the criterion groups
//! and reports it as the `contended_interleaved` group; it sets
//! `ADMIT_INTERLEAVED_OUT` to the file the rows are written to (one row per
//! line: parameter, semaphore, median ns, fastest, slowest, tab-separated;
//! then a `#cross-core-round-trip` line, see [`contended::cross_core_round_trip`]).
//!
//! A name filter on the command line (as criterion takes one) skips this
//! measurement unless it matches `contended_interleaved`.
//!
//! To profile one semaphore on one workload, select them with
//! `ADMIT_INTERLEAVED_SEMAPHORES` (comma-separated names, `admit-fifo`) and
//! `ADMIT_INTERLEAVED_PARAMETERS` (`tokio/T16-P1`), e.g. under `perf record`
//! (docs/design.md, "Where the time goes"); set `ADMIT_INTERLEAVED_NO_PROBE` there
//! too, so that the cross-core measurement's spinning is not in the profile.

use std::fmt::Write as _;
use std::time::Instant;

use admit_benches::contended::{self, Row};
use admit_benches::runtimes::{self, AsyncStd, Smol, Tokio};

/// The group name the report gives these rows.
const GROUP: &str = "contended_interleaved";

/// Rounds per (runtime, T, P) (odd: the median is one of them), and
/// acquisitions per run.
const FULL: (usize, u64) = (9, 100_000);
const QUICK: (usize, u64) = (3, 20_000);

/// Round trips per measurement of the cross-core latency (a few milliseconds).
const ROUND_TRIPS: u64 = 20_000;

/// The first field of the output row that holds the cross-core round trip
/// (median, fastest, slowest ns, and the number of measurements); `cargo xtask
/// bench` reads it into the report's setup table.
const ROUND_TRIP_ROW: &str = "#cross-core-round-trip";

/// Set (to anything) to skip the cross-core measurements: `cargo xtask profile`
/// does under `perf record`, where their spinning would count as bench-loop time.
const NO_PROBE: &str = "ADMIT_INTERLEAVED_NO_PROBE";

fn main() {
    runtimes::ensure_thread_counts();
    runtimes::check_thread_counts();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters = name_filters(&args);
    if !filters.is_empty() && !filters.iter().any(|f| GROUP.contains(f)) {
        return;
    }
    let (rounds, acquisitions) = if args.iter().any(|a| a == "--quick") {
        QUICK
    } else {
        FULL
    };
    let semaphores = selection("ADMIT_INTERLEAVED_SEMAPHORES");
    let parameters = selection("ADMIT_INTERLEAVED_PARAMETERS");
    let keep = |parameter: &str, name: &str| {
        semaphores
            .as_ref()
            .is_none_or(|s| s.iter().any(|s| s == name))
            && parameters
                .as_ref()
                .is_none_or(|p| p.iter().any(|p| p == parameter))
    };
    let start = Instant::now();
    // The machine's cross-core latency, before every round: the rows depend on it.
    let mut round_trips = Vec::new();
    let probing = std::env::var_os(NO_PROBE).is_none();
    let mut probe = || {
        if probing {
            round_trips.push(contended::cross_core_round_trip(ROUND_TRIPS));
        }
    };
    let mut rows: Vec<Row> =
        contended::interleaved(&Tokio::new(), rounds, acquisitions, keep, &mut probe);
    rows.extend(contended::interleaved(
        &AsyncStd,
        rounds,
        acquisitions,
        keep,
        &mut probe,
    ));
    rows.extend(contended::interleaved(
        &Smol,
        rounds,
        acquisitions,
        keep,
        &mut probe,
    ));

    let mut out = String::new();
    println!("{GROUP}: median of {rounds} interleaved rounds of {acquisitions} acquisitions");
    for row in &rows {
        println!(
            "  {:<20} {:<18} {:>8.1} ns  ({:.1} .. {:.1})",
            row.parameter, row.name, row.median_ns, row.range_ns.0, row.range_ns.1
        );
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            row.parameter, row.name, row.median_ns, row.range_ns.0, row.range_ns.1
        );
    }
    round_trips.sort();
    if let (Some(first), Some(last)) = (round_trips.first(), round_trips.last()) {
        let median = round_trips[round_trips.len() / 2];
        println!(
            "  cross-core round trip before each of the {} rounds: median {} ns ({} .. {})",
            round_trips.len(),
            median.as_nanos(),
            first.as_nanos(),
            last.as_nanos()
        );
        let _ = writeln!(
            out,
            "{ROUND_TRIP_ROW}\t{}\t{}\t{}\t{}",
            median.as_nanos(),
            first.as_nanos(),
            last.as_nanos(),
            round_trips.len()
        );
    }
    println!("  ({:.1} s)", start.elapsed().as_secs_f64());
    if let Some(path) = std::env::var_os("ADMIT_INTERLEAVED_OUT") {
        if let Err(e) = std::fs::write(&path, out) {
            eprintln!("writing {}: {e}", path.to_string_lossy());
            std::process::exit(1);
        }
    }
}

/// The name filters among criterion-style arguments: what is neither an
/// option nor the value of one.
fn name_filters(args: &[String]) -> Vec<&str> {
    /// Criterion's options that take a value as the next argument.
    const WITH_VALUE: [&str; 13] = [
        "--sample-size",
        "--measurement-time",
        "--warm-up-time",
        "--save-baseline",
        "--baseline",
        "--load-baseline",
        "--profile-time",
        "--noise-threshold",
        "--significance-level",
        "--confidence-level",
        "--nresamples",
        "--output-format",
        "--color",
    ];
    let mut filters = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if WITH_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            filters.push(arg.as_str());
        }
    }
    filters
}

/// The comma-separated values of environment variable `var`, if set.
fn selection(var: &str) -> Option<Vec<String>> {
    let value = std::env::var(var).ok()?;
    Some(value.split(',').map(|v| v.trim().to_owned()).collect())
}
