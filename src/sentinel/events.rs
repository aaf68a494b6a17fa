//! Sentinel events (sentinel.c's `sentinelEvent`): each is logged as `<type> <message>` and
//! published to the sentinel's own subscribers on the channel named by the type
//! (`+sdown`, `+switch-master`, ...). The sentinel's pub/sub is this small fan-out, apart
//! from the server's. Warning-level events of a master also queue its notification script
//! ([`super::scripts`]).

use super::scripts::Queue;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::broadcast;

/// A published event: (channel, message).
pub type Event = (String, String);

/// The fan-out to subscribers, and the script queue the events feed.
pub struct Events {
    tx: broadcast::Sender<Event>,
    scripts: Mutex<Queue>,
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
            scripts: Mutex::new(Queue::default()),
        }
    }

    /// A new subscriber's receiver.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Logs `kind msg` (at warning level when `warning`, else notice) and publishes `msg`
    /// on channel `kind`. For events about no master (`+tilt`, script errors).
    pub fn emit(&self, warning: bool, kind: &str, msg: &str) {
        if warning {
            crate::warning!("{kind} {msg}");
        } else {
            crate::notice!("{kind} {msg}");
        }
        self.publish(kind, msg);
    }

    /// A warning-level event about a master (or one of its instances): emitted, and the
    /// master's notification script (`notify`) queued with `kind msg` as arguments.
    pub fn warn(&self, notify: Option<&str>, kind: &str, msg: &str) {
        self.emit(true, kind, msg);
        if let Some(path) = notify {
            self.schedule(vec![path.to_string(), kind.to_string(), msg.to_string()]);
        }
    }

    /// Publishes without logging (PUBLISH from a client, debug-level events).
    pub fn publish(&self, channel: &str, msg: &str) {
        let _ = self.tx.send((channel.to_string(), msg.to_string()));
    }

    /// Queues a script execution (`argv[0]` is the script).
    pub fn schedule(&self, argv: Vec<String>) {
        self.scripts().schedule(argv);
    }

    /// The script queue, locked.
    pub fn scripts(&self) -> MutexGuard<'_, Queue> {
        self.scripts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the script queue's timer tick and emits what it reports.
    pub fn run_scripts(&self, now: i64) {
        let out = self.scripts().tick(now);
        for (kind, msg) in out {
            self.emit(true, kind, &msg);
        }
    }
}
