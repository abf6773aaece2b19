//! The head of a rule list: first match by bit vectors (Lakshman and Stiliadis, 1998),
//! with aggregate words (Baboescu and Varghese, 2001).
//!
//! Each field a rule compares is a dimension: source, destination, protocol, source port,
//! destination port. In a dimension, the packet's value falls into one *class*: a set of
//! values that the same rules admit. Each class keeps that set of rules as a bit vector,
//! one bit per rule in list order. The AND of a packet's five class vectors holds the
//! rules whose five conditions all hold; its lowest bit is the first match, once verified
//! in full (TCP flags and fragments are not dimensions).
//!
//! Finding a packet's class in each dimension:
//! - addresses: prefixes nest, so the rules an address satisfies are fixed by its longest
//!   matching prefix among the rules' prefixes. A 16-8-8 trie ([`AddressClasses`]) maps
//!   the address to that prefix's class in at most three loads.
//! - ports: a table of 65536 class numbers;
//! - protocol: a table of 256.
//!
//! A lookup then ANDs one word of each vector per 64 rules, up to the first match. Each
//! vector starts with aggregate words, one bit per 64-rule word that is not zero, so a
//! packet matching late or nothing skips the words that are empty in any dimension.
//!
//! Or the vectors cover the two addresses alone ([`Fields::Addresses`]): every rule both
//! admit is read and verified in full. When few rules admit both addresses of a packet
//! (prefixes that vary, as in the acl bench's uniform set), reading those few rules costs
//! less than the three other class lookups, whose port tables (128 KiB each) do not stay
//! in L1. The caller chooses by sampling ([`BitVectors::checks`]).
//!
//! Memory: each class holds a bit per rule, and the classes grow with the rules, so the
//! whole is quadratic: ~50 MiB for 10k rules of varied prefixes and port ranges. The
//! caller keeps it within a budget ([`BitVectors::rules_within`]).

use hashbrown::{HashMap, HashSet};

use super::address_classes::AddressClasses;
use super::{prefix_mask, BeyondAddresses, Candidate, PacketFields, RuleMatch};
use crate::acl::rule::AclAction;
use crate::types::{ip_proto, Ipv4Prefix};

const PORTS: usize = 1 << 16;

/// One dimension's class vectors, each `[aggregate words | rule words]`, back to back.
#[derive(Debug)]
struct Rows {
    aggregates: usize,
    words: usize,
    data: Vec<u64>,
}

impl Rows {
    fn new(rules: usize) -> Rows {
        // One word even without rules, so that a class has a place.
        let words = rules.div_ceil(64).max(1);
        Rows {
            aggregates: words.div_ceil(64),
            words,
            data: Vec::new(),
        }
    }

    fn stride(&self) -> usize {
        self.aggregates + self.words
    }

    /// Adds a class holding `bits` (one word per 64 rules); its class number.
    fn push(&mut self, bits: &[u64]) -> u32 {
        let class = self.data.len() / self.stride();
        let mut aggregate = vec![0u64; self.aggregates];
        for (w, &word) in bits.iter().enumerate() {
            if word != 0 {
                aggregate[w / 64] |= 1 << (w % 64);
            }
        }
        self.data.extend_from_slice(&aggregate);
        self.data.extend_from_slice(bits);
        class as u32
    }

    /// A class's rule words (without the aggregates).
    fn bits(&self, class: u32) -> &[u64] {
        let start = class as usize * self.stride() + self.aggregates;
        self.data.get(start..start + self.words).unwrap_or(&[])
    }

    /// A class's vector; empty (no rule) for a class number out of range.
    #[inline(always)]
    fn row(&self, class: u32) -> &[u64] {
        let start = class as usize * self.stride();
        self.data.get(start..start + self.stride()).unwrap_or(&[])
    }

    #[cfg(test)]
    fn classes(&self) -> usize {
        self.data.len() / self.stride()
    }
}

/// What a set bit needs besides its five fields: the vectors are exact on those, so most
/// matches are taken without reading the rule. It also holds what the rule compares
/// besides its addresses, so that a rule the vectors leave to be verified (every one a
/// head on the addresses alone admits, and those with TCP flags) is verified here: 16
/// bytes a rule in one dense array, where the rule list takes ~44 and is read at random.
#[derive(Clone, Copy, Debug)]
struct RuleInfo {
    action: AclAction,
    /// TCP flags to compare: the rule is verified.
    flags: bool,
    /// The rule looks at L4 fields, which a packet without them (a non-first fragment, a
    /// truncated header) cannot meet whatever its port classes say.
    needs_l4: bool,
    /// The rows hold the addresses: the rest is verified from here.
    beyond: BeyondAddresses,
}

