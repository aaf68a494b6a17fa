//! Master–replica replication, speaking Redis 7.0's protocol (PSYNC2).
//!
//! - [`Replication`] (in `State::repl`) is the node's replication identity and stream: the
//!   replication ID and offset, the previous ID (`replid2`) kept after a promotion so former
//!   siblings can continue by PSYNC, the [`backlog::Backlog`], the replicas attached to us and,
//!   on a replica, the link to our master.
//! - [`master`] serves replicas: PSYNC/SYNC, partial resync from the backlog, full sync from a
//!   forked snapshot (to disk, or diskless through a pipe), the write stream, PINGs, timeouts.
//! - [`replica`] is the link to our master: handshake, full or partial sync, applying the
//!   stream, ACKs, reconnecting.
//!
//! Every write runs under the state lock and is appended to the stream in that same critical
//! section ([`Replication::propagate`]), so replicas receive writes in exactly the order they
//! were applied.

pub mod backlog;
pub mod failover;
pub mod master;
pub mod replica;

use super::client::ClientInfo;
use crate::resp::encode_command as encode;
use backlog::Backlog;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

/// A replication ID meaning "none" (`master_replid2` when there is no previous ID).
pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// Where a replica connection stands, as INFO's `state=` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Needs a snapshot that has not started yet.
    WaitBgsaveStart,
    /// A disk snapshot for it is being written.
    WaitBgsaveEnd,
    /// The snapshot is being sent.
    SendBulk,
    /// Receiving the write stream.
    Online,
}

impl LinkState {
    /// The word INFO uses.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::WaitBgsaveStart | LinkState::WaitBgsaveEnd => "wait_bgsave",
            LinkState::SendBulk => "send_bulk",
            LinkState::Online => "online",
        }
    }
}

/// A piece of a diskless snapshot on its way to a replica.
#[derive(Debug)]
pub enum RdbChunk {
    /// Payload bytes.
    Data(bytes::Bytes),
    /// The snapshot is complete.
    Done,
    /// The snapshot failed: close the link.
    Failed,
}

/// What a replica is sent its snapshot from.
#[derive(Debug)]
pub enum RdbSource {
    /// A finished dump file and its size.
    File(std::fs::File, u64),
    /// A diskless transfer, fed by the pipe reader.
    Pipe(tokio::sync::mpsc::Receiver<RdbChunk>),
}

/// A replica attached to us (the master's view).
#[derive(Debug)]
pub struct ReplicaLink {
    /// The connection.
    pub info: Arc<ClientInfo>,
    /// Address INFO shows (REPLCONF ip-address, else the peer address).
    pub ip: String,
    /// REPLCONF listening-port (0: unknown).
    pub listening_port: u16,
    /// Sync progress.
    pub state: LinkState,
    /// Replies to send before anything else (+FULLRESYNC, +CONTINUE, keep-alive newlines).
    pub pending: Vec<u8>,
    /// Stream bytes not sent yet.
    pub out: Vec<u8>,
    /// Wakes the connection's writer.
    pub notify: Arc<Notify>,
    /// Offset of the last REPLCONF ACK.
    pub ack_offset: i64,
    /// Unix ms of the last REPLCONF ACK (or of going online).
    pub ack_ms: i64,
    /// Understands `$EOF:` diskless payloads.
    pub capa_eof: bool,
    /// Understands `+CONTINUE <new id>`.
    pub capa_psync2: bool,
    /// Old SYNC (no +FULLRESYNC line).
    pub old_sync: bool,
    /// The master offset its snapshot corresponds to.
    pub sync_offset: i64,
    /// Its snapshot, once ready to send.
    pub rdb: Option<RdbSource>,
    /// When `out` first went over the soft limit (0: under it).
    pub soft_since_ms: i64,
    /// Marked for disconnection.
    pub dropped: bool,
    /// After a diskless transfer: hold the stream until the replica's first ACK.
    pub wait_ack: bool,
    /// Bytes the writer took out of `out` and is sending now (memory not counted for
    /// maxmemory, like `out`).
    pub in_flight: usize,
}

impl ReplicaLink {
    /// `ip:port` as Redis names a replica in its log.
    pub fn name(&self) -> String {
        format!("{}:{}", self.ip, self.listening_port)
    }

    /// Disconnects it (the writer task sees the flag and ends).
    pub fn drop_link(&mut self) {
        self.dropped = true;
        self.info.kill();
        self.notify.notify_one();
    }
}

