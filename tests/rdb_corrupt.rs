//! Old and damaged serialized data: hashes in the zipmap encoding (Redis < 2.6) load as in
//! redis-server 7.0, a dump with a wrong CRC64 is refused with Redis's log lines, and RESTORE
//! of corrupted DUMP payloads (every type and encoding, from redis-server and from us) answers
//! OK or Redis's error, never takes the server down and never stores a half-decoded key
//! (Redis with `sanitize-dump-payload yes`).

mod common;

use common::repl::{Rng, error_text, text};
use common::{Kind, Server};
use redis::{ConnectionLike, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEBUG: &[&str] = &["--enable-debug-command", "yes"];
const BAD_FORMAT: &str = "ERR Bad data format";
const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";

/// Runs one command given as byte arguments; server errors come back as values.
fn run(con: &mut redis::Connection, args: &[&[u8]]) -> Value {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        c.arg(*a);
    }
    con.req_packed_command(&c.get_packed_command())
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(args[0])))
}

fn run_s(con: &mut redis::Connection, args: &[&str]) -> Value {
    let b: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    run(con, &b)
}

// ---------------------------------------------------------------------------------------
// Building RDB files and payloads by hand.

/// An RDB string: 6-bit, 14-bit or 32-bit length, then the bytes.
fn rdb_string(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// A zipmap length: one byte below 254, else 254 and 4 bytes little-endian.
fn zipmap_len(out: &mut Vec<u8>, n: usize) {
    if n < 254 {
        out.push(n as u8);
    } else {
        out.push(254);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
}

/// A zipmap (zipmap.c): count byte (254 when unknown), `<len>field<len><free>value<free>`
/// entries, end byte 255. `free` bytes of slack follow every value, as after an update.
fn zipmap(pairs: &[(Vec<u8>, Vec<u8>)], free: u8, count_unknown: bool) -> Vec<u8> {
    let mut z = vec![if count_unknown || pairs.len() >= 254 {
        254
    } else {
        pairs.len() as u8
    }];
    for (f, v) in pairs {
        zipmap_len(&mut z, f.len());
        z.extend_from_slice(f);
        zipmap_len(&mut z, v.len());
        z.push(free);
        z.extend_from_slice(v);
        z.extend(std::iter::repeat_n(b'#', free as usize));
    }
    z.push(255);
    z
}

/// A ziplist (ziplist.c) of short strings: header, entries with previous-entry lengths, end.
fn ziplist(items: &[&[u8]]) -> Vec<u8> {
    let mut z = vec![0u8; 10];
    let (mut prev, mut tail) = (0usize, 10usize);
    for it in items {
        assert!(it.len() < 64 && prev < 254);
        tail = z.len();
        z.push(prev as u8);
        z.push(it.len() as u8);
        z.extend_from_slice(it);
        prev = 2 + it.len();
    }
    z.push(255);
    let n = z.len() as u32;
    z[0..4].copy_from_slice(&n.to_le_bytes());
    z[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
    z[8..10].copy_from_slice(&(items.len() as u16).to_le_bytes());
    z
}

/// A DUMP payload: value, RDB version (little-endian), CRC64 of both.
fn sign(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64::crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// A whole RDB file: header, one database of `entries` (type byte, key, value body), EOF
/// and CRC64 (or the given wrong one).
fn rdb_file(version: &str, entries: &[(u8, &[u8], Vec<u8>)], crc: Option<u64>) -> Vec<u8> {
    let mut f = format!("REDIS{version}").into_bytes();
    f.extend_from_slice(&[0xFE, 0]);
    for (t, key, body) in entries {
        f.push(*t);
        rdb_string(&mut f, key);
        f.extend_from_slice(body);
    }
    f.push(0xFF);
    let c = crc.unwrap_or_else(|| crc64::crc64(0, &f));
    f.extend_from_slice(&c.to_le_bytes());
    f
}

/// Starts a server of `kind` on a copy of `dump` (as `dump.rdb` in a directory of its own).
fn start_on(kind: Kind, dump: &[u8], dir: &Path) -> Server {
    std::fs::write(dir.join("dump.rdb"), dump).unwrap();
    let d = dir.to_str().unwrap();
    Server::start_kind(
        kind,
        &[
            "--dir",
            d,
            "--dbfilename",
            "dump.rdb",
            "--enable-debug-command",
            "yes",
        ],
    )
}

/// Fields and values of a hash, sorted, as text.
fn hgetall_sorted(con: &mut redis::Connection, key: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL").arg(key).query(con).unwrap();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------
// Zipmap hashes.

fn zipmap_fixture() -> Vec<(u8, &'static [u8], Vec<u8>)> {
    let bv = |s: &str| s.as_bytes().to_vec();
    let small = vec![
        (bv("name"), bv("redis")),
        (bv("n"), bv("12345")),
        (bv("empty"), bv("")),
    ];
    let big_value = vec![(bv("f"), vec![b'x'; 300]), (bv("g"), bv("1"))];
    let many: Vec<_> = (0..600)
        .map(|i| {
            (
                format!("field:{i}").into_bytes(),
                format!("{i}").into_bytes(),
            )
        })
        .collect();
    let body = |pairs: &[(Vec<u8>, Vec<u8>)], free: u8, unknown: bool| {
        let mut b = Vec::new();
        rdb_string(&mut b, &zipmap(pairs, free, unknown));
        b
    };
    vec![
        (9, b"zm:small".as_slice(), body(&small, 0, false)),
        (9, b"zm:free".as_slice(), body(&small, 3, true)),
        (9, b"zm:bigvalue".as_slice(), body(&big_value, 1, false)),
        (9, b"zm:many".as_slice(), body(&many, 0, true)),
    ]
}

#[test]
fn zipmap_hashes_load_as_in_redis() {
    let dump = rdb_file("0006", &zipmap_fixture(), None);
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ours = start_on(Kind::Redrepl, &dump, d1.path());
    let redis = start_on(Kind::Redis, &dump, d2.path());
    let (mut a, mut b) = (ours.conn(), redis.conn());
    assert_eq!(text(&run_s(&mut a, &["DBSIZE"])), "4");
    for key in ["zm:small", "zm:free", "zm:bigvalue", "zm:many"] {
        assert_eq!(
            hgetall_sorted(&mut a, key),
            hgetall_sorted(&mut b, key),
            "{key}"
        );
        assert_eq!(
            text(&run_s(&mut a, &["OBJECT", "ENCODING", key])),
            text(&run_s(&mut b, &["OBJECT", "ENCODING", key])),
            "encoding of {key}"
        );
    }
    assert_eq!(
        text(&run_s(&mut a, &["HGET", "zm:free", "name"])),
        "redis",
        "free bytes after a value are not part of it"
    );
    assert_eq!(
        text(&run_s(&mut a, &["DEBUG", "DIGEST"])),
        text(&run_s(&mut b, &["DEBUG", "DIGEST"]))
    );
    // The same value as a DUMP payload (type 9) restores on both.
    let (t, _, body) = &zipmap_fixture()[0];
    let mut v = vec![*t];
    v.extend_from_slice(body);
    let payload = sign(&v, 6);
    for con in [&mut a, &mut b] {
        assert_eq!(
            text(&run(con, &[b"RESTORE", b"zm:r", b"0", &payload])),
            "OK"
        );
        assert_eq!(hgetall_sorted(con, "zm:r"), hgetall_sorted(con, "zm:small"));
    }
}

// ---------------------------------------------------------------------------------------
// Wrong CRC64.

/// Runs `redrepl server` or redis-server on `dir/dump.rdb` until it exits (at most 20 s) and
/// returns (exit success, its output).
fn run_until_exit(kind: Kind, dir: &Path) -> (bool, String) {
    let port = common::free_port().to_string();
    let d = dir.to_str().unwrap();
    let mut cmd = match kind {
        Kind::Redrepl => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_redrepl"));
            c.arg("server");
            c
        }
        Kind::Redis => Command::new("redis-server"),
    };
    let out_path = dir.join("out.log");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = cmd
        .args(["--port", &port, "--save", "", "--dir", d])
        .args(["--dbfilename", "dump.rdb", "--appendonly", "no"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            common::kill_pid(child.id() as i32);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = std::fs::read_to_string(&out_path).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("{kind:?} still running after 20 s:\n{log}"));
    (status.success(), log)
}

#[test]
fn a_wrong_crc64_is_refused_with_redis_log_lines() {
    let entries = vec![(0u8, b"k".as_slice(), {
        let mut b = Vec::new();
        rdb_string(&mut b, b"v");
        b
    })];
    let good = rdb_file("0010", &entries, None);
    let right = u64::from_le_bytes(good[good.len() - 8..].try_into().unwrap());
    // A stored CRC with a leading zero nibble: Redis prints it without padding (%llx).
    let wrong = right.wrapping_add(12345) & 0x0FFF_FFFF_FFFF_FFFF;
    assert_ne!(wrong, right);
    let bad = rdb_file("0010", &entries, Some(wrong));
    let expected =
        format!("Wrong RDB checksum expected: ({right:x}) but got ({wrong:x}). Aborting now.");
    for kind in [Kind::Redrepl, Kind::Redis] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dump.rdb"), &bad).unwrap();
        let (ok, log) = run_until_exit(kind, dir.path());
        assert!(!ok, "{kind:?} started on a dump with a wrong CRC64:\n{log}");
        let lines: Vec<&str> = log.lines().collect();
        assert!(
            lines.iter().any(|l| l.ends_with(&format!(" # {expected}"))),
            "{kind:?} log lacks {expected:?}:\n{log}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains(" # ") && l.contains("RDB CRC error")),
            "{kind:?} log lacks 'RDB CRC error':\n{log}"
        );
        // The file is left as it was.
        assert_eq!(std::fs::read(dir.path().join("dump.rdb")).unwrap(), bad);
    }
}

// ---------------------------------------------------------------------------------------
// Corrupted DUMP payloads.

/// Creates one key of every type and encoding on a server.
fn populate(con: &mut redis::Connection) {
    let many = |prefix: &str, n: usize| -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>()
    };
    let mut cmds: Vec<Vec<String>> = vec![
        vec!["SET".into(), "s:int".into(), "-123456".into()],
        vec!["SET".into(), "s:short".into(), "hello".into()],
        vec!["SET".into(), "s:raw".into(), "q".repeat(90) + "!"],
        vec!["SET".into(), "s:lzf".into(), "abcdefgh".repeat(200)],
        vec![
            "RPUSH".into(),
            "l:small".into(),
            "a".into(),
            "12".into(),
            "-70000".into(),
            "".into(),
            "1099511627776".into(),
        ],
        vec![
            "SADD".into(),
            "set:int16".into(),
            "1".into(),
            "5".into(),
            "-3".into(),
        ],
        vec![
            "SADD".into(),
            "set:int64".into(),
            "1".into(),
            "70000".into(),
            "-1099511627776".into(),
        ],
        vec![
            "SADD".into(),
            "set:strings".into(),
            "a".into(),
            "b".into(),
            "c".into(),
        ],
        vec![
            "ZADD".into(),
            "z:small".into(),
            "1.5".into(),
            "a".into(),
            "-inf".into(),
            "b".into(),
            "3".into(),
            "c".into(),
        ],
        vec![
            "HSET".into(),
            "h:small".into(),
            "f".into(),
            "v".into(),
            "n".into(),
            "42".into(),
        ],
        vec![
            "HSET".into(),
            "h:bigvalue".into(),
            "f".into(),
            "x".repeat(200),
        ],
    ];
    let mut l = vec!["RPUSH".to_string(), "l:nodes".into()];
    l.extend(many("element-", 400));
    cmds.push(l);
    let mut l = vec![
        "RPUSH".to_string(),
        "l:big".into(),
        "x".repeat(9000),
        "y".into(),
    ];
    l.push("z".repeat(70));
    cmds.push(l);
    let mut s = vec!["SADD".to_string(), "set:bigint".into()];
    s.extend((0..600).map(|i| (i * 7).to_string()));
    cmds.push(s);
    let mut z = vec!["ZADD".to_string(), "z:skiplist".into()];
    for (i, m) in many("m", 150).into_iter().enumerate() {
        z.push(format!("{}.25", i as i64 - 20));
        z.push(m);
    }
    cmds.push(z);
    let mut h = vec!["HSET".to_string(), "h:table".into()];
    for (i, f) in many("field", 600).into_iter().enumerate() {
        h.push(f);
        h.push(i.to_string());
    }
    cmds.push(h);
    for c in cmds {
        let args: Vec<&str> = c.iter().map(|s| s.as_str()).collect();
        let r = run_s(con, &args);
        assert!(error_text(&r).is_none(), "{args:?}: {r:?}");
    }
}

/// DUMP payloads of every key on a server.
fn dumps(con: &mut redis::Connection) -> Vec<(String, Vec<u8>)> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(con).unwrap();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let p: Vec<u8> = redis::cmd("DUMP").arg(&k).query(con).unwrap();
            (k, p)
        })
        .collect()
}

