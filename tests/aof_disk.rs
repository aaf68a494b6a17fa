//! The AOF when the disk fails (issue #15), side by side with redis-server: a full disk
//! (a small tmpfs, grown again with a remount) refuses writes with `-MISCONF Errors writing
//! to the AOF file: ...` until a write succeeds; failed rewrites are counted, retried and
//! backed off; SHUTDOWN during the initial rewrite is refused unless FORCE.
//!
//! The tmpfs needs root (CI runs as root); without it the disk tests say so and return.

mod common;

use common::{Kind, Server, q};
use redis::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs mounted on a temp dir for one test; unmounted (lazily: a server may still hold
/// it) and removed on drop, also when the test fails.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// A tmpfs of `size` (mount's syntax, "1m"), or None when mounting is not allowed here.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Grows (or shrinks) the filesystem.
    fn resize(&self, size: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.path())
            .status()
            .unwrap();
        assert!(st.success(), "remount {size}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn info_field(s: &Server, field: &str) -> String {
    let text = match q(&mut s.conn(), &["INFO", "persistence"]) {
        Value::VerbatimString { text, .. } => text,
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        other => panic!("INFO: {other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .to_string()
}

/// A reply as text: `+OK`, `-MISCONF ...`, `$3 abc`.
fn reply(s: &Server, args: &[&str]) -> String {
    let raw = s.raw().request(args);
    String::from_utf8_lossy(&raw).trim_end().to_string()
}

fn digest(s: &Server) -> String {
    reply(s, &["DEBUG", "DIGEST"])
}

/// A value that does not compress (1.5 MB).
fn big_value() -> String {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..1_500_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// Full disk: the big SET is acknowledged (the write fails after it), then writes and PING
/// get MISCONF with strerror's text, reads work, `aof_last_write_status:err`; once the disk
/// has room the pending write goes through, writes work again, and a restart from the AOF
/// has the same dataset (the short write was cut, not left as garbage).
fn full_disk(kind: Kind) -> Vec<String> {
    let Some(fs) = Tmpfs::mount("1m") else {
        return Vec::new();
    };
    let args = ["--appendonly", "yes", "--appendfsync", "everysec"];
    let s = Server::builder(kind)
        .dir(fs.path())
        .debug_command(true)
        .args(&args)
        .start();
    let mut seen = Vec::new();
    let big = big_value();
    let mut c = s.conn();
    let v = q(&mut c, &["SET", "big", &big]);
    assert_eq!(v, Value::Okay, "{kind:?}");
    wait_until("a failed AOF write", || {
        info_field(&s, "aof_last_write_status") == "err"
    });
    seen.push(reply(&s, &["SET", "a", "b"]));
    seen.push(reply(&s, &["PING"]));
    seen.push(reply(&s, &["STRLEN", "big"]));
    seen.push(reply(&s, &["GET", "a"]));
    fs.resize("8m");
    wait_until("the AOF write to succeed again", || {
        info_field(&s, "aof_last_write_status") == "ok"
    });
    seen.push(reply(&s, &["SET", "a", "b"]));
    let log = s.log();
    assert!(
        log.contains("Short write while writing to the AOF file: (nwritten="),
        "{kind:?} log:\n{log}"
    );
    assert!(
        log.contains("AOF write error looks solved, Redis can write again."),
        "{kind:?} log:\n{log}"
    );
    let want = digest(&s);
    let mut s = s;
    s.raw().send(&common::resp(&[b"SHUTDOWN"]));
    assert!(
        s.wait_exit(Duration::from_secs(20)).is_some(),
        "{kind:?}: SHUTDOWN"
    );
    drop(c);
    drop(s);
    let s = Server::builder(kind)
        .dir(fs.path())
        .debug_command(true)
        .args(&args)
        .start();
    assert_eq!(
        digest(&s),
        want,
        "{kind:?}: dataset after restart from the AOF"
    );
    seen
}

#[test]
fn full_disk_refuses_writes_with_misconf_until_the_aof_write_succeeds() {
    let ours = full_disk(Kind::Redrepl);
    let theirs = full_disk(Kind::Redis);
    assert_eq!(ours, theirs);
    if !ours.is_empty() {
        assert_eq!(
            ours[0],
            "-MISCONF Errors writing to the AOF file: No space left on device"
        );
        assert_eq!(ours[4], "+OK");
    }
}

/// CONFIG SET appendonly yes on a disk too small for the base: every rewrite fails
/// (`aof_last_bgrewrite_status:err`, counted), is rescheduled, and after three failures the
/// retries are delayed; BGREWRITEAOF is never delayed and, once there is room, turns the AOF
/// on.
fn rewrite_backoff(kind: Kind) -> Vec<String> {
    let Some(fs) = Tmpfs::mount("1m") else {
        return Vec::new();
    };
    let s = Server::builder(kind)
        .dir(fs.path())
        .debug_command(true)
        .args(&["--rdbcompression", "no"])
        .start();
    let mut c = s.conn();
    q(&mut c, &["DEBUG", "POPULATE", "2000", "k", "1000"]);
    assert_eq!(
        q(&mut c, &["CONFIG", "SET", "appendonly", "yes"]),
        Value::Okay
    );
    wait_until("the rewrite limit", || {
        s.log()
            .contains("Background AOF rewrite has repeatedly failed and triggered the limit, will retry in 1 minutes")
    });
    let fields = [
        "aof_enabled",
        "aof_last_bgrewrite_status",
        "aof_rewrites",
        "aof_rewrites_consecutive_failures",
        "aof_rewrite_scheduled",
    ];
    let mut seen: Vec<String> = fields
        .iter()
        .map(|f| format!("{f}:{}", info_field(&s, f)))
        .collect();
    let log = s.log();
    assert_eq!(
        log.matches("Background AOF rewrite terminated with error")
            .count(),
        3,
        "{kind:?} log:\n{log}"
    );
    fs.resize("8m");
    seen.push(reply(&s, &["BGREWRITEAOF"]));
    wait_until("the AOF on", || {
        info_field(&s, "aof_rewrite_in_progress") == "0"
            && info_field(&s, "aof_last_bgrewrite_status") == "ok"
    });
    seen.extend(fields.iter().map(|f| format!("{f}:{}", info_field(&s, f))));
    seen.push(reply(&s, &["SET", "after", "1"]));
    seen
}

#[test]
fn failed_rewrites_are_rescheduled_then_backed_off_as_redis() {
    let ours = rewrite_backoff(Kind::Redrepl);
    let theirs = rewrite_backoff(Kind::Redis);
    assert_eq!(ours, theirs);
    if !ours.is_empty() {
        assert_eq!(ours[1], "aof_last_bgrewrite_status:err");
        assert_eq!(ours[3], "aof_rewrites_consecutive_failures:3");
        assert_eq!(ours[6], "aof_enabled:1");
    }
}

/// SHUTDOWN pipelined right after CONFIG SET appendonly yes (the initial rewrite cannot
/// have ended: children are reaped by the cron, not between two commands of a batch).
fn initial_rewrite_shutdown(kind: Kind) -> (Vec<String>, bool) {
    let mut s = Server::builder(kind).debug_command(true).start();
    let mut c = s.conn();
    q(&mut c, &["DEBUG", "POPULATE", "10000"]);
    let mut raw = s.raw();
    let mut req = common::resp(&[b"CONFIG", b"SET", b"appendonly", b"yes"]);
    req.extend(common::resp(&[b"SHUTDOWN"]));
    req.extend(common::resp(&[b"PING"]));
    raw.send(&req);
    let seen: Vec<String> = (0..3)
        .map(|_| {
            String::from_utf8_lossy(&raw.read_reply())
                .trim_end()
                .to_string()
        })
        .collect();
    assert_eq!(
        q(&mut c, &["CONFIG", "SET", "appendonly", "no"]),
        Value::Okay
    );
    let mut req = common::resp(&[b"CONFIG", b"SET", b"appendonly", b"yes"]);
    req.extend(common::resp(&[b"SHUTDOWN", b"FORCE"]));
    // No reply to read: SHUTDOWN exits without flushing what the batch queued.
    raw.send(&req);
    let exited = s.wait_exit(Duration::from_secs(20)).is_some();
    let log = s.log();
    for line in [
        "Writing initial AOF, can't exit.",
        "Errors trying to shut down the server. Check the logs for more information.",
        "Writing initial AOF. Exit anyway.",
        "There is a child rewriting the AOF. Killing it!",
    ] {
        assert!(log.contains(line), "{kind:?}: no {line:?} in\n{log}");
    }
    (seen, exited)
}

#[test]
fn shutdown_during_the_initial_rewrite_is_refused_unless_forced() {
    let ours = initial_rewrite_shutdown(Kind::Redrepl);
    let theirs = initial_rewrite_shutdown(Kind::Redis);
    assert_eq!(ours, theirs);
    assert_eq!(
        ours.0,
        [
            "+OK",
            "-ERR Errors trying to SHUTDOWN. Check logs.",
            "+PONG"
        ]
    );
    assert!(ours.1, "SHUTDOWN FORCE exits");
}

/// A write the AOF could not take (full disk) is in memory, so a rewrite's base would hold
/// it too: the pending buffer must not go into the new incr file as well, or the next load
/// applies it twice (an APPEND doubled). redrepl only: redis-server 7.0 has this bug (its
/// rewrite starts with the buffer pending and writes it into the new incr file later).
#[test]
fn a_write_pending_on_a_full_disk_is_not_applied_twice_after_a_rewrite() {
    let Some(fs) = Tmpfs::mount("1m") else {
        return;
    };
    let args = ["--appendonly", "yes", "--appendfsync", "everysec"];
    let mut s = Server::builder(Kind::Redrepl)
        .dir(fs.path())
        .debug_command(true)
        .args(&args)
        .start();
    // 1.5 MB that the 1 MB disk cannot take as an AOF command, but that an RDB base
    // (compressed) holds in a few KB.
    let value = "a".repeat(1_500_000);
    let mut r = s.raw();
    assert_eq!(r.request(&["APPEND", "k", &value]), b":1500000\r\n");
    wait_until("a failed AOF write", || {
        info_field(&s, "aof_last_write_status") == "err"
    });
    // Whether it starts or not, the rewrite must not lead to the APPEND applied twice.
    r.request(&["BGREWRITEAOF"]);
    wait_until("no rewrite running", || {
        info_field(&s, "aof_rewrite_in_progress") == "0"
    });
    fs.resize("8m");
    wait_until("the AOF write to succeed again", || {
        info_field(&s, "aof_last_write_status") == "ok"
    });
    s.raw().send(&common::resp(&[b"SHUTDOWN"]));
    assert!(s.wait_exit(Duration::from_secs(20)).is_some(), "SHUTDOWN");
    drop(r);
    drop(s);
    let s = Server::builder(Kind::Redrepl)
        .dir(fs.path())
        .args(&args)
        .start();
    assert_eq!(reply(&s, &["STRLEN", "k"]), ":1500000");
}
