//! `redrepl status`: one row per node from INFO — reachable, role, master, link, offset, lag
//! in bytes, connected replicas, keys, memory, uptime.

use crate::cli::cluster::Cluster;
use crate::cli::node::{NodeConn, NodeError};
use crate::cli::security_check;
use serde::Serialize;

/// One node's row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Node name.
    pub node: String,
    /// `host:port`.
    pub addr: String,
    /// The server answered.
    pub reachable: bool,
    /// `master` or `replica` as the server says.
    pub role: Option<String>,
    /// `host:port` it replicates from.
    pub master: Option<String>,
    /// `master_link_status`.
    pub link: Option<String>,
    /// Replication offset.
    pub offset: Option<i64>,
    /// Bytes behind the cluster's master (replicas).
    pub lag_bytes: Option<i64>,
    /// `connected_slaves`.
    pub replicas: Option<i64>,
    /// Keys in all databases.
    pub keys: Option<i64>,
    /// `used_memory_human`.
    pub memory: Option<String>,
    /// `uptime_in_seconds`.
    pub uptime_s: Option<i64>,
    /// `instantaneous_ops_per_sec`.
    pub ops_per_sec: Option<i64>,
    /// Why it is unreachable.
    pub error: Option<String>,
    /// TLS on/off, certificate days left, users defined (reachable nodes).
    pub security: Option<crate::cli::security_check::Facts>,
    /// Why a replica's link is down, when its master says (ACL LOG).
    pub link_why: Option<String>,
}

/// Reads every node's INFO.
pub async fn status(cluster: &Cluster, conns: &[Result<NodeConn, NodeError>]) -> Vec<Row> {
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let tasks = cluster.nodes.iter().zip(conns).map(|(n, c)| async move {
        let mut master_link = None;
        let mut row = Row {
            node: n.name.clone(),
            addr: format!("{}:{}", n.host, n.port),
            reachable: false,
            role: None,
            master: None,
            link: None,
            offset: None,
            lag_bytes: None,
            replicas: None,
            keys: None,
            memory: None,
            uptime_s: None,
            ops_per_sec: None,
            error: None,
            security: None,
            link_why: None,
        };
        let c = match c {
            Ok(c) => c,
            Err(e) => {
                row.error = Some(e.to_string());
                return (row, None);
            }
        };
        let info = async {
            let mut link = c.redis(pw).await?;
            let info = link.info("all").await.map_err(|e| c.redis_err(e))?;
            Ok::<_, NodeError>((info, link))
        }
        .await;
        match info {
            Err(e) => row.error = Some(e.to_string()),
            Ok((info, mut link)) => {
                row.security = Some(security_check::facts(cluster, c, &mut link).await);
                if info.role() != "slave" && n.replicaof.is_none() {
                    master_link = Some(link);
                }
                row.reachable = true;
                let slave = info.role() == "slave";
                row.role = Some(if slave { "replica" } else { "master" }.into());
                if slave {
                    row.master = Some(format!(
                        "{}:{}",
                        info.get("master_host").unwrap_or("?"),
                        info.get("master_port").unwrap_or("?")
                    ));
                    row.link = info.get("master_link_status").map(str::to_string);
                }
                row.offset = Some(info.offset());
                row.replicas = info.int("connected_slaves");
                row.keys = Some(info.keys());
                row.memory = info.get("used_memory_human").map(str::to_string);
                row.uptime_s = info.int("uptime_in_seconds");
                row.ops_per_sec = info.int("instantaneous_ops_per_sec");
            }
        }
        (row, master_link)
    });
    let (mut rows, mut masters): (Vec<Row>, Vec<Option<crate::cli::redis_link::Link>>) =
        futures::future::join_all(tasks).await.into_iter().unzip();
    let down = |r: &Row| r.role.as_deref() == Some("replica") && r.link.as_deref() != Some("up");
    if rows.iter().any(down)
        && let Some(master) = masters.iter_mut().flatten().next()
    {
        let why = security_check::replication_refused(cluster, master).await;
        for r in rows.iter_mut().filter(|r| down(r)) {
            r.link_why = why.clone();
        }
    }
    let master_offset = rows
        .iter()
        .filter(|r| r.role.as_deref() == Some("master"))
        .filter_map(|r| r.offset)
        .max();
    if let Some(m) = master_offset {
        for r in &mut rows {
            if r.role.as_deref() == Some("replica") {
                r.lag_bytes = r.offset.map(|o| (m - o).max(0));
            }
        }
    }
    rows
}

/// The human table.
pub fn table(rows: &[Row]) -> String {
    let header = [
        "NODE", "ADDRESS", "UP", "ROLE", "MASTER", "LINK", "OFFSET", "LAG", "REPLICAS", "KEYS",
        "OPS/S", "MEMORY", "UPTIME", "TLS", "CERT", "USERS",
    ];
    let dash = || "-".to_string();
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        lines.push(vec![
            r.node.clone(),
            r.addr.clone(),
            if r.reachable { "yes" } else { "NO" }.into(),
            r.role.clone().unwrap_or_else(dash),
            r.master.clone().unwrap_or_else(dash),
            r.link.clone().unwrap_or_else(dash),
            r.offset.map(|v| v.to_string()).unwrap_or_else(dash),
            r.lag_bytes.map(|v| format!("{v} B")).unwrap_or_else(dash),
            r.replicas.map(|v| v.to_string()).unwrap_or_else(dash),
            r.keys.map(|v| v.to_string()).unwrap_or_else(dash),
            r.ops_per_sec.map(|v| v.to_string()).unwrap_or_else(dash),
            r.memory.clone().unwrap_or_else(dash),
            r.uptime_s.map(|v| format!("{v}s")).unwrap_or_else(dash),
            r.security
                .as_ref()
                .map(|s| if s.tls { "on" } else { "off" }.to_string())
                .unwrap_or_else(dash),
            r.security
                .as_ref()
                .and_then(|s| s.cert_days)
                .map(|d| format!("{d}d"))
                .unwrap_or_else(dash),
            r.security
                .as_ref()
                .and_then(|s| s.users.as_ref())
                .map(|u| u.join(","))
                .unwrap_or_else(dash),
        ]);
    }
    let mut out = columns(&lines);
    for r in rows {
        if let Some(e) = &r.error {
            out.push_str(&crate::cli::verify::named(&r.node, e));
        }
        if let Some(why) = &r.link_why {
            out.push_str(&crate::cli::verify::named(
                &r.node,
                &format!("replication link down: {why}"),
            ));
        }
        if let Some(s) = &r.security
            && s.plain_open
        {
            out.push_str(&crate::cli::verify::named(
                &r.node,
                "accepts plain TCP although the inventory says tls: true",
            ));
        }
    }
    out
}

/// Rows of cells as left-aligned columns two spaces apart, one line each.
pub fn columns(lines: &[Vec<String>]) -> String {
    let n = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|c| {
            lines
                .iter()
                .map(|l| l.get(c).map_or(0, String::len))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in lines {
        let s: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(c, cell)| format!("{cell:<w$}", w = widths[c]))
            .collect();
        out.push_str(s.join("  ").trim_end());
        out.push('\n');
    }
    out
}
