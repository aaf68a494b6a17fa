//! The command table and dispatch.
//!
//! Each command is a [`Spec`]: name, arity, flags and key positions (as COMMAND INFO shows
//! them) and a handler; a container command (CLIENT, CONFIG, ...) declares its subcommands
//! as Specs of their own ([`Spec::subcommands`]), which dispatch resolves and checks. Redis
//! 7.0's metadata of every command (COMMAND INFO / DOCS) is in [`meta`]. [`dispatch`] (in
//! `process.rs`) runs Redis's checks in Redis's order and then queues the command in MULTI
//! or [`call`]s the handler, inside the state lock, so commands are atomic and applied in
//! one global order. Handlers read their arguments with the cursor of `args.rs`.

pub mod acl;
pub mod args;
pub mod bitmaps;
pub mod blocking;
pub mod cluster;
pub mod command;
pub mod config;
pub mod connection;
pub mod dump;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod latency;
pub mod lcs;
pub mod lists;
pub mod lolwut;
pub mod memory;
pub mod meta;
pub mod migrate;
pub mod module;
pub mod persistence;
pub mod process;
pub mod pubsub;
pub mod random_pick;
pub mod remove;
pub mod rename;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod slowlog;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod transactions;
pub mod zsets;

use super::client::Client;
use super::db::Db;
use super::state::{Shared, State};
use super::types::Value;
use crate::resp::ReplyBuf;
use bytes::Bytes;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Command flags (a subset of Redis's, with the same meaning).
pub mod flags {
    /// Modifies the dataset.
    pub const WRITE: u32 = 1 << 0;
    /// Only reads the dataset.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory.
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// Allowed before AUTH.
    pub const NOAUTH: u32 = 1 << 4;
    /// Runs immediately even inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    pub const NO_QUEUE: u32 = 1 << 5;
    /// Allowed on a replica with stale data.
    pub const STALE: u32 = 1 << 6;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 7;
    /// O(1) or O(log N).
    pub const FAST: u32 = 1 << 8;
    /// Not allowed inside MULTI.
    pub const NO_MULTI: u32 = 1 << 9;
    /// May block the client.
    pub const BLOCKING: u32 = 1 << 10;
    /// Refused unless enabled by configuration (DEBUG: enable-debug-command).
    pub const PROTECTED: u32 = 1 << 11;
}

/// The result of a handler: `Err` carries an error reply's full text.
pub type CmdResult = Result<(), CmdError>;

/// An error reply, e.g. `ERR syntax error`.
#[derive(Debug, Clone)]
pub struct CmdError(pub Cow<'static, str>);

impl CmdError {
    /// An error with a fixed text.
    pub const fn fixed(s: &'static str) -> CmdError {
        CmdError(Cow::Borrowed(s))
    }
    /// An error with a formatted text.
    pub fn msg(s: String) -> CmdError {
        CmdError(Cow::Owned(s))
    }
}

/// Redis's shared error texts.
pub mod err {
    use super::CmdError;
    pub const WRONGTYPE: CmdError =
        CmdError::fixed("WRONGTYPE Operation against a key holding the wrong kind of value");
    pub const SYNTAX: CmdError = CmdError::fixed("ERR syntax error");
    pub const NOT_INT: CmdError = CmdError::fixed("ERR value is not an integer or out of range");
    pub const NOT_FLOAT: CmdError = CmdError::fixed("ERR value is not a valid float");
    pub const NO_KEY: CmdError = CmdError::fixed("ERR no such key");
    pub const OVERFLOW: CmdError = CmdError::fixed("ERR increment or decrement would overflow");
    pub const DB_RANGE: CmdError = CmdError::fixed("ERR DB index is out of range");
    pub const NOAUTH: CmdError = CmdError::fixed("NOAUTH Authentication required.");
    pub const READONLY: CmdError =
        CmdError::fixed("READONLY You can't write against a read only replica.");
    pub const WRONGPASS: CmdError =
        CmdError::fixed("WRONGPASS invalid username-password pair or user is disabled.");
    pub const MISCONF: CmdError = CmdError::fixed(
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.",
    );
    pub const NOT_POSITIVE: CmdError =
        CmdError::fixed("ERR value is out of range, must be positive");
}

/// A command handler.
pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// One command of the table, or one subcommand of a container command.
pub struct Spec {
    /// Full lower-case name: `get`, or `client|list` for a subcommand.
    pub name: &'static str,
    /// Redis arity: N exact, -N at least N (the name counts; for a subcommand, both the
    /// container's name and the subcommand's).
    pub arity: i32,
    /// `flags::*`.
    pub flags: u32,
    /// First key argument (0: none).
    pub first_key: i32,
    /// Last key argument (-1: the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// The implementation (a container's is never called: its subcommands' are).
    pub handler: Handler,
    /// A container command's subcommands (CLIENT, CONFIG, ...), as Redis declares them:
    /// dispatch resolves `CLIENT LIST` to `client|list` and checks its arity and flags.
    pub subcommands: Vec<Spec>,
    /// Dense index among all commands and subcommands, given when the table is built:
    /// per-command data (statistics, ACL command ids) lives in vectors indexed by it, so
    /// the dispatch path hashes nothing.
    pub index: usize,
}

impl Spec {
    /// Whether the command has `flag`.
    #[inline]
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Declares the subcommands of a container command (each built with [`spec`] and its
    /// full name, e.g. `spec("client|list", -2, ...)`).
    pub fn subcommands(mut self, subs: Vec<Spec>) -> Spec {
        self.subcommands = subs;
        self
    }

    /// The subcommand named `name` (case-insensitive), if declared.
    pub fn subcommand(&self, name: &[u8]) -> Option<&Spec> {
        self.subcommands
            .iter()
            .find(|s| s.sub_name().as_bytes().eq_ignore_ascii_case(name))
    }

    /// The part of the name after the container's (`list` for `client|list`).
    pub fn sub_name(&self) -> &'static str {
        self.name.split_once('|').map_or(self.name, |(_, sub)| sub)
    }

    /// Redis 7.0's metadata of this command (flags, ACL categories, key specs, docs).
    pub fn meta(&self) -> Option<&'static meta::Meta> {
        meta::get(self.name)
    }
}

/// Shorthand to build a [`Spec`].
pub const fn spec(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    handler: Handler,
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        handler,
        subcommands: Vec::new(),
        index: 0,
    }
}

