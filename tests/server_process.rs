//! Process-level behaviour of `redrepl server`: the start-up banner (Redis's logo with the
//! PID line, or the "Running mode" line), the forked BGSAVE child's error reporting, and the
//! loading state (clients served while the dataset loads).

mod common;

use common::{Kind, Server, q};
use std::time::{Duration, Instant};

/// The logo block of a log: from the line with `_._` to the line after `PID:`'s block end.
fn logo_lines(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == "_._")
        .unwrap_or_else(|| panic!("no logo in:\n{log}"));
    lines[start..start + 17]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn always_show_logo_prints_redis_logo_with_version_mode_port_and_pid() {
    let ours = Server::start(&["--always-show-logo", "yes"]);
    let redis = Server::start_redis(&["--always-show-logo", "yes"]);
    let (a, b) = (logo_lines(&ours.log()), logo_lines(&redis.log()));
    let pid = ours.pid().unwrap();
    assert!(a[6].ends_with(&format!("|     PID: {pid}")), "{a:#?}");
    assert!(
        a[5].ends_with(&format!("|     Port: {}", ours.port)),
        "{a:#?}"
    );
    // Line for line as redis-server's, once the port and pid are its own.
    let normalize = |lines: &[String], port: u16, pid: u32| -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                l.replace(&format!("Port: {port}"), "Port: P")
                    .replace(&format!("PID: {pid}"), "PID: N")
            })
            .collect()
    };
    assert_eq!(
        normalize(&a, ours.port, pid),
        normalize(&b, redis.port, redis.pid().unwrap())
    );
    assert!(!ours.log().contains("Running mode="));
}

#[test]
fn without_the_logo_the_running_mode_line_is_logged() {
    let s = Server::start(&[]);
    let log = s.log();
    assert!(
        log.contains(&format!("* Running mode=standalone, port={}.", s.port)),
        "{log}"
    );
    assert!(!log.contains("PID:"), "{log}");
}

