//! `redrepl promote`: a switchover that loses no acknowledged write.
//!
//! With the master answering: CLIENT PAUSE WRITE on it, wait until NODE's offset equals the
//! master's, REPLICAOF NO ONE on NODE, re-point the others (the old master included), CONFIG
//! REWRITE everywhere, CLIENT UNPAUSE. Writes that were paused are then refused by the old
//! master (now a replica), so a client never gets an acknowledgement for a write NODE lacks.
//! With the master gone: refused unless `--force`, which promotes NODE as it is and reports how
//! far behind the most advanced reachable replica it was.
//!
//! Like deploy, it inspects first and acts second: every node is connected and its server
//! asked before anything changes, the result is a typed [`Plan`] (one [`Step`] per node), and
//! `--dry-run` prints that same plan and stops. Promote never starts a master: the node it
//! promotes is running, and a node whose server is down is started as a replica.
//!
//! The new topology swaps NODE and the old master: whoever followed the old master follows
//! NODE, whoever followed NODE follows the old master, so each node keeps its depth (chains
//! stay chains). Then the inventory file is edited in place (only the `role:`/`replicaof:`
//! lines of the nodes that changed, comments kept), each node gets the config that `render`
//! makes from the new inventory (so the next deploy says "unchanged"), a reachable node whose
//! server is down is started as a replica, and verify runs.

use crate::cli::cluster::Cluster;
use crate::cli::deploy;
use crate::cli::node::{self, NodeConn, NodeError};
use crate::cli::progress::Progress;
use crate::cli::redis_link::{Link, LinkError, Reply};
use crate::cli::render;
use crate::cli::ssh::NewHostKeys;
use crate::cli::template::Template;
use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Options of a promote.
#[derive(Debug, Clone)]
pub struct Options {
    /// Promote even when the master does not answer.
    pub force: bool,
    /// `--accept-new-host-keys`.
    pub new_host_keys: NewHostKeys,
    /// How long to wait for NODE to catch up, and for servers and syncs.
    pub wait: Duration,
    /// Print the plan, change nothing.
    pub dry_run: bool,
}

/// What promote will do (or did) on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The node becomes the master (REPLICAOF NO ONE), after catching up with the master
    /// while its writes are paused (or as it is, with `--force` and the master gone).
    Promote,
    /// The node follows another one (REPLICAOF), then CONFIG REWRITE and the new config.
    Repoint {
        /// The node it will follow.
        to: String,
    },
    /// The node keeps following the same node; CONFIG REWRITE and the new config.
    Keep {
        /// The node it follows.
        follows: String,
    },
    /// The server is down: the new config is written and it is started as a replica.
    StartAsReplica {
        /// The node it will follow.
        to: String,
    },
    /// Unreachable (`--force`): left alone; `redrepl deploy` later brings it in line.
    Unreachable,
}

/// A promote's plan: built from inspecting every node, printed by `--dry-run`, then acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The node to promote.
    pub target: String,
    /// The current master.
    pub old_master: String,
    /// Whether the master answers (a paused switchover) or not (`--force`).
    pub master_up: bool,
    /// One step per node, inventory order.
    pub steps: Vec<(String, Step)>,
}

impl Plan {
    /// The plan, one line per node, then the inventory edit.
    pub fn describe(&self, inventory: &Path) -> Vec<String> {
        let mut lines: Vec<String> = self
            .steps
            .iter()
            .map(|(node, step)| {
                let what = match step {
                    Step::Promote if self.master_up => format!(
                        "catch up with {} (its writes paused), then REPLICAOF NO ONE: the new \
                         master",
                        self.old_master
                    ),
                    Step::Promote => format!(
                        "REPLICAOF NO ONE as it is (--force: {} does not answer): the new master",
                        self.old_master
                    ),
                    Step::Repoint { to } => {
                        format!("REPLICAOF {to}; CONFIG REWRITE; write its config")
                    }
                    Step::Keep { follows } => {
                        format!("keeps following {follows}; CONFIG REWRITE; write its config")
                    }
                    Step::StartAsReplica { to } => {
                        format!("server down: write its config, start it as a replica of {to}")
                    }
                    Step::Unreachable => "unreachable: left alone".into(),
                };
                format!("{node}: {what}")
            })
            .collect();
        lines.push(format!(
            "{}: {} becomes the master, {} follows {}",
            inventory.display(),
            self.target,
            self.old_master,
            self.steps
                .iter()
                .find_map(|(n, s)| match s {
                    Step::Repoint { to } | Step::StartAsReplica { to } if *n == self.old_master =>
                        Some(to.as_str()),
                    _ => None,
                })
                .unwrap_or(&self.target)
        ));
        lines
    }

