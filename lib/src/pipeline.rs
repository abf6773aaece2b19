//! The worker: one lcore's fixed sequence of stages over each received burst.
//!
//! ```text
//! ethernet-input -> ip4-input -> [acl-in] -> [nat44] -> ip4-lookup -> ip4-rewrite
//!   side exits: ip4-local (echo reply), ip4-icmp-error; the packets they generate run
//!   ip4-lookup -> ip4-rewrite once more
//! -> [acl-out] -> [nat44-in2out-output] -> arp-input (ARP frames) | ip4-arp (unresolved next hops)
//! -> <interface>-output
//! ```
//!
//! The bracketed stages belong to the ACL and NAT44 modules; each slot is marked in
//! `Worker::run` and takes one line plus the stage's state in [`Worker`]. ARP runs after
//! the output features so that they only ever see IPv4.
//!
//! Before ethernet-input, ip4-flow-cache ([`crate::stages::ip4_flow_cache`]) forwards a
//! burst whose packets all belong to established flows in one step, with what the stages
//! decided for those flows before; after `<interface>-output` it learns the flows of the
//! packets that took the stages. Traced bursts always take the stages.

use crate::acl::{AclTable, AclWorker, Direction};
use crate::buffer::PacketBuf;
use crate::burst::{Burst, Disposition, DispositionKind, MAX_BURST};
use crate::config::Snapshot;
use crate::control::{WorkerAnswer, WorkerQuestion};
use crate::counters::WorkerCounters;
use crate::nat44::{Nat44Worker, Nat44WorkerSizes, NatDirection};
use crate::node::{DropReason, InputKind, NodeId};
use crate::node_errors;
use crate::packet::ethernet::EthernetFrame;
use crate::stages::arp::{Arp, LearnEvent, ResolveNode};
use crate::stages::icmp_error::{IcmpError, IcmpErrorError};
use crate::stages::ip4_flow_cache::Ip4FlowCache;
use crate::stages::ip4_frag::{Fragments, Ip4FragError};
use crate::stages::ip4_local::Ip4LocalError;
use crate::stages::ip4_rewrite::Ip4RewriteError;
use crate::stages::{
    acl, ethernet_input, ip4_input, ip4_local, ip4_lookup, ip4_rewrite, nat44, Context,
};
use crate::trace::{Headers, InlineName, InputRecord, OutputRecord, TraceBuffer, TraceRecord};
use crate::types::IfIndex;
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;

/// A monotonic cycle counter: `rte_rdtsc` in the app, anything monotonic in tests.
pub type CycleSource = fn() -> u64;

/// Asks the CPU for the cache line at an address, without waiting for it and without
/// faulting, whatever the address. Safe Rust has no such instruction; the app lends one
/// (`_mm_prefetch`), and without it a stage's warm-up passes only compute addresses.
pub type Prefetch = fn(*const u8);

/// The prefetch of a worker the app gave none: does nothing.
pub fn no_prefetch(_: *const u8) {}

/// The prefetch instruction as a type, which the app lends the [`Worker`] as its type
/// parameter: where the worker calls it directly (ip4-flow-cache, several addresses per
/// packet) it then inlines to the one instruction, where a [`Prefetch`] is an indirect
/// call each time. The stages' warm-up passes get it as a [`Prefetch`].
pub trait PrefetchHint: 'static {
    fn prefetch(address: *const u8);
}

/// The [`PrefetchHint`] of a worker the app lent none.
pub struct NoPrefetch;

impl PrefetchHint for NoPrefetch {
    #[inline(always)]
    fn prefetch(_: *const u8) {}
}

/// What became of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it on this interface (the frame is ready).
    Tx(IfIndex),
    /// Send it on this interface as fragments: over the interface's MTU with DF clear,
    /// it is cut by [`Worker::fragment`] into new buffers, then freed.
    Fragment(IfIndex),
    /// Free it; the reason has been counted.
    Drop,
}

/// A worker as VPP names its threads: thread 0 is the main thread (podfwd's console),
/// workers are threads 1.. (`vpp_wk_0` is thread 1 there, `podfwd_wk_0` here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerThread(pub u16);

impl WorkerThread {
    /// VPP's thread number: the main thread is 0, workers count from 1.
    pub fn number(self) -> u32 {
        u32::from(self.0) + 1
    }

    /// The thread's name, as VPP's `vpp_wk_N`.
    pub fn name(self) -> String {
        format!("podfwd_wk_{}", self.0)
    }
}

impl std::fmt::Display for WorkerThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "thread {} {}", self.number(), self.name())
    }
}

/// One worker's stages, state, counters and trace buffer; built before launch and moved
/// into its lcore. `P` is the prefetch the app lends ([`Worker::prefetching`]).
pub struct Worker<P: PrefetchHint = NoPrefetch> {
    burst: Burst,
    verdicts: [Verdict; MAX_BURST],
    counters: Arc<WorkerCounters>,
    trace: TraceBuffer,
    arp: Arp,
    icmp_error: IcmpError,
    acl: AclWorker,
    nat: Nat44Worker,
    flow_cache: Ip4FlowCache,
    /// The snapshot epoch the ACL and NAT44 state were last fitted to.
    synced_epoch: Option<u64>,
    cycles: CycleSource,
    /// Nanoseconds per `cycles` tick in 32.32 fixed point, for the trace's per-node
    /// times ([`Worker::set_tick_hz`]); 0 until known, and then a burst's trace entries
    /// all carry its time.
    ns_per_tick_q32: u64,
    prefetch: PhantomData<fn() -> P>,
    /// When housekeeping last ran, and whether it stopped at its budget.
    last_housekeeping_ns: Option<u64>,
    housekeeping_backlog: bool,
    /// This worker's index: it polls rx queue `index` of every port (the input trace
    /// says which), and it is thread `index + 1` in VPP's numbering.
    index: u16,
    /// While it processes packets another worker received and handed over: that
    /// worker's index (their queue, and the trace's `handoff_trace` entry).
    handed_from: Option<u16>,
}

/// Sizes of a worker's session tables, fixed when it is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerSizes {
    /// This worker's index and the number of workers: they split the NAT44 port space.
    pub index: u16,
    pub count: u16,
    pub nat_sessions: u32,
    pub nat_affinities: u32,
}

impl Default for WorkerSizes {
    /// One worker with tables for tests and small nodes; the app sizes its own.
    fn default() -> Self {
        WorkerSizes {
            index: 0,
            count: 1,
            nat_sessions: 16 * 1024,
            nat_affinities: 1024,
        }
    }
}

/// Expired sessions reclaimed per burst, at most: bounded work, never a full scan.
const EXPIRY_BUDGET: usize = 32;

/// Housekeeping runs at most this often (unless the last run left a backlog): NAT44
/// examines up to [`EXPIRY_BUDGET`] heads of each expiry list per run, and as many slots
/// to find sessions whose mapping is gone, and at one run per burst that was five session
/// visits per packet. Every 100 us it still visits over a million sessions a second.
const HOUSEKEEPING_INTERVAL_NS: u64 = 100_000;

impl Worker {
    pub fn new(cycles: CycleSource) -> Self {
        Worker::with_sizes(cycles, WorkerSizes::default())
    }

    pub fn with_sizes(cycles: CycleSource, sizes: WorkerSizes) -> Self {
        // Session tables grow to the configured limits at the first snapshot, off the
        // fast path; start them small so that building a worker is cheap.
        let mut small = AclTable::new();
        let _ = small.set_max_sessions(1024);
        Worker {
            burst: Burst::new(),
            verdicts: [Verdict::Drop; MAX_BURST],
            counters: Arc::new(WorkerCounters::new()),
            trace: TraceBuffer::new(),
            arp: Arp::new(),
            icmp_error: IcmpError::new(),
            acl: AclWorker::new(&small.build()),
            nat: Nat44Worker::new(
                sizes.index,
                sizes.count,
                Nat44WorkerSizes {
                    sessions: sizes.nat_sessions,
                    affinities: sizes.nat_affinities,
                },
                0x5eed_f00d ^ u64::from(sizes.index),
            ),
            flow_cache: Ip4FlowCache::new(sizes.nat_sessions as usize),
            synced_epoch: None,
            cycles,
            ns_per_tick_q32: 0,
            prefetch: PhantomData,
            last_housekeeping_ns: None,
            housekeeping_backlog: false,
            index: sizes.index,
            handed_from: None,
        }
    }

    /// The same worker with a real prefetch, for ip4-flow-cache and the stages' warm-up
    /// passes.
    pub fn prefetching<Q: PrefetchHint>(mut self) -> Worker<Q> {
        self.acl.set_prefetch(Q::prefetch);
        Worker {
            burst: self.burst,
            verdicts: self.verdicts,
            counters: self.counters,
            trace: self.trace,
            arp: self.arp,
            icmp_error: self.icmp_error,
            acl: self.acl,
            nat: self.nat,
            flow_cache: self.flow_cache,
            synced_epoch: self.synced_epoch,
            cycles: self.cycles,
            ns_per_tick_q32: self.ns_per_tick_q32,
            prefetch: PhantomData,
            last_housekeeping_ns: self.last_housekeeping_ns,
            housekeeping_backlog: self.housekeeping_backlog,
            index: self.index,
            handed_from: self.handed_from,
        }
    }
}

