//! An address's class in a bit-vector head: the class of the longest of the rules'
//! prefixes that contains it.
//!
//! The FIB's 16-8-8 trie ([`crate::fib::lpm::Lpm`]) gives a 1 KiB chunk to each /16 that
//! holds a longer prefix, and another to each /24 that holds one longer than /24. Rule
//! prefixes spread over the address space (the acl bench's, a pod's /32 in each of many
//! /16s) leave one or two of them in most such /16s, so thousands of chunks: ~3.5 MiB per
//! field in the bench's uniform 10k set, where a lookup misses L2 once or twice before it
//! can read the class's vector. Here a /16 or /24 that holds at most [`BLOCK_RANGES`]
//! ranges of one class each is one cache line, its ranges' starts compared all at once
//! without a branch; only denser ones get the trie's chunks. The bench's sets then take
//! 2-4 lines a lookup, all in the 256 KiB root or a few hundred KiB of blocks.

use crate::types::Ipv4Prefix;

const TAG_SHIFT: u32 = 30;
const VALUE: u32 = 0;
const BLOCK: u32 = 1;
const CHUNK: u32 = 2;
const PAYLOAD: u32 = (1 << TAG_SHIFT) - 1;

const CHUNK_SLOTS: usize = 1 << 8;

/// Ranges a block holds: as many as fit one 64-byte line with 16-bit starts and 32-bit
/// classes.
const BLOCK_RANGES: usize = 10;

/// The ranges of one /16 or /24: `starts` are their first addresses within it, ascending
/// from 0; the unused ones are `u16::MAX` with the last class again, so that counting
/// the starts at or below an address gives its range whatever the count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(64))]
struct Block {
    starts: [u16; BLOCK_RANGES],
    classes: [u32; BLOCK_RANGES],
}

const _: () = assert!(std::mem::size_of::<Block>() == 64);

impl Block {
    #[inline(always)]
    fn class_of(&self, low: u16) -> u32 {
        let at_or_below = self.starts.iter().filter(|&&s| s <= low).count();
        let index = at_or_below.saturating_sub(1);
        self.classes.get(index).copied().unwrap_or(0)
    }
}

/// An immutable map from IPv4 addresses to classes (< 2^30), by longest prefix.
#[derive(Clone, Debug)]
pub(super) struct AddressClasses {
    /// How far an address is shifted to index the root: 16, or more when no prefix is
    /// longer than /16.
    shift: u32,
    /// One entry per /16 (or shorter): a class, a block or a chunk, tagged in the top two
    /// bits.
    root: Vec<u32>,
    /// 256 entries each, one per /24 of a /16 or per address of a /24.
    chunks: Vec<u32>,
    blocks: Vec<Block>,
}

impl AddressClasses {
    /// Classes by longest matching prefix; class 0 for addresses no prefix covers. A
    /// prefix given twice keeps its later class; host bits are ignored.
    pub(super) fn build(prefixes: &[(Ipv4Prefix, u32)]) -> AddressClasses {
        let ranges = disjoint_ranges(prefixes);
        // Prefixes no longer than /16 need no more than a root indexed by their lengths'
        // bits: 256 entries for the /8 and shorter of a prefix index's short rules.
        let longest = prefixes.iter().map(|(p, _)| u32::from(p.len)).max();
        let root_bits = longest.unwrap_or(0).clamp(1, 16);
        let mut classes = AddressClasses {
            shift: 32 - root_bits,
            root: Vec::with_capacity(1 << root_bits),
            chunks: Vec::new(),
            blocks: Vec::new(),
        };
        let mut first = 0;
        for slot in 0..1u64 << root_bits {
            let (lo, hi) = (slot << classes.shift, (slot + 1) << classes.shift);
            while ranges.get(first + 1).is_some_and(|r| r.0 <= lo) {
                first += 1;
            }
            let end = ranges_before(&ranges, first, hi);
            let entry = classes.node(&ranges[first..end], lo, 16);
            classes.root.push(entry);
        }
        classes
    }

