//! `redrepl server`: the Redis 7.0-compatible server.
//!
//! Start-up order follows redis-server: load the configuration (any error stops here,
//! before data is touched), daemonize, open the log, write the pidfile, bind, log "Ready to
//! accept connections", then serve until SHUTDOWN or a signal.

pub mod acl;
pub mod alloc;
pub mod aof;
pub mod child_info;
pub mod client;
pub mod clock;
pub mod commands;
pub mod connection;
pub mod db;
pub mod digest;
pub mod evict;
pub mod glob;
pub mod info;
pub mod listeners;
pub mod loading;
pub mod log;
pub mod logo;
pub mod longdouble;
pub mod notify;
pub mod numbers;
pub mod persistence;
pub mod process;
pub mod pubsub;
pub mod rdb;
pub mod replication;
pub mod scripting;
pub mod sds;
pub mod state;
pub mod stats;
pub mod tls;
pub mod tracking;
pub mod types;
pub mod wakeup;

use crate::config::{Config, Loaded};
use crate::{notice, verbose, warning};
use client::ClientInfo;
use state::{Shared, ShutdownKind, State};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// The Redis version this server presents itself as (INFO, HELLO).
pub const REDIS_VERSION: &str = "7.0.15";

/// Runs the server with a loaded configuration; returns the process exit code.
pub fn run(mut loaded: Loaded) -> i32 {
    let config = loaded.config.clone();
    if config.daemonize
        && let Err(e) = process::daemonize()
    {
        eprintln!("Can't daemonize: {e}");
        return 1;
    }
    if let Err(e) = std::env::set_current_dir(&config.dir) {
        eprintln!("Can't chdir to '{}': {e}", config.dir);
        return 1;
    }
    // As in Redis, CONFIG GET dir shows the absolute working directory.
    if let Ok(cwd) = std::env::current_dir() {
        loaded.config.dir = cwd.display().to_string();
    }
    log::configure(config.loglevel, &config.logfile);
    if config.replicaof.is_some() {
        log::set_role(b'S');
    }
    notice!("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
    notice!(
        "Redis version={}, bits=64, commit=00000000, modified=0, pid={}, just started (redrepl {})",
        REDIS_VERSION,
        std::process::id(),
        env!("CARGO_PKG_VERSION")
    );
    match &loaded.file {
        Some(f) => notice!("Configuration loaded from {}", f.display()),
        None => notice!("Configuration loaded"),
    }
    if !loaded.ignored.is_empty() {
        notice!(
            "Directives accepted but not implemented by redrepl (ignored): {}",
            loaded.ignored.join(", ")
        );
    }
    let pidfile = pidfile_path(&config);
    if !pidfile.is_empty()
        && let Err(e) = process::write_pidfile(&pidfile)
    {
        warning!("Failed to write PID file: {e}");
    }
    let runtime = match build_runtime(config.io_threads) {
        Ok(rt) => rt,
        Err(e) => {
            warning!("Can't start the runtime: {e}");
            return 1;
        }
    };
    let code = runtime.block_on(serve(loaded));
    if !pidfile.is_empty() {
        process::remove_pidfile(&pidfile);
    }
    code
}

/// The pidfile written at start: `pidfile`, or Redis's default when daemonized.
fn pidfile_path(config: &Config) -> String {
    if config.pidfile.is_empty() && config.daemonize {
        "/var/run/redis.pid".to_string()
    } else {
        config.pidfile.clone()
    }
}

/// SHUTDOWN while the dataset loads: the process exits at once without saving, as Redis's
/// shutdownCommand (NOSAVE forced while loading).
pub(crate) fn exit_while_loading(st: &mut State) -> ! {
    st.shutdown_requested = None;
    prepare_for_shutdown(st, ShutdownKind::NoSave);
    let pidfile = pidfile_path(&st.config);
    if !pidfile.is_empty() {
        process::remove_pidfile(&pidfile);
    }
    std::process::exit(0)
}

/// The event loop(s) that run every connection, timer and replication link.
///
/// `io-threads 1` (the default, as in Redis): one thread, one event loop, as redis-server's
/// main thread; the state lock is then never contended and a request costs no thread
/// hand-off. `io-threads N`: N threads share the connections (socket reads, parsing, reply
/// writes in parallel) while commands still run one at a time under the state lock, so
/// there is one global order of commands (see docs/architecture.md). Blocking work that
/// must not stop the loop (waiting for a fork child) goes to tokio's blocking pool.
fn build_runtime(io_threads: i64) -> std::io::Result<tokio::runtime::Runtime> {
    if io_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(io_threads as usize)
            .thread_name("io-thread")
            .enable_all()
            .build()
    }
}

