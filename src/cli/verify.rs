//! `redrepl verify`: write a unique key on the master, read it on every replica until seen,
//! and check what "in sync" means: each replica refuses writes (READONLY, S6), its link is
//! up, and it replicates from the node the inventory says. Exit 0 only when all of it holds.

use crate::cli::cluster::Cluster;
use crate::cli::node::{NodeConn, NodeError};
use crate::cli::redis_link::{Link, LinkError, Reply};
use crate::cli::security_check;
use serde::Serialize;
use std::time::{Duration, Instant};

/// One node's result.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Node name.
    pub node: String,
    /// `host:port`.
    pub addr: String,
    /// `master` or `replica` (what the inventory says).
    pub role: String,
    /// The node it should replicate from (replicas).
    pub replicaof: Option<String>,
    /// `master_link_status` (replicas).
    pub link: Option<String>,
    /// Milliseconds until the test key was seen (replicas).
    pub seen_ms: Option<u64>,
    /// Offset bytes behind the master when the key was seen (replicas).
    pub lag_bytes: Option<i64>,
    /// Whether a write was refused with READONLY (replicas).
    pub readonly: Option<bool>,
    /// Every check held.
    pub ok: bool,
    /// What is wrong and what to do.
    pub problems: Vec<String>,
}

/// The whole result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every node held.
    pub ok: bool,
    /// One row per node, inventory order.
    pub nodes: Vec<Row>,
}

