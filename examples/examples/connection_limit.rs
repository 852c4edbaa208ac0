//! Connection limiting against a real server: 100 clients, at most 3 connections at once.
//!
//! Starts a local TCP server (127.0.0.1, random port) that counts the connections it serves at
//! once, then runs 100 clients twice: limited by a semaphore of 3, and limited by the
//! hand-made counter-and-lock of the classic asyncio blog post. Prints what the server saw and
//! what each approach cost, and exits non-zero unless the server saw exactly 3 at once with the
//! semaphore.
//!
//! ```text
//! cargo run --example connection_limit [-- --runtime tokio|async-std|smol]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use admit_examples::cli;
use admit_examples::connection_limit::Config;

const USAGE: &str = "\
usage: cargo run --example connection_limit -- [options]
  --runtime tokio|async-std|smol   the runtime (default tokio)
  --clients N                      how many clients (default 100)
  --limit N                        connections allowed at once (default 3)
  --hold-ms MS                     how long the server holds each connection (default 20)
  --poll-ms MS                     the counter version's polling interval (default 100)";

fn main() -> ExitCode {
    let options = cli::parse_or_exit(USAGE, &["clients", "limit", "hold-ms", "poll-ms"]);
    let default = Config::default();
    let parsed = (|| {
        let millis = |name, default: Duration| -> Result<Duration, String> {
            let default = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
            options.get(name, default).map(Duration::from_millis)
        };
        let config = Config {
            clients: options.get("clients", default.clients)?,
            limit: options.get("limit", default.limit)?,
            hold: millis("hold-ms", default.hold)?,
            poll_interval: millis("poll-ms", default.poll_interval)?,
            ..default
        };
        if config.limit == 0 || config.clients < config.limit {
            return Err("need --limit >= 1 and --clients >= --limit".to_owned());
        }
        Ok((options.runtime()?, config))
    })();
    let (runtime, config) = parsed.unwrap_or_else(|error: String| cli::exit_usage(&error, USAGE));

    println!("connection_limit: running both versions on {runtime}...\n");
    let report = runtime.run(config);
    println!("{report}");
    cli::verdict(report.check())
}
