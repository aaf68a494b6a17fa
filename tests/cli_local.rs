//! `inventories/local.yaml` end to end with `transport: local` (no SSH): deploy, verify,
//! status, promote, stop — through the binary, on free ports in a temporary folder.

mod orch;

use orch::{LocalCluster, alive, cli, pid_in};

fn local_round_trip(engine: &str) {
    let c = LocalCluster::new(engine);
    let inv = c.inventory.as_path();

    // Dry run: the plan, nothing touched.
    let run = cli("deploy", inv, &["--dry-run"]).expect(0, "dry run");
    assert!(
        run.stdout.contains("dry run: nothing was changed"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("start"), "{}", run.stdout);
    assert!(!c.dir.path().join("local-data").exists());

    // S4/S5: deploy from nothing, then verify.
    let run = cli("deploy", inv, &[]).expect(0, "first deploy");
    assert!(run.stdout.contains("node1: started"), "{}", run.stdout);
    assert!(run.stdout.contains("verify: OK"), "{}", run.stdout);
    let pids: Vec<i32> = (0..3).map(|i| pid_in(&c.pidfile(i)).unwrap()).collect();
    cli("verify", inv, &[]).expect(0, "verify");

    // Again: unchanged, nothing restarted.
    let run = cli("deploy", inv, &[]).expect(0, "second deploy");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.stdout);
    let again: Vec<i32> = (0..3).map(|i| pid_in(&c.pidfile(i)).unwrap()).collect();
    assert_eq!(pids, again);

    // status: one row per node, roles right.
    let run = cli("status", inv, &["--json"]).expect(0, "status");
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let roles: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["master", "replica", "replica"]);
    assert_eq!(rows[1]["link"], "up");
    let run = cli("status", inv, &[]).expect(0, "status table");
    assert!(run.stdout.starts_with("NODE"), "{}", run.stdout);
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.stdout);

    // A write on the master shows on the replicas (through our own verify and by hand).
    let mut m = orch::connect("127.0.0.1", c.ports[0]);
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut m).unwrap();

    // promote --dry-run: the plan, and nothing changed (roles, inventory, servers).
    let inv_before = std::fs::read_to_string(inv).unwrap();
    let run = cli("promote", inv, &["node2", "--dry-run"]).expect(0, "promote --dry-run");
    assert!(
        run.stdout.contains("dry run: nothing was changed"),
        "{}",
        run.all()
    );
    for want in [
        "node2: catch up with node1",
        "REPLICAOF NO ONE",
        "node1: REPLICAOF node2",
        "node3: REPLICAOF node2",
        "node2 becomes the master, node1 follows node2",
    ] {
        assert!(run.stdout.contains(want), "{want:?} missing: {}", run.all());
    }
    assert_eq!(std::fs::read_to_string(inv).unwrap(), inv_before);
    let mut n2 = orch::connect("127.0.0.1", c.ports[1]);
    assert_eq!(orch::info_field(&mut n2, "role").as_deref(), Some("slave"));
    assert_eq!(orch::info_field(&mut m, "role").as_deref(), Some("master"));
    drop(n2);

    // promote node2: the inventory follows, the next deploy is unchanged.
    let run = cli("promote", inv, &["node2"]).expect(0, "promote");
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    let text = std::fs::read_to_string(inv).unwrap();
    assert!(text.contains("  node1:\n    replicaof: node2\n"), "{text}");
    assert!(text.contains("  node2:\n    role: master\n"), "{text}");
    assert!(text.contains("  node3:\n    replicaof: node2\n"), "{text}");
    assert!(
        text.starts_with("# Three nodes on this machine"),
        "comments kept: {text}"
    );
    let mut n2 = orch::connect("127.0.0.1", c.ports[1]);
    assert_eq!(orch::info_field(&mut n2, "role").as_deref(), Some("master"));
    let v: String = redis::cmd("GET").arg("k").query(&mut n2).unwrap();
    assert_eq!(v, "v");
    let run = cli("deploy", inv, &[]).expect(0, "deploy after promote");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.stdout);

    // stop: every server gone, data saved; deploy starts them again with the new topology.
    cli("stop", inv, &[]).expect(0, "stop");
    for p in &again {
        orch::wait_for("server exit", std::time::Duration::from_secs(10), || {
            !alive(*p)
        });
    }
    let run = cli("deploy", inv, &[]).expect(0, "deploy after stop");
    assert!(run.stdout.contains("node2: started"), "{}", run.stdout);
    let mut n2 = orch::connect("127.0.0.1", c.ports[1]);
    assert_eq!(orch::info_field(&mut n2, "role").as_deref(), Some("master"));
    let v: String = redis::cmd("GET").arg("k").query(&mut n2).unwrap();
    assert_eq!(v, "v");
    let mut n1 = orch::connect("127.0.0.1", c.ports[0]);
    assert_eq!(orch::info_field(&mut n1, "role").as_deref(), Some("slave"));
}

