//! The command generator: picks a command of the table, builds an argument list from its
//! COMMAND DOCS tree (option words, keys of the right and the wrong type, values from the
//! pools), mutates it now and then (drop, repeat, swap, junk), and says how its reply is
//! compared. It tracks MULTI so that snapshots and pops are never queued.

use super::check::Mode;
use super::docs::{Arg, Doc};
use super::families;
use super::pools::{self, *};
use super::rng::Rng;

/// The most negative SRANDMEMBER/HRANDFIELD/ZRANDMEMBER count sent: redis-server writes
/// every element of a negative count's reply, so larger ones would freeze the reference peer.
pub const NEGATIVE_COUNT_CAP: i64 = -100_000;

/// Whether redis-server refuses this random-pick count before building anything: `i64::MIN`
/// (outside -LONG_MAX..LONG_MAX) and, with values or scores, below -LONG_MAX/2 (`value is out
/// of range`). Those stay in the stream: they cannot freeze the reference peer.
fn refused_at_once(n: i64, args: &[Vec<u8>]) -> bool {
    let with = args
        .iter()
        .skip(3)
        .any(|a| a.eq_ignore_ascii_case(b"withvalues") || a.eq_ignore_ascii_case(b"withscores"));
    n == i64::MIN || (with && n < -(i64::MAX / 2))
}

/// Inputs that once crashed or froze redrepl (fixed on branch data, issue #10): on by default,
/// each can be turned off with its environment variable set to `0`.
#[derive(Clone, Copy, Debug)]
pub struct Switches {
    /// Large negative counts (down to [`NEGATIVE_COUNT_CAP`]) for
    /// SRANDMEMBER/HRANDFIELD/ZRANDMEMBER (they aborted the server / overflowed capacity).
    /// `REDREPL_FUZZ_HUGE_RANDOM_COUNTS=0` turns them off.
    pub huge_random_counts: bool,
    /// Exponential glob patterns for KEYS/SCAN MATCH (they froze the server).
    /// `REDREPL_FUZZ_EXPONENTIAL_GLOBS=0` turns them off.
    pub exponential_globs: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            huge_random_counts: true,
            exponential_globs: true,
        }
    }
}

/// One command to send to both servers.
#[derive(Clone, Debug)]
pub struct Op {
    /// The command line.
    pub args: Vec<Vec<u8>>,
    /// How its replies are compared.
    pub mode: Mode,
    /// After this op the key must be copied from redis-server to redrepl (SPOP).
    pub resync: Option<Vec<u8>>,
}

impl Op {
    fn new(args: Vec<Vec<u8>>, mode: Mode) -> Op {
        Op {
            args,
            mode,
            resync: None,
        }
    }

    /// Builds an exactly compared op from string words.
    pub fn words(ws: &[&str]) -> Op {
        Op::new(
            ws.iter().map(|w| w.as_bytes().to_vec()).collect(),
            Mode::Exact,
        )
    }
}

/// A command the fuzzer generates: its words (`["CLIENT", "LIST"]`), docs and weight.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The command name and subcommand, upper case.
    pub words: Vec<String>,
    /// `name` or `container|sub`, lower case.
    pub full: String,
    /// Its COMMAND DOCS entry from redis-server.
    pub doc: Doc,
    /// Relative frequency.
    pub weight: usize,
}

/// Key families; commands of a group mostly use keys of their family.
/// `k` stands for any of them; the others are keys of one type (`stream` included).
const FAMILIES: &[&str] = &["str", "list", "set", "zset", "hash", "stream", "k"];

/// Blocking commands: given small timeouts, made rarer.
pub const BLOCKING: &[&str] = &[
    "blpop",
    "brpop",
    "brpoplpush",
    "blmove",
    "blmpop",
    "bzpopmin",
    "bzpopmax",
    "bzmpop",
];

/// The generator.
pub struct Gen {
    /// The stream's randomness.
    pub rng: Rng,
    specs: Vec<Spec>,
    total_weight: usize,
    /// A MULTI is open on the connection.
    pub in_multi: bool,
    switches: Switches,
    /// Unix seconds at start: absolute expiry times are far from it in either direction.
    now_s: i64,
    /// DUMP payloads (captured at start) for RESTORE.
    payloads: Vec<Vec<u8>>,
}

