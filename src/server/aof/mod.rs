//! The append-only file, in Redis 7.0's multi-part format: a directory (`appenddirname`)
//! holding a base file, incr files and a manifest.
//!
//! - Every write reaches [`Aof::feed`] from [`State::propagate`], the same call that feeds
//!   replication, encoded by the same function ([`crate::server::replication::encode_write`]):
//!   SELECT on a database change, MULTI/EXEC around transactions and scripts, the rewritten
//!   forms of relative expiries and non-deterministic commands.
//! - [`flush`] writes the buffer after each event-loop batch, before its replies are sent:
//!   with `appendfsync always` it fsyncs first (one fsync per batch: every client of the
//!   batch is committed together); `everysec` hands the fsync to a thread ([`fsync`]).
//! - [`load`] reads it at start-up; [`rewrite`] makes a new base by fork (BGREWRITEAOF,
//!   automatic rewrite); [`manifest`] is the manifest file.

pub mod fsync;
pub mod load;
pub mod manifest;
pub mod rewrite;

use super::state::State;
use crate::{notice, warning};
use manifest::Manifest;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Whether the AOF is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AofState {
    /// `appendonly no`.
    #[default]
    Off,
    /// Written.
    On,
    /// Turned on at run time (or after a full sync): waiting for the first rewrite, whose
    /// base holds the dataset; writes go to the incr file opened at its fork.
    WaitRewrite,
}

/// The `appendfsync` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// fsync in the background once a second.
    EverySec,
    /// fsync before the replies of a batch are sent.
    Always,
    /// Never fsync (the OS writes when it wants).
    No,
}

impl Policy {
    /// The policy of `appendfsync` (an index into `config::table::APPENDFSYNC`).
    pub fn of(index: usize) -> Policy {
        match index {
            1 => Policy::Always,
            2 => Policy::No,
            _ => Policy::EverySec,
        }
    }
}

/// An fsync taking longer than this delays writes (everysec), as Redis.
const POSTPONE_MAX_MS: i64 = 2000;

/// The AOF's state (in [`State::aof`]).
#[derive(Debug, Default)]
pub struct Aof {
    /// Whether it is written.
    pub state: AofState,
    /// The manifest as it is (or will be, in WaitRewrite) on disk.
    pub manifest: Manifest,
    /// The incr file written to.
    file: Option<File>,
    /// Commands not written yet.
    buf: Vec<u8>,
    /// Database the file last SELECTed (-1: SELECT before the next write).
    db: i64,
    /// Inside EXEC: `Some(false)` until MULTI went into the file, then `Some(true)`.
    wrap: Option<bool>,
    /// Unix seconds of the last `#TS:` annotation.
    last_ts: i64,
    /// `aof_current_size`: base plus incr files.
    pub current_size: u64,
    /// `aof_base_size`.
    pub base_size: u64,
    /// Size after the last rewrite or load (auto-aof-rewrite-percentage compares to it).
    pub rewrite_base_size: u64,
    /// The everysec fsync thread.
    fsyncer: fsync::Fsyncer,
    /// Unix ms of the last fsync (started).
    last_fsync_ms: i64,
    /// Bytes written since the last fsync.
    unsynced: bool,
    /// Unix ms since when a write waits for a slow background fsync (0: none).
    postponed_since_ms: i64,
    /// `aof_delayed_fsync`: writes that could not wait any longer for a slow fsync.
    pub delayed_fsync: u64,
    /// `aof_last_write_status`.
    pub last_write_ok: bool,
    /// The errno of the last failed write (MISCONF's text).
    pub last_write_errno: i32,
    /// Unix ms a write error was last logged (logged at most every 30 s, as Redis).
    last_error_log_ms: i64,
    /// Size of the incr file written to, as far as whole writes went (a short write is cut
    /// back to it).
    incr_size: u64,
    /// Rewrite bookkeeping.
    pub rw: rewrite::Rewrites,
    /// Bytes written to the AOF since start (group commit's positions).
    written: u64,
    /// Group commit of `appendfsync always` (see [`Durable`]).
    sync: Arc<SyncPoint>,
}

