//! Runs every example's scenario on every runtime, with smaller parameters than the examples'
//! defaults, and asserts what the example claims (its report's `check`). This is how CI
//! exercises the examples; each scenario takes well under a second.

use std::time::Duration;

use admit_examples::{RuntimeChoice, connection_limit, downloader, pool_wait, rate_limited_client};

fn connection_limit(runtime: RuntimeChoice) {
    let report = runtime.run(connection_limit::Config {
        clients: 24,
        limit: 3,
        hold: Duration::from_millis(10),
        poll_interval: Duration::from_millis(20),
        request_timeout: Duration::from_secs(10),
    });
    report
        .check()
        .unwrap_or_else(|why| panic!("{why}\n{report}"));
    // The semaphore wakes a waiting client only to hand it a permit.
    assert_eq!(report.semaphore.wasted_wakeups, 0, "{report}");
    assert!(report.counter.wasted_wakeups > 0, "{report}");
}

fn pool_wait(runtime: RuntimeChoice) {
    let report = runtime.run(pool_wait::Config {
        shortest: Duration::from_millis(10),
        longest: Duration::from_millis(60),
        print_events: false,
        ..pool_wait::Config::default()
    });
    report
        .check()
        .unwrap_or_else(|why| panic!("{why}\n{report}"));
    assert_eq!(
        report.start_order(),
        (0..10).collect::<Vec<_>>(),
        "{report}"
    );
    assert_eq!(report.events.len(), 20);
}

fn downloader(runtime: RuntimeChoice) {
    let config = downloader::Config {
        resources: 60,
        concurrency: 4,
        timeout: Duration::from_millis(300),
        progress_bar: false,
        ..downloader::Config::default()
    };
    let report = runtime.run(config);
    report
        .check()
        .unwrap_or_else(|why| panic!("{why}\n{report}"));
    assert_eq!(report.max_in_flight, 4, "{report}");
    assert!(
        report.failures().count() > 0,
        "the script has failures\n{report}"
    );
}

fn rate_limited_client(runtime: RuntimeChoice) {
    let report = runtime.run(rate_limited_client::Config {
        rate: 100,
        duration: Duration::from_millis(500),
        callers: 8,
        request_timeout: Duration::from_secs(2),
    });
    report
        .check()
        .unwrap_or_else(|why| panic!("{why}\n{report}"));
}

macro_rules! on_each_runtime {
    ($($runtime:ident => $choice:expr),* $(,)?) => {
        $(
            mod $runtime {
                use super::RuntimeChoice;

                #[test]
                fn connection_limit() {
                    super::connection_limit($choice);
                }

                #[test]
                fn pool_wait() {
                    super::pool_wait($choice);
                }

                #[test]
                fn downloader() {
                    super::downloader($choice);
                }

                #[test]
                fn rate_limited_client() {
                    super::rate_limited_client($choice);
                }
            }
        )*
    };
}

on_each_runtime! {
    tokio => RuntimeChoice::Tokio,
    async_std => RuntimeChoice::AsyncStd,
    smol => RuntimeChoice::Smol,
}

/// The checks do fail when what an example demonstrates does not hold.
#[test]
fn checks_catch_violations() {
    let mut report = RuntimeChoice::Smol.run(connection_limit::Config {
        clients: 6,
        limit: 3,
        hold: Duration::from_millis(5),
        poll_interval: Duration::from_millis(5),
        request_timeout: Duration::from_secs(10),
    });
    assert!(report.check().is_ok(), "{report}");
    report.semaphore.server_max = 4;
    assert!(report.check().is_err());

    let mut report = RuntimeChoice::Smol.run(rate_limited_client::Config {
        rate: 200,
        // Long enough that one late wake-up on a loaded machine stays inside the check's slack.
        duration: Duration::from_millis(500),
        callers: 4,
        request_timeout: Duration::from_secs(2),
    });
    assert!(report.check().is_ok(), "{report}");
    // Squeeze the grants into a tenth of the time: ten times the rate.
    let first = report.grants[0];
    for grant in &mut report.grants {
        *grant = first + (*grant - first) / 10;
    }
    assert!(report.check().is_err());
}
