//! FUNCTION and FCALL side by side with Debian's redis-server 7.0 (replies byte-identical),
//! and FUNCTION DUMP payloads interchanged both ways.

mod common;

use common::{Kind, Server};

const LIB_X: &str =
    "#!lua name=x\nredis.register_function('f', function(keys, args) return keys[1] end)";
const LIB_Y: &str = "#!lua name=y\nredis.register_function{function_name='g', callback=function(keys, args) return redis.call('set', keys[1], args[1]) end, flags={'no-writes'}, description='setter'}";
const LIB_W: &str = "#!lua name=w\nredis.register_function('incr2', function(keys, args) redis.call('incr', keys[1]) return redis.call('incr', keys[1]) end)\nredis.register_function{function_name='ro', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";

const FUNCTION_CMDS: &[&[&str]] = &[
    // Subcommand arity and argument checks (declared subcommands, then the handlers).
    &["FUNCTION", "FLUSH", "a", "b"],
    &["FUNCTION", "RESTORE", "x", "y", "z"],
    &["FUNCTION", "RESTORE"],
    &["FUNCTION", "NOPE"],
    &["FUNCTION", "HELP", "x"],
    &["SCRIPT", "FLUSH", "a", "b"],
    &["SCRIPT", "LOAD"],
    &["SCRIPT", "KILL", "x"],
    &["SCRIPT", "NOPE"],
    &["SCRIPT", "HELP"],
    &["FUNCTION", "HELP"],
    &["MULTI"],
    &["FUNCTION", "DUMP", "x"],
    &["EXEC"],
    &["FUNCTION", "LOAD", "return 1"],
    &["FUNCTION", "LOAD", "#!lua"],
    &["FUNCTION", "LOAD", "#!lua name=x"],
    &["FUNCTION", "LOAD", "#!lua name=w foo=bar\nreturn 1"],
    &["FUNCTION", "LOAD", "#!lua name=bad-name\nreturn 1"],
    &["FUNCTION", "LOAD", LIB_X],
    &["FUNCTION", "LOAD", LIB_X],
    // The library's top level runs under a 500 ms limit.
    &["FUNCTION", "LOAD", "#!lua name=slow\nwhile true do end"],
    &["FUNCTION", "LOAD", "REPLACE", LIB_X],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=x2\nredis.register_function('f', function() return 1 end)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=y2\nredis.register_function('f 2', function() return 1 end)",
    ],
    &["FUNCTION", "LOAD", LIB_Y],
    &["FCALL", "g", "1", "a", "b"],
    &["FCALL", "f", "1", "a", "b"],
    &["FCALL_RO", "f", "1", "a"],
    &["FCALL", "nof", "0"],
    &["FCALL", "f", "-1"],
    &["FCALL", "f", "5", "a"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=z\nredis.register_function('h', function(keys, args) error('bad') end)",
    ],
    &["FCALL", "h", "0"],
    &["FUNCTION", "LOAD", "#!lua name=w\nredis.call('ping')"],
    &["FUNCTION", "LOAD", "#!lua name=w\nlocal x = 1\ny = 5"],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=w\nredis.register_function('a', 5)",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=w\nredis.register_function('a')",
    ],
    &[
        "FUNCTION",
        "LOAD",
        "#!lua name=w\nredis.register_function{function_name='a', callback=function() end, flags={'bad'}}",
    ],
    &["FUNCTION", "LOAD", "#!lua name=w\nsyntax error"],
    &["FUNCTION", "LOAD", "#!lua name=w\nreturn 1"],
    &["FUNCTION", "LOAD", LIB_W],
    &["FCALL", "incr2", "1", "cnt"],
    &["FCALL_RO", "ro", "1", "cnt"],
    &["FCALL_RO", "incr2", "1", "cnt"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "x", "WITHCODE"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "y"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "nomatch*"],
    &["FUNCTION", "LIST", "BOGUS"],
    // A trailing LIBRARYNAME has its own error; a second one is an unknown argument.
    &["FUNCTION", "LIST", "LIBRARYNAME"],
    &["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME"],
    &["FUNCTION", "LIST", "LIBRARYNAME", "x", "LIBRARYNAME", "y"],
    &["FUNCTION", "DELETE", "nosuch"],
    &["FUNCTION", "DELETE", "z"],
    &["FCALL", "h", "0"],
    &["FUNCTION", "KILL"],
    &["FUNCTION", "FLUSH", "BAD"],
    &["FUNCTION", "RESTORE", "garbage"],
    &["FUNCTION", "RESTORE", "garbage", "BADPOLICY"],
    &["FUNCTION", "NOSUCH"],
    &["FUNCTION", "LOAD"],
    &["FUNCTION", "HELP"],
    &["FUNCTION", "FLUSH"],
    &["FUNCTION", "LIST"],
    &["FCALL", "f", "0"],
];

