//! `cargo xtask compare [--bench NAME]...`: is admit right, and how fast is it next to its
//! peers, on this machine?
//!
//! Runs the conformance matrix, then the benchmarks with quick settings, and ends with one
//! screen: per workload and runtime the fastest contender, admit against the best peer and
//! the best fair peer (with the range over rounds), CPU time per unit, and which guarantees
//! each peer broke in the conformance run. Everything is written under `target/` (the
//! tracked `docs/` reports are `cargo xtask bench`'s).

use std::time::Instant;

use crate::{Result, bench, conformance, report};

/// Runs both, stopping at the first failure, and prints the answer.
///
/// # Errors
///
/// admit fails the conformance suite, or a benchmark fails.
pub fn run(benches: &[String]) -> Result {
    let started = Instant::now();
    let step = |n: usize, what: &str| {
        println!(
            "\n==> compare [{n}/2] {what} ({:.0} s elapsed)",
            started.elapsed().as_secs_f64()
        );
    };
    step(1, "conformance: every adapter, then the peers");
    let results = conformance::run(None, false)?;
    step(2, "benchmarks, quick interleaved rounds");
    let sh = crate::shell()?;
    let dir = crate::target_dir().join("compare");
    let environment = bench::measure(&sh, benches, true, &dir.join("rows"))?;
    let groups = report::load(&dir.join("rows"))?;
    bench::write_report(&sh, &dir, &environment, &groups)?;

    println!(
        "\n==> admit next to its peers ({}; {} cores; {:.0} s)\n",
        environment.revision,
        environment.cores,
        started.elapsed().as_secs_f64()
    );
    print!("{}", report::screen(&groups));
    println!("Guarantees each peer broke in the conformance run (admit broke none):");
    for (peer, _) in results.peers.iter().filter(|(peer, _)| peer != "admit") {
        let broken: Vec<&str> = results.broken(peer).into_iter().map(|(g, _)| g).collect();
        let broken = if broken.is_empty() {
            "none".to_owned()
        } else {
            broken.join(", ")
        };
        println!("  {peer:<18} {broken}");
    }
    let conformance_report = crate::target_dir().join("admit-conformance/conformance.md");
    println!(
        "\nFull report: {}  chart: {}\nWhat each guarantee means and what was seen: {}\n\
         Which adapter and policy to pick: docs/choosing-an-adapter.md",
        dir.join("benchmarks.md").display(),
        dir.join("benchmarks.svg").display(),
        conformance_report.display()
    );
    Ok(())
}
