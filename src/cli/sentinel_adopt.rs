//! Before deploy renders anything it asks the sentinels who the master is. When they failed
//! over since the inventory was written, the inventory follows them (edited in place as
//! promote does), never the other way round: switching the cluster back would throw away
//! the writes the new master took.

use crate::cli::cluster::Cluster;
use crate::cli::node::{NodeConn, NodeError};
use crate::cli::promote;
use crate::cli::redis_link::LinkError;
use crate::cli::scale;
use crate::cli::sentinel;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A failover the sentinels made, as the inventory now says it.
#[derive(Debug, Clone)]
pub struct Adopted {
    /// The inventory's master before.
    pub old_master: String,
    /// The master the sentinels report.
    pub new_master: String,
    /// The cluster with the new topology.
    pub cluster: Cluster,
    /// Running nodes whose replication already is the new topology's (the sentinels
    /// reconfigured them and rewrote their config): their config is written without restart.
    pub reconfigured: BTreeSet<String>,
}

impl Adopted {
    /// One line for the user.
    pub fn describe(&self, inventory: &Path, dry_run: bool) -> String {
        format!(
            "the sentinels failed over since {} was written: {} is the master now (was {}); \
             {} the inventory, never switching back",
            inventory.display(),
            self.new_master,
            self.old_master,
            if dry_run { "would update" } else { "updated" }
        )
    }
}

/// The inventory node every answering sentinel reports as the master; None when no sentinel
/// answers (none deployed yet). Sentinels that disagree, or a master that is no node of the
/// inventory, are errors (nothing is changed).
pub async fn reported_master(
    cluster: &Cluster,
    conns: &[NodeConn],
) -> anyhow::Result<Option<String>> {
    let Some(s) = &cluster.sentinels else {
        return Ok(None);
    };
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let asks = conns.iter().filter_map(|c| {
        let port = c.node.sentinel_port?;
        Some(async move {
            let mut link = match sentinel::link(c, port, pw).await {
                Err(NodeError::NotRunning { .. }) => return Ok(None),
                // A changed password: the sentinel still has the old one. The master it
                // monitors is in the file it rewrites on every switch.
                Err(
                    e @ NodeError::Redis {
                        source: LinkError::Auth(_),
                        ..
                    },
                ) => {
                    let files = sentinel::files(&c.node).expect("a sentinel port");
                    let (ip, port) = sentinel::monitored_in_file(c, &files, &s.master_name)
                        .await?
                        .ok_or(e)?;
                    return Ok(Some((c.name().to_string(), ip, port, false)));
                }
                r => r?,
            };
            let view = match sentinel::master_view(&mut link, &s.master_name).await {
                // Not monitoring this name (yet).
                Err(LinkError::Server { .. }) => return Ok(None),
                r => r.map_err(|e| sentinel::link_err(c, port, e))?,
            };
            let in_progress = view.flags().contains(&"failover_in_progress");
            Ok::<_, NodeError>(Some((
                c.name().to_string(),
                view.get("ip").unwrap_or("").to_string(),
                view.get("port").unwrap_or("").to_string(),
                in_progress,
            )))
        })
    });
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in futures::future::join_all(asks).await {
        let Some((by, ip, port, in_progress)) = r? else {
            continue;
        };
        if in_progress {
            anyhow::bail!(
                "the sentinel of {by} is failing the master over right now; nothing was \
                 changed, deploy again in a moment"
            );
        }
        let node = port
            .parse()
            .ok()
            .and_then(|p| sentinel::node_at(cluster, &ip, p))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the sentinel of {by} reports the master at {ip}:{port}, which is no node \
                     of the inventory; nothing was changed"
                )
            })?;
        seen.entry(node.name.clone()).or_default().push(by);
    }
    if seen.len() > 1 {
        anyhow::bail!(
            "the sentinels disagree on the master ({}): a failover may be in progress; nothing \
             was changed, deploy again in a moment",
            seen.iter()
                .map(|(m, by)| format!("{} say {m}", by.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(seen.into_keys().next())
}

/// The topology after the sentinels promoted `new`: the old master and its other direct
/// replicas follow `new`, `new`'s own replicas keep following it, deeper nodes are unchanged
/// (a sentinel reconfigures only the master's direct replicas).
pub fn topology_after(cluster: &Cluster, new: &str) -> BTreeMap<String, Option<String>> {
    let old = &cluster.master().name;
    cluster
        .nodes
        .iter()
        .map(|n| {
            let follows = if n.name == new {
                None
            } else if &n.name == old || n.replicaof.as_deref() == Some(old.as_str()) {
                Some(new.to_string())
            } else {
                n.replicaof.clone()
            };
            (n.name.clone(), follows)
        })
        .collect()
}

/// Asks the sentinels; when they moved the master, returns the failover (and, unless
/// `dry_run`, rewrites the inventory file to say it).
pub async fn adopt(
    cluster: &Cluster,
    conns: &[NodeConn],
    inventory: &Path,
    dry_run: bool,
) -> anyhow::Result<Option<Adopted>> {
    let Some(new) = reported_master(cluster, conns).await? else {
        return Ok(None);
    };
    let old = cluster.master().name.clone();
    if new == old {
        return Ok(None);
    }
    let topo = topology_after(cluster, &new);
    let new_cluster = promote::with_topology(cluster, &topo);
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let mut reconfigured = BTreeSet::new();
    for c in conns {
        let Ok(running) = scale::inspect_running(c, pw).await else {
            continue;
        };
        let info = &running.replication;
        let matches = match topo[c.name()].as_deref().and_then(|m| new_cluster.node(m)) {
            None => info.role() == "master",
            Some(up) => {
                info.role() == "slave"
                    && sentinel::node_at(
                        cluster,
                        info.get("master_host").unwrap_or(""),
                        info.get("master_port")
                            .and_then(|p| p.parse().ok())
                            .unwrap_or(0),
                    )
                    .is_some_and(|n| n.name == up.name)
            }
        };
        if matches {
            reconfigured.insert(c.name().to_string());
        }
    }
    if !dry_run {
        promote::update_inventory_file(inventory, cluster, &topo)
            .map_err(|e| e.context(format!("the sentinels made {new} the master, but")))?;
    }
    Ok(Some(Adopted {
        old_master: old,
        new_master: new,
        cluster: new_cluster,
        reconfigured,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentinel_failover_moves_the_masters_direct_replicas_only() {
        let inv = crate::cli::inventory::parse(
            "cluster: c\nauth:\n  password: pw-123456789\ndefaults:\n  dir: /d/{node}\n  \
             host: 10.0.0.1\nnodes:\n  a:\n    role: master\n    port: 1\n  b:\n    \
             replicaof: a\n    port: 2\n  c:\n    replicaof: a\n    port: 3\n  d:\n    \
             replicaof: c\n    port: 4\n",
            Path::new("x.yaml"),
        )
        .unwrap();
        let c = crate::cli::validate::validate(&inv, Path::new("/tmp"), &|_| None).unwrap();
        let t = topology_after(&c, "b");
        let got: Vec<(&str, Option<&str>)> =
            t.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        assert_eq!(
            got,
            [
                ("a", Some("b")),
                ("b", None),
                ("c", Some("b")),
                ("d", Some("c"))
            ]
        );
    }
}
