//! `redrepl sentinel` beside Debian's redis-sentinel, both watching the same redis-server
//! master and replica: replies shaped alike, sentinel.conf rewritten with the state and
//! read back after a restart, commands and errors as redis-sentinel words them.

mod common;

use common::Server;
use common::sentinel::{Sentinel, SentinelKind, monitor_conf, wait_until};

/// The field names of a flattened map reply (every other line from the first).
fn keys(flat: &str) -> Vec<String> {
    flat.lines().step_by(2).map(|s| s.to_string()).collect()
}

/// A master, one replica, and one sentinel of each kind watching them.
struct Setup {
    master: Server,
    _replica: Server,
    ours: Sentinel,
    theirs: Sentinel,
}

fn setup() -> Setup {
    let master = Server::start_redis(&[]);
    let replica = Server::start_redis(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    let conf = monitor_conf("mymaster", master.port, 2, 1000);
    let ours = Sentinel::start(SentinelKind::Redrepl, &conf);
    let theirs = Sentinel::start(SentinelKind::Redis, &conf);
    for s in [&ours, &theirs] {
        let seen = wait_until(20, || {
            s.master_field("mymaster", "num-slaves").as_deref() == Some("1")
                && s.master_field("mymaster", "num-other-sentinels").as_deref() == Some("1")
                && s.master_field("mymaster", "runid")
                    .is_some_and(|r| r.len() == 40)
        });
        assert!(
            seen,
            "{:?} did not discover the replica and the other sentinel: {:?}\n{}",
            s.kind,
            s.cmd(&["SENTINEL", "MASTER", "mymaster"]),
            s.log()
        );
    }
    Setup {
        master,
        _replica: replica,
        ours,
        theirs,
    }
}

#[test]
fn sentinel_replies_have_redis_sentinels_fields_and_shapes() {
    let st = setup();
    let (ours, theirs) = (&st.ours, &st.theirs);
    // Same field names in the same order, for the master, its replicas and the sentinels.
    for cmd in [
        &["SENTINEL", "MASTER", "mymaster"][..],
        &["SENTINEL", "REPLICAS", "mymaster"][..],
        &["SENTINEL", "SLAVES", "mymaster"][..],
        &["SENTINEL", "SENTINELS", "mymaster"][..],
    ] {
        let a = ours.cmd(cmd).unwrap();
        let b = theirs.cmd(cmd).unwrap();
        assert_eq!(keys(&a), keys(&b), "{cmd:?}\nours:\n{a}\ntheirs:\n{b}");
    }
    let a = ours.cmd(&["SENTINEL", "MASTERS"]).unwrap();
    let b = theirs.cmd(&["SENTINEL", "MASTERS"]).unwrap();
    assert_eq!(keys(&a), keys(&b));
    // The same facts about the same setup.
    for field in [
        "ip",
        "port",
        "runid",
        "flags",
        "num-slaves",
        "quorum",
        "config-epoch",
    ] {
        assert_eq!(
            ours.master_field("mymaster", field),
            theirs.master_field("mymaster", field),
            "{field}"
        );
    }
    let want = format!("127.0.0.1:{}", st.master.port);
    assert_eq!(ours.master_addr("mymaster").as_deref(), Some(want.as_str()));
    assert_eq!(ours.master_addr("mymaster"), theirs.master_addr("mymaster"));
    // Identical replies and errors.
    for cmd in [
        &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nope"][..],
        &["SENTINEL", "MASTER", "nope"][..],
        &["SENTINEL", "REPLICAS", "nope"][..],
        &["SENTINEL", "CKQUORUM", "mymaster"][..],
        &["SENTINEL", "CKQUORUM", "nope"][..],
        &["SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "0"][..],
        &["SENTINEL", "MONITOR", "mymaster", "127.0.0.1", "1", "2"][..],
        &["SENTINEL", "SET", "mymaster", "quorum", "0"][..],
        &["SENTINEL", "SET", "mymaster", "bogus", "1"][..],
        &["SENTINEL", "BOGUS"][..],
        &["SENTINEL", "MASTER"][..],
        &["SENTINEL"][..],
        &["SENTINEL", "PENDING-SCRIPTS"][..],
        &["SENTINEL", "CONFIG", "GET", "announce-*"][..],
        &["SENTINEL", "DEBUG"][..],
        &[
            "SENTINEL",
            "IS-MASTER-DOWN-BY-ADDR",
            "127.0.0.1",
            "1",
            "0",
            "*",
        ][..],
        &["SENTINEL", "HELP"][..],
        &["ROLE"][..],
        &["PING"][..],
        &["FOO", "bar"][..],
        &["PUBLISH", "x", "y"][..],
        &["AUTH", "x"][..],
    ] {
        assert_eq!(ours.cmd(cmd), theirs.cmd(cmd), "{cmd:?}");
    }
    let ours_myid = ours.cmd(&["SENTINEL", "MYID"]).unwrap();
    assert_eq!(ours_myid.trim().len(), 40);
    // INFO's sentinel and server sections, read with redis-cli as from redis-sentinel.
    let cli = |section: &str| {
        let out = std::process::Command::new(common::redis_cli_path())
            .args(["-p", &ours.port.to_string(), "info", section])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let info = cli("sentinel");
    let line = format!(
        "master0:name=mymaster,status=ok,address=127.0.0.1:{},slaves=1,sentinels=2",
        st.master.port
    );
    assert!(info.contains(&line), "{info}");
    assert!(info.contains("sentinel_masters:1"), "{info}");
    assert!(cli("server").contains("redis_mode:sentinel"));
}

#[test]
fn monitor_set_remove_and_reset_rewrite_the_file() {
    let st = setup();
    let ours = &st.ours;
    let other = Server::start_redis(&[]);
    let port = other.port.to_string();
    assert_eq!(
        ours.cmd(&["SENTINEL", "MONITOR", "second", "127.0.0.1", &port, "1"])
            .as_deref(),
        Some("OK\n")
    );
    assert_eq!(
        ours.cmd(&[
            "SENTINEL",
            "SET",
            "second",
            "down-after-milliseconds",
            "4321",
            "auth-pass",
            "hunter2"
        ])
        .as_deref(),
        Some("OK\n")
    );
    let text = ours.conf_text();
    assert!(
        text.contains(&format!("sentinel monitor second 127.0.0.1 {port} 1")),
        "{text}"
    );
    assert!(
        text.contains("sentinel down-after-milliseconds second 4321"),
        "{text}"
    );
    // The password is in the file (the sentinel needs it) but never in the log.
    assert!(!ours.log().contains("hunter2"), "{}", ours.log());
    assert!(ours.log().contains("+monitor master second 127.0.0.1"));
    assert_eq!(
        ours.cmd(&["SENTINEL", "REMOVE", "second"]).as_deref(),
        Some("OK\n")
    );
    let text = ours.conf_text();
    assert!(!text.contains("monitor second"), "{text}");
    assert_eq!(
        ours.cmd(&["SENTINEL", "RESET", "mymaster"]).as_deref(),
        Some("1\n")
    );
    assert!(ours.log().contains("+reset-master master mymaster"));
}

#[test]
fn restart_keeps_myid_epoch_and_known_instances_from_the_rewritten_file() {
    let mut st = setup();
    let myid = st.ours.cmd(&["SENTINEL", "MYID"]).unwrap();
    let text = st.ours.conf_text();
    assert!(
        text.starts_with(&format!("port {}\n", st.ours.port)),
        "{text}"
    );
    assert!(
        text.contains(&format!("sentinel myid {}", myid.trim())),
        "{text}"
    );
    assert!(
        text.contains("sentinel known-replica mymaster 127.0.0.1"),
        "{text}"
    );
    assert!(
        text.contains("sentinel known-sentinel mymaster 127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("sentinel current-epoch 0"), "{text}");
    // The file is one redis-sentinel reads: it starts from ours and keeps what it says.
    st.ours.kill();
    // Stop the peer too: what ours knows after the restart comes from its file alone.
    st.theirs.kill();
    st.ours.spawn();
    assert_eq!(st.ours.cmd(&["SENTINEL", "MYID"]), Some(myid));
    assert_eq!(
        st.ours
            .master_field("mymaster", "num-other-sentinels")
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        st.ours.master_field("mymaster", "num-slaves").as_deref(),
        Some("1")
    );
}

#[test]
fn subscribers_get_events_and_auth_is_required_with_requirepass() {
    let master = Server::start_redis(&[]);
    let conf = format!(
        "requirepass s3cret\n{}",
        monitor_conf("mymaster", master.port, 1, 1000)
    );
    let s = Sentinel::start(SentinelKind::Redrepl, &conf);
    assert_eq!(
        s.cmd(&["SENTINEL", "MASTERS"]).as_deref(),
        Some("NOAUTH Authentication required.\n")
    );
    let client = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", s.port)).unwrap();
    let mut sub = client.get_connection().unwrap();
    let mut pubsub = sub.as_pubsub();
    pubsub.psubscribe("*").unwrap();
    let mut con = client.get_connection().unwrap();
    let _: redis::Value = redis::cmd("SENTINEL")
        .arg("SET")
        .arg("mymaster")
        .arg("quorum")
        .arg("2")
        .query(&mut con)
        .unwrap();
    pubsub
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let msg = pubsub.get_message().unwrap();
    assert_eq!(msg.get_channel_name(), "+set");
    let payload: String = msg.get_payload().unwrap();
    assert_eq!(
        payload,
        format!("master mymaster 127.0.0.1 {} quorum 2", master.port)
    );
    assert!(!s.log().contains("s3cret"));
}

/// Writes an executable shell script `name` in `dir` with `body`; returns its path.
fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.to_string_lossy().into_owned()
}

/// The output of a sentinel of `kind` started on `conf` that must refuse it (exit 1).
fn refused_start(kind: SentinelKind, conf: &str) -> String {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("sentinel.conf");
    std::fs::write(&path, conf).unwrap();
    let out = match kind {
        SentinelKind::Redrepl => std::process::Command::new(env!("CARGO_BIN_EXE_redrepl"))
            .arg("sentinel")
            .arg(&path)
            .output(),
        SentinelKind::Redis => std::process::Command::new("/usr/bin/redis-sentinel")
            .arg(&path)
            .output(),
    }
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{kind:?} accepted {conf}");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.trim().to_string()
}

/// notification-script and client-reconfig-script, side by side with redis-sentinel: a
/// script that is not executable refuses the start with Redis's text; SENTINEL SET of a
/// script is refused (deny-scripts-reconfig yes by default); the `+monitor` event at start
/// runs the notification script with `<type> <description>`; exit code 1 reschedules it
/// (SENTINEL PENDING-SCRIPTS: scheduled, retry-num 1, up to 30 s of delay), exit code 2 is
/// an error never retried (`-script-error <path> 0 2`), and a running script shows its pid.
#[test]
fn scripts_are_checked_queued_and_retried_as_redis_sentinel_does() {
    let dir = tempfile::TempDir::new().unwrap();
    let calls = dir.path().join("calls");
    let log_call = format!("echo \"$# $*\" >> {}", calls.display());
    let retry = script(dir.path(), "retry.sh", &format!("{log_call}\nexit 1"));
    let fail = script(dir.path(), "fail.sh", "exit 2");
    let hang = script(dir.path(), "hang.sh", "exec sleep 30");
    let plain = dir.path().join("plain.sh");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    let nobody = common::free_port();
    let monitor = format!(
        "sentinel monitor m 127.0.0.1 {nobody} 2\nsentinel down-after-milliseconds m 60000\n"
    );
    let mut pending = Vec::new();
    for kind in [SentinelKind::Redrepl, SentinelKind::Redis] {
        for (opt, path) in [
            ("notification-script", plain.display().to_string()),
            ("client-reconfig-script", "/nonexistent/x.sh".to_string()),
        ] {
            let conf = format!("port 0\n{monitor}sentinel {opt} m {path}\n");
            let out = refused_start(kind, &conf);
            let expected = if opt == "notification-script" {
                "Notification script seems non existing or non executable."
            } else {
                "Client reconfiguration script seems non existing or non executable."
            };
            assert!(
                out.ends_with(&format!(
                    "Reading the configuration file, at line 4\n>>> 'sentinel {opt} m {path}'\n{expected}"
                )),
                "{kind:?}: {out}"
            );
        }
        let _ = std::fs::remove_file(&calls);
        let s = Sentinel::start(
            kind,
            &format!("{monitor}sentinel notification-script m {retry}\n"),
        );
        assert_eq!(
            s.cmd(&["SENTINEL", "SET", "m", "notification-script", "/bin/true"])
                .unwrap()
                .trim(),
            "ERR Reconfiguration of scripts path is denied for security reasons. Check the \
             deny-scripts-reconfig configuration directive in your Sentinel configuration"
        );
        let rescheduled = wait_until(20, || {
            s.cmd(&["SENTINEL", "PENDING-SCRIPTS"])
                .is_some_and(|r| r.contains("scheduled\npid\n0\nrun-delay"))
        });
        let reply = s.cmd(&["SENTINEL", "PENDING-SCRIPTS"]).unwrap();
        assert!(rescheduled, "{kind:?}: {reply}\n{}", s.log());
        let lines: Vec<&str> = reply.lines().collect();
        let delay: i64 = lines[9].parse().unwrap();
        assert!(delay > 0 && delay <= 30_000, "{kind:?}: {reply}");
        pending.push(
            lines
                .iter()
                .enumerate()
                .map(|(i, l)| if i == 9 { "<delay>" } else { l })
                .collect::<Vec<_>>()
                .join("\n"),
        );
        assert_eq!(
            std::fs::read_to_string(&calls).unwrap(),
            format!("2 +monitor master m 127.0.0.1 {nobody} quorum 2\n"),
            "{kind:?}"
        );
        let info: String = redis::cmd("INFO")
            .arg("sentinel")
            .query(&mut s.conn())
            .unwrap();
        assert!(info.contains("sentinel_scripts_queue_length:1"), "{info}");
        drop(s);

        let s = Sentinel::start(
            kind,
            &format!("{monitor}sentinel notification-script m {fail}\n"),
        );
        let line = format!("-script-error {fail} 0 2");
        assert!(
            wait_until(20, || s.log().contains(&line)),
            "{kind:?}: {}",
            s.log()
        );
        assert_eq!(
            s.cmd(&["SENTINEL", "PENDING-SCRIPTS"]).unwrap(),
            "",
            "{kind:?}"
        );
        drop(s);

        let s = Sentinel::start(
            kind,
            &format!("{monitor}sentinel notification-script m {hang}\n"),
        );
        let running = wait_until(20, || {
            s.cmd(&["SENTINEL", "PENDING-SCRIPTS"])
                .is_some_and(|r| r.contains("flags\nrunning\npid\n"))
        });
        let reply = s.cmd(&["SENTINEL", "PENDING-SCRIPTS"]).unwrap();
        let lines: Vec<&str> = reply.lines().collect();
        let pid: i32 = lines.get(7).and_then(|p| p.parse().ok()).unwrap_or(0);
        if pid > 0 {
            common::kill_pid(pid);
        }
        assert!(running && pid > 0, "{kind:?}: {reply}");
        assert_eq!(
            (lines[4], lines[5], lines[8], &lines[10..]),
            ("flags", "running", "run-time", &["retry-num", "1"][..]),
            "{kind:?}: {reply}"
        );
    }
    assert_eq!(pending[0], pending[1]);
}
