//! Sorted sets: a member → score map plus an order-statistic treap over (score, member), so
//! that rank queries, rank selection and score/lex range counts are O(log N).
//!
//! OBJECT ENCODING reports `listpack` while the set is within the zset-max-listpack limits
//! and `skiplist` after a (one-way) conversion, as Redis 7.0 does; the in-memory structure
//! is the same either way, except for one visible trait of the encodings: a listpack writes
//! a score of -0 as the integer 0, a skiplist keeps the double -0 (replies `-0`, DEBUG
//! DIGEST, RDB).

use crate::server::sds::Sds;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

type Link = Option<Box<Node>>;

#[derive(Clone, Debug)]
struct Node {
    score: f64,
    member: Sds,
    prio: u64,
    size: usize,
    left: Link,
    right: Link,
}

fn size(l: &Link) -> usize {
    l.as_ref().map_or(0, |n| n.size)
}

impl Node {
    fn fix(&mut self) {
        self.size = 1 + size(&self.left) + size(&self.right);
    }
}

/// Redis's element order: by score, then by member bytes.
pub fn cmp_elem(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2)
        .unwrap_or(Ordering::Equal)
        .then_with(|| m1.cmp(m2))
}

/// Splits `t` into (elements for which `before` holds, the rest); `before` must be monotone.
fn split(t: Link, before: &dyn Fn(&Node) -> bool) -> (Link, Link) {
    match t {
        None => (None, None),
        Some(mut n) => {
            if before(&n) {
                let (l, r) = split(n.right.take(), before);
                n.right = l;
                n.fix();
                (Some(n), r)
            } else {
                let (l, r) = split(n.left.take(), before);
                n.left = r;
                n.fix();
                (l, Some(n))
            }
        }
    }
}

fn merge(a: Link, b: Link) -> Link {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(mut a), Some(mut b)) => {
            if a.prio > b.prio {
                a.right = merge(a.right.take(), Some(b));
                a.fix();
                Some(a)
            } else {
                b.left = merge(Some(a), b.left.take());
                b.fix();
                Some(b)
            }
        }
    }
}

