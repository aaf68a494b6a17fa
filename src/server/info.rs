//! INFO: the text report, with Redis 7.0's section names and field names, since monitoring
//! tools and redis-cli parse it.

use super::clock;
use super::state::State;
use super::stats::memory::{self, Figures};
use std::fmt::Write;

/// Section names in Redis's order, and whether `INFO` / `INFO default` shows them (the
/// others need `INFO all`, `INFO everything` or their name).
const SECTIONS: [(&str, bool); 13] = [
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Renders the requested sections as Redis 7.0's genRedisInfoString: none or `default`
/// means the default sections, `all` and `everything` every section (there are no module
/// sections), names are case-insensitive and unknown names are ignored.
pub fn render(state: &State, wanted: &[String]) -> String {
    let has = |w: &str| wanted.iter().any(|x| x.eq_ignore_ascii_case(w));
    let all = has("all") || has("everything");
    let default = wanted.is_empty() || has("default");
    let mut out = String::new();
    for (name, in_default) in SECTIONS {
        if !(all || (default && in_default) || has(name)) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match name {
            "server" => server(state, &mut out),
            "clients" => clients(state, &mut out),
            "memory" => memory(state, &mut out),
            "persistence" => persistence(state, &mut out),
            "stats" => stats(state, &mut out),
            "replication" => replication(state, &mut out),
            "cpu" => cpu(&mut out),
            "modules" => out.push_str("# Modules\r\n"),
            "commandstats" => commandstats(state, &mut out),
            "errorstats" => errorstats(state, &mut out),
            "latencystats" => latencystats(state, &mut out),
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            _ => keyspace(state, &mut out),
        }
    }
    out
}

/// `cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=..`
/// for every command that ran or was refused.
fn commandstats(state: &State, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    for (name, c) in state.stats.commands.sorted() {
        if c.calls == 0 && c.rejected_calls == 0 && c.failed_calls == 0 {
            continue;
        }
        let per_call = if c.calls > 0 {
            c.usec as f64 / c.calls as f64
        } else {
            0.0
        };
        let _ = write!(
            out,
            "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            c.calls, c.usec, c.rejected_calls, c.failed_calls
        );
    }
}

/// `errorstat_<CODE>:count=..` by error code.
fn errorstats(state: &State, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    for (code, n) in state.stats.errors.iter() {
        let _ = write!(out, "errorstat_{code}:count={n}\r\n");
    }
}

/// `latency_percentiles_usec_<name>:p50=..,p99=..,p99.9=..` (latency-tracking-info-
/// percentiles) for every command with a histogram.
fn latencystats(state: &State, out: &mut String) {
    out.push_str("# Latencystats\r\n");
    let percentiles = &state.config.latency_tracking_info_percentiles;
    for (name, c) in state.stats.commands.sorted() {
        let Some(h) = c.histogram.as_ref() else {
            continue;
        };
        let values: Vec<String> = percentiles
            .iter()
            .map(|&p| format!("p{p}={:.3}", h.value_at_percentile(p) as f64 / 1000.0))
            .collect();
        let _ = write!(
            out,
            "latency_percentiles_usec_{name}:{}\r\n",
            values.join(",")
        );
    }
}

fn server(state: &State, out: &mut String) {
    let uptime = (clock::now_ms() - state.start_ms) / 1000;
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let config_file = state
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let _ = write!(
        out,
        "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:{}\r\nredrepl_version:{}\r\n",
        super::REDIS_VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::process::id(),
        state.run_id,
        state.config.port,
        clock::now_us(),
        uptime,
        uptime / 86400,
        state.config.hz,
        state.config.hz,
        super::db::lru_clock() & 0xFFFFFF,
        exe,
        config_file,
        io_threads_active(state) as u8,
        env!("CARGO_PKG_VERSION"),
    );
}

fn clients(state: &State, out: &mut String) {
    let _ = write!(
        out,
        "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n",
        // As Redis: replicas attached to us are not counted.
        state.clients.len() - state.repl.replicas.len().min(state.clients.len()),
        state.config.maxclients,
        state.blocked_clients,
        state.tracking.clients(),
    );
}

fn human(bytes: usize) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", b / 1024.0 / 1024.0 / 1024.0)
    }
}

