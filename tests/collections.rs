//! Collection commands compared against Debian's redis-server 7.0: the same command
//! sequence goes to both servers, replies must match, and DEBUG DIGEST must match at the end.

mod common;

use common::Kind;
use std::time::{Duration, Instant};

/// A server from the shared harness with one open connection.
struct Server {
    con: redis::Connection,
    con_port: u16,
    _srv: common::Server,
}

fn start(kind: Kind, extra: &[&str]) -> Server {
    let srv = common::Server::builder(kind)
        .debug_command(true)
        .args(extra)
        .start();
    Server {
        con: srv.conn(),
        con_port: srv.port,
        _srv: srv,
    }
}

struct Pair {
    ours: Server,
    real: Server,
}

fn query(s: &mut Server, args: &[&str]) -> String {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    normalize(c.query::<redis::Value>(&mut s.con))
}

fn normalize(r: redis::RedisResult<redis::Value>) -> String {
    match r {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!("ERROR {:?} {:?}", e.code(), e.detail()),
    }
}

fn sorted(v: redis::Value) -> redis::Value {
    match v {
        redis::Value::Array(mut items) => {
            items.sort_by_key(|x| format!("{x:?}"));
            redis::Value::Array(items)
        }
        other => other,
    }
}

impl Pair {
    fn new() -> Option<Pair> {
        Pair::with_config(&[])
    }

    /// Both servers started with extra `--name value` configuration arguments.
    fn with_config(extra: &[&str]) -> Option<Pair> {
        // Never skip silently: the harness panics without the reference server.
        Some(Pair {
            ours: start(Kind::Redrepl, extra),
            real: start(Kind::Redis, extra),
        })
    }

    /// Sends `args` to both servers and asserts identical replies.
    fn cmp(&mut self, args: &[&str]) -> String {
        let a = query(&mut self.ours, args);
        let b = query(&mut self.real, args);
        assert_eq!(a, b, "command {args:?}");
        a
    }

    /// Same, ignoring the order of a top-level array.
    fn cmp_unordered(&mut self, args: &[&str]) {
        let run = |s: &mut Server| {
            let mut c = redis::cmd(args[0]);
            for a in &args[1..] {
                c.arg(*a);
            }
            normalize(c.query::<redis::Value>(&mut s.con).map(sorted))
        };
        let a = run(&mut self.ours);
        let b = run(&mut self.real);
        assert_eq!(a, b, "command {args:?}");
    }

    /// Sends to both, only checks that both succeed or both fail, returning our reply.
    fn both(&mut self, args: &[&str]) -> (String, String) {
        (query(&mut self.ours, args), query(&mut self.real, args))
    }

    fn cmp_digest(&mut self) {
        self.cmp(&["debug", "digest"]);
    }

    fn script(&mut self, lines: &[&str]) {
        for l in lines {
            let args: Vec<&str> = l.split(' ').collect();
            self.cmp(&args);
        }
    }
}

#[test]
fn hashes_basic() {
    let Some(mut p) = Pair::new() else { return };
    p.script(&[
        "hset h a 1 b 2 c 3",
        "hset h a 10 d 4",
        "hgetall h",
        "hkeys h",
        "hvals h",
        "hget h a",
        "hget h zz",
        "hget nokey a",
        "hmget h a zz b",
        "hmget nokey a b",
        "hmset h e 5",
        "hsetnx h e 6",
        "hsetnx h f 6",
        "hlen h",
        "hexists h a",
        "hexists h zz",
        "hstrlen h a",
        "hstrlen h zz",
        "hdel h a zz b",
        "hgetall h",
        "object encoding h",
        "hincrby h c 5",
        "hincrby h new -3",
        "hincrbyfloat h c 1.5",
        "hincrbyfloat h fl 0.1",
        "hincrbyfloat h fl 0.2",
        "hset h str abc",
        "hincrby h str 1",
        "hincrbyfloat h str 1",
        "hincrby h c abc",
        "hincrbyfloat h c abc",
        "hset h big 9223372036854775807",
        "hincrby h big 1",
        "hset h",
        "hset h a",
        "hset h a 1 b",
        "hmset h a",
        "hscan h 0",
        "hscan h 0 match s*",
        "hscan h 0 count 0",
        "hscan h x",
        "hrandfield nokey",
        "hrandfield nokey 3",
        "hrandfield h 0",
        "hrandfield h 1 withvalue",
        "hrandfield h 1 withvalues x",
        "hrandfield h x",
        "set s x",
        "hset s a 1",
        "hget s a",
        "hgetall s",
        "hlen s",
        "hdel s a",
        "hrandfield s",
        "hdel h c d e f new fl str big",
        "exists h",
        "hdel h zz",
    ]);
    p.cmp_digest();
    p.script(&["hset h2 a 1 b 2 c 3"]);
    p.cmp_unordered(&["hrandfield", "h2", "10"]);
    p.cmp_unordered(&["hrandfield", "h2", "10", "withvalues"]);
    let (a, _) = p.both(&["hrandfield", "h2", "-5"]);
    assert_eq!(a.matches("bulk-string").count(), 5, "{a}");
    let (a, _) = p.both(&["hrandfield", "h2", "2", "withvalues"]);
    assert_eq!(a.matches("bulk-string").count(), 4, "{a}");
    let (a, _) = p.both(&["hrandfield", "h2"]);
    assert!(a.contains("bulk-string"));
    p.cmp_digest();
}

#[test]
fn hashes_encoding() {
    let Some(mut p) = Pair::new() else { return };
    let long = "x".repeat(65);
    p.cmp(&["hset", "h", "a", "1"]);
    p.cmp(&["object", "encoding", "h"]);
    p.cmp(&["hset", "h", "b", &long]);
    p.cmp(&["object", "encoding", "h"]);
    p.cmp(&["hset", "h2", &long, "1"]);
    p.cmp(&["object", "encoding", "h2"]);
    for i in 0..100 {
        p.cmp(&["hset", "h3", &format!("f{i}"), &i.to_string()]);
    }
    p.cmp(&["object", "encoding", "h3"]);
    p.cmp(&["hgetall", "h3"]);
    // Redis 7.0's default hash-max-listpack-entries is 512.
    for i in 100..600 {
        p.both(&["hset", "h3", &format!("f{i}"), &i.to_string()]);
    }
    p.cmp(&["hset", "h3", "one-more", "x"]);
    p.cmp(&["object", "encoding", "h3"]);
    p.cmp(&["hdel", "h3", "one-more", "f1"]);
    p.cmp(&["object", "encoding", "h3"]);
    p.cmp_unordered(&["hkeys", "h3"]);
    let (a, _) = p.both(&["hrandfield", "h3"]);
    assert!(a.starts_with("bulk-string"), "{a}");
    let (a, _) = p.both(&["hrandfield", "h3", "-20", "withvalues"]);
    assert_eq!(a.matches("bulk-string").count(), 40, "{a}");
    let (a, _) = p.both(&["hrandfield", "h3", "20"]);
    assert_eq!(a.matches("bulk-string").count(), 20, "{a}");
    p.cmp_unordered(&["hvals", "h3"]);
    p.cmp(&["hlen", "h3"]);
    p.cmp(&["hincrbyfloat", "h4", "f", "10.5"]);
    p.cmp(&["hincrbyfloat", "h4", "f", "-0.25"]);
    p.cmp(&["hincrbyfloat", "h4", "f", "3"]);
    p.cmp_digest();
}

