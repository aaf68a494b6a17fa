//! Integration tests of the server core against the real `redrepl` binary: string and key
//! commands (replies and exact error texts), expiry, transactions, pipelining, inline
//! commands, protocol errors, AUTH, HELLO, CLIENT, databases, SCAN, DEBUG, shutdown,
//! daemonize and protected mode.
//!
//! Set `CORE_SERVER=redis` to run the same tests against Debian's redis-server instead
//! (to check the expectations themselves).

mod common;

use common::{Kind, Raw, Server, err_text, q, resp};
use redis::Value;
use std::time::{Duration, Instant};

fn kind() -> Kind {
    match std::env::var("CORE_SERVER").as_deref() {
        Ok("redis") => Kind::Redis,
        _ => Kind::Redrepl,
    }
}

fn start(extra: &[&str]) -> Server {
    Server::start_kind(kind(), extra)
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn int(n: i64) -> Value {
    Value::Int(n)
}

fn ok() -> Value {
    Value::Okay
}

fn simple(s: &str) -> Value {
    Value::SimpleString(s.into())
}

/// Asserts that `args` gets the error `text` (`CODE message`).
#[track_caller]
fn assert_err(con: &mut redis::Connection, args: &[&str], text: &str) {
    let v = q(con, args);
    match &v {
        Value::ServerError(_) => assert_eq!(err_text(&v), text, "error for {args:?}"),
        other => panic!("expected error {text:?} for {args:?}, got {other:?}"),
    }
}

#[track_caller]
fn assert_q(con: &mut redis::Connection, args: &[&str], expected: Value) {
    assert_eq!(q(con, args), expected, "reply to {args:?}");
}

fn arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

#[test]
fn string_commands() {
    let s = start(&[]);
    let mut c = s.conn();
    assert_q(&mut c, &["GET", "nokey"], Value::Nil);
    assert_q(&mut c, &["SET", "k", "v"], ok());
    assert_q(&mut c, &["GET", "k"], bulk("v"));
    assert_q(&mut c, &["SETNX", "k", "x"], int(0));
    assert_q(&mut c, &["SETNX", "n", "x"], int(1));
    assert_q(&mut c, &["SETEX", "e", "100", "v"], ok());
    assert_q(&mut c, &["TTL", "e"], int(100));
    assert_err(
        &mut c,
        &["SETEX", "e", "0", "v"],
        "ERR invalid expire time in 'setex' command",
    );
    assert_err(
        &mut c,
        &["SETEX", "e", "x", "v"],
        "ERR value is not an integer or out of range",
    );
    assert_q(&mut c, &["PSETEX", "p", "100000", "v"], ok());
    assert_err(
        &mut c,
        &["PSETEX", "p", "-1", "v"],
        "ERR invalid expire time in 'psetex' command",
    );
    assert_q(&mut c, &["MSET", "a", "1", "b", "2"], ok());
    assert_err(&mut c, &["MSET", "a", "1", "b"], &arity("mset"));
    assert_q(
        &mut c,
        &["MGET", "a", "nokey", "b"],
        Value::Array(vec![bulk("1"), Value::Nil, bulk("2")]),
    );
    assert_q(&mut c, &["MSETNX", "a", "x", "z", "y"], int(0));
    assert_q(&mut c, &["EXISTS", "z"], int(0));
    assert_q(&mut c, &["MSETNX", "y", "x", "z", "y"], int(1));
    assert_err(&mut c, &["MSETNX", "a", "1", "b"], &arity("msetnx"));
    assert_q(&mut c, &["GETSET", "a", "new"], bulk("1"));
    assert_q(&mut c, &["GETSET", "fresh", "new"], Value::Nil);
    assert_q(&mut c, &["GETDEL", "a"], bulk("new"));
    assert_q(&mut c, &["GETDEL", "a"], Value::Nil);
    // GETEX
    assert_q(&mut c, &["GETEX", "b"], bulk("2"));
    assert_q(&mut c, &["GETEX", "b", "EX", "50"], bulk("2"));
    assert_q(&mut c, &["TTL", "b"], int(50));
    assert_q(&mut c, &["GETEX", "b", "PERSIST"], bulk("2"));
    assert_q(&mut c, &["TTL", "b"], int(-1));
    assert_q(&mut c, &["GETEX", "nokey", "EX", "-1"], Value::Nil);
    assert_err(
        &mut c,
        &["GETEX", "b", "EX", "-1"],
        "ERR invalid expire time in 'getex' command",
    );
    assert_err(
        &mut c,
        &["GETEX", "b", "EX", "10", "PERSIST"],
        "ERR syntax error",
    );
    assert_err(&mut c, &["GETEX", "b", "FOO"], "ERR syntax error");
    assert_q(&mut c, &["GETEX", "b", "PXAT", "1"], bulk("2"));
    assert_q(&mut c, &["EXISTS", "b"], int(0));
    // APPEND / STRLEN
    assert_q(&mut c, &["APPEND", "s", "hello"], int(5));
    assert_q(&mut c, &["APPEND", "s", " world"], int(11));
    assert_q(&mut c, &["STRLEN", "s"], int(11));
    assert_q(&mut c, &["STRLEN", "nokey"], int(0));
    // counters
    assert_q(&mut c, &["INCR", "cnt"], int(1));
    assert_q(&mut c, &["INCRBY", "cnt", "10"], int(11));
    assert_q(&mut c, &["DECR", "cnt"], int(10));
    assert_q(&mut c, &["DECRBY", "cnt", "20"], int(-10));
    assert_err(
        &mut c,
        &["INCR", "s"],
        "ERR value is not an integer or out of range",
    );
    assert_err(
        &mut c,
        &["INCRBY", "cnt", "x"],
        "ERR value is not an integer or out of range",
    );
    assert_q(&mut c, &["SET", "big", "9223372036854775807"], ok());
    assert_err(
        &mut c,
        &["INCR", "big"],
        "ERR increment or decrement would overflow",
    );
    assert_err(
        &mut c,
        &["DECRBY", "cnt", "-9223372036854775808"],
        "ERR decrement would overflow",
    );
    assert_q(&mut c, &["SET", "sp", " 1"], ok());
    assert_err(
        &mut c,
        &["INCR", "sp"],
        "ERR value is not an integer or out of range",
    );
    assert_q(&mut c, &["INCRBYFLOAT", "f", "10.5"], bulk("10.5"));
    assert_q(&mut c, &["INCRBYFLOAT", "f", "0.5"], bulk("11"));
    // long double arithmetic, as Redis on x86-64
    assert_q(&mut c, &["SET", "ld", "1000"], ok());
    assert_q(
        &mut c,
        &["INCRBYFLOAT", "ld", "0.1"],
        bulk("1000.09999999999999998"),
    );
    assert_q(&mut c, &["SET", "ld", "10.5"], ok());
    assert_q(&mut c, &["INCRBYFLOAT", "ld", "0.1"], bulk("10.6"));
    assert_q(&mut c, &["INCRBYFLOAT", "f", "-6"], bulk("5"));
    assert_q(&mut c, &["INCRBYFLOAT", "f", "5.0e3"], bulk("5005"));
    assert_q(&mut c, &["SET", "hx", "0x10"], ok());
    assert_q(&mut c, &["INCRBYFLOAT", "hx", "1"], bulk("17"));
    assert_err(
        &mut c,
        &["INCRBYFLOAT", "f", "abc"],
        "ERR value is not a valid float",
    );
    assert_err(
        &mut c,
        &["INCRBYFLOAT", "s", "1"],
        "ERR value is not a valid float",
    );
    assert_err(
        &mut c,
        &["INCRBYFLOAT", "f", "inf"],
        "ERR increment would produce NaN or Infinity",
    );
    // ranges
    assert_q(&mut c, &["SET", "r", "Hello World"], ok());
    assert_q(&mut c, &["GETRANGE", "r", "0", "4"], bulk("Hello"));
    assert_q(&mut c, &["GETRANGE", "r", "-5", "-1"], bulk("World"));
    assert_q(&mut c, &["GETRANGE", "r", "5", "2"], bulk(""));
    assert_q(&mut c, &["GETRANGE", "r", "-1", "-5"], bulk(""));
    assert_q(&mut c, &["GETRANGE", "r", "0", "100"], bulk("Hello World"));
    assert_q(&mut c, &["GETRANGE", "nokey", "0", "1"], bulk(""));
    assert_q(&mut c, &["SUBSTR", "r", "0", "0"], bulk("H"));
    assert_err(
        &mut c,
        &["GETRANGE", "r", "a", "1"],
        "ERR value is not an integer or out of range",
    );
    assert_q(&mut c, &["SETRANGE", "r", "6", "Redis"], int(11));
    assert_q(&mut c, &["GET", "r"], bulk("Hello Redis"));
    assert_q(&mut c, &["SETRANGE", "pad", "3", "x"], int(4));
    assert_q(
        &mut c,
        &["GET", "pad"],
        Value::BulkString(b"\0\0\0x".to_vec()),
    );
    assert_q(&mut c, &["SETRANGE", "nokey2", "3", ""], int(0));
    assert_q(&mut c, &["EXISTS", "nokey2"], int(0));
    assert_err(
        &mut c,
        &["SETRANGE", "r", "-1", "x"],
        "ERR offset is out of range",
    );
    assert_err(
        &mut c,
        &["SETRANGE", "r", "600000000", "x"],
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
    );
}

#[test]
fn arity_errors() {
    let s = start(&[]);
    let mut c = s.conn();
    let cases: &[&[&str]] = &[
        &["GET"],
        &["GET", "a", "b"],
        &["SET", "a"],
        &["SETNX", "a"],
        &["SETEX", "a", "1"],
        &["PSETEX", "a", "1"],
        &["MGET"],
        &["MSET", "a"],
        &["MSETNX"],
        &["GETSET", "a"],
        &["GETDEL"],
        &["GETEX"],
        &["APPEND", "a"],
        &["STRLEN"],
        &["INCR"],
        &["DECR", "a", "b"],
        &["INCRBY", "a"],
        &["DECRBY", "a"],
        &["INCRBYFLOAT", "a"],
        &["GETRANGE", "a", "1"],
        &["SUBSTR", "a"],
        &["SETRANGE", "a", "1"],
        &["DEL"],
        &["UNLINK"],
        &["EXISTS"],
        &["TOUCH"],
        &["EXPIRE", "a"],
        &["PEXPIRE", "a"],
        &["EXPIREAT", "a"],
        &["PEXPIREAT", "a"],
        &["TTL"],
        &["PTTL", "a", "b"],
        &["EXPIRETIME"],
        &["PEXPIRETIME"],
        &["PERSIST"],
        &["TYPE"],
        &["KEYS"],
        &["SCAN"],
        &["RANDOMKEY", "x"],
        &["RENAME", "a"],
        &["RENAMENX", "a"],
        &["COPY", "a"],
        &["MOVE", "a"],
        &["DBSIZE", "x"],
        &["SWAPDB", "0"],
        &["SELECT"],
        &["ECHO"],
        &["MULTI", "x"],
        &["DISCARD", "x"],
        &["WATCH"],
        &["UNWATCH", "x"],
        &["CLIENT"],
    ];
    for args in cases {
        assert_err(&mut c, args, &arity(&args[0].to_ascii_lowercase()));
    }
    // EXEC with arguments aborts (and discards) the transaction, as Redis's rejectCommand does.
    assert_err(
        &mut c,
        &["EXEC", "x"],
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command",
    );
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["SET", "a", "1"], simple("QUEUED"));
    assert_err(
        &mut c,
        &["EXEC", "x"],
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command",
    );
    assert_err(&mut c, &["EXEC"], "ERR EXEC without MULTI");
    assert_q(&mut c, &["EXISTS", "a"], int(0));
    assert_err(
        &mut c,
        &["NOSUCH", "a", "b"],
        "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ",
    );
}

