//! The orchestrator: inventory model, validation, rendering and the subcommands built on them.
//! Library code returns typed errors; the `run_*` functions are the CLI edge and use anyhow.

pub mod backup;
pub mod certs;
pub mod cluster;
pub mod deploy;
pub mod dump_header;
pub mod files;
pub mod init;
pub mod inventory;
pub mod logs;
pub mod master_guard;
pub mod metrics;
pub mod node;
pub mod output;
pub mod password;
pub mod persistence;
pub mod progress;
pub mod promote;
pub mod redis_link;
pub mod render;
pub mod restore;
pub mod scale;
pub mod secret;
pub mod security_check;
pub mod sentinel;
pub mod sentinel_adopt;
pub mod sentinel_deploy;
pub mod sentinel_drill;
pub mod sentinel_login;
pub mod sentinel_promote;
pub mod sentinel_status;
pub mod ssh;
pub mod status;
pub mod stop;
pub mod template;
pub mod tls_link;
pub mod upgrade;
pub mod users;
pub mod validate;
pub mod verify;

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// Exit status for any failure other than bad input.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for bad input: an inventory that does not parse or does not validate.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status of `verify` (and of `deploy`/`promote`, which end with it) when the cluster was
/// reached but is not healthy: a replica that does not see the write, a link down, ...
pub const EXIT_UNHEALTHY: u8 = 3;

/// The cluster was reached and is not healthy (exit status [`EXIT_UNHEALTHY`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unhealthy(pub String);

/// The exit status for an error: [`EXIT_BAD_INPUT`] when it comes from the inventory's content,
/// [`EXIT_FAILURE`] otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let bad_input = err.chain().any(|e| {
        e.is::<validate::Problems>()
            || matches!(
                e.downcast_ref::<inventory::LoadError>(),
                Some(inventory::LoadError::Parse { .. })
            )
            || matches!(
                e.downcast_ref::<init::InitError>(),
                Some(init::InitError::NoHosts)
            )
    });
    if bad_input {
        EXIT_BAD_INPUT
    } else if err.chain().any(|e| e.is::<Unhealthy>()) {
        EXIT_UNHEALTHY
    } else {
        EXIT_FAILURE
    }
}

/// Prints an error and its causes, one per line, to stderr.
pub fn print_error(err: &anyhow::Error) {
    crate::errln!("error: {err}");
    for cause in err.chain().skip(1) {
        crate::errln!("  caused by: {cause}");
    }
}

/// The folder an inventory file's relative paths are resolved against.
fn inventory_dir(path: &Path) -> anyhow::Result<PathBuf> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::canonicalize(parent)
        .with_context(|| format!("cannot resolve the folder of {}", path.display()))
}

/// Loads and validates an inventory; returns the cluster and the inventory's folder.
pub fn load_cluster(path: &Path) -> anyhow::Result<(cluster::Cluster, PathBuf)> {
    let inv = inventory::load(path)?;
    let dir = inventory_dir(path)?;
    let cluster = validate::validate(&inv, &dir, &validate::process_env)
        .with_context(|| format!("{} is not valid", path.display()))?;
    Ok((cluster, dir))
}

/// `redrepl init [DIR] [--hosts a,b,c] [--force] [--plain]`.
pub fn run_init(
    dir: &Path,
    hosts: Option<&[String]>,
    force: bool,
    plain: bool,
) -> anyhow::Result<()> {
    let written = init::init(dir, hosts, force, plain).context("init failed")?;
    for p in &written {
        crate::outln!("wrote {}", p.display());
    }
    if plain {
        crate::outln!(
            "a random 32-character password is in auth.password of {} (not shown here)",
            written[0].display()
        );
    } else {
        crate::outln!(
            "random 32-character passwords for the users admin, replication and app are in {} \
             (not shown here); the CA key stays in {} (never uploaded)",
            written[0].display(),
            dir.join(certs::TLS_DIR).display()
        );
    }
    Ok(())
}

/// `redrepl certs renew INVENTORY [--days N]`: reissues every node's certificate (and the
/// orchestrator's client certificate) with the cluster's CA; `deploy` then rolls them out
/// without a restart (CONFIG SET of the certificate files).
pub fn run_certs_renew(inventory: &Path, days: u32) -> anyhow::Result<()> {
    let (cluster, dir) = load_cluster(inventory)?;
    if !cluster.security.tls {
        anyhow::bail!(
            "{} has no `tls: true`: there are no certificates to renew",
            inventory.display()
        );
    }
    let layout = certs::Layout::new(&dir);
    let written = certs::renew(&cluster, &layout, days).context("certs renew failed")?;
    for p in &written.files {
        crate::outln!("wrote {}", p.display());
    }
    crate::outln!(
        "node certificates valid {days} days; run `redrepl deploy {}` to roll them out (no restart)",
        inventory.display()
    );
    Ok(())
}

