//! The sentinel's state (sentinel.c's `sentinelState` and `sentinelRedisInstance`): the
//! monitored masters, each with its replicas and the other sentinels watching it, plus the
//! epochs. One `Mutex` guards it all; the link tasks, the timer and the listener take it
//! briefly and never across an await.

use super::conf::{MasterConf, SentinelConf};
use super::events::Events;
use crate::server::clock::now_ms;
use std::sync::Arc;

/// What an instance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A monitored master.
    Master,
    /// One of its replicas.
    Replica,
    /// Another sentinel watching the same master.
    Sentinel,
}

impl Role {
    /// sentinel.c's `sentinelRedisInstanceTypeStr`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Replica => "slave",
            Role::Sentinel => "sentinel",
        }
    }
}

/// The failover state machine (sentinel.c's SENTINEL_FAILOVER_STATE_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailoverState {
    /// No failover.
    None,
    /// Waiting to be elected leader.
    WaitStart,
    /// Picking the replica to promote.
    SelectSlave,
    /// Sending SLAVEOF NO ONE to it.
    SendSlaveofNoone,
    /// Waiting for it to report role:master.
    WaitPromotion,
    /// Pointing the other replicas at it.
    ReconfSlaves,
    /// Done: switch the master's address.
    UpdateConfig,
}

