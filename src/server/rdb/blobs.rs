//! The packed encodings found inside RDB values and DUMP payloads (listpack, ziplist, intset,
//! zipmap), decoded with the deep integrity checks Redis 7.0 runs under
//! `sanitize-dump-payload yes` (listpack.c `lpValidateIntegrity`, ziplist.c
//! `ziplistValidateIntegrity`, intset.c `intsetValidateIntegrity`, zipmap.c
//! `zipmapValidateIntegrity`): header sizes and counts, every entry inside the blob, back
//! lengths and previous-entry lengths consistent, the end marker last, intsets sorted and
//! unique. Nothing is allocated by a length read from the blob before that length was checked
//! against the bytes actually there.

/// Elements of a packed blob, integers as their decimal text.
pub type Items = Vec<Vec<u8>>;

/// Why a blob was refused (folded into the RDB error by the caller).
pub type BlobError = String;

fn int(v: i64) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn le_u16(b: &[u8]) -> usize {
    u16::from_le_bytes([b[0], b[1]]) as usize
}

fn le_u32(b: &[u8]) -> usize {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
}

fn i24(b: &[u8]) -> i64 {
    let v = (b[0] as i32) | (b[1] as i32) << 8 | (b[2] as i32) << 16;
    ((v << 8) >> 8) as i64
}

/// `blob[at..at + n]`, or an error when it reaches past `end`.
fn slice<'a>(
    blob: &'a [u8],
    at: usize,
    n: usize,
    end: usize,
    what: &str,
) -> Result<&'a [u8], BlobError> {
    match at.checked_add(n) {
        Some(stop) if stop <= end => Ok(&blob[at..stop]),
        _ => Err(format!("{what} entry out of bounds")),
    }
}

/// Listpack header: total bytes (u32) and element count (u16, 65535 = unknown).
const LP_HEADER: usize = 6;
const LP_UNKNOWN_COUNT: usize = 65535;

/// Bytes of the back length that follows an entry whose encoding + data is `len` bytes.
fn lp_backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    }
}

/// Reads a back length that ends at `last` (inclusive) as Redis's `lpDecodeBacklen`: 7 bits
/// a byte from the end backwards, going on while the high bit is set (at most 5 bytes).
fn lp_decode_backlen(lp: &[u8], last: usize) -> Option<usize> {
    let (mut v, mut shift, mut p) = (0usize, 0, last);
    loop {
        v |= ((lp[p] & 0x7f) as usize) << shift;
        if lp[p] & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
        p = p.checked_sub(1)?;
    }
}

/// One listpack entry at `p`: its value and the size of encoding + data.
fn lp_entry(lp: &[u8], p: usize, end: usize) -> Result<(Vec<u8>, usize), BlobError> {
    let b = lp[p];
    let what = "listpack";
    Ok(if b & 0x80 == 0 {
        (int((b & 0x7f) as i64), 1)
    } else if b & 0xC0 == 0x80 {
        let n = (b & 0x3f) as usize;
        (slice(lp, p + 1, n, end, what)?.to_vec(), 1 + n)
    } else if b & 0xE0 == 0xC0 {
        let lo = slice(lp, p + 1, 1, end, what)?[0];
        let v = (((b & 0x1f) as i64) << 8) | lo as i64;
        (int(if v >= 1 << 12 { v - (1 << 13) } else { v }), 2)
    } else if b & 0xF0 == 0xE0 {
        let lo = slice(lp, p + 1, 1, end, what)?[0];
        let n = (((b & 0x0f) as usize) << 8) | lo as usize;
        (slice(lp, p + 2, n, end, what)?.to_vec(), 2 + n)
    } else {
        match b {
            0xF0 => {
                let n = le_u32(slice(lp, p + 1, 4, end, what)?);
                (slice(lp, p + 5, n, end, what)?.to_vec(), 5 + n)
            }
            0xF1 => {
                let d = slice(lp, p + 1, 2, end, what)?;
                (int(i16::from_le_bytes([d[0], d[1]]) as i64), 3)
            }
            0xF2 => (int(i24(slice(lp, p + 1, 3, end, what)?)), 4),
            0xF3 => {
                let d = slice(lp, p + 1, 4, end, what)?;
                (int(i32::from_le_bytes(d.try_into().unwrap()) as i64), 5)
            }
            0xF4 => {
                let d = slice(lp, p + 1, 8, end, what)?;
                (int(i64::from_le_bytes(d.try_into().unwrap())), 9)
            }
            _ => return Err(format!("unknown listpack encoding 0x{b:02x}")),
        }
    })
}

