//! Streams in RDB (rdb.c, Redis 7.0): RDB_TYPE_STREAM_LISTPACKS_2 written, it and the
//! older RDB_TYPE_STREAM_LISTPACKS read.
//!
//! ```text
//! nodes: len, then per node: master id (16-byte big-endian string), listpack (string)
//! length, last id (ms, seq), [first id, max deleted id, entries added]   (type 19 only)
//! groups: len, per group: name, last id (ms, seq), [entries read] (type 19 only),
//!   PEL: len, per entry: raw 16-byte id, delivery time (8 bytes LE ms), delivery count
//!   consumers: len, per consumer: name, seen time (8 bytes LE ms),
//!     PEL: len, raw 16-byte ids (each must be in the group's PEL)
//! ```
//! Nodes are checked as Redis's deep sanitization does (see `types::stream::node::validate`)
//! so that nothing loaded can make a later command misbehave.

use super::op;
use super::reader::{Cursor, R};
use super::writer::RdbWriter;
use crate::server::sds::Sds;
use crate::server::types::Value;
use crate::server::types::stream::{Group, Nack, Stream, StreamId, group, node};
use std::collections::BTreeMap;
use std::io::{self, Write};

fn write_id<W: Write>(w: &mut RdbWriter<W>, id: StreamId) -> io::Result<()> {
    w.len(id.ms)?;
    w.len(id.seq)
}

/// Writes a stream's payload (after its type byte and key).
pub fn write<W: Write>(w: &mut RdbWriter<W>, s: &Stream) -> io::Result<()> {
    w.len(s.node_count() as u64)?;
    for (base, lp) in s.nodes() {
        w.string(&base.to_be_bytes())?;
        w.string(lp)?;
    }
    w.len(s.length)?;
    write_id(w, s.last_id)?;
    write_id(w, s.first_id)?;
    write_id(w, s.max_deleted)?;
    w.len(s.entries_added)?;
    w.len(s.groups.len() as u64)?;
    for (name, g) in &s.groups {
        w.string(name)?;
        write_id(w, g.last_id)?;
        w.len(g.entries_read as u64)?;
        w.len(g.pel.len() as u64)?;
        for (id, n) in &g.pel {
            w.raw(&id.to_be_bytes())?;
            w.raw(&n.delivery_time.to_le_bytes())?;
            w.len(n.delivery_count)?;
        }
        w.len(g.consumers.len() as u64)?;
        for (cname, c) in &g.consumers {
            w.string(cname)?;
            w.raw(&c.seen_time.to_le_bytes())?;
            w.len(c.pel.len() as u64)?;
            for id in &c.pel {
                w.raw(&id.to_be_bytes())?;
            }
        }
    }
    Ok(())
}

fn read_id(c: &mut Cursor) -> R<StreamId> {
    Ok(StreamId::new(c.len()?, c.len()?))
}

fn raw_id(c: &mut Cursor) -> R<StreamId> {
    let b = c.take(16)?;
    Ok(StreamId::from_be_bytes(b).expect("16 bytes"))
}

fn ms_time(c: &mut Cursor) -> R<i64> {
    Ok(i64::from_le_bytes(c.take(8)?.try_into().expect("8 bytes")))
}

/// Reads a stream of RDB type `t` (15 or 19).
pub(super) fn read(c: &mut Cursor, t: u8) -> R<Value> {
    let mut s = Stream::default();
    let nodes = c.count()?;
    let mut live: u64 = 0;
    let mut prev_last: Option<StreamId> = None;
    let mut first_live: Option<StreamId> = None;
    for _ in 0..nodes {
        let key = c.string()?;
        let Some(base) = StreamId::from_be_bytes(&key) else {
            return c.err("Stream node key entry is not the size of a stream ID");
        };
        let lp = c.string()?;
        if crate::server::types::stream::lp::first(&lp).is_none() {
            return c.err("Empty listpack inside stream");
        }
        let edges = match node::validate(&lp, base) {
            Ok(e) => e,
            Err(e) => return c.err(e),
        };
        // Nodes come in id order and do not overlap.
        if prev_last.is_some_and(|p| base <= p) {
            return c.err("stream nodes out of order");
        }
        let mut last_in_node = base;
        node::walk(&lp, base, |e| {
            last_in_node = e.id;
            true
        });
        prev_last = Some(last_in_node);
        if let Some((first, _)) = edges
            && first_live.is_none()
        {
            first_live = Some(first);
        }
        live += node::live_entries(&lp) as u64;
        s.insert_node(base, lp);
    }
    s.length = c.len()?;
    if s.length != live {
        return c.err("Stream length inconsistent with its nodes");
    }
    s.last_id = read_id(c)?;
    if prev_last.is_some_and(|p| p > s.last_id) {
        return c.err("Stream entry beyond the last id");
    }
    if t == op::STREAM_LISTPACKS_2 {
        s.first_id = read_id(c)?;
        s.max_deleted = read_id(c)?;
        s.entries_added = c.len()?;
    } else {
        s.entries_added = s.length;
        s.first_id = first_live.unwrap_or(StreamId::MAX);
    }
    let groups = c.count()?;
    for _ in 0..groups {
        let name = c.string()?;
        let last_id = read_id(c)?;
        let entries_read = if t == op::STREAM_LISTPACKS_2 {
            c.len()? as i64
        } else {
            s.estimate_distance(last_id)
                .unwrap_or(group::INVALID_ENTRIES_READ)
        };
        if s.groups.contains_key(&name) {
            return c.err("Duplicated consumer group name");
        }
        let mut g = Group::new(last_id, entries_read);
        let mut pending: BTreeMap<StreamId, (i64, u64)> = BTreeMap::new();
        let n = c.count()?;
        for _ in 0..n {
            let id = raw_id(c)?;
            let time = ms_time(c)?;
            let count = c.len()?;
            if pending.insert(id, (time, count)).is_some() {
                return c.err("Duplicated global PEL entry loading stream consumer group");
            }
        }
        let consumers = c.count()?;
        for _ in 0..consumers {
            let cname = c.string()?;
            let seen = ms_time(c)?;
            if !g.create_consumer(&cname, seen) {
                return c.err("Duplicate stream consumer detected.");
            }
            let n = c.count()?;
            for _ in 0..n {
                let id = raw_id(c)?;
                let Some((time, count)) = pending.remove(&id) else {
                    return c.err("Consumer entry not found in group global PEL");
                };
                g.pel.insert(
                    id,
                    Nack {
                        delivery_time: time,
                        delivery_count: count,
                        consumer: Sds::from_slice(&cname),
                    },
                );
                if let Some(cons) = g.consumers.get_mut(&cname[..]) {
                    cons.pel.insert(id);
                }
            }
        }
        if !pending.is_empty() {
            return c.err("Stream CG PEL entry without consumer");
        }
        s.groups.insert(name, g);
    }
    Ok(Value::Stream(Box::new(s)))
}
