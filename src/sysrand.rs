//! The one source of random bytes for the server (run IDs, replication IDs, EOF marks, the
//! sampling seed) and the orchestrator (generated passwords): the kernel's CSPRNG through
//! `getrandom(2)`, with `/dev/urandom` when the kernel has no such call.
//!
//! Both calls may return fewer bytes than asked or be interrupted by a signal (EINTR);
//! [`fill`] loops until every byte is written, so a buffer is never left partly zero.

use std::io;

/// Fills all of `buf` with random bytes from the kernel.
pub fn fill(buf: &mut [u8]) -> io::Result<()> {
    match fill_with(buf, getrandom) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => fill_from_urandom(buf),
        r => r,
    }
}

/// `len` random hex digits (lower case).
pub fn hex(len: usize) -> io::Result<String> {
    let mut bytes = vec![0u8; len.div_ceil(2)];
    fill(&mut bytes)?;
    Ok(to_hex(&bytes, len))
}

/// A random `u64`.
pub fn u64() -> io::Result<u64> {
    let mut b = [0u8; 8];
    fill(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// `len` hex digits for an identifier that must never fail to exist (run ID, replication
/// ID): from [`fill`], or, only when the kernel source fails (it does not on any supported
/// kernel), as Redis's `getRandomBytes` does without /dev/urandom: SHA-1 of the time, the
/// pid and a counter. The failure is returned alongside so the caller can log it.
pub fn hex_or_fallback(len: usize) -> (String, Option<io::Error>) {
    match hex(len) {
        Ok(s) => (s, None),
        Err(e) => (fallback_hex(len), Some(e)),
    }
}

fn fallback_hex(len: usize) -> String {
    use sha1::Digest;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut out = String::new();
    while out.len() < len {
        let mut h = sha1::Sha1::new();
        h.update(nanos.to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        out.push_str(&to_hex(&h.finalize(), 40));
    }
    out.truncate(len);
    out
}

/// The first `len` hex digits of `bytes`.
pub fn to_hex(bytes: &[u8], len: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]])
        .take(len)
        .map(char::from)
        .collect()
}

/// One `getrandom(2)` call: the number of bytes written, or the OS error.
fn getrandom(buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the pointer and length describe a live, writable slice.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Reads `/dev/urandom` until `buf` is full (`read_exact` retries EINTR and short reads).
fn fill_from_urandom(buf: &mut [u8]) -> io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// Calls `source` until `buf` is full: short reads continue where they stopped, EINTR is
/// retried, any other error is returned, and a source that returns 0 bytes is an error
/// rather than a silent zero tail.
fn fill_with(
    buf: &mut [u8],
    mut source: impl FnMut(&mut [u8]) -> io::Result<usize>,
) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match source(&mut buf[done..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the random source returned no bytes",
                ));
            }
            Ok(n) => done += n.min(buf.len() - done),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reads_and_eintr_still_fill_every_byte() {
        // A source that gives at most 3 bytes per call and is interrupted every other call.
        let mut calls = 0;
        let mut buf = [0u8; 100];
        fill_with(&mut buf, |b| {
            calls += 1;
            if calls % 2 == 0 {
                return Err(io::Error::from_raw_os_error(libc::EINTR));
            }
            let n = b.len().min(3);
            b[..n].fill(0xA5);
            Ok(n)
        })
        .unwrap();
        assert!(buf.iter().all(|&b| b == 0xA5), "{buf:?}");
        assert!(calls > 60);
    }

    #[test]
    fn a_failing_or_empty_source_is_an_error_not_zeros() {
        let mut buf = [0u8; 8];
        let e = fill_with(&mut buf, |_| Err(io::Error::from_raw_os_error(libc::EIO)));
        assert_eq!(e.unwrap_err().raw_os_error(), Some(libc::EIO));
        assert!(fill_with(&mut buf, |_| Ok(0)).is_err());
    }

    #[test]
    fn large_buffers_are_filled_to_the_end() {
        // Many calls' worth on kernels that return short reads: no 4 KiB block may be all
        // zero (the old server loop stopped at the first short or interrupted read).
        let mut buf = vec![0u8; 4 << 20];
        fill(&mut buf).unwrap();
        for (i, block) in buf.chunks(4096).enumerate() {
            assert!(block.iter().any(|&b| b != 0), "block {i} is all zero");
        }
        let mut urandom = vec![0u8; 1 << 16];
        fill_from_urandom(&mut urandom).unwrap();
        assert!(urandom.chunks(4096).all(|c| c.iter().any(|&b| b != 0)));
    }

    #[test]
    fn hex_ids_have_the_length_asked_and_differ() {
        let a = hex(40).unwrap();
        let b = hex(40).unwrap();
        assert_eq!(a.len(), 40);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        assert_eq!(hex(7).unwrap().len(), 7);
        assert_eq!(to_hex(&[0x0f, 0xa0], 3), "0fa");
        assert_ne!(u64().unwrap(), u64().unwrap());
        let (f, g) = (fallback_hex(45), fallback_hex(45));
        assert_eq!(f.len(), 45);
        assert_ne!(f, g);
    }
}
