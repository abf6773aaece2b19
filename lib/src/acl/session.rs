//! Reflective sessions of one worker: created by `permit+reflect`, they admit the flow's
//! later packets both ways on the interface that created them.
//!
//! Each session is stored in a slab and found through two keys: the 5-tuple as first
//! seen, bound to (interface, direction), and its reverse, bound to the same interface in
//! the opposite direction (VPP's session_inlines.h does the same in a bihash). The keys
//! are indexed by a [`FlowCache`], whose buckets a burst can prefetch, and the keys a full
//! bucket gives up by a hashbrown table; so a new session costs two bucket lines, not two
//! hashbrown inserts as well (each a miss on its control bytes and one on its slot).
//!
//! Expiry uses one FIFO list per timeout type, ordered by when a session was queued; a
//! hit only stamps the time, and the reclaimer re-queues a refreshed head instead of
//! deleting it, so neither a hit nor a reclaim step ever walks the table.

use std::fmt;
use std::net::Ipv4Addr;

use hashbrown::HashTable;

use super::hash::SeededHash;
use super::packet::AclPacketInfo;
use super::rule::Direction;
use crate::flow_cache::{FlowCache, Lookup};
use crate::pipeline::Prefetch;
use crate::types::{ip_proto, IfIndex};

const NONE: u32 = u32::MAX;

/// The TCP flags that drive a session's type (RFC 9293).
mod tcp_flag {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
}

/// Whether a packet that a permit+reflect rule lets through opens a session, as VPP's
/// acl-plugin has it (`icmp4_valid_new`): every packet does but an ICMP message that is
/// not a request (echo, timestamp, information, address mask). A reply, an unreachable
/// or a redirect is let through without a session, so it opens no way back.
pub(crate) fn reflects(packet: &AclPacketInfo) -> bool {
    packet.proto != ip_proto::ICMP || !packet.has_l4() || matches!(packet.sport, 8 | 13 | 15 | 17)
}

/// ICMP types whose reply is another type (RFC 792): echo, timestamp, information, mask.
fn icmp_reply_type(icmp_type: u16) -> u16 {
    match icmp_type {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        17 => 18,
        18 => 17,
        other => other,
    }
}

/// Which timeout applies to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TimeoutKind {
    /// TCP before SYN and ACK were seen both ways, or after FIN or RST.
    TcpTransient = 0,
    TcpEstablished = 1,
    Udp = 2,
    Other = 3,
}

/// The expiry list of transient TCP sessions whose connection has closed: the transient
/// timeout, but a full table gives them up first and at any age.
const CLOSED_LIST: usize = 4;
const LISTS: usize = 5;
/// The kind whose timeout each expiry list has.
const LIST_KINDS: [TimeoutKind; LISTS] = [
    TimeoutKind::TcpTransient,
    TimeoutKind::TcpEstablished,
    TimeoutKind::Udp,
    TimeoutKind::Other,
    TimeoutKind::TcpTransient,
];
/// An unclosed transient session may be given up for a new flow once idle this long:
/// longer than a handshake's round trip, far shorter than the transient timeout (120 s).
const REUSE_IDLE_NS: u64 = 2_000_000_000;
/// How many transient sessions from the head a full table looks at for an idle one.
const REUSE_SCAN: usize = 8;
/// Slots a full table sweeps for sessions a list change cleared, per new session.
const MAKE_ROOM_SWEEP: usize = 64;

const NS_PER_SECOND: u64 = 1_000_000_000;

/// The activity stamp of a packet at `now_ns`: the end of its second. A session's idle
/// time is counted in whole seconds from the end of the second it was last heard in
/// (as NAT44 counts in seconds), so a second packet in the same second changes nothing,
/// and the flow cache may leave it out ([`SessionTable::fresh_deletes`]). Rounding up,
/// not down: a session lives at least its timeout after its last packet, never less.
pub(crate) const fn heard_stamp(now_ns: u64) -> u64 {
    (now_ns / NS_PER_SECOND + 1).saturating_mul(NS_PER_SECOND)
}

impl TimeoutKind {
    pub const ALL: [TimeoutKind; 4] = [
        TimeoutKind::TcpTransient,
        TimeoutKind::TcpEstablished,
        TimeoutKind::Udp,
        TimeoutKind::Other,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            TimeoutKind::TcpTransient => "tcp-transient",
            TimeoutKind::TcpEstablished => "tcp-established",
            TimeoutKind::Udp => "udp",
            TimeoutKind::Other => "other",
        }
    }

    fn for_new(proto: u8) -> TimeoutKind {
        match proto {
            ip_proto::TCP => TimeoutKind::TcpTransient,
            ip_proto::UDP => TimeoutKind::Udp,
            _ => TimeoutKind::Other,
        }
    }
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TimeoutKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TimeoutKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!("session timeout type '{s}': expected tcp-transient, tcp-established, udp or other")
            })
    }
}

/// Session idle timeouts in nanoseconds, indexed by [`TimeoutKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimeouts {
    pub ns: [u64; 4],
}

impl SessionTimeouts {
    const SECOND: u64 = 1_000_000_000;

    pub const fn get(&self, kind: TimeoutKind) -> u64 {
        self.ns[kind as usize]
    }

    pub fn set(&mut self, kind: TimeoutKind, ns: u64) {
        self.ns[kind as usize] = ns;
    }
}

impl Default for SessionTimeouts {
    /// VPP's: 120 s transient TCP, 24 h established TCP, 600 s UDP and other.
    fn default() -> Self {
        SessionTimeouts {
            ns: [
                120 * Self::SECOND,
                24 * 3600 * Self::SECOND,
                600 * Self::SECOND,
                600 * Self::SECOND,
            ],
        }
    }
}

/// The hash key of a packet seen on (interface, direction). A packet without an L4 header
/// has ports (0, 0), as in VPP: the non-first fragments of an echo reply (type 0, code 0)
/// then match the echo request's session.
#[inline(always)]
fn session_key(packet: &AclPacketInfo, sw_if: IfIndex, direction: Direction) -> u128 {
    let (sport, dport) = if packet.has_l4() {
        (packet.sport, packet.dport)
    } else {
        (0, 0)
    };
    pack(
        packet.src.to_bits(),
        packet.dst.to_bits(),
        sport,
        dport,
        packet.proto,
        direction,
        sw_if,
    )
}

/// Where [`pack`] puts each field.
mod key_bits {
    pub const SPORT: u32 = 64;
    pub const DPORT: u32 = 80;
    pub const PROTO: u32 = 96;
    pub const INPUT: u32 = 104;
    pub const SW_IF: u32 = 112;
}

/// The key the reply to a packet with key `key` will have when it crosses the same
/// interface the other way: addresses and ports swapped (for ICMP, the type becomes its
/// reply type and the code stays), the direction flipped. `has_l4` says whether the
/// packet had ports (or ICMP type and code) at all: the key alone cannot tell an echo
/// reply's (0, 0) from none.
fn reverse_of(key: u128, has_l4: bool) -> u128 {
    let (src, dst, sport, dport, proto) = Session::key_fields(key);
    let (sport, dport) = if !has_l4 {
        (0, 0)
    } else if proto == ip_proto::ICMP {
        (icmp_reply_type(sport), dport)
    } else {
        (dport, sport)
    };
    let direction = if (key >> key_bits::INPUT) & 1 == 1 {
        Direction::Output
    } else {
        Direction::Input
    };
    let sw_if = IfIndex((key >> key_bits::SW_IF) as u16);
    pack(
        dst.to_bits(),
        src.to_bits(),
        sport,
        dport,
        proto,
        direction,
        sw_if,
    )
}

#[inline(always)]
fn pack(
    src: u32,
    dst: u32,
    sport: u16,
    dport: u16,
    proto: u8,
    direction: Direction,
    sw_if: IfIndex,
) -> u128 {
    u128::from(src)
        | u128::from(dst) << 32
        | u128::from(sport) << key_bits::SPORT
        | u128::from(dport) << key_bits::DPORT
        | u128::from(proto) << key_bits::PROTO
        | u128::from(direction.is_input()) << key_bits::INPUT
        | u128::from(sw_if.0) << key_bits::SW_IF
}

const _: () = assert!(std::mem::size_of::<Session>() == 64);