/// Decodes and validates a listpack: header size equal to the blob's, every entry inside it
/// with a back length equal to its size, the element count as in the header (unless
/// unknown), and the end marker as the last byte.
pub fn listpack(lp: &[u8]) -> Result<Items, BlobError> {
    if lp.len() < LP_HEADER + 1 {
        return Err("listpack too short".into());
    }
    if le_u32(&lp[0..4]) != lp.len() {
        return Err("listpack size mismatch".into());
    }
    let declared = le_u16(&lp[4..6]);
    // Entries end before the end marker, which must be the last byte.
    let end = lp.len() - 1;
    if lp[end] != 0xFF {
        return Err("listpack does not end with its end marker".into());
    }
    let mut out = Vec::new();
    let mut p = LP_HEADER;
    while p < end {
        let (value, len) = lp_entry(lp, p, end)?;
        let size = lp_backlen_size(len);
        slice(lp, p + len, size, end, "listpack")?;
        if lp_decode_backlen(lp, p + len + size - 1) != Some(len) {
            return Err("listpack entry back length mismatch".into());
        }
        p += len + size;
        out.push(value);
    }
    if declared != LP_UNKNOWN_COUNT && declared != out.len() {
        return Err("listpack element count mismatch".into());
    }
    Ok(out)
}

/// Ziplist header: total bytes (u32), offset of the last entry (u32), count (u16).
const ZL_HEADER: usize = 10;

/// One ziplist entry's encoding at `p`: value and size of encoding + data.
fn zl_payload(zl: &[u8], p: usize, end: usize) -> Result<(Vec<u8>, usize), BlobError> {
    let what = "ziplist";
    let b = slice(zl, p, 1, end, what)?[0];
    Ok(match b >> 6 {
        0 => {
            let n = (b & 0x3f) as usize;
            (slice(zl, p + 1, n, end, what)?.to_vec(), 1 + n)
        }
        1 => {
            let lo = slice(zl, p + 1, 1, end, what)?[0];
            let n = (((b & 0x3f) as usize) << 8) | lo as usize;
            (slice(zl, p + 2, n, end, what)?.to_vec(), 2 + n)
        }
        2 if b == 0x80 => {
            let d = slice(zl, p + 1, 4, end, what)?;
            let n = u32::from_be_bytes(d.try_into().unwrap()) as usize;
            (slice(zl, p + 5, n, end, what)?.to_vec(), 5 + n)
        }
        _ => match b {
            0xC0 => {
                let d = slice(zl, p + 1, 2, end, what)?;
                (int(i16::from_le_bytes([d[0], d[1]]) as i64), 3)
            }
            0xD0 => {
                let d = slice(zl, p + 1, 4, end, what)?;
                (int(i32::from_le_bytes(d.try_into().unwrap()) as i64), 5)
            }
            0xE0 => {
                let d = slice(zl, p + 1, 8, end, what)?;
                (int(i64::from_le_bytes(d.try_into().unwrap())), 9)
            }
            0xF0 => (int(i24(slice(zl, p + 1, 3, end, what)?)), 4),
            0xFE => (int(slice(zl, p + 1, 1, end, what)?[0] as i8 as i64), 2),
            0xF1..=0xFD => (int((b & 0x0f) as i64 - 1), 1),
            _ => return Err(format!("unknown ziplist encoding 0x{b:02x}")),
        },
    })
}

