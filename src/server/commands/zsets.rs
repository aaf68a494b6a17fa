//! Sorted set commands.

use super::args::{
    MpopArgs, double as double_arg, mpop_args, parse_cursor, positive_long, scan_options,
    scan_reply, strtod, timeout_arg,
};
use super::flags::*;
use super::random_pick::{self, Pick};
use super::{CmdError, CmdResult, Ctx, KEY1, NO_KEYS, Spec, arg_i64, err, is, spec};
use crate::resp::Proto;
use crate::server::notify::{GENERIC, ZSET, notify};
use crate::server::sds::Sds;
use crate::server::types::{Value, ZSet};
use bytes::Bytes;

/// The sorted set commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("zadd", -4, WRITE | DENYOOM | FAST, KEY1, zadd),
        spec("zincrby", 4, WRITE | DENYOOM | FAST, KEY1, zincrby),
        spec("zrem", -3, WRITE | FAST, KEY1, zrem),
        spec("zcard", 2, READONLY | FAST, KEY1, zcard),
        spec("zscore", 3, READONLY | FAST, KEY1, zscore),
        spec("zmscore", -3, READONLY | FAST, KEY1, zmscore),
        spec("zrank", 3, READONLY | FAST, KEY1, zrank),
        spec("zrevrank", 3, READONLY | FAST, KEY1, zrevrank),
        spec("zrange", -4, READONLY, KEY1, zrange),
        spec("zrevrange", -4, READONLY, KEY1, zrevrange),
        spec("zrangebyscore", -4, READONLY, KEY1, zrangebyscore),
        spec("zrevrangebyscore", -4, READONLY, KEY1, zrevrangebyscore),
        spec("zrangebylex", -4, READONLY, KEY1, zrangebylex),
        spec("zrevrangebylex", -4, READONLY, KEY1, zrevrangebylex),
        spec("zcount", 4, READONLY | FAST, KEY1, zcount),
        spec("zlexcount", 4, READONLY | FAST, KEY1, zlexcount),
        spec("zpopmin", -2, WRITE | FAST, KEY1, zpopmin),
        spec("zpopmax", -2, WRITE | FAST, KEY1, zpopmax),
        spec("zremrangebyrank", 4, WRITE, KEY1, zremrangebyrank),
        spec("zremrangebyscore", 4, WRITE, KEY1, zremrangebyscore),
        spec("zremrangebylex", 4, WRITE, KEY1, zremrangebylex),
        spec("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), zrangestore),
        spec("zunion", -3, READONLY, NO_KEYS, zunion),
        spec("zinter", -3, READONLY, NO_KEYS, zinter),
        spec("zdiff", -3, READONLY, NO_KEYS, zdiff),
        spec("zunionstore", -4, WRITE | DENYOOM, KEY1, zunionstore),
        spec("zinterstore", -4, WRITE | DENYOOM, KEY1, zinterstore),
        spec("zdiffstore", -4, WRITE | DENYOOM, KEY1, zdiffstore),
        spec("zintercard", -3, READONLY, NO_KEYS, zintercard),
        spec("zrandmember", -2, READONLY, KEY1, zrandmember),
        spec("zscan", -3, READONLY, KEY1, zscan),
        spec("zmpop", -4, WRITE, NO_KEYS, zmpop),
        spec(
            "bzpopmin",
            -3,
            WRITE | FAST | BLOCKING,
            (1, -2, 1),
            bzpopmin,
        ),
        spec(
            "bzpopmax",
            -3,
            WRITE | FAST | BLOCKING,
            (1, -2, 1),
            bzpopmax,
        ),
        spec("bzmpop", -5, WRITE | BLOCKING, NO_KEYS, bzmpop),
    ]
}

const NAN_SCORE: CmdError = CmdError::fixed("ERR resulting score is not a number (NaN)");
const BAD_SCORE_RANGE: CmdError = CmdError::fixed("ERR min or max is not a float");
const BAD_LEX_RANGE: CmdError = CmdError::fixed("ERR min or max not valid string range item");

