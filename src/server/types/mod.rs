//! The value types of the keyspace and their in-memory representations.
//!
//! Every value is one [`Value`]; collections are boxed so that a keyspace entry stays small.
//! Each collection type lives in its own module and exposes the operations commands and the
//! RDB codec need.

pub mod build;
pub mod hash;
pub mod list;
pub mod listpack_size;
pub mod pick;
pub mod set;
pub mod stream;
pub mod zset;

use super::sds::{Mark, Sds};

pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use stream::Stream;
pub use zset::ZSet;

/// One value stored under a key.
#[derive(Clone, Debug)]
pub enum Value {
    /// A string (Redis `string`; integers are strings too).
    Str(Sds),
    /// A list.
    List(Box<List>),
    /// A hash.
    Hash(Box<Hash>),
    /// A set.
    Set(Box<Set>),
    /// A sorted set.
    ZSet(Box<ZSet>),
    /// A stream.
    Stream(Box<Stream>),
}

/// The type names TYPE and SCAN TYPE use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    List,
    Hash,
    Set,
    ZSet,
    Stream,
}

impl Kind {
    /// Redis's name for the type (`string`, `list`, `hash`, `set`, `zset`, `stream`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::List => "list",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::Stream => "stream",
        }
    }

    /// Parses a type name as given to SCAN ... TYPE (case-insensitive).
    pub fn from_name(name: &[u8]) -> Option<Kind> {
        let n = name.to_ascii_lowercase();
        Some(match &n[..] {
            b"string" => Kind::Str,
            b"list" => Kind::List,
            b"hash" => Kind::Hash,
            b"set" => Kind::Set,
            b"zset" => Kind::ZSet,
            b"stream" => Kind::Stream,
            _ => return None,
        })
    }
}

impl Value {
    /// The value's type.
    pub fn kind(&self) -> Kind {
        match self {
            Value::Str(_) => Kind::Str,
            Value::List(_) => Kind::List,
            Value::Hash(_) => Kind::Hash,
            Value::Set(_) => Kind::Set,
            Value::ZSet(_) => Kind::ZSet,
            Value::Stream(_) => Kind::Stream,
        }
    }

    /// The encoding OBJECT ENCODING reports, with Redis 7.0's names and thresholds.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => string_encoding(s),
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// What OBJECT REFCOUNT and DEBUG OBJECT report: Redis shares the integers 0..9999
    /// (OBJ_SHARED_INTEGERS) with refcount INT_MAX; every other value has one reference.
    pub fn refcount(&self) -> i64 {
        let shared = match self {
            Value::Str(s) => {
                string_encoding(s) == "int"
                    && super::numbers::parse_i64(s).is_some_and(|n| (0..10_000).contains(&n))
            }
            _ => false,
        };
        if shared { i32::MAX as i64 } else { 1 }
    }
}

/// Redis's encoding for a string value: `raw` once modified in place (APPEND, SETRANGE);
/// otherwise `int` when it is a canonical 64-bit integer stored by a SET-like command,
/// `embstr` up to 44 bytes, `raw` beyond.
pub fn string_encoding(s: &Sds) -> &'static str {
    match s.mark() {
        Mark::Raw => "raw",
        Mark::Plain if s.len() <= 20 && super::numbers::parse_i64(s).is_some() => "int",
        _ if s.len() <= 44 => "embstr",
        _ => "raw",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_is_small() {
        assert!(std::mem::size_of::<super::Value>() <= 32);
    }

    #[test]
    fn string_encoding_follows_the_mark() {
        use super::{Mark, Sds, string_encoding};
        let enc = |s: &str, m| string_encoding(&Sds::from(s).with_mark(m));
        assert_eq!(enc("12", Mark::Plain), "int");
        assert_eq!(enc("12", Mark::NoInt), "embstr");
        assert_eq!(enc("12", Mark::Raw), "raw");
        assert_eq!(enc("abc", Mark::Plain), "embstr");
        assert_eq!(enc(&"x".repeat(45), Mark::NoInt), "raw");
    }
}
