//! One stream node in Redis's layout (t_stream.c): a listpack that starts with a master
//! entry and holds up to `stream-node-max-entries` entries whose ids are stored as deltas
//! from the node's master id (its key in the node tree).
//!
//! ```text
//! master: count | deleted | num-fields | field_1 .. field_N | 0
//! entry:  flags | ms-diff | seq-diff | [num-fields | f v ..] or [v ..] | lp-count
//! ```
//! An entry whose fields equal the master's (same names, same order) stores only its values
//! (flag SAMEFIELDS). XDEL sets the DELETED flag in place and moves one from `count` to
//! `deleted`; a node whose count reaches zero is dropped by the caller.

use super::StreamId;
use super::lp::{self, Val};

/// The entry was deleted (XDEL or trimming inside a node).
pub const FLAG_DELETED: i64 = 1;
/// The entry has the master entry's fields.
pub const FLAG_SAMEFIELDS: i64 = 2;

/// The master entry of a node.
pub struct Master<'a> {
    /// Live entries.
    pub count: i64,
    /// Deleted entries still in the node.
    pub deleted: i64,
    /// The master fields.
    pub fields: Vec<Val<'a>>,
    /// Offset of the first entry (None: no entries).
    pub first: Option<usize>,
}

/// Reads the master entry.
pub fn master(node: &[u8]) -> Option<Master<'_>> {
    let p = lp::first(node)?;
    let (count, p) = lp::read(node, p)?;
    let (deleted, p) = lp::read(node, p?)?;
    let (nf, mut p) = lp::read(node, p?)?;
    let nf = nf.int()?;
    if !(0..=(node.len() as i64)).contains(&nf) {
        return None;
    }
    let mut fields = Vec::with_capacity(nf as usize);
    for _ in 0..nf {
        let (f, next) = lp::read(node, p?)?;
        fields.push(f);
        p = next;
    }
    let (zero, first) = lp::read(node, p?)?;
    if zero.int()? != 0 {
        return None;
    }
    Some(Master {
        count: count.int()?,
        deleted: deleted.int()?,
        fields,
        first,
    })
}

/// One entry as read from a node; `fields` is reused between entries.
#[derive(Default)]
pub struct Raw<'a> {
    /// The entry id.
    pub id: StreamId,
    /// Its flags.
    pub flags: i64,
    /// Offset of the flags element (to mark it deleted).
    pub at: usize,
    /// Field/value pairs.
    pub fields: Vec<(Val<'a>, Val<'a>)>,
}

impl Raw<'_> {
    /// Whether the entry is deleted.
    pub fn deleted(&self) -> bool {
        self.flags & FLAG_DELETED != 0
    }
}

/// An entry's header: what a walk reads of an entry it does not return (Redis's
/// streamIteratorGetID: flags and id, then the fields are skipped by their headers).
#[derive(Clone, Copy, Debug)]
pub struct Head {
    /// The entry id.
    pub id: StreamId,
    /// Its flags.
    pub flags: i64,
    /// Offset of the flags element (to mark it deleted).
    pub at: usize,
    /// Offset of the element after the id (num-fields, or the first value).
    body: usize,
    /// Offset of the next entry (None: last one).
    pub next: Option<usize>,
}

impl Head {
    /// Whether the entry is deleted.
    pub fn deleted(&self) -> bool {
        self.flags & FLAG_DELETED != 0
    }
}

/// Reads the header of the entry at `p` and skips its fields without decoding them.
pub fn head(node: &[u8], base: StreamId, m: &Master, p: usize) -> Option<Head> {
    let (flags, q) = lp::read(node, p)?;
    let (ms, q) = lp::read(node, q?)?;
    let (seq, q) = lp::read(node, q?)?;
    let flags = flags.int()?;
    let body = q?;
    let mut q = Some(body);
    let skips = if flags & FLAG_SAMEFIELDS != 0 {
        m.fields.len()
    } else {
        let (n, next) = lp::read(node, body)?;
        q = next;
        let n = n.int()?;
        if !(0..=node.len() as i64).contains(&n) {
            return None;
        }
        2 * n as usize
    };
    // The fields, then the lp-count.
    for _ in 0..=skips {
        q = lp::skip(node, q?)?;
    }
    Some(Head {
        id: StreamId {
            ms: base.ms.wrapping_add(ms.int()? as u64),
            seq: base.seq.wrapping_add(seq.int()? as u64),
        },
        flags,
        at: p,
        body,
        next: q,
    })
}

