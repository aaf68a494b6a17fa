//! `redrepl promote` over real SSH in the lab: a switchover under a running writer loses no
//! acknowledged write and survives restarts (S16b); a dead master needs `--force` (S9).

mod lab;
mod orch;

use lab::Lab;
use orch::{cli, lab_inventory, lab_pidfile, pid_in};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const FLAT: [&str; 3] = ["role: master", "replicaof: node1", "replicaof: node1"];

fn addrs(lab: &Lab) -> Vec<String> {
    (0..3).map(|i| lab.addr(i).to_string()).collect()
}

fn setup(lab: &Lab, engine: &str) -> std::path::PathBuf {
    let a = addrs(lab);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    lab_inventory(&lab.dir, &a, &lab.key, &lab.known_hosts, engine, &FLAT)
}

fn role(addr: &str) -> Option<String> {
    let client = redis::Client::open(format!("redis://:{}@{addr}:6379/", orch::PASSWORD)).ok()?;
    let mut c = client
        .get_connection_with_timeout(Duration::from_secs(1))
        .ok()?;
    orch::info_field(&mut c, "role")
}

/// A writer that SETs w:0, w:1, ... on whichever node is the master, and records the
/// acknowledged ones.
fn writer(addrs: Vec<String>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut i = 0u64;
        let mut con: Option<redis::Connection> = None;
        while !stop.load(Ordering::SeqCst) {
            if con.is_none() {
                for a in &addrs {
                    if role(a).as_deref() == Some("master") {
                        con = Some(orch::connect(a, 6379));
                        break;
                    }
                }
                if con.is_none() {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            }
            let r: redis::RedisResult<()> = redis::cmd("SET")
                .arg(format!("w:{i}"))
                .arg(i)
                .query(con.as_mut().unwrap());
            match r {
                Ok(()) => {
                    acked.push(i);
                    i += 1;
                }
                Err(_) => {
                    // READONLY (the old master became a replica) or a dropped connection:
                    // not acknowledged; find the master again and retry with a new key.
                    con = None;
                    i += 1;
                }
            }
        }
        acked
    })
}

fn promote_under_writes(engine: &str) {
    let lab = Lab::new(3);
    let inv = setup(&lab, engine);
    cli("deploy", &inv, &[]).expect(0, "deploy");

    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(addrs(&lab), stop.clone());
    std::thread::sleep(Duration::from_millis(300));
    let run = cli("promote", &inv, &["node2"]).expect(0, "promote under writes");
    assert!(run.stdout.contains("verify: OK"), "{}", run.all());
    assert!(
        run.stdout.contains("promote: node2 is the master"),
        "{}",
        run.all()
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let acked = w.join().unwrap();
    assert!(
        acked.len() > 20,
        "the writer made little progress: {}",
        acked.len()
    );

    // The inventory says what happened, comments kept.
    let text = std::fs::read_to_string(&inv).unwrap();
    assert!(text.starts_with("# lab inventory"), "{text}");
    assert!(text.contains("    replicaof: node2   # topology"), "{text}");
    assert!(text.contains("    role: master   # topology"), "{text}");

    // Every acknowledged write is on every node.
    cli("verify", &inv, &[]).expect(0, "verify after promote");
    let check_all = |what: &str| {
        for i in 0..3 {
            let mut c = orch::connect(lab.addr(i), 6379);
            let keys: Vec<String> = acked.iter().map(|k| format!("w:{k}")).collect();
            for chunk in keys.chunks(500) {
                let vals: Vec<Option<String>> =
                    redis::cmd("MGET").arg(chunk).query(&mut c).unwrap();
                for (k, v) in chunk.iter().zip(vals) {
                    assert!(
                        v.is_some(),
                        "{what}: acknowledged {k} missing on node{}",
                        i + 1
                    );
                }
            }
        }
    };
    check_all("after promote");

    // The next deploy of the updated inventory changes nothing.
    let run = cli("deploy", &inv, &[]).expect(0, "deploy after promote");
    assert!(run.stdout.contains("deploy: unchanged"), "{}", run.all());

    // Restart every server: the promoted topology stays (configs rewritten).
    cli("stop", &inv, &[]).expect(0, "stop");
    for i in 0..3 {
        assert_eq!(role(lab.addr(i)), None, "node{} still answers", i + 1);
    }
    let run = cli("deploy", &inv, &[]).expect(0, "deploy after stop");
    assert!(run.stdout.contains("node2: started"), "{}", run.all());
    assert_eq!(role(lab.addr(1)).as_deref(), Some("master"));
    assert_eq!(role(lab.addr(0)).as_deref(), Some("slave"));
    assert_eq!(role(lab.addr(2)).as_deref(), Some("slave"));
    check_all("after restart");
}

/// Needs replication in the bundled server.
#[test]
fn lab_bundled_promote_under_writes_loses_nothing_and_survives_restart() {
    promote_under_writes("bundled");
}

#[test]
fn lab_redis_promote_under_writes_loses_nothing_and_survives_restart() {
    promote_under_writes("redis");
}

fn kill_master_then_force(engine: &str) {
    let lab = Lab::new(3);
    let inv = setup(&lab, engine);
    cli("deploy", &inv, &[]).expect(0, "deploy");
    let pid = pid_in(&lab_pidfile(&lab.dir, "node1")).unwrap();
    // SAFETY: the pid of our own server in the lab.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    orch::wait_for("node1 to die", Duration::from_secs(5), || !orch::alive(pid));

    let run = cli("verify", &inv, &[]);
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stdout.contains("node1 (") && run.stdout.contains("not running"),
        "{}",
        run.all()
    );
    assert!(
        run.all().contains("verify failed on node1"),
        "{}",
        run.all()
    );

    let before = std::fs::read_to_string(&inv).unwrap();
    let run = cli("promote", &inv, &["node2"]);
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("does not answer"), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&inv).unwrap(), before);

    let run = cli("promote", &inv, &["node2", "--force"]).expect(0, "promote --force");
    assert!(run.all().contains("bytes behind"), "{}", run.all());
    cli("verify", &inv, &[]).expect(0, "verify after --force");
    assert_eq!(role(lab.addr(1)).as_deref(), Some("master"));
    assert_eq!(role(lab.addr(0)).as_deref(), Some("slave"));
}

/// Needs replication in the bundled server.
#[test]
fn lab_bundled_kill_master_verify_fails_then_promote_force() {
    kill_master_then_force("bundled");
}

#[test]
fn lab_redis_kill_master_verify_fails_then_promote_force() {
    kill_master_then_force("redis");
}
