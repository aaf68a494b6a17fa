//! Per-connection state: what the connection task owns ([`Client`]) and the part other
//! clients may look at through CLIENT LIST/KILL ([`ClientInfo`], shared behind an `Arc`).

use super::wakeup::Wakeup;
use crate::resp::Proto;
use bytes::Bytes;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// What CLIENT LIST, CLIENT INFO and CLIENT KILL see of a connection.
#[derive(Debug)]
pub struct ClientInfo {
    /// CLIENT ID.
    pub id: u64,
    /// Peer address `ip:port`.
    pub addr: String,
    /// Local address `ip:port`.
    pub laddr: String,
    /// Connection time, unix ms.
    pub created_ms: i64,
    /// Last command time, unix ms.
    pub last_ms: AtomicI64,
    /// Selected database.
    pub db: AtomicUsize,
    /// CLIENT SETNAME.
    pub name: Mutex<Vec<u8>>,
    /// Name of the last command run.
    pub last_cmd: Mutex<&'static str>,
    /// Set by CLIENT KILL; the connection closes at its next step.
    pub killed: AtomicBool,
    /// Woken by CLIENT KILL (one waiter: the connection task, or its replica link).
    pub kill_notify: Wakeup,
    /// Inside MULTI.
    pub in_multi: AtomicBool,
    /// A CLIENT UNBLOCK waiting to be acted on by the blocked command: one of the
    /// `UNBLOCK_*` values.
    pub unblock: AtomicU8,
    /// Woken by CLIENT UNBLOCK.
    pub unblock_notify: Notify,
    /// CLIENT LIST's flag for a replication link: `S` a replica attached to us, `M` our
    /// master's connection, 0 neither.
    pub repl_flag: AtomicU8,
    /// Subscriptions by kind (channels, patterns, shard channels), for CLIENT LIST's
    /// `sub=`/`psub=`/`ssub=`.
    pub subscriptions: [AtomicUsize; 3],
    /// In MONITOR mode.
    pub monitor: AtomicBool,
    /// Speaks RESP3 (HELLO 3): pushed messages are encoded as push frames.
    pub resp3: AtomicBool,
    /// Messages pushed to this client by others (Pub/Sub, MONITOR, invalidations).
    pub outbox: Outbox,
    /// CLIENT TRACKING flags (`tracking::FLAG_*`; 0: not tracking), for CLIENT LIST.
    pub tracking: AtomicU8,
    /// CLIENT TRACKING REDIRECT id (0: none; -1: not tracking), for CLIENT LIST `redir=`.
    pub tracking_redir: AtomicI64,
    /// The ACL user the connection runs as (CLIENT LIST `user=`).
    pub user: Mutex<Bytes>,
}

/// What other clients push to a connection (Pub/Sub messages, MONITOR lines), encoded and
/// queued under the state lock; the connection task moves the frames into its reply buffer
/// (docs/architecture.md, "Messages pushed by other clients"). A frame is a shared `Bytes`:
/// one message published to many subscribers is encoded once.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Frames waiting for the connection task.
    frames: Mutex<Vec<Bytes>>,
    /// Bytes in `frames` (read without the lock: a cheap emptiness test per request).
    queued: AtomicUsize,
    /// Woken when the first frame is queued (the connection task is the one waiter).
    pub notify: Wakeup,
}

impl Outbox {
    /// Queues `frame`; returns the bytes now queued.
    pub fn push(&self, frame: Bytes) -> usize {
        let mut frames = self.frames.lock().unwrap_or_else(|e| e.into_inner());
        let was_empty = frames.is_empty();
        let n = frame.len();
        frames.push(frame);
        let queued = self.queued.fetch_add(n, Ordering::Relaxed) + n;
        drop(frames);
        if was_empty {
            self.notify.notify_one();
        }
        queued
    }

    /// True when frames wait.
    #[inline]
    pub fn has_frames(&self) -> bool {
        self.queued.load(Ordering::Relaxed) != 0
    }

