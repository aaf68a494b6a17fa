//! Integration tests of the configuration subsystem against the real binary: loading
//! Debian's redis.conf, start-up errors with file:line, CONFIG GET/SET/REWRITE round trips
//! through the `redis` crate, and no password in any log or error output.

mod common;

use common::{Kind, ServerBuilder, free_port};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const NEED_REDIS: &str = "/etc/redis/redis.conf is missing: install Debian's redis-server (apt-get install -y redis-server)";

/// `redrepl server` from the shared harness with only the arguments a test gives (and the
/// port it picked), in `dir`.
fn redrepl(dir: &Path, port: u16) -> ServerBuilder {
    common::Server::builder(Kind::Redrepl)
        .bare()
        .dir(dir)
        .port(port)
}

/// A connection, authenticated when `password` is given.
fn connect(s: &common::Server, password: Option<&str>) -> redis::RedisResult<redis::Connection> {
    let url = match password {
        Some(p) => format!("redis://:{p}@127.0.0.1:{}/", s.port),
        None => s.url(),
    };
    redis::Client::open(url)?.get_connection()
}

/// Runs the server expecting it to refuse to start; returns stdout + stderr.
fn start_fails(conf: Option<&Path>, args: &[&str]) -> String {
    let mut b = common::Server::builder(Kind::Redrepl).bare().args(args);
    if let Some(c) = conf {
        b = b.config_file(c);
    }
    b.start_fails()
}

fn config_get(con: &mut redis::Connection, name: &str) -> String {
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query(con)
        .unwrap();
    assert_eq!(v.len(), 2, "{v:?}");
    v[1].clone()
}

#[test]
fn debian_redis_conf_loads_and_server_answers_ping() {
    let text = std::fs::read_to_string("/etc/redis/redis.conf").expect(NEED_REDIS);
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("redis.conf");
    std::fs::write(&conf, text).unwrap();
    let port = free_port();
    let d = dir.path().to_str().unwrap();
    let log = format!("{d}/redis.log");
    let pid = format!("{d}/redis.pid");
    let port_s = port.to_string();
    let args = [
        "--daemonize",
        "no",
        "--port",
        &port_s,
        "--dir",
        d,
        "--logfile",
        &log,
        "--pidfile",
        &pid,
    ];
    let s = redrepl(dir.path(), port)
        .config_file(&conf)
        .args(&args)
        .start();
    let mut con = connect(&s, None).unwrap();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    assert_eq!(config_get(&mut con, "appendonly"), "no");
    assert_eq!(config_get(&mut con, "hash-max-listpack-entries"), "512");
    assert_eq!(config_get(&mut con, "port"), port_s);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("ignored") && logged.contains("jemalloc-bg-thread"),
        "{logged}"
    );
}

#[test]
fn typo_in_config_stops_start_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(
        &conf,
        format!("# comment\nport {}\nmaxmemroy 1gb\n", free_port()),
    )
    .unwrap();
    let out = start_fails(Some(&conf), &[]);
    assert!(out.contains(&format!("{}:3", conf.display())), "{out}");
    assert!(
        out.contains("Bad directive or wrong number of arguments"),
        "{out}"
    );
    assert!(out.contains(">>> 'maxmemroy 1gb'"), "{out}");
}

#[test]
fn bad_value_stops_start_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(
        &conf,
        format!("port {}\n\ndaemonize perhaps\n", free_port()),
    )
    .unwrap();
    let out = start_fails(Some(&conf), &[]);
    assert!(out.contains(&format!("{}:3", conf.display())), "{out}");
    assert!(out.contains("argument must be 'yes' or 'no'"), "{out}");
    let out = start_fails(None, &["--port", "99999"]);
    assert!(
        out.contains("argument must be between 0 and 65535 inclusive"),
        "{out}"
    );
}

