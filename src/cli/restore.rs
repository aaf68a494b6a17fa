//! `redrepl restore INVENTORY BACKUP [--yes|--dry-run]`: the one command that replaces a
//! cluster's data, so it says exactly what it replaces and acts only with `--yes`.
//!
//! Order: the backup is checked whole first ([`backup::check`]: size, SHA-256, a full
//! decode), then every node is connected and asked for its key counts; only then, with
//! `--yes`: the backup is uploaded next to the master's dump, the master is shut down (its
//! writes stop; SHUTDOWN saves what it held), that dump is kept as
//! `<dbfilename>.before-restore-<time>`, the backup takes its place, the master starts and
//! loads it, every replica full-syncs from it, and each node's key counts are compared with
//! the manifest's.

use crate::cli::Unhealthy;
use crate::cli::backup::{self, Checked};
use crate::cli::cluster::Cluster;
use crate::cli::deploy;
use crate::cli::node::NodeConn;
use crate::cli::progress::Progress;
use crate::cli::redis_link::Info;
use crate::cli::ssh::{NewHostKeys, shell_quote};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Options of a restore.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `--yes`: replace the data.
    pub yes: bool,
    /// `--dry-run`: print the plan, change nothing.
    pub dry_run: bool,
    /// How long servers may take to load and replicas to sync.
    pub wait: Duration,
}

