//! The inventory's `persistence:` on running nodes: what deploy changes live instead of
//! restarting, and the AOF state `status` shows.
//!
//! A running node whose config differs from the rendered one only in its persistence lines
//! (found by rendering the node with each setting and comparing checksums, as re-points do)
//! is changed live: `CONFIG SET save ... appendfsync ... appendonly yes|no` (both engines
//! allow it at run time), then, when the AOF is turned on, deploy waits for the initial
//! rewrite that writes its base (`aof_rewrite_in_progress:0`, `aof_rewrite_scheduled:0`,
//! `aof_last_bgrewrite_status:ok`): until then the node has no AOF holding its dataset.

use crate::cli::cluster::{Cluster, Node};
use crate::cli::inventory::Persistence;
use crate::cli::node::{NodeConn, NodeError};
use crate::cli::redis_link::Info;
use crate::cli::template::Template;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Redis's default save points (what `persistence: rdb | both` renders, and what a server
/// without a `save` line uses).
pub const DEFAULT_SAVE: &str = "3600 1 300 100 60 10000";

/// Which `persistence:` the config with checksum `sum` on `node` was rendered with:
/// `Some(setting)` when only the persistence lines differ from what `node` renders now
/// (`Some(None)`: rendered without the setting), `None` when no setting renders that config
/// (something else changed: a restart).
pub fn rendered_with(
    cluster: &Cluster,
    template: &Template,
    node: &Node,
    sum: &str,
) -> Option<Option<Persistence>> {
    let candidates = [
        None,
        Some(Persistence::Rdb),
        Some(Persistence::Aof),
        Some(Persistence::Both),
    ];
    candidates.into_iter().find(|p| {
        let mut n = node.clone();
        n.persistence = *p;
        template.render(cluster, &n).is_ok_and(|text| {
            let d = Sha256::digest(text.as_bytes());
            d.iter().map(|b| format!("{b:02x}")).collect::<String>() == sum
        })
    })
}

/// The CONFIG SET arguments that make a running server persist as `p` says.
fn config_set_args(p: Option<Persistence>) -> Vec<&'static str> {
    let (aof, save) = match p {
        None | Some(Persistence::Rdb) => ("no", DEFAULT_SAVE),
        Some(Persistence::Aof) => ("yes", ""),
        Some(Persistence::Both) => ("yes", DEFAULT_SAVE),
    };
    vec![
        "CONFIG",
        "SET",
        "save",
        save,
        "appendfsync",
        "everysec",
        "appendonly",
        aof,
    ]
}

/// Applies `p` to the running server of `c` and, when that turns the AOF on, waits (at most
/// `wait`) for the initial rewrite to finish.
pub async fn apply(
    c: &NodeConn,
    p: Option<Persistence>,
    pw: Option<&str>,
    wait: Duration,
) -> Result<(), NodeError> {
    let mut link = c.redis(pw).await?;
    link.cmd(&config_set_args(p))
        .await
        .map_err(|e| c.redis_err(e))?;
    if !p.is_some_and(Persistence::aof) {
        return Ok(());
    }
    let start = Instant::now();
    loop {
        let info = link.info("persistence").await.map_err(|e| c.redis_err(e))?;
        let aof = AofView::of(&info);
        if !aof.rewriting && !aof.scheduled {
            if aof.last_rewrite_ok {
                return Ok(());
            }
            return Err(failure(
                c,
                "the initial AOF rewrite failed (aof_last_bgrewrite_status:err)",
            )
            .await);
        }
        if start.elapsed() > wait {
            return Err(failure(
                c,
                &format!(
                    "the initial AOF rewrite is still running after {}s",
                    wait.as_secs()
                ),
            )
            .await);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An error naming the node, with its log's tail.
async fn failure(c: &NodeConn, what: &str) -> NodeError {
    NodeError::Local {
        node: c.name().to_string(),
        message: format!(
            "{what}; see its log {}:\n{}",
            c.node.logfile,
            c.log_tail().await
        ),
    }
}

/// A node's AOF as INFO persistence reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct AofView {
    /// `aof_enabled`.
    pub enabled: bool,
    /// `aof_rewrite_in_progress`.
    pub rewriting: bool,
    /// `aof_rewrite_scheduled`.
    pub scheduled: bool,
    /// `aof_last_bgrewrite_status:ok`.
    pub last_rewrite_ok: bool,
    /// `aof_last_write_status:ok`.
    pub last_write_ok: bool,
}

impl AofView {
    /// From INFO (persistence or all).
    pub fn of(info: &Info) -> AofView {
        AofView {
            enabled: info.get("aof_enabled") == Some("1"),
            rewriting: info.get("aof_rewrite_in_progress") == Some("1"),
            scheduled: info.get("aof_rewrite_scheduled") == Some("1"),
            last_rewrite_ok: info.get("aof_last_bgrewrite_status") != Some("err"),
            last_write_ok: info.get("aof_last_write_status") != Some("err"),
        }
    }

    /// The status table's cell: `off`, `on`, then what is going on or wrong
    /// (`rewriting`, `write-err`, `rewrite-err`), comma-separated.
    pub fn cell(&self) -> String {
        let mut parts = vec![if self.enabled { "on" } else { "off" }];
        if self.rewriting {
            parts.push("rewriting");
        }
        if !self.last_write_ok {
            parts.push("write-err");
        }
        if !self.last_rewrite_ok {
            parts.push("rewrite-err");
        }
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aof_cell_says_on_off_and_what_is_wrong() {
        let info = Info::parse(
            "aof_enabled:1\r\naof_rewrite_in_progress:1\r\naof_last_bgrewrite_status:ok\r\naof_last_write_status:err\r\n",
        );
        assert_eq!(AofView::of(&info).cell(), "on,rewriting,write-err");
        let info = Info::parse("aof_enabled:0\r\naof_last_bgrewrite_status:err\r\n");
        assert_eq!(AofView::of(&info).cell(), "off,rewrite-err");
    }

    #[test]
    fn config_set_per_setting() {
        assert_eq!(
            config_set_args(Some(Persistence::Aof))[2..],
            ["save", "", "appendfsync", "everysec", "appendonly", "yes"]
        );
        assert_eq!(config_set_args(None)[3], DEFAULT_SAVE);
        assert_eq!(config_set_args(Some(Persistence::Rdb))[7], "no");
    }
}
