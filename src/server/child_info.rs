//! What a fork child tells its parent (Redis's childinfo.c): its copy-on-write size, the
//! `Private_Dirty` total of its memory (/proc/self/smaps_rollup, else /proc/self/smaps),
//! sent over a pipe when it has written its file. INFO shows it as `rdb_last_cow_size` /
//! `aof_last_cow_size`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The parent's end: read (without blocking) once the child has ended.
#[derive(Debug)]
pub struct Parent {
    rd: OwnedFd,
}

/// The child's end.
#[derive(Debug)]
pub struct Child {
    wr: OwnedFd,
}

/// A pipe for one child (both ends close on exec; the parent's does not block).
pub fn pipe() -> io::Result<(Parent, Child)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills the two descriptors, owned by us from here on.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((Parent { rd }, Child { wr }))
}

impl Child {
    /// In the child, once its work is done: sends its copy-on-write size (8 bytes, one
    /// write below PIPE_BUF, so never split).
    pub fn send_cow(&self) {
        let bytes = private_dirty().to_le_bytes();
        // SAFETY: writes our 8-byte buffer to the descriptor we own.
        unsafe { libc::write(self.wr.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    }
}

impl Parent {
    /// The last copy-on-write size the child sent; None when it sent none (it failed).
    pub fn cow(&self) -> Option<u64> {
        let mut last = None;
        let mut buf = [0u8; 8];
        loop {
            // SAFETY: reads into our 8-byte buffer from the descriptor we own.
            let n = unsafe { libc::read(self.rd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
            if n != 8 {
                return last;
            }
            last = Some(u64::from_le_bytes(buf));
        }
    }
}

/// Bytes of this process's memory that are private and dirty: for a fork child, the pages
/// copied since the fork (plus what it allocated itself), as Redis measures it.
pub fn private_dirty() -> u64 {
    let text = std::fs::read_to_string("/proc/self/smaps_rollup")
        .or_else(|_| std::fs::read_to_string("/proc/self/smaps"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("Private_Dirty:"))
        .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_child_reports_its_copy_on_write_size() {
        let (parent, child) = super::pipe().unwrap();
        assert_eq!(parent.cow(), None);
        child.send_cow();
        // This process has written memory of its own: some pages are private and dirty.
        assert!(parent.cow().is_some_and(|n| n > 0));
    }
}
