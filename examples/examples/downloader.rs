//! A downloader in the style of the classic flags example: 200 resources from a local HTTP
//! server (some missing, some failing, some slow, a few too slow), at most K in flight, with a
//! progress bar, a tally, and a report of which failed and why.
//!
//! Exits non-zero if more than K were in flight, if any resource was requested other than
//! once, or if any result differs from what the server was scripted to do.
//!
//! ```text
//! cargo run --example downloader [-- --runtime tokio|async-std|smol] [--concurrency K]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use admit_examples::cli;
use admit_examples::downloader::Config;

const USAGE: &str = "\
usage: cargo run --example downloader -- [options]
  --runtime tokio|async-std|smol   the runtime (default tokio)
  --concurrency K                  requests in flight at most (default 8)
  --resources N                    how many resources (default 200)
  --timeout-ms MS                  the time limit of each request (default 1000)
  --seed N                         the seed of the server's script (default 2024)";

fn main() -> ExitCode {
    let options = cli::parse_or_exit(USAGE, &["concurrency", "resources", "timeout-ms", "seed"]);
    let default = Config::default();
    let parsed = (|| {
        let timeout_ms: u64 = options.get("timeout-ms", 1000)?;
        let config = Config {
            concurrency: options.get("concurrency", default.concurrency)?,
            resources: options.get("resources", default.resources)?,
            timeout: Duration::from_millis(timeout_ms),
            seed: options.get("seed", default.seed)?,
            progress_bar: true,
        };
        if config.concurrency == 0 || timeout_ms < 10 {
            return Err("need --concurrency >= 1 and --timeout-ms >= 10".to_owned());
        }
        Ok((options.runtime()?, config))
    })();
    let (runtime, config) = parsed.unwrap_or_else(|error: String| cli::exit_usage(&error, USAGE));

    println!(
        "downloading {} flags on {runtime}, at most {} at a time...",
        config.resources, config.concurrency
    );
    let report = runtime.run(config);
    println!("{report}");
    cli::verdict(report.check())
}