    /// Bytes queued (INFO mem_clients_normal).
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Moves every queued frame to the end of `buf`; returns the bytes moved.
    pub fn drain_into(&self, buf: &mut Vec<u8>) -> usize {
        let mut frames = self.frames.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for f in frames.drain(..) {
            n += f.len();
            buf.extend_from_slice(&f);
        }
        self.queued.store(0, Ordering::Relaxed);
        n
    }
}

/// No CLIENT UNBLOCK pending.
pub const UNBLOCK_NONE: u8 = 0;
/// CLIENT UNBLOCK ... TIMEOUT: the blocked command replies as if it timed out.
pub const UNBLOCK_TIMEOUT: u8 = 1;
/// CLIENT UNBLOCK ... ERROR: the blocked command replies `-UNBLOCKED ...`.
pub const UNBLOCK_ERROR: u8 = 2;

impl ClientInfo {
    /// A new connection's shared info.
    pub fn new(id: u64, addr: String, laddr: String) -> ClientInfo {
        let now = super::clock::now_ms();
        ClientInfo {
            id,
            addr,
            laddr,
            created_ms: now,
            last_ms: AtomicI64::new(now),
            db: AtomicUsize::new(0),
            name: Mutex::new(Vec::new()),
            last_cmd: Mutex::new("NULL"),
            killed: AtomicBool::new(false),
            kill_notify: Wakeup::new(),
            in_multi: AtomicBool::new(false),
            unblock: AtomicU8::new(UNBLOCK_NONE),
            unblock_notify: Notify::new(),
            repl_flag: AtomicU8::new(0),
            subscriptions: Default::default(),
            monitor: AtomicBool::new(false),
            resp3: AtomicBool::new(false),
            outbox: Outbox::default(),
            tracking: AtomicU8::new(0),
            tracking_redir: AtomicI64::new(-1),
            user: Mutex::new(Bytes::from_static(b"default")),
        }
    }

    /// Subscribed to at least one channel, pattern or shard channel (Redis's
    /// `CLIENT_PUBSUB`).
    pub fn in_pubsub(&self) -> bool {
        self.subscriptions
            .iter()
            .any(|n| n.load(Ordering::Relaxed) != 0)
    }

    /// Redis's getClientType name, as CLIENT LIST/KILL TYPE match it: `replica` (a replica
    /// attached to us), `pubsub`, `master` (our master's connection) or `normal`.
    pub fn type_name(&self) -> &'static str {
        match self.repl_flag.load(Ordering::Relaxed) {
            b'S' => "replica",
            _ if self.in_pubsub() => "pubsub",
            b'M' => "master",
            _ => "normal",
        }
    }

    /// One CLIENT LIST line (without the trailing newline), in Redis 7.0's field order.
    pub fn describe(&self) -> String {
        let now = super::clock::now_ms();
        let name = String::from_utf8_lossy(&self.name.lock().unwrap()).into_owned();
        let multi = self.in_multi.load(Ordering::Relaxed);
        // In Redis's order: S/O, M, P, x.
        let mut flags = String::new();
        match self.repl_flag.load(Ordering::Relaxed) {
            b'S' => flags.push('S'),
            b'M' => flags.push('M'),
            _ => {}
        }
        if self.monitor.load(Ordering::Relaxed) {
            flags.insert(0, 'O');
        }
        if self.in_pubsub() {
            flags.push('P');
        }
        if multi {
            flags.push('x');
        }
        let tracking = self.tracking.load(Ordering::Relaxed);
        for (bit, c) in [(1, 't'), (2, 'R'), (4, 'B')] {
            if tracking & bit != 0 {
                flags.push(c);
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let sub = |i: usize| self.subscriptions[i].load(Ordering::Relaxed);
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir={} resp={}",
            self.id,
            self.addr,
            self.laddr,
            name,
            (now - self.created_ms) / 1000,
            (now - self.last_ms.load(Ordering::Relaxed)) / 1000,
            flags,
            self.db.load(Ordering::Relaxed),
            sub(0),
            sub(1),
            sub(2),
            if multi { 0 } else { -1 },
            self.last_cmd.lock().unwrap(),
            String::from_utf8_lossy(&self.user.lock().unwrap()),
            self.tracking_redir.load(Ordering::Relaxed),
            if self.resp3.load(Ordering::Relaxed) {
                3
            } else {
                2
            },
        )
    }

    /// CLIENT UNBLOCK: asks the blocking command this client waits in to end with `how`
    /// (`UNBLOCK_TIMEOUT` or `UNBLOCK_ERROR`). False when an unblock is already pending.
    pub fn request_unblock(&self, how: u8) -> bool {
        let ok = self
            .unblock
            .compare_exchange(UNBLOCK_NONE, how, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if ok {
            self.unblock_notify.notify_one();
        }
        ok
    }

    /// Asks the connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_notify.notify_one();
    }
}