/// Verifies `cluster` through `conns` (aligned with `cluster.nodes`; a failed connection is
/// reported on its node's row). `inventory` is the path shown in hints.
pub async fn verify(
    cluster: &Cluster,
    conns: &[Result<NodeConn, NodeError>],
    timeout: Duration,
    inventory: &str,
) -> Report {
    let password = cluster.password.as_ref().map(|p| p.expose().to_string());
    let pw = password.as_deref();
    let master_i = cluster
        .nodes
        .iter()
        .position(|n| n.replicaof.is_none())
        .expect("one master");
    let mut rows: Vec<Row> = cluster
        .nodes
        .iter()
        .map(|n| Row {
            node: n.name.clone(),
            addr: format!("{}:{}", n.host, n.port),
            role: if n.replicaof.is_some() {
                "replica"
            } else {
                "master"
            }
            .into(),
            replicaof: n.replicaof.clone(),
            link: None,
            seen_ms: None,
            lag_bytes: None,
            readonly: None,
            ok: false,
            problems: Vec::new(),
        })
        .collect();
    let some_replica = cluster
        .nodes
        .iter()
        .find(|n| n.replicaof.is_some())
        .map(|n| n.name.clone())
        .unwrap_or_else(|| "NODE".into());

    // The master: reachable, a master, takes the write.
    let key = format!(
        "redrepl:verify:{}:{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let value = format!("{key}:value");
    let mut master_link: Option<Link> = None;
    let mut written = false;
    match &conns[master_i] {
        Err(e) => rows[master_i].problems.push(format!(
            "master unreachable: {e}. If it is down for good, make a replica the master: \
             redrepl promote {inventory} {some_replica} --force"
        )),
        Ok(c) => match master_checks(c, pw, &key, &value).await {
            Ok(link) => {
                master_link = Some(link);
                written = true;
            }
            Err(p) => rows[master_i].problems.push(if p.contains("not running") {
                format!(
                    "{p}. {}",
                    restart_advice(cluster, conns, pw, inventory).await
                )
            } else {
                p
            }),
        },
    }
    let start = Instant::now();

    // The replicas, all at once.
    let mut tasks = Vec::new();
    for (i, n) in cluster.nodes.iter().enumerate() {
        if n.replicaof.is_none() {
            continue;
        }
        let Ok(conn) = &conns[i] else {
            if let Err(e) = &conns[i] {
                rows[i].problems.push(format!("unreachable: {e}"));
            }
            continue;
        };
        let expected = cluster.node(n.replicaof.as_deref().unwrap()).unwrap();
        let expected = (expected.name.clone(), expected.host.clone(), expected.port);
        let key = key.clone();
        let value = value.clone();
        tasks.push(async move {
            (
                i,
                replica_checks(
                    conn,
                    pw,
                    expected,
                    written.then_some((&key, &value)),
                    start,
                    timeout,
                )
                .await,
            )
        });
    }
    let results = futures::future::join_all(tasks).await;
    let master_offset = match &mut master_link {
        Some(l) => l.info("replication").await.ok().map(|i| i.offset()),
        None => None,
    };
    for (i, r) in results {
        let row = &mut rows[i];
        row.link = r.link;
        row.seen_ms = r.seen_ms;
        row.readonly = r.readonly;
        row.lag_bytes = match (master_offset, r.offset) {
            (Some(m), Some(o)) => Some((m - o).max(0)),
            _ => None,
        };
        row.problems.extend(r.problems);
    }
    if let Some(l) = &mut master_link {
        let _ = l.cmd(&["DEL", &key]).await;
    }
    // TLS: certificates about to expire, a port that also takes plain TCP.
    if cluster.security.tls {
        let checks = cluster.nodes.iter().zip(conns).map(|(_, c)| async move {
            let Ok(c) = c else { return Vec::new() };
            let facts = match c.redis(pw).await {
                Ok(mut link) => security_check::facts(cluster, c, &mut link).await,
                // The link failure is reported above; a plain server is still named here.
                Err(_) => security_check::Facts {
                    plain_open: c.accepts_plain().await.unwrap_or(false),
                    ..Default::default()
                },
            };
            security_check::problems(&facts, inventory)
        });
        for (row, p) in rows.iter_mut().zip(futures::future::join_all(checks).await) {
            row.problems.extend(p);
        }
    }
    for row in &mut rows {
        row.ok = row.problems.is_empty();
    }
    Report {
        ok: rows.iter().all(|r| r.ok),
        nodes: rows,
    }
}

/// What to do about a master whose server is down: start it with deploy when its dump holds
/// everything its replicas have, else promote the most advanced replica (deploy would refuse).
async fn restart_advice(
    cluster: &Cluster,
    conns: &[Result<NodeConn, NodeError>],
    pw: Option<&str>,
    inventory: &str,
) -> String {
    let refs: Vec<Option<&NodeConn>> = conns.iter().map(|c| c.as_ref().ok()).collect();
    match crate::cli::master_guard::check(cluster, &refs, pw, inventory).await {
        Ok(Ok(())) => format!(
            "Its dump holds everything its replicas have: start it with `redrepl deploy \
             {inventory}` (if its host is lost for good: `redrepl promote {inventory} {} \
             --force`)",
            cluster
                .nodes
                .iter()
                .find(|n| n.replicaof.is_some())
                .map_or("NODE", |n| n.name.as_str())
        ),
        Ok(Err(lost)) => format!(
            "Do not start it as it is: {}. Instead {}",
            lost.figures(),
            lost.advice()
        ),
        Err(e) => format!(
            "Its dump could not be compared with its replicas ({e}); `redrepl deploy \
             {inventory}` checks again before starting it"
        ),
    }
}

async fn master_checks(
    c: &NodeConn,
    pw: Option<&str>,
    key: &str,
    value: &str,
) -> Result<Link, String> {
    let mut link = c.redis(pw).await.map_err(|e| e.to_string())?;
    let info = link
        .info("replication")
        .await
        .map_err(|e| c.redis_err(e).to_string())?;
    if info.role() != "master" {
        return Err(format!(
            "expected to be the master but is a replica of {}:{}; run `redrepl deploy` to apply \
             the inventory, or `redrepl promote` to change the master",
            info.get("master_host").unwrap_or("?"),
            info.get("master_port").unwrap_or("?")
        ));
    }
    link.cmd(&["SET", key, value, "PX", "600000"])
        .await
        .map_err(|e| format!("the test write failed: {}", c.redis_err(e)))?;
    Ok(link)
}

#[derive(Default)]
struct ReplicaResult {
    link: Option<String>,
    seen_ms: Option<u64>,
    offset: Option<i64>,
    readonly: Option<bool>,
    problems: Vec<String>,
}

async fn replica_checks(
    c: &NodeConn,
    pw: Option<&str>,
    (m_name, m_host, m_port): (String, String, u16),
    probe: Option<(&String, &String)>,
    start: Instant,
    timeout: Duration,
) -> ReplicaResult {
    let mut r = ReplicaResult::default();
    let mut link = match c.redis(pw).await {
        Ok(l) => l,
        Err(e) => {
            r.problems
                .push(format!("{e}; start it with `redrepl deploy`"));
            return r;
        }
    };
    // Seen?
    if let Some((key, value)) = probe {
        loop {
            match link.cmd(&["GET", key]).await {
                Ok(Reply::Bulk(Some(v))) if v == value.as_bytes() => {
                    r.seen_ms = Some(start.elapsed().as_millis() as u64);
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    r.problems.push(c.redis_err(e).to_string());
                    return r;
                }
            }
            if start.elapsed() > timeout {
                r.problems.push(format!(
                    "the key written on the master was not seen within {}s",
                    timeout.as_secs_f64()
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let info = match link.info("replication").await {
        Ok(i) => i,
        Err(e) => {
            r.problems.push(c.redis_err(e).to_string());
            return r;
        }
    };
    if info.role() != "slave" {
        r.problems.push(format!(
            "is a master, but the inventory says it replicates from {m_name}; run `redrepl deploy`"
        ));
        return r;
    }
    r.offset = Some(info.offset());
    let link_status = info.get("master_link_status").unwrap_or("?").to_string();
    if link_status != "up" {
        r.problems.push(format!(
            "replication link to {}:{} is {link_status}; check that the master runs and \
             that masterauth matches (see the node's log)",
            info.get("master_host").unwrap_or("?"),
            info.get("master_port").unwrap_or("?")
        ));
    }
    r.link = Some(link_status);
    let (host, port) = (
        info.get("master_host").unwrap_or(""),
        info.int("master_port").unwrap_or(0),
    );
    if host != m_host || port != i64::from(m_port) {
        r.problems.push(format!(
            "replicates from {host}:{port}, but the inventory says {m_name} ({m_host}:{m_port}); \
             run `redrepl deploy` to apply the inventory"
        ));
    }
    match link
        .cmd(&["SET", "redrepl:verify:readonly-probe", "x"])
        .await
    {
        Err(LinkError::Server { message, .. }) if message.starts_with("READONLY") => {
            r.readonly = Some(true)
        }
        Ok(_) => {
            r.readonly = Some(false);
            r.problems
                .push("accepts writes (replica-read-only is off); set it back to yes".into());
        }
        Err(e) => {
            r.readonly = Some(false);
            r.problems.push(c.redis_err(e).to_string());
        }
    }
    r
}

/// The human table.
pub fn table(report: &Report, color: bool) -> String {
    use crate::cli::progress::paint;
    let mut out = String::new();
    let header = [
        "NODE", "ADDRESS", "ROLE", "FOLLOWS", "LINK", "SEEN", "LAG", "READONLY", "RESULT",
    ];
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in &report.nodes {
        let dash = || "-".to_string();
        lines.push(vec![
            r.node.clone(),
            r.addr.clone(),
            r.role.clone(),
            r.replicaof.clone().unwrap_or_else(dash),
            r.link.clone().unwrap_or_else(dash),
            r.seen_ms.map(|m| format!("{m} ms")).unwrap_or_else(dash),
            r.lag_bytes.map(|b| format!("{b} B")).unwrap_or_else(dash),
            r.readonly
                .map(|b| if b { "yes" } else { "NO" }.to_string())
                .unwrap_or_else(dash),
            if r.ok { "OK" } else { "FAIL" }.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    for (li, l) in lines.iter().enumerate() {
        let mut s = String::new();
        for (c, cell) in l.iter().enumerate() {
            let padded = format!("{cell:<w$}", w = widths[c]);
            if li > 0 && c == header.len() - 1 {
                s.push_str(&paint(&padded, cell == "OK", color));
            } else {
                s.push_str(&padded);
            }
            s.push_str("  ");
        }
        out.push_str(s.trim_end());
        out.push('\n');
    }
    for r in &report.nodes {
        for p in &r.problems {
            out.push_str(&named(&r.node, p));
        }
    }
    out.push_str(if report.ok {
        "verify: OK, every replica has the master's write\n"
    } else {
        "verify: FAILED\n"
    });
    out
}

/// `node: message` on one line, without repeating the node when the message names it first.
pub fn named(node: &str, message: &str) -> String {
    if message.starts_with(&format!("{node} ")) || message.starts_with(&format!("{node}:")) {
        format!("{message}\n")
    } else {
        format!("{node}: {message}\n")
    }
}
