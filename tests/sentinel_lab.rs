//! Sentinels over real SSH in the lab (issue #16), one test per sentinel engine (redis-sentinel
//! over redis-server, bundled sentinels over bundled servers), deployed by `redrepl deploy`:
//! (a) kill -9 of the master's server: a new master within down-after + a few seconds,
//! status and verify follow, the next deploy restarts the old master as a replica;
//! (c) SIGSTOP of the master's server: failover, and SIGCONT demotes it to a replica;
//! (b) the master's VM cut off (`ip link set ... down` in its namespace) while a client that
//! finds the master through the sentinels writes with `WAIT 1 100` after each write: every
//! acknowledged write is on the new master once the link is back and the old master rejoined.

mod lab;
mod orch;

use lab::Lab;
use orch::{cli, lab_inventory, lab_pidfile, pid_in, sentinel_rows};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const FLAT: [&str; 3] = ["role: master", "replicaof: node1", "replicaof: node1"];
const DOWN_AFTER_MS: u64 = 1000;

/// A connection with short timeouts (None when unreachable).
fn connect(addr: &str, port: u16) -> Option<redis::Connection> {
    let url = format!("redis://:{}@{addr}:{port}/", orch::PASSWORD);
    let c = redis::Client::open(url)
        .ok()?
        .get_connection_with_timeout(Duration::from_secs(1))
        .ok()?;
    c.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    c.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    Some(c)
}

/// The master's address as the sentinel of VM `i` reports it, when no failover is running.
fn sentinel_master(lab: &Lab, i: usize) -> Option<String> {
    let mut s = connect(lab.addr(i), 26379)?;
    let m: Vec<String> = redis::cmd("SENTINEL")
        .arg("MASTER")
        .arg("lab")
        .query(&mut s)
        .ok()?;
    let field = |name: &str| {
        let at = m.iter().position(|f| f == name)?;
        m.get(at + 1).cloned()
    };
    (!field("flags")?.contains("failover")).then_some(field("ip")?)
}

/// The VM every sentinel but `skip`'s names as the master, once they agree.
fn agreed_master(lab: &Lab, skip: Option<usize>) -> Option<usize> {
    let seen: Vec<Option<String>> = (0..3)
        .filter(|&i| Some(i) != skip)
        .map(|i| sentinel_master(lab, i))
        .collect();
    let first = seen[0].clone()?;
    if seen.iter().any(|s| s.as_deref() != Some(first.as_str())) {
        return None;
    }
    (0..3).find(|&i| lab.addr(i) == first)
}

/// Waits until the sentinels (but `skip`'s) agree on a master other than `old`; returns it
/// and the time it took.
fn failover_from(lab: &Lab, old: usize, skip: Option<usize>) -> (usize, Duration) {
    let start = Instant::now();
    let mut new = None;
    orch::wait_for("the sentinels' failover", Duration::from_secs(60), || {
        new = agreed_master(lab, skip).filter(|&m| m != old);
        new.is_some()
    });
    (new.unwrap(), start.elapsed())
}

fn info(addr: &str, field: &str) -> Option<String> {
    orch::info_field(&mut connect(addr, 6379)?, field)
}

/// Waits until VM `i`'s server is a replica of VM `master`'s with its link up.
fn wait_replica_of(lab: &Lab, i: usize, master: usize) {
    orch::wait_for("the old master to rejoin", Duration::from_secs(60), || {
        info(lab.addr(i), "role").as_deref() == Some("slave")
            && info(lab.addr(i), "master_host").as_deref() == Some(lab.addr(master))
            && info(lab.addr(i), "master_link_status").as_deref() == Some("up")
    });
}