/// `redrepl render INVENTORY [--out DIR]`.
pub fn run_render(inventory: &Path, out: Option<&Path>) -> anyhow::Result<()> {
    let (cluster, dir) = load_cluster(inventory)?;
    let template = template::Template::for_inventory(&dir)?;
    let out = out
        .map(Path::to_owned)
        .unwrap_or_else(|| dir.join("rendered"));
    let written = render::render_to_dir(&cluster, &template, &out).context("render failed")?;
    crate::outln!("template: {}", template.origin());
    for p in &written {
        crate::outln!("wrote {}", p.display());
    }
    if cluster.sentinels.is_some() {
        let template = sentinel::template_for_inventory(&dir)?;
        let written =
            sentinel::render_to_dir(&cluster, &template, &out).context("render failed")?;
        crate::outln!("sentinel template: {}", template.origin());
        for p in &written {
            crate::outln!("wrote {}", p.display());
        }
    }
    Ok(())
}

/// A runtime for the orchestrator's commands (two threads: a handful of nodes at once).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn stdout_color() -> bool {
    progress::color_ok(std::io::IsTerminal::is_terminal(&std::io::stdout()))
}

fn new_host_keys(accept: bool) -> ssh::NewHostKeys {
    if accept {
        ssh::NewHostKeys::Accept
    } else {
        ssh::NewHostKeys::Refuse
    }
}

/// How long deploy and promote wait for a server to answer or a replica to sync.
const WAIT: std::time::Duration = std::time::Duration::from_secs(60);

fn node_names(cluster: &cluster::Cluster) -> Vec<String> {
    cluster.nodes.iter().map(|n| n.name.clone()).collect()
}

/// Runs verify and prints its table (or JSON); an unhealthy cluster is [`Unhealthy`].
async fn verify_and_print(
    cluster: &cluster::Cluster,
    conns: &[Result<node::NodeConn, node::NodeError>],
    timeout: std::time::Duration,
    inventory: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let report = verify::verify(cluster, conns, timeout, &inventory.display().to_string()).await;
    let sentinel_rows = sentinel_status::view(cluster, conns).await;
    let sentinel_problems = sentinel_status::problems(cluster, &sentinel_rows);
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::out!("{}", verify::table(&report, stdout_color()));
        if !sentinel_rows.is_empty() {
            crate::out!("{}", sentinel_status::table(&sentinel_rows));
            for p in &sentinel_problems {
                crate::outln!("sentinels: {p}");
            }
            if sentinel_problems.is_empty() {
                crate::outln!("sentinels: OK");
            }
        }
    }
    let mut failures = Vec::new();
    if !report.ok {
        let bad: Vec<&str> = report
            .nodes
            .iter()
            .filter(|r| !r.ok)
            .map(|r| r.node.as_str())
            .collect();
        failures.push(format!("verify failed on {}", bad.join(", ")));
    }
    failures.extend(sentinel_problems);
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Unhealthy(failures.join("; ")).into())
    }
}

