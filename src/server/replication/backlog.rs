//! The replication backlog: the last `repl-backlog-size` bytes of the write stream, kept so
//! that a replica that lost its link can continue from its offset (PSYNC) instead of taking
//! a full snapshot again.

/// A ring buffer of the most recent stream bytes.
///
/// Offsets follow Redis: the stream's bytes are numbered from 1, `master_repl_offset` is the
/// number of the last byte written, and the backlog holds bytes
/// `first_byte_offset ..= master_repl_offset` (`histlen` of them).
#[derive(Debug)]
pub struct Backlog {
    buf: Vec<u8>,
    /// Where the next byte goes.
    head: usize,
    histlen: usize,
}

impl Backlog {
    /// An empty backlog holding up to `size` bytes.
    pub fn new(size: usize) -> Backlog {
        Backlog {
            buf: vec![0; size.max(16)],
            head: 0,
            histlen: 0,
        }
    }

    /// Capacity in bytes (`repl_backlog_size`).
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Bytes held (`repl_backlog_histlen`).
    pub fn histlen(&self) -> usize {
        self.histlen
    }

    /// Appends stream bytes, dropping the oldest when full.
    pub fn append(&mut self, mut data: &[u8]) {
        let size = self.buf.len();
        if data.len() >= size {
            data = &data[data.len() - size..];
        }
        let first = (size - self.head).min(data.len());
        self.buf[self.head..self.head + first].copy_from_slice(&data[..first]);
        let rest = data.len() - first;
        self.buf[..rest].copy_from_slice(&data[first..]);
        self.head = (self.head + data.len()) % size;
        self.histlen = (self.histlen + data.len()).min(size);
    }

    /// The newest `n` bytes (`n` ≤ histlen), oldest first.
    pub fn tail(&self, n: usize) -> Vec<u8> {
        let n = n.min(self.histlen);
        let size = self.buf.len();
        let start = (self.head + size - n) % size;
        let mut out = Vec::with_capacity(n);
        if start + n <= size {
            out.extend_from_slice(&self.buf[start..start + n]);
        } else {
            out.extend_from_slice(&self.buf[start..]);
            out.extend_from_slice(&self.buf[..n - (size - start)]);
        }
        out
    }

    /// A backlog of a new size holding as much of the newest history as fits.
    pub fn resized(&self, size: usize) -> Backlog {
        let mut b = Backlog::new(size);
        b.append(&self.tail(self.histlen.min(size.max(16))));
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_across_wraps() {
        let mut b = Backlog::new(16);
        let mut all = Vec::new();
        for i in 0..50u8 {
            let chunk: Vec<u8> = (0..(i % 7) + 1).map(|j| i.wrapping_mul(31) ^ j).collect();
            all.extend_from_slice(&chunk);
            b.append(&chunk);
            let n = b.histlen();
            assert_eq!(n, all.len().min(16));
            assert_eq!(b.tail(n), all[all.len() - n..]);
            assert_eq!(b.tail(3), all[all.len() - 3.min(all.len())..]);
        }
        b.append(&[7u8; 40]);
        assert_eq!(b.tail(16), vec![7u8; 16]);
        let r = b.resized(8);
        assert_eq!(r.tail(8), vec![7u8; 8]);
    }
}
