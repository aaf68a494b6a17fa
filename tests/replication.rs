//! Master–replica replication, the seed's behaviours S1–S15 on loopback: three nodes configured
//! like the seed (S4: requirepass + masterauth, a dbfilename per node, distinct dirs, replicaof
//! in the config file). Each test names the seed item(s) it proves. Under a steady background
//! writer, scenarios end with identical DEBUG DIGEST on all nodes and every acknowledged write
//! present on every node.
//!
//! `REDREPL_TEST_ENGINE=redis` runs every node as Debian's redis-server 7.0: that is how these
//! tests are validated against the reference (a test failing there is wrong).

mod common;

use common::repl::*;
use redis::Value;
use std::time::{Duration, Instant};

const READONLY: &str = "READONLY You can't write against a read only replica.";
const NOREPLICAS: &str = "NOREPLICAS Not enough good replicas to write.";
const WRITE_RATE: u32 = 400;

/// Master and two replicas with `replicaof` in their config files (S4), in sync.
fn trio_with(master: NodeOpts) -> (Node, Node, Node) {
    let k = engine();
    let m = Node::start(master);
    let r1 = Node::start(NodeOpts::seed_replica(k, m.port));
    let r2 = Node::start(NodeOpts::seed_replica(k, m.port));
    wait_synced(&m, &r1);
    wait_synced(&m, &r2);
    (m, r1, r2)
}

fn trio() -> (Node, Node, Node) {
    trio_with(NodeOpts::seed(engine()))
}

fn stat(n: &Node, field: &str) -> i64 {
    n.info_int("stats", field)
}

/// (sync_full, sync_partial_ok, sync_partial_err) from the master's INFO stats.
fn syncs(m: &Node) -> (i64, i64, i64) {
    (
        stat(m, "sync_full"),
        stat(m, "sync_partial_ok"),
        stat(m, "sync_partial_err"),
    )
}

fn wait_log(n: &Node, needle: &str) {
    let ok = wait_until(Duration::from_secs(10), || n.log().contains(needle));
    assert!(
        ok,
        "log of {} lacks {needle:?}; tail:\n{}",
        n.port,
        tail(&n.log(), 40)
    );
}

fn link_status(n: &Node) -> String {
    n.info_field("replication", "master_link_status")
        .unwrap_or_default()
}

#[test]
fn s1_s4_s5_config_file_replicas_sync_and_serve_master_writes() {
    let (m, r1, r2) = trio();
    // S5: the master's log shows that the replicas synchronised.
    for r in [&r1, &r2] {
        wait_log(
            &m,
            &format!("Replica {} asks for synchronization", r.addr()),
        );
        wait_log(
            &m,
            &format!("Synchronization with replica {} succeeded", r.addr()),
        );
        wait_log(r, "MASTER <-> REPLICA sync: Finished with success");
        assert_eq!(r.info_field("replication", "role").unwrap(), "slave");
    }
    assert_eq!(
        m.info_field("replication", "connected_slaves").unwrap(),
        "2"
    );
    // S5: SET k v on the master, GET k on a replica returns v.
    assert_eq!(m.text(&["SET", "k", "v"]), "OK");
    for r in [&r1, &r2] {
        assert!(
            wait_until(Duration::from_secs(5), || r.text(&["GET", "k"]) == "v"),
            "replica {} did not get k",
            r.port
        );
    }
    assert_same_digest(&[&m, &r1, &r2]);
}

#[test]
fn s1_s12_replicaof_command_returns_ok_at_once_and_replaces_old_data() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k));
    preload(&m, 20_000);
    let r = Node::start(NodeOpts::seed(k));
    assert_eq!(r.text(&["SET", "old:key", "old"]), "OK");
    let t = Instant::now();
    let reply = r.replicaof(m.port);
    let took = t.elapsed();
    assert_eq!(reply, Value::Okay, "REPLICAOF reply");
    assert!(took < Duration::from_secs(1), "REPLICAOF took {took:?}");
    assert_eq!(r.info_field("replication", "role").unwrap(), "slave");
    wait_synced(&m, &r);
    // S12: the replica discarded its old data and loaded the master's snapshot.
    assert_eq!(r.text(&["GET", "old:key"]), "nil");
    assert_eq!(r.text(&["DBSIZE"]), m.text(&["DBSIZE"]));
    assert_same_digest(&[&m, &r]);
    // Same master again: Redis's answer.
    assert_eq!(
        r.text(&["REPLICAOF", "127.0.0.1", &m.port.to_string()]),
        "OK Already connected to specified master"
    );
}

#[test]
fn s6_replica_refuses_writes_with_readonly_error() {
    let (m, r1, _r2) = trio();
    assert_eq!(m.text(&["SET", "ro", "1"]), "OK");
    wait_synced(&m, &r1);
    for args in [
        &["SET", "ro", "2"][..],
        &["INCR", "ro"],
        &["LPUSH", "l", "a"],
        &["HSET", "h", "f", "v"],
        &["SADD", "s", "m"],
        &["ZADD", "z", "1", "m"],
        &["DEL", "ro"],
        &["EXPIRE", "ro", "100"],
        &["FLUSHALL"],
    ] {
        let v = r1.cmd(args);
        assert_eq!(
            error_text(&v).as_deref(),
            Some(READONLY),
            "reply to {args:?} on a replica"
        );
    }
    // Reads are served, the value is the master's.
    assert_eq!(r1.text(&["GET", "ro"]), "1");
    assert_eq!(
        r1.text(&["CONFIG", "GET", "replica-read-only"]),
        "[replica-read-only, yes]"
    );
}

#[test]
fn s7_late_replica_receives_everything() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k));
    preload(&m, 20_000);
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(300);
    // The replica starts late, while the writes go on.
    let r = Node::start(NodeOpts::seed_replica(k, m.port));
    w.wait_more(300);
    let model = finish(w, &m, &[&r]);
    assert!(model.checked_keys() > 100, "{model:?}");
    assert_eq!(stat(&m, "sync_full"), 1);
}

/// S8: a replica that goes away (`how`) while the master keeps taking writes, then restarts,
/// continues by partial resynchronisation and ends with the master's data.
fn replica_restart_continues_by_psync(sigkill: bool) {
    let (m, r1, mut r2) = trio();
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(200);
    if sigkill {
        // The replica's last save point (the dump records the replication ID and offset).
        assert_eq!(r2.text(&["SAVE"]), "OK");
        w.wait_more(100);
    }
    let before = syncs(&m);
    let log_len = m.log().len();
    if sigkill {
        r2.kill9();
    } else {
        r2.shutdown();
    }
    w.wait_more(300);
    r2.restart();
    let ok = wait_until(Duration::from_secs(20), || syncs(&m).1 > before.1);
    assert!(
        ok,
        "no partial resync: master syncs {:?} -> {:?}; master log:\n{}\nreplica log:\n{}",
        before,
        syncs(&m),
        tail(&m.log(), 20),
        tail(&r2.log(), 20)
    );
    w.wait_more(200);
    finish(w, &m, &[&r1, &r2]);
    let after = syncs(&m);
    assert_eq!(
        after.0, before.0,
        "sync_full changed: {before:?} -> {after:?}"
    );
    assert_eq!(
        after.1,
        before.1 + 1,
        "sync_partial_ok: {before:?} -> {after:?}"
    );
    let new_log = m.log()[log_len..].to_string();
    assert!(
        new_log.contains(&format!(
            "Partial resynchronization request from {} accepted",
            r2.addr()
        )),
        "master log:\n{}",
        tail(&new_log, 20)
    );
    wait_log(&r2, "Successful partial resynchronization with master");
}

