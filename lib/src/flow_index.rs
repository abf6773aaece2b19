//! A hash index from a flow's key to a slot number, laid out so that a burst can ask for
//! its cache lines before it needs them.
//!
//! With hashbrown a lookup is three dependent cache misses (control bytes, bucket, the
//! session the bucket names) and none of their addresses is known before the previous one
//! has arrived, so a burst cannot overlap them. Here a key's hash names its bucket
//! directly: one 64-byte line holding eight (signature, value) pairs. A stage can
//! therefore prefetch every packet's bucket, then every packet's session, then do the real
//! work on lines already in the cache (DPDK's rte_hash and VPP's bihash are built the same
//! way for the same reason).
//!
//! The index keeps no keys: the caller's `eq` compares the key stored in the slot a value
//! names, which is the line the lookup reads anyway. Each key has two candidate buckets
//! (cuckoo hashing, the second derived from the signature so that an entry can move
//! without its key); it goes to the second only when the first is full, and the first
//! then counts it, so that a lookup, and above all a miss, reads one line unless that
//! count says otherwise. The index is sized to be at most three quarters full at its
//! capacity (a table for 1M keys is 16 MiB); an insert that finds both buckets full moves one entry aside, and one that still finds
//! no room fails, for the caller to count.

use crate::pipeline::Prefetch;

/// Entries per bucket: with the overflow count, one cache line.
const WAYS: usize = 7;

/// A tag no entry has: an entry's tag always has bit 1 set.
const EMPTY: u32 = 0;

/// Bit 0 of a tag: the entry sits in its key's second bucket.
const IN_SECOND: u32 = 1;

#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Bucket {
    tags: [u32; WAYS],
    /// Entries whose first bucket this is but that sit in their second.
    overflow: u32,
    values: [u32; WAYS],
}

const EMPTY_BUCKET: Bucket = Bucket {
    tags: [EMPTY; WAYS],
    overflow: 0,
    values: [0; WAYS],
};

/// No room for a new entry in either of its buckets, even after moving one aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexFull;

pub(crate) struct FlowIndex {
    buckets: Vec<Bucket>,
    mask: usize,
    len: usize,
}

/// The tag of `hash` in its first bucket; in the second it has [`IN_SECOND`] set.
#[inline(always)]
fn signature(hash: u64) -> u32 {
    ((hash >> 32) as u32 | 2) & !IN_SECOND
}