/// Group commit for `appendfsync always`: the batches of every client write under the lock,
/// then wait outside it for one fsync that covers them all (started by the first waiter, run
/// on the blocking pool), so the clients of one event-loop turn share an fsync, as Redis's
/// beforeSleep does.
#[derive(Debug, Default)]
pub struct SyncPoint {
    /// Bytes written (`Aof::written`), published for the fsync.
    written: AtomicU64,
    /// Bytes known to be on disk.
    synced: AtomicU64,
    /// An fsync is running.
    running: AtomicBool,
    /// The file written to (a duplicate descriptor).
    file: Mutex<Option<File>>,
    /// Wakes the waiters when an fsync ends.
    notify: Notify,
}

impl SyncPoint {
    /// One fsync covering every byte written before it started.
    fn sync_once(&self) {
        let upto = self.written.load(Ordering::Acquire);
        let file = self
            .file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|f| f.try_clone().ok());
        if let Some(f) = file
            && let Err(e) = f.sync_data()
        {
            warning!(
                "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting..."
            );
            std::process::exit(1);
        }
        self.synced.fetch_max(upto, Ordering::AcqRel);
        self.running.store(false, Ordering::Release);
        self.notify.notify_waiters();
    }
}

/// A batch's writes waiting to be on disk before its replies go out (`appendfsync always`).
#[must_use]
pub struct Durable {
    point: Arc<SyncPoint>,
    target: u64,
}

impl Durable {
    /// Resolves once an fsync covered the batch's writes.
    pub async fn wait(self) {
        let p = &self.point;
        loop {
            let n = p.notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if p.synced.load(Ordering::Acquire) >= self.target {
                return;
            }
            if !p.running.swap(true, Ordering::AcqRel) {
                let point = p.clone();
                drop(tokio::task::spawn_blocking(move || point.sync_once()));
            }
            n.await;
        }
    }
}

impl Aof {
    /// A fresh, off AOF.
    pub fn new() -> Aof {
        Aof {
            db: -1,
            last_write_ok: true,
            rw: rewrite::Rewrites::new(),
            ..Default::default()
        }
    }

    /// Whether writes are appended now.
    #[inline]
    pub fn accepting(&self) -> bool {
        self.state == AofState::On || (self.state == AofState::WaitRewrite && self.file.is_some())
    }

    /// Appends a write: `in_exec` says a transaction runs (MULTI goes in first).
    pub fn feed<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A], in_exec: bool, ts: bool) {
        if !self.accepting() {
            return;
        }
        if ts {
            let now = super::clock::now_ms() / 1000;
            if now != self.last_ts {
                self.last_ts = now;
                self.buf
                    .extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
            }
        }
        if in_exec && self.wrap.is_none() {
            self.wrap = Some(false);
        }
        super::replication::encode_write(&mut self.buf, &mut self.db, &mut self.wrap, db, args);
    }

    /// Ends a transaction: whether MULTI went into the file (EXEC must follow).
    pub fn take_wrap(&mut self) -> bool {
        self.wrap.take() == Some(true)
    }

    /// `aof_buffer_length`.
    pub fn buffer_len(&self) -> usize {
        self.buf.len()
    }

    /// `aof_pending_bio_fsync`.
    pub fn fsync_pending(&self) -> bool {
        self.fsyncer.busy()
    }

    /// `aof_last_write_status`: the last write and the last background fsync succeeded.
    pub fn write_status_ok(&self) -> bool {
        self.last_write_ok && self.fsyncer.failed().is_none()
    }

    /// Opens `name` in the AOF directory for appending and makes it the file written to;
    /// the next write starts with a SELECT.
    fn switch_to(&mut self, dir: &std::path::Path, name: &str) -> io::Result<()> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(name))?;
        *self.sync.file.lock().unwrap_or_else(|e| e.into_inner()) = f.try_clone().ok();
        self.incr_size = f.metadata().map(|m| m.len()).unwrap_or(0);
        self.file = Some(f);
        self.db = -1;
        Ok(())
    }
}

/// The AOF directory (relative to `dir`, the working directory).
pub fn dir_path(st: &State) -> PathBuf {
    PathBuf::from(&st.config.appenddirname)
}

/// The manifest's file name.
pub fn manifest_name(st: &State) -> String {
    format!("{}.manifest", st.config.appendfilename)
}

/// Writes the manifest (atomically) into the AOF directory.
pub fn persist_manifest(st: &State) -> io::Result<()> {
    st.aof.manifest.persist(&dir_path(st), &manifest_name(st))
}

