//! Hashes: a small hash is a vector of pairs in insertion order (like Redis's listpack, so
//! HGETALL order matches); it converts one-way to a hash table past the configured limits.

use crate::server::sds::Sds;
use std::borrow::Cow;
use std::collections::HashMap;

/// The representation.
#[derive(Clone, Debug)]
pub enum Repr {
    /// `listpack`: pairs in insertion order.
    Listpack(Vec<(Sds, Sds)>),
    /// `hashtable`.
    Table(HashMap<Sds, Sds>),
}

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
            let m: HashMap<Sds, Sds> = std::mem::take(v).into_iter().collect();
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
            Repr::Table(m) => m.insert(Sds::from_slice(field), value).is_none(),
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
            Repr::Table(m) => m.remove(field).is_some(),
        }
    }

    /// (field, value) pairs: insertion order for listpacks, no particular order otherwise.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (Cow<'_, [u8]>, Cow<'_, [u8]>)> + '_> {
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

    /// The pair at position `i` of the iteration order (for random picks).
    pub fn nth(&self, i: usize) -> Option<(&Sds, &Sds)> {
        match &self.repr {
            Repr::Listpack(v) => v.get(i).map(|(f, v)| (f, v)),
            Repr::Table(m) => m.iter().nth(i),
        }
    }
}
