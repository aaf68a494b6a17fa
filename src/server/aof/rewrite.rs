//! AOF rewrite (BGREWRITEAOF, automatic rewrite, enabling the AOF at run time): a forked
//! child writes the dataset as a new base while the parent appends to a new incr file opened
//! at the fork; when the child succeeds the base is renamed into the directory, the manifest
//! swapped atomically, and the files it no longer names deleted (unless
//! `aof-disable-auto-gc`). One child at a time: a rewrite asked for while a BGSAVE runs is
//! scheduled, as in Redis.

use super::AofState;
use crate::server::persistence;
use crate::server::rdb::autosync::AutoSync;
use crate::server::rdb::{SaveInfo, writer};
use crate::server::state::State;
use crate::server::types::Value;
use crate::{notice, warning};
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Rewrite bookkeeping (INFO persistence).
#[derive(Debug, Default)]
pub struct Rewrites {
    /// `aof_rewrite_scheduled`: start one when no child runs.
    pub scheduled: bool,
    /// `aof_rewrites`: rewrites started (as Redis counts them).
    pub count: u64,
    /// `aof_rewrites_consecutive_failures`.
    pub consecutive_failures: u64,
    /// The back-off after repeated failures: minutes of the current delay (0: none).
    limit_delay_min: i64,
    /// Unix ms before which scheduled and automatic rewrites wait (0: not waiting).
    limit_until_ms: i64,
    /// `aof_last_rewrite_time_sec` (-1: none yet).
    pub last_secs: i64,
    /// `aof_last_bgrewrite_status`.
    pub last_ok: bool,
    /// Unix ms the running rewrite started.
    pub started_ms: i64,
    /// The running rewrite writes an RDB base (aof-use-rdb-preamble when it forked).
    pub rdb: bool,
}

impl Rewrites {
    /// No rewrite yet.
    pub fn new() -> Rewrites {
        Rewrites {
            last_secs: -1,
            last_ok: true,
            ..Default::default()
        }
    }
}

/// The temp file a rewrite child with `pid` writes (in `dir`), as Redis names it.
pub fn temp_name(pid: i32) -> String {
    format!("temp-rewriteaof-bg-{pid}.aof")
}

/// Writes the dataset as an AOF base into `path` (fsynced): an RDB with `aof-base 1`, or
/// commands that rebuild it.
pub fn write_base(st: &State, path: &str, rdb: bool) -> io::Result<()> {
    let f = File::create(path)?;
    let f = AutoSync::new(f, st.config.aof_rewrite_incremental_fsync);
    let w = BufWriter::with_capacity(1 << 20, f);
    let w = if rdb {
        let info = SaveInfo {
            repl_id: String::new(),
            repl_offset: 0,
            repl_stream_db: -1,
            functions: st.scripting.functions.codes(),
            aof_base: true,
        };
        writer::write_dataset(
            w,
            &st.dbs,
            &info,
            st.config.rdbchecksum,
            st.config.rdbcompression,
        )?
    } else {
        write_commands(w, st)?
    };
    let f = w.into_inner().map_err(|e| e.into_error())?.into_file();
    f.sync_all()
}

/// The dataset as commands: FUNCTION LOAD per library, then per database a SELECT and,
/// per key, SET (strings) or RESTORE (other types, with the DUMP payload), then PEXPIREAT.
fn write_commands<W: Write>(mut w: W, st: &State) -> io::Result<W> {
    use crate::resp::encode_command as encode;
    let mut buf = Vec::new();
    for code in st.scripting.functions.codes() {
        encode(&mut buf, &[b"FUNCTION".as_slice(), b"LOAD", &code]);
    }
    for (i, db) in st.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        let n = i.to_string();
        encode(&mut buf, &[b"SELECT".as_slice(), n.as_bytes()]);
        for e in db.iter() {
            match &e.value {
                Value::Str(s) => encode(&mut buf, &[b"SET".as_slice(), &e.key, s]),
                v => {
                    let payload =
                        crate::server::commands::dump::payload(v, st.config.rdbcompression);
                    encode(
                        &mut buf,
                        &[b"RESTORE".as_slice(), &e.key, b"0", &payload, b"REPLACE"],
                    );
                }
            }
            if let Some(at) = db.expire_at(&e.key) {
                let at = at.to_string();
                encode(&mut buf, &[b"PEXPIREAT".as_slice(), &e.key, at.as_bytes()]);
            }
            if buf.len() >= 1 << 16 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
    }
    w.write_all(&buf)?;
    Ok(w)
}

