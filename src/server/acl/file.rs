//! Where users come from: `user` lines of redis.conf, or the ACL file (`aclfile`, ACL
//! LOAD / ACL SAVE), never both, with Redis 7.0's checks and error texts.

use super::user::{User, merge_selectors};
use super::{DEFAULT, RuleError, has_spaces};
use bytes::Bytes;
use std::collections::BTreeMap;

/// Checks one `user <name> rules...` line of redis.conf (Redis's ACLAppendUserForLoading)
/// and returns the name and its rules, selectors merged. `seen` are the names of the
/// lines before. Unknown commands are let through here (reported at start-up).
pub fn check_config_user(args: &[String], seen: &[Vec<String>]) -> Result<Vec<String>, String> {
    let name = &args[0];
    if seen.iter().any(|u| u.first() == Some(name)) {
        return Err(format!(
            "Error in user declaration '{name}': Duplicate user found. A user can only be defined once in config files"
        ));
    }
    let rules = merge_selectors(&args[1..]).map_err(|_| {
        // Redis reports the opening argument's index into the whole line.
        "Error in user declaration: Unmatched parenthesis in selector definition".to_string()
    })?;
    let mut probe = User::new(false);
    for (j, r) in rules.iter().enumerate() {
        match probe.apply(r, false) {
            Ok(()) | Err(RuleError::Unknown) => {}
            Err(e) => {
                // Redis names argv[j] of the whole line (`user`, the name, then rules).
                let all: Vec<&str> = std::iter::once("user")
                    .chain(args.iter().map(String::as_str))
                    .collect();
                let at = all.get(j).copied().unwrap_or("");
                // Never a password in a message.
                let at = if at.starts_with('>') || at.starts_with('<') {
                    "***"
                } else {
                    at
                };
                return Err(format!("Error in user declaration '{at}': {e}"));
            }
        }
    }
    let mut line = vec![name.clone()];
    line.extend(
        rules
            .into_iter()
            .map(|r| String::from_utf8_lossy(&r).into_owned()),
    );
    Ok(line)
}

/// Builds the users of redis.conf's `user` lines (Redis's ACLLoadConfiguredUsers); the
/// error is the log line Redis writes before exiting. `base` is the default user as the
/// rest of the configuration (requirepass) made it.
pub fn load_config_users(
    lines: &[Vec<String>],
    base: User,
    pubsub_all: bool,
) -> Result<BTreeMap<Bytes, User>, String> {
    let mut users = BTreeMap::new();
    users.insert(Bytes::from_static(DEFAULT), base);
    for line in lines {
        let name = line[0].as_bytes();
        if has_spaces(name) {
            return Err("Spaces not allowed in ACL usernames".into());
        }
        let mut u = match users.remove(name) {
            Some(mut existing) => {
                let _ = existing.apply(b"reset", pubsub_all);
                existing
            }
            None => User::new(pubsub_all),
        };
        for rule in &line[1..] {
            u.apply(rule.as_bytes(), pubsub_all).map_err(|e| {
                format!(
                    "Error loading ACL rule '{rule}' for the user named '{}': {e}",
                    line[0]
                )
            })?;
        }
        if !u.enabled {
            crate::notice!(
                "The user '{}' is disabled (there is no 'on' modifier in the user description). Make sure this is not a configuration error.",
                line[0]
            );
        }
        users.insert(Bytes::copy_from_slice(name), u);
    }
    Ok(users)
}

/// Parses an ACL file (Redis's ACLLoadFromFile): every line `user <name> rules...` or
/// blank. All errors are collected into one line, as Redis replies and logs them.
pub fn parse(
    text: &[u8],
    filename: &str,
    pubsub_all: bool,
) -> Result<BTreeMap<Bytes, User>, String> {
    let mut users: BTreeMap<Bytes, User> = BTreeMap::new();
    let mut errors = String::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let linenum = i + 1;
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!(
                "{filename}:{linenum} should start with user keyword followed by the username. "
            ));
            continue;
        }
        let name = argv[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{filename}:{linenum}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {linenum}. ",
                String::from_utf8_lossy(name)
            ));
            continue;
        }
        let mut u = User::new(pubsub_all);
        match merge_selectors(&argv[2..]) {
            Ok(rules) => {
                for r in rules {
                    match u.apply(r.trim_ascii(), pubsub_all) {
                        Ok(()) => {}
                        // A command name is no secret: Redis names the rule.
                        Err(e @ RuleError::Unknown) => errors.push_str(&format!(
                            "{filename}:{linenum}: Error in applying operation '{}': {e}. ",
                            String::from_utf8_lossy(r.trim_ascii())
                        )),
                        Err(e) => errors.push_str(&format!("{filename}:{linenum}: {e}. ")),
                    }
                }
            }
            Err(_) => errors.push_str(&format!(
                "{filename}:{linenum}: Unmatched parenthesis in selector definition."
            )),
        }
        users.insert(Bytes::copy_from_slice(name), u);
    }
    if !errors.is_empty() {
        errors.push_str(
            "WARNING: ACL errors detected, no change to the previously active ACL rules was performed",
        );
        return Err(errors);
    }
    users
        .entry(Bytes::from_static(DEFAULT))
        .or_insert_with(User::default_user);
    Ok(users)
}

/// Reads and parses the ACL file; the error is Redis's text.
pub fn load(path: &str, pubsub_all: bool) -> Result<BTreeMap<Bytes, User>, String> {
    let text = std::fs::read(path).map_err(|e| {
        let reason = e.to_string();
        let reason = reason
            .split(" (os error")
            .next()
            .unwrap_or(&reason)
            .to_string();
        format!("Error loading ACLs, opening file '{path}': {reason}")
    })?;
    parse(&text, path, pubsub_all)
}

/// The ACL file's text for `users` (one `user <name> <rules>` line each, sorted by name).
pub fn render<'a>(users: impl Iterator<Item = (&'a Bytes, &'a User)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, u) in users {
        out.extend_from_slice(b"user ");
        out.extend_from_slice(name);
        out.push(b' ');
        out.extend_from_slice(&u.describe());
        out.push(b'\n');
    }
    out
}

/// The `user` lines of redis.conf for `users` (CONFIG REWRITE): the name, then the rules as
/// ACL LIST shows them, one argument per space-separated word, as Redis writes them.
pub fn config_lines<'a>(users: impl Iterator<Item = (&'a Bytes, &'a User)>) -> Vec<Vec<String>> {
    users
        .map(|(name, u)| {
            let mut line = vec![String::from_utf8_lossy(name).into_owned()];
            line.extend(
                String::from_utf8_lossy(&u.describe())
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .map(String::from),
            );
            line
        })
        .collect()
}

/// Writes the ACL file atomically (temp file, then rename), as ACL SAVE.
pub fn save(path: &str, text: &[u8]) -> std::io::Result<()> {
    let tmp = format!(
        "{path}.tmp-{}-{}",
        std::process::id(),
        crate::server::clock::now_ms()
    );
    let r = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}
