//! The one test harness: start a server of either engine (redrepl or Debian's redis-server)
//! with [`ServerBuilder`] on a free loopback port (from [`free_port`], the one source of
//! ports), in a temporary or fixed directory, check that the process answering is the one we
//! started, talk to it with the `redis` crate or over raw TCP ([`Raw`]), and kill its process
//! group on drop.
#![allow(dead_code)]

pub mod pair;
pub mod repl;
pub mod sentinel;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
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

/// A running server. Killed with its whole process group (SIGTERM, then SIGKILL after 5 s)
/// and its temporary directory removed on drop.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    pub child: Option<Child>,
    /// Scratch directory: the log, a written config file and (unless a fixed dir was given)
    /// the server's `dir`.
    pub dir: tempfile::TempDir,
    /// Where stdout (the log, unless `logfile` is set) goes.
    pub log_path: PathBuf,
    /// The server's working directory (`--dir`): the fixed dir or `dir`.
    pub workdir: PathBuf,
    /// The password the harness authenticates with (from the builder, `--requirepass` or the
    /// config text).
    pub password: Option<String>,
}

/// Ports handed out by [`free_port`] in this test process, never handed out twice.
static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());

/// A free loopback port (bound then released). Never the same port twice within one test
/// process; another process may still take it, so starts retry (see [`ServerBuilder`]).
pub fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().unwrap().port();
        let mut used = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if !used.contains(&port) {
            used.push(port);
            return port;
        }
    }
}

/// Debian's redis-server (panics with the install hint when missing).
pub fn redis_server_path() -> PathBuf {
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

/// Where a server's configuration file comes from.
#[derive(Clone, Debug)]
enum ConfigSource {
    /// Text written to `redis.conf` in the scratch directory.
    Text(String),
    /// An existing file.
    File(PathBuf),
}

/// Builds and starts a server of either engine:
/// `Server::builder(Kind::Redis).config("maxmemory 1mb").args(&["--hz", "100"]).start()`.
///
/// The server gets `--port <free port> --save ""` (redis-server also `--dir <dir>
/// --appendonly no --enable-debug-command yes`) before the caller's arguments, which win.
/// It runs in its own process group, which is killed on drop. Start-up waits for PING, then
/// checks that INFO's `process_id` is the child's pid (a free port may be taken by another
/// test's server between picking and binding it); on a collision it retries on another port.
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    kind: Kind,
    args: Vec<String>,
    config: Option<ConfigSource>,
    fixed_dir: Option<PathBuf>,
    port: Option<u16>,
    password: Option<String>,
    debug_command: bool,
    defaults: bool,
    timeout: Duration,
    loading_ok: bool,
}

impl ServerBuilder {
    /// A builder for `kind` with the defaults described on the type.
    pub fn new(kind: Kind) -> ServerBuilder {
        ServerBuilder {
            kind,
            args: Vec::new(),
            config: None,
            fixed_dir: None,
            port: None,
            password: None,
            debug_command: kind == Kind::Redis,
            defaults: true,
            timeout: Duration::from_secs(30),
            loading_ok: false,
        }
    }

