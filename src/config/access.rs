//! CONFIG GET and CONFIG SET on a [`Config`], by directive name, through the table.
//! The server command (`src/server/commands/config.rs`) only adds the wire and side effects.

use super::Config;
use super::table::{self, SetCtx};

/// Why CONFIG SET refused; `Display` is Redis's error text without the `ERR ` prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// No such directive.
    #[error("Unknown option or number of arguments for CONFIG SET - '{0}'")]
    Unknown(String),
    /// The directive can only be set at start-up.
    #[error("CONFIG SET failed (possibly related to argument '{0}') - can't set immutable config")]
    Immutable(String),
    /// A protected directive (`dir`, `dbfilename`) that `enable-protected-configs` does not
    /// allow this client to change.
    #[error("CONFIG SET failed (possibly related to argument '{0}') - can't set protected config")]
    Protected(String),
    /// The same directive twice in one CONFIG SET.
    #[error("CONFIG SET failed (possibly related to argument '{0}') - duplicate parameter")]
    Duplicate(String),
    /// A bad value (the reason never contains the value).
    #[error("CONFIG SET failed (possibly related to argument '{name}') - {reason}")]
    Invalid {
        /// The directive.
        name: String,
        /// Redis's reason.
        reason: String,
    },
}

/// Implemented directives Redis 7.0 marks HIDDEN_CONFIG (its test hooks): CONFIG GET and SET
/// by exact name work, a pattern such as `*` never lists them.
const HIDDEN: &[&str] = &["key-load-delay", "loading-process-events-interval-bytes"];

/// Every name CONFIG GET can show (canonical names, aliases, ignored directives), with the
/// value for `c`.
fn all_names() -> impl Iterator<Item = &'static str> {
    table::directives()
        .iter()
        .filter(|d| !HIDDEN.contains(&d.name))
        .flat_map(|d| std::iter::once(d.name).chain(d.alias))
        .chain(table::OTHERS.iter().filter(|o| !o.hidden).map(|o| o.name))
}

/// A directive CONFIG GET and CONFIG SET know (implemented or not), by name.
fn lookup_config_other(name: &str) -> Option<&'static table::Other> {
    table::lookup_other(name).filter(|o| !o.hidden)
}

/// The value of directive `name` (name, alias or ignored directive) as CONFIG GET shows it.
pub fn get_value(c: &Config, name: &str) -> Option<String> {
    if let Some(d) = table::lookup(name) {
        return Some((d.get)(c));
    }
    lookup_config_other(name).map(|o| match c.other.get(o.name) {
        Some(args) => args.join(" "),
        None => o.default.to_string(),
    })
}

/// CONFIG GET: the (name, value) pairs matching any of `patterns` (globs, case-insensitive),
/// each name once (compared case-insensitively, as Redis's reply dictionary), in table order.
/// An exact (non-glob) name is answered as the client typed it (`Maxmemory`), as Redis does.
pub fn get(c: &Config, patterns: &[&[u8]]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let push = |shown: String, name: &str, out: &mut Vec<(String, String)>| {
        if !out.iter().any(|(n, _)| n.eq_ignore_ascii_case(&shown))
            && let Some(v) = get_value(c, name)
        {
            out.push((shown, v));
        }
    };
    for p in patterns {
        if !p.iter().any(|b| matches!(b, b'*' | b'?' | b'[')) {
            let typed = String::from_utf8_lossy(p).into_owned();
            let name = typed.to_ascii_lowercase();
            push(typed, &name, &mut out);
            continue;
        }
        for name in all_names() {
            if crate::server::glob::glob_match(p, name.as_bytes(), true) {
                push(name.to_string(), name, &mut out);
            }
        }
    }
    out
}

