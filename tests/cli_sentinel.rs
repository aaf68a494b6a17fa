//! Sentinels deployed and driven by redrepl (issue #16, the orchestrator side), on this
//! machine (`transport: local`, servers and sentinels of Debian's Redis 7.0: sentinels find
//! each other through pub/sub on the master): deploy starts the sentinels and waits until
//! they see the whole cluster, status shows them, a kill -9 of the master is failed over by
//! them, the next deploy follows the sentinels (inventory updated, nothing switched back),
//! verify fails naming a sentinel that is down, stop stops them.

mod orch;

use orch::{PASSWORD, alive, cli, free_port, pid_in, sentinel_rows, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Three local nodes with a sentinel each, on free ports, in a temporary folder; on drop
/// `redrepl stop`, then SIGKILL to every pid its pidfiles name.
struct SentinelCluster {
    dir: tempfile::TempDir,
    inventory: PathBuf,
    ports: [u16; 3],
    sentinel_ports: [u16; 3],
}

impl SentinelCluster {
    /// Debian's redis-server and redis-sentinel.
    fn new() -> SentinelCluster {
        SentinelCluster::with_engines("redis", "redis")
    }

    /// Servers and sentinels of the given engines (`redis` or `bundled`).
    fn with_engines(server: &str, sentinel: &str) -> SentinelCluster {
        let dir = tempfile::Builder::new()
            .prefix("redrepl-sentinel-")
            .tempdir()
            .unwrap();
        let ports = [free_port(), free_port(), free_port()];
        let sentinel_ports = [free_port(), free_port(), free_port()];
        let mut y = format!(
            "# sentinel test inventory\ncluster: ha\nengine: {server}\nauth:\n  password: {PASSWORD}\n\
             sentinel:\n  engine: {sentinel}\n  quorum: 2\n  down_after_ms: 1000\n  \
             failover_timeout_ms: 10000\n\
             defaults:\n  transport: local\n  host: 127.0.0.1\n  bind: 127.0.0.1\n  \
             protected_mode: true\n  dir: \"data/{{node}}\"\nnodes:\n"
        );
        for i in 0..3 {
            let topo = if i == 0 {
                "role: master".to_string()
            } else {
                "replicaof: node1".to_string()
            };
            y.push_str(&format!(
                "  node{}:\n    {topo}\n    port: {}\n    sentinel: {{port: {}}}\n",
                i + 1,
                ports[i],
                sentinel_ports[i]
            ));
        }
        let inventory = dir.path().join("inventory.yaml");
        std::fs::write(&inventory, y).unwrap();
        SentinelCluster {
            dir,
            inventory,
            ports,
            sentinel_ports,
        }
    }

    fn node_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("data/node{}", i + 1))
    }

    fn server_pid(&self, i: usize) -> Option<i32> {
        pid_in(
            &self
                .node_dir(i)
                .join(format!("redis_{}.pid", self.ports[i])),
        )
    }

    fn sentinel_pid(&self, i: usize) -> Option<i32> {
        pid_in(
            &self
                .node_dir(i)
                .join(format!("sentinel_{}.pid", self.sentinel_ports[i])),
        )
    }

    /// The master's port and flags as the sentinel of node `i` reports them.
    fn sentinel_master(&self, i: usize) -> Option<(u16, String)> {
        let mut s = orch::connect("127.0.0.1", self.sentinel_ports[i]);
        let m: Vec<String> = redis::cmd("SENTINEL")
            .arg("MASTER")
            .arg("ha")
            .query(&mut s)
            .ok()?;
        let field = |name: &str| {
            let at = m.iter().position(|f| f == name)?;
            m.get(at + 1).cloned()
        };
        Some((field("port")?.parse().ok()?, field("flags")?))
    }

    fn inventory_text(&self) -> String {
        std::fs::read_to_string(&self.inventory).unwrap()
    }

    fn inv(&self) -> &Path {
        &self.inventory
    }
}