impl<P: PrefetchHint> Worker<P> {
    /// The packets of the next bursts were received by worker `from` (its index) and
    /// handed to this one; `None`: by this one.
    pub fn set_handed_from(&mut self, from: Option<u16>) {
        self.handed_from = from;
    }

    /// ip4-flow-cache on or off (on by default): off, every packet takes the stages.
    /// The rate of the `cycles` source, so that a traced packet's entries carry the time
    /// each node reached it (VPP's `show trace` steps by microseconds node to node).
    pub fn set_tick_hz(&mut self, hz: u64) {
        self.ns_per_tick_q32 = match hz {
            0 => 0,
            hz => ((1_000_000_000u128 << 32) / u128::from(hz)).min(u128::from(u64::MAX)) as u64,
        };
    }

    pub fn set_flow_cache(&mut self, enabled: bool) {
        self.flow_cache.set_enabled(enabled);
    }

    pub fn flow_cache(&self) -> &Ip4FlowCache {
        &self.flow_cache
    }

    #[cfg(test)]
    pub(crate) fn flow_cache_mut(&mut self) -> &mut Ip4FlowCache {
        &mut self.flow_cache
    }

    /// The ACL engine's per-worker state (sessions, hit counters).
    pub fn acl(&self) -> &AclWorker {
        &self.acl
    }

    /// The NAT44 engine's per-worker state (sessions, ports).
    pub fn nat(&self) -> &Nat44Worker {
        &self.nat
    }

    pub fn nat_mut(&mut self) -> &mut Nat44Worker {
        &mut self.nat
    }

    /// Fits the session tables to `snapshot` now. A worker does it at the first burst of
    /// each new snapshot anyway; the app calls this before it launches the worker, so
    /// that the first burst does not spend the startup configuration's allocations
    /// (~140 ms of page faults for the default 500k ACL sessions) while its port's ring
    /// fills.
    pub fn adopt(&mut self, snapshot: &Snapshot) {
        self.sync(snapshot);
    }

    /// Fits the session tables to a new snapshot. Allocates only when the snapshot
    /// changed, which the epoch tells with one comparison per burst.
    fn sync(&mut self, snapshot: &Snapshot) {
        if self.synced_epoch == Some(snapshot.epoch) {
            return;
        }
        self.acl.install(&snapshot.acl);
        self.nat.sync_config(&snapshot.nat);
        self.synced_epoch = Some(snapshot.epoch);
    }

    /// Reclaims a bounded number of expired ACL and NAT44 sessions, at most every
    /// `HOUSEKEEPING_INTERVAL_NS` (100 us) unless the last run left more to do; also called by
    /// the app when a port is idle, so that sessions expire without traffic.
    pub fn housekeeping(&mut self, snapshot: &Snapshot, now_ns: u64) {
        self.sync(snapshot);
        let recent = self
            .last_housekeeping_ns
            .is_some_and(|last| now_ns >= last && now_ns - last < HOUSEKEEPING_INTERVAL_NS);
        if recent && !self.housekeeping_backlog {
            return;
        }
        self.last_housekeeping_ns = Some(now_ns);
        self.acl
            .reclaim_expired(&snapshot.acl, now_ns, EXPIRY_BUDGET);
        let nat = self.nat.expire(
            &snapshot.nat,
            (now_ns / 1_000_000_000) as u32,
            EXPIRY_BUDGET as u32,
        );
        self.housekeeping_backlog = self.acl.reclaim_backlog() || nat >= EXPIRY_BUDGET as u32;
    }

    /// The counters, for the main lcore to read (`show errors`, `show runtime`, ...).
    pub fn counters(&self) -> Arc<WorkerCounters> {
        Arc::clone(&self.counters)
    }

    pub fn trace(&self) -> &TraceBuffer {
        &self.trace
    }

    /// `trace add`, `clear trace`: between bursts.
    pub fn trace_mut(&mut self) -> &mut TraceBuffer {
        &mut self.trace
    }

    /// Neighbours learnt from ARP since the last [`Worker::clear_learned`]; the app hands
    /// them to `ControlPlane::learn_neighbor` after each burst.
    pub fn learned(&self) -> &[LearnEvent] {
        self.arp.learned()
    }

    pub fn clear_learned(&mut self) {
        self.arp.clear_learned();
    }

    /// Answers a question from the main lcore; called between bursts.
    pub fn answer(
        &mut self,
        question: WorkerQuestion,
        snapshot: &Snapshot,
        now_ns: u64,
    ) -> WorkerAnswer {
        self.sync(snapshot);
        let name_of = |i: IfIndex| snapshot.interface_name(i);
        match question {
            WorkerQuestion::TraceAdd { input, count } => self
                .trace
                .add(input.node_name(), count)
                .map(|()| String::new()),
            WorkerQuestion::ShowTrace { max } => Ok(self.trace.format(max)),
            WorkerQuestion::ClearTrace => {
                self.trace.clear();
                Ok(String::new())
            }
            WorkerQuestion::ClearErrors => {
                self.counters.clear_errors();
                Ok(String::new())
            }
            WorkerQuestion::ClearRuntime => {
                self.counters.clear_runtime();
                Ok(String::new())
            }
            WorkerQuestion::ClearInterfaces => {
                self.counters.clear_interfaces();
                Ok(String::new())
            }
            WorkerQuestion::AclSessions { one: None } => Ok(crate::acl::show_sessions(
                &[&self.acl],
                WorkerThread(self.index).number(),
                now_ns,
                &name_of,
            )),
            WorkerQuestion::AclSessions {
                one: Some((thread, index)),
            } => match thread == WorkerThread(self.index).number() {
                true => crate::acl::show_session(&self.acl, thread, index, now_ns, &name_of),
                false => Ok(String::new()),
            },
            WorkerQuestion::ClearAclSessions => {
                self.acl.clear_sessions(now_ns);
                Ok(String::new())
            }
            WorkerQuestion::AclHits { only } => Ok(self
                .acl
                .counters()
                .format_hits(snapshot.acl.rule_counts(), only)),
            WorkerQuestion::NatSessions { detail } => Ok(crate::nat44::show::sessions(
                &snapshot.nat,
                &self.nat,
                WorkerThread(self.index),
                detail,
                (now_ns / 1_000_000_000) as u32,
            )),
            WorkerQuestion::NatAddresses => {
                Ok(crate::nat44::show::addresses(&snapshot.nat, &self.nat))
            }
            WorkerQuestion::NatSummary => Ok(crate::nat44::show::summary(
                &snapshot.nat,
                &self.nat,
                (now_ns / 1_000_000_000) as u32,
            )),
            WorkerQuestion::FlowCache => Ok(self.flow_cache.show()),
            WorkerQuestion::NatDeleteSessions(selector) => {
                Ok(self.nat.delete_sessions(&selector).to_string())
            }
            WorkerQuestion::NatClearSessions => {
                self.nat.clear_sessions();
                Ok(String::new())
            }
        }
    }

    /// ip4-frag, for a packet whose verdict was [`Verdict::Fragment`]: cuts `pkt` (the
    /// `index`th of the burst just received on `rx_if`) into fragments for `tx_if`'s
    /// MTU, each in a buffer from `alloc`, and hands them to `send` in order; counts them
    /// (`show errors`, `show interface`, `show runtime`) and returns how many went. The
    /// caller frees `pkt`. Without a buffer for one, the datagram is dropped under `could
    /// not allocate buffer` (the fragments before it are sent: they were cut one at a
    /// time, with no room to hold them back), and a traced packet's trace ends in
    /// error-drop with the reason, after its ip4-frag entry.
    #[allow(clippy::too_many_arguments)]
    pub fn fragment<B: PacketBuf>(
        &mut self,
        rx_if: IfIndex,
        index: usize,
        pkt: &B,
        tx_if: IfIndex,
        snapshot: &Snapshot,
        mut alloc: impl FnMut() -> Option<B>,
        mut send: impl FnMut(B),
    ) -> usize {
        let start = (self.cycles)();
        let counters = &*self.counters;
        let frame = pkt.data();
        let mtu = snapshot.interface(tx_if).map_or(0, |i| i.mtu);
        let l3 = crate::packet::ethernet::HEADER_LEN;
        let (mut sent, mut bytes) = (0, 0);
        let outcome = Fragments::plan(frame, l3, mtu).and_then(|plan| {
            for k in 0..plan.count() {
                let len = plan.frame_len(k);
                let mut buffer = alloc().ok_or(Ip4FragError::NoBuffer)?;
                if !buffer.set_len(len) {
                    return Err(Ip4FragError::NoBuffer);
                }
                plan.write(frame, k, buffer.data_mut())
                    .ok_or(Ip4FragError::Malformed)?;
                send(buffer);
                sent += 1;
                bytes += len as u64;
            }
            Ok(())
        });
        match outcome {
            Ok(()) => counters.count_reason(DropReason::of(Ip4FragError::Fragmented), 1),
            Err(e) => {
                let reason = DropReason::of(e);
                counters.count_drop(rx_if, reason);
                counters.count_call(NodeId::ErrorDrop, 1, 0);
                if let Some(meta) = self.burst.meta().get(index).filter(|m| m.traced) {
                    self.trace
                        .follow(meta.trace_slot, TraceRecord::Drop(reason));
                }
            }
        }
        if sent > 0 {
            counters.count_reason(DropReason::of(Ip4FragError::FragmentsSent), sent);
            counters.count_tx(tx_if, sent, bytes);
            // The fragments leave by interface-output, as every frame does.
            counters.count_call(NodeId::InterfaceOutput, sent, 0);
        }
        let cycles = (self.cycles)().wrapping_sub(start);
        counters.count_call(NodeId::Ip4Frag, 1, cycles);
        sent as usize
    }

