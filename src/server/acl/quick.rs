//! The permission check's fast path for the common restricted user: one selector whose
//! key patterns are all `prefix*` granting reading and writing (`~app:*`), no first-argument
//! rules. Worked out once when a connection caches its user ([`super::CachedUser`]), it
//! decides most commands with one bit test and a prefix compare per key, and hands the
//! rest (channels, keys found by Redis's getkeys) to the general check, which gives the
//! same answers.

use super::catalog::{Channels, Command, KeyPlan};
use super::user::User;
use super::{COMMAND_DENIED, Denial, Denied};

/// What a cached user's permission check can decide without the general walk.
#[derive(Debug, Clone, Default)]
pub enum Quick {
    /// The general check decides (no such user, several selectors, first-argument rules,
    /// or a key pattern that is not a `prefix*` granting both reading and writing).
    #[default]
    General,
    /// Everything is allowed (the root selector is unrestricted).
    All,
    /// One selector: keys are all allowed (`allkeys`), or those (not empty) starting with
    /// one of `prefixes`.
    Keys {
        /// `allkeys`.
        allkeys: bool,
        /// The patterns without their final `*`.
        prefixes: Vec<Prefix>,
    },
}

/// The literal part of a `prefix*` key pattern, its first 8 bytes kept as one word so a
/// key of 8 bytes or more is compared with one load and one mask.
#[derive(Debug, Clone)]
pub struct Prefix {
    head: u64,
    mask: u64,
    bytes: Box<[u8]>,
}

impl Prefix {
    /// The prefix `p` (a pattern without its final `*`).
    pub fn new(p: &[u8]) -> Prefix {
        let n = p.len().min(8);
        let mut word = [0u8; 8];
        word[..n].copy_from_slice(&p[..n]);
        Prefix {
            head: u64::from_le_bytes(word),
            mask: if n == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            },
            bytes: p.into(),
        }
    }

    /// Whether `key` matches `prefix*`: starts with the prefix and, as stringmatchlen's
    /// `*`, is not empty.
    #[inline(always)]
    pub fn matches(&self, key: &[u8]) -> bool {
        match key.first_chunk::<8>() {
            Some(word) => {
                u64::from_le_bytes(*word) & self.mask == self.head
                    && (self.bytes.len() <= 8 || key.starts_with(&self.bytes))
            }
            None => !key.is_empty() && key.starts_with(&self.bytes),
        }
    }
}

impl Quick {
    /// The plan for `user` (None: it does not exist).
    pub fn of(user: Option<&User>) -> Quick {
        let Some(u) = user else {
            return Quick::General;
        };
        let s = u.root();
        if s.unrestricted() {
            return Quick::All;
        }
        if u.selectors.len() != 1 || s.has_firstargs() {
            return Quick::General;
        }
        if s.allkeys {
            return Quick::Keys {
                allkeys: true,
                prefixes: Vec::new(),
            };
        }
        if !s
            .patterns
            .iter()
            .all(|p| p.prefix_only && p.read && p.write)
        {
            return Quick::General;
        }
        let prefixes = s
            .patterns
            .iter()
            .map(|p| Prefix::new(&p.pattern[..p.pattern.len() - 1]))
            .collect();
        Quick::Keys {
            allkeys: false,
            prefixes,
        }
    }

    /// The verdict for `args` of catalog command `cmd` run by `user` (the user this plan
    /// was made from), or None when the general check must decide.
    #[inline(always)]
    pub fn check<A: AsRef<[u8]>>(
        &self,
        user: &User,
        cmd: Option<&Command>,
        args: &[A],
    ) -> Option<Result<(), Denial>> {
        let Quick::Keys { allkeys, prefixes } = self else {
            return match self {
                Quick::All => Some(Ok(())),
                _ => None,
            };
        };
        let (cmd, s) = (cmd?, user.root());
        if !s.allows_command(cmd) {
            return Some(Err(COMMAND_DENIED));
        }
        if !allkeys && cmd.has_keys {
            let argc = args.len() as i64;
            let at = match &cmd.keys {
                // With both accesses granted, SET's GET option changes nothing.
                KeyPlan::Set => (argc > 1 && denied(prefixes, args[1].as_ref())).then_some(1),
                KeyPlan::Single(r) if r.first < argc => {
                    let i = r.first as usize;
                    denied(prefixes, args[i].as_ref()).then_some(i)
                }
                KeyPlan::Ranges(ranges) if ranges.iter().all(|r| r.bounds(argc).is_some()) => {
                    first_denied_in(ranges, prefixes, args)
                }
                _ => return None,
            };
            if let Some(index) = at {
                return Some(Err(Denial {
                    reason: Denied::Key,
                    index,
                }));
            }
        }
        if !s.allchannels && cmd.channels != Channels::None {
            return None;
        }
        Some(Ok(()))
    }
}

