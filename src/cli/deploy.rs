//! `redrepl deploy`: connect to every node, compare what is there with what should be
//! (binary checksum, config checksum, server running), then act on the difference only:
//! upload, write the config (0600), stop changed nodes replicas first, start master first,
//! wait for PING and for each replica's sync, verify.
//!
//! Two phases keep failures clean: everything is connected and inspected before anything is
//! touched, so an unreachable node, a refused host key or a wrong password stops the deploy
//! with nothing changed anywhere.

use crate::cli::certs::{self, RemoteFiles};
use crate::cli::cluster::Cluster;
use crate::cli::inventory::Engine;
use crate::cli::inventory::Persistence;
use crate::cli::master_guard::{self, MasterLost};
use crate::cli::node::{self, NodeConn, NodeError};
use crate::cli::persistence;
use crate::cli::progress::Progress;
use crate::cli::render;
use crate::cli::scale::{self, Running, Stranger};
use crate::cli::sentinel_deploy;
use crate::cli::ssh::{NewHostKeys, shell_quote};
use crate::cli::template::Template;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// What deploy will do (or did) on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    /// Node name.
    pub node: String,
    /// Upload the bundled binary (size in bytes).
    pub upload_binary: Option<u64>,
    /// The node's `dir` does not exist yet.
    pub create_dir: bool,
    /// Write the config (it differs or is missing).
    pub write_config: bool,
    /// Upload the node's TLS files (CA, certificate, key; they differ or are missing).
    pub upload_tls: bool,
    /// What happens to the server.
    pub action: Action,
    /// With [`Action::Repoint`]: the node it follows now (its config on the node says so).
    pub follows_now: Option<String>,
    /// With [`Action::Persist`]: the `persistence:` its config on the node was rendered with.
    pub persistence_now: Option<Persistence>,
}

/// What happens to a node's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Running with the right config: nothing.
    Unchanged,
    /// Not running: start.
    Start,
    /// Running with another config: restart.
    Restart,
    /// A running replica whose config differs only in the node it follows: REPLICAOF live,
    /// no restart (see [`crate::cli::scale`]).
    Repoint,
    /// A running server whose config differs only in `persistence:`: CONFIG SET live (the
    /// AOF turned on by its initial rewrite, waited for), no restart (see
    /// [`crate::cli::persistence`]).
    Persist,
}

/// A persistence setting as the plan names it.
fn persistence_name(p: Option<Persistence>) -> &'static str {
    p.map_or("server defaults", Persistence::as_str)
}

impl NodePlan {
    /// Whether nothing happens on this node.
    pub fn is_unchanged(&self) -> bool {
        self.upload_binary.is_none()
            && !self.write_config
            && !self.upload_tls
            && self.action == Action::Unchanged
    }

    /// One line for the plan.
    pub fn describe(&self, conn: &NodeConn, engine: Engine) -> String {
        if self.is_unchanged() {
            return "unchanged".into();
        }
        let mut parts = Vec::new();
        if self.create_dir {
            parts.push(format!("create {}", conn.node.dir));
        }
        if let Some(size) = self.upload_binary {
            parts.push(format!(
                "upload redrepl ({:.1} MB) to {}",
                size as f64 / 1e6,
                conn.binary_path()
            ));
        }
        if self.write_config {
            parts.push(format!("write {} (0600)", conn.node.config_path));
        }
        if self.upload_tls {
            let dir = RemoteFiles::of(&conn.node);
            parts.push(format!(
                "upload the TLS certificate and key to {} (0600)",
                dir.dir()
            ));
        }
        let server = match engine {
            Engine::Bundled => "redrepl server",
            Engine::Redis => "redis-server",
        };
        match self.action {
            Action::Unchanged if self.upload_tls => parts.push(
                "server left running, its certificate reloaded (CONFIG SET, no restart)".into(),
            ),
            Action::Unchanged => parts.push("server left running".into()),
            Action::Start => parts.push(format!("start {server} on port {}", conn.node.port)),
            Action::Restart => parts.push(format!(
                "restart {server} on port {} (config changed)",
                conn.node.port
            )),
            Action::Repoint => parts.push(format!(
                "re-point live from {} to {} (REPLICAOF, no restart)",
                self.follows_now.as_deref().unwrap_or("?"),
                conn.node.replicaof.as_deref().unwrap_or("?")
            )),
            Action::Persist => parts.push(format!(
                "persistence {} -> {} live (CONFIG SET, no restart)",
                persistence_name(self.persistence_now),
                persistence_name(conn.node.persistence)
            )),
        }
        parts.join("; ")
    }
}

