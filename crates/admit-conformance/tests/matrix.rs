//! The whole matrix, as `cargo test --workspace` sees it: every case on every built-in
//! adapter must pass (with the shorter soak of `--quick`), and the peer table must be
//! produced without failing anything.

use std::process::Command;
use std::sync::{Mutex, PoisonError};

use admit_conformance::adapters::TokioMultiThread;
use admit_conformance::peers::{self, GUARANTEE_NAMES, PEER_NAMES, Verdict};

/// The cases measure time: they are not run concurrently with each other.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn every_adapter_passes_the_suite() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let json = std::env::temp_dir().join(format!("admit-conformance-{}.json", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_admit-conformance"))
        .args(["--no-peers", "--quick", "--json"])
        .arg(&json)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(output.status.success(), "the matrix failed:\n{stdout}");
    for adapter in ["tokio-ct", "tokio-mt", "async-std", "smol-1", "smol-2"] {
        assert!(
            stdout.contains(adapter),
            "{adapter} missing from the matrix"
        );
    }
    let report = std::fs::read_to_string(&json).expect("the JSON report is written");
    let _ = std::fs::remove_file(&json);
    assert!(report.contains("\"passed\": true"), "{report}");
    assert!(!report.contains("\"passed\": false"), "{report}");
}

#[test]
fn peers_are_compared_and_admit_keeps_every_guarantee() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let table = peers::run_all(&TokioMultiThread::default(), |_, _| {});
    let names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, PEER_NAMES);
    for (peer, verdicts) in &table {
        let guarantees: Vec<&str> = verdicts.iter().map(|(name, _)| *name).collect();
        assert_eq!(guarantees, GUARANTEE_NAMES, "{peer}");
    }
    let (_, admit) = &table[0];
    for (guarantee, verdict) in admit {
        assert_eq!(*verdict, Verdict::Kept, "admit broke {guarantee}");
    }
    // async-lock has neither weighted acquire nor close.
    let (_, async_lock) = &table[2];
    let not_applicable = async_lock
        .iter()
        .filter(|(_, verdict)| matches!(verdict, Verdict::NotApplicable(_)))
        .count();
    assert_eq!(not_applicable, 4);
}
