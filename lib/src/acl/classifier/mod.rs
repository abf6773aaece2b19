//! First-match rule lookup for one (interface, direction): a tuple-space search alone;
//! bit vectors over the head of the rule list and the tuple space for the tail; or, for a
//! list longer than a head, an index of the rules by their long prefixes.
//!
//! Why three schemes:
//! - Tuple-space search (`tuple_space`, VPP's hash-based matching) costs one probe per
//!   tuple, and the tuples grow with the variety of prefix lengths: 10k rules with
//!   lengths spread over 0..=32 make ~36 tuples, ~200 ns a lookup, 7-9x what 10 rules
//!   cost (BENCHMARKS.md).
//! - Bit vectors (`bit_vector`) cost five class lookups, then one AND of five words per
//!   64 rules up to the first match, whatever the prefixes. Their memory grows with the
//!   square of the rules (each class of each field holds one bit per rule): ~50 MiB for
//!   10k varied rules. Or they cover the addresses alone, and each rule that admits both
//!   of a packet's addresses is read and verified: cheaper when those are few.
//! - The prefix index (`prefix_index`) lists each rule under its source prefix if that
//!   is /8 or longer, else under its destination prefix if that is, and puts the rest
//!   (both prefixes short, a few percent of varied rules) in five-field bit vectors. A
//!   lookup reads the few rules listed under the packet's two addresses, whatever the
//!   list's length, where a head's rows hold a bit of every rule.
//!
//! A list whose vectors on the addresses fit [`ADDRESS_HEAD_BUDGET_BYTES`] (~4.5k varied
//! rules) goes to them whole where a lookup reads few rules. A longer one goes to the
//! prefix index where its lookups read few rules ([`checks_are_few`]), and its short
//! rules' vectors fit [`HEAD_BUDGET_BYTES`]. In the acl bench at 10k rules, the index
//! read 97-151 ns (policy-like) and 158-177 ns (uniform) against 158-222 and 226-301 for
//! the heads and tails below (commit message).
//!
//! Else the first rules of the list, as many as [`HEAD_BUDGET_BYTES`] of vectors hold
//! (~1.5k rules of varied prefixes and ports; [`ADDRESS_HEAD_BUDGET_BYTES`], ~4.5k, on
//! the addresses alone), go to bit vectors, and any rules after them to a tuple space.
//! First match wins across the list, so the tail is searched only for a packet that no
//! head rule matches. The budgets are small so that what a lookup reads stays in the
//! caches: in the acl bench at 10k rules, five-field heads of 2 and 4 MiB read 104-118 ns
//! against ~100 at 1 MiB, and 256 KiB sent too many packets to the tail (BENCHMARKS.md).
//!
//! The tuple space is kept alone where it is cheap: when its lookups, on packets drawn
//! inside the rules, end within a few probes ([`probes_are_few`]; broad rules first, as
//! in policies that open with wide permits), and for short lists. Else the bit vectors
//! cover the addresses alone if, on the same packets, a lookup reads few rules
//! ([`checks_are_few`]; in the acl bench, uniform 1k rules ~70 -> ~58 ns), and all five
//! fields otherwise (many broad prefixes).
//!
//! A rule that matches every packet (any source, destination and protocol) ends the
//! lookup: no rule after it can be a first match, so none is compiled. Policies often end
//! with one (Contiv's global ACL does), and random rule sets hold one now and then (the
//! acl bench draws none, so that its 10k rules are all looked up).
//!
//! Five-field bit vectors' class tables cost ~0.8 MiB whatever the rules (a 16-8-8 trie
//! root per address field, a 64k table per port field; ~0.5 MiB on addresses alone),
//! plus a 64-byte block per /16 or /24 that holds a longer prefix (a 1 KiB chunk where
//! one holds more than ten ranges: `address_classes`). A short list, as a pod's own policy
//! often is, does not pay that: up to [`SHORT_LIST`] rules, the tuple space alone holds
//! them (a few tuples; the acl bench reads both schemes alike at 10 rules).

mod address_classes;
mod bit_vector;
mod prefix_index;
mod tuple_space;

use bit_vector::BitVectors;
pub use bit_vector::Fields;
use prefix_index::PrefixIndex;
use tuple_space::TupleSpace;

use super::packet::AclPacketInfo;
use super::rule::{AclAction, AclRule, PortRange};
use crate::types::{ip_proto, Ipv4Prefix};
use std::net::Ipv4Addr;

/// The most memory the bit vectors of one classifier may take (their class tables and
/// the tail come on top).
pub(crate) const HEAD_BUDGET_BYTES: usize = 1 << 20;