/// Options of a deploy.
#[derive(Debug, Clone)]
pub struct Options {
    /// Print the plan, touch nothing.
    pub dry_run: bool,
    /// `--accept-new-host-keys`.
    pub new_host_keys: NewHostKeys,
    /// How long a server may take to answer after start, and a replica to sync.
    pub wait: Duration,
    /// `--promote-if-master-lost`: when the master is down and a replica holds more than its
    /// dump, stop after inspection and hand the [`MasterLost`] back (in [`Outcome`]) instead
    /// of failing with it, so the caller promotes that replica.
    pub promote_if_master_lost: bool,
    /// The inventory file as the user named it (for advice in messages).
    pub inventory: String,
    /// `--prune`: shut down the servers that replicate from the cluster but are no longer in
    /// the inventory (without it they are only reported).
    pub prune: bool,
    /// Nodes the sentinels reconfigured in a failover this deploy adopts (see
    /// [`crate::cli::sentinel_adopt`]): running as the inventory says, their config rewritten
    /// by the sentinels, so the rendered one is written without a restart.
    pub reconfigured: std::collections::BTreeSet<String>,
}

/// What a deploy did.
#[derive(Debug)]
pub struct Outcome {
    /// The plan, per node in inventory order.
    pub plans: Vec<NodePlan>,
    /// Nothing was changed anywhere.
    pub unchanged: bool,
    /// The connections (for verify).
    pub conns: Vec<Result<NodeConn, NodeError>>,
    /// The master is down and a replica holds more (only with `promote_if_master_lost`;
    /// without it this is the deploy's error): nothing was changed.
    pub master_lost: Option<MasterLost>,
    /// Servers replicating from the cluster that the inventory no longer names (shut down
    /// when `prune`).
    pub strangers: Vec<Stranger>,
    /// The sentinels' plans (empty when sentinels are off).
    pub sentinels: Vec<sentinel_deploy::Plan>,
}

fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Connects to every node; fails with every node's error when one cannot be reached.
pub async fn connect_or_fail(
    cluster: &Cluster,
    new_host_keys: NewHostKeys,
    progress: &Progress,
) -> anyhow::Result<Vec<NodeConn>> {
    for n in &cluster.nodes {
        progress.step(&n.name, "connecting");
    }
    let results = node::connect_all(cluster, new_host_keys).await;
    let mut conns = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(c) => {
                progress.step(c.name(), "connected");
                conns.push(c)
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        for c in &conns {
            progress.done(c.name(), "connected (nothing changed)");
        }
        anyhow::bail!(
            "cannot reach {} of {} nodes; nothing was changed on any node:\n  {}",
            errors.len(),
            cluster.nodes.len(),
            errors.join("\n  ")
        );
    }
    Ok(conns)
}

