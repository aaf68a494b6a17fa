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
