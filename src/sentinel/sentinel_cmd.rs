//! SENTINEL and its subcommands, with redis-sentinel 7.0's field names, reply shapes and
//! error texts (sentinel.c's sentinelCommand). One handler per subcommand; the table gives
//! each its arity.

use super::Shared;
use super::commands::{arity_error, arity_ok, help, text};
use super::conf::MasterConf;
use super::failover;
use super::listener::Conn;
use super::state::{FailoverState, Instance, Master, Role, Sentinel};
use crate::resp::ReplyBuf;
use crate::server::clock::now_ms;
use bytes::Bytes;

type Sub = fn(&mut Sentinel, &[Bytes], &mut ReplyBuf);

/// (name, arity counted from SENTINEL, handler).
const SUBS: &[(&str, i32, Sub)] = &[
    ("masters", 2, masters),
    ("master", 3, master),
    ("replicas", 3, replicas),
    ("slaves", 3, replicas),
    ("sentinels", 3, sentinels),
    ("get-master-addr-by-name", 3, get_master_addr),
    ("is-master-down-by-addr", 6, is_master_down),
    ("reset", 3, reset),
    ("failover", 3, failover_cmd),
    ("ckquorum", 3, ckquorum),
    ("flushconfig", 2, flushconfig),
    ("monitor", 6, monitor),
    ("remove", 3, remove),
    ("set", -5, set),
    ("config", -3, config),
    ("info-cache", -3, info_cache),
    ("myid", 2, myid),
    ("simulate-failure", -3, simulate_failure),
    ("debug", -2, debug),
    ("pending-scripts", 2, pending_scripts),
    ("help", 2, sentinel_help),
];

/// SENTINEL <subcommand> ...
pub fn sentinel(shared: &Shared, _: &mut Conn, args: &[Bytes], out: &mut ReplyBuf) {
    let sub = text(&args[1]).to_ascii_lowercase();
    let Some((name, arity, run)) = SUBS.iter().find(|(n, _, _)| *n == sub) else {
        out.error(&format!(
            "ERR unknown subcommand '{}'. Try SENTINEL HELP.",
            text(&args[1])
        ));
        return;
    };
    if !arity_ok(*arity, args.len()) {
        arity_error(out, &format!("sentinel|{name}"));
        return;
    }
    let mut s = super::lock(shared);
    run(&mut s, args, out);
}

const NO_SUCH_MASTER: &str = "ERR No such master with that name";

fn find<'a>(s: &'a Sentinel, name: &Bytes, out: &mut ReplyBuf) -> Option<&'a Master> {
    let m = s.master(&text(name));
    if m.is_none() {
        out.error(NO_SUCH_MASTER);
    }
    m
}

