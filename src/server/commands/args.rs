//! One cursor over a command's arguments, and the argument rules commands share.
//!
//! [`Args`] walks a request's arguments left to right (in the spirit of mini-redis's
//! `parse.rs`): `next_bytes`, `next_i64`, `next_f64`, optional keywords, `rest`, and
//! `finish`, which is Redis's `ERR syntax error` when arguments are left. Every error text is
//! Redis 7.0's, word for word, so handlers never spell one themselves.
//!
//! The free functions are the rules several command families share: integers and doubles
//! as Redis's `string2ll`/`strtod` read them, counts that must be positive, blocking
//! timeouts, and SCAN's cursor and options (with its reply).

use super::{CmdError, Ctx, err};
use crate::server::types::Kind;
use bytes::Bytes;

/// A cursor over one request's arguments.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    /// The whole request (the command name included).
    args: &'a [Bytes],
    /// Index of the next argument to hand out.
    pos: usize,
}

impl<'a> Args<'a> {
    /// A cursor over `args`, positioned at index `start` (1 skips the command name).
    pub fn new(args: &'a [Bytes], start: usize) -> Args<'a> {
        Args {
            args,
            pos: start.min(args.len()),
        }
    }

    /// How many arguments are left.
    pub fn remaining(&self) -> usize {
        self.args.len() - self.pos
    }

    /// Whether every argument was consumed.
    pub fn is_done(&self) -> bool {
        self.pos == self.args.len()
    }

    /// The next argument, without consuming it.
    pub fn peek(&self) -> Option<&'a Bytes> {
        self.args.get(self.pos)
    }

    /// The next argument, if any.
    pub fn take(&mut self) -> Option<&'a Bytes> {
        let a = self.args.get(self.pos)?;
        self.pos += 1;
        Some(a)
    }

    /// The next argument; `ERR syntax error` when there is none.
    pub fn next_bytes(&mut self) -> Result<&'a Bytes, CmdError> {
        self.take().ok_or(err::SYNTAX)
    }

    /// The next argument as an integer (`ERR value is not an integer or out of range`).
    pub fn next_i64(&mut self) -> Result<i64, CmdError> {
        arg_i64(self.next_bytes()?)
    }

    /// The next argument as an integer of at least 1; `msg` otherwise, a non-integer included
    /// (Redis's `ERR count should be greater than 0` and the like).
    pub fn next_positive(&mut self, msg: &'static str) -> Result<i64, CmdError> {
        range_arg(self.next_bytes()?, msg)
    }

    /// The next argument as an integer within `min..=max`; `out_of_range` otherwise.
    pub fn next_i64_in(
        &mut self,
        min: i64,
        max: i64,
        out_of_range: CmdError,
    ) -> Result<i64, CmdError> {
        let v = self.next_i64()?;
        if v < min || v > max {
            return Err(out_of_range);
        }
        Ok(v)
    }

    /// The next argument as a double, as Redis's `getDoubleFromObject` reads it
    /// (`ERR value is not a valid float`).
    pub fn next_f64(&mut self) -> Result<f64, CmdError> {
        double(self.next_bytes()?).ok_or(err::NOT_FLOAT)
    }

    /// Consumes the next argument when it is `word` (ASCII, case-insensitive).
    pub fn keyword(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(a) if is(a, word) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    /// Consumes `word` and the value after it, when the next argument is `word` and a value
    /// follows (as Redis's `j+1 < argc` option checks: a keyword without its value is left
    /// for the caller, usually a syntax error).
    pub fn keyword_value(&mut self, word: &str) -> Option<&'a Bytes> {
        match self.peek() {
            Some(a) if is(a, word) && self.remaining() >= 2 => {
                let v = &self.args[self.pos + 1];
                self.pos += 2;
                Some(v)
            }
            _ => None,
        }
    }

    /// Every argument left, consumed.
    pub fn rest(&mut self) -> &'a [Bytes] {
        let r = &self.args[self.pos..];
        self.pos = self.args.len();
        r
    }

    /// `ERR syntax error` when arguments are left.
    pub fn finish(&self) -> Result<(), CmdError> {
        if self.is_done() {
            Ok(())
        } else {
            Err(err::SYNTAX)
        }
    }
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
#[inline]
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Parses an integer argument as `string2ll` (`ERR value is not an integer or out of range`).
pub fn arg_i64(b: &[u8]) -> Result<i64, CmdError> {
    crate::server::numbers::parse_i64(b).ok_or(err::NOT_INT)
}

