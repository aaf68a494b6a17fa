//! The timer's decisions (sentinel.c's sentinelHandleRedisInstance and the failover state
//! machine): SDOWN, ODOWN by the other sentinels' replies, starting a failover, leader
//! election by epochs and votes, replica selection, promotion, reconfiguration of the other
//! replicas with parallel-syncs, and the switch to the new master. TILT mode too.
//!
//! `SENTINEL FAILOVER` hands over exactly as Redis 7.0's sentinel does: no CLIENT PAUSE on
//! the old master, no wait for the chosen replica's offset; the promotion is the same MULTI /
//! SLAVEOF NO ONE / CONFIG REWRITE / CLIENT KILL / EXEC transaction. A write pause would be
//! visible on the wire (the old master's clients block; a redis-sentinel leader of the same
//! quorum would not do it), so the choice is to stay identical to 7.0 and put the loss-free
//! handover where it is under our control: `redrepl promote` pauses writes on the old master,
//! waits for the chosen replica's offset, then asks the sentinels (see
//! `crate::cli::sentinel_promote`).

use super::monitor::{INFO_PERIOD, PING_PERIOD, queue_slaveof};
use super::state::{FailoverState, Instance, Master, Role, Sentinel};
use std::collections::HashMap;

/// A gap between timer runs that means the clock or the process misbehaved (TILT).
const TILT_TRIGGER: i64 = 2000;
/// How long TILT lasts.
const TILT_PERIOD: i64 = 30_000;
/// Votes and down-states older than this are forgotten (SENTINEL_ASK_FORGET_TIME).
const ASK_FORGET_TIME: i64 = 5000;
/// Longest wait to be elected (SENTINEL_ELECTION_TIMEOUT).
const ELECTION_TIMEOUT: i64 = 10_000;
/// A replica that got SLAVEOF and did not move in this time counts as done.
const SLAVE_RECONF_TIMEOUT: i64 = 10_000;
/// Random delay added to a failover start, so sentinels do not all try at once.
const MAX_DESYNC: i64 = 1000;

fn rand_desync() -> i64 {
    (crate::sysrand::u64().unwrap_or(0) % MAX_DESYNC as u64) as i64
}

/// The delay between ODOWN and the start of a failover: 1 to MAX_DESYNC - 1 ms, never 0,
/// so that sentinels that reached ODOWN in the same instant start at different moments
/// and the first to ask gets the others' votes. sentinel.c gets this spread for free
/// (each sentinel's PING phase and its randomized timer frequency); our links notice a
/// lost master at once, so all sentinels reach SDOWN and ODOWN together and, in 1 run of
/// 5, all voted for themselves in the same epoch (split vote, next try 2 × failover-timeout
/// later).
fn start_desync() -> i64 {
    1 + (crate::sysrand::u64().unwrap_or(0) % (MAX_DESYNC as u64 - 1)) as i64
}

/// One timer run (every 100 ms).
pub fn timer(s: &mut Sentinel, now: i64) {
    let delta = now - s.previous_time;
    s.previous_time = now;
    if !(0..=TILT_TRIGGER).contains(&delta) {
        s.tilt = true;
        s.tilt_start = now;
        s.events.emit(true, "+tilt", "#tilt mode entered");
    }
    if s.tilt {
        if now - s.tilt_start < TILT_PERIOD {
            return;
        }
        s.tilt = false;
        s.events.emit(true, "-tilt", "#tilt mode exited");
    }
    for mi in 0..s.masters.len() {
        check_down(s, mi, now);
        forget_stale_replies(s, mi, now);
        check_odown(s, mi, now);
        if start_failover_if_needed(s, mi, now) {
            for si in &mut s.masters[mi].sentinels {
                si.ask_forced = true;
            }
        }
        state_machine(s, mi, now);
    }
    for mi in 0..s.masters.len() {
        if s.masters[mi].failover_state == FailoverState::UpdateConfig {
            switch_to_promoted(s, mi);
        }
    }
}