/// Writes what the batch appended, fsyncing as `appendfsync` says; called after each
/// event-loop batch under the state lock, before its replies are sent. `force` writes even
/// when a slow background fsync would otherwise postpone it (shutdown, rewrite start).
pub fn flush(st: &mut State, force: bool) {
    let _ = flush_inner(st, force, false);
}

/// [`flush`] for a client's batch: with `appendfsync always` the fsync is not done here but
/// shared with the other batches of this turn (group commit): the caller awaits the returned
/// [`Durable`] after releasing the lock and before sending the batch's replies.
pub fn flush_batch(st: &mut State) -> Option<Durable> {
    flush_inner(st, false, true)
}

fn flush_inner(st: &mut State, force: bool, defer: bool) -> Option<Durable> {
    st.aof.file.as_ref()?;
    let policy = Policy::of(st.config.appendfsync);
    let now = super::clock::now_ms();
    let aof = &mut st.aof;
    if aof.buf.is_empty() {
        // everysec: an fsync is still due for what an earlier flush wrote.
        let due = policy == Policy::EverySec
            && aof.unsynced
            && now - aof.last_fsync_ms >= 1000
            && !aof.fsyncer.busy();
        if !due {
            return None;
        }
    } else {
        if policy == Policy::EverySec && !force && aof.fsyncer.busy() {
            if aof.postponed_since_ms == 0 {
                aof.postponed_since_ms = now;
                return None;
            }
            if now - aof.postponed_since_ms < POSTPONE_MAX_MS {
                return None;
            }
            aof.delayed_fsync += 1;
            notice!(
                "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis."
            );
        }
        aof.postponed_since_ms = 0;
        if !write_buf(aof, policy, now) {
            return None;
        }
    }
    if st.config.no_appendfsync_on_rewrite && st.persistence.child_pid.is_some() {
        return None;
    }
    let aof = &mut st.aof;
    match policy {
        Policy::Always if defer => {
            aof.unsynced = false;
            aof.last_fsync_ms = now;
            return Some(Durable {
                point: aof.sync.clone(),
                target: aof.written,
            });
        }
        Policy::Always => {
            if let Some(f) = aof.file.as_ref()
                && let Err(e) = f.sync_data()
            {
                warning!(
                    "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting..."
                );
                std::process::exit(1);
            }
            aof.unsynced = false;
            aof.last_fsync_ms = now;
            aof.sync.synced.fetch_max(aof.written, Ordering::AcqRel);
        }
        Policy::EverySec => {
            if now - aof.last_fsync_ms >= 1000 && !aof.fsyncer.busy() {
                let dup = aof.file.as_ref().and_then(|f| f.try_clone().ok());
                let queued = dup.is_some_and(|d| aof.fsyncer.submit(d));
                if !queued && let Some(f) = aof.file.as_ref() {
                    let _ = f.sync_data();
                }
                aof.unsynced = false;
                aof.last_fsync_ms = now;
            }
        }
        Policy::No => {}
    }
    None
}

/// Writes the buffer to the incr file. A failed or short write (the file is cut back to
/// its last whole write) leaves what was not written in the buffer for the next try
/// (every batch and cron) and sets `aof_last_write_status:err`, which refuses writes with
/// MISCONF ([`write_error`]); with `appendfsync always` the server exits, as Redis.
fn write_buf(aof: &mut Aof, policy: Policy, now: i64) -> bool {
    let Some(f) = aof.file.as_mut() else {
        return false;
    };
    let mut n = 0;
    let mut failure = None;
    while n < aof.buf.len() {
        match f.write(&aof.buf[n..]) {
            Ok(0) => {
                failure = Some(io::Error::from_raw_os_error(libc::ENOSPC));
                break;
            }
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let Some(e) = failure else {
        aof.current_size += n as u64;
        aof.incr_size += n as u64;
        aof.written += n as u64;
        aof.sync.written.store(aof.written, Ordering::Release);
        aof.buf.clear();
        aof.unsynced = true;
        if !aof.last_write_ok {
            warning!("AOF write error looks solved, Redis can write again.");
        }
        aof.last_write_ok = true;
        return true;
    };
    let log = now - aof.last_error_log_ms >= WRITE_ERROR_LOG_MS;
    if log {
        aof.last_error_log_ms = now;
    }
    if n == 0 {
        if log {
            warning!("Error writing to the AOF file: {}", errno_text(&e));
        }
        aof.last_write_errno = e.raw_os_error().unwrap_or(libc::EIO);
    } else {
        if log {
            warning!(
                "Short write while writing to the AOF file: (nwritten={n}, expected={})",
                aof.buf.len()
            );
        }
        match f.set_len(aof.incr_size) {
            Ok(()) => n = 0,
            Err(e) => {
                if log {
                    warning!(
                        "Could not remove short write from the append-only file.  Redis may refuse to load the AOF the next time it starts.  ftruncate: {}",
                        errno_text(&e)
                    );
                }
            }
        }
        aof.last_write_errno = libc::ENOSPC;
    }
    if policy == Policy::Always {
        warning!(
            "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
        );
        std::process::exit(1);
    }
    aof.last_write_ok = false;
    if n > 0 {
        aof.current_size += n as u64;
        aof.incr_size += n as u64;
        aof.written += n as u64;
        aof.sync.written.store(aof.written, Ordering::Release);
        aof.buf.drain(..n);
        aof.unsynced = true;
    }
    false
}

/// How often a failing AOF write is logged (Redis's AOF_WRITE_LOG_ERROR_RATE).
const WRITE_ERROR_LOG_MS: i64 = 30_000;

/// An OS error's text as C's `strerror` gives it (no ` (os error N)` suffix).
fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => String::from_utf8_lossy(crate::server::log::errno_text(code)).into_owned(),
        None => e.to_string(),
    }
}