/// One reflective session: one cache line, so that a warm-up pass asks for one line.
#[derive(Clone, Copy, Debug)]
#[repr(align(64))]
struct Session {
    /// The key of the packet that created it; its reply's key is [`Session::reverse_key`].
    forward_key: u128,
    /// The ports of the reply's key (bits 64..96 of [`reverse_of`] the forward key), kept
    /// so that a lookup of a reply compares keys without ICMP's type mapping.
    reverse_ports: u32,
    kind: TimeoutKind,
    /// TCP flags seen in the creating direction and in the reply direction.
    flags_forward: u8,
    flags_reverse: u8,
    /// The expiry list it is in: its kind's, or [`CLOSED_LIST`].
    list: u8,
    created_ns: u64,
    last_active_ns: u64,
    /// When the session was put at the tail of its expiry list.
    queued_ns: u64,
    prev: u32,
    next: u32,
    in_use: bool,
    /// Its interface's ACL-list version for its direction when it was made
    /// ([`SessionTable::lists_changed`]).
    list_version: u16,
    /// Bumped when the slot is freed: a [`SessionHandle`] taken before then is stale.
    generation: u32,
}

/// A live session as the flow cache remembers it: its entry (slot number shifted left,
/// plus 1 for the reverse key) and the slot's generation when it was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionHandle {
    found: u32,
    generation: u32,
}

impl SessionHandle {
    /// No session (the interface has no ACLs in that direction).
    pub const NONE: SessionHandle = SessionHandle {
        found: u32::MAX,
        generation: 0,
    };

    pub const fn is_none(&self) -> bool {
        self.found == u32::MAX
    }

    /// The entry it names (slot number shifted left, plus 1 for the reverse key).
    pub(crate) const fn found(&self) -> u32 {
        self.found
    }

    /// A real session: neither [`SessionHandle::NONE`] nor a watch.
    pub const fn is_session(&self) -> bool {
        !self.is_none() && !self.is_watch()
    }

    /// A watch on a key that had no session: `found` holds the watch bit and the key's
    /// slot in the table's creation counts, `generation` that slot's count.
    pub const fn is_watch(&self) -> bool {
        !self.is_none() && self.found & WATCH != 0
    }
}

/// Marks a [`SessionHandle`] that watches for a key's session to appear.
const WATCH: u32 = 1 << 31;
/// Slots of the creation counts; a watch goes stale when any key of its slot gets a
/// session.
const CREATED_SLOTS: usize = 1 << 14;

fn created_slot(hash: u64) -> usize {
    (hash >> 50) as usize & (CREATED_SLOTS - 1)
}

impl Session {
    /// The expiry list for its kind and flags: a transient TCP session whose connection
    /// has closed (a reset, or a FIN each way) goes to [`CLOSED_LIST`].
    fn list_for(&self) -> usize {
        let closed = (self.flags_forward | self.flags_reverse) & tcp_flag::RST != 0
            || self.flags_forward & self.flags_reverse & tcp_flag::FIN != 0;
        if self.kind == TimeoutKind::TcpTransient && closed {
            CLOSED_LIST
        } else {
            self.kind as usize
        }
    }

    fn tcp_kind(&self) -> TimeoutKind {
        let both = tcp_flag::SYN | tcp_flag::ACK;
        if (self.flags_forward | self.flags_reverse) & (tcp_flag::FIN | tcp_flag::RST) != 0 {
            TimeoutKind::TcpTransient
        } else if self.flags_forward & both == both && self.flags_reverse & both == both {
            TimeoutKind::TcpEstablished
        } else {
            TimeoutKind::TcpTransient
        }
    }

    /// [`reverse_of`] the forward key, from the stored ports: addresses swapped, the
    /// direction flipped.
    #[inline(always)]
    fn reverse_key(&self) -> u128 {
        let low = (self.forward_key as u64).rotate_left(32);
        let high = (self.forward_key >> 64) as u64;
        let ports = u64::from(u32::MAX);
        let direction = 1 << (key_bits::INPUT - 64);
        let high = ((high & !ports) ^ direction) | u64::from(self.reverse_ports);
        u128::from(low) | u128::from(high) << 64
    }

    fn key_fields(key: u128) -> (Ipv4Addr, Ipv4Addr, u16, u16, u8) {
        (
            Ipv4Addr::from_bits(key as u32),
            Ipv4Addr::from_bits((key >> 32) as u32),
            (key >> key_bits::SPORT) as u16,
            (key >> key_bits::DPORT) as u16,
            (key >> key_bits::PROTO) as u8,
        )
    }

    fn sw_if(&self) -> IfIndex {
        IfIndex((self.forward_key >> key_bits::SW_IF) as u16)
    }

    fn direction(&self) -> Direction {
        if (self.forward_key >> key_bits::INPUT) & 1 == 1 {
            Direction::Input
        } else {
            Direction::Output
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct ExpiryList {
    head: u32,
    tail: u32,
}

/// Why a session could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CreateError {
    TableFull,
}

/// What [`SessionTable::create`] did for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Created {
    /// A new session, in this slot.
    New(u32),
    /// A live session held the packet's key, or its reply's, already: the packet joined
    /// it, refreshed as a hit would, and made none.
    Joined(u32),
}

/// What one session looked like, for `show acl-plugin sessions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionSummary {
    pub index: u32,
    pub sw_if: IfIndex,
    pub direction: Direction,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub kind: TimeoutKind,
    pub age_ns: u64,
    pub idle_ns: u64,
}

/// Whether `session` has been idle its timeout at `now_ns`: a lookup no longer finds it.
#[inline(always)]
fn expired(session: &Session, now_ns: u64, timeouts: &SessionTimeouts) -> bool {
    now_ns.saturating_sub(session.last_active_ns) >= timeouts.get(session.kind)
}

/// The key entry `found` (slot number shifted left, plus 1 for the reverse key) stands
/// for, if its slot is live.
#[inline(always)]
fn entry_key(slots: &[Session], found: u32) -> Option<u128> {
    let session = slots.get((found >> 1) as usize).filter(|s| s.in_use)?;
    Some(if found & 1 == 0 {
        session.forward_key
    } else {
        session.reverse_key()
    })
}

/// One worker's reflective sessions. Sized once: no allocation per packet.
pub(crate) struct SessionTable {
    /// Both keys of every live session, as entries: the slot number shifted left, plus 1
    /// for the reverse key (the keys themselves are in the slots), found by bucket
    /// address. About two ways per key at the limit (1.3 to 2.7, as the bucket count is
    /// a power of two: 1.8 and ~34 B per session at the default 500k): at one, about a
    /// quarter of the seven-way buckets of a full table had given keys up, and a new
    /// flow's look in such a bucket goes on to `given_up` (a miss the warm-up passes
    /// cannot ask for), which made a new session at the limit cost ~1200 cycles. A key
    /// given up stays aside until its session goes: its lookups in the stages take the
    /// slower path (~1 % of keys at the limit); an established flow's packets use the
    /// flow cache's handle instead.
    cache: FlowCache,
    /// The entries `cache`'s full buckets gave up, and only those. Sized for twice the
    /// keys at the limit (should every bucket give up every key): hashbrown then always
    /// rehashes in place, never grows (it grows only when more than half full).
    given_up: HashTable<u32>,
    hasher: SeededHash,
    slots: Vec<Session>,
    free: Vec<u32>,
    lists: [ExpiryList; LISTS],
    live: usize,
    max: usize,
    backlog: bool,
    /// Sessions created per slot of key hashes (both keys of each): what the flow
    /// cache's watches compare.
    created: Box<[u32]>,
    /// Sessions created in all (wrapping): while it holds, every slot of `created` does
    /// too ([`SessionTable::creations`]).
    creations: u32,
    /// Sessions deleted in the second they were last heard in (their stamp still ahead
    /// of the clock): see [`SessionTable::fresh_deletes`].
    fresh_deletes: u32,
    /// The worker's prefetch, for the next session a full table will recycle.
    prefetch: Prefetch,
    /// Per interface, `[input, output]`, the version of its ACL lists: a session made
    /// under an older one of its interface and direction is gone to lookups
    /// ([`SessionTable::lists_changed`]).
    list_versions: Vec<[u16; 2]>,
    /// Where the sweep that deletes such sessions, a bounded step per reclaim, has got to.
    list_sweep: Option<usize>,
}

impl SessionTable {
    pub(crate) fn new(max: usize) -> SessionTable {
        SessionTable {
            cache: FlowCache::with_entries(4 * max),
            given_up: HashTable::with_capacity(4 * max),
            hasher: SeededHash::random(),
            slots: Vec::with_capacity(max),
            free: Vec::with_capacity(max),
            lists: [ExpiryList {
                head: NONE,
                tail: NONE,
            }; LISTS],
            live: 0,
            max,
            backlog: false,
            created: vec![0; CREATED_SLOTS].into_boxed_slice(),
            creations: 0,
            fresh_deletes: 0,
            prefetch: crate::pipeline::no_prefetch,
            list_versions: Vec::new(),
            list_sweep: None,
        }
    }

