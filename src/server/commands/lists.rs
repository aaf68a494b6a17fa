//! List commands.

use super::args::{MpopArgs, mpop_args, positive_long, timeout_arg};
use super::blocking::{block_or_timeout, may_serve};
use super::flags::*;
use super::{CmdError, CmdResult, Ctx, KEY1, NO_KEYS, Spec, arg_i64, err, is, spec};
use crate::server::notify::{LIST, notify, notify_if_deleted};
use crate::server::sds::Sds;
use crate::server::types::{List, Value};
use bytes::Bytes;

/// The list commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("lpush", -3, WRITE | DENYOOM | FAST, KEY1, lpush),
        spec("rpush", -3, WRITE | DENYOOM | FAST, KEY1, rpush),
        spec("lpushx", -3, WRITE | DENYOOM | FAST, KEY1, lpushx),
        spec("rpushx", -3, WRITE | DENYOOM | FAST, KEY1, rpushx),
        spec("lpop", -2, WRITE | FAST, KEY1, lpop),
        spec("rpop", -2, WRITE | FAST, KEY1, rpop),
        spec("llen", 2, READONLY | FAST, KEY1, llen),
        spec("lrange", 4, READONLY, KEY1, lrange),
        spec("lindex", 3, READONLY, KEY1, lindex),
        spec("lset", 4, WRITE | DENYOOM, KEY1, lset),
        spec("linsert", 5, WRITE | DENYOOM, KEY1, linsert),
        spec("lrem", 4, WRITE, KEY1, lrem),
        spec("ltrim", 4, WRITE, KEY1, ltrim),
        spec("lpos", -3, READONLY, KEY1, lpos),
        spec("lmove", 5, WRITE | DENYOOM, (1, 2, 1), lmove),
        spec("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), rpoplpush),
        spec("lmpop", -4, WRITE, NO_KEYS, lmpop),
        spec("blpop", -3, WRITE | BLOCKING, (1, -2, 1), blpop),
        spec("brpop", -3, WRITE | BLOCKING, (1, -2, 1), brpop),
        spec("blmove", 6, WRITE | DENYOOM | BLOCKING, (1, 2, 1), blmove),
        spec(
            "brpoplpush",
            4,
            WRITE | DENYOOM | BLOCKING,
            (1, 2, 1),
            brpoplpush,
        ),
        spec("blmpop", -5, WRITE | BLOCKING, NO_KEYS, blmpop),
    ]
}

fn read_list<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut List>, CmdError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn write_list<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut List>, CmdError> {
    match ctx.lookup_write(key) {
        None => Ok(None),
        Some(Value::List(l)) => Ok(Some(l)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// Deletes `key` when its list became empty, and records the change.
fn after_write(ctx: &mut Ctx, key: &[u8], empty: bool, n: u64) {
    if empty {
        ctx.db().remove(key);
    }
    ctx.modified(key, n);
}

fn push_generic(ctx: &mut Ctx, args: &[Bytes], left: bool, only_existing: bool) -> CmdResult {
    let key = &args[1];
    let l = match write_list(ctx, key)? {
        Some(l) => l,
        None if only_existing => {
            ctx.out.int(0);
            return Ok(());
        }
        None => {
            ctx.db().set(key, Value::List(Box::default()), false);
            match ctx.db().get_mut(key) {
                Some(Value::List(l)) => l,
                _ => unreachable!(),
            }
        }
    };
    for e in &args[2..] {
        if left {
            l.push_front(e);
        } else {
            l.push_back(e);
        }
    }
    let n = l.len();
    ctx.modified(key, (args.len() - 2) as u64);
    notify(ctx, LIST, if left { "lpush" } else { "rpush" }, key);
    ctx.out.int(n as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, true, false)
}
fn rpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, false, false)
}
fn lpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, true, true)
}
fn rpushx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    push_generic(ctx, args, false, true)
}

/// Pops up to `n` elements from one end of the list under `key` (which must be a list),
/// fires `lpop`/`rpop`, and deletes the list (`del`) when it became empty.
fn pop_n(ctx: &mut Ctx, key: &[u8], left: bool, n: usize) -> Vec<Sds> {
    let (out, empty) = pop_raw(ctx, key, left, n);
    if !out.is_empty() {
        after_pop(ctx, key, left, empty, out.len());
    }
    out
}

