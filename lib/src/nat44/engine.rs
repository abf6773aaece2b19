//! The per-packet NAT44 engine of one worker: classification, out2in, in2out and
//! in2out-output (SNAT), over the L3 bytes of one packet at a time.

use std::collections::VecDeque;
use std::fmt;
use std::net::Ipv4Addr;

use hashbrown::HashMap;

use super::config::{Mapping, MappingKind, Nat44Config};
use super::fragments::{self, DatagramKey, FirstFragment, Fragments};
use super::ports::{PortAllocator, PortSlice};
use super::rewrite::{self, Flow, ParseError, Side};
use super::session::{flags, InsertError, KeyTable, KnownFree, Session, SessionKey, SessionTable};
use super::types::{NatProtocol, SessionSelector};
use crate::burst::MAX_BURST;
use crate::node::NodeId;
use crate::node_errors;
use crate::packet::Ipv4Packet;
use crate::pipeline::Prefetch;
use crate::rand::FastRng;
use crate::types::IfIndex;

node_errors! {
    /// Why nat44-out2in drops a packet.
    pub enum Out2inError for NodeId::Nat44Out2in {
        NoTranslation => "no translation",
        MaxSessions => "max sessions",
        OutOfPorts => "out of ports",
        Fragment => "fragment before its first (no reassembly)",
        Malformed => "truncated L4 header",
        SessionKeyInUse => "session key in use",
    }
}

node_errors! {
    /// Why nat44-in2out (its slow path) drops a packet.
    pub enum In2outError for NodeId::Nat44In2outSlowpath {
        MaxSessions => "max sessions",
        OutOfPorts => "out of ports",
        Fragment => "fragment before its first (no reassembly)",
        Malformed => "truncated L4 header",
        SessionKeyInUse => "session key in use",
    }
}

node_errors! {
    /// Why nat44-in2out-output (SNAT) drops a packet.
    pub enum In2outOutputError for NodeId::Nat44In2outOutput {
        NonSyn => "non-SYN",
        OutOfPorts => "out of ports",
        MaxSessions => "max sessions",
        Fragment => "fragment before its first (no reassembly)",
        Malformed => "truncated L4 header",
        SessionKeyInUse => "session key in use",
    }
}

/// Which NAT44 node an ingress packet goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatDirection {
    Out2in,
    In2out,
}

/// The index a direction's packets are looked up in.
fn key_table(direction: NatDirection) -> KeyTable {
    match direction {
        NatDirection::Out2in => KeyTable::Out2in,
        NatDirection::In2out => KeyTable::In2out,
    }
}

/// What became of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatVerdict<E> {
    /// Rewritten by the session with this index.
    Translated(u32),
    /// Left as it was: no session or mapping applies (forwarding), an identity mapping,
    /// or a protocol NAT44 does not translate.
    Passed,
    Drop(E),
}

impl<E> NatVerdict<E> {
    pub fn session(&self) -> Option<u32> {
        match self {
            NatVerdict::Translated(s) => Some(*s),
            _ => None,
        }
    }
}

/// `next index` values as VPP 18.01's nodes number them, so traces read like the spec.
pub mod next {
    pub const OUT2IN_DROP: u32 = 0;
    pub const OUT2IN_LOOKUP: u32 = 1;
    pub const OUT2IN_ICMP_ERROR: u32 = 2;
    pub const IN2OUT_LOOKUP: u32 = 0;
    pub const IN2OUT_DROP: u32 = 1;
    pub const IN2OUT_ICMP_ERROR: u32 = 2;
    pub const IN2OUT_SLOW_PATH: u32 = 3;
}

/// `NAT44_OUT2IN: sw_if_index 6, next index 1, session index 5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Out2inTrace {
    pub sw_if_index: IfIndex,
    pub next_index: u32,
    pub session: Option<u32>,
}

impl fmt::Display for Out2inTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NAT44_OUT2IN: sw_if_index {}, next index {}, session index ",
            self.sw_if_index, self.next_index
        )?;
        write_session(f, self.session)
    }
}

/// `NAT44_IN2OUT_FAST_PATH: sw_if_index 2, next index 3, session -1`, or the slow-path
/// line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct In2outTrace {
    pub slow_path: bool,
    pub sw_if_index: IfIndex,
    pub next_index: u32,
    pub session: Option<u32>,
}

impl fmt::Display for In2outTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.slow_path { "SLOW" } else { "FAST" };
        write!(
            f,
            "NAT44_IN2OUT_{path}_PATH: sw_if_index {}, next index {}, session ",
            self.sw_if_index, self.next_index
        )?;
        write_session(f, self.session)
    }
}

fn write_session(f: &mut fmt::Formatter<'_>, session: Option<u32>) -> fmt::Result {
    match session {
        Some(s) => write!(f, "{s}"),
        None => f.write_str("-1"),
    }
}

/// out2in's result and its trace line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Out2inOutcome {
    pub verdict: NatVerdict<Out2inError>,
    pub trace: Out2inTrace,
}

/// in2out's result, its fast-path trace line, and the slow-path line when the packet
/// went there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct In2outOutcome<E> {
    pub verdict: NatVerdict<E>,
    pub fast_path: In2outTrace,
    pub slow_path: Option<In2outTrace>,
}

/// Counters a worker keeps beside the drop reasons.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nat44Counters {
    pub sessions_created: u64,
    pub sessions_expired: u64,
    pub sessions_deleted: u64,
    /// Transitory TCP sessions given up to make room at the limit.
    pub sessions_recycled: u64,
    /// New flows refused at the configured session limit.
    pub session_limit_hits: u64,
    /// New flows refused because every preallocated slot was in use.
    pub table_full_hits: u64,
    pub affinity_full: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct AffinityKey {
    client: Ipv4Addr,
    external: Ipv4Addr,
    external_port: u16,
    proto: NatProtocol,
}

#[derive(Clone, Copy, Debug)]
struct AffinityEntry {
    local: Ipv4Addr,
    local_port: u16,
    /// The sessions that hold it: while any does, it holds (VPP's affinity lock).
    sessions: u32,
    /// Once the last of them is freed, it holds `secs` more (the sticky time).
    expires: u32,
    secs: u32,
}

impl AffinityKey {
    /// The affinity a session of a load-balanced mapping holds ([`flags::AFFINITY`]):
    /// its client and the mapping's external end, as `choose_local` keyed it.
    fn of(session: &Session) -> AffinityKey {
        AffinityKey {
            client: session.out_remote,
            external: session.out_local,
            external_port: session.out_local_port,
            proto: session.proto,
        }
    }
}

