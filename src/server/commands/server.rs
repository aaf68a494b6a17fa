//! Server commands: INFO, TIME, DEBUG, SHUTDOWN, COMMAND, LOLWUT-free basics.

use super::flags::*;
use super::{CmdError, CmdResult, Ctx, Flow, NO_KEYS, Spec, err, is, spec};
use crate::server::state::ShutdownKind;
use crate::server::{digest, info};
use bytes::Bytes;

/// The server commands.
pub fn specs() -> Vec<Spec> {
    vec![
        spec("info", -1, LOADING | STALE, NO_KEYS, info_cmd),
        spec("time", 1, LOADING | STALE | FAST, NO_KEYS, time),
        spec(
            "debug",
            -2,
            ADMIN | PROTECTED | LOADING | STALE,
            NO_KEYS,
            debug,
        ),
        spec(
            "shutdown",
            -1,
            ADMIN | NOAUTH | LOADING | STALE | NO_MULTI,
            NO_KEYS,
            shutdown,
        ),
        spec("command", -1, LOADING | STALE, NO_KEYS, command),
    ]
}

fn info_cmd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let sections: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let text = info::render(ctx.state, &sections);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn time(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let us = crate::server::clock::now_us();
    ctx.out.array(2);
    ctx.out.bulk_int(us / 1_000_000);
    ctx.out.bulk_int(us % 1_000_000);
    Ok(())
}

fn debug(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    // enable-debug-command is checked before the handler runs (PROTECTED).
    let sub = &args[1];
    if is(sub, "sleep") && args.len() == 3 {
        let secs = super::arg_f64(&args[2])?;
        // As Redis: microseconds as a C cast to long long (inf, nan and out-of-range values
        // come out negative on x86, and nanosleep then returns at once).
        let us = secs * 1e6;
        let us = if us.is_finite() && us.abs() < 9.2e18 {
            us as i64
        } else {
            i64::MIN
        };
        if us > 0 {
            std::thread::sleep(std::time::Duration::from_micros(us as u64));
        }
        ctx.out.ok();
    } else if is(sub, "digest") && args.len() == 2 {
        let d = digest::dataset_digest(&ctx.state.dbs);
        ctx.out.simple(&digest::hex(&d));
    } else if is(sub, "digest-value") {
        ctx.out.array(args.len() - 2);
        for key in &args[2..] {
            let db = ctx.db();
            let d = match db.get(key) {
                Some(v) => digest::value_digest(v, db.expire_at(key).is_some()),
                None => [0u8; 20],
            };
            ctx.out.simple(&digest::hex(&d));
        }
    } else if is(sub, "reload") && args.len() == 2 {
        crate::server::persistence::save(ctx.state)
            .map_err(|_| CmdError::fixed("ERR Error trying to save the DB"))?;
        for db in ctx.state.dbs.iter_mut() {
            db.clear();
        }
        crate::server::persistence::reload(ctx.state).map_err(|e| {
            crate::warning!("{e}");
            CmdError::fixed("ERR Error trying to load the RDB dump, check server logs.")
        })?;
        ctx.out.ok();
    } else if is(sub, "object") && args.len() == 3 {
        debug_object(ctx, &args[2])?;
    } else if is(sub, "set-active-expire") && args.len() == 3 {
        ctx.state.active_expire_enabled = super::arg_i64(&args[2])? != 0;
        ctx.out.ok();
    } else if is(sub, "populate") && (3..=5).contains(&args.len()) {
        populate(ctx, args)?;
    } else {
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(())
}

/// DEBUG OBJECT key: Redis's one status line about a value (address, refcount, encoding,
/// serialized length, LRU clock and idle seconds; for lists the quicklist's shape too). The
/// key is looked up without an expiry check, as Redis does.
fn debug_object(ctx: &mut Ctx, key: &[u8]) -> CmdResult {
    use crate::server::types::{Value, listpack_size};
    use std::fmt::Write as _;
    let compress = ctx.state.config.rdbcompression;
    let fill = ctx.state.config.list_max_listpack_size;
    let compressed = ctx.state.config.list_compress_depth != 0;
    let clock = crate::server::db::lru_clock();
    let Some(entry) = ctx.db().entry(key) else {
        return Err(CmdError::fixed("ERR no such key"));
    };
    let v = &entry.value;
    // The payload without its type byte: what rdbSavedObjectLen counts.
    let serialized = crate::server::rdb::writer::encode_value(v, compress).len() - 1;
    let mut line = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        v as *const Value,
        v.refcount(),
        v.encoding(),
        serialized,
        entry.atime & 0x00ff_ffff,
        clock.saturating_sub(entry.atime),
    );
    if let Value::List(l) = v {
        let shape = listpack_size::quicklist_shape(l, fill);
        let avg = if shape.nodes == 0 {
            0.0
        } else {
            l.len() as f64 / shape.nodes as f64
        };
        let _ = write!(
            line,
            " ql_nodes:{} ql_avg_node:{avg:.2} ql_listpack_max:{fill} ql_compressed:{} \
             ql_uncompressed_size:{}",
            shape.nodes, compressed as u8, shape.bytes
        );
    }
    ctx.out.simple(&line);
    Ok(())
}