/// Payloads in the encodings of older Redis versions, built by hand (version 9 footers).
fn old_encodings() -> Vec<(String, Vec<u8>)> {
    let blob = |t: u8, b: &[u8]| {
        let mut v = vec![t];
        rdb_string(&mut v, b);
        sign(&v, 9)
    };
    let mut quicklist = vec![14u8, 2];
    rdb_string(&mut quicklist, &ziplist(&[b"a", b"bb"]));
    rdb_string(&mut quicklist, &ziplist(&[b"ccc"]));
    vec![
        (
            "old:list-ziplist".into(),
            blob(10, &ziplist(&[b"x", b"yy", b"zzz"])),
        ),
        ("old:quicklist".into(), sign(&quicklist, 9)),
        (
            "old:hash-ziplist".into(),
            blob(13, &ziplist(&[b"f1", b"v1", b"f2", b"v2"])),
        ),
        (
            "old:zset-ziplist".into(),
            blob(12, &ziplist(&[b"m1", b"1.5", b"m2", b"2"])),
        ),
        (
            "old:zipmap".into(),
            blob(
                9,
                &zipmap(
                    &[
                        (b"a".to_vec(), b"1".to_vec()),
                        (b"bb".to_vec(), b"22".to_vec()),
                    ],
                    2,
                    false,
                ),
            ),
        ),
    ]
}

