//! `redrepl sentinel CONFIG` (also `redrepl server CONFIG --sentinel`): a Redis Sentinel
//! 7.0, wire-compatible with redis-sentinel, so both can form one quorum.
//!
//! - [`conf`]: sentinel.conf read and rewritten (comments and order kept, atomic).
//! - [`state`]: masters, replicas, other sentinels, epochs.
//! - [`monitor`]: the links to instances (PING, INFO, hello, IS-MASTER-DOWN-BY-ADDR).
//! - [`discovery`]: what INFO, replies and hellos say, applied to the state.
//! - [`failover`]: SDOWN/ODOWN, election, replica selection, promotion, reconfiguration.
//! - [`listener`], [`commands`], [`sentinel_cmd`], [`info`]: the sentinel's own server.
//! - [`events`]: `+sdown`-style events, logged and published to subscribers.
//! - [`scripts`]: the notification and client-reconfig scripts, queued and run.

pub mod commands;
pub mod conf;
pub mod discovery;
pub mod events;
pub mod failover;
pub mod info;
pub mod listener;
pub mod monitor;
pub mod scripts;
pub mod sentinel_cmd;
pub mod state;

use listener::ClientEntry;
use state::Sentinel;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Everything the tasks share.
pub struct Inner {
    /// The sentinel's state.
    pub state: Mutex<Sentinel>,
    /// Connected clients by id.
    pub clients: Mutex<BTreeMap<u64, ClientEntry>>,
}

impl Inner {
    /// The client table, locked.
    pub fn clients_lock(&self) -> MutexGuard<'_, BTreeMap<u64, ClientEntry>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The shared handle.
pub type Shared = Arc<Inner>;

/// The state, locked (a panic elsewhere never wedges the sentinel).
pub fn lock(shared: &Shared) -> MutexGuard<'_, Sentinel> {
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs a sentinel from redis-sentinel style arguments (`CONFIG [--name value ...]`);
/// returns the exit code.
pub fn run(args: &[OsString]) -> i32 {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| a != "--sentinel")
        .collect();
    let Some(path) = args.first().filter(|a| !a.starts_with("--")) else {
        eprintln!("Sentinel needs config file on disk to save state. Exiting...");
        return 1;
    };
    let path = std::path::PathBuf::from(path);
    let conf = match conf::SentinelConf::load(&path, &args[1..]) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***",
                crate::server::REDIS_VERSION
            );
            eprintln!("{}", e.report());
            return 1;
        }
    };
    if let Err(e) = std::fs::OpenOptions::new().append(true).open(&conf.path) {
        eprintln!(
            "Sentinel config file {} is not writable: {e}. Exiting...",
            conf.path.display()
        );
        return 1;
    }
    if conf.daemonize
        && let Err(e) = crate::server::process::daemonize()
    {
        eprintln!("Can't daemonize: {e}");
        return 1;
    }
    if let Some(dir) = &conf.dir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!("Can't chdir to '{dir}': {e}");
        return 1;
    }
    crate::server::log::configure(conf.loglevel, &conf.logfile);
    crate::server::log::set_role(b'X');
    crate::warning!("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
    crate::warning!(
        "Redis version={}, bits=64, commit=00000000, modified=0, pid={}, just started",
        crate::server::REDIS_VERSION,
        std::process::id()
    );
    crate::warning!("Configuration loaded");
    if let Some(p) = &conf.pidfile
        && let Err(e) = crate::server::process::write_pidfile(p)
    {
        crate::warning!("Failed to write PID file: {e}");
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::warning!("Can't start the runtime: {e}");
            return 1;
        }
    };
    rt.block_on(serve(conf))
}