    /// The step of one node.
    pub fn step(&self, node: &str) -> &Step {
        &self
            .steps
            .iter()
            .find(|(n, _)| n == node)
            .expect("a step per node")
            .1
    }
}

/// The plan from what was found: `links[i]` is node i's Redis link or why there is none.
pub fn plan(
    cluster: &Cluster,
    target: &str,
    topo: &BTreeMap<String, Option<String>>,
    links: &[Result<Link, String>],
    master_up: bool,
) -> Plan {
    let steps = cluster
        .nodes
        .iter()
        .zip(links)
        .map(|(n, l)| {
            let follows = topo[&n.name].clone();
            let step = match (follows, l) {
                (None, _) => Step::Promote,
                (Some(to), Err(e)) if e.contains("not running") => Step::StartAsReplica { to },
                (Some(_), Err(_)) => Step::Unreachable,
                (Some(to), Ok(_)) if n.replicaof.as_deref() == Some(to.as_str()) => {
                    Step::Keep { follows: to }
                }
                (Some(to), Ok(_)) => Step::Repoint { to },
            };
            (n.name.clone(), step)
        })
        .collect();
    Plan {
        target: target.to_string(),
        old_master: cluster.master().name.clone(),
        master_up,
        steps,
    }
}

/// The topology after promoting `target`: node → the node it follows (None for the master).
pub fn new_topology(cluster: &Cluster, target: &str) -> BTreeMap<String, Option<String>> {
    let old = cluster.master().name.clone();
    let swap = |n: &str| -> String {
        if n == old {
            target.to_string()
        } else if n == target {
            old.clone()
        } else {
            n.to_string()
        }
    };
    let target_follows = cluster.node(target).and_then(|n| n.replicaof.clone());
    cluster
        .nodes
        .iter()
        .map(|n| {
            let follows = if n.name == target {
                None
            } else if n.name == old {
                target_follows.as_deref().map(swap)
            } else {
                n.replicaof.as_deref().map(swap)
            };
            (n.name.clone(), follows)
        })
        .collect()
}

/// `cluster` with a new topology.
pub fn with_topology(cluster: &Cluster, topo: &BTreeMap<String, Option<String>>) -> Cluster {
    let mut c = cluster.clone();
    for n in &mut c.nodes {
        n.replicaof = topo.get(&n.name).cloned().flatten();
    }
    c
}

/// What promote found before changing anything: every node's connection and Redis link, in
/// inventory order. Shared by the direct switch (here) and the switch through the sentinels
/// ([`crate::cli::sentinel_promote`]).
pub struct Inspected<'a> {
    /// The inventory file (edited at the end).
    pub inventory: &'a Path,
    /// The cluster as the inventory says it.
    pub cluster: &'a Cluster,
    /// The servers' config template.
    pub template: &'a Template,
    /// The promote's options.
    pub opts: &'a Options,
    /// Where progress goes.
    pub progress: &'a Progress,
    /// Each node's connection (SSH or local), or why there is none.
    pub conns: Vec<Result<NodeConn, NodeError>>,
    /// Each node's Redis link, or why there is none.
    pub links: Vec<Result<Link, String>>,
    /// Whether the master answers.
    pub master_up: bool,
    /// When promote started.
    pub started: Instant,
}

