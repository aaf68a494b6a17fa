//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST. The value is a
//! string in Redis's exact format (`hll.rs`), so HLLs move between redrepl and
//! redis-server (replication, DUMP/RESTORE, RDB, plain GET/SET) and count the same.

mod hll;

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, KEY1, Spec, err, is, spec};
use crate::server::notify::{STRING, notify};
use crate::server::sds::{Mark, Sds};
use crate::server::types::Value;
use bytes::Bytes;
use hll::{Corrupt, DENSE, HDR, REGISTERS, SPARSE};

/// The HyperLogLog commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("pfadd", -2, WRITE | DENYOOM | FAST, KEY1, pfadd),
        spec("pfcount", -2, READONLY, (1, -1, 1), pfcount),
        spec("pfmerge", -2, WRITE | DENYOOM, (1, -1, 1), pfmerge),
        spec("pfdebug", 3, WRITE | DENYOOM | ADMIN, (2, 2, 1), pfdebug),
        spec("pfselftest", 1, ADMIN, super::NO_KEYS, pfselftest),
    ]
}

const NOT_HLL: CmdError = CmdError::fixed("WRONGTYPE Key is not a valid HyperLogLog string value.");
const CORRUPT: CmdError = CmdError::fixed("INVALIDOBJ Corrupted HLL object detected");

impl From<Corrupt> for CmdError {
    fn from(_: Corrupt) -> CmdError {
        CORRUPT
    }
}

/// The HLL string under `key` for reading: None when absent; WRONGTYPE for other types
/// and for strings that are not HLLs (isHLLObjectOrReply).
fn read_hll<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c Sds>, CmdError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(Value::Str(s)) if hll::is_hll(s) => Ok(Some(s)),
        Some(Value::Str(_)) => Err(NOT_HLL),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// The HLL string under `key` for writing (checked as [`read_hll`]), unshared: marked raw.
