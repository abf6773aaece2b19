//! ip4-flow-cache: the decisions of every stage for an established flow, remembered, so
//! that its next packets take one lookup instead of the whole sequence.
//!
//! A packet that ran the stages and left by an interface is *learnt* when what the
//! stages did to it would be done the same way to the flow's next packet: each stateful
//! stage found (or made) a session that the next packet will hit, and everything else was
//! decided by the configuration snapshot alone. The entry, keyed by the receiving
//! interface and the 5-tuple, holds:
//!
//! - the snapshot's epoch (a new snapshot makes every entry stale);
//! - the sessions with their slot generations: acl-in's, NAT44's, acl-out's (a session
//!   deleted, expired or replaced in its slot makes the entry stale); where an interface
//!   has sessions but no rules in a direction and the packet's key had no session there
//!   (a request whose reply has not come back yet), a watch on that key instead, stale
//!   once a session may have been created for it;
//! - the outcome of ip4-lookup and ip4-rewrite: the interface out and the destination
//!   MAC (the source MAC and the MTU are the interface's, read from the snapshot);
//! - the checksum changes of NAT44 and the TTL decrement, summed (RFC 1624): the header
//!   checksum gets one ones'-complement addition, and so does the L4 checksum.
//!
//! A packet of a known flow is checked as ethernet-input and ip4-input would check it
//! (our MAC, IPv4 without options or fragmentation, header checksum, lengths, TTL > 1),
//! and its sessions as their lookups would find them (live, same generation, not
//! expired). When every packet in a burst passes, the sessions are refreshed as a hit in
//! each stage refreshes them (TCP state, counters), stage by stage as the stages would
//! (every acl-in in packet order, then every NAT44, then every acl-out), and the packets
//! are rewritten. The packets that do not pass (a stale entry, an expired session, a TTL
//! of 1, a size above the MTU, a fragment, options, ICMP, a new flow, an ARP frame) take
//! the stages, which also count and trace them; the others are forwarded beside them
//! only where the order cannot matter (`Ip4FlowCache::forward_part`): a packet taking
//! the stages could create or recycle a session, or move one in an expiry list, before
//! a cached packet of the same burst would have seen it there. So they must be *quiet*
//! (no SYN, FIN or RST, no TCP flag their ACL sessions have not seen, no watch, a NAT44
//! session that is not transitory: what their refreshes write is what the sessions hold
//! already, counters aside), and both tables must have room for every session the
//! others may create (so that none is given up). Else the whole burst takes the stages.
//! With one new connection's SYN in each 32-packet burst of established flows, this
//! keeps ~97 % of the packets on the cache (`CHAIN_NEW_PER_BURST` in the chain bench).
//!
//! An ACL session's idle time counts in whole seconds ([`crate::acl`]): a second refresh
//! in the same second by a packet that brings no new TCP flags changes nothing in it. So
//! an entry remembers the *freshness mark* under which its ACL sessions were last
//! refreshed, and the TCP flags they had seen; while the mark holds (same second, no
//! ACL session deleted in the second it was last heard in, see
//! [`AclWorker::fresh_deletes`]), its sessions are still in their slots and live, and
//! its packets skip both the ACL sessions' checks and their refreshes (only the session
//! hit counter moves). A watch (a count in a small table) can only end when a session
//! is created; a newer mark moves with every creation too ([`AclWorker::creations`]),
//! and a watch is checked only when its entry was not marked since the last one. That
//! is two or three cache lines a packet fewer at 100k flows. NAT44's
//! session is read and refreshed for every packet: its translation and its counters
//! are there.
//!
//! A traced burst takes the stages too, so a
//! trace always reads as the fixed sequence. The stages' `show runtime` rows count the
//! packets carried past them ([`crate::counters::RuntimeTotals::cached`]).
//!
//! A flow is learnt from a packet that neither opens nor closes it (TCP without SYN, FIN
//! or RST; any UDP): the first packets of a connection, which make its sessions, and its
//! last ones take the stages anyway, and a connection per request never pays for entries
//! it would not use. Its later packets hit whatever their flags, but for SYN: a segment
//! with SYN is not even looked for (an entry for its tuple could only be one an earlier
//! connection left), which spares each new connection and its reply a bucket's line.
//!
//! Not learnt (they always take the stages): ICMP, packets that leave by an
//! interface with NAT44's output feature, packets from outside on an interface that is
//! both inside and outside (their node depends on whether an in2out session exists), and
//! packets that a rule rather than a session let through an ACL (the rules are looked at
//! only while no session exists, which may change; and their counters are the stage's).
//!
//! The table is a fixed array of two-entry buckets (64-byte entries), sized at start; a
//! key has two buckets (two hashes), so four places. A new entry takes a free or stale
//! place, else the first way of its first bucket (whose entry moves to the second way):
//! no allocation and no chain. A collision only sends a flow back to the stages.

use super::Context;
use crate::acl::{AclPacketInfo, AclWorker, Direction, SessionHandle};
use crate::buffer::PacketBuf;
use crate::burst::{Burst, Disposition, MAX_BURST};
use crate::nat44::rewrite::Deltas;
use crate::nat44::session::{KeyTable, SessionKey, TimeoutClass};
use crate::nat44::{Nat44Worker, NatDirection, NatProtocol};
use crate::node::NodeId;
use crate::packet::checksum::{self, patch};
use crate::packet::ethernet::EtherType;
use crate::packet::udp::nonzero;
use crate::pipeline::PrefetchHint;
use crate::types::{IfIndex, MacAddr};
use std::net::Ipv4Addr;

const ETH_LEN: usize = 14;
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const NS_PER_SECOND: u64 = 1_000_000_000;
const IP_LEN: usize = 20;
const TCP: u8 = 6;
const UDP: u8 = 17;
const TCP_LEN: usize = crate::packet::tcp::MIN_HEADER_LEN;
const UDP_LEN: usize = crate::packet::udp::HEADER_LEN;
/// The NAT44 index of an entry without NAT44; the top bit of a real one says the packet
/// came from outside.
const NO_NAT: u32 = u32::MAX;
const FROM_OUTSIDE: u32 = 1 << 31;
/// A session index the cache takes: the top two bits stay free, so that they name the
/// NAT44 node without a branch ([`nat_node`]): [`FROM_OUTSIDE`] and, with it, [`NO_NAT`].
const MAX_NAT_INDEX: u32 = (1 << 30) - 1;

/// Least and most entries a worker's table holds.
const MIN_ENTRIES: usize = 1024;
/// Entries in use from which `forward` asks for the lines it will read. Below, the
/// entries and the sessions they name stay in the caches, and asking for them costs
/// more than it hides: the chain bench (two entries a flow, one each way) ran 2-6 %
/// faster without prefetches at 1000-4000 flows (2k-8k entries), the same at 8000
/// (16k), and 25-40 % slower at 16-32k flows (32k-64k). The count never falls, so a
/// worker that held many flows once (short flows too: every flow takes an entry) keeps
/// prefetching.
pub(crate) const PREFETCH_FROM_ENTRIES: usize = 8192;
const MAX_ENTRIES: usize = 512 * 1024;

/// (src, dst) and (sport, dport, rx_if, proto, 1): the 1 keeps an empty entry from
/// matching anything.
type FlowKey = [u64; 2];

fn flow_key(rx_if: IfIndex, src: u32, dst: u32, sport: u16, dport: u16, proto: u8) -> FlowKey {
    [
        u64::from(src) << 32 | u64::from(dst),
        u64::from(sport) << 48
            | u64::from(dport) << 32
            | u64::from(rx_if.0) << 16
            | u64::from(proto) << 8
            | 1,
    ]
}

/// The fields of a key, for learning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tuple {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
}

fn tuple_of(key: &FlowKey) -> Tuple {
    Tuple {
        src: Ipv4Addr::from_bits((key[0] >> 32) as u32),
        dst: Ipv4Addr::from_bits(key[0] as u32),
        sport: (key[1] >> 48) as u16,
        dport: (key[1] >> 32) as u16,
    }
}

fn proto_of(key: &FlowKey) -> u8 {
    (key[1] >> 8) as u8
}

/// A multiply-fold of the key: the low bits pick the bucket.
#[inline(always)]
fn hash(key: &FlowKey) -> u64 {
    let product = u128::from(key[0] ^ 0x243f_6a88_85a3_08d3) * u128::from(key[1] ^ 0x1319_8a2e);
    ((product as u64) ^ ((product >> 64) as u64)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

const _: () = assert!(std::mem::size_of::<Entry>() == 64);

/// One flow's remembered decisions: one cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Entry {
    key: FlowKey,
    /// The low 32 bits of the snapshot epoch it was learnt under.
    epoch: u32,
    /// NAT44's session index ([`NO_NAT`]: none), with [`FROM_OUTSIDE`].
    nat: u32,
    nat_generation: u32,
    acl_in: SessionHandle,
    acl_out: SessionHandle,
    /// The freshness mark ([`Marks`]) its ACL sessions were last refreshed and its
    /// watches last checked under; 0: not since it was learnt.
    fresh: u32,
    /// The TCP flags its acl-in and acl-out sessions had seen in this flow's direction
    /// then (all ones where it has no session).
    acl_seen: [u8; 2],
    /// The destination MAC, as ip4-rewrite wrote it; the source is `tx_if`'s own, and
    /// its MTU too, read from the snapshot.
    dst_mac: [u8; 6],
    /// Ones'-complement sums of what NAT44 and ip4-rewrite change in the IPv4 header
    /// and in the TCP/UDP checksum's coverage.
    ip_delta: u16,
    l4_delta: u16,
    tx_if: u16,
    /// How many of `acl_in` and `acl_out` are sessions: what a fresh entry's packet
    /// counts as session hits without reading either.
    acl_sessions: u8,
    /// Whether `acl_in` or `acl_out` is a watch: which mark its `fresh` must reach.
    has_watch: bool,
}

impl Entry {
    const EMPTY: Entry = Entry {
        key: [0, 0],
        epoch: 0,
        nat: NO_NAT,
        nat_generation: 0,
        acl_in: SessionHandle::NONE,
        acl_out: SessionHandle::NONE,
        fresh: 0,
        acl_seen: [0; 2],
        dst_mac: [0; 6],
        ip_delta: 0,
        l4_delta: 0,
        tx_if: 0,
        acl_sessions: 0,
        has_watch: false,
    };
}

/// What the passes learnt about a packet.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Zero: the packet cannot take the cache (not parsed, or not eligible).
    key: FlowKey,
    hash: u64,
    /// The entry found in the second pass, or [`NO_ENTRY`].
    entry: u32,
    /// As parse read them: the IPv4 total length, the TCP flags (0 for UDP).
    total_len: u16,
    tcp_flags: u8,
}

