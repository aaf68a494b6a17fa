//! Sizes of Redis listpacks, for the figures DEBUG OBJECT reports about a list's quicklist
//! (`ql_nodes`, `ql_uncompressed_size`): what Redis 7.0 would hold for the same elements.

use super::List;

/// Bytes of a listpack's header (total bytes + count) and end marker.
const LP_OVERHEAD: usize = 6 + 1;

/// Bytes one element takes in a listpack (encoding, data and back-length), as lpInsert
/// writes it: integers that fit in 64 bits in their smallest encoding, others as strings.
pub fn entry_size(e: &[u8]) -> usize {
    let body = match crate::server::numbers::parse_i64(e) {
        Some(v) if (0..=127).contains(&v) => 1,
        Some(v) if (-4096..4096).contains(&v) => 2,
        Some(v) if (-32768..32768).contains(&v) => 3,
        Some(v) if (-8_388_608..8_388_608).contains(&v) => 4,
        Some(v) if i32::try_from(v).is_ok() => 5,
        Some(_) => 9,
        None if e.len() < 64 => 1 + e.len(),
        None if e.len() < 4096 => 2 + e.len(),
        None => 5 + e.len(),
    };
    let backlen = match body {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        2_097_152..=268_435_455 => 4,
        _ => 5,
    };
    body + backlen
}

/// What Redis's quicklist would look like for a list: node count and total listpack bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuicklistShape {
    /// Number of listpack nodes (`ql_nodes`).
    pub nodes: usize,
    /// Sum of the nodes' listpack sizes (`ql_uncompressed_size`).
    pub bytes: usize,
}

/// The shape of `list` pushed tail-first into a quicklist with `list-max-listpack-size` `fill`
/// (negative: a byte limit of 4 KB..64 KB per node; positive: an element count).
pub fn quicklist_shape(list: &List, fill: i64) -> QuicklistShape {
    let byte_limit = match fill {
        f if f < 0 => Some(4096usize << ((-f - 1).min(4) as u32)),
        _ => None,
    };
    let mut shape = QuicklistShape { nodes: 0, bytes: 0 };
    let (mut node_bytes, mut node_count) = (0usize, 0usize);
    for e in list.iter() {
        let sz = entry_size(&e);
        let fits = node_count > 0
            && match byte_limit {
                Some(limit) => node_bytes + sz <= limit,
                None => node_count < fill.max(1) as usize,
            };
        if !fits {
            if node_count > 0 {
                shape.bytes += node_bytes;
            }
            shape.nodes += 1;
            node_bytes = LP_OVERHEAD;
            node_count = 0;
        }
        node_bytes += sz;
        node_count += 1;
    }
    if node_count > 0 {
        shape.bytes += node_bytes;
    }
    shape
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_redis_listpack() {
        // RPUSH l a b c: DEBUG OBJECT says ql_nodes:1 ql_uncompressed_size:16.
        let l = List::from_items(["a", "b", "c"]);
        assert_eq!(
            quicklist_shape(&l, -2),
            QuicklistShape {
                nodes: 1,
                bytes: 16
            }
        );
        assert_eq!(entry_size(b"100"), 2);
        assert_eq!(entry_size(b"1000"), 3);
        assert_eq!(quicklist_shape(&List::default(), -2).nodes, 0);
        assert_eq!(quicklist_shape(&l, 2).nodes, 2);
    }
}