    /// The metadata of the last burst (tests and the app's debugging): empty after a
    /// burst ip4-flow-cache forwarded whole, which no stage saw.
    pub fn last_burst(&self) -> &Burst {
        &self.burst
    }

    /// Runs one burst received on `rx_if` through every stage; one verdict per packet, in
    /// order. At most [`MAX_BURST`] packets are taken: the slice returned is as long as
    /// the part of `pkts` that was processed.
    pub fn process<B: PacketBuf>(
        &mut self,
        rx_if: IfIndex,
        pkts: &mut [B],
        snapshot: &Snapshot,
        now_ns: u64,
    ) -> &[Verdict] {
        self.housekeeping(snapshot, now_ns);
        // Tracing off costs this one branch per burst.
        let n = if self.trace.armed() {
            self.run::<B, true>(rx_if, pkts, snapshot, now_ns)
        } else {
            self.run::<B, false>(rx_if, pkts, snapshot, now_ns)
        };
        &self.verdicts[..n]
    }

    fn run<B: PacketBuf, const TRACE: bool>(
        &mut self,
        rx_if: IfIndex,
        pkts: &mut [B],
        snapshot: &Snapshot,
        now_ns: u64,
    ) -> usize {
        let n = pkts.len().min(MAX_BURST);
        let Some(pkts) = pkts.get_mut(..n) else {
            return 0;
        };
        // ip4-flow-cache starts the burst itself, only when the stages will see it.
        let cached = !TRACE && self.flow_cache.enabled();
        if n == 0 || !cached {
            self.burst.reset(rx_if, n);
        }
        if n == 0 {
            return 0;
        }
        let counters = &*self.counters;
        let cycles = self.cycles;
        let burst = &mut self.burst;
        // One clock read per node that runs, as VPP's dispatch reads it: a node's cycles
        // run from the previous node's end to its own (the checks of the nodes skipped in
        // between go with it), not from a read of its own start.
        let mark = Cell::new(cycles());
        let lap = || {
            let now = cycles();
            now.wrapping_sub(mark.replace(now))
        };
        // Traced bursts only: a clock read per node for its entries' time.
        let (start, ns_per_tick_q32) = (mark.get(), self.ns_per_tick_q32);
        let stamp = || {
            let ticks = u128::from(cycles().wrapping_sub(start));
            now_ns.wrapping_add(((ticks * u128::from(ns_per_tick_q32)) >> 32) as u64)
        };
        if !cached {
            let rx_bytes: usize = pkts.iter().map(|p| p.data().len()).sum();
            counters.count_rx(rx_if, n as u64, rx_bytes as u64);
        }
        if TRACE {
            mark_for_trace(
                burst,
                pkts,
                &mut self.trace,
                snapshot,
                (rx_if, self.handed_from.unwrap_or(self.index)),
                self.handed_from,
                now_ns,
            );
        }
        let input_kind = snapshot
            .interface(rx_if)
            .map_or(InputKind::Dpdk, |itf| itf.input_kind);
        counters.count_input(input_kind, n as u64, lap());

        let mut cx = Context {
            snapshot,
            counters,
            trace: &mut self.trace,
            now_ns,
            trace_ns: now_ns,
            prefetch: P::prefetch,
        };
        if cached {
            let forwarded = self.flow_cache.forward::<B, P>(
                &mut self.acl,
                &mut self.nat,
                rx_if,
                burst,
                pkts,
                &cx,
            );
            cx.counters
                .count_rx(rx_if, n as u64, self.flow_cache.rx_bytes());
            cx.counters
                .count_call(NodeId::Ip4FlowCache, n as u64, lap());
            let (leaving, bytes) = self.flow_cache.leaving();
            if forwarded == n && leaving.len() == n {
                // No stage has work and nothing is dropped or learnt: interface-output
                // reads where each packet goes from the cache rather than from the
                // burst's dispositions (the cache left the burst unstarted).
                let sent = output_forwarded(leaving, bytes, pkts, cx.counters, &mut self.verdicts);
                cx.counters.count_call(NodeId::InterfaceOutput, sent, lap());
                // What last_burst shows of it: nothing.
                burst.reset(rx_if, 0);
                return n;
            }
            // Every other way out of the cache started the burst for the stages.
            debug_assert_eq!(burst.len(), n, "ip4-flow-cache left the burst unstarted");
        }
        let main = DispositionKind::Continue;
        let stage = |node,
                     kind,
                     burst: &mut Burst,
                     cx: &mut Context<'_>,
                     f: &mut dyn FnMut(&mut Burst, &mut Context<'_>)| {
            let vectors = burst.count(kind);
            if vectors == 0 {
                return;
            }
            if TRACE {
                cx.trace_ns = stamp();
            }
            f(burst, cx);
            cx.counters.count_call(node, vectors as u64, lap());
        };

        stage(NodeId::EthernetInput, main, burst, &mut cx, &mut |b, cx| {
            ethernet_input::process::<B, TRACE>(b, pkts, cx)
        });
        stage(NodeId::Ip4Input, main, burst, &mut cx, &mut |b, cx| {
            ip4_input::process::<B, TRACE>(b, pkts, cx)
        });
        let (acl, nat) = (&mut self.acl, &mut self.nat);
        // As VPP's feature arcs: an ACL node runs (and shows in `show runtime`) only where
        // some interface has ACLs, here the burst's interface.
        let rx_has_acls = burst.get(0).is_some_and(|m| {
            cx.snapshot
                .acl
                .interface(m.rx_if, Direction::Input)
                .is_some()
        });
        if rx_has_acls {
            stage(NodeId::AclIn, main, burst, &mut cx, &mut |b, cx| {
                acl::process_input::<B, TRACE>(acl, nat, b, pkts, cx)
            });
        }
        if !cx.snapshot.nat.interface_roles_empty() && burst.any(main) {
            let (to_out2in, to_in2out) = nat44::classify(nat, burst, pkts, &cx);
            cx.counters
                .count_call(NodeId::Nat44Classify, burst.count(main) as u64, lap());
            for (node, direction, vectors) in [
                (NodeId::Nat44Out2in, NatDirection::Out2in, to_out2in),
                (NodeId::Nat44In2out, NatDirection::In2out, to_in2out),
            ] {
                if vectors > 0 {
                    if TRACE {
                        cx.trace_ns = stamp();
                    }
                    nat44::process::<B, TRACE>(direction, nat, burst, pkts, &mut cx);
                    cx.counters.count_call(node, vectors as u64, lap());
                }
            }
        }
        for pass in 0..2 {
            // The second pass routes what ip4-local and icmp-error generated.
            if pass == 1 && !burst.any(DispositionKind::Continue) {
                break;
            }
            stage(NodeId::Ip4Lookup, main, burst, &mut cx, &mut |b, cx| {
                ip4_lookup::process::<B, TRACE>(b, pkts, cx)
            });
            stage(NodeId::Ip4Rewrite, main, burst, &mut cx, &mut |b, cx| {
                ip4_rewrite::process::<B, TRACE>(b, pkts, cx)
            });
            if pass == 1 {
                // A generated packet never loops back into local delivery or errors
                // (an echo reply with DF over the way back's MTU: no error is sent to
                // ourselves about it).
                drop_all(
                    burst,
                    DispositionKind::ToLocal,
                    DropReason::of(Ip4LocalError::NoListener),
                );
                drop_all(
                    burst,
                    DispositionKind::ToIcmpError,
                    DropReason::of(IcmpErrorError::AboutGenerated),
                );
                break;
            }
            stage(
                NodeId::Ip4Local,
                DispositionKind::ToLocal,
                burst,
                &mut cx,
                &mut |b, cx| ip4_local::process::<B, TRACE>(b, pkts, cx),
            );
            let icmp_error = &mut self.icmp_error;
            stage(
                NodeId::IcmpError,
                DispositionKind::ToIcmpError,
                burst,
                &mut cx,
                &mut |b, cx| icmp_error.process::<B, TRACE>(b, pkts, cx),
            );
        }
        let (acl, nat) = (&mut self.acl, &mut self.nat);
        let leaving = DispositionKind::Output;
        if cx.snapshot.acl.any_applied() {
            stage(NodeId::AclOut, leaving, burst, &mut cx, &mut |b, cx| {
                acl::process_output::<B, TRACE>(acl, b, pkts, cx)
            });
        }
        if cx.snapshot.nat.has_output_feature() {
            stage(
                NodeId::Nat44In2outOutput,
                leaving,
                burst,
                &mut cx,
                &mut |b, cx| nat44::process_output::<B, TRACE>(nat, b, pkts, cx),
            );
        }
        let arp = &mut self.arp;
        stage(
            NodeId::Arp,
            DispositionKind::ToArp,
            burst,
            &mut cx,
            &mut |b, cx| arp.process_input::<B, TRACE>(b, pkts, cx),
        );
        // Packets that became ARP requests: drops, for error-drop.
        let mut replaced = 0;
        for (node, waiting) in [
            (ResolveNode::Arp, DispositionKind::ToResolve),
            (ResolveNode::Glean, DispositionKind::ToGlean),
        ] {
            stage(node.node(), waiting, burst, &mut cx, &mut |b, cx| {
                replaced += arp.process_resolve::<B, TRACE>(node, b, pkts, cx);
            });
        }
        drop_all(
            burst,
            DispositionKind::Continue,
            DropReason::of(Ip4RewriteError::NoAdjacency),
        );

        if TRACE {
            cx.trace_ns = stamp();
        }
        let (sent, dropped) = output::<B, TRACE>(burst, pkts, &mut cx, &mut self.verdicts);
        let dropped = dropped + replaced;
        // As in VPP, the packets sent and the packets dropped are two nodes' vectors; the
        // clocks of this one pass over the burst go to interface-output.
        let cycles = lap();
        if sent > 0 {
            cx.counters
                .count_call(NodeId::InterfaceOutput, sent, cycles);
        }
        if dropped > 0 {
            let cycles = if sent > 0 { 0 } else { cycles };
            cx.counters.count_call(NodeId::ErrorDrop, dropped, cycles);
        }
        if !TRACE && self.flow_cache.enabled() && burst.count(DispositionKind::Forwarded) < n {
            // Learning is the flow cache's work too: its cycles go to its row.
            self.flow_cache
                .learn(&self.acl, &self.nat, burst, pkts, &cx);
            cx.counters.count_cycles(NodeId::Ip4FlowCache, lap());
        }
        n
    }
}

