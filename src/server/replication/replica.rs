//! The replica side: the link to our master. Handshake (PING, AUTH with masterauth,
//! REPLCONF listening-port and capa), PSYNC with the history we hold, a full sync (the
//! snapshot stored under `dbfilename`, then loaded) or a partial one, then the stream:
//! each command applied as the master's client and passed on byte for byte to our own
//! replicas, REPLCONF ACK every second. A lost link is retried every second, keeping the
//! data and serving reads meanwhile; a replica never promotes itself.

use super::{Cached, Cancel, MasterLink, MasterState};
use crate::resp::{ParseLimits, ReplyBuf, RequestParser};
use crate::server::client::{Client, ClientInfo};
use crate::server::commands::{self, Ctx};
use crate::server::db::Db;
use crate::server::loading::Loader as _;
use crate::server::state::{Shared, State};
use crate::server::tls::stream::Stream;
use crate::server::{clock, persistence};
use crate::{notice, warning};
use bytes::BytesMut;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Makes this node a replica of `host:port` (REPLICAOF host port). Returns at once; the
/// link task connects and syncs in the background.
pub fn set_master(st: &mut State, shared: &Arc<Shared>, host: String, port: u16) {
    let was_master = st.config.replicaof.is_none();
    if let Some(old) = st.repl.master.take() {
        old.cancel.cancel();
        if old.state == MasterState::Connected {
            st.repl.cached = Some(Cached {
                replid: st.repl.replid.clone(),
                offset: st.repl.offset,
                db: old.db,
            });
        }
    }
    if was_master {
        // Offer our own history to the new master (it may hold it as its replid2).
        st.repl.ensure_backlog(st.config.repl_backlog_size);
        st.repl.cached = Some(Cached {
            replid: st.repl.replid.clone(),
            offset: st.repl.offset,
            db: 0,
        });
    }
    attach(st, shared, host, port);
}

/// Records `host:port` as our master and starts the link task.
fn attach(st: &mut State, shared: &Arc<Shared>, host: String, port: u16) {
    crate::server::log::set_role(b'S');
    st.config.replicaof = Some((host.clone(), port));
    let cancel = Arc::new(Cancel::default());
    st.repl.master = Some(MasterLink {
        host,
        port,
        state: MasterState::Connect,
        cancel: cancel.clone(),
        last_io_ms: 0,
        down_since_ms: 0,
        read_offset: st.repl.offset,
        transfer_size: 0,
        transfer_read: 0,
        transfer_start_ms: 0,
        db: 0,
    });
    tokio::spawn(link_task(shared.clone(), cancel));
}

/// Makes this node a master (REPLICAOF NO ONE): the link ends, a new replication ID starts
/// with the old one kept as `replid2`, and our replicas reconnect to continue by PSYNC.
pub fn unset_master(st: &mut State) {
    if let Some(old) = st.repl.master.take() {
        old.cancel.cancel();
    }
    st.config.replicaof = None;
    crate::server::log::set_role(b'M');
    st.repl.ensure_backlog(st.config.repl_backlog_size);
    st.repl.shift_replid();
    st.repl.drop_replicas();
    st.repl.cached = None;
    st.repl.stream_db = -1;
    st.repl.no_replicas_since_ms = clock::now_ms();
}

/// At start-up: a dump that carried replication info gives a replica the history to offer by
/// PSYNC, and a master the previous ID its replicas can continue under.
pub fn restore_from_dump(st: &mut State, replid: Option<String>, offset: Option<i64>, db: i64) {
    let (Some(replid), Some(offset)) = (replid, offset) else {
        return;
    };
    if replid.len() != 40 || offset < 0 {
        return;
    }
    if st.config.replicaof.is_some() {
        st.repl.replid = replid.clone();
        st.repl.offset = offset;
        st.repl.ensure_backlog(st.config.repl_backlog_size);
        st.repl.cached = Some(Cached {
            replid,
            offset,
            db: db.max(0) as usize,
        });
    } else {
        st.repl.replid2 = replid;
        st.repl.second_offset = offset + 1;
        st.repl.offset = offset;
        st.repl.ensure_backlog(st.config.repl_backlog_size);
    }
}

