//! MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP. USAGE's figure is what
//! Redis 7.0 would report for the same value (`stats::usage` says how it is computed);
//! STATS has Redis's field names and shape, filled from this server's allocator counters.

use super::args::Args;
use super::flags::*;
use super::{CmdResult, Ctx, NO_KEYS, Spec, container, err, spec};
use crate::server::stats::memory::Figures;
use crate::server::{alloc, stats::usage};
use bytes::Bytes;

/// The MEMORY command.
pub fn specs() -> Vec<Spec> {
    vec![spec("memory", -2, 0, NO_KEYS, container).subcommands(vec![
        spec("memory|usage", -3, READONLY, (2, 2, 1), memory_usage),
        spec("memory|stats", 2, 0, NO_KEYS, memory_stats),
        spec("memory|doctor", 2, 0, NO_KEYS, memory_doctor),
        spec("memory|malloc-stats", 2, 0, NO_KEYS, memory_malloc_stats),
        spec("memory|purge", 2, 0, NO_KEYS, memory_purge),
        spec("memory|help", 2, LOADING | STALE, NO_KEYS, memory_help),
    ])]
}

/// MEMORY USAGE key [SAMPLES count]: bytes, or nil for a missing key. Options are checked
/// first; the key is looked up without expiring it, as Redis does.
fn memory_usage(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut samples = 5usize;
    let mut cursor = Args::new(args, 3);
    while !cursor.is_done() {
        if cursor.remaining() >= 2 && cursor.keyword("samples") {
            let n = cursor.next_i64()?;
            if n < 0 {
                return Err(err::SYNTAX);
            }
            samples = if n == 0 { usize::MAX } else { n as usize };
        } else {
            return Err(err::SYNTAX);
        }
    }
    match ctx.db().entry(&args[2]) {
        Some(e) => {
            let n = usage::key_usage(&args[2], &e.value, samples);
            ctx.out.int(n as i64);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// MEMORY STATS: Redis's map of memory figures (flat, with one `db.N` map per database
/// holding keys).
fn memory_stats(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let m = Figures::gather(ctx.state);
    let overhead = m.overhead();
    let dataset = m.dataset();
    ctx.out.map(27 + m.db_tables.len());
    let int = |ctx: &mut Ctx, name: &str, v: i64| {
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(v);
    };
    int(ctx, "peak.allocated", m.peak as i64);
    int(ctx, "total.allocated", m.used as i64);
    int(ctx, "startup.allocated", m.startup as i64);
    int(ctx, "replication.backlog", m.backlog as i64);
    int(ctx, "clients.slaves", m.clients_slaves as i64);
    int(ctx, "clients.normal", m.clients_normal as i64);
    int(ctx, "cluster.links", 0);
    int(ctx, "aof.buffer", m.aof_buffer as i64);
    int(ctx, "lua.caches", 0);
    int(ctx, "functions.caches", 0);
    for &(i, main, expires) in &m.db_tables {
        ctx.out.bulk(format!("db.{i}").as_bytes());
        ctx.out.map(3);
        int(ctx, "overhead.hashtable.main", main as i64);
        int(ctx, "overhead.hashtable.expires", expires as i64);
        int(ctx, "overhead.hashtable.slot-to-keys", 0);
    }
    int(ctx, "overhead.total", overhead as i64);
    int(ctx, "keys.count", m.keys as i64);
    int(ctx, "keys.bytes-per-key", (dataset / m.keys.max(1)) as i64);
    int(ctx, "dataset.bytes", dataset as i64);
    let dbl = |ctx: &mut Ctx, name: &str, v: f64| {
        ctx.out.bulk(name.as_bytes());
        ctx.out.double(v);
    };
    dbl(ctx, "dataset.percentage", m.dataset_perc());
    dbl(ctx, "peak.percentage", m.peak_perc());
    int(ctx, "allocator.allocated", m.allocator.allocated as i64);
    int(ctx, "allocator.active", m.allocator.active as i64);
    int(ctx, "allocator.resident", m.allocator.resident as i64);
    let (frag_ratio, frag_bytes) = m.allocator_frag();
    dbl(ctx, "allocator-fragmentation.ratio", frag_ratio);
    int(ctx, "allocator-fragmentation.bytes", frag_bytes);
    let (rss_ratio, rss_bytes) = m.allocator_rss();
    dbl(ctx, "allocator-rss.ratio", rss_ratio);
    int(ctx, "allocator-rss.bytes", rss_bytes);
    let (over_ratio, over_bytes) = m.rss_overhead();
    dbl(ctx, "rss-overhead.ratio", over_ratio);
    int(ctx, "rss-overhead.bytes", over_bytes);
    dbl(ctx, "fragmentation", m.fragmentation());
    int(ctx, "fragmentation.bytes", m.rss as i64 - m.used as i64);
    Ok(())
}

/// MEMORY DOCTOR: Redis's report for an instance with little data, or without issues
/// (the issue detectors need allocator figures this server does not have).
fn memory_doctor(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    let text: &str = if alloc::allocated() < 5 * 1024 * 1024 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting."
    } else {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// MEMORY MALLOC-STATS: as a Redis built with libc malloc.
fn memory_malloc_stats(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.out
        .bulk(b"Stats not supported for the current allocator");
    Ok(())
}

/// MEMORY PURGE: gives free heap pages back to the system (glibc's malloc_trim).
fn memory_purge(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe { libc::malloc_trim(0) };
    ctx.out.ok();
    Ok(())
}

/// MEMORY HELP.
fn memory_help(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    super::reply_help(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}