async fn serve(loaded: Loaded) -> i32 {
    let config: Config = loaded.config;
    let port = config.port;
    let tls = tls::Settings::from_config(&config);
    if port == 0 && tls.port == 0 {
        warning!("Configured to not listen anywhere, exiting.");
        return 1;
    }
    match tls::configure(&config) {
        Ok(ctx) => tls::install(ctx),
        Err(e) => {
            warning!("{e}");
            warning!("Failed to configure TLS. Check logs for more info.");
            return 1;
        }
    }
    let mut sockets = Vec::new();
    for (port, is_tls) in [(port, false), (tls.port, true)] {
        match listeners::open(&config.bind, port, is_tls, config.tcp_backlog) {
            Ok(l) => sockets.push((l, is_tls)),
            Err(e @ listeners::OpenError::InvalidAddress(_)) => {
                warning!("{e}");
                return 1;
            }
            Err(e) => {
                warning!("{e}, aborting.");
                return 1;
            }
        }
    }
    let hz = config.hz.clamp(1, 500);
    let acl = match acl::Acl::from_config(&config) {
        Ok(acl) => acl,
        Err(e) => {
            warning!("{e}");
            return 1;
        }
    };
    commands::rename::install(&config.rename_commands);
    let mut state = State::new(config, loaded.file);
    state.acl = acl;
    logo::show(&state.config, REDIS_VERSION);
    notice!("Server initialized");
    let shared = Shared::new(state);
    stats::memory::record_startup();
    // Clients are accepted during the load, as Redis does: they get -LOADING (or INFO's
    // loading fields) until it ends. The loading state is entered before the first accept,
    // so no client is ever served the empty dataset of a server about to load.
    shared.lock().loading = Some(loading::Loading {
        start_time: clock::now_ms() / 1000,
        ..Default::default()
    });
    let loader = shared.clone();
    let (begun, started) = tokio::sync::oneshot::channel();
    let load =
        tokio::task::spawn_blocking(move || loading::run_signalling(begun, || load_data(&loader)));
    let _ = started.await;
    for (l, is_tls) in sockets {
        listeners::serve(&shared, l, is_tls);
    }
    let loaded = load.await;
    if let Err(e) = loaded.unwrap_or_else(|e| Err(format!("The loader failed: {e}"))) {
        warning!("{e}");
        warning!("Fatal error loading the DB, check server logs. Exiting.");
        return 1;
    }
    {
        // Nothing to load leaves the provisional state set above. The "Ready" line is
        // written before any client can be served, as in redis-server (its event loop
        // starts after the line), and the replica link starts with the lock still held,
        // so no client sees a master that is about to become a replica.
        let mut st = shared.lock();
        st.loading = None;
        notice!("Ready to accept connections");
        replication::replica::start_at_boot(&mut st, &shared);
    }
    tokio::spawn(cron(shared.clone(), hz));

    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    loop {
        tokio::select! {
            _ = shared.shutdown.notified() => {}
            _ = async { match sigterm.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending::<()>().await } } => {
                warning!("Received SIGTERM scheduling shutdown...");
            }
            _ = async { match sigint.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending::<()>().await } } => {
                warning!("Received SIGINT scheduling shutdown...");
            }
        }
        replication::master::wait_replicas_before_shutdown(&shared).await;
        let mut st = shared.lock();
        if st.loading.is_some() {
            // A replica loading its master's snapshot: no save of the half-loaded data.
            exit_while_loading(&mut st);
        }
        let kind = st
            .shutdown_requested
            .take()
            .unwrap_or(ShutdownKind::Default);
        if prepare_for_shutdown(&mut st, kind) {
            return 0;
        }
    }
}

/// Loads the dataset at start: the AOF when `appendonly yes` (then opens it for writing),
/// else the RDB.
fn load_data(shared: &Arc<Shared>) -> Result<(), String> {
    let appendonly = shared.lock().config.appendonly;
    if appendonly {
        aof::load::load_at_start(shared)
    } else {
        persistence::load_at_start(shared)
    }
}

