//! Keyspace notifications (`notify-keyspace-events`): the event classes, their config
//! string in Redis's canonical form, and [`notify`], called where Redis calls
//! notifyKeyspaceEvent. With notifications off (the default) a call is one load and one
//! test of the configured classes.

use crate::server::commands::Ctx;
use crate::server::pubsub::{Kind, Publisher};
use crate::server::state::State;

/// `K`: `__keyspace@<db>__:<key>` channels.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: `__keyevent@<db>__:<event>` channels.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: keys expired.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: keys evicted for maxmemory.
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands.
pub const STREAM: u32 = 1 << 10;
/// `m`: key misses (not part of `A`).
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module key types.
pub const MODULE: u32 = 1 << 13;
/// `n`: new keys (not part of `A`).
pub const NEW: u32 = 1 << 14;
/// `A`: `g$lshzxetd`.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Parses a `notify-keyspace-events` value (Redis's keyspaceEventsStringToFlags); None for
/// a character that is not a class.
pub fn parse(s: &str) -> Option<u32> {
    let mut flags = 0;
    for c in s.chars() {
        flags |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(flags)
}

/// The canonical string of `flags`, as CONFIG GET shows it (keyspaceEventsFlagsToString:
/// `A` stands for all of its classes, and then `n` is not shown, as in Redis 7.0).
pub fn format(flags: u32) -> String {
    let mut s = String::new();
    if flags & ALL == ALL {
        s.push('A');
    } else {
        for (f, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if flags & f != 0 {
                s.push(c);
            }
        }
    }
    for (f, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if flags & f != 0 {
            s.push(c);
        }
    }
    s
}

/// Fires `event` of class `class` for `key` in the context's database, as Redis's
/// notifyKeyspaceEvent: a message on `__keyspace@<db>__:<key>` (K) and on
/// `__keyevent@<db>__:<event>` (E), when the class is enabled.
#[inline]
pub fn notify(ctx: &mut Ctx, class: u32, event: &str, key: &[u8]) {
    let db = ctx.client.db;
    notify_in(ctx, class, event, key, db);
}

/// [`notify`] for a key of database `db` (MOVE, COPY ... DB).
#[inline]
pub fn notify_in(ctx: &mut Ctx, class: u32, event: &str, key: &[u8], db: usize) {
    let flags = ctx.state.config.notify_keyspace_events;
    if flags & NEW != 0 {
        flush_new(ctx);
    }
    if flags & class == 0 {
        return;
    }
    let mut from = Publisher::new(ctx.client.info.id, Some(ctx.out), &ctx.state.config);
    publish_event(ctx.state, &mut from, flags, db, event, key);
}

/// Starts recording the keys the command about to run adds (class `n`: Redis fires `new`
/// where a key is added, before the command's own event). Returns whether recording was
/// already on (a command run from a script or EXEC: the outermost call stops it).
#[inline]
pub fn begin_command(state: &mut State) -> bool {
    if state.config.notify_keyspace_events & NEW == 0 {
        return false;
    }
    let was_on = state.dbs[0].new_keys.is_some();
    for db in &mut state.dbs {
        db.new_keys.get_or_insert_with(Vec::new);
    }
    was_on
}

/// Fires `new` for the keys added since the last flush; stops recording unless `keep`.
#[inline]
pub fn end_command(ctx: &mut Ctx, keep: bool) {
    if ctx.state.dbs[0].new_keys.is_none() {
        return;
    }
    flush_new(ctx);
    if !keep {
        for db in &mut ctx.state.dbs {
            db.new_keys = None;
        }
    }
}

/// Fires `new` (class `n`) for every key recorded as added, in its database.
#[cold]
fn flush_new(ctx: &mut Ctx) {
    for dbi in 0..ctx.state.dbs.len() {
        let Some(keys) = ctx.state.dbs[dbi].new_keys.as_mut() else {
            continue;
        };
        if keys.is_empty() {
            continue;
        }
        let keys = std::mem::take(keys);
        let flags = ctx.state.config.notify_keyspace_events;
        let mut from = Publisher::new(ctx.client.info.id, Some(ctx.out), &ctx.state.config);
        for key in keys {
            publish_event(ctx.state, &mut from, flags, dbi, "new", key.as_bytes());
        }
    }
}

/// Fires `keymiss` (class `m`) for a read of a missing key.
#[inline]
pub fn notify_miss(ctx: &mut Ctx, key: &[u8]) {
    if ctx.state.config.notify_keyspace_events & KEY_MISS != 0 {
        notify(ctx, KEY_MISS, "keymiss", key);
    }
}

/// Fires `del` (g) when `key` no longer exists: a command emptied and removed it.
#[inline]
pub fn notify_if_deleted(ctx: &mut Ctx, key: &[u8]) {
    if ctx.state.config.notify_keyspace_events & GENERIC != 0
        && !ctx.state.dbs[ctx.client.db].contains(key)
    {
        notify(ctx, GENERIC, "del", key);
    }
}

/// [`notify`] for what the server does by itself (active expiry, eviction) in `db`.
#[inline]
pub fn notify_server(state: &State, class: u32, event: &str, key: &[u8], db: usize) {
    let flags = state.config.notify_keyspace_events;
    if flags & class != 0 {
        let mut from = Publisher::server(&state.config);
        publish_event(state, &mut from, flags, db, event, key);
    }
}

#[cold]
fn publish_event(
    state: &State,
    from: &mut Publisher,
    flags: u32,
    db: usize,
    event: &str,
    key: &[u8],
) {
    if flags & KEYSPACE != 0 {
        let mut chan = format!("__keyspace@{db}__:").into_bytes();
        chan.extend_from_slice(key);
        state
            .pubsub
            .publish(Kind::Channel, &chan, event.as_bytes(), from);
    }
    if flags & KEYEVENT != 0 {
        let chan = format!("__keyevent@{db}__:{event}");
        state
            .pubsub
            .publish(Kind::Channel, chan.as_bytes(), key, from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_as_redis() {
        assert_eq!(parse("KEA").map(format).as_deref(), Some("AKE"));
        assert_eq!(parse("Ex").map(format).as_deref(), Some("xE"));
        assert_eq!(parse("").map(format).as_deref(), Some(""));
        assert_eq!(parse("g$lshzxetdKEm").map(format).as_deref(), Some("AKEm"));
        assert_eq!(parse("nK").map(format).as_deref(), Some("nK"));
        assert_eq!(parse("AnK").map(format).as_deref(), Some("AK"));
        assert_eq!(parse("Q"), None);
    }
}
