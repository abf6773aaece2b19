//! The tail of a rule list: tuple-space search, with merged tuples.
//!
//! A linear scan costs one comparison per rule; at 10k rules that is microseconds per
//! packet. Instead, as VPP's hash-based matching does, rules are grouped by the shape of
//! what they compare ("tuple": source and destination prefix lengths, whether the protocol
//! is fixed, whether each port is a single value), and each group is a hash table keyed by
//! the packet's fields under that shape's masks. A lookup probes one hash per tuple.
//!
//! Two refinements keep the tuple count, and so the cost, from growing with the rules
//! (the idea of TupleMerge, Daly and Torng, 2017):
//! - a rule may sit in a *less specific* tuple than its own (shorter prefixes, port range
//!   instead of single port). The hash then only narrows the search to a short chain of
//!   candidates, each verified in full. A chain is capped at [`CHAIN_LIMIT`] when placing;
//!   a rule that would overflow every compatible tuple opens a new one.
//! - port *ranges* are never part of a hash key (they are not masks): a rule with a range
//!   sits in a tuple whose port is wildcarded, and the range is checked on the candidate.
//!
//! Most tuples hold nothing for a given packet, so each tuple also has a small Bloom
//! filter (one bit per hashed key, about 8 bits per key, in L1): a probe that misses costs
//! a hash and one bit test, not a walk through the hash table in L2 or further.
//!
//! First match wins: every candidate carries its position in the interface's ordered rule
//! list (`order`). Tuples are visited by increasing smallest order they hold, and the
//! search stops as soon as no remaining tuple can hold a rule before the best match so far.

use hashbrown::{HashMap, HashTable};

use super::{prefix_mask, Candidate, PacketFields};
use crate::acl::hash::SeededHash;

/// Candidates per hash bucket before a rule is pushed into a more specific tuple.
pub(crate) const CHAIN_LIMIT: usize = 8;

/// Bloom filter bits per key in a tuple (about 12% false positives with one hash).
const BLOOM_BITS_PER_KEY: usize = 8;

/// Prefix lengths a new tuple starts from, so that rules of neighbouring lengths share it.
const TUPLE_PREFIX_STEP: u8 = 8;

/// What a tuple compares exactly: the rest of a rule is checked on its candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Shape {
    src_len: u8,
    dst_len: u8,
    proto: bool,
    sport: bool,
    dport: bool,
}

impl Shape {
    /// The most specific shape `rule` can sit in.
    fn of(rule: &Candidate) -> Shape {
        let l4 = rule.beyond.proto != 0;
        Shape {
            src_len: rule.src_len(),
            dst_len: rule.dst_len(),
            proto: l4,
            sport: l4 && rule.beyond.sport.is_single(),
            dport: l4 && rule.beyond.dport.is_single(),
        }
    }

    /// Whether a rule of shape `rule` can sit in a tuple of this shape.
    fn admits(&self, rule: &Shape) -> bool {
        self.src_len <= rule.src_len
            && self.dst_len <= rule.dst_len
            && (!self.proto || rule.proto)
            && (!self.sport || rule.sport)
            && (!self.dport || rule.dport)
    }

    fn rounded_down(&self) -> Shape {
        Shape {
            src_len: self.src_len - self.src_len % TUPLE_PREFIX_STEP,
            dst_len: self.dst_len - self.dst_len % TUPLE_PREFIX_STEP,
            ..*self
        }
    }

    fn specificity(&self) -> u32 {
        u32::from(self.src_len)
            + u32::from(self.dst_len)
            + 8 * (u32::from(self.proto) + u32::from(self.sport) + u32::from(self.dport))
    }
}

#[derive(Clone, Copy, Debug)]
struct Tuple {
    id: u16,
    src_mask: u32,
    dst_mask: u32,
    proto: bool,
    sport: bool,
    dport: bool,
    /// The first position in the rule list among this tuple's rules.
    min_order: u32,
    /// This tuple's filter: `blooms[bloom_start..]`, `bloom_mask + 1` bits.
    bloom_start: u32,
    bloom_mask: u32,
    /// A tuple that compares no field (it holds a rule that matches every packet, as a
    /// list's closing permit-any or permit+reflect does) has one key whatever the
    /// packet: its chain, `candidates[start..start + len]`, found at build, so that a
    /// lookup reaching it neither hashes nor probes.
    direct: Option<(u32, u32)>,
}

