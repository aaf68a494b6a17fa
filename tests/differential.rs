//! Differential test: one seeded random stream of string/key/expiry/transaction commands is
//! sent to redrepl and to Debian's redis-server 7.0; every reply must be equal (TTLs loosely),
//! and so must DEBUG DIGEST at the end. `DIFF_COMMANDS` sets the stream length (default
//! 20,000), `DIFF_SEED` the seed.

mod common;

use common::{Kind, Server, qc};
use redis::Value;

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// How a reply is compared.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cmp {
    Exact,
    /// TTL in seconds: -1/-2 equal, positive within 1.
    TtlSecs,
    /// PTTL: -1/-2 equal, positive within 1500 ms.
    TtlMs,
    /// EXPIRETIME: within 2 s.
    AbsSecs,
    /// PEXPIRETIME: within 2000 ms.
    AbsMs,
    /// An array to compare after sorting (KEYS).
    Sorted,
}

struct Gen {
    rng: Rng,
    /// Unix seconds at the start: absolute expiry times are base + fixed offsets (far beyond
    /// every relative TTL used), so GT/LT comparisons never depend on timing.
    base_s: i64,
}

const VALUES: &[&str] = &[
    "",
    "a",
    "abc",
    "hello world",
    "0",
    "1",
    "-1",
    "42",
    "100",
    "-17",
    "007",
    " 5",
    "3.5",
    "1e3",
    "-0.5",
    "9223372036854775807",
    "-9223372036854775808",
    "x\r\ny",
    "10.50",
    "abc123",
];

impl Gen {
    fn key(&mut self) -> String {
        format!("k{}", self.rng.below(50))
    }
    fn val(&mut self) -> String {
        if self.rng.chance(30) {
            (self.rng.below(2000) as i64 - 1000).to_string()
        } else {
            self.rng.pick(VALUES).to_string()
        }
    }
    fn rel_secs(&mut self) -> String {
        match self.rng.below(14) {
            0 => "0".into(),
            1 => "-5".into(),
            2 => "abc".into(),
            3 => "9223372036854775807".into(),
            4 => "9223372036854775".into(),
            _ => self.rng.pick(&["100", "1000", "5000"]).into(),
        }
    }
    /// A relative time in ms: the same durations as `rel_secs`, so never short.
    fn rel_ms(&mut self) -> String {
        let v = self.rel_secs();
        if v.parse::<i64>().is_ok_and(|x| x > 0) {
            format!("{v}000")
        } else {
            v
        }
    }
    fn abs_secs(&mut self) -> String {
        match self.rng.below(11) {
            9 => "-9223372036854775808".into(),
            0 => "1".into(), // in the past: the key goes
            1 => "-1".into(),
            _ => (self.base_s + 20_000 + 10_000 * self.rng.below(4) as i64).to_string(),
        }
    }
    fn int_arg(&mut self) -> String {
        match self.rng.below(20) {
            0 => "notanumber".into(),
            1 => "9223372036854775807".into(),
            2 => "-9223372036854775808".into(),
            3 => "1.5".into(),
            _ => (self.rng.below(200) as i64 - 100).to_string(),
        }
    }
    fn offset(&mut self) -> String {
        (self.rng.below(30) as i64 - 12).to_string()
    }