/// One instance as a map (addReplySentinelRedisInstance).
fn instance_reply(out: &mut ReplyBuf, m: &Master, inst: &Instance, now: i64) {
    let mut f: Vec<(&str, String)> = vec![
        ("name", inst.name.clone()),
        ("ip", inst.ip.clone()),
        ("port", inst.port.to_string()),
        ("runid", inst.runid.clone().unwrap_or_default()),
        (
            "flags",
            inst.flags(Some(m).filter(|_| inst.role == Role::Master)),
        ),
        ("link-pending-commands", inst.outbox.len().to_string()),
        ("link-refcount", "1".into()),
    ];
    if inst.role == Role::Master && m.failover_state != FailoverState::None {
        f.push(("failover-state", m.failover_state.name().into()));
    }
    let since = |t: i64| (now - t).to_string();
    f.push((
        "last-ping-sent",
        if inst.act_ping_time != 0 {
            since(inst.act_ping_time)
        } else {
            "0".into()
        },
    ));
    f.push(("last-ok-ping-reply", since(inst.last_avail_time)));
    f.push(("last-ping-reply", since(inst.last_pong_time)));
    if inst.s_down_since != 0 {
        f.push(("s-down-time", since(inst.s_down_since)));
    }
    if inst.o_down_since != 0 {
        f.push(("o-down-time", since(inst.o_down_since)));
    }
    f.push(("down-after-milliseconds", m.conf.down_after.to_string()));
    if inst.role != Role::Sentinel {
        f.push(("info-refresh", since(inst.info_refresh)));
        f.push(("role-reported", inst.role_reported.name().into()));
        f.push(("role-reported-time", since(inst.role_reported_time)));
    }
    match inst.role {
        Role::Master => {
            f.push(("config-epoch", m.conf.config_epoch.to_string()));
            f.push(("num-slaves", m.replicas.len().to_string()));
            f.push(("num-other-sentinels", m.sentinels.len().to_string()));
            f.push(("quorum", m.conf.quorum.to_string()));
            f.push(("failover-timeout", m.conf.failover_timeout.to_string()));
            f.push(("parallel-syncs", m.conf.parallel_syncs.to_string()));
        }
        Role::Replica => {
            f.push((
                "master-link-down-time",
                inst.master_link_down_time.to_string(),
            ));
            f.push((
                "master-link-status",
                if inst.master_link_up { "ok" } else { "err" }.into(),
            ));
            f.push((
                "master-host",
                inst.slave_master_host.clone().unwrap_or_else(|| "?".into()),
            ));
            f.push(("master-port", inst.slave_master_port.to_string()));
            f.push(("slave-priority", inst.slave_priority.to_string()));
            f.push(("slave-repl-offset", inst.slave_repl_offset.to_string()));
            f.push((
                "replica-announced",
                if inst.replica_announced { "1" } else { "0" }.into(),
            ));
        }
        Role::Sentinel => {
            f.push(("last-hello-message", since(inst.last_hello_time)));
            f.push((
                "voted-leader",
                inst.leader.clone().unwrap_or_else(|| "?".into()),
            ));
            f.push(("voted-leader-epoch", inst.leader_epoch.to_string()));
        }
    }
    out.map(f.len());
    for (k, v) in f {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}

fn masters(s: &mut Sentinel, _: &[Bytes], out: &mut ReplyBuf) {
    let now = now_ms();
    out.array(s.masters.len());
    for m in &s.masters {
        instance_reply(out, m, &m.inst, now);
    }
}

fn master(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    if let Some(m) = find(s, &args[2], out) {
        instance_reply(out, m, &m.inst, now_ms());
    }
}

fn replicas(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    if let Some(m) = find(s, &args[2], out) {
        let now = now_ms();
        let shown: Vec<&Instance> = m.replicas.iter().filter(|r| r.replica_announced).collect();
        out.array(shown.len());
        for r in shown {
            instance_reply(out, m, r, now);
        }
    }
}

fn sentinels(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    if let Some(m) = find(s, &args[2], out) {
        let now = now_ms();
        out.array(m.sentinels.len());
        for x in &m.sentinels {
            instance_reply(out, m, x, now);
        }
    }
}

fn get_master_addr(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    let Some(m) = s.master(&text(&args[2])) else {
        out.null_array();
        return;
    };
    let (ip, port) = m.current_addr();
    out.array(2);
    out.bulk(ip.as_bytes());
    out.bulk(port.to_string().as_bytes());
}

fn is_master_down(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    let ip = text(&args[2]);
    let (Ok(port), Ok(epoch)) = (text(&args[3]).parse::<u16>(), text(&args[4]).parse::<u64>())
    else {
        out.error("ERR value is not an integer or out of range");
        return;
    };
    let runid = text(&args[5]);
    let mi = s
        .masters
        .iter()
        .position(|m| m.inst.ip == ip && m.inst.port == port);
    let down = !s.tilt && mi.is_some_and(|i| s.masters[i].inst.s_down_since != 0);
    let mut leader = None;
    let mut leader_epoch = 0;
    if let Some(mi) = mi
        && runid != "*"
    {
        let (l, e) = failover::vote_leader(s, mi, epoch, &runid, now_ms());
        leader = l;
        leader_epoch = e;
    }
    out.array(3);
    out.int(down as i64);
    out.bulk(leader.as_deref().unwrap_or("*").as_bytes());
    out.int(leader_epoch as i64);
}

#[allow(clippy::needless_range_loop)]
fn reset(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    let mut n = 0;
    for mi in 0..s.masters.len() {
        if crate::server::glob::glob_match(&args[2], s.masters[mi].name().as_bytes(), false) {
            let d = s.masters[mi].describe();
            failover::reset_master(&mut s.masters[mi], false);
            s.warn(mi, "+reset-master", &d);
            n += 1;
        }
    }
    if n > 0 {
        s.flush_config();
    }
    out.int(n);
}

fn failover_cmd(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    let Some(mi) = s.masters.iter().position(|m| *m.name() == text(&args[2])) else {
        out.error(NO_SUCH_MASTER);
        return;
    };
    if s.masters[mi].failover_state != FailoverState::None {
        out.error("INPROG Failover already in progress");
        return;
    }
    if failover::select_replica(&s.masters[mi], now_ms()).is_none() {
        out.error("NOGOODSLAVE No suitable replica to promote");
        return;
    }
    crate::warning!(
        "Executing user requested FAILOVER of '{}'",
        s.masters[mi].name()
    );
    failover::start_failover(s, mi, now_ms());
    s.masters[mi].force_failover = true;
    out.ok();
}

fn ckquorum(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    let Some(m) = find(s, &args[2], out) else {
        return;
    };
    let voters = m.sentinels.len() + 1;
    let usable = 1 + m
        .sentinels
        .iter()
        .filter(|x| x.s_down_since == 0 && x.o_down_since == 0)
        .count();
    let no_quorum = usable < m.conf.quorum as usize;
    let no_auth = usable < voters / 2 + 1;
    if !no_quorum && !no_auth {
        out.simple(&format!(
            "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
        ));
        return;
    }
    let mut e = format!("NOQUORUM {usable} usable Sentinels. ");
    if no_quorum {
        e.push_str("Not enough available Sentinels to reach the specified quorum for this master");
    }
    if no_auth {
        if no_quorum {
            e.push_str(". ");
        }
        e.push_str("Not enough available Sentinels to reach the majority and authorize a failover");
    }
    out.error(&e);
}

fn flushconfig(s: &mut Sentinel, _: &[Bytes], out: &mut ReplyBuf) {
    s.flush_config();
    out.ok();
}

fn monitor(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    let name = text(&args[2]);
    let ip = text(&args[3]);
    let Ok(quorum) = text(&args[5]).parse::<i64>() else {
        out.error("ERR Invalid quorum");
        return;
    };
    if quorum <= 0 {
        out.error("ERR Quorum must be 1 or greater.");
        return;
    }
    let port = match text(&args[4]).parse::<i64>() {
        Ok(p) if (0..=65535).contains(&p) => p as u16,
        Ok(_) => {
            out.error("ERR Invalid port number");
            return;
        }
        Err(_) => {
            out.error("ERR Invalid port");
            return;
        }
    };
    if ip.parse::<std::net::IpAddr>().is_err() && !s.conf.resolve_hostnames {
        out.error("ERR Invalid IP address or hostname specified");
        return;
    }
    if s.master(&name).is_some() {
        out.error("ERR Duplicate master name.");
        return;
    }
    let m = Master::new(MasterConf::new(&name, &ip, port, quorum as u32));
    let d = format!("{} quorum {}", m.describe(), quorum);
    s.masters.push(m);
    s.flush_config();
    s.events.emit(true, "+monitor", &d);
    out.ok();
}

fn remove(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    let Some(mi) = s.masters.iter().position(|m| *m.name() == text(&args[2])) else {
        out.error(NO_SUCH_MASTER);
        return;
    };
    let d = s.masters[mi].describe();
    s.warn(mi, "-monitor", &d);
    s.masters.remove(mi);
    s.flush_config();
    out.ok();
}

fn set(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    let name = text(&args[2]);
    let Some(mi) = s.masters.iter().position(|m| *m.name() == name) else {
        out.error(NO_SUCH_MASTER);
        return;
    };
    if args.len().is_multiple_of(2) {
        out.error(&format!(
            "ERR Unknown option or number of arguments for SENTINEL SET '{}'",
            text(&args[args.len() - 1])
        ));
        return;
    }
    let deny_scripts = s.conf.deny_scripts_reconfig;
    let mut events = Vec::new();
    for pair in args[3..].chunks(2) {
        let opt = text(&pair[0]).to_ascii_lowercase();
        let val = text(&pair[1]);
        let c = &mut s.masters[mi].conf;
        let num = val.parse::<i64>().ok();
        let bad = || format!("ERR Invalid argument '{val}' for SENTINEL SET '{opt}'");
        let mut redacted = false;
        match opt.as_str() {
            "down-after-milliseconds" => match num {
                Some(n) if n > 0 => c.down_after = n as u64,
                _ => return out.error(&bad()),
            },
            "failover-timeout" => match num {
                Some(n) if n > 0 => c.failover_timeout = n as u64,
                _ => return out.error(&bad()),
            },
            "parallel-syncs" => match num {
                Some(n) if n > 0 => c.parallel_syncs = n as u64,
                _ => return out.error(&bad()),
            },
            "quorum" => match num {
                Some(n) if n > 0 => c.quorum = n as u32,
                _ => return out.error(&bad()),
            },
            "master-reboot-down-after-period" => match num {
                Some(n) if n >= 0 => c.reboot_down_after = n as u64,
                _ => return out.error(&bad()),
            },
            "notification-script" | "client-reconfig-script" => {
                if deny_scripts {
                    return out.error(
                        "ERR Reconfiguration of scripts path is denied for security reasons. \
                         Check the deny-scripts-reconfig configuration directive in your \
                         Sentinel configuration",
                    );
                }
                if !val.is_empty() && !super::scripts::executable(&val) {
                    return out.error(if opt == "notification-script" {
                        "ERR Notification script seems non existing or non executable"
                    } else {
                        "ERR Client reconfiguration script seems non existing or non executable"
                    });
                }
                let v = Some(val.clone()).filter(|v| !v.is_empty());
                if opt == "notification-script" {
                    c.notification_script = v;
                } else {
                    c.client_reconfig_script = v;
                }
            }
            "auth-pass" => {
                c.auth_pass = Some(val.clone()).filter(|v| !v.is_empty());
                redacted = true;
            }
            "auth-user" => c.auth_user = Some(val.clone()).filter(|v| !v.is_empty()),
            "rename-command" => {}
            _ => {
                return out.error(&format!(
                    "ERR Unknown option or number of arguments for SENTINEL SET '{opt}'"
                ));
            }
        }
        events.push(format!(
            "{} {} {}",
            s.masters[mi].describe(),
            opt,
            if redacted { "******" } else { &val }
        ));
    }
    s.flush_config();
    for e in events {
        s.warn(mi, "+set", &e);
    }
    out.ok();
}

/// The SENTINEL CONFIG parameters and their current values.
fn config_params(s: &Sentinel) -> Vec<(&'static str, String)> {
    let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
    vec![
        ("resolve-hostnames", yn(s.conf.resolve_hostnames)),
        ("announce-hostnames", yn(s.conf.announce_hostnames)),
        (
            "announce-ip",
            s.conf.announce_ip.clone().unwrap_or_default(),
        ),
        ("announce-port", s.conf.announce_port.to_string()),
        (
            "sentinel-user",
            s.conf.sentinel_user.clone().unwrap_or_default(),
        ),
        (
            "sentinel-pass",
            s.conf.sentinel_pass.clone().unwrap_or_default(),
        ),
    ]
}

fn config(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    let sub = text(&args[2]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("get", 4) => {
            let params: Vec<(&str, String)> = config_params(s)
                .into_iter()
                .filter(|(k, _)| crate::server::glob::glob_match(&args[3], k.as_bytes(), true))
                .collect();
            out.map(params.len());
            for (k, v) in params {
                out.bulk(k.as_bytes());
                out.bulk(v.as_bytes());
            }
        }
        ("set", 5) => {
            let opt = text(&args[3]).to_ascii_lowercase();
            let val = text(&args[4]);
            let yes_no = |v: &str| match v.to_ascii_lowercase().as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            };
            let bad = format!("ERR Invalid value '{val}' to SENTINEL CONFIG SET '{opt}'");
            match opt.as_str() {
                "resolve-hostnames" => match yes_no(&val) {
                    Some(b) => s.conf.resolve_hostnames = b,
                    None => return out.error(&bad),
                },
                "announce-hostnames" => match yes_no(&val) {
                    Some(b) => s.conf.announce_hostnames = b,
                    None => return out.error(&bad),
                },
                "announce-ip" => s.conf.announce_ip = Some(val.clone()).filter(|v| !v.is_empty()),
                "announce-port" => match val.parse::<u16>() {
                    Ok(p) => s.conf.announce_port = p,
                    Err(_) => return out.error(&bad),
                },
                "sentinel-user" => {
                    s.conf.sentinel_user = Some(val.clone()).filter(|v| !v.is_empty())
                }
                "sentinel-pass" => {
                    s.conf.sentinel_pass = Some(val.clone()).filter(|v| !v.is_empty())
                }
                _ => {
                    return out.error(&format!(
                        "ERR Invalid argument '{opt}' to SENTINEL CONFIG SET"
                    ));
                }
            }
            s.flush_config();
            out.ok();
        }
        _ => {
            out.error("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.")
        }
    }
}

