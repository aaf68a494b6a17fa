//! Persistence commands: SAVE, BGSAVE, LASTSAVE.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, NO_KEYS, Spec, is, spec};
use crate::server::persistence;
use bytes::Bytes;

/// The persistence commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("save", 1, ADMIN | NO_MULTI, NO_KEYS, save),
        spec("bgsave", -1, ADMIN, NO_KEYS, bgsave),
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
    if ctx.state.persistence.child_pid.is_some() {
        if schedule {
            ctx.state.persistence.scheduled = true;
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        return Err(CmdError::fixed("ERR Background save already in progress"));
    }
    persistence::bgsave(ctx.state).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    ctx.out.simple("Background saving started");
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.state.lastsave);
    Ok(())
}
