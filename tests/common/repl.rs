//! Replication test harness: nodes configured like the seed (S4: a config file per node with
//! `port`, `dir`, `logfile`, `dbfilename dump<port>.rdb`, `requirepass`, `masterauth`,
//! `replicaof`), restartable on the same port and directory after SIGKILL or SHUTDOWN; waiting
//! helpers; INFO parsing; DEBUG DIGEST; a background writer that keeps a steady write load on a
//! master and records every acknowledged write so that it can be checked on every node.
//!
//! `REDREPL_TEST_ENGINE=redis` makes every node started with [`engine()`] a real redis-server,
//! so the tests can be validated against Redis itself; the default is `redrepl server`.

use super::{Kind, free_port, redis_server_path};
use redis::{ConnectionLike, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The seed's password (S4), used as requirepass and masterauth.
pub const PASS: &str = "1234567a";

/// The engine for "our" nodes: `REDREPL_TEST_ENGINE=redis` selects Debian's redis-server
/// (validation of the tests against the reference), anything else redrepl.
pub fn engine() -> Kind {
    match std::env::var("REDREPL_TEST_ENGINE") {
        Ok(v) if v.eq_ignore_ascii_case("redis") => Kind::Redis,
        _ => Kind::Redrepl,
    }
}

/// How to configure a node.
#[derive(Clone, Debug)]
pub struct NodeOpts {
    pub kind: Kind,
    /// `requirepass` (None: no password).
    pub requirepass: Option<String>,
    /// `masterauth` (None: not set).
    pub masterauth: Option<String>,
    /// `replicaof 127.0.0.1 <port>` in the config file.
    pub replicaof: Option<u16>,
    /// Further directives, written to the config file as `name value` lines.
    pub extra: Vec<(String, String)>,
}

impl NodeOpts {
    /// The seed's settings (S4) for a node of `kind`: requirepass and masterauth `1234567a`,
    /// save points (so SHUTDOWN saves, as with the stock redis.conf), diskless sync without
    /// delay and a backlog big enough for the tests' outages.
    pub fn seed(kind: Kind) -> NodeOpts {
        NodeOpts {
            kind,
            requirepass: Some(PASS.into()),
            masterauth: Some(PASS.into()),
            replicaof: None,
            extra: vec![
                ("repl-diskless-sync-delay".into(), "0".into()),
                ("repl-backlog-size".into(), "64mb".into()),
            ],
        }
    }

    /// Same, replica of the node on `master_port`.
    pub fn seed_replica(kind: Kind, master_port: u16) -> NodeOpts {
        let mut o = NodeOpts::seed(kind);
        o.replicaof = Some(master_port);
        o
    }

    /// Adds (or replaces) a directive.
    pub fn with(mut self, name: &str, value: &str) -> NodeOpts {
        self.extra.retain(|(n, _)| n != name);
        self.extra.push((name.into(), value.into()));
        self
    }
}

/// A server process with its own directory and port, both kept across restarts.
pub struct Node {
    pub kind: Kind,
    pub port: u16,
    pub opts: NodeOpts,
    pub dir: tempfile::TempDir,
    pub conf_path: PathBuf,
    pub log_path: PathBuf,
    child: Option<Child>,
    con: RefCell<Option<redis::Connection>>,
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Node {
    /// Starts a node on a free port in a new temporary directory.
    pub fn start(opts: NodeOpts) -> Node {
        let mut last = String::new();
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("redrepl-repl-")
                .tempdir()
                .expect("tempdir");
            let port = free_port();
            let mut node = Node {
                kind: opts.kind,
                port,
                opts: opts.clone(),
                conf_path: dir.path().join(format!("{port}.conf")),
                log_path: dir.path().join(format!("{port}.log")),
                dir,
                child: None,
                con: RefCell::new(None),
            };
            node.write_conf();
            match node.spawn() {
                Ok(()) => return node,
                Err(e) => last = e,
            }
        }
        panic!("could not start a {:?} node: {last}", opts.kind);
    }

    /// Writes the config file from `self.opts` (as the seed's edited redis.conf, S4).
    pub fn write_conf(&self) {
        let d = self.dir.path().to_str().unwrap();
        let p = self.port;
        let mut c = String::new();
        c += "bind 127.0.0.1\nprotected-mode no\ndaemonize no\n";
        c += &format!("port {p}\ndir {}\n", quote(d));
        c += &format!("logfile {}\n", quote(&format!("{d}/{p}.log")));
        c += &format!("dbfilename dump{p}.rdb\n");
        c += "save 3600 1 300 100 60 10000\nappendonly no\nenable-debug-command yes\n";
        if let Some(pw) = &self.opts.requirepass {
            c += &format!("requirepass {}\n", quote(pw));
        }
        if let Some(pw) = &self.opts.masterauth {
            c += &format!("masterauth {}\n", quote(pw));
        }
        if let Some(mp) = self.opts.replicaof {
            c += &format!("replicaof 127.0.0.1 {mp}\n");
        }
        for (n, v) in &self.opts.extra {
            c += &format!("{n} {}\n", quote(v));
        }
        std::fs::write(&self.conf_path, c).expect("write config");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = match self.kind {
            Kind::Redrepl => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_redrepl"));
                c.arg("server");
                c
            }
            Kind::Redis => Command::new(redis_server_path()),
        };
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("stdout.log"))
            .map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.arg(&self.conf_path)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
        self.child = Some(child);
        *self.con.borrow_mut() = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return Err(format!(
                    "exited early with {st}; log:\n{}\n{}",
                    self.log(),
                    std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
                ));
            }
            if self.ping_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no PONG within 30 s; log:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True when the node answers PING with +PONG, logged in with its password when it has
    /// one: a server still loading its data answers -LOADING (and, to a client that has not
    /// authenticated, -NOAUTH first, as Redis checks authentication before loading).
    fn ping_ok(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut req = Vec::new();
        if let Some(pw) = &self.opts.requirepass {
            req.extend(super::resp(&[b"AUTH", pw.as_bytes()]));
        }
        req.extend_from_slice(b"PING\r\n");
        if s.write_all(&req).is_err() {
            return false;
        }
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        let wanted = if self.opts.requirepass.is_some() {
            2
        } else {
            1
        };
        while got.iter().filter(|&&b| b == b'\n').count() < wanted {
            match s.read(&mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => return false,
            }
        }
        got.ends_with(b"+PONG\r\n")
    }

    /// Starts the node again on the same port, directory and config file.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart of a running node");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("restart failed: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// SIGKILL to the node's process group (the server and any fork child), then reaps it.
    pub fn kill9(&mut self) {
        *self.con.borrow_mut() = None;
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::killpg(c.id() as i32, libc::SIGKILL);
            }
            let _ = c.wait();
        }
    }

    /// SIGSTOP (`true`) or SIGCONT (`false`) to the node's process: a hung server.
    pub fn signal_stop(&self, stop: bool) {
        if let Some(pid) = self.pid() {
            unsafe {
                libc::kill(pid as i32, if stop { libc::SIGSTOP } else { libc::SIGCONT });
            }
        }
    }

    /// SHUTDOWN (saves, since save points are configured) and waits for the process to exit.
    pub fn shutdown(&mut self) {
        let mut con = self.new_con();
        let _ = con.req_packed_command(&redis::cmd("SHUTDOWN").get_packed_command());
        drop(con);
        *self.con.borrow_mut() = None;
        let mut c = self.child.take().expect("shutdown of a stopped node");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            if Instant::now() > deadline {
                unsafe {
                    libc::killpg(c.id() as i32, libc::SIGKILL);
                }
                let _ = c.wait();
                panic!("node {} did not exit within 30 s of SHUTDOWN", self.port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Fork children (a BGSAVE in flight) go too.
        unsafe {
            libc::killpg(c.id() as i32, libc::SIGKILL);
        }
    }

    /// The node's log file so far (all runs: the file is appended to).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The node's directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `redis://:pass@127.0.0.1:port/db`.
    pub fn url(&self, db: usize) -> String {
        match &self.opts.requirepass {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/{db}", self.port),
            None => format!("redis://127.0.0.1:{}/{db}", self.port),
        }
    }

    /// A new authenticated connection to db 0 (10 s read timeout).
    pub fn new_con(&self) -> redis::Connection {
        self.new_con_db(0)
    }

    /// A new authenticated connection to `db`.
    pub fn new_con_db(&self, db: usize) -> redis::Connection {
        let c = redis::Client::open(self.url(db))
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.port));
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c
    }

    /// Runs a command on the node's cached connection (db 0 unless the command SELECTs);
    /// server errors come back as `Value::ServerError`, transport errors as `Err`.
    pub fn try_cmd(&self, args: &[&str]) -> redis::RedisResult<Value> {
        let mut slot = self.con.borrow_mut();
        if slot.is_none() {
            let c = redis::Client::open(self.url(0))
                .unwrap()
                .get_connection_with_timeout(Duration::from_secs(5))?;
            c.set_read_timeout(Some(Duration::from_secs(20)))?;
            *slot = Some(c);
        }
        let mut c = redis::cmd(args[0]);
        for a in &args[1..] {
            c.arg(*a);
        }
        let r = slot
            .as_mut()
            .unwrap()
            .req_packed_command(&c.get_packed_command());
        if r.is_err() {
            *slot = None;
        }
        r
    }

    /// Runs a command; panics on a transport error.
    pub fn cmd(&self, args: &[&str]) -> Value {
        self.try_cmd(args)
            .unwrap_or_else(|e| panic!("{args:?} on node {}: {e}", self.port))
    }

    /// A command's reply as text (status, bulk, integer; `ERR:...` for errors, `nil`).
    pub fn text(&self, args: &[&str]) -> String {
        text(&self.cmd(args))
    }

    /// INFO `section` as text.
    pub fn info(&self, section: &str) -> String {
        self.text(&["INFO", section])
    }

    /// One field of INFO `section`.
    pub fn info_field(&self, section: &str, field: &str) -> Option<String> {
        parse_info_field(&self.info(section), field)
    }

    /// One integer field of INFO `section` (panics when missing).
    pub fn info_int(&self, section: &str, field: &str) -> i64 {
        let v = self
            .info_field(section, field)
            .unwrap_or_else(|| panic!("INFO {section} of {} has no {field}", self.port));
        v.parse()
            .unwrap_or_else(|_| panic!("INFO {field} is not an integer: {v}"))
    }

    /// DEBUG DIGEST.
    pub fn digest(&self) -> String {
        self.text(&["DEBUG", "DIGEST"])
    }

    /// REPLICAOF 127.0.0.1 `port` (the reply).
    pub fn replicaof(&self, port: u16) -> Value {
        self.cmd(&["REPLICAOF", "127.0.0.1", &port.to_string()])
    }

    /// The replica's address as the master logs and lists it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Text of a reply: status and bulk strings as themselves, integers in decimal, `nil`, `OK`,