/// Runs a deploy (or its dry run).
pub async fn deploy(
    cluster: &Cluster,
    template: &Template,
    sentinel_template: &Template,
    opts: &Options,
    progress: &Progress,
) -> anyhow::Result<Outcome> {
    let rendered = render::render_all(cluster, template)?;
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let tls_files = tls_files(cluster, opts.dry_run)?;
    let conns = connect_or_fail(cluster, opts.new_host_keys, progress).await?;

    // The binary, read once.
    let binary = if cluster.engine == Engine::Bundled && conns.iter().any(|c| !c.is_local()) {
        let exe = std::env::current_exe()?;
        let data = std::fs::read(&exe)
            .map_err(|e| anyhow::anyhow!("cannot read this program ({}): {e}", exe.display()))?;
        let sum = sha256_hex(&data);
        Some((data, sum))
    } else {
        None
    };

    // Phase 1: inspect every node (read-only).
    let inspect = conns
        .iter()
        .zip(&rendered)
        .zip(&tls_files)
        .map(|((c, (_, text)), tls)| {
            let binary_sum = binary.as_ref().map(|(_, s)| s.as_str());
            async move {
                progress.step(c.name(), "inspecting");
                inspect(c, text, binary_sum, tls, pw).await
            }
        });
    let inspected = futures::future::join_all(inspect).await;
    let mut plans = Vec::new();
    let mut sums = Vec::new();
    let mut running = Vec::new();
    let mut errors = Vec::new();
    for (c, r) in conns.iter().zip(inspected) {
        match r {
            Ok((mut p, sum, r)) => {
                if p.action == Action::Restart && r.is_some() && opts.reconfigured.contains(&p.node)
                {
                    p.action = Action::Unchanged;
                }
                if p.upload_binary.is_some() {
                    p.upload_binary = binary.as_ref().map(|(d, _)| d.len() as u64);
                }
                plans.push(p);
                sums.push(sum);
                running.push(r);
            }
            Err(e) => {
                progress.done(c.name(), "inspection failed (nothing changed)");
                errors.push(e.to_string())
            }
        }
    }
    if !errors.is_empty() {
        anyhow::bail!(
            "{} of {} nodes cannot be deployed to; nothing was changed on any node:\n  {}",
            errors.len(),
            conns.len(),
            errors.join("\n  ")
        );
    }
    // Scaling: never replace the master here; live re-points; servers no longer named.
    if let Err(problems) = scale::master_moved(cluster, &running, &opts.inventory) {
        for c in &conns {
            progress.done(c.name(), "nothing changed (the master would move)");
        }
        return Err(anyhow::Error::from(problems)
            .context("deploy does not move the master; nothing was changed"));
    }
    for ((p, sum), c) in plans.iter_mut().zip(&sums).zip(&conns) {
        if p.action != Action::Restart {
            continue;
        }
        if let Some(Some(now)) = sum
            .as_deref()
            .map(|s| persistence::rendered_with(cluster, template, &c.node, s))
            && now != c.node.persistence
        {
            p.action = Action::Persist;
            p.persistence_now = now;
            continue;
        }
        if c.node.replicaof.is_none() {
            continue;
        }
        if let Some(Some(now)) = sum
            .as_deref()
            .and_then(|s| scale::rendered_follows(cluster, template, &c.node, s))
            && Some(&now) != c.node.replicaof.as_ref()
        {
            p.action = Action::Repoint;
            p.follows_now = Some(now);
        }
    }
    let strangers = scale::find_strangers(&conns, &running, pw).await;
    let sentinels = sentinel_deploy::inspect(cluster, sentinel_template, &conns)
        .await
        .map_err(|errors| {
            anyhow::anyhow!(
                "{} sentinel(s) cannot be inspected; nothing was changed on any node:\n  {}",
                errors.len(),
                errors.join("\n  ")
            )
        })?;
    let unchanged = plans.iter().all(NodePlan::is_unchanged)
        && sentinels
            .iter()
            .all(|s| s.action == sentinel_deploy::Action::Unchanged)
        && !(opts.prune && strangers.iter().any(|s| s.run_id.is_some()));

    // Never start a master over better replicas.
    if let Some(lost) = master_lost(cluster, &conns, &plans, pw, &opts.inventory).await? {
        for c in &conns {
            progress.done(c.name(), "nothing changed (the master is lost)");
        }
        if !opts.promote_if_master_lost {
            return Err(lost.into());
        }
        return Ok(Outcome {
            plans,
            unchanged: false,
            conns: conns.into_iter().map(Ok).collect(),
            master_lost: Some(lost),
            strangers,
            sentinels,
        });
    }
    if opts.dry_run {
        for (c, p) in conns.iter().zip(&plans) {
            progress.done(
                c.name(),
                &format!("would {}", p.describe(c, cluster.engine)),
            );
        }
        return Ok(Outcome {
            plans,
            unchanged,
            conns: conns.into_iter().map(Ok).collect(),
            master_lost: None,
            strangers,
            sentinels,
        });
    }

    // Phase 2: files.
    let files = conns.iter().zip(&plans).zip(&rendered).zip(&tls_files).map(
        |(((c, p), (_, text)), tls)| {
            let binary = binary.as_ref().map(|(d, _)| d.as_slice());
            async move {
                if p.is_unchanged() {
                    return Ok(());
                }
                progress.step(c.name(), "creating dir");
                c.sh_ok(&format!("mkdir -p {}", shell_quote(&c.node.dir)))
                    .await?;
                if p.upload_tls {
                    progress.step(c.name(), "uploading TLS files");
                    upload_tls(c, tls).await?;
                }
                if let (Some(_), Some(data)) = (p.upload_binary, binary) {
                    progress.step(c.name(), "uploading redrepl");
                    c.write_file(data, &c.binary_path(), 0o755).await?;
                }
                if p.write_config {
                    progress.step(c.name(), "writing config");
                    c.write_file(text.as_bytes(), &c.node.config_path, 0o600)
                        .await?;
                }
                Ok::<(), NodeError>(())
            }
        },
    );
    let errs: Vec<String> = futures::future::join_all(files)
        .await
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    if !errs.is_empty() {
        anyhow::bail!(
            "writing files failed (servers were not touched):\n  {}",
            errs.join("\n  ")
        );
    }

    // Phase 2b: a changed password reaches the sentinels before the servers restart with it.
    sentinel_deploy::handover(
        cluster,
        sentinel_template,
        &conns,
        &sentinels,
        opts.wait,
        progress,
    )
    .await?;
    // Phase 3: stop the nodes to restart, deepest first (replicas before the master).
    let depths = node::depths(cluster);
    let max_depth = depths.iter().copied().max().unwrap_or(0);
    for d in (0..=max_depth).rev() {
        let stops = conns
            .iter()
            .zip(&plans)
            .zip(&depths)
            .filter(|(_, dd)| **dd == d)
            .filter(|((_, p), _)| p.action == Action::Restart)
            .map(|((c, _), _)| async move {
                progress.step(c.name(), "stopping (config changed)");
                c.stop(pw, opts.wait).await
            });
        for r in futures::future::join_all(stops).await {
            r?;
        }
    }
    // Phase 4: start, master first, then each level of replicas.
    for d in 0..=max_depth {
        let starts = conns
            .iter()
            .zip(&plans)
            .zip(&depths)
            .filter(|(_, dd)| **dd == d)
            .filter(|((_, p), _)| matches!(p.action, Action::Start | Action::Restart))
            .map(|((c, p), _)| async move {
                progress.step(
                    c.name(),
                    if p.action == Action::Restart {
                        "restarting"
                    } else {
                        "starting"
                    },
                );
                c.start(cluster.engine, pw, opts.wait).await
            });
        for r in futures::future::join_all(starts).await {
            r?;
        }
    }
    // Phase 4a: running servers whose certificate changed load it (new connections use it,
    // existing ones continue).
    for (c, p) in conns.iter().zip(&plans) {
        if p.upload_tls && matches!(p.action, Action::Unchanged | Action::Repoint) {
            progress.step(c.name(), "reloading the TLS certificate");
            reload_tls(c, pw).await?;
        }
    }
    // Phase 4b: re-point live, upstream levels first.
    for d in 0..=max_depth {
        for ((c, p), _) in conns
            .iter()
            .zip(&plans)
            .zip(&depths)
            .filter(|((_, p), dd)| **dd == d && p.action == Action::Repoint)
        {
            let to = c.node.replicaof.as_deref().and_then(|m| cluster.node(m));
            let to = to.expect("a validated replica follows a node of the inventory");
            progress.step(
                c.name(),
                &format!(
                    "REPLICAOF {} (was {})",
                    to.name,
                    p.follows_now.as_deref().unwrap_or("?")
                ),
            );
            scale::repoint(c, cluster, to, pw).await?;
        }
    }
    // Phase 4c: persistence changed live, the master first.
    for d in 0..=max_depth {
        for ((c, _), _) in conns
            .iter()
            .zip(&plans)
            .zip(&depths)
            .filter(|((_, p), dd)| **dd == d && p.action == Action::Persist)
        {
            progress.step(
                c.name(),
                &format!(
                    "persistence {} (CONFIG SET{})",
                    persistence_name(c.node.persistence),
                    if c.node.persistence.is_some_and(Persistence::aof) {
                        ", waiting for the initial AOF rewrite"
                    } else {
                        ""
                    }
                ),
            );
            persistence::apply(c, c.node.persistence, pw, opts.wait).await?;
        }
    }
    // Phase 5: wait for every replica's sync.
    let all: Vec<&NodeConn> = conns.iter().collect();
    wait_synced(cluster, &all, opts.wait, progress).await?;
    // Phase 5b: the sentinels, once the servers they watch are up.
    if !sentinels.is_empty() {
        sentinel_deploy::apply(
            cluster,
            sentinel_template,
            &conns,
            &sentinels,
            opts.wait,
            progress,
        )
        .await?;
    }
    // Phase 6: servers no longer in the inventory, with --prune.
    if opts.prune {
        for s in strangers.iter().filter(|s| s.run_id.is_some()) {
            let up = conns
                .iter()
                .find(|c| c.name() == s.upstream)
                .expect("a stranger's upstream is a node of the inventory");
            progress.note(&format!("{}: SHUTDOWN (--prune)", s.addr()));
            scale::prune(up, s, pw, opts.wait).await?;
        }
        if strangers.iter().any(|s| s.run_id.is_some()) && !sentinels.is_empty() {
            sentinel_deploy::reset_after_prune(cluster, &conns, &sentinels, opts.wait, progress)
                .await?;
        }
    }
    for (c, p) in conns.iter().zip(&plans) {
        let msg = match p.action {
            Action::Unchanged if p.is_unchanged() => "unchanged".to_string(),
            Action::Unchanged if p.upload_tls && p.upload_binary.is_none() => {
                "certificate reloaded (CONFIG SET, no restart)".to_string()
            }
            Action::Unchanged => {
                "binary updated; the running server keeps the old one until `redrepl stop` + deploy"
                    .to_string()
            }
            Action::Start => "started".into(),
            Action::Restart => "restarted (config changed)".into(),
            Action::Repoint => format!(
                "re-pointed from {} (no restart)",
                p.follows_now.as_deref().unwrap_or("?")
            ),
            Action::Persist => format!(
                "persistence {} -> {} (no restart)",
                persistence_name(p.persistence_now),
                persistence_name(c.node.persistence)
            ),
        };
        progress.done(c.name(), &msg);
    }
    Ok(Outcome {
        plans,
        unchanged,
        conns: conns.into_iter().map(Ok).collect(),
        master_lost: None,
        strangers,
        sentinels,
    })
}

