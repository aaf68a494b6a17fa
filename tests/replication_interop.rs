//! Replication interop with Debian's redis-server 7.0, both directions and mixed: redis-server
//! as replica of ours (full sync, streaming, partial resync after its restart); ours as replica
//! of redis-server with disk-based and diskless full sync, streaming of every data type,
//! MULTI/EXEC, SELECT, expiry DELs, PINGs and GETACK, partial resync after our restart; the
//! chain redis → ours → redis. Digests equal at the end of each.
//!
//! "Ours" is `redrepl server`, or redis-server with `REDREPL_TEST_ENGINE=redis` (validation).

mod common;

use common::Kind;
use common::repl::*;
use redis::{ConnectionLike, Value};
use std::time::{Duration, Instant};

const WRITE_RATE: u32 = 400;

fn stat(n: &Node, field: &str) -> i64 {
    n.info_int("stats", field)
}

fn ours() -> Kind {
    engine()
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

/// Runs a command on `con`, panicking on any error reply.
fn run(con: &mut redis::Connection, args: &[&str]) -> Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    let v = con
        .req_packed_command(&c.get_packed_command())
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    if let Some(e) = error_text(&v) {
        panic!("{args:?}: {e}");
    }
    v
}

/// A write stream touching every data type and encoding, TTLs, SELECT across dbs, MULTI/EXEC,
/// non-deterministic commands (SPOP, INCRBYFLOAT) and keys that expire on the master.
fn every_type_stream(master: &Node) {
    let mut c = master.new_con();
    let future = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 100_000)
        .to_string();
    let big = "b".repeat(300);
    let script: Vec<Vec<&str>> = vec![
        // strings
        vec!["SET", "str", "hello"],
        vec!["APPEND", "str", " world"],
        vec!["SETRANGE", "str", "0", "J"],
        vec!["INCRBY", "num", "5"],
        vec!["DECR", "num"],
        vec!["INCRBYFLOAT", "flt", "1.5"],
        vec!["INCRBYFLOAT", "flt", "0.1"],
        vec!["SETEX", "sx", "1000", "v"],
        vec!["MSET", "ma", "1", "mb", "2", "mc", "3"],
        vec!["SETNX", "ma", "9"],
        vec!["SET", "big", &big],
        vec!["GETSET", "mb", "22"],
        vec!["GETDEL", "mc"],
        // lists (listpack and quicklist)
        vec!["RPUSH", "lst", "a", "b", "c", "d"],
        vec!["LPUSH", "lst", "z"],
        vec!["LPOP", "lst"],
        vec!["RPOP", "lst"],
        vec!["LINSERT", "lst", "BEFORE", "b", "x"],
        vec!["LSET", "lst", "0", "q"],
        vec!["LMOVE", "lst", "lst2", "LEFT", "RIGHT"],
        vec!["LREM", "lst", "0", "x"],
        // hashes
        vec!["HSET", "hsh", "f1", "v1", "f2", "v2", "f3", "v3"],
        vec!["HINCRBY", "hsh", "n", "3"],
        vec!["HINCRBYFLOAT", "hsh", "fl", "2.5"],
        vec!["HDEL", "hsh", "f1"],
        vec!["HSETNX", "hsh", "f4", "v4"],
        // sets (intset and hashtable)
        vec!["SADD", "ints", "1", "2", "3", "4", "5"],
        vec!["SADD", "set", "a", "b", "c", "d", "e", "f"],
        vec!["SREM", "set", "a"],
        vec!["SPOP", "set"],
        vec!["SPOP", "ints", "2"],
        vec!["SMOVE", "set", "set2", "f"],
        vec!["SINTERSTORE", "set3", "set", "set"],
        // sorted sets
        vec!["ZADD", "zs", "1", "a", "2", "b", "3", "c", "4.5", "d"],
        vec!["ZINCRBY", "zs", "5", "a"],
        vec!["ZREM", "zs", "b"],
        vec!["ZPOPMIN", "zs"],
        vec!["ZADD", "zs", "10", "x", "11", "y"],
        vec!["ZREMRANGEBYSCORE", "zs", "11", "11"],
        // TTLs
        vec!["EXPIRE", "str", "1000"],
        vec!["PEXPIRE", "hsh", "500000"],
        vec!["PERSIST", "hsh"],
        vec!["EXPIREAT", "num", &future],
        vec!["SET", "gone1", "v", "PX", "100"],
        vec!["SET", "gone2", "v", "EX", "1"],
        vec!["PEXPIRE", "lst2", "150"],
        // keyspace
        vec!["RENAME", "ma", "ma2"],
        vec!["COPY", "zs", "zs-copy"],
        vec!["DEL", "mb"],
        vec!["UNLINK", "set2"],
        // other databases
        vec!["SELECT", "1"],
        vec!["SET", "db1:str", "one"],
        vec!["HSET", "db1:h", "a", "1"],
        vec!["SELECT", "2"],
        vec!["LPUSH", "db2:l", "x", "y"],
        vec!["ZADD", "db2:z", "1", "m"],
        vec!["SELECT", "3"],
        vec!["SET", "tmp", "v"],
        vec!["FLUSHDB"],
        vec!["SET", "db3:after-flush", "v"],
        vec!["SELECT", "0"],
        vec!["MOVE", "sx", "1"],
    ];
    for args in &script {
        run(&mut c, args);
    }
    // Bigger collections: quicklist, hashtable-encoded hash, skiplist zset, big set.
    let mut p = redis::pipe();
    for i in 0..300 {
        p.cmd("RPUSH")
            .arg("biglist")
            .arg(format!("{i}-{big}"))
            .ignore();
        p.cmd("HSET")
            .arg("bighash")
            .arg(format!("f{i}"))
            .arg(i)
            .ignore();
        p.cmd("ZADD")
            .arg("bigz")
            .arg(i)
            .arg(format!("m{i}"))
            .ignore();
        p.cmd("SADD").arg("bigset").arg(format!("m{i}")).ignore();
    }
    p.query::<()>(&mut c).unwrap();
    // MULTI/EXEC with a SELECT inside.
    let v: Value = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("tx:a")
        .arg("1")
        .cmd("INCR")
        .arg("tx:a")
        .cmd("SELECT")
        .arg(2)
        .cmd("RPUSH")
        .arg("tx:l")
        .arg("p")
        .arg("q")
        .cmd("SELECT")
        .arg(0)
        .cmd("ZADD")
        .arg("tx:z")
        .arg(1)
        .arg("a")
        .query(&mut c)
        .unwrap();
    assert!(matches!(v, Value::Array(_)), "EXEC: {v:?}");
}