/// Starts the link task when the configuration names a master (start-up); the history to
/// offer is what the dump recorded ([`restore_from_dump`]), if anything.
pub fn start_at_boot(st: &mut State, shared: &Arc<Shared>) {
    if let Some((host, port)) = st.config.replicaof.clone() {
        attach(st, shared, host, port);
    }
}

/// Applies `f` to the link if it is still the current one.
fn with_link<R>(
    st: &mut State,
    cancel: &Arc<Cancel>,
    f: impl FnOnce(&mut MasterLink) -> R,
) -> Option<R> {
    match st.repl.master.as_mut() {
        Some(m) if Arc::ptr_eq(&m.cancel, cancel) && !cancel.is_cancelled() => Some(f(m)),
        _ => None,
    }
}

async fn link_task(shared: Arc<Shared>, cancel: Arc<Cancel>) {
    loop {
        if cancel.is_cancelled() {
            return;
        }
        let result = sync_and_stream(&shared, &cancel).await;
        {
            let mut st = shared.lock();
            let now = clock::now_ms();
            let was_connected = with_link(&mut st, &cancel, |m| {
                let was = m.state == MasterState::Connected;
                m.state = MasterState::Connect;
                if was || m.down_since_ms == 0 {
                    m.down_since_ms = now;
                }
                (was, m.db)
            });
            if let Some((true, db)) = was_connected {
                notice!("Connection with master lost.");
                notice!("* Caching the disconnected master state.");
                st.repl.cached = Some(Cached {
                    replid: st.repl.replid.clone(),
                    offset: st.repl.offset,
                    db,
                });
            }
        }
        if let Err(e) = result
            && !cancel.is_cancelled()
        {
            warning!("{e}");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = cancel.cancelled() => return,
        }
    }
}

/// Keeps room for a large read: a full BytesMut would otherwise grow 64 bytes at a time.
fn reserve(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < 16 * 1024 {
        buf.reserve(64 * 1024);
    }
}

/// The link to the master: TLS with `tls-replication yes` (presenting the client
/// certificate, or the server's when none is set, as Redis does), else plain TCP.
async fn secure(sock: TcpStream, host: &str) -> std::io::Result<Stream> {
    match crate::server::tls::current().filter(|c| c.replication) {
        None => Ok(Stream::Plain(sock)),
        Some(ctx) => {
            let connector = tokio_rustls::TlsConnector::from(ctx.client.clone());
            let s = connector
                .connect(crate::server::tls::server_name(host), sock)
                .await?;
            Ok(tokio_rustls::TlsStream::Client(s).into())
        }
    }
}

/// The master connection during the handshake and transfer.
struct Conn {
    sock: Stream,
    buf: BytesMut,
    timeout: Duration,
}

impl Conn {
    async fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut b = Vec::new();
        crate::resp::encode_command(&mut b, args);
        self.sock
            .write_all(&b)
            .await
            .map_err(|e| format!("I/O error writing to MASTER: {e}"))
    }

    async fn fill(&mut self) -> Result<(), String> {
        reserve(&mut self.buf);
        match tokio::time::timeout(self.timeout, self.sock.read_buf(&mut self.buf)).await {
            Err(_) => Err("Timeout connecting to the MASTER...".into()),
            Ok(Ok(0)) => Err("Master closed the connection".into()),
            Ok(Err(e)) => Err(format!("I/O error reading from MASTER: {e}")),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// One reply line without its line ending.
    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let l = self.buf.split_to(nl + 1);
                let mut s = String::from_utf8_lossy(&l[..nl]).into_owned();
                if s.ends_with('\r') {
                    s.pop();
                }
                return Ok(s);
            }
            if self.buf.len() > 64 * 1024 {
                return Err("Reply line from MASTER too long".into());
            }
            self.fill().await?;
        }
    }

    /// A reply line, skipping the empty lines a master sends to keep the link alive.
    async fn reply(&mut self) -> Result<String, String> {
        loop {
            let l = self.line().await?;
            if !l.is_empty() {
                return Ok(l);
            }
        }
    }

    async fn command(&mut self, args: &[&[u8]]) -> Result<String, String> {
        self.send(args).await?;
        self.reply().await
    }
}

