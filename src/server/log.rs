//! Log lines in Redis's shape: `pid:R DD Mon YYYY HH:MM:SS.mmm L message`, where R is the
//! role (`M` master, `S` replica, `C` child process) and L the level (`.` debug, `-` verbose,
//! `*` notice, `#` warning). The target is stdout or the `logfile`, reopened per line as
//! Redis does, so log rotation works.
//!
//! Never log a password: callers pass only non-secret text.

use crate::config::LogLevel;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

struct Target {
    level: LogLevel,
    /// "" is stdout.
    file: String,
}

static TARGET: Mutex<Target> = Mutex::new(Target {
    level: LogLevel::Notice,
    file: String::new(),
});
static ROLE: AtomicU8 = AtomicU8::new(b'M');

/// Points logging at `file` ("" for stdout) with the given verbosity.
pub fn configure(level: LogLevel, file: &str) {
    let mut t = TARGET.lock().unwrap_or_else(|e| e.into_inner());
    t.level = level;
    t.file = file.to_string();
}

/// Sets the role letter shown in every line (`M`, `S`, `C`).
pub fn set_role(role: u8) {
    ROLE.store(role, Ordering::Relaxed);
}

/// Whether a message at `level` would be written.
pub fn enabled(level: LogLevel) -> bool {
    level >= TARGET.lock().unwrap_or_else(|e| e.into_inner()).level
}

/// Writes one log line.
pub fn log(level: LogLevel, msg: &str) {
    let t = TARGET.lock().unwrap_or_else(|e| e.into_inner());
    if level < t.level {
        return;
    }
    let line = format!(
        "{}:{} {} {} {}\n",
        std::process::id(),
        ROLE.load(Ordering::Relaxed) as char,
        timestamp(),
        level_mark(level),
        msg
    );
    write_to(&t, &line);
}

/// Writes `text` as it is, without the pid/role/time prefix (Redis's `LL_RAW`: the logo).
pub fn raw(level: LogLevel, text: &str) {
    let t = TARGET.lock().unwrap_or_else(|e| e.into_inner());
    if level >= t.level {
        write_to(&t, text);
    }
}

/// The level character of a log line.
fn level_mark(level: LogLevel) -> char {
    match level {
        LogLevel::Debug => '.',
        LogLevel::Verbose => '-',
        LogLevel::Notice => '*',
        LogLevel::Warning => '#',
    }
}

/// Appends to the log file (opened per write, so rotation works) or stdout.
fn write_to(t: &Target, text: &str) {
    if t.file.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    } else if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&t.file)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

/// `25 Nov 2026 04:27:05.424` in local time.
fn timestamp() -> String {
    let now_ms = super::clock::now_ms();
    let secs = (now_ms / 1000) as libc::time_t;
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r writes into the tm we own; strftime writes at most buf.len() bytes.
    let mut buf = [0u8; 64];
    let n = unsafe {
        libc::localtime_r(&secs, &mut tm);
        libc::strftime(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%d %b %Y %H:%M:%S".as_ptr(),
            &tm,
        )
    };
    format!(
        "{}.{:03}",
        String::from_utf8_lossy(&buf[..n]),
        now_ms % 1000
    )
}

/// Logs at notice level (`*`).
#[macro_export]
macro_rules! notice {
    ($($arg:tt)*) => { $crate::server::log::log($crate::config::LogLevel::Notice, &format!($($arg)*)) };
}

/// Logs at warning level (`#`).
#[macro_export]
macro_rules! warning {
    ($($arg:tt)*) => { $crate::server::log::log($crate::config::LogLevel::Warning, &format!($($arg)*)) };
}

/// Logs at verbose level (`-`).
#[macro_export]
macro_rules! verbose {
    ($($arg:tt)*) => { $crate::server::log::log($crate::config::LogLevel::Verbose, &format!($($arg)*)) };
}
