//! A sentinel's login lines: how it logs in to the servers (`sentinel auth-user/auth-pass`),
//! to the other sentinels (`sentinel sentinel-user/sentinel-pass`), and who may log in to it
//! (`requirepass`, `user` lines). A changed password in the inventory changes them; a running
//! sentinel rewrites its own file (Redis writes every ACL user back in its own words), so
//! deploy compares what they mean, never their text, and replaces only these lines.
//!
//! Nothing here prints a value: the change is named by its keys (`auth-pass (redacted)`).

use crate::server::acl::user::hash_password;
use std::collections::{BTreeMap, BTreeSet};

/// What a sentinel's config says about logins, as they take effect.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Login {
    /// Each user that may log in: on/off and its password hashes (`nopass` as itself). The
    /// default user is there too (from `requirepass` when no `user default` line).
    users: BTreeMap<String, (bool, BTreeSet<String>)>,
    /// `sentinel auth-user <master>`.
    auth_user: Option<String>,
    /// `sentinel auth-pass <master>`.
    auth_pass: Option<String>,
    /// `sentinel sentinel-user`.
    sentinel_user: Option<String>,
    /// `sentinel sentinel-pass`.
    sentinel_pass: Option<String>,
}

/// A config line's words (Redis's quoting); None for blanks, comments and broken quotes.
fn words(line: &str) -> Option<Vec<String>> {
    let w = crate::resp::split_args(line.trim().as_bytes())?;
    if w.is_empty() || w[0].starts_with(b"#") {
        return None;
    }
    Some(
        w.into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned())
            .collect(),
    )
}

/// Whether a config line is a login line (of the master `master`, for the per-master ones).
pub fn is_login_line(line: &str, master: &str) -> bool {
    let Some(w) = words(line) else {
        return false;
    };
    match w[0].to_ascii_lowercase().as_str() {
        "requirepass" | "user" => true,
        "sentinel" => match w.get(1).map(|s| s.to_ascii_lowercase()).as_deref() {
            Some("sentinel-user" | "sentinel-pass") => true,
            Some("auth-user" | "auth-pass") => w.get(2).map(String::as_str) == Some(master),
            _ => false,
        },
        _ => false,
    }
}

/// Applies one user line's rules to `(on, hashes)` (the rules that change a login only).
fn apply_rules(entry: &mut (bool, BTreeSet<String>), rules: &[String]) {
    for r in rules {
        match r.as_str() {
            "on" => entry.0 = true,
            "off" => entry.0 = false,
            "reset" => *entry = (false, BTreeSet::new()),
            "resetpass" => entry.1.clear(),
            "nopass" => {
                entry.1.clear();
                entry.1.insert("nopass".into());
            }
            _ => match r.split_at(r.len().min(1)) {
                (">", p) => {
                    entry.1.remove("nopass");
                    entry.1.insert(hash_password(p.as_bytes()));
                }
                ("#", h) => {
                    entry.1.remove("nopass");
                    entry.1.insert(h.to_ascii_lowercase());
                }
                ("<", p) => {
                    entry.1.remove(&hash_password(p.as_bytes()));
                }
                ("!", h) => {
                    entry.1.remove(&h.to_ascii_lowercase());
                }
                _ => {}
            },
        }
    }
}

