//! FAILOVER (Redis 6.2+): a coordinated switch of roles between this master and one of its
//! replicas. Writes are paused, the target catches up, then this node becomes the target's
//! replica and asks it, with `PSYNC <replid> <offset> FAILOVER`, to take over; the target
//! promotes itself and accepts the PSYNC as a partial resync. Nothing acknowledged is lost.

use super::{LinkState, replica};
use crate::server::commands::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::server::state::{Pause, Shared, State};
use crate::{notice, warning};
use bytes::Bytes;
use std::sync::Arc;

/// Where a failover stands (INFO's master_failover_state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Writes paused; waiting for the target to reach our offset.
    WaitingForSync,
    /// We became the target's replica and asked it to take over.
    InProgress,
}

/// A failover under way.
#[derive(Debug, Clone)]
pub struct Failover {
    /// TO host port, or None for "the most up-to-date replica".
    pub target: Option<(String, u16)>,
    /// Unix ms after which the wait ends (0: no TIMEOUT).
    pub deadline_ms: i64,
    /// FORCE: go on at the timeout even if the target has not caught up.
    pub force: bool,
    /// Progress.
    pub phase: Phase,
}

/// INFO's `master_failover_state`.
pub fn state_name(st: &State) -> &'static str {
    match st.repl.failover.as_ref().map(|f| f.phase) {
        None => "no-failover",
        Some(Phase::WaitingForSync) => "waiting-for-sync",
        Some(Phase::InProgress) => "failover-in-progress",
    }
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms].
pub fn command(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mut target, mut force, mut abort, mut timeout) = (None, false, false, None);
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if is(a, "to") && i + 2 < args.len() && target.is_none() {
            let port = arg_i64(&args[i + 2])?;
            if !(0..=65535).contains(&port) {
                return Err(CmdError::fixed("ERR Invalid master port"));
            }
            target = Some((
                String::from_utf8_lossy(&args[i + 1]).into_owned(),
                port as u16,
            ));
            i += 3;
        } else if is(a, "force") && !force {
            force = true;
            i += 1;
        } else if is(a, "abort") && !abort {
            abort = true;
            i += 1;
        } else if is(a, "timeout") && i + 1 < args.len() && timeout.is_none() {
            let t = arg_i64(&args[i + 1])?;
            if t <= 0 {
                return Err(CmdError::fixed(
                    "ERR FAILOVER timeout must be greater than 0",
                ));
            }
            timeout = Some(t);
            i += 2;
        } else {
            return Err(CmdError::fixed("ERR syntax error"));
        }
    }
    let st = &mut *ctx.state;
    if abort {
        if force || target.is_some() || timeout.is_some() {
            return Err(CmdError::fixed(
                "ERR FAILOVER abort cannot be used with other options.",
            ));
        }
        if st.repl.failover.is_none() {
            return Err(CmdError::fixed("ERR No failover in progress."));
        }
        abort_failover(st, "Failover manually aborted");
        ctx.out.ok();
        return Ok(());
    }
    if force && (timeout.is_none() || target.is_none()) {
        return Err(CmdError::fixed(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    if st.config.replicaof.is_some() {
        return Err(CmdError::fixed(
            "ERR FAILOVER is not valid when server is a replica.",
        ));
    }
    if st.repl.replicas.is_empty() {
        return Err(CmdError::fixed("ERR FAILOVER requires connected replicas."));
    }
    if st.repl.failover.is_some() {
        return Err(CmdError::fixed("ERR FAILOVER already in progress."));
    }
    if let Some((host, port)) = &target {
        let Some(r) = st
            .repl
            .replicas
            .values()
            .find(|r| &r.ip == host && r.listening_port == *port)
        else {
            return Err(CmdError::fixed(
                "ERR FAILOVER target HOST and PORT is not a replica.",
            ));
        };
        if r.state != LinkState::Online {
            return Err(CmdError::fixed(
                "ERR FAILOVER target replica is not online.",
            ));
        }
    }
    let now = ctx.now_ms;
    st.repl.failover = Some(Failover {
        target,
        deadline_ms: timeout.map_or(0, |t| now + t),
        force,
        phase: Phase::WaitingForSync,
    });
    notice!("FAILOVER requested to {}.", describe(&st.repl.failover));
    st.pause = Some(Pause {
        until_ms: i64::MAX / 4,
        writes_only: true,
    });
    super::master::request_acks(st);
    ctx.out.ok();
    Ok(())
}

fn describe(f: &Option<Failover>) -> String {
    match f.as_ref().and_then(|f| f.target.clone()) {
        Some((h, p)) => format!("{h}:{p}"),
        None => "any replica".into(),
    }
}

/// Ends a failover that did not complete: writes resume; a node that already turned itself
/// into the target's replica becomes a master again.
pub fn abort_failover(st: &mut State, why: &str) {
    let Some(f) = st.repl.failover.take() else {
        return;
    };
    warning!("{why}, failover aborted.");
    if f.phase == Phase::InProgress {
        replica::unset_master(st);
    }
    st.pause = None;
}

/// The failover completed: the target accepted our PSYNC.
pub fn finish(st: &mut State) {
    if st.repl.failover.take().is_some() {
        notice!("Failover target accepted the PSYNC, failover complete.");
        st.pause = None;
    }
}

/// Cron: once the target has acknowledged our whole stream (or FORCE at the timeout),
/// become its replica and ask it to take over.
pub fn cron(st: &mut State, shared: &Arc<Shared>, now: i64) {
    let Some(f) = st.repl.failover.clone() else {
        return;
    };
    if f.phase != Phase::WaitingForSync {
        return;
    }
    let offset = st.repl.offset;
    let best = st
        .repl
        .replicas
        .values()
        .filter(|r| r.state == LinkState::Online)
        .filter(|r| {
            f.target
                .as_ref()
                .is_none_or(|(h, p)| &r.ip == h && r.listening_port == *p)
        })
        .max_by_key(|r| r.ack_offset)
        .map(|r| (r.ip.clone(), r.listening_port, r.ack_offset));
    let timed_out = f.deadline_ms > 0 && now >= f.deadline_ms;
    let chosen = match best {
        Some((h, p, ack)) if ack >= offset => Some((h, p)),
        Some((h, p, _)) if timed_out && f.force => Some((h, p)),
        None if timed_out && f.force => f.target.clone(),
        _ => None,
    };
    match chosen {
        Some((host, port)) => {
            notice!("Failover target {host}:{port} is synced, failing over.");
            if let Some(f) = st.repl.failover.as_mut() {
                f.phase = Phase::InProgress;
            }
            replica::set_master(st, shared, host, port);
        }
        None if timed_out => abort_failover(st, "Replica never caught up before timeout"),
        None => {}
    }
}

/// Whether this node became a replica for a failover and must ask its new master to take
/// over (`PSYNC ... FAILOVER`).
pub fn in_progress(st: &State) -> bool {
    st.repl
        .failover
        .as_ref()
        .is_some_and(|f| f.phase == Phase::InProgress)
}
