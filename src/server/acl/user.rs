//! An ACL user: flags, password hashes (SHA-256, never the passwords) and selectors, with
//! Redis 7.0's rule syntax (ACLSetUser) and description (ACLDescribeUser).

use super::RuleError;
use super::selector::Selector;
use sha2::{Digest, Sha256};

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `on`: may authenticate.
    pub enabled: bool,
    /// `nopass`: any password works.
    pub nopass: bool,
    /// `sanitize-payload` (Some(true)) / `skip-sanitize-payload` (Some(false)).
    pub sanitize: Option<bool>,
    /// Lower-case hex SHA-256 of each password, in the order added.
    pub passwords: Vec<String>,
    /// The root selector first, then the `(...)` ones.
    pub selectors: Vec<Selector>,
}

/// The lower-case hex SHA-256 of a password, as Redis stores it.
pub fn hash_password(pass: &[u8]) -> String {
    let digest = Sha256::digest(pass);
    crate::sysrand::to_hex(&digest, 64)
}

fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Equal without an early exit, so timing does not tell how much of a hash matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl User {
    /// A new user as ACL SETUSER creates it: off, no password, nothing allowed.
    pub fn new(pubsub_all: bool) -> User {
        User {
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            selectors: vec![Selector::new(pubsub_all)],
        }
    }

    /// The default user of a fresh server: `on nopass ~* &* +@all`.
    pub fn default_user() -> User {
        let mut u = User::new(false);
        for r in ["+@all", "~*", "&*", "on", "nopass"] {
            u.apply(r.as_bytes(), false)
                .expect("the default user's rules are valid");
        }
        u
    }

    /// The root selector.
    #[inline]
    pub fn root(&self) -> &Selector {
        &self.selectors[0]
    }

    /// Applies one rule (Redis's ACLSetUser). `pubsub_all` is `acl-pubsub-default
    /// allchannels` (what new selectors and `reset` start from).
    pub fn apply(&mut self, op: &[u8], pubsub_all: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = Some(false);
        } else if is("sanitize-payload") {
            self.sanitize = Some(true);
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let hash = if op[0] == b'>' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            if !self.passwords.contains(&hash) {
                self.passwords.push(hash);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let hash = if op[0] == b'<' {
                hash_password(&op[1..])
            } else if valid_hash(&op[1..]) {
                String::from_utf8_lossy(&op[1..]).into_owned()
            } else {
                return Err(RuleError::BadHash);
            };
            let at = self.passwords.iter().position(|p| *p == hash);
            self.passwords.remove(at.ok_or(RuleError::NoSuchPassword)?);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut s = Selector::new(pubsub_all);
            let inner = &op[1..op.len() - 1];
            for rule in crate::resp::split_args(inner).unwrap_or_default() {
                s.apply(&rule)?;
            }
            self.selectors.push(s);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            for r in ["resetpass", "resetkeys", "resetchannels"] {
                self.apply(r.as_bytes(), pubsub_all)?;
            }
            if pubsub_all {
                self.apply(b"allchannels", pubsub_all)?;
            }
            for r in ["off", "sanitize-payload", "clearselectors", "-@all"] {
                self.apply(r.as_bytes(), pubsub_all)?;
            }
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// Whether `pass` logs in as this user (Redis's ACLCheckUserCredentials, after the
    /// user was found).
    pub fn password_ok(&self, pass: &[u8]) -> bool {
        if !self.enabled {
            return false;
        }
        if self.nopass {
            return true;
        }
        let hash = hash_password(pass);
        // Every stored hash is compared, whichever matches.
        self.passwords
            .iter()
            .fold(false, |ok, p| same(p.as_bytes(), hash.as_bytes()) | ok)
    }

    /// The flags ACL GETUSER lists, in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Some(false) => f.push("skip-sanitize-payload"),
            Some(true) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }

    /// The user as rules (Redis's ACLDescribeUser): what ACL LIST shows after the name.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in self.flags() {
            out.extend_from_slice(f.as_bytes());
            out.push(b' ');
        }
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(p.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&self.selectors[0].describe());
        for s in &self.selectors[1..] {
            out.extend_from_slice(b" (");
            out.extend_from_slice(&s.describe());
            out.push(b')');
        }
        out
    }
}

/// Joins rules split over several arguments into one `(...)` selector each (Redis's
/// ACLMergeSelectorArguments). On an unclosed parenthesis, Err carries the index of the
/// argument that opened it.
pub fn merge_selectors<A: AsRef<[u8]>>(args: &[A]) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (j, a) in args.iter().enumerate() {
        let op = a.as_ref();
        if let Some((_, sel)) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.last() == Some(&b')') {
                out.push(open.take().map(|o| o.1).unwrap_or_default());
            }
            continue;
        }
        if op.first() == Some(&b'(') && op.last() != Some(&b')') {
            open = Some((j, op.to_vec()));
            continue;
        }
        out.push(op.to_vec());
    }
    match open {
        Some((j, _)) => Err(j),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_describe_as_redis() {
        let u = User::default_user();
        assert_eq!(u.describe(), b"on nopass ~* &* +@all");
        let mut u = User::new(false);
        for r in ["on", ">p", "~app:*", "+get", "+set", "&ch"] {
            u.apply(r.as_bytes(), false).unwrap();
        }
        assert_eq!(
            String::from_utf8(u.describe()).unwrap(),
            "on #148de9c5a7a44d19e56cd9ae1a554bf67847afb0c58f6e12fa29ac7ddfca9940 ~app:* resetchannels &ch -@all +get +set"
        );
        assert!(u.password_ok(b"p") && !u.password_ok(b"q"));
        assert_eq!(u.apply(b"<q", false), Err(RuleError::NoSuchPassword));
        assert_eq!(u.apply(b"#abc", false), Err(RuleError::BadHash));
        assert_eq!(u.apply(b"+nope", false), Err(RuleError::Unknown));
        assert_eq!(
            u.apply(b"+config|get|x", false),
            Err(RuleError::FirstArgOfSubcommand)
        );
    }

    #[test]
    fn selectors_merge_across_arguments() {
        assert_eq!(
            merge_selectors(&["on", "(~x", "+get)", "+set"]).unwrap(),
            vec![b"on".to_vec(), b"(~x +get)".to_vec(), b"+set".to_vec()]
        );
        assert_eq!(merge_selectors(&["on", "(~x", "+get"]), Err(1));
    }
}