    /// One random command (not MULTI/EXEC themselves).
    fn command(&mut self, in_multi: bool) -> (Vec<String>, Cmp) {
        let k = self.key();
        let s = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let mut cmp = Cmp::Exact;
        let n = self.rng.below(100);
        let cmd: Vec<String> = match n {
            0..=9 => {
                let mut c = vec!["SET".into(), k, self.val()];
                for _ in 0..self.rng.below(3) {
                    match self.rng.below(9) {
                        0 => c.push("NX".into()),
                        1 => c.push("XX".into()),
                        2 => c.push("GET".into()),
                        3 => c.push("KEEPTTL".into()),
                        4 => c.extend(["EX".into(), self.rel_secs()]),
                        5 => c.extend(["PX".into(), self.rel_ms()]),
                        6 => c.extend(["EXAT".into(), self.abs_secs()]),
                        7 => c.extend(["PXAT".into(), format!("{}000", self.abs_secs())]),
                        _ => c.push(self.rng.pick(&["BOGUS", "ex", "nx", "get"]).into()),
                    }
                }
                c
            }
            10..=17 => vec!["GET".into(), k],
            18..=20 => vec!["INCR".into(), k],
            21 => vec!["DECR".into(), k],
            22..=23 => vec!["INCRBY".into(), k, self.int_arg()],
            24 => vec!["DECRBY".into(), k, self.int_arg()],
            25..=26 => {
                // A few keys ("f0".."f4") that mostly hold numbers, for INCRBYFLOAT chains.
                let fk = format!("f{}", self.rng.below(5));
                match self.rng.below(10) {
                    0 => vec![
                        "SET".into(),
                        fk,
                        self.rng
                            .pick(&["1.5", "abc", "7", "-2", "1e3", "0x10", " 1"])
                            .into(),
                    ],
                    1 => vec!["GET".into(), fk],
                    2 => vec!["DEL".into(), fk],
                    _ => {
                        let inc = self.rng.pick(&[
                            "0.5", "1", "-2.5", "10", "1.5", "abc", "-3", "1e2", "5.0e-1", "",
                        ]);
                        vec!["INCRBYFLOAT".into(), fk, inc.into()]
                    }
                }
            }
            27..=29 => vec!["APPEND".into(), k, self.val()],
            30..=31 => vec!["GETRANGE".into(), k, self.offset(), self.offset()],
            32..=33 => vec!["SETRANGE".into(), k, self.offset(), self.val()],
            34..=35 => {
                let mut c = vec!["MSET".into()];
                for _ in 0..1 + self.rng.below(3) {
                    c.push(self.key());
                    c.push(self.val());
                }
                if self.rng.chance(5) {
                    c.pop();
                }
                c
            }
            36..=37 => {
                let mut c = vec!["MGET".into()];
                for _ in 0..1 + self.rng.below(4) {
                    c.push(self.key());
                }
                c
            }
            38 => {
                let mut c = vec!["MSETNX".into()];
                for _ in 0..1 + self.rng.below(3) {
                    c.push(self.key());
                    c.push(self.val());
                }
                c
            }
            39..=41 => {
                let mut c = vec!["DEL".into(), k];
                for _ in 0..self.rng.below(3) {
                    c.push(self.key());
                }
                c
            }
            42..=43 => {
                let mut c = vec![self.rng.pick(&["EXISTS", "TOUCH", "UNLINK"]).into(), k];
                for _ in 0..self.rng.below(3) {
                    c.push(self.key());
                }
                c
            }
            44..=47 => {
                // Relative expiries with NX/XX only (GT/LT would depend on timing).
                let name = self.rng.pick(&["EXPIRE", "PEXPIRE"]);
                let mut c = vec![name.into(), k, self.rel_secs()];
                if name == "PEXPIRE" && c[2].parse::<i64>().is_ok_and(|v| v > 0) {
                    c[2] = format!("{}000", c[2]);
                }
                if self.rng.chance(40) {
                    c.push(self.rng.pick(&["NX", "XX", "nx", "FOO"]).into());
                }
                c
            }
            48..=50 => {
                let name = self.rng.pick(&["EXPIREAT", "PEXPIREAT"]);
                let mut at = self.abs_secs();
                if name == "PEXPIREAT" {
                    at = format!("{at}000");
                }
                let mut c = vec![name.into(), k, at];
                for _ in 0..self.rng.below(3) {
                    c.push(self.rng.pick(&["NX", "XX", "GT", "LT", "gt"]).into());
                }
                c
            }
            51 => vec!["PERSIST".into(), k],
            52..=54 if !in_multi => {
                let name = self.rng.pick(&["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"]);
                cmp = match name {
                    "TTL" => Cmp::TtlSecs,
                    "PTTL" => Cmp::TtlMs,
                    "EXPIRETIME" => Cmp::AbsSecs,
                    _ => Cmp::AbsMs,
                };
                vec![name.into(), k]
            }
            55..=56 => vec![self.rng.pick(&["RENAME", "RENAMENX"]).into(), k, self.key()],
            57..=58 => {
                let mut c = vec!["COPY".into(), k, self.key()];
                if self.rng.chance(40) {
                    c.extend(["DB".into(), self.rng.below(5).to_string()]);
                }
                if self.rng.chance(40) {
                    c.push("REPLACE".into());
                }
                c
            }
            59 => vec!["MOVE".into(), k, self.rng.below(5).to_string()],
            60..=61 => vec!["TYPE".into(), k],
            62..=63 => vec!["STRLEN".into(), k],
            64..=65 => vec!["GETDEL".into(), k],
            66..=67 => {
                let mut c = vec!["GETEX".into(), k];
                match self.rng.below(7) {
                    0 => c.extend(["EX".into(), self.rel_secs()]),
                    1 => c.extend(["PX".into(), self.rel_ms()]),
                    2 => c.extend(["EXAT".into(), self.abs_secs()]),
                    3 => c.push("PERSIST".into()),
                    4 => c.push("BAD".into()),
                    _ => {}
                }
                c
            }
            68 => vec!["SETNX".into(), k, self.val()],
            69 => vec!["GETSET".into(), k, self.val()],
            70 => vec!["SETEX".into(), k, self.rel_secs(), self.val()],
            86 => vec!["PSETEX".into(), k, self.rel_ms(), self.val()],
            71..=72 => vec![
                "SELECT".into(),
                self.rng.pick(&["0", "1", "2", "3", "0", "16", "x"]).into(),
            ],
            73 if !in_multi => {
                cmp = Cmp::Sorted;
                vec![
                    "KEYS".into(),
                    self.rng
                        .pick(&[
                            "*", "k1*", "k?", "k[1-3]*", "*9", "k[^1]?", "k[3-1]", "\\k*", "k[1-",
                            "[", "?*?", "k\\[1", "k[!1]*",
                        ])
                        .into(),
                ]
            }
            74 => vec!["DBSIZE".into()],
            75 => vec![
                "SWAPDB".into(),
                self.rng.below(4).to_string(),
                self.rng.below(4).to_string(),
            ],
            // Arity and argument errors.
            76..=85 => {
                let all: &[&[&str]] = &[
                    &["GET"],
                    &["GET", "a", "b"],
                    &["SET", "a"],
                    &["SET", "a", "b", "EX"],
                    &["SET", "a", "b", "EX", "10", "PX", "10"],
                    &["SET", "a", "b", "NX", "XX"],
                    &["SET", "a", "b", "KEEPTTL", "EX", "10"],
                    &["INCRBY", "a"],
                    &["MSET", "a"],
                    &["MSET", "a", "1", "b"],
                    &["MGET"],
                    &["EXPIRE", "a"],
                    &["EXPIRE", "a", "10", "NX", "XX"],
                    &["EXPIRE", "a", "10", "GT", "LT"],
                    &["TTL"],
                    &["DEL"],
                    &["RENAME", "a"],
                    &["GETRANGE", "a", "0"],
                    &["SETRANGE", "a", "-1", "x"],
                    &["GETEX", "a", "EX", "10", "PERSIST"],
                    &["GETEX", "a", "PX"],
                    &["COPY", "a", "a"],
                    &["COPY", "a", "b", "DB", "99"],
                    &["COPY", "a", "b", "FOO"],
                    &["SELECT"],
                    &["SELECT", "-1"],
                    &["SWAPDB", "a", "1"],
                    &["SWAPDB", "0", "b"],
                    &["SWAPDB", "0", "99"],
                    &["MOVE", "a", "x"],
                    &["STRLEN"],
                    &["APPEND", "a"],
                    &["DECRBY", "a", "-9223372036854775808"],
                    &["INCRBYFLOAT", "a", "inf"],
                    &["SETEX", "a", "10"],
                    &["NOSUCHCMD", "x", "y"],
                    &["KEYS"],
                    &["DBSIZE", "x"],
                    &["TYPE"],
                    &["PERSIST"],
                    &["GETSET", "a"],
                ];
                s(all[self.rng.below(all.len() as u64) as usize])
            }
            // OBJECT ENCODING is left out: redrepl derives it from the content, while Redis
            // remembers history (APPEND/SETRANGE leave "raw", INCRBYFLOAT "embstr").
            89 if !in_multi => {
                let mut c = vec!["WATCH".into(), k];
                if self.rng.chance(30) {
                    c.push(self.key());
                }
                c
            }
            95..=96 => {
                // Any key: redrepl emulates Redis's long double arithmetic and %.17Lf output.
                let inc = self.rng.pick(&[
                    "0.1",
                    "-0.3",
                    "1e-5",
                    "123.456",
                    "0.5",
                    "1e300",
                    "-1e-300",
                    "7",
                    "0x1p-3",
                    "1e4000",
                    "-1.7976931348623157e308",
                ]);
                vec!["INCRBYFLOAT".into(), k, inc.into()]
            }
            97 => vec!["SUBSTR".into(), k, self.offset(), self.offset()],
            98 if self.rng.chance(10) => {
                vec![self.rng.pick(&["FLUSHDB", "FLUSHALL", "FLUSHDB"]).into()]
            }
            90 => vec![self.rng.pick(&["UNWATCH", "PING", "ECHO"]).into()],
            91 => vec![
                "GETRANGE".into(),
                k,
                self.rng
                    .pick(&[
                        "0",
                        "-1",
                        "9223372036854775807",
                        "-9223372036854775808",
                        "3",
                    ])
                    .into(),
                self.rng
                    .pick(&[
                        "0",
                        "-1",
                        "9223372036854775807",
                        "-9223372036854775808",
                        "2",
                    ])
                    .into(),
            ],
            92 => vec![
                "SET".into(),
                k,
                self.val(),
                "GET".into(),
                self.rng.pick(&["NX", "XX", "KEEPTTL"]).into(),
            ],
            93 => vec!["EXEC".into(), "x".into()],
            94 => vec![
                "SETRANGE".into(),
                k,
                self.rng
                    .pick(&["0", "44", "45", "100", "x", "536870912"])
                    .into(),
                self.val(),
            ],
            _ => vec!["SET".into(), k, self.val()],
        };
        (cmd, cmp)
    }
}

