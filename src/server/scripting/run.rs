//! Runs one EVAL script or FCALL function under the state lock, as Redis 7.0's
//! luaCallFunction: KEYS/ARGV (or the function's two tables), `redis.call` bound to this
//! run, the watchdog marked running, the effects collected and replicated (wrapped in
//! MULTI/EXEC when there are several), and the result or error written as the reply.

use super::call::{RunState, with_run};
use super::convert::lua_to_reply;
use crate::resp::ReplyBuf;
use crate::server::client::{Client, ClientInfo};
use crate::server::commands::{CmdError, Ctx, Flow, reply_error};
use crate::server::state::ShutdownKind;
use bytes::Bytes;
use mlua::{Function, Lua, Table, Value};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// One script or function call.
pub struct Invocation<'a> {
    /// The compiled script, or the registered function.
    pub func: Function,
    /// Key names.
    pub keys: &'a [Bytes],
    /// Other arguments.
    pub argv: &'a [Bytes],
    /// EVAL_RO/FCALL_RO or `no-writes`.
    pub read_only: bool,
    /// `allow-oom`.
    pub allow_oom: bool,
    /// What error replies name after `script:` (the SHA1, or the function's name).
    pub label: &'a str,
    /// FCALL (arguments passed as two tables) rather than EVAL (KEYS/ARGV globals).
    pub is_function: bool,
    /// The whole command as sent (FUNCTION STATS shows a running function's).
    pub command: &'a [Bytes],
}

/// KEYS / ARGV: a sequence of Lua strings.
fn strings(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    lua.create_sequence_from(items.iter().map(|a| Bytes2Lua(a)))
}

/// Pushes bytes as a Lua string without an intermediate handle.
struct Bytes2Lua<'a>(&'a [u8]);

impl mlua::IntoLua for Bytes2Lua<'_> {
    fn into_lua(self, lua: &Lua) -> mlua::Result<Value> {
        lua.create_string(self.0).map(Value::String)
    }
}

/// The script's own client, kept between runs.
fn script_client(ctx: &mut Ctx) -> Client {
    let mut c = ctx.state.scripting.client.take().unwrap_or_else(|| {
        let info = Arc::new(ClientInfo::new(0, String::new(), String::new()));
        Client::new(info, true, true)
    });
    c.db = ctx.client.db;
    c.is_master = ctx.client.is_master;
    c
}

/// Runs `inv` and writes its reply to the caller.
pub fn run(ctx: &mut Ctx, inv: Invocation) {
    let lua = ctx.state.scripting.lua.clone();
    let runner = ctx.state.scripting.runner.clone();
    let watchdog = ctx.state.scripting.watchdog.clone();
    let seed = ctx.state.next_random() as i32;
    super::rand::reset(&lua, seed);
    let outcome = strings(&lua, inv.keys)
        .and_then(|keys| Ok((keys, strings(&lua, inv.argv)?)))
        .and_then(|(keys, argv)| {
            let mut run = RunState {
                client: script_client(ctx),
                buf: ReplyBuf::default(),
                read_only: inv.read_only,
                allow_oom: inv.allow_oom,
                wrote: false,
                watchdog: watchdog.clone(),
            };
            let threshold = ctx.state.config.busy_reply_threshold;
            let command = inv.is_function.then_some(inv.command);
            watchdog.start(ctx.now_ms, inv.label, command, threshold);
            if ctx.state.streaming() {
                ctx.state.script_effects = Some(Vec::new());
            }
            let func = inv.func.clone();
            let result = with_run(ctx, &mut run, || {
                runner.call::<(bool, Value, i64)>((func, inv.is_function, keys, argv))
            });
            watchdog.end();
            ctx.state.scripting.client = Some(run.client);
            if watchdog.shutdown.load(Ordering::Acquire) {
                ctx.state.script_effects = None;
            } else {
                replicate_effects(ctx);
            }
            result
        });
    if watchdog.shutdown.load(Ordering::Acquire) {
        // SHUTDOWN NOSAVE while busy: nothing of the script reaches replicas, no reply,
        // the server exits (as Redis's shutdownCommand run from the busy loop).
        ctx.state.shutdown_requested = Some(ShutdownKind::NoSave);
        ctx.shared.shutdown.notify_one();
        ctx.flow = Flow::Close;
        return;
    }
    match outcome {
        Ok((true, v, resp)) => {
            if let Err(e) = lua_to_reply(ctx.out, &v, resp as u8) {
                reply_error(
                    ctx,
                    &CmdError::msg(format!("ERR {}", super::lua_error_text(&e))),
                );
            }
        }
        Ok((false, v, _)) => {
            let text = error_text(&v, inv.label);
            reply_error_bytes(ctx, &text);
        }
        Err(e) => {
            let text = format!(
                "ERR Error running script: {} script: {}",
                super::lua_error_text(&e),
                inv.label
            );
            reply_error(ctx, &CmdError::msg(text));
        }
    }
    // Drop what the script left behind (tables, strings) now, not at some later GC.
    if lua.used_memory() > 32 << 20 {
        let _ = lua.gc_collect();
    }
}

/// The reply for a failed run: `<err> script: <label>, on <source>:<line>.`, as bytes
/// (the Lua message may quote bytes that are not UTF-8).
fn error_text(v: &Value, label: &str) -> Vec<u8> {
    let Value::Table(t) = v else {
        return format!("ERR unknown error script: {label}").into_bytes();
    };
    let mut text = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.as_bytes().to_vec(),
        _ => b"ERR unknown error".to_vec(),
    };
    let source: Option<String> = t.raw_get("source").ok().flatten();
    let line: Option<i64> = t.raw_get("line").ok().flatten();
    let tail = match (source, line) {
        (Some(s), Some(l)) => format!(" script: {label}, on {s}:{l}."),
        _ => format!(" script: {label}"),
    };
    text.extend_from_slice(tail.as_bytes());
    text
}

/// An error reply whose text may hold bytes that are not UTF-8 (a Lua message quoting
/// the script): counted as [`reply_error`] counts it, sent with its bytes as they are.
pub fn reply_error_bytes(ctx: &mut Ctx, text: &[u8]) {
    let mark = ctx.out.mark();
    reply_error(
        ctx,
        &CmdError::msg(String::from_utf8_lossy(text).into_owned()),
    );
    if std::str::from_utf8(text).is_err() {
        ctx.out.truncate(mark);
        super::convert::error_bytes(ctx.out, text);
    }
}

/// Streams the commands the script ran to replicas: as they are when there is one (or
/// when the caller's EXEC already wraps them), inside MULTI/EXEC when there are several.
fn replicate_effects(ctx: &mut Ctx) {
    let Some(effects) = ctx.state.script_effects.take() else {
        return;
    };
    if effects.is_empty() {
        return;
    }
    let wrap = effects.len() > 1 && ctx.state.repl.exec_wrap.is_none();
    if wrap {
        let db = effects[0].0;
        ctx.state.propagate(db, &[b"MULTI"]);
    }
    let mut last_db = 0;
    for (db, args) in &effects {
        ctx.state.propagate(*db, args);
        last_db = *db;
    }
    if wrap {
        ctx.state.propagate(last_db, &[b"EXEC"]);
    }
    ctx.client.woff = ctx.state.repl.offset;
}
