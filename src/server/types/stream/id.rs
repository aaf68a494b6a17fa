//! Stream ids (`<ms>-<seq>`, two unsigned 64-bit numbers) and their parsing as Redis's
//! streamGenericParseIDOrReply: `-` and `+`, a missing sequence, `<ms>-*` for XADD, and
//! numbers read by string2ull (strtoull's leniency included).

use std::fmt;

/// A stream entry id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// 0-0.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The greatest id.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// An id from its parts.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next id (streamIncrID), None after the greatest.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                return None;
            }
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous id (streamDecrID), None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                return None;
            }
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// The 16-byte big-endian form (rax keys, RDB).
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    /// Reads the 16-byte big-endian form.
    pub fn from_be_bytes(b: &[u8]) -> Option<StreamId> {
        if b.len() != 16 {
            return None;
        }
        Some(StreamId::new(
            u64::from_be_bytes(b[..8].try_into().ok()?),
            u64::from_be_bytes(b[8..].try_into().ok()?),
        ))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A parsed id argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The id (sequence 0 for `<ms>-*`).
    pub id: StreamId,
    /// False for `<ms>-*` (XADD picks the sequence).
    pub seq_given: bool,
}

/// Redis's string2ull: string2ll for canonical numbers (negatives refused), else strtoull
/// (leading spaces, a sign, digits to the end; a minus wraps; overflow refused).
pub fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::server::numbers::parse_i64(s) {
        return (v >= 0).then_some(v as u64);
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if i >= s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Parses an id argument. `strict` refuses `-` and `+`; `missing_seq` is the sequence of
/// a bare `<ms>`; `allow_auto_seq` accepts `<ms>-*`.
pub fn parse(arg: &[u8], strict: bool, missing_seq: u64, allow_auto_seq: bool) -> Option<Parsed> {
    // Redis works on a C string: it ends at the first NUL byte.
    let arg = match arg.iter().position(|&b| b == 0) {
        Some(n) => &arg[..n],
        None => arg,
    };
    if arg.len() > 127 {
        return None;
    }
    let given = |id| {
        Some(Parsed {
            id,
            seq_given: true,
        })
    };
    if arg == b"-" || arg == b"+" {
        if strict {
            return None;
        }
        return given(if arg == b"-" {
            StreamId::MIN
        } else {
            StreamId::MAX
        });
    }
    match arg.iter().position(|&b| b == b'-') {
        None => given(StreamId::new(string2ull(arg)?, missing_seq)),
        Some(dot) => {
            let ms = string2ull(&arg[..dot])?;
            let rest = &arg[dot + 1..];
            if allow_auto_seq && rest == b"*" {
                return Some(Parsed {
                    id: StreamId::new(ms, 0),
                    seq_given: false,
                });
            }
            given(StreamId::new(ms, string2ull(rest)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_redis() {
        let p = |s: &str| parse(s.as_bytes(), false, 0, true).map(|p| (p.id, p.seq_given));
        assert_eq!(p("1-2"), Some((StreamId::new(1, 2), true)));
        assert_eq!(p("5"), Some((StreamId::new(5, 0), true)));
        assert_eq!(p("5-*"), Some((StreamId::new(5, 0), false)));
        assert_eq!(p("-"), Some((StreamId::MIN, true)));
        assert_eq!(p("+5"), Some((StreamId::new(5, 0), true)));
        assert_eq!(p(" 7-1"), Some((StreamId::new(7, 1), true)));
        assert_eq!(p("-1"), None);
        assert_eq!(p("1-x"), None);
        assert_eq!(p("18446744073709551616"), None);
        assert_eq!(parse(b"+", true, 0, false), None);
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::new(1, 0).decr(), Some(StreamId::new(0, u64::MAX)));
    }
}
