//! What the links learn, applied to the state: PING replies (availability), INFO (role,
//! replicas discovered from `slaveN` lines, the replica fields, role changes during a
//! failover, +convert-to-slave and +fix-slave-config), IS-MASTER-DOWN-BY-ADDR replies (the
//! other sentinels' opinion and votes) and hello messages (sentinels discovered, epochs and
//! master addresses propagated). sentinel.c's sentinelRefreshInstanceInfo,
//! sentinelReceiveIsMasterDownReply and sentinelProcessHelloMessage.

use super::failover;
use super::monitor::{INFO_PERIOD, PUBLISH_PERIOD, queue_slaveof};
use super::state::{FailoverState, Instance, Master, Role, Sentinel};
use crate::cli::redis_link::Reply;

/// A PING reply: PONG, LOADING and MASTERDOWN count as available.
pub fn ping_reply(s: &mut Sentinel, id: u64, reply: &Reply, now: i64) {
    let Some((_, inst)) = s.find_mut(id) else {
        return;
    };
    inst.last_pong_time = now;
    let ok = match reply {
        Reply::Status(t) => t == "PONG",
        Reply::Error(e) => e.starts_with("LOADING") || e.starts_with("MASTERDOWN"),
        _ => false,
    };
    if ok {
        inst.last_avail_time = now;
        inst.act_ping_time = 0;
    }
}

/// An IS-MASTER-DOWN-BY-ADDR reply from a sentinel: `[down, leader, leader_epoch]`.
pub fn master_down_reply(s: &mut Sentinel, id: u64, reply: &Reply, now: i64) {
    let Some((_, inst)) = s.find_mut(id) else {
        return;
    };
    let Reply::Array(Some(items)) = reply else {
        return;
    };
    let (Some(Reply::Int(down)), Some(leader), Some(Reply::Int(epoch))) = (
        items.first(),
        items.get(1).and_then(|l| l.text()),
        items.get(2),
    ) else {
        return;
    };
    inst.last_master_down_reply = now;
    inst.master_down = *down == 1;
    if leader != "*" {
        if inst.leader_epoch != *epoch as u64 {
            crate::notice!("{} voted for {} {}", inst.name, leader, epoch);
        }
        inst.leader = Some(leader);
        inst.leader_epoch = *epoch as u64;
    }
}

/// One replica line of a master's INFO: `ip=...,port=...,state=...,offset=...,lag=...`.
fn replica_addr(value: &str) -> Option<(String, u16)> {
    let mut ip = None;
    let mut port = None;
    for kv in value.split(',') {
        match kv.split_once('=') {
            Some(("ip", v)) => ip = Some(v.to_string()),
            Some(("port", v)) => port = v.parse().ok(),
            _ => {}
        }
    }
    Some((ip?, port?))
}