#[test]
fn function_commands_match_redis() {
    common::same_replies(FUNCTION_CMDS);
}

/// The stats of a server holding LIB_W only: the same map as redis-server's.
#[test]
fn function_stats_match_redis() {
    common::same_replies(&[
        &["FUNCTION", "LOAD", LIB_W],
        &["FUNCTION", "STATS"],
        &["FUNCTION", "LOAD", LIB_X],
        &["FUNCTION", "STATS"],
    ]);
}

/// FUNCTION DUMP of one server RESTOREs on the other (both ways), and the functions run.
#[test]
fn dump_payloads_interchange_with_redis() {
    let ours = Server::builder(Kind::Redrepl).start();
    let theirs = Server::start_redis(&[]);
    let (mut a, mut b) = (ours.raw(), theirs.raw());
    for lib in [LIB_X, LIB_Y] {
        b.request(&["FUNCTION", "LOAD", lib]);
    }
    let payload = bulk(&b.request(&["FUNCTION", "DUMP"]));
    assert_eq!(
        request_bytes(&mut a, &[b"FUNCTION", b"RESTORE", &payload]),
        b"+OK\r\n"
    );
    assert_eq!(a.request(&["FCALL", "f", "1", "k"]), b"$1\r\nk\r\n");
    same_libraries(&mut a, &mut b);
    // A second RESTORE collides (APPEND), REPLACE works, FLUSH too. Which of the two
    // libraries Redis names depends on its dict's (randomly seeded) order, so either is right.
    for reply in [
        request_bytes(&mut a, &[b"FUNCTION", b"RESTORE", &payload]),
        request_bytes(&mut b, &[b"FUNCTION", b"RESTORE", &payload]),
    ] {
        let text = String::from_utf8_lossy(&reply).into_owned();
        assert!(
            text == "-ERR Library x already exists\r\n"
                || text == "-ERR Library y already exists\r\n",
            "{text}"
        );
    }
    for policy in [&b"REPLACE"[..], b"FLUSH"] {
        assert_eq!(
            request_bytes(&mut a, &[b"FUNCTION", b"RESTORE", &payload, policy]),
            b"+OK\r\n"
        );
    }
    // Ours back to redis-server.
    a.request(&["FUNCTION", "DELETE", "y"]);
    a.request(&["FUNCTION", "LOAD", LIB_W]);
    let ours_payload = bulk(&a.request(&["FUNCTION", "DUMP"]));
    assert_eq!(
        request_bytes(&mut b, &[b"FUNCTION", b"RESTORE", &ours_payload, b"FLUSH"]),
        b"+OK\r\n"
    );
    assert_eq!(a.request(&["FCALL", "incr2", "1", "n"]), b":2\r\n");
    assert_eq!(b.request(&["FCALL", "incr2", "1", "n"]), b":2\r\n");
    // A corrupted payload is refused by both alike.
    let mut bad = ours_payload.clone();
    bad[3] ^= 0xff;
    assert_eq!(
        request_bytes(&mut a, &[b"FUNCTION", b"RESTORE", &bad]),
        request_bytes(&mut b, &[b"FUNCTION", b"RESTORE", &bad])
    );
}

