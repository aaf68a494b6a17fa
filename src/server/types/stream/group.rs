//! Consumer groups: the group's last delivered id and read counter, its pending entries
//! list (PEL) and its consumers, each with its own PEL, as Redis's streamCG.

use super::StreamId;
use crate::server::sds::Sds;
use std::collections::{BTreeMap, BTreeSet};

/// The read counter value meaning "unknown" (SCG_INVALID_ENTRIES_READ).
pub const INVALID_ENTRIES_READ: i64 = -1;

/// A delivered, not yet acknowledged entry.
#[derive(Clone, Debug)]
pub struct Nack {
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    /// Times delivered.
    pub delivery_count: u64,
    /// The consumer that owns it.
    pub consumer: Sds,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default)]
pub struct Consumer {
    /// Unix ms it was last seen (read or claimed).
    pub seen_time: i64,
    /// The ids it owns in the group's PEL.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug)]
pub struct Group {
    /// Last id delivered to the group.
    pub last_id: StreamId,
    /// Entries read by the group, or [`INVALID_ENTRIES_READ`].
    pub entries_read: i64,
    /// Pending entries of the whole group.
    pub pel: BTreeMap<StreamId, Nack>,
    /// Consumers by name.
    pub consumers: BTreeMap<Sds, Consumer>,
}

impl Group {
    /// A new group at `last_id`.
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Creates the consumer if absent; true if it was created.
    pub fn create_consumer(&mut self, name: &[u8], now_ms: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            Sds::from_slice(name),
            Consumer {
                seen_time: now_ms,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// Deletes a consumer and its pending entries; returns how many it had pending.
    pub fn delete_consumer(&mut self, name: &[u8]) -> u64 {
        let Some(c) = self.consumers.remove(name) else {
            return 0;
        };
        for id in &c.pel {
            self.pel.remove(id);
        }
        c.pel.len() as u64
    }

    /// Removes `id` from the PELs (XACK); true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer[..]) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Gives `id` to `consumer` (which must exist) with these delivery facts, moving it out
    /// of a previous owner's PEL.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time: i64, count: u64) {
        if let Some(prev) = self.pel.get(&id).map(|n| n.consumer.clone())
            && &prev[..] != consumer
            && let Some(c) = self.consumers.get_mut(&prev[..])
        {
            c.pel.remove(&id);
        }
        self.pel.insert(
            id,
            Nack {
                delivery_time: time,
                delivery_count: count,
                consumer: Sds::from_slice(consumer),
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }
}
