//! The loading state (Redis's `server.loading`): the dataset is loaded at start-up while
//! the server already accepts connections. Commands without the `loading` flag answer
//! `-LOADING` (commands/process.rs), INFO persistence shows `loading:1` and the progress.
//!
//! The loader runs on its own thread and holds the state lock, releasing it now and then so
//! that the event loop serves clients in between, as Redis's `processEventsWhileBlocked`:
//! every `loading-process-events-interval-bytes` of an RDB, every 1024 commands of an AOF.

use super::state::{Shared, State};
use std::cell::RefCell;
use std::sync::MutexGuard;
use std::time::Duration;
use tokio::sync::oneshot;

/// The reply to a command refused while loading.
pub const ERR: &str = "LOADING Redis is loading the dataset in memory";

/// AOF commands run between two rounds of client service (Redis's `loops % 1024`).
const AOF_COMMANDS_PER_ROUND: u64 = 1024;

/// How long the lock is left free for the clients at each round.
const ROUND_PAUSE: Duration = Duration::from_millis(1);

thread_local! {
    /// Told when the loader of this thread holds the lock in the loading state.
    static ON_BEGIN: RefCell<Option<oneshot::Sender<()>>> = const { RefCell::new(None) };
}

/// Runs the start-up `load` on this (blocking) thread. `begun` fires once the load holds
/// the state lock with the loading state set (its total bytes known), or when `load`
/// returns having loaded nothing: the server starts accepting clients then, so no client
/// sees a load that has not begun (redis-server serves clients only from its load's first
/// round of events).
pub fn run_signalling<R>(begun: oneshot::Sender<()>, load: impl FnOnce() -> R) -> R {
    ON_BEGIN.with(|s| *s.borrow_mut() = Some(begun));
    let r = load();
    // Nothing loaded: dropping the sender wakes the waiter.
    ON_BEGIN.with(|s| s.borrow_mut().take());
    r
}

/// Progress of the load in course, for INFO.
#[derive(Debug, Clone, Default)]
pub struct Loading {
    /// Unix time the load started.
    pub start_time: i64,
    /// Bytes to load (the RDB, or every AOF file).
    pub total_bytes: u64,
    /// Bytes loaded so far.
    pub loaded_bytes: u64,
    /// The `used-mem` AUX field of the RDB, when read.
    pub rdb_used_mem: u64,
}

impl Loading {
    /// The `loading_*` lines of INFO persistence, as Redis 7.0's genRedisInfoString.
    pub fn info_fields(&self, out: &mut String) {
        use std::fmt::Write as _;
        let mut perc = 0.0;
        let mut remaining = 1u64;
        if self.total_bytes > 0 {
            perc = self.loaded_bytes as f64 / self.total_bytes as f64 * 100.0;
            remaining = self.total_bytes.saturating_sub(self.loaded_bytes);
        }
        let elapsed = (super::clock::now_ms() / 1000 - self.start_time).max(0) as u64;
        let eta = if elapsed == 0 {
            1
        } else {
            elapsed.saturating_mul(remaining) / (self.loaded_bytes + 1)
        };
        let _ = write!(
            out,
            "loading_start_time:{}\r\nloading_total_bytes:{}\r\nloading_rdb_used_mem:{}\r\nloading_loaded_bytes:{}\r\nloading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n",
            self.start_time, self.total_bytes, self.rdb_used_mem, self.loaded_bytes,
        );
    }
}

/// Access to the state while loading: a plain `&mut State` (DEBUG RELOAD, which blocks as
/// in Redis) or a [`Relock`] that lets clients in now and then.
pub trait Loader {
    /// The state (locked).
    fn st(&mut self) -> &mut State;
    /// One key of an RDB was loaded; `pos` is its end offset in the file being loaded.
    fn rdb_key(&mut self, _pos: usize) {}
    /// One AOF command ran; `pos` is its end offset in the file being loaded.
    fn aof_command(&mut self, _pos: usize) {}
    /// The next file starts at this many bytes of the whole load.
    fn file_offset(&mut self, _offset: u64) {}
}

impl Loader for &mut State {
    fn st(&mut self) -> &mut State {
        self
    }
}

/// The state lock held by the start-up loader, released at each round of client service.
pub struct Relock<'a> {
    shared: &'a Shared,
    guard: Option<MutexGuard<'a, State>>,
    /// Bytes of the files before the current one.
    offset: u64,
    /// Byte count (of the whole load) at which clients are next served.
    next_round: u64,
    commands: u64,
    keys: u64,
}

impl<'a> Relock<'a> {
    /// Locks the state and enters the loading state for `total_bytes`.
    pub fn begin(shared: &'a Shared, total_bytes: u64) -> Relock<'a> {
        let mut guard = shared.lock();
        guard.persistence.last_load_keys = (0, 0);
        guard.loading = Some(Loading {
            start_time: super::clock::now_ms() / 1000,
            total_bytes,
            ..Default::default()
        });
        if let Some(begun) = ON_BEGIN.with(|s| s.borrow_mut().take()) {
            let _ = begun.send(());
        }
        Relock {
            shared,
            guard: Some(guard),
            offset: 0,
            next_round: 0,
            commands: 0,
            keys: 0,
        }
    }

    /// Leaves the loading state (the lock is released when `self` is dropped).
    pub fn end(mut self) {
        self.st().loading = None;
    }

    /// Records the progress and, when due, lets the clients in.
    fn progress(&mut self, pos: usize, due: bool) {
        let loaded = self.offset + pos as u64;
        if let Some(l) = self.st().loading.as_mut() {
            l.loaded_bytes = loaded;
        }
        if due {
            self.serve_clients();
        }
    }

    /// Redis's processEventsWhileBlocked: the lock is left free for a moment, so that the
    /// event loop (blocked on it or waiting for input) runs what it has.
    fn serve_clients(&mut self) {
        self.guard = None;
        std::thread::sleep(ROUND_PAUSE);
        let mut guard = self.shared.lock();
        if guard.shutdown_requested.is_some() {
            super::exit_while_loading(&mut guard);
        }
        self.guard = Some(guard);
    }

    /// Redis's debugDelay(key-load-delay) after each key or AOF command: microseconds;
    /// negative `n`: one microsecond every `-n` (Redis: with a 1/n chance).
    fn key_delay(&mut self) {
        let delay = self.st().config.key_load_delay;
        self.keys += 1;
        let micros = match delay {
            0 => return,
            d if d > 0 => d as u64,
            d if self.keys.is_multiple_of(d.unsigned_abs()) => 1,
            _ => return,
        };
        std::thread::sleep(Duration::from_micros(micros));
    }
}

impl Loader for Relock<'_> {
    fn st(&mut self) -> &mut State {
        // Only `serve_clients` empties the slot, and it refills it before returning.
        self.guard
            .as_deref_mut()
            .expect("the loader holds the state lock")
    }

    fn rdb_key(&mut self, pos: usize) {
        self.key_delay();
        let interval = self
            .st()
            .config
            .loading_process_events_interval_bytes
            .max(1) as u64;
        let loaded = self.offset + pos as u64;
        let due = loaded >= self.next_round;
        if due {
            self.next_round = loaded + interval;
        }
        self.progress(pos, due);
    }

    fn aof_command(&mut self, pos: usize) {
        self.key_delay();
        self.commands += 1;
        if self.commands.is_multiple_of(AOF_COMMANDS_PER_ROUND) {
            self.progress(pos, true);
        }
    }

    fn file_offset(&mut self, offset: u64) {
        self.offset = offset;
        self.progress(0, false);
    }
}
