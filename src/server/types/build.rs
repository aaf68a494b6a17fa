//! Building values from plain element lists (RDB load, RESTORE). Each function picks the
//! representation a command would have produced for the same elements.

use super::{Hash, List, Set, Value, ZSet};
use crate::server::sds::Sds;

/// A list from its elements, head first.
pub fn list(items: Vec<Vec<u8>>) -> Value {
    Value::List(Box::new(List {
        items: items.into_iter().map(Sds::from_vec).collect(),
    }))
}

/// A set from its members.
pub fn set(items: Vec<Vec<u8>>) -> Value {
    Value::Set(Box::new(Set {
        members: items.into_iter().map(Sds::from_vec).collect(),
    }))
}

/// A hash from (field, value) pairs.
pub fn hash(items: Vec<(Vec<u8>, Vec<u8>)>) -> Value {
    Value::Hash(Box::new(Hash {
        map: items
            .into_iter()
            .map(|(f, v)| (Sds::from_vec(f), Sds::from_vec(v)))
            .collect(),
    }))
}

/// A sorted set from (member, score) pairs.
pub fn zset(items: Vec<(Vec<u8>, f64)>) -> Value {
    Value::ZSet(Box::new(ZSet {
        scores: items
            .into_iter()
            .map(|(m, s)| (Sds::from_vec(m), s))
            .collect(),
    }))
}
