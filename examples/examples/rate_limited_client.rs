//! A rate-limited client: at most N calls per second (default 50) against a local server for
//! about 2 seconds, with 16 callers always ready, printing the rate observed at the client and
//! at the server. Exits non-zero if any one-second window held more than N + 1 calls (N plus
//! the burst of 1), or if the rate came out more than 1 % under N (10 % for runs under 2 s).
//!
//! ```text
//! cargo run --example rate_limited_client [-- --runtime tokio|async-std|smol] [--rate N]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use admit_examples::cli;
use admit_examples::rate_limited_client::Config;

const USAGE: &str = "\
usage: cargo run --example rate_limited_client -- [options]
  --runtime tokio|async-std|smol   the runtime (default tokio)
  --rate N                         calls per second at most (default 50)
  --seconds S                      how long to call for (default 2)
  --callers N                      callers ready at once (default 16)";

fn main() -> ExitCode {
    let options = cli::parse_or_exit(USAGE, &["rate", "seconds", "callers"]);
    let default = Config::default();
    let parsed = (|| {
        let seconds: f64 = options.get("seconds", 2.0)?;
        let config = Config {
            rate: options.get("rate", default.rate)?,
            duration: Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())?,
            callers: options.get("callers", default.callers)?,
            ..default
        };
        if config.rate == 0 || config.callers == 0 || config.calls() > 100_000 {
            return Err("need --rate >= 1, --callers >= 1 and at most 100000 calls".to_owned());
        }
        Ok((options.runtime()?, config))
    })();
    let (runtime, config) = parsed.unwrap_or_else(|error: String| cli::exit_usage(&error, USAGE));

    let report = runtime.run(config);
    println!("{report}");
    cli::verdict(report.check())
}