/// The handler of a container command: never called with a subcommand (dispatch calls the
/// subcommand's), nor without one (the container's arity refuses that).
pub fn container(_ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    Err(unknown_subcommand(args))
}

/// Replies to `<CMD> HELP` as Redis's addReplyHelp: the header line, `lines`, then the
/// `HELP` entry every container ends with.
pub fn reply_help(ctx: &mut Ctx, cmd: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for l in lines {
        ctx.out.simple(l);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

/// Key positions for commands without keys.
pub const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
/// Key positions for one key at argument 1.
pub const KEY1: (i32, i32, i32) = (1, 1, 1);

/// The command table: by lower-case name, hashed with hashbrown's fast default hasher
/// (names are not attacker-chosen keys that stay in the table, so SipHash buys nothing on
/// this per-request lookup).
pub type Table = HashMap<&'static [u8], Spec, hashbrown::DefaultHashBuilder>;

/// All commands, built once.
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all = Vec::new();
        all.extend(connection::specs());
        all.extend(acl::specs());
        all.extend(strings::specs());
        all.extend(keys::specs());
        all.extend(server::specs());
        all.extend(command::specs());
        all.extend(transactions::specs());
        all.extend(config::specs());
        all.extend(persistence::specs());
        all.extend(dump::specs());
        all.extend(hashes::specs());
        all.extend(lists::specs());
        all.extend(sets::specs());
        all.extend(zsets::specs());
        all.extend(streams::specs());
        all.extend(replication::specs());
        all.extend(bitmaps::specs());
        all.extend(hyperloglog::specs());
        all.extend(sort::specs());
        all.extend(lcs::specs());
        all.extend(geo::specs());
        all.extend(scripting::specs());
        all.extend(pubsub::specs());
        all.extend(slowlog::specs());
        all.extend(latency::specs());
        all.extend(memory::specs());
        all.extend(cluster::specs());
        all.extend(module::specs());
        all.extend(lolwut::specs());
        all.extend(migrate::specs());
        let mut next = 0;
        for s in all.iter_mut() {
            s.index = next;
            next += 1;
            for sub in s.subcommands.iter_mut() {
                sub.index = next;
                next += 1;
            }
        }
        all.into_iter().map(|s| (s.name.as_bytes(), s)).collect()
    })
}