/// Waits until the short-TTL keys of [`every_type_stream`] are gone on every node.
fn wait_expired(nodes: &[&Node]) {
    for n in nodes {
        // EXISTS hides logically expired keys; the digests compared afterwards (with retries)
        // cover the physical deletion by the master's DEL.
        let ok = wait_until(Duration::from_secs(10), || {
            ["gone1", "gone2", "lst2"]
                .iter()
                .all(|k| n.text(&["EXISTS", k]) == "0")
        });
        assert!(ok, "short-TTL keys still visible on {}", n.port);
    }
}

#[test]
fn redis_replica_of_ours_full_sync_streaming_and_psync_after_its_restart() {
    let m = Node::start(NodeOpts::seed(ours()));
    preload(&m, 20_000);
    let w = Writer::start_batched(&m, 100, 20);
    w.wait_more(100);
    let mut r = Node::start(NodeOpts::seed_replica(Kind::Redis, m.port));
    wait_synced_under_load(&m, &r);
    wait_log(&r, "MASTER <-> REPLICA sync: Finished with success");
    assert_eq!(stat(&m, "sync_full"), 1);
    w.wait_more(200);
    // Partial resync after the Redis replica's restart.
    let ok_before = stat(&m, "sync_partial_ok");
    r.shutdown();
    w.wait_more(200);
    r.restart();
    assert!(
        wait_until(Duration::from_secs(20), || stat(&m, "sync_partial_ok")
            > ok_before),
        "no partial resync; replica log:\n{}",
        tail(&r.log(), 20)
    );
    wait_log(&r, "Successful partial resynchronization with master");
    w.wait_more(200);
    finish(w, &m, &[&r]);
    assert_eq!(stat(&m, "sync_full"), 1);
}

