//! A small seeded generator (splitmix64): the same seed replays the same command stream.

/// The server's own splitmix64 (`random_pick::Rng`) with the helpers the generator needs.
pub struct Rng(redrepl::server::commands::random_pick::Rng);

impl Rng {
    /// A generator that replays the stream of `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(redrepl::server::commands::random_pick::Rng::new(seed))
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }

    /// True with probability `per_mille`/1000.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < per_mille as usize
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}
