//! One logical database (`SELECT n`): the key → value table, the expiry table, and the
//! WATCH bookkeeping for its keys.
//!
//! The tables are `hashbrown::HashTable`s so that SCAN and RANDOMKEY can address buckets
//! directly (a SCAN cursor is a bucket index). Expiry times live in a second table, as in
//! Redis, so keys without a TTL pay nothing for the feature.

pub mod access;

use super::sds::Sds;
use super::types::Value;
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// A key and its value.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The key.
    pub key: Sds,
    /// The value.
    pub value: Value,
    /// The access field ([`access`]): the LRU clock (seconds) of the last access, or under
    /// an LFU policy the LFU minutes and counter.
    pub atime: u32,
}

#[derive(Clone, Debug)]
struct ExpireEntry {
    key: Sds,
    at_ms: i64,
}

/// WATCH state of one key: how many clients watch it and how often it changed since.
#[derive(Clone, Copy, Debug, Default)]
struct Watch {
    watchers: u32,
    version: u64,
}

/// One database.
#[derive(Clone)]
pub struct Db {
    table: HashTable<Entry>,
    expires: HashTable<ExpireEntry>,
    hasher: DefaultHashBuilder,
    watched: HashMap<Sds, Watch>,
    /// Where the active expiry cycle continues in the expiry table (a bucket index).
    expire_cursor: usize,
    /// Keys added while recording (keyspace notification `new`, fired after the command
    /// step that added them; see `notify::flush_new`). None: not recording.
    pub new_keys: Option<Vec<Sds>>,
    /// Keys modified while client-side caching tracks keys (invalidated by
    /// `tracking::flush`). None: nobody tracks.
    pub modified_keys: Option<Vec<Sds>>,
}

impl Default for Db {
    fn default() -> Self {
        Db::new()
    }
}

/// Seconds clock used for access times.
///
/// A cached value, refreshed by the cron (`refresh_lru_clock`), as Redis's `server.lruclock`:
/// reading the clock on every key access costs more than the whole GET.
pub fn lru_clock() -> u32 {
    let c = LRU_CLOCK.load(std::sync::atomic::Ordering::Relaxed);
    if c != 0 { c } else { refresh_lru_clock() }
}

static LRU_CLOCK: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Re-reads the clock into the cached LRU clock; returns it.
pub fn refresh_lru_clock() -> u32 {
    let c = (super::clock::now_ms() / 1000) as u32;
    LRU_CLOCK.store(c, std::sync::atomic::Ordering::Relaxed);
    c
}

impl Db {
    /// An empty database.
    pub fn new() -> Db {
        Db {
            table: HashTable::new(),
            expires: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            watched: HashMap::new(),
            expire_cursor: 0,
            new_keys: None,
            modified_keys: None,
        }
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Number of keys (logically expired ones included until they are reclaimed).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when the database holds no key.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Number of keys with a TTL.
    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// The entry under `key`, without looking at its TTL.
    #[inline]
    pub fn entry(&self, key: &[u8]) -> Option<&Entry> {
        let h = self.hash(key);
        self.table.find(h, |e| e.key.as_bytes() == key)
    }

    /// The value under `key`, without looking at its TTL.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Value> {
        self.entry(key).map(|e| &e.value)
    }

