//! COMMAND and its subcommands side by side with Debian's redis-server 7.0: COMMAND INFO and
//! COMMAND DOCS of every implemented command equal to redis-server's in RESP2 and RESP3
//! (byte for byte, except that a container lists only the subcommands redrepl implements,
//! and Redis's subcommand order is its dict's), COMMAND LIST/COUNT consistent with that,
//! GETKEYS / GETKEYSANDFLAGS and their errors equal.

mod common;

use common::{Server, resp};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One reply, with its RESP type kept (a set is not an array), and its exact bytes.
#[derive(Debug, Clone, PartialEq)]
enum R {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Null,
    NullBulk,
    NullArray,
    Array(Vec<R>),
    Set(Vec<R>),
    Map(Vec<(R, R)>),
}

impl R {
    fn items(&self) -> &[R] {
        match self {
            R::Array(v) | R::Set(v) => v,
            _ => &[],
        }
    }
    fn text(&self) -> String {
        match self {
            R::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            R::Simple(s) => s.clone(),
            other => format!("{other:?}"),
        }
    }
}

/// A connection that reads whole replies (RESP2 or RESP3).
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(port: u16, proto: u8) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut c = Conn {
            reader: BufReader::new(stream),
        };
        if proto == 3 {
            c.query(&["HELLO", "3"]);
        }
        c
    }

    /// Sends a command, returns its reply and the reply's bytes.
    fn query_raw(&mut self, args: &[&str]) -> (R, Vec<u8>) {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.reader.get_mut().write_all(&resp(&args)).unwrap();
        let mut raw = Vec::new();
        let r = self.read(&mut raw);
        (r, raw)
    }

    fn query(&mut self, args: &[&str]) -> R {
        self.query_raw(args).0
    }

    fn read(&mut self, raw: &mut Vec<u8>) -> R {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).expect("read");
        raw.extend_from_slice(&line);
        assert!(line.ends_with(b"\r\n"), "truncated reply {line:?}");
        let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let n = || text.parse::<i64>().unwrap();
        match line[0] {
            b'+' => R::Simple(text),
            b'-' => R::Error(text),
            b':' => R::Int(n()),
            b'_' => R::Null,
            b'$' if n() < 0 => R::NullBulk,
            b'*' if n() < 0 => R::NullArray,
            b'$' => {
                let mut body = vec![0; n() as usize + 2];
                self.reader.read_exact(&mut body).unwrap();
                raw.extend_from_slice(&body);
                body.truncate(n() as usize);
                R::Bulk(body)
            }
            b'*' => R::Array((0..n()).map(|_| self.read(raw)).collect()),
            b'~' => R::Set((0..n()).map(|_| self.read(raw)).collect()),
            b'%' => R::Map((0..n()).map(|_| (self.read(raw), self.read(raw))).collect()),
            other => panic!("unexpected reply type {}", other as char),
        }
    }
}

/// Both engines, started once per test.
struct Pair {
    ours: Server,
    theirs: Server,
}

impl Pair {
    fn start() -> Pair {
        Pair {
            ours: Server::start(&[]),
            theirs: Server::start_redis(&[]),
        }
    }

    fn conns(&self, proto: u8) -> (Conn, Conn) {
        (
            Conn::open(self.ours.port, proto),
            Conn::open(self.theirs.port, proto),
        )
    }
}

/// The full names redrepl implements (COMMAND LIST).
fn implemented(c: &mut Conn) -> BTreeSet<String> {
    c.query(&["COMMAND", "LIST"])
        .items()
        .iter()
        .map(R::text)
        .collect()
}

/// Keeps only the subcommands in `keep` of a COMMAND INFO entry, sorted by name.
fn info_with_subs(entry: &R, keep: &BTreeSet<String>) -> R {
    let mut items = entry.items().to_vec();
    if let Some(R::Set(subs) | R::Array(subs)) = items.get_mut(9) {
        subs.retain(|s| keep.contains(&s.items()[0].text()));
        subs.sort_by_key(|s| s.items()[0].text());
    }
    R::Array(items)
}

