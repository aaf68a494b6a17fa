//! XADD, XTRIM, XDEL, XLEN, XRANGE, XREVRANGE, XSETID.

use super::{
    INVALID_ID, limits, owned, parse_id, range_end, range_start, read_stream, reply_items,
    stream_mut, write_stream,
};
use crate::server::commands::{CmdError, CmdResult, Ctx, arg_i64, arity_error, err, is};
use crate::server::notify::{STREAM, notify};
use crate::server::types::Value;
use crate::server::types::stream::{Stream, StreamId, Trim, id};
use bytes::Bytes;

/// The options XADD and XTRIM share (streamParseAddOrTrimArgsOrReply).
struct TrimArgs {
    /// The rule, whether `~` was given, and the index of its threshold argument.
    trim: Option<(Trim, bool, usize)>,
    /// Most entries an approximate trim removes (0: no limit).
    limit: u64,
    /// XADD NOMKSTREAM.
    no_mkstream: bool,
    /// XADD's explicit id, if any.
    id: Option<id::Parsed>,
    /// Index of XADD's id argument (`*` or explicit).
    id_at: usize,
}

fn parse_trim_args(ctx: &Ctx, args: &[Bytes], xadd: bool) -> Result<TrimArgs, CmdError> {
    let mut out = TrimArgs {
        trim: None,
        limit: 0,
        no_mkstream: false,
        id: None,
        id_at: args.len(),
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = &args[i];
        if xadd && &opt[..] == b"*" {
            out.id_at = i;
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            let maxlen = is(opt, "maxlen");
            if out.trim.is_some() {
                return Err(CmdError::fixed(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            let mut approx = false;
            let next = &args[i + 1];
            if more >= 2 && &next[..] == b"~" {
                approx = true;
                i += 1;
            } else if more >= 2 && &next[..] == b"=" {
                i += 1;
            }
            let rule = if maxlen {
                let n = arg_i64(&args[i + 1])?;
                if n < 0 {
                    return Err(CmdError::fixed("ERR The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_id(&args[i + 1], true, 0)?)
            };
            i += 1;
            out.trim = Some((rule, approx, i));
        } else if is(opt, "limit") && more > 0 {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return Err(CmdError::fixed("ERR The LIMIT argument must be >= 0."));
            }
            out.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            out.no_mkstream = true;
        } else if xadd {
            out.id = Some(id::parse(opt, true, 0, true).ok_or(INVALID_ID)?);
            out.id_at = i;
            break;
        } else {
            return Err(err::SYNTAX);
        }
        i += 1;
    }
    if out.limit != 0 && out.trim.is_none() {
        return Err(CmdError::fixed(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && out.trim.is_none() {
        return Err(CmdError::fixed(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    let approx = out.trim.is_some_and(|t| t.1);
    if ctx.client.is_master {
        // The master rewrote the threshold: trim exactly as told.
        out.limit = 0;
    } else if limit_given {
        if !approx {
            return Err(CmdError::fixed(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if approx {
        let l = 100 * ctx.state.config.stream_node_max_entries;
        out.limit = if l <= 0 || l > 10000 { 10000 } else { l as u64 };
    } else {
        out.limit = 0;
    }
    Ok(out)
}

/// Trims and, for `~`, rewrites the arguments to replicas so they trim identically: `=`
/// and the threshold reached (streamRewriteApproxSpecifier / streamRewriteTrimArgument).
fn trim_and_rewrite(s: &mut Stream, t: &TrimArgs, prop: &mut Option<Vec<Vec<u8>>>) -> u64 {
    let Some((rule, approx, at)) = t.trim else {
        return 0;
    };
    let deleted = s.trim(rule, approx, t.limit);
    if approx && let Some(p) = prop.as_mut() {
        p[at - 1] = b"=".to_vec();
        p[at] = match rule {
            Trim::MaxLen(_) => s.length.to_string().into_bytes(),
            Trim::MinId(_) => s.first_id.to_string().into_bytes(),
        };
    }
    deleted
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
pub fn xadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let t = parse_trim_args(ctx, args, true)?;
    let fields_at = t.id_at + 1;
    let nfields = args.len().saturating_sub(fields_at);
    if t.id_at >= args.len() || nfields < 2 || !nfields.is_multiple_of(2) {
        return Err(arity_error("xadd"));
    }
    if let Some(p) = t.id
        && p.seq_given
        && p.id == StreamId::MIN
    {
        return Err(CmdError::fixed(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = &args[1];
    let lim = limits(ctx);
    let now = ctx.now_ms;
    if write_stream(ctx, key)?.is_none() {
        if t.no_mkstream {
            ctx.out.null();
            return Ok(());
        }
        ctx.db().set(key, Value::Stream(Box::default()), false);
    }
    let s = stream_mut(ctx, key);
    if s.last_id == StreamId::MAX {
        return Err(CmdError::fixed(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let fields: Vec<&[u8]> = args[fields_at..].iter().map(|a| &a[..]).collect();
    let id = match t.id {
        None => {
            let ms = now.max(0) as u64;
            if ms > s.last_id.ms {
                StreamId::new(ms, 0)
            } else {
                s.last_id.incr().expect("not the last id")
            }
        }
        Some(p) if p.seq_given => {
            if p.id <= s.last_id {
                return Err(too_small());
            }
            p.id
        }
        Some(p) => {
            let ms = p.id.ms;
            if ms == s.last_id.ms {
                if s.last_id.seq == u64::MAX {
                    return Err(too_small());
                }
                StreamId::new(ms, s.last_id.seq + 1)
            } else if ms > s.last_id.ms {
                StreamId::new(ms, 0)
            } else {
                return Err(too_small());
            }
        }
    };
    if Stream::too_large(&fields) {
        return Err(CmdError::fixed("ERR Elements are too large to be stored"));
    }
    s.append(id, &fields, lim);
    let rewrite_id = t.id.is_none_or(|p| !p.seq_given);
    let streaming = ctx.state.streaming();
    let s = stream_mut(ctx, key);
    let rewrite = streaming && (rewrite_id || t.trim.is_some_and(|x| x.1));
    let mut prop = rewrite.then(|| owned(args));
    let trimmed = trim_and_rewrite(s, &t, &mut prop);
    if let Some(p) = prop.as_mut()
        && rewrite_id
    {
        p[t.id_at] = id.to_string().into_bytes();
    }
    super::reply_id(ctx.out, id);
    ctx.modified(key, 1);
    notify(ctx, STREAM, "xadd", key);
    if trimmed > 0 {
        notify(ctx, STREAM, "xtrim", key);
    }
    if let Some(p) = prop {
        ctx.propagate_instead(&p);
    }
    Ok(())
}

fn too_small() -> CmdError {
    CmdError::fixed(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item",
    )
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
pub fn xtrim(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    // Redis parses the options before it looks the key up (a syntax error beats WRONGTYPE).
    let t = parse_trim_args(ctx, args, false)?;
    if write_stream(ctx, key)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let approx = t.trim.is_some_and(|x| x.1);
    let mut prop = (approx && ctx.state.streaming()).then(|| owned(args));
    let s = stream_mut(ctx, key);
    let deleted = trim_and_rewrite(s, &t, &mut prop);
    if deleted > 0 {
        ctx.modified(key, deleted);
        notify(ctx, STREAM, "xtrim", key);
        if let Some(p) = prop {
            ctx.propagate_instead(&p);
        }
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// XDEL key id [id ...]
pub fn xdel(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    if write_stream(ctx, key)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = args[2..]
        .iter()
        .map(|a| parse_id(a, true, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = stream_mut(ctx, key).delete(&ids);
    if deleted > 0 {
        ctx.modified(key, deleted);
        notify(ctx, STREAM, "xdel", key);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

/// XLEN key
pub fn xlen(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let n = read_stream(ctx, &args[1])?.map_or(0, |s| s.length);
    ctx.out.int(n as i64);
    Ok(())
}

fn range_generic(ctx: &mut Ctx, args: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = range_start(start_arg)?;
    let end = range_end(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is(&args[j], "count") && j + 1 < args.len() {
            count = arg_i64(&args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let Some(s) = read_stream(ctx, &args[1])? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.null_array();
        return Ok(());
    }
    let items = s.range(start, end, rev, count.max(0) as usize);
    reply_items(ctx.out, &items);
    Ok(())
}

/// XRANGE key start end [COUNT n]
pub fn xrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, false)
}

/// XREVRANGE key end start [COUNT n]
pub fn xrevrange(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, true)
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
pub fn xsetid(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let id = parse_id(&args[2], true, 0)?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(&args[i], "entriesadded") && more > 0 {
            entries_added = arg_i64(&args[i + 1])?;
            if entries_added < 0 {
                return Err(CmdError::fixed("ERR entries_added must be positive"));
            }
            i += 2;
        } else if is(&args[i], "maxdeletedid") && more > 0 {
            max_xdel = parse_id(&args[i + 1], true, 0)?;
            if id < max_xdel {
                return Err(CmdError::fixed(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(err::SYNTAX);
        }
    }
    let key = &args[1];
    let Some(s) = write_stream(ctx, key)? else {
        return Err(err::NO_KEY);
    };
    if s.length > 0 {
        if id < s.last_valid_id() {
            return Err(CmdError::fixed(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added != -1 && s.length > entries_added as u64 {
            return Err(CmdError::fixed(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if max_xdel != StreamId::MIN {
        s.max_deleted = max_xdel;
    }
    ctx.modified(key, 1);
    notify(ctx, STREAM, "xsetid", key);
    ctx.out.ok();
    Ok(())
}
