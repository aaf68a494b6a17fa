//! The memory figures of INFO memory and MEMORY STATS, computed once per request in
//! [`Figures::gather`] (Redis's getMemoryOverheadData plus the allocator figures).
//!
//! Redis's `allocator_*` figures come from jemalloc; this server runs on glibc's malloc
//! (through the counting wrapper of `alloc.rs`), so they come from `mallinfo2()`:
//!
//! | Redis (jemalloc)      | here (glibc)                                         |
//! |-----------------------|------------------------------------------------------|
//! | `allocator_allocated` | `uordblks + hblkhd`: bytes of chunks in use (heap arenas and mmapped chunks, malloc's headers included) |
//! | `allocator_active`    | `arena + hblkhd`: bytes malloc holds from the kernel (arenas, free chunks included, plus mmapped chunks) |
//! | `allocator_resident`  | the same as `allocator_active`: glibc cannot tell which of its free pages are resident, and it only gives memory back by trimming, so everything it holds was touched |
//!
//! so `allocator_frag_*` is malloc's free space inside its arenas, `allocator_rss_*` is 0 /
//! 1.00, and `rss_overhead_*` is everything resident that malloc does not hold (code,
//! thread stacks, the Lua heap's pages come from malloc too).

use crate::server::alloc;
use crate::server::state::State;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `used_memory` right after start-up (before the dataset is loaded).
static STARTUP: AtomicUsize = AtomicUsize::new(0);
/// Highest `used_memory` seen (Redis's stat_peak_memory; CONFIG RESETSTAT keeps it).
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Records `used_memory_startup`: called once the server is initialised, before loading
/// data (Redis's server.initial_memory_usage).
pub fn record_startup() {
    STARTUP.store(alloc::allocated(), Ordering::Relaxed);
    update_peak();
}

/// Raises the peak to the current usage if higher (the cron and INFO call it, as Redis's
/// serverCron and genRedisInfoString do). Returns the peak.
pub fn update_peak() -> usize {
    let used = alloc::allocated();
    PEAK.fetch_max(used, Ordering::Relaxed).max(used)
}

/// What glibc's malloc holds (see the module's table).
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocator {
    /// Bytes in chunks handed out.
    pub allocated: usize,
    /// Bytes held from the kernel.
    pub active: usize,
    /// Bytes resident.
    pub resident: usize,
}

impl Allocator {
    /// Reads malloc's own statistics.
    pub fn read() -> Allocator {
        // SAFETY: mallinfo2 only reads the allocator's counters (it takes each arena's
        // lock briefly) and returns a plain struct.
        let mi = unsafe { libc::mallinfo2() };
        let active = mi.arena + mi.hblkhd;
        Allocator {
            allocated: mi.uordblks + mi.hblkhd,
            active,
            resident: active,
        }
    }
}

/// Every memory figure INFO memory and MEMORY STATS report, gathered at one moment.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// `used_memory`: bytes allocated through the counting allocator.
    pub used: usize,
    /// `used_memory_rss`.
    pub rss: usize,
    /// `used_memory_peak`.
    pub peak: usize,
    /// `used_memory_startup`.
    pub startup: usize,
    /// `mem_replication_backlog`.
    pub backlog: usize,
    /// `mem_clients_slaves`: what replicas' links hold (their unsent stream).
    pub clients_slaves: usize,
    /// `mem_clients_normal`: per normal client its state and the messages queued for it.
    pub clients_normal: usize,
    /// `mem_aof_buffer`.
    pub aof_buffer: usize,
    /// Main and expires hash-table overhead per database with keys: (db, main, expires).
    pub db_tables: Vec<(usize, usize, usize)>,
    /// Keys in all databases.
    pub keys: usize,
    /// The allocator's own view.
    pub allocator: Allocator,
}

/// Hash-table overhead as Redis counts it for a table of `n` entries: the bucket array
/// (a power of two of pointers) plus one dictEntry per entry.
pub fn table_overhead(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        n.next_power_of_two() * 8 + n * 24
    }
}