    /// The entry for `[lo, lo + 2^bits)`, given the ranges that overlap it (the first
    /// starting at or before `lo`).
    fn node(&mut self, ranges: &[(u64, u32)], lo: u64, bits: u32) -> u32 {
        match ranges {
            [] => VALUE << TAG_SHIFT,
            [(_, class)] => VALUE << TAG_SHIFT | class & PAYLOAD,
            _ if ranges.len() <= BLOCK_RANGES => {
                let mut block = Block {
                    starts: [u16::MAX; BLOCK_RANGES],
                    classes: [ranges[ranges.len() - 1].1 & PAYLOAD; BLOCK_RANGES],
                };
                for (i, &(start, class)) in ranges.iter().enumerate() {
                    block.starts[i] = start.saturating_sub(lo) as u16;
                    block.classes[i] = class & PAYLOAD;
                }
                self.blocks.push(block);
                BLOCK << TAG_SHIFT | (self.blocks.len() - 1) as u32
            }
            _ => {
                let chunk = self.chunks.len() / CHUNK_SLOTS;
                self.chunks.resize(self.chunks.len() + CHUNK_SLOTS, 0);
                let step_bits = bits - 8;
                let mut first = 0;
                for slot in 0..CHUNK_SLOTS as u64 {
                    let sub_lo = lo + (slot << step_bits);
                    let sub_hi = sub_lo + (1 << step_bits);
                    while ranges.get(first + 1).is_some_and(|r| r.0 <= sub_lo) {
                        first += 1;
                    }
                    let end = ranges_before(ranges, first, sub_hi);
                    // Below a /24 the entries are single addresses: one range each.
                    let entry = self.node(&ranges[first..end], sub_lo, step_bits);
                    self.chunks[chunk * CHUNK_SLOTS + slot as usize] = entry;
                }
                CHUNK << TAG_SHIFT | chunk as u32
            }
        }
    }

    /// The class of `addr`: at most three dependent loads (root, chunk, chunk or block).
    #[inline(always)]
    pub(super) fn lookup(&self, addr: u32) -> u32 {
        let slot = (addr >> self.shift) as usize;
        let mut entry = self.root.get(slot).copied().unwrap_or(0);
        let mut low = addr as u16;
        if entry >> TAG_SHIFT == CHUNK {
            let chunk = |entry: u32, index: u32| {
                let at = (entry & PAYLOAD) as usize * CHUNK_SLOTS + index as usize;
                self.chunks.get(at).copied().unwrap_or(0)
            };
            entry = chunk(entry, addr >> 8 & 0xff);
            low = (addr & 0xff) as u16;
            if entry >> TAG_SHIFT == CHUNK {
                entry = chunk(entry, addr & 0xff);
            }
        }
        if entry >> TAG_SHIFT == BLOCK {
            let block = self.blocks.get((entry & PAYLOAD) as usize);
            return block.map_or(0, |b| b.class_of(low));
        }
        entry & PAYLOAD
    }

    pub(super) fn memory_bytes(&self) -> usize {
        (self.root.len() + self.chunks.len()) * 4 + self.blocks.len() * 64
    }
}

/// The end of the ranges from `first` on that start before `end`: a walk, as most slots
/// hold one or two (a binary search per slot of the root made the build ~2x slower).
fn ranges_before(ranges: &[(u64, u32)], first: usize, end: u64) -> usize {
    let mut last = first + 1;
    while ranges.get(last).is_some_and(|r| r.0 < end) {
        last += 1;
    }
    last.min(ranges.len())
}

