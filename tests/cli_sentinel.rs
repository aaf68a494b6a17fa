//! Sentinels deployed and driven by redrepl (issue #16, the orchestrator side), on this
//! machine (`transport: local`, servers and sentinels of Debian's Redis 7.0: sentinels find
//! each other through pub/sub on the master): deploy starts the sentinels and waits until
//! they see the whole cluster, status shows them, a kill -9 of the master is failed over by
//! them, the next deploy follows the sentinels (inventory updated, nothing switched back),
//! verify fails naming a sentinel that is down, stop stops them.

mod orch;

use orch::{PASSWORD, alive, cli, free_port, pid_in, wait_for};
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
    fn new() -> SentinelCluster {
        let dir = tempfile::Builder::new()
            .prefix("redrepl-sentinel-")
            .tempdir()
            .unwrap();
        let ports = [free_port(), free_port(), free_port()];
        let sentinel_ports = [free_port(), free_port(), free_port()];
        let mut y = format!(
            "# sentinel test inventory\ncluster: ha\nengine: redis\nauth:\n  password: {PASSWORD}\n\
             sentinel:\n  engine: redis\n  quorum: 2\n  down_after_ms: 1000\n  \
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
                // SAFETY: kill(2) on a pid our own server or sentinel wrote.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
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
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("SENTINEL"))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 3, "{}", run.stdout);
    for r in &rows {
        let cells: Vec<&str> = r.split_whitespace().collect();
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

    // promote refuses while sentinels run (they would undo it); nothing changes.
    let inv_before = c.inventory_text();
    let run = cli("promote", inv, &["node2"]).expect(1, "promote with sentinels");
    assert!(
        run.stderr
            .contains("sentinels run on node1, node2, node3: they would undo a direct switch"),
        "{}",
        run.all()
    );
    assert_eq!(c.inventory_text(), inv_before);
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
    let sentinel_rows: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("SENTINEL"))
        .skip(1)
        .filter(|l| l.starts_with("node"))
        .collect();
    assert_eq!(sentinel_rows.len(), 3, "{}", run.all());
    for r in &sentinel_rows {
        assert_eq!(
            r.split_whitespace().nth(3),
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
