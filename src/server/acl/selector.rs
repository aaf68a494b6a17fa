//! A selector: which commands, keys and channels one set of rules allows (Redis 7.0's
//! aclSelector). Every user has a root selector; `(...)` rules add more, and a command
//! runs when any selector allows it.

use super::RuleError;
use super::catalog::{CATEGORIES, Catalog, Channels, Command, KeyPlan, catalog, category};
use crate::server::glob::glob_match;
use std::collections::BTreeMap;

/// A command bitmap: one bit per catalog command, plus the "future commands" bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bits(Vec<u64>);

impl Bits {
    fn new(all: bool) -> Bits {
        let words = catalog().bits().div_ceil(64);
        Bits(vec![if all { u64::MAX } else { 0 }; words])
    }

    /// Whether bit `id` is set.
    #[inline]
    pub fn get(&self, id: usize) -> bool {
        self.0[id / 64] & (1 << (id % 64)) != 0
    }

    fn set(&mut self, id: usize, on: bool) {
        if on {
            self.0[id / 64] |= 1 << (id % 64);
        } else {
            self.0[id / 64] &= !(1 << (id % 64));
        }
    }

    /// Allows or denies `cmd` and, for a container, all its subcommands.
    fn change(&mut self, cmd: &Command, on: bool) {
        self.set(cmd.id, on);
        for &s in &cmd.subs {
            self.set(s, on);
        }
    }

    /// Allows or denies every command of a category (`+@cat` / `-@cat`).
    fn change_category(&mut self, cat: u32, on: bool) {
        for cmd in &catalog().commands {
            if cmd.categories & cat != 0 {
                self.change(cmd, on);
            }
        }
    }

    /// Commands of `cat` whose bit is set and not set.
    fn count(&self, cat: u32) -> (usize, usize) {
        let mut on = 0;
        let mut off = 0;
        for cmd in catalog()
            .commands
            .iter()
            .filter(|c| c.categories & cat != 0)
        {
            if self.get(cmd.id) {
                on += 1;
            } else {
                off += 1;
            }
        }
        (on, off)
    }
}

/// A key pattern with the access it grants (`~p` both, `%R~p` read, `%W~p` write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    /// The glob pattern.
    pub pattern: Vec<u8>,
    /// Grants reading.
    pub read: bool,
    /// Grants writing.
    pub write: bool,
    /// The pattern is a literal prefix followed by one `*` (`app:*`): matched by comparing
    /// the prefix, with the same result as the glob.
    pub prefix_only: bool,
}

impl KeyPattern {
    /// A pattern granting `read`/`write`.
    pub fn new(pattern: &[u8], read: bool, write: bool) -> KeyPattern {
        let prefix_only = match pattern.split_last() {
            Some((b'*', head)) => !head.iter().any(|c| matches!(c, b'*' | b'?' | b'[' | b'\\')),
            _ => false,
        };
        KeyPattern {
            pattern: pattern.to_vec(),
            read,
            write,
            prefix_only,
        }
    }

    /// Whether `key` matches the pattern (Redis's stringmatchlen).
    #[inline]
    pub fn matches(&self, key: &[u8]) -> bool {
        match self.prefix_only {
            // As stringmatchlen, `*` matches no empty string.
            true => !key.is_empty() && key.starts_with(&self.pattern[..self.pattern.len() - 1]),
            false => glob_match(&self.pattern, key, false),
        }
    }

    /// The rule that adds this pattern: `~p`, `%R~p` or `%W~p`.
    pub fn rule(&self) -> Vec<u8> {
        let mut r: Vec<u8> = match (self.read, self.write) {
            (true, false) => b"%R~".to_vec(),
            (false, true) => b"%W~".to_vec(),
            _ => b"~".to_vec(),
        };
        r.extend_from_slice(&self.pattern);
        r
    }
}

/// Why a command is refused, in Redis's order of relevance (a channel beats a key beats
/// the command when selectors disagree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    /// The command (or subcommand) is not allowed.
    Command,
    /// A key argument matches no pattern.
    Key,
    /// A channel argument matches no pattern.
    Channel,
}

/// The keys of one request, for all selectors: walked in place for the commands whose
/// key specs are plain ranges (and SET), searched once by Redis's getkeys for the others.
pub struct KeyCache<'a, A: AsRef<[u8]>> {
    cmd: &'a Command,
    args: &'a [A],
    general: Option<Vec<(usize, bool, bool)>>,
}

