//! The replication backlog as Redis 7.0 keeps it: a list of blocks that grows with traffic up
//! to `repl-backlog-size`, so an idle master with a large backlog does not hold it all; INFO's
//! repl_backlog_* fields, CONFIG SET repl-backlog-size, and partial resyncs from it.
//!
//! `REDREPL_TEST_ENGINE=redis` runs the nodes as Debian's redis-server 7.0 (how these tests
//! are validated against the reference).

mod common;

use common::repl::*;
use std::time::Duration;

const MB: i64 = 1 << 20;

/// (master_repl_offset, repl_backlog_first_byte_offset, repl_backlog_histlen, repl_backlog_size)
fn backlog(m: &Node) -> (i64, i64, i64, i64) {
    let info = m.info("replication");
    let f = |name: &str| -> i64 {
        parse_info_field(&info, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("INFO replication lacks {name}:\n{info}"))
    };
    (
        f("master_repl_offset"),
        f("repl_backlog_first_byte_offset"),
        f("repl_backlog_histlen"),
        f("repl_backlog_size"),
    )
}

/// The backlog holds exactly the stream bytes first_byte ..= master_repl_offset.
fn assert_consistent(m: &Node) {
    let (offset, first, histlen, _) = backlog(m);
    assert_eq!(
        first + histlen - 1,
        offset,
        "first_byte_offset {first} + histlen {histlen} - 1 != master_repl_offset {offset}"
    );
}

/// Stops the replica (SHUTDOWN saves its replication ID and offset), writes on the master
/// while it is away, restarts it and waits for a partial resync (not a full one).
fn drop_link_and_resume(m: &Node, r: &mut Node, tag: &str) {
    let (full, partial) = (
        m.info_int("stats", "sync_full"),
        m.info_int("stats", "sync_partial_ok"),
    );
    r.shutdown();
    for i in 0..50 {
        m.cmd(&["SET", &format!("{tag}:{i}"), &"x".repeat(100)]);
    }
    r.restart();
    let ok = wait_until(Duration::from_secs(20), || {
        m.info_int("stats", "sync_partial_ok") > partial
    });
    assert!(
        ok,
        "no partial resync after the link drop ({tag}); master log:\n{}",
        tail(&m.log(), 20)
    );
    wait_synced(m, r);
    assert_eq!(
        m.info_int("stats", "sync_full"),
        full,
        "a full sync happened"
    );
    assert_eq!(m.digest(), r.digest());
}

#[test]
fn idle_master_with_a_64mb_backlog_holds_far_less_and_partial_resync_works() {
    // The seed's settings include repl-backlog-size 64mb.
    let m = Node::start(NodeOpts::seed(engine()));
    let mut r = Node::start(NodeOpts::seed_replica(engine(), m.port));
    wait_synced(&m, &r);
    let (_, _, _, size) = backlog(&m);
    assert_eq!(size, 64 * MB);
    assert_eq!(m.info_int("replication", "repl_backlog_active"), 1);
    let used = m.info_int("memory", "used_memory");
    assert!(
        used < 16 * MB,
        "an idle master with one replica uses {used} bytes (the whole 64 MB backlog?)"
    );
    assert_consistent(&m);

    // Some traffic: the backlog grows by what was written, not to its size.
    let (before, _, hist_before, _) = backlog(&m);
    for i in 0..300 {
        m.cmd(&["SET", &format!("k{i}"), &"v".repeat(1000)]);
    }
    wait_synced(&m, &r);
    let (after, _, hist_after, _) = backlog(&m);
    assert_eq!(hist_after - hist_before, after - before);
    assert_consistent(&m);
    let used = m.info_int("memory", "used_memory");
    assert!(used < 16 * MB, "used_memory {used} after 300 KB of writes");
    // INFO memory names what the backlog holds: what was written, not its configured size.
    let mem = m.info_int("memory", "mem_replication_backlog");
    assert!(
        mem >= hist_after - hist_before && mem < 16 * MB,
        "mem_replication_backlog {mem} after 300 KB of writes"
    );

    drop_link_and_resume(&m, &mut r, "gap");
    assert_consistent(&m);
}

#[test]
fn config_set_repl_backlog_size_trims_and_keeps_partial_resync() {
    let m = Node::start(NodeOpts::seed(engine()));
    let mut r = Node::start(NodeOpts::seed_replica(engine(), m.port));
    wait_synced(&m, &r);
    for i in 0..400 {
        m.cmd(&["SET", &format!("k{i}"), &"v".repeat(1000)]);
    }
    wait_synced(&m, &r);
    let (_, _, histlen, _) = backlog(&m);
    assert!(histlen > 400_000, "histlen {histlen}");

    // Shrinking drops whole blocks from the front: what stays is at least the new size and
    // less than one more block (16 KB here; Redis's blocks are its allocator's 20 KB class).
    assert_eq!(
        m.text(&["CONFIG", "SET", "repl-backlog-size", "32768"]),
        "OK"
    );
    let ok = wait_until(Duration::from_secs(5), || {
        let (_, _, h, size) = backlog(&m);
        size == 32768 && (32768..32768 + 20480).contains(&h)
    });
    assert!(ok, "after the shrink: {:?}", backlog(&m));
    assert_consistent(&m);
    drop_link_and_resume(&m, &mut r, "small");

    // Growing lets the history grow again with the next writes.
    assert_eq!(m.text(&["CONFIG", "SET", "repl-backlog-size", "1mb"]), "OK");
    let (_, _, h0, _) = backlog(&m);
    for i in 0..200 {
        m.cmd(&["SET", &format!("g{i}"), &"w".repeat(1000)]);
    }
    wait_synced(&m, &r);
    let (_, _, h1, size) = backlog(&m);
    assert_eq!(size, MB);
    assert!(h1 > h0 + 200_000, "histlen {h0} -> {h1}");
    assert_consistent(&m);
    drop_link_and_resume(&m, &mut r, "grown");
}