impl Inspected<'_> {
    /// The index of a node (inventory order).
    pub fn idx(&self, name: &str) -> usize {
        self.cluster
            .nodes
            .iter()
            .position(|n| n.name == name)
            .expect("an inventory node")
    }

    /// The password of the servers.
    pub fn password(&self) -> Option<&str> {
        self.cluster.password.as_ref().map(|p| p.expose())
    }

    /// Node `i`'s connection (it has one: its link is open).
    pub fn conn(&self, i: usize) -> &NodeConn {
        conn(&self.conns[i])
    }

    /// Runs one command on node `i` over its link, opening a new link when the old one was
    /// closed (a sentinel's reconfiguration kills normal clients).
    pub async fn cmd(&mut self, i: usize, args: &[&str]) -> anyhow::Result<Reply> {
        if let Ok(l) = self.links[i].as_mut() {
            match l.cmd(args).await {
                Err(LinkError::Io(_) | LinkError::Timeout { .. }) => {}
                r => return r.map_err(|e| conn(&self.conns[i]).redis_err(e).into()),
            }
        }
        let c = conn(&self.conns[i]);
        let mut l = c.redis(self.password()).await?;
        let r = l.cmd(args).await.map_err(|e| c.redis_err(e));
        self.links[i] = Ok(l);
        Ok(r?)
    }

    /// Pauses writes on node `mi` (the master) for `pause`, then waits until node `ti` has
    /// every write it took. On failure the writes are resumed. Nothing acknowledged after this
    /// point is missing on `ti`: writes wait.
    pub async fn pause_and_catch_up(
        &mut self,
        mi: usize,
        ti: usize,
        pause: Duration,
    ) -> anyhow::Result<()> {
        let old = self.cluster.nodes[mi].name.clone();
        self.progress.step(&old, "pausing writes");
        self.cmd(
            mi,
            &["CLIENT", "PAUSE", &pause.as_millis().to_string(), "WRITE"],
        )
        .await?;
        let result = self.wait_caught_up(mi, ti).await;
        if result.is_err() {
            let _ = self.cmd(mi, &["CLIENT", "UNPAUSE"]).await;
        }
        result
    }

    /// Waits until node `ti`'s offset reaches node `mi`'s offset now (the master no longer
    /// takes writes: paused or fenced); at most half of `--wait`.
    pub async fn wait_caught_up(&mut self, mi: usize, ti: usize) -> anyhow::Result<()> {
        let target = self.cluster.nodes[ti].name.clone();
        let wait = self.opts.wait / 2;
        let m_off = self.info(mi).await?.offset();
        self.progress
            .step(&target, &format!("catching up to offset {m_off}"));
        let t0 = Instant::now();
        loop {
            let off = self.info(ti).await?.offset();
            if off >= m_off {
                return Ok(());
            }
            if t0.elapsed() > wait {
                bail!(
                    "{target} did not catch up with the master within {}s (offset {off} of \
                     {m_off}); nothing was switched, writes are resumed",
                    wait.as_secs(),
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// `INFO replication` of node `i`.
    async fn info(&mut self, i: usize) -> anyhow::Result<crate::cli::redis_link::Info> {
        let c = conn(&self.conns[i]);
        match self.links[i].as_mut() {
            Ok(l) => Ok(l.info("replication").await.map_err(|e| c.redis_err(e))?),
            Err(e) => bail!("{}: {e}", c.name()),
        }
    }

    /// With the master gone (`--force`): notes how far behind the most advanced reachable
    /// node `target` is, at their last contact with the master.
    pub async fn note_force_loss(&mut self, target: &str) {
        let mut offsets = Vec::new();
        for (i, l) in self.links.iter_mut().enumerate() {
            if let Ok(l) = l
                && let Ok(info) = l.info("replication").await
            {
                offsets.push((self.cluster.nodes[i].name.clone(), info.offset()));
            }
        }
        let t_off = offsets
            .iter()
            .find(|(n, _)| n == target)
            .map(|o| o.1)
            .unwrap_or(0);
        let (best, best_off) = offsets
            .iter()
            .max_by_key(|o| o.1)
            .cloned()
            .unwrap_or((target.to_string(), t_off));
        self.progress.note(&format!(
            "--force: the master {} is unreachable; {target} is at offset {t_off}, {} bytes \
             behind the most advanced reachable node ({best}, offset {best_off}) at its last \
             contact with the master; anything the master acknowledged after that is lost",
            self.cluster.master().name,
            best_off - t_off
        ));
    }

    /// Makes node `i` a replica of `to` (masterauth first when there is a password: a former
    /// master never needed it).
    pub async fn replicaof(&mut self, i: usize, to: &str) -> anyhow::Result<()> {
        let n = self.cluster.node(to).expect("an inventory node");
        let (h, p) = (n.host.clone(), n.port.to_string());
        // The old master never needed a master login; every replica needs it
        // (the replication user when the inventory has one, else the shared password).
        match self.cluster.master_login() {
            (Some(user), Some(pw)) => {
                let pw = pw.expose().to_string();
                self.cmd(i, &["CONFIG", "SET", "masteruser", user, "masterauth", &pw])
                    .await?;
            }
            (None, Some(pw)) => {
                let pw = pw.expose().to_string();
                self.cmd(i, &["CONFIG", "SET", "masterauth", &pw]).await?;
            }
            _ => {}
        }
        self.cmd(i, &["REPLICAOF", &h, &p]).await?;
        Ok(())
    }
}

/// Runs a promote; returns the verify report's success.
pub async fn promote(
    inventory: &Path,
    cluster: &Cluster,
    template: &Template,
    target: &str,
    opts: &Options,
    progress: &Progress,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let Some(target_node) = cluster.node(target) else {
        bail!(
            "no node named {target:?} in {}; nodes: {}",
            inventory.display(),
            cluster
                .nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let old = cluster.master().clone();
    if target_node.replicaof.is_none() {
        progress.note(&format!("{target} is already the master; nothing to do"));
        return Ok(true);
    }
    let topo = new_topology(cluster, target);
    let new_cluster = with_topology(cluster, &topo);
    render::render_all(&new_cluster, template)?;

    // Connect and open links.
    for n in &cluster.nodes {
        progress.step(&n.name, "connecting");
    }
    let conns = node::connect_all(cluster, opts.new_host_keys).await;
    let links = futures::future::join_all(conns.iter().map(|c| async move {
        match c {
            Ok(c) => c.redis(pw).await,
            Err(e) => Err(NodeError::Local {
                node: String::new(),
                message: e.to_string(),
            }),
        }
    }))
    .await;
    let idx = |name: &str| cluster.nodes.iter().position(|n| n.name == name).unwrap();
    let (ti, mi) = (idx(target), idx(&old.name));
    let mut links: Vec<Result<Link, String>> = links
        .into_iter()
        .zip(&conns)
        .map(|(l, c)| match (l, c) {
            (_, Err(e)) => Err(e.to_string()),
            (Ok(l), _) => Ok(l),
            (Err(e), _) => Err(e.to_string()),
        })
        .collect();
    if let Err(e) = &links[ti] {
        bail!("cannot promote {target}: {e}; nothing was changed");
    }
    let master_up = links[mi].is_ok();
    if !master_up && !opts.force {
        bail!(
            "the master {} does not answer ({}); nothing was changed. Promoting {target} now \
             may lose the writes the master acknowledged but had not sent yet. If {} is lost \
             for good, re-run with --force",
            old.name,
            links[mi].as_ref().err().unwrap(),
            old.name
        );
    }
    if !opts.force {
        let down: Vec<String> = links
            .iter()
            .zip(&cluster.nodes)
            .filter_map(|(l, n)| l.as_ref().err().map(|e| format!("{}: {e}", n.name)))
            .collect();
        if !down.is_empty() {
            bail!(
                "some nodes do not answer; nothing was changed (bring them back, or use --force \
                 to re-point only the reachable ones):\n  {}",
                down.join("\n  ")
            );
        }
    }
    // The target must be a replica that is in touch.
    {
        let tl = links[ti].as_mut().unwrap();
        let info = tl
            .info("replication")
            .await
            .map_err(|e| conn(&conns[ti]).redis_err(e))?;
        if info.role() != "slave" {
            bail!(
                "{target} is not a replica (role {}); run `redrepl deploy {}` first",
                info.role(),
                inventory.display()
            );
        }
    }
    // Running sentinels would turn a directly promoted target back into a replica: the
    // switch goes through them.
    let sentinels = crate::cli::sentinel::running(cluster, &conns, pw).await;
    let mut ins = Inspected {
        inventory,
        cluster,
        template,
        opts,
        progress,
        conns,
        links,
        master_up,
        started,
    };
    if !sentinels.is_empty() {
        return crate::cli::sentinel_promote::promote(ins, target, sentinels).await;
    }

    let plan = plan(cluster, target, &topo, &ins.links, master_up);
    if opts.dry_run {
        return Ok(print_dry_run(&ins, &plan.describe(inventory)));
    }

    let mut paused = false;
    if master_up {
        // Safe switchover.
        ins.pause_and_catch_up(mi, ti, opts.wait).await?;
        paused = true;
    } else {
        ins.note_force_loss(target).await;
    }

    // Switch.
    let switch = async {
        progress.step(target, "REPLICAOF NO ONE");
        ins.cmd(ti, &["REPLICAOF", "NO", "ONE"]).await?;
        for (i, n) in cluster.nodes.iter().enumerate() {
            let follows = match plan.step(&n.name) {
                Step::Repoint { to } => to,
                Step::Unreachable => {
                    progress.done(&n.name, "unreachable: not re-pointed");
                    continue;
                }
                _ => continue,
            };
            if ins.links[i].is_err() {
                continue;
            }
            progress.step(&n.name, &format!("REPLICAOF {follows}"));
            ins.replicaof(i, follows).await?;
        }
        for i in 0..cluster.nodes.len() {
            if ins.links[i].is_ok() {
                ins.cmd(i, &["CONFIG", "REWRITE"]).await?;
            }
        }
        Ok::<(), anyhow::Error>(())
    }
    .await;
    if paused {
        let _ = ins.cmd(mi, &["CLIENT", "UNPAUSE"]).await;
    }
    switch?;
    let switched_in = started.elapsed();
    finish(ins, &plan, &topo, switched_in).await
}

/// `--dry-run`: marks every node unchanged and prints the plan's lines; returns true.
pub fn print_dry_run(ins: &Inspected<'_>, lines: &[String]) -> bool {
    for n in &ins.cluster.nodes {
        ins.progress.done(&n.name, "nothing changed (dry run)");
    }
    ins.progress.finish();
    crate::outln!("dry run: nothing was changed. The plan:");
    for line in lines {
        crate::outln!("  {line}");
    }
    true
}

/// After the switch (`plan.target` is the master, replication as `topo` says): the inventory
/// edited, each reachable node's config as `render` makes it from the new inventory, nodes
/// whose server is down started as replicas, then wait for sync and verify. Returns verify's
/// success.
pub async fn finish(
    ins: Inspected<'_>,
    plan: &Plan,
    topo: &BTreeMap<String, Option<String>>,
    switched_in: Duration,
) -> anyhow::Result<bool> {
    let Inspected {
        inventory,
        cluster,
        template,
        opts,
        progress,
        conns,
        links,
        started,
        ..
    } = ins;
    let target = plan.target.as_str();
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let idx = |name: &str| cluster.nodes.iter().position(|n| n.name == name).unwrap();
    let new_cluster = with_topology(cluster, topo);
    let rendered = render::render_all(&new_cluster, template)?;
    // The inventory.
    update_inventory_file(inventory, cluster, topo)
        .with_context(|| format!("{target} is the master now, but"))?;
    progress.note(&format!(
        "{} updated: {target} is the master, {} follows {}",
        inventory.display(),
        plan.old_master,
        topo[&plan.old_master].as_deref().unwrap_or("-")
    ));

    // Configs as render makes them from the new inventory; start what is down.
    let ok_conns: Vec<&NodeConn> = conns.iter().filter_map(|c| c.as_ref().ok()).collect();
    for c in &ok_conns {
        let i = idx(c.name());
        c.write_file(rendered[i].1.as_bytes(), &c.node.config_path, 0o600)
            .await?;
    }
    let depths = node::depths(&new_cluster);
    let mut order: Vec<usize> = (0..cluster.nodes.len()).collect();
    order.sort_by_key(|&i| depths[i]);
    for i in order {
        if let (Step::StartAsReplica { .. }, Ok(c)) = (plan.step(&cluster.nodes[i].name), &conns[i])
        {
            progress.step(c.name(), "starting as a replica");
            c.start(new_cluster.engine, pw, opts.wait).await?;
        }
    }
    drop(links);
    let ok_names: Vec<String> = ok_conns.iter().map(|c| c.name().to_string()).collect();
    drop(ok_conns);
    // The same connections, now describing the new topology: wait for sync, then verify.
    let mut conns = conns;
    for (c, n) in conns.iter_mut().zip(&new_cluster.nodes) {
        if let Ok(c) = c {
            c.node = n.clone();
        }
    }
    let reachable: Vec<&NodeConn> = conns.iter().filter_map(|c| c.as_ref().ok()).collect();
    deploy::wait_synced(&new_cluster, &reachable, opts.wait, progress).await?;
    for name in &ok_names {
        progress.done(
            name,
            match &topo[name] {
                None => "master",
                Some(_) => "replica",
            },
        );
    }
    progress.finish();
    let report = crate::cli::verify::verify(
        &new_cluster,
        &conns,
        opts.wait,
        &inventory.display().to_string(),
    )
    .await;
    let color =
        crate::cli::progress::color_ok(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    crate::out!("{}", crate::cli::verify::table(&report, color));
    crate::outln!(
        "promote: {target} is the master (switched in {:.2}s, verified in {:.2}s)",
        switched_in.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(report.ok)
}

fn conn(c: &Result<NodeConn, NodeError>) -> &NodeConn {
    c.as_ref().expect("connected")
}

/// Edits the inventory text: in each node's block under `nodes:`, the `role:`/`replicaof:`
/// line becomes the new one (indentation and trailing comment kept). Returns None when the
/// file's shape is not one this edit understands.
pub fn edit_inventory(
    text: &str,
    cluster: &Cluster,
    topo: &BTreeMap<String, Option<String>>,
) -> Option<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let nodes_at = lines.iter().position(|l| {
        l.trim_end() == "nodes:" || l.starts_with("nodes:") && l[6..].trim_start().starts_with('#')
    })?;
    for n in &cluster.nodes {
        let new = &topo[&n.name];
        if *new == n.replicaof {
            continue;
        }
        // The node's block: a line `<indent><name>:` after `nodes:`, up to the next line
        // indented as much or less.
        let mut start = None;
        let mut indent = 0;
        for (i, l) in lines.iter().enumerate().skip(nodes_at + 1) {
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let ind = l.len() - t.len();
            if ind == 0 {
                break;
            }
            let key = t
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\'']);
            if key == n.name && t[t.find(':')? + 1..].trim_start().is_empty_or_comment() {
                start = Some(i);
                indent = ind;
                break;
            }
        }
        let start = start?;
        let mut found = None;
        for (i, l) in lines.iter().enumerate().skip(start + 1) {
            let t = l.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if l.len() - t.len() <= indent {
                break;
            }
            if t.starts_with("role:") || t.starts_with("replicaof:") {
                if found.is_some() {
                    return None;
                }
                found = Some(i);
            }
        }
        let i = found?;
        let l = &lines[i];
        let t = l.trim_start();
        let ind = &l[..l.len() - t.len()];
        // The trailing comment with the spaces before it.
        let comment = t
            .find(" #")
            .map(|p| &t[t[..p].trim_end().len()..])
            .unwrap_or("");
        let body = match new {
            None => "role: master".to_string(),
            Some(m) => format!("replicaof: {m}"),
        };
        lines[i] = format!("{ind}{body}{comment}");
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    Some(out)
}

trait EmptyOrComment {
    fn is_empty_or_comment(&self) -> bool;
}
impl EmptyOrComment for str {
    fn is_empty_or_comment(&self) -> bool {
        let t = self.trim();
        t.is_empty() || t.starts_with('#')
    }
}

/// Rewrites the inventory file with the new topology, checking that it reads back as meant.
pub fn update_inventory_file(
    path: &Path,
    cluster: &Cluster,
    topo: &BTreeMap<String, Option<String>>,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {} to update it", path.display()))?;
    let manual = || {
        topo.iter()
            .map(|(n, m)| match m {
                None => format!("nodes.{n}: role: master"),
                Some(m) => format!("nodes.{n}: replicaof: {m}"),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let Some(new_text) = edit_inventory(&text, cluster, topo) else {
        bail!(
            "{} could not be edited automatically; set by hand: {}",
            path.display(),
            manual()
        );
    };
    // It must read back with exactly the new topology.
    let inv = crate::cli::inventory::parse(&new_text, path)?;
    let back: BTreeMap<String, Option<String>> = inv
        .nodes
        .iter()
        .map(|(n, s)| {
            (
                n.clone(),
                s.replicaof
                    .clone()
                    .or(inv.defaults.replicaof.clone())
                    .filter(|_| s.role.is_none()),
            )
        })
        .collect();
    if &back != topo {
        bail!(
            "{} could not be edited automatically; set by hand: {}",
            path.display(),
            manual()
        );
    }
    let tmp = path.with_extension("yaml.redrepl-tmp");
    std::fs::write(&tmp, new_text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(text: &str) -> Cluster {
        let inv = crate::cli::inventory::parse(text, Path::new("x.yaml")).unwrap();
        crate::cli::validate::validate(&inv, Path::new("/tmp"), &|_| None).unwrap()
    }

    const INV: &str = "# top comment\ncluster: c\nauth:\n  password: pw-123456789\ndefaults:\n  transport: local\n  host: 127.0.0.1\n  dir: /tmp/x/{node}\nnodes:\n  node1:\n    role: master   # the first\n    port: 7001\n  node2:\n    # follows node1\n    replicaof: node1\n    port: 7002\n  node3:\n    replicaof: node2\n    port: 7003\n";

    #[test]
    fn promote_swaps_positions_and_keeps_depths() {
        let c = cluster(INV);
        let t = new_topology(&c, "node2");
        assert_eq!(t["node2"], None);
        assert_eq!(t["node1"].as_deref(), Some("node2"));
        assert_eq!(t["node3"].as_deref(), Some("node1"));
        let t = new_topology(&c, "node3");
        assert_eq!(t["node3"], None);
        assert_eq!(t["node2"].as_deref(), Some("node3"));
        assert_eq!(t["node1"].as_deref(), Some("node2"));
    }

    #[test]
    fn the_inventory_edit_keeps_comments() {
        let c = cluster(INV);
        let t = new_topology(&c, "node2");
        let out = edit_inventory(INV, &c, &t).unwrap();
        assert!(out.contains("# top comment\n"));
        assert!(
            out.contains("  node1:\n    replicaof: node2   # the first\n"),
            "{out}"
        );
        assert!(
            out.contains("    # follows node1\n    role: master\n"),
            "{out}"
        );
        assert!(out.contains("  node3:\n    replicaof: node1\n"), "{out}");
        let c2 = cluster(&out);
        assert_eq!(c2.master().name, "node2");
    }
}
