//! `redrepl backup` / `backup --list` / `restore` over real SSH (one three-VM lab for the
//! file): a backup taken on a replica of cluster A, restored into cluster B (another inventory
//! on the same VMs, port 6380); a truncated backup and a restore without --yes change nothing.

mod lab;
mod orch;

use lab::Lab;
use orch::{PASSWORD, cli, lab_inventory, pid_in, redrepl};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

fn redis_cli(lab: &Lab, vm: usize, port: u16, args: &str) -> String {
    let out = lab.ssh(
        vm,
        &format!("redis-cli --no-auth-warning -a {PASSWORD} -p {port} {args}"),
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Cluster B: the same VMs, port 6380, data under data-b/.
fn inventory_b(a: &Path) -> PathBuf {
    let text = std::fs::read_to_string(a)
        .unwrap()
        .replace("cluster: lab\n", "cluster: labb\n")
        .replace("port: 6379", "port: 6380")
        .replace("/data/{node}", "/data-b/{node}");
    let path = a.with_file_name("inventory-b.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn the_backup(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("manifest.json").exists())
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

#[test]
fn lab_bundled_backup_on_a_replica_then_restore_into_another_cluster() {
    let lab = Lab::new(3);
    let addrs: Vec<&str> = (0..3).map(|i| lab.addr(i)).collect();
    let inv_a = lab_inventory(
        &lab.dir,
        &addrs,
        &lab.key,
        &lab.known_hosts,
        "bundled",
        &["role: master", "replicaof: node1", "replicaof: node1"],
    );
    cli("deploy", &inv_a, &[]).expect(0, "deploy A");
    let fill = format!(
        "for i in $(seq 1 300); do echo \"SET key:$i val:$i\"; done | \
         redis-cli --no-auth-warning -a {PASSWORD} -p 6379 >/dev/null; \
         for i in 1 2 3 4 5; do redis-cli --no-auth-warning -a {PASSWORD} -p 6379 -n 3 \
         HSET h:$i f $i >/dev/null; done"
    );
    assert!(lab.ssh(0, &fill).status.success());
    let inv_b = inventory_b(&inv_a);
    cli("deploy", &inv_b, &[]).expect(0, "deploy B");
    assert_eq!(redis_cli(&lab, 0, 6380, "set only-in-b 1"), "OK");

    // Backup: taken on a replica, manifest matches the file and the master's history.
    let backups = lab.dir.join("backups");
    let to = backups.to_str().unwrap();
    let run = cli("backup", &inv_a, &["--to", to]).expect(0, "backup");
    assert!(
        run.stdout.contains("(node2 of lab, 305 keys"),
        "{}",
        run.all()
    );
    let good = the_backup(&backups);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(good.join("manifest.json")).unwrap())
            .unwrap();
    let data = std::fs::read(good.join("dump.rdb")).unwrap();
    let sum: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(m["node"], "node2");
    assert_eq!(m["role"], "replica");
    assert_eq!(m["cluster"], "lab");
    assert_eq!(m["keys"], serde_json::json!({"db0": 300, "db3": 5}));
    assert_eq!(m["size"], data.len());
    assert_eq!(m["sha256"], sum);
    assert_eq!(m["redrepl_version"], env!("CARGO_PKG_VERSION"));
    let master_replid = redis_cli(&lab, 0, 6379, "info replication")
        .lines()
        .find_map(|l| l.strip_prefix("master_replid:").map(str::to_string))
        .unwrap();
    assert_eq!(m["replid"], master_replid.as_str());
    assert!(m["offset"].as_i64().unwrap() > 0, "{m}");

    let run = redrepl(&["backup", "--list", to]).expect(0, "list");
    let name = good.file_name().unwrap().to_str().unwrap();
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with(name) && l.ends_with(" ok")),
        "{}",
        run.stdout
    );

    // A truncated copy: listed as unusable, refused by restore before anything stops.
    let broken = lab.dir.join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::copy(good.join("manifest.json"), broken.join("manifest.json")).unwrap();
    std::fs::write(broken.join("dump.rdb"), &data[..data.len() - 10]).unwrap();
    let run = redrepl(&["backup", "--list", lab.dir.to_str().unwrap()]).expect(1, "list broken");
    assert!(run.stdout.contains("UNUSABLE"), "{}", run.all());
    let b_pid = pid_in(&lab.dir.join("data-b/node1/redis_6380.pid"));
    let run = cli("restore", &inv_b, &[broken.to_str().unwrap(), "--yes"])
        .expect(1, "restore a truncated backup");
    assert!(
        run.stderr.contains("corrupted or truncated"),
        "{}",
        run.all()
    );
    assert_eq!(redis_cli(&lab, 0, 6380, "get only-in-b"), "1");
    assert_eq!(pid_in(&lab.dir.join("data-b/node1/redis_6380.pid")), b_pid);

    // Without --yes: the plan, what it replaces, nothing changed.
    let good_s = good.to_str().unwrap();
    let run = cli("restore", &inv_b, &[good_s]).expect(1, "restore without --yes");
    assert!(
        run.stdout.contains("replaces ALL the data of cluster labb")
            && run.stdout.contains("node1: holds db0=1 now")
            && run.stderr.contains("--yes"),
        "{}",
        run.all()
    );
    assert_eq!(redis_cli(&lab, 0, 6380, "get only-in-b"), "1");
    cli("restore", &inv_b, &[good_s, "--dry-run"]).expect(0, "dry run");
    assert_eq!(redis_cli(&lab, 0, 6380, "get only-in-b"), "1");

    // With --yes: B holds the backup on every node; B's old data is kept on node1.
    let run = cli("restore", &inv_b, &[good_s, "--yes"]).expect(0, "restore");
    for n in ["node1", "node2", "node3"] {
        assert!(
            run.stdout
                .contains(&format!("  {n}: db0=300 db3=5 (manifest db0=300 db3=5) ok")),
            "{}",
            run.all()
        );
    }
    for vm in 0..3 {
        assert_eq!(redis_cli(&lab, vm, 6380, "dbsize"), "300");
        assert_eq!(redis_cli(&lab, vm, 6380, "get key:77"), "val:77");
        assert_eq!(redis_cli(&lab, vm, 6380, "-n 3 hget h:4 f"), "4");
        assert_eq!(redis_cli(&lab, vm, 6380, "exists only-in-b"), "0");
    }
    let kept: Vec<_> = std::fs::read_dir(lab.dir.join("data-b/node1"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("dump6380.rdb.before-restore-")
        })
        .collect();
    let listing: Vec<_> = std::fs::read_dir(lab.dir.join("data-b/node1"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "the replaced data was not kept: {listing:?}\n{}",
        run.all()
    );
    cli("verify", &inv_b, &[]).expect(0, "verify B");
}
