//! Issue #10, "nothing security- or durability-relevant is silently ignored": a directive
//! whose non-default value asks for something redrepl does not implement (TLS, ACL users,
//! AOF, cluster, keyspace events, ...) stops start-up at its `file:line` before any data is
//! touched, and CONFIG SET refuses it; tuning directives stay accepted and logged.

mod common;

use common::{Server, err_text, free_port, q};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child by PID if it is still running when dropped (a server that started
/// although it should have refused must not outlive the test).
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `redrepl server <conf>` and waits for it to exit (up to 10 s); returns the exit
/// status (None: still running, which is a failure for the caller) and stderr + stdout.
fn run_to_exit(conf: &Path) -> (Option<std::process::ExitStatus>, String) {
    let out_path = conf.with_extension("out");
    let out = std::fs::File::create(&out_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_redrepl"))
        .arg("server")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = guard.0.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(guard);
    (
        status,
        std::fs::read_to_string(&out_path).unwrap_or_default(),
    )
}

/// Every file in `dir` with its bytes, sorted.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn start_up_refuses_each_unsupported_class_at_its_line_and_touches_no_data() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // A dump that must be neither loaded nor rewritten nor removed.
    std::fs::write(data.join("dump.rdb"), b"REDIS0010 not really a dump").unwrap();
    let before = snapshot(&data);
    let cases = [
        // (line, class word in the reason)
        ("shutdown-on-sigterm nosave", "durability"),
        ("tls-key-file-pass Sup3rS3cret", "security"),
        ("tls-ciphers HIGH", "security"),
        ("cluster-enabled yes", "data model"),
        ("loadmodule /usr/lib/redis/modules/x.so", "data model"),
        ("unixsocket /tmp/redrepl-test.sock", "Unix socket"),
    ];
    for (i, (line, class)) in cases.iter().enumerate() {
        let conf = tmp.path().join(format!("c{i}.conf"));
        std::fs::write(
            &conf,
            format!(
                "port {}\ndir {}\n{line}\nsave 1 1\n",
                free_port(),
                data.display()
            ),
        )
        .unwrap();
        let (status, out) = run_to_exit(&conf);
        let status = status.unwrap_or_else(|| panic!("`{line}`: the server started:\n{out}"));
        assert_eq!(status.code(), Some(1), "`{line}`:\n{out}");
        let name = line.split_whitespace().next().unwrap();
        assert!(
            out.contains("*** FATAL CONFIG FILE ERROR")
                && out.contains(&format!("at {}:3", conf.display()))
                && out.contains(&format!("{name} is not supported by redrepl (yet)"))
                && out.contains(class),
            "`{line}`:\n{out}"
        );
        assert!(
            !out.contains("Sup3rS3cret"),
            "a password was printed:\n{out}"
        );
        assert_eq!(snapshot(&data), before, "`{line}` touched the data dir");
    }
    assert!(!Path::new("/tmp/redrepl-test.sock").exists());
}

#[test]
fn the_default_value_in_any_spelling_still_starts() {
    let s = Server::start(&[
        "--appendonly",
        "NO",
        "--tls-port",
        "0",
        "--notify-keyspace-events",
        "",
        "--cluster-enabled",
        "no",
    ]);
    let mut c = s.conn();
    assert_eq!(
        q(&mut c, &["PING"]),
        redis::Value::SimpleString("PONG".into())
    );
}

#[test]
fn config_set_refuses_unsupported_values_as_redis_shapes_errors() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    assert_eq!(
        err_text(&q(
            &mut c,
            &["CONFIG", "SET", "replica-ignore-maxmemory", "no"]
        )),
        "ERR CONFIG SET failed (possibly related to argument 'replica-ignore-maxmemory') - \
         replica-ignore-maxmemory is not supported by redrepl (yet) except with its default \
         'yes': data model: a replica never evicts keys by itself, only the master's DELs \
         remove them"
    );
    for (name, value) in [("tls-cluster", "yes"), ("shutdown-on-sigint", "nosave")] {
        let e = err_text(&q(&mut c, &["CONFIG", "SET", name, value]));
        assert!(
            e.starts_with(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {name} is not \
                 supported by redrepl (yet)"
            )),
            "{e}"
        );
    }
    // All or nothing: a refused pair leaves the others unset too.
    let e = q(&mut c, &["CONFIG", "SET", "hz", "20", "tls-cluster", "yes"]);
    assert!(err_text(&e).contains("'tls-cluster'"));
    assert_eq!(
        q(&mut c, &["CONFIG", "GET", "hz"]),
        redis::Value::Array(vec![
            redis::Value::BulkString(b"hz".to_vec()),
            redis::Value::BulkString(b"10".to_vec())
        ])
    );
    // Defaults and tuning knobs are accepted.
    for (name, value) in [
        ("appendonly", "no"),
        ("tls-cluster", "no"),
        ("activerehashing", "no"),
        ("lazyfree-lazy-user-del", "yes"),
    ] {
        assert_eq!(
            q(&mut c, &["CONFIG", "SET", name, value]),
            redis::Value::Okay,
            "{name}"
        );
    }
}

