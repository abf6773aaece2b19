//! One worker's NAT44 sessions: a preallocated slab of [`Session`]s, found from either
//! direction through two hash tables that hold only slab indices (the key lives in the
//! session, so each table costs 5 bytes a bucket), and linked into one list per timeout
//! class for bounded expiry. A `FlowCache` (`crate::flow_cache`) per direction in front
//! of the tables gives each key a bucket whose address is known from its hash, so that a
//! stage can prefetch a burst's buckets, then its sessions, before it translates.

use std::net::Ipv4Addr;

use hashbrown::HashTable;

use super::rewrite::{Deltas, Flow, Side};
use super::types::{NatProtocol, NatTimeouts};
use crate::flow_cache::{FlowCache, Lookup};
use crate::pipeline::Prefetch;

/// A flow as one side sees it: `local` is the side of the translating node's interface
/// the packet came in on (its source from the inside, its destination from the outside).
/// For ICMP echo, `local_port` is the identifier and `remote_port` is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    pub local: Ipv4Addr,
    pub remote: Ipv4Addr,
    pub local_port: u16,
    pub remote_port: u16,
    pub proto: NatProtocol,
}

impl SessionKey {
    /// A folded multiply (as in foldhash / wyhash): one 64x64->128 product mixes all
    /// bits of the two halves, enough for hashbrown, which uses the low bits (bucket) and
    /// the top 7 (tag), and for the lookup cache, which uses the low bits and the top 32.
    #[inline]
    pub fn hash(&self) -> u64 {
        let addrs = (u64::from(self.local.to_bits()) << 32) | u64::from(self.remote.to_bits());
        let rest = (u64::from(self.local_port) << 32)
            | (u64::from(self.remote_port) << 16)
            | self.proto as u64;
        let product =
            u128::from(addrs ^ 0x243f_6a88_85a3_08d3) * u128::from(rest ^ 0x1319_8a2e_0370_7344);
        let folded = (product as u64) ^ ((product >> 64) as u64);
        folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ addrs.rotate_left(17)
    }
}

/// The idle-timeout class of a session; one expiry list each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TimeoutClass {
    Udp = 0,
    TcpEstablished = 1,
    TcpTransitory = 2,
    Icmp = 3,
}

const CLASSES: usize = 4;
const FREE_LIST: usize = CLASSES;
const TRANSITORY: usize = TimeoutClass::TcpTransitory as usize;
/// The list of transitory TCP sessions whose connection has closed (a reset, or a FIN
/// each way): their timeout is the transitory one, but a full table gives them up first
/// and at any age, while an unclosed transitory session (a handshake under way) only
/// once idle [`REUSE_IDLE_SECONDS`].
const CLOSED: usize = FREE_LIST + 1;
/// The lists of live sessions, each an expiry queue.
const LIVE_LISTS: [usize; 5] = [
    TimeoutClass::Udp as usize,
    TimeoutClass::TcpEstablished as usize,
    TRANSITORY,
    TimeoutClass::Icmp as usize,
    CLOSED,
];

/// An unclosed transitory session may be given up for a new flow once idle this long (on
/// the seconds clock, so more than one second): longer than a handshake's round trip,
/// far shorter than the transitory timeout (240 s).
pub const REUSE_IDLE_SECONDS: u32 = 2;
const NIL: u32 = u32::MAX;
/// The most recyclings [`SessionTable::warm_recycling`] reads ahead for: a burst of the
/// app's default size (larger bursts' later ones wait as before).
const WARM_RECYCLING: usize = 32;

impl TimeoutClass {
    pub fn timeout(self, t: &NatTimeouts) -> u32 {
        match self {
            TimeoutClass::Udp => t.udp,
            TimeoutClass::TcpEstablished => t.tcp_established,
            TimeoutClass::TcpTransitory => t.tcp_transitory,
            TimeoutClass::Icmp => t.icmp,
        }
    }

    /// The class of a session in list `i`: the closed list's sessions are transitory.
    fn from_index(i: u8) -> TimeoutClass {
        match i {
            0 => TimeoutClass::Udp,
            1 => TimeoutClass::TcpEstablished,
            3 => TimeoutClass::Icmp,
            _ => TimeoutClass::TcpTransitory,
        }
    }
}

/// Session flags.
pub mod flags {
    /// Created by a static or load-balanced mapping.
    pub const STATIC: u8 = 1;
    /// The outside (address, port) came from the SNAT pool and goes back to it.
    pub const DYNAMIC: u8 = 2;
    /// The inside remote (address, port) came from the twice-nat pool.
    pub const TWICE_NAT: u8 = 4;
    pub const LOAD_BALANCED: u8 = 8;
    /// Holds a share of its client's affinity to the endpoint (see `AffinityEntry`).
    pub const AFFINITY: u8 = 16;
    /// An identity translation made for a flow from outside that nothing translates, so
    /// that its replies pass nat44-in2out-output untranslated (VPP's forwarding-bypass).
    pub const FORWARDING_BYPASS: u8 = 32;
}

/// TCP flags seen, per direction, to follow the connection's state.
mod tcp_seen {
    /// The connection has ended: a reset, or a FIN each way.
    pub fn closed(seen: u8) -> bool {
        seen & RST != 0 || closed_by_fins(seen)
    }

    pub fn closed_by_fins(seen: u8) -> bool {
        seen & (FIN_IN | FIN_OUT) == FIN_IN | FIN_OUT
    }

    pub const SYN_IN: u8 = 1;
    pub const SYN_OUT: u8 = 2;
    pub const FIN_IN: u8 = 4;
    pub const FIN_OUT: u8 = 8;
    pub const RST: u8 = 16;
}

