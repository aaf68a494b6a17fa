//! MEMORY USAGE: what Redis 7.0 (jemalloc, 64-bit) would report for the same key and value,
//! computed from the value's contents rather than from this server's own layout, so the
//! figure a user compares against a redis-server is of the same order for every type and
//! encoding (`tests/introspection.rs` checks them side by side).
//!
//! How it is computed, as Redis's objectComputeSize + the key's sds + its dictEntry:
//! - every allocation is rounded up to jemalloc's size class ([`jemalloc_size`]);
//! - strings: `int` 16 bytes (the robj), `embstr` one allocation of robj + sdshdr8 + bytes,
//!   `raw` robj + sds;
//! - listpacks (small hashes, sorted sets, list nodes) and intsets: their exact byte
//!   layout (`types::listpack_size`), allocated;
//! - hash tables: dict + bucket array (next power of two) + per element dictEntry and
//!   sds, averaged over the first `samples` elements and multiplied by the count;
//! - skiplists: as hash tables plus one node per element with Redis's expected level;
//! - streams: the listpack nodes (at least the 4 KB Redis preallocates) and Redis's fixed
//!   estimate per radix-tree node. Consumer groups are not counted.

use crate::server::types::{Value, listpack_size};

const ROBJ: usize = 16;
const DICT: usize = 56;
const DICT_ENTRY: usize = 24;
const QUICKLIST: usize = 40;
const QUICKLIST_NODE: usize = 40;
const ZSET: usize = 16;
const ZSKIPLIST: usize = 32;
/// The skiplist header node: 32 levels.
const ZSL_HEADER: usize = 24 + 16 * 32;
const STREAM: usize = 80;
const LP_OVERHEAD: usize = 7;

/// jemalloc's size class for an allocation of `n` bytes (8, 16, then 4 classes per
/// doubling: 32, 48, 64, 80, ..., 128, 160, 192, 224, 256, 320, ...).
pub fn jemalloc_size(n: usize) -> usize {
    match n {
        0..=8 => 8,
        9..=128 => n.div_ceil(16) * 16,
        _ => {
            let step = n.next_power_of_two() / 8;
            n.div_ceil(step) * step
        }
    }
}

/// The allocation of an sds string of `len` bytes (header by length, terminator).
pub fn sds_size(len: usize) -> usize {
    let header = match len {
        0..32 => 1,
        32..256 => 3,
        256..65_536 => 5,
        _ => 9,
    };
    jemalloc_size(header + len + 1)
}

/// MEMORY USAGE of `key` holding `value`, sampling `samples` elements of big collections.
pub fn key_usage(key: &[u8], value: &Value, samples: usize) -> usize {
    value_usage(value, samples.max(1)) + sds_size(key.len()) + DICT_ENTRY
}

/// The average of `f` over the first `samples` items, times `count` (Redis's sampling).
fn sampled<I: Iterator>(
    items: I,
    samples: usize,
    count: usize,
    f: impl Fn(I::Item) -> usize,
) -> usize {
    let (mut total, mut n) = (0usize, 0usize);
    for item in items.take(samples) {
        total += f(item);
        n += 1;
    }
    if n == 0 {
        0
    } else {
        (total as f64 / n as f64 * count as f64) as usize
    }
}

fn dict_base(count: usize) -> usize {
    let slots = count.next_power_of_two().max(4);
    ROBJ + DICT + 8 * slots
}

/// Expected allocation of a skiplist node (level L with probability 0.75 * 0.25^(L-1)).
fn skiplist_node() -> usize {
    let mut expected = 0.0;
    let mut p = 0.75;
    for level in 1..=32 {
        expected += p * jemalloc_size(24 + 16 * level) as f64;
        p *= 0.25;
    }
    expected as usize
}

fn value_usage(value: &Value, samples: usize) -> usize {
    match value {
        Value::Str(s) => match crate::server::types::string_encoding(s) {
            "int" => ROBJ,
            "embstr" => jemalloc_size(ROBJ + 3 + s.len() + 1),
            _ => ROBJ + sds_size(s.len()),
        },
        Value::List(l) => {
            let shape = listpack_size::quicklist_shape(l, -2);
            let nodes = shape.nodes.max(1);
            let per_node = QUICKLIST_NODE + jemalloc_size(shape.bytes / nodes);
            ROBJ + QUICKLIST + per_node * shape.nodes
        }
        Value::Hash(h) => {
            if h.encoding() == "listpack" {
                let mut bytes = LP_OVERHEAD;
                for (f, v) in h.iter() {
                    bytes += listpack_size::entry_size(&f) + listpack_size::entry_size(&v);
                }
                ROBJ + jemalloc_size(bytes)
            } else {
                dict_base(h.len())
                    + sampled(h.iter(), samples, h.len(), |(f, v)| {
                        DICT_ENTRY + sds_size(f.len()) + sds_size(v.len())
                    })
            }
        }
        Value::Set(s) => {
            if s.encoding() == "intset" {
                let width = s
                    .iter()
                    .map(|m| match crate::server::numbers::parse_i64(&m) {
                        Some(v) if i16::try_from(v).is_ok() => 2,
                        Some(v) if i32::try_from(v).is_ok() => 4,
                        _ => 8,
                    })
                    .max()
                    .unwrap_or(2);
                ROBJ + jemalloc_size(8 + width * s.len())
            } else {
                dict_base(s.len())
                    + sampled(s.iter(), samples, s.len(), |m| {
                        DICT_ENTRY + sds_size(m.len())
                    })
            }
        }
        Value::ZSet(z) => {
            if z.encoding() == "listpack" {
                let mut bytes = LP_OVERHEAD;
                for (m, score) in z.iter() {
                    let score = crate::server::numbers::format_double(score);
                    bytes +=
                        listpack_size::entry_size(&m) + listpack_size::entry_size(score.as_bytes());
                }
                ROBJ + jemalloc_size(bytes)
            } else {
                let node = skiplist_node();
                dict_base(z.len())
                    + ZSET
                    + ZSKIPLIST
                    + jemalloc_size(ZSL_HEADER)
                    + sampled(z.iter(), samples, z.len(), |(m, _)| {
                        sds_size(m.len()) + DICT_ENTRY + node
                    })
            }
        }
        Value::Stream(s) => {
            let rax = s.node_count() * 16 + s.rax_nodes() * (4 + 8 * 30);
            let nodes: usize = s
                .nodes()
                .map(|(_, lp)| jemalloc_size(lp.len().max(4096)))
                .sum();
            ROBJ + STREAM + rax + nodes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_jemallocs() {
        let got: Vec<usize> = [1, 9, 17, 23, 129, 257, 5006, 4096]
            .iter()
            .map(|&n| jemalloc_size(n))
            .collect();
        assert_eq!(got, vec![8, 16, 32, 32, 160, 320, 5120, 4096]);
    }
}