/// Parses a float argument (`ERR value is not a valid float`): decimal and hexadecimal
/// forms, `inf`, no NaN, no surrounding spaces.
pub fn arg_f64(b: &[u8]) -> Result<f64, CmdError> {
    strtod(b).ok_or(err::NOT_FLOAT)
}

/// C's `strtod` as Redis uses it on a whole argument: decimal and hexadecimal forms
/// (`0x10`, `-0x1.8p3`), `inf`/`infinity` with a sign, no NaN, no spaces, nothing left
/// over. Out-of-range values come back as they overflow (±inf, 0).
pub fn strtod(b: &[u8]) -> Option<f64> {
    crate::server::numbers::parse_f64(b)
}

/// A double as Redis's `getDoubleFromObject` reads it: [`strtod`], and values whose
/// conversion overflowed to infinity or underflowed to zero (ERANGE) are refused, while
/// `inf` written out is accepted.
pub fn double(b: &[u8]) -> Option<f64> {
    let v = strtod(b)?;
    let lower = b.to_ascii_lowercase();
    if v.is_infinite() && !lower.windows(3).any(|w| w == b"inf") {
        return None;
    }
    if v == 0.0 {
        let mantissa = lower.split(|&c| c == b'e').next().unwrap_or(&[]);
        if mantissa.iter().any(|c| (b'1'..=b'9').contains(c)) {
            return None;
        }
    }
    Some(v)
}

/// An integer that must be at least 1 (numkeys, COUNT): `msg` otherwise, for a non-integer
/// too (Redis's `getRangeLongFromObjectOrReply(.., 1, LONG_MAX, .., msg)`).
pub fn range_arg(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    range_long(arg, 1, i64::MAX, Some(msg))
}

/// Redis's `getRangeLongFromObjectOrReply`: an integer within `min..=max`. With a `msg`, that
/// text answers a non-integer and an out-of-range value alike; without one, a non-integer is
/// `ERR value is not an integer or out of range` and an out-of-range value `ERR value is out
/// of range, value must between <min> and <max>`.
pub fn range_long(
    arg: &[u8],
    min: i64,
    max: i64,
    msg: Option<&'static str>,
) -> Result<i64, CmdError> {
    let Some(v) = crate::server::numbers::parse_i64(arg) else {
        return Err(msg.map_or(err::NOT_INT, CmdError::fixed));
    };
    if v < min || v > max {
        return Err(match msg {
            Some(m) => CmdError::fixed(m),
            None => CmdError::msg(format!(
                "ERR value is out of range, value must between {min} and {max}"
            )),
        });
    }
    Ok(v)
}

/// Redis's `getPositiveLongFromObjectOrReply`: an integer of at least 0; `msg` (by default
/// `ERR value is out of range, must be positive`) for anything else, a non-integer included.
pub fn positive_long(arg: &[u8], msg: Option<&'static str>) -> Result<i64, CmdError> {
    let msg = msg.unwrap_or("ERR value is out of range, must be positive");
    range_long(arg, 0, i64::MAX, Some(msg))
}

/// Redis's `getIntFromObjectOrReply` (database indexes): an integer that fits a C `int`.
pub fn int_arg(arg: &[u8], msg: Option<&'static str>) -> Result<i64, CmdError> {
    range_long(arg, i32::MIN.into(), i32::MAX.into(), msg)
}

/// The arguments of LMPOP/ZMPOP (and, after the timeout, BLMPOP/BZMPOP): `numkeys key...
/// <where> [COUNT n]`, `args[1]` being numkeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MpopArgs {
    /// Index of the where word (LEFT/RIGHT, MIN/MAX): the keys are `args[2..where_idx]`.
    pub where_idx: usize,
    /// The where word is the first of the two (LEFT, MIN).
    pub first: bool,
    /// COUNT (1 by default).
    pub count: usize,
}

