//! Sets: an intset (sorted integers) while every member is an integer and the set is small,
//! a hash table otherwise (one-way conversion, as in Redis 7.0).

use crate::server::numbers::parse_i64;
use crate::server::sds::Sds;
use hashbrown::{DefaultHashBuilder, HashTable};
use std::borrow::Cow;
use std::hash::BuildHasher;

/// A hash set of strings whose buckets can be addressed, for O(1) random picks (SPOP,
/// SRANDMEMBER) and bucket-index SSCAN cursors.
#[derive(Clone, Default)]
pub struct Table {
    t: HashTable<Sds>,
    h: DefaultHashBuilder,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.t.iter()).finish()
    }
}

impl Table {
    fn hash(&self, m: &[u8]) -> u64 {
        self.h.hash_one(m)
    }
    /// Number of members.
    pub fn len(&self) -> usize {
        self.t.len()
    }
    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }
    /// Whether `m` is present.
    pub fn contains(&self, m: &[u8]) -> bool {
        self.t.find(self.hash(m), |e| e.as_bytes() == m).is_some()
    }
    /// Inserts; true if new.
    pub fn insert(&mut self, m: Sds) -> bool {
        let hv = self.hash(&m);
        if self.t.find(hv, |e| e.as_bytes() == m.as_bytes()).is_some() {
            return false;
        }
        let h = &self.h;
        self.t.insert_unique(hv, m, |e| h.hash_one(e.as_bytes()));
        true
    }
    /// Removes; true if it was present.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.t.find_entry(self.hash(m), |e| e.as_bytes() == m) {
            Ok(o) => {
                o.remove();
                true
            }
            Err(_) => false,
        }
    }
    /// The members.
    pub fn iter(&self) -> impl Iterator<Item = &Sds> {
        self.t.iter()
    }
    /// A uniformly random entry (`seed` from the server's generator).
    pub fn random(&self, seed: u64) -> Option<&Sds> {
        super::pick::random_entry(&self.t, seed)
    }

    /// One SCAN step over buckets from `cursor`, visiting about `count` entries; returns
    /// the next cursor (0 when done).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&Sds)) -> u64 {
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

    /// Shrinks after mass deletions.
    pub fn maybe_shrink(&mut self) {
        if self.t.num_buckets() > 64 && self.t.len() * 8 < self.t.num_buckets() {
            let h = &self.h;
            self.t.shrink_to_fit(|e| h.hash_one(e.as_bytes()));
        }
    }
}

/// The representation.
#[derive(Clone, Debug)]
pub enum Repr {
    /// `intset`: sorted, distinct integers.
    Intset(Vec<i64>),
    /// `hashtable`.
    Table(Table),
}

/// A set of byte strings.
#[derive(Clone, Debug)]
pub struct Set {
    /// The members.
    pub repr: Repr,
}

impl Default for Set {
    fn default() -> Self {
        Set {
            repr: Repr::Intset(Vec::new()),
        }
    }
}

impl Set {
    /// An empty set whose encoding suits `first` (what Redis's `setTypeCreate` does).
    pub fn for_member(first: &[u8]) -> Set {
        if parse_i64(first).is_some() {
            Set::default()
        } else {
            Set {
                repr: Repr::Table(Table::default()),
            }
        }
    }

    /// Builds a set the way SINTERSTORE & co do: starting as an intset, adding in order.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>, max_intset: i64) -> Set {
        let mut s = Set::default();
        for m in members {
            s.add(m, max_intset);
        }
        s
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Intset(v) => v.len(),
            Repr::Table(t) => t.len(),
        }
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Intset(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    fn convert(&mut self) {
        if let Repr::Intset(v) = &self.repr {
            let mut t = Table::default();
            for i in v {
                t.insert(Sds::from_slice(i.to_string().as_bytes()));
            }
            self.repr = Repr::Table(t);
        }
    }

    /// Whether `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Intset(v) => parse_i64(m).is_some_and(|i| v.binary_search(&i).is_ok()),
            Repr::Table(t) => t.contains(m),
        }
    }

    /// Adds `m`; true if it was not a member.
    pub fn add(&mut self, m: &[u8], max_intset: i64) -> bool {
        if let Repr::Intset(v) = &mut self.repr {
            match parse_i64(m) {
                Some(i) => {
                    return match v.binary_search(&i) {
                        Ok(_) => false,
                        Err(p) => {
                            v.insert(p, i);
                            if v.len() as i64 > max_intset {
                                self.convert();
                            }
                            true
                        }
                    };
                }
                None => self.convert(),
            }
        }
        match &mut self.repr {
            Repr::Table(t) => t.insert(Sds::from_slice(m)),
            Repr::Intset(_) => unreachable!(),
        }
    }

    /// Removes `m`; true if it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Intset(v) => match parse_i64(m).map(|i| v.binary_search(&i)) {
                Some(Ok(p)) => {
                    v.remove(p);
                    true
                }
                _ => false,
            },
            Repr::Table(t) => {
                let r = t.remove(m);
                if r {
                    t.maybe_shrink();
                }
                r
            }
        }
    }

    /// A random member (`seed` from the server's generator), None when empty.
    pub fn random(&self, seed: u64) -> Option<Vec<u8>> {
        match &self.repr {
            Repr::Intset(v) if v.is_empty() => None,
            Repr::Intset(v) => Some(v[(seed % v.len() as u64) as usize].to_string().into_bytes()),
            Repr::Table(t) => t.random(seed).map(|m| m.to_vec()),
        }
    }

    /// The members: ascending for intsets, no particular order otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Cow<'_, [u8]>> + '_> {
        match &self.repr {
            Repr::Intset(v) => Box::new(v.iter().map(|i| Cow::Owned(i.to_string().into_bytes()))),
            Repr::Table(t) => Box::new(t.iter().map(|s| Cow::Borrowed(s.as_bytes()))),
        }
    }

    /// The members as owned byte vectors, in iteration order.
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        self.iter().map(|c| c.into_owned()).collect()
    }
}
