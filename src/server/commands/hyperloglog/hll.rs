//! Redis's HyperLogLog string format, byte for byte (hyperloglog.c): the 16-byte `HYLL`
//! header (encoding, cached cardinality), the dense encoding (16384 six-bit registers) and
//! the sparse one (ZERO / XZERO / VAL opcodes), MurmurHash64A with Redis's seed, and the
//! cardinality estimator (Ertl's, as Redis 5+).
//!
//! Every function that reads a value checks its bounds: a corrupted or hostile string is
//! an error ([`Corrupt`]), never a panic or an allocation by a size it names.

/// Header bytes: "HYLL", encoding, 3 unused, 8 bytes of cached cardinality.
pub const HDR: usize = 16;
/// Register index bits.
const P: u32 = 14;
/// Bits of the hash left for the run of zeros.
const Q: usize = 64 - P as usize;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Bits per dense register.
const BITS: usize = 6;
/// The largest register value.
const REG_MAX: u8 = (1 << BITS) - 1;
/// Size of a dense HLL string.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);
/// Encoding byte of a dense HLL.
pub const DENSE: u8 = 0;
/// Encoding byte of a sparse HLL.
pub const SPARSE: u8 = 1;
/// Largest value a sparse VAL opcode holds.
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;

/// The HLL string is corrupted (Redis's `INVALIDOBJ Corrupted HLL object detected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash64A as Redis's copy computes it (little-endian words).
pub fn murmur64a(key: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4a7935bd1e995;
    const R: u32 = 47;
    let mut h = (seed as u64) ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes(c.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to and the length of its run of zeros plus one
/// (hllPatLen).
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, 0xadc83b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty HLL: sparse, one XZERO covering every register, cached cardinality 0.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(b"HYLL");
    v.extend_from_slice(&[SPARSE, 0, 0, 0]);
    v.extend_from_slice(&[0; 8]);
    for _ in 0..REGISTERS / XZERO_MAX_LEN {
        push_xzero(&mut v, XZERO_MAX_LEN);
    }
    v
}

/// Whether `b` is a HyperLogLog as isHLLObjectOrReply checks it: magic, a known
/// encoding, and the exact size when dense.
pub fn is_hll(b: &[u8]) -> bool {
    b.len() >= HDR
        && &b[..4] == b"HYLL"
        && b[4] <= SPARSE
        && (b[4] != DENSE || b.len() == DENSE_SIZE)
}

/// The cached cardinality, when valid (the top bit of its last byte clear).
pub fn cached(b: &[u8]) -> Option<u64> {
    let card = u64::from_le_bytes(b[8..16].try_into().unwrap());
    (b[15] & 0x80 == 0).then_some(card)
}

/// Stores `card` as the cached cardinality.
pub fn set_cache(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale.
pub fn invalidate(b: &mut [u8]) {
    b[15] |= 0x80;
}

/// Dense register `i` of `regs` (the registers after the header).
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let b0 = regs[byte] as u16;
    let b1 = regs.get(byte + 1).copied().unwrap_or(0) as u16;
    (((b0 >> fb) | (b1 << (8 - fb))) & REG_MAX as u16) as u8
}

/// Calls `f(i, register)` for every dense register in order, four at a time: 4 registers
/// of 6 bits are 3 bytes, one little-endian 24-bit word (Redis's unrolled
/// hllDenseRegHisto reads them so too).
fn dense_each(regs: &[u8], mut f: impl FnMut(usize, u8)) {
    for (k, c) in regs.chunks_exact(3).take(REGISTERS / 4).enumerate() {
        let w = c[0] as u32 | (c[1] as u32) << 8 | (c[2] as u32) << 16;
        let i = 4 * k;
        f(i, (w & 63) as u8);
        f(i + 1, (w >> 6 & 63) as u8);
        f(i + 2, (w >> 12 & 63) as u8);
        f(i + 3, (w >> 18) as u8);
    }
}

/// Sets dense register `i` of `regs` to `v`.
pub fn dense_set(regs: &mut [u8], i: usize, v: u8) {
    let byte = i * BITS / 8;
    let fb = (i * BITS) & 7;
    let v = v as u16;
    regs[byte] &= !((REG_MAX as u16) << fb) as u8;
    regs[byte] |= (v << fb) as u8;
    if let Some(b1) = regs.get_mut(byte + 1) {
        *b1 &= !((REG_MAX as u16) >> (8 - fb)) as u8;
        *b1 |= (v >> (8 - fb)) as u8;
    }
}

/// Raises dense register `i` to `count` if it is lower; true when it changed.
pub fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_set(regs, i, count);
        true
    } else {
        false
    }
}

/// One sparse opcode.
#[derive(Clone, Copy, Debug)]
enum Opcode {
    /// `len` zero registers, one or two bytes (ZERO / XZERO).
    Zero { len: usize, xzero: bool },
    /// `len` registers of value `value`.
    Val { value: u8, len: usize },
}