/// sentinelCheckSubjectivelyDown for every instance of master `mi`.
fn check_down(s: &mut Sentinel, mi: usize, now: i64) {
    let events = s.events.clone();
    let m = &mut s.masters[mi];
    let down_after = m.conf.down_after as i64;
    let mut changes: Vec<(bool, String)> = Vec::new();
    let master_view = m.clone();
    for inst in m.all_mut() {
        let elapsed = if inst.act_ping_time != 0 {
            now - inst.act_ping_time
        } else if !inst.connected {
            now - inst.last_avail_time
        } else {
            0
        };
        let reports_replica = inst.role == Role::Master
            && inst.role_reported == Role::Replica
            && now - inst.role_reported_time > down_after + INFO_PERIOD * 2;
        let down = elapsed > down_after || reports_replica;
        if down && inst.s_down_since == 0 {
            inst.s_down_since = now;
            inst.last_down_start = now;
            changes.push((true, master_view.describe_inst(inst)));
        } else if !down && inst.s_down_since != 0 {
            inst.s_down_since = 0;
            changes.push((false, master_view.describe_inst(inst)));
        }
    }
    for (down, d) in changes {
        events.warn(m.notify(), if down { "+sdown" } else { "-sdown" }, &d);
    }
}

/// Drops the other sentinels' opinions that are too old to count.
fn forget_stale_replies(s: &mut Sentinel, mi: usize, now: i64) {
    for si in &mut s.masters[mi].sentinels {
        if now - si.last_master_down_reply > ASK_FORGET_TIME {
            si.master_down = false;
            si.leader = None;
        }
    }
}

/// sentinelCheckObjectivelyDown.
fn check_odown(s: &mut Sentinel, mi: usize, now: i64) {
    let events = s.events.clone();
    let m = &mut s.masters[mi];
    let mut quorum = 0;
    let mut odown = false;
    if m.inst.s_down_since != 0 {
        quorum = 1 + m.sentinels.iter().filter(|x| x.master_down).count() as u32;
        odown = quorum >= m.conf.quorum;
    }
    if odown && m.inst.o_down_since == 0 {
        m.inst.o_down_since = now;
        m.inst.last_down_start = now;
        m.failover_desync = start_desync();
        let msg = format!("{} #quorum {}/{}", m.describe(), quorum, m.conf.quorum);
        events.warn(m.notify(), "+odown", &msg);
    } else if !odown && m.inst.o_down_since != 0 {
        m.inst.o_down_since = 0;
        events.warn(m.notify(), "-odown", &m.describe());
    }
}

/// sentinelStartFailoverIfNeeded + sentinelStartFailover.
fn start_failover_if_needed(s: &mut Sentinel, mi: usize, now: i64) -> bool {
    let m = &s.masters[mi];
    if m.inst.o_down_since == 0 || m.failover_state != FailoverState::None {
        return false;
    }
    if now - m.failover_start_time < (m.conf.failover_timeout as i64) * 2 {
        return false;
    }
    if now - m.inst.o_down_since < m.failover_desync {
        return false;
    }
    start_failover(s, mi, now);
    true
}

/// Starts a failover of master `mi` in a new epoch.
pub fn start_failover(s: &mut Sentinel, mi: usize, now: i64) {
    s.current_epoch += 1;
    let epoch = s.current_epoch;
    let m = &mut s.masters[mi];
    m.failover_state = FailoverState::WaitStart;
    m.failover_epoch = epoch;
    m.failover_start_time = now + rand_desync();
    m.failover_state_change_time = now;
    let d = m.describe();
    s.warn(mi, "+new-epoch", &epoch.to_string());
    s.warn(mi, "+try-failover", &d);
}

/// sentinelVoteLeader: votes for `runid` in `epoch` unless this sentinel already voted in
/// it; returns (our vote, its epoch).
pub fn vote_leader(
    s: &mut Sentinel,
    mi: usize,
    epoch: u64,
    runid: &str,
    now: i64,
) -> (Option<String>, u64) {
    s.adopt_epoch(mi, epoch);
    let m = &s.masters[mi];
    if m.conf.leader_epoch < epoch && s.current_epoch <= epoch {
        let current = s.current_epoch;
        let myid = s.myid.clone();
        let m = &mut s.masters[mi];
        m.leader = Some(runid.to_string());
        m.conf.leader_epoch = current;
        s.flush_config();
        s.warn(mi, "+vote-for-leader", &format!("{runid} {current}"));
        // Voting for another sentinel: do not start our own failover for a while.
        if runid != myid {
            s.masters[mi].failover_start_time = now + rand_desync();
        }
    }
    let m = &s.masters[mi];
    (m.leader.clone(), m.conf.leader_epoch)
}