/// What a freed session held: its pool ports, and its share of its client's affinity
/// (the last session to go starts the affinity's sticky time at `now`).
fn release_held(
    gone: &Session,
    now: u32,
    snat_ports: &mut PortAllocator,
    twice_nat_ports: &mut PortAllocator,
    affinity: &mut HashMap<AffinityKey, AffinityEntry>,
) {
    if gone.has(flags::DYNAMIC) {
        snat_ports.release(gone.out_local, gone.proto, gone.out_local_port);
    }
    if gone.has(flags::TWICE_NAT) {
        twice_nat_ports.release(gone.in_remote, gone.proto, twice_nat_port(gone));
    }
    if gone.has(flags::AFFINITY) {
        if let Some(entry) = affinity.get_mut(&AffinityKey::of(gone)) {
            entry.sessions = entry.sessions.saturating_sub(1);
            if entry.sessions == 0 {
                entry.expires = now.saturating_add(entry.secs);
            }
        }
    }
}

/// The fragment tables of [`Nat44Worker`]: the ingress nodes', nat44-in2out-output's.
const INGRESS_FRAGMENTS: usize = 0;
const OUTPUT_FRAGMENTS: usize = 1;

/// Sizes of a worker's tables, fixed at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nat44WorkerSizes {
    pub sessions: u32,
    pub affinities: u32,
}

/// One worker's NAT44 state: sessions, its slice of the pools' ports, LB affinity.
pub struct Nat44Worker {
    sessions: SessionTable,
    snat_ports: PortAllocator,
    twice_nat_ports: PortAllocator,
    affinity: HashMap<AffinityKey, AffinityEntry>,
    affinity_queue: VecDeque<AffinityKey>,
    affinity_capacity: usize,
    rng: FastRng,
    pub counters: Nat44Counters,
    /// The warm-up passes' scratch, per packet of the burst: the flow the first pass
    /// parsed, and the hashes of the keys a new session will add to the out2in and
    /// in2out tables (0: none known).
    flows: Box<[Option<Flow>; MAX_BURST]>,
    new_keys: Box<[[u64; 2]; MAX_BURST]>,
    /// First fragments' translations, for the fragments after them: one table for the
    /// ingress nodes (nat44-out2in and nat44-in2out, one per packet), one for
    /// nat44-in2out-output, which sees the same datagram after them under the same key
    /// and must not read or overwrite what they noted ([`Nat44Worker::fragment_table`]).
    fragments: Box<[Fragments; 2]>,
    /// Which of `fragments` the node running now uses.
    fragment_table: usize,
    /// `nat44 forwarding` as of the last [`Nat44Worker::sync_config`].
    forwarding: bool,
}

enum CreateError {
    MaxSessions,
    OutOfPorts,
    KeyInUse,
}

/// Each node names the shared failures in its own error enum.
macro_rules! failures_into {
    ($($node_error:ident),+) => {$(
        impl From<ParseError> for $node_error {
            fn from(e: ParseError) -> Self {
                match e {
                    ParseError::Fragment { .. } => $node_error::Fragment,
                    ParseError::Malformed => $node_error::Malformed,
                }
            }
        }
        impl From<CreateError> for $node_error {
            fn from(e: CreateError) -> Self {
                match e {
                    CreateError::MaxSessions => $node_error::MaxSessions,
                    CreateError::OutOfPorts => $node_error::OutOfPorts,
                    CreateError::KeyInUse => $node_error::SessionKeyInUse,
                }
            }
        }
    )+};
}
failures_into!(Out2inError, In2outError, In2outOutputError);

/// The packet's IPv4 view and flow; `Ok(None)` for what NAT44 leaves alone.
#[allow(clippy::type_complexity)]
#[inline(always)]
fn open(l3: &mut [u8], side: Side) -> Result<Option<(Ipv4Packet<&mut [u8]>, Flow)>, ParseError> {
    let ip = Ipv4Packet::new_checked(l3).map_err(|_| ParseError::Malformed)?;
    Ok(rewrite::parse(&ip, side)?.map(|flow| (ip, flow)))
}

/// What a stage's first warm-up pass read of a packet ([`Nat44Worker::prefetch_bucket`]):
/// its slot in the burst and the hash that pass returned (0: none). The translating call
/// trusts it: it must be what that pass returned for the same bytes, in the same
/// direction, with no other `prefetch_bucket` on the slot in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Warmed {
    pub slot: usize,
    pub hash: u64,
}

/// A packet opened for translation: its view, its flow, and the hash of its flow's key.
type Opened<'a> = (Ipv4Packet<&'a mut [u8]>, Flow, u64);

impl Nat44Worker {
    /// Worker `index` of `count`, its tables sized once here.
    pub fn new(index: u16, count: u16, sizes: Nat44WorkerSizes, seed: u64) -> Self {
        let slice = PortSlice::for_worker(index, count);
        Nat44Worker {
            sessions: SessionTable::with_capacity(sizes.sessions),
            snat_ports: PortAllocator::new(slice),
            twice_nat_ports: PortAllocator::new(slice),
            affinity: HashMap::with_capacity(sizes.affinities as usize),
            affinity_queue: VecDeque::with_capacity(sizes.affinities as usize),
            affinity_capacity: sizes.affinities as usize,
            rng: FastRng::new(seed ^ u64::from(index)),
            counters: Nat44Counters::default(),
            flows: Box::new([None; MAX_BURST]),
            new_keys: Box::new([[0; 2]; MAX_BURST]),
            fragments: Box::new([Fragments::default(), Fragments::default()]),
            fragment_table: INGRESS_FRAGMENTS,
            forwarding: false,
        }
    }

    /// Follows a new configuration snapshot: pool addresses gain or lose port bitmaps.
    /// Allocates; call between bursts when the snapshot changes, never per packet.
    pub fn sync_config(&mut self, config: &Nat44Config) {
        // `nat44 forwarding disable` ends the flows it let through: their bypass
        // sessions would otherwise keep passing them (VPP deletes them all then).
        if self.forwarding && !config.forwarding {
            self.delete_where(|s| s.has(flags::FORWARDING_BYPASS));
        }
        self.forwarding = config.forwarding;
        self.snat_ports.sync(config.pool());
        self.twice_nat_ports.sync(config.twice_nat_pool());
        // A mapping's external port on a pool address is never a dynamic one too (VPP
        // reserves it: "reserve port for address and port pair mapping"); nor is the
        // port of an endpoint on one (a host-network backend on the node's address),
        // so that a reply to a dynamic port is never also an endpoint's traffic.
        let on_pool = |addr: &Ipv4Addr| config.pool().contains(addr);
        let mut reserved: Vec<(Ipv4Addr, NatProtocol, u16)> = Vec::new();
        for m in config
            .mappings()
            .iter()
            .filter(|m| m.external_port.is_some())
        {
            if let Some(port) = m.external_port.filter(|_| on_pool(&m.external_addr)) {
                reserved.push((m.external_addr, m.proto, port));
            }
            if m.kind != crate::nat44::config::MappingKind::Identity {
                let locals = m.locals.iter().filter(|l| on_pool(&l.addr));
                reserved.extend(locals.map(|l| (l.addr, m.proto, l.port)));
            }
        }
        self.snat_ports.reserve(&reserved);
    }