/// Keeps only the subcommands in `keep` of a COMMAND DOCS entry, sorted by name.
fn docs_with_subs(entry: &R, keep: &BTreeSet<String>) -> R {
    let R::Map(fields) = entry else {
        return entry.clone();
    };
    let fields = fields
        .iter()
        .map(|(k, v)| match (k.text().as_str(), v) {
            ("subcommands", R::Map(subs)) => {
                let mut subs: Vec<(R, R)> = subs
                    .iter()
                    .filter(|(n, _)| keep.contains(&n.text()))
                    .cloned()
                    .collect();
                subs.sort_by_key(|(n, _)| n.text());
                (k.clone(), R::Map(subs))
            }
            ("subcommands", R::Array(flat)) => {
                let mut subs: Vec<(R, R)> = flat
                    .chunks(2)
                    .filter(|p| keep.contains(&p[0].text()))
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect();
                subs.sort_by_key(|(n, _)| n.text());
                let flat = subs.into_iter().flat_map(|(a, b)| [a, b]).collect();
                (k.clone(), R::Array(flat))
            }
            _ => (k.clone(), v.clone()),
        })
        .collect();
    R::Map(fields)
}

/// The top-level names of a full-name list.
fn top_level(names: &BTreeSet<String>) -> Vec<String> {
    names.iter().filter(|n| !n.contains('|')).cloned().collect()
}

#[test]
fn command_info_equals_redis_server_for_every_implemented_command() {
    let pair = Pair::start();
    for proto in [2, 3] {
        let (mut ours, mut theirs) = pair.conns(proto);
        let names = implemented(&mut ours);
        let redis_names = implemented(&mut theirs);
        assert!(
            names.is_subset(&redis_names),
            "not Redis 7.0 commands: {:?}",
            names.difference(&redis_names).collect::<Vec<_>>()
        );
        for name in top_level(&names) {
            let (o, o_raw) = ours.query_raw(&["COMMAND", "INFO", &name]);
            let (t, t_raw) = theirs.query_raw(&["COMMAND", "INFO", &name]);
            let has_subs = !o.items()[0].items()[9].items().is_empty();
            if has_subs {
                let o = info_with_subs(&o.items()[0], &names);
                let t = info_with_subs(&t.items()[0], &names);
                assert_eq!(o, t, "RESP{proto} COMMAND INFO {name}");
            } else {
                assert_eq!(
                    String::from_utf8_lossy(&o_raw),
                    String::from_utf8_lossy(&t_raw),
                    "RESP{proto} COMMAND INFO {name}"
                );
            }
        }
        // Subcommands by full name, and names that are not implemented: nil.
        let (o, t) = (
            ours.query_raw(&["COMMAND", "INFO", "client|list", "config|get", "nosuch"]),
            theirs.query_raw(&["COMMAND", "INFO", "client|list", "config|get", "nosuch"]),
        );
        assert_eq!(o.1, t.1, "RESP{proto} COMMAND INFO of subcommands");
        // COMMAND and COMMAND INFO without names: every implemented top-level command.
        let all: BTreeSet<String> = ours
            .query(&["COMMAND"])
            .items()
            .iter()
            .map(|e| e.items()[0].text())
            .collect();
        assert_eq!(all, top_level(&names).into_iter().collect());
        assert_eq!(ours.query(&["COMMAND", "INFO"]).items().len(), all.len());
        assert_eq!(ours.query(&["COMMAND", "COUNT"]), R::Int(all.len() as i64));
    }
}