/// A translation. From the inside the flow is `in_local:port <-> in_remote:port`; from
/// the outside it is `out_local:port <-> out_remote:port`. A service session has
/// in_local = endpoint, out_local = VIP; an SNAT session has out_local = pool address;
/// twice-NAT also changes the remote (in_remote = twice-nat pool address).
///
/// One cache line, aligned: a hit reads the keys and the checksum deltas and writes the
/// counters, all in the line the warm-up pass asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct Session {
    pub in_local: Ipv4Addr,
    pub in_remote: Ipv4Addr,
    pub out_local: Ipv4Addr,
    pub out_remote: Ipv4Addr,
    pub in_local_port: u16,
    pub in_remote_port: u16,
    pub out_local_port: u16,
    pub out_remote_port: u16,
    /// Seconds on the worker's clock.
    pub last_heard: u32,
    pub packets: u32,
    pub bytes: u64,
    prev: u32,
    next: u32,
    pub proto: NatProtocol,
    pub flags: u8,
    tcp_seen: u8,
    class: u8,
    /// Bumped when the slot is freed, so the flow cache can tell a session from a later
    /// one in the same slot (even one with the same keys and another endpoint).
    generation: u32,
    /// The checksum changes of a TCP or UDP packet from outside, then from inside.
    deltas: [Deltas; 2],
}

const _: () = assert!(std::mem::size_of::<Session>() == 64);

impl Session {
    /// A session for the given endpoints; the table fills in its bookkeeping.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        proto: NatProtocol,
        in_local: (Ipv4Addr, u16),
        in_remote: (Ipv4Addr, u16),
        out_local: (Ipv4Addr, u16),
        out_remote: (Ipv4Addr, u16),
        flags: u8,
    ) -> Session {
        Session {
            deltas: [
                Deltas::of(out_remote, out_local, in_remote, in_local),
                Deltas::of(in_local, in_remote, out_local, out_remote),
            ],
            in_local: in_local.0,
            in_remote: in_remote.0,
            out_local: out_local.0,
            out_remote: out_remote.0,
            in_local_port: in_local.1,
            in_remote_port: in_remote.1,
            out_local_port: out_local.1,
            out_remote_port: out_remote.1,
            last_heard: 0,
            packets: 0,
            bytes: 0,
            prev: NIL,
            next: NIL,
            proto,
            flags,
            tcp_seen: 0,
            class: initial_class(proto) as u8,
            generation: 0,
        }
    }

    /// The checksum changes for a TCP or UDP packet of `flow` from `side`, if its ends
    /// are the ones this session translates from that side (as they are for a packet
    /// its key found).
    #[inline(always)]
    pub fn deltas(&self, side: Side, flow: &Flow) -> Option<Deltas> {
        let (ours, at) = match side {
            Side::Outside => (self.out2in_key(), 0),
            Side::Inside => (self.in2out_key(), 1),
        };
        let theirs = (flow.local, flow.remote);
        let same = theirs
            == (
                (ours.local, ours.local_port),
                (ours.remote, ours.remote_port),
            );
        (same && !flow.is_icmp_error && flow.proto != NatProtocol::Icmp)
            .then(|| self.deltas.get(at).copied())
            .flatten()
    }

    pub fn in2out_key(&self) -> SessionKey {
        SessionKey {
            local: self.in_local,
            remote: self.in_remote,
            local_port: self.in_local_port,
            remote_port: self.in_remote_port,
            proto: self.proto,
        }
    }

    pub fn out2in_key(&self) -> SessionKey {
        SessionKey {
            local: self.out_local,
            remote: self.out_remote,
            local_port: self.out_local_port,
            remote_port: self.out_remote_port,
            proto: self.proto,
        }
    }

    pub fn class(&self) -> TimeoutClass {
        TimeoutClass::from_index(self.class)
    }

    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// A TCP session whose connection has ended (a reset, or a FIN each way), waiting
    /// out its transitory timeout.
    pub fn is_closed(&self) -> bool {
        usize::from(self.class) == CLOSED
    }

    /// When this session expires, given the timeouts.
    pub fn expires_at(&self, t: &NatTimeouts) -> u32 {
        self.last_heard.saturating_add(self.class().timeout(t))
    }
}

fn initial_class(proto: NatProtocol) -> TimeoutClass {
    match proto {
        NatProtocol::Tcp => TimeoutClass::TcpTransitory,
        NatProtocol::Udp => TimeoutClass::Udp,
        NatProtocol::Icmp => TimeoutClass::Icmp,
    }
}

#[derive(Clone, Copy, Debug)]
struct List {
    head: u32,
    tail: u32,
    len: u32,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
    len: 0,
};

/// TCP header flags, as `touch` reads them.
mod tcp_flag {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
}

/// Sessions per expiry list ([`SessionTable::list_lengths`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListLengths {
    pub udp: u32,
    pub tcp_established: u32,
    /// Transitory TCP sessions not closed (handshakes, half-closes).
    pub tcp_transitory: u32,
    /// Transitory TCP sessions whose connection closed (a reset, or a FIN each way).
    pub tcp_closed: u32,
    pub icmp: u32,
}

/// Which of the two tables: by the inside view of a flow or by the outside one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTable {
    In2out,
    Out2in,
}

impl KeyTable {
    fn key_of(self) -> fn(&Session) -> SessionKey {
        match self {
            KeyTable::In2out => Session::in2out_key,
            KeyTable::Out2in => Session::out2in_key,
        }
    }
}

/// Why a session could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertError {
    /// Every slot is in use (the table limit).
    Full,
    /// Another session already has this in2out or out2in key.
    KeyInUse,
}

/// Which of a new session's keys the caller already knows to be unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KnownFree {
    Neither,
    In2out,
    Out2in,
}