/// Starts a rewrite: flushes the AOF, opens the next incr file (when the AOF is on or
/// being turned on), forks the child that writes the new base.
pub fn start(st: &mut State) -> io::Result<i32> {
    if st.persistence.child_pid.is_some() {
        return Err(io::Error::other("Another child process is active"));
    }
    super::flush_and_sync(st);
    if !st.aof.buf.is_empty() {
        // The buffer's commands are in the dataset the child would write: written after
        // the fork into the new incr file, they would be applied twice at the next load.
        // The rewrite waits until the AOF can be written again.
        let e = io::Error::from_raw_os_error(st.aof.last_write_errno);
        warning!("Can't rewrite the append only file while its buffer cannot be written: {e}");
        return Err(e);
    }
    let dir = super::dir_path(st);
    std::fs::create_dir_all(&dir)?;
    // With the AOF off there is nothing to append to: the rewrite only makes a new base
    // and manifest (Redis's openNewIncrAofForAppend opens no incr file then).
    if st.aof.state != AofState::Off {
        let prefix = st.config.appendfilename.clone();
        let before = st.aof.manifest.clone();
        let name = st.aof.manifest.new_incr(&prefix);
        let opened = st.aof.switch_to(&dir, &name).and_then(|()| {
            if st.aof.state == AofState::On {
                super::persist_manifest(st)
            } else {
                Ok(())
            }
        });
        if let Err(e) = opened {
            st.aof.manifest = before;
            warning!("Can't open new incr AOF file {name}: {e}");
            return Err(e);
        }
        notice!("Creating AOF incr file {name} on background rewrite");
    }
    let rdb = st.config.aof_use_rdb_preamble;
    let pid = persistence::fork_child(
        "Error writing the AOF base file: ",
        |state| write_base(state, &temp_name(std::process::id() as i32), rdb),
        st,
    )?;
    notice!("Background append only file rewriting started by pid {pid}");
    st.persistence.child_pid = Some(pid);
    st.persistence.child_is_aof = true;
    st.aof.rw.started_ms = crate::server::clock::now_ms();
    st.aof.rw.rdb = rdb;
    st.aof.rw.scheduled = false;
    st.aof.rw.count += 1;
    Ok(pid)
}

/// The rewrite child `pid` ended (`ok`: exit status 0): installs its base.
pub fn done(st: &mut State, pid: i32, ok: bool) {
    let now = crate::server::clock::now_ms();
    st.aof.rw.last_secs = (now - st.aof.rw.started_ms) / 1000;
    let tmp = temp_name(pid);
    if !ok {
        warning!("Background AOF rewrite terminated with error");
        let _ = std::fs::remove_file(&tmp);
        st.aof.rw.last_ok = false;
        failed(st);
        return;
    }
    notice!("Background AOF rewrite terminated with success");
    let dir = super::dir_path(st);
    let prefix = st.config.appendfilename.clone();
    let writing = st.aof.state != AofState::Off;
    if !writing {
        // With the AOF off the manifest was not read at start (Redis reads it whatever
        // `appendonly` says): what an earlier AOF left becomes history, not a clash.
        let text = std::fs::read(dir.join(super::manifest_name(st)));
        if let Some(m) = text
            .ok()
            .and_then(|t| super::manifest::Manifest::parse(&String::from_utf8_lossy(&t)).ok())
        {
            st.aof.manifest = m;
        }
    }
    let (name, seq) = st.aof.manifest.next_base_name(&prefix, st.aof.rw.rdb);
    if let Err(e) = std::fs::rename(&tmp, dir.join(&name)) {
        warning!("Error trying to rename the temporary AOF base file {tmp} into {name}: {e}");
        let _ = std::fs::remove_file(&tmp);
        st.aof.rw.last_ok = false;
        failed(st);
        return;
    }
    notice!("Successfully renamed the temporary AOF base file {tmp} into {name}");
    let before = st.aof.manifest.clone();
    st.aof.manifest.install_base(name.clone(), seq, writing);
    if let Err(e) = super::persist_manifest(st) {
        warning!("Can't persist the AOF manifest after a rewrite: {e}");
        st.aof.manifest = before;
        let _ = std::fs::remove_file(dir.join(&name));
        st.aof.rw.last_ok = false;
        failed(st);
        return;
    }
    if st.aof.state == AofState::WaitRewrite {
        st.aof.state = AofState::On;
    }
    delete_history(st);
    st.aof.base_size = super::file_size(&dir.join(&name));
    st.aof.current_size = super::total_size(st);
    st.aof.rewrite_base_size = st.aof.current_size;
    st.aof.rw.last_ok = true;
    st.aof.rw.consecutive_failures = 0;
    notice!("Background AOF rewrite finished successfully");
}