#[test]
fn s8_replica_killed_with_sigkill_continues_by_partial_resync() {
    replica_restart_continues_by_psync(true);
}

#[test]
fn s8_s15_replica_shutdown_and_restart_continues_by_partial_resync() {
    replica_restart_continues_by_psync(false);
}

#[test]
fn s9_master_shutdown_replicas_stay_replicas_and_serve_reads() {
    let (mut m, r1, r2) = trio();
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(300);
    let model = finish(w, &m, &[&r1, &r2]);
    let d = m.digest();
    m.shutdown();
    for r in [&r1, &r2] {
        assert!(
            wait_until(Duration::from_secs(10), || link_status(r) == "down"),
            "replica {} still reports the link as {}",
            r.port,
            link_status(r)
        );
    }
    // No self-promotion, ever: still replicas after a while.
    std::thread::sleep(Duration::from_secs(2));
    for r in [&r1, &r2] {
        let info = r.info("replication");
        assert_eq!(parse_info_field(&info, "role").unwrap(), "slave", "{info}");
        assert_eq!(
            parse_info_field(&info, "master_link_status").unwrap(),
            "down"
        );
        assert_eq!(
            parse_info_field(&info, "master_port").unwrap(),
            m.port.to_string()
        );
        match r.cmd(&["ROLE"]) {
            Value::Array(a) => assert_eq!(common::repl::text(&a[0]), "slave"),
            other => panic!("ROLE: {other:?}"),
        }
        // Reads served (replica-serve-stale-data yes), writes still refused.
        assert_eq!(r.digest(), d);
        model.verify(r);
        assert_eq!(
            error_text(&r.cmd(&["SET", "x", "y"])).as_deref(),
            Some(READONLY)
        );
    }
}

#[test]
fn s10_master_restart_replicas_reconnect_by_psync_and_catch_up() {
    let (mut m, r1, r2) = trio();
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(300);
    let model = finish(w, &m, &[&r1, &r2]);
    let replid = m.info_field("replication", "master_replid").unwrap();
    m.shutdown();
    for r in [&r1, &r2] {
        assert!(wait_until(Duration::from_secs(10), || link_status(r) == "down"));
    }
    let log_len = m.log().len();
    m.restart();
    for r in [&r1, &r2] {
        wait_synced(&m, r);
    }
    // The restarted master kept its history (replid2) and both replicas continued by PSYNC.
    assert_eq!(
        m.info_field("replication", "master_replid2").unwrap(),
        replid
    );
    let s = syncs(&m);
    assert_eq!(
        (s.0, s.1),
        (0, 2),
        "sync_full, sync_partial_ok after restart"
    );
    let new_log = m.log()[log_len..].to_string();
    for r in [&r1, &r2] {
        assert!(
            new_log.contains(&format!(
                "Partial resynchronization request from {} accepted",
                r.addr()
            )),
            "master log:\n{}",
            tail(&new_log, 30)
        );
        model.verify(r);
    }
    // Replication resumes.
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(300);
    finish(w, &m, &[&r1, &r2]);
    model.verify(&m);
}

#[test]
fn s11_chain_master_replica1_replica2() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k));
    let r1 = Node::start(NodeOpts::seed_replica(k, m.port));
    let r2 = Node::start(NodeOpts::seed_replica(k, r1.port));
    wait_synced(&m, &r1);
    wait_synced(&r1, &r2);
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(200);
    assert_eq!(m.text(&["SET", "chain:key", "torch"]), "OK");
    assert!(wait_until(Duration::from_secs(5), || r2
        .text(&["GET", "chain:key"])
        == "torch"));
    // replica1 is still read-only.
    assert_eq!(
        error_text(&r1.cmd(&["SET", "chain:key", "x"])).as_deref(),
        Some(READONLY)
    );
    w.wait_more(300);
    let model = w.stop();
    wait_synced(&m, &r1);
    wait_synced(&r1, &r2);
    assert_same_digest(&[&m, &r1, &r2]);
    for n in [&m, &r1, &r2] {
        model.verify(n);
    }
    // The master's stream is passed on unchanged, with the master's replication ID.
    let id = m.info_field("replication", "master_replid").unwrap();
    assert_eq!(r1.info_field("replication", "master_replid").unwrap(), id);
    assert_eq!(r2.info_field("replication", "master_replid").unwrap(), id);
    assert_eq!(
        m.info_field("replication", "connected_slaves").unwrap(),
        "1"
    );
    assert_eq!(
        r1.info_field("replication", "connected_slaves").unwrap(),
        "1"
    );
    assert_eq!(
        r2.info_field("replication", "master_port").unwrap(),
        r1.port.to_string()
    );
}

#[test]
fn s2_s3_replicaof_no_one_then_sibling_continues_by_psync_and_slaveof_back() {
    let (m, r1, r2) = trio();
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(300);
    let model = finish(w, &m, &[&r1, &r2]);
    let old_id = m.info_field("replication", "master_replid").unwrap();
    let off = m.info_int("replication", "master_repl_offset");
    // S3: SLAVEOF NO ONE turns the replica into a master.
    assert_eq!(r1.cmd(&["SLAVEOF", "NO", "ONE"]), Value::Okay);
    let info = r1.info("replication");
    assert_eq!(parse_info_field(&info, "role").unwrap(), "master", "{info}");
    assert_ne!(parse_info_field(&info, "master_replid").unwrap(), old_id);
    assert_eq!(parse_info_field(&info, "master_replid2").unwrap(), old_id);
    assert_eq!(
        parse_info_field(&info, "second_repl_offset").unwrap(),
        (off + 1).to_string()
    );
    // S2: the sibling switches to the promoted node and continues by PSYNC (replid2).
    assert_eq!(
        r2.cmd(&["SLAVEOF", "127.0.0.1", &r1.port.to_string()]),
        Value::Okay
    );
    wait_synced(&r1, &r2);
    let s = syncs(&r1);
    assert_eq!(
        (s.0, s.1),
        (0, 1),
        "promoted node's sync_full, sync_partial_ok"
    );
    wait_log(
        &r1,
        &format!(
            "Partial resynchronization request from {} accepted",
            r2.addr()
        ),
    );
    // The promoted node takes writes and streams them to its new replica.
    let w2 = Writer::start(&r1, WRITE_RATE);
    w2.wait_more(300);
    finish(w2, &r1, &[&r2]);
    model.verify(&r2);
    // SLAVEOF back to the original master: both end with its data.
    assert_eq!(
        r1.cmd(&["SLAVEOF", "127.0.0.1", &m.port.to_string()]),
        Value::Okay
    );
    assert_eq!(
        r2.cmd(&["SLAVEOF", "127.0.0.1", &m.port.to_string()]),
        Value::Okay
    );
    wait_synced(&m, &r1);
    wait_synced(&m, &r2);
    assert_same_digest(&[&m, &r1, &r2]);
    for n in [&m, &r1, &r2] {
        model.verify(n);
    }
    assert_eq!(r1.info_field("replication", "role").unwrap(), "slave");
}