fn read_zset<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut ZSet>, CmdError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn write_zset<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut ZSet>, CmdError> {
    match ctx.lookup_write(key) {
        None => Ok(None),
        Some(Value::ZSet(z)) => Ok(Some(z)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

fn limits(ctx: &Ctx) -> (i64, i64) {
    (
        ctx.state.config.zset_max_listpack_entries,
        ctx.state.config.zset_max_listpack_value,
    )
}

/// ZADD's options (GEOADD sets NX, XX and CH).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct ZaddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update to a greater score.
    pub gt: bool,
    /// Only update to a lower score.
    pub lt: bool,
    /// Count changed members in the reply, not only added ones.
    pub ch: bool,
    /// Increment (ZINCRBY, ZADD INCR): reply with the new score.
    pub incr: bool,
}

fn zadd_generic(ctx: &mut Ctx, args: &[Bytes], start: usize, incr: bool) -> CmdResult {
    let mut f = ZaddFlags {
        incr,
        ..ZaddFlags::default()
    };
    let mut i = start;
    while i < args.len() {
        let a = &args[i];
        if is(a, "nx") {
            f.nx = true
        } else if is(a, "xx") {
            f.xx = true
        } else if is(a, "gt") {
            f.gt = true
        } else if is(a, "lt") {
            f.lt = true
        } else if is(a, "ch") {
            f.ch = true
        } else if is(a, "incr") {
            f.incr = true
        } else {
            break;
        }
        i += 1;
    }
    let elements = args.len() - i;
    if !elements.is_multiple_of(2) || elements == 0 {
        return Err(err::SYNTAX);
    }
    if f.nx && f.xx {
        return Err(CmdError::fixed(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if ((f.gt || f.lt) && f.nx) || (f.gt && f.lt) {
        return Err(CmdError::fixed(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && elements > 2 {
        return Err(CmdError::fixed(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs = Vec::with_capacity(elements / 2);
    for sm in args[i..].chunks(2) {
        pairs.push((double_arg(&sm[0]).ok_or(err::NOT_FLOAT)?, &sm[1][..]));
    }
    zadd_pairs(ctx, &args[1], f, &pairs)
}

/// Applies checked (score, member) pairs to `key` and replies, as Redis 7.0's
/// zaddGenericCommand does after parsing (GEOADD runs it too, as Redis's geoaddCommand
/// calls zaddCommand): a new key starts as a listpack (a skiplist only when the *first*
/// member is longer than zset-max-listpack-value, or zset-max-listpack-entries is 0) and
/// converts member by member when a later one breaks a limit, so the members written
/// before keep a -0 score as the listpack wrote it (0), and the encoding follows the
/// members actually added, not the pairs given.
pub(super) fn zadd_pairs(
    ctx: &mut Ctx,
    key: &[u8],
    f: ZaddFlags,
    pairs: &[(f64, &[u8])],
) -> CmdResult {
    let (max_e, max_v) = limits(ctx);
    let exists = write_zset(ctx, key)?.is_some();
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut newscore = 0.0;
    if exists || !f.xx {
        if !exists {
            ctx.db().set(key, Value::ZSet(Box::default()), false);
        }
        let Some(Value::ZSet(z)) = ctx.db().get_mut(key) else {
            unreachable!()
        };
        let mut nan = false;
        for &(score, member) in pairs {
            match z.score(member) {
                Some(cur) => {
                    if f.nx {
                        continue;
                    }
                    let mut score = score;
                    if f.incr {
                        score += cur;
                        if score.is_nan() {
                            nan = true;
                            break;
                        }
                    }
                    if (f.lt && score >= cur) || (f.gt && score <= cur) {
                        continue;
                    }
                    newscore = score;
                    if score != cur {
                        z.insert(member, score);
                        updated += 1;
                    }
                    processed += 1;
                }
                None => {
                    if f.xx {
                        continue;
                    }
                    z.add_new(member, score, max_e, max_v);
                    newscore = score;
                    added += 1;
                    processed += 1;
                }
            }
        }
        let empty = z.is_empty();
        if empty {
            ctx.db().remove(key);
        }
        if added + updated > 0 {
            ctx.modified(key, (added + updated) as u64);
            notify(ctx, ZSET, if f.incr { "zincr" } else { "zadd" }, key);
        }
        if nan {
            return Err(NAN_SCORE);
        }
    }
    if f.incr {
        if processed > 0 {
            ctx.out.double(newscore);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if f.ch { added + updated } else { added });
    }
    Ok(())
}

fn zadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, args, 2, false)
}

fn zincrby(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, args, 2, true)
}

fn zrem(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    super::remove::remove_members(ctx, &args[1], &args[2..], write_zset, (ZSET, "zrem"))
}

fn zcard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_zset(ctx, &args[1])?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match read_zset(ctx, &args[1])?.and_then(|z| z.score(&args[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r: Vec<Option<f64>> = match read_zset(ctx, &args[1])? {
        Some(z) => args[2..].iter().map(|m| z.score(m)).collect(),
        None => vec![None; args.len() - 2],
    };
    ctx.out.array(r.len());
    for s in r {
        match s {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx, args: &[Bytes], rev: bool) -> CmdResult {
    let r = read_zset(ctx, &args[1])?.and_then(|z| {
        z.rank(&args[2])
            .map(|r| if rev { z.len() - 1 - r } else { r })
    });
    match r {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, false)
}
fn zrevrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, true)
}

/// A parsed score bound (`(` makes it exclusive).
#[derive(Clone, Copy)]
struct ScoreBound {
    v: f64,
    ex: bool,
}

fn parse_score_bound(b: &[u8]) -> Option<ScoreBound> {
    // zslParseRange reads the bound as a C string: strtod stops at a NUL byte, and the NUL
    // is where the number must end (`"\0"` is 0, `"1\0x"` is 1).
    let b = b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n]);
    let (ex, rest) = if b.first() == Some(&b'(') {
        (true, &b[1..])
    } else {
        (false, b)
    };
    // strtod of an empty string consumes nothing and yields 0, which Redis accepts; it skips
    // leading white space (isspace) before a number, but a blank string converts nothing.
    let v = if rest.is_empty() {
        0.0
    } else {
        let start = rest.iter().position(|c| !b" \t\n\x0b\x0c\r".contains(c))?;
        strtod(&rest[start..])?
    };
    Some(ScoreBound { v, ex })
}

/// A lex bound: `-`, `+`, `[x` or `(x`.
#[derive(Clone)]
enum LexBound {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

fn parse_lex_bound(b: &[u8]) -> Option<LexBound> {
    match b.first() {
        Some(b'+') if b.len() == 1 => Some(LexBound::Max),
        Some(b'-') if b.len() == 1 => Some(LexBound::Min),
        Some(b'[') => Some(LexBound::Incl(b[1..].to_vec())),
        Some(b'(') => Some(LexBound::Excl(b[1..].to_vec())),
        _ => None,
    }
}

/// Ascending rank interval [lo, hi) of the elements within a score range.
fn score_span(z: &ZSet, min: ScoreBound, max: ScoreBound) -> (usize, usize) {
    let lo = z.count_before(&|s, _| if min.ex { s <= min.v } else { s < min.v });
    let hi = z.count_before(&|s, _| if max.ex { s < max.v } else { s <= max.v });
    (lo, hi.max(lo))
}

/// Ascending rank interval of the elements within a lex range (meaningful when all scores
/// are equal, as in Redis). A listpack is walked as Redis walks it ([`lex_walk`]); over a
/// skiplist with mixed scores Redis's answer depends on its nodes' random levels.
fn lex_span(z: &ZSet, min: &LexBound, max: &LexBound) -> (usize, usize) {
    if !z.skiplist {
        return lex_walk(z, min, max, false, 0, -1);
    }
    let lo = z.count_before(&|_, m| match min {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(x) => m < &x[..],
        LexBound::Excl(x) => m <= &x[..],
    });
    let hi = z.count_before(&|_, m| match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(x) => m <= &x[..],
        LexBound::Excl(x) => m < &x[..],
    });
    (lo, hi.max(lo))
}

fn lex_gte_min(m: &[u8], min: &LexBound) -> bool {
    match min {
        LexBound::Min => true,
        LexBound::Max => false,
        LexBound::Incl(x) => m >= &x[..],
        LexBound::Excl(x) => m > &x[..],
    }
}

fn lex_lte_max(m: &[u8], max: &LexBound) -> bool {
    match max {
        LexBound::Min => false,
        LexBound::Max => true,
        LexBound::Incl(x) => m <= &x[..],
        LexBound::Excl(x) => m < &x[..],
    }
}

/// A range that is always empty (sdscmplex of the bounds: min above max, or equal with an
/// exclusive end; `+` as min or `-` as max reach nothing either way).
fn lex_empty(min: &LexBound, max: &LexBound) -> bool {
    use LexBound::*;
    let (a, a_ex, b, b_ex) = match (min, max) {
        (Max, _) | (_, Min) => return true,
        (Min, _) | (_, Max) => return false,
        (Incl(a), Incl(b)) => (a, false, b, false),
        (Incl(a), Excl(b)) => (a, false, b, true),
        (Excl(a), Incl(b)) => (a, true, b, false),
        (Excl(a), Excl(b)) => (a, true, b, true),
    };
    a > b || (a == b && (a_ex || b_ex))
}

/// The elements a lex range command reaches on a listpack, as Redis's zzl walk finds them
/// (ascending rank interval): nothing when the range is empty, the last member is below min
/// or the first above max; forward, from the first member >= min (nothing if that one is
/// above max), `offset` members skipped unchecked, then members taken while <= max; `rev`,
/// from the last member <= max (nothing if below min) backwards while >= min. With mixed
/// scores the members are not in lex order, so this is the walk's answer, not a filter.
fn lex_walk(
    z: &ZSet,
    min: &LexBound,
    max: &LexBound,
    rev: bool,
    offset: i64,
    limit: i64,
) -> (usize, usize) {
    let members: Vec<_> = z.iter().map(|(m, _)| m).collect();
    let n = members.len();
    if n == 0
        || offset < 0
        || limit == 0
        || lex_empty(min, max)
        || !lex_gte_min(&members[n - 1], min)
        || !lex_lte_max(&members[0], max)
    {
        return (0, 0);
    }
    let off = offset as usize;
    let room = |taken: usize| limit < 0 || taken < limit as usize;
    if !rev {
        let Some(first) = (0..n).find(|&i| lex_gte_min(&members[i], min)) else {
            return (0, 0);
        };
        if !lex_lte_max(&members[first], max) || first + off >= n {
            return (0, 0);
        }
        let start = first + off;
        let mut end = start;
        while end < n && room(end - start) && lex_lte_max(&members[end], max) {
            end += 1;
        }
        (start, end)
    } else {
        let Some(last) = (0..n).rev().find(|&i| lex_lte_max(&members[i], max)) else {
            return (0, 0);
        };
        if !lex_gte_min(&members[last], min) || off > last {
            return (0, 0);
        }
        let top = last - off + 1;
        let mut low = top;
        while low > 0 && room(top - low) && lex_gte_min(&members[low - 1], min) {
            low -= 1;
        }
        (low, top)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

fn reply_elems(ctx: &mut Ctx, elems: &[(Sds, f64)], withscores: bool) {
    let resp3 = ctx.out.proto == Proto::Resp3;
    if withscores && !resp3 {
        ctx.out.array(elems.len() * 2);
    } else {
        ctx.out.array(elems.len());
    }
    for (m, s) in elems {
        if withscores && resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        if withscores {
            ctx.out.double(*s);
        }
    }
}

/// ZRANGE and its older forms. `start` is the index of the first option argument.
fn zrange_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    mut rtype: RangeType,
    mut rev: Option<bool>,
    store: Option<&[u8]>,
) -> CmdResult {
    let key = &args[1];
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = 4;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if store.is_none() && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = arg_i64(&args[j + 1])?;
            limit = arg_i64(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if rtype == RangeType::Auto && is(a, "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && is(a, "byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    let has_limit = limit != -1 || offset != 0;
    if limit != -1 && rtype == RangeType::Rank {
        return Err(CmdError::fixed(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(CmdError::fixed(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut a_min, mut a_max) = (&args[2], &args[3]);
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut a_min, &mut a_max);
    }
    enum R {
        Rank(i64, i64),
        Score(ScoreBound, ScoreBound),
        Lex(LexBound, LexBound),
    }
    let range = match rtype {
        RangeType::Score => R::Score(
            parse_score_bound(a_min).ok_or(BAD_SCORE_RANGE)?,
            parse_score_bound(a_max).ok_or(BAD_SCORE_RANGE)?,
        ),
        RangeType::Lex => R::Lex(
            parse_lex_bound(a_min).ok_or(BAD_LEX_RANGE)?,
            parse_lex_bound(a_max).ok_or(BAD_LEX_RANGE)?,
        ),
        _ => R::Rank(arg_i64(a_min)?, arg_i64(a_max)?),
    };
    let _ = has_limit;
    let Some(z) = (if store.is_some() {
        write_zset(ctx, key)?
    } else {
        read_zset(ctx, key)?
    }) else {
        match store {
            Some(dst) => store_result(ctx, dst, Vec::new(), "zrangestore"),
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    let len = z.len();
    let elems: Vec<(Sds, f64)> = match range {
        R::Rank(s, e) => match norm_range(s, e, len as i64) {
            None => Vec::new(),
            Some((s, e)) => {
                if rev {
                    let mut v = z.range(len - 1 - e, len - s);
                    v.reverse();
                    v
                } else {
                    z.range(s, e + 1)
                }
            }
        },
        R::Lex(min, max) if !z.skiplist => {
            let (lo, hi) = lex_walk(z, &min, &max, rev, offset, limit);
            let mut v = z.range(lo, hi);
            if rev {
                v.reverse();
            }
            v
        }
        R::Score(..) | R::Lex(..) => {
            let (lo, hi) = match &range {
                R::Score(min, max) => score_span(z, *min, *max),
                R::Lex(min, max) => lex_span(z, min, max),
                _ => unreachable!(),
            };
            let n = hi - lo;
            if offset < 0 || offset as usize >= n || limit == 0 {
                Vec::new()
            } else {
                let off = offset as usize;
                let take = if limit < 0 {
                    n - off
                } else {
                    (limit as usize).min(n - off)
                };
                if rev {
                    let mut v = z.range(hi - off - take, hi - off);
                    v.reverse();
                    v
                } else {
                    z.range(lo + off, lo + off + take)
                }
            }
        }
    };
    match store {
        Some(dst) => store_result(ctx, dst, elems, "zrangestore"),
        None => reply_elems(ctx, &elems, withscores),
    }
    Ok(())
}

/// Stores `elems` as a sorted set under `dst` (deleting `dst` when empty) and replies with
/// the count, as the *STORE commands do. The encoding decides whether a -0 score stays:
/// ZRANGESTORE (`one_by_one`) adds the elements in order to a set created for their count,
/// converting when a long member comes (as zsetAdd); ZUNIONSTORE and friends build a
/// skiplist and convert the whole result to a listpack when it is small. `event` is the
/// command's keyspace event (`del` when an existing `dst` is deleted).
fn store_result(ctx: &mut Ctx, dst: &[u8], elems: Vec<(Sds, f64)>, event: &str) {
    let one_by_one = event == "zrangestore";
    let n = elems.len();
    if n == 0 {
        ctx.expire_if_needed(dst);
        if ctx.db().remove(dst).is_some() {
            ctx.state.dirty += 1;
            notify(ctx, GENERIC, "del", dst);
        }
    } else {
        let (max_e, max_v) = limits(ctx);
        let mut z = ZSet::default();
        let maxlen = elems.iter().map(|e| e.0.len()).max().unwrap_or(0);
        if one_by_one {
            z.skiplist = n as i64 > max_e;
            for (m, s) in &elems {
                z.add_new(m, *s, max_e, max_v);
            }
        } else {
            z.skiplist = n as i64 > max_e || maxlen as i64 > max_v;
            for (m, s) in &elems {
                z.insert(m, *s);
            }
        }
        ctx.db().set(dst, Value::ZSet(Box::new(z)), false);
        ctx.state.dirty += 1;
        notify(ctx, ZSET, event, dst);
    }
    ctx.out.int(n as i64);
}

/// Redis's rank range normalisation: None when empty.
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

fn zrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, RangeType::Auto, None, None)
}
fn zrevrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, RangeType::Rank, Some(true), None)
}
fn zrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, RangeType::Score, Some(false), None)
}
fn zrevrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, RangeType::Score, Some(true), None)
}
fn zrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, RangeType::Lex, Some(false), None)
}
fn zrevrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, args, RangeType::Lex, Some(true), None)
}

fn zcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let min = parse_score_bound(&args[2]).ok_or(BAD_SCORE_RANGE)?;
    let max = parse_score_bound(&args[3]).ok_or(BAD_SCORE_RANGE)?;
    let n = read_zset(ctx, &args[1])?.map_or(0, |z| {
        let (lo, hi) = score_span(z, min, max);
        hi - lo
    });
    ctx.out.int(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let min = parse_lex_bound(&args[2]).ok_or(BAD_LEX_RANGE)?;
    let max = parse_lex_bound(&args[3]).ok_or(BAD_LEX_RANGE)?;
    let n = read_zset(ctx, &args[1])?.map_or(0, |z| {
        let (lo, hi) = lex_span(z, &min, &max);
        hi - lo
    });
    ctx.out.int(n as i64);
    Ok(())
}

fn zpop_generic(ctx: &mut Ctx, args: &[Bytes], max: bool) -> CmdResult {
    let key = &args[1];
    if args.len() > 3 {
        return Err(err::SYNTAX);
    }
    let count = if args.len() == 3 {
        Some(positive_long(&args[2], None)? as usize)
    } else {
        None
    };
    let Some(z) = write_zset(ctx, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let n = count.unwrap_or(1).min(z.len());
    let len = z.len();
    let mut elems = if max {
        let mut v = z.range(len - n, len);
        v.reverse();
        v
    } else {
        z.range(0, n)
    };
    for (m, _) in &elems {
        z.remove(m);
    }
    let empty = z.is_empty();
    after_pop(ctx, key, max, n, empty);
    if count.is_some() {
        reply_elems(ctx, &elems, true);
    } else {
        ctx.out.array(elems.len() * 2);
        for (m, s) in elems.drain(..) {
            ctx.out.bulk(&m);
            ctx.out.double(s);
        }
    }
    Ok(())
}

/// After `n` members were popped: `zpopmin`/`zpopmax`, then the deletion of an emptied set.
fn after_pop(ctx: &mut Ctx, key: &[u8], max: bool, n: usize, empty: bool) {
    if n == 0 {
        return;
    }
    notify(ctx, ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
    if empty {
        ctx.db().remove(key);
        notify(ctx, GENERIC, "del", key);
    }
    ctx.modified(key, n as u64);
}

fn zpopmin(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, args, false)
}
fn zpopmax(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, args, true)
}

enum RemRange {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

fn zremrange_generic(ctx: &mut Ctx, args: &[Bytes], range: RemRange) -> CmdResult {
    let key = &args[1];
    let Some(z) = write_zset(ctx, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let (lo, hi) = match &range {
        RemRange::Rank(s, e) => match norm_range(*s, *e, z.len() as i64) {
            None => (0, 0),
            Some((s, e)) => (s, e + 1),
        },
        RemRange::Score(min, max) => score_span(z, *min, *max),
        RemRange::Lex(min, max) => lex_span(z, min, max),
    };
    let elems = z.range(lo, hi);
    for (m, _) in &elems {
        z.remove(m);
    }
    let empty = z.is_empty();
    if !elems.is_empty() {
        let event = match range {
            RemRange::Rank(..) => "zremrangebyrank",
            RemRange::Score(..) => "zremrangebyscore",
            RemRange::Lex(..) => "zremrangebylex",
        };
        notify(ctx, ZSET, event, key);
        if empty {
            ctx.db().remove(key);
            notify(ctx, GENERIC, "del", key);
        }
        ctx.modified(key, elems.len() as u64);
    }
    ctx.out.int(elems.len() as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = RemRange::Rank(arg_i64(&args[2])?, arg_i64(&args[3])?);
    zremrange_generic(ctx, args, r)
}
fn zremrangebyscore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = RemRange::Score(
        parse_score_bound(&args[2]).ok_or(BAD_SCORE_RANGE)?,
        parse_score_bound(&args[3]).ok_or(BAD_SCORE_RANGE)?,
    );
    zremrange_generic(ctx, args, r)
}
fn zremrangebylex(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = RemRange::Lex(
        parse_lex_bound(&args[2]).ok_or(BAD_LEX_RANGE)?,
        parse_lex_bound(&args[3]).ok_or(BAD_LEX_RANGE)?,
    );
    zremrange_generic(ctx, args, r)
}

fn zrangestore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let dst = args[1].clone();
    zrange_generic(ctx, &args[1..], RangeType::Auto, None, Some(&dst))
}

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

/// ZUNION/ZINTER/ZDIFF[STORE] and ZINTERCARD. `nk` is the index of numkeys.
fn zsetop(
    ctx: &mut Ctx,
    args: &[Bytes],
    nk: usize,
    op: SetOp,
    dst: Option<&[u8]>,
    card: bool,
) -> CmdResult {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let setnum = arg_i64(&args[nk])?;
    if setnum < 1 {
        return Err(CmdError::msg(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if setnum as usize > args.len() - (nk + 1) {
        return Err(err::SYNTAX);
    }
    let setnum = setnum as usize;
    let keys = &args[nk + 1..nk + 1 + setnum];
    // Each source: None (absent) or its (member, score) pairs.
    let mut srcs: Vec<Option<Vec<(Sds, f64)>>> = Vec::with_capacity(setnum);
    for k in keys {
        let v = if dst.is_some() {
            ctx.lookup_write(k)
        } else {
            ctx.lookup_read(k)
        };
        srcs.push(match v {
            None => None,
            Some(Value::ZSet(z)) => Some(z.range(0, z.len())),
            Some(Value::Set(s)) => Some(s.iter().map(|m| (Sds::from_slice(&m), 1.0)).collect()),
            Some(_) => return Err(err::WRONGTYPE),
        });
    }
    let mut weights = vec![1.0f64; setnum];
    let mut aggregate = 0u8; // 0 sum, 1 min, 2 max
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = nk + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        if op != SetOp::Diff && !card && remaining > setnum && is(&args[j], "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = double_arg(&args[j + 1 + i])
                    .ok_or(CmdError::fixed("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && !card && remaining >= 2 && is(&args[j], "aggregate") {
            let a = &args[j + 1];
            aggregate = if is(a, "sum") {
                0
            } else if is(a, "min") {
                1
            } else if is(a, "max") {
                2
            } else {
                return Err(err::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card && is(&args[j], "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is(&args[j], "limit") {
            limit = positive_long(&args[j + 1], Some("ERR LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let agg = |acc: f64, v: f64| -> f64 {
        match aggregate {
            0 => {
                let r = acc + v;
                if r.is_nan() { 0.0 } else { r }
            }
            // Redis keeps the value it holds on a tie (0 vs -0): `val < *target ? val : *target`.
            1 => {
                if v < acc {
                    v
                } else {
                    acc
                }
            }
            _ => {
                if v > acc {
                    v
                } else {
                    acc
                }
            }
        }
    };
    let weighted = |s: f64, w: f64| {
        let r = s * w;
        if r.is_nan() { 0.0 } else { r }
    };
    let mut result: std::collections::HashMap<Sds, f64> = std::collections::HashMap::new();
    match op {
        SetOp::Union => {
            for (i, src) in srcs.iter().enumerate() {
                for (m, s) in src.iter().flatten() {
                    let v = weighted(*s, weights[i]);
                    result
                        .entry(m.clone())
                        .and_modify(|acc| *acc = agg(*acc, v))
                        .or_insert(v);
                }
            }
        }
        SetOp::Inter => {
            if srcs.iter().all(|s| s.is_some()) {
                let maps: Vec<std::collections::HashMap<&[u8], f64>> = srcs
                    .iter()
                    .map(|s| {
                        s.as_ref()
                            .unwrap()
                            .iter()
                            .map(|(m, sc)| (&m[..], *sc))
                            .collect()
                    })
                    .collect();
                let mut order: Vec<usize> = (0..setnum).collect();
                order.sort_by_key(|&i| maps[i].len());
                let first = order[0];
                'outer: for (m, s) in srcs[first].as_ref().unwrap() {
                    let mut acc = weighted(*s, weights[first]);
                    for &i in &order[1..] {
                        match maps[i].get(&m[..]) {
                            Some(&sc) => acc = agg(acc, weighted(sc, weights[i])),
                            None => continue 'outer,
                        }
                    }
                    result.insert(m.clone(), acc);
                }
            }
        }
        SetOp::Diff => {
            if let Some(first) = &srcs[0] {
                let others: Vec<std::collections::HashSet<&[u8]>> = srcs[1..]
                    .iter()
                    .flatten()
                    .map(|s| s.iter().map(|(m, _)| &m[..]).collect())
                    .collect();
                for (m, s) in first {
                    if !others.iter().any(|o| o.contains(&m[..])) {
                        result.insert(m.clone(), *s);
                    }
                }
            }
        }
    }
    if card {
        let n = result.len();
        let n = if limit > 0 { n.min(limit as usize) } else { n };
        ctx.out.int(n as i64);
        return Ok(());
    }
    // A -0 sum stays in the reply (Redis replies from its skiplist); store_result decides.
    let mut elems: Vec<(Sds, f64)> = result.into_iter().collect();
    elems.sort_by(|a, b| crate::server::types::zset::cmp_elem(a.1, &a.0, b.1, &b.0));
    match dst {
        Some(d) => {
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            store_result(ctx, d, elems, event)
        }
        None => reply_elems(ctx, &elems, withscores),
    }
    Ok(())
}

fn zunion(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zsetop(ctx, args, 1, SetOp::Union, None, false)
}
fn zinter(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zsetop(ctx, args, 1, SetOp::Inter, None, false)
}
fn zdiff(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zsetop(ctx, args, 1, SetOp::Diff, None, false)
}
fn zunionstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let d = args[1].clone();
    zsetop(ctx, args, 2, SetOp::Union, Some(&d), false)
}
fn zinterstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let d = args[1].clone();
    zsetop(ctx, args, 2, SetOp::Inter, Some(&d), false)
}
fn zdiffstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let d = args[1].clone();
    zsetop(ctx, args, 2, SetOp::Diff, Some(&d), false)
}
fn zintercard(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    zsetop(ctx, args, 1, SetOp::Inter, None, true)
}

/// A sorted set as a source of random picks, with or without scores.
struct ZSetPicks<'a>(&'a ZSet, bool);

impl random_pick::Source for ZSetPicks<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn random(&self, seed: u64) -> Pick {
        let (m, s) = self
            .0
            .select((seed % self.0.len() as u64) as usize)
            .expect("not empty");
        zpick(m, s, self.1)
    }
    fn all(&self) -> Vec<Pick> {
        self.0.iter().map(|(m, s)| zpick(&m, s, self.1)).collect()
    }
}

fn zpick(m: &[u8], s: f64, withscores: bool) -> Pick {
    let m = Bytes::copy_from_slice(m);
    if withscores {
        Pick::WithScore(m, s)
    } else {
        Pick::Member(m)
    }
}

fn zrandmember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if args.len() == 2 {
        let elems = match read_zset(ctx, key)? {
            None => {
                ctx.out.null();
                return Ok(());
            }
            Some(z) => z.len(),
        };
        let i = (ctx.state.next_random() % elems as u64) as usize;
        let m = match ctx.db().get(key) {
            Some(Value::ZSet(z)) => z.select(i).unwrap().0.clone(),
            _ => unreachable!(),
        };
        ctx.out.bulk(&m);
        return Ok(());
    }
    let count = random_pick::parse_count(&args[2])?;
    let withscores = match args.len() {
        3 => false,
        4 if is(&args[3], "withscores") => true,
        _ => return Err(err::SYNTAX),
    };
    if withscores {
        random_pick::check_pairs(count)?;
    }
    if read_zset(ctx, key)?.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let rng = random_pick::Rng::new(ctx.state.next_random());
    let Some(Value::ZSet(z)) = ctx.state.dbs[ctx.client.db].get(key) else {
        unreachable!()
    };
    random_pick::reply_count(ctx.out, &ZSetPicks(z, withscores), count, withscores, rng);
    Ok(())
}

fn zscan(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let _cursor = parse_cursor(&args[2])?;
    // As Redis: the cursor, then the key (an empty scan, WRONGTYPE), then the options.
    if read_zset(ctx, &args[1])?.is_none() {
        scan_reply::<&[u8]>(ctx, 0, &[]);
        return Ok(());
    }
    let opts = scan_options(args, 3, false)?;
    let mut items = Vec::new();
    if let Some(z) = read_zset(ctx, &args[1])? {
        for (m, s) in z.iter() {
            if opts.matches(&m) {
                items.push(m.into_owned());
                items.push(crate::server::numbers::format_double(s).into_bytes());
            }
        }
    }
    scan_reply(ctx, 0, &items);
    Ok(())
}

fn zmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let p = mpop_args(args, ["min", "max"])?;
    zmpop_serve(ctx, args, p)
}

/// ZMPOP once its arguments are parsed: pops from the first non-empty sorted set.
fn zmpop_serve(ctx: &mut Ctx, args: &[Bytes], p: MpopArgs) -> CmdResult {
    let MpopArgs {
        where_idx,
        first,
        count,
    } = p;
    let max = !first;
    for key in &args[2..where_idx] {
        // A client blocked earlier on this key is served first (BZMPOP's fairness).
        if write_zset(ctx, key)?.is_some() && !super::blocking::may_serve(ctx, key) {
            continue;
        }
        if let Some(z) = write_zset(ctx, key)? {
            let len = z.len();
            let n = count.min(len);
            let elems = if max {
                let mut v = z.range(len - n, len);
                v.reverse();
                v
            } else {
                z.range(0, n)
            };
            for (m, _) in &elems {
                z.remove(m);
            }
            let empty = z.is_empty();
            after_pop(ctx, key, max, n, empty);
            // ZMPOP and BZMPOP reach replicas as ZPOPMIN/ZPOPMAX key count, as in Redis.
            let pop: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
            let c = n.to_string();
            ctx.propagate_instead(&[pop, key, c.as_bytes()]);
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.array(elems.len());
            for (m, s) in elems {
                ctx.out.array(2);
                ctx.out.bulk(&m);
                ctx.out.double(s);
            }
            return Ok(());
        }
    }
    ctx.out.null_array();
    Ok(())
}

fn bzpop_generic(ctx: &mut Ctx, args: &[Bytes], max: bool) -> CmdResult {
    let timeout = timeout_arg(&args[args.len() - 1])?;
    for key in &args[1..args.len() - 1] {
        if write_zset(ctx, key)?.is_none() || !super::blocking::may_serve(ctx, key) {
            continue;
        }
        if let Some(z) = write_zset(ctx, key)? {
            // Redis propagates a served BZPOPMIN/BZPOPMAX as ZPOPMIN/ZPOPMAX.
            let len = z.len();
            let (m, s) = if max {
                z.range(len - 1, len)
            } else {
                z.range(0, 1)
            }
            .pop()
            .unwrap();
            z.remove(&m);
            let empty = z.is_empty();
            after_pop(ctx, key, max, 1, empty);
            let pop: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
            ctx.propagate_instead(&[pop, key]);
            ctx.out.array(3);
            ctx.out.bulk(key);
            ctx.out.bulk(&m);
            ctx.out.double(s);
            return Ok(());
        }
    }
    super::blocking::block_or_timeout(ctx, timeout, &args[1..args.len() - 1]);
    Ok(())
}

fn bzpopmin(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, args, false)
}
fn bzpopmax(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, args, true)
}

fn bzmpop(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Redis parses the timeout after the other arguments (blockingGenericCommand).
    let p = mpop_args(&args[1..], ["min", "max"])?;
    let timeout = timeout_arg(&args[1])?;
    let len_before = ctx.out.buf.len();
    zmpop_serve(ctx, &args[1..], p)?;
    let null = if ctx.out.proto == Proto::Resp2 {
        &b"*-1\r\n"[..]
    } else {
        &b"_\r\n"[..]
    };
    if &ctx.out.buf[len_before..] == null {
        ctx.out.buf.truncate(len_before);
        let n = (arg_i64(&args[2]).unwrap_or(0) as usize).min(args.len() - 3);
        super::blocking::block_or_timeout(ctx, timeout, &args[3..3 + n]);
    }
    Ok(())
}
