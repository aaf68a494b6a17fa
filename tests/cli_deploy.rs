//! `redrepl deploy / verify / status` over real SSH to the lab's three "VMs" (network
//! namespaces, each with its own OpenSSH sshd). Every test builds its own lab.

mod lab;
mod orch;

use lab::Lab;
use orch::{cli, lab_inventory, lab_pidfile, pid_in};
use std::path::Path;

const FLAT: [&str; 3] = ["role: master", "replicaof: node1", "replicaof: node1"];

fn addrs(lab: &Lab) -> Vec<&str> {
    (0..3).map(|i| lab.addr(i)).collect()
}

fn pids(dir: &Path) -> Vec<Option<i32>> {
    (1..=3)
        .map(|i| pid_in(&lab_pidfile(dir, &format!("node{i}"))))
        .collect()
}

/// S4/S5 then idempotence: deploy from nothing, verify, deploy again ("unchanged", same
/// PIDs), then a change that concerns node3 only restarts node3 only; status rows.
/// Needs replication in the bundled server.
#[test]
fn lab_bundled_deploy_is_idempotent_and_restarts_only_the_changed_node() {
    let lab = Lab::new(3);
    let inv = lab_inventory(
        &lab.dir,
        &addrs(&lab),
        &lab.key,
        &lab.known_hosts,
        "bundled",
        &FLAT,
    );

    let run = cli("deploy", &inv, &["--dry-run"]).expect(0, "dry run");
    assert_eq!(
        run.stdout.matches("upload redrepl").count(),
        3,
        "{}",
        run.stdout
    );
    assert!(!lab.dir.join("data").exists(), "dry run touched the nodes");

    let run = cli("deploy", &inv, &[]).expect(0, "first deploy");
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    for i in 1..=3 {
        assert!(
            run.stdout.contains(&format!("node{i}: started")),
            "{}",
            run.stdout
        );
        // The binary went up once per node, the config is 0600.
        let conf = lab.dir.join(format!("data/node{i}/redis-6379.conf"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(lab.dir.join(format!("data/node{i}/redrepl")).exists());
    }
    let first = pids(&lab.dir);
    assert!(first.iter().all(Option::is_some), "{first:?}");
    cli("verify", &inv, &[]).expect(0, "verify");

    let run = cli("deploy", &inv, &[]).expect(0, "second deploy");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.all());
    assert_eq!(pids(&lab.dir), first);

    // status: rows right.
    let run = cli("status", &inv, &["--json"]).expect(0, "status");
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["role"], "master");
    assert_eq!(rows[0]["replicas"], 2);
    for r in &rows[1..] {
        assert_eq!(r["role"], "replica");
        assert_eq!(r["link"], "up");
        assert_eq!(r["master"], format!("{}:6379", lab.addr(0)));
        assert_eq!(r["reachable"], true);
    }

    // A change for node3 only.
    let text = std::fs::read_to_string(&inv).unwrap().replace(
        &format!("    host: {}\n", lab.addr(2)),
        &format!("    host: {}\n    dbfilename: other.rdb\n", lab.addr(2)),
    );
    std::fs::write(&inv, text).unwrap();
    let run = cli("deploy", &inv, &[]).expect(0, "deploy with a change");
    assert!(run.stdout.contains("node3: restarted"), "{}", run.all());
    assert!(run.stdout.contains("node1: unchanged"), "{}", run.all());
    let now = pids(&lab.dir);
    assert_eq!(now[0], first[0]);
    assert_eq!(now[1], first[1]);
    assert_ne!(now[2], first[2]);
}

/// S11: a chain master → node2 → node3; the write on the master reaches node3 and node2 is
/// read-only. Needs replication in the bundled server.
#[test]
fn lab_bundled_chain_topology() {
    let lab = Lab::new(3);
    let inv = lab_inventory(
        &lab.dir,
        &addrs(&lab),
        &lab.key,
        &lab.known_hosts,
        "bundled",
        &["role: master", "replicaof: node1", "replicaof: node2"],
    );
    let run = cli("deploy", &inv, &[]).expect(0, "deploy chain");
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    let run = cli("verify", &inv, &["--json"]).expect(0, "verify chain");
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["nodes"][2]["replicaof"], "node2");
    assert_eq!(v["nodes"][2]["link"], "up");
    assert_eq!(v["nodes"][1]["readonly"], true);
    let run = cli("status", &inv, &["--json"]).expect(0, "status chain");
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows[2]["master"], format!("{}:6379", lab.addr(1)));
    assert_eq!(rows[1]["replicas"], 1);
}