/// The sessions of one worker. Nothing here allocates after [`SessionTable::with_capacity`].
pub struct SessionTable {
    slots: Vec<Session>,
    in2out: HashTable<u32>,
    out2in: HashTable<u32>,
    in2out_cache: FlowCache,
    out2in_cache: FlowCache,
    lists: [List; CLOSED + 1],
    capacity: u32,
    /// The next slot [`SessionTable::expire`]'s staleness sweep looks at.
    sweep: u32,
}

impl SessionTable {
    pub fn with_capacity(capacity: u32) -> SessionTable {
        SessionTable {
            slots: Vec::with_capacity(capacity as usize),
            // Twice the limit: hashbrown then always rehashes in place and never grows
            // (it grows only when more than half full), so a packet never allocates.
            in2out: HashTable::with_capacity(2 * capacity as usize),
            out2in: HashTable::with_capacity(2 * capacity as usize),
            in2out_cache: FlowCache::with_entries(capacity as usize),
            out2in_cache: FlowCache::with_entries(capacity as usize),
            lists: [EMPTY; CLOSED + 1],
            capacity,
            sweep: 0,
        }
    }

    pub fn len(&self) -> u32 {
        self.in2out.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    pub fn get(&self, index: u32) -> Option<&Session> {
        self.slots
            .get(index as usize)
            .filter(|s| usize::from(s.class) != FREE_LIST)
    }

    /// The session whose in2out key is `key`: from the cache, else from the table, and
    /// then cached again.
    #[inline]
    pub fn find_in2out(&mut self, key: &SessionKey) -> Option<u32> {
        self.find(KeyTable::In2out, key)
    }

    /// The session whose out2in key is `key`, as [`SessionTable::find_in2out`].
    #[inline]
    pub fn find_out2in(&mut self, key: &SessionKey) -> Option<u32> {
        self.find(KeyTable::Out2in, key)
    }

    /// [`SessionTable::find_in2out`] with the key's hash already computed (`key.hash()`).
    #[inline]
    pub fn find_in2out_hashed(&mut self, key: &SessionKey, hash: u64) -> Option<u32> {
        self.find_hashed(KeyTable::In2out, key, hash)
    }

    /// [`SessionTable::find_out2in`] with the key's hash already computed (`key.hash()`).
    #[inline]
    pub fn find_out2in_hashed(&mut self, key: &SessionKey, hash: u64) -> Option<u32> {
        self.find_hashed(KeyTable::Out2in, key, hash)
    }

    #[inline(always)]
    fn find(&mut self, table: KeyTable, key: &SessionKey) -> Option<u32> {
        self.find_hashed(table, key, key.hash())
    }

    #[inline(always)]
    fn find_hashed(&mut self, table: KeyTable, key: &SessionKey, hash: u64) -> Option<u32> {
        debug_assert_eq!(hash, key.hash());
        let (found, from_table) = self.peek(table, key, hash);
        if let (Some(found), true) = (found, from_table) {
            match table {
                KeyTable::In2out => self.in2out_cache.recache(hash, found),
                KeyTable::Out2in => self.out2in_cache.recache(hash, found),
            }
        }
        found
    }

    /// Whether a session has the in2out key `key`; leaves the cache as it is, for
    /// callers that hold the table shared.
    #[inline]
    pub fn has_in2out(&self, key: &SessionKey) -> bool {
        self.peek(KeyTable::In2out, key, key.hash()).0.is_some()
    }

    /// The live session with `key` in `table`, leaving the cache as it is.
    pub fn peek_key(&self, table: KeyTable, key: &SessionKey) -> Option<u32> {
        self.peek(table, key, key.hash()).0
    }

    /// Where session `index` lives, for a prefetch.
    #[inline(always)]
    pub fn address(&self, index: u32) -> Option<*const u8> {
        let session = self.slots.get(index as usize)?;
        Some(std::ptr::from_ref(session).cast())
    }

    /// The live session with `key` in `table`, and whether it came from the table rather
    /// than the cache: the table is asked only when the cache cannot answer. A cached
    /// slot may have been freed since (it keeps its last key), or reused for another flow.
    #[inline(always)]
    fn peek(&self, table: KeyTable, key: &SessionKey, hash: u64) -> (Option<u32>, bool) {
        let key_of = table.key_of();
        let slots = &self.slots;
        let cached = self.cache(table).lookup(hash, |i| {
            slots
                .get(i as usize)
                .is_some_and(|s| usize::from(s.class) != FREE_LIST && key_of(s) == *key)
        });
        match cached {
            Lookup::Hit(found) => (Some(found), false),
            Lookup::Absent => (None, false),
            Lookup::Unknown => (self.in_table(table, key, hash), true),
        }
    }

    /// The session with `key` in `table`, from the table of record.
    fn in_table(&self, table: KeyTable, key: &SessionKey, hash: u64) -> Option<u32> {
        let key_of = table.key_of();
        let slots = &self.slots;
        self.index(table)
            .find(hash, |&i| {
                slots.get(i as usize).is_some_and(|s| key_of(s) == *key)
            })
            .copied()
    }

    /// The table of record for `table`'s keys.
    fn index(&self, table: KeyTable) -> &HashTable<u32> {
        match table {
            KeyTable::In2out => &self.in2out,
            KeyTable::Out2in => &self.out2in,
        }
    }

    fn cache(&self, table: KeyTable) -> &FlowCache {
        match table {
            KeyTable::In2out => &self.in2out_cache,
            KeyTable::Out2in => &self.out2in_cache,
        }
    }

    /// A burst's first warm-up pass: asks for the cache bucket of the key with `hash`.
    #[inline(always)]
    pub fn prefetch_bucket(&self, table: KeyTable, hash: u64, prefetch: Prefetch) {
        self.cache(table).prefetch(hash, prefetch);
    }

    /// The second: reads the bucket (arrived by now) and asks for the session it names;
    /// says whether it named one.
    #[inline(always)]
    pub fn prefetch_session(&self, table: KeyTable, hash: u64, prefetch: Prefetch) -> bool {
        let Some(found) = self.cache(table).candidate(hash) else {
            return false;
        };
        if let Some(session) = self.slots.get(found as usize) {
            prefetch(std::ptr::from_ref(session).cast());
        }
        true
    }

    /// For a key that an insert is about to add to `table`: reads the hashbrown group
    /// the insert will probe first, so that a burst's inserts find their control bytes
    /// in the cache instead of each waiting for them (hashbrown gives no address to
    /// prefetch; a probe that matches nothing reads no slot, and the groups up to the
    /// first with an empty byte: the insert's first, and more only where removals left
    /// tombstones, which the insert would take).
    #[inline(always)]
    pub fn warm_insert(&self, table: KeyTable, hash: u64) {
        std::hint::black_box(self.index(table).find(hash, |_| false));
    }

    /// For up to `count` sessions about to be made in a full table: reads ahead what
    /// recycling the closed sessions they will give up costs, the oldest first (as
    /// [`SessionTable::reusable_transitory`] picks them): each one's line, the
    /// hashbrown groups and slots its removal finds its keys in, and its keys' cache
    /// buckets. Those were last touched when the connection closed, long ago at a full
    /// rate of new flows, and a removal waits for each in turn.
    pub fn warm_recycling(&self, count: usize, prefetch: Prefetch) {
        // First the list, whose lines are read one after the other; then the removals'
        // probes, independent of one another.
        let mut victims = [(0u32, [0u64; 2]); WARM_RECYCLING];
        let mut at = self.lists[CLOSED].head;
        let mut found = 0;
        for victim in victims.iter_mut().take(count) {
            let Some(session) = self.slots.get(at as usize) else {
                break;
            };
            let hashes = [session.in2out_key().hash(), session.out2in_key().hash()];
            self.in2out_cache.prefetch(hashes[0], prefetch);
            self.out2in_cache.prefetch(hashes[1], prefetch);
            *victim = (at, hashes);
            found += 1;
            at = session.next;
        }
        for &(at, [in2out, out2in]) in victims.iter().take(found) {
            std::hint::black_box(self.in2out.find(in2out, |&i| i == at));
            std::hint::black_box(self.out2in.find(out2in, |&i| i == at));
        }
    }

    /// Adds a session heard at `now`. Its keys must be free in both tables; the caller
    /// has looked up the key its packet came with, so `known_free` skips that one.
    pub fn insert(
        &mut self,
        mut session: Session,
        now: u32,
        known_free: KnownFree,
    ) -> Result<u32, InsertError> {
        // The clash check, both tables and both caches need the same two hashes: computed
        // once, not per use (a session's creation is a new connection's critical path).
        let (in2out_key, out2in_key) = (session.in2out_key(), session.out2in_key());
        let (in2out_hash, out2in_hash) = (in2out_key.hash(), out2in_key.hash());
        let in_use =
            |table: KeyTable, key: &SessionKey, hash: u64| self.peek(table, key, hash).0.is_some();
        let clash = match known_free {
            KnownFree::Neither => {
                in_use(KeyTable::In2out, &in2out_key, in2out_hash)
                    || in_use(KeyTable::Out2in, &out2in_key, out2in_hash)
            }
            KnownFree::In2out => in_use(KeyTable::Out2in, &out2in_key, out2in_hash),
            KnownFree::Out2in => in_use(KeyTable::In2out, &in2out_key, in2out_hash),
        };
        if clash {
            return Err(InsertError::KeyInUse);
        }
        session.last_heard = now;
        let index = if self.lists[FREE_LIST].head != NIL {
            let index = self.lists[FREE_LIST].head;
            self.unlink(index);
            index
        } else if (self.slots.len() as u32) < self.capacity {
            self.slots.push(session);
            self.slots.len() as u32 - 1
        } else {
            return Err(InsertError::Full);
        };
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return Err(InsertError::Full);
        };
        session.generation = slot.generation;
        *slot = session;
        let class = usize::from(session.class);
        self.link_tail(class, index);
        let slots = &self.slots;
        self.in2out.insert_unique(in2out_hash, index, |&i| {
            slot_key_hash(slots, i, Session::in2out_key)
        });
        self.out2in.insert_unique(out2in_hash, index, |&i| {
            slot_key_hash(slots, i, Session::out2in_key)
        });
        self.in2out_cache.insert(in2out_hash, index);
        self.out2in_cache.insert(out2in_hash, index);
        Ok(index)
    }

