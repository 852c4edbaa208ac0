//! `pool_wait`: 10 jobs of random length (seeded: the same every run), 2 at a time, through a
//! `TaskPool`, printing as each starts and ends. Exits non-zero unless exactly 2 ran at once
//! at the busiest and every job finished.
//!
//! ```text
//! cargo run --example pool_wait [-- --runtime tokio|async-std|smol] [--seed N]
//! ```

use std::process::ExitCode;

use admit_examples::cli;
use admit_examples::pool_wait::Config;

const USAGE: &str = "\
usage: cargo run --example pool_wait -- [options]
  --runtime tokio|async-std|smol   the runtime (default tokio)
  --jobs N                         how many jobs (default 10)
  --limit N                        jobs at once (default 2)
  --seed N                         the seed of the random durations (default 42)";

fn main() -> ExitCode {
    let options = cli::parse_or_exit(USAGE, &["jobs", "limit", "seed"]);
    let default = Config::default();
    let parsed = (|| {
        let config = Config {
            jobs: options.get("jobs", default.jobs)?,
            limit: options.get("limit", default.limit)?,
            seed: options.get("seed", default.seed)?,
            ..default
        };
        if config.limit == 0 {
            return Err("--limit must be at least 1".to_owned());
        }
        Ok((options.runtime()?, config))
    })();
    let (runtime, config) = parsed.unwrap_or_else(|error: String| cli::exit_usage(&error, USAGE));

    let report = runtime.run(config);
    println!("\n{report}");
    cli::verdict(report.check())
}
