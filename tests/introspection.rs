//! Issue #11 part B: the introspection commands (SLOWLOG, LATENCY, MEMORY, INFO
//! commandstats / errorstats / latencystats, CLUSTER / READONLY / READWRITE / ASKING,
//! MODULE, RESTORE-ASKING, LOLWUT), checked side by side with Debian's redis-server: the
//! same replies byte for byte where nothing varies, the same shape (field names, types,
//! counts) where times do.

mod common;

use common::{Kind, Server, err_text, q, same_replies};
use redis::Value;
use std::collections::BTreeMap;
use std::time::Duration;

fn conn(s: &Server) -> redis::Connection {
    let c = s.conn();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::VerbatimString { text, .. } => text.clone(),
        Value::Int(n) => n.to_string(),
        other => panic!("unexpected reply {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Map(m) => m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

/// Both engines, each started with `args`.
fn both(args: &[&str]) -> [Server; 2] {
    [Kind::Redrepl, Kind::Redis].map(|k| Server::builder(k).args(args).start())
}

/// Replies that do not depend on state or time: byte-identical.
#[test]
fn fixed_replies_are_redis_bytes() {
    same_replies(&[
        &["CLUSTER", "INFO"],
        &["CLUSTER", "KEYSLOT", "a"],
        &["CLUSTER", "HELP"],
        &["CLUSTER", "NOPE"],
        &["MODULE", "a\0b"],
        &["CLUSTER", "KEYSLOT"],
        &["CLUSTER"],
        &["READONLY"],
        &["READWRITE"],
        &["ASKING"],
        &["MODULE", "LIST"],
        &["MODULE", "HELP"],
        &["MODULE", "LOAD", "/nonexistent/module.so"],
        &["MODULE", "UNLOAD", "nope"],
        &["SLOWLOG", "HELP"],
        &["SLOWLOG", "GET", "abc"],
        &["SLOWLOG", "GET", "-2"],
        &["SLOWLOG", "GET", "1", "2"],
        &["SLOWLOG", "NOPE"],
        &["LATENCY", "HELP"],
        &["LATENCY", "LATEST"],
        &["LATENCY", "HISTORY", "command"],
        &["LATENCY", "GRAPH", "command"],
        &["LATENCY", "RESET"],
        &["LATENCY", "DOCTOR"],
        &["LATENCY", "HISTOGRAM", "nosuchcommand"],
        &["MEMORY", "HELP"],
        &["MEMORY", "USAGE", "nokey"],
        &["MEMORY", "USAGE", "nokey", "SAMPLES", "x"],
        &["MEMORY", "USAGE", "nokey", "SAMPLES", "-1"],
        &["MEMORY", "USAGE", "nokey", "FOO"],
        &["MEMORY", "PURGE"],
        &["LOLWUT"],
        &["LOLWUT", "VERSION", "7"],
        &["LOLWUT", "VERSION", "x"],
        &["SET", "k", "v"],
    ]);
}

/// MODULE LOAD / LOADEX / UNLOAD when enable-module-command allows them.
#[test]
fn module_commands_fail_as_redis_when_enabled() {
    let servers = both(&["--enable-module-command", "yes"]);
    let replies = servers.each_ref().map(|s| {
        let mut c = conn(s);
        [
            &["MODULE", "LOAD", "/nonexistent/m.so"][..],
            &["MODULE", "LOADEX", "/nonexistent/m.so", "CONFIG", "a", "b"],
            &["MODULE", "UNLOAD", "m"],
            &["MODULE", "LIST"],
        ]
        .iter()
        .map(|cmd| format!("{:?}", q(&mut c, cmd)))
        .collect::<Vec<_>>()
    });
    assert_eq!(replies[0], replies[1]);
}

/// RESTORE-ASKING restores a DUMP payload as RESTORE does (cluster mode is off).
#[test]
fn restore_asking_is_restore() {
    let servers = both(&[]);
    let replies = servers.each_ref().map(|s| {
        let mut c = conn(s);
        q(&mut c, &["SET", "src", "hello"]);
        let payload = match q(&mut c, &["DUMP", "src"]) {
            Value::BulkString(b) => b,
            other => panic!("DUMP: {other:?}"),
        };
        let restore = |c: &mut redis::Connection| {
            let cmd = redis::cmd("RESTORE-ASKING")
                .arg("dst")
                .arg(0)
                .arg(&payload)
                .clone();
            format!("{:?}", common::qc(c, &cmd))
        };
        let first = restore(&mut c);
        let again = restore(&mut c);
        let got = text(&q(&mut c, &["GET", "dst"]));
        (first, again, got)
    });
    assert_eq!(replies[0], replies[1]);
    assert_eq!(replies[0].2, "hello");
}

/// One SLOWLOG entry with what varies (id, time, duration, client port) taken out.
fn entry_shape(e: &Value) -> (Vec<String>, String) {
    let f = items(e);
    assert_eq!(f.len(), 6, "entry {e:?}");
    int(&f[0]);
    assert!(int(&f[1]) > 1_600_000_000);
    assert!(int(&f[2]) >= 0);
    let args = items(&f[3]).iter().map(text).collect();
    assert!(text(&f[4]).starts_with("127.0.0.1:"));
    (args, text(&f[5]))
}

/// SLOWLOG: entries shaped as Redis's (32 arguments at most, 128 bytes per argument,
/// secrets redacted, client name), newest first, slowlog-max-len and -1 honoured.
#[test]
fn slowlog_entries_match_redis() {
    let servers = both(&[]);
    let long = "x".repeat(200);
    let mut many = vec!["RPUSH", "list"];
    let words: Vec<String> = (0..40).map(|i| format!("e{i}")).collect();
    many.extend(words.iter().map(String::as_str));
    let results = servers.each_ref().map(|s| {
        let mut c = conn(s);
        q(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        q(&mut c, &["SLOWLOG", "RESET"]);
        q(&mut c, &["CLIENT", "SETNAME", "bob"]);
        q(&mut c, &["SET", "k", long.as_str()]);
        q(&mut c, &many);
        q(&mut c, &["CONFIG", "SET", "masterauth", "s3cret"]);
        q(&mut c, &["AUTH", "someone", "pw"]);
        let log = items(&q(&mut c, &["SLOWLOG", "GET", "-1"]));
        let ids: Vec<i64> = log.iter().map(|e| int(&items(e)[0])).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
        let shapes: Vec<_> = log.iter().map(entry_shape).collect();
        let two = items(&q(&mut c, &["SLOWLOG", "GET", "2"])).len();
        let default = items(&q(&mut c, &["SLOWLOG", "GET"])).len();
        q(&mut c, &["CONFIG", "SET", "slowlog-max-len", "3"]);
        q(&mut c, &["PING"]);
        let trimmed = int(&q(&mut c, &["SLOWLOG", "LEN"]));
        q(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
        q(&mut c, &["SLOWLOG", "RESET"]);
        q(&mut c, &["PING"]);
        let off = int(&q(&mut c, &["SLOWLOG", "LEN"]));
        (shapes, two, default, trimmed, off)
    });
    assert_eq!(results[0], results[1]);
    let (shapes, two, _, trimmed, off) = &results[0];
    assert_eq!((*two, *trimmed, *off), (2, 3, 0));
    let joined = format!("{shapes:?}");
    assert!(
        !joined.contains("s3cret") && !joined.contains("\"pw\""),
        "{joined}"
    );
    assert!(joined.contains("... (11 more arguments)"), "{joined}");
    assert!(joined.contains("... (72 more bytes)"), "{joined}");
}

/// `INFO commandstats` as `name -> (calls, rejected_calls, failed_calls)` and the
/// errorstats lines.
fn command_counts(c: &mut redis::Connection) -> (BTreeMap<String, [u64; 3]>, Vec<String>) {
    let info = text(&q(c, &["INFO", "commandstats"]));
    let mut stats = BTreeMap::new();
    for line in info.lines().filter(|l| l.starts_with("cmdstat_")) {
        let (name, fields) = line["cmdstat_".len()..].split_once(':').unwrap();
        let get = |k: &str| -> u64 {
            fields
                .split(',')
                .find_map(|f| f.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("{k} missing in {line}"))
                .parse()
                .unwrap()
        };
        for field in ["usec", "usec_per_call"] {
            assert!(fields.contains(&format!("{field}=")), "{line}");
        }
        stats.insert(
            name.to_string(),
            [get("calls"), get("rejected_calls"), get("failed_calls")],
        );
    }
    let errors = text(&q(c, &["INFO", "errorstats"]))
        .lines()
        .filter(|l| l.starts_with("errorstat_"))
        .map(String::from)
        .collect();
    (stats, errors)
}

/// commandstats counts calls, rejections (arity) and failures (error replies) per
/// command and subcommand; errorstats counts error codes; CONFIG RESETSTAT clears both.
#[test]
fn commandstats_and_errorstats_match_redis() {
    let servers = both(&[]);
    let results = servers.each_ref().map(|s| {
        let mut c = conn(s);
        q(&mut c, &["CONFIG", "RESETSTAT"]);
        for cmd in [
            &["SET", "a", "1"][..],
            &["GET", "a"],
            &["GET"],
            &["LPUSH", "a", "x"],
            &["NOSUCHCOMMAND"],
            &["CLIENT", "LIST"],
            &["CLIENT", "NOPE"],
            &["CLIENT", "KILL"],
            &["INCR", "a"],
            &["CLUSTER", "INFO"],
            &["MULTI"],
            &["SET", "b"],
            &["EXEC"],
        ] {
            q(&mut c, cmd);
        }
        let before = command_counts(&mut c);
        let total = text(&q(&mut c, &["INFO", "stats"]))
            .lines()
            .find(|l| l.starts_with("total_error_replies:"))
            .map(String::from);
        q(&mut c, &["CONFIG", "RESETSTAT"]);
        let after = command_counts(&mut c);
        (before, total, after)
    });
    assert_eq!(results[0], results[1]);
    let (before, _, after) = &results[0];
    assert_eq!(before.0["get"], [1, 1, 0]);
    assert_eq!(before.0["lpush"], [1, 0, 1]);
    assert_eq!(before.0["client|kill"], [0, 1, 0]);
    assert!(
        before
            .1
            .iter()
            .any(|l| l.starts_with("errorstat_WRONGTYPE:count=1"))
    );
    assert_eq!(after.0.keys().collect::<Vec<_>>(), ["config|resetstat"]);
}

/// The section headers of an INFO reply.
fn headers(c: &mut redis::Connection, args: &[&str]) -> Vec<String> {
    let mut cmd = vec!["INFO"];
    cmd.extend(args);
    text(&q(c, &cmd))
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// INFO's section selection: default, all, everything, several names, any case.
#[test]
fn info_selects_sections_as_redis() {
    let servers = both(&[]);
    let results = servers.each_ref().map(|s| {
        let mut c = conn(s);
        q(&mut c, &["SET", "a", "1"]);
        [
            &[][..],
            &["default"],
            &["all"],
            &["everything"],
            &["commandstats", "ERRORSTATS"],
            &["latencystats"],
            &["cluster", "modules"],
            &["server", "server"],
            &["nosuchsection"],
        ]
        .iter()
        .map(|a| headers(&mut c, a))
        .collect::<Vec<_>>()
    });
    assert_eq!(results[0], results[1]);
    let mut c = conn(&servers[0]);
    assert_eq!(
        text(&q(&mut c, &["INFO", "cluster"])),
        "# Cluster\r\ncluster_enabled:0\r\n"
    );
}

/// latencystats: one line per tracked command with the configured percentiles, formatted
/// as Redis; CONFIG GET/SET of the percentiles; latency-tracking no stops tracking; LATENCY
/// HISTOGRAM's shape.
#[test]
fn latency_tracking_matches_redis() {
    let servers = both(&[]);
    let results = servers.each_ref().map(|s| {
        let mut c = conn(s);
        q(&mut c, &["CONFIG", "RESETSTAT"]);
        for i in 0..5 {
            q(&mut c, &["SET", "k", i.to_string().as_str()]);
        }
        let labels = |c: &mut redis::Connection| -> Vec<String> {
            text(&q(c, &["INFO", "latencystats"]))
                .lines()
                .filter(|l| l.starts_with("latency_percentiles_usec_set:"))
                .map(|l| {
                    let fields = l.split_once(':').unwrap().1;
                    let names: Vec<&str> = fields
                        .split(',')
                        .filter(|f| !f.is_empty())
                        .map(|f| {
                            let (p, v) = f.split_once('=').unwrap();
                            let (_, frac) = v.split_once('.').unwrap();
                            assert_eq!(frac.len(), 3, "{f}");
                            p
                        })
                        .collect();
                    names.join(",")
                })
                .collect()
        };
        let default = labels(&mut c);
        let bad = format!(
            "{:?}",
            q(
                &mut c,
                &[
                    "CONFIG",
                    "SET",
                    "latency-tracking-info-percentiles",
                    "50 101"
                ]
            )
        );
        q(
            &mut c,
            &[
                "CONFIG",
                "SET",
                "latency-tracking-info-percentiles",
                "99.99 50.5 0 100",
            ],
        );
        let got = text(
            &items(&q(
                &mut c,
                &["CONFIG", "GET", "latency-tracking-info-percentiles"],
            ))[1],
        );
        let custom = labels(&mut c);
        q(
            &mut c,
            &["CONFIG", "SET", "latency-tracking-info-percentiles", ""],
        );
        let empty = labels(&mut c);
        let hist = items(&q(&mut c, &["LATENCY", "HISTOGRAM", "set", "get"]));
        assert_eq!(hist.len(), 2, "{hist:?}");
        assert_eq!(text(&hist[0]), "set");
        let body = items(&hist[1]);
        assert_eq!(text(&body[0]), "calls");
        assert_eq!(int(&body[1]), 5);
        assert_eq!(text(&body[2]), "histogram_usec");
        let buckets: Vec<i64> = items(&body[3]).iter().map(int).collect();
        assert_eq!(buckets.last(), Some(&5), "cumulative: {buckets:?}");
        q(&mut c, &["CONFIG", "SET", "latency-tracking", "no"]);
        q(&mut c, &["GET", "k"]);
        let untracked = items(&q(&mut c, &["LATENCY", "HISTOGRAM", "get"])).len();
        (default, bad, got, custom, empty, untracked)
    });
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].0, ["p50,p99,p99.9"]);
    assert_eq!(results[0].3, ["p99.99,p50.5,p0,p100"]);
}

/// The latency monitor: a command slower than latency-monitor-threshold is an event in
/// LATEST, HISTORY, GRAPH and DOCTOR, and RESET forgets it; as redis-server.
#[test]
fn latency_monitor_records_slow_commands() {
    let servers =
        [Kind::Redrepl, Kind::Redis].map(|k| Server::builder(k).debug_command(true).start());
    let results = servers.each_ref().map(|s| {
        let mut c = conn(s);
        q(&mut c, &["DEBUG", "SLEEP", "0.03"]);
        let before = items(&q(&mut c, &["LATENCY", "LATEST"])).len();
        q(
            &mut c,
            &["CONFIG", "SET", "latency-monitor-threshold", "10"],
        );
        q(&mut c, &["DEBUG", "SLEEP", "0.03"]);
        let latest = items(&q(&mut c, &["LATENCY", "LATEST"]));
        assert_eq!(latest.len(), 1);
        let e = items(&latest[0]);
        assert!(int(&e[2]) >= 30 && int(&e[3]) >= 30, "{e:?}");
        let history = items(&q(&mut c, &["LATENCY", "HISTORY", "command"])).len();
        let graph = text(&q(&mut c, &["LATENCY", "GRAPH", "command"]));
        let graph_shape: Vec<usize> = graph.lines().skip(1).map(str::len).collect();
        let doctor = text(&q(&mut c, &["LATENCY", "DOCTOR"]));
        let doctor_head: Vec<String> = doctor
            .lines()
            .map(|l| l.split(" (average").next().unwrap().to_string())
            .collect();
        let reset = int(&q(&mut c, &["LATENCY", "RESET", "command", "nosuch"]));
        let after = items(&q(&mut c, &["LATENCY", "LATEST"])).len();
        (
            before,
            text(&e[0]),
            history,
            graph_shape,
            doctor_head,
            reset,
            after,
        )
    });
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0].1, "command");
}

/// MEMORY USAGE gives Redis's figures for every type and encoding: exact where the layout
/// is fixed (strings, listpacks, intsets, quicklists, small hash tables), within 5% for
/// sampled big collections and streams.
#[test]
fn memory_usage_is_of_redis_order() {
    let servers = both(&[]);
    let fill = "local n = tonumber(ARGV[1]) for i=1,n do \
        redis.call('hset','bh','f'..i,'v'..i) redis.call('sadd','bs','m'..i) \
        redis.call('zadd','bz',i,'m'..i) redis.call('rpush','bl','e'..i) end";
    let long = "a".repeat(100);
    let huge = "b".repeat(5000);
    let keys = [
        "k", "foo", "n", "big", "huge", "l", "h", "s", "s2", "z", "x", "bh", "bs", "bz", "bl",
    ];
    let results = servers.each_ref().map(|s| {
        let mut c = conn(s);
        for cmd in [
            &["SET", "k", "v"][..],
            &["SET", "foo", "bar"],
            &["SET", "n", "123"],
            &["SET", "big", long.as_str()],
            &["SET", "huge", huge.as_str()],
            &["RPUSH", "l", "a", "b", "c"],
            &["HSET", "h", "a", "1", "b", "2"],
            &["SADD", "s", "1", "2", "3"],
            &["SADD", "s2", "a", "b", "c"],
            &["ZADD", "z", "1", "a", "2", "b"],
            &["XADD", "x", "1-1", "a", "1"],
            &["EVAL", fill, "0", "1000"],
        ] {
            q(&mut c, cmd);
        }
        keys.map(|k| int(&q(&mut c, &["MEMORY", "USAGE", k, "SAMPLES", "0"])))
    });
    for (i, k) in keys.iter().enumerate() {
        let (ours, theirs) = (results[0][i] as f64, results[1][i] as f64);
        let tolerance = if i >= 10 { 0.05 } else { 0.0 };
        assert!(
            (ours - theirs).abs() <= theirs * tolerance,
            "{k}: ours {ours}, redis {theirs}"
        );
    }
}

/// MEMORY STATS has Redis's field names, in Redis's order, with the same reply types;
/// MEMORY DOCTOR and MALLOC-STATS answer text.
#[test]
fn memory_stats_has_redis_shape() {
    let servers = both(&[]);
    let results = servers.each_ref().map(|s| {
        let mut c = conn(s);
        q(&mut c, &["SET", "a", "1"]);
        let stats = items(&q(&mut c, &["MEMORY", "STATS"]));
        let shape: Vec<(String, &'static str)> = stats
            .chunks(2)
            .map(|kv| {
                let kind = match &kv[1] {
                    Value::Int(_) => "int",
                    Value::BulkString(_) | Value::Double(_) => "double",
                    Value::Array(_) | Value::Map(_) => "map",
                    other => panic!("{other:?}"),
                };
                (text(&kv[0]), kind)
            })
            .collect();
        text(&q(&mut c, &["MEMORY", "DOCTOR"]));
        text(&q(&mut c, &["MEMORY", "MALLOC-STATS"]));
        shape
    });
    assert_eq!(results[0], results[1]);
}

/// LOLWUT VERSION 5 draws the same canvas size as Redis (the art itself is random), ends
/// with Redis's version line, and a huge canvas is bounded.
#[test]
fn lolwut_draws_schotter() {
    let servers = both(&[]);
    let results = servers.each_ref().map(|s| {
        let mut c = conn(s);
        let art = text(&q(&mut c, &["LOLWUT", "VERSION", "5", "20", "3", "4"]));
        let widths: Vec<usize> = art.lines().map(|l| l.chars().count()).collect();
        let last = art.lines().last().unwrap().to_string();
        (widths, last)
    });
    assert_eq!(results[0], results[1]);
    assert_eq!(
        results[0].1,
        "Georg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15"
    );
    let mut c = conn(&servers[0]);
    let art = text(&q(&mut c, &["LOLWUT", "VERSION", "5", "1000", "1", "200"]));
    assert!(art.len() < 16 << 20, "{} bytes", art.len());
    assert_eq!(
        err_text(&q(&mut c, &["LOLWUT", "VERSION", "5", "x"])),
        "ERR value is not an integer or out of range"
    );
}

/// Runs a MIGRATE script from a `source` server to a fresh redis-server target (with a
/// password); returns every reply and what the source and the target hold afterwards.
fn migrate_script(source: Kind) -> Vec<String> {
    let src = Server::builder(source).start();
    let dst = Server::builder(Kind::Redis)
        .args(&["--requirepass", "tpw"])
        .start();
    let port = dst.port.to_string();
    let p = port.as_str();
    let mut c = conn(&src);
    let mut out = Vec::new();
    for cmd in [
        &["SET", "a", "1"][..],
        &["SET", "b", "2"],
        &["HSET", "h", "f", "v"],
        &["RPUSH", "l", "x", "y"],
        &["ZADD", "z", "1", "m"],
        &["PEXPIRE", "h", "100000"],
    ] {
        q(&mut c, cmd);
    }
    for cmd in [
        &["MIGRATE", "127.0.0.1", p, "a", "0", "5000"][..],
        &["MIGRATE", "127.0.0.1", p, "a", "0", "5000", "AUTH", "nope"],
        &["MIGRATE", "127.0.0.1", p, "a", "0", "5000", "AUTH", "tpw"],
        &["MIGRATE", "127.0.0.1", p, "a", "0", "5000", "AUTH", "tpw"],
        &[
            "MIGRATE",
            "127.0.0.1",
            p,
            "b",
            "0",
            "5000",
            "COPY",
            "AUTH",
            "tpw",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            p,
            "b",
            "0",
            "5000",
            "COPY",
            "AUTH",
            "tpw",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            p,
            "b",
            "0",
            "5000",
            "REPLACE",
            "AUTH2",
            "default",
            "tpw",
        ],
        &[
            "MIGRATE",
            "127.0.0.1",
            p,
            "",
            "3",
            "5000",
            "AUTH",
            "tpw",
            "KEYS",
            "h",
            "l",
            "z",
            "nokey",
        ],
        &["MIGRATE", "127.0.0.1", p, "nokey", "0", "5000"],
        &["MIGRATE", "127.0.0.1", p, "x", "0", "5000", "KEYS", "a"],
        &["MIGRATE", "127.0.0.1", p, "x", "0", "5000", "BOGUS"],
        &["MIGRATE", "127.0.0.1", p, "x", "0", "5000", "AUTH2", "u"],
        &["MIGRATE", "127.0.0.1", p, "x", "notanumber", "5000"],
        &["SET", "c", "3"],
        &["DBSIZE"],
        &["EXISTS", "a", "b", "c", "h"],
    ] {
        out.push(format!("{:?}", q(&mut c, cmd)));
    }
    let mut d = conn(&dst);
    q(&mut d, &["AUTH", "tpw"]);
    for cmd in [
        &["GET", "a"][..],
        &["GET", "b"],
        &["SELECT", "3"],
        &["HGETALL", "h"],
        &["LRANGE", "l", "0", "-1"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["DBSIZE"],
    ] {
        out.push(format!("{:?}", q(&mut d, cmd)));
    }
    let ttl = int(&q(&mut d, &["PTTL", "h"]));
    assert!(ttl > 0 && ttl <= 100_000, "TTL carried over: {ttl}");
    out
}

/// MIGRATE (AUTH, AUTH2, COPY, REPLACE, KEYS, NOKEY, target errors) from redrepl
/// to a redis-server gives the same replies and the same result as from redis-server.
#[test]
fn migrate_moves_keys_as_redis() {
    let ours = migrate_script(Kind::Redrepl);
    let theirs = migrate_script(Kind::Redis);
    assert_eq!(ours, theirs);
    assert!(ours[5].contains("BUSYKEY"), "{}", ours[5]);
}

/// MIGRATE to a port nobody listens on: Redis's IOERR text for the refused connect (Redis
/// connects without blocking, so the refusal surfaces as the failed write of the first
/// command; redrepl said `connecting to the client`), and NOKEY without connecting for a
/// missing key: the same replies as redis-server.
#[test]
fn migrate_to_a_refused_port_says_ioerr_as_redis() {
    let closed = common::free_port().to_string();
    let mut replies = Vec::new();
    for kind in [Kind::Redrepl, Kind::Redis] {
        let s = Server::builder(kind).start();
        let mut c = conn(&s);
        q(&mut c, &["SET", "a", "1"]);
        let refused = q(&mut c, &["MIGRATE", "127.0.0.1", &closed, "a", "0", "1000"]);
        assert_eq!(
            err_text(&refused),
            "IOERR error or timeout writing to target instance",
            "{kind:?}"
        );
        let nokey = q(&mut c, &["MIGRATE", "127.0.0.1", &closed, "b", "0", "1000"]);
        let kept = q(&mut c, &["EXISTS", "a"]);
        replies.push(format!("{refused:?} {nokey:?} {kept:?}"));
    }
    assert_eq!(replies[0], replies[1]);
}

/// INFO stats `instantaneous_ops_per_sec` and the `instantaneous_*_kbps` fields are sampled
/// rates (redrepl status --watch shows them): under a steady load both servers report a
/// non-zero rate with the same field names in the same order, and an idle server's rate
/// fades back to 0.
#[test]
fn instantaneous_rates_follow_the_load_as_redis() {
    fn stats_field(c: &mut redis::Connection, name: &str) -> String {
        let info: String = redis::cmd("INFO").arg("stats").query(c).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("{name} missing:\n{info}"))
            .trim()
            .to_string()
    }
    let servers = both(&[]);
    let mut orders = Vec::new();
    for s in &servers {
        let mut c = conn(s);
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_millis(1200) {
            let mut p = redis::pipe();
            for _ in 0..50 {
                p.cmd("SET").arg("k").arg("v").ignore();
            }
            p.query::<()>(&mut c).unwrap();
        }
        let ops: u64 = stats_field(&mut c, "instantaneous_ops_per_sec")
            .parse()
            .unwrap();
        assert!(ops > 0, "{:?}: instantaneous_ops_per_sec {ops}", s.kind);
        let kbps: f64 = stats_field(&mut c, "instantaneous_input_kbps")
            .parse()
            .unwrap();
        assert!(kbps > 0.0, "{:?}: instantaneous_input_kbps {kbps}", s.kind);
        let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
        let names: Vec<String> = info
            .lines()
            .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_string()))
            .filter(|n| n.starts_with("instantaneous_") || n.starts_with("total_net"))
            .collect();
        orders.push(names);
        std::thread::sleep(Duration::from_millis(2500));
        let idle: u64 = stats_field(&mut c, "instantaneous_ops_per_sec")
            .parse()
            .unwrap();
        assert!(
            idle < ops / 10,
            "{:?}: still {idle} ops/s when idle",
            s.kind
        );
    }
    assert_eq!(orders[0], orders[1]);
}
