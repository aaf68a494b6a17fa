//! Pub/Sub: who is subscribed to what, and delivery of published messages.
//!
//! The server-wide registry ([`PubSub`], in the state) maps each channel, pattern and shard
//! channel to its subscribers; each client keeps its own sets ([`ClientSubs`]) for its
//! replies' counts and for UNSUBSCRIBE without arguments. Publishing costs O(subscribers +
//! patterns): a message is encoded once per frame shape (RESP2 array or RESP3 push) into a
//! shared `Bytes` and queued on each subscriber's [`Outbox`](super::client::Outbox); the
//! subscriber's connection task writes it with its own replies.

pub mod monitor;

use super::client::{Client, ClientInfo};
use crate::resp::{Proto, ReplyBuf};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The three kinds of subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE: one channel.
    Channel = 0,
    /// PSUBSCRIBE: a glob pattern over channel names.
    Pattern = 1,
    /// SSUBSCRIBE: a shard channel (the same as a channel without cluster mode, but a
    /// separate namespace).
    Shard = 2,
}

impl Kind {
    /// The reply names: (subscribe, unsubscribe).
    fn names(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Kind::Channel => (b"subscribe", b"unsubscribe"),
            Kind::Pattern => (b"psubscribe", b"punsubscribe"),
            Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
        }
    }
}

/// One client's subscriptions, by kind.
#[derive(Debug, Default)]
pub struct ClientSubs([HashSet<Bytes>; 3]);

impl ClientSubs {
    /// Subscribed to anything.
    #[inline]
    pub fn any(&self) -> bool {
        self.0.iter().any(|s| !s.is_empty())
    }

    /// The count a (un)subscribe reply carries: channels + patterns, or shard channels.
    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.0[2].len(),
            _ => self.0[0].len() + self.0[1].len(),
        }
    }
}

/// Subscribers by channel, pattern and shard channel; MONITOR clients.
#[derive(Default)]
pub struct PubSub {
    subs: [HashMap<Bytes, Vec<Arc<ClientInfo>>>; 3],
    /// Clients in MONITOR mode.
    pub monitors: Vec<Arc<ClientInfo>>,
}

/// Where a published message goes besides subscribers' outboxes: the publishing client
/// itself is served through its own reply buffer, so its message precedes its reply.
pub struct Publisher<'a> {
    /// The publishing client's id.
    pub id: u64,
    /// Its reply buffer (None when the server itself publishes: expiry, eviction).
    pub out: Option<&'a mut ReplyBuf>,
    /// The `pubsub` class hard limit (bytes, 0 for none) of `client-output-buffer-limit`.
    pub hard_limit: i64,
}

impl<'a> Publisher<'a> {
    /// A publisher with the `pubsub` class hard limit of `config`.
    pub fn new(id: u64, out: Option<&'a mut ReplyBuf>, config: &crate::config::Config) -> Self {
        Publisher {
            id,
            out,
            hard_limit: super::client::ClientClass::Pubsub.limits(config).0,
        }
    }

    /// The server itself (no client to answer).
    pub fn server(config: &crate::config::Config) -> Self {
        Publisher::new(u64::MAX, None, config)
    }
}

impl PubSub {
    /// Number of channels, patterns or shard channels with subscribers (INFO).
    pub fn count(&self, kind: Kind) -> usize {
        self.subs[kind as usize].len()
    }

    /// Names of `kind` with subscribers (PUBSUB CHANNELS / SHARDCHANNELS).
    pub fn names(&self, kind: Kind) -> impl Iterator<Item = &Bytes> {
        self.subs[kind as usize].keys()
    }

    /// Every subscription of `kind`: the name and its subscribers (ACL SETUSER's check of
    /// subscribers that lose a channel).
    pub fn subscriptions(&self, kind: Kind) -> impl Iterator<Item = (&Bytes, &[Arc<ClientInfo>])> {
        self.subs[kind as usize]
            .iter()
            .map(|(n, c)| (n, c.as_slice()))
    }

