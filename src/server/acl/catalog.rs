//! The commands ACL rules talk about: every command and subcommand of Redis 7.0 (from
//! `commands/meta`, Redis's own metadata, so `+subscribe` and `ACL CAT pubsub` work the
//! same whatever redrepl implements), each with a bit index and its ACL categories.

use crate::server::commands::meta;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Redis 7.0's ACL categories, in Redis's order (ACL CAT, and the best-fit order used
/// to describe a user's command rules).
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// One command or subcommand.
#[derive(Debug)]
pub struct Command {
    /// Full lower-case name (`get`, `config|get`).
    pub name: &'static str,
    /// Bit index in a selector's command bitmap.
    pub id: usize,
    /// The container's id, for a subcommand.
    pub parent: Option<usize>,
    /// The subcommands' ids, for a container.
    pub subs: Vec<usize>,
    /// Bit `i` set: in category `CATEGORIES[i]`.
    pub categories: u32,
    /// Runs before AUTH (`no_auth`): never refused by the command bitmap.
    pub no_auth: bool,
    /// Has key arguments (Redis's doesCommandHaveKeys).
    pub has_keys: bool,
    /// How the permission check finds its keys.
    pub keys: KeyPlan,
    /// Which arguments are channels the check compares with the channel patterns.
    pub channels: Channels,
}

/// The channel arguments of a command (Redis's ACLSelectorCheckCmd list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// None.
    None,
    /// The first argument (PUBLISH, SPUBLISH).
    First,
    /// Every argument (SUBSCRIBE, SSUBSCRIBE).
    All,
    /// Every argument, a pattern compared as written (PSUBSCRIBE).
    AllPatterns,
}

impl Channels {
    fn of(name: &str) -> Channels {
        match name {
            "publish" | "spublish" => Channels::First,
            "subscribe" | "ssubscribe" => Channels::All,
            "psubscribe" => Channels::AllPatterns,
            _ => Channels::None,
        }
    }
}

/// One key spec the permission check walks in place: keys from argument `first` to
/// `lastkey` (relative to `first`; negative: counted from the end) every `step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeKeys {
    /// Index of the first key.
    pub first: i64,
    /// Last key, relative to the first (negative: from the end of the request).
    pub lastkey: i64,
    /// Step between keys (at least 1).
    pub step: i64,
    /// The keys are read (key-spec flag `access`).
    pub read: bool,
    /// The keys are written (`insert`, `delete` or `update`).
    pub write: bool,
}

impl RangeKeys {
    /// The `(first, last)` indexes in a request of `argc` arguments, as Redis's
    /// getKeysUsingKeySpecs; None when the spec does not fit (then the general search
    /// decides, as it would).
    pub fn bounds(&self, argc: i64) -> Option<(i64, i64)> {
        let last = if self.lastkey >= 0 {
            self.first + self.lastkey
        } else {
            argc + self.lastkey
        };
        let fits = last < argc && last >= self.first && self.first < argc && self.first >= 1;
        fits.then_some((self.first, last))
    }
}

/// How the permission check finds a command's keys, decided once per command from its
/// key specs, so checking a request allocates nothing and compares no flag names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPlan {
    /// One key at a fixed index (GET, INCR, LPUSH, HSET, ZADD...): one argument compared.
    Single(RangeKeys),
    /// Only fixed-index range specs: walked in place.
    Ranges(Vec<RangeKeys>),
    /// SET: the key at 1, written, and read too with GET (Redis's setGetKeys).
    Set,
    /// Anything else: Redis's getkeys over the request (key specs or the native procedure).
    General,
}

impl KeyPlan {
    fn of(m: &'static meta::Meta) -> KeyPlan {
        use meta::keys::{BeginSearch, FindKeys};
        if m.name == "set" {
            return KeyPlan::Set;
        }
        let mut ranges = Vec::new();
        for s in m.key_specs.iter().filter(|s| !s.has("not_key")) {
            if s.has("variable_flags") || s.has("incomplete") {
                return KeyPlan::General;
            }
            match (&s.begin, &s.find) {
                (
                    BeginSearch::Index(first),
                    FindKeys::Range {
                        lastkey,
                        keystep,
                        limit: 0,
                    },
                ) if *keystep >= 1 => ranges.push(RangeKeys {
                    first: *first,
                    lastkey: *lastkey,
                    step: *keystep,
                    read: s.has("access"),
                    write: s.has("insert") || s.has("delete") || s.has("update"),
                }),
                _ => return KeyPlan::General,
            }
        }
        if let [r] = ranges.as_slice()
            && r.lastkey == 0
            && r.first >= 1
        {
            return KeyPlan::Single(*r);
        }
        match ranges.is_empty() {
            true => KeyPlan::General,
            false => KeyPlan::Ranges(ranges),
        }
    }
}

/// The catalog id of a command-table entry (by its dense [`Spec::index`]), None for a
/// command Redis 7.0 does not have.
///
/// [`Spec::index`]: crate::server::commands::Spec::index
#[inline]
pub fn id_of_spec(spec: &crate::server::commands::Spec) -> Option<usize> {
    match SPEC_IDS.get().and_then(|ids| ids.get(spec.index)) {
        Some(id) => *id,
        None => id_of_spec_slow(spec),
    }
}

/// The catalog id of every command-table entry, by [`Spec::index`].
///
/// [`Spec::index`]: crate::server::commands::Spec::index
static SPEC_IDS: OnceLock<Vec<Option<usize>>> = OnceLock::new();