fn family_of(group: &str) -> &'static str {
    match group {
        "string" => "str",
        "list" => "list",
        "set" => "set",
        "sorted-set" => "zset",
        "hash" => "hash",
        "stream" => "stream",
        _ => "k",
    }
}

impl Gen {
    /// A generator over `specs`, seeded.
    pub fn new(seed: u64, specs: Vec<Spec>, switches: Switches, payloads: Vec<Vec<u8>>) -> Gen {
        let total_weight = specs.iter().map(|s| s.weight).sum();
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        Gen {
            rng: Rng::new(seed),
            specs,
            total_weight,
            in_multi: false,
            switches,
            now_s,
            payloads,
        }
    }

    /// A key of `family` (or, one time in six, of any family).
    fn key(&mut self, family: &str) -> Vec<u8> {
        let fam = if family == "k" || self.rng.chance(170) {
            *self.rng.pick(FAMILIES)
        } else {
            family
        };
        if self.rng.chance(2) {
            return Vec::new();
        }
        format!("{fam}:{}", self.rng.below(4)).into_bytes()
    }

    fn abs_time(&mut self, millis: bool) -> Vec<u8> {
        let far = self.now_s + 100_000_000;
        let s = match self.rng.below(8) {
            0 => "1".to_string(),
            1 => "0".to_string(),
            2 => "-1".to_string(),
            3 => (self.now_s - 1000).to_string(),
            4 => "abc".to_string(),
            5 => "9223372036854775807".to_string(),
            _ => far.to_string(),
        };
        let s = if millis && s.len() > 3 && s != "9223372036854775807" {
            format!("{s}000")
        } else {
            s
        };
        s.into_bytes()
    }

    /// A value for one argument, by its kind and name.
    fn value_for(&mut self, a: &Arg, family: &str, cmd: &str) -> Vec<u8> {
        let p = |rng: &mut Rng, xs: &[&str]| rng.pick(xs).as_bytes().to_vec();
        let name = a.name.as_str();
        if let Some(v) = families::value(&mut self.rng, a, cmd) {
            return v;
        }
        match a.kind.as_str() {
            "key" => self.key(family),
            "pattern" => {
                if self.switches.exponential_globs && self.rng.chance(20) {
                    p(&mut self.rng, EXPONENTIAL_GLOBS)
                } else {
                    p(&mut self.rng, GLOBS)
                }
            }
            "unix-time" => self.abs_time(name.contains("milli")),
            "double" if name == "timeout" => p(&mut self.rng, TIMEOUTS),
            "double" if name.contains("min") || name.contains("max") => p(&mut self.rng, BOUNDS),
            "double" if name == "score" => {
                if self.rng.chance(900) {
                    p(&mut self.rng, SCORES)
                } else {
                    p(&mut self.rng, FLOATS)
                }
            }
            "double" => p(&mut self.rng, FLOATS),
            "integer" => match name {
                "seconds" => p(&mut self.rng, SECONDS),
                "milliseconds" => p(&mut self.rng, MILLIS),
                "ttl" => {
                    // Not MILLIS: near i64::MAX, Redis's `ttl + now` wraps to the past and
                    // the key is not created (redrepl creates it): dump.rs, branch rdbrepl.
                    if self.rng.chance(500) {
                        p(&mut self.rng, &["0", "-1", "1000000000", "abc", ""])
                    } else {
                        self.abs_time(true)
                    }
                }
                "numreplicas" => p(&mut self.rng, &["0", "-1", "abc"]),
                "db" | "index1" | "index2" => p(&mut self.rng, DBS),
                "index" if cmd == "select" => p(&mut self.rng, DBS),
                _ => p(&mut self.rng, INTS),
            },
            _ => match name {
                "min" | "max" | "start" | "stop" => p(&mut self.rng, BOUNDS),
                "serialized-value" if !self.payloads.is_empty() => {
                    let mut v = self.rng.pick(&self.payloads).clone();
                    if self.rng.chance(100) && !v.is_empty() {
                        let i = self.rng.below(v.len());
                        v[i] ^= 1 << self.rng.below(8);
                    }
                    v
                }
                "cursor" => p(
                    &mut self.rng,
                    &[
                        "0",
                        "0",
                        "0",
                        "1",
                        "7",
                        "-1",
                        "abc",
                        "18446744073709551615",
                        "18446744073709551616",
                    ],
                ),
                "type" => p(
                    &mut self.rng,
                    &[
                        "string", "list", "set", "zset", "hash", "stream", "nosuch", "STRING",
                    ],
                ),
                "parameter" => p(&mut self.rng, CONFIG_NAMES),
                "password" | "username" => p(&mut self.rng, &["default", "pw", "", "nopass"]),
                "clientname" | "connection-name" => p(&mut self.rng, &["fuzz", "", "a b", "x"]),
                "section" => p(
                    &mut self.rng,
                    &["server", "memory", "keyspace", "all", "nosuch"],
                ),
                _ => pools::value(&mut self.rng),
            },
        }
    }

