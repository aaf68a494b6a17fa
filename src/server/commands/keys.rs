//! Keyspace commands: existence, deletion, expiry, renaming, iteration, databases.

use super::args::{Args, int_arg, parse_cursor, scan_options, scan_reply};
use super::flags::*;
use super::{CmdError, CmdResult, Ctx, KEY1, NO_KEYS, Spec, arg_i64, container, err, is, spec};
use crate::server::db::access;
use crate::server::glob::glob_match;
use crate::server::notify::{GENERIC, notify, notify_in};
use bytes::Bytes;

/// The keyspace commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("del", -2, WRITE, (1, -1, 1), del),
        spec("unlink", -2, WRITE | FAST, (1, -1, 1), del),
        spec("exists", -2, READONLY | FAST, (1, -1, 1), exists),
        spec("touch", -2, READONLY | FAST, (1, -1, 1), exists),
        spec("expire", -3, WRITE | FAST, KEY1, expire),
        spec("pexpire", -3, WRITE | FAST, KEY1, pexpire),
        spec("expireat", -3, WRITE | FAST, KEY1, expireat),
        spec("pexpireat", -3, WRITE | FAST, KEY1, pexpireat),
        spec("ttl", 2, READONLY | FAST, KEY1, ttl),
        spec("pttl", 2, READONLY | FAST, KEY1, pttl),
        spec("expiretime", 2, READONLY | FAST, KEY1, expiretime),
        spec("pexpiretime", 2, READONLY | FAST, KEY1, pexpiretime),
        spec("persist", 2, WRITE | FAST, KEY1, persist),
        spec("type", 2, READONLY | FAST, KEY1, type_cmd),
        spec("keys", 2, READONLY, NO_KEYS, keys),
        spec("scan", -2, READONLY, NO_KEYS, scan),
        spec("randomkey", 1, READONLY, NO_KEYS, randomkey),
        spec("rename", 3, WRITE, (1, 2, 1), rename),
        spec("renamenx", 3, WRITE | FAST, (1, 2, 1), renamenx),
        spec("copy", -3, WRITE | DENYOOM, (1, 2, 1), copy),
        spec("move", 3, WRITE | FAST, KEY1, move_cmd),
        spec("dbsize", 1, READONLY | FAST, NO_KEYS, dbsize),
        spec("flushdb", -1, WRITE, NO_KEYS, flushdb),
        spec("flushall", -1, WRITE, NO_KEYS, flushall),
        spec("swapdb", 3, WRITE | FAST, NO_KEYS, swapdb),
        spec("object", -2, 0, NO_KEYS, container).subcommands(vec![
            spec("object|encoding", 3, READONLY, (2, 2, 1), object),
            spec("object|freq", 3, READONLY, (2, 2, 1), object),
            spec("object|idletime", 3, READONLY, (2, 2, 1), object),
            spec("object|refcount", 3, READONLY, (2, 2, 1), object),
            spec("object|help", 2, LOADING | STALE, NO_KEYS, object_help),
        ]),
    ]
}

