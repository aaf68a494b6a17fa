//! redis.conf: the typed configuration of `redrepl server`, loaded the way redis-server
//! loads it (a config file, then `--name value` overrides), and the directive table that
//! drives loading, CONFIG GET, CONFIG SET and CONFIG REWRITE.
//!
//! The server reads the typed fields of [`Config`] on its hot paths; everything that deals
//! with directive *names* goes through the table in `table.rs`.

/// Everything `redrepl server` can be configured with. Field names follow the directives
/// (`protected-mode` is `protected_mode`). Sizes are bytes, times are seconds unless the
/// field name says otherwise.
///
/// `Debug` shows every directive as CONFIG GET would, with passwords redacted.
#[derive(Clone)]
pub struct Config {
    // network
    pub port: u16,
    /// Addresses to listen on; a leading `-` marks an address that may be unavailable.
    pub bind: Vec<String>,
    /// True when `bind` was given explicitly (protected-mode only applies without it).
    pub bind_explicit: bool,
    pub protected_mode: bool,
    pub tcp_backlog: i64,
    pub timeout: i64,
    pub tcp_keepalive: i64,
    pub maxclients: i64,
    /// busy-reply-threshold (lua-time-limit): ms after which a running script makes other
    /// clients get BUSY.
    pub busy_reply_threshold: i64,
    // process
    pub daemonize: bool,
    /// Print the ASCII logo at start even when the log is not a terminal.
    pub always_show_logo: bool,
    pub pidfile: String,
    pub loglevel: LogLevel,
    /// "" logs to stdout.
    pub logfile: String,
    pub databases: i64,
    // security
    /// None: no password. Never printed.
    pub requirepass: Option<Vec<u8>>,
    /// no | yes | local
    pub enable_debug_command: EnableFlag,
    /// no | yes | local: who may CONFIG SET the protected directives (`dir`, `dbfilename`).
    pub enable_protected_configs: EnableFlag,
    // limits
    pub proto_max_bulk_len: i64,
    pub client_query_buffer_limit: i64,
    /// `notify-keyspace-events`: the enabled classes (`crate::server::notify` flags).
    pub notify_keyspace_events: u32,
    pub maxmemory: i64,
    /// `maxmemory-policy`: an index into [`table::MAXMEMORY_POLICIES`].
    pub maxmemory_policy: usize,
    /// `maxmemory-samples`.
    pub maxmemory_samples: i64,
    /// `lfu-log-factor`: how slowly the LFU counter grows (server/db/access.rs).
    pub lfu_log_factor: i64,
    /// `lfu-decay-time`: minutes per decrement of an idle key's LFU counter (0: never).
    pub lfu_decay_time: i64,
    /// `tracking-table-max-keys`: keys client-side caching remembers (0: no limit).
    pub tracking_table_max_keys: i64,
    pub hz: i64,
    /// `slowlog-log-slower-than`: microseconds (-1: log nothing, 0: log everything).
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`: entries kept.
    pub slowlog_max_len: i64,
    /// `latency-monitor-threshold`: milliseconds (0: the latency monitor is off).
    pub latency_monitor_threshold: i64,
    /// `latency-tracking`: per-command latency histograms (INFO latencystats).
    pub latency_tracking: bool,
    /// `latency-tracking-info-percentiles`: the percentiles INFO latencystats shows.
    pub latency_tracking_info_percentiles: Vec<f64>,
    /// `io-threads`: threads that serve connections (1: one event loop). Immutable.
    pub io_threads: i64,
    /// `io-threads-do-reads` (kept for CONFIG GET; redrepl's I/O threads always read too).
    pub io_threads_do_reads: bool,
    /// `client-output-buffer-limit` as (hard, soft, soft seconds) for the classes
    /// normal, replica, pubsub (accepted and kept; not enforced yet).
    pub client_output_buffer_limit: [(i64, i64, i64); 3],
    // persistence
    pub dir: String,
    pub dbfilename: String,
    /// `save` points as (seconds, changes).
    pub save: Vec<(i64, i64)>,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub stop_writes_on_bgsave_error: bool,
    // append-only file
    /// `appendonly`: the AOF is written (and loaded at start instead of the RDB).
    pub appendonly: bool,
    /// `appendfilename`: the prefix of the AOF's file names (immutable).
    pub appendfilename: String,
    /// `appenddirname`: the directory (in `dir`) holding the AOF's files (immutable).
    pub appenddirname: String,
    /// `appendfsync`: an index into [`table::APPENDFSYNC`] (`everysec`, `always`, `no`).
    pub appendfsync: usize,
    /// `no-appendfsync-on-rewrite`: no fsync while a child rewrites or saves.
    pub no_appendfsync_on_rewrite: bool,
    /// `auto-aof-rewrite-percentage` (0: no automatic rewrite).
    pub auto_aof_rewrite_percentage: i64,
    /// `auto-aof-rewrite-min-size` in bytes.
    pub auto_aof_rewrite_min_size: i64,
    /// `aof-load-truncated`: a truncated last command is cut at start instead of refused.
    pub aof_load_truncated: bool,
    /// `aof-rewrite-incremental-fsync`: the rewrite child fsyncs the base every 4 MB.
    pub aof_rewrite_incremental_fsync: bool,
    /// `rdb-save-incremental-fsync`: a dump is fsynced every 4 MB while written.
    pub rdb_save_incremental_fsync: bool,
    /// `key-load-delay` (a debugging aid, hidden in Redis): microseconds slept per key
    /// loaded (negative: one microsecond every `-n` keys), to make the loading state visible.
    pub key_load_delay: i64,
    /// `loading-process-events-interval-bytes`: clients are served every this many bytes
    /// while the dataset loads.
    pub loading_process_events_interval_bytes: i64,
    /// `aof-use-rdb-preamble`: the base file is an RDB (else commands).
    pub aof_use_rdb_preamble: bool,
    /// `aof-timestamp-enabled`: `#TS:<unix time>` annotations in the incr files.
    pub aof_timestamp_enabled: bool,
    /// `aof-disable-auto-gc`: history files are kept after a rewrite.
    pub aof_disable_auto_gc: bool,
    // replication
    /// `replicaof host port`.
    pub replicaof: Option<(String, u16)>,
    /// Never printed.
    pub masterauth: Option<Vec<u8>>,
    pub masteruser: Option<String>,
    pub replica_read_only: bool,
    pub replica_serve_stale_data: bool,
    pub repl_ping_replica_period: i64,
    pub repl_timeout: i64,
    pub repl_backlog_size: i64,
    pub repl_backlog_ttl: i64,
    pub repl_diskless_sync: bool,
    pub repl_diskless_sync_delay: i64,
    pub repl_diskless_sync_max_replicas: i64,
    pub min_replicas_to_write: i64,
    pub min_replicas_max_lag: i64,
    pub replica_priority: i64,
    pub replica_announce_ip: Option<String>,
    pub replica_announce_port: i64,
    // data structure encodings (thresholds from Redis 7.0)
    pub hash_max_listpack_entries: i64,
    pub hash_max_listpack_value: i64,
    pub list_max_listpack_size: i64,
    pub list_compress_depth: i64,
    pub set_max_intset_entries: i64,
    pub zset_max_listpack_entries: i64,
    pub zset_max_listpack_value: i64,
    /// `stream-node-max-bytes`: a stream node's listpack bound.
    pub stream_node_max_bytes: i64,
    /// `stream-node-max-entries`: entries (deleted included) in one stream node.
    pub stream_node_max_entries: i64,
    /// Largest sparse HyperLogLog before it turns dense (hll-sparse-max-bytes).
    pub hll_sparse_max_bytes: i64,
    /// Directives redis-server knows but redrepl does not implement (see
    /// `table::OTHERS`), as given: name → arguments. CONFIG GET shows them.
    pub other: std::collections::BTreeMap<String, Vec<String>>,
    // ACL
    /// `user` lines, in file order: the name, then its rules (selectors merged).
    pub users: Vec<Vec<String>>,
    /// `aclfile`: where ACL LOAD / ACL SAVE read and write users.
    pub aclfile: Option<String>,
    /// `acllog-max-len`: ACL LOG entries kept.
    pub acllog_max_len: i64,
    /// `acl-pubsub-default allchannels`: new users may use every channel.
    pub acl_pubsub_all: bool,
    /// `rename-command old new` lines, in file order (`new` empty: disabled).
    pub rename_commands: Vec<(String, String)>,
}