fn full_sync_big_dataset(diskless: bool) {
    let k = engine();
    let m = Node::start(
        NodeOpts::seed(k).with("repl-diskless-sync", if diskless { "yes" } else { "no" }),
    );
    preload(&m, 40_000);
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(100);
    let r = Node::start(NodeOpts::seed_replica(k, m.port));
    w.wait_more(300);
    finish(w, &m, &[&r]);
    assert_eq!(stat(&m, "sync_full"), 1);
    wait_log(&r, "MASTER <-> REPLICA sync: Finished with success");
    // S12: the replica stored the snapshot under its dbfilename.
    let dump = r.path().join(format!("dump{}.rdb", r.port));
    assert!(dump.exists(), "{} missing", dump.display());
    assert!(r.text(&["DBSIZE"]).parse::<i64>().unwrap() >= 40_000);
}

#[test]
fn s12_full_sync_disk_based_big_dataset_while_writes_continue() {
    full_sync_big_dataset(false);
}

#[test]
fn s12_full_sync_diskless_big_dataset_while_writes_continue() {
    full_sync_big_dataset(true);
}

#[test]
fn s13_master_pings_every_repl_ping_replica_period() {
    let k = engine();
    let fast = Node::start(NodeOpts::seed(k).with("repl-ping-replica-period", "1"));
    let slow = Node::start(NodeOpts::seed(k)); // default period: 10 s
    let rf = Node::start(NodeOpts::seed_replica(k, fast.port));
    let rs = Node::start(NodeOpts::seed_replica(k, slow.port));
    wait_synced(&fast, &rf);
    wait_synced(&slow, &rs);
    assert_eq!(
        fast.text(&["CONFIG", "GET", "repl-ping-slave-period"]),
        "[repl-ping-slave-period, 1]"
    );
    assert_eq!(
        slow.text(&["CONFIG", "GET", "repl-ping-replica-period"]),
        "[repl-ping-replica-period, 10]"
    );
    let f0 = fast.info_int("replication", "master_repl_offset");
    let s0 = slow.info_int("replication", "master_repl_offset");
    std::thread::sleep(Duration::from_millis(3500));
    let f1 = fast.info_int("replication", "master_repl_offset");
    let s1 = slow.info_int("replication", "master_repl_offset");
    // No writes: the offset moves only by PINGs (*1\r\n$4\r\nPING\r\n, 14 bytes each).
    assert!(f1 - f0 >= 28, "period 1: offset {f0} -> {f1}");
    assert_eq!((f1 - f0) % 14, 0, "period 1: offset {f0} -> {f1}");
    assert!(s1 - s0 <= 14, "period 10: offset {s0} -> {s1}");
    wait_synced(&fast, &rf);
    let io: i64 = rf.info_int("replication", "master_last_io_seconds_ago");
    assert!(io <= 1, "master_last_io_seconds_ago {io} with period 1");
    assert_same_digest(&[&fast, &rf]);
}

#[test]
fn s14_writes_reach_replicas_in_master_order() {
    let (m, r1, r2) = trio();
    let mut handles = Vec::new();
    for t in 0..2 {
        let port = m.port;
        handles.push(std::thread::spawn(move || {
            let mut con = redis::Client::open(format!("redis://:{PASS}@127.0.0.1:{port}/0"))
                .unwrap()
                .get_connection()
                .unwrap();
            for i in 0..600 {
                let _: () = redis::cmd("RPUSH")
                    .arg("order:list")
                    .arg(format!("t{t}:{i}"))
                    .query(&mut con)
                    .unwrap();
                let _: i64 = redis::cmd("INCR").arg("order:ctr").query(&mut con).unwrap();
                if i % 50 == 0 {
                    // A transaction across databases.
                    let _: Value = redis::pipe()
                        .atomic()
                        .cmd("SELECT")
                        .arg(1)
                        .cmd("RPUSH")
                        .arg("order:tx")
                        .arg(format!("t{t}:{i}:a"))
                        .cmd("SELECT")
                        .arg(2)
                        .cmd("RPUSH")
                        .arg("order:tx")
                        .arg(format!("t{t}:{i}:b"))
                        .cmd("SELECT")
                        .arg(0)
                        .query(&mut con)
                        .unwrap();
                }
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    wait_synced(&m, &r1);
    wait_synced(&m, &r2);
    let list = |n: &Node, db: usize, key: &str| -> Vec<String> {
        redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query(&mut n.new_con_db(db))
            .unwrap()
    };
    let ml = list(&m, 0, "order:list");
    assert_eq!(ml.len(), 1200);
    for t in 0..2 {
        let mine: Vec<&String> = ml
            .iter()
            .filter(|v| v.starts_with(&format!("t{t}:")))
            .collect();
        let expected: Vec<String> = (0..600).map(|i| format!("t{t}:{i}")).collect();
        assert_eq!(
            mine.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            expected
        );
    }
    for r in [&r1, &r2] {
        assert_eq!(list(r, 0, "order:list"), ml, "list order on {}", r.port);
        assert_eq!(r.text(&["GET", "order:ctr"]), "1200");
        for db in [1, 2] {
            assert_eq!(list(r, db, "order:tx"), list(&m, db, "order:tx"));
        }
    }
    assert_same_digest(&[&m, &r1, &r2]);
}

#[test]
fn s15_outage_longer_than_backlog_falls_back_to_full_sync() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k).with("repl-backlog-size", "16384"));
    let mut r = Node::start(NodeOpts::seed_replica(k, m.port));
    wait_synced(&m, &r);
    assert_eq!(m.info_int("replication", "repl_backlog_size"), 16384);
    r.shutdown();
    let before = syncs(&m);
    // 300 KB of writes while the replica is away: far more than the backlog holds.
    let mut con = m.new_con();
    let big = "x".repeat(1000);
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("big:{i}"))
            .arg(&big)
            .query(&mut con)
            .unwrap();
    }
    let histlen = m.info_int("replication", "repl_backlog_histlen");
    assert!(histlen < 300_000, "backlog kept {histlen} bytes");
    r.restart();
    wait_synced(&m, &r);
    let after = syncs(&m);
    assert_eq!(after.0, before.0 + 1, "sync_full {before:?} -> {after:?}");
    assert_eq!(
        after.2,
        before.2 + 1,
        "sync_partial_err {before:?} -> {after:?}"
    );
    assert_eq!(after.1, before.1, "sync_partial_ok {before:?} -> {after:?}");
    assert_same_digest(&[&m, &r]);
}

#[test]
fn s15_short_outage_is_served_from_the_backlog() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k).with("repl-backlog-size", "1mb"));
    let mut r = Node::start(NodeOpts::seed_replica(k, m.port));
    wait_synced(&m, &r);
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(200);
    let before = syncs(&m);
    let log_len = m.log().len();
    r.shutdown();
    w.wait_more(100);
    r.restart();
    assert!(wait_until(Duration::from_secs(20), || syncs(&m).1 > before.1));
    let model = finish(w, &m, &[&r]);
    assert!(model.acked > 300);
    let after = syncs(&m);
    assert_eq!(after.0, before.0, "sync_full {before:?} -> {after:?}");
    let new_log = m.log()[log_len..].to_string();
    let line = new_log
        .lines()
        .find(|l| l.contains("Partial resynchronization request from"))
        .unwrap_or_else(|| panic!("no accepted line:\n{new_log}"));
    // "... accepted. Sending N bytes of backlog starting from offset M."
    let n: i64 = line
        .split("Sending ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line: {line}"));
    assert!(n > 0, "nothing sent from the backlog: {line}");
    let info = m.info("replication");
    let first: i64 = parse_info_field(&info, "repl_backlog_first_byte_offset")
        .unwrap()
        .parse()
        .unwrap();
    let hist: i64 = parse_info_field(&info, "repl_backlog_histlen")
        .unwrap()
        .parse()
        .unwrap();
    let off: i64 = parse_info_field(&info, "master_repl_offset")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(first + hist - 1, off, "{info}");
}

