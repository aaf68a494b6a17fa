//! Keyspace notifications (`notify-keyspace-events`): the events a `PSUBSCRIBE __key*__:*`
//! client sees for a script of commands equal redis-server's (lazy expiry included);
//! active expiry and eviction fire `expired` and `evicted`; CONFIG GET shows Redis's
//! canonical form and CONFIG SET refuses an unknown class with Redis's error.

mod common;

use common::{Kind, Raw, Server};
use std::time::Duration;

/// The commands of the compared script: generic, string, list, hash, set and sorted-set
/// events.
const SCRIPT: &[&[&str]] = &[
    &["SET", "s", "1"],
    &["SET", "s", "2", "EX", "100"],
    &["PERSIST", "s"],
    &["EXPIRE", "s", "100"],
    &["PEXPIREAT", "s", "1"],
    &["MSET", "a", "1", "b", "2"],
    &["SETNX", "a", "x"],
    &["SETNX", "c", "x"],
    &["SETEX", "d", "100", "v"],
    &["PSETEX", "d", "100000", "v"],
    &["GETSET", "d", "w"],
    &["RENAME", "d", "e"],
    &["DEL", "a", "b", "nothere"],
    &["UNLINK", "c"],
    &["INCR", "n"],
    &["INCRBY", "n", "5"],
    &["DECR", "n"],
    &["INCRBYFLOAT", "n", "1.5"],
    &["LPUSH", "l", "a", "b"],
    &["RPUSH", "l", "c"],
    &["LPUSHX", "nolist", "a"],
    &["LPOP", "l"],
    &["RPOP", "l", "5"],
    &["HSET", "h", "f", "1", "g", "2"],
    &["HINCRBY", "h", "f", "3"],
    &["HDEL", "h", "f", "nofield"],
    &["HDEL", "h", "g"],
    &["SADD", "st", "a", "b"],
    &["SADD", "st", "a"],
    &["SREM", "st", "a"],
    &["SREM", "st", "b"],
    &["ZADD", "z", "1", "a", "2", "b"],
    &["ZADD", "z", "1", "a"],
    &["ZINCRBY", "z", "2", "a"],
    &["ZREM", "z", "a", "b"],
    &["SET", "lazy", "v", "PX", "1"],
];

/// Starts `kind` with notifications on and active expiry off; runs the script; returns the
/// messages the pattern subscriber received, ending with the lazy expiry of `lazy`.
fn events(kind: Kind) -> Vec<String> {
    let s = Server::builder(kind)
        .debug_command(true)
        .args(&["--notify-keyspace-events", "KEA"])
        .start();
    let mut sub = s.raw();
    sub.request(&["PSUBSCRIBE", "__key*__:*"]);
    let mut c = s.raw();
    c.request(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for cmd in SCRIPT {
        c.request(cmd);
    }
    // `lazy` has a 1 ms TTL: once it has passed, reading it expires it.
    std::thread::sleep(Duration::from_millis(20));
    c.request(&["GET", "lazy"]);
    c.request(&["SET", "end", "1"]);
    read_until(&mut sub, "__keyevent@0__:set", "end")
}

/// Reads `pmessage` frames until the one on `channel` with payload `last`.
fn read_until(sub: &mut Raw, channel: &str, last: &str) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let m = String::from_utf8_lossy(&sub.read_reply()).into_owned();
        let parts: Vec<&str> = m.split("\r\n").collect();
        // *4 $8 pmessage $n pattern $n channel $n payload
        let (chan, payload) = (parts[6].to_string(), parts[8].to_string());
        let done = chan == channel && payload == last;
        got.push(format!("{chan} {payload}"));
        if done {
            return got;
        }
    }
}

#[test]
fn events_equal_redis_servers() {
    let ours = events(Kind::Redrepl);
    assert_eq!(ours, events(Kind::Redis));
    for e in ["__keyevent@0__:expired lazy", "__keyspace@0__:e rename_to"] {
        assert!(ours.iter().any(|l| l == e), "{e} in {ours:?}");
    }
}

#[test]
fn active_expiry_and_eviction_fire_their_events() {
    let s = Server::builder(Kind::Redrepl)
        .args(&["--notify-keyspace-events", "Exe"])
        .start();
    let mut sub = s.raw();
    sub.request(&[
        "SUBSCRIBE",
        "__keyevent@0__:expired",
        "__keyevent@0__:evicted",
    ]);
    sub.read_reply();
    let mut c = s.raw();
    c.request(&["SET", "gone", "v", "PX", "1"]);
    // Nobody reads `gone`: the active expiry cycle deletes it and says so.
    let m = String::from_utf8_lossy(&sub.read_reply()).into_owned();
    assert!(
        m.ends_with("$22\r\n__keyevent@0__:expired\r\n$4\r\ngone\r\n"),
        "{m:?}"
    );
    // Eviction: a tiny maxmemory evicts keys as new ones arrive.
    c.request(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]);
    for i in 0..200 {
        c.request(&["SET", &format!("k{i}"), &"x".repeat(1000)]);
    }
    c.request(&["CONFIG", "SET", "maxmemory", "1"]);
    c.request(&["SET", "trigger", "1"]);
    let m = String::from_utf8_lossy(&sub.read_reply()).into_owned();
    assert!(m.contains("__keyevent@0__:evicted"), "{m:?}");
}

#[test]
fn config_shows_the_canonical_form_and_refuses_unknown_classes() {
    for kind in [Kind::Redrepl, Kind::Redis] {
        let s = Server::builder(kind).start();
        let mut c = s.raw();
        assert_eq!(
            c.request(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
            b"+OK\r\n"
        );
        assert_eq!(
            String::from_utf8_lossy(&c.request(&["CONFIG", "GET", "notify-keyspace-events"])),
            "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n"
        );
        assert_eq!(
            String::from_utf8_lossy(&c.request(&["CONFIG", "SET", "notify-keyspace-events", "Q"])),
            "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n",
            "{kind:?}"
        );
    }
}