/// Options of `redrepl deploy` as the command line gives them.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeployArgs {
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--accept-new-host-keys`.
    pub accept_new_host_keys: bool,
    /// `--promote-if-master-lost`.
    pub promote_if_master_lost: bool,
    /// `--prune`.
    pub prune: bool,
}

/// `redrepl deploy INVENTORY [--dry-run] [--accept-new-host-keys] [--promote-if-master-lost]`.
pub fn run_deploy(inventory: &Path, args: DeployArgs) -> anyhow::Result<()> {
    let (cluster, dir) = load_cluster(inventory)?;
    let template = template::Template::for_inventory(&dir)?;
    let sentinel_template = sentinel::template_for_inventory(&dir)?;
    let mut opts = deploy::Options {
        dry_run: args.dry_run,
        new_host_keys: new_host_keys(args.accept_new_host_keys),
        wait: WAIT,
        promote_if_master_lost: args.promote_if_master_lost,
        inventory: inventory.display().to_string(),
        prune: args.prune,
        reconfigured: Default::default(),
    };
    runtime()?.block_on(async {
        let started = std::time::Instant::now();
        let progress = progress::Progress::new(&node_names(&cluster));
        // Before rendering anything: who do the sentinels say the master is?
        let mut cluster = cluster;
        if cluster.sentinels.is_some() {
            let conns = deploy::connect_or_fail(&cluster, opts.new_host_keys, &progress).await?;
            let adopted = sentinel_adopt::adopt(&cluster, &conns, inventory, args.dry_run).await;
            for c in conns {
                c.close().await;
            }
            if let Some(a) = adopted.context("deploy failed")? {
                progress.note(&a.describe(inventory, args.dry_run));
                crate::outln!("{}", a.describe(inventory, args.dry_run));
                opts.reconfigured = a.reconfigured;
                cluster = a.cluster;
            }
        }
        let cluster = &cluster;
        let outcome = deploy::deploy(cluster, &template, &sentinel_template, &opts, &progress)
            .await
            .context("deploy failed")?;
        progress.finish();
        drop(progress);
        let Some(lost) = outcome.master_lost else {
            return print_deploy(cluster, outcome, &opts, inventory, started).await;
        };
        // --promote-if-master-lost: promote the most advanced replica, then carry on.
        let best = lost.best().clone();
        if args.dry_run {
            crate::outln!("dry run: nothing was changed. {}", lost.figures());
            crate::outln!(
                "  would promote {} (the most advanced replica) with --force, then deploy the \
                 updated inventory",
                best.node
            );
            return Ok(());
        }
        crate::errln!(
            "{}; --promote-if-master-lost: promoting {}",
            lost.figures(),
            best.node
        );
        start_stopped_replicas(cluster, outcome.conns, &lost).await?;
        let popts = promote::Options {
            force: true,
            new_host_keys: opts.new_host_keys,
            wait: std::time::Duration::from_secs(20),
            dry_run: false,
        };
        let progress = progress::Progress::new(&node_names(cluster));
        let ok = promote::promote(inventory, cluster, &template, &best.node, &popts, &progress)
            .await
            .with_context(|| format!("promote {} failed", best.node))?;
        drop(progress);
        if !ok {
            return Err(Unhealthy(format!("{} was promoted, but verify failed", best.node)).into());
        }
        // Carry on with the updated inventory.
        let (cluster, _) = load_cluster(inventory)?;
        let opts = deploy::Options {
            promote_if_master_lost: false,
            ..opts
        };
        let progress = progress::Progress::new(&node_names(&cluster));
        let outcome = deploy::deploy(&cluster, &template, &sentinel_template, &opts, &progress)
            .await
            .context("deploy after the promotion failed")?;
        progress.finish();
        drop(progress);
        print_deploy(&cluster, outcome, &opts, inventory, started).await
    })
}

/// Starts the replicas that hold more than the lost master and whose servers are down, so
/// the most advanced one can be promoted: each loads its own dump (its data is kept) and
/// waits for its master in vain, which is harmless.
async fn start_stopped_replicas(
    cluster: &cluster::Cluster,
    conns: Vec<Result<node::NodeConn, node::NodeError>>,
    lost: &master_guard::MasterLost,
) -> anyhow::Result<()> {
    let pw = cluster.password.as_ref().map(|p| p.expose());
    for c in conns.iter().flatten() {
        if lost.ahead.iter().any(|h| h.node == c.name() && !h.running) {
            c.start(cluster.engine, pw, WAIT).await?;
        }
    }
    for c in conns.into_iter().flatten() {
        c.close().await;
    }
    Ok(())
}

/// The sentinels' SENTINEL RESET line when `--prune` shuts servers down.
fn prune_reset(
    cluster: &cluster::Cluster,
    outcome: &deploy::Outcome,
    opts: &deploy::Options,
) -> Option<String> {
    let pruned = opts.prune && outcome.strangers.iter().any(|s| s.run_id.is_some());
    (pruned && !outcome.sentinels.is_empty())
        .then(|| sentinel_deploy::describe_reset(cluster))
        .flatten()
}

/// Prints what a deploy did (or its dry run's plan), then verifies.
async fn print_deploy(
    cluster: &cluster::Cluster,
    outcome: deploy::Outcome,
    opts: &deploy::Options,
    inventory: &Path,
    started: std::time::Instant,
) -> anyhow::Result<()> {
    if opts.dry_run {
        crate::outln!("dry run: nothing was changed. The plan:");
        for (c, p) in outcome.conns.iter().zip(&outcome.plans) {
            if let Ok(c) = c {
                crate::outln!("  {}: {}", c.name(), p.describe(c, cluster.engine));
            }
        }
        for s in &outcome.strangers {
            crate::outln!("  {}", s.describe(opts.prune, false));
        }
        for s in &outcome.sentinels {
            crate::outln!("  {}: {}", s.node, s.describe());
        }
        if let Some(line) = prune_reset(cluster, &outcome, opts) {
            crate::outln!("  {line}");
        }
        return Ok(());
    }
    for p in &outcome.plans {
        let what = match p.action {
            deploy::Action::Unchanged if p.is_unchanged() => "unchanged",
            deploy::Action::Unchanged if p.write_config => {
                "config written (no restart: the sentinels reconfigured it)"
            }
            deploy::Action::Unchanged => "binary updated (server left running)",
            deploy::Action::Start => "started",
            deploy::Action::Restart => "restarted",
            deploy::Action::Repoint => "re-pointed (REPLICAOF, no restart)",
            deploy::Action::Persist => "persistence changed (CONFIG SET, no restart)",
        };
        crate::outln!("{}: {what}", p.node);
    }
    for s in &outcome.strangers {
        crate::outln!("{}", s.describe(opts.prune, true));
    }
    for s in &outcome.sentinels {
        crate::outln!("{} sentinel: {}", s.node, s.describe());
    }
    if let Some(line) = prune_reset(cluster, &outcome, opts) {
        crate::outln!("{line}");
    }
    if outcome.unchanged {
        crate::outln!("deploy: unchanged (nothing to do on any node)");
    } else {
        crate::outln!("deploy: done in {:.2}s", started.elapsed().as_secs_f64());
    }
    verify_and_print(
        cluster,
        &outcome.conns,
        std::time::Duration::from_secs(10),
        inventory,
        false,
    )
    .await
}

/// `redrepl verify INVENTORY [--json] [--timeout SECS]`.
pub fn run_verify(inventory: &Path, json: bool, timeout: f64) -> anyhow::Result<()> {
    let (cluster, _) = load_cluster(inventory)?;
    runtime()?.block_on(async {
        let conns = node::connect_all(&cluster, ssh::NewHostKeys::Refuse).await;
        verify_and_print(
            &cluster,
            &conns,
            std::time::Duration::try_from_secs_f64(timeout.max(0.0))
                .unwrap_or(std::time::Duration::MAX),
            inventory,
            json,
        )
        .await
    })
}

/// Options of `redrepl status` as the command line gives them.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatusArgs {
    /// `--json`.
    pub json: bool,
    /// `--prometheus`.
    pub prometheus: bool,
    /// `--watch`.
    pub watch: bool,
    /// `--interval` in seconds.
    pub interval: f64,
}

/// `redrepl status INVENTORY [--json|--prometheus] [--watch [--interval S]]`. With `--watch`
/// on a terminal the table is redrawn in place and `q` (or Ctrl-C) quits; otherwise tables
/// are printed one after another until Ctrl-C.
pub fn run_status(inventory: &Path, args: StatusArgs) -> anyhow::Result<()> {
    let (cluster, _) = load_cluster(inventory)?;
    let interval = std::time::Duration::try_from_secs_f64(args.interval.max(0.1))
        .unwrap_or(std::time::Duration::from_secs(1));
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    runtime()?.block_on(async {
        let conns = node::connect_all(&cluster, ssh::NewHostKeys::Refuse).await;
        let mut quit = if args.watch {
            watch_keys::QuitKey::start()
        } else {
            None
        };
        let mut clock = status::LagClock::default();
        loop {
            let rows = status::status(&cluster, &conns, &mut clock).await;
            let sentinel_rows = sentinel_status::view(&cluster, &conns).await;
            if args.json {
                crate::outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else if args.prometheus {
                crate::out!("{}", metrics::prometheus(&cluster.name, &rows));
                crate::out!(
                    "{}",
                    metrics::sentinel_prometheus(&cluster.name, &sentinel_rows)
                );
            } else {
                if args.watch && tty {
                    crate::out!("\x1b[H\x1b[2J");
                    crate::outln!(
                        "redrepl status {} (every {:.1}s; q or Ctrl-C quits)",
                        inventory.display(),
                        interval.as_secs_f64()
                    );
                }
                crate::out!("{}", status::table(&rows));
                if !sentinel_rows.is_empty() {
                    crate::outln!();
                    crate::out!("{}", sentinel_status::table(&sentinel_rows));
                }
                if args.watch && !tty {
                    crate::outln!();
                }
            }
            if !args.watch {
                if rows.iter().all(|r| r.reachable) && sentinel_rows.iter().all(|r| r.reachable) {
                    return Ok(());
                }
                return Err(Unhealthy("some nodes or sentinels do not answer".into()).into());
            }
            let q = async {
                match quit.as_mut() {
                    Some(k) => k.wait().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
                _ = q => return Ok(()),
            }
        }
    })
}

/// `redrepl logs INVENTORY [NODE...] [-n LINES] [-f]`.
pub fn run_logs(inventory: &Path, opts: logs::Options) -> anyhow::Result<()> {
    let (cluster, _) = load_cluster(inventory)?;
    runtime()?.block_on(async {
        let progress = progress::Progress::new(&node_names(&cluster));
        logs::logs(&cluster, &opts, &progress).await
    })
}

mod watch_keys {
    //! The `q` key for `status --watch`: stdin in non-canonical mode (no echo) while
    //! watching, restored on drop; a thread reads keys and reports `q`.

    /// Reports `q` typed on a terminal.
    pub struct QuitKey {
        rx: tokio::sync::mpsc::UnboundedReceiver<()>,
        saved: libc::termios,
    }

    impl QuitKey {
        /// Starts listening when stdin is a terminal.
        pub fn start() -> Option<QuitKey> {
            if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                return None;
            }
            // SAFETY: termios is plain data; tcgetattr fills it for fd 0.
            let mut saved: libc::termios = unsafe { std::mem::zeroed() };
            if unsafe { libc::tcgetattr(0, &mut saved) } != 0 {
                return None;
            }
            let mut raw = saved;
            raw.c_lflag &= !(libc::ICANON | libc::ECHO);
            raw.c_cc[libc::VMIN] = 1;
            raw.c_cc[libc::VTIME] = 0;
            // SAFETY: sets fd 0's attributes from a valid termios.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &raw) };
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            std::thread::spawn(move || {
                use std::io::Read;
                let mut b = [0u8; 1];
                let mut stdin = std::io::stdin();
                while let Ok(1) = stdin.read(&mut b) {
                    if b[0] == b'q' || b[0] == b'Q' {
                        let _ = tx.send(());
                        return;
                    }
                }
            });
            Some(QuitKey { rx, saved })
        }

        /// Waits for `q`.
        pub async fn wait(&mut self) {
            if self.rx.recv().await.is_none() {
                std::future::pending::<()>().await
            }
        }
    }

    impl Drop for QuitKey {
        fn drop(&mut self) {
            // SAFETY: restores the attributes saved at start.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &self.saved) };
        }
    }
}

/// Options of `redrepl promote` as the command line gives them.
#[derive(Debug, Clone, Copy, Default)]
pub struct PromoteArgs {
    /// `--force`.
    pub force: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--accept-new-host-keys`.
    pub accept_new_host_keys: bool,
}

