//! Bitmap commands on strings (Redis's bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD and BITFIELD_RO.
//!
//! Offsets are checked against `proto-max-bulk-len` before anything is allocated, so the
//! largest string a client can make is the one Redis allows (512 MB by default); a string
//! grows in place (`Sds::grow_zero`) as Redis's sdsgrowzero does.

use super::args::Args;
use super::flags::*;
use super::{CmdError, CmdResult, Ctx, KEY1, Spec, err, is, spec};
use crate::server::notify::{GENERIC, STRING, notify};
use crate::server::numbers::parse_i64;
use crate::server::sds::{Mark, Sds};
use crate::server::types::Value;
use bytes::Bytes;

/// The bitmap commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("setbit", 4, WRITE | DENYOOM, KEY1, setbit),
        spec("getbit", 3, READONLY | FAST, KEY1, getbit),
        spec("bitcount", -2, READONLY, KEY1, bitcount),
        spec("bitpos", -3, READONLY, KEY1, bitpos),
        spec("bitop", -4, WRITE | DENYOOM, (2, -1, 1), bitop),
        spec("bitfield", -2, WRITE | DENYOOM, KEY1, bitfield),
        spec("bitfield_ro", -2, READONLY | FAST, KEY1, bitfield_ro),
    ]
}

const BAD_OFFSET: CmdError = CmdError::fixed("ERR bit offset is not an integer or out of range");
const BAD_BIT: CmdError = CmdError::fixed("ERR bit is not an integer or out of range");
const BAD_TYPE: CmdError = CmdError::fixed(
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
);

/// A bit offset argument (getBitOffsetFromArgument): `#n` means `n * bits` when `bits` is
/// given (BITFIELD); refused when negative or at or beyond `proto-max-bulk-len` bytes.
fn bit_offset(ctx: &Ctx, arg: &[u8], bits: Option<u32>) -> Result<u64, CmdError> {
    let (hash, digits) = match (arg.first(), bits) {
        (Some(b'#'), Some(_)) => (true, &arg[1..]),
        _ => (false, arg),
    };
    let mut off = parse_i64(digits).ok_or(BAD_OFFSET)?;
    if hash {
        // C multiplies a long long here; an overflow wraps (and then fails the sign check).
        off = off.wrapping_mul(bits.unwrap_or(1) as i64);
    }
    if off < 0 || (off >> 3) >= ctx.state.config.proto_max_bulk_len {
        return Err(BAD_OFFSET);
    }
    Ok(off as u64)
}

/// The string under `key` for reading (None when absent), WRONGTYPE for other types.
fn read_str<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c Sds>, CmdError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// Redis's lookupStringForBitCommand: the string under `key`, created or zero-padded so
/// that bit `max_bit` exists, as an unshared raw string. Returns it and whether it was
/// created or grew.
fn write_str<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
    max_bit: u64,
) -> Result<(&'c mut Sds, bool), CmdError> {
    let need = (max_bit >> 3) as usize + 1;
    let created = match ctx.lookup_write(key) {
        Some(Value::Str(_)) => false,
        Some(_) => return Err(err::WRONGTYPE),
        None => {
            let mut s = Sds::empty().with_mark(Mark::Raw);
            s.grow_zero(need);
            ctx.db().set(key, Value::Str(s), true);
            true
        }
    };
    let Some(Value::Str(s)) = ctx.state.dbs[ctx.client.db].get_mut(key) else {
        unreachable!("the string was just looked up or created")
    };
    let old = s.len();
    if s.mark() != Mark::Raw {
        *s = std::mem::take(s).with_mark(Mark::Raw);
    }
    s.grow_zero(need);
    let grew = created || s.len() != old;
    Ok((s, grew))
}