#[test]
fn lists_basic() {
    let Some(mut p) = Pair::new() else { return };
    p.script(&[
        "rpush l a b c d e",
        "lpush l z y",
        "lrange l 0 -1",
        "object encoding l",
        "llen l",
        "llen nokey",
        "lrange l 1 3",
        "lrange l -3 -1",
        "lrange l 5 2",
        "lrange l -100 100",
        "lrange l 100 200",
        "lrange l x 1",
        "lindex l 0",
        "lindex l -1",
        "lindex l 100",
        "lindex l x",
        "lset l 0 Z",
        "lset l -1 E",
        "lset l 100 x",
        "lset nokey 0 x",
        "linsert l before c C",
        "linsert l after c c2",
        "linsert l after nothere x",
        "linsert l middle c x",
        "linsert nokey before a b",
        "lrange l 0 -1",
        "rpush r a b a c a d a",
        "lrem r 2 a",
        "lrange r 0 -1",
        "lrem r -1 a",
        "lrange r 0 -1",
        "lrem r 0 a",
        "lrange r 0 -1",
        "lrem r 0 zz",
        "ltrim r 1 -1",
        "lrange r 0 -1",
        "ltrim r 5 10",
        "exists r",
        "lpushx nokey a",
        "rpushx nokey a",
        "lpushx l x1 x2",
        "rpushx l y1",
        "lpop l",
        "rpop l",
        "lpop l 2",
        "rpop l 0",
        "rpop l -1",
        "lpop l 1 2",
        "lpop nokey",
        "lpop nokey 2",
        "rpop l 100",
        "exists l",
        "rpush p a b c a b c a",
        "lpos p a",
        "lpos p a rank 2",
        "lpos p a rank -1",
        "lpos p a rank -2 count 0",
        "lpos p a count 0",
        "lpos p a count 2 maxlen 4",
        "lpos p zz",
        "lpos p zz count 2",
        "lpos nokey a",
        "lpos nokey a count 1",
        "lpos p a rank 0",
        "lpos p a count -1",
        "lpos p a maxlen -1",
        "lpos p a foo 1",
        "lpos p a rank x",
        "rpush m1 1 2 3",
        "lmove m1 m2 left right",
        "lmove m1 m2 right left",
        "lmove m1 m1 left right",
        "lrange m1 0 -1",
        "lrange m2 0 -1",
        "lmove m1 m2 up down",
        "lmove nokey m2 left left",
        "rpoplpush m1 m2",
        "rpoplpush m1 m2",
        "exists m1",
        "set str x",
        "rpoplpush m2 str",
        "lmove m2 str left left",
        "lpush str a",
        "lrange str 0 1",
        "lpop str",
        "llen str",
        "lmpop 2 nokey m2 left",
        "lmpop 2 nokey m2 right count 10",
        "lmpop 1 nokey left",
        "lmpop 0 m2 left",
        "lmpop 3 m2 left",
        "lmpop 1 m2 middle",
        "lmpop 1 m2 left count 0",
        "lmpop 1 m2 left count 1 count 1",
        "lmpop 1 str left",
        "lpush",
        "lpop",
        "rpush q a b c",
    ]);
    p.cmp_digest();
}

#[test]
fn sets_basic() {
    let Some(mut p) = Pair::new() else { return };
    p.script(&[
        "sadd i 3 1 2 -5 100",
        "sadd i 2 7",
        "smembers i",
        "object encoding i",
        "sadd s a b c",
        "object encoding s",
        "sadd i x",
        "object encoding i",
        "sadd j 01 1",
        "object encoding j",
        "scard i",
        "scard nokey",
        "sismember i 3",
        "sismember i 4",
        "sismember nokey 4",
        "smismember i 3 4 x",
        "smismember nokey a b",
        "srem i 3 4 x",
        "scard i",
        "sadd n1 1 2 3 4 5",
        "sadd n2 4 5 6",
        "sadd n3 5 6 7",
        "sinter n1 n2",
        "sinter n1 n2 n3",
        "sinter n1 nokey",
        "sintercard 2 n1 n2",
        "sintercard 2 n1 n2 limit 1",
        "sintercard 3 n1 n2 nokey",
        "sintercard 0 n1",
        "sintercard 5 n1",
        "sintercard 1 n1 limit -1",
        "sintercard 1 n1 foo",
        "sunion n1 n2 n3",
        "sunion n1 nokey",
        "sdiff n1 n2 n3",
        "sdiff nokey n1",
        "sinterstore d1 n1 n2",
        "smembers d1",
        "object encoding d1",
        "sunionstore d2 n1 n2 n3",
        "smembers d2",
        "sdiffstore d3 n1 n2",
        "smembers d3",
        "sinterstore d3 n1 nokey",
        "exists d3",
        "set str x",
        "sadd str a",
        "smembers str",
        "sinter n1 str",
        "sunion n1 str",
        "sdiff n1 str",
        "sinterstore d4 nokey str",
        "sintercard 1 str",
        "sinterstore str n1 n2",
        "type str",
        "smove n1 n9 1",
        "smove n1 n9 1",
        "smove nokey n9 1",
        "smove n1 n1 2",
        "smove n1 n1 99",
        "set str2 x",
        "smove n1 str2 2",
        "smove str2 n1 2",
        "smove nokey str2 2",
        "smembers n9",
        "sadd one only",
        "smove one n9 only",
        "exists one",
        "spop nokey",
        "spop nokey 3",
        "spop n9 0",
        "spop n9 -1",
        "spop n9 1 2",
        "srandmember nokey",
        "srandmember nokey 3",
        "srandmember n9 0",
        "srandmember n9 1 2",
        "srandmember n9 x",
        "sscan n1 0",
        "sscan n1 0 match 4*",
        "sscan n1 0 count 0",
        "srem n2 4 5 6",
        "exists n2",
        "sadd",
    ]);
    p.cmp_unordered(&["smembers", "s"]);
    p.cmp_unordered(&["srandmember", "s", "10"]);
    p.cmp_unordered(&["spop", "d2", "100"]);
    p.cmp(&["exists", "d2"]);
    let (a, _) = p.both(&["srandmember", "s", "-7"]);
    assert_eq!(a.matches("bulk-string").count(), 7, "{a}");
    let (a, _) = p.both(&["spop", "s", "2"]);
    assert_eq!(a.matches("bulk-string").count(), 2, "{a}");
    p.cmp(&["scard", "s"]);
    p.both(&["spop", "s", "5"]);
    p.cmp(&["exists", "s"]);
    for i in 0..600 {
        p.both(&["sadd", "big", &i.to_string()]);
        if i == 511 {
            p.cmp(&["object", "encoding", "big"]);
        }
    }
    p.cmp(&["object", "encoding", "big"]);
    p.cmp(&["scard", "big"]);
    p.cmp_unordered(&["smembers", "big"]);
    p.cmp_digest();
}

