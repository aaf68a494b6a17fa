//! Set commands.

use super::args::{parse_cursor, positive_long, range_arg, scan_options, scan_reply};
use super::flags::*;
use super::random_pick::{self, Pick};
use super::{CmdError, CmdResult, Ctx, KEY1, NO_KEYS, Spec, err, is, spec};
use crate::server::notify::{GENERIC, SET, notify};
use crate::server::types::{Set, Value};
use bytes::Bytes;

/// The set commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("sadd", -3, WRITE | DENYOOM | FAST, KEY1, sadd),
        spec("srem", -3, WRITE | FAST, KEY1, srem),
        spec("smembers", 2, READONLY, KEY1, smembers),
        spec("sismember", 3, READONLY | FAST, KEY1, sismember),
        spec("smismember", -3, READONLY | FAST, KEY1, smismember),
        spec("scard", 2, READONLY | FAST, KEY1, scard),
        spec("spop", -2, WRITE | FAST, KEY1, spop),
        spec("srandmember", -2, READONLY, KEY1, srandmember),
        spec("smove", 4, WRITE | FAST, (1, 2, 1), smove),
        spec("sinter", -2, READONLY, (1, -1, 1), sinter),
        spec("sintercard", -3, READONLY, NO_KEYS, sintercard),
        spec("sinterstore", -3, WRITE | DENYOOM, (1, -1, 1), sinterstore),
        spec("sunion", -2, READONLY, (1, -1, 1), sunion),
        spec("sunionstore", -3, WRITE | DENYOOM, (1, -1, 1), sunionstore),
        spec("sdiff", -2, READONLY, (1, -1, 1), sdiff),
        spec("sdiffstore", -3, WRITE | DENYOOM, (1, -1, 1), sdiffstore),
        spec("sscan", -3, READONLY, KEY1, sscan),
    ]
}

fn read_set<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Set>, CmdError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn write_set<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Set>, CmdError> {
    match ctx.lookup_write(key) {
        None => Ok(None),
        Some(Value::Set(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn max_intset(ctx: &Ctx) -> i64 {
    ctx.state.config.set_max_intset_entries
}

fn reply_members(ctx: &mut Ctx, members: &[Vec<u8>], as_set: bool) {
    if as_set {
        ctx.out.set(members.len());
    } else {
        ctx.out.array(members.len());
    }
    for m in members {
        ctx.out.bulk(m);
    }
}

fn sadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let max = max_intset(ctx);
    if write_set(ctx, key)?.is_none() {
        ctx.db()
            .set(key, Value::Set(Box::new(Set::for_member(&args[2]))), false);
    }
    let Some(Value::Set(s)) = ctx.db().get_mut(key) else {
        unreachable!()
    };
    let mut n = 0;
    for m in &args[2..] {
        if s.add(m, max) {
            n += 1;
        }
    }
    if n > 0 {
        ctx.modified(key, n);
        notify(ctx, SET, "sadd", key);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    super::remove::remove_members(ctx, &args[1], &args[2..], write_set, (SET, "srem"))
}

fn smembers(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let members = read_set(ctx, &args[1])?
        .map(|s| s.to_vec())
        .unwrap_or_default();
    reply_members(ctx, &members, true);
    Ok(())
}

fn sismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = read_set(ctx, &args[1])?.is_some_and(|s| s.contains(&args[2]));
    ctx.out.int(r as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r: Vec<bool> = match read_set(ctx, &args[1])? {
        Some(s) => args[2..].iter().map(|m| s.contains(m)).collect(),
        None => vec![false; args.len() - 2],
    };
    ctx.out.array(r.len());
    for b in r {
        ctx.out.int(b as i64);
    }
    Ok(())
}

fn scard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_set(ctx, &args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn spop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Random: Redis propagates SPOP as SREM of the popped members (DEL when it empties the set).
    let key = &args[1];
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let count = if args.len() == 3 {
        Some(positive_long(&args[2], None)? as usize)
    } else {
        None
    };
    let len = match write_set(ctx, key)? {
        None => {
            match count {
                None => ctx.out.null(),
                Some(_) => ctx.out.set(0),
            }
            return Ok(());
        }
        Some(s) => s.len(),
    };
    let want = count.unwrap_or(1);
    let popped: Vec<Vec<u8>> = if want >= len {
        match ctx.db().get(key) {
            Some(Value::Set(s)) => s.to_vec(),
            _ => unreachable!(),
        }
    } else {
        // Pick and remove one at a time: O(count), not O(size of the set).
        let mut out = Vec::with_capacity(want);
        for _ in 0..want {
            let seed = ctx.state.next_random();
            let Some(Value::Set(s)) = ctx.db().get_mut(key) else {
                unreachable!()
            };
            let m = s.random(seed).unwrap();
            s.remove(&m);
            out.push(m);
        }
        out
    };
    let Some(Value::Set(s)) = ctx.db().get_mut(key) else {
        unreachable!()
    };
    for m in &popped {
        s.remove(m);
    }
    let empty = s.is_empty();
    if !popped.is_empty() {
        notify(ctx, SET, "spop", key);
        if empty {
            ctx.db().remove(key);
            notify(ctx, GENERIC, "del", key);
        }
        ctx.modified(key, popped.len() as u64);
        // Replicas remove exactly the members we picked.
        let mut srem: Vec<&[u8]> = Vec::with_capacity(popped.len() + 2);
        srem.push(b"SREM");
        srem.push(key);
        srem.extend(popped.iter().map(|m| m.as_slice()));
        ctx.propagate_instead(&srem);
    }
    match count {
        None => ctx.out.bulk(&popped[0]),
        Some(_) => reply_members(ctx, &popped, true),
    }
    Ok(())
}

/// A set as a source of random picks.
struct SetPicks<'a>(&'a Set);

impl random_pick::Source for SetPicks<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn random(&self, seed: u64) -> Pick {
        Pick::Member(Bytes::from(self.0.random(seed).unwrap_or_default()))
    }
    fn all(&self) -> Vec<Pick> {
        self.0
            .iter()
            .map(|m| Pick::Member(Bytes::copy_from_slice(&m)))
            .collect()
    }
}

fn srandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let count = match args.get(2) {
        Some(c) => Some(random_pick::parse_count(c)?),
        None => None,
    };
    if read_set(ctx, key)?.is_none() {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        }
        return Ok(());
    }
    let rng = random_pick::Rng::new(ctx.state.next_random());
    let Some(Value::Set(s)) = ctx.state.dbs[ctx.client.db].get(key) else {
        unreachable!()
    };
    match count {
        None => ctx.out.bulk(&s.random(rng.clone().next_u64()).unwrap()),
        Some(c) => random_pick::reply_count(ctx.out, &SetPicks(s), c, false, rng),
    }
    Ok(())
}