/// A WATCHed key: where, and its version when WATCH ran.
#[derive(Clone, Debug)]
pub struct Watched {
    pub db: usize,
    pub key: Bytes,
    pub version: u64,
    /// Whether the key was logically expired when watched (Redis 7.0 then ignores its
    /// later deletion by expiry).
    pub expired: bool,
}

/// State owned by one connection task.
#[derive(Debug)]
pub struct Client {
    /// Shared view (CLIENT LIST).
    pub info: std::sync::Arc<ClientInfo>,
    /// Selected database.
    pub db: usize,
    /// AUTH done (or no password configured).
    pub authenticated: bool,
    /// The ACL user the connection runs as.
    pub user: Bytes,
    /// That user's rules as last looked up (the permission check's cache).
    pub acl_user: crate::server::acl::CachedUser,
    /// RESP version (HELLO).
    pub proto: Proto,
    /// Commands queued by MULTI, or None outside a transaction.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command failed to queue: EXEC will answer EXECABORT.
    pub multi_failed: bool,
    /// Keys under WATCH.
    pub watched: Vec<Watched>,
    /// CLIENT REPLY OFF/SKIP.
    pub reply_mode: ReplyMode,
    /// True for connections from a loopback address (protected-mode, enable-debug-command local).
    pub is_local: bool,
    /// Deadline (unix ms, i64::MAX for none) of the blocking command this client waits in.
    pub blocked_until: Option<i64>,
    /// This is our master's connection (replica side): its writes are applied even on a
    /// read-only replica, never propagated by us, and it gets no replies.
    pub is_master: bool,
    /// The master asked for an ACK (REPLCONF GETACK).
    pub ack_requested: bool,
    /// REPLCONF listening-port, before PSYNC.
    pub repl_listening_port: u16,
    /// REPLCONF ip-address, before PSYNC.
    pub repl_ip: Option<String>,
    /// REPLCONF capa eof.
    pub repl_capa_eof: bool,
    /// REPLCONF capa psync2.
    pub repl_capa_psync2: bool,
    /// The stream offset just after this client's last propagated write (what WAIT waits
    /// for, as Redis's `c->woff`).
    pub woff: i64,
    /// A blocked XREAD's ids as resolved when it first ran (`$` is the last id then), so
    /// that running it again after a write serves what arrived since.
    pub blocked_stream_ids: Vec<crate::server::types::stream::StreamId>,
    /// Pub/Sub subscriptions of this client (see [`crate::server::pubsub`]).
    pub subs: crate::server::pubsub::ClientSubs,
}

impl Client {
    /// Runs the connection as `user` from now on (AUTH, HELLO AUTH, RESET).
    pub fn set_user(&mut self, user: Bytes) {
        *self.info.user.lock().unwrap() = user.clone();
        self.user = user;
        self.acl_user = Default::default();
    }
}

/// CLIENT REPLY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    Skip,
}

impl Client {
    /// A fresh connection.
    pub fn new(info: std::sync::Arc<ClientInfo>, authenticated: bool, is_local: bool) -> Client {
        Client {
            info,
            db: 0,
            authenticated,
            user: Bytes::from_static(b"default"),
            acl_user: Default::default(),
            proto: Proto::Resp2,
            multi: None,
            multi_failed: false,
            watched: Vec::new(),
            reply_mode: ReplyMode::On,
            is_local,
            blocked_until: None,
            is_master: false,
            ack_requested: false,
            repl_listening_port: 0,
            repl_ip: None,
            repl_capa_eof: false,
            repl_capa_psync2: false,
            woff: 0,
            blocked_stream_ids: Vec::new(),
            subs: Default::default(),
        }
    }

