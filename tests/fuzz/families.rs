//! Argument values for the families whose arguments are not plain numbers, floats or keys:
//! stream ids, group and consumer names and idle times (X*), Lua scripts, function libraries
//! and their names (EVAL*, FCALL*, SCRIPT, FUNCTION), SORT's BY/GET patterns. Plus the
//! taming of the stream arguments that would make a run depend on the clock.

use super::docs::Arg;
use super::pools;
use super::rng::Rng;

/// Stream ids, valid and not: complete, partial (`<ms>`, `<ms>-*`), special (`-`, `+`, `$`,
/// `>`), exclusive (`(`), at and past u64::MAX, junk.
pub const STREAM_IDS: &[&str] = &[
    "0",
    "0-0",
    "0-1",
    "1",
    "1-0",
    "1-1",
    "2-1",
    "3-2",
    "5",
    "5-2",
    "10-0",
    "20-1",
    "100-5",
    "-",
    "+",
    "$",
    ">",
    "1-*",
    "7-*",
    "(1-1",
    "(0",
    "(5-2",
    "18446744073709551615-18446744073709551615",
    "18446744073709551615",
    "18446744073709551616",
    "1-18446744073709551615",
    "-1",
    "1-",
    "-1-1",
    "abc",
    "1-abc",
    "",
    "1.5",
    "0x10",
    " 1",
];

/// What XADD's `*` becomes: a bare `*` takes the server's clock (the two servers' ids would
/// differ by their milliseconds); `<ms>-*` keeps the automatic sequence part.
pub const AUTO_IDS: &[&str] = &["3-*", "50-*", "1000-*", "18446744073709551615-*"];

/// Consumer group names.
pub const GROUPS: &[&str] = &["g1", "g1", "g2", "g3", "nosuch", "", "G1", "g1\0x"];

/// Consumer names.
pub const CONSUMERS: &[&str] = &["c1", "c1", "c2", "c3", "", "alice"];

/// Lua scripts for EVAL/EVAL_RO/SCRIPT LOAD: replies of every kind, redis.call/pcall of
/// reads and writes, errors of every origin, the libraries, shebang flags. Nothing that
/// depends on time or on hash-table order, nothing that runs past the busy threshold, no
/// math.random (Redis 7.0 no longer reseeds it for each script: random by nature).
pub const SCRIPTS: &[&str] = &[
    "return 1",
    "return KEYS[1]",
    "return ARGV[1]",
    "return {KEYS[1], ARGV[1], 3, 'x'}",
    "return redis.call('GET', KEYS[1])",
    "return redis.call('SET', KEYS[1], ARGV[1])",
    "return redis.call('INCR', KEYS[1])",
    "return redis.call('LPUSH', KEYS[1], ARGV[1])",
    "return redis.call('HLEN', KEYS[1])",
    "return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')",
    "return redis.call('XRANGE', KEYS[1], '-', '+')",
    "return redis.call('XADD', KEYS[1], '5-*', 'f', ARGV[1])",
    "return redis.call('SORT', KEYS[1])",
    "return redis.call('TYPE', KEYS[1])",
    "return redis.call('DEL', KEYS[1])",
    "return redis.call('OBJECT', 'ENCODING', KEYS[1])",
    "return redis.pcall('INCR', KEYS[1])",
    "return redis.call('nosuch')",
    "return redis.pcall('nosuch')",
    "return redis.call('EVAL', 'return 1', 0)",
    "return redis.error_reply('my error')",
    "return redis.status_reply('FINE')",
    "return {err='bad thing'}",
    "return 1.5",
    "return {1, 2, {3, 'x'}, nil, 5}",
    "return cjson.encode({a=1})",
    "return cjson.decode(ARGV[1])",
    "return cmsgpack.pack({1, 2, 3})",
    "return cmsgpack.unpack(ARGV[1])",
    "return struct.pack('>I2', 5)",
    "return bit.band(7, 3)",
    "return redis.sha1hex(ARGV[1])",
    "local t = {} for i=1,100 do t[i]=i end return t",
    "return table.concat(ARGV, ',')",
    "return #KEYS + #ARGV",
    "redis.setresp(3) return redis.call('HGET', KEYS[1], 'f0')",
    "#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1], 'x')",
    "#!lua\nreturn redis.call('GET', KEYS[1])",
    "#!lua flags=allow-oom,no-cluster\nreturn 1",
    "#!lua name=x\nreturn 1",
    "#!nosuch\nreturn 1",
    "return x",
    "x = 1",
    "return (",
    "return \u{ff}",
    "return 'a\0b'",
    "error('boom')",
    "error({err='ERR custom'})",
    INVALID_UTF8,
    "",
];

/// Stands for `return "\xff` (an unfinished string holding a byte that is not UTF-8: the
/// compile error quotes it raw); a `&str` cannot hold the byte itself.
const INVALID_UTF8: &str = "<invalid utf-8>";

