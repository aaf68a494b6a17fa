//! The master side: PSYNC/SYNC, partial resync from the backlog, full sync from a forked
//! snapshot (to disk, or diskless through a pipe), the write stream to each replica, ACKs,
//! PINGs and timeouts.

use super::{LinkState, RdbChunk, RdbSource, ReplicaLink};
use crate::resp::{ParseLimits, RequestParser};
use crate::server::client::ClientInfo;
use crate::server::commands::{CmdError, CmdResult, Ctx, Flow};
use crate::server::state::{Shared, State};
use crate::server::tls::stream::Stream;
use crate::server::{clock, persistence};
use crate::{notice, warning};
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

/// PSYNC replid offset / SYNC: attaches the calling connection as a replica, by partial
/// resync when the backlog covers its offset, else by a full sync. The connection then
/// leaves the command loop (`Flow::Replica`) and only streams.
pub fn sync_command(ctx: &mut Ctx, args: &[Bytes], old_sync: bool) -> CmdResult {
    if ctx.client.is_master {
        return Ok(());
    }
    let st = &mut *ctx.state;
    if !old_sync && args.len() > 3 && super::super::commands::is(&args[3], "failover") {
        if st.config.replicaof.is_none() {
            return Err(CmdError::fixed(
                "ERR PSYNC FAILOVER can't be sent to a master.",
            ));
        }
        if args[1] != st.repl.replid.as_bytes() {
            return Err(CmdError::fixed(
                "ERR PSYNC FAILOVER replid must match my replid.",
            ));
        }
        notice!("Failover request received for replid {}.", st.repl.replid);
        super::replica::unset_master(st);
    }
    if st.config.replicaof.is_some()
        && !st
            .repl
            .master
            .as_ref()
            .is_some_and(|m| m.state == super::MasterState::Connected)
    {
        return Err(CmdError::fixed(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    let info = ctx.client.info.clone();
    let peer_ip = info
        .addr
        .rsplit_once(':')
        .map(|(ip, _)| ip.trim_start_matches('[').trim_end_matches(']').to_string())
        .unwrap_or_default();
    let mut link = ReplicaLink {
        info: info.clone(),
        ip: ctx.client.repl_ip.clone().unwrap_or(peer_ip),
        listening_port: ctx.client.repl_listening_port,
        state: LinkState::WaitBgsaveStart,
        pending: Vec::new(),
        out: Vec::new(),
        notify: Arc::new(Notify::new()),
        ack_offset: 0,
        ack_ms: ctx.now_ms,
        capa_eof: ctx.client.repl_capa_eof,
        capa_psync2: ctx.client.repl_capa_psync2,
        old_sync,
        sync_offset: 0,
        rdb: None,
        soft_since_ms: 0,
        dropped: false,
        wait_ack: false,
        in_flight: 0,
    };
    notice!("Replica {} asks for synchronization", link.name());
    ctx.flow = Flow::Replica;
    info.repl_flag.store(b'S', Ordering::Relaxed);
    if !old_sync {
        let replid = String::from_utf8_lossy(&args[1]).into_owned();
        let offset = crate::server::numbers::parse_i64(&args[2]).unwrap_or(-1);
        if try_partial(st, &mut link, &replid, offset) {
            st.repl.replicas.insert(info.id, link);
            return Ok(());
        }
        if replid != "?" {
            st.repl.sync_partial_err += 1;
        }
    }
    st.repl.sync_full += 1;
    if st.repl.backlog.is_none() && st.config.replicaof.is_none() {
        // No valid history before the backlog exists: start a new one (as Redis does).
        st.repl.replid = crate::server::state::random_hex(40);
        st.repl.clear_replid2();
    }
    st.repl.ensure_backlog(st.config.repl_backlog_size);
    // A disk snapshot for replication is being written: share it with the replica that
    // waits for it, copying its buffered stream (what was written since the fork).
    let sibling =
        st.repl.replicas.values().find(|r| {
            r.state == LinkState::WaitBgsaveEnd && st.repl.disk_sync_running && !r.dropped
        });
    if let Some(s) = sibling {
        link.state = LinkState::WaitBgsaveEnd;
        link.out = s.out.clone();
        link.sync_offset = s.sync_offset;
        if !old_sync {
            link.pending = fullresync_line(&st.repl.replid, link.sync_offset);
        }
        notice!("Waiting for end of BGSAVE for SYNC");
        st.repl.replicas.insert(info.id, link);
        return Ok(());
    }
    st.repl.replicas.insert(info.id, link);
    start_pending(st, ctx.shared, ctx.now_ms);
    Ok(())
}

fn fullresync_line(replid: &str, offset: i64) -> Vec<u8> {
    format!("+FULLRESYNC {replid} {offset}\r\n").into_bytes()
}

/// Accepts a PSYNC from the backlog when the ID matches (current, or the previous one up to
/// where it stayed valid) and the backlog still holds the requested offset.
fn try_partial(st: &mut State, link: &mut ReplicaLink, replid: &str, psync_offset: i64) -> bool {
    let r = &st.repl;
    if replid != r.replid && !(replid == r.replid2 && psync_offset <= r.second_offset) {
        if replid != "?" {
            if replid != r.replid && replid != r.replid2 {
                notice!(
                    "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{}', my replication IDs are '{}' and '{}')",
                    replid,
                    r.replid,
                    r.replid2
                );
            } else {
                notice!(
                    "Partial resynchronization not accepted: Requested offset for second ID was {}, but I can reply up to {}",
                    psync_offset,
                    r.second_offset
                );
            }
        } else {
            notice!("Full resync requested by replica {}", link.name());
        }
        return false;
    }
    let Some(backlog) = r.backlog.as_ref() else {
        notice!(
            "Unable to partial resync with replica {} for lack of backlog (Replica request was: {}).",
            link.name(),
            psync_offset
        );
        return false;
    };
    let first = r.offset - backlog.histlen() as i64 + 1;
    if psync_offset < first || psync_offset > r.offset + 1 {
        notice!(
            "Unable to partial resync with replica {} for lack of backlog (Replica request was: {}).",
            link.name(),
            psync_offset
        );
        if psync_offset > r.offset + 1 {
            warning!(
                "Warning: replica {} tried to PSYNC with an offset that is greater than the master replication offset.",
                link.name()
            );
        }
        return false;
    }
    let n = (r.offset + 1 - psync_offset) as usize;
    link.pending = if link.capa_psync2 {
        format!("+CONTINUE {}\r\n", r.replid).into_bytes()
    } else {
        b"+CONTINUE\r\n".to_vec()
    };
    link.out = backlog.tail(n);
    link.state = LinkState::Online;
    link.ack_offset = psync_offset - 1;
    st.repl.sync_partial_ok += 1;
    notice!(
        "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {}.",
        link.name(),
        n,
        psync_offset
    );
    true
}

/// Starts a snapshot for the replicas waiting for one, when no child is running: diskless
/// (after `repl-diskless-sync-delay`, or at once when `repl-diskless-sync-max-replicas` are
/// waiting) when enabled and every waiting replica understands EOF payloads, else to disk.
pub fn start_pending(st: &mut State, shared: &Arc<Shared>, now: i64) {
    if st.persistence.child_pid.is_some() {
        return;
    }
    let waiting: Vec<u64> = st
        .repl
        .replicas
        .iter()
        .filter(|(_, r)| r.state == LinkState::WaitBgsaveStart && !r.dropped)
        .map(|(id, _)| *id)
        .collect();
    if waiting.is_empty() {
        st.repl.diskless_wait_since_ms = 0;
        return;
    }
    let diskless = st.config.repl_diskless_sync
        && waiting
            .iter()
            .all(|id| st.repl.replicas[id].capa_eof && !st.repl.replicas[id].old_sync);
    if diskless {
        if st.repl.diskless_wait_since_ms == 0 {
            st.repl.diskless_wait_since_ms = now;
        }
        let max = st.config.repl_diskless_sync_max_replicas;
        let delay_over =
            now - st.repl.diskless_wait_since_ms >= st.config.repl_diskless_sync_delay * 1000;
        let enough = max > 0 && waiting.len() as i64 >= max;
        if !(delay_over || enough) {
            return;
        }
        st.repl.diskless_wait_since_ms = 0;
        start_diskless(st, shared, &waiting);
    } else {
        start_disk(st, &waiting);
    }
}

/// Marks `ids` as receiving a snapshot of the dataset as of now.
fn begin_snapshot(st: &mut State, ids: &[u64], state: LinkState) {
    let (replid, offset) = (st.repl.replid.clone(), st.repl.offset);
    for id in ids {
        let r = st.repl.replicas.get_mut(id).unwrap();
        r.state = state;
        r.sync_offset = offset;
        if !r.old_sync {
            r.pending
                .extend_from_slice(&fullresync_line(&replid, offset));
        }
        r.notify.notify_one();
    }
    // The snapshot ends the stream's notion of the selected database.
    st.repl.stream_db = -1;
}

fn start_disk(st: &mut State, ids: &[u64]) {
    notice!("Starting BGSAVE for SYNC with target: disk");
    match persistence::bgsave(st) {
        Ok(_) => {
            st.repl.disk_sync_running = true;
            begin_snapshot(st, ids, LinkState::WaitBgsaveEnd);
        }
        Err(e) => {
            warning!("BGSAVE for replication failed: {e}");
            for id in ids {
                st.repl.replicas.get_mut(id).unwrap().drop_link();
            }
        }
    }
}

/// Called when a disk BGSAVE ends: replicas waiting for it get the file (or are dropped when
/// it failed).
pub fn disk_snapshot_done(st: &mut State, ok: bool) {
    if !std::mem::take(&mut st.repl.disk_sync_running) {
        return;
    }
    let path = persistence::dump_path(st);
    for r in st.repl.replicas.values_mut() {
        if r.state != LinkState::WaitBgsaveEnd || r.dropped {
            continue;
        }
        let file = if ok {
            std::fs::File::open(&path).and_then(|f| {
                let len = f.metadata()?.len();
                Ok((f, len))
            })
        } else {
            Err(std::io::Error::other("background save failed"))
        };
        match file {
            Ok((f, len)) => {
                r.rdb = Some(RdbSource::File(f, len));
                r.state = LinkState::SendBulk;
                r.notify.notify_one();
            }
            Err(e) => {
                warning!("SYNC failed. BGSAVE child returned an error ({e})");
                r.drop_link();
            }
        }
    }
}

fn start_diskless(st: &mut State, shared: &Arc<Shared>, ids: &[u64]) {
    notice!("Starting BGSAVE for SYNC with target: replicas sockets");
    let (pid, fd) = match persistence::fork_to_pipe(st) {
        Ok(x) => x,
        Err(e) => {
            warning!("Can't fork for diskless replication: {e}");
            for id in ids {
                st.repl.replicas.get_mut(id).unwrap().drop_link();
            }
            return;
        }
    };
    let mut senders = Vec::new();
    for id in ids {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let r = st.repl.replicas.get_mut(id).unwrap();
        r.rdb = Some(RdbSource::Pipe(rx));
        senders.push(tx);
    }
    begin_snapshot(st, ids, LinkState::SendBulk);
    let mark = crate::server::state::random_hex(40);
    tokio::spawn(pipe_to_replicas(shared.clone(), pid, fd, senders, mark));
}

/// Reads the snapshot child's pipe and hands every chunk to each target replica (the slowest
/// one paces the transfer), framed as `$EOF:<mark>\r\n ... <mark>`.
async fn pipe_to_replicas(
    shared: Arc<Shared>,
    pid: i32,
    fd: std::os::fd::OwnedFd,
    senders: Vec<tokio::sync::mpsc::Sender<RdbChunk>>,
    mark: String,
) {
    async fn send_all(senders: &[tokio::sync::mpsc::Sender<RdbChunk>], b: &Bytes) {
        for tx in senders {
            let _ = tx.send(RdbChunk::Data(b.clone())).await;
        }
    }
    let header = Bytes::from(format!("$EOF:{mark}\r\n"));
    send_all(&senders, &header).await;
    if let Ok(mut rx) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
        loop {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            match rx.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => send_all(&senders, &buf.freeze()).await,
            }
        }
    }
    let status = tokio::task::spawn_blocking(move || {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    })
    .await
    .unwrap_or(false);
    {
        let mut st = shared.lock();
        if st.persistence.child_pid == Some(pid) {
            st.persistence.child_pid = None;
            st.persistence.child_is_socket = false;
        }
        if status {
            notice!("Background RDB transfer terminated with success");
        } else {
            warning!("Background transfer error");
        }
    }
    for tx in &senders {
        if status {
            let _ = tx
                .send(RdbChunk::Data(Bytes::from(mark.clone().into_bytes())))
                .await;
            let _ = tx.send(RdbChunk::Done).await;
        } else {
            let _ = tx.send(RdbChunk::Failed).await;
        }
    }
}

/// Serves a connection that became a replica: sends its pending replies, its snapshot, then
/// the write stream; a second task reads its REPLCONF ACKs. Returns when the link ends.
pub async fn serve_replica(
    shared: Arc<Shared>,
    socket: Stream,
    rbuf: BytesMut,
    info: Arc<ClientInfo>,
) {
    match socket {
        Stream::Plain(s) => {
            let (rd, wr) = s.into_split();
            replica_link(shared, rd, wr, rbuf, info).await;
        }
        tls => {
            let (rd, wr) = tokio::io::split(tls);
            replica_link(shared, rd, wr, rbuf, info).await;
        }
    }
}

/// The replica link over its two halves (TCP's owned halves, or TLS's locked ones).
async fn replica_link<R, W>(
    shared: Arc<Shared>,
    rd: R,
    mut wr: W,
    rbuf: BytesMut,
    info: Arc<ClientInfo>,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin,
{
    let id = info.id;
    let Some(notify) = shared
        .lock()
        .repl
        .replicas
        .get(&id)
        .map(|r| r.notify.clone())
    else {
        return;
    };
    let reader = tokio::spawn(read_acks(shared.clone(), rd, rbuf, info.clone()));
    write_stream(&shared, &mut wr, &info, &notify).await;
    reader.abort();
    let _ = wr.shutdown().await;
    let mut st = shared.lock();
    if let Some(r) = st.repl.replicas.remove(&id) {
        notice!("Connection with replica {} lost.", r.name());
    }
    if st.repl.replicas.is_empty() {
        st.repl.no_replicas_since_ms = clock::now_ms();
    }
}

async fn write_stream<W: AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    wr: &mut W,
    info: &Arc<ClientInfo>,
    notify: &Notify,
) {
    let id = info.id;
    let mut spare: Vec<u8> = Vec::new();
    loop {
        if info.killed.load(Ordering::SeqCst) {
            return;
        }
        let (pending, rdb) = {
            let mut st = shared.lock();
            let Some(r) = st.repl.replicas.get_mut(&id) else {
                return;
            };
            if r.dropped {
                return;
            }
            let pending = std::mem::take(&mut r.pending);
            let rdb = if r.state == LinkState::SendBulk {
                r.rdb.take()
            } else {
                None
            };
            spare.clear();
            if r.state == LinkState::Online && !r.wait_ack {
                std::mem::swap(&mut r.out, &mut spare);
            }
            r.in_flight = spare.capacity();
            let sent = (pending.len() + spare.len()) as u64;
            st.stats.net_repl_output_bytes += sent;
            (pending, rdb)
        };
        if !pending.is_empty() && unless_killed(info, wr.write_all(&pending)).await.is_err() {
            return;
        }
        if let Some(src) = rdb {
            let eof_framed = matches!(src, RdbSource::Pipe(_));
            if unless_killed(info, send_snapshot(wr, src)).await.is_err() {
                if !info.killed.load(Ordering::SeqCst) {
                    warning!("SYNC failed: error sending the snapshot to replica");
                }
                return;
            }
            let mut st = shared.lock();
            if let Some(r) = st.repl.replicas.get_mut(&id) {
                r.state = LinkState::Online;
                r.ack_ms = clock::now_ms();
                // After an EOF-marked payload the replica cannot tell where the snapshot ends
                // if stream bytes follow at once: wait for its first ACK, as Redis does.
                r.wait_ack = eof_framed;
                notice!("Synchronization with replica {} succeeded", r.name());
                r.notify.notify_one();
            }
            continue;
        }
        if !spare.is_empty() && unless_killed(info, wr.write_all(&spare)).await.is_err() {
            return;
        }
        if spare.capacity() > 4 << 20 {
            spare = Vec::new();
        }
        tokio::select! {
            _ = notify.notified() => {}
            _ = info.kill_notify.notified() => return,
        }
        // Let the clients that are ready run first, so one write to the replica carries
        // their writes together (as Redis writes to replicas once per event-loop turn).
        tokio::task::yield_now().await;
    }
}

/// Runs a write to the replica unless the link is dropped first (a replica that stopped
/// reading would otherwise hold the writer forever, and with it the link).
async fn unless_killed<F: std::future::Future<Output = std::io::Result<()>>>(
    info: &ClientInfo,
    write: F,
) -> std::io::Result<()> {
    if info.killed.load(Ordering::SeqCst) {
        return Err(std::io::Error::other("replica link dropped"));
    }
    tokio::select! {
        r = write => r,
        _ = info.kill_notify.notified() => Err(std::io::Error::other("replica link dropped")),
    }
}

async fn send_snapshot<W: AsyncWrite + Unpin>(wr: &mut W, src: RdbSource) -> std::io::Result<()> {
    match src {
        RdbSource::File(f, len) => {
            use std::io::Read;
            wr.write_all(format!("${len}\r\n").as_bytes()).await?;
            // The file was just written, so it is in the page cache: plain reads are quick.
            let mut f = f.take(len);
            let mut buf = vec![0u8; 256 * 1024];
            let mut sent = 0u64;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                wr.write_all(&buf[..n]).await?;
                sent += n as u64;
            }
            if sent != len {
                return Err(std::io::Error::other(
                    "snapshot file shorter than announced",
                ));
            }
            Ok(())
        }
        RdbSource::Pipe(mut rx) => loop {
            match rx.recv().await {
                Some(RdbChunk::Data(b)) => wr.write_all(&b).await?,
                Some(RdbChunk::Done) => return Ok(()),
                Some(RdbChunk::Failed) | None => {
                    return Err(std::io::Error::other("diskless snapshot failed"));
                }
            }
        },
    }
}

