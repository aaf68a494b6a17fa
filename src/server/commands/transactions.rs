//! MULTI/EXEC/DISCARD/WATCH/UNWATCH.
//!
//! Queued commands run inside one hold of the state lock, so no other client's command can
//! interleave. WATCH records a per-key version (see `Db::watch`); EXEC refuses to run when
//! any watched key changed, or expired, since.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, NO_KEYS, Spec, spec};
use crate::server::client::Watched;
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// The transaction commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec(
            "multi",
            1,
            NO_QUEUE | FAST | LOADING | STALE,
            NO_KEYS,
            multi,
        ),
        spec("exec", 1, NO_QUEUE | LOADING | STALE, NO_KEYS, exec),
        spec(
            "discard",
            1,
            NO_QUEUE | FAST | LOADING | STALE,
            NO_KEYS,
            discard,
        ),
        spec(
            "watch",
            -2,
            NO_QUEUE | FAST | LOADING | STALE,
            (1, -1, 1),
            watch,
        ),
        // Not NO_QUEUE: inside MULTI Redis queues UNWATCH (only EXEC, DISCARD, MULTI, WATCH,
        // QUIT and RESET run immediately).
        spec("unwatch", 1, FAST | LOADING | STALE, NO_KEYS, unwatch),
    ]
}

fn multi(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::fixed("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_failed = false;
    ctx.client.info.in_multi.store(true, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// Leaves MULTI state, dropping queued commands.
pub fn discard_state(ctx: &mut Ctx) {
    ctx.client.multi = None;
    ctx.client.multi_failed = false;
    ctx.client.info.in_multi.store(false, Ordering::Relaxed);
}

/// Drops every WATCH of the client.
pub fn unwatch_all(ctx: &mut Ctx) {
    for w in std::mem::take(&mut ctx.client.watched) {
        if let Some(db) = ctx.state.dbs.get_mut(w.db) {
            db.unwatch(&w.key);
        }
    }
}

fn discard(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(CmdError::fixed("ERR DISCARD without MULTI"));
    }
    discard_state(ctx);
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::fixed("ERR WATCH inside MULTI is not allowed"));
    }
    let dbi = ctx.client.db;
    for key in &args[1..] {
        if ctx
            .client
            .watched
            .iter()
            .any(|w| w.db == dbi && w.key == key)
        {
            continue;
        }
        let now = ctx.now_ms;
        let db = ctx.db();
        let expired = db.is_expired(key, now);
        let version = db.watch(key);
        ctx.client.watched.push(Watched {
            db: dbi,
            key: key.clone(),
            version,
            expired,
        });
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}

/// True when a watched key changed (or expired) since WATCH.
fn watch_broken(ctx: &Ctx) -> bool {
    ctx.client.watched.iter().any(|w| {
        let db = &ctx.state.dbs[w.db];
        let changed = db.watch_version(&w.key) != w.version;
        let present = db.contains(&w.key);
        if w.expired {
            // Watched while already expired: only a re-creation counts.
            changed && present && !db.is_expired(&w.key, ctx.now_ms)
        } else {
            changed || db.is_expired(&w.key, ctx.now_ms)
        }
    })
}

fn exec(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let Some(queued) = ctx.client.multi.take() else {
        return Err(CmdError::fixed("ERR EXEC without MULTI"));
    };
    let failed = ctx.client.multi_failed;
    discard_state(ctx);
    if failed {
        unwatch_all(ctx);
        return Err(CmdError::fixed(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if watch_broken(ctx) {
        unwatch_all(ctx);
        ctx.out.null_array();
        return Ok(());
    }
    unwatch_all(ctx);
    // READONLY, OOM, NOREPLICAS, MISCONF and MASTERDOWN for the queued commands were
    // checked on EXEC itself, with the queue's flags (process::refusal).
    ctx.out.array(queued.len());
    ctx.in_exec = true;
    // The transaction's writes reach replicas wrapped in MULTI ... EXEC (MULTI goes out with
    // the first write), so replicas apply them atomically too.
    ctx.state.repl.exec_wrap = Some(false);
    for cmd in &queued {
        if let Some(spec) = super::resolve(cmd) {
            // ACL rules may have changed since the command was queued (Redis checks
            // again at EXEC).
            if let Some(d) = super::acl::check(ctx, spec.name, cmd) {
                use crate::server::acl::log::Context;
                super::acl::log_refusal(ctx, d, Context::Multi, spec.name, cmd);
                super::reply_error(
                    ctx,
                    &super::CmdError::fixed(
                        "NOPERM ACLs rules changed between the moment the transaction was accumulated and its execution",
                    ),
                );
                continue;
            }
            super::call(ctx, spec, cmd);
        }
    }
    let streamed = ctx.state.repl.exec_wrap.take() == Some(true);
    if ctx.state.aof.take_wrap() | streamed {
        let db = ctx.client.db;
        ctx.state.propagate(db, &[b"EXEC"]);
    }
    ctx.in_exec = false;
    Ok(())
}