impl Drop for SentinelCluster {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_redrepl"))
            .arg("stop")
            .arg(&self.inventory)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for i in 0..3 {
            for pid in [self.server_pid(i), self.sentinel_pid(i)]
                .into_iter()
                .flatten()
            {
                orch::kill9(pid);
            }
        }
    }
}

#[test]
fn sentinels_deploy_fail_over_and_the_next_deploy_follows_them() {
    let c = SentinelCluster::new();
    let inv = c.inv();

    // Dry run: the sentinels' plan, nothing touched.
    let run = cli("deploy", inv, &["--dry-run"]).expect(0, "dry run");
    assert!(
        run.stdout.contains("node1: write")
            && run.stdout.contains("and start the sentinel on port"),
        "{}",
        run.all()
    );
    assert!(!c.dir.path().join("data").exists());

    // Deploy: servers, then sentinels that see the whole cluster.
    let run = cli("deploy", inv, &[]).expect(0, "first deploy");
    assert!(run.stdout.contains("sentinels: OK"), "{}", run.all());
    let conf = c
        .node_dir(1)
        .join(format!("sentinel-{}.conf", c.sentinel_ports[1]));
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&conf).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "sentinel.conf holds auth-pass: {mode:o}");
    for i in 0..3 {
        assert_eq!(c.sentinel_master(i).unwrap().0, c.ports[0]);
    }
    // The servers' config bounds what a failover can discard.
    let server_conf =
        std::fs::read_to_string(c.node_dir(0).join(format!("redis-{}.conf", c.ports[0]))).unwrap();
    assert!(
        server_conf.contains("min-replicas-to-write 1\nmin-replicas-max-lag 10\n"),
        "{server_conf}"
    );

    // status: the sentinel view.
    let run = cli("status", inv, &[]).expect(0, "status");
    assert!(run.stdout.contains("SENTINEL"), "{}", run.stdout);
    let rows = sentinel_rows(&run.stdout);
    assert_eq!(rows.len(), 3, "{}", run.stdout);
    for cells in &rows {
        // SENTINEL ADDRESS UP MASTER EPOCH DOWN SENTINELS REPLICAS QUORUM
        assert_eq!(
            &cells[2..],
            ["yes", "node1", "0", "no", "3", "2", "OK"],
            "{}",
            run.stdout
        );
    }

    let run = cli("status", inv, &["--prometheus"]).expect(0, "status --prometheus");
    assert!(
        run.stdout.contains(&format!(
            "redrepl_sentinel_up{{cluster=\"ha\",node=\"node2\",addr=\"127.0.0.1:{}\"}} 1\n",
            c.sentinel_ports[1]
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("redrepl_sentinel_quorum_ok{cluster=\"ha\",node=\"node3\""),
        "{}",
        run.stdout
    );

    // Unchanged on a second deploy: the sentinels are not rewritten or restarted.
    let sentinel_pids: Vec<i32> = (0..3).map(|i| c.sentinel_pid(i).unwrap()).collect();
    let run = cli("deploy", inv, &[]).expect(0, "second deploy");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.all());
    assert_eq!(
        sentinel_pids,
        (0..3)
            .map(|i| c.sentinel_pid(i).unwrap())
            .collect::<Vec<_>>()
    );

    // A setting changed in the inventory: SENTINEL SET, no restart, no file written by us.
    std::fs::write(
        inv,
        c.inventory_text()
            .replace("down_after_ms: 1000", "down_after_ms: 1200"),
    )
    .unwrap();
    let run = cli("deploy", inv, &["--dry-run"]).expect(0, "dry run of a setting");
    assert!(
        run.stdout
            .contains("SENTINEL SET down-after-milliseconds 1200"),
        "{}",
        run.all()
    );
    cli("deploy", inv, &[]).expect(0, "deploy of a setting");
    let mut s = orch::connect("127.0.0.1", c.sentinel_ports[2]);
    let m: Vec<String> = redis::cmd("SENTINEL")
        .arg("MASTER")
        .arg("ha")
        .query(&mut s)
        .unwrap();
    let at = m
        .iter()
        .position(|f| f == "down-after-milliseconds")
        .unwrap();
    assert_eq!(m[at + 1], "1200");
    drop(s);
    assert_eq!(
        sentinel_pids,
        (0..3)
            .map(|i| c.sentinel_pid(i).unwrap())
            .collect::<Vec<_>>()
    );

    // promote --dry-run with sentinels: the plan goes through them; nothing changes.
    let inv_before = c.inventory_text();
    let run = cli("promote", inv, &["node2", "--dry-run"]).expect(0, "promote plan");
    for want in [
        "node3: CONFIG SET replica-priority 0 for the switch (now 100), restored after",
        "node1: fence writes (CONFIG SET min-replicas-to-write 1000000: NOREPLICAS); wait \
         until node2 has every write it took",
        "sentinel of node1: SENTINEL FAILOVER ha; wait until every sentinel (node1, node2, \
         node3) reports node2 with one config epoch",
        "node1: REPLICAOF node2 while fenced; lift the fence; CONFIG REWRITE",
    ] {
        assert!(
            run.stdout.contains(want),
            "{want:?} missing:\n{}",
            run.all()
        );
    }
    assert_eq!(c.inventory_text(), inv_before);
    let mut n3 = orch::connect("127.0.0.1", c.ports[2]);
    let prio: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("replica-priority")
        .query(&mut n3)
        .unwrap();
    assert_eq!(prio[1], "100");
    drop(n3);
    let mut n2 = orch::connect("127.0.0.1", c.ports[1]);
    assert_eq!(orch::info_field(&mut n2, "role").as_deref(), Some("slave"));
    drop(n2);

    // A write, then kill -9 of the master: the sentinels fail over by themselves.
    let mut m = orch::connect("127.0.0.1", c.ports[0]);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("before")
        .query(&mut m)
        .unwrap();
    let _: i64 = redis::cmd("WAIT").arg(2).arg(5000).query(&mut m).unwrap();
    drop(m);
    let old_pid = c.server_pid(0).unwrap();
    // SAFETY: kill(2) on the pid our own server wrote.
    unsafe {
        libc::kill(old_pid, libc::SIGKILL);
    }
    wait_for("the sentinels' failover", Duration::from_secs(40), || {
        (0..3).all(|i| matches!(c.sentinel_master(i), Some((p, flags)) if p != c.ports[0] && !flags.contains("failover")))
    });
    let new_port = c.sentinel_master(0).unwrap().0;
    let new = if new_port == c.ports[1] { 1 } else { 2 };
    let other = 3 - new;
    let new_name = format!("node{}", new + 1);

    // status and verify report it; verify fails (the inventory's master is down).
    let run = cli("status", inv, &[]);
    let rows = sentinel_rows(&run.stdout);
    assert_eq!(rows.len(), 3, "{}", run.all());
    for cells in &rows {
        assert_eq!(
            cells.get(3).copied(),
            Some(new_name.as_str()),
            "{}",
            run.all()
        );
    }
    let run = cli("verify", inv, &[]).expect(3, "verify after the failover");
    assert!(run.stdout.contains(&new_name), "{}", run.all());

    // The next deploy follows the sentinels: the inventory is updated, the old master is
    // started as a replica of the new one, the others are left running.
    let others_pids = [c.server_pid(new).unwrap(), c.server_pid(other).unwrap()];
    let run = cli("deploy", inv, &["--dry-run"]).expect(0, "dry run after the failover");
    assert!(
        run.stdout
            .contains(&format!("{new_name} is the master now (was node1)")),
        "{}",
        run.all()
    );
    assert!(c.inventory_text().contains("  node1:\n    role: master\n"));
    let run = cli("deploy", inv, &[]).expect(0, "deploy after the failover");
    assert!(
        run.stdout.contains(&format!(
            "{new_name} is the master now (was node1); updated the inventory"
        )),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("node1: started"), "{}", run.all());
    let text = c.inventory_text();
    assert!(
        text.contains(&format!("  node1:\n    replicaof: {new_name}\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("  {new_name}:\n    role: master\n")),
        "{text}"
    );
    assert!(text.starts_with("# sentinel test inventory"), "{text}");
    assert_eq!(
        others_pids,
        [c.server_pid(new).unwrap(), c.server_pid(other).unwrap()],
        "the running servers were not restarted"
    );
    assert!(alive(others_pids[0]) && alive(others_pids[1]));
    let mut n = orch::connect("127.0.0.1", c.ports[new]);
    let v: String = redis::cmd("GET").arg("k").query(&mut n).unwrap();
    assert_eq!(v, "before");
    let mut old = orch::connect("127.0.0.1", c.ports[0]);
    assert_eq!(orch::info_field(&mut old, "role").as_deref(), Some("slave"));
    assert_eq!(
        orch::info_field(&mut old, "master_port"),
        Some(c.ports[new].to_string())
    );
    drop((n, old));
    // And nothing more to do.
    let run = cli("deploy", inv, &[]).expect(0, "deploy after the adoption");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.all());

    // One sentinel down: verify fails naming it.
    let s3 = c.sentinel_pid(other).unwrap();
    // SAFETY: kill(2) on the pid our own sentinel wrote.
    unsafe {
        libc::kill(s3, libc::SIGKILL);
    }
    wait_for("sentinel exit", Duration::from_secs(10), || !alive(s3));
    let run = cli("verify", inv, &[]).expect(3, "verify with a sentinel down");
    assert!(
        run.all().contains(&format!(
            "sentinel of node{} (127.0.0.1:{}) is unreachable",
            other + 1,
            c.sentinel_ports[other]
        )),
        "{}",
        run.all()
    );

    // stop: sentinels and servers gone.
    let pids: Vec<i32> = (0..3)
        .flat_map(|i| [c.server_pid(i), c.sentinel_pid(i)])
        .flatten()
        .filter(|p| *p != s3)
        .collect();
    cli("stop", inv, &[]).expect(0, "stop");
    for p in pids {
        wait_for("exit after stop", Duration::from_secs(10), || !alive(p));
    }
}

#[test]
fn the_sentinel_block_is_checked_before_any_host_is_touched() {
    let c = SentinelCluster::new();
    // quorum above the sentinels deployed, a sentinel on a server's port.
    let text = c
        .inventory_text()
        .replace("quorum: 2", "quorum: 4")
        .replace(
            &format!("sentinel: {{port: {}}}", c.sentinel_ports[2]),
            &format!("sentinel: {{port: {}}}", c.ports[0]),
        );
    std::fs::write(c.inv(), text).unwrap();
    let run = cli("deploy", c.inv(), &[]).expect(2, "invalid sentinel block");
    assert!(
        run.stderr
            .contains("sentinel.quorum: quorum 4 is more than the 3 sentinel(s) deployed"),
        "{}",
        run.all()
    );
    assert!(
        run.stderr.contains(&format!(
            "nodes.node3.sentinel.port: 127.0.0.1:{} is already used by node 'node1'",
            c.ports[0]
        )),
        "{}",
        run.all()
    );
    assert!(!c.dir.path().join("data").exists());

    // Two sentinels cannot survive losing one.
    let text = c
        .inventory_text()
        .replace("quorum: 4", "quorum: 2")
        .replace(
            &format!("sentinel: {{port: {}}}", c.ports[0]),
            "sentinel: {enabled: false}",
        );
    std::fs::write(c.inv(), text).unwrap();
    let run = cli("render", c.inv(), &[]).expect(2, "two sentinels");
    assert!(
        run.stderr
            .contains("sentinel: 2 sentinel(s): a failover needs a majority (2 of 2)"),
        "{}",
        run.all()
    );
}

#[test]
fn init_enables_sentinels_and_its_inventory_validates() {
    let dir = tempfile::tempdir().unwrap();
    orch::redrepl(&["init", dir.path().to_str().unwrap(), "--plain"]).expect(0, "init");
    let text = std::fs::read_to_string(dir.path().join("inventory.yaml")).unwrap();
    assert!(text.contains("\nsentinel:  "), "{text}");
    assert!(!text.contains("enabled: false"), "{text}");
    assert!(dir.path().join("templates/sentinel.conf.j2").exists());
    let run = cli("render", &dir.path().join("inventory.yaml"), &[]).expect(0, "render");
    assert!(run.stdout.contains("sentinel"), "{}", run.all());
}

/// Writes `SET w:<i> <i>` to the server on `port` until stopped; returns the acknowledged `i`s.
fn writer(
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut con = orch::connect("127.0.0.1", port);
        let mut acked = Vec::new();
        let mut i = 0u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            i += 1;
            let r: redis::RedisResult<()> = redis::cmd("SET")
                .arg(format!("w:{i}"))
                .arg(i)
                .query(&mut con);
            match r {
                Ok(()) => acked.push(i),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        acked
    })
}

