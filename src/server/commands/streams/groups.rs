//! Consumer groups: XGROUP (one handler per subcommand), XACK, XPENDING, XCLAIM,
//! XAUTOCLAIM.

use super::{
    no_such_group, nogroup, parse_id, prevent_propagation, propagate_claim, propagate_claim_of,
    propagate_group_id, range_end, range_start, read_stream, reply_id, stream_mut,
    subcommand_syntax, write_stream,
};
use crate::server::commands::{CmdError, CmdResult, Ctx, arg_i64, err, is};
use crate::server::notify::{STREAM, notify};
use crate::server::types::Value;
use crate::server::types::stream::{Group, Stream, StreamId, group::INVALID_ENTRIES_READ};
use bytes::Bytes;

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

/// XGROUP HELP.
pub fn xgroup_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::super::reply_help(ctx, "XGROUP", XGROUP_HELP);
    Ok(())
}

/// CREATE / SETID options: (MKSTREAM, ENTRIESREAD).
fn group_options(args: &[Bytes], create: bool) -> Result<(bool, i64), CmdError> {
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let mut i = 5;
    while i < args.len() {
        if create && is(&args[i], "mkstream") {
            mkstream = true;
        } else if is(&args[i], "entriesread") && i + 1 < args.len() {
            entries_read = arg_i64(&args[i + 1])?;
            if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                return Err(CmdError::fixed(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 1;
        } else {
            return Err(subcommand_syntax("xgroup", &args[1]));
        }
        i += 1;
    }
    Ok((mkstream, entries_read))
}

const NEED_KEY: CmdError = CmdError::fixed(
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
);

/// The stream for an XGROUP subcommand that needs the key and the group.
fn group_stream<'c>(ctx: &'c mut Ctx, args: &[Bytes]) -> Result<&'c mut Stream, CmdError> {
    let s = write_stream(ctx, &args[2])?.ok_or(NEED_KEY)?;
    if !s.groups.contains_key(&args[3][..]) {
        return Err(no_such_group(&args[2], &args[3]));
    }
    Ok(s)
}

pub fn xgroup_create(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mkstream, entries_read) = group_options(args, true)?;
    if args.len() > 8 {
        return Err(subcommand_syntax("xgroup", &args[1]));
    }
    let key = &args[2];
    let exists = write_stream(ctx, key)?.is_some();
    if !exists && !mkstream {
        return Err(NEED_KEY);
    }
    let id = if &args[4][..] == b"$" {
        match write_stream(ctx, key)? {
            Some(s) => s.last_id,
            None => StreamId::MIN,
        }
    } else {
        parse_id(&args[4], true, 0)?
    };
    if !exists {
        ctx.db().set(key, Value::Stream(Box::default()), false);
        ctx.modified(key, 0);
    }
    let s = stream_mut(ctx, key);
    if s.groups.contains_key(&args[3][..]) {
        return Err(CmdError::fixed(
            "BUSYGROUP Consumer Group name already exists",
        ));
    }
    s.groups
        .insert(args[3].to_vec(), Group::new(id, entries_read));
    ctx.modified(key, 1);
    notify(ctx, STREAM, "xgroup-create", key);
    ctx.out.ok();
    Ok(())
}

pub fn xgroup_setid(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (_, entries_read) = group_options(args, false)?;
    if args.len() != 5 && args.len() != 7 {
        return Err(subcommand_syntax("xgroup", &args[1]));
    }
    let s = group_stream(ctx, args)?;
    let id = if &args[4][..] == b"$" {
        s.last_id
    } else {
        parse_id(&args[4], false, 0)?
    };
    let g = s.groups.get_mut(&args[3][..]).expect("checked");
    g.last_id = id;
    g.entries_read = entries_read;
    ctx.modified(&args[2], 1);
    notify(ctx, STREAM, "xgroup-setid", &args[2]);
    ctx.out.ok();
    Ok(())
}

pub fn xgroup_destroy(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let s = write_stream(ctx, &args[2])?.ok_or(NEED_KEY)?;
    if s.groups.remove(&args[3][..]).is_some() {
        ctx.modified(&args[2], 1);
        notify(ctx, STREAM, "xgroup-destroy", &args[2]);
        ctx.out.int(1);
    } else {
        ctx.out.int(0);
    }
    Ok(())
}

