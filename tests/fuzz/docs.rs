//! The argument trees of COMMAND DOCS (as redis-server 7.0 reports them): where the fuzzer
//! takes each command's option words, argument kinds and subcommands from.

use super::reply::Reply;
use std::collections::HashMap;

/// One argument of a command, as in Redis's command JSON.
#[derive(Clone, Debug, Default)]
pub struct Arg {
    /// `name` (e.g. `count`, `numkeys`, `seconds`): picks the value pool.
    pub name: String,
    /// `type`: key, string, integer, double, pattern, unix-time, pure-token, oneof, block.
    pub kind: String,
    /// The option word before the value (`EX`, `LIMIT`, ...), when there is one.
    pub token: Option<String>,
    /// May be left out.
    pub optional: bool,
    /// May repeat.
    pub multiple: bool,
    /// The token repeats with each value.
    pub multiple_token: bool,
    /// The alternatives (oneof) or parts (block).
    pub children: Vec<Arg>,
}

/// A command's (or subcommand's) documentation.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    /// `group`: string, list, set, sorted-set, hash, generic, connection, server, ...
    pub group: String,
    /// The arguments after the command name (and subcommand).
    pub args: Vec<Arg>,
    /// Subcommands by lower-case full name (`client|list`).
    pub subcommands: HashMap<String, Doc>,
}

fn text(r: &Reply) -> String {
    r.text()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// The key/value pairs of a RESP2 flattened map.
fn pairs(r: &Reply) -> Vec<(String, &Reply)> {
    match r {
        Reply::Array(xs) => xs
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (text(&c[0]), &c[1]))
            .collect(),
        _ => Vec::new(),
    }
}

fn arg(r: &Reply) -> Arg {
    let mut a = Arg::default();
    for (k, v) in pairs(r) {
        match k.as_str() {
            "name" => a.name = text(v),
            "type" => a.kind = text(v),
            "token" => a.token = Some(text(v)),
            "flags" => {
                if let Reply::Array(fs) = v {
                    for f in fs {
                        match text(f).as_str() {
                            "optional" => a.optional = true,
                            "multiple" => a.multiple = true,
                            "multiple_token" => a.multiple_token = true,
                            _ => {}
                        }
                    }
                }
            }
            "arguments" => a.children = args(v),
            _ => {}
        }
    }
    a
}

fn args(r: &Reply) -> Vec<Arg> {
    match r {
        Reply::Array(xs) => xs.iter().map(arg).collect(),
        _ => Vec::new(),
    }
}

fn doc(r: &Reply) -> Doc {
    let mut d = Doc::default();
    for (k, v) in pairs(r) {
        match k.as_str() {
            "group" => d.group = text(v),
            "arguments" => d.args = args(v),
            "subcommands" => d.subcommands = all(v),
            _ => {}
        }
    }
    d
}

/// Every command of a `COMMAND DOCS` reply, by lower-case name.
pub fn all(r: &Reply) -> HashMap<String, Doc> {
    pairs(r)
        .into_iter()
        .map(|(name, d)| (name.to_ascii_lowercase(), doc(d)))
        .collect()
}
