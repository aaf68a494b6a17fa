//! Redis 7.0's command metadata: what COMMAND INFO and COMMAND DOCS answer for every command
//! and subcommand of Redis 7.0.15 (flags, ACL categories, tips, key specs, documentation),
//! taken from redis-server itself by `generate.py` into `data.rs`.
//!
//! The data is RESP3 as redis-server sent it; it is parsed once into [`Node`] trees, which
//! write themselves in either protocol, and into the typed parts dispatch and COMMAND
//! GETKEYS need ([`Meta`], [`keys::KeySpec`]). Every command of Redis 7.0 is here, also
//! those redrepl does not implement: the command table decides what is shown.

mod data;
pub mod keys;
mod node;

pub use node::Node;

use std::collections::HashMap;
use std::sync::OnceLock;

/// The metadata of one command or subcommand.
#[derive(Debug)]
pub struct Meta {
    /// Full lower-case name (`get`, `client|list`).
    pub name: &'static str,
    /// Redis arity: N exact, -N at least N.
    pub arity: i64,
    /// Flags as COMMAND INFO names them (`write`, `no_auth`, ...).
    pub flags: Vec<&'static str>,
    /// Legacy first key, last key and step.
    pub legacy_keys: (i64, i64, i64),
    /// ACL categories (`@read`, ...).
    pub acl_categories: Vec<&'static str>,
    /// Key specs, in Redis's order.
    pub key_specs: Vec<keys::KeySpec>,
    /// The COMMAND INFO entry, without subcommands.
    pub info: Node,
    /// The COMMAND DOCS entry (a map), without subcommands.
    pub docs: Node,
}

impl Meta {
    /// Whether COMMAND INFO lists `flag` (`write`, `no_auth`, ...).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// The command's group in COMMAND DOCS (`string`, `server`, ...).
    pub fn group(&self) -> &'static str {
        self.docs
            .field("group")
            .and_then(Node::as_str)
            .unwrap_or("")
    }
}

/// All entries by full name, parsed once.
fn all() -> &'static HashMap<&'static str, Meta> {
    static ALL: OnceLock<HashMap<&'static str, Meta>> = OnceLock::new();
    ALL.get_or_init(|| {
        data::ENTRIES
            .iter()
            .map(|&(name, info, docs)| (name, parse(name, info, docs)))
            .collect()
    })
}

/// The metadata of a command or subcommand by full lower-case name (`client|list`).
pub fn get(name: &str) -> Option<&'static Meta> {
    all().get(name)
}

/// Every command and subcommand of Redis 7.0.
pub fn entries() -> impl Iterator<Item = &'static Meta> {
    all().values()
}

/// Builds one entry from its RESP3 data. The data is generated from redis-server and
/// checked by unit tests, so a malformed entry is a build defect (panics at first use).
fn parse(name: &'static str, info: &'static [u8], docs: &'static [u8]) -> Meta {
    let info = Node::parse_all(info).unwrap_or_else(|| panic!("bad COMMAND INFO data: {name}"));
    let docs = Node::parse_all(docs).unwrap_or_else(|| panic!("bad COMMAND DOCS data: {name}"));
    let items = info.items();
    let int = |i: usize| items.get(i).and_then(Node::as_int).unwrap_or(0);
    let strs = |i: usize| -> Vec<&'static str> {
        items
            .get(i)
            .map(|n| n.items().iter().filter_map(Node::as_str).collect())
            .unwrap_or_default()
    };
    let key_specs = items
        .get(8)
        .map(|n| n.items().iter().map(keys::KeySpec::from_node).collect())
        .unwrap_or_default();
    Meta {
        name,
        arity: int(1),
        flags: strs(2),
        legacy_keys: (int(3), int(4), int(5)),
        acl_categories: strs(6),
        key_specs,
        info,
        docs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_redis_command_is_there() {
        let top = entries().filter(|m| !m.name.contains('|')).count();
        assert_eq!(top, 240);
        let get = get("get").unwrap();
        assert_eq!(get.arity, 2);
        assert_eq!(get.flags, ["readonly", "fast"]);
        assert_eq!(get.legacy_keys, (1, 1, 1));
        assert_eq!(get.group(), "string");
        assert_eq!(get.key_specs.len(), 1);
        let list = super::get("client|list").unwrap();
        assert_eq!(list.arity, -2);
        assert!(list.has_flag("admin") && list.has_flag("noscript"));
    }

    #[test]
    fn every_entry_parses_with_its_own_name() {
        for m in entries() {
            assert_eq!(m.info.items()[0].as_str(), Some(m.name), "{}", m.name);
            assert!(m.docs.field("summary").is_some(), "{}", m.name);
        }
    }
}
