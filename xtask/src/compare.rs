//! `cargo xtask compare`: is admit right, and how fast is it next to its peers, on this
//! machine? The conformance matrix, then the benchmarks with quick settings, then one screen:
//! the report's summary of each group ([`report::screen`]) and the guarantees each semaphore
//! broke. Everything is written under `target/`; `docs/` is `cargo xtask bench`'s.

use std::time::Instant;

use crate::{Result, bench, conformance, report};

/// Runs both, stopping at the first failure (admit fails the conformance suite, or a
/// benchmark fails), and prints the answers.
pub fn run(benches: &[String]) -> Result {
    let started = Instant::now();
    let step = |n: usize, what: &str| {
        let elapsed = started.elapsed().as_secs_f64();
        println!("\n==> compare [{n}/2] {what} ({elapsed:.0} s elapsed)");
    };
    step(1, "conformance: every adapter, then the peers");
    let results = conformance::run(None, false)?;
    step(2, "benchmarks, quick interleaved rounds");
    let sh = crate::shell()?;
    let dir = crate::target_dir().join("compare");
    let report = bench::measure(&sh, benches, true, &dir.join("rows"))?;
    bench::write_report(&sh, &dir, &report)?;

    let (revision, cores) = (&report.environment.revision, report.environment.cores);
    let round_trip = report.environment.round_trip_ns.0;
    println!(
        "\n==> admit next to its peers ({revision}; {cores} cores; cross-core round trip \
         {round_trip:.0} ns; {:.0} s)\n",
        started.elapsed().as_secs_f64()
    );
    print!("{}", report::screen(&report.groups));
    println!("Guarantees each semaphore broke in the conformance run:");
    let peers = &results.peers;
    for peer in conformance::names(peers.iter().map(|(peer, ..)| peer)) {
        let broken = peers.iter().filter(|(p, _, c)| p == peer && *c == "✗");
        let mut broken: Vec<&str> = broken.map(|(_, guarantee, _)| guarantee.as_str()).collect();
        if broken.is_empty() {
            broken.push("none");
        }
        print!(
            "{}",
            report::wrapped(&format!("  {peer:<20} "), &broken, 23)
        );
    }
    let conformance = crate::target_dir().join("admit-conformance/conformance.md");
    println!(
        "\nFull report: {}\nChart: {}\nConformance, with what was seen where a guarantee broke: {}",
        dir.join("benchmarks.md").display(),
        dir.join("benchmarks.svg").display(),
        conformance.display()
    );
    Ok(())
}
