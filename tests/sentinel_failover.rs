//! Failover by `redrepl sentinel`, alone and in one quorum with Debian's redis-sentinel,
//! over Debian's redis-server instances: kill -9 of the master → a replica promoted, the
//! others and the returning old master made its replicas, `+switch-master` published, all
//! sentinels agreeing on the master and the epoch; no failover without a quorum; redis-py's
//! `Sentinel(...).master_for()` following the switch.

mod common;

use common::Server;
use common::sentinel::{Sentinel, SentinelKind, monitor_conf, wait_until};

/// A redis-server master and two replicas.
struct Cluster {
    master: Server,
    replicas: Vec<Server>,
}

fn cluster() -> Cluster {
    cluster_of(common::Kind::Redis)
}

/// A master and two replicas of the given engine.
fn cluster_of(kind: common::Kind) -> Cluster {
    let master = Server::start_kind(kind, &["--repl-diskless-sync-delay", "0"]);
    let port = master.port.to_string();
    let replicas = (0..2)
        .map(|_| {
            Server::start_kind(
                kind,
                &[
                    "--replicaof",
                    "127.0.0.1",
                    &port,
                    "--repl-diskless-sync-delay",
                    "0",
                ],
            )
        })
        .collect::<Vec<_>>();
    for r in &replicas {
        assert!(
            wait_until(20, || info_field(r, "master_link_status").as_deref()
                == Some("up")),
            "replica did not sync"
        );
    }
    Cluster { master, replicas }
}

fn info_field(s: &Server, field: &str) -> Option<String> {
    let (_, out) = s.cli(&["info", "replication"]);
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
}

/// Sentinels of the given kinds watching `c` with quorum 2, once all see each other.
fn sentinels(c: &Cluster, kinds: &[SentinelKind]) -> Vec<Sentinel> {
    let conf = monitor_conf("mymaster", c.master.port, 2, 1000);
    let all: Vec<Sentinel> = kinds.iter().map(|&k| Sentinel::start(k, &conf)).collect();
    let others = (kinds.len() - 1).to_string();
    for s in &all {
        assert!(
            wait_until(30, || {
                s.master_field("mymaster", "num-other-sentinels").as_deref() == Some(&others)
                    && s.master_field("mymaster", "num-slaves").as_deref() == Some("2")
            }),
            "{:?} sentinel on {} did not see the others: {:?}\n{}",
            s.kind,
            s.port,
            s.cmd(&["SENTINEL", "MASTER", "mymaster"]),
            s.log()
        );
    }
    all
}

/// Kills the master, waits until every live sentinel names the same new master, and
/// checks that it is one of the replicas and reports role:master.
fn fail_over(c: &mut Cluster, live: &[&Sentinel]) -> String {
    let old = format!("127.0.0.1:{}", c.master.port);
    c.master.kill9();
    let agreed = wait_until(40, || {
        let addrs: Vec<Option<String>> = live.iter().map(|s| s.master_addr("mymaster")).collect();
        addrs
            .iter()
            .all(|a| a.as_deref().is_some_and(|x| x != old) && a == &addrs[0])
    });
    let logs: Vec<String> = live.iter().map(|s| s.log()).collect();
    assert!(agreed, "no agreed failover:\n{}", logs.join("\n-----\n"));
    let new = live[0].master_addr("mymaster").unwrap();
    let r = c
        .replicas
        .iter()
        .find(|r| format!("127.0.0.1:{}", r.port) == new)
        .expect("the new master is one of the replicas");
    assert!(
        wait_until(20, || info_field(r, "role").as_deref() == Some("master")),
        "promoted replica is not a master"
    );
    new
}

/// Every live sentinel reports the same config-epoch (> 0) for the master.
fn assert_same_epoch(live: &[&Sentinel]) {
    let ok = wait_until(20, || {
        let e: Vec<Option<String>> = live
            .iter()
            .map(|s| s.master_field("mymaster", "config-epoch"))
            .collect();
        e.iter().all(|x| x.is_some() && x == &e[0]) && e[0].as_deref() != Some("0")
    });
    let e: Vec<Option<String>> = live
        .iter()
        .map(|s| s.master_field("mymaster", "config-epoch"))
        .collect();
    assert!(ok, "config epochs differ: {e:?}");
}

