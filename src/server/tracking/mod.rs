//! Client-side caching (CLIENT TRACKING), as Redis 7.0's tracking.c: the tracking table
//! (key → ids of the clients that read it, bounded by `tracking-table-max-keys`), the
//! broadcasting prefixes (BCAST), and the invalidation messages: a RESP3 push
//! `invalidate [keys]`, or a `__redis__:invalidate` message to a RESP2 client the tracking
//! client redirects to. Keys modified are collected by [`Db::touch`] while somebody tracks
//! and turned into invalidations when the outermost command ends ([`after_command`]), so
//! a client's own invalidations follow its reply, as Redis's tracking_pending_keys.
//!
//! [`Db::touch`]: crate::server::db::Db::touch

pub mod message;

use crate::server::commands::{Ctx, Spec, flags};
use crate::server::state::State;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering;

/// CLIENT LIST / ClientInfo flag bits (`ClientInfo::tracking`).
pub const FLAG_ON: u8 = 1;
/// The client redirects to a client that is gone (`R`).
pub const FLAG_BROKEN_REDIR: u8 = 2;
/// Broadcasting mode (`B`).
pub const FLAG_BCAST: u8 = 4;

/// The options of CLIENT TRACKING ON.
#[derive(Debug, Default)]
pub struct Options {
    /// REDIRECT id (0: none).
    pub redirect: u64,
    /// BCAST.
    pub bcast: bool,
    /// OPTIN.
    pub optin: bool,
    /// OPTOUT.
    pub optout: bool,
    /// NOLOOP.
    pub noloop: bool,
    /// PREFIX values, in the order given.
    pub prefixes: Vec<Vec<u8>>,
}

/// One tracking client.
#[derive(Debug, Default)]
pub struct Tracked {
    /// Where invalidations go (0: to the client itself).
    pub redirect: u64,
    /// BCAST mode.
    pub bcast: bool,
    /// OPTIN mode.
    pub optin: bool,
    /// OPTOUT mode.
    pub optout: bool,
    /// NOLOOP: no invalidation for keys the client modified itself.
    pub noloop: bool,
    /// CLIENT CACHING yes (OPTIN) or no (OPTOUT) given for the next command.
    pub caching: bool,
    /// The redirect target disconnected.
    pub broken_redirect: bool,
    /// BCAST prefixes.
    pub prefixes: BTreeSet<Vec<u8>>,
}

/// A broadcasting prefix: its clients, and the keys modified since the last broadcast with
/// the first client that modified each (NOLOOP).
#[derive(Debug, Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    keys: BTreeMap<Vec<u8>, Option<u64>>,
}

/// The server's tracking state (lives in [`State`]).
#[derive(Debug, Default)]
pub struct Tracking {
    clients: HashMap<u64, Tracked>,
    /// Key → ids of the clients that may cache it (default mode).
    table: HashMap<Vec<u8>, HashSet<u64>>,
    /// Sum of the id sets' sizes (INFO tracking_total_items).
    items: usize,
    prefixes: BTreeMap<Vec<u8>, Prefix>,
    /// Nesting of `call` (EXEC, scripts): invalidations go out at depth 0.
    depth: u32,
    /// Rounds the table stayed over `tracking-table-max-keys` (effort grows with them).
    limit_rounds: u32,
}

impl Tracking {
    /// The tracking state of client `id`, if it tracks.
    pub fn get(&self, id: u64) -> Option<&Tracked> {
        self.clients.get(&id)
    }

    /// INFO `tracking_clients`.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// INFO `tracking_total_keys`.
    pub fn total_keys(&self) -> usize {
        self.table.len()
    }

    /// INFO `tracking_total_items`.
    pub fn total_items(&self) -> usize {
        self.items
    }

    /// INFO `tracking_total_prefixes`.
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.len()
    }
}

