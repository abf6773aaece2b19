//! A fast keyed hash for the ACL's u128 keys.
//!
//! SipHash (std's default) costs more than the whole session-hit budget; a folded 64x64->128
//! multiply mixes a packed key in a few cycles. The seed comes from std's per-process random
//! keys, so an outside sender cannot aim packets at one bucket.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline(always)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct SeededHash {
    seed: u64,
}

impl SeededHash {
    pub(crate) fn random() -> SeededHash {
        SeededHash {
            seed: RandomState::new().build_hasher().finish() | 1,
        }
    }
}

impl SeededHash {
    /// The hash of one key, for tables that take a precomputed hash.
    #[inline(always)]
    pub(crate) fn hash_u128(&self, key: u128) -> u64 {
        let mut hasher = self.build_hasher();
        hasher.write_u128(key);
        hasher.finish()
    }
}

impl BuildHasher for SeededHash {
    type Hasher = FoldHasher;
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher { state: self.seed }
    }
}

pub(crate) struct FoldHasher {
    state: u64,
}

impl Hasher for FoldHasher {
    #[inline(always)]
    fn write_u128(&mut self, key: u128) {
        let low = key as u64 ^ self.state;
        let high = (key >> 64) as u64 ^ MIX;
        self.state = folded_multiply(low, high) ^ self.state.rotate_left(23);
        self.state = folded_multiply(self.state, MIX);
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(16) {
            let mut word = [0u8; 16];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u128(u128::from_le_bytes(word));
        }
    }

    #[inline(always)]
    fn finish(&self) -> u64 {
        self.state
    }
}