#[test]
fn kill9_of_the_master_fails_over_and_the_old_master_comes_back_as_a_replica() {
    kill9_fails_over(common::Kind::Redis);
}

/// Everything bundled: `redrepl server` instances (their Pub/Sub carries the sentinels'
/// hello messages) watched by `redrepl sentinel`s, as `redrepl init` sets them up.
#[test]
fn all_bundled_kill9_of_the_master_fails_over_and_the_old_master_comes_back() {
    kill9_fails_over(common::Kind::Redrepl);
}

fn kill9_fails_over(kind: common::Kind) {
    let mut c = cluster_of(kind);
    let s = sentinels(&c, &[SentinelKind::Redrepl; 3]);
    // A subscriber to the first sentinel's events, as Jedis listens for +switch-master.
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", s[0].port)).unwrap();
    let mut sub_con = client.get_connection().unwrap();
    let mut sub = sub_con.as_pubsub();
    sub.subscribe("+switch-master").unwrap();
    sub.set_read_timeout(Some(std::time::Duration::from_secs(40)))
        .unwrap();
    let old_port = c.master.port;
    let live: Vec<&Sentinel> = s.iter().collect();
    let new = fail_over(&mut c, &live);
    let msg = sub.get_message().expect("+switch-master published");
    let payload: String = msg.get_payload().unwrap();
    let (ip, port) = new.split_once(':').unwrap();
    assert_eq!(
        payload,
        format!("mymaster 127.0.0.1 {old_port} {ip} {port}")
    );
    assert_same_epoch(&live);
    // The other replica follows the new master.
    let other = c
        .replicas
        .iter()
        .find(|r| r.port.to_string() != port)
        .unwrap();
    assert!(
        wait_until(30, || info_field(other, "master_port").as_deref()
            == Some(port)),
        "the other replica was not reconfigured"
    );
    // The old master, restarted on its port, is converted into a replica of the new one.
    let back = Server::builder(kind).port(old_port).start();
    assert!(
        wait_until(40, || info_field(&back, "role").as_deref() == Some("slave")
            && info_field(&back, "master_port").as_deref() == Some(port)),
        "old master not converted:\n{}",
        s[0].log()
    );
    let logs: String = s.iter().map(|x| x.log()).collect();
    assert!(
        logs.contains("+convert-to-slave slave 127.0.0.1:"),
        "{logs}"
    );
    for ev in [
        "+sdown master mymaster",
        "+odown master mymaster",
        "+elected-leader",
        "+promoted-slave",
        "+switch-master mymaster",
    ] {
        assert!(logs.contains(ev), "{ev} missing:\n{logs}");
    }
}

#[test]
fn mixed_quorum_two_redrepl_one_redis_sentinel_agree_after_failover() {
    let mut c = cluster();
    let s = sentinels(
        &c,
        &[
            SentinelKind::Redrepl,
            SentinelKind::Redrepl,
            SentinelKind::Redis,
        ],
    );
    let live: Vec<&Sentinel> = s.iter().collect();
    fail_over(&mut c, &live);
    assert_same_epoch(&live);
}

#[test]
fn mixed_quorum_one_redrepl_two_redis_sentinels_agree_after_failover() {
    let mut c = cluster();
    let s = sentinels(
        &c,
        &[
            SentinelKind::Redrepl,
            SentinelKind::Redis,
            SentinelKind::Redis,
        ],
    );
    let live: Vec<&Sentinel> = s.iter().collect();
    fail_over(&mut c, &live);
    assert_same_epoch(&live);
}

