//! Snapshots: SAVE (in the foreground), BGSAVE (a forked child writes a copy-on-write image
//! while the parent keeps serving), save points, load at start-up.
//!
//! Files are written as `temp-<pid>.rdb` in `dir`, fsynced, renamed over `dbfilename`, and the
//! directory fsynced, so a crash at any point leaves the previous dump intact.

use super::log::ChildLog;
use super::rdb::autosync::AutoSync;
use super::rdb::{SaveInfo, reader, writer};
use super::state::State;
use crate::{notice, warning};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// BGSAVE bookkeeping.
#[derive(Debug, Default)]
pub struct Persistence {
    /// The saving child, if one runs.
    pub child_pid: Option<i32>,
    /// When it started (unix ms).
    pub child_started_ms: i64,
    /// `dirty` when the child forked (subtracted on success).
    pub dirty_at_fork: u64,
    /// Last background save succeeded.
    pub last_bgsave_ok: bool,
    /// Duration of the last background save, seconds (-1: none yet).
    pub last_bgsave_secs: i64,
    /// Unix ms of the last attempt (failed saves are retried after 5 s).
    pub last_try_ms: i64,
    /// Successful saves since start.
    pub saves: u64,
    /// BGSAVE SCHEDULE asked for a save once the running one ends.
    pub scheduled: bool,
    /// The child writes a diskless replication snapshot to a pipe (its reader reaps it).
    pub child_is_socket: bool,
    /// The child is an AOF rewrite (see `aof::rewrite`): one child at a time, as Redis.
    pub child_is_aof: bool,
    /// What the running child reports (its copy-on-write size).
    pub child_info: Option<super::child_info::Parent>,
    /// `rdb_last_cow_size`: the last successful BGSAVE child's copy-on-write bytes.
    pub rdb_last_cow: u64,
    /// `aof_last_cow_size`: the last successful rewrite child's copy-on-write bytes.
    pub aof_last_cow: u64,
    /// `rdb_last_load_keys_loaded` / `rdb_last_load_keys_expired`: keys the last load
    /// (at start, of a master's snapshot, DEBUG RELOAD) read, and skipped as expired.
    pub last_load_keys: (u64, u64),
}

/// Why write commands (and PING) are refused with MISCONF now, as Redis's
/// writeCommandsDeniedByDiskError: a failed BGSAVE with save points and
/// `stop-writes-on-bgsave-error yes`, or a failed AOF write while the AOF is on.
pub fn disk_error(state: &State) -> Option<crate::server::commands::CmdError> {
    use crate::server::commands::{CmdError, err};
    if !state.persistence.last_bgsave_ok
        && state.config.stop_writes_on_bgsave_error
        && !state.config.save.is_empty()
    {
        return Some(err::MISCONF);
    }
    super::aof::write_error(state).map(CmdError::msg)
}

/// The dump file's path (relative to `dir`, which is the working directory).
pub fn dump_path(state: &State) -> PathBuf {
    PathBuf::from(&state.config.dbfilename)
}

/// The replication position a snapshot corresponds to (repl-id, repl-offset, and the
/// database the stream has selected), so a restarted node can continue by PSYNC.
fn save_info(state: &State) -> SaveInfo {
    let r = &state.repl;
    let db = match &r.master {
        Some(m) => m.db as i64,
        None => r
            .cached
            .as_ref()
            .map_or(r.stream_db.max(0), |c| c.db as i64),
    };
    SaveInfo {
        repl_id: r.replid.clone(),
        repl_offset: r.offset,
        repl_stream_db: db,
        functions: state.scripting.functions.codes(),
        aof_base: false,
    }
}

/// Writes the dataset to `path` atomically (temp file, fsync, rename, fsync dir).
pub fn write_file(state: &State, path: &Path, tmp_name: &str) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let f = File::create(&tmp)?;
        let f = AutoSync::new(f, state.config.rdb_save_incremental_fsync);
        let w = BufWriter::with_capacity(1 << 20, f);
        let w = writer::write_dataset(
            w,
            &state.dbs,
            &save_info(state),
            state.config.rdbchecksum,
            state.config.rdbcompression,
        )?;
        let f = w.into_inner().map_err(|e| e.into_error())?.into_file();
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// SAVE: writes the dump in the foreground. Updates the save bookkeeping.
pub fn save(state: &mut State) -> io::Result<()> {
    let path = dump_path(state);
    let tmp = format!("temp-{}.rdb", std::process::id());
    match write_file(state, &path, &tmp) {
        Ok(()) => {
            notice!("DB saved on disk");
            state.dirty = 0;
            state.lastsave = super::clock::now_ms() / 1000;
            state.persistence.last_bgsave_ok = true;
            state.persistence.saves += 1;
            Ok(())
        }
        Err(e) => {
            warning!("Failed saving the DB: {e}");
            state.persistence.last_bgsave_ok = false;
            Err(e)
        }
    }
}