impl Default for Pending {
    /// A packet that cannot take the cache: no key, no entry (never entry 0, which
    /// holds some other flow).
    fn default() -> Self {
        Pending {
            key: [0, 0],
            hash: 0,
            entry: NO_ENTRY,
            total_len: 0,
            tcp_flags: 0,
        }
    }
}

/// How a packet of a known flow is forwarded, once all its checks passed (nothing is
/// changed yet).
#[derive(Clone, Copy, Debug, Default)]
struct Plan {
    total_len: u16,
    proto: u8,
    tcp_flags: u8,
    /// The ACL sessions need no refresh (see [`Marks`]).
    acl_fresh: bool,
    /// Its entry has a watch, checked for this packet: the entry takes the newest mark.
    watch_checked: bool,
    /// Forwarding it changes nothing whose order matters: no SYN, FIN or RST, no watch,
    /// no TCP flag its ACL sessions have not seen, and a NAT44 session (if any) that is
    /// not transitory, so that their refreshes write what they hold already, counters
    /// aside. Decided by [`Ip4FlowCache::forward_part`] alone (false until then).
    quiet: bool,
    /// Checked: the packet may be forwarded from its entry.
    planned: bool,
    /// The source MAC: the interface out's.
    src_mac: [u8; 6],
    /// NAT44's session ([`NO_NAT`]: none) and the new source and destination, as the
    /// frame carries them: the addresses, then the ports.
    nat: u32,
    addrs: [u8; 8],
    ports: [u8; 4],
}

const NO_ENTRY: u32 = u32::MAX;
const _: () = assert!(MAX_ENTRIES < NO_ENTRY as usize);
const _: () = assert!(nat_node(NO_NAT) == 3 && nat_node(FROM_OUTSIDE | MAX_NAT_INDEX) == 2);
const _: () = assert!(std::mem::size_of::<Pending>() == 32);

/// The key of a packet that may use the cache, its TCP flags (0 for UDP) and its IPv4
/// total length: our MAC, IPv4 without options or fragmentation, a correct header
/// checksum, lengths that hold, TTL above 1, and a whole TCP or UDP header. Anything
/// else takes the stages.
///
/// It reads the headers as fixed-size arrays at the views' named offsets rather than
/// through the views (an exception to "untrusted bytes go through `new_checked`"): the
/// views check each field's bounds on their own, which cost more here than the rest of
/// the parse. It takes exactly what the views take: `parse_by_views` in the tests is
/// compared with it on mutated frames.
#[inline(always)]
fn parse(frame: &[u8], our_mac: MacAddr, rx_if: IfIndex) -> Option<(FlowKey, u8, u16)> {
    use crate::packet::ipv4::{field as ip4, FLAG_MORE_FRAGMENTS, FRAGMENT_OFFSET_MASK};
    use crate::packet::{ethernet::field as eth, tcp::field as tcp, udp::field as udp};
    let (eth_header, rest) = frame.split_first_chunk::<ETH_LEN>()?;
    let (ip, l4) = rest.split_first_chunk::<IP_LEN>()?;
    // Version 4, no options; neither more fragments nor an offset; TTL 2 up.
    if eth_header[eth::DESTINATION] != our_mac.0
        || be16(eth_header, eth::ETHERTYPE.start) != u16::from(EtherType::Ipv4)
        || ip[ip4::VERSION_IHL] != 0x40 | (IP_LEN / 4) as u8
        || be16(ip, ip4::FLAGS_FRAG.start) & (FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK) != 0
        || ip[ip4::TTL] <= 1
    {
        return None;
    }
    let ip_len = be16(ip, ip4::TOTAL_LEN.start);
    let total_len = usize::from(ip_len);
    if total_len < IP_LEN || total_len > rest.len() || !header_sum_holds(ip) {
        return None;
    }
    // What NAT44's views refuse, the stages drop: a TCP data offset below 5 words or
    // past the segment, a UDP length below its header or past the datagram.
    let l4_len = total_len - IP_LEN;
    let (ports, tcp_flags) = match ip[ip4::PROTOCOL] {
        TCP if l4_len >= TCP_LEN => {
            let header = l4.first_chunk::<TCP_LEN>()?;
            let offset = usize::from(header[tcp::DATA_OFFSET] >> 4) * 4;
            if offset < TCP_LEN || offset > l4_len {
                return None;
            }
            let ports = (
                be16(header, tcp::SRC_PORT.start),
                be16(header, tcp::DST_PORT.start),
            );
            (ports, header[tcp::FLAGS])
        }
        UDP if l4_len >= UDP_LEN => {
            let header = l4.first_chunk::<UDP_LEN>()?;
            let len = usize::from(be16(header, udp::LENGTH.start));
            if len < UDP_LEN || len > l4_len {
                return None;
            }
            let ports = (
                be16(header, udp::SRC_PORT.start),
                be16(header, udp::DST_PORT.start),
            );
            (ports, 0)
        }
        _ => return None,
    };
    let key = flow_key(
        rx_if,
        be32(ip, ip4::SRC.start),
        be32(ip, ip4::DST.start),
        ports.0,
        ports.1,
        ip[ip4::PROTOCOL],
    );
    Some((key, tcp_flags, ip_len))
}

/// The big-endian 16-bit word at `at` of a fixed-size header (the index is checked at
/// compile time once inlined with a constant).
#[inline(always)]
fn be16<const N: usize>(header: &[u8; N], at: usize) -> u16 {
    u16::from_be_bytes([header[at], header[at + 1]])
}

#[inline(always)]
fn be32<const N: usize>(header: &[u8; N], at: usize) -> u32 {
    u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
}

/// Whether an option-less IPv4 header's checksum holds: its words sum to all ones
/// (ones' complement). Summed as five native 32-bit words, folded: the sum of
/// byte-swapped words is the byte-swapped sum, and all ones reads the same either way.
/// Only a header of zeros sums to zero, which is not all ones either.
#[inline(always)]
fn header_sum_holds(ip: &[u8; IP_LEN]) -> bool {
    let word = |at: usize| {
        u64::from(u32::from_ne_bytes([
            ip[at],
            ip[at + 1],
            ip[at + 2],
            ip[at + 3],
        ]))
    };
    let sum = word(0) + word(4) + word(8) + word(12) + word(16);
    // Below 2^35, then below 2^32 + 4, then at most 0x1_fffe, then at most 0xffff
    // (0x1_fffe, from 0xffff_ffff, needs this third fold).
    let sum = (sum & 0xffff_ffff) + (sum >> 32);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    sum == 0xffff
}

/// The checksum changes of a translation from `old` to `new`, as NAT44's rewrite makes
/// them ([`Deltas::of`]), for the IPv4 header and for the L4 checksum; the header's also
/// has the TTL decrement of a packet with `ttl_proto` as its
/// TTL and protocol word (every TTL above 1 gives the same sum).
fn deltas(old: Tuple, new: Tuple, ttl_proto: u16) -> (u16, u16) {
    let nat = Deltas::of(
        (old.src, old.sport),
        (old.dst, old.dport),
        (new.src, new.sport),
        (new.dst, new.dport),
    );
    // Folding NAT44's folded sum again with the TTL's terms gives the fold of all the
    // terms at once (a fold is zero only for a zero sum).
    let ttl = checksum::terms16(ttl_proto, ttl_proto.wrapping_sub(0x100));
    (checksum::fold(ttl + u64::from(nat.ip)), nat.l4)
}

/// The first ways of a key's two buckets.
#[inline(always)]
fn buckets(bucket_mask: usize, hash: u64) -> [usize; 2] {
    [
        (hash as usize & bucket_mask) * 2,
        ((hash >> 32) as usize & bucket_mask) * 2,
    ]
}

/// The entry of `entries` holding `key`, if any.
#[inline(always)]
fn find(entries: &[Entry], bucket_mask: usize, key: &FlowKey, hash: u64) -> Option<usize> {
    let [a, b] = buckets(bucket_mask, hash);
    let holds = |e: usize| entries.get(e).is_some_and(|entry| entry.key == *key);
    if holds(a) {
        Some(a)
    } else if holds(a + 1) {
        Some(a + 1)
    } else if holds(b) {
        Some(b)
    } else if holds(b + 1) {
        Some(b + 1)
    } else {
        None
    }
}