#[test]
fn wait_counts_acknowledging_replicas_and_times_out() {
    let (m, r1, _r2) = trio();
    let mut con = m.new_con();
    let _: () = redis::cmd("SET").arg("w").arg("1").query(&mut con).unwrap();
    let t = Instant::now();
    let n: i64 = redis::cmd("WAIT").arg(2).arg(5000).query(&mut con).unwrap();
    assert_eq!(n, 2);
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "WAIT 2 took {:?}",
        t.elapsed()
    );
    let _: () = redis::cmd("SET").arg("w").arg("2").query(&mut con).unwrap();
    let t = Instant::now();
    let n: i64 = redis::cmd("WAIT").arg(3).arg(300).query(&mut con).unwrap();
    let took = t.elapsed();
    assert_eq!(n, 2);
    assert!(
        took >= Duration::from_millis(290),
        "WAIT 3 300 took {took:?}"
    );
    assert!(took < Duration::from_secs(3), "WAIT 3 300 took {took:?}");
    let n: i64 = redis::cmd("WAIT").arg(0).arg(0).query(&mut con).unwrap();
    assert_eq!(n, 2);
    let e = error_text(&r1.cmd(&["WAIT", "1", "100"])).unwrap_or_default();
    assert!(
        e.starts_with("ERR WAIT cannot be used with replica instances"),
        "WAIT on a replica: {e}"
    );
}

#[test]
fn min_replicas_to_write_refuses_with_noreplicas() {
    let (m, _r1, mut r2) = trio();
    assert_eq!(
        m.cmd(&["CONFIG", "SET", "min-replicas-to-write", "3"]),
        Value::Okay
    );
    let v = m.cmd(&["SET", "mr", "1"]);
    assert_eq!(error_text(&v).as_deref(), Some(NOREPLICAS));
    assert_eq!(m.text(&["GET", "mr"]), "nil");
    assert_eq!(
        m.cmd(&["CONFIG", "SET", "min-replicas-to-write", "2"]),
        Value::Okay
    );
    assert_eq!(m.cmd(&["SET", "mr", "2"]), Value::Okay);
    r2.shutdown();
    let ok = wait_until(Duration::from_secs(15), || {
        error_text(&m.cmd(&["SET", "mr", "3"])).as_deref() == Some(NOREPLICAS)
    });
    assert!(ok, "writes still accepted with one replica left");
    assert_eq!(m.text(&["GET", "mr"]), "2");
    assert_eq!(
        m.cmd(&["CONFIG", "SET", "min-replicas-to-write", "0"]),
        Value::Okay
    );
    assert_eq!(m.cmd(&["SET", "mr", "4"]), Value::Okay);
}

fn field_names(info: &str) -> Vec<String> {
    info.lines()
        .filter(|l| !l.starts_with('#') && l.contains(':'))
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect()
}