    /// Removes a session and returns it, so the caller can give back its ports.
    pub fn remove(&mut self, index: u32) -> Option<Session> {
        let session = *self.get(index)?;
        if let Ok(entry) = self
            .in2out
            .find_entry(session.in2out_key().hash(), |&i| i == index)
        {
            entry.remove();
        }
        if let Ok(entry) = self
            .out2in
            .find_entry(session.out2in_key().hash(), |&i| i == index)
        {
            entry.remove();
        }
        self.in2out_cache.remove(session.in2out_key().hash(), index);
        self.out2in_cache.remove(session.out2in_key().hash(), index);
        self.unlink(index);
        if let Some(slot) = self.slots.get_mut(index as usize) {
            slot.class = FREE_LIST as u8;
            slot.generation = slot.generation.wrapping_add(1);
        }
        self.link_tail(FREE_LIST, index);
        Some(session)
    }

    /// Accounts a packet of `bytes` at `now`; for TCP, follows the flags (`from_inside`
    /// says which side sent them) and moves the session between the transitory and
    /// established classes. Inline for what most packets need (the counters, and
    /// nothing else for a TCP segment without SYN, FIN or RST heard again in the same
    /// second); the rest out of line.
    #[inline(always)]
    pub fn touch(&mut self, index: u32, now: u32, bytes: u16, tcp_flags: u8, from_inside: bool) {
        let Some(s) = self.slots.get_mut(index as usize) else {
            return;
        };
        // Heard again in the second it was last heard in: the transitory lists order
        // by that second, so it is already where a requeue would keep that order.
        let same_second = s.last_heard == now;
        s.last_heard = now;
        s.packets = s.packets.wrapping_add(1);
        s.bytes = s.bytes.wrapping_add(u64::from(bytes));
        if s.proto != NatProtocol::Tcp
            || (same_second
                && tcp_flags & (tcp_flag::SYN | tcp_flag::FIN | tcp_flag::RST) == 0
                && s.tcp_seen & tcp_seen::RST == 0)
        {
            return;
        }
        self.touch_tcp(index, tcp_flags, from_inside, same_second);
    }