/// `redrepl promote INVENTORY NODE [--force] [--dry-run] [--accept-new-host-keys]`.
pub fn run_promote(inventory: &Path, target: &str, args: PromoteArgs) -> anyhow::Result<()> {
    let (cluster, dir) = load_cluster(inventory)?;
    let template = template::Template::for_inventory(&dir)?;
    let opts = promote::Options {
        force: args.force,
        new_host_keys: new_host_keys(args.accept_new_host_keys),
        wait: std::time::Duration::from_secs(20),
        dry_run: args.dry_run,
    };
    runtime()?.block_on(async {
        let progress = progress::Progress::new(&node_names(&cluster));
        let ok = promote::promote(inventory, &cluster, &template, target, &opts, &progress)
            .await
            .with_context(|| format!("promote {target} failed"))?;
        if ok {
            Ok(())
        } else {
            Err(Unhealthy(format!("{target} was promoted, but verify failed")).into())
        }
    })
}

/// `redrepl failover-test INVENTORY [--accept-new-host-keys]`: kill the master's server, let
/// the sentinels fail over, restart it, print the figures.
pub fn run_failover_test(inventory: &Path, accept_new_host_keys: bool) -> anyhow::Result<()> {
    let (cluster, _) = load_cluster(inventory)?;
    runtime()?.block_on(async {
        let progress = progress::Progress::new(&node_names(&cluster));
        let figures = sentinel_drill::run(
            &cluster,
            new_host_keys(accept_new_host_keys),
            std::time::Duration::from_secs(30),
            &progress,
        )
        .await
        .context("failover-test failed")?;
        progress.finish();
        drop(progress);
        crate::outln!("{}", figures.report());
        Ok(())
    })
}

