//! Never start a master over better replicas.
//!
//! A master that is down comes back with what its dump holds (or empty without one), and its
//! replicas then full-sync from it and drop what they have: the failure Redis's docs warn
//! about for masters without persistence. Before anything starts the inventory's master, this
//! compares the history its dump would bring back (`repl-id` / `repl-offset`, read from the
//! file's header on the node) with what each replica holds (`master_replid` /
//! `master_repl_offset` from INFO, or its own dump's header when its server is down). A replica
//! holds more when it is further along the same history, or when the master has no history
//! (no dump, no repl-id, a different replication ID) while the replica has some.
//!
//! A master with the append-only file on (`persistence: aof | both`) loads its AOF, not its
//! dump, and the AOF holds every acknowledged write but at most the last second
//! (`appendfsync everysec`): such a master comes back with its data, which is the case Redis's
//! docs call safe. It is therefore treated as data-bearing as soon as its AOF manifest names
//! a file, whatever its dump says (the AOF's base carries no replication ID to compare, so
//! its replicas full-sync from it and give up at most that last second). Without a manifest
//! (AOF just turned on, files removed) the dump is checked as for any master.

use crate::cli::cluster::Cluster;
use crate::cli::dump_header::{self, Dump, History};
use crate::cli::node::{NodeConn, NodeError};
use crate::cli::ssh::shell_quote;

/// What one replica holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// The replica's name.
    pub node: String,
    /// Its history (from INFO when it runs, else from its dump).
    pub history: History,
    /// Its previous replication ID (`master_replid2`, running servers only).
    pub replid2: Option<String>,
    /// Whether its server is running (a stopped one cannot be promoted until started).
    pub running: bool,
}

/// Starting the master would lose what its replicas hold.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.message())]
pub struct MasterLost {
    /// The master's name.
    pub master: String,
    /// Its dump file on the node.
    pub dump_path: String,
    /// What its dump holds.
    pub dump: Dump,
    /// The replicas that hold more, most advanced first.
    pub ahead: Vec<Holding>,
    /// The inventory file, for the advice.
    pub inventory: String,
}

impl MasterLost {
    /// The most advanced replica: the one to promote.
    pub fn best(&self) -> &Holding {
        &self.ahead[0]
    }

    /// What is wrong, with the figures.
    pub fn figures(&self) -> String {
        let master = match &self.dump {
            Dump::History(h) => format!("its dump {} holds offset {}", self.dump_path, h.offset),
            other => format!("{} holds {other}", self.dump_path),
        };
        let replicas: Vec<String> = self
            .ahead
            .iter()
            .map(|h| {
                format!(
                    "{} holds offset {}{}",
                    h.node,
                    h.history.offset,
                    if h.running {
                        ""
                    } else {
                        " (in its dump; server down)"
                    }
                )
            })
            .collect();
        format!(
            "the master {} is down and starting it would wipe its replicas: {master} \
             (replication ID {}), while {} (replication ID {})",
            self.master,
            match &self.dump {
                Dump::History(h) => h.replid.as_str(),
                _ => "none",
            },
            replicas.join(", "),
            self.best().history.replid
        )
    }

    /// The safe next step(s).
    pub fn advice(&self) -> String {
        let best = &self.best().node;
        let deploy = format!(
            "`redrepl deploy {} --promote-if-master-lost`",
            self.inventory
        );
        if self.best().running {
            format!(
                "make the most advanced replica the master: `redrepl promote {} {best} --force` \
                 (or {deploy}, which does that and carries on)",
                self.inventory
            )
        } else {
            format!("start the replicas from their own dumps and promote {best}: {deploy}")
        }
    }

    fn message(&self) -> String {
        format!(
            "{}; nothing was changed. Safe next step: {}",
            self.figures(),
            self.advice()
        )
    }
}

/// Whether a replica holding `h` has more than a master coming back with `dump`.
pub fn is_ahead(dump: &Dump, h: &Holding) -> bool {
    if h.history.offset <= 0 {
        return false;
    }
    match dump {
        Dump::History(d)
            if d.replid == h.history.replid || h.replid2.as_deref() == Some(&d.replid) =>
        {
            h.history.offset > d.offset
        }
        // No history on the master's side, or another one: any history is more.
        _ => true,
    }
}

/// The node's dump file, as its config names it.
pub fn dump_path(c: &NodeConn) -> String {
    format!("{}/{}", c.node.dir.trim_end_matches('/'), c.node.dbfilename)
}

/// Reads the header of the node's dump.
pub async fn read_dump(c: &NodeConn) -> Result<Dump, NodeError> {
    let p = shell_quote(&dump_path(c));
    let cmd = format!(
        "if [ -f {p} ]; then echo dump; head -c {} {p}; else echo none; fi",
        dump_header::HEADER_BYTES
    );
    let out = c.sh_ok(&cmd).await?.stdout;
    Ok(match out.strip_prefix(b"dump\n") {
        Some(header) => dump_header::parse(header),
        None => Dump::Missing,
    })
}