#[test]
fn set_options() {
    let s = start(&[]);
    let mut c = s.conn();
    assert_q(&mut c, &["SET", "k", "v", "EX", "100"], ok());
    assert_q(&mut c, &["TTL", "k"], int(100));
    assert_q(&mut c, &["SET", "k", "v", "PX", "100000"], ok());
    let pttl = match q(&mut c, &["PTTL", "k"]) {
        Value::Int(n) => n,
        v => panic!("{v:?}"),
    };
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = (now + 1000).to_string();
    assert_q(&mut c, &["SET", "k", "v", "EXAT", &at], ok());
    assert_q(&mut c, &["EXPIRETIME", "k"], int(now as i64 + 1000));
    let pat = ((now + 2000) * 1000).to_string();
    assert_q(&mut c, &["SET", "k", "v", "PXAT", &pat], ok());
    assert_q(
        &mut c,
        &["PEXPIRETIME", "k"],
        int((now as i64 + 2000) * 1000),
    );
    // KEEPTTL keeps it, a plain SET drops it
    assert_q(&mut c, &["SET", "k", "v2", "KEEPTTL"], ok());
    assert_q(
        &mut c,
        &["PEXPIRETIME", "k"],
        int((now as i64 + 2000) * 1000),
    );
    assert_q(&mut c, &["SET", "k", "v3"], ok());
    assert_q(&mut c, &["TTL", "k"], int(-1));
    // NX / XX
    assert_q(&mut c, &["SET", "k", "x", "NX"], Value::Nil);
    assert_q(&mut c, &["SET", "new", "x", "XX"], Value::Nil);
    assert_q(&mut c, &["SET", "new", "x", "NX"], ok());
    assert_q(&mut c, &["SET", "new", "y", "XX"], ok());
    // GET
    assert_q(&mut c, &["SET", "new", "z", "GET"], bulk("y"));
    assert_q(&mut c, &["SET", "absent", "z", "GET"], Value::Nil);
    assert_q(&mut c, &["SET", "new", "w", "NX", "GET"], bulk("z"));
    assert_q(&mut c, &["GET", "new"], bulk("z"));
    // repeated options are fine, the last expire wins
    assert_q(&mut c, &["SET", "k", "v", "EX", "10", "EX", "20"], ok());
    assert_q(&mut c, &["TTL", "k"], int(20));
    // errors
    assert_err(&mut c, &["SET", "k", "v", "NX", "XX"], "ERR syntax error");
    assert_err(
        &mut c,
        &["SET", "k", "v", "EX", "10", "PX", "10"],
        "ERR syntax error",
    );
    assert_err(
        &mut c,
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        "ERR syntax error",
    );
    assert_err(&mut c, &["SET", "k", "v", "EX"], "ERR syntax error");
    assert_err(&mut c, &["SET", "k", "v", "FOO"], "ERR syntax error");
    assert_err(
        &mut c,
        &["SET", "k", "v", "EX", "0"],
        "ERR invalid expire time in 'set' command",
    );
    assert_err(
        &mut c,
        &["SET", "k", "v", "EX", "-5", "BAD"],
        "ERR syntax error",
    );
    assert_err(
        &mut c,
        &["SET", "k", "v", "PX", "x"],
        "ERR value is not an integer or out of range",
    );
    assert_err(
        &mut c,
        &["SET", "k", "v", "EX", "9223372036854775807"],
        "ERR invalid expire time in 'set' command",
    );
    // an expiry in the past: the key is gone for readers
    assert_q(&mut c, &["SET", "past", "v", "EXAT", "1"], ok());
    assert_q(&mut c, &["GET", "past"], Value::Nil);
}

