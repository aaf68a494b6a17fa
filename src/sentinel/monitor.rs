//! The links to monitored instances, as sentinel.c keeps them: per instance a command link
//! (PING every second, INFO every 10 s or every second during a failover, a hello PUBLISH
//! every 2 s, `SENTINEL IS-MASTER-DOWN-BY-ADDR` to the other sentinels while the master is
//! down, and the commands the failover queues) and, for masters and replicas, a pub/sub
//! link subscribed to `__sentinel__:hello`. What the replies say is applied to the state by
//! [`super::discovery`].

use super::Shared;
use super::discovery;
use super::state::{Instance, Role};
use crate::cli::redis_link::{Link, Reply};
use crate::server::clock::now_ms;
use std::time::Duration;
use tokio::net::TcpStream;

/// Channel of the hello messages.
pub const HELLO_CHANNEL: &str = "__sentinel__:hello";
/// PING period (SENTINEL_PING_PERIOD).
pub const PING_PERIOD: i64 = 1000;
/// INFO period (SENTINEL_INFO_PERIOD).
pub const INFO_PERIOD: i64 = 10_000;
/// Hello period (SENTINEL_PUBLISH_PERIOD).
pub const PUBLISH_PERIOD: i64 = 2000;
/// INFO period of a replica the failover in progress waits on (promoted or being
/// reconfigured): every link tick (100 ms).
pub const FAILOVER_INFO_PERIOD: i64 = 50;
/// IS-MASTER-DOWN-BY-ADDR period (SENTINEL_ASK_PERIOD).
pub const ASK_PERIOD: i64 = 1000;

/// What to connect to and how to authenticate.
struct Target {
    ip: String,
    port: u16,
    role: Role,
    user: Option<String>,
    pass: Option<String>,
    client_name: String,
    down_after: i64,
}

fn target(shared: &Shared, id: u64, kind: &str) -> Option<Target> {
    let s = super::lock(shared);
    let (mi, inst) = s.find(id)?;
    let m = &s.masters[mi];
    let (user, pass) = if inst.role == Role::Sentinel {
        match &s.conf.sentinel_pass {
            Some(p) => (s.conf.sentinel_user.clone(), Some(p.clone())),
            None => (None, s.conf.requirepass.clone()),
        }
    } else {
        (m.conf.auth_user.clone(), m.conf.auth_pass.clone())
    };
    Some(Target {
        ip: inst.ip.clone(),
        port: inst.port,
        role: inst.role,
        user,
        pass,
        client_name: format!("sentinel-{}-{kind}", &s.myid[..8.min(s.myid.len())]),
        down_after: m.conf.down_after as i64,
    })
}

/// Connects, authenticates and names the connection; returns the link and our local IP.
async fn connect(t: &Target) -> Option<(Link, String)> {
    let stream = tokio::time::timeout(
        Duration::from_millis(1000),
        TcpStream::connect((t.ip.as_str(), t.port)),
    )
    .await
    .ok()?
    .ok()?;
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok()?.ip().to_string();
    // `tls-replication yes`: every link (masters, replicas, sentinels) is TLS, as
    // redis-sentinel's, presenting the client certificate (or the server's).
    let mut link = match crate::server::tls::current().filter(|c| c.replication) {
        None => Link::new(Box::new(stream)),
        Some(ctx) => {
            let connector = tokio_rustls::TlsConnector::from(ctx.client.clone());
            let s = tokio::time::timeout(
                Duration::from_millis(1000),
                connector.connect(crate::server::tls::server_name(&t.ip), stream),
            )
            .await
            .ok()?
            .ok()?;
            Link::new(Box::new(s))
        }
    };
    link.timeout = Duration::from_millis((t.down_after / 2).clamp(500, 5000) as u64);
    if let Some(p) = &t.pass {
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(u) = &t.user {
            args.push(u.as_bytes());
        }
        args.push(p.as_bytes());
        link.raw(&args).await.ok()?;
    }
    if t.role != Role::Sentinel {
        link.raw(&[b"CLIENT", b"SETNAME", t.client_name.as_bytes()])
            .await
            .ok()?;
    }
    Some((link, local))
}

/// One thing the command link sends on this tick.
enum Action {
    Ping,
    Info,
    Hello(String),
    AskMaster(Vec<String>),
    Queued(Vec<String>),
}