fn to_cmd(args: &[String]) -> redis::Cmd {
    let mut c = redis::cmd(&args[0]);
    for a in &args[1..] {
        c.arg(a.as_str());
    }
    c
}

fn close_enough(a: &Value, b: &Value, cmp: Cmp) -> bool {
    let tol = match cmp {
        Cmp::Exact => return a == b,
        Cmp::Sorted => {
            let sort = |v: &Value| match v {
                Value::Array(xs) => {
                    let mut xs: Vec<String> = xs.iter().map(|x| format!("{x:?}")).collect();
                    xs.sort();
                    Some(xs)
                }
                _ => None,
            };
            return sort(a) == sort(b) && sort(a).is_some() || a == b;
        }
        Cmp::TtlSecs => 1,
        Cmp::TtlMs => 1500,
        Cmp::AbsSecs => 2,
        Cmp::AbsMs => 2000,
    };
    match (a, b) {
        (Value::Int(x), Value::Int(y)) if *x < 0 || *y < 0 => x == y,
        (Value::Int(x), Value::Int(y)) => (x - y).abs() <= tol,
        _ => a == b,
    }
}

#[test]
fn random_stream_matches_redis() {
    run_stream(2);
}

/// The same stream over RESP3 (HELLO 3 on both connections): maps, nulls, doubles.
#[test]
fn random_stream_matches_redis_resp3() {
    run_stream(3);
}

