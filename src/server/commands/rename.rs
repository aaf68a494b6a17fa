//! `rename-command` as Redis 7.0 applies it: each line moves a command to a new name (or,
//! with `""`, removes it) in the table clients use; ACL rules keep the original names.
//! The renames are installed once at start-up ([`install`]); [`resolve`] maps a requested
//! name to the table's, [`is_gone`] tells what is no longer reachable under its own name
//! and [`is_disabled`] what COMMAND LIST / COUNT leave out.

use super::meta;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Requested name (lower case) → original name, for every name that changed; and the
/// originals no longer reachable under their own name.
#[derive(Debug, Default)]
struct Renames {
    to_original: HashMap<Vec<u8>, &'static str>,
    gone: Vec<&'static str>,
    /// Originals with no name left (`rename-command x ""`).
    disabled: Vec<&'static str>,
}

static RENAMES: OnceLock<Renames> = OnceLock::new();

/// The command names after applying `lines` in order: current name → original.
fn apply(lines: &[(String, String)]) -> Result<HashMap<Vec<u8>, &'static str>, &'static str> {
    let mut names: HashMap<Vec<u8>, &'static str> = meta::entries()
        .filter(|m| !m.name.contains('|'))
        .map(|m| (m.name.as_bytes().to_vec(), m.name))
        .collect();
    for (from, to) in lines {
        let original = names
            .remove(from.to_ascii_lowercase().as_bytes())
            .ok_or("No such command in rename-command")?;
        if !to.is_empty() {
            let key = to.to_ascii_lowercase().into_bytes();
            if names.contains_key(&key) {
                return Err("Target command name already exists");
            }
            names.insert(key, original);
        }
    }
    Ok(names)
}

/// Checks one more `rename-command from to` line after `before` (the config loader's
/// check, with Redis's error texts).
pub fn check(before: &[(String, String)], from: &str, to: &str) -> Result<(), &'static str> {
    let mut all = before.to_vec();
    all.push((from.to_string(), to.to_string()));
    apply(&all).map(|_| ())
}

/// Installs the renames of the configuration (once, at start-up).
pub fn install(lines: &[(String, String)]) {
    if lines.is_empty() {
        return;
    }
    let Ok(names) = apply(lines) else {
        return;
    };
    let mut r = Renames::default();
    for (name, &original) in &names {
        if name.as_slice() != original.as_bytes() {
            r.to_original.insert(name.clone(), original);
        }
    }
    r.gone = meta::entries()
        .filter(|m| !m.name.contains('|'))
        .map(|m| m.name)
        .filter(|n| names.get(n.as_bytes()) != Some(n))
        .collect();
    r.disabled = r
        .gone
        .iter()
        .copied()
        .filter(|g| !names.values().any(|o| o == g))
        .collect();
    let _ = RENAMES.set(r);
}

/// The table name for a requested lower-case name: the original of a renamed command,
/// None for a name renamed away or disabled, else the name itself.
pub fn resolve(lower: &[u8]) -> Option<&[u8]> {
    let Some(r) = RENAMES.get() else {
        return Some(lower);
    };
    if let Some(original) = r.to_original.get(lower) {
        return Some(original.as_bytes());
    }
    if r.gone.iter().any(|g| g.as_bytes() == lower) {
        return None;
    }
    Some(lower)
}

/// Whether a command (original name) can no longer be reached under its own name.
pub fn is_gone(name: &str) -> bool {
    RENAMES.get().is_some_and(|r| r.gone.contains(&name))
}

/// Whether a command (original name) was removed (`rename-command x ""`): COMMAND LIST
/// and COUNT leave it out; a renamed one is listed under its original name, as Redis.
pub fn is_disabled(name: &str) -> bool {
    RENAMES.get().is_some_and(|r| r.disabled.contains(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn renames_apply_in_order_with_redis_errors() {
        let names = apply(&l(&[("CONFIG", "myconf"), ("flushall", "")])).unwrap();
        assert_eq!(names.get(&b"myconf"[..]), Some(&"config"));
        assert!(!names.contains_key(&b"config"[..]));
        assert!(!names.contains_key(&b"flushall"[..]));
        assert_eq!(
            check(&[], "nope", "x"),
            Err("No such command in rename-command")
        );
        assert_eq!(
            check(&[], "get", "set"),
            Err("Target command name already exists")
        );
        assert_eq!(
            check(&l(&[("get", "")]), "get", "x"),
            Err("No such command in rename-command")
        );
        assert_eq!(check(&l(&[("get", "g2")]), "g2", "g3"), Ok(()));
    }
}
