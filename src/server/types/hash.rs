//! Hashes.

use crate::server::sds::Sds;
use std::collections::HashMap;

/// A hash: field → value.
#[derive(Clone, Debug, Default)]
pub struct Hash {
    /// The fields.
    pub map: HashMap<Sds, Sds>,
}

impl Hash {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
}

impl Hash {
    /// (field, value) pairs, in no particular order.
    pub fn iter(
        &self,
    ) -> impl Iterator<Item = (std::borrow::Cow<'_, [u8]>, std::borrow::Cow<'_, [u8]>)> {
        self.map.iter().map(|(f, v)| {
            (
                std::borrow::Cow::Borrowed(f.as_bytes()),
                std::borrow::Cow::Borrowed(v.as_bytes()),
            )
        })
    }
}