/// Every way the test damages a payload body (before re-signing it, so the damage reaches
/// the decoder rather than the checksum).
fn corruptions(body: &[u8], rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let n = body.len();
    // Truncated at every position (small payloads) or at 80 random ones.
    if n <= 400 {
        out.extend((0..n).map(|i| body[..i].to_vec()));
    } else {
        out.extend((0..80).map(|_| body[..rng.below(n as u64) as usize].to_vec()));
    }
    // One to three random bytes replaced.
    for _ in 0..120 {
        let mut b = body.to_vec();
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(n as u64) as usize;
            b[i] = rng.next() as u8;
        }
        out.push(b);
    }
    // Lengths patched: a byte set to an edge value, or four bytes to a huge length.
    for _ in 0..60 {
        let mut b = body.to_vec();
        let i = rng.below(n as u64) as usize;
        match rng.below(4) {
            0 => b[i] = 0xFF,
            1 => b[i] = 0,
            2 => b[i] = b[i].wrapping_add(1),
            _ => {
                let v = [0xFFu8, 0xFF, 0xFF, 0x7F];
                for (k, x) in v.iter().enumerate() {
                    if i + k < n {
                        b[i + k] = *x;
                    }
                }
            }
        }
        out.push(b);
    }
    // Bytes inserted or removed in the middle.
    for _ in 0..20 {
        let mut b = body.to_vec();
        let i = rng.below(n as u64) as usize;
        if rng.below(2) == 0 {
            b.remove(i);
        } else {
            b.insert(i, rng.next() as u8);
        }
        out.push(b);
    }
    out
}

