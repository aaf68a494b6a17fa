//! Output into a closed pipe (`redrepl render inv.yaml | true`): the command ends quietly with
//! status 0, as ripgrep and cargo do, never with a panic (status 101).

mod orch;

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `redrepl ARGS` with stdout a pipe whose reading end is already closed.
fn into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_redrepl"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run redrepl")
}

fn assert_quiet_success(args: &[&str]) {
    let out = into_closed_pipe(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "`redrepl {}` into a closed pipe: {}\n{stderr}",
        args.join(" "),
        out.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

/// A copy of inventories/local.yaml (free ports) in a temporary folder.
fn local_inventory(dir: &Path) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("inventories/local.yaml"),
    )
    .unwrap();
    let text = text
        .replace("port: 7379", &format!("port: {}", orch::free_port()))
        .replace("port: 7380", &format!("port: {}", orch::free_port()))
        .replace("port: 7381", &format!("port: {}", orch::free_port()))
        .replace("local-dev-password-change-me", orch::PASSWORD);
    let path = dir.join("inventory.yaml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn render_into_a_closed_pipe_exits_zero_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let inv = local_inventory(dir.path());
    assert_quiet_success(&["render", &inv]);
}

#[test]
fn init_and_deploy_dry_run_into_a_closed_pipe_exit_zero_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let scaffold = dir.path().join("scaffold");
    assert_quiet_success(&["init", scaffold.to_str().unwrap()]);
    assert!(scaffold.join("inventory.yaml").exists());
    // The dry run of a local inventory prints its plan from inside the async runtime.
    let inv = local_inventory(dir.path());
    assert_quiet_success(&["deploy", &inv, "--dry-run"]);
    assert!(
        !dir.path().join("local-data").exists(),
        "dry run touched files"
    );
}

#[test]
fn a_failure_into_a_closed_pipe_keeps_its_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory.yaml");
    std::fs::write(&inv, "cluster: [unclosed\n").unwrap();
    let out = into_closed_pipe(&["render", inv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{:?}", out);
}