const _: () = assert!(std::mem::size_of::<RuleInfo>() == 16);

/// The fields the vectors cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fields {
    /// Source and destination: each rule both admit is read and verified.
    Addresses,
    /// All five: a set bit is a match unless the rule has TCP flags or the packet lacks
    /// its L4 header.
    All,
}

/// The rules of one (interface, direction) list's head, as bit vectors.
#[derive(Debug)]
pub(super) struct BitVectors {
    fields: Fields,
    rules: usize,
    info: Vec<RuleInfo>,
    /// Each rule's position in the whole list: its bit's position in a head, not in a
    /// prefix index's group of rules with short prefixes.
    orders: Vec<u32>,
    /// Where each ACL starts in the list, as (first position, ACL index).
    acl_starts: Vec<(u32, u32)>,
    aggregates: usize,
    src_class: AddressClasses,
    dst_class: AddressClasses,
    proto_class: Vec<u32>,
    sport_class: Vec<u16>,
    dport_class: Vec<u16>,
    src: Rows,
    dst: Rows,
    proto: Rows,
    sport: Rows,
    dport: Rows,
}

fn set_bit(bits: &mut [u64], rule: usize) {
    bits[rule / 64] |= 1 << (rule % 64);
}

/// The classes of an address dimension: one per distinct prefix, plus the addresses no
/// prefix longer than /0 covers (class 0).
fn prefix_dimension(
    rules: &[Candidate],
    prefix: impl Fn(&Candidate) -> (u32, u8),
) -> (AddressClasses, Rows) {
    let mut rows = Rows::new(rules.len());
    let mut own: HashMap<(u32, u8), Vec<usize>> = HashMap::new();
    for (i, rule) in rules.iter().enumerate() {
        own.entry(prefix(rule)).or_default().push(i);
    }
    let mut prefixes: Vec<(u32, u8)> = own.keys().copied().filter(|p| p.1 > 0).collect();
    prefixes.sort_by_key(|&(net, len)| (len, net));
    let mut bits = vec![0u64; rows.words];
    for &rule in own.get(&(0, 0)).into_iter().flatten() {
        set_bit(&mut bits, rule);
    }
    rows.push(&bits);
    // Shorter prefixes first, so that a prefix's parent already has its class.
    let mut class_of: HashMap<(u32, u8), u32> = HashMap::new();
    let mut routes = Vec::with_capacity(prefixes.len());
    for (net, len) in prefixes {
        let parent = (0..len)
            .rev()
            .find_map(|l| class_of.get(&(net & prefix_mask(l), l)).copied())
            .unwrap_or(0);
        bits.copy_from_slice(rows.bits(parent));
        for &rule in &own[&(net, len)] {
            set_bit(&mut bits, rule);
        }
        let class = rows.push(&bits);
        class_of.insert((net, len), class);
        if let Some(p) = Ipv4Prefix::new(net.into(), len) {
            routes.push((p, class));
        }
    }
    (AddressClasses::build(&routes), rows)
}

/// The classes of a port dimension: the elementary intervals between the rules' range
/// ends, each with the rules whose range covers it.
fn port_dimension(
    rules: &[Candidate],
    range: impl Fn(&Candidate) -> (u16, u16),
) -> (Vec<u16>, Rows) {
    let mut rows = Rows::new(rules.len());
    // (port, rule, whether the rule's range starts there or ends just before)
    let mut events: Vec<(usize, usize, bool)> = Vec::with_capacity(rules.len() * 2);
    for (i, rule) in rules.iter().enumerate() {
        let (lo, hi) = range(rule);
        events.push((usize::from(lo), i, true));
        events.push((usize::from(hi) + 1, i, false));
    }
    events.sort_unstable();
    let mut table = vec![0u16; PORTS];
    let mut bits = vec![0u64; rows.words];
    let mut next = events.iter().peekable();
    let mut port = 0;
    while port < PORTS {
        while let Some(&&(at, rule, starts)) = next.peek() {
            if at != port {
                break;
            }
            if starts {
                set_bit(&mut bits, rule);
            } else {
                bits[rule / 64] &= !(1 << (rule % 64));
            }
            next.next();
        }
        let end = next.peek().map_or(PORTS, |e| e.0.min(PORTS));
        // At most 65536 intervals, so the class number fits.
        let class = rows.push(&bits) as u16;
        table[port..end].fill(class);
        port = end;
    }
    (table, rows)
}

