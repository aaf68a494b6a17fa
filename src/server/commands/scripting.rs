//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FUNCTION, FCALL and FCALL_RO: the wire side
//! of `crate::server::scripting`. One handler per subcommand, with a small dispatcher for
//! each container command.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, NO_KEYS, Spec, container, err, is, spec};
use crate::server::scripting::functions::{self, RestorePolicy};
use crate::server::scripting::run::{Invocation, reply_error_bytes, run};
use crate::server::scripting::{self, ScriptFlags};
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// The scripting commands.
pub fn specs() -> Vec<Spec> {
    // Key positions come from numkeys (Redis's getkeys procs); COMMAND shows (0,0,0).
    vec![
        spec("eval", -3, STALE, NO_KEYS, eval),
        spec("evalsha", -3, STALE, NO_KEYS, evalsha),
        spec("eval_ro", -3, STALE | READONLY, NO_KEYS, eval_ro),
        spec("evalsha_ro", -3, STALE | READONLY, NO_KEYS, evalsha_ro),
        spec("fcall", -3, STALE, NO_KEYS, fcall),
        spec("fcall_ro", -3, STALE | READONLY, NO_KEYS, fcall_ro),
        spec("script", -2, 0, NO_KEYS, container).subcommands(vec![
            spec("script|load", 3, STALE, NO_KEYS, script_load),
            spec("script|exists", -3, 0, NO_KEYS, script_exists),
            spec("script|flush", -2, 0, NO_KEYS, script_flush),
            spec("script|kill", 2, 0, NO_KEYS, kill),
            spec("script|debug", 3, 0, NO_KEYS, script_debug),
            spec("script|help", 2, LOADING | STALE, NO_KEYS, script_help),
        ]),
        spec("function", -2, 0, NO_KEYS, container).subcommands(vec![
            spec("function|load", -3, WRITE | DENYOOM, NO_KEYS, function_load),
            spec("function|delete", 3, WRITE, NO_KEYS, function_delete),
            spec("function|flush", -2, WRITE, NO_KEYS, function_flush),
            spec("function|list", -2, 0, NO_KEYS, function_list),
            spec("function|dump", 2, 0, NO_KEYS, function_dump),
            spec(
                "function|restore",
                -3,
                WRITE | DENYOOM,
                NO_KEYS,
                function_restore,
            ),
            spec("function|stats", 2, 0, NO_KEYS, function_stats),
            spec("function|kill", 2, 0, NO_KEYS, kill),
            spec("function|help", 2, LOADING | STALE, NO_KEYS, function_help),
        ]),
    ]
}