    /// [`SessionTable::touch`]'s TCP state: the flags seen, the class, the lists.
    #[inline(never)]
    fn touch_tcp(&mut self, index: u32, tcp_flags: u8, from_inside: bool, same_second: bool) {
        let Some(s) = self.slots.get_mut(index as usize) else {
            return;
        };
        let mut seen = s.tcp_seen;
        // As VPP's connection tracking: a segment after a reset that is not one reopens
        // the connection (RST_TRANS -> ESTABLISHED once the handshake was seen), and a
        // SYN on a tuple its FINs closed starts a new one (REOPEN_SYN).
        if tcp_flags & tcp_flag::RST == 0 {
            seen &= !tcp_seen::RST;
        }
        if tcp_flags & tcp_flag::SYN != 0 && tcp_seen::closed_by_fins(seen) {
            seen = 0;
        }
        if tcp_flags & tcp_flag::SYN != 0 {
            seen |= if from_inside {
                tcp_seen::SYN_IN
            } else {
                tcp_seen::SYN_OUT
            };
        }
        if tcp_flags & tcp_flag::FIN != 0 {
            seen |= if from_inside {
                tcp_seen::FIN_IN
            } else {
                tcp_seen::FIN_OUT
            };
        }
        if tcp_flags & tcp_flag::RST != 0 {
            seen |= tcp_seen::RST;
        }
        if seen == s.tcp_seen {
            if !same_second {
                let list = usize::from(s.class);
                self.requeue_transitory(list, index);
            }
            return;
        }
        s.tcp_seen = seen;
        let closing = tcp_seen::closed(seen);
        let open =
            seen & (tcp_seen::SYN_IN | tcp_seen::SYN_OUT) == tcp_seen::SYN_IN | tcp_seen::SYN_OUT;
        let list = if closing {
            CLOSED
        } else if open {
            TimeoutClass::TcpEstablished as usize
        } else {
            TRANSITORY
        };
        let old = usize::from(s.class);
        if list != old {
            s.class = list as u8;
            self.move_to(old, list, index);
        } else {
            self.requeue_transitory(list, index);
        }
    }

    /// A heard transitory session (in `list`) goes to the back of its list (unless
    /// [`SessionTable::touch`] finds it heard already in this second), which so stays in
    /// the order of last_heard: its head is the session a full table gives up,
    /// and must be the one heard longest ago, never a flow that has just opened (its
    /// reply would find no session). Transitory sessions see few packets (opening and
    /// closing), so the move costs the fast path little; the other lists are kept in
    /// order lazily, by [`SessionTable::expire`].
    #[inline]
    fn requeue_transitory(&mut self, list: usize, index: u32) {
        if (list == TRANSITORY || list == CLOSED) && self.lists[list].tail != index {
            self.move_to(list, list, index);
        }
    }

    /// The transitory TCP session a full table may give up at `now`: the closed one
    /// heard longest ago, else the unclosed one heard longest ago if it has been idle
    /// [`REUSE_IDLE_SECONDS`]. An unclosed session heard more recently may be a
    /// handshake waiting for its SYN-ACK, which would then find no session and leave
    /// untranslated: the new flow is refused instead (VPP, too, reuses the oldest
    /// session only once it has timed out or closed).
    pub fn reusable_transitory(&self, now: u32) -> Option<u32> {
        let closed = self.lists[CLOSED].head;
        if closed != NIL {
            return Some(closed);
        }
        let head = self.lists[TRANSITORY].head;
        let session = self.slots.get(head as usize)?;
        (now.saturating_sub(session.last_heard) >= REUSE_IDLE_SECONDS).then_some(head)
    }