impl<'a, A: AsRef<[u8]>> KeyCache<'a, A> {
    /// A cache for `args` of `cmd`.
    pub fn new(cmd: &'a Command, args: &'a [A]) -> KeyCache<'a, A> {
        KeyCache {
            cmd,
            args,
            general: None,
        }
    }

    /// Argument `i` of the request.
    #[inline]
    fn arg(&self, i: usize) -> &'a [u8] {
        self.args[i].as_ref()
    }

    /// The index of the first key `allowed(key, read, write)` refuses, in key order.
    pub fn first_denied(
        &mut self,
        mut allowed: impl FnMut(&[u8], bool, bool) -> bool,
    ) -> Option<usize> {
        let argc = self.args.len() as i64;
        match &self.cmd.keys {
            KeyPlan::Set => {
                let get = self
                    .args
                    .iter()
                    .skip(3)
                    .any(|a| a.as_ref().eq_ignore_ascii_case(b"get"));
                (argc > 1 && !allowed(self.arg(1), get, true)).then_some(1)
            }
            KeyPlan::Single(r) if r.first < argc => {
                let i = r.first as usize;
                (!allowed(self.arg(i), r.read, r.write)).then_some(i)
            }
            KeyPlan::Ranges(ranges) if ranges.iter().all(|r| r.bounds(argc).is_some()) => {
                for r in ranges {
                    let (first, last) = r.bounds(argc)?;
                    let mut i = first;
                    while i <= last {
                        if !allowed(self.arg(i as usize), r.read, r.write) {
                            return Some(i as usize);
                        }
                        i += r.step;
                    }
                }
                None
            }
            _ => {
                let (cmd, args) = (self.cmd, self.args);
                let keys = self.general.get_or_insert_with(|| general_keys(cmd, args));
                keys.iter()
                    .find(|&&(i, read, write)| !allowed(args[i].as_ref(), read, write))
                    .map(|k| k.0)
            }
        }
    }
}

/// `(index, needs read, needs write)` of every key, by Redis's getkeys (key-spec flags:
/// access reads; insert, delete and update write).
fn general_keys<A: AsRef<[u8]>>(cmd: &Command, args: &[A]) -> Vec<(usize, bool, bool)> {
    let Some(m) = crate::server::commands::meta::get(cmd.name) else {
        return Vec::new();
    };
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
    // A key procedure may name a key past the end of a request too short for its arity
    // (dispatch refuses those first; ACL DRYRUN and scripts must not index past it either).
    crate::server::commands::meta::keys::getkeys(m, &argv)
        .into_iter()
        .filter(|&(i, _)| i < args.len())
        .map(|(i, flags)| {
            let read = flags.contains(&"access");
            let write = flags
                .iter()
                .any(|f| matches!(*f, "insert" | "delete" | "update"));
            (i, read, write)
        })
        .collect()
}

/// One selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Every key (`allkeys`, `~*`).
    pub allkeys: bool,
    /// Every channel (`allchannels`, `&*`).
    pub allchannels: bool,
    /// Every command without looking at the bitmap (`allcommands`, `+@all`, until a
    /// command is removed).
    pub allcommands: bool,
    allowed: Bits,
    /// First arguments allowed for a command whose bit is not set (`+select|0`).
    firstargs: BTreeMap<usize, Vec<Vec<u8>>>,
    /// Key patterns, in the order added.
    pub patterns: Vec<KeyPattern>,
    /// Channel patterns, in the order added.
    pub channels: Vec<Vec<u8>>,
}

fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|c| c.is_ascii_whitespace() || *c == 0 || *c == 0x0b)
}

impl Selector {
    /// An empty selector: nothing allowed, channels as `acl-pubsub-default` says.
    pub fn new(allchannels: bool) -> Selector {
        Selector {
            allkeys: false,
            allchannels,
            allcommands: false,
            allowed: Bits::new(false),
            firstargs: BTreeMap::new(),
            patterns: Vec::new(),
            channels: Vec::new(),
        }
    }

    /// Whether the selector allows everything (the cheap path of the permission check).
    pub fn unrestricted(&self) -> bool {
        self.allkeys && self.allchannels && self.allcommands
    }

    /// Whether the command bitmap allows `cmd` (first-argument rules aside: see
    /// [`Selector::has_firstargs`]).
    #[inline]
    pub fn allows_command(&self, cmd: &Command) -> bool {
        self.allcommands || cmd.no_auth || self.allowed.get(cmd.id)
    }

    /// Whether some command is allowed with given first arguments only (`+select|0`).
    pub fn has_firstargs(&self) -> bool {
        !self.firstargs.is_empty()
    }