#[test]
fn command_docs_equal_redis_server_for_every_implemented_command() {
    let pair = Pair::start();
    for proto in [2, 3] {
        let (mut ours, mut theirs) = pair.conns(proto);
        let names = implemented(&mut ours);
        for name in top_level(&names) {
            let (o, o_raw) = ours.query_raw(&["COMMAND", "DOCS", &name]);
            let (t, t_raw) = theirs.query_raw(&["COMMAND", "DOCS", &name]);
            if o_raw == t_raw {
                continue;
            }
            // Only a container may differ, and only in its subcommands' order or number.
            let entry = |r: &R| match r {
                R::Map(m) => m[0].1.clone(),
                R::Array(a) => R::Map(
                    a[1].items()
                        .chunks(2)
                        .map(|p| (p[0].clone(), p[1].clone()))
                        .collect(),
                ),
                other => panic!("{other:?}"),
            };
            let fields = |r: &R| match r {
                R::Array(a) if proto == 2 => {
                    R::Map(a.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect())
                }
                other => other.clone(),
            };
            let o = docs_with_subs(&fields(&entry(&o)), &names);
            let t = docs_with_subs(&fields(&entry(&t)), &names);
            assert_eq!(o, t, "RESP{proto} COMMAND DOCS {name}");
        }
        let args = ["COMMAND", "DOCS", "get", "client|list", "nosuch"];
        assert_eq!(
            String::from_utf8_lossy(&ours.query_raw(&args).1),
            String::from_utf8_lossy(&theirs.query_raw(&args).1)
        );
        let all = ours.query(&["COMMAND", "DOCS"]);
        let count = match &all {
            R::Map(m) => m.len(),
            R::Array(a) => a.len() / 2,
            other => panic!("{other:?}"),
        };
        assert_eq!(count, top_level(&names).len());
    }
}

#[test]
fn command_list_filters_and_count_agree_with_redis_server() {
    let pair = Pair::start();
    let (mut ours, mut theirs) = pair.conns(2);
    let names = implemented(&mut ours);
    assert!(names.contains("client|list") && names.contains("get"));
    let filters: &[&[&str]] = &[
        &["FILTERBY", "PATTERN", "client*"],
        &["FILTERBY", "PATTERN", "H?ET"],
        &["FILTERBY", "ACLCAT", "CONNECTION"],
        &["FILTERBY", "ACLCAT", "write"],
        &["FILTERBY", "ACLCAT", "nosuch"],
        &["FILTERBY", "MODULE", "x"],
    ];
    for f in filters {
        let args: Vec<&str> = ["COMMAND", "LIST"]
            .iter()
            .chain(f.iter())
            .copied()
            .collect();
        let o: BTreeSet<String> = ours.query(&args).items().iter().map(R::text).collect();
        let t: BTreeSet<String> = theirs.query(&args).items().iter().map(R::text).collect();
        let t: BTreeSet<String> = t.intersection(&names).cloned().collect();
        assert_eq!(o, t, "{args:?}");
    }
    let errors: &[&[&str]] = &[
        &["COMMAND", "LIST", "FILTERBY"],
        &["COMMAND", "LIST", "FILTERBY", "foo", "x"],
        &["COMMAND", "LIST", "x"],
        &["COMMAND", "COUNT", "x"],
        &["COMMAND", "HELP", "x"],
        &["COMMAND", "NOSUCH"],
        &["COMMAND", "HELP"],
    ];
    for e in errors {
        assert_eq!(ours.query(e), theirs.query(e), "{e:?}");
    }
}

