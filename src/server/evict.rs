//! `maxmemory`: before a command runs, while the memory in use is above the limit, keys are
//! evicted as `maxmemory-policy` says (Redis's performEvictions), each one streamed to
//! replicas as a DEL. Commands that may grow memory are refused with OOM when nothing can be
//! evicted (always under `noeviction`).
//!
//! As in Redis, the choice is approximate: `maxmemory-samples` random keys per database are
//! scored into a pool of the best candidates, and the best goes: the longest idle (LRU), the
//! least frequently used (LFU: score 255 minus the decayed logarithmic counter kept in each
//! key's access field, see `db::access`), the nearest expiry (TTL), or any (random).
//! Replicas do not evict (replica-ignore-maxmemory): the master's DELs keep them equal.

use super::db::access;
use super::state::State;
use crate::config::table::MAXMEMORY_POLICIES;

/// Memory counted against `maxmemory`: everything allocated except the output buffers of
/// replicas (Redis does not count them either, or a slow replica would evict keys).
pub fn used_memory(st: &State) -> usize {
    super::alloc::allocated().saturating_sub(not_counted(st))
}

/// Replica output buffers (INFO's `mem_not_counted_for_evict`).
pub fn not_counted(st: &State) -> usize {
    st.repl
        .replicas
        .values()
        .map(|r| r.out.capacity() + r.pending.capacity() + r.in_flight)
        .sum()
}

/// Evicts keys until memory is under `maxmemory`. Returns false when it is still above the
/// limit (the caller refuses commands that may grow memory).
pub fn perform(st: &mut State) -> bool {
    let max = st.config.maxmemory;
    if max <= 0 || st.config.replicaof.is_some() || used_memory(st) as i64 <= max {
        return true;
    }
    let policy = MAXMEMORY_POLICIES[st.config.maxmemory_policy];
    if policy == "noeviction" {
        return false;
    }
    loop {
        if used_memory(st) as i64 <= max {
            return true;
        }
        let Some((db, key)) = pick(st, policy) else {
            return false;
        };
        if st.dbs[db].remove(&key).is_some() {
            st.stats.evicted_keys += 1;
            st.dirty += 1;
            st.dbs[db].touch(&key);
            st.propagate(db, &[b"DEL".as_slice(), &key]);
            super::notify::notify_server(st, super::notify::EVICTED, "evicted", &key, db);
        }
    }
}

/// A key that may be evicted: (score, database, key); a higher score goes first.
pub type Candidate = (i64, usize, Vec<u8>);

/// How many candidates are kept between evictions (Redis's EVPOOL_SIZE).
const POOL_SIZE: usize = 16;

/// The next key to evict. `maxmemory-samples` random keys of each database are scored and
/// merged into a pool of the best candidates kept between calls (as Redis's eviction pool),
/// which keeps recently used keys out far better than the best of one sample would.
fn pick(st: &mut State, policy: &str) -> Option<(usize, Vec<u8>)> {
    let volatile = policy.starts_with("volatile");
    let random = policy.ends_with("random");
    let by_ttl = policy == "volatile-ttl";
    let lfu = policy.ends_with("lfu");
    let samples = st.config.maxmemory_samples.max(1) as usize;
    let ndbs = st.dbs.len();
    if random {
        // Any key: from a random database, so none is favoured.
        let first = (st.next_random() % ndbs as u64) as usize;
        for dbi in (0..ndbs).map(|i| (first + i) % ndbs) {
            let seed = st.next_random();
            let db = &st.dbs[dbi];
            let key = if volatile {
                db.random_volatile_key(seed).map(|(k, _)| k)
            } else {
                db.random_key(seed)
            };
            if let Some(k) = key {
                return Some((dbi, k.as_bytes().to_vec()));
            }
        }
        return None;
    }
    let mut pool = std::mem::take(&mut st.evict_pool);
    for dbi in 0..ndbs {
        for _ in 0..samples {
            let seed = st.next_random();
            let db = &st.dbs[dbi];
            let found = if volatile {
                db.random_volatile_key(seed)
                    .map(|(k, at)| (k.as_bytes().to_vec(), at))
            } else {
                db.random_key(seed).map(|k| (k.as_bytes().to_vec(), 0))
            };
            let Some((key, at)) = found else {
                break;
            };
            let field = db.entry(&key).map_or(0, |e| e.atime);
            let score = if by_ttl {
                -at
            } else if lfu {
                255 - access::counter(field) as i64
            } else {
                access::idle_seconds(field) as i64
            };
            if pool.iter().any(|c| c.1 == dbi && c.2 == key) {
                continue;
            }
            pool.push((score, dbi, key));
        }
    }
    pool.sort_by_key(|c| std::cmp::Reverse(c.0));
    pool.truncate(POOL_SIZE);
    // The best candidate that still exists.
    let mut chosen = None;
    while !pool.is_empty() {
        let (_, db, key) = pool.remove(0);
        if st.dbs[db].contains(&key) {
            chosen = Some((db, key));
            break;
        }
    }
    st.evict_pool = pool;
    chosen
}