impl Figures {
    /// Gathers the figures of `state` now.
    pub fn gather(state: &State) -> Figures {
        let used = alloc::allocated();
        let per_client = std::mem::size_of::<crate::server::client::Client>()
            + std::mem::size_of::<crate::server::client::ClientInfo>();
        let replicas = state.repl.replicas.len().min(state.clients.len());
        let clients_normal = state
            .clients
            .values()
            .filter(|c| c.repl_flag.load(Ordering::Relaxed) != b'S')
            .map(|c| per_client + c.outbox.queued_bytes())
            .sum();
        let db_tables: Vec<(usize, usize, usize)> = state
            .dbs
            .iter()
            .enumerate()
            .filter(|(_, db)| !db.is_empty())
            .map(|(i, db)| {
                (
                    i,
                    table_overhead(db.len()),
                    table_overhead(db.expires_len()),
                )
            })
            .collect();
        Figures {
            used,
            rss: alloc::rss(),
            peak: update_peak(),
            startup: STARTUP.load(Ordering::Relaxed),
            backlog: state.repl.backlog.as_ref().map_or(0, |b| b.memory()),
            clients_slaves: crate::server::evict::not_counted(state) + replicas * per_client,
            clients_normal,
            aof_buffer: state.aof.buffer_len(),
            keys: state.dbs.iter().map(|d| d.len()).sum(),
            db_tables,
            allocator: Allocator::read(),
        }
    }

    /// `used_memory_overhead`: start-up memory, replication, clients, AOF buffer and the
    /// databases' hash tables (Redis's mem_total of getMemoryOverheadData).
    pub fn overhead(&self) -> usize {
        let tables: usize = self.db_tables.iter().map(|d| d.1 + d.2).sum();
        self.startup
            + self.backlog
            + self.clients_slaves
            + self.clients_normal
            + self.aof_buffer
            + tables
    }

    /// `used_memory_dataset`: used memory minus the overhead.
    pub fn dataset(&self) -> usize {
        self.used.saturating_sub(self.overhead())
    }

    /// `used_memory_dataset_perc`: the dataset's share of what is above start-up.
    pub fn dataset_perc(&self) -> f64 {
        let net = self.used.saturating_sub(self.startup);
        if net == 0 {
            0.0
        } else {
            self.dataset() as f64 * 100.0 / net as f64
        }
    }

    /// `used_memory_peak_perc`.
    pub fn peak_perc(&self) -> f64 {
        ratio(self.used * 100, self.peak)
    }

    /// `mem_fragmentation_ratio`: RSS over used memory.
    pub fn fragmentation(&self) -> f64 {
        ratio(self.rss, self.used)
    }

    /// `allocator_frag_ratio` and `_bytes`: active over allocated.
    pub fn allocator_frag(&self) -> (f64, i64) {
        let a = &self.allocator;
        (
            ratio(a.active, a.allocated),
            a.active as i64 - a.allocated as i64,
        )
    }

    /// `allocator_rss_ratio` and `_bytes`: resident over active.
    pub fn allocator_rss(&self) -> (f64, i64) {
        let a = &self.allocator;
        (
            ratio(a.resident, a.active),
            a.resident as i64 - a.active as i64,
        )
    }

    /// `rss_overhead_ratio` and `_bytes`: the process's RSS over the allocator's resident.
    pub fn rss_overhead(&self) -> (f64, i64) {
        let a = &self.allocator;
        (
            ratio(self.rss, a.resident),
            self.rss as i64 - a.resident as i64,
        )
    }
}

/// `a / b`, 0 when `b` is 0 (as Redis prints an empty instance's ratios).
pub fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// `total_system_memory`: physical memory of the machine (Redis's zmalloc_get_memory_size).
pub fn system_memory() -> usize {
    // SAFETY: sysconf has no memory effects.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages <= 0 || size <= 0 {
        0
    } else {
        pages as usize * size as usize
    }
}
