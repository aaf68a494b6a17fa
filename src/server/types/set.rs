//! Sets.

use crate::server::sds::Sds;
use std::collections::HashSet;

/// A set of byte strings.
#[derive(Clone, Debug, Default)]
pub struct Set {
    /// The members.
    pub members: HashSet<Sds>,
}

impl Set {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
}

impl Set {
    /// The members, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = std::borrow::Cow<'_, [u8]>> {
        self.members
            .iter()
            .map(|s| std::borrow::Cow::Borrowed(s.as_bytes()))
    }
}
