//! ACL users as Redis 7.0 has them: the user table ([`Acl`]), each user's rules
//! ([`user`], [`selector`]), the commands and categories rules name ([`catalog`]), the
//! security log ([`log`]) and the ACL file ([`file`]).
//!
//! Every connection runs as a user (`default` until AUTH/HELLO names another); the
//! permission check ([`Acl::check`]) runs in processCommand's place, and is one lookup
//! and one flag test for a user that may run everything.

pub mod catalog;
pub mod file;
pub mod log;
pub mod quick;
pub mod selector;
pub mod user;

use bytes::Bytes;
pub use selector::Denied;
use selector::KeyCache;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
pub use user::User;

/// Why a rule was refused, with Redis's texts (ACLSetUserStringError).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// EINVAL.
    Syntax,
    /// ENOENT.
    Unknown,
    /// EEXIST.
    KeyAfterAll,
    /// EISDIR.
    ChannelAfterAll,
    /// ENODEV.
    NoSuchPassword,
    /// EBADMSG.
    BadHash,
    /// ECHILD.
    FirstArgOfSubcommand,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RuleError::Syntax => "Syntax error",
            RuleError::Unknown => "Unknown command or category name in ACL",
            RuleError::KeyAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            RuleError::FirstArgOfSubcommand => {
                "Allowing first-arg of a subcommand is not supported"
            }
        })
    }
}

/// A refused command: why, and the index of the argument at fault (key or channel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    /// Command, key or channel.
    pub reason: Denied,
    /// Index into the request's arguments (0 for a command).
    pub index: usize,
}

impl Denial {
    /// The NOPERM error processCommand answers, for command `name`.
    pub fn noperm(&self, name: &str) -> String {
        match self.reason {
            Denied::Command => {
                format!("NOPERM this user has no permissions to run the '{name}' command")
            }
            Denied::Key => "NOPERM this user has no permissions to access one of the keys used as arguments".into(),
            Denied::Channel => "NOPERM this user has no permissions to access one of the channels used as arguments".into(),
        }
    }
}

/// The user name every connection starts with.
pub const DEFAULT: &[u8] = b"default";

/// Whether a name has spaces or NULs (refused in user names and patterns).
pub fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|c| c.is_ascii_whitespace() || *c == 0 || *c == 0x0b)
}

/// Generations of user tables, unique in the process (0 is never one), so a connection's
/// [`CachedUser`] can never match a table it was not taken from.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

fn next_generation() -> u64 {
    GENERATIONS.fetch_add(1, Ordering::Relaxed) + 1
}

/// A connection's user as last looked up, with the generation of the user table it came
/// from: valid until any user changes (ACL SETUSER, DELUSER, LOAD, `requirepass`), so
/// the permission check of every command skips the lookup by name while a change still
/// applies to the next command, as in Redis (whose clients point at their user).
#[derive(Debug, Default, Clone)]
pub struct CachedUser {
    generation: u64,
    user: Option<Arc<User>>,
    /// The user's check as far as it can be worked out in advance.
    quick: quick::Quick,
}

/// The users, by name (sorted: ACL LIST and ACL USERS order), and the log.
#[derive(Debug)]
pub struct Acl {
    users: BTreeMap<Bytes, Arc<User>>,
    /// Changes with every change of a user (see [`CachedUser`]).
    generation: u64,
    /// `acl-pubsub-default allchannels`: new users and selectors start with `&*`.
    pub pubsub_all: bool,
    /// ACL LOG.
    pub log: log::AclLog,
}

impl Default for Acl {
    fn default() -> Acl {
        Acl::new(false)
    }
}

impl Acl {
    /// Just the default user, `on nopass ~* &* +@all`.
    pub fn new(pubsub_all: bool) -> Acl {
        let mut users = BTreeMap::new();
        users.insert(Bytes::from_static(DEFAULT), Arc::new(User::default_user()));
        Acl {
            users,
            generation: next_generation(),
            pubsub_all,
            log: log::AclLog::default(),
        }
    }

    /// The default user alone, with `requirepass` as its password.
    pub fn with_requirepass(config: &crate::config::Config) -> Acl {
        let mut acl = Acl::new(config.acl_pubsub_all);
        acl.set_default_password(config.requirepass.as_deref());
        acl
    }