/// When the plan starts the master (its server is down), whether a replica holds more than
/// the master's dump would bring back.
async fn master_lost(
    cluster: &Cluster,
    conns: &[NodeConn],
    plans: &[NodePlan],
    pw: Option<&str>,
    inventory: &str,
) -> anyhow::Result<Option<MasterLost>> {
    let starts_master = conns
        .iter()
        .zip(plans)
        .any(|(c, p)| c.node.replicaof.is_none() && p.action == Action::Start);
    if !starts_master {
        return Ok(None);
    }
    let refs: Vec<Option<&NodeConn>> = conns.iter().map(Some).collect();
    Ok(master_guard::check(cluster, &refs, pw, inventory)
        .await?
        .err())
}

/// A node's TLS files: `(contents, path on the node)` for the CA, certificate and key.
type TlsFiles = Vec<(Vec<u8>, String)>;

/// Every node's TLS files read from `<inventory folder>/tls` (made when missing, except in a
/// dry run); empty lists when the cluster has no TLS.
fn tls_files(cluster: &Cluster, dry_run: bool) -> anyhow::Result<Vec<TlsFiles>> {
    if !cluster.security.tls {
        return Ok(vec![Vec::new(); cluster.nodes.len()]);
    }
    let layout = certs::Layout {
        dir: cluster.security.tls_dir.clone(),
    };
    if !dry_run {
        certs::ensure(cluster, &layout)?;
    }
    let read = |p: &std::path::Path| std::fs::read(p).unwrap_or_default();
    Ok(cluster
        .nodes
        .iter()
        .map(|n| {
            let remote = RemoteFiles::of(n);
            let pair = layout.node(&n.name);
            vec![
                (read(&layout.ca().cert), remote.ca),
                (read(&pair.cert), remote.cert),
                (read(&pair.key), remote.key),
            ]
        })
        .collect())
}