/// The node's AOF manifest (Redis's default `appenddirname` and `appendfilename`, which the
/// template keeps).
pub fn aof_manifest_path(c: &NodeConn) -> String {
    format!(
        "{}/appendonlydir/appendonly.aof.manifest",
        c.node.dir.trim_end_matches('/')
    )
}

/// Whether the node's AOF manifest exists and names a base or an incr file: a server started
/// with `appendonly yes` loads that instead of its dump.
pub async fn has_aof(c: &NodeConn) -> Result<bool, NodeError> {
    let p = shell_quote(&aof_manifest_path(c));
    let cmd = format!("if [ -f {p} ]; then grep -c '^file ' {p} || true; else echo 0; fi");
    let out = c.sh_ok(&cmd).await?.stdout;
    let n: u64 = String::from_utf8_lossy(&out).trim().parse().unwrap_or(0);
    Ok(n > 0)
}

/// What a replica holds: INFO replication when its server answers, else its dump. `None`
/// when it holds no history at all.
pub async fn holding(c: &NodeConn, pw: Option<&str>) -> Result<Option<Holding>, NodeError> {
    match c.redis(pw).await {
        Ok(mut link) => {
            let info = link.info("replication").await.map_err(|e| c.redis_err(e))?;
            Ok(Some(Holding {
                node: c.name().to_string(),
                history: History {
                    replid: info.get("master_replid").unwrap_or("").to_string(),
                    offset: info.offset(),
                },
                replid2: info.get("master_replid2").map(str::to_string),
                running: true,
            }))
        }
        Err(NodeError::NotRunning { .. }) => Ok(match read_dump(c).await? {
            Dump::History(history) => Some(Holding {
                node: c.name().to_string(),
                history,
                replid2: None,
                running: false,
            }),
            _ => None,
        }),
        Err(e) => Err(e),
    }
}

/// Checks that the inventory's master (whose server is down) may be started: `Ok(Err(..))`
/// when a replica holds more. `conns` is aligned with `cluster.nodes`; unreachable replicas
/// (`None`) are not counted. `inventory` is the path shown in the advice.
pub async fn check(
    cluster: &Cluster,
    conns: &[Option<&NodeConn>],
    pw: Option<&str>,
    inventory: &str,
) -> Result<Result<(), MasterLost>, NodeError> {
    let mi = cluster
        .nodes
        .iter()
        .position(|n| n.replicaof.is_none())
        .expect("a validated cluster has a master");
    let Some(master) = conns[mi] else {
        return Ok(Ok(()));
    };
    if master.node.persistence.is_some_and(|p| p.aof()) && has_aof(master).await? {
        return Ok(Ok(()));
    }
    let dump = read_dump(master).await?;
    let replicas = conns
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != mi)
        .filter_map(|(_, c)| *c)
        .map(|c| holding(c, pw));
    let mut ahead = Vec::new();
    for h in futures::future::join_all(replicas).await {
        if let Some(h) = h?
            && is_ahead(&dump, &h)
        {
            ahead.push(h);
        }
    }
    if ahead.is_empty() {
        return Ok(Ok(()));
    }
    // Most advanced first; among equals, a running server (it can be promoted at once).
    ahead.sort_by_key(|h| (std::cmp::Reverse(h.history.offset), !h.running));
    Ok(Err(MasterLost {
        master: master.name().to_string(),
        dump_path: dump_path(master),
        dump,
        ahead,
        inventory: inventory.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(replid: &str, offset: i64, replid2: Option<&str>) -> Holding {
        Holding {
            node: "r".into(),
            history: History {
                replid: replid.into(),
                offset,
            },
            replid2: replid2.map(str::to_string),
            running: true,
        }
    }

    #[test]
    fn a_replica_is_ahead_when_it_holds_more_of_the_same_or_any_history_over_none() {
        let d = Dump::History(History {
            replid: "A".into(),
            offset: 100,
        });
        assert!(!is_ahead(&d, &h("A", 100, None)));
        assert!(!is_ahead(&d, &h("A", 90, None)));
        assert!(is_ahead(&d, &h("A", 101, None)));
        // The master restarted (new ID, the old one as replid2) and wrote more.
        assert!(is_ahead(&d, &h("B", 150, Some("A"))));
        assert!(!is_ahead(&d, &h("B", 100, Some("A"))));
        // Another history: anything is more.
        assert!(is_ahead(&d, &h("C", 5, None)));
        for none in [Dump::Missing, Dump::NoHistory, Dump::Unreadable("x".into())] {
            assert!(is_ahead(&none, &h("A", 1, None)));
            assert!(!is_ahead(&none, &h("A", 0, None)));
        }
    }
}
