//! The sentinel's own small server: accepts clients, parses requests with the shared RESP
//! parser, runs them through [`super::commands`], and delivers the event channels to
//! subscribers (RESP2 arrays, RESP3 pushes). Clients are registered for CLIENT LIST/KILL.

use super::Shared;
use super::commands;
use super::events::Event;
use crate::resp::{ParseLimits, Proto, ReplyBuf, RequestParser};
use crate::server::tls::stream::Stream;
use bytes::BytesMut;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Notify, broadcast};

/// One registered client, as CLIENT LIST shows it.
#[derive(Debug)]
pub struct ClientEntry {
    /// CLIENT ID.
    pub id: u64,
    /// Peer `ip:port`.
    pub addr: String,
    /// Local `ip:port`.
    pub laddr: String,
    /// CLIENT SETNAME.
    pub name: String,
    /// Connected at (ms).
    pub created: i64,
    /// Last command at (ms).
    pub last: i64,
    /// Last command's name.
    pub cmd: String,
    /// Channels subscribed.
    pub sub: usize,
    /// Patterns subscribed.
    pub psub: usize,
    /// Closes the connection (CLIENT KILL).
    pub kill: Arc<Notify>,
}

impl ClientEntry {
    /// The CLIENT LIST / CLIENT INFO line.
    pub fn line(&self, now: i64) -> String {
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db=0 sub={} psub={} \
             ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=16384 \
             obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp=2",
            self.id,
            self.addr,
            self.laddr,
            self.name,
            (now - self.created) / 1000,
            (now - self.last) / 1000,
            if self.sub + self.psub > 0 { "P" } else { "N" },
            self.sub,
            self.psub,
            self.cmd
        )
    }
}

/// One connection's state.
pub struct Conn {
    /// CLIENT ID.
    pub id: u64,
    /// Authenticated (or no requirepass).
    pub authed: bool,
    /// RESP2 or RESP3.
    pub proto: Proto,
    /// Subscribed channels.
    pub channels: BTreeSet<String>,
    /// Subscribed patterns.
    pub patterns: BTreeSet<String>,
    /// Close after the reply (QUIT, CLIENT KILL of itself).
    pub close: bool,
    /// Events, while subscribed.
    pub events: Option<broadcast::Receiver<Event>>,
}

impl Conn {
    /// Whether the connection is in subscriber mode.
    pub fn subscribed(&self) -> bool {
        !self.channels.is_empty() || !self.patterns.is_empty()
    }
}

/// Accepts clients until the process exits.
/// `is_tls`: the `tls-port` listener (the TLS handshake runs in the connection's task).
pub async fn serve(shared: Shared, listener: TcpListener, is_tls: bool) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let _ = sock.set_nodelay(true);
        let shared = shared.clone();
        let tls = if is_tls {
            match crate::server::tls::current() {
                Some(c) => Some(c.server.clone()),
                None => continue,
            }
        } else {
            None
        };
        tokio::spawn(async move {
            let stream = match tls {
                None => Stream::Plain(sock),
                Some(cfg) => match tokio_rustls::TlsAcceptor::from(cfg).accept(sock).await {
                    Ok(s) => tokio_rustls::TlsStream::Server(s).into(),
                    Err(e) => {
                        crate::verbose!("Error accepting a client connection: {e}");
                        return;
                    }
                },
            };
            connection(shared, stream).await
        });
    }
}

static NEXT_CLIENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

async fn connection(shared: Shared, mut sock: Stream) {
    let id = NEXT_CLIENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = crate::server::clock::now_ms();
    let kill = Arc::new(Notify::new());
    let entry = ClientEntry {
        id,
        addr: sock
            .tcp()
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        laddr: sock
            .tcp()
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        name: String::new(),
        created: now,
        last: now,
        cmd: "NULL".into(),
        sub: 0,
        psub: 0,
        kill: kill.clone(),
    };
    let authed = super::lock(&shared).conf.default_open();
    {
        let mut s = super::lock(&shared);
        s.stats.connections += 1;
        s.stats.clients += 1;
    }
    shared.clients_lock().insert(id, entry);
    let mut conn = Conn {
        id,
        authed,
        proto: Proto::Resp2,
        channels: BTreeSet::new(),
        patterns: BTreeSet::new(),
        close: false,
        events: None,
    };
    let _ = run(&shared, &mut sock, &mut conn, &kill).await;
    shared.clients_lock().remove(&id);
    super::lock(&shared).stats.clients -= 1;
}

async fn run(
    shared: &Shared,
    sock: &mut Stream,
    conn: &mut Conn,
    kill: &Notify,
) -> std::io::Result<()> {
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        // Whole requests already buffered run first.
        let mut out = ReplyBuf::new(conn.proto);
        loop {
            let limits = ParseLimits {
                max_bulk_len: 512 * 1024 * 1024,
                unauthenticated: !conn.authed,
            };
            match parser.parse(&mut buf, limits) {
                Ok(Some(args)) if args.is_empty() => continue,
                Ok(Some(args)) => {
                    out.proto = conn.proto;
                    commands::dispatch(shared, conn, &args, &mut out);
                    if conn.close {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    out.error(&format!("ERR {e}"));
                    conn.close = true;
                    break;
                }
            }
        }
        if !out.is_empty() {
            out.flush_to(sock, 64 * 1024).await?;
        }
        if conn.close {
            return Ok(());
        }
        let events = conn.events.as_mut();
        tokio::select! {
            n = sock.read_buf(&mut buf) => {
                if n? == 0 {
                    return Ok(());
                }
            }
            ev = recv(events) => {
                if let Some((channel, msg)) = ev {
                    let mut out = Vec::new();
                    deliver(conn, &channel, &msg, &mut out);
                    sock.write_all(&out).await?;
                }
            }
            _ = kill.notified() => return Ok(()),
        }
    }
}

async fn recv(rx: Option<&mut broadcast::Receiver<Event>>) -> Option<Event> {
    match rx {
        None => std::future::pending().await,
        Some(rx) => loop {
            match rx.recv().await {
                Ok(ev) => return Some(ev),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        },
    }
}

/// Writes `message`/`pmessage` frames for one event to a subscriber.
fn deliver(conn: &Conn, channel: &str, msg: &str, out: &mut Vec<u8>) {
    let head = |n: usize, out: &mut Vec<u8>| {
        let kind = if conn.proto == Proto::Resp3 { '>' } else { '*' };
        out.extend_from_slice(format!("{kind}{n}\r\n").as_bytes());
    };
    let bulk = |s: &str, out: &mut Vec<u8>| {
        out.extend_from_slice(format!("${}\r\n{s}\r\n", s.len()).as_bytes());
    };
    if conn.channels.contains(channel) {
        head(3, out);
        bulk("message", out);
        bulk(channel, out);
        bulk(msg, out);
    }
    for p in &conn.patterns {
        if crate::server::glob::glob_match(p.as_bytes(), channel.as_bytes(), false) {
            head(4, out);
            bulk("pmessage", out);
            bulk(p, out);
            bulk(channel, out);
            bulk(msg, out);
        }
    }
}