#[test]
fn zsets_basic() {
    let Some(mut p) = Pair::new() else { return };
    p.script(&[
        "zadd z 1 a 2 b 3 c",
        "zadd z 1.5 d -1 e 2 f",
        "zrange z 0 -1 withscores",
        "object encoding z",
        "zadd z nx 10 a 10 g",
        "zadd z xx 20 a 20 h",
        "zadd z xx ch 21 a 21 h",
        "zadd z gt ch 5 a 30 b",
        "zadd z lt ch 5 a 30 c",
        "zadd z incr 2.5 a",
        "zadd z incr nx 2.5 a",
        "zadd z incr gt -1 a",
        "zadd z nx xx 1 a",
        "zadd z gt lt 1 a",
        "zadd z nx gt 1 a",
        "zadd z incr 1 a 2 b",
        "zadd z 1 a 2",
        "zadd z",
        "zadd z x a",
        "zadd z nan a",
        "zadd z 1e400 a",
        "zadd z 1e-400 a",
        "zadd z 0e5 zero",
        "zadd z 0x10 a",
        "zadd z 1e308 big",
        "zrange z 0 -1 withscores",
        "zrem z zero big",
        "zrangebyscore z 1e400 +inf",
        "zadd z 1.1 x1 0.1 x2 1e20 x3 -inf x4 +inf x5",
        "zrange z 0 -1 withscores",
        "zadd nokey xx 1 a",
        "exists nokey",
        "zadd nokey xx incr 1 a",
        "zadd z incr inf x5",
        "zadd z incr -inf x5",
        "zincrby z -inf x5",
        "zincrby z 1 newm",
        "zincrby z 0.1 x2",
        "zincrby z abc x2",
        "zincrby nz 5 m",
        "zcard z",
        "zcard nokey",
        "zscore z a",
        "zscore z zz",
        "zscore nokey a",
        "zmscore z a zz x3",
        "zmscore nokey a b",
        "zrank z a",
        "zrevrank z a",
        "zrank z zz",
        "zrank nokey a",
        "zrange z 2 4",
        "zrange z -3 -1",
        "zrange z 5 2",
        "zrange z 0 -1 rev withscores",
        "zrange z 1 3 rev",
        "zrange z -inf +inf byscore",
        "zrange z (1 3 byscore withscores",
        "zrange z 3 (1 byscore rev withscores",
        "zrange z -inf +inf byscore limit 1 3",
        "zrange z -inf +inf byscore limit 1 -1",
        "zrange z -inf +inf byscore limit -1 3",
        "zrange z -inf +inf byscore limit 0 0",
        "zrange z +inf -inf byscore rev limit 2 2 withscores",
        "zrange z 0 1 limit 0 1",
        "zrange z - + bylex withscores",
        "zrange z x 1 byscore",
        "zrange z a b bylex",
        "zrange z 0 1 foo",
        "zrange z 0 1 byscore bylex",
        "zrange z x y",
        "zrange nokey 0 -1",
        "zrangebyscore z 1 3",
        "zrangebyscore z (1 (3 withscores",
        "zrangebyscore z -inf inf limit 2 3",
        "zrangebyscore z 1 3 byscore",
        "zrevrangebyscore z 3 1",
        "zrevrangebyscore z +inf -inf withscores limit 1 2",
        "zrevrange z 0 2",
        "zrevrange z 0 2 withscores",
        "zcount z 1 3",
        "zcount z (1 (3",
        "zcount z -inf +inf",
        "zcount z x 1",
        "zcount nokey 1 2",
        "zadd lex 0 a 0 b 0 c 0 d 0 e 0 f",
        "zrangebylex lex - +",
        "zrangebylex lex [b (e",
        "zrangebylex lex (b [e limit 1 2",
        "zrevrangebylex lex + -",
        "zrevrangebylex lex [e (b",
        "zrangebylex lex b e",
        "zrangebylex lex - + withscores",
        "zlexcount lex - +",
        "zlexcount lex [b [d",
        "zlexcount lex (b (d",
        "zlexcount lex b d",
        "zremrangebylex lex [b (d",
        "zrange lex 0 -1",
        "zremrangebylex lex x y",
        "zpopmin z",
        "zpopmax z",
        "zpopmin z 2",
        "zpopmax z 2",
        "zpopmin z 0",
        "zpopmin z -1",
        "zpopmin z 1 2",
        "zpopmin nokey",
        "zpopmin nokey 2",
        "zremrangebyrank z 0 1",
        "zremrangebyrank z -1 -1",
        "zremrangebyrank z x 1",
        "zremrangebyscore z (1 3",
        "zremrangebyscore z x 1",
        "zrange z 0 -1 withscores",
        "zrem z a zz",
        "zrem nokey a",
        "set str x",
        "zadd str 1 a",
        "zscore str a",
        "zrange str 0 1",
        "zrangebyscore str 0 1",
        "zcard str",
        "zrem str a",
        "zpopmin str",
        "zpopmin str 0",
        "zremrangebyrank str 0 1",
        "zrank str a",
        "zadd one 1 a",
        "zpopmin one 5",
        "exists one",
        "zadd one 1 a 2 b",
        "zremrangebyscore one -inf +inf",
        "exists one",
        "zadd negz -0 a",
        "zscore negz a",
        "zadd negz 0 a",
        "zscore negz a",
    ]);
    p.cmp_digest();
}

#[test]
fn zsets_encoding_and_large() {
    let Some(mut p) = Pair::new() else { return };
    let long = "m".repeat(65);
    p.cmp(&["zadd", "z1", "1", &long]);
    p.cmp(&["object", "encoding", "z1"]);
    p.cmp(&["zadd", "z2", "1", "a"]);
    p.cmp(&["zadd", "z2", "2", &long]);
    p.cmp(&["object", "encoding", "z2"]);
    for i in 0..300 {
        p.both(&[
            "zadd",
            "big",
            &((i * 37) % 101).to_string(),
            &format!("m{i}"),
        ]);
        if i == 127 || i == 128 {
            p.cmp(&["object", "encoding", "big"]);
        }
    }
    p.cmp(&["zrange", "big", "0", "-1", "withscores"]);
    p.cmp(&["zrange", "big", "10", "50", "rev"]);
    p.cmp(&["zrangebyscore", "big", "(10", "20", "limit", "3", "7"]);
    p.cmp(&["zrank", "big", "m77"]);
    p.cmp(&["zrevrank", "big", "m77"]);
    p.cmp(&["zcount", "big", "5", "(60"]);
    p.cmp(&["zremrangebyrank", "big", "100", "150"]);
    p.cmp(&["zremrangebyscore", "big", "90", "95"]);
    p.cmp(&["zrange", "big", "0", "-1", "withscores"]);
    p.cmp(&["zpopmin", "big", "3"]);
    p.cmp(&["zpopmax", "big", "3"]);
    p.cmp_digest();
}