/// What the cache did, for `show runtime`'s rows and the tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCacheStats {
    /// Packets forwarded from an entry.
    pub hits: u64,
    /// Packets eligible that found no entry: they took the stages.
    pub misses: u64,
    /// Packets whose entry could not be used (a new snapshot, a session gone or
    /// expired, a size above the MTU): they took the stages.
    pub stale: u64,
    /// Packets with an entry that took the stages with the rest of their burst (a burst
    /// is forwarded from the cache only as a whole; its entries are checked only when
    /// every packet has one).
    pub held: u64,
    /// Entries written after a packet took the stages.
    pub learnt: u64,
    /// Packets forwarded whose ACL sessions needed no refresh: already refreshed in the
    /// same second, no session deleted since, no new TCP flags.
    pub acl_fresh: u64,
    /// Packets forwarded from a burst whose other packets took the stages.
    pub partial: u64,
    /// TCP segments with SYN (connections opening), sent to the stages unlooked-for.
    pub opening: u64,
}

/// One worker's flow cache.
pub struct Ip4FlowCache {
    entries: Vec<Entry>,
    bucket_mask: usize,
    enabled: bool,
    pending: [Pending; MAX_BURST],
    plans: [Plan; MAX_BURST],
    /// The interfaces out of a burst forwarded whole, how many of them the last burst
    /// had (0: it was not forwarded whole), and the bytes they leave with.
    out: [IfIndex; MAX_BURST],
    whole: usize,
    whole_bytes: u64,
    /// The bytes of the last burst as received, summed by the pass that reads them.
    rx_bytes: u64,
    stats: FlowCacheStats,
    /// Entries holding a flow (possibly stale).
    used: usize,
    marks: Marks,
    /// The (second, fresh deletes) `marks.sessions` stands for, and the ACL session
    /// creations `marks.watches` stands for with them.
    fresh_basis: (u64, u32),
    watch_basis: u32,
}

/// The freshness marks of a burst, drawn from one rising count, so that an entry's
/// `fresh` compares with both: `sessions` changes with the clock's second and with
/// [`AclWorker::fresh_deletes`]; `watches` with those and with
/// [`AclWorker::creations`] (so `watches >= sessions`). An entry marked at `sessions`
/// or later has its ACL sessions live and refreshed in this second, and a refresh by a
/// packet with no new TCP flags would change nothing in them; one marked at `watches`
/// has its watches still holding, no session having been created since they were
/// checked. Never 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Marks {
    sessions: u32,
    watches: u32,
}

impl Marks {
    /// Whether `entry`'s ACL sessions were refreshed under the current basis.
    #[inline(always)]
    fn sessions_fresh(self, entry: &Entry) -> bool {
        entry.fresh >= self.sessions
    }

    /// Whether `entry`'s watches were checked since the last session was created.
    #[inline(always)]
    fn watches_fresh(self, entry: &Entry) -> bool {
        entry.fresh >= self.watches
    }

    /// Whether `entry` needs no ACL read at all (for a packet with no new TCP flags):
    /// its sessions fresh, and its watches if it has any.
    #[inline(always)]
    fn all_fresh(self, entry: &Entry) -> bool {
        let mark = match entry.has_watch {
            true => self.watches,
            false => self.sessions,
        };
        entry.fresh >= mark
    }

    /// Whether the ACL handle `handle` of `entry` must be read for a packet: a session
    /// not refreshed under this basis, or a watch not checked since the last creation.
    #[inline(always)]
    fn must_read(self, entry: &Entry, handle: SessionHandle) -> bool {
        match (handle.is_none(), handle.is_watch()) {
            (true, _) => false,
            (false, true) => !self.watches_fresh(entry),
            (false, false) => !self.sessions_fresh(entry),
        }
    }
}

impl Ip4FlowCache {
    /// A table for about `flows` flows in each direction (two entries per flow, rounded
    /// to a power of two, within 1k..512k entries: 32 MiB at most).
    pub fn new(flows: usize) -> Self {
        let entries = flows
            .saturating_mul(4)
            .next_power_of_two()
            .clamp(MIN_ENTRIES, MAX_ENTRIES);
        Ip4FlowCache {
            entries: vec![Entry::EMPTY; entries],
            bucket_mask: entries / 2 - 1,
            enabled: true,
            pending: [Pending::default(); MAX_BURST],
            plans: [Plan::default(); MAX_BURST],
            out: [IfIndex(0); MAX_BURST],
            whole: 0,
            whole_bytes: 0,
            rx_bytes: 0,
            stats: FlowCacheStats::default(),
            used: 0,
            marks: Marks {
                sessions: 1,
                watches: 1,
            },
            fresh_basis: (u64::MAX, 0),
            watch_basis: 0,
        }
    }

    /// The marks for the clock's second `second`, the ACL table's `fresh_deletes` and
    /// its `creations`. When the marks wrap, every entry's is cleared, so that no old
    /// one passes again. It relies on the worker's clock never going back (its lcore's
    /// TSC): a session deleted in a later second than its stamp's is not counted as a
    /// fresh delete.
    #[inline(always)]
    fn marks(&mut self, second: u64, fresh_deletes: u32, creations: u32) -> Marks {
        let basis = (second, fresh_deletes);
        if basis != self.fresh_basis || creations != self.watch_basis {
            let next = match self.marks.watches.checked_add(1) {
                Some(mark) => mark,
                None => self.clear_fresh_marks(),
            };
            if basis != self.fresh_basis || next == 1 {
                self.marks.sessions = next;
            }
            self.marks.watches = next;
            self.fresh_basis = basis;
            self.watch_basis = creations;
        }
        self.marks
    }

    /// Out of line: once per 2^32 marks, a pass over the table (~32 MiB at the largest,
    /// some milliseconds). The marks move once a second, and at most once a burst when
    /// ACL sessions are created (new connections) or closed connections' sessions are
    /// given up at the table's limit every burst: then about once an hour.
    #[cold]
    #[inline(never)]
    fn clear_fresh_marks(&mut self) -> u32 {
        for entry in &mut self.entries {
            entry.fresh = 0;
        }
        1
    }

    /// For a test: copies an entry in use into slot 0 (where a packet without an entry
    /// must never look); false if there is none, or slot 0 is taken.
    #[cfg(test)]
    pub(crate) fn copy_an_entry_to_slot_zero(&mut self) -> bool {
        let Some(used) = self.entries.iter().skip(1).find(|e| e.key[1] != 0).copied() else {
            return false;
        };
        match self.entries.first_mut() {
            Some(zero) if zero.key[1] == 0 => {
                *zero = used;
                self.used += 1;
                true
            }
            _ => false,
        }
    }

    /// For a test: says `entries` entries are in use (prefetching starts at
    /// [`PREFETCH_FROM_ENTRIES`]).
    #[cfg(test)]
    pub(crate) fn set_used(&mut self, entries: usize) {
        self.used = entries;
    }

    /// Off, every packet takes the stages (to compare, or to rule the cache out).
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn stats(&self) -> FlowCacheStats {
        self.stats
    }

    /// After [`Ip4FlowCache::forward`] forwarded a whole burst: the interface each of
    /// its packets leaves by, and their bytes as they leave.
    pub(crate) fn leaving(&self) -> (&[IfIndex], u64) {
        (&self.out[..self.whole], self.whole_bytes)
    }

    /// The bytes of the burst [`Ip4FlowCache::forward`] last saw, as received.
    pub(crate) fn rx_bytes(&self) -> u64 {
        self.rx_bytes
    }

    /// `show flow-cache`: the table and the counters since start.
    pub fn show(&self) -> String {
        let s = self.stats;
        let bytes = std::mem::size_of_val(self.entries.as_slice());
        format!(
            "ip4-flow-cache: {}, {} entries ({} MiB), {} in use\n\
             prefetching its lookups: {} (from {} entries in use)\n\
             {:>14} packets forwarded from the cache\n\
             {:>14} packets with no entry (took the stages)\n\
             {:>14} packets whose entry was stale (took the stages)\n\
             {:>14} packets with an entry whose burst took the stages\n\
             {:>14} entries learnt\n\
             {:>14} packets forwarded whose ACL sessions were already refreshed this second\n\
             {:>14} packets forwarded beside packets that took the stages\n\
             {:>14} TCP SYN segments (opening connections: never looked for)\n",
            if self.enabled {
                "on"
            } else {
                "off (--no-flow-cache)"
            },
            self.entries.len(),
            bytes >> 20,
            self.used,
            if self.used >= PREFETCH_FROM_ENTRIES {
                "yes"
            } else {
                "no"
            },
            PREFETCH_FROM_ENTRIES,
            s.hits,
            s.misses,
            s.stale,
            s.held,
            s.learnt,
            s.acl_fresh,
            s.partial,
            s.opening,
        )
    }

    #[inline(always)]
    fn buckets(&self, hash: u64) -> [usize; 2] {
        buckets(self.bucket_mask, hash)
    }

    /// The entry holding `key`, if any.
    #[inline(always)]
    fn find(&self, key: &FlowKey, hash: u64) -> Option<usize> {
        find(&self.entries, self.bucket_mask, key, hash)
    }

