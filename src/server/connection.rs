//! One client connection: read bytes, parse requests, run them under the state lock, write
//! the replies. Pipelined requests that arrive together run in one hold of the lock and
//! their replies leave in one write.
//!
//! As in Redis, the connection keeps reading requests while its replies wait to be sent;
//! the pending replies are checked against `client-output-buffer-limit` after every
//! command, and the requests not yet complete against `client-query-buffer-limit`, so a
//! client that never reads, or never ends its request, is closed without affecting others.
//! An idle connection holds no buffers.

use super::client::{Client, ClientInfo, ReplyMode, output_limit_reached};
use super::commands::{self, Ctx, Flow};
use super::state::Shared;
use super::tls::stream::Stream;
use crate::resp::{ParseLimits, ReplyBuf, RequestParser};
use bytes::BytesMut;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const READ_CHUNK: usize = 16 * 1024;

/// Buffers larger than this are freed once empty, so idle connections stay small.
const KEEP_BUFFER: usize = 64 * 1024;

/// Streamed replies (a huge negative SRANDMEMBER count) are produced this much at a time.
const STREAM_PIECE: usize = 64 * 1024;

/// How long a connection that must close may take to send its last replies.
const CLOSING_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends every pending reply (`out.buf[*sent..]` and the streamed replies at their places),
/// waiting as long as needed; then `out` is empty.
async fn flush_all(socket: &mut Stream, out: &mut ReplyBuf, sent: &mut usize) -> bool {
    out.consume(*sent);
    *sent = 0;
    out.flush_to(socket, STREAM_PIECE).await.is_ok()
}

/// Checks `pending` bytes of output against the client's `client-output-buffer-limit`
/// class (see [`output_limit_reached`]), logging as Redis does when the client must close.
fn over_output_limit(
    info: &ClientInfo,
    pending: usize,
    limits: (i64, i64, i64),
    soft_since_ms: &mut i64,
    now_ms: i64,
) -> bool {
    let over = output_limit_reached(pending, limits, soft_since_ms, now_ms);
    if over {
        crate::warning!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            info.describe()
        );
    }
    over
}