pub fn xgroup_createconsumer(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let s = group_stream(ctx, args)?;
    let g = s.groups.get_mut(&args[3][..]).expect("checked");
    if g.create_consumer(&args[4], now) {
        ctx.modified(&args[2], 1);
        notify(ctx, STREAM, "xgroup-createconsumer", &args[2]);
        ctx.out.int(1);
    } else {
        ctx.out.int(0);
    }
    Ok(())
}

pub fn xgroup_delconsumer(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let s = group_stream(ctx, args)?;
    let g = s.groups.get_mut(&args[3][..]).expect("checked");
    let pending = g.delete_consumer(&args[4]);
    ctx.modified(&args[2], 1);
    notify(ctx, STREAM, "xgroup-delconsumer", &args[2]);
    ctx.out.int(pending as i64);
    Ok(())
}

/// XACK key group id [id ...]
pub fn xack(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let has_group = read_stream(ctx, key)?.is_some_and(|s| s.groups.contains_key(&args[2][..]));
    if !has_group {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = args[3..]
        .iter()
        .map(|a| parse_id(a, true, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let g = stream_mut(ctx, key)
        .groups
        .get_mut(&args[2][..])
        .expect("checked");
    let acked = ids.into_iter().filter(|id| g.ack(*id)).count();
    if acked > 0 {
        ctx.modified(key, acked as u64);
    }
    ctx.out.int(acked as i64);
    Ok(())
}

/// XPENDING key group [[IDLE min-idle] start end count [consumer]]
pub fn xpending(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = args.len();
    if n != 3 && !(6..=9).contains(&n) {
        return Err(err::SYNTAX);
    }
    let mut range = None;
    let mut min_idle = 0;
    if n >= 6 {
        let mut at = 3;
        if is(&args[3], "idle") {
            min_idle = arg_i64(&args[4])?;
            if n < 8 {
                return Err(err::SYNTAX);
            }
            at += 2;
        }
        let count = arg_i64(&args[at + 2])?.max(0) as usize;
        let start = range_start(&args[at])?;
        let end = range_end(&args[at + 1])?;
        let consumer = args.get(at + 3);
        range = Some((start, end, count, consumer));
    }
    let now = ctx.now_ms;
    let key = &args[1];
    let group = &args[2];
    let s = read_stream(ctx, key)?;
    let Some(g) = s.and_then(|s| s.groups.get(&group[..])) else {
        return Err(nogroup(key, group, ""));
    };
    match range {
        None => {
            let summary = pending_summary(g);
            reply_summary(ctx, summary);
        }
        Some((start, end, count, consumer)) => {
            let rows = pending_rows(
                g,
                start,
                end,
                count,
                consumer.map(|c| &c[..]),
                min_idle,
                now,
            );
            ctx.out.array(rows.len());
            for (id, owner, idle, deliveries) in rows {
                ctx.out.array(4);
                reply_id(ctx.out, id);
                ctx.out.bulk(&owner);
                ctx.out.int(idle);
                ctx.out.int(deliveries as i64);
            }
        }
    }
    Ok(())
}

/// XPENDING's summary: total, first and last ids, and (consumer, count) of the owners.
type Summary = (usize, Option<(StreamId, StreamId)>, Vec<(Vec<u8>, usize)>);

fn pending_summary(g: &Group) -> Summary {
    let edges = match (g.pel.keys().next(), g.pel.keys().next_back()) {
        (Some(f), Some(l)) => Some((*f, *l)),
        _ => None,
    };
    let owners = g
        .consumers
        .iter()
        .filter(|(_, c)| !c.pel.is_empty())
        .map(|(name, c)| (name.to_vec(), c.pel.len()))
        .collect();
    (g.pel.len(), edges, owners)
}

fn reply_summary(ctx: &mut Ctx, (total, edges, owners): Summary) {
    ctx.out.array(4);
    ctx.out.int(total as i64);
    match edges {
        Some((f, l)) => {
            reply_id(ctx.out, f);
            reply_id(ctx.out, l);
            ctx.out.array(owners.len());
            for (name, k) in owners {
                ctx.out.array(2);
                ctx.out.bulk(&name);
                ctx.out.bulk_int(k as i64);
            }
        }
        None => {
            ctx.out.null();
            ctx.out.null();
            ctx.out.null_array();
        }
    }
}

/// XPENDING's extended form: (id, owner, idle ms, deliveries) rows.
fn pending_rows(
    g: &Group,
    start: StreamId,
    end: StreamId,
    count: usize,
    consumer: Option<&[u8]>,
    min_idle: i64,
    now: i64,
) -> Vec<(StreamId, Vec<u8>, i64, u64)> {
    let ids: Vec<StreamId> = match consumer {
        Some(c) => match g.consumers.get(c) {
            Some(c) => c.pel.range(start..).copied().collect(),
            None => return Vec::new(),
        },
        None => g.pel.range(start..).map(|(id, _)| *id).collect(),
    };
    let mut rows = Vec::new();
    for id in ids {
        if rows.len() >= count || id > end {
            break;
        }
        let nack = &g.pel[&id];
        if min_idle != 0 && now.wrapping_sub(nack.delivery_time) < min_idle {
            continue;
        }
        rows.push((
            id,
            nack.consumer.to_vec(),
            (now.wrapping_sub(nack.delivery_time)).max(0),
            nack.delivery_count,
        ));
    }
    rows
}

/// How XCLAIM changes a claimed entry.
struct ClaimOpts {
    delivery_time: i64,
    retry_count: Option<u64>,
    force: bool,
    justid: bool,
}

/// Gives `id` to `consumer` (creating it), as XCLAIM/XAUTOCLAIM do; replies the entry
/// (or its id) and streams the claim.
fn claim_one(
    ctx: &mut Ctx,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    id: StreamId,
    o: &ClaimOpts,
) {
    let now = ctx.now_ms;
    let s = stream_mut(ctx, key);
    let item = if o.justid { None } else { s.get(id) };
    let g = s.groups.get_mut(group).expect("checked");
    let created = g.create_consumer(consumer, now);
    if let Some(c) = g.consumers.get_mut(consumer) {
        c.seen_time = now;
    }
    // A NACK created by FORCE starts at one delivery, as streamCreateNACK.
    let prev = g.pel.get(&id).map(|n| n.delivery_count).unwrap_or(1);
    let count = match o.retry_count {
        Some(n) => n,
        None if !o.justid => prev + 1,
        None => prev,
    };
    g.assign(id, consumer, o.delivery_time, count);
    if o.justid {
        reply_id(ctx.out, id);
    } else {
        match item {
            Some(it) => super::reply_item(ctx.out, &it),
            None => ctx.out.null(),
        }
    }
    propagate_claim(ctx, key, group, id);
    ctx.modified(key, 1);
    if created {
        notify(ctx, STREAM, "xgroup-createconsumer", key);
    }
}

/// Drops a pending entry whose stream entry is gone (streaming the same drop).
fn drop_gone(ctx: &mut Ctx, key: &[u8], group: &[u8], id: StreamId) {
    let s = stream_mut(ctx, key);
    let g = s.groups.get_mut(group).expect("checked");
    let (Some(n), last) = (g.pel.get(&id).cloned(), g.last_id) else {
        return;
    };
    g.ack(id);
    propagate_claim_of(ctx, key, group, id, &n, last);
    ctx.modified(key, 1);
}

/// The stream of XCLAIM / XAUTOCLAIM: NOGROUP when the key or the group is missing.
fn claim_target(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let ok = read_stream(ctx, &args[1])?.is_some_and(|s| s.groups.contains_key(&args[2][..]));
    if !ok {
        return Err(nogroup(&args[1], &args[2], ""));
    }
    Ok(())
}

/// XCLAIM key group consumer min-idle id [id ...] [IDLE ms] [TIME ms] [RETRYCOUNT n]
/// [FORCE] [JUSTID] [LASTID id]
pub fn xclaim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    claim_target(ctx, args)?;
    let min_idle = arg_i64(&args[4])
        .map_err(|_| CmdError::fixed("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < args.len() {
        match crate::server::types::stream::id::parse(&args[j], true, 0, false) {
            Some(p) => ids.push(p.id),
            None => break,
        }
        j += 1;
    }
    let now = ctx.now_ms;
    let mut delivery: Option<i64> = None;
    let mut retry: Option<i64> = None;
    let (mut force, mut justid) = (false, false);
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = &args[j];
        let num = |a: &[u8], what: &str| {
            arg_i64(a).map_err(|_| {
                CmdError::msg(format!("ERR Invalid {what} option argument for XCLAIM"))
            })
        };
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            delivery = Some(now.wrapping_sub(num(&args[j], "IDLE")?));
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = Some(num(&args[j], "TIME")?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            retry = Some(num(&args[j], "RETRYCOUNT")?);
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_id(&args[j], true, 0)?;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    prevent_propagation(ctx);
    let key = &args[1];
    let group = &args[2];
    let mut propagate_last_id = false;
    {
        let g = stream_mut(ctx, key)
            .groups
            .get_mut(&group[..])
            .expect("checked");
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
    }
    let delivery_time = match delivery {
        Some(t) if (0..=now).contains(&t) => t,
        _ => now,
    };
    let opts = ClaimOpts {
        delivery_time,
        retry_count: retry.filter(|r| *r >= 0).map(|r| r as u64),
        force,
        justid,
    };
    let mut claimed: Vec<StreamId> = Vec::new();
    for id in ids {
        let s = stream_mut(ctx, key);
        let exists = s.contains(id);
        let g = s.groups.get(&group[..]).expect("checked");
        let nack = g.pel.get(&id).cloned();
        if !exists {
            if nack.is_some() {
                drop_gone(ctx, key, group, id);
                propagate_last_id = false;
            }
            continue;
        }
        let Some(nack) = nack else {
            if opts.force {
                claimed.push(id);
            }
            continue;
        };
        if min_idle > 0 && now.wrapping_sub(nack.delivery_time) < min_idle {
            continue;
        }
        claimed.push(id);
    }
    ctx.out.array(claimed.len());
    for id in &claimed {
        claim_one(ctx, key, group, &args[3], *id, &opts);
        propagate_last_id = false;
    }
    if propagate_last_id {
        propagate_group_id(ctx, key, group);
        ctx.modified(key, 1);
    }
    Ok(())
}

/// XAUTOCLAIM key group consumer min-idle start [COUNT n] [JUSTID]
pub fn xautoclaim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let group = &args[2];
    let min_idle = arg_i64(&args[4])
        .map_err(|_| CmdError::fixed("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = range_start(&args[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match arg_i64(&args[j + 1]) {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => return Err(CmdError::fixed("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if is(&args[j], "justid") {
            justid = true;
        } else {
            return Err(err::SYNTAX);
        }
        j += 1;
    }
    claim_target(ctx, args)?;
    prevent_propagation(ctx);
    let now = ctx.now_ms;
    let mut attempts = count.saturating_mul(10);
    let mut left = count;
    let pending: Vec<(StreamId, i64)> = {
        let g = &stream_mut(ctx, key).groups[&group[..]];
        g.pel
            .range(start..)
            .map(|(id, n)| (*id, n.delivery_time))
            .collect()
    };
    let mut next = StreamId::MIN;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut it = pending.into_iter();
    for (id, time) in it.by_ref() {
        if attempts == 0 || left == 0 {
            next = id;
            break;
        }
        attempts -= 1;
        if !stream_mut(ctx, key).contains(id) {
            drop_gone(ctx, key, group, id);
            deleted.push(id);
            left -= 1;
            continue;
        }
        if min_idle > 0 && now.wrapping_sub(time) < min_idle {
            continue;
        }
        claimed.push(id);
        left -= 1;
    }
    let _ = it;
    let opts = ClaimOpts {
        delivery_time: now,
        retry_count: None,
        force: false,
        justid,
    };
    ctx.out.array(3);
    reply_id(ctx.out, next);
    ctx.out.array(claimed.len());
    for id in &claimed {
        claim_one(ctx, key, group, &args[3], *id, &opts);
    }
    ctx.out.array(deleted.len());
    for id in deleted {
        reply_id(ctx.out, id);
    }
    Ok(())
}
