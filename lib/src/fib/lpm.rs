//! The longest-prefix-match table behind [`super::Fib`]: a 16-8-8 multibit trie.
//!
//! Why this shape:
//! - A lookup is at most three dependent loads (one for most addresses: any prefix of
//!   length <= 16 ends in the root), with no branches on prefix lengths and no hashing.
//! - DIR-24-8 would save a load but needs a 64 MiB first level, which every rebuild would
//!   have to allocate and fill; the control plane rebuilds the whole table on each route
//!   change, so the 256 KiB root of 16-8-8 keeps a rebuild at a few milliseconds.
//! - Memory grows with the routes: a 256-entry chunk (1 KiB) per /16 holding a longer
//!   prefix, and one per /24 holding a prefix longer than /24. A BGP-like million-route
//!   table (mostly /24s) stays under ~100 MiB.
//!
//! Building never paints a slot twice: the prefixes are first flattened into disjoint
//! address ranges (the longest prefix wins inside each), then each range fills the slots it
//! covers whole and descends only into the (at most two) slots it covers in part. The cost
//! is O(n log n) for the sort plus O(table size).

use crate::types::Ipv4Prefix;

/// An entry with this bit set is the offset of a child chunk; otherwise it is a value.
const CHILD_FLAG: u32 = 1 << 31;
const ROOT_SLOTS: usize = 1 << 16;
const CHUNK_SLOTS: usize = 1 << 8;
/// Per depth: how far the address is shifted right to index that level, and the index mask.
const LEVELS: [(u32, u32); 3] = [(16, 0xffff), (8, 0xff), (0, 0xff)];
const ADDRESS_SPACE_END: u64 = 1 << 32;

/// An immutable 16-8-8 trie mapping IPv4 addresses to `u32` values (< 2^31).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lpm {
    /// The root's 65536 entries, then every child chunk of 256 entries.
    table: Vec<u32>,
}

impl Lpm {
    /// The largest value an entry can hold; the top bit marks child pointers.
    pub const MAX_VALUE: u32 = CHILD_FLAG - 1;

    /// Builds the table. Addresses no prefix covers map to `default`. When a prefix is
    /// given twice, the later value wins. Host bits of a prefix are ignored. Values above
    /// [`Lpm::MAX_VALUE`] are a caller bug and are truncated to it.
    pub fn build(routes: &[(Ipv4Prefix, u32)], default: u32) -> Lpm {
        let ranges = disjoint_ranges(routes, default & Self::MAX_VALUE);
        let mut table = Vec::with_capacity(ROOT_SLOTS + chunks_needed(&ranges) * CHUNK_SLOTS);
        table.resize(ROOT_SLOTS, default & Self::MAX_VALUE);
        let mut lpm = Lpm { table };
        for (i, &(start, value)) in ranges.iter().enumerate() {
            let end = ranges.get(i + 1).map_or(ADDRESS_SPACE_END, |next| next.0);
            lpm.paint(0, 0, start, end, value);
        }
        lpm
    }

    /// The value of the longest prefix containing `addr`. Three loads at most; cannot
    /// panic (a corrupt offset would read the default of slot 0 rather than index out).
    #[inline]
    pub fn lookup(&self, addr: u32) -> u32 {
        let mut entry = self.entry(((addr >> 16) & 0xffff) as usize);
        if entry & CHILD_FLAG != 0 {
            entry = self.entry((entry & !CHILD_FLAG) as usize + ((addr >> 8) & 0xff) as usize);
            if entry & CHILD_FLAG != 0 {
                entry = self.entry((entry & !CHILD_FLAG) as usize + (addr & 0xff) as usize);
            }
        }
        entry & !CHILD_FLAG
    }

    #[inline]
    fn entry(&self, index: usize) -> u32 {
        self.table.get(index).copied().unwrap_or(0)
    }

    /// Bytes held by the table.
    pub fn memory_bytes(&self) -> usize {
        self.table.len() * std::mem::size_of::<u32>()
    }