#[test]
fn bad_sensitive_line_never_prints_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "requirepass Sup3rS3cretValue extra\n").unwrap();
    let out = start_fails(Some(&conf), &[]);
    assert!(out.contains(&format!("{}:1", conf.display())), "{out}");
    assert!(!out.contains("Sup3rS3cretValue"), "{out}");
    let port = free_port().to_string();
    let out = start_fails(
        None,
        &["--port", &port, "--masterauth", "Sup3rS3cretValue", "extra"],
    );
    assert!(out.contains("wrong number of arguments"), "{out}");
    assert!(!out.contains("Sup3rS3cretValue"), "{out}");
}

#[test]
fn config_get_set_rewrite_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let port = free_port();
    let conf = dir.path().join("node.conf");
    let original = format!(
        "# node config\nport {port}\n# persistence\ndir {d}\nsave 900 1\nlogfile \"{d}/node.log\"\nloglevel verbose\n\
         requirepass Pa55wordOne\nappendonly no\nenable-protected-configs local\n# end\n"
    );
    std::fs::write(&conf, &original).unwrap();
    let s = redrepl(dir.path(), port)
        .config_file(&conf)
        .password("Pa55wordOne")
        .start();
    // requirepass is enforced, and CONFIG GET returns it to an authenticated client.
    let mut anon = connect(&s, None).unwrap();
    let e = redis::cmd("CONFIG")
        .arg("GET")
        .arg("port")
        .query::<Vec<String>>(&mut anon)
        .unwrap_err();
    assert!(e.to_string().contains("NOAUTH"), "{e}");
    let mut con = connect(&s, Some("Pa55wordOne")).unwrap();
    assert_eq!(config_get(&mut con, "requirepass"), "Pa55wordOne");
    assert_eq!(config_get(&mut con, "save"), "900 1");
    assert_eq!(config_get(&mut con, "maxmemory"), "0");

    // SET: several at once, atomic, errors in Redis's words.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("100mb")
        .arg("slave-read-only")
        .arg("no")
        .query(&mut con)
        .unwrap();
    assert_eq!(config_get(&mut con, "maxmemory"), "104857600");
    assert_eq!(config_get(&mut con, "replica-read-only"), "no");
    let e = redis::cmd("CONFIG")
        .arg("SET")
        .arg("hz")
        .arg("20")
        .arg("protected-mode")
        .arg("maybe")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        e.to_string().contains("argument must be 'yes' or 'no'"),
        "{e}"
    );
    assert_eq!(
        config_get(&mut con, "hz"),
        "10",
        "a failed CONFIG SET changes nothing"
    );
    let e = redis::cmd("CONFIG")
        .arg("SET")
        .arg("daemonize")
        .arg("yes")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(e.to_string().contains("can't set immutable config"), "{e}");
    let e = redis::cmd("CONFIG")
        .arg("SET")
        .arg("foo")
        .arg("bar")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("Unknown option or number of arguments for CONFIG SET - 'foo'"),
        "{e}"
    );

    // A new password applies to new AUTH at once.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("Pa55wordTwo")
        .query(&mut con)
        .unwrap();
    assert!(connect(&s, Some("Pa55wordOne")).is_err());
    let mut con2 = connect(&s, Some("Pa55wordTwo")).unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("save")
        .arg("")
        .query(&mut con2)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con2)
        .unwrap();

    let e = redis::cmd("CONFIG")
        .arg("SET")
        .arg("dir")
        .arg(format!("{d}/nosuch"))
        .query::<()>(&mut con2)
        .unwrap_err();
    assert!(e.to_string().contains("No such file or directory"), "{e}");
    let canon = std::fs::canonicalize(&d).unwrap().display().to_string();
    assert_eq!(config_get(&mut con2, "dir"), canon);

    // REWRITE keeps comments and order, updates in place, appends the rest.
    let _: () = redis::cmd("CONFIG")
        .arg("REWRITE")
        .query(&mut con2)
        .unwrap();
    let dabs = std::fs::canonicalize(&d).unwrap().display().to_string();
    let text = std::fs::read_to_string(&conf).unwrap();
    let want = format!(
        "# node config\nport {port}\n# persistence\ndir {dabs}\nsave \"\"\nlogfile \"{d}/node.log\"\nloglevel verbose\n\
         requirepass Pa55wordTwo\nappendonly no\nenable-protected-configs local\n# end\n# Generated by CONFIG REWRITE\nmaxmemory 100mb\nreplica-read-only no\n\
         user default on #{} ~* &* +@all\n",
        // Redis rewrites every live user as a `user` line when no aclfile is set (the
        // default user too, its password as SHA-256), as redis-server 7.0 does.
        sha256_hex(b"Pa55wordTwo")
    );
    assert_eq!(text, want);
    drop(con);
    drop(con2);
    let mut stdout = s.log();
    drop(s);

    // The rewritten file starts a server with the same settings.
    let s = redrepl(dir.path(), port)
        .config_file(&conf)
        .password("Pa55wordTwo")
        .start();
    let mut con = connect(&s, Some("Pa55wordTwo")).unwrap();
    assert_eq!(config_get(&mut con, "maxmemory"), "104857600");
    assert_eq!(config_get(&mut con, "save"), "");
    assert_eq!(config_get(&mut con, "slave-read-only"), "no");
    stdout.push_str(&s.log());
    drop(s);

    // No password in the log or on stdout.
    let log = std::fs::read_to_string(dir.path().join("node.log")).unwrap();
    assert!(log.contains("Ready to accept connections"), "{log}");
    for secret in ["Pa55wordOne", "Pa55wordTwo"] {
        assert!(
            !log.contains(secret) && !stdout.contains(secret),
            "{secret} leaked"
        );
    }
}

