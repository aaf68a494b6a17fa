//! The sentinels on the nodes (the inventory's `sentinel:` block): where a sentinel's files
//! live, its config (templates/sentinel.conf.j2, user copy overrides), how it is started and
//! how it is asked. Deploying them is [`crate::cli::sentinel_deploy`], their view for status
//! and verify [`crate::cli::sentinel_status`], following a failover they made
//! [`crate::cli::sentinel_adopt`].

use crate::cli::cluster::{Cluster, Node};
use crate::cli::inventory::Engine;
use crate::cli::node::{NodeConn, NodeError, local_redis_host};
use crate::cli::redis_link::{Link, LinkError, Reply};
use crate::cli::render::RenderError;
use crate::cli::ssh::shell_quote;
use crate::cli::template::{Template, TemplateError};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// The built-in template, as shipped in `templates/sentinel.conf.j2`.
pub const BUILTIN: &str = include_str!("../../templates/sentinel.conf.j2");

/// Where a user's copy lives, relative to the inventory's folder.
pub const USER_COPY: &str = "templates/sentinel.conf.j2";

/// The user's sentinel template, or the built-in one.
pub fn template_for_inventory(inventory_dir: &Path) -> Result<Template, TemplateError> {
    Template::for_inventory_file(
        inventory_dir,
        USER_COPY,
        BUILTIN,
        "built-in sentinel.conf.j2",
    )
}

/// The files of the sentinel on port `port` of a node (all in the node's `dir`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Files {
    /// The sentinel's port.
    pub port: u16,
    /// `dir/sentinel-<port>.conf` (the sentinel rewrites it).
    pub config_path: String,
    /// `dir/sentinel-<port>.log`.
    pub logfile: String,
    /// `dir/sentinel_<port>.pid`.
    pub pidfile: String,
}

/// The files of a node's sentinel; None when the node has no sentinel.
pub fn files(node: &Node) -> Option<Files> {
    let port = node.sentinel_port?;
    Some(Files {
        port,
        config_path: format!("{}/sentinel-{port}.conf", node.dir),
        logfile: format!("{}/sentinel-{port}.log", node.dir),
        pidfile: format!("{}/sentinel_{port}.pid", node.dir),
    })
}

#[derive(Serialize)]
struct SentinelCtx<'a> {
    #[serde(flatten)]
    files: Files,
    master_name: &'a str,
    quorum: u32,
    down_after_ms: u64,
    failover_timeout_ms: u64,
    parallel_syncs: u32,
}

#[derive(Serialize)]
struct NodeCtx<'a> {
    name: &'a str,
    host: &'a str,
    dir: &'a str,
    bind: &'a [String],
    protected_mode: bool,
}

#[derive(Serialize)]
struct MasterCtx<'a> {
    name: &'a str,
    host: &'a str,
    port: u16,
}

/// `security`: the sentinel's TLS files and ACL users (None when the inventory has neither
/// `tls:` nor `users:`).
#[derive(Serialize)]
struct SecurityCtx<'a> {
    /// The node's own TLS files (None: plain TCP).
    tls: Option<crate::cli::certs::RemoteFiles>,
    /// `user` lines on the sentinel: the admin (the orchestrator's login) and the sentinel
    /// user (the other sentinels' login), the passwords as their SHA-256.
    users: Vec<UserCtx<'a>>,
    /// The default user has no password: it is turned off.
    default_off: bool,
    /// The sentinel user: `auth-user`/`auth-pass` to the servers, `sentinel-user`/
    /// `sentinel-pass` to the other sentinels (None without users).
    login: Option<LoginCtx<'a>>,
}

#[derive(Serialize)]
struct UserCtx<'a> {
    name: &'a str,
    rules: String,
}

#[derive(Serialize)]
struct LoginCtx<'a> {
    user: &'a str,
    pass: &'a str,
}

