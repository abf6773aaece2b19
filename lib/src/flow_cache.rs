//! A bucketed hash index of session keys (a cache in front of a session table, or the
//! table's index itself), laid out so that a burst can ask for its cache lines before it
//! needs them.
//!
//! A hashbrown lookup is three dependent cache misses (control bytes, bucket, the session
//! the bucket names), and none of their addresses is known before the previous one has
//! arrived, so a burst cannot overlap them. Here a key's hash names its bucket directly:
//! one 64-byte line of seven (tag, value) pairs. A stage therefore prefetches every
//! packet's bucket, then every packet's session, then does the real work on lines already
//! in the cache (DPDK's rte_hash and VPP's bihash are laid out the same way for the same
//! reason).
//!
//! A full bucket gives up one of its ways (in turn) to a new key. Each bucket counts the
//! live keys it gave up and holds no longer; a bucket whose count is zero holds every
//! live key that hashes to it, so a miss there is an answer ([`Lookup::Absent`]) and no
//! table need be asked. Where a bucket has given keys up, the caller's hashbrown table
//! answers ([`Lookup::Unknown`]). Two ways to use it:
//! - as a cache in front of a table of record that holds every key (NAT44's sessions): the
//!   caller caches every key it adds ([`FlowCache::insert`]), caches again every key it
//!   found in the table ([`FlowCache::recache`]), and forgets every key it removes
//!   ([`FlowCache::remove`]); a removed key the bucket no longer held was one of those
//!   given up;
//! - as the index itself, with a hashbrown table for the keys given up only (ACL
//!   sessions): [`FlowCache::push`] returns the key it gave up, for the caller's table,
//!   and [`FlowCache::remove`] says whether the key was in its bucket or in that table.
//!   A new key then costs the one line the warm-up pass prefetched, instead of a
//!   hashbrown insert (two more misses) as well.
//!
//! Either way the count is exact, so most misses (every new flow's first packet) cost the
//! one line the warm-up pass prefetched, also when the table has been at its limit for
//! hours (a bucket that gave up a key once used to stop answering misses for good).
//!
//! The cache keeps no keys: the caller's `eq` compares the key stored in the slot a value
//! names, which is the line the lookup reads anyway, so a stale entry (a slot freed or
//! reused) is never taken for a match.

use crate::pipeline::Prefetch;

/// Entries per bucket: with the eviction cursor, one cache line.
const WAYS: usize = 7;

/// A tag no entry has: an entry's tag is odd.
const EMPTY: u32 = 0;

/// [`Bucket::victim`]: the way a full bucket gives up next in the low bits, and above
/// them how many live keys of the bucket it has given up (and not cached again).
const NEXT_WAY: u32 = 0xff;
const GIVEN_UP_ONE: u32 = 1 << 8;

/// What the cache says about a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Cached, with this value.
    Hit(u32),
    /// No live key like it: its bucket holds every live key that hashes to it.
    Absent,
    /// Not cached; the table may hold it.
    Unknown,
}

#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Bucket {
    tags: [u32; WAYS],
    /// The way a full bucket gives up next, and the count of live keys given up
    /// ([`NEXT_WAY`], [`GIVEN_UP_ONE`]).
    victim: u32,
    values: [u32; WAYS],
}

const EMPTY_BUCKET: Bucket = Bucket {
    tags: [EMPTY; WAYS],
    victim: 0,
    values: [0; WAYS],
};

pub(crate) struct FlowCache {
    buckets: Vec<Bucket>,
    mask: usize,
}

#[inline(always)]
fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32 | 1
}

