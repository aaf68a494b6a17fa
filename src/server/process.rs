//! Process concerns: daemonizing (before any thread exists) and the pidfile.

use std::io;

/// Detaches from the terminal like redis-server's `daemonize yes`: fork, the parent exits,
/// the child starts a new session and points stdin/stdout/stderr at /dev/null.
///
/// Must be called before the tokio runtime (or any other thread) starts.
pub fn daemonize() -> io::Result<()> {
    // SAFETY: called while the process is single-threaded; the child only continues
    // normal execution and the parent exits immediately.
    unsafe {
        match libc::fork() {
            -1 => return Err(io::Error::last_os_error()),
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if fd >= 0 {
            libc::dup2(fd, 0);
            libc::dup2(fd, 1);
            libc::dup2(fd, 2);
            if fd > 2 {
                libc::close(fd);
            }
        }
    }
    Ok(())
}

/// Writes our pid to `path` (errors are logged by the caller, as Redis only warns).
pub fn write_pidfile(path: &str) -> io::Result<()> {
    std::fs::write(path, format!("{}\n", std::process::id()))
}

/// Removes the pidfile at exit.
pub fn remove_pidfile(path: &str) {
    let _ = std::fs::remove_file(path);
}