    /// The users at start-up (Redis's ACLLoadUsersAtStartup): the default user with
    /// `requirepass`, then the `user` lines of redis.conf or the ACL file, never both.
    /// The error is what Redis logs before exiting.
    pub fn from_config(config: &crate::config::Config) -> Result<Acl, String> {
        let mut acl = Acl::with_requirepass(config);
        let aclfile = config.aclfile.as_deref().filter(|f| !f.is_empty());
        if aclfile.is_some() && !config.users.is_empty() {
            return Err("Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.".into());
        }
        let base = acl
            .users
            .remove(DEFAULT)
            .map(Arc::unwrap_or_clone)
            .unwrap_or_else(User::default_user);
        let users = file::load_config_users(&config.users, base, acl.pubsub_all).map_err(|e| {
            crate::warning!("{e}");
            "Critical error while loading ACLs. Exiting.".to_string()
        })?;
        acl.replace_all(users);
        if let Some(path) = aclfile {
            let users = file::load(path, acl.pubsub_all)
                .map_err(|e| format!("Aborting Redis startup because of ACL errors: {e}"))?;
            acl.replace_all(users);
        }
        Ok(acl)
    }

    /// A user by name.
    pub fn user(&self, name: &[u8]) -> Option<&User> {
        self.users.get(name).map(|u| &**u)
    }

    /// The user a connection runs as: from its cache while no user changed, else looked
    /// up by `name` (see [`Acl::refresh`]).
    #[inline]
    pub fn cached<'a>(&'a self, cache: &'a CachedUser, name: &[u8]) -> Option<&'a User> {
        match cache.generation == self.generation {
            true => cache.user.as_deref(),
            false => self.user(name),
        }
    }

    /// Brings a connection's cache up to date: one lookup by `name` after a change of the
    /// users, nothing otherwise.
    #[inline]
    pub fn refresh(&self, cache: &mut CachedUser, name: &[u8]) {
        if cache.generation != self.generation {
            cache.user = self.users.get(name).cloned();
            cache.quick = quick::Quick::of(cache.user.as_deref());
            cache.generation = self.generation;
        }
    }

    /// Whether the user a connection runs as may run `args` (catalog command `id`, asked
    /// for only when needed): [`Acl::check`] for a cached user, decided by its
    /// [`quick::Quick`] plan when the cache is current.
    #[inline(always)]
    pub fn check_cached<A: AsRef<[u8]>>(
        &self,
        cache: &CachedUser,
        name: &[u8],
        id: impl FnOnce() -> Option<usize>,
        args: &[A],
    ) -> Result<(), Denial> {
        if cache.generation == self.generation
            && let Some(u) = cache.user.as_deref()
        {
            if let quick::Quick::All = cache.quick {
                return Ok(());
            }
            let id = id();
            let cmd = id.and_then(|i| catalog::catalog().commands.get(i));
            return match cache.quick.check(u, cmd, args) {
                Some(verdict) => verdict,
                None => check_user(u, id, args),
            };
        }
        let Some(u) = self.cached(cache, name) else {
            return Err(COMMAND_DENIED);
        };
        if u.root().unrestricted() {
            return Ok(());
        }
        check_user(u, id(), args)
    }

    /// All users, sorted by name.
    pub fn users(&self) -> impl Iterator<Item = (&Bytes, &User)> {
        self.users.iter().map(|(n, u)| (n, &**u))
    }

    /// Replaces (or creates) a user.
    pub fn put(&mut self, name: Bytes, user: User) {
        self.users.insert(name, Arc::new(user));
        self.generation = next_generation();
    }

    /// Removes a user (never `default`); whether it existed.
    pub fn remove(&mut self, name: &[u8]) -> bool {
        let removed = name != DEFAULT && self.users.remove(name).is_some();
        self.generation = next_generation();
        removed
    }

    /// Replaces every user at once (ACL LOAD, start-up). A set without `default` gets
    /// a fresh default user.
    pub fn replace_all(&mut self, users: BTreeMap<Bytes, User>) {
        let mut users: BTreeMap<Bytes, Arc<User>> =
            users.into_iter().map(|(n, u)| (n, Arc::new(u))).collect();
        users
            .entry(Bytes::from_static(DEFAULT))
            .or_insert_with(|| Arc::new(User::default_user()));
        self.users = users;
        self.generation = next_generation();
    }