/// Whether no prefix matches `key`.
#[inline(always)]
fn denied(prefixes: &[Prefix], key: &[u8]) -> bool {
    for p in prefixes {
        if p.matches(key) {
            return false;
        }
    }
    true
}

/// The index of the first key of `ranges` (all fitting `args`) that no prefix matches, in
/// key order.
fn first_denied_in<A: AsRef<[u8]>>(
    ranges: &[super::catalog::RangeKeys],
    prefixes: &[Prefix],
    args: &[A],
) -> Option<usize> {
    let argc = args.len() as i64;
    for r in ranges {
        let (first, last) = r.bounds(argc)?;
        let mut i = first;
        while i <= last {
            if denied(prefixes, args[i as usize].as_ref()) {
                return Some(i as usize);
            }
            i += r.step;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::acl::catalog::catalog;
    use crate::server::acl::check_user;

    fn user(rules: &[&str]) -> User {
        let mut u = User::new(false);
        for r in rules {
            u.apply(r.as_bytes(), false).unwrap();
        }
        u
    }

    /// Wherever the plan decides, it decides as the general check, for users of every
    /// shape and requests of many commands, keys inside and outside the patterns.
    #[test]
    fn the_plan_agrees_with_the_general_check() {
        let users = [
            user(&["on", "~app:*", "+@all"]),
            user(&[
                "on",
                "~app:*",
                "~other:*",
                "+@read",
                "+@write",
                "-@dangerous",
            ]),
            user(&["on", "~app:*", "&app:*", "+@all"]),
            user(&["on", "allkeys", "+get", "+set", "+publish"]),
            user(&["on", "resetkeys", "+@all"]),
            user(&["on", "~*", "&*", "+@all"]),
            user(&["on", "%R~app:*", "+@all"]),
            user(&["on", "~a?p:*", "+@all"]),
            user(&["on", "~app:*", "+@all", "(~x:* +get)"]),
            user(&["on", "~app:*", "-@all", "+select|0"]),
        ];
        let requests: [&[&str]; 14] = [
            &["get", "app:1"],
            &["get", "x:1"],
            &["get", ""],
            &["set", "app:1", "v"],
            &["set", "x", "v", "get"],
            &["set"],
            &["mset", "app:1", "v", "x", "v"],
            &["mget", "app:1", "app:2"],
            &["del", "app:1", "x", "app:2"],
            &["publish", "app:c", "m"],
            &["subscribe", "x"],
            &["eval", "return 1", "1", "x"],
            &["ping"],
            &["flushall"],
        ];
        let cat = catalog();
        let mut decided = 0;
        for u in &users {
            let plan = Quick::of(Some(u));
            for req in requests {
                let id = cat.id_of(req[0]);
                let general = check_user(u, id, req);
                let cmd = id.map(|i| &cat.commands[i]);
                if let Some(v) = plan.check(u, cmd, req) {
                    assert_eq!(v, general, "{:?} {req:?}", u.describe());
                    decided += 1;
                }
            }
        }
        assert!(decided > 50, "the plan decided only {decided} cases");
        assert!(matches!(Quick::of(Some(&users[5])), Quick::All));
        for general in &users[6..] {
            assert!(matches!(Quick::of(Some(general)), Quick::General));
        }
        assert!(matches!(Quick::of(None), Quick::General));
    }

    /// A prefix compared by words matches what the glob `prefix*` matches, for prefixes
    /// and keys shorter and longer than a word.
    #[test]
    fn prefixes_match_as_the_glob() {
        use crate::server::glob::glob_match;
        let keys: [&[u8]; 10] = [
            b"",
            b"a",
            b"app:",
            b"app:1",
            b"app:key:1",
            b"app:key:",
            b"app:key:000000123",
            b"APP:key:1",
            b"xapp:key:1",
            b"app:kez:1",
        ];
        for p in [
            &b""[..],
            b"a",
            b"app:",
            b"app:key",
            b"app:key:",
            b"app:key:0000",
        ] {
            let quick = Prefix::new(p);
            let glob = [p, b"*"].concat();
            for key in keys {
                assert_eq!(
                    quick.matches(key),
                    glob_match(&glob, key, false),
                    "{p:?} {key:?}"
                );
            }
        }
    }
}
