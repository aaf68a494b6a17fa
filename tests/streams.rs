//! Streams against Debian's redis-server 7.0, side by side: every command's replies and
//! error texts (times masked), RDB files and DUMP payloads both ways with equal digests and
//! equal XINFO STREAM FULL, blocking XREAD / XREADGROUP woken by XADD in the order they
//! blocked, and memory for many entries.

mod common;

use common::{Kind, Server, q};
use redis::Value;
use std::time::{Duration, Instant};

fn con(s: &Server) -> redis::Connection {
    s.conn()
}

/// redrepl with DEBUG enabled.
fn ours_with(args: &[&str]) -> Server {
    Server::builder(Kind::Redrepl)
        .args(args)
        .debug_command(true)
        .start()
}

/// redis-server with DEBUG enabled.
fn redis_with(args: &[&str]) -> Server {
    Server::builder(Kind::Redis)
        .args(args)
        .debug_command(true)
        .start()
}

/// Integers that look like unix-ms times (delivery and seen times) become 0.
fn mask_times(v: Value) -> Value {
    match v {
        Value::Int(n) if n > 1_000_000_000_000 => Value::Int(0),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut after_idle = false;
            for it in items {
                let it = if after_idle {
                    Value::Int(0)
                } else {
                    mask_times(it)
                };
                after_idle = matches!(&it, Value::BulkString(b) if b == b"idle");
                out.push(it);
            }
            Value::Array(out)
        }
        other => other,
    }
}

