//! Redis's processCommand: every check a request passes before it runs or is queued, in
//! Redis 7.0's order, in one place.
//!
//! [`dispatch`] resolves the command (and its subcommand) and checks its arity, then
//! [`refusal`] runs the server-state checks — protected commands (DEBUG), NOAUTH, no-multi
//! inside MULTI, the ACL permission check (NOPERM), OOM (after eviction), MISCONF, NOREPLICAS, READONLY, MASTERDOWN,
//! BUSY (a client the busy-script hook serves: only `allow_busy` commands) — then the
//! pause postpones the request, then MULTI queues it (`QUEUED`) or it is called. Every
//! rejection inside MULTI dooms the transaction (EXEC answers EXECABORT); a rejected EXEC
//! answers `EXECABORT Transaction discarded because of: <reason>`. EXEC is checked with the
//! flags of what it queued (a write in the queue makes EXEC a write), so a situation that
//! changed between queueing and EXEC (the server became a read-only replica, ran out of
//! memory, lost its replicas) refuses the transaction as Redis does.

use super::{CmdError, Ctx, Flow, Spec, call, err, flags, lookup_request, reply_error};
use bytes::Bytes;

/// Runs one request from a client. The caller holds the state lock.
pub fn dispatch(ctx: &mut Ctx, args: &[Bytes]) {
    // One clock reading for the command's time and the start of its duration (call()).
    let now_us = crate::server::clock::now_us();
    ctx.now_ms = now_us / 1000;
    ctx.started_us = now_us;
    let cmd = match lookup_request(args) {
        Ok(cmd) => cmd,
        Err(e) => {
            // Unknown command or subcommand, wrong arity.
            let resolved = super::resolve(args);
            if let Some(c) = resolved {
                ctx.state.stats.commands.rejected(c);
            }
            reject(ctx, resolved.is_some_and(|c| c.name == "exec"), e);
            return;
        }
    };
    // As Redis's `c->lastcmd`: CLIENT LIST and ACL LOG name the command even when a
    // check refuses it.
    *ctx.client.info.last_cmd.lock().unwrap() = cmd.name;
    let is_exec = cmd.name == "exec";
    if let Some(e) = refusal(ctx, cmd, args) {
        ctx.state.stats.commands.rejected(cmd);
        reject(ctx, is_exec, e);
        return;
    }
    if paused(ctx, cmd) {
        ctx.flow = Flow::Paused;
        return;
    }
    if let Some(queue) = ctx
        .client
        .multi
        .as_mut()
        .filter(|_| !cmd.has(flags::NO_QUEUE))
    {
        queue.push(args.to_vec());
        ctx.out.simple("QUEUED");
        return;
    }
    call(ctx, cmd, args);
}

/// The flags that decide the checks: the command's own, and for EXEC also those of the
/// commands it queued (Redis's `mstate.cmd_flags` / `cmd_inv_flags`).
struct Effective {
    /// Some command may write.
    write: bool,
    /// Some command may grow memory.
    denyoom: bool,
    /// Some command is not allowed on a replica with stale data.
    deny_stale: bool,
    /// Some command is not allowed while the dataset loads.
    deny_loading: bool,
}

fn effective(ctx: &Ctx, cmd: &Spec) -> Effective {
    let mut e = Effective {
        write: cmd.has(flags::WRITE),
        denyoom: cmd.has(flags::DENYOOM),
        deny_stale: !cmd.has(flags::STALE),
        deny_loading: !cmd.has(flags::LOADING),
    };
    if cmd.name == "exec" {
        let queued = ctx.client.multi.iter().flatten();
        for c in queued.filter_map(|c| super::resolve(c)) {
            e.write |= c.has(flags::WRITE);
            e.denyoom |= c.has(flags::DENYOOM);
            e.deny_stale |= !c.has(flags::STALE);
            e.deny_loading |= !c.has(flags::LOADING);
        }
    }
    e
}

