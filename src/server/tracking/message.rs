//! Invalidation messages, encoded as Redis's sendTrackingMessage does and queued on the
//! receiving connection's outbox: a RESP3 push `invalidate`, or (redirected to a RESP2
//! client in Pub/Sub mode) a `message` on `__redis__:invalidate`.

use super::mark_broken;
use crate::server::client::{ClientClass, ClientInfo};
use crate::server::state::State;
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// The channel RESP2 redirect targets receive invalidations on.
pub const CHANNEL: &[u8] = b"__redis__:invalidate";

/// What an invalidation says.
pub enum Payload<'a> {
    /// These keys changed.
    Keys(&'a [&'a [u8]]),
    /// Everything changed (FLUSHDB/FLUSHALL): a null.
    Flush,
}

/// Sends `payload` for tracking client `id`: to itself, or to its redirect target.
pub fn send(state: &mut State, id: u64, payload: Payload) {
    let Some(t) = state.tracking.clients.get(&id) else {
        return;
    };
    let (redirect, own_resp3) = (t.redirect, is_resp3(state, id));
    let target = if redirect != 0 {
        match state.clients.get(&redirect) {
            Some(info) => info.clone(),
            None => {
                // The target is gone: say so to a RESP3 client, and remember it.
                mark_broken(state, id);
                if own_resp3 && let Some(me) = state.clients.get(&id) {
                    let mut f = b">2\r\n$21\r\ntracking-redir-broken\r\n".to_vec();
                    f.extend_from_slice(format!(":{redirect}\r\n").as_bytes());
                    queue(state, me, Bytes::from(f));
                }
                return;
            }
        }
    } else {
        match state.clients.get(&id) {
            Some(info) => info.clone(),
            None => return,
        }
    };
    let mut f = Vec::new();
    if target.resp3.load(Ordering::Relaxed) {
        f.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
    } else if redirect != 0 && target.in_pubsub() {
        f.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n");
        f.extend_from_slice(format!("${}\r\n", CHANNEL.len()).as_bytes());
        f.extend_from_slice(CHANNEL);
        f.extend_from_slice(b"\r\n");
    } else {
        // RESP2 without a redirect: nothing can carry the message.
        return;
    }
    match payload {
        // The null of the tracking client's own protocol, as Redis.
        Payload::Flush if own_resp3 => f.extend_from_slice(b"_\r\n"),
        Payload::Flush => f.extend_from_slice(b"$-1\r\n"),
        Payload::Keys(keys) => {
            f.extend_from_slice(format!("*{}\r\n", keys.len()).as_bytes());
            for k in keys {
                f.extend_from_slice(format!("${}\r\n", k.len()).as_bytes());
                f.extend_from_slice(k);
                f.extend_from_slice(b"\r\n");
            }
        }
    }
    queue(state, &target, Bytes::from(f));
}

/// Queues an invalidation as any reply to `to`: under the output buffer limit of its class
/// (`pubsub` when it is subscribed, else `normal`, as Redis's getClientType).
fn queue(state: &State, to: &ClientInfo, frame: Bytes) {
    let class = if to.in_pubsub() {
        ClientClass::Pubsub
    } else {
        ClientClass::Normal
    };
    crate::server::pubsub::queue(to, frame, class.limits(&state.config).0);
}

fn is_resp3(state: &State, id: u64) -> bool {
    state
        .clients
        .get(&id)
        .is_some_and(|i| i.resp3.load(Ordering::Relaxed))
}