/// `-MISCONF Errors writing to the AOF file: <strerror>` while the AOF is on and its last
/// write, or its last background fsync (everysec), failed (Redis's DISK_ERROR_TYPE_AOF):
/// write commands and PING are refused until one succeeds again.
pub fn write_error(st: &State) -> Option<String> {
    if st.aof.state == AofState::Off {
        return None;
    }
    let code = if st.aof.last_write_ok {
        st.aof.fsyncer.failed()?
    } else {
        st.aof.last_write_errno
    };
    Some(format!(
        "MISCONF Errors writing to the AOF file: {}",
        String::from_utf8_lossy(crate::server::log::errno_text(code))
    ))
}

/// Writes and fsyncs everything (shutdown, turning the AOF off, before a rewrite forks).
pub fn flush_and_sync(st: &mut State) {
    flush(st, true);
    if let Some(f) = st.aof.file.as_ref() {
        let _ = f.sync_data();
        st.aof.unsynced = false;
        st.aof.last_fsync_ms = super::clock::now_ms();
        st.aof
            .sync
            .synced
            .fetch_max(st.aof.written, Ordering::AcqRel);
    }
}

/// Redis's prepareForShutdown for an AOF rewrite child: while the first rewrite after
/// CONFIG SET appendonly yes runs, no AOF holds the dataset yet, so the shutdown is refused
/// ("Writing initial AOF, can't exit.") unless `force`; otherwise the child is killed.
/// Returns whether the shutdown may go on.
pub fn shutdown_check(st: &mut State, force: bool) -> bool {
    if !(st.persistence.child_is_aof && st.persistence.child_pid.is_some()) {
        return true;
    }
    if st.aof.state == AofState::WaitRewrite {
        if !force {
            warning!("Writing initial AOF, can't exit.");
            warning!("Errors trying to shut down the server. Check the logs for more information.");
            return false;
        }
        warning!("Writing initial AOF. Exit anyway.");
    }
    warning!("There is a child rewriting the AOF. Killing it!");
    super::persistence::kill_child(st);
    true
}

/// At shutdown: the buffer written and fsynced (Redis's "Calling fsync() on the AOF file.").
pub fn shutdown(st: &mut State) {
    if st.aof.file.is_some() {
        flush(st, true);
        notice!("Calling fsync() on the AOF file.");
        if let Some(f) = st.aof.file.as_ref() {
            let _ = f.sync_data();
        }
    }
}