/// Every command and subcommand of the table, at its [`Spec::index`].
pub fn by_index() -> &'static [&'static Spec] {
    static ALL: OnceLock<Vec<&'static Spec>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<&'static Spec> = table()
            .values()
            .flat_map(|s| std::iter::once(s).chain(s.subcommands.iter()))
            .collect();
        all.sort_unstable_by_key(|s| s.index);
        all
    })
}

/// How many dense indexes there are (one past the highest [`Spec::index`]).
pub fn count() -> usize {
    by_index().last().map_or(0, |s| s.index + 1)
}

/// Finds a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    table().get(rename::resolve(lower)?)
}

/// What the connection must do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flow {
    /// Carry on.
    #[default]
    Continue,
    /// Send pending replies, then close (QUIT, CLIENT KILL of self, protocol error).
    Close,
    /// The command was not run: the server is paused; wait and run it again.
    Paused,
    /// A blocking command found nothing to serve: run it again after the next write, or
    /// once the deadline (unix ms) passes.
    Blocked(i64),
    /// PSYNC/SYNC made this connection a replica: it leaves the command loop and streams.
    Replica,
}

/// Everything a handler can reach.
pub struct Ctx<'a> {
    /// The locked server state.
    pub state: &'a mut State,
    /// The calling connection.
    pub client: &'a mut Client,
    /// Where replies go.
    pub out: &'a mut ReplyBuf,
    /// Wake-ups outside the lock.
    pub shared: &'a Arc<Shared>,
    /// Unix ms at the start of the command (one clock reading per command, as Redis).
    pub now_ms: i64,
    /// Unix µs the next [`call`] is timed from (0: not read yet). Dispatch sets it with
    /// `now_ms` from the same clock reading; each call moves it to its own end, so a
    /// command costs two clock readings in all, as Redis 7.0's call() (`ustime()` at the
    /// start, `ustime() - server.ustime` at the end).
    pub started_us: i64,
    /// What the connection does next.
    pub flow: Flow,
    /// True while EXEC runs queued commands (blocking commands do not block then).
    pub in_exec: bool,
    /// What to stream to replicas instead of the command as received (Redis's
    /// rewriteClientCommandVector / alsoPropagate): set by commands whose effect must be
    /// replayed deterministically (SPOP as SREM, a served BLPOP as LPOP, relative expiries
    /// as absolute ones, INCRBYFLOAT as SET ... KEEPTTL).
    pub propagate_as: Option<Vec<Vec<Bytes>>>,
}

