//! Sentinels for tests: `redrepl sentinel` or Debian's `redis-sentinel`, each with its own
//! sentinel.conf in a temp dir, on a free port, killed by PID on drop.

use super::{free_port, kill_pid};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which sentinel binary to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SentinelKind {
    /// `redrepl sentinel`.
    Redrepl,
    /// Debian's `redis-sentinel`.
    Redis,
}

/// A running sentinel.
pub struct Sentinel {
    /// Which binary.
    pub kind: SentinelKind,
    /// Its port.
    pub port: u16,
    /// The process (None once killed).
    pub child: Option<Child>,
    /// Scratch dir holding sentinel.conf and the log.
    pub dir: tempfile::TempDir,
}

/// The sentinel.conf lines monitoring `name` at 127.0.0.1:`master_port` with short timers.
pub fn monitor_conf(name: &str, master_port: u16, quorum: u32, down_after_ms: u64) -> String {
    format!(
        "sentinel monitor {name} 127.0.0.1 {master_port} {quorum}\n\
         sentinel down-after-milliseconds {name} {down_after_ms}\n\
         sentinel failover-timeout {name} 5000\n"
    )
}

impl Sentinel {
    /// Starts a sentinel of `kind` with `conf` (the port line is added).
    pub fn start(kind: SentinelKind, conf: &str) -> Sentinel {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let port = free_port();
        std::fs::write(
            dir.path().join("sentinel.conf"),
            format!("port {port}\n{conf}"),
        )
        .unwrap();
        let mut s = Sentinel {
            kind,
            port,
            child: None,
            dir,
        };
        s.spawn();
        s
    }

    /// The config file.
    pub fn conf_path(&self) -> PathBuf {
        self.dir.path().join("sentinel.conf")
    }

    /// The config file's text.
    pub fn conf_text(&self) -> String {
        std::fs::read_to_string(self.conf_path()).unwrap_or_default()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sentinel.log")).unwrap_or_default()
    }

    /// (Re)starts the process on the same config and port; waits until it answers PING.
    pub fn spawn(&mut self) {
        let conf = self.conf_path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("sentinel.log"))
            .unwrap();
        let mut cmd = match self.kind {
            SentinelKind::Redrepl => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_redrepl"));
                c.arg("sentinel").arg(&conf);
                c
            }
            SentinelKind::Redis => {
                let mut c = Command::new("/usr/bin/redis-sentinel");
                c.arg(&conf);
                c
            }
        };
        cmd.stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .stdin(Stdio::null());
        self.child = Some(cmd.spawn().expect("spawn sentinel"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            // PONG, or NOAUTH from a sentinel with requirepass: it is up.
            let reply = self.cmd(&["PING"]).unwrap_or_default();
            if reply.trim() == "PONG" || reply.starts_with("NOAUTH") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sentinel {:?} did not start: {}", self.kind, self.log());
    }

    /// SIGKILLs the sentinel.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A `redis` crate connection.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Runs a command; the reply as redis-cli prints it (None when unreachable).
    pub fn cmd(&self, args: &[&str]) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(&super::resp(
            &args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>(),
        ))
        .ok()?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if complete(&got) {
                break;
            }
        }
        Some(flatten(&got))
    }

    /// `SENTINEL GET-MASTER-ADDR-BY-NAME name` as `ip:port`.
    pub fn master_addr(&self, name: &str) -> Option<String> {
        let r = self.cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name])?;
        let mut l = r.lines();
        Some(format!("{}:{}", l.next()?, l.next()?))
    }

    /// One field of `SENTINEL MASTER name`.
    pub fn master_field(&self, name: &str, field: &str) -> Option<String> {
        let r = self.cmd(&["SENTINEL", "MASTER", name])?;
        let lines: Vec<&str> = r.lines().collect();
        lines
            .chunks(2)
            .find(|kv| kv[0] == field)
            .and_then(|kv| kv.get(1))
            .map(|v| v.to_string())
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_pid(c.id() as i32);
            let _ = c.wait();
        }
    }
}

/// Whether `buf` holds one whole RESP reply.
fn complete(buf: &[u8]) -> bool {
    fn one(b: &[u8], at: usize) -> Option<usize> {
        let end = b[at..].windows(2).position(|w| w == b"\r\n")? + at;
        let line = std::str::from_utf8(&b[at + 1..end]).ok()?;
        match b[at] {
            b'+' | b'-' | b':' => Some(end + 2),
            b'$' => {
                let n: i64 = line.parse().ok()?;
                if n < 0 {
                    return Some(end + 2);
                }
                let stop = end + 2 + n as usize + 2;
                (b.len() >= stop).then_some(stop)
            }
            b'*' => {
                let n: i64 = line.parse().ok()?;
                let mut pos = end + 2;
                for _ in 0..n.max(0) {
                    pos = one(b, pos)?;
                }
                Some(pos)
            }
            _ => None,
        }
    }
    !buf.is_empty() && one(buf, 0).is_some()
}

/// A reply flattened to lines (every string, integer and error on its own line; nulls
/// as empty lines), as `redis-cli` without a terminal prints it.
pub fn flatten(buf: &[u8]) -> String {
    let text = String::from_utf8_lossy(buf);
    let mut out = String::new();
    let mut lines = text.split("\r\n");
    while let Some(l) = lines.next() {
        if l.is_empty() {
            continue;
        }
        match l.as_bytes()[0] {
            b'+' | b'-' | b':' => {
                out.push_str(&l[1..]);
                out.push('\n');
            }
            b'$' => {
                if l != "$-1" {
                    out.push_str(lines.next().unwrap_or(""));
                }
                out.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// Polls `f` every 100 ms until it is true or `secs` seconds passed.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}
