//! Server commands: INFO, TIME, DEBUG, SHUTDOWN (COMMAND is in command.rs).

use super::args::positive_long;
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
            ADMIN | LOADING | STALE | NO_MULTI,
            NO_KEYS,
            shutdown,
        ),
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
        crate::server::db::access::idle_seconds(entry.atime),
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
/// bytes or cut to `size` when `size` is not 0) for N below count, skipping keys that exist,
/// as Redis does; a key is cut to 127 bytes as Redis's `snprintf` into `char buf[128]`. Not
/// propagated (Redis does not either).
///
/// Redis expands the key table for `count` first and answers `ERR OOM in dictTryExpand` when
/// that allocation fails, but aborts the whole process when it overflows
/// (`DEBUG POPULATE 1000000000000000000`) or when the keys then fill the memory. Here a
/// request whose table or keys cannot fit in the machine's memory gets that error before
/// anything is allocated, and the table grows as keys are added.
fn populate(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    /// What a populated key costs at least (entry, key, value and allocator overhead).
    const KEY_COST: u64 = 96;
    let oom = CmdError::fixed("ERR OOM in dictTryExpand");
    let memory = physical_memory();
    let count = positive_long(&args[2], None)? as u64;
    let buckets = count
        .checked_next_power_of_two()
        .and_then(|b| b.checked_mul(8));
    if buckets.is_none_or(|b| b > memory) {
        return Err(oom);
    }
    let size = match args.get(4) {
        Some(s) => positive_long(s, None)? as u64,
        None => 0,
    };
    if count.saturating_mul(size.saturating_add(KEY_COST)) > memory {
        return Err(oom);
    }
    let prefix: &[u8] = args.get(3).map_or(b"key", |p| &p[..]);
    let db = ctx.client.db;
    ctx.state.dbs[db].reserve(count.min(1 << 16) as usize, 0);
    let mut key = Vec::with_capacity(128);
    for j in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.extend_from_slice(format!(":{j}").as_bytes());
        key.truncate(127);
        let mut val = format!("value:{j}").into_bytes();
        if size != 0 {
            val.resize(size as usize, 0);
        }
        let v = crate::server::types::Value::Str(crate::server::sds::Sds::from_slice(&val));
        let _ = ctx.state.dbs[db].insert_if_absent(crate::server::sds::Sds::from_slice(&key), v);
    }
    ctx.out.ok();
    Ok(())
}

/// The machine's physical memory in bytes (Redis's `zmalloc_get_memory_size`).
fn physical_memory() -> u64 {
    // SAFETY: sysconf only reads system constants.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages.max(0) as u64).saturating_mul(page.max(0) as u64)
}

fn shutdown(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if !ctx.client.authenticated {
        return Err(err::NOAUTH);
    }
    let mut kind = ShutdownKind::Default;
    let (mut nosave, mut save, mut other_flags, mut abort) = (false, false, false, false);
    let mut force = false;
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
            force |= is(a, "force");
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
    if !crate::server::aof::shutdown_check(ctx.state, force) {
        return Err(CmdError::fixed(
            "ERR Errors trying to SHUTDOWN. Check logs.",
        ));
    }
    ctx.state.shutdown_requested = Some(kind);
    ctx.shared.shutdown.notify_one();
    ctx.flow = Flow::Close;
    Ok(())
}
