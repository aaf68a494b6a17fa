//! The stream type, laid out as Redis's: a B-tree keyed by master id of listpack nodes
//! ([`node`]) bounded by `stream-node-max-bytes` / `stream-node-max-entries`, plus the
//! stream's metadata (length, last id, first id, max deleted id, entries added) and its
//! consumer groups ([`group`]).

pub mod group;
pub mod id;
pub mod lp;
pub mod node;

pub use group::{Consumer, Group, Nack};
pub use id::StreamId;

use lp::Val;
use std::collections::BTreeMap;

/// Node size limits (the two configuration directives).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    /// `stream-node-max-bytes` (0: no limit but the 1 GB listpack ceiling).
    pub max_bytes: i64,
    /// `stream-node-max-entries` (0: no limit).
    pub max_entries: i64,
}

/// The largest listpack a node may become (STREAM_LISTPACK_MAX_SIZE).
pub const NODE_MAX_SIZE: i64 = 1 << 30;

/// One entry read from a stream: its id and its field/value pairs, flattened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The entry id.
    pub id: StreamId,
    /// `field, value, field, value, ...`
    pub fields: Vec<Vec<u8>>,
}

/// A trimming rule (XADD / XTRIM).
#[derive(Clone, Copy, Debug)]
pub enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries with smaller ids.
    MinId(StreamId),
}

/// A stream.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Vec<u8>>,
    /// Live entries.
    pub length: u64,
    /// The last id ever added (or set by XSETID).
    pub last_id: StreamId,
    /// The first live id (Redis keeps it for the lag computations).
    pub first_id: StreamId,
    /// The greatest id deleted by XDEL.
    pub max_deleted: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups by name.
    pub groups: BTreeMap<Vec<u8>, Group>,
}

impl Stream {
    /// Number of nodes (XINFO's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes in order: (master id, listpack).
    pub fn nodes(&self) -> impl DoubleEndedIterator<Item = (&StreamId, &Vec<u8>)> {
        self.nodes.iter()
    }

    /// Adds a node loaded from an RDB file (already validated).
    pub fn insert_node(&mut self, base: StreamId, node: Vec<u8>) {
        self.nodes.insert(base, node);
    }

    /// Appends an entry with `id` (greater than `last_id`, checked by the caller);
    /// `fields` is `field, value, ...`.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
        let total: i64 = fields.iter().map(|f| f.len() as i64).sum();
        let max_bytes = if limits.max_bytes <= 0 || limits.max_bytes > NODE_MAX_SIZE {
            NODE_MAX_SIZE
        } else {
            limits.max_bytes
        };
        let appended = match self.nodes.last_key_value() {
            Some((_, n)) => {
                (n.len() as i64 + total) < max_bytes
                    && (limits.max_entries <= 0 || node::total_entries(n) < limits.max_entries)
            }
            None => false,
        };
        if appended {
            let mut last = self.nodes.last_entry().expect("a last node");
            let base = *last.key();
            node::append(last.get_mut(), base, id, fields);
        } else {
            // The full node will not grow any more: give its spare capacity back.
            if let Some(mut last) = self.nodes.last_entry() {
                last.get_mut().shrink_to_fit();
            }
            self.nodes.insert(id, node::create(id, fields));
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
    }

    /// The listpack element count would only be known after appending: whether an entry
    /// of `fields` is too large to store at all ("Elements are too large to be stored").
    pub fn too_large(fields: &[&[u8]]) -> bool {
        let total: i64 = fields.iter().map(|f| f.len() as i64).sum();
        total > NODE_MAX_SIZE
    }

