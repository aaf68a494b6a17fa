//! The inventory's `persistence:` with `transport: local`, both engines (issue #15): deploy
//! turns the AOF on live (CONFIG SET, no restart, the initial rewrite waited for), the next
//! deploy is unchanged, status shows the AOF per node, a master with the AOF killed -9 is
//! started again by deploy (it comes back with its data: master_guard counts the AOF), and
//! `persistence: rdb` turns it off live.

mod orch;

use orch::{LocalCluster, cli, pid_in};
use std::time::Duration;

fn persistence_info(port: u16, field: &str) -> String {
    let mut c = orch::connect("127.0.0.1", port);
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO persistence"))
        .trim()
        .to_string()
}

/// Sets the top-level `persistence:` of the inventory (none: removed).
fn set_persistence(c: &LocalCluster, value: &str) {
    let text = std::fs::read_to_string(&c.inventory).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("persistence:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let text = kept.replacen(
        "cluster: local\n",
        &format!("cluster: local\npersistence: {value}\n"),
        1,
    );
    std::fs::write(&c.inventory, text).unwrap();
}

fn pids(c: &LocalCluster) -> Vec<i32> {
    (0..3).map(|i| pid_in(&c.pidfile(i)).unwrap()).collect()
}

fn persistence_round_trip(engine: &str) {
    let c = LocalCluster::new(engine);
    let inv = c.inventory.as_path();
    cli("deploy", inv, &[]).expect(0, "first deploy (no persistence: setting)");
    let before = pids(&c);
    assert_eq!(persistence_info(c.ports[0], "aof_enabled"), "0");

    // Turned on live: no restart, the initial rewrite done when deploy returns.
    set_persistence(&c, "both");
    let run = cli("deploy", inv, &["--dry-run"]).expect(0, "dry run");
    assert!(
        run.stdout
            .contains("persistence server defaults -> both live (CONFIG SET, no restart)"),
        "{}",
        run.all()
    );
    let run = cli("deploy", inv, &[]).expect(0, "deploy persistence: both");
    for n in ["node1", "node2", "node3"] {
        assert!(
            run.stdout.contains(&format!(
                "{n}: persistence changed (CONFIG SET, no restart)"
            )),
            "{}",
            run.all()
        );
    }
    assert_eq!(pids(&c), before, "no server restarted");
    for (i, port) in c.ports.iter().enumerate() {
        assert_eq!(persistence_info(*port, "aof_enabled"), "1");
        assert_eq!(persistence_info(*port, "aof_rewrite_in_progress"), "0");
        assert_eq!(persistence_info(*port, "aof_last_bgrewrite_status"), "ok");
        let dir = c.dir.path().join(format!("local-data/node{}", i + 1));
        assert!(dir.join("appendonlydir/appendonly.aof.manifest").exists());
        let conf = std::fs::read_to_string(dir.join(format!("redis-{port}.conf"))).unwrap();
        assert!(
            conf.contains("\nappendonly yes\nappendfsync everysec\nsave 3600 1 300 100 60 10000\n"),
            "{conf}"
        );
    }
    let run = cli("deploy", inv, &[]).expect(0, "deploy again");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.stdout);

    // status: the AOF per node.
    let run = cli("status", inv, &["--json"]).expect(0, "status");
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for r in rows.as_array().unwrap() {
        assert_eq!(r["aof"]["enabled"], true, "{r}");
        assert_eq!(r["aof"]["last_write_ok"], true, "{r}");
    }
    let run = cli("status", inv, &[]).expect(0, "status table");
    let header = run.stdout.lines().next().unwrap();
    assert!(
        header.contains("LAG MS") && header.contains("AOF"),
        "{header}"
    );

    // The master killed -9 right after writes (no RDB save since): deploy starts it again,
    // from its AOF, and nothing is lost on it or on its replicas.
    let mut m = orch::connect("127.0.0.1", c.ports[0]);
    for i in 0..100 {
        let _: () = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(i)
            .query(&mut m)
            .unwrap();
    }
    let _: i64 = redis::cmd("WAIT").arg(2).arg(5000).query(&mut m).unwrap();
    drop(m);
    // SAFETY: kill(2) on the pid our own server wrote.
    unsafe {
        libc::kill(before[0], libc::SIGKILL);
    }
    orch::wait_for("the master's exit", Duration::from_secs(10), || {
        !orch::alive(before[0])
    });
    let run = cli("deploy", inv, &[]).expect(0, "deploy after the master was killed");
    assert!(run.stdout.contains("node1: started"), "{}", run.all());
    for port in c.ports {
        let mut n = orch::connect("127.0.0.1", port);
        let v: i64 = redis::cmd("DBSIZE").query(&mut n).unwrap();
        assert_eq!(v, 100, "keys on port {port}");
    }

    // Back to RDB only, live.
    set_persistence(&c, "rdb");
    let after_kill = pids(&c);
    let run = cli("deploy", inv, &[]).expect(0, "deploy persistence: rdb");
    assert!(
        run.stdout
            .contains("node1: persistence changed (CONFIG SET, no restart)"),
        "{}",
        run.all()
    );
    assert_eq!(pids(&c), after_kill);
    for port in c.ports {
        assert_eq!(persistence_info(port, "aof_enabled"), "0");
    }
}

#[test]
fn persistence_bundled_applied_live_shown_and_guards_the_master() {
    persistence_round_trip("bundled");
}

#[test]
fn persistence_redis_engine_applied_live_shown_and_guards_the_master() {
    persistence_round_trip("redis");
}
