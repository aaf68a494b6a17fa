//! LZF compression in the format Redis's RDB uses (liblzf's: literal runs of up to 32 bytes,
//! back references of 3 to 264 bytes within 8 KB).
//!
//! Why not the `lzf` crate's compressor: it allocates and zeroes a 64K-entry hash table on
//! every call, which made saving a million 33-byte values take 5 s. Here the table belongs to
//! the caller and is reused; like liblzf, stale entries are harmless because every candidate
//! match is checked against the input. Decompression stays with the `lzf` crate.

const HLOG: u32 = 14;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// A compressor with its hash table (allocated on first use).
#[derive(Default)]
pub struct Compressor {
    htab: Vec<u32>,
}

#[inline]
fn slot(v: u32) -> usize {
    ((v ^ (v << 5)) >> (24 - HLOG)).wrapping_sub(v.wrapping_mul(5)) as usize & (HSIZE - 1)
}

impl Compressor {
    /// Compresses `input` into `out` (cleared first). Returns false, leaving `out`
    /// unspecified, when the result would not be shorter than `max_len`.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>, max_len: usize) -> bool {
        out.clear();
        if self.htab.is_empty() {
            self.htab = vec![0; HSIZE];
        }
        let n = input.len();
        if n == 0 {
            return false;
        }
        // `run` is where the current literal run's length byte sits; `lit` its length.
        let mut run = 0;
        out.push(0);
        let mut lit = 0usize;
        let mut ip = 0usize;
        let close_run = |out: &mut Vec<u8>, run: usize, lit: usize| {
            if lit == 0 {
                out.truncate(run);
            } else {
                out[run] = (lit - 1) as u8;
            }
        };
        // One literal byte; a full run (32 bytes) is closed and a new one opened.
        let literal = |out: &mut Vec<u8>, run: &mut usize, lit: &mut usize, b: u8| {
            out.push(b);
            *lit += 1;
            if *lit == MAX_LIT {
                out[*run] = (MAX_LIT - 1) as u8;
                *run = out.len();
                out.push(0);
                *lit = 0;
            }
        };
        while ip + 2 < n {
            let v = (input[ip] as u32) << 16 | (input[ip + 1] as u32) << 8 | input[ip + 2] as u32;
            let h = slot(v);
            let r = self.htab[h] as usize;
            self.htab[h] = ip as u32;
            if r < ip
                && r > 0
                && ip - r - 1 < MAX_OFF
                && input[r] == input[ip]
                && input[r + 1] == input[ip + 1]
                && input[r + 2] == input[ip + 2]
            {
                let off = ip - r - 1;
                let maxlen = (n - ip - 2).min(MAX_REF);
                let mut len = 2;
                loop {
                    len += 1;
                    if len >= maxlen || input[r + len] != input[ip + len] {
                        break;
                    }
                }
                close_run(out, run, lit);
                let len = len - 2;
                if len < 7 {
                    out.push(((off >> 8) + (len << 5)) as u8);
                } else {
                    out.push(((off >> 8) + (7 << 5)) as u8);
                    out.push((len - 7) as u8);
                }
                out.push(off as u8);
                run = out.len();
                out.push(0);
                lit = 0;
                ip += len + 2;
            } else {
                literal(out, &mut run, &mut lit, input[ip]);
                ip += 1;
            }
            if out.len() >= max_len {
                return false;
            }
        }
        for &b in &input[ip..] {
            literal(out, &mut run, &mut lit, b);
        }
        close_run(out, run, lit);
        out.len() < max_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_lzf_decoder() {
        let mut c = Compressor::default();
        let mut out = Vec::new();
        let mut seed = 7u64;
        let mut inputs: Vec<Vec<u8>> = vec![
            b"value-00000001-xxxxxxxxxxxxxxxx".to_vec(),
            vec![b'a'; 1000],
            (0..5000u32).map(|i| (i % 251) as u8).collect(),
            b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabc".to_vec(),
        ];
        for len in [21, 40, 100, 300, 9000, 70000] {
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    b"abcd"[(seed % 4) as usize]
                })
                .collect();
            inputs.push(v);
        }
        for input in &inputs {
            if c.compress(input, &mut out, input.len()) {
                let back = lzf::decompress(&out, input.len()).expect("valid LZF");
                assert_eq!(&back, input);
                assert!(out.len() < input.len());
            }
        }
        // Compressible inputs do compress.
        assert!(c.compress(&vec![b'a'; 1000], &mut out, 1000));
        assert!(out.len() < 30);
        // Random bytes do not.
        let noise: Vec<u8> = (0..64u64)
            .map(|i| (i.wrapping_mul(0x9E37_79B9) >> 7) as u8)
            .collect();
        let _ = c.compress(&noise, &mut out, noise.len());
    }
}
