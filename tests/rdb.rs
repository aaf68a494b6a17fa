//! RDB persistence against Debian's redis-server 7.0: dumps interchangeable both ways (DEBUG
//! DIGEST equal), corrupt dumps refused without touching the file, crash safety of BGSAVE,
//! clients served during BGSAVE, saving at shutdown (S10: a restarted node reloads its data).

mod common;

use common::Kind;
use redis::ConnectionLike;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A server from the shared harness in a fixed dir; SIGKILLed with its process group (any
/// BGSAVE child included) on drop.
struct Proc {
    srv: common::Server,
    port: u16,
}

impl Proc {
    /// Starts a server in `dir` (the harness retries a port taken by another test).
    fn start(redis: bool, dir: &Path, extra: &[&str]) -> Proc {
        let kind = if redis { Kind::Redis } else { Kind::Redrepl };
        let srv = common::Server::builder(kind)
            .dir(dir)
            .debug_command(true)
            .args(&["--bind", "127.0.0.1", "--logfile", "server.log"])
            .args(extra)
            .start();
        Proc {
            port: srv.port,
            srv,
        }
    }

    fn con(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection()
            .unwrap()
    }

    fn cmd(&self, args: &[&str]) -> redis::Value {
        let mut c = redis::cmd(args[0]);
        for a in &args[1..] {
            c.arg(*a);
        }
        c.query(&mut self.con()).unwrap()
    }

    fn text(&self, args: &[&str]) -> String {
        match self.cmd(args) {
            redis::Value::SimpleString(s) => s,
            redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
            redis::Value::Int(i) => i.to_string(),
            redis::Value::Okay => "OK".into(),
            other => format!("{other:?}"),
        }
    }

    fn digest(&self) -> String {
        self.text(&["DEBUG", "DIGEST"])
    }

    fn kill_group(&mut self) {
        self.srv.kill9();
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.srv.wait_exit(timeout)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// Fills a server with every type in both of Redis 7.0's encodings, in several databases,
/// with expiries. Only redis-server has the collection commands it needs.
fn fill_everything(p: &Proc) {
    let mut con = p.con();
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg("int").arg("12345").ignore();
    pipe.cmd("SET").arg("neg").arg("-70000").ignore();
    pipe.cmd("SET")
        .arg("big-int")
        .arg("9223372036854775807")
        .ignore();
    pipe.cmd("SET").arg("raw").arg("hello world").ignore();
    pipe.cmd("SET")
        .arg("lzf")
        .arg("abcabcabc".repeat(50))
        .ignore();
    pipe.cmd("SET")
        .arg("bin")
        .arg(vec![0u8, 1, 2, 255, 13, 10])
        .ignore();
    pipe.cmd("SET")
        .arg("ttl")
        .arg("v")
        .arg("EX")
        .arg(10000)
        .ignore();
    pipe.cmd("RPUSH")
        .arg("list-small")
        .arg(&["a", "1", "-2", "300", "70000", "4294967296", "x"])
        .ignore();
    for i in 0..2000 {
        pipe.cmd("RPUSH")
            .arg("list-big")
            .arg(format!("element-{i}"))
            .ignore();
        pipe.cmd("SADD")
            .arg("set-big")
            .arg(format!("m{i}"))
            .ignore();
        pipe.cmd("SADD")
            .arg("set-intset-big")
            .arg(i * 1000)
            .ignore();
        pipe.cmd("HSET")
            .arg("hash-big")
            .arg(format!("f{i}"))
            .arg(i)
            .ignore();
        pipe.cmd("ZADD")
            .arg("zset-big")
            .arg(i as f64 * 0.5)
            .arg(format!("m{i}"))
            .ignore();
    }
    pipe.cmd("RPUSH")
        .arg("list-long-elem")
        .arg("y".repeat(10000))
        .ignore();
    pipe.cmd("SADD")
        .arg("set-int")
        .arg(&["1", "2", "-3", "100000"])
        .ignore();
    pipe.cmd("SADD")
        .arg("set-str")
        .arg(&["a", "b", "c"])
        .ignore();
    pipe.cmd("HSET")
        .arg("hash-small")
        .arg(&["f1", "v1", "f2", "2", "f3", "-3"])
        .ignore();
    pipe.cmd("HSET")
        .arg("hash-long-value")
        .arg("f")
        .arg("z".repeat(100))
        .ignore();
    pipe.cmd("ZADD")
        .arg("zset-small")
        .arg(&["1.5", "a", "2", "b", "-3", "c", "inf", "d"])
        .ignore();
    pipe.cmd("EXPIRE").arg("hash-small").arg(5000).ignore();
    pipe.cmd("SELECT").arg(5).ignore();
    pipe.cmd("SET").arg("in-db5").arg("five").ignore();
    pipe.cmd("RPUSH").arg("list-db5").arg(&["p", "q"]).ignore();
    pipe.cmd("SELECT").arg(15).ignore();
    pipe.cmd("SET").arg("in-db15").arg("fifteen").ignore();
    pipe.query::<()>(&mut con).unwrap();
}

fn sha(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn redis_dump_loads_into_redrepl_and_back_with_equal_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    for d in [&a, &b, &c] {
        std::fs::create_dir(d).unwrap();
    }
    let redis = Proc::start(true, &a, &["--save", ""]);
    fill_everything(&redis);
    let want = redis.digest();
    assert_ne!(want, "0".repeat(40));
    assert_eq!(redis.text(&["SAVE"]), "OK");
    drop(redis);

    std::fs::copy(a.join("dump.rdb"), b.join("dump.rdb")).unwrap();
    let ours = Proc::start(false, &b, &["--save", ""]);
    assert_eq!(
        ours.digest(),
        want,
        "redrepl's dataset after loading redis-server's dump"
    );
    assert_eq!(ours.text(&["DBSIZE"]), "19", "keys in db 0");
    let ttl: i64 = ours.text(&["TTL", "ttl"]).parse().unwrap();
    assert!(ttl > 9000, "TTL kept: {ttl}");
    assert_eq!(ours.text(&["SAVE"]), "OK");
    drop(ours);

    std::fs::copy(b.join("dump.rdb"), c.join("dump.rdb")).unwrap();
    let back = Proc::start(true, &c, &["--save", ""]);
    assert_eq!(
        back.digest(),
        want,
        "redis-server's dataset after loading redrepl's dump"
    );
    let check = Command::new("redis-check-rdb")
        .arg(b.join("dump.rdb"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "redis-check-rdb: {}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn uncompressed_and_unchecksummed_dumps_load_in_redis() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let ours = Proc::start(
        false,
        &a,
        &[
            "--save",
            "",
            "--rdbcompression",
            "no",
            "--rdbchecksum",
            "no",
        ],
    );
    ours.cmd(&["SET", "k", &"x".repeat(1000)]);
    ours.cmd(&["SET", "n", "42"]);
    let want = ours.digest();
    ours.cmd(&["SAVE"]);
    let bytes = std::fs::read(a.join("dump.rdb")).unwrap();
    assert_eq!(
        &bytes[bytes.len() - 8..],
        &[0u8; 8],
        "rdbchecksum no writes a zero checksum"
    );
    assert!(
        bytes.windows(1000).any(|w| w.iter().all(|&c| c == b'x')),
        "rdbcompression no stores raw"
    );
    drop(ours);
    std::fs::copy(a.join("dump.rdb"), b.join("dump.rdb")).unwrap();
    let redis = Proc::start(true, &b, &["--save", ""]);
    assert_eq!(redis.digest(), want);
}

#[test]
fn corrupt_or_truncated_dumps_stop_start_up_and_stay_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let ours = Proc::start(false, &src, &["--save", ""]);
    for i in 0..50 {
        ours.cmd(&[
            "SET",
            &format!("key{i}"),
            &format!("value-{i}-{}", "v".repeat(i)),
        ]);
    }
    ours.cmd(&["SAVE"]);
    drop(ours);
    let good = std::fs::read(src.join("dump.rdb")).unwrap();

    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for cut in [
        1usize,
        5,
        9,
        20,
        good.len() / 3,
        good.len() / 2,
        good.len() - 9,
        good.len() - 1,
    ] {
        cases.push((format!("truncated at {cut}"), good[..cut].to_vec()));
    }
    for at in [9usize, good.len() / 2, good.len() - 5] {
        let mut bad = good.clone();
        bad[at] ^= 0x5a;
        cases.push((format!("byte {at} flipped"), bad));
    }
    for (what, bytes) in cases {
        let dir = tmp.path().join(what.replace(' ', "_"));
        std::fs::create_dir(&dir).unwrap();
        let dump = dir.join("dump.rdb");
        std::fs::write(&dump, &bytes).unwrap();
        let log = common::Server::builder(Kind::Redrepl)
            .dir(&dir)
            .args(&["--bind", "127.0.0.1"])
            .start_fails();
        assert!(
            log.contains("byte offset"),
            "{what}: log does not say where: {log}"
        );
        assert_eq!(sha(&dump), bytes, "{what}: the dump was modified");
    }
}

#[test]
fn shutdown_saves_with_save_points_and_nosave_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().to_path_buf();
    let mut p = Proc::start(
        false,
        &dir,
        &["--save", "3600 1", "--dbfilename", "dump6379.rdb"],
    );
    p.cmd(&["SET", "survives", "restart"]);
    let _ = p.con().req_command(&redis::cmd("SHUTDOWN"));
    assert!(
        p.wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    let p = Proc::start(
        false,
        &dir,
        &["--save", "3600 1", "--dbfilename", "dump6379.rdb"],
    );
    assert_eq!(
        p.text(&["GET", "survives"]),
        "restart",
        "S10: data reloaded after restart"
    );
    p.cmd(&["SET", "lost", "yes"]);
    let mut p = p;
    let _ = p.con().req_command(redis::cmd("SHUTDOWN").arg("NOSAVE"));
    assert!(p.wait_exit(Duration::from_secs(10)).is_some());
    let mut p = Proc::start(
        false,
        &dir,
        &["--save", "3600 1", "--dbfilename", "dump6379.rdb"],
    );
    assert_eq!(p.cmd(&["GET", "lost"]), redis::Value::Nil);
    p.cmd(&["SET", "sigterm", "saved"]);
    // SAFETY: signalling our own child.
    p.srv.signal(libc::SIGTERM);
    assert!(
        p.wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    let p = Proc::start(
        false,
        &dir,
        &["--save", "3600 1", "--dbfilename", "dump6379.rdb"],
    );
    assert_eq!(p.text(&["GET", "sigterm"]), "saved");
}

fn load_keys(p: &Proc, n: usize, prefix: &str) {
    let mut con = p.con();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.cmd("SET")
                .arg(format!("{prefix}:{i}"))
                .arg(format!("value-{i}"))
                .ignore();
        }
        pipe.query::<()>(&mut con).unwrap();
    }
}

fn bgsave_running(p: &Proc) -> bool {
    p.text(&["INFO", "persistence"])
        .contains("rdb_bgsave_in_progress:1")
}

#[test]
fn kill_9_during_bgsave_leaves_the_previous_dump_loadable() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Proc::start(false, tmp.path(), &["--save", ""]);
    load_keys(&p, 1000, "old");
    p.cmd(&["SAVE"]);
    let before = std::fs::read(tmp.path().join("dump.rdb")).unwrap();
    load_keys(&p, 300_000, "new");
    assert_eq!(p.text(&["BGSAVE"]), "Background saving started");
    std::thread::sleep(Duration::from_millis(20));
    p.kill_group();
    let after = std::fs::read(tmp.path().join("dump.rdb")).unwrap();
    if after != before {
        // The child finished before the kill: then the new dump must be whole.
        let p = Proc::start(false, tmp.path(), &["--save", ""]);
        assert_eq!(p.text(&["DBSIZE"]), "301000");
        return;
    }
    let p = Proc::start(false, tmp.path(), &["--save", ""]);
    assert_eq!(p.text(&["DBSIZE"]), "1000", "the previous dump loads whole");
}

#[test]
fn clients_are_served_while_bgsave_writes_a_million_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Proc::start(false, tmp.path(), &["--save", ""]);
    load_keys(&p, 1_000_000, "k");
    let mut con = p.con();
    assert_eq!(p.text(&["BGSAVE"]), "Background saving started");
    let mut worst = Duration::ZERO;
    let mut gets = 0;
    let started = Instant::now();
    while bgsave_running(&p) && started.elapsed() < Duration::from_secs(120) {
        let t = Instant::now();
        let v: String = redis::cmd("GET")
            .arg(format!("k:{}", gets % 1_000_000))
            .query(&mut con)
            .unwrap();
        worst = worst.max(t.elapsed());
        assert_eq!(v, format!("value-{}", gets % 1_000_000));
        gets += 1;
    }
    assert!(!bgsave_running(&p), "BGSAVE did not finish");
    assert!(
        p.text(&["INFO", "persistence"])
            .contains("rdb_last_bgsave_status:ok")
    );
    assert!(gets > 10, "only {gets} GETs were answered during BGSAVE");
    assert!(
        worst < Duration::from_secs(1),
        "a GET waited {worst:?} during BGSAVE"
    );
    drop(p);
    let p = Proc::start(false, tmp.path(), &["--save", ""]);
    assert_eq!(p.text(&["DBSIZE"]), "1000000");
}

