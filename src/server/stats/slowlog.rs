//! SLOWLOG's store: the newest `slowlog-max-len` commands that ran for at least
//! `slowlog-log-slower-than` microseconds, shaped as Redis's slowlogCreateEntry (at most 32
//! arguments, each at most 128 bytes, with Redis's `... (N more arguments)` and `... (N
//! more bytes)` markers; secrets replaced by `(redacted)`).

use crate::server::commands::{Spec, is};
use bytes::Bytes;
use std::collections::VecDeque;

/// Most arguments kept per entry (SLOWLOG_ENTRY_MAX_ARGC).
pub const MAX_ARGC: usize = 32;
/// Most bytes kept per argument (SLOWLOG_ENTRY_MAX_STRING).
pub const MAX_STRING: usize = 128;
/// What a secret argument becomes (Redis's shared.redacted).
pub const REDACTED: &[u8] = b"(redacted)";

/// One logged command.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Unique, increasing id (not reset by SLOWLOG RESET).
    pub id: u64,
    /// Unix seconds when it ran.
    pub time: i64,
    /// Microseconds it took.
    pub usec: u64,
    /// Its arguments, shortened.
    pub args: Vec<Bytes>,
    /// The client's `ip:port`.
    pub addr: String,
    /// The client's name (CLIENT SETNAME).
    pub name: Bytes,
}

/// The client that ran a logged command.
pub struct ClientId<'a> {
    /// `ip:port`.
    pub addr: &'a str,
    /// CLIENT SETNAME, empty if none.
    pub name: &'a [u8],
}

/// The log, newest first.
#[derive(Debug, Default)]
pub struct SlowLog {
    entries: VecDeque<Entry>,
    next_id: u64,
}

impl SlowLog {
    /// Adds an entry in front and drops the oldest beyond `max_len`.
    pub fn push(&mut self, args: &[Bytes], usec: u64, time: i64, who: ClientId, max_len: usize) {
        let entry = Entry {
            id: self.next_id,
            time,
            usec,
            args: shorten(args),
            addr: who.addr.to_string(),
            name: Bytes::copy_from_slice(who.name),
        };
        self.next_id += 1;
        self.entries.push_front(entry);
        self.entries.truncate(max_len);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry (ids keep increasing).
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// The newest `n` entries, newest first.
    pub fn newest(&self, n: usize) -> impl Iterator<Item = &Entry> {
        self.entries.iter().take(n)
    }
}

/// At most 32 arguments (the last saying how many more there were), each at most 128
/// bytes (followed by how many more bytes there were).
fn shorten(args: &[Bytes]) -> Vec<Bytes> {
    let argc = args.len().min(MAX_ARGC);
    (0..argc)
        .map(|j| {
            if argc != args.len() && j == argc - 1 {
                let more = args.len() - argc + 1;
                return Bytes::from(format!("... ({more} more arguments)"));
            }
            let a = &args[j];
            if a.len() > MAX_STRING {
                let mut v = a[..MAX_STRING].to_vec();
                v.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes(),
                );
                Bytes::from(v)
            } else {
                a.clone()
            }
        })
        .collect()
}

/// The arguments as the slow log may show them: passwords replaced by `(redacted)` where
/// Redis 7.0 redacts them (AUTH, HELLO ... AUTH, CONFIG SET of a sensitive directive,
/// MIGRATE ... AUTH / AUTH2).
pub fn redacted_args(cmd: &Spec, args: &[Bytes]) -> Vec<Bytes> {
    let mut out = args.to_vec();
    let secret = Bytes::from_static(REDACTED);
    match cmd.name {
        "auth" => out[1..].fill(secret),
        "hello" => {
            if let Some(i) = args.iter().position(|a| is(a, "auth")) {
                let end = (i + 3).min(out.len());
                out[i + 1..end].fill(secret);
            }
        }
        "config|set" => {
            for pair in (2..out.len()).step_by(2) {
                let name = String::from_utf8_lossy(&args[pair]);
                if pair + 1 < out.len() && crate::config::table::is_sensitive(&name) {
                    out[pair + 1] = secret.clone();
                }
            }
        }
        "migrate" => {
            let mut i = 6;
            while i < out.len() {
                let n = if is(&args[i], "auth") {
                    1
                } else if is(&args[i], "auth2") {
                    2
                } else {
                    0
                };
                let end = (i + 1 + n).min(out.len());
                out[i + 1..end].fill(secret.clone());
                i += 1 + n;
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_commands_are_shortened_as_redis() {
        let mut args: Vec<Bytes> = (0..40).map(|i| Bytes::from(format!("a{i}"))).collect();
        args[1] = Bytes::from(vec![b'x'; 130]);
        let s = shorten(&args);
        assert_eq!(s.len(), 32);
        assert_eq!(&s[31][..], b"... (9 more arguments)");
        assert_eq!(s[1].len(), 128 + "... (2 more bytes)".len());
        assert!(s[1].ends_with(b"x... (2 more bytes)"));
    }
}