#[test]
fn immutable_and_non_config_directives_answer_as_redis_server() {
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    for args in [
        ["CONFIG", "SET", "cluster-enabled", "yes"],
        ["CONFIG", "SET", "io-threads", "4"],
        ["CONFIG", "SET", "unixsocket", "/tmp/x.sock"],
        ["CONFIG", "SET", "user", "default"],
        ["CONFIG", "SET", "loadmodule", "/x.so"],
        ["CONFIG", "SET", "always-show-logo", "yes"],
    ] {
        let a = q(&mut ours.conn(), &args);
        let b = q(&mut redis.conn(), &args);
        assert_eq!(err_text(&a), err_text(&b), "{args:?}");
    }
}

#[test]
fn protected_configs_need_enable_protected_configs_as_redis_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // Default (no): refused with Redis's text, before any other pair of the same CONFIG SET
    // is applied.
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    for args in [
        ["CONFIG", "SET", "dir", d],
        ["CONFIG", "SET", "dbfilename", "other.rdb"],
        ["CONFIG", "SET", "enable-protected-configs", "yes"],
    ] {
        let a = q(&mut ours.conn(), &args);
        let b = q(&mut redis.conn(), &args);
        assert_eq!(err_text(&a), err_text(&b), "{args:?}");
    }
    assert_eq!(
        err_text(&q(&mut ours.conn(), &["CONFIG", "SET", "dir", d])),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    let mut c = ours.conn();
    assert!(err_text(&q(&mut c, &["CONFIG", "SET", "hz", "7", "dir", d])).contains("protected"));
    assert_eq!(
        q(&mut c, &["CONFIG", "GET", "hz"]),
        q(&mut redis.conn(), &["CONFIG", "GET", "hz"])
    );
    // local: allowed from this (loopback) connection, on both engines; yes: allowed.
    for flag in ["local", "yes"] {
        let ours = Server::start(&["--enable-protected-configs", flag]);
        let redis = Server::start_redis(&["--enable-protected-configs", flag]);
        for s in [&ours, &redis] {
            let mut c = s.conn();
            assert_eq!(
                q(&mut c, &["CONFIG", "SET", "dbfilename", "other.rdb"]),
                redis::Value::Okay,
                "{flag}"
            );
            assert_eq!(
                q(&mut c, &["CONFIG", "GET", "enable-protected-configs"]),
                redis::Value::Array(vec![
                    redis::Value::BulkString(b"enable-protected-configs".to_vec()),
                    redis::Value::BulkString(flag.as_bytes().to_vec()),
                ])
            );
        }
    }
}

#[test]
fn tuning_directives_are_accepted_and_logged() {
    let s = Server::start(&["--activerehashing", "no", "--lazyfree-lazy-eviction", "yes"]);
    let log = s.log();
    assert!(
        log.contains(
            "Directives accepted but not implemented by redrepl (ignored): activerehashing, \
             lazyfree-lazy-eviction"
        ),
        "{log}"
    );
}

#[test]
fn a_malformed_line_still_stops_start_up_at_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("bad.conf");
    std::fs::write(&conf, format!("port {}\nhz lots\n", free_port())).unwrap();
    let (status, out) = run_to_exit(&conf);
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "Reading the configuration file, at {}:2\n>>> 'hz lots'\nargument couldn't be \
             parsed into an integer",
            conf.display()
        )),
        "{out}"
    );
}
