//! Sorted sets.

use crate::server::sds::Sds;
use std::collections::HashMap;

/// A sorted set: members with scores, ordered by (score, member).
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    /// member → score.
    pub scores: HashMap<Sds, f64>,
}

impl ZSet {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }
}

impl ZSet {
    /// (member, score) pairs in (score, member) order.
    pub fn iter(&self) -> impl Iterator<Item = (std::borrow::Cow<'_, [u8]>, f64)> {
        let mut v: Vec<_> = self.scores.iter().collect();
        v.sort_by(|a, b| a.1.total_cmp(b.1).then_with(|| a.0.cmp(b.0)));
        v.into_iter()
            .map(|(m, s)| (std::borrow::Cow::Borrowed(m.as_bytes()), *s))
    }
}