    /// `requirepass`: the default user's password (Redis's ACLUpdateDefaultUserPassword):
    /// `resetpass` then `>pass`, or `nopass` when empty.
    pub fn set_default_password(&mut self, pass: Option<&[u8]>) {
        let pubsub_all = self.pubsub_all;
        self.generation = next_generation();
        let Some(u) = self.users.get_mut(DEFAULT).map(Arc::make_mut) else {
            return;
        };
        let _ = u.apply(b"resetpass", pubsub_all);
        let rule = match pass {
            Some(p) if !p.is_empty() => [b">".as_slice(), p].concat(),
            _ => b"nopass".to_vec(),
        };
        let _ = u.apply(&rule, pubsub_all);
    }

    /// Whether a new connection is authenticated at once: the default user is on and
    /// has `nopass`.
    pub fn default_is_open(&self) -> bool {
        self.user(DEFAULT).is_some_and(|u| u.nopass && u.enabled)
    }

    /// Whether `user`/`pass` log in.
    pub fn credentials_ok(&self, user: &[u8], pass: &[u8]) -> bool {
        self.user(user).is_some_and(|u| u.password_ok(pass))
    }

    /// Whether `user` may run `args` as command `name` (its full name, `config|get`), as
    /// Redis's ACLCheckAllUserCommandPerm: allowed when any selector allows it; otherwise
    /// the most relevant refusal. A user that no longer exists may run nothing.
    pub fn check<A: AsRef<[u8]>>(&self, user: &[u8], name: &str, args: &[A]) -> Result<(), Denial> {
        let Some(u) = self.user(user) else {
            return Err(COMMAND_DENIED);
        };
        if u.selectors[0].unrestricted() {
            return Ok(());
        }
        check_user(u, catalog::catalog().id_of(name), args)
    }

    /// Whether `user` may use `channel` (PUBLISH/SUBSCRIBE: `is_pattern` false; a
    /// PSUBSCRIBE pattern: true, compared as written), as Redis's ACLUserCheckChannelPerm.
    pub fn channel_allowed(&self, user: &[u8], channel: &[u8], is_pattern: bool) -> bool {
        self.user(user).is_some_and(|u| {
            u.selectors
                .iter()
                .any(|s| s.channel_allowed(channel, is_pattern))
        })
    }
}

/// The refusal of a command (not of a key or channel).
pub const COMMAND_DENIED: Denial = Denial {
    reason: Denied::Command,
    index: 0,
};

/// The permission check of one user (see [`Acl::check`]) for the catalog command `id`
/// (None: not a Redis 7.0 command): one pass over the selectors, keys found once, nothing
/// allocated for commands whose keys are plain ranges.
pub fn check_user<A: AsRef<[u8]>>(u: &User, id: Option<usize>, args: &[A]) -> Result<(), Denial> {
    let cat = catalog::catalog();
    let Some(cmd) = id.map(|i| &cat.commands[i]) else {
        // Not a Redis 7.0 command: only a user allowed every command may run it.
        return match u.selectors.iter().any(|s| s.allcommands) {
            true => Ok(()),
            false => Err(COMMAND_DENIED),
        };
    };
    let mut keys = KeyCache::new(cmd, args);
    let mut worst = COMMAND_DENIED;
    for s in &u.selectors {
        match s.check(cmd, &mut keys) {
            Ok(()) => return Ok(()),
            Err((reason, index)) => {
                if reason > worst.reason || (reason == worst.reason && index > worst.index) {
                    worst = Denial { reason, index };
                }
            }
        }
    }
    Err(worst)
}

/// The subscribers logged in as `name` that `new` (the user's rules after ACL SETUSER) no
/// longer allows on one of their channels, patterns or shard channels: Redis 7.0 closes
/// them (ACLKillPubsubClientsIfNeeded). A pattern must be allowed as written.
pub fn subscribers_to_close(
    new: &User,
    name: &[u8],
    pubsub: &crate::server::pubsub::PubSub,
) -> Vec<std::sync::Arc<crate::server::client::ClientInfo>> {
    use crate::server::pubsub::Kind;
    if new.selectors.iter().any(|s| s.allchannels) {
        return Vec::new();
    }
    let mut out: Vec<std::sync::Arc<crate::server::client::ClientInfo>> = Vec::new();
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        let literal = kind == Kind::Pattern;
        for (channel, clients) in pubsub.subscriptions(kind) {
            if new
                .selectors
                .iter()
                .any(|s| s.channel_allowed(channel, literal))
            {
                continue;
            }
            for c in clients {
                let same_user = *c.user.lock().unwrap_or_else(|e| e.into_inner()) == name;
                if same_user && !out.iter().any(|o| o.id == c.id) {
                    out.push(c.clone());
                }
            }
        }
    }
    out
}