/// XPENDING's extended rows `[id, consumer, idle, deliveries]`: the idle time masked.
fn mask_pending_rows(v: Value) -> Value {
    match v {
        Value::Array(rows) => Value::Array(
            rows.into_iter()
                .map(|r| match r {
                    Value::Array(mut f) if f.len() == 4 => {
                        f[2] = Value::Int(0);
                        Value::Array(f)
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

/// Runs each line (arguments split on spaces) on both servers and asserts equal replies.
fn same_replies(ours: &mut redis::Connection, redis: &mut redis::Connection, script: &[&str]) {
    for line in script {
        let args: Vec<&str> = line.split(' ').collect();
        let (mut a, mut b) = (q(ours, &args), q(redis, &args));
        let extended_pending = args[0].eq_ignore_ascii_case("xpending") && args.len() > 3;
        if extended_pending {
            a = mask_pending_rows(a);
            b = mask_pending_rows(b);
        }
        if args[0].eq_ignore_ascii_case("xadd") && args.contains(&"*") {
            // An id chosen from each server's own clock: the millisecond part may differ
            // by one between the two servers; the sequence part must not.
            let seq = |v: &Value| match v {
                Value::BulkString(id) => id.rsplit(|&c| c == b'-').next().map(<[u8]>::to_vec),
                _ => None,
            };
            assert_eq!(seq(&a), seq(&b), "reply to {line:?}: {a:?} vs {b:?}");
            continue;
        }
        assert_eq!(mask_times(a), mask_times(b), "reply to {line:?}");
    }
}

const ENTRIES: &[&str] = &[
    "XADD s 1-1 a 1 b 2",
    "XADD s 1-1 a 1",
    "XADD s 0-0 a 1",
    "XADD s 1-* c 3",
    "XADD s 2 a 1 b 2",
    "XADD s 2-* x y",
    "XADD s nomkstream 3-0 a",
    "XADD nos NOMKSTREAM 3-0 a b",
    "XADD s MAXLEN -1 4-0 a b",
    "XADD s LIMIT 5 4-0 a b",
    "XADD s MAXLEN 1 LIMIT 5 4-0 a b",
    "XADD s MAXLEN 1 MINID 5 4-0 a b",
    "XADD s abc a b",
    "XADD s + a b",
    "XADD s 5-1 123 -45 x 007",
    "XADD s 5-2 123 -45 x 007",
    "XLEN s",
    "XLEN nos",
    "XRANGE s - +",
    "XRANGE s - + COUNT 2",
    "XRANGE s - + COUNT 0",
    "XRANGE s (1-1 +",
    "XRANGE s - (2-0",
    "XRANGE s (18446744073709551615-18446744073709551615 +",
    "XRANGE s - (0-0",
    "XRANGE s 1 1",
    "XREVRANGE s + -",
    "XREVRANGE s + - COUNT 1",
    "XREVRANGE s 2 1",
    "XRANGE s - + foo",
    "XRANGE s x +",
    "SET str v",
    "XADD str 1-1 a b",
    "XRANGE str - +",
    "XLEN str",
    "XDEL s 1-1 2-0 9-9",
    "XDEL s foo",
    "XDEL nos 1-1",
    "XRANGE s - +",
    "XINFO STREAM s",
    "XTRIM s MAXLEN 0",
    "XTRIM s",
    "XTRIM s MAXLEN ~ 1 LIMIT 10",
    "XTRIM s MAXLEN 1 LIMIT 10",
    "XTRIM nos MAXLEN 1",
    "XSETID s 1-0",
    "XSETID s 100-0 ENTRIESADDED 1",
    "XSETID s 100-0 MAXDELETEDID 200-0",
    "XSETID nos 1-1",
    "XINFO STREAM s",
    "XADD t 1-1 a 1",
    "XADD t 1-2 a 2",
    "XADD t 1-3 b 3",
    "XADD t 1-4 a 4 b 5",
    "XADD t 1-5 123 456",
    "XRANGE t - +",
    "XINFO STREAM t",
    "XINFO STREAM t FULL",
    "XINFO STREAM t FULL COUNT 2",
    "XINFO STREAM t FULL COUNT",
    "XINFO STREAM t foo",
    "XINFO STREAM nos",
    "XINFO foo",
    "XINFO HELP",
    "XINFO STREAM",
    "XADD t2 MAXLEN 3 1-1 a b",
    "XTRIM t MINID 1-3",
    "XTRIM t MINID = 1-5",
    "XRANGE t - +",
    "XINFO STREAM t",
];

#[test]
fn entry_commands_reply_as_redis() {
    let (ours, redis) = (ours_with(&[]), redis_with(&[]));
    same_replies(&mut con(&ours), &mut con(&redis), ENTRIES);
}

/// Many entries over several nodes (node limits small), trimmed exactly and approximately,
/// deleted in the middle: the same replies, node counts and digests.
#[test]
fn nodes_trimming_and_deletes_match_redis() {
    let args = ["--stream-node-max-entries", "7"];
    let (ours, redis) = (ours_with(&args), redis_with(&args));
    let (mut a, mut b) = (con(&ours), con(&redis));
    let mut script: Vec<String> = Vec::new();
    for i in 1..=200 {
        let fields = if i % 3 == 0 { "f x g y" } else { "f x" };
        script.push(format!("XADD s {i}-0 {fields} n {i}"));
    }
    for i in (5..200).step_by(9) {
        script.push(format!("XDEL s {i}-0"));
    }
    script.extend(
        [
            "XLEN s",
            "XINFO STREAM s",
            "XTRIM s MAXLEN ~ 150",
            "XTRIM s MAXLEN ~ 100 LIMIT 7",
            "XTRIM s MINID ~ 120",
            "XTRIM s MAXLEN 60",
            "XADD s MAXLEN ~ 40 201-* f z",
            "XINFO STREAM s",
            "XRANGE s - + COUNT 5",
            "XREVRANGE s + - COUNT 5",
            "DEBUG DIGEST",
            "CONFIG SET stream-node-max-entries 0",
            "CONFIG SET stream-node-max-bytes 64",
            "XADD b 1-1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbb",
            "XADD b 1-2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbb",
            "XADD b 1-3 c d",
            "XINFO STREAM b",
            "CONFIG GET stream-node-max-bytes",
            "CONFIG GET stream-node-max-entries",
            "DEBUG DIGEST",
        ]
        .map(String::from),
    );
    let lines: Vec<&str> = script.iter().map(|s| s.as_str()).collect();
    same_replies(&mut a, &mut b, &lines);
}

const GROUPS: &[&str] = &[
    "XADD s 1-1 a 1",
    "XADD s 1-2 a 2",
    "XADD s 1-3 a 3",
    "XGROUP CREATE s g 0",
    "XGROUP CREATE s g 0",
    "XGROUP CREATE nos g 0",
    "XGROUP CREATE nos g $ MKSTREAM",
    "XGROUP CREATE nos2 g 0 MKSTREAM ENTRIESREAD",
    "EXISTS nos2",
    "XGROUP CREATE s g2 $ ENTRIESREAD 1",
    "XGROUP CREATE s g3 0 ENTRIESREAD -2",
    "XGROUP CREATE s g4 x",
    "XGROUP SETID s g 1-1",
    "XGROUP SETID s nog 1-1",
    "XGROUP SETID s g 1-1 MKSTREAM",
    "XGROUP foo",
    "XGROUP CREATE",
    "XGROUP HELP",
    "XGROUP DESTROY s g4",
    "XGROUP CREATECONSUMER s g alice",
    "XGROUP CREATECONSUMER s g alice",
    "XGROUP CREATECONSUMER s nog alice",
    "XINFO GROUPS s",
    "XINFO CONSUMERS s g",
    "XREADGROUP GROUP g bob COUNT 1 STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS s 0",
    "XREADGROUP GROUP g bob STREAMS s $",
    "XREADGROUP GROUP nog bob STREAMS s >",
    "XREADGROUP GROUP g bob STREAMS nos3 >",
    "XREADGROUP GROUP g bob STREAMS s",
    "XREADGROUP GROUP g bob NOACK STREAMS s >",
    "XREADGROUP STREAMS s >",
    "XREADGROUP COUNT 1 STREAMS s t > >",
    "XREADGROUP STREAMS 1 COUNT stream:1 5 129 abc",
    "XREADGROUP COUNT 1 NOACK BLOCK 0",
    "XREAD STREAMS s >",
    "XREAD STREAMS s 0",
    "XREAD COUNT 1 STREAMS s 0",
    "XREAD STREAMS s nos 0 0",
    "XREAD STREAMS s $",
    "XREAD GROUP g a STREAMS s 0",
    "XREAD NOACK STREAMS s 0",
    "XREAD BLOCK -1 STREAMS s 0",
    "XREAD BLOCK x STREAMS s 0",
    "XREAD COUNT 1",
    "XPENDING s g",
    "XPENDING s g - + 10",
    "XPENDING s g - + 10 bob",
    "XPENDING s g - + 10 nobody",
    "XPENDING s g IDLE 0 - + 10",
    "XPENDING s g IDLE 0 - +",
    "XPENDING s g - +",
    "XPENDING s g (1-1 + 1",
    "XPENDING s nog",
    "XPENDING nos9 g",
    "XACK s g 1-1 1-9",
    "XACK s g x",
    "XACK s nog 1-1",
    "XPENDING s g",
    "XDEL s 1-2",
    "XREADGROUP GROUP g bob STREAMS s 0",
    "XCLAIM s g carol 0 1-2 1-3 JUSTID",
    "XPENDING s g",
    "XCLAIM s g carol 0 1-3 RETRYCOUNT 7 JUSTID",
    "XCLAIM s g carol 0 1-3 foo",
    "XCLAIM s g carol x 1-3",
    "XCLAIM s nog carol 0 1-3",
    "XCLAIM s g dave 0 1-1 FORCE JUSTID",
    "XCLAIM s g dave 0 1-1 FORCE",
    "XPENDING s g - + 10",
    "XCLAIM s g dave 0 1-3 LASTID 9-9",
    "XINFO GROUPS s",
    "XAUTOCLAIM s g erin 0 0 COUNT 1",
    "XAUTOCLAIM s g erin 0 0 JUSTID",
    "XAUTOCLAIM s g erin 0 0 COUNT 0",
    "XAUTOCLAIM s nog erin 0 0",
    "XAUTOCLAIM str g erin 0 0",
    "XADD s 2-1 z 1",
    "XREADGROUP GROUP g frank STREAMS s >",
    "XDEL s 2-1",
    "XAUTOCLAIM s g erin 0 0",
    "XINFO GROUPS s",
    "XINFO CONSUMERS s g",
    "XINFO STREAM s FULL",
    "XGROUP DELCONSUMER s g erin",
    "XINFO GROUPS s",
    "XGROUP SETID s g $ ENTRIESREAD 3",
    "XINFO GROUPS s",
    "XGROUP DESTROY s g",
    "XGROUP DESTROY s g",
    "XGROUP DESTROY nos9 g",
    "XINFO GROUPS s",
];

#[test]
fn group_commands_reply_as_redis() {
    let (ours, redis) = (ours_with(&[]), redis_with(&[]));
    let (mut a, mut b) = (con(&ours), con(&redis));
    q(&mut a, &["SET", "str", "x"]);
    q(&mut b, &["SET", "str", "x"]);
    same_replies(&mut a, &mut b, GROUPS);
}

/// The lag and entries-read bookkeeping of 7.0 through deletes, trims and SETID.
#[test]
fn lag_and_entries_read_as_redis() {
    let (ours, redis) = (ours_with(&[]), redis_with(&[]));
    let script = [
        "XGROUP CREATE s g $ MKSTREAM",
        "XINFO GROUPS s",
        "XADD s 1-0 a 1",
        "XADD s 2-0 a 1",
        "XADD s 3-0 a 1",
        "XADD s 4-0 a 1",
        "XINFO GROUPS s",
        "XREADGROUP GROUP g c COUNT 1 STREAMS s >",
        "XINFO GROUPS s",
        "XDEL s 3-0",
        "XINFO GROUPS s",
        "XREADGROUP GROUP g c COUNT 1 STREAMS s >",
        "XINFO GROUPS s",
        "XREADGROUP GROUP g c STREAMS s >",
        "XINFO GROUPS s",
        "XGROUP CREATE s g2 0",
        "XINFO GROUPS s",
        "XGROUP SETID s g2 1-0",
        "XINFO GROUPS s",
        "XTRIM s MAXLEN 1",
        "XGROUP CREATE s g3 0",
        "XINFO GROUPS s",
        "XINFO STREAM s",
        "XDEL s 4-0",
        "XINFO STREAM s",
        "XINFO GROUPS s",
    ];
    same_replies(&mut con(&ours), &mut con(&redis), &script);
}

fn digest(c: &mut redis::Connection) -> Value {
    q(c, &["DEBUG", "DIGEST"])
}

/// A dataset with streams of several nodes, tombstones, groups with pending entries and
/// consumers, an empty stream with a group, and other types around them.
fn build_streams(c: &mut redis::Connection) {
    for i in 1..=300 {
        let v = i.to_string();
        let id = format!("{}-{}", 1000 + i / 7, i % 7);
        if i % 10 == 0 {
            q(c, &["XADD", "s", &id, "other", &v, "x", "y"]);
        } else {
            q(c, &["XADD", "s", &id, "f", &v]);
        }
    }
    for i in (3..300).step_by(11) {
        let id = format!("{}-{}", 1000 + i / 7, i % 7);
        q(c, &["XDEL", "s", &id]);
    }
    q(c, &["XGROUP", "CREATE", "s", "g1", "0"]);
    q(c, &["XGROUP", "CREATE", "s", "g2", "$"]);
    q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "alice",
            "COUNT",
            "20",
            "STREAMS",
            "s",
            ">",
        ],
    );
    q(
        c,
        &[
            "XREADGROUP",
            "GROUP",
            "g1",
            "bob",
            "COUNT",
            "5",
            "STREAMS",
            "s",
            ">",
        ],
    );
    q(c, &["XACK", "s", "g1", "1000-1", "1000-2"]);
    q(c, &["XGROUP", "CREATECONSUMER", "s", "g2", "idle"]);
    q(c, &["XADD", "e", "1-1", "a", "b"]);
    q(c, &["XDEL", "e", "1-1"]);
    q(c, &["XGROUP", "CREATE", "e", "g", "$"]);
    q(c, &["XADD", "big", "*", "k", &"v".repeat(5000)]);
    q(c, &["SET", "str", "v"]);
    q(c, &["RPUSH", "l", "a", "b"]);
}

fn full_info(c: &mut redis::Connection, key: &str) -> Value {
    q(c, &["XINFO", "STREAM", key, "FULL", "COUNT", "0"])
}

fn check_rdb(path: &std::path::Path) {
    let out = std::process::Command::new("redis-check-rdb")
        .arg(path)
        .output()
        .expect("redis-check-rdb runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb refused {}: {text}",
        path.display()
    );
}

/// redis-server's dump loads in ours with an equal digest and equal groups/PELs (times
/// included: they are stored); ours saves a dump redis-check-rdb accepts and redis-server
/// loads with an equal digest and equal XINFO STREAM FULL.
#[test]
fn rdb_interchange_both_ways() {
    let redis = redis_with(&[]);
    let mut rc = con(&redis);
    build_streams(&mut rc);
    assert_eq!(q(&mut rc, &["SAVE"]), Value::Okay);
    let their_digest = digest(&mut rc);
    let their_info = full_info(&mut rc, "s");
    let their_e = full_info(&mut rc, "e");
    let dump = redis.workdir.join("dump.rdb");

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&dump, dir.path().join("dump.rdb")).unwrap();
    let ours = Server::builder(Kind::Redrepl)
        .dir(dir.path())
        .debug_command(true)
        .start();
    let mut oc = con(&ours);
    assert_eq!(digest(&mut oc), their_digest);
    assert_eq!(full_info(&mut oc, "s"), their_info);
    assert_eq!(full_info(&mut oc, "e"), their_e);
    assert_eq!(
        q(&mut oc, &["OBJECT", "ENCODING", "s"]),
        q(&mut rc, &["OBJECT", "ENCODING", "s"])
    );
    assert_eq!(
        q(&mut oc, &["TYPE", "s"]),
        Value::SimpleString("stream".into())
    );

    assert_eq!(q(&mut oc, &["SAVE"]), Value::Okay);
    let ours_dump = dir.path().join("dump.rdb");
    check_rdb(&ours_dump);
    let dir2 = tempfile::tempdir().unwrap();
    std::fs::copy(&ours_dump, dir2.path().join("dump.rdb")).unwrap();
    let redis2 = Server::builder(common::Kind::Redis)
        .dir(dir2.path())
        .start();
    let mut rc2 = con(&redis2);
    assert_eq!(digest(&mut rc2), their_digest);
    assert_eq!(full_info(&mut rc2, "s"), their_info);
    assert_eq!(full_info(&mut rc2, "e"), their_e);
}

/// DUMP of redis-server RESTOREs in ours and the other way, same digests and infos.
#[test]
fn dump_restore_both_ways() {
    let (ours, redis) = (ours_with(&[]), redis_with(&[]));
    let (mut oc, mut rc) = (con(&ours), con(&redis));
    build_streams(&mut rc);
    for key in ["s", "e", "big"] {
        let payload: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut rc).unwrap();
        let _: () = redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(&payload)
            .query(&mut oc)
            .unwrap();
        let back: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut oc).unwrap();
        let copy = format!("{key}-copy");
        let _: () = redis::cmd("RESTORE")
            .arg(&copy)
            .arg(0)
            .arg(&back)
            .query(&mut rc)
            .unwrap();
        let dv = |c: &mut redis::Connection, k: &str| q(c, &["DEBUG", "DIGEST-VALUE", k]);
        assert_eq!(dv(&mut oc, key), dv(&mut rc, key), "{key}");
        assert_eq!(dv(&mut rc, &copy), dv(&mut rc, key), "{key}");
        assert_eq!(full_info(&mut oc, key), full_info(&mut rc, &copy), "{key}");
    }
    // A corrupt payload is refused, and the server stays up.
    let mut payload: Vec<u8> = redis::cmd("DUMP").arg("s").query(&mut rc).unwrap();
    let mid = payload.len() / 2;
    payload[mid] ^= 0xff;
    let r = redis::cmd("RESTORE")
        .arg("bad")
        .arg(0)
        .arg(&payload)
        .query::<()>(&mut oc);
    assert!(r.is_err());
    assert_eq!(q(&mut oc, &["PING"]), Value::SimpleString("PONG".into()));
}

fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "blocked_clients never reached {n}: {info}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Blocks `args` on a new connection in a thread; returns its reply.
fn spawn_blocked(s: &Server, args: &[&str]) -> std::thread::JoinHandle<Value> {
    let mut c = con(s);
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    std::thread::spawn(move || {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        q(&mut c, &a)
    })
}

/// XREAD BLOCK with `$` is served what an XADD adds after it blocked (not earlier
/// entries), on both servers alike; a timeout answers a null array.
#[test]
fn blocking_xread_woken_by_xadd() {
    for s in [ours_with(&[]), redis_with(&[])] {
        let mut c = con(&s);
        q(&mut c, &["XADD", "s", "1-1", "old", "1"]);
        let t = spawn_blocked(
            &s,
            &["XREAD", "BLOCK", "0", "STREAMS", "s", "nokey", "$", "$"],
        );
        wait_blocked(&mut c, 1);
        q(&mut c, &["XADD", "other", "5-1", "x", "1"]);
        q(&mut c, &["XADD", "s", "2-1", "new", "2"]);
        let got = t.join().unwrap();
        let want = Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"s".to_vec()),
            Value::Array(vec![Value::Array(vec![
                Value::BulkString(b"2-1".to_vec()),
                Value::Array(vec![
                    Value::BulkString(b"new".to_vec()),
                    Value::BulkString(b"2".to_vec()),
                ]),
            ])]),
        ])]);
        assert_eq!(got, want, "{:?}", s.kind);
        assert_eq!(
            q(&mut c, &["XREAD", "BLOCK", "20", "STREAMS", "s", "$"]),
            Value::Nil
        );
        wait_blocked(&mut c, 0);
    }
}