#[test]
fn zsets_setops() {
    let Some(mut p) = Pair::new() else { return };
    p.script(&[
        "zadd a 1 x 2 y 3 z",
        "zadd b 10 y 20 z 30 w",
        "sadd s y w q",
        "zunion 2 a b",
        "zunion 2 a b withscores",
        "zunion 3 a b s withscores",
        "zunion 2 a b weights 2 3 withscores",
        "zunion 2 a b aggregate min withscores",
        "zunion 2 a b aggregate max withscores",
        "zunion 2 a b aggregate foo",
        "zunion 2 a b weights 1 x",
        "zunion 0 a",
        "zunion 3 a b",
        "zunion 2 a nokey withscores",
        "zinter 2 a b withscores",
        "zinter 3 a b s withscores",
        "zinter 2 a nokey",
        "zinter 2 a b weights 1 -1 aggregate max withscores",
        "zdiff 2 a b withscores",
        "zdiff 2 b s withscores",
        "zdiff 2 a b weights 1 1",
        "zdiff 1 nokey",
        "zunionstore d1 2 a b",
        "zrange d1 0 -1 withscores",
        "object encoding d1",
        "zinterstore d2 2 a b aggregate min",
        "zrange d2 0 -1 withscores",
        "zdiffstore d3 2 a b",
        "zrange d3 0 -1 withscores",
        "zinterstore d3 2 a nokey",
        "exists d3",
        "zunionstore d4 2 a b withscores",
        "zunionstore d4 0 a",
        "zintercard 2 a b",
        "zintercard 2 a b limit 1",
        "zintercard 2 a b limit -1",
        "zintercard 0 a",
        "zintercard 2 a b weights 1 2",
        "set str v",
        "zunion 2 a str",
        "zinterstore d5 2 a str",
        "zunion 2 a b withscores x",
        "zrangestore r1 a 0 1",
        "zrange r1 0 -1 withscores",
        "zrangestore r1 b 15 +inf byscore",
        "zrange r1 0 -1 withscores",
        "zrangestore r1 b +inf 15 byscore rev limit 0 1",
        "zrange r1 0 -1 withscores",
        "zrangestore r1 b 0 1 withscores",
        "zrangestore r1 nokey 0 1",
        "exists r1",
        "zrangestore r2 a 5 10",
        "zrangestore r2 str 0 1",
        "zscan a 0",
        "zscan a 0 match y",
        "zscan nokey 0",
        "zrandmember nokey",
        "zrandmember nokey 5",
        "zrandmember a 0",
        "zrandmember a 1 withscore",
        "zrandmember str",
        "zmpop 1 nokey min",
        "zmpop 2 nokey a min",
        "zmpop 2 nokey b max count 2",
        "zmpop 1 b max count 2",
        "exists b",
        "zmpop 0 a min",
        "zmpop 1 a middle",
        "zmpop 1 a min count 0",
        "zmpop 1 str min",
    ]);
    p.cmp_unordered(&["zrandmember", "a", "10"]);
    p.cmp_unordered(&["zrandmember", "a", "10", "withscores"]);
    let (a, _) = p.both(&["zrandmember", "a", "-5", "withscores"]);
    assert_eq!(a.matches("bulk-string").count(), 10, "{a}");
    p.cmp_digest();
}

#[test]
fn resp3_replies() {
    let Some(mut p) = Pair::new() else { return };
    p.both(&["hello", "3"]);
    p.script(&[
        "hset h a 1 b 2",
        "hgetall h",
        "hrandfield nokey 5 withvalues",
        "hget nokey a",
        "sadd s 1 2 3",
        "smembers s",
        "sinter s",
        "sunion s",
        "sdiff s",
        "spop nokey 2",
        "srandmember nokey 2",
        "rpush l a b",
        "lpop nokey 2",
        "lpop nokey",
        "lmpop 1 nokey left",
        "zadd z 1 a 2.5 b",
        "zscore z b",
        "zmscore z a zz",
        "zincrby z 1 a",
        "zadd z incr 1 a",
        "zrange z 0 -1 withscores",
        "zrangebyscore z -inf +inf withscores",
        "zunion 1 z withscores",
        "zpopmin z",
        "zpopmax z 1",
        "zadd z 1 a 2 b",
        "zmpop 1 z min count 2",
        "zadd z 1 a 2 b",
        "zscan z 0",
    ]);
    p.cmp_unordered(&["zrandmember", "z", "5", "withscores"]);
    p.cmp_unordered(&["hrandfield", "h", "5", "withvalues"]);
    p.cmp_unordered(&["srandmember", "s", "10"]);
    let (a, b) = p.both(&["srandmember", "s", "-1"]);
    assert_eq!(a.split('(').next(), b.split('(').next());
    p.cmp_unordered(&["spop", "s", "10"]);
    p.script(&["sadd s2 a b c d e f g"]);
    let (a, b) = p.both(&["srandmember", "s2", "2"]);
    assert_eq!(a.split('(').next(), b.split('(').next());
    let (a, b) = p.both(&["spop", "s2", "2"]);
    assert_eq!(a.split('(').next(), b.split('(').next());
    let (a, b) = p.both(&["zrandmember", "z", "1"]);
    assert_eq!(a.split('(').next(), b.split('(').next());
}

fn port_of(s: &Server) -> u16 {
    s.con_port
}