/// Decodes and validates a ziplist (Redis < 7.0): header size equal to the blob's, every
/// entry inside it with a previous-entry length equal to the previous entry's size, the tail
/// offset pointing at the last entry, the count as in the header (unless unknown), and the
/// end marker as the last byte.
pub fn ziplist(zl: &[u8]) -> Result<Items, BlobError> {
    if zl.len() < ZL_HEADER + 1 {
        return Err("ziplist too short".into());
    }
    if le_u32(&zl[0..4]) != zl.len() {
        return Err("ziplist size mismatch".into());
    }
    let tail = le_u32(&zl[4..8]);
    let declared = le_u16(&zl[8..10]);
    let end = zl.len() - 1;
    if zl[end] != 0xFF {
        return Err("ziplist does not end with its end marker".into());
    }
    let mut out = Vec::new();
    let (mut p, mut prev_size, mut last) = (ZL_HEADER, 0usize, ZL_HEADER);
    while p < end {
        let (prevlen, prevlen_size) = if zl[p] < 254 {
            (zl[p] as usize, 1)
        } else if zl[p] == 254 {
            (le_u32(slice(zl, p + 1, 4, end, "ziplist")?), 5)
        } else {
            return Err("ziplist entry with an invalid previous length".into());
        };
        if prevlen != prev_size {
            return Err("ziplist previous entry length mismatch".into());
        }
        let (value, len) = zl_payload(zl, p + prevlen_size, end)?;
        last = p;
        prev_size = prevlen_size + len;
        p += prev_size;
        out.push(value);
    }
    if tail != last {
        return Err("ziplist tail offset mismatch".into());
    }
    if declared != 65535 && declared != out.len() {
        return Err("ziplist element count mismatch".into());
    }
    Ok(out)
}

/// Decodes and validates an intset: a valid width, the size equal to header + count ×
/// width, not empty, members strictly ascending (so sorted and unique).
pub fn intset(is: &[u8]) -> Result<Items, BlobError> {
    if is.len() < 8 {
        return Err("intset too short".into());
    }
    let width = le_u32(&is[0..4]);
    let n = le_u32(&is[4..8]);
    if !matches!(width, 2 | 4 | 8) {
        return Err("intset with an invalid encoding".into());
    }
    if n.checked_mul(width).and_then(|b| b.checked_add(8)) != Some(is.len()) {
        return Err("intset size mismatch".into());
    }
    if n == 0 {
        return Err("empty intset".into());
    }
    let mut out = Vec::with_capacity(n);
    let mut prev: Option<i64> = None;
    for c in is[8..].chunks(width) {
        let v = match width {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes(c.try_into().unwrap()) as i64,
            _ => i64::from_le_bytes(c.try_into().unwrap()),
        };
        if prev.is_some_and(|p| p >= v) {
            return Err("intset members not in ascending order, or duplicated".into());
        }
        prev = Some(v);
        out.push(int(v));
    }
    Ok(out)
}

const ZIPMAP_BIGLEN: u8 = 254;
const ZIPMAP_END: u8 = 255;

/// A zipmap length at `p`: one byte below 254, else 254 and a 4-byte little-endian length.
fn zipmap_len(zm: &[u8], p: usize, end: usize) -> Result<(usize, usize), BlobError> {
    let b = slice(zm, p, 1, end, "zipmap")?[0];
    match b {
        0..=253 => Ok((b as usize, 1)),
        ZIPMAP_BIGLEN => Ok((le_u32(slice(zm, p + 1, 4, end, "zipmap")?), 5)),
        _ => Err("zipmap entry out of bounds".into()),
    }
}