fn info_cache(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    let now = now_ms();
    let wanted: Vec<&Master> = s
        .masters
        .iter()
        .filter(|m| args[2..].iter().any(|a| text(a) == m.name()))
        .collect();
    out.array(wanted.len() * 2);
    for m in wanted {
        out.bulk(m.name().as_bytes());
        let insts: Vec<&Instance> = std::iter::once(&m.inst).chain(m.replicas.iter()).collect();
        out.array(insts.len());
        for i in insts {
            out.array(2);
            if i.info_refresh == 0 {
                out.int(0);
                out.null();
            } else {
                out.int(now - i.info_refresh);
                out.bulk(i.info_text.as_bytes());
            }
        }
    }
}

fn myid(s: &mut Sentinel, _: &[Bytes], out: &mut ReplyBuf) {
    out.bulk(s.myid.as_bytes());
}

fn simulate_failure(s: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    for a in &args[2..] {
        match text(a).to_ascii_lowercase().as_str() {
            "crash-after-election" => {
                s.simulate.crash_after_election = true;
                crate::warning!(
                    "Failure simulation: this Sentinel will crash after being successfully elected as failover leader"
                );
            }
            "crash-after-promotion" => {
                s.simulate.crash_after_promotion = true;
                crate::warning!(
                    "Failure simulation: this Sentinel will crash after promoting the selected replica to master"
                );
            }
            "help" => {
                out.array(2);
                out.bulk(b"crash-after-election");
                out.bulk(b"crash-after-promotion");
                return;
            }
            _ => {
                out.error("ERR Unknown failure simulation specified");
                return;
            }
        }
    }
    out.ok();
}

