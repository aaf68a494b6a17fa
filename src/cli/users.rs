//! ACL users of the inventory (`users:`): each has a role that decides its rules. `admin` is
//! the orchestrator's own login, `replication` the replicas' `masteruser`, `sentinel` the
//! sentinels' login (reserved), `app` users carry the rule string the operator writes.
//! Rendered into redis.conf as `user` lines with the password as its SHA-256 (`#<hex>`), so
//! no user's password is ever written to a node in clear (masterauth excepted: Redis needs it).

use crate::cli::secret::Secret;
use serde::Deserialize;

/// What a user is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    /// The orchestrator's login: every command, key and channel.
    Admin,
    /// The replicas' `masteruser`: only what a replica sends its master.
    Replication,
    /// An application user with the rules written in `rules:`.
    App,
    /// The sentinels' login (rules from Redis's sentinel documentation).
    Sentinel,
}

impl UserRole {
    /// The name used in the inventory.
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Replication => "replication",
            UserRole::App => "app",
            UserRole::Sentinel => "sentinel",
        }
    }

    /// The ACL rules the role grants (None for `app`: the inventory gives them).
    pub fn rules(self) -> Option<&'static str> {
        match self {
            UserRole::Admin => Some("~* &* +@all"),
            // Redis's replication docs: a replica sends PSYNC, REPLCONF and PING (and AUTH,
            // which needs no permission).
            UserRole::Replication => Some("+psync +replconf +ping"),
            // Redis's sentinel docs ("Redis access control list authentication").
            UserRole::Sentinel => Some(
                "allchannels +multi +slaveof +ping +exec +subscribe +config|rewrite +role \
                 +publish +info +client|setname +client|kill +script|kill",
            ),
            UserRole::App => None,
        }
    }
}

/// The sentinel user's rules on the sentinels themselves: what one sentinel sends another
/// (PING, the hello PUBLISH, CLIENT SETNAME, SENTINEL IS-MASTER-DOWN-BY-ADDR), checked with
/// redis-sentinel 7.0 (a failover leaves its ACL LOG empty).
pub const SENTINEL_PEER_RULES: &str = "allchannels -@all +ping +publish +client|setname \
     +sentinel|is-master-down-by-addr +hello +auth";

/// One entry of `users:` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSettings {
    /// `admin`, `replication`, `app` or `sentinel`.
    pub role: UserRole,
    /// The password itself.
    pub password: Option<Secret>,
    /// The name of an environment variable holding the password.
    pub password_env: Option<String>,
    /// ACL rules (`app` users only), e.g. `~app:* +@read +@write -@dangerous`.
    pub rules: Option<String>,
}

/// A validated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user name.
    pub name: String,
    /// Its role.
    pub role: UserRole,
    /// Its password.
    pub password: Secret,
    /// Its ACL rules (the role's, or the inventory's for `app`).
    pub rules: String,
}

impl User {
    /// The arguments of this user's redis.conf `user` line after the name: a clean slate,
    /// on, the password's SHA-256, then the rules.
    pub fn config_rules(&self) -> String {
        self.config_rules_with(&self.rules)
    }

    /// The same with other rules (the sentinel user on the sentinels themselves).
    pub fn config_rules_with(&self, rules: &str) -> String {
        let hash = crate::server::acl::user::hash_password(self.password.expose().as_bytes());
        format!("reset on #{hash} {rules}")
    }
}

/// Checks a user name: a non-empty word Redis accepts in a `user` line.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the user name is empty".into());
    }
    if name == "default" {
        return Err(
            "`default` is Redis's own user: its password is auth.password (absent: disabled)"
                .into(),
        );
    }
    if name
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'"' || b == b'\'')
    {
        return Err("a user name may not contain spaces, quotes or control characters".into());
    }
    Ok(())
}

/// Checks an ACL rule string with the server's own rule parser (Redis 7.0 syntax, selectors
/// included). Password rules (`>`, `<`, `#`, `!`, `nopass`, `resetpass`) are refused: the
/// password comes from `password:`/`password_env:`. The error names the rule, never a secret.
pub fn check_rules(rules: &str) -> Result<(), String> {
    use crate::server::acl::RuleError;
    use crate::server::acl::user::{User as AclUser, merge_selectors};
    let words: Vec<&str> = rules.split_whitespace().collect();
    if words.is_empty() {
        return Err("no rules: an app user needs at least one (example: `~app:* +@read`)".into());
    }
    for w in &words {
        let lower = w.to_ascii_lowercase();
        if w.starts_with(['>', '<', '#', '!']) || lower == "nopass" || lower == "resetpass" {
            return Err(
                "password rules are not allowed here: set password or password_env instead".into(),
            );
        }
    }
    let merged =
        merge_selectors(&words).map_err(|_| "unmatched parenthesis in a selector".to_string())?;
    let mut probe = AclUser::new(false);
    for r in &merged {
        match probe.apply(r, false) {
            Ok(()) => {}
            Err(RuleError::Unknown) => {
                return Err(format!(
                    "rule '{}': unknown command or category",
                    String::from_utf8_lossy(r)
                ));
            }
            Err(e) => return Err(format!("rule '{}': {e}", String::from_utf8_lossy(r))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_rules_parse_and_bad_rules_are_named() {
        for r in [UserRole::Admin, UserRole::Replication, UserRole::Sentinel] {
            check_rules(r.rules().unwrap()).unwrap();
        }
        check_rules("~app:* %R~cache:* +@read +@write -@dangerous (+get ~other:*)").unwrap();
        let e = check_rules("~app:* +nosuchcommand").unwrap_err();
        assert!(e.contains("+nosuchcommand"), "{e}");
        assert!(check_rules("~a (+get").unwrap_err().contains("parenthesis"));
        let e = check_rules("+@all >hunter2").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(check_rules("   ").is_err());
    }

    #[test]
    fn config_rules_hold_the_hash_not_the_password() {
        let u = User {
            name: "app".into(),
            role: UserRole::App,
            password: Secret::new("pw-123456789"),
            rules: "~app:* +get".into(),
        };
        let line = u.config_rules();
        assert!(!line.contains("pw-123456789"), "{line}");
        assert!(line.starts_with("reset on #"), "{line}");
        assert!(line.ends_with(" ~app:* +get"), "{line}");
    }
}