/// Needs replication in the bundled server.
#[test]
fn local_inventory_bundled_deploy_verify_status_promote_stop() {
    local_round_trip("bundled");
}

#[test]
fn local_inventory_redis_engine_deploy_verify_status_promote_stop() {
    local_round_trip("redis");
}

#[test]
fn verify_with_a_wrong_password_says_so_without_printing_it() {
    let c = LocalCluster::new("redis");
    let inv = c.inventory.as_path();
    cli("deploy", inv, &[]).expect(0, "deploy");
    let wrong = c.dir.path().join("wrong.yaml");
    let text = std::fs::read_to_string(inv)
        .unwrap()
        .replace(orch::PASSWORD, "not-the-password-123");
    std::fs::write(&wrong, text).unwrap();
    let run = cli("verify", &wrong, &[]);
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.all().contains("authentication refused"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains("not-the-password-123"), "{}", run.all());
    let run = cli("status", &wrong, &[]);
    assert_ne!(run.code, 0);
    assert!(
        run.all().contains("authentication refused"),
        "{}",
        run.all()
    );

    // A server whose password was changed by hand, config unchanged: deploy refuses before
    // touching anything.
    let pids: Vec<i32> = (0..3).map(|i| pid_in(&c.pidfile(i)).unwrap()).collect();
    let mut n2 = orch::connect("127.0.0.1", c.ports[1]);
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("changed-by-hand-42")
        .query(&mut n2)
        .unwrap();
    let run = cli("deploy", inv, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("node2"), "{}", run.stderr);
    assert!(
        run.stderr.contains("authentication refused"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(!run.all().contains("changed-by-hand-42"));
    let after: Vec<i32> = (0..3).map(|i| pid_in(&c.pidfile(i)).unwrap()).collect();
    assert_eq!(pids, after);
    // Back to the inventory's password so the guard can stop it.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg(orch::PASSWORD)
        .query(&mut n2)
        .unwrap();
}

#[test]
fn verify_and_promote_refuse_when_the_master_is_down() {
    let c = LocalCluster::new("redis");
    let inv = c.inventory.as_path();
    cli("deploy", inv, &[]).expect(0, "deploy");
    cli("stop", inv, &["node1"]).expect(0, "stop node1");
    let run = cli("verify", inv, &[]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stdout.contains("node1 (") && run.stdout.contains("not running"),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("--force"), "{}", run.all());
    let before = std::fs::read_to_string(inv).unwrap();
    let run = cli("promote", inv, &["node3"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.all().contains("--force"), "{}", run.all());
    assert_eq!(std::fs::read_to_string(inv).unwrap(), before);
    let run = cli("promote", inv, &["node3", "--force"]).expect(0, "promote --force");
    assert!(run.all().contains("bytes"), "{}", run.all());
    cli("verify", inv, &[]).expect(0, "verify after force");
}

/// A master stopped cleanly saved everything its replicas have: verify advises a plain
/// deploy, and deploy starts it (the master-loss guard does not refuse a safe start).
fn clean_stop_then_deploy_starts_the_master(engine: &str) {
    let c = LocalCluster::new(engine);
    let inv = c.inventory.as_path();
    cli("deploy", inv, &[]).expect(0, "deploy");
    let mut m = orch::connect("127.0.0.1", c.ports[0]);
    let _: () = redis::cmd("SET").arg("k1").arg("v1").query(&mut m).unwrap();
    drop(m);
    cli("stop", inv, &["node1"]).expect(0, "stop node1");
    let run = cli("verify", inv, &[]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stdout.contains("start it with `redrepl deploy"),
        "{}",
        run.all()
    );
    let run = cli("deploy", inv, &[]).expect(0, "deploy after a clean stop");
    assert!(run.stdout.contains("node1: started"), "{}", run.all());
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    let mut m = orch::connect("127.0.0.1", c.ports[0]);
    let v: String = redis::cmd("GET").arg("k1").query(&mut m).unwrap();
    assert_eq!(v, "v1");
}

#[test]
fn bundled_clean_stop_of_the_master_then_deploy_starts_it() {
    clean_stop_then_deploy_starts_the_master("bundled");
}

#[test]
fn redis_clean_stop_of_the_master_then_deploy_starts_it() {
    clean_stop_then_deploy_starts_the_master("redis");
}

/// Issue #10 with the local transport: a master killed before any save is not started over
/// its replicas; deploy refuses with the figures, the replicas keep k1.
#[test]
fn local_deploy_refuses_to_start_a_crashed_master_over_its_replicas() {
    let c = LocalCluster::new("bundled");
    let inv = c.inventory.as_path();
    cli("deploy", inv, &[]).expect(0, "deploy");
    let mut m = orch::connect("127.0.0.1", c.ports[0]);
    let _: () = redis::cmd("SET").arg("k1").arg("v1").query(&mut m).unwrap();
    drop(m);
    for i in 1..3 {
        orch::wait_for(
            "k1 on the replicas",
            std::time::Duration::from_secs(10),
            || {
                let mut r = orch::connect("127.0.0.1", c.ports[i]);
                redis::cmd("GET")
                    .arg("k1")
                    .query::<Option<String>>(&mut r)
                    .unwrap()
                    .is_some()
            },
        );
    }
    let pid = pid_in(&c.pidfile(0)).unwrap();
    // SAFETY: the pid of our own server.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    orch::wait_for("node1 to die", std::time::Duration::from_secs(5), || {
        !alive(pid)
    });
    let run = cli("deploy", inv, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("node2 --force"), "{}", run.all());
    assert!(run.stderr.contains("holds offset"), "{}", run.all());
    assert!(std::net::TcpStream::connect(("127.0.0.1", c.ports[0])).is_err());
    for i in 1..3 {
        let mut r = orch::connect("127.0.0.1", c.ports[i]);
        let v: String = redis::cmd("GET").arg("k1").query(&mut r).unwrap();
        assert_eq!(v, "v1");
    }
}

/// Copies the built-in template into the inventory folder as the user's copy, edited by `edit`.
fn user_template(c: &LocalCluster, edit: impl Fn(&str) -> String) {
    let builtin = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/redis.conf.j2"),
    )
    .unwrap();
    let user = edit(&builtin);
    assert_ne!(user, builtin, "the edit changed nothing");
    std::fs::create_dir_all(c.dir.path().join("templates")).unwrap();
    std::fs::write(c.dir.path().join("templates/redis.conf.j2"), user).unwrap();
}