impl FailoverState {
    /// The name SENTINEL MASTER shows as `failover-state`.
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// One Redis server or sentinel we talk to (sentinelRedisInstance).
#[derive(Clone, Debug)]
pub struct Instance {
    /// Process-unique id: the link tasks find their instance by it.
    pub id: u64,
    /// Master, replica or sentinel.
    pub role: Role,
    /// The master's name; `ip:port` for a replica; the run id for a sentinel.
    pub name: String,
    /// Its address.
    pub ip: String,
    /// Its port.
    pub port: u16,
    /// The run id it reported (INFO or hello).
    pub runid: Option<String>,
    /// Link tasks started for it.
    pub spawned: bool,
    /// The command link is connected.
    pub connected: bool,
    /// When the link was (re)created, ms.
    pub link_since: i64,
    /// Time the pending PING was sent (0: none pending).
    pub act_ping_time: i64,
    /// Last PING sent.
    pub last_ping_time: i64,
    /// Last valid PING reply.
    pub last_avail_time: i64,
    /// Last reply to PING of any kind.
    pub last_pong_time: i64,
    /// Last INFO reply (0: never).
    pub info_refresh: i64,
    /// Last hello published to it.
    pub last_pub_time: i64,
    /// The role INFO reported.
    pub role_reported: Role,
    /// When that role was first reported.
    pub role_reported_time: i64,
    /// Subjectively down since (0: up).
    pub s_down_since: i64,
    /// Objectively down since (masters; 0: not).
    pub o_down_since: i64,
    /// When it last went down (SDOWN or ODOWN), kept after it comes back: sentinel.c's
    /// `s_down_since_time` / `o_down_since_time`, read by [`Instance::no_down_for`].
    pub last_down_start: i64,
    /// Replica: master_link_down_since_seconds in ms.
    pub master_link_down_time: i64,
    /// Replica: master_link_status is up.
    pub master_link_up: bool,
    /// Replica: master_host.
    pub slave_master_host: Option<String>,
    /// Replica: master_port.
    pub slave_master_port: u16,
    /// Replica: slave_priority.
    pub slave_priority: i64,
    /// Replica: slave_repl_offset.
    pub slave_repl_offset: i64,
    /// Replica: replica_announced.
    pub replica_announced: bool,
    /// Replica: chosen for promotion.
    pub promoted: bool,
    /// Replica: SLAVEOF sent during reconfiguration.
    pub reconf_sent: bool,
    /// Replica: reconfiguration in progress.
    pub reconf_inprog: bool,
    /// Replica: reconfiguration done.
    pub reconf_done: bool,
    /// Replica: when SLAVEOF was sent.
    pub slave_reconf_sent_time: i64,
    /// Sentinel: last hello received from it.
    pub last_hello_time: i64,
    /// Sentinel: the leader it voted for.
    pub leader: Option<String>,
    /// Sentinel: the epoch of that vote.
    pub leader_epoch: u64,
    /// Sentinel: it says the master is down.
    pub master_down: bool,
    /// Sentinel: last IS-MASTER-DOWN-BY-ADDR reply.
    pub last_master_down_reply: i64,
    /// Sentinel: ask it about the master on the next tick, whatever the period.
    pub ask_forced: bool,
    /// The last INFO text (SENTINEL INFO-CACHE).
    pub info_text: String,
    /// Commands queued for the command link (SLAVEOF, the promotion transaction).
    pub outbox: Vec<Vec<String>>,
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Instance {
    /// sentinelRedisInstanceNoDownFor: never went down, or last went down more than `ms`
    /// ago (a returning instance must have stayed up that long before it is reconfigured).
    pub fn no_down_for(&self, ms: i64, now: i64) -> bool {
        self.last_down_start == 0 || now - self.last_down_start > ms
    }

    /// A new instance, not yet linked.
    pub fn new(role: Role, name: &str, ip: &str, port: u16) -> Instance {
        let now = now_ms();
        Instance {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            role,
            name: name.to_string(),
            ip: ip.to_string(),
            port,
            runid: None,
            spawned: false,
            connected: false,
            link_since: now,
            act_ping_time: now,
            last_ping_time: 0,
            last_avail_time: now,
            last_pong_time: now,
            info_refresh: 0,
            last_pub_time: 0,
            role_reported: role,
            role_reported_time: now,
            s_down_since: 0,
            last_down_start: 0,
            o_down_since: 0,
            master_link_down_time: 0,
            master_link_up: false,
            slave_master_host: None,
            slave_master_port: 0,
            slave_priority: 100,
            slave_repl_offset: 0,
            replica_announced: true,
            promoted: false,
            reconf_sent: false,
            reconf_inprog: false,
            reconf_done: false,
            slave_reconf_sent_time: 0,
            last_hello_time: 0,
            leader: None,
            leader_epoch: 0,
            master_down: false,
            last_master_down_reply: 0,
            ask_forced: false,
            info_text: String::new(),
            outbox: Vec::new(),
        }
    }

    /// `ip:port`, the name of a replica.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// The flags SENTINEL MASTER/REPLICAS show.
    pub fn flags(&self, master: Option<&Master>) -> String {
        let mut f: Vec<&str> = Vec::new();
        if self.s_down_since != 0 {
            f.push("s_down");
        }
        if self.o_down_since != 0 {
            f.push("o_down");
        }
        f.push(self.role.name());
        if !self.connected {
            f.push("disconnected");
        }
        if self.master_down {
            f.push("master_down");
        }
        if let Some(m) = master
            && m.failover_state != FailoverState::None
        {
            f.push("failover_in_progress");
        }
        if self.promoted {
            f.push("promoted");
        }
        if self.reconf_sent {
            f.push("reconf_sent");
        }
        if self.reconf_inprog {
            f.push("reconf_inprog");
        }
        if self.reconf_done {
            f.push("reconf_done");
        }
        f.join(",")
    }
}

/// A monitored master with its replicas and the sentinels watching it.
#[derive(Clone, Debug)]
pub struct Master {
    /// The master itself (role Master).
    pub inst: Instance,
    /// Settings and persisted epochs (its address is kept in `inst`).
    pub conf: MasterConf,
    /// The leader this sentinel voted for in `conf.leader_epoch`.
    pub leader: Option<String>,
    /// Known replicas.
    pub replicas: Vec<Instance>,
    /// Other sentinels.
    pub sentinels: Vec<Instance>,
    /// Failover state.
    pub failover_state: FailoverState,
    /// The epoch of the failover in progress.
    pub failover_epoch: u64,
    /// When the failover (or the last attempt) started, ms.
    pub failover_start_time: i64,
    /// When the failover state last changed.
    pub failover_state_change_time: i64,
    /// The failover was forced (SENTINEL FAILOVER).
    pub force_failover: bool,
    /// Random delay (ms) drawn when the master entered ODOWN: the failover starts only
    /// after it, so that sentinels that saw ODOWN at the same moment do not all vote for
    /// themselves in the same epoch (a split vote costs 2 × failover-timeout).
    pub failover_desync: i64,
}

impl Master {
    /// A master from its configuration (replicas and sentinels from known-* lines).
    pub fn new(conf: MasterConf) -> Master {
        let mut inst = Instance::new(Role::Master, &conf.name, &conf.ip, conf.port);
        inst.role_reported = Role::Master;
        let replicas = conf
            .known_replicas
            .iter()
            .map(|(ip, port)| Instance::new(Role::Replica, &format!("{ip}:{port}"), ip, *port))
            .collect();
        let sentinels = conf
            .known_sentinels
            .iter()
            .map(|(ip, port, runid)| {
                let mut s = Instance::new(Role::Sentinel, runid, ip, *port);
                s.runid = Some(runid.clone());
                s
            })
            .collect();
        Master {
            inst,
            conf,
            leader: None,
            replicas,
            sentinels,
            failover_state: FailoverState::None,
            failover_epoch: 0,
            failover_start_time: 0,
            failover_state_change_time: 0,
            force_failover: false,
            failover_desync: 0,
        }
    }

