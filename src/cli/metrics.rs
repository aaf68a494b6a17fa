//! `redrepl status --prometheus`: the cluster-level view (per node: up, role, link, offset,
//! lag, replicas, keys, ops/s) in the Prometheus text exposition format, for a node_exporter
//! textfile collector. Per-server metrics are redis_exporter's job; these are the ones only
//! the orchestrator knows (the inventory's names and who should follow whom), and with
//! sentinels deployed, what each sentinel sees.

use crate::cli::sentinel_status::Row as SentinelRow;
use crate::cli::status::Row;

/// Escapes a label value (backslash, double quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A row that a metric is labelled by: its node and address.
trait Labelled {
    fn node(&self) -> &str;
    fn addr(&self) -> &str;
}

impl Labelled for Row {
    fn node(&self) -> &str {
        &self.node
    }
    fn addr(&self) -> &str {
        &self.addr
    }
}

impl Labelled for SentinelRow {
    fn node(&self) -> &str {
        &self.node
    }
    fn addr(&self) -> &str {
        &self.addr
    }
}

/// One metric family: name, help, and a value per row (rows without a value are skipped).
fn family<R: Labelled>(
    out: &mut String,
    cluster: &str,
    rows: &[R],
    name: &str,
    help: &str,
    value: impl Fn(&R) -> Option<i64>,
) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
    for r in rows {
        if let Some(v) = value(r) {
            out.push_str(&format!(
                "{name}{{cluster=\"{}\",node=\"{}\",addr=\"{}\"}} {v}\n",
                label(cluster),
                label(r.node()),
                label(r.addr())
            ));
        }
    }
}

/// The sentinels' rows in the Prometheus text format (empty without sentinels).
pub fn sentinel_prometheus(cluster: &str, rows: &[SentinelRow]) -> String {
    let mut out = String::new();
    if rows.is_empty() {
        return out;
    }
    let f = &mut out;
    family(
        f,
        cluster,
        rows,
        "redrepl_sentinel_up",
        "Whether the node's sentinel answered (1) or not (0).",
        |r| Some(i64::from(r.reachable)),
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_sentinel_master_down",
        "What the sentinel sees of the master: 0 up, 1 SDOWN, 2 ODOWN.",
        |r| {
            r.reachable
                .then_some(if r.odown { 2 } else { i64::from(r.sdown) })
        },
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_sentinel_config_epoch",
        "The master's config-epoch as the sentinel knows it.",
        |r| r.epoch,
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_sentinel_known_sentinels",
        "Sentinels the sentinel knows, itself included.",
        |r| r.sentinels,
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_sentinel_known_replicas",
        "Replicas of the master the sentinel knows.",
        |r| r.replicas,
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_sentinel_quorum_ok",
        "1 when SENTINEL CKQUORUM passes on the sentinel.",
        |r| r.quorum_ok.map(i64::from),
    );
    out
}

/// The rows in the Prometheus text format.
pub fn prometheus(cluster: &str, rows: &[Row]) -> String {
    let mut out = String::new();
    let f = &mut out;
    family(
        f,
        cluster,
        rows,
        "redrepl_node_up",
        "Whether the node's server answered (1) or not (0).",
        |r| Some(i64::from(r.reachable)),
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_node_is_master",
        "1 when the server reports role master, 0 for a replica.",
        |r| r.role.as_deref().map(|x| i64::from(x == "master")),
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_replica_link_up",
        "1 when a replica's link to its master is up (master_link_status).",
        |r| r.link.as_deref().map(|l| i64::from(l == "up")),
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_repl_offset_bytes",
        "Replication offset the node has processed.",
        |r| r.offset,
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_replica_lag_bytes",
        "Bytes a replica is behind the cluster's master.",
        |r| r.lag_bytes,
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_connected_replicas",
        "Replicas connected to the node (connected_slaves).",
        |r| r.replicas,
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_keys",
        "Keys in all databases of the node.",
        |r| r.keys,
    );
    family(
        f,
        cluster,
        rows,
        "redrepl_ops_per_second",
        "instantaneous_ops_per_sec of the node.",
        |r| r.ops_per_sec,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_with_escaped_labels() {
        let row = Row {
            node: "n\"1".into(),
            addr: "10.0.0.1:6379".into(),
            reachable: true,
            role: Some("replica".into()),
            master: None,
            link: Some("down".into()),
            offset: Some(42),
            lag_bytes: Some(7),
            lag_ms: None,
            aof: None,
            replicas: Some(0),
            keys: Some(3),
            memory: None,
            uptime_s: None,
            ops_per_sec: Some(5),
            error: None,
            security: None,
            link_why: None,
        };
        let text = prometheus("c", &[row]);
        assert!(text.contains(
            "redrepl_replica_link_up{cluster=\"c\",node=\"n\\\"1\",addr=\"10.0.0.1:6379\"} 0\n"
        ));
        assert!(text.contains("# TYPE redrepl_replica_lag_bytes gauge\n"));
        assert!(text.contains(
            "redrepl_replica_lag_bytes{cluster=\"c\",node=\"n\\\"1\",addr=\"10.0.0.1:6379\"} 7\n"
        ));
    }
}
