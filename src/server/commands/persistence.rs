//! Persistence commands: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, NO_KEYS, Spec, is, spec};
use crate::server::persistence;
use bytes::Bytes;

/// The persistence commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("save", 1, ADMIN | NO_MULTI, NO_KEYS, save),
        spec("bgsave", -1, ADMIN, NO_KEYS, bgsave),
        spec("bgrewriteaof", 1, ADMIN, NO_KEYS, bgrewriteaof),
        spec("lastsave", 1, LOADING | STALE | FAST, NO_KEYS, lastsave),
    ]
}

fn save(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.state.persistence.child_pid.is_some() {
        return Err(CmdError::fixed("ERR Background save already in progress"));
    }
    persistence::save(ctx.state).map_err(|_| CmdError::fixed("ERR"))?;
    ctx.out.ok();
    Ok(())
}

fn bgsave(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let schedule = match args.len() {
        1 => false,
        2 if is(&args[1], "schedule") => true,
        _ => return Err(super::err::SYNTAX),
    };
    let p = &ctx.state.persistence;
    if p.child_pid.is_some() && !p.child_is_aof {
        return Err(CmdError::fixed("ERR Background save already in progress"));
    }
    if p.child_pid.is_some() || ctx.in_exec {
        if schedule || ctx.in_exec {
            ctx.state.persistence.scheduled = true;
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        return Err(CmdError::fixed(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
        ));
    }
    persistence::bgsave(ctx.state).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    ctx.out.simple("Background saving started");
    Ok(())
}

fn bgrewriteaof(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    use crate::server::aof::rewrite::{Requested, request};
    match request(ctx.state, ctx.in_exec) {
        Ok(Requested::Started) => ctx
            .out
            .simple("Background append only file rewriting started"),
        Ok(Requested::Scheduled) => ctx
            .out
            .simple("Background append only file rewriting scheduled"),
        Err(e) => return Err(CmdError::fixed(e)),
    }
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.state.lastsave);
    Ok(())
}