fn is_replid(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn info_replication_fields_and_role_as_redis() {
    let (m, r1, r2) = trio();
    assert_eq!(m.text(&["SET", "i", "1"]), "OK");
    wait_synced(&m, &r1);
    wait_synced(&m, &r2);
    // The replicas' REPLCONF ACKs (every second) bring slaveN:offset to the master's offset.
    let mut info = String::new();
    let acked = wait_until(Duration::from_secs(5), || {
        info = m.info("replication");
        let off = parse_info_field(&info, "master_repl_offset").unwrap_or_default();
        ["slave0", "slave1"].iter().all(|s| {
            parse_info_field(&info, s).is_some_and(|v| v.contains(&format!(",offset={off},")))
        })
    });
    assert!(acked, "replicas' offsets never acknowledged:\n{info}");
    assert_eq!(
        field_names(&info),
        [
            "role",
            "connected_slaves",
            "slave0",
            "slave1",
            "master_failover_state",
            "master_replid",
            "master_replid2",
            "master_repl_offset",
            "second_repl_offset",
            "repl_backlog_active",
            "repl_backlog_size",
            "repl_backlog_first_byte_offset",
            "repl_backlog_histlen"
        ],
        "{info}"
    );
    let f = |k: &str| parse_info_field(&info, k).unwrap();
    assert_eq!(f("role"), "master");
    assert_eq!(f("connected_slaves"), "2");
    let mut ports = Vec::new();
    for s in ["slave0", "slave1"] {
        let kv: Vec<(String, String)> = f(s)
            .split(',')
            .map(|p| {
                let (a, b) = p.split_once('=').unwrap();
                (a.to_string(), b.to_string())
            })
            .collect();
        let names: Vec<&str> = kv.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(names, ["ip", "port", "state", "offset", "lag"], "{s}");
        assert_eq!(kv[0].1, "127.0.0.1");
        ports.push(kv[1].1.parse::<u16>().unwrap());
        assert_eq!(kv[2].1, "online");
        assert_eq!(kv[3].1, f("master_repl_offset"));
        assert!(kv[4].1.parse::<i64>().unwrap() >= 0);
    }
    ports.sort();
    let mut want = vec![r1.port, r2.port];
    want.sort();
    assert_eq!(ports, want);
    assert_eq!(f("master_failover_state"), "no-failover");
    assert!(is_replid(&f("master_replid")));
    assert_eq!(f("master_replid2"), "0".repeat(40));
    let off: i64 = f("master_repl_offset").parse().unwrap();
    assert!(off > 0);
    assert_eq!(f("second_repl_offset"), "-1");
    assert_eq!(f("repl_backlog_active"), "1");
    assert_eq!(f("repl_backlog_size"), "67108864");
    assert_eq!(f("repl_backlog_first_byte_offset"), "1");
    assert_eq!(f("repl_backlog_histlen"), off.to_string());

    let rinfo = r1.info("replication");
    assert_eq!(
        field_names(&rinfo),
        [
            "role",
            "master_host",
            "master_port",
            "master_link_status",
            "master_last_io_seconds_ago",
            "master_sync_in_progress",
            "slave_read_repl_offset",
            "slave_repl_offset",
            "slave_priority",
            "slave_read_only",
            "replica_announced",
            "connected_slaves",
            "master_failover_state",
            "master_replid",
            "master_replid2",
            "master_repl_offset",
            "second_repl_offset",
            "repl_backlog_active",
            "repl_backlog_size",
            "repl_backlog_first_byte_offset",
            "repl_backlog_histlen"
        ],
        "{rinfo}"
    );
    let g = |k: &str| parse_info_field(&rinfo, k).unwrap();
    assert_eq!(g("role"), "slave");
    assert_eq!(g("master_host"), "127.0.0.1");
    assert_eq!(g("master_port"), m.port.to_string());
    assert_eq!(g("master_link_status"), "up");
    let io: i64 = g("master_last_io_seconds_ago").parse().unwrap();
    assert!((0..=10).contains(&io));
    assert_eq!(g("master_sync_in_progress"), "0");
    let read: i64 = g("slave_read_repl_offset").parse().unwrap();
    let done: i64 = g("slave_repl_offset").parse().unwrap();
    assert!(read >= done && done >= off, "{rinfo}");
    assert_eq!(g("slave_priority"), "100");
    assert_eq!(g("slave_read_only"), "1");
    assert_eq!(g("replica_announced"), "1");
    assert_eq!(g("connected_slaves"), "0");
    assert_eq!(g("master_replid"), f("master_replid"));

    // ROLE on the master: ["master", offset, [[ip, port, offset], ...]].
    match m.cmd(&["ROLE"]) {
        Value::Array(a) => {
            assert_eq!(a.len(), 3);
            assert_eq!(common::repl::text(&a[0]), "master");
            assert!(matches!(a[1], Value::Int(o) if o >= off));
            let Value::Array(reps) = &a[2] else {
                panic!("ROLE replicas: {:?}", a[2])
            };
            assert_eq!(reps.len(), 2);
            for rep in reps {
                let Value::Array(t) = rep else {
                    panic!("{rep:?}")
                };
                assert_eq!(t.len(), 3);
                assert_eq!(common::repl::text(&t[0]), "127.0.0.1");
                assert!(
                    matches!(t[1], Value::BulkString(_)),
                    "port as bulk: {:?}",
                    t[1]
                );
                assert!(
                    matches!(t[2], Value::BulkString(_)),
                    "offset as bulk: {:?}",
                    t[2]
                );
            }
        }
        other => panic!("ROLE: {other:?}"),
    }
    // ROLE on a replica: ["slave", host, port, "connected", offset].
    match r1.cmd(&["ROLE"]) {
        Value::Array(a) => {
            assert_eq!(a.len(), 5);
            assert_eq!(common::repl::text(&a[0]), "slave");
            assert_eq!(common::repl::text(&a[1]), "127.0.0.1");
            assert_eq!(a[2], Value::Int(m.port as i64));
            assert_eq!(common::repl::text(&a[3]), "connected");
            assert!(matches!(a[4], Value::Int(o) if o >= off));
        }
        other => panic!("ROLE: {other:?}"),
    }
}

#[test]
fn expiry_on_master_reaches_replicas_as_del() {
    let (m, r1, r2) = trio();
    // Lazy expiry on the master: the replica hides the key but keeps it until the master's DEL.
    assert_eq!(m.text(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "OK");
    let set_at = Instant::now();
    assert_eq!(m.text(&["SET", "exp:lazy", "v", "PX", "1500"]), "OK");
    wait_synced(&m, &r1);
    let pttl: i64 = r1.text(&["PTTL", "exp:lazy"]).parse().unwrap();
    assert!(pttl > 0 && pttl <= 1500, "PTTL on replica {pttl}");
    std::thread::sleep(Duration::from_millis(1800).saturating_sub(set_at.elapsed()));
    for r in [&r1, &r2] {
        assert_eq!(r.text(&["GET", "exp:lazy"]), "nil");
        assert_eq!(r.text(&["EXISTS", "exp:lazy"]), "0");
        assert_eq!(
            r.text(&["DBSIZE"]),
            "1",
            "the replica expired the key by itself"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(r1.text(&["DBSIZE"]), "1");
    // The master's lookup expires it and propagates DEL.
    assert_eq!(m.text(&["GET", "exp:lazy"]), "nil");
    for r in [&r1, &r2] {
        assert!(
            wait_until(Duration::from_secs(5), || r.text(&["DBSIZE"]) == "0"),
            "replica {} never got the DEL",
            r.port
        );
    }
    // Active expiry on the master reaches the replicas too.
    assert_eq!(m.text(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), "OK");
    for i in 0..20 {
        assert_eq!(
            m.text(&["SET", &format!("exp:a{i}"), "v", "PX", "100"]),
            "OK"
        );
    }
    assert_eq!(m.text(&["SET", "exp:keep", "v", "EX", "1000"]), "OK");
    for r in [&r1, &r2] {
        assert!(
            wait_until(Duration::from_secs(10), || r.text(&["DBSIZE"]) == "1"),
            "replica {} DBSIZE {}",
            r.port,
            r.text(&["DBSIZE"])
        );
        let ttl: i64 = r.text(&["TTL", "exp:keep"]).parse().unwrap();
        assert!(ttl > 990, "TTL on replica {ttl}");
    }
    assert!(stat(&m, "expired_keys") >= 21);
    assert_same_digest(&[&m, &r1, &r2]);
}

// ---------------------------------------------------------------------------------------------
// The replication protocol on the wire, seen by a replica (Redis 7.0's exact framing)

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Reads stream commands until one named `name`; PINGs are skipped; returns the others.
fn next_cmds(f: &mut FakeReplica, name: &str) -> Vec<Vec<String>> {
    f.until(Duration::from_secs(10), |c| c[0].eq_ignore_ascii_case(name))
        .into_iter()
        .filter(|c| c[0] != "PING")
        .collect()
}

fn psync_protocol(diskless: bool) {
    let k = engine();
    let m = Node::start(
        NodeOpts::seed(k).with("repl-diskless-sync", if diskless { "yes" } else { "no" }),
    );
    assert_eq!(m.text(&["SET", "pre", "1"]), "OK");
    let mut f = FakeReplica::connect(&m);
    f.handshake(40001);
    f.send(&["PSYNC", "?", "-1"]);
    let l = f.line();
    let parts: Vec<&str> = l.split(' ').collect();
    assert_eq!(parts.len(), 3, "{l}");
    assert_eq!(parts[0], "+FULLRESYNC", "{l}");
    let id = parts[1].to_string();
    assert!(is_replid(&id), "{l}");
    let off: i64 = parts[2].parse().unwrap();
    let (rdb, eof) = f.read_rdb();
    assert_eq!(eof, diskless, "EOF-marked transfer iff diskless");
    assert!(
        rdb.starts_with(b"REDIS0010"),
        "RDB header {:?}",
        &rdb[..9.min(rdb.len())]
    );
    // The snapshot records the replication ID and offset (aux fields).
    let has = |needle: &[u8]| rdb.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"repl-id") && has(id.as_bytes()) && has(b"repl-offset"));
    assert!(has(b"pre"));
    // The first ACK puts a diskless replica online (Redis 7.0); harmless otherwise.
    f.send(&["REPLCONF", "ACK", &off.to_string()]);
    let online = wait_until(Duration::from_secs(5), || {
        m.info("replication")
            .contains("ip=127.0.0.1,port=40001,state=online")
    });
    assert!(online, "{}", m.info("replication"));
    // An ACK before the transfer is recorded as complete is ignored: ACK again, as a real
    // replica does every second.
    f.send(&["REPLCONF", "ACK", &off.to_string()]);
    assert_eq!(m.info_field("replication", "master_replid").unwrap(), id);

    let mut c = m.new_con();
    let q = |c: &mut redis::Connection, args: &[&str]| -> Value {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        common::qc(c, &cmd)
    };
    q(&mut c, &["SET", "a", "1"]);
    assert_eq!(
        next_cmds(&mut f, "SET"),
        [vec!["SELECT", "0"], vec!["SET", "a", "1"]]
    );
    // Relative expiries travel as absolute times.
    q(&mut c, &["SET", "b", "2", "EX", "100"]);
    let s = next_cmds(&mut f, "SET");
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0][..4], ["SET", "b", "2", "PXAT"], "{s:?}");
    let at: i64 = s[0][4].parse().unwrap();
    assert!((at - (now_ms() + 100_000)).abs() < 5_000, "PXAT {at}");
    q(&mut c, &["EXPIRE", "a", "100"]);
    let s = next_cmds(&mut f, "PEXPIREAT");
    assert_eq!(s[0][..2], ["PEXPIREAT", "a"], "{s:?}");
    // Non-deterministic commands in their deterministic form.
    q(&mut c, &["INCRBYFLOAT", "f", "1.5"]);
    assert_eq!(
        next_cmds(&mut f, "SET"),
        [vec!["SET", "f", "1.5", "KEEPTTL"]]
    );
    q(&mut c, &["SADD", "s", "x"]);
    q(&mut c, &["SPOP", "s"]);
    assert_eq!(
        next_cmds(&mut f, "SREM"),
        [vec!["SADD", "s", "x"], vec!["SREM", "s", "x"]]
    );
    // SELECT when the database changes; MULTI/EXEC kept.
    q(&mut c, &["SELECT", "1"]);
    q(&mut c, &["SET", "d1", "x"]);
    assert_eq!(
        next_cmds(&mut f, "SET"),
        [vec!["SELECT", "1"], vec!["SET", "d1", "x"]]
    );
    let v: Value = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("t")
        .arg("1")
        .cmd("INCR")
        .arg("t")
        .query(&mut c)
        .unwrap();
    assert!(matches!(v, Value::Array(_)));
    assert_eq!(
        next_cmds(&mut f, "EXEC"),
        [
            vec!["MULTI"],
            vec!["SET", "t", "1"],
            vec!["INCR", "t"],
            vec!["EXEC"]
        ]
    );
    // Keys expired by the master arrive as DEL.
    q(&mut c, &["SET", "e", "v", "PX", "50"]);
    let s = next_cmds(&mut f, "DEL");
    assert_eq!(s.last().unwrap(), &vec!["DEL", "e"], "{s:?}");
    // WAIT makes the master ask for an ACK.
    let t = Instant::now();
    assert_eq!(q(&mut c, &["WAIT", "1", "200"]), Value::Int(0));
    assert!(t.elapsed() >= Duration::from_millis(190));
    let s = next_cmds(&mut f, "REPLCONF");
    assert_eq!(s.last().unwrap(), &vec!["REPLCONF", "GETACK", "*"]);
    // Offsets: every byte of the stream counts.
    let moff = m.info_int("replication", "master_repl_offset");
    while off + (f.consumed as i64) < moff {
        f.command(Duration::from_secs(5))
            .expect("stream ended short");
    }
    let mine = off + f.consumed as i64;
    assert_eq!(mine, moff, "stream bytes vs master_repl_offset");
    f.send(&["REPLCONF", "ACK", &mine.to_string()]);
    let acked = wait_until(Duration::from_secs(5), || {
        m.info("replication")
            .contains(&format!("port=40001,state=online,offset={mine},"))
    });
    assert!(acked, "{}", m.info("replication"));

    // A second replica continues from that offset: +CONTINUE with the ID (psync2).
    let before = syncs(&m);
    let mut g = FakeReplica::connect(&m);
    g.handshake(40002);
    g.send(&["PSYNC", &id, &(mine + 1).to_string()]);
    assert_eq!(g.line(), format!("+CONTINUE {id}"));
    q(&mut c, &["SET", "after", "1"]);
    let s = next_cmds(&mut g, "SET");
    assert_eq!(s.last().unwrap(), &vec!["SET", "after", "1"]);
    assert_eq!(syncs(&m).1, before.1 + 1);
    // An unknown ID or an offset beyond the backlog gets a full resync.
    for (rid, roff) in [
        (
            "0123456789012345678901234567890123456789".to_string(),
            mine + 1,
        ),
        (id.clone(), mine + 10_000_000),
    ] {
        let mut h = FakeReplica::connect(&m);
        h.handshake(40003);
        h.send(&["PSYNC", &rid, &roff.to_string()]);
        let l = h.line();
        assert!(l.starts_with(&format!("+FULLRESYNC {id} ")), "{l}");
    }
    let after = syncs(&m);
    assert_eq!(
        after.2,
        before.2 + 2,
        "sync_partial_err {before:?} -> {after:?}"
    );
}

