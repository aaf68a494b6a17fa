//! Building values from plain element lists (RDB load, RESTORE), in the representation a
//! command would have produced for the same elements under Redis 7.0's default encoding
//! thresholds.

use super::{Hash, List, Set, Value, ZSet};
use crate::config::Config;
use crate::server::sds::Sds;

/// A list from its elements, head first.
pub fn list(items: Vec<Vec<u8>>) -> Value {
    Value::List(Box::new(List::from_items(items)))
}

/// A set from its members.
pub fn set(items: Vec<Vec<u8>>) -> Value {
    let max_intset = Config::default().set_max_intset_entries;
    Value::Set(Box::new(Set::from_members(
        items.iter().map(|m| m.as_slice()),
        max_intset,
    )))
}

/// A hash from (field, value) pairs.
pub fn hash(items: Vec<(Vec<u8>, Vec<u8>)>) -> Value {
    let c = Config::default();
    let mut h = Hash::default();
    for (f, v) in items {
        h.maybe_convert_for(&[f.len(), v.len()], c.hash_max_listpack_value);
        h.set(&f, Sds::from_vec(v));
    }
    h.maybe_convert_len(c.hash_max_listpack_entries);
    Value::Hash(Box::new(h))
}

/// A sorted set from (member, score) pairs.
pub fn zset(items: Vec<(Vec<u8>, f64)>) -> Value {
    let c = Config::default();
    let mut z = ZSet::default();
    let longest = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    // The encoding first: a skiplist keeps a -0 score, a listpack stores it as 0.
    z.skiplist = items.len() as i64 > c.zset_max_listpack_entries
        || longest as i64 > c.zset_max_listpack_value;
    for (m, s) in items {
        z.insert(&m, s);
    }
    Value::ZSet(Box::new(z))
}