/// Why CLIENT TRACKING ON is refused (Redis's texts).
pub fn check(t: Option<&Tracked>, o: &Options) -> Result<(), String> {
    if !o.bcast && !o.prefixes.is_empty() {
        return Err("ERR PREFIX option requires BCAST mode to be enabled".into());
    }
    if let Some(t) = t
        && t.bcast != o.bcast
    {
        return Err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    if o.bcast && (o.optin || o.optout) {
        return Err("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
    }
    if o.optin && o.optout {
        return Err("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
    }
    if let Some(t) = t
        && ((o.optin && t.optout) || (o.optout && t.optin))
    {
        return Err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.".into());
    }
    if o.bcast {
        let overlaps = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
        for (i, p) in o.prefixes.iter().enumerate() {
            if let Some(old) = t.and_then(|t| t.prefixes.iter().find(|q| overlaps(q, p))) {
                return Err(format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    c_str(p),
                    c_str(old)
                ));
            }
            if let Some(q) = o.prefixes[i + 1..].iter().find(|q| overlaps(p, q)) {
                return Err(format!(
                    "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                    c_str(p),
                    c_str(q)
                ));
            }
        }
    }
    Ok(())
}

/// A byte string as Redis's `%s` prints it: up to the first NUL.
fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// CLIENT TRACKING ON for client `id` (options checked by [`check`]), as enableTracking.
pub fn enable(state: &mut State, id: u64, o: Options) {
    let t = state.tracking.clients.entry(id).or_default();
    t.redirect = o.redirect;
    t.broken_redirect = false;
    t.bcast = o.bcast;
    t.optin = o.optin;
    t.optout = o.optout;
    t.noloop = o.noloop;
    if o.bcast {
        let mut new = o.prefixes;
        if new.is_empty() {
            new.push(Vec::new());
        }
        for p in new {
            t.prefixes.insert(p.clone());
            let entry = state.tracking.prefixes.entry(p).or_default();
            entry.clients.insert(id);
        }
    }
    publish_flags(state, id);
    sync_recording(state);
}

/// CLIENT TRACKING OFF (or the client is gone), as disableTracking. Keys it read stay in
/// the table until they are invalidated (Redis cleans them lazily too).
pub fn disable(state: &mut State, id: u64) {
    let Some(t) = state.tracking.clients.remove(&id) else {
        return;
    };
    for p in t.prefixes {
        if let Some(entry) = state.tracking.prefixes.get_mut(&p) {
            entry.clients.remove(&id);
            if entry.clients.is_empty() {
                state.tracking.prefixes.remove(&p);
            }
        }
    }
    publish_flags(state, id);
    sync_recording(state);
}

/// CLIENT CACHING yes|no given: remembered for the next command.
pub fn set_caching(state: &mut State, id: u64) {
    if let Some(t) = state.tracking.clients.get_mut(&id) {
        t.caching = true;
    }
}

/// Mirrors client `id`'s tracking flags and redirect into its ClientInfo (CLIENT LIST).
fn publish_flags(state: &State, id: u64) {
    let Some(info) = state.clients.get(&id) else {
        return;
    };
    let (flags, redir) = match state.tracking.clients.get(&id) {
        None => (0, -1),
        Some(t) => {
            let mut f = FLAG_ON;
            if t.broken_redirect {
                f |= FLAG_BROKEN_REDIR;
            }
            if t.bcast {
                f |= FLAG_BCAST;
            }
            (f, t.redirect as i64)
        }
    };
    info.tracking.store(flags, Ordering::Relaxed);
    info.tracking_redir.store(redir, Ordering::Relaxed);
}

/// Keys modified are recorded by the databases only while some client tracks.
fn sync_recording(state: &mut State) {
    let on = !state.tracking.clients.is_empty();
    for db in &mut state.dbs {
        match (on, db.modified_keys.is_some()) {
            (true, false) => db.modified_keys = Some(Vec::new()),
            (false, true) => db.modified_keys = None,
            _ => {}
        }
    }
}

/// Before a command runs from `call`: counts the nesting, and at the outermost level keeps
/// the table within `tracking-table-max-keys` (as processCommand's trackingLimitUsedSlots:
/// what that invalidates for the running client comes before its reply).
#[inline]
pub fn before_command(ctx: &mut Ctx) {
    let t = &ctx.state.tracking;
    if t.clients.is_empty() && t.depth == 0 {
        return;
    }
    if t.depth == 0 {
        limit_table(ctx.state);
        let outbox = &ctx.client.info.outbox;
        if outbox.has_frames() {
            outbox.drain_into(&mut ctx.out.buf);
        }
    }
    ctx.state.tracking.depth += 1;
}

/// After a command ran from `call`: remembers the keys a tracking client read, and at the
/// outermost level sends the invalidations for the keys modified meanwhile.
#[inline]
pub fn after_command(ctx: &mut Ctx, cmd: &Spec, args: &[bytes::Bytes]) {
    if ctx.state.tracking.depth == 0 {
        return;
    }
    after_command_slow(ctx, cmd, args);
}

#[cold]
fn after_command_slow(ctx: &mut Ctx, cmd: &Spec, args: &[bytes::Bytes]) {
    let id = ctx.client.info.id;
    if cmd.has(flags::READONLY) {
        remember_keys(ctx.state, id, cmd, args);
    }
    ctx.state.tracking.depth -= 1;
    if ctx.state.tracking.depth > 0 {
        return;
    }
    // CLIENT CACHING lasts for the next command (or transaction), as resetClient.
    if ctx.client.multi.is_none()
        && !cmd.name.starts_with("client")
        && let Some(t) = ctx.state.tracking.clients.get_mut(&id)
    {
        t.caching = false;
    }
    flush(ctx.state, Some(id));
}

/// Remembers the keys of a read command for client `id` (default mode), as
/// trackingRememberKeys: not under OPTIN without CACHING yes, nor OPTOUT with CACHING no.
fn remember_keys(state: &mut State, id: u64, cmd: &Spec, args: &[bytes::Bytes]) {
    let Some(t) = state.tracking.clients.get(&id) else {
        return;
    };
    if t.bcast || (t.optin && !t.caching) || (t.optout && t.caching) {
        return;
    }
    let Some(m) = crate::server::commands::meta::get(cmd.name) else {
        return;
    };
    let argv: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
    for (i, _) in crate::server::commands::meta::keys::getkeys(m, &argv) {
        let set = state.tracking.table.entry(argv[i].to_vec()).or_default();
        if set.insert(id) {
            state.tracking.items += 1;
        }
    }
}

/// Sends the invalidations for the keys the databases recorded as modified (`current`:
/// the client whose command modified them, for NOLOOP). Also run by the cron (expiry,
/// eviction).
pub fn flush(state: &mut State, current: Option<u64>) {
    let mut keys = Vec::new();
    for db in &mut state.dbs {
        if let Some(m) = db.modified_keys.as_mut()
            && !m.is_empty()
        {
            keys.append(m);
        }
    }
    for key in &keys {
        invalidate_key(state, key.as_bytes(), current, true);
    }
    if !state.tracking.prefixes.is_empty() {
        broadcast(state);
    }
}

/// Invalidates `key` for the clients that read it (and queues it for the BCAST prefixes it
/// matches when `bcast`), as trackingInvalidateKey.
fn invalidate_key(state: &mut State, key: &[u8], current: Option<u64>, bcast: bool) {
    if bcast {
        for (p, entry) in state.tracking.prefixes.iter_mut() {
            if key.starts_with(p) {
                entry.keys.entry(key.to_vec()).or_insert(current);
            }
        }
    }
    let Some(ids) = state.tracking.table.remove(key) else {
        return;
    };
    state.tracking.items -= ids.len();
    let mut ids: Vec<u64> = ids.into_iter().collect();
    ids.sort_unstable();
    for id in ids {
        let Some(t) = state.tracking.clients.get(&id) else {
            continue;
        };
        if t.bcast || (t.noloop && current == Some(id)) {
            continue;
        }
        message::send(state, id, message::Payload::Keys(&[key]));
    }
}

/// Sends each BCAST client the keys modified under its prefixes, one message per prefix,
/// as trackingBroadcastInvalidationMessages.
fn broadcast(state: &mut State) {
    let mut out: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
    for entry in state.tracking.prefixes.values_mut() {
        if entry.keys.is_empty() {
            continue;
        }
        let keys = std::mem::take(&mut entry.keys);
        for &id in &entry.clients {
            let noloop = state.tracking.clients.get(&id).is_some_and(|t| t.noloop);
            let mine: Vec<Vec<u8>> = keys
                .iter()
                .filter(|(_, by)| !(noloop && **by == Some(id)))
                .map(|(k, _)| k.clone())
                .collect();
            if !mine.is_empty() {
                out.push((id, mine));
            }
        }
    }
    for (id, keys) in out {
        let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
        message::send(state, id, message::Payload::Keys(&refs));
    }
}

/// FLUSHDB/FLUSHALL: every tracking client gets a null invalidation and the table is
/// emptied, as trackingInvalidateKeysOnFlush.
pub fn on_flush(state: &mut State) {
    let mut ids: Vec<u64> = state.tracking.clients.keys().copied().collect();
    ids.sort_unstable();
    for id in ids {
        message::send(state, id, message::Payload::Flush);
    }
    state.tracking.table.clear();
    state.tracking.items = 0;
    // What the flush removed is covered by the null message.
    for db in &mut state.dbs {
        if let Some(m) = db.modified_keys.as_mut() {
            m.clear();
        }
    }
}

/// Keeps the table within `tracking-table-max-keys`: invalidates keys (with growing effort
/// while it stays over the limit), as trackingLimitUsedSlots.
fn limit_table(state: &mut State) {
    let max = state.config.tracking_table_max_keys;
    if max <= 0 || state.tracking.table.len() as i64 <= max {
        state.tracking.limit_rounds = 0;
        return;
    }
    let mut effort = 100 * (state.tracking.limit_rounds as usize + 1);
    while effort > 0 {
        effort -= 1;
        let Some(key) = state.tracking.table.keys().next().cloned() else {
            break;
        };
        invalidate_key(state, &key, None, false);
        if state.tracking.table.len() as i64 <= max {
            state.tracking.limit_rounds = 0;
            return;
        }
    }
    state.tracking.limit_rounds += 1;
}

/// A connection closed: its tracking ends.
pub fn client_gone(state: &mut State, id: u64) {
    if state.tracking.clients.contains_key(&id) {
        disable(state, id);
    }
}

/// Marks client `id` as redirecting to a client that is gone.
fn mark_broken(state: &mut State, id: u64) {
    if let Some(t) = state.tracking.clients.get_mut(&id) {
        t.broken_redirect = true;
    }
    publish_flags(state, id);
}