/// BGSAVE: forks a child that writes the dump. The caller holds the state lock, so the
/// child's copy of memory is a consistent point in time.
pub fn bgsave(state: &mut State) -> io::Result<i32> {
    if state.persistence.child_pid.is_some() {
        return Err(io::Error::other("Background save already in progress"));
    }
    let path = dump_path(state);
    let now = super::clock::now_ms();
    state.persistence.last_try_ms = now;
    let pid = fork_child(
        "Write error saving DB on disk: ",
        |state| {
            let tmp = format!("temp-{}.rdb", std::process::id());
            write_file(state, &path, &tmp)
        },
        state,
    )?;
    notice!("Background saving started by pid {pid}");
    state.persistence.child_pid = Some(pid);
    state.persistence.child_started_ms = now;
    state.persistence.dirty_at_fork = state.dirty;
    Ok(pid)
}

/// Forks a child that runs `work` on its copy of `state` and leaves with `_exit` (errors
/// logged after `what`); returns the child's pid. The caller holds the state lock, so the
/// child's copy is a consistent point in time.
pub fn fork_child(
    what: &str,
    work: impl FnOnce(&State) -> io::Result<()>,
    state: &mut State,
) -> io::Result<i32> {
    let log = ChildLog::prepare();
    // Without the pipe the child still works; only its copy-on-write size goes unreported.
    let (info_parent, info_child) = match super::child_info::pipe() {
        Ok((p, c)) => (Some(p), Some(c)),
        Err(_) => (None, None),
    };
    // SAFETY: the child runs `child_main`: it writes its copy of the state to a file and
    // leaves with _exit, never returning into the runtime it inherited.
    let fork_started = std::time::Instant::now();
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        super::stats::forked(state, fork_started);
    }
    if pid == 0 {
        child_main(Some((&log, what)), || {
            work(&*state)?;
            if let Some(c) = &info_child {
                c.send_cow();
            }
            Ok(())
        });
    }
    state.persistence.child_info = info_parent;
    Ok(pid)
}

/// The body of a forked child: runs `work` and leaves with `_exit` (status 0 on success),
/// never returning into the code the child inherited, even on a panic. An error is logged
/// (`what` then the error) through `log` when given, which takes no lock and allocates nothing (see [`ChildLog`]): after
/// `fork()` a lock held by another thread of the parent (stderr's, the logger's) would never
/// be released in the child.
fn child_main(log: Option<(&ChildLog, &str)>, work: impl FnOnce() -> io::Result<()>) -> ! {
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            if let Some((log, what)) = log {
                log.error(what, &e);
            }
            1
        }
        Err(_) => 2,
    };
    // SAFETY: ends the child without running the parent's destructors or atexit handlers.
    unsafe { libc::_exit(code) }
}

/// Checks whether the BGSAVE child ended and records the outcome (called from the cron).
pub fn reap_child(state: &mut State) {
    let Some(pid) = state.persistence.child_pid else {
        return;
    };
    if state.persistence.child_is_socket {
        return;
    }
    let mut status = 0;
    // SAFETY: plain waitpid on our own child.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if r == 0 {
        return;
    }
    let ok = r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let cow = state.persistence.child_info.take().and_then(|i| i.cow());
    if let Some(cow) = cow.filter(|_| ok) {
        if state.persistence.child_is_aof {
            state.persistence.aof_last_cow = cow;
        } else {
            state.persistence.rdb_last_cow = cow;
        }
    }
    if state.persistence.child_is_aof {
        state.persistence.child_pid = None;
        state.persistence.child_is_aof = false;
        super::aof::rewrite::done(state, pid, ok);
        return;
    }
    let p = &mut state.persistence;
    p.child_pid = None;
    let now = super::clock::now_ms();
    p.last_bgsave_secs = (now - p.child_started_ms) / 1000;
    p.last_bgsave_ok = ok;
    if ok {
        notice!("Background saving terminated with success");
        p.saves += 1;
        state.dirty = state.dirty.saturating_sub(p.dirty_at_fork);
        state.lastsave = p.child_started_ms / 1000;
    } else {
        warning!("Background saving error");
    }
    super::replication::master::disk_snapshot_done(state, ok);
}

