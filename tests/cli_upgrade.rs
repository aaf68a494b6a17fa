//! `redrepl upgrade` over real SSH (one three-VM lab): a binary that does not start stops the
//! upgrade at the first replica, which is put back on its previous binary, with the master
//! untouched; then a rolling upgrade with `--keep-master` onto a different binary (this
//! program with bytes appended: another checksum, which is what "the new binary" means to
//! upgrade; it reads what each server runs from /proc/<pid>/exe).

mod lab;
mod orch;

use lab::Lab;
use orch::{PASSWORD, alive, cli, lab_inventory, lab_pidfile, pid_in};
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;

fn sum(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn redis_cli(lab: &Lab, vm: usize, args: &str) -> String {
    let out = lab.ssh(
        vm,
        &format!("redis-cli --no-auth-warning -a {PASSWORD} -p 6379 {args}"),
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn lab_bundled_rolling_upgrade_and_a_replica_that_does_not_come_back() {
    let lab = Lab::new(3);
    let addrs: Vec<&str> = (0..3).map(|i| lab.addr(i)).collect();
    let inv = lab_inventory(
        &lab.dir,
        &addrs,
        &lab.key,
        &lab.known_hosts,
        "bundled",
        &["role: master", "replicaof: node1", "replicaof: node1"],
    );
    cli("deploy", &inv, &[]).expect(0, "deploy");
    assert_eq!(redis_cli(&lab, 0, "set before-upgrade 1"), "OK");
    let pids = || -> Vec<i32> {
        (1..=3)
            .map(|i| pid_in(&lab_pidfile(&lab.dir, &format!("node{i}"))).unwrap())
            .collect()
    };
    let first = pids();

    // The new binary: this program with bytes appended.
    let mut data = std::fs::read(env!("CARGO_BIN_EXE_redrepl")).unwrap();
    data.extend_from_slice(b"\0redrepl upgrade test\0");
    let new_sum = sum(&data);
    let new_bin = lab.dir.join("redrepl-new");
    std::fs::write(&new_bin, &data).unwrap();
    std::fs::set_permissions(&new_bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let new_bin = new_bin.to_str().unwrap();

    let run = cli("upgrade", &inv, &["--binary", new_bin, "--dry-run"]).expect(0, "dry run");
    assert!(
        run.stdout
            .contains("node2: upload the new binary as redrepl.next")
            && run.stdout.contains("node1: switch over to node2"),
        "{}",
        run.stdout
    );
    assert_eq!(pids(), first);

    // A binary that does not start: stopped at node2, which is back on its old binary.
    let broken = lab.dir.join("redrepl-broken");
    std::fs::write(&broken, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = cli("upgrade", &inv, &["--binary", broken.to_str().unwrap()])
        .expect(1, "upgrade onto a broken binary");
    assert!(
        run.stderr.contains("upgrade stopped at node2")
            && run.stderr.contains("back on the previous one and serving")
            && run.stderr.contains("the master was not touched"),
        "{}",
        run.all()
    );
    for i in 1..=3 {
        let staged = lab.dir.join(format!("data/node{i}/redrepl.next"));
        assert!(!staged.exists(), "{} left behind", staged.display());
    }
    let now = pids();
    assert_eq!(now[0], first[0], "the master was restarted");
    assert_eq!(now[2], first[2], "node3 was restarted");
    assert!(alive(now[1]));
    cli("verify", &inv, &[]).expect(0, "verify after the failed upgrade");

    // The real upgrade, master switched back.
    let run = cli("upgrade", &inv, &["--binary", new_bin, "--keep-master"]).expect(0, "upgrade");
    assert!(
        run.stdout.contains("upgrade: done; the master is node1"),
        "{}",
        run.all()
    );
    let after = pids();
    for (i, pid) in after.iter().enumerate() {
        assert_ne!(*pid, first[i], "node{} was not restarted", i + 1);
        let exe = std::fs::read(format!("/proc/{pid}/exe")).unwrap();
        assert_eq!(sum(&exe), new_sum, "node{} runs another binary", i + 1);
        assert_eq!(redis_cli(&lab, i, "get before-upgrade"), "1");
    }
    assert_eq!(redis_cli(&lab, 0, "role").lines().next(), Some("master"));
    cli("verify", &inv, &[]).expect(0, "verify after the upgrade");
    let run = cli("upgrade", &inv, &["--binary", new_bin]).expect(0, "upgrade again");
    assert!(
        run.stdout.contains("upgrade: nothing to do"),
        "{}",
        run.all()
    );
}