fn server_pid(lab: &Lab, i: usize) -> i32 {
    pid_in(&lab_pidfile(&lab.dir, &format!("node{}", i + 1))).expect("server pidfile")
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on the pid of a server this test deployed.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// A client that finds the master through the sentinels and writes `w:N` with `WAIT 1 100`
/// after each write; returns the acknowledged keys (WAIT ≥ 1) and the unacknowledged ones.
fn writer(lab: &Lab, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(Vec<u64>, Vec<u64>)> {
    let addrs: Vec<String> = (0..3).map(|i| lab.addr(i).to_string()).collect();
    std::thread::spawn(move || {
        let (mut acked, mut unacked) = (Vec::new(), Vec::new());
        let mut con: Option<redis::Connection> = None;
        let mut i = 0u64;
        while !stop.load(Ordering::SeqCst) {
            if con.is_none() {
                con = addrs.iter().find_map(|a| {
                    let mut s = connect(a, 26379)?;
                    let m: Vec<String> = redis::cmd("SENTINEL")
                        .arg("GET-MASTER-ADDR-BY-NAME")
                        .arg("lab")
                        .query(&mut s)
                        .ok()?;
                    connect(m.first()?, 6379)
                });
                if con.is_none() {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            }
            let c = con.as_mut().unwrap();
            let key = format!("w:{i}");
            let set: redis::RedisResult<()> = redis::cmd("SET").arg(&key).arg(i).query(c);
            let waited: redis::RedisResult<i64> = redis::cmd("WAIT").arg(1).arg(100).query(c);
            match (set, waited) {
                (Ok(()), Ok(n)) if n >= 1 => acked.push(i),
                (Ok(()), _) => unacked.push(i),
                _ => con = None,
            }
            if con.is_some() && info_role_is_replica(con.as_mut().unwrap()) {
                con = None;
            }
            i += 1;
        }
        (acked, unacked)
    })
}

/// True when the connection's server became a replica (READONLY from now on).
fn info_role_is_replica(c: &mut redis::Connection) -> bool {
    orch::info_field(c, "role").as_deref() == Some("slave")
}

fn failovers_in_the_lab(server: &str, sentinel: &str) {
    let lab = Lab::new(3);
    let a: Vec<&str> = (0..3).map(|i| lab.addr(i)).collect();
    let inv = lab_inventory(&lab.dir, &a, &lab.key, &lab.known_hosts, server, &FLAT);
    let mut text = std::fs::read_to_string(&inv).unwrap();
    text.push_str(&format!(
        "sentinel:\n  engine: {sentinel}\n  quorum: 2\n  down_after_ms: {DOWN_AFTER_MS}\n  \
         failover_timeout_ms: 10000\n"
    ));
    std::fs::write(&inv, text).unwrap();
    let run = cli("deploy", &inv, &[]).expect(0, "deploy");
    assert!(run.stdout.contains("sentinels: OK"), "{}", run.all());
    assert_eq!(agreed_master(&lab, None), Some(0));

    // (a) kill -9 of the master's server.
    signal(server_pid(&lab, 0), libc::SIGKILL);
    let (m1, took) = failover_from(&lab, 0, None);
    eprintln!("{sentinel}: kill -9 → agreed new master in {took:?}");
    assert!(
        took < Duration::from_millis(DOWN_AFTER_MS) + Duration::from_secs(15),
        "{took:?}"
    );
    let name = format!("node{}", m1 + 1);
    let run = cli("status", &inv, &[]);
    let rows = sentinel_rows(&run.stdout);
    assert_eq!(rows.len(), 3, "{}", run.all());
    for cells in &rows {
        assert_eq!(cells.get(3).copied(), Some(name.as_str()), "{}", run.all());
    }
    let run = cli("verify", &inv, &[]).expect(3, "verify after the failover");
    assert!(run.stdout.contains(&name), "{}", run.all());
    let run = cli("deploy", &inv, &[]).expect(0, "deploy after the failover");
    assert!(run.stdout.contains("node1: started"), "{}", run.all());
    wait_replica_of(&lab, 0, m1);

    // (c) SIGSTOP of the master's server, then SIGCONT.
    let hung = server_pid(&lab, m1);
    signal(hung, libc::SIGSTOP);
    let (m2, took) = failover_from(&lab, m1, None);
    signal(hung, libc::SIGCONT);
    eprintln!("{sentinel}: SIGSTOP → agreed new master in {took:?}");
    wait_replica_of(&lab, m1, m2);

    // (b) The master's VM cut off under a writer with WAIT 1 100.
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(&lab, stop.clone());
    std::thread::sleep(Duration::from_secs(2));
    lab.link_down(m2);
    let (m3, took) = failover_from(&lab, m2, Some(m2));
    eprintln!("{sentinel}: link down → agreed new master in {took:?}");
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, Ordering::SeqCst);
    let (acked, unacked) = w.join().unwrap();
    lab.link_up(m2);
    wait_replica_of(&lab, m2, m3);
    let mut c = connect(lab.addr(m3), 6379).expect("new master");
    let missing = absent(&mut c, &acked);
    let discarded = absent(&mut c, &unacked).len();
    eprintln!(
        "{sentinel}: {} acknowledged writes, {} unacknowledged of which {discarded} discarded",
        acked.len(),
        unacked.len()
    );
    assert!(
        acked.len() > 10,
        "the writer wrote too little: {}",
        acked.len()
    );
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
}

#[test]
fn redis_sentinels_fail_over_kill9_sigstop_and_a_cut_link_in_the_lab() {
    failovers_in_the_lab("redis", "redis");
}

#[test]
fn bundled_sentinels_fail_over_kill9_sigstop_and_a_cut_link_in_the_lab() {
    failovers_in_the_lab("bundled", "bundled");
}

/// The writer's numbers `i` whose key `w:<i>` the server behind `c` does not hold.
fn absent(c: &mut redis::Connection, written: &[u64]) -> Vec<u64> {
    written
        .iter()
        .copied()
        .filter(|i| {
            let v: Option<String> = redis::cmd("GET").arg(format!("w:{i}")).query(c).unwrap();
            v.is_none()
        })
        .collect()
}