/// engine: redis — Debian's redis-server on the nodes: dry run, deploy, verify, unchanged
/// re-deploy, promote, verify.
#[test]
fn lab_redis_engine_deploy_verify_promote() {
    let lab = Lab::new(3);
    let inv = lab_inventory(
        &lab.dir,
        &addrs(&lab),
        &lab.key,
        &lab.known_hosts,
        "redis",
        &FLAT,
    );

    let run = cli("deploy", &inv, &["--dry-run"]).expect(0, "dry run");
    assert!(
        run.stdout.contains("would") || run.stdout.contains("start"),
        "{}",
        run.all()
    );
    assert!(run.stdout.contains("write "), "{}", run.stdout);
    assert!(run.stdout.contains("create "), "{}", run.stdout);
    assert!(
        !run.stdout.contains("upload"),
        "engine redis uploads nothing: {}",
        run.stdout
    );
    assert!(!lab.dir.join("data").exists(), "dry run touched the nodes");

    let run = cli("deploy", &inv, &[]).expect(0, "deploy");
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    // Each server runs inside its VM's namespace, bound on 0.0.0.0:6379.
    let first = pids(&lab.dir);
    for (i, p) in first.iter().enumerate() {
        assert!(lab.pids(i).contains(&p.unwrap()), "node{} pid {p:?}", i + 1);
    }
    let run = cli("deploy", &inv, &[]).expect(0, "re-deploy");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.all());
    assert_eq!(pids(&lab.dir), first);

    let mut m = orch::connect(lab.addr(0), 6379);
    let _: () = redis::cmd("SET")
        .arg("before")
        .arg("1")
        .query(&mut m)
        .unwrap();
    let run = cli("promote", &inv, &["node2"]).expect(0, "promote");
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    let mut n2 = orch::connect(lab.addr(1), 6379);
    assert_eq!(orch::info_field(&mut n2, "role").as_deref(), Some("master"));
    let v: String = redis::cmd("GET").arg("before").query(&mut n2).unwrap();
    assert_eq!(v, "1");
    cli("verify", &inv, &[]).expect(0, "verify after promote");
    let run = cli("deploy", &inv, &[]).expect(0, "deploy after promote");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.all());
}