/// Two consumers blocked on the same group: the first to block gets the first new entry,
/// the second the next one, as redis-server does; the pending list records both.
#[test]
fn blocking_xreadgroup_serves_in_blocking_order() {
    for s in [ours_with(&[]), redis_with(&[])] {
        let mut c = con(&s);
        q(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        let first = spawn_blocked(
            &s,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c1",
                "COUNT",
                "1",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        );
        wait_blocked(&mut c, 1);
        let second = spawn_blocked(
            &s,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c2",
                "COUNT",
                "1",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        );
        wait_blocked(&mut c, 2);
        q(&mut c, &["XADD", "s", "1-1", "a", "1"]);
        let got = first.join().unwrap();
        assert!(format!("{got:?}").contains("1-1"), "{:?}: {got:?}", s.kind);
        wait_blocked(&mut c, 1);
        q(&mut c, &["XADD", "s", "1-2", "a", "2"]);
        let got = second.join().unwrap();
        assert!(format!("{got:?}").contains("1-2"), "{:?}: {got:?}", s.kind);
        let pending = mask_pending_rows(q(&mut c, &["XPENDING", "s", "g", "-", "+", "10"]));
        let row = |id: &str, who: &str| {
            Value::Array(vec![
                Value::BulkString(id.as_bytes().to_vec()),
                Value::BulkString(who.as_bytes().to_vec()),
                Value::Int(0),
                Value::Int(1),
            ])
        };
        assert_eq!(
            pending,
            Value::Array(vec![row("1-1", "c1"), row("1-2", "c2")])
        );
        // Inside MULTI a blocking read does not block: a null reply.
        q(&mut c, &["MULTI"]);
        q(
            &mut c,
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c1",
                "BLOCK",
                "0",
                "STREAMS",
                "s",
                ">",
            ],
        );
        assert_eq!(q(&mut c, &["EXEC"]), Value::Array(vec![Value::Nil]));
    }
}