/// Whether connections are served by several I/O threads (`io-threads` > 1): then every
/// connection's reads and writes run on the worker that owns it (INFO io_threads_active,
/// io_threaded_*_processed).
fn io_threads_active(state: &State) -> bool {
    state.config.io_threads > 1
}

/// INFO memory, in Redis 7.0's order; the allocator figures are glibc's (see
/// `stats::memory` for the mapping from jemalloc's).
fn memory(state: &State, out: &mut String) {
    let m = Figures::gather(state);
    let (frag_ratio, frag_bytes) = m.allocator_frag();
    let (arss_ratio, arss_bytes) = m.allocator_rss();
    let (rss_ratio, rss_bytes) = m.rss_overhead();
    let system = memory::system_memory();
    let _ = write!(
        out,
        "# Memory\r\nused_memory:{}\r\nused_memory_human:{}\r\nused_memory_rss:{}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{}\r\nused_memory_startup:{}\r\nused_memory_dataset:{}\r\nused_memory_dataset_perc:{:.2}%\r\nallocator_allocated:{}\r\nallocator_active:{}\r\nallocator_resident:{}\r\ntotal_system_memory:{system}\r\ntotal_system_memory_human:{}\r\n{}maxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:{frag_ratio:.2}\r\nallocator_frag_bytes:{frag_bytes}\r\nallocator_rss_ratio:{arss_ratio:.2}\r\nallocator_rss_bytes:{arss_bytes}\r\nrss_overhead_ratio:{rss_ratio:.2}\r\nrss_overhead_bytes:{rss_bytes}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:{}\r\nmem_replication_backlog:{}\r\nmem_total_replication_buffers:{}\r\nmem_clients_slaves:{}\r\nmem_clients_normal:{}\r\nmem_cluster_links:0\r\nmem_aof_buffer:{}\r\nmem_allocator:libc\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
        m.used,
        human(m.used),
        m.rss,
        human(m.rss),
        m.peak,
        human(m.peak),
        m.peak_perc(),
        m.overhead(),
        m.startup,
        m.dataset(),
        m.dataset_perc(),
        m.allocator.allocated,
        m.allocator.active,
        m.allocator.resident,
        human(system),
        scripting_memory(state),
        state.config.maxmemory,
        human(state.config.maxmemory.max(0) as usize),
        crate::config::table::MAXMEMORY_POLICIES[state.config.maxmemory_policy],
        m.fragmentation(),
        m.rss as i64 - m.used as i64,
        super::evict::not_counted(state),
        m.backlog,
        m.backlog + super::evict::not_counted(state),
        m.clients_slaves,
        m.clients_normal,
        m.aof_buffer,
    );
}

/// The scripting lines of INFO memory, in Redis 7.0's order.
fn scripting_memory(state: &State) -> String {
    let m = state.scripting.memory();
    let vm_total = m.vm_eval + m.vm_functions;
    let scripts = m.scripts_eval + m.functions_bytes;
    format!(
        "used_memory_lua:{}\r\nused_memory_vm_eval:{}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:{}\r\nnumber_of_cached_scripts:{}\r\nnumber_of_functions:{}\r\nnumber_of_libraries:{}\r\nused_memory_vm_functions:{}\r\nused_memory_vm_total:{vm_total}\r\nused_memory_vm_total_human:{}\r\nused_memory_functions:{}\r\nused_memory_scripts:{scripts}\r\nused_memory_scripts_human:{}\r\n",
        m.vm_eval,
        m.vm_eval,
        human(m.vm_eval),
        m.scripts_eval,
        m.cached_scripts,
        m.functions,
        m.libraries,
        m.vm_functions,
        human(vm_total),
        m.functions_bytes,
        human(scripts),
    )
}

