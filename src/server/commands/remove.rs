//! SREM, HDEL and ZREM share one shape: remove the given members, delete the key when the
//! collection empties, count the changes and mark the key modified, reply with the count.

use super::{CmdError, CmdResult, Ctx};
use crate::server::types::{Hash, Set, ZSet};
use bytes::Bytes;

/// A collection members (or fields) can be removed from.
pub trait Members {
    /// Removes `m`; true if it was there.
    fn remove_member(&mut self, m: &[u8]) -> bool;
    /// True when nothing is left.
    fn is_empty(&self) -> bool;
}

impl Members for Set {
    fn remove_member(&mut self, m: &[u8]) -> bool {
        self.remove(m)
    }
    fn is_empty(&self) -> bool {
        Set::is_empty(self)
    }
}

impl Members for Hash {
    fn remove_member(&mut self, m: &[u8]) -> bool {
        self.remove(m)
    }
    fn is_empty(&self) -> bool {
        Hash::is_empty(self)
    }
}

impl Members for ZSet {
    fn remove_member(&mut self, m: &[u8]) -> bool {
        self.remove(m)
    }
    fn is_empty(&self) -> bool {
        ZSet::is_empty(self)
    }
}

/// Removes `members` from the collection `lookup` finds under `key` (for writing, type
/// checked), deletes the key when it empties, marks it modified and replies with the number
/// removed.
pub fn remove_members<'a, T: Members>(
    ctx: &mut Ctx<'a>,
    key: &[u8],
    members: &[Bytes],
    lookup: for<'c> fn(&'c mut Ctx<'a>, &[u8]) -> Result<Option<&'c mut T>, CmdError>,
    event: (u32, &'static str),
) -> CmdResult {
    let (n, empty) = match lookup(ctx, key)? {
        None => (0u64, false),
        Some(c) => {
            let mut n = 0;
            for m in members {
                if c.remove_member(m) {
                    n += 1;
                    if c.is_empty() {
                        break;
                    }
                }
            }
            (n, c.is_empty())
        }
    };
    if n > 0 {
        if empty {
            ctx.db().remove(key);
        }
        ctx.modified(key, n);
        crate::server::notify::notify(ctx, event.0, event.1, key);
        if empty {
            crate::server::notify::notify(ctx, crate::server::notify::GENERIC, "del", key);
        }
    }
    ctx.out.int(n as i64);
    Ok(())
}