/// Pops up to `n` elements; returns them and whether the list is now empty (not deleted).
fn pop_raw(ctx: &mut Ctx, key: &[u8], left: bool, n: usize) -> (Vec<Sds>, bool) {
    let Some(Value::List(l)) = ctx.db().get_mut(key) else {
        return (Vec::new(), false);
    };
    let mut out = Vec::with_capacity(n.min(l.len()));
    for _ in 0..n {
        match if left { l.pop_front() } else { l.pop_back() } {
            Some(e) => out.push(e),
            None => break,
        }
    }
    (out, l.is_empty())
}

/// After `n` elements were popped: the event, then the deletion of an emptied list.
fn after_pop(ctx: &mut Ctx, key: &[u8], left: bool, empty: bool, n: usize) {
    notify(ctx, LIST, if left { "lpop" } else { "rpop" }, key);
    after_write(ctx, key, empty, n as u64);
    notify_if_deleted(ctx, key);
}

fn pop_generic(ctx: &mut Ctx, args: &[Bytes], left: bool) -> CmdResult {
    let name = if left { "lpop" } else { "rpop" };
    if args.len() > 3 {
        return Err(super::arity_error(name));
    }
    let count = if args.len() == 3 {
        Some(positive_long(&args[2], None)?)
    } else {
        None
    };
    let key = &args[1];
    if write_list(ctx, key)?.is_none() {
        if count.is_some() {
            ctx.out.null_array()
        } else {
            ctx.out.null()
        }
        return Ok(());
    }
    match count {
        None => {
            let e = pop_n(ctx, key, left, 1);
            ctx.out.bulk(&e[0]);
        }
        Some(c) => {
            let es = pop_n(ctx, key, left, c as usize);
            ctx.out.array(es.len());
            for e in es {
                ctx.out.bulk(&e);
            }
        }
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop_generic(ctx, args, true)
}
fn rpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    pop_generic(ctx, args, false)
}

