//! MONITOR: the same commands give the same lines as redis-server's (timestamps and client
//! ports aside): sdscatrepr quoting, `[0 lua]` for a script's commands after the EVAL
//! line, AUTH and HELLO AUTH secrets redacted, admin commands hidden, the database after
//! SELECT, a transaction's commands before EXEC; `redis-cli monitor` prints them too.

mod common;

use common::{Kind, Server};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The commands run while a client monitors; the last one ends the capture.
const SCRIPT: &[&[&str]] = &[
    &["SET", "k", "a b\n\"c\"\\\u{1}"],
    &["AUTH", "someone", "secret"],
    &["HELLO", "2", "AUTH", "default", "secret"],
    &["EVAL", "redis.call('set','x','1') return 1", "0"],
    &["CONFIG", "GET", "port"],
    &["NOSUCHCOMMAND", "a"],
    &["SELECT", "3"],
    &["MULTI"],
    &["set", "a", "1"],
    &["EXEC"],
    &["PING"],
    &["ECHO", "end"],
];

/// `[db 127.0.0.1:port]` → `[db client]`, timestamp dropped.
fn normalize(line: &str) -> String {
    let (_, rest) = line.split_once(' ').unwrap_or(("", line));
    match rest.split_once(']') {
        Some((who, tail)) if who.contains("127.0.0.1:") => {
            let db = who.trim_start_matches('[').split(' ').next().unwrap_or("");
            format!("[{db} client]{tail}")
        }
        _ => rest.to_string(),
    }
}

fn run_script(server: &Server) {
    let mut c = server.raw();
    for cmd in SCRIPT {
        c.request(cmd);
    }
}

/// The monitor's lines over a raw connection, each checked to be a `+` status line.
fn raw_monitor_lines(kind: Kind) -> Vec<String> {
    let server = Server::builder(kind).start();
    let mut m = server.raw();
    assert_eq!(m.request(&["MONITOR"]), b"+OK\r\n");
    run_script(&server);
    let mut lines = Vec::new();
    loop {
        let raw = m.read_reply();
        let text = String::from_utf8_lossy(&raw).into_owned();
        assert!(text.starts_with('+') && text.ends_with("\r\n"), "{text:?}");
        let line = normalize(text[1..].trim_end());
        let done = line.ends_with("\"ECHO\" \"end\"");
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}

#[test]
fn monitor_lines_equal_redis_servers() {
    let ours = raw_monitor_lines(Kind::Redrepl);
    let theirs = raw_monitor_lines(Kind::Redis);
    assert_eq!(ours, theirs);
    assert!(
        ours.contains(&"[0 lua] \"set\" \"x\" \"1\"".to_string()),
        "{ours:?}"
    );
    assert!(
        ours.iter().any(|l| l.contains("\"(redacted)\"")),
        "{ours:?}"
    );
    assert!(!ours.iter().any(|l| l.contains("secret")), "{ours:?}");
}

/// RESET leaves MONITOR mode: the client then answers commands again, sees nothing more.
#[test]
fn reset_leaves_monitor_mode() {
    let server = Server::builder(Kind::Redrepl).start();
    let mut m = server.raw();
    m.request(&["MONITOR"]);
    assert_eq!(m.request(&["RESET"]), b"+RESET\r\n");
    let mut other = server.raw();
    other.request(&["SET", "a", "b"]);
    assert_eq!(m.request(&["PING"]), b"+PONG\r\n");
}

/// `redis-cli monitor` prints the same lines for both servers.
fn cli_monitor_lines(kind: Kind) -> Vec<String> {
    let server = Server::builder(kind).start();
    let mut child = Command::new(common::redis_cli_path())
        .args(["-p", &server.port.to_string(), "monitor"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli monitor");
    let pid = child.id() as i32;
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first.trim_end(), "OK");
    run_script(&server);
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap_or(0) == 0 {
            break;
        }
        let line = normalize(l.trim_end());
        let done = line.ends_with("\"ECHO\" \"end\"");
        lines.push(line);
        if done {
            break;
        }
    }
    common::kill_pid(pid);
    let _ = child.wait();
    lines
}

#[test]
fn redis_cli_monitor_prints_as_with_redis_server() {
    let ours = cli_monitor_lines(Kind::Redrepl);
    assert_eq!(ours, cli_monitor_lines(Kind::Redis));
    assert!(ours.len() > 5, "{ours:?}");
}