    /// The sessions `sw_if` made in `direction` go ([`crate::acl::AclTable`] says when).
    /// Lookups stop finding them at once, and [`SessionTable::reclaim_expired`] deletes
    /// them a bounded number of slots at a time. (The version wraps after 65 536 changes
    /// of one interface's lists, far beyond one sweep.)
    pub(crate) fn lists_changed(&mut self, sw_if: IfIndex, direction: Direction) {
        let at = sw_if.as_usize();
        if self.list_versions.len() <= at {
            self.list_versions.resize(at + 1, [0; 2]);
        }
        if let Some(versions) = self.list_versions.get_mut(at) {
            let version = &mut versions[direction.slot()];
            *version = version.wrapping_add(1);
        }
        self.list_sweep = Some(0);
    }

    fn list_version(&self, sw_if: u16, direction: Direction) -> u16 {
        self.list_versions
            .get(usize::from(sw_if))
            .map_or(0, |versions| versions[direction.slot()])
    }

    /// A packet that would create a session joins the live one that entry `found` (a
    /// key `peek` found) names instead: what a lookup would do with the entry, the
    /// refresh and TCP state included, so that joining neither keeps an expired session
    /// nor leaves a live one to expire under a flow that uses it. Returns the slot, or
    /// `None` having deleted a session that expired or outlived its interface's lists:
    /// the packet then makes a new one.
    fn join(
        &mut self,
        found: u32,
        now_ns: u64,
        timeouts: &SessionTimeouts,
        tcp_flags: Option<u8>,
    ) -> Option<u32> {
        let index = found >> 1;
        let session = self.slots.get(index as usize).filter(|s| s.in_use)?;
        if expired(session, now_ns, timeouts) || self.outlived_its_lists(session) {
            self.expire(index, now_ns);
            return None;
        }
        self.refresh(found, now_ns, tcp_flags);
        Some(index)
    }

    /// Made before its interface's ACL lists last changed.
    fn outlived_its_lists(&self, session: &Session) -> bool {
        session.list_version != self.list_version(session.sw_if().0, session.direction())
    }

    /// The prefetch [`SessionTable::make_room`] asks with.
    pub(crate) fn set_prefetch(&mut self, prefetch: Prefetch) {
        self.prefetch = prefetch;
    }

    /// Changes the limit; growing allocates, so it runs between bursts. A limit below
    /// the live count is reached by eviction, a bounded number of sessions per call of
    /// [`SessionTable::reclaim_expired`] (and a few per new flow meanwhile, which is
    /// refused while the table is over its limit): never all at once on a worker.
    pub(crate) fn set_max(&mut self, max: usize) {
        if max > self.max {
            // A lower limit may have been set while more sessions were live.
            self.slots.reserve(max.saturating_sub(self.slots.len()));
            self.free.reserve(max.saturating_sub(self.free.len()));
            // Every live key is indexed again, in buckets sized for the new limit.
            self.cache.reset(4 * max);
            self.given_up = HashTable::with_capacity(4 * max);
            for index in 0..self.slots.len() as u32 {
                let Some(&session) = self.slots.get(index as usize).filter(|s| s.in_use) else {
                    continue;
                };
                self.index(self.hash(session.forward_key), index << 1);
                self.index(self.hash(session.reverse_key()), index << 1 | 1);
            }
        }
        self.max = max;
    }

    /// Indexes entry `found` under its key's `hash`: in its bucket, and the entry a full
    /// bucket gives up for it in `given_up`.
    #[inline(always)]
    fn index(&mut self, hash: u64, found: u32) {
        let Some(victim) = self.cache.push(hash, found) else {
            return;
        };
        let (slots, hasher) = (&self.slots, self.hasher);
        let rehash = |&found: &u32| entry_key(slots, found).map_or(0, |k| hasher.hash_u128(k));
        if let Some(victim_key) = entry_key(slots, victim) {
            self.given_up
                .insert_unique(hasher.hash_u128(victim_key), victim, rehash);
        }
    }