/// DEBUG POPULATE count [prefix] [size]: creates `prefix:N` = `value:N` (padded with zero
/// bytes or cut to `size`) for N below count, skipping keys that exist, as Redis does. Not
/// propagated (Redis does not either).
fn populate(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let count = super::arg_i64(&args[2])?;
    if count < 0 {
        return Err(CmdError::fixed("ERR count must be a positive number"));
    }
    let prefix: &[u8] = args.get(3).map_or(b"key", |p| &p[..]);
    let size = match args.get(4) {
        Some(s) => {
            let n = super::arg_i64(s)?;
            if n < 0 {
                return Err(CmdError::fixed("ERR size must be a positive number"));
            }
            Some(n as usize)
        }
        None => None,
    };
    let db = ctx.client.db;
    ctx.state.dbs[db].reserve(count as usize, 0);
    let mut key = Vec::with_capacity(prefix.len() + 21);
    for j in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.extend_from_slice(format!(":{j}").as_bytes());
        let mut val = format!("value:{j}").into_bytes();
        if let Some(n) = size {
            val.resize(n, 0);
        }
        let v = crate::server::types::Value::Str(crate::server::sds::Sds::from_slice(&val));
        let _ = ctx.state.dbs[db].insert_if_absent(crate::server::sds::Sds::from_slice(&key), v);
    }
    ctx.out.ok();
    Ok(())
}

fn shutdown(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !ctx.client.authenticated {
        return Err(err::NOAUTH);
    }
    let mut kind = ShutdownKind::Default;
    let (mut nosave, mut save, mut other_flags, mut abort) = (false, false, false, false);
    for a in &args[1..] {
        if is(a, "nosave") {
            nosave = true;
            kind = ShutdownKind::NoSave;
        } else if is(a, "save") {
            save = true;
            kind = ShutdownKind::Save;
        } else if is(a, "now") || is(a, "force") {
            // No shutdown delay to skip: shutdown is immediate.
            other_flags = true;
        } else if is(a, "abort") {
            abort = true;
        } else {
            return Err(err::SYNTAX);
        }
    }
    // As Redis's shutdownCommand: SAVE with NOSAVE, or ABORT with any flag, is a syntax
    // error; ABORT alone has no pending shutdown to stop here (shutdown is immediate).
    if (nosave && save) || (abort && (nosave || save || other_flags)) {
        return Err(err::SYNTAX);
    }
    if abort {
        return Err(CmdError::fixed("ERR No shutdown in progress."));
    }
    crate::warning!("User requested shutdown...");
    ctx.state.shutdown_requested = Some(kind);
    ctx.shared.shutdown.notify_one();
    ctx.flow = Flow::Close;
    Ok(())
}

fn flag_names(s: &Spec) -> Vec<&'static str> {
    let mut v = Vec::new();
    let table = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOAUTH, "no_auth"),
        (STALE, "stale"),
        (LOADING, "loading"),
        (FAST, "fast"),
        (NO_MULTI, "no_multi"),
        (BLOCKING, "blocking"),
    ];
    for (f, name) in table {
        if s.has(f) {
            v.push(name);
        }
    }
    v
}

fn command_info(ctx: &mut Ctx, s: &Spec) {
    ctx.out.array(10);
    ctx.out.bulk(s.name.as_bytes());
    ctx.out.int(s.arity as i64);
    let flags = flag_names(s);
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.simple(f);
    }
    ctx.out.int(s.first_key as i64);
    ctx.out.int(s.last_key as i64);
    ctx.out.int(s.step as i64);
    ctx.out.set(0);
    ctx.out.set(0);
    ctx.out.array(0);
    ctx.out.array(0);
}

fn command(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let table = super::table();
    if args.len() == 1 {
        ctx.out.array(table.len());
        for s in table.values() {
            command_info(ctx, s);
        }
        return Ok(());
    }
    let sub = &args[1];
    if is(sub, "count") && args.len() == 2 {
        ctx.out.int(table.len() as i64);
    } else if is(sub, "info") {
        if args.len() == 2 {
            ctx.out.array(table.len());
            for s in table.values() {
                command_info(ctx, s);
            }
        } else {
            ctx.out.array(args.len() - 2);
            for name in &args[2..] {
                match super::lookup(name) {
                    Some(s) => command_info(ctx, s),
                    None => ctx.out.null_array(),
                }
            }
        }
    } else if is(sub, "list") && args.len() == 2 {
        ctx.out.array(table.len());
        for s in table.values() {
            ctx.out.bulk(s.name.as_bytes());
        }
    } else if is(sub, "docs") {
        // Documentation texts are not bundled; an empty map makes clients fall back to
        // their built-in help, as they do against servers without docs.
        ctx.out.map(0);
    } else if is(sub, "getkeys") && args.len() >= 3 {
        let Some(s) = super::lookup(&args[2]) else {
            return Err(CmdError::fixed("ERR Invalid command specified"));
        };
        let cmd_args = &args[2..];
        if s.first_key == 0 {
            return Err(CmdError::fixed("ERR The command has no key arguments"));
        }
        let last = if s.last_key < 0 {
            cmd_args.len() as i32 + s.last_key
        } else {
            s.last_key
        };
        let keys: Vec<&Bytes> = (s.first_key..=last)
            .step_by(s.step.max(1) as usize)
            .filter_map(|i| cmd_args.get(i as usize))
            .collect();
        ctx.out.array(keys.len());
        for k in keys {
            ctx.out.bulk(k);
        }
    } else {
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(())
}
