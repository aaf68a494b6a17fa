//! Lists.

use crate::server::sds::Sds;
use std::collections::VecDeque;

/// A list of byte strings.
#[derive(Clone, Debug, Default)]
pub struct List {
    /// The elements, head first.
    pub items: VecDeque<Sds>,
}

impl List {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when empty (an empty list is deleted from the keyspace).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }
}

impl List {
    /// The elements, head first.
    pub fn iter(&self) -> impl Iterator<Item = std::borrow::Cow<'_, [u8]>> {
        self.items
            .iter()
            .map(|s| std::borrow::Cow::Borrowed(s.as_bytes()))
    }
}
