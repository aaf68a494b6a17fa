//! The command table and dispatch.
//!
//! Each command is a [`Spec`]: name, arity, flags and key positions (as COMMAND INFO shows
//! them) and a handler. [`dispatch`] (in `process.rs`) runs Redis's checks in Redis's order
//! and then queues the command in MULTI or [`call`]s the handler, inside the state lock, so
//! commands are atomic and applied in one global order. Handlers read their arguments with
//! the cursor of `args.rs`.

pub mod args;
pub mod blocking;
pub mod config;
pub mod connection;
pub mod dump;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod persistence;
pub mod process;
pub mod random_pick;
pub mod remove;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod sets;
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

/// One command of the table.
pub struct Spec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: N exact, -N at least N (the name counts).
    pub arity: i32,
    /// `flags::*`.
    pub flags: u32,
    /// First key argument (0: none).
    pub first_key: i32,
    /// Last key argument (-1: the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// The implementation.
    pub handler: Handler,
}

impl Spec {
    /// Whether the command has `flag`.
    #[inline]
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
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
    }
}

/// Key positions for commands without keys.
pub const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
/// Key positions for one key at argument 1.
pub const KEY1: (i32, i32, i32) = (1, 1, 1);

/// All commands, built once.
pub fn table() -> &'static HashMap<&'static [u8], Spec> {
    static TABLE: OnceLock<HashMap<&'static [u8], Spec>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all = Vec::new();
        all.extend(connection::specs());
        all.extend(strings::specs());
        all.extend(keys::specs());
        all.extend(server::specs());
        all.extend(transactions::specs());
        all.extend(config::specs());
        all.extend(persistence::specs());
        all.extend(dump::specs());
        all.extend(hashes::specs());
        all.extend(lists::specs());
        all.extend(sets::specs());
        all.extend(zsets::specs());
        all.extend(replication::specs());
        all.extend(scripting::specs());
        all.into_iter().map(|s| (s.name.as_bytes(), s)).collect()
    })
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
    table().get(&lower[..])
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
            flow: Flow::Continue,
            in_exec: false,
            propagate_as: None,
        }
    }

    /// Streams `args` to replicas in place of the running command (may be called several
    /// times; each call adds one command).
    pub fn propagate_instead<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        if !self.state.repl.active() {
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
        let db = &mut self.state.dbs[self.client.db];
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
                let db = &mut self.state.dbs[self.client.db];
                db.remove(key);
                self.state.stats.expired_keys += 1;
                let dbi = self.client.db;
                self.state.propagate(dbi, &[b"DEL", key]);
                true
            }
            _ => false,
        }
    }

    /// Looks `key` up for reading: expired keys are removed first, hits and misses counted.
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<&mut Value> {
        if self.expire_if_needed(key) && self.state.dbs[self.client.db].contains(key) {
            self.state.stats.keyspace_misses += 1;
            return None;
        }
        let clock = super::db::lru_clock();
        let db = &mut self.state.dbs[self.client.db];
        match db.entry_mut(key) {
            Some(e) => {
                e.atime = clock;
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
        let clock = super::db::lru_clock();
        self.state.dbs[self.client.db].entry_mut(key).map(|e| {
            e.atime = clock;
            &mut e.value
        })
    }

    /// Whether `key` exists (after expiry), without touching statistics.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        !self.expire_if_needed(key) && self.state.dbs[self.client.db].contains(key)
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
fn unknown_command(args: &[Bytes]) -> String {
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

/// The subcommands of container commands, as Redis 7.0 names them (`client|list`): shown
/// as `cmd=` in CLIENT LIST and used in their arity errors.
const SUBCOMMANDS: &[&str] = &[
    "client|id",
    "client|setname",
    "client|getname",
    "client|info",
    "client|list",
    "client|kill",
    "client|pause",
    "client|unpause",
    "client|no-evict",
    "client|reply",
    "client|unblock",
    "client|help",
    "object|encoding",
    "object|freq",
    "object|idletime",
    "object|refcount",
    "object|help",
    "config|get",
    "config|set",
    "config|rewrite",
    "config|resetstat",
    "config|help",
    "command|count",
    "command|info",
    "command|docs",
    "command|list",
    "command|getkeys",
    "command|help",
    "script|load",
    "script|exists",
    "script|flush",
    "script|kill",
    "script|debug",
    "script|help",
    "function|load",
    "function|delete",
    "function|flush",
    "function|list",
    "function|dump",
    "function|restore",
    "function|stats",
    "function|kill",
    "function|help",
];

/// The full name of a container command's subcommand (`client|list`), if it is known.
pub fn subcommand_name(cmd: &str, sub: &[u8]) -> Option<&'static str> {
    SUBCOMMANDS.iter().copied().find(|full| {
        full.len() == cmd.len() + 1 + sub.len()
            && full.starts_with(cmd)
            && full.as_bytes()[cmd.len()] == b'|'
            && full.as_bytes()[cmd.len() + 1..].eq_ignore_ascii_case(sub)
    })
}

/// Redis 7.0's error for a container command's subcommand that did not run: unknown
/// (`ERR unknown subcommand 'x'. Try CLIENT HELP.`) or with the wrong number of arguments
/// (`ERR wrong number of arguments for 'client|kill' command`).
pub fn subcommand_error(cmd: &str, sub: &[u8]) -> CmdError {
    match subcommand_name(cmd, sub) {
        Some(full) => arity_error(full),
        None => CmdError::msg(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            truncate(&String::from_utf8_lossy(sub), 128),
            cmd.to_ascii_uppercase()
        )),
    }
}

/// The `wrong number of arguments` error text.
pub fn arity_error(name: &str) -> CmdError {
    CmdError::msg(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

pub use process::dispatch;

/// Resolves a request to its command, as Redis's lookupCommand + commandCheckExistence +
/// commandCheckArity: `ERR unknown command ...` or `ERR wrong number of arguments ...`.
pub fn lookup_request(args: &[Bytes]) -> Result<&'static Spec, CmdError> {
    let cmd = lookup(&args[0]).ok_or_else(|| CmdError::msg(unknown_command(args)))?;
    let n = args.len() as i32;
    if (cmd.arity > 0 && n != cmd.arity) || n < -cmd.arity {
        return Err(arity_error(cmd.name));
    }
    Ok(cmd)
}

/// Runs a command whose checks passed (also used by EXEC for queued commands).
pub fn call(ctx: &mut Ctx, cmd: &'static Spec, args: &[Bytes]) {
    let from_master = ctx.client.is_master;
    let dirty_before = ctx.state.dirty;
    ctx.state.stats.total_commands_processed += 1;
    let shown = match args.get(1) {
        Some(sub)
            if matches!(
                cmd.name,
                "client" | "object" | "config" | "command" | "script" | "function"
            ) =>
        {
            subcommand_name(cmd.name, sub).unwrap_or(cmd.name)
        }
        _ => cmd.name,
    };
    *ctx.client.info.last_cmd.lock().unwrap() = shown;
    let was_blocked = ctx.client.blocked_until.is_some();
    if let Err(e) = (cmd.handler)(ctx, args) {
        reply_error(ctx, &e);
    }
    blocking::after_call(ctx, was_blocked, dirty_before);
    let rewritten = ctx.propagate_as.take();
    if ctx.state.dirty != dirty_before && cmd.has(flags::WRITE) && !from_master {
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
    ctx.out.error(&e.0);
}