/// Reads an accepted key back by every read its type has; all must succeed.
fn read_back(con: &mut redis::Connection, key: &str) {
    let ty = text(&run_s(con, &["TYPE", key]));
    let reads: Vec<Vec<&str>> = match ty.as_str() {
        "string" => vec![vec!["GET", key], vec!["STRLEN", key]],
        "list" => vec![
            vec!["LRANGE", key, "0", "-1"],
            vec!["LLEN", key],
            vec!["LINDEX", key, "-1"],
        ],
        "set" => vec![
            vec!["SMEMBERS", key],
            vec!["SCARD", key],
            vec!["SRANDMEMBER", key, "-5"],
        ],
        "zset" => vec![
            vec!["ZRANGE", key, "0", "-1", "WITHSCORES"],
            vec!["ZCARD", key],
        ],
        "hash" => vec![vec!["HGETALL", key], vec!["HLEN", key]],
        other => panic!("RESTORE accepted a key of type {other}"),
    };
    for r in reads.iter().chain([
        &vec!["DEBUG", "DIGEST-VALUE", key],
        &vec!["OBJECT", "ENCODING", key],
        &vec!["DUMP", key],
    ]) {
        let v = run_s(con, r);
        assert!(error_text(&v).is_none(), "{r:?} on an accepted key: {v:?}");
    }
}