    /// Where to write `key`'s entry: where it is, else a free or stale way of its
    /// buckets, else the way of an entry that can move to a free or stale way of its
    /// other bucket (one step of cuckoo hashing), else the first way of the first
    /// bucket, whose entry moves to the second way (and the second way's is dropped).
    fn place(&mut self, key: &FlowKey, hash: u64, epoch: u32) -> usize {
        if let Some(e) = self.find(key, hash) {
            return e;
        }
        let [a, b] = self.buckets(hash);
        let places = [a, a + 1, b, b + 1];
        let empty = |e: &usize| self.entries.get(*e).is_some_and(|entry| entry.key[1] == 0);
        if let Some(e) = places.into_iter().find(empty) {
            self.used += 1;
            return e;
        }
        let stale = |e: &usize| {
            self.entries
                .get(*e)
                .is_some_and(|entry| entry.epoch != epoch)
        };
        if let Some(e) = places.into_iter().find(stale) {
            return e;
        }
        // Without the move, a flow learnt into full buckets drops another at 100k flows
        // (40 % of the ways used) often enough to send one burst in ten to the stages.
        for e in places {
            let Some(&resident) = self.entries.get(e) else {
                continue;
            };
            let [ra, rb] = self.buckets(self::hash(&resident.key));
            let other = if e & !1 == ra { rb } else { ra };
            for w in [other, other + 1] {
                let Some(way) = self.entries.get_mut(w) else {
                    continue;
                };
                let free = way.key[1] == 0;
                if free || way.epoch != epoch {
                    *way = resident;
                    self.used += usize::from(free);
                    return e;
                }
            }
        }
        self.entries[a + 1] = self.entries[a];
        a
    }

    /// Forwards a burst of `pkts` received on `rx_if` from the cache if every packet in
    /// it belongs to a known flow and passes its checks ([`Ip4FlowCache::leaving`] then
    /// says where each goes, and `burst` is left as it was: no stage reads it); else
    /// starts `burst` ([`Burst::reset`]) and forwards the quiet packets beside the rest
    /// where that changes nothing ([`Ip4FlowCache::forward_part`]), marking them
    /// [`Disposition::Forwarded`], or leaves it all to the stages. Returns how many were
    /// forwarded; [`Ip4FlowCache::rx_bytes`] has the burst's bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<B: PacketBuf, P: PrefetchHint>(
        &mut self,
        acl: &mut AclWorker,
        nat: &mut Nat44Worker,
        rx_if: IfIndex,
        burst: &mut Burst,
        pkts: &mut [B],
        cx: &Context<'_>,
    ) -> usize {
        let n = pkts.len().min(MAX_BURST);
        self.whole = 0;
        let our_mac = cx
            .snapshot
            .interface(rx_if)
            .filter(|i| i.admin_up)
            .map(|i| i.mac);
        let (Some(our_mac), true) = (our_mac, self.enabled) else {
            self.pending[..n].fill(Pending::default());
            self.rx_bytes = pkts[..n].iter().map(|p| p.data().len() as u64).sum();
            burst.reset(rx_if, n);
            return 0;
        };
        let marks = self.marks(
            cx.now_ns / NS_PER_SECOND,
            acl.fresh_deletes(),
            acl.creations(),
        );
        let prefetching = self.used >= PREFETCH_FROM_ENTRIES;
        // Three passes, so that a burst's cache misses overlap: read each packet and ask
        // for its first bucket; find the entries and ask for their sessions (both from
        // PREFETCH_FROM_ENTRIES entries in use); then forward.
        let (pending, plans, out) = (
            &mut self.pending[..n],
            &mut self.plans[..n],
            &mut self.out[..n],
        );
        let (entries, bucket_mask) = (&self.entries, self.bucket_mask);
        // The interface's rx bytes, summed here where each frame is read anyway.
        let mut rx_bytes = 0;
        for (pending, pkt) in pending.iter_mut().zip(&pkts[..n]) {
            let frame = pkt.data();
            rx_bytes += frame.len() as u64;
            *pending = match parse(frame, our_mac, rx_if) {
                // A SYN opens a connection: no segment carrying one is ever learnt, so
                // an entry for its flow could only be one a closed connection of the same
                // tuple left. It takes the stages without a look (a bucket, most often
                // a cache miss, per new connection and its reply).
                Some((_, tcp_flags, _)) if tcp_flags & SYN != 0 => {
                    self.stats.opening += 1;
                    Pending::default()
                }
                Some((key, tcp_flags, total_len)) => {
                    let hash = hash(&key);
                    let first = buckets(bucket_mask, hash)[0];
                    if let (true, Some(entry)) = (prefetching, entries.get(first)) {
                        P::prefetch(std::ptr::from_ref(entry).cast());
                    }
                    Pending {
                        key,
                        hash,
                        entry: NO_ENTRY,
                        total_len,
                        tcp_flags,
                    }
                }
                None => Pending::default(),
            };
        }
        let (mut keyed, mut found) = (0, 0);
        for pending in pending.iter_mut() {
            if pending.key[1] == 0 {
                continue;
            }
            keyed += 1;
            let Some(e) = find(entries, bucket_mask, &pending.key, pending.hash) else {
                continue;
            };
            found += 1;
            pending.entry = e as u32;
            let (true, Some(entry)) = (prefetching, entries.get(e)) else {
                continue;
            };
            for handle in [entry.acl_in, entry.acl_out] {
                if marks.must_read(entry, handle) {
                    if let Some(address) = acl.session_address(handle) {
                        P::prefetch(address);
                    }
                }
            }
            if entry.nat != NO_NAT {
                if let Some(address) = nat.session_address(entry.nat & MAX_NAT_INDEX) {
                    P::prefetch(address);
                }
            }
        }
        // Packets without an entry take the stages; the others may be forwarded from
        // the cache beside them only where nothing the stages do to the rest can come
        // before them in the stages' order and change them (`forward_part`): no table
        // may give up a session in this burst.
        self.rx_bytes = rx_bytes;
        let part = found < n && found > 0 && room_for_stages(acl, nat, cx, n - found);
        if found < n && !part {
            burst.reset(rx_if, n);
            self.stats.misses += (keyed - found) as u64;
            self.stats.held += found as u64;
            return 0;
        }
        // Every packet is checked before any is forwarded: a burst is forwarded from the
        // cache as a whole, or (forward_part) only its quiet packets, and only with room
        // in both tables. A packet that takes the stages may create or recycle a session
        // (at a table's limit) or move one in its expiry list before a cached packet of
        // the same burst would have hit it in the stages; forwarding any other packet
        // beside it would let those happen in another order. In a burst of hits
        // alone no session is created or deleted, and applying the hits stage by stage
        // (every acl-in, then every NAT44, then every acl-out, each in packet order)
        // is exactly what the stages do.
        let epoch = cx.snapshot.epoch as u32;
        let (mut stale, mut held, mut to_mark) = (0, 0, 0);
        // Which of the session updates below have work.
        let (mut any_acl_in, mut any_acl_out) = (false, false);
        for (pending, plan_slot) in pending.iter().zip(plans.iter_mut()) {
            // A packet without a key has no entry either (NO_ENTRY).
            let Some(entry) = entries.get(pending.entry as usize) else {
                *plan_slot = Plan::default();
                continue;
            };
            // Planned in place: a plan returned by value was copied field by field.
            if entry.epoch != epoch
                || check(acl, nat, entry, pending, cx, marks, plan_slot).is_none()
            {
                *plan_slot = Plan::default();
                stale += 1;
                continue;
            }
            let plan = &*plan_slot;
            any_acl_in |= !plan.acl_fresh && entry.acl_in.is_session();
            any_acl_out |= !plan.acl_fresh && entry.acl_out.is_session();
            to_mark += usize::from(!plan.acl_fresh || plan.watch_checked);
            held += 1;
        }
        self.stats.stale += stale;
        if held < n as u64 {
            burst.reset(rx_if, n);
            // Room for every packet taking the stages: those without an entry, and those
            // whose entry turned out stale.
            if room_for_stages(acl, nat, cx, n - held as usize) {
                self.stats.misses += (keyed - found) as u64;
                return self.forward_part(acl, nat, burst, pkts, cx, n);
            }
            self.stats.held += held;
            return 0;
        }
        let now_ns = cx.now_ns;
        let acl_flags = |plan: &Plan| (plan.proto == TCP).then_some(plan.tcp_flags);
        // Two passes: the ACL table sees every acl-in refresh before any acl-out one, as
        // in the stages; NAT44's touches (another table) go with the first, or, when no
        // acl-in session needs a refresh (most bursts: their entries are fresh), with the
        // second, which then is the only one.
        let now = (now_ns / 1_000_000_000) as u32;
        if any_acl_in {
            for (pending, plan) in pending.iter().zip(plans.iter()) {
                let Some(entry) = entries.get(pending.entry as usize) else {
                    continue;
                };
                if !plan.acl_fresh {
                    acl.hit_session(entry.acl_in, now_ns, acl_flags(plan));
                }
                if plan.nat != NO_NAT {
                    let from_inside = entry.nat & FROM_OUTSIDE == 0;
                    nat.hit_session(plan.nat, now, plan.total_len, plan.tcp_flags, from_inside);
                }
            }
        }
        let (mut by_nat, mut fresh, mut fresh_hits, mut sent) = ([0u64; 4], 0, 0, 0);
        // Each frame leaves as long as its IPv4 total length says (padding trimmed).
        let mut tx_bytes = (ETH_LEN * n) as u64;
        for (((pending, plan), pkt), out) in pending
            .iter()
            .zip(plans.iter())
            .zip(&mut pkts[..n])
            .zip(out.iter_mut())
        {
            // Every packet was planned from its entry: this always finds it.
            let Some(entry) = entries.get(pending.entry as usize) else {
                continue;
            };
            if !any_acl_in && plan.nat != NO_NAT {
                let from_inside = entry.nat & FROM_OUTSIDE == 0;
                nat.hit_session(plan.nat, now, plan.total_len, plan.tcp_flags, from_inside);
            }
            if plan.acl_fresh {
                fresh += 1;
                fresh_hits += acl_sessions(entry);
            } else if any_acl_out {
                acl.hit_session(entry.acl_out, now_ns, acl_flags(plan));
            }
            rewrite(entry, plan, pkt);
            tx_bytes += u64::from(plan.total_len);
            by_nat[nat_node(entry.nat)] += 1;
            *out = IfIndex(entry.tx_if);
            sent += 1;
        }
        if sent == n {
            self.whole = n;
            self.whole_bytes = tx_bytes;
        } else {
            burst.reset(rx_if, n);
            for (i, (pending, &tx_if)) in pending.iter().zip(out.iter()).enumerate() {
                if entries.get(pending.entry as usize).is_some() {
                    burst.set_disposition(i, Disposition::Forwarded(tx_if));
                }
            }
        }
        acl.count_session_hits(fresh_hits);
        // The entries whose sessions were just refreshed are fresh under the newest
        // mark, with the flags their sessions have seen now; so are those whose watches
        // were just checked.
        if to_mark > 0 {
            for (pending, plan) in pending.iter().zip(plans.iter()) {
                let Some(entry) = self.entries.get_mut(pending.entry as usize) else {
                    continue;
                };
                if !plan.acl_fresh {
                    mark_fresh(entry, acl, marks.watches);
                } else if plan.watch_checked {
                    entry.fresh = marks.watches;
                }
            }
        }
        self.stats.hits += n as u64;
        self.stats.acl_fresh += fresh as u64;
        count_carried(cx, rx_if, &by_nat);
        n
    }

    /// Forwards the packets of a burst that some packets must leave to the stages: those
    /// planned that are quiet ([`Plan::quiet`]). What their forwarding changes (the
    /// counters, and stamps their sessions hold already) comes out the same whatever the
    /// stages do before or after it in the burst, and what the stages do to the rest
    /// cannot change a session they use: none is given up (there is room in both tables
    /// for whatever the rest may create), none is deleted by expiry (theirs are live),
    /// and none changes state or list because of them. Their packets keep their place in
    /// the burst; their entries become fresh.
    fn forward_part<B: PacketBuf>(
        &mut self,
        acl: &mut AclWorker,
        nat: &mut Nat44Worker,
        burst: &mut Burst,
        pkts: &mut [B],
        cx: &Context<'_>,
        n: usize,
    ) -> usize {
        let (now_ns, now) = (cx.now_ns, (cx.now_ns / NS_PER_SECOND) as u32);
        let mark = self.marks.watches;
        let acl_flags = |plan: &Plan| (plan.proto == TCP).then_some(plan.tcp_flags);
        let (mut by_nat, mut forwarded, mut planned, mut fresh, mut fresh_hits) =
            ([0u64; 4], 0u64, 0u64, 0u64, 0);
        // Which packets are quiet is decided before any of them changes a session. A
        // packet whose flow an earlier packet sends to the stages is not: the stages
        // would refresh its sessions after that packet's (a RST, then a segment that
        // reopens the NAT44 session; forwarded first, the segment would leave it closed).
        let mut staged: [FlowKey; MAX_BURST] = [[0; 2]; MAX_BURST];
        let mut staged_count = 0;
        for (pending, plan) in self.pending[..n].iter().zip(self.plans[..n].iter_mut()) {
            if let (true, Some(entry)) = (plan.planned, self.entries.get(pending.entry as usize)) {
                plan.quiet = is_quiet(acl, nat, entry, plan)
                    && !staged[..staged_count].contains(&pending.key);
            }
            if !(plan.planned && plan.quiet) && pending.key[1] != 0 {
                if let Some(slot) = staged.get_mut(staged_count) {
                    *slot = pending.key;
                    staged_count += 1;
                }
            }
        }
        let entries = &mut self.entries;
        for (i, ((pending, plan), pkt)) in self.pending[..n]
            .iter()
            .zip(self.plans[..n].iter())
            .zip(&mut pkts[..n])
            .enumerate()
        {
            planned += u64::from(plan.planned);
            if !(plan.planned && plan.quiet) {
                continue;
            }
            let Some(entry) = entries.get_mut(pending.entry as usize) else {
                continue;
            };
            if plan.acl_fresh {
                fresh += 1;
                fresh_hits += acl_sessions(entry);
            } else {
                acl.hit_session(entry.acl_in, now_ns, acl_flags(plan));
                acl.hit_session(entry.acl_out, now_ns, acl_flags(plan));
                mark_fresh(entry, acl, mark);
            }
            if plan.nat != NO_NAT {
                let from_inside = entry.nat & FROM_OUTSIDE == 0;
                nat.hit_session(plan.nat, now, plan.total_len, plan.tcp_flags, from_inside);
            }
            send(entry, plan, pkt, burst, i, &mut by_nat);
            forwarded += 1;
        }
        acl.count_session_hits(fresh_hits);
        self.stats.held += planned - forwarded;
        self.stats.hits += forwarded;
        self.stats.acl_fresh += fresh;
        self.stats.partial += forwarded;
        let rx_if = burst.get(0).map_or(IfIndex(0), |m| m.rx_if);
        count_carried(cx, rx_if, &by_nat);
        forwarded as usize
    }

    /// Remembers the flows of packets that took the stages and left by an interface,
    /// where the stages' decisions hold for the flow's next packets (see the module
    /// documentation). Runs after `<interface>-output` has the burst's verdicts.
    pub fn learn<B: PacketBuf>(
        &mut self,
        acl: &AclWorker,
        nat: &Nat44Worker,
        burst: &Burst,
        pkts: &[B],
        cx: &Context<'_>,
    ) {
        if !self.enabled {
            return;
        }
        let epoch = cx.snapshot.epoch as u32;
        for (i, (meta, pkt)) in burst.meta().iter().zip(pkts).enumerate() {
            let Some(&Pending { key, hash, .. }) = self.pending.get(i) else {
                break;
            };
            if key[1] == 0 {
                continue;
            }
            let Disposition::Output(tx_if) = meta.disposition() else {
                continue;
            };
            if meta.generated {
                continue;
            }
            let Some(mut learnt) = learn_one(acl, nat, &key, meta.flow.nat, tx_if, pkt.data(), cx)
            else {
                continue;
            };
            learnt.epoch = epoch;
            let at = self.place(&key, hash, epoch);
            self.entries[at] = learnt;
            self.stats.learnt += 1;
        }
    }
}