    /// Applies one selector rule (Redis's ACLSetSelector).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        let cat = catalog();
        if is("allkeys") || op == b"~*" {
            self.allkeys = true;
            self.patterns.clear();
        } else if is("resetkeys") {
            self.allkeys = false;
            self.patterns.clear();
        } else if is("allchannels") || op == b"&*" {
            self.allchannels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.allchannels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.allowed = Bits::new(true);
            self.allcommands = true;
            self.firstargs.clear();
        } else if is("nocommands") || is("-@all") {
            self.allowed = Bits::new(false);
            self.allcommands = false;
            self.firstargs.clear();
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.allchannels {
                return Err(RuleError::ChannelAfterAll);
            }
            let pat = &op[1..];
            if has_spaces(pat) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == pat) {
                self.channels.push(pat.to_vec());
            }
        } else if op.len() > 1 && (op[0] == b'+' || op[0] == b'-') && op[1] == b'@' {
            let c = category(&op[2..]).ok_or(RuleError::Unknown)?;
            let on = op[0] == b'+';
            self.allowed.change_category(c, on);
            if !on {
                self.allcommands = false;
            }
            for cmd in cat.commands.iter().filter(|cmd| cmd.categories & c != 0) {
                self.forget_firstargs(cmd);
            }
        } else if op[0] == b'+' {
            self.allow(cat, &op[1..])?;
        } else if op[0] == b'-' {
            let cmd = cat.lookup(&op[1..]).ok_or(RuleError::Unknown)?;
            self.change(cmd, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    fn change(&mut self, cmd: &Command, on: bool) {
        self.allowed.change(cmd, on);
        if !on {
            self.allcommands = false;
        }
        self.forget_firstargs(cmd);
    }

    fn forget_firstargs(&mut self, cmd: &Command) {
        if !self.firstargs.is_empty() {
            self.firstargs.remove(&cmd.id);
        }
    }

    /// `+cmd`, `+cmd|sub` (a subcommand) or `+cmd|arg` (a first argument of a command
    /// without subcommands).
    fn allow(&mut self, cat: &Catalog, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&b| b == b'|') else {
            let cmd = cat.lookup(name).ok_or(RuleError::Unknown)?;
            self.change(cmd, true);
            return Ok(());
        };
        let (base, sub) = (&name[..bar], &name[bar + 1..]);
        let cmd = cat.lookup(base).ok_or(RuleError::Unknown)?;
        if cmd.parent.is_some() {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if !cmd.subs.is_empty() {
            let sub = cat.lookup(name).ok_or(RuleError::Unknown)?;
            self.change(sub, true);
        } else {
            crate::warning!(
                "Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{})",
                String::from_utf8_lossy(name)
            );
            let list = self.firstargs.entry(cmd.id).or_default();
            if !list.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                list.push(sub.to_vec());
            }
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.allkeys {
            return Err(RuleError::KeyAfterAll);
        }
        let (mut read, mut write) = (false, false);
        let mut offset = 1;
        if op[0] == b'%' {
            while offset < op.len() {
                match op[offset].to_ascii_uppercase() {
                    b'R' if !read => read = true,
                    b'W' if !write => write = true,
                    b'~' => {
                        offset += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
            if !read && !write {
                // `%~p`: Redis would store a pattern granting nothing.
                return Err(RuleError::Syntax);
            }
        } else {
            (read, write) = (true, true);
        }
        let pattern = &op[offset.min(op.len())..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.patterns.iter_mut().find(|p| p.pattern == pattern) {
            Some(p) => {
                p.read |= read;
                p.write |= write;
            }
            None => self.patterns.push(KeyPattern::new(pattern, read, write)),
        }
        self.allkeys = false;
        Ok(())
    }

    /// Whether the selector lets `args` of `cmd` run (Redis's ACLSelectorCheckCmd); on
    /// refusal, the reason and the index of the argument at fault.
    pub fn check<A: AsRef<[u8]>>(
        &self,
        cmd: &Command,
        keys: &mut KeyCache<A>,
    ) -> Result<(), (Denied, usize)> {
        let args = keys.args;
        if !self.allows_command(cmd) {
            let idx = if cmd.parent.is_some() { 2 } else { 1 };
            let first = self.firstargs.get(&cmd.id).zip(args.get(idx));
            if !first
                .is_some_and(|(list, a)| list.iter().any(|x| x.eq_ignore_ascii_case(a.as_ref())))
            {
                return Err((Denied::Command, 0));
            }
        }
        if !self.allkeys
            && cmd.has_keys
            && let Some(i) =
                keys.first_denied(|key, read, write| self.key_allowed(key, read, write))
        {
            return Err((Denied::Key, i));
        }
        if !self.allchannels {
            let (from, literal) = match cmd.channels {
                Channels::None => return Ok(()),
                Channels::First => (1..2.min(args.len()), false),
                Channels::All => (1..args.len(), false),
                Channels::AllPatterns => (1..args.len(), true),
            };
            for i in from {
                if !self.channel_allowed(args[i].as_ref(), literal) {
                    return Err((Denied::Channel, i));
                }
            }
        }
        Ok(())
    }

    /// Whether a key may be used with the given access (Redis's ACLSelectorCheckKey).
    pub fn key_allowed(&self, key: &[u8], read: bool, write: bool) -> bool {
        self.allkeys
            || self
                .patterns
                .iter()
                .any(|p| (p.read || !read) && (p.write || !write) && p.matches(key))
    }

    /// Whether a channel (or, `literal`, a PSUBSCRIBE pattern compared as written) is
    /// allowed.
    pub fn channel_allowed(&self, channel: &[u8], literal: bool) -> bool {
        self.allchannels
            || self.channels.iter().any(|p| {
                if literal {
                    p == channel
                } else {
                    glob_match(p, channel, false)
                }
            })
    }

    /// The command rules that rebuild this selector's bitmap (Redis's
    /// ACLDescribeSelectorCommandRules): `+@all` or `-@all`, the categories that fit best,
    /// then single commands and first arguments.
    pub fn describe_commands(&self) -> String {
        let cat = catalog();
        let additive = !self.allowed.get(cat.future_bit());
        let mut rules = String::from(if additive { "-@all " } else { "+@all " });
        let mut fake = Bits::new(!additive);
        let mut temp = self.allowed.clone();
        let mut applied = [false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, name) in CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count(1 << j);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some((j, *name));
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some((j, name)) = best else { break };
            fake.change_category(1 << j, additive);
            temp.change_category(1 << j, !additive);
            rules.push_str(if additive { "+@" } else { "-@" });
            rules.push_str(name);
            rules.push(' ');
            applied[j] = true;
        }
        for cmd in &cat.commands {
            let user = self.allowed.get(cmd.id);
            if user != fake.get(cmd.id) {
                rules.push(if user { '+' } else { '-' });
                rules.push_str(cmd.name);
                rules.push(' ');
                fake.change(cmd, user);
            }
            if !user && let Some(args) = self.firstargs.get(&cmd.id) {
                for a in args {
                    rules.push('+');
                    rules.push_str(cmd.name);
                    rules.push('|');
                    rules.push_str(&String::from_utf8_lossy(a));
                    rules.push(' ');
                }
            }
        }
        rules.pop();
        rules
    }

    /// Key patterns as ACL GETUSER shows them (`~*`, or the patterns space-separated).
    pub fn describe_keys(&self) -> Vec<u8> {
        if self.allkeys {
            return b"~*".to_vec();
        }
        let rules: Vec<Vec<u8>> = self.patterns.iter().map(KeyPattern::rule).collect();
        rules.join(&b' ')
    }

    /// Channel patterns as ACL GETUSER shows them (`&*`, or `&a &b`).
    pub fn describe_channels(&self) -> Vec<u8> {
        if self.allchannels {
            return b"&*".to_vec();
        }
        let rules: Vec<Vec<u8>> = self
            .channels
            .iter()
            .map(|c| [b"&".as_slice(), c].concat())
            .collect();
        rules.join(&b' ')
    }

    /// The whole selector as rules (Redis's ACLDescribeSelector), as ACL LIST shows it.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.allkeys {
            out.extend_from_slice(b"~* ");
        } else {
            for p in &self.patterns {
                out.extend_from_slice(&p.rule());
                out.push(b' ');
            }
        }
        if self.allchannels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for c in &self.channels {
                out.push(b'&');
                out.extend_from_slice(c);
                out.push(b' ');
            }
        }
        out.extend_from_slice(self.describe_commands().as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `prefix*` pattern compared by prefix matches exactly what the glob matches.
    #[test]
    fn prefix_patterns_match_as_the_glob() {
        let keys: [&[u8]; 8] = [
            b"", b"app", b"app:", b"app:1", b"APP:1", b"ap", b"xapp:1", b"app:*",
        ];
        for pat in [
            &b"app:*"[..],
            b"*",
            b"a*",
            b"app:\\*",
            b"a?p*",
            b"[a]pp*",
            b"app:**",
            b"app",
        ] {
            let p = KeyPattern::new(pat, true, true);
            for key in keys {
                assert_eq!(
                    p.matches(key),
                    glob_match(pat, key, false),
                    "{pat:?} {key:?}"
                );
            }
        }
        assert!(KeyPattern::new(b"app:*", true, true).prefix_only);
        assert!(!KeyPattern::new(b"a?p*", true, true).prefix_only);
    }
}
