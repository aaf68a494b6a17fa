//! Sentinel events (sentinel.c's `sentinelEvent`): each is logged as `<type> <message>` and
//! published to the sentinel's own subscribers on the channel named by the type
//! (`+sdown`, `+switch-master`, ...). The sentinel's pub/sub is this small fan-out, apart
//! from the server's.

use tokio::sync::broadcast;

/// A published event: (channel, message).
pub type Event = (String, String);

/// The fan-out to subscribers.
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Events {
    /// A fan-out with no subscribers.
    pub fn new() -> Events {
        Events {
            tx: broadcast::channel(4096).0,
        }
    }

    /// A new subscriber's receiver.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Logs `kind msg` (at warning level when `warning`, else notice) and publishes `msg`
    /// on channel `kind`.
    pub fn emit(&self, warning: bool, kind: &str, msg: &str) {
        if warning {
            crate::warning!("{kind} {msg}");
        } else {
            crate::notice!("{kind} {msg}");
        }
        self.publish(kind, msg);
    }

    /// Publishes without logging (PUBLISH from a client, debug-level events).
    pub fn publish(&self, channel: &str, msg: &str) {
        let _ = self.tx.send((channel.to_string(), msg.to_string()));
    }
}