    /// Appends the values of `a` (token included) to `out`, kinds in `kinds`.
    fn gen_arg(&mut self, a: &Arg, family: &str, cmd: &str, out: &mut Vec<(Vec<u8>, String)>) {
        if a.optional && self.rng.chance(500) {
            return;
        }
        let reps = if a.multiple { 1 + self.rng.below(4) } else { 1 };
        for i in 0..reps {
            if let Some(t) = &a.token
                && (i == 0 || a.multiple_token)
            {
                let t = if self.rng.chance(100) {
                    t.to_ascii_lowercase()
                } else {
                    t.clone()
                };
                out.push((t.into_bytes(), "token".into()));
            }
            match a.kind.as_str() {
                "pure-token" => {}
                "oneof" if !a.children.is_empty() => {
                    let c = self.rng.pick(&a.children).clone();
                    let c = Arg {
                        optional: false,
                        ..c
                    };
                    self.gen_arg(&c, family, cmd, out);
                }
                "block" => {
                    for c in a.children.clone() {
                        self.gen_arg(&c, family, cmd, out);
                    }
                }
                _ => {
                    let v = self.value_for(a, family, cmd);
                    out.push((v, a.name.clone()));
                }
            }
        }
    }

    /// Every option word of a docs tree.
    fn tokens(args: &[Arg], out: &mut Vec<String>) {
        for a in args {
            if let Some(t) = &a.token {
                out.push(t.clone());
            }
            Gen::tokens(&a.children, out);
        }
    }

    /// A random junk argument: a token of this command, a key, or a pool value.
    fn junk(&mut self, spec: &Spec, family: &str) -> Vec<u8> {
        let mut toks = Vec::new();
        Gen::tokens(&spec.doc.args, &mut toks);
        match self.rng.below(4) {
            0 if !toks.is_empty() => self.rng.pick(&toks).clone().into_bytes(),
            1 => self.key(family),
            2 => self.rng.pick(INTS).as_bytes().to_vec(),
            _ => pools::value(&mut self.rng),
        }
    }

    fn pick_spec(&mut self) -> Spec {
        let mut w = self.rng.below(self.total_weight);
        for s in &self.specs {
            if w < s.weight {
                return s.clone();
            }
            w -= s.weight;
        }
        unreachable!()
    }

    /// The arguments after the command words for `spec`.
    fn arguments(&mut self, spec: &Spec) -> Vec<Vec<u8>> {
        let family = family_of(&spec.doc.group);
        if spec.full == "debug" {
            return match self.rng.below(100) {
                0 => vec![b"RELOAD".to_vec()],
                1..=30 => vec![b"DIGEST".to_vec()],
                _ => {
                    let mut v = vec![b"DIGEST-VALUE".to_vec()];
                    for _ in 0..self.rng.below(4) {
                        let k = self.key("k");
                        v.push(k);
                    }
                    v
                }
            };
        }
        let mut out: Vec<(Vec<u8>, String)> = Vec::new();
        if self.rng.chance(40) {
            // A bag of junk of any length.
            for _ in 0..self.rng.below(9) {
                let j = self.junk(spec, family);
                out.push((j, "junk".into()));
            }
        } else {
            for a in spec.doc.args.clone() {
                self.gen_arg(&a, family, &spec.full, &mut out);
            }
            self.fix_numkeys(&mut out);
            if matches!(spec.full.as_str(), "xread" | "xreadgroup") {
                families::fix_stream_ids(&mut self.rng, &mut out);
            }
            if self.rng.chance(150) {
                self.mutate(spec, family, &mut out);
            }
        }
        out.into_iter().map(|(v, _)| v).collect()
    }