fn run_stream(proto: u8) {
    let n: usize = std::env::var("DIFF_COMMANDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = std::env::var("DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd);
    let ours = Server::start(&["--enable-debug-command", "yes"]);
    let theirs = Server::start_kind(Kind::Redis, &[]);
    let mut a = ours.conn();
    let mut b = theirs.conn();
    if proto == 3 {
        let ha = qc(&mut a, &redis::cmd("HELLO").arg(3).to_owned());
        let hb = qc(&mut b, &redis::cmd("HELLO").arg(3).to_owned());
        assert!(matches!(ha, Value::Map(_)), "{ha:?}");
        assert!(matches!(hb, Value::Map(_)), "{hb:?}");
    }
    // Keys set with an expiry in the past (SET .. EXAT 1) stay in the keyspace until lazy or
    // active expiry removes them; active expiry runs on its own clock, so switch it off on
    // both sides to keep DBSIZE deterministic.
    for c in [&mut a, &mut b] {
        let r = qc(
            c,
            &redis::cmd("DEBUG")
                .arg("SET-ACTIVE-EXPIRE")
                .arg(0)
                .to_owned(),
        );
        assert_eq!(r, Value::Okay);
    }
    let base_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut g = Gen {
        rng: Rng(seed | 1),
        base_s,
    };
    let mut history: Vec<String> = Vec::new();
    let mut sent = 0;
    let check = |a: &mut redis::Connection,
                 b: &mut redis::Connection,
                 args: &[String],
                 cmp: Cmp,
                 history: &mut Vec<String>| {
        let c = to_cmd(args);
        let ra = qc(a, &c);
        let rb = qc(b, &c);
        history.push(args.join(" "));
        if !close_enough(&ra, &rb, cmp) {
            let start = history.len().saturating_sub(15);
            let keys = |c: &mut redis::Connection| {
                let mut k: Vec<String> = match qc(c, &redis::cmd("KEYS").arg("*").to_owned()) {
                    Value::Array(xs) => xs.iter().map(|x| format!("{x:?}")).collect(),
                    other => vec![format!("{other:?}")],
                };
                k.sort();
                k
            };
            for arg in &args[1..] {
                let get = |c: &mut redis::Connection| {
                    qc(c, &redis::cmd("GET").arg(arg.as_str()).to_owned())
                };
                let (va, vb) = (get(a), get(b));
                let show = |v: &Value| {
                    let t = format!("{v:?}");
                    if t.len() > 200 {
                        format!("{}... ({} chars)", &t[..200], t.len())
                    } else {
                        t
                    }
                };
                eprintln!("GET {arg}: redrepl {} / redis {}", show(&va), show(&vb));
            }
            let (ka, kb) = (keys(a), keys(b));
            eprintln!(
                "keys only in redrepl: {:?}",
                ka.iter().filter(|k| !kb.contains(k)).collect::<Vec<_>>()
            );
            eprintln!(
                "keys only in redis: {:?}",
                kb.iter().filter(|k| !ka.contains(k)).collect::<Vec<_>>()
            );
            panic!(
                "mismatch after {} commands (seed {seed}).\nrecent commands:\n  {}\ncommand: {:?}\nredrepl: {:?}\nredis:   {:?}",
                history.len(),
                history[start..].join("\n  "),
                args,
                ra,
                rb
            );
        }
    };
    while sent < n {
        if g.rng.chance(1) {
            // A full SCAN (optionally with MATCH) must visit the same set of keys.
            let pat = g.rng.pick(&["*", "k1*", "k?", "f*"]);
            let scan_all = |c: &mut redis::Connection| {
                let mut cursor = "0".to_string();
                let mut found = std::collections::BTreeSet::new();
                loop {
                    let r = qc(
                        c,
                        &redis::cmd("SCAN")
                            .arg(&cursor)
                            .arg("MATCH")
                            .arg(pat)
                            .arg("COUNT")
                            .arg(7)
                            .to_owned(),
                    );
                    let Value::Array(parts) = r else {
                        panic!("SCAN: {r:?}")
                    };
                    let Value::BulkString(next) = &parts[0] else {
                        panic!()
                    };
                    let Value::Array(keys) = &parts[1] else {
                        panic!()
                    };
                    for k in keys {
                        found.insert(format!("{k:?}"));
                    }
                    cursor = String::from_utf8(next.clone()).unwrap();
                    if cursor == "0" {
                        return found;
                    }
                }
            };
            let (sa, sb) = (scan_all(&mut a), scan_all(&mut b));
            assert_eq!(
                sa,
                sb,
                "full SCAN MATCH {pat} differs after {} commands",
                history.len()
            );
            history.push(format!("(full SCAN MATCH {pat})"));
            continue;
        }
        if g.rng.chance(5) {
            // A MULTI block, sometimes with a queued error, sometimes discarded.
            check(
                &mut a,
                &mut b,
                &["MULTI".to_string()],
                Cmp::Exact,
                &mut history,
            );
            let len = 1 + g.rng.below(5);
            for _ in 0..len {
                let (cmd, _) = g.command(true);
                check(&mut a, &mut b, &cmd, Cmp::Exact, &mut history);
                sent += 1;
            }
            let end = if g.rng.chance(10) { "DISCARD" } else { "EXEC" };
            check(&mut a, &mut b, &[end.to_string()], Cmp::Exact, &mut history);
            sent += 2;
        } else {
            let (cmd, cmp) = g.command(false);
            check(&mut a, &mut b, &cmd, cmp, &mut history);
            sent += 1;
        }
    }
    for i in 0..4 {
        let sel = vec!["SELECT".to_string(), i.to_string()];
        check(&mut a, &mut b, &sel, Cmp::Exact, &mut history);
        check(
            &mut a,
            &mut b,
            &["DBSIZE".to_string()],
            Cmp::Exact,
            &mut history,
        );
        check(
            &mut a,
            &mut b,
            &["KEYS".to_string(), "*".to_string()],
            Cmp::Sorted,
            &mut history,
        );
    }
    let da = qc(&mut a, &redis::cmd("DEBUG").arg("DIGEST").to_owned());
    let db = qc(&mut b, &redis::cmd("DEBUG").arg("DIGEST").to_owned());
    if da != db {
        // Find the keys that differ.
        for i in 0..4 {
            for c in [&mut a, &mut b] {
                qc(c, &redis::cmd("SELECT").arg(i).to_owned());
            }
            let Value::Array(keys) = qc(&mut b, &redis::cmd("KEYS").arg("*").to_owned()) else {
                continue;
            };
            for k in keys {
                let Value::BulkString(k) = k else { continue };
                let dv = |c: &mut redis::Connection| {
                    (
                        qc(
                            c,
                            &redis::cmd("DEBUG")
                                .arg("DIGEST-VALUE")
                                .arg(&k[..])
                                .to_owned(),
                        ),
                        qc(c, &redis::cmd("GET").arg(&k[..]).to_owned()),
                        matches!(qc(c, &redis::cmd("PTTL").arg(&k[..]).to_owned()), Value::Int(t) if t >= 0),
                    )
                };
                let (x, y) = (dv(&mut a), dv(&mut b));
                if x != y {
                    eprintln!(
                        "db {i} key {:?}: redrepl {x:?} redis {y:?}",
                        String::from_utf8_lossy(&k)
                    );
                }
            }
        }
    }
    assert_eq!(da, db, "DEBUG DIGEST differs after {sent} commands");
}

