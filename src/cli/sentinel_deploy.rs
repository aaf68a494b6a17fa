//! Deploying the sentinels, after the servers: inspect each node's sentinel (config file
//! there? running?), then write the file and start only new sentinels, start stopped ones
//! with the state they saved, and change the settings of running ones with SENTINEL SET
//! (a sentinel rewrites its own file, so redrepl never writes over it), then wait until every
//! sentinel sees the master, its replicas and the other sentinels.
//!
//! A changed password (its login lines differ, see [`crate::cli::sentinel_login`]) is handed
//! over before the servers restart with it ([`handover`]): the servers take the new password
//! beside the old, then each sentinel restarts with the inventory's login lines in its file,
//! one at a time, and the servers' restart drops the old password. So a sentinel never loses
//! the servers on the way (which would make them look down) and never fails over mid-change.

use crate::cli::cluster::Cluster;
use crate::cli::node::{NodeConn, NodeError};
use crate::cli::progress::Progress;
use crate::cli::secret::Secret;
use crate::cli::sentinel::{self, Files};
use crate::cli::sentinel_login::{self, Login};
use crate::cli::ssh::shell_quote;
use crate::cli::template::{Template, TemplateError};
use std::time::{Duration, Instant};

/// What happens to one node's sentinel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Running with the inventory's settings.
    Unchanged,
    /// No config file: write it (0600) and start.
    Create,
    /// Config file there, not running: start it (it keeps its saved state).
    Start,
    /// Running with other settings: `SENTINEL SET <name> <option> <value>` for each.
    Set(Vec<(String, String)>),
    /// Its file has other login lines than the inventory's (a changed password): [`handover`]
    /// replaces them, restarting a running sentinel.
    Login {
        /// Whether it runs now.
        running: bool,
        /// What changes, by key (`auth-pass`, `user admin`, ...), never a value.
        what: Vec<String>,
        /// The password it logs in to the servers with now (`auth-pass`): the default user's
        /// old password when there are no `users:`.
        old_auth: Option<Secret>,
    },
}

/// The plan for one node's sentinel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The node.
    pub node: String,
    /// Its sentinel's files.
    pub files: Files,
    /// What happens.
    pub action: Action,
}