    /// Frees expired sessions, and those `is_stale` rejects, handing each to `on_free`;
    /// examines at most `budget` heads per class list, and `budget` slots for staleness.
    /// Returns how many timed out and how many were stale.
    ///
    /// The transitory list is in the order of last_heard ([`SessionTable::touch`] moves
    /// a heard session to its back), so its scan stops at the first head still alive. The
    /// other lists are in the order sessions entered them; a head still alive (heard
    /// since) goes to the back, so every session comes up within one pass over its list.
    /// Staleness is swept over the slots in index order, whatever the lists: rotating
    /// the transitory list to find stale sessions would break its order.
    pub fn expire(
        &mut self,
        now: u32,
        timeouts: &NatTimeouts,
        budget: u32,
        mut is_stale: impl FnMut(&Session) -> bool,
        mut on_free: impl FnMut(&Session),
    ) -> (u32, u32) {
        let (mut timed_out, mut stale) = (0, 0);
        for class in LIVE_LISTS {
            let rounds = budget.min(self.lists[class].len);
            for _ in 0..rounds {
                let head = self.lists[class].head;
                let Some(session) = self.slots.get(head as usize) else {
                    break;
                };
                if session.expires_at(timeouts) <= now {
                    if let Some(gone) = self.remove(head) {
                        on_free(&gone);
                        timed_out += 1;
                    }
                } else if class == TRANSITORY || class == CLOSED {
                    break;
                } else {
                    self.move_to(class, class, head);
                }
            }
        }
        let slots = self.slots.len() as u32;
        for _ in 0..budget.min(slots) {
            let index = self.sweep % slots;
            self.sweep = index + 1;
            if self.get(index).is_some_and(&mut is_stale) {
                if let Some(gone) = self.remove(index) {
                    on_free(&gone);
                    stale += 1;
                }
            }
        }
        (timed_out, stale)
    }

    /// How many sessions each expiry list holds, for `show nat44 summary`.
    pub fn list_lengths(&self) -> ListLengths {
        let len = |list: usize| self.lists[list].len;
        ListLengths {
            udp: len(TimeoutClass::Udp as usize),
            tcp_established: len(TimeoutClass::TcpEstablished as usize),
            tcp_transitory: len(TRANSITORY),
            tcp_closed: len(CLOSED),
            icmp: len(TimeoutClass::Icmp as usize),
        }
    }

    /// Indices of the live sessions, for `show` (slow: walks every list).
    pub fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        LIVE_LISTS.into_iter().flat_map(move |class| {
            let mut next = self.lists[class].head;
            std::iter::from_fn(move || {
                let current = next;
                let s = self.slots.get(current as usize)?;
                next = s.next;
                Some(current)
            })
        })
    }

    /// Heap bytes held, for the bytes-per-session figure.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Session>()
            + self.in2out.allocation_size()
            + self.out2in.allocation_size()
            + self.in2out_cache.heap_bytes()
            + self.out2in_cache.heap_bytes()
    }

    /// Bytes the two hash tables have allocated: they change only if a table grows.
    #[cfg(test)]
    fn table_allocation(&self) -> usize {
        self.in2out.allocation_size() + self.out2in.allocation_size()
    }

    fn move_to(&mut self, from: usize, to: usize, index: u32) {
        self.unlink_from(from, index);
        self.link_tail(to, index);
    }

    fn unlink(&mut self, index: u32) {
        if let Some(s) = self.slots.get(index as usize) {
            let list = usize::from(s.class).min(CLOSED);
            self.unlink_from(list, index);
        }
    }

    fn unlink_from(&mut self, list: usize, index: u32) {
        let Some(s) = self.slots.get(index as usize) else {
            return;
        };
        let (prev, next) = (s.prev, s.next);
        match self.slots.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => self.lists[list].head = next,
        }
        match self.slots.get_mut(next as usize) {
            Some(n) => n.prev = prev,
            None => self.lists[list].tail = prev,
        }
        self.lists[list].len -= 1;
    }

    fn link_tail(&mut self, list: usize, index: u32) {
        let tail = self.lists[list].tail;
        if let Some(s) = self.slots.get_mut(index as usize) {
            s.prev = tail;
            s.next = NIL;
        }
        match self.slots.get_mut(tail as usize) {
            Some(t) => t.next = index,
            None => self.lists[list].head = index,
        }
        self.lists[list].tail = index;
        self.lists[list].len += 1;
    }
}