/// CONFIG SET: applies all (name, value) pairs to a copy of `c` and returns it, or the
/// first error and no change at all. Returns also the canonical names that were set.
/// `allow_protected`: whether this client may change [`table::PROTECTED`] directives.
pub fn set(
    c: &Config,
    pairs: &[(String, String)],
    allow_protected: bool,
) -> Result<(Config, Vec<&'static str>), SetError> {
    let mut names: Vec<&'static str> = Vec::new();
    for (name, _) in pairs {
        let canonical = match (table::lookup(name), lookup_config_other(name)) {
            (Some(d), _) if !d.mutable => return Err(SetError::Immutable(name.clone())),
            (Some(d), _) if !allow_protected && table::PROTECTED.contains(&d.name) => {
                return Err(SetError::Protected(name.clone()));
            }
            (Some(d), _) => d.name,
            (None, Some(o)) if o.immutable => return Err(SetError::Immutable(name.clone())),
            (None, Some(o)) => o.name,
            (None, None) => return Err(SetError::Unknown(name.clone())),
        };
        if names.contains(&canonical) {
            return Err(SetError::Duplicate(name.clone()));
        }
        names.push(canonical);
    }
    let mut next = c.clone();
    let mut ctx = SetCtx::default();
    for ((name, value), canonical) in pairs.iter().zip(&names) {
        let split = || {
            let v: Vec<String> = value.split_whitespace().map(String::from).collect();
            if v.is_empty() { vec![String::new()] } else { v }
        };
        match table::lookup(canonical) {
            Some(d) => {
                let args = if d.multi_arg() {
                    split()
                } else {
                    vec![value.clone()]
                };
                (d.set)(&mut next, &args, &mut ctx).map_err(|reason| SetError::Invalid {
                    name: name.clone(),
                    reason,
                })?;
            }
            None => {
                let args = split();
                if let Some(o) = table::lookup_other(canonical) {
                    let invalid = |reason| SetError::Invalid {
                        name: name.clone(),
                        reason,
                    };
                    o.check(&args).map_err(invalid)?;
                    if let Some(reason) = o.refusal(&args) {
                        return Err(invalid(reason));
                    }
                }
                next.other.insert(canonical.to_string(), args);
            }
        }
    }
    Ok((next, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn get_formats_like_redis() {
        let c = Config::default();
        let g = get(
            &c,
            &[
                b"save",
                b"maxmemory",
                b"BIND",
                b"appendonly",
                b"nosuch",
                b"repl-backlog-size",
                b"MaxMemory",
            ],
        );
        assert_eq!(
            g,
            pairs(&[
                ("save", "3600 1 300 100 60 10000"),
                ("maxmemory", "0"),
                ("BIND", "* -::*"),
                ("appendonly", "no"),
                ("repl-backlog-size", "1048576")
            ])
        );
        let g = get(&c, &[b"*read-only*"]);
        assert_eq!(
            g,
            pairs(&[("replica-read-only", "yes"), ("slave-read-only", "yes")])
        );
        let g = get(&c, &[b"client-output-buffer-limit"]);
        assert_eq!(
            g[0].1,
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        let all = get(&c, &[b"*"]);
        assert_eq!(all.len(), 192, "as many as redis-server 7.0.15 shows");
        assert!(!all.iter().any(|(n, _)| n == "user"));
    }

    #[test]
    fn set_is_all_or_nothing_with_redis_errors() {
        let c = Config::default();
        let (n, names) = set(
            &c,
            &pairs(&[
                ("maxmemory", "1gb"),
                ("save", "10 1 20 2"),
                ("slave-read-only", "no"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(n.maxmemory, 1 << 30);
        assert_eq!(n.save, vec![(10, 1), (20, 2)]);
        assert!(!n.replica_read_only);
        assert_eq!(names, vec!["maxmemory", "save", "replica-read-only"]);
        let (n, _) = set(&c, &pairs(&[("save", "")]), true).unwrap();
        assert!(n.save.is_empty());
        let e = set(
            &c,
            &pairs(&[("maxmemory", "1gb"), ("protected-mode", "maybe")]),
            true,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'"
        );
        assert_eq!(
            set(&c, &pairs(&[("foo", "1")]), true)
                .unwrap_err()
                .to_string(),
            "Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            set(&c, &pairs(&[("daemonize", "yes")]), true)
                .unwrap_err()
                .to_string(),
            "CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"
        );
        assert!(matches!(
            set(&c, &pairs(&[("hz", "5"), ("hz", "6")]), true),
            Err(SetError::Duplicate(_))
        ));
        let (n, _) = set(
            &c,
            &pairs(&[("lazyfree-lazy-eviction", "yes"), ("requirepass", "x y")]),
            true,
        )
        .unwrap();
        assert_eq!(get_value(&n, "lazyfree-lazy-eviction").unwrap(), "yes");
        assert_eq!(n.requirepass.as_deref(), Some(&b"x y"[..]));
    }

    #[test]
    fn unsupported_values_immutable_and_hidden_directives_are_refused() {
        let c = Config::default();
        let err = |name: &str, value: &str| set(&c, &pairs(&[(name, value)]), true).unwrap_err();
        assert_eq!(
            err("replica-ignore-maxmemory", "no").to_string(),
            "CONFIG SET failed (possibly related to argument 'replica-ignore-maxmemory') - \
             replica-ignore-maxmemory is not supported by redrepl (yet) except with its default \
             'yes': data model: a replica never evicts keys by itself, only the master's DELs \
             remove them"
        );
        for (name, value) in [
            ("tls-cluster", "yes"),
            ("tls-ciphers", "HIGH"),
            ("shutdown-on-sigterm", "nosave"),
            ("replica-ignore-maxmemory", "no"),
        ] {
            let e = err(name, value).to_string();
            assert!(
                e.contains(&format!("'{name}'")) && e.contains("not supported by redrepl (yet)"),
                "{e}"
            );
        }
        // The default value (in any spelling Redis takes) is accepted.
        for (name, value) in [
            ("appendonly", "NO"),
            ("tls-cluster", "no"),
            ("shutdown-timeout", "10"),
        ] {
            assert!(
                set(&c, &pairs(&[(name, value)]), true).is_ok(),
                "{name} {value}"
            );
        }
        assert_eq!(
            err("cluster-enabled", "no"),
            SetError::Immutable("cluster-enabled".into())
        );
        assert_eq!(err("user", "default off"), SetError::Unknown("user".into()));
        assert_eq!(
            err("rename-command", "CONFIG x"),
            SetError::Unknown("rename-command".into())
        );
        assert!(get(&c, &[b"user", b"loadmodule"]).is_empty());
        // Protected directives need enable-protected-configs.
        assert_eq!(
            set(&c, &pairs(&[("hz", "5"), ("dir", "/tmp")]), false)
                .unwrap_err()
                .to_string(),
            "CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
        );
        assert!(set(&c, &pairs(&[("dbfilename", "x.rdb")]), true).is_ok());
        // Tuning knobs stay settable.
        assert!(
            set(
                &c,
                &pairs(&[("activerehashing", "no"), ("lazyfree-lazy-expire", "yes")]),
                true
            )
            .is_ok()
        );
    }
}

/// Every directive's effective value for the config text `text` (name → value as CONFIG
/// GET shows it), for comparing configs by meaning rather than by bytes: a file CONFIG
/// REWRITE changed (marker line, appended directives, other quoting) and the file a template
/// renders are equal here when they configure the same server.
pub fn effective(
    text: &str,
    origin: &str,
) -> Result<std::collections::BTreeMap<String, String>, super::ConfigError> {
    let loaded = super::load_str(text, origin)?;
    Ok(get(&loaded.config, &[b"*"]).into_iter().collect())
}

#[cfg(test)]
mod effective_tests {
    #[test]
    fn rewritten_and_rendered_files_compare_equal_by_meaning() {
        let rendered = "port 7000\ndir \"/tmp\"\nreplicaof 10.0.0.1 6379\n";
        let mut c = crate::config::load_str(rendered, "r").unwrap().config;
        c.replicaof = Some(("10.0.0.2".into(), 6379));
        c.masterauth = Some(b"pw".to_vec());
        let rewritten = crate::config::rewrite::rewrite_text(rendered, &c);
        let rerendered = "port 7000\ndir /tmp\nmasterauth pw\nreplicaof 10.0.0.2 6379\n";
        assert_ne!(rewritten, rerendered);
        assert_eq!(
            super::effective(&rewritten, "a").unwrap(),
            super::effective(rerendered, "b").unwrap()
        );
        assert_ne!(
            super::effective(rendered, "a").unwrap(),
            super::effective(rerendered, "b").unwrap()
        );
    }
}
