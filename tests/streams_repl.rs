//! Stream replication with Debian's redis-server 7.0, both directions: a consumer-group
//! workload (XADD with `*` and `~` trimming, XREADGROUP with and without NOACK, XACK,
//! XCLAIM, XAUTOCLAIM, XDEL, XGROUP) on the master; replicas end with equal digests and
//! equal groups, PELs and consumers (XINFO STREAM FULL, consumers' seen times aside: a
//! replica sets them when it applies the claim). Chains master -> replica -> sub-replica
//! mixing both servers run the workload from several clients at once.
//!
//! "Ours" is `redrepl server`, or redis-server with `REDREPL_TEST_ENGINE=redis` (validation).

mod common;

use common::Kind;
use common::repl::*;
use redis::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Consumers' `seen-time` values become 0 (the only per-node times in XINFO STREAM FULL).
fn mask_seen(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut after = false;
            for it in items {
                let it = if after { Value::Int(0) } else { mask_seen(it) };
                after = matches!(&it, Value::BulkString(b) if b == b"seen-time");
                out.push(it);
            }
            Value::Array(out)
        }
        other => other,
    }
}

fn full(n: &Node, key: &str) -> Value {
    mask_seen(n.cmd(&["XINFO", "STREAM", key, "FULL", "COUNT", "0"]))
}

/// The first pending id of group `g`, if any.
fn first_pending(m: &Node, g: &str) -> Option<String> {
    match m.cmd(&["XPENDING", "s", g, "-", "+", "1"]) {
        Value::Array(rows) => rows.first().and_then(|r| match r {
            Value::Array(f) => Some(text(&f[0])),
            _ => None,
        }),
        _ => None,
    }
}

fn workload(m: &Node, rounds: usize) {
    m.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    m.cmd(&["XGROUP", "CREATE", "s", "g2", "0"]);
    for i in 0..rounds {
        let v = i.to_string();
        m.cmd(&["XADD", "s", "MAXLEN", "~", "120", "*", "f", &v]);
        m.cmd(&["XADD", "t", "MINID", "~", "0-1", "*", "n", &v]);
        if i % 3 == 0 {
            let c = format!("c{}", i % 4);
            m.cmd(&[
                "XREADGROUP",
                "GROUP",
                "g",
                &c,
                "COUNT",
                "2",
                "STREAMS",
                "s",
                ">",
            ]);
        }
        if i % 5 == 0 {
            m.cmd(&[
                "XREADGROUP",
                "GROUP",
                "g2",
                "d",
                "NOACK",
                "COUNT",
                "3",
                "STREAMS",
                "s",
                ">",
            ]);
        }
        if i % 7 == 0
            && let Some(id) = first_pending(m, "g")
        {
            m.cmd(&["XACK", "s", "g", &id]);
        }
        if i % 11 == 0
            && let Some(id) = first_pending(m, "g")
        {
            m.cmd(&["XCLAIM", "s", "g", "c9", "0", &id]);
        }
        if i % 13 == 0 {
            m.cmd(&["XAUTOCLAIM", "s", "g", "c8", "0", "0", "COUNT", "2"]);
        }
        if i % 17 == 0
            && let Some(id) = first_pending(m, "g")
        {
            m.cmd(&["XDEL", "s", &id]);
        }
        if i % 19 == 0 {
            m.cmd(&["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0"]);
        }
    }
    m.cmd(&["XTRIM", "s", "MAXLEN", "~", "60"]);
    m.cmd(&["XGROUP", "CREATECONSUMER", "s", "g", "late"]);
    m.cmd(&["XGROUP", "DELCONSUMER", "s", "g", "c2"]);
    m.cmd(&["XGROUP", "SETID", "s", "g2", "$"]);
    m.cmd(&["XAUTOCLAIM", "s", "g", "c7", "0", "0", "COUNT", "100"]);
}

