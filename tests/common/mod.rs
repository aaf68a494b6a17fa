//! Shared helpers for the integration tests: start a server (redrepl or Debian's
//! redis-server) on a free loopback port in its own temporary directory, talk to it with the
//! `redis` crate or over raw TCP, and kill it on drop.
#![allow(dead_code)]

pub mod repl;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which server binary to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `redrepl server`.
    Redrepl,
    /// Debian's `/usr/bin/redis-server` (the reference).
    Redis,
}

/// A running server. Killed (SIGTERM, then SIGKILL after 5 s) and its directory removed on drop.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    /// Where stdout (the log, unless `logfile` is set) goes.
    pub log_path: PathBuf,
}

/// A free loopback port (bound then released: the caller retries on collision).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

fn redis_server_path() -> PathBuf {
    for p in ["/usr/bin/redis-server", "/usr/local/bin/redis-server"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("redis-server is not installed: run `apt-get install redis-server redis-tools`");
}

/// The redis-cli binary (panics with the install hint when missing).
pub fn redis_cli_path() -> PathBuf {
    for p in ["/usr/bin/redis-cli", "/usr/local/bin/redis-cli"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("redis-cli is not installed: run `apt-get install redis-server redis-tools`");
}

impl Server {
    /// Starts redrepl with extra `--name value` arguments.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_kind(Kind::Redrepl, extra)
    }

    /// Starts Debian's redis-server with extra arguments.
    pub fn start_redis(extra: &[&str]) -> Server {
        Server::start_kind(Kind::Redis, extra)
    }

    /// Starts a server of `kind`; retries on a port collision.
    pub fn start_kind(kind: Kind, extra: &[&str]) -> Server {
        let mut last_err = String::new();
        for _ in 0..5 {
            match Server::try_start(kind, extra) {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("could not start {kind:?}: {last_err}");
    }

    fn try_start(kind: Kind, extra: &[&str]) -> Result<Server, String> {
        let dir = tempfile::TempDir::new().map_err(|e| e.to_string())?;
        let port = free_port();
        let log_path = dir.path().join("stdout.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let dir_s = dir.path().to_str().unwrap().to_string();
        let port_s = port.to_string();
        let mut cmd = match kind {
            Kind::Redrepl => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_redrepl"));
                c.arg("server");
                c
            }
            Kind::Redis => Command::new(redis_server_path()),
        };
        cmd.args(["--port", &port_s, "--save", ""]);
        if kind == Kind::Redis {
            cmd.args([
                "--enable-debug-command",
                "yes",
                "--appendonly",
                "no",
                "--dir",
                &dir_s,
            ]);
        }
        cmd.args(extra);
        cmd.current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
        let mut server = Server {
            kind,
            port,
            child: Some(child),
            dir,
            log_path,
        };
        let daemon = extra
            .windows(2)
            .any(|w| w[0] == "--daemonize" && w[1] == "yes");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if !daemon {
                if let Some(status) = server
                    .child
                    .as_mut()
                    .unwrap()
                    .try_wait()
                    .map_err(|e| e.to_string())?
                {
                    server.child = None;
                    return Err(format!(
                        "exited early with {status}; log:\n{}",
                        server.log()
                    ));
                }
            }
            if server.ping_ok() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!("no PONG within 10 s; log:\n{}", server.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True when a PING gets +PONG (or, with a password, -NOAUTH: the server is up).
    fn ping_ok(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(n) if n > 0 => buf[0] == b'+' || buf[..n].starts_with(b"-NOAUTH"),
            _ => false,
        }
    }

    /// The process id of the spawned child.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The temporary directory of this server.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The captured stdout/stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `redis://127.0.0.1:port/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A new `redis` crate connection.
    pub fn conn(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).unwrap();
        client.get_connection().unwrap()
    }

    /// A new raw TCP connection.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// Runs redis-cli against this server; returns (exit ok, stdout).
    pub fn cli(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(redis_cli_path())
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Sends a signal to the child.
    pub fn signal(&self, sig: i32) {
        if let Some(pid) = self.pid() {
            unsafe {
                libc::kill(pid as i32, sig);
            }
        }
    }

    /// Waits for the child to exit, up to `timeout`; None if still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Kills a process by pid: SIGTERM, then SIGKILL if it is still there after 5 s.
pub fn kill_pid(pid: i32) {
    unsafe {
        if libc::kill(pid, libc::SIGTERM) != 0 {
            return;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if unsafe { libc::kill(pid, 0) } != 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// A raw TCP connection for exact RESP byte assertions.
pub struct Raw {
    pub stream: TcpStream,
}

impl Raw {
    /// Connects to 127.0.0.1:port.
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Raw { stream }
    }

    /// Sends bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads until exactly `n` bytes arrived (or panics on timeout/EOF).
    pub fn read_exact_n(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        self.stream.read_exact(&mut buf).expect("read reply");
        buf
    }

    /// Sends `req` and expects exactly `expected` back.
    pub fn roundtrip(&mut self, req: &[u8], expected: &[u8]) {
        self.send(req);
        let got = self.read_exact_n(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "reply to {:?}",
            String::from_utf8_lossy(req)
        );
    }

    /// Reads what arrives within `wait` (until the peer stops sending or closes).
    pub fn read_available(&mut self, wait: Duration) -> Vec<u8> {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        out
    }

    /// True when the server closed the connection (read returns EOF) within `wait`.
    pub fn is_closed(&mut self, wait: Duration) -> bool {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 256];
        let r = loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(_) => break false,
            }
        };
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        r
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Runs a command given as string arguments; returns the raw `redis::Value` (errors included
/// as `Value::ServerError`).
pub fn q(con: &mut redis::Connection, args: &[&str]) -> redis::Value {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    qc(con, &c)
}

/// Runs a built command; returns the raw reply, server errors included as values.
pub fn qc(con: &mut redis::Connection, c: &redis::Cmd) -> redis::Value {
    use redis::ConnectionLike;
    match con.req_packed_command(&c.get_packed_command()) {
        Ok(v) => v,
        Err(e) => panic!("transport error: {e}"),
    }
}

/// The error text of a reply (`CODE message`), or panics when it is not an error.
pub fn err_text(v: &redis::Value) -> String {
    match v {
        redis::Value::ServerError(e) => match e.details() {
            Some(d) => format!("{} {}", e.code(), d),
            None => e.code().to_string(),
        },
        other => panic!("expected an error, got {other:?}"),
    }
}
