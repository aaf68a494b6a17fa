//! The sentinel view of `status` and `verify`: per sentinel whether it answers, the master it
//! reports, its epoch, SDOWN/ODOWN, how many sentinels and replicas it knows and whether
//! CKQUORUM passes; and the problems verify fails on (exit 3): a sentinel unreachable,
//! sentinels that disagree on the master, a quorum that cannot be reached.

use crate::cli::cluster::Cluster;
use crate::cli::node::{NodeConn, NodeError};
use crate::cli::sentinel;
use serde::Serialize;

/// One sentinel's row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The node it runs on.
    pub node: String,
    /// `host:port` of the sentinel.
    pub addr: String,
    /// The sentinel answered.
    pub reachable: bool,
    /// `ip:port` of the master it reports.
    pub master: Option<String>,
    /// The inventory node at that address.
    pub master_node: Option<String>,
    /// The master's `config-epoch`.
    pub epoch: Option<i64>,
    /// It sees the master subjectively down.
    pub sdown: bool,
    /// It sees the master objectively down (quorum agreed).
    pub odown: bool,
    /// A failover of the master is in progress.
    pub failover: bool,
    /// Sentinels it knows, itself included.
    pub sentinels: Option<i64>,
    /// Replicas of the master it knows.
    pub replicas: Option<i64>,
    /// CKQUORUM passed.
    pub quorum_ok: Option<bool>,
    /// CKQUORUM's text (pass or refusal).
    pub quorum: Option<String>,
    /// Why it is unreachable.
    pub error: Option<String>,
}

/// Asks every sentinel; `conns` in inventory order. Empty when sentinels are off.
pub async fn view(cluster: &Cluster, conns: &[Result<NodeConn, NodeError>]) -> Vec<Row> {
    let Some(s) = &cluster.sentinels else {
        return Vec::new();
    };
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let tasks = cluster.nodes.iter().zip(conns).filter_map(|(n, c)| {
        let port = n.sentinel_port?;
        Some(async move {
            let mut row = Row {
                node: n.name.clone(),
                addr: format!("{}:{port}", n.host),
                reachable: false,
                master: None,
                master_node: None,
                epoch: None,
                sdown: false,
                odown: false,
                failover: false,
                sentinels: None,
                replicas: None,
                quorum_ok: None,
                quorum: None,
                error: None,
            };
            let c = match c {
                Ok(c) => c,
                Err(e) => {
                    row.error = Some(e.to_string());
                    return row;
                }
            };
            let asked = async {
                let mut link = sentinel::link(c, port, pw).await?;
                let view = sentinel::master_view(&mut link, &s.master_name)
                    .await
                    .map_err(|e| sentinel::link_err(c, port, e))?;
                let q = sentinel::ckquorum(&mut link, &s.master_name)
                    .await
                    .map_err(|e| sentinel::link_err(c, port, e))?;
                Ok::<_, NodeError>((view, q))
            }
            .await;
            match asked {
                Err(e) => row.error = Some(e.to_string()),
                Ok((view, q)) => {
                    row.reachable = true;
                    row.master = Some(view.addr());
                    row.master_node = sentinel::node_at(
                        cluster,
                        view.get("ip").unwrap_or(""),
                        view.int("port").unwrap_or(0) as u16,
                    )
                    .map(|n| n.name.clone());
                    row.epoch = view.int("config-epoch");
                    row.sdown = view.flags().contains(&"s_down");
                    row.odown = view.flags().contains(&"o_down");
                    row.failover = view.flags().contains(&"failover_in_progress");
                    row.sentinels = view.int("num-other-sentinels").map(|n| n + 1);
                    row.replicas = view.int("num-slaves");
                    row.quorum_ok = Some(q.is_ok());
                    row.quorum = Some(match q {
                        Ok(t) | Err(t) => t,
                    });
                }
            }
            row
        })
    });
    futures::future::join_all(tasks).await
}

/// What is wrong with the sentinels, one line each naming the sentinel (empty: healthy).
pub fn problems(cluster: &Cluster, rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    // No `sentinel:` block (or none enabled): nothing to check.
    if cluster.sentinels.is_none() || rows.is_empty() {
        return out;
    }
    for r in rows.iter().filter(|r| !r.reachable) {
        out.push(format!(
            "sentinel of {} ({}) is unreachable: {}; start it with `redrepl deploy`",
            r.node,
            r.addr,
            r.error.as_deref().unwrap_or("no answer")
        ));
    }
    let up: Vec<&Row> = rows.iter().filter(|r| r.reachable).collect();
    let mut masters: Vec<(String, Option<i64>)> = up
        .iter()
        .map(|r| (r.master.clone().unwrap_or_default(), r.epoch))
        .collect();
    masters.sort();
    masters.dedup();
    if masters.len() > 1 {
        out.push(format!(
            "the sentinels disagree on the master: {}",
            up.iter()
                .map(|r| format!(
                    "{} says {} (epoch {})",
                    r.node,
                    r.master_node
                        .as_deref()
                        .or(r.master.as_deref())
                        .unwrap_or("?"),
                    r.epoch.map(|e| e.to_string()).unwrap_or_else(|| "?".into())
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let quorum = cluster.sentinels.as_ref().map(|s| s.quorum).unwrap_or(0) as usize;
    let majority = rows.len() / 2 + 1;
    if up.len() < quorum.max(majority) {
        out.push(format!(
            "only {} of {} sentinels answer: a failover needs {} (quorum {quorum}, majority \
             {majority}); the quorum is lost",
            up.len(),
            rows.len(),
            quorum.max(majority)
        ));
    }
    for r in up.iter().filter(|r| r.quorum_ok == Some(false)) {
        out.push(format!(
            "sentinel of {} fails CKQUORUM: {}",
            r.node,
            r.quorum.as_deref().unwrap_or("?")
        ));
    }
    for r in up.iter().filter(|r| r.odown || r.sdown) {
        out.push(format!(
            "sentinel of {} sees the master {} down ({})",
            r.node,
            r.master_node.as_deref().unwrap_or("?"),
            if r.odown { "ODOWN" } else { "SDOWN" }
        ));
    }
    out
}

/// The human table (after the nodes' table).
pub fn table(rows: &[Row]) -> String {
    let header = [
        "SENTINEL",
        "ADDRESS",
        "UP",
        "MASTER",
        "EPOCH",
        "DOWN",
        "SENTINELS",
        "REPLICAS",
        "QUORUM",
    ];
    let dash = || "-".to_string();
    let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        lines.push(vec![
            r.node.clone(),
            r.addr.clone(),
            if r.reachable { "yes" } else { "NO" }.into(),
            r.master_node
                .clone()
                .or_else(|| r.master.clone())
                .unwrap_or_else(dash),
            r.epoch.map(|v| v.to_string()).unwrap_or_else(dash),
            match (r.reachable, r.odown, r.sdown) {
                (false, _, _) => dash(),
                (_, true, _) => "ODOWN".into(),
                (_, _, true) => "SDOWN".into(),
                _ => "no".into(),
            },
            r.sentinels.map(|v| v.to_string()).unwrap_or_else(dash),
            r.replicas.map(|v| v.to_string()).unwrap_or_else(dash),
            match r.quorum_ok {
                Some(true) => "OK".into(),
                Some(false) => "NO".into(),
                None => dash(),
            },
        ]);
    }
    let mut out = crate::cli::status::columns(&lines);
    for r in rows {
        if let Some(e) = &r.error {
            out.push_str(&crate::cli::verify::named(&r.node, e));
        }
    }
    out
}
