//! Which commands the fuzzer runs: our server's COMMAND LIST intersected with redis-server's,
//! minus the ones that change server-wide state, block for good or differ by design, each
//! with its reason; subcommands of containers likewise; and how often each is picked.

use super::docs::{self, Doc};
use super::generate::{BLOCKING, Spec};
use super::reply::Reply;
use std::collections::HashMap;

/// Commands never generated, with the reason.
pub const EXCLUDED: &[(&str, &str)] = &[
    ("shutdown", "stops the server"),
    (
        "acl",
        "server-wide users (SETUSER/DELUSER change who may run what), random GENPASS output, ACL LOG ages and client addresses; compared side by side in tests/acl.rs",
    ),
    (
        "replicaof",
        "turns the server into a replica (server-wide state)",
    ),
    (
        "slaveof",
        "turns the server into a replica (server-wide state)",
    ),
    ("sync", "turns the connection into a replication stream"),
    ("psync", "turns the connection into a replication stream"),
    (
        "replconf",
        "replication handshake: meaningful only on a replica link",
    ),
    ("failover", "needs replicas; changes the server's role"),
    ("monitor", "turns the connection into a monitor stream"),
    ("subscribe", SUBSCRIBE_REASON),
    ("psubscribe", SUBSCRIBE_REASON),
    ("ssubscribe", SUBSCRIBE_REASON),
    ("unsubscribe", UNSUBSCRIBE_REASON),
    ("punsubscribe", UNSUBSCRIBE_REASON),
    ("sunsubscribe", UNSUBSCRIBE_REASON),
    ("quit", "closes the connection"),
    (
        "bgsave",
        "forks; its reply depends on timing (a save may still be running)",
    ),
    (
        "bgrewriteaof",
        "forks; its reply depends on timing (a rewrite or save may still be running)",
    ),
    (
        "command",
        "COMMAND INFO/DOCS content is fixed on branch table; COUNT/LIST differ by design (redrepl's table is a subset)",
    ),
    (
        "slowlog",
        "entries carry times and durations; the log is server-wide (tests/introspection.rs)",
    ),
    (
        "latency",
        "events and histograms are timings; server-wide (tests/introspection.rs)",
    ),
    (
        "memory",
        "allocator figures; USAGE is an estimate of Redis's (tests/introspection.rs)",
    ),
    (
        "lolwut",
        "random art (tests/introspection.rs checks its shape)",
    ),
    (
        "migrate",
        "connects to other servers and moves keys away (tests/introspection.rs runs it \
         against redis-server)",
    ),
];

/// Why the subscribe commands are not fuzzed (tests/pubsub.rs compares them with redis-server).
pub const SUBSCRIBE_REASON: &str = "puts the connection in subscriber mode (RESP2 then refuses \
    every other command): a connection mode change";

/// Why the unsubscribe commands are not fuzzed (tests/pubsub.rs compares them).
pub const UNSUBSCRIBE_REASON: &str = "answers once per channel named (N replies to one command), \
    which the fuzzer's one-reply-per-command pairing cannot follow";

/// Subcommands generated for each container (the others: see `SUB_EXCLUDED_REASON`).
pub const SUBCOMMANDS: &[(&str, &[&str])] = &[
    (
        "client",
        &[
            "client|getname",
            "client|setname",
            "client|id",
            "client|info",
            "client|list",
            "client|unblock",
        ],
    ),
    ("config", &["config|get"]),
    (
        "cluster",
        &[
            "cluster|info",
            "cluster|keyslot",
            "cluster|nodes",
            "cluster|slots",
            "cluster|shards",
            "cluster|myid",
            "cluster|countkeysinslot",
            "cluster|getkeysinslot",
            "cluster|help",
        ],
    ),
    (
        "module",
        &[
            "module|list",
            "module|load",
            "module|loadex",
            "module|unload",
            "module|help",
        ],
    ),
    (
        "xgroup",
        &[
            "xgroup|create",
            "xgroup|createconsumer",
            "xgroup|delconsumer",
            "xgroup|destroy",
            "xgroup|setid",
            "xgroup|help",
        ],
    ),
    (
        "xinfo",
        &[
            "xinfo|stream",
            "xinfo|groups",
            "xinfo|consumers",
            "xinfo|help",
        ],
    ),
    (
        "script",
        &[
            "script|exists",
            "script|flush",
            "script|kill",
            "script|load",
            "script|help",
        ],
    ),
    (
        "function",
        &[
            "function|delete",
            "function|dump",
            "function|flush",
            "function|kill",
            "function|list",
            "function|load",
            "function|restore",
            "function|stats",
            "function|help",
        ],
    ),
    (
        "object",
        &[
            "object|encoding",
            "object|freq",
            "object|idletime",
            "object|refcount",
            "object|help",
        ],
    ),
];

/// Why the other subcommands are left out.
pub const SUB_EXCLUDED_REASON: &str = "CLIENT KILL/PAUSE/UNPAUSE/REPLY/NO-EVICT change other \
    clients or the reply stream; CONFIG SET/REWRITE/RESETSTAT change server-wide state; HELP \
    texts list subcommands redrepl does not have yet; TRACKING/CACHING/GETREDIR and the like \
    are not implemented (not in this issue); SCRIPT DEBUG YES|SYNC turns the next EVAL into a \
    debugging session (a connection mode change; tests/scripting.rs)";

/// Why DEBUG is limited to DIGEST, DIGEST-VALUE and (rarely) RELOAD.
pub const DEBUG_REASON: &str = "DEBUG SLEEP/SEGFAULT/SET-ACTIVE-EXPIRE/POPULATE... change or stop \
    the server; DEBUG OBJECT is fixed on branch data; RELOAD round-trips the fuzzed data through RDB";

fn names(r: &Reply) -> Vec<String> {
    match r {
        Reply::Array(xs) => xs
            .iter()
            .filter_map(|x| x.text())
            .map(|b| String::from_utf8_lossy(b).to_ascii_lowercase())
            .collect(),
        _ => Vec::new(),
    }
}

fn weight(full: &str) -> usize {
    match full {
        "flushall" | "flushdb" | "save" => 1,
        "swapdb" | "select" | "move" | "debug" => 3,
        f if BLOCKING.contains(&f) => 2,
        _ => 20,
    }
}

/// The specs from both servers' `COMMAND LIST` replies and redis-server's `COMMAND DOCS`.
pub fn specs(ours_list: &Reply, theirs_list: &Reply, theirs_docs: &Reply) -> Vec<Spec> {
    let ours = names(ours_list);
    let theirs = names(theirs_list);
    let docs: HashMap<String, Doc> = docs::all(theirs_docs);
    let mut out = Vec::new();
    let mut common: Vec<&String> = ours.iter().filter(|n| theirs.contains(n)).collect();
    common.sort();
    for name in common {
        if EXCLUDED.iter().any(|(n, _)| n == name) {
            continue;
        }
        let Some(doc) = docs.get(name.as_str()) else {
            continue;
        };
        if let Some((_, subs)) = SUBCOMMANDS.iter().find(|(c, _)| c == name) {
            for sub in *subs {
                if let Some(d) = doc.subcommands.get(*sub) {
                    out.push(Spec {
                        words: sub.split('|').map(|w| w.to_ascii_uppercase()).collect(),
                        full: sub.to_string(),
                        doc: d.clone(),
                        weight: 5,
                    });
                }
            }
            continue;
        }
        out.push(Spec {
            words: vec![name.to_ascii_uppercase()],
            full: name.clone(),
            doc: doc.clone(),
            weight: weight(name),
        });
    }
    out
}