/// The ACL sessions a packet of `entry` hits (what `AclWorker::hit_session` would count).
fn acl_sessions(entry: &Entry) -> u64 {
    u64::from(entry.acl_sessions)
}

/// A checked packet of `entry`, rewritten and handed to its interface; counted under its
/// NAT44 node for `show runtime`.
#[inline(always)]
fn send<B: PacketBuf>(
    entry: &Entry,
    plan: &Plan,
    pkt: &mut B,
    burst: &mut Burst,
    i: usize,
    by_nat: &mut [u64; 4],
) {
    rewrite(entry, plan, pkt);
    burst.set_disposition(i, Disposition::Forwarded(IfIndex(entry.tx_if)));
    by_nat[nat_node(entry.nat)] += 1;
}

/// An entry whose ACL sessions were just refreshed: fresh under `mark`, with the TCP
/// flags its sessions have seen now (all ones where it has none).
fn mark_fresh(entry: &mut Entry, acl: &AclWorker, mark: u32) {
    let seen = |h: SessionHandle| match h.is_session() {
        true => acl.session_seen_flags(h),
        false => Some(u8::MAX),
    };
    if let (Some(a), Some(b)) = (seen(entry.acl_in), seen(entry.acl_out)) {
        entry.fresh = mark;
        entry.acl_seen = [a, b];
    }
}

/// Whether `to_stages` packets taking the stages can leave every session in place:
/// each may create two ACL sessions (acl-in, acl-out) and two NAT44 sessions at most,
/// and with that much room neither table gives one up.
fn room_for_stages(acl: &AclWorker, nat: &Nat44Worker, cx: &Context<'_>, to_stages: usize) -> bool {
    let nat_limit = nat.session_limit(&cx.snapshot.nat) as usize;
    acl.session_count() + 2 * to_stages <= acl.session_limit()
        && nat.session_count() as usize + 2 * to_stages <= nat_limit
}

/// Index into the per-burst counts by NAT44 node, an entry's top two bits: 0 in2out,
/// 2 out2in, 3 none (1 never: [`MAX_NAT_INDEX`]).
#[inline(always)]
const fn nat_node(nat: u32) -> usize {
    (nat >> 30) as usize
}