#[test]
fn one_sentinel_down_still_fails_over_two_down_does_not() {
    let mut c = cluster();
    let mut s = sentinels(&c, &[SentinelKind::Redrepl; 3]);
    s[2].kill();
    let live: Vec<&Sentinel> = s[..2].iter().collect();
    fail_over(&mut c, &live);

    // A second cluster: two of three sentinels down, the master killed: the one left sees
    // it down (SDOWN) but cannot reach the quorum, so no failover.
    let mut c2 = cluster();
    let mut s2 = sentinels(&c2, &[SentinelKind::Redrepl; 3]);
    s2[1].kill();
    s2[2].kill();
    let before = s2[0].master_addr("mymaster");
    c2.master.kill9();
    assert!(wait_until(20, || s2[0]
        .master_field("mymaster", "flags")
        .is_some_and(|f| f.contains("s_down"))));
    // Well past down-after + the election: still no ODOWN, the same master.
    std::thread::sleep(std::time::Duration::from_secs(5));
    let flags = s2[0].master_field("mymaster", "flags").unwrap();
    assert!(!flags.contains("o_down"), "{flags}");
    assert_eq!(s2[0].master_addr("mymaster"), before);
    assert!(
        s2[0]
            .cmd(&["SENTINEL", "CKQUORUM", "mymaster"])
            .unwrap()
            .starts_with("NOQUORUM 1 usable Sentinels."),
    );
    for r in &c2.replicas {
        assert_eq!(info_field(r, "role").as_deref(), Some("slave"));
    }
}

#[test]
fn redis_py_master_for_follows_the_failover() {
    let mut c = cluster();
    let s = sentinels(&c, &[SentinelKind::Redrepl; 3]);
    let script = |action: &str| {
        let ports: Vec<String> = s
            .iter()
            .map(|x| format!("('127.0.0.1', {})", x.port))
            .collect();
        format!(
            "import redis.sentinel as rs, time\n\
             s = rs.Sentinel([{}], socket_timeout=2)\n\
             m = s.master_for('mymaster', socket_timeout=2)\n\
             {action}\n",
            ports.join(", ")
        )
    };
    let run = |code: String| common::python(&code).trim().to_string();
    run(script(
        // WAIT: the write must be on both replicas before the master is killed, or the
        // promoted one may never have had it (asynchronous replication; seen in CI).
        "m.set('k', 'before')\nassert m.execute_command('WAIT', 2, 10000) == 2\nprint(s.discover_master('mymaster'))",
    ));
    let live: Vec<&Sentinel> = s.iter().collect();
    let new = fail_over(&mut c, &live);
    let out = run(script(
        "m.set('k2', 'after')\nprint('%s:%d' % s.discover_master('mymaster'))\nprint(m.get('k').decode())",
    ));
    assert_eq!(out, format!("{new}\nbefore"));
}

/// The `redis` crate's sentinel client: one `SentinelClient` finds the master through our
/// sentinels, and after a kill -9 failover the same object reaches the new master.
#[test]
fn redis_crate_sentinel_client_follows_the_failover() {
    use redis::sentinel::{SentinelClient, SentinelServerType};
    let mut c = cluster();
    let s = sentinels(&c, &[SentinelKind::Redrepl; 3]);
    let addrs: Vec<String> = s
        .iter()
        .map(|x| format!("redis://127.0.0.1:{}/", x.port))
        .collect();
    let mut client =
        SentinelClient::build(addrs, "mymaster", None, SentinelServerType::Master).unwrap();
    let port_of = |con: &mut redis::Connection| -> String {
        let kv: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("port")
            .query(con)
            .unwrap();
        kv[1].clone()
    };
    let mut con = client.get_connection().unwrap();
    assert_eq!(port_of(&mut con), c.master.port.to_string());
    redis::cmd("SET")
        .arg("k")
        .arg("before")
        .query::<()>(&mut con)
        .unwrap();
    // On both replicas before the kill (asynchronous replication).
    let acked: i64 = redis::cmd("WAIT")
        .arg(2)
        .arg(10000)
        .query(&mut con)
        .unwrap();
    assert_eq!(acked, 2);
    let live: Vec<&Sentinel> = s.iter().collect();
    let new = fail_over(&mut c, &live);
    let mut con = client.get_connection().unwrap();
    assert_eq!(format!("127.0.0.1:{}", port_of(&mut con)), new);
    redis::cmd("SET")
        .arg("k2")
        .arg("after")
        .query::<()>(&mut con)
        .unwrap();
    let got: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(got, "before");
}