fn debug(_: &mut Sentinel, args: &[Bytes], out: &mut ReplyBuf) {
    if args.len() > 2 {
        out.error(&format!(
            "ERR Unknown option or number of arguments for SENTINEL DEBUG '{}'",
            text(&args[2])
        ));
        return;
    }
    let params: [(&str, i64); 13] = [
        ("INFO-PERIOD", super::monitor::INFO_PERIOD),
        ("PING-PERIOD", super::monitor::PING_PERIOD),
        ("ASK-PERIOD", super::monitor::ASK_PERIOD),
        ("PUBLISH-PERIOD", super::monitor::PUBLISH_PERIOD),
        ("DEFAULT-DOWN-AFTER", 30_000),
        ("DEFAULT-FAILOVER-TIMEOUT", 180_000),
        ("TILT-TRIGGER", 2000),
        ("TILT-PERIOD", 30_000),
        ("SLAVE-RECONF-TIMEOUT", 10_000),
        ("MIN-LINK-RECONNECT-PERIOD", 15_000),
        ("ELECTION-TIMEOUT", 10_000),
        ("SCRIPT-MAX-RUNTIME", 60_000),
        ("SCRIPT-RETRY-DELAY", 30_000),
    ];
    out.map(params.len());
    for (k, v) in params {
        out.bulk(k.as_bytes());
        out.bulk_int(v);
    }
}

