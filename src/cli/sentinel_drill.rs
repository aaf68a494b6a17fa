//! `redrepl failover-test INVENTORY`: a failover drill for a staging cluster with sentinels.
//! It kills the master's server (SIGKILL: a crash, not a clean stop), measures how long the
//! sentinels take to agree on a new master and until that master accepts a write, restarts
//! the old master with its own config and measures until the sentinels have turned it into a
//! replica of the new one. The inventory is left as it is: the next `redrepl deploy` follows
//! the sentinels (see [`crate::cli::sentinel_adopt`]).

use crate::cli::cluster::Cluster;
use crate::cli::deploy;
use crate::cli::node::NodeConn;
use crate::cli::progress::Progress;
use crate::cli::redis_link::Reply;
use crate::cli::sentinel;
use crate::cli::sentinel_adopt;
use crate::cli::sentinel_status;
use crate::cli::ssh::NewHostKeys;
use std::time::{Duration, Instant};

/// What the drill measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The master that was killed.
    pub old_master: String,
    /// The master the sentinels chose.
    pub new_master: String,
    /// Its config epoch after the failover.
    pub epoch: i64,
    /// From the kill until a sentinel gives clients the new master's address.
    pub announced_after: Duration,
    /// From the kill until every sentinel reports the new master, failover finished.
    pub agreed_after: Duration,
    /// From the kill until the new master accepted a write.
    pub writable_after: Duration,
    /// From the old master's restart until it is a replica of the new one, link up.
    pub rejoined_after: Duration,
    /// The sentinels' down-after-milliseconds.
    pub down_after: Duration,
}

impl Figures {
    /// The report, one figure a line.
    pub fn report(&self) -> String {
        let s = |d: Duration| format!("{:.2}s", d.as_secs_f64());
        format!(
            "failover-test: killed the server of {old} (the master)\n  \
             sentinels gave clients {new} after {announced}\n  \
             every sentinel reports {new} (epoch {epoch}) after {agreed}\n  \
             first write accepted by {new} after {writable} (down-after-milliseconds {down}: \
             {beyond} beyond it)\n  \
             {old} restarted, rejoined as a replica of {new} after {rejoined}\n\
             the inventory still names {old} as the master: `redrepl deploy` records {new}",
            old = self.old_master,
            new = self.new_master,
            epoch = self.epoch,
            announced = s(self.announced_after),
            agreed = s(self.agreed_after),
            writable = s(self.writable_after),
            down = self.down_after.as_millis(),
            beyond = s(self.writable_after.saturating_sub(self.down_after)),
            rejoined = s(self.rejoined_after),
        )
    }
}