impl Opcode {
    /// Decodes the opcode at `b[p]` (an XZERO cut short reads its missing byte as 0, as
    /// Redis reads the string's terminator).
    fn at(b: &[u8], p: usize) -> Opcode {
        let x = b[p];
        if x & 0xc0 == 0 {
            Opcode::Zero {
                len: (x & 0x3f) as usize + 1,
                xzero: false,
            }
        } else if x & 0xc0 == 0x40 {
            let lo = b.get(p + 1).copied().unwrap_or(0) as usize;
            Opcode::Zero {
                len: ((((x & 0x3f) as usize) << 8) | lo) + 1,
                xzero: true,
            }
        } else {
            Opcode::Val {
                value: ((x >> 2) & 0x1f) + 1,
                len: (x & 3) as usize + 1,
            }
        }
    }

    fn size(self) -> usize {
        match self {
            Opcode::Zero { xzero: true, .. } => 2,
            _ => 1,
        }
    }

    fn span(self) -> usize {
        match self {
            Opcode::Zero { len, .. } | Opcode::Val { len, .. } => len,
        }
    }
}

fn val_byte(value: u8, len: usize) -> u8 {
    (((value - 1) << 2) | (len as u8 - 1)) | 0x80
}

fn push_xzero(v: &mut Vec<u8>, len: usize) {
    let l = len - 1;
    v.push((l >> 8) as u8 | 0x40);
    v.push((l & 0xff) as u8);
}

/// A ZERO or XZERO run of `len` registers.
fn push_zeros(v: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        push_xzero(v, len);
    } else {
        v.push(len as u8 - 1);
    }
}

