//! The behaviour matrix as a cargo test: every case on every built-in adapter, and the peer
//! guarantees, reported by cargo's test harness (`test NAME ... ok | FAILED | ignored`).
//!
//! `ADMIT_CONFORMANCE_ADAPTER` selects what this process runs:
//!
//! * unset (`cargo test --workspace`): one test per adapter, each running this binary again
//!   for that adapter in a child process, and `peers`: admit (and, with the `fleet` feature,
//!   the fleet semaphore on a real `redis-server`) keeps every peer guarantee and the peer
//!   table has every semaphore and guarantee;
//! * an adapter's name (`tokio-ct`, `smol-2`, ...): one test per case of the suite on that
//!   adapter. The runtimes that read their thread count from the environment once per process
//!   (`SMOL_THREADS`, `ASYNC_STD_THREAD_COUNT`) get it from
//!   [`Adapter::environment`]: when it is not set already, the binary runs itself again with it;
//! * `peers`: one test per semaphore and guarantee (`tokio::fifo_order`,
//!   `admit-redis (fleet)::fifo_order`): it fails when the semaphore breaks the guarantee (a
//!   finding about that peer, with what was seen) and is ignored when the semaphore has no
//!   such operation. The fleet semaphore uses `ADMIT_REDIS_URL`, or starts a private
//!   `redis-server` (see `admit_conformance::fleet`).
//!
//! `cargo xtask conformance` runs one process per adapter and one for the peers, and reads
//! these lines. Cases run one at a time (they measure time) unless `--test-threads` says
//! otherwise; debug builds use the shorter soak of [`Options::quick`].

use std::process::{Command, ExitCode};
use std::sync::OnceLock;

use admit_conformance::adapters::{
    self, Adapter, AsyncStdFlavor, SmolFlavor, TokioCurrentThread, TokioMultiThread,
};
use admit_conformance::peers::{self, GUARANTEE_NAMES, PEER_NAMES, PeerTable, Verdict};
use admit_conformance::{Flavor, Options, run_case, suite};
use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// The variable that selects an adapter, or `peers`.
const SELECT: &str = "ADMIT_CONFORMANCE_ADAPTER";

/// The columns of the peer table that are this project's and must keep every guarantee.
const OURS: [&str; 2] = ["admit-fifo", "admit-redis (fleet)"];

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    args.test_threads.get_or_insert(1);
    let trials = match std::env::var(SELECT) {
        Err(_) => matrix_trials(),
        Ok(name) if name == "peers" => peer_trials(),
        Ok(name) => match Adapter::named(&name) {
            None => {
                let names: Vec<&str> = Adapter::ALL.iter().map(|a| a.name()).collect();
                eprintln!("{SELECT}={name:?}: no such adapter (adapters: {names:?}, or peers)");
                return ExitCode::from(2);
            }
            Some(adapter) => {
                if let Some(code) = adapters::rerun_with(&adapter.environment()) {
                    return ExitCode::from(u8::try_from(code).unwrap_or(1));
                }
                case_trials(adapter)
            }
        },
    };
    libtest_mimic::run(&args, trials).exit_code()
}

/// `cargo test`'s view: one test per adapter (a child process each) and the peer check.
fn matrix_trials() -> Vec<Trial> {
    let mut trials: Vec<Trial> = Adapter::ALL
        .into_iter()
        .map(|adapter| {
            Trial::test(adapter.name(), move || {
                let output = Command::new(std::env::current_exe()?)
                    .args(["--test-threads", "1", "--color", "never"])
                    .env(SELECT, adapter.name())
                    .envs(adapter.environment())
                    .output()?;
                if output.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "{} failed ({}):\n{}{}",
                        adapter.name(),
                        output.status,
                        String::from_utf8_lossy(&output.stdout),
                        String::from_utf8_lossy(&output.stderr)
                    )
                    .into())
                }
            })
        })
        .collect();
    trials.push(Trial::test("peers", || {
        let table = peer_table();
        let names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
        check(names == PEER_NAMES, format!("peers {names:?}"))?;
        for (peer, verdicts) in table {
            let guarantees: Vec<&str> = verdicts.iter().map(|(name, _)| *name).collect();
            check(
                guarantees == GUARANTEE_NAMES,
                format!("{peer}: {guarantees:?}"),
            )?;
        }
        // Ours: the local semaphore, and the fleet semaphore where it is built in.
        for (peer, verdicts) in table.iter().filter(|(name, _)| OURS.contains(name)) {
            for (guarantee, verdict) in verdicts {
                check(
                    *verdict == Verdict::Kept,
                    format!("{peer} broke {guarantee}: {verdict:?}"),
                )?;
            }
        }
        Ok(())
    }));
    trials
}

fn check(held: bool, message: String) -> Result<(), Failed> {
    if held { Ok(()) } else { Err(message.into()) }
}

/// One test per case of the suite on `adapter`.
fn case_trials(adapter: Adapter) -> Vec<Trial> {
    match adapter.name() {
        "tokio-ct" => flavor_trials(TokioCurrentThread),
        "tokio-mt" => flavor_trials(TokioMultiThread::default()),
        "async-std" => flavor_trials(AsyncStdFlavor),
        "smol-1" => flavor_trials(SmolFlavor { threads: 1 }),
        "smol-2" => flavor_trials(SmolFlavor { threads: 2 }),
        other => panic!("tests/matrix.rs has no flavor for the adapter {other}: add it here"),
    }
}

fn flavor_trials<F: Flavor>(flavor: F) -> Vec<Trial> {
    let options = if cfg!(debug_assertions) {
        Options::quick()
    } else {
        Options::default()
    };
    suite::<F::Runtime>()
        .into_iter()
        .map(|case| {
            let (flavor, options) = (flavor.clone(), options.clone());
            Trial::test(case.name(), move || {
                run_case(&flavor, case, &options)
                    .outcome
                    .map_err(|failure| failure.message().into())
            })
        })
        .collect()
}

/// The peer table, computed once per process (the peers run together on tokio's
/// multi-thread runtime) by whichever test asks first.
fn peer_table() -> &'static PeerTable {
    static TABLE: OnceLock<PeerTable> = OnceLock::new();
    TABLE.get_or_init(|| peers::run_all(&TokioMultiThread::default(), |_, _| {}))
}

/// One test per semaphore and guarantee: `peer::guarantee`.
fn peer_trials() -> Vec<Trial> {
    PEER_NAMES
        .iter()
        .flat_map(|&peer| {
            GUARANTEE_NAMES.iter().map(move |&guarantee| {
                Trial::ignorable_test(format!("{peer}::{guarantee}"), move || {
                    let verdict = peer_table()
                        .iter()
                        .find(|(name, _)| *name == peer)
                        .and_then(|(_, verdicts)| verdicts.iter().find(|(g, _)| *g == guarantee));
                    match verdict.map(|(_, verdict)| verdict) {
                        Some(Verdict::Kept) => Ok(Completion::Completed),
                        Some(Verdict::NotApplicable(why)) => Ok(Completion::ignored_with(why)),
                        Some(Verdict::Broken(seen)) => Err(seen.as_str().into()),
                        None => Err("the peer run gave no verdict".into()),
                    }
                })
            })
        })
        .collect()
}