async fn sync_and_stream(shared: &Arc<Shared>, cancel: &Arc<Cancel>) -> Result<(), String> {
    let (host, port, timeout, auth, user, listen_port, announce_ip, cached) = {
        let mut st = shared.lock();
        let cfg = &st.config;
        // A replica linked over TLS announces its tls-port, as Redis does.
        let tls = crate::server::tls::Settings::from_config(cfg);
        let announce_port = if cfg.replica_announce_port > 0 {
            cfg.replica_announce_port
        } else if tls.replication && tls.port > 0 {
            tls.port as i64
        } else {
            cfg.port as i64
        };
        let t = (
            cfg.masterauth.clone(),
            cfg.masteruser.clone(),
            announce_port,
            cfg.replica_announce_ip.clone(),
            Duration::from_secs(cfg.repl_timeout.max(1) as u64),
        );
        let cached = st.repl.cached.clone();
        let failing_over = super::failover::in_progress(&st);
        let Some((host, port)) = with_link(&mut st, cancel, |m| {
            m.state = MasterState::Connecting;
            (m.host.clone(), m.port)
        }) else {
            return Ok(());
        };
        (host, port, t.4, t.0, t.1, t.2, t.3, (cached, failing_over))
    };
    let (cached, failing_over) = cached;
    let result = handshake_and_stream(
        shared,
        cancel,
        (host, port, timeout, auth, user, listen_port, announce_ip),
        cached,
        failing_over,
    )
    .await;
    if failing_over && result.is_err() {
        let mut st = shared.lock();
        if !cancel.is_cancelled() {
            super::failover::abort_failover(&mut st, "Failover target did not accept the PSYNC");
        }
    }
    result
}

type LinkParams = (
    String,
    u16,
    Duration,
    Option<Vec<u8>>,
    Option<String>,
    i64,
    Option<String>,
);

async fn handshake_and_stream(
    shared: &Arc<Shared>,
    cancel: &Arc<Cancel>,
    params: LinkParams,
    cached: Option<Cached>,
    failing_over: bool,
) -> Result<(), String> {
    let (host, port, timeout, auth, user, listen_port, announce_ip) = params;
    notice!("Connecting to MASTER {host}:{port}");
    let sock = match tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port))).await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("Error condition on socket for SYNC: {e}")),
        Err(_) => return Err("Timeout connecting to the MASTER...".into()),
    };
    let _ = sock.set_nodelay(true);
    let sock = match tokio::time::timeout(timeout, secure(sock, &host)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("Error condition on socket for SYNC: {e}")),
        Err(_) => return Err("Timeout connecting to the MASTER...".into()),
    };
    notice!("MASTER <-> REPLICA sync started");
    let mut conn = Conn {
        sock,
        buf: BytesMut::with_capacity(64 * 1024),
        timeout,
    };
    let pong = conn.command(&[b"PING"]).await?;
    if pong.starts_with('-')
        && !(pong.starts_with("-NOAUTH")
            || pong.starts_with("-NOPERM")
            || pong.starts_with("-ERR operation not permitted"))
    {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    notice!("Master replied to PING, replication can continue...");
    if let Some(pass) = auth {
        let r = match &user {
            Some(u) => conn.command(&[b"AUTH", u.as_bytes(), &pass]).await?,
            None => conn.command(&[b"AUTH", &pass]).await?,
        };
        if r.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {r}"));
        }
    }
    let lp = listen_port.to_string();
    let r = conn
        .command(&[b"REPLCONF", b"listening-port", lp.as_bytes()])
        .await?;
    if r.starts_with('-') {
        notice!("(Non critical) Master does not understand REPLCONF listening-port: {r}");
    }
    if let Some(ip) = announce_ip {
        let r = conn
            .command(&[b"REPLCONF", b"ip-address", ip.as_bytes()])
            .await?;
        if r.starts_with('-') {
            notice!("(Non critical) Master does not understand REPLCONF ip-address: {r}");
        }
    }
    let r = conn
        .command(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    if r.starts_with('-') {
        notice!("(Non critical) Master does not understand REPLCONF capa: {r}");
    }
    let (req_id, req_off) = match &cached {
        Some(c) => {
            notice!(
                "Trying a partial resynchronization (request {}:{}).",
                c.replid,
                c.offset + 1
            );
            (c.replid.clone(), (c.offset + 1).to_string())
        }
        None => {
            notice!("Partial resynchronization not possible (no cached master)");
            ("?".to_string(), "-1".to_string())
        }
    };
    let reply = if failing_over {
        conn.command(&[b"PSYNC", req_id.as_bytes(), req_off.as_bytes(), b"FAILOVER"])
            .await?
    } else {
        conn.command(&[b"PSYNC", req_id.as_bytes(), req_off.as_bytes()])
            .await?
    };
    if failing_over && (reply.starts_with("+FULLRESYNC") || reply.starts_with("+CONTINUE")) {
        super::failover::finish(&mut shared.lock());
    }
    let db;
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
        let mut parts = rest.split_whitespace();
        let (Some(id), Some(off)) = (
            parts.next(),
            parts.next().and_then(|o| o.parse::<i64>().ok()),
        ) else {
            return Err(format!("Bad FULLRESYNC reply from master: '{reply}'"));
        };
        notice!("Full resync from master: {id}:{off}");
        db = full_sync(shared, cancel, &mut conn, id, off).await?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        notice!("Successful partial resynchronization with master.");
        let new_id = rest.trim();
        let mut st = shared.lock();
        if with_link(&mut st, cancel, |_| ()).is_none() {
            return Ok(());
        }
        if !new_id.is_empty() && new_id != st.repl.replid {
            // The master's history continues under a new ID: keep ours as replid2 and make
            // our own replicas reconnect to learn it.
            st.repl.replid2 = std::mem::replace(&mut st.repl.replid, new_id.to_string());
            st.repl.second_offset = st.repl.offset + 1;
            notice!("Master replication ID changed to {new_id}");
            st.repl.drop_replicas();
        }
        let size = st.config.repl_backlog_size;
        st.repl.ensure_backlog(size);
        st.repl.cached = None;
        db = cached.map_or(0, |c| c.db);
        with_link(&mut st, cancel, |m| {
            m.state = MasterState::Connected;
            m.db = db;
        });
        notice!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
    } else if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") {
        return Err(format!(
            "Master is currently unable to PSYNC but should be in the future: {reply}"
        ));
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {reply}"));
    }
    stream(shared, cancel, conn, db, &host, port).await
}