#[test]
fn expiry_lazy_and_active() {
    let s = start(&[]);
    let mut c = s.conn();
    assert_q(&mut c, &["SET", "lazy", "v", "PX", "50"], ok());
    std::thread::sleep(Duration::from_millis(120));
    assert_q(&mut c, &["GET", "lazy"], Value::Nil);
    assert_q(&mut c, &["TTL", "lazy"], int(-2));
    // active: keys with short TTLs vanish from DBSIZE without being read
    for i in 0..100 {
        assert_q(&mut c, &["SET", &format!("a{i}"), "v", "PX", "100"], ok());
    }
    assert_q(&mut c, &["SET", "keep", "v"], ok());
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if q(&mut c, &["DBSIZE"]) == int(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expired keys still counted: {:?}",
            q(&mut c, &["DBSIZE"])
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn key_commands() {
    let s = start(&[]);
    let mut c = s.conn();
    assert_q(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"], ok());
    assert_q(&mut c, &["EXISTS", "a", "a", "nokey"], int(2));
    assert_q(&mut c, &["TOUCH", "a", "b", "nokey"], int(2));
    assert_q(&mut c, &["DEL", "a", "nokey"], int(1));
    assert_q(&mut c, &["UNLINK", "b", "b"], int(1));
    assert_q(&mut c, &["TYPE", "c"], simple("string"));
    assert_q(&mut c, &["TYPE", "nokey"], simple("none"));
    // EXPIRE family
    assert_q(&mut c, &["EXPIRE", "nokey", "10"], int(0));
    assert_q(&mut c, &["TTL", "nokey"], int(-2));
    assert_q(&mut c, &["PTTL", "nokey"], int(-2));
    assert_q(&mut c, &["TTL", "c"], int(-1));
    assert_q(&mut c, &["EXPIRETIME", "c"], int(-1));
    assert_q(&mut c, &["EXPIRE", "c", "100", "XX"], int(0));
    assert_q(&mut c, &["EXPIRE", "c", "100", "NX"], int(1));
    assert_q(&mut c, &["EXPIRE", "c", "200", "NX"], int(0));
    assert_q(&mut c, &["EXPIRE", "c", "50", "GT"], int(0));
    assert_q(&mut c, &["EXPIRE", "c", "200", "GT"], int(1));
    assert_q(&mut c, &["TTL", "c"], int(200));
    assert_q(&mut c, &["EXPIRE", "c", "300", "LT"], int(0));
    assert_q(&mut c, &["PEXPIRE", "c", "150000", "LT"], int(1));
    assert_q(&mut c, &["TTL", "c"], int(150));
    assert_err(
        &mut c,
        &["EXPIRE", "c", "10", "NX", "XX"],
        "ERR NX and XX, GT or LT options at the same time are not compatible",
    );
    assert_err(
        &mut c,
        &["EXPIRE", "c", "10", "GT", "LT"],
        "ERR GT and LT options at the same time are not compatible",
    );
    assert_err(
        &mut c,
        &["EXPIRE", "c", "10", "FOO"],
        "ERR Unsupported option FOO",
    );
    assert_err(
        &mut c,
        &["EXPIRE", "c", "x"],
        "ERR value is not an integer or out of range",
    );
    assert_err(
        &mut c,
        &["EXPIRE", "c", "9223372036854775807"],
        "ERR invalid expire time in 'expire' command",
    );
    assert_q(&mut c, &["PERSIST", "c"], int(1));
    assert_q(&mut c, &["PERSIST", "c"], int(0));
    assert_q(&mut c, &["PERSIST", "nokey"], int(0));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_q(&mut c, &["EXPIREAT", "c", &(now + 500).to_string()], int(1));
    assert_q(&mut c, &["EXPIRETIME", "c"], int(now + 500));
    assert_q(
        &mut c,
        &["PEXPIREAT", "c", &((now + 600) * 1000).to_string()],
        int(1),
    );
    assert_q(&mut c, &["PEXPIRETIME", "c"], int((now + 600) * 1000));
    assert_q(&mut c, &["EXPIRE", "c", "-1"], int(1));
    assert_q(&mut c, &["EXISTS", "c"], int(0));
    // RENAME / RENAMENX
    assert_q(&mut c, &["SET", "x", "1", "EX", "100"], ok());
    assert_q(&mut c, &["RENAME", "x", "y"], ok());
    assert_q(&mut c, &["TTL", "y"], int(100));
    assert_q(&mut c, &["EXISTS", "x"], int(0));
    assert_err(&mut c, &["RENAME", "x", "z"], "ERR no such key");
    assert_err(&mut c, &["RENAMENX", "x", "z"], "ERR no such key");
    assert_q(&mut c, &["RENAME", "y", "y"], ok());
    assert_q(&mut c, &["SET", "z", "2"], ok());
    assert_q(&mut c, &["RENAMENX", "y", "z"], int(0));
    assert_q(&mut c, &["RENAMENX", "y", "w"], int(1));
    assert_q(&mut c, &["RENAME", "w", "z"], ok());
    assert_q(&mut c, &["GET", "z"], bulk("1"));
    // DBSIZE / FLUSHDB / FLUSHALL
    assert_q(&mut c, &["DBSIZE"], int(1));
    assert_q(&mut c, &["FLUSHDB"], ok());
    assert_q(&mut c, &["DBSIZE"], int(0));
    assert_q(&mut c, &["SET", "z", "2"], ok());
    assert_q(&mut c, &["FLUSHALL", "ASYNC"], ok());
    assert_q(&mut c, &["DBSIZE"], int(0));
    assert_err(&mut c, &["FLUSHDB", "FOO"], "ERR syntax error");
    // RANDOMKEY
    assert_q(&mut c, &["RANDOMKEY"], Value::Nil);
    assert_q(&mut c, &["SET", "only", "1"], ok());
    assert_q(&mut c, &["RANDOMKEY"], bulk("only"));
    // OBJECT
    assert_q(&mut c, &["SET", "i", "12345"], ok());
    assert_q(&mut c, &["OBJECT", "ENCODING", "i"], bulk("int"));
    assert_q(&mut c, &["SET", "str", "abc"], ok());
    assert_q(&mut c, &["OBJECT", "ENCODING", "str"], bulk("embstr"));
    assert_q(&mut c, &["OBJECT", "ENCODING", "nokey"], Value::Nil);
    assert_q(&mut c, &["OBJECT", "REFCOUNT", "str"], int(1));
    assert_q(&mut c, &["OBJECT", "REFCOUNT", "only"], int(2147483647));
    assert_err(
        &mut c,
        &["OBJECT", "FOO", "only"],
        "ERR unknown subcommand 'FOO'. Try OBJECT HELP.",
    );
    assert_err(&mut c, &["OBJECT", "ENCODING"], &arity("object|encoding"));
    assert_err(&mut c, &["OBJECT", "help", "x"], &arity("object|help"));
}

#[test]
fn keys_patterns() {
    let s = start(&[]);
    let mut c = s.conn();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "hillo", "a*b", "other",
    ] {
        assert_q(&mut c, &["SET", k, "1"], ok());
    }
    let keys = |c: &mut redis::Connection, pat: &str| -> Vec<String> {
        let Value::Array(xs) = q(c, &["KEYS", pat]) else {
            panic!()
        };
        let mut v: Vec<String> = xs
            .into_iter()
            .map(|x| match x {
                Value::BulkString(b) => String::from_utf8(b).unwrap(),
                o => panic!("{o:?}"),
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(keys(&mut c, "h?llo"), ["hallo", "hello", "hillo", "hxllo"]);
    assert_eq!(
        keys(&mut c, "h*llo"),
        ["hallo", "heeeello", "hello", "hillo", "hllo", "hxllo"]
    );
    assert_eq!(keys(&mut c, "h[ae]llo"), ["hallo", "hello"]);
    assert_eq!(keys(&mut c, "h[^e]llo"), ["hallo", "hillo", "hxllo"]);
    assert_eq!(keys(&mut c, "h[a-b]llo"), ["hallo"]);
    assert_eq!(keys(&mut c, "a\\*b"), ["a*b"]);
    assert_eq!(keys(&mut c, "nomatch*"), Vec::<String>::new());
    assert_eq!(keys(&mut c, "*").len(), 8);
}

#[test]
fn select_swapdb_move_copy() {
    let s = start(&[]);
    let mut c = s.conn();
    assert_q(&mut c, &["SET", "k", "db0"], ok());
    assert_q(&mut c, &["SELECT", "1"], ok());
    assert_q(&mut c, &["GET", "k"], Value::Nil);
    assert_q(&mut c, &["SET", "k", "db1"], ok());
    assert_err(&mut c, &["SELECT", "16"], "ERR DB index is out of range");
    assert_err(&mut c, &["SELECT", "-1"], "ERR DB index is out of range");
    assert_err(
        &mut c,
        &["SELECT", "x"],
        "ERR value is not an integer or out of range",
    );
    assert_q(&mut c, &["SWAPDB", "0", "1"], ok());
    assert_q(&mut c, &["GET", "k"], bulk("db0"));
    assert_q(&mut c, &["SELECT", "0"], ok());
    assert_q(&mut c, &["GET", "k"], bulk("db1"));
    assert_err(
        &mut c,
        &["SWAPDB", "0", "16"],
        "ERR DB index is out of range",
    );
    assert_err(&mut c, &["SWAPDB", "x", "1"], "ERR invalid first DB index");
    assert_err(&mut c, &["SWAPDB", "0", "y"], "ERR invalid second DB index");
    // MOVE
    assert_q(&mut c, &["SET", "m", "v", "EX", "100"], ok());
    assert_q(&mut c, &["MOVE", "m", "2"], int(1));
    assert_q(&mut c, &["EXISTS", "m"], int(0));
    assert_q(&mut c, &["MOVE", "m", "2"], int(0));
    assert_q(&mut c, &["SET", "m", "v"], ok());
    assert_q(&mut c, &["MOVE", "m", "2"], int(0));
    assert_err(
        &mut c,
        &["MOVE", "m", "0"],
        "ERR source and destination objects are the same",
    );
    assert_err(&mut c, &["MOVE", "m", "99"], "ERR DB index is out of range");
    assert_q(&mut c, &["SELECT", "2"], ok());
    assert_q(&mut c, &["TTL", "m"], int(100));
    // COPY
    assert_q(&mut c, &["COPY", "m", "m2"], int(1));
    assert_q(&mut c, &["TTL", "m2"], int(100));
    assert_q(&mut c, &["COPY", "m", "m2"], int(0));
    assert_q(&mut c, &["SET", "m", "changed"], ok());
    assert_q(&mut c, &["COPY", "m", "m2", "REPLACE"], int(1));
    assert_q(&mut c, &["GET", "m2"], bulk("changed"));
    assert_q(&mut c, &["COPY", "m", "m", "DB", "3"], int(1));
    assert_q(&mut c, &["COPY", "nokey", "x"], int(0));
    assert_err(
        &mut c,
        &["COPY", "m", "m"],
        "ERR source and destination objects are the same",
    );
    assert_err(
        &mut c,
        &["COPY", "m", "x", "DB", "16"],
        "ERR DB index is out of range",
    );
    assert_err(&mut c, &["COPY", "m", "x", "FOO"], "ERR syntax error");
    assert_q(&mut c, &["SELECT", "3"], ok());
    assert_q(&mut c, &["GET", "m"], bulk("changed"));
}

#[test]
fn scan_returns_every_key() {
    let s = start(&[]);
    let mut c = s.conn();
    let mut cmd = redis::cmd("MSET");
    for i in 0..1000 {
        cmd.arg(format!("key:{i}")).arg(i);
    }
    assert_eq!(common::qc(&mut c, &cmd), ok());
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        let Value::Array(parts) = q(&mut c, &["SCAN", &cursor, "COUNT", "37"]) else {
            panic!()
        };
        let Value::BulkString(next) = &parts[0] else {
            panic!()
        };
        let Value::Array(keys) = &parts[1] else {
            panic!()
        };
        for k in keys {
            let Value::BulkString(k) = k else { panic!() };
            seen.insert(String::from_utf8(k.clone()).unwrap());
        }
        cursor = String::from_utf8(next.clone()).unwrap();
        rounds += 1;
        assert!(rounds < 10_000);
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    // MATCH and TYPE filter, bad arguments
    let Value::Array(parts) = q(
        &mut c,
        &["SCAN", "0", "MATCH", "key:99*", "COUNT", "100000"],
    ) else {
        panic!()
    };
    let Value::Array(keys) = &parts[1] else {
        panic!()
    };
    assert_eq!(keys.len(), 11);
    let Value::Array(parts) = q(&mut c, &["SCAN", "0", "TYPE", "list", "COUNT", "100000"]) else {
        panic!()
    };
    assert_eq!(parts[1], Value::Array(vec![]));
    assert_err(&mut c, &["SCAN", "x"], "ERR invalid cursor");
    assert_err(&mut c, &["SCAN", "0", "COUNT", "0"], "ERR syntax error");
    assert_err(&mut c, &["SCAN", "0", "FOO", "1"], "ERR syntax error");
}

#[test]
fn multi_exec_discard() {
    let s = start(&[]);
    let mut c = s.conn();
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["SET", "a", "1"], simple("QUEUED"));
    assert_q(&mut c, &["INCR", "a"], simple("QUEUED"));
    assert_q(&mut c, &["GET", "a"], simple("QUEUED"));
    assert_q(
        &mut c,
        &["EXEC"],
        Value::Array(vec![ok(), int(2), bulk("2")]),
    );
    // runtime errors do not abort the rest
    assert_q(&mut c, &["SET", "s", "str"], ok());
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["INCR", "s"], simple("QUEUED"));
    assert_q(&mut c, &["INCR", "a"], simple("QUEUED"));
    let Value::Array(r) = q(&mut c, &["EXEC"]) else {
        panic!()
    };
    assert_eq!(
        err_text(&r[0]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(r[1], int(3));
    // queue-time errors abort the whole transaction
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["SET", "a", "100"], simple("QUEUED"));
    assert_err(
        &mut c,
        &["NOSUCHCMD"],
        "ERR unknown command 'NOSUCHCMD', with args beginning with: ",
    );
    assert_err(&mut c, &["GET"], &arity("get"));
    assert_err(
        &mut c,
        &["EXEC"],
        "EXECABORT Transaction discarded because of previous errors.",
    );
    assert_q(&mut c, &["GET", "a"], bulk("3"));
    // DISCARD
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["SET", "a", "discarded"], simple("QUEUED"));
    assert_q(&mut c, &["DISCARD"], ok());
    assert_q(&mut c, &["GET", "a"], bulk("3"));
    assert_err(&mut c, &["EXEC"], "ERR EXEC without MULTI");
    assert_err(&mut c, &["DISCARD"], "ERR DISCARD without MULTI");
    assert_q(&mut c, &["MULTI"], ok());
    assert_err(&mut c, &["MULTI"], "ERR MULTI calls can not be nested");
    assert_err(
        &mut c,
        &["WATCH", "a"],
        "ERR WATCH inside MULTI is not allowed",
    );
    assert_q(&mut c, &["EXEC"], Value::Array(vec![]));
}

#[test]
fn watch_is_invalidated() {
    let s = start(&[]);
    let mut c = s.conn();
    let mut other = s.conn();
    // by another client's write
    assert_q(&mut c, &["SET", "w", "1"], ok());
    assert_q(&mut c, &["WATCH", "w"], ok());
    assert_q(&mut other, &["SET", "w", "2"], ok());
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["SET", "w", "3"], simple("QUEUED"));
    assert_q(&mut c, &["EXEC"], Value::Nil);
    assert_q(&mut c, &["GET", "w"], bulk("2"));
    // untouched: EXEC runs
    assert_q(&mut c, &["WATCH", "w"], ok());
    assert_q(&mut other, &["GET", "w"], bulk("2"));
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["SET", "w", "3"], simple("QUEUED"));
    assert_q(&mut c, &["EXEC"], Value::Array(vec![ok()]));
    // UNWATCH
    assert_q(&mut c, &["WATCH", "w"], ok());
    assert_q(&mut other, &["SET", "w", "4"], ok());
    assert_q(&mut c, &["UNWATCH"], ok());
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["GET", "w"], simple("QUEUED"));
    assert_q(&mut c, &["EXEC"], Value::Array(vec![bulk("4")]));
    // by FLUSHDB
    assert_q(&mut c, &["WATCH", "w"], ok());
    assert_q(&mut other, &["FLUSHDB"], ok());
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["SET", "w", "5"], simple("QUEUED"));
    assert_q(&mut c, &["EXEC"], Value::Nil);
    // by expiry
    assert_q(&mut c, &["SET", "e", "1", "PX", "100"], ok());
    assert_q(&mut c, &["WATCH", "e"], ok());
    std::thread::sleep(Duration::from_millis(200));
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["SET", "x", "1"], simple("QUEUED"));
    assert_q(&mut c, &["EXEC"], Value::Nil);
    // UNWATCH inside MULTI is queued, not run at once
    assert_q(&mut c, &["WATCH", "w"], ok());
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["UNWATCH"], simple("QUEUED"));
    assert_q(&mut c, &["EXEC"], Value::Array(vec![ok()]));
    // SWAPDB touches a watched key only when it exists in one of the two databases
    assert_q(&mut c, &["WATCH", "missing"], ok());
    assert_q(&mut other, &["SWAPDB", "0", "5"], ok());
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["PING"], simple("QUEUED"));
    assert_q(&mut c, &["EXEC"], Value::Array(vec![simple("PONG")]));
    assert_q(&mut c, &["SET", "present", "1"], ok());
    assert_q(&mut c, &["WATCH", "present"], ok());
    assert_q(&mut other, &["SWAPDB", "0", "5"], ok());
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["PING"], simple("QUEUED"));
    assert_q(&mut c, &["EXEC"], Value::Nil);
    assert_q(&mut other, &["SWAPDB", "0", "5"], ok());
    // EXEC with arguments discards the transaction and its WATCHes
    assert_q(&mut c, &["WATCH", "present"], ok());
    assert_q(&mut c, &["MULTI"], ok());
    assert_err(
        &mut c,
        &["EXEC", "x"],
        "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command",
    );
    assert_q(&mut other, &["SET", "present", "2"], ok());
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["GET", "present"], simple("QUEUED"));
    assert_q(&mut c, &["EXEC"], Value::Array(vec![bulk("2")]));
    // a write in another database does not count
    assert_q(&mut c, &["SET", "w", "1"], ok());
    assert_q(&mut c, &["WATCH", "w"], ok());
    assert_q(&mut other, &["SELECT", "1"], ok());
    assert_q(&mut other, &["SET", "w", "other-db"], ok());
    assert_q(&mut c, &["MULTI"], ok());
    assert_q(&mut c, &["GET", "w"], simple("QUEUED"));
    assert_q(&mut c, &["EXEC"], Value::Array(vec![bulk("1")]));
}

