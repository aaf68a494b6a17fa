//! `rdb-save-incremental-fsync` / `aof-rewrite-incremental-fsync`: the forked child
//! flushes the file it writes every 4 MB (Redis's REDIS_AUTOSYNC_BYTES), so the kernel
//! never flushes the whole file at the final fsync. Seen with strace attached to the
//! server (and its fork), side by side with redis-server: redrepl calls fdatasync every
//! 4 MB; Debian's redis-server 7.0.15 starts the write-back of each 4 MB with
//! `sync_file_range(..., SYNC_FILE_RANGE_WRITE)` (then waits for the one before).

mod common;

use common::{Kind, Server, q};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bytes written between two fdatasyncs (Redis 7.0's REDIS_AUTOSYNC_BYTES).
const AUTOSYNC: u64 = 4 << 20;

/// strace attached to a process and the threads and children it forks; detached on drop.
struct Strace {
    child: Child,
    out: PathBuf,
}

impl Strace {
    /// Attaches to `pid`, tracing fsync, fdatasync and sync_file_range; returns once
    /// strace has attached.
    fn attach(pid: u32, out: &Path) -> Strace {
        let mut child = Command::new("strace")
            .args(["-f", "-e", "trace=fdatasync,fsync,sync_file_range", "-o"])
            .arg(out)
            .args(["-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("strace (apt-get install strace) is needed for this test");
        let stderr = child.stderr.take().unwrap();
        let mut trace = Strace {
            child,
            out: out.to_path_buf(),
        };
        let wanted = format!("Process {pid} attached");
        let mut lines = BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.contains(&wanted) => break,
                Some(Ok(_)) => {}
                _ => {
                    let _ = trace.child.wait();
                    panic!("strace could not attach to {pid}");
                }
            }
        }
        // The rest of its messages go nowhere (a full pipe must not stop it).
        std::thread::spawn(move || lines.for_each(drop));
        trace
    }

    /// Detaches; returns the calls seen, one a line.
    fn finish(mut self) -> Vec<String> {
        self.stop();
        let text = std::fs::read_to_string(&self.out).unwrap();
        text.lines()
            .filter(|l| l.contains("sync"))
            .map(str::to_string)
            .collect()
    }

    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            // SAFETY: signalling the strace we spawned; it detaches on SIGINT.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
            let _ = self.child.wait();
        }
    }
}

impl Drop for Strace {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An INFO persistence field as a number.
fn info_int(c: &mut redis::Connection, name: &str) -> i64 {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .trim()
        .parse()
        .unwrap()
}

/// What a fork does to a ~20 MB dataset.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Job {
    /// BGSAVE (`rdb-save-incremental-fsync`).
    Bgsave,
    /// BGREWRITEAOF (`aof-rewrite-incremental-fsync`).
    Rewrite,
}

/// Whether a traced call is the incremental flush of `kind` (see the module doc).
fn is_incremental(kind: Kind, call: &str) -> bool {
    match kind {
        Kind::Redis => {
            call.contains(" sync_file_range(") && call.contains("SYNC_FILE_RANGE_WRITE)")
        }
        _ => call.contains(" fdatasync("),
    }
}

/// A `kind` server with 20 MB of values (stored uncompressed) runs `job` with its
/// incremental fsync `on` or off: (incremental flushes, every sync call, bytes of the file
/// written).
fn syncs(kind: Kind, job: Job, on: bool) -> (usize, usize, u64) {
    let setting = match job {
        Job::Bgsave => "--rdb-save-incremental-fsync",
        Job::Rewrite => "--aof-rewrite-incremental-fsync",
    };
    // A rewrite runs with the AOF on (redis-server keeps no base file otherwise), written
    // by the kernel alone (no fsync policy in the count).
    let aof = match job {
        Job::Bgsave => "no",
        Job::Rewrite => "yes",
    };
    let s = Server::builder(kind)
        .debug_command(true)
        .args(&[
            "--rdbcompression",
            "no",
            "--appendonly",
            aof,
            "--appendfsync",
            "no",
            setting,
            if on { "yes" } else { "no" },
        ])
        .start();
    let mut c = s.conn();
    assert_eq!(
        q(&mut c, &["DEBUG", "POPULATE", "5000", "key", "4096"]),
        redis::Value::Okay
    );
    let out = s.dir.path().join("strace.out");
    let trace = Strace::attach(s.pid().unwrap(), &out);
    let (counter, done) = match job {
        Job::Bgsave => ("rdb_saves", "rdb_bgsave_in_progress"),
        Job::Rewrite => ("aof_rewrites", "aof_rewrite_in_progress"),
    };
    let before = info_int(&mut c, counter);
    let cmd = match job {
        Job::Bgsave => "BGSAVE",
        Job::Rewrite => "BGREWRITEAOF",
    };
    q(&mut c, &[cmd]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while info_int(&mut c, counter) == before || info_int(&mut c, done) != 0 {
        assert!(Instant::now() < deadline, "{kind:?}: {cmd} did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    let calls = trace.finish();
    let incremental = calls.iter().filter(|c| is_incremental(kind, c)).count();
    let file = match job {
        Job::Bgsave => s.workdir.join("dump.rdb"),
        Job::Rewrite => std::fs::read_dir(s.workdir.join("appendonlydir"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".base.rdb"))
            .max_by_key(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .expect("a base file"),
    };
    let size = std::fs::metadata(file).unwrap().len();
    assert!(size > 4 * AUTOSYNC, "{kind:?}: {size} bytes");
    (incremental, calls.len(), size)
}

/// One incremental flush per 4 MB written, by both servers, and none with the setting off.
fn check(job: Job) {
    for kind in [Kind::Redrepl, Kind::Redis] {
        let (on, on_calls, size) = syncs(kind, job, true);
        let (off, off_calls, _) = syncs(kind, job, false);
        let expected = size / AUTOSYNC;
        // The parent's own syncs (the rewritten manifest...) are the same either way.
        let extra = on.saturating_sub(off) as u64;
        assert!(
            extra == expected || extra + 1 == expected,
            "{kind:?} {job:?}: {on} incremental flushes with the setting on, {off} off, {size} bytes"
        );
        // The final fsync of the file happens either way.
        assert!(on_calls > on && off_calls > off, "{kind:?} {job:?}");
        if job == Job::Bgsave {
            assert_eq!(off, 0, "{kind:?}: a BGSAVE with the setting off");
        }
    }
}

#[test]
fn bgsave_flushes_every_4_mb_with_rdb_save_incremental_fsync_as_redis() {
    check(Job::Bgsave);
}

#[test]
fn bgrewriteaof_flushes_every_4_mb_with_aof_rewrite_incremental_fsync_as_redis() {
    check(Job::Rewrite);
}
