//! `redrepl promote NODE` when sentinels run: the switch goes through them, never around them
//! (a direct REPLICAOF NO ONE would be undone: the sentinels would convert NODE back).
//!
//! Redis 7.0's `SENTINEL FAILOVER` picks the replica itself (lowest replica-priority, 0 =
//! never, then offset, then run id) and does not pause writes on the old master, so:
//! 1. every other replica gets `replica-priority 0` for the duration, and promote waits until
//!    every sentinel's INFO of it shows it (`SENTINEL REPLICAS`: up to one INFO period, 10 s):
//!    NODE is the only candidate;
//! 2. the old master is fenced: `min-replicas-to-write` raised out of reach, so it refuses
//!    every write (NOREPLICAS) from that command on, and promote waits until NODE's offset
//!    reaches the master's: every acknowledged write is on NODE, and no more are acknowledged.
//!    Not `CLIENT PAUSE WRITE`, as the direct switch does: a paused server blocks the
//!    sentinels' hello PUBLISH and every command queued behind it on their link, so they would
//!    see the old master stop answering PING and call it down in the middle of the switch;
//! 3. `SENTINEL FAILOVER <name>` on one sentinel, then wait until every sentinel reports NODE
//!    with one config epoch and no failover in progress;
//! 4. the old master, still fenced, is made a replica of NODE right away (`REPLICAOF`), then
//!    the fence is lifted and `CONFIG REWRITE`: the sentinels would convert it only 8 s or
//!    more later, and in between an unfenced old master would take writes that the conversion
//!    throws away. Clients get NOREPLICAS, then READONLY, never an acknowledgement;
//! 5. the priorities are restored; the inventory and configs follow as for any promote.
//!
//! With the master unreachable, `--force` does not force anything on the sentinels: after
//! step 1 it waits until they agree the master is down (ODOWN) and fail over by themselves
//! (they then choose NODE), and says what they did. When they do not see the master down, it
//! may be cut off from this machine only: nothing is switched.

use crate::cli::promote::{self, Inspected};
use crate::cli::redis_link::{Link, Reply};
use crate::cli::sentinel;
use crate::cli::sentinel_adopt;
use crate::cli::sentinel_status::{self, Row};
use anyhow::bail;
use std::path::Path;
use std::time::{Duration, Instant};

/// A replica-priority changed for the switch and restored after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priority {
    /// The node.
    pub node: String,
    /// Its replica-priority before.
    pub was: String,
    /// The one set for the switch.
    pub set: String,
}

/// What promote does through the sentinels; `--dry-run` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelPlan {
    /// The node to promote.
    pub target: String,
    /// The current master.
    pub old_master: String,
    /// Whether the master answers (a paused switchover) or not (`--force`: ODOWN).
    pub master_up: bool,
    /// The name the sentinels know the master by.
    pub master_name: String,
    /// The nodes whose sentinel runs; the first one is asked to fail over.
    pub sentinels: Vec<String>,
    /// The priorities changed for the switch.
    pub priorities: Vec<Priority>,
    /// With the master gone: what the sentinels were doing already when promote started (they
    /// failed over, or are failing over, by themselves; promote then only waits and records).
    pub already: Option<String>,
}