/// Counts the packets forwarded from the cache as vectors of each stage they passed by,
/// as those stages would have counted them.
fn count_carried(cx: &Context<'_>, rx_if: IfIndex, by_nat: &[u64; 4]) {
    let all: u64 = by_nat.iter().sum();
    if all == 0 {
        return;
    }
    let counters = cx.counters;
    for node in [
        NodeId::EthernetInput,
        NodeId::Ip4Input,
        NodeId::Ip4Lookup,
        NodeId::Ip4Rewrite,
    ] {
        counters.count_cached(node, all);
    }
    // The ACL nodes only where the stages would run them (see `Worker::process`).
    let acl = &cx.snapshot.acl;
    if acl.interface(rx_if, Direction::Input).is_some() {
        counters.count_cached(NodeId::AclIn, all);
    }
    if acl.any_applied() {
        counters.count_cached(NodeId::AclOut, all);
    }
    let nat = &cx.snapshot.nat;
    if !nat.interface_roles_empty() {
        counters.count_cached(NodeId::Nat44Classify, all);
    }
    for (node, count) in [
        (NodeId::Nat44Out2in, by_nat[nat_node(FROM_OUTSIDE)]),
        (NodeId::Nat44In2out, by_nat[nat_node(0)]),
    ] {
        if count > 0 {
            counters.count_cached(node, count);
        }
    }
    if nat.has_output_feature() {
        counters.count_cached(NodeId::Nat44In2outOutput, all);
    }
}

/// One packet of a known flow, checked: every session the entry names is still the one
/// a lookup would find (and not expired), the size is within the MTU. Writes the plan
/// (left partly written when a check fails); changes nothing else.
#[inline(always)]
fn check(
    acl: &AclWorker,
    nat: &Nat44Worker,
    entry: &Entry,
    pending: &Pending,
    cx: &Context<'_>,
    marks: Marks,
    plan: &mut Plan,
) -> Option<()> {
    let (total_len, tcp_flags) = (pending.total_len, pending.tcp_flags);
    let out = cx.snapshot.interface(IfIndex(entry.tx_if))?;
    if total_len > out.mtu {
        return None;
    }
    let proto = proto_of(&pending.key);
    let no_new_flags = |seen: u8| tcp_flags | seen == seen;
    let flags_seen = no_new_flags(entry.acl_seen[0]) && no_new_flags(entry.acl_seen[1]);
    // Marked in this second, since the last session was created if it has a watch
    // (most packets): nothing to read.
    let (acl_fresh, watch_checked) = match marks.all_fresh(entry) && flags_seen {
        true => (true, false),
        false => check_acl(acl, entry, cx, marks, flags_seen)?,
    };
    *plan = Plan {
        total_len,
        proto,
        tcp_flags,
        acl_fresh,
        watch_checked,
        planned: true,
        src_mac: out.mac.0,
        nat: NO_NAT,
        ..Plan::default()
    };
    if entry.nat != NO_NAT {
        let index = entry.nat & MAX_NAT_INDEX;
        let session = nat.live_session(index, entry.nat_generation)?;
        let ((src, sport), (dst, dport)) = if entry.nat & FROM_OUTSIDE != 0 {
            (
                (session.in_remote, session.in_remote_port),
                (session.in_local, session.in_local_port),
            )
        } else {
            (
                (session.out_local, session.out_local_port),
                (session.out_remote, session.out_remote_port),
            )
        };
        plan.nat = index;
        plan.addrs[..4].copy_from_slice(&src.octets());
        plan.addrs[4..].copy_from_slice(&dst.octets());
        plan.ports[..2].copy_from_slice(&sport.to_be_bytes());
        plan.ports[2..].copy_from_slice(&dport.to_be_bytes());
    }
    Some(())
}

/// [`check`]'s ACL part for an entry not marked in this second (or, with a watch, since
/// the last session was created), or a packet with new TCP flags: whether its sessions need a refresh (`acl_fresh`, from
/// the mark and `flags_seen`), and whether a watch was checked; `None` if a session is
/// gone or a watch ended.
#[inline(always)]
fn check_acl(
    acl: &AclWorker,
    entry: &Entry,
    cx: &Context<'_>,
    marks: Marks,
    flags_seen: bool,
) -> Option<(bool, bool)> {
    let acl_fresh = marks.sessions_fresh(entry) && flags_seen;
    // A watch has nothing to refresh, but a session may have appeared for its key: it
    // is checked (a count in a small table) when any session was created since.
    let (config, now_ns) = (&*cx.snapshot.acl, cx.now_ns);
    let watches_fresh = marks.watches_fresh(entry);
    let acl_live = |h: SessionHandle| {
        let skip = match h.is_watch() {
            true => watches_fresh,
            false => acl_fresh,
        };
        h.is_none() || skip || acl.session_is_live(config, h, now_ns)
    };
    if !acl_live(entry.acl_in) || !acl_live(entry.acl_out) {
        return None;
    }
    let watch_checked = entry.has_watch && !watches_fresh;
    Some((acl_fresh, watch_checked))
}

/// Whether a planned packet of `entry` is quiet ([`Plan::quiet`]), from its sessions as
/// they are before the burst changes any: only [`Ip4FlowCache::forward_part`] asks.
fn is_quiet(acl: &AclWorker, nat: &Nat44Worker, entry: &Entry, plan: &Plan) -> bool {
    let no_new_flags = |seen: u8| plan.tcp_flags | seen == seen;
    // A fresh entry's flags are its sessions' (or fewer); else the sessions' lines say.
    let no_new_acl_flags = plan.acl_fresh
        || [entry.acl_in, entry.acl_out]
            .into_iter()
            .all(|h| h.is_none() || acl.session_seen_flags(h).is_some_and(no_new_flags));
    plan.tcp_flags & (SYN | FIN | RST) == 0
        && !entry.acl_in.is_watch()
        && !entry.acl_out.is_watch()
        && no_new_acl_flags
        && (plan.nat == NO_NAT
            || nat
                .live_session(plan.nat, entry.nat_generation)
                .is_some_and(|s| s.class() != TimeoutClass::TcpTransitory))
}

/// What ip4-input (padding), NAT44 and ip4-rewrite do to a checked packet's bytes.
#[inline(always)]
fn rewrite<B: PacketBuf>(entry: &Entry, plan: &Plan, pkt: &mut B) -> Option<()> {
    use crate::packet::{tcp::field as tcp, udp::field as udp};
    let end = ETH_LEN + usize::from(plan.total_len);
    let mut frame = pkt.data_mut();
    if frame.len() > end {
        // Ethernet padding, trimmed as ip4-input trims it.
        pkt.set_len(end);
        frame = pkt.data_mut();
    }
    // Parse saw the whole TCP or UDP header: one fixed-size head holds every byte the
    // rewrite touches.
    if plan.proto == TCP {
        let head = frame.first_chunk_mut::<{ ETH_LEN + IP_LEN + TCP_LEN }>()?;
        rewrite_head(head, tcp::CHECKSUM.start, entry, plan, |csum| {
            patch(csum, entry.l4_delta)
        });
    } else {
        let head = frame.first_chunk_mut::<{ ETH_LEN + IP_LEN + UDP_LEN }>()?;
        rewrite_head(head, udp::CHECKSUM.start, entry, plan, |csum| match csum {
            // A UDP checksum of zero means none, and stays so.
            0 => 0,
            _ => nonzero(patch(csum, entry.l4_delta)),
        });
    }
    Some(())
}

/// [`rewrite`] on the frame's head, its L4 checksum at `l4_checksum` in the TCP or UDP
/// header (TCP's and UDP's ports at the same places).
#[inline(always)]
fn rewrite_head<const N: usize>(
    head: &mut [u8; N],
    l4_checksum: usize,
    entry: &Entry,
    plan: &Plan,
    patch_l4: impl Fn(u16) -> u16,
) {
    use crate::packet::{ethernet::field as eth, ipv4::field as ip4, tcp::field as tcp};
    const IP: usize = ETH_LEN;
    const L4: usize = ETH_LEN + IP_LEN;
    head[eth::DESTINATION].copy_from_slice(&entry.dst_mac);
    head[eth::SOURCE].copy_from_slice(&plan.src_mac);
    if plan.nat != NO_NAT {
        let at = L4 + l4_checksum;
        let csum = patch_l4(be16(head, at));
        head[at..at + 2].copy_from_slice(&csum.to_be_bytes());
        head[IP + ip4::SRC.start..IP + ip4::DST.end].copy_from_slice(&plan.addrs);
        head[L4 + tcp::SRC_PORT.start..L4 + tcp::DST_PORT.end].copy_from_slice(&plan.ports);
    }
    // Above 1, as parse checked.
    head[IP + ip4::TTL] = head[IP + ip4::TTL].wrapping_sub(1);
    let at = IP + ip4::CHECKSUM.start;
    let csum = patch(be16(head, at), entry.ip_delta);
    head[at..at + 2].copy_from_slice(&csum.to_be_bytes());
}