/// The classes of the protocol: one per protocol some rule names, and one for the rest.
fn proto_dimension(rules: &[Candidate]) -> (Vec<u32>, Rows) {
    let mut rows = Rows::new(rules.len());
    let mut any = vec![0u64; rows.words];
    for (i, rule) in rules.iter().enumerate() {
        if rule.beyond.proto == 0 {
            set_bit(&mut any, i);
        }
    }
    let other = rows.push(&any);
    let mut table = vec![other; 256];
    let named: HashSet<u8> = rules
        .iter()
        .map(|r| r.beyond.proto)
        .filter(|&p| p != 0)
        .collect();
    let mut named: Vec<u8> = named.into_iter().collect();
    named.sort_unstable();
    for proto in named {
        let mut bits = any.clone();
        for (i, rule) in rules.iter().enumerate() {
            if rule.beyond.proto == proto {
                set_bit(&mut bits, i);
            }
        }
        table[usize::from(proto)] = rows.push(&bits);
    }
    (table, rows)
}

/// Classes that `rules` make over the dimensions of `fields`, without building them.
fn class_count(rules: &[Candidate], fields: Fields) -> usize {
    let src: HashSet<(u32, u32)> = rules.iter().map(|r| (r.src_net, r.src_mask)).collect();
    let dst: HashSet<(u32, u32)> = rules.iter().map(|r| (r.dst_net, r.dst_mask)).collect();
    let proto: HashSet<u8> = rules.iter().map(|r| r.beyond.proto).collect();
    let mut sport = HashSet::new();
    let mut dport = HashSet::new();
    for rule in rules {
        let (s, d) = rule.port_ranges();
        sport.extend([u32::from(s.lo), u32::from(s.hi) + 1]);
        dport.extend([u32::from(d.lo), u32::from(d.hi) + 1]);
    }
    // The root class plus one per prefix longer than /0; the class of the protocols no
    // rule names plus one per named protocol; per port field, the interval from 0 plus one
    // per boundary inside the port space.
    let prefixes = |set: &HashSet<(u32, u32)>| 1 + set.iter().filter(|p| p.1 != 0).count();
    if fields == Fields::Addresses {
        return prefixes(&src) + prefixes(&dst);
    }
    let boundaries =
        |set: &HashSet<u32>| 1 + set.iter().filter(|&&b| b != 0 && b < PORTS as u32).count();
    prefixes(&src)
        + prefixes(&dst)
        + 1
        + proto.iter().filter(|&&p| p != 0).count()
        + boundaries(&sport)
        + boundaries(&dport)
}

fn bytes_for(rules: &[Candidate], fields: Fields) -> usize {
    let words = rules.len().div_ceil(64).max(1);
    class_count(rules, fields) * (words + words.div_ceil(64)) * 8
}

impl BitVectors {
    /// How many of the first `rules` fit `budget` bytes of vectors over `fields` (all of
    /// them, or a multiple of 64; at least 64).
    pub(super) fn rules_within(rules: &[Candidate], budget: usize, fields: Fields) -> usize {
        let mut count = rules.len();
        loop {
            let bytes = bytes_for(&rules[..count], fields);
            if bytes <= budget || count <= 64 {
                return count;
            }
            // Quadratic in the rules: scale by the square root of the excess.
            let scaled = (count as f64 * (budget as f64 / bytes as f64).sqrt()) as usize;
            count = (scaled / 64 * 64).clamp(64, count - 1);
        }
    }

    pub(super) fn build(rules: &[Candidate], fields: Fields) -> BitVectors {
        let (src_class, src) = prefix_dimension(rules, |r| (r.src_net, r.src_len()));
        let (dst_class, dst) = prefix_dimension(rules, |r| (r.dst_net, r.dst_len()));
        let ((proto_class, proto), (sport_class, sport), (dport_class, dport)) = match fields {
            Fields::Addresses => {
                let none = || (Vec::new(), Rows::new(0));
                ((Vec::new(), Rows::new(0)), none(), none())
            }
            Fields::All => (
                proto_dimension(rules),
                port_dimension(rules, |r| {
                    let (s, _) = r.port_ranges();
                    (s.lo, s.hi)
                }),
                port_dimension(rules, |r| {
                    let (_, d) = r.port_ranges();
                    (d.lo, d.hi)
                }),
            ),
        };
        let info = rules
            .iter()
            .map(|r| RuleInfo {
                action: r.action,
                // A value outside the mask (refused by the ACL table) cannot be met: the
                // rule is read and refuses, as the tuple space would.
                flags: r.beyond.needs_l4
                    && r.beyond.proto == ip_proto::TCP
                    && (r.beyond.tcp_flags_mask | r.beyond.tcp_flags_value) != 0,
                needs_l4: r.beyond.proto != 0 && r.beyond.needs_l4,
                beyond: r.beyond,
            })
            .collect();
        let mut acl_starts: Vec<(u32, u32)> = Vec::new();
        for r in rules {
            if acl_starts
                .last()
                .is_none_or(|&(start, acl)| acl != r.acl || r.order - start != r.rule)
            {
                acl_starts.push((r.order - r.rule, r.acl));
            }
        }
        BitVectors {
            fields,
            rules: rules.len(),
            info,
            orders: rules.iter().map(|r| r.order).collect(),
            acl_starts,
            aggregates: src.aggregates,
            src_class,
            dst_class,
            proto_class,
            sport_class,
            dport_class,
            src,
            dst,
            proto,
            sport,
            dport,
        }
    }

