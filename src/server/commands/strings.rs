//! String commands: GET, SET and friends, counters, ranges.

use super::args::Args;
use super::flags::*;
use super::{CmdError, CmdResult, Ctx, KEY1, Spec, arg_i64, err, is, spec};
use crate::server::longdouble;
use crate::server::notify::{GENERIC, STRING, notify};
use crate::server::numbers::parse_i64;
use crate::server::sds::{Mark, Sds};
use crate::server::types::Value;
use bytes::Bytes;

/// The string commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("get", 2, READONLY | FAST, KEY1, get),
        spec("set", -3, WRITE | DENYOOM, KEY1, set),
        spec("setnx", 3, WRITE | DENYOOM | FAST, KEY1, setnx),
        spec("setex", 4, WRITE | DENYOOM, KEY1, setex),
        spec("psetex", 4, WRITE | DENYOOM, KEY1, psetex),
        spec("mget", -2, READONLY | FAST, (1, -1, 1), mget),
        spec("mset", -3, WRITE | DENYOOM, (1, -1, 2), mset),
        spec("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), msetnx),
        spec("getset", 3, WRITE | DENYOOM | FAST, KEY1, getset),
        spec("getdel", 2, WRITE | FAST, KEY1, getdel),
        spec("getex", -2, WRITE | FAST, KEY1, getex),
        spec("append", 3, WRITE | DENYOOM | FAST, KEY1, append),
        spec("strlen", 2, READONLY | FAST, KEY1, strlen),
        spec("incr", 2, WRITE | DENYOOM | FAST, KEY1, incr),
        spec("decr", 2, WRITE | DENYOOM | FAST, KEY1, decr),
        spec("incrby", 3, WRITE | DENYOOM | FAST, KEY1, incrby),
        spec("decrby", 3, WRITE | DENYOOM | FAST, KEY1, decrby),
        spec("incrbyfloat", 3, WRITE | DENYOOM | FAST, KEY1, incrbyfloat),
        spec("getrange", 4, READONLY, KEY1, getrange),
        spec("substr", 4, READONLY, KEY1, getrange),
        spec("setrange", 4, WRITE | DENYOOM, KEY1, setrange),
    ]
}

const TOO_BIG: CmdError =
    CmdError::fixed("ERR string exceeds maximum allowed size (proto-max-bulk-len)");