impl FlowIndex {
    /// An index for up to `capacity` entries, at most three quarters full there.
    pub(crate) fn with_capacity(capacity: usize) -> FlowIndex {
        let buckets = (capacity.saturating_mul(4).div_ceil(3 * WAYS))
            .next_power_of_two()
            .max(2);
        FlowIndex {
            buckets: vec![EMPTY_BUCKET; buckets],
            mask: buckets - 1,
            len: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Entries the index holds at most three quarters full.
    pub(crate) fn capacity(&self) -> usize {
        self.buckets.len() * WAYS * 3 / 4
    }

    #[inline(always)]
    fn primary(&self, hash: u64) -> usize {
        hash as usize & self.mask
    }

    /// The other bucket of an entry with signature `sig` in `bucket`; applying it twice
    /// gives `bucket` back.
    #[inline(always)]
    fn alternate(&self, bucket: usize, sig: u32) -> usize {
        (bucket ^ (sig.wrapping_mul(0x5bd1_e995) >> 1) as usize) & self.mask
    }

    /// Asks for the line of `hash`'s first bucket.
    #[inline(always)]
    pub(crate) fn prefetch(&self, hash: u64, prefetch: Prefetch) {
        if let Some(bucket) = self.buckets.get(self.primary(hash)) {
            prefetch(std::ptr::from_ref(bucket).cast());
        }
    }

    /// The first value whose tag matches `hash`, unverified: what a warm-up pass
    /// prefetches the slot of.
    #[inline(always)]
    pub(crate) fn candidate(&self, hash: u64) -> Option<u32> {
        self.find(hash, |_| true)
    }

    /// The value whose tag matches `hash` and that `eq` accepts.
    #[inline(always)]
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let sig = signature(hash);
        let first = self.primary(hash);
        let bucket = self.buckets.get(first)?;
        for way in 0..WAYS {
            if bucket.tags[way] == sig && eq(bucket.values[way]) {
                return Some(bucket.values[way]);
            }
        }
        if bucket.overflow == 0 {
            return None;
        }
        let bucket = self.buckets.get(self.alternate(first, sig))?;
        (0..WAYS)
            .find(|&way| bucket.tags[way] == sig | IN_SECOND && eq(bucket.values[way]))
            .map(|way| bucket.values[way])
    }

    /// Adds `value` under `hash`; the caller has checked that its key is absent.
    pub(crate) fn insert(&mut self, hash: u64, value: u32) -> Result<(), IndexFull> {
        let sig = signature(hash);
        let first = self.primary(hash);
        let second = self.alternate(first, sig);
        if self.place(first, sig, value) {
            self.len += 1;
            return Ok(());
        }
        if second != first && self.place(second, sig | IN_SECOND, value) {
            self.count_overflow(first, true);
            self.len += 1;
            return Ok(());
        }
        // Both buckets full: move one entry of the first to its other bucket.
        for way in 0..WAYS {
            let Some(&Bucket { tags, values, .. }) = self.buckets.get(first) else {
                return Err(IndexFull);
            };
            let (tag, moved) = (tags[way], values[way]);
            let base = tag & !IN_SECOND;
            let target = self.alternate(first, base);
            let moved_tag = tag ^ IN_SECOND;
            if target == first || !self.place(target, moved_tag, moved) {
                continue;
            }
            // Leaving its first bucket it overflows from there; returning, no longer.
            if tag & IN_SECOND == 0 {
                self.count_overflow(first, true);
            } else {
                self.count_overflow(target, false);
            }
            if let Some(bucket) = self.buckets.get_mut(first) {
                bucket.tags[way] = sig;
                bucket.values[way] = value;
            }
            self.len += 1;
            return Ok(());
        }
        Err(IndexFull)
    }

    fn count_overflow(&mut self, bucket: usize, up: bool) {
        if let Some(bucket) = self.buckets.get_mut(bucket) {
            bucket.overflow = if up {
                bucket.overflow + 1
            } else {
                bucket.overflow.saturating_sub(1)
            };
        }
    }

    fn place(&mut self, bucket: usize, tag: u32, value: u32) -> bool {
        let Some(bucket) = self.buckets.get_mut(bucket) else {
            return false;
        };
        match bucket.tags.iter().position(|&t| t == EMPTY) {
            Some(way) => {
                bucket.tags[way] = tag;
                bucket.values[way] = value;
                true
            }
            None => false,
        }
    }

    /// Removes the entry holding `value` under `hash`; false if there is none.
    pub(crate) fn remove(&mut self, hash: u64, value: u32) -> bool {
        let sig = signature(hash);
        let first = self.primary(hash);
        let second = self.alternate(first, sig);
        for (bucket, tag) in [(first, sig), (second, sig | IN_SECOND)] {
            let Some(b) = self.buckets.get_mut(bucket) else {
                continue;
            };
            if let Some(way) = (0..WAYS).find(|&w| b.tags[w] == tag && b.values[w] == value) {
                b.tags[way] = EMPTY;
                if tag & IN_SECOND != 0 {
                    self.count_overflow(first, false);
                }
                self.len -= 1;
                return true;
            }
        }
        false
    }

    /// Empties the index and sizes it for `capacity` entries; allocates, so it runs
    /// between bursts. The caller inserts its entries again.
    pub(crate) fn reset(&mut self, capacity: usize) {
        *self = FlowIndex::with_capacity(capacity);
    }

    /// Whether every bucket's overflow count equals the entries that sit in their second
    /// bucket with this one as first.
    #[cfg(test)]
    fn overflow_counts_hold(&self) -> bool {
        let mut expected = vec![0u32; self.buckets.len()];
        for (index, bucket) in self.buckets.iter().enumerate() {
            for &tag in &bucket.tags {
                if tag != EMPTY && tag & IN_SECOND != 0 {
                    expected[self.alternate(index, tag & !IN_SECOND)] += 1;
                }
            }
        }
        self.buckets
            .iter()
            .zip(&expected)
            .all(|(b, &e)| b.overflow == e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::FastRng;
    use std::collections::HashMap;

    fn hash_of(key: u64) -> u64 {
        // Any well-mixed hash will do here; the tables use seeded ones.
        let product = u128::from(key ^ 0x243f_6a88_85a3_08d3) * 0x9e37_79b9_7f4a_7c15u128;
        (product as u64) ^ ((product >> 64) as u64)
    }

    /// Random inserts and removals up to the capacity, checked against a std map: every
    /// live key is found with its value, no removed key is, and no insert fails at or
    /// below the capacity.
    #[test]
    fn agrees_with_a_map_up_to_capacity() {
        let capacity = 20_000;
        let mut index = FlowIndex::with_capacity(capacity);
        assert!(index.capacity() >= capacity);
        let mut keys: Vec<u64> = Vec::new();
        let mut reference: HashMap<u64, u32> = HashMap::new();
        let mut rng = FastRng::new(99);
        for step in 0..200_000u32 {
            let remove = reference.len() == capacity || (!keys.is_empty() && rng.below(3) == 0);
            if remove {
                let at = rng.below(keys.len() as u64) as usize;
                let key = keys.swap_remove(at);
                let value = reference.remove(&key).unwrap();
                assert!(index.remove(hash_of(key), value));
                assert_eq!(index.find(hash_of(key), |v| v == value), None);
            } else {
                let key = rng.next_u64();
                if reference.contains_key(&key) {
                    continue;
                }
                index.insert(hash_of(key), step).unwrap();
                reference.insert(key, step);
                keys.push(key);
            }
            assert_eq!(index.len(), reference.len());
            if step % 20_000 == 0 {
                assert!(index.overflow_counts_hold());
            }
        }
        assert!(index.overflow_counts_hold());
        for (&key, &value) in &reference {
            let found = index.find(hash_of(key), |v| reference.get(&key) == Some(&v));
            assert_eq!(found, Some(value));
        }
    }

    /// Keys that share a signature and a bucket are told apart by `eq`, and a full
    /// bucket pair refuses the next entry instead of losing one.
    #[test]
    fn colliding_hashes_are_told_apart_and_overflow_is_refused() {
        let mut index = FlowIndex::with_capacity(8);
        let hash = 0x1234_5678_0000_0003;
        let sig = signature(hash);
        let first = index.primary(hash);
        let second = index.alternate(first, sig);
        let room = if second == first { WAYS } else { 2 * WAYS };
        for value in 0..room as u32 {
            index.insert(hash, value).unwrap();
        }
        for value in 0..room as u32 {
            assert_eq!(index.find(hash, |v| v == value), Some(value));
        }
        // Every entry shares both buckets, so none can move aside.
        assert_eq!(index.insert(hash, 999), Err(IndexFull));
        assert_eq!(index.len(), room);
        assert!(index.remove(hash, 3));
        assert!(!index.remove(hash, 3));
        index.insert(hash, 999).unwrap();
        assert_eq!(index.find(hash, |v| v == 999), Some(999));
        assert!(index.candidate(hash).is_some());
        assert_eq!(index.candidate(hash ^ 0xffff_0000_0000_0000), None);
    }

    /// Filled far past its sizing, the index overflows into second buckets and moves
    /// entries aside; it refuses only when nearly every way is taken, and through removals
    /// every entry stays findable and every overflow count exact.
    #[test]
    fn filled_past_its_sizing_every_entry_stays_findable() {
        let mut index = FlowIndex::with_capacity(700);
        let ways = index.buckets.len() * WAYS;
        let mut rng = FastRng::new(5);
        let mut live: Vec<(u64, u32)> = Vec::new();
        loop {
            let key = rng.next_u64();
            match index.insert(hash_of(key), live.len() as u32) {
                Ok(()) => live.push((key, live.len() as u32)),
                Err(IndexFull) => break,
            }
        }
        assert!(live.len() * 10 >= ways * 8, "{} of {ways} ways", live.len());
        assert!(index.overflow_counts_hold());
        let findable = |index: &FlowIndex, live: &[(u64, u32)]| {
            live.iter()
                .all(|&(key, value)| index.find(hash_of(key), |v| v == value) == Some(value))
        };
        assert!(findable(&index, &live));
        let mut removed = Vec::new();
        for _ in 0..live.len() / 2 {
            let at = rng.below(live.len() as u64) as usize;
            let (key, value) = live.swap_remove(at);
            assert!(index.remove(hash_of(key), value));
            removed.push((key, value));
        }
        assert!(index.overflow_counts_hold());
        assert!(findable(&index, &live));
        for (key, value) in removed {
            assert_eq!(index.find(hash_of(key), |v| v == value), None);
        }
        assert_eq!(index.len(), live.len());
    }
}