/// `redrepl stop` says "data saved": with `save ""` (no save points) in the user's template
/// a plain SHUTDOWN would save nothing, and the master would come back empty. stop sends
/// SHUTDOWN SAVE, so a stop + deploy keeps every key.
fn stop_saves_without_save_points(engine: &str) {
    let c = LocalCluster::new(engine);
    let inv = c.inventory.as_path();
    user_template(&c, |t| {
        t.replace(
            "# --- replication tuning",
            "save \"\"\n\n# --- replication tuning",
        )
    });
    cli("deploy", inv, &[]).expect(0, "deploy with save \"\"");
    let mut m = orch::connect("127.0.0.1", c.ports[0]);
    let _: () = redis::cmd("SET").arg("k1").arg("v1").query(&mut m).unwrap();
    drop(m);
    let run = cli("stop", inv, &[]).expect(0, "stop");
    assert!(run.all().contains("stopped (data saved)"), "{}", run.all());
    let run = cli("deploy", inv, &[]).expect(0, "deploy after stop");
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    for port in c.ports {
        let mut n = orch::connect("127.0.0.1", port);
        let v: Option<String> = redis::cmd("GET").arg("k1").query(&mut n).unwrap();
        assert_eq!(v.as_deref(), Some("v1"), "node on port {port}");
    }
}

#[test]
fn bundled_stop_saves_without_save_points() {
    stop_saves_without_save_points("bundled");
}

#[test]
fn redis_stop_saves_without_save_points() {
    stop_saves_without_save_points("redis");
}

/// A user template with `replica-serve-stale-data no`: a replica answers PING with
/// MASTERDOWN until its first sync completes; deploy treats that as started (it then waits for
/// the sync as for any replica) instead of failing the node.
fn deploy_with_stale_data_off(engine: &str) {
    let c = LocalCluster::new(engine);
    let inv = c.inventory.as_path();
    user_template(&c, |t| {
        t.replace(
            "replica-serve-stale-data yes",
            "replica-serve-stale-data no",
        )
    });
    let run = cli("deploy", inv, &[]).expect(0, "deploy with replica-serve-stale-data no");
    assert!(run.stdout.contains("node3: started"), "{}", run.all());
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    let mut r = orch::connect("127.0.0.1", c.ports[2]);
    let v: String = redis::cmd("CONFIG")
        .arg("GET")
        .arg("replica-serve-stale-data")
        .query::<Vec<String>>(&mut r)
        .unwrap()
        .remove(1);
    assert_eq!(v, "no");
}

#[test]
fn bundled_deploy_with_replica_serve_stale_data_off() {
    deploy_with_stale_data_off("bundled");
}

#[test]
fn redis_deploy_with_replica_serve_stale_data_off() {
    deploy_with_stale_data_off("redis");
}