#[test]
fn pipelining_1000_commands() {
    let s = start(&[]);
    let mut r = s.raw();
    let mut req = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1000 {
        req.extend(resp(&[b"INCR", b"counter"]));
        expected.extend(format!(":{}\r\n", i + 1).into_bytes());
    }
    req.extend(resp(&[b"PING"]));
    expected.extend(b"+PONG\r\n");
    r.roundtrip(&req, &expected);
}

#[test]
fn inline_commands() {
    let s = start(&[]);
    let mut r = s.raw();
    r.roundtrip(b"SET a \"b c\"\r\n", b"+OK\r\n");
    r.roundtrip(b"GET a\r\n", b"$3\r\nb c\r\n");
    r.roundtrip(b"set e 'x\\ny'\n", b"+OK\r\n");
    r.roundtrip(b"STRLEN e\n", b":4\r\n");
    r.roundtrip(b"\r\n", b"");
    r.roundtrip(b"PING\r\n", b"+PONG\r\n");
    r.roundtrip(b"ECHO \"\\x41\\x42\"\r\n", b"$2\r\nAB\r\n");
    // an unbalanced quote is a protocol error that closes the connection
    r.roundtrip(
        b"SET a \"b\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    assert!(r.is_closed(Duration::from_secs(2)));
}

#[test]
fn protocol_errors_close_only_that_connection() {
    let s = start(&[]);
    let mut bystander = s.raw();
    bystander.roundtrip(b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    let mut r = s.raw();
    r.roundtrip(
        b"*1\r\n+x\r\n",
        b"-ERR Protocol error: expected '$', got '+'\r\n",
    );
    assert!(
        r.is_closed(Duration::from_secs(2)),
        "connection stays open after a protocol error"
    );
    let mut r = s.raw();
    r.roundtrip(
        b"*abc\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    assert!(r.is_closed(Duration::from_secs(2)));
    let mut r = s.raw();
    r.roundtrip(
        b"*1\r\n$x\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    assert!(r.is_closed(Duration::from_secs(2)));
    bystander.roundtrip(b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n", b"$2\r\nhi\r\n");
}

#[test]
fn auth_with_requirepass() {
    let s = start(&["--requirepass", "s3cret"]);
    let mut r = s.raw();
    r.roundtrip(b"GET k\r\n", b"-NOAUTH Authentication required.\r\n");
    r.roundtrip(
        b"AUTH wrong\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    r.roundtrip(
        b"AUTH someone s3cret\r\n",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    r.roundtrip(b"AUTH a b c\r\n", b"-ERR syntax error\r\n");
    r.roundtrip(b"AUTH default s3cret\r\n", b"+OK\r\n");
    r.roundtrip(b"SET k v\r\n", b"+OK\r\n");
    let mut r2 = s.raw();
    r2.roundtrip(b"AUTH s3cret\r\n", b"+OK\r\n");
    r2.roundtrip(b"GET k\r\n", b"$1\r\nv\r\n");
    // redis-cli with -a
    let (ok_, out) = s.cli(&["--no-auth-warning", "-a", "s3cret", "get", "k"]);
    assert!(ok_);
    assert_eq!(out, "v\n");
    // the redis crate with the password in the URL
    let client = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", s.port)).unwrap();
    let mut c = client.get_connection().unwrap();
    assert_q(&mut c, &["GET", "k"], bulk("v"));
}

#[test]
fn auth_without_password() {
    let s = start(&[]);
    let mut c = s.conn();
    assert_err(
        &mut c,
        &["AUTH", "x"],
        "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
    );
    assert_q(&mut c, &["AUTH", "default", "anything"], ok());
}

#[test]
fn hello_3_map_reply() {
    let s = start(&[]);
    let mut r = s.raw();
    r.send(b"HELLO 3\r\n");
    let got = r.read_available(Duration::from_millis(500));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:"), "{text:?}");
    assert!(text.ends_with("$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"), "{text:?}");
    // RESP3 null
    r.roundtrip(b"GET nokey\r\n", b"_\r\n");
    r.roundtrip(b"HELLO 4\r\n", b"-NOPROTO unsupported protocol version\r\n");
    r.send(b"HELLO 2\r\n");
    let got = r.read_available(Duration::from_millis(500));
    assert!(
        got.starts_with(b"*14\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    r.roundtrip(b"GET nokey\r\n", b"$-1\r\n");
}

#[test]
fn client_commands() {
    let s = start(&[]);
    let mut c = s.conn();
    let Value::Int(id) = q(&mut c, &["CLIENT", "ID"]) else {
        panic!()
    };
    assert_q(&mut c, &["CLIENT", "GETNAME"], Value::Nil);
    assert_q(&mut c, &["CLIENT", "SETNAME", "tester"], ok());
    assert_q(&mut c, &["CLIENT", "GETNAME"], bulk("tester"));
    assert_err(
        &mut c,
        &["CLIENT", "SETNAME", "a b"],
        "ERR Client names cannot contain spaces, newlines or special characters.",
    );
    let list = match q(&mut c, &["CLIENT", "LIST"]) {
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        Value::VerbatimString { text, .. } => text,
        o => panic!("{o:?}"),
    };
    assert!(list.contains(&format!("id={id} ")), "{list}");
    assert!(list.contains("name=tester"), "{list}");
    assert!(list.contains("cmd=client|list"), "{list}");
    // CLIENT KILL ID
    let mut victim = s.raw();
    victim.send(b"CLIENT ID\r\n");
    let reply = String::from_utf8(victim.read_available(Duration::from_millis(300))).unwrap();
    let vid = reply.trim().trim_start_matches(':').to_string();
    assert_q(&mut c, &["CLIENT", "KILL", "ID", &vid], int(1));
    assert!(victim.is_closed(Duration::from_secs(2)));
    assert_q(&mut c, &["CLIENT", "KILL", "ID", &vid], int(0));
    assert_err(
        &mut c,
        &["CLIENT", "KILL", "127.0.0.1:1"],
        "ERR No such client",
    );
    assert_err(
        &mut c,
        &["CLIENT", "FOO"],
        "ERR unknown subcommand 'FOO'. Try CLIENT HELP.",
    );
    assert_err(&mut c, &["CLIENT", "KILL"], &arity("client|kill"));
    assert_err(&mut c, &["CLIENT", "setname"], &arity("client|setname"));
    assert_err(&mut c, &["CLIENT", "ID", "x"], &arity("client|id"));
    assert_err(&mut c, &["CLIENT", "LIST", "x"], "ERR syntax error");
    assert_err(
        &mut c,
        &["CLIENT", "PAUSE", "x"],
        "ERR timeout is not an integer or out of range",
    );
}

#[test]
fn client_pause_write() {
    let s = start(&[]);
    let mut admin = s.conn();
    let mut reader = s.conn();
    let mut writer = s.conn();
    assert_q(&mut admin, &["SET", "k", "before"], ok());
    assert_q(&mut admin, &["CLIENT", "PAUSE", "20000", "WRITE"], ok());
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let v = q(&mut writer, &["SET", "k", "after"]);
        tx.send((v, Instant::now())).unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(rx.try_recv().is_err(), "a write ran while paused");
    // reads are not paused
    let started = Instant::now();
    assert_q(&mut reader, &["GET", "k"], bulk("before"));
    assert!(started.elapsed() < Duration::from_secs(1));
    let unpaused = Instant::now();
    assert_q(&mut admin, &["CLIENT", "UNPAUSE"], ok());
    let (v, at) = rx
        .recv_timeout(Duration::from_secs(3))
        .expect("write still blocked after UNPAUSE");
    assert_eq!(v, ok());
    assert!(at >= unpaused);
    t.join().unwrap();
    assert_q(&mut reader, &["GET", "k"], bulk("after"));
}

#[test]
fn debug_digest_needs_enable_debug_command() {
    let s = Server::start_kind(Kind::Redrepl, &[]);
    let mut c = s.conn();
    assert_err(
        &mut c,
        &["DEBUG", "DIGEST"],
        "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
    );
    let s = Server::start_kind(Kind::Redrepl, &["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    assert_q(
        &mut c,
        &["DEBUG", "DIGEST"],
        simple("0000000000000000000000000000000000000000"),
    );
    assert_q(&mut c, &["SET", "a", "1"], ok());
    let Value::SimpleString(d) = q(&mut c, &["DEBUG", "DIGEST"]) else {
        panic!()
    };
    assert_eq!(d.len(), 40);
    assert_ne!(d, "0000000000000000000000000000000000000000");
    let s = Server::start_kind(Kind::Redrepl, &["--enable-debug-command", "local"]);
    let mut c = s.conn();
    assert_q(
        &mut c,
        &["DEBUG", "DIGEST"],
        simple("0000000000000000000000000000000000000000"),
    );
}

#[test]
fn redis_cli_works() {
    let s = start(&[]);
    assert_eq!(s.cli(&["set", "k", "v"]), (true, "OK\n".to_string()));
    assert_eq!(s.cli(&["get", "k"]), (true, "v\n".to_string()));
    assert_eq!(s.cli(&["incr", "n"]), (true, "1\n".to_string()));
    assert_eq!(s.cli(&["get", "nokey"]), (true, "\n".to_string()));
    let (_, out) = s.cli(&["get"]);
    assert_eq!(
        out.trim_end(),
        "ERR wrong number of arguments for 'get' command"
    );
}

#[test]
fn shutdown_nosave_ends_the_process() {
    let mut s = start(&[]);
    let mut r = s.raw();
    // Neither ABORT (nothing pending) nor an illegal combination shuts the server down.
    r.roundtrip(b"SHUTDOWN ABORT\r\n", b"-ERR No shutdown in progress.\r\n");
    r.roundtrip(b"SHUTDOWN SAVE NOSAVE\r\n", b"-ERR syntax error\r\n");
    r.roundtrip(b"SHUTDOWN NOW ABORT\r\n", b"-ERR syntax error\r\n");
    r.roundtrip(b"PING\r\n", b"+PONG\r\n");
    r.send(b"SHUTDOWN NOSAVE\r\n");
    assert!(r.is_closed(Duration::from_secs(5)));
    let status = s
        .wait_exit(Duration::from_secs(5))
        .expect("still running after SHUTDOWN NOSAVE");
    assert!(status.success(), "{status}");
}

#[test]
fn sigterm_exits_cleanly() {
    let mut s = start(&[]);
    s.signal(libc::SIGTERM);
    let status = s
        .wait_exit(Duration::from_secs(5))
        .expect("still running after SIGTERM");
    assert_eq!(status.code(), Some(0));
    let log = s.log();
    assert!(log.contains("Redis is now ready to exit"), "{log}");
}

/// Kills a daemon by pid when dropped.
struct PidGuard(i32);

impl Drop for PidGuard {
    fn drop(&mut self) {
        common::kill_pid(self.0);
    }
}

#[test]
fn daemonize_pidfile_logfile() {
    let dir = tempfile::TempDir::new().unwrap();
    let pidfile = dir.path().join("r.pid");
    let logfile = dir.path().join("r.log");
    let s = start(&[
        "--daemonize",
        "yes",
        "--pidfile",
        pidfile.to_str().unwrap(),
        "--logfile",
        logfile.to_str().unwrap(),
    ]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pidfile.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _guard = PidGuard(pid);
    assert_ne!(
        Some(pid as u32),
        s.pid(),
        "the pidfile must hold the daemon's pid"
    );
    assert_eq!(
        unsafe { libc::kill(pid, 0) },
        0,
        "daemon pid {pid} not running"
    );
    let mut c = s.conn();
    assert_q(&mut c, &["PING"], simple("PONG"));
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains("Ready to accept connections"), "{log}");
}

#[test]
fn protected_mode() {
    let s = start(&["--protected-mode", "yes"]);
    let mut c = s.conn();
    assert_q(&mut c, &["PING"], simple("PONG"));
    // From a non-loopback address of this host, if it has one.
    let out = std::process::Command::new("hostname").arg("-I").output();
    let addr = out
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            s.split_whitespace().find_map(|a| {
                a.parse::<std::net::Ipv4Addr>()
                    .ok()
                    .filter(|ip| !ip.is_loopback())
            })
        });
    let Some(ip) = addr else {
        eprintln!("no non-loopback IPv4 address: skipping the DENIED case");
        return;
    };
    let Ok(stream) = std::net::TcpStream::connect((ip, s.port)) else {
        eprintln!("cannot connect to {ip}: skipping the DENIED case");
        return;
    };
    let mut r = Raw { stream };
    r.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    r.send(b"PING\r\n");
    let got = r.read_available(Duration::from_secs(1));
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("-DENIED Redis is running in protected mode"),
        "{text}"
    );
    // With a password, protected mode lets remote clients in (they must AUTH).
    let s = start(&["--protected-mode", "yes", "--requirepass", "pw"]);
    let mut r = Raw {
        stream: std::net::TcpStream::connect((ip, s.port)).unwrap(),
    };
    r.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    r.roundtrip(b"PING\r\n", b"-NOAUTH Authentication required.\r\n");
}

/// DEBUG POPULATE builds the same keys and values as redis-server (equal DEBUG DIGEST), with a
/// prefix and a value size too, and leaves existing keys alone.
#[test]
fn debug_populate_matches_redis() {
    let ours = Server::start(&["--enable-debug-command", "yes"]);
    let theirs = Server::start_redis(&[]);
    for s in [&ours, &theirs] {
        let mut c = s.conn();
        let _ = q(&mut c, &["SET", "key:3", "mine"]);
        assert_eq!(
            q(&mut c, &["DEBUG", "POPULATE", "1000"]),
            redis::Value::Okay
        );
        assert_eq!(
            q(&mut c, &["DEBUG", "POPULATE", "50", "p", "40"]),
            redis::Value::Okay
        );
        assert_eq!(
            q(&mut c, &["GET", "key:3"]),
            redis::Value::BulkString(b"mine".to_vec())
        );
    }
    let digest = |s: &Server| q(&mut s.conn(), &["DEBUG", "DIGEST"]);
    assert_eq!(digest(&ours), digest(&theirs));
    assert_eq!(q(&mut ours.conn(), &["DBSIZE"]), redis::Value::Int(1050));
}

/// DEBUG POPULATE checks its arguments with Redis's texts, pads or cuts values and cuts keys
/// as Redis does, and a count no machine can hold (Redis aborts the whole process on
/// `DEBUG POPULATE 1000000000000000000`) is refused at once without allocating.
#[test]
fn debug_populate_edges_match_redis_and_huge_counts_are_refused() {
    let ours = Server::start(&["--enable-debug-command", "yes"]);
    let theirs = Server::start_redis(&[]);
    let long = "p".repeat(140);
    let lines: &[&[&str]] = &[
        &["DEBUG", "POPULATE", "-1"],
        &["DEBUG", "POPULATE", "x"],
        &["DEBUG", "POPULATE", "3", "v", "x"],
        &["DEBUG", "POPULATE", "3", "v", "-1"],
        &["DBSIZE"],
        &["DEBUG", "POPULATE", "2", "z", "0"],
        &["DEBUG", "POPULATE", "2", "q", "2"],
        &["DEBUG", "POPULATE", "2", &long],
        &["DBSIZE"],
        &["DEBUG", "DIGEST"],
    ];
    for line in lines {
        let a = format!("{:?}", q(&mut ours.conn(), line));
        let b = format!("{:?}", q(&mut theirs.conn(), line));
        assert_eq!(a, b, "{line:?}");
    }
    let mut c = ours.conn();
    for count in [
        "1000000000000000000",
        "9223372036854775807",
        "100000000000000",
    ] {
        assert_eq!(
            err_text(&q(&mut c, &["DEBUG", "POPULATE", count])),
            "ERR OOM in dictTryExpand"
        );
    }
    assert_eq!(
        err_text(&q(
            &mut c,
            &["DEBUG", "POPULATE", "1000", "big", "9223372036854775807"]
        )),
        "ERR OOM in dictTryExpand"
    );
    assert_eq!(q(&mut c, &["DBSIZE"]), redis::Value::Int(5));
}