#[test]
fn redis_replica_of_ours_streams_every_type_pings_and_getack() {
    let m = Node::start(NodeOpts::seed(ours()).with("repl-ping-replica-period", "1"));
    let r = Node::start(NodeOpts::seed_replica(Kind::Redis, m.port));
    wait_synced(&m, &r);
    every_type_stream(&m);
    wait_expired(&[&m, &r]);
    wait_synced(&m, &r);
    assert_same_digest(&[&m, &r]);
    // Our master asks the Redis replica for ACKs on WAIT (REPLCONF GETACK).
    let mut c = m.new_con();
    for i in 0..3 {
        run(&mut c, &["SET", "getack", &i.to_string()]);
        let t = Instant::now();
        let n: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut c).unwrap();
        assert_eq!(n, 1);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "WAIT took {:?}: no REPLCONF GETACK sent?",
            t.elapsed()
        );
    }
    // PINGs (period 1) keep flowing and the Redis replica keeps up.
    let o = m.info_int("replication", "master_repl_offset");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(m.info_int("replication", "master_repl_offset") >= o + 28);
    wait_synced(&m, &r);
    let io = r.info_int("replication", "master_last_io_seconds_ago");
    assert!(
        io <= 1,
        "master_last_io_seconds_ago {io} on the Redis replica"
    );
    assert_same_digest(&[&m, &r]);
}

fn ours_replica_of_redis_full_sync(diskless: bool) {
    let m = Node::start(
        NodeOpts::seed(Kind::Redis).with("repl-diskless-sync", if diskless { "yes" } else { "no" }),
    );
    preload(&m, 30_000);
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(100);
    let r = Node::start(NodeOpts::seed_replica(ours(), m.port));
    w.wait_more(300);
    finish(w, &m, &[&r]);
    assert_eq!(stat(&m, "sync_full"), 1);
    wait_log(
        &m,
        if diskless {
            "Starting BGSAVE for SYNC with target: replicas sockets"
        } else {
            "Starting BGSAVE for SYNC with target: disk"
        },
    );
    wait_log(
        &m,
        &format!("Synchronization with replica {} succeeded", r.addr()),
    );
    assert!(r.path().join(format!("dump{}.rdb", r.port)).exists());
}

#[test]
fn ours_replica_of_redis_disk_based_full_sync() {
    ours_replica_of_redis_full_sync(false);
}

#[test]
fn ours_replica_of_redis_diskless_full_sync() {
    ours_replica_of_redis_full_sync(true);
}

#[test]
fn ours_replica_of_redis_streams_every_type_pings_and_getack() {
    let m = Node::start(NodeOpts::seed(Kind::Redis).with("repl-ping-replica-period", "1"));
    let r = Node::start(NodeOpts::seed_replica(ours(), m.port));
    wait_synced(&m, &r);
    every_type_stream(&m);
    wait_expired(&[&m, &r]);
    wait_synced(&m, &r);
    assert_same_digest(&[&m, &r]);
    // GETACK: WAIT makes the master ask for an ACK at once; without an answer to
    // REPLCONF GETACK it would wait for the replica's once-a-second ACK.
    let mut c = m.new_con();
    for i in 0..3 {
        run(&mut c, &["SET", "getack", &i.to_string()]);
        let t = Instant::now();
        let n: i64 = redis::cmd("WAIT").arg(1).arg(5000).query(&mut c).unwrap();
        assert_eq!(n, 1);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "WAIT took {:?}: REPLCONF GETACK not answered?",
            t.elapsed()
        );
    }
    // PINGs (period 1) are applied: the replica's offset follows the master's with no writes.
    let o = m.info_int("replication", "master_repl_offset");
    std::thread::sleep(Duration::from_millis(2500));
    assert!(m.info_int("replication", "master_repl_offset") >= o + 28);
    wait_synced(&m, &r);
    let io = r.info_int("replication", "master_last_io_seconds_ago");
    assert!(io <= 1, "master_last_io_seconds_ago {io}");
    assert_same_digest(&[&m, &r]);
}