/// Receives the snapshot into a temp file, then (under the lock) drops the old data, renames
/// it over `dbfilename` and loads it.
async fn full_sync(
    shared: &Arc<Shared>,
    cancel: &Arc<Cancel>,
    conn: &mut Conn,
    replid: &str,
    offset: i64,
) -> Result<usize, String> {
    let header = conn.reply().await?;
    if header.starts_with('-') {
        return Err(format!(
            "MASTER aborted replication with an error: {header}"
        ));
    }
    let Some(size) = header.strip_prefix('$') else {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{header}'), are you sure the host and port are right?"
        ));
    };
    let tmp = format!("temp-{}.{}.rdb", clock::now_ms() / 1000, std::process::id());
    let result = receive_payload(shared, cancel, conn, size, &tmp).await;
    let bytes = match result.and_then(|()| std::fs::read(&tmp).map_err(|e| e.to_string())) {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let (loader, link) = (shared.clone(), cancel.clone());
    let (replid, tmp2) = (replid.to_string(), tmp.clone());
    let loaded = tokio::task::spawn_blocking(move || {
        load_snapshot(&loader, &link, &tmp2, &bytes, &replid, offset)
    })
    .await;
    loaded.unwrap_or_else(|e| {
        let _ = std::fs::remove_file(&tmp);
        Err(format!("The snapshot loader failed: {e}"))
    })
}

