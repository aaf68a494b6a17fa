//! Stream commands (t_stream.c, Redis 7.0): entries ([`entries`]: XADD, XTRIM, XDEL, XLEN,
//! XRANGE, XREVRANGE, XSETID), reads ([`read`]: XREAD, XREADGROUP, blocking included),
//! consumer groups ([`groups`]: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and
//! introspection ([`info`]: XINFO). This module holds what they share: id arguments,
//! replies of entries, lookups and propagation of claims.

pub mod entries;
pub mod groups;
pub mod info;
pub mod read;

use super::flags::*;
use super::{CmdError, Ctx, KEY1, NO_KEYS, Spec, container, err, spec};

/// Key positions of the XGROUP/XINFO subcommands: the key after the subcommand.
const KEY2: (i32, i32, i32) = (2, 2, 1);
use crate::resp::ReplyBuf;
use crate::server::types::Value;
use crate::server::types::stream::{self, Item, NodeLimits, Stream, StreamId, id};
use bytes::Bytes;

/// The stream commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("xadd", -5, WRITE | DENYOOM | FAST, KEY1, entries::xadd),
        spec("xtrim", -4, WRITE, KEY1, entries::xtrim),
        spec("xdel", -3, WRITE | FAST, KEY1, entries::xdel),
        spec("xlen", 2, READONLY | FAST, KEY1, entries::xlen),
        spec("xrange", -4, READONLY, KEY1, entries::xrange),
        spec("xrevrange", -4, READONLY, KEY1, entries::xrevrange),
        spec("xsetid", -3, WRITE | DENYOOM | FAST, KEY1, entries::xsetid),
        spec("xread", -4, READONLY | BLOCKING, (0, 0, 0), read::xread),
        spec(
            "xreadgroup",
            -7,
            WRITE | BLOCKING,
            (0, 0, 0),
            read::xreadgroup,
        ),
        spec("xgroup", -2, 0, NO_KEYS, container).subcommands(vec![
            spec(
                "xgroup|create",
                -5,
                WRITE | DENYOOM,
                KEY2,
                groups::xgroup_create,
            ),
            spec("xgroup|setid", -5, WRITE, KEY2, groups::xgroup_setid),
            spec("xgroup|destroy", 4, WRITE, KEY2, groups::xgroup_destroy),
            spec(
                "xgroup|createconsumer",
                5,
                WRITE | DENYOOM,
                KEY2,
                groups::xgroup_createconsumer,
            ),
            spec(
                "xgroup|delconsumer",
                5,
                WRITE,
                KEY2,
                groups::xgroup_delconsumer,
            ),
            spec(
                "xgroup|help",
                2,
                LOADING | STALE,
                NO_KEYS,
                groups::xgroup_help,
            ),
        ]),
        spec("xack", -4, WRITE | FAST, KEY1, groups::xack),
        spec("xpending", -3, READONLY, KEY1, groups::xpending),
        spec("xclaim", -6, WRITE | FAST, KEY1, groups::xclaim),
        spec("xautoclaim", -6, WRITE | FAST, KEY1, groups::xautoclaim),
        spec("xinfo", -2, 0, NO_KEYS, container).subcommands(vec![
            spec("xinfo|consumers", 4, READONLY, KEY2, info::xinfo_consumers),
            spec("xinfo|groups", 3, READONLY, KEY2, info::xinfo_groups),
            spec("xinfo|stream", -3, READONLY, KEY2, info::xinfo_stream),
            spec("xinfo|help", 2, LOADING | STALE, NO_KEYS, info::xinfo_help),
        ]),
    ]
}

/// `ERR Invalid stream ID specified as stream command argument`.
pub const INVALID_ID: CmdError =
    CmdError::fixed("ERR Invalid stream ID specified as stream command argument");

/// An id argument (streamParseIDOrReply / streamParseStrictIDOrReply).
pub fn parse_id(arg: &[u8], strict: bool, missing_seq: u64) -> Result<StreamId, CmdError> {
    id::parse(arg, strict, missing_seq, false)
        .map(|p| p.id)
        .ok_or(INVALID_ID)
}

/// A range bound, `(` for exclusive (streamParseIntervalIDOrReply): (id, exclusive).
pub fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_id(&arg[1..], true, missing_seq)?, true))
    } else {
        Ok((parse_id(arg, false, missing_seq)?, false))
    }
}

/// The start of a range: exclusive starts move one id up.
pub fn range_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    let (id, ex) = parse_interval(arg, 0)?;
    if ex {
        return id
            .incr()
            .ok_or(CmdError::fixed("ERR invalid start ID for the interval"));
    }
    Ok(id)
}