/// The address space cut where the longest matching prefix changes: (first address,
/// class) in address order, from 0.
fn disjoint_ranges(prefixes: &[(Ipv4Prefix, u32)]) -> Vec<(u64, u32)> {
    // (start, length, position, end, class): outer prefixes before the ones they hold,
    // and of a prefix given twice, the later last.
    let mut sorted: Vec<(u64, u8, usize, u64, u32)> = prefixes
        .iter()
        .enumerate()
        .map(|(i, (p, class))| {
            let start = u64::from(p.addr.to_bits() & p.mask());
            (start, p.len, i, start + (1u64 << (32 - p.len)), *class)
        })
        .collect();
    sorted.sort_unstable();
    let mut ranges: Vec<(u64, u32)> = Vec::with_capacity(2 * sorted.len() + 1);
    let push = |ranges: &mut Vec<(u64, u32)>, start: u64, class: u32| match ranges.last_mut() {
        Some(last) if last.0 == start => last.1 = class,
        Some(last) if last.1 == class => {}
        _ => ranges.push((start, class)),
    };
    // The prefixes holding the current address, innermost last: (end, class).
    let mut open: Vec<(u64, u32)> = vec![(1 << 32, 0)];
    push(&mut ranges, 0, 0);
    for (start, _, _, end, class) in sorted {
        while open.len() > 1 && open[open.len() - 1].0 <= start {
            let (closed, _) = open.pop().unwrap_or((0, 0));
            push(&mut ranges, closed, open[open.len() - 1].1);
        }
        push(&mut ranges, start, class);
        open.push((end, class));
    }
    while open.len() > 1 {
        let (closed, _) = open.pop().unwrap_or((0, 0));
        if closed < 1 << 32 {
            push(&mut ranges, closed, open[open.len() - 1].1);
        }
    }
    // A merge into the previous range may have left two neighbours of one class.
    ranges.dedup_by(|next, previous| next.1 == previous.1);
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::lpm::Lpm;
    use crate::rand::FastRng;

    /// Prefixes of every shape the lookup takes apart: spread ones (a block per /16),
    /// crowds in one /16 and one /24 (chunks, and blocks below them), host routes at the
    /// ends of the address space, nested and repeated prefixes.
    fn prefix_sets(rng: &mut FastRng) -> Vec<Vec<(Ipv4Prefix, u32)>> {
        let mut sets = Vec::new();
        for crowd in [0u32, 5, 40, 300] {
            let mut prefixes = Vec::new();
            let mut class = 1;
            let mut add = |addr: u32, len: u8| {
                prefixes.push((Ipv4Prefix::new(addr.into(), len).unwrap(), class));
                class += 1;
            };
            for _ in 0..500 {
                add(rng.next_u32(), rng.below(33) as u8);
            }
            let base = rng.next_u32() & 0xffff_0000;
            for _ in 0..crowd {
                add(base | rng.below(1 << 16) as u32, 17 + rng.below(16) as u8);
                add(
                    base | 0x0100 | rng.below(256) as u32,
                    25 + rng.below(8) as u8,
                );
            }
            for addr in [0, u32::MAX, 0xffff_0000, 0x0000_ffff] {
                add(addr, 32);
            }
            add(0x0a00_0000, 8);
            add(0x0a00_0000, 8);
            add(0x0a01_0000, 16);
            add(0x0a01_0100, 24);
            sets.push(prefixes);
        }
        sets
    }

    /// Each address maps to the class the FIB's trie gives it (longest prefix, the later
    /// of a prefix given twice): at random, and at each prefix's ends and one past them.
    #[test]
    fn classes_are_the_fib_tries_longest_match() {
        let mut rng = FastRng::new(0xadd5);
        for prefixes in prefix_sets(&mut rng) {
            let classes = AddressClasses::build(&prefixes);
            let trie = Lpm::build(&prefixes, 0);
            let mut addresses: Vec<u32> = (0..20_000).map(|_| rng.next_u32()).collect();
            for (p, _) in &prefixes {
                let start = p.addr.to_bits() & p.mask();
                let end = start | !p.mask();
                addresses.extend([start, end, start.wrapping_sub(1), end.wrapping_add(1)]);
                addresses.extend((0..8).map(|_| start | (rng.next_u32() & !p.mask())));
            }
            for addr in addresses {
                assert_eq!(
                    classes.lookup(addr),
                    trie.lookup(addr),
                    "{}",
                    std::net::Ipv4Addr::from(addr)
                );
            }
            assert!(!classes.blocks.is_empty());
        }
    }

    /// Prefixes no longer than /12 make a root of 2^12 entries or fewer, and the same
    /// classes as the FIB's trie.
    #[test]
    fn short_prefixes_index_a_smaller_root() {
        let mut rng = FastRng::new(0x5407);
        for longest in [1u64, 7, 8, 12] {
            let prefixes: Vec<(Ipv4Prefix, u32)> = (1..200)
                .map(|class| {
                    let len = rng.below(longest + 1) as u8;
                    (Ipv4Prefix::new(rng.next_u32().into(), len).unwrap(), class)
                })
                .collect();
            let classes = AddressClasses::build(&prefixes);
            assert!(classes.root.len() <= 1 << longest);
            let trie = Lpm::build(&prefixes, 0);
            for _ in 0..20_000 {
                let addr = rng.next_u32();
                assert_eq!(classes.lookup(addr), trie.lookup(addr));
            }
        }
    }

    /// Without prefixes every address is class 0; a /0 gives its class everywhere.
    #[test]
    fn no_prefix_is_class_zero_and_a_default_route_covers_all() {
        let none = AddressClasses::build(&[]);
        assert_eq!(none.lookup(0x0a00_0001), 0);
        let all = AddressClasses::build(&[(Ipv4Prefix::new(0.into(), 0).unwrap(), 7)]);
        for addr in [0, 1, 0x8000_0000, u32::MAX] {
            assert_eq!(all.lookup(addr), 7);
        }
        assert!(all.blocks.is_empty() && all.chunks.is_empty() && all.root.len() == 2);
    }
}
