//! Lists: a deque of chunks of packed entries, in the spirit of Redis's quicklist of
//! listpacks.
//!
//! A [`List`] is a `VecDeque` of [`Chunk`]s of at most about [`CHUNK_BYTES`] bytes each
//! (an element larger than that gets a chunk of its own). A chunk is one `Vec<u8>` holding
//! its entries back to back in `buf[head..]`; the bytes before `head` are a gap that
//! pushes at the front fill and pops at the front leave behind, so that both ends take
//! O(1) amortized time without moving the rest of the chunk.
//!
//! One entry is `tag [payload] backlen`:
//!
//! | tag            | meaning                                                           |
//! |----------------|-------------------------------------------------------------------|
//! | `0x00..=0x7f`  | the integer 0..=127 (no payload)                                  |
//! | `0x80..=0xbf`  | a string of `tag - 0x80` (0..=63) bytes, which follow             |
//! | `0xc1..=0xc8`  | an integer in `tag - 0xc0` bytes, little-endian two's complement  |
//! | `0xf0`         | a string whose length follows as a LEB128 varint, then its bytes |
//!
//! `backlen` is the size of `tag [payload]` written so that it reads backwards: its last
//! byte holds the low 7 bits, and a set high bit means more (higher) bits sit in the byte
//! before. It lets the last entry of a chunk be found without a scan, as in a listpack.
//!
//! Only canonical integers (those Redis's `string2ll` accepts, so that formatting them
//! gives back the same bytes) are stored as integers: every element reads back exactly as
//! it was written, which DEBUG DIGEST and the RDB writer rely on.

use crate::server::numbers::parse_i64;
use crate::server::sds::Sds;
use std::collections::VecDeque;
use std::ops::Deref;

/// A chunk's size (gap and entries) beyond which pushes start a new chunk.
pub const CHUNK_BYTES: usize = 4096;

const TAG_STR6: u8 = 0x80;
const TAG_INT: u8 = 0xc0;
const TAG_STR: u8 = 0xf0;

/// One element as read from a list: borrowed bytes, or an integer formatted on the stack.
#[derive(Clone, Copy)]
pub enum Entry<'a> {
    Bytes(&'a [u8]),
    Int { buf: [u8; 20], len: u8 },
}

impl Entry<'_> {
    fn int(v: i64) -> Entry<'static> {
        let mut b = itoa::Buffer::new();
        let s = b.format(v).as_bytes();
        let mut buf = [0u8; 20];
        buf[..s.len()].copy_from_slice(s);
        Entry::Int {
            buf,
            len: s.len() as u8,
        }
    }

    /// The element's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Entry::Bytes(b) => b,
            Entry::Int { buf, len } => &buf[..*len as usize],
        }
    }

    /// An owned copy.
    pub fn to_sds(&self) -> Sds {
        Sds::from_slice(self.as_bytes())
    }
}

impl Deref for Entry<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Entry<'_> {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// An element encoded as an entry, ready to copy in: `pre` (tag, then an integer or a
/// string length), `body` (string bytes) and `back` (the backlen).
struct Enc<'a> {
    pre: [u8; 12],
    pre_len: u8,
    body: &'a [u8],
    back: [u8; 10],
    back_len: u8,
}

impl<'a> Enc<'a> {
    fn new(e: &'a [u8]) -> Enc<'a> {
        let mut pre = [0u8; 12];
        let mut pre_len = 1;
        let mut body: &[u8] = &[];
        match parse_i64(e) {
            Some(v) if (0..=127).contains(&v) => pre[0] = v as u8,
            Some(v) => {
                let k = (1..=8)
                    .find(|&k| {
                        let sh = 64 - 8 * k;
                        k == 8 || ((v << sh) >> sh) == v
                    })
                    .unwrap_or(8);
                pre[0] = TAG_INT + k as u8;
                pre[1..1 + k].copy_from_slice(&v.to_le_bytes()[..k]);
                pre_len = 1 + k;
            }
            None if e.len() < 64 => {
                pre[0] = TAG_STR6 + e.len() as u8;
                body = e;
            }
            None => {
                pre[0] = TAG_STR;
                let mut n = e.len();
                loop {
                    let b = (n & 0x7f) as u8;
                    n >>= 7;
                    if n == 0 {
                        pre[pre_len] = b;
                        pre_len += 1;
                        break;
                    }
                    pre[pre_len] = b | 0x80;
                    pre_len += 1;
                }
                body = e;
            }
        }
        let mut back = [0u8; 10];
        let back_len = write_backlen(pre_len + body.len(), &mut back);
        Enc {
            pre,
            pre_len: pre_len as u8,
            body,
            back,
            back_len: back_len as u8,
        }
    }

    fn len(&self) -> usize {
        self.pre_len as usize + self.body.len() + self.back_len as usize
    }

    /// Copies the entry into `out`, which must be exactly `len()` bytes.
    fn write(&self, out: &mut [u8]) {
        let p = self.pre_len as usize;
        let b = self.body.len();
        out[..p].copy_from_slice(&self.pre[..p]);
        out[p..p + b].copy_from_slice(self.body);
        out[p + b..].copy_from_slice(&self.back[..self.back_len as usize]);
    }

    fn append(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.pre[..self.pre_len as usize]);
        out.extend_from_slice(self.body);
        out.extend_from_slice(&self.back[..self.back_len as usize]);
    }

    fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        self.append(&mut v);
        v
    }
}

/// Writes `size` as a backlen into `out`; returns its length.
fn write_backlen(size: usize, out: &mut [u8; 10]) -> usize {
    let mut groups = [0u8; 10];
    let mut n = 0;
    let mut s = size;
    loop {
        groups[n] = (s & 0x7f) as u8;
        n += 1;
        s >>= 7;
        if s == 0 {
            break;
        }
    }
    // The last byte holds the lowest group; every byte but the first flags "more before".
    for i in 0..n {
        let g = groups[n - 1 - i];
        out[i] = if i == 0 { g } else { g | 0x80 };
    }
    n
}

fn backlen_len(size: usize) -> usize {
    let mut n = 1;
    let mut s = size >> 7;
    while s != 0 {
        n += 1;
        s >>= 7;
    }
    n
}

/// Decodes the entry at `p`; returns it and its whole size (backlen included).
#[inline]
fn decode(buf: &[u8], p: usize) -> (Entry<'_>, usize) {
    let tag = buf[p];
    let (e, size) = if tag < TAG_STR6 {
        (Entry::int(tag as i64), 1)
    } else if tag < TAG_INT {
        let n = (tag - TAG_STR6) as usize;
        (Entry::Bytes(&buf[p + 1..p + 1 + n]), 1 + n)
    } else if tag <= TAG_INT + 8 {
        let k = (tag - TAG_INT) as usize;
        let mut b = [0u8; 8];
        b[..k].copy_from_slice(&buf[p + 1..p + 1 + k]);
        let sh = 64 - 8 * k as u32;
        let v = (i64::from_le_bytes(b) << sh) >> sh;
        (Entry::int(v), 1 + k)
    } else {
        let mut n = 0usize;
        let mut shift = 0;
        let mut q = p + 1;
        loop {
            let b = buf[q];
            q += 1;
            n |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        (Entry::Bytes(&buf[q..q + n]), q - p + n)
    };
    (e, size + backlen_len(size))
}

/// The start of the entry that ends at `end`.
#[inline]
fn prev_start(buf: &[u8], end: usize) -> usize {
    let mut pos = end - 1;
    let mut b = buf[pos];
    let mut v = (b & 0x7f) as usize;
    let mut shift = 7;
    while b & 0x80 != 0 {
        pos -= 1;
        b = buf[pos];
        v |= ((b & 0x7f) as usize) << shift;
        shift += 7;
    }
    pos - v
}

/// A run of entries in one allocation; they live in `buf[head..]`.
#[derive(Clone, Debug, Default)]
struct Chunk {
    buf: Vec<u8>,
    head: usize,
    count: usize,
}

impl Chunk {
    fn live_len(&self) -> usize {
        self.buf.len() - self.head
    }

    fn push_back(&mut self, enc: &Enc) {
        let need = enc.len();
        if self.buf.len() + need > self.buf.capacity() {
            // Drop the gap left by front pops once it is at least half the buffer, then
            // grow by doubling up to the chunk size.
            if self.head > 0 && self.head >= self.buf.len() / 2 {
                self.buf.drain(..self.head);
                self.head = 0;
            }
            let want = (self.buf.len() + need)
                .max((self.buf.capacity() * 2).clamp(16, CHUNK_BYTES.max(self.buf.len())));
            self.buf.reserve_exact(want - self.buf.len());
        }
        enc.append(&mut self.buf);
        self.count += 1;
    }

    fn push_front(&mut self, enc: &Enc) {
        let need = enc.len();
        if self.head < need {
            // Reallocate with a gap in front, doubling up to the chunk size.
            let live = self.live_len();
            let total = (live + need).max((live * 2).clamp(16, CHUNK_BYTES.max(live)));
            let gap = total - live;
            let mut buf = Vec::with_capacity(total);
            buf.resize(gap, 0);
            buf.extend_from_slice(&self.buf[self.head..]);
            self.buf = buf;
            self.head = gap;
        }
        self.head -= need;
        enc.write(&mut self.buf[self.head..self.head + need]);
        self.count += 1;
    }

    fn pop_front(&mut self) -> Sds {
        let (e, size) = decode(&self.buf, self.head);
        let s = e.to_sds();
        self.head += size;
        self.count -= 1;
        s
    }

    fn pop_back(&mut self) -> Sds {
        let start = prev_start(&self.buf, self.buf.len());
        let s = decode(&self.buf, start).0.to_sds();
        self.buf.truncate(start);
        self.count -= 1;
        s
    }

    /// The byte offset of the entry with index `i` within this chunk.
    fn offset_of(&self, i: usize) -> usize {
        if i <= self.count / 2 {
            let mut p = self.head;
            for _ in 0..i {
                p += decode(&self.buf, p).1;
            }
            p
        } else {
            let mut p = self.buf.len();
            for _ in i..self.count {
                p = prev_start(&self.buf, p);
            }
            p
        }
    }

    /// Frees the gap and the spare capacity.
    fn shrink(&mut self) {
        if self.head > 0 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.shrink_to_fit();
    }

    /// Splits off the second half (by bytes, at an entry boundary) as a new chunk.
    fn split(&mut self) -> Chunk {
        let half = self.head + self.live_len() / 2;
        let mut p = self.head;
        let mut n = 0;
        while p < half && n + 1 < self.count {
            p += decode(&self.buf, p).1;
            n += 1;
        }
        let n = n.max(1);
        let p = if p == self.head {
            self.head + decode(&self.buf, self.head).1
        } else {
            p
        };
        let tail = Chunk {
            buf: self.buf[p..].to_vec(),
            head: 0,
            count: self.count - n,
        };
        self.buf.truncate(p);
        self.count = n;
        self.shrink();
        tail
    }
}

/// A list of byte strings.
#[derive(Clone, Debug, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl List {
    /// A list of `items`, head first.
    pub fn from_items<I, T>(items: I) -> List
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut l = List::default();
        for e in items {
            l.push_back(e.as_ref());
        }
        l
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty (an empty list is deleted from the keyspace).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// OBJECT ENCODING name (Redis 7.0 reports every list as a quicklist).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Heap bytes held by the elements (for tests and accounting).
    pub fn heap_size(&self) -> usize {
        self.chunks.iter().map(|c| c.buf.capacity()).sum::<usize>()
            + self.chunks.capacity() * std::mem::size_of::<Chunk>()
    }

    /// Adds `e` at the head.
    pub fn push_front(&mut self, e: &[u8]) {
        let enc = Enc::new(e);
        let fits = match self.chunks.front() {
            Some(c) => c.live_len() + enc.len() <= CHUNK_BYTES,
            None => false,
        };
        if !fits {
            self.chunks.push_front(Chunk::default());
        }
        self.chunks[0].push_front(&enc);
        self.len += 1;
    }

    /// Adds `e` at the tail.
    pub fn push_back(&mut self, e: &[u8]) {
        let enc = Enc::new(e);
        let fits = match self.chunks.back() {
            Some(c) => c.live_len() + enc.len() <= CHUNK_BYTES,
            None => false,
        };
        if !fits {
            self.chunks.push_back(Chunk::default());
        }
        self.chunks.back_mut().unwrap().push_back(&enc);
        self.len += 1;
    }

    /// Removes and returns the head.
    pub fn pop_front(&mut self) -> Option<Sds> {
        let c = self.chunks.front_mut()?;
        let s = c.pop_front();
        if c.count == 0 {
            self.chunks.pop_front();
        }
        self.len -= 1;
        Some(s)
    }

    /// Removes and returns the tail.
    pub fn pop_back(&mut self) -> Option<Sds> {
        let c = self.chunks.back_mut()?;
        let s = c.pop_back();
        if c.count == 0 {
            self.chunks.pop_back();
        }
        self.len -= 1;
        Some(s)
    }

    /// The chunk holding index `i` (< len) and the index within it, walking from the
    /// nearer end.
    fn locate(&self, mut i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            for (ci, c) in self.chunks.iter().enumerate() {
                if i < c.count {
                    return (ci, i);
                }
                i -= c.count;
            }
            unreachable!("index within the list")
        } else {
            let mut from_end = self.len - 1 - i;
            for (ci, c) in self.chunks.iter().enumerate().rev() {
                if from_end < c.count {
                    return (ci, c.count - 1 - from_end);
                }
                from_end -= c.count;
            }
            unreachable!("index within the list")
        }
    }

    /// The element at index `i`, if any.
    pub fn get(&self, i: usize) -> Option<Entry<'_>> {
        if i >= self.len {
            return None;
        }
        let (ci, j) = self.locate(i);
        let c = &self.chunks[ci];
        Some(decode(&c.buf, c.offset_of(j)).0)
    }

    /// Replaces the element at index `i` (< len).
    pub fn set(&mut self, i: usize, e: &[u8]) {
        let (ci, j) = self.locate(i);
        let c = &mut self.chunks[ci];
        let p = c.offset_of(j);
        let old = decode(&c.buf, p).1;
        c.buf.splice(p..p + old, Enc::new(e).to_vec());
        self.split_if_big(ci);
    }

    fn split_if_big(&mut self, ci: usize) {
        let c = &mut self.chunks[ci];
        if c.live_len() > CHUNK_BYTES && c.count > 1 {
            let tail = c.split();
            self.chunks.insert(ci + 1, tail);
            self.split_if_big(ci + 1);
            self.split_if_big(ci);
        }
    }

    /// LINSERT: inserts `e` before or after the first element equal to `pivot`; false when
    /// there is none.
    pub fn insert_at_pivot(&mut self, pivot: &[u8], e: &[u8], after: bool) -> bool {
        let mut found = None;
        'scan: for (ci, c) in self.chunks.iter().enumerate() {
            let mut p = c.head;
            while p < c.buf.len() {
                let (x, size) = decode(&c.buf, p);
                if x.as_bytes() == pivot {
                    found = Some((ci, if after { p + size } else { p }));
                    break 'scan;
                }
                p += size;
            }
        }
        let Some((ci, p)) = found else {
            return false;
        };
        let c = &mut self.chunks[ci];
        let enc = Enc::new(e);
        if p == c.head && c.head >= enc.len() {
            c.head -= enc.len();
            let h = c.head;
            enc.write(&mut c.buf[h..h + enc.len()]);
        } else {
            c.buf.splice(p..p, enc.to_vec());
        }
        c.count += 1;
        self.len += 1;
        self.split_if_big(ci);
        true
    }

    /// LREM: removes up to `count` elements equal to `target` (all when 0; from the tail
    /// when negative); returns how many went.
    pub fn remove_matching(&mut self, target: &[u8], count: i64) -> usize {
        let mut remaining = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut removed = 0;
        let n = self.chunks.len();
        for k in 0..n {
            if remaining == 0 {
                break;
            }
            let ci = if count >= 0 { k } else { n - 1 - k };
            let c = &mut self.chunks[ci];
            // From the tail: keep the first matches of this chunk, remove its last ones.
            let mut skip = 0;
            if count < 0 {
                let mut m = 0;
                let mut p = c.head;
                while p < c.buf.len() {
                    let (x, size) = decode(&c.buf, p);
                    if x.as_bytes() == target {
                        m += 1;
                    }
                    p += size;
                }
                if m == 0 {
                    continue;
                }
                skip = m - m.min(remaining);
            }
            let (mut r, mut w) = (c.head, c.head);
            while r < c.buf.len() {
                if remaining == 0 {
                    c.buf.copy_within(r.., w);
                    w += c.buf.len() - r;
                    break;
                }
                let (x, size) = decode(&c.buf, r);
                let hit = x.as_bytes() == target;
                if hit && skip > 0 {
                    skip -= 1;
                } else if hit {
                    remaining -= 1;
                    removed += 1;
                    c.count -= 1;
                    r += size;
                    continue;
                }
                if w != r {
                    c.buf.copy_within(r..r + size, w);
                }
                w += size;
                r += size;
            }
            c.buf.truncate(w);
        }
        if removed > 0 {
            self.len -= removed;
            self.compact();
        }
        removed
    }

    /// Drops empty chunks and merges small neighbours, releasing spare memory.
    fn compact(&mut self) {
        let old = std::mem::take(&mut self.chunks);
        for mut c in old {
            if c.count == 0 {
                continue;
            }
            if let Some(last) = self.chunks.back_mut() {
                if last.live_len() + c.live_len() <= CHUNK_BYTES {
                    last.buf.extend_from_slice(&c.buf[c.head..]);
                    last.count += c.count;
                    continue;
                }
                if last.buf.capacity() > last.live_len() + last.live_len() / 4 + 64 {
                    last.shrink();
                }
            }
            if c.buf.capacity() > c.live_len() + c.live_len() / 4 + 64 {
                c.shrink();
            }
            self.chunks.push_back(c);
        }
    }

    /// LTRIM: removes `front` elements from the head and `back` from the tail.
    pub fn trim(&mut self, front: usize, back: usize) {
        if front + back >= self.len {
            self.chunks.clear();
            self.len = 0;
            return;
        }
        self.len -= front + back;
        let mut front = front;
        while front > 0 {
            let c = &mut self.chunks[0];
            if front >= c.count {
                front -= c.count;
                self.chunks.pop_front();
            } else {
                c.head = c.offset_of(front);
                c.count -= front;
                front = 0;
            }
        }
        let mut back = back;
        while back > 0 {
            let c = self.chunks.back_mut().unwrap();
            if back >= c.count {
                back -= c.count;
                self.chunks.pop_back();
            } else {
                let keep = c.count - back;
                let p = c.offset_of(keep);
                c.buf.truncate(p);
                c.count = keep;
                back = 0;
            }
        }
    }

    /// The elements, head first.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The elements from index `i` on, head first.
    pub fn iter_from(&self, i: usize) -> Iter<'_> {
        if i >= self.len {
            return Iter {
                list: self,
                ci: self.chunks.len(),
                p: 0,
                left: 0,
            };
        }
        let (ci, j) = self.locate(i);
        Iter {
            list: self,
            ci,
            p: self.chunks[ci].offset_of(j),
            left: self.len - i,
        }
    }

    /// The elements, tail first.
    pub fn iter_rev(&self) -> RevIter<'_> {
        RevIter {
            list: self,
            ci: self.chunks.len(),
            end: 0,
            left: self.len,
        }
    }
}