#[test]
fn s12_s14_s15_psync_protocol_disk_based() {
    psync_protocol(false);
}

#[test]
fn s12_s14_s15_psync_protocol_diskless() {
    psync_protocol(true);
}

#[test]
fn s12_legacy_sync_gets_a_plain_rdb_then_the_stream() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k));
    assert_eq!(m.text(&["SET", "pre", "1"]), "OK");
    let mut f = FakeReplica::connect(&m);
    f.send(&["REPLCONF", "listening-port", "40010"]);
    assert_eq!(f.line(), "+OK");
    f.send(&["SYNC"]);
    let (rdb, eof) = f.read_rdb();
    assert!(!eof, "SYNC without capa eof gets a length-prefixed RDB");
    assert!(rdb.starts_with(b"REDIS0010"));
    assert_eq!(m.text(&["SET", "x", "1"]), "OK");
    let s = next_cmds(&mut f, "SET");
    assert_eq!(s.last().unwrap(), &vec!["SET", "x", "1"]);
}

#[test]
fn master_drops_replica_that_stops_acknowledging_after_repl_timeout() {
    let k = engine();
    let m = Node::start(
        NodeOpts::seed(k)
            .with("repl-diskless-sync", "no")
            .with("repl-timeout", "2"),
    );
    let mut f = FakeReplica::connect(&m);
    f.handshake(40020);
    f.send(&["PSYNC", "?", "-1"]);
    assert!(f.line().starts_with("+FULLRESYNC "));
    f.read_rdb();
    assert!(wait_until(Duration::from_secs(5), || m
        .info("replication")
        .contains("port=40020,state=online")));
    let t = Instant::now();
    assert!(f.closed_within(Duration::from_secs(10)), "never dropped");
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "dropped too early: {:?}",
        t.elapsed()
    );
    assert!(wait_until(Duration::from_secs(3), || m
        .info_field("replication", "connected_slaves")
        .as_deref()
        == Some("0")));
}

#[test]
fn master_drops_replica_over_its_output_buffer_limit() {
    let k = engine();
    // As in Redis 7.0, a replica's hard limit below repl-backlog-size counts as the backlog's
    // size (replicas share the backlog's memory): keep the backlog at 1 MB here.
    let m = Node::start(
        NodeOpts::seed(k)
            .with("repl-diskless-sync", "no")
            .with("repl-backlog-size", "1mb"),
    );
    assert_eq!(
        m.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "replica 1mb 0 0"
        ]),
        Value::Okay
    );
    let mut f = FakeReplica::connect(&m);
    f.handshake(40030);
    f.send(&["PSYNC", "?", "-1"]);
    assert!(f.line().starts_with("+FULLRESYNC "));
    f.read_rdb();
    f.send(&["REPLCONF", "ACK", "0"]);
    assert!(wait_until(Duration::from_secs(5), || m
        .info("replication")
        .contains("port=40030,state=online")));
    // The fake replica stops reading; 30 MB of writes overflow its 1 MB limit.
    let mut c = m.new_con();
    let big = "v".repeat(100_000);
    for i in 0..300 {
        let _: () = redis::cmd("SET")
            .arg(format!("big:{}", i % 10))
            .arg(&big)
            .query(&mut c)
            .unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(10), || m
            .info_field("replication", "connected_slaves")
            .as_deref()
            == Some("0")),
        "{}",
        m.info("replication")
    );
    assert!(f.closed_within(Duration::from_secs(10)));
}

// ---------------------------------------------------------------------------------------------
// FAILOVER, replica options, CONFIG REWRITE