fn dump_of(p: &Proc, key: &str) -> Vec<u8> {
    match p.cmd(&["DUMP", key]) {
        redis::Value::BulkString(b) => b,
        other => panic!("DUMP {key}: {other:?}"),
    }
}

#[test]
fn dump_payloads_restore_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let redis = Proc::start(true, &a, &["--save", ""]);
    let ours = Proc::start(false, &b, &["--save", ""]);
    fill_everything(&redis);
    let keys = [
        "int",
        "raw",
        "lzf",
        "bin",
        "list-small",
        "list-big",
        "set-int",
        "set-big",
        "hash-long-value",
        "hash-big",
        "zset-small",
        "zset-big",
    ];
    let mut rc = redis.con();
    let mut oc = ours.con();
    for key in keys {
        let from_redis = dump_of(&redis, key);
        let _: () = redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(&from_redis)
            .query(&mut oc)
            .unwrap();
        let want: String = redis::cmd("DEBUG")
            .arg("DIGEST-VALUE")
            .arg(key)
            .query::<Vec<String>>(&mut rc)
            .unwrap()
            .remove(0);
        let got: String = redis::cmd("DEBUG")
            .arg("DIGEST-VALUE")
            .arg(key)
            .query::<Vec<String>>(&mut oc)
            .unwrap()
            .remove(0);
        assert_eq!(got, want, "{key}: redis DUMP restored into redrepl");
        let from_us = dump_of(&ours, key);
        let _: () = redis::cmd("RESTORE")
            .arg(format!("{key}-back"))
            .arg(0)
            .arg(&from_us)
            .query(&mut rc)
            .unwrap();
        let back: String = redis::cmd("DEBUG")
            .arg("DIGEST-VALUE")
            .arg(format!("{key}-back"))
            .query::<Vec<String>>(&mut rc)
            .unwrap()
            .remove(0);
        assert_eq!(back, want, "{key}: redrepl DUMP restored into redis-server");
    }
    let payload = dump_of(&ours, "raw");
    let e = redis::cmd("RESTORE")
        .arg("raw")
        .arg(0)
        .arg(&payload)
        .query::<()>(&mut oc)
        .unwrap_err();
    assert!(e.to_string().contains("BUSYKEY"), "{e}");
    let mut bad = payload.clone();
    let n = bad.len();
    bad[n - 1] ^= 1;
    let e = redis::cmd("RESTORE")
        .arg("new")
        .arg(0)
        .arg(&bad)
        .arg("REPLACE")
        .query::<()>(&mut oc)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("DUMP payload version or checksum are wrong"),
        "{e}"
    );
    let _: () = redis::cmd("RESTORE")
        .arg("raw")
        .arg(5000)
        .arg(&payload)
        .arg("REPLACE")
        .query(&mut oc)
        .unwrap();
    let pttl: i64 = redis::cmd("PTTL").arg("raw").query(&mut oc).unwrap();
    assert!(pttl > 4000 && pttl <= 5000, "RESTORE ttl: {pttl}");
}