/// Reads what a replica sends: `REPLCONF ACK <offset>` (others are ignored, as Redis does).
async fn read_acks<R: AsyncRead + Unpin>(
    shared: Arc<Shared>,
    mut rd: R,
    mut rbuf: BytesMut,
    info: Arc<ClientInfo>,
) {
    let mut parser = RequestParser::new();
    let limits = ParseLimits::default();
    loop {
        loop {
            match parser.parse(&mut rbuf, limits) {
                Ok(Some(args)) => {
                    if args.len() >= 3
                        && args[0].eq_ignore_ascii_case(b"replconf")
                        && args[1].eq_ignore_ascii_case(b"ack")
                    {
                        let off = crate::server::numbers::parse_i64(&args[2]).unwrap_or(0);
                        record_ack(&shared, info.id, off);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    info.kill();
                    return;
                }
            }
        }
        if rbuf.capacity() - rbuf.len() < 1024 {
            rbuf.reserve(4096);
        }
        match rd.read_buf(&mut rbuf).await {
            Ok(0) | Err(_) => {
                info.kill();
                return;
            }
            Ok(_) => {}
        }
    }
}

fn record_ack(shared: &Arc<Shared>, id: u64, off: i64) {
    let mut st = shared.lock();
    let now = clock::now_ms();
    if let Some(r) = st.repl.replicas.get_mut(&id) {
        r.ack_offset = r.ack_offset.max(off);
        r.ack_ms = now;
        if r.wait_ack {
            r.wait_ack = false;
            r.notify.notify_one();
        }
    }
    // WAIT re-checks when an ACK arrives.
    if st.blocked_clients > 0 {
        shared.write_epoch.fetch_add(1, Ordering::SeqCst);
        shared.writes.notify_waiters();
    }
}

/// Once a second: PING the replicas every `repl-ping-replica-period` seconds (not while
/// writes are paused, so a paused master's offset stays still), keep replicas waiting for a
/// snapshot alive with newlines, drop replicas silent for `repl-timeout`, and free the
/// backlog after `repl-backlog-ttl` seconds without replicas.
pub fn cron_second(st: &mut State, loops: u64, now: i64) {
    let period = st.config.repl_ping_replica_period.max(1) as u64;
    let writes_paused = st.pause.is_some_and(|p| p.until_ms > now);
    if st.config.replicaof.is_none()
        && !st.repl.replicas.is_empty()
        && loops.is_multiple_of(period)
        && !writes_paused
    {
        let limits = st.config.client_output_buffer_limit[1];
        let mut ping = Vec::new();
        crate::resp::encode_command(&mut ping, &[b"PING".as_slice()]);
        st.repl.feed(&ping, limits);
    }
    let timeout_ms = st.config.repl_timeout * 1000;
    for r in st.repl.replicas.values_mut() {
        if r.dropped {
            continue;
        }
        match r.state {
            LinkState::WaitBgsaveStart | LinkState::WaitBgsaveEnd => {
                r.pending.push(b'\n');
                r.notify.notify_one();
            }
            LinkState::Online if now - r.ack_ms > timeout_ms => {
                warning!(
                    "Disconnecting timedout replica (streaming sync): {}",
                    r.name()
                );
                r.drop_link();
            }
            _ => {}
        }
    }
    // CONFIG SET repl-backlog-size takes effect here, keeping the newest history.
    st.repl.resize_backlog(st.config.repl_backlog_size);
    let ttl = st.config.repl_backlog_ttl;
    if st.config.replicaof.is_none()
        && st.repl.replicas.is_empty()
        && st.repl.backlog.is_some()
        && ttl > 0
        && now - st.repl.no_replicas_since_ms > ttl * 1000
    {
        notice!("Replication backlog freed after {ttl} seconds without connected replicas.");
        st.repl.replid = crate::server::state::random_hex(40);
        st.repl.clear_replid2();
        st.repl.backlog = None;
    }
}

/// Asks every replica for an ACK (WAIT).
pub fn request_acks(st: &mut State) {
    let limits = st.config.client_output_buffer_limit[1];
    let mut buf = Vec::new();
    crate::resp::encode_command(&mut buf, &[b"REPLCONF".as_slice(), b"GETACK", b"*"]);
    st.repl.feed(&buf, limits);
}

/// Redis's error when a write needs more good replicas than are attached.
pub const NOREPLICAS: CmdError = CmdError::fixed("NOREPLICAS Not enough good replicas to write.");

/// Whether `min-replicas-to-write` refuses writes now.
pub fn too_few_replicas(st: &State, now: i64) -> bool {
    let min = st.config.min_replicas_to_write;
    min > 0
        && st.config.min_replicas_max_lag > 0
        && st.config.replicaof.is_none()
        && (st.repl.good_replicas(now, st.config.min_replicas_max_lag) as i64) < min
}

/// Before a master shuts down (Redis 7.0's shutdown-timeout): pause writes, ask the replicas
/// for an ACK and wait up to 10 seconds until every online replica acknowledged the whole
/// stream, so they can continue by PSYNC once we are back.
pub async fn wait_replicas_before_shutdown(shared: &Arc<Shared>) {
    let target = {
        let mut st = shared.lock();
        if st.config.replicaof.is_some() || st.repl.replicas.is_empty() {
            return;
        }
        let now = clock::now_ms();
        st.pause = Some(crate::server::state::Pause {
            until_ms: now + 10_000,
            writes_only: true,
        });
        // A replica answers GETACK with the offset before it: having answered, it holds
        // everything up to `target`, and the GETACK itself.
        let target = st.repl.offset;
        request_acks(&mut st);
        target
    };
    notice!("Waiting for replicas before shutting down.");
    let deadline = clock::now_ms() + 10_000;
    loop {
        let lagging = {
            let st = shared.lock();
            st.repl
                .replicas
                .values()
                .filter(|r| r.state == LinkState::Online && !r.dropped && r.ack_offset < target)
                .count()
        };
        if lagging == 0 || clock::now_ms() >= deadline {
            if lagging > 0 {
                warning!("{lagging} replicas are lagging behind; shutting down anyway.");
            }
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