    /// Subscribers of one channel or shard channel (PUBSUB NUMSUB / SHARDNUMSUB).
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.subs[kind as usize].get(name).map_or(0, Vec::len)
    }

    /// Subscribes `client` to `names` and replies once per name, as Redis does.
    pub fn subscribe(
        &mut self,
        client: &mut Client,
        out: &mut ReplyBuf,
        kind: Kind,
        names: &[Bytes],
    ) {
        let k = kind as usize;
        for name in names {
            if client.subs.0[k].insert(name.clone()) {
                self.subs[k]
                    .entry(name.clone())
                    .or_default()
                    .push(client.info.clone());
                client.info.subscriptions[k].fetch_add(1, Ordering::Relaxed);
            }
            reply_subscription(out, kind.names().0, Some(name), client.subs.count(kind));
        }
    }

    /// Unsubscribes `client` from `names` (every subscription of `kind` when empty) and
    /// replies once per name; with nothing to leave, one reply with a null name.
    pub fn unsubscribe(
        &mut self,
        client: &mut Client,
        out: &mut ReplyBuf,
        kind: Kind,
        names: &[Bytes],
    ) {
        let k = kind as usize;
        let all: Vec<Bytes>;
        let names = if names.is_empty() {
            all = client.subs.0[k].iter().cloned().collect();
            if all.is_empty() {
                reply_subscription(out, kind.names().1, None, client.subs.count(kind));
                return;
            }
            &all[..]
        } else {
            names
        };
        for name in names {
            self.remove(client, kind, name);
            reply_subscription(out, kind.names().1, Some(name), client.subs.count(kind));
        }
    }

    /// Drops every subscription of `client`, without replies (disconnect, RESET).
    pub fn remove_client(&mut self, client: &mut Client) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            let names: Vec<Bytes> = client.subs.0[kind as usize].iter().cloned().collect();
            for name in &names {
                self.remove(client, kind, name);
            }
        }
        self.set_monitor(&client.info, false);
    }

    fn remove(&mut self, client: &mut Client, kind: Kind, name: &Bytes) {
        let k = kind as usize;
        if !client.subs.0[k].remove(name) {
            return;
        }
        client.info.subscriptions[k].fetch_sub(1, Ordering::Relaxed);
        let id = client.info.id;
        if let Some(list) = self.subs[k].get_mut(name) {
            list.retain(|c| c.id != id);
            if list.is_empty() {
                self.subs[k].remove(name);
            }
        }
    }

    /// Enters or leaves MONITOR mode.
    pub fn set_monitor(&mut self, info: &Arc<ClientInfo>, on: bool) {
        let was = info.monitor.swap(on, Ordering::Relaxed);
        if on && !was {
            self.monitors.push(info.clone());
        } else if !on && was {
            self.monitors.retain(|c| c.id != info.id);
        }
    }

    /// PUBLISH (`Kind::Channel`: channel subscribers, then matching patterns) or SPUBLISH
    /// (`Kind::Shard`); returns the number of deliveries.
    pub fn publish(
        &self,
        kind: Kind,
        channel: &[u8],
        message: &[u8],
        from: &mut Publisher,
    ) -> usize {
        let mut delivered = 0;
        let (name, nsub): (&[u8], usize) = match kind {
            Kind::Shard => (b"smessage", 3),
            _ => (b"message", 3),
        };
        if let Some(list) = self.subs[kind as usize].get(channel) {
            let mut frames = Frames::new(|proto| encode(proto, nsub, &[name, channel, message]));
            for c in list {
                deliver(c, &mut frames, from);
                delivered += 1;
            }
        }
        if kind == Kind::Channel {
            for (pattern, list) in &self.subs[Kind::Pattern as usize] {
                if !super::glob::glob_match(pattern, channel, false) {
                    continue;
                }
                let mut frames = Frames::new(|proto| {
                    encode(proto, 4, &[b"pmessage", pattern, channel, message])
                });
                for c in list {
                    deliver(c, &mut frames, from);
                    delivered += 1;
                }
            }
        }
        delivered
    }
}

/// A message's frames, encoded on first use for each protocol and then shared.
pub struct Frames<F: Fn(Proto) -> Bytes> {
    encode: F,
    resp2: Option<Bytes>,
    resp3: Option<Bytes>,
}

impl<F: Fn(Proto) -> Bytes> Frames<F> {
    /// Frames made by `encode` when first needed.
    pub fn new(encode: F) -> Self {
        Frames {
            encode,
            resp2: None,
            resp3: None,
        }
    }

    /// The frame for a client speaking `proto`.
    pub fn get(&mut self, resp3: bool) -> &Bytes {
        let (slot, proto) = if resp3 {
            (&mut self.resp3, Proto::Resp3)
        } else {
            (&mut self.resp2, Proto::Resp2)
        };
        slot.get_or_insert_with(|| (self.encode)(proto))
    }
}

/// Hands a frame to `to`: straight into the publisher's reply buffer when `to` is the
/// publisher, else onto its outbox; a client whose outbox passes the `pubsub` hard limit is
/// closed, as Redis closes a client over its output buffer limit.
pub fn deliver<F: Fn(Proto) -> Bytes>(
    to: &Arc<ClientInfo>,
    frames: &mut Frames<F>,
    from: &mut Publisher,
) {
    let frame = frames.get(to.resp3.load(Ordering::Relaxed));
    if to.id == from.id
        && let Some(out) = from.out.as_mut()
    {
        out.raw(frame);
        return;
    }
    queue(to, frame.clone(), from.hard_limit);
}

/// Queues `frame` on `to`'s outbox; a client whose outbox passes `hard_limit` (bytes, 0 for
/// none: the hard limit of its `client-output-buffer-limit` class) is closed, as Redis
/// closes a client over its output buffer limit. Checked here, when the frame is queued,
/// because the connection task may not drain its outbox for a while (blocked, flushing).
pub fn queue(to: &ClientInfo, frame: Bytes, hard_limit: i64) {
    if to.killed.load(Ordering::Relaxed) {
        return;
    }
    let queued = to.outbox.push(frame);
    if hard_limit > 0 && queued as i64 >= hard_limit {
        crate::warning!(
            "Client {} scheduled to be closed ASAP for overcoming of output buffer limits.",
            to.describe()
        );
        to.kill();
    }
}

/// Encodes an array (RESP2) or push (RESP3) of `n` bulk strings.
pub fn encode(proto: Proto, n: usize, parts: &[&[u8]]) -> Bytes {
    let mut out = ReplyBuf::new(proto);
    out.push(n);
    for p in parts {
        out.bulk(p);
    }
    Bytes::from(out.buf)
}

/// `subscribe <name> <count>` and its kin; a null name when there was nothing to leave.
fn reply_subscription(out: &mut ReplyBuf, what: &[u8], name: Option<&Bytes>, count: usize) {
    out.push(3);
    out.bulk(what);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
}