/// Sends what the socket takes now without waiting (TLS records rustls holds first);
/// empties `buf` once all is sent.
fn flush_some(socket: &mut Stream, buf: &mut Vec<u8>, sent: &mut usize) -> std::io::Result<()> {
    socket.flush_pending()?;
    while *sent < buf.len() {
        match socket.try_write(&buf[*sent..]) {
            Ok(n) => *sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    buf.clear();
    *sent = 0;
    if buf.capacity() > KEEP_BUFFER {
        *buf = Vec::new();
    }
    Ok(())
}

/// Serves one accepted connection until it closes.
///
/// The task waits on one thing at a time in the event loop: its socket (readable, or
/// writable while replies are pending), CLIENT KILL, and the idle `timeout`. The idle timer
/// is created once per connection, not once per request, and the wake-ups are lock-free
/// ([`Wakeup`](super::wakeup::Wakeup)), so an unpipelined request costs one `read(2)`, one
/// `write(2)` and its share of `epoll_wait`.
pub async fn serve(shared: Arc<Shared>, mut socket: Stream, info: Arc<ClientInfo>, is_local: bool) {
    let (needs_auth, timeout) = {
        let st = shared.lock();
        (!st.acl.default_is_open(), st.config.timeout)
    };
    let mut client = Client::new(info.clone(), !needs_auth, is_local);
    let mut rbuf = BytesMut::new();
    // Bytes of `out.buf` already sent; the rest are the pending replies.
    let mut sent = 0usize;
    // When the pending replies first reached the soft limit (0: under it).
    let mut soft_since_ms = 0i64;
    let mut parser = RequestParser::new();
    let mut out = ReplyBuf::default();
    // A request that found the server paused, to run first once the pause ends.
    let mut pending: Option<Vec<bytes::Bytes>> = None;
    // CLIENT KILL, pushed messages and the busy-script door wake the task through
    // `Wakeup`s: polling one that has not fired is a few atomic operations, no lock
    // (server/wakeup.rs), so every wait below can select on them at no real cost.
    // Idle timeout: one timer, moved only when it fires early (a request came since).
    let idle = (timeout > 0).then(|| Duration::from_secs(timeout as u64));
    let mut last_read = Instant::now();
    let idle_timer = tokio::time::sleep(idle.unwrap_or(Duration::ZERO));
    tokio::pin!(idle_timer);
    // While a script runs past busy-reply-threshold, its hook answers this connection when
    // it is at rest (scripting::busy); what it leaves for us arrives through `door`.
    let door =
        super::scripting::busy::register(&shared.watchdog, info.id, socket.tcp().as_raw_fd());
    // A connection the busy hook accepted comes with the client it served it with.
    door.door.active(&mut rbuf, &mut out.buf);
    if let Some(c) = door.door.take_client() {
        client = c;
    }

    'conn: loop {
        let writing = sent < out.buf.len() || socket.wants_write();
        let pushes = client.receives_pushes();
        // The busy hook reads and writes `socket` (plain or TLS) and runs requests with
        // `client`: both untouched here until `active`.
        door.door.rest(
            !writing && rbuf.is_empty() && client.reply_mode == ReplyMode::On,
            &mut client,
            &mut socket,
        );
        let n = tokio::select! {
            biased;
            _ = info.kill_notify.notified() => break 'conn,
            // Messages pushed by other clients (only polled for subscribers and monitors,
            // so other connections pay nothing for it).
            _ = info.outbox.notify.notified(), if pushes => {
                door.door.active(&mut rbuf, &mut out.buf);
                info.outbox.drain_into(&mut out.buf);
                let (limits, now) = {
                    let st = shared.lock();
                    (client.class().limits(&st.config), super::clock::now_ms())
                };
                if over_output_limit(&info, out.buf.len() - sent, limits, &mut soft_since_ms, now)
                    || flush_some(&mut socket, &mut out.buf, &mut sent).is_err()
                {
                    break 'conn;
                }
                continue 'conn;
            },
            _ = door.door.wake.notified() => {
                door.door.active(&mut rbuf, &mut out.buf);
                0
            },
            r = std::future::poll_fn(|cx| socket.poll_readable(cx)) => {
                if r.is_err() {
                    break 'conn;
                }
                let took = door.door.active(&mut rbuf, &mut out.buf);
                match socket.read_some(&mut rbuf, READ_CHUNK) {
                    Ok(0) => break 'conn,
                    Ok(n) => {
                        if idle.is_some() {
                            last_read = Instant::now();
                        }
                        n
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && took => 0,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue 'conn,
                    Err(_) => break 'conn,
                }
            },
            r = socket.writable(), if writing => {
                if r.is_err() || flush_some(&mut socket, &mut out.buf, &mut sent).is_err() {
                    break 'conn;
                }
                continue 'conn;
            },
            _ = &mut idle_timer, if idle.is_some() && !writing => {
                door.door.active(&mut rbuf, &mut out.buf);
                let deadline = last_read + idle.unwrap_or_default();
                // Subscribers and monitors are never idle-closed, as in Redis.
                if Instant::now() >= deadline && !client.receives_pushes() {
                    break 'conn;
                }
                idle_timer.as_mut().reset(deadline);
                continue 'conn;
            },
        };
        if info.killed.load(Ordering::Relaxed) {
            break;
        }
        let mut close = false;
        let mut replica = false;
        // Run every complete request in the buffer; a paused server makes us wait and retry.
        loop {
            let mut paused_until: Option<i64> = None;
            // A blocking command waits for a write: (deadline, write epoch when it looked).
            let mut blocked: Option<(i64, u64)> = None;
            let durable;
            {
                let mut guard = shared.lock();
                let st = &mut *guard;
                let out_before = out.buf.len();
                st.stats.net_input_bytes += n as u64;
                st.stats.counters.reads_processed += (n > 0) as u64;
                let qbuf = rbuf.len() + parser.pending_overhead();
                if st.config.client_query_buffer_limit > 0
                    && qbuf as i64 > st.config.client_query_buffer_limit
                {
                    let head = String::from_utf8_lossy(&rbuf[..rbuf.len().min(64)]);
                    crate::warning!(
                        "Closing client that reached max query buffer length: {} (qbuf initial bytes: {})",
                        info.describe(),
                        crate::config::repr(&head)
                    );
                    break 'conn;
                }
                let max_bulk_len = st.config.proto_max_bulk_len;
                loop {
                    let limits = ParseLimits {
                        max_bulk_len,
                        unauthenticated: !client.authenticated,
                    };
                    let parsed = match pending.take() {
                        Some(a) => Ok(Some(a)),
                        None => parser.parse(&mut rbuf, limits),
                    };
                    let args = match parsed {
                        Ok(Some(a)) => a,
                        Ok(None) => break,
                        Err(e) => {
                            st.stats.total_error_replies += 1;
                            out.error(&format!("ERR {e}"));
                            close = true;
                            break;
                        }
                    };
                    if args.is_empty() {
                        continue;
                    }
                    if info.outbox.has_frames() {
                        // Pushed before this request ran: they go first.
                        info.outbox.drain_into(&mut out.buf);
                    }
                    let mode = client.reply_mode;
                    let mark = out.mark();
                    let mut ctx = Ctx::new(st, &mut client, &mut out, &shared);
                    commands::dispatch(&mut ctx, &args);
                    // dispatch read the clock once for the command; reuse it.
                    info.last_ms.store(ctx.now_ms, Ordering::Relaxed);
                    let flow = ctx.flow;
                    match flow {
                        Flow::Paused => {
                            pending = Some(args);
                            paused_until = st.pause.map(|p| p.until_ms);
                            break;
                        }
                        Flow::Blocked(deadline) => {
                            pending = Some(args);
                            blocked = Some((deadline, shared.write_epoch.load(Ordering::SeqCst)));
                            break;
                        }
                        Flow::Close => {
                            close = true;
                            break;
                        }
                        Flow::Replica => {
                            replica = true;
                            break;
                        }
                        Flow::Continue => {}
                    }
                    match mode {
                        ReplyMode::On => {}
                        ReplyMode::Off if client.reply_mode == ReplyMode::On => {}
                        ReplyMode::Off => out.truncate(mark),
                        ReplyMode::Skip => {
                            out.truncate(mark);
                            if client.reply_mode == ReplyMode::Skip {
                                client.reply_mode = ReplyMode::On;
                            }
                        }
                    }
                    let limits = client.class().limits(&st.config);
                    let now = info.last_ms.load(Ordering::Relaxed);
                    if over_output_limit(
                        &info,
                        out.buf.len() - sent,
                        limits,
                        &mut soft_since_ms,
                        now,
                    ) {
                        break 'conn;
                    }
                }
                st.stats.net_output_bytes += (out.buf.len() - out_before) as u64;
                st.stats.counters.writes_processed += (out.buf.len() > out_before) as u64;
                // The batch's writes reach the AOF (fsynced with `always`) before its replies.
                durable = crate::server::aof::flush_batch(st);
            }
            if let Some(d) = durable {
                crate::server::aof::Durable::wait(d).await;
            }
            if close {
                let _ = tokio::time::timeout(
                    CLOSING_WRITE_TIMEOUT,
                    flush_all(&mut socket, &mut out, &mut sent),
                )
                .await;
                break 'conn;
            }
            // Leave a request that must wait (replica hand-over, blocked, paused) with every
            // reply before it sent; otherwise send what the socket takes now and keep reading.
            // A streamed reply is produced while it is written, so it is always sent whole here.
            let waits = replica || blocked.is_some() || paused_until.is_some() || out.has_streams();
            if waits {
                if !flush_all(&mut socket, &mut out, &mut sent).await {
                    break 'conn;
                }
            } else if flush_some(&mut socket, &mut out.buf, &mut sent).is_err() {
                break 'conn;
            }
            if replica {
                // Boxed: the replica link's state would otherwise be part of every
                // connection's future, idle ones included.
                Box::pin(super::replication::master::serve_replica(
                    shared.clone(),
                    socket,
                    rbuf,
                    info.clone(),
                ))
                .await;
                let mut st = shared.lock();
                st.clients.remove(&info.id);
                st.pubsub.remove_client(&mut client);
                super::tracking::client_gone(&mut st, info.id);
                return;
            }
            if let Some((deadline, epoch)) = blocked {
                loop {
                    let notified = shared.writes.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    if shared.write_epoch.load(Ordering::SeqCst) != epoch {
                        break;
                    }
                    let now = super::clock::now_ms();
                    if now >= deadline {
                        break;
                    }
                    let wait = (deadline - now).clamp(1, 1 << 40) as u64;
                    tokio::select! {
                        _ = &mut notified => break,
                        _ = tokio::time::sleep(Duration::from_millis(wait)) => break,
                        _ = info.kill_notify.notified() => break 'conn,
                        // CLIENT UNBLOCK: run the command again; it sees the request.
                        _ = info.unblock_notify.notified() => break,
                        // Keep reading while blocked: a disconnect must end the wait (or the
                        // command would later pop an element for nobody); further requests
                        // queue up behind the blocked one.
                        r = socket.read_buf(&mut rbuf) => match r {
                            Ok(0) | Err(_) => break 'conn,
                            Ok(_) => {}
                        },
                    }
                }
                continue;
            }
            match paused_until {
                None => break,
                Some(until) => {
                    let wait = (until - super::clock::now_ms()).max(1) as u64;
                    tokio::select! {
                        _ = shared.unpaused.notified() => {}
                        _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                        _ = info.kill_notify.notified() => break 'conn,
                    }
                }
            }
        }
        if rbuf.is_empty() && rbuf.capacity() > KEEP_BUFFER {
            rbuf = BytesMut::new();
        }
    }
    // Take `client` back from the busy hook (CLIENT KILL may end a resting connection).
    door.door.active(&mut BytesMut::new(), &mut Vec::new());
    let _ = socket.shutdown().await;
    let mut st = shared.lock();
    st.clients.remove(&info.id);
    st.pubsub.remove_client(&mut client);
    super::tracking::client_gone(&mut st, info.id);
    if client.blocked_until.is_some() {
        st.blocked_clients = st.blocked_clients.saturating_sub(1);
    }
    st.blocked_on.retain(|b| b.0 != info.id);
    for w in std::mem::take(&mut client.watched) {
        if let Some(db) = st.dbs.get_mut(w.db) {
            db.unwatch(&w.key);
        }
    }
}