/// Walks the sparse opcodes of `b` (a whole HLL string), calling `f(first register,
/// opcode)`; Err when they do not cover exactly every register (a VAL run past the last
/// register stops the walk before it is applied).
fn walk_sparse(b: &[u8], mut f: impl FnMut(usize, Opcode)) -> Result<(), Corrupt> {
    let mut p = HDR;
    let mut idx = 0usize;
    while p < b.len() {
        let op = Opcode::at(b, p);
        if let Opcode::Val { len, .. } = op
            && idx + len > REGISTERS
        {
            return Err(Corrupt);
        }
        f(idx, op);
        idx += op.span();
        p += op.size();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// The dense form of the sparse HLL `b` (header copied, encoding set to dense).
pub fn sparse_to_dense(b: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut d = vec![0u8; DENSE_SIZE];
    d[..HDR].copy_from_slice(&b[..HDR]);
    d[4] = DENSE;
    let regs = &mut d[HDR..];
    walk_sparse(b, |first, op| {
        if let Opcode::Val { value, len } = op {
            for i in first..first + len {
                dense_set(regs, i, value);
            }
        }
    })?;
    Ok(d)
}

/// Redis's hllSparseSet: raises register `index` to `count` in the sparse HLL `v`,
/// splitting and merging opcodes as Redis does, or converts `v` to dense when the value
/// does not fit a VAL opcode or the string would pass `max_bytes`. True when it changed.
pub fn sparse_set(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: i64,
) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    // Step 1: the opcode covering `index`.
    let (mut p, mut first, mut prev) = (HDR, 0usize, None);
    let mut found = None;
    while p < v.len() {
        let op = Opcode::at(v, p);
        if index < first + op.span() {
            found = Some(op);
            break;
        }
        prev = Some(p);
        p += op.size();
        first += op.span();
    }
    let Some(op) = found else {
        return Err(Corrupt);
    };
    let span = op.span();
    let last = first + span - 1;
    // Step 2: the trivial cases, then the general split.
    let mut seq: Vec<u8> = Vec::with_capacity(5);
    match op {
        Opcode::Val { value, .. } if value >= count => return Ok(false),
        Opcode::Val { len: 1, .. }
        | Opcode::Zero {
            len: 1,
            xzero: false,
        } => {
            v[p] = val_byte(count, 1);
        }
        Opcode::Zero { xzero, .. } => {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
            let old = if xzero { 2 } else { 1 };
            if seq.len() > old && (v.len() + seq.len() - old) as i64 > max_bytes {
                return promote(v, index, count);
            }
            v.splice(p..p + old, seq.iter().copied());
        }
        Opcode::Val { value, .. } => {
            if index != first {
                seq.push(val_byte(value, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(value, last - index));
            }
            if seq.len() > 1 && (v.len() + seq.len() - 1) as i64 > max_bytes {
                return promote(v, index, count);
            }
            v.splice(p..p + 1, seq.iter().copied());
        }
    }
    // Step 4: merge adjacent VAL opcodes of equal value, scanning up to 5 opcodes from
    // the previous one.
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < v.len() && scan > 0 {
        scan -= 1;
        match Opcode::at(v, p) {
            Opcode::Zero { xzero, .. } => {
                p += if xzero { 2 } else { 1 };
                continue;
            }
            Opcode::Val { value, len } => {
                if p + 1 < v.len()
                    && let Opcode::Val {
                        value: v2,
                        len: len2,
                    } = Opcode::at(v, p + 1)
                    && value == v2
                    && len + len2 <= VAL_MAX_LEN
                {
                    v[p + 1] = val_byte(value, len + len2);
                    v.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate(v);
    Ok(true)
}

/// Converts to dense and sets the register there (Redis's `promote:` path).
fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    *v = sparse_to_dense(v)?;
    dense_raise(&mut v[HDR..], index, count);
    Ok(true)
}

/// Adds `ele` to the HLL `v` (either encoding); true when a register changed. The cache
/// is not touched here (PFADD invalidates it once).
pub fn add(v: &mut Vec<u8>, ele: &[u8], max_bytes: i64) -> Result<bool, Corrupt> {
    let (index, count) = pat_len(ele);
    match v[4] {
        DENSE => Ok(dense_raise(&mut v[HDR..], index, count)),
        _ => sparse_set(v, index, count, max_bytes),
    }
}

/// Register value histogram of an HLL string; Err when a sparse HLL does not cover
/// exactly every register.
fn histogram(b: &[u8]) -> Result<[u32; 64], Corrupt> {
    let mut h = [0u32; 64];
    if b[4] == DENSE {
        dense_each(&b[HDR..], |_, r| h[r as usize] += 1);
        return Ok(h);
    }
    // Redis's hllSparseRegHisto does not stop at an overflowing run; it only checks the
    // total at the end.
    let (mut p, mut idx) = (HDR, 0usize);
    while p < b.len() {
        let op = Opcode::at(b, p);
        match op {
            Opcode::Zero { len, .. } => h[0] += len as u32,
            Opcode::Val { value, len } => h[value as usize] += len as u32,
        }
        idx += op.span();
        p += op.size();
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(h)
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0f64, x);
    loop {
        x *= x;
        let zp = z;
        z += x * y;
        y += y;
        if zp == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0f64, 1.0 - x);
    loop {
        x = x.sqrt();
        let zp = z;
        y *= 0.5;
        // libm's pow, as Redis calls it, so the last bit agrees.
        z -= (1.0 - x).powf(2.0) * y;
        if zp == z {
            return z / 3.0;
        }
    }
}

/// Redis's hllCount over a register histogram.
fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    (ALPHA_INF * m * m / z).round() as u64
}

/// The estimated cardinality of one HLL string (ignores the cache).
pub fn count(b: &[u8]) -> Result<u64, Corrupt> {
    Ok(estimate(&histogram(b)?))
}

/// The estimated cardinality of raw registers (one byte each, PFCOUNT of several keys).
pub fn count_raw(regs: &[u8; REGISTERS]) -> u64 {
    let mut h = [0u32; 64];
    for &r in regs {
        h[r as usize] += 1;
    }
    estimate(&h)
}

/// Raises `max[i]` to each register of the HLL string `b` (hllMerge).
pub fn merge_into(max: &mut [u8; REGISTERS], b: &[u8]) -> Result<(), Corrupt> {
    if b[4] == DENSE {
        dense_each(&b[HDR..], |i, r| max[i] = max[i].max(r));
        return Ok(());
    }
    walk_sparse(b, |first, op| {
        if let Opcode::Val { value, len } = op {
            for m in &mut max[first..first + len] {
                *m = (*m).max(value);
            }
        }
    })
}

/// PFDEBUG DECODE's text for a sparse HLL: `z:N`, `Z:N`, `v:value,len`, space-separated.
pub fn decode(b: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = HDR;
    while p < b.len() {
        let op = Opcode::at(b, p);
        out.push(match op {
            Opcode::Zero { len, xzero: false } => format!("z:{len}"),
            Opcode::Zero { len, xzero: true } => format!("Z:{len}"),
            Opcode::Val { value, len } => format!("v:{value},{len}"),
        });
        p += op.size();
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_known_values() {
        // MurmurHash64A reference: empty input with seed 0 hashes to 0.
        assert_eq!(murmur64a(b"", 0), 0);
        assert_ne!(murmur64a(b"a", 0xadc83b19), murmur64a(b"b", 0xadc83b19));
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
        // The word-at-a-time walk reads the same registers.
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, ((i * 7 + i / 64) % 64) as u8);
        }
        let mut seen = 0;
        dense_each(&regs, |i, r| {
            assert_eq!(r, dense_get(&regs, i), "register {i}");
            seen += 1;
        });
        assert_eq!(seen, REGISTERS);
    }

    #[test]
    fn sparse_and_dense_count_the_same() {
        let mut s = new_sparse();
        for i in 0..500 {
            add(&mut s, format!("e{i}").as_bytes(), 1 << 20).unwrap();
        }
        assert_eq!(s[4], SPARSE);
        let d = sparse_to_dense(&s).unwrap();
        assert_eq!(count(&s).unwrap(), count(&d).unwrap());
        let n = count(&s).unwrap();
        assert!((480..=520).contains(&n), "{n}");
    }
}