#[test]
fn rewrite_without_config_file_is_an_error_and_loglevel_applies() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    let mut s = common::Server::builder(Kind::Redrepl)
        .bare()
        .dir(dir.path())
        .args(&["--save", "", "--logfile", log.to_str().unwrap()])
        .start();
    let mut con = connect(&s, None).unwrap();
    let e = redis::cmd("CONFIG")
        .arg("REWRITE")
        .query::<()>(&mut con)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("The server is running without a config file"),
        "{e}"
    );
    assert_eq!(config_get(&mut con, "save"), "");
    let other = dir.path().join("b.log");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("logfile")
        .arg(other.to_str().unwrap())
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("loglevel")
        .arg("warning")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("loglevel")
        .arg("notice")
        .query(&mut con)
        .unwrap();
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<()>(&mut con);
    s.wait_exit(Duration::from_secs(10));
    drop(s);
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("Ready to accept connections")
    );
    let moved = std::fs::read_to_string(&other).unwrap_or_default();
    assert!(
        moved.contains("Redis is now ready to exit"),
        "log lines after CONFIG SET logfile: {moved}"
    );
}

/// A daemonized server, killed by the PID in its pidfile when dropped.
struct Daemon {
    pid: i32,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) on the PID our own server wrote.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
        }
    }
}