impl FlowCache {
    /// A cache with about one way per entry of a table of `entries`: the power of two
    /// of buckets nearest that, between 2/3 and 4/3 of a way per entry.
    pub(crate) fn with_entries(entries: usize) -> FlowCache {
        let wanted = entries.div_ceil(WAYS).max(2);
        let below = if wanted.is_power_of_two() {
            wanted
        } else {
            wanted.next_power_of_two() / 2
        };
        let buckets = if wanted * 2 < below * 3 {
            below
        } else {
            below * 2
        };
        FlowCache {
            buckets: vec![EMPTY_BUCKET; buckets],
            mask: buckets - 1,
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.buckets.len() * std::mem::size_of::<Bucket>()
    }

    #[inline(always)]
    fn bucket(&self, hash: u64) -> Option<&Bucket> {
        self.buckets.get(hash as usize & self.mask)
    }

    /// Asks for the line of `hash`'s bucket.
    #[inline(always)]
    pub(crate) fn prefetch(&self, hash: u64, prefetch: Prefetch) {
        if let Some(bucket) = self.bucket(hash) {
            prefetch(std::ptr::from_ref(bucket).cast());
        }
    }

    /// The value of the first entry tagged like `hash`, unverified: what a warm-up pass
    /// prefetches the slot of.
    #[inline(always)]
    pub(crate) fn candidate(&self, hash: u64) -> Option<u32> {
        self.find(hash, |_| true)
    }

    /// The value of an entry tagged like `hash` that `eq` accepts.
    #[inline(always)]
    pub(crate) fn find(&self, hash: u64, eq: impl FnMut(u32) -> bool) -> Option<u32> {
        match self.lookup(hash, eq) {
            Lookup::Hit(value) => Some(value),
            Lookup::Absent | Lookup::Unknown => None,
        }
    }

    /// What the cache knows of the key with `hash` that `eq` recognises.
    #[inline(always)]
    pub(crate) fn lookup(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Lookup {
        let tag = tag(hash);
        let Some(bucket) = self.bucket(hash) else {
            return Lookup::Unknown;
        };
        match (0..WAYS).find(|&way| bucket.tags[way] == tag && eq(bucket.values[way])) {
            Some(way) => Lookup::Hit(bucket.values[way]),
            None if bucket.victim < GIVEN_UP_ONE => Lookup::Absent,
            None => Lookup::Unknown,
        }
    }

    /// Caches a key just added to the table, as `value` under `hash`, giving up
    /// another entry of the bucket if it is full.
    #[inline]
    pub(crate) fn insert(&mut self, hash: u64, value: u32) {
        let _ = self.put(hash, value, false);
    }

    /// Indexes a new key as `value` under `hash`. A full bucket gives up one of its
    /// entries and returns its value: the caller keeps that key in its own table until
    /// it is removed.
    #[inline]
    #[must_use]
    pub(crate) fn push(&mut self, hash: u64, value: u32) -> Option<u32> {
        self.put(hash, value, false)
    }

    /// Caches again a key the table holds and the cache had given up (a lookup found
    /// it in the table).
    #[inline]
    pub(crate) fn recache(&mut self, hash: u64, value: u32) {
        let _ = self.put(hash, value, true);
    }

    /// The value of the entry given up, if a full bucket gave one up.
    #[inline(always)]
    fn put(&mut self, hash: u64, value: u32, was_given_up: bool) -> Option<u32> {
        let tag = tag(hash);
        let index = hash as usize & self.mask;
        let bucket = self.buckets.get_mut(index)?;
        let same = (0..WAYS).find(|&w| bucket.tags[w] == tag && bucket.values[w] == value);
        if same.is_some() {
            return None;
        }
        if was_given_up && bucket.victim >= GIVEN_UP_ONE {
            bucket.victim -= GIVEN_UP_ONE;
        }
        let (way, given_up) = match bucket.tags.iter().position(|&t| t == EMPTY) {
            Some(way) => (way, None),
            None => {
                // A bucket of seven ways cannot have given up 2^24 live keys of a table
                // indexed by u32, so the count does not overflow into nothing.
                let way = (bucket.victim & NEXT_WAY) as usize % WAYS;
                let count = (bucket.victim & !NEXT_WAY).saturating_add(GIVEN_UP_ONE);
                bucket.victim = (count & !NEXT_WAY) | ((way + 1) % WAYS) as u32;
                (way, Some(bucket.values[way]))
            }
        };
        bucket.tags[way] = tag;
        bucket.values[way] = value;
        given_up
    }

    /// Forgets the key cached as `value` under `hash`, which the table no longer
    /// holds. Not cached, it was one the bucket had given up, and is counted off.
    /// Returns whether it was cached.
    #[inline]
    pub(crate) fn remove(&mut self, hash: u64, value: u32) -> bool {
        let tag = tag(hash);
        let index = hash as usize & self.mask;
        let Some(bucket) = self.buckets.get_mut(index) else {
            return false;
        };
        match (0..WAYS).find(|&w| bucket.tags[w] == tag && bucket.values[w] == value) {
            Some(way) => {
                bucket.tags[way] = EMPTY;
                true
            }
            None => {
                if bucket.victim >= GIVEN_UP_ONE {
                    bucket.victim -= GIVEN_UP_ONE;
                }
                false
            }
        }
    }

    /// Entries held in the buckets.
    #[cfg(test)]
    pub(crate) fn cached(&self) -> usize {
        self.buckets
            .iter()
            .map(|b| b.tags.iter().filter(|&&t| t != EMPTY).count())
            .sum()
    }

    /// For tests of the tables: every bucket's count of keys given up equals its keys of
    /// `live` (hash, value) that it does not hold. Returns the total given up.
    #[cfg(test)]
    pub(crate) fn assert_counts(&self, live: &[(u64, u32)]) -> u32 {
        let mut uncached = vec![0u32; self.buckets.len()];
        for &(hash, value) in live {
            let at = hash as usize & self.mask;
            let bucket = &self.buckets[at];
            if !(0..WAYS).any(|w| bucket.tags[w] == tag(hash) && bucket.values[w] == value) {
                uncached[at] += 1;
            }
        }
        for (i, (bucket, count)) in self.buckets.iter().zip(&uncached).enumerate() {
            assert_eq!(bucket.victim >> 8, *count, "bucket {i}");
        }
        uncached.iter().sum()
    }

    /// Empties the cache and sizes it for `entries`; allocates, so it runs between
    /// bursts. The caller then caches every key of its table again.
    pub(crate) fn reset(&mut self, entries: usize) {
        *self = FlowCache::with_entries(entries);
    }
}

/// A prefetch for tests that records the addresses asked for, per thread.
#[cfg(test)]
pub(crate) mod recording {
    use std::cell::RefCell;

    thread_local! {
        static ASKED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    }

    pub(crate) fn recording_prefetch(address: *const u8) {
        ASKED.with(|a| a.borrow_mut().push(address as usize));
    }

    /// The addresses asked for since the last call.
    pub(crate) fn asked() -> Vec<usize> {
        ASKED.with(|a| std::mem::take(&mut *a.borrow_mut()))
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

    #[test]
    fn sizes_to_about_one_way_per_entry() {
        for entries in [1usize, 100, 1000, 1 << 20, 3_000_000] {
            let cache = FlowCache::with_entries(entries);
            let ways = cache.buckets.len() * WAYS;
            assert!(cache.buckets.len().is_power_of_two());
            // The bytes-per-session figure counts one cache line a bucket.
            assert_eq!(cache.heap_bytes(), cache.buckets.len() * 64);
            assert!(ways * 3 >= entries * 2, "{entries}: {ways}");
            assert!(
                ways * 3 <= entries * 4 + 3 * WAYS || cache.buckets.len() == 2,
                "{entries}: {ways}"
            );
        }
    }

    /// As an index with a table aside for what full buckets give up: every key is in
    /// its bucket or aside, never both, and the buckets' counts of keys given up are the
    /// keys aside; removing says where the key was.
    #[test]
    fn as_an_index_every_key_is_in_its_bucket_or_aside() {
        let mut cache = FlowCache::with_entries(64);
        let mut aside: HashMap<u32, u64> = HashMap::new();
        let mut live: HashMap<u32, u64> = HashMap::new();
        let mut rng = FastRng::new(7);
        for step in 0..20_000u32 {
            if live.len() >= 200 || (!live.is_empty() && rng.below(2) == 0) {
                let value = *live
                    .keys()
                    .nth(rng.below(live.len() as u64) as usize)
                    .unwrap();
                let hash = live.remove(&value).unwrap();
                let was_cached = cache.remove(hash, value);
                assert_eq!(was_cached, aside.remove(&value).is_none(), "step {step}");
            } else {
                let hash = hash_of(u64::from(step));
                live.insert(step, hash);
                if let Some(victim) = cache.push(hash, step) {
                    assert_ne!(victim, step);
                    let victim_hash = live[&victim];
                    assert_eq!(
                        victim_hash as usize & cache.mask,
                        hash as usize & cache.mask
                    );
                    assert!(
                        aside.insert(victim, victim_hash).is_none(),
                        "given up twice"
                    );
                }
            }
            for (&value, &hash) in &live {
                let cached = cache.find(hash, |v| v == value).is_some();
                assert_ne!(cached, aside.contains_key(&value), "step {step}: {value}");
            }
            let counted = cache
                .buckets
                .iter()
                .map(|b| (b.victim >> 8) as usize)
                .sum::<usize>();
            assert_eq!(counted, aside.len(), "step {step}");
        }
        assert!(!aside.is_empty() || cache.buckets.len() * WAYS >= 200);
    }

    /// Random inserts and removals against a std map, under twice the load the cache is
    /// sized for: a found value is always the cached one for its key (never another
    /// key's), and nearly every way ends up holding a live entry.
    #[test]
    fn finds_only_what_it_holds_and_evicts_under_pressure() {
        let entries = 10_000;
        let mut cache = FlowCache::with_entries(entries);
        let mut reference: HashMap<u64, u32> = HashMap::new();
        let mut keys: Vec<u64> = Vec::new();
        let mut rng = FastRng::new(99);
        for step in 0..100_000u32 {
            if keys.len() == 2 * entries || (!keys.is_empty() && rng.below(3) == 0) {
                let key = keys.swap_remove(rng.below(keys.len() as u64) as usize);
                let value = reference.remove(&key).unwrap();
                cache.remove(hash_of(key), value);
                assert_eq!(cache.find(hash_of(key), |v| v == value), None);
            } else {
                let key = rng.next_u64();
                if reference.insert(key, step).is_none() {
                    keys.push(key);
                }
                cache.insert(hash_of(key), step);
            }
        }
        let values: HashMap<u32, u64> = reference.iter().map(|(&k, &v)| (v, k)).collect();
        let mut cached = 0;
        for (&key, &value) in &reference {
            // `eq` as a table verifies: the slot's key must be this key.
            let found = cache.find(hash_of(key), |v| values.get(&v) == Some(&key));
            if let Some(found) = found {
                assert_eq!(found, value);
                cached += 1;
            }
        }
        let ways = cache.buckets.len() * WAYS;
        assert!(
            cached * 10 >= ways * 8,
            "{cached} live entries in {ways} ways"
        );
        assert!(cached < reference.len(), "twice the sizing must evict");
    }

    /// Entries with one tag in one bucket are told apart by `eq`; a full bucket gives
    /// up its ways in turn; inserting a cached entry again changes nothing.
    #[test]
    fn colliding_entries_and_eviction_order() {
        let mut cache = FlowCache::with_entries(1);
        let hash = 0x1234_5678_0000_0003;
        for value in 0..WAYS as u32 {
            cache.insert(hash, value);
        }
        cache.insert(hash, 3);
        for value in 0..WAYS as u32 {
            assert_eq!(cache.find(hash, |v| v == value), Some(value));
        }
        cache.insert(hash, 100);
        assert_eq!(
            cache.find(hash, |v| v == 0),
            None,
            "the first way goes first"
        );
        cache.insert(hash, 101);
        assert_eq!(cache.find(hash, |v| v == 1), None);
        assert_eq!(cache.find(hash, |v| v == 100), Some(100));
        cache.remove(hash, 100);
        assert_eq!(cache.find(hash, |v| v == 100), None);
        cache.insert(hash, 102);
        assert_eq!(
            cache.find(hash, |v| v == 2),
            Some(2),
            "a freed way is used first"
        );
        assert!(cache.candidate(hash).is_some());
        assert_eq!(cache.candidate(hash ^ 0xffff_0000_0000_0000), None);
    }

    /// The tag of a hash whose high half is 1 is odd too: its entry does not read as an
    /// empty way that the next key of its bucket takes.
    #[test]
    fn no_entry_reads_as_an_empty_way() {
        let mut cache = FlowCache::with_entries(1);
        let (hash, other) = (0x0000_0001_0000_0003, 0x0000_0005_0000_0003);
        cache.insert(hash, 1);
        cache.insert(other, 2);
        assert_eq!(cache.cached(), 2);
        assert_eq!(cache.find(hash, |v| v == 1), Some(1));
    }

    /// A miss is an answer while the bucket holds every live key of its own: not once
    /// it has given one up, again once that key is cached again or removed.
    #[test]
    fn a_miss_is_absent_while_the_bucket_holds_all_its_keys() {
        let mut cache = FlowCache::with_entries(1);
        let hash = 0x1234_5678_0000_0003;
        let other = 0x9999_0000_0000_0003;
        assert_eq!(cache.lookup(other, |_| true), Lookup::Absent);
        for value in 0..WAYS as u32 {
            cache.insert(hash, value);
        }
        assert_eq!(cache.lookup(hash, |v| v == 4), Lookup::Hit(4));
        assert_eq!(
            cache.lookup(hash, |v| v == 99),
            Lookup::Absent,
            "full, none given up"
        );
        assert_eq!(cache.lookup(other, |_| true), Lookup::Absent);
        cache.remove(hash, 4);
        cache.insert(hash, 7);
        cache.insert(hash, 8);
        assert_eq!(
            cache.lookup(hash, |v| v == 0),
            Lookup::Unknown,
            "0 was given up"
        );
        assert_eq!(cache.lookup(other, |_| true), Lookup::Unknown);
        // 0 found in the table and cached again: it gives up 1 in its place.
        cache.recache(hash, 0);
        assert_eq!(cache.lookup(hash, |v| v == 0), Lookup::Hit(0));
        assert_eq!(
            cache.lookup(other, |_| true),
            Lookup::Unknown,
            "1 was given up"
        );
        // 1 leaves the table: the bucket holds all its live keys again.
        cache.remove(hash, 1);
        assert_eq!(cache.lookup(other, |_| true), Lookup::Absent);
        for value in [0, 2, 3, 5, 6, 7, 8] {
            cache.remove(hash, value);
        }
        assert_eq!(cache.lookup(other, |_| true), Lookup::Absent, "empty");
    }

    /// A table's life at the cache's sizing, against a std map: filled, then churned at
    /// its limit (a removal for every new key) with lookups of live keys that go to the
    /// table when the cache cannot answer and cache again what they find. Absent is
    /// never said of a live key, every bucket's count is the number of its live keys it
    /// does not hold, and at the limit a good part of the misses are still answered
    /// (about half at one key per way; none, once every bucket had overflowed once,
    /// before the count).
    #[test]
    fn absent_is_never_said_of_a_live_key() {
        let entries = 4_000;
        let mut cache = FlowCache::with_entries(entries);
        let ways = cache.buckets.len() * WAYS;
        let mut table: HashMap<u64, u32> = HashMap::new();
        let mut keys: Vec<u64> = Vec::new();
        let mut rng = FastRng::new(7);
        let (mut misses, mut answered) = (0u32, 0u32);
        for step in 0..200_000u32 {
            let at_limit = keys.len() >= ways;
            if rng.below(2) == 0 && !keys.is_empty() {
                // A lookup of a live key: from the cache, else from the table, cached
                // again.
                let key = keys[rng.below(keys.len() as u64) as usize];
                let value = table[&key];
                match cache.lookup(hash_of(key), |v| v == value) {
                    Lookup::Hit(found) => assert_eq!(found, value),
                    Lookup::Absent => panic!("step {step}: a live key said absent"),
                    Lookup::Unknown => cache.recache(hash_of(key), value),
                }
                continue;
            }
            if at_limit {
                let key = keys.swap_remove(rng.below(keys.len() as u64) as usize);
                let value = table.remove(&key).unwrap();
                cache.remove(hash_of(key), value);
            }
            // A new key: looked up first (a miss), then added.
            let key = rng.next_u64();
            let lookup = cache.lookup(hash_of(key), |_| false);
            assert_ne!(lookup, Lookup::Hit(step), "step {step}");
            if at_limit {
                misses += 1;
                answered += u32::from(lookup == Lookup::Absent);
            }
            table.insert(key, step);
            keys.push(key);
            cache.insert(hash_of(key), step);
        }
        let live: Vec<(u64, u32)> = table.iter().map(|(&k, &v)| (hash_of(k), v)).collect();
        cache.assert_counts(&live);
        assert!(
            misses > 10_000 && answered * 10 >= misses * 3,
            "{answered} of {misses} misses answered at the limit"
        );
    }
}
