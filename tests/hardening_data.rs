//! Issue #10, data-structure hardening: no client-controlled count sizes an allocation,
//! random picks are uniform, blocking pops pass an element on when a serve fails, OBJECT
//! ENCODING / DEBUG OBJECT as Redis, and a glob matcher that cannot freeze the server.
//! Each behaviour is checked against the real binary, and side by side with Debian's
//! redis-server where Redis defines the answer.

mod common;

use common::{Server, q};
use redis::Value;
use std::time::Duration;

/// A connection whose reads give up after a generous 5 s (a hung server fails the test
/// instead of hanging it).
fn conn(s: &Server) -> redis::Connection {
    let c = s.conn();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

fn both() -> [Server; 2] {
    [Server::start(&[]), Server::start_redis(&[])]
}

/// The strings of an array reply.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) | Value::Set(a) => a
            .iter()
            .map(|e| match e {
                Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
                Value::Int(i) => i.to_string(),
                other => panic!("unexpected element {other:?}"),
            })
            .collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

// ---- bullet 6: the glob matcher is bounded ----

#[test]
fn keys_with_abusive_glob_answers_empty_and_server_stays_responsive() {
    for s in both() {
        let mut c = conn(&s);
        let key = "a".repeat(40);
        q(&mut c, &["SET", &key, "1"]);
        let pattern = "a*".repeat(20) + "b";
        // Another client is answered while (and after) the KEYS runs.
        let mut other = conn(&s);
        let keys = q(&mut c, &["KEYS", &pattern]);
        assert_eq!(keys, Value::Array(vec![]), "{:?}", s.kind);
        assert_eq!(q(&mut other, &["PING"]), Value::SimpleString("PONG".into()));
        // The same pattern through SCAN MATCH and a matching variant.
        let scan = q(&mut c, &["SCAN", "0", "MATCH", &pattern, "COUNT", "100"]);
        let Value::Array(parts) = scan else { panic!() };
        assert_eq!(strings(&parts[1]), Vec::<String>::new());
        let ok = "a*".repeat(20) + "a";
        assert_eq!(strings(&q(&mut c, &["KEYS", &ok])), vec![key.clone()]);
    }
}

// ---- bullet 4: a failed serve passes the element on ----

/// Waits until the server reports `n` blocked clients (the order of blocking matters).
fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    for _ in 0..500 {
        let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
        if info.contains(&want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never saw {n} blocked clients");
}

/// Sends a blocking command on a fresh raw connection and waits until it is blocked.
fn block(
    s: &Server,
    c: &mut redis::Connection,
    args: &[&str],
    blocked_after: usize,
) -> common::Raw {
    let mut r = s.raw();
    let a: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    r.send(&common::resp(&a));
    wait_blocked(c, blocked_after);
    r
}

/// Reads one whole reply of `n` bytes.
fn reply(r: &mut common::Raw, expected: &str) {
    let got = r.read_exact_n(expected.len());
    assert_eq!(String::from_utf8_lossy(&got), expected);
}

#[test]
fn brpoplpush_wrongtype_target_hands_element_to_next_waiter() {
    for s in both() {
        let mut c = conn(&s);
        q(&mut c, &["SET", "target1", "str"]);
        let mut a = block(&s, &mut c, &["BRPOPLPUSH", "blist", "target1", "0"], 1);
        let mut b = block(&s, &mut c, &["BRPOPLPUSH", "blist", "target2", "0"], 2);
        assert_eq!(q(&mut c, &["LPUSH", "blist", "foo"]), Value::Int(1));
        reply(
            &mut a,
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        );
        reply(&mut b, "$3\r\nfoo\r\n");
        assert_eq!(
            strings(&q(&mut c, &["LRANGE", "target2", "0", "-1"])),
            vec!["foo"]
        );
        assert_eq!(
            q(&mut c, &["EXISTS", "blist"]),
            Value::Int(0),
            "{:?}",
            s.kind
        );
        // The same with BLMOVE.
        let mut a = block(
            &s,
            &mut c,
            &["BLMOVE", "bl2", "target1", "LEFT", "RIGHT", "0"],
            1,
        );
        let mut b = block(&s, &mut c, &["BLMOVE", "bl2", "t3", "LEFT", "LEFT", "0"], 2);
        q(&mut c, &["RPUSH", "bl2", "x", "y"]);
        reply(
            &mut a,
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        );
        reply(&mut b, "$1\r\nx\r\n");
        assert_eq!(
            strings(&q(&mut c, &["LRANGE", "bl2", "0", "-1"])),
            vec!["y"]
        );
        wait_blocked(&mut c, 0);
    }
}

#[test]
fn waiters_are_served_first_blocked_first_across_keys_and_commands() {
    for s in both() {
        let mut c = conn(&s);
        let mut a = block(&s, &mut c, &["BLPOP", "k1", "k2", "0"], 1);
        let mut b = block(&s, &mut c, &["BLMPOP", "0", "1", "k2", "LEFT"], 2);
        q(&mut c, &["RPUSH", "k2", "x"]);
        reply(&mut a, "*2\r\n$2\r\nk2\r\n$1\r\nx\r\n");
        q(&mut c, &["RPUSH", "k2", "y"]);
        reply(&mut b, "*2\r\n$2\r\nk2\r\n*1\r\n$1\r\ny\r\n");
        // Sorted sets: BZMPOP first, then BZPOPMIN, both served by one ZADD.
        let mut a = block(&s, &mut c, &["BZMPOP", "0", "1", "z", "MIN"], 1);
        let mut b = block(&s, &mut c, &["BZPOPMIN", "z", "0"], 2);
        q(&mut c, &["ZADD", "z", "1", "a", "2", "b"]);
        reply(
            &mut a,
            "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
        );
        reply(&mut b, "*3\r\n$1\r\nz\r\n$1\r\nb\r\n$1\r\n2\r\n");
        wait_blocked(&mut c, 0);
    }
}

// ---- bullet 1: client-controlled counts never size an allocation ----

/// A process's peak and current resident set (kB), from /proc.
fn rss_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn huge_negative_srandmember_streams_members_of_the_set() {
    for s in both() {
        let mut c = conn(&s);
        q(&mut c, &["SADD", "s", "a", "b", "c"]);
        let before = rss_kb(s.pid().unwrap(), "VmRSS:");
        let v = q(&mut c, &["SRANDMEMBER", "s", "-3000000"]);
        let picks = strings(&v);
        assert_eq!(picks.len(), 3_000_000, "{:?}", s.kind);
        assert!(picks.iter().all(|m| ["a", "b", "c"].contains(&m.as_str())));
        if s.kind == common::Kind::Redrepl {
            // Building the reply whole costs well over 24 bytes per pick; streaming does not.
            let peak = rss_kb(s.pid().unwrap(), "VmHWM:");
            assert!(
                peak.saturating_sub(before) < 3_000_000 * 24 / 1024,
                "peak RSS grew from {before} kB to {peak} kB"
            );
        }
        // The same shapes for hashes and sorted sets, with values and scores.
        q(&mut c, &["HSET", "h", "f1", "v1", "f2", "v2"]);
        let v = strings(&q(&mut c, &["HRANDFIELD", "h", "-20000", "WITHVALUES"]));
        assert_eq!(v.len(), 40_000);
        assert!(v.chunks(2).all(|p| p[1] == format!("v{}", &p[0][1..])));
        q(&mut c, &["ZADD", "z", "1", "m1", "2", "m2"]);
        let v = strings(&q(&mut c, &["ZRANDMEMBER", "z", "-20000", "WITHSCORES"]));
        assert_eq!(v.len(), 40_000);
        assert!(v.chunks(2).all(|p| p[1] == p[0][1..]));
    }
}

#[test]
fn astronomical_counts_leave_the_server_up_for_others() {
    let s = Server::start(&[]);
    let mut c = conn(&s);
    q(&mut c, &["SADD", "s", "a", "b", "c"]);
    q(&mut c, &["HSET", "h", "a", "1"]);
    q(&mut c, &["ZADD", "z", "1", "a"]);
    for (cmd, header) in [
        (
            vec!["SRANDMEMBER", "s", "-100000000000"],
            "*100000000000\r\n",
        ),
        (
            vec!["HRANDFIELD", "h", "-9223372036854775807"],
            "*9223372036854775807\r\n",
        ),
        (
            vec!["ZRANDMEMBER", "z", "-9223372036854775807"],
            "*9223372036854775807\r\n",
        ),
    ] {
        let mut r = s.raw();
        let a: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
        r.send(&common::resp(&a));
        let got = r.read_exact_n(1 << 20);
        assert!(got.starts_with(header.as_bytes()), "{cmd:?}");
        drop(r);
        // Other clients are served while (and after) that reply is cut off.
        assert_eq!(q(&mut c, &["PING"]), Value::SimpleString("PONG".into()));
    }
    assert_eq!(q(&mut c, &["SCARD", "s"]), Value::Int(3));
}

#[test]
fn count_range_errors_match_redis() {
    let cases: &[&[&str]] = &[
        &["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"],
        &["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"],
        &["HRANDFIELD", "nokey", "-9223372036854775807", "WITHVALUES"],
        &["HRANDFIELD", "h", "-9223372036854775808", "foo"],
        &["HRANDFIELD", "h", "1", "foo"],
        &["ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"],
        &["ZRANDMEMBER", "z", "-9223372036854775808"],
        &["SRANDMEMBER", "s", "-9223372036854775808"],
        &["SETRANGE", "str", "9223372036854775800", "abcdefghijklmnop"],
        &["SETRANGE", "str", "536870912", "a"],
    ];
    let [ours, redis] = both();
    let (mut a, mut b) = (conn(&ours), conn(&redis));
    for c in [&mut a, &mut b] {
        q(c, &["HSET", "h", "a", "1"]);
        q(c, &["ZADD", "z", "1", "a"]);
        q(c, &["SADD", "s", "a"]);
        q(c, &["SET", "str", "x"]);
    }
    for args in cases {
        let (x, y) = (q(&mut a, args), q(&mut b, args));
        assert!(matches!(y, Value::ServerError(_)), "{args:?}: {y:?}");
        assert_eq!(common::err_text(&x), common::err_text(&y), "{args:?}");
    }
    assert_eq!(q(&mut a, &["GET", "str"]), q(&mut b, &["GET", "str"]));
}

// ---- bullet 2: uniform random picks ----

/// Chi-square of the counts of each of `names` against a uniform expectation.
fn chi2(picks: &[String], names: &[String]) -> f64 {
    let e = picks.len() as f64 / names.len() as f64;
    names
        .iter()
        .map(|n| {
            let c = picks.iter().filter(|p| *p == n).count() as f64;
            (c - e).powi(2) / e
        })
        .sum()
}

/// Uniform over 10 names, 9 degrees of freedom: above 40 with probability < 0.00001.
const CHI2_LIMIT: f64 = 40.0;

#[test]
fn random_picks_are_uniform() {
    let names: Vec<String> = ('a'..='j').map(|c| c.to_string()).collect();
    let ints: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let long = "x".repeat(100);
    for s in both() {
        let mut c = conn(&s);
        let mut sadd = vec!["SADD", "myset"];
        sadd.extend(names.iter().map(|n| n.as_str()));
        q(&mut c, &sadd);
        assert_eq!(
            q(&mut c, &["OBJECT", "ENCODING", "myset"]),
            Value::BulkString(b"hashtable".to_vec())
        );
        let picks = strings(&q(&mut c, &["SRANDMEMBER", "myset", "-20000"]));
        assert!(
            chi2(&picks, &names) < CHI2_LIMIT,
            "SRANDMEMBER hashtable {:?}",
            s.kind
        );
        let mut pipe = redis::pipe();
        for _ in 0..5000 {
            pipe.cmd("SRANDMEMBER").arg("myset");
        }
        let one: Vec<String> = pipe.query(&mut c).unwrap();
        assert!(
            chi2(&one, &names) < CHI2_LIMIT,
            "SRANDMEMBER one {:?}",
            s.kind
        );

        let mut sadd = vec!["SADD", "iset"];
        sadd.extend(ints.iter().map(|n| n.as_str()));
        q(&mut c, &sadd);
        let picks = strings(&q(&mut c, &["SRANDMEMBER", "iset", "-20000"]));
        assert!(chi2(&picks, &ints) < CHI2_LIMIT, "SRANDMEMBER intset");

        let mut hset = vec!["HSET", "h"];
        for n in &names {
            hset.push(n);
            hset.push(&long);
        }
        q(&mut c, &hset);
        assert_eq!(
            q(&mut c, &["OBJECT", "ENCODING", "h"]),
            Value::BulkString(b"hashtable".to_vec())
        );
        let picks = strings(&q(&mut c, &["HRANDFIELD", "h", "-20000"]));
        assert!(chi2(&picks, &names) < CHI2_LIMIT, "HRANDFIELD {:?}", s.kind);

        let mut zadd = vec!["ZADD", "z"];
        for n in &names {
            zadd.push("1");
            zadd.push(n);
        }
        q(&mut c, &zadd);
        let picks = strings(&q(&mut c, &["ZRANDMEMBER", "z", "-20000"]));
        assert!(
            chi2(&picks, &names) < CHI2_LIMIT,
            "ZRANDMEMBER {:?}",
            s.kind
        );

        // SPOP: one pop from a fresh set each time.
        let mut pipe = redis::pipe();
        for _ in 0..3000 {
            pipe.cmd("DEL").arg("sp").ignore();
            pipe.cmd("SADD").arg("sp").arg(&names).ignore();
            pipe.cmd("SPOP").arg("sp");
        }
        let popped: Vec<String> = pipe.query(&mut c).unwrap();
        assert!(chi2(&popped, &names) < CHI2_LIMIT, "SPOP {:?}", s.kind);

        // RANDOMKEY over ten keys in another database.
        q(&mut c, &["SELECT", "5"]);
        for n in &names {
            q(&mut c, &["SET", n, "1"]);
        }
        let mut pipe = redis::pipe();
        for _ in 0..5000 {
            pipe.cmd("RANDOMKEY");
        }
        let keys: Vec<String> = pipe.query(&mut c).unwrap();
        assert!(chi2(&keys, &names) < CHI2_LIMIT, "RANDOMKEY {:?}", s.kind);
    }
}