/// Redis's `prepareForShutdown`: stop a running BGSAVE, save when save points are set (or
/// SHUTDOWN SAVE) unless NOSAVE. Returns false when the save failed and the server must go on.
fn prepare_for_shutdown(st: &mut State, kind: ShutdownKind) -> bool {
    notice!("User requested shutdown...");
    if !aof::shutdown_check(st, false) {
        return false;
    }
    persistence::kill_child(st);
    aof::shutdown(st);
    let save = match kind {
        ShutdownKind::Save => true,
        ShutdownKind::NoSave => false,
        ShutdownKind::Default => !st.config.save.is_empty(),
    };
    if save {
        notice!("Saving the final RDB snapshot before exiting.");
        if persistence::save(st).is_err() {
            warning!("Error trying to save the DB, can't exit.");
            return false;
        }
    }
    notice!("Redis is now ready to exit, bye bye...");
    true
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Accepts connections from one listening socket (see [`listeners`]) for as long as it
/// serves.
async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, is_tls: bool) {
    let mut backoff = Duration::from_millis(1);
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(x) => {
                backoff = Duration::from_millis(1);
                x
            }
            Err(e) => {
                warning!("Accepting client connection: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        // The contexts in force now: a CONFIG SET of the files applies to new connections.
        let tls = if is_tls {
            match tls::current() {
                Some(c) => Some(c.server.clone()),
                None => continue,
            }
        } else {
            None
        };
        let _ = admit_with(&shared, &mut shared.lock(), socket, peer, None, tls);
    }
}

/// Admits an accepted connection (protected mode, maxclients, keepalive, client id) and
/// spawns its task; `held` is the door a busy script's hook serves it through. Returns the
/// new client's info and whether it is local (None: refused).
pub(crate) fn admit(
    shared: &Arc<Shared>,
    st: &mut State,
    socket: TcpStream,
    peer: SocketAddr,
    held: Option<Arc<scripting::busy::Door>>,
) -> Option<(Arc<ClientInfo>, bool)> {
    admit_with(shared, st, socket, peer, held, None)
}

/// [`admit`], for a connection of `tls-port` when `tls` is set: the TLS handshake runs in
/// the connection's task, and a failed one drops the client (logged at verbose level).
fn admit_with(
    shared: &Arc<Shared>,
    st: &mut State,
    mut socket: TcpStream,
    peer: SocketAddr,
    held: Option<Arc<scripting::busy::Door>>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Option<(Arc<ClientInfo>, bool)> {
    let _ = socket.set_nodelay(true);
    let local = is_loopback(peer.ip());
    let laddr = socket
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    st.stats.total_connections_received += 1;
    let denied = st.config.protected_mode && st.acl.default_is_open() && !local;
    let full = st.clients.len() as i64 >= st.config.maxclients;
    if denied || full {
        st.stats.rejected_connections += 1;
        let msg: &[u8] = if denied {
            DENIED
        } else {
            b"-ERR max number of clients reached\r\n"
        };
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            // Over TLS the error goes through the session, as Redis sends it.
            match tls {
                None => {
                    let _ = socket.write_all(msg).await;
                }
                Some(cfg) => {
                    if let Ok(mut s) = tokio_rustls::TlsAcceptor::from(cfg).accept(socket).await {
                        let _ = s.write_all(msg).await;
                        let _ = s.shutdown().await;
                    }
                }
            }
        });
        return None;
    }
    let keepalive = st.config.tcp_keepalive;
    if keepalive > 0 {
        let sock = socket2::SockRef::from(&socket);
        let ka = socket2::TcpKeepalive::new().with_time(Duration::from_secs(keepalive as u64));
        let _ = sock.set_tcp_keepalive(&ka);
    }
    let id = st.next_client_id;
    st.next_client_id += 1;
    let info = Arc::new(ClientInfo::new(id, peer.to_string(), laddr));
    st.clients.insert(id, info.clone());
    if let Some(door) = held {
        shared.watchdog.doors.adopt(id, door);
    }
    let shared = shared.clone();
    let admitted = Some((info.clone(), local));
    match tls {
        None => {
            tokio::spawn(connection::serve(
                shared,
                tls::stream::Stream::Plain(socket),
                info,
                local,
            ));
        }
        Some(cfg) => {
            tokio::spawn(async move {
                let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
                match acceptor.accept(socket).await {
                    Ok(s) => {
                        let stream = tokio_rustls::TlsStream::Server(s).into();
                        connection::serve(shared, stream, info, local).await;
                    }
                    Err(e) => {
                        verbose!("Error accepting a client connection: {e} (addr={peer})");
                        shared.lock().clients.remove(&info.id);
                    }
                }
            });
        }
    }
    admitted
}