    /// The notification script, if any.
    pub fn notify(&self) -> Option<&str> {
        self.conf.notification_script.as_deref()
    }

    /// The name of the master.
    pub fn name(&self) -> &str {
        &self.inst.name
    }

    /// `master <name> <ip> <port>`: how events name the master.
    pub fn describe(&self) -> String {
        format!(
            "master {} {} {}",
            self.inst.name, self.inst.ip, self.inst.port
        )
    }

    /// How events name `inst` (a replica or sentinel of this master, or the master).
    pub fn describe_inst(&self, inst: &Instance) -> String {
        if inst.role == Role::Master {
            return self.describe();
        }
        format!(
            "{} {} {} {} @ {} {} {}",
            inst.role.name(),
            inst.name,
            inst.ip,
            inst.port,
            self.inst.name,
            self.inst.ip,
            self.inst.port
        )
    }

    /// sentinelGetCurrentMasterAddress: the promoted replica's address once the failover
    /// reached the reconfiguration of the replicas, else the master's.
    pub fn current_addr(&self) -> (&str, u16) {
        let late = matches!(
            self.failover_state,
            FailoverState::ReconfSlaves | FailoverState::UpdateConfig
        );
        match self.replicas.iter().find(|r| r.promoted) {
            Some(p) if late => (&p.ip, p.port),
            _ => (&self.inst.ip, self.inst.port),
        }
    }

    /// Every instance of this master: itself, replicas, sentinels.
    pub fn all(&self) -> impl Iterator<Item = &Instance> {
        std::iter::once(&self.inst)
            .chain(self.replicas.iter())
            .chain(self.sentinels.iter())
    }

    /// Mutable access to every instance.
    pub fn all_mut(&mut self) -> impl Iterator<Item = &mut Instance> {
        std::iter::once(&mut self.inst)
            .chain(self.replicas.iter_mut())
            .chain(self.sentinels.iter_mut())
    }

    /// The known-replica / known-sentinel lists for the config file.
    pub fn sync_conf(&mut self) {
        self.conf.ip = self.inst.ip.clone();
        self.conf.port = self.inst.port;
        self.conf.known_replicas = self
            .replicas
            .iter()
            .filter(|r| !(r.ip == self.inst.ip && r.port == self.inst.port))
            .map(|r| (r.ip.clone(), r.port))
            .collect();
        self.conf.known_sentinels = self
            .sentinels
            .iter()
            .filter_map(|s| s.runid.clone().map(|id| (s.ip.clone(), s.port, id)))
            .collect();
    }
}

/// SENTINEL SIMULATE-FAILURE flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct Simulate {
    /// crash-after-election.
    pub crash_after_election: bool,
    /// crash-after-promotion.
    pub crash_after_promotion: bool,
}

/// The whole sentinel.
pub struct Sentinel {
    /// The configuration as loaded (and kept current for the rewrite).
    pub conf: SentinelConf,
    /// Our 40-character id.
    pub myid: String,
    /// The current epoch.
    pub current_epoch: u64,
    /// The monitored masters.
    pub masters: Vec<Master>,
    /// In TILT mode.
    pub tilt: bool,
    /// TILT entered at (ms).
    pub tilt_start: i64,
    /// Last timer run (for TILT detection).
    pub previous_time: i64,
    /// Simulated failures.
    pub simulate: Simulate,
    /// Event fan-out (log + subscribers).
    pub events: Arc<Events>,
    /// The server's run id (INFO run_id): new on every start.
    pub run_id: String,
    /// Start time (ms).
    pub start_time: i64,
    /// Counters for INFO stats.
    pub stats: Stats,
    /// Set by SHUTDOWN.
    pub shutdown: bool,
}

/// INFO stats counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub connections: u64,
    /// Commands run.
    pub commands: u64,
    /// Clients connected now.
    pub clients: u64,
}

