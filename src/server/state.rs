//! The server's shared state: the databases, the configuration, statistics and the client
//! registry, all behind one mutex (see docs/architecture.md for why one lock).

use super::client::ClientInfo;
use super::db::Db;
use crate::config::Config;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use tokio::sync::Notify;

/// Counters reported by INFO stats.
#[derive(Default, Debug, Clone)]
pub struct Stats {
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub total_error_replies: u64,
    /// Bytes sent to replicas.
    pub net_repl_output_bytes: u64,
    /// Keys evicted for maxmemory.
    pub evicted_keys: u64,
    /// Bytes received from our master.
    pub net_repl_input_bytes: u64,
    /// Per-command counters (INFO commandstats, latencystats).
    pub commands: super::stats::CommandStats,
    /// Error replies by code (INFO errorstats).
    pub errors: super::stats::ErrorStats,
    /// The sampled rates (INFO instantaneous_*).
    pub instantaneous: super::stats::instantaneous::Instantaneous,
    /// I/O, fork, expiry-cycle and unexpected-error counters (INFO stats).
    pub counters: super::stats::Counters,
}

/// CLIENT PAUSE in force.
#[derive(Clone, Copy, Debug)]
pub struct Pause {
    /// Unix ms when the pause ends.
    pub until_ms: i64,
    /// Only writes are paused (CLIENT PAUSE ... WRITE).
    pub writes_only: bool,
}

/// Everything commands read and change, guarded by [`Shared::state`].
pub struct State {
    /// Current configuration (CONFIG SET changes it in place).
    pub config: Config,
    /// The config file, for CONFIG REWRITE.
    pub config_file: Option<std::path::PathBuf>,
    /// The databases, `databases` of them.
    pub dbs: Vec<Db>,
    /// Changes since the last save (Redis's `server.dirty`).
    pub dirty: u64,
    /// INFO stats counters.
    pub stats: Stats,
    /// Connected clients by id.
    pub clients: BTreeMap<u64, Arc<ClientInfo>>,
    /// Next CLIENT ID.
    pub next_client_id: u64,
    /// CLIENT PAUSE, if any.
    pub pause: Option<Pause>,
    /// Server start, unix ms.
    pub start_ms: i64,
    /// 40 hex characters, new at every start.
    pub run_id: String,
    /// Eviction candidates kept between evictions (see `evict`).
    pub evict_pool: Vec<super::evict::Candidate>,
    /// Replication: our ID and offset, the backlog, attached replicas, the link to our master.
    pub repl: super::replication::Replication,
    /// Set when SHUTDOWN or a signal asked the server to stop; the value says whether to save.
    pub shutdown_requested: Option<ShutdownKind>,
    /// Seed for RANDOMKEY and friends.
    pub rng: u64,
    /// Unix seconds of the last successful save.
    pub lastsave: i64,
    /// Snapshot state (BGSAVE child, last save outcome).
    pub persistence: super::persistence::Persistence,
    /// Active expiry on (DEBUG SET-ACTIVE-EXPIRE).
    pub active_expire_enabled: bool,
    /// Clients waiting in a blocking command (INFO blocked_clients).
    pub blocked_clients: usize,
    /// Clients blocked on keys, oldest first: (client id, db, keys). A key that becomes
    /// ready is served to the oldest client waiting on it, as Redis does.
    pub blocked_on: Vec<(u64, usize, Vec<bytes::Bytes>)>,
    /// Lua scripts and functions (EVAL, FUNCTION, FCALL).
    pub scripting: super::scripting::Scripting,
    /// While a script runs: the writes it made, replicated when it ends (Redis 7.0
    /// replicates a script's effects, in MULTI/EXEC when there are several).
    pub script_effects: Option<Vec<(usize, Vec<bytes::Bytes>)>>,
    /// Pub/Sub subscriptions and MONITOR clients.
    pub pubsub: super::pubsub::PubSub,
    /// Client-side caching: tracking clients, the tracking table, BCAST prefixes.
    pub tracking: super::tracking::Tracking,
    /// SLOWLOG and LATENCY data (kept across CONFIG RESETSTAT).
    pub monitor: super::stats::Monitor,
    /// ACL users and the ACL LOG.
    pub acl: super::acl::Acl,
    /// The append-only file.
    pub aof: super::aof::Aof,
    /// Set while the dataset loads at start-up (`-LOADING`, INFO `loading:1`).
    pub loading: Option<super::loading::Loading>,
}

/// How to shut down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownKind {
    /// Save if save points are configured (SIGTERM, plain SHUTDOWN).
    Default,
    /// SHUTDOWN SAVE.
    Save,
    /// SHUTDOWN NOSAVE.
    NoSave,
}