    /// In RESP2 subscriber mode: only (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and
    /// RESET may run.
    pub fn resp2_subscriber(&self) -> bool {
        self.proto == Proto::Resp2 && self.subs.any()
    }

    /// Receives messages pushed by other clients (subscribed or monitoring).
    #[inline]
    pub fn receives_pushes(&self) -> bool {
        self.subs.any()
            || self.info.monitor.load(Ordering::Relaxed)
            || self.info.tracking.load(Ordering::Relaxed) != 0
    }

    /// Its `client-output-buffer-limit` class.
    pub fn class(&self) -> ClientClass {
        if self.subs.any() {
            ClientClass::Pubsub
        } else {
            ClientClass::Normal
        }
    }

    /// Switches RESP version (HELLO, RESET).
    pub fn set_proto(&mut self, proto: Proto) {
        self.proto = proto;
        self.info
            .resp3
            .store(proto == Proto::Resp3, Ordering::Relaxed);
    }
}

/// The client classes of `client-output-buffer-limit`, as indexes into
/// [`crate::config::Config::client_output_buffer_limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientClass {
    /// Every ordinary client.
    Normal = 0,
    /// A replica attached to us.
    Replica = 1,
    /// A client in SUBSCRIBE/PSUBSCRIBE mode.
    Pubsub = 2,
}

impl ClientClass {
    /// This class's `(hard, soft, soft_seconds)` in `config`.
    pub fn limits(self, config: &crate::config::Config) -> (i64, i64, i64) {
        config.client_output_buffer_limit[self as usize]
    }
}

/// Redis's `checkClientOutputBufferLimits`, for every client class: whether `used` bytes of
/// pending output break `limits` = `(hard, soft, soft_seconds)` (0 disables a limit) at
/// `now_ms`. `soft_since_ms` is the client's timer (0: under the soft limit): it starts when
/// the soft limit is first reached, and the soft limit counts as broken only once it has
/// been reached for more than `soft_seconds`.
pub fn output_limit_reached(
    used: usize,
    limits: (i64, i64, i64),
    soft_since_ms: &mut i64,
    now_ms: i64,
) -> bool {
    let (hard, soft, soft_seconds) = limits;
    let used = used as i64;
    let hard_reached = hard > 0 && used >= hard;
    let mut soft_reached = soft > 0 && used >= soft;
    if soft_reached {
        if *soft_since_ms == 0 {
            *soft_since_ms = now_ms;
            soft_reached = false;
        } else if now_ms - *soft_since_ms <= soft_seconds * 1000 {
            soft_reached = false;
        }
    } else {
        *soft_since_ms = 0;
    }
    hard_reached || soft_reached
}

#[cfg(test)]
mod tests {
    use super::output_limit_reached;

    #[test]
    fn hard_limit_at_once_soft_limit_after_its_seconds() {
        let mut t = 0;
        assert!(output_limit_reached(100, (100, 0, 0), &mut t, 1));
        assert!(!output_limit_reached(99, (100, 0, 0), &mut t, 1));
        assert!(!output_limit_reached(usize::MAX / 2, (0, 0, 0), &mut t, 1));
        // soft 10 bytes for 2 s
        assert!(!output_limit_reached(10, (0, 10, 2), &mut t, 1_000));
        assert_eq!(t, 1_000);
        assert!(!output_limit_reached(10, (0, 10, 2), &mut t, 3_000));
        assert!(output_limit_reached(10, (0, 10, 2), &mut t, 3_001));
        // dropping under the soft limit resets the timer
        assert!(!output_limit_reached(9, (0, 10, 2), &mut t, 3_002));
        assert_eq!(t, 0);
        assert!(!output_limit_reached(10, (0, 10, 2), &mut t, 9_000));
    }
}