fn smove(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (src, dst, m) = (&args[1], &args[2], &args[3]);
    let max = max_intset(ctx);
    let src_exists = match ctx.lookup_write(src) {
        None => false,
        Some(Value::Set(_)) => true,
        Some(_) => return Err(err::WRONGTYPE),
    };
    let dst_exists = match ctx.lookup_write(dst) {
        None => false,
        Some(Value::Set(_)) => true,
        Some(_) if src_exists => return Err(err::WRONGTYPE),
        Some(_) => false,
    };
    if !src_exists {
        ctx.out.int(0);
        return Ok(());
    }
    if src == dst {
        let r = matches!(ctx.db().get(src), Some(Value::Set(s)) if s.contains(m));
        ctx.out.int(r as i64);
        return Ok(());
    }
    let Some(Value::Set(s)) = ctx.db().get_mut(src) else {
        unreachable!()
    };
    if !s.remove(m) {
        ctx.out.int(0);
        return Ok(());
    }
    let empty = s.is_empty();
    notify(ctx, SET, "srem", src);
    if empty {
        ctx.db().remove(src);
        notify(ctx, GENERIC, "del", src);
    }
    ctx.modified(src, 1);
    if !dst_exists {
        ctx.db()
            .set(dst, Value::Set(Box::new(Set::for_member(m))), false);
    }
    let Some(Value::Set(d)) = ctx.db().get_mut(dst) else {
        unreachable!()
    };
    if d.add(m, max) {
        ctx.modified(dst, 1);
        notify(ctx, SET, "sadd", dst);
    }
    ctx.out.int(1);
    Ok(())
}

/// Type-checks `keys` (all of them, as Redis does) and returns each one's size (None when
/// absent).
fn check_sets(ctx: &mut Ctx, keys: &[Bytes], write: bool) -> Result<Vec<Option<usize>>, CmdError> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let s = if write {
            write_set(ctx, k)?
        } else {
            read_set(ctx, k)?
        };
        out.push(s.map(|s| s.len()));
    }
    Ok(out)
}

