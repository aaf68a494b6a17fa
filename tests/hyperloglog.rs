//! HyperLogLog (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST) side by side with
//! redis-server 7.0: the same elements make the same bytes (sparse and dense), an HLL made
//! by either engine counts the same on the other, errors and DEBUG DIGEST are equal.

mod common;

use common::pair::Pair;
use redis::Value;

/// Adds `elems` (in commands of up to 5000) to `key` on both servers, comparing replies.
fn add_many(p: &mut Pair, key: &str, elems: impl Iterator<Item = String>) {
    let elems: Vec<String> = elems.collect();
    for chunk in elems.chunks(5000) {
        let mut args = vec!["pfadd", key];
        args.extend(chunk.iter().map(|s| s.as_str()));
        p.cmp(&args);
    }
}

/// GET of `key` on one server, as bytes.
fn get(con: &mut redis::Connection, key: &str) -> Vec<u8> {
    match common::q(con, &["get", key]) {
        Value::BulkString(b) => b,
        other => panic!("GET {key}: {other:?}"),
    }
}

#[test]
fn same_elements_same_bytes_sparse_and_dense() {
    let mut p = Pair::new(&[]);
    p.script(&[
        "pfadd h",
        "pfadd h",
        "get h",
        "pfcount h",
        "get h",
        "pfadd h a b c d e f g",
        "pfadd h a",
        "get h",
        "pfdebug encoding h",
        "pfdebug decode h",
        "pfcount h",
        "get h",
        "object encoding h",
    ]);
    for n in [10, 100, 1000, 3000] {
        add_many(&mut p, "h", (0..n).map(|i| format!("elem:{i}")));
        p.cmp(&["get", "h"]);
        p.cmp(&["pfdebug", "encoding", "h"]);
        p.cmp(&["pfcount", "h"]);
        p.cmp(&["get", "h"]);
    }
    p.cmp(&["pfdebug", "getreg", "h"]);
    p.cmp(&["pfdebug", "todense", "h"]);
    p.cmp(&["pfdebug", "decode", "h"]);
    p.script(&[
        "pfadd s x y z",
        "pfdebug todense s",
        "pfdebug todense s",
        "get s",
    ]);
    p.script(&[
        "pfadd t x y z",
        "pfdebug getreg t",
        "pfdebug encoding t",
        "get t",
    ]);
    p.digest();
}

#[test]
fn cardinalities_equal_up_to_a_million() {
    let mut p = Pair::new(&[]);
    let mut have = 0u64;
    for (k, n) in [1u64, 7, 100, 1000, 5000, 20_000, 100_000, 1_000_000]
        .into_iter()
        .enumerate()
    {
        add_many(&mut p, "big", (have..n).map(|i| i.to_string()));
        have = n;
        let c = p.cmp(&["pfcount", "big"]);
        // Within the HLL's standard error (0.81%) times a margin.
        let got: u64 = c
            .trim_start_matches("int(")
            .trim_end_matches(')')
            .parse()
            .unwrap();
        let err = (got as f64 - n as f64).abs() / n as f64;
        assert!(err < 0.03 || n < 10 && got == n, "{n}: {got}");
        p.cmp(&["get", "big"]);
        p.cmp(&["pfcount", "big", &format!("other{k}")]);
    }
    p.digest();
}

#[test]
fn hll_made_by_either_engine_counts_the_same() {
    let mut p = Pair::new(&[]);
    // One sparse and one dense HLL made by redis-server, one of each made by us.
    for (con_ours, key, n) in [
        (false, "rs", 50),
        (false, "rd", 5000),
        (true, "os", 60),
        (true, "od", 6000),
    ] {
        let con = if con_ours { p.ours_con() } else { p.real_con() };
        let mut c = redis::cmd("pfadd");
        c.arg(key);
        for i in 0..n {
            c.arg(format!("{key}-{i}"));
        }
        common::qc(con, &c);
        let bytes = get(con, key);
        // Copy the bytes to the other engine with a plain SET.
        let other = if con_ours { p.real_con() } else { p.ours_con() };
        let mut c = redis::cmd("set");
        c.arg(key).arg(bytes);
        common::qc(other, &c);
    }
    for key in ["rs", "rd", "os", "od"] {
        p.cmp(&["pfcount", key]);
        p.cmp(&["pfdebug", "encoding", key]);
        p.cmp(&["pfcount", key]);
        p.cmp(&["get", key]);
        p.cmp(&["pfadd", key, "one-more", "and-another"]);
        p.cmp(&["pfcount", key]);
    }
    p.cmp(&["pfcount", "rs", "rd", "os", "od"]);
    p.cmp(&["pfmerge", "m1", "rs", "os"]);
    p.cmp(&["get", "m1"]);
    p.cmp(&["pfmerge", "m2", "rs", "od", "nokey"]);
    p.cmp(&["get", "m2"]);
    p.cmp(&["pfmerge", "rs", "os"]);
    p.cmp(&["get", "rs"]);
    p.cmp(&["pfmerge", "m3"]);
    p.cmp(&["get", "m3"]);
    p.cmp(&["pfcount", "m1", "m2", "m3"]);
    // DUMP on one engine, RESTORE on the other: the same count.
    for (from_ours, key) in [(false, "rd"), (true, "od"), (false, "rs")] {
        // Refreshes the cached cardinality on both first, so the datasets stay equal.
        p.cmp(&["pfcount", key]);
        let (ours, real) = p.cons();
        let (src, dst) = if from_ours {
            (ours, real)
        } else {
            (real, ours)
        };
        let dump = match common::q(src, &["dump", key]) {
            Value::BulkString(b) => b,
            other => panic!("{other:?}"),
        };
        let mut c = redis::cmd("restore");
        c.arg("restored").arg(0).arg(dump);
        assert_eq!(common::qc(dst, &c), Value::Okay);
        assert_eq!(
            common::q(dst, &["pfcount", "restored"]),
            common::q(src, &["pfcount", key])
        );
        common::q(dst, &["del", "restored"]);
    }
    p.digest();
}

