//! XREAD and XREADGROUP, blocking included.
//!
//! A blocked read runs again after each write (see `blocking.rs`). XREAD keeps the ids it
//! resolved the first time (`$` is the last id at that moment) in the client, so the run
//! after an XADD serves exactly what arrived since. XREADGROUP with `>` re-reads the group's
//! last delivered id each time, and waits its turn behind earlier waiters on the same key
//! (`may_serve`), as BLPOP does.

use super::{
    nogroup, parse_id, propagate_claim, propagate_group_id, read_stream, reply_id, reply_item,
};
use crate::server::commands::blocking::{block_or_timeout, may_serve};
use crate::server::commands::{CmdError, CmdResult, Ctx, arg_i64, err, is};
use crate::server::types::Value;
use crate::server::types::stream::{Item, StreamId};
use bytes::Bytes;

/// The `>` id of XREADGROUP.
const NEW_ONLY: StreamId = StreamId::MAX;

/// Parsed XREAD / XREADGROUP arguments.
struct ReadArgs<'a> {
    timeout_ms: Option<i64>,
    count: usize,
    noack: bool,
    group: Option<(&'a Bytes, &'a Bytes)>,
    keys: &'a [Bytes],
    ids: &'a [Bytes],
}

fn block_timeout(arg: &[u8]) -> Result<i64, CmdError> {
    let t = crate::server::numbers::parse_i64(arg).ok_or(CmdError::fixed(
        "ERR timeout is not an integer or out of range",
    ))?;
    if t < 0 {
        return Err(CmdError::fixed("ERR timeout is negative"));
    }
    Ok(t)
}