/// sentinelGetLeader: the winner of `epoch`, if it has a majority and the quorum.
fn get_leader(s: &mut Sentinel, mi: usize, epoch: u64, now: i64) -> Option<String> {
    let m = &s.masters[mi];
    let voters = m.sentinels.len() + 1;
    let mut counters: HashMap<String, usize> = HashMap::new();
    for si in &m.sentinels {
        if let Some(l) = &si.leader
            && si.leader_epoch == s.current_epoch
        {
            *counters.entry(l.clone()).or_default() += 1;
        }
    }
    let best = |c: &HashMap<String, usize>| {
        c.iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(k, v)| (k.clone(), *v))
    };
    let winner = best(&counters).map(|(k, _)| k);
    let candidate = winner.unwrap_or_else(|| s.myid.clone());
    let (myvote, leader_epoch) = vote_leader(s, mi, epoch, &candidate, now);
    if let Some(v) = myvote
        && leader_epoch == epoch
    {
        *counters.entry(v).or_default() += 1;
    }
    let (winner, votes) = best(&counters)?;
    let quorum = s.masters[mi].conf.quorum as usize;
    if votes < voters / 2 + 1 || votes < quorum {
        return None;
    }
    Some(winner)
}

fn set_state(s: &mut Sentinel, mi: usize, st: FailoverState, now: i64) {
    let m = &mut s.masters[mi];
    m.failover_state = st;
    m.failover_state_change_time = now;
}

/// sentinelAbortFailover.
fn abort(s: &mut Sentinel, mi: usize, now: i64) {
    let m = &mut s.masters[mi];
    m.failover_state = FailoverState::None;
    m.failover_state_change_time = now;
    m.force_failover = false;
    for r in &mut m.replicas {
        r.promoted = false;
        r.reconf_sent = false;
        r.reconf_inprog = false;
        r.reconf_done = false;
    }
}

fn abort_with(s: &mut Sentinel, mi: usize, now: i64, event: &str, who: String) {
    s.warn(mi, event, &who);
    abort(s, mi, now);
}

/// sentinelFailoverStateMachine.
fn state_machine(s: &mut Sentinel, mi: usize, now: i64) {
    let timeout = s.masters[mi].conf.failover_timeout as i64;
    match s.masters[mi].failover_state {
        FailoverState::None | FailoverState::UpdateConfig => {}
        FailoverState::WaitStart => {
            let epoch = s.masters[mi].failover_epoch;
            let leader = get_leader(s, mi, epoch, now);
            let m = &s.masters[mi];
            if leader.as_deref() != Some(s.myid.as_str()) && !m.force_failover {
                if now - m.failover_start_time > ELECTION_TIMEOUT.min(timeout) {
                    let d = m.describe();
                    abort_with(s, mi, now, "-failover-abort-not-elected", d);
                }
                return;
            }
            let d = m.describe();
            s.warn(mi, "+elected-leader", &d);
            if s.simulate.crash_after_election {
                crate::warning!("Simulated crash after election");
                std::process::exit(99);
            }
            set_state(s, mi, FailoverState::SelectSlave, now);
            s.warn(mi, "+failover-state-select-slave", &d);
        }
        FailoverState::SelectSlave => match select_replica(&s.masters[mi], now) {
            None => {
                let d = s.masters[mi].describe();
                abort_with(s, mi, now, "-failover-abort-no-good-slave", d);
            }
            Some(ri) => {
                let m = &mut s.masters[mi];
                m.replicas[ri].promoted = true;
                let d = m.describe_inst(&m.replicas[ri]);
                s.warn(mi, "+selected-slave", &d);
                set_state(s, mi, FailoverState::SendSlaveofNoone, now);
                s.events
                    .emit(false, "+failover-state-send-slaveof-noone", &d);
            }
        },
        FailoverState::SendSlaveofNoone => {
            let m = &mut s.masters[mi];
            let Some(ri) = m.replicas.iter().position(|r| r.promoted) else {
                abort(s, mi, now);
                return;
            };
            if !m.replicas[ri].connected {
                if now - m.failover_state_change_time > timeout {
                    let d = m.describe_inst(&m.replicas[ri]);
                    abort_with(s, mi, now, "-failover-abort-slave-timeout", d);
                }
                return;
            }
            queue_slaveof(&mut m.replicas[ri], None);
            let d = m.describe_inst(&m.replicas[ri]);
            s.events.emit(false, "+failover-state-wait-promotion", &d);
            set_state(s, mi, FailoverState::WaitPromotion, now);
        }
        FailoverState::WaitPromotion => {
            let m = &s.masters[mi];
            if now - m.failover_state_change_time > timeout {
                let d = m
                    .replicas
                    .iter()
                    .find(|r| r.promoted)
                    .map(|r| m.describe_inst(r))
                    .unwrap_or_else(|| m.describe());
                abort_with(s, mi, now, "-failover-abort-slave-timeout", d);
            }
        }
        FailoverState::ReconfSlaves => reconf_next_replicas(s, mi, now),
    }
}

