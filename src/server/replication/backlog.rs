//! The replication backlog: the last `repl-backlog-size` bytes of the write stream, kept so
//! that a replica that lost its link can continue from its offset (PSYNC) instead of taking
//! a full snapshot again.
//!
//! As in Redis 7.0 (replication.c, `feedReplicationBuffer` / `incrementalTrimReplicationBacklog`)
//! the backlog is a list of fixed-size blocks that grows with traffic: an idle master with a
//! large `repl-backlog-size` holds next to nothing, and a busy one holds at most the size plus
//! one block, because only whole blocks are dropped from the front.

use std::collections::VecDeque;

/// Bytes per block (Redis's `PROTO_REPLY_CHUNK_BYTES`).
pub const BLOCK_SIZE: usize = 16 * 1024;

/// The most recent stream bytes, as a list of blocks of [`BLOCK_SIZE`] bytes.
///
/// Offsets follow Redis: the stream's bytes are numbered from 1, `master_repl_offset` is the
/// number of the last byte written, and the backlog holds bytes
/// `first_byte_offset ..= master_repl_offset` (`histlen` of them). The backlog itself only
/// knows how many of the newest bytes it holds; the offsets are the caller's.
#[derive(Debug)]
pub struct Backlog {
    /// Oldest first; every block but the last is full.
    blocks: VecDeque<Vec<u8>>,
    /// `repl-backlog-size`: history kept at least (when that much was written).
    size: usize,
    /// Bytes held: the sum of the blocks' lengths.
    histlen: usize,
}

impl Backlog {
    /// An empty backlog that keeps at least the newest `size` bytes once they were written.
    /// Nothing is allocated until bytes arrive.
    pub fn new(size: usize) -> Backlog {
        Backlog {
            blocks: VecDeque::new(),
            size: size.max(1),
            histlen: 0,
        }
    }

    /// The configured size in bytes (`repl_backlog_size`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes held (`repl_backlog_histlen`): from `size` to `size` + one block once full.
    pub fn histlen(&self) -> usize {
        self.histlen
    }

    /// Bytes allocated for the blocks (`mem_replication_backlog`).
    pub fn memory(&self) -> usize {
        self.blocks.iter().map(Vec::capacity).sum::<usize>()
            + self.blocks.capacity() * std::mem::size_of::<Vec<u8>>()
    }

    /// Appends stream bytes, then drops whole blocks from the front that are no longer
    /// needed to hold `size` bytes.
    pub fn append(&mut self, mut data: &[u8]) {
        if data.len() >= self.size + BLOCK_SIZE {
            // Everything held now, and the start of `data`, would be trimmed at once:
            // skip them rather than copy them.
            self.blocks.clear();
            self.histlen = 0;
            data = &data[data.len() - self.size..];
        }
        while !data.is_empty() {
            let room = match self.blocks.back() {
                Some(b) if b.len() < BLOCK_SIZE => BLOCK_SIZE - b.len(),
                _ => {
                    self.blocks.push_back(Vec::with_capacity(BLOCK_SIZE));
                    BLOCK_SIZE
                }
            };
            let n = room.min(data.len());
            let tail = self.blocks.back_mut().expect("a block was just ensured");
            tail.extend_from_slice(&data[..n]);
            self.histlen += n;
            data = &data[n..];
        }
        self.trim();
    }

    /// Drops front blocks while what stays still holds more than `size` bytes, and never
    /// the last block (as Redis: "we never trim backlog to less than one block").
    fn trim(&mut self) {
        while self.blocks.len() > 1 {
            let first = self.blocks[0].len();
            if self.histlen - first <= self.size {
                break;
            }
            self.blocks.pop_front();
            self.histlen -= first;
        }
    }

    /// The newest `n` bytes (at most `histlen`), oldest first: what a replica that asks for
    /// offset `master_repl_offset - n + 1` is sent.
    pub fn tail(&self, n: usize) -> Vec<u8> {
        let n = n.min(self.histlen);
        let mut out = Vec::with_capacity(n);
        // Skip the bytes before the newest n: whole blocks first, then into one block.
        let mut skip = self.histlen - n;
        for b in &self.blocks {
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            out.extend_from_slice(&b[skip..]);
            skip = 0;
        }
        out
    }