#[derive(Serialize)]
struct Ctx<'a> {
    cluster: &'a str,
    engine: &'a str,
    password: Option<&'a str>,
    node: NodeCtx<'a>,
    sentinel: SentinelCtx<'a>,
    master: MasterCtx<'a>,
    security: Option<SecurityCtx<'a>>,
}

fn security<'a>(cluster: &'a Cluster, node: &'a Node) -> Option<SecurityCtx<'a>> {
    use crate::cli::users::{SENTINEL_PEER_RULES, UserRole};
    let s = &cluster.security;
    if !s.tls && s.users.is_empty() {
        return None;
    }
    let mut users = Vec::new();
    if let Some(admin) = s.user(UserRole::Admin) {
        users.push(UserCtx {
            name: &admin.name,
            rules: admin.config_rules(),
        });
    }
    let sentinel_user = s.user(UserRole::Sentinel);
    if let Some(u) = sentinel_user {
        users.push(UserCtx {
            name: &u.name,
            rules: u.config_rules_with(SENTINEL_PEER_RULES),
        });
    }
    Some(SecurityCtx {
        tls: s.tls.then(|| crate::cli::certs::RemoteFiles::of(node)),
        users,
        default_off: !s.users.is_empty() && s.default_password.is_none(),
        login: sentinel_user.map(|u| LoginCtx {
            user: &u.name,
            pass: u.password.expose(),
        }),
    })
}

/// Renders the sentinel.conf of `node` (None when sentinels are off or the node has none).
pub fn render(
    template: &Template,
    cluster: &Cluster,
    node: &Node,
) -> Option<Result<String, TemplateError>> {
    let s = cluster.sentinels.as_ref()?;
    let files = files(node)?;
    let master = cluster.master();
    let ctx = Ctx {
        cluster: &cluster.name,
        engine: s.engine.as_str(),
        password: cluster
            .security
            .default_password
            .as_ref()
            .map(|p| p.expose()),
        node: NodeCtx {
            name: &node.name,
            host: &node.host,
            dir: &node.dir,
            bind: &node.bind,
            protected_mode: node.protected_mode,
        },
        sentinel: SentinelCtx {
            files,
            master_name: &s.master_name,
            quorum: s.quorum,
            down_after_ms: s.down_after_ms,
            failover_timeout_ms: s.failover_timeout_ms,
            parallel_syncs: s.parallel_syncs,
        },
        master: MasterCtx {
            name: &master.name,
            host: &master.host,
            port: master.port,
        },
        security: security(cluster, node),
    };
    Some(template.render_context(&ctx))
}

