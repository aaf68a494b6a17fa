//! ACL users side by side with Debian's redis-server 7.0.15: rule parsing and its errors,
//! ACL GETUSER / LIST, NOPERM texts, AUTH / HELLO, ACL LOG, ACL CAT for every category,
//! ACL DRYRUN, the ACL file read by redis-server, clients of deleted users, requirepass
//! as the default user's password, and masteruser replication in both directions.
//!
//! Redis lists single-command rules (`+get -set`) in its command dict's order, which is
//! seeded at random on every start, so those runs of tokens are compared as sets
//! ([`normalize`]); everything else is compared byte for byte.

mod common;

use common::{Kind, Raw, Server};
use std::time::{Duration, Instant};

/// The text with every run of adjacent single-command rules (`+get`, `-config|set`; not
/// `+@cat`) sorted, parentheses split off. Token lengths are kept, so RESP bulk lengths
/// stay valid.
fn normalize(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let mut lines = Vec::new();
    for line in text.split("\r\n") {
        let spaced = line.replace('(', "( ").replace(')', " )");
        let mut out: Vec<&str> = Vec::new();
        let mut run: Vec<&str> = Vec::new();
        for t in spaced.split(' ') {
            let single = (t.starts_with('+') || t.starts_with('-'))
                && t.len() > 1
                && !t[1..].starts_with('@');
            if single {
                run.push(t);
                continue;
            }
            run.sort_unstable();
            out.append(&mut run);
            out.push(t);
        }
        run.sort_unstable();
        out.append(&mut run);
        lines.push(out.join(" "));
    }
    lines.join("\r\n")
}

/// A redrepl and a redis-server started with the same arguments.
fn pair(args: &[&str]) -> (Server, Server) {
    (
        Server::builder(Kind::Redrepl).args(args).start(),
        Server::builder(Kind::Redis).args(args).start(),
    )
}

/// Runs each request on both connections and collects the differences (normalized).
fn compare(a: &mut Raw, b: &mut Raw, requests: &[Vec<String>]) -> Vec<String> {
    let mut diffs = Vec::new();
    for req in requests {
        let r: Vec<&str> = req.iter().map(String::as_str).collect();
        let x = normalize(&a.request(&r));
        let y = normalize(&b.request(&r));
        if x != y {
            diffs.push(format!("{r:?}\n  ours:  {x:?}\n  redis: {y:?}"));
        }
    }
    diffs
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Rule lists for ACL SETUSER: valid ones of every kind, and every error.
fn rule_sets() -> Vec<Vec<&'static str>> {
    let hash = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
    let hash: &'static str = Box::leak(format!("#{hash}").into_boxed_str());
    let unhash: &'static str = Box::leak(hash.replacen('#', "!", 1).into_boxed_str());
    vec![
        vec!["on"],
        vec!["off"],
        vec!["on", "on", "off"],
        vec![""],
        vec!["on", ">pass"],
        vec![">a", ">b", "<a"],
        vec![">a", ">a"],
        vec!["<nothere"],
        vec![hash],
        vec![hash, unhash],
        vec![unhash],
        vec!["#abc"],
        vec!["#5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8"],
        vec!["!zz"],
        vec!["nopass"],
        vec![">x", "nopass"],
        vec!["nopass", ">x"],
        vec!["resetpass"],
        vec![">x", "resetpass"],
        vec!["~*"],
        vec!["allkeys"],
        vec!["~a", "~b"],
        vec!["~a", "~a"],
        vec!["~*", "~a"],
        vec!["allkeys", "resetkeys", "~a"],
        vec!["~a", "allkeys"],
        vec!["%R~a"],
        vec!["%W~a"],
        vec!["%RW~a"],
        vec!["%WR~a"],
        vec!["%r~a"],
        vec!["%R~a", "%W~a"],
        vec!["%R~a", "~a"],
        vec!["~a", "%W~a"],
        vec!["%RR~a"],
        vec!["%X~a"],
        vec!["%~a"],
        vec!["%"],
        vec!["%R"],
        vec!["~a b"],
        vec!["~"],
        vec!["&*"],
        vec!["allchannels"],
        vec!["&a", "&b"],
        vec!["&*", "&a"],
        vec!["resetchannels", "&a"],
        vec!["allchannels", "resetchannels"],
        vec!["&a b"],
        vec!["+@all"],
        vec!["allcommands"],
        vec!["-@all"],
        vec!["nocommands"],
        vec!["+@ALL"],
        vec!["+@all", "-@dangerous"],
        vec!["+@read"],
        vec!["+@write", "-@string"],
        vec!["+@hash", "+@list", "-lpush"],
        vec!["+@all", "-@admin", "+config|get"],
        vec!["+get"],
        vec!["+GET"],
        vec!["-get"],
        vec!["+@all", "-get"],
        vec!["+config"],
        vec!["+config|get"],
        vec!["+config|GET"],
        vec!["+config|nope"],
        vec!["+config|get|x"],
        vec!["+select|0"],
        vec!["+select|0", "+select|1"],
        vec!["+select|0", "+select"],
        vec!["+select|0", "-select"],
        vec!["+get|"],
        vec!["+nope"],
        vec!["-nope"],
        vec!["-select|0"],
        vec!["+@nope"],
        vec!["-@nope"],
        vec!["+"],
        vec!["-"],
        vec!["bogus"],
        vec!["(~x +get)"],
        vec!["(", "~x", "+get)"],
        vec!["(~x", "+get)"],
        vec!["(~x"],
        vec!["(~x +nope)"],
        vec!["(~x +get)", "clearselectors"],
        vec!["(~x +get)", "(%R~y +@read)"],
        vec!["(&c1 +publish)", "&c2"],
        vec!["()"],
        vec!["reset"],
        vec!["+@all", "~*", "&*", "on", ">p", "reset"],
        vec!["on", "sanitize-payload"],
        vec!["skip-sanitize-payload"],
        vec!["on", ">p", "~app:*", "&ch", "+@read", "-@dangerous", "+set"],
        vec!["+@all", "-@all", "+get"],
        vec!["-@all", "+@all", "-get"],
        vec!["+@keyspace", "+@fast"],
        vec!["+@pubsub"],
        vec!["+@scripting"],
        vec!["+@transaction", "+@connection"],
        vec!["+@blocking", "-blpop"],
        vec!["+@geo", "+@bitmap", "+@hyperloglog", "+@stream"],
        vec!["+@sortedset", "-zadd", "-zincrby"],
        vec!["+@slow"],
        vec!["+@all", "-@slow"],
        vec!["+@all", "-@fast"],
        vec!["+@admin"],
        vec!["+@dangerous", "-@admin"],
        vec!["+client", "-client|kill", "+client|kill"],
        vec!["+acl|whoami"],
        vec!["+@all", "-acl", "+acl|cat"],
        vec!["+debug|object"],
        vec!["+@all", "-@write", "+@set"],
    ]
}

