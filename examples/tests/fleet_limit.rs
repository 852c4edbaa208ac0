//! The `fleet_limit` example as CI runs it: worker processes sharing a limit of 3 through
//! Redis (`ADMIT_REDIS_URL`, or a `redis-server` the example starts); the local server must have
//! seen exactly 3 requests at once.

use std::process::Command;

#[test]
fn fleet_limit_server_sees_exactly_the_limit() {
    let output = Command::new(env!("CARGO_BIN_EXE_fleet_limit"))
        .args([
            "--processes",
            "3",
            "--tasks",
            "3",
            "--requests",
            "18",
            "--limit",
            "3",
        ])
        .args(["--hold-ms", "10"])
        .output()
        .expect("running fleet_limit");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "fleet_limit failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("max concurrent: 3 (limit 3)"), "{stdout}");
}
