//! Hash commands.

use super::args::{parse_cursor, scan_options, scan_reply};
use super::flags::*;
use super::random_pick::{self, Pick};
use super::{CmdError, CmdResult, Ctx, KEY1, Spec, arg_i64, err, is, spec};
use crate::server::notify::{HASH, notify};
use crate::server::numbers::parse_i64;
use crate::server::sds::Sds;
use crate::server::types::{Hash, Value};
use bytes::Bytes;

/// The hash commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("hset", -4, WRITE | DENYOOM | FAST, KEY1, hset),
        spec("hmset", -4, WRITE | DENYOOM | FAST, KEY1, hmset),
        spec("hsetnx", 4, WRITE | DENYOOM | FAST, KEY1, hsetnx),
        spec("hget", 3, READONLY | FAST, KEY1, hget),
        spec("hmget", -3, READONLY | FAST, KEY1, hmget),
        spec("hgetall", 2, READONLY, KEY1, hgetall),
        spec("hkeys", 2, READONLY, KEY1, hkeys),
        spec("hvals", 2, READONLY, KEY1, hvals),
        spec("hdel", -3, WRITE | FAST, KEY1, hdel),
        spec("hexists", 3, READONLY | FAST, KEY1, hexists),
        spec("hlen", 2, READONLY | FAST, KEY1, hlen),
        spec("hstrlen", 3, READONLY | FAST, KEY1, hstrlen),
        spec("hincrby", 4, WRITE | DENYOOM | FAST, KEY1, hincrby),
        spec(
            "hincrbyfloat",
            4,
            WRITE | DENYOOM | FAST,
            KEY1,
            hincrbyfloat,
        ),
        spec("hrandfield", -2, READONLY, KEY1, hrandfield),
        spec("hscan", -3, READONLY, KEY1, hscan),
    ]
}

/// The hash under `key` for reading: None if absent, WRONGTYPE if not a hash.
fn read_hash<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Hash>, CmdError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// Checks the type of `key` for a write (WRONGTYPE) and creates an empty hash if absent.
fn hash_for_write<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<&'c mut Hash, CmdError> {
    match ctx.lookup_write(key) {
        Some(Value::Hash(_)) => {}
        Some(_) => return Err(err::WRONGTYPE),
        None => ctx.db().set(key, Value::Hash(Box::default()), false),
    }
    match ctx.db().get_mut(key) {
        Some(Value::Hash(h)) => Ok(h),
        _ => unreachable!(),
    }
}

fn limits(ctx: &Ctx) -> (i64, i64) {
    (
        ctx.state.config.hash_max_listpack_entries,
        ctx.state.config.hash_max_listpack_value,
    )
}

fn hset_generic(ctx: &mut Ctx, args: &[Bytes], name: &str) -> Result<i64, CmdError> {
    if args.len() % 2 == 1 {
        return Err(super::arity_error(name));
    }
    let key = &args[1];
    let (max_e, max_v) = limits(ctx);
    let h = hash_for_write(ctx, key)?;
    let lens: Vec<usize> = args[2..].iter().map(|a| a.len()).collect();
    h.maybe_convert_for(&lens, max_v);
    let mut created = 0;
    for fv in args[2..].chunks(2) {
        if h.set(&fv[0], Sds::from_slice(&fv[1])) {
            created += 1;
        }
    }
    h.maybe_convert_len(max_e);
    ctx.modified(key, ((args.len() - 2) / 2) as u64);
    notify(ctx, HASH, "hset", key);
    Ok(created)
}

fn hset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = hset_generic(ctx, args, "hset")?;
    ctx.out.int(n);
    Ok(())
}

fn hmset(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    hset_generic(ctx, args, "hmset")?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let (max_e, max_v) = limits(ctx);
    let h = hash_for_write(ctx, key)?;
    if h.get(&args[2]).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    h.maybe_convert_for(&[args[2].len(), args[3].len()], max_v);
    h.set(&args[2], Sds::from_slice(&args[3]));
    h.maybe_convert_len(max_e);
    ctx.modified(key, 1);
    notify(ctx, HASH, "hset", key);
    ctx.out.int(1);
    Ok(())
}

