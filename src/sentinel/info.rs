//! INFO of a sentinel: the server, clients, stats and sentinel sections with
//! redis-sentinel's field names (`redis_mode:sentinel`, `masterN:name=...,status=...`).

use super::Shared;
use super::state::Sentinel;
use crate::server::clock;
use bytes::Bytes;
use std::fmt::Write;

const SECTIONS: [&str; 4] = ["server", "clients", "stats", "sentinel"];

/// The INFO text for the requested sections (all of them by default).
pub fn render(shared: &Shared, wanted: &[Bytes]) -> String {
    let clients = shared.clients_lock().len();
    let s = super::lock(shared);
    let wanted: Vec<String> = wanted
        .iter()
        .map(|w| String::from_utf8_lossy(w).to_ascii_lowercase())
        .collect();
    let all = wanted.is_empty()
        || wanted
            .iter()
            .any(|w| matches!(w.as_str(), "all" | "default" | "everything"));
    let mut out = String::new();
    for sec in SECTIONS {
        if !all && !wanted.iter().any(|w| w == sec) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match sec {
            "server" => server(&s, &mut out),
            "clients" => {
                let _ = write!(
                    out,
                    "# Clients\r\nconnected_clients:{clients}\r\ncluster_connections:0\r\nmaxclients:10000\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:0\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n"
                );
            }
            "stats" => {
                let _ = write!(
                    out,
                    "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\nrejected_connections:0\r\npubsub_channels:0\r\npubsub_patterns:0\r\ntotal_error_replies:0\r\n",
                    s.stats.connections, s.stats.commands
                );
            }
            _ => sentinel(&s, &mut out),
        }
    }
    out
}

fn server(s: &Sentinel, out: &mut String) {
    let uptime = (clock::now_ms() - s.start_time) / 1000;
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let _ = write!(
        out,
        "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:sentinel\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:10\r\nconfigured_hz:10\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\nredrepl_version:{}\r\n",
        crate::server::REDIS_VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::process::id(),
        s.run_id,
        s.conf.port,
        clock::now_us(),
        uptime,
        uptime / 86400,
        exe,
        s.conf.path.display(),
        env!("CARGO_PKG_VERSION"),
    );
}

fn sentinel(s: &Sentinel, out: &mut String) {
    let tilt_since = if s.tilt {
        (clock::now_ms() - s.tilt_start) / 1000
    } else {
        -1
    };
    let scripts = s.events.scripts();
    let flags =
        (s.simulate.crash_after_election as u8) | ((s.simulate.crash_after_promotion as u8) << 1);
    let _ = write!(
        out,
        "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\nsentinel_running_scripts:{}\r\nsentinel_scripts_queue_length:{}\r\nsentinel_simulate_failure_flags:{}\r\n",
        s.masters.len(),
        s.tilt as u8,
        tilt_since,
        scripts.running(),
        scripts.len(),
        flags
    );
    for (i, m) in s.masters.iter().enumerate() {
        let status = if m.inst.o_down_since != 0 {
            "odown"
        } else if m.inst.s_down_since != 0 {
            "sdown"
        } else {
            "ok"
        };
        let _ = write!(
            out,
            "master{i}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
            m.name(),
            m.inst.ip,
            m.inst.port,
            m.replicas.len(),
            m.sentinels.len() + 1
        );
    }
}
