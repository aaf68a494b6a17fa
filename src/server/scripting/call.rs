//! `redis.call` / `redis.pcall`: one command from a script, checked as Redis 7.0's
//! scriptCall does (unknown command, arity, commands denied in scripts, writes from
//! read-only scripts, READONLY replica, MISCONF, NOREPLICAS, OOM), then run by
//! [`crate::server::commands::call`] with the script's own client, whose reply is parsed
//! back into a Lua value.

use super::Watchdog;
use super::convert::reply_to_lua;
use crate::resp::{Proto, ReplyBuf};
use crate::server::client::Client;
use crate::server::commands::{self, Ctx, flags};
use bytes::Bytes;
use mlua::{Lua, Value, Variadic};
use std::borrow::Cow;
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What one script run keeps between its `redis.call`s.
pub struct RunState {
    /// The script's client (its own database selection, RESP version, no replies sent).
    pub client: Client,
    /// Where the command's reply is written before it becomes a Lua value.
    pub buf: ReplyBuf,
    /// EVAL_RO / FCALL_RO or `no-writes`: write commands are refused.
    pub read_only: bool,
    /// `allow-oom`: writes are allowed above maxmemory.
    pub allow_oom: bool,
    /// The script has changed the dataset.
    pub wrote: bool,
    /// Shared with other connections (SCRIPT KILL answers UNKILLABLE once written).
    pub watchdog: Arc<Watchdog>,
}

/// redis.REPL_REPLICA: effects go to replicas.
const REPL_REPLICA: i64 = 2;

/// Commands Redis 7.0 flags `noscript` (a `match`: checked on every `redis.call`).
fn denied(name: &[u8]) -> bool {
    let mut lower = [0u8; 16];
    if name.len() > lower.len() {
        return false;
    }
    for (l, b) in lower.iter_mut().zip(name) {
        *l = b.to_ascii_lowercase();
    }
    matches!(
        &lower[..name.len()],
        b"auth"
            | b"hello"
            | b"multi"
            | b"exec"
            | b"discard"
            | b"watch"
            | b"unwatch"
            | b"subscribe"
            | b"psubscribe"
            | b"ssubscribe"
            | b"unsubscribe"
            | b"punsubscribe"
            | b"sunsubscribe"
            | b"monitor"
            | b"sync"
            | b"psync"
            | b"replconf"
            | b"eval"
            | b"evalsha"
            | b"eval_ro"
            | b"evalsha_ro"
            | b"fcall"
            | b"fcall_ro"
            | b"script"
            | b"function"
            | b"save"
            | b"bgsave"
            | b"bgrewriteaof"
            | b"shutdown"
            | b"replicaof"
            | b"slaveof"
            | b"failover"
            | b"quit"
            | b"reset"
            | b"wait"
            | b"config"
            | b"client"
            | b"acl"
            | b"debug"
            | b"module"
            | b"latency"
    )
}

/// An error table `{err=text}`.
pub fn err_table(lua: &Lua, text: &str) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", text)?;
    Ok(Value::Table(t))
}

/// Converts the arguments of redis.call: strings as they are, numbers as Lua prints them.
fn command_args(args: &Variadic<Value>) -> Option<Vec<Bytes>> {
    args.iter()
        .map(|a| match a {
            Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(n) => Some(Bytes::from(n.to_string())),
            Value::Number(n) => Some(Bytes::from(crate::server::numbers::format_g(*n, 14))),
            _ => None,
        })
        .collect()
}

/// Why the script may not run `cmd` now (the error text), or None.
fn refusal(
    ctx: &mut Ctx,
    run: &RunState,
    cmd: &commands::Spec,
    argv: &[Bytes],
) -> Option<Cow<'static, str>> {
    // By the command's own name (argv[0]): a looked-up subcommand's Spec is `script|flush`.
    if cmd.has(flags::BLOCKING) || denied(&argv[0]) {
        return Some("ERR This Redis command is not allowed from script".into());
    }
    if let Some(e) = acl_refusal(ctx, cmd, argv) {
        return Some(e.into());
    }
    if !cmd.has(flags::WRITE) || run.client.is_master {
        return None;
    }
    if run.read_only {
        return Some("ERR Write commands are not allowed from read-only scripts.".into());
    }
    let config = &ctx.state.config;
    if config.replicaof.is_some() && config.replica_read_only {
        return Some(commands::err::READONLY.0);
    }
    if let Some(e) = crate::server::persistence::disk_error(ctx.state) {
        return Some(e.0);
    }
    if crate::server::replication::master::too_few_replicas(ctx.state, ctx.now_ms) {
        return Some(crate::server::replication::master::NOREPLICAS.0);
    }
    if config.maxmemory > 0
        && cmd.has(flags::DENYOOM)
        && !run.allow_oom
        && !run.wrote
        && !crate::server::evict::perform(ctx.state)
    {
        return Some("OOM command not allowed when used memory > 'maxmemory'.".into());
    }
    None
}