    pub(super) fn rule_count(&self) -> usize {
        self.rules
    }

    pub(super) fn fields(&self) -> Fields {
        self.fields
    }

    pub(super) fn memory_bytes(&self) -> usize {
        self.vector_bytes()
            + self.src_class.memory_bytes()
            + self.dst_class.memory_bytes()
            + self.proto_class.len() * 4
            + (self.sport_class.len() + self.dport_class.len()) * 2
    }

    /// Bytes of the class vectors alone: what the budget bounds.
    pub(super) fn vector_bytes(&self) -> usize {
        let rows = [&self.src, &self.dst, &self.proto, &self.sport, &self.dport];
        rows.iter().map(|r| r.data.len() * 8).sum()
    }

    /// Classes over the dimensions built.
    #[cfg(test)]
    pub(super) fn class_count(&self) -> usize {
        [&self.src, &self.dst, &self.proto, &self.sport, &self.dport]
            .iter()
            .map(|r| r.classes())
            .sum()
    }

    /// What [`BitVectors::rules_within`] expects `rules` to take over `fields`.
    #[cfg(test)]
    pub(super) fn expected_bytes(rules: &[Candidate], fields: Fields) -> usize {
        bytes_for(rules, fields)
    }

    /// The first of the head's rules that matches `packet`.
    #[inline]
    pub(super) fn first_match(&self, packet: &PacketFields) -> Option<RuleMatch> {
        self.scan(packet, &mut 0)
    }

    /// How many rules [`BitVectors::first_match`] reads for `packet`: what the choice of
    /// [`Fields`] weighs.
    pub(super) fn checks(&self, packet: &PacketFields) -> usize {
        let mut checks = 0;
        self.scan(packet, &mut checks);
        checks
    }

    #[inline(always)]
    pub(super) fn scan(&self, packet: &PacketFields, checks: &mut usize) -> Option<RuleMatch> {
        if self.fields == Fields::Addresses {
            let src = self.src.row(self.src_class.lookup(packet.src));
            let dst = self.dst.row(self.dst_class.lookup(packet.dst));
            return self.scan_rows([src, dst], true, packet, checks);
        }
        self.scan_rows(self.five_rows(packet), false, packet, checks)
    }

    /// The rows of `packet`'s five classes (for a head over [`Fields::All`]): what a
    /// caller with other loads to start asks for before it scans them
    /// ([`BitVectors::scan_five`]).
    #[inline(always)]
    pub(super) fn five_rows(&self, packet: &PacketFields) -> [&[u64]; 5] {
        let class = |table: &[u16], value: u16| {
            u32::from(table.get(usize::from(value)).copied().unwrap_or(0))
        };
        let proto_class = self.proto_class.get(usize::from(packet.proto));
        [
            self.src.row(self.src_class.lookup(packet.src)),
            self.dst.row(self.dst_class.lookup(packet.dst)),
            self.proto.row(proto_class.copied().unwrap_or(0)),
            self.sport.row(class(&self.sport_class, packet.sport)),
            self.dport.row(class(&self.dport_class, packet.dport)),
        ]
    }

    /// The first match in `rows` ([`BitVectors::five_rows`] of `packet`).
    #[inline(always)]
    pub(super) fn scan_five(
        &self,
        rows: [&[u64]; 5],
        packet: &PacketFields,
        checks: &mut usize,
    ) -> Option<RuleMatch> {
        self.scan_rows(rows, false, packet, checks)
    }