/// Decodes the field/value pairs of the entry `h` into `out` (cleared first), checking
/// its lp-count.
pub fn fields<'a>(
    node: &'a [u8],
    m: &Master<'a>,
    h: &Head,
    out: &mut Vec<(Val<'a>, Val<'a>)>,
) -> Option<()> {
    out.clear();
    let mut p = Some(h.body);
    let same = h.flags & FLAG_SAMEFIELDS != 0;
    let nf = if same {
        m.fields.len()
    } else {
        let (n, next) = lp::read(node, p?)?;
        p = next;
        let n = n.int()?;
        if !(0..=node.len() as i64).contains(&n) {
            return None;
        }
        n as usize
    };
    for i in 0..nf {
        let f = if same {
            m.fields[i]
        } else {
            let (f, next) = lp::read(node, p?)?;
            p = next;
            f
        };
        let (v, next) = lp::read(node, p?)?;
        p = next;
        out.push((f, v));
    }
    let (lp_count, _) = lp::read(node, p?)?;
    let expected = 3 + nf as i64 + if same { 0 } else { nf as i64 + 1 };
    (lp_count.int()? == expected).then_some(())
}

/// The offset of the last entry of a node whose master entry is `m`.
pub fn last_entry(node: &[u8], m: &Master) -> Option<usize> {
    entry_before(node, m, node.len().checked_sub(1)?)
}

/// The offset of the entry that ends just before `p` (an entry's offset or the end
/// marker's): its lp-count says how many elements to go back (streamIteratorGetID
/// backwards). None before the first entry.
pub fn entry_before(node: &[u8], m: &Master, p: usize) -> Option<usize> {
    let first = m.first?;
    if p <= first {
        return None;
    }
    let mut q = lp::prev(node, p)?;
    let back = lp::get(node, q)?.0.int()?;
    if !(0..=node.len() as i64).contains(&back) {
        return None;
    }
    for _ in 0..back {
        q = lp::prev(node, q)?;
    }
    (q >= first).then_some(q)
}

/// Walks every entry of `node` (deleted ones included) in order; `f` returns false to stop.
/// Returns None when the node is malformed.
pub fn walk<'a>(node: &'a [u8], base: StreamId, mut f: impl FnMut(&Raw<'a>) -> bool) -> Option<()> {
    let m = master(node)?;
    let mut raw = Raw::default();
    let mut p = m.first;
    while let Some(at) = p {
        let h = head(node, base, &m, at)?;
        fields(node, &m, &h, &mut raw.fields)?;
        raw.id = h.id;
        raw.flags = h.flags;
        raw.at = h.at;
        p = h.next;
        if !f(&raw) {
            break;
        }
    }
    Some(())
}

/// Walks the entries' headers only, in order; `f` returns false to stop. Returns None when
/// the node is malformed.
pub fn walk_heads(node: &[u8], base: StreamId, mut f: impl FnMut(&Head) -> bool) -> Option<()> {
    let m = master(node)?;
    let mut p = m.first;
    while let Some(at) = p {
        let h = head(node, base, &m, at)?;
        p = h.next;
        if !f(&h) {
            break;
        }
    }
    Some(())
}

/// A new node holding one entry (its fields become the master fields).
pub fn create(id: StreamId, fields: &[&[u8]]) -> Vec<u8> {
    let n = fields.len() / 2;
    let mut node = lp::new();
    lp::push(&mut node, Val::Int(1));
    lp::push(&mut node, Val::Int(0));
    lp::push(&mut node, Val::Int(n as i64));
    for f in fields.iter().step_by(2) {
        lp::push(&mut node, lp::val_of(f));
    }
    lp::push(&mut node, Val::Int(0));
    push_entry(&mut node, id, id, fields, true);
    node
}

fn push_entry(node: &mut Vec<u8>, base: StreamId, id: StreamId, fields: &[&[u8]], same: bool) {
    let n = fields.len() / 2;
    let flags = if same { FLAG_SAMEFIELDS } else { 0 };
    lp::push(node, Val::Int(flags));
    lp::push(node, Val::Int(id.ms.wrapping_sub(base.ms) as i64));
    lp::push(node, Val::Int(id.seq.wrapping_sub(base.seq) as i64));
    if same {
        for v in fields.iter().skip(1).step_by(2) {
            lp::push(node, lp::val_of(v));
        }
    } else {
        lp::push(node, Val::Int(n as i64));
        for x in fields {
            lp::push(node, lp::val_of(x));
        }
    }
    let lp_count = 3 + n as i64 + if same { 0 } else { n as i64 + 1 };
    lp::push(node, Val::Int(lp_count));
}

