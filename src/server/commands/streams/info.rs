//! XINFO STREAM [FULL [COUNT n]] / GROUPS / CONSUMERS, with Redis 7.0's fields.

use super::{read_stream, reply_id, reply_item, reply_items};
use crate::resp::ReplyBuf;
use crate::server::commands::{CmdError, CmdResult, Ctx, arg_i64, err, is};
use crate::server::types::Value;
use crate::server::types::stream::{Group, Stream, StreamId, group::INVALID_ENTRIES_READ};
use bytes::Bytes;

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

/// XINFO HELP.
pub fn xinfo_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::super::reply_help(ctx, "XINFO", XINFO_HELP);
    Ok(())
}

/// The stream of an XINFO subcommand (`ERR no such key` when absent).
fn info_stream<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<&'c mut Stream, CmdError> {
    read_stream(ctx, key)?.ok_or(err::NO_KEY)
}

fn reply_entries_read(out: &mut ReplyBuf, g: &Group) {
    if g.entries_read != INVALID_ENTRIES_READ {
        out.int(g.entries_read);
    } else {
        out.null();
    }
}

fn reply_lag(out: &mut ReplyBuf, lag: Option<i64>) {
    match lag {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

pub fn xinfo_consumers(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = crate::server::clock::now_ms();
    let s = info_stream(ctx, &args[2])?;
    let Some(g) = s.groups.get(&args[3][..]) else {
        return Err(super::no_such_group(&args[2], &args[3]));
    };
    let rows: Vec<(Vec<u8>, usize, i64)> = g
        .consumers
        .iter()
        .map(|(n, c)| {
            (
                n.to_vec(),
                c.pel.len(),
                now.wrapping_sub(c.seen_time).max(0),
            )
        })
        .collect();
    ctx.out.array(rows.len());
    for (name, pending, idle) in rows {
        ctx.out.map(3);
        ctx.out.bulk(b"name");
        ctx.out.bulk(&name);
        ctx.out.bulk(b"pending");
        ctx.out.int(pending as i64);
        ctx.out.bulk(b"idle");
        ctx.out.int(idle);
    }
    Ok(())
}

pub fn xinfo_groups(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    info_stream(ctx, &args[2])?;
    let Some(Value::Stream(s)) = ctx.state.dbs[ctx.client.db].get(&args[2]) else {
        return Err(err::NO_KEY);
    };
    ctx.out.array(s.groups.len());
    for (name, g) in &s.groups {
        let lag = s.lag(g);
        ctx.out.map(6);
        ctx.out.bulk(b"name");
        ctx.out.bulk(name);
        ctx.out.bulk(b"consumers");
        ctx.out.int(g.consumers.len() as i64);
        ctx.out.bulk(b"pending");
        ctx.out.int(g.pel.len() as i64);
        ctx.out.bulk(b"last-delivered-id");
        reply_id(ctx.out, g.last_id);
        ctx.out.bulk(b"entries-read");
        reply_entries_read(ctx.out, g);
        ctx.out.bulk(b"lag");
        reply_lag(ctx.out, lag);
    }
    Ok(())
}

pub fn xinfo_stream(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // The key first (no such key, WRONGTYPE), then the options, as xinfoCommand.
    info_stream(ctx, &args[2])?;
    let opts = &args[3..];
    let full = !opts.is_empty();
    let mut count: i64 = 10;
    match opts.len() {
        0 => {}
        1 if is(&opts[0], "full") => {}
        3 if is(&opts[0], "full") && is(&opts[1], "count") => {
            count = arg_i64(&opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
        _ => return Err(super::subcommand_syntax("xinfo", &args[1])),
    }
    let Some(Value::Stream(s)) = ctx.state.dbs[ctx.client.db].get(&args[2]) else {
        return Err(err::NO_KEY);
    };
    let out = &mut *ctx.out;
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.length as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (label, rev) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(label);
            match s.range(StreamId::MIN, StreamId::MAX, rev, 1).first() {
                Some(it) => reply_item(out, it),
                None => out.null(),
            }
        }
        return Ok(());
    }
    let limit = if count == 0 {
        usize::MAX
    } else {
        count as usize
    };
    out.bulk(b"entries");
    let items = s.range(
        StreamId::MIN,
        StreamId::MAX,
        false,
        if count == 0 { 0 } else { count as usize },
    );
    reply_items(out, &items);
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, g);
        out.bulk(b"lag");
        reply_lag(out, s.lag(g));
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let pel: Vec<_> = g.pel.iter().take(limit).collect();
        out.array(pel.len());
        for (id, n) in pel {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&n.consumer);
            out.int(n.delivery_time);
            out.int(n.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let ids: Vec<_> = c.pel.iter().take(limit).collect();
            out.array(ids.len());
            for id in ids {
                let n = &g.pel[id];
                out.array(3);
                reply_id(out, *id);
                out.int(n.delivery_time);
                out.int(n.delivery_count as i64);
            }
        }
    }
    Ok(())
}