/// Every sentinel's (master port, config-epoch).
fn sentinel_masters(c: &SentinelCluster) -> Vec<(u16, String)> {
    (0..3)
        .map(|i| {
            let mut s = orch::connect("127.0.0.1", c.sentinel_ports[i]);
            let m: Vec<String> = redis::cmd("SENTINEL")
                .arg("MASTER")
                .arg("ha")
                .query(&mut s)
                .unwrap();
            let field = |name: &str| m[m.iter().position(|f| f == name).unwrap() + 1].clone();
            (field("port").parse().unwrap(), field("config-epoch"))
        })
        .collect()
}

/// `promote NODE` with sentinels running goes through them: the chosen replica wins, every
/// sentinel reports it with one epoch, no acknowledged write is lost, the priorities are
/// restored, the inventory follows and a deploy changes nothing. Then `promote --force` with
/// the master's server killed lets the sentinels fail over (ODOWN) to the chosen node.
fn promote_through_the_sentinels(server: &str, sentinel: &str) {
    let c = SentinelCluster::with_engines(server, sentinel);
    let inv = c.inv();
    // Time for `promote --force` to steer the sentinels before they see the master down.
    std::fs::write(
        inv,
        c.inventory_text()
            .replace("down_after_ms: 1000", "down_after_ms: 5000"),
    )
    .unwrap();
    cli("deploy", inv, &[]).expect(0, "deploy");

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = writer(c.ports[0], stop.clone());
    // Some writes before the switch, whatever the machine's load.
    wait_for("the writer's first writes", Duration::from_secs(10), || {
        let mut m = orch::connect("127.0.0.1", c.ports[0]);
        redis::cmd("EXISTS")
            .arg("w:20")
            .query::<i64>(&mut m)
            .unwrap()
            == 1
    });
    let run = cli("promote", inv, &["node2"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked = w.join().unwrap();
    let run = run.expect(0, "promote through the sentinels");
    assert!(
        run.all()
            .contains("the sentinels agree: node2 is the master (config epoch 1)"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("promote: node2 is the master"),
        "{}",
        run.all()
    );
    assert_eq!(
        sentinel_masters(&c),
        vec![(c.ports[1], "1".to_string()); 3],
        "every sentinel reports node2 with one epoch"
    );
    let mut n2 = orch::connect("127.0.0.1", c.ports[1]);
    assert_eq!(orch::info_field(&mut n2, "role").as_deref(), Some("master"));
    let missing: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|i| {
            redis::cmd("EXISTS")
                .arg(format!("w:{i}"))
                .query::<i64>(&mut n2)
                .unwrap()
                == 0
        })
        .collect();
    assert!(acked.len() >= 20, "{} writes acknowledged", acked.len());
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    drop(n2);
    for (i, m) in [(0, 1), (2, 1)] {
        let mut n = orch::connect("127.0.0.1", c.ports[i]);
        assert_eq!(orch::info_field(&mut n, "role").as_deref(), Some("slave"));
        assert_eq!(
            orch::info_field(&mut n, "master_port"),
            Some(c.ports[m].to_string())
        );
        let prio: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("replica-priority")
            .query(&mut n)
            .unwrap();
        assert_eq!(prio[1], "100", "node{}'s priority restored", i + 1);
        let fence: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("min-replicas-to-write")
            .query(&mut n)
            .unwrap();
        assert_eq!(fence[1], "1", "node{}'s write fence lifted", i + 1);
    }
    let text = c.inventory_text();
    for want in [
        "  node1:\n    replicaof: node2\n",
        "  node2:\n    role: master\n",
        "  node3:\n    replicaof: node2\n",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    let run = cli("deploy", inv, &[]).expect(0, "deploy after the promote");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.all());

    // --force with the master's server gone: the sentinels decide (ODOWN), toward node3.
    let pid = c.server_pid(1).unwrap();
    orch::kill9(pid);
    wait_for("the killed master's exit", Duration::from_secs(10), || {
        !alive(pid)
    });
    let run = cli("promote", inv, &["node3", "--force"]).expect(0, "promote --force");
    // Seen going down (ODOWN) while promote waited, or already past it when it looked.
    assert!(
        run.all()
            .contains("the sentinels see node2 objectively down after")
            || run.all().contains("the sentinels already fail"),
        "{}",
        run.all()
    );
    // A split vote may take the sentinels more than one epoch: one epoch, all agree.
    let masters = sentinel_masters(&c);
    assert!(
        masters.iter().all(|m| *m == masters[0]) && masters[0].0 == c.ports[2],
        "{masters:?}"
    );
    assert!(
        run.all().contains(&format!(
            "the sentinels agree: node3 is the master (config epoch {})",
            masters[0].1
        )),
        "{}",
        run.all()
    );
    let text = c.inventory_text();
    for want in [
        "  node1:\n    replicaof: node3\n",
        "  node2:\n    replicaof: node3\n",
        "  node3:\n    role: master\n",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    // The old master's server was started as a replica of node3.
    let mut n2 = orch::connect("127.0.0.1", c.ports[1]);
    assert_eq!(orch::info_field(&mut n2, "role").as_deref(), Some("slave"));
    assert_eq!(
        orch::info_field(&mut n2, "master_port"),
        Some(c.ports[2].to_string())
    );
}

#[test]
fn promote_goes_through_redis_sentinels() {
    promote_through_the_sentinels("redis", "redis");
}

#[test]
fn promote_goes_through_bundled_sentinels() {
    promote_through_the_sentinels("bundled", "bundled");
}

/// Kills the server whose pidfile is at this path when dropped (a node the test adds).
struct PidfileGuard(PathBuf);

impl Drop for PidfileGuard {
    fn drop(&mut self) {
        if let Some(pid) = pid_in(&self.0) {
            orch::kill9(pid);
        }
    }
}

/// `deploy --prune` of a replica: SENTINEL RESET on every sentinel afterwards, so they stop
/// listing the pruned server (as down, forever).
#[test]
fn deploy_prune_resets_the_sentinels() {
    let c = SentinelCluster::new();
    let inv = c.inv();
    let port4 = free_port();
    let with_node4 = format!(
        "{}  node4:\n    replicaof: node1\n    port: {port4}\n    sentinel: {{enabled: false}}\n",
        c.inventory_text()
    );
    let without = c.inventory_text();
    std::fs::write(inv, &with_node4).unwrap();
    let _node4 = PidfileGuard(c.dir.path().join(format!("data/node4/redis_{port4}.pid")));
    cli("deploy", inv, &[]).expect(0, "deploy with node4");
    let replicas = |i: usize| {
        let mut s = orch::connect("127.0.0.1", c.sentinel_ports[i]);
        let m: Vec<String> = redis::cmd("SENTINEL")
            .arg("MASTER")
            .arg("ha")
            .query(&mut s)
            .unwrap();
        m[m.iter().position(|f| f == "num-slaves").unwrap() + 1].clone()
    };
    for i in 0..3 {
        assert_eq!(replicas(i), "3");
    }
    std::fs::write(inv, &without).unwrap();
    let run = cli("deploy", inv, &["--prune", "--dry-run"]).expect(0, "prune dry run");
    assert!(
        run.stdout
            .contains("sentinels: SENTINEL RESET ha on each, one at a time, after the prune"),
        "{}",
        run.all()
    );
    let run = cli("deploy", inv, &["--prune"]).expect(0, "prune");
    assert!(
        run.stdout.contains("sentinels: SENTINEL RESET ha on each"),
        "{}",
        run.all()
    );
    for i in 0..3 {
        assert_eq!(replicas(i), "2", "sentinel {} still lists node4", i + 1);
    }
}

/// `failover-test`: kill -9 of the master, the sentinels' new master takes a write, and the
/// old master, restarted from its own config, is converted into a replica of the new one with
/// its link up (it failed before: a master's config had no masterauth, so the converted old
/// master's sync was refused with NOAUTH).
#[test]
fn failover_test_reports_the_figures_and_the_old_master_rejoins() {
    let c = SentinelCluster::new();
    let inv = c.inv();
    cli("deploy", inv, &[]).expect(0, "deploy");
    let run = cli("failover-test", inv, &[]).expect(0, "failover-test");
    let new_port = c.sentinel_master(0).unwrap().0;
    let new = if new_port == c.ports[1] {
        "node2"
    } else {
        "node3"
    };
    assert_ne!(new_port, c.ports[0]);
    for want in [
        "failover-test: killed the server of node1 (the master)".to_string(),
        format!("first write accepted by {new} after"),
        format!("node1 restarted, rejoined as a replica of {new} after"),
    ] {
        assert!(
            run.stdout.contains(&want),
            "{want:?} missing:\n{}",
            run.all()
        );
    }
    let mut old = orch::connect("127.0.0.1", c.ports[0]);
    assert_eq!(orch::info_field(&mut old, "role").as_deref(), Some("slave"));
    assert_eq!(
        orch::info_field(&mut old, "master_link_status").as_deref(),
        Some("up")
    );
    assert_eq!(
        orch::info_field(&mut old, "master_port"),
        Some(new_port.to_string())
    );
}

/// A link to `127.0.0.1:port` logged in with `password`.
fn connect_as(port: u16, password: &str) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(format!("redis://:{password}@127.0.0.1:{port}/"))?
        .get_connection_with_timeout(Duration::from_secs(5))
}

/// A changed `auth.password` while the sentinels run (#16): the dry run names it redacted,
/// deploy gives the servers the new password beside the old, restarts each sentinel with its
/// file's login lines replaced (auth-pass, sentinel-pass, requirepass), then restarts the
/// servers with the new password only. The sentinels then watch the cluster with it, answer
/// only to it, a second deploy finds nothing to change, a kill -9 of the master is failed
/// over, a client with the new password writes to the new master, and neither password is
/// in any output, log, or (the old one) sentinel file.
fn a_changed_password_reaches_running_sentinels(engine: &str) {
    let c = SentinelCluster::with_engines(engine, engine);
    let inv = c.inv();
    cli("deploy", inv, &[]).expect(0, "deploy");
    let new = "changed-password-0f1e2d3c4b5a";
    let text = c.inventory_text();
    assert_eq!(text.matches(PASSWORD).count(), 1, "{text}");
    std::fs::write(inv, text.replace(PASSWORD, new)).unwrap();
    let no_secret = |run: &orch::Run| {
        let all = run.all();
        assert!(!all.contains(PASSWORD) && !all.contains(new), "{all}");
    };

    let run = cli("deploy", inv, &["--dry-run"]).expect(0, "dry run");
    no_secret(&run);
    for want in [
        "new login for the sentinel on port",
        "auth-pass (redacted)",
        "sentinel-pass (redacted)",
        "user default (redacted)",
    ] {
        assert!(run.stdout.contains(want), "{want}:\n{}", run.all());
    }
    let run = cli("deploy", inv, &[]).expect(0, "deploy of the new password");
    no_secret(&run);
    assert!(run.stdout.contains("sentinels: OK"), "{}", run.all());
    no_secret(&cli("verify", inv, &[]).expect(0, "verify"));

    for i in 0..3 {
        assert!(connect_as(c.sentinel_ports[i], PASSWORD).is_err());
        let mut s = connect_as(c.sentinel_ports[i], new).unwrap();
        let m: Vec<String> = redis::cmd("SENTINEL")
            .arg("MASTER")
            .arg("ha")
            .query(&mut s)
            .unwrap();
        let port = &m[m.iter().position(|f| f == "port").unwrap() + 1];
        assert_eq!(port, &c.ports[0].to_string());
        let conf = std::fs::read_to_string(
            c.node_dir(i)
                .join(format!("sentinel-{}.conf", c.sentinel_ports[i])),
        )
        .unwrap();
        assert!(!conf.contains(PASSWORD) && conf.contains(new));
        assert!(connect_as(c.ports[i], PASSWORD).is_err());
    }
    let run = cli("deploy", inv, &["--dry-run"]).expect(0, "dry run again");
    assert!(!run.stdout.contains("new login"), "{}", run.all());

    // kill -9 of the master: the sentinels fail over; a client with the new password writes.
    orch::kill9(c.server_pid(0).unwrap());
    let mut master = 0;
    wait_for("the sentinels' failover", Duration::from_secs(60), || {
        let ports: Vec<Option<u16>> = (0..3)
            .map(|i| {
                let mut s = connect_as(c.sentinel_ports[i], new).ok()?;
                let m: Vec<String> = redis::cmd("SENTINEL")
                    .arg("MASTER")
                    .arg("ha")
                    .query(&mut s)
                    .ok()?;
                let field = |name: &str| m.get(m.iter().position(|f| f == name)? + 1).cloned();
                if field("flags")?.contains("failover") {
                    return None;
                }
                field("port")?.parse().ok()
            })
            .collect();
        master = ports[0].unwrap_or(0);
        ports.iter().all(|p| *p == ports[0] && p.is_some()) && master != c.ports[0]
    });
    let mut m = connect_as(master, new).unwrap();
    wait_for("a write to the new master", Duration::from_secs(20), || {
        redis::cmd("SET")
            .arg("after")
            .arg("failover")
            .query::<()>(&mut m)
            .is_ok()
    });
    for i in 0..3 {
        for e in std::fs::read_dir(c.node_dir(i)).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "log") {
                let log = std::fs::read_to_string(e.path()).unwrap_or_default();
                assert!(
                    !log.contains(PASSWORD) && !log.contains(new),
                    "{:?}",
                    e.path()
                );
            }
        }
    }
}

#[test]
fn a_changed_password_reaches_running_redis_sentinels() {
    a_changed_password_reaches_running_sentinels("redis");
}

#[test]
fn a_changed_password_reaches_running_bundled_sentinels() {
    a_changed_password_reaches_running_sentinels("bundled");
}