#[test]
fn seed_edited_debian_conf_daemonizes_and_never_logs_the_password() {
    let text = std::fs::read_to_string("/etc/redis/redis.conf").expect(NEED_REDIS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let port = free_port();
    let mut out = String::new();
    for line in text.lines() {
        let edited = match line.split_whitespace().next() {
            Some("daemonize") => "daemonize yes".to_string(),
            Some("bind") => format!("# {line}"),
            Some("protected-mode") => "protected-mode no".into(),
            Some("port") => format!("port {port}"),
            Some("dir") => format!("dir {d}"),
            Some("logfile") => format!("logfile \"{d}/6380.log\""),
            Some("pidfile") => format!("pidfile {d}/6380.pid"),
            Some("dbfilename") => "dbfilename dump6380.rdb".into(),
            _ => line.to_string(),
        };
        out.push_str(&edited);
        out.push('\n');
    }
    out.push_str("requirepass 1234567a\nmasterauth \"1234567a\"\nreplicaof 127.0.0.1 6379\n");
    let conf = dir.path().join("6380.conf");
    std::fs::write(&conf, out).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_redrepl"))
        .arg("server")
        .arg(&conf)
        .status()
        .unwrap();
    assert!(status.success(), "the parent exits 0 after daemonizing");
    let pidfile = dir.path().join("6380.pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "no pidfile");
        std::thread::sleep(Duration::from_millis(50));
    };
    let _guard = Daemon { pid };
    let con = loop {
        if let Ok(c) = redis::Client::open(format!("redis://:1234567a@127.0.0.1:{port}/"))
            .and_then(|c| c.get_connection())
        {
            break c;
        }
        assert!(Instant::now() < deadline, "daemon does not answer");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut con = con;
    assert_eq!(config_get(&mut con, "replicaof"), "127.0.0.1 6379");
    assert_eq!(config_get(&mut con, "masterauth"), "1234567a");
    assert_eq!(config_get(&mut con, "dbfilename"), "dump6380.rdb");
    assert_eq!(config_get(&mut con, "protected-mode"), "no");
    let _ = redis::cmd("AUTH")
        .arg("wrong-password")
        .query::<()>(&mut con);
    // The listener opens before the dataset loads (clients get -LOADING meanwhile) and,
    // as in redis-server, the "Ready" line follows the load: wait for it.
    let log_path = dir.path().join("6380.log");
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains("Ready to accept connections") || Instant::now() >= deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(log.contains("Ready to accept connections"), "{log}");
    assert!(!log.contains("1234567a"), "password in the log:\n{log}");
}

/// CONFIG GET answers an exact name as the client typed it, each name once (compared
/// case-insensitively), as redis-server does; glob matches keep the table's names.
#[test]
fn config_get_echoes_exact_names_as_typed() {
    let ours = common::Server::start(&[]);
    let theirs = common::Server::start_redis(&[]);
    let get = |s: &common::Server, names: &[&str]| {
        let mut c = s.conn();
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET");
        for n in names {
            cmd.arg(*n);
        }
        let v: Vec<String> = cmd.query(&mut c).unwrap();
        let mut pairs: Vec<(String, String)> =
            v.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
        pairs.sort();
        pairs
    };
    for names in [
        &["Maxmemory"][..],
        &["SAVE", "save", "databases"],
        &["maxmemory", "MAXMEMORY"],
        &["lfu-*", "LFU-Log-Factor", "Hz", "nosuch"],
        &["Hash-Max-Listpack-Entries", "hash-max-ziplist-entries"],
    ] {
        assert_eq!(
            get(&ours, names),
            get(&theirs, names),
            "CONFIG GET {names:?}"
        );
    }
}

/// The lowercase hex SHA-256 of `data` (how ACL shows a password).
fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A PING on a new connection to `port` answers PONG.
fn pings(port: u16) -> bool {
    pings_at("127.0.0.1", port)
}

/// A PING on a new connection to `host:port` answers PONG.
fn pings_at(host: &str, port: u16) -> bool {
    redis::Client::open(format!("redis://{host}:{port}/"))
        .and_then(|c| c.get_connection())
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok_and(|p| p == "PONG")
}

/// CONFIG SET port at run time, side by side with redis-server (Redis 7.0's
/// changeListenPort): a port in use fails with Redis's text and the old listener still
/// serves; a free port moves the listener (the old port refuses, connections made before
/// stay); CONFIG GET and CONFIG REWRITE show the new value.
#[test]
fn config_set_port_moves_the_listener_as_redis_server() {
    for kind in [Kind::Redrepl, Kind::Redis] {
        let server = common::Server::builder(kind)
            .config("# ports\n")
            .args(&["--bind", "127.0.0.1"])
            .start();
        let mut old = server.conn();
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let busy_port = busy.local_addr().unwrap().port().to_string();
        let e = common::q(&mut old, &["CONFIG", "SET", "port", &busy_port]);
        assert_eq!(
            common::err_text(&e),
            "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.",
            "{kind:?}"
        );
        assert!(pings(server.port), "{kind:?}: the old listener stopped");
        let new_port = free_port();
        let ok = common::q(&mut old, &["CONFIG", "SET", "port", &new_port.to_string()]);
        assert_eq!(ok, redis::Value::Okay, "{kind:?}");
        assert!(pings(new_port), "{kind:?}: the new port does not answer");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err(),
            "{kind:?}: the old port still accepts"
        );
        assert_eq!(
            config_get(&mut old, "port"),
            new_port.to_string(),
            "{kind:?}"
        );
        let ok = common::q(&mut old, &["CONFIG", "REWRITE"]);
        assert_eq!(ok, redis::Value::Okay, "{kind:?}");
        let text = std::fs::read_to_string(server.dir.path().join("redis.conf")).unwrap();
        assert!(
            text.lines().any(|l| l == format!("port {new_port}")),
            "{kind:?}: {text}"
        );
        drop(busy);
    }
}

/// CONFIG SET bind at run time, side by side with redis-server (Redis 7.0's
/// changeBindAddr): the old sockets close and the new addresses serve, connections made
/// before stay; a list that keeps an old address works (the old socket is closed first);
/// an address that cannot be bound fails with Redis's text and the old addresses serve
/// again; CONFIG GET shows the value in force.
#[test]
fn config_set_bind_moves_the_listeners_as_redis_server() {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): no machine has it, so bind fails.
    const UNBINDABLE: &str = "192.0.2.1";
    if std::net::TcpListener::bind("127.0.0.2:0").is_err() {
        eprintln!("skipped: the loopback has no 127.0.0.2");
        return;
    }
    for kind in [Kind::Redrepl, Kind::Redis] {
        let server = common::Server::builder(kind)
            .args(&["--bind", "127.0.0.1", "--enable-protected-configs", "yes"])
            .start();
        let port = server.port;
        let mut old = server.conn();
        let ok = common::q(&mut old, &["CONFIG", "SET", "bind", "127.0.0.2"]);
        assert_eq!(ok, redis::Value::Okay, "{kind:?}");
        assert!(
            pings_at("127.0.0.2", port),
            "{kind:?}: 127.0.0.2 does not answer"
        );
        assert!(
            !pings_at("127.0.0.1", port),
            "{kind:?}: 127.0.0.1 still answers"
        );
        let pong: String = redis::cmd("PING").query(&mut old).unwrap();
        assert_eq!(pong, "PONG", "{kind:?}");
        let e = common::q(&mut old, &["CONFIG", "SET", "bind", UNBINDABLE]);
        assert_eq!(
            common::err_text(&e),
            "ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses.",
            "{kind:?}"
        );
        assert!(
            pings_at("127.0.0.2", port),
            "{kind:?}: the old address stopped"
        );
        assert_eq!(config_get(&mut old, "bind"), "127.0.0.2", "{kind:?}");
        // A CONFIG SET failing on another directive (here applied after the new sockets
        // opened) leaves the old addresses serving.
        let missing = server.dir.path().join("missing");
        let e = common::q(
            &mut old,
            &[
                "CONFIG",
                "SET",
                "bind",
                "127.0.0.1",
                "dir",
                missing.to_str().unwrap(),
            ],
        );
        assert_eq!(
            common::err_text(&e),
            "ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory",
            "{kind:?}"
        );
        assert!(
            pings_at("127.0.0.2", port),
            "{kind:?}: the old address stopped"
        );
        assert!(!pings_at("127.0.0.1", port), "{kind:?}: 127.0.0.1 answers");
        assert_eq!(config_get(&mut old, "bind"), "127.0.0.2", "{kind:?}");
        let ok = common::q(&mut old, &["CONFIG", "SET", "bind", "127.0.0.2 127.0.0.1"]);
        assert_eq!(ok, redis::Value::Okay, "{kind:?}");
        for host in ["127.0.0.1", "127.0.0.2"] {
            assert!(pings_at(host, port), "{kind:?}: {host} does not answer");
        }
        assert_eq!(
            config_get(&mut old, "bind"),
            "127.0.0.2 127.0.0.1",
            "{kind:?}"
        );
    }
}