/// The string under `key` for reading: None if absent, WRONGTYPE if not a string.
fn read_str<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c Sds>, CmdError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match read_str(ctx, &args[1])? {
        Some(s) => {
            let s = s.clone();
            ctx.out.bulk(&s)
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// Converts an expire argument to absolute unix ms. `unit_ms` is 1000 for seconds;
/// `absolute` for EXAT/PXAT. Errors use Redis's "invalid expire time in '<cmd>'".
pub fn expire_arg(
    arg: &[u8],
    unit_ms: i64,
    absolute: bool,
    now_ms: i64,
    cmd: &str,
) -> Result<i64, CmdError> {
    let invalid = || CmdError::msg(format!("ERR invalid expire time in '{cmd}' command"));
    let v = arg_i64(arg)?;
    if v <= 0 {
        return Err(invalid());
    }
    let ms = v.checked_mul(unit_ms).ok_or_else(invalid)?;
    if absolute {
        Ok(ms)
    } else {
        ms.checked_add(now_ms).ok_or_else(invalid)
    }
}

/// Stores a string and sets or keeps the TTL.
fn store(ctx: &mut Ctx, key: &[u8], val: &[u8], expire_at: Option<i64>, keep_ttl: bool) {
    store_sds(ctx, key, Sds::from_slice(val), expire_at, keep_ttl);
}

/// [`store`] for a string already built (with its [`Mark`]).
fn store_sds(ctx: &mut Ctx, key: &[u8], val: Sds, expire_at: Option<i64>, keep_ttl: bool) {
    let db = ctx.db();
    db.set(key, Value::Str(val), keep_ttl);
    if let Some(at) = expire_at {
        db.set_expire(key, at);
    }
    ctx.state.dirty += 1;
}

/// A string stored with a TTL reaches replicas as `SET key value PXAT <unix ms>` (as in
/// Redis 7.0), so their expiry does not depend on when they apply it.
fn propagate_set_pxat(ctx: &mut Ctx, key: &[u8], val: &[u8], at: i64) {
    let at = at.to_string();
    ctx.propagate_instead(&[b"SET".as_slice(), key, val, b"PXAT", at.as_bytes()]);
}

/// Which expire option of SET/GETEX was given: (unit ms, absolute, argument).
type ExpireOpt<'a> = (i64, bool, &'a [u8]);

/// Recognises EX/PX/EXAT/PXAT (case-insensitive).
fn expire_kind(a: &[u8]) -> Option<(i64, bool)> {
    if is(a, "ex") {
        Some((1000, false))
    } else if is(a, "px") {
        Some((1, false))
    } else if is(a, "exat") {
        Some((1000, true))
    } else if is(a, "pxat") {
        Some((1, true))
    } else {
        None
    }
}

fn set(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (key, val) = (&args[1], &args[2]);
    let (mut nx, mut xx, mut get, mut keepttl) = (false, false, false, false);
    // As Redis's parseExtendedStringArgumentsOrReply: an option may repeat (the last
    // expire wins), only conflicting ones are a syntax error, and the expire value is
    // validated after every option was parsed.
    let mut expire_opt: Option<ExpireOpt> = None;
    let mut opts = Args::new(args, 3);
    while let Some(a) = opts.take() {
        let kind = expire_kind(a);
        if is(a, "nx") && !xx {
            nx = true;
        } else if is(a, "xx") && !nx {
            xx = true;
        } else if is(a, "get") {
            get = true;
        } else if is(a, "keepttl") && expire_opt.is_none() {
            keepttl = true;
        } else if let (Some((unit, abs)), Some(value)) = (kind, opts.peek()) {
            if keepttl || expire_opt.is_some_and(|(u, ab, _)| (u, ab) != (unit, abs)) {
                return Err(err::SYNTAX);
            }
            expire_opt = Some((unit, abs, value));
            opts.take();
        } else {
            return Err(err::SYNTAX);
        }
    }
    let expire = match expire_opt {
        Some((unit, abs, arg)) => Some(expire_arg(arg, unit, abs, ctx.now_ms, "set")?),
        None => None,
    };
    let exists = if get {
        match read_str(ctx, key)? {
            Some(s) => {
                let s = s.clone();
                ctx.out.bulk(&s);
                true
            }
            None => {
                ctx.out.null();
                false
            }
        }
    } else {
        ctx.exists(key)
    };
    if (nx && exists) || (xx && !exists) {
        if !get {
            ctx.out.null();
        }
        return Ok(());
    }
    store(ctx, key, val, expire, keepttl);
    notify(ctx, STRING, "set", key);
    if let Some(at) = expire {
        propagate_set_pxat(ctx, key, val, at);
        notify(ctx, GENERIC, "expire", key);
    }
    if !get {
        ctx.out.ok();
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.exists(&args[1]) {
        ctx.out.int(0);
    } else {
        store(ctx, &args[1], &args[2], None, false);
        notify(ctx, STRING, "set", &args[1]);
        ctx.out.int(1);
    }
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, args: &[Bytes], unit: i64, name: &str) -> CmdResult {
    let at = expire_arg(&args[2], unit, false, ctx.now_ms, name)?;
    store(ctx, &args[1], &args[3], Some(at), false);
    propagate_set_pxat(ctx, &args[1], &args[3], at);
    notify(ctx, STRING, "set", &args[1]);
    notify(ctx, GENERIC, "expire", &args[1]);
    ctx.out.ok();
    Ok(())
}

fn setex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setex_generic(ctx, args, 1000, "setex")
}

fn psetex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    setex_generic(ctx, args, 1, "psetex")
}

