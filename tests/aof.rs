//! The append-only file (issue #15): Redis 7.0's multi-part format read and written by both
//! engines (DEBUG DIGEST equal, redis-check-aof accepts ours), loading rules (truncated
//! tail, corruption, the old single file), BGREWRITEAOF and CONFIG SET appendonly.

mod common;

use common::{Kind, Server, q};
use redis::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A server of `kind` with the AOF on (`appendfsync always`) in `dir`.
fn aof_server(kind: Kind, dir: &Path, extra: &[&str]) -> Server {
    Server::builder(kind)
        .dir(dir)
        .debug_command(true)
        .args(&["--appendonly", "yes", "--appendfsync", "always"])
        .args(extra)
        .start()
}

fn digest(s: &Server) -> String {
    match q(&mut s.conn(), &["DEBUG", "DIGEST"]) {
        Value::SimpleString(d) => d,
        Value::BulkString(d) => String::from_utf8(d).unwrap(),
        other => panic!("DEBUG DIGEST: {other:?}"),
    }
}

/// Writes of every type, expiries, a transaction and several databases.
fn workload(s: &Server) {
    let mut c = s.conn();
    let cmds: &[&[&str]] = &[
        &["SET", "str", "hello"],
        &["SET", "num", "12"],
        &["INCRBY", "num", "30"],
        &["SET", "ttl", "v", "EX", "1000"],
        &["RPUSH", "list", "a", "b", "c", "d"],
        &["LPOP", "list"],
        &["SADD", "set", "x", "y", "z", "1", "2"],
        &["SADD", "intset", "1", "2", "3"],
        &["HSET", "hash", "f1", "v1", "f2", "v2"],
        &["ZADD", "zset", "1.5", "m1", "2", "m2", "-3", "m3"],
        &["XADD", "stream", "1-1", "f", "v"],
        &["XADD", "stream", "2-1", "g", "w"],
        &["XGROUP", "CREATE", "stream", "grp", "0"],
        &[
            "XREADGROUP",
            "GROUP",
            "grp",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "stream",
            ">",
        ],
        &["EXPIRE", "hash", "5000"],
        &["SELECT", "3"],
        &["SET", "in3", "three"],
        &["PFADD", "hll", "a", "b", "c"],
        &["SELECT", "0"],
        &["MULTI"],
        &["INCR", "num"],
        &["SET", "tx", "1"],
        &["EXEC"],
        &["DEL", "str"],
        &["SET", "str", "again"],
    ];
    for cmd in cmds {
        let v = q(&mut c, cmd);
        assert!(!matches!(v, Value::ServerError(_)), "{cmd:?}: {v:?}");
    }
}

