//! Bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO) side by
//! side with redis-server 7.0: equal replies, error texts and DEBUG DIGEST.

mod common;

use common::pair::Pair;

#[test]
fn setbit_getbit_like_redis() {
    let mut p = Pair::new(&[]);
    p.script(&[
        "setbit b 7 1",
        "setbit b 7 1",
        "setbit b 7 0",
        "setbit b 100 1",
        "getbit b 100",
        "getbit b 101",
        "getbit b 100000",
        "getbit nokey 3",
        "strlen b",
        "get b",
        "object encoding b",
        "setbit b -1 1",
        "setbit b x 1",
        "setbit b 1 2",
        "setbit b 1 -1",
        "setbit b 1 x",
        "getbit b -1",
        "getbit b 4294967296",
        "setbit b 4294967296 1",
        "setbit b 9223372036854775807 1",
        "set n 12",
        "getbit n 2",
        "getbit n 3",
        "setbit n 6 1",
        "get n",
        "object encoding n",
        "set e abc",
        "object encoding e",
        "setbit e 1 1",
        "object encoding e",
        "lpush l a",
        "setbit l 1 1",
        "getbit l 1",
        "setbit",
        "getbit b",
    ]);
    p.digest();
}

#[test]
fn bitcount_and_bitpos_ranges_like_redis() {
    let mut p = Pair::new(&[]);
    p.cmp_bytes(&[b"set", b"s", b"\xff\xf0\x00\x0f\x81"]);
    p.cmp(&["set", "z", "\x00\x00\x00"]);
    p.cmp(&["set", "o", "\u{7f}"]);
    for key in ["s", "z", "o", "nokey"] {
        for range in [
            "",
            "0 -1",
            "1 2",
            "-2 -1",
            "-1 -2",
            "5 3",
            "0 100",
            "-100 -1",
            "0 0 bit",
            "1 9 bit",
            "3 3 bit",
            "-5 -1 bit",
            "7 8 bit",
            "12 35 BIT",
            "0 -1 byte",
            "2 2 BYTE",
            "0 1 foo",
            "-1 -2 foo",
            "a b",
            "0",
            "0 1 bit x",
            "-9223372036854775808 9223372036854775807 bit",
        ] {
            let mut args = vec!["bitcount", key];
            args.extend(range.split(' ').filter(|s| !s.is_empty()));
            p.cmp(&args);
        }
        for bit in ["0", "1", "2", "-1", "x"] {
            for range in [
                "",
                "0",
                "1",
                "-1",
                "0 -1",
                "1 2",
                "2 1",
                "0 100",
                "-100 -1",
                "0 0 bit",
                "1 9 bit",
                "3 3 bit",
                "-5 -1 bit",
                "7 8 bit",
                "12 35 BIT",
                "8 15 bit",
                "0 -1 byte",
                "2 2 BYTE",
                "0 1 foo",
                "a",
                "0 b",
                "0 1 bit x",
                "4 7 bit",
                "-9223372036854775808 9223372036854775807 bit",
            ] {
                let mut args = vec!["bitpos", key, bit];
                args.extend(range.split(' ').filter(|s| !s.is_empty()));
                p.cmp(&args);
            }
        }
    }
    p.script(&[
        "hset h a 1",
        "bitcount h",
        "bitpos h 1",
        "bitcount h 0 1 bit",
    ]);
}

#[test]
fn bitop_like_redis() {
    let mut p = Pair::new(&[]);
    p.cmp_bytes(&[b"set", b"a", b"\xff\x0f\xaa"]);
    p.cmp_bytes(&[b"set", b"b", b"\x0f\xf0"]);
    p.cmp_bytes(&[b"set", b"long", &[0x5au8; 100]]);
    p.script(&[
        "bitop and d a b",
        "get d",
        "bitop or d a b nokey",
        "get d",
        "bitop xor d a b long",
        "get d",
        "object encoding d",
        "bitop not d a",
        "get d",
        "bitop NOT d long",
        "bitop not d a b",
        "bitop nand d a b",
        "bitop and d nokey nokey2",
        "exists d",
        "set d x",
        "expire d 100",
        "bitop or d a",
        "ttl d",
        "bitop and d nokey",
        "exists d",
        "lpush l x",
        "bitop and d a l",
        "bitop and l a",
        "type l",
        "bitop and",
        "bitop and d",
        "set n 255",
        "bitop not d n",
        "get d",
    ]);
    p.digest();
}