fn persistence(state: &State, out: &mut String) {
    let p = &state.persistence;
    let rdb_child = p.child_pid.is_some() && !p.child_is_aof;
    let _ = write!(
        out,
        "# Persistence\r\nloading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:{}\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
        state.loading.is_some() as u8,
        state.dirty,
        rdb_child as u8,
        state.lastsave,
        if p.last_bgsave_ok { "ok" } else { "err" },
        p.last_bgsave_secs,
        if rdb_child {
            (clock::now_ms() - p.child_started_ms) / 1000
        } else {
            -1
        },
        p.saves,
        p.rdb_last_cow,
        p.last_load_keys.1,
        p.last_load_keys.0,
    );
    let a = &state.aof;
    let aof_child = p.child_pid.is_some() && p.child_is_aof;
    let _ = write!(
        out,
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\n",
        (a.state != crate::server::aof::AofState::Off) as u8,
        aof_child as u8,
        a.rw.scheduled as u8,
        a.rw.last_secs,
        if aof_child {
            (clock::now_ms() - a.rw.started_ms) / 1000
        } else {
            -1
        },
        if a.rw.last_ok { "ok" } else { "err" },
        a.rw.count,
        a.rw.consecutive_failures,
        if a.write_status_ok() { "ok" } else { "err" },
    );
    crate::server::aof::info_fields(state, out);
    if let Some(l) = &state.loading {
        l.info_fields(out);
    }
}

fn stats(state: &State, out: &mut String) {
    let s = &state.stats;
    let c = &s.counters;
    let kbps = s.instantaneous.kbps();
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:{}\r\ntotal_net_repl_output_bytes:{}\r\ninstantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\ninstantaneous_input_repl_kbps:{:.2}\r\ninstantaneous_output_repl_kbps:{:.2}\r\nrejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\nexpired_keys:{}\r\nexpired_stale_perc:{:.2}\r\nexpired_time_cap_reached_count:{}\r\nexpire_cycle_cpu_milliseconds:{}\r\nevicted_keys:{}\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\n",
        s.total_connections_received,
        s.total_commands_processed,
        s.instantaneous.ops_per_sec(),
        s.net_input_bytes,
        s.net_output_bytes,
        s.net_repl_input_bytes,
        s.net_repl_output_bytes,
        kbps[0],
        kbps[1],
        kbps[2],
        kbps[3],
        s.rejected_connections,
        state.repl.sync_full,
        state.repl.sync_partial_ok,
        state.repl.sync_partial_err,
        s.expired_keys,
        c.expired_stale * 100.0,
        c.expire_time_cap_reached,
        c.expire_cycle_usec / 1000,
        s.evicted_keys,
        s.keyspace_hits,
        s.keyspace_misses,
        state.pubsub.count(crate::server::pubsub::Kind::Channel),
        state.pubsub.count(crate::server::pubsub::Kind::Pattern),
        state.pubsub.count(crate::server::pubsub::Kind::Shard),
    );
    // Redis's figures of features this server does not have are 0: no MIGRATE socket
    // cache, no writable-replica expiry tracking, no active defragmentation.
    let _ = write!(
        out,
        "latest_fork_usec:{}\r\ntotal_forks:{}\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\n",
        c.latest_fork_usec, c.forks,
    );
    // Client-side caching (tracking), where Redis 7.0 puts it.
    let t = &state.tracking;
    let _ = write!(
        out,
        "tracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\n",
        t.total_keys(),
        t.total_items(),
        t.total_prefixes(),
    );
    let threaded = io_threads_active(state) as u64;
    let _ = write!(
        out,
        "unexpected_error_replies:{}\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:{}\r\nio_threaded_writes_processed:{}\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n",
        c.unexpected_error_replies,
        s.total_error_replies,
        c.reads_processed,
        c.writes_processed,
        c.reads_processed * threaded,
        c.writes_processed * threaded,
    );
}