/// ACL SETUSER (its reply or error), then ACL GETUSER, for every rule set, and ACL LIST
/// and ACL USERS at the end: the same as redis-server.
#[test]
fn setuser_getuser_and_list_match_redis() {
    let (ours, theirs) = pair(&[]);
    let (mut a, mut b) = (ours.raw(), theirs.raw());
    let mut requests = Vec::new();
    for (i, rules) in rule_sets().iter().enumerate() {
        let name = format!("u{i}");
        let mut set = strs(&["ACL", "SETUSER", &name]);
        set.extend(rules.iter().map(|r| r.to_string()));
        requests.push(set);
        requests.push(strs(&["ACL", "GETUSER", &name]));
    }
    requests.push(strs(&["ACL", "LIST"]));
    requests.push(strs(&["ACL", "USERS"]));
    requests.push(strs(&["ACL", "GETUSER", "nobody"]));
    requests.push(strs(&["ACL", "SETUSER", "has space"]));
    requests.push(strs(&["ACL", "DELUSER", "default"]));
    requests.push(strs(&["ACL", "DELUSER", "u0", "u1", "nobody"]));
    requests.push(strs(&["ACL", "USERS"]));
    let diffs = compare(&mut a, &mut b, &requests);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert!(rule_sets().len() >= 100);
}

