//! A latency histogram with the bucket layout of the HdrHistogram Redis 7.0 uses for its
//! per-command latency tracking (`hdr_init(1, 1_000_000_000, 2)`: values in nanoseconds
//! from 1 ns to 1 s, two significant digits), so percentiles and LATENCY HISTOGRAM buckets
//! come out as the same numbers Redis prints (`p50=1.003` for a 1 µs command).
//!
//! Layout: 256 sub-buckets (exact values 0..=255), then one bucket per power of two whose
//! 128 upper sub-buckets each cover `2^bucket` values. 3,072 counters, allocated once per
//! command on its first tracked call (as Redis's `hdr_init` on first use).

/// Lowest value tracked (Redis's LATENCY_HISTOGRAM_MIN_VALUE, ns).
pub const MIN_VALUE: u64 = 1;
/// Highest value tracked (Redis's LATENCY_HISTOGRAM_MAX_VALUE, ns).
pub const MAX_VALUE: u64 = 1_000_000_000;
/// log2 of the sub-bucket count (256 sub-buckets for two significant digits).
const SUB_BUCKET_BITS: u32 = 8;
const SUB_BUCKET_MASK: u64 = (1 << SUB_BUCKET_BITS) - 1;
const HALF_BITS: u32 = SUB_BUCKET_BITS - 1;
const HALF_COUNT: u64 = 1 << HALF_BITS;
/// Buckets needed to reach MAX_VALUE: 256 << 22 > 1e9.
const BUCKETS: usize = 23;
const COUNTS_LEN: usize = (BUCKETS + 1) << HALF_BITS;

/// One command's latency histogram.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Box<[u64]>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; COUNTS_LEN].into_boxed_slice(),
            total: 0,
        }
    }
}

fn bucket_index(v: u64) -> u32 {
    (63 - (v | SUB_BUCKET_MASK).leading_zeros()) - HALF_BITS
}

fn counts_index(v: u64) -> usize {
    let b = bucket_index(v);
    let sub = v >> b;
    (((b as u64 + 1) << HALF_BITS) + sub - HALF_COUNT) as usize
}

fn value_at_index(i: usize) -> u64 {
    let mut b = (i >> HALF_BITS) as i64 - 1;
    let mut sub = (i as u64 & (HALF_COUNT - 1)) + HALF_COUNT;
    if b < 0 {
        sub -= HALF_COUNT;
        b = 0;
    }
    sub << b
}

/// The smallest value counted in the same slot as `v`.
fn lowest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    (v >> b) << b
}

/// The largest value counted in the same slot as `v`.
fn highest_equivalent(v: u64) -> u64 {
    let b = bucket_index(v);
    let sub = v >> b;
    let adjusted = if sub >= 1 << SUB_BUCKET_BITS {
        b + 1
    } else {
        b
    };
    lowest_equivalent(v) + (1u64 << adjusted) - 1
}

impl Histogram {
    /// Records one value in nanoseconds, clamped to [MIN_VALUE, MAX_VALUE] as Redis does.
    pub fn record(&mut self, ns: u64) {
        let v = ns.clamp(MIN_VALUE, MAX_VALUE);
        self.counts[counts_index(v)] += 1;
        self.total += 1;
    }

    /// Number of recorded values.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// hdr_value_at_percentile: the highest value equivalent to the one at `p` percent
    /// (the lowest for p = 0), in nanoseconds.
    pub fn value_at_percentile(&self, p: f64) -> u64 {
        let p = p.min(100.0);
        let want = (((p / 100.0) * self.total as f64) + 0.5) as u64;
        let want = want.max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                let v = value_at_index(i);
                return if p == 0.0 {
                    lowest_equivalent(v)
                } else {
                    highest_equivalent(v)
                };
            }
        }
        0
    }

    /// The cumulative distribution LATENCY HISTOGRAM replies (Redis's log iterator from
    /// 1,024 ns, base 2): for each power-of-two level whose cumulative count grew, the
    /// highest value of the level's slot in µs and the count of values up to that slot.
    pub fn cdf(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut level: u64 = 1024;
        let (mut i, mut cumulative, mut previous) = (0usize, 0u64, 0u64);
        while cumulative < self.total {
            // Every slot up to and including the one that starts at `level`.
            while i < COUNTS_LEN && value_at_index(i) <= level {
                cumulative += self.counts[i];
                i += 1;
            }
            let top = if i < COUNTS_LEN {
                highest_equivalent(level)
            } else {
                highest_equivalent(value_at_index(COUNTS_LEN - 1))
            };
            if cumulative > previous {
                out.push((top / 1000, cumulative));
            }
            previous = cumulative;
            if i >= COUNTS_LEN {
                break;
            }
            level <<= 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_redis() {
        let mut h = Histogram::default();
        h.record(1000);
        assert_eq!(h.value_at_percentile(50.0), 1003);
        let mut h = Histogram::default();
        h.record(7000);
        assert_eq!(h.value_at_percentile(0.0), 6976);
        assert_eq!(h.value_at_percentile(99.9), 7007);
        let mut h = Histogram::default();
        h.record(192_000);
        assert_eq!(h.value_at_percentile(50.0), 192_511);
        h.record(0);
        assert_eq!(h.value_at_percentile(0.0), 1);
    }

    #[test]
    fn cdf_steps_are_powers_of_two() {
        let mut h = Histogram::default();
        h.record(8000);
        assert_eq!(h.cdf(), vec![(8, 1)]);
        let mut h23 = Histogram::default();
        h23.record(23_000);
        assert_eq!(h23.cdf(), vec![(33, 1)]);
        h.record(500);
        h.record(40_000);
        assert_eq!(h.cdf(), vec![(1, 1), (8, 2), (66, 3)]);
        h.record(u64::MAX);
        assert_eq!(h.cdf().last(), Some(&(1_073_741, 4)));
    }
}