/// `redrepl stop INVENTORY [NODE...]`.
pub fn run_stop(inventory: &Path, nodes: &[String]) -> anyhow::Result<()> {
    let (cluster, _) = load_cluster(inventory)?;
    runtime()?.block_on(async {
        let progress = progress::Progress::new(&node_names(&cluster));
        stop::stop(
            &cluster,
            nodes,
            ssh::NewHostKeys::Refuse,
            std::time::Duration::from_secs(30),
            &progress,
        )
        .await
    })
}

/// `redrepl backup INVENTORY [--node NODE] [--to DIR]`.
pub fn run_backup(inventory: &Path, node: Option<&str>, to: &Path) -> anyhow::Result<()> {
    let (cluster, _) = load_cluster(inventory)?;
    let opts = backup::Options {
        node: node.map(str::to_owned),
        to: to.to_owned(),
        wait: std::time::Duration::from_secs(600),
    };
    runtime()?.block_on(async {
        let started = std::time::Instant::now();
        let progress = progress::Progress::new(&node_names(&cluster));
        let (dir, m) = backup::backup(&cluster, &opts, &progress)
            .await
            .context("backup failed")?;
        progress.finish();
        drop(progress);
        crate::outln!(
            "backup: {} ({} of {}, {} keys, {} bytes, sha256 {}, replid {} offset {}) in {:.2}s",
            dir.display(),
            m.node,
            m.cluster,
            m.total_keys(),
            m.size,
            m.sha256,
            m.replid.as_deref().unwrap_or("-"),
            m.offset
                .map(|o| o.to_string())
                .unwrap_or_else(|| "-".into()),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    })
}

/// `redrepl backup --list DIR`: every backup in DIR, each checked whole; exit status 1 when
/// one cannot be used.
pub fn run_backup_list(dir: &Path) -> anyhow::Result<()> {
    let rows = backup::list(dir)?;
    crate::out!("{}", backup::list_table(&rows));
    let bad = rows.iter().filter(|r| r.state.is_err()).count();
    if bad > 0 {
        anyhow::bail!(
            "{bad} of {} backups in {} cannot be used",
            rows.len(),
            dir.display()
        );
    }
    Ok(())
}

/// `redrepl restore INVENTORY BACKUP [--yes] [--dry-run]`.
pub fn run_restore(
    inventory: &Path,
    backup: &Path,
    yes: bool,
    dry_run: bool,
) -> anyhow::Result<()> {
    let (cluster, _) = load_cluster(inventory)?;
    let opts = restore::Options {
        yes,
        dry_run,
        wait: WAIT,
    };
    runtime()?.block_on(async {
        let progress = progress::Progress::new(&node_names(&cluster));
        restore::restore(&cluster, backup, &opts, &progress)
            .await
            .context("restore failed")
    })
}

/// Options of `redrepl upgrade` as the command line gives them.
#[derive(Debug, Clone, Default)]
pub struct UpgradeArgs {
    /// `--binary`.
    pub binary: Option<PathBuf>,
    /// `--keep-master`.
    pub keep_master: bool,
    /// `--dry-run`.
    pub dry_run: bool,
}

/// `redrepl upgrade INVENTORY [--binary PATH] [--keep-master] [--dry-run]`.
pub fn run_upgrade(inventory: &Path, args: UpgradeArgs) -> anyhow::Result<()> {
    let (cluster, dir) = load_cluster(inventory)?;
    let template = template::Template::for_inventory(&dir)?;
    let opts = upgrade::Options {
        binary: args.binary,
        keep_master: args.keep_master,
        dry_run: args.dry_run,
        wait: WAIT,
    };
    runtime()?.block_on(async {
        let started = std::time::Instant::now();
        let progress = progress::Progress::new(&node_names(&cluster));
        upgrade::upgrade(inventory, &template, &opts, &progress)
            .await
            .context("upgrade failed")?;
        if !args.dry_run {
            crate::outln!("upgrade: took {:.2}s", started.elapsed().as_secs_f64());
        }
        Ok(())
    })
}
