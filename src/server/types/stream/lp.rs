//! A minimal listpack (Redis's listpack.c format), the byte layout of a stream node: a
//! 6-byte header (total bytes u32 LE, element count u16 LE, 65535 = unknown), elements
//! (encoding + data + back length) and the 0xFF end marker.
//!
//! Strings that are canonical 64-bit integers are stored as integers, as `lpAppend` does.
//! Every reader is bounds-checked and returns `None` on malformed bytes, so a node loaded
//! from an RDB file can be walked safely while it is validated.

use crate::server::numbers::parse_i64;
use std::borrow::Cow;

/// Header bytes.
pub const HEADER: usize = 6;
const UNKNOWN_COUNT: u16 = 65535;
const END: u8 = 0xFF;

/// One element: an integer or a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val<'a> {
    /// An integer-encoded element.
    Int(i64),
    /// A string element.
    Str(&'a [u8]),
}

impl<'a> Val<'a> {
    /// The element as bytes (integers as their decimal text).
    pub fn bytes(&self) -> Cow<'a, [u8]> {
        match *self {
            Val::Int(v) => Cow::Owned(v.to_string().into_bytes()),
            Val::Str(s) => Cow::Borrowed(s),
        }
    }

    /// The element as an integer (strings are parsed strictly).
    pub fn int(&self) -> Option<i64> {
        match *self {
            Val::Int(v) => Some(v),
            Val::Str(s) => parse_i64(s),
        }
    }

    /// Whether the element equals `b` (an integer element equals its decimal text).
    pub fn eq_bytes(&self, b: &[u8]) -> bool {
        match *self {
            Val::Str(s) => s == b,
            Val::Int(v) => parse_i64(b) == Some(v),
        }
    }
}

/// An empty listpack.
pub fn new() -> Vec<u8> {
    let mut lp = vec![0u8; HEADER];
    lp.push(END);
    set_total(&mut lp);
    lp
}

fn set_total(lp: &mut [u8]) {
    let n = lp.len() as u32;
    lp[0..4].copy_from_slice(&n.to_le_bytes());
}

/// The element count of the header (65535: unknown).
pub fn count(lp: &[u8]) -> u16 {
    u16::from_le_bytes([lp[4], lp[5]])
}

fn set_count(lp: &mut [u8], n: u32) {
    let v = if n >= UNKNOWN_COUNT as u32 {
        UNKNOWN_COUNT
    } else {
        n as u16
    };
    lp[4..6].copy_from_slice(&v.to_le_bytes());
}