    pub fn session_count(&self) -> u32 {
        self.sessions.len()
    }

    /// The sessions this worker may hold: the configured limit, or its table's size if
    /// smaller.
    pub fn session_limit(&self, config: &Nat44Config) -> u32 {
        config.session_limit.min(self.sessions.capacity())
    }

    pub fn sessions(&self) -> &SessionTable {
        &self.sessions
    }

    pub fn snat_ports(&self) -> &PortAllocator {
        &self.snat_ports
    }

    pub fn twice_nat_ports(&self) -> &PortAllocator {
        &self.twice_nat_ports
    }

    /// Heap bytes per preallocated session slot (slab, both tables), for the bench.
    pub fn bytes_per_session(&self) -> f64 {
        self.sessions.heap_bytes() as f64 / f64::from(self.sessions.capacity().max(1))
    }

    /// Which node an ingress packet on `rx` goes to; `None` when the interface has no
    /// NAT44 role. For in+out interfaces this is VPP ED's classify (contiv-dataplane.md
    /// §5.3): an existing in2out session, then pool and mapping externals.
    #[inline]
    pub fn classify(&self, config: &Nat44Config, rx: IfIndex, l3: &[u8]) -> Option<NatDirection> {
        let role = config.role(rx);
        match (role.inside, role.outside) {
            (false, false) => None,
            (true, false) => Some(NatDirection::In2out),
            (false, true) => Some(NatDirection::Out2in),
            (true, true) => {
                let Ok(ip) = Ipv4Packet::new_checked(l3) else {
                    return Some(NatDirection::In2out);
                };
                if let Ok(Some(flow)) = rewrite::parse(&ip, Side::Inside) {
                    if self.sessions.has_in2out(&key_of(&flow)) {
                        return Some(NatDirection::In2out);
                    }
                }
                if config.is_outside_address(ip.dst()) {
                    Some(NatDirection::Out2in)
                } else {
                    Some(NatDirection::In2out)
                }
            }
        }
    }

    /// `nat44-out2in`: a packet from the outside, `l3` starting at its IPv4 header.
    #[inline]
    pub fn out2in(
        &mut self,
        config: &Nat44Config,
        rx: IfIndex,
        l3: &mut [u8],
        now: u32,
    ) -> Out2inOutcome {
        self.out2in_warmed(config, rx, l3, now, None)
    }

    /// [`Nat44Worker::out2in`] for a packet the stage's first pass read (`warmed`): the
    /// flow it parsed and the hash it computed serve again, unless the pass had none
    /// (see [`Warmed`] for what the caller vouches for).
    #[inline]
    pub fn out2in_warmed(
        &mut self,
        config: &Nat44Config,
        rx: IfIndex,
        l3: &mut [u8],
        now: u32,
        warmed: Option<Warmed>,
    ) -> Out2inOutcome {
        self.fragment_table = INGRESS_FRAGMENTS;
        let verdict = self.out2in_verdict(config, rx, l3, now, warmed);
        self.note_passed_fragment(&verdict, l3, now);
        let next_index = match verdict {
            NatVerdict::Drop(_) => next::OUT2IN_DROP,
            _ => next::OUT2IN_LOOKUP,
        };
        Out2inOutcome {
            verdict,
            trace: Out2inTrace {
                sw_if_index: rx,
                next_index,
                session: verdict.session(),
            },
        }
    }

    /// A burst's first warm-up pass over packet `slot`: parses the packet in `l3` (kept
    /// in the slot for [`Nat44Worker::note_new_out2in`]), asks for the index bucket of its
    /// session key for `direction`, and returns the key's hash for the second pass (None
    /// when the packet has no key: it will not be translated).
    #[inline]
    pub fn prefetch_bucket(
        &mut self,
        slot: usize,
        direction: NatDirection,
        l3: &[u8],
        prefetch: Prefetch,
    ) -> Option<u64> {
        let side = match direction {
            NatDirection::Out2in => Side::Outside,
            NatDirection::In2out => Side::Inside,
        };
        let flow = Ipv4Packet::new_checked(l3)
            .ok()
            .and_then(|ip| rewrite::parse(&ip, side).ok().flatten());
        if let Some(at) = self.flows.get_mut(slot) {
            *at = flow;
        }
        let hash = key_of(&flow?).hash();
        self.sessions
            .prefetch_bucket(key_table(direction), hash, prefetch);
        Some(hash)
    }

