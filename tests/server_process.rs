//! Process-level behaviour of `redrepl server`: the start-up banner (Redis's logo with the
//! PID line, or the "Running mode" line) and the forked BGSAVE child's error reporting.

mod common;

use common::{Server, q};
use std::time::{Duration, Instant};

/// The logo block of a log: from the line with `_._` to the line after `PID:`'s block end.
fn logo_lines(log: &str) -> Vec<String> {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == "_._")
        .unwrap_or_else(|| panic!("no logo in:\n{log}"));
    lines[start..start + 17]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn always_show_logo_prints_redis_logo_with_version_mode_port_and_pid() {
    let ours = Server::start(&["--always-show-logo", "yes"]);
    let redis = Server::start_redis(&["--always-show-logo", "yes"]);
    let (a, b) = (logo_lines(&ours.log()), logo_lines(&redis.log()));
    let pid = ours.pid().unwrap();
    assert!(a[6].ends_with(&format!("|     PID: {pid}")), "{a:#?}");
    assert!(
        a[5].ends_with(&format!("|     Port: {}", ours.port)),
        "{a:#?}"
    );
    // Line for line as redis-server's, once the port and pid are its own.
    let normalize = |lines: &[String], port: u16, pid: u32| -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                l.replace(&format!("Port: {port}"), "Port: P")
                    .replace(&format!("PID: {pid}"), "PID: N")
            })
            .collect()
    };
    assert_eq!(
        normalize(&a, ours.port, pid),
        normalize(&b, redis.port, redis.pid().unwrap())
    );
    assert!(!ours.log().contains("Running mode="));
}

#[test]
fn without_the_logo_the_running_mode_line_is_logged() {
    let s = Server::start(&[]);
    let log = s.log();
    assert!(
        log.contains(&format!("* Running mode=standalone, port={}.", s.port)),
        "{log}"
    );
    assert!(!log.contains("PID:"), "{log}");
}

#[test]
fn a_failing_bgsave_child_logs_its_error_and_the_server_goes_on() {
    let s = Server::start(&["--enable-protected-configs", "yes"]);
    let mut c = s.conn();
    let gone = tempfile::tempdir().unwrap();
    let gone_path = gone.path().to_str().unwrap().to_string();
    assert_eq!(
        q(&mut c, &["CONFIG", "SET", "dir", &gone_path]),
        redis::Value::Okay
    );
    assert_eq!(q(&mut c, &["SET", "k", "v"]), redis::Value::Okay);
    // The working directory disappears: the child cannot create its temp file.
    drop(gone);
    let reply = q(&mut c, &["BGSAVE"]);
    assert_eq!(
        reply,
        redis::Value::SimpleString("Background saving started".into())
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = s.log();
        if log.contains("Background saving error") || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let child_line = log
        .lines()
        .find(|l| l.contains("Write error saving DB on disk"))
        .unwrap_or_else(|| panic!("no child error line:\n{log}"));
    // `<child pid>:C 27 Nov 2026 11:11:41.040 # Write error saving DB on disk: <strerror>`
    let (pid, rest) = child_line.split_once(":C ").expect("role C");
    assert_ne!(pid, s.pid().unwrap().to_string(), "{child_line}");
    assert!(pid.parse::<u32>().is_ok(), "{child_line}");
    assert!(
        rest.ends_with(" # Write error saving DB on disk: No such file or directory"),
        "{child_line}"
    );
    assert!(log.contains("Background saving error"), "{log}");
    assert_eq!(
        q(&mut c, &["PING"]),
        redis::Value::SimpleString("PONG".into())
    );
}