impl Tuple {
    fn compares_nothing(&self) -> bool {
        self.src_mask == 0 && self.dst_mask == 0 && !self.proto && !self.sport && !self.dport
    }

    #[inline(always)]
    fn key(&self, packet: &PacketFields) -> u128 {
        let proto = if self.proto { packet.proto } else { 0 };
        let sport = if self.sport { packet.sport } else { 0 };
        let dport = if self.dport { packet.dport } else { 0 };
        pack_key(
            self.id,
            packet.src & self.src_mask,
            packet.dst & self.dst_mask,
            proto,
            sport,
            dport,
        )
    }
}

#[inline(always)]
fn pack_key(tuple: u16, src: u32, dst: u32, proto: u8, sport: u16, dport: u16) -> u128 {
    u128::from(src)
        | u128::from(dst) << 32
        | u128::from(sport) << 64
        | u128::from(dport) << 80
        | u128::from(proto) << 96
        | u128::from(tuple) << 104
}

/// A bucket: its key and its candidates, `candidates[start..start + len]`, in rule order.
#[derive(Clone, Copy, Debug)]
struct Chain {
    key: u128,
    start: u32,
    len: u32,
}

/// The filter bit of a key's hash: high bits, as hashbrown uses the low ones.
#[inline(always)]
fn bloom_bit(hash: u64, mask: u32) -> (usize, u64) {
    let bit = (hash >> 32) as u32 & mask;
    ((bit / 64) as usize, 1u64 << (bit % 64))
}

/// Rules compiled into tuples; each keeps its position in the whole list (`order`).
#[derive(Debug)]
pub(super) struct TupleSpace {
    tuples: Vec<Tuple>,
    buckets: HashTable<Chain>,
    hasher: SeededHash,
    blooms: Vec<u64>,
    candidates: Vec<Candidate>,
}

impl TupleSpace {
    /// Compiles `rules`, given in list order.
    pub(super) fn build(rules: &[Candidate]) -> TupleSpace {
        let mut shapes: Vec<Shape> = Vec::new();
        let mut tuple_masks: Vec<Tuple> = Vec::new();
        let mut chains: HashMap<u128, Vec<Candidate>, SeededHash> =
            HashMap::with_hasher(SeededHash::random());
        for candidate in rules {
            let order = candidate.order;
            let fields = PacketFields {
                src: candidate.src_net,
                dst: candidate.dst_net,
                sport: candidate.beyond.sport.lo,
                dport: candidate.beyond.dport.lo,
                proto: candidate.beyond.proto,
                tcp_flags: 0,
                l4_valid: true,
            };
            let own = Shape::of(candidate);
            let chain_len = |tuple: &Tuple| chains.get(&tuple.key(&fields)).map_or(0, Vec::len);
            let mut fitting: Vec<usize> = (0..shapes.len())
                .filter(|&t| shapes[t].admits(&own))
                .collect();
            fitting.sort_by_key(|&t| std::cmp::Reverse(shapes[t].specificity()));
            let existing = fitting
                .into_iter()
                .find(|&t| chain_len(&tuple_masks[t]) < CHAIN_LIMIT);
            let tuple = match existing {
                Some(t) => t,
                None => {
                    let rounded = own.rounded_down();
                    let shape = if shapes.contains(&rounded) {
                        own
                    } else {
                        rounded
                    };
                    match shapes.iter().position(|s| *s == shape) {
                        // Only identical keys overflow here: nothing more specific exists.
                        Some(t) => t,
                        None => {
                            shapes.push(shape);
                            tuple_masks.push(Tuple {
                                id: (shapes.len() - 1) as u16,
                                src_mask: prefix_mask(shape.src_len),
                                dst_mask: prefix_mask(shape.dst_len),
                                proto: shape.proto,
                                sport: shape.sport,
                                dport: shape.dport,
                                min_order: order,
                                bloom_start: 0,
                                bloom_mask: 0,
                                direct: None,
                            });
                            shapes.len() - 1
                        }
                    }
                }
            };
            chains
                .entry(tuple_masks[tuple].key(&fields))
                .or_default()
                .push(*candidate);
        }
        let hasher = SeededHash::random();
        let mut keys_per_tuple = vec![0usize; tuple_masks.len()];
        for key in chains.keys() {
            keys_per_tuple[(key >> 104) as usize] += 1;
        }
        let mut blooms = Vec::new();
        for tuple in &mut tuple_masks {
            let bits = (keys_per_tuple[tuple.id as usize] * BLOOM_BITS_PER_KEY)
                .next_power_of_two()
                .max(64);
            tuple.bloom_start = blooms.len() as u32;
            tuple.bloom_mask = (bits - 1) as u32;
            blooms.resize(blooms.len() + bits / 64, 0u64);
        }
        let mut buckets = HashTable::with_capacity(chains.len());
        let mut candidates = Vec::with_capacity(rules.len());
        for (key, chain) in chains {
            let hash = hasher.hash_u128(key);
            let tuple = &mut tuple_masks[(key >> 104) as usize];
            let (word, bit) = bloom_bit(hash, tuple.bloom_mask);
            blooms[tuple.bloom_start as usize + word] |= bit;
            let bucket = Chain {
                key,
                start: candidates.len() as u32,
                len: chain.len() as u32,
            };
            if tuple.compares_nothing() {
                tuple.direct = Some((bucket.start, bucket.len));
            }
            buckets.insert_unique(hash, bucket, |c| hasher.hash_u128(c.key));
            candidates.extend(chain);
        }
        tuple_masks.sort_by_key(|t| t.min_order);
        TupleSpace {
            tuples: tuple_masks,
            buckets,
            hasher,
            blooms,
            candidates,
        }
    }