fn del(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut n = 0;
    for key in &args[1..] {
        ctx.expire_if_needed(key);
        if ctx.db().remove(key).is_some() {
            n += 1;
            notify(ctx, GENERIC, "del", key);
        }
    }
    ctx.state.dirty += n as u64;
    ctx.out.int(n);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut n = 0;
    for key in &args[1..] {
        if ctx.lookup_read_notouch(key).is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn expire_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    unit: i64,
    absolute: bool,
    name: &str,
) -> CmdResult {
    let key = &args[1];
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    let mut opts = Args::new(args, 3);
    while let Some(a) = opts.take() {
        // Redis reads the option as a C string (strcasecmp, then %s in the error): it stops
        // at the first zero byte, so `xx\0yy` is XX.
        let a = a.split(|&b| b == 0).next().unwrap_or_default();
        if is(a, "nx") {
            nx = true
        } else if is(a, "xx") {
            xx = true
        } else if is(a, "gt") {
            gt = true
        } else if is(a, "lt") {
            lt = true
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::fixed(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::fixed(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let invalid = || CmdError::msg(format!("ERR invalid expire time in '{name}' command"));
    let v = arg_i64(&args[2])?;
    let mut when = v.checked_mul(unit).ok_or_else(invalid)?;
    if !absolute {
        when = when.checked_add(ctx.now_ms).ok_or_else(invalid)?;
    }
    if !ctx.exists(key) {
        ctx.out.int(0);
        return Ok(());
    }
    let current = ctx.db().expire_at(key);
    let allowed = if nx {
        current.is_none()
    } else if xx {
        current.is_some() && (!gt || when > current.unwrap()) && (!lt || when < current.unwrap())
    } else if gt {
        matches!(current, Some(c) if when > c)
    } else if lt {
        current.is_none_or(|c| when < c)
    } else {
        true
    };
    if !allowed {
        ctx.out.int(0);
        return Ok(());
    }
    // Replicas get an absolute time (PEXPIREAT), or a DEL when it is already past.
    if when <= ctx.now_ms && ctx.state.config.replicaof.is_none() {
        ctx.db().remove(key);
        ctx.state.dirty += 1;
        ctx.propagate_instead(&[b"DEL".as_slice(), key]);
        notify(ctx, GENERIC, "del", key);
    } else {
        ctx.db().set_expire(key, when);
        ctx.modified(key, 1);
        let at = when.to_string();
        ctx.propagate_instead(&[b"PEXPIREAT".as_slice(), key, at.as_bytes()]);
        notify(ctx, GENERIC, "expire", key);
    }
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1000, false, "expire")
}
fn pexpire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1, false, "pexpire")
}
fn expireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1000, true, "expireat")
}
fn pexpireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1, true, "pexpireat")
}

fn ttl_generic(ctx: &mut Ctx, key: &[u8], ms: bool, absolute: bool) -> CmdResult {
    if ctx.lookup_read_notouch(key).is_none() {
        ctx.out.int(-2);
        return Ok(());
    }
    let now = ctx.now_ms;
    match ctx.db().expire_at(key) {
        None => ctx.out.int(-1),
        Some(at) => {
            let t = if absolute { at } else { (at - now).max(0) };
            // Rounded without overflow: Redis answers 9223372036854776 for an expiry at
            // i64::MAX ms (its `(ttl+500)/1000` is computed as if unbounded).
            ctx.out.int(if ms {
                t
            } else {
                ((i128::from(t) + 500) / 1000) as i64
            });
        }
    }
    Ok(())
}

fn ttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], false, false)
}
fn pttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], true, false)
}
fn expiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], false, true)
}
fn pexpiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], true, true)
}

fn persist(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if ctx.lookup_write(key).is_some() && ctx.db().remove_expire(key) {
        ctx.modified(key, 1);
        notify(ctx, GENERIC, "persist", key);
        ctx.out.int(1);
    } else {
        ctx.out.int(0);
    }
    Ok(())
}

fn type_cmd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let name = match ctx.lookup_read_notouch(&args[1]) {
        Some(v) => v.kind().name(),
        None => "none",
    };
    ctx.out.simple(name);
    Ok(())
}

fn keys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let pattern = &args[1];
    let now = ctx.now_ms;
    let all = pattern.as_ref() == b"*";
    let db = ctx.db();
    let found: Vec<Vec<u8>> = db
        .iter()
        .filter(|e| all || glob_match(pattern, &e.key, false))
        .filter(|e| !db.is_expired(&e.key, now))
        .map(|e| e.key.to_vec())
        .collect();
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(&k);
    }
    Ok(())
}