impl SentinelPlan {
    /// The plan, one line per step.
    pub fn describe(&self, inventory: &Path) -> Vec<String> {
        let (old, target, name) = (&self.old_master, &self.target, &self.master_name);
        let all = self.sentinels.join(", ");
        let mut out: Vec<String> = self
            .priorities
            .iter()
            .map(|p| {
                format!(
                    "{}: CONFIG SET replica-priority {} for the switch (now {}), restored after; \
                     wait until every sentinel sees it",
                    p.node, p.set, p.was
                )
            })
            .collect();
        if self.master_up {
            out.push(format!(
                "{old}: fence writes (CONFIG SET min-replicas-to-write {FENCE}: NOREPLICAS); wait \
                 until {target} has every write it took"
            ));
            out.push(format!(
                "sentinel of {}: SENTINEL FAILOVER {name}; wait until every sentinel ({all}) \
                 reports {target} with one config epoch",
                self.sentinels[0]
            ));
            out.push(format!(
                "{old}: REPLICAOF {target} while fenced; lift the fence; CONFIG REWRITE"
            ));
        } else if let Some(doing) = &self.already {
            out.push(format!(
                "the sentinels already fail {old} over by themselves ({doing}): wait until \
                 they agree, then record the master they chose"
            ));
        } else {
            out.push(format!(
                "wait until the sentinels ({all}) agree {old} is down (ODOWN) and fail over by \
                 themselves to {target}; nothing is forced on them"
            ));
        }
        out.push(
            "every reachable node: its config as `render` makes it from the new inventory".into(),
        );
        out.push(format!(
            "{}: {target} becomes the master, {old} follows {target}",
            inventory.display()
        ));
        out
    }
}

/// Promotes through the running sentinels (`sentinels`: the nodes whose sentinel answers).
pub async fn promote(
    mut ins: Inspected<'_>,
    target: &str,
    sentinels: Vec<String>,
) -> anyhow::Result<bool> {
    let cluster = ins.cluster;
    let s = cluster.sentinels.as_ref().expect("running sentinels");
    let old = cluster.master().name.clone();
    let (ti, mi) = (ins.idx(target), ins.idx(&old));
    let follows = cluster.node(target).and_then(|n| n.replicaof.clone());
    if follows.as_deref() != Some(old.as_str()) {
        bail!(
            "{target} follows {}, not the master {old}: the sentinels promote only the master's \
             direct replicas; nothing was changed",
            follows.unwrap_or_default()
        );
    }
    // The sentinels must agree with the inventory before anything changes; with the master
    // gone, they may have started without us: then promote waits for them and records it.
    let rows = sentinel_status::view(cluster, &ins.conns).await;
    let started = rows
        .iter()
        .any(|r| r.reachable && (r.failover || r.master_node.as_deref() != Some(old.as_str())));
    let already = (started && !ins.master_up).then(|| describe_rows(&rows));
    for r in rows.iter().filter(|r| r.reachable && already.is_none()) {
        if r.failover {
            bail!(
                "the sentinel of {} is failing the master over right now; nothing was changed",
                r.node
            );
        }
        if r.master_node.as_deref() != Some(old.as_str()) {
            bail!(
                "the sentinel of {} reports {} as the master, the inventory {old}: run `redrepl \
                 deploy {}` first (it records the sentinels' master); nothing was changed",
                r.node,
                r.master_node
                    .as_deref()
                    .or(r.master.as_deref())
                    .unwrap_or("?"),
                ins.inventory.display()
            );
        }
    }
    let plan = SentinelPlan {
        target: target.to_string(),
        old_master: old.clone(),
        master_up: ins.master_up,
        master_name: s.master_name.clone(),
        priorities: match already {
            None => priorities(&mut ins, ti, mi).await?,
            Some(_) => Vec::new(),
        },
        already,
        sentinels,
    };
    if ins.opts.dry_run {
        return Ok(promote::print_dry_run(&ins, &plan.describe(ins.inventory)));
    }
    if !plan.master_up {
        ins.note_force_loss(target).await;
    }
    let switched = switch(&mut ins, &plan, ti, mi).await;
    // Whatever happened, the priorities go back.
    for p in &plan.priorities {
        let i = ins.idx(&p.node);
        if let Err(e) = ins
            .cmd(i, &["CONFIG", "SET", "replica-priority", &p.was])
            .await
        {
            ins.progress.note(&format!(
                "{}: could not restore replica-priority {}: {e:#}",
                p.node, p.was
            ));
        }
    }
    let (chosen, epoch) = switched?;
    let switched_in = ins.started.elapsed();
    ins.progress.note(&format!(
        "the sentinels agree: {chosen} is the master (config epoch {epoch})"
    ));
    if chosen != target {
        ins.progress.note(&format!(
            "the sentinels chose {chosen}, not {target}: they failed over before they saw the \
             replica priorities; the inventory records {chosen}"
        ));
    }
    let topo = sentinel_adopt::topology_after(cluster, &chosen);
    let steps = promote::plan(cluster, &chosen, &topo, &ins.links, plan.master_up);
    promote::finish(ins, &steps, &topo, switched_in).await
}