    pub(super) fn tuple_count(&self) -> usize {
        self.tuples.len()
    }

    /// Bytes held, hashbrown's buckets counted at their size (control bytes left out).
    pub(super) fn memory_bytes(&self) -> usize {
        self.tuples.len() * std::mem::size_of::<Tuple>()
            + self.buckets.capacity() * std::mem::size_of::<Chain>()
            + self.blooms.len() * 8
            + self.candidates.len() * std::mem::size_of::<Candidate>()
    }

    /// The first rule, in list order, that matches `fields`.
    #[inline]
    pub(super) fn lookup(&self, fields: &PacketFields) -> Option<&Candidate> {
        self.search(fields, |_| {})
    }

    /// What a lookup of `fields` costs: tuples visited, and of those, how many passed
    /// their filter (a hash-table probe and candidates to verify each).
    pub(super) fn work(&self, fields: &PacketFields) -> (usize, usize) {
        let (mut visited, mut probed) = (0, 0);
        self.search(fields, |passed| {
            visited += 1;
            probed += usize::from(passed);
        });
        (visited, probed)
    }

    /// [`TupleSpace::lookup`], telling `visit` of each tuple visited whether it passed
    /// its filter.
    #[inline(always)]
    fn search(&self, fields: &PacketFields, mut visit: impl FnMut(bool)) -> Option<&Candidate> {
        let fields = *fields;
        let mut best: Option<&Candidate> = None;
        let mut best_order = u32::MAX;
        for tuple in &self.tuples {
            if tuple.min_order >= best_order {
                break;
            }
            let (start, len) = match tuple.direct {
                Some(chain) => {
                    visit(true);
                    chain
                }
                None => {
                    let key = tuple.key(&fields);
                    let hash = self.hasher.hash_u128(key);
                    let (word, bit) = bloom_bit(hash, tuple.bloom_mask);
                    let filter = self.blooms.get(tuple.bloom_start as usize + word);
                    let passed = matches!(filter, Some(w) if w & bit != 0);
                    visit(passed);
                    if !passed {
                        continue;
                    }
                    let Some(chain) = self.buckets.find(hash, |c| c.key == key) else {
                        continue;
                    };
                    (chain.start, chain.len)
                }
            };
            let Some(chain) = self.candidates.get(start as usize..(start + len) as usize) else {
                continue;
            };
            for candidate in chain {
                if candidate.order >= best_order {
                    break;
                }
                if candidate.matches(&fields) {
                    best_order = candidate.order;
                    best = Some(candidate);
                    break;
                }
            }
        }
        best
    }
}