/// The intersection of the sets under `keys`, iterating the smallest; stops at `limit`.
fn intersection(
    ctx: &mut Ctx,
    keys: &[Bytes],
    write: bool,
    limit: usize,
) -> Result<Vec<Vec<u8>>, CmdError> {
    let sizes = check_sets(ctx, keys, write)?;
    if sizes.iter().any(|s| s.is_none()) {
        return Ok(Vec::new());
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let db = ctx.db();
    let set_at = |i: usize| match db.get(&keys[i]) {
        Some(Value::Set(s)) => s,
        _ => unreachable!(),
    };
    let mut out = Vec::new();
    for m in set_at(order[0]).iter() {
        if order[1..].iter().all(|&i| set_at(i).contains(&m)) {
            out.push(m.into_owned());
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

fn union_or_diff(ctx: &mut Ctx, keys: &[Bytes], write: bool, diff: bool) -> Result<Set, CmdError> {
    check_sets(ctx, keys, write)?;
    let max = max_intset(ctx);
    let db = ctx.db();
    let get = |k: &[u8]| match db.get(k) {
        Some(Value::Set(s)) => Some(s),
        _ => None,
    };
    let mut result = Set::default();
    if diff {
        if let Some(first) = get(&keys[0]) {
            for m in first.iter() {
                if !keys[1..]
                    .iter()
                    .any(|k| get(k).is_some_and(|s| s.contains(&m)))
                {
                    result.add(&m, max);
                }
            }
        }
    } else {
        for k in keys {
            if let Some(s) = get(k) {
                for m in s.iter() {
                    result.add(&m, max);
                }
            }
        }
    }
    Ok(result)
}

/// Stores `result` under `dst` (replacing any value) or deletes `dst` when it is empty;
/// `event` is the command's keyspace event.
fn store(ctx: &mut Ctx, dst: &[u8], result: Set, event: &str) {
    let n = result.len();
    if n == 0 {
        ctx.expire_if_needed(dst);
        if ctx.db().remove(dst).is_some() {
            ctx.state.dirty += 1;
            notify(ctx, GENERIC, "del", dst);
        }
    } else {
        ctx.db().set(dst, Value::Set(Box::new(result)), false);
        ctx.state.dirty += 1;
        notify(ctx, SET, event, dst);
    }
    ctx.out.int(n as i64);
}

fn sinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = intersection(ctx, &args[1..], false, usize::MAX)?;
    reply_members(ctx, &r, true);
    Ok(())
}

fn sinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = intersection(ctx, &args[2..], true, usize::MAX)?;
    let set = Set::from_members(r.iter().map(|m| &m[..]), max_intset(ctx));
    store(ctx, &args[1], set, "sinterstore");
    Ok(())
}

fn sintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let numkeys = range_arg(&args[1], "ERR numkeys should be greater than 0")? as usize;
    if numkeys > args.len() - 2 {
        return Err(CmdError::fixed(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0i64;
    let mut j = 2 + numkeys;
    while j < args.len() {
        if is(&args[j], "limit") && j + 1 < args.len() {
            limit = positive_long(&args[j + 1], Some("ERR LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let limit = if limit == 0 {
        usize::MAX
    } else {
        limit as usize
    };
    let r = intersection(ctx, &args[2..2 + numkeys], false, limit)?;
    ctx.out.int(r.len() as i64);
    Ok(())
}

fn sunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = union_or_diff(ctx, &args[1..], false, false)?.to_vec();
    reply_members(ctx, &r, true);
    Ok(())
}

fn sunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = union_or_diff(ctx, &args[2..], true, false)?;
    store(ctx, &args[1], r, "sunionstore");
    Ok(())
}

fn sdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = union_or_diff(ctx, &args[1..], false, true)?.to_vec();
    reply_members(ctx, &r, true);
    Ok(())
}

fn sdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = union_or_diff(ctx, &args[2..], true, true)?;
    store(ctx, &args[1], r, "sdiffstore");
    Ok(())
}

fn sscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[2])?;
    // As Redis: the cursor, then the key (an empty scan, WRONGTYPE), then the options.
    if read_set(ctx, &args[1])?.is_none() {
        scan_reply::<&[u8]>(ctx, 0, &[]);
        return Ok(());
    }
    let opts = scan_options(args, 3, false)?;
    let count = opts.count;
    let matches = |m: &[u8]| opts.matches(m);
    let mut items = Vec::new();
    let mut next = 0;
    if let Some(s) = read_set(ctx, &args[1])? {
        match &s.repr {
            crate::server::types::set::Repr::Table(t) => {
                next = t.scan(cursor, count, |m| {
                    if matches(m) {
                        items.push(m.to_vec());
                    }
                });
            }
            _ => {
                for m in s.iter() {
                    if matches(&m) {
                        items.push(m.into_owned());
                    }
                }
            }
        }
    }
    scan_reply(ctx, next, &items);
    Ok(())
}
