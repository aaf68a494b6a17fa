//! `Sds`: the byte string used for keys and string values.
//!
//! Redis keys and values are binary-safe byte strings, most of them short. `Sds` keeps
//! strings of up to 22 bytes inline (no allocation) and longer ones in one exact-size heap
//! block, in 24 bytes either way, which keeps a keyspace entry small (see `db.rs`).
//!
//! A string value also carries a [`Mark`] (two bits, no extra word): how the last write left
//! it, so OBJECT ENCODING can answer as Redis does (`raw` after APPEND/SETRANGE even when
//! short, `embstr` for an INCRBYFLOAT result that looks like an integer). Keys never set it.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

const INLINE_CAP: usize = 22;
/// The low bits of an inline `len` hold the length (at most 22); the two high bits the mark.
const LEN_MASK: u8 = 0x3f;
const MARK_SHIFT: u32 = 6;

/// How a string value was written, which decides the encoding Redis would report for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mark {
    /// Stored as SET stores it (tryObjectEncoding): `int` when it can be, else by length.
    #[default]
    Plain = 0,
    /// Created as a plain string object (INCRBYFLOAT): never `int`, `embstr`/`raw` by length.
    NoInt = 1,
    /// Modified in place (APPEND, SETRANGE: dbUnshareStringValue): always `raw`.
    Raw = 2,
}

impl Mark {
    fn from_bits(b: u8) -> Mark {
        match b & 3 {
            1 => Mark::NoInt,
            2 => Mark::Raw,
            _ => Mark::Plain,
        }
    }
}

/// A compact, immutable, binary-safe string.
///
/// The variants are private in spirit: use the constructors and [`Sds::as_bytes`].
#[derive(Clone)]
pub enum Sds {
    /// Short strings, stored in place; `len` holds the length and, in its two high bits, the
    /// [`Mark`].
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    /// Longer strings, one heap block of exactly their length, and their [`Mark`].
    Heap(Box<[u8]>, Mark),
}

impl Sds {
    /// The empty string.
    pub const fn empty() -> Sds {
        Sds::Inline {
            len: 0,
            buf: [0; INLINE_CAP],
        }
    }

    /// Copies `bytes` into a new string.
    pub fn from_slice(bytes: &[u8]) -> Sds {
        if bytes.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..bytes.len()].copy_from_slice(bytes);
            Sds::Inline {
                len: bytes.len() as u8,
                buf,
            }
        } else {
            Sds::Heap(bytes.into(), Mark::Plain)
        }
    }

    /// Takes ownership of `v` (no copy when it is long).
    pub fn from_vec(v: Vec<u8>) -> Sds {
        if v.len() <= INLINE_CAP {
            Sds::from_slice(&v)
        } else {
            Sds::Heap(v.into_boxed_slice(), Mark::Plain)
        }
    }

    /// The mark the last write left (see [`Mark`]).
    pub fn mark(&self) -> Mark {
        match self {
            Sds::Inline { len, .. } => Mark::from_bits(*len >> MARK_SHIFT),
            Sds::Heap(_, m) => *m,
        }
    }

    /// The same string with mark `m`.
    pub fn with_mark(mut self, m: Mark) -> Sds {
        match &mut self {
            Sds::Inline { len, .. } => *len = (*len & LEN_MASK) | ((m as u8) << MARK_SHIFT),
            Sds::Heap(_, mark) => *mark = m,
        }
        self
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Sds::Inline { len, buf } => &buf[..(*len & LEN_MASK) as usize],
            Sds::Heap(b, _) => b,
        }
    }

    /// The bytes, writable in place (the length stays; SETBIT, BITFIELD, PFADD write
    /// into a string as Redis does after dbUnshareStringValue).
    #[inline]
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        match self {
            Sds::Inline { len, buf } => &mut buf[..(*len & LEN_MASK) as usize],
            Sds::Heap(b, _) => b,
        }
    }

    /// Grows the string to `new_len` bytes, the new ones zero (Redis's sdsgrowzero); the
    /// heap block is reallocated (in place when the allocator can), never copied twice.
    /// Does nothing when the string is already that long. Keeps the mark.
    pub fn grow_zero(&mut self, new_len: usize) {
        if new_len <= self.len() {
            return;
        }
        let mark = self.mark();
        let mut v = match std::mem::take(self) {
            Sds::Heap(b, _) => b.into_vec(),
            inline => inline.as_bytes().to_vec(),
        };
        v.reserve_exact(new_len - v.len());
        v.resize(new_len, 0);
        *self = Sds::from_vec(v).with_mark(mark);
    }

    /// Heap bytes this string owns beyond its own 24 bytes (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Sds::Inline { .. } => 0,
            Sds::Heap(b, _) => b.len(),
        }
    }
}

impl Default for Sds {
    fn default() -> Self {
        Sds::empty()
    }
}

impl Deref for Sds {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Sds {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Sds {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Sds {
    fn eq(&self, other: &Sds) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for Sds {}

impl PartialOrd for Sds {
    fn partial_cmp(&self, other: &Sds) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Sds {
    fn cmp(&self, other: &Sds) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for Sds {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for Sds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl From<&[u8]> for Sds {
    fn from(b: &[u8]) -> Sds {
        Sds::from_slice(b)
    }
}
impl From<&str> for Sds {
    fn from(s: &str) -> Sds {
        Sds::from_slice(s.as_bytes())
    }
}
impl From<Vec<u8>> for Sds {
    fn from(v: Vec<u8>) -> Sds {
        Sds::from_vec(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_in_24_bytes() {
        assert_eq!(std::mem::size_of::<Sds>(), 24);
    }

    #[test]
    fn inline_and_heap_round_trip() {
        for n in [0usize, 1, 22, 23, 100] {
            let v: Vec<u8> = (0..n as u8).collect();
            assert_eq!(Sds::from_slice(&v).as_bytes(), &v[..]);
            assert_eq!(Sds::from_vec(v.clone()).as_bytes(), &v[..]);
        }
    }

    #[test]
    fn mark_is_kept_beside_the_bytes() {
        for n in [0usize, 5, 22, 23, 60] {
            let v: Vec<u8> = (0..n as u8).collect();
            let s = Sds::from_slice(&v);
            assert_eq!(s.mark(), Mark::Plain);
            for m in [Mark::NoInt, Mark::Raw, Mark::Plain] {
                let t = s.clone().with_mark(m);
                assert_eq!(t.mark(), m);
                assert_eq!(t.as_bytes(), &v[..]);
                assert_eq!(t.len(), n);
                assert_eq!(t, s);
            }
        }
    }
}