    /// Changes `repl-backlog-size` in place: a smaller size trims whole blocks from the
    /// front at once, a larger one lets the history grow with the next writes.
    pub fn set_size(&mut self, size: usize) {
        self.size = size.max(1);
        self.trim();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes that differ from position to position.
    fn stream(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed ^ (i >> 8) as u8)
            .collect()
    }

    /// Checks the invariants against the whole stream written so far.
    fn check(b: &Backlog, all: &[u8]) {
        let h = b.histlen();
        assert!(h <= all.len());
        // Holds at least `size` bytes when that many were written, and at most one block more.
        assert!(
            h >= b.size().min(all.len()),
            "histlen {h} < size {}",
            b.size()
        );
        assert!(h <= b.size() + BLOCK_SIZE);
        assert_eq!(b.tail(h), all[all.len() - h..]);
        for n in [0, 1, 7, h / 2, h.saturating_sub(1)]
            .into_iter()
            .filter(|n| *n <= h)
        {
            assert_eq!(b.tail(n), all[all.len() - n..], "tail({n})");
        }
        assert_eq!(b.tail(h + 100).len(), h);
    }

    #[test]
    fn empty_backlog_allocates_nothing() {
        let b = Backlog::new(64 << 20);
        assert_eq!(b.memory(), 0);
        assert_eq!(b.histlen(), 0);
        assert!(b.tail(10).is_empty());
    }

    #[test]
    fn grows_with_traffic_and_wraps_block_boundaries() {
        let mut b = Backlog::new(40_000);
        let mut all = Vec::new();
        for i in 0..200u32 {
            let chunk = stream(((i * 997) % 3000 + 1) as usize, i as u8);
            all.extend_from_slice(&chunk);
            b.append(&chunk);
            check(&b, &all);
            // Memory follows what is held, not the configured size.
            assert!(b.memory() <= b.histlen() + 2 * BLOCK_SIZE + 1024);
        }
        assert!(b.histlen() >= 40_000);
    }

    #[test]
    fn trims_whole_blocks_from_the_front() {
        let mut b = Backlog::new(BLOCK_SIZE * 2);
        let all = stream(BLOCK_SIZE * 5 + 10, 3);
        for c in all.chunks(1000) {
            b.append(c);
        }
        // 5 full blocks and 10 bytes written: the two newest full blocks would leave only
        // 2 blocks + 10 bytes > size, so exactly two full blocks and the partial one stay.
        assert_eq!(b.histlen(), BLOCK_SIZE * 2 + 10);
        check(&b, &all);
    }

    #[test]
    fn never_trims_below_one_block() {
        let mut b = Backlog::new(100);
        let all = stream(BLOCK_SIZE - 5, 9);
        b.append(&all);
        assert_eq!(b.histlen(), all.len());
        check(&b, &all);
    }

    #[test]
    fn a_write_larger_than_the_backlog_keeps_its_newest_bytes() {
        let mut b = Backlog::new(1000);
        b.append(&stream(500, 1));
        let big = stream(1000 + BLOCK_SIZE * 3, 2);
        b.append(&big);
        assert_eq!(b.histlen(), 1000);
        assert_eq!(b.tail(1000), big[big.len() - 1000..]);
    }

    #[test]
    fn set_size_shrinks_at_once_and_grows_with_writes() {
        let mut b = Backlog::new(BLOCK_SIZE * 8);
        let mut all = stream(BLOCK_SIZE * 8, 4);
        b.append(&all);
        assert_eq!(b.histlen(), BLOCK_SIZE * 8);
        b.set_size(BLOCK_SIZE);
        // Whole blocks only: one block more than the size stays.
        assert_eq!(b.histlen(), BLOCK_SIZE * 2);
        check(&b, &all);
        b.set_size(BLOCK_SIZE * 4);
        let more = stream(BLOCK_SIZE * 6, 5);
        all.extend_from_slice(&more);
        for c in more.chunks(5000) {
            b.append(c);
        }
        assert_eq!(b.histlen(), BLOCK_SIZE * 5);
        check(&b, &all);
    }
}