/// An INFO reply from a master or replica.
pub fn info_reply(s: &mut Sentinel, id: u64, text: &str, now: i64) {
    let Some((mi, _)) = s.find(id) else { return };
    let mut new_replicas = Vec::new();
    let mut rebooted = false;
    {
        let master_ip = s.masters[mi].inst.ip.clone();
        let Some((_, inst)) = s.find_mut(id) else {
            return;
        };
        inst.info_refresh = now;
        inst.info_text = text.to_string();
        let mut role = None;
        for line in text.lines() {
            let line = line.trim_end();
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k {
                "run_id" if v.len() == 40 => {
                    if inst.runid.as_deref().is_some_and(|old| old != v) {
                        rebooted = true;
                    }
                    inst.runid = Some(v.to_string());
                }
                "role" => {
                    role = Some(if v == "master" {
                        Role::Master
                    } else {
                        Role::Replica
                    })
                }
                "master_host" => inst.slave_master_host = Some(v.to_string()),
                "master_port" => inst.slave_master_port = v.parse().unwrap_or(0),
                "master_link_status" => inst.master_link_up = v == "up",
                "master_link_down_since_seconds" => {
                    inst.master_link_down_time = v.parse::<i64>().unwrap_or(0) * 1000
                }
                "slave_priority" | "replica_priority" => {
                    inst.slave_priority = v.parse().unwrap_or(100)
                }
                "slave_repl_offset" => inst.slave_repl_offset = v.parse().unwrap_or(0),
                "replica_announced" => inst.replica_announced = v != "0",
                _ if inst.role == Role::Master
                    && k.strip_prefix("slave").is_some_and(|n| {
                        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
                    }) =>
                {
                    if let Some((ip, port)) = replica_addr(v) {
                        // Old Redis versions print only the port: the master's IP then.
                        let ip = if ip.is_empty() { master_ip.clone() } else { ip };
                        new_replicas.push((ip, port));
                    }
                }
                _ => {}
            }
        }
        if !text.contains("master_link_down_since_seconds") {
            inst.master_link_down_time = 0;
        }
        if let Some(r) = role
            && r != inst.role_reported
        {
            inst.role_reported = r;
            inst.role_reported_time = now;
        }
    }
    let m = &mut s.masters[mi];
    if rebooted && let Some(inst) = m.all().find(|x| x.id == id) {
        let d = m.describe_inst(inst);
        s.events.emit(false, "+reboot", &d);
    }
    let events = s.events.clone();
    let m = &mut s.masters[mi];
    let mut added = false;
    for (ip, port) in new_replicas {
        if m.replicas.iter().any(|r| r.ip == ip && r.port == port) {
            continue;
        }
        let r = Instance::new(Role::Replica, &format!("{ip}:{port}"), &ip, port);
        events.emit(false, "+slave", &m.describe_inst(&r));
        m.replicas.push(r);
        added = true;
    }
    if added {
        s.flush_config();
    }
    if s.tilt {
        return;
    }
    role_changes(s, mi, id, now);
}

/// Reacts to what a replica's INFO says about its role (the second half of
/// sentinelRefreshInstanceInfo).
fn role_changes(s: &mut Sentinel, mi: usize, id: u64, now: i64) {
    let events = s.events.clone();
    let m = &mut s.masters[mi];
    let Some(ri) = m.replicas.iter().position(|r| r.id == id) else {
        return;
    };
    let wait_time = PUBLISH_PERIOD * 4;
    let r = &m.replicas[ri];
    let sane = master_looks_sane(m, now);
    if r.role_reported == Role::Master {
        if r.promoted && m.failover_state == FailoverState::WaitPromotion {
            m.conf.config_epoch = m.failover_epoch;
            m.failover_state = FailoverState::ReconfSlaves;
            m.failover_state_change_time = now;
            let d = m.describe_inst(&m.replicas[ri]);
            let md = m.describe();
            let from = (m.inst.ip.clone(), m.inst.port);
            let to = (m.replicas[ri].ip.clone(), m.replicas[ri].port);
            s.flush_config();
            s.warn(mi, "+promoted-slave", &d);
            if s.simulate.crash_after_promotion {
                crate::warning!("Simulated crash after promotion");
                std::process::exit(99);
            }
            s.warn(mi, "+failover-state-reconf-slaves", &md);
            s.client_reconfig(mi, "leader", (&from.0, from.1), (&to.0, to.1));
        } else if !r.promoted
            && sane
            && r.no_down_for(wait_time, now)
            && now - r.role_reported_time > wait_time
        {
            let (ip, port) = (m.inst.ip.clone(), m.inst.port);
            let r = &mut m.replicas[ri];
            queue_slaveof(r, Some((&ip, port)));
            let d = m.describe_inst(&m.replicas[ri]);
            events.emit(false, "+convert-to-slave", &d);
        }
        return;
    }
    // A replica that follows another master than ours: point it back.
    let wrong_master = r.slave_master_host.as_deref() != Some(m.inst.ip.as_str())
        || r.slave_master_port != m.inst.port;
    if wrong_master
        && m.failover_state == FailoverState::None
        && !r.promoted
        && sane
        && now - r.role_reported_time > wait_time
        && r.outbox.is_empty()
    {
        let (ip, port) = (m.inst.ip.clone(), m.inst.port);
        queue_slaveof(&mut m.replicas[ri], Some((&ip, port)));
        let d = m.describe_inst(&m.replicas[ri]);
        events.emit(false, "+fix-slave-config", &d);
    }
    // Reconfiguration progress during a failover.
    let Some(p) = m.replicas.iter().find(|x| x.promoted) else {
        return;
    };
    let (pip, pport) = (p.ip.clone(), p.port);
    let r = &mut m.replicas[ri];
    let follows_promoted =
        r.slave_master_host.as_deref() == Some(pip.as_str()) && r.slave_master_port == pport;
    if r.reconf_sent && follows_promoted {
        r.reconf_sent = false;
        r.reconf_inprog = true;
        let d = m.describe_inst(&m.replicas[ri]);
        events.emit(false, "+slave-reconf-inprog", &d);
    }
    let r = &mut m.replicas[ri];
    if r.reconf_inprog && r.master_link_up {
        r.reconf_inprog = false;
        r.reconf_done = true;
        let d = m.describe_inst(&m.replicas[ri]);
        events.emit(false, "+slave-reconf-done", &d);
    }
}