/// 200,000 small entries: ours takes no more than 1.5 times redis-server's memory.
#[test]
fn memory_of_many_small_entries_is_within_redis_bound() {
    let mut used = Vec::new();
    for s in [ours_with(&[]), redis_with(&[])] {
        let mut c = con(&s);
        let before = info_used_memory(&mut c);
        let mut pipe = redis::pipe();
        for i in 0..200_000u64 {
            pipe.cmd("XADD")
                .arg("s")
                .arg("*")
                .arg("field")
                .arg(i)
                .ignore();
            if i % 10_000 == 9_999 {
                let _: () = pipe.query(&mut c).unwrap();
                pipe = redis::pipe();
            }
        }
        assert_eq!(q(&mut c, &["XLEN", "s"]), Value::Int(200_000));
        used.push(info_used_memory(&mut c) - before);
    }
    let (ours, redis) = (used[0], used[1]);
    assert!(
        ours as f64 <= redis as f64 * 1.5,
        "ours {ours} bytes, redis-server {redis} bytes"
    );
}

fn info_used_memory(c: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("memory").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

/// While blocked: XREADGROUP gets NOGROUP when its group is destroyed and UNBLOCKED when
/// its key is deleted; XREAD stays blocked while its key holds another type, and is served
/// once a stream is back. Same replies on both servers.
#[test]
fn blocked_reads_when_the_stream_or_group_goes_away() {
    for s in [ours_with(&[]), redis_with(&[])] {
        let mut c = con(&s);
        let read = [
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ];
        q(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        let t = spawn_blocked(&s, &read);
        wait_blocked(&mut c, 1);
        q(&mut c, &["XGROUP", "DESTROY", "s", "g"]);
        assert_eq!(
            common::err_text(&t.join().unwrap()),
            "NOGROUP the consumer group this client was blocked on no longer exists",
            "{:?}",
            s.kind
        );
        q(&mut c, &["XGROUP", "CREATE", "s", "g", "$"]);
        let t = spawn_blocked(&s, &read);
        wait_blocked(&mut c, 1);
        q(&mut c, &["DEL", "s"]);
        assert_eq!(
            common::err_text(&t.join().unwrap()),
            "UNBLOCKED the stream key no longer exists",
            "{:?}",
            s.kind
        );
        wait_blocked(&mut c, 0);
        let t = spawn_blocked(&s, &["XREAD", "BLOCK", "0", "STREAMS", "s2", "$"]);
        wait_blocked(&mut c, 1);
        q(&mut c, &["SET", "s2", "x"]);
        q(&mut c, &["DEL", "s2"]);
        q(&mut c, &["XADD", "s2", "1-1", "a", "b"]);
        let got = t.join().unwrap();
        assert!(format!("{got:?}").contains("1-1"), "{:?}: {got:?}", s.kind);
    }
}

/// Stream DUMP payloads with bytes flipped (checksum recomputed, so the decoder itself is
/// exercised) or cut short: RESTORE refuses them or loads something every stream command
/// then handles; the server never goes down.
#[test]
fn mutated_stream_payloads_never_take_the_server_down() {
    let redis = Server::builder(Kind::Redis)
        .args(&["--rdbcompression", "no"])
        .start();
    let mut rc = con(&redis);
    build_streams(&mut rc);
    let payload: Vec<u8> = redis::cmd("DUMP").arg("s").query(&mut rc).unwrap();
    let body = &payload[..payload.len() - 10];
    let version = &payload[payload.len() - 10..payload.len() - 8];
    let ours = ours_with(&[]);
    let mut oc = con(&ours);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut accepted = 0;
    for i in 0..1500 {
        let mut b = body.to_vec();
        if i % 10 == 9 {
            b.truncate((next() % b.len() as u64) as usize);
        } else {
            for _ in 0..1 + next() % 3 {
                let at = (next() % b.len() as u64) as usize;
                b[at] ^= 1 << (next() % 8);
            }
        }
        b.extend_from_slice(version);
        let crc = crc64::crc64(0, &b);
        b.extend_from_slice(&crc.to_le_bytes());
        let r = redis::cmd("RESTORE")
            .arg("m")
            .arg(0)
            .arg(&b)
            .arg("REPLACE")
            .query::<()>(&mut oc);
        if r.is_ok() {
            accepted += 1;
            for cmd in [
                &["XRANGE", "m", "-", "+"][..],
                &["XREVRANGE", "m", "+", "-", "COUNT", "3"],
                &["XINFO", "STREAM", "m", "FULL"],
                &["XINFO", "GROUPS", "m"],
                &["XPENDING", "m", "g1", "-", "+", "100"],
                &["XREADGROUP", "GROUP", "g1", "z", "STREAMS", "m", ">"],
                &["XAUTOCLAIM", "m", "g1", "z", "0", "0"],
                &["XDEL", "m", "1001-1", "1010-3"],
                &["XTRIM", "m", "MAXLEN", "50"],
                &["XADD", "m", "*", "f", "v"],
                &["DEBUG", "DIGEST-VALUE", "m"],
                &["DUMP", "m"],
            ] {
                q(&mut oc, cmd);
            }
        }
        assert_eq!(
            q(&mut oc, &["PING"]),
            Value::SimpleString("PONG".into()),
            "after mutation {i}"
        );
    }
    // Flips inside string bytes keep a valid payload: some must have been accepted.
    assert!(accepted > 0);
}

/// XTRIM parses its options before it looks at the key's type, and NOGROUP quotes a name up
/// to its first zero byte, as Redis's `%s` does (found by the fuzzer).
#[test]
fn trim_option_order_and_nogroup_names_match_redis() {
    let (ours, redis) = (ours_with(&[]), redis_with(&[]));
    let (mut a, mut b) = (con(&ours), con(&redis));
    same_replies(
        &mut a,
        &mut b,
        &[
            "SET str x",
            "XTRIM str MAXLEN",
            "XTRIM str FOO 1",
            "XTRIM str MAXLEN 1",
            "XTRIM nokey MAXLEN abc",
            "XADD s 1-1 a 1",
            "XREADGROUP GROUP g\0tail c STREAMS s >",
            "XGROUP SETID s g\0tail 0",
            "XINFO CONSUMERS s g\0tail",
            "XGROUP CREATECONSUMER s g\0x c",
        ],
    );
}

/// XINFO STREAM looks the key up (no such key, WRONGTYPE) before it reads its options, as
/// xinfoCommand does (found by the fuzzer once streams were fuzzed, issue #10).
#[test]
fn xinfo_stream_looks_the_key_up_before_its_options() {
    let (ours, redis) = (ours_with(&[]), redis_with(&[]));
    let (mut a, mut b) = (con(&ours), con(&redis));
    same_replies(
        &mut a,
        &mut b,
        &[
            "XINFO STREAM nokey nokey",
            "XINFO STREAM FULL nokey",
            "XINFO STREAM nokey FULL COUNT abc",
            "SET str x",
            "XINFO STREAM str str str",
            "XINFO STREAM str FULL COUNT 99999999999999999999999",
            "XADD s 1-1 a 1",
            "XINFO STREAM s s",
            "XINFO STREAM s FULL COUNT abc",
            "XINFO STREAM s FULL COUNT -1",
            "XINFO STREAM s FULL junk",
        ],
    );
}