fn mget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.out.array(args.len() - 1);
    for key in &args[1..] {
        match ctx.lookup_read(key) {
            Some(Value::Str(s)) => {
                let s = s.clone();
                ctx.out.bulk(&s)
            }
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(super::arity_error("mset"));
    }
    for kv in args[1..].chunks(2) {
        store(ctx, &kv[0], &kv[1], None, false);
        notify(ctx, STRING, "set", &kv[0]);
    }
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(super::arity_error("msetnx"));
    }
    let any = args[1..].chunks(2).any(|kv| ctx.exists(&kv[0]));
    if any {
        ctx.out.int(0);
        return Ok(());
    }
    for kv in args[1..].chunks(2) {
        store(ctx, &kv[0], &kv[1], None, false);
        notify(ctx, STRING, "set", &kv[0]);
    }
    ctx.out.int(1);
    Ok(())
}

fn getset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match read_str(ctx, &args[1])? {
        Some(s) => {
            let s = s.clone();
            ctx.out.bulk(&s)
        }
        None => ctx.out.null(),
    }
    store(ctx, &args[1], &args[2], None, false);
    notify(ctx, STRING, "set", &args[1]);
    Ok(())
}

fn getdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match read_str(ctx, &args[1])? {
        Some(s) => {
            let s = s.clone();
            ctx.out.bulk(&s);
            ctx.db().remove(&args[1]);
            ctx.state.dirty += 1;
            notify(ctx, GENERIC, "del", &args[1]);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn getex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let mut expire_opt: Option<ExpireOpt> = None;
    let mut persist = false;
    let mut opts = Args::new(args, 2);
    while let Some(a) = opts.take() {
        let kind = expire_kind(a);
        if is(a, "persist") && expire_opt.is_none() {
            persist = true;
        } else if let (Some((unit, abs)), Some(value)) = (kind, opts.peek()) {
            if persist || expire_opt.is_some_and(|(u, ab, _)| (u, ab) != (unit, abs)) {
                return Err(err::SYNTAX);
            }
            expire_opt = Some((unit, abs, value));
            opts.take();
        } else {
            return Err(err::SYNTAX);
        }
    }
    // Redis looks the key up (nil, WRONGTYPE) before it validates the expire value.
    let Some(s) = read_str(ctx, key)? else {
        ctx.out.null();
        return Ok(());
    };
    let s = s.clone();
    let expire = match expire_opt {
        Some((unit, abs, arg)) => Some(expire_arg(arg, unit, abs, ctx.now_ms, "getex")?),
        None => None,
    };
    ctx.out.bulk(&s);
    // Propagated as Redis 7.0 does: DEL for a past time, PEXPIREAT, PERSIST.
    if let Some(at) = expire {
        if at <= ctx.now_ms {
            ctx.db().remove(key);
            ctx.state.dirty += 1;
            ctx.propagate_instead(&[b"DEL".as_slice(), key]);
            notify(ctx, GENERIC, "del", key);
        } else {
            ctx.db().set_expire(key, at);
            ctx.modified(key, 1);
            let at = at.to_string();
            ctx.propagate_instead(&[b"PEXPIREAT".as_slice(), key, at.as_bytes()]);
            notify(ctx, GENERIC, "expire", key);
        }
    } else if persist && ctx.db().remove_expire(key) {
        ctx.modified(key, 1);
        ctx.propagate_instead(&[b"PERSIST".as_slice(), key]);
        notify(ctx, GENERIC, "persist", key);
    }
    Ok(())
}

fn append(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let max = ctx.state.config.proto_max_bulk_len;
    let key = &args[1];
    let len = match ctx.lookup_write(key) {
        None => {
            store(ctx, key, &args[2], None, true);
            args[2].len()
        }
        Some(Value::Str(s)) => {
            if (s.len() + args[2].len()) as i64 > max {
                return Err(TOO_BIG);
            }
            let mut v = Vec::with_capacity(s.len() + args[2].len());
            v.extend_from_slice(s);
            v.extend_from_slice(&args[2]);
            let n = v.len();
            // Redis appends in place on an unshared raw copy (dbUnshareStringValue).
            *s = Sds::from_vec(v).with_mark(Mark::Raw);
            ctx.modified(key, 1);
            n
        }
        Some(_) => return Err(err::WRONGTYPE),
    };
    notify(ctx, STRING, "append", key);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_str(ctx, &args[1])?.map(|s| s.len()).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn incr_generic(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let cur = match ctx.lookup_write(key) {
        None => 0,
        Some(Value::Str(s)) => parse_i64(s).ok_or(err::NOT_INT)?,
        Some(_) => return Err(err::WRONGTYPE),
    };
    let new = cur.checked_add(by).ok_or(err::OVERFLOW)?;
    store(
        ctx,
        key,
        itoa::Buffer::new().format(new).as_bytes(),
        None,
        true,
    );
    notify(ctx, STRING, "incrby", key);
    ctx.out.int(new);
    Ok(())
}

fn incr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_generic(ctx, &args[1], 1)
}

fn decr(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    incr_generic(ctx, &args[1], -1)
}

fn incrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let by = arg_i64(&args[2])?;
    incr_generic(ctx, &args[1], by)
}