    /// Adds command-line arguments (`--name value ...`), after the defaults.
    pub fn args(mut self, args: &[&str]) -> ServerBuilder {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Adds one `--name value` pair.
    pub fn arg(self, name: &str, value: &str) -> ServerBuilder {
        self.args(&[&format!("--{name}"), value])
    }

    /// Writes `text` as the server's config file (passed as the first argument).
    pub fn config(mut self, text: &str) -> ServerBuilder {
        self.config = Some(ConfigSource::Text(text.to_string()));
        self
    }

    /// Uses an existing config file (passed as the first argument).
    pub fn config_file(mut self, path: &Path) -> ServerBuilder {
        self.config = Some(ConfigSource::File(path.to_path_buf()));
        self
    }

    /// Runs the server in `dir` (kept after the server is dropped) instead of a temp dir.
    pub fn dir(mut self, dir: &Path) -> ServerBuilder {
        self.fixed_dir = Some(dir.to_path_buf());
        self
    }

    /// Listens on this port (no retry on a collision).
    pub fn port(mut self, port: u16) -> ServerBuilder {
        self.port = Some(port);
        self
    }

    /// The password the harness uses to check the server (when it is not in the arguments).
    pub fn password(mut self, password: &str) -> ServerBuilder {
        self.password = Some(password.to_string());
        self
    }

    /// Passes `--enable-debug-command yes` (the default for redis-server).
    pub fn debug_command(mut self, on: bool) -> ServerBuilder {
        self.debug_command = on;
        self
    }

    /// Passes only `--port` (no `--save ""`, `--dir`, `--appendonly no`): for tests of the
    /// configuration itself. `debug_command` still applies.
    pub fn bare(mut self) -> ServerBuilder {
        self.defaults = false;
        self
    }

    /// How long start-up may take before it counts as failed (30 s by default).
    pub fn timeout(mut self, timeout: Duration) -> ServerBuilder {
        self.timeout = timeout;
        self
    }

    /// `start` returns as soon as the server answers, even `-LOADING` (a server still
    /// loading its dataset), instead of waiting for PONG.
    pub fn ready_while_loading(mut self) -> ServerBuilder {
        self.loading_ok = true;
        self
    }

    /// Starts the server; retries on another free port when the port was taken. Panics with
    /// the server's log when it cannot start.
    pub fn start(&self) -> Server {
        let tries = if self.port.is_some() { 1 } else { 5 };
        let mut last_err = String::new();
        for _ in 0..tries {
            match self.try_start() {
                Ok(s) => return s,
                Err(e) => last_err = e,
            }
        }
        panic!("could not start {:?}: {last_err}", self.kind);
    }

    /// Runs a server that must refuse to start; returns its stdout and stderr. Panics when
    /// it is still running after the timeout (it is killed first).
    pub fn start_fails(&self) -> String {
        let (mut cmd, dir, _) = self.command(self.port.unwrap_or_else(free_port));
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn server");
        let deadline = Instant::now() + self.timeout;
        while child.try_wait().expect("try_wait").is_none() {
            if Instant::now() > deadline {
                kill_group(&mut child);
                panic!("the server started although it should have refused to");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().expect("wait");
        assert!(!out.status.success(), "exit status {}", out.status);
        drop(dir);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// The password to authenticate with: explicit, else the last `--requirepass`, else
    /// the config text's `requirepass`.
    fn effective_password(&self) -> Option<String> {
        if let Some(p) = &self.password {
            return Some(p.clone());
        }
        let from_args = self
            .args
            .windows(2)
            .filter(|w| w[0] == "--requirepass")
            .map(|w| w[1].clone())
            .next_back();
        if from_args.is_some() {
            return from_args.filter(|p| !p.is_empty());
        }
        if let Some(ConfigSource::Text(t)) = &self.config {
            return t
                .lines()
                .filter_map(|l| l.trim().strip_prefix("requirepass "))
                .map(|p| p.trim().trim_matches('"').to_string())
                .next_back();
        }
        None
    }

    fn daemonizes(&self) -> bool {
        self.args
            .windows(2)
            .any(|w| w[0] == "--daemonize" && w[1] == "yes")
    }

    /// The command line for `port`, with the scratch dir it uses.
    fn command(&self, port: u16) -> (Command, tempfile::TempDir, PathBuf) {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let workdir = self
            .fixed_dir
            .clone()
            .unwrap_or_else(|| dir.path().to_path_buf());
        let mut cmd = match self.kind {
            Kind::Redrepl => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_redrepl"));
                c.arg("server");
                c
            }
            Kind::Redis => Command::new(redis_server_path()),
        };
        match &self.config {
            Some(ConfigSource::Text(t)) => {
                let path = dir.path().join("redis.conf");
                std::fs::write(&path, t).expect("write config");
                cmd.arg(path);
            }
            Some(ConfigSource::File(p)) => {
                cmd.arg(p);
            }
            None => {}
        }
        cmd.args(["--port", &port.to_string()]);
        if self.defaults {
            cmd.args(["--save", ""]);
            if self.kind == Kind::Redis || self.fixed_dir.is_some() {
                cmd.arg("--dir").arg(&workdir);
            }
            if self.kind == Kind::Redis {
                cmd.args(["--appendonly", "no"]);
            }
        }
        if self.debug_command {
            cmd.args(["--enable-debug-command", "yes"]);
        }
        cmd.args(&self.args);
        cmd.current_dir(&workdir)
            .stdin(Stdio::null())
            .process_group(0);
        (cmd, dir, workdir)
    }

    fn try_start(&self) -> Result<Server, String> {
        let port = self.port.unwrap_or_else(free_port);
        let (mut cmd, dir, workdir) = self.command(port);
        let log_path = dir.path().join("stdout.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        cmd.stdout(log).stderr(log2);
        let child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
        let mut server = Server {
            kind: self.kind,
            port,
            child: Some(child),
            dir,
            log_path,
            workdir,
            password: self.effective_password(),
        };
        let daemon = self.daemonizes();
        let deadline = Instant::now() + self.timeout;
        loop {
            if !daemon {
                let child = server.child.as_mut().unwrap();
                if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                    server.child = None;
                    return Err(format!(
                        "exited early with {status}; log:\n{}",
                        server.log()
                    ));
                }
            }
            if server.ping_ok(self.loading_ok) {
                if daemon {
                    return Ok(server);
                }
                return match server.answering_pid() {
                    Some(pid) if Some(pid) != server.pid() => Err(format!(
                        "port {port} is answered by process {pid}, not by ours"
                    )),
                    _ => Ok(server),
                };
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no PONG within {:?}; log:\n{}",
                    self.timeout,
                    server.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Server {
    /// A builder for a server of `kind` (see [`ServerBuilder`]).
    pub fn builder(kind: Kind) -> ServerBuilder {
        ServerBuilder::new(kind)
    }

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
        ServerBuilder::new(kind).args(extra).start()
    }

    /// True when a PING gets +PONG (or, with a password, -NOAUTH: the server is up; or
    /// -LOADING when `loading_ok`).
    fn ping_ok(&self, loading_ok: bool) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(n) if n > 0 => {
                buf[0] == b'+'
                    || buf[..n].starts_with(b"-NOAUTH")
                    || (loading_ok && buf[..n].starts_with(b"-LOADING"))
            }
            _ => false,
        }
    }

    /// The `process_id` INFO reports on our port (None when it cannot be read, e.g. a
    /// password we do not know).
    fn answering_pid(&self) -> Option<u32> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut req = Vec::new();
        if let Some(p) = &self.password {
            req.extend(resp(&[b"AUTH", p.as_bytes()]));
        }
        req.extend(resp(&[b"INFO", b"server"]));
        s.write_all(&req).ok()?;
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let n = s.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some(l) = text.lines().find(|l| l.starts_with("process_id:")) {
                return l["process_id:".len()..].trim().parse().ok();
            }
            if text.contains("-NOAUTH") || text.contains("-WRONGPASS") {
                return None;
            }
        }
        None
    }

    /// The process id of the spawned child.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The server's working directory (`dir`).
    pub fn path(&self) -> &Path {
        &self.workdir
    }

    /// The captured stdout/stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `redis://127.0.0.1:port/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// [`url`](Self::url) with the server's password, when it has one.
    pub fn url_auth(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// A new `redis` crate connection.
    pub fn conn(&self) -> redis::Connection {
        let client = redis::Client::open(self.url()).unwrap();
        client.get_connection().unwrap()
    }

    /// A new `redis` crate connection, authenticated with the server's password.
    pub fn conn_auth(&self) -> redis::Connection {
        let client = redis::Client::open(self.url_auth()).unwrap();
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

    /// SIGKILLs the server and everything in its process group (a BGSAVE child too), and
    /// reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::killpg(child.id() as i32, libc::SIGKILL);
            }
            let _ = child.wait();
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

/// SIGTERM to the child's process group, SIGKILL after 5 s; then SIGKILL to whatever is
/// left in the group (a BGSAVE child), and reap.
fn kill_group(child: &mut Child) {
    let pgid = child.id() as i32;
    unsafe {
        libc::killpg(pgid, libc::SIGTERM);
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
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
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
            kill_group(&mut child);
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

impl Raw {
    /// Sends a command and reads its whole reply (any RESP type, nested) as bytes.
    pub fn request(&mut self, args: &[&str]) -> Vec<u8> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&resp(&a));
        self.read_reply()
    }

    /// Reads one whole RESP reply (any type, nested).
    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.read_reply_into(&mut out);
        out
    }

    fn read_line_into(&mut self, out: &mut Vec<u8>) -> Vec<u8> {
        let start = out.len();
        let mut b = [0u8; 1];
        loop {
            self.stream.read_exact(&mut b).expect("reply byte");
            out.push(b[0]);
            if out.len() >= start + 2 && &out[out.len() - 2..] == b"\r\n" {
                return out[start..out.len() - 2].to_vec();
            }
        }
    }

    fn read_reply_into(&mut self, out: &mut Vec<u8>) {
        let line = self.read_line_into(out);
        let n: i64 = std::str::from_utf8(&line[1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match line[0] {
            b'$' | b'=' if n >= 0 => {
                let mut data = vec![0u8; n as usize + 2];
                self.stream.read_exact(&mut data).expect("bulk");
                out.extend_from_slice(&data);
            }
            b'*' | b'~' | b'>' if n > 0 => (0..n).for_each(|_| self.read_reply_into(out)),
            b'%' if n > 0 => (0..2 * n).for_each(|_| self.read_reply_into(out)),
            _ => {}
        }
    }
}

/// Runs `cmds` on a fresh redrepl and a fresh redis-server, asserting every reply is
/// byte-identical and so are the DEBUG DIGESTs at the end.
pub fn same_replies(cmds: &[&[&str]]) {
    let ours = Server::builder(Kind::Redrepl).debug_command(true).start();
    let theirs = Server::start_redis(&[]);
    let mut a = ours.raw();
    let mut b = theirs.raw();
    assert_same_replies(&mut a, &mut b, cmds);
    assert_eq!(
        a.request(&["DEBUG", "DIGEST"]),
        b.request(&["DEBUG", "DIGEST"])
    );
}

/// Sends each of `cmds` to `ours` and to `theirs`; asserts every pair of replies is
/// byte-identical, listing every command whose replies differ.
pub fn assert_same_replies(ours: &mut Raw, theirs: &mut Raw, cmds: &[&[&str]]) {
    let mut failures = Vec::new();
    for cmd in cmds {
        let (x, y) = (ours.request(cmd), theirs.request(cmd));
        if x != y {
            failures.push(format!(
                "{cmd:?}\n  ours:  {:?}\n  redis: {:?}",
                String::from_utf8_lossy(&x),
                String::from_utf8_lossy(&y)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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

/// Runs a Python script with Debian's `/usr/bin/python3` (the interpreter that has
/// python3-redis; `python3` on PATH may be another one) and returns its stdout; panics with
/// its stderr when it fails.
#[allow(dead_code)]
pub fn python(script: &str) -> String {
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .output()
        .expect("run /usr/bin/python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