/// errors as `ERR:<code> <message>`, arrays as `[a, b]`.
pub fn text(v: &Value) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::Okay => "OK".into(),
        Value::Int(i) => i.to_string(),
        Value::SimpleString(s) => s.clone(),
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::ServerError(e) => match e.details() {
            Some(d) => format!("ERR:{} {}", e.code(), d),
            None => format!("ERR:{}", e.code()),
        },
        Value::Array(a) | Value::Set(a) => {
            format!("[{}]", a.iter().map(text).collect::<Vec<_>>().join(", "))
        }
        other => format!("{other:?}"),
    }
}

/// The error text of a reply exactly as the server sent it (`CODE message`), None if not an error.
pub fn error_text(v: &Value) -> Option<String> {
    match v {
        Value::ServerError(e) => Some(match e.details() {
            Some(d) => format!("{} {}", e.code(), d),
            None => e.code().to_string(),
        }),
        _ => None,
    }
}

/// A field of an INFO text.
pub fn parse_info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| {
        l.strip_prefix(field)
            .and_then(|r| r.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    })
}

/// `info_field(server, section, field)`.
pub fn info_field(n: &Node, section: &str, field: &str) -> Option<String> {
    n.info_field(section, field)
}

/// `digest(server)`: DEBUG DIGEST.
pub fn digest(n: &Node) -> String {
    n.digest()
}