#[test]
fn corrupted_restore_payloads_get_a_clean_error_or_a_whole_key() {
    let ours = Server::start(DEBUG);
    let redis = Server::start_redis(&["--sanitize-dump-payload", "yes"]);
    let (mut con, mut rcon) = (ours.conn(), redis.conn());
    populate(&mut con);
    populate(&mut rcon);
    let mut corpus = dumps(&mut rcon);
    corpus.extend(dumps(&mut con));
    corpus.extend(old_encodings());

    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let (mut accepted, mut refused, mut tried) = (0usize, 0usize, 0usize);
    // Side by side with redis-server under sanitize-dump-payload yes: the same decision, and
    // the same value (DEBUG DIGEST-VALUE) when both accept.
    let mut differences: Vec<String> = Vec::new();
    for (name, payload) in &corpus {
        // The intact payload restores.
        let v = run(&mut con, &[b"RESTORE", b"fz", b"0", payload]);
        assert_eq!(text(&v), "OK", "intact payload of {name}");
        read_back(&mut con, "fz");
        run_s(&mut con, &["DEL", "fz"]);
        let body = &payload[..payload.len() - 10];
        let version = u16::from_le_bytes([payload[payload.len() - 10], payload[payload.len() - 9]]);
        for damaged in corruptions(body, &mut rng) {
            tried += 1;
            let p = sign(&damaged, version);
            let v = run(&mut con, &[b"RESTORE", b"fz", b"0", &p]);
            let rv = run(&mut rcon, &[b"RESTORE", b"fz", b"0", &p]);
            let redis_ok = error_text(&rv).is_none();
            if redis_ok != error_text(&v).is_none() {
                differences.push(format!(
                    "{name}: ours {} redis {} payload {:02x?}",
                    text(&v),
                    text(&rv),
                    &damaged[..damaged.len().min(120)]
                ));
            }
            if redis_ok && error_text(&v).is_none() {
                let d =
                    |c: &mut redis::Connection| text(&run_s(c, &["DEBUG", "DIGEST-VALUE", "fz"]));
                let (a, b) = (d(&mut con), d(&mut rcon));
                if a != b {
                    differences.push(format!("{name}: digest-value {a} vs redis {b}"));
                }
            }
            run_s(&mut rcon, &["DEL", "fz"]);
            match error_text(&v) {
                None => {
                    assert_eq!(text(&v), "OK");
                    accepted += 1;
                    read_back(&mut con, "fz");
                    run_s(&mut con, &["DEL", "fz"]);
                }
                Some(e) => {
                    assert!(
                        e == BAD_FORMAT || e == BAD_PAYLOAD,
                        "{name}: unexpected reply {e:?}"
                    );
                    refused += 1;
                    // Nothing half-decoded was stored.
                    assert_eq!(text(&run_s(&mut con, &["EXISTS", "fz"])), "0", "{name}");
                }
            }
        }
        // A damaged footer: wrong checksum, or a version from the future.
        let mut p = payload.clone();
        let last = p.len() - 1;
        p[last] ^= 0x40;
        assert_eq!(
            error_text(&run(&mut con, &[b"RESTORE", b"fz", b"0", &p])).as_deref(),
            Some(BAD_PAYLOAD)
        );
        let p = sign(body, 11);
        assert_eq!(
            error_text(&run(&mut con, &[b"RESTORE", b"fz", b"0", &p])).as_deref(),
            Some(BAD_PAYLOAD)
        );
    }
    eprintln!(
        "{} payloads, {tried} damaged: {accepted} accepted (and read back), {refused} refused",
        corpus.len()
    );
    eprintln!("{} differences with redis-server:", differences.len());
    differences.sort_by_key(|d| !d.contains("ours OK"));
    for d in differences.iter().take(60) {
        eprintln!("  {d}");
    }
    assert!(refused > tried / 2, "{refused} of {tried} refused");
    // The server is up and everything it holds saves and loads again.
    assert_eq!(text(&run_s(&mut con, &["PING"])), "PONG");
    assert_eq!(text(&run_s(&mut con, &["DEBUG", "RELOAD"])), "OK");
    assert_eq!(
        text(&run_s(&mut con, &["DBSIZE"])),
        text(&run_s(&mut rcon, &["DBSIZE"]))
    );
}