/// Writes a node's TLS files (0600, in a 0700 folder).
async fn upload_tls(c: &NodeConn, files: &TlsFiles) -> Result<(), NodeError> {
    if let Some((_, first)) = files.first() {
        let dir = first.rsplit_once('/').map(|(d, _)| d).unwrap_or(".");
        let dir = shell_quote(dir);
        c.sh_ok(&format!("mkdir -p {dir} && chmod 700 {dir}"))
            .await?;
    }
    for (data, path) in files {
        c.write_file(data, path, 0o600).await?;
    }
    Ok(())
}

/// Makes a running server load its (rewritten) certificate files: CONFIG SET of the same
/// paths reloads them (Redis marks the tls file settings volatile).
async fn reload_tls(c: &NodeConn, pw: Option<&str>) -> Result<(), NodeError> {
    let f = RemoteFiles::of(&c.node);
    let mut link = c.redis(pw).await?;
    link.cmd(&[
        "CONFIG",
        "SET",
        "tls-cert-file",
        &f.cert,
        "tls-key-file",
        &f.key,
        "tls-ca-cert-file",
        &f.ca,
    ])
    .await
    .map_err(|e| c.redis_err(e))?;
    Ok(())
}

async fn inspect(
    c: &NodeConn,
    config: &str,
    binary_sum: Option<&str>,
    tls: &TlsFiles,
    pw: Option<&str>,
) -> Result<(NodePlan, Option<String>, Option<Running>), NodeError> {
    let conf = shell_quote(&c.node.config_path);
    let bin = shell_quote(&c.binary_path());
    let dir = shell_quote(&c.node.dir);
    let mut sums = conf.clone();
    if binary_sum.is_some() && !c.is_local() {
        sums = format!("{sums} {bin}");
    }
    for (_, path) in tls {
        sums = format!("{sums} {}", shell_quote(path));
    }
    let cmd = format!("sha256sum {sums} 2>/dev/null; [ -d {dir} ] || echo no-dir; true");
    let out = c.sh_ok(&cmd).await?.stdout_str();
    let sum_of = |path: &str| {
        out.lines().find_map(|l| {
            let (sum, p) = l.split_once(char::is_whitespace)?;
            (p.trim_start().trim_start_matches('*') == path).then(|| sum.to_string())
        })
    };
    let config_sum = sum_of(&c.node.config_path);
    let write_config = config_sum.as_deref() != Some(&sha256_hex(config.as_bytes()));
    let upload_tls = tls
        .iter()
        .any(|(data, path)| sum_of(path).as_deref() != Some(&sha256_hex(data)));
    let upload_binary = match binary_sum {
        Some(want) if !c.is_local() && sum_of(&c.binary_path()).as_deref() != Some(want) => Some(0),
        _ => None,
    };
    let (running, info) = match scale::inspect_running(c, pw).await {
        Ok(info) => (true, Some(info)),
        Err(NodeError::NotRunning { .. }) => (false, None),
        Err(e) if write_config => {
            // A password change: the old server answers to the old password. It will be
            // stopped by pidfile.
            let _ = e;
            (true, None)
        }
        Err(e) => return Err(e),
    };
    let action = match (running, write_config) {
        (false, _) => Action::Start,
        (true, true) => Action::Restart,
        (true, false) => Action::Unchanged,
    };
    let plan = NodePlan {
        node: c.node.name.clone(),
        create_dir: out.lines().any(|l| l == "no-dir"),
        upload_binary,
        write_config,
        upload_tls,
        action,
        follows_now: None,
        persistence_now: None,
    };
    Ok((plan, config_sum, info))
}