#[test]
fn a_save_point_triggers_a_background_save() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Proc::start(false, tmp.path(), &["--save", "1 2"]);
    p.cmd(&["SET", "a", "1"]);
    p.cmd(&["SET", "b", "2"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tmp.path().join("dump.rdb").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        tmp.path().join("dump.rdb").exists(),
        "no dump written after 2 changes with save 1 2"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while p
        .text(&["INFO", "persistence"])
        .contains("rdb_changes_since_last_save:2")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let info = p.text(&["INFO", "persistence"]);
    assert!(info.contains("rdb_changes_since_last_save:0"), "{info}");
    assert!(info.contains("rdb_last_bgsave_status:ok"), "{info}");
    let log = std::fs::read_to_string(tmp.path().join("server.log")).unwrap();
    assert!(
        log.contains("Background saving terminated with success"),
        "{log}"
    );
}

#[test]
fn debug_reload_keeps_the_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let dst = tmp.path().join("dst");
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(&dst).unwrap();
    let redis = Proc::start(true, &src, &["--save", ""]);
    fill_everything(&redis);
    let want = redis.digest();
    redis.cmd(&["SAVE"]);
    drop(redis);
    std::fs::copy(src.join("dump.rdb"), dst.join("dump.rdb")).unwrap();
    let p = Proc::start(false, &dst, &["--save", ""]);
    assert_eq!(p.text(&["DEBUG", "RELOAD"]), "OK");
    assert_eq!(p.digest(), want);
}

