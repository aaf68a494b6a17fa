//! Scaling in `redrepl deploy`: what changes when nodes are added to or removed from the
//! inventory, or when a replica is moved (star ↔ chain).
//!
//! - A node added to the inventory is simply a node whose server is not running: deploy
//!   starts it as a replica and waits for its full sync; the others are not touched.
//! - A replica whose only change is the node it follows is re-pointed live (REPLICAOF, no
//!   restart). The config on the node tells which node it was rendered to follow: the
//!   template is rendered once per candidate and the checksums compared
//!   ([`rendered_follows`]), so the decision never depends on guessing names from addresses.
//! - A server that replicates from a node of the inventory but is none of its nodes (matched
//!   by `run_id`, never by address) is a *stranger*: a node removed from the inventory.
//!   Deploy leaves it running and says so; `--prune` shuts it down cleanly (SHUTDOWN, data
//!   saved) through its upstream node. A server that cannot be identified is never shut down.
//! - Replacing or removing the master is refused ([`master_moved`]): that is promote's job.

use crate::cli::cluster::{Cluster, Node};
use crate::cli::node::{NodeConn, NodeError};
use crate::cli::redis_link::Info;
use crate::cli::template::Template;
use crate::cli::validate::{Problem, Problems};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// A server replicating from an inventory node that is not one of the inventory's nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stranger {
    /// The inventory node it replicates from (and through which it is reached).
    pub upstream: String,
    /// Its address as the upstream's INFO reports it.
    pub host: String,
    /// Its listening port as the upstream's INFO reports it.
    pub port: u16,
    /// Its `run_id`, when it could be asked; only an identified stranger is ever pruned.
    pub run_id: Option<String>,
}

