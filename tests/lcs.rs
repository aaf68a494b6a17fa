//! LCS (LEN, IDX, MINMATCHLEN, WITHMATCHLEN) side by side with redis-server 7.0.

mod common;

use common::pair::Pair;

#[test]
fn lcs_like_redis() {
    let mut p = Pair::new(&[]);
    p.script(&[
        "mset key1 ohmytext key2 mynewtext",
        "lcs key1 key2",
        "lcs key1 key2 len",
        "lcs key1 key2 idx",
        "lcs key1 key2 idx minmatchlen 4",
        "lcs key1 key2 idx withmatchlen",
        "lcs key1 key2 IDX MINMATCHLEN 2 WITHMATCHLEN",
        "lcs key1 key2 idx minmatchlen -5",
        "lcs key1 key2 len idx",
        "lcs key1 key2 idx len",
        "lcs key1 key2 minmatchlen",
        "lcs key1 key2 minmatchlen x",
        "lcs key1 key2 foo",
        "lcs key1 nokey",
        "lcs nokey nokey2 idx",
        "lcs nokey key2 len",
        "set a1 aaaaXbbbbYcccc",
        "set a2 ccccZaaaaWbbbb",
        "lcs a1 a2",
        "lcs a1 a2 idx withmatchlen",
        "lcs a2 a1 idx withmatchlen",
        "set r1 abcabcabcabc",
        "set r2 cbacbacba",
        "lcs r1 r2 idx withmatchlen",
        "lcs r2 r1 idx",
        "lcs r1 r1 idx",
        "set n 12345",
        "lcs n r1",
        "lcs n n idx",
        "lpush l x",
        "lcs l key1",
        "lcs key1 l",
        "lcs l l len",
        "lcs key1",
    ]);
    p.cmp(&["set", "e", ""]);
    p.cmp(&["lcs", "e", "key1", "idx"]);
    // Longer strings made of a small alphabet: many ties in the table.
    let a: String = (0..300)
        .map(|i| (b'a' + (i * 7 % 5) as u8) as char)
        .collect();
    let b: String = (0..250)
        .map(|i| (b'a' + (i * 3 % 4) as u8) as char)
        .collect();
    p.cmp(&["set", "la", &a]);
    p.cmp(&["set", "lb", &b]);
    p.cmp(&["lcs", "la", "lb"]);
    p.cmp(&["lcs", "la", "lb", "len"]);
    p.cmp(&["lcs", "la", "lb", "idx", "withmatchlen"]);
    p.cmp(&["lcs", "la", "lb", "idx", "minmatchlen", "3"]);
    p.digest();
}

#[test]
fn lcs_len_of_large_strings_needs_no_table() {
    // LEN keeps two rows only: 50 KB by 10 KB would be a 2 GB table.
    let srv = common::Server::start(&[]);
    let mut c = srv.conn();
    let a = "ab".repeat(25_000);
    let b = "ba".repeat(5_000);
    common::q(&mut c, &["set", "a", &a]);
    common::q(&mut c, &["set", "b", &b]);
    let v = common::q(&mut c, &["lcs", "a", "b", "len"]);
    assert_eq!(v, redis::Value::Int(10_000));
}

#[test]
fn lcs_of_strings_no_table_fits_is_refused_at_once() {
    // Two 100 MB strings need a 40 PB table: Redis's error, with LEN too, not a server
    // busy for ever.
    let srv = common::Server::start(&[]);
    let mut c = srv.conn();
    common::q(&mut c, &["setrange", "a", "104857599", "x"]);
    common::q(&mut c, &["setrange", "b", "104857599", "y"]);
    for extra in [&[][..], &["len"][..], &["idx"][..]] {
        let mut args = vec!["lcs", "a", "b"];
        args.extend_from_slice(extra);
        let e = common::q(&mut c, &args);
        assert_eq!(
            common::err_text(&e),
            "ERR Insufficient memory, failed allocating transient memory for LCS"
        );
    }
    assert_eq!(
        common::q(&mut c, &["ping"]),
        redis::Value::SimpleString("PONG".into())
    );
}