/// Files of the AOF directory, sorted.
fn aof_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn manifest(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `INFO persistence`, as text.
fn persistence_info(s: &Server) -> String {
    match q(&mut s.conn(), &["INFO", "persistence"]) {
        Value::VerbatimString { text, .. } => text,
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        other => panic!("INFO: {other:?}"),
    }
}

/// One field of an INFO text.
fn field_of(info: &str, field: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .to_string()
}

fn info_field(s: &Server, field: &str) -> String {
    field_of(&persistence_info(s), field)
}

/// No rewrite running or scheduled, read from one INFO (two reads could straddle the start
/// of a scheduled rewrite).
fn rewrite_done(s: &Server) -> bool {
    rewrites_done(s, None)
}

/// [`rewrite_done`], and (when given) `aof_rewrites` (rewrites started) equal to `started`,
/// all from one INFO.
fn rewrites_done(s: &Server, started: Option<&str>) -> bool {
    let info = persistence_info(s);
    field_of(&info, "aof_rewrite_in_progress") == "0"
        && field_of(&info, "aof_rewrite_scheduled") == "0"
        && started.is_none_or(|n| field_of(&info, "aof_rewrites") == n)
}

/// Writes the workload with `writer`, stops it, loads the directory with `reader`: same
/// digest. `rewrite` adds a BGREWRITEAOF in the middle.
fn interchange(writer: Kind, reader: Kind, extra: &[&str], rewrite: bool) -> PathBuf {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let want = {
        let s = aof_server(writer, &dir, extra);
        workload(&s);
        if rewrite {
            assert_eq!(
                q(&mut s.conn(), &["BGREWRITEAOF"]),
                Value::SimpleString("Background append only file rewriting started".into())
            );
            wait_until("the rewrite", || rewrite_done(&s));
            q(&mut s.conn(), &["SET", "after-rewrite", "1"]);
            q(&mut s.conn(), &["RPUSH", "list", "tail"]);
        }
        let d = digest(&s);
        let mut s = s;
        s.kill9();
        d
    };
    let s = aof_server(reader, &dir, extra);
    assert_eq!(
        digest(&s),
        want,
        "{writer:?} -> {reader:?} {extra:?} rewrite={rewrite}: files {:?}\nlog:\n{}",
        aof_files(&dir),
        s.log()
    );
    drop(s);
    // Keep the directory for the caller's checks.
    let kept = tmp.keep();
    assert_eq!(kept, dir);
    dir
}

fn check_aof(dir: &Path) -> (bool, String) {
    let out = Command::new("redis-check-aof")
        .arg(dir.join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .expect("run redis-check-aof");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn redis_written_aof_loads_in_redrepl_with_equal_digest() {
    for (extra, rewrite) in [
        (&[][..], false),
        (&[][..], true),
        (&["--aof-use-rdb-preamble", "no"][..], true),
        (&["--aof-timestamp-enabled", "yes"][..], false),
    ] {
        let dir = interchange(Kind::Redis, Kind::Redrepl, extra, rewrite);
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn redrepl_written_aof_loads_in_redis_and_passes_redis_check_aof() {
    for (extra, rewrite) in [
        (&[][..], false),
        (&[][..], true),
        (&["--aof-use-rdb-preamble", "no"][..], true),
        (&["--aof-timestamp-enabled", "yes"][..], false),
    ] {
        let dir = interchange(Kind::Redrepl, Kind::Redis, extra, rewrite);
        let (ok, out) = check_aof(&dir);
        assert!(ok, "redis-check-aof refused ours ({extra:?}):\n{out}");
        assert!(
            out.contains("All AOF files and manifest are valid"),
            "{out}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// The incr file holds the commands exactly as Redis appends them (SELECT on a database
/// change, absolute expiries, MULTI/EXEC): byte for byte the same as redis-server's.
#[test]
fn incr_file_bytes_match_redis() {
    let mut files = Vec::new();
    for kind in [Kind::Redis, Kind::Redrepl] {
        let tmp = tempfile::tempdir().unwrap();
        let s = aof_server(kind, tmp.path(), &[]);
        let mut c = s.conn();
        for cmd in [
            &["SET", "a", "1"][..],
            &["SELECT", "2"],
            &["SET", "b", "2"],
            &["SELECT", "0"],
            &["SET", "c", "3", "PXAT", "99999999999999"],
            &["EXPIREAT", "a", "99999999999"],
            &["MULTI"],
            &["INCR", "a"],
            &["RPUSH", "l", "x"],
            &["EXEC"],
            &["GET", "a"],
        ] {
            q(&mut c, cmd);
        }
        files.push(
            std::fs::read(tmp.path().join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap(),
        );
    }
    assert_eq!(
        String::from_utf8_lossy(&files[1]),
        String::from_utf8_lossy(&files[0])
    );
}

/// A relative expiry is written as the absolute form replication uses (SET ... PXAT).
#[test]
fn relative_expiry_is_written_absolute() {
    let tmp = tempfile::tempdir().unwrap();
    let s = aof_server(Kind::Redrepl, tmp.path(), &[]);
    q(&mut s.conn(), &["SET", "k", "v", "EX", "100"]);
    let incr = std::fs::read_to_string(tmp.path().join("appendonlydir/appendonly.aof.1.incr.aof"))
        .unwrap();
    assert!(incr.contains("PXAT"), "{incr:?}");
    assert!(!incr.contains("EX\r\n"), "{incr:?}");
}

#[test]
fn start_creates_base_incr_and_manifest_as_redis() {
    let tmp = tempfile::tempdir().unwrap();
    let s = aof_server(Kind::Redrepl, tmp.path(), &[]);
    assert_eq!(
        manifest(tmp.path()),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    let log = s.log();
    assert!(
        log.contains("Creating AOF base file appendonly.aof.1.base.rdb on server start"),
        "{log}"
    );
    assert!(
        log.contains("Creating AOF incr file appendonly.aof.1.incr.aof on server start"),
        "{log}"
    );
    assert_eq!(info_field(&s, "aof_enabled"), "1");
    assert_eq!(info_field(&s, "aof_last_write_status"), "ok");
    q(&mut s.conn(), &["SET", "k", "v"]);
    let size: u64 = info_field(&s, "aof_current_size").parse().unwrap();
    let base: u64 = info_field(&s, "aof_base_size").parse().unwrap();
    let on_disk: u64 = ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"]
        .iter()
        .map(|f| {
            std::fs::metadata(tmp.path().join("appendonlydir").join(f))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(size, on_disk);
    assert!(base > 0 && base < size);
    // With the AOF on, an RDB in dir is not loaded (as Redis).
    drop(s);
}

#[test]
fn truncated_tail_is_cut_with_redis_log_lines_or_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let mut s = aof_server(Kind::Redrepl, dir, &[]);
        q(&mut s.conn(), &["SET", "kept", "1"]);
        q(&mut s.conn(), &["SET", "lost", "2"]);
        s.kill9();
    }
    let incr = dir.join("appendonlydir/appendonly.aof.1.incr.aof");
    // SELECT 0 (23 bytes) and SET kept 1 (30 bytes) stay.
    let kept_len = 23 + 30;
    let len = std::fs::metadata(&incr).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&incr).unwrap();
    f.set_len(len - 3).unwrap();
    drop(f);
    let refused = Server::builder(Kind::Redrepl)
        .dir(dir)
        .args(&["--appendonly", "yes", "--aof-load-truncated", "no"])
        .start_fails();
    assert!(
        refused.contains(
            "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"
        ),
        "{refused}"
    );
    let s = aof_server(Kind::Redrepl, dir, &[]);
    let log = s.log();
    for line in [
        "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!"
            .to_string(),
        format!("!!! Truncating the AOF appendonly.aof.1.incr.aof at offset {kept_len} !!!"),
        "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled"
            .to_string(),
    ] {
        assert!(log.contains(&line), "missing {line:?} in\n{log}");
    }
    let mut c = s.conn();
    assert_eq!(
        q(&mut c, &["GET", "kept"]),
        Value::BulkString(b"1".to_vec())
    );
    assert_eq!(q(&mut c, &["GET", "lost"]), Value::Nil);
    // The file was cut: the next write follows whole commands.
    q(&mut c, &["SET", "after", "3"]);
    let (ok, out) = check_aof(dir);
    assert!(ok, "{out}");
}

#[test]
fn corruption_in_the_middle_refuses_start_with_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let mut s = aof_server(Kind::Redrepl, dir, &[]);
        q(&mut s.conn(), &["SET", "a", "1"]);
        s.kill9();
    }
    let incr = dir.join("appendonlydir/appendonly.aof.1.incr.aof");
    let mut bytes = std::fs::read(&incr).unwrap();
    let good = bytes.len();
    bytes.extend_from_slice(b"garbage*1\r\n$4\r\nPING\r\n");
    std::fs::write(&incr, bytes).unwrap();
    let out = Server::builder(Kind::Redrepl)
        .dir(dir)
        .args(&["--appendonly", "yes"])
        .start_fails();
    assert!(
        out.contains("Bad file format reading the append only file appendonly.aof.1.incr.aof: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "appendonly.aof.1.incr.aof is corrupted at offset {good}"
        )),
        "{out}"
    );
}

#[test]
fn old_single_file_aof_is_moved_into_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("appendonly.aof"),
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
    )
    .unwrap();
    let s = aof_server(Kind::Redrepl, dir, &[]);
    assert_eq!(
        q(&mut s.conn(), &["GET", "k"]),
        Value::BulkString(b"v".to_vec())
    );
    assert!(!dir.join("appendonly.aof").exists());
    assert_eq!(
        manifest(dir),
        "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    assert!(
        s.log().contains("Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir)."),
        "{}",
        s.log()
    );
}

#[test]
fn bgrewriteaof_swaps_the_manifest_and_deletes_history() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = aof_server(Kind::Redrepl, dir, &[]);
    workload(&s);
    let want = digest(&s);
    let mut c = s.conn();
    assert_eq!(
        q(&mut c, &["BGREWRITEAOF"]),
        Value::SimpleString("Background append only file rewriting started".into())
    );
    wait_until("the rewrite", || rewrite_done(&s));
    assert_eq!(info_field(&s, "aof_rewrites"), "1");
    assert_eq!(info_field(&s, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(
        manifest(dir),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert_eq!(
        aof_files(dir),
        [
            "appendonly.aof.2.base.rdb",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    let log = s.log();
    for line in [
        "Creating AOF incr file appendonly.aof.2.incr.aof on background rewrite",
        "Background append only file rewriting started by pid",
        "Background AOF rewrite terminated with success",
        "into appendonly.aof.2.base.rdb",
        "Removing the history file appendonly.aof.1.incr.aof in the background",
        "Background AOF rewrite finished successfully",
    ] {
        assert!(log.contains(line), "missing {line:?} in\n{log}");
    }
    // A BGSAVE while a rewrite runs, and the other way round: Redis's replies.
    q(&mut c, &["DEBUG", "SLEEP", "0"]);
    drop(c);
    let mut s = s;
    s.kill9();
    let s = aof_server(Kind::Redrepl, dir, &[]);
    assert_eq!(digest(&s), want);
}

/// BGREWRITEAOF with `appendonly no` writes a base and a manifest (no incr file) that a
/// later start with `appendonly yes` loads, as redis-server 7.0 does; an earlier AOF's
/// files become history and are deleted.
#[test]
fn bgrewriteaof_with_the_aof_off_writes_a_base_and_manifest_as_redis() {
    let mut seen = Vec::new();
    for kind in [Kind::Redrepl, Kind::Redis] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        // An earlier life with the AOF on leaves base 1, incr 1 and a manifest.
        let mut s = aof_server(kind, dir, &[]);
        q(&mut s.conn(), &["SET", "old", "1"]);
        s.kill9();
        let mut s = Server::builder(kind)
            .dir(dir)
            .debug_command(true)
            .args(&["--appendonly", "no"])
            .start();
        workload(&s);
        let want = digest(&s);
        assert_eq!(
            q(&mut s.conn(), &["BGREWRITEAOF"]),
            Value::SimpleString("Background append only file rewriting started".into())
        );
        wait_until("the rewrite", || rewrite_done(&s));
        assert_eq!(info_field(&s, "aof_last_bgrewrite_status"), "ok");
        let files = aof_files(dir);
        let text = manifest(dir);
        s.kill9();
        let s = aof_server(kind, dir, &[]);
        assert_eq!(digest(&s), want, "{kind:?}: the rewritten AOF loads");
        seen.push((files, text));
    }
    assert_eq!(
        seen[0], seen[1],
        "files and manifest: redrepl, then redis-server"
    );
    assert_eq!(
        seen[0].1, "file appendonly.aof.2.base.rdb seq 2 type b\n",
        "the new base alone"
    );
}

#[test]
fn rewrite_and_bgsave_never_run_together() {
    let tmp = tempfile::tempdir().unwrap();
    let s = aof_server(Kind::Redrepl, tmp.path(), &[]);
    let mut c = s.conn();
    // Enough data that the child runs for a while.
    q(&mut c, &["DEBUG", "POPULATE", "300000", "key", "100"]);
    assert_eq!(
        q(&mut c, &["BGSAVE"]),
        Value::SimpleString("Background saving started".into())
    );
    assert_eq!(
        q(&mut c, &["BGREWRITEAOF"]),
        Value::SimpleString("Background append only file rewriting scheduled".into())
    );
    assert_eq!(info_field(&s, "aof_rewrite_scheduled"), "1");
    wait_until("the scheduled rewrite", || rewrites_done(&s, Some("1")));
    assert_eq!(
        q(&mut c, &["BGREWRITEAOF"]),
        Value::SimpleString("Background append only file rewriting started".into())
    );
    let during = q(&mut c, &["BGREWRITEAOF"]);
    let bgsave = q(&mut c, &["BGSAVE"]);
    if info_field(&s, "aof_rewrite_in_progress") == "1" {
        assert_eq!(
            common::err_text(&during),
            "ERR Background append only file rewriting already in progress"
        );
    }
    if let Value::ServerError(_) = bgsave {
        assert_eq!(
            common::err_text(&bgsave),
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
        );
    }
    wait_until("the rewrite", || rewrite_done(&s));
}

#[test]
fn config_set_appendonly_at_run_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = Server::builder(Kind::Redrepl)
        .dir(dir)
        .debug_command(true)
        .start();
    let mut c = s.conn();
    q(&mut c, &["SET", "before", "1"]);
    assert_eq!(info_field(&s, "aof_enabled"), "0");
    assert_eq!(
        q(&mut c, &["CONFIG", "SET", "appendonly", "yes"]),
        Value::Okay
    );
    assert_eq!(info_field(&s, "aof_enabled"), "1");
    wait_until("the first rewrite", || {
        rewrite_done(&s) && info_field(&s, "aof_rewrites") == "1"
    });
    q(&mut c, &["SET", "after", "2"]);
    let want = digest(&s);
    assert_eq!(
        manifest(dir),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    assert_eq!(
        q(&mut c, &["CONFIG", "SET", "appendonly", "no"]),
        Value::Okay
    );
    assert_eq!(info_field(&s, "aof_enabled"), "0");
    q(&mut c, &["SET", "not-in-aof", "3"]);
    drop(c);
    drop(s);
    let s = aof_server(Kind::Redrepl, dir, &[]);
    assert_eq!(digest(&s), want);
}

#[test]
fn aof_directives_are_config_entries() {
    let s = Server::builder(Kind::Redrepl).start();
    let mut c = s.conn();
    let get = |c: &mut redis::Connection, n: &str| q(c, &["CONFIG", "GET", n]);
    assert_eq!(
        get(&mut c, "appendfsync"),
        Value::Array(vec![
            Value::BulkString(b"appendfsync".to_vec()),
            Value::BulkString(b"everysec".to_vec())
        ])
    );
    assert_eq!(
        q(&mut c, &["CONFIG", "SET", "appendfsync", "always"]),
        Value::Okay
    );
    let bad = q(&mut c, &["CONFIG", "SET", "appendfsync", "sometimes"]);
    assert_eq!(
        common::err_text(&bad),
        "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no"
    );
    let imm = q(&mut c, &["CONFIG", "SET", "appenddirname", "x"]);
    assert!(
        common::err_text(&imm).contains("can't set immutable config"),
        "{imm:?}"
    );
    let out = Server::builder(Kind::Redrepl)
        .args(&["--appenddirname", "a/b"])
        .start_fails();
    assert!(
        out.contains("appenddirname can't be a path, just a dirname"),
        "{out}"
    );
}