/// Starts a BGSAVE when a save point is reached (cron).
pub fn check_save_points(state: &mut State) {
    if state.persistence.child_pid.is_some() {
        return;
    }
    let now = super::clock::now_ms();
    if state.persistence.scheduled {
        state.persistence.scheduled = false;
        let _ = bgsave(state);
        return;
    }
    let since = now / 1000 - state.lastsave;
    let retry_ok = state.persistence.last_bgsave_ok || now - state.persistence.last_try_ms > 5000;
    let due = state
        .config
        .save
        .iter()
        .find(|(secs, changes)| state.dirty >= *changes as u64 && since >= *secs);
    if let (Some(&(secs, changes)), true) = (due, retry_ok) {
        notice!("{changes} changes in {secs} seconds. Saving...");
        if let Err(e) = bgsave(state) {
            warning!("Can't save in background: {e}");
        }
    }
}

/// Forks a child that writes the dataset as RDB into a pipe (diskless replication); returns
/// the child's pid and the pipe's read end. The caller holds the state lock.
pub fn fork_to_pipe(state: &mut State) -> io::Result<(i32, std::os::fd::OwnedFd)> {
    use std::os::fd::{FromRawFd, OwnedFd};
    if state.persistence.child_pid.is_some() {
        return Err(io::Error::other("Background save already in progress"));
    }
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills the two descriptors we own from here on.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: as in `bgsave`: the child only walks its copy of the state and writes to the
    // pipe, then leaves with _exit.
    let fork_started = std::time::Instant::now();
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        super::stats::forked(state, fork_started);
    }
    if pid == 0 {
        drop(rd);
        // As Redis's socket child, a failure (usually every replica gone) is not logged: the
        // parent sees the pipe end and logs the transfer's outcome.
        child_main(None, || {
            let w = BufWriter::with_capacity(1 << 16, File::from(wr));
            writer::write_dataset(
                w,
                &state.dbs,
                &save_info(state),
                state.config.rdbchecksum,
                state.config.rdbcompression,
            )?
            .into_inner()
            .map_err(|e| e.into_error())?;
            Ok(())
        });
    }
    drop(wr);
    state.persistence.child_pid = Some(pid);
    state.persistence.child_is_socket = true;
    state.persistence.child_started_ms = super::clock::now_ms();
    Ok((pid, rd))
}

/// Kills a running BGSAVE child and removes its temp file (before a foreground save at exit).
pub fn kill_child(state: &mut State) {
    state.persistence.child_info = None;
    if let Some(pid) = state.persistence.child_pid.take() {
        // SAFETY: signalling and reaping our own child.
        unsafe {
            libc::kill(pid, libc::SIGUSR1);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        let _ = std::fs::remove_file(format!("temp-{pid}.rdb"));
        if std::mem::take(&mut state.persistence.child_is_aof) {
            let _ = std::fs::remove_file(super::aof::rewrite::temp_name(pid));
            warning!("Killing running AOF rewrite child: {pid}");
            return;
        }
        state.persistence.child_is_socket = false;
        super::replication::master::disk_snapshot_done(state, false);
    }
}

/// Loads the dump at start-up, if there is one, in the loading state (clients are served
/// meanwhile; see [`super::loading`]). A missing file is an empty dataset; a bad one is an
/// error and the file is left as it is.
pub fn load_at_start(shared: &super::state::Shared) -> Result<(), String> {
    let path = dump_path(&shared.lock());
    let bytes = match read_dump(&path)? {
        Some(b) => b,
        None => return Ok(()),
    };
    let mut l = super::loading::Relock::begin(shared, bytes.len() as u64);
    let r = load_dump(&mut l, &path, &bytes, true);
    l.end();
    r
}

/// Loads the dump for DEBUG RELOAD: the data only, as Redis's `rdbLoad(..., NULL, ...)`; the
/// replication ID and offset stay as they are (no backlog is created).
pub fn reload(mut state: &mut State) -> Result<(), String> {
    let path = dump_path(state);
    match read_dump(&path)? {
        Some(bytes) => load_dump(&mut state, &path, &bytes, false),
        None => Ok(()),
    }
}

/// The dump's bytes; None when there is no file.
fn read_dump(path: &std::path::Path) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("Can't read {}: {e}", path.display())),
    }
}

