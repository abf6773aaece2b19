//! One small deterministic generator for the whole crate: the NAT44 engine's
//! load-balancing and port choice, and the randomized tests and benchmarks (a fixed seed
//! makes a failure reproduce and runs compare).

/// wyrand: fast, and good enough for choosing ports and backends; per worker, so no
/// sharing.
#[derive(Clone, Debug)]
pub struct FastRng(u64);

impl FastRng {
    pub fn new(seed: u64) -> Self {
        FastRng(seed)
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let product = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        (product as u64) ^ ((product >> 64) as u64)
    }

    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A value below `n` (`n` > 0); the modulo bias is irrelevant at test sizes.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