#[test]
fn failover_to_replica_while_writes_continue_loses_nothing() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k));
    let r = Node::start(NodeOpts::seed_replica(k, m.port));
    wait_synced(&m, &r);
    assert_eq!(
        error_text(&r.cmd(&["FAILOVER"])).as_deref(),
        Some("ERR FAILOVER is not valid when server is a replica.")
    );
    assert_eq!(
        error_text(&m.cmd(&["FAILOVER", "ABORT"])).as_deref(),
        Some("ERR No failover in progress.")
    );
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(200);
    assert_eq!(
        m.cmd(&[
            "FAILOVER",
            "TO",
            "127.0.0.1",
            &r.port.to_string(),
            "TIMEOUT",
            "10000"
        ]),
        Value::Okay
    );
    let swapped = wait_until(Duration::from_secs(15), || {
        r.info_field("replication", "role").as_deref() == Some("master")
            && m.info_field("replication", "role").as_deref() == Some("slave")
    });
    assert!(
        swapped,
        "roles after FAILOVER: master {:?}, replica {:?}\n{}",
        m.info("replication"),
        r.info("replication"),
        tail(&m.log(), 20)
    );
    // The old master now refuses writes: the writer's later writes are not acknowledged.
    std::thread::sleep(Duration::from_millis(300));
    let model = w.stop();
    wait_synced(&r, &m);
    assert_same_digest(&[&m, &r]);
    model.verify(&r);
    model.verify(&m);
    assert_eq!(
        m.info_field("replication", "master_failover_state")
            .unwrap(),
        "no-failover"
    );
    // The new master's writes reach the old one.
    assert_eq!(r.text(&["SET", "after-failover", "1"]), "OK");
    assert!(wait_until(Duration::from_secs(5), || m
        .text(&["GET", "after-failover"])
        == "1"));
}

#[test]
fn s9_replica_serve_stale_data_no_refuses_reads_while_link_down() {
    let k = engine();
    let mut m = Node::start(NodeOpts::seed(k));
    let r = Node::start(NodeOpts::seed_replica(k, m.port).with("replica-serve-stale-data", "no"));
    wait_synced(&m, &r);
    assert_eq!(m.text(&["SET", "k", "v"]), "OK");
    wait_synced(&m, &r);
    assert_eq!(r.text(&["GET", "k"]), "v");
    m.shutdown();
    assert!(wait_until(Duration::from_secs(10), || link_status(&r) == "down"));
    assert_eq!(
        error_text(&r.cmd(&["GET", "k"])).as_deref(),
        Some("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
    );
    // INFO and the like still answer.
    assert_eq!(r.info_field("replication", "role").unwrap(), "slave");
}

#[test]
fn s6_replica_read_only_no_takes_local_writes() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k));
    let r = Node::start(NodeOpts::seed_replica(k, m.port).with("replica-read-only", "no"));
    wait_synced(&m, &r);
    assert_eq!(r.text(&["SET", "local", "1"]), "OK");
    assert_eq!(r.text(&["GET", "local"]), "1");
    assert_eq!(m.text(&["GET", "local"]), "nil");
    assert_eq!(r.info_field("replication", "slave_read_only").unwrap(), "0");
}

#[test]
fn replica_announce_ip_port_and_priority() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k));
    let r = Node::start(
        NodeOpts::seed_replica(k, m.port)
            .with("replica-announce-ip", "10.1.2.3")
            .with("replica-announce-port", "7777")
            .with("replica-priority", "50"),
    );
    let ok = wait_until(Duration::from_secs(10), || {
        m.info("replication")
            .contains("slave0:ip=10.1.2.3,port=7777,state=online,")
    });
    assert!(ok, "{}", m.info("replication"));
    assert_eq!(r.info_field("replication", "slave_priority").unwrap(), "50");
    match m.cmd(&["ROLE"]) {
        Value::Array(a) => assert_eq!(
            common::repl::text(&a[2]),
            format!(
                "[[10.1.2.3, 7777, {}]]",
                match &a[2] {
                    Value::Array(x) => match &x[0] {
                        Value::Array(y) => common::repl::text(&y[2]),
                        _ => unreachable!(),
                    },
                    _ => unreachable!(),
                }
            )
        ),
        other => panic!("ROLE {other:?}"),
    }
}

#[test]
fn s1_s4_config_rewrite_keeps_replicaof_across_restart() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k));
    let mut r = Node::start(NodeOpts::seed(k));
    assert_eq!(r.replicaof(m.port), Value::Okay);
    wait_synced(&m, &r);
    assert_eq!(m.text(&["SET", "k", "v"]), "OK");
    wait_synced(&m, &r);
    assert_eq!(r.text(&["CONFIG", "REWRITE"]), "OK");
    let conf = std::fs::read_to_string(&r.conf_path).unwrap();
    assert!(
        conf.lines()
            .any(|l| l == format!("replicaof 127.0.0.1 {}", m.port)),
        "{conf}"
    );
    let before = syncs(&m);
    r.shutdown();
    assert_eq!(m.text(&["SET", "k2", "v2"]), "OK");
    r.restart();
    wait_synced(&m, &r);
    assert_eq!(r.text(&["GET", "k2"]), "v2");
    let after = syncs(&m);
    assert_eq!(
        (after.0, after.1),
        (before.0, before.1 + 1),
        "{before:?} -> {after:?}"
    );
}

#[test]
fn s12_one_snapshot_serves_replicas_that_ask_together() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k).with("repl-diskless-sync-delay", "2"));
    preload(&m, 5_000);
    let r1 = Node::start(NodeOpts::seed(k));
    let r2 = Node::start(NodeOpts::seed(k));
    assert_eq!(r1.replicaof(m.port), Value::Okay);
    assert_eq!(r2.replicaof(m.port), Value::Okay);
    wait_synced(&m, &r1);
    wait_synced(&m, &r2);
    assert_eq!(stat(&m, "sync_full"), 2);
    let forks = m
        .log()
        .lines()
        .filter(|l| l.contains("Starting BGSAVE for SYNC with target"))
        .count();
    assert_eq!(forks, 1, "master log:\n{}", tail(&m.log(), 30));
    assert_same_digest(&[&m, &r1, &r2]);
}

#[test]
fn s9_master_shutdown_under_writes_loses_no_acknowledged_write() {
    let (mut m, r1, r2) = trio();
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(300);
    // SHUTDOWN while the writer is still writing: every write the master acknowledged before
    // it went away is on both replicas.
    m.shutdown();
    std::thread::sleep(Duration::from_millis(300));
    let model = w.stop();
    for r in [&r1, &r2] {
        assert!(wait_until(Duration::from_secs(10), || link_status(r) == "down"));
        model.verify(r);
    }
    assert_same_digest(&[&r1, &r2]);
    assert!(model.acked >= 300);
}