/// Offsets of the master's count and deleted elements.
fn counters(node: &[u8]) -> Option<(usize, usize)> {
    let c = lp::first(node)?;
    let (_, d) = lp::read(node, c)?;
    Some((c, d?))
}

/// The master's live and deleted counts, read without walking the fields.
fn header(node: &[u8]) -> Option<(i64, i64)> {
    let (c, d) = counters(node)?;
    let count = lp::get(node, c)?.0.int()?;
    let deleted = lp::get(node, d)?.0.int()?;
    Some((count, deleted))
}

/// Whether `fields` (`field, value, ...`) has the master's field names, in order.
fn same_fields(node: &[u8], fields: &[&[u8]]) -> bool {
    let walk = || -> Option<bool> {
        let (_, d) = counters(node)?;
        let (_, p) = lp::read(node, d)?;
        let (nf, mut p) = lp::read(node, p?)?;
        if nf.int()? as usize * 2 != fields.len() {
            return Some(false);
        }
        for f in fields.iter().step_by(2) {
            let (mf, next) = lp::read(node, p?)?;
            if !mf.eq_bytes(f) {
                return Some(false);
            }
            p = next;
        }
        Some(true)
    };
    walk().unwrap_or(false)
}

/// Adds `delta_count` to the live count and `delta_deleted` to the deleted count.
fn adjust(node: &mut Vec<u8>, delta_count: i64, delta_deleted: i64) -> Option<()> {
    let (count, deleted) = header(node)?;
    let (count, deleted) = (count + delta_count, deleted + delta_deleted);
    let (c, _) = counters(node)?;
    let d = lp::replace(node, c, Val::Int(count))?;
    lp::replace(node, d, Val::Int(deleted))?;
    Some(())
}

/// Appends an entry to an existing node whose master id is `base`.
pub fn append(node: &mut Vec<u8>, base: StreamId, id: StreamId, fields: &[&[u8]]) {
    let same = same_fields(node, fields);
    let _ = adjust(node, 1, 0);
    push_entry(node, base, id, fields, same);
}

/// Marks the entry whose flags are at `at` deleted; returns the live count left.
pub fn mark_deleted(node: &mut Vec<u8>, at: usize) -> i64 {
    let flags = lp::get(node, at).and_then(|(v, _)| v.int()).unwrap_or(0);
    let _ = lp::replace(node, at, Val::Int(flags | FLAG_DELETED));
    let _ = adjust(node, -1, 1);
    live_entries(node)
}

/// Live and deleted entries of a node (what `stream-node-max-entries` counts).
pub fn total_entries(node: &[u8]) -> i64 {
    header(node).map(|(c, d)| c + d).unwrap_or(0)
}

/// Live entries of a node.
pub fn live_entries(node: &[u8]) -> i64 {
    header(node).map(|(c, _)| c).unwrap_or(0)
}

/// Checks a node read from an RDB file or a DUMP payload as Redis's deep sanitization does
/// (streamValidateListpackIntegrity): a valid listpack, a well-formed master entry, every
/// entry well formed with ids inside the node and increasing, counts consistent. Returns
/// the first and last live ids, if any.
pub fn validate(node: &[u8], base: StreamId) -> Result<Option<(StreamId, StreamId)>, String> {
    crate::server::rdb::blobs::listpack(node).map_err(|e| format!("stream node: {e}"))?;
    let m = master(node).ok_or("stream node: bad master entry")?;
    if m.count < 0 || m.deleted < 0 {
        return Err("stream node: bad master counters".into());
    }
    let (mut live, mut dead) = (0i64, 0i64);
    let mut prev: Option<StreamId> = None;
    let mut edges: Option<(StreamId, StreamId)> = None;
    let mut ok = true;
    walk(node, base, |e| {
        if e.id < base || prev.is_some_and(|p| e.id <= p) || e.flags & !3 != 0 {
            ok = false;
            return false;
        }
        prev = Some(e.id);
        if e.deleted() {
            dead += 1;
        } else {
            live += 1;
            edges = Some(match edges {
                None => (e.id, e.id),
                Some((first, _)) => (first, e.id),
            });
        }
        true
    })
    .ok_or("stream node: bad entry")?;
    if !ok || live != m.count || dead != m.deleted {
        return Err("stream node: entries inconsistent with the master entry".into());
    }
    Ok(edges)
}