fn slot_key_hash(slots: &[Session], index: u32, key: fn(&Session) -> SessionKey) -> u64 {
    slots.get(index as usize).map_or(0, |s| key(s).hash())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::FastRng;
    use std::collections::HashMap;

    /// A TCP session in a table of its own, inserted at second 0.
    fn one_tcp_session() -> (SessionTable, u32) {
        let mut table = SessionTable::with_capacity(8);
        let session = Session::new(
            NatProtocol::Tcp,
            (Ipv4Addr::new(10, 0, 0, 1), 40000),
            (Ipv4Addr::new(10, 0, 0, 2), 80),
            (Ipv4Addr::new(10, 0, 0, 3), 40000),
            (Ipv4Addr::new(10, 0, 0, 2), 80),
            0,
        );
        let index = table.insert(session, 0, KnownFree::Neither).unwrap();
        (table, index)
    }

    const ACK: u8 = 0x10;

    /// The last ACK of a close (after a FIN each way), or a FIN sent again, is no SYN:
    /// the session stays closed, where a full table gives it up first. Only a SYN
    /// starts the tuple anew.
    #[test]
    fn segments_after_both_fins_leave_the_session_closed() {
        let (mut table, i) = one_tcp_session();
        table.touch(i, 1, 60, tcp_flag::SYN, true);
        table.touch(i, 1, 60, tcp_flag::SYN | ACK, false);
        table.touch(i, 2, 60, tcp_flag::FIN | ACK, true);
        table.touch(i, 3, 60, tcp_flag::FIN | ACK, false);
        assert!(table.get(i).unwrap().is_closed());
        table.touch(i, 4, 60, ACK, true);
        assert!(table.get(i).unwrap().is_closed(), "the last ACK");
        table.touch(i, 5, 60, tcp_flag::FIN | ACK, false);
        assert!(table.get(i).unwrap().is_closed(), "a FIN sent again");
        assert_eq!(table.reusable_transitory(5), Some(i));
    }

    /// A segment from the far end without a SYN does not complete the handshake: the
    /// session stays transitory (a mid-stream or forged ACK must not earn the
    /// established timeout).
    #[test]
    fn only_a_syn_each_way_makes_a_session_established() {
        let (mut table, i) = one_tcp_session();
        table.touch(i, 1, 60, tcp_flag::SYN, true);
        table.touch(i, 2, 60, ACK, false);
        table.touch(i, 3, 60, ACK, true);
        assert_eq!(table.get(i).unwrap().class(), TimeoutClass::TcpTransitory);
        table.touch(i, 4, 60, tcp_flag::SYN | ACK, false);
        assert_eq!(table.get(i).unwrap().class(), TimeoutClass::TcpEstablished);
    }

    /// A segment that is not a reset, heard in the very second of the reset, reopens
    /// the connection as one in a later second does (the same-second fast path must not
    /// skip it).
    #[test]
    fn a_segment_in_the_second_of_a_reset_reopens_the_session() {
        let (mut table, i) = one_tcp_session();
        table.touch(i, 1, 60, tcp_flag::SYN, true);
        table.touch(i, 1, 60, tcp_flag::SYN | ACK, false);
        table.touch(i, 2, 60, tcp_flag::RST, true);
        assert!(table.get(i).unwrap().is_closed());
        table.touch(i, 2, 60, ACK, false);
        assert_eq!(table.get(i).unwrap().class(), TimeoutClass::TcpEstablished);

        // A reset before any handshake, then a segment in the same second.
        let (mut table, i) = one_tcp_session();
        table.touch(i, 1, 60, tcp_flag::RST, false);
        assert!(table.get(i).unwrap().is_closed());
        table.touch(i, 1, 60, ACK, true);
        let s = table.get(i).unwrap();
        assert!(!s.is_closed());
        assert_eq!(s.class(), TimeoutClass::TcpTransitory);
    }

    /// Only a TCP session follows TCP flags: whatever byte a UDP packet's caller hands
    /// `touch`, its session stays in the UDP class and list, with the UDP timeout.
    #[test]
    fn tcp_flags_leave_a_udp_session_udp() {
        let mut table = SessionTable::with_capacity(8);
        let session = Session::new(
            NatProtocol::Udp,
            (Ipv4Addr::new(10, 0, 0, 1), 5353),
            (Ipv4Addr::new(10, 0, 0, 2), 53),
            (Ipv4Addr::new(10, 0, 0, 3), 5353),
            (Ipv4Addr::new(10, 0, 0, 2), 53),
            0,
        );
        let i = table.insert(session, 0, KnownFree::Neither).unwrap();
        table.touch(i, 1, 60, tcp_flag::SYN, true);
        table.touch(i, 2, 60, tcp_flag::SYN | ACK, false);
        table.touch(i, 3, 60, tcp_flag::RST, true);
        let s = table.get(i).unwrap();
        assert_eq!((s.class(), s.is_closed()), (TimeoutClass::Udp, false));
        assert_eq!(table.list_lengths().udp, 1);
        assert_eq!(table.reusable_transitory(100), None);
    }

    /// The same-second fast path of `touch` skips only segments without SYN, FIN or
    /// RST: a segment carrying all three, in the second the session was made, still
    /// resets it (closed, so a full table may give it up at once).
    #[test]
    fn a_reset_with_syn_and_fin_in_the_sessions_second_closes_it() {
        let (mut table, i) = one_tcp_session();
        table.touch(
            i,
            0,
            60,
            tcp_flag::SYN | tcp_flag::FIN | tcp_flag::RST,
            true,
        );
        assert!(table.get(i).unwrap().is_closed());
        assert_eq!(table.reusable_transitory(0), Some(i));
    }

    /// A table holds its capacity and not one session more: with every slot in use and
    /// none freed, an insert is refused, whatever room the slab's allocation has left.
    #[test]
    fn an_insert_beyond_the_capacity_is_refused() {
        let mut table = SessionTable::with_capacity(2);
        let session = |port: u16| {
            Session::new(
                NatProtocol::Udp,
                (Ipv4Addr::new(10, 0, 0, 1), port),
                (Ipv4Addr::new(10, 0, 0, 2), 53),
                (Ipv4Addr::new(10, 0, 0, 3), port),
                (Ipv4Addr::new(10, 0, 0, 2), 53),
                0,
            )
        };
        for port in [1, 2] {
            table.insert(session(port), 0, KnownFree::Neither).unwrap();
        }
        assert_eq!(
            table.insert(session(3), 0, KnownFree::Neither),
            Err(InsertError::Full)
        );
        assert_eq!(table.len(), 2);
        // A freed slot takes the next one.
        table.remove(0);
        assert!(table.insert(session(3), 0, KnownFree::Neither).is_ok());
    }

    /// Random inserts and removals, mostly at the limit, in a table whose lookup caches
    /// are far too small: every find, by either key, agrees with a plain map of the live
    /// sessions, whether the cache answered, said absent, or sent the lookup to the
    /// table; and the tables, churned full of tombstones, never grew.
    #[test]
    fn finds_agree_with_a_map_while_the_caches_overflow() {
        let mut table = SessionTable::with_capacity(600);
        let mut rng = FastRng::new(41);
        let mut live: HashMap<u32, (SessionKey, SessionKey)> = HashMap::new();
        let mut gone: Vec<(SessionKey, SessionKey)> = Vec::new();
        let keys = |s: &Session| (s.in2out_key(), s.out2in_key());
        let allocation = table.table_allocation();
        let addr = |rng: &mut FastRng| Ipv4Addr::from(0x0a00_0000 | (rng.next_u32() & 0xff));
        for step in 0..20_000 {
            if live.len() == 600 || (!live.is_empty() && rng.below(8) == 0) {
                let index = *live
                    .keys()
                    .nth(rng.below(live.len() as u64) as usize)
                    .unwrap();
                let session = keys(&table.remove(index).unwrap());
                assert_eq!(live.remove(&index), Some(session));
                gone.push(session);
            } else {
                let session = Session::new(
                    NatProtocol::Udp,
                    (addr(&mut rng), rng.next_u32() as u16),
                    (addr(&mut rng), 53),
                    (addr(&mut rng), rng.next_u32() as u16),
                    (addr(&mut rng), 53),
                    0,
                );
                if let Ok(index) = table.insert(session, step, KnownFree::Neither) {
                    live.insert(index, keys(table.get(index).unwrap()));
                }
            }
            if step % 100 == 0 {
                for (&index, (in2out, out2in)) in &live {
                    assert_eq!(table.find_in2out(in2out), Some(index));
                    assert_eq!(table.find_out2in(out2in), Some(index));
                }
                // A removed session's keys find nothing, unless a live one has them.
                for (in2out, out2in) in gone.iter().rev().take(50) {
                    let found = table.find_in2out(in2out).map(|i| live[&i].0);
                    assert!(found.is_none_or(|k| k == *in2out));
                    let found = table.find_out2in(out2in).map(|i| live[&i].1);
                    assert!(found.is_none_or(|k| k == *out2in));
                }
            }
        }
        assert_eq!(table.len() as usize, live.len());
        assert_eq!(
            table.table_allocation(),
            allocation,
            "the tables rehashed in place, never grew (an allocation)"
        );
    }

    /// A small table at its limit, driven at random: inserts (TCP and UDP, from a small
    /// key space, so keys collide), packets with any flags from either side, removals,
    /// lookups, and expiry with random budgets and staleness, the clock moving on. After
    /// every step: the transitory list is in last_heard order, every live session is
    /// found by both its keys, and both lookup caches' counts of keys given up are
    /// exact. Then, long after, every session expires.
    #[test]
    fn order_lookups_and_cache_counts_hold_under_churn_and_every_session_expires() {
        let timeouts = NatTimeouts::default();
        let mut table = SessionTable::with_capacity(150);
        let mut rng = FastRng::new(5);
        let mut stale_rng = FastRng::new(6);
        let mut now = 0u32;
        let (mut peak, mut given_up) = (0, 0);
        let check = |table: &SessionTable| -> (Vec<u32>, u32) {
            for list in [TRANSITORY, CLOSED] {
                let (mut previous, mut at, mut length) = (0, table.lists[list].head, 0);
                while let Some(s) = table.slots.get(at as usize) {
                    assert_eq!(usize::from(s.class), list);
                    assert_eq!(list == CLOSED, tcp_seen::closed(s.tcp_seen));
                    assert!(s.last_heard >= previous, "list {list} out of order");
                    (previous, at, length) = (s.last_heard, s.next, length + 1);
                }
                assert_eq!(length, table.lists[list].len);
            }
            let live: Vec<u32> = (0..table.slots.len() as u32)
                .filter(|&i| table.get(i).is_some())
                .collect();
            assert_eq!(live.len() as u32, table.len());
            let keys = |key: fn(&Session) -> SessionKey| -> Vec<(u64, u32)> {
                live.iter()
                    .map(|&i| (key(&table.slots[i as usize]).hash(), i))
                    .collect()
            };
            let given_up = table.in2out_cache.assert_counts(&keys(Session::in2out_key))
                + table.out2in_cache.assert_counts(&keys(Session::out2in_key));
            (live, given_up)
        };
        for _ in 0..60_000 {
            if rng.below(8) == 0 {
                now += rng.below(40) as u32;
            }
            let (live, cached_out) = check(&table);
            (peak, given_up) = (peak.max(live.len()), given_up.max(cached_out));
            let pick = |rng: &mut FastRng| live[rng.below(live.len() as u64) as usize];
            match rng.below(16) {
                0..=6 => {
                    let addr =
                        |rng: &mut FastRng| Ipv4Addr::from(0x0a00_0000 | (rng.next_u32() & 3));
                    let proto = if rng.below(4) == 0 {
                        NatProtocol::Udp
                    } else {
                        NatProtocol::Tcp
                    };
                    let session = Session::new(
                        proto,
                        (addr(&mut rng), rng.below(64) as u16),
                        (addr(&mut rng), 80),
                        (addr(&mut rng), rng.below(64) as u16),
                        (addr(&mut rng), 80),
                        0,
                    );
                    let _ = table.insert(session, now, KnownFree::Neither);
                }
                7..=10 if !live.is_empty() => {
                    let flags = [0u8, 0x02, 0x01, 0x04, 0x10, 0x12][rng.below(6) as usize];
                    table.touch(pick(&mut rng), now, 60, flags, rng.below(2) == 0);
                }
                11 if !live.is_empty() => {
                    table.remove(pick(&mut rng));
                }
                12 if !live.is_empty() => {
                    let i = pick(&mut rng);
                    let session = table.slots[i as usize];
                    assert_eq!(table.find_in2out(&session.in2out_key()), Some(i));
                    assert_eq!(table.find_out2in(&session.out2in_key()), Some(i));
                }
                13 => {
                    let budget = rng.below(6) as u32;
                    table.expire(
                        now,
                        &timeouts,
                        budget,
                        |_| stale_rng.below(400) == 0,
                        |_| {},
                    );
                }
                _ => {}
            }
        }
        assert!(
            peak >= 140 && given_up > 0,
            "at the limit: {peak} sessions, {given_up} keys given up"
        );
        now += 100_000;
        for _ in 0..100_000 {
            if table.is_empty() {
                break;
            }
            table.expire(now, &timeouts, 4, |_| false, |_| {});
        }
        assert!(table.is_empty(), "{} sessions never expired", table.len());
        check(&table);
    }
}