#[test]
fn sparse_max_bytes_promotes_like_redis() {
    let mut p = Pair::new(&["--hll-sparse-max-bytes", "40"]);
    p.cmp(&["config", "get", "hll-sparse-max-bytes"]);
    for i in 0..30 {
        p.cmp(&["pfadd", "h", &format!("x{i}")]);
        p.cmp(&["pfdebug", "encoding", "h"]);
        p.cmp(&["get", "h"]);
    }
    p.cmp(&["config", "set", "hll-sparse-max-bytes", "100000"]);
    add_many(&mut p, "h2", (0..5000).map(|i| i.to_string()));
    p.cmp(&["pfdebug", "encoding", "h2"]);
    p.cmp(&["get", "h2"]);
    p.digest();
}

#[test]
fn errors_like_redis() {
    let mut p = Pair::new(&[]);
    p.script(&[
        "set s notanhll",
        "pfadd s a",
        "pfcount s",
        "pfcount s nokey",
        "pfcount nokey s",
        "pfmerge d s",
        "pfmerge s",
        "pfdebug encoding s",
        "set n 123",
        "pfadd n a",
        "lpush l a",
        "pfadd l a",
        "pfcount l",
        "pfcount l l",
        "pfmerge l",
        "pfmerge d l",
        "pfdebug encoding l",
        "pfdebug encoding nokey",
        "pfadd h a b c",
        "pfdebug nope h",
        "pfdebug decode",
        "pfdebug",
        "pfadd",
        "pfcount",
        "pfmerge",
        "pfselftest x",
    ]);
    // A header with a wrong magic, an unknown encoding, a dense HLL of the wrong size.
    p.cmp_bytes(&[
        b"set",
        b"bad1",
        b"HYLX\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff",
    ]);
    p.cmp_bytes(&[
        b"set",
        b"bad2",
        b"HYLL\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff",
    ]);
    p.cmp_bytes(&[
        b"set",
        b"bad3",
        b"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff",
    ]);
    // Sparse opcodes that cover too few or too many registers, or stop mid-opcode.
    p.cmp_bytes(&[
        b"set",
        b"bad4",
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xfe",
    ]);
    p.cmp_bytes(&[
        b"set",
        b"bad5",
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff\x80",
    ]);
    p.cmp_bytes(&[
        b"set",
        b"bad6",
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f",
    ]);
    p.cmp_bytes(&[
        b"set",
        b"bad7",
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80",
    ]);
    p.cmp_bytes(&[
        b"set",
        b"bad8",
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\xff\x7f\xff",
    ]);
    for k in [
        "bad1", "bad2", "bad3", "bad4", "bad5", "bad6", "bad7", "bad8",
    ] {
        p.cmp(&["pfcount", k]);
        p.cmp(&["pfcount", k, "h"]);
        p.cmp(&["pfmerge", "dst", k]);
        p.cmp(&["pfdebug", "getreg", k]);
        p.cmp(&["pfdebug", "decode", k]);
        p.cmp(&["get", k]);
    }
    p.cmp(&["pfselftest"]);
    p.cmp(&["ping"]);
}

/// HLLs built by redis-server alone, copied to ours with SET, count the same on ours for
/// ten cardinalities from 1 to 10M (the sparse encoding, the promotion and the dense one).
#[test]
fn redis_built_hlls_count_the_same_for_ten_cardinalities_up_to_ten_million() {
    let mut p = Pair::new(&[]);
    let mut have = 0u64;
    for n in [
        1u64, 10, 100, 1000, 10_000, 100_000, 500_000, 1_000_000, 5_000_000, 10_000_000,
    ] {
        let theirs = {
            let con = p.real_con();
            let mut at = have;
            while at < n {
                let stop = (at + 10_000).min(n);
                let mut c = redis::cmd("pfadd");
                c.arg("big");
                for i in at..stop {
                    c.arg(i);
                }
                common::qc(con, &c);
                at = stop;
            }
            have = n;
            let count = common::q(con, &["pfcount", "big"]);
            (get(con, "big"), count)
        };
        let ours = p.ours_con();
        let mut c = redis::cmd("set");
        c.arg("big").arg(&theirs.0);
        common::qc(ours, &c);
        assert_eq!(
            common::q(ours, &["pfcount", "big"]),
            theirs.1,
            "{n} elements"
        );
        // The cached cardinality ours writes back is redis-server's bytes.
        assert_eq!(get(ours, "big"), get(p.real_con(), "big"), "{n} elements");
    }
}