/// sentinelSelectSlave: the best replica to promote, by priority, offset, run id.
pub fn select_replica(m: &Master, now: i64) -> Option<usize> {
    let down_after = m.conf.down_after as i64;
    let max_master_down_time = if m.inst.s_down_since != 0 {
        now - m.inst.s_down_since
    } else {
        0
    } + down_after * 10;
    let info_validity = if m.inst.s_down_since != 0 {
        PING_PERIOD * 5
    } else {
        INFO_PERIOD * 3
    };
    let ok = |r: &Instance| {
        r.s_down_since == 0
            && r.connected
            && now - r.last_avail_time <= PING_PERIOD * 5
            && r.slave_priority != 0
            && r.info_refresh != 0
            && now - r.info_refresh <= info_validity
            && r.master_link_down_time <= max_master_down_time
    };
    let mut cands: Vec<usize> = (0..m.replicas.len())
        .filter(|&i| ok(&m.replicas[i]))
        .collect();
    cands.sort_by(|&a, &b| {
        let (a, b) = (&m.replicas[a], &m.replicas[b]);
        a.slave_priority
            .cmp(&b.slave_priority)
            .then(b.slave_repl_offset.cmp(&a.slave_repl_offset))
            .then_with(|| match (&a.runid, &b.runid) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
    });
    cands.first().copied()
}

/// sentinelFailoverReconfNextSlave + sentinelFailoverDetectEnd.
// Indexes, not iterators: each event describes a replica through the master it belongs to.
#[allow(clippy::needless_range_loop)]
fn reconf_next_replicas(s: &mut Sentinel, mi: usize, now: i64) {
    let events = s.events.clone();
    let m = &mut s.masters[mi];
    let Some(pi) = m.replicas.iter().position(|r| r.promoted) else {
        abort(s, mi, now);
        return;
    };
    let (pip, pport) = (m.replicas[pi].ip.clone(), m.replicas[pi].port);
    let mut in_progress = m
        .replicas
        .iter()
        .filter(|r| r.reconf_sent || r.reconf_inprog)
        .count() as u64;
    for i in 0..m.replicas.len() {
        if in_progress >= m.conf.parallel_syncs.max(1) {
            break;
        }
        let r = &mut m.replicas[i];
        if r.promoted || r.reconf_done {
            continue;
        }
        if r.reconf_sent && now - r.slave_reconf_sent_time > SLAVE_RECONF_TIMEOUT {
            r.reconf_sent = false;
            r.reconf_done = true;
            let d = m.describe_inst(&m.replicas[i]);
            events.emit(false, "-slave-reconf-sent-timeout", &d);
            continue;
        }
        if r.reconf_sent || r.reconf_inprog || !r.connected {
            continue;
        }
        queue_slaveof(r, Some((&pip, pport)));
        r.reconf_sent = true;
        r.slave_reconf_sent_time = now;
        in_progress += 1;
        let d = m.describe_inst(&m.replicas[i]);
        events.emit(false, "+slave-reconf-sent", &d);
    }
    // sentinelFailoverDetectEnd.
    if m.replicas[pi].s_down_since != 0 {
        return;
    }
    let mut not_done = m
        .replicas
        .iter()
        .filter(|r| !r.promoted && !r.reconf_done && r.s_down_since == 0)
        .count();
    let mut timed_out = false;
    if now - m.failover_state_change_time > m.conf.failover_timeout as i64 {
        not_done = 0;
        timed_out = true;
        events.warn(m.notify(), "-failover-end-for-timeout", &m.describe());
    }
    if not_done == 0 {
        events.warn(m.notify(), "+failover-end", &m.describe());
        m.failover_state = FailoverState::UpdateConfig;
        m.failover_state_change_time = now;
    }
    if timed_out {
        for i in 0..m.replicas.len() {
            let r = &mut m.replicas[i];
            if r.promoted || r.reconf_done || r.reconf_sent || !r.connected {
                continue;
            }
            queue_slaveof(r, Some((&pip, pport)));
            let d = m.describe_inst(&m.replicas[i]);
            events.emit(false, "+slave-reconf-sent-be", &d);
        }
    }
}

/// sentinelFailoverSwitchToPromotedSlave.
fn switch_to_promoted(s: &mut Sentinel, mi: usize) {
    let m = &s.masters[mi];
    let Some(p) = m.replicas.iter().find(|r| r.promoted) else {
        abort(s, mi, crate::server::clock::now_ms());
        return;
    };
    let (ip, port) = (p.ip.clone(), p.port);
    let msg = format!("{} {} {} {} {}", m.name(), m.inst.ip, m.inst.port, ip, port);
    s.warn(mi, "+switch-master", &msg);
    reset_master_and_change_address(s, mi, &ip, port);
}

/// sentinelResetMasterAndChangeAddress: the master moves to `ip:port`; its replicas are
/// the old ones (but the new master) plus the old master; the failover state is cleared
/// and the links start over.
pub fn reset_master_and_change_address(s: &mut Sentinel, mi: usize, ip: &str, port: u16) {
    let events = s.events.clone();
    let m = &mut s.masters[mi];
    let mut addrs: Vec<(String, u16)> = m
        .replicas
        .iter()
        .filter(|r| !(r.ip == ip && r.port == port))
        .map(|r| (r.ip.clone(), r.port))
        .collect();
    if !(m.inst.ip == ip && m.inst.port == port) {
        addrs.push((m.inst.ip.clone(), m.inst.port));
    }
    reset_master(m, true);
    m.inst = Instance::new(Role::Master, &m.conf.name, ip, port);
    for (rip, rport) in addrs {
        let r = Instance::new(Role::Replica, &format!("{rip}:{rport}"), &rip, rport);
        events.emit(false, "+slave", &m.describe_inst(&r));
        m.replicas.push(r);
    }
    s.flush_config();
}

/// sentinelResetMaster: forgets replicas (and, unless `keep_sentinels`, sentinels), the
/// failover state and the down flags; new links to the master.
pub fn reset_master(m: &mut Master, keep_sentinels: bool) {
    m.replicas.clear();
    if keep_sentinels {
        for si in &mut m.sentinels {
            si.leader = None;
            si.master_down = false;
        }
    } else {
        m.sentinels.clear();
    }
    m.failover_state = FailoverState::None;
    m.failover_state_change_time = 0;
    m.failover_start_time = 0;
    m.force_failover = false;
    m.leader = None;
    let (name, ip, port) = (m.inst.name.clone(), m.inst.ip.clone(), m.inst.port);
    m.inst = Instance::new(Role::Master, &name, &ip, port);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::conf::SentinelConf;
    use crate::sentinel::events::Events;
    use std::sync::Arc;

    const ME: &str = "0000000000000000000000000000000000000001";
    const B: &str = "0000000000000000000000000000000000000002";
    const C: &str = "0000000000000000000000000000000000000003";

    /// A sentinel (myid ME) watching one master with quorum 2, with B and C known; its
    /// config file cannot be written (a missing directory), so nothing touches the disk.
    fn sentinel(now: i64) -> Sentinel {
        let mut c = SentinelConf::empty("/nonexistent-redrepl-dir/s.conf".into());
        for l in [
            format!("sentinel myid {ME}"),
            "sentinel monitor m 127.0.0.1 6379 2".into(),
            "sentinel down-after-milliseconds m 1000".into(),
            "sentinel failover-timeout m 10000".into(),
            format!("sentinel known-sentinel m 127.0.0.1 26380 {B}"),
            format!("sentinel known-sentinel m 127.0.0.1 26381 {C}"),
        ] {
            c.apply_line(&l).unwrap();
        }
        let mut s = Sentinel::new(c, Arc::new(Events::new()));
        s.previous_time = now;
        s
    }

    /// The master has not answered for 2 s and both other sentinels say it is down.
    fn master_down(s: &mut Sentinel, now: i64) {
        let m = &mut s.masters[0];
        m.inst.connected = false;
        m.inst.act_ping_time = now - 2000;
        for si in &mut m.sentinels {
            si.master_down = true;
            si.last_master_down_reply = now;
        }
    }

    #[test]
    fn failover_starts_after_a_random_delay_from_odown_not_at_once() {
        let t = 1_000_000;
        let mut s = sentinel(t);
        master_down(&mut s, t);
        timer(&mut s, t);
        let m = &s.masters[0];
        assert_ne!(m.inst.o_down_since, 0, "ODOWN reached");
        assert_eq!(
            m.failover_state,
            FailoverState::None,
            "not at the ODOWN instant"
        );
        assert!((1..MAX_DESYNC).contains(&m.failover_desync));
        let mut now = t;
        while now < t + MAX_DESYNC {
            now += 100;
            master_down(&mut s, now);
            timer(&mut s, now);
        }
        assert_eq!(s.masters[0].failover_state, FailoverState::WaitStart);
        assert_eq!(s.current_epoch, 1);
    }

    #[test]
    fn a_vote_for_another_sentinel_holds_back_our_own_failover() {
        let t = 1_000_000;
        let mut s = sentinel(t);
        master_down(&mut s, t);
        // B asks first, in epoch 1: we vote for it and adopt its epoch.
        let (leader, epoch) = vote_leader(&mut s, 0, 1, B, t);
        assert_eq!((leader.as_deref(), epoch), (Some(B), 1));
        // C asks in the same epoch: the vote of epoch 1 is given already.
        let (leader, epoch) = vote_leader(&mut s, 0, 1, C, t);
        assert_eq!((leader.as_deref(), epoch), (Some(B), 1));
        let mut now = t;
        while now < t + 5000 {
            now += 100;
            master_down(&mut s, now);
            timer(&mut s, now);
        }
        assert_eq!(s.masters[0].failover_state, FailoverState::None);
        assert_eq!(s.current_epoch, 1);
    }

    #[test]
    fn votes_count_only_in_the_current_epoch_and_need_a_majority() {
        let t = 1_000_000;
        let mut s = sentinel(t);
        start_failover(&mut s, 0, t);
        assert_eq!(s.current_epoch, 1);
        // B voted for C, but in an old epoch: only our own vote (for us) counts.
        s.masters[0].sentinels[0].leader = Some(C.into());
        s.masters[0].sentinels[0].leader_epoch = 0;
        assert_eq!(get_leader(&mut s, 0, 1, t), None);
        assert_eq!(s.masters[0].leader.as_deref(), Some(ME));
        // B's vote for us in epoch 1 makes 2 of 3.
        s.masters[0].sentinels[0].leader = Some(ME.into());
        s.masters[0].sentinels[0].leader_epoch = 1;
        assert_eq!(get_leader(&mut s, 0, 1, t).as_deref(), Some(ME));
    }

    #[test]
    fn split_vote_elects_nobody() {
        let t = 1_000_000;
        let mut s = sentinel(t);
        start_failover(&mut s, 0, t);
        // All three started together, each voting for itself.
        vote_leader(&mut s, 0, 1, ME, t);
        for (i, id) in [B, C].iter().enumerate() {
            s.masters[0].sentinels[i].leader = Some(id.to_string());
            s.masters[0].sentinels[i].leader_epoch = 1;
        }
        assert_eq!(get_leader(&mut s, 0, 1, t), None);
        // Not voted yet: we follow the most voted (B, lowest id of the tie), and B wins.
        let mut s = sentinel(t);
        start_failover(&mut s, 0, t);
        for (i, id) in [B, C].iter().enumerate() {
            s.masters[0].sentinels[i].leader = Some(id.to_string());
            s.masters[0].sentinels[i].leader_epoch = 1;
        }
        assert_eq!(get_leader(&mut s, 0, 1, t).as_deref(), Some(B));
    }

    #[test]
    fn a_returning_old_master_is_converted_only_after_staying_up_for_8_s() {
        let t = 1_000_000;
        let mut s = sentinel(t);
        let m = &mut s.masters[0];
        m.inst.info_refresh = t;
        let mut r = Instance::new(Role::Replica, "127.0.0.1:6380", "127.0.0.1", 6380);
        // It has said "master" for 9 s, but it went down (SDOWN) 3 s ago.
        r.role_reported = Role::Master;
        r.role_reported_time = t - 9000;
        r.last_down_start = t - 3000;
        let id = r.id;
        m.replicas.push(r);
        super::super::discovery::info_reply(&mut s, id, "role:master\r\n", t);
        assert!(
            s.masters[0].replicas[0].outbox.is_empty(),
            "converted too early"
        );
        // Up for more than SENTINEL_PUBLISH_PERIOD * 4 since it last went down.
        let later = t + 5001;
        s.masters[0].inst.info_refresh = later;
        super::super::discovery::info_reply(&mut s, id, "role:master\r\n", later);
        let outbox = &s.masters[0].replicas[0].outbox;
        assert_eq!(outbox[1], ["SLAVEOF", "127.0.0.1", "6379"]);
    }
}