impl<'a> Ctx<'a> {
    /// A context for one command of `client`.
    pub fn new(
        state: &'a mut State,
        client: &'a mut Client,
        out: &'a mut ReplyBuf,
        shared: &'a Arc<Shared>,
    ) -> Ctx<'a> {
        Ctx {
            state,
            client,
            out,
            shared,
            now_ms: 0,
            started_us: 0,
            flow: Flow::Continue,
            in_exec: false,
            propagate_as: None,
        }
    }

    /// Streams `args` to replicas in place of the running command (may be called several
    /// times; each call adds one command).
    pub fn propagate_instead<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        if !self.state.streaming() {
            // Nothing is streamed yet (no backlog): nothing to build.
            return;
        }
        self.propagate_as.get_or_insert_with(Vec::new).push(
            args.iter()
                .map(|a| Bytes::copy_from_slice(a.as_ref()))
                .collect(),
        );
    }

    /// The selected database.
    #[inline]
    pub fn db(&mut self) -> &mut Db {
        &mut self.state.dbs[self.client.db]
    }

    /// Deletes `key` if its TTL has passed (propagating a DEL, as Redis does on a master);
    /// returns true when the key is logically absent because of expiry.
    ///
    /// On a replica nothing is deleted: the key stays until the master's DEL arrives, but
    /// reads see it as gone (and the master's own commands see it as present). While writes
    /// are paused, expired keys are also hidden but kept, so the stream stays still.
    pub fn expire_if_needed(&mut self, key: &[u8]) -> bool {
        self.expire_if_needed_in(self.client.db, key)
    }

    /// [`Ctx::expire_if_needed`] for a key of database `dbi` (COPY ... DB, MOVE: Redis's
    /// lookupKeyWrite on the destination fires `expired` there).
    pub fn expire_if_needed_in(&mut self, dbi: usize, key: &[u8]) -> bool {
        let db = &mut self.state.dbs[dbi];
        match db.expire_at(key) {
            Some(at) if at <= self.now_ms => {
                if self.state.config.replicaof.is_some() {
                    return !self.client.is_master;
                }
                if self
                    .state
                    .pause
                    .is_some_and(|p| p.writes_only && p.until_ms > self.now_ms)
                {
                    return true;
                }
                self.state.dbs[dbi].remove(key);
                self.state.stats.expired_keys += 1;
                self.state.propagate(dbi, &[b"DEL", key]);
                crate::server::notify::notify_in(
                    self,
                    crate::server::notify::EXPIRED,
                    "expired",
                    key,
                    dbi,
                );
                true
            }
            _ => false,
        }
    }

    /// Looks `key` up for reading: expired keys are removed first, hits and misses counted.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.lookup_read_with(key, true)
    }

    /// [`Ctx::lookup_read`] that does not count as an access of the key (Redis's
    /// LOOKUP_NOTOUCH: EXISTS, TYPE, TTL and its variants).
    pub fn lookup_read_notouch(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.lookup_read_with(key, false)
    }

    fn lookup_read_with(&mut self, key: &[u8], touch: bool) -> Option<&mut Value> {
        if self.expire_if_needed(key) && self.state.dbs[self.client.db].contains(key) {
            self.state.stats.keyspace_misses += 1;
            crate::server::notify::notify_miss(self, key);
            return None;
        }
        // `keymiss` needs the miss known before the entry is borrowed for the caller.
        if self.state.config.notify_keyspace_events & crate::server::notify::KEY_MISS != 0
            && !self.state.dbs[self.client.db].contains(key)
        {
            self.state.stats.keyspace_misses += 1;
            crate::server::notify::notify_miss(self, key);
            return None;
        }
        let db = &mut self.state.dbs[self.client.db];
        match db.entry_mut(key) {
            Some(e) => {
                if touch {
                    super::db::access::touch(&mut e.atime);
                }
                self.state.stats.keyspace_hits += 1;
                Some(&mut e.value)
            }
            None => {
                self.state.stats.keyspace_misses += 1;
                None
            }
        }
    }

    /// Looks `key` up for writing: expired keys are removed first; no statistics.
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<&mut Value> {
        if self.expire_if_needed(key) && self.state.dbs[self.client.db].contains(key) {
            return None;
        }
        self.state.dbs[self.client.db].entry_mut(key).map(|e| {
            super::db::access::touch(&mut e.atime);
            &mut e.value
        })
    }

    /// Whether `key` exists (after expiry), without touching statistics. Counts as an
    /// access of the key (Redis's lookupKeyWrite), as in the commands that use it.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        self.lookup_write(key).is_some()
    }

    /// Records `n` changes for save points and marks the command for propagation, and
    /// marks `key` modified for WATCH.
    pub fn modified(&mut self, key: &[u8], n: u64) {
        self.state.dbs[self.client.db].touch(key);
        self.state.dirty += n;
    }
}

pub use args::{arg_f64, arg_i64, is};

/// The `unknown command` error text, as Redis 7.0 words it.
pub fn unknown_command(args: &[Bytes]) -> String {
    let name = String::from_utf8_lossy(&args[0]);
    let mut msg = format!(
        "ERR unknown command '{}', with args beginning with: ",
        truncate(&name, 128)
    );
    for a in &args[1..] {
        if msg.len() >= 128 + 60 {
            break;
        }
        msg.push_str(&format!(
            "'{}' ",
            truncate(&String::from_utf8_lossy(a), 128)
        ));
    }
    msg
}

fn truncate(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A name as Redis's `%s` prints it into an error: up to its first zero byte.
pub fn c_str(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(&b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())])
}

/// Redis 7.0's error for a container command's subcommand that is not known:
/// `ERR unknown subcommand 'x'. Try CLIENT HELP.`
fn unknown_subcommand(args: &[Bytes]) -> CmdError {
    // Redis formats both names with %s: they end at a NUL byte.
    let sub = args
        .get(1)
        .map(|s| c_str(s).into_owned())
        .unwrap_or_default();
    CmdError::msg(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        truncate(&sub, 128),
        c_str(&args[0]).to_ascii_uppercase()
    ))
}

