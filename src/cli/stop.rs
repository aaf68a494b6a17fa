//! `redrepl stop`: SHUTDOWN (data saved) on the chosen nodes, or all, replicas before the
//! master (deepest first), so that no replica sees its master vanish before it stops itself.
//! The chosen nodes' sentinels are stopped before any server.

use crate::cli::cluster::Cluster;
use crate::cli::node::{self, NodeError};
use crate::cli::progress::Progress;
use crate::cli::sentinel;
use crate::cli::ssh::NewHostKeys;
use anyhow::bail;
use std::time::Duration;

/// Stops `only` (all nodes when empty). Nodes whose server is already down are reported as
/// such; an unreachable node is an error (the others are still stopped).
pub async fn stop(
    cluster: &Cluster,
    only: &[String],
    new_host_keys: NewHostKeys,
    wait: Duration,
    progress: &Progress,
) -> anyhow::Result<()> {
    for name in only {
        if cluster.node(name).is_none() {
            bail!("no node named {name:?} in the inventory");
        }
    }
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let chosen = |n: &str| only.is_empty() || only.iter().any(|o| o == n);
    let conns = node::connect_all(cluster, new_host_keys).await;
    let depths = node::depths(cluster);
    let max = depths.iter().copied().max().unwrap_or(0);
    let mut errors = Vec::new();
    for (c, n) in conns.iter().zip(&cluster.nodes) {
        if let Err(e) = c
            && chosen(&n.name)
        {
            errors.push(e.to_string());
        }
    }
    // The sentinels first: none of them may fail over while the servers go down.
    let sentinels = conns
        .iter()
        .filter_map(|c| c.as_ref().ok())
        .filter(|c| chosen(c.name()) && cluster.sentinels.is_some())
        .filter_map(|c| Some((c, sentinel::files(&c.node)?)))
        .map(|(c, files)| async move {
            progress.step(c.name(), "stopping the sentinel");
            sentinel::stop(c, &files, pw, wait).await
        });
    for r in futures::future::join_all(sentinels).await {
        if let Err(e) = r {
            errors.push(e.to_string());
        }
    }
    for d in (0..=max).rev() {
        let level = conns
            .iter()
            .zip(&depths)
            .filter(|(_, dd)| **dd == d)
            .filter_map(|(c, _)| c.as_ref().ok())
            .filter(|c| chosen(c.name()))
            .map(|c| async move {
                progress.step(c.name(), "SHUTDOWN");
                match c.redis(pw).await {
                    Err(NodeError::NotRunning { .. }) => {
                        progress.done(c.name(), "was not running");
                        Ok(())
                    }
                    Err(e) => Err(e),
                    Ok(link) => {
                        drop(link);
                        c.stop(pw, wait).await?;
                        progress.done(c.name(), "stopped (data saved)");
                        Ok(())
                    }
                }
            });
        for r in futures::future::join_all(level).await {
            if let Err(e) = r {
                errors.push(e.to_string());
            }
        }
    }
    if !errors.is_empty() {
        bail!("stop failed on some nodes:\n  {}", errors.join("\n  "));
    }
    Ok(())
}