#[test]
fn payloads_redis_refuses_under_sanitize_dump_payload_are_refused() {
    // Each is well-formed on the surface (right CRC and version) but inconsistent inside.
    let mut is = 2u32.to_le_bytes().to_vec();
    is.extend_from_slice(&3u32.to_le_bytes());
    for v in [5i16, 1, 9] {
        is.extend_from_slice(&v.to_le_bytes());
    }
    let unsorted_intset = {
        let mut v = vec![11u8];
        rdb_string(&mut v, &is);
        v
    };
    let dup_set = {
        let mut v = vec![2u8, 2];
        rdb_string(&mut v, b"a");
        rdb_string(&mut v, b"a");
        v
    };
    let dup_hash_zipmap = {
        let mut v = vec![9u8];
        let pairs = [
            (b"f".to_vec(), b"1".to_vec()),
            (b"f".to_vec(), b"2".to_vec()),
        ];
        rdb_string(&mut v, &zipmap(&pairs, 0, false));
        v
    };
    let odd_hash_ziplist = {
        let mut v = vec![13u8];
        rdb_string(&mut v, &ziplist(&[b"f1", b"v1", b"f2"]));
        v
    };
    let wrong_count_ziplist = {
        let mut z = ziplist(&[b"a", b"b"]);
        z[8] = 3;
        let mut v = vec![10u8];
        rdb_string(&mut v, &z);
        v
    };
    let empty_list = vec![18u8, 0];
    let huge_lzf = {
        // An LZF string claiming 4 GB once decompressed, from 3 bytes.
        let mut v = vec![0u8, 0xC3, 3];
        v.extend_from_slice(&[0x80]);
        v.extend_from_slice(&u32::MAX.to_be_bytes());
        v.extend_from_slice(&[0, b'a', b'a']);
        v
    };
    let ours = Server::start(DEBUG);
    let redis = Server::start_redis(&["--sanitize-dump-payload", "yes"]);
    for (name, body) in [
        ("unsorted intset", unsorted_intset),
        ("duplicate set members", dup_set),
        ("duplicate zipmap fields", dup_hash_zipmap),
        ("odd hash ziplist", odd_hash_ziplist),
        ("ziplist count", wrong_count_ziplist),
        ("empty list", empty_list),
        ("huge LZF length", huge_lzf),
    ] {
        let p = sign(&body, 9);
        for s in [&ours, &redis] {
            let mut con = s.conn();
            let v = run(&mut con, &[b"RESTORE", b"k", b"0", &p]);
            assert_eq!(
                error_text(&v).as_deref(),
                Some(BAD_FORMAT),
                "{name} on {:?}",
                s.kind
            );
            assert_eq!(text(&run_s(&mut con, &["EXISTS", "k"])), "0");
        }
    }
}