/// Libraries x and y are listed alike by both servers (one at a time: the order of a
/// listing follows each server's hash table).
fn same_libraries(a: &mut common::Raw, b: &mut common::Raw) {
    for lib in ["x", "y"] {
        let cmd = ["FUNCTION", "LIST", "LIBRARYNAME", lib, "WITHCODE"];
        assert_eq!(a.request(&cmd), b.request(&cmd), "library {lib}");
    }
}

fn request_bytes(r: &mut common::Raw, args: &[&[u8]]) -> Vec<u8> {
    r.send(&common::resp(args));
    r.read_reply()
}

/// The payload of a bulk reply.
fn bulk(reply: &[u8]) -> Vec<u8> {
    let nl = reply.iter().position(|&b| b == b'\n').expect("bulk header");
    reply[nl + 1..reply.len() - 2].to_vec()
}

/// Functions are saved in the RDB (RDB_OPCODE_FUNCTION2) and come back after a restart,
/// both ways: redis-server's dump loads here, ours loads in redis-server.
#[test]
fn functions_survive_restart_through_rdb_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // redis-server writes a dump with two libraries; we start from it.
    {
        let theirs = Server::builder(Kind::Redis).args(&["--dir", d]).start();
        let mut b = theirs.raw();
        b.request(&["FUNCTION", "LOAD", LIB_X]);
        b.request(&["FUNCTION", "LOAD", LIB_Y]);
        assert_eq!(b.request(&["SAVE"]), b"+OK\r\n");
    }
    let ours = Server::builder(Kind::Redrepl)
        .debug_command(true)
        .args(&["--dir", d])
        .start();
    let mut a = ours.raw();
    assert_eq!(a.request(&["FCALL", "f", "1", "k"]), b"$1\r\nk\r\n");
    a.request(&["FUNCTION", "DELETE", "y"]);
    a.request(&["FUNCTION", "LOAD", LIB_W]);
    assert_eq!(a.request(&["DEBUG", "RELOAD"]), b"+OK\r\n");
    assert_eq!(a.request(&["FCALL", "incr2", "1", "n"]), b":2\r\n");
    assert_eq!(a.request(&["FCALL", "g", "1", "k", "v"])[0], b'-');
    assert_eq!(a.request(&["SAVE"]), b"+OK\r\n");
    drop(a);
    drop(ours);
    // redis-server loads our dump (functions included) and runs them.
    let theirs = Server::builder(Kind::Redis).args(&["--dir", d]).start();
    let mut b = theirs.raw();
    assert_eq!(b.request(&["FCALL", "incr2", "1", "n"]), b":4\r\n");
    assert_eq!(b.request(&["FCALL", "f", "1", "k"]), b"$1\r\nk\r\n");
    assert_eq!(b.request(&["FCALL", "g", "1", "k", "v"])[0], b'-');
}

/// FUNCTION LOAD of libraries that do not compile, the message quoting bytes that are not
/// UTF-8: the error reply carries them as they are.
fn raw_byte_load_errors(server: &Server) -> Vec<Vec<u8>> {
    let mut r = server.raw();
    let libs: &[&[u8]] = &[
        b"#!lua name=b\nreturn \"\xff\n",
        b"#!lua name=b\n\xff",
        b"#!lua name=b\nx\xfe = 1",
    ];
    libs.iter()
        .map(|lib| {
            r.send(&common::resp(&[b"FUNCTION", b"LOAD", lib]));
            r.read_reply()
        })
        .collect()
}

#[test]
fn function_load_compile_errors_keep_bytes_that_are_not_utf8_as_redis() {
    let ours = raw_byte_load_errors(&Server::start(&[]));
    let theirs = raw_byte_load_errors(&Server::start_redis(&[]));
    assert!(
        ours[0].contains(&0xff),
        "{:?}",
        String::from_utf8_lossy(&ours[0])
    );
    assert_eq!(ours, theirs);
}