/// Bytes of the back length after an element whose encoding + data is `len` bytes.
fn backlen_size(len: usize) -> usize {
    match len {
        // lpEncodeBacklen's bounds (strictly below 16383, 2097151, 268435455).
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

fn push_backlen(out: &mut Vec<u8>, len: usize) {
    // Most significant 7 bits first; every byte after the first has its high bit set, so
    // reading backwards goes on while it is set (lpEncodeBacklen).
    let n = backlen_size(len);
    let start = out.len();
    out.resize(start + n, 0);
    for i in 0..n {
        let chunk = ((len >> (7 * i)) & 0x7f) as u8;
        let byte = if i + 1 < n { chunk | 0x80 } else { chunk };
        out[start + n - 1 - i] = byte;
    }
}

/// Appends the encoding of `v` (encoding + data + back length) to `out`.
pub fn encode(out: &mut Vec<u8>, v: Val) {
    let start = out.len();
    match v {
        Val::Int(i) => {
            if (0..=127).contains(&i) {
                out.push(i as u8);
            } else if (-4096..=4095).contains(&i) {
                let u = (i as u16) & 0x1fff;
                out.push(0xC0 | (u >> 8) as u8);
                out.push(u as u8);
            } else if (-32768..=32767).contains(&i) {
                out.push(0xF1);
                out.extend_from_slice(&(i as i16).to_le_bytes());
            } else if (-8388608..=8388607).contains(&i) {
                out.push(0xF2);
                out.extend_from_slice(&(i as i32).to_le_bytes()[..3]);
            } else if (i32::MIN as i64..=i32::MAX as i64).contains(&i) {
                out.push(0xF3);
                out.extend_from_slice(&(i as i32).to_le_bytes());
            } else {
                out.push(0xF4);
                out.extend_from_slice(&i.to_le_bytes());
            }
        }
        Val::Str(s) => {
            if s.len() < 64 {
                out.push(0x80 | s.len() as u8);
            } else if s.len() < 4096 {
                out.push(0xE0 | (s.len() >> 8) as u8);
                out.push(s.len() as u8);
            } else {
                out.push(0xF0);
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            }
            out.extend_from_slice(s);
        }
    }
    let len = out.len() - start;
    push_backlen(out, len);
}

/// The value `lpAppend` stores for `s`: an integer when `s` is a canonical integer.
pub fn val_of(s: &[u8]) -> Val<'_> {
    if s.len() <= 20
        && let Some(i) = parse_i64(s)
    {
        return Val::Int(i);
    }
    Val::Str(s)
}

/// Bytes the element `v` takes in a listpack.
pub fn size_of(v: Val) -> usize {
    let len = match v {
        Val::Int(i) => {
            if (0..=127).contains(&i) {
                1
            } else if (-4096..=4095).contains(&i) {
                2
            } else if (-32768..=32767).contains(&i) {
                3
            } else if (-8388608..=8388607).contains(&i) {
                4
            } else if (i32::MIN as i64..=i32::MAX as i64).contains(&i) {
                5
            } else {
                9
            }
        }
        Val::Str(s) => {
            s.len()
                + if s.len() < 64 {
                    1
                } else if s.len() < 4096 {
                    2
                } else {
                    5
                }
        }
    };
    len + backlen_size(len)
}

/// Appends one element at the end.
pub fn push(lp: &mut Vec<u8>, v: Val) {
    let n = count(lp) as u32;
    lp.pop(); // the end marker
    encode(lp, v);
    lp.push(END);
    set_total(lp);
    if n != UNKNOWN_COUNT as u32 {
        set_count(lp, n + 1);
    }
}

/// The element at `p`: its value and the size of encoding + data (no back length).
pub fn get(lp: &[u8], p: usize) -> Option<(Val<'_>, usize)> {
    let end = lp.len().checked_sub(1)?;
    let b = *lp.get(p)?;
    if p >= end {
        return None;
    }
    let data = |from: usize, n: usize| -> Option<&[u8]> {
        let stop = from.checked_add(n)?;
        if stop > end {
            return None;
        }
        Some(&lp[from..stop])
    };
    Some(if b & 0x80 == 0 {
        (Val::Int((b & 0x7f) as i64), 1)
    } else if b & 0xC0 == 0x80 {
        let n = (b & 0x3f) as usize;
        (Val::Str(data(p + 1, n)?), 1 + n)
    } else if b & 0xE0 == 0xC0 {
        let lo = data(p + 1, 1)?[0];
        let v = (((b & 0x1f) as i64) << 8) | lo as i64;
        (Val::Int(if v >= 1 << 12 { v - (1 << 13) } else { v }), 2)
    } else if b & 0xF0 == 0xE0 {
        let lo = data(p + 1, 1)?[0];
        let n = (((b & 0x0f) as usize) << 8) | lo as usize;
        (Val::Str(data(p + 2, n)?), 2 + n)
    } else {
        match b {
            0xF0 => {
                let d = data(p + 1, 4)?;
                let n = u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize;
                (Val::Str(data(p + 5, n)?), 5 + n)
            }
            0xF1 => {
                let d = data(p + 1, 2)?;
                (Val::Int(i16::from_le_bytes([d[0], d[1]]) as i64), 3)
            }
            0xF2 => {
                let d = data(p + 1, 3)?;
                let v = (d[0] as i32) | (d[1] as i32) << 8 | (d[2] as i32) << 16;
                (Val::Int(((v << 8) >> 8) as i64), 4)
            }
            0xF3 => {
                let d = data(p + 1, 4)?;
                (
                    Val::Int(i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64),
                    5,
                )
            }
            0xF4 => {
                let d = data(p + 1, 8)?;
                (Val::Int(i64::from_le_bytes(d.try_into().ok()?)), 9)
            }
            _ => return None,
        }
    })
}

/// The first element's offset, if any.
pub fn first(lp: &[u8]) -> Option<usize> {
    (lp.len() > HEADER + 1).then_some(HEADER)
}

/// The element at `p` and the offset of the next one (None at the end).
pub fn read(lp: &[u8], p: usize) -> Option<(Val<'_>, Option<usize>)> {
    let (v, len) = get(lp, p)?;
    let next = p + len + backlen_size(len);
    if next >= lp.len() {
        return None;
    }
    Some((v, (next < lp.len() - 1).then_some(next)))
}

/// Size of the encoding + data of the element at `p`, from its encoding byte and length
/// prefix only (lpSkip: the value is not decoded); None if it runs past the end.
fn element_len(lp: &[u8], p: usize) -> Option<usize> {
    let end = lp.len().checked_sub(1)?;
    if p >= end {
        return None;
    }
    let b = lp[p];
    let len = if b & 0x80 == 0 {
        1
    } else if b & 0xC0 == 0x80 {
        1 + (b & 0x3f) as usize
    } else if b & 0xE0 == 0xC0 {
        2
    } else if b & 0xF0 == 0xE0 {
        2 + ((((b & 0x0f) as usize) << 8) | *lp.get(p + 1)? as usize)
    } else {
        match b {
            0xF0 => {
                let d = lp.get(p + 1..p + 5)?;
                5 + u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize
            }
            0xF1 => 3,
            0xF2 => 4,
            0xF3 => 5,
            0xF4 => 9,
            _ => return None,
        }
    };
    (p.checked_add(len)? <= end).then_some(len)
}

/// The offset after the element at `p` (None at the end), without decoding it: what
/// walking past fields that are not wanted costs.
pub fn skip(lp: &[u8], p: usize) -> Option<Option<usize>> {
    let len = element_len(lp, p)?;
    let next = p + len + backlen_size(len);
    if next >= lp.len() {
        return None;
    }
    Some((next < lp.len() - 1).then_some(next))
}

/// The offset of the element that ends just before `p` (an element's offset, or the end
/// marker's), read from its back length (lpPrev); None at the first element.
pub fn prev(lp: &[u8], p: usize) -> Option<usize> {
    if p <= HEADER || p >= lp.len() {
        return None;
    }
    let mut q = p - 1;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = lp[q];
        len |= ((b & 0x7f) as usize).checked_shl(shift)?;
        if b & 0x80 == 0 || shift > 28 {
            break;
        }
        shift += 7;
        q = q.checked_sub(1).filter(|&q| q >= HEADER)?;
    }
    let start = q.checked_sub(len).filter(|&s| s >= HEADER)?;
    (element_len(lp, start)? == len).then_some(start)
}