/// SHA1s for EVALSHA/SCRIPT EXISTS: of `return 1`, `return KEYS[1]`,
/// `return redis.call('GET', KEYS[1])`, `return redis.call('INCR', KEYS[1])`, then unknown.
pub const SHAS: &[&str] = &[
    "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
    "4a2267357833227dd98abdedb8cf24b15a986445",
    "d3c21d0c2b9ca22f82737626a27bcaf5d288f99f",
    "61636018f4e6b5817b89791bbed242f93fa089e3",
    "E0E1F9FABFC9D4800C877A703B823AC0578FF8DB",
    "0000000000000000000000000000000000000000",
    "nosuch",
    "",
];

/// FUNCTION LOAD code: libraries that load, replace, clash, and fail in each way.
pub const LIBRARIES: &[&str] = &[
    "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 1 end)",
    "#!lua name=lib1\nredis.register_function('f1', function(keys, args) return 2 end)",
    "#!lua name=lib2\nredis.register_function('f2', function(keys, args) return redis.call('GET', keys[1]) end)\nredis.register_function{function_name='f3', callback=function(keys, args) return args[1] end, flags={'no-writes'}}",
    "#!lua name=lib3\nredis.register_function('f4', function(keys, args) return redis.call('SET', keys[1], args[1]) end)",
    "#!lua name=lib4\nredis.register_function('f5', function(keys, args) return redis.call('INCR', keys[1]) end)\nredis.register_function('f6', function(keys, args) error('boom') end)",
    "#!lua name=lib5\nredis.register_function('f1', function(keys, args) return 1 end)",
    "#!lua name=bad\nreturn 1",
    "#!lua name=bad\nredis.call('GET', 'x')",
    "#!lua\nredis.register_function('f', function() end)",
    "#!lua name=bad x=y\nredis.register_function('f', function() end)",
    "#!lua name=bad\nredis.register_function('f', 'notafunction')",
    "#!lua name=bad\nredis.register_function{function_name='f', callback=function() end, flags={'nosuch'}}",
    "#!nosuch name=bad\nreturn 1",
    "return 1",
    "",
];

/// FCALL function names.
pub const FUNCTIONS: &[&str] = &["f1", "f2", "f3", "f4", "f5", "f6", "nosuch", ""];

/// FUNCTION DELETE library names.
pub const LIBRARY_NAMES: &[&str] = &["lib1", "lib2", "lib3", "lib4", "lib5", "nosuch", ""];

/// FUNCTION LIST LIBRARYNAME patterns.
pub const LIBRARY_PATTERNS: &[&str] = &["*", "lib*", "lib1", "nosuch", "[", ""];

/// SORT BY/GET patterns: constant (no sort), over string keys, hash fields, the element itself.
pub const SORT_PATTERNS: &[&str] = &[
    "nosort",
    "str:*",
    "hash:*->f1",
    "hash:*->f0",
    "*",
    "#",
    "*->f0",
    "k:*",
    "list:*",
    "str:*->",
    "->f",
    "",
];

/// The value of one argument of a stream, scripting or SORT command, or `None` for the
/// generic pools.
pub fn value(rng: &mut Rng, a: &Arg, cmd: &str) -> Option<Vec<u8>> {
    let p = |rng: &mut Rng, xs: &[&str]| Some(rng.pick(xs).as_bytes().to_vec());
    let name = a.name.as_str();
    if cmd.starts_with('x') {
        return match name {
            "id" | "start" | "end" | "last-id" | "max_deleted_entry_id" => p(rng, STREAM_IDS),
            "threshold" if rng.chance(500) => p(rng, STREAM_IDS),
            "group" | "groupname" => p(rng, GROUPS),
            "consumer" | "consumername" => p(rng, CONSUMERS),
            _ => None,
        };
    }
    match (cmd, name) {
        ("sort" | "sort_ro", _) if a.kind == "pattern" => p(rng, SORT_PATTERNS),
        ("eval" | "eval_ro" | "script|load", "script") => {
            if rng.chance(30) {
                Some(pools::value(rng))
            } else {
                let s = *rng.pick(SCRIPTS);
                Some(if s == INVALID_UTF8 {
                    b"return \"\xff".to_vec()
                } else {
                    s.as_bytes().to_vec()
                })
            }
        }
        (_, "sha1") => p(rng, SHAS),
        ("function|load", "function-code") => p(rng, LIBRARIES),
        ("fcall" | "fcall_ro", "function") => p(rng, FUNCTIONS),
        ("function|delete", "library-name") => p(rng, LIBRARY_NAMES),
        ("function|list", "library-name-pattern") => p(rng, LIBRARY_PATTERNS),
        _ => None,
    }
}

/// The consumers that read a rebuilt stream's group.
const READERS: &[&str] = &["c1", "c2"];