#[test]
fn writes_are_refused_with_misconf_after_a_failed_background_save() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vanishing");
    std::fs::create_dir(&dir).unwrap();
    // The log goes to stdout (null) so that the directory is empty and can be removed.
    let p = Proc::start(false, &dir, &["--save", "3600 1", "--logfile", ""]);
    std::fs::remove_dir(&dir).unwrap();
    p.cmd(&["SET", "k", "v"]);
    p.cmd(&["BGSAVE"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !p
        .text(&["INFO", "persistence"])
        .contains("rdb_last_bgsave_status:err")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let e = redis::cmd("SET")
        .arg("k2")
        .arg("v")
        .query::<()>(&mut p.con())
        .unwrap_err();
    assert!(e.to_string().contains("MISCONF"), "{e}");
    assert_eq!(p.text(&["GET", "k"]), "v", "reads still work");
    p.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]);
    p.cmd(&["SET", "k2", "v"]);
}

#[test]
fn bgsave_schedule_runs_after_the_current_save() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Proc::start(false, tmp.path(), &["--save", "", "--appendonly", "yes"]);
    load_keys(&p, 500_000, "k");
    let saves = |p: &Proc| -> u64 {
        let info = p.text(&["INFO", "persistence"]);
        info.lines()
            .find_map(|l| l.strip_prefix("rdb_saves:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let wait_saves = |p: &Proc, n: u64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while saves(p) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(saves(p) >= n, "{}", p.text(&["INFO", "persistence"]));
    };
    assert_eq!(p.text(&["BGSAVE"]), "Background saving started");
    // As Redis's bgsaveCommand: while an RDB child runs even SCHEDULE is refused; it queues
    // a save only behind another kind of child (an AOF rewrite).
    match redis::cmd("BGSAVE")
        .arg("SCHEDULE")
        .query::<String>(&mut p.con())
    {
        Err(e) => assert!(
            e.to_string()
                .contains("Background save already in progress"),
            "{e}"
        ),
        Ok(s) => assert_eq!(s, "Background saving started"),
    }
    wait_saves(&p, 1);
    let before = saves(&p);
    let rewrite = p.text(&["BGREWRITEAOF"]);
    assert!(
        rewrite.starts_with("Background append only file rewriting"),
        "{rewrite}"
    );
    match redis::cmd("BGSAVE").query::<String>(&mut p.con()) {
        Err(e) => {
            // The rewrite is still running: a plain BGSAVE is refused, SCHEDULE queues one
            // (or starts it, when the rewrite ended in between).
            assert!(
                e.to_string().contains("Another child process is active"),
                "{e}"
            );
            let scheduled = p.text(&["BGSAVE", "SCHEDULE"]);
            assert!(
                scheduled == "Background saving scheduled"
                    || scheduled == "Background saving started",
                "{scheduled}"
            );
        }
        Ok(s) => assert_eq!(s, "Background saving started"),
    }
    // The scheduled save runs once the rewrite is over.
    wait_saves(&p, before + 1);
}

/// An INFO persistence field as a number.
fn persistence_field(p: &Proc, name: &str) -> u64 {
    let info = p.text(&["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .trim()
        .parse()
        .unwrap()
}

/// Issue #17: `rdb_last_cow_size` and `aof_last_cow_size` report the memory the child's
/// copy-on-write took, as redis-server does (no exact figure: both engines report more
/// than zero after a BGSAVE and a BGREWRITEAOF while a writer changes every key).
#[test]
fn copy_on_write_of_the_children_is_reported_as_by_redis() {
    for redis in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let p = Proc::start(redis, tmp.path(), &["--save", "", "--appendonly", "yes"]);
        load_keys(&p, 100_000, "k");
        wait_no_child(&p);
        assert_eq!(persistence_field(&p, "rdb_last_cow_size"), 0);
        assert_eq!(p.text(&["BGSAVE"]), "Background saving started");
        load_keys(&p, 100_000, "k");
        wait_no_child(&p);
        assert_eq!(persistence_field(&p, "rdb_saves"), 1);
        assert!(
            persistence_field(&p, "rdb_last_cow_size") > 0,
            "redis {redis}"
        );
        assert_eq!(
            p.text(&["BGREWRITEAOF"]),
            "Background append only file rewriting started"
        );
        load_keys(&p, 100_000, "k");
        wait_no_child(&p);
        assert!(
            persistence_field(&p, "aof_last_cow_size") > 0,
            "redis {redis}"
        );
    }
}

/// Waits until no BGSAVE or AOF rewrite child runs.
fn wait_no_child(p: &Proc) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info = p.text(&["INFO", "persistence"]);
        if info.contains("rdb_bgsave_in_progress:0") && info.contains("aof_rewrite_in_progress:0") {
            return;
        }
        assert!(Instant::now() < deadline, "a child still runs: {info}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