/// Refusals that leave nothing behind: unknown host key, changed host key, wrong SSH key,
/// an unreachable node. Then `--accept-new-host-keys` trusts the keys and deploys.
#[test]
fn lab_refusals_leave_nothing_half_deployed() {
    let lab = Lab::new(3);
    let nothing_deployed = || {
        assert!(!lab.dir.join("data").exists(), "something was deployed");
    };

    // Unknown host keys: an empty known_hosts.
    let empty = lab.dir.join("known_hosts_empty");
    std::fs::write(&empty, "").unwrap();
    let inv = lab_inventory(&lab.dir, &addrs(&lab), &lab.key, &empty, "redis", &FLAT);
    let run = cli("deploy", &inv, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("unknown host key"), "{}", run.stderr);
    assert!(
        run.stderr.contains("--accept-new-host-keys"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(run.stderr.contains("node1"), "{}", run.stderr);
    nothing_deployed();

    // A changed host key: node2's entry holds node1's key.
    let bad = lab.dir.join("known_hosts_changed");
    let kh = std::fs::read_to_string(&lab.known_hosts).unwrap();
    let swapped = kh.replace(&lab.vms[1].host_key_pub, &lab.vms[0].host_key_pub);
    std::fs::write(&bad, swapped).unwrap();
    let inv = lab_inventory(&lab.dir, &addrs(&lab), &lab.key, &bad, "redis", &FLAT);
    let run = cli("deploy", &inv, &["--accept-new-host-keys"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("HOST KEY CHANGED"), "{}", run.stderr);
    assert!(run.stderr.contains("node2"), "{}", run.stderr);
    nothing_deployed();

    // A wrong SSH key.
    let other_key = lab.dir.join("other_key");
    let st = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other_key)
        .status()
        .unwrap();
    assert!(st.success());
    let inv = lab_inventory(
        &lab.dir,
        &addrs(&lab),
        &other_key,
        &lab.known_hosts,
        "redis",
        &FLAT,
    );
    let run = cli("deploy", &inv, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("authentication as root refused"),
        "{}",
        run.stderr
    );
    nothing_deployed();

    // An unreachable node.
    let inv = lab_inventory(
        &lab.dir,
        &addrs(&lab),
        &lab.key,
        &lab.known_hosts,
        "redis",
        &FLAT,
    );
    lab.link_down(2);
    let run = cli("deploy", &inv, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("cannot reach 1 of 3 nodes"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("node3"), "{}", run.stderr);
    nothing_deployed();
    lab.link_up(2);

    // Trust new keys: deploy goes through and known_hosts learns them.
    std::fs::write(&empty, "").unwrap();
    let inv = lab_inventory(&lab.dir, &addrs(&lab), &lab.key, &empty, "redis", &FLAT);
    cli("deploy", &inv, &["--accept-new-host-keys"]).expect(0, "deploy accepting new keys");
    let learned = std::fs::read_to_string(&empty).unwrap();
    assert_eq!(
        learned.lines().filter(|l| !l.trim().is_empty()).count(),
        3,
        "{learned}"
    );
    cli("verify", &inv, &[]).expect(0, "verify");
}

/// The value of `key` on the server at `addr`, if it answers.
fn get(addr: &str, key: &str) -> Option<String> {
    let mut c = orch::connect(addr, 6379);
    redis::cmd("GET").arg(key).query(&mut c).unwrap()
}

/// Whether a server answers on `addr`.
fn answers(addr: &str) -> bool {
    std::net::TcpStream::connect((addr, 6379)).is_ok()
}

/// Issue #10: the master crashes (`kill -9`) before any save; `deploy` must not start it
/// empty over replicas that hold k1. Plain deploy refuses (exit 1, nothing restarted, the
/// figures and `promote node2 --force` named), verify's advice says the same, and
/// `deploy --promote-if-master-lost` promotes the most advanced replica and carries on: k1
/// survives everywhere and verify passes.
#[test]
fn lab_bundled_deploy_after_a_master_crash_never_wipes_the_replicas() {
    let lab = Lab::new(3);
    let inv = lab_inventory(
        &lab.dir,
        &addrs(&lab),
        &lab.key,
        &lab.known_hosts,
        "bundled",
        &FLAT,
    );
    cli("deploy", &inv, &[]).expect(0, "deploy");
    let mut m = orch::connect(lab.addr(0), 6379);
    let _: () = redis::cmd("SET").arg("k1").arg("v1").query(&mut m).unwrap();
    drop(m);
    for i in 1..3 {
        orch::wait_for(
            "k1 on the replicas",
            std::time::Duration::from_secs(10),
            || get(lab.addr(i), "k1").is_some(),
        );
    }
    let before = pids(&lab.dir);
    let master = before[0].unwrap();
    // SAFETY: the pid of our own server in the lab.
    unsafe {
        libc::kill(master, libc::SIGKILL);
    }
    orch::wait_for("node1 to die", std::time::Duration::from_secs(5), || {
        !orch::alive(master)
    });
    let dump = lab.dir.join("data/node1/dump.rdb");
    assert!(!dump.exists(), "the test needs a master without a dump");

    // verify advises the promotion, not a plain deploy.
    let run = cli("verify", &inv, &[]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stdout.contains("promote") && run.stdout.contains("node2 --force"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout.contains("--promote-if-master-lost"),
        "{}",
        run.all()
    );
    assert!(!run.stdout.contains("Start it with"), "{}", run.all());

    // Plain deploy refuses and touches nothing.
    let inv_text = std::fs::read_to_string(&inv).unwrap();
    let run = cli("deploy", &inv, &[]);
    assert_eq!(run.code, 1, "{}", run.all());
    for want in [
        "node1",
        "no dump",
        "node2 holds offset",
        "node3 holds offset",
        "nothing was changed",
        "node2 --force",
        "--promote-if-master-lost",
    ] {
        assert!(run.stderr.contains(want), "{want:?} missing: {}", run.all());
    }
    assert!(!answers(lab.addr(0)), "node1 was started");
    assert_eq!(pids(&lab.dir)[1..], before[1..], "a replica was restarted");
    for i in 1..3 {
        assert_eq!(
            get(lab.addr(i), "k1").as_deref(),
            Some("v1"),
            "node{}",
            i + 1
        );
    }
    assert_eq!(std::fs::read_to_string(&inv).unwrap(), inv_text);

    // The dry run with the flag says what it would do, and does nothing.
    let run = cli("deploy", &inv, &["--promote-if-master-lost", "--dry-run"])
        .expect(0, "dry run with the flag");
    assert!(run.stdout.contains("would promote node2"), "{}", run.all());
    assert!(!answers(lab.addr(0)), "node1 was started by a dry run");

    // The opt-in: promote the most advanced replica, then carry on.
    let run = cli("deploy", &inv, &["--promote-if-master-lost"]).expect(0, "deploy --promote");
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    let text = std::fs::read_to_string(&inv).unwrap();
    assert!(text.contains("  node2:\n"), "{text}");
    assert!(text.contains("    role: master   # topology"), "{text}");
    assert!(text.contains("    replicaof: node2   # topology"), "{text}");
    let mut n2 = orch::connect(lab.addr(1), 6379);
    assert_eq!(orch::info_field(&mut n2, "role").as_deref(), Some("master"));
    for i in 0..3 {
        orch::wait_for("k1 everywhere", std::time::Duration::from_secs(10), || {
            get(lab.addr(i), "k1").as_deref() == Some("v1")
        });
    }
    cli("verify", &inv, &[]).expect(0, "verify after the promotion");
}
