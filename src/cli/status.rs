//! `redrepl status`: one row per node from INFO — reachable, role, master, link, offset, lag
//! in bytes and milliseconds, connected replicas, keys, ops/s, memory, AOF state, uptime.
//!
//! Lag in milliseconds: INFO has no such field (a master's `slaveN:...,lag=` is seconds since
//! the replica's last REPLCONF ACK, which says it is alive, not how far behind it is). So
//! [`LagClock`] remembers when the master's `master_repl_offset` was seen at each value; a
//! replica at offset `o` has at most the time since the last sample where the master was not
//! yet past `o` to catch up (an upper bound, precise to one refresh interval). One `status`
//! only knows the current sample: a replica that caught up shows 0 ms, one behind shows `-`;
//! `--watch` fills the history as it refreshes.

use crate::cli::cluster::Cluster;
use crate::cli::node::{NodeConn, NodeError};
use crate::cli::persistence::AofView;
use crate::cli::security_check;
use serde::Serialize;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

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
    /// Milliseconds behind the cluster's master (replicas; see [`LagClock`]).
    pub lag_ms: Option<u64>,
    /// The AOF (`aof_enabled`, rewrite, last write and rewrite status).
    pub aof: Option<AofView>,
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

/// The master's replication offset over time, for lag in milliseconds (see the module doc).
#[derive(Debug, Default)]
pub struct LagClock {
    /// `(when, master_repl_offset)`, oldest first, offsets not decreasing.
    samples: VecDeque<(Instant, i64)>,
}

/// How far back [`LagClock`] remembers.
const LAG_HISTORY: Duration = Duration::from_secs(600);

impl LagClock {
    /// Records the master's offset seen at `now` (a lower offset than before, a new master
    /// or a restart, starts the history again).
    pub fn record(&mut self, now: Instant, offset: i64) {
        if self.samples.back().is_some_and(|&(_, o)| o > offset) {
            self.samples.clear();
        }
        self.samples.push_back((now, offset));
        while self
            .samples
            .front()
            .is_some_and(|&(t, _)| now.duration_since(t) > LAG_HISTORY)
        {
            self.samples.pop_front();
        }
    }

    /// How far `offset` is behind the master: 0 when it is the master's latest, else the
    /// time since the last sample where the master was not past `offset` (an upper bound);
    /// None when the history does not reach back to when the master was at `offset`.
    pub fn lag_ms(&self, now: Instant, offset: i64) -> Option<u64> {
        let &(_, latest) = self.samples.back()?;
        if offset >= latest {
            return Some(0);
        }
        let &(t, _) = self.samples.iter().rev().find(|&&(_, o)| o <= offset)?;
        Some(now.duration_since(t).as_millis() as u64)
    }
}

/// Reads every node's INFO; `clock` keeps the master's offsets for the lag in ms (one per
/// `status --watch`, a fresh one for a single status).
pub async fn status(
    cluster: &Cluster,
    conns: &[Result<NodeConn, NodeError>],
    clock: &mut LagClock,
) -> Vec<Row> {
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
            lag_ms: None,
            aof: None,
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
                row.aof = Some(AofView::of(&info));
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
        let now = Instant::now();
        clock.record(now, m);
        for r in &mut rows {
            if r.role.as_deref() == Some("replica") {
                r.lag_bytes = r.offset.map(|o| (m - o).max(0));
                r.lag_ms = r.offset.and_then(|o| clock.lag_ms(now, o));
            }
        }
    }
    rows
}

/// The human table.
pub fn table(rows: &[Row]) -> String {
    let header = [
        "NODE", "ADDRESS", "UP", "ROLE", "MASTER", "LINK", "OFFSET", "LAG", "LAG MS", "REPLICAS",
        "KEYS", "OPS/S", "MEMORY", "AOF", "UPTIME", "TLS", "CERT", "USERS",
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
            r.lag_ms.map(|v| format!("{v} ms")).unwrap_or_else(dash),
            r.replicas.map(|v| v.to_string()).unwrap_or_else(dash),
            r.keys.map(|v| v.to_string()).unwrap_or_else(dash),
            r.ops_per_sec.map(|v| v.to_string()).unwrap_or_else(dash),
            r.memory.clone().unwrap_or_else(dash),
            r.aof.map(|a| a.cell()).unwrap_or_else(dash),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_ms_is_the_time_since_the_master_passed_the_replica_offset() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut c = LagClock::default();
        c.record(at(0), 100);
        assert_eq!(c.lag_ms(at(0), 100), Some(0));
        assert_eq!(c.lag_ms(at(0), 90), None, "no history before offset 100");
        c.record(at(500), 150);
        c.record(at(1000), 200);
        // At 120 the replica has what the master had at 0 ms but not at 500 ms.
        assert_eq!(c.lag_ms(at(1000), 120), Some(1000));
        assert_eq!(c.lag_ms(at(1000), 150), Some(500));
        assert_eq!(c.lag_ms(at(1000), 200), Some(0));
        // A restarted master (offset back to 0) starts the history again.
        c.record(at(2000), 5);
        assert_eq!(c.lag_ms(at(2000), 1), None);
    }
}