/// What the scripts of one failover recorded: client-reconfig calls and notification calls
/// (`<argc> <args>`), the old and the new master's ports replaced by OLD and NEW.
fn failover_script_calls(kind: SentinelKind) -> (Vec<String>, Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    let mut c = cluster();
    let dir = tempfile::TempDir::new().unwrap();
    let mut conf = monitor_conf("mymaster", c.master.port, 2, 1000);
    for (opt, tag) in [
        ("notification-script", "N"),
        ("client-reconfig-script", "R"),
    ] {
        let path = dir.path().join(format!("{tag}.sh"));
        let log = dir.path().join(tag);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho \"$# $*\" >> {}\n", log.display()),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        conf.push_str(&format!("sentinel {opt} mymaster {}\n", path.display()));
    }
    let all: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(kind, &conf)).collect();
    for x in &all {
        assert!(
            wait_until(30, || {
                x.master_field("mymaster", "num-other-sentinels").as_deref() == Some("2")
                    && x.master_field("mymaster", "num-slaves").as_deref() == Some("2")
            }),
            "{kind:?} sentinels did not see each other"
        );
    }
    let old = c.master.port.to_string();
    let live: Vec<&Sentinel> = all.iter().collect();
    let new = fail_over(&mut c, &live);
    let new = new.split_once(':').unwrap().1.to_string();
    let read = |tag: &str| -> Vec<String> {
        let text = std::fs::read_to_string(dir.path().join(tag)).unwrap_or_default();
        let mut v: Vec<String> = text
            .lines()
            .map(|l| {
                l.split(' ')
                    .map(|w| match w {
                        w if w == old => "OLD",
                        w if w == new => "NEW",
                        w => w,
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        v.sort();
        v
    };
    let switched = "2 +switch-master mymaster 127.0.0.1 OLD 127.0.0.1 NEW";
    let done = wait_until(30, || {
        read("R").len() >= 3 && read("N").iter().filter(|l| *l == switched).count() == 3
    });
    assert!(
        done,
        "{kind:?}: {:?} {:?}\n{}",
        read("R"),
        read("N"),
        all[0].log()
    );
    (read("R"), read("N"))
}

/// A failover runs the client-reconfig script once as leader and once per observer, and the
/// notification script for the failover's warning events with `<type> <description>`, with
/// the same arguments from `redrepl sentinel` as from redis-sentinel.
#[test]
fn failover_scripts_get_redis_sentinels_arguments() {
    let ours = failover_script_calls(SentinelKind::Redrepl);
    let theirs = failover_script_calls(SentinelKind::Redis);
    let reconf = |role: &str| format!("7 mymaster {role} start 127.0.0.1 OLD 127.0.0.1 NEW");
    assert_eq!(
        theirs.0,
        vec![reconf("leader"), reconf("observer"), reconf("observer")]
    );
    assert_eq!(ours.0, theirs.0);
    let types = |calls: &[String]| -> std::collections::BTreeSet<String> {
        calls
            .iter()
            .map(|l| l.split(' ').nth(1).unwrap_or("").to_string())
            .collect()
    };
    let (t_ours, t_theirs) = (types(&ours.1), types(&theirs.1));
    for t in [
        "+monitor",
        "+sdown",
        "+odown",
        "+new-epoch",
        "+try-failover",
        "+vote-for-leader",
        "+elected-leader",
        "+failover-state-select-slave",
        "+selected-slave",
        "+promoted-slave",
        "+failover-state-reconf-slaves",
        "+failover-end",
        "+switch-master",
        "+config-update-from",
    ] {
        assert!(
            t_theirs.contains(t) == t_ours.contains(t),
            "{t}: ours {t_ours:?}, redis-sentinel {t_theirs:?}"
        );
    }
    assert!(
        t_ours.iter().all(|t| t_theirs.contains(t)),
        "ours {t_ours:?}, redis-sentinel {t_theirs:?}"
    );
    assert!(ours.1.iter().chain(&theirs.1).all(|l| l.starts_with("2 ")));
}