/// Keys per database from INFO keyspace (`db0:keys=3,...`).
pub fn keyspace(info: &Info) -> BTreeMap<String, u64> {
    info.0
        .iter()
        .filter(|(k, _)| k.starts_with("db") && k[2..].chars().all(|c| c.is_ascii_digit()))
        .filter_map(|(k, v)| {
            let n = v
                .split(',')
                .find_map(|kv| kv.strip_prefix("keys="))?
                .parse()
                .ok()?;
            Some((k.clone(), n))
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn counts(k: &BTreeMap<String, u64>) -> String {
    if k.is_empty() {
        return "no keys".into();
    }
    k.iter()
        .map(|(db, n)| format!("{db}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn node_keys(c: &NodeConn, pw: Option<&str>) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut link = c.redis(pw).await?;
    let info = link.info("keyspace").await.map_err(|e| c.redis_err(e))?;
    Ok(keyspace(&info))
}

/// The plan's lines: what the backup holds and what each node holds now (to be replaced).
fn plan_lines(
    cluster: &Cluster,
    checked: &Checked,
    now: &[(String, BTreeMap<String, u64>)],
) -> Vec<String> {
    let m = &checked.manifest;
    let master = cluster.master();
    let mut lines = vec![format!(
        "backup {} (cluster {}, node {}, {}, offset {}): {}",
        checked.dir.display(),
        m.cluster,
        m.node,
        m.time,
        m.offset
            .map(|o| o.to_string())
            .unwrap_or_else(|| "-".into()),
        counts(&m.keys)
    )];
    lines.push(format!(
        "replaces ALL the data of cluster {} ({} nodes):",
        cluster.name,
        cluster.nodes.len()
    ));
    for (name, k) in now {
        lines.push(format!("  {name}: holds {} now", counts(k)));
    }
    lines.push(format!(
        "steps: upload to {master}; SHUTDOWN SAVE {master} (writes stop; what it holds is saved and \
         kept as {}.before-restore-<time>); the backup becomes {}; start {master}; every \
         replica full-syncs; key counts checked against the manifest",
        master.dbfilename,
        master.dbfilename,
        master = master.name
    ));
    lines
}

/// Runs a restore (or prints its plan).
pub async fn restore(
    cluster: &Cluster,
    backup_path: &Path,
    opts: &Options,
    progress: &Progress,
) -> anyhow::Result<()> {
    let pw = cluster.password.as_ref().map(|p| p.expose());
    // Refused before anything else when the backup is not whole.
    let checked = backup::check(backup_path)?;
    let conns = deploy::connect_or_fail(cluster, NewHostKeys::Refuse, progress).await?;
    let mut now = Vec::new();
    for c in &conns {
        progress.step(c.name(), "reading key counts");
        let k = node_keys(c, pw).await.map_err(|e| {
            e.context("every node must answer before a restore; nothing was changed")
        })?;
        now.push((c.name().to_string(), k));
    }
    let lines = plan_lines(cluster, &checked, &now);
    if opts.dry_run || !opts.yes {
        for c in &conns {
            progress.done(c.name(), "nothing changed");
        }
        progress.finish();
        crate::outln!(
            "{}",
            if opts.dry_run {
                "dry run: nothing was changed. The plan:"
            } else {
                "restore: nothing was changed. The plan:"
            }
        );
        for l in &lines {
            crate::outln!("  {l}");
        }
        if opts.dry_run {
            return Ok(());
        }
        anyhow::bail!(
            "restore replaces the data of every node (above); re-run with --yes to do it"
        );
    }
    for l in &lines {
        progress.note(l);
    }

    let mi = conns
        .iter()
        .position(|c| c.node.replicaof.is_none())
        .expect("a validated cluster has a master");
    let m = &conns[mi];
    let dump = format!("{}/{}", m.node.dir, m.node.dbfilename);
    let incoming = format!("{dump}.redrepl-restore");
    let stamp = backup::rfc3339(SystemTime::now()).replace([':', '-'], "");
    let kept = format!("{dump}.before-restore-{stamp}");
    progress.step(m.name(), "uploading the backup");
    m.write_file(&checked.data, &incoming, 0o600).await?;
    let sum = m
        .sh_ok(&format!("sha256sum {}", shell_quote(&incoming)))
        .await?
        .stdout_str();
    if sum.split_whitespace().next() != Some(checked.manifest.sha256.as_str()) {
        let _ = m
            .sh_input(&format!("rm -f {}", shell_quote(&incoming)), None)
            .await;
        anyhow::bail!(
            "{}: the uploaded backup does not have the manifest's SHA-256; nothing was changed",
            m.name()
        );
    }
    progress.step(m.name(), "SHUTDOWN (writes stop)");
    m.stop_saving(pw, opts.wait).await?;
    let (q_dump, q_in, q_kept) = (
        shell_quote(&dump),
        shell_quote(&incoming),
        shell_quote(&kept),
    );
    m.sh_ok(&format!(
        "if [ -f {q_dump} ]; then mv -f {q_dump} {q_kept}; fi && mv -f {q_in} {q_dump}"
    ))
    .await?;
    progress.step(m.name(), "starting on the backup");
    m.start(cluster.engine, pw, opts.wait).await.map_err(|e| {
        anyhow::Error::from(e).context(format!(
            "the master does not start on the backup; its previous dump is {kept}"
        ))
    })?;
    let all: Vec<&NodeConn> = conns.iter().collect();
    deploy::wait_synced(cluster, &all, opts.wait, progress).await?;

    // Key counts against the manifest.
    let want = &checked.manifest.keys;
    let mut bad = Vec::new();
    crate::outln!(
        "restore: {} loaded on {}; the data it replaced is kept on {} as {kept}",
        checked.dir.display(),
        m.name(),
        m.name()
    );
    for c in &conns {
        let got = node_keys(c, pw).await?;
        let ok = &got == want;
        crate::outln!(
            "  {}: {} (manifest {}) {}",
            c.name(),
            counts(&got),
            counts(want),
            if ok { "ok" } else { "DIFFERENT" }
        );
        progress.done(c.name(), if ok { "restored" } else { "key counts differ" });
        if !ok {
            bad.push(c.name().to_string());
        }
    }
    if !bad.is_empty() {
        return Err(Unhealthy(format!(
            "key counts differ from the manifest on {} (writes after the restore count too)",
            bad.join(", ")
        ))
        .into());
    }
    for c in conns {
        c.close().await;
    }
    Ok(())
}