fn setbit(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let off = bit_offset(ctx, &args[2], None)?;
    let on = parse_i64(&args[3]).ok_or(BAD_BIT)?;
    if on & !1 != 0 {
        return Err(BAD_BIT);
    }
    let (s, grew) = write_str(ctx, &args[1], off)?;
    let byte = (off >> 3) as usize;
    let mask = 1u8 << (7 - (off & 7));
    let bytes = s.as_mut_bytes();
    let old = bytes[byte] & mask != 0;
    let changed = grew || old != (on == 1);
    if changed {
        if on == 1 {
            bytes[byte] |= mask;
        } else {
            bytes[byte] &= !mask;
        }
        ctx.modified(&args[1], 1);
        notify(ctx, STRING, "setbit", &args[1]);
    }
    ctx.out.int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let off = bit_offset(ctx, &args[2], None)?;
    let bit = match read_str(ctx, &args[1])? {
        Some(s) => bit_at(s, off),
        None => false,
    };
    ctx.out.int(bit as i64);
    Ok(())
}

/// Bit `off` of `s` (0 beyond its end), most significant bit first.
fn bit_at(s: &[u8], off: u64) -> bool {
    let byte = (off >> 3) as usize;
    byte < s.len() && s[byte] & (1 << (7 - (off & 7))) != 0
}

/// Counts set bits.
fn popcount(b: &[u8]) -> u64 {
    let (chunks, tail) = b.split_at(b.len() / 8 * 8);
    let mut n: u64 = chunks
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()).count_ones() as u64)
        .sum();
    n += tail.iter().map(|x| x.count_ones() as u64).sum::<u64>();
    n
}

/// A BYTE|BIT range resolved as Redis does: byte bounds and the masks of the bits of the
/// first and last bytes that are outside a BIT range.
struct Span {
    start: i64,
    end: i64,
    first_out: u8,
    last_out: u8,
}

/// Resolves `start..=end` (negative from the end) over a string of `len` bytes, in bits
/// when `bits`.
fn span(mut start: i64, mut end: i64, len: usize, bits: bool) -> Span {
    let total = if bits { (len as i64) << 3 } else { len as i64 };
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    let (mut first_out, mut last_out) = (0u8, 0u8);
    if bits && start <= end {
        first_out = !((1u16 << (8 - (start & 7))) - 1) as u8;
        last_out = ((1u16 << (7 - (end & 7))) - 1) as u8;
        start >>= 3;
        end >>= 3;
    }
    Span {
        start,
        end,
        first_out,
        last_out,
    }
}

/// BYTE or BIT (`ERR syntax error` otherwise): true for BIT.
fn unit_arg(a: &[u8]) -> Result<bool, CmdError> {
    if is(a, "bit") {
        Ok(true)
    } else if is(a, "byte") {
        Ok(false)
    } else {
        Err(err::SYNTAX)
    }
}

fn bitcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis 7.0 looks the key up before it reads the range: a missing key counts 0 whatever
    // follows.
    let Some(s) = read_str(ctx, &args[1])? else {
        ctx.out.int(0);
        return Ok(());
    };
    let sp = match args.len() {
        2 => span(0, -1, s.len(), false),
        4 | 5 => {
            let start = super::arg_i64(&args[2])?;
            let end = super::arg_i64(&args[3])?;
            if start < 0 && end < 0 && start > end {
                ctx.out.int(0);
                return Ok(());
            }
            let bits = match args.get(4) {
                Some(a) => unit_arg(a)?,
                None => false,
            };
            span(start, end, s.len(), bits)
        }
        _ => return Err(err::SYNTAX),
    };
    let n = if sp.start > sp.end {
        0
    } else {
        let (a, b) = (sp.start as usize, sp.end as usize);
        let mut n = popcount(&s[a..=b]);
        n -= (s[a] & sp.first_out).count_ones() as u64;
        n -= (s[b] & sp.last_out).count_ones() as u64;
        n
    };
    ctx.out.int(n as i64);
    Ok(())
}