/// Why the server refuses to run or queue `cmd` now, checked in processCommand's order;
/// None when it may go on.
fn refusal(ctx: &mut Ctx, cmd: &Spec, args: &[Bytes]) -> Option<CmdError> {
    let from_master = ctx.client.is_master;
    if cmd.has(flags::PROTECTED) && !debug_allowed(ctx) {
        return Some(CmdError::fixed(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
        ));
    }
    // MODULE LOAD/LOADEX/UNLOAD are protected by enable-module-command (refused before
    // queueing, as DEBUG is).
    if matches!(cmd.name, "module|load" | "module|loadex" | "module|unload")
        && let Err(e) = super::module::allowed(ctx)
    {
        return Some(e);
    }
    if !ctx.client.authenticated && !cmd.has(flags::NOAUTH) {
        return Some(err::NOAUTH);
    }
    let in_multi = ctx.client.multi.is_some();
    if in_multi && cmd.has(flags::NO_MULTI) {
        return Some(CmdError::fixed(
            "ERR Command not allowed inside a transaction",
        ));
    }
    if let Some(e) = super::acl::permission(ctx, cmd, args) {
        return Some(e);
    }
    let eff = effective(ctx, cmd);
    // No eviction while a busy script's hook serves this client (scripting::busy), nor while
    // loading (Redis's isSafeToPerformEvictions).
    let busy = ctx.shared.watchdog.serving_busy();
    let loading = ctx.state.loading.is_some();
    if ctx.state.config.maxmemory > 0 && !from_master && !busy && !loading {
        let out_of_memory = !crate::server::evict::perform(ctx.state);
        // Queueing inside MULTI may grow memory without bound: refused too, except what
        // ends the transaction.
        let reject_on_oom =
            eff.denyoom || (in_multi && !matches!(cmd.name, "exec" | "discard" | "reset"));
        if out_of_memory && reject_on_oom {
            return Some(CmdError::fixed(
                "OOM command not allowed when used memory > 'maxmemory'.",
            ));
        }
    }
    if (eff.write || cmd.name == "ping")
        && !from_master
        && let Some(e) = crate::server::persistence::disk_error(ctx.state)
    {
        return Some(e);
    }
    if eff.write && crate::server::replication::master::too_few_replicas(ctx.state, ctx.now_ms) {
        return Some(crate::server::replication::master::NOREPLICAS);
    }
    let config = &ctx.state.config;
    if eff.write && !from_master && config.replicaof.is_some() && config.replica_read_only {
        return Some(err::READONLY);
    }
    if ctx.client.resp2_subscriber()
        && !matches!(
            cmd.name,
            "ping"
                | "subscribe"
                | "ssubscribe"
                | "unsubscribe"
                | "sunsubscribe"
                | "psubscribe"
                | "punsubscribe"
                | "quit"
                | "reset"
        )
    {
        return Some(CmdError::msg(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.name
        )));
    }
    if eff.deny_stale && !config.replica_serve_stale_data && master_link_down(ctx) {
        return Some(CmdError::fixed(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        ));
    }
    // The AOF's own client (marked as a master) runs while loading. LOADING before BUSY, as
    // Redis's processCommand.
    if loading && eff.deny_loading && !from_master {
        return Some(CmdError::fixed(crate::server::loading::ERR));
    }
    if busy && !cmd.meta().is_some_and(|m| m.has_flag("allow_busy")) {
        let text = crate::server::scripting::busy::busy_text(&ctx.shared.watchdog);
        return Some(CmdError::fixed(text));
    }
    None
}

/// enable-debug-command: yes, local (from a local connection), or no.
fn debug_allowed(ctx: &Ctx) -> bool {
    ctx.state
        .config
        .enable_debug_command
        .allows(ctx.client.is_local)
}

/// stop-writes-on-bgsave-error with save points and a failed last background save.
/// A replica whose link with its master is not up.
fn master_link_down(ctx: &Ctx) -> bool {
    ctx.state.config.replicaof.is_some()
        && !ctx
            .state
            .repl
            .master
            .as_ref()
            .is_some_and(|m| m.state == crate::server::replication::MasterState::Connected)
}

/// Whether CLIENT PAUSE postpones `cmd` (every command, or those that may write with
/// PAUSE WRITE; EXEC counts as a write when it queued one). Our master's stream is never
/// paused. An expired pause is lifted here.
fn paused(ctx: &mut Ctx, cmd: &Spec) -> bool {
    let Some(p) = ctx.state.pause else {
        return false;
    };
    if p.until_ms <= ctx.now_ms {
        ctx.state.pause = None;
        ctx.shared.unpaused.notify_waiters();
        return false;
    }
    !ctx.client.is_master && (!p.writes_only || effective(ctx, cmd).write)
}

/// Replies with an error found before the command ran, as Redis's rejectCommand: inside
/// MULTI the transaction is doomed (EXEC answers EXECABORT); a rejected EXEC discards the
/// transaction and its WATCHes and gives the reason as `EXECABORT Transaction discarded
/// because of: <error without "ERR ">`.
fn reject(ctx: &mut Ctx, is_exec: bool, e: CmdError) {
    if is_exec {
        super::transactions::discard_state(ctx);
        super::transactions::unwatch_all(ctx);
        let reason = e.0.strip_prefix("ERR ").unwrap_or(&e.0);
        let abort = format!("EXECABORT Transaction discarded because of: {reason}");
        reply_error(ctx, &CmdError::msg(abort));
        return;
    }
    if ctx.client.multi.is_some() {
        ctx.client.multi_failed = true;
    }
    reply_error(ctx, &e);
}
