//! ACL LOG: denied commands, keys, channels and failed logins (never a password), newest
//! first, similar events within a minute folded into one entry (Redis's addACLLogEntry).

use std::collections::VecDeque;

/// Why the entry was logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A command was refused.
    Command,
    /// A key was refused.
    Key,
    /// A channel was refused.
    Channel,
    /// AUTH/HELLO failed.
    Auth,
}

impl Reason {
    /// The name ACL LOG shows.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

impl From<super::Denied> for Reason {
    fn from(d: super::Denied) -> Reason {
        match d {
            super::Denied::Command => Reason::Command,
            super::Denied::Key => Reason::Key,
            super::Denied::Channel => Reason::Channel,
        }
    }
}

/// Where the refused request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A command of its own.
    Toplevel,
    /// Inside MULTI (or at EXEC).
    Multi,
    /// redis.call from a script.
    Lua,
}

impl Context {
    /// The name ACL LOG shows.
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// One entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Events folded into this entry.
    pub count: u64,
    /// Why.
    pub reason: Reason,
    /// Where.
    pub context: Context,
    /// The command's full name, the key, the channel, or the command of a failed AUTH.
    pub object: Vec<u8>,
    /// The user (for AUTH: the name tried).
    pub username: Vec<u8>,
    /// Unix ms of the last event.
    pub ctime_ms: i64,
    /// CLIENT INFO of the last client.
    pub client_info: String,
}

/// Events closer than this (ms) fold into one entry.
const GROUPING_MS: i64 = 60_000;

/// The log, newest first.
#[derive(Debug, Default)]
pub struct AclLog {
    entries: VecDeque<Entry>,
}

impl AclLog {
    /// Records `e` (count 1), folding it into a similar entry among the newest 10, and
    /// keeps at most `max_len` entries.
    pub fn add(&mut self, e: Entry, max_len: usize) {
        let similar = self.entries.iter().take(10).position(|o| {
            o.reason == e.reason
                && o.context == e.context
                && (o.ctime_ms - e.ctime_ms).abs() <= GROUPING_MS
                && o.object == e.object
                && o.username == e.username
        });
        if let Some(i) = similar {
            let mut o = self.entries.remove(i).expect("found above");
            o.count += 1;
            o.ctime_ms = e.ctime_ms;
            o.client_info = e.client_info;
            self.entries.push_front(o);
            return;
        }
        self.entries.push_front(e);
        self.entries.truncate(max_len);
    }

    /// ACL LOG RESET.
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// The entries, newest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