/// Loads an RDB image into the databases, reporting each key to the loader.
pub fn load_rdb_into(
    l: &mut impl super::loading::Loader,
    bytes: &[u8],
) -> Result<reader::LoadInfo, reader::RdbError> {
    let is_master = l.st().config.replicaof.is_none();
    // Loaded into databases of our own, so that the loader may let clients in between
    // keys; they see empty databases until the end.
    let n = l.st().dbs.len();
    let fresh = (0..n).map(|_| super::db::Db::new()).collect();
    let mut dbs = std::mem::replace(&mut l.st().dbs, fresh);
    // Reset when a load starts, set when it succeeds, as Redis's startLoading / rdbLoadRio.
    l.st().persistence.last_load_keys = (0, 0);
    let r = reader::load_with(bytes, &mut dbs, is_master, &mut |p| match p {
        reader::Progress::Key(pos) => l.rdb_key(pos),
        reader::Progress::UsedMem(bytes) => {
            if let Some(loading) = l.st().loading.as_mut() {
                loading.rdb_used_mem = bytes;
            }
        }
        reader::Progress::Aux(key, value) => log_aux(key, value),
    });
    let st = l.st();
    st.dbs = dbs;
    if let Ok(info) = &r {
        st.persistence.last_load_keys = (info.keys, info.expired_skipped);
        notice!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            info.keys,
            info.expired_skipped
        );
    }
    r
}

/// The log lines Redis's rdbLoadRio writes for the AUX fields of a snapshot being loaded.
fn log_aux(key: &[u8], value: &[u8]) {
    let text = String::from_utf8_lossy(value);
    // strtoll's reading: leading digits, 0 when there are none.
    let number = || -> i64 {
        let t = text.trim_start();
        let end = t
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
            .map_or(t.len(), |(i, _)| i);
        t[..end].parse().unwrap_or(0)
    };
    match key {
        [b'%', ..] => notice!("RDB '{}': {text}", String::from_utf8_lossy(key)),
        b"redis-ver" => notice!("Loading RDB produced by version {text}"),
        b"ctime" => {
            let age = (super::clock::now_ms() / 1000 - number()).max(0);
            notice!("RDB age {age} seconds");
        }
        b"used-mem" => notice!(
            "RDB memory usage when created {:.2} Mb",
            number() as f64 / (1024.0 * 1024.0)
        ),
        b"aof-preamble" if number() != 0 => notice!("RDB has an AOF tail"),
        b"aof-base" if number() != 0 => notice!("RDB is base AOF"),
        _ => {}
    }
}

fn load_dump(
    l: &mut impl super::loading::Loader,
    path: &std::path::Path,
    bytes: &[u8],
    with_replication: bool,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    match load_rdb_into(l, bytes) {
        Ok(info) => {
            let state = l.st();
            crate::server::scripting::functions::load_from_rdb(
                &mut state.scripting,
                &info.functions,
            );
            if with_replication {
                super::replication::replica::restore_from_dump(
                    state,
                    info.repl_id,
                    info.repl_offset,
                    info.repl_stream_db.unwrap_or(0),
                );
                // A master that dropped expired keys while loading streams their DELs after
                // the saved offset, so replicas that continue by PSYNC drop them too (as
                // Redis 7.0, RDBFLAGS_FEED_REPL: at start-up only).
                for (db, key) in &info.expired_keys {
                    state.propagate(*db, &[b"DEL".as_slice(), key]);
                }
            }
            notice!(
                "DB loaded from disk: {:.3} seconds",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(e) => {
            // Redis's own words for a bad checksum (log watchers grep for them), then ours
            // with the byte offset.
            for line in e.redis_log_lines().into_iter().flatten() {
                warning!("{line}");
            }
            Err(format!("Failed loading {}: {e}", path.display()))
        }
    }
}