/// Polls `cond` every 20 ms until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (up to 30 s) until `replica` is in sync with `master`: the master lists it as
/// `state=online`, its link is up, no sync is in progress, and its processed offset has reached
/// the master's `master_repl_offset` (read first).
pub fn wait_synced(master: &Node, replica: &Node) {
    let ok = wait_until(Duration::from_secs(30), || {
        let Ok(mi) = master.try_cmd(&["INFO", "replication"]) else {
            return false;
        };
        let Ok(ri) = replica.try_cmd(&["INFO", "replication"]) else {
            return false;
        };
        let (mi, ri) = (text(&mi), text(&ri));
        let moff: i64 = parse_info_field(&mi, "master_repl_offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(i64::MAX);
        let roff: i64 = parse_info_field(&ri, "slave_repl_offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        let listed = format!("ip=127.0.0.1,port={},state=online,", replica.port);
        mi.lines()
            .any(|l| l.starts_with("slave") && l.contains(&listed))
            && parse_info_field(&ri, "master_link_status").as_deref() == Some("up")
            && parse_info_field(&ri, "master_sync_in_progress").as_deref() == Some("0")
            && parse_info_field(&ri, "master_port") == Some(master.port.to_string())
            && roff >= moff
    });
    if !ok {
        panic!(
            "replica {} not in sync with master {} within 30 s\nmaster INFO:\n{}\nreplica INFO:\n{}\nreplica log tail:\n{}",
            replica.port,
            master.port,
            master
                .try_cmd(&["INFO", "replication"])
                .map(|v| text(&v))
                .unwrap_or_default(),
            replica
                .try_cmd(&["INFO", "replication"])
                .map(|v| text(&v))
                .unwrap_or_default(),
            tail(&replica.log(), 30)
        );
    }
}

/// Under a steady write load the offsets never stay equal: the link is up and the sync done.
pub fn wait_synced_under_load(m: &Node, r: &Node) {
    let ok = wait_until(Duration::from_secs(30), || {
        let info = r.info("replication");
        parse_info_field(&info, "master_link_status").as_deref() == Some("up")
            && parse_info_field(&info, "master_sync_in_progress").as_deref() == Some("0")
            && m.info("replication")
                .contains(&format!("port={},state=online", r.port))
    });
    assert!(ok, "{}", r.info("replication"));
}

/// The last `n` lines of a text.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Waits (up to 30 s) until every node has the same DEBUG DIGEST (expiry DELs may still be on
/// their way) and returns it; panics with all digests otherwise.
pub fn assert_same_digest(nodes: &[&Node]) -> String {
    let mut last = Vec::new();
    let ok = wait_until(Duration::from_secs(30), || {
        last = nodes.iter().map(|n| n.digest()).collect::<Vec<_>>();
        last.iter().all(|d| *d == last[0])
    });
    if !ok {
        let odd = (1..nodes.len()).find(|&i| last[i] != last[0]).unwrap_or(1);
        panic!(
            "digests differ: {:?}\nfirst differences between {} and {}:\n{}",
            nodes
                .iter()
                .zip(&last)
                .map(|(n, d)| format!("{}={d}", n.port))
                .collect::<Vec<_>>(),
            nodes[0].port,
            nodes[odd].port,
            diff_datasets(nodes[0], nodes[odd], 10)
        );
    }
    last[0].clone()
}

/// Keys (dbs 0–15) whose DEBUG DIGEST-VALUE differs between `a` and `b`, up to `max`, with
/// their type and PEXPIRETIME on each side: a diagnostic for digest mismatches.
pub fn diff_datasets(a: &Node, b: &Node, max: usize) -> String {
    fn keys(con: &mut redis::Connection) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .query(con)
                .unwrap_or((0, vec![]));
            out.extend(batch);
            cursor = next;
            if cursor == 0 {
                return out;
            }
        }
    }
    fn describe(con: &mut redis::Connection, k: &[u8]) -> String {
        let t: String = redis::cmd("TYPE").arg(k).query(con).unwrap_or_default();
        let at: i64 = redis::cmd("PEXPIRETIME").arg(k).query(con).unwrap_or(-3);
        let d: Vec<String> = redis::cmd("DEBUG")
            .arg("DIGEST-VALUE")
            .arg(k)
            .query(con)
            .unwrap_or_default();
        format!(
            "{t} pexpiretime={at} digest={}",
            d.first().cloned().unwrap_or_default()
        )
    }
    let mut out = vec![format!(
        "INFO keyspace of {}: {:?}; of {}: {:?}",
        a.port,
        a.info("keyspace").lines().skip(1).collect::<Vec<_>>(),
        b.port,
        b.info("keyspace").lines().skip(1).collect::<Vec<_>>()
    )];
    for db in 0..16 {
        let (mut ca, mut cb) = (a.new_con_db(db), b.new_con_db(db));
        let mut all: BTreeSet<Vec<u8>> = keys(&mut ca).into_iter().collect();
        all.extend(keys(&mut cb));
        for k in all {
            let (da, db_) = (describe(&mut ca, &k), describe(&mut cb, &k));
            if da != db_ {
                out.push(format!(
                    "db{db} {:?}: {} has {da}; {} has {db_}",
                    String::from_utf8_lossy(&k),
                    a.port,
                    b.port
                ));
                if out.len() > max {
                    return out.join("\n");
                }
            }
        }
    }
    out.join("\n")
}