impl Sentinel {
    /// The state from a loaded config; a missing myid is generated.
    pub fn new(mut conf: SentinelConf, events: Arc<Events>) -> Sentinel {
        let myid = match &conf.myid {
            Some(id) => id.clone(),
            None => crate::sysrand::hex_or_fallback(40).0,
        };
        conf.myid = Some(myid.clone());
        let masters = conf.masters.iter().cloned().map(Master::new).collect();
        let now = now_ms();
        Sentinel {
            current_epoch: conf.current_epoch,
            conf,
            myid,
            masters,
            tilt: false,
            tilt_start: 0,
            previous_time: now,
            simulate: Simulate::default(),
            events,
            run_id: crate::sysrand::hex_or_fallback(40).0,
            start_time: now,
            stats: Stats::default(),
            shutdown: false,
        }
    }

    /// Writes the config file with the current state (sentinelFlushConfig).
    pub fn flush_config(&mut self) {
        self.conf.myid = Some(self.myid.clone());
        self.conf.current_epoch = self.current_epoch;
        for m in &mut self.masters {
            m.sync_conf();
        }
        self.conf.masters = self.masters.iter().map(|m| m.conf.clone()).collect();
        match self.conf.rewrite() {
            Ok(()) => crate::notice!("Sentinel new configuration saved on disk"),
            Err(e) => crate::warning!(
                "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
            ),
        }
    }

    /// The master named `name`.
    pub fn master(&self, name: &str) -> Option<&Master> {
        self.masters.iter().find(|m| m.name() == name)
    }

    /// The master named `name`, mutable.
    pub fn master_mut(&mut self, name: &str) -> Option<&mut Master> {
        self.masters.iter_mut().find(|m| m.name() == name)
    }

    /// Finds instance `id`: (master index, the instance).
    pub fn find(&self, id: u64) -> Option<(usize, &Instance)> {
        self.masters
            .iter()
            .enumerate()
            .find_map(|(i, m)| m.all().find(|x| x.id == id).map(|x| (i, x)))
    }

    /// Finds instance `id`, mutable.
    pub fn find_mut(&mut self, id: u64) -> Option<(usize, &mut Instance)> {
        self.masters
            .iter_mut()
            .enumerate()
            .find_map(|(i, m)| m.all_mut().find(|x| x.id == id).map(|x| (i, x)))
    }

    /// Raises the current epoch to `epoch` (+new-epoch about master `mi`), persisted.
    pub fn adopt_epoch(&mut self, mi: usize, epoch: u64) {
        if epoch > self.current_epoch {
            self.current_epoch = epoch;
            self.flush_config();
            self.warn(mi, "+new-epoch", &self.current_epoch.to_string());
        }
    }

    /// A warning-level event about master `mi` (or one of its instances): emitted, and the
    /// master's notification script queued.
    pub fn warn(&self, mi: usize, kind: &str, msg: &str) {
        self.events.warn(self.masters[mi].notify(), kind, msg);
    }

    /// sentinelCallClientReconfScript: queues master `mi`'s client-reconfig script with
    /// `<master-name> <role> start <from-ip> <from-port> <to-ip> <to-port>` (`role`:
    /// leader or observer).
    pub fn client_reconfig(&self, mi: usize, role: &str, from: (&str, u16), to: (&str, u16)) {
        let m = &self.masters[mi];
        if let Some(path) = &m.conf.client_reconfig_script {
            let argv = [path, m.name(), role, "start", from.0];
            let mut argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
            argv.extend([from.1.to_string(), to.0.to_string(), to.1.to_string()]);
            self.events.schedule(argv);
        }
    }
}