/// Redis 7.0's error for a subcommand that a container's own dispatcher did not run (for
/// containers whose subcommands are not declared in the table yet): with the wrong number
/// of arguments when Redis 7.0 has `cmd|sub` (`ERR wrong number of arguments for
/// 'script|load' command`), unknown otherwise (`ERR unknown subcommand 'x'. Try SCRIPT
/// HELP.`).
pub fn subcommand_error(cmd: &str, sub: &[u8]) -> CmdError {
    let full = format!(
        "{cmd}|{}",
        String::from_utf8_lossy(sub).to_ascii_lowercase()
    );
    match meta::get(&full) {
        Some(m) => arity_error(m.name),
        None => CmdError::msg(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            truncate(&String::from_utf8_lossy(sub), 128),
            cmd.to_ascii_uppercase()
        )),
    }
}

/// Redis's addReplySubcommandSyntaxError, for a subcommand whose handler refuses its
/// arguments: `ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT
/// HELP.`
pub fn subcommand_syntax_error(args: &[Bytes]) -> CmdError {
    let sub = args
        .get(1)
        .map(|s| String::from_utf8_lossy(s))
        .unwrap_or_default();
    CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        truncate(&sub, 128),
        String::from_utf8_lossy(&args[0]).to_ascii_uppercase()
    ))
}

/// The `wrong number of arguments` error text.
pub fn arity_error(name: &str) -> CmdError {
    CmdError::msg(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

pub use process::dispatch;

/// Resolves a request to its command or subcommand, as Redis's lookupCommand +
/// commandCheckExistence + commandCheckArity: `ERR unknown command ...`, `ERR unknown
/// subcommand ...` or `ERR wrong number of arguments for 'client|kill' command`.
pub fn lookup_request(args: &[Bytes]) -> Result<&'static Spec, CmdError> {
    let cmd = resolve(args).ok_or_else(|| match lookup(&args[0]) {
        Some(_) => unknown_subcommand(args),
        None => CmdError::msg(unknown_command(args)),
    })?;
    let n = args.len() as i32;
    if (cmd.arity > 0 && n != cmd.arity) || n < -cmd.arity {
        return Err(arity_error(cmd.name));
    }
    Ok(cmd)
}

/// The command or subcommand a request names, without checking its arity: a container
/// with arguments resolves to its subcommand (None if unknown), alone to itself.
pub fn resolve<A: AsRef<[u8]>>(args: &[A]) -> Option<&'static Spec> {
    let base = lookup(args.first()?.as_ref())?;
    match args.get(1) {
        Some(sub) if !base.subcommands.is_empty() => base.subcommand(sub.as_ref()),
        _ => Some(base),
    }
}

/// Runs a command whose checks passed (also used by EXEC for queued commands).
pub fn call(ctx: &mut Ctx, cmd: &'static Spec, args: &[Bytes]) {
    let from_master = ctx.client.is_master;
    let dirty_before = ctx.state.dirty;
    ctx.state.stats.total_commands_processed += 1;
    *ctx.client.info.last_cmd.lock().unwrap() = cmd.name;
    let was_blocked = ctx.client.blocked_until.is_some();
    use crate::server::pubsub::monitor;
    let shown = match ctx.state.pubsub.monitors.is_empty() || was_blocked {
        true => monitor::Shown::Never,
        false => monitor::shown(cmd),
    };
    if shown == monitor::Shown::Before {
        monitor::feed(ctx, cmd, args);
    }
    let errors_before = ctx.state.stats.total_error_replies;
    let started = match ctx.started_us {
        0 => crate::server::clock::now_us(),
        t => t,
    };
    let recording = crate::server::notify::begin_command(ctx.state);
    crate::server::tracking::before_command(ctx);
    if let Err(e) = (cmd.handler)(ctx, args) {
        reply_error(ctx, &e);
    }
    crate::server::notify::end_command(ctx, recording);
    crate::server::tracking::after_command(ctx, cmd, args);
    let ended = crate::server::clock::now_us();
    ctx.started_us = ended;
    // A wall clock set back during the command counts as 0 µs.
    let usec = (ended - started).max(0) as u64;
    if shown == monitor::Shown::After {
        monitor::feed(ctx, cmd, args);
    }
    if !matches!(ctx.flow, Flow::Blocked(_)) {
        // As Redis's incrCommandStatsOnError: the error counter grew (CONFIG RESETSTAT
        // sets it back to 0, which is no failure).
        let failed = ctx.state.stats.total_error_replies > errors_before;
        let run = crate::server::stats::Run {
            cmd,
            args,
            usec,
            failed,
        };
        crate::server::stats::record(ctx, run);
    }
    blocking::after_call(ctx, was_blocked, dirty_before);
    let rewritten = ctx.propagate_as.take();
    // A replica's AOF records what it applies from its master (replication ignores it).
    let record = !from_master || ctx.state.aof.accepting();
    if ctx.state.dirty != dirty_before && cmd.has(flags::WRITE) && record {
        let db = ctx.client.db;
        match rewritten {
            None => ctx.state.propagate(db, args),
            Some(cmds) => {
                for c in cmds {
                    ctx.state.propagate(db, &c);
                }
            }
        }
        ctx.client.woff = ctx.state.repl.offset;
    }
}