#[test]
fn ours_replica_of_redis_partial_resync_after_our_restart() {
    let m = Node::start(NodeOpts::seed(Kind::Redis));
    let mut r = Node::start(NodeOpts::seed_replica(ours(), m.port));
    wait_synced(&m, &r);
    let w = Writer::start_batched(&m, 100, 20);
    w.wait_more(200);
    let (full, ok) = (stat(&m, "sync_full"), stat(&m, "sync_partial_ok"));
    r.shutdown();
    w.wait_more(200);
    r.restart();
    assert!(
        wait_until(Duration::from_secs(20), || stat(&m, "sync_partial_ok") > ok),
        "no partial resync; master log:\n{}\nour log:\n{}",
        tail(&m.log(), 20),
        tail(&r.log(), 20)
    );
    wait_log(
        &m,
        &format!(
            "Partial resynchronization request from {} accepted",
            r.addr()
        ),
    );
    w.wait_more(200);
    finish(w, &m, &[&r]);
    assert_eq!(stat(&m, "sync_full"), full);
}

#[test]
fn chain_redis_ours_redis() {
    let m = Node::start(NodeOpts::seed(Kind::Redis));
    preload(&m, 10_000);
    let mid = Node::start(NodeOpts::seed_replica(ours(), m.port));
    let end = Node::start(NodeOpts::seed_replica(Kind::Redis, mid.port));
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(300);
    every_type_stream(&m);
    assert_eq!(
        error_text(&mid.cmd(&["SET", "x", "y"])).as_deref(),
        Some("READONLY You can't write against a read only replica.")
    );
    w.wait_more(200);
    let model = w.stop();
    wait_synced(&m, &mid);
    wait_synced(&mid, &end);
    wait_expired(&[&m, &mid, &end]);
    assert_same_digest(&[&m, &mid, &end]);
    for n in [&m, &mid, &end] {
        model.verify(n);
    }
    let id = m.info_field("replication", "master_replid").unwrap();
    assert_eq!(mid.info_field("replication", "master_replid").unwrap(), id);
    assert_eq!(end.info_field("replication", "master_replid").unwrap(), id);
}

fn kinds_label(k: Kind) -> &'static str {
    match k {
        Kind::Redis => "redis",
        Kind::Redrepl => "redrepl",
    }
}

/// S10 mixed: the master (`mk`) restarts after SHUTDOWN; the replica (`rk`) continues by PSYNC
/// against the master's new ID (replid2 = the old one) and catches up.
fn master_restart_replica_continues(mk: Kind, rk: Kind) {
    let mut m = Node::start(NodeOpts::seed(mk));
    let r = Node::start(NodeOpts::seed_replica(rk, m.port));
    wait_synced(&m, &r);
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(300);
    let model = finish(w, &m, &[&r]);
    let old_id = m.info_field("replication", "master_replid").unwrap();
    m.shutdown();
    assert!(wait_until(Duration::from_secs(10), || r
        .info_field("replication", "master_link_status")
        .as_deref()
        == Some("down")));
    m.restart();
    wait_synced(&m, &r);
    let new_id = m.info_field("replication", "master_replid").unwrap();
    assert_eq!(
        m.info_field("replication", "master_replid2").unwrap(),
        old_id
    );
    assert_eq!(
        (stat(&m, "sync_full"), stat(&m, "sync_partial_ok")),
        (0, 1),
        "{} master restarted, {} replica",
        kinds_label(mk),
        kinds_label(rk)
    );
    // The replica switched to the master's new ID and keeps the old one as replid2.
    assert_eq!(
        r.info_field("replication", "master_replid").unwrap(),
        new_id
    );
    assert_eq!(
        r.info_field("replication", "master_replid2").unwrap(),
        old_id
    );
    model.verify(&r);
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(300);
    finish(w, &m, &[&r]);
}

