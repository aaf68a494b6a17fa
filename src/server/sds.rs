//! `Sds`: the byte string used for keys and string values.
//!
//! Redis keys and values are binary-safe byte strings, most of them short. `Sds` keeps
//! strings of up to 22 bytes inline (no allocation) and longer ones in one exact-size heap
//! block, in 24 bytes either way, which keeps a keyspace entry small (see `db.rs`).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

const INLINE_CAP: usize = 22;

/// A compact, immutable, binary-safe string.
#[derive(Clone)]
pub enum Sds {
    /// Short strings, stored in place.
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    /// Longer strings, one heap block of exactly their length.
    Heap(Box<[u8]>),
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
            Sds::Heap(bytes.into())
        }
    }

    /// Takes ownership of `v` (no copy when it is long).
    pub fn from_vec(v: Vec<u8>) -> Sds {
        if v.len() <= INLINE_CAP {
            Sds::from_slice(&v)
        } else {
            Sds::Heap(v.into_boxed_slice())
        }
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Sds::Inline { len, buf } => &buf[..*len as usize],
            Sds::Heap(b) => b,
        }
    }

    /// Heap bytes this string owns beyond its own 24 bytes (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Sds::Inline { .. } => 0,
            Sds::Heap(b) => b.len(),
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
}