/// Raw protocol edge cases: the exact bytes of every reply, and whether the connection was
/// closed, must match redis-server.
#[test]
fn raw_protocol_matches_redis() {
    let ours = Server::start(&["--enable-debug-command", "yes"]);
    let theirs = Server::start_kind(Kind::Redis, &[]);
    let cases: &[&[u8]] = &[
        b"*1\r\n$4\r\nPING\r\n",
        b"PING\r\n",
        b"ping hello\r\n",
        b"*0\r\n*1\r\n$4\r\nPING\r\n",
        b"*-1\r\n*1\r\n$4\r\nPING\r\n",
        b"\r\n\r\nPING\r\n",
        b"   \r\nPING\r\n",
        b"SET a \"b c\"\r\nGET a\r\n",
        b"SET a 'it''s'\r\n",
        b"SET a \"x\"y\r\n",
        b"ECHO \"\\x41\\n\\t\"\r\n",
        b"*1\r\n+x\r\n",
        b"*1\r\n:1\r\n",
        b"*x\r\n",
        b"*1\r\n$x\r\n",
        b"*1\r\n$-1\r\n",
        b"*2\r\n$3\r\nGET\r\n$1\r\nab\r\n",
        b"*1048577\r\n",
        b"*1\r\n$536870913\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
        b"*2\r\n$4\r\nECHO\r\n$3\r\na\r\n\r\n",
        b"GET\r\n",
        b"get a b\r\n",
        b"NOSUCH a b c\r\n",
        b"HELLO 3\r\nGET nokey\r\nMGET a nokey\r\nINCRBYFLOAT f 1.5\r\nCLIENT GETNAME\r\nEXEC\r\nHELLO 2\r\n",
        b"MULTI\r\nGET a\r\nEXEC\r\nMULTI\r\nEXEC\r\n",
        b"QUIT\r\nPING\r\n",
        b"RESET\r\n",
        b"CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n",
        b"CLIENT REPLY SKIP\r\nPING\r\nPING\r\n",
        b"SELECT 1\r\nSET a 1\r\nSELECT 0\r\nGET a\r\n",
        b"DEBUG DIGEST\r\n",
        b"TYPE a\r\nTYPE nokey\r\n",
        b"*1\r\n$-5\r\n",
        b"*1\r\n$4\r\nPING",
        b"*1\r\n$4\r\nPINGXX\r\nPING\r\n",
        b"*2\r\n$4\r\nECHO\r\n",
        b"*1\r\n$0\r\n\r\n",
        b"*2\r\n$0\r\n\r\n$1\r\nx\r\n",
        b"*1\r\n$4\r\nping\r\n*1\r\n$4\r\nPiNg\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$6\r\nEXISTS\r\n$1\r\nk\r\nDEL k\r\n",
        b"*+1\r\n",
        b"* 1\r\n",
        b"*01\r\n$4\r\nPING\r\n",
        b"*1\r\n$04\r\nPING\r\n",
        b"*1\r\n$+4\r\nPING\r\n",
        b"SET k \"a\" b\r\n",
        b"SET k \"unterminated\r\n",
        b"SET k 'a\\'b'\r\n",
        b"ECHO \"\\xZZ\"\r\n",
        b"ECHO a\tb\r\n",
        b"ECHO \"\"\r\n",
        b"\r\n",
        b"PING\n",
        b"PING\rPING\r\n",
        b"MULTI\r\nSET a 1\r\nBADCMD\r\nEXEC\r\nGET a\r\n",
        b"MULTI\r\nSET a 1\r\nRESET\r\nGET a\r\n",
        b"SELECT 3\r\nRESET\r\nSET z 1\r\nSELECT 3\r\nEXISTS z\r\n",
        b"CLIENT SETNAME x\r\nRESET\r\nCLIENT GETNAME\r\n",
        b"SUBSTR\r\nSUBSTR a b c\r\n",
        b"CLIENT SETNAME a b\r\nCLIENT SETNAME\r\nCLIENT SETNAME \"\"\r\nCLIENT GETNAME\r\n",
        b"CLIENT REPLY FOO\r\nCLIENT PAUSE -1\r\nCLIENT PAUSE 10 FOO\r\nCLIENT PAUSE 1 WRITE\r\nCLIENT UNPAUSE\r\n",
        b"CLIENT KILL ID 0\r\nCLIENT KILL ID x\r\nCLIENT KILL FOO bar\r\nCLIENT KILL 1.2.3.4:5\r\nCLIENT KILL ID 999999\r\n",
        b"CLIENT KILL ADDR 1.2.3.4:5 SKIPME maybe\r\nCLIENT KILL TYPE foo\r\nCLIENT KILL USER nobody\r\n",
        b"CLIENT NO-EVICT maybe\r\nCLIENT NO-EVICT on\r\nCLIENT LIST TYPE foo\r\nCLIENT LIST ID x\r\nCLIENT LIST ID 0\r\n",
        // CLIENT HELP is left out: Redis lists subcommands redrepl lacks (TRACKING, ...).
        b"OBJECT HELP\r\n",
        b"ECHO a b\r\nPING a b\r\nSELECT 1 2\r\nTIME x\r\n",
        b"DEBUG\r\nDEBUG FOO\r\nSHUTDOWN FOO\r\nSHUTDOWN NOSAVE SAVE\r\nSHUTDOWN ABORT\r\nSHUTDOWN ABORT NOW\r\nPING\r\n",
        b"SET k v\r\nOBJECT FREQ k\r\nOBJECT IDLETIME nokey\r\nOBJECT ENCODING k\r\nSWAPDB 0 0\r\n",
        // Not compared: OBJECT ENCODING after APPEND/SETRANGE ("raw" in Redis, from history).
        b"HELLO 3\r\nINCRBYFLOAT f 1.5\r\nEXISTS f\r\nTTL f\r\nCLIENT LIST ID 0\r\nOBJECT FREQ f\r\n",
    ];
    for case in cases {
        let exchange = |mut r: common::Raw| {
            r.send(case);
            let got = without_client_id(&r.read_available(std::time::Duration::from_millis(250)));
            let closed = r.is_closed(std::time::Duration::from_millis(50));
            (got, closed)
        };
        let (ra, rb) = (ours.raw(), theirs.raw());
        let ((got_a, closed_a), (got_b, closed_b)) = std::thread::scope(|sc| {
            let h = sc.spawn(|| exchange(ra));
            let b = exchange(rb);
            (h.join().unwrap(), b)
        });
        assert_eq!(
            String::from_utf8_lossy(&got_a),
            String::from_utf8_lossy(&got_b),
            "reply to {:?}",
            String::from_utf8_lossy(case)
        );
        assert_eq!(
            closed_a,
            closed_b,
            "connection closed after {:?}",
            String::from_utf8_lossy(case)
        );
    }
}

