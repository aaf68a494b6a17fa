//! `redrepl logs` on the three local nodes of `inventories/local.yaml`: node-prefixed lines,
//! a node filter, `-n`, and `-f` following every log at once. `orch::redrepl` fails any run
//! whose output holds the password.

mod orch;

use orch::{LocalCluster, PASSWORD, cli, wait_for};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn local_logs_prefixed_filtered_and_followed() {
    let c = LocalCluster::new("bundled");
    cli("deploy", &c.inventory, &[]).expect(0, "deploy");

    let run = cli("logs", &c.inventory, &["-n", "5"]).expect(0, "logs");
    let lines: Vec<&str> = run.stdout.lines().collect();
    for node in ["node1", "node2", "node3"] {
        let n = lines
            .iter()
            .filter(|l| l.starts_with(&format!("{node} | ")))
            .count();
        assert_eq!(n, 5, "{node}: {}", run.stdout);
    }
    assert_eq!(lines.len(), 15, "{}", run.stdout);

    let run = cli("logs", &c.inventory, &["node2", "-n", "3"]).expect(0, "logs node2");
    assert_eq!(run.stdout.lines().count(), 3, "{}", run.stdout);
    assert!(run.stdout.lines().all(|l| l.starts_with("node2 | ")));
    cli("logs", &c.inventory, &["node9"]).expect(1, "unknown node");

    // -f: a line the master logs after the start shows up, prefixed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_redrepl"))
        .args(["logs", c.inventory.to_str().unwrap(), "-f", "-n", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let out = child.stdout.take().unwrap();
    let s2 = seen.clone();
    let reader = std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            s2.lock().unwrap().push(l);
        }
    });
    let bgsave = || {
        Command::new("redis-cli")
            .args([
                "--no-auth-warning",
                "-a",
                PASSWORD,
                "-p",
                &c.ports[0].to_string(),
            ])
            .arg("bgsave")
            .output()
            .unwrap();
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for("-f to show node1's BGSAVE", Duration::from_secs(20), || {
            bgsave();
            std::thread::sleep(Duration::from_millis(300));
            seen.lock()
                .unwrap()
                .iter()
                .any(|l| l.starts_with("node1 | ") && l.contains("Background saving started"))
        });
    }));
    // Ctrl-C ends it (and its `tail -F`).
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "logs -f after Ctrl-C: {status:?}");
    let _ = reader.join();
    let seen = seen.lock().unwrap();
    assert!(seen.iter().all(|l| !l.contains(PASSWORD)));
    assert!(result.is_ok(), "{seen:?}");
}