/// The replica-priority changes: 0 on every other reachable replica, and a non-zero one on
/// the target when it has 0.
async fn priorities(
    ins: &mut Inspected<'_>,
    ti: usize,
    mi: usize,
) -> anyhow::Result<Vec<Priority>> {
    let mut out = Vec::new();
    for i in 0..ins.cluster.nodes.len() {
        if i == mi || ins.links[i].is_err() {
            continue;
        }
        let was = config_get(ins, i, "replica-priority").await?;
        let set = match (i == ti, was == "0") {
            (true, true) => "100",
            (false, false) => "0",
            _ => continue,
        };
        out.push(Priority {
            node: ins.cluster.nodes[i].name.clone(),
            was,
            set: set.into(),
        });
    }
    Ok(out)
}

/// Steps 1 to 4 (or the ODOWN wait with `--force`): the master the sentinels agreed on, and
/// its config epoch.
async fn switch(
    ins: &mut Inspected<'_>,
    plan: &SentinelPlan,
    ti: usize,
    mi: usize,
) -> anyhow::Result<(String, i64)> {
    let cluster = ins.cluster;
    let s = cluster.sentinels.as_ref().expect("running sentinels");
    let down_after = Duration::from_millis(s.down_after_ms);
    let wait = ins.opts.wait;
    let failover_limit = down_after + Duration::from_millis(2 * s.failover_timeout_ms) + wait;
    if let Some(doing) = &plan.already {
        ins.progress.note(&format!(
            "the sentinels already fail {} over by themselves ({doing}): waiting for them",
            plan.old_master
        ));
        return wait_odown_failover(ins, plan, down_after + wait, failover_limit).await;
    }
    for p in &plan.priorities {
        ins.progress
            .step(&p.node, &format!("CONFIG SET replica-priority {}", p.set));
        let i = ins.idx(&p.node);
        ins.cmd(i, &["CONFIG", "SET", "replica-priority", &p.set])
            .await?;
    }
    let mut links = sentinel_links(ins, &plan.sentinels).await?;
    wait_priorities_seen(ins, plan, &mut links).await?;
    if !plan.master_up {
        return wait_odown_failover(ins, plan, down_after + wait, failover_limit).await;
    }
    let limit = down_after + wait;
    let fence = Fence::raise(ins, mi).await?;
    if let Err(e) = ins.wait_caught_up(mi, ti).await {
        fence.lift(ins, mi).await?;
        return Err(e);
    }
    let (via, link) = &mut links[0];
    ins.progress.note(&format!(
        "sentinel of {via}: SENTINEL FAILOVER {}",
        plan.master_name
    ));
    if let Err(e) = link.cmd(&["SENTINEL", "FAILOVER", &plan.master_name]).await {
        fence.lift(ins, mi).await?;
        bail!(
            "the sentinel of {via} refused SENTINEL FAILOVER: {e}; nothing was switched, {} \
             takes writes again",
            plan.old_master
        );
    }
    let t0 = Instant::now();
    let (chosen, epoch) = loop {
        let rows = rows_of(ins, &plan.sentinels).await;
        if let Some(agreed) = agreed(&rows)
            && agreed.0 == plan.target
        {
            break agreed;
        }
        if t0.elapsed() > limit {
            let switching = rows
                .iter()
                .any(|r| r.failover || r.master_node.as_deref() == Some(plan.target.as_str()));
            if !switching {
                fence.lift(ins, mi).await?;
            }
            bail!(
                "the sentinels did not agree on {} within {}s ({}); {}",
                plan.target,
                limit.as_secs(),
                describe_rows(&rows),
                if switching {
                    format!(
                        "they are still switching: {} keeps refusing writes (min-replicas-to-write \
                         {FENCE}) until they convert it; run `redrepl deploy` once they agree",
                        plan.old_master
                    )
                } else {
                    format!(
                        "nothing was switched, {} takes writes again",
                        plan.old_master
                    )
                }
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The old master, still fenced, follows the new one now.
    ins.progress.step(
        &plan.old_master,
        &format!("REPLICAOF {chosen} (writes still fenced)"),
    );
    ins.replicaof(mi, &chosen).await?;
    fence.lift(ins, mi).await?;
    ins.cmd(mi, &["CONFIG", "REWRITE"]).await?;
    Ok((chosen, epoch))
}

/// `min-replicas-to-write` while the old master is fenced: more replicas than any cluster has.
const FENCE: &str = "1000000";

/// The old master's write fence: its `min-replicas-to-write` (and a non-zero
/// `min-replicas-max-lag`, without which the check is off) before the fence went up.
struct Fence {
    to_write: String,
    max_lag: String,
}

impl Fence {
    /// Raises the fence on node `mi`: from this command on, it refuses every write.
    async fn raise(ins: &mut Inspected<'_>, mi: usize) -> anyhow::Result<Fence> {
        let fence = Fence {
            to_write: config_get(ins, mi, "min-replicas-to-write").await?,
            max_lag: config_get(ins, mi, "min-replicas-max-lag").await?,
        };
        let lag = if fence.max_lag == "0" {
            "10"
        } else {
            &fence.max_lag
        };
        let old = ins.cluster.nodes[mi].name.clone();
        ins.progress.step(
            &old,
            &format!("fencing writes (min-replicas-to-write {FENCE})"),
        );
        ins.cmd(
            mi,
            &[
                "CONFIG",
                "SET",
                "min-replicas-max-lag",
                lag,
                "min-replicas-to-write",
                FENCE,
            ],
        )
        .await?;
        Ok(fence)
    }

    /// Lifts it: the settings as they were.
    async fn lift(&self, ins: &mut Inspected<'_>, mi: usize) -> anyhow::Result<()> {
        ins.cmd(
            mi,
            &[
                "CONFIG",
                "SET",
                "min-replicas-to-write",
                &self.to_write,
                "min-replicas-max-lag",
                &self.max_lag,
            ],
        )
        .await?;
        Ok(())
    }
}

/// One setting of node `i` (`CONFIG GET`).
async fn config_get(ins: &mut Inspected<'_>, i: usize, name: &str) -> anyhow::Result<String> {
    let reply = ins.cmd(i, &["CONFIG", "GET", name]).await?;
    match reply {
        Reply::Array(Some(a)) => a.get(1).and_then(Reply::text),
        _ => None,
    }
    .ok_or_else(|| {
        anyhow::anyhow!(
            "{}: CONFIG GET {name} gave no value",
            ins.cluster.nodes[i].name
        )
    })
}

/// A link to each running sentinel.
async fn sentinel_links(
    ins: &Inspected<'_>,
    nodes: &[String],
) -> anyhow::Result<Vec<(String, Link)>> {
    let mut out = Vec::new();
    for n in nodes {
        let c = ins.conn(ins.idx(n));
        let port = c.node.sentinel_port.expect("a running sentinel");
        out.push((n.clone(), sentinel::link(c, port, ins.password()).await?));
    }
    Ok(out)
}

/// Waits until every sentinel's view of the replicas has the new priorities, and the target
/// as a usable candidate (neither down nor disconnected).
async fn wait_priorities_seen(
    ins: &Inspected<'_>,
    plan: &SentinelPlan,
    links: &mut [(String, Link)],
) -> anyhow::Result<()> {
    let cluster = ins.cluster;
    let want = |node: &str| -> Option<&str> {
        plan.priorities
            .iter()
            .find(|p| p.node == node)
            .map(|p| p.set.as_str())
    };
    let t0 = Instant::now();
    let limit = ins.opts.wait;
    for (by, link) in links.iter_mut() {
        ins.progress
            .step(by, "waiting until its sentinel sees the replica priorities");
        loop {
            let replicas = sentinel::replicas_view(link, &plan.master_name)
                .await
                .map_err(|e| {
                    let c = ins.conn(ins.idx(by));
                    sentinel::link_err(c, c.node.sentinel_port.unwrap_or(0), e)
                })?;
            let mut missing = Vec::new();
            let mut target_ok = false;
            for r in &replicas {
                let Some(n) = r
                    .int("port")
                    .and_then(|p| sentinel::node_at(cluster, r.get("ip").unwrap_or(""), p as u16))
                else {
                    continue;
                };
                let prio = r.get("slave-priority").unwrap_or("");
                if n.name == plan.target {
                    let flags = r.flags();
                    target_ok = prio != "0"
                        && !flags.contains(&"s_down")
                        && !flags.contains(&"disconnected");
                } else if let Some(w) = want(&n.name)
                    && prio != w
                {
                    missing.push(format!("{} (priority {prio})", n.name));
                }
            }
            if target_ok && missing.is_empty() {
                break;
            }
            // With the master gone they may decide while promote waits: then it only
            // records what they chose.
            let view = sentinel::master_view(link, &plan.master_name).await;
            if let Ok(v) = view
                && (v.flags().contains(&"failover_in_progress")
                    || v.int("port")
                        .and_then(|p| {
                            sentinel::node_at(cluster, v.get("ip").unwrap_or(""), p as u16)
                        })
                        .is_some_and(|n| n.name != plan.old_master))
            {
                return Ok(());
            }
            if t0.elapsed() > limit {
                bail!(
                    "the sentinel of {by} did not see the replica priorities within {}s{}{}; \
                     nothing was switched",
                    limit.as_secs(),
                    if target_ok {
                        String::new()
                    } else {
                        format!(": {} is no usable replica for it", plan.target)
                    },
                    if missing.is_empty() {
                        String::new()
                    } else {
                        format!(": still sees {}", missing.join(", "))
                    }
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// `--force`, master unreachable: waits until the sentinels see it objectively down and agree
/// on a new master. Gives up when no sentinel reaches ODOWN within `odown_limit`.
async fn wait_odown_failover(
    ins: &Inspected<'_>,
    plan: &SentinelPlan,
    odown_limit: Duration,
    limit: Duration,
) -> anyhow::Result<(String, i64)> {
    let old = &plan.old_master;
    ins.progress.note(&format!(
        "waiting for the sentinels to agree {old} is down (ODOWN) and fail over"
    ));
    let t0 = Instant::now();
    let mut odown_seen = plan.already.is_some();
    loop {
        let rows = rows_of(ins, &plan.sentinels).await;
        if let Some(agreed) = agreed(&rows)
            && agreed.0 != *old
        {
            if !odown_seen {
                ins.progress.note(&format!(
                    "the sentinels already failed {old} over by themselves: they chose {}",
                    agreed.0
                ));
            }
            return Ok(agreed);
        }
        if !odown_seen && rows.iter().any(|r| r.odown || r.failover) {
            odown_seen = true;
            ins.progress.note(&format!(
                "the sentinels see {old} objectively down after {:.1}s",
                t0.elapsed().as_secs_f64()
            ));
        }
        if !odown_seen && t0.elapsed() > odown_limit {
            bail!(
                "the sentinels do not see {old} down after {}s ({}): it may be cut off from \
                 this machine only; nothing was switched",
                odown_limit.as_secs(),
                describe_rows(&rows)
            );
        }
        if t0.elapsed() > limit {
            bail!(
                "the sentinels saw {old} down but did not agree on a new master within {}s \
                 ({}); see their logs",
                limit.as_secs(),
                describe_rows(&rows)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The sentinel rows of the nodes whose sentinel runs.
async fn rows_of(ins: &Inspected<'_>, nodes: &[String]) -> Vec<Row> {
    sentinel_status::view(ins.cluster, &ins.conns)
        .await
        .into_iter()
        .filter(|r| nodes.contains(&r.node))
        .collect()
}

/// The master and config epoch every row reports, no failover in progress; None otherwise.
fn agreed(rows: &[Row]) -> Option<(String, i64)> {
    let first = rows.first()?;
    let all = rows.iter().all(|r| {
        r.reachable && !r.failover && r.master_node == first.master_node && r.epoch == first.epoch
    });
    all.then(|| Some((first.master_node.clone()?, first.epoch?)))
        .flatten()
}

/// `node: master epoch flags` of each row, for an error.
fn describe_rows(rows: &[Row]) -> String {
    rows.iter()
        .map(|r| {
            if !r.reachable {
                return format!("sentinel of {}: unreachable", r.node);
            }
            let flags: Vec<&str> = [
                (r.sdown, "s_down"),
                (r.odown, "o_down"),
                (r.failover, "failover_in_progress"),
            ]
            .into_iter()
            .filter_map(|(on, f)| on.then_some(f))
            .collect();
            format!(
                "sentinel of {}: master {} epoch {}{}",
                r.node,
                r.master_node
                    .as_deref()
                    .or(r.master.as_deref())
                    .unwrap_or("?"),
                r.epoch.unwrap_or(0),
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", flags.join(","))
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(node: &str, master: &str, epoch: i64, failover: bool) -> Row {
        Row {
            node: node.into(),
            addr: String::new(),
            reachable: true,
            master: None,
            master_node: Some(master.into()),
            epoch: Some(epoch),
            sdown: false,
            odown: false,
            failover,
            sentinels: None,
            replicas: None,
            quorum_ok: None,
            quorum: None,
            error: None,
        }
    }

    #[test]
    fn agreement_needs_one_master_one_epoch_and_no_failover() {
        let rows = [row("a", "n2", 1, false), row("b", "n2", 1, false)];
        assert_eq!(agreed(&rows), Some(("n2".into(), 1)));
        assert_eq!(
            agreed(&[row("a", "n2", 1, false), row("b", "n2", 0, false)]),
            None
        );
        assert_eq!(
            agreed(&[row("a", "n2", 1, false), row("b", "n1", 1, false)]),
            None
        );
        assert_eq!(
            agreed(&[row("a", "n2", 1, true), row("b", "n2", 1, false)]),
            None
        );
        let mut down = row("b", "n2", 1, false);
        down.reachable = false;
        assert_eq!(agreed(&[row("a", "n2", 1, false), down]), None);
    }

    #[test]
    fn the_plan_names_every_step() {
        let plan = SentinelPlan {
            target: "n2".into(),
            old_master: "n1".into(),
            master_up: true,
            master_name: "ha".into(),
            sentinels: vec!["n1".into(), "n2".into(), "n3".into()],
            priorities: vec![Priority {
                node: "n3".into(),
                was: "100".into(),
                set: "0".into(),
            }],
            already: None,
        };
        let lines = plan.describe(Path::new("inv.yaml"));
        assert_eq!(
            lines[0],
            "n3: CONFIG SET replica-priority 0 for the switch (now 100), restored after; wait \
             until every sentinel sees it"
        );
        assert!(lines[2].starts_with("sentinel of n1: SENTINEL FAILOVER ha;"));
        assert_eq!(
            lines.last().unwrap(),
            "inv.yaml: n2 becomes the master, n1 follows n2"
        );
    }
}