/// A cancellation flag that async code can wait on.
#[derive(Debug, Default)]
pub struct Cancel {
    flag: AtomicBool,
    notify: Notify,
}

impl Cancel {
    /// Cancels; wakes every waiter.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    /// Whether cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        loop {
            let n = self.notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            n.await;
        }
    }
}

/// The replica side's link state, as INFO and ROLE show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterState {
    /// Must connect (ROLE: connect).
    Connect,
    /// Connecting / handshaking (ROLE: connecting).
    Connecting,
    /// Receiving the snapshot (ROLE: sync).
    Transfer,
    /// Streaming (ROLE: connected).
    Connected,
}

/// The link to our master (replica side).
#[derive(Debug)]
pub struct MasterLink {
    /// Master host.
    pub host: String,
    /// Master port.
    pub port: u16,
    /// Link state.
    pub state: MasterState,
    /// Ends the link task (REPLICAOF NO ONE or another master).
    pub cancel: Arc<Cancel>,
    /// Unix ms of the last byte from the master.
    pub last_io_ms: i64,
    /// Unix ms when the link went down (0: never up).
    pub down_since_ms: i64,
    /// Bytes read from the master stream (slave_read_repl_offset).
    pub read_offset: i64,
    /// Snapshot size when known (-1: EOF-marked) and bytes read, during a transfer.
    pub transfer_size: i64,
    /// Bytes of the snapshot read so far.
    pub transfer_read: i64,
    /// Unix ms the transfer started.
    pub transfer_start_ms: i64,
    /// The master connection's selected database (repl-stream-db when saving).
    pub db: usize,
}

/// The master history we can continue by PSYNC (Redis's cached master).
#[derive(Debug, Clone)]
pub struct Cached {
    /// Replication ID.
    pub replid: String,
    /// Offset of the last byte we applied.
    pub offset: i64,
    /// Database the stream had selected.
    pub db: usize,
}

/// A node's replication state.
#[derive(Debug)]
pub struct Replication {
    /// Current replication ID (`master_replid`).
    pub replid: String,
    /// Previous ID (`master_replid2`), or [`NO_REPLID`].
    pub replid2: String,
    /// Offset of the last stream byte (`master_repl_offset`).
    pub offset: i64,
    /// First offset not valid under `replid2` (`second_repl_offset`, -1: none).
    pub second_offset: i64,
    /// The backlog, created when the first replica attaches.
    pub backlog: Option<Backlog>,
    /// Database the stream last SELECTed (-1: send SELECT before the next write).
    pub stream_db: i64,
    /// Attached replicas by client id.
    pub replicas: BTreeMap<u64, ReplicaLink>,
    /// Unix ms since when no replica is attached (backlog TTL).
    pub no_replicas_since_ms: i64,
    /// Inside EXEC: `Some(false)` until MULTI went into the stream, then `Some(true)`.
    pub exec_wrap: Option<bool>,
    /// Our master, when we are a replica.
    pub master: Option<MasterLink>,
    /// History to offer in PSYNC.
    pub cached: Option<Cached>,
    /// Unix ms since when replicas wait for a diskless snapshot to start.
    pub diskless_wait_since_ms: i64,
    /// Full syncs served (INFO stats sync_full).
    pub sync_full: u64,
    /// Partial resyncs accepted (sync_partial_ok).
    pub sync_partial_ok: u64,
    /// Partial resyncs refused (sync_partial_err).
    pub sync_partial_err: u64,
    /// Snapshot being sent as replication's own BGSAVE to disk.
    pub disk_sync_running: bool,
    /// A FAILOVER under way.
    pub failover: Option<failover::Failover>,
    scratch: Vec<u8>,
}

impl Replication {
    /// A fresh identity.
    pub fn new() -> Replication {
        Replication {
            replid: super::state::random_hex(40),
            replid2: NO_REPLID.to_string(),
            offset: 0,
            second_offset: -1,
            backlog: None,
            stream_db: -1,
            replicas: BTreeMap::new(),
            no_replicas_since_ms: super::clock::now_ms(),
            exec_wrap: None,
            master: None,
            cached: None,
            diskless_wait_since_ms: 0,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            disk_sync_running: false,
            failover: None,
            scratch: Vec::new(),
        }
    }

    /// Whether writes are streamed (a backlog exists: some replica attached once).
    #[inline]
    pub fn active(&self) -> bool {
        self.backlog.is_some()
    }

    /// Creates the backlog if there is none; its history starts after the current offset.
    pub fn ensure_backlog(&mut self, size: i64) {
        if self.backlog.is_none() {
            self.backlog = Some(Backlog::new(backlog_size(size)));
        }
    }

