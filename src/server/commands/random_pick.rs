//! The count logic SRANDMEMBER, HRANDFIELD and ZRANDMEMBER share (Redis's
//! `*RandomWithCountCommand`): argument checks with Redis's error texts, and the reply for a
//! count -- negative: that many independent uniform picks; at least the size: everything;
//! otherwise that many distinct uniform picks.
//!
//! A client-chosen count never sizes an allocation: a negative count larger than the value
//! is streamed to the client from a copy of the value (bounded by the data, not the count),
//! piece by piece as the socket takes it (`ReplyBuf::stream`), outside the state lock.

use super::{CmdError, arg_i64};
use crate::resp::{Proto, ReplyBuf, ReplyStream};
use bytes::Bytes;
use std::collections::HashSet;

/// Negative counts up to this many picks (or up to the value's size) are written at once.
const INLINE_PICKS: u64 = 4096;

/// One element as a reply shows it: the member (or field) and what WITHSCORES / WITHVALUES
/// add.
#[derive(Clone, Debug)]
pub enum Pick {
    /// A set member, or a field or member without its value or score.
    Member(Bytes),
    /// A hash field with its value.
    WithValue(Bytes, Bytes),
    /// A sorted-set member with its score.
    WithScore(Bytes, f64),
}

impl Pick {
    fn member(&self) -> &Bytes {
        match self {
            Pick::Member(m) | Pick::WithValue(m, _) | Pick::WithScore(m, _) => m,
        }
    }

    fn write(&self, out: &mut ReplyBuf) {
        match self {
            Pick::Member(m) => out.bulk(m),
            Pick::WithValue(m, v) => {
                if out.proto == Proto::Resp3 {
                    out.array(2);
                }
                out.bulk(m);
                out.bulk(v);
            }
            Pick::WithScore(m, s) => {
                if out.proto == Proto::Resp3 {
                    out.array(2);
                }
                out.bulk(m);
                out.double(*s);
            }
        }
    }
}

/// A value to pick from.
pub trait Source {
    /// Number of elements.
    fn len(&self) -> usize;
    /// Whether there are no elements.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A uniformly random element (`seed` from the generator).
    fn random(&self, seed: u64) -> Pick;
    /// Every element, in the value's iteration order.
    fn all(&self) -> Vec<Pick>;
}

/// Parses the count of `SRANDMEMBER key count`, `HRANDFIELD key count [WITHVALUES]`,
/// `ZRANDMEMBER key count [WITHSCORES]`: -2^63 is refused with Redis's range text.
pub fn parse_count(arg: &[u8]) -> Result<i64, CmdError> {
    let count = arg_i64(arg)?;
    if count == i64::MIN {
        return Err(CmdError::msg(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    Ok(count)
}

/// With WITHVALUES / WITHSCORES, Redis refuses counts whose doubled reply length would
/// overflow (checked after the option, before the key is looked up).
pub fn check_pairs(count: i64) -> Result<(), CmdError> {
    if count.unsigned_abs() > (i64::MAX / 2) as u64 {
        return Err(CmdError::fixed("ERR value is out of range"));
    }
    Ok(())
}

/// A small generator (splitmix64) seeded from the server's, so picks need no lock.
#[derive(Clone, Copy)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A uniform index below `n` (> 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Writes the array header for `n` elements (doubled in RESP2 when each has a value).
fn header(out: &mut ReplyBuf, n: u64, pairs: bool) {
    let n = if pairs && out.proto == Proto::Resp2 {
        n * 2
    } else {
        n
    };
    out.array(n as usize);
}

/// Writes the reply to a count (already checked by [`parse_count`]) for a non-empty `src`;
/// `pairs` tells whether elements carry a value or score.
pub fn reply_count(out: &mut ReplyBuf, src: &dyn Source, count: i64, pairs: bool, mut rng: Rng) {
    let len = src.len();
    if count < 0 {
        let n = count.unsigned_abs();
        header(out, n, pairs);
        if n <= INLINE_PICKS.max(len as u64) {
            for _ in 0..n {
                src.random(rng.next_u64()).write(out);
            }
        } else {
            out.stream(Box::new(Repeats {
                all: src.all(),
                left: n,
                rng,
            }));
        }
        return;
    }
    let count = count as usize;
    if count >= len {
        let all = src.all();
        header(out, all.len() as u64, pairs);
        all.iter().for_each(|p| p.write(out));
        return;
    }
    let picked = if count.saturating_mul(3) > len {
        // Many of the elements: a partial Fisher-Yates over a copy (at most 3x count).
        let mut all = src.all();
        for i in 0..count {
            let j = i + rng.below(all.len() - i);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        // Few of many: uniform picks until enough distinct ones.
        let mut seen = HashSet::with_capacity(count);
        let mut picked = Vec::with_capacity(count);
        while picked.len() < count {
            let p = src.random(rng.next_u64());
            if seen.insert(p.member().clone()) {
                picked.push(p);
            }
        }
        picked
    };
    header(out, picked.len() as u64, pairs);
    picked.iter().for_each(|p| p.write(out));
}

/// The rest of a negative-count reply: `left` uniform picks from a copy of the value.
struct Repeats {
    all: Vec<Pick>,
    left: u64,
    rng: Rng,
}

impl ReplyStream for Repeats {
    fn fill(&mut self, out: &mut ReplyBuf, budget: usize) -> bool {
        while self.left > 0 && out.buf.len() < budget {
            self.left -= 1;
            self.all[self.rng.below(self.all.len())].write(out);
        }
        self.left > 0
    }
}