fn parse<'a>(args: &'a [Bytes], xreadgroup: bool) -> Result<ReadArgs<'a>, CmdError> {
    let mut r = ReadArgs {
        timeout_ms: None,
        count: 0,
        noack: false,
        group: None,
        keys: &[],
        ids: &[],
    };
    let mut streams_at = 0;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = &args[i];
        if is(o, "block") && more > 0 {
            i += 1;
            r.timeout_ms = Some(block_timeout(&args[i])?);
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = arg_i64(&args[i])?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            streams_at = i + 1;
            let n = args.len() - streams_at;
            if !n.is_multiple_of(2) {
                // Redis 7.0 words it so for XREADGROUP too.
                return Err(CmdError::fixed(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            r.keys = &args[streams_at..streams_at + n / 2];
            r.ids = &args[streams_at + n / 2..];
            break;
        } else if is(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(CmdError::fixed(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((&args[i + 1], &args[i + 2]));
            i += 2;
        } else if is(o, "noack") {
            if !xreadgroup {
                return Err(CmdError::fixed(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    if streams_at == 0 {
        return Err(err::SYNTAX);
    }
    if xreadgroup && r.group.is_none() {
        return Err(CmdError::fixed("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// Resolves each stream's id: `$` (XREAD), `>` (XREADGROUP) or an explicit id; checks
/// types and, for XREADGROUP, that key and group exist.
fn resolve_ids(ctx: &mut Ctx, r: &ReadArgs) -> Result<Vec<StreamId>, CmdError> {
    let mut ids = Vec::with_capacity(r.keys.len());
    for (key, arg) in r.keys.iter().zip(r.ids) {
        let s = read_stream(ctx, key)?;
        if let Some((group, _)) = r.group
            && s.as_ref()
                .is_none_or(|s| !s.groups.contains_key(&group[..]))
        {
            return Err(nogroup(key, group, " in XREADGROUP with GROUP option"));
        }
        let last = s.map(|s| s.last_id);
        ids.push(if &arg[..] == b"$" {
            if r.group.is_some() {
                return Err(CmdError::fixed(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            last.unwrap_or(StreamId::MIN)
        } else if &arg[..] == b">" {
            if r.group.is_none() {
                return Err(CmdError::fixed(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            NEW_ONLY
        } else {
            parse_id(arg, true, 0)?
        });
    }
    Ok(ids)
}

/// XREAD [COUNT n] [BLOCK ms] STREAMS key ... id ...
pub fn xread(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = parse(args, false)?;
    let rerun = ctx.client.blocked_until.is_some();
    let ids = if rerun && ctx.client.blocked_stream_ids.len() == r.keys.len() {
        // Blocked: the ids as resolved when it blocked; a key that changed type meanwhile
        // is skipped (Redis keeps such a client blocked).
        ctx.client.blocked_stream_ids.clone()
    } else {
        resolve_ids(ctx, &r)?
    };
    let mut served: Vec<(&Bytes, Vec<Item>)> = Vec::new();
    for (key, gt) in r.keys.iter().zip(&ids) {
        let Some(Value::Stream(s)) = ctx.lookup_read(key) else {
            continue;
        };
        if s.length == 0 || s.last_valid_id() <= *gt {
            continue;
        }
        let Some(start) = gt.incr() else {
            continue;
        };
        served.push((key, s.range(start, StreamId::MAX, false, r.count)));
    }
    if !served.is_empty() {
        ctx.client.blocked_stream_ids.clear();
        reply_streams(ctx, &served);
        return Ok(());
    }
    match r.timeout_ms {
        Some(t) => {
            block_or_timeout(ctx, t, r.keys);
            if matches!(ctx.flow, crate::server::commands::Flow::Blocked(_)) {
                ctx.client.blocked_stream_ids = ids;
            } else {
                ctx.client.blocked_stream_ids.clear();
            }
        }
        None => ctx.out.null_array(),
    }
    Ok(())
}

/// A blocked XREADGROUP whose stream or group went away while it waited gets Redis's
/// errors for it.
fn check_still_there(ctx: &mut Ctx, r: &ReadArgs) -> CmdResult {
    let (group, _) = r.group.expect("XREADGROUP has a group");
    for key in r.keys {
        match ctx.lookup_read(key) {
            Some(Value::Stream(s)) => {
                if !s.groups.contains_key(&group[..]) {
                    return Err(CmdError::fixed(
                        "NOGROUP the consumer group this client was blocked on no longer exists",
                    ));
                }
            }
            _ => {
                return Err(CmdError::fixed("UNBLOCKED the stream key no longer exists"));
            }
        }
    }
    Ok(())
}

/// `[[key, entries], ...]` in RESP2, `{key: entries}` in RESP3.
fn reply_streams(ctx: &mut Ctx, served: &[(&Bytes, Vec<Item>)]) {
    let resp3 = ctx.client.proto == crate::resp::Proto::Resp3;
    if resp3 {
        ctx.out.map(served.len());
    } else {
        ctx.out.array(served.len());
    }
    for (key, items) in served {
        if !resp3 {
            ctx.out.array(2);
        }
        ctx.out.bulk(key);
        super::reply_items(ctx.out, items);
    }
}

/// What XREADGROUP gives back for one stream: entries, or (history) ids whose entry is
/// gone, which reply `[id, nil]`.
enum Served {
    Item(Item),
    Gone(StreamId),
}

/// XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key ... id ...
pub fn xreadgroup(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let r = parse(args, true)?;
    if ctx.client.blocked_until.is_some() {
        check_still_there(ctx, &r)?;
    }
    let ids = resolve_ids(ctx, &r)?;
    let (group, consumer) = r.group.expect("checked by parse");
    // Only the XCLAIM / XGROUP commands below reach replicas, never XREADGROUP itself.
    super::prevent_propagation(ctx);
    let blocking = r.timeout_ms.is_some() && !ctx.in_exec;
    let mut out: Vec<(&Bytes, Vec<Served>)> = Vec::new();
    for (key, gt) in r.keys.iter().zip(&ids) {
        let s = super::stream_mut(ctx, key);
        let g = s.groups.get(&group[..]).expect("checked by resolve_ids");
        let history = *gt != NEW_ONLY;
        let has_new = s.length > 0 && s.last_valid_id() > g.last_id;
        if !history && !has_new {
            continue;
        }
        if !history && blocking && !may_serve(ctx, key) {
            continue;
        }
        let served = if history {
            serve_history(ctx, key, group, consumer, *gt, r.count)
        } else {
            serve_new(ctx, key, group, consumer, r.count, r.noack)
        };
        ctx.modified(key, 1);
        out.push((key, served));
    }
    if !out.is_empty() {
        let resp3 = ctx.client.proto == crate::resp::Proto::Resp3;
        if resp3 {
            ctx.out.map(out.len());
        } else {
            ctx.out.array(out.len());
        }
        for (key, served) in &out {
            if !resp3 {
                ctx.out.array(2);
            }
            ctx.out.bulk(key);
            ctx.out.array(served.len());
            for s in served {
                match s {
                    Served::Item(it) => reply_item(ctx.out, it),
                    Served::Gone(id) => {
                        ctx.out.array(2);
                        reply_id(ctx.out, *id);
                        ctx.out.null_array();
                    }
                }
            }
        }
        return Ok(());
    }
    match r.timeout_ms {
        Some(t) => block_or_timeout(ctx, t, r.keys),
        None => ctx.out.null_array(),
    }
    Ok(())
}

/// Looks the consumer up, creating it (and streaming its creation when nothing else will
/// create it on replicas, i.e. under NOACK); refreshes its seen time.
fn touch_consumer(ctx: &mut Ctx, key: &[u8], group: &[u8], consumer: &[u8], noack: bool) {
    let now = ctx.now_ms;
    let s = super::stream_mut(ctx, key);
    let g = s.groups.get_mut(group).expect("group exists");
    let created = g.create_consumer(consumer, now);
    if let Some(c) = g.consumers.get_mut(consumer) {
        c.seen_time = now;
    }
    if created && noack {
        ctx.propagate_instead(&[&b"XGROUP"[..], b"CREATECONSUMER", key, group, consumer]);
    }
    if created {
        crate::server::notify::notify(
            ctx,
            crate::server::notify::STREAM,
            "xgroup-createconsumer",
            key,
        );
    }
}

/// Entries the group has not delivered yet, after its last id.
fn serve_new(
    ctx: &mut Ctx,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    count: usize,
    noack: bool,
) -> Vec<Served> {
    touch_consumer(ctx, key, group, consumer, noack);
    let now = ctx.now_ms;
    let s = super::stream_mut(ctx, key);
    let start = s.groups[group].last_id.incr();
    let items = match start {
        Some(start) => s.range(start, StreamId::MAX, false, count),
        None => Vec::new(),
    };
    for it in &items {
        s.advance_group(group, it.id);
        if !noack {
            let g = s.groups.get_mut(group).expect("group exists");
            g.assign(it.id, consumer, now, 1);
        }
    }
    if !noack {
        for it in &items {
            propagate_claim(ctx, key, group, it.id);
        }
    }
    if !items.is_empty() {
        propagate_group_id(ctx, key, group);
    }
    items.into_iter().map(Served::Item).collect()
}

/// The consumer's own pending entries from `start` (streamReplyWithRangeFromConsumerPEL).
fn serve_history(
    ctx: &mut Ctx,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    start: StreamId,
    count: usize,
) -> Vec<Served> {
    touch_consumer(ctx, key, group, consumer, false);
    let now = ctx.now_ms;
    let s = super::stream_mut(ctx, key);
    let ids: Vec<StreamId> = s.groups[group].consumers[consumer]
        .pel
        .range(start..)
        .take(if count == 0 { usize::MAX } else { count })
        .copied()
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    let mut claimed = Vec::new();
    for id in ids {
        match s.get(id) {
            Some(it) => {
                if let Some(n) = s.groups.get_mut(group).and_then(|g| g.pel.get_mut(&id)) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
                claimed.push(id);
                out.push(Served::Item(it));
            }
            None => out.push(Served::Gone(id)),
        }
    }
    for id in claimed {
        propagate_claim(ctx, key, group, id);
    }
    out
}