fn scan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[1])?;
    let opts = scan_options(args, 2, true)?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let db = ctx.db();
    let next = db.scan(cursor, opts.count, |e| {
        let type_ok = opts.kind.is_none_or(|k| k == Some(e.value.kind()));
        if type_ok && opts.matches(&e.key) {
            found.push(e.key.to_vec());
        }
    });
    // As Redis's scanGenericCommand: a matching key whose TTL has passed is deleted
    // (expireIfNeeded), not just left out.
    found.retain(|k| !ctx.expire_if_needed(k));
    scan_reply(ctx, next, &found);
    Ok(())
}

fn randomkey(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let _ = args;
    for _ in 0..100 {
        let seed = ctx.state.next_random();
        let Some(key) = ctx.db().random_key(seed).map(|k| k.to_vec()) else {
            break;
        };
        if !ctx.expire_if_needed(&key) {
            ctx.out.bulk(&key);
            return Ok(());
        }
    }
    ctx.out.null();
    Ok(())
}

fn rename_generic(ctx: &mut Ctx, args: &[Bytes], nx: bool) -> CmdResult {
    let (src, dst) = (&args[1], &args[2]);
    if ctx.lookup_write(src).is_none() {
        return Err(err::NO_KEY);
    }
    if src == dst {
        if nx {
            ctx.out.int(0)
        } else {
            ctx.out.ok()
        }
        return Ok(());
    }
    if nx && ctx.exists(dst) {
        ctx.out.int(0);
        return Ok(());
    }
    let db = ctx.db();
    let ttl = db.expire_at(src);
    let field = db.entry(src).map(|e| e.atime);
    let value = db.remove(src).unwrap();
    // Redis deletes an existing destination, then adds it (the `new` event fires).
    db.remove(dst);
    db.set(dst, value, false);
    // The same object moves, with its access field (LRU clock or LFU counter).
    db.set_access(dst, field);
    if let Some(at) = ttl {
        db.set_expire(dst, at);
    }
    ctx.state.dirty += 1;
    notify(ctx, GENERIC, "rename_from", src);
    notify(ctx, GENERIC, "rename_to", dst);
    if nx {
        ctx.out.int(1)
    } else {
        ctx.out.ok()
    }
    Ok(())
}

fn rename(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, args, false)
}
fn renamenx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// Parses a database index argument against the configured count.
fn db_index(ctx: &Ctx, arg: &[u8]) -> Result<usize, CmdError> {
    let n = int_arg(arg, None)?;
    if n < 0 || n >= ctx.state.dbs.len() as i64 {
        return Err(err::DB_RANGE);
    }
    Ok(n as usize)
}

fn copy(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (src, dst) = (&args[1], &args[2]);
    let mut target_db = ctx.client.db;
    let mut replace = false;
    let mut opts = Args::new(args, 3);
    while !opts.is_done() {
        if opts.keyword("replace") {
            replace = true;
        } else if let Some(db) = opts.keyword_value("db") {
            target_db = db_index(ctx, db)?;
        } else {
            return Err(err::SYNTAX);
        }
    }
    if src == dst && target_db == ctx.client.db {
        return Err(CmdError::fixed(
            "ERR source and destination objects are the same",
        ));
    }
    let Some(value) = ctx.lookup_write(src).cloned() else {
        ctx.out.int(0);
        return Ok(());
    };
    let ttl = ctx.db().expire_at(src);
    // An expired destination is deleted first, with its `expired` event (lookupKeyWrite).
    let gone = ctx.expire_if_needed_in(target_db, dst);
    let tdb = &mut ctx.state.dbs[target_db];
    if !gone && tdb.contains(dst) && !replace {
        ctx.out.int(0);
        return Ok(());
    }
    tdb.remove(dst);
    tdb.set(dst, value, false);
    if let Some(at) = ttl {
        tdb.set_expire(dst, at);
    }
    ctx.state.dirty += 1;
    notify_in(ctx, GENERIC, "copy_to", dst, target_db);
    ctx.out.int(1);
    Ok(())
}

