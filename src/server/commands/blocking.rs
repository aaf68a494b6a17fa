//! Blocked-client bookkeeping for BLPOP & co.
//!
//! A blocking command that finds nothing to serve asks the connection to wait for the next
//! write and run it again ([`block_or_timeout`]); `State::blocked_on` lists the waiters in
//! the order they blocked, and [`may_serve`] keeps that order (first blocked, first served).
//! [`after_call`] runs after every command: it maintains the blocked counters and wakes the
//! waiters when something they may be waiting for changed -- a write, or a waiter leaving
//! the queue (served, or failed like a BLMOVE whose destination holds the wrong type), so
//! the next waiter gets the element the first one did not take, as in Redis.

use super::{CmdError, Ctx, Flow, reply_error};
use crate::server::client::{UNBLOCK_ERROR, UNBLOCK_NONE, UNBLOCK_TIMEOUT};
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// Called by a blocking command that found nothing to serve: inside EXEC or once the
/// deadline passed it replies with a null array; otherwise it asks the connection to wait
/// for the next write and run the command again.
pub fn block_or_timeout(ctx: &mut Ctx, timeout_ms: i64, keys: &[Bytes]) {
    if ctx.in_exec {
        ctx.out.null_array();
        return;
    }
    // CLIENT UNBLOCK: the timeout reply, or Redis's UNBLOCKED error.
    match ctx.client.info.unblock.swap(UNBLOCK_NONE, Ordering::SeqCst) {
        UNBLOCK_TIMEOUT => {
            ctx.out.null_array();
            return;
        }
        UNBLOCK_ERROR => {
            reply_error(
                ctx,
                &CmdError::fixed("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
            );
            return;
        }
        _ => {}
    }
    let id = ctx.client.info.id;
    if !ctx.state.blocked_on.iter().any(|b| b.0 == id) {
        let db = ctx.client.db;
        ctx.state.blocked_on.push((id, db, keys.to_vec()));
    }
    let deadline = match ctx.client.blocked_until {
        Some(d) => d,
        None => {
            let d = if timeout_ms == 0 {
                i64::MAX
            } else {
                ctx.now_ms.saturating_add(timeout_ms)
            };
            ctx.client.blocked_until = Some(d);
            d
        }
    };
    if ctx.now_ms >= deadline {
        ctx.out.null_array();
    } else {
        ctx.flow = Flow::Blocked(deadline);
    }
}

/// Whether the calling client may take from `key` now: false while a client that blocked
/// earlier still waits on the same key (it is served first, as in Redis).
pub fn may_serve(ctx: &Ctx, key: &[u8]) -> bool {
    let id = ctx.client.info.id;
    let db = ctx.client.db;
    for (cid, cdb, keys) in &ctx.state.blocked_on {
        if *cid == id {
            return true;
        }
        if *cdb == db && keys.iter().any(|k| &k[..] == key) {
            return false;
        }
    }
    true
}

/// The blocked-client part of running a command: `was_blocked` tells whether the client
/// was blocked before it, `dirty_before` the dirty counter before it.
pub fn after_call(ctx: &mut Ctx, was_blocked: bool, dirty_before: u64) {
    let now_blocked = matches!(ctx.flow, Flow::Blocked(_));
    let mut left_queue = false;
    if !now_blocked {
        if was_blocked {
            // Served before a CLIENT UNBLOCK took effect: forget it.
            ctx.client
                .info
                .unblock
                .store(UNBLOCK_NONE, Ordering::SeqCst);
        }
        ctx.client.blocked_until = None;
        if !ctx.state.blocked_on.is_empty() {
            let id = ctx.client.info.id;
            let before = ctx.state.blocked_on.len();
            ctx.state.blocked_on.retain(|b| b.0 != id);
            left_queue = ctx.state.blocked_on.len() != before;
        }
    }
    match (was_blocked, now_blocked) {
        (false, true) => ctx.state.blocked_clients += 1,
        (true, false) => ctx.state.blocked_clients = ctx.state.blocked_clients.saturating_sub(1),
        _ => {}
    }
    // Blocked clients record the epoch and join `writes` under this same lock, so when none
    // is blocked nobody can miss a wake-up and the hot path skips both. A waiter that left
    // the queue without writing (its serve failed) wakes the others too: the element it did
    // not take is now theirs.
    if (ctx.state.dirty != dirty_before || left_queue) && ctx.state.blocked_clients > 0 {
        ctx.shared.write_epoch.fetch_add(1, Ordering::SeqCst);
        ctx.shared.writes.notify_waiters();
    }
}