/// Raw protocol comparison before and around AUTH (requirepass set on both servers).
#[test]
fn raw_protocol_with_requirepass_matches_redis() {
    let ours = Server::start(&["--requirepass", "pw"]);
    let theirs = Server::start_kind(Kind::Redis, &["--requirepass", "pw"]);
    let big_inline = {
        let mut v = b"SET k ".to_vec();
        v.extend(std::iter::repeat_n(b'x', 70 * 1024));
        v
    };
    let cases: Vec<&[u8]> = vec![
        b"GET k\r\n",
        b"PING\r\n",
        b"MULTI\r\n",
        b"EXEC\r\n",
        b"AUTH\r\n",
        b"AUTH x\r\n",
        b"AUTH default x\r\n",
        b"AUTH a b c\r\n",
        b"*11\r\n",
        b"*1\r\n$20000\r\n",
        b"HELLO\r\n",
        b"HELLO 3\r\n",
        b"HELLO 3 AUTH default wrong\r\n",
        b"HELLO 2 AUTH default pw SETNAME n\r\nCLIENT GETNAME\r\n",
        b"HELLO 2 AUTH default\r\n",
        b"HELLO x\r\n",
        b"HELLO 2 FOO\r\n",
        b"AUTH pw\r\nGET k\r\nRESET\r\nGET k\r\n",
        b"AUTH default pw\r\nMULTI\r\nAUTH pw\r\nEXEC\r\n",
        b"QUIT\r\n",
        b"NOSUCH\r\n",
        b"SELECT 1\r\n",
        &big_inline,
    ];
    for case in cases {
        let exchange = |mut r: common::Raw| {
            r.send(case);
            let got = without_client_id(&r.read_available(std::time::Duration::from_millis(250)));
            let closed = r.is_closed(std::time::Duration::from_millis(50));
            (got, closed)
        };
        let (ra, rb) = (ours.raw(), theirs.raw());
        let ((got_a, closed_a), (got_b, closed_b)) = std::thread::scope(|sc| {
            let h = sc.spawn(|| exchange(ra));
            let b = exchange(rb);
            (h.join().unwrap(), b)
        });
        let show = |c: &[u8]| String::from_utf8_lossy(&c[..c.len().min(80)]).into_owned();
        assert_eq!(
            String::from_utf8_lossy(&got_a),
            String::from_utf8_lossy(&got_b),
            "reply to {:?}",
            show(case)
        );
        assert_eq!(
            closed_a,
            closed_b,
            "connection closed after {:?}",
            show(case)
        );
    }
}

/// Blanks the client id in HELLO replies (ids differ between the servers).
fn without_client_id(reply: &[u8]) -> Vec<u8> {
    let marker = b"$2\r\nid\r\n:";
    let mut out = Vec::new();
    let mut i = 0;
    while i < reply.len() {
        if reply[i..].starts_with(marker) {
            out.extend_from_slice(marker);
            out.push(b'#');
            i += marker.len();
            while i < reply.len() && reply[i].is_ascii_digit() {
                i += 1;
            }
        } else {
            out.push(reply[i]);
            i += 1;
        }
    }
    out
}