/// Loads the master's snapshot, on a blocking thread: the old data is dropped, the file
/// renamed over `dbfilename` and loaded in the loading state (clients get -LOADING and
/// INFO the progress, the lock being released every loading-process-events-interval-
/// bytes), as redis-server 7.0's disk-based replica load. Returns the stream's database.
fn load_snapshot(
    shared: &Arc<Shared>,
    cancel: &Arc<Cancel>,
    tmp: &str,
    bytes: &[u8],
    replid: &str,
    offset: i64,
) -> Result<usize, String> {
    let mut l = crate::server::loading::Relock::begin(shared, bytes.len() as u64);
    let st = l.st();
    if with_link(st, cancel, |_| ()).is_none() {
        let _ = std::fs::remove_file(tmp);
        l.end();
        return Err("replication link cancelled".into());
    }
    notice!("MASTER <-> REPLICA sync: Flushing old data");
    persistence::kill_child(st);
    // Our own replicas resync once we hold the new history (Redis's
    // replicationAttachToNewMaster); none is fed while we load.
    st.repl.drop_replicas();
    flush_all(st);
    let path = persistence::dump_path(st);
    if let Err(e) = std::fs::rename(tmp, &path) {
        let _ = std::fs::remove_file(tmp);
        l.end();
        return Err(format!(
            "Failed trying to rename the temp DB into {} in MASTER <-> REPLICA synchronization: {e}",
            path.display()
        ));
    }
    notice!("MASTER <-> REPLICA sync: Loading DB in memory");
    let loaded = persistence::load_rdb_into(&mut l, bytes);
    let st = l.st();
    let info = match loaded {
        Ok(info) => {
            crate::server::scripting::functions::load_from_rdb(&mut st.scripting, &info.functions);
            info
        }
        Err(e) => {
            flush_all(st);
            l.end();
            return Err(format!(
                "Failed trying to load the MASTER synchronization DB from disk: {e}"
            ));
        }
    };
    // A snapshot from a replica (chained replication) records which database its stream
    // has selected; the stream we receive next continues in it without a SELECT.
    let db = info
        .repl_stream_db
        .filter(|d| *d >= 0 && (*d as usize) < st.dbs.len())
        .unwrap_or(0) as usize;
    st.dirty = 0;
    st.repl.replid = replid.to_string();
    st.repl.offset = offset;
    st.repl.clear_replid2();
    st.repl.backlog = Some(super::backlog::Backlog::new(super::backlog_size(
        st.config.repl_backlog_size,
    )));
    st.repl.drop_replicas();
    st.repl.cached = None;
    let linked = with_link(st, cancel, |m| {
        m.state = MasterState::Connected;
        m.db = db;
        m.read_offset = offset;
    });
    if linked.is_some() {
        notice!("MASTER <-> REPLICA sync: Finished with success");
        crate::server::aof::restart_after_sync(st);
    }
    l.end();
    match linked {
        Some(()) => Ok(db),
        None => Err("replication link cancelled".into()),
    }
}

/// Empties every database (the old data before a snapshot, or a snapshot that failed).
fn flush_all(st: &mut State) {
    let ndb = st.dbs.len();
    st.dbs = (0..ndb).map(|_| Db::new()).collect();
}

async fn receive_payload(
    shared: &Arc<Shared>,
    cancel: &Arc<Cancel>,
    conn: &mut Conn,
    size: &str,
    tmp: &str,
) -> Result<(), String> {
    use std::io::Write;
    let mut file = std::fs::File::create(tmp).map_err(|e| {
        format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}")
    })?;
    let werr = |e: std::io::Error| {
        format!("Write error saving the DB, write error on disk? Replica sync failed: {e}")
    };
    let progress = |read: i64, total: i64| {
        let mut st = shared.lock();
        let now = clock::now_ms();
        with_link(&mut st, cancel, |m| {
            if m.state != MasterState::Transfer {
                m.state = MasterState::Transfer;
                m.transfer_start_ms = now;
            }
            m.transfer_size = total;
            m.transfer_read = read;
            m.last_io_ms = now;
        })
        .is_some()
    };
    if let Some(mark) = size.strip_prefix("EOF:") {
        let mark = mark.as_bytes().to_vec();
        if mark.len() != 40 {
            return Err(format!("Bad EOF mark from MASTER: '{size}'"));
        }
        notice!("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk");
        let mut read: i64 = 0;
        loop {
            if conn.buf.len() >= 40 && conn.buf.ends_with(&mark) {
                let n = conn.buf.len() - 40;
                file.write_all(&conn.buf[..n]).map_err(werr)?;
                conn.buf.clear();
                break;
            }
            if conn.buf.len() > 40 {
                let n = conn.buf.len() - 40;
                file.write_all(&conn.buf[..n]).map_err(werr)?;
                let _ = conn.buf.split_to(n);
                read += n as i64;
            }
            if !progress(read, -1) {
                return Err("replication link cancelled".into());
            }
            conn.fill().await?;
        }
    } else {
        let total: i64 = size
            .parse()
            .map_err(|_| format!("Bad bulk length from MASTER: '${size}'"))?;
        notice!("MASTER <-> REPLICA sync: receiving {total} bytes from master to disk");
        let mut left = total as usize;
        loop {
            let n = left.min(conn.buf.len());
            file.write_all(&conn.buf[..n]).map_err(werr)?;
            let _ = conn.buf.split_to(n);
            left -= n;
            if !progress(total - left as i64, total) {
                return Err("replication link cancelled".into());
            }
            if left == 0 {
                break;
            }
            conn.fill().await?;
        }
    }
    file.sync_all().map_err(werr)?;
    Ok(())
}

