//! First match by the rules' long prefixes: a rule whose source prefix is /8 or longer
//! is listed under that prefix; else one whose destination prefix is, under that one;
//! the rest (both prefixes shorter) go to five-field bit vectors.
//!
//! A packet's source address falls in few long prefixes, so its source class lists the
//! few rules of those prefixes (a class lists its own prefix's rules and those of the
//! prefixes around it), in list order; likewise for the destination. A lookup reads the
//! bit vectors of the short-prefix rules, then the two lists up to their first match or
//! the vectors' (the lowest position wins). Where the bit-vector heads read a row of every
//! rule's bit up to the first match, in both address fields (at 10k rules, lines
//! spread over megabytes, as most rows have a bit in most words: the short prefixes'),
//! this reads a few rule records and the vectors of the few rules that have no long
//! prefix. The caller checks on sample packets that the lists are short for its rules
//! ([`PrefixIndex::checks`]): many rules under one prefix would make them long.

use hashbrown::HashMap;

use super::address_classes::AddressClasses;
use super::bit_vector::{BitVectors, Fields};
use super::{prefix_mask, Candidate, PacketFields, RuleMatch};
use crate::acl::rule::{AclAction, AclRule};
use crate::types::Ipv4Prefix;

/// Prefixes at least this long list their rules: a /8 holds 1/256 of the addresses, so
/// a packet meets few of them, where the shorter ones each hold a large part of them.
const LONG_PREFIX: u8 = 8;

/// The most rule records the lists may hold, per rule listed (a rule is repeated under
/// every longer prefix inside its own): beyond it the index is not built.
const MAX_REPEATS: usize = 16;

/// The rules listed under one field's long prefixes.
#[derive(Debug)]
struct Lists {
    /// An address's class is where its list starts in `rules`.
    classes: AddressClasses,
    /// The lists back to back, each in list order and closed by a record whose position
    /// is `u32::MAX`, which no search goes past; the first is the empty list of the
    /// addresses no long prefix holds (class 0).
    rules: Vec<Candidate>,
}

impl Lists {
    fn build(rules: &[Candidate], prefix: impl Fn(&Candidate) -> (u32, u8)) -> Lists {
        let mut own: HashMap<(u32, u8), Vec<Candidate>> = HashMap::new();
        for rule in rules {
            own.entry(prefix(rule)).or_default().push(*rule);
        }
        let mut prefixes: Vec<(u32, u8)> = own.keys().copied().collect();
        // Shorter prefixes first, so that the prefix around one already has its list.
        prefixes.sort_by_key(|&(net, len)| (len, net));
        let end = Candidate {
            order: u32::MAX,
            ..rules.first().copied().unwrap_or(Candidate::new(
                0,
                0,
                0,
                &AclRule::any(AclAction::Deny),
            ))
        };
        let mut listed = vec![end];
        // Each prefix's list: (start, length) in `listed`.
        let mut lists: HashMap<(u32, u8), (usize, usize)> = HashMap::new();
        let mut routes = Vec::with_capacity(prefixes.len());
        for (net, len) in prefixes {
            let around = (0..len)
                .rev()
                .find_map(|l| lists.get(&(net & prefix_mask(l), l)).copied());
            let mut list =
                around.map_or_else(Vec::new, |(start, n)| listed[start..start + n].to_vec());
            list.extend_from_slice(&own[&(net, len)]);
            list.sort_by_key(|r| r.order);
            let start = listed.len();
            lists.insert((net, len), (start, list.len()));
            listed.extend(list);
            listed.push(end);
            if let Some(p) = Ipv4Prefix::new(net.into(), len) {
                routes.push((p, start as u32));
            }
        }
        Lists {
            classes: AddressClasses::build(&routes),
            rules: listed,
        }
    }

    /// The first rule listed from `start` (an address's class) that matches `packet`, if
    /// it comes before `before`.
    #[inline(always)]
    fn first(
        &self,
        start: u32,
        packet: &PacketFields,
        before: u32,
        checks: &mut usize,
    ) -> Option<&Candidate> {
        let listed = self.rules.get(start as usize..).unwrap_or(&[]);
        for rule in listed {
            if rule.order >= before {
                break;
            }
            *checks += 1;
            if rule.matches(packet) {
                return Some(rule);
            }
        }
        None
    }