/// The same for a head on the addresses alone. Its rows are two fields, not five, and a
/// longer head keeps more first matches out of the tuple space: in the acl bench's
/// uniform 10k set, 1, 4, 8 and 16 MiB (2176, 4544, 6464, 9280 rules) read ~205, ~147,
/// ~166 and ~195 ns; the other sets' choice and figures did not move.
pub(crate) const ADDRESS_HEAD_BUDGET_BYTES: usize = 4 << 20;

/// Lists up to this long are all tuple space: no bit vectors, no class tables.
pub(crate) const SHORT_LIST: usize = 32;

/// Sample packets the scheme choice looks up.
const SAMPLES: usize = 256;

/// The most rules a bit-vector lookup on the addresses alone may verify, on average over
/// the samples: each is a read of the head's dense rule records (16 bytes a rule; until
/// they held the ports, a line of the rule list) and a branch the predictor misses, a few
/// ns, where the three other fields' class lookups and vectors cost 10-40 ns. In the acl
/// bench, 3, 8 and 20 were tried: at 8 each of its four 1k and 10k sets gets the faster
/// of the two (its policy-like 10k set, five fields: ~100 ns against ~140; its uniform
/// 10k set, addresses: ~213 against ~249).
const FEW_CHECKS: usize = 8;

/// Packets drawn each inside a random rule of `rules` (so that it matches that rule or an
/// earlier one): what the scheme choice looks up. The same packets every build.
fn samples(rules: &[Candidate]) -> Vec<PacketFields> {
    let mut rng = crate::rand::FastRng::new(0x005a_3b1e);
    let mut packets = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let Some(rule) = rules.get(rng.below(rules.len() as u64) as usize) else {
            break;
        };
        let mut within = |r: PortRange| r.lo + rng.below(u64::from(r.hi - r.lo) + 1) as u16;
        let (sport, dport) = (within(rule.beyond.sport), within(rule.beyond.dport));
        packets.push(PacketFields {
            src: rule.src_net | (rng.next_u32() & !rule.src_mask),
            dst: rule.dst_net | (rng.next_u32() & !rule.dst_mask),
            sport,
            dport,
            proto: if rule.beyond.proto == 0 {
                ip_proto::TCP
            } else {
                rule.beyond.proto
            },
            tcp_flags: rule.beyond.tcp_flags_value,
            l4_valid: true,
        });
    }
    packets
}

/// Whether the tuple space alone is the cheaper lookup for `samples`: a lookup ends after
/// a few tuples and about one hash probe, as when broad rules come first in the list. In
/// the acl bench the tuple space costs ~15-25 ns per probe past its filters and the bit
/// vectors ~20-45 ns in all on 1k rules. Of the four 1k and 10k sets the bench drew
/// before it left match-all rules out, which averaged 1.3, 3.4, 4.9 and 7.5 probes (3,
/// 10, 14 and 22 tuples visited), only the first was cheaper alone (policy-like prefixes,
/// 10k rules, whose lookups ended at a match-all at rule 6: 30 ns against 45).
fn probes_are_few(whole: &TupleSpace, samples: &[PacketFields]) -> bool {
    let (mut visited, mut probed) = (0, 0);
    for packet in samples {
        let (v, p) = whole.work(packet);
        visited += v;
        probed += p;
    }
    !samples.is_empty() && probed <= 2 * samples.len() && visited <= 6 * samples.len()
}

/// Whether a scheme whose lookup of a packet reads `checks(packet)` rules (a head on the
/// addresses alone, the prefix index) reads at most [`FEW_CHECKS`] per lookup of
/// `samples`, on average.
fn checks_are_few(samples: &[PacketFields], checks: impl Fn(&PacketFields) -> usize) -> bool {
    let read: usize = samples.iter().map(checks).sum();
    read <= FEW_CHECKS * samples.len()
}

/// The mask of a `len`-bit prefix (both schemes build masks from prefix lengths).
fn prefix_mask(len: u8) -> u32 {
    Ipv4Prefix {
        addr: Ipv4Addr::UNSPECIFIED,
        len: len.min(32),
    }
    .mask()
}

/// A matched rule: where it came from and what it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RuleMatch {
    pub order: u32,
    pub acl: u32,
    pub rule: u32,
    pub action: AclAction,
}

/// A rule as the lookup verifies it, with the prefixes precomputed as masks.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    order: u32,
    acl: u32,
    rule: u32,
    action: AclAction,
    src_net: u32,
    src_mask: u32,
    dst_net: u32,
    dst_mask: u32,
    beyond: BeyondAddresses,
}