    /// `numkeys` mostly says how many keys follow (else the command is refused early).
    fn fix_numkeys(&mut self, out: &mut [(Vec<u8>, String)]) {
        if let Some(i) = out.iter().position(|(_, k)| k == "numkeys") {
            let n = out[i + 1..].iter().take_while(|(_, k)| k == "key").count();
            if self.rng.chance(800) {
                out[i].0 = n.to_string().into_bytes();
            }
        }
    }

    fn mutate(&mut self, spec: &Spec, family: &str, out: &mut Vec<(Vec<u8>, String)>) {
        let n = out.len();
        match self.rng.below(5) {
            0 if n > 0 => {
                out.remove(self.rng.below(n));
            }
            1 if n > 0 => {
                let x = out[self.rng.below(n)].clone();
                out.insert(self.rng.below(n + 1), x);
            }
            2 if n > 1 => {
                let (i, j) = (self.rng.below(n), self.rng.below(n));
                out.swap(i, j);
            }
            3 if n > 0 => {
                let j = self.junk(spec, family);
                out[self.rng.below(n)] = (j, "junk".into());
            }
            _ => {
                for _ in 0..1 + self.rng.below(3) {
                    let j = self.junk(spec, family);
                    out.push((j, "junk".into()));
                }
            }
        }
    }