    /// Mutable access to the entry under `key`. The caller must call [`Db::touch`] if it
    /// changes the value.
    #[inline]
    pub fn entry_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let h = self.hash(key);
        self.table.find_mut(h, |e| e.key.as_bytes() == key)
    }

    /// Mutable access to the value under `key` (see [`Db::entry_mut`]).
    #[inline]
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.entry_mut(key).map(|e| &mut e.value)
    }

    /// Sets the access field of `key` ([`access`]) when both are there: a key moved with
    /// its field (RENAME, MOVE), or loaded with a saved one (RDB, RESTORE).
    pub fn set_access(&mut self, key: &[u8], field: Option<u32>) {
        if let (Some(f), Some(e)) = (field, self.entry_mut(key)) {
            e.atime = f;
        }
    }

    /// True when `key` exists (TTL not considered).
    pub fn contains(&self, key: &[u8]) -> bool {
        self.entry(key).is_some()
    }

    /// Stores `value` under `key`. A previous value is replaced; its TTL is dropped unless
    /// `keep_ttl`. Counts as a modification of `key`.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        let h = self.hash(key);
        match self.table.find_mut(h, |e| e.key.as_bytes() == key) {
            Some(e) => {
                e.value = value;
                // Redis's dbSetValue: under LFU the new value keeps the old counter.
                if !access::is_lfu() {
                    e.atime = lru_clock();
                }
            }
            None => {
                if let Some(new) = &mut self.new_keys {
                    new.push(Sds::from_slice(key));
                }
                let hasher = &self.hasher;
                self.table.insert_unique(
                    h,
                    Entry {
                        key: Sds::from_slice(key),
                        value,
                        atime: access::new_field(),
                    },
                    |e| hasher.hash_one(e.key.as_bytes()),
                );
            }
        }
        if !keep_ttl {
            self.remove_expire(key);
        }
        self.touch(key);
    }

    /// Makes room for `keys` more keys and `expires` more TTLs (RDB load uses RESIZEDB's
    /// hint so the tables are not regrown again and again).
    pub fn reserve(&mut self, keys: usize, expires: usize) {
        let hasher = &self.hasher;
        self.table
            .reserve(keys, |e| hasher.hash_one(e.key.as_bytes()));
        self.expires
            .reserve(expires, |e| hasher.hash_one(e.key.as_bytes()));
    }

    /// Inserts `key` unless it exists, in which case the key is handed back and nothing
    /// changes. Does not count as a modification (RDB load).
    pub fn insert_if_absent(&mut self, key: Sds, value: Value) -> Result<(), Sds> {
        let h = self.hash(&key);
        let hasher = &self.hasher;
        match self.table.entry(
            h,
            |e| e.key.as_bytes() == key.as_bytes(),
            |e| hasher.hash_one(e.key.as_bytes()),
        ) {
            hashbrown::hash_table::Entry::Occupied(_) => Err(key),
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(Entry {
                    key,
                    value,
                    atime: access::new_field(),
                });
                Ok(())
            }
        }
    }

    /// Inserts a key known not to exist (RDB load, COPY). Does not count as a modification.
    pub fn insert_new(&mut self, key: Sds, value: Value) {
        let h = self.hash(&key);
        let hasher = &self.hasher;
        self.table.insert_unique(
            h,
            Entry {
                key,
                value,
                atime: access::new_field(),
            },
            |e| hasher.hash_one(e.key.as_bytes()),
        );
    }

    /// Removes `key` and its TTL; returns the old value. Counts as a modification.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let h = self.hash(key);
        let removed = match self.table.find_entry(h, |e| e.key.as_bytes() == key) {
            Ok(occ) => Some(occ.remove().0.value),
            Err(_) => None,
        };
        if removed.is_some() {
            self.remove_expire(key);
            self.touch(key);
        }
        removed
    }

    /// The absolute expiry time of `key` in unix milliseconds, if it has one.
    #[inline]
    pub fn expire_at(&self, key: &[u8]) -> Option<i64> {
        if self.expires.is_empty() {
            return None;
        }
        let h = self.hash(key);
        self.expires
            .find(h, |e| e.key.as_bytes() == key)
            .map(|e| e.at_ms)
    }

    /// True when `key` has a TTL that has passed at `now_ms`.
    #[inline]
    pub fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        matches!(self.expire_at(key), Some(at) if at <= now_ms)
    }

    /// Sets the TTL of an existing key.
    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) {
        let h = self.hash(key);
        match self.expires.find_mut(h, |e| e.key.as_bytes() == key) {
            Some(e) => e.at_ms = at_ms,
            None => {
                let hasher = &self.hasher;
                self.expires.insert_unique(
                    h,
                    ExpireEntry {
                        key: Sds::from_slice(key),
                        at_ms,
                    },
                    |e| hasher.hash_one(e.key.as_bytes()),
                );
            }
        }
    }

    /// Drops the TTL of `key`; true if it had one.
    pub fn remove_expire(&mut self, key: &[u8]) -> bool {
        if self.expires.is_empty() {
            return false;
        }
        let h = self.hash(key);
        match self.expires.find_entry(h, |e| e.key.as_bytes() == key) {
            Ok(occ) => {
                occ.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Removes every key. Watched keys that existed count as modified.
    pub fn clear(&mut self) {
        let keys: Vec<Sds> = self
            .watched
            .keys()
            .filter(|k| self.contains(k))
            .cloned()
            .collect();
        for k in keys {
            self.touch(&k);
        }
        self.table = HashTable::new();
        self.expires = HashTable::new();
        self.expire_cursor = 0;
    }

    /// Iterates over all entries (KEYS, SAVE, DEBUG DIGEST).
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.table.iter()
    }

    /// Iterates over (key, expiry) pairs of keys with a TTL.
    pub fn iter_expires(&self) -> impl Iterator<Item = (&Sds, i64)> {
        self.expires.iter().map(|e| (&e.key, e.at_ms))
    }

    /// One SCAN step: calls `f` for the entries in buckets from `cursor` on until about
    /// `count` entries were seen; returns the next cursor (0 when done).
    ///
    /// The cursor is a bucket index, so every key present for the whole scan is returned at
    /// least once as long as the table does not grow meanwhile (a growth may repeat or skip
    /// keys, which SCAN's contract allows for repeats only; see docs/architecture.md).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&Entry)) -> u64 {
        let buckets = self.table.num_buckets();
        let mut i = cursor as usize;
        let mut seen = 0;
        while i < buckets && seen < count.max(1) {
            if let Some(e) = self.table.get_bucket(i) {
                f(e);
                seen += 1;
            }
            i += 1;
        }
        if i >= buckets { 0 } else { i as u64 }
    }

    /// A uniformly random key, or None when empty (`seed` from the server's generator).
    pub fn random_key(&self, seed: u64) -> Option<&Sds> {
        super::types::pick::random_entry(&self.table, seed).map(|e| &e.key)
    }

    /// A uniformly random key that has a TTL, with its expiry time (unix ms).
    pub fn random_volatile_key(&self, seed: u64) -> Option<(&Sds, i64)> {
        super::types::pick::random_entry(&self.expires, seed).map(|e| (&e.key, e.at_ms))
    }

    /// Collects up to `max` keys whose TTL has passed at `now_ms`, looking at no more than
    /// `budget` buckets of the expiry table, continuing where the last call stopped.
    /// Returns the keys and how many TTLs were examined.
    pub fn find_expired(&mut self, now_ms: i64, budget: usize) -> (Vec<Sds>, usize) {
        let buckets = self.expires.num_buckets();
        let mut out = Vec::new();
        let mut examined = 0;
        if self.expires.is_empty() {
            return (out, 0);
        }
        let mut i = self.expire_cursor % buckets;
        for _ in 0..budget.min(buckets) {
            if let Some(e) = self.expires.get_bucket(i) {
                examined += 1;
                if e.at_ms <= now_ms {
                    out.push(e.key.clone());
                }
            }
            i = (i + 1) % buckets;
        }
        self.expire_cursor = i;
        (out, examined)
    }

    /// Marks `key` as modified for WATCH.
    #[inline]
    pub fn touch(&mut self, key: &[u8]) {
        if let Some(m) = &mut self.modified_keys {
            m.push(Sds::from_slice(key));
        }
        if self.watched.is_empty() {
            return;
        }
        if let Some(w) = self.watched.get_mut(key) {
            w.version += 1;
        }
    }

    /// Marks every watched key as modified (SWAPDB, FLUSHALL of a swapped db).
    pub fn touch_all_watched(&mut self) {
        for w in self.watched.values_mut() {
            w.version += 1;
        }
    }

    /// Starts watching `key`; returns its current version.
    pub fn watch(&mut self, key: &[u8]) -> u64 {
        let w = self.watched.entry(Sds::from_slice(key)).or_default();
        w.watchers += 1;
        w.version
    }

    /// Stops watching `key` (one watcher).
    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(w) = self.watched.get_mut(key) {
            w.watchers -= 1;
            if w.watchers == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// The current version of a watched key.
    pub fn watch_version(&self, key: &[u8]) -> u64 {
        self.watched.get(key).map(|w| w.version).unwrap_or(0)
    }

    /// Moves the WATCH table out (SWAPDB swaps data but watchers stay with their db index).
    pub fn swap_data(&mut self, other: &mut Db) {
        std::mem::swap(&mut self.table, &mut other.table);
        std::mem::swap(&mut self.expires, &mut other.expires);
        std::mem::swap(&mut self.hasher, &mut other.hasher);
        self.expire_cursor = 0;
        other.expire_cursor = 0;
        // As Redis's touchAllWatchedKeysInDb: a watched key counts as modified only when it
        // exists in one of the two databases (a missing key stays missing).
        let touched = |me: &Db, other: &Db| -> Vec<Sds> {
            me.watched
                .keys()
                .filter(|k| me.contains(k) || other.contains(k))
                .cloned()
                .collect()
        };
        let (mine, theirs) = (touched(self, other), touched(other, self));
        for k in mine {
            self.touch(&k);
        }
        for k in theirs {
            other.touch(&k);
        }
    }

    /// Shrinks the tables when they are mostly empty (after mass deletions).
    pub fn maybe_shrink(&mut self) {
        let hasher = &self.hasher;
        if self.table.num_buckets() > 64 && self.table.len() * 8 < self.table.num_buckets() {
            self.table
                .shrink_to_fit(|e| hasher.hash_one(e.key.as_bytes()));
        }
        if self.expires.num_buckets() > 64 && self.expires.len() * 8 < self.expires.num_buckets() {
            self.expires
                .shrink_to_fit(|e| hasher.hash_one(e.key.as_bytes()));
            self.expire_cursor = 0;
        }
    }
}