#[test]
fn getkeys_and_flags_equal_redis_server() {
    let pair = Pair::start();
    let cases: &[&[&str]] = &[
        &["GETKEYS", "set", "a", "b"],
        &["GETKEYSANDFLAGS", "set", "a", "b"],
        &["GETKEYSANDFLAGS", "set", "a", "b", "GET"],
        &["GETKEYSANDFLAGS", "SET", "a", "b", "EX", "10", "get"],
        &["GETKEYS", "mset", "a", "1", "b", "2"],
        &["GETKEYSANDFLAGS", "mset", "a", "1", "b", "2"],
        &["GETKEYS", "mset", "a", "1", "b"],
        &["GETKEYS", "del", "a", "b", "c"],
        &["GETKEYSANDFLAGS", "rename", "a", "b"],
        &[
            "GETKEYSANDFLAGS",
            "zunionstore",
            "d",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "1",
            "2",
        ],
        &["GETKEYS", "zunionstore", "d", "1abc", "a"],
        &["GETKEYS", "zunionstore", "d", "x", "a"],
        &["GETKEYS", "zunionstore", "d", "0", "a"],
        &["GETKEYS", "zunionstore", "d", "5", "a"],
        &["GETKEYS", "zunionstore", "d", "-1", "a"],
        &["GETKEYSANDFLAGS", "zinter", "2", "a", "b"],
        &["GETKEYSANDFLAGS", "zintercard", "2", "a", "b", "LIMIT", "1"],
        &["GETKEYSANDFLAGS", "sintercard", "2", "a", "b"],
        &["GETKEYSANDFLAGS", "lmpop", "2", "a", "b", "LEFT"],
        &["GETKEYSANDFLAGS", "blmpop", "0", "2", "a", "b", "LEFT"],
        &["GETKEYSANDFLAGS", "bzmpop", "0", "1", "a", "MIN"],
        &["GETKEYSANDFLAGS", "zmpop", "1", "a", "MAX"],
        &["GETKEYSANDFLAGS", "blpop", "a", "b", "0"],
        &["GETKEYSANDFLAGS", "lmove", "a", "b", "LEFT", "RIGHT"],
        &["GETKEYS", "object", "encoding", "k"],
        &["GETKEYSANDFLAGS", "getex", "k", "PERSIST"],
        &["GETKEYS", "ping"],
        &["GETKEYS", "client", "list"],
        &["GETKEYS", "nosuch", "a"],
        &["GETKEYS", "get", "a", "b"],
        &["GETKEYS", "get"],
        &["GETKEYS"],
        &["GETKEYS", "client", "nosuch"],
    ];
    for proto in [2, 3] {
        let (mut ours, mut theirs) = pair.conns(proto);
        for c in cases {
            let args: Vec<&str> = std::iter::once("COMMAND")
                .chain(c.iter().copied())
                .collect();
            let (_, o) = ours.query_raw(&args);
            let (_, t) = theirs.query_raw(&args);
            assert_eq!(
                String::from_utf8_lossy(&o),
                String::from_utf8_lossy(&t),
                "RESP{proto} {args:?}"
            );
        }
    }
}