    /// Keeps negative random-pick counts at or above [`NEGATIVE_COUNT_CAP`]: redis-server
    /// builds the whole reply of a negative count (`HRANDFIELD h -9223372036854775807` freezes
    /// it), so the side-by-side run cannot send astronomically large ones. Without
    /// `huge_random_counts`, counts below -1000 become -7.
    fn tame_counts(&mut self, full: &str, args: &mut [Vec<u8>]) {
        if !matches!(full, "srandmember" | "hrandfield" | "zrandmember") {
            return;
        }
        let (floor, replacement) = if self.switches.huge_random_counts {
            (NEGATIVE_COUNT_CAP, NEGATIVE_COUNT_CAP)
        } else {
            (-1000, -7)
        };
        if let Some(n) = args
            .get(2)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|s| s.parse::<i64>().ok())
            && n < floor
            && !refused_at_once(n, args)
        {
            args[2] = replacement.to_string().into_bytes();
        }
    }

    /// The next command(s): one generated command, with a snapshot before (SPOP) or after
    /// (random picks) when not inside MULTI.
    pub fn next_ops(&mut self) -> Vec<Op> {
        if !self.in_multi && self.rng.chance(8) {
            return self.reseed();
        }
        loop {
            let spec = self.pick_spec();
            let full = spec.full.as_str();
            if self.in_multi && full == "spop" {
                continue;
            }
            let mut args: Vec<Vec<u8>> = spec.words.iter().map(|w| w.as_bytes().to_vec()).collect();
            let mut rest = self.arguments(&spec);
            if matches!(full, "srandmember" | "hrandfield" | "zrandmember") {
                let mut all: Vec<Vec<u8>> = args.iter().cloned().chain(rest).collect();
                self.tame_counts(full, &mut all);
                rest = all.split_off(args.len());
            }
            if full == "hello" && rest.first().map(|p| p.as_slice()) == Some(b"3") {
                rest[0] = b"2".to_vec();
            }
            args.extend(rest);
            return self.finish(full, args);
        }
    }

    fn finish(&mut self, full: &str, mut args: Vec<Vec<u8>>) -> Vec<Op> {
        // WAIT for more replicas than there are (none) blocks until its timeout, 0 = for good.
        if full == "wait" && args.len() == 3 {
            let n = std::str::from_utf8(&args[1])
                .ok()
                .and_then(|s| s.parse::<i64>().ok());
            if n.is_some_and(|n| n > 0) {
                args[1] = b"0".to_vec();
            }
        }
        tame_expiry(full, &mut args);
        tame_blocking_timeout(full, &mut args);
        families::tame_stream_times(&mut self.rng, full, &mut args);
        let key = args.get(1).cloned().unwrap_or_default();
        let exact_words = args.len() == 1;
        match full {
            "multi" if exact_words => self.in_multi = true,
            // An EXEC with arguments ends the transaction too (EXECABORT), as Redis does.
            "exec" => self.in_multi = false,
            "discard" | "reset" if exact_words => self.in_multi = false,
            _ => {}
        }
        let mode = match full {
            "smembers" | "sinter" | "sunion" | "sdiff" | "hkeys" | "hvals" | "keys" => {
                Mode::Unordered
            }
            "hgetall" | "config|get" => Mode::UnorderedPairs,
            "info" | "time" | "lastsave" | "client|id" | "client|list" | "client|info" | "dump"
            | "hello" | "randomkey" => Mode::Shape,
            "object|idletime" => Mode::Near(2),
            "xpending" | "xinfo|consumers" | "xinfo|stream" => Mode::Timed,
            // Libraries and their functions are kept in hash tables (dict order).
            "function|list" => Mode::DeepUnordered,
            "function|dump" => Mode::Shape,
            // Both servers read their clock when the TTL is set and when it is read; under
            // load (8 builds on 2 cores) the same batch reached them seconds apart.
            "ttl" | "expiretime" => Mode::Near(10),
            "pttl" | "pexpiretime" => Mode::Near(10_000),
            "scan" | "sscan" | "hscan" | "zscan" => {
                let cursor = if full == "scan" {
                    args.get(1)
                } else {
                    args.get(2)
                };
                Mode::Scan {
                    pairs: full == "hscan" || full == "zscan",
                    from_start: cursor.is_some_and(|c| c.as_slice() == b"0"),
                }
            }
            "srandmember" | "hrandfield" | "zrandmember" => {
                let count = args
                    .get(2)
                    .and_then(|c| std::str::from_utf8(c).ok())
                    .and_then(|s| s.parse::<i64>().ok());
                Mode::Pick {
                    pairs: args.len() >= 4,
                    distinct: count.is_some_and(|c| c >= 0),
                    snapshot: !self.in_multi && args.len() >= 2,
                }
            }
            "spop" => Mode::Pop,
            _ => Mode::Exact,
        };
        let snapshot = |pairs_kind: &str, key: &[u8], after_pick: bool| -> Op {
            let (cmd, pairs): (&[&str], bool) = match pairs_kind {
                "hrandfield" => (&["HGETALL"], true),
                "zrandmember" => (&["ZRANGE"], true),
                _ => (&["SMEMBERS"], false),
            };
            let mut a: Vec<Vec<u8>> = cmd.iter().map(|w| w.as_bytes().to_vec()).collect();
            a.push(key.to_vec());
            if pairs_kind == "zrandmember" {
                a.extend([b"0".to_vec(), b"-1".to_vec(), b"WITHSCORES".to_vec()]);
            }
            Op::new(a, Mode::Snapshot { pairs, after_pick })
        };
        match &mode {
            Mode::Pick { snapshot: true, .. } => {
                let snap = snapshot(full, &key, true);
                vec![Op::new(args, mode), snap]
            }
            Mode::Pop if args.len() >= 2 => {
                let snap = snapshot(full, &key, false);
                let mut op = Op::new(args, mode);
                op.resync = Some(key);
                vec![snap, op]
            }
            _ => vec![Op::new(args, mode)],
        }
    }

    /// Recreates one key with a value of its family's type: empty to large (beyond the
    /// listpack/intset limits), so every encoding is exercised.
    pub fn reseed(&mut self) -> Vec<Op> {
        let fam = *self.rng.pick(FAMILIES);
        let fam = if fam == "k" {
            *self.rng.pick(&FAMILIES[..6])
        } else {
            fam
        };
        let key = format!(
            "{}:{}",
            if self.rng.chance(300) { "k" } else { fam },
            self.rng.below(4)
        );
        let n = *self.rng.pick(&[1usize, 3, 5, 20, 130, 600]);
        let kb = key.clone().into_bytes();
        let mut args: Vec<Vec<u8>> = Vec::new();
        let ints = self.rng.chance(500);
        let item = |g: &mut Gen, i: usize| -> Vec<u8> {
            if ints {
                (i as i64 * 3 - 7).to_string().into_bytes()
            } else {
                let mut v = pools::value(&mut g.rng);
                if v.len() < (1 << 20) {
                    v.extend_from_slice(format!("#{i}").as_bytes());
                }
                v
            }
        };
        match fam {
            "str" => {
                args.push(b"SET".to_vec());
                args.push(kb.clone());
                let v = pools::value(&mut self.rng);
                args.push(v);
            }
            "list" => {
                args.push(b"RPUSH".to_vec());
                args.push(kb.clone());
                for i in 0..n {
                    args.push(item(self, i));
                }
            }
            "set" => {
                args.push(b"SADD".to_vec());
                args.push(kb.clone());
                for i in 0..n {
                    args.push(item(self, i));
                }
            }
            "zset" => {
                args.push(b"ZADD".to_vec());
                args.push(kb.clone());
                // Half of them with one score for all, where the lex commands are defined.
                let same = self.rng.chance(500);
                for i in 0..n.min(200) {
                    let score = if same { "0" } else { *self.rng.pick(SCORES) };
                    args.push(score.as_bytes().to_vec());
                    args.push(item(self, i));
                }
            }
            "stream" => {
                let mut ops = vec![Op::new(vec![b"DEL".to_vec(), kb.clone()], Mode::Exact)];
                for cmd in families::stream_seed(&mut self.rng, &kb, n.min(130)) {
                    ops.push(Op::new(cmd, Mode::Exact));
                }
                return ops;
            }
            _ => {
                args.push(b"HSET".to_vec());
                args.push(kb.clone());
                for i in 0..n.min(200) {
                    args.push(format!("f{i}").into_bytes());
                    args.push(item(self, i));
                }
            }
        }
        vec![
            Op::new(vec![b"DEL".to_vec(), kb], Mode::Exact),
            Op::new(args, Mode::Exact),
        ]
    }
}