impl State {
    /// A fresh state for `config`.
    pub fn new(config: Config, config_file: Option<std::path::PathBuf>) -> State {
        let dbs = (0..config.databases.max(1)).map(|_| Db::new()).collect();
        let now = super::clock::now_ms();
        let acl = super::acl::Acl::with_requirepass(&config);
        super::db::access::configure(&config);
        State {
            config,
            config_file,
            dbs,
            dirty: 0,
            stats: Stats::default(),
            clients: BTreeMap::new(),
            next_client_id: 1,
            pause: None,
            start_ms: now,
            run_id: random_hex(40),
            repl: super::replication::Replication::new(),
            evict_pool: Vec::new(),
            shutdown_requested: None,
            rng: random_u64(),
            lastsave: now / 1000,
            active_expire_enabled: true,
            persistence: super::persistence::Persistence {
                last_bgsave_ok: true,
                last_bgsave_secs: -1,
                ..Default::default()
            },
            blocked_clients: 0,
            blocked_on: Vec::new(),
            scripting: super::scripting::Scripting::new(),
            script_effects: None,
            pubsub: Default::default(),
            tracking: Default::default(),
            monitor: Default::default(),
            acl,
            aof: super::aof::Aof::new(),
            loading: None,
        }
    }

    /// Next pseudo-random number (xorshift; not for secrets).
    pub fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Whether writes are recorded anywhere (replication stream or AOF): commands build
    /// their propagated forms (absolute expiries, XCLAIMs ...) only then.
    #[inline]
    pub fn streaming(&self) -> bool {
        self.repl.active() || self.aof.accepting()
    }

    /// Hands a write to replication and the AOF: every write path calls this, in the order the writes
    /// were applied, under the state lock (see [`super::replication`]).
    #[inline]
    pub fn propagate<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A]) {
        if let Some(effects) = self.script_effects.as_mut() {
            let args = args
                .iter()
                .map(|a| bytes::Bytes::copy_from_slice(a.as_ref()));
            effects.push((db, args.collect()));
            return;
        }
        if self.aof.accepting() {
            let in_exec = self.repl.exec_wrap.is_some();
            let ts = self.config.aof_timestamp_enabled;
            self.aof.feed(db, args, in_exec, ts);
        }
        self.propagate_to_replicas(db, args);
    }

    /// Hands a command to replication only, never the AOF (PUBLISH: Redis forces its
    /// propagation to replicas so their subscribers get it; it changes no data to persist).
    #[inline]
    pub fn propagate_to_replicas<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A]) {
        if self.repl.active() {
            let limits = self.config.client_output_buffer_limit[1];
            self.repl.propagate(db, args, limits);
        }
    }
}

/// The state plus the wake-ups that live outside the lock.
pub struct Shared {
    /// All server state.
    pub state: Mutex<State>,
    /// Notified when a shutdown is requested.
    pub shutdown: Notify,
    /// Notified when CLIENT PAUSE ends (UNPAUSE or timeout).
    pub unpaused: Notify,
    /// Counts write commands that changed the dataset; blocked clients (BLPOP & co) retry
    /// when it moves.
    pub write_epoch: std::sync::atomic::AtomicU64,
    /// Notified after every write command that changed the dataset.
    pub writes: Notify,
    /// The running script, seen without the lock (BUSY, SCRIPT KILL; see scripting::busy).
    pub watchdog: Arc<super::scripting::Watchdog>,
}

impl Shared {
    /// Wraps a state.
    pub fn new(state: State) -> Arc<Shared> {
        let watchdog = state.scripting.watchdog.clone();
        Arc::new(Shared {
            watchdog,
            state: Mutex::new(state),
            shutdown: Notify::new(),
            unpaused: Notify::new(),
            write_epoch: std::sync::atomic::AtomicU64::new(0),
            writes: Notify::new(),
        })
    }

    /// Locks the state (a poisoned lock is taken over: state changes are single steps).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `len` random hex digits (run ID, replication IDs, EOF marks) from [`crate::sysrand`].
pub fn random_hex(len: usize) -> String {
    let (hex, err) = crate::sysrand::hex_or_fallback(len);
    if let Some(e) = err {
        crate::warning!("The kernel's random source failed ({e}): using a time-based ID");
    }
    hex
}

/// A non-zero seed for the sampling generator (eviction, RANDOMKEY, SRANDMEMBER ...).
fn random_u64() -> u64 {
    let seed = crate::sysrand::u64().unwrap_or_else(|_| {
        let hex = random_hex(16);
        u64::from_str_radix(&hex, 16).unwrap_or(0x9e37_79b9_7f4a_7c15)
    });
    seed | 1
}
