//! Stream replication with Debian's redis-server 7.0, both directions: a consumer-group
//! workload (XADD with `*` and `~` trimming, XREADGROUP with and without NOACK, XACK,
//! XCLAIM, XAUTOCLAIM, XDEL, XGROUP) on the master; replicas end with equal digests and
//! equal groups, PELs and consumers (XINFO STREAM FULL, consumers' seen times aside: a
//! replica sets them when it applies the claim).
//!
//! "Ours" is `redrepl server`, or redis-server with `REDREPL_TEST_ENGINE=redis` (validation).

mod common;

use common::Kind;
use common::repl::*;
use redis::Value;

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