/// Polls INFO until `blocked_clients` equals `n` (10 s at most).
fn wait_blocked(port: u16, n: usize) {
    let url = format!("redis://127.0.0.1:{port}/");
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = redis::cmd("info").arg("clients").query(&mut con).unwrap();
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

/// Runs `blocking` on a fresh connection to the server listening on `port`, runs `push` on
/// another after 150 ms, and returns the blocking command's reply.
fn block_then_push(port: u16, blocking: &[&str], push: &[&str]) -> String {
    let url = format!("redis://127.0.0.1:{port}/");
    let blocking: Vec<String> = blocking.iter().map(|s| s.to_string()).collect();
    let url2 = url.clone();
    let h = std::thread::spawn(move || {
        let mut con = redis::Client::open(url2.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let mut c = redis::cmd(&blocking[0]);
        for a in &blocking[1..] {
            c.arg(a);
        }
        normalize(c.query::<redis::Value>(&mut con))
    });
    std::thread::sleep(Duration::from_millis(150));
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let mut c = redis::cmd(push[0]);
    for a in &push[1..] {
        c.arg(*a);
    }
    let _ = c.query::<redis::Value>(&mut con);
    h.join().unwrap()
}

#[test]
fn blocking_commands() {
    let Some(mut p) = Pair::new() else { return };
    p.script(&[
        "blpop l1 l2 0.05",
        "brpop l1 0.01",
        "blpop l1 -1",
        "blpop l1 abc",
        "rpush l2 a b c",
        "blpop l1 l2 1",
        "brpop l1 l2 1",
        "blmove l2 l3 left right 1",
        "brpoplpush l2 l3 1",
        "brpoplpush nokey l3 0.01",
        "blmove nokey l3 left right 0.01",
        "blmove l3 l4 up left 1",
        "blmpop 0.01 1 nokey left",
        "blmpop 1 2 nokey l3 right count 5",
        "blmpop 1 0 nokey left",
        "zadd z 1 a 2 b 3 c",
        "bzpopmin nokey z 1",
        "bzpopmax nokey z 1",
        "bzpopmin nokey 0.01",
        "bzmpop 1 1 z min count 3",
        "bzmpop 0.01 1 z min",
        "set str x",
        "blpop str 1",
        "bzpopmin str 1",
        "multi",
        "blpop nokey 0",
        "bzpopmin nokey 0",
        "exec",
    ]);
    p.cmp_digest();
    let ours = port_of(&p.ours);
    let real = port_of(&p.real);
    for (blocking, push) in [
        (
            &["blpop", "q1", "q2", "5"][..],
            &["rpush", "q2", "x", "y"][..],
        ),
        (&["brpop", "q1", "5"][..], &["lpush", "q1", "z"][..]),
        (
            &["blmove", "q3", "q4", "left", "left", "5"][..],
            &["rpush", "q3", "m"][..],
        ),
        (
            &["blmpop", "5", "2", "q5", "q6", "right", "count", "2"][..],
            &["rpush", "q6", "1", "2", "3"][..],
        ),
        (&["bzpopmin", "zz", "5"][..], &["zadd", "zz", "1", "a"][..]),
        (
            &["bzmpop", "5", "1", "zz2", "max", "count", "2"][..],
            &["zadd", "zz2", "1", "a", "2", "b"][..],
        ),
    ] {
        let a = block_then_push(ours, blocking, push);
        let b = block_then_push(real, blocking, push);
        eprintln!("{blocking:?} -> {a}");
        assert_eq!(a, b, "{blocking:?}");
        assert!(!a.contains("nil"), "{a}");
    }
    p.cmp_digest();
}

#[test]
fn spop_drains_large_set() {
    let Some(mut p) = Pair::new() else { return };
    let members: Vec<String> = (0..3000).map(|i| format!("m{i}")).collect();
    let mut c = redis::cmd("sadd");
    c.arg("big");
    for m in &members {
        c.arg(m);
    }
    let _: i64 = c.query(&mut p.ours.con).unwrap();
    let mut seen = std::collections::HashSet::new();
    let start = Instant::now();
    loop {
        let v: Option<String> = redis::cmd("spop")
            .arg("big")
            .query(&mut p.ours.con)
            .unwrap();
        match v {
            Some(m) => assert!(seen.insert(m)),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3000);
    assert!(start.elapsed() < Duration::from_secs(20));
    let n: i64 = redis::cmd("exists")
        .arg("big")
        .query(&mut p.ours.con)
        .unwrap();
    assert_eq!(n, 0);
    let _: i64 = c.query(&mut p.ours.con).unwrap();
    let v: Vec<String> = redis::cmd("srandmember")
        .arg("big")
        .arg(10)
        .query(&mut p.ours.con)
        .unwrap();
    assert_eq!(v.iter().collect::<std::collections::HashSet<_>>().len(), 10);
    let v: Vec<String> = redis::cmd("spop")
        .arg("big")
        .arg(2990)
        .query(&mut p.ours.con)
        .unwrap();
    assert_eq!(
        v.iter().collect::<std::collections::HashSet<_>>().len(),
        2990
    );
    let n: i64 = redis::cmd("scard")
        .arg("big")
        .query(&mut p.ours.con)
        .unwrap();
    assert_eq!(n, 10);
}

#[test]
fn blocked_client_disconnect_does_not_steal() {
    let Some(mut p) = Pair::new() else { return };
    let port = port_of(&p.ours);
    let h = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        use std::io::Write;
        s.write_all(b"*3\r\n$5\r\nBLPOP\r\n$2\r\nbq\r\n$1\r\n0\r\n")
            .unwrap();
        wait_blocked(port, 1);
        drop(s);
    });
    h.join().unwrap();
    wait_blocked(port, 0);
    p.cmp(&["rpush", "bq", "x"]);
    std::thread::sleep(Duration::from_millis(100));
    let v: i64 = redis::cmd("llen").arg("bq").query(&mut p.ours.con).unwrap();
    assert_eq!(v, 1);
}

/// Runs a full *SCAN iteration on `con`, returning every item seen and the number of calls.
fn full_scan(con: &mut redis::Connection, cmd: &str, key: &str) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    let mut calls = 0;
    loop {
        let (next, items): (String, Vec<String>) = redis::cmd(cmd)
            .arg(key)
            .arg(&cursor)
            .arg("count")
            .arg(10)
            .query(con)
            .unwrap();
        calls += 1;
        all.extend(items);
        if next == "0" {
            return (all, calls);
        }
        cursor = next;
    }
}

#[test]
fn scan_large_collections() {
    let Some(mut p) = Pair::new() else { return };
    for i in 0..1000 {
        p.both(&["sadd", "s", &format!("m{i}")]);
        p.both(&["hset", "h", &format!("f{i}"), &i.to_string()]);
    }
    let (items, calls) = full_scan(&mut p.ours.con, "sscan", "s");
    assert!(calls > 1);
    let set: std::collections::HashSet<_> = items.iter().cloned().collect();
    assert_eq!(set.len(), 1000);
    let (items, calls) = full_scan(&mut p.ours.con, "hscan", "h");
    assert!(calls > 1);
    let map: std::collections::HashMap<_, _> = items
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    assert_eq!(map.len(), 1000);
    assert_eq!(map["f77"], "77");
    p.cmp_digest();
}

/// Random command sequences (deterministic commands only) against both servers.
#[test]
fn differential_fuzz() {
    let Some(mut p) = Pair::new() else { return };
    let mut rng: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x2545F4914F6CDD1D);
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let keys = ["k1", "k2", "k3"];
    let long = "v".repeat(70);
    let vals = ["a", "b", "c", "1", "2", "-3", "10", "x y", "", &long];
    let idx = ["0", "1", "-1", "2", "-2", "5", "-10"];
    let scores = ["0", "1", "1.5", "-2", "inf", "-inf", "3", "(1", "(2"];
    let templates: &[&str] = &[
        "lpush K V V",
        "rpush K V",
        "lpop K",
        "rpop K I",
        "lrange K I I",
        "lindex K I",
        "lset K I V",
        "linsert K before V V",
        "linsert K after V V",
        "lrem K I V",
        "ltrim K I I",
        "lpos K V",
        "lpos K V rank I count 0",
        "lmove K K left right",
        "rpoplpush K K",
        "llen K",
        "lmpop 2 K K right count 2",
        "hset K V V V V",
        "hget K V",
        "hdel K V V",
        "hincrby K V I",
        "hgetall K",
        "hlen K",
        "hmget K V V",
        "hsetnx K V V",
        "hexists K V",
        "hstrlen K V",
        "hkeys K",
        "hvals K",
        "sadd K V V V",
        "srem K V",
        "scard K",
        "sismember K V",
        "smismember K V V",
        "smove K K V",
        "sinterstore K K K",
        "sunionstore K K K",
        "sdiffstore K K K",
        "sintercard 2 K K",
        "zadd K S V S V",
        "zadd K nx S V",
        "zadd K xx ch S V",
        "zadd K gt S V",
        "zadd K lt ch S V",
        "zincrby K S V",
        "zrem K V",
        "zcard K",
        "zscore K V",
        "zrank K V",
        "zrevrank K V",
        "zrange K I I withscores",
        "zrange K S S byscore withscores",
        "zrange K S S byscore rev limit 1 2",
        "zrangebyscore K S S",
        "zrevrangebyscore K S S withscores",
        "zcount K S S",
        "zpopmin K I",
        "zpopmax K",
        "zremrangebyrank K I I",
        "zremrangebyscore K S S",
        "zunionstore K 2 K K",
        "zinterstore K 2 K K weights 2 3",
        "zdiffstore K 2 K K",
        "zrangestore K K I I",
        "zmscore K V V",
        "zrangebylex K - +",
        "zlexcount K - +",
        "type K",
        "exists K",
        "del K",
        "set K V",
    ];
    // At least 100,000 commands by default (FUZZ_STEPS overrides).
    let steps: usize = std::env::var("FUZZ_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    for step in 0..steps {
        let t = templates[next(templates.len() as u64) as usize];
        let args: Vec<String> = t
            .split(' ')
            .map(|w| match w {
                "K" => {
                    // Mostly keys of the command's own type, sometimes a shared one.
                    let prefix = match t.as_bytes()[0] {
                        _ if next(10) == 0 => "",
                        b'l' | b'r' => "l",
                        b'h' => "h",
                        b's' if !t.starts_with("set ") => "s",
                        b'z' => "z",
                        _ => "",
                    };
                    format!("{prefix}{}", keys[next(keys.len() as u64) as usize])
                }
                "V" => vals[next(vals.len() as u64) as usize].to_string(),
                "I" => idx[next(idx.len() as u64) as usize].to_string(),
                "S" => scores[next(scores.len() as u64) as usize].to_string(),
                other => other.to_string(),
            })
            .collect();
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let sortable = matches!(refs[0], "hgetall" | "hkeys" | "hvals");
        if sortable {
            p.cmp_unordered(&refs);
        } else {
            p.cmp(&refs);
        }
        if step % 250 == 0 {
            p.cmp_digest();
        }
    }
    p.cmp_digest();
}