    fn memory_bytes(&self) -> usize {
        self.classes.memory_bytes() + self.rules.len() * std::mem::size_of::<Candidate>()
    }
}

/// A whole rule list, by its long prefixes and the bit vectors of the rest.
#[derive(Debug)]
pub(super) struct PrefixIndex {
    by_src: Lists,
    by_dst: Lists,
    /// The rules whose prefixes are both short.
    short: Option<BitVectors>,
    listed: (usize, usize),
}

impl PrefixIndex {
    /// The index of `rules`, unless its short-prefix rules need more than `budget` bytes
    /// of vectors or its lists repeat the rules too often.
    pub(super) fn build(rules: &[Candidate], budget: usize) -> Option<PrefixIndex> {
        let (mut by_src, mut by_dst, mut short) = (Vec::new(), Vec::new(), Vec::new());
        for rule in rules {
            if rule.src_len() >= LONG_PREFIX {
                by_src.push(*rule);
            } else if rule.dst_len() >= LONG_PREFIX {
                by_dst.push(*rule);
            } else {
                short.push(*rule);
            }
        }
        if BitVectors::rules_within(&short, budget, Fields::All) < short.len() {
            return None;
        }
        let listed = (by_src.len(), by_dst.len());
        let by_src = Lists::build(&by_src, |r| (r.src_net, r.src_len()));
        let by_dst = Lists::build(&by_dst, |r| (r.dst_net, r.dst_len()));
        if by_src.rules.len() + by_dst.rules.len() > MAX_REPEATS * rules.len() + 2 {
            return None;
        }
        Some(PrefixIndex {
            by_src,
            by_dst,
            short: (!short.is_empty()).then(|| BitVectors::build(&short, Fields::All)),
            listed,
        })
    }

    /// Rules listed under a long source prefix, under a long destination prefix, and in
    /// the bit vectors.
    pub(super) fn parts(&self) -> (usize, usize, usize) {
        let short = self.short.as_ref().map_or(0, BitVectors::rule_count);
        (self.listed.0, self.listed.1, short)
    }

    pub(super) fn memory_bytes(&self) -> usize {
        self.by_src.memory_bytes()
            + self.by_dst.memory_bytes()
            + self.short.as_ref().map_or(0, BitVectors::memory_bytes)
    }

    /// The first rule, in list order, that matches `packet`.
    #[inline]
    pub(super) fn first_match(&self, packet: &PacketFields) -> Option<RuleMatch> {
        self.search(packet, &mut 0)
    }

    /// How many rule records [`PrefixIndex::first_match`] reads for `packet` (those the
    /// bit vectors verify included): what decides whether the index is worth it.
    pub(super) fn checks(&self, packet: &PacketFields) -> usize {
        let mut checks = 0;
        self.search(packet, &mut checks);
        checks
    }

    #[inline(always)]
    fn search(&self, packet: &PacketFields, checks: &mut usize) -> Option<RuleMatch> {
        // Every class first, so that their loads overlap before the scans' branches.
        let src = self.by_src.classes.lookup(packet.src);
        let dst = self.by_dst.classes.lookup(packet.dst);
        let rows = self
            .short
            .as_ref()
            .map(|short| (short, short.five_rows(packet)));
        // The short rules' vectors before the lists: theirs is the longest chain of loads
        // (a port's class, its row, the row's words), and scanned after the lists, it
        // waited on their mispredicted exits.
        let by_vectors = rows.and_then(|(short, rows)| short.scan_five(rows, packet, checks));
        let before = by_vectors.map_or(u32::MAX, |r| r.order);
        let mut found = self.by_src.first(src, packet, before, checks);
        let before = found.map_or(before, |r| r.order);
        if let Some(rule) = self.by_dst.first(dst, packet, before, checks) {
            found = Some(rule);
        }
        match found {
            Some(listed) => Some(listed.found()),
            None => by_vectors,
        }
    }
}
