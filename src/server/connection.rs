//! One client connection: read bytes, parse requests, run them under the state lock, write
//! the replies. Pipelined requests that arrive together run in one hold of the lock and
//! their replies leave in one write.

use super::client::{Client, ClientInfo, ReplyMode};
use super::commands::{self, Ctx, Flow};
use super::state::Shared;
use crate::resp::{ParseLimits, ReplyBuf, RequestParser};
use bytes::BytesMut;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const READ_CHUNK: usize = 16 * 1024;

/// Serves one accepted connection until it closes.
pub async fn serve(
    shared: Arc<Shared>,
    mut socket: TcpStream,
    info: Arc<ClientInfo>,
    is_local: bool,
) {
    let (needs_auth, timeout) = {
        let st = shared.lock();
        (st.config.requirepass.is_some(), st.config.timeout)
    };
    let mut client = Client::new(info.clone(), !needs_auth, is_local);
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::new();
    let mut out = ReplyBuf::default();
    // A request that found the server paused, to run first once the pause ends.
    let mut pending: Option<Vec<bytes::Bytes>> = None;
    let idle = if timeout > 0 {
        Duration::from_secs(timeout as u64)
    } else {
        Duration::from_secs(u64::MAX / 4)
    };

    'conn: loop {
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
            rbuf.reserve(READ_CHUNK);
        }
        let n = tokio::select! {
            r = socket.read_buf(&mut rbuf) => match r {
                Ok(0) | Err(_) => break 'conn,
                Ok(n) => n,
            },
            _ = info.kill_notify.notified() => break 'conn,
            _ = tokio::time::sleep(idle) => break 'conn,
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
            {
                let mut guard = shared.lock();
                let st = &mut *guard;
                st.stats.net_input_bytes += n as u64;
                if st.config.client_query_buffer_limit > 0
                    && rbuf.len() as i64 > st.config.client_query_buffer_limit
                {
                    crate::warning!(
                        "Closing client that reached max query buffer length (id={})",
                        info.id
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
                }
                st.stats.net_output_bytes += out.buf.len() as u64;
            }
            if !out.is_empty() {
                // Streamed replies are produced 64 KB at a time as the socket takes them.
                if out.flush_to(&mut socket, 64 * 1024).await.is_err() {
                    break 'conn;
                }
            }
            if close {
                break 'conn;
            }
            if replica {
                super::replication::master::serve_replica(
                    shared.clone(),
                    socket,
                    rbuf,
                    info.clone(),
                )
                .await;
                shared.lock().clients.remove(&info.id);
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
        if out.buf.capacity() > 64 * 1024 {
            out.buf = Vec::new();
        }
    }
    let _ = socket.shutdown().await;
    let mut st = shared.lock();
    st.clients.remove(&info.id);
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