impl Login {
    /// The logins of a sentinel config's text, for the master `master`.
    pub fn of(text: &str, master: &str) -> Login {
        let mut l = Login::default();
        let mut requirepass = None;
        let mut default_line = false;
        for w in text.lines().filter_map(words) {
            let arg = |i: usize| w.get(i).cloned().filter(|v| !v.is_empty());
            match w[0].to_ascii_lowercase().as_str() {
                "requirepass" => requirepass = arg(1),
                "user" if w.len() >= 2 => {
                    // Each line starts from a reset user (off, no password), as Redis
                    // loads configured users, the default one included.
                    default_line |= w[1] == "default";
                    let mut entry = (false, BTreeSet::new());
                    apply_rules(&mut entry, &w[2..]);
                    l.users.insert(w[1].clone(), entry);
                }
                "sentinel" => match w.get(1).map(|s| s.to_ascii_lowercase()).as_deref() {
                    Some("sentinel-user") => l.sentinel_user = arg(2),
                    Some("sentinel-pass") => l.sentinel_pass = arg(2),
                    Some("auth-user") if w.get(2).map(String::as_str) == Some(master) => {
                        l.auth_user = arg(3)
                    }
                    Some("auth-pass") if w.get(2).map(String::as_str) == Some(master) => {
                        l.auth_pass = arg(3)
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        if !default_line {
            let pass = match &requirepass {
                Some(p) => hash_password(p.as_bytes()),
                None => "nopass".into(),
            };
            l.users.insert("default".into(), (true, [pass].into()));
        }
        // A user that is off logs in with nothing, whatever passwords it keeps.
        for (on, hashes) in l.users.values_mut() {
            if !*on {
                hashes.clear();
            }
        }
        l
    }

    /// The password the sentinel logs in to the servers with (`auth-pass`).
    pub fn auth_pass(&self) -> Option<&str> {
        self.auth_pass.as_deref()
    }

    /// What differs from `want`, named without values (`auth-pass`, `user admin`, ...).
    pub fn changes(&self, want: &Login) -> Vec<String> {
        let mut out = Vec::new();
        let pairs = [
            ("auth-user", &self.auth_user, &want.auth_user),
            ("auth-pass", &self.auth_pass, &want.auth_pass),
            ("sentinel-user", &self.sentinel_user, &want.sentinel_user),
            ("sentinel-pass", &self.sentinel_pass, &want.sentinel_pass),
        ];
        for (name, now, wanted) in pairs {
            if now != wanted {
                out.push(name.to_string());
            }
        }
        let names: BTreeSet<&String> = self.users.keys().chain(want.users.keys()).collect();
        for n in names {
            if self.users.get(n) != want.users.get(n) {
                out.push(format!("user {n}"));
            }
        }
        out
    }
}

/// `file` (a sentinel's config as it rewrote it) with its login lines replaced by those of
/// `rendered` (the inventory's), which go at the end: after the `sentinel monitor` line that
/// the per-master ones need. Everything else (myid, epochs, known sentinels) is kept.
pub fn replace_login_lines(file: &str, rendered: &str, master: &str) -> String {
    let mut out: String = file
        .lines()
        .filter(|l| !is_login_line(l, master))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str("# Login lines, replaced by redrepl deploy (a changed password)\n");
    for l in rendered.lines().filter(|l| is_login_line(l, master)) {
        out.push_str(l.trim());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_file_means_the_same_logins_as_the_rendered_one() {
        let h = hash_password(b"adm");
        let rendered = format!(
            "requirepass x\nuser default off\nuser admin reset on #{h} ~* +@all\n\
             sentinel monitor m 127.0.0.1 6379 2\nsentinel auth-user m sentinel\n\
             sentinel auth-pass m \"s pw\"\nsentinel sentinel-pass \"s pw\"\n"
        );
        // As Redis rewrites it: its own words, quoted values, other users' lines.
        let rewritten = format!(
            "sentinel monitor m 127.0.0.1 6380 2\nuser admin on sanitize-payload #{h} ~* &* \
             +@all\nuser default off nopass sanitize-payload resetchannels -@all\n\
             requirepass \"x\"\nsentinel auth-pass m \"s pw\"\nsentinel auth-user m sentinel\n\
             sentinel sentinel-pass \"s pw\"\n"
        );
        let (a, b) = (Login::of(&rendered, "m"), Login::of(&rewritten, "m"));
        assert!(a.changes(&b).is_empty(), "{:?}", a.changes(&b));
        let changed = Login::of(&rendered.replace("s pw", "new pw"), "m");
        assert_eq!(
            a.changes(&changed),
            vec!["auth-pass".to_string(), "sentinel-pass".to_string()]
        );
    }

    #[test]
    fn requirepass_is_the_default_users_password_unless_a_user_line_says_otherwise() {
        let plain = Login::of("requirepass old\n", "m");
        let rewritten = Login::of(
            &format!(
                "requirepass old\nuser default on #{} ~* &* +@all\n",
                hash_password(b"old")
            ),
            "m",
        );
        assert!(plain.changes(&rewritten).is_empty());
        let new = Login::of("requirepass new\n", "m");
        assert_eq!(plain.changes(&new), vec!["user default".to_string()]);
        assert!(
            Login::of("", "m")
                .changes(&Login::of("user default on nopass ~* +@all\n", "m"))
                .is_empty()
        );
    }

    #[test]
    fn only_the_login_lines_are_replaced_and_the_state_is_kept() {
        let file = "port 26379\nrequirepass \"old\"\nsentinel myid abc\n\
                    sentinel monitor m 10.0.0.1 6379 2\nsentinel auth-pass m old\n\
                    sentinel auth-pass other keep\nuser default on #00 ~*\n\
                    sentinel known-sentinel m 10.0.0.2 26379 def\n";
        let rendered = "requirepass new\nsentinel monitor m 10.0.0.9 6379 2\n\
                        sentinel auth-pass m new\n";
        let out = replace_login_lines(file, rendered, "m");
        assert!(!out.contains("old"), "{out}");
        assert!(out.contains("sentinel auth-pass other keep\n"), "{out}");
        assert!(
            out.contains("sentinel monitor m 10.0.0.1 6379 2\n"),
            "{out}"
        );
        assert!(out.contains("sentinel known-sentinel m 10.0.0.2 26379 def\n"));
        assert!(
            out.ends_with("requirepass new\nsentinel auth-pass m new\n"),
            "{out}"
        );
        assert!(
            Login::of(&out, "m")
                .changes(&Login::of(rendered, "m"))
                .is_empty()
        );
    }
}