/// Opens the AOF at start-up (after [`load::load_at_start`]): a base is created from the
/// dataset when there is none, and the last incr file is opened (or a first one created).
pub fn open_at_start(st: &mut State) -> Result<(), String> {
    if !st.config.appendonly {
        return Ok(());
    }
    let dir = dir_path(st);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
    let prefix = st.config.appendfilename.clone();
    let mut changed = false;
    if st.aof.manifest.base.is_none() && st.aof.manifest.incrs.is_empty() {
        let rdb = st.config.aof_use_rdb_preamble;
        let (name, seq) = st.aof.manifest.next_base_name(&prefix, rdb);
        notice!("Creating AOF base file {name} on server start");
        let tmp = format!("temp-rewriteaof-{}.aof", std::process::id());
        rewrite::write_base(st, &tmp, rdb)
            .and_then(|()| std::fs::rename(&tmp, dir.join(&name)))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                format!("Can't create the AOF base file {name}: {e}")
            })?;
        st.aof.base_size = file_size(&dir.join(&name));
        st.aof.manifest.install_base(name, seq, true);
        changed = true;
    }
    let name = match st.aof.manifest.incrs.last() {
        Some(f) => {
            notice!("Opening AOF incr file {} on server start", f.name);
            f.name.clone()
        }
        None => {
            let name = st.aof.manifest.new_incr(&prefix);
            notice!("Creating AOF incr file {name} on server start");
            changed = true;
            name
        }
    };
    st.aof
        .switch_to(&dir, &name)
        .map_err(|e| format!("Can't open the append-only file {name}: {e}"))?;
    if changed {
        persist_manifest(st).map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    }
    st.aof.current_size = total_size(st);
    st.aof.rewrite_base_size = st.aof.current_size;
    st.aof.state = AofState::On;
    st.aof.last_fsync_ms = super::clock::now_ms();
    Ok(())
}

/// The size of a file (0 when it cannot be read).
pub fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Base plus incr files, as on disk.
pub fn total_size(st: &State) -> u64 {
    let dir = dir_path(st);
    st.aof
        .manifest
        .load_order()
        .iter()
        .map(|f| file_size(&dir.join(&f.name)))
        .sum()
}

/// Stops writing the AOF (CONFIG SET appendonly no, before a full sync): what is buffered
/// is written and fsynced, a rewrite in progress is killed.
pub fn stop(st: &mut State) {
    if st.aof.state == AofState::Off {
        return;
    }
    flush_and_sync(st);
    if st.persistence.child_is_aof {
        super::persistence::kill_child(st);
    }
    st.aof.file = None;
    st.aof.buf.clear();
    st.aof.wrap = None;
    st.aof.rw.scheduled = false;
    st.aof.state = AofState::Off;
}

/// Starts writing the AOF at run time (CONFIG SET appendonly yes, after a full sync): a
/// rewrite makes the new base; until it is done the AOF waits (Redis's AOF_WAIT_REWRITE).
pub fn start(st: &mut State) -> Result<(), String> {
    st.aof.state = AofState::WaitRewrite;
    st.aof.file = None;
    if st.persistence.child_pid.is_some() {
        st.aof.rw.scheduled = true;
        return Ok(());
    }
    if let Err(e) = rewrite::start(st) {
        st.aof.state = AofState::Off;
        warning!(
            "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error."
        );
        return Err(e.to_string());
    }
    Ok(())
}

/// A replica that loaded its master's snapshot starts a new base (Redis's
/// restartAOFAfterSYNC): the files written before describe the old dataset.
pub fn restart_after_sync(st: &mut State) {
    if !st.config.appendonly {
        return;
    }
    stop(st);
    if let Err(e) = start(st) {
        warning!("Failed to restart AOF after a full sync: {e}");
    }
}

/// CONFIG SET appendonly: starts or stops the AOF.
pub fn config_changed(st: &mut State) -> Result<(), String> {
    match (st.config.appendonly, st.aof.state) {
        (true, AofState::Off) => start(st),
        (false, AofState::On | AofState::WaitRewrite) => {
            stop(st);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The cron's part: pending writes (postponed, everysec fsyncs), rewrite scheduling.
pub fn cron(st: &mut State) {
    flush(st, false);
    rewrite::cron(st);
}

/// INFO persistence's AOF fields (after `aof_last_write_status`... as Redis orders them).
pub fn info_fields(st: &State, s: &mut String) {
    use std::fmt::Write as _;
    let a = &st.aof;
    let _ = write!(
        s,
        "aof_last_cow_size:{}\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        st.persistence.aof_last_cow
    );
    if a.state != AofState::Off {
        let _ = write!(
            s,
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:{}\r\naof_delayed_fsync:{}\r\n",
            a.current_size,
            a.base_size,
            a.rw.scheduled as u8,
            a.buf.len(),
            a.fsyncer.busy() as u8,
            a.delayed_fsync
        );
    }
}