/// Stops the writer, waits until every replica is in sync with `master` and checks that all
/// nodes have the same digest and every acknowledged write.
pub fn finish(writer: Writer, master: &Node, replicas: &[&Node]) -> Model {
    let model = writer.stop();
    for r in replicas {
        wait_synced(master, r);
    }
    let mut all = vec![master];
    all.extend_from_slice(replicas);
    assert_same_digest(&all);
    for n in &all {
        model.verify(n);
    }
    model
}

/// Loads `n` string keys (`bulk:<i>`, 32-byte values) plus a few collections into db 0 with
/// pipelining.
pub fn preload(node: &Node, n: usize) {
    let mut con = node.new_con();
    let mut i = 0;
    while i < n {
        let mut p = redis::pipe();
        for j in i..(i + 1000).min(n) {
            p.cmd("SET")
                .arg(format!("bulk:{j}"))
                .arg(format!("{j:0>32}"))
                .ignore();
            if j % 100 == 0 {
                p.cmd("HSET")
                    .arg(format!("bulkh:{j}"))
                    .arg("a")
                    .arg(j)
                    .arg("b")
                    .arg("x")
                    .ignore();
                p.cmd("RPUSH")
                    .arg(format!("bulkl:{j}"))
                    .arg(j)
                    .arg("y")
                    .ignore();
                p.cmd("ZADD")
                    .arg(format!("bulkz:{j}"))
                    .arg(j)
                    .arg("m")
                    .ignore();
                p.cmd("SADD")
                    .arg(format!("bulks:{j}"))
                    .arg(j)
                    .arg("z")
                    .ignore();
            }
        }
        p.query::<()>(&mut con).expect("preload");
        i += 1000;
    }
}

// ---------------------------------------------------------------------------------------------
// Background writer

/// What a key must hold after the writer's acknowledged writes.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    Absent,
    Str(String),
    List(Vec<String>),
    Hash(BTreeMap<String, String>),
    Set(BTreeSet<String>),
    Zset(BTreeMap<String, i64>),
}

/// The writer's record: per db, key → expected content; keys whose last write had an unknown
/// outcome (the connection broke before the reply) are left out of the check.
#[derive(Default, Debug)]
pub struct Model {
    pub dbs: Vec<HashMap<String, Expect>>,
    pub uncertain: HashSet<(usize, String)>,
    /// Acknowledged write commands (a MULTI/EXEC counts each command).
    pub acked: u64,
    pub transactions: u64,
}

impl Model {
    /// Checks every recorded key on `node`; panics listing the first mismatches.
    pub fn verify(&self, node: &Node) {
        let mut bad = Vec::new();
        for (db, keys) in self.dbs.iter().enumerate() {
            let mut con = node.new_con_db(db);
            let list: Vec<(&String, &Expect)> = keys
                .iter()
                .filter(|(k, _)| !self.uncertain.contains(&(db, (*k).clone())))
                .collect();
            for chunk in list.chunks(500) {
                let mut p = redis::pipe();
                for (k, e) in chunk {
                    match e {
                        Expect::Absent => p.cmd("EXISTS").arg(k.as_str()),
                        Expect::Str(_) => p.cmd("GET").arg(k.as_str()),
                        Expect::List(_) => p.cmd("LRANGE").arg(k.as_str()).arg(0).arg(-1),
                        Expect::Hash(_) => p.cmd("HGETALL").arg(k.as_str()),
                        Expect::Set(_) => p.cmd("SMEMBERS").arg(k.as_str()),
                        Expect::Zset(_) => p
                            .cmd("ZRANGE")
                            .arg(k.as_str())
                            .arg(0)
                            .arg(-1)
                            .arg("WITHSCORES"),
                    };
                }
                let replies: Vec<Value> = p.query(&mut con).expect("verify reads");
                for ((k, e), v) in chunk.iter().zip(replies) {
                    let got = decode(e, &v);
                    if got.as_ref() != Some(*e) {
                        bad.push(format!("db{db} {k}: expected {e:?}, got {v:?}"));
                    }
                }
            }
        }
        assert!(
            bad.is_empty(),
            "node {}: {} acknowledged writes missing or wrong, e.g.:\n{}",
            node.port,
            bad.len(),
            bad.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
        );
    }