/// redis-server master, one redis-server replica and one of ours: ours ends equal to the
/// reference replica (and its digest to the master's).
#[test]
fn redis_master_to_our_replica_groups_and_pels_equal() {
    let m = Node::start(NodeOpts::seed(Kind::Redis));
    let theirs = Node::start(NodeOpts::seed_replica(Kind::Redis, m.port));
    let ours = Node::start(NodeOpts::seed_replica(engine(), m.port));
    wait_synced(&m, &theirs);
    wait_synced(&m, &ours);
    workload(&m, 400);
    wait_synced(&m, &theirs);
    wait_synced(&m, &ours);
    assert_same_digest(&[&m, &theirs, &ours]);
    for key in ["s", "t"] {
        assert_eq!(full(&ours, key), full(&theirs, key), "{key}");
    }
}

/// Our master, a redis-server replica: the replica's groups, PELs and consumers equal the
/// master's, entries-read included (we stream XGROUP SETID after every group read).
#[test]
fn our_master_to_redis_replica_groups_and_pels_equal() {
    let m = Node::start(NodeOpts::seed(engine()));
    let r = Node::start(NodeOpts::seed_replica(Kind::Redis, m.port));
    wait_synced(&m, &r);
    workload(&m, 400);
    wait_synced(&m, &r);
    assert_same_digest(&[&m, &r]);
    for key in ["s", "t"] {
        assert_eq!(full(&m, key), full(&r, key), "{key}");
    }
}

/// A full sync after the workload (the stream types in the RDB stream) gives the same.
#[test]
fn full_sync_of_streams_to_our_replica() {
    let m = Node::start(NodeOpts::seed(Kind::Redis));
    workload(&m, 150);
    let ours = Node::start(NodeOpts::seed_replica(engine(), m.port));
    wait_synced(&m, &ours);
    assert_same_digest(&[&m, &ours]);
    assert_eq!(full(&ours, "s"), full(&m, "s"));
}

/// The ids of every pending entry of group `g` of stream `s`.
fn pending_ids(n: &Node, g: &str) -> Vec<String> {
    match n.cmd(&["XPENDING", "s", g, "-", "+", "100000"]) {
        Value::Array(rows) => rows
            .iter()
            .map(|r| match r {
                Value::Array(f) => text(&f[0]),
                other => panic!("pending row {other:?}"),
            })
            .collect(),
        other => panic!("XPENDING {other:?}"),
    }
}

/// The entry ids of a one-stream XREADGROUP reply (RESP2).
fn delivered_ids(reply: &Value) -> Vec<String> {
    let entries = match reply {
        Value::Array(streams) => match streams.first() {
            Some(Value::Array(kv)) => kv.get(1),
            _ => None,
        },
        _ => None,
    };
    match entries {
        Some(Value::Array(es)) => es
            .iter()
            .map(|e| match e {
                Value::Array(x) => text(&x[0]),
                other => panic!("entry {other:?}"),
            })
            .collect(),
        _ => panic!("reply {reply:?}"),
    }
}