/// numkeys and the split of the rest into keys and arguments.
fn split_keys(args: &[Bytes], fcall: bool) -> Result<(&[Bytes], &[Bytes]), CmdError> {
    // FCALL reads numkeys with getLongLongFromObject and its own error; EVAL with
    // getLongLongFromObjectOrReply.
    let n = match super::arg_i64(&args[2]) {
        Err(_) if fcall => return Err(CmdError::fixed("ERR Bad number of keys provided")),
        n => n?,
    };
    if n < 0 {
        return Err(CmdError::fixed("ERR Number of keys can't be negative"));
    }
    let rest = &args[3..];
    if n as u64 > rest.len() as u64 {
        return Err(CmdError::fixed(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(rest.split_at(n as usize))
}

/// The checks Redis 7.0 makes before a script with flags runs (scriptPrepareForRun): a
/// write script refused by *_RO commands, on a read-only replica, when the last
/// background save failed, without enough good replicas (min-replicas-to-write), or
/// above maxmemory.
fn check_flags(ctx: &mut Ctx, flags: Option<ScriptFlags>, ro: bool) -> CmdResult {
    let Some(f) = flags else {
        return Ok(());
    };
    if f.no_writes || ctx.client.is_master {
        return Ok(());
    }
    if ro {
        return Err(CmdError::fixed(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let config = &ctx.state.config;
    if config.replicaof.is_some() && config.replica_read_only {
        return Err(err::READONLY);
    }
    if let Some(e) = crate::server::persistence::disk_error(ctx.state) {
        return Err(e);
    }
    if crate::server::replication::master::too_few_replicas(ctx.state, ctx.now_ms) {
        return Err(crate::server::replication::master::NOREPLICAS);
    }
    let config = &ctx.state.config;
    if config.maxmemory > 0 && !f.allow_oom && !crate::server::evict::perform(ctx.state) {
        return Err(CmdError::fixed(
            "OOM command not allowed when used memory > 'maxmemory'.",
        ));
    }
    Ok(())
}

/// Redis's reply to EVALSHA of an unknown script.
const NOSCRIPT: CmdError = CmdError::fixed("NOSCRIPT No matching script. Please use EVAL.");

fn eval_generic(ctx: &mut Ctx, args: &[Bytes], by_sha: bool, ro: bool) -> CmdResult {
    if by_sha && args[1].len() != 40 {
        // As evalShaCommand: no SHA1 has another length, so before numkeys is parsed.
        return Err(NOSCRIPT);
    }
    let (keys, argv) = split_keys(args, false)?;
    let scripting = &mut ctx.state.scripting;
    let sha = if by_sha {
        // Not UTF-8: no script has that name.
        String::from_utf8(args[1].to_ascii_lowercase()).map_err(|_| NOSCRIPT)?
    } else {
        match scripting.load_script(&args[1]) {
            Ok(sha) => sha,
            Err(e) => {
                reply_error_bytes(ctx, &e);
                return Ok(());
            }
        }
    };
    let Some(script) = scripting.scripts.get(&sha) else {
        return Err(NOSCRIPT);
    };
    let (func, flags) = (script.func.clone(), script.flags);
    check_flags(ctx, flags, ro)?;
    let f = flags.unwrap_or_default();
    run(
        ctx,
        Invocation {
            func,
            keys,
            argv,
            read_only: ro || f.no_writes,
            allow_oom: f.allow_oom,
            label: &sha,
            is_function: false,
            command: args,
        },
    );
    Ok(())
}

fn eval(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    eval_generic(ctx, args, false, false)
}

fn evalsha(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    eval_generic(ctx, args, true, false)
}

fn eval_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    eval_generic(ctx, args, false, true)
}

fn evalsha_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    eval_generic(ctx, args, true, true)
}

fn fcall_generic(ctx: &mut Ctx, args: &[Bytes], ro: bool) -> CmdResult {
    // The function is looked up before numkeys is parsed, as fcallCommandGeneric.
    let name = String::from_utf8_lossy(&args[1]).into_owned();
    let Some(f) = ctx.state.scripting.functions.find(&name) else {
        return Err(CmdError::fixed("ERR Function not found"));
    };
    let (keys, argv) = split_keys(args, true)?;
    let (func, flags) = (f.func.clone(), f.flags);
    check_flags(ctx, Some(flags), ro)?;
    run(
        ctx,
        Invocation {
            func,
            keys,
            argv,
            read_only: ro || flags.no_writes,
            allow_oom: flags.allow_oom,
            label: &name,
            is_function: true,
            command: args,
        },
    );
    Ok(())
}

fn fcall(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, args, true)
}

// ---- SCRIPT ----

fn script_load(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match ctx.state.scripting.load_script(&args[2]) {
        Ok(sha) => ctx.out.bulk(sha.as_bytes()),
        Err(e) => reply_error_bytes(ctx, &e),
    }
    Ok(())
}

fn script_exists(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.out.array(args.len() - 2);
    for a in &args[2..] {
        let sha = String::from_utf8_lossy(a).to_ascii_lowercase();
        let found = ctx.state.scripting.scripts.contains_key(&sha);
        ctx.out.int(found as i64);
    }
    Ok(())
}

/// `[ASYNC|SYNC]` of SCRIPT FLUSH and FUNCTION FLUSH (both act at once here).
fn flush_mode(args: &[Bytes], at: usize, error: &'static str) -> CmdResult {
    match args.get(at) {
        None => Ok(()),
        Some(a) if is(a, "async") || is(a, "sync") => Ok(()),
        Some(_) => Err(CmdError::fixed(error)),
    }
}

fn script_flush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    const ONLY: &str = "ERR SCRIPT FLUSH only support SYNC|ASYNC option";
    if args.len() > 3 {
        return Err(CmdError::fixed(ONLY));
    }
    flush_mode(args, 2, ONLY)?;
    ctx.state.scripting.flush_scripts();
    ctx.out.ok();
    Ok(())
}

/// SCRIPT KILL / FUNCTION KILL: from a connection running under the lock no script runs
/// (NOTBUSY); from one the busy hook serves, it asks the running script to stop.
fn kill(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let eval = is(&args[0], "script");
    crate::server::scripting::busy::kill(&ctx.shared.watchdog, eval).map_err(CmdError::fixed)?;
    ctx.out.ok();
    Ok(())
}

fn script_debug(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if is(&args[2], "no") {
        ctx.out.ok();
        return Ok(());
    }
    if is(&args[2], "yes") || is(&args[2], "sync") {
        return Err(CmdError::fixed(
            "ERR SCRIPT DEBUG is not supported by this server",
        ));
    }
    Err(CmdError::fixed("ERR Use SCRIPT DEBUG YES/SYNC/NO"))
}

fn script_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}

// ---- FUNCTION ----

fn function_load(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // Every argument before the last is an option (REPLACE, repeatable); the error prints
    // the word with %s (up to a NUL byte).
    let mut replace = false;
    for a in &args[2..args.len() - 1] {
        if !is(a, "replace") {
            let word = a.split(|&b| b == 0).next().unwrap_or_default();
            return Err(CmdError::msg(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(word)
            )));
        }
        replace = true;
    }
    let code = &args[args.len() - 1];
    let name = match functions::load(&mut ctx.state.scripting, code, replace) {
        Ok(name) => name,
        Err(e) => {
            reply_error_bytes(ctx, &e);
            return Ok(());
        }
    };
    ctx.state.dirty += 1;
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn function_delete(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&args[2]);
    if !ctx.state.scripting.functions.delete(&name) {
        return Err(CmdError::fixed("ERR Library not found"));
    }
    ctx.state.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn function_flush(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(super::subcommand_syntax_error(args));
    }
    flush_mode(
        args,
        2,
        "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
    )?;
    ctx.state.scripting.functions.clear();
    ctx.state.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn function_list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut pattern: Option<&Bytes> = None;
    let mut with_code = false;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "withcode") && !with_code {
            with_code = true;
        } else if is(&args[i], "libraryname") && pattern.is_none() {
            let Some(name) = args.get(i + 1) else {
                return Err(CmdError::msg(
                    "ERR library name argument was not given".into(),
                ));
            };
            pattern = Some(name);
            i += 1;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(&args[i])
            )));
        }
        i += 1;
    }
    let libs = &ctx.state.scripting.functions;
    let chosen: Vec<&functions::Library> = libs
        .libraries()
        .filter(|l| {
            pattern.is_none_or(|p| crate::server::glob::glob_match(p, l.name.as_bytes(), false))
        })
        .collect();
    let out = &mut *ctx.out;
    out.array(chosen.len());
    for lib in chosen {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d.as_bytes()),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names = f.flags.names();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