/// The end of a range: exclusive ends move one id down.
pub fn range_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    let (id, ex) = parse_interval(arg, u64::MAX)?;
    if ex {
        return id
            .decr()
            .ok_or(CmdError::fixed("ERR invalid end ID for the interval"));
    }
    Ok(id)
}

/// An id as a bulk string.
pub fn reply_id(out: &mut ReplyBuf, id: StreamId) {
    out.bulk(id.to_string().as_bytes());
}

/// One entry: `[id, [field, value, ...]]`.
pub fn reply_item(out: &mut ReplyBuf, item: &Item) {
    out.array(2);
    reply_id(out, item.id);
    out.array(item.fields.len());
    for f in &item.fields {
        out.bulk(f);
    }
}

/// Entries as an array.
pub fn reply_items(out: &mut ReplyBuf, items: &[Item]) {
    out.array(items.len());
    for it in items {
        reply_item(out, it);
    }
}

/// The stream under `key` for reading: None if absent, WRONGTYPE if not a stream.
pub fn read_stream<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Stream>, CmdError> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// The stream under `key` for writing: None if absent, WRONGTYPE if not a stream.
pub fn write_stream<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut Stream>, CmdError> {
    match ctx.lookup_write(key) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(err::WRONGTYPE),
    }
}

/// The stream under `key` again, after a lookup proved it is there.
pub fn stream_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> &'c mut Stream {
    match ctx.db().get_mut(key) {
        Some(Value::Stream(s)) => s,
        _ => unreachable!("the stream was looked up before"),
    }
}

/// The node limits from the configuration.
pub fn limits(ctx: &Ctx) -> NodeLimits {
    NodeLimits {
        max_bytes: ctx.state.config.stream_node_max_bytes,
        max_entries: ctx.state.config.stream_node_max_entries,
    }
}

/// `-NOGROUP No such key 'k' or consumer group 'g'` plus a suffix.
pub fn nogroup(key: &[u8], group: &[u8], suffix: &str) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'{suffix}",
        c_str(key),
        c_str(group)
    ))
}

pub use super::c_str;

/// `-NOGROUP No such consumer group 'g' for key name 'k'` (XGROUP, XINFO).
pub fn no_such_group(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        c_str(group),
        c_str(key)
    ))
}

/// Streams one pending entry's state to replicas as Redis's streamPropagateXCLAIM:
/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last`.
pub fn propagate_claim(ctx: &mut Ctx, key: &[u8], group: &[u8], id: StreamId) {
    if !ctx.state.streaming() {
        return;
    }
    let Some(Value::Stream(s)) = ctx.db().get(key) else {
        return;
    };
    let Some(g) = s.groups.get(group) else {
        return;
    };
    let Some(n) = g.pel.get(&id) else {
        return;
    };
    let (n, last) = (n.clone(), g.last_id);
    propagate_claim_of(ctx, key, group, id, &n, last);
}

/// Streams the removal of a pending entry whose stream entry is gone, as Redis does: the
/// XCLAIM that a replica turns into the same removal (its entry is missing there too).
pub fn propagate_claim_of(
    ctx: &mut Ctx,
    key: &[u8],
    group: &[u8],
    id: StreamId,
    nack: &stream::Nack,
    last: StreamId,
) {
    if !ctx.state.streaming() {
        return;
    }
    let args: Vec<Vec<u8>> = vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        nack.consumer.to_vec(),
        b"0".to_vec(),
        id.to_string().into_bytes(),
        b"TIME".to_vec(),
        nack.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        nack.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        last.to_string().into_bytes(),
    ];
    ctx.propagate_instead(&args);
}

/// Streams `XGROUP SETID key group last ENTRIESREAD n` (streamPropagateGroupID).
pub fn propagate_group_id(ctx: &mut Ctx, key: &[u8], group: &[u8]) {
    if !ctx.state.streaming() {
        return;
    }
    let Some(Value::Stream(s)) = ctx.db().get(key) else {
        return;
    };
    let Some(g) = s.groups.get(group) else {
        return;
    };
    let args: Vec<Vec<u8>> = vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        g.last_id.to_string().into_bytes(),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ];
    ctx.propagate_instead(&args);
}

/// Marks the command as propagating nothing by itself (Redis's preventCommandPropagation):
/// only what it asked to stream with `propagate_instead` goes out.
pub fn prevent_propagation(ctx: &mut Ctx) {
    ctx.propagate_as.get_or_insert_with(Vec::new);
}

/// Arguments as owned bytes, for a rewritten propagation.
pub fn owned(args: &[Bytes]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.to_vec()).collect()
}

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <CMD> HELP.`
pub fn subcommand_syntax(cmd: &str, sub: &[u8]) -> CmdError {
    let shown = String::from_utf8_lossy(sub);
    let shown: String = shown.chars().take(128).collect();
    CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{shown}'. Try {} HELP.",
        cmd.to_ascii_uppercase()
    ))
}