impl Candidate {
    fn new(order: u32, acl: u32, rule_index: u32, rule: &AclRule) -> Candidate {
        Candidate {
            order,
            acl,
            rule: rule_index,
            action: rule.action,
            src_net: rule.src.addr.to_bits() & rule.src.mask(),
            src_mask: rule.src.mask(),
            dst_net: rule.dst.addr.to_bits() & rule.dst.mask(),
            dst_mask: rule.dst.mask(),
            beyond: BeyondAddresses {
                proto: rule.proto,
                needs_l4: rule.has_l4_fields(),
                tcp_flags_value: rule.tcp_flags_value,
                tcp_flags_mask: rule.tcp_flags_mask,
                sport: rule.sport,
                dport: rule.dport,
            },
        }
    }

    fn src_len(&self) -> u8 {
        self.src_mask.leading_ones() as u8
    }

    fn dst_len(&self) -> u8 {
        self.dst_mask.leading_ones() as u8
    }

    /// The ports the rule admits, as ranges over the packet's port fields: any port when
    /// the rule looks at none (`matches` ignores them then).
    fn port_ranges(&self) -> (PortRange, PortRange) {
        if self.beyond.proto == 0 || !self.beyond.needs_l4 {
            (PortRange::ANY, PortRange::ANY)
        } else {
            (self.beyond.sport, self.beyond.dport)
        }
    }

    #[inline(always)]
    fn matches(&self, packet: &PacketFields) -> bool {
        if packet.src & self.src_mask != self.src_net || packet.dst & self.dst_mask != self.dst_net
        {
            return false;
        }
        self.beyond.admits(packet)
    }

    /// Whether every packet matches: any source, any destination, any protocol (which
    /// ignores ports and flags).
    fn matches_all(&self) -> bool {
        self.src_mask == 0 && self.dst_mask == 0 && self.beyond.proto == 0
    }

    fn found(&self) -> RuleMatch {
        RuleMatch {
            order: self.order,
            acl: self.acl,
            rule: self.rule,
            action: self.action,
        }
    }
}

/// What a rule compares besides its addresses (12 bytes: a candidate holds it, and a
/// bit-vector head keeps one per rule, so that verifying a rule reads no more).
#[derive(Clone, Copy, Debug)]
struct BeyondAddresses {
    proto: u8,
    needs_l4: bool,
    tcp_flags_value: u8,
    tcp_flags_mask: u8,
    sport: PortRange,
    dport: PortRange,
}

impl BeyondAddresses {
    /// Whether `packet` matches the rule, its addresses aside.
    #[inline(always)]
    fn admits(&self, packet: &PacketFields) -> bool {
        if self.proto == 0 {
            return true;
        }
        if self.proto != packet.proto {
            return false;
        }
        if !self.needs_l4 {
            return true;
        }
        packet.l4_valid
            && self.sport.contains(packet.sport)
            && self.dport.contains(packet.dport)
            && (self.proto != ip_proto::TCP
                || packet.tcp_flags & self.tcp_flags_mask == self.tcp_flags_value)
    }
}

/// The packet's fields as integers, computed once per lookup.
#[derive(Clone, Copy)]
struct PacketFields {
    src: u32,
    dst: u32,
    sport: u16,
    dport: u16,
    proto: u8,
    tcp_flags: u8,
    l4_valid: bool,
}

impl PacketFields {
    #[inline(always)]
    fn of(packet: &AclPacketInfo) -> PacketFields {
        let l4_valid = packet.has_l4();
        PacketFields {
            src: packet.src.to_bits(),
            dst: packet.dst.to_bits(),
            sport: if l4_valid { packet.sport } else { 0 },
            dport: if l4_valid { packet.dport } else { 0 },
            proto: packet.proto,
            tcp_flags: packet.tcp_flags,
            l4_valid,
        }
    }
}

/// The compiled, immutable rule lookup of one (interface, direction): the concatenation
/// of the interface's ACLs, in order.
#[derive(Debug)]
pub struct Classifier {
    /// The rules, in list order, up to the first that matches every packet (none after
    /// it can be a first match); the head's bits index it.
    candidates: Vec<Candidate>,
    /// Rules in the list, those left out included.
    listed: usize,
    /// The whole list by its long prefixes, in place of a head and a tail.
    index: Option<PrefixIndex>,
    /// None for a short list.
    head: Option<BitVectors>,
    tail: Option<TupleSpace>,
}