/// A sorted set: members with scores, ordered by (score, member).
#[derive(Clone, Debug, Default)]
pub struct ZSet {
    /// member → score.
    pub scores: HashMap<Sds, f64>,
    root: Link,
    rng: u64,
    /// True once converted to the `skiplist` encoding (never converts back).
    pub skiplist: bool,
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
        if self.skiplist {
            "skiplist"
        } else {
            "listpack"
        }
    }

    /// Applies Redis's conversion rule after a write: `skiplist` once there are more than
    /// `max_entries` members or a member longer than `max_value` was added.
    pub fn maybe_convert(&mut self, max_entries: i64, added_len: usize, max_value: i64) {
        if !self.skiplist && (self.len() as i64 > max_entries || added_len as i64 > max_value) {
            self.skiplist = true;
        }
    }

    fn next_prio(&mut self) -> u64 {
        if self.rng == 0 {
            self.rng = 0x9E37_79B9_7F4A_7C15;
        }
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    fn tree_insert(&mut self, score: f64, member: Sds) {
        let prio = self.next_prio();
        let m2 = member.clone();
        let (l, r) = split(self.root.take(), &|n: &Node| {
            cmp_elem(n.score, &n.member, score, &m2) == Ordering::Less
        });
        let node = Box::new(Node {
            score,
            member,
            prio,
            size: 1,
            left: None,
            right: None,
        });
        self.root = merge(merge(l, Some(node)), r);
    }

    fn tree_remove(&mut self, score: f64, member: &[u8]) {
        let (l, r) = split(self.root.take(), &|n: &Node| {
            cmp_elem(n.score, &n.member, score, member) == Ordering::Less
        });
        let (_eq, r) = split(r, &|n: &Node| {
            cmp_elem(n.score, &n.member, score, member) != Ordering::Greater
        });
        self.root = merge(l, r);
    }

    /// Adds `member` (not in the set) as Redis's zsetAdd does: converted to `skiplist`
    /// first when one more member, or one this long, breaks the listpack limits, so that
    /// the new member's score is kept as the skiplist keeps it (-0 included).
    pub fn add_new(&mut self, member: &[u8], score: f64, max_entries: i64, max_value: i64) {
        if !self.skiplist
            && (self.len() as i64 + 1 > max_entries || member.len() as i64 > max_value)
        {
            self.skiplist = true;
        }
        self.insert(member, score);
    }

    /// Sets the score of `member` (adding it if new); true if it was added. A listpack
    /// stores a score of -0 as 0; a skiplist keeps -0.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let score = if score == 0.0 && !self.skiplist {
            0.0
        } else {
            score
        };
        match self.scores.get(member).copied() {
            Some(old) => {
                if old != score {
                    self.tree_remove(old, member);
                    self.tree_insert(score, Sds::from_slice(member));
                    self.scores.insert(Sds::from_slice(member), score);
                }
                false
            }
            None => {
                self.tree_insert(score, Sds::from_slice(member));
                self.scores.insert(Sds::from_slice(member), score);
                true
            }
        }
    }

    /// Removes `member`; true if it was present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove(member) {
            Some(s) => {
                self.tree_remove(s, member);
                true
            }
            None => false,
        }
    }

    /// How many elements satisfy the monotone predicate `before` (a prefix of the order).
    pub fn count_before(&self, before: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        let mut n = 0;
        let mut cur = &self.root;
        while let Some(node) = cur {
            if before(node.score, &node.member) {
                n += size(&node.left) + 1;
                cur = &node.right;
            } else {
                cur = &node.left;
            }
        }
        n
    }

    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let s = self.score(member)?;
        Some(self.count_before(&|sc, m| cmp_elem(sc, m, s, member) == Ordering::Less))
    }

    /// The element at 0-based ascending rank `i`.
    pub fn select(&self, mut i: usize) -> Option<(&Sds, f64)> {
        let mut cur = &self.root;
        while let Some(node) = cur {
            let ls = size(&node.left);
            match i.cmp(&ls) {
                Ordering::Less => cur = &node.left,
                Ordering::Equal => return Some((&node.member, node.score)),
                Ordering::Greater => {
                    i -= ls + 1;
                    cur = &node.right;
                }
            }
        }
        None
    }

    /// Elements with ascending ranks in `from..to`, in ascending order.
    pub fn range(&self, from: usize, to: usize) -> Vec<(Sds, f64)> {
        let mut out = Vec::with_capacity(to.saturating_sub(from));
        fn walk(l: &Link, lo: usize, from: usize, to: usize, out: &mut Vec<(Sds, f64)>) {
            let Some(n) = l else { return };
            let ls = size(&n.left);
            let me = lo + ls;
            if from < me {
                walk(&n.left, lo, from, to, out);
            }
            if me >= from && me < to {
                out.push((n.member.clone(), n.score));
            }
            if to > me + 1 {
                walk(&n.right, me + 1, from, to, out);
            }
        }
        walk(&self.root, 0, from, to, &mut out);
        out
    }

    /// (member, score) pairs in (score, member) order.
    pub fn iter(&self) -> impl Iterator<Item = (Cow<'_, [u8]>, f64)> {
        let mut stack: Vec<&Node> = Vec::new();
        let mut cur = self.root.as_deref();
        std::iter::from_fn(move || {
            while let Some(n) = cur {
                stack.push(n);
                cur = n.left.as_deref();
            }
            let n = stack.pop()?;
            cur = n.right.as_deref();
            Some((Cow::Borrowed(n.member.as_bytes()), n.score))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics() {
        let mut z = ZSet::default();
        for i in 0..1000 {
            z.insert(format!("m{i}").as_bytes(), ((i * 7919) % 1000) as f64);
        }
        assert_eq!(z.len(), 1000);
        let all: Vec<f64> = z.iter().map(|(_, s)| s).collect();
        assert!(all.windows(2).all(|w| w[0] <= w[1]));
        for i in [0usize, 1, 500, 999] {
            let (m, _) = z.select(i).unwrap();
            assert_eq!(z.rank(m), Some(i));
        }
        for i in 0..500 {
            assert!(z.remove(format!("m{i}").as_bytes()));
        }
        assert_eq!(z.len(), 500);
        assert_eq!(z.iter().count(), 500);
        assert_eq!(z.range(10, 20).len(), 10);
        assert_eq!(
            z.count_before(&|s, _| s < 500.0),
            z.iter().filter(|(_, s)| *s < 500.0).count()
        );
    }
}