/// GETKEYS/GETKEYSANDFLAGS of the commands whose keys Redis finds with a procedure of its
/// own (their key specs are incomplete or keyword-based: SORT's STORE, MIGRATE's KEYS,
/// BITFIELD's flags by subcommand, GEORADIUS's STORE/STOREDIST, XREAD's STREAMS, the
/// numkeys families), each over many argument lists, answered as redis-server does.
#[test]
fn getkeys_of_commands_with_key_procedures_equal_redis_server() {
    let lines: &[&str] = &[
        "SORT k",
        "SORT k STORE d",
        "SORT k BY x STORE d LIMIT 0 1 STORE e",
        "SORT k LIMIT store x STORE",
        "SORT k LIMIT 1 STORE d",
        "SORT k GET store STORE d",
        "SORT k STORE",
        "SORT k STORE STORE STORE",
        "SORT k BY STORE STORE x",
        "SORT k store d alpha desc",
        "SORT_RO k STORE d",
        "MIGRATE h 1 k 0 5",
        "MIGRATE h 1 k 0 5 KEYS",
        "MIGRATE h 1 k 0 5 KEYS a b",
        "MIGRATE h 1 k 0 5 COPY",
        "MIGRATE h 1  0 5",
        "MIGRATE h 1  0 5 KEYS",
        "MIGRATE h 1  0 5 KEYS a b",
        "MIGRATE h 1  0 5 keys a",
        "MIGRATE h 1  0 5 AUTH keys KEYS a b",
        "MIGRATE h 1  0 5 COPY REPLACE AUTH2 u p KEYS a",
        "BITFIELD k",
        "BITFIELD k GET u8 0",
        "BITFIELD k GET u8 0 OVERFLOW SAT",
        "BITFIELD k SET u8 0 1",
        "BITFIELD k INCRBY u8 0 1",
        "BITFIELD k set",
        "BITFIELD k GET set 0",
        "BITFIELD k OVERFLOW set",
        "BITFIELD_RO k GET u8 0",
        "GEORADIUS k 1 2 3 m",
        "GEORADIUS k 1 2 3 m STORE d",
        "GEORADIUS k 1 2 3 m STOREDIST d STORE e",
        "GEORADIUS k 1 2 3 m WITHDIST STORE",
        "GEORADIUSBYMEMBER k m 3 km STORE d",
        "GEORADIUSBYMEMBER k m 3 km STOREDIST d",
        "GEORADIUS_RO k 1 2 3 m STORE d",
        "GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 m",
        "XREAD STREAMS a b 0 0",
        "XREAD COUNT 1 STREAMS a 0",
        "XREAD STREAMS a b 0",
        "XREAD STREAMS STREAMS STREAMS 0 0",
        "XREADGROUP GROUP g c STREAMS a b 0 0",
        "XREADGROUP GROUP g c COUNT 1 BLOCK 0 NOACK STREAMS a 0",
        "EVAL s 2 a b c",
        "EVAL s 0",
        "EVALSHA s 1 a",
        "EVAL_RO s 1 a",
        "FCALL f 1 a b",
        "FCALL_RO f 2 a",
        "ZUNIONSTORE d 2 a b",
        "ZUNION 2 a b",
        "ZDIFFSTORE d 2 a b",
        "ZINTERCARD 2 a b",
        "SINTERCARD 2 a b",
        "LMPOP 2 a b LEFT",
        "BLMPOP 0 2 a b LEFT",
        "ZMPOP 1 a MIN",
        "BZMPOP 0 1 a MIN",
    ];
    let pair = Pair::start();
    for proto in [2, 3] {
        let (mut ours, mut theirs) = pair.conns(proto);
        for line in lines {
            for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                let args: Vec<&str> = ["COMMAND", sub]
                    .into_iter()
                    .chain(line.split(' '))
                    .collect();
                let (_, o) = ours.query_raw(&args);
                let (_, t) = theirs.query_raw(&args);
                assert_eq!(
                    String::from_utf8_lossy(&o),
                    String::from_utf8_lossy(&t),
                    "RESP{proto} {args:?}"
                );
            }
        }
    }
}

/// The `redis` crate, in RESP2 and RESP3, reads our COMMAND replies as it reads Redis's.
#[test]
fn redis_crate_parses_command_replies() {
    let pair = Pair::start();
    for url_suffix in ["", "?protocol=resp3"] {
        for server in [&pair.ours, &pair.theirs] {
            let client = redis::Client::open(format!("{}{url_suffix}", server.url())).unwrap();
            let mut con = client.get_connection().unwrap();
            for args in [
                &["COMMAND"][..],
                &["COMMAND", "INFO", "get", "client", "nosuch"],
                &["COMMAND", "DOCS"],
                &["COMMAND", "GETKEYSANDFLAGS", "set", "a", "b"],
            ] {
                let mut cmd = redis::cmd(args[0]);
                cmd.arg(&args[1..]);
                let v: redis::Value = cmd
                    .query(&mut con)
                    .unwrap_or_else(|e| panic!("{args:?} {url_suffix}: {e}"));
                assert!(
                    !matches!(v, redis::Value::ServerError(_)),
                    "{args:?} {url_suffix}: {v:?}"
                );
            }
        }
    }
}