/// sentinelMasterLooksSane: the master is up, says it is a master, and INFO is fresh.
fn master_looks_sane(m: &Master, now: i64) -> bool {
    m.inst.s_down_since == 0
        && m.inst.o_down_since == 0
        && m.inst.role_reported == Role::Master
        && now - m.inst.info_refresh < INFO_PERIOD * 2
}

/// A hello message (from a pub/sub link or a PUBLISH sent to us):
/// `ip,port,runid,current_epoch,master_name,master_ip,master_port,master_config_epoch`.
pub fn hello(s: &mut Sentinel, payload: &str, now: i64) {
    let t: Vec<&str> = payload.split(',').collect();
    if t.len() != 8 {
        return;
    }
    let (ip, runid, name, mip) = (t[0], t[2], t[4], t[5]);
    let (Ok(port), Ok(epoch), Ok(mport), Ok(mepoch)) = (
        t[1].parse::<u16>(),
        t[3].parse::<u64>(),
        t[6].parse::<u16>(),
        t[7].parse::<u64>(),
    ) else {
        return;
    };
    if runid == s.myid {
        return;
    }
    let events = s.events.clone();
    let Some(mi) = s.masters.iter().position(|m| m.name() == name) else {
        return;
    };
    let m = &mut s.masters[mi];
    let known = m
        .sentinels
        .iter()
        .any(|x| x.ip == ip && x.port == port && x.runid.as_deref() == Some(runid));
    if !known {
        // Same run id at another address, or another run id at this address: replaced.
        let before = m.sentinels.len();
        m.sentinels
            .retain(|x| x.runid.as_deref() != Some(runid) && !(x.ip == ip && x.port == port));
        if m.sentinels.len() != before {
            let md = m.describe();
            events.emit(false, "+sentinel-address-switch", &md);
        }
        let mut si = Instance::new(Role::Sentinel, runid, ip, port);
        si.runid = Some(runid.to_string());
        events.emit(false, "+sentinel", &m.describe_inst(&si));
        m.sentinels.push(si);
        s.flush_config();
    }
    s.adopt_epoch(mi, epoch);
    let m = &mut s.masters[mi];
    if let Some(si) = m
        .sentinels
        .iter_mut()
        .find(|x| x.runid.as_deref() == Some(runid))
    {
        si.last_hello_time = now;
    }
    if m.conf.config_epoch < mepoch {
        m.conf.config_epoch = mepoch;
        if m.inst.ip != mip || m.inst.port != mport {
            let from = m
                .sentinels
                .iter()
                .find(|x| x.runid.as_deref() == Some(runid))
                .map(|si| m.describe_inst(si))
                .unwrap_or_default();
            events.warn(m.notify(), "+config-update-from", &from);
            let msg = format!(
                "{} {} {} {} {}",
                m.name(),
                m.inst.ip,
                m.inst.port,
                mip,
                mport
            );
            events.warn(m.notify(), "+switch-master", &msg);
            let old = (m.inst.ip.clone(), m.inst.port);
            failover::reset_master_and_change_address(s, mi, mip, mport);
            s.client_reconfig(mi, "observer", (&old.0, old.1), (mip, mport));
        } else {
            s.flush_config();
        }
    }
}