/// WATCH is invalidated exactly when Redis would signal the key as modified.
#[test]
fn watch_invalidation_matches() {
    let Some(mut p) = Pair::new() else { return };
    let cases: &[(&str, &str)] = &[
        ("rpush w a b", "lpush w c"),
        ("rpush w a b", "lrem w 0 zz"),
        ("rpush w a b", "lrem w 0 a"),
        ("rpush w a b", "ltrim w 0 -1"),
        ("rpush w a b", "lset w 0 a"),
        ("rpush w a b", "lpos w a"),
        ("rpush w a b", "linsert w before zz x"),
        ("rpush w a", "lmove w w left right"),
        ("hset w a 1", "hset w a 1"),
        ("hset w a 1", "hsetnx w a 2"),
        ("hset w a 1", "hdel w zz"),
        ("hset w a 1", "hincrby w a 0"),
        ("sadd w a", "sadd w a"),
        ("sadd w a", "srem w zz"),
        ("sadd w a", "smove w other zz"),
        ("sadd w a", "sinterstore w w"),
        ("sadd w a", "spop w 0"),
        ("zadd w 1 a", "zadd w 1 a"),
        ("zadd w 1 a", "zadd w 2 a"),
        ("zadd w 1 a", "zincrby w 0 a"),
        ("zadd w 1 a", "zrem w zz"),
        ("zadd w 1 a", "zremrangebyscore w 5 6"),
        ("zadd w 1 a", "zunionstore w 1 w"),
        ("zadd w 1 a", "zpopmin w 0"),
    ];
    let ports = [port_of(&p.ours), port_of(&p.real)];
    for (setup, cmd) in cases {
        let mut results = Vec::new();
        for port in ports {
            let url = format!("redis://127.0.0.1:{port}/");
            let mut a = redis::Client::open(url.as_str())
                .unwrap()
                .get_connection()
                .unwrap();
            let mut b = redis::Client::open(url.as_str())
                .unwrap()
                .get_connection()
                .unwrap();
            let run = |con: &mut redis::Connection, line: &str| {
                let mut c = redis::cmd(line.split(' ').next().unwrap());
                for w in line.split(' ').skip(1) {
                    c.arg(w);
                }
                normalize(c.query::<redis::Value>(con))
            };
            run(&mut a, "flushall");
            run(&mut a, setup);
            run(&mut a, "watch w");
            run(&mut b, cmd);
            run(&mut a, "multi");
            run(&mut a, "ping");
            results.push(run(&mut a, "exec"));
        }
        assert_eq!(results[0], results[1], "{setup} / {cmd}");
    }
    let _ = &mut p;
}

/// Two clients blocked on the same key are served in the order they blocked.
#[test]
fn blocked_clients_served_in_order() {
    let Some(p) = Pair::new() else { return };
    for port in [port_of(&p.ours), port_of(&p.real)] {
        let url = format!("redis://127.0.0.1:{port}/");
        let spawn = |delay: u64| {
            let url = url.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(delay));
                let mut con = redis::Client::open(url.as_str())
                    .unwrap()
                    .get_connection()
                    .unwrap();
                let v: Vec<String> = redis::cmd("blpop")
                    .arg("fifo")
                    .arg(5)
                    .query(&mut con)
                    .unwrap();
                v[1].clone()
            })
        };
        let first = spawn(0);
        wait_blocked(port, 1);
        let second = spawn(0);
        wait_blocked(port, 2);
        let mut con = redis::Client::open(url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let _: i64 = redis::cmd("rpush")
            .arg("fifo")
            .arg("one")
            .query(&mut con)
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let _: i64 = redis::cmd("rpush")
            .arg("fifo")
            .arg("two")
            .query(&mut con)
            .unwrap();
        assert_eq!(first.join().unwrap(), "one", "port {port}");
        assert_eq!(second.join().unwrap(), "two", "port {port}");
        let _: i64 = redis::cmd("rpush")
            .arg("fifo")
            .arg("a")
            .arg("b")
            .query(&mut con)
            .unwrap();
        let _: () = redis::cmd("del").arg("fifo").query(&mut con).unwrap_or(());
    }
}

#[test]
fn edge_cases() {
    let Some(mut p) = Pair::new() else { return };
    p.script(&[
        "rpush l a b c",
        "sadd s a b c",
        "hset h a 1",
        "zadd z 1 a 2 b",
        "lpos l a rank -9223372036854775808",
        "lpos l a rank 9223372036854775807",
        "lpos l a count 9223372036854775807",
        "srandmember s -9223372036854775808",
        "hrandfield h -9223372036854775808 withvalues",
        "zrandmember z -9223372036854775808 withscores",
        "lrange l 0 9223372036854775807",
        "lrange l -9223372036854775808 9223372036854775807",
        "zrange z 0 -9223372036854775808",
        "zrange z -9223372036854775808 9223372036854775807",
        "ltrim l -9223372036854775808 9223372036854775807",
        "lindex l -9223372036854775808",
        "lrem l -9223372036854775808 zz",
        "blpop l2 1e100",
        "blpop l2 inf",
        "blpop l2 0x1p-3",
        "blpop l2 -0.5",
        "zadd z 1 a incr",
        "zadd z incr",
        "zadd z ch",
        "zrangebyscore z (a 1",
        "zrangebyscore z ( 1",
        "zrangebyscore z [1 2",
        "zrangebylex z [a",
        "zrangebylex z a [b",
        "zrangebylex z [a [b limit 0",
        "zrange z 0 1 limit",
        "zrange z 0 1 rev rev",
        "zrange z 0 1 byscore byscore",
        "zrange z (1 2 bylex",
        "sintercard 1 s limit 0",
        "sintercard 1 s limit",
        "zunionstore d 1 z weights",
        "zunionstore d 1 z weights 1 2",
        "zinterstore d 1 z aggregate",
        "zinterstore d 1 z aggregate sum aggregate max",
        "zunion 1 z withscores withscores",
        "spop s 0",
        "lpop l 0",
        "zpopmin z 0",
        "hincrby h a 9223372036854775807",
        "hincrby h a -9223372036854775808",
        "hincrby h a -9223372036854775808",
        "hincrbyfloat h b inf",
        "hset h f 1.5",
        "hincrby h f 1",
        "hset h f 10",
        "hincrbyfloat h f 0x10",
        "lmpop 1 l left count 9223372036854775807",
        "linsert l before a",
        "lset l 0",
        "smove s",
        "zscore z",
        "hmget h",
        "zadd z 1 a 2",
        "zincrby z 1",
        "zrangestore d z 0",
        "zmpop 1 z min count",
        "object encoding l",
        "object encoding nokey",
        "type s",
        "type z",
        "type h",
        "type l",
    ]);
    p.cmp_digest();
}