fn replication(state: &State, out: &mut String) {
    use super::replication::MasterState;
    let r = &state.repl;
    let now = clock::now_ms();
    out.push_str("# Replication\r\n");
    match (&state.config.replicaof, &r.master) {
        (Some(_), Some(m)) => {
            let up = m.state == MasterState::Connected;
            let last_io = if m.last_io_ms > 0 && up {
                (now - m.last_io_ms) / 1000
            } else {
                -1
            };
            let _ = write!(
                out,
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
                m.host,
                m.port,
                if up { "up" } else { "down" },
                last_io,
                (m.state == MasterState::Transfer) as i32,
                if up { m.read_offset } else { r.offset },
                r.offset,
            );
            if m.state == MasterState::Transfer {
                let left = if m.transfer_size >= 0 {
                    m.transfer_size - m.transfer_read
                } else {
                    -1
                };
                let perc = if m.transfer_size > 0 {
                    m.transfer_read as f64 * 100.0 / m.transfer_size as f64
                } else {
                    0.0
                };
                let _ = write!(
                    out,
                    "master_sync_total_bytes:{}\r\nmaster_sync_read_bytes:{}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
                    m.transfer_size,
                    m.transfer_read,
                    left,
                    perc,
                    (now - m.last_io_ms) / 1000
                );
            }
            if !up {
                let since = if m.down_since_ms > 0 {
                    (now - m.down_since_ms) / 1000
                } else {
                    -1
                };
                let _ = write!(out, "master_link_down_since_seconds:{since}\r\n");
            }
            let _ = write!(
                out,
                "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:1\r\n",
                state.config.replica_priority, state.config.replica_read_only as i32
            );
        }
        _ => out.push_str("role:master\r\n"),
    }
    let _ = write!(out, "connected_slaves:{}\r\n", r.replicas.len());
    for (i, link) in r.replicas.values().enumerate() {
        let _ = write!(
            out,
            "slave{}:ip={},port={},state={},offset={},lag={}\r\n",
            i,
            link.ip,
            link.listening_port,
            link.state.name(),
            link.ack_offset,
            (now - link.ack_ms) / 1000
        );
    }
    if state.config.min_replicas_to_write > 0 && state.config.min_replicas_max_lag > 0 {
        let _ = write!(
            out,
            "min_slaves_good_slaves:{}\r\n",
            r.good_replicas(now, state.config.min_replicas_max_lag)
        );
    }
    let (active, size, first, histlen) = match &r.backlog {
        Some(b) => (1, b.size(), r.backlog_first_byte(), b.histlen()),
        None => (0, state.config.repl_backlog_size as usize, 0, 0),
    };
    let _ = write!(
        out,
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
        super::replication::failover::state_name(state),
        r.replid,
        r.replid2,
        r.offset,
        r.second_offset,
        active,
        size,
        first,
        histlen
    );
}

/// INFO cpu: the process, its reaped children (fork children of BGSAVE/BGREWRITEAOF),
/// and the thread that runs commands (with `io-threads 1` the one event-loop thread, as
/// Redis's main thread; with more, the worker that answers INFO).
fn cpu(out: &mut String) {
    let usage = |who: libc::c_int| {
        // SAFETY: getrusage fills the struct we own.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut ru) };
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        (t(ru.ru_stime), t(ru.ru_utime))
    };
    let (sys, user) = usage(libc::RUSAGE_SELF);
    let (sys_children, user_children) = usage(libc::RUSAGE_CHILDREN);
    let (sys_main, user_main) = usage(libc::RUSAGE_THREAD);
    let _ = write!(
        out,
        "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:{sys_children:.6}\r\nused_cpu_user_children:{user_children:.6}\r\nused_cpu_sys_main_thread:{sys_main:.6}\r\nused_cpu_user_main_thread:{user_main:.6}\r\n",
    );
}

fn keyspace(state: &State, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    for (i, db) in state.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "db{}:keys={},expires={},avg_ttl=0\r\n",
            i,
            db.len(),
            db.expires_len()
        );
    }
}
