//! The value pools arguments are drawn from: integers at and beyond every boundary, float
//! spellings strtod accepts and refuses, strings of every length class, glob patterns,
//! timeouts and expiry times that can never expire during a run (so both servers agree).

use super::rng::Rng;

/// Integers: small, boundaries of encodings (128, 512, 2^31, 2^63), overflow, junk. Nothing
/// between 10^6 and 2^31 so that offsets (SETRANGE) never allocate hundreds of megabytes.
pub const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "5",
    "10",
    "-2",
    "-5",
    "-10",
    "100",
    "-100",
    "128",
    "129",
    "512",
    "513",
    "1000",
    "-1000",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483648",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "99999999999999999999999",
    "00",
    "+1",
    "-0",
    "1.0",
    "1e3",
    " 1",
    "1 ",
    "0x10",
    "",
    "abc",
    "1.5",
];

/// Floats as strtod spells them, and spellings it refuses.
pub const FLOATS: &[&str] = &[
    "0",
    "1",
    "-1",
    "1.5",
    "-1.5",
    "0.1",
    "3.0e2",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "-nan",
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "0x10",
    "0x1p3",
    "1.7976931348623157e308",
    "2.2250738585072014e-308",
    "5e-324",
    ".5",
    "5.",
    "-.5",
    "1e",
    "infinity",
    "INF",
    "NaN",
    " 1",
    "1 ",
    "",
    "abc",
    "9223372036854775807",
    "12345678901234567890",
    "1_0",
];

/// Scores ZADD accepts (so sorted sets get built); the mutations add the refused ones.
pub const SCORES: &[&str] = &[
    "0", "1", "-1", "1.5", "-2.25", "3", "10", "100", "1e10", "-1e10", "inf", "-inf", "0.1", "-0",
    "7", "1e300",
];

/// Score and lex range bounds.
pub const BOUNDS: &[&str] = &[
    "-inf",
    "+inf",
    "inf",
    "0",
    "1",
    "-1",
    "(1",
    "(0",
    "(-1",
    "5",
    "(5",
    "100",
    "(inf",
    "nan",
    "-",
    "+",
    "[a",
    "(a",
    "[b",
    "(z",
    "[",
    "(",
    "a",
    "[foo",
    "(1.5",
    "1e400",
    "",
    "((1",
    "-9223372036854775808",
    "9223372036854775807",
];

/// Short member/value strings (some shared with INTS so intsets and int encodings appear).
pub const WORDS: &[&str] = &[
    "",
    "a",
    "b",
    "c",
    "d",
    "foo",
    "bar",
    "baz",
    "hello world",
    "x\r\ny",
    "\u{0}\u{ff}",
    "é",
    "0",
    "1",
    "2",
    "3",
    "7",
    "42",
    "-1",
    "100",
    "1.5",
    "inf",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "007",
    " 5",
];

/// Glob patterns that stay cheap for a backtracking matcher.
pub const GLOBS: &[&str] = &[
    "*", "?", "k*", "*:1", "str:*", "list:?", "[a-z]*", "[^s]*", "\\*", "[", "[a-", "h[", "*a*",
    "**", "", "[!a]*", "*[0-3]", "[\\]]*", "a\\", "x*y*z",
];

/// Glob patterns that freeze a backtracking matcher (fixed on branch data; behind
/// `Switches::exponential_globs`).
pub const EXPONENTIAL_GLOBS: &[&str] = &[
    "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
    "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
];

/// Timeouts of blocking commands: refused ones, and small ones that end quickly. Never 0,
/// -0, hex or a large value: those block a connection for good.
pub const TIMEOUTS: &[&str] = &[
    "0.01",
    "0.01",
    "0.01",
    "0.02",
    "-1",
    "-0.5",
    "nan",
    "inf",
    "1e400",
    "abc",
    "",
    "9223372036854775807",
    "-9223372036854775808",
];

/// Relative expiry in seconds: only refused, immediate (<= 0) or far-future values, so no key
/// expires while a run is going on (that would be a race between the two servers).
pub const SECONDS: &[&str] = &[
    "0",
    "-1",
    "-100",
    "1000000",
    "100000000",
    "9223372036854775807",
    "-9223372036854775808",
    "4611686018427387904",
    "9223372036854775",
    "abc",
    "1.5",
    "",
];

/// Relative expiry in milliseconds, same rule.
pub const MILLIS: &[&str] = &[
    "0",
    "-1",
    "-100",
    "1000000000",
    "100000000000",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775806",
    "abc",
    "",
];

/// Database indexes.
pub const DBS: &[&str] = &[
    "0",
    "0",
    "1",
    "2",
    "15",
    "16",
    "-1",
    "abc",
    "9223372036854775808",
];

/// CONFIG GET names and patterns whose values both servers share (never `port` or `dir`).
pub const CONFIG_NAMES: &[&str] = &[
    "maxmemory",
    "hz",
    "save",
    "dbfilename",
    "list-max-*",
    "set-max-intset-entries",
    "zset-max-*",
    "hash-max-*",
    "nosuch",
    "appendonly",
    "maxmemory-policy",
    "timeout",
    "databases",
    "proto-max-bulk-len",
    "lfu-*",
    "SAVE",
    "Maxmemory",
];

/// Picks a string of some length class: empty, short word, integer, 65 bytes, 300 bytes,
/// or (one in 20,000) 1 MB.
pub fn value(rng: &mut Rng) -> Vec<u8> {
    match rng.below(20) {
        0 => {
            if rng.chance(1) {
                vec![b'v'; 1 << 20]
            } else {
                vec![b'x'; 65]
            }
        }
        1 => {
            let n = 100 + rng.below(300);
            (0..n).map(|i| b'a' + (i % 26) as u8).collect()
        }
        2..=4 => rng.pick(INTS).as_bytes().to_vec(),
        5 => rng.pick(FLOATS).as_bytes().to_vec(),
        _ => rng.pick(WORDS).as_bytes().to_vec(),
    }
}