fn move_cmd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let target = db_index(ctx, &args[2])?;
    if target == ctx.client.db {
        return Err(CmdError::fixed(
            "ERR source and destination objects are the same",
        ));
    }
    if ctx.lookup_write(key).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    // An expired destination is deleted first, with its `expired` event (lookupKeyWrite).
    let gone = ctx.expire_if_needed_in(target, key);
    if !gone && ctx.state.dbs[target].contains(key) {
        ctx.out.int(0);
        return Ok(());
    }
    let src = &mut ctx.state.dbs[ctx.client.db];
    let ttl = src.expire_at(key);
    let field = src.entry(key).map(|e| e.atime);
    let value = src.remove(key).unwrap();
    let tdb = &mut ctx.state.dbs[target];
    tdb.set(key, value, false);
    // The same object moves, with its access field (LRU clock or LFU counter).
    tdb.set_access(key, field);
    if let Some(at) = ttl {
        tdb.set_expire(key, at);
    }
    ctx.state.dirty += 1;
    notify(ctx, GENERIC, "move_from", key);
    notify_in(ctx, GENERIC, "move_to", key, target);
    ctx.out.int(1);
    Ok(())
}

fn dbsize(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}

/// FLUSHDB/FLUSHALL's optional ASYNC|SYNC (both flush at once here).
fn flush_mode(args: &[Bytes]) -> CmdResult {
    let mut a = Args::new(args, 1);
    let _ = a.keyword("async") || a.keyword("sync");
    a.finish()
}

fn flushdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    let n = ctx.db().len() as u64;
    ctx.db().clear();
    ctx.state.dirty += n.max(1);
    crate::server::tracking::on_flush(ctx.state);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    flush_mode(args)?;
    let mut n = 0;
    for db in ctx.state.dbs.iter_mut() {
        n += db.len() as u64;
        db.clear();
    }
    ctx.state.dirty += n.max(1);
    crate::server::tracking::on_flush(ctx.state);
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // getIntFromObjectOrReply: a C int, so an i64 outside i32 is refused by this text.
    let int = |a: &[u8]| crate::server::numbers::parse_i64(a).filter(|v| i32::try_from(*v).is_ok());
    let a = int(&args[1]).ok_or(CmdError::fixed("ERR invalid first DB index"))?;
    let b = int(&args[2]).ok_or(CmdError::fixed("ERR invalid second DB index"))?;
    let n = ctx.state.dbs.len() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(err::DB_RANGE);
    }
    if a != b {
        let (lo, hi) = (a.min(b) as usize, a.max(b) as usize);
        let (left, right) = ctx.state.dbs.split_at_mut(hi);
        left[lo].swap_data(&mut right[0]);
    }
    ctx.state.dirty += 1;
    ctx.out.ok();
    Ok(())
}

/// OBJECT HELP.
fn object_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}

/// OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key (one handler: they share the lookup).
fn object(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let key = &args[2];
    if ctx.expire_if_needed(key) {
        ctx.out.null();
        return Ok(());
    }
    let Some(entry) = ctx.db().entry(key) else {
        ctx.out.null();
        return Ok(());
    };
    let lfu = access::is_lfu();
    if is(sub, "encoding") {
        let enc = entry.value.encoding();
        ctx.out.bulk(enc.as_bytes());
    } else if is(sub, "idletime") {
        if lfu {
            return Err(CmdError::fixed(
                "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ));
        }
        let idle = access::idle_seconds(entry.atime);
        ctx.out.int(idle as i64);
    } else if is(sub, "refcount") {
        let n = entry.value.refcount();
        ctx.out.int(n);
    } else {
        if !lfu {
            return Err(CmdError::fixed(
                "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
            ));
        }
        // Decayed but not stored: OBJECT does not count as an access (LOOKUP_NOTOUCH).
        let freq = access::counter(entry.atime);
        ctx.out.int(freq as i64);
    }
    Ok(())
}