/// A rewrite failed: counted; when it was the one turning the AOF on, its incr file is
/// dropped (the next attempt opens a new one at its fork) and a new rewrite scheduled, as
/// Redis's backgroundRewriteDoneHandler does.
fn failed(st: &mut State) {
    st.aof.rw.consecutive_failures += 1;
    if st.aof.state != AofState::WaitRewrite {
        return;
    }
    st.aof.file = None;
    st.aof.buf.clear();
    st.aof.wrap = None;
    if let Some(f) = st.aof.manifest.incrs.pop() {
        st.aof.manifest.incr_seq = f.seq - 1;
        notice!(
            "Removing the temp incr aof file {} in the background",
            f.name
        );
        let _ = std::fs::remove_file(super::dir_path(st).join(&f.name));
    }
    st.aof.rw.scheduled = true;
}

/// Rewrites after this many consecutive failures are delayed (Redis's
/// AOF_REWRITE_LIMITE_THRESHOLD), by 1, 2, 4 ... minutes up to an hour.
const LIMIT_THRESHOLD: u64 = 3;
/// The longest delay, minutes (AOF_REWRITE_LIMITE_MAX_MINUTES).
const LIMIT_MAX_MINUTES: i64 = 60;

/// Whether scheduled and automatic rewrites must wait (Redis's aofRewriteLimited): after
/// three consecutive failures the next one waits a minute, then twice as long each time.
/// BGREWRITEAOF is never delayed.
fn limited(rw: &mut Rewrites, now_ms: i64) -> bool {
    if rw.consecutive_failures < LIMIT_THRESHOLD {
        rw.limit_delay_min = 0;
        rw.limit_until_ms = 0;
        return false;
    }
    if rw.limit_until_ms != 0 {
        if now_ms < rw.limit_until_ms {
            return true;
        }
        rw.limit_until_ms = 0;
        return false;
    }
    rw.limit_delay_min = if rw.limit_delay_min == 0 {
        1
    } else {
        (rw.limit_delay_min * 2).min(LIMIT_MAX_MINUTES)
    };
    rw.limit_until_ms = now_ms + rw.limit_delay_min * 60_000;
    warning!(
        "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
        rw.limit_delay_min
    );
    true
}

/// Drops the history files from the manifest, then deletes them (unless
/// `aof-disable-auto-gc`). Redis deletes first and persists after, so a kill in between
/// leaves a manifest naming missing files; in this order it can only leave files no
/// manifest names.
fn delete_history(st: &mut State) {
    if st.config.aof_disable_auto_gc || st.aof.manifest.history.is_empty() {
        return;
    }
    let dir = super::dir_path(st);
    let history = std::mem::take(&mut st.aof.manifest.history);
    if let Err(e) = super::persist_manifest(st) {
        warning!("Can't persist the AOF manifest after removing history files: {e}");
        st.aof.manifest.history = history;
        return;
    }
    for f in &history {
        notice!("Removing the history file {} in the background", f.name);
        let _ = std::fs::remove_file(dir.join(&f.name));
    }
}

/// BGREWRITEAOF's outcome, as Redis replies.
pub enum Requested {
    /// "Background append only file rewriting started".
    Started,
    /// "Background append only file rewriting scheduled".
    Scheduled,
}

/// BGREWRITEAOF: starts a rewrite now, or schedules it when a child runs (or in EXEC).
pub fn request(st: &mut State, in_exec: bool) -> Result<Requested, &'static str> {
    if st.persistence.child_is_aof && st.persistence.child_pid.is_some() {
        return Err("ERR Background append only file rewriting already in progress");
    }
    if st.persistence.child_pid.is_some() || in_exec {
        st.aof.rw.scheduled = true;
        return Ok(Requested::Scheduled);
    }
    match start(st) {
        Ok(_) => Ok(Requested::Started),
        Err(_) => Err(
            "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.",
        ),
    }
}

/// Cron: a scheduled rewrite once no child runs; an automatic one when the AOF grew by
/// `auto-aof-rewrite-percentage` over its size after the last rewrite.
pub fn cron(st: &mut State) {
    if st.persistence.child_pid.is_some() {
        return;
    }
    let now = crate::server::clock::now_ms();
    if st.aof.rw.scheduled {
        if limited(&mut st.aof.rw, now) {
            return;
        }
        if let Err(e) = start(st) {
            warning!("Can't start a scheduled AOF rewrite: {e}");
            st.aof.rw.scheduled = false;
        }
        return;
    }
    let perc = st.config.auto_aof_rewrite_percentage;
    if st.aof.state != AofState::On || perc <= 0 {
        return;
    }
    let size = st.aof.current_size;
    if (size as i64) < st.config.auto_aof_rewrite_min_size {
        return;
    }
    let base = st.aof.rewrite_base_size.max(1);
    let growth = (size as i128 * 100 / base as i128) - 100;
    if growth >= perc as i128 && !limited(&mut st.aof.rw, now) {
        notice!("Starting automatic rewriting of AOF on {growth}% growth");
        if let Err(e) = start(st) {
            warning!("Can't start an automatic AOF rewrite: {e}");
        }
    }
}