    /// The lowest rule set in every row that is a match: verified from its [`RuleInfo`]
    /// when `verify_all`, or when its flags or the packet's missing L4 header need it.
    #[inline(always)]
    fn scan_rows<const N: usize>(
        &self,
        rows: [&[u64]; N],
        verify_all: bool,
        packet: &PacketFields,
        checks: &mut usize,
    ) -> Option<RuleMatch> {
        let word = |at: usize| {
            rows.iter()
                .fold(u64::MAX, |acc, row| acc & row.get(at).copied().unwrap_or(0))
        };
        for a in 0..self.aggregates {
            let mut words = word(a);
            while words != 0 {
                let w = a * 64 + words.trailing_zeros() as usize;
                words &= words - 1;
                let mut bits = word(self.aggregates + w);
                while bits != 0 {
                    let rule = w * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let Some(info) = self.info.get(rule) else {
                        continue;
                    };
                    if verify_all || info.flags || (info.needs_l4 && !packet.l4_valid) {
                        *checks += 1;
                        if !info.beyond.admits(packet) {
                            continue;
                        }
                    }
                    let order = self.orders.get(rule).copied().unwrap_or(rule as u32);
                    return Some(self.found(order, info.action));
                }
            }
        }
        None
    }

    /// The match of the rule at `order`, without reading the rule.
    fn found(&self, order: u32, action: AclAction) -> RuleMatch {
        let (start, acl) = self
            .acl_starts
            .iter()
            .rev()
            .find(|&&(start, _)| start <= order)
            .copied()
            .unwrap_or((0, 0));
        RuleMatch {
            order,
            acl,
            rule: order - start,
            action,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::rule::{AclAction, AclRule, PortRange};
    use crate::rand::FastRng;

    fn random_candidates(rng: &mut FastRng, count: usize) -> Vec<Candidate> {
        let pool: Vec<u32> = (0..20).map(|_| rng.next_u64() as u32).collect();
        (0..count)
            .map(|i| {
                let mut prefix = || {
                    let base = pool[rng.below(20) as usize];
                    Ipv4Prefix::new(base.into(), rng.below(33) as u8).unwrap()
                };
                let (src, dst) = (prefix(), prefix());
                let mut range = || {
                    let lo = rng.below(65536) as u16;
                    PortRange::new(lo, lo.saturating_add(rng.below(3000) as u16)).unwrap()
                };
                let (sport, dport) = (range(), range());
                let rule = AclRule {
                    src,
                    dst,
                    proto: [0, 6, 17][rng.below(3) as usize],
                    sport,
                    dport,
                    ..AclRule::any(AclAction::Permit)
                };
                Candidate::new(i as u32, 0, i as u32, &rule)
            })
            .collect()
    }

    fn bit(bits: &[u64], rule: usize) -> bool {
        bits[rule / 64] >> (rule % 64) & 1 == 1
    }

    /// Each dimension's class holds exactly the rules whose condition on that field the
    /// value meets (not merely a superset, which the verification would hide), and its
    /// aggregate words mark exactly its non-zero words.
    #[test]
    fn classes_hold_exactly_the_rules_each_field_admits() {
        let mut rng = FastRng::new(0xc1a55);
        let rules = random_candidates(&mut rng, 300);
        let bv = BitVectors::build(&rules, Fields::All);
        assert_eq!(bv.class_count(), class_count(&rules, Fields::All));
        let addresses = BitVectors::build(&rules, Fields::Addresses);
        assert_eq!(
            addresses.class_count(),
            class_count(&rules, Fields::Addresses)
        );
        for _ in 0..3000 {
            let addr = rules[rng.below(300) as usize].src_net ^ (rng.below(1 << 12) as u32);
            let port = rng.below(65536) as u16;
            let proto = [6, 17, 1][rng.below(3) as usize];
            let src = bv.src.row(bv.src_class.lookup(addr));
            assert_eq!(addresses.src.row(addresses.src_class.lookup(addr)), src);
            let sport = bv.sport.row(u32::from(bv.sport_class[usize::from(port)]));
            let proto_row = bv.proto.row(bv.proto_class[usize::from(proto)]);
            for row in [src, sport, proto_row] {
                let words = &row[bv.aggregates..];
                for (w, &word) in words.iter().enumerate() {
                    assert_eq!(bit(&row[..bv.aggregates], w), word != 0);
                }
            }
            for (i, rule) in rules.iter().enumerate() {
                let (s, _) = rule.port_ranges();
                let words = |row: &[u64]| row[bv.aggregates..].to_vec();
                assert_eq!(bit(&words(src), i), addr & rule.src_mask == rule.src_net);
                assert_eq!(
                    bit(&words(sport), i),
                    s.contains(port),
                    "port {port} rule {i}"
                );
                assert_eq!(
                    bit(&words(proto_row), i),
                    rule.beyond.proto == 0 || rule.beyond.proto == proto
                );
            }
        }
    }
}