#[test]
fn a_failing_bgsave_child_logs_its_error_and_the_server_goes_on() {
    let s = Server::start(&["--enable-protected-configs", "yes"]);
    let mut c = s.conn();
    let gone = tempfile::tempdir().unwrap();
    let gone_path = gone.path().to_str().unwrap().to_string();
    assert_eq!(
        q(&mut c, &["CONFIG", "SET", "dir", &gone_path]),
        redis::Value::Okay
    );
    assert_eq!(q(&mut c, &["SET", "k", "v"]), redis::Value::Okay);
    // The working directory disappears: the child cannot create its temp file.
    drop(gone);
    let reply = q(&mut c, &["BGSAVE"]);
    assert_eq!(
        reply,
        redis::Value::SimpleString("Background saving started".into())
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = s.log();
        if log.contains("Background saving error") || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let child_line = log
        .lines()
        .find(|l| l.contains("Write error saving DB on disk"))
        .unwrap_or_else(|| panic!("no child error line:\n{log}"));
    // `<child pid>:C 27 Nov 2026 11:11:41.040 # Write error saving DB on disk: <strerror>`
    let (pid, rest) = child_line.split_once(":C ").expect("role C");
    assert_ne!(pid, s.pid().unwrap().to_string(), "{child_line}");
    assert!(pid.parse::<u32>().is_ok(), "{child_line}");
    assert!(
        rest.ends_with(" # Write error saving DB on disk: No such file or directory"),
        "{child_line}"
    );
    assert!(log.contains("Background saving error"), "{log}");
    assert_eq!(
        q(&mut c, &["PING"]),
        redis::Value::SimpleString("PONG".into())
    );
}

/// Keys in the dataset the loading tests restart with.
const LOADING_KEYS: usize = 20_000;

/// The reply to a command refused while the dataset loads.
const LOADING_ERR: &[u8] = b"-LOADING Redis is loading the dataset in memory\r\n";

/// Writes `LOADING_KEYS` keys into `dir` with a `kind` server: a dump (SAVE), or with `aof`
/// the append-only file (SETs in an incr file).
fn write_dataset(kind: Kind, dir: &std::path::Path, aof: bool) {
    let mut s = Server::builder(kind)
        .dir(dir)
        .args(&["--appendonly", if aof { "yes" } else { "no" }])
        .start();
    let mut c = s.conn();
    let mut pipe = redis::pipe();
    for i in 0..LOADING_KEYS {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    pipe.query::<()>(&mut c).unwrap();
    if !aof {
        assert_eq!(q(&mut c, &["SAVE"]), redis::Value::Okay);
    }
    // With the AOF, the SETs are in the incr file: SHUTDOWN flushes it.
    s.raw().send(&common::resp(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(s.wait_exit(Duration::from_secs(30)).is_some(), "{kind:?}");
}

/// INFO fields, in order.
type Fields = Vec<(String, String)>;

/// The `name:value` lines of an INFO section.
fn info_fields(reply: &[u8]) -> Fields {
    String::from_utf8_lossy(reply)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Restarts a `kind` server on a dataset that takes seconds to load (key-load-delay 100 µs a
/// key, clients served every KB) and checks what a client sees meanwhile and after.
/// Returns the INFO persistence field names seen during the load.
fn loading_state_seen_by_clients(kind: Kind, aof: bool) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(kind, dir.path(), aof);
    let s = Server::builder(kind)
        .dir(dir.path())
        .args(&[
            "--appendonly",
            if aof { "yes" } else { "no" },
            "--key-load-delay",
            "100",
            "--loading-process-events-interval-bytes",
            "1024",
        ])
        .ready_while_loading()
        .start();
    let mut r = s.raw();
    // The load takes at least 2 s, and clients are served in rounds (every KB of a dump,
    // every 1024 AOF commands, as Redis): each request below takes one of its ~20 rounds.
    assert_eq!(r.request(&["GET", "key:1"]), LOADING_ERR, "{kind:?}");
    assert_eq!(r.request(&["PING"]), LOADING_ERR, "{kind:?}");
    assert_eq!(r.request(&["DBSIZE"]), LOADING_ERR, "{kind:?}");
    // Commands with the `loading` flag run.
    assert!(
        r.request(&["CONFIG", "GET", "key-load-delay"])
            .ends_with(b"$3\r\n100\r\n"),
        "{kind:?}"
    );
    let info = info_fields(&r.request(&["INFO", "persistence"]));
    let field = |name: &str| {
        info.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{kind:?}: no {name} in {info:?}"))
    };
    assert_eq!(field("loading"), "1", "{kind:?}");
    assert_eq!(field("async_loading"), "0", "{kind:?}");
    let total: u64 = field("loading_total_bytes").parse().unwrap();
    let loaded: u64 = field("loading_loaded_bytes").parse().unwrap();
    assert!(total > 0 && loaded <= total, "{kind:?}: {info:?}");
    let perc: f64 = field("loading_loaded_perc").parse().unwrap();
    assert!((0.0..100.0).contains(&perc), "{kind:?}: {info:?}");
    let start: i64 = field("loading_start_time").parse().unwrap();
    assert!(start > 1_700_000_000, "{kind:?}: {info:?}");
    field("loading_eta_seconds").parse::<u64>().unwrap();
    // Then the load ends and every key is served.
    let deadline = Instant::now() + Duration::from_secs(120);
    while r.request(&["PING"]) != b"+PONG\r\n" {
        assert!(Instant::now() < deadline, "{kind:?}: still loading");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        r.request(&["DBSIZE"]),
        format!(":{LOADING_KEYS}\r\n").into_bytes(),
        "{kind:?}"
    );
    assert_eq!(r.request(&["GET", "key:1"]), b"$1\r\n1\r\n", "{kind:?}");
    let after = info_fields(&r.request(&["INFO", "persistence"]));
    assert!(after.contains(&("loading".into(), "0".into())), "{kind:?}");
    assert!(
        !after.iter().any(|(k, _)| k.starts_with("loading_")),
        "{kind:?}"
    );
    info.into_iter().map(|(k, _)| k).collect()
}

/// The INFO persistence fields from the first `loading_*` one: Redis's loading block, last
/// in the section. (The fields before it differ: redrepl shows the AOF's size fields only
/// once the AOF is open, after the load.)
fn loading_tail(fields: &[String]) -> Vec<String> {
    let at = fields
        .iter()
        .position(|f| f.starts_with("loading_"))
        .unwrap_or(fields.len());
    fields[at..].to_vec()
}

#[test]
fn clients_connected_while_a_dump_loads_get_loading_and_the_progress_as_from_redis() {
    let ours = loading_state_seen_by_clients(Kind::Redrepl, false);
    let theirs = loading_state_seen_by_clients(Kind::Redis, false);
    assert_eq!(loading_tail(&ours), loading_tail(&theirs));
}

#[test]
fn clients_connected_while_an_aof_loads_get_loading_and_the_progress_as_from_redis() {
    let ours = loading_state_seen_by_clients(Kind::Redrepl, true);
    let theirs = loading_state_seen_by_clients(Kind::Redis, true);
    assert_eq!(loading_tail(&ours), loading_tail(&theirs));
}

#[test]
fn shutdown_while_loading_exits_at_once_without_saving() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(Kind::Redrepl, dir.path(), false);
    let dump = dir.path().join("dump.rdb");
    let before = std::fs::read(&dump).unwrap();
    let mut s = Server::builder(Kind::Redrepl)
        .dir(dir.path())
        .args(&[
            "--save",
            "3600 1",
            "--key-load-delay",
            "100",
            "--loading-process-events-interval-bytes",
            "1024",
        ])
        .ready_while_loading()
        .start();
    let mut r = s.raw();
    assert_eq!(r.request(&["GET", "key:1"]), LOADING_ERR);
    r.send(&common::resp(&[b"SHUTDOWN"]));
    let status = s.wait_exit(Duration::from_secs(30)).expect("exited");
    assert!(status.success(), "{status}");
    // Not saved: the half-loaded dataset would have replaced the dump.
    assert_eq!(std::fs::read(&dump).unwrap(), before);
}

/// The value of `name` in INFO fields.
fn field_of(info: &[(String, String)], name: &str) -> String {
    info.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {name} in {info:?}"))
}

/// Sends `args` until the reply is not `skip` (the state it waits to leave); returns it.
fn request_until_not(r: &mut common::Raw, args: &[&str], skip: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = r.request(args);
        if got != skip {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "still {:?}",
            String::from_utf8_lossy(skip)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A redis-server master holding `LOADING_KEYS` keys and a `kind` replica of it (with
/// `extra` arguments) slowed down to load the snapshot in seconds (key-load-delay, clients
/// served every KB), returned once a client of the replica gets -LOADING.
fn replica_in_load(kind: Kind, extra: &[&str]) -> (Server, Server, common::Raw) {
    let master = Server::start_redis(&["--repl-diskless-sync-delay", "0"]);
    let mut c = master.conn();
    let mut pipe = redis::pipe();
    for i in 0..LOADING_KEYS {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    pipe.query::<()>(&mut c).unwrap();
    let mut args = vec![
        "--key-load-delay",
        "100",
        "--loading-process-events-interval-bytes",
        "1024",
    ];
    args.extend_from_slice(extra);
    let replica = Server::start_kind(kind, &args);
    let mut r = replica.raw();
    let port = master.port.to_string();
    assert_eq!(r.request(&["REPLICAOF", "127.0.0.1", &port]), b"+OK\r\n");
    // Before the snapshot is loaded the replica serves its (empty) data; then -LOADING.
    assert_eq!(
        request_until_not(&mut r, &["GET", "key:1"], b"$-1\r\n"),
        LOADING_ERR,
        "{kind:?}"
    );
    (master, replica, r)
}

/// What a client of a `kind` replica sees while it loads its master's snapshot and after.
/// Returns INFO persistence during the load.
fn replica_load_seen_by_clients(kind: Kind) -> Vec<(String, String)> {
    let (_master, _replica, mut r) = replica_in_load(kind, &[]);
    assert_eq!(r.request(&["PING"]), LOADING_ERR, "{kind:?}");
    let info = info_fields(&r.request(&["INFO", "persistence"]));
    let field = |name: &str| field_of(&info, name);
    assert_eq!(field("loading"), "1", "{kind:?}");
    let total: u64 = field("loading_total_bytes").parse().unwrap();
    let loaded: u64 = field("loading_loaded_bytes").parse().unwrap();
    assert!(total > 0 && loaded <= total, "{kind:?}: {info:?}");
    // The master's used_memory when it saved, from the snapshot's `used-mem` field.
    let used: u64 = field("loading_rdb_used_mem").parse().unwrap();
    assert!(used > 100_000, "{kind:?}: {info:?}");
    // Then the data.
    assert_eq!(
        request_until_not(&mut r, &["GET", "key:1"], LOADING_ERR),
        b"$1\r\n1\r\n",
        "{kind:?}"
    );
    assert_eq!(
        r.request(&["DBSIZE"]),
        format!(":{LOADING_KEYS}\r\n").into_bytes(),
        "{kind:?}"
    );
    let after = info_fields(&r.request(&["INFO", "persistence"]));
    assert_eq!(field_of(&after, "loading"), "0", "{kind:?}");
    assert_eq!(
        field_of(&after, "rdb_last_load_keys_loaded"),
        LOADING_KEYS.to_string(),
        "{kind:?}"
    );
    assert_eq!(
        field_of(&after, "rdb_last_load_keys_expired"),
        "0",
        "{kind:?}"
    );
    info
}

#[test]
fn a_replica_loading_its_masters_snapshot_answers_loading_and_the_progress_as_redis() {
    let ours = replica_load_seen_by_clients(Kind::Redrepl);
    let theirs = replica_load_seen_by_clients(Kind::Redis);
    let names = |info: &[(String, String)]| info.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(loading_tail(&names(&ours)), loading_tail(&names(&theirs)));
}

/// Keys of the used-mem test's dump that have expired when it is loaded.
const EXPIRED_KEYS: usize = 3;

/// A dump written by redis-server: `LOADING_KEYS` keys plus `EXPIRED_KEYS` keys whose TTL
/// has passed (saved with active expiry off).
fn write_dump_with_expired_keys(dir: &std::path::Path) {
    let mut s = Server::builder(Kind::Redis).dir(dir).start();
    let mut c = s.conn();
    let mut pipe = redis::pipe();
    for i in 0..LOADING_KEYS {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    pipe.cmd("DEBUG").arg("SET-ACTIVE-EXPIRE").arg(0).ignore();
    for i in 0..EXPIRED_KEYS {
        pipe.cmd("SET")
            .arg(format!("gone:{i}"))
            .arg(i)
            .arg("PX")
            .arg(1)
            .ignore();
    }
    pipe.query::<()>(&mut c).unwrap();
    // Until the TTLs have passed by the server's clock (any read of the keys, PTTL
    // included, would delete them).
    let now_ms = |c: &mut redis::Connection| {
        let (s, us): (u64, u64) = redis::cmd("TIME").query(c).unwrap();
        s * 1000 + us / 1000
    };
    let set_at = now_ms(&mut c);
    while now_ms(&mut c) < set_at + 5 {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(q(&mut c, &["SAVE"]), redis::Value::Okay);
    s.raw().send(&common::resp(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(s.wait_exit(Duration::from_secs(30)).is_some());
}

/// Starts `kind` on a copy of `dump` (slowed down): INFO persistence during the load and
/// after it.
/// The load's log lines about the snapshot (its AUX fields and the key counts), without
/// pid and time stamp; the age is masked (the two loads run at different times).
fn rdb_load_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once(" * ").map(|(_, m)| m))
        .filter(|m| {
            m.starts_with("Loading RDB")
                || m.starts_with("RDB ")
                || m.starts_with("Done loading RDB")
        })
        .map(|m| {
            if m.starts_with("RDB age ") {
                "RDB age <n> seconds".to_string()
            } else {
                m.to_string()
            }
        })
        .collect()
}

fn load_fields(kind: Kind, dump: &std::path::Path) -> (Fields, Fields, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(dump, dir.path().join("dump.rdb")).unwrap();
    let s = Server::builder(kind)
        .dir(dir.path())
        .args(&[
            "--key-load-delay",
            "100",
            "--loading-process-events-interval-bytes",
            "1024",
        ])
        .ready_while_loading()
        .start();
    let mut r = s.raw();
    assert_eq!(r.request(&["PING"]), LOADING_ERR, "{kind:?}");
    let during = info_fields(&r.request(&["INFO", "persistence"]));
    request_until_not(&mut r, &["PING"], LOADING_ERR);
    let after = info_fields(&r.request(&["INFO", "persistence"]));
    let lines = rdb_load_lines(&s.log());
    (during, after, lines)
}

#[test]
fn loading_rdb_used_mem_and_the_last_load_key_counts_are_those_of_redis() {
    let src = tempfile::tempdir().unwrap();
    write_dump_with_expired_keys(src.path());
    let dump = src.path().join("dump.rdb");
    let (ours, ours_after, ours_log) = load_fields(Kind::Redrepl, &dump);
    let (theirs, theirs_after, theirs_log) = load_fields(Kind::Redis, &dump);
    // The log lines users grep: version, age, memory, keys loaded and expired.
    assert!(theirs_log.len() >= 4, "{theirs_log:?}");
    assert_eq!(ours_log, theirs_log);
    // The used-mem AUX field of the same file.
    let used = field_of(&theirs, "loading_rdb_used_mem");
    assert!(used.parse::<u64>().unwrap() > 100_000, "{theirs:?}");
    assert_eq!(field_of(&ours, "loading_rdb_used_mem"), used);
    for after in [&ours_after, &theirs_after] {
        assert_eq!(
            field_of(after, "rdb_last_load_keys_loaded"),
            LOADING_KEYS.to_string()
        );
        assert_eq!(
            field_of(after, "rdb_last_load_keys_expired"),
            EXPIRED_KEYS.to_string()
        );
    }
    // Same fields in the same order (the values of times and sizes differ).
    let names = |info: &[(String, String)]| info.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours_after), names(&theirs_after));
}

/// A `kind` replica (with save points) gets SIGTERM while it loads its master's snapshot
/// (slowed down): it exits without saving, so the dump stays the master's snapshot.
fn sigterm_while_a_replica_loads(kind: Kind) {
    let (_master, mut replica, _r) = replica_in_load(kind, &["--save", "3600 1"]);
    let dump = replica.workdir.join("dump.rdb");
    let snapshot = std::fs::read(&dump).unwrap();
    replica.signal(libc::SIGTERM);
    assert!(
        replica.wait_exit(Duration::from_secs(30)).is_some(),
        "{kind:?}"
    );
    assert!(
        std::fs::read(&dump).unwrap() == snapshot,
        "{kind:?}: the dump was rewritten"
    );
}

#[test]
fn sigterm_while_a_replica_loads_its_masters_snapshot_exits_without_saving_as_redis() {
    sigterm_while_a_replica_loads(Kind::Redrepl);
    sigterm_while_a_replica_loads(Kind::Redis);
}