/// Renders every node's sentinel into `out_dir/<node>-sentinel.conf` (mode 0600, the folder
/// made by `render`) and returns the paths written; nothing is written unless all render.
pub fn render_to_dir(
    cluster: &Cluster,
    template: &Template,
    out_dir: &Path,
) -> Result<Vec<std::path::PathBuf>, RenderError> {
    let rendered = cluster
        .nodes
        .iter()
        .filter_map(|n| Some((n, render(template, cluster, n)?)))
        .map(|(n, r)| {
            r.map(|text| (n.name.clone(), text))
                .map_err(|source| RenderError::Template {
                    node: n.name.clone(),
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut written = Vec::new();
    for (name, text) in rendered {
        let path = out_dir.join(format!("{name}-sentinel.conf"));
        crate::cli::files::write_private(&path, text.as_bytes()).map_err(|source| {
            RenderError::Io {
                path: path.clone(),
                source,
            }
        })?;
        written.push(path);
    }
    Ok(written)
}

/// The shell command that starts a node's sentinel (a daemon by its config). `umask 077`
/// keeps the files it rewrites (they hold the password) private.
pub fn start_command(conn: &NodeConn, engine: Engine, files: &Files) -> String {
    let conf = shell_quote(&files.config_path);
    let program = match engine {
        Engine::Bundled => format!("{} sentinel {conf}", shell_quote(&conn.binary_path())),
        Engine::Redis => format!("redis-sentinel {conf}"),
    };
    format!(
        "cd {} && umask 077 && {program}",
        shell_quote(&conn.node.dir)
    )
}

/// `host:port (sentinel)` of a node's sentinel, as errors name it.
pub fn label(node: &Node, port: u16) -> String {
    format!("{}:{port} (sentinel)", node.host)
}

/// Opens an authenticated link to the node's sentinel on `port`.
pub async fn link(conn: &NodeConn, port: u16, password: Option<&str>) -> Result<Link, NodeError> {
    let host = local_redis_host(&conn.node);
    conn.redis_at(&host, port, &label(&conn.node, port), password)
        .await
}

/// A link error on a node's sentinel, naming it.
pub fn link_err(conn: &NodeConn, port: u16, source: LinkError) -> NodeError {
    NodeError::Redis {
        node: conn.node.name.clone(),
        addr: label(&conn.node, port),
        source,
    }
}

/// Stops the node's sentinel (SHUTDOWN; SIGTERM to its pidfile when SHUTDOWN is refused) and
/// waits until its port no longer answers. Ok when it was not running.
pub async fn stop(
    conn: &NodeConn,
    files: &Files,
    password: Option<&str>,
    wait: Duration,
) -> Result<(), NodeError> {
    let shut = match link(conn, files.port, password).await {
        Err(NodeError::NotRunning { .. }) => return Ok(()),
        Ok(mut l) => l.shutdown_sentinel().await.is_ok(),
        Err(_) => false,
    };
    if !shut {
        let pid = shell_quote(&files.pidfile);
        conn.sh_ok(&format!(
            "[ -f {pid} ] && kill -TERM \"$(cat {pid})\"; true"
        ))
        .await?;
    }
    let start = Instant::now();
    loop {
        match link(conn, files.port, None).await {
            Err(NodeError::NotRunning { .. }) => return Ok(()),
            _ if start.elapsed() > wait => {
                return Err(NodeError::Local {
                    node: conn.node.name.clone(),
                    message: format!(
                        "the sentinel on {} is still running {}s after SHUTDOWN",
                        label(&conn.node, files.port),
                        wait.as_secs()
                    ),
                });
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// `(ip, port)` of the master `name` as the sentinel's config file says it (`sentinel
/// monitor`, rewritten by the sentinel on every switch); None without file or line.
pub async fn monitored_in_file(
    conn: &NodeConn,
    files: &Files,
    name: &str,
) -> Result<Option<(String, String)>, NodeError> {
    let text = conn
        .sh_ok(&format!(
            "cat {} 2>/dev/null; true",
            shell_quote(&files.config_path)
        ))
        .await?
        .stdout_str();
    Ok(text.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        (w.len() >= 5 && w[0].eq_ignore_ascii_case("sentinel") && w[1] == "monitor" && w[2] == name)
            .then(|| (w[3].to_string(), w[4].to_string()))
    }))
}

/// The nodes whose sentinel answers (none when sentinels are off).
pub async fn running(
    cluster: &Cluster,
    conns: &[Result<NodeConn, NodeError>],
    password: Option<&str>,
) -> Vec<String> {
    let asks = conns.iter().flatten().filter_map(|c| {
        let port = c
            .node
            .sentinel_port
            .filter(|_| cluster.sentinels.is_some())?;
        Some(async move {
            link(c, port, password)
                .await
                .is_ok()
                .then(|| c.name().to_string())
        })
    });
    futures::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// `SENTINEL MASTER <name>` as the sentinel reports it (also one replica of `SENTINEL
/// REPLICAS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MasterView(pub HashMap<String, String>);

impl MasterView {
    /// One field's value.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// One integer field.
    pub fn int(&self, field: &str) -> Option<i64> {
        self.get(field)?.parse().ok()
    }

    /// `ip:port` of the master it watches.
    pub fn addr(&self) -> String {
        format!(
            "{}:{}",
            self.get("ip").unwrap_or("?"),
            self.get("port").unwrap_or("?")
        )
    }

    /// The flags (`master`, `s_down`, `o_down`, `failover_in_progress`, ...).
    pub fn flags(&self) -> Vec<&str> {
        self.get("flags").unwrap_or("").split(',').collect()
    }
}

/// Asks `SENTINEL MASTER <name>`.
pub async fn master_view(link: &mut Link, name: &str) -> Result<MasterView, LinkError> {
    let reply = link.cmd(&["SENTINEL", "MASTER", name]).await?;
    fields(&reply).ok_or_else(|| LinkError::Protocol("SENTINEL MASTER: not an array".into()))
}

/// `SENTINEL REPLICAS <name>`: each replica's fields (`ip`, `port`, `flags`,
/// `slave-priority`, ...), in the same shape as [`MasterView`].
pub async fn replicas_view(link: &mut Link, name: &str) -> Result<Vec<MasterView>, LinkError> {
    let reply = link.cmd(&["SENTINEL", "REPLICAS", name]).await?;
    let bad = || LinkError::Protocol("SENTINEL REPLICAS: not an array of arrays".into());
    let Reply::Array(Some(items)) = reply else {
        return Err(bad());
    };
    items.iter().map(|r| fields(r).ok_or_else(bad)).collect()
}

/// A flat array of field/value pairs as a map; None when it is no array.
fn fields(reply: &Reply) -> Option<MasterView> {
    let Reply::Array(Some(items)) = reply else {
        return None;
    };
    let texts: Vec<String> = items.iter().map(|r| r.text().unwrap_or_default()).collect();
    Some(MasterView(
        texts
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect(),
    ))
}

/// `SENTINEL CKQUORUM <name>`: Ok with the sentinel's text, or Err with its refusal.
pub async fn ckquorum(link: &mut Link, name: &str) -> Result<Result<String, String>, LinkError> {
    match link.cmd(&["SENTINEL", "CKQUORUM", name]).await {
        Ok(r) => Ok(Ok(r.text().unwrap_or_default())),
        Err(LinkError::Server { message, .. }) => Ok(Err(message)),
        Err(e) => Err(e),
    }
}

/// The inventory node whose server is at `ip:port` (loopback names are one).
pub fn node_at<'a>(cluster: &'a Cluster, ip: &str, port: u16) -> Option<&'a Node> {
    let norm = |h: &str| {
        let h = h.to_ascii_lowercase();
        if h == "localhost" {
            "127.0.0.1".into()
        } else {
            h
        }
    };
    cluster
        .nodes
        .iter()
        .find(|n| n.port == port && norm(&n.host) == norm(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(text: &str) -> Cluster {
        let inv = crate::cli::inventory::parse(text, Path::new("x.yaml")).unwrap();
        crate::cli::validate::validate(&inv, Path::new("/tmp"), &|_| None).unwrap()
    }

    const INV: &str = "cluster: c\nauth:\n  password: pw-123456789\nsentinel:\n  quorum: 2\n  \
        down_after_ms: 1500\ndefaults:\n  dir: /d/{node}\nnodes:\n  a:\n    role: master\n    \
        host: 10.0.0.1\n  b:\n    replicaof: a\n    host: 10.0.0.2\n    sentinel: {port: 26380}\n  \
        c:\n    replicaof: a\n    host: 10.0.0.3\n";

    #[test]
    fn the_builtin_template_monitors_the_master_with_the_settings() {
        let c = cluster(INV);
        let t = Template::from_source(BUILTIN, "built-in sentinel.conf.j2");
        let text = render(&t, &c, c.node("b").unwrap()).unwrap().unwrap();
        for want in [
            "port 26380\n",
            "daemonize yes\n",
            "dir \"/d/b\"\n",
            "logfile \"/d/b/sentinel-26380.log\"\n",
            "pidfile \"/d/b/sentinel_26380.pid\"\n",
            "requirepass \"pw-123456789\"\n",
            "sentinel sentinel-pass \"pw-123456789\"\n",
            "sentinel monitor c 10.0.0.1 6379 2\n",
            "sentinel down-after-milliseconds c 1500\n",
            "sentinel failover-timeout c 60000\n",
            "sentinel parallel-syncs c 1\n",
            "sentinel auth-pass c \"pw-123456789\"\n",
        ] {
            assert!(text.contains(want), "{want:?} missing:\n{text}");
        }
        assert_eq!(files(c.node("a").unwrap()).unwrap().port, 26379);
    }

    #[test]
    fn with_sentinels_the_master_gets_masterauth_too() {
        // The sentinels turn a returning old master into a replica: without masterauth its
        // sync would fail with NOAUTH (the failover-test drill's rejoin never completed).
        let c = cluster(INV);
        let t = Template::builtin();
        let master = t.render(&c, c.node("a").unwrap()).unwrap();
        assert!(
            master.contains("\nmasterauth \"pw-123456789\"\n"),
            "{master}"
        );
        assert!(!master.contains("replicaof"), "{master}");
    }

    #[test]
    fn with_tls_and_users_the_sentinel_is_tls_only_and_logs_in_as_the_sentinel_user() {
        let c = cluster(&INV.replace(
            "auth:\n  password: pw-123456789\n",
            "tls: true\nusers:\n  adm: {role: admin, password: adm-123456789}\n  \
             rep: {role: replication, password: rep-123456789}\n  \
             sen: {role: sentinel, password: sen-123456789}\n",
        ));
        let t = Template::from_source(BUILTIN, "built-in sentinel.conf.j2");
        let text = render(&t, &c, c.node("b").unwrap()).unwrap().unwrap();
        for want in [
            "port 0\n",
            "tls-port 26380\n",
            "tls-cert-file \"/d/b/redrepl-tls/b.crt\"\n",
            "tls-key-file \"/d/b/redrepl-tls/b.key\"\n",
            "tls-ca-cert-file \"/d/b/redrepl-tls/ca.crt\"\n",
            "tls-auth-clients yes\n",
            "tls-replication yes\n",
            "user default off\n",
            "user adm reset on #",
            " ~* &* +@all\n",
            "user sen reset on #",
            "sentinel sentinel-user \"sen\"\n",
            "sentinel sentinel-pass \"sen-123456789\"\n",
            "sentinel auth-user c \"sen\"\n",
            "sentinel auth-pass c \"sen-123456789\"\n",
        ] {
            assert!(text.contains(want), "{want:?} missing:\n{text}");
        }
        assert!(
            text.contains(&format!(" {}\n", crate::cli::users::SENTINEL_PEER_RULES)),
            "{text}"
        );
        for never in [
            "adm-123456789",
            "rep-123456789",
            "requirepass",
            "\nport 26380\n",
        ] {
            assert!(!text.contains(never), "{never:?} in:\n{text}");
        }
        // The master gets the replication login too: the sentinels may demote it.
        let master = Template::builtin()
            .render(&c, c.node("a").unwrap())
            .unwrap();
        assert!(master.contains("\nmasteruser \"rep\"\n"), "{master}");
    }

    #[test]
    fn no_sentinel_block_no_sentinels() {
        let c = cluster(
            &INV.replace("sentinel:\n  quorum: 2\n  down_after_ms: 1500\n", "")
                .replace("    sentinel: {port: 26380}\n", ""),
        );
        assert!(c.sentinels.is_none());
        assert_eq!(c.sentinel_nodes().count(), 0);
        let t = Template::from_source(BUILTIN, "x");
        assert!(render(&t, &c, c.node("a").unwrap()).is_none());
    }
}