    /// `l3` opened for translation from `side`. With `warmed`, the flow the first pass
    /// parsed into its slot and the hash it returned are taken as they are, unchecked:
    /// the stage hands the same bytes to both passes, in the same direction, and nothing
    /// writes them in between. (Checking them would cost the parse this saves: an
    /// alternative that parsed again and kept only the hash measured ~1 ns of the ~3.)
    /// A slot or hash of another packet would have this packet translated by that
    /// packet's flow and session. The IPv4 header is checked again all the same, and the
    /// rewrite checks the L4 header it writes, so no slot can make a view out of bounds.
    #[inline(always)]
    fn open_warmed<'a>(
        &self,
        l3: &'a mut [u8],
        side: Side,
        warmed: Option<Warmed>,
    ) -> Result<Option<Opened<'a>>, ParseError> {
        let parsed = warmed
            .filter(|w| w.hash != 0)
            .and_then(|w| Some((self.flows.get(w.slot).copied().flatten()?, w.hash)));
        if let Some((flow, hash)) = parsed {
            let ip = Ipv4Packet::new_checked(l3).map_err(|_| ParseError::Malformed)?;
            debug_assert_eq!(rewrite::parse(&ip, side), Ok(Some(flow)));
            return Ok(Some((ip, flow, hash)));
        }
        Ok(open(l3, side)?.map(|(ip, flow)| {
            let hash = key_of(&flow).hash();
            (ip, flow, hash)
        }))
    }

    /// The second pass: asks for the session the bucket names, if any, and says whether
    /// it named one.
    #[inline]
    pub fn prefetch_session(&self, direction: NatDirection, hash: u64, prefetch: Prefetch) -> bool {
        self.sessions
            .prefetch_session(key_table(direction), hash, prefetch)
    }

    /// Packet `slot` of the burst, from outside, whose key (hash `hash`) the first pass
    /// found (`new_flow`) and whose bucket named no session: most likely a new flow, whose
    /// session a mapping will create. Notes the keys that session will add, for
    /// [`Nat44Worker::warm_inserts`]: its out2in key, and where the mapping has one local
    /// end and no twice-NAT (so that it is known now) its in2out key, whose cache bucket
    /// is asked for here. `new_flow` false: nothing to note for this slot.
    pub fn note_new_out2in(
        &mut self,
        config: &Nat44Config,
        slot: usize,
        new_flow: bool,
        hash: u64,
        prefetch: Prefetch,
    ) {
        let flow = self.flows.get(slot).copied().flatten();
        let keys = match flow {
            Some(flow) if new_flow => [hash, Self::new_in2out_hash(config, &flow).unwrap_or(0)],
            _ => [0, 0],
        };
        if keys[1] != 0 {
            self.sessions
                .prefetch_bucket(KeyTable::In2out, keys[1], prefetch);
        }
        if let Some(at) = self.new_keys.get_mut(slot) {
            *at = keys;
        }
    }

    /// The keys noted for `slot` (out2in, in2out hashes; 0: none).
    #[cfg(test)]
    pub(crate) fn noted(&self, slot: usize) -> [u64; 2] {
        self.new_keys[slot]
    }

    /// The hash of the in2out key a mapping's session for `flow` (seen from outside) will
    /// have, if it can be known before the session is made.
    fn new_in2out_hash(config: &Nat44Config, flow: &Flow) -> Option<u64> {
        let (_, mapping) = config.mapping_by_external(flow.local.0, flow.local.1, flow.proto)?;
        let [local] = mapping.locals.as_slice() else {
            return None;
        };
        let client = flow.remote;
        let (local_addr, local_port) = mapping.local_end((local.addr, local.port), flow.local.1);
        if mapping.kind == MappingKind::Identity || mapping.twice_nat_for(client.0, local_addr) {
            return None;
        }
        // As create_mapping_session makes it.
        let key = SessionKey {
            local: local_addr,
            remote: client.0,
            local_port,
            remote_port: client.1,
            proto: flow.proto,
        };
        Some(key.hash())
    }

    /// The last warm-up pass over the first `n` packets: in a full table, reads ahead
    /// what recycling a session for each noted new flow costs
    /// ([`SessionTable::warm_recycling`]); then reads the hashbrown groups the noted
    /// keys' inserts will probe. A pass of its own, so that its reads (which, unlike
    /// prefetches, wait) are few instructions apart and overlap one another.
    pub fn warm_inserts(&self, config: &Nat44Config, n: usize, prefetch: Prefetch) {
        let new = self.new_keys.iter().take(n).filter(|k| k[0] != 0).count() as u32;
        let over = (self.sessions.len() + new).saturating_sub(self.session_limit(config));
        if over > 0 {
            self.sessions
                .warm_recycling(over.min(new) as usize, prefetch);
        }
        for &[out2in, in2out] in self.new_keys.iter().take(n) {
            if out2in != 0 {
                self.sessions.warm_insert(KeyTable::Out2in, out2in);
            }
            if in2out != 0 {
                self.sessions.warm_insert(KeyTable::In2out, in2out);
            }
        }
    }

    /// The live session with `key` in `table`, for the flow cache; changes nothing.
    pub fn find_session(&self, table: KeyTable, key: &SessionKey) -> Option<u32> {
        self.sessions.peek_key(table, key)
    }

    /// Session `index`, if it is live and still the one of `generation`.
    #[inline(always)]
    pub fn live_session(&self, index: u32, generation: u32) -> Option<&Session> {
        self.sessions
            .get(index)
            .filter(|s| s.generation() == generation)
    }

    /// A packet translated by session `index` through the flow cache: what a hit in
    /// [`Nat44Worker::out2in`] or [`Nat44Worker::in2out`] accounts.
    #[inline(always)]
    pub fn hit_session(
        &mut self,
        index: u32,
        now: u32,
        length: u16,
        tcp_flags: u8,
        from_inside: bool,
    ) {
        self.sessions
            .touch(index, now, length, tcp_flags, from_inside);
    }

    /// Where session `index` lives, for a prefetch.
    #[inline(always)]
    pub fn session_address(&self, index: u32) -> Option<*const u8> {
        self.sessions.address(index)
    }

    fn out2in_verdict(
        &mut self,
        config: &Nat44Config,
        rx: IfIndex,
        l3: &mut [u8],
        now: u32,
        warmed: Option<Warmed>,
    ) -> NatVerdict<Out2inError> {
        let (mut ip, flow, hash) = match self.open_warmed(l3, Side::Outside, warmed) {
            Ok(Some(opened)) => opened,
            Ok(None) => return NatVerdict::Passed,
            Err(ParseError::Fragment { src, dst }) => {
                if let Some(verdict) = self.later_fragment(l3, now) {
                    return verdict;
                }
                // A fragment of a flow NAT44 has no part in goes as that flow would.
                if !config.may_translate_fragment(src, dst) {
                    return self.no_match(config);
                }
                return NatVerdict::Drop(Out2inError::Fragment);
            }
            Err(e) => return NatVerdict::Drop(e.into()),
        };
        let length = ip.total_len();
        if let Some(index) = self.sessions.find_out2in_hashed(&key_of(&flow), hash) {
            return self.translate(&mut ip, Side::Outside, &flow, index, length, now);
        }
        self.out2in_miss(config, rx, &mut ip, &flow, length, now)
    }

    /// [`Nat44Worker::out2in_verdict`] without a session. Out of line, so that a session
    /// hit does not set up the frame that a session creation needs.
    #[inline(never)]
    fn out2in_miss(
        &mut self,
        config: &Nat44Config,
        rx: IfIndex,
        ip: &mut Ipv4Packet<&mut [u8]>,
        flow: &Flow,
        length: u16,
        now: u32,
    ) -> NatVerdict<Out2inError> {
        if flow.is_icmp_error {
            return self.no_match(config);
        }
        let Some((_, mapping)) = config.mapping_by_external(flow.local.0, flow.local.1, flow.proto)
        else {
            // Nothing translates it: with forwarding on it passes; arriving by an
            // output-feature interface, it first gets a forwarding-bypass session (VPP's
            // create_bypass_for_fwd), an identity translation whose in2out key is the
            // flow's reply, so that nat44-in2out-output lets the reply leave untranslated
            // rather than SNAT it (a connection from outside to a pod, a ping, through
            // the node's uplink). VPP makes one for every such packet on any outside
            // interface; only there can a reply meet SNAT. Not for a pool address (its
            // ports are SNAT's to give); at the session limit the packet passes without
            // one, as in VPP.
            if !config.forwarding
                || !config.role(rx).output_feature
                || config.is_pool_address(flow.local.0)
            {
                return self.no_match(config);
            }
            let session = Session::new(
                flow.proto,
                flow.local,
                flow.remote,
                flow.local,
                flow.remote,
                flags::FORWARDING_BYPASS,
            );
            if self.make_room(config, now).is_err() {
                return NatVerdict::Passed;
            }
            return match self.insert(session, now, KnownFree::Out2in) {
                Ok(index) => self.translate(ip, Side::Outside, flow, index, length, now),
                Err(_) => NatVerdict::Passed,
            };
        };
        if mapping.kind == MappingKind::Identity {
            return NatVerdict::Passed;
        }
        match self.create_mapping_session(config, mapping, flow, now, KnownFree::Out2in) {
            Ok(index) => self.translate(ip, Side::Outside, flow, index, length, now),
            Err(e) => NatVerdict::Drop(e.into()),
        }
    }

    /// A non-first fragment of a datagram whose first fragment was translated (or
    /// passed) within the timeout: the same addresses, no ports (it has none). `None`
    /// when its first fragment was not seen: it then goes as the callers say.
    fn later_fragment<E>(&mut self, l3: &mut [u8], now: u32) -> Option<NatVerdict<E>> {
        let mut ip = Ipv4Packet::new_checked(l3).ok()?;
        let table = self.fragments.get(self.fragment_table)?;
        let first = table.find(&DatagramKey::of(&ip), now)?;
        if first.session == fragments::PASSED {
            return Some(NatVerdict::Passed);
        }
        let session = self.live_session(first.session, first.generation)?;
        let (src, dst) = match first.side {
            Side::Outside => (session.in_remote, session.in_local),
            Side::Inside => (session.out_local, session.out_remote),
        };
        ip.set_src_patching_checksum(src);
        ip.set_dst_patching_checksum(dst);
        let length = ip.total_len();
        let from_inside = first.side == Side::Inside;
        self.sessions
            .touch(first.session, now, length, 0, from_inside);
        Some(NatVerdict::Translated(first.session))
    }

    /// A first fragment that passed untranslated: the fragments after it pass too.
    fn note_passed_fragment<E>(&mut self, verdict: &NatVerdict<E>, l3: &[u8], now: u32) {
        // Most packets are no first fragments: the more-fragments flag says so before
        // any view is made.
        use crate::packet::ipv4::{field, FLAG_MORE_FRAGMENTS};
        let flags = l3
            .get(field::FLAGS_FRAG.start)
            .map_or(0, |&b| u16::from(b) << 8);
        let more_fragments = flags & FLAG_MORE_FRAGMENTS != 0;
        if !matches!(verdict, NatVerdict::Passed) || !more_fragments {
            return;
        }
        let Ok(ip) = Ipv4Packet::new_checked(l3) else {
            return;
        };
        if ip.more_fragments() && !ip.is_non_first_fragment() {
            let key = DatagramKey::of(&ip);
            if let Some(table) = self.fragments.get_mut(self.fragment_table) {
                let passed = FirstFragment {
                    session: fragments::PASSED,
                    generation: 0,
                    side: Side::Inside,
                };
                table.note(key, passed, now);
            }
        }
    }

    fn no_match(&self, config: &Nat44Config) -> NatVerdict<Out2inError> {
        if config.forwarding {
            NatVerdict::Passed
        } else {
            NatVerdict::Drop(Out2inError::NoTranslation)
        }
    }

    /// `nat44-in2out` on an inside interface. Sessions a mapping created are the slow
    /// path's (as in the spec's trace, where VPP 18.01's fast path knew only dynamic
    /// sessions): their replies trace fast `-1`, then slow with the session.
    /// Without routing, so a new flow from a static mapping's local end is never
    /// translated here (see [`Nat44Worker::in2out_routed`]).
    #[inline]
    pub fn in2out(
        &mut self,
        config: &Nat44Config,
        rx: IfIndex,
        l3: &mut [u8],
        now: u32,
    ) -> In2outOutcome<In2outError> {
        self.in2out_routed(config, rx, l3, now, &|_| false, None)
    }

    /// [`Nat44Worker::in2out`], where `routes_out` says whether a destination routes out
    /// of an outside interface (the stage asks the FIB): with forwarding off, a new flow
    /// from a static mapping's local end to such a destination gets a static session, as
    /// VPP's in2out slow path gives it (its snat_not_translate); any other new flow
    /// passes.
    /// With `warmed`, for a packet the stage's first pass read, as
    /// [`Nat44Worker::out2in_warmed`].
    #[inline]
    pub fn in2out_routed(
        &mut self,
        config: &Nat44Config,
        rx: IfIndex,
        l3: &mut [u8],
        now: u32,
        routes_out: &dyn Fn(Ipv4Addr) -> bool,
        warmed: Option<Warmed>,
    ) -> In2outOutcome<In2outError> {
        self.fragment_table = INGRESS_FRAGMENTS;
        let (verdict, slow) = self.in2out_verdict(config, l3, now, routes_out, warmed);
        self.note_passed_fragment(&verdict, l3, now);
        in2out_outcome(rx, verdict, slow)
    }

    fn in2out_verdict(
        &mut self,
        config: &Nat44Config,
        l3: &mut [u8],
        now: u32,
        routes_out: &dyn Fn(Ipv4Addr) -> bool,
        warmed: Option<Warmed>,
    ) -> (NatVerdict<In2outError>, bool) {
        let (mut ip, flow, hash) = match self.open_warmed(l3, Side::Inside, warmed) {
            Ok(Some(opened)) => opened,
            Ok(None) => return (NatVerdict::Passed, true),
            Err(ParseError::Fragment { src, dst }) => {
                if let Some(verdict) = self.later_fragment(l3, now) {
                    return (verdict, true);
                }
                // A fragment of a flow NAT44 has no part in passes, as that flow would.
                if !config.may_translate_fragment(src, dst) {
                    return (NatVerdict::Passed, true);
                }
                return (NatVerdict::Drop(In2outError::Fragment), true);
            }
            Err(e) => return (NatVerdict::Drop(e.into()), true),
        };
        let length = ip.total_len();
        if let Some(index) = self.sessions.find_in2out_hashed(&key_of(&flow), hash) {
            let slow = self
                .sessions
                .get(index)
                .is_some_and(|s| s.has(flags::STATIC));
            return (
                self.translate(&mut ip, Side::Inside, &flow, index, length, now),
                slow,
            );
        }
        self.in2out_miss(config, &mut ip, &flow, length, now, routes_out)
    }

    /// [`Nat44Worker::in2out_verdict`] without a session, out of line as
    /// [`Nat44Worker::out2in_miss`] is.
    #[inline(never)]
    fn in2out_miss(
        &mut self,
        config: &Nat44Config,
        ip: &mut Ipv4Packet<&mut [u8]>,
        flow: &Flow,
        length: u16,
        now: u32,
        routes_out: &dyn Fn(Ipv4Addr) -> bool,
    ) -> (NatVerdict<In2outError>, bool) {
        // Hairpinning: an inside host to a service VIP through an in-only interface.
        let destination = rewrite::Flow {
            local: flow.remote,
            remote: flow.local,
            ..*flow
        };
        if !flow.is_icmp_error {
            // The client's later packets: its session is keyed by the service's side
            // (external end, client) there, not by this packet's inside view.
            if let Some(index) = self.sessions.find_out2in(&key_of(&destination)) {
                let verdict = self.translate(ip, Side::Outside, &destination, index, length, now);
                return (verdict, true);
            }
            if let Some((_, mapping)) =
                config.mapping_by_external(flow.remote.0, flow.remote.1, flow.proto)
            {
                if mapping.kind != MappingKind::Identity {
                    let verdict = match self.create_mapping_session(
                        config,
                        mapping,
                        &destination,
                        now,
                        KnownFree::Neither,
                    ) {
                        Ok(index) => {
                            self.translate(ip, Side::Outside, &destination, index, length, now)
                        }
                        Err(e) => NatVerdict::Drop(e.into()),
                    };
                    return (verdict, true);
                }
            }
        }
        // From a static mapping's local end, leaving by an outside interface: the
        // mapping's external address. (Not to another inside host, and not with
        // forwarding on: then VPP does not translate, and neither does this.)
        let static_source = (!config.forwarding && routes_out(flow.remote.0))
            .then(|| self.static_source(config, flow))
            .flatten();
        if let Some(mapping) = static_source {
            let verdict = match self.create_static_in2out_session(config, mapping, flow, now) {
                Ok(index) => self.translate(ip, Side::Inside, flow, index, length, now),
                Err(e) => NatVerdict::Drop(e.into()),
            };
            return (verdict, true);
        }
        // No session: forwarding passes it; without forwarding VPP would SNAT only what
        // routes out of an outside interface, which in2out-output does here.
        (NatVerdict::Passed, true)
    }

    /// The static mapping whose local end sent `flow` (seen from inside), if it
    /// translates flows that start inside: not an identity mapping, not out2in-only, and
    /// not for an ICMP error (which only follows an existing session).
    fn static_source<'c>(&self, config: &'c Nat44Config, flow: &Flow) -> Option<&'c Mapping> {
        if flow.is_icmp_error {
            return None;
        }
        let mapping = config.mapping_by_local(flow.local.0, flow.local.1, flow.proto)?;
        (mapping.kind != MappingKind::Identity && !mapping.out2in_only).then_some(mapping)
    }

    /// `nat44-in2out-output`: dynamic SNAT of a packet leaving through an output-feature
    /// interface (`rx` is only for the trace, as VPP prints the RX interface).
    #[inline]
    pub fn in2out_output(
        &mut self,
        config: &Nat44Config,
        rx: IfIndex,
        l3: &mut [u8],
        now: u32,
    ) -> In2outOutcome<In2outOutputError> {
        self.fragment_table = OUTPUT_FRAGMENTS;
        let (verdict, slow) = self.in2out_output_verdict(config, l3, now);
        self.note_passed_fragment(&verdict, l3, now);
        in2out_outcome(rx, verdict, slow)
    }

    fn in2out_output_verdict(
        &mut self,
        config: &Nat44Config,
        l3: &mut [u8],
        now: u32,
    ) -> (NatVerdict<In2outOutputError>, bool) {
        let (mut ip, flow) = match open(l3, Side::Inside) {
            Ok(Some(opened)) => opened,
            Ok(None) => return (NatVerdict::Passed, true),
            Err(ParseError::Fragment { .. }) => {
                let verdict = self.later_fragment(l3, now);
                return (
                    verdict.unwrap_or(NatVerdict::Drop(In2outOutputError::Fragment)),
                    true,
                );
            }
            Err(e) => return (NatVerdict::Drop(e.into()), true),
        };
        let length = ip.total_len();
        let key = key_of(&flow);
        if let Some(index) = self.sessions.find_in2out(&key) {
            return (
                self.translate(&mut ip, Side::Inside, &flow, index, length, now),
                false,
            );
        }
        // Already translated (a reply un-DNATed on its way in, now leaving): its (src, dst)
        // is some session's outside view.
        if self.sessions.find_out2in(&key).is_some() || flow.is_icmp_error {
            return (NatVerdict::Passed, true);
        }
        let (src, src_port) = flow.local;
        let mapping = config.mapping_by_local(src, src_port, flow.proto);
        // An out2in-only mapping applies to sessions started outside only: a flow its
        // local end starts is SNATed like any other (vpp-agent sets out2in-only on every
        // service so that backends reach the Internet as pods do).
        if let Some(mapping) = mapping.filter(|m| !m.out2in_only) {
            if mapping.kind == MappingKind::Identity {
                return (NatVerdict::Passed, true);
            }
            // A flow from a mapping's local end leaves from its external address, not
            // from the pool (VPP's static mapping match in the in2out slow path).
            let verdict = match self.create_static_in2out_session(config, mapping, &flow, now) {
                Ok(index) => self.translate(&mut ip, Side::Inside, &flow, index, length, now),
                Err(e) => NatVerdict::Drop(e.into()),
            };
            return (verdict, true);
        }
        if flow.proto == NatProtocol::Tcp && flow.tcp_flags & crate::packet::TcpFlags::SYN == 0 {
            return (NatVerdict::Drop(In2outOutputError::NonSyn), true);
        }
        let verdict = match self.create_snat_session(config, &flow, now) {
            Ok(index) => self.translate(&mut ip, Side::Inside, &flow, index, length, now),
            Err(e) => NatVerdict::Drop(e.into()),
        };
        (verdict, true)
    }

    /// Applies session `index` to the packet and accounts it.
    #[inline]
    fn translate<E>(
        &mut self,
        ip: &mut Ipv4Packet<&mut [u8]>,
        side: Side,
        flow: &Flow,
        index: u32,
        length: u16,
        now: u32,
    ) -> NatVerdict<E> {
        let Some(session) = self.sessions.get(index) else {
            return NatVerdict::Passed;
        };
        // A first fragment (only those are parsed): the fragments after it will need
        // this translation, found under the datagram as it arrived.
        if ip.more_fragments() && !flow.is_icmp_error {
            let generation = session.generation();
            if let Some(table) = self.fragments.get_mut(self.fragment_table) {
                let first = FirstFragment {
                    session: index,
                    generation,
                    side,
                };
                table.note(DatagramKey::of(ip), first, now);
            }
        }
        let (new_local, new_remote) = match side {
            Side::Outside => (
                (session.in_local, session.in_local_port),
                (session.in_remote, session.in_remote_port),
            ),
            Side::Inside => (
                (session.out_local, session.out_local_port),
                (session.out_remote, session.out_remote_port),
            ),
        };
        match session.deltas(side, flow) {
            // A TCP or UDP packet its key found: the session's own checksum changes.
            Some(deltas) => {
                let (new_src, new_dst) = match side {
                    Side::Inside => (new_local, new_remote),
                    Side::Outside => (new_remote, new_local),
                };
                rewrite::rewrite_with(ip, flow.proto, new_src, new_dst, deltas);
            }
            None => rewrite::rewrite(ip, side, flow, new_local, new_remote),
        }
        if !flow.is_icmp_error {
            self.sessions
                .touch(index, now, length, flow.tcp_flags, side == Side::Inside);
        }
        NatVerdict::Translated(index)
    }

    /// A session for a new flow to a mapping's external; `flow` is seen from outside.
    /// A packet from outside missed the new out2in key; a hairpinned one looked up
    /// neither key.
    fn create_mapping_session(
        &mut self,
        config: &Nat44Config,
        mapping: &Mapping,
        flow: &Flow,
        now: u32,
        known_free: KnownFree,
    ) -> Result<u32, CreateError> {
        let client = flow.remote;
        let (chosen, affinity) = self.choose_local(mapping, client.0, now);
        let (local_addr, mut local_port) = mapping.local_end(chosen, flow.local.1);
        self.make_room(config, now)?;
        let twice_nat = mapping.twice_nat_for(client.0, local_addr);
        let mut session_flags = flags::STATIC;
        if mapping.kind == MappingKind::LoadBalanced {
            session_flags |= flags::LOAD_BALANCED;
        }
        let in_remote = if twice_nat {
            let random = self.rng.next_u32();
            let (addr, port) = self
                .twice_nat_ports
                .allocate(flow.proto, client.0.to_bits(), random)
                .ok_or(CreateError::OutOfPorts)?;
            session_flags |= flags::TWICE_NAT;
            // An echo has one identifier, the local end's "port" (the remote's is 0):
            // behind the pool address it is the pool's port, so that two clients'
            // echoes with the same identifier stay two flows to the endpoint (VPP
            // allocates the identifier so too).
            if flow.proto == NatProtocol::Icmp {
                local_port = port;
                (addr, 0)
            } else {
                (addr, port)
            }
        } else {
            client
        };
        // The session holds its client's affinity while it lives (released, should the
        // insert fail, with the rest it holds).
        if let Some(entry) = affinity.and_then(|key| self.affinity.get_mut(&key)) {
            entry.sessions += 1;
            session_flags |= flags::AFFINITY;
        }
        let session = Session::new(
            flow.proto,
            (local_addr, local_port),
            in_remote,
            flow.local,
            client,
            session_flags,
        );
        self.insert(session, now, known_free)
    }

    /// A session for a new flow from a static mapping's local end; `flow` is seen from
    /// inside. The source becomes the mapping's external address and port (an
    /// address-only mapping, or an echo's identifier, keeps the port); the remote end
    /// stays. No SYN is asked of a TCP opener: unlike a pool port, the translation is
    /// fixed, so a flow whose session expired mid-connection gets it back.
    fn create_static_in2out_session(
        &mut self,
        config: &Nat44Config,
        mapping: &Mapping,
        flow: &Flow,
        now: u32,
    ) -> Result<u32, CreateError> {
        self.make_room(config, now)?;
        let port = match (flow.proto, mapping.external_port) {
            (NatProtocol::Icmp, _) | (_, None) => flow.local.1,
            (_, Some(port)) => port,
        };
        let mut session_flags = flags::STATIC;
        if mapping.kind == MappingKind::LoadBalanced {
            session_flags |= flags::LOAD_BALANCED;
        }
        let session = Session::new(
            flow.proto,
            flow.local,
            flow.remote,
            (mapping.external_addr, port),
            flow.remote,
            session_flags,
        );
        self.insert(session, now, KnownFree::In2out)
    }

    /// A dynamic SNAT session; `flow` is seen from inside.
    fn create_snat_session(
        &mut self,
        config: &Nat44Config,
        flow: &Flow,
        now: u32,
    ) -> Result<u32, CreateError> {
        self.make_room(config, now)?;
        let random = self.rng.next_u32();
        let (addr, port) = self
            .snat_ports
            .allocate(flow.proto, flow.local.0.to_bits(), random)
            .ok_or(CreateError::OutOfPorts)?;
        let session = Session::new(
            flow.proto,
            flow.local,
            flow.remote,
            (addr, port),
            flow.remote,
            flags::DYNAMIC,
        );
        self.insert(session, now, KnownFree::In2out)
    }

    fn insert(
        &mut self,
        session: Session,
        now: u32,
        known_free: KnownFree,
    ) -> Result<u32, CreateError> {
        match self.sessions.insert(session, now, known_free) {
            Ok(index) => {
                self.counters.sessions_created += 1;
                Ok(index)
            }
            Err(e) => {
                self.release_held(&session, now);
                match e {
                    InsertError::Full => {
                        self.counters.table_full_hits += 1;
                        Err(CreateError::MaxSessions)
                    }
                    InsertError::KeyInUse => Err(CreateError::KeyInUse),
                }
            }
        }
    }

    /// At the limit (the configured one or the table's), gives up the transitory TCP
    /// session heard longest ago (the head of its list, which is kept in the order of
    /// last_heard: [`SessionTable::expire`]), if it may be given up at `now`
    /// ([`SessionTable::reusable_transitory`]).
    fn make_room(&mut self, config: &Nat44Config, now: u32) -> Result<(), CreateError> {
        if self.sessions.len() < self.session_limit(config) {
            return Ok(());
        }
        let Some(oldest) = self.sessions.reusable_transitory(now) else {
            if config.session_limit <= self.sessions.capacity() {
                self.counters.session_limit_hits += 1;
            } else {
                self.counters.table_full_hits += 1;
            }
            return Err(CreateError::MaxSessions);
        };
        if let Some(gone) = self.sessions.remove(oldest) {
            self.release_held(&gone, now);
            self.counters.sessions_recycled += 1;
        }
        Ok(())
    }

    fn release_held(&mut self, session: &Session, now: u32) {
        release_held(
            session,
            now,
            &mut self.snat_ports,
            &mut self.twice_nat_ports,
            &mut self.affinity,
        );
    }

    /// A mapping's local for a new flow from `client`: the remembered one under affinity,
    /// else a weighted random draw (`1 + random % total`, first prefix sum reaching it).
    fn choose_local(
        &mut self,
        mapping: &Mapping,
        client: Ipv4Addr,
        now: u32,
    ) -> ((Ipv4Addr, u16), Option<AffinityKey>) {
        let fallback = mapping
            .locals
            .first()
            .map_or((Ipv4Addr::UNSPECIFIED, 0), |l| (l.addr, l.port));
        if mapping.locals.len() <= 1 {
            return (fallback, None);
        }
        let key = AffinityKey {
            client,
            external: mapping.external_addr,
            external_port: mapping.external_port.unwrap_or(0),
            proto: mapping.proto,
        };
        if mapping.affinity_secs > 0 {
            if let Some(entry) = self.affinity.get(&key) {
                let still_local = mapping
                    .locals
                    .iter()
                    .any(|l| l.addr == entry.local && l.port == entry.local_port);
                // Held while a session of the client holds it, then for its sticky time.
                if (entry.sessions > 0 || entry.expires > now) && still_local {
                    return ((entry.local, entry.local_port), Some(key));
                }
            }
        }
        let total = mapping.prefix_sums.last().copied().unwrap_or(0);
        let chosen = if total == 0 {
            fallback
        } else {
            let draw = 1 + (self.rng.next_u32() % total);
            let at = mapping.prefix_sums.partition_point(|&sum| sum < draw);
            mapping
                .locals
                .get(at)
                .map_or(fallback, |l| (l.addr, l.port))
        };
        if mapping.affinity_secs == 0 {
            return (chosen, None);
        }
        let entry = AffinityEntry {
            local: chosen.0,
            local_port: chosen.1,
            sessions: 0,
            expires: now.saturating_add(mapping.affinity_secs),
            secs: mapping.affinity_secs,
        };
        if let Some(existing) = self.affinity.get_mut(&key) {
            // Sessions to an endpoint no longer in the mapping still count until they go.
            *existing = AffinityEntry {
                sessions: existing.sessions,
                ..entry
            };
        } else if self.affinity.len() < self.affinity_capacity {
            self.affinity.insert(key, entry);
            self.affinity_queue.push_back(key);
        } else {
            self.counters.affinity_full += 1;
            return (chosen, None);
        }
        (chosen, Some(key))
    }

    /// Reclaims expired sessions, sessions whose mapping is gone, and expired
    /// affinities, examining at most `budget` heads of each expiry list and `budget`
    /// slots for staleness ([`SessionTable::expire`]); call once per burst (or on a
    /// timer). Returns sessions freed.
    pub fn expire(&mut self, config: &Nat44Config, now: u32, budget: u32) -> u32 {
        let Nat44Worker {
            sessions,
            snat_ports,
            twice_nat_ports,
            affinity,
            ..
        } = self;
        // A session of a mapping since deleted or changed would keep sending its flow to
        // the old endpoint until it times out (VPP-1317); one whose pool address was
        // deleted would keep translating to it (VPP deletes those sessions with the
        // address). Each goes when the sweep over the slots comes to it.
        let stale = |s: &Session| {
            (s.has(flags::DYNAMIC) && !config.pool().contains(&s.out_local))
                || (s.has(flags::TWICE_NAT) && !config.twice_nat_pool().contains(&s.in_remote))
                || s.has(flags::STATIC)
                    && !config
                        .mapping_by_external(s.out_local, s.out_local_port, s.proto)
                        .is_some_and(|(_, m)| {
                            m.kind != MappingKind::Identity
                                && m.locals.iter().any(|l| {
                                    l.addr == s.in_local
                                        && (m.is_address_only() || l.port == s.in_local_port)
                                })
                        })
        };
        let (timed_out, stale) = sessions.expire(now, &config.timeouts, budget, stale, |gone| {
            release_held(gone, now, snat_ports, twice_nat_ports, affinity);
        });
        // What a configuration change ended counts as deleted, as VPP's deletions by
        // mapping or address do: only timeouts are expiries.
        self.counters.sessions_expired += u64::from(timed_out);
        self.counters.sessions_deleted += u64::from(stale);
        let freed = timed_out + stale;
        for _ in 0..budget.min(self.affinity_queue.len() as u32) {
            let Some(key) = self.affinity_queue.pop_front() else {
                break;
            };
            match self.affinity.get(&key) {
                Some(entry) if entry.sessions == 0 && entry.expires <= now => {
                    self.affinity.remove(&key);
                }
                Some(_) => self.affinity_queue.push_back(key),
                None => {}
            }
        }
        freed
    }

    pub fn affinity_count(&self) -> usize {
        self.affinity.len()
    }

    /// `nat44 del session in|out ...`: deletes the sessions `which` names and says how
    /// many; walks every session (a control operation, not per packet).
    pub fn delete_sessions(&mut self, which: &SessionSelector) -> usize {
        let matches = |s: &Session| {
            // The flow as that side sees it: its local end and the remote one.
            let key = match which.side {
                Side::Inside => s.in2out_key(),
                Side::Outside => s.out2in_key(),
            };
            key.proto == which.proto
                && (key.local, key.local_port) == which.local
                && which
                    .external_host
                    .is_none_or(|host| host == (key.remote, key.remote_port))
        };
        self.delete_where(matches)
    }

    /// `clear nat44 sessions`: deletes every session, as `nat44 del session` deletes
    /// one (ports given back, counted deleted); says how many.
    pub fn clear_sessions(&mut self) -> usize {
        self.delete_where(|_| true)
    }

    /// Deletes every session `doomed` picks; walks them all (control work only).
    fn delete_where(&mut self, doomed: impl Fn(&Session) -> bool) -> usize {
        let doomed: Vec<u32> = self
            .sessions
            .indices()
            .filter(|i| self.sessions.get(*i).is_some_and(&doomed))
            .collect();
        for index in &doomed {
            if let Some(gone) = self.sessions.remove(*index) {
                // No clock here: its sticky time runs from when it was last heard.
                let now = gone.last_heard;
                self.release_held(&gone, now);
                self.counters.sessions_deleted += 1;
            }
        }
        doomed.len()
    }
}