node_errors! {
    /// Why the input node drops a frame before ethernet-input sees it: counted by the
    /// app, which receives the frames (VPP's dpdk-input counts its own errors too).
    pub enum InputError for NodeId::Input {
        MultiSegment => "multi-segment frame (larger than an mbuf)",
    }
}

/// Marks the packets `trace add` asked for and records their input entry.
fn mark_for_trace<B: PacketBuf>(
    burst: &mut Burst,
    pkts: &[B],
    trace: &mut TraceBuffer,
    snapshot: &Snapshot,
    (rx_if, queue): (IfIndex, u16),
    handed_from: Option<u16>,
    now_ns: u64,
) {
    let itf = snapshot.interface(rx_if);
    let kind = itf.map_or(InputKind::Dpdk, |itf| itf.input_kind);
    let name = InlineName::new(itf.map_or("unknown", |itf| itf.name.as_str()));
    for (i, pkt) in pkts.iter().enumerate() {
        let Some(slot) = trace.mark(kind) else {
            break;
        };
        if let Some(meta) = burst.meta_mut(i) {
            meta.traced = true;
            meta.trace_slot = slot;
        }
        let record = InputRecord {
            kind,
            rx_if,
            queue,
            interface: name,
            len: pkt.data().len() as u16,
        };
        trace.record(slot, now_ns, TraceRecord::Input(record));
        if let Some(from) = handed_from {
            let from_thread = WorkerThread(from).number();
            trace.record(slot, now_ns, TraceRecord::HandedOff { from_thread });
        }
    }
}

/// Drops every packet left with a disposition of `kind`.
fn drop_all(burst: &mut Burst, kind: DispositionKind, reason: DropReason) {
    if !burst.any(kind) {
        return;
    }
    for i in 0..burst.len() {
        if burst.disposition(i).kind() == kind {
            burst.set_disposition(i, Disposition::Drop(reason));
        }
    }
}

/// `<interface>-output`: verdicts, tx and drop counters, and the last trace entries.
/// Hands each packet to its interface or drops it, counting both; returns how many were
/// sent and how many dropped.
fn output<B: PacketBuf, const TRACE: bool>(
    burst: &Burst,
    pkts: &[B],
    cx: &mut Context<'_>,
    verdicts: &mut [Verdict; MAX_BURST],
) -> (u64, u64) {
    let (mut sent, mut dropped) = (0, 0);
    let mut runs = TxRuns::default();
    for ((meta, pkt), verdict) in burst.meta().iter().zip(pkts).zip(verdicts.iter_mut()) {
        match meta.disposition() {
            Disposition::Output(tx_if) if meta.fragment => {
                // Counted sent as fragments, by Worker::fragment.
                *verdict = Verdict::Fragment(tx_if);
                if TRACE && meta.traced {
                    let mtu = cx.snapshot.interface(tx_if).map_or(0, |i| i.mtu);
                    let plan = Fragments::plan(pkt.data(), usize::from(meta.l3_offset), mtu);
                    let fragments = plan.map_or(0, |p| p.count());
                    cx.trace(meta, || TraceRecord::Ip4Frag { mtu, fragments });
                }
            }
            Disposition::Output(tx_if) | Disposition::Forwarded(tx_if) => {
                *verdict = Verdict::Tx(tx_if);
                sent += 1;
                runs.add(tx_if, pkt.data().len() as u64, cx.counters);
                if TRACE && meta.traced {
                    let record = output_record(cx.snapshot, tx_if, pkt.data());
                    cx.trace(meta, || TraceRecord::Output(record));
                }
            }
            Disposition::Drop(reason) => {
                *verdict = Verdict::Drop;
                dropped += 1;
                cx.counters.count_drop(meta.rx_if, reason);
                if TRACE {
                    cx.trace(meta, || TraceRecord::Drop(reason));
                }
            }
            // Every other disposition was resolved above; a packet left here is not sent.
            _ => {
                *verdict = Verdict::Drop;
                dropped += 1;
            }
        }
    }
    runs.finish(cx.counters);
    (sent, dropped)
}

/// `<interface>-output` for a burst ip4-flow-cache forwarded whole, each packet by its
/// interface in `leaving`, `bytes` in all: verdicts and tx counters; returns how many
/// were sent.
fn output_forwarded<B: PacketBuf>(
    leaving: &[IfIndex],
    bytes: u64,
    pkts: &[B],
    counters: &WorkerCounters,
    verdicts: &mut [Verdict; MAX_BURST],
) -> u64 {
    if let Some(&first) = leaving.first() {
        // Most often the whole burst leaves by one interface: counted once.
        if leaving.iter().all(|&tx_if| tx_if == first) {
            let n = leaving.len().min(pkts.len());
            if let Some(verdicts) = verdicts.get_mut(..n) {
                verdicts.fill(Verdict::Tx(first));
            }
            counters.count_tx(first, n as u64, bytes);
            return n as u64;
        }
    }
    let mut runs = TxRuns::default();
    for ((&tx_if, pkt), verdict) in leaving.iter().zip(pkts).zip(verdicts.iter_mut()) {
        *verdict = Verdict::Tx(tx_if);
        runs.add(tx_if, pkt.data().len() as u64, counters);
    }
    runs.finish(counters);
    leaving.len().min(pkts.len()) as u64
}

/// Tx counts, summed per run of packets to the same interface (a whole burst, most
/// often) and written once per run, not once per packet.
#[derive(Default)]
struct TxRuns {
    run: Option<(IfIndex, u64, u64)>,
}

impl TxRuns {
    #[inline(always)]
    fn add(&mut self, tx_if: IfIndex, bytes: u64, counters: &WorkerCounters) {
        self.run = match self.run {
            Some((i, packets, total)) if i == tx_if => Some((i, packets + 1, total + bytes)),
            Some((i, packets, total)) => {
                counters.count_tx(i, packets, total);
                Some((tx_if, 1, bytes))
            }
            None => Some((tx_if, 1, bytes)),
        };
    }

    fn finish(self, counters: &WorkerCounters) {
        if let Some((i, packets, total)) = self.run {
            counters.count_tx(i, packets, total);
        }
    }
}