fn write_hll<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Sds>, CmdError> {
    match ctx.lookup_write(key) {
        None => Ok(None),
        Some(Value::Str(s)) if hll::is_hll(s) => {
            if s.mark() != Mark::Raw {
                *s = std::mem::take(s).with_mark(Mark::Raw);
            }
            Ok(Some(s))
        }
        Some(Value::Str(_)) => Err(NOT_HLL),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// Stores an HLL built in a buffer as the raw string value of `key` (TTL kept).
fn store(ctx: &mut Ctx, key: &[u8], v: Vec<u8>) {
    ctx.db()
        .set(key, Value::Str(Sds::from_vec(v).with_mark(Mark::Raw)), true);
}

/// Adds `elems` to `s` in place when dense (no copy of the 12 KB), through a buffer when
/// sparse (it may grow or become dense). Returns how many elements changed a register.
fn add_all(s: &mut Sds, elems: &[Bytes], max_bytes: i64) -> Result<(Vec<u8>, u64), Corrupt> {
    let mut v = Vec::new();
    let mut updated = 0;
    let mut iter = elems.iter();
    if s[4] == DENSE {
        let regs = &mut s.as_mut_bytes()[HDR..];
        for e in iter.by_ref() {
            let (i, c) = hll::pat_len(e);
            updated += hll::dense_raise(regs, i, c) as u64;
        }
        return Ok((v, updated));
    }
    v.extend_from_slice(s);
    for e in iter {
        updated += hll::add(&mut v, e, max_bytes)? as u64;
    }
    Ok((v, updated))
}

fn pfadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let max_bytes = ctx.state.config.hll_sparse_max_bytes;
    let mut updated = 0u64;
    if write_hll(ctx, key)?.is_none() {
        store(ctx, key, hll::new_sparse());
        updated += 1;
    }
    let Some(Value::Str(s)) = ctx.state.dbs[ctx.client.db].get_mut(key) else {
        unreachable!("the HLL was just looked up or created")
    };
    let sparse = s[4] == SPARSE;
    let (v, n) = add_all(s, &args[2..], max_bytes)?;
    updated += n;
    if sparse && n > 0 {
        *s = Sds::from_vec(v).with_mark(Mark::Raw);
    }
    if updated > 0 {
        hll::invalidate(s.as_mut_bytes());
        ctx.modified(key, updated);
        notify(ctx, STRING, "pfadd", key);
    }
    ctx.out.int((updated > 0) as i64);
    Ok(())
}

fn pfcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        let mut max = Box::new([0u8; REGISTERS]);
        for key in &args[1..] {
            if let Some(s) = read_hll(ctx, key)? {
                hll::merge_into(&mut max, s)?;
            }
        }
        ctx.out.int(hll::count_raw(&max) as i64);
        return Ok(());
    }
    let key = &args[1];
    let Some(s) = read_hll(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    if let Some(card) = hll::cached(s) {
        ctx.out.int(card as i64);
        return Ok(());
    }
    let card = hll::count(s)?;
    let Some(s) = write_hll(ctx, key)? else {
        unreachable!("the HLL was just read")
    };
    hll::set_cache(s.as_mut_bytes(), card);
    ctx.modified(key, 1);
    // PFCOUNT is not a write command, but the cache it refreshed is part of the string:
    // Redis propagates it (server.dirty moved) so replicas hold the same bytes.
    if !ctx.client.is_master && ctx.state.config.replicaof.is_none() {
        let db = ctx.client.db;
        ctx.state.propagate(db, args);
    }
    ctx.out.int(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut max = Box::new([0u8; REGISTERS]);
    let mut dense = false;
    for key in &args[1..] {
        if let Some(s) = read_hll(ctx, key)? {
            dense |= s[4] == DENSE;
            hll::merge_into(&mut max, s)?;
        }
    }
    let key = &args[1];
    let max_bytes = ctx.state.config.hll_sparse_max_bytes;
    let mut v = match write_hll(ctx, key)? {
        Some(s) => s.to_vec(),
        None => hll::new_sparse(),
    };
    if dense && v[4] == SPARSE {
        v = hll::sparse_to_dense(&v)?;
    }
    for (i, &m) in max.iter().enumerate() {
        if m == 0 {
            continue;
        }
        if v[4] == DENSE {
            hll::dense_raise(&mut v[HDR..], i, m);
        } else {
            // Redis ignores a failure here (the destination was checked above).
            let _ = hll::sparse_set(&mut v, i, m, max_bytes);
        }
    }
    hll::invalidate(&mut v);
    store(ctx, key, v);
    ctx.modified(key, 1);
    notify(ctx, STRING, "pfadd", key);
    ctx.out.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let key = &args[2];
    let Some(s) = write_hll(ctx, key)? else {
        return Err(CmdError::fixed("ERR The specified key does not exist"));
    };
    let sparse = s[4] == SPARSE;
    if is(sub, "getreg") {
        if sparse {
            let d = hll::sparse_to_dense(s)?;
            *s = Sds::from_vec(d).with_mark(Mark::Raw);
        }
        let regs = s[HDR..].to_vec();
        if sparse {
            // Redis forces propagation of the encoding change.
            ctx.state.dirty += 1;
        }
        ctx.out.array(REGISTERS);
        for i in 0..REGISTERS {
            ctx.out.int(hll::dense_get(&regs, i) as i64);
        }
    } else if is(sub, "decode") {
        if !sparse {
            return Err(CmdError::fixed("ERR HLL encoding is not sparse"));
        }
        let text = hll::decode(s);
        ctx.out.bulk(text.as_bytes());
    } else if is(sub, "encoding") {
        ctx.out.simple(if sparse { "sparse" } else { "dense" });
    } else if is(sub, "todense") {
        if sparse {
            let d = hll::sparse_to_dense(s)?;
            *s = Sds::from_vec(d).with_mark(Mark::Raw);
            ctx.state.dirty += 1;
        }
        ctx.out.int(sparse as i64);
    } else {
        return Err(CmdError::msg(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            super::c_str(sub)
        )));
    }
    Ok(())
}

/// PFSELFTEST: checks the register encoding and that sparse and dense HLLs of the same
/// elements count the same and stay near the true cardinality, as Redis's self test does.
fn pfselftest(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let mut regs = vec![0u8; hll::DENSE_SIZE - HDR];
    for i in 0..REGISTERS {
        hll::dense_set(&mut regs, i, (i * 7 % 64) as u8);
    }
    if (0..REGISTERS).any(|i| hll::dense_get(&regs, i) != (i * 7 % 64) as u8) {
        return Err(CmdError::fixed("ERR TESTFAILED Register error at index"));
    }
    let mut sparse = hll::new_sparse();
    let mut dense = hll::sparse_to_dense(&sparse)?;
    let mut seed = ctx.state.next_random();
    for n in 1..=10_000u64 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let ele = seed.to_le_bytes();
        hll::add(&mut sparse, &ele, i64::MAX)?;
        hll::add(&mut dense, &ele, i64::MAX)?;
        if n % 1000 == 0 {
            let (a, b) = (hll::count(&sparse)?, hll::count(&dense)?);
            let err = (a as f64 - n as f64).abs() / n as f64;
            if a != b || err > 5.0 * 1.04 / (REGISTERS as f64).sqrt() {
                return Err(CmdError::msg(format!(
                    "ERR TESTFAILED Too big error. card:{n} abserr:{}",
                    (a as f64 - n as f64).abs()
                )));
            }
        }
    }
    ctx.out.ok();
    Ok(())
}