#[test]
fn replica_detects_a_silent_master_after_repl_timeout_and_resumes_by_psync() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k).with("repl-ping-replica-period", "1"));
    let r = Node::start(NodeOpts::seed_replica(k, m.port).with("repl-timeout", "3"));
    wait_synced(&m, &r);
    assert_eq!(m.text(&["SET", "k", "1"]), "OK");
    wait_synced(&m, &r);
    let before = syncs(&m);
    // The master hangs (no data, no PINGs): the replica gives up on the link after repl-timeout.
    m.signal_stop(true);
    let down = wait_until(Duration::from_secs(15), || link_status(&r) == "down");
    m.signal_stop(false);
    assert!(
        down,
        "link never reported down; replica log:\n{}",
        tail(&r.log(), 20)
    );
    wait_log(&r, "MASTER timeout: no data nor PING received");
    // Reads were served meanwhile; when the master is back the replica continues by PSYNC.
    assert_eq!(r.text(&["GET", "k"]), "1");
    wait_synced(&m, &r);
    assert_eq!(m.text(&["SET", "k", "2"]), "OK");
    wait_synced(&m, &r);
    assert_eq!(r.text(&["GET", "k"]), "2");
    let after = syncs(&m);
    assert_eq!(after.0, before.0, "sync_full {before:?} -> {after:?}");
    assert_eq!(
        after.1,
        before.1 + 1,
        "sync_partial_ok {before:?} -> {after:?}"
    );
}

#[test]
fn s11_s8_chain_middle_restart_everyone_continues_by_psync() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k));
    let mut r1 = Node::start(NodeOpts::seed_replica(k, m.port));
    let r2 = Node::start(NodeOpts::seed_replica(k, r1.port));
    wait_synced(&m, &r1);
    wait_synced(&r1, &r2);
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(200);
    let before = syncs(&m);
    r1.shutdown();
    w.wait_more(200);
    r1.restart();
    wait_until(Duration::from_secs(20), || syncs(&m).1 > before.1);
    w.wait_more(200);
    let model = w.stop();
    wait_synced(&m, &r1);
    wait_synced(&r1, &r2);
    assert_same_digest(&[&m, &r1, &r2]);
    for n in [&m, &r1, &r2] {
        model.verify(n);
    }
    let after = syncs(&m);
    assert_eq!(
        (after.0, after.1),
        (before.0, before.1 + 1),
        "master {before:?} -> {after:?}"
    );
    // The sub-replica continued from the restarted middle node by PSYNC too.
    assert_eq!(
        (stat(&r1, "sync_full"), stat(&r1, "sync_partial_ok")),
        (0, 1),
        "middle node's syncs after its restart"
    );
}

#[test]
fn s14_multi_exec_is_atomic_on_replicas() {
    let (m, r1, _r2) = trio();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = m.port;
    let s2 = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut con = redis::Client::open(format!("redis://:{PASS}@127.0.0.1:{port}/0"))
            .unwrap()
            .get_connection()
            .unwrap();
        let mut n = 0;
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            let _: Value = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg("tx:a")
                .cmd("INCR")
                .arg("tx:b")
                .cmd("RPUSH")
                .arg("tx:l")
                .arg(n)
                .query(&mut con)
                .unwrap();
            n += 1;
        }
        n
    });
    let mut con = r1.new_con();
    let t = Instant::now();
    let mut reads = 0;
    while t.elapsed() < Duration::from_secs(2) {
        let (a, b, len): (Option<i64>, Option<i64>, i64) = redis::pipe()
            .atomic()
            .cmd("GET")
            .arg("tx:a")
            .cmd("GET")
            .arg("tx:b")
            .cmd("LLEN")
            .arg("tx:l")
            .query(&mut con)
            .unwrap();
        assert_eq!(a, b, "a replica showed half a transaction");
        assert_eq!(a.unwrap_or(0), len, "a replica showed half a transaction");
        reads += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let n = writer.join().unwrap();
    assert!(n > 100 && reads > 100, "{n} transactions, {reads} reads");
    wait_synced(&m, &r1);
    assert_eq!(r1.text(&["GET", "tx:a"]), n.to_string());
}

#[test]
fn s14_blocking_pops_served_by_pushes_replicate() {
    let (m, r1, r2) = trio();
    let port = m.port;
    let mut waiters = Vec::new();
    for (i, cmd) in ["BLPOP", "BRPOP", "BLMOVE"].iter().enumerate() {
        let cmd = cmd.to_string();
        waiters.push(std::thread::spawn(move || {
            let mut con = redis::Client::open(format!("redis://:{PASS}@127.0.0.1:{port}/0"))
                .unwrap()
                .get_connection()
                .unwrap();
            let mut c = redis::cmd(&cmd);
            c.arg(format!("q{i}"));
            if cmd == "BLMOVE" {
                c.arg("moved").arg("LEFT").arg("RIGHT");
            }
            c.arg(10);
            let v: Value = c.query(&mut con).unwrap();
            v
        }));
    }
    let blocked = wait_until(Duration::from_secs(5), || {
        m.info_field("clients", "blocked_clients").as_deref() == Some("3")
    });
    assert!(blocked, "{}", m.info("clients"));
    for i in 0..3 {
        assert_eq!(m.text(&["RPUSH", &format!("q{i}"), "a", "b", "c"]), "3");
    }
    for w in waiters {
        assert!(!matches!(w.join().unwrap(), Value::Nil));
    }
    wait_synced(&m, &r1);
    wait_synced(&m, &r2);
    for r in [&r1, &r2] {
        for i in 0..3 {
            let key = format!("q{i}");
            assert_eq!(
                r.text(&["LRANGE", &key, "0", "-1"]),
                m.text(&["LRANGE", &key, "0", "-1"])
            );
        }
        assert_eq!(r.text(&["LRANGE", "moved", "0", "-1"]), "[a]");
    }
    assert_eq!(m.text(&["LRANGE", "q0", "0", "-1"]), "[b, c]");
    assert_eq!(m.text(&["LRANGE", "q1", "0", "-1"]), "[a, b]");
    assert_same_digest(&[&m, &r1, &r2]);
}

#[test]
fn evicted_keys_reach_replicas_as_del() {
    let (m, r1, _r2) = trio_with(
        NodeOpts::seed(engine())
            .with("maxmemory", "20mb")
            .with("maxmemory-policy", "allkeys-random")
            .with("repl-backlog-size", "1mb"),
    );
    let mut con = m.new_con();
    let v = "e".repeat(1000);
    for chunk in 0..80 {
        let mut p = redis::pipe();
        for i in 0..500 {
            p.cmd("SET")
                .arg(format!("ev:{}", chunk * 500 + i))
                .arg(&v)
                .ignore();
        }
        // A write may still be refused (OOM) while eviction catches up: Redis does that too.
        let _ = p.query::<()>(&mut con);
    }
    assert!(stat(&m, "evicted_keys") > 0, "nothing evicted");
    wait_synced(&m, &r1);
    assert_eq!(r1.text(&["DBSIZE"]), m.text(&["DBSIZE"]));
    assert_same_digest(&[&m, &r1]);
}

#[test]
fn s12_s8_full_sync_and_partial_resync_under_heavy_writes() {
    let k = engine();
    let m = Node::start(NodeOpts::seed(k));
    preload(&m, 40_000);
    // ~5,000 writes a second: 50-command pipelines, 100 a second.
    let w = Writer::start_batched(&m, 100, 50);
    w.wait_more(2_000);
    let mut r = Node::start(NodeOpts::seed_replica(k, m.port));
    wait_synced_under_load(&m, &r);
    w.wait_more(3_000);
    let before = syncs(&m);
    r.shutdown();
    w.wait_more(3_000);
    r.restart();
    assert!(wait_until(Duration::from_secs(20), || syncs(&m).1 > before.1));
    w.wait_more(3_000);
    let model = finish(w, &m, &[&r]);
    let after = syncs(&m);
    assert_eq!(after.0, before.0, "sync_full {before:?} -> {after:?}");
    assert!(model.acked > 10_000, "{}", model.acked);
}