/// Iterator over a list's elements, head first.
pub struct Iter<'a> {
    list: &'a List,
    ci: usize,
    p: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;

    #[inline]
    fn next(&mut self) -> Option<Entry<'a>> {
        if self.left == 0 {
            return None;
        }
        let chunks = &self.list.chunks;
        while self.p >= chunks[self.ci].buf.len() {
            self.ci += 1;
            self.p = chunks[self.ci].head;
        }
        let (e, size) = decode(&chunks[self.ci].buf, self.p);
        self.p += size;
        self.left -= 1;
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Iterator over a list's elements, tail first.
pub struct RevIter<'a> {
    list: &'a List,
    ci: usize,
    end: usize,
    left: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.left == 0 {
            return None;
        }
        let chunks = &self.list.chunks;
        while self.ci == chunks.len() || self.end <= chunks[self.ci].head {
            self.ci -= 1;
            self.end = chunks[self.ci].buf.len();
        }
        let buf = &chunks[self.ci].buf;
        let start = prev_start(buf, self.end);
        self.end = start;
        self.left -= 1;
        Some(decode(buf, start).0)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(l: &List, model: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), model.len());
        let fwd: Vec<Vec<u8>> = l.iter().map(|e| e.to_vec()).collect();
        assert_eq!(&fwd, &model.iter().cloned().collect::<Vec<_>>());
        let mut rev: Vec<Vec<u8>> = l.iter_rev().map(|e| e.to_vec()).collect();
        rev.reverse();
        assert_eq!(fwd, rev);
        assert_eq!(l.chunks.iter().map(|c| c.count).sum::<usize>(), l.len());
        for c in &l.chunks {
            assert!(c.count > 0);
            let mut p = c.head;
            let mut n = 0;
            while p < c.buf.len() {
                p += decode(&c.buf, p).1;
                n += 1;
            }
            assert_eq!(p, c.buf.len());
            assert_eq!(n, c.count);
        }
    }

    /// A tiny deterministic generator (xorshift).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn element(r: &mut Rng) -> Vec<u8> {
        match r.below(10) {
            0 => r.below(200).to_string().into_bytes(),
            1 => (r.next() as i64).to_string().into_bytes(),
            2 => format!("-{}", r.below(100000)).into_bytes(),
            3 => b"007".to_vec(),
            4 => vec![b'x'; r.below(300)],
            5 => vec![b'y'; 5000 + r.below(3000)],
            6 => b"-0".to_vec(),
            _ => format!("e{}", r.below(50)).into_bytes(),
        }
    }

    #[test]
    fn encodings_round_trip() {
        let samples: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"0".to_vec(),
            b"127".to_vec(),
            b"128".to_vec(),
            b"-1".to_vec(),
            b"-128".to_vec(),
            b"-129".to_vec(),
            b"9223372036854775807".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"9223372036854775808".to_vec(),
            b"+1".to_vec(),
            b"01".to_vec(),
            b" 1".to_vec(),
            vec![b'a'; 63],
            vec![b'a'; 64],
            vec![b'a'; 127],
            vec![b'a'; 128],
            vec![b'a'; 20000],
        ];
        let l = List::from_items(&samples);
        check(&l, &samples.iter().cloned().collect());
        for (i, s) in samples.iter().enumerate() {
            assert_eq!(l.get(i).unwrap().as_bytes(), &s[..]);
        }
    }

    #[test]
    fn random_operations_match_a_deque() {
        let mut r = Rng(0x9e3779b97f4a7c15);
        let mut l = List::default();
        let mut m: VecDeque<Vec<u8>> = VecDeque::new();
        for step in 0..40000 {
            match r.below(14) {
                0..=2 => {
                    let e = element(&mut r);
                    l.push_front(&e);
                    m.push_front(e);
                }
                3..=5 => {
                    let e = element(&mut r);
                    l.push_back(&e);
                    m.push_back(e);
                }
                6 => assert_eq!(l.pop_front().map(|s| s.to_vec()), m.pop_front()),
                7 => assert_eq!(l.pop_back().map(|s| s.to_vec()), m.pop_back()),
                8 if !m.is_empty() => {
                    let i = r.below(m.len());
                    let e = element(&mut r);
                    l.set(i, &e);
                    m[i] = e;
                }
                9 => {
                    let pivot = element(&mut r);
                    let e = element(&mut r);
                    let after = r.below(2) == 0;
                    let pos = m.iter().position(|x| *x == pivot);
                    assert_eq!(l.insert_at_pivot(&pivot, &e, after), pos.is_some());
                    if let Some(p) = pos {
                        m.insert(if after { p + 1 } else { p }, e);
                    }
                }
                10 if step % 7 == 0 => {
                    let t = element(&mut r);
                    let count = r.below(5) as i64 - 2;
                    let mut limit = if count == 0 {
                        usize::MAX
                    } else {
                        count.unsigned_abs() as usize
                    };
                    let mut want = 0;
                    if count >= 0 {
                        let mut i = 0;
                        while i < m.len() && limit > 0 {
                            if m[i] == t {
                                m.remove(i);
                                limit -= 1;
                                want += 1;
                            } else {
                                i += 1;
                            }
                        }
                    } else {
                        let mut i = m.len();
                        while i > 0 && limit > 0 {
                            i -= 1;
                            if m[i] == t {
                                m.remove(i);
                                limit -= 1;
                                want += 1;
                            }
                        }
                    }
                    assert_eq!(l.remove_matching(&t, count), want);
                }
                11 if step % 11 == 0 && !m.is_empty() => {
                    let f = r.below(m.len() / 4 + 1);
                    let b = r.below(m.len() / 4 + 1);
                    l.trim(f, b);
                    if f + b >= m.len() {
                        m.clear();
                    } else {
                        m.drain(..f);
                        for _ in 0..b {
                            m.pop_back();
                        }
                    }
                }
                12 if !m.is_empty() => {
                    let i = r.below(m.len());
                    assert_eq!(l.get(i).unwrap().as_bytes(), &m[i][..]);
                    let got: Vec<Vec<u8>> = l.iter_from(i).take(5).map(|e| e.to_vec()).collect();
                    let want: Vec<Vec<u8>> = m.iter().skip(i).take(5).cloned().collect();
                    assert_eq!(got, want);
                }
                _ => {}
            }
            if step % 500 == 0 {
                check(&l, &m);
            }
        }
        check(&l, &m);
        assert!(l.get(l.len()).is_none());
    }

    #[test]
    fn small_elements_are_compact() {
        let mut l = List::default();
        for _ in 0..100_000 {
            l.push_front(b"xxx");
        }
        // 5 bytes an entry, plus chunk overhead.
        assert!(l.heap_size() < 100_000 * 11 / 2, "{}", l.heap_size());
        let mut l = List::default();
        for i in 0..100_000 {
            l.push_back(i.to_string().as_bytes());
        }
        assert!(l.heap_size() < 100_000 * 5, "{}", l.heap_size());
    }
}
