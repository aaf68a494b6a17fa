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

/// Logging from a forked child (BGSAVE, the diskless sync snapshot). After `fork()` only the
/// forking thread exists, and any lock another thread held (the log target, stdout's, the
/// locale's) stays locked forever, so the child may only make async-signal-safe calls. Everything
/// that needs a lock is read in the parent by [`ChildLog::prepare`]; the child formats the line
/// into a stack buffer and writes it with `getpid`, `clock_gettime`, `open`, `write` and
/// `close`, in Redis's shape with the role `C`.
pub struct ChildLog {
    /// The log file (None: stdout, fd 1).
    path: Option<std::ffi::CString>,
    /// Warnings are written (the level allows them).
    enabled: bool,
    /// The local time's offset from UTC in seconds, read in the parent.
    utc_offset: i64,
}

impl ChildLog {
    /// Reads the log target in the parent, before `fork()`.
    pub fn prepare() -> ChildLog {
        let t = TARGET.lock().unwrap_or_else(|e| e.into_inner());
        let secs = (super::clock::now_ms() / 1000) as libc::time_t;
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: localtime_r writes into the tm we own (in the parent, where locks work).
        unsafe { libc::localtime_r(&secs, &mut tm) };
        ChildLog {
            path: if t.file.is_empty() {
                None
            } else {
                std::ffi::CString::new(t.file.as_bytes()).ok()
            },
            enabled: LogLevel::Warning >= t.level,
            utc_offset: tm.tm_gmtoff,
        }
    }

    /// In the child: writes `<pid>:C <time> # <what><error>`. Allocates nothing and takes
    /// no lock (an OS error's text comes from `strerrordesc_np`, a static table).
    pub fn error(&self, what: &str, e: &std::io::Error) {
        if !self.enabled {
            return;
        }
        let mut line = StackBuf::new();
        // SAFETY: getpid cannot fail.
        push_u64(&mut line, unsafe { libc::getpid() } as u64);
        line.push(b":C ");
        self.push_time(&mut line);
        line.push(b" # ");
        line.push(what.as_bytes());
        match e.raw_os_error() {
            Some(code) => line.push(errno_text(code)),
            // Our own errors (`io::Error::other`) display their message without allocating.
            None => {
                let _ = std::fmt::Write::write_fmt(&mut line, format_args!("{e}"));
            }
        }
        line.push(b"\n");
        self.write(line.as_bytes());
    }

    fn write(&self, bytes: &[u8]) {
        // SAFETY: open/write/close on a NUL-terminated path and a live buffer; all three are
        // async-signal-safe.
        unsafe {
            match &self.path {
                Some(p) => {
                    let fd = libc::open(
                        p.as_ptr(),
                        libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC,
                        0o644,
                    );
                    if fd >= 0 {
                        libc::write(fd, bytes.as_ptr().cast(), bytes.len());
                        libc::close(fd);
                    }
                }
                None => {
                    libc::write(1, bytes.as_ptr().cast(), bytes.len());
                }
            }
        }
    }

    /// `27 Nov 2026 11:11:41.040` in the parent's time zone, computed without localtime.
    fn push_time(&self, out: &mut StackBuf) {
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        // SAFETY: clock_gettime writes into the timespec we own; async-signal-safe.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
        let local = ts.tv_sec + self.utc_offset;
        let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        const MONTHS: [&[u8]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        push_2(out, d as u64);
        out.push(b" ");
        out.push(MONTHS[(m - 1) as usize]);
        out.push(b" ");
        push_u64(out, y as u64);
        out.push(b" ");
        push_2(out, (secs / 3600) as u64);
        out.push(b":");
        push_2(out, (secs / 60 % 60) as u64);
        out.push(b":");
        push_2(out, (secs % 60) as u64);
        out.push(b".");
        let ms = (ts.tv_nsec / 1_000_000) as u64;
        push_2(out, ms / 10);
        push_u64(out, ms % 10);
    }
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian (Howard
/// Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The text of an errno (`No space left on device`), from glibc's static table: no locale
/// lookup, no lock, no allocation (unlike `strerror`).
pub fn errno_text(code: i32) -> &'static [u8] {
    unsafe extern "C" {
        fn strerrordesc_np(errnum: libc::c_int) -> *const libc::c_char;
    }
    // SAFETY: strerrordesc_np returns NULL or a pointer to a static NUL-terminated string.
    let p = unsafe { strerrordesc_np(code) };
    if p.is_null() {
        return b"Unknown error";
    }
    // SAFETY: as above, static and NUL-terminated.
    unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes()
}

/// A fixed buffer on the stack for one log line; what does not fit is cut.
struct StackBuf {
    buf: [u8; 512],
    len: usize,
}

impl StackBuf {
    fn new() -> StackBuf {
        StackBuf {
            buf: [0; 512],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        // Keep room for the final newline.
        let room = self.buf.len() - 1 - self.len;
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        if bytes.ends_with(b"\n") && n < bytes.len() {
            self.buf[self.len] = b'\n';
            self.len += 1;
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

fn push_u64(out: &mut StackBuf, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push(&digits[i..]);
}

fn push_2(out: &mut StackBuf, n: u64) {
    out.push(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_lines_have_redis_shape_and_local_time() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("child.log");
        let log = ChildLog {
            path: Some(std::ffi::CString::new(path.to_str().unwrap()).unwrap()),
            enabled: true,
            utc_offset: 0,
        };
        log.error(
            "Write error saving DB on disk: ",
            &std::io::Error::from_raw_os_error(libc::ENOSPC),
        );
        log.error("x: ", &std::io::Error::other("short write"));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let pid = std::process::id();
        assert!(
            lines[0].starts_with(&format!("{pid}:C "))
                && lines[0].ends_with(" # Write error saving DB on disk: No space left on device"),
            "{text}"
        );
        // `27 Nov 2026 11:11:41.040`: the same shape as the parent's timestamp.
        let time = &lines[0][format!("{pid}:C ").len()..][..24];
        assert_eq!(time.len(), timestamp().len(), "{time} / {}", timestamp());
        assert!(lines[1].ends_with(" # x: short write"), "{text}");
    }
}