/// Applies the master's stream until the link ends or is cancelled.
async fn stream(
    shared: &Arc<Shared>,
    cancel: &Arc<Cancel>,
    mut conn: Conn,
    db: usize,
    host: &str,
    port: u16,
) -> Result<(), String> {
    let info = {
        let mut st = shared.lock();
        let id = st.next_client_id;
        st.next_client_id += 1;
        let info = Arc::new(ClientInfo::new(
            id,
            format!("{host}:{port}"),
            conn.sock
                .tcp()
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
        ));
        info.repl_flag
            .store(b'M', std::sync::atomic::Ordering::Relaxed);
        st.clients.insert(id, info.clone());
        info
    };
    let result = apply_stream(shared, cancel, &mut conn, db, info.clone()).await;
    shared.lock().clients.remove(&info.id);
    result
}

async fn apply_stream(
    shared: &Arc<Shared>,
    cancel: &Arc<Cancel>,
    conn: &mut Conn,
    db: usize,
    info: Arc<ClientInfo>,
) -> Result<(), String> {
    let mut client = Client::new(info.clone(), true, false);
    client.is_master = true;
    client.db = db;
    let mut out = ReplyBuf::default();
    let mut parser = RequestParser::new();
    let limits = ParseLimits::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_io = clock::now_ms();
    // The first ACK at once: it also tells a master that sent an EOF-marked snapshot that
    // it may start the stream.
    let mut ack: Option<i64> = Some(shared.lock().repl.offset);
    loop {
        if let Some(off) = ack.take() {
            let o = off.to_string();
            conn.send(&[b"REPLCONF", b"ACK", o.as_bytes()]).await?;
        }
        {
            let mut guard = shared.lock();
            let st = &mut *guard;
            if with_link(st, cancel, |m| m.last_io_ms = last_io).is_none() {
                return Ok(());
            }
            let repl_limits = st.config.client_output_buffer_limit[1];
            loop {
                let (raw, args) = match parser.parse_frame(&mut conn.buf, limits) {
                    Ok(Some(x)) => x,
                    Ok(None) => break,
                    Err(e) => return Err(format!("Protocol error from MASTER: {e}")),
                };
                let before = st.repl.offset;
                if !args.is_empty() {
                    let mut ctx = Ctx::new(st, &mut client, &mut out, shared);
                    commands::dispatch(&mut ctx, &args);
                    out.buf.clear();
                    if std::mem::take(&mut client.ack_requested) {
                        ack = Some(before);
                    }
                }
                st.repl.feed(&raw, repl_limits);
            }
            crate::server::aof::flush(st, false);
            let offset = st.repl.offset;
            let pending = conn.buf.len() as i64;
            with_link(st, cancel, |m| {
                m.db = client.db;
                m.read_offset = offset + pending;
            });
        }
        if ack.is_some() {
            continue;
        }
        reserve(&mut conn.buf);
        tokio::select! {
            r = conn.sock.read_buf(&mut conn.buf) => match r {
                Ok(0) => return Err("Connection with master lost.".into()),
                Err(e) => return Err(format!("Connection with master lost: {e}")),
                Ok(n) => {
                    last_io = clock::now_ms();
                    shared.lock().stats.net_repl_input_bytes += n as u64;
                }
            },
            _ = tick.tick() => {
                let (off, timeout) = {
                    let st = shared.lock();
                    (st.repl.offset, st.config.repl_timeout)
                };
                if clock::now_ms() - last_io > timeout * 1000 {
                    return Err("MASTER timeout: no data nor PING received...".into());
                }
                ack = Some(off);
            }
            _ = cancel.cancelled() => return Ok(()),
            // CLIENT KILL of the master's connection: drop the link (it reconnects).
            _ = info.kill_notify.notified() => return Err("Connection with master killed.".into()),
        }
    }
}