fn function_dump(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let payload = functions::dump(&ctx.state.scripting.functions);
    ctx.out.bulk(&payload);
    Ok(())
}

fn function_restore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(super::subcommand_syntax_error(args));
    }
    let policy = match args.get(3) {
        None => RestorePolicy::Append,
        Some(a) if is(a, "append") => RestorePolicy::Append,
        Some(a) if is(a, "replace") => RestorePolicy::Replace,
        Some(a) if is(a, "flush") => RestorePolicy::Flush,
        Some(_) => {
            return Err(CmdError::fixed(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ));
        }
    };
    functions::restore(&mut ctx.state.scripting, &args[2], policy).map_err(CmdError::msg)?;
    ctx.state.dirty += 1;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION STATS, as functionStatsCommand: while busy (the hook runs it for other
/// clients) it shows the running function, and refuses during an EVAL script.
fn function_stats(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let dog = ctx.state.scripting.watchdog.clone();
    let running = dog.running.load(Ordering::Acquire);
    if running && !dog.is_function.load(Ordering::Relaxed) {
        return Err(CmdError::fixed(scripting::busy::BUSY_EVAL));
    }
    let libs = &ctx.state.scripting.functions;
    let (nlibs, nfuncs) = (libs.library_count(), libs.function_count());
    let now = ctx.now_ms;
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    if running {
        out.map(3);
        out.bulk(b"name");
        out.bulk(
            dog.label
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_bytes(),
        );
        out.bulk(b"command");
        let command = dog.command.lock().unwrap_or_else(|e| e.into_inner());
        out.array(command.len());
        for a in command.iter() {
            out.bulk(a);
        }
        out.bulk(b"duration_ms");
        out.int(now - dog.started_ms.load(Ordering::Relaxed));
    } else {
        out.null();
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(nlibs as i64);
    out.bulk(b"functions_count");
    out.int(nfuncs as i64);
    Ok(())
}

fn function_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}
