//! Hashes: a small hash is a vector of pairs in insertion order (like Redis's listpack, so
//! HGETALL order matches); it converts one-way to a hash table past the configured limits.

use crate::server::sds::Sds;
use hashbrown::{DefaultHashBuilder, HashTable};
use std::borrow::Cow;
use std::hash::BuildHasher;

/// A field → value hash table whose buckets can be addressed (O(1) random picks).
#[derive(Clone, Default)]
pub struct Table {
    t: HashTable<(Sds, Sds)>,
    h: DefaultHashBuilder,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.t.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl Table {
    fn hash(&self, k: &[u8]) -> u64 {
        self.h.hash_one(k)
    }
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.t.len()
    }
    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }
    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&Sds> {
        self.t
            .find(self.hash(field), |e| e.0.as_bytes() == field)
            .map(|e| &e.1)
    }
    /// Sets a field; true if it is new.
    pub fn insert(&mut self, field: Sds, value: Sds) -> bool {
        let hv = self.hash(&field);
        if let Some(e) = self.t.find_mut(hv, |e| e.0.as_bytes() == field.as_bytes()) {
            e.1 = value;
            return false;
        }
        let h = &self.h;
        self.t
            .insert_unique(hv, (field, value), |e| h.hash_one(e.0.as_bytes()));
        true
    }
    /// Removes a field; true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self
            .t
            .find_entry(self.hash(field), |e| e.0.as_bytes() == field)
        {
            Ok(o) => {
                o.remove();
                if self.t.num_buckets() > 64 && self.t.len() * 8 < self.t.num_buckets() {
                    let h = &self.h;
                    self.t.shrink_to_fit(|e| h.hash_one(e.0.as_bytes()));
                }
                true
            }
            Err(_) => false,
        }
    }
    /// The pairs.
    pub fn iter(&self) -> impl Iterator<Item = &(Sds, Sds)> {
        self.t.iter()
    }

    /// One SCAN step over buckets from `cursor`, visiting about `count` entries; returns
    /// the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&(Sds, Sds))) -> u64 {
        let buckets = self.t.num_buckets();
        let mut i = cursor as usize;
        let mut seen = 0;
        while i < buckets && seen < count.max(1) {
            if let Some(e) = self.t.get_bucket(i) {
                f(e);
                seen += 1;
            }
            i += 1;
        }
        if i >= buckets { 0 } else { i as u64 }
    }

    /// A uniformly random entry (`seed` from the server's generator).
    pub fn random(&self, seed: u64) -> Option<&(Sds, Sds)> {
        super::pick::random_entry(&self.t, seed)
    }
}

/// The representation.
#[derive(Clone, Debug)]
pub enum Repr {
    /// `listpack`: pairs in insertion order.
    Listpack(Vec<(Sds, Sds)>),
    /// `hashtable`.
    Table(Table),
}

/// One (field, value) pair, borrowed from a listpack or a table.
pub type FieldValue<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// A hash: field → value.
#[derive(Clone, Debug)]
pub struct Hash {
    /// The fields.
    pub repr: Repr,
}

impl Default for Hash {
    fn default() -> Self {
        Hash {
            repr: Repr::Listpack(Vec::new()),
        }
    }
}

impl Hash {
    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(v) => v.len(),
            Repr::Table(m) => m.len(),
        }
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&Sds> {
        match &self.repr {
            Repr::Listpack(v) => v
                .iter()
                .find(|(f, _)| f.as_bytes() == field)
                .map(|(_, v)| v),
            Repr::Table(m) => m.get(field),
        }
    }

    /// Converts to a hash table (one-way).
    pub fn convert(&mut self) {
        if let Repr::Listpack(v) = &mut self.repr {
            let mut m = Table::default();
            for (f, val) in std::mem::take(v) {
                m.insert(f, val);
            }
            self.repr = Repr::Table(m);
        }
    }

    /// Converts to a hash table if any of `lens` exceeds `max_value` (Redis checks argument
    /// lengths before the write).
    pub fn maybe_convert_for(&mut self, lens: &[usize], max_value: i64) {
        if matches!(self.repr, Repr::Listpack(_)) && lens.iter().any(|&l| l as i64 > max_value) {
            self.convert();
        }
    }

    /// Converts to a hash table when there are more than `max_entries` fields.
    pub fn maybe_convert_len(&mut self, max_entries: i64) {
        if matches!(self.repr, Repr::Listpack(_)) && self.len() as i64 > max_entries {
            self.convert();
        }
    }

    /// Sets `field` to `value`; true if the field is new.
    pub fn set(&mut self, field: &[u8], value: Sds) -> bool {
        match &mut self.repr {
            Repr::Listpack(v) => {
                if let Some(p) = v.iter_mut().find(|(f, _)| f.as_bytes() == field) {
                    p.1 = value;
                    false
                } else {
                    v.push((Sds::from_slice(field), value));
                    true
                }
            }
            Repr::Table(m) => m.insert(Sds::from_slice(field), value),
        }
    }

    /// Removes `field`; true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack(v) => match v.iter().position(|(f, _)| f.as_bytes() == field) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Repr::Table(m) => m.remove(field),
        }
    }

    /// (field, value) pairs: insertion order for listpacks, no particular order otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = FieldValue<'_>> + '_> {
        match &self.repr {
            Repr::Listpack(v) => Box::new(
                v.iter()
                    .map(|(f, v)| (Cow::Borrowed(f.as_bytes()), Cow::Borrowed(v.as_bytes()))),
            ),
            Repr::Table(m) => Box::new(
                m.iter()
                    .map(|(f, v)| (Cow::Borrowed(f.as_bytes()), Cow::Borrowed(v.as_bytes()))),
            ),
        }
    }

    /// A random pair (`seed` from the server's generator), None when empty.
    pub fn random(&self, seed: u64) -> Option<(&Sds, &Sds)> {
        match &self.repr {
            Repr::Listpack(v) if v.is_empty() => None,
            Repr::Listpack(v) => v.get((seed % v.len() as u64) as usize).map(|(f, v)| (f, v)),
            Repr::Table(m) => m.random(seed).map(|(f, v)| (f, v)),
        }
    }
}