fn pending_scripts(s: &mut Sentinel, _: &[Bytes], out: &mut ReplyBuf) {
    let q = s.events.scripts();
    let jobs = q.pending(crate::server::clock::now_ms());
    out.array(jobs.len());
    for j in jobs {
        out.map(5);
        out.bulk(b"argv");
        out.array(j.argv.len());
        for a in j.argv {
            out.bulk(a.as_bytes());
        }
        out.bulk(b"flags");
        out.bulk(if j.running.is_some() {
            b"running"
        } else {
            b"scheduled"
        });
        out.bulk(b"pid");
        out.bulk_int(j.pid);
        match j.running {
            Some(t) => {
                out.bulk(b"run-time");
                out.bulk_int(t);
            }
            None => {
                out.bulk(b"run-delay");
                out.bulk_int(j.delay);
            }
        }
        out.bulk(b"retry-num");
        out.bulk_int(j.retry_num as i64);
    }
}

fn sentinel_help(_: &mut Sentinel, _: &[Bytes], out: &mut ReplyBuf) {
    let lines = [
        "CKQUORUM <master-name>",
        "    Check if the current Sentinel configuration is able to reach the quorum",
        "    needed to failover a master and the majority needed to authorize the",
        "    failover.",
        "CONFIG SET <param> <value>",
        "    Set a global Sentinel configuration parameter.",
        "CONFIG GET <param>",
        "    Get global Sentinel configuration parameter.",
        "DEBUG [<param> <value> ...]",
        "    Show a list of configurable time parameters and their values (milliseconds).",
        "    Or update current configurable parameters values (one or more).",
        "GET-MASTER-ADDR-BY-NAME <master-name>",
        "    Return the ip and port number of the master with that name.",
        "FAILOVER <master-name>",
        "    Manually failover a master node without asking for agreement from other",
        "    Sentinels",
        "FLUSHCONFIG",
        "    Force Sentinel to rewrite its configuration on disk, including the current",
        "    Sentinel state.",
        "INFO-CACHE <master-name>",
        "    Return last cached INFO output from masters and all its replicas.",
        "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
        "    Check if the master specified by ip:port is down from current Sentinel's",
        "    point of view.",
        "MASTER <master-name>",
        "    Show the state and info of the specified master.",
        "MASTERS",
        "    Show a list of monitored masters and their state.",
        "MONITOR <name> <ip> <port> <quorum>",
        "    Start monitoring a new master with the specified name, ip, port and quorum.",
        "MYID",
        "    Return the ID of the Sentinel instance.",
        "PENDING-SCRIPTS",
        "    Get pending scripts information.",
        "REMOVE <master-name>",
        "    Remove master from Sentinel's monitor list.",
        "REPLICAS <master-name>",
        "    Show a list of replicas for this master and their state.",
        "RESET <pattern>",
        "    Reset masters for specific master name matching this pattern.",
        "SENTINELS <master-name>",
        "    Show a list of Sentinel instances for this master and their state.",
        "SET <master-name> <option> <value> [<option> <value> ...]",
        "    Set configuration parameters for certain masters.",
        "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
        "    Simulate a Sentinel crash.",
    ];
    help(out, "SENTINEL", &lines);
}