impl Classifier {
    /// Compiles `acls` (ACL index, its rules) in the order given, up to the first rule
    /// that matches every packet: the tuple space alone for a short list or one it
    /// searches in a few probes, else bit vectors over the head of the list (on the
    /// addresses alone within [`ADDRESS_HEAD_BUDGET_BYTES`] if a lookup then reads few
    /// rules, else on all five fields within [`HEAD_BUDGET_BYTES`]) and the tuple space
    /// for the rest.
    pub(crate) fn build<'a>(acls: impl IntoIterator<Item = (u32, &'a [AclRule])>) -> Classifier {
        let (candidates, listed) = Self::candidates(acls);
        if candidates.len() <= SHORT_LIST {
            return Classifier::tuple_space_alone(candidates, listed);
        }
        let whole = TupleSpace::build(&candidates);
        let samples = samples(&candidates);
        if probes_are_few(&whole, &samples) {
            return Classifier {
                candidates,
                listed,
                index: None,
                head: None,
                tail: Some(whole),
            };
        }
        // A head on the addresses that holds the whole list is the cheapest lookup where
        // it reads few rules; past a head's budget, the prefix index replaces the head and
        // its tuple-space tail.
        let whole_fits =
            BitVectors::rules_within(&candidates, ADDRESS_HEAD_BUDGET_BYTES, Fields::Addresses)
                == candidates.len();
        let mut candidates = candidates;
        if whole_fits {
            candidates = match Self::address_head_if_few(candidates, listed, &samples) {
                Ok(head) => return head,
                Err(candidates) => candidates,
            };
        }
        if let Some(index) = PrefixIndex::build(&candidates, HEAD_BUDGET_BYTES) {
            if checks_are_few(&samples, |p| index.checks(p)) {
                return Classifier {
                    candidates,
                    listed,
                    index: Some(index),
                    head: None,
                    tail: None,
                };
            }
        }
        if !whole_fits {
            candidates = match Self::address_head_if_few(candidates, listed, &samples) {
                Ok(head) => return head,
                Err(candidates) => candidates,
            };
        }
        Self::with_head(candidates, listed, HEAD_BUDGET_BYTES, Fields::All)
    }

    /// A head on the addresses alone (and a tail), if its lookups of `samples` read few
    /// rules; else the candidates back.
    fn address_head_if_few(
        candidates: Vec<Candidate>,
        listed: usize,
        samples: &[PacketFields],
    ) -> Result<Classifier, Vec<Candidate>> {
        let built = Self::with_head(
            candidates,
            listed,
            ADDRESS_HEAD_BUDGET_BYTES,
            Fields::Addresses,
        );
        match &built.head {
            Some(head) if checks_are_few(samples, |p| head.checks(p)) => Ok(built),
            _ => Err(built.candidates),
        }
    }

    /// Bit vectors over `fields` on the head of the list, held to `budget` bytes,
    /// whatever the rules.
    #[cfg(test)]
    pub(crate) fn build_within<'a>(
        acls: impl IntoIterator<Item = (u32, &'a [AclRule])>,
        budget: usize,
        fields: Fields,
    ) -> Classifier {
        let (candidates, listed) = Self::candidates(acls);
        Self::with_head(candidates, listed, budget, fields)
    }

    /// A prefix index over the whole list, whatever its cost.
    #[cfg(test)]
    pub(crate) fn build_index<'a>(
        acls: impl IntoIterator<Item = (u32, &'a [AclRule])>,
    ) -> Classifier {
        let (candidates, listed) = Self::candidates(acls);
        let index = PrefixIndex::build(&candidates, usize::MAX);
        assert!(
            index.is_some(),
            "the index's lists repeat the rules too often"
        );
        Classifier {
            candidates,
            listed,
            index,
            head: None,
            tail: None,
        }
    }

    /// The rules to look up, up to the first that matches every packet, and how many
    /// the list holds.
    fn candidates<'a>(
        acls: impl IntoIterator<Item = (u32, &'a [AclRule])>,
    ) -> (Vec<Candidate>, usize) {
        let mut candidates = Vec::new();
        for (acl, rules) in acls {
            for (rule_index, rule) in rules.iter().enumerate() {
                let order = candidates.len() as u32;
                candidates.push(Candidate::new(order, acl, rule_index as u32, rule));
            }
        }
        let listed = candidates.len();
        if let Some(last) = candidates.iter().position(Candidate::matches_all) {
            candidates.truncate(last + 1);
        }
        (candidates, listed)
    }

    fn with_head(
        candidates: Vec<Candidate>,
        listed: usize,
        budget: usize,
        fields: Fields,
    ) -> Classifier {
        let head_len = BitVectors::rules_within(&candidates, budget, fields);
        let head = (head_len > 0).then(|| BitVectors::build(&candidates[..head_len], fields));
        let tail =
            (head_len < candidates.len()).then(|| TupleSpace::build(&candidates[head_len..]));
        Classifier {
            candidates,
            listed,
            index: None,
            head,
            tail,
        }
    }

    fn tuple_space_alone(candidates: Vec<Candidate>, listed: usize) -> Classifier {
        let tail = (!candidates.is_empty()).then(|| TupleSpace::build(&candidates));
        Classifier {
            candidates,
            listed,
            index: None,
            head: None,
            tail,
        }
    }

    /// Rules in the list.
    pub fn rule_count(&self) -> usize {
        self.listed
    }

    /// Rules the lookup holds: the list up to its first rule that matches every packet.
    pub fn reachable_rules(&self) -> usize {
        self.candidates.len()
    }

    /// Rules looked up by bit vectors: the first ones of the list.
    pub fn bit_vector_rules(&self) -> usize {
        self.head.as_ref().map_or(0, BitVectors::rule_count)
    }

    /// Rules of a prefix index, if the lookup is one: listed under a long source
    /// prefix, under a long destination prefix, and in its bit vectors.
    pub fn prefix_index_parts(&self) -> Option<(usize, usize, usize)> {
        self.index.as_ref().map(PrefixIndex::parts)
    }

    /// The fields the bit vectors cover, if there are any.
    pub fn bit_vector_fields(&self) -> Option<Fields> {
        self.head.as_ref().map(BitVectors::fields)
    }

    /// Tuples of the tail's tuple space (0 when every rule is in the bit vectors).
    pub fn tuple_count(&self) -> usize {
        self.tail.as_ref().map_or(0, TupleSpace::tuple_count)
    }

    /// Bytes of the head's class vectors, and what its budget estimate said they would be.
    #[cfg(test)]
    pub(crate) fn bit_vector_bytes(&self) -> (usize, usize) {
        let head = &self.candidates[..self.bit_vector_rules()];
        match &self.head {
            Some(bits) => (
                bits.vector_bytes(),
                BitVectors::expected_bytes(head, bits.fields()),
            ),
            None => (0, 0),
        }
    }

    /// One line for `show acl-plugin tables`: the scheme, how many rules each part holds,
    /// and the memory.
    pub fn describe(&self) -> String {
        let vectors = match self.bit_vector_fields() {
            Some(Fields::Addresses) => "bit vectors on addresses",
            _ => "bit vectors",
        };
        let parts = self.prefix_index_parts();
        let scheme = match (parts, self.bit_vector_rules(), self.tuple_count()) {
            (Some((src, dst, short)), ..) => {
                format!(
                    "prefix index ({src} by source, {dst} by destination, {short} in bit vectors)"
                )
            }
            (None, 0, tuples) => format!("tuple space ({tuples} tuples)"),
            (None, head, 0) => format!("{vectors} ({head} rules)"),
            (None, head, tuples) => format!(
                "{vectors} (first {head} rules), tuple space for the other {} ({tuples} tuples)",
                self.reachable_rules() - head
            ),
        };
        let left_out = match self.rule_count() - self.reachable_rules() {
            0 => String::new(),
            n => format!(" ({n} behind a rule that matches every packet: left out)"),
        };
        format!(
            "{} rules{left_out}, {scheme}, {} KiB",
            self.rule_count(),
            self.memory_bytes().div_ceil(1024)
        )
    }

    /// Bytes held by the lookup structures.
    pub fn memory_bytes(&self) -> usize {
        self.candidates.len() * std::mem::size_of::<Candidate>()
            + self.head.as_ref().map_or(0, BitVectors::memory_bytes)
            + self.tail.as_ref().map_or(0, TupleSpace::memory_bytes)
            + self.index.as_ref().map_or(0, PrefixIndex::memory_bytes)
    }

    /// The first rule, in list order, that matches `packet`.
    #[inline]
    pub(crate) fn lookup(&self, packet: &AclPacketInfo) -> Option<RuleMatch> {
        let fields = PacketFields::of(packet);
        if let Some(index) = &self.index {
            return index.first_match(&fields);
        }
        if let Some(head) = &self.head {
            if let Some(found) = head.first_match(&fields) {
                return Some(found);
            }
        }
        Some(self.tail.as_ref()?.lookup(&fields)?.found())
    }
}