    /// Forgets entry `found` of `key`: from its bucket, or else from `given_up`.
    fn unindex(&mut self, key: u128, found: u32) {
        let hash = self.hash(key);
        if self.cache.remove(hash, found) {
            return;
        }
        if let Ok(entry) = self.given_up.find_entry(hash, |&v| v == found) {
            entry.remove();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Deletes every live session; returns how many.
    pub(crate) fn clear_all(&mut self, now_ns: u64) -> usize {
        let before = self.live;
        for index in 0..self.slots.len() {
            if self.slots.get(index).is_some_and(|s| s.in_use) {
                self.delete(index as u32, now_ns);
            }
        }
        self.list_sweep = None;
        before - self.live
    }

    /// Entries indexed, in the buckets and given up: two per live session.
    #[cfg(test)]
    pub(crate) fn index_len(&self) -> usize {
        self.cache.cached() + self.given_up.len()
    }

    /// Bytes the table of given-up keys has allocated: it changes only if it grows.
    #[cfg(test)]
    pub(crate) fn index_allocation(&self) -> usize {
        self.given_up.allocation_size()
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    #[inline(always)]
    fn hash(&self, key: u128) -> u64 {
        self.hasher.hash_u128(key)
    }

    /// The hash of `packet`'s key on (sw_if, direction).
    #[inline(always)]
    pub(crate) fn hash_of(
        &self,
        packet: &AclPacketInfo,
        sw_if: IfIndex,
        direction: Direction,
    ) -> u64 {
        self.hash(session_key(packet, sw_if, direction))
    }

    /// The first of a burst's two warm-up passes: asks for the key's cache bucket.
    #[inline(always)]
    pub(crate) fn prefetch_bucket(&self, hash: u64, prefetch: Prefetch) {
        self.cache.prefetch(hash, prefetch);
    }

    /// The second: reads the bucket (arrived by now) and asks for the session it names;
    /// says whether it named one.
    #[inline(always)]
    pub(crate) fn prefetch_session(&self, hash: u64, prefetch: Prefetch) -> bool {
        let Some(found) = self.cache.candidate(hash) else {
            return false;
        };
        if let Some(session) = self.slots.get((found >> 1) as usize) {
            prefetch(std::ptr::from_ref(session).cast());
        }
        true
    }

    /// Asks for the bucket the reply's key of `packet` on (sw_if, direction) takes.
    #[inline(always)]
    pub(crate) fn prefetch_reply_bucket(
        &self,
        packet: &AclPacketInfo,
        sw_if: IfIndex,
        direction: Direction,
        prefetch: Prefetch,
    ) {
        let reverse_key = reverse_of(session_key(packet, sw_if, direction), packet.has_l4());
        self.cache.prefetch(self.hash(reverse_key), prefetch);
    }

    /// The entry (slot number shifted, plus 1 for a reverse key) of the live session
    /// with `key`. The given-up keys are asked only when the bucket cannot answer.
    #[inline(always)]
    fn peek(&self, key: u128, hash: u64) -> Option<u32> {
        let slots = &self.slots;
        match self
            .cache
            .lookup(hash, |found| entry_key(slots, found) == Some(key))
        {
            Lookup::Hit(found) => Some(found),
            Lookup::Absent => None,
            Lookup::Unknown => self.in_table(key, hash),
        }
    }

    /// The entry of the live session with `key` among the keys the buckets gave up.
    /// Out of line: at the sizing, rare.
    #[cold]
    #[inline(never)]
    fn in_table(&self, key: u128, hash: u64) -> Option<u32> {
        let slots = &self.slots;
        self.given_up
            .find(hash, |&found| entry_key(slots, found) == Some(key))
            .copied()
    }

    /// The session `packet` belongs to, refreshed and with its TCP state advanced; an
    /// expired session is deleted and reported as absent. `hash` is
    /// [`SessionTable::hash_of`] the packet on (sw_if, direction).
    #[inline]
    pub(crate) fn lookup(
        &mut self,
        packet: &AclPacketInfo,
        sw_if: IfIndex,
        direction: Direction,
        hash: u64,
        now_ns: u64,
        timeouts: &SessionTimeouts,
    ) -> Option<u32> {
        let key = session_key(packet, sw_if, direction);
        let slots = &self.slots;
        let found = match self
            .cache
            .lookup(hash, |found| entry_key(slots, found) == Some(key))
        {
            Lookup::Hit(found) => found,
            Lookup::Absent => return None,
            Lookup::Unknown => self.in_table(key, hash)?,
        };
        let index = found >> 1;
        let session = self.slots.get(index as usize)?;
        if expired(session, now_ns, timeouts) || self.outlived_its_lists(session) {
            self.expire(index, now_ns);
            return None;
        }
        self.refresh(
            found,
            now_ns,
            packet.tcp_flags_valid().then_some(packet.tcp_flags),
        );
        Some(index)
    }

    /// A packet of session entry `found` at `now_ns`: the session is active, and its TCP
    /// state advances by the packet's flags (`None` for a packet without them).
    #[inline(always)]
    fn refresh(&mut self, found: u32, now_ns: u64, tcp_flags: Option<u8>) {
        let index = found >> 1;
        let Some(session) = self.slots.get_mut(index as usize) else {
            return;
        };
        session.last_active_ns = heard_stamp(now_ns);
        if let Some(flags) = tcp_flags {
            let seen = if found & 1 == 1 {
                &mut session.flags_reverse
            } else {
                &mut session.flags_forward
            };
            // The kind follows from the flags seen: with none new (every packet of an
            // established flow), it stays.
            if *seen | flags == *seen {
                return;
            }
            *seen |= flags;
            self.retype(index, now_ns);
        }
    }

    /// A session whose TCP flags changed takes the kind they give, and moves to that
    /// kind's expiry list. Out of line: a flow's first few packets only.
    #[cold]
    #[inline(never)]
    fn retype(&mut self, index: u32, now_ns: u64) {
        let Some(session) = self.slots.get_mut(index as usize) else {
            return;
        };
        session.kind = session.tcp_kind();
        let list = session.list_for();
        if list != usize::from(session.list) {
            self.unlink(index);
            self.push_tail(index, list, heard_stamp(now_ns));
        }
    }

    /// A lookup found the session expired: it goes. Out of line, as it is rare on the
    /// fast path.
    #[cold]
    #[inline(never)]
    fn expire(&mut self, index: u32, now_ns: u64) {
        self.delete(index, now_ns);
    }

    /// The live session `packet` belongs to on (sw_if, direction), as a handle; neither
    /// refreshes it nor changes the lookup cache.
    pub(crate) fn handle(
        &self,
        packet: &AclPacketInfo,
        sw_if: IfIndex,
        direction: Direction,
    ) -> Option<SessionHandle> {
        let key = session_key(packet, sw_if, direction);
        let found = self.peek(key, self.hash(key))?;
        let session = self
            .slots
            .get((found >> 1) as usize)
            .filter(|s| !self.outlived_its_lists(s))?;
        Some(SessionHandle {
            found,
            generation: session.generation,
        })
    }

    /// A watch on `packet`'s key on (sw_if, direction), which has no session now.
    pub(crate) fn watch(
        &self,
        packet: &AclPacketInfo,
        sw_if: IfIndex,
        direction: Direction,
    ) -> SessionHandle {
        let slot = created_slot(self.hash(session_key(packet, sw_if, direction)));
        SessionHandle {
            found: WATCH | slot as u32,
            generation: self.created.get(slot).copied().unwrap_or_default(),
        }
    }

    /// Whether the session `handle` names is still the same one and has not expired: a
    /// lookup of its key would find it and take it. A watch: whether no session can
    /// have been created for its key since.
    #[inline(always)]
    pub(crate) fn is_live(
        &self,
        handle: SessionHandle,
        now_ns: u64,
        timeouts: &SessionTimeouts,
    ) -> bool {
        if handle.is_watch() {
            let slot = (handle.found & !WATCH) as usize;
            return self.created.get(slot) == Some(&handle.generation);
        }
        self.slots
            .get((handle.found >> 1) as usize)
            .is_some_and(|s| {
                s.in_use && s.generation == handle.generation && !expired(s, now_ns, timeouts)
            })
    }

    /// What [`SessionTable::lookup`] does on a hit, for a handle [`SessionTable::is_live`]
    /// accepted.
    #[inline(always)]
    pub(crate) fn refresh_handle(
        &mut self,
        handle: SessionHandle,
        now_ns: u64,
        tcp_flags: Option<u8>,
    ) {
        self.refresh(handle.found, now_ns, tcp_flags);
    }

    /// Where the session `handle` names lives, for a prefetch.
    #[inline(always)]
    pub(crate) fn address(&self, handle: SessionHandle) -> Option<*const u8> {
        if handle.is_watch() {
            let count = self.created.get((handle.found & !WATCH) as usize)?;
            return Some(std::ptr::from_ref(count).cast());
        }
        let session = self.slots.get((handle.found >> 1) as usize)?;
        Some(std::ptr::from_ref(session).cast())
    }

    /// Creates the session for `packet`, first seen on (sw_if, direction), or joins the
    /// live one that holds its key already ([`Created::Joined`]). `looked_up` is the
    /// key's hash when the caller's [`SessionTable::lookup`] just found no session for
    /// it: the look is not made again. When the table is full, room is made
    /// ([`SessionTable::make_room`]); failing that, the packet gets no session.
    pub(crate) fn create(
        &mut self,
        packet: &AclPacketInfo,
        sw_if: IfIndex,
        direction: Direction,
        looked_up: Option<u64>,
        now_ns: u64,
        timeouts: &SessionTimeouts,
    ) -> Result<Created, CreateError> {
        let forward_key = session_key(packet, sw_if, direction);
        let reverse_key = reverse_of(forward_key, packet.has_l4());
        let reverse_hash = self.hash(reverse_key);
        let tcp_flags = packet.tcp_flags_valid().then_some(packet.tcp_flags);
        let forward_hash = match looked_up {
            // The caller's lookup, with nothing changed since, found no live session
            // holding the key (or deleted the expired one that did).
            Some(hash) => {
                debug_assert!(
                    hash == self.hash(forward_key) && self.peek(forward_key, hash).is_none()
                );
                hash
            }
            None => {
                let hash = self.hash(forward_key);
                if let Some(existing) = self.peek(forward_key, hash) {
                    if let Some(index) = self.join(existing, now_ns, timeouts, tcp_flags) {
                        return Ok(Created::Joined(index));
                    }
                }
                hash
            }
        };
        // The reply's key may be held by another session (a flow reflected from the
        // other side): that session already admits this packet's replies. Keys with
        // ports are reversed one to one and back (ICMP's reply types are pairs), so a
        // session holding the reply's key holds this packet's key too, and the look
        // for it (above, or the caller's lookup) found it; only a key without ports
        // ((0, 0): a non-first fragment, whose key reads like an echo reply's or a port-0
        // flow's) can be held alone. The packet goes the other way from that entry:
        // it joins the session on the entry's other side.
        if reverse_key >> key_bits::SPORT & 0xffff_ffff == 0 {
            if let Some(existing) = self.peek(reverse_key, reverse_hash) {
                if let Some(index) = self.join(existing ^ 1, now_ns, timeouts, tcp_flags) {
                    return Ok(Created::Joined(index));
                }
            }
        }
        if self.live >= self.max {
            self.make_room(now_ns, timeouts)?;
        }
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.slots.len() < self.slots.capacity() => self.slots.len() as u32,
            // Only when the limit was raised without growing: refuse rather than allocate.
            None => return Err(CreateError::TableFull),
        };
        // A reused slot keeps counting generations from where its last session left off.
        let generation = self.slots.get(index as usize).map_or(0, |s| s.generation);
        let mut session = Session {
            generation,
            forward_key,
            reverse_ports: (reverse_key >> key_bits::SPORT) as u32,
            kind: TimeoutKind::for_new(packet.proto),
            flags_forward: 0,
            flags_reverse: 0,
            list: 0,
            created_ns: now_ns,
            last_active_ns: heard_stamp(now_ns),
            queued_ns: heard_stamp(now_ns),
            prev: NONE,
            next: NONE,
            in_use: true,
            list_version: self.list_version(sw_if.0, direction),
        };
        if packet.tcp_flags_valid() {
            session.flags_forward = packet.tcp_flags;
            session.kind = session.tcp_kind();
        }
        let list = session.list_for();
        match self.slots.get_mut(index as usize) {
            Some(slot) => *slot = session,
            None => self.slots.push(session),
        }
        self.index(forward_hash, index << 1);
        self.index(reverse_hash, index << 1 | 1);
        for hash in [forward_hash, reverse_hash] {
            if let Some(count) = self.created.get_mut(created_slot(hash)) {
                *count = count.wrapping_add(1);
            }
        }
        self.creations = self.creations.wrapping_add(1);
        self.live += 1;
        self.push_tail(index, list, heard_stamp(now_ns));
        Ok(Created::New(index))
    }

    /// At the limit: expired sessions are reclaimed (a few steps of
    /// [`SessionTable::reclaim_expired`]), else a transient TCP session is recycled
    /// ([`SessionTable::reusable_transient`]). Out of line: below the limit, never run.
    #[cold]
    #[inline(never)]
    fn make_room(&mut self, now_ns: u64, timeouts: &SessionTimeouts) -> Result<(), CreateError> {
        self.reclaim_expired(now_ns, timeouts, 4);
        // Sessions a list change cleared still count until the sweep reaches them: a
        // full table sweeps further before it gives a live session up or refuses.
        if self.live >= self.max {
            self.sweep_outlived(now_ns, MAKE_ROOM_SWEEP);
        }
        if self.live < self.max {
            return Ok(());
        }
        // Still over a lowered limit: the eviction goes on in the reclaims; a new
        // session now would only add to what it has to evict.
        if self.live > self.max {
            return Err(CreateError::TableFull);
        }
        let recycled = self
            .reusable_transient(now_ns)
            .ok_or(CreateError::TableFull)?;
        let list = self
            .slots
            .get(recycled as usize)
            .map(|s| usize::from(s.list));
        self.delete(recycled, now_ns);
        if let Some(list) = list {
            self.prefetch_next_recycled(list);
        }
        Ok(())
    }

    /// A table at its limit recycles the head of `list` next, most likely: asks for its
    /// keys' buckets (which its delete empties) and for the session after it (whose link
    /// the delete updates). The head itself was that session for the delete just done,
    /// so its line is here; at a full rate of new flows each recycling then finds its
    /// lines in the cache instead of waiting for three.
    fn prefetch_next_recycled(&self, list: usize) {
        let Some(head) = self
            .lists
            .get(list)
            .and_then(|l| self.slots.get(l.head as usize))
        else {
            return;
        };
        self.cache
            .prefetch(self.hash(head.forward_key), self.prefetch);
        self.cache
            .prefetch(self.hash(head.reverse_key()), self.prefetch);
        if let Some(next) = self.slots.get(head.next as usize) {
            (self.prefetch)(std::ptr::from_ref(next).cast());
        }
    }

    /// Deletes expired sessions, looking only at the heads of the expiry lists, at most
    /// `budget` steps per list (so that a busy list cannot keep another from being
    /// looked at). A list is in the order its sessions were queued, and a session was
    /// last active no earlier than it was queued: once a head was queued less than a
    /// timeout ago, nothing in its list can have expired. A head queued longer ago is
    /// deleted if idle that long, or else queued again at the back: each live session
    /// costs a step at most once per timeout, not once per pass. Then a step of the
    /// sweep after a list change, and of the eviction down to a lowered limit, `budget`
    /// each. Returns how many were deleted; [`SessionTable::backlog`] then says whether
    /// some list used its budget, or the sweep or the eviction is not done.
    pub(crate) fn reclaim_expired(
        &mut self,
        now_ns: u64,
        timeouts: &SessionTimeouts,
        budget: usize,
    ) -> usize {
        let mut deleted = 0;
        self.backlog = false;
        for (list, kind) in LIST_KINDS.into_iter().enumerate() {
            let timeout = timeouts.get(kind);
            let mut steps = 0;
            while steps < budget {
                let head = self.lists[list].head;
                let Some(session) = self.slots.get(head as usize) else {
                    break;
                };
                let (last_active, queued) = (session.last_active_ns, session.queued_ns);
                if now_ns.saturating_sub(queued) < timeout {
                    break;
                }
                if now_ns.saturating_sub(last_active) >= timeout {
                    self.delete(head, now_ns);
                    deleted += 1;
                } else {
                    // Heard since it was queued: to the back, as of its last activity
                    // (or of the tail, if later, so that the list stays in order).
                    self.unlink(head);
                    let tail = self.lists[list].tail;
                    let tail_queued = self.slots.get(tail as usize).map_or(0, |t| t.queued_ns);
                    self.push_tail(head, list, last_active.max(tail_queued));
                }
                steps += 1;
            }
            self.backlog |= steps == budget;
        }
        deleted += self.sweep_outlived(now_ns, budget);
        self.backlog |= self.list_sweep.is_some();
        deleted += self.evict_over_limit(now_ns, budget);
        self.backlog |= self.live > self.max;
        deleted
    }

    /// After the limit was lowered below the live count: deletes at most `budget`
    /// sessions towards it, in the order a full table gives sessions up (closed
    /// connections, then other transient TCP sessions, oldest first), and then the
    /// least recently heard of the other lists' heads. Returns how many.
    fn evict_over_limit(&mut self, now_ns: u64, budget: usize) -> usize {
        let mut evicted = 0;
        while self.live > self.max && evicted < budget {
            let Some(victim) = self.eviction_victim() else {
                break;
            };
            self.delete(victim, now_ns);
            evicted += 1;
        }
        evicted
    }

    /// The session [`SessionTable::evict_over_limit`] gives up next. Looks at the lists'
    /// heads only, so one choice costs a few reads, never a walk.
    fn eviction_victim(&self) -> Option<u32> {
        for list in [CLOSED_LIST, TimeoutKind::TcpTransient as usize] {
            let head = self.lists[list].head;
            if head != NONE {
                return Some(head);
            }
        }
        [
            TimeoutKind::Udp,
            TimeoutKind::Other,
            TimeoutKind::TcpEstablished,
        ]
        .into_iter()
        .filter_map(|kind| {
            let head = self.lists[kind as usize].head;
            let session = self.slots.get(head as usize)?;
            Some((session.last_active_ns, head))
        })
        .min()
        .map(|(_, head)| head)
    }

    /// The next `budget` slots of a sweep after a list change: deletes the sessions that
    /// outlived their interface's lists. Returns how many.
    fn sweep_outlived(&mut self, now_ns: u64, budget: usize) -> usize {
        let Some(start) = self.list_sweep else {
            return 0;
        };
        let mut deleted = 0;
        let end = (start + budget).min(self.slots.len());
        for index in start..end {
            let outlived = self
                .slots
                .get(index)
                .is_some_and(|s| s.in_use && self.outlived_its_lists(s));
            if outlived {
                self.delete(index as u32, now_ns);
                deleted += 1;
            }
        }
        self.list_sweep = (end < self.slots.len()).then_some(end);
        deleted
    }

    /// Whether the last [`SessionTable::reclaim_expired`] stopped at its budget in some
    /// list: there may be more to reclaim at once.
    pub(crate) fn backlog(&self) -> bool {
        self.backlog
    }

    /// How many sessions were deleted in the second they were last heard in (closed
    /// connections given up at the limit, mostly; an idle or expired session is never
    /// one). Until this count or the second changes, a session refreshed in this second
    /// is still in its slot: expiry and the limit's idle rule cannot take it, and a
    /// refresh of it by a packet that brings no new TCP flags changes nothing.
    pub(crate) fn fresh_deletes(&self) -> u32 {
        self.fresh_deletes
    }

    /// How many sessions were ever created (wrapping). Until it changes, no watch can
    /// have gone stale: a watch's count moves only with it.
    pub(crate) fn creations(&self) -> u32 {
        self.creations
    }

    /// The TCP flags session entry `found` has seen in its direction, if its slot is
    /// live.
    pub(crate) fn seen_flags(&self, found: u32) -> Option<u8> {
        let session = self.slots.get((found >> 1) as usize).filter(|s| s.in_use)?;
        Some(if found & 1 == 1 {
            session.flags_reverse
        } else {
            session.flags_forward
        })
    }

    fn delete(&mut self, index: u32, now_ns: u64) {
        let Some(session) = self.slots.get_mut(index as usize) else {
            return;
        };
        if !session.in_use {
            return;
        }
        if session.last_active_ns > now_ns {
            self.fresh_deletes = self.fresh_deletes.wrapping_add(1);
        }
        session.in_use = false;
        session.generation = session.generation.wrapping_add(1);
        let (forward_key, reverse_key) = (session.forward_key, session.reverse_key());
        self.unlink(index);
        self.unindex(forward_key, index << 1);
        self.unindex(reverse_key, index << 1 | 1);
        self.free.push(index);
        self.live -= 1;
    }

    /// Takes session `index` out of its expiry list.
    fn unlink(&mut self, index: u32) {
        let Some(&Session {
            prev, next, list, ..
        }) = self.slots.get(index as usize)
        else {
            return;
        };
        let Some(list) = self.lists.get_mut(usize::from(list)) else {
            return;
        };
        if prev == NONE {
            list.head = next;
        }
        if next == NONE {
            list.tail = prev;
        }
        if let Some(p) = self.slots.get_mut(prev as usize) {
            p.next = next;
        }
        if let Some(n) = self.slots.get_mut(next as usize) {
            n.prev = prev;
        }
    }

    fn push_tail(&mut self, index: u32, list: usize, queued_ns: u64) {
        let Some(expiry) = self.lists.get_mut(list) else {
            return;
        };
        let old_tail = expiry.tail;
        expiry.tail = index;
        if old_tail == NONE {
            expiry.head = index;
        }
        if let Some(t) = self.slots.get_mut(old_tail as usize) {
            t.next = index;
        }
        if let Some(s) = self.slots.get_mut(index as usize) {
            s.prev = old_tail;
            s.next = NONE;
            s.queued_ns = queued_ns;
            s.list = list as u8;
        }
    }

    /// The transient TCP session a full table may give up at `now_ns`: the closed one
    /// queued longest, else the unclosed one queued longest if it has been idle
    /// [`REUSE_IDLE_NS`]. An unclosed session heard more recently may be a handshake
    /// waiting for its reply, which would then find no session (and an egress ACL
    /// would drop it): the new flow is refused instead.
    fn reusable_transient(&self, now_ns: u64) -> Option<u32> {
        let closed = self.lists[CLOSED_LIST].head;
        if closed != NONE {
            return Some(closed);
        }
        // A refresh does not move a session in its list, so an active one may sit at the
        // head (a pod's server connection stays transient: it never saw its own SYN):
        // look a few further for an idle one rather than refuse behind it.
        let mut at = self.lists[TimeoutKind::TcpTransient as usize].head;
        for _ in 0..REUSE_SCAN {
            let session = self.slots.get(at as usize)?;
            if now_ns.saturating_sub(session.last_active_ns) >= REUSE_IDLE_NS {
                return Some(at);
            }
            at = session.next;
        }
        None
    }

    /// Every live session, for `show`; walks the slab, so never on the fast path.
    pub(crate) fn summaries(&self, now_ns: u64) -> impl Iterator<Item = SessionSummary> + '_ {
        (0..self.slots.len() as u32).filter_map(move |index| self.summary(index, now_ns))
    }

    /// The live session in slot `index`, as [`SessionTable::summaries`] gives it.
    pub(crate) fn summary(&self, index: u32, now_ns: u64) -> Option<SessionSummary> {
        let s = self
            .slots
            .get(index as usize)
            .filter(|s| s.in_use && !self.outlived_its_lists(s))?;
        let (src, dst, sport, dport, proto) = Session::key_fields(s.forward_key);
        Some(SessionSummary {
            index,
            sw_if: s.sw_if(),
            direction: s.direction(),
            src,
            dst,
            sport,
            dport,
            proto,
            kind: s.kind,
            age_ns: now_ns.saturating_sub(s.created_ns),
            // From the start of the second it was last heard in (its stamp is that
            // second's end), but never longer than the session has lived.
            idle_ns: now_ns
                .saturating_sub(s.last_active_ns.saturating_sub(NS_PER_SECOND))
                .min(now_ns.saturating_sub(s.created_ns)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(proto: u8, src: &str, sport: u16, dst: &str, dport: u16) -> AclPacketInfo {
        AclPacketInfo {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            proto,
            sport,
            dport,
            tcp_flags: 0,
            l4_valid: true,
            nonfirst_fragment: false,
        }
    }

    /// The reverse of a key is the key of the reply crossing the same interface the
    /// other way, for TCP, UDP, ICMP echo and a packet without L4 header; twice is the
    /// key itself.
    #[test]
    fn reverse_of_a_key_is_the_reply_key() {
        let pod = IfIndex(3);
        let cases = [
            (
                info(ip_proto::TCP, "10.1.1.3", 40000, "10.96.0.10", 80),
                info(ip_proto::TCP, "10.96.0.10", 80, "10.1.1.3", 40000),
            ),
            (
                info(ip_proto::UDP, "10.1.1.3", 5353, "10.96.0.10", 53),
                info(ip_proto::UDP, "10.96.0.10", 53, "10.1.1.3", 5353),
            ),
            // Echo request (type 8) and reply (type 0), code 0 both ways.
            (
                info(ip_proto::ICMP, "10.1.1.3", 8, "10.96.0.10", 0),
                info(ip_proto::ICMP, "10.96.0.10", 0, "10.1.1.3", 0),
            ),
            (
                AclPacketInfo {
                    nonfirst_fragment: true,
                    ..info(ip_proto::ICMP, "10.1.1.3", 0, "10.96.0.10", 0)
                },
                AclPacketInfo {
                    nonfirst_fragment: true,
                    ..info(ip_proto::ICMP, "10.96.0.10", 0, "10.1.1.3", 0)
                },
            ),
        ];
        for (packet, reply) in cases {
            let key = session_key(&packet, pod, Direction::Input);
            let reply_key = session_key(&reply, pod, Direction::Output);
            assert_eq!(reverse_of(key, packet.has_l4()), reply_key, "{packet:?}");
            assert_eq!(reverse_of(reply_key, reply.has_l4()), key, "{reply:?}");
        }
    }

    /// A new flow whose reply key another session already holds joins that session
    /// rather than index the key twice. With ports, that session holds the flow's own
    /// key too; without (a non-first fragment, or an echo request meeting one), the
    /// reply's key is the only one they share, and create looks it up.
    #[test]
    fn a_flow_whose_reply_key_is_held_joins_that_session() {
        let timeouts = SessionTimeouts::default();
        let pod = IfIndex(3);
        let fragment = |src, dst| AclPacketInfo {
            nonfirst_fragment: true,
            ..info(ip_proto::ICMP, src, 0, dst, 0)
        };
        let echo_reply = info(ip_proto::ICMP, "10.96.0.10", 0, "10.1.1.3", 0);
        let echo_request = info(ip_proto::ICMP, "10.1.1.3", 8, "10.96.0.10", 0);
        let cases = [
            // A reply leaving first, a fragment of the flow coming in.
            (echo_reply, fragment("10.1.1.3", "10.96.0.10")),
            // A fragment of a reply leaving first, an echo request coming in.
            (fragment("10.96.0.10", "10.1.1.3"), echo_request),
            // TCP: the reply leaving first, the flow coming in.
            (
                info(ip_proto::TCP, "10.96.0.10", 80, "10.1.1.3", 40000),
                info(ip_proto::TCP, "10.1.1.3", 40000, "10.96.0.10", 80),
            ),
        ];
        for (first, second) in cases {
            let mut table = SessionTable::new(64);
            let held = table.create(&first, pod, Direction::Output, None, 0, &timeouts);
            let joined = table.create(&second, pod, Direction::Input, None, 0, &timeouts);
            let Ok(Created::New(index)) = held else {
                panic!("{first:?} made no session: {held:?}");
            };
            assert_eq!(
                joined,
                Ok(Created::Joined(index)),
                "{second:?} after {first:?}"
            );
            assert_eq!((table.len(), table.index_len()), (1, 2), "{second:?}");
        }
    }

    /// A packet that joins a session instead of making one does to it what a lookup
    /// would: a live session is refreshed (and its TCP state advances, on the side the
    /// packet goes); an expired one goes, and the packet makes a new one. Both through
    /// the packet's own key (held by a session made earlier without a lookup first) and
    /// through its reply's key (a non-first fragment of a flow whose request opened it).
    #[test]
    fn joining_a_session_refreshes_it_and_an_expired_one_is_made_anew() {
        let timeouts = SessionTimeouts::default();
        let other = timeouts.get(TimeoutKind::Other);
        let (pod, input) = (IfIndex(3), Direction::Input);
        let request = info(ip_proto::ICMP, "10.1.1.3", 8, "10.96.0.10", 0);
        let fragment = AclPacketInfo {
            nonfirst_fragment: true,
            ..info(ip_proto::ICMP, "10.1.1.3", 0, "10.96.0.10", 0)
        };
        for second in [request, fragment] {
            let mut table = SessionTable::new(64);
            let Ok(Created::New(index)) = table.create(&request, pod, input, None, 0, &timeouts)
            else {
                panic!("the request made no session");
            };
            // Half a timeout on: joined, and heard now.
            let half = other / 2;
            assert_eq!(
                table.create(&second, pod, input, None, half, &timeouts),
                Ok(Created::Joined(index)),
                "{second:?}"
            );
            assert_eq!(
                table.slots[index as usize].last_active_ns,
                heard_stamp(half)
            );
            // A timeout after the request's second, it is still live: the join
            // refreshed it.
            let due = heard_stamp(0) + other;
            let hash = table.hash_of(&request, pod, input);
            assert_eq!(
                table.lookup(&request, pod, input, hash, due, &timeouts),
                Some(index),
                "{second:?}"
            );
            // Idle a whole timeout: expired, so the packet makes a session of its own.
            let late = heard_stamp(due) + other;
            let made = table.create(&second, pod, input, None, late, &timeouts);
            let Ok(Created::New(made)) = made else {
                panic!("{second:?}: {made:?}");
            };
            assert_eq!(table.len(), 1, "{second:?}");
            assert_eq!(table.slots[made as usize].created_ns, late);
        }

        // TCP: the reply's SYN-ACK joins the session its SYN made, on the reply side.
        let mut table = SessionTable::new(64);
        let syn = AclPacketInfo {
            tcp_flags: tcp_flag::SYN,
            ..info(ip_proto::TCP, "10.1.1.3", 40000, "10.96.0.10", 80)
        };
        let syn_ack = AclPacketInfo {
            tcp_flags: tcp_flag::SYN | tcp_flag::ACK,
            ..info(ip_proto::TCP, "10.96.0.10", 80, "10.1.1.3", 40000)
        };
        let Ok(Created::New(index)) = table.create(&syn, pod, input, None, 0, &timeouts) else {
            panic!("the SYN made no session");
        };
        assert_eq!(
            table.create(&syn_ack, pod, Direction::Output, None, 0, &timeouts),
            Ok(Created::Joined(index))
        );
        assert_eq!(
            table.seen_flags(index << 1 | 1),
            Some(tcp_flag::SYN | tcp_flag::ACK)
        );
    }

    /// A connection closed by a FIN each way is transient again and on the closed list,
    /// as after a reset: a full table gives it up first, and it goes after the transient
    /// timeout rather than holding its slot for the established one.
    #[test]
    fn a_connection_closed_both_ways_is_transient_on_the_closed_list() {
        let timeouts = SessionTimeouts::default();
        let (pod, input, output) = (IfIndex(3), Direction::Input, Direction::Output);
        let out = |flags: u8| AclPacketInfo {
            tcp_flags: flags,
            ..info(ip_proto::TCP, "10.1.1.3", 40000, "10.96.0.10", 80)
        };
        let back = |flags: u8| AclPacketInfo {
            tcp_flags: flags,
            ..info(ip_proto::TCP, "10.96.0.10", 80, "10.1.1.3", 40000)
        };
        let mut table = SessionTable::new(64);
        let Ok(Created::New(index)) =
            table.create(&out(tcp_flag::SYN), pod, input, None, 0, &timeouts)
        else {
            panic!("the SYN made no session");
        };
        let mut pass = |packet: AclPacketInfo, direction: Direction| {
            let hash = table.hash_of(&packet, pod, direction);
            assert_eq!(
                table.lookup(&packet, pod, direction, hash, 0, &timeouts),
                Some(index),
                "{packet:?}"
            );
            let session = table.slots[index as usize];
            (session.kind, usize::from(session.list))
        };
        pass(back(tcp_flag::SYN | tcp_flag::ACK), output);
        assert_eq!(
            pass(out(tcp_flag::ACK), input),
            (
                TimeoutKind::TcpEstablished,
                TimeoutKind::TcpEstablished as usize
            )
        );
        let fin = tcp_flag::FIN | tcp_flag::ACK;
        assert_eq!(
            pass(out(fin), input),
            (
                TimeoutKind::TcpTransient,
                TimeoutKind::TcpTransient as usize
            )
        );
        assert_eq!(
            pass(back(fin), output),
            (TimeoutKind::TcpTransient, CLOSED_LIST)
        );
    }

    /// A TCP packet whose header is cut short (no flags to read) still opens a TCP
    /// session: transient, so it goes after the transient timeout (120 s), not the 600 s
    /// of other protocols, which it would hold its slot for.
    #[test]
    fn a_tcp_session_without_flags_is_transient() {
        let timeouts = SessionTimeouts::default();
        let transient = timeouts.get(TimeoutKind::TcpTransient);
        let (pod, input) = (IfIndex(3), Direction::Input);
        let truncated = AclPacketInfo {
            l4_valid: false,
            ..info(ip_proto::TCP, "10.1.1.3", 40000, "10.96.0.10", 80)
        };
        let mut table = SessionTable::new(64);
        let Ok(Created::New(index)) = table.create(&truncated, pod, input, None, 0, &timeouts)
        else {
            panic!("the truncated segment made no session");
        };
        assert_eq!(table.slots[index as usize].kind, TimeoutKind::TcpTransient);
        let due = heard_stamp(0) + transient;
        assert_eq!(table.reclaim_expired(due - 1, &timeouts, 8), 0);
        assert_eq!(table.reclaim_expired(due, &timeouts, 8), 1);
        assert_eq!(table.len(), 0);
    }

    /// A reset from each end leaves the connection closed: the second reset must not
    /// take the session off the closed list, where a full table gives it up at any age
    /// (on the transient list it would hold its slot until idle 2 s).
    #[test]
    fn a_reset_from_each_end_leaves_the_session_closed() {
        let timeouts = SessionTimeouts::default();
        let (pod, input, output) = (IfIndex(3), Direction::Input, Direction::Output);
        let out = |port: u16, flags: u8| AclPacketInfo {
            tcp_flags: flags,
            ..info(ip_proto::TCP, "10.1.1.3", port, "10.96.0.10", 80)
        };
        let back = AclPacketInfo {
            tcp_flags: tcp_flag::RST,
            ..info(ip_proto::TCP, "10.96.0.10", 80, "10.1.1.3", 1)
        };
        let mut table = SessionTable::new(1);
        let Ok(Created::New(index)) =
            table.create(&out(1, tcp_flag::SYN), pod, input, None, 0, &timeouts)
        else {
            panic!("the SYN made no session");
        };
        for (packet, direction) in [(out(1, tcp_flag::RST), input), (back, output)] {
            let hash = table.hash_of(&packet, pod, direction);
            assert_eq!(
                table.lookup(&packet, pod, direction, hash, 0, &timeouts),
                Some(index)
            );
            assert_eq!(usize::from(table.slots[index as usize].list), CLOSED_LIST);
        }
        // In the same second: only a closed session may go for the new flow.
        assert!(matches!(
            table.create(&out(2, tcp_flag::SYN), pod, input, None, 0, &timeouts),
            Ok(Created::New(_))
        ));
        assert!(table.handle(&out(1, 0), pod, input).is_none());
    }

    /// A limit lowered far below the live count is reached by bounded eviction; until
    /// then a new flow is refused, even with closed sessions there to recycle: a
    /// recycling would only trade one session for another, leaving the table as far
    /// over its limit.
    #[test]
    fn over_a_lowered_limit_a_new_flow_is_refused_rather_than_recycle() {
        let timeouts = SessionTimeouts::default();
        let (pod, input) = (IfIndex(3), Direction::Input);
        let packet = |port: u16, flags: u8| AclPacketInfo {
            tcp_flags: flags,
            ..info(ip_proto::TCP, "10.1.1.3", port, "10.96.0.10", 80)
        };
        let mut table = SessionTable::new(10);
        for port in 0..10 {
            table
                .create(&packet(port, tcp_flag::SYN), pod, input, None, 0, &timeouts)
                .unwrap();
            // Reset: closed, recyclable at any age.
            let reset = packet(port, tcp_flag::RST);
            let hash = table.hash_of(&reset, pod, input);
            table
                .lookup(&reset, pod, input, hash, 0, &timeouts)
                .unwrap();
        }
        table.set_max(2);
        // The new flow's room-making evicts a few (4), not all 8 over the limit.
        assert_eq!(
            table.create(&packet(100, tcp_flag::SYN), pod, input, None, 0, &timeouts),
            Err(CreateError::TableFull)
        );
        assert_eq!(table.len(), 6);
        assert!(table.handle(&packet(100, 0), pod, input).is_none());
    }

    /// A reclaim counts the sessions its sweep after a list change deleted, as it
    /// counts the expired ones: the caller's count of sessions gone depends on it.
    #[test]
    fn a_reclaim_counts_the_sessions_a_list_change_cleared() {
        let timeouts = SessionTimeouts::default();
        let (pod, other, input) = (IfIndex(3), IfIndex(4), Direction::Input);
        let mut table = SessionTable::new(64);
        for (sw_if, port) in [(pod, 1), (pod, 2), (pod, 3), (other, 4)] {
            let packet = info(ip_proto::UDP, "10.1.1.3", port, "10.96.0.10", 53);
            table
                .create(&packet, sw_if, input, None, 0, &timeouts)
                .unwrap();
        }
        table.lists_changed(pod, input);
        assert_eq!(table.reclaim_expired(0, &timeouts, 64), 3);
        assert_eq!(table.len(), 1);
    }

    /// A session is deleted fresh (in the second it was last heard in, its stamp still
    /// ahead of the clock) up to the last nanosecond of that second, and no longer at
    /// the first of the next: its stamp then is the clock, not ahead of it.
    #[test]
    fn a_delete_is_fresh_only_within_the_second_last_heard_in() {
        let timeouts = SessionTimeouts::default();
        let (pod, input) = (IfIndex(3), Direction::Input);
        let packet = info(ip_proto::UDP, "10.1.1.3", 5353, "10.96.0.10", 53);
        let mut table = SessionTable::new(64);
        table
            .create(&packet, pod, input, None, 0, &timeouts)
            .unwrap();
        table.clear_all(NS_PER_SECOND - 1);
        assert_eq!(table.fresh_deletes(), 1);
        table
            .create(&packet, pod, input, None, 0, &timeouts)
            .unwrap();
        table.clear_all(NS_PER_SECOND);
        assert_eq!(table.fresh_deletes(), 1);
    }

    /// At the limit, recycling a closed session asks for the lines the next recycling
    /// needs: the new head's two buckets and the session after it.
    #[test]
    fn recycling_asks_for_the_next_recycled_sessions_lines() {
        use crate::flow_cache::recording::{asked, recording_prefetch};
        let timeouts = SessionTimeouts::default();
        let mut table = SessionTable::new(4);
        table.set_prefetch(recording_prefetch);
        let (pod, input) = (IfIndex(3), Direction::Input);
        let packet = |port: u16, flags: u8| AclPacketInfo {
            tcp_flags: flags,
            ..info(ip_proto::TCP, "10.1.1.3", port, "10.96.0.10", 80)
        };
        for port in 0..4 {
            table
                .create(&packet(port, 0x02), pod, input, None, 0, &timeouts)
                .unwrap();
            // The client resets: closed, recyclable at any age.
            let hash = table.hash_of(&packet(port, 0x04), pod, input);
            table
                .lookup(&packet(port, 0x04), pod, input, hash, 0, &timeouts)
                .unwrap();
        }
        asked();
        table
            .create(&packet(9, 0x02), pod, input, None, 0, &timeouts)
            .unwrap();
        assert_eq!(table.len(), 4);
        assert!(
            table.handle(&packet(0, 0), pod, input).is_none(),
            "the oldest went"
        );
        let recorded = asked();
        let head = table.slots[1];
        table
            .cache
            .prefetch(table.hash(head.forward_key), recording_prefetch);
        table
            .cache
            .prefetch(table.hash(head.reverse_key()), recording_prefetch);
        let mut expected = asked();
        expected.push(std::ptr::from_ref(&table.slots[2]) as usize);
        assert_eq!(recorded, expected);
    }

    /// A session keeps only its reply's ports; the reverse key it rebuilds from them is
    /// [`reverse_of`] its forward key, for every protocol and ICMP type, with and without
    /// an L4 header, on either direction.
    #[test]
    fn a_sessions_reverse_key_is_reverse_of_its_forward_key() {
        let mut table = SessionTable::new(64);
        let timeouts = SessionTimeouts::default();
        let mut rng = crate::rand::FastRng::new(11);
        for round in 0..2000u32 {
            let proto = [ip_proto::TCP, ip_proto::UDP, ip_proto::ICMP, 47][rng.below(4) as usize];
            let sport = if proto == ip_proto::ICMP {
                rng.below(20) as u16
            } else {
                rng.next_u64() as u16
            };
            let packet = AclPacketInfo {
                src: Ipv4Addr::from_bits(rng.next_u64() as u32),
                dst: Ipv4Addr::from_bits(rng.next_u64() as u32),
                proto,
                sport,
                dport: rng.next_u64() as u16,
                tcp_flags: 0,
                l4_valid: rng.below(4) != 0,
                nonfirst_fragment: rng.below(4) == 0,
            };
            let direction = [Direction::Input, Direction::Output][rng.below(2) as usize];
            let sw_if = IfIndex(rng.below(8) as u16);
            let created =
                table.create(&packet, sw_if, direction, None, u64::from(round), &timeouts);
            let Ok(Created::New(index)) = created else {
                panic!("{packet:?}: {created:?}");
            };
            let session = table.slots[index as usize];
            let forward = session_key(&packet, sw_if, direction);
            assert_eq!(session.forward_key, forward);
            assert_eq!(
                session.reverse_key(),
                reverse_of(forward, packet.has_l4()),
                "{packet:?} on {sw_if:?} {direction:?}"
            );
            table.delete(index, u64::from(round));
        }
    }

    /// Creations, lookups and reclaims at random around the limit, which is raised
    /// half-way (the lookup cache rebuilt): every live session is in the expiry list its
    /// kind and flags give, in queued order, is found by its forward key, and the lookup
    /// cache's counts of keys given up stay exact.
    #[test]
    fn lookups_and_cache_counts_hold_under_churn_and_a_raised_limit() {
        let mut table = SessionTable::new(100);
        let timeouts = SessionTimeouts::default();
        let mut rng = crate::rand::FastRng::new(3);
        let (mut now, mut given_up) = (0u64, 0);
        let mut seen = Vec::new();
        for step in 0..40_000u32 {
            now += rng.below(50_000_000);
            if step == 20_000 {
                table.set_max(300);
            }
            let proto = [ip_proto::TCP, ip_proto::UDP][rng.below(2) as usize];
            let packet = AclPacketInfo {
                tcp_flags: [0u8, 0x02, 0x12, 0x01, 0x04][rng.below(5) as usize],
                ..info(proto, "10.1.1.3", rng.below(400) as u16, "10.96.0.10", 80)
            };
            let (sw_if, input) = (IfIndex(1), Direction::Input);
            match rng.below(4) {
                0 if rng.below(2) == 0 => {
                    let _ = table.create(&packet, sw_if, input, None, now, &timeouts);
                }
                // As the engine creates: after a lookup that found none.
                0 => {
                    let hash = table.hash_of(&packet, sw_if, input);
                    if table
                        .lookup(&packet, sw_if, input, hash, now, &timeouts)
                        .is_none()
                    {
                        let _ = table.create(&packet, sw_if, input, Some(hash), now, &timeouts);
                    }
                }
                1 => {
                    let hash = table.hash_of(&packet, sw_if, input);
                    let _ = table.lookup(&packet, sw_if, input, hash, now, &timeouts);
                }
                2 => {
                    seen.push(packet);
                    let earlier = seen[rng.below(seen.len() as u64) as usize];
                    let hash = table.hash_of(&earlier, sw_if, input);
                    let _ = table.lookup(&earlier, sw_if, input, hash, now, &timeouts);
                }
                _ => {
                    table.reclaim_expired(now, &timeouts, rng.below(4) as usize);
                }
            }
            // Each list: its sessions, in queued order, each in the list its kind and
            // flags give.
            let mut listed = 0;
            for (list, expiry) in table.lists.iter().enumerate() {
                let (mut at, mut previous) = (expiry.head, 0);
                while let Some(s) = table.slots.get(at as usize) {
                    assert!(s.in_use);
                    assert_eq!((usize::from(s.list), s.list_for()), (list, list));
                    assert!(s.queued_ns >= previous, "list {list} out of order");
                    (at, previous, listed) = (s.next, s.queued_ns, listed + 1);
                }
            }
            assert_eq!(listed, table.live);
            let mut live = Vec::new();
            for (i, s) in table.slots.iter().enumerate() {
                if s.in_use {
                    let i = i as u32;
                    live.push((table.hash(s.forward_key), i << 1));
                    live.push((table.hash(s.reverse_key()), i << 1 | 1));
                    assert_eq!(
                        table.peek(s.forward_key, table.hash(s.forward_key)),
                        Some(i << 1)
                    );
                    assert_eq!(
                        table.peek(s.reverse_key(), table.hash(s.reverse_key())),
                        Some(i << 1 | 1)
                    );
                }
            }
            // Aside: only live keys that their buckets do not hold.
            for &found in table.given_up.iter() {
                let key = entry_key(&table.slots, found).expect("a live session's key");
                let hash = table.hash(key);
                assert_eq!(table.cache.find(hash, |v| v == found), None);
                assert!(live.contains(&(hash, found)));
            }
            let uncached = table.cache.assert_counts(&live);
            assert_eq!(
                uncached as usize,
                table.given_up.len(),
                "given up = held aside"
            );
            assert_eq!(table.index_len(), live.len());
            given_up = given_up.max(uncached);
        }
        assert!(given_up > 0, "the cache never gave a key up");
    }
}
