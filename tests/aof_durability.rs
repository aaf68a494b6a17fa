//! AOF durability (issue #15): a writer records every acknowledged write; the server is
//! killed -9 (its whole process group) at varying moments and restarted on its files.
//! `appendfsync always` loses no acknowledged write, `everysec` only the last seconds; a
//! truncated last incr file (power cut) still starts; a kill during a rewrite never leaves
//! the manifest naming a missing file; a master with AOF restarted after kill -9 comes back
//! with its data and its replicas keep theirs (the seed's case).

mod common;

use common::repl::{Node, NodeOpts, engine};
use redis::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// Rounds per policy (the 20 are in bench/aof_durability.sh territory; CI keeps 5).
const ROUNDS: u64 = 5;

fn aof_node(policy: &str) -> Node {
    Node::start(
        NodeOpts::seed(engine())
            .with("appendonly", "yes")
            .with("appendfsync", policy)
            .with("save", ""),
    )
}

/// A small deterministic generator for the kill delays (varied, reproducible).
fn delays(seed: u64) -> impl Iterator<Item = u64> {
    let mut x = seed | 1;
    std::iter::from_fn(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        Some(50 + x % 400)
    })
}

/// Writes `SET w:<i> <i>` for i = 0, 1, ... until the connection fails; the highest i
/// acknowledged is in `acked`, the ms (since `t0`) of each ack's time in `ack_ms`.
fn writer(
    node: &Node,
    acked: Arc<AtomicI64>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<i64>> {
    let mut con = node.new_con();
    let t0 = Instant::now();
    std::thread::spawn(move || {
        let mut times = Vec::new();
        let mut i: i64 = 0;
        while !stop.load(Ordering::Relaxed) {
            let r: redis::RedisResult<Value> = redis::cmd("SET")
                .arg(format!("w:{i}"))
                .arg(i)
                .query(&mut con);
            if r.is_err() {
                break;
            }
            times.push(t0.elapsed().as_millis() as i64);
            acked.store(i, Ordering::SeqCst);
            i += 1;
        }
        times
    })
}

/// Runs one kill round; returns (acknowledged count, missing acknowledged keys, ms between
/// the oldest missing ack and the kill).
fn kill_round(node: &mut Node, delay_ms: u64) -> (i64, Vec<i64>, i64) {
    let acked = Arc::new(AtomicI64::new(-1));
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let h = writer(node, acked.clone(), stop.clone());
    std::thread::sleep(Duration::from_millis(delay_ms));
    let kill_ms = t0.elapsed().as_millis() as i64;
    node.kill9();
    stop.store(true, Ordering::Relaxed);
    let times = h.join().unwrap();
    let last = acked.load(Ordering::SeqCst);
    node.restart();
    let mut con = node.new_con();
    let mut missing = Vec::new();
    for i in 0..=last {
        let v: Option<i64> = redis::cmd("GET")
            .arg(format!("w:{i}"))
            .query(&mut con)
            .unwrap();
        match v {
            Some(n) => assert_eq!(n, i, "w:{i} holds a wrong value"),
            None => missing.push(i),
        }
    }
    // Nothing after a missing key survived either: the file is a prefix of the writes.
    if let Some(first) = missing.first() {
        assert_eq!(
            missing.len() as i64,
            last - first + 1,
            "a hole in the data: {missing:?}"
        );
    }
    let oldest_missing_age = missing
        .first()
        .and_then(|i| times.get(*i as usize))
        .map_or(0, |t| kill_ms - t);
    // Clean slate for the next round.
    let _: Value = redis::cmd("FLUSHALL").query(&mut con).unwrap();
    (last + 1, missing, oldest_missing_age)
}

#[test]
fn appendfsync_always_loses_no_acknowledged_write() {
    let mut node = aof_node("always");
    let mut total = 0;
    for (round, delay) in delays(7).take(ROUNDS as usize).enumerate() {
        let (n, missing, _) = kill_round(&mut node, delay);
        assert!(
            missing.is_empty(),
            "round {round}: lost {} of {n} acknowledged writes",
            missing.len()
        );
        total += n;
    }
    assert!(total > 0, "the writer never got an acknowledgement");
}

#[test]
fn appendfsync_everysec_loses_at_most_the_last_seconds() {
    let mut node = aof_node("everysec");
    for (round, delay) in delays(11).take(ROUNDS as usize).enumerate() {
        let (n, missing, age) = kill_round(&mut node, delay + 1000);
        // Redis's bound: one second of fsync interval plus up to two of a postponed write.
        assert!(
            age <= 3000,
            "round {round}: lost {} of {n} writes, the oldest acknowledged {age} ms before the kill",
            missing.len()
        );
    }
}

#[test]
fn power_cut_truncation_of_the_last_incr_file_still_starts() {
    let mut node = aof_node("always");
    let mut con = node.new_con();
    for i in 0..200 {
        let _: () = redis::cmd("SET")
            .arg(format!("k:{i}"))
            .arg(i)
            .query(&mut con)
            .unwrap();
    }
    drop(con);
    node.kill9();
    let incr = node.path().join("appendonlydir/appendonly.aof.1.incr.aof");
    let full = std::fs::read(&incr).unwrap();
    for cut in delays(3)
        .take(ROUNDS as usize)
        .map(|d| (d as usize * 37) % full.len())
    {
        std::fs::write(&incr, &full[..cut]).unwrap();
        node.restart();
        let keys = match node.cmd(&["DBSIZE"]) {
            Value::Int(k) => k,
            other => panic!("DBSIZE: {other:?}"),
        };
        // The keys left are exactly a prefix of the writes.
        for i in 0..keys {
            assert_eq!(
                node.text(&["GET", &format!("k:{i}")]),
                i.to_string(),
                "cut at {cut}"
            );
        }
        assert!(keys < 200);
        node.kill9();
    }
}

#[test]
fn kill_during_rewrite_never_leaves_the_manifest_naming_a_missing_file() {
    let mut node = aof_node("always");
    // Real writes (DEBUG POPULATE is not written to the AOF, as in Redis).
    for batch in 0..100 {
        let mut args = vec!["MSET".to_string()];
        for i in 0..1000 {
            args.push(format!("key:{batch}:{i}"));
            args.push(format!("{:050}", batch * 1000 + i));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        node.cmd(&args);
    }
    let want = node.digest();
    for delay in [0u64, 5, 30, 120, 400] {
        match node.cmd(&["BGREWRITEAOF"]) {
            Value::SimpleString(_) | Value::Okay => {}
            other => panic!("BGREWRITEAOF: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(delay));
        node.kill9();
        let dir = node.path().join("appendonlydir");
        let manifest = std::fs::read_to_string(dir.join("appendonly.aof.manifest")).unwrap();
        for line in manifest.lines() {
            let name = line.split_whitespace().nth(1).unwrap();
            assert!(
                dir.join(name).exists(),
                "after a kill at {delay} ms the manifest names missing {name}:\n{manifest}"
            );
        }
        node.restart();
        assert_eq!(node.digest(), want, "after a kill at {delay} ms");
    }
}

/// The seed's case: a master with persistence killed -9 and restarted quickly comes back
/// with its data, and its replicas (which full-sync from it) keep theirs.
#[test]
fn master_with_aof_restarted_after_kill9_keeps_its_data_and_its_replicas_theirs() {
    let mut master = aof_node("always");
    let replica = Node::start(NodeOpts::seed_replica(engine(), master.port));
    for i in 0..500 {
        master.cmd(&["SET", &format!("k:{i}"), &i.to_string()]);
    }
    master.cmd(&["WAIT", "1", "5000"]);
    let want = master.digest();
    master.kill9();
    master.restart();
    assert_eq!(
        master.digest(),
        want,
        "the master came back without its data"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let synced = replica
            .info_field("replication", "master_link_status")
            .as_deref()
            == Some("up");
        if synced && replica.digest() == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica did not keep the data"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
