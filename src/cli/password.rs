//! Strong random passwords from the operating system's RNG (`getrandom(2)`).

use std::io;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Fills `buf` with random bytes from the kernel.
fn fill_random(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: the pointer and length describe a live, writable slice.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

/// A password of `len` characters drawn uniformly from `[A-Za-z0-9]` (about 5.95 bits each;
/// 32 characters give over 190 bits). Safe to put in redis.conf and YAML unquoted.
pub fn generate(len: usize) -> io::Result<String> {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    // Rejection sampling: 248 = 4 * 62, so bytes >= 248 are dropped to keep the draw uniform.
    while out.len() < len {
        fill_random(&mut buf)?;
        for &b in &buf {
            if b < 248 && out.len() < len {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_alphanumeric_and_differ() {
        let a = generate(32).unwrap();
        let b = generate(32).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