/// Relative expiries the two servers would reach at different instants (from 1 ms to ~11
/// days; a mutation or RESTORE's ttl drawn for ABSTTL can produce them) become 11.6 days:
/// SET/GETEX EX|PX, SETEX, PSETEX, EXPIRE, PEXPIRE, RESTORE without ABSTTL.
/// A blocking command whose timeout argument came out of another pool (a mutated arity
/// shifts any value into the timeout's place, e.g. `BZPOPMAX 1 zset:2 1.5 d 100 42`) would
/// block both servers for that long on empty keys: a valid timeout of 0 (for good) or more
/// than a few milliseconds, hex (strtold reads it) included, becomes 0.01. Refused timeouts
/// stay as they are.
fn tame_blocking_timeout(full: &str, args: &mut [Vec<u8>]) {
    if !BLOCKING.contains(&full) || args.len() < 3 {
        return;
    }
    let at = match full {
        "blmpop" | "bzmpop" => 1,
        _ => args.len() - 1,
    };
    let text = String::from_utf8_lossy(&args[at]).to_ascii_lowercase();
    let unsigned = text.trim_start_matches(['+', '-']);
    let blocks = unsigned.starts_with("0x")
        || text
            .parse::<f64>()
            .is_ok_and(|v| v.is_finite() && (v == 0.0 || v >= 0.05));
    if blocks {
        args[at] = b"0.01".to_vec();
    }
}

fn tame_expiry(full: &str, args: &mut [Vec<u8>]) {
    let int = |a: &[u8]| {
        std::str::from_utf8(a)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
    };
    let mut positions: Vec<(usize, bool)> = Vec::new();
    match full {
        "setex" | "expire" => positions.push((2, false)),
        "psetex" | "pexpire" => positions.push((2, true)),
        // RESTORE-ASKING takes RESTORE's arguments: its relative TTL was left untamed, so a
        // key restored with a 1 ms TTL expired at different commands on the two servers
        // under load (seed 3: `RESTORE-ASKING stream:0 1 ...`, then XACK `:0` vs WRONGTYPE).
        "restore" | "restore-asking" if !args.iter().any(|a| a.eq_ignore_ascii_case(b"ABSTTL")) => {
            positions.push((2, true))
        }
        "set" | "getex" => {
            for (i, a) in args.iter().enumerate().skip(2) {
                if a.eq_ignore_ascii_case(b"EX") {
                    positions.push((i + 1, false));
                } else if a.eq_ignore_ascii_case(b"PX") {
                    positions.push((i + 1, true));
                }
            }
        }
        _ => {}
    }
    for (i, millis) in positions {
        let far: i64 = if millis { 1_000_000_000 } else { 1_000_000 };
        if args
            .get(i)
            .and_then(|a| int(a))
            .is_some_and(|t| (1..far).contains(&t))
        {
            args[i] = far.to_string().into_bytes();
        }
    }
}