#[test]
fn bitfield_like_redis() {
    let mut p = Pair::new(&[]);
    p.script(&[
        "bitfield f set i8 0 -100 get i8 0 get u8 0 get u4 4",
        "bitfield f incrby i8 0 -100",
        "bitfield f incrby u8 8 255 incrby u8 8 1",
        "bitfield f overflow sat incrby u8 8 300 incrby i8 0 -1000 incrby i8 0 1000",
        "bitfield f overflow fail incrby u8 8 1 incrby i8 0 1 set u2 100 7",
        "bitfield f overflow wrap set i64 64 -1 incrby i64 64 -9223372036854775807",
        "bitfield f incrby i64 64 -9223372036854775808",
        "bitfield f overflow sat incrby i64 64 -9223372036854775808",
        "bitfield f overflow sat incrby i64 64 9223372036854775807 incrby i64 64 1",
        "bitfield f set u63 0 -1 get u63 0 get i64 0",
        "bitfield f overflow sat set u8 0 -5 set i8 0 200 set i4 #3 -100",
        "bitfield f get i5 #2 set i5 #2 15 get i5 #2 incrby u3 #7 5",
        "bitfield f get u8 #100 get i64 1000000",
        "get f",
        "strlen f",
        "bitfield nokey get u8 0",
        "exists nokey",
        "bitfield nokey",
        "bitfield f get",
        "bitfield f get u8",
        "bitfield f set u8 0",
        "bitfield f foo u8 0",
        "bitfield f get u64 0",
        "bitfield f get i65 0",
        "bitfield f get u0 0",
        "bitfield f get x8 0",
        "bitfield f get i8 -1",
        "bitfield f get i8 #-1",
        "bitfield f get i8 #",
        "bitfield f get i8 4294967296",
        "bitfield f get i8 #536870912",
        "bitfield f get i8 #9223372036854775807",
        "bitfield f set i8 0 x",
        "bitfield f overflow",
        "bitfield f overflow nope get i8 0",
        "bitfield f overflow fail",
        "bitfield f get i8 0 overflow",
        "bitfield_ro f get i8 0 get u4 #1",
        "bitfield_ro f set i8 0 1",
        "bitfield_ro f get i8 0 incrby i8 0 1",
        "bitfield_ro nokey get i8 0",
        "bitfield_ro f",
        "lpush l a",
        "bitfield l get i8 0",
        "bitfield l set i8 0 1",
        "bitfield_ro l get i8 0",
        "bitfield l get i8 x",
        "set g x",
        "bitfield g overflow fail set u8 100 1000",
        "strlen g",
        "bitfield new overflow fail set u8 100 1000",
        "exists new",
    ]);
    p.digest();
}

#[test]
fn offsets_bounded_by_proto_max_bulk_len() {
    // A smaller limit stands for 512 MB: the last addressable bit is accepted, the next
    // refused before anything is allocated.
    let mut p = Pair::new(&["--proto-max-bulk-len", "1mb"]);
    let last = (8 * 1024 * 1024 - 1).to_string();
    let past = (8 * 1024 * 1024).to_string();
    p.cmp(&["setbit", "b", &last, "1"]);
    p.cmp(&["strlen", "b"]);
    p.cmp(&["bitcount", "b"]);
    p.cmp(&["bitpos", "b", "1"]);
    p.cmp(&["setbit", "b", &past, "1"]);
    p.cmp(&["getbit", "b", &past]);
    p.cmp(&["bitfield", "c", "set", "u8", &past, "1"]);
    p.cmp(&[
        "bitfield",
        "c",
        "set",
        "u8",
        &(8 * 1024 * 1024 - 8).to_string(),
        "255",
    ]);
    p.cmp(&["bitfield", "c", "get", "u8", "#131072"]);
    p.cmp(&["bitfield", "c", "get", "u8", "#131071"]);
    p.cmp(&["strlen", "c"]);
    p.digest();
}

#[test]
fn setbit_at_the_last_bit_of_512mb() {
    // Redis allows bit 2^32-1 (a 512 MB string) and refuses 2^32; reads far away allocate
    // nothing.
    let srv = common::Server::start(&[]);
    let mut c = srv.conn();
    let v = common::q(&mut c, &["getbit", "b", "4294967295"]);
    assert_eq!(v, redis::Value::Int(0));
    let v = common::q(&mut c, &["bitfield", "b", "get", "i64", "4294967231"]);
    assert_eq!(v, redis::Value::Array(vec![redis::Value::Int(0)]));
    let v = common::q(&mut c, &["exists", "b"]);
    assert_eq!(v, redis::Value::Int(0));
    let e = common::q(&mut c, &["setbit", "b", "4294967296", "1"]);
    assert_eq!(
        common::err_text(&e),
        "ERR bit offset is not an integer or out of range"
    );
    let v = common::q(&mut c, &["setbit", "b", "4294967295", "1"]);
    assert_eq!(v, redis::Value::Int(0));
    let v = common::q(&mut c, &["strlen", "b"]);
    assert_eq!(v, redis::Value::Int(512 * 1024 * 1024));
    let v = common::q(&mut c, &["bitpos", "b", "1"]);
    assert_eq!(v, redis::Value::Int(4294967295));
    let v = common::q(&mut c, &["bitcount", "b", "-1", "-1", "bit"]);
    assert_eq!(v, redis::Value::Int(1));
    let v = common::q(&mut c, &["del", "b"]);
    assert_eq!(v, redis::Value::Int(1));
}