/// ACL CAT, and ACL CAT <category> for every category, list the same commands.
#[test]
fn categories_match_redis() {
    let (ours, theirs) = pair(&[]);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    let cats: Vec<String> = redis::cmd("ACL").arg("CAT").query(&mut a).unwrap();
    let theirs_cats: Vec<String> = redis::cmd("ACL").arg("CAT").query(&mut b).unwrap();
    assert_eq!(cats, theirs_cats);
    for cat in &cats {
        let mut x: Vec<String> = redis::cmd("ACL").arg("CAT").arg(cat).query(&mut a).unwrap();
        let mut y: Vec<String> = redis::cmd("ACL").arg("CAT").arg(cat).query(&mut b).unwrap();
        x.sort();
        y.sort();
        assert_eq!(x, y, "category {cat}");
    }
    let (mut ra, mut rb) = (ours.raw(), theirs.raw());
    let diffs = compare(
        &mut ra,
        &mut rb,
        &[
            strs(&["ACL", "CAT", "nope"]),
            strs(&["ACL", "CAT", "read", "x"]),
        ],
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// A restricted user's refusals: NOPERM for commands, subcommands and keys (read-only
/// and write-only patterns), inside MULTI (EXECABORT) and from scripts; ACL DRYRUN.
#[test]
fn noperm_texts_and_dryrun_match_redis() {
    let (ours, theirs) = pair(&[]);
    let setup = strs(&[
        "ACL",
        "SETUSER",
        "app",
        "on",
        ">pw",
        "~app:*",
        "%R~ro:*",
        "%W~wo:*",
        "&ch",
        "+@all",
        "-@dangerous",
        "-hget",
        "-config|set",
    ]);
    let (mut a, mut b) = (ours.raw(), theirs.raw());
    let diffs = compare(&mut a, &mut b, &[setup]);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    let (mut a, mut b) = (ours.raw(), theirs.raw());
    let requests: Vec<Vec<String>> = [
        &["AUTH", "app", "pw"][..],
        &["ACL", "WHOAMI"],
        &["SET", "app:1", "v"],
        &["GET", "app:1"],
        &["GET", "x"],
        &["HGET", "app:h", "f"],
        &["SET", "ro:1", "v"],
        &["GET", "ro:1"],
        &["GET", "wo:1"],
        &["SET", "wo:1", "v"],
        &["MGET", "app:1", "x"],
        &["MSET", "app:1", "1", "app:2", "2"],
        &["RENAME", "app:1", "ro:1"],
        &["FLUSHALL"],
        &["CONFIG", "SET", "maxmemory", "0"],
        &["CONFIG", "GET", "maxmemory"],
        &["CLIENT", "KILL", "ID", "999999"],
        &["ACL", "LIST"],
        &["MULTI"],
        &["SET", "app:3", "v"],
        &["GET", "x"],
        &["EXEC"],
        &["EVAL", "return redis.call('get','x')", "0"],
        &["EVAL", "return redis.call('hget','app:1','f')", "0"],
        &["EVAL", "return redis.pcall('get','app:1')", "0"],
    ]
    .iter()
    .map(|r| strs(r))
    .collect();
    let diffs = compare(&mut a, &mut b, &requests);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    let (mut a, mut b) = (ours.raw(), theirs.raw());
    let dryruns: Vec<Vec<String>> = [
        &["ACL", "DRYRUN", "app", "get", "app:1"][..],
        &["ACL", "DRYRUN", "app", "get", "x"],
        &["ACL", "DRYRUN", "app", "set", "ro:1", "v"],
        &["ACL", "DRYRUN", "app", "hget", "app:1", "f"],
        &["ACL", "DRYRUN", "app", "config", "set", "x", "y"],
        &["ACL", "DRYRUN", "app", "config", "get", "x"],
        &["ACL", "DRYRUN", "app", "config"],
        &["ACL", "DRYRUN", "app", "config", "nope"],
        &["ACL", "DRYRUN", "app", "nope"],
        &["ACL", "DRYRUN", "nobody", "get", "x"],
        &["ACL", "DRYRUN", "app", "publish", "ch", "m"],
        &["ACL", "DRYRUN", "app", "publish", "other", "m"],
        &["ACL", "DRYRUN", "app", "subscribe", "ch", "other"],
        &["ACL", "DRYRUN", "app", "get"],
    ]
    .iter()
    .map(|r| strs(r))
    .collect();
    let diffs = compare(&mut a, &mut b, &dryruns);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// AUTH and HELLO AUTH: wrong passwords, disabled and unknown users, the one-argument
/// form with and without a default password, RESET back to the default user.
#[test]
fn auth_and_hello_flows_match_redis() {
    for args in [&[][..], &["--requirepass", "dpw"][..]] {
        let (ours, theirs) = pair(args);
        let setup = |s: &Server| {
            let mut c = s.raw();
            if s.password.is_some() {
                c.request(&["AUTH", "dpw"]);
            }
            c.request(&["ACL", "SETUSER", "k", "on", ">kpw", "+@all", "~*"]);
            c.request(&["ACL", "SETUSER", "off", "off", ">opw", "+@all"]);
        };
        setup(&ours);
        setup(&theirs);
        let (mut a, mut b) = (ours.raw(), theirs.raw());
        let requests: Vec<Vec<String>> = [
            &["ACL", "WHOAMI"][..],
            &["AUTH", "wrong"],
            &["AUTH", "k", "wrong"],
            &["AUTH", "nobody", "x"],
            &["AUTH", "off", "opw"],
            &["AUTH", "a", "b", "c"],
            &["HELLO", "2", "AUTH", "k", "wrong"],
            &["HELLO", "2", "AUTH", "k"],
            &["HELLO", "4", "AUTH", "k", "kpw"],
            &["AUTH", "k", "kpw"],
            &["ACL", "WHOAMI"],
            &["AUTH", "dpw"],
            &["ACL", "WHOAMI"],
            &["AUTH", "default", "dpw"],
            &["ACL", "WHOAMI"],
            &["RESET"],
            &["ACL", "WHOAMI"],
            &["ACL", "GETUSER", "default"],
        ]
        .iter()
        .map(|r| strs(r))
        .collect();
        let diffs = compare(&mut a, &mut b, &requests);
        assert!(diffs.is_empty(), "{args:?}\n{}", diffs.join("\n"));
    }
}

/// The fields of each ACL LOG entry that do not depend on time or addresses, and the
/// `cmd=` and `user=` of its client-info.
fn log_entries(admin: &mut redis::Connection) -> Vec<Vec<String>> {
    let v: Vec<redis::Value> = redis::cmd("ACL").arg("LOG").query(admin).unwrap();
    v.into_iter()
        .map(|e| {
            let items: Vec<redis::Value> = redis::from_redis_value(e).unwrap();
            let mut out = Vec::new();
            for kv in items.chunks(2) {
                let k: String = redis::from_redis_value(kv[0].clone()).unwrap();
                match k.as_str() {
                    "age-seconds" => out.push(k),
                    "client-info" => {
                        let ci: String = redis::from_redis_value(kv[1].clone()).unwrap();
                        let keep: Vec<&str> = ci
                            .split(' ')
                            .filter(|f| f.starts_with("cmd=") || f.starts_with("user="))
                            .collect();
                        out.push(format!("{k}={}", keep.join(" ")));
                    }
                    _ => {
                        let val = match &kv[1] {
                            redis::Value::Int(n) => n.to_string(),
                            other => redis::from_redis_value::<String>(other.clone()).unwrap(),
                        };
                        out.push(format!("{k}={val}"));
                    }
                }
            }
            out
        })
        .collect()
}

/// ACL LOG after refused commands, keys, channels and logins (inside MULTI and scripts
/// too), folding of repeats, a count, RESET; never the password tried.
#[test]
fn acl_log_matches_redis_and_never_holds_passwords() {
    let (ours, theirs) = pair(&["--acllog-max-len", "5"]);
    let secret = "Sekr1t-never-shown";
    let mut logs = Vec::new();
    for s in [&ours, &theirs] {
        let mut admin = s.conn();
        common::q(
            &mut admin,
            &[
                "ACL", "SETUSER", "app", "on", ">pw", "~app:*", "&ch", "+@all", "-hget",
            ],
        );
        let mut c = s.raw();
        for req in [
            &["AUTH", "app", secret][..],
            &["AUTH", "app", "pw"],
            &["GET", "x"],
            &["GET", "x"],
            &["HGET", "app:1", "f"],
            &["MULTI"],
            &["GET", "y"],
            &["DISCARD"],
            &["EVAL", "return redis.pcall('get','z')", "0"],
        ] {
            c.request(req);
        }
        logs.push(log_entries(&mut admin));
        let counted: Vec<redis::Value> = redis::cmd("ACL")
            .arg("LOG")
            .arg(2)
            .query(&mut admin)
            .unwrap();
        assert_eq!(counted.len(), 2);
        let all = format!("{:?}", common::q(&mut admin, &["ACL", "LOG"]));
        assert!(!all.contains(secret), "{all}");
        assert!(!s.log().contains(secret));
        assert_eq!(
            common::q(&mut admin, &["ACL", "LOG", "RESET"]),
            redis::Value::Okay
        );
        let empty: Vec<redis::Value> = redis::cmd("ACL").arg("LOG").query(&mut admin).unwrap();
        assert!(empty.is_empty());
    }
    assert_eq!(logs[0], logs[1]);
    assert_eq!(logs[0].len(), 5, "acllog-max-len keeps 5: {:?}", logs[0]);
}

/// Users written by ACL SAVE are read back by redis-server from the same file; ACL LOAD
/// errors name the file and line as Redis does; a bad ACL file stops start-up; `user`
/// lines with `aclfile` are refused as Redis refuses them.
#[test]
fn aclfile_round_trip_with_redis() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.acl");
    let p = path.to_str().unwrap().to_string();
    std::fs::write(
        &path,
        "user default on nopass ~* &* +@all\nuser app on >pw ~app:* +@read\n",
    )
    .unwrap();
    let ours = Server::builder(Kind::Redrepl)
        .args(&["--aclfile", &p])
        .start();
    let mut c = ours.conn();
    common::q(
        &mut c,
        &[
            "ACL",
            "SETUSER",
            "w",
            "on",
            "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
            "%W~log:*",
            "+@write",
            "-@dangerous",
            "(~x +get)",
        ],
    );
    assert_eq!(common::q(&mut c, &["ACL", "SAVE"]), redis::Value::Okay);
    let ours_list = ours.raw().request(&["ACL", "LIST"]);
    let theirs = Server::builder(Kind::Redis)
        .args(&["--aclfile", &p])
        .start();
    let theirs_list = theirs.raw().request(&["ACL", "LIST"]);
    assert_eq!(normalize(&ours_list), normalize(&theirs_list));
    // The file's text: redis-server's ACL SAVE writes the same lines.
    let ours_text = std::fs::read(&path).unwrap();
    assert_eq!(
        common::q(&mut theirs.conn(), &["ACL", "SAVE"]),
        redis::Value::Okay
    );
    let theirs_text = std::fs::read(&path).unwrap();
    assert_eq!(normalize(&ours_text), normalize(&theirs_text));
    // ACL LOAD of a broken file: nothing changes, the same errors.
    std::fs::write(
        &path,
        "user a on bogus\nnotuser b\nuser a on\nuser c +nope ~*\n",
    )
    .unwrap();
    let x = ours.raw().request(&["ACL", "LOAD"]);
    let y = theirs.raw().request(&["ACL", "LOAD"]);
    assert_eq!(String::from_utf8_lossy(&x), String::from_utf8_lossy(&y));
    assert_eq!(
        normalize(&ours.raw().request(&["ACL", "LIST"])),
        normalize(&ours_list)
    );
    // Both ways of declaring users at once: refused at start.
    let out = Server::builder(Kind::Redrepl)
        .args(&["--aclfile", &p, "--user", "x", "on"])
        .start_fails();
    assert!(out.contains("please define either an ACL file or declare users directly in your redis.conf, but not both"), "{out}");
    // ACL LOAD / SAVE without a file.
    let (plain, plain_redis) = pair(&[]);
    let diffs = compare(
        &mut plain.raw(),
        &mut plain_redis.raw(),
        &[strs(&["ACL", "LOAD"]), strs(&["ACL", "SAVE"])],
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

/// `user` lines in redis.conf: loaded at start (the same ACL LIST as redis-server),
/// `requirepass` then a `user default` line, and a rule error stops start-up.
#[test]
fn config_user_lines_match_redis() {
    let conf = "requirepass dpw\nuser default on >other ~* &* +@all\nuser app on >pw ~app:* resetchannels +@read (~x +set)\nuser off\n";
    let ours = Server::builder(Kind::Redrepl)
        .config(conf)
        .password("other")
        .start();
    let theirs = Server::builder(Kind::Redis)
        .config(conf)
        .password("other")
        .start();
    let get = |s: &Server| {
        let mut r = s.raw();
        r.request(&["AUTH", "other"]);
        normalize(&r.request(&["ACL", "LIST"]))
    };
    assert_eq!(get(&ours), get(&theirs));
    let bad = Server::builder(Kind::Redrepl)
        .config("user app on +nope\n")
        .start_fails();
    assert!(
        bad.contains("Error loading ACL rule '+nope' for the user named 'app': Unknown command or category name in ACL"),
        "{bad}"
    );
    let bad = Server::builder(Kind::Redrepl)
        .config("user app on bogus\n")
        .start_fails();
    assert!(bad.contains("Syntax error"), "{bad}");
}

/// Deleting a user closes its connections (the caller's after the reply); CLIENT LIST
/// shows `user=`; CLIENT KILL USER; ACL SETUSER off keeps them, as Redis 7.0.
#[test]
fn clients_of_deleted_users_are_closed() {
    for kind in [Kind::Redrepl, Kind::Redis] {
        let s = Server::builder(kind).start();
        let mut admin = s.raw();
        admin.request(&["ACL", "SETUSER", "k", "on", ">pw", "+@all", "~*"]);
        let mut k1 = s.raw();
        assert_eq!(k1.request(&["AUTH", "k", "pw"]), b"+OK\r\n");
        let mut k2 = s.raw();
        k2.request(&["AUTH", "k", "pw"]);
        let list = String::from_utf8_lossy(&admin.request(&["CLIENT", "LIST"])).into_owned();
        assert_eq!(list.matches("user=k ").count(), 2, "{kind:?}: {list}");
        admin.request(&["ACL", "SETUSER", "k", "off"]);
        assert_eq!(k1.request(&["PING"]), b"+PONG\r\n", "{kind:?}");
        assert_eq!(admin.request(&["ACL", "DELUSER", "k"]), b":1\r\n");
        assert!(k1.is_closed(Duration::from_secs(5)), "{kind:?}");
        assert!(k2.is_closed(Duration::from_secs(5)), "{kind:?}");
        // Deleting the user one runs as: the reply arrives, then the connection closes.
        admin.request(&["ACL", "SETUSER", "self", "on", "nopass", "+@all"]);
        let mut me = s.raw();
        me.request(&["AUTH", "self", "x"]);
        assert_eq!(me.request(&["ACL", "DELUSER", "self"]), b":1\r\n");
        assert!(me.is_closed(Duration::from_secs(5)), "{kind:?}");
        admin.request(&["ACL", "SETUSER", "v", "on", "nopass", "+@all"]);
        let mut v = s.raw();
        v.request(&["AUTH", "v", "x"]);
        assert_eq!(admin.request(&["CLIENT", "KILL", "USER", "v"]), b":1\r\n");
        assert!(v.is_closed(Duration::from_secs(5)), "{kind:?}");
        let err = admin.request(&["CLIENT", "KILL", "USER", "nobody"]);
        assert_eq!(err, b"-ERR No such user 'nobody'\r\n");
    }
}

/// Waits until `replica` reports its link up and `key` replicated, or panics with INFO.
fn wait_synced(replica: &Server, key: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mut c = replica.raw();
        let got = c.request(&["GET", key]);
        if got == format!("${}\r\n{value}\r\n", value.len()).into_bytes() {
            return;
        }
        if Instant::now() > deadline {
            let info = String::from_utf8_lossy(&c.request(&["INFO", "replication"])).into_owned();
            panic!("replica never synced: {info}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A replica logs in to its master as a least-privilege user (`masteruser` +
/// `masterauth`): redrepl replica of redis-server and redis-server replica of redrepl. The
/// replica's own default user may only read: the master's writes are applied anyway.
#[test]
fn masteruser_replication_both_ways() {
    for (master_kind, replica_kind) in [(Kind::Redis, Kind::Redrepl), (Kind::Redrepl, Kind::Redis)]
    {
        let master = Server::builder(master_kind)
            .args(&[
                "--requirepass",
                "adminpw",
                "--repl-diskless-sync-delay",
                "0",
            ])
            .start();
        let mut m = master.conn_auth();
        common::q(
            &mut m,
            &[
                "ACL",
                "SETUSER",
                "repl",
                "on",
                ">replpw",
                "+psync",
                "+replconf",
                "+ping",
            ],
        );
        common::q(&mut m, &["SET", "k", "v1"]);
        let port = master.port.to_string();
        let replica = Server::builder(replica_kind)
            .args(&[
                "--replicaof",
                "127.0.0.1",
                &port,
                "--masteruser",
                "repl",
                "--masterauth",
                "replpw",
            ])
            // A replica whose own users may only read: the master's stream still applies.
            .config("user default on nopass ~* &* -@all +@read +@connection +info\n")
            .start();
        wait_synced(&replica, "k", "v1");
        common::q(&mut m, &["SET", "k", "v2"]);
        wait_synced(&replica, "k", "v2");
        let mut admin = master.raw();
        admin.request(&["AUTH", "adminpw"]);
        let list = String::from_utf8_lossy(&admin.request(&["CLIENT", "LIST"])).into_owned();
        assert!(list.contains("user=repl"), "{master_kind:?}: {list}");
        assert!(!replica.log().contains("replpw"));
    }
}

/// rename-command: the new name runs the command, the old one and a disabled one are
/// unknown, COMMAND INFO answers under the new name with the original's entry, ACL rules
/// keep the original names, as redis-server 7.0.
#[test]
fn rename_command_matches_redis() {
    let conf = "rename-command CONFIG myconf\nrename-command FLUSHALL \"\"\n";
    let ours = Server::builder(Kind::Redrepl).config(conf).start();
    let theirs = Server::builder(Kind::Redis).config(conf).start();
    let requests: Vec<Vec<String>> = [
        &["CONFIG", "GET", "maxmemory"][..],
        &["myconf", "GET", "maxmemory"],
        &["MYCONF", "GET"],
        &["FLUSHALL"],
        &["COMMAND", "INFO", "config", "flushall"],
        &["ACL", "SETUSER", "x", "+myconf"],
        &["ACL", "SETUSER", "x", "+config", "+flushall"],
        &["ACL", "DRYRUN", "x", "config", "get", "x"],
        &["ACL", "DRYRUN", "x", "myconf", "get", "x"],
        &["ACL", "DRYRUN", "x", "flushall"],
        &["EVAL", "return redis.call('flushall')", "0"],
    ]
    .iter()
    .map(|r| strs(r))
    .collect();
    let diffs = compare(&mut ours.raw(), &mut theirs.raw(), &requests);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // COMMAND INFO under the new name: the original's entry (subcommands in dict order
    // on redis-server, so only the head is compared).
    let info = ours.raw().request(&["COMMAND", "INFO", "myconf"]);
    assert!(info.starts_with(b"*1\r\n*10\r\n$6\r\nconfig\r\n:-2\r\n"));
    let info = theirs.raw().request(&["COMMAND", "INFO", "myconf"]);
    assert!(info.starts_with(b"*1\r\n*10\r\n$6\r\nconfig\r\n:-2\r\n"));
    let list = String::from_utf8_lossy(&ours.raw().request(&["COMMAND", "LIST"])).into_owned();
    assert!(
        list.contains("\r\nconfig\r\n") && !list.contains("\r\nflushall\r\n"),
        "{list}"
    );
    let bad = Server::builder(Kind::Redrepl)
        .config("rename-command nope x\n")
        .start_fails();
    assert!(bad.contains("No such command in rename-command"), "{bad}");
}

/// CONFIG REWRITE writes the live users as `user` lines (no aclfile), as Redis does: a
/// user added with ACL SETUSER survives a restart, a deleted one is gone, and the lines are
/// the same as redis-server writes.
#[test]
fn config_rewrite_writes_the_live_users_as_redis() {
    let conf = "user app on >pw ~app:* resetchannels +@read\nuser gone on nopass +ping\n";
    let mut files = Vec::new();
    for kind in [Kind::Redrepl, Kind::Redis] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.conf");
        std::fs::write(&path, conf).unwrap();
        let s = Server::builder(kind)
            .config_file(&path)
            .dir(dir.path())
            .start();
        let mut a = s.raw();
        a.request(&[
            "ACL",
            "SETUSER",
            "new",
            "on",
            ">np",
            "~k*",
            "&ch",
            "+get",
            "(~x +set)",
        ]);
        a.request(&["ACL", "DELUSER", "gone"]);
        assert_eq!(a.request(&["CONFIG", "REWRITE"]), b"+OK\r\n", "{kind:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        let users: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("user "))
            .map(|l| normalize(l.as_bytes()))
            .collect();
        assert!(
            !text.contains(">pw") && !text.contains(">np"),
            "{kind:?}: {text}"
        );
        assert!(!text.contains("user gone"), "{kind:?}: {text}");
        drop(s);
        // The rewritten file loads, with the users as they were.
        let s = Server::builder(kind)
            .config_file(&path)
            .dir(dir.path())
            .start();
        let mut r = s.raw();
        assert_eq!(r.request(&["AUTH", "new", "np"]), b"+OK\r\n", "{kind:?}");
        assert_eq!(r.request(&["AUTH", "app", "pw"]), b"+OK\r\n", "{kind:?}");
        files.push(users);
        drop(dir);
    }
    assert_eq!(files[0], files[1]);
}

/// A subscriber whose user loses the right to a channel it is subscribed to (ACL SETUSER
/// resetchannels, or a narrower `&pattern`) is disconnected; one still allowed stays; as
/// Redis 7.0.
#[test]
fn subscribers_losing_channel_rights_are_disconnected_as_redis() {
    for kind in [Kind::Redrepl, Kind::Redis] {
        let s = Server::builder(kind).start();
        let mut admin = s.raw();
        admin.request(&["ACL", "SETUSER", "sub", "on", ">pw", "allchannels", "+@all"]);
        let mut news = s.raw();
        news.request(&["AUTH", "sub", "pw"]);
        news.request(&["SUBSCRIBE", "news.1"]);
        let mut pat = s.raw();
        pat.request(&["AUTH", "sub", "pw"]);
        pat.request(&["PSUBSCRIBE", "sport.*"]);
        let mut plain = s.raw();
        plain.request(&["AUTH", "sub", "pw"]);
        // Narrower rights that still cover news.1 but not the pattern sport.*.
        admin.request(&["ACL", "SETUSER", "sub", "resetchannels", "&news.*"]);
        assert!(
            pat.is_closed(Duration::from_secs(5)),
            "{kind:?}: pattern subscriber kept"
        );
        assert!(
            !news.is_closed(Duration::from_millis(300)),
            "{kind:?}: news closed"
        );
        assert_eq!(plain.request(&["PING"]), b"+PONG\r\n", "{kind:?}");
        // No channel at all: the remaining subscriber goes, the plain client stays.
        admin.request(&["ACL", "SETUSER", "sub", "resetchannels"]);
        assert!(
            news.is_closed(Duration::from_secs(5)),
            "{kind:?}: channel subscriber kept"
        );
        assert_eq!(plain.request(&["PING"]), b"+PONG\r\n", "{kind:?}");
    }
}

/// A connection keeps its user's rules between commands (the permission check's cache),
/// yet every change applies to its next command, as in redis-server: ACL SETUSER (keys,
/// commands, a new selector), ACL LOAD (the default user's new rules; other users'
/// clients closed), and a user recreated after ACL DELUSER.
#[test]
fn user_changes_apply_to_the_next_command_as_redis() {
    let dir = tempfile::tempdir().unwrap();
    let aclfile = dir.path().join("users.acl");
    std::fs::write(&aclfile, "user default on nopass ~* &* +@all\n").unwrap();
    let file = aclfile.to_str().unwrap();
    let (ours, redis) = pair(&["--aclfile", file]);
    let (mut oa, mut ra) = (ours.raw(), redis.raw());
    let (mut ou, mut ru) = (ours.raw(), redis.raw());
    let (mut od, mut rd) = (ours.raw(), redis.raw());
    let mut diffs = Vec::new();
    let mut run = |steps: &[(u8, Vec<&str>)]| {
        for (who, req) in steps {
            let (x, y) = match who {
                0 => (oa.request(req), ra.request(req)),
                1 => (ou.request(req), ru.request(req)),
                _ => (od.request(req), rd.request(req)),
            };
            if x != y {
                diffs.push(format!(
                    "{req:?}\n  ours:  {:?}\n  redis: {:?}",
                    String::from_utf8_lossy(&x),
                    String::from_utf8_lossy(&y)
                ));
            }
        }
    };
    run(&[
        (
            0,
            vec!["ACL", "SETUSER", "app", "on", ">pw", "~app:*", "+@all"],
        ),
        (1, vec!["AUTH", "app", "pw"]),
        (1, vec!["SET", "app:1", "a"]),
        (1, vec!["GET", "app:1"]),
        (1, vec!["GET", "other:1"]),
        (0, vec!["ACL", "SETUSER", "app", "resetkeys", "~other:*"]),
        (1, vec!["GET", "app:1"]),
        (1, vec!["GET", "other:1"]),
        (0, vec!["ACL", "SETUSER", "app", "-get"]),
        (1, vec!["GET", "other:1"]),
        (0, vec!["ACL", "SETUSER", "app", "(+get ~app:*)"]),
        (1, vec!["GET", "app:1"]),
        (1, vec!["GET", "other:1"]),
        (0, vec!["ACL", "SETUSER", "app", "nocommands"]),
        (1, vec!["GET", "app:1"]),
        (2, vec!["GET", "x"]),
    ]);
    std::fs::write(
        &aclfile,
        "user default on nopass ~d:* &* +@all\nuser app on >pw ~app:* +@all\n",
    )
    .unwrap();
    run(&[
        (0, vec!["ACL", "LOAD"]),
        (2, vec!["GET", "x"]),
        (2, vec!["GET", "d:1"]),
    ]);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    // The refusals really happened (not two servers allowing everything).
    assert!(String::from_utf8_lossy(&od.request(&["GET", "x"])).starts_with("-NOPERM"));
    assert!(
        ou.is_closed(Duration::from_secs(5)),
        "app's client survived ACL LOAD"
    );
    // Deleted and recreated with other rules: a new connection gets the new rules.
    oa.request(&["ACL", "DELUSER", "app"]);
    oa.request(&["ACL", "SETUSER", "app", "on", ">pw", "~new:*", "+@all"]);
    let mut again = ours.raw();
    again.request(&["AUTH", "app", "pw"]);
    assert!(String::from_utf8_lossy(&again.request(&["GET", "app:1"])).starts_with("-NOPERM"));
    assert_eq!(again.request(&["GET", "new:1"]), b"$-1\r\n");
}