/// Writes an error reply and counts it.
pub fn reply_error(ctx: &mut Ctx, e: &CmdError) {
    ctx.state.stats.total_error_replies += 1;
    // Our master's stream should never fail here (Redis's stat_unexpected_error_replies).
    ctx.state.stats.counters.unexpected_error_replies += ctx.client.is_master as u64;
    ctx.state.stats.errors.count(&e.0);
    ctx.out.error(&e.0);
}

#[cfg(test)]
mod table_tests {
    use super::*;

    /// Our behavioural flags and the names COMMAND INFO gives them.
    const CHECKED: &[(u32, &str)] = &[
        (flags::WRITE, "write"),
        (flags::READONLY, "readonly"),
        (flags::DENYOOM, "denyoom"),
        (flags::ADMIN, "admin"),
        (flags::NOAUTH, "no_auth"),
        (flags::STALE, "stale"),
        (flags::LOADING, "loading"),
        (flags::FAST, "fast"),
        (flags::NO_MULTI, "no_multi"),
        (flags::BLOCKING, "blocking"),
        // PROTECTED is not checked: Redis 7.0 does not list it in COMMAND INFO.
    ];

    /// Every implemented command and subcommand has Redis 7.0's metadata, and its Spec
    /// agrees with it: arity, legacy key positions, behavioural flags.
    #[test]
    fn specs_agree_with_redis_metadata() {
        let mut problems = Vec::new();
        let all = table()
            .values()
            .flat_map(|s| std::iter::once(s).chain(&s.subcommands));
        for s in all {
            let Some(m) = s.meta() else {
                problems.push(format!("{}: no Redis 7.0 metadata", s.name));
                continue;
            };
            if i64::from(s.arity) != m.arity {
                problems.push(format!("{}: arity {} (Redis {})", s.name, s.arity, m.arity));
            }
            let keys = (s.first_key.into(), s.last_key.into(), s.step.into());
            if keys != m.legacy_keys {
                problems.push(format!(
                    "{}: keys {keys:?} (Redis {:?})",
                    s.name, m.legacy_keys
                ));
            }
            for &(flag, name) in CHECKED {
                if s.has(flag) != m.has_flag(name) {
                    problems.push(format!(
                        "{}: flag {name} {} (Redis {})",
                        s.name,
                        s.has(flag),
                        m.has_flag(name)
                    ));
                }
            }
            let declared: Vec<&str> = s.subcommands.iter().map(|c| c.name).collect();
            if declared
                .iter()
                .any(|d| !d.starts_with(&format!("{}|", s.name)))
            {
                problems.push(format!("{}: subcommands {declared:?}", s.name));
            }
        }
        problems.sort();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn requests_resolve_to_subcommands() {
        let req = |a: &[&str]| -> Vec<Bytes> {
            a.iter()
                .map(|x| Bytes::copy_from_slice(x.as_bytes()))
                .collect()
        };
        assert_eq!(
            lookup_request(&req(&["Client", "LIST"])).unwrap().name,
            "client|list"
        );
        let e = lookup_request(&req(&["client", "kill"])).err().unwrap();
        assert_eq!(
            e.0,
            "ERR wrong number of arguments for 'client|kill' command"
        );
        let e = lookup_request(&req(&["client", "nope"])).err().unwrap();
        assert_eq!(e.0, "ERR unknown subcommand 'nope'. Try CLIENT HELP.");
        let e = lookup_request(&req(&["client"])).err().unwrap();
        assert_eq!(e.0, "ERR wrong number of arguments for 'client' command");
        let e = subcommand_error("script", b"LOAD");
        assert_eq!(
            e.0,
            "ERR wrong number of arguments for 'script|load' command"
        );
        let e = subcommand_error("script", b"Nope");
        assert_eq!(e.0, "ERR unknown subcommand 'Nope'. Try SCRIPT HELP.");
        assert_eq!(lookup_request(&req(&["command"])).unwrap().name, "command");
    }
}