fn pick_str(rng: &mut Rng, xs: &[&'static str]) -> &'static str {
    xs[rng.below(xs.len())]
}

/// A stream's entries for a reseed: `XADD key <id> f <i> v <value>` with increasing
/// explicit ids (three per millisecond), then sometimes a group that has read some of them
/// (pending entries owned by a consumer).
pub fn stream_seed(rng: &mut Rng, key: &[u8], n: usize) -> Vec<Vec<Vec<u8>>> {
    let mut cmds = Vec::new();
    for i in 0..n {
        let id = format!("{}-{}", 1 + i / 3, i % 3);
        cmds.push(vec![
            b"XADD".to_vec(),
            key.to_vec(),
            id.into_bytes(),
            b"f".to_vec(),
            i.to_string().into_bytes(),
            b"v".to_vec(),
            pools::value(rng),
        ]);
    }
    if rng.chance(600) {
        let w = |s: &str| s.as_bytes().to_vec();
        cmds.push(vec![
            w("XGROUP"),
            w("CREATE"),
            key.to_vec(),
            w("g1"),
            w("0"),
        ]);
        let count = rng.pick(&["1", "3", "10", "200"]).to_string();
        cmds.push(vec![
            w("XREADGROUP"),
            w("GROUP"),
            w("g1"),
            w(pick_str(rng, READERS)),
            w("COUNT"),
            w(&count),
            w("STREAMS"),
            key.to_vec(),
            w(">"),
        ]);
    }
    cmds
}

/// Idle-time arguments made independent of the clock. An entry's idle time is the time
/// since its delivery (milliseconds to a run's length), or what XCLAIM IDLE/TIME set plus
/// that; a filter on it (XCLAIM/XAUTOCLAIM min-idle-time, XPENDING IDLE) would then decide
/// differently on the two servers when the two are within a run's length of each other.
/// So positive minimums become `k x 10^9 + 5 x 10^8` ms and positive IDLE values `k x 10^9`
/// ms (k >= 1): at least 5 x 10^8 ms (~6 days) apart. XREAD/XREADGROUP BLOCK of 0 (for good)
/// or more becomes 10 ms (refused values stay).
pub fn tame_stream_times(rng: &mut Rng, cmd: &str, args: &mut [Vec<u8>]) {
    let int = |a: &[u8]| {
        std::str::from_utf8(a)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
    };
    let min_idle =
        |v: i64| ((v / 1_000_000_000).max(0) * 1_000_000_000).saturating_add(500_000_000);
    let idle = |v: i64| (v / 1_000_000_000).max(1) * 1_000_000_000;
    let set = |i: usize, f: &dyn Fn(i64) -> i64, args: &mut [Vec<u8>]| {
        if let Some(v) = args.get(i).and_then(|a| int(a))
            && v > 0
        {
            args[i] = f(v).to_string().into_bytes();
        }
    };
    if matches!(cmd, "xclaim" | "xautoclaim") {
        set(4, &min_idle, args);
    }
    for i in 1..args.len() {
        let word = args[i - 1].to_ascii_uppercase();
        match (cmd, word.as_slice()) {
            ("xpending", b"IDLE") => set(i, &min_idle, args),
            ("xclaim", b"IDLE") => set(i, &idle, args),
            ("xread" | "xreadgroup", b"BLOCK")
                if args.get(i).and_then(|a| int(a)).is_some_and(|v| v >= 0) =>
            {
                args[i] = b"10".to_vec();
            }
            _ => {}
        }
    }
    if cmd == "xadd" {
        // Only the id position can be `*` in a well-formed XADD; a `*` elsewhere is a
        // field or value, harmless to replace as well.
        for a in args.iter_mut().skip(2) {
            if a.as_slice() == b"*" {
                *a = rng.pick(AUTO_IDS).as_bytes().to_vec();
            }
        }
    }
}

/// XREAD/XREADGROUP: as many ids as keys after STREAMS, most of the time (else the command
/// is refused early).
pub fn fix_stream_ids(rng: &mut Rng, out: &mut Vec<(Vec<u8>, String)>) {
    let Some(at) = out
        .iter()
        .position(|(v, k)| k == "token" && v.eq_ignore_ascii_case(b"STREAMS"))
    else {
        return;
    };
    let keys = out[at + 1..].iter().take_while(|(_, k)| k == "key").count();
    let ids: Vec<usize> = (at + 1 + keys..out.len())
        .filter(|&i| out[i].1 == "id")
        .collect();
    if rng.chance(850) && ids.len() != keys && !ids.is_empty() {
        let first = ids[0];
        let tail = out.split_off(first);
        let pool: Vec<(Vec<u8>, String)> = tail.into_iter().filter(|(_, k)| k == "id").collect();
        for i in 0..keys {
            out.push(pool[i % pool.len()].clone());
        }
    }
}