/// Parses `numkeys key... <where> [COUNT n]` in Redis's order (numkeys, the where word,
/// COUNT), `words` being the two where words; a blocking variant checks its timeout after.
pub fn mpop_args(args: &[Bytes], words: [&str; 2]) -> Result<MpopArgs, CmdError> {
    let numkeys = range_arg(&args[1], "ERR numkeys should be greater than 0")? as usize;
    let where_idx = 2usize.saturating_add(numkeys);
    let Some(w) = args.get(where_idx) else {
        return Err(err::SYNTAX);
    };
    let first = if w.eq_ignore_ascii_case(words[0].as_bytes()) {
        true
    } else if w.eq_ignore_ascii_case(words[1].as_bytes()) {
        false
    } else {
        return Err(err::SYNTAX);
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && args[j].eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            count = Some(range_arg(
                &args[j + 1],
                "ERR count should be greater than 0",
            )?);
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    Ok(MpopArgs {
        where_idx,
        first,
        count: count.unwrap_or(1) as usize,
    })
}

/// A blocking command's timeout (seconds, fractions allowed) in milliseconds.
pub fn timeout_arg(b: &[u8]) -> Result<i64, CmdError> {
    let t = strtod(b).ok_or(CmdError::fixed(
        "ERR timeout is not a float or out of range",
    ))?;
    let ms = t * 1000.0;
    // Redis casts to long long: out-of-range values (and inf) come out negative on x86.
    let ms = if ms.is_finite() && ms.abs() < 9.2e18 {
        ms.trunc() as i64
    } else {
        i64::MIN
    };
    if ms < 0 {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    Ok(ms)
}

/// A SCAN cursor: an unsigned 64-bit decimal (`ERR invalid cursor`).
pub fn parse_cursor(b: &[u8]) -> Result<u64, CmdError> {
    strtoul(b).ok_or(CmdError::fixed("ERR invalid cursor"))
}

/// Redis's parseScanCursorOrReply: C's `strtoul(s, &end, 10)` on the argument as a C string
/// (it ends at a zero byte), refused when it starts with a space, leaves characters over or
/// overflows. So `` is 0, `+1` is 1 and `-1` wraps to 2^64-1.
fn strtoul(b: &[u8]) -> Option<u64> {
    let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    if b.first()
        .is_some_and(|c| c.is_ascii_whitespace() || *c == 0x0b)
    {
        return None;
    }
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        // No digits: strtoul consumes nothing, so only the empty string is accepted.
        return b.is_empty().then_some(0);
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// The options of SCAN, SSCAN, HSCAN and ZSCAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// MATCH pattern; None when absent or `*` (everything matches).
    pub pattern: Option<Bytes>,
    /// COUNT hint (10 by default).
    pub count: usize,
    /// TYPE filter (SCAN only): Some(None) for a type name that matches nothing.
    pub kind: Option<Option<Kind>>,
}

impl ScanOptions {
    /// Whether `item` matches the MATCH pattern.
    pub fn matches(&self, item: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| crate::server::glob::glob_match(p, item, false))
    }
}

/// Parses SCAN options from `args[start..]`, as Redis's scanGenericCommand: `COUNT n`
/// (at least 1), `MATCH pattern`, and `TYPE name` when `with_type` (SCAN); anything else,
/// or a keyword without its value, is `ERR syntax error`.
pub fn scan_options(
    args: &[Bytes],
    start: usize,
    with_type: bool,
) -> Result<ScanOptions, CmdError> {
    let mut opts = ScanOptions {
        pattern: None,
        count: 10,
        kind: None,
    };
    let mut a = Args::new(args, start);
    while !a.is_done() {
        if let Some(c) = a.keyword_value("count") {
            let c = arg_i64(c)?;
            if c < 1 {
                return Err(err::SYNTAX);
            }
            opts.count = c as usize;
        } else if let Some(p) = a.keyword_value("match") {
            opts.pattern = (p.as_ref() != b"*").then(|| p.clone());
        } else if let Some(t) = a.keyword_value("type").filter(|_| with_type) {
            opts.kind = Some(Kind::from_name(t));
        } else {
            return Err(err::SYNTAX);
        }
    }
    Ok(opts)
}

/// Writes a *SCAN reply: the next cursor and the items.
pub fn scan_reply<I: AsRef<[u8]>>(ctx: &mut Ctx, next: u64, items: &[I]) {
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(items.len());
    for it in items {
        ctx.out.bulk(it.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(parts: &[&str]) -> Vec<Bytes> {
        parts
            .iter()
            .map(|p| Bytes::copy_from_slice(p.as_bytes()))
            .collect()
    }

    #[test]
    fn cursor_walks_and_finishes() {
        let r = req(&["set", "k", "v", "ex", "10"]);
        let mut a = Args::new(&r, 1);
        assert_eq!(a.remaining(), 4);
        assert_eq!(a.next_bytes().unwrap().as_ref(), b"k");
        assert_eq!(a.peek().unwrap().as_ref(), b"v");
        assert_eq!(a.take().unwrap().as_ref(), b"v");
        assert_eq!(a.finish().unwrap_err().0, "ERR syntax error");
        assert!(!a.keyword("px"));
        assert!(a.keyword("EX"));
        assert_eq!(a.next_i64().unwrap(), 10);
        assert!(a.finish().is_ok());
        assert_eq!(a.next_bytes().unwrap_err().0, "ERR syntax error");
        assert!(a.take().is_none());
    }

    #[test]
    fn start_past_the_end_is_done() {
        let r = req(&["ping"]);
        let a = Args::new(&r, 5);
        assert!(a.is_done());
        assert_eq!(a.remaining(), 0);
    }

    #[test]
    fn integers_use_redis_texts() {
        let r = req(&["x", "12", "012", "9223372036854775808", "-5", "0", "7"]);
        let mut a = Args::new(&r, 1);
        assert_eq!(a.next_i64().unwrap(), 12);
        let not_int = "ERR value is not an integer or out of range";
        assert_eq!(a.next_i64().unwrap_err().0, not_int);
        assert_eq!(a.next_i64().unwrap_err().0, not_int);
        assert_eq!(
            a.next_positive("ERR count should be greater than 0")
                .unwrap_err()
                .0,
            "ERR count should be greater than 0"
        );
        assert_eq!(
            a.next_i64_in(1, 15, err::DB_RANGE).unwrap_err().0,
            "ERR DB index is out of range"
        );
        assert_eq!(a.next_i64_in(1, 15, err::DB_RANGE).unwrap(), 7);
    }

    #[test]
    fn range_texts_are_redis_getrange_texts() {
        let not_int = "ERR value is not an integer or out of range";
        let pos = "ERR value is out of range, must be positive";
        assert_eq!(positive_long(b"abc", None).unwrap_err().0, pos);
        assert_eq!(positive_long(b"-1", None).unwrap_err().0, pos);
        assert_eq!(positive_long(b"0", None).unwrap(), 0);
        let lim = "ERR LIMIT can't be negative";
        assert_eq!(positive_long(b"1.5", Some(lim)).unwrap_err().0, lim);
        let nk = "ERR numkeys should be greater than 0";
        assert_eq!(range_arg(b"x", nk).unwrap_err().0, nk);
        assert_eq!(range_arg(b"0", nk).unwrap_err().0, nk);
        assert_eq!(range_arg(b"3", nk).unwrap(), 3);
        assert_eq!(int_arg(b"x", None).unwrap_err().0, not_int);
        assert_eq!(
            int_arg(b"2147483648", None).unwrap_err().0,
            "ERR value is out of range, value must between -2147483648 and 2147483647"
        );
        assert_eq!(int_arg(b"-2147483648", None).unwrap(), -2147483648);
    }

    #[test]
    fn floats_follow_strtod() {
        assert_eq!(strtod(b"0x10"), Some(16.0));
        assert_eq!(strtod(b"-0X1.8P3"), Some(-12.0));
        assert_eq!(strtod(b"inf"), Some(f64::INFINITY));
        assert_eq!(strtod(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod(b"nan"), None);
        assert_eq!(strtod(b" 1"), None);
        assert_eq!(strtod(b"1 "), None);
        assert_eq!(strtod(b"1e"), None);
        assert_eq!(strtod(b""), None);
        assert_eq!(strtod(b"1e400"), Some(f64::INFINITY));
        // getDoubleFromObject refuses ERANGE, but not a written-out inf or a real zero.
        assert_eq!(double(b"1e400"), None);
        assert_eq!(double(b"1e-400"), None);
        assert_eq!(double(b"0e-400"), Some(0.0));
        assert_eq!(double(b"+inf"), Some(f64::INFINITY));
        let r = req(&["z", "1.5", "abc"]);
        let mut a = Args::new(&r, 1);
        assert_eq!(a.next_f64().unwrap(), 1.5);
        assert_eq!(
            a.next_f64().unwrap_err().0,
            "ERR value is not a valid float"
        );
        assert_eq!(
            arg_f64(b"x").unwrap_err().0,
            "ERR value is not a valid float"
        );
    }

    #[test]
    fn keyword_value_needs_its_value() {
        let r = req(&["scan", "0", "COUNT"]);
        let mut a = Args::new(&r, 2);
        assert!(a.keyword_value("count").is_none());
        assert_eq!(a.remaining(), 1);
        let r = req(&["scan", "0", "CoUnT", "5", "x"]);
        let mut a = Args::new(&r, 2);
        assert_eq!(a.keyword_value("count").unwrap().as_ref(), b"5");
        assert_eq!(a.rest().len(), 1);
        assert!(a.is_done());
    }

    #[test]
    fn timeouts() {
        assert_eq!(timeout_arg(b"1.5").unwrap(), 1500);
        assert_eq!(timeout_arg(b"0").unwrap(), 0);
        assert_eq!(timeout_arg(b"-1").unwrap_err().0, "ERR timeout is negative");
        assert_eq!(
            timeout_arg(b"inf").unwrap_err().0,
            "ERR timeout is negative"
        );
        assert_eq!(
            timeout_arg(b"x").unwrap_err().0,
            "ERR timeout is not a float or out of range"
        );
    }

    #[test]
    fn scan_options_as_redis() {
        let r = req(&["scan", "0", "match", "*", "count", "3"]);
        let o = scan_options(&r, 2, true).unwrap();
        assert_eq!((o.pattern, o.count, o.kind), (None, 3, None));
        let r = req(&["scan", "0", "type", "string", "match", "a*"]);
        let o = scan_options(&r, 2, true).unwrap();
        assert_eq!(o.kind, Some(Some(Kind::Str)));
        assert!(o.matches(b"abc") && !o.matches(b"b"));
        for bad in [
            &["hscan", "k", "0", "type", "string"][..],
            &["hscan", "k", "0", "count", "0"],
            &["hscan", "k", "0", "count"],
            &["hscan", "k", "0", "foo", "1"],
        ] {
            let r = req(bad);
            assert_eq!(
                scan_options(&r, 3, false).unwrap_err().0,
                "ERR syntax error"
            );
        }
        assert_eq!(
            scan_options(&req(&["s", "0", "count", "x"]), 2, false)
                .unwrap_err()
                .0,
            "ERR value is not an integer or out of range"
        );
        assert_eq!(parse_cursor(b"18446744073709551615").unwrap(), u64::MAX);
        // strtoul, as Redis's parseScanCursorOrReply: a sign is read, `-1` wraps, an empty
        // string is 0, a leading space, junk or an overflow is refused.
        assert_eq!(parse_cursor(b"-1").unwrap(), u64::MAX);
        assert_eq!(parse_cursor(b"+7").unwrap(), 7);
        assert_eq!(parse_cursor(b"").unwrap(), 0);
        assert_eq!(parse_cursor(b"5\0junk").unwrap(), 5);
        for bad in [
            &b" 1"[..],
            b"+",
            b"-",
            b"1x",
            b"18446744073709551616",
            b"\t0",
        ] {
            assert_eq!(parse_cursor(bad).unwrap_err().0, "ERR invalid cursor");
        }
    }
}
