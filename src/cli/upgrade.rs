//! `redrepl upgrade`: a rolling restart onto a new server binary, with every node serving
//! throughout and no acknowledged write lost.
//!
//! What a node *runs* is told by the checksum of its server process's executable
//! (`sha256sum /proc/<process_id>/exe`, which still reads a binary replaced on disk), so a
//! node is upgraded when that equals the new binary's checksum, whatever version string the
//! binary carries. For `engine: redis` every node is restarted onto the redis-server it has.
//!
//! Order: replicas one at a time, deepest first, each back in sync (link up, offsets equal)
//! before the next; then, when the master needs it, a switchover as `promote` does it (writes
//! paused until the replica has them all) to an upgraded replica, and the old master is
//! restarted as a replica; `--keep-master` switches back. Before a node's binary is replaced
//! the old one is kept as `redrepl.previous`; a node that does not come back on the new
//! binary is put back on it and restarted, and the upgrade stops with the master untouched,
//! saying how to resume or roll back.

use crate::cli::cluster::Cluster;
use crate::cli::deploy;
use crate::cli::inventory::Engine;
use crate::cli::node::{self, NodeConn};
use crate::cli::progress::Progress;
use crate::cli::promote;
use crate::cli::ssh::{NewHostKeys, shell_quote};
use crate::cli::template::Template;
use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Options of an upgrade.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--binary`: the new bundled binary (default: this program).
    pub binary: Option<PathBuf>,
    /// `--keep-master`: switch the master back after the upgrade.
    pub keep_master: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// How long a server may take to start and a replica to sync.
    pub wait: Duration,
}

/// What the upgrade does to one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStep {
    /// The node.
    pub node: String,
    /// Checksum of the binary its server runs now.
    pub running: String,
    /// Whether it is restarted.
    pub restart: bool,
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The checksum of the executable the node's server runs.
pub async fn running_sum(c: &NodeConn, pw: Option<&str>) -> anyhow::Result<String> {
    let mut link = c.redis(pw).await?;
    let info = link.info("server").await.map_err(|e| c.redis_err(e))?;
    let pid = info
        .int("process_id")
        .ok_or_else(|| anyhow::anyhow!("{}: INFO server has no process_id", c.name()))?;
    let out = c
        .sh_ok(&format!("sha256sum /proc/{pid}/exe"))
        .await?
        .stdout_str();
    Ok(out.split_whitespace().next().unwrap_or("").to_string())
}

/// How to continue after a failed step.
fn advice(inventory: &Path) -> String {
    format!(
        "every other node is serving and the master was not touched. Fix it (see the log \
         above), then run `redrepl upgrade {inv}` again to resume (upgraded nodes are \
         skipped); to roll back, run `redrepl upgrade {inv} --binary <the old binary>`",
        inv = inventory.display()
    )
}

/// Uploads the new binary next to the running one, as `<binary>.next`; nothing restarts yet.
async fn stage(c: &NodeConn, data: &[u8]) -> anyhow::Result<()> {
    c.write_file(data, &staged_path(c), 0o755).await?;
    Ok(())
}

fn staged_path(c: &NodeConn) -> String {
    format!("{}.next", c.binary_path())
}

/// Removes a staged binary that will not be installed (after a failed upgrade).
async fn unstage(c: &NodeConn) {
    let _ = c
        .sh_ok(&format!("rm -f {}", shell_quote(&staged_path(c))))
        .await;
}

/// Puts the staged binary in place on a node (the old one kept as `redrepl.previous`).
async fn install(c: &NodeConn) -> anyhow::Result<()> {
    let q = shell_quote(&c.binary_path());
    let next = shell_quote(&staged_path(c));
    c.sh_ok(&format!(
        "if [ -f {q} ]; then cp -p {q} {q}.previous; fi && mv -f {next} {q}"
    ))
    .await?;
    Ok(())
}

/// Restarts one node (SHUTDOWN SAVE, start) and waits for it and every replica to be in
/// sync. With `staged`, the binary uploaded by [`stage`] is installed first; when the node
/// does not come back on it, the previous binary is put back and started.
async fn restart(
    cluster: &Cluster,
    conns: &[NodeConn],
    c: &NodeConn,
    staged: bool,
    opts: &Options,
    progress: &Progress,
) -> anyhow::Result<()> {
    let pw = cluster.password.as_ref().map(|p| p.expose());
    if staged {
        progress.step(c.name(), "installing the new binary");
        install(c).await?;
    }
    progress.step(c.name(), "SHUTDOWN SAVE");
    c.stop_saving(pw, opts.wait).await?;
    progress.step(c.name(), "starting on the new binary");
    let started = c.start(cluster.engine, pw, opts.wait).await;
    if let Err(e) = started {
        if staged {
            let q = shell_quote(&c.binary_path());
            let back = async {
                c.sh_ok(&format!("mv -f {q}.previous {q}")).await?;
                c.start(cluster.engine, pw, opts.wait).await?;
                Ok::<(), anyhow::Error>(())
            }
            .await;
            return Err(anyhow::Error::from(e).context(match back {
                Ok(()) => format!(
                    "{} did not start on the new binary; it is back on the previous one and \
                     serving",
                    c.name()
                ),
                Err(b) => format!(
                    "{} did not start on the new binary, and not on the previous one either \
                     ({b})",
                    c.name()
                ),
            }));
        }
        return Err(e.into());
    }
    let all: Vec<&NodeConn> = conns.iter().collect();
    deploy::wait_synced(cluster, &all, opts.wait, progress).await?;
    progress.done(c.name(), "upgraded, in sync");
    Ok(())
}

/// Runs an upgrade (or prints its plan).
pub async fn upgrade(
    inventory: &Path,
    template: &Template,
    opts: &Options,
    progress: &Progress,
) -> anyhow::Result<()> {
    let (cluster, _) = crate::cli::load_cluster(inventory)?;
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let binary = match cluster.engine {
        Engine::Bundled => {
            let path = match &opts.binary {
                Some(p) => p.clone(),
                None => std::env::current_exe()?,
            };
            let data = std::fs::read(&path)
                .with_context(|| format!("cannot read the new binary {}", path.display()))?;
            Some(data)
        }
        Engine::Redis => None,
    };
    let want = binary.as_deref().map(sha256_hex);
    let conns = deploy::connect_or_fail(&cluster, NewHostKeys::Refuse, progress).await?;
    if binary.is_some() && conns.iter().any(NodeConn::is_local) {
        anyhow::bail!(
            "upgrade of local nodes: they run this program itself; stop them and deploy with \
             the new binary instead"
        );
    }
    let mut steps = Vec::new();
    let sums = futures::future::join_all(conns.iter().map(|c| {
        progress.step(c.name(), "inspecting");
        running_sum(c, pw)
    }))
    .await;
    for (c, sum) in conns.iter().zip(sums) {
        let running =
            sum.context("every node must be serving before an upgrade; nothing was changed")?;
        let restart = want.as_deref() != Some(running.as_str());
        steps.push(NodeStep {
            node: c.name().to_string(),
            running,
            restart,
        });
    }
    let master = cluster.master().name.clone();
    let depths = node::depths(&cluster);
    let mut order: Vec<usize> = (0..conns.len())
        .filter(|&i| steps[i].restart && conns[i].name() != master)
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(depths[i]));
    let master_too = steps.iter().any(|s| s.node == master && s.restart);
    // The replica the master is handed to: depth 1, preferably already upgraded last.
    let target = cluster
        .nodes
        .iter()
        .find(|n| n.replicaof.as_deref() == Some(master.as_str()))
        .map(|n| n.name.clone());
    let mut plan: Vec<String> = Vec::new();
    let staged: Vec<usize> = (0..conns.len()).filter(|&i| steps[i].restart).collect();
    if binary.is_some() && !staged.is_empty() {
        for &i in &staged {
            plan.push(format!(
                "{}: upload the new binary as redrepl.next (every node at once; nothing \
                 restarts until every upload is done)",
                conns[i].name()
            ));
        }
    }
    for &i in &order {
        plan.push(format!(
            "{}: {}restart, wait until in sync",
            conns[i].name(),
            if binary.is_some() {
                "install the uploaded binary (old kept as redrepl.previous), "
            } else {
                ""
            }
        ));
    }
    if master_too {
        let Some(t) = &target else {
            anyhow::bail!("the master {master} has no direct replica to hand over to");
        };
        plan.push(format!(
            "{master}: switch over to {t} (as `redrepl promote`), then restart {master} as a \
             replica{}",
            if opts.keep_master {
                format!(", then switch back to {master} (--keep-master)")
            } else {
                String::new()
            }
        ));
    }
    for s in steps.iter().filter(|s| !s.restart) {
        plan.push(format!("{}: already runs the new binary", s.node));
    }
    if opts.dry_run
        || plan
            .iter()
            .all(|l| l.ends_with("already runs the new binary"))
    {
        for c in &conns {
            progress.done(c.name(), "nothing changed");
        }
        progress.finish();
        crate::outln!(
            "{}",
            if opts.dry_run {
                "dry run: nothing was changed. The plan:"
            } else {
                "upgrade: nothing to do. Every node:"
            }
        );
        for l in &plan {
            crate::outln!("  {l}");
        }
        return Ok(());
    }

    // The new binary on every node first, in parallel: a failed upload stops the upgrade
    // before anything restarts.
    if let Some(data) = binary.as_deref() {
        let uploads = futures::future::join_all(staged.iter().map(|&i| {
            progress.step(conns[i].name(), "uploading the new binary");
            stage(&conns[i], data)
        }))
        .await;
        let failed: Vec<String> = staged
            .iter()
            .zip(uploads)
            .filter_map(|(&i, r)| r.err().map(|e| format!("{}: {e:#}", conns[i].name())))
            .collect();
        if !failed.is_empty() {
            futures::future::join_all(staged.iter().map(|&i| unstage(&conns[i]))).await;
            anyhow::bail!(
                "upgrade stopped before any restart: the upload failed on {}; nothing was \
                 changed",
                failed.join("; ")
            );
        }
    }
    let staged = binary.is_some();
    let unstage_all = || futures::future::join_all(conns.iter().map(unstage));

    // Replicas, one at a time.
    for &i in &order {
        let r = restart(&cluster, &conns, &conns[i], staged, opts, progress).await;
        if let Err(e) = r {
            unstage_all().await;
            return Err(e.context(format!(
                "upgrade stopped at {}; {}",
                conns[i].name(),
                advice(inventory)
            )));
        }
    }
    if master_too {
        let t = target.expect("checked above");
        for c in conns {
            c.close().await;
        }
        let popts = promote::Options {
            force: false,
            new_host_keys: NewHostKeys::Refuse,
            wait: Duration::from_secs(20),
            dry_run: false,
        };
        progress.note(&format!("switching the master over to {t}"));
        let ok = promote::promote(inventory, &cluster, template, &t, &popts, progress)
            .await
            .with_context(|| format!("upgrade: the switchover to {t} failed"))?;
        if !ok {
            anyhow::bail!(
                "upgrade: {t} was promoted but verify failed; the old master {master} was not restarted"
            );
        }
        let (cluster2, _) = crate::cli::load_cluster(inventory)?;
        let conns = deploy::connect_or_fail(&cluster2, NewHostKeys::Refuse, progress).await?;
        let old = conns
            .iter()
            .find(|c| c.name() == master)
            .expect("the old master is in the inventory");
        restart(&cluster2, &conns, old, staged, opts, progress)
            .await
            .with_context(|| {
                format!(
                    "upgrade: {t} is the master (upgraded); the old master {master} did not come \
                     back; run `redrepl upgrade {}` again",
                    inventory.display()
                )
            })?;
        for c in conns {
            c.close().await;
        }
        if opts.keep_master {
            progress.note(&format!("switching the master back to {master}"));
            let ok = promote::promote(inventory, &cluster2, template, &master, &popts, progress)
                .await
                .with_context(|| format!("upgrade: switching back to {master} failed"))?;
            if !ok {
                anyhow::bail!("upgrade: {master} was promoted back but verify failed");
            }
        }
    }
    // What every node runs now.
    let (cluster, _) = crate::cli::load_cluster(inventory)?;
    let conns = deploy::connect_or_fail(&cluster, NewHostKeys::Refuse, progress).await?;
    crate::outln!("upgrade: done; the master is {}", cluster.master().name);
    for c in &conns {
        let sum = running_sum(c, pw).await?;
        let ok = want.as_deref().is_none_or(|w| w == sum);
        crate::outln!(
            "  {}: runs {}{}",
            c.name(),
            &sum[..sum.len().min(16)],
            if ok { "" } else { " (NOT the new binary)" }
        );
        if !ok {
            anyhow::bail!("{} does not run the new binary", c.name());
        }
    }
    for c in conns {
        c.close().await;
    }
    Ok(())
}