    /// Calls `f` on every live entry with `start <= id <= end`, in order (reverse order when
    /// `rev`), until `f` returns false. Entries outside the range are skipped by their
    /// headers; only the ones given to `f` have their fields decoded.
    pub fn for_range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        mut f: impl FnMut(StreamId, &[(Val, Val)]) -> bool,
    ) {
        if start > end {
            return;
        }
        let mut fields = Vec::new();
        if !rev {
            let from = self
                .nodes
                .range(..=start)
                .next_back()
                .map(|(k, _)| *k)
                .unwrap_or(start);
            for (base, n) in self.nodes.range(from..=end) {
                let Some(m) = node::master(n) else { continue };
                let mut p = m.first;
                while let Some(at) = p {
                    let Some(h) = node::head(n, *base, &m, at) else {
                        break;
                    };
                    p = h.next;
                    if h.id > end {
                        return;
                    }
                    if h.id < start || h.deleted() {
                        continue;
                    }
                    if node::fields(n, &m, &h, &mut fields).is_some() && !f(h.id, &fields) {
                        return;
                    }
                }
            }
        } else {
            for (base, n) in self.nodes.range(..=end).rev() {
                let Some(m) = node::master(n) else { continue };
                let mut p = node::last_entry(n, &m);
                while let Some(at) = p {
                    let Some(h) = node::head(n, *base, &m, at) else {
                        break;
                    };
                    p = node::entry_before(n, &m, at);
                    if h.id < start {
                        return;
                    }
                    if h.id > end || h.deleted() {
                        continue;
                    }
                    if node::fields(n, &m, &h, &mut fields).is_some() && !f(h.id, &fields) {
                        return;
                    }
                }
                if *base <= start {
                    return;
                }
            }
        }
    }

    /// Up to `count` entries (0: all) in `[start, end]`, reversed when `rev`.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<Item> {
        let mut out = Vec::new();
        self.for_range(start, end, rev, |id, fields| {
            out.push(Item {
                id,
                fields: fields
                    .iter()
                    .flat_map(|(f, v)| [f.bytes().into_owned(), v.bytes().into_owned()])
                    .collect(),
            });
            count == 0 || out.len() < count
        });
        out
    }

    /// The entry with `id`, if present and not deleted.
    pub fn get(&self, id: StreamId) -> Option<Item> {
        self.range(id, id, false, 1).pop()
    }

    /// Whether a live entry with `id` exists.
    pub fn contains(&self, id: StreamId) -> bool {
        let mut found = false;
        self.for_range(id, id, false, |_, _| {
            found = true;
            false
        });
        found
    }

    /// The first (or last) live id.
    pub fn edge_id(&self, first: bool) -> Option<StreamId> {
        let mut found = None;
        self.for_range(StreamId::MIN, StreamId::MAX, !first, |id, _| {
            found = Some(id);
            false
        });
        found
    }

    /// The greatest live id, or `last_id` when the stream is empty (streamLastValidID).
    pub fn last_valid_id(&self) -> StreamId {
        // Emptied nodes are dropped, so the last node holds the last live entry: walk it
        // backwards from its end.
        let Some((base, n)) = self.nodes.last_key_value() else {
            return self.last_id;
        };
        let Some(m) = node::master(n) else {
            return self.last_id;
        };
        let mut p = node::last_entry(n, &m);
        while let Some(at) = p {
            let Some(h) = node::head(n, *base, &m, at) else {
                break;
            };
            if !h.deleted() {
                return h.id;
            }
            p = node::entry_before(n, &m, at);
        }
        self.last_id
    }

    /// Marks one entry deleted; false if it was not there.
    fn delete_one(&mut self, id: StreamId) -> bool {
        let Some((&base, n)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let mut at = None;
        node::walk_heads(n, base, |e| {
            if e.id == id && !e.deleted() {
                at = Some(e.at);
            }
            e.id < id
        });
        let Some(at) = at else {
            return false;
        };
        if node::mark_deleted(n, at) == 0 {
            self.nodes.remove(&base);
        }
        self.length -= 1;
        true
    }

    /// XDEL: deletes the entries with these ids, updating the first id and the greatest
    /// deleted id as Redis does; returns how many were deleted.
    pub fn delete(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first_entry = false;
        for &id in ids {
            if self.delete_one(id) {
                if id == self.first_id {
                    first_entry = true;
                }
                if id > self.max_deleted {
                    self.max_deleted = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::MIN;
            } else if first_entry {
                self.first_id = self.first_edge_for_metadata();
            }
        }
        deleted
    }

    /// streamGetEdgeID(first, skip tombstones): the max id when the stream is empty.
    fn first_edge_for_metadata(&self) -> StreamId {
        self.edge_id(true).unwrap_or(StreamId::MAX)
    }

    /// Trims as Redis's streamTrim: whole nodes go first; with `approx` only whole nodes;
    /// `limit` (0: none) bounds the entries removed. Returns how many were removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        loop {
            if let Trim::MaxLen(max) = how
                && self.length <= max
            {
                break;
            }
            let Some(mut first) = self.nodes.first_entry() else {
                break;
            };
            let base = *first.key();
            let entries = node::live_entries(first.get()) as u64;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => {
                    let n = first.get();
                    let last = node::master(n)
                        .and_then(|m| node::head(n, base, &m, node::last_entry(n, &m)?))
                        .map_or(base, |h| h.id);
                    last < min
                }
            };
            if remove_node {
                first.remove();
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            // Delete entries inside this node.
            let mut doomed = Vec::new();
            let mut len = self.length;
            node::walk_heads(first.get(), base, |e| {
                if e.deleted() {
                    return true;
                }
                let go = match how {
                    Trim::MaxLen(max) => len > max,
                    Trim::MinId(min) => e.id < min,
                };
                if go {
                    doomed.push(e.at);
                    len -= 1;
                }
                go
            });
            // Mark from the back so earlier offsets stay valid (flags keep their size;
            // the counters at the front may change size, so re-read each time).
            for _ in 0..doomed.len() {
                let n = first.get_mut();
                let mut at = None;
                node::walk_heads(n, base, |e| {
                    if !e.deleted() {
                        at = Some(e.at);
                        return false;
                    }
                    true
                });
                if let Some(at) = at {
                    node::mark_deleted(n, at);
                }
            }
            self.length -= doomed.len() as u64;
            deleted += doomed.len() as u64;
            if node::live_entries(first.get()) == 0 {
                first.remove();
            }
            break;
        }
        if deleted > 0 {
            self.first_id = if self.length == 0 {
                StreamId::MIN
            } else {
                self.first_edge_for_metadata()
            };
        }
        deleted
    }

    /// Whether XDEL left a tombstone at or after `start` among the live range
    /// (streamRangeHasTombstones with no end).
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.length == 0 || self.max_deleted == StreamId::MIN {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted
    }

    /// The logical read counter of `id` (streamEstimateDistanceFromFirstEverEntry), or
    /// None when it cannot be known.
    pub fn estimate_distance(&self, id: StreamId) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added as i64);
        }
        if id == self.last_id {
            return Some(self.entries_added as i64);
        } else if id > self.last_id {
            return None;
        }
        if self.max_deleted == StreamId::MIN || self.max_deleted < self.first_id {
            if id < self.first_id {
                return Some((self.entries_added - self.length) as i64);
            } else if id == self.first_id {
                return Some((self.entries_added - self.length + 1) as i64);
            }
        }
        None
    }

    /// A group's lag (streamReplyWithCGLag), None when unknown.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != group::INVALID_ENTRIES_READ && !self.has_tombstones_from(g.last_id) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        self.estimate_distance(g.last_id)
            .map(|read| self.entries_added as i64 - read)
    }

    /// Moves a group's last delivered id forward to `id` as XREADGROUP does, keeping its
    /// entries-read counter.
    pub fn advance_group(&mut self, name: &[u8], id: StreamId) {
        let tomb = self.has_tombstones_from(id);
        let estimate = self.estimate_distance(id);
        let added = self.entries_added;
        if let Some(g) = self.groups.get_mut(name)
            && id > g.last_id
        {
            if g.entries_read != group::INVALID_ENTRIES_READ && !tomb {
                g.entries_read += 1;
            } else if added != 0 {
                g.entries_read = estimate.unwrap_or(group::INVALID_ENTRIES_READ);
            }
            g.last_id = id;
        }
    }

    /// How many nodes Redis's radix tree of these node keys has (XINFO's
    /// `radix-tree-nodes`): the root, every branching prefix, every child of a branching
    /// prefix and every key, since rax compresses the single-child chains in between.
    pub fn rax_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.to_be_bytes()).collect();
        let prefix = |k: &[u8; 16], len: usize| {
            let mut p = [0u8; 16];
            p[..len].copy_from_slice(&k[..len]);
            (len as u8, p)
        };
        let mut set = std::collections::BTreeSet::new();
        set.insert((0u8, [0u8; 16]));
        for k in &keys {
            set.insert(prefix(k, 16));
        }
        for w in keys.windows(2) {
            let lcp = w[0].iter().zip(&w[1]).take_while(|(a, b)| a == b).count();
            if lcp < 16 {
                set.insert(prefix(&w[0], lcp));
                set.insert(prefix(&w[0], lcp + 1));
                set.insert(prefix(&w[1], lcp + 1));
            }
        }
        set.len()
    }
}