fn llen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_list(ctx, &args[1])?.map_or(0, |l| l.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// Redis's range normalisation (LRANGE/LTRIM): None when the range is empty.
fn norm_range(start: i64, end: i64, len: i64) -> Option<(usize, usize)> {
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

fn lrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let end = arg_i64(&args[3])?;
    let range = match read_list(ctx, &args[1])? {
        None => None,
        Some(l) => norm_range(start, end, l.len() as i64),
    };
    let Some((s, e)) = range else {
        ctx.out.array(0);
        return Ok(());
    };
    // Reply straight from the list (no copy of the range).
    let Some(Value::List(l)) = ctx.state.dbs[ctx.client.db].get(&args[1]) else {
        unreachable!("read_list found a list");
    };
    ctx.out.array(e - s + 1);
    for x in l.iter_from(s).take(e - s + 1) {
        ctx.out.bulk(&x);
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis looks the key up (nil, WRONGTYPE) before it parses the index.
    let e = match read_list(ctx, &args[1])? {
        None => None,
        Some(l) => {
            let idx = arg_i64(&args[2])?;
            let i = if idx < 0 { l.len() as i64 + idx } else { idx };
            if i < 0 {
                None
            } else {
                l.get(i as usize).map(|e| e.to_sds())
            }
        }
    };
    match e {
        Some(e) => ctx.out.bulk(&e),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    // Redis looks the key up (no such key, WRONGTYPE) before it parses the index.
    let l = write_list(ctx, key)?.ok_or(err::NO_KEY)?;
    let idx = arg_i64(&args[2])?;
    let i = if idx < 0 { l.len() as i64 + idx } else { idx };
    if i < 0 || i >= l.len() as i64 {
        return Err(CmdError::fixed("ERR index out of range"));
    }
    l.set(i as usize, &args[3]);
    ctx.modified(key, 1);
    notify(ctx, LIST, "lset", key);
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Err(err::SYNTAX);
    };
    let Some(l) = write_list(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    match l.insert_at_pivot(&args[3], &args[4], after) {
        false => ctx.out.int(-1),
        true => {
            let n = l.len();
            ctx.modified(key, 1);
            notify(ctx, LIST, "linsert", key);
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

fn lrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let count = arg_i64(&args[2])?;
    let Some(l) = write_list(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let target = &args[3][..];
    let removed = l.remove_matching(target, count);
    let empty = l.is_empty();
    if removed > 0 {
        notify(ctx, LIST, "lrem", key);
        after_write(ctx, key, empty, removed as u64);
        notify_if_deleted(ctx, key);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let start = arg_i64(&args[2])?;
    let end = arg_i64(&args[3])?;
    let Some(l) = write_list(ctx, key)? else {
        ctx.out.ok();
        return Ok(());
    };
    let len = l.len();
    let (ltrim, rtrim) = match norm_range(start, end, len as i64) {
        None => (len, 0),
        Some((s, e)) => (s, len - e - 1),
    };
    l.trim(ltrim, rtrim);
    let empty = l.is_empty();
    notify(ctx, LIST, "ltrim", key);
    after_write(ctx, key, empty, (ltrim + rtrim) as u64);
    notify_if_deleted(ctx, key);
    ctx.out.ok();
    Ok(())
}

fn lpos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mut rank, mut count, mut maxlen): (i64, Option<i64>, i64) = (1, None, 0);
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(&args[j], "rank") && more {
            rank = arg_i64(&args[j + 1])?;
            if rank == 0 {
                return Err(CmdError::fixed(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(&args[j], "count") && more {
            count = Some(positive_long(
                &args[j + 1],
                Some("ERR COUNT can't be negative"),
            )?);
        } else if is(&args[j], "maxlen") && more {
            maxlen = positive_long(&args[j + 1], Some("ERR MAXLEN can't be negative"))?;
        } else {
            return Err(err::SYNTAX);
        }
        j += 2;
    }
    let target = &args[2][..];
    let found: Vec<i64> = match read_list(ctx, &args[1])? {
        None => Vec::new(),
        Some(l) => {
            let len = l.len();
            let want = match count {
                None => 1,
                Some(0) => usize::MAX,
                Some(c) => c as usize,
            };
            // Redis negates LONG_MIN into itself, which then matches the first hit.
            let mut skip = if rank == i64::MIN {
                0
            } else {
                rank.unsigned_abs() - 1
            };
            let limit = if maxlen == 0 {
                len
            } else {
                (maxlen as usize).min(len)
            };
            let mut out = Vec::new();
            let mut visit = |step: usize, e: &[u8]| {
                if e == target {
                    if skip > 0 {
                        skip -= 1;
                        return true;
                    }
                    let i = if rank > 0 { step } else { len - 1 - step };
                    out.push(i as i64);
                    if out.len() >= want {
                        return false;
                    }
                }
                true
            };
            if rank > 0 {
                for (step, e) in l.iter().take(limit).enumerate() {
                    if !visit(step, &e) {
                        break;
                    }
                }
            } else {
                for (step, e) in l.iter_rev().take(limit).enumerate() {
                    if !visit(step, &e) {
                        break;
                    }
                }
            }
            out
        }
    };
    match count {
        None => match found.first() {
            Some(&i) => ctx.out.int(i),
            None => ctx.out.null(),
        },
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i);
            }
        }
    }
    Ok(())
}

fn direction(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(err::SYNTAX)
    }
}

fn lmove_generic(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> CmdResult {
    if write_list(ctx, src)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    if let Some(v) = ctx.lookup_write(dst)
        && !matches!(v, Value::List(_))
    {
        return Err(err::WRONGTYPE);
    }
    // As Redis: pop, push (the destination's events), then the source's pop event and
    // its deletion once empty (so `RPOPLPUSH k k` on one element keeps the key).
    let (mut popped, _) = pop_raw(ctx, src, from_left, 1);
    let e = popped.pop().unwrap();
    if !ctx.db().contains(dst) {
        ctx.db().set(dst, Value::List(Box::default()), false);
    }
    if let Some(Value::List(l)) = ctx.db().get_mut(dst) {
        if to_left {
            l.push_front(&e);
        } else {
            l.push_back(&e);
        }
    }
    ctx.modified(dst, 1);
    notify(ctx, LIST, if to_left { "lpush" } else { "rpush" }, dst);
    let empty = matches!(ctx.db().get(src), Some(Value::List(l)) if l.is_empty());
    after_pop(ctx, src, from_left, empty, 1);
    ctx.out.bulk(&e);
    Ok(())
}

fn lmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let from = direction(&args[3])?;
    let to = direction(&args[4])?;
    lmove_generic(ctx, &args[1], &args[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    lmove_generic(ctx, &args[1], &args[2], false, true)
}

fn lmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let p = mpop_args(args, ["left", "right"])?;
    lmpop_serve(ctx, args, p)
}

/// LMPOP once its arguments are parsed: pops from the first non-empty list, or a null array.
fn lmpop_serve(ctx: &mut Ctx, args: &[Bytes], p: MpopArgs) -> CmdResult {
    let MpopArgs {
        where_idx,
        first: left,
        count,
    } = p;
    for key in &args[2..where_idx] {
        if write_list(ctx, key)?.is_some() && may_serve(ctx, key) {
            let es = pop_n(ctx, key, left, count);
            // LMPOP and BLMPOP reach replicas as LPOP/RPOP key count, as in Redis.
            let pop: &[u8] = if left { b"LPOP" } else { b"RPOP" };
            let n = es.len().to_string();
            ctx.propagate_instead(&[pop, key, n.as_bytes()]);
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.array(es.len());
            for e in es {
                ctx.out.bulk(&e);
            }
            return Ok(());
        }
    }
    ctx.out.null_array();
    Ok(())
}

fn bpop_generic(ctx: &mut Ctx, args: &[Bytes], left: bool) -> CmdResult {
    let timeout = timeout_arg(&args[args.len() - 1])?;
    for key in &args[1..args.len() - 1] {
        if write_list(ctx, key)?.is_some() && may_serve(ctx, key) {
            // Redis propagates a served BLPOP/BRPOP as LPOP/RPOP.
            let e = pop_n(ctx, key, left, 1);
            let pop: &[u8] = if left { b"LPOP" } else { b"RPOP" };
            ctx.propagate_instead(&[pop, key]);
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.bulk(&e[0]);
            return Ok(());
        }
    }
    block_or_timeout(ctx, timeout, &args[1..args.len() - 1]);
    Ok(())
}

fn blpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bpop_generic(ctx, args, true)
}
fn brpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bpop_generic(ctx, args, false)
}

fn blmove_generic(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: bool,
    to: bool,
    timeout: i64,
) -> CmdResult {
    if write_list(ctx, src)?.is_some() && may_serve(ctx, src) {
        // Redis propagates a served BLMOVE/BRPOPLPUSH as LMOVE/RPOPLPUSH.
        let side = |left: bool| -> &'static [u8] { if left { b"LEFT" } else { b"RIGHT" } };
        ctx.propagate_instead(&[b"LMOVE".as_slice(), src, dst, side(from), side(to)]);
        return lmove_generic(ctx, src, dst, from, to);
    }
    block_or_timeout(ctx, timeout, &[Bytes::copy_from_slice(src)]);
    Ok(())
}

fn blmove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let from = direction(&args[3])?;
    let to = direction(&args[4])?;
    let timeout = timeout_arg(&args[5])?;
    blmove_generic(ctx, &args[1], &args[2], from, to, timeout)
}

fn brpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let timeout = timeout_arg(&args[3])?;
    blmove_generic(ctx, &args[1], &args[2], false, true, timeout)
}

fn blmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis parses the timeout after the other arguments (blockingGenericCommand).
    let p = mpop_args(&args[1..], ["left", "right"])?;
    let timeout = timeout_arg(&args[1])?;
    let len_before = ctx.out.buf.len();
    lmpop_serve(ctx, &args[1..], p)?;
    // lmpop replied with a null array when nothing was there: block instead.
    let null = if ctx.out.proto == crate::resp::Proto::Resp2 {
        &b"*-1\r\n"[..]
    } else {
        &b"_\r\n"[..]
    };
    if &ctx.out.buf[len_before..] == null {
        ctx.out.buf.truncate(len_before);
        let n = (super::arg_i64(&args[2]).unwrap_or(0) as usize).min(args.len() - 3);
        block_or_timeout(ctx, timeout, &args[3..3 + n]);
    }
    Ok(())
}