    /// Child chunks below the root (a measure of how far the table spread).
    pub fn chunk_count(&self) -> usize {
        (self.table.len() - ROOT_SLOTS) / CHUNK_SLOTS
    }

    /// Writes `value` for addresses `start..end`, all inside the table at `base` of `depth`:
    /// the slots covered whole get the value, a slot covered in part (at most one at each
    /// end) gets a child chunk.
    fn paint(&mut self, depth: usize, base: usize, start: u64, end: u64, value: u32) {
        let (shift, mask) = LEVELS[depth];
        let slot_span = 1u64 << shift;
        let slot_of = |address: u64| base + ((address >> shift) as u32 & mask) as usize;
        let mut cursor = start;
        if cursor & (slot_span - 1) != 0 {
            let piece_end = end.min((cursor / slot_span + 1) * slot_span);
            let child = self.child_at(slot_of(cursor));
            self.paint(depth + 1, child, cursor, piece_end, value);
            cursor = piece_end;
        }
        let whole_end = end / slot_span * slot_span;
        if cursor < whole_end {
            // `whole_end` may be the end of this table's span, which `slot_of` would wrap.
            let first = slot_of(cursor);
            let count = ((whole_end - cursor) / slot_span) as usize;
            self.table[first..first + count].fill(value);
            cursor = whole_end;
        }
        if cursor < end {
            let child = self.child_at(slot_of(cursor));
            self.paint(depth + 1, child, cursor, end, value);
        }
    }

    /// The chunk below entry `index`, created (inheriting the entry's value) if missing.
    fn child_at(&mut self, index: usize) -> usize {
        let entry = self.table[index];
        if entry & CHILD_FLAG != 0 {
            return (entry & !CHILD_FLAG) as usize;
        }
        let offset = self.table.len();
        debug_assert!(offset + CHUNK_SLOTS <= Self::MAX_VALUE as usize);
        self.table.resize(offset + CHUNK_SLOTS, entry);
        self.table[index] = CHILD_FLAG | offset as u32;
        offset
    }
}

/// How many child chunks the ranges need: one per root slot and one per /24 that a range
/// starts inside, so the table is allocated once.
fn chunks_needed(ranges: &[(u64, u32)]) -> usize {
    let mut count = 0;
    let mut last_root_slot = None;
    let mut last_block = None;
    for &(start, _) in ranges {
        if start & 0xffff != 0 && last_root_slot != Some(start >> 16) {
            last_root_slot = Some(start >> 16);
            count += 1;
        }
        if start & 0xff != 0 && last_block != Some(start >> 8) {
            last_block = Some(start >> 8);
            count += 1;
        }
    }
    count
}

/// Flattens possibly nested prefixes into `(start, value)` ranges, each running to the
/// next start (the last to the end of the address space), adjacent ranges differing.
fn disjoint_ranges(routes: &[(Ipv4Prefix, u32)], default: u32) -> Vec<(u64, u32)> {
    let mut sorted: Vec<(u64, u8, u32)> = routes
        .iter()
        .map(|(p, v)| {
            let n = p.network();
            (
                u64::from(n.addr.to_bits()),
                n.len.min(32),
                v & Lpm::MAX_VALUE,
            )
        })
        .collect();
    // Stable: for a prefix given twice, the later value comes last and wins below.
    sorted.sort_by_key(|&(start, len, _)| (start, len));

    let mut ranges: Vec<(u64, u32)> = Vec::with_capacity(sorted.len() * 2 + 1);
    push_range(&mut ranges, 0, default);
    // Enclosing prefixes: (end, value); prefixes either nest or are disjoint, and the
    // sort puts an enclosing prefix before everything inside it.
    let mut enclosing: Vec<(u64, u32)> = vec![(ADDRESS_SPACE_END, default)];
    let mut previous: Option<(u64, u8)> = None;
    for &(start, len, value) in &sorted {
        let end = start + (1u64 << (32 - u32::from(len)));
        if previous == Some((start, len)) {
            // Same prefix again: replace the value it was given.
            enclosing.pop();
        } else {
            close_until(&mut ranges, &mut enclosing, start);
        }
        push_range(&mut ranges, start, value);
        enclosing.push((end, value));
        previous = Some((start, len));
    }
    close_until(&mut ranges, &mut enclosing, ADDRESS_SPACE_END);
    ranges
}