impl Stranger {
    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// One line for the plan and the report.
    pub fn describe(&self, prune: bool, done: bool) -> String {
        let what = match (self.run_id.is_some(), prune, done) {
            (false, _, _) => "could not be identified (AUTH or connection failed): left alone",
            (true, false, _) => "left running (`redrepl deploy --prune` shuts it down)",
            (true, true, false) => "would be shut down (--prune; SHUTDOWN saves its data)",
            (true, true, true) => "shut down (--prune; its data was saved)",
        };
        format!(
            "{} (replica of {}, not in the inventory): {what}",
            self.addr(),
            self.upstream
        )
    }
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Which node the config with checksum `sum` on `node` was rendered to follow: `Some(None)`
/// for a master's config, `Some(Some(name))` for a replica of `name`, `None` when no
/// topology of this inventory renders that config (another change than `replicaof`).
pub fn rendered_follows(
    cluster: &Cluster,
    template: &Template,
    node: &Node,
    sum: &str,
) -> Option<Option<String>> {
    let candidates = std::iter::once(None).chain(
        cluster
            .nodes
            .iter()
            .filter(|n| n.name != node.name)
            .map(|n| Some(n.name.clone())),
    );
    for follows in candidates {
        let mut n = node.clone();
        n.replicaof = follows.clone();
        if let Ok(text) = template.render(cluster, &n)
            && sha256_hex(text.as_bytes()) == sum
        {
            return Some(follows);
        }
    }
    None
}

/// The replicas an INFO replication reply lists: `(ip, port)` of each `slaveN:` line.
pub fn replica_addrs(info: &Info) -> Vec<(String, u16)> {
    let mut out: Vec<(usize, String, u16)> = info
        .0
        .iter()
        .filter_map(|(k, v)| {
            let n: usize = k.strip_prefix("slave")?.parse().ok()?;
            let field = |name: &str| {
                v.split(',')
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            };
            Some((n, field("ip")?.to_string(), field("port")?.parse().ok()?))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, ip, port)| (ip, port)).collect()
}

/// What inspection learnt from a running server.
#[derive(Debug, Clone)]
pub struct Running {
    /// INFO replication.
    pub replication: Info,
    /// `run_id` from INFO server.
    pub run_id: String,
}

/// Asks a running node's server for what scaling needs.
pub async fn inspect_running(c: &NodeConn, pw: Option<&str>) -> Result<Running, NodeError> {
    let mut link = c.redis(pw).await?;
    let replication = link.info("replication").await.map_err(|e| c.redis_err(e))?;
    let server = link.info("server").await.map_err(|e| c.redis_err(e))?;
    Ok(Running {
        replication,
        run_id: server.get("run_id").unwrap_or_default().to_string(),
    })
}

/// Refuses a deploy that would replace or remove the running master: the inventory's master
/// runs as a replica, or a node the inventory makes a replica is a master with replicas.
/// Each problem names the node and says to promote first.
pub fn master_moved(
    cluster: &Cluster,
    running: &[Option<Running>],
    inventory: &str,
) -> Result<(), Problems> {
    let mut problems = Vec::new();
    for (n, r) in cluster.nodes.iter().zip(running) {
        let Some(r) = r else { continue };
        let info = &r.replication;
        match (&n.replicaof, info.role()) {
            (None, "slave") => problems.push(Problem {
                path: format!("nodes.{}.role", n.name),
                message: format!(
                    "the inventory makes {} the master, but its server is a replica of {}:{}: \
                     removing or replacing the master is refused. Promote first with the \
                     inventory that still names the master (`redrepl promote {inventory} {}`), \
                     then remove the old master",
                    n.name,
                    info.get("master_host").unwrap_or("?"),
                    info.get("master_port").unwrap_or("?"),
                    n.name
                ),
            }),
            (Some(m), "master") if info.int("connected_slaves").unwrap_or(0) > 0 => {
                problems.push(Problem {
                    path: format!("nodes.{}.replicaof", n.name),
                    message: format!(
                        "{} is the running master (with {} replicas) and the inventory makes it \
                         a replica of {m}: promote {m} first (`redrepl promote {inventory} {m}` \
                         with the inventory that names {} the master)",
                        n.name,
                        info.int("connected_slaves").unwrap_or(0),
                        n.name
                    ),
                })
            }
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

/// The strangers replicating from the running nodes: every replica an inventory node's INFO
/// lists whose `run_id` is none of the inventory's running servers'. Each candidate is asked
/// through its upstream node's connection (the address is the upstream's view of it).
pub async fn find_strangers(
    conns: &[NodeConn],
    running: &[Option<Running>],
    pw: Option<&str>,
) -> Vec<Stranger> {
    let known: Vec<&str> = running
        .iter()
        .flatten()
        .map(|r| r.run_id.as_str())
        .filter(|id| !id.is_empty())
        .collect();
    let mut out = Vec::new();
    for (c, r) in conns.iter().zip(running) {
        let Some(r) = r else { continue };
        for (host, port) in replica_addrs(&r.replication) {
            let label = format!("{host}:{port}");
            let run_id = match c.redis_at(&host, port, &label, pw).await {
                Ok(mut link) => link
                    .info("server")
                    .await
                    .ok()
                    .and_then(|i| i.get("run_id").map(str::to_string)),
                Err(_) => None,
            };
            if run_id.as_deref().is_some_and(|id| known.contains(&id)) {
                continue;
            }
            out.push(Stranger {
                upstream: c.name().to_string(),
                host,
                port,
                run_id,
            });
        }
    }
    out
}

/// Gives a server the login it uses on its master (`CONFIG SET masteruser`/`masterauth`:
/// the replication user, else the shared password; nothing when there is neither).
pub async fn set_master_login(
    link: &mut crate::cli::redis_link::Link,
    cluster: &Cluster,
) -> Result<(), crate::cli::redis_link::LinkError> {
    match cluster.master_login() {
        (Some(user), Some(pw)) => link
            .cmd(&[
                "CONFIG",
                "SET",
                "masteruser",
                user,
                "masterauth",
                pw.expose(),
            ])
            .await
            .map(drop),
        (None, Some(pw)) => link
            .cmd(&["CONFIG", "SET", "masterauth", pw.expose()])
            .await
            .map(drop),
        _ => Ok(()),
    }
}

/// Re-points a running replica live: its master login ([`set_master_login`]), then
/// `REPLICAOF` the node it must follow. No restart; its config file is already the one
/// rendered for the new topology.
pub async fn repoint(
    c: &NodeConn,
    cluster: &Cluster,
    to: &Node,
    pw: Option<&str>,
) -> Result<(), NodeError> {
    let mut link = c.redis(pw).await?;
    set_master_login(&mut link, cluster)
        .await
        .map_err(|e| c.redis_err(e))?;
    link.cmd(&["REPLICAOF", &to.host, &to.port.to_string()])
        .await
        .map_err(|e| c.redis_err(e))?;
    Ok(())
}

/// Shuts a stranger down (SHUTDOWN: its data saved) through its upstream node, after checking
/// it is still the server that was identified, and waits until it no longer answers.
pub async fn prune(
    upstream: &NodeConn,
    s: &Stranger,
    pw: Option<&str>,
    wait: Duration,
) -> Result<(), NodeError> {
    let label = s.addr();
    let mut link = upstream.redis_at(&s.host, s.port, &label, pw).await?;
    let redis_err = |source| NodeError::Redis {
        node: upstream.name().to_string(),
        addr: label.clone(),
        source,
    };
    let now = link.info("server").await.map_err(redis_err)?;
    if now.get("run_id") != s.run_id.as_deref() {
        return Err(NodeError::Local {
            node: upstream.name().to_string(),
            message: format!("{label} is no longer the server inspected: not shut down"),
        });
    }
    link.shutdown_save().await.map_err(redis_err)?;
    let start = Instant::now();
    loop {
        match upstream.redis_at(&s.host, s.port, &label, None).await {
            Err(NodeError::NotRunning { .. }) => return Ok(()),
            _ if start.elapsed() > wait => {
                return Err(NodeError::Local {
                    node: upstream.name().to_string(),
                    message: format!("{label} still answers {}s after SHUTDOWN", wait.as_secs()),
                });
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cluster(text: &str) -> Cluster {
        let inv = crate::cli::inventory::parse(text, Path::new("x.yaml")).unwrap();
        crate::cli::validate::validate(&inv, Path::new("/tmp"), &|_| None).unwrap()
    }

    const STAR: &str = "cluster: c\nauth:\n  password: pw-123456789\ndefaults:\n  dir: /d/{node}\n\
        nodes:\n  a:\n    role: master\n    host: 10.0.0.1\n  b:\n    replicaof: a\n    host: 10.0.0.2\n  \
        c:\n    replicaof: a\n    host: 10.0.0.3\n";

    #[test]
    fn the_config_on_a_node_tells_which_node_it_follows() {
        let star = cluster(STAR);
        let chain = cluster(&STAR.replace("c:\n    replicaof: a\n", "c:\n    replicaof: b\n"));
        let t = Template::builtin();
        let c_star = t.render(&star, star.node("c").unwrap()).unwrap();
        let sum = sha256_hex(c_star.as_bytes());
        let c_chain = chain.node("c").unwrap();
        assert_eq!(
            rendered_follows(&chain, &t, c_chain, &sum),
            Some(Some("a".into()))
        );
        let a_sum = sha256_hex(t.render(&star, star.node("a").unwrap()).unwrap().as_bytes());
        assert_eq!(
            rendered_follows(&chain, &t, chain.node("a").unwrap(), &a_sum),
            Some(None)
        );
        // Another change than replicaof: no topology renders it.
        assert_eq!(rendered_follows(&chain, &t, c_chain, "0123"), None);
    }

    #[test]
    fn replica_lines_of_info() {
        let info = Info::parse(
            "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n\
             slave1:ip=10.0.0.3,port=6380,state=online,offset=5,lag=0\r\n\
             slave0:ip=10.0.0.2,port=6379,state=online,offset=5,lag=1\r\nmaster_repl_offset:5\r\n",
        );
        assert_eq!(
            replica_addrs(&info),
            [
                ("10.0.0.2".to_string(), 6379),
                ("10.0.0.3".to_string(), 6380)
            ]
        );
    }

    #[test]
    fn removing_the_master_is_refused() {
        let c = cluster(STAR);
        let running = |role: &str, extra: &str| {
            Some(Running {
                replication: Info::parse(&format!("role:{role}\n{extra}")),
                run_id: "x".into(),
            })
        };
        // b is the inventory's master now, but runs as a replica of the old one.
        let promoted = cluster(
            "cluster: c\nauth:\n  password: pw-123456789\ndefaults:\n  dir: /d/{node}\n\
             nodes:\n  b:\n    role: master\n    host: 10.0.0.2\n  c:\n    replicaof: b\n    host: 10.0.0.3\n",
        );
        let err = master_moved(
            &promoted,
            &[
                running("slave", "master_host:10.0.0.1\nmaster_port:6379"),
                running("slave", ""),
            ],
            "inv.yaml",
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].path, "nodes.b.role");
        assert!(err.0[0].message.contains("10.0.0.1:6379"), "{}", err.0[0]);
        assert!(err.0[0].message.contains("promote"), "{}", err.0[0]);
        // The running topology as the inventory says: fine.
        master_moved(
            &c,
            &[
                running("master", "connected_slaves:2"),
                running("slave", ""),
                None,
            ],
            "inv.yaml",
        )
        .unwrap();
    }
}