/// HINCRBYFLOAT adds in long double and prints like Redis, for big values too.
#[test]
fn hincrbyfloat_matches_redis_long_double() {
    let Some(mut p) = Pair::new() else { return };
    for (field, by) in [
        ("f", "1000"),
        ("f", "0.1"),
        ("g", "1e300"),
        ("f", "1.5e3"),
        ("f", "-2500.1"),
        ("f", "abc"),
        // 1e308 twice and 1e400 are finite long doubles (f64 would overflow to inf).
        ("big", "1e308"),
        ("big", "1e308"),
        ("huge", "1e400"),
        ("x", "inf"),
        ("x", "-inf"),
        ("huge", "1e5000"),
    ] {
        p.cmp(&["hincrbyfloat", "h", field, by]);
    }
    p.cmp(&["hset", "h", "word", "abc"]);
    // The increment is checked before the field's value.
    p.cmp(&["hincrbyfloat", "h", "word", "1e400"]);
    p.cmp(&["hincrbyfloat", "h", "word", "inf"]);
    p.cmp(&["hget", "h", "big"]);
    p.cmp(&["incrbyfloat", "s", "1e308"]);
    p.cmp(&["incrbyfloat", "s", "1e308"]);
    p.cmp(&["incrbyfloat", "s", "1e400"]);
    p.cmp_digest();
}

/// Integer arguments that Redis reads with getRangeLongFromObjectOrReply or
/// getPositiveLongFromObjectOrReply get its texts, for a non-integer too (the fuzzer's
/// former ALLOW_RANGE_TEXT entry).
#[test]
fn range_error_texts_match_redis() {
    let Some(mut p) = Pair::new() else { return };
    p.script(&[
        "rpush l a b c",
        "sadd s a b c",
        "zadd z 1 a 2 b",
        "set str x",
    ]);
    for bad in ["abc", "-1", "1.5", "-0", "18446744073709551615", ""] {
        for cmd in ["lpop", "rpop", "spop", "zpopmin", "zpopmax"] {
            for key in ["l", "s", "z", "str", "nokey"] {
                p.cmp(&[cmd, key, bad]);
            }
        }
        p.cmp(&["lpos", "l", "a", "count", bad]);
        p.cmp(&["lpos", "l", "a", "maxlen", bad]);
        p.cmp(&["sintercard", bad, "s"]);
        p.cmp(&["sintercard", "1", "s", "limit", bad]);
        p.cmp(&["zintercard", bad, "z"]);
        p.cmp(&["zintercard", "1", "z", "limit", bad]);
        p.cmp(&["lmpop", bad, "l", "left"]);
        p.cmp(&["lmpop", "1", "l", "left", "count", bad]);
        p.cmp(&["zmpop", bad, "z", "min"]);
        p.cmp(&["zmpop", "1", "z", "min", "count", bad]);
        p.cmp(&["blmpop", "0.01", bad, "l", "left"]);
        p.cmp(&["bzmpop", "0.01", "1", "z", "max", "count", bad]);
    }
    for db in ["2147483648", "-2147483649", "16", "-1", "x"] {
        p.cmp(&["select", db]);
        p.cmp(&["move", "str", db]);
        p.cmp(&["copy", "str", "dst", "db", db]);
    }
    p.cmp_digest();
}

/// Blocks `blocking` on a fresh connection to `port`, then sends CLIENT UNBLOCK for that
/// connection (with `how` when given) from another. Returns the UNBLOCK reply, the blocked
/// command's reply, the reply to a second UNBLOCK, and a PING on the unblocked connection.
fn unblock_case(
    port: u16,
    blocking: &[&str],
    how: Option<&str>,
) -> (String, String, String, String) {
    let url = format!("redis://127.0.0.1:{port}/");
    let connect = || {
        redis::Client::open(url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    };
    let mut con = connect();
    let id: i64 = redis::cmd("client").arg("id").query(&mut con).unwrap();
    let blocking: Vec<String> = blocking.iter().map(|s| s.to_string()).collect();
    let h = std::thread::spawn(move || {
        let start = Instant::now();
        let mut c = redis::cmd(&blocking[0]);
        for a in &blocking[1..] {
            c.arg(a);
        }
        let r = normalize(c.query::<redis::Value>(&mut con));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{blocking:?} was not unblocked"
        );
        let pong = normalize(redis::cmd("ping").query::<redis::Value>(&mut con));
        (r, pong)
    });
    wait_blocked(port, 1);
    let mut admin = connect();
    let mut c = redis::cmd("client");
    c.arg("unblock").arg(id);
    if let Some(how) = how {
        c.arg(how);
    }
    let first = normalize(c.query::<redis::Value>(&mut admin));
    let (reply, pong) = h.join().unwrap();
    let second = normalize(c.query::<redis::Value>(&mut admin));
    wait_blocked(port, 0);
    (first, reply, second, pong)
}

#[test]
fn client_unblock() {
    let Some(mut p) = Pair::new() else { return };
    let ours = port_of(&p.ours);
    let real = port_of(&p.real);
    for (blocking, how) in [
        (&["blpop", "ub1", "ub2", "10"][..], None),
        (&["brpop", "ub1", "10"][..], Some("timeout")),
        (&["blpop", "ub1", "0"][..], Some("ERROR")),
        (&["blmove", "ub1", "ub2", "left", "right", "10"][..], None),
        (&["brpoplpush", "ub1", "ub2", "0"][..], Some("error")),
        (
            &["blmpop", "10", "2", "ub1", "ub2", "left"][..],
            Some("TIMEOUT"),
        ),
        (&["bzpopmin", "ubz", "10"][..], None),
        (&["bzmpop", "0", "1", "ubz", "max"][..], Some("error")),
    ] {
        let a = unblock_case(ours, blocking, how);
        let b = unblock_case(real, blocking, how);
        eprintln!("{blocking:?} {how:?} -> {a:?}");
        assert_eq!(a, b, "{blocking:?} {how:?}");
        assert_eq!(a.0, "int(1)");
        assert_eq!(a.2, "int(0)");
        if how.is_some_and(|h| h.eq_ignore_ascii_case("error")) {
            assert!(a.1.contains("UNBLOCKED"), "{}", a.1);
        } else {
            assert!(!a.1.contains("ERROR"), "{}", a.1);
        }
    }
    // An unblocked client took nothing and left nothing behind: the next push stays, and
    // the next blocking command on that connection is served normally.
    p.cmp(&["rpush", "ub1", "x"]);
    p.cmp(&["llen", "ub1"]);
    p.cmp(&["lpop", "ub1"]);
    for port in [ours, real] {
        let r = block_then_push(port, &["blpop", "ub3", "5"], &["rpush", "ub3", "y"]);
        assert!(r.contains("ub3"), "{r}");
    }
    // Not blocked, unknown, self, and the argument errors.
    let id: i64 = redis::cmd("client")
        .arg("id")
        .query(&mut p.ours.con)
        .unwrap();
    let id_real: i64 = redis::cmd("client")
        .arg("id")
        .query(&mut p.real.con)
        .unwrap();
    assert_eq!(
        query(&mut p.ours, &["client", "unblock", &id.to_string()]),
        query(&mut p.real, &["client", "unblock", &id_real.to_string()])
    );
    p.script(&[
        "client unblock 987654",
        "client unblock -1",
        "client unblock 987654 error",
        "client unblock 1 foo",
        "client unblock abc",
        "client unblock abc foo",
        "client unblock",
        "client unblock 1 timeout extra",
    ]);
    p.cmp_digest();
}