impl Plan {
    /// One line for the plan.
    pub fn describe(&self) -> String {
        match &self.action {
            Action::Unchanged => format!("sentinel on port {} unchanged", self.files.port),
            Action::Create => format!(
                "write {} (0600) and start the sentinel on port {}",
                self.files.config_path, self.files.port
            ),
            Action::Start => format!(
                "start the sentinel on port {} (its file keeps its state)",
                self.files.port
            ),
            Action::Set(diffs) => format!(
                "SENTINEL SET {} on port {}",
                diffs
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.files.port
            ),
            Action::Login { running, what, .. } => format!(
                "new login for the sentinel on port {} ({}): {}",
                self.files.port,
                what.iter()
                    .map(|w| format!("{w} (redacted)"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if *running {
                    "the servers take the new password beside the old, then the sentinel \
                     restarts with its file's login lines replaced, one sentinel at a time"
                } else {
                    "its file's login lines replaced, then it starts"
                }
            ),
        }
    }
}

/// The settings the inventory wants, as SENTINEL MASTER names them.
fn wanted(cluster: &Cluster) -> Vec<(String, String)> {
    let s = cluster.sentinels.as_ref().expect("sentinels are on");
    vec![
        ("quorum".into(), s.quorum.to_string()),
        (
            "down-after-milliseconds".into(),
            s.down_after_ms.to_string(),
        ),
        ("failover-timeout".into(), s.failover_timeout_ms.to_string()),
        ("parallel-syncs".into(), s.parallel_syncs.to_string()),
    ]
}

/// The settings of a running sentinel that differ from the inventory's.
async fn differences(
    cluster: &Cluster,
    c: &NodeConn,
    port: u16,
    pw: Option<&str>,
) -> Result<Vec<(String, String)>, NodeError> {
    let name = &cluster
        .sentinels
        .as_ref()
        .expect("sentinels are on")
        .master_name;
    let mut link = sentinel::link(c, port, pw).await?;
    let view = sentinel::master_view(&mut link, name)
        .await
        .map_err(|e| sentinel::link_err(c, port, e))?;
    Ok(wanted(cluster)
        .into_iter()
        .filter(|(k, v)| view.get(k) != Some(v.as_str()))
        .collect())
}

/// The text of the sentinel's config file, None when there is none.
async fn read_config(c: &NodeConn, files: &Files) -> Result<Option<String>, NodeError> {
    let path = shell_quote(&files.config_path);
    let out = c
        .sh_ok(&format!(
            "if [ -f {path} ]; then echo exists; cat {path}; fi; true"
        ))
        .await?
        .stdout_str();
    Ok(out.strip_prefix("exists\n").map(str::to_string))
}

/// The node's sentinel.conf as the inventory renders it.
fn rendered(template: &Template, cluster: &Cluster, c: &NodeConn) -> Result<String, TemplateError> {
    sentinel::render(template, cluster, &c.node).expect("the node has a sentinel")
}

/// A template error of the node's sentinel.conf, naming the node.
fn template_err(c: &NodeConn, e: TemplateError) -> NodeError {
    NodeError::Local {
        node: c.node.name.clone(),
        message: format!("sentinel.conf: {e}"),
    }
}

/// Inspects every sentinel (read-only). `conns` are in inventory order.
pub async fn inspect(
    cluster: &Cluster,
    template: &Template,
    conns: &[NodeConn],
) -> Result<Vec<Plan>, Vec<String>> {
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let tasks = conns.iter().filter_map(|c| {
        let files = sentinel::files(&c.node).filter(|_| cluster.sentinels.is_some())?;
        let name = &cluster.sentinels.as_ref()?.master_name;
        Some(async move {
            let file = read_config(c, &files).await?;
            let exists = file.is_some();
            let (what, old_auth) = match &file {
                Some(text) => {
                    let now = Login::of(text, name);
                    let want = rendered(template, cluster, c).map_err(|e| template_err(c, e))?;
                    let want = Login::of(&want, name);
                    (
                        now.changes(&want),
                        now.auth_pass().map(|p| Secret::new(p.to_string())),
                    )
                }
                None => (Vec::new(), None),
            };
            let login = |running| Action::Login {
                running,
                what: what.clone(),
                old_auth: old_auth.clone(),
            };
            let action = match sentinel::link(c, files.port, pw).await {
                Err(NodeError::NotRunning { .. }) if !what.is_empty() => login(false),
                Err(NodeError::NotRunning { .. }) if exists => Action::Start,
                Err(NodeError::NotRunning { .. }) => Action::Create,
                // It answers, but not to the inventory's login: its own changes.
                Err(_) if !what.is_empty() => login(true),
                Err(e) => return Err(e),
                Ok(_) if !what.is_empty() => login(true),
                Ok(link) => {
                    drop(link);
                    match differences(cluster, c, files.port, pw).await? {
                        d if d.is_empty() => Action::Unchanged,
                        d => Action::Set(d),
                    }
                }
            };
            Ok(Plan {
                node: c.node.name.clone(),
                files,
                action,
            })
        })
    });
    let mut plans = Vec::new();
    let mut errors = Vec::new();
    for r in futures::future::join_all(tasks).await {
        match r {
            Ok(p) => plans.push(p),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(plans)
    } else {
        Err(errors)
    }
}

/// Carries the plans out, then waits until every sentinel sees the whole cluster.
pub async fn apply(
    cluster: &Cluster,
    template: &Template,
    conns: &[NodeConn],
    plans: &[Plan],
    wait: Duration,
    progress: &Progress,
) -> anyhow::Result<()> {
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let engine = cluster.sentinels.as_ref().expect("sentinels are on").engine;
    let name = &cluster
        .sentinels
        .as_ref()
        .expect("sentinels are on")
        .master_name;
    let conn = |p: &Plan| {
        conns
            .iter()
            .find(|c| c.name() == p.node)
            .expect("a plan per connected node")
    };
    for p in plans {
        let c = conn(p);
        if p.action == Action::Create {
            progress.step(c.name(), "writing sentinel config");
            let text =
                sentinel::render(template, cluster, &c.node).expect("the node has a sentinel")?;
            c.sh_ok(&format!("mkdir -p {}", shell_quote(&c.node.dir)))
                .await?;
            c.write_file(text.as_bytes(), &p.files.config_path, 0o600)
                .await?;
        }
        if matches!(p.action, Action::Create | Action::Start) {
            progress.step(c.name(), "starting sentinel");
            c.sh_ok(&sentinel::start_command(c, engine, &p.files))
                .await?;
        }
    }
    // Every sentinel answers; then the settings (also of the ones just started from an older
    // file) are made the inventory's.
    for p in plans {
        let c = conn(p);
        wait_answering(c, &p.files, pw, wait).await?;
        for (k, v) in differences(cluster, c, p.files.port, pw).await? {
            progress.step(c.name(), &format!("SENTINEL SET {k} {v}"));
            let mut link = sentinel::link(c, p.files.port, pw).await?;
            link.cmd(&["SENTINEL", "SET", name, &k, &v])
                .await
                .map_err(|e| sentinel::link_err(c, p.files.port, e))?;
        }
    }
    wait_converged(cluster, conns, plans, wait, progress).await
}

/// Waits until the sentinel answers to the inventory's login.
async fn wait_answering(
    c: &NodeConn,
    files: &Files,
    pw: Option<&str>,
    wait: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        match sentinel::link(c, files.port, pw).await {
            Ok(_) => return Ok(()),
            Err(_) if start.elapsed() < wait => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => {
                anyhow::bail!(
                    "{e}\nthe sentinel did not answer within {}s; see its log {}",
                    wait.as_secs(),
                    files.logfile
                )
            }
        }
    }
}

/// Hands a changed password over to the sentinels, before the servers restart with it (see
/// the module doc): each running server takes the new password of the sentinels' login
/// beside the old one (`ACL SETUSER <user> ><new>`; a server the orchestrator cannot log in
/// to any more gets it at its restart), then each sentinel of an [`Action::Login`] plan is
/// stopped, its file's login lines replaced by the inventory's, and started again, one at a
/// time, so the others keep their quorum. Nothing for other plans.
pub async fn handover(
    cluster: &Cluster,
    template: &Template,
    conns: &[NodeConn],
    plans: &[Plan],
    wait: Duration,
    progress: &Progress,
) -> anyhow::Result<()> {
    let changing: Vec<&Plan> = plans
        .iter()
        .filter(|p| matches!(p.action, Action::Login { .. }))
        .collect();
    if changing.is_empty() {
        return Ok(());
    }
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let s = cluster.sentinels.as_ref().expect("sentinels are on");
    // The user the sentinels log in to the servers as, and its password from now on.
    let (user, new) = match cluster.security.user(crate::cli::users::UserRole::Sentinel) {
        Some(u) => (
            "sentinel user",
            Some((u.name.as_str(), u.password.expose())),
        ),
        None => (
            "default user",
            cluster
                .security
                .default_password
                .as_ref()
                .map(|p| ("default", p.expose())),
        ),
    };
    let old = changing.iter().find_map(|p| match &p.action {
        Action::Login { old_auth, .. } => old_auth.as_ref().map(Secret::expose),
        _ => None,
    });
    if let Some((name, new)) = new {
        for c in conns {
            let link = match c.redis(pw).await {
                Ok(l) => Some(l),
                Err(NodeError::NotRunning { .. }) => None,
                // The default user's password changed: the server knows the old one.
                Err(_) if c.node.access.user.is_none() && old.is_some() => c.redis(old).await.ok(),
                Err(_) => None,
            };
            let Some(mut link) = link else {
                progress.step(
                    c.name(),
                    "server not running or not reachable with a known login: it takes the \
                     new password when it starts",
                );
                continue;
            };
            progress.step(
                c.name(),
                &format!("ACL SETUSER: the {user}'s new password beside the old"),
            );
            let rule = format!(">{new}");
            let reply = link
                .raw(&[b"ACL", b"SETUSER", name.as_bytes(), rule.as_bytes()])
                .await
                .map_err(|e| c.redis_err(e))?;
            if let crate::cli::redis_link::Reply::Error(e) = reply {
                anyhow::bail!(
                    "{}: ACL SETUSER of the {user} refused: {}",
                    c.name(),
                    e.split_whitespace().next().unwrap_or("ERR")
                );
            }
        }
    }
    for p in changing {
        let c = conns
            .iter()
            .find(|c| c.name() == p.node)
            .expect("a plan per connected node");
        if matches!(p.action, Action::Login { running: true, .. }) {
            progress.step(c.name(), "stopping the sentinel (new login lines)");
            sentinel::stop(c, &p.files, pw, wait).await?;
        }
        progress.step(c.name(), "replacing the sentinel's login lines (0600)");
        let now = read_config(c, &p.files).await?.unwrap_or_default();
        let text = sentinel_login::replace_login_lines(
            &now,
            &rendered(template, cluster, c)?,
            &s.master_name,
        );
        c.write_file(text.as_bytes(), &p.files.config_path, 0o600)
            .await?;
        progress.step(c.name(), "starting the sentinel");
        c.sh_ok(&sentinel::start_command(c, s.engine, &p.files))
            .await?;
        wait_answering(c, &p.files, pw, wait).await?;
    }
    Ok(())
}

/// Waits until every sentinel watches the inventory's master, knows its direct replicas and
/// every other sentinel.
pub async fn wait_converged(
    cluster: &Cluster,
    conns: &[NodeConn],
    plans: &[Plan],
    wait: Duration,
    progress: &Progress,
) -> anyhow::Result<()> {
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let name = &cluster
        .sentinels
        .as_ref()
        .expect("sentinels are on")
        .master_name;
    let master = cluster.master();
    let want_addr = format!("{}:{}", master.host, master.port);
    let replicas = cluster
        .nodes
        .iter()
        .filter(|n| n.replicaof.as_deref() == Some(master.name.as_str()))
        .count() as i64;
    let others = plans.len() as i64 - 1;
    let tasks = plans.iter().map(|p| {
        let c = conns
            .iter()
            .find(|c| c.name() == p.node)
            .expect("a plan per connected node");
        let want_addr = &want_addr;
        async move {
            progress.step(c.name(), "waiting for the sentinel to see the cluster");
            let start = Instant::now();
            loop {
                let mut link = sentinel::link(c, p.files.port, pw).await?;
                let view = sentinel::master_view(&mut link, name)
                    .await
                    .map_err(|e| sentinel::link_err(c, p.files.port, e))?;
                let seen = (
                    view.int("num-slaves").unwrap_or(0),
                    view.int("num-other-sentinels").unwrap_or(0),
                );
                let resolved_addr = sentinel::node_at(
                    cluster,
                    view.get("ip").unwrap_or(""),
                    view.int("port").unwrap_or(0) as u16,
                )
                .map(|n| format!("{}:{}", n.host, n.port));
                if resolved_addr.as_deref() == Some(want_addr.as_str())
                    && seen.0 >= replicas
                    && seen.1 >= others
                {
                    return Ok(());
                }
                if start.elapsed() > wait {
                    anyhow::bail!(
                        "{}: the sentinel on port {} does not see the whole cluster after {}s \
                         (master {} of {want_addr}, {} of {replicas} replicas, {} of {others} \
                         other sentinels); see its log {}",
                        c.name(),
                        p.files.port,
                        wait.as_secs(),
                        view.addr(),
                        seen.0,
                        seen.1,
                        p.files.logfile
                    );
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    for r in futures::future::join_all(tasks).await {
        r?;
    }
    for p in plans {
        progress.done(
            &p.node,
            "sentinel sees the master, its replicas and the other sentinels",
        );
    }
    Ok(())
}

/// What `deploy --prune` adds for the sentinels, one line for the plan and the report.
pub fn describe_reset(cluster: &Cluster) -> Option<String> {
    let s = cluster.sentinels.as_ref()?;
    Some(format!(
        "sentinels: SENTINEL RESET {} on each, one at a time, after the prune (they would list \
         the pruned replicas as down forever)",
        s.master_name
    ))
}

/// After `deploy --prune` shut servers down: `SENTINEL RESET <name>` on every sentinel, one
/// at a time, each followed by the wait until all of them see the cluster again (a sentinel
/// that was reset rediscovers the replicas and the other sentinels), as operators do by hand.
pub async fn reset_after_prune(
    cluster: &Cluster,
    conns: &[NodeConn],
    plans: &[Plan],
    wait: Duration,
    progress: &Progress,
) -> anyhow::Result<()> {
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let name = &cluster
        .sentinels
        .as_ref()
        .expect("sentinels are on")
        .master_name;
    for p in plans {
        let c = conns
            .iter()
            .find(|c| c.name() == p.node)
            .expect("a plan per connected node");
        progress.step(c.name(), &format!("SENTINEL RESET {name} (--prune)"));
        let mut link = sentinel::link(c, p.files.port, pw).await?;
        link.cmd(&["SENTINEL", "RESET", name])
            .await
            .map_err(|e| sentinel::link_err(c, p.files.port, e))?;
        drop(link);
        wait_converged(cluster, conns, plans, wait, progress).await?;
    }
    Ok(())
}