/// The TLS contexts of the `tls-*` lines (the same directives and checks as the server's).
fn configure_tls(conf: &conf::SentinelConf) -> Result<crate::server::tls::Settings, ()> {
    let c = crate::config::Config {
        other: conf.tls.clone(),
        ..Default::default()
    };
    match crate::server::tls::configure(&c) {
        Ok(ctx) => {
            crate::server::tls::install(ctx);
            Ok(crate::server::tls::Settings::from_config(&c))
        }
        Err(e) => {
            crate::warning!("{e}");
            crate::warning!("Failed to configure TLS. Check logs for more info.");
            Err(())
        }
    }
}

async fn serve(conf: conf::SentinelConf) -> i32 {
    let Ok(tls) = configure_tls(&conf) else {
        return 1;
    };
    let binds: Vec<String> = if conf.bind.is_empty() {
        vec!["0.0.0.0".into()]
    } else {
        conf.bind.clone()
    };
    let mut listeners = Vec::new();
    for b in &binds {
        let addr = b.trim_start_matches('-');
        if tls.port > 0 {
            match tokio::net::TcpListener::bind((addr, tls.port)).await {
                Ok(l) => listeners.push((l, true)),
                Err(e) => {
                    crate::warning!(
                        "Warning: Could not create server TCP listening socket {addr}:{}: {e}",
                        tls.port
                    );
                    crate::warning!("Failed listening on port {} (tls), aborting.", tls.port);
                    return 1;
                }
            }
        }
        if conf.port == 0 {
            continue;
        }
        match tokio::net::TcpListener::bind((addr, conf.port)).await {
            Ok(l) => listeners.push((l, false)),
            Err(e) if b.starts_with('-') => {
                crate::warning!(
                    "Warning: Could not create server TCP listening socket {addr}:{}: {e}",
                    conf.port
                )
            }
            Err(e) => {
                crate::warning!(
                    "Warning: Could not create server TCP listening socket {addr}:{}: {e}",
                    conf.port
                );
                crate::warning!("Failed listening on port {} (TCP), aborting.", conf.port);
                return 1;
            }
        }
    }
    crate::notice!("Running mode=sentinel, port={}.", conf.port);
    let events = Arc::new(events::Events::new());
    let mut sentinel = Sentinel::new(conf, events);
    sentinel.flush_config();
    crate::warning!("Sentinel ID is {}", sentinel.myid);
    for mi in 0..sentinel.masters.len() {
        let m = &sentinel.masters[mi];
        let d = format!("{} quorum {}", m.describe(), m.conf.quorum);
        sentinel.warn(mi, "+monitor", &d);
    }
    let shared: Shared = Arc::new(Inner {
        state: Mutex::new(sentinel),
        clients: Mutex::new(BTreeMap::new()),
    });
    for (l, is_tls) in listeners {
        tokio::spawn(listener::serve(shared.clone(), l, is_tls));
    }
    tokio::spawn(timer(shared.clone()));
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => crate::warning!("Received SIGTERM scheduling shutdown..."),
        _ = tokio::signal::ctrl_c() => crate::warning!("Received SIGINT scheduling shutdown..."),
    }
    let mut s = lock(&shared);
    crate::warning!("User requested shutdown...");
    s.flush_config();
    if let Some(p) = &s.conf.pidfile {
        crate::server::process::remove_pidfile(p);
    }
    crate::warning!("Sentinel is now ready to exit, bye bye...");
    0
}

/// The 100 ms timer: the failover logic, and link tasks for instances that have none.
async fn timer(shared: Shared) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let new: Vec<u64> = {
            let mut s = lock(&shared);
            let now = crate::server::clock::now_ms();
            failover::timer(&mut s, now);
            s.events.run_scripts(now);
            let mut ids = Vec::new();
            for m in &mut s.masters {
                for inst in m.all_mut() {
                    if !inst.spawned {
                        inst.spawned = true;
                        ids.push(inst.id);
                    }
                }
            }
            ids
        };
        for id in new {
            tokio::spawn(monitor::command_link(shared.clone(), id));
            tokio::spawn(monitor::pubsub_link(shared.clone(), id));
        }
    }
}