/// The command link of instance `id`: runs until the instance is gone.
pub async fn command_link(shared: Shared, id: u64) {
    loop {
        let Some(t) = target(&shared, id, "cmd") else {
            return;
        };
        let Some((mut link, local_ip)) = connect(&t).await else {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        {
            let mut s = super::lock(&shared);
            let Some((_, inst)) = s.find_mut(id) else {
                return;
            };
            inst.connected = true;
            inst.link_since = now_ms();
        }
        // A PING as soon as the link is up, as sentinelReconnectInstance does.
        if !first_ping(&shared, id, &mut link).await {
            continue;
        }
        let lost = serve(&shared, id, &mut link, &local_ip).await;
        let gone = {
            let mut s = super::lock(&shared);
            match s.find_mut(id) {
                Some((_, inst)) => {
                    inst.connected = false;
                    // sentinelReconnectInstance PINGs the lost instance at once: the time
                    // without an answer (SDOWN) counts from the loss.
                    if lost && inst.act_ping_time == 0 {
                        inst.act_ping_time = now_ms();
                    }
                    false
                }
                None => true,
            }
        };
        if gone || !lost {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends the first PING of a new link; false when the link broke.
async fn first_ping(shared: &Shared, id: u64, link: &mut Link) -> bool {
    {
        let mut s = super::lock(shared);
        let Some((_, inst)) = s.find_mut(id) else {
            return false;
        };
        let now = now_ms();
        inst.last_ping_time = now;
        if inst.act_ping_time == 0 {
            inst.act_ping_time = now;
        }
    }
    match link.raw(&[b"PING"]).await {
        Ok(reply) => {
            discovery::ping_reply(&mut super::lock(shared), id, &reply, now_ms());
            true
        }
        Err(_) => false,
    }
}

/// Runs the periodic commands on a connected link; true when the link broke, false when
/// the instance is gone.
async fn serve(shared: &Shared, id: u64, link: &mut Link, local_ip: &str) -> bool {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        // A killed server closes the link: noticed at once, not at the next PING.
        tokio::select! {
            _ = tick.tick() => {}
            _ = link.closed() => return true,
        }
        let Some(actions) = plan(shared, id, local_ip) else {
            return false;
        };
        for a in actions {
            let args: Vec<String> = match &a {
                Action::Ping => vec!["PING".into()],
                Action::Info => vec!["INFO".into()],
                Action::Hello(payload) => {
                    vec!["PUBLISH".into(), HELLO_CHANNEL.into(), payload.clone()]
                }
                Action::AskMaster(args) | Action::Queued(args) => args.clone(),
            };
            let refs: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            let reply = match link.raw(&refs).await {
                Ok(r) => r,
                Err(_) => return true,
            };
            let mut s = super::lock(shared);
            if s.find(id).is_none() {
                return false;
            }
            let now = now_ms();
            match a {
                Action::Ping => discovery::ping_reply(&mut s, id, &reply, now),
                Action::Info => {
                    if let Reply::Bulk(Some(b)) = &reply {
                        discovery::info_reply(&mut s, id, &String::from_utf8_lossy(b), now);
                    }
                }
                Action::Hello(_) => {
                    if !matches!(reply, Reply::Error(_))
                        && let Some((_, inst)) = s.find_mut(id)
                    {
                        inst.last_pub_time = now;
                    }
                }
                Action::AskMaster(_) => discovery::master_down_reply(&mut s, id, &reply, now),
                Action::Queued(_) => {}
            }
        }
    }
}

/// Decides what the link of `id` sends now (sentinelSendPeriodicCommands); None when the
/// instance is gone.
fn plan(shared: &Shared, id: u64, local_ip: &str) -> Option<Vec<Action>> {
    let mut s = super::lock(shared);
    let now = now_ms();
    // With TLS links, other sentinels reach this one on its tls-port (as redis-sentinel
    // announces it).
    let my_port = match s.conf.tls.get("tls-port").and_then(|v| v.first()) {
        Some(p) if crate::server::tls::current().is_some_and(|c| c.replication) => {
            p.parse().unwrap_or(s.conf.port)
        }
        _ => s.conf.port,
    };
    let announce_ip = s.conf.announce_ip.clone();
    let announce_port = s.conf.announce_port;
    let (myid, epoch) = (s.myid.clone(), s.current_epoch);
    let (mi, _) = s.find(id)?;
    let m = &s.masters[mi];
    let (cur_ip, cur_port) = m.current_addr();
    let hello_master = format!(
        "{},{},{},{}",
        m.name(),
        cur_ip,
        cur_port,
        m.conf.config_epoch
    );
    let in_failover = m.failover_state != super::state::FailoverState::None;
    let master_odown = m.inst.o_down_since != 0;
    let master_sdown = m.inst.s_down_since != 0;
    let master_addr = (m.inst.ip.clone(), m.inst.port.to_string());
    let down_after = m.conf.down_after as i64;
    let ask_runid = if in_failover {
        myid.clone()
    } else {
        "*".into()
    };
    let (_, inst) = s.find_mut(id)?;
    let mut actions = Vec::new();
    for q in std::mem::take(&mut inst.outbox) {
        actions.push(Action::Queued(q));
    }
    let ping_period = PING_PERIOD.min(down_after);
    if inst.role != Role::Sentinel {
        let info_period =
            if in_failover && (inst.promoted || inst.reconf_sent || inst.reconf_inprog) {
                // The failover waits on exactly this replica's next INFO (role master after
                // SLAVEOF NO ONE, master_host / master_link_status after SLAVEOF): poll it at
                // every tick instead of every second, so the switch does not wait up to 1 s
                // per step.
                FAILOVER_INFO_PERIOD
            } else if inst.role == Role::Replica
                && (master_odown || in_failover || inst.master_link_down_time != 0)
            {
                1000
            } else {
                INFO_PERIOD
            };
        if inst.info_refresh == 0 || now - inst.info_refresh > info_period {
            actions.push(Action::Info);
        }
    }
    if now - inst.last_pong_time > ping_period && now - inst.last_ping_time > ping_period / 2 {
        inst.last_ping_time = now;
        if inst.act_ping_time == 0 {
            inst.act_ping_time = now;
        }
        actions.push(Action::Ping);
    }
    if now - inst.last_pub_time > PUBLISH_PERIOD {
        // Marked now so a slow reply does not queue a second hello.
        inst.last_pub_time = now;
        let ip = announce_ip.unwrap_or_else(|| local_ip.to_string());
        let port = if announce_port != 0 {
            announce_port
        } else {
            my_port
        };
        actions.push(Action::Hello(format!(
            "{ip},{port},{myid},{epoch},{hello_master}"
        )));
    }
    if inst.role == Role::Sentinel
        && master_sdown
        && (inst.ask_forced || now - inst.last_master_down_reply >= ASK_PERIOD)
    {
        inst.ask_forced = false;
        actions.push(Action::AskMaster(vec![
            "SENTINEL".into(),
            "is-master-down-by-addr".into(),
            master_addr.0,
            master_addr.1,
            epoch.to_string(),
            ask_runid,
        ]));
    }
    Some(actions)
}

/// The pub/sub link of a master or replica: SUBSCRIBE to the hello channel and hand every
/// message to [`discovery::hello`]. Runs until the instance is gone.
pub async fn pubsub_link(shared: Shared, id: u64) {
    loop {
        let Some(t) = target(&shared, id, "pubsub") else {
            return;
        };
        if t.role == Role::Sentinel {
            return;
        }
        let Some((mut link, _)) = connect(&t).await else {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        if link
            .raw(&[b"SUBSCRIBE", HELLO_CHANNEL.as_bytes()])
            .await
            .is_err()
        {
            continue;
        }
        loop {
            // Our own hellos arrive every 2 s: silence for 3 periods means a dead link.
            let next = tokio::time::timeout(
                Duration::from_millis((PUBLISH_PERIOD * 3) as u64),
                link.read(),
            )
            .await;
            let Ok(Ok(reply)) = next else { break };
            let mut s = super::lock(&shared);
            if s.find(id).is_none() {
                return;
            }
            if let Reply::Array(Some(items)) = &reply
                && items.len() == 3
                && items[0].text().as_deref() == Some("message")
                && let Some(payload) = items[2].text()
            {
                discovery::hello(&mut s, &payload, now_ms());
            }
        }
    }
}

/// The six commands of sentinelSendSlaveOf: one transaction that points `inst` at
/// `host:port` (or makes it a master with None), rewrites its config and drops its clients.
pub fn queue_slaveof(inst: &mut Instance, to: Option<(&str, u16)>) {
    let (h, p) = match to {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => ("NO".to_string(), "ONE".to_string()),
    };
    let cmds: [&[&str]; 6] = [
        &["MULTI"],
        &["SLAVEOF", &h, &p],
        &["CONFIG", "REWRITE"],
        &["CLIENT", "KILL", "TYPE", "normal"],
        &["CLIENT", "KILL", "TYPE", "pubsub"],
        &["EXEC"],
    ];
    for c in cmds {
        inst.outbox.push(c.iter().map(|s| s.to_string()).collect());
    }
}
