//! Keyspace notifications (`notify-keyspace-events`): the events a `PSUBSCRIBE __key*__:*`
//! client sees for a script of commands equal redis-server's (lazy expiry included);
//! active expiry and eviction fire `expired` and `evicted`; CONFIG GET shows Redis's
//! canonical form and CONFIG SET refuses an unknown class with Redis's error.

mod common;

use common::{Kind, Raw, Server, resp};
use std::time::Duration;

/// The commands of the compared script: every type's write commands (and some reads, for
/// `keymiss`), in an order where each one's events depend only on what ran before.
const SCRIPT: &[&[&str]] = &[
    // generic and strings
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
    &["SETRANGE", "sr", "2", "abc"],
    &["SETRANGE", "sr", "0", ""],
    &["APPEND", "sr", "x"],
    &["APPEND", "ap", "hello"],
    &["GETDEL", "sr"],
    &["GETDEL", "nothere"],
    &["GET", "nothere"],
    &["SET", "gx", "v"],
    &["GETEX", "gx", "EX", "100"],
    &["GETEX", "gx", "PERSIST"],
    &["GETEX", "gx", "PXAT", "1"],
    &["SET", "rn1", "a"],
    &["SET", "rn2", "b"],
    &["RENAME", "rn1", "rn2"],
    &["RENAMENX", "rn2", "rn3"],
    &["SET", "mv", "1"],
    &["MOVE", "mv", "1"],
    &["SET", "cp", "1"],
    &["COPY", "cp", "cp2"],
    &["COPY", "cp", "cp2", "REPLACE"],
    &["COPY", "cp", "cp3", "DB", "1"],
    &["SETBIT", "bt", "7", "1"],
    &["SETBIT", "bt", "7", "1"],
    &["BITFIELD", "bt", "SET", "u8", "8", "255"],
    &["BITOP", "AND", "bo", "bt", "bt"],
    &["BITOP", "AND", "bo", "nothere"],
    &["PFADD", "hl", "a", "b", "c"],
    &["PFADD", "hl", "a"],
    &["PFCOUNT", "hl"],
    &["PFMERGE", "hm", "hl"],
    // lists
    &["LPUSH", "l", "a", "b"],
    &["RPUSH", "l", "c"],
    &["LPUSHX", "nolist", "a"],
    &["LPOP", "l"],
    &["RPOP", "l", "5"],
    &["RPUSH", "l2", "a", "b", "c", "d", "e", "f"],
    &["LPOP", "l2", "0"],
    &["LSET", "l2", "0", "z"],
    &["LINSERT", "l2", "BEFORE", "z", "y"],
    &["LINSERT", "l2", "BEFORE", "nothere", "y"],
    &["LREM", "l2", "1", "y"],
    &["LTRIM", "l2", "0", "3"],
    &["LMOVE", "l2", "l3", "LEFT", "RIGHT"],
    &["RPOPLPUSH", "l2", "l3"],
    &["LMPOP", "1", "l2", "LEFT", "COUNT", "5"],
    &["BLPOP", "l3", "0"],
    &["BRPOP", "l3", "0"],
    &["RPUSH", "one", "x"],
    &["RPOPLPUSH", "one", "one"],
    &["BLMOVE", "one", "l4", "LEFT", "LEFT", "0"],
    &["RPUSH", "sl", "3", "1", "2"],
    &["SORT", "sl", "STORE", "so"],
    &["SORT", "nothere", "STORE", "so"],
    // hashes
    &["HSET", "h", "f", "1", "g", "2"],
    &["HINCRBY", "h", "f", "3"],
    &["HDEL", "h", "f", "nofield"],
    &["HDEL", "h", "g"],
    &["HSETNX", "h2", "f", "v"],
    &["HSETNX", "h2", "f", "w"],
    &["HINCRBYFLOAT", "h2", "n", "1.5"],
    &["HGET", "nothere", "f"],
    // sets
    &["SADD", "st", "a", "b"],
    &["SADD", "st", "a"],
    &["SREM", "st", "a"],
    &["SREM", "st", "b"],
    &["SADD", "s1", "a", "b", "c"],
    &["SADD", "s2", "b", "c", "d"],
    &["SINTERSTORE", "s3", "s1", "s2"],
    &["SUNIONSTORE", "s3", "s1", "s2"],
    &["SDIFFSTORE", "s3", "s1", "s1"],
    &["SMOVE", "s1", "s4", "a"],
    &["SMOVE", "s2", "s4", "nothere"],
    &["SPOP", "s2", "10"],
    &["SADD", "s5", "x"],
    &["SPOP", "s5"],
    // sorted sets
    &["ZADD", "z", "1", "a", "2", "b"],
    &["ZADD", "z", "1", "a"],
    &["ZINCRBY", "z", "2", "a"],
    &["ZREM", "z", "a", "b"],
    &[
        "ZADD", "z2", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f",
    ],
    &["ZPOPMIN", "z2"],
    &["ZPOPMAX", "z2", "2"],
    &["ZREMRANGEBYSCORE", "z2", "2", "2"],
    &["ZREMRANGEBYRANK", "z2", "0", "0"],
    &["ZMPOP", "1", "z2", "MIN", "COUNT", "9"],
    &["ZADD", "zl", "0", "a", "0", "b", "0", "c"],
    &["ZREMRANGEBYLEX", "zl", "[a", "[b"],
    &["ZADD", "za", "1", "x", "2", "y"],
    &["ZUNIONSTORE", "zu", "1", "za"],
    &["ZINTERSTORE", "zu", "2", "za", "zl"],
    &["ZDIFFSTORE", "zu", "2", "za", "za"],
    &["ZRANGESTORE", "zr", "za", "0", "-1"],
    &["BZPOPMIN", "za", "0"],
    &["BZPOPMAX", "za", "0"],
    &["ZSCORE", "nothere", "a"],
    // geo
    &[
        "GEOADD",
        "g",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ],
    &[
        "GEOSEARCHSTORE",
        "gs",
        "g",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
    ],
    &["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "gr"],
    &[
        "GEOSEARCHSTORE",
        "gs",
        "g",
        "FROMLONLAT",
        "0",
        "0",
        "BYRADIUS",
        "1",
        "km",
    ],
    // streams
    &["XADD", "x", "1-1", "f", "v"],
    &["XADD", "x", "MAXLEN", "1", "2-1", "f", "v"],
    &["XTRIM", "x", "MAXLEN", "0"],
    &["XADD", "x", "3-1", "f", "v"],
    &["XDEL", "x", "3-1"],
    &["XGROUP", "CREATE", "x", "g", "$"],
    &["XGROUP", "CREATE", "xs", "g", "$", "MKSTREAM"],
    &["XGROUP", "CREATECONSUMER", "x", "g", "c"],
    &["XGROUP", "SETID", "x", "g", "0"],
    &["XADD", "x", "4-1", "f", "v"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "c2",
        "COUNT",
        "1",
        "STREAMS",
        "x",
        ">",
    ],
    &["XGROUP", "DELCONSUMER", "x", "g", "c"],
    &["XGROUP", "DESTROY", "x", "g"],
    &["XSETID", "x", "10-1"],
    // no per-key events
    &["FLUSHDB"],
    &["SET", "lazy", "v", "PX", "1"],
];

/// Starts `kind` with `notify-keyspace-events` set to `classes` and active expiry off;
/// runs the script (plus DUMP/RESTORE and a lazy expiry); returns every message the
/// `__key*__:*` pattern subscriber received, up to a marker published last.
fn events(kind: Kind, classes: &str) -> Vec<String> {
    let s = Server::builder(kind)
        .debug_command(true)
        .args(&["--notify-keyspace-events", classes])
        .start();
    let mut sub = s.raw();
    sub.request(&["PSUBSCRIBE", "__key*__:*"]);
    let mut c = s.raw();
    c.request(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for cmd in SCRIPT {
        c.request(cmd);
    }
    // RESTORE of a DUMP payload, new and over an existing key.
    c.request(&["SET", "dumped", "v"]);
    let dump = c.request(&["DUMP", "dumped"]);
    let start = dump.iter().position(|&b| b == b'\n').unwrap() + 1;
    let payload = &dump[start..dump.len() - 2];
    for extra in [&[][..], &[&b"REPLACE"[..]][..]] {
        let mut req: Vec<&[u8]> = vec![b"RESTORE", b"rs", b"0", payload];
        req.extend_from_slice(extra);
        c.send(&resp(&req));
        assert_eq!(c.read_reply(), b"+OK\r\n");
    }
    // `lazy` has a 1 ms TTL: once it has passed, reading it expires it.
    std::thread::sleep(Duration::from_millis(20));
    c.request(&["GET", "lazy"]);
    // Delivered after every event of the commands before it.
    c.request(&["PUBLISH", "__keyevent@0__:done", "end"]);
    read_until(&mut sub, "__keyevent@0__:done", "end")
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
    let ours = events(Kind::Redrepl, "KEA");
    assert_eq!(ours, events(Kind::Redis, "KEA"));
    for e in [
        "__keyevent@0__:expired lazy",
        "__keyspace@0__:e rename_to",
        "__keyevent@0__:xgroup-createconsumer x",
        "__keyspace@1__:mv move_to",
        "__keyevent@0__:restore rs",
    ] {
        assert!(ours.iter().any(|l| l == e), "{e} in {ours:?}");
    }
    assert!(ours.len() > 150, "{}", ours.len());
}

#[test]
fn narrow_class_sets_equal_redis_servers() {
    // Only some classes, and the `n` (new key) and `m` (key miss) classes outside `A`.
    for classes in ["Elg", "KEnm", "Ez$xt"] {
        let ours = events(Kind::Redrepl, classes);
        assert_eq!(ours, events(Kind::Redis, classes), "{classes}");
        assert!(ours.len() > 1, "{classes}: {ours:?}");
    }
    let nm = events(Kind::Redrepl, "KEnm");
    for e in ["__keyevent@0__:new sr", "__keyevent@0__:keymiss nothere"] {
        assert!(nm.iter().any(|l| l == e), "{e} in {nm:?}");
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

/// COPY and MOVE onto a destination whose TTL has passed: the destination is expired first
/// (`expired` in its database, before `copy_to`/`move_to`), as redis-server's lookupKeyWrite
/// on the destination does.
#[test]
fn copy_and_move_onto_an_expired_destination_fire_expired() {
    let run = |kind: Kind| {
        let s = Server::builder(kind)
            .debug_command(true)
            .args(&["--notify-keyspace-events", "KEA"])
            .start();
        let mut sub = s.raw();
        sub.request(&["PSUBSCRIBE", "__key*__:*"]);
        let mut c = s.raw();
        c.request(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
        for cmd in [
            &["SET", "src", "v"][..],
            &["SET", "dst", "old", "PX", "1"],
            &["SET", "mv", "v"],
            &["SELECT", "1"],
            &["SET", "mv", "old", "PX", "1"],
            &["SET", "far", "old", "PX", "1"],
            &["SELECT", "0"],
        ] {
            c.request(cmd);
        }
        std::thread::sleep(Duration::from_millis(20));
        let replies: Vec<Vec<u8>> = [
            &["COPY", "src", "dst"][..],
            &["MOVE", "mv", "1"],
            &["COPY", "src", "far", "DB", "1"],
        ]
        .iter()
        .map(|cmd| c.request(cmd))
        .collect();
        assert_eq!(replies, vec![b":1\r\n".to_vec(); 3], "{kind:?}");
        let expired = String::from_utf8_lossy(&c.request(&["INFO", "stats"]))
            .lines()
            .find(|l| l.starts_with("expired_keys:"))
            .map(str::to_string);
        c.request(&["PUBLISH", "__keyevent@0__:done", "end"]);
        (read_until(&mut sub, "__keyevent@0__:done", "end"), expired)
    };
    let ours = run(Kind::Redrepl);
    assert_eq!(ours, run(Kind::Redis));
    for e in [
        "__keyevent@0__:expired dst",
        "__keyevent@1__:expired mv",
        "__keyevent@1__:expired far",
    ] {
        assert!(ours.0.iter().any(|l| l == e), "{e} in {:?}", ours.0);
    }
    assert_eq!(ours.1.as_deref(), Some("expired_keys:3"));
}