/// Periodic work, `hz` times a second: active expiry and ending CLIENT PAUSE.
/// Follows CONFIG SET hz.
async fn cron(shared: Arc<Shared>, hz: i64) {
    let mut hz = hz;
    let mut period = Duration::from_millis((1000 / hz) as u64);
    let mut tick = tokio::time::interval(period);
    let mut last_second = clock::now_ms() / 1000;
    let mut seconds: u64 = 0;
    loop {
        tick.tick().await;
        let mut st = shared.lock();
        let want_hz = st.config.hz.clamp(1, 500);
        let now = clock::now_ms();
        db::refresh_lru_clock();
        if let Some(p) = st.pause
            && p.until_ms <= now
        {
            st.pause = None;
            shared.unpaused.notify_waiters();
        }
        // No cron while a replica loads its master's snapshot, as Redis's serverCron does
        // not run during a blocking load (no save point may snapshot a half-loaded set).
        if st.loading.is_some() {
            continue;
        }
        persistence::reap_child(&mut st);
        replication::master::start_pending(&mut st, &shared, now);
        replication::failover::cron(&mut st, &shared, now);
        if now / 1000 != last_second {
            last_second = now / 1000;
            seconds += 1;
            replication::master::cron_second(&mut st, seconds, now);
        }
        if now - st.stats.instantaneous.last_ms() >= stats::instantaneous::PERIOD_MS {
            let s = &st.stats;
            let counters = stats::instantaneous::Counters {
                commands: s.total_commands_processed,
                net_input: s.net_input_bytes,
                net_output: s.net_output_bytes,
                repl_input: s.net_repl_input_bytes,
                repl_output: s.net_repl_output_bytes,
            };
            st.stats.instantaneous.track(now, counters);
            stats::memory::update_peak();
        }
        persistence::check_save_points(&mut st);
        aof::cron(&mut st);
        // No active expiry on a replica (the master's DELs do it) nor while writes are
        // paused (the stream must stay still).
        if st.active_expire_enabled && st.config.replicaof.is_none() && st.pause.is_none() {
            active_expire(&mut st, now, period / 4);
        }
        // Keys expired (or evicted) outside a command: their invalidations.
        tracking::flush(&mut st, None);
        drop(st);
        if want_hz != hz {
            hz = want_hz;
            period = Duration::from_millis((1000 / hz) as u64);
            tick = tokio::time::interval(period);
        }
    }
}

/// Redis's active expiry cycle, simplified: per database, look at TTLs in batches and
/// delete the expired ones, continuing while a batch finds many, within a time budget.
fn active_expire(st: &mut State, now: i64, budget: Duration) {
    let started = std::time::Instant::now();
    let (mut sampled, mut deleted) = (0, 0);
    for dbi in 0..st.dbs.len() {
        loop {
            let (expired, examined) = st.dbs[dbi].find_expired(now, 64);
            (sampled, deleted) = (sampled + examined, deleted + expired.len());
            for key in &expired {
                if st.dbs[dbi].remove(key).is_some() {
                    st.stats.expired_keys += 1;
                    st.propagate(dbi, &[&b"DEL"[..], key]);
                    notify::notify_server(st, notify::EXPIRED, "expired", key, dbi);
                }
            }
            if examined == 0 || expired.len() * 4 < examined || started.elapsed() > budget {
                break;
            }
        }
        if started.elapsed() > budget {
            break;
        }
        st.dbs[dbi].maybe_shrink();
    }
    let usec = started.elapsed().as_micros() as u64;
    let capped = started.elapsed() > budget;
    st.stats
        .counters
        .expire_cycle(sampled, deleted, usec, capped);
}