    /// Number of keys checked by [`Model::verify`].
    pub fn checked_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.len()).sum::<usize>() - self.uncertain.len()
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) | Value::Set(a) => a.iter().map(text).collect(),
        Value::Map(m) => m.iter().flat_map(|(k, v)| [text(k), text(v)]).collect(),
        _ => vec![],
    }
}

fn decode(e: &Expect, v: &Value) -> Option<Expect> {
    Some(match e {
        Expect::Absent => match v {
            Value::Int(0) => Expect::Absent,
            _ => return None,
        },
        Expect::Str(_) => match v {
            Value::Nil => Expect::Absent,
            _ => Expect::Str(text(v)),
        },
        Expect::List(_) => Expect::List(strings(v)),
        Expect::Hash(_) => {
            let s = strings(v);
            Expect::Hash(s.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect())
        }
        Expect::Set(_) => Expect::Set(strings(v).into_iter().collect()),
        Expect::Zset(_) => {
            let s = strings(v);
            Expect::Zset(
                s.chunks(2)
                    .map(|c| (c[0].clone(), c[1].parse().unwrap_or(i64::MIN)))
                    .collect(),
            )
        }
    })
}

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A background thread writing to a master all the while (SET, INCR, LPUSH, HSET, SADD, ZADD,
/// EXPIRE, PEXPIRE with short TTLs, DEL, SELECT across dbs 0–2, sometimes MULTI/EXEC with a
/// SELECT inside), recording every acknowledged write in a [`Model`].
pub struct Writer {
    /// Every key this writer touches starts with this prefix (unique per writer).
    pub prefix: String,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
    handle: Option<JoinHandle<Model>>,
}

const DBS: usize = 3;
const KEYS_PER_FAMILY: u64 = 150;

struct Op {
    db: usize,
    key: String,
    args: Vec<String>,
}

impl Writer {
    /// Starts writing to `node` (its port and password) at about `per_sec` commands a second.
    pub fn start(node: &Node, per_sec: u32) -> Writer {
        Writer::start_port(node.port, node.opts.requirepass.clone(), per_sec)
    }

    /// A heavy writer: `batch` pipelined commands per round trip, `per_sec` round trips a
    /// second (MULTI/EXEC rounds stay as in [`Writer::start`]).
    pub fn start_batched(node: &Node, per_sec: u32, batch: usize) -> Writer {
        Writer::start_with(node.port, node.opts.requirepass.clone(), per_sec, batch)
    }

    pub fn start_port(port: u16, password: Option<String>, per_sec: u32) -> Writer {
        Writer::start_with(port, password, per_sec, 1)
    }

    fn start_with(port: u16, password: Option<String>, per_sec: u32, batch: usize) -> Writer {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let prefix = format!("w{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let (s2, a2, p2) = (stop.clone(), acked.clone(), prefix.clone());
        let handle =
            std::thread::spawn(move || writer_loop(port, password, per_sec, batch, p2, s2, a2));
        let w = Writer {
            prefix,
            stop,
            acked,
            handle: Some(handle),
        };
        // Make sure it is really writing before the scenario goes on.
        let ok = wait_until(Duration::from_secs(10), || w.acked() >= 20);
        assert!(ok, "the background writer could not write to port {port}");
        w
    }

    /// Acknowledged writes so far.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }

    /// Waits until at least `more` further writes were acknowledged.
    pub fn wait_more(&self, more: u64) {
        let target = self.acked() + more;
        let ok = wait_until(Duration::from_secs(30), || self.acked() >= target);
        assert!(ok, "the background writer stalled at {}", self.acked());
    }

    /// Stops the thread and returns its record.
    pub fn stop(mut self) -> Model {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().unwrap().join().expect("writer thread")
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A command of many kinds (non-deterministic ones included) on a small set of `{px}:r:*`
/// keys of mixed types: not modelled (WRONGTYPE and the like are fine), checked by the digests.
fn chaos_args(rng: &mut Rng, px: &str) -> Vec<String> {
    let k = |rng: &mut Rng| format!("{px}:r:{}", rng.below(12));
    let a = k(rng);
    let b = k(rng);
    let m = format!("m{}", rng.below(6));
    let v: Vec<&str> = match rng.below(40) {
        0 => vec!["SADD", &a, &m, "m1", "m2"],
        1 => vec!["SPOP", &a],
        2 => vec!["SREM", &a, &m],
        3 => vec!["SMOVE", &a, &b, &m],
        4 => vec!["INCRBYFLOAT", &a, "0.1"],
        5 => vec!["HINCRBYFLOAT", &a, &m, "1.5"],
        6 => vec!["HSET", &a, &m, "x", "f", "y"],
        7 => vec!["HDEL", &a, &m],
        8 => vec!["RPUSH", &a, &m, "x", "y"],
        9 => vec!["LPOP", &a],
        10 => vec!["RPOP", &a, "2"],
        11 => vec!["LMOVE", &a, &b, "LEFT", "RIGHT"],
        12 => vec!["RPOPLPUSH", &a, &b],
        13 => vec!["LTRIM", &a, "0", "3"],
        14 => vec!["ZADD", &a, "1.5", &m, "2", "n"],
        15 => vec!["ZINCRBY", &a, "2.5", &m],
        16 => vec!["ZPOPMIN", &a],
        17 => vec!["ZPOPMAX", &a, "2"],
        18 => vec!["ZUNIONSTORE", &b, "2", &a, &b],
        19 => vec!["SUNIONSTORE", &b, &a, &b],
        20 => vec!["GETEX", &a, "EX", "1000"],
        21 => vec!["GETEX", &a, "PERSIST"],
        22 => vec!["SETEX", &a, "1000", "sx"],
        23 => vec!["PSETEX", &a, "200", "short"],
        24 => vec!["SET", &a, "kt", "KEEPTTL"],
        25 => vec!["SET", &a, "g", "GET"],
        26 => vec!["GETDEL", &a],
        27 => vec!["APPEND", &a, "ap"],
        28 => vec!["SETRANGE", &a, "3", "rng"],
        29 => vec!["INCRBY", &a, "7"],
        30 => vec!["RENAME", &a, &b],
        31 => vec!["COPY", &a, &b, "REPLACE"],
        32 => vec!["MOVE", &a, "1"],
        33 => vec!["EXPIRE", &a, "1000", "NX"],
        34 => vec!["PEXPIRE", &a, "300"],
        35 => vec!["PERSIST", &a],
        36 => vec!["LINSERT", &a, "BEFORE", "x", &m],
        37 => vec!["SETNX", &a, "nx"],
        38 => vec!["UNLINK", &a, &b],
        _ => vec!["MSET", &a, "ms1", &b, "ms2"],
    };
    v.into_iter().map(String::from).collect()
}

fn gen_op(rng: &mut Rng, px: &str, db: usize, seq: u64) -> Op {
    if rng.below(4) == 0 {
        let args = chaos_args(rng, px);
        return Op {
            db,
            key: args[1].clone(),
            args,
        };
    }
    let i = rng.below(KEYS_PER_FAMILY);
    let fam = ["s", "c", "l", "h", "t", "z", "x", "d", "e"][rng.below(9) as usize];
    let (key, args): (String, Vec<String>) = match fam {
        "s" => {
            let k = format!("{px}:s:{i}");
            (k.clone(), vec!["SET".into(), k, format!("v{seq}")])
        }
        "c" => {
            let k = format!("{px}:c:{i}");
            (k.clone(), vec!["INCR".into(), k])
        }
        "l" => {
            let k = format!("{px}:l:{i}");
            (k.clone(), vec!["LPUSH".into(), k, format!("e{seq}")])
        }
        "h" => {
            let k = format!("{px}:h:{i}");
            let f = format!("f{}", rng.below(8));
            (k.clone(), vec!["HSET".into(), k, f, format!("{seq}")])
        }
        "t" => {
            let k = format!("{px}:t:{i}");
            (
                k.clone(),
                vec!["SADD".into(), k, format!("m{}", rng.below(20))],
            )
        }
        "z" => {
            let k = format!("{px}:z:{i}");
            let m = format!("m{}", rng.below(20));
            (k.clone(), vec!["ZADD".into(), k, format!("{seq}"), m])
        }
        "x" => {
            // A long TTL on an existing string: changes the digest, never expires in a test.
            let k = format!("{px}:s:{i}");
            (k.clone(), vec!["EXPIRE".into(), k, "100000".into()])
        }
        "d" => {
            let f = ["s", "c", "l", "h", "t", "z"][rng.below(6) as usize];
            let k = format!("{px}:{f}:{i}");
            (k.clone(), vec!["DEL".into(), k])
        }
        _ => {
            // Short-lived keys: the master expires them and propagates DEL.
            let k = format!("{px}:e:{i}");
            let ms = 50 + rng.below(400);
            (
                k.clone(),
                vec![
                    "SET".into(),
                    k,
                    format!("{seq}"),
                    "PX".into(),
                    ms.to_string(),
                ],
            )
        }
    };
    Op { db, key, args }
}

fn apply(model: &mut Model, op: &Op, reply: &Value) {
    let m = &mut model.dbs[op.db];
    let cmd = op.args[0].as_str();
    if matches!(reply, Value::ServerError(_)) {
        return;
    }
    model.acked += 1;
    if op.key.contains(":e:") || op.key.contains(":r:") {
        // Expires by itself: only the digests check it.
        return;
    }
    match cmd {
        "SET" => {
            m.insert(op.key.clone(), Expect::Str(op.args[2].clone()));
        }
        "INCR" => {
            if let Value::Int(n) = reply {
                m.insert(op.key.clone(), Expect::Str(n.to_string()));
            }
        }
        "LPUSH" => {
            let e = m
                .entry(op.key.clone())
                .or_insert_with(|| Expect::List(vec![]));
            if !matches!(e, Expect::List(_)) {
                *e = Expect::List(vec![]);
            }
            if let Expect::List(l) = e {
                l.insert(0, op.args[2].clone());
            }
        }
        "HSET" => {
            let e = m
                .entry(op.key.clone())
                .or_insert_with(|| Expect::Hash(BTreeMap::new()));
            if !matches!(e, Expect::Hash(_)) {
                *e = Expect::Hash(BTreeMap::new());
            }
            if let Expect::Hash(h) = e {
                h.insert(op.args[2].clone(), op.args[3].clone());
            }
        }
        "SADD" => {
            let e = m
                .entry(op.key.clone())
                .or_insert_with(|| Expect::Set(BTreeSet::new()));
            if !matches!(e, Expect::Set(_)) {
                *e = Expect::Set(BTreeSet::new());
            }
            if let Expect::Set(s) = e {
                s.insert(op.args[2].clone());
            }
        }
        "ZADD" => {
            let e = m
                .entry(op.key.clone())
                .or_insert_with(|| Expect::Zset(BTreeMap::new()));
            if !matches!(e, Expect::Zset(_)) {
                *e = Expect::Zset(BTreeMap::new());
            }
            if let Expect::Zset(z) = e {
                z.insert(op.args[3].clone(), op.args[2].parse().unwrap());
            }
        }
        "DEL" => {
            m.insert(op.key.clone(), Expect::Absent);
        }
        _ => {}
    }
}

fn pack(args: &[String]) -> Vec<u8> {
    let mut c = redis::cmd(&args[0]);
    for a in &args[1..] {
        c.arg(a.as_str());
    }
    c.get_packed_command()
}

fn writer_loop(
    port: u16,
    password: Option<String>,
    per_sec: u32,
    batch: usize,
    px: String,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
) -> Model {
    let url = match &password {
        Some(pw) => format!("redis://:{pw}@127.0.0.1:{port}/0"),
        None => format!("redis://127.0.0.1:{port}/0"),
    };
    let connect = || -> Option<redis::Connection> {
        let c = redis::Client::open(url.as_str())
            .ok()?
            .get_connection_with_timeout(Duration::from_secs(2))
            .ok()?;
        c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        Some(c)
    };
    let mut model = Model {
        dbs: vec![HashMap::new(); DBS],
        ..Model::default()
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((port as u64) << 17) ^ px.len() as u64);
    let mut con: Option<redis::Connection> = None;
    let mut cur_db = 0usize;
    let mut seq = 0u64;
    let period = Duration::from_secs_f64(1.0 / per_sec.max(1) as f64);
    let started = Instant::now();
    let mut issued = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // Pace: at most per_sec commands a second on average.
        let due = started + period * issued as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        if con.is_none() {
            con = connect();
            cur_db = 0;
            if con.is_none() {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        }
        let c = con.as_mut().unwrap();
        let db = rng.below(DBS as u64) as usize;
        let mut touched: Vec<(usize, String)> = Vec::new();
        let result: redis::RedisResult<()> = (|| {
            if db != cur_db {
                c.req_packed_command(&pack(&["SELECT".into(), db.to_string()]))?;
                cur_db = db;
            }
            if rng.below(10) == 0 {
                // MULTI/EXEC of 2–4 writes, sometimes with a SELECT in the middle.
                let n = 2 + rng.below(3);
                let mut ops = Vec::new();
                let mut tdb = cur_db;
                let r = c.req_packed_command(&pack(&["MULTI".into()]))?;
                if !matches!(r, Value::Okay) {
                    return Ok(());
                }
                for j in 0..n {
                    if j == 1 && rng.below(2) == 0 {
                        let ndb = (tdb + 1) % DBS;
                        c.req_packed_command(&pack(&["SELECT".into(), ndb.to_string()]))?;
                        tdb = ndb;
                        ops.push(None);
                    }
                    seq += 1;
                    let op = gen_op(&mut rng, &px, tdb, seq);
                    touched.push((tdb, op.key.clone()));
                    c.req_packed_command(&pack(&op.args))?;
                    ops.push(Some(op));
                }
                let r = c.req_packed_command(&pack(&["EXEC".into()]))?;
                if let Value::Array(replies) = r {
                    for (op, rep) in ops.iter().zip(replies.iter()) {
                        if let Some(op) = op {
                            apply(&mut model, op, rep);
                        }
                    }
                    model.transactions += 1;
                    cur_db = tdb;
                }
            } else if batch > 1 {
                let mut ops = Vec::with_capacity(batch);
                let mut packed = Vec::new();
                for _ in 0..batch {
                    seq += 1;
                    let op = gen_op(&mut rng, &px, cur_db, seq);
                    touched.push((cur_db, op.key.clone()));
                    packed.extend_from_slice(&pack(&op.args));
                    ops.push(op);
                }
                let replies = c.req_packed_commands(&packed, 0, batch)?;
                for (op, r) in ops.iter().zip(replies.iter()) {
                    apply(&mut model, op, r);
                }
            } else {
                seq += 1;
                let op = gen_op(&mut rng, &px, cur_db, seq);
                touched.push((cur_db, op.key.clone()));
                let r = c.req_packed_command(&pack(&op.args))?;
                apply(&mut model, &op, &r);
            }
            Ok(())
        })();
        issued += 1;
        if result.is_err() {
            // Outcome unknown: leave these keys out of the check and reconnect.
            for t in touched {
                model.uncertain.insert(t);
            }
            con = None;
        }
        acked.store(model.acked, Ordering::Relaxed);
    }
    model
}

// ---------------------------------------------------------------------------------------------
// A fake replica speaking the replication protocol over raw TCP

/// A raw connection that plays a replica: handshake, PSYNC, RDB transfer, then the stream.
pub struct FakeReplica {
    pub stream: std::net::TcpStream,
    buf: Vec<u8>,
    /// Bytes of the replication stream consumed since the RDB (or +CONTINUE).
    pub consumed: u64,
}

impl FakeReplica {
    /// Connects to `master` and authenticates with its requirepass.
    pub fn connect(master: &Node) -> FakeReplica {
        let stream = std::net::TcpStream::connect(("127.0.0.1", master.port)).expect("connect");
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut f = FakeReplica {
            stream,
            buf: Vec::new(),
            consumed: 0,
        };
        if let Some(pw) = &master.opts.requirepass {
            f.send(&["AUTH", pw]);
            assert_eq!(f.line(), "+OK");
        }
        f
    }

    /// Sends a command as a RESP array.
    pub fn send(&mut self, args: &[&str]) {
        use std::io::Write;
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.stream.write_all(&super::resp(&a)).expect("write");
    }

    fn fill(&mut self) -> bool {
        use std::io::Read;
        let mut tmp = [0u8; 65536];
        match self.stream.read(&mut tmp) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
            Err(e) => panic!("fake replica read: {e}"),
        }
    }

    /// The next reply line without CRLF; the bare newlines a master sends while it prepares
    /// the RDB are skipped.
    pub fn line(&mut self) -> String {
        loop {
            while self.buf.first() == Some(&b'\n') {
                self.buf.remove(0);
            }
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l = String::from_utf8_lossy(&self.buf[..p]).into_owned();
                self.buf.drain(..p + 2);
                return l;
            }
            assert!(self.fill(), "connection closed while reading a line");
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill(), "connection closed while reading {n} bytes");
        }
        self.buf.drain(..n).collect()
    }

    /// REPLCONF listening-port and capa eof/psync2, as a Redis 7.0 replica sends them.
    pub fn handshake(&mut self, listening_port: u16) {
        self.send(&["REPLCONF", "listening-port", &listening_port.to_string()]);
        assert_eq!(self.line(), "+OK");
        self.send(&["REPLCONF", "capa", "eof", "capa", "psync2"]);
        assert_eq!(self.line(), "+OK");
    }

    /// Reads the RDB payload after +FULLRESYNC: `$<len>\r\n<bytes>` (disk-based) or
    /// `$EOF:<40-byte mark>\r\n<bytes><mark>` (diskless). Returns (payload, diskless).
    pub fn read_rdb(&mut self) -> (Vec<u8>, bool) {
        let head = self.line();
        let head = head
            .strip_prefix('$')
            .unwrap_or_else(|| panic!("RDB header: {head:?}"))
            .to_string();
        if let Some(mark) = head.strip_prefix("EOF:") {
            assert_eq!(mark.len(), 40, "EOF mark {mark:?}");
            let mark = mark.as_bytes().to_vec();
            loop {
                if let Some(p) = self.buf.windows(40).position(|w| w == mark.as_slice()) {
                    let rdb: Vec<u8> = self.buf.drain(..p).collect();
                    self.buf.drain(..40);
                    self.consumed = 0;
                    return (rdb, true);
                }
                assert!(self.fill(), "connection closed in the RDB");
            }
        }
        let len: usize = head.parse().expect("RDB length");
        let rdb = self.take(len);
        self.consumed = 0;
        (rdb, false)
    }

    /// The next command of the replication stream (None when nothing arrives within `wait`).
    pub fn command(&mut self, wait: Duration) -> Option<Vec<String>> {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let deadline = Instant::now() + wait;
        let r = loop {
            if let Some((cmd, used)) = parse_array(&self.buf) {
                self.buf.drain(..used);
                self.consumed += used as u64;
                break Some(cmd);
            }
            if Instant::now() > deadline {
                break None;
            }
            use std::io::Read;
            let mut tmp = [0u8; 65536];
            match self.stream.read(&mut tmp) {
                Ok(0) => panic!("master closed the replication link"),
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(_) => break None,
            }
        };
        self.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        r
    }

    /// Reads stream commands until `pred` matches one (panics after `wait`); returns all read.
    pub fn until(
        &mut self,
        wait: Duration,
        mut pred: impl FnMut(&[String]) -> bool,
    ) -> Vec<Vec<String>> {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.command(left.max(Duration::from_millis(1))) {
                Some(c) => {
                    let hit = pred(&c);
                    seen.push(c);
                    if hit {
                        return seen;
                    }
                }
                None => panic!("not seen within {wait:?}; stream so far: {seen:?}"),
            }
        }
    }

    /// True when the master closes the link within `wait` (data still in flight is discarded).
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        use std::io::Read;
        let deadline = Instant::now() + wait;
        self.stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut tmp = [0u8; 65536];
        while Instant::now() < deadline {
            match self.stream.read(&mut tmp) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => {}
            }
        }
        false
    }
}

/// Parses one RESP array of bulk strings at the start of `b`: (arguments, bytes used).
fn parse_array(b: &[u8]) -> Option<(Vec<String>, usize)> {
    fn line(b: &[u8], at: usize) -> Option<(&[u8], usize)> {
        let p = b[at..].windows(2).position(|w| w == b"\r\n")?;
        Some((&b[at..at + p], at + p + 2))
    }
    let (head, mut at) = line(b, 0)?;
    assert_eq!(
        head.first(),
        Some(&b'*'),
        "stream: {:?}",
        String::from_utf8_lossy(b)
    );
    let n: usize = std::str::from_utf8(&head[1..]).ok()?.parse().ok()?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (h, next) = line(b, at)?;
        assert_eq!(h.first(), Some(&b'$'));
        let len: usize = std::str::from_utf8(&h[1..]).ok()?.parse().ok()?;
        if b.len() < next + len + 2 {
            return None;
        }
        out.push(String::from_utf8_lossy(&b[next..next + len]).into_owned());
        at = next + len + 2;
    }
    Some((out, at))
}