#[test]
fn redis_replica_continues_by_psync_after_our_master_restarts() {
    master_restart_replica_continues(ours(), Kind::Redis);
}

#[test]
fn ours_replica_continues_by_psync_after_redis_master_restarts() {
    master_restart_replica_continues(Kind::Redis, ours());
}

/// S2/S3 mixed: a replica of kind `pk` is promoted; its sibling of kind `sk` is re-pointed to
/// it and continues by PSYNC thanks to replid2.
fn promotion_sibling_continues(pk: Kind, sk: Kind) {
    let mut m = Node::start(NodeOpts::seed(Kind::Redis));
    let p = Node::start(NodeOpts::seed_replica(pk, m.port));
    let s = Node::start(NodeOpts::seed_replica(sk, m.port));
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(300);
    let model = finish(w, &m, &[&p, &s]);
    // The master dies (S2): a live one could still send the sibling a PING after the
    // promotion, putting it one command past the promoted node's history (a full sync).
    m.kill9();
    assert_eq!(p.cmd(&["REPLICAOF", "NO", "ONE"]), Value::Okay);
    assert_eq!(s.replicaof(p.port), Value::Okay);
    wait_synced(&p, &s);
    assert_eq!(
        (stat(&p, "sync_full"), stat(&p, "sync_partial_ok")),
        (0, 1),
        "promoted {}, sibling {}",
        kinds_label(pk),
        kinds_label(sk)
    );
    let w = Writer::start(&p, WRITE_RATE);
    w.wait_more(300);
    finish(w, &p, &[&s]);
    model.verify(&s);
}

#[test]
fn ours_promoted_redis_sibling_continues_by_psync() {
    promotion_sibling_continues(ours(), Kind::Redis);
}

#[test]
fn redis_promoted_our_sibling_continues_by_psync() {
    promotion_sibling_continues(Kind::Redis, ours());
}

/// FAILOVER between a master of kind `mk` and a replica of kind `rk`, writes going on.
fn failover_mixed(mk: Kind, rk: Kind) {
    let m = Node::start(NodeOpts::seed(mk));
    let r = Node::start(NodeOpts::seed_replica(rk, m.port));
    wait_synced(&m, &r);
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(200);
    assert_eq!(m.cmd(&["FAILOVER", "TIMEOUT", "10000"]), Value::Okay);
    let swapped = wait_until(Duration::from_secs(15), || {
        r.info_field("replication", "role").as_deref() == Some("master")
            && m.info_field("replication", "role").as_deref() == Some("slave")
    });
    assert!(
        swapped,
        "FAILOVER {} -> {}: {}\n{}\nold master log:\n{}",
        kinds_label(mk),
        kinds_label(rk),
        m.info("replication"),
        r.info("replication"),
        tail(&m.log(), 20)
    );
    std::thread::sleep(Duration::from_millis(300));
    let model = w.stop();
    wait_synced(&r, &m);
    assert_same_digest(&[&m, &r]);
    model.verify(&m);
    model.verify(&r);
}

#[test]
fn failover_from_ours_to_redis_replica() {
    failover_mixed(ours(), Kind::Redis);
}

#[test]
fn failover_from_redis_to_our_replica() {
    failover_mixed(Kind::Redis, ours());
}

#[test]
fn redis_replica_of_ours_disk_based_full_sync() {
    let m = Node::start(NodeOpts::seed(ours()).with("repl-diskless-sync", "no"));
    preload(&m, 20_000);
    let w = Writer::start(&m, WRITE_RATE);
    w.wait_more(100);
    let r = Node::start(NodeOpts::seed_replica(Kind::Redis, m.port));
    w.wait_more(300);
    finish(w, &m, &[&r]);
    wait_log(&r, "MASTER <-> REPLICA sync: receiving");
    assert!(
        !r.log().contains("receiving streamed RDB"),
        "expected a length-prefixed (disk-based) transfer:\n{}",
        tail(&r.log(), 20)
    );
}