fn hget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let v = read_hash(ctx, &args[1])?.and_then(|h| h.get(&args[2]).cloned());
    match v {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let vals: Vec<Option<Sds>> = match read_hash(ctx, &args[1])? {
        Some(h) => args[2..].iter().map(|f| h.get(f).cloned()).collect(),
        None => vec![None; args.len() - 2],
    };
    ctx.out.array(vals.len());
    for v in vals {
        match v {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn getall_generic(ctx: &mut Ctx, args: &[Bytes], fields: bool, values: bool) -> CmdResult {
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = match read_hash(ctx, &args[1])? {
        Some(h) => h
            .iter()
            .map(|(f, v)| (f.into_owned(), v.into_owned()))
            .collect(),
        None => Vec::new(),
    };
    if fields && values {
        ctx.out.map(pairs.len());
    } else {
        ctx.out.array(pairs.len());
    }
    for (f, v) in pairs {
        if fields {
            ctx.out.bulk(&f);
        }
        if values {
            ctx.out.bulk(&v);
        }
    }
    Ok(())
}

fn hgetall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    getall_generic(ctx, args, true, true)
}
fn hkeys(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    getall_generic(ctx, args, true, false)
}
fn hvals(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    getall_generic(ctx, args, false, true)
}

fn hdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    super::remove::remove_members(ctx, &args[1], &args[2..], write_hash, (HASH, "hdel"))
}

fn write_hash<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Hash>, CmdError> {
    match ctx.lookup_write(key) {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn hexists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let e = read_hash(ctx, &args[1])?.is_some_and(|h| h.get(&args[2]).is_some());
    ctx.out.int(e as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_hash(ctx, &args[1])?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_hash(ctx, &args[1])?
        .and_then(|h| h.get(&args[2]).map(|v| v.len()))
        .unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn hincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let incr = arg_i64(&args[3])?;
    let (max_e, max_v) = limits(ctx);
    let h = hash_for_write(ctx, key)?;
    let cur = match h.get(&args[2]) {
        Some(v) => parse_i64(v).ok_or(CmdError::fixed("ERR hash value is not an integer"))?,
        None => 0,
    };
    let new = cur.checked_add(incr).ok_or(err::OVERFLOW)?;
    let s = new.to_string();
    h.maybe_convert_for(&[args[2].len(), s.len()], max_v);
    h.set(&args[2], Sds::from_slice(s.as_bytes()));
    h.maybe_convert_len(max_e);
    ctx.modified(key, 1);
    notify(ctx, HASH, "hincrby", key);
    ctx.out.int(new);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Not deterministic across float implementations: Redis propagates it as HSET key field <result>.
    let key = &args[1];
    let incr = crate::server::longdouble::parse_arg(&args[3]).ok_or(err::NOT_FLOAT)?;
    // Infinite as a long double only (`inf`): 1e400 is a finite long double, as in Redis.
    if matches!(incr, crate::server::longdouble::Ld::Inf { .. }) {
        return Err(CmdError::fixed("ERR value is NaN or Infinity"));
    }
    let (max_e, max_v) = limits(ctx);
    let h = hash_for_write(ctx, key)?;
    let cur = match h.get(&args[2]) {
        Some(v) => crate::server::longdouble::parse_arg(v)
            .ok_or(CmdError::fixed("ERR hash value is not a float"))?,
        None => crate::server::longdouble::ZERO,
    };
    // Redis adds in long double and prints with %.17Lf, as INCRBYFLOAT.
    let s = crate::server::longdouble::add(cur, incr)
        .and_then(crate::server::longdouble::format_human)
        .ok_or(CmdError::fixed(
            "ERR increment would produce NaN or Infinity",
        ))?;
    h.maybe_convert_for(&[args[2].len(), s.len()], max_v);
    h.set(&args[2], Sds::from_slice(s.as_bytes()));
    h.maybe_convert_len(max_e);
    ctx.modified(key, 1);
    notify(ctx, HASH, "hincrbyfloat", key);
    ctx.propagate_instead(&[b"HSET".as_slice(), key, &args[2], s.as_bytes()]);
    ctx.out.bulk(s.as_bytes());
    Ok(())
}

/// A hash as a source of random picks, with or without values.
struct HashPicks<'a>(&'a Hash, bool);

impl random_pick::Source for HashPicks<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn random(&self, seed: u64) -> Pick {
        let (f, v) = self.0.random(seed).expect("not empty");
        pick(f, v, self.1)
    }
    fn all(&self) -> Vec<Pick> {
        self.0.iter().map(|(f, v)| pick(&f, &v, self.1)).collect()
    }
}

fn pick(f: &[u8], v: &[u8], withvalues: bool) -> Pick {
    let f = Bytes::copy_from_slice(f);
    if withvalues {
        Pick::WithValue(f, Bytes::copy_from_slice(v))
    } else {
        Pick::Member(f)
    }
}

fn hrandfield(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if args.len() == 2 {
        if read_hash(ctx, key)?.is_none() {
            ctx.out.null();
            return Ok(());
        }
        let seed = ctx.state.next_random();
        let f = match ctx.db().get(key) {
            Some(Value::Hash(h)) => h.random(seed).unwrap().0.clone(),
            _ => unreachable!(),
        };
        ctx.out.bulk(&f);
        return Ok(());
    }
    let count = random_pick::parse_count(&args[2])?;
    let withvalues = match args.len() {
        3 => false,
        4 if is(&args[3], "withvalues") => true,
        _ => return Err(err::SYNTAX),
    };
    if withvalues {
        random_pick::check_pairs(count)?;
    }
    if read_hash(ctx, key)?.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let rng = random_pick::Rng::new(ctx.state.next_random());
    let Some(Value::Hash(h)) = ctx.state.dbs[ctx.client.db].get(key) else {
        unreachable!()
    };
    random_pick::reply_count(ctx.out, &HashPicks(h, withvalues), count, withvalues, rng);
    Ok(())
}

fn hscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[2])?;
    // As Redis: the cursor, then the key (an empty scan, WRONGTYPE), then the options.
    if read_hash(ctx, &args[1])?.is_none() {
        scan_reply::<&[u8]>(ctx, 0, &[]);
        return Ok(());
    }
    let opts = scan_options(args, 3, false)?;
    let count = opts.count;
    let matches = |f: &[u8]| opts.matches(f);
    let mut items = Vec::new();
    let mut next = 0;
    if let Some(h) = read_hash(ctx, &args[1])? {
        match &h.repr {
            crate::server::types::hash::Repr::Table(t) => {
                next = t.scan(cursor, count, |(f, v)| {
                    if matches(f) {
                        items.push(f.to_vec());
                        items.push(v.to_vec());
                    }
                });
            }
            crate::server::types::hash::Repr::Listpack(v) => {
                for (f, val) in v {
                    if matches(f) {
                        items.push(f.to_vec());
                        items.push(val.to_vec());
                    }
                }
            }
        }
    }
    scan_reply(ctx, next, &items);
    Ok(())
}