/// Decodes and validates a zipmap (hashes written by Redis < 2.6): a count byte (254 =
/// unknown), then `<len>field<len><free>value<free bytes>` entries and the end marker as the
/// last byte; not empty, the count as declared. Returns field, value, field, value...
pub fn zipmap(zm: &[u8]) -> Result<Items, BlobError> {
    if zm.len() < 2 {
        return Err("zipmap too short".into());
    }
    let end = zm.len() - 1;
    if zm[end] != ZIPMAP_END {
        return Err("zipmap does not end with its end marker".into());
    }
    let mut out = Vec::new();
    let mut p = 1;
    while p < end {
        let (flen, s) = zipmap_len(zm, p, end)?;
        out.push(slice(zm, p + s, flen, end, "zipmap")?.to_vec());
        p += s + flen;
        let (vlen, s) = zipmap_len(zm, p, end)?;
        let free = slice(zm, p + s, 1, end, "zipmap")?[0] as usize;
        out.push(slice(zm, p + s + 1, vlen, end, "zipmap")?.to_vec());
        p += s + 1 + vlen;
        slice(zm, p, free, end, "zipmap")?;
        p += free;
    }
    let pairs = out.len() / 2;
    if pairs == 0 {
        return Err("empty zipmap".into());
    }
    if zm[0] != ZIPMAP_BIGLEN && zm[0] as usize != pairs {
        return Err("zipmap element count mismatch".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listpack of small strings, as Redis writes it.
    fn lp_of(items: &[&[u8]]) -> Vec<u8> {
        let mut b = vec![0u8; LP_HEADER];
        for it in items {
            assert!(it.len() < 64);
            b.push(0x80 | it.len() as u8);
            b.extend_from_slice(it);
            b.push(1 + it.len() as u8);
        }
        b.push(0xFF);
        let n = b.len() as u32;
        b[0..4].copy_from_slice(&n.to_le_bytes());
        b[4..6].copy_from_slice(&(items.len() as u16).to_le_bytes());
        b
    }

    #[test]
    fn listpack_round_trip_and_checks() {
        let lp = lp_of(&[b"a", b"bc", b""]);
        assert_eq!(
            listpack(&lp).unwrap(),
            vec![b"a".to_vec(), b"bc".to_vec(), vec![]]
        );
        let mut bad = lp.clone();
        bad[4] = 2; // count
        assert!(listpack(&bad).is_err());
        let mut bad = lp.clone();
        bad[8] = 5; // back length of the first entry
        assert!(listpack(&bad).is_err());
        let mut bad = lp.clone();
        bad[8] |= 0x80; // same low bits, but says a longer back length goes on before it
        assert!(listpack(&bad).is_err());
        let mut bad = lp.clone();
        bad[6] = 0x80 | 40; // string length past the end
        assert!(listpack(&bad).is_err());
        for cut in 0..lp.len() {
            let mut t = lp[..cut].to_vec();
            if t.len() >= 4 {
                let n = t.len() as u32;
                t[0..4].copy_from_slice(&n.to_le_bytes());
            }
            assert!(listpack(&t).is_err(), "truncated at {cut}");
        }
    }

    #[test]
    fn intset_must_be_sorted_unique_and_sized() {
        let mk = |vals: &[i16]| {
            let mut b = 2u32.to_le_bytes().to_vec();
            b.extend_from_slice(&(vals.len() as u32).to_le_bytes());
            for v in vals {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b
        };
        assert_eq!(
            intset(&mk(&[-1, 5])).unwrap(),
            vec![b"-1".to_vec(), b"5".to_vec()]
        );
        assert!(intset(&mk(&[5, -1])).is_err());
        assert!(intset(&mk(&[5, 5])).is_err());
        assert!(intset(&mk(&[])).is_err());
        let mut b = mk(&[1, 2]);
        b[4] = 0xFF; // count far past the data
        assert!(intset(&b).is_err());
    }

    #[test]
    fn zipmap_entries_free_space_and_big_lengths() {
        let mut zm = vec![2u8, 1, b'a', 1, 2, b'x', 0, 0];
        zm.extend_from_slice(&[254, 3, 0, 0, 0]);
        zm.extend_from_slice(b"key");
        zm.extend_from_slice(&[2, 0, b'v', b'w', 255]);
        assert_eq!(
            zipmap(&zm).unwrap(),
            vec![
                b"a".to_vec(),
                b"x".to_vec(),
                b"key".to_vec(),
                b"vw".to_vec()
            ]
        );
        let mut bad = zm.clone();
        bad[0] = 3;
        assert!(zipmap(&bad).is_err());
        assert!(zipmap(&[0, 255]).is_err());
        for cut in 0..zm.len() {
            assert!(zipmap(&zm[..cut]).is_err(), "truncated at {cut}");
        }
    }

    #[test]
    fn ziplist_prevlen_and_tail_are_checked() {
        // Two entries: "a" then the integer 12 (immediate 4-bit encoding 0xF1 + 12).
        let mut zl = vec![0u8; ZL_HEADER];
        zl.extend_from_slice(&[0, 0x01, b'a']);
        let second = zl.len();
        zl.extend_from_slice(&[3, 0xF1 + 12]);
        zl.push(0xFF);
        let n = zl.len() as u32;
        zl[0..4].copy_from_slice(&n.to_le_bytes());
        zl[4..8].copy_from_slice(&(second as u32).to_le_bytes());
        zl[8..10].copy_from_slice(&2u16.to_le_bytes());
        assert_eq!(ziplist(&zl).unwrap(), vec![b"a".to_vec(), b"12".to_vec()]);
        let mut bad = zl.clone();
        bad[second] = 2;
        assert!(ziplist(&bad).is_err());
        let mut bad = zl.clone();
        bad[4] = 10;
        assert!(ziplist(&bad).is_err());
    }
}