/// Redis's redisBitpos: the position of the first `bit` in `b`; for a clear bit not
/// found, the bit just past the end; for a set bit not found, -1.
fn first_bit(b: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0u8 } else { 0xff };
    match b.iter().position(|&x| x != skip) {
        Some(i) => {
            let x = if bit { b[i] } else { !b[i] };
            (i as i64) * 8 + x.leading_zeros() as i64
        }
        None if bit => -1,
        None => (b.len() as i64) * 8,
    }
}

fn bitpos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let bit = super::arg_i64(&args[2])?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::fixed("ERR The bit argument must be 1 or 0."));
    }
    let bit = bit == 1;
    let Some(s) = read_str(ctx, &args[1])? else {
        ctx.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let (sp, end_given) = match args.len() {
        3 => (span(0, -1, s.len(), false), false),
        4..=6 => {
            let start = super::arg_i64(&args[3])?;
            let bits = match args.get(5) {
                Some(a) => unit_arg(a)?,
                None => false,
            };
            let end = match args.get(4) {
                Some(a) => super::arg_i64(a)?,
                None => s.len() as i64 - 1,
            };
            (span(start, end, s.len(), bits), args.len() >= 5)
        }
        _ => return Err(err::SYNTAX),
    };
    if sp.start > sp.end {
        ctx.out.int(-1);
        return Ok(());
    }
    let (a, b) = (sp.start as usize, sp.end as usize);
    // The bits outside a BIT range are forced to the opposite of what is searched.
    let mut bytes: Vec<u8> = Vec::new();
    let window: &[u8] = if sp.first_out == 0 && sp.last_out == 0 {
        &s[a..=b]
    } else {
        bytes.extend_from_slice(&s[a..=b]);
        let n = bytes.len();
        let fix = |x: u8, out: u8| if bit { x & !out } else { x | out };
        bytes[0] = fix(bytes[0], sp.first_out);
        bytes[n - 1] = fix(bytes[n - 1], sp.last_out);
        &bytes
    };
    let pos = first_bit(window, bit);
    // With an explicit end, a clear bit is searched inside the range only.
    let past_end = end_given && !bit && pos == (window.len() as i64) * 8;
    let reply = if past_end || pos == -1 {
        -1
    } else {
        pos + (a as i64) * 8
    };
    ctx.out.int(reply);
    Ok(())
}