fn in2out_outcome<E: Copy>(rx: IfIndex, verdict: NatVerdict<E>, slow: bool) -> In2outOutcome<E> {
    let next_index = match verdict {
        NatVerdict::Drop(_) => next::IN2OUT_DROP,
        _ => next::IN2OUT_LOOKUP,
    };
    if slow {
        In2outOutcome {
            verdict,
            fast_path: In2outTrace {
                slow_path: false,
                sw_if_index: rx,
                next_index: next::IN2OUT_SLOW_PATH,
                session: None,
            },
            slow_path: Some(In2outTrace {
                slow_path: true,
                sw_if_index: rx,
                next_index,
                session: verdict.session(),
            }),
        }
    } else {
        In2outOutcome {
            verdict,
            fast_path: In2outTrace {
                slow_path: false,
                sw_if_index: rx,
                next_index,
                session: verdict.session(),
            },
            slow_path: None,
        }
    }
}

#[inline]
/// The twice-NAT pool port a twice-NAT session holds: its inside remote's, or for an echo
/// its identifier behind the pool address (the inside local end's "port").
fn twice_nat_port(session: &Session) -> u16 {
    match session.proto {
        NatProtocol::Icmp => session.in_local_port,
        _ => session.in_remote_port,
    }
}

fn key_of(flow: &Flow) -> SessionKey {
    SessionKey {
        local: flow.local.0,
        remote: flow.remote.0,
        local_port: flow.local.1,
        remote_port: flow.remote.1,
        proto: flow.proto,
    }
}
