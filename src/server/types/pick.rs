//! Uniform random picks from an open-addressing hash table (SRANDMEMBER, SPOP, HRANDFIELD,
//! RANDOMKEY, eviction sampling: every random pick of a hash-table value or key goes here).
//!
//! Picking a random bucket and walking to the next full one favours the entries that follow
//! runs of empty buckets. Instead, random buckets are drawn until a full one comes up
//! (rejection sampling: every entry equally likely); the tables keep a load factor of at
//! least 1/8, so 128 draws fail with probability below 4e-8, and then a uniform index into
//! the iteration order is taken (O(n), still uniform).

use hashbrown::HashTable;

/// Draws per pick before falling back to the index walk.
const TRIES: u32 = 128;

/// splitmix64: a stream of well-mixed values from one seed.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniformly chosen entry of `table` (`seed` from the server's generator), None when empty.
pub fn random_entry<T>(table: &HashTable<T>, seed: u64) -> Option<&T> {
    if table.is_empty() {
        return None;
    }
    let buckets = table.num_buckets() as u64;
    let mut state = seed;
    for _ in 0..TRIES {
        if let Some(e) = table.get_bucket((next(&mut state) % buckets) as usize) {
            return Some(e);
        }
    }
    table
        .iter()
        .nth((next(&mut state) % table.len() as u64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    /// Chi-square of counts against a uniform expectation.
    fn chi2(counts: &[u64]) -> f64 {
        let total: u64 = counts.iter().sum();
        let e = total as f64 / counts.len() as f64;
        counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum()
    }

    #[test]
    fn picks_are_uniform_on_a_sparse_table() {
        let h = hashbrown::DefaultHashBuilder::default();
        let mut t: HashTable<u64> = HashTable::with_capacity(100);
        for i in 0..10u64 {
            t.insert_unique(h.hash_one(i), i, |v| h.hash_one(*v));
        }
        let mut counts = [0u64; 10];
        let mut seed = 12345u64;
        for _ in 0..100_000 {
            let pick = *random_entry(&t, next(&mut seed)).unwrap();
            counts[pick as usize] += 1;
        }
        // 9 degrees of freedom: above 40 with probability < 0.00001 when uniform.
        assert!(chi2(&counts) < 40.0, "{counts:?}");
    }

    #[test]
    fn empty_table_has_no_pick() {
        let t: HashTable<u64> = HashTable::new();
        assert!(random_entry(&t, 1).is_none());
    }
}