/// The entry for a packet that took the stages and leaves by `tx_if`, `key` being how
/// it arrived and `frame` how it leaves; `None` when its flow's next packet could be
/// treated otherwise.
fn learn_one(
    acl: &AclWorker,
    nat: &Nat44Worker,
    key: &FlowKey,
    nat_direction: Option<NatDirection>,
    tx_if: IfIndex,
    frame: &[u8],
    cx: &Context<'_>,
) -> Option<Entry> {
    let snapshot = cx.snapshot;
    let rx_if = IfIndex((key[1] >> 16) as u16);
    let proto = proto_of(key);
    let old = tuple_of(key);
    // A TCP packet that opens or closes its flow is not learnt: the flow's next packet
    // in this direction is a while off, or never comes (a connection per request would
    // pay for an entry per packet and use none).
    use crate::packet::{ethernet::field as eth, ipv4::field as ip4, tcp::field as tcp};
    const SYN_FIN_RST: u8 = 0x07;
    if proto == TCP && frame.get(ETH_LEN + IP_LEN + tcp::FLAGS)? & SYN_FIN_RST != 0 {
        return None;
    }
    // How it leaves: IPv4 still (ARP turns a packet for an unresolved next hop into a
    // request), and the tuple NAT44 made of it (TCP's and UDP's ports at the same places).
    let head: &[u8; ETH_LEN + IP_LEN + 4] = frame.first_chunk()?;
    let ip = ETH_LEN;
    if be16(head, eth::ETHERTYPE.start) != u16::from(EtherType::Ipv4)
        || head[ip + ip4::VERSION_IHL] != 0x40 | (IP_LEN / 4) as u8
        || head[ip + ip4::PROTOCOL] != proto
    {
        return None;
    }
    let new = Tuple {
        src: Ipv4Addr::from_bits(be32(head, ip + ip4::SRC.start)),
        dst: Ipv4Addr::from_bits(be32(head, ip + ip4::DST.start)),
        sport: be16(head, ip + IP_LEN + tcp::SRC_PORT.start),
        dport: be16(head, ip + IP_LEN + tcp::DST_PORT.start),
    };
    // It left with TTL - 1; the word the decrement changed had TTL + 1 before.
    let ttl_proto = u16::from_be_bytes([head[ip + ip4::TTL].wrapping_add(1), proto]);

    let info = |t: Tuple| AclPacketInfo {
        src: t.src,
        dst: t.dst,
        proto,
        sport: t.sport,
        dport: t.dport,
        tcp_flags: 0,
        l4_valid: true,
        nonfirst_fragment: false,
    };
    let acl_config = &*snapshot.acl;
    let acl_handle = |sw_if: IfIndex, direction: Direction, t: Tuple| {
        acl.session_handle(acl_config, sw_if, direction, &info(t))
    };
    let acl_in = acl_handle(rx_if, Direction::Input, old)?;
    let acl_out = acl_handle(tx_if, Direction::Output, new)?;

    let nat_config = &*snapshot.nat;
    if nat_config.role(tx_if).output_feature {
        return None;
    }
    let role = nat_config.role(rx_if);
    let nat_proto = if proto == TCP {
        NatProtocol::Tcp
    } else {
        NatProtocol::Udp
    };
    let (nat_index, nat_generation) = match (role.inside || role.outside, nat_direction) {
        (false, _) => {
            if new != old {
                return None;
            }
            (NO_NAT, 0)
        }
        (true, None) => return None,
        (true, Some(direction)) => {
            if direction == NatDirection::Out2in && role.inside {
                return None;
            }
            let (table, local, remote, side_bit) = match direction {
                NatDirection::Out2in => (
                    KeyTable::Out2in,
                    (old.dst, old.dport),
                    (old.src, old.sport),
                    FROM_OUTSIDE,
                ),
                NatDirection::In2out => (
                    KeyTable::In2out,
                    (old.src, old.sport),
                    (old.dst, old.dport),
                    0,
                ),
            };
            let session_key = SessionKey {
                local: local.0,
                remote: remote.0,
                local_port: local.1,
                remote_port: remote.1,
                proto: nat_proto,
            };
            let index = nat.find_session(table, &session_key)?;
            if index > MAX_NAT_INDEX {
                return None;
            }
            let session = nat.sessions().get(index)?;
            let expected = if side_bit != 0 {
                Tuple {
                    src: session.in_remote,
                    dst: session.in_local,
                    sport: session.in_remote_port,
                    dport: session.in_local_port,
                }
            } else {
                Tuple {
                    src: session.out_local,
                    dst: session.out_remote,
                    sport: session.out_local_port,
                    dport: session.out_remote_port,
                }
            };
            if expected != new {
                return None;
            }
            (index | side_bit, session.generation())
        }
    };
    // The source MAC and the MTU are read from the snapshot when the entry is used.
    if head[6..12] != snapshot.interface(tx_if)?.mac.0 {
        return None;
    }
    let (ip_delta, l4_delta) = deltas(old, new, ttl_proto);
    let mut dst_mac = [0u8; 6];
    dst_mac.copy_from_slice(&head[..6]);
    Some(Entry {
        key: *key,
        epoch: 0,
        nat: nat_index,
        nat_generation,
        acl_in,
        acl_out,
        fresh: 0,
        acl_seen: [0; 2],
        dst_mac,
        ip_delta,
        l4_delta,
        tx_if: tx_if.0,
        acl_sessions: u8::from(acl_in.is_session()) + u8::from(acl_out.is_session()),
        has_watch: acl_in.is_watch() || acl_out.is_watch(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::ethernet::EthernetFrame;
    use crate::packet::{Ipv4Packet, Protocol, TcpPacket, UdpPacket};
    use crate::rand::FastRng;

    /// What the stages do, one patch at a time: NAT44's rewrite (addresses, then ports;
    /// UDP through its zero-keeping patches), then ip4-rewrite's TTL decrement.
    fn stepwise(
        old: Tuple,
        new: Tuple,
        ttl: u8,
        ip_csum: u16,
        l4_csum: u16,
        udp: bool,
    ) -> (u16, u16) {
        let mut ip = ip_csum;
        let mut l4 = l4_csum;
        let l4_patch = |csum: u16, patched: u16| match (udp, csum) {
            (true, 0) => 0,
            (true, _) => nonzero(patched),
            (false, _) => patched,
        };
        for (o, n) in [(old.src, new.src), (old.dst, new.dst)] {
            if o != n {
                ip = checksum::update32(ip, o.to_bits(), n.to_bits());
                l4 = l4_patch(l4, checksum::update32(l4, o.to_bits(), n.to_bits()));
            }
        }
        for (o, n) in [(old.sport, new.sport), (old.dport, new.dport)] {
            if o != n {
                l4 = l4_patch(l4, checksum::update16(l4, o, n));
            }
        }
        let word = u16::from_be_bytes([ttl, if udp { UDP } else { TCP }]);
        ip = checksum::update16(ip, word, word - 0x100);
        (ip, l4)
    }

    fn edge_or_random(rng: &mut FastRng) -> u16 {
        match rng.below(6) {
            0 => 0,
            1 => 0xffff,
            2 => 1,
            3 => 0xfffe,
            _ => rng.next_u32() as u16,
        }
    }

    /// The summed patch gives the same bytes as the stages' patches one by one, for any
    /// checksum (0x0000 and 0xffff included), any TTL above 1 and any translation.
    #[test]
    fn summed_patch_equals_the_stepwise_patches() {
        let mut rng = FastRng::new(11);
        for _ in 0..200_000 {
            let addr = |rng: &mut FastRng| match rng.below(4) {
                0 => Ipv4Addr::from_bits(0xffff_ffff),
                1 => Ipv4Addr::from_bits(0),
                _ => Ipv4Addr::from_bits(rng.next_u32()),
            };
            let old = Tuple {
                src: addr(&mut rng),
                dst: addr(&mut rng),
                sport: edge_or_random(&mut rng),
                dport: edge_or_random(&mut rng),
            };
            let mut new = old;
            if rng.below(2) == 0 {
                new.src = addr(&mut rng);
                new.sport = edge_or_random(&mut rng);
            }
            if rng.below(2) == 0 {
                new.dst = addr(&mut rng);
                new.dport = edge_or_random(&mut rng);
            }
            let ttl = 2 + rng.below(254) as u8;
            let udp = rng.below(2) == 0;
            let (ip_csum, l4_csum) = (edge_or_random(&mut rng), edge_or_random(&mut rng));
            let proto = if udp { UDP } else { TCP };
            let (ip_delta, l4_delta) = deltas(old, new, u16::from_be_bytes([ttl, proto]));
            let l4 = match (udp, l4_csum) {
                (true, 0) => 0,
                (true, _) => nonzero(patch(l4_csum, l4_delta)),
                (false, _) => patch(l4_csum, l4_delta),
            };
            assert_eq!(
                (patch(ip_csum, ip_delta), l4),
                stepwise(old, new, ttl, ip_csum, l4_csum, udp),
                "{old:?} -> {new:?}, ttl {ttl}, udp {udp}, checksums {ip_csum:#x} {l4_csum:#x}"
            );
        }
    }

    /// Keys learnt into a table 40 % full are all still there: a key whose four ways are
    /// taken moves one of their entries to its other bucket rather than drop it.
    #[test]
    fn learnt_keys_stay_at_forty_percent_load() {
        let mut cache = Ip4FlowCache::new(1);
        let mut rng = FastRng::new(40);
        let keys: Vec<FlowKey> = (0..cache.entries.len() * 2 / 5)
            .map(|_| {
                let (src, sport) = (rng.next_u32(), rng.next_u32() as u16);
                flow_key(IfIndex(1), src, 0x0a68_dd55, sport, 80, TCP)
            })
            .collect();
        for key in &keys {
            let h = hash(key);
            let at = cache.place(key, h, 1);
            cache.entries[at] = Entry {
                key: *key,
                epoch: 1,
                ..Entry::EMPTY
            };
        }
        let lost = keys
            .iter()
            .filter(|k| cache.find(k, hash(k)).is_none())
            .count();
        assert_eq!(lost, 0, "of {}", keys.len());
        assert_eq!(cache.used, keys.len());
    }

    /// When the freshness marks wrap, no entry keeps an old mark that could pass again.
    #[test]
    fn fresh_marks_wrap_to_cleared_entries() {
        let mut cache = Ip4FlowCache::new(1);
        let marks = |sessions, watches| Marks { sessions, watches };
        assert_eq!(cache.marks(7, 0, 0), marks(2, 2), "a new basis, new marks");
        assert_eq!(
            cache.marks(7, 0, 0),
            marks(2, 2),
            "the same basis, the same"
        );
        assert_eq!(cache.marks(7, 1, 0), marks(3, 3), "a fresh delete");
        cache.marks = marks(3, u32::MAX);
        for entry in cache.entries.iter_mut().step_by(3) {
            entry.fresh = 1;
        }
        assert_eq!(cache.marks(7, 1, 1), marks(1, 1), "a creation, at the wrap");
        assert!(cache.entries.iter().all(|e| e.fresh == 0));
    }

    /// A session created moves the watches' mark alone: an entry marked before it has
    /// its sessions fresh still, and must check its watches again.
    #[test]
    fn a_creation_ends_the_watches_freshness_alone() {
        let mut cache = Ip4FlowCache::new(1);
        let before = cache.marks(7, 0, 10);
        let entry = Entry {
            fresh: before.watches,
            ..Entry::EMPTY
        };
        assert!(before.sessions_fresh(&entry) && before.watches_fresh(&entry));
        let after = cache.marks(7, 0, 11);
        assert_eq!(after.sessions, before.sessions);
        assert!(after.sessions_fresh(&entry), "no session was deleted");
        assert!(!after.watches_fresh(&entry), "a session was created");
        assert!(
            !cache.marks(8, 0, 11).sessions_fresh(&entry),
            "a new second"
        );
    }

    /// The parse `parse` must equal: ethernet-input's, ip4-input's and NAT44's views,
    /// then the cache's own conditions.
    fn parse_by_views(
        frame: &[u8],
        our_mac: MacAddr,
        rx_if: IfIndex,
    ) -> Option<(FlowKey, u8, u16)> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        if eth.destination() != our_mac || eth.ethertype() != EtherType::Ipv4 {
            return None;
        }
        let ip = Ipv4Packet::new_verified(eth.payload()).ok()?;
        if ip.header_len() != IP_LEN
            || ip.more_fragments()
            || ip.fragment_offset() != 0
            || ip.ttl() <= 1
        {
            return None;
        }
        let (sport, dport, tcp_flags) = match ip.protocol() {
            Protocol::Tcp => {
                let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
                (tcp.src_port(), tcp.dst_port(), tcp.flags().0)
            }
            Protocol::Udp => {
                let udp = UdpPacket::new_checked(ip.payload()).ok()?;
                (udp.src_port(), udp.dst_port(), 0)
            }
            _ => return None,
        };
        let (src, dst) = (ip.src().to_bits(), ip.dst().to_bits());
        let proto = u8::from(ip.protocol());
        let key = flow_key(rx_if, src, dst, sport, dport, proto);
        Some((key, tcp_flags, ip.total_len()))
    }

    /// A frame edited the ways that move `parse`'s decisions: header bytes flipped
    /// (checksum fixed or not), lengths set near their bounds, truncated or padded.
    fn mutate(rng: &mut FastRng, frame: &mut Vec<u8>) {
        let near = |rng: &mut FastRng, at: usize| match rng.below(4) {
            0 => at,
            1 => at.saturating_sub(1 + rng.below(2) as usize),
            2 => at + 1 + rng.below(2) as usize,
            _ => rng.below(80) as usize,
        };
        // Writes what fits of `bytes` at `at` (a truncated frame keeps its length).
        let set = |frame: &mut Vec<u8>, at: usize, bytes: &[u8]| {
            for (i, &b) in bytes.iter().enumerate() {
                if let Some(byte) = frame.get_mut(at + i) {
                    *byte = b;
                }
            }
        };
        let be16_at = |frame: &[u8], at: usize| match frame.get(at..at + 2) {
            Some(b) => usize::from(u16::from_be_bytes([b[0], b[1]])),
            None => 0,
        };
        for _ in 0..1 + rng.below(3) {
            match rng.below(9) {
                0 => {
                    let at = rng.below(frame.len() as u64) as usize;
                    frame[at] ^= 1 << rng.below(8);
                }
                1 => set(
                    frame,
                    14,
                    &[[0x45, 0x46, 0x44, 0x55, 0x35][rng.below(5) as usize]],
                ),
                2 => {
                    let len = near(rng, be16_at(frame, 16)) as u16;
                    set(frame, 16, &len.to_be_bytes());
                }
                3 => set(
                    frame,
                    20,
                    &[[0x40, 0], [0x20, 0], [0, 1], [0x3f, 0xff]][rng.below(4) as usize],
                ),
                4 => set(frame, 22, &[rng.below(4) as u8]),
                5 => set(frame, 23, &[[6, 17, 1, 0][rng.below(4) as usize]]),
                6 => {
                    let to = near(rng, frame.len()).max(1);
                    frame.resize(to, 0);
                }
                7 => set(frame, 46, &[(rng.below(16) as u8) << 4]),
                _ => {
                    let len = near(rng, be16_at(frame, 38)) as u16;
                    set(frame, 38, &len.to_be_bytes());
                }
            }
        }
        // Mostly with the first 20 header bytes' checksum right (whatever the IHL says).
        if rng.below(4) != 0 && frame.len() >= 34 {
            frame[24..26].fill(0);
            let sum = checksum::checksum(&frame[14..34]);
            frame[24..26].copy_from_slice(&sum.to_be_bytes());
        }
    }

    /// The folded sum agrees with the checksum's, on headers of extreme words as well
    /// as random ones, whose checksum is right or off by one.
    #[test]
    fn header_sum_holds_as_the_checksum_says() {
        let mut rng = FastRng::new(20);
        let mut right = 0;
        for round in 0..200_000 {
            let mut ip = [0u8; IP_LEN];
            for byte in &mut ip {
                *byte = match round % 4 {
                    0 => 0xff,
                    1 => [0, 0xff][rng.below(2) as usize],
                    _ => rng.next_u32() as u8,
                };
            }
            if rng.below(2) == 0 {
                ip[10..12].fill(0);
                let sum = checksum::checksum(&ip).wrapping_add(rng.below(2) as u16);
                ip[10..12].copy_from_slice(&sum.to_be_bytes());
            }
            let holds = checksum::checksum(&ip) == 0;
            right += u32::from(holds);
            assert_eq!(header_sum_holds(&ip), holds, "{ip:02x?}");
        }
        assert!(right > 40_000 && right < 160_000, "{right} of 200000");
        // The one header whose words sum to zero: no checksum holds for it.
        assert_ne!(checksum::checksum(&[0; IP_LEN]), 0);
        assert!(!header_sum_holds(&[0; IP_LEN]));
    }

    /// `parse` takes exactly what the views take, key, flags and total length included,
    /// on valid TCP and UDP frames and 200k edits of them.
    #[test]
    fn parse_takes_what_the_views_take() {
        let mac = crate::spec_frames::TAP2_MAC;
        let rx = IfIndex(2);
        let syn = crate::spec_frames::syn();
        let mut udp = syn.clone();
        udp.truncate(14 + 20 + 8 + 6);
        udp[23] = UDP;
        udp[16..18].copy_from_slice(&34u16.to_be_bytes());
        udp[38..40].copy_from_slice(&14u16.to_be_bytes());
        crate::packet::Ipv4Packet::new_unchecked(&mut udp[14..34]).fill_checksum();
        let mut rng = FastRng::new(5);
        let (mut taken, mut refused) = (0, 0);
        for round in 0..200_000 {
            let mut frame = if round % 2 == 0 {
                syn.clone()
            } else {
                udp.clone()
            };
            if round >= 2 {
                mutate(&mut rng, &mut frame);
            }
            let expected = parse_by_views(&frame, mac, rx);
            assert_eq!(parse(&frame, mac, rx), expected, "{frame:02x?}");
            if expected.is_some() {
                taken += 1
            } else {
                refused += 1
            }
        }
        assert!(parse(&syn, mac, rx).is_some() && parse(&udp, mac, rx).is_some());
        // Both outcomes are well represented, so the comparison means something.
        assert!(
            taken > 20_000 && refused > 20_000,
            "{taken} taken, {refused} refused"
        );
    }

    #[test]
    fn parse_takes_only_what_the_stages_would_pass_unchanged() {
        let mac = crate::spec_frames::TAP2_MAC;
        let syn = crate::spec_frames::syn();
        let rx = IfIndex(2);
        assert_eq!(parse(&syn, mac, rx).map(|(_, flags, _)| flags), Some(SYN));
        let refused = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut frame = syn.clone();
            edit(&mut frame);
            parse(&frame, mac, rx).is_none()
        };
        assert!(refused(&|f| f[0] = 0x03), "another MAC");
        assert!(refused(&|f| f[12] = 0x86), "not IPv4");
        assert!(refused(&|f| f[14] = 0x46), "options");
        assert!(refused(&|f| f[20] |= 0x20), "more fragments");
        assert!(refused(&|f| f[22] = 1), "TTL 1");
        assert!(refused(&|f| f[24] ^= 1), "bad checksum");
        assert!(
            refused(&|f| f.truncate(60)),
            "shorter than its total length"
        );
        assert!(
            refused(&|f| f[46] = 0x40),
            "TCP data offset past the segment"
        );
        let mut other = syn.clone();
        other[23] = 1; // ICMP
        let mut ip = crate::packet::Ipv4Packet::new_unchecked(&mut other[14..]);
        ip.fill_checksum();
        assert!(parse(&other, mac, rx).is_none(), "ICMP");
    }
}
