//! SLOWLOG GET [count] / LEN / RESET / HELP over the store in `stats::slowlog`.

use super::args::Args;
use super::flags::*;
use super::{CmdError, CmdResult, Ctx, NO_KEYS, Spec, container, spec};
use bytes::Bytes;

/// The SLOWLOG command.
pub fn specs() -> Vec<Spec> {
    const ADMIN_: u32 = ADMIN | LOADING | STALE;
    vec![spec("slowlog", -2, 0, NO_KEYS, container).subcommands(vec![
        spec("slowlog|get", -2, ADMIN_, NO_KEYS, slowlog_get),
        spec("slowlog|len", 2, ADMIN_, NO_KEYS, slowlog_len),
        spec("slowlog|reset", 2, ADMIN_, NO_KEYS, slowlog_reset),
        spec("slowlog|help", 2, LOADING | STALE, NO_KEYS, slowlog_help),
    ])]
}

/// SLOWLOG GET [count]: the newest `count` entries (10 by default, -1 for all), each
/// `[id, unix time, microseconds, [args], client addr, client name]`.
fn slowlog_get(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    const BAD_COUNT: CmdError = CmdError::fixed("ERR count should be greater than or equal to -1");
    let mut cursor = Args::new(args, 2);
    let count = match cursor.take() {
        None => 10,
        Some(a) => match super::arg_i64(a) {
            Ok(-1) => usize::MAX,
            Ok(n) if n >= 0 => n as usize,
            _ => return Err(BAD_COUNT),
        },
    };
    if !cursor.is_done() {
        return Err(super::subcommand_syntax_error(args));
    }
    let log = &ctx.state.monitor.slowlog;
    ctx.out.array(count.min(log.len()));
    for e in log.newest(count) {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time);
        ctx.out.int(e.usec as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.addr.as_bytes());
        ctx.out.bulk(&e.name);
    }
    Ok(())
}

/// SLOWLOG LEN.
fn slowlog_len(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let n = ctx.state.monitor.slowlog.len();
    ctx.out.int(n as i64);
    Ok(())
}

/// SLOWLOG RESET.
fn slowlog_reset(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.state.monitor.slowlog.reset();
    ctx.out.ok();
    Ok(())
}

/// SLOWLOG HELP.
fn slowlog_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}