/// `loglevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

/// Settings that take `no`, `yes` or `local` (enable-debug-command and friends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnableFlag {
    No,
    Yes,
    Local,
}

impl EnableFlag {
    /// Whether the action is allowed for a client (`local`: connected over loopback or a
    /// Unix socket), as Redis's allowProtectedAction.
    pub fn allows(self, client_is_local: bool) -> bool {
        match self {
            EnableFlag::Yes => true,
            EnableFlag::Local => client_is_local,
            EnableFlag::No => false,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 6379,
            bind: vec!["*".into(), "-::*".into()],
            bind_explicit: false,
            protected_mode: true,
            tcp_backlog: 511,
            timeout: 0,
            tcp_keepalive: 300,
            maxclients: 10000,
            busy_reply_threshold: 5000,
            daemonize: false,
            always_show_logo: false,
            pidfile: String::new(),
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            databases: 16,
            requirepass: None,
            enable_debug_command: EnableFlag::No,
            enable_protected_configs: EnableFlag::No,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            notify_keyspace_events: 0,
            maxmemory: 0,
            maxmemory_policy: 0,
            maxmemory_samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            tracking_table_max_keys: 1_000_000,
            hz: 10,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            latency_tracking: true,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            io_threads: 1,
            io_threads_do_reads: false,
            client_output_buffer_limit: [
                (0, 0, 0),
                (256 << 20, 64 << 20, 60),
                (32 << 20, 8 << 20, 60),
            ],
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
            save: vec![(3600, 1), (300, 100), (60, 10000)],
            rdbcompression: true,
            rdbchecksum: true,
            stop_writes_on_bgsave_error: true,
            appendonly: false,
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            appendfsync: 0,
            no_appendfsync_on_rewrite: false,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            aof_load_truncated: true,
            aof_rewrite_incremental_fsync: true,
            rdb_save_incremental_fsync: true,
            key_load_delay: 0,
            loading_process_events_interval_bytes: 2 * 1024 * 1024,
            aof_use_rdb_preamble: true,
            aof_timestamp_enabled: false,
            aof_disable_auto_gc: false,
            replicaof: None,
            masterauth: None,
            masteruser: None,
            users: Vec::new(),
            aclfile: None,
            acllog_max_len: 128,
            acl_pubsub_all: false,
            rename_commands: Vec::new(),
            replica_read_only: true,
            replica_serve_stale_data: true,
            repl_ping_replica_period: 10,
            repl_timeout: 60,
            repl_backlog_size: 1024 * 1024,
            repl_backlog_ttl: 3600,
            repl_diskless_sync: true,
            repl_diskless_sync_delay: 5,
            repl_diskless_sync_max_replicas: 0,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            replica_priority: 100,
            replica_announce_ip: None,
            replica_announce_port: 0,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            hll_sparse_max_bytes: 3000,
            zset_max_listpack_value: 64,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            other: Default::default(),
        }
    }
}

pub mod access;
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |v: String| {
            if v.is_empty() {
                v
            } else {
                "<redacted>".to_string()
            }
        };
        let mut m = f.debug_map();
        for d in table::directives() {
            let v = (d.get)(self);
            m.entry(&d.name, &if d.sensitive { redact(v) } else { v });
        }
        for (name, args) in &self.other {
            let v = args.join(" ");
            m.entry(
                name,
                &if table::is_sensitive(name) {
                    redact(v)
                } else {
                    v
                },
            );
        }
        m.finish()
    }
}

mod load;
pub mod rewrite;
pub mod table;
pub use load::{
    ConfigError, Loaded, apply_line, load, load_str, options_to_lines, repr, repr_bytes,
};