/// The four BITOP operations.
#[derive(Clone, Copy, PartialEq)]
enum Op {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let op = match &args[1] {
        a if is(a, "and") => Op::And,
        a if is(a, "or") => Op::Or,
        a if is(a, "xor") => Op::Xor,
        a if is(a, "not") => Op::Not,
        _ => return Err(err::SYNTAX),
    };
    if op == Op::Not && args.len() != 4 {
        return Err(CmdError::fixed(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let mut srcs: Vec<Option<Sds>> = Vec::with_capacity(args.len() - 3);
    for key in &args[3..] {
        srcs.push(read_str(ctx, key)?.cloned());
    }
    let maxlen = srcs.iter().flatten().map(|s| s.len()).max().unwrap_or(0);
    let dest = &args[2];
    if maxlen == 0 {
        if ctx.db().remove(dest).is_some() {
            ctx.modified(dest, 1);
            notify(ctx, GENERIC, "del", dest);
        }
        ctx.out.int(0);
        return Ok(());
    }
    let byte = |i: usize, j: usize| -> u8 {
        match &srcs[i] {
            Some(s) => s.get(j).copied().unwrap_or(0),
            None => 0,
        }
    };
    let mut res = vec![0u8; maxlen];
    for (j, r) in res.iter_mut().enumerate() {
        let mut out = byte(0, j);
        if op == Op::Not {
            out = !out;
        }
        for i in 1..srcs.len() {
            let x = byte(i, j);
            match op {
                Op::And => out &= x,
                Op::Or => out |= x,
                Op::Xor => out ^= x,
                Op::Not => {}
            }
        }
        *r = out;
    }
    ctx.db().set(
        dest,
        Value::Str(Sds::from_vec(res).with_mark(Mark::Raw)),
        false,
    );
    ctx.modified(dest, 1);
    notify(ctx, STRING, "set", dest);
    ctx.out.int(maxlen as i64);
    Ok(())
}

/// What happens when a BITFIELD write leaves the integer's range.
#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// One BITFIELD operation.
#[derive(Clone, Copy)]
struct FieldOp {
    /// GET, SET or INCRBY.
    kind: FieldKind,
    signed: bool,
    bits: u32,
    offset: u64,
    /// SET's value or INCRBY's increment.
    value: i64,
    overflow: Overflow,
}

#[derive(Clone, Copy, PartialEq)]
enum FieldKind {
    Get,
    Set,
    Incr,
}

/// A bitfield type: `i1`..`i64` or `u1`..`u63`.
fn field_type(a: &[u8]) -> Result<(bool, u32), CmdError> {
    let signed = match a.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(BAD_TYPE),
    };
    let bits = parse_i64(&a[1..]).ok_or(BAD_TYPE)?;
    if bits < 1 || bits > if signed { 64 } else { 63 } {
        return Err(BAD_TYPE);
    }
    Ok((signed, bits as u32))
}

/// Parses BITFIELD's operations, in Redis's order of checks.
fn field_ops(ctx: &Ctx, args: &[Bytes]) -> Result<Vec<FieldOp>, CmdError> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut a = Args::new(args, 2);
    while let Some(sub) = a.take() {
        let left = a.remaining();
        let kind = if is(sub, "get") && left >= 2 {
            FieldKind::Get
        } else if is(sub, "set") && left >= 3 {
            FieldKind::Set
        } else if is(sub, "incrby") && left >= 3 {
            FieldKind::Incr
        } else if is(sub, "overflow") && left >= 1 {
            let t = a.next_bytes()?;
            overflow = if is(t, "wrap") {
                Overflow::Wrap
            } else if is(t, "sat") {
                Overflow::Sat
            } else if is(t, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::fixed("ERR Invalid OVERFLOW type specified"));
            };
            continue;
        } else {
            return Err(err::SYNTAX);
        };
        let (signed, bits) = field_type(a.next_bytes()?)?;
        let offset = bit_offset(ctx, a.next_bytes()?, Some(bits))?;
        let value = if kind == FieldKind::Get {
            0
        } else {
            a.next_i64()?
        };
        ops.push(FieldOp {
            kind,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
    }
    Ok(ops)
}

/// Reads `bits` bits at bit `off` as an unsigned integer (bits beyond `p` read as 0).
fn get_unsigned(p: &[u8], off: u64, bits: u32) -> u64 {
    (0..bits as u64).fold(0u64, |v, i| (v << 1) | bit_at(p, off + i) as u64)
}

/// Reads `bits` bits at bit `off` as a two's complement integer.
fn get_signed(p: &[u8], off: u64, bits: u32) -> i64 {
    let v = get_unsigned(p, off, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `v` at bit `off` (inside `p`).
fn set_bits(p: &mut [u8], off: u64, bits: u32, v: u64) {
    for i in 0..bits as u64 {
        let on = (v >> (bits as u64 - 1 - i)) & 1 == 1;
        let o = off + i;
        let mask = 1u8 << (7 - (o & 7));
        let b = &mut p[(o >> 3) as usize];
        if on {
            *b |= mask;
        } else {
            *b &= !mask;
        }
    }
}

/// Redis's checkUnsignedBitfieldOverflow: (overflowed, the value to store instead).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (bool, u64) {
    let max = (1u64 << bits) - 1;
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = (value as i64).wrapping_neg();
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX << bits);
    if value > max || (incr > 0 && incr > maxincr) {
        (true, if ow == Overflow::Wrap { wrap() } else { max })
    } else if incr < 0 && incr < minincr {
        (true, if ow == Overflow::Wrap { wrap() } else { 0 })
    } else {
        (false, 0)
    }
}

/// Redis's checkSignedBitfieldOverflow: (overflowed, the value to store instead).
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (bool, i64) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    let wide = bits == 64;
    if value > max || (!wide && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        (true, if ow == Overflow::Wrap { wrap() } else { max })
    } else if value < min || (!wide && incr < minincr) || (value < 0 && incr < 0 && incr < minincr)
    {
        (true, if ow == Overflow::Wrap { wrap() } else { min })
    } else {
        (false, 0)
    }
}

/// Applies a SET or INCRBY: the reply (None for an OVERFLOW FAIL) and whether it changed
/// the bits.
fn apply_write(p: &mut [u8], op: &FieldOp) -> (Option<i64>, bool) {
    let incr = op.kind == FieldKind::Incr;
    if op.signed {
        let old = get_signed(p, op.offset, op.bits);
        let (over, wrapped) = if incr {
            signed_overflow(old, op.value, op.bits, op.overflow)
        } else {
            signed_overflow(op.value, 0, op.bits, op.overflow)
        };
        let base = if incr {
            old.wrapping_add(op.value)
        } else {
            op.value
        };
        let new = if over { wrapped } else { base };
        if over && op.overflow == Overflow::Fail {
            return (None, false);
        }
        set_bits(p, op.offset, op.bits, new as u64);
        (Some(if incr { new } else { old }), old != new)
    } else {
        let old = get_unsigned(p, op.offset, op.bits);
        let (over, wrapped) = if incr {
            unsigned_overflow(old, op.value, op.bits, op.overflow)
        } else {
            unsigned_overflow(op.value as u64, 0, op.bits, op.overflow)
        };
        let base = if incr {
            old.wrapping_add(op.value as u64)
        } else {
            op.value as u64
        };
        let new = if over { wrapped } else { base };
        if over && op.overflow == Overflow::Fail {
            return (None, false);
        }
        set_bits(p, op.offset, op.bits, new);
        (Some(if incr { new as i64 } else { old as i64 }), old != new)
    }
}

/// Reads a GET operation's value.
fn apply_get(p: &[u8], op: &FieldOp) -> i64 {
    if op.signed {
        get_signed(p, op.offset, op.bits)
    } else {
        get_unsigned(p, op.offset, op.bits) as i64
    }
}

fn bitfield_generic(ctx: &mut Ctx, args: &[Bytes], ro: bool) -> CmdResult {
    let ops = field_ops(ctx, args)?;
    let key = &args[1];
    let highest = ops
        .iter()
        .filter(|o| o.kind != FieldKind::Get)
        .map(|o| o.offset + o.bits as u64 - 1)
        .max();
    let Some(highest) = highest else {
        // Only GETs: a read.
        let s = read_str(ctx, key)?.cloned().unwrap_or_default();
        ctx.out.array(ops.len());
        for op in &ops {
            ctx.out.int(apply_get(&s, op));
        }
        return Ok(());
    };
    if ro {
        return Err(CmdError::fixed(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let (s, grew) = write_str(ctx, key, highest)?;
    let p = s.as_mut_bytes();
    let mut replies = Vec::with_capacity(ops.len());
    let mut changes = 0u64;
    for op in &ops {
        if op.kind == FieldKind::Get {
            replies.push(Some(apply_get(p, op)));
            continue;
        }
        let (reply, changed) = apply_write(p, op);
        if reply.is_some() && (grew || changed) {
            changes += 1;
        }
        replies.push(reply);
    }
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(n) => ctx.out.int(n),
            None => ctx.out.null(),
        }
    }
    if changes > 0 {
        ctx.modified(key, changes);
        notify(ctx, STRING, "setbit", key);
    }
    Ok(())
}

fn bitfield(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}