/// The ACL check of a script's command, under the caller's user (Redis's
/// scriptVerifyACL): logged with context `lua`.
fn acl_refusal(ctx: &mut Ctx, cmd: &commands::Spec, argv: &[Bytes]) -> Option<&'static str> {
    use crate::server::acl::{Denied, log::Context};
    // `cmd` is argv[0]'s spec: only a subcommand is left to find (as commands::resolve).
    let name = match argv.get(1) {
        Some(sub) if !cmd.subcommands.is_empty() => cmd.subcommand(sub)?.name,
        _ => cmd.name,
    };
    let d = commands::acl::check(ctx, name, argv)?;
    commands::acl::log_refusal(ctx, d, Context::Lua, name, argv);
    Some(match d.reason {
        Denied::Command => "ERR The user executing the script can't run this command or subcommand",
        Denied::Key => {
            "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
        }
        Denied::Channel => {
            "ERR The user executing the script can't publish to the channel mentioned in the command"
        }
    })
}

thread_local! {
    /// The run in progress on this thread: what `redis.call` works on (see [`with_run`]).
    static CURRENT: Cell<*mut ()> = const { Cell::new(std::ptr::null_mut()) };
}

/// The pair [`CURRENT`] points at.
type Current<'a, 'b> = (&'a mut Ctx<'b>, &'a mut RunState);

/// Puts a pointer back into [`CURRENT`] when dropped (also on unwinding).
struct Restore(*mut ());

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `f` (the script) with `ctx` and `run` as the target of `redis.call`. The
/// `redis.call` function is created once with the interpreter (no per-run closure, as
/// `Lua::scope` would make); it finds the run through a thread-local pointer, valid while
/// `f` runs on this thread.
pub fn with_run<R>(ctx: &mut Ctx, run: &mut RunState, f: impl FnOnce() -> R) -> R {
    let mut pair: Current = (ctx, run);
    let ptr = (&mut pair as *mut Current).cast::<()>();
    let _restore = Restore(CURRENT.with(|c| c.replace(ptr)));
    f()
}

/// Runs `f` with the context of the script running on this thread (the busy hook serving
/// other clients with it); None when no script runs here or a `redis.call` is in progress.
pub fn with_current<R>(f: impl FnOnce(&mut Ctx) -> R) -> Option<R> {
    let ptr = CURRENT.with(|c| c.replace(std::ptr::null_mut()));
    if ptr.is_null() {
        return None;
    }
    let _restore = Restore(ptr);
    // SAFETY: as in `lua_entry`: set by `with_run` below us on this thread's stack, and
    // taken out of CURRENT, so this is the only reference made from it.
    let (ctx, _run) = unsafe { &mut *ptr.cast::<Current>() };
    Some(f(ctx))
}

/// `bridge.call(pcall, resp, repl, ...)` as prelude.lua calls it: `redis.call` /
/// `redis.pcall` of the script running on this thread.
pub fn lua_entry(
    lua: &Lua,
    (_pcall, resp, repl, args): (bool, i64, i64, Variadic<Value>),
) -> mlua::Result<(bool, Value)> {
    // Taken out while the command runs: a nested call finds no run.
    let ptr = CURRENT.with(|c| c.replace(std::ptr::null_mut()));
    if ptr.is_null() {
        return Err(mlua::Error::RuntimeError(
            "redis.call can only be used from a running script".into(),
        ));
    }
    let _restore = Restore(ptr);
    // SAFETY: `ptr` was set by `with_run`, whose frame (holding the pair and the borrows
    // it contains) is below this one on this thread's stack for as long as the script
    // runs; it was taken out of CURRENT, so this is the only reference made from it.
    let (ctx, run) = unsafe { &mut *ptr.cast::<Current>() };
    redis_call(ctx, run, lua, resp, repl, args)
}

/// Runs one `redis.call` or `redis.pcall` with the script's current RESP version and
/// `redis.set_repl` flags: returns (true, reply) or (false, error table).
fn redis_call(
    ctx: &mut Ctx,
    run: &mut RunState,
    lua: &Lua,
    resp: i64,
    repl: i64,
    args: Variadic<Value>,
) -> mlua::Result<(bool, Value)> {
    if args.is_empty() {
        return Ok((
            false,
            err_table(
                lua,
                "ERR Please specify at least one argument for this redis lib call",
            )?,
        ));
    }
    let Some(argv) = command_args(&args) else {
        return Ok((
            false,
            err_table(
                lua,
                "ERR Lua redis lib command arguments must be strings or integers",
            )?,
        ));
    };
    // A container's subcommand is looked up as lookupCommand does (OBJECT ENCODING,
    // XINFO STREAM...): an unknown one is an unknown command.
    let looked = match commands::lookup(&argv[0]) {
        Some(base) if !base.subcommands.is_empty() && argv.len() >= 2 => base.subcommand(&argv[1]),
        other => other,
    };
    let cmd = match looked {
        None if denied(&argv[0]) => {
            return Ok((
                false,
                err_table(lua, "ERR This Redis command is not allowed from script")?,
            ));
        }
        None => {
            return Ok((
                false,
                err_table(lua, "ERR Unknown Redis command called from script")?,
            ));
        }
        Some(cmd) => cmd,
    };
    let n = argv.len() as i32;
    if (cmd.arity > 0 && n != cmd.arity) || n < -cmd.arity {
        return Ok((
            false,
            err_table(
                lua,
                "ERR Wrong number of args calling Redis command from script",
            )?,
        ));
    }
    if let Some(e) = refusal(ctx, run, cmd, &argv) {
        return Ok((false, err_table(lua, &e)?));
    }
    run.buf.proto = if resp == 3 {
        Proto::Resp3
    } else {
        Proto::Resp2
    };
    run.client.proto = run.buf.proto;
    run.buf.buf.clear();
    let dirty_before = ctx.state.dirty;
    let effects_before = ctx.state.script_effects.as_ref().map(Vec::len);
    {
        let mut inner = Ctx::new(ctx.state, &mut run.client, &mut run.buf, ctx.shared);
        inner.now_ms = ctx.now_ms;
        inner.in_exec = true;
        commands::call(&mut inner, cmd, &argv);
    }
    if let Some(before) = effects_before {
        // redis.set_repl: without REPL_REPLICA the command's effects stay here (there is
        // no AOF, so REPL_AOF alone propagates nothing either).
        if repl & REPL_REPLICA == 0
            && let Some(effects) = ctx.state.script_effects.as_mut()
        {
            effects.truncate(before);
        }
    }
    if ctx.state.dirty != dirty_before {
        run.wrote = true;
        run.watchdog.wrote.store(true, Ordering::Relaxed);
    }
    let streamed;
    let bytes: &[u8] = if run.buf.has_streams() {
        streamed = drain(&mut run.buf);
        &streamed
    } else {
        // Parsed in place: the buffer keeps its capacity for the next call.
        &run.buf.buf
    };
    if bytes.is_empty() {
        return Ok((true, Value::Nil));
    }
    let mut pos = 0;
    let v = reply_to_lua(lua, bytes, &mut pos)?;
    Ok((bytes[0] != b'-', v))
}

/// The whole reply as bytes, streamed parts included.
fn drain(buf: &mut ReplyBuf) -> Vec<u8> {
    let streams = std::mem::take(&mut buf.streams.0);
    let bytes = std::mem::take(&mut buf.buf);
    let mut out = Vec::new();
    let mut from = 0;
    let mut scratch = ReplyBuf::new(buf.proto);
    for (at, mut s) in streams {
        out.extend_from_slice(&bytes[from..at]);
        from = at;
        loop {
            scratch.buf.clear();
            let more = s.fill(&mut scratch, 64 * 1024);
            out.extend_from_slice(&scratch.buf);
            if !more {
                break;
            }
        }
    }
    out.extend_from_slice(&bytes[from..]);
    out
}