/// A score of -0: a listpack stores it as 0, a skiplist keeps -0 (replies, DEBUG DIGEST,
/// DEBUG RELOAD), ZINCRBY/ZADD INCR reply the sum, ZUNION replies -0 sums, and the *STORE
/// commands keep it by the destination's encoding, as redis-server does (the fuzzer's
/// former ALLOW_MINUS_ZERO and DIVERGE_MINUS_ZERO_SCORE entries).
#[test]
fn minus_zero_scores_match_redis() {
    let Some(mut p) = Pair::new() else { return };
    let long = "x".repeat(70);
    let lines: Vec<Vec<&str>> = vec![
        vec!["zadd", "a", "-0", "m"],
        vec!["zadd", "a", "1", "x"],
        vec!["zadd", "a", "-0", "x"],
        vec!["zincrby", "e", "-0", "m"],
        vec!["zadd", "in", "incr", "-0", "m"],
        vec!["zadd", "s", "1", &long],
        vec!["zadd", "s", "-0", "m", "0", "n"],
        vec!["zadd", "s", "-0", "n"],
        vec!["zincrby", "s", "-0", "p"],
        vec!["zadd", "s", "3", "q"],
        vec!["zincrby", "s", "-3", "q"],
        vec!["zadd", "s2", "-0", &long],
        vec!["zadd", "s3", "1", "y", "1", &long],
        vec!["zadd", "s3", "-0", "y"],
        vec!["zadd", "u", "0", "a", "0", &long],
        vec!["zadd", "w", "0", "a", "1", "b"],
        vec!["zunionstore", "v", "1", "u", "weights", "-1"],
        vec!["zunionstore", "v2", "1", "w", "weights", "-1"],
        vec!["zunionstore", "v5", "2", "u", "u", "weights", "-1", "-1"],
        vec!["zinterstore", "v4", "2", "u", "u", "weights", "-1", "1"],
        vec!["zunion", "1", "w", "weights", "-1", "withscores"],
        // MIN/MAX keep the value held on a tie of 0 and -0.
        vec![
            "zunionstore",
            "m1",
            "2",
            "u",
            "u",
            "weights",
            "-1",
            "1",
            "aggregate",
            "min",
        ],
        vec![
            "zunionstore",
            "m2",
            "2",
            "u",
            "u",
            "weights",
            "1",
            "-1",
            "aggregate",
            "max",
        ],
        vec![
            "zunion",
            "2",
            "u",
            "w",
            "weights",
            "-1",
            "1",
            "aggregate",
            "max",
            "withscores",
        ],
        vec![
            "zinter",
            "2",
            "u",
            "w",
            "weights",
            "1",
            "-1",
            "aggregate",
            "min",
            "withscores",
        ],
        vec!["zinter", "1", "u", "weights", "-1", "withscores"],
        vec!["zrangestore", "d1", "s", "0", "-1"],
        vec!["zrangestore", "d2", "s", "-inf", "+inf", "byscore"],
        vec!["zadd", "t", "-1", &long, "-0", "m"],
        vec!["zrangestore", "d3", "t", "0", "-1"],
        vec!["zrangestore", "d4", "t", "[a", "+", "bylex"],
    ];
    for l in &lines {
        p.cmp(l);
    }
    let keys = [
        "a", "e", "in", "s", "s2", "s3", "v", "v2", "v4", "v5", "m1", "m2", "d1", "d2", "d3", "d4",
    ];
    let check = |p: &mut Pair| {
        for k in keys {
            p.cmp(&["zrange", k, "0", "-1", "withscores"]);
            p.cmp(&["object", "encoding", k]);
        }
        p.cmp_digest();
    };
    check(&mut p);
    p.cmp(&["debug", "reload"]);
    check(&mut p);
}

/// ZADD on a new key starts a listpack unless its first member is too long (Redis 7.0's
/// zaddGenericCommand looks at the first member only) and converts when a later member breaks
/// a limit, so the members written before keep a -0 score as the listpack wrote it: 0. The
/// fuzzer's last -0 path (seed 1, first seen at ZMPOP: `-0` here, `0` in redis-server).
#[test]
fn zadd_on_a_new_key_converts_member_by_member_like_redis() {
    let Some(mut p) = Pair::new() else { return };
    let long = "x".repeat(70);
    let mut many: Vec<String> = ["zadd", "n2", "-0", "a"].map(String::from).to_vec();
    for i in 1..=200 {
        many.push(i.to_string());
        many.push(format!("m{i}"));
    }
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    p.cmp(&["zadd", "n1", "-0", "a", "1", &long]);
    p.cmp(&many);
    p.cmp(&["zadd", "n3", "-0", &long, "-0", "a"]);
    p.cmp(&["zadd", "n4", "nx", "-0", "a", "-0", "b", "2", &long]);
    p.cmp(&["zincrby", "n5", "-0", "a"]);
    p.cmp(&["zadd", "n5", "-0", "b", "1", &long]);
    let keys = ["n1", "n2", "n3", "n4", "n5"];
    for k in keys {
        p.cmp(&["object", "encoding", k]);
        p.cmp(&["zscore", k, "a"]);
        p.cmp(&["zrange", k, "0", "2", "withscores"]);
    }
    p.cmp_digest();
    for k in keys {
        p.cmp(&["zmpop", "1", k, "min", "count", "2"]);
    }
    p.cmp_digest();
}

/// GEOADD on a new key runs ZADD's path (Redis's geoaddCommand calls zaddCommand): a listpack
/// unless the first member is too long, converted member by member. redrepl used to decide
/// from all the triples up front: 200 triples naming one member made a skiplist.
#[test]
fn geoadd_on_a_new_key_converts_member_by_member_like_redis() {
    let Some(mut p) = Pair::new() else { return };
    let long = "x".repeat(70);
    let mut same: Vec<String> = ["geoadd", "g1"].map(String::from).to_vec();
    for i in 0..200 {
        same.extend([format!("1.{i}"), "2".into(), "one".into()]);
    }
    let same: Vec<&str> = same.iter().map(String::as_str).collect();
    p.cmp(&same);
    p.cmp(&["geoadd", "g2", "1", "1", "a", "2", "2", &long]);
    p.cmp(&["geoadd", "g3", "1", "1", &long, "2", "2", "b"]);
    p.cmp(&["geoadd", "g4", "nx", "ch", "1", "1", "a", "1", "1", "a"]);
    p.cmp(&["geoadd", "g5", "xx", "1", "1", "a"]);
    p.cmp(&["geoadd", "g4", "xx", "ch", "1", "1", &long, "3", "3", "a"]);
    for k in ["g1", "g2", "g3", "g4", "g5"] {
        p.cmp(&["object", "encoding", k]);
        p.cmp(&["zrange", k, "0", "-1", "withscores"]);
    }
    p.cmp_digest();
}