/// [`id_of_spec`] the first time (the table of ids built), or for a Spec outside the table.
#[cold]
fn id_of_spec_slow(spec: &crate::server::commands::Spec) -> Option<usize> {
    let ids = SPEC_IDS.get_or_init(|| {
        let cat = catalog();
        let mut ids = vec![None; crate::server::commands::count()];
        for s in crate::server::commands::by_index() {
            ids[s.index] = cat.id_of(s.name);
        }
        ids
    });
    match ids.get(spec.index) {
        Some(id) => *id,
        None => catalog().id_of(spec.name),
    }
}

/// Every command, by id and by name.
#[derive(Debug)]
pub struct Catalog {
    /// By id. Containers come before their subcommands.
    pub commands: Vec<Command>,
    by_name: HashMap<&'static str, usize>,
}

impl Catalog {
    /// The bit that `+@all` sets and no command owns: "may run future commands".
    pub fn future_bit(&self) -> usize {
        self.commands.len()
    }

    /// Number of bits a selector's bitmap needs.
    pub fn bits(&self) -> usize {
        self.commands.len() + 1
    }

    /// A command by full name, case-insensitively (`CONFIG|get`).
    pub fn lookup(&self, name: &[u8]) -> Option<&Command> {
        if name.len() > 64 {
            return None;
        }
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        self.by_name.get(lower.as_str()).map(|&i| &self.commands[i])
    }

    /// A command by full lower-case name, as the command table spells it.
    pub fn id_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
}

/// A category's bit by name (any case), or None for an unknown category.
pub fn category(name: &[u8]) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// The catalog, built once from the metadata.
#[inline]
pub fn catalog() -> &'static Catalog {
    match CATALOG.get() {
        Some(c) => c,
        None => build_catalog(),
    }
}

static CATALOG: OnceLock<Catalog> = OnceLock::new();

#[cold]
fn build_catalog() -> &'static Catalog {
    CATALOG.get_or_init(|| {
        let mut names: Vec<&'static str> = meta::entries().map(|m| m.name).collect();
        // Sorted by full name, a container comes right before its `name|sub`s.
        names.sort_unstable();
        let by_name: HashMap<&'static str, usize> =
            names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut commands: Vec<Command> = names
            .iter()
            .enumerate()
            .map(|(id, &name)| {
                let m = meta::get(name).expect("listed by entries()");
                let categories = m
                    .acl_categories
                    .iter()
                    .filter_map(|c| category(c.trim_start_matches('@').as_bytes()))
                    .fold(0, |a, b| a | b);
                let parent = name
                    .split_once('|')
                    .and_then(|(p, _)| by_name.get(p).copied());
                Command {
                    name,
                    id,
                    parent,
                    subs: Vec::new(),
                    categories,
                    no_auth: m.has_flag("no_auth"),
                    has_keys: meta::keys::has_keys(m),
                    keys: KeyPlan::of(m),
                    channels: Channels::of(name),
                }
            })
            .collect();
        for id in 0..commands.len() {
            if let Some(p) = commands[id].parent {
                commands[p].subs.push(id);
            }
        }
        Catalog { commands, by_name }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-place key walk finds exactly the keys (and access) Redis's getkeys finds,
    /// for every command and request lengths up to 9 arguments.
    #[test]
    fn key_plans_agree_with_getkeys() {
        use crate::server::acl::selector::KeyCache;
        let c = catalog();
        let mut walked = 0;
        for cmd in c.commands.iter().filter(|c| c.has_keys) {
            let m = meta::get(cmd.name).unwrap();
            for n in 1..10 {
                for get in [false, true] {
                    let mut args: Vec<Vec<u8>> =
                        (0..n).map(|i| format!("a{i}").into_bytes()).collect();
                    if get && n > 3 {
                        args[n - 1] = b"GET".to_vec();
                    }
                    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                    // (Native getkeys may name a key past the end of a request too short
                    // for the arity, which dispatch refuses before any ACL check.)
                    let expected: Vec<(usize, bool, bool)> = meta::keys::getkeys(m, &argv)
                        .into_iter()
                        .filter(|(i, _)| *i < n)
                        .map(|(i, f)| {
                            let write = f
                                .iter()
                                .any(|f| matches!(*f, "insert" | "delete" | "update"));
                            (i, f.contains(&"access"), write)
                        })
                        .collect();
                    let mut found = Vec::new();
                    KeyCache::new(cmd, &args).first_denied(|key, read, write| {
                        let i = args.iter().position(|a| a == key).unwrap();
                        found.push((i, read, write));
                        true
                    });
                    assert_eq!(found, expected, "{} with {n} arguments", cmd.name);
                    walked += (cmd.keys != KeyPlan::General) as usize;
                }
            }
        }
        assert!(walked > 1000, "{walked}");
    }

    #[test]
    fn containers_know_their_subcommands_and_categories_come_from_metadata() {
        let c = catalog();
        let config = c.lookup(b"CONFIG").unwrap();
        assert!(
            config
                .subs
                .iter()
                .any(|&s| c.commands[s].name == "config|get")
        );
        let get = c.lookup(b"get").unwrap();
        assert_ne!(get.categories & category(b"read").unwrap(), 0);
        assert_ne!(get.categories & category(b"FAST").unwrap(), 0);
        assert_eq!(get.categories & category(b"write").unwrap(), 0);
        assert!(c.lookup(b"nope").is_none());
        assert_eq!(category(b"all"), None);
    }
}