/// Ends every enclosing prefix that finishes at or before `address`, resuming its parent.
fn close_until(ranges: &mut Vec<(u64, u32)>, enclosing: &mut Vec<(u64, u32)>, address: u64) {
    while enclosing.len() > 1 {
        let Some(&(end, _)) = enclosing.last() else {
            break;
        };
        if end > address {
            break;
        }
        enclosing.pop();
        if let Some(&(_, parent_value)) = enclosing.last() {
            if end < ADDRESS_SPACE_END {
                push_range(ranges, end, parent_value);
            }
        }
    }
}

fn push_range(ranges: &mut Vec<(u64, u32)>, start: u64, value: u32) {
    // A range that starts where the last one did leaves the last one empty.
    if ranges
        .last()
        .is_some_and(|&(last_start, _)| last_start == start)
    {
        ranges.pop();
    }
    if ranges
        .last()
        .is_some_and(|&(_, last_value)| last_value == value)
    {
        return;
    }
    ranges.push((start, value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::FastRng;
    use std::net::Ipv4Addr;

    fn prefix(s: &str) -> Ipv4Prefix {
        s.parse().unwrap()
    }

    fn addr(s: &str) -> u32 {
        s.parse::<Ipv4Addr>().unwrap().to_bits()
    }

    /// The reference: scan every route, keep the longest that contains `a`; later wins ties.
    fn naive_lookup(routes: &[(Ipv4Prefix, u32)], default: u32, a: u32) -> u32 {
        let mut best: Option<(u8, u32)> = None;
        for (p, v) in routes {
            if p.contains(Ipv4Addr::from_bits(a)) && best.is_none_or(|(len, _)| p.len >= len) {
                best = Some((p.len, *v));
            }
        }
        best.map_or(default, |(_, v)| v)
    }

    #[test]
    fn empty_table_answers_default_everywhere() {
        let lpm = Lpm::build(&[], 7);
        for a in [0, 1, 0x0a00_0001, u32::MAX] {
            assert_eq!(lpm.lookup(a), 7);
        }
        assert_eq!(lpm.chunk_count(), 0);
    }

    #[test]
    fn default_route_and_host_route() {
        let routes = [(prefix("0.0.0.0/0"), 1), (prefix("10.20.0.2/32"), 2)];
        let lpm = Lpm::build(&routes, 0);
        assert_eq!(lpm.lookup(addr("10.20.0.2")), 2);
        assert_eq!(lpm.lookup(addr("10.20.0.1")), 1);
        assert_eq!(lpm.lookup(addr("10.20.0.3")), 1);
        assert_eq!(lpm.lookup(0), 1);
        assert_eq!(lpm.lookup(u32::MAX), 1);
        // One chunk per level below the /32.
        assert_eq!(lpm.chunk_count(), 2);
    }

    #[test]
    fn host_routes_at_both_ends_of_the_address_space() {
        let routes = [(prefix("0.0.0.0/32"), 1), (prefix("255.255.255.255/32"), 2)];
        let lpm = Lpm::build(&routes, 9);
        assert_eq!(lpm.lookup(0), 1);
        assert_eq!(lpm.lookup(1), 9);
        assert_eq!(lpm.lookup(u32::MAX), 2);
        assert_eq!(lpm.lookup(u32::MAX - 1), 9);
    }

    #[test]
    fn nested_prefixes_resume_the_enclosing_value_after_the_inner_one() {
        let routes = [
            (prefix("10.0.0.0/8"), 1),
            (prefix("10.1.0.0/16"), 2),
            (prefix("10.1.1.0/24"), 3),
            (prefix("10.1.1.128/25"), 4),
            (prefix("10.1.2.0/23"), 5),
        ];
        let lpm = Lpm::build(&routes, 0);
        for (a, want) in [
            ("9.255.255.255", 0),
            ("10.0.0.0", 1),
            ("10.1.0.255", 2),
            ("10.1.1.0", 3),
            ("10.1.1.127", 3),
            ("10.1.1.128", 4),
            ("10.1.1.255", 4),
            ("10.1.2.0", 5),
            ("10.1.3.255", 5),
            ("10.1.4.0", 2),
            ("10.2.0.0", 1),
            ("11.0.0.0", 0),
        ] {
            assert_eq!(lpm.lookup(addr(a)), want, "lookup {a}");
        }
    }

    #[test]
    fn a_prefix_given_twice_keeps_the_later_value_and_host_bits_are_ignored() {
        let routes = [(prefix("10.1.1.0/24"), 1), (prefix("10.1.1.77/24"), 2)];
        let lpm = Lpm::build(&routes, 0);
        assert_eq!(lpm.lookup(addr("10.1.1.1")), 2);
        assert_eq!(lpm.lookup(addr("10.1.2.1")), 0);
    }

    #[test]
    fn a_longer_prefix_with_the_enclosing_value_adds_no_chunk() {
        let routes = [(prefix("10.0.0.0/8"), 1), (prefix("10.1.1.0/24"), 1)];
        assert_eq!(Lpm::build(&routes, 0).chunk_count(), 0);
    }

    #[test]
    fn random_routes_match_the_naive_reference() {
        let mut rng = FastRng::new(0x5eed_f1b0);
        let mut routes = Vec::new();
        for i in 0..10_000u32 {
            // Lengths spread over 0..=32 but weighted to the levels' edges, where bugs live.
            let len = match rng.below(4) {
                0 => rng.below(33) as u8,
                1 => [15, 16, 17, 23, 24, 25, 31, 32][rng.below(8) as usize],
                _ => 16 + rng.below(17) as u8,
            };
            // Cluster addresses so prefixes nest and overlap often.
            let base = (rng.below(4) as u32) << 28 | (rng.next_u64() as u32 & 0x00ff_ffff);
            let p = Ipv4Prefix::new(Ipv4Addr::from_bits(base), len).unwrap();
            routes.push((p, i % 1000 + 1));
        }
        let lpm = Lpm::build(&routes, 0);
        // The table was sized once, exactly.
        assert_eq!(
            chunks_needed(&disjoint_ranges(&routes, 0)),
            lpm.chunk_count()
        );
        // The reference is slow (a scan per lookup), so index routes by length for it.
        let mut by_len: Vec<std::collections::HashMap<u32, u32>> =
            vec![std::collections::HashMap::new(); 33];
        for (p, v) in &routes {
            by_len[p.len as usize].insert(p.network().addr.to_bits(), *v);
        }
        let indexed = |a: u32| {
            (0..=32u8).rev().find_map(|len| {
                let net = a & Ipv4Prefix::new(Ipv4Addr::UNSPECIFIED, len).unwrap().mask();
                by_len[len as usize].get(&net).copied()
            })
        };
        for i in 0..100_000u32 {
            let a = if i % 2 == 0 {
                (rng.below(4) as u32) << 28 | (rng.next_u64() as u32 & 0x00ff_ffff)
            } else {
                rng.next_u64() as u32
            };
            assert_eq!(
                lpm.lookup(a),
                indexed(a).unwrap_or(0),
                "lookup {}",
                Ipv4Addr::from_bits(a)
            );
        }
        // The indexed reference itself agrees with the plain scan on a sample.
        for _ in 0..200 {
            let a = (rng.below(4) as u32) << 28 | (rng.next_u64() as u32 & 0x00ff_ffff);
            assert_eq!(indexed(a).unwrap_or(0), naive_lookup(&routes, 0, a));
        }
    }
}