fn output_record(snapshot: &Snapshot, tx_if: IfIndex, frame: &[u8]) -> OutputRecord {
    let name = snapshot
        .interface(tx_if)
        .map_or("unknown", |itf| itf.name.as_str());
    let (ethertype, src_mac, dst_mac) = match EthernetFrame::new_checked(frame) {
        Ok(eth) => (eth.ethertype(), eth.source(), eth.destination()),
        Err(_) => (
            crate::packet::EtherType::Unknown(0),
            crate::types::MacAddr::ZERO,
            crate::types::MacAddr::ZERO,
        ),
    };
    OutputRecord {
        tx_if,
        interface: InlineName::new(name),
        ethertype,
        src_mac,
        dst_mac,
        headers: Headers::capture(
            frame
                .get(crate::packet::ethernet::HEADER_LEN..)
                .unwrap_or(&[]),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::TestBuf;
    use crate::config::ControlPlane;
    use crate::counters::CounterTotals;
    use crate::packet::icmp::{IcmpPacket, MessageType};
    use crate::packet::ipv4::Ipv4Packet;
    use crate::spec_frames::{self, *};
    use crate::stages::drop_reason_text;
    use crate::stages::ethernet_input::EthernetInputError;
    use crate::stages::ip4_input::Ip4InputError;
    use crate::stages::testing::{control_plane, TAP0, TAP0_IP, TAP2, TAP2_IP};
    use std::cell::Cell;
    use std::net::Ipv4Addr;

    thread_local! {
        static TICKS: Cell<u64> = const { Cell::new(0) };
    }

    /// A cycle counter that advances by 10 per read.
    fn ticks() -> u64 {
        TICKS.with(|t| {
            t.set(t.get() + 10);
            t.get()
        })
    }

    /// 02:54:30.091783, the spec's first timestamp.
    const NOW: u64 = ((2 * 3600 + 54 * 60 + 30) * 1_000_000 + 91_783) * 1_000;

    /// The spec's node with the client pod 10.1.1.3 known on tap2.
    fn snapshot() -> Snapshot {
        let mut cp: ControlPlane = control_plane();
        cp.add_neighbor("tap2", CLIENT_IP, CLIENT_POD_MAC, true)
            .unwrap();
        cp.snapshot()
    }

    fn run(
        worker: &mut Worker,
        rx_if: IfIndex,
        frames: &[Vec<u8>],
    ) -> (Vec<Verdict>, Vec<Vec<u8>>) {
        let mut pkts: Vec<TestBuf> = frames.iter().map(|f| TestBuf::new(f)).collect();
        let verdicts = worker.process(rx_if, &mut pkts, &snapshot(), NOW).to_vec();
        (verdicts, pkts.iter().map(|p| p.data().to_vec()).collect())
    }

    /// A UDP datagram over tap0's MTU (576 here), DF clear, from the seed's pod: its
    /// verdict sends it to ip4-frag, which cuts the rewritten datagram into fragments
    /// that put it back together, and counts them; without buffers it is dropped under
    /// `could not allocate buffer`. The trace ends in ip4-frag's line.
    #[test]
    fn over_the_mtu_with_df_clear_leaves_as_fragments() {
        let mut cp: ControlPlane = control_plane();
        cp.add_neighbor("tap2", CLIENT_IP, CLIENT_POD_MAC, true)
            .unwrap();
        cp.set_mtu("tap0", 576).unwrap();
        let snap = cp.snapshot();
        let syn = spec_frames::syn();
        let dst = Ipv4Packet::new_checked(&syn[14..]).unwrap().dst();
        let data: Vec<u8> = (0..1400u32).map(|i| (i % 251) as u8).collect();
        let frame = spec_frames::udp_frame(
            (TAP2_MAC, CLIENT_POD_MAC),
            (CLIENT_IP, 5000),
            (dst, 53),
            &data,
        );
        let mut worker = Worker::new(ticks);
        worker.trace_mut().add("virtio-input", 1).unwrap();
        let mut pkts = vec![TestBuf::new(&frame)];
        let verdicts = worker.process(TAP2, &mut pkts, &snap, NOW).to_vec();
        assert_eq!(verdicts, [Verdict::Fragment(TAP0)]);
        let rewritten = pkts[0].data().to_vec();
        assert_eq!(
            Ipv4Packet::new_verified(&rewritten[14..]).unwrap().ttl(),
            63
        );
        let mut sent = Vec::new();
        let n = worker.fragment(
            TAP2,
            0,
            &pkts[0],
            TAP0,
            &snap,
            || Some(TestBuf::new(&[])),
            |b| sent.push(b.data().to_vec()),
        );
        // 1408 bytes of UDP: 552 + 552 + 304.
        assert_eq!((n, sent.len()), (3, 3));
        let mut payload = Vec::new();
        for (k, f) in sent.iter().enumerate() {
            assert_eq!(f[..14], rewritten[..14], "fragment {k}: the rewritten MACs");
            let ip = Ipv4Packet::new_verified(&f[14..]).unwrap();
            assert!(ip.total_len() <= 576);
            assert_eq!((ip.ttl(), ip.more_fragments()), (63, k < 2));
            assert_eq!(usize::from(ip.fragment_offset()) * 8, payload.len());
            payload.extend_from_slice(ip.payload());
        }
        assert_eq!(payload, rewritten[34..]);
        let totals = worker.counters().totals();
        let tx = totals.interface(TAP0);
        assert_eq!(tx.tx_packets, 3);
        assert_eq!(
            tx.tx_bytes,
            sent.iter().map(|f| f.len() as u64).sum::<u64>()
        );
        let errors = totals.format_errors(drop_reason_text);
        assert!(
            errors.contains("ip4-frag") && errors.contains("packet fragmented"),
            "{errors}"
        );
        let count = |text: &str| {
            errors
                .lines()
                .find(|l| l.contains(text))
                .and_then(|l| l.split_whitespace().next())
                .map(str::to_owned)
        };
        assert_eq!(count("number of sent fragments").as_deref(), Some("3"));
        assert_eq!(count("packet fragmented").as_deref(), Some("1"));
        // show runtime: ip4-frag ran once, and the 3 fragments left by interface-output.
        let node = |n: NodeId| totals.runtime[n.index()];
        assert_eq!(node(NodeId::Ip4Frag).vectors, 1);
        assert_eq!(node(NodeId::InterfaceOutput).vectors, 3);
        let trace = worker.trace().format(10);
        assert!(
            trace.contains("ip4-frag\n  IPv4 mtu: 576 fragments: 3 next: 0\n"),
            "{trace}"
        );

        // No buffer after the first: dropped, counted on the receiving interface.
        let mut left = 1;
        let n = worker.fragment(
            TAP2,
            0,
            &pkts[0],
            TAP0,
            &snap,
            || (std::mem::take(&mut left) > 0).then(|| TestBuf::new(&[])),
            |_| {},
        );
        assert_eq!(n, 1);
        let totals = worker.counters().totals();
        let errors = totals.format_errors(drop_reason_text);
        assert!(errors.contains("could not allocate buffer"), "{errors}");
        assert_eq!(totals.interface(TAP2).drops, 1);
        assert_eq!(totals.runtime[NodeId::ErrorDrop.index()].vectors, 1);
        // The traced datagram's trace ends in the drop, after its ip4-frag entry.
        let trace = worker.trace().format(10);
        assert!(
            trace.trim_end().ends_with(
                "IPv4 mtu: 576 fragments: 3 next: 0\n\
                 02:54:30:091783: error-drop\n  ip4-frag: could not allocate buffer"
            ),
            "{trace}"
        );
    }

    #[test]
    fn spec_syn_is_routed_to_tap0() {
        let mut worker = Worker::new(ticks);
        let (verdicts, out) = run(&mut worker, TAP2, &[spec_frames::syn()]);
        assert_eq!(verdicts, [Verdict::Tx(TAP0)]);
        let frame = &out[0];
        // dst 3e:1b:70:2d:4d:51, src 01:23:45:67:89:42, IPv4.
        assert_eq!(
            frame[..14],
            [0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51, 0x01, 0x23, 0x45, 0x67, 0x89, 0x42, 0x08, 0x00]
        );
        let ip = Ipv4Packet::new_verified(&frame[14..]).unwrap();
        assert_eq!(ip.ttl(), 63);
        assert_eq!(ip.checksum(), ip.compute_checksum());
        // Only the TTL and the checksum changed past the Ethernet header.
        let syn = spec_frames::syn();
        assert_eq!(frame[14..22], syn[14..22]);
        assert_eq!(frame[23..24], syn[23..24]);
        assert_eq!(frame[26..], syn[26..]);

        let totals = worker.counters().totals();
        assert_eq!(totals.interface(TAP2).rx_packets, 1);
        assert_eq!(totals.interface(TAP2).rx_bytes, 74);
        assert_eq!(totals.interface(TAP0).tx_packets, 1);
        assert_eq!(totals.interface(TAP0).tx_bytes, 74);
        for node in [
            NodeId::EthernetInput,
            NodeId::Ip4Input,
            NodeId::Ip4Lookup,
            NodeId::Ip4Rewrite,
        ] {
            let r = totals.runtime[node.index()];
            assert_eq!((r.calls, r.vectors), (1, 1), "{node}");
            assert!(r.cycles > 0);
        }
        assert_eq!(totals.runtime[NodeId::Arp.index()].calls, 0);
        // No ACL anywhere: the ACL nodes do not run, as VPP's features not enabled.
        for node in [NodeId::AclIn, NodeId::AclOut] {
            let r = totals.runtime[node.index()];
            assert_eq!((r.calls, r.vectors, r.cached), (0, 0, 0), "{node}");
        }
    }

    /// With an input ACL on tap2 only: acl-plugin-in runs for what tap2 receives, not
    /// for what tap0 receives; acl-plugin-out runs (tap2 has sessions both ways); the
    /// flow cache counts the packets it carries past them the same way.
    #[test]
    fn acl_nodes_run_where_acls_apply() {
        let snap = reflective_snapshot();
        let mut worker = Worker::new(ticks);
        let mut pkts = vec![TestBuf::new(&spec_frames::syn())];
        worker.process(TAP2, &mut pkts, &snap, NOW);
        let mut reply = vec![TestBuf::new(&spec_frames::syn_ack())];
        worker.process(TAP0, &mut reply, &snap, NOW);
        let totals = worker.counters().totals();
        let acl_in = totals.runtime[NodeId::AclIn.index()];
        assert_eq!((acl_in.calls, acl_in.vectors), (1, 1));
        let acl_out = totals.runtime[NodeId::AclOut.index()];
        assert_eq!(acl_out.calls, 2);
    }

    #[test]
    fn spec_syn_trace_reads_like_the_spec() {
        let mut worker = Worker::new(ticks);
        worker.trace_mut().add("virtio-input", 1).unwrap();
        run(&mut worker, TAP2, &[spec_frames::syn(), spec_frames::syn()]);
        assert_eq!(worker.trace().packets().len(), 1);
        let text = worker.trace().format(10);
        let expected_start = "\
Packet 1

02:54:30:091783: virtio-input
  virtio: hw_if_index 2 next-index 4 vring 0 len 74
    hdr: flags 0x00 gso_type 0x00 hdr_len 0 gso_size 0 csum_start 0 csum_offset 0 num_buffers 1
02:54:30:091783: ethernet-input
  IP4: 00:00:00:00:00:02 -> 02:fe:16:3f:5f:0f
02:54:30:091783: ip4-input
  TCP: 10.1.1.3 -> 10.104.221.85
    tos 0x00, ttl 64, length 60, checksum 0xe946
    fragment id 0x5eb4, flags DONT_FRAGMENT
  TCP: 46310 -> 80
    seq. 0xba5bf36d ack 0x00000000
    flags 0x02 SYN, tcp header: 40 bytes
    window 29200, checksum 0xd22d
02:54:30:091783: ip4-lookup
";
        assert!(text.starts_with(expected_start), "{text}");
        assert!(text.contains("02:54:30:091783: ip4-rewrite\n  tx_sw_if_index 1 dpo-idx"));
        assert!(text.contains(": ipv4 via 172.30.1.2 tap0: 3e1b702d4d510123456789420800 flow hash: 0x00000000\n  00000000: 3e1b702d4d5101234567894208004500003c5eb440003f06ea460a0101030a68\n"), "{text}");
        let expected_end = "\
02:54:30:091783: tap0-output
  tap0
  IP4: 01:23:45:67:89:42 -> 3e:1b:70:2d:4d:51
  TCP: 10.1.1.3 -> 10.104.221.85
    tos 0x00, ttl 63, length 60, checksum 0xea46
    fragment id 0x5eb4, flags DONT_FRAGMENT
  TCP: 46310 -> 80
    seq. 0xba5bf36d ack 0x00000000
    flags 0x02 SYN, tcp header: 40 bytes
    window 29200, checksum 0xd22d

";
        assert!(text.ends_with(expected_end), "{text}");
        worker.trace_mut().clear();
        assert!(worker.trace().packets().is_empty());
    }

    #[test]
    fn trace_times_step_forward_node_by_node() {
        let mut worker = Worker::new(ticks);
        // 10 ticks a read at 10 MHz: every clock read is a microsecond later.
        worker.set_tick_hz(10_000_000);
        worker.trace_mut().add("virtio-input", 1).unwrap();
        run(&mut worker, TAP2, &[spec_frames::syn()]);
        let packets = worker.trace().packets();
        let times: Vec<u64> = packets[0].entries().map(|e| e.time_ns).collect();
        // virtio-input .. tap0-output.
        assert_eq!(times.len(), 6, "{}", worker.trace().format(1));
        assert_eq!(times[0], NOW, "the input entry has the burst's time");
        assert!(
            times.windows(2).all(|w| w[1] >= w[0] + 1_000),
            "each node at least a read (1 us) after the one before: {times:?}"
        );
        let text = worker.trace().format(1);
        assert!(text.contains("02:54:30:091783: virtio-input"), "{text}");
        assert!(!text.contains("02:54:30:091783: ethernet-input"), "{text}");
    }

    #[test]
    fn dropped_packet_trace_ends_in_error_drop() {
        let mut worker = Worker::new(ticks);
        worker.trace_mut().add("dpdk-input", 1).unwrap();
        let mut bad = spec_frames::syn();
        bad[14 + 10] ^= 0xff;
        let (verdicts, _) = run(&mut worker, TAP2, &[bad]);
        assert_eq!(verdicts, [Verdict::Drop]);
        let text = worker.trace().format(1);
        assert!(
            text.ends_with("02:54:30:091783: error-drop\n  ip4-input: bad ip4 checksum\n\n"),
            "{text}"
        );
    }

    #[test]
    fn arp_request_for_our_address_is_answered() {
        let mut worker = Worker::new(ticks);
        let request = spec_frames::arp_request(HOST_MAC, HOST_NEXT_HOP, TAP0_IP);
        let (verdicts, out) = run(&mut worker, TAP0, &[request]);
        assert_eq!(verdicts, [Verdict::Tx(TAP0)]);
        assert_eq!(out[0][..6], HOST_MAC.0);
        assert_eq!(out[0][6..12], TAP0_MAC.0);
        assert_eq!(out[0][14 + 7], 2); // reply
                                       // The host is known with that MAC: nothing to learn, no event.
        assert!(worker.learned().is_empty());
        let moved = crate::types::MacAddr([2, 0, 0, 0, 0, 0x22]);
        let request = spec_frames::arp_request(moved, HOST_NEXT_HOP, TAP0_IP);
        let (verdicts, _) = run(&mut worker, TAP0, &[request]);
        assert_eq!(verdicts, [Verdict::Tx(TAP0)]);
        assert_eq!(worker.learned().len(), 1);
        worker.clear_learned();
        assert!(worker.learned().is_empty());
    }

    #[test]
    fn unresolved_attached_host_sends_a_request_and_counts_the_packet() {
        let mut worker = Worker::new(ticks);
        let syn = spec_frames::tcp_frame(&TcpFrameSpec {
            dst: Ipv4Addr::new(10, 1, 1, 77),
            ..spec_frames::syn_spec()
        });
        let (verdicts, out) = run(&mut worker, TAP2, &[syn]);
        assert_eq!(verdicts, [Verdict::Tx(TAP2)]);
        assert_eq!(out[0][..6], [0xff; 6]);
        assert_eq!(out[0][12..14], [0x08, 0x06]);
        assert_eq!(out[0][14 + 24..14 + 28], [10, 1, 1, 77]);
        let totals = worker.counters().totals();
        let errors = totals.format_errors(drop_reason_text);
        let rows: Vec<Vec<&str>> = errors
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows,
            [["1", "ip4-glean", "ARP", "requests", "sent"].as_slice()],
            "{errors}"
        );
        assert_eq!(totals.interface(TAP2).drops, 1);
        assert_eq!(totals.runtime[NodeId::Ip4Glean.index()].vectors, 1);
        assert_eq!(totals.runtime[NodeId::Ip4Arp.index()].vectors, 0);

        // Traced: ip4-glean says what it asked, then the request leaves by tap2.
        let mut worker = Worker::new(ticks);
        worker.trace_mut().add("virtio-input", 1).unwrap();
        let syn = spec_frames::tcp_frame(&TcpFrameSpec {
            dst: Ipv4Addr::new(10, 1, 1, 77),
            ..spec_frames::syn_spec()
        });
        run(&mut worker, TAP2, &[syn]);
        let text = worker.trace().format(1);
        assert!(
            text.contains(
                ": ip4-glean\n  request 10.1.1.1 (02:fe:16:3f:5f:0f) -> 10.1.1.77: ARP requests sent\n"
            ),
            "{text}"
        );
        assert!(text.contains(": tap2-output\n"), "{text}");
    }

    #[test]
    fn unresolved_gateway_is_asked_for_from_the_tx_interface() {
        let mut cp = control_plane();
        let gateway = Ipv4Addr::new(172, 30, 1, 9);
        cp.add_route(
            "192.0.2.0/24".parse().unwrap(),
            crate::config::RouteTarget::Via {
                next_hop: gateway,
                interface: Some(TAP0),
            },
        )
        .unwrap();
        let snap = cp.snapshot();
        let syn = spec_frames::tcp_frame(&TcpFrameSpec {
            dst: Ipv4Addr::new(192, 0, 2, 80),
            ..spec_frames::syn_spec()
        });
        let mut worker = Worker::new(ticks);
        let mut pkts = [TestBuf::new(&syn)];
        assert_eq!(
            worker.process(TAP2, &mut pkts, &snap, NOW),
            [Verdict::Tx(TAP0)]
        );
        let arp = crate::packet::ArpPacket::new_checked(&pkts[0].data()[14..]).unwrap();
        assert_eq!(arp.sender_mac(), TAP0_MAC);
        assert_eq!(arp.sender_ip(), TAP0_IP);
        assert_eq!(arp.target_ip(), gateway);
        // A route's next hop is VPP's ip4-arp, not ip4-glean.
        let totals = worker.counters().totals();
        assert_eq!(totals.runtime[NodeId::Ip4Arp.index()].vectors, 1);
        assert_eq!(totals.runtime[NodeId::Ip4Glean.index()].vectors, 0);
        // The packet is gone, a drop on its interface that error-drop counts too.
        assert_eq!(totals.interface(TAP2).drops, 1);
        assert_eq!(totals.runtime[NodeId::ErrorDrop.index()].vectors, 1);
        // The packet is gone, a drop on its interface that error-drop counts too.
        assert_eq!(totals.interface(TAP2).drops, 1);
        assert_eq!(totals.runtime[NodeId::ErrorDrop.index()].vectors, 1);
    }

    #[test]
    fn learnt_neighbour_resolves_the_next_packet() {
        let mut cp = control_plane();
        let host = Ipv4Addr::new(10, 1, 1, 77);
        let host_mac: crate::types::MacAddr = "02:00:00:00:00:77".parse().unwrap();
        let syn = spec_frames::tcp_frame(&TcpFrameSpec {
            dst_mac: TAP0_MAC,
            src_mac: HOST_MAC,
            dst: host,
            ..spec_frames::syn_spec()
        });
        let mut worker = Worker::new(ticks);
        // The host answers our request: its reply is learnt and handed to the control plane.
        let mut reply = spec_frames::arp_request(host_mac, host, TAP2_IP);
        reply[..6].copy_from_slice(&TAP2_MAC.0);
        reply[14 + 7] = 2;
        let mut pkts = [TestBuf::new(&reply)];
        assert_eq!(
            worker.process(TAP2, &mut pkts, &cp.snapshot(), NOW),
            [Verdict::Drop]
        );
        for event in worker.learned() {
            assert!(cp.learn_neighbor(event.if_index, event.ip, event.mac));
        }
        worker.clear_learned();
        let mut pkts = [TestBuf::new(&syn)];
        assert_eq!(
            worker.process(TAP0, &mut pkts, &cp.snapshot(), NOW),
            [Verdict::Tx(TAP2)]
        );
        assert_eq!(pkts[0].data()[..6], host_mac.0);
        assert_eq!(pkts[0].data()[6..12], TAP2_MAC.0);
    }

    /// A ping to our address is answered, even with TTL 1 (it is not forwarded, so its
    /// TTL does not expire here); TTL 0 is time exceeded at ip4-input, as in VPP.
    #[test]
    fn ping_to_our_address_is_answered() {
        let ping = |ttl| {
            spec_frames::icmp_echo_request(
                TAP2_MAC,
                CLIENT_POD_MAC,
                CLIENT_IP,
                TAP2_IP,
                ttl,
                9,
                1,
                b"podfwd",
            )
        };
        for (ttl, answer) in [
            (64, MessageType::EchoReply),
            (1, MessageType::EchoReply),
            (0, MessageType::TimeExceeded),
        ] {
            let mut worker = Worker::new(ticks);
            let (verdicts, out) = run(&mut worker, TAP2, &[ping(ttl)]);
            assert_eq!(verdicts, [Verdict::Tx(TAP2)], "ttl {ttl}");
            assert_eq!(out[0][..6], CLIENT_POD_MAC.0);
            assert_eq!(out[0][6..12], TAP2_MAC.0);
            let ip = Ipv4Packet::new_verified(&out[0][14..]).unwrap();
            assert_eq!((ip.src(), ip.dst(), ip.ttl()), (TAP2_IP, CLIENT_IP, 64));
            let icmp = IcmpPacket::new_checked(ip.payload()).unwrap();
            assert_eq!(icmp.msg_type(), answer, "ttl {ttl}");
            assert!(icmp.verify_checksum());
        }
    }

    /// UDP to our address, where nothing listens, is answered with a port unreachable
    /// from that address, quoting the datagram (VPP's udp-local without a registered
    /// port); TCP there is dropped (no host stack, and no RST either).
    #[test]
    fn udp_to_our_address_is_answered_with_port_unreachable() {
        // 10.1.1.3:5353 -> tap2's 10.1.1.1:53, "query"; checksums by hand-set fields.
        let ip_udp: Vec<u8> = {
            let mut p = vec![
                0x45, 0x00, 0x00, 0x21, 0x00, 0x07, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
            ];
            p.extend_from_slice(&CLIENT_IP.octets());
            p.extend_from_slice(&TAP2_IP.octets());
            p.extend_from_slice(&[0x14, 0xe9, 0x00, 0x35, 0x00, 0x0d, 0x00, 0x00]);
            p.extend_from_slice(b"query");
            let mut ip = Ipv4Packet::new_unchecked(&mut p[..]);
            ip.fill_checksum();
            p
        };
        let mut frame = Vec::new();
        frame.extend_from_slice(&TAP2_MAC.0);
        frame.extend_from_slice(&CLIENT_POD_MAC.0);
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&ip_udp);
        let mut worker = Worker::new(ticks);
        let (verdicts, out) = run(&mut worker, TAP2, std::slice::from_ref(&frame));
        assert_eq!(verdicts, [Verdict::Tx(TAP2)]);
        assert_eq!(out[0][..6], CLIENT_POD_MAC.0);
        let ip = Ipv4Packet::new_verified(&out[0][14..]).unwrap();
        assert_eq!((ip.src(), ip.dst()), (TAP2_IP, CLIENT_IP));
        let icmp = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(
            (icmp.msg_type(), icmp.code()),
            (MessageType::DestinationUnreachable, 3)
        );
        assert!(icmp.verify_checksum());
        assert_eq!(icmp.data(), &ip_udp[..]);
        let totals = worker.counters().totals();
        let sent = DropReason::of(crate::stages::icmp_error::IcmpErrorError::UdpNoListener);
        assert_eq!(totals.reason(sent), 1);
        assert_eq!(
            drop_reason_text(sent),
            "destination unreachable response sent (port unreachable)"
        );

        // TCP to the same address: dropped, counted as ip4-local's no listener.
        let mut tcp = frame.clone();
        tcp[14 + 9] = 6;
        let mut ip = Ipv4Packet::new_unchecked(&mut tcp[14..]);
        ip.fill_checksum();
        let (verdicts, _) = run(&mut worker, TAP2, &[tcp]);
        assert_eq!(verdicts, [Verdict::Drop]);
        let no_listener = DropReason::of(crate::stages::ip4_local::Ip4LocalError::NoListener);
        assert_eq!(worker.counters().totals().reason(no_listener), 1);
    }

    #[test]
    fn ttl_one_is_answered_with_time_exceeded() {
        let mut worker = Worker::new(ticks);
        worker.trace_mut().add("virtio-input", 1).unwrap();
        let syn = spec_frames::tcp_frame(&TcpFrameSpec {
            ttl: 1,
            ..spec_frames::syn_spec()
        });
        let (verdicts, out) = run(&mut worker, TAP2, std::slice::from_ref(&syn));
        // As VPP's: the packet's lookup and rewrite (where its TTL ran out), then the
        // error's own way out.
        let trace = worker.trace().format(1);
        let nodes: Vec<&str> = trace
            .lines()
            .filter_map(|l| l.strip_prefix("02:54:30:091783: "))
            .collect();
        assert_eq!(
            nodes,
            [
                "virtio-input",
                "ethernet-input",
                "ip4-input",
                "ip4-lookup",
                "ip4-rewrite",
                "ip4-icmp-error",
                "ip4-lookup",
                "ip4-rewrite",
                "tap2-output"
            ],
            "{trace}"
        );
        let runtime = worker.counters().totals().runtime;
        assert_eq!(
            runtime[NodeId::Ip4Rewrite.index()].vectors,
            2,
            "the packet, then its error"
        );
        assert_eq!(verdicts, [Verdict::Tx(TAP2)]);
        assert_eq!(out[0][..6], CLIENT_POD_MAC.0);
        let ip = Ipv4Packet::new_verified(&out[0][14..]).unwrap();
        assert_eq!((ip.src(), ip.dst()), (TAP2_IP, CLIENT_IP));
        let icmp = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(icmp.msg_type(), MessageType::TimeExceeded);
        assert_eq!(icmp.data(), &syn[14..]);
        let errors = worker.counters().totals().format_errors(drop_reason_text);
        assert!(
            errors.contains("hop limit exceeded response sent"),
            "{errors}"
        );
    }

    /// A received packet is one drop at most on its interface: a TTL-1 packet whose
    /// time exceeded is sent counts none (its buffer left as the error), and one whose
    /// error cannot be routed back counts one, under both reasons.
    #[test]
    fn an_icmp_error_and_its_packet_count_one_drop() {
        let mut worker = Worker::new(ticks);
        let expired = |src| {
            spec_frames::tcp_frame(&TcpFrameSpec {
                ttl: 1,
                src,
                ..spec_frames::syn_spec()
            })
        };
        let (verdicts, _) = run(&mut worker, TAP2, &[expired(CLIENT_IP)]);
        assert_eq!(verdicts, [Verdict::Tx(TAP2)]);
        let totals = worker.counters().totals();
        assert_eq!(totals.interface(TAP2).drops, 0, "the error was sent");
        let (verdicts, _) = run(&mut worker, TAP2, &[expired(Ipv4Addr::new(192, 0, 2, 7))]);
        assert_eq!(verdicts, [Verdict::Drop]);
        let totals = worker.counters().totals();
        assert_eq!(totals.interface(TAP2).drops, 1, "one packet, one drop");
        let errors = totals.format_errors(drop_reason_text);
        assert!(
            errors
                .contains("1               ip4-lookup               ip4 destination lookup miss\n")
                && errors.contains(
                    "2             ip4-icmp-error             hop limit exceeded response sent\n"
                ),
            "{errors}"
        );
    }

    #[test]
    fn no_route_is_answered_with_unreachable() {
        let mut worker = Worker::new(ticks);
        let syn = spec_frames::tcp_frame(&TcpFrameSpec {
            dst: Ipv4Addr::new(192, 0, 2, 1),
            ..spec_frames::syn_spec()
        });
        let (verdicts, out) = run(&mut worker, TAP2, &[syn]);
        assert_eq!(verdicts, [Verdict::Tx(TAP2)]);
        let icmp = IcmpPacket::new_checked(&out[0][34..]).unwrap();
        assert_eq!(
            (icmp.msg_type(), icmp.code()),
            (MessageType::DestinationUnreachable, 0)
        );
    }

    #[test]
    fn mixed_burst_counts_each_drop_reason_once() {
        let mut worker = Worker::new(ticks);
        let mut bad_checksum = spec_frames::syn();
        bad_checksum[24] ^= 0xff;
        let mut wrong_mac = spec_frames::syn();
        wrong_mac[0] = 0x04;
        let mut ipv6 = spec_frames::syn();
        ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
        let frames = [
            spec_frames::syn(),
            bad_checksum,
            wrong_mac,
            ipv6,
            spec_frames::syn(),
        ];
        let (verdicts, _) = run(&mut worker, TAP2, &frames);
        assert_eq!(
            verdicts,
            [
                Verdict::Tx(TAP0),
                Verdict::Drop,
                Verdict::Drop,
                Verdict::Drop,
                Verdict::Tx(TAP0)
            ]
        );
        let totals: CounterTotals = CounterTotals::sum([&*worker.counters()]);
        assert_eq!(totals.reason(DropReason::of(Ip4InputError::BadChecksum)), 1);
        assert_eq!(
            totals.reason(DropReason::of(EthernetInputError::L3MacMismatch)),
            1
        );
        assert_eq!(
            totals.reason(DropReason::of(EthernetInputError::UnknownType)),
            1
        );
        assert_eq!(totals.interface(TAP2).drops, 3);
        assert_eq!(totals.interface(TAP0).tx_packets, 2);
        let errors = totals.format_errors(drop_reason_text);
        assert_eq!(errors.lines().count(), 4, "{errors}");
        assert!(errors.contains("bad ip4 checksum"));
        let runtime = totals.format_runtime();
        assert!(
            runtime
                .lines()
                .any(|l| l.starts_with("ethernet-input ") && l.contains(" 5 ")),
            "{runtime}"
        );
        // The two sent are interface-output's vectors, the three dropped error-drop's
        // (calls, vectors), as VPP counts its nodes.
        for (node, vectors) in [(NodeId::InterfaceOutput, 2), (NodeId::ErrorDrop, 3)] {
            let r = totals.runtime[node.index()];
            assert_eq!((r.calls, r.vectors), (1, vectors), "{node}");
        }
        let row = |name: &str| {
            let line = runtime.lines().find(|l| l.starts_with(name));
            line.map(|l| l.split_whitespace().take(4).collect::<Vec<_>>())
        };
        assert_eq!(
            row("error-drop "),
            Some(vec!["error-drop", "active", "1", "3"]),
            "{runtime}"
        );
        assert_eq!(
            row("interface-output "),
            Some(vec!["interface-output", "active", "1", "2"]),
            "{runtime}"
        );
    }

    #[test]
    fn more_than_a_burst_is_cut_at_max_burst() {
        let mut worker = Worker::new(ticks);
        let mut pkts: Vec<TestBuf> = (0..MAX_BURST + 3)
            .map(|_| TestBuf::new(&spec_frames::syn()))
            .collect();
        let verdicts = worker.process(TAP2, &mut pkts, &snapshot(), NOW);
        assert_eq!(verdicts.len(), MAX_BURST);
        let empty: &mut [TestBuf] = &mut [];
        assert!(worker.process(TAP2, empty, &snapshot(), NOW).is_empty());
    }

    /// Arbitrary and mutated frames through the whole pipeline, traced and not: nothing
    /// panics, and every packet gets a verdict. Set PODFWD_FUZZ_FRAMES for a longer run.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let total: usize = std::env::var("PODFWD_FUZZ_FRAMES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200_000);
        let snap = snapshot();
        let mut worker = Worker::new(ticks);
        let mut rng = crate::rand::FastRng::new(0x1234_5678_9abc_def1);
        let seeds = [
            spec_frames::syn(),
            spec_frames::syn_ack(),
            spec_frames::arp_request(HOST_MAC, HOST_NEXT_HOP, TAP0_IP),
            spec_frames::icmp_echo_request(
                TAP2_MAC,
                CLIENT_POD_MAC,
                CLIENT_IP,
                TAP2_IP,
                1,
                1,
                1,
                b"x",
            ),
        ];
        let mut pkts: Vec<TestBuf> = Vec::with_capacity(64);
        let mut done = 0;
        let mut now = NOW;
        while done < total {
            pkts.clear();
            let burst_len = 1 + (rng.next_u64() % 64) as usize;
            for _ in 0..burst_len {
                let frame = match rng.next_u64() % 4 {
                    0 => {
                        let len = (rng.next_u64() % 120) as usize;
                        (0..len).map(|_| rng.next_u64() as u8).collect()
                    }
                    _ => {
                        let mut f = seeds[(rng.next_u64() % seeds.len() as u64) as usize].clone();
                        for _ in 0..1 + rng.next_u64() % 4 {
                            let at = (rng.next_u64() as usize) % f.len();
                            f[at] = rng.next_u64() as u8;
                        }
                        // Keep most mutants past ethernet-input so later stages see them.
                        if rng.next_u64().is_multiple_of(2) {
                            f[..6].copy_from_slice(&TAP2_MAC.0);
                        }
                        if rng.next_u64().is_multiple_of(3) {
                            let cut = (rng.next_u64() as usize) % f.len();
                            f.truncate(cut);
                        }
                        if rng.next_u64().is_multiple_of(2) {
                            // Fix the IP checksum so that the mutation reaches lookup.
                            if let Some(Ok(mut ip)) = f.get_mut(14..).map(Ipv4Packet::new_checked) {
                                ip.fill_checksum();
                            }
                        }
                        f
                    }
                };
                pkts.push(TestBuf::new(&frame));
            }
            if rng.next_u64().is_multiple_of(50) {
                worker.trace_mut().clear();
                worker.trace_mut().add("dpdk-input", 8).unwrap();
            }
            let rx_if = if rng.next_u64().is_multiple_of(2) {
                TAP2
            } else {
                TAP0
            };
            now += rng.next_u64() % 2_000_000;
            let verdicts = worker.process(rx_if, &mut pkts, &snap, now);
            assert_eq!(verdicts.len(), burst_len);
            worker.clear_learned();
            done += burst_len;
        }
        let _ = worker.trace().format(usize::MAX);
        let totals = worker.counters().totals();
        // The mutants reach every stage, not only the first checks.
        for node in [
            NodeId::Ip4Glean,
            NodeId::Ip4Local,
            NodeId::IcmpError,
            NodeId::Ip4Rewrite,
        ] {
            assert!(totals.runtime[node.index()].vectors > 0, "{node} never ran");
        }
        let seen = totals.interface(TAP0).rx_packets + totals.interface(TAP2).rx_packets;
        assert_eq!(seen, done as u64);
    }

    /// The spec's node with a reflective ACL on tap2's input whose transient TCP
    /// sessions time out after a second.
    fn reflective_snapshot() -> Snapshot {
        use crate::acl::{AclAction, AclRule, AclTable, Direction, TimeoutKind};
        let mut table = AclTable::new();
        let reflect = table
            .create(vec![AclRule::any(AclAction::PermitReflect)], "reflect")
            .unwrap();
        table
            .set_interface_acl(TAP2, Direction::Input, reflect, false)
            .unwrap();
        table
            .set_session_timeout(TimeoutKind::TcpTransient, 1)
            .unwrap();
        let mut snap = snapshot();
        snap.acl = Arc::new(table.build());
        snap
    }

    /// A worker adopted before launch has its tables at the snapshot's sizes, so its
    /// first burst has nothing to allocate.
    #[test]
    fn adopt_sizes_the_tables_before_the_first_burst() {
        let snap = reflective_snapshot();
        let mut worker = Worker::new(ticks);
        let limit = snap.acl.max_sessions;
        assert_ne!(worker.acl().session_limit(), limit);
        worker.adopt(&snap);
        assert_eq!(worker.acl().session_limit(), limit);
    }

    #[test]
    fn housekeeping_runs_at_most_every_interval() {
        let snap = reflective_snapshot();
        let mut worker = Worker::new(ticks);
        let mut pkts = [TestBuf::new(&spec_frames::syn())];
        worker.process(TAP2, &mut pkts, &snap, NOW);
        assert_eq!(worker.acl().session_count(), 1);

        // A second after the end of the second the SYN came in.
        let expiry = crate::acl::heard_stamp(NOW) + 1_000_000_000;
        // Long after the burst's run: runs, finds nothing expired yet.
        worker.housekeeping(&snap, expiry - 50_000);
        assert_eq!(worker.acl().session_count(), 1);
        // 60 us later the session has expired, but the last run is too recent.
        worker.housekeeping(&snap, expiry + 10_000);
        assert_eq!(worker.acl().session_count(), 1);
        // 110 us after the last run: runs and reclaims it.
        worker.housekeeping(&snap, expiry + 60_000);
        assert_eq!(worker.acl().session_count(), 0);
    }

    #[test]
    fn housekeeping_with_a_backlog_runs_again_at_once() {
        let snap = reflective_snapshot();
        let mut worker = Worker::new(ticks);
        // 100 flows from the pod: the SYN with other source ports (the TCP checksum is
        // not checked on the way).
        let mut pkts: Vec<TestBuf> = (0..100u16)
            .map(|i| {
                let mut syn = spec_frames::syn();
                syn[34..36].copy_from_slice(&(1000 + i).to_be_bytes());
                TestBuf::new(&syn)
            })
            .collect();
        worker.process(TAP2, &mut pkts, &snap, NOW);
        assert_eq!(worker.acl().session_count(), 100);

        let later = NOW + 2_000_000_000;
        worker.housekeeping(&snap, later);
        assert_eq!(worker.acl().session_count(), 100 - EXPIRY_BUDGET);
        // A full budget reclaimed: the next call, 1 us later, runs too.
        worker.housekeeping(&snap, later + 1_000);
        assert_eq!(worker.acl().session_count(), 100 - 2 * EXPIRY_BUDGET);
        worker.housekeeping(&snap, later + 2_000);
        worker.housekeeping(&snap, later + 3_000);
        assert_eq!(worker.acl().session_count(), 0);
    }
}