/// Waits until every replica's link is up and its offset reached its master's.
pub async fn wait_synced(
    cluster: &Cluster,
    conns: &[&NodeConn],
    wait: Duration,
    progress: &Progress,
) -> anyhow::Result<()> {
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let master = conns
        .iter()
        .find(|c| c.node.replicaof.is_none())
        .expect("one master");
    let tasks = conns
        .iter()
        .filter(|c| c.node.replicaof.is_some())
        .map(|c| async move {
            progress.step(c.name(), "waiting for sync");
            let start = Instant::now();
            let mut mlink = master.redis(pw).await?;
            let mut link = c.redis(pw).await?;
            loop {
                let target = mlink
                    .info("replication")
                    .await
                    .map_err(|e| master.redis_err(e))?
                    .offset();
                let info = link.info("replication").await.map_err(|e| c.redis_err(e))?;
                let up = info.get("master_link_status") == Some("up")
                    && info.get("master_sync_in_progress") != Some("1");
                if up && info.offset() >= target {
                    return Ok(());
                }
                if info.role() != "slave" && start.elapsed() > Duration::from_secs(5) {
                    return Err(anyhow::anyhow!(
                        "{}: configured to follow {} but its server reports role {} (does this \
                     server support replication?); see its log {}:\n{}",
                        c.name(),
                        c.node.replicaof.as_deref().unwrap_or("?"),
                        info.role(),
                        c.node.logfile,
                        c.log_tail().await
                    ));
                }
                if start.elapsed() > wait {
                    return Err(anyhow::anyhow!(
                        "{}: not in sync with the master after {}s (link {}, offset {} of {}); \
                     see its log {}:\n{}",
                        c.name(),
                        wait.as_secs(),
                        info.get("master_link_status").unwrap_or("?"),
                        info.offset(),
                        target,
                        c.node.logfile,
                        c.log_tail().await
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    for r in futures::future::join_all(tasks).await {
        r?;
    }
    Ok(())
}
