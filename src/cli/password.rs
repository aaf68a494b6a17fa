//! Strong random passwords from the operating system's RNG ([`crate::sysrand`]).

use std::io;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A password of `len` characters drawn uniformly from `[A-Za-z0-9]` (about 5.95 bits each;
/// 32 characters give over 190 bits). Safe to put in redis.conf and YAML unquoted.
pub fn generate(len: usize) -> io::Result<String> {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    // Rejection sampling: 248 = 4 * 62, so bytes >= 248 are dropped to keep the draw uniform.
    while out.len() < len {
        crate::sysrand::fill(&mut buf)?;
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
