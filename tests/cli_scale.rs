//! Scaling with `redrepl deploy` over real SSH (one four-VM lab for the whole file): add a
//! fourth node, move a replica (star → chain → star) live, remove the fourth node (left alone,
//! then `--prune`), and refuse removing the master. Untouched nodes keep their PIDs.

mod lab;
mod orch;

use lab::Lab;
use orch::{PASSWORD, alive, cli, lab_inventory, lab_pidfile, pid_in};
use std::path::Path;

fn pids(dir: &Path, n: usize) -> Vec<Option<i32>> {
    (1..=n)
        .map(|i| pid_in(&lab_pidfile(dir, &format!("node{i}"))))
        .collect()
}

fn redis_cli(lab: &Lab, vm: usize, args: &str) -> String {
    let out = lab.ssh(
        vm,
        &format!("redis-cli --no-auth-warning -a {PASSWORD} -p 6379 {args}"),
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The lab inventory with the given topology lines (one per node, node1..nodeN).
fn inventory(lab: &Lab, topology: &[&str]) -> std::path::PathBuf {
    let addrs: Vec<&str> = (0..topology.len()).map(|i| lab.addr(i)).collect();
    lab_inventory(
        &lab.dir,
        &addrs,
        &lab.key,
        &lab.known_hosts,
        "bundled",
        topology,
    )
}

#[test]
fn lab_bundled_add_move_remove_nodes_without_touching_the_others() {
    let lab = Lab::new(4);
    let star = ["role: master", "replicaof: node1", "replicaof: node1"];
    let inv = inventory(&lab, &star);
    cli("deploy", &inv, &[]).expect(0, "first deploy");
    let first = pids(&lab.dir, 3);
    assert!(first.iter().all(Option::is_some), "{first:?}");
    assert_eq!(redis_cli(&lab, 0, "set before-scaling yes"), "OK");

    // Add node4: deployed as a replica, fully synced; the others untouched.
    let inv = inventory(&lab, &[star[0], star[1], star[2], "replicaof: node1"]);
    let run = cli("deploy", &inv, &["--dry-run"]).expect(0, "dry run with node4");
    assert!(
        run.stdout.contains("node4: create") && run.stdout.contains("node1: unchanged"),
        "{}",
        run.stdout
    );
    let run = cli("deploy", &inv, &[]).expect(0, "deploy with node4");
    assert!(run.stdout.contains("node4: started"), "{}", run.all());
    for i in 1..=3 {
        assert!(
            run.stdout.contains(&format!("node{i}: unchanged")),
            "{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    assert_eq!(redis_cli(&lab, 3, "get before-scaling"), "yes");
    let with4 = pids(&lab.dir, 4);
    assert_eq!(&with4[..3], &first[..]);

    // Star → chain: node3 follows node2, live.
    let chain = [star[0], star[1], "replicaof: node2", "replicaof: node1"];
    let inv = inventory(&lab, &chain);
    let run = cli("deploy", &inv, &["--dry-run"]).expect(0, "dry run chain");
    assert!(
        run.stdout
            .contains("re-point live from node1 to node2 (REPLICAOF, no restart)"),
        "{}",
        run.stdout
    );
    let run = cli("deploy", &inv, &[]).expect(0, "deploy chain");
    assert!(
        run.stdout
            .contains("node3: re-pointed (REPLICAOF, no restart)"),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    assert_eq!(pids(&lab.dir, 4), with4, "a node was restarted");
    let run = cli("status", &inv, &["--json"]).expect(0, "status chain");
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows[2]["master"], format!("{}:6379", lab.addr(1)));
    // The next deploy has nothing to do (the config on node3 says node2 now).
    let run = cli("deploy", &inv, &[]).expect(0, "deploy chain again");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.all());

    // Chain → star.
    let inv = inventory(&lab, &[star[0], star[1], star[2], "replicaof: node1"]);
    let run = cli("deploy", &inv, &[]).expect(0, "deploy star again");
    assert!(run.stdout.contains("node3: re-pointed"), "{}", run.all());
    assert_eq!(pids(&lab.dir, 4), with4, "a node was restarted");
    let run = cli("status", &inv, &["--json"]).expect(0, "status star");
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows[2]["master"], format!("{}:6379", lab.addr(0)));

    // Remove node4: left alone and reported; --prune shuts it down.
    let node4 = with4[3].unwrap();
    let inv = inventory(&lab, &star);
    let run = cli("deploy", &inv, &[]).expect(0, "deploy without node4");
    let line = format!(
        "{}:6379 (replica of node1, not in the inventory): left running",
        lab.addr(3)
    );
    assert!(run.stdout.contains(&line), "{}", run.all());
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.all());
    assert!(alive(node4), "node4 was stopped without --prune");
    let run = cli("deploy", &inv, &["--prune", "--dry-run"]).expect(0, "prune dry run");
    assert!(run.stdout.contains("would be shut down"), "{}", run.all());
    assert!(alive(node4), "the dry run stopped node4");
    let run = cli("deploy", &inv, &["--prune"]).expect(0, "prune");
    assert!(
        run.stdout
            .contains("shut down (--prune; its data was saved)"),
        "{}",
        run.all()
    );
    orch::wait_for("node4 to exit", std::time::Duration::from_secs(10), || {
        !alive(node4)
    });
    assert_eq!(pids(&lab.dir, 3), first);
    let run = cli("deploy", &inv, &["--prune"]).expect(0, "prune again");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.all());
    assert!(
        !run.stdout.contains("not in the inventory"),
        "{}",
        run.all()
    );

    // Removing the master is refused (exit 2), nothing changed.
    let text = std::fs::read_to_string(&inv).unwrap();
    let text = text
        .replace(
            &format!(
                "  node1:\n    host: {}\n    role: master   # topology\n",
                lab.addr(0)
            ),
            "",
        )
        .replace(
            "replicaof: node1   # topology",
            "replicaof: node2   # topology",
        )
        .replacen(
            "replicaof: node2   # topology",
            "role: master   # topology",
            1,
        );
    assert!(!text.contains("node1"), "{text}");
    std::fs::write(&inv, text).unwrap();
    let run = cli("deploy", &inv, &[]).expect(2, "deploy without the master");
    assert!(
        run.stderr.contains("nodes.node2.role")
            && run
                .stderr
                .contains("removing or replacing the master is refused")
            && run.stderr.contains("redrepl promote"),
        "{}",
        run.all()
    );
    assert_eq!(pids(&lab.dir, 3), first);
    assert_eq!(redis_cli(&lab, 1, "role").lines().next(), Some("slave"));
}