/// The offset of the last element, if any.
pub fn last(lp: &[u8]) -> Option<usize> {
    prev(lp, lp.len().checked_sub(1)?)
}

/// Replaces the element at `p` by `v` (sizes may differ); returns the offset after it.
pub fn replace(lp: &mut Vec<u8>, p: usize, v: Val) -> Option<usize> {
    let (_, len) = get(lp, p)?;
    let old = len + backlen_size(len);
    let mut enc = Vec::with_capacity(16);
    encode(&mut enc, v);
    let after = p + enc.len();
    lp.splice(p..p + old, enc);
    set_total(lp);
    Some(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_matches_the_rdb_decoder() {
        let mut lp = new();
        let vals: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"128".to_vec(),
            b"-4096".to_vec(),
            b"40000".to_vec(),
            b"-8388608".to_vec(),
            b"2147483647".to_vec(),
            b"9223372036854775807".to_vec(),
            b"hello".to_vec(),
            vec![b'x'; 100],
            vec![b'y'; 5000],
            b"007".to_vec(),
        ];
        for v in &vals {
            push(&mut lp, val_of(v));
        }
        let decoded = crate::server::rdb::blobs::listpack(&lp).unwrap();
        assert_eq!(decoded, vals);
        let mut p = first(&lp);
        let mut n = 0;
        while let Some(at) = p {
            let (v, next) = read(&lp, at).unwrap();
            assert_eq!(v.bytes().as_ref(), &vals[n][..]);
            n += 1;
            p = next;
        }
        assert_eq!(n, vals.len());
        // skip() and prev() agree with read(), forwards and backwards.
        let mut offsets = Vec::new();
        let mut p = first(&lp);
        while let Some(at) = p {
            offsets.push(at);
            assert_eq!(skip(&lp, at).unwrap(), read(&lp, at).unwrap().1);
            p = skip(&lp, at).unwrap();
        }
        let mut back = Vec::new();
        let mut p = last(&lp);
        while let Some(at) = p {
            back.push(at);
            p = prev(&lp, at);
        }
        back.reverse();
        assert_eq!(back, offsets);
        // Replacing an element by a bigger one keeps the listpack valid.
        let p = first(&lp).unwrap();
        replace(&mut lp, p, Val::Int(300)).unwrap();
        let decoded = crate::server::rdb::blobs::listpack(&lp).unwrap();
        assert_eq!(decoded[0], b"300");
        assert_eq!(size_of(val_of(b"300")), 3);
    }
}