    /// Applies a changed `repl-backlog-size` to the backlog (CONFIG SET), keeping the newest
    /// history.
    pub fn resize_backlog(&mut self, size: i64) {
        if let Some(b) = self.backlog.as_mut() {
            let want = backlog_size(size);
            if b.size() != want {
                b.set_size(want);
            }
        }
    }

    /// `repl_backlog_first_byte_offset`.
    pub fn backlog_first_byte(&self) -> i64 {
        match &self.backlog {
            Some(b) => self.offset - b.histlen() as i64 + 1,
            None => 0,
        }
    }

    /// Starts a new history (Redis's shiftReplicationId): the current ID becomes `replid2`,
    /// valid up to the current offset, and a new random ID is taken.
    pub fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, super::state::random_hex(40));
        self.second_offset = self.offset + 1;
    }

    /// Forgets `replid2`.
    pub fn clear_replid2(&mut self) {
        self.replid2 = NO_REPLID.to_string();
        self.second_offset = -1;
    }

    /// Appends a write to the stream (master side): SELECT when the database changes,
    /// MULTI before the first write of an EXEC, then the command as a RESP array.
    pub fn propagate<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A], limits: (i64, i64, i64)) {
        if !self.active() || self.master.is_some() {
            return;
        }
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        encode_write(&mut buf, &mut self.stream_db, &mut self.exec_wrap, db, args);
        self.feed(&buf, limits);
        self.scratch = buf;
    }

    /// Appends raw stream bytes: to the backlog, to every replica past the start of its
    /// snapshot; advances the offset. `limits` is client-output-buffer-limit for replicas.
    pub fn feed(&mut self, bytes: &[u8], limits: (i64, i64, i64)) {
        let Some(b) = self.backlog.as_mut() else {
            return;
        };
        b.append(bytes);
        self.offset += bytes.len() as i64;
        let (mut hard, soft, soft_secs) = limits;
        // As Redis 7.0: a replica's hard limit is never below the backlog size (a replica
        // that falls that far behind could not continue by PSYNC anyway).
        if hard > 0 {
            hard = hard.max(b.size() as i64);
        }
        for r in self.replicas.values_mut() {
            if r.state == LinkState::WaitBgsaveStart || r.dropped {
                continue;
            }
            r.out.extend_from_slice(bytes);
            let now = super::clock::now_ms();
            let limits = (hard, soft, soft_secs);
            if super::client::output_limit_reached(r.out.len(), limits, &mut r.soft_since_ms, now) {
                crate::warning!(
                    "Client id={} addr={} (replica) scheduled to be closed ASAP for overcoming of output buffer limits.",
                    r.info.id,
                    r.info.addr
                );
                r.drop_link();
                continue;
            }
            if r.state == LinkState::Online {
                r.notify.notify_one();
            }
        }
    }

    /// Disconnects every attached replica (they reconnect and PSYNC again).
    pub fn drop_replicas(&mut self) {
        for r in self.replicas.values_mut() {
            r.drop_link();
        }
    }

    /// Replicas online whose last ACK is at most `max_lag` seconds old.
    pub fn good_replicas(&self, now_ms: i64, max_lag: i64) -> usize {
        self.replicas
            .values()
            .filter(|r| r.state == LinkState::Online && (now_ms - r.ack_ms) / 1000 <= max_lag)
            .count()
    }
}

/// Encodes one write as the replication stream and the AOF carry it: SELECT when `db` is
/// not the `selected` one, MULTI before the first write of an EXEC (`wrap` is `Some(false)`
/// until then), then the command as a RESP array.
pub fn encode_write<A: AsRef<[u8]>>(
    buf: &mut Vec<u8>,
    selected: &mut i64,
    wrap: &mut Option<bool>,
    db: usize,
    args: &[A],
) {
    if *selected != db as i64 {
        let n = db.to_string();
        encode(buf, &[b"SELECT".as_slice(), n.as_bytes()]);
        *selected = db as i64;
    }
    if *wrap == Some(false) {
        encode(buf, &[b"MULTI".as_slice()]);
        *wrap = Some(true);
    }
    encode(buf, args);
}

/// The backlog size for a `repl-backlog-size` value (a positive byte count).
pub fn backlog_size(config: i64) -> usize {
    usize::try_from(config.max(1)).unwrap_or(usize::MAX)
}

impl Default for Replication {
    fn default() -> Self {
        Replication::new()
    }
}