/// Runs the drill. Refuses unless sentinels are deployed, healthy and agree with the
/// inventory's master.
pub async fn run(
    cluster: &Cluster,
    new_host_keys: NewHostKeys,
    wait: Duration,
    progress: &Progress,
) -> anyhow::Result<Figures> {
    let Some(s) = &cluster.sentinels else {
        anyhow::bail!("the inventory has no sentinel: block: there is nothing to fail over");
    };
    let pw = cluster.password.as_ref().map(|p| p.expose());
    let conns = deploy::connect_or_fail(cluster, new_host_keys, progress).await?;
    let old = cluster.master().name.clone();
    match sentinel_adopt::reported_master(cluster, &conns).await? {
        Some(m) if m == old => {}
        Some(m) => anyhow::bail!(
            "the sentinels report {m} as the master, the inventory {old}: run `redrepl deploy` \
             first; nothing was changed"
        ),
        None => anyhow::bail!("no sentinel answers: run `redrepl deploy` first"),
    }
    let wrapped: Vec<_> = conns.into_iter().map(Ok).collect();
    let problems =
        sentinel_status::problems(cluster, &sentinel_status::view(cluster, &wrapped).await);
    if !problems.is_empty() {
        anyhow::bail!(
            "the sentinels are not healthy; nothing was changed:\n  {}",
            problems.join("\n  ")
        );
    }
    let conn = |name: &str| -> &NodeConn {
        wrapped
            .iter()
            .flatten()
            .find(|c| c.name() == name)
            .expect("a connection per node")
    };
    let master = conn(&old);
    let pid = {
        let mut link = master.redis(pw).await?;
        let info = link.info("server").await.map_err(|e| master.redis_err(e))?;
        info.int("process_id")
            .ok_or_else(|| anyhow::anyhow!("{old}: INFO server has no process_id"))?
    };
    progress.step(&old, &format!("kill -KILL {pid} (the master's server)"));
    master.sh_ok(&format!("kill -KILL {pid}")).await?;
    let killed = Instant::now();
    let limit = Duration::from_millis(s.down_after_ms + s.failover_timeout_ms) + wait;
    let key = format!("redrepl:failover-test:{}", std::process::id());
    let (mut announced, mut agreed, mut writable) = (None, None, None);
    let mut new: Option<String> = None;
    let mut epoch = 0;
    while agreed.is_none() || writable.is_none() {
        if killed.elapsed() > limit {
            anyhow::bail!(
                "no failover within {}s of killing {old}'s server; see the sentinels' logs \
                 (`redrepl status` shows what they see)",
                limit.as_secs()
            );
        }
        // What a client asks: GET-MASTER-ADDR-BY-NAME, of the first sentinel that answers.
        if announced.is_none() {
            for c in wrapped.iter().flatten() {
                if let Some(m) = announced_master(cluster, c, pw).await {
                    if m != old {
                        announced = Some(killed.elapsed());
                        progress.note(&format!("sentinels give clients {m}"));
                        new = Some(m);
                    }
                    break;
                }
            }
        }
        if let (Some(m), None) = (&new, writable) {
            let c = conn(m);
            let set = async {
                let mut link = c.redis(pw).await?;
                link.timeout = Duration::from_secs(1);
                link.cmd(&["SET", &key, "1", "EX", "600"])
                    .await
                    .map_err(|e| c.redis_err(e))
            };
            if set.await.is_ok() {
                writable = Some(killed.elapsed());
                progress.note(&format!("{m} accepts writes"));
            }
        }
        if agreed.is_none() {
            let rows = sentinel_status::view(cluster, &wrapped).await;
            let up: Vec<_> = rows.iter().filter(|r| r.reachable).collect();
            if let Some(first) = up.first()
                && first.master_node.as_deref() != Some(old.as_str())
                && up.iter().all(|r| {
                    r.master_node == first.master_node && r.epoch == first.epoch && !r.failover
                })
                && first.master_node == new
            {
                agreed = Some(killed.elapsed());
                epoch = first.epoch.unwrap_or(0);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let new = new.expect("set with announced");
    // The old master comes back with its own config (it says master): the sentinels must
    // turn it into a replica of the new one.
    progress.step(&old, "restarting (its config still says master)");
    master.start(cluster.engine, pw, wait).await?;
    let restarted = Instant::now();
    let want = cluster.node(&new).expect("an inventory node");
    loop {
        let info = async {
            let mut link = master.redis(pw).await?;
            link.info("replication")
                .await
                .map_err(|e| master.redis_err(e))
        }
        .await;
        if let Ok(info) = info
            && info.role() == "slave"
            && info.get("master_link_status") == Some("up")
            && sentinel::node_at(
                cluster,
                info.get("master_host").unwrap_or(""),
                info.get("master_port")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0),
            )
            .is_some_and(|n| n.name == want.name)
        {
            break;
        }
        if restarted.elapsed() > limit {
            anyhow::bail!(
                "{old} was restarted but is not a replica of {new} after {}s: the sentinels \
                 did not convert it; see their logs",
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rejoined_after = restarted.elapsed();
    if let Ok(mut link) = conn(&new).redis(pw).await {
        let _ = link.cmd(&["DEL", &key]).await;
    }
    for c in wrapped.into_iter().flatten() {
        c.close().await;
    }
    Ok(Figures {
        old_master: old,
        new_master: new,
        epoch,
        announced_after: announced.expect("loop ended"),
        agreed_after: agreed.expect("loop ended"),
        writable_after: writable.expect("loop ended"),
        rejoined_after,
        down_after: Duration::from_millis(s.down_after_ms),
    })
}

/// The inventory node a sentinel gives clients as the master (GET-MASTER-ADDR-BY-NAME);
/// None when it does not answer.
async fn announced_master(cluster: &Cluster, c: &NodeConn, pw: Option<&str>) -> Option<String> {
    let s = cluster.sentinels.as_ref()?;
    let mut link = sentinel::link(c, c.node.sentinel_port?, pw).await.ok()?;
    link.timeout = Duration::from_secs(1);
    let reply = link
        .cmd(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &s.master_name])
        .await
        .ok()?;
    let Reply::Array(Some(a)) = reply else {
        return None;
    };
    let ip = a.first().and_then(Reply::text)?;
    let port = a.get(1).and_then(Reply::text)?.parse().ok()?;
    sentinel::node_at(cluster, &ip, port).map(|n| n.name.clone())
}