/// Failover: a replica of ours and a redis-server replica of one redis-server master are both
/// promoted (REPLICAOF NO ONE) after the consumer-group workload. Ours keeps the groups,
/// PELs and last-delivered ids the master had, so a consumer reading new entries (`>`) gets
/// what the old master gives (the never-delivered entries, then the one added after the
/// failover): nothing pending or acked comes again. XINFO GROUPS equals the promoted redis-server replica's: Redis 7.0's
/// replicas (and ours, as they) can show `entries-read`/`lag` as nil where the master counted
/// them (seen side by side with redis-server after XDEL in the group's range), so the
/// reference for XINFO GROUPS is the promoted redis-server replica, not the old master.
#[test]
fn promoted_replica_continues_the_groups_without_redelivery() {
    let m = Node::start(NodeOpts::seed(Kind::Redis));
    let theirs = Node::start(NodeOpts::seed_replica(Kind::Redis, m.port));
    let ours = Node::start(NodeOpts::seed_replica(engine(), m.port));
    wait_synced(&m, &theirs);
    wait_synced(&m, &ours);
    workload(&m, 200);
    wait_synced(&m, &theirs);
    wait_synced(&m, &ours);
    for n in [&theirs, &ours] {
        n.cmd(&["REPLICAOF", "NO", "ONE"]);
    }
    assert_eq!(full(&ours, "s"), full(&theirs, "s"));
    for n in [&m, &theirs, &ours] {
        n.cmd(&["XADD", "s", "9999999999999-1", "f", "after-failover"]);
    }
    // Entries already delivered (pending or acked) are at or below the group's last id.
    let pending_before = pending_ids(&ours, "g");
    let read = |n: &Node| n.cmd(&["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]);
    let (old, new) = (read(&m), read(&ours));
    assert_eq!(new, old);
    assert_eq!(new, read(&theirs));
    let delivered = delivered_ids(&new);
    assert_eq!(
        delivered.last().map(String::as_str),
        Some("9999999999999-1")
    );
    assert!(
        delivered.iter().all(|id| !pending_before.contains(id)),
        "a pending entry was delivered again: {delivered:?}"
    );
    for g in ["g", "g2"] {
        assert_eq!(
            ours.cmd(&["XPENDING", "s", g]),
            m.cmd(&["XPENDING", "s", g]),
            "{g}"
        );
    }
    assert_eq!(
        ours.cmd(&["XINFO", "GROUPS", "s"]),
        theirs.cmd(&["XINFO", "GROUPS", "s"])
    );
}

/// Runs one command of the chain workload; a server error fails the test.
fn run(c: &mut redis::Connection, args: &[&str]) -> Value {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// The first pending id of group `g` of stream `s`, over `c`.
fn first_pending_on(c: &mut redis::Connection, g: &str) -> Option<String> {
    match run(c, &["XPENDING", "s", g, "-", "+", "1"]) {
        Value::Array(rows) => rows.first().and_then(|r| match r {
            Value::Array(f) => Some(text(&f[0])),
            _ => None,
        }),
        _ => None,
    }
}

/// Client `w` of the chain workload: XADD (with `~` trimming), XREADGROUP (with and
/// without NOACK), XACK, XCLAIM (JUSTID too), XAUTOCLAIM, XDEL, XTRIM, XGROUP
/// DELCONSUMER and SETID on the shared stream `s`, and its own stream `t<w>`: at least
/// `rounds` rounds, and on until `stop`.
fn chain_client(mut c: redis::Connection, w: usize, rounds: usize, stop: &AtomicBool) {
    let t = format!("t{w}");
    for i in 0.. {
        if i >= rounds && stop.load(Ordering::Relaxed) {
            break;
        }
        let v = format!("{w}:{i}");
        run(&mut c, &["XADD", "s", "MAXLEN", "~", "200", "*", "f", &v]);
        run(&mut c, &["XADD", &t, "*", "n", &v]);
        let consumer = format!("c{w}{}", i % 4);
        if i % 3 == 0 {
            let args = ["XREADGROUP", "GROUP", "g", &consumer, "COUNT", "2"];
            run(&mut c, &[&args[..], &["STREAMS", "s", ">"]].concat());
        }
        if i % 5 == 0 {
            let d = format!("d{w}");
            let args = ["XREADGROUP", "GROUP", "g2", &d, "NOACK", "COUNT", "3"];
            run(&mut c, &[&args[..], &["STREAMS", "s", ">"]].concat());
        }
        if i % 7 == 0
            && let Some(id) = first_pending_on(&mut c, "g")
        {
            run(&mut c, &["XACK", "s", "g", &id]);
        }
        if i % 11 == 0
            && let Some(id) = first_pending_on(&mut c, "g")
        {
            let x = format!("x{w}");
            run(&mut c, &["XCLAIM", "s", "g", &x, "0", &id]);
            run(&mut c, &["XCLAIM", "s", "g", &consumer, "0", &id, "JUSTID"]);
        }
        if i % 13 == 0 {
            let a = format!("a{w}");
            run(
                &mut c,
                &["XAUTOCLAIM", "s", "g", &a, "0", "0", "COUNT", "2"],
            );
        }
        if i % 23 == 0
            && let Some(id) = first_pending_on(&mut c, "g")
        {
            run(&mut c, &["XDEL", "s", &id]);
        }
        if i % 29 == 0 {
            let gone = format!("c{w}{}", (i / 29) % 4);
            run(&mut c, &["XGROUP", "DELCONSUMER", "s", "g", &gone]);
        }
        if i % 31 == 0 && w == 0 {
            run(&mut c, &["XGROUP", "SETID", "s", "g2", "$"]);
        }
        if i % 37 == 0 {
            run(&mut c, &["XTRIM", "s", "MAXLEN", "~", "100"]);
            run(&mut c, &["XTRIM", &t, "MAXLEN", "50"]);
        }
    }
}

/// Clients running the chain workload at once.
const CHAIN_CLIENTS: usize = 3;

/// A chain master -> replica -> sub-replica of the given kinds. Clients run the
/// consumer-group workload on the master at once, and go on until the sub-replica has made
/// its full sync from the replica and is online; at the end all three have equal digests and equal streams, groups,
/// PELs and consumers (XINFO STREAM FULL, seen times masked).
fn chain(kinds: [Kind; 3]) {
    let m = Node::start(NodeOpts::seed(kinds[0]));
    let r = Node::start(NodeOpts::seed_replica(kinds[1], m.port));
    wait_synced(&m, &r);
    m.cmd(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    m.cmd(&["XGROUP", "CREATE", "s", "g2", "0"]);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CHAIN_CLIENTS)
        .map(|w| {
            let (c, stop) = (m.new_con(), stop.clone());
            std::thread::spawn(move || chain_client(c, w, 300, &stop))
        })
        .collect();
    let sub = Node::start(NodeOpts::seed_replica(kinds[2], r.port));
    wait_synced_under_load(&r, &sub);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("a workload client failed");
    }
    wait_synced(&m, &r);
    wait_synced(&r, &sub);
    assert_same_digest(&[&m, &r, &sub]);
    let keys = ["s", "t0", "t1", "t2"];
    assert_eq!(keys.len(), CHAIN_CLIENTS + 1);
    for key in keys {
        // The sub-replica equals the replica it is chained to.
        let replica = full(&r, key);
        let got = full(&sub, key);
        assert!(
            got == replica,
            "{key}: sub-replica {:?} and replica {:?}: {}",
            sub.kind,
            r.kind,
            first_difference(&got, &replica, "")
        );
        // Both equal the master, but for the groups' entries-read and lag when the master
        // is redis-server: Redis 7.0 does not replicate its entries-read counters, so its
        // replicas show nil where it counted (ours streams them, see the test above).
        let (mut want, mut got) = (full(&m, key), replica);
        if m.kind == Kind::Redis {
            (want, got) = (mask_entries_read(want), mask_entries_read(got));
        }
        assert!(
            got == want,
            "{key}: replica {:?} and master {:?}: {}",
            r.kind,
            m.kind,
            first_difference(&got, &want, "")
        );
    }
}

/// The groups' `entries-read` and `lag` values become nil.
fn mask_entries_read(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut after = false;
            for it in items {
                let it = if after {
                    Value::Nil
                } else {
                    mask_entries_read(it)
                };
                after = matches!(&it, Value::BulkString(b) if b == b"entries-read" || b == b"lag");
                out.push(it);
            }
            Value::Array(out)
        }
        other => other,
    }
}

#[test]
fn chain_redis_master_our_replica_redis_sub_replica_streams_equal() {
    chain([Kind::Redis, engine(), Kind::Redis]);
}

#[test]
fn chain_our_master_redis_replica_our_sub_replica_streams_equal() {
    chain([engine(), Kind::Redis, engine()]);
}

/// Where two replies first differ (a path of indexes, and the two values there).
fn first_difference(a: &Value, b: &Value, path: &str) -> String {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find(|(_, (p, q))| p != q)
            .map(|(i, (p, q))| {
                let label = match (i.checked_sub(1).map(|j| &x[j]), p) {
                    (Some(Value::BulkString(k)), _) => String::from_utf8_lossy(k).into_owned(),
                    _ => i.to_string(),
                };
                first_difference(p, q, &format!("{path}/{label}"))
            })
            .unwrap_or_default(),
        _ => format!("{path}: {a:?} != {b:?}"),
    }
}