fn decrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let by = arg_i64(&args[2])?;
    if by == i64::MIN {
        return Err(CmdError::fixed("ERR decrement would overflow"));
    }
    incr_generic(ctx, &args[1], -by)
}

/// Parses a float operand the way Redis's string2ld accepts it, as a long double.
fn long_double_arg(b: &[u8]) -> Result<longdouble::Ld, CmdError> {
    longdouble::parse_arg(b).ok_or(err::NOT_FLOAT)
}

fn incrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let cur = match ctx.lookup_write(key) {
        None => longdouble::ZERO,
        Some(Value::Str(s)) => {
            let s = s.clone();
            long_double_arg(&s)?
        }
        Some(_) => return Err(err::WRONGTYPE),
    };
    let by = long_double_arg(&args[2])?;
    // Redis adds in long double and prints with %.17Lf; f64 would print other digits.
    let text = longdouble::add(cur, by)
        .and_then(longdouble::format_human)
        .ok_or(CmdError::fixed(
            "ERR increment would produce NaN or Infinity",
        ))?;
    // Redis stores the result as a plain string object: `embstr` even when it reads "3".
    let val = Sds::from_slice(text.as_bytes()).with_mark(Mark::NoInt);
    store_sds(ctx, key, val, None, true);
    notify(ctx, STRING, "incrbyfloat", key);
    // Replicas get the result, not the addition (float formatting must not differ).
    ctx.propagate_instead(&[b"SET".as_slice(), key, text.as_bytes(), b"KEEPTTL"]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// Clamps Redis-style (negative = from the end) inclusive range to byte offsets.
pub fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    if s < 0 {
        s = 0;
    }
    if e < 0 {
        e = 0;
    }
    if e >= len {
        e = len - 1;
    }
    if s > e || len == 0 {
        return None;
    }
    Some((s as usize, e as usize))
}

fn getrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let start = arg_i64(&args[2])?;
    let end = arg_i64(&args[3])?;
    let Some(s) = read_str(ctx, &args[1])? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    // Redis: both negative and start > end means empty.
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    match clamp_range(start, end, s.len()) {
        Some((a, b)) => {
            let part = s[a..=b].to_vec();
            ctx.out.bulk(&part)
        }
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let offset = arg_i64(&args[2])?;
    if offset < 0 {
        return Err(CmdError::fixed("ERR offset is out of range"));
    }
    let val = &args[3];
    let max = ctx.state.config.proto_max_bulk_len;
    let cur: Option<Vec<u8>> = match ctx.lookup_write(key) {
        None => None,
        Some(Value::Str(s)) => Some(s.to_vec()),
        Some(_) => return Err(err::WRONGTYPE),
    };
    let cur_len = cur.as_ref().map(|c| c.len()).unwrap_or(0);
    if val.is_empty() {
        ctx.out.int(cur_len as i64);
        return Ok(());
    }
    // Saturating: `SETRANGE k 9223372036854775807 x` must be refused, not wrap (it panicked).
    if offset.saturating_add(val.len() as i64) > max {
        return Err(TOO_BIG);
    }
    let mut buf = cur.unwrap_or_default();
    let end = offset as usize + val.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[offset as usize..end].copy_from_slice(val);
    let n = buf.len();
    // Written in place on a raw string, as APPEND (a new key is created raw too).
    store_sds(
        ctx,
        key,
        Sds::from_vec(buf).with_mark(Mark::Raw),
        None,
        true,
    );
    notify(ctx, STRING, "setrange", key);
    ctx.out.int(n as i64);
    Ok(())
}
