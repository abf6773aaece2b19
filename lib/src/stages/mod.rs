//! The stages, one module per VPP node, each with the same anatomy: its error enum (the
//! `show errors` texts), its `Copy` trace record with `Display`, its per-burst `process`
//! function, and its tests.
//!
//! A stage looks only at the packets whose disposition it handles (the main sequence
//! takes [`Disposition::Continue`]) and leaves the others as they are.
//!
//! [`Disposition::Continue`]: crate::burst::Disposition::Continue

pub mod acl;
pub mod arp;
pub mod ethernet_input;
pub mod icmp_error;
pub mod ip4_flow_cache;
pub mod ip4_frag;
pub mod ip4_input;
pub mod ip4_local;
pub mod ip4_lookup;
pub mod ip4_rewrite;
pub mod nat44;
pub mod worker_handoff;

use crate::burst::{Burst, Disposition, PacketMeta};
use crate::config::{InterfaceConfig, Snapshot};
use crate::counters::WorkerCounters;
use crate::node::{DropReason, NodeError, NodeId};
use crate::trace::{TraceBuffer, TraceRecord};
use std::net::Ipv4Addr;

/// What a stage reads and writes besides the packets: the configuration snapshot of this
/// burst, the worker's counters and trace buffer, and the burst's time.
pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub counters: &'a WorkerCounters,
    pub trace: &'a mut TraceBuffer,
    pub now_ns: u64,
    /// When the running node started, for its trace entries: in a traced burst the
    /// burst's time plus the clock ticks since (so the entries of one packet step
    /// forward node by node, as in VPP's `show trace`), else the burst's time.
    pub trace_ns: u64,
    pub prefetch: crate::pipeline::Prefetch,
}

impl Context<'_> {
    /// Records a trace entry for a marked packet; the caller checks `TRACE` first so that
    /// an untraced burst never reaches here.
    #[inline]
    pub fn trace(&mut self, meta: &PacketMeta, record: impl FnOnce() -> TraceRecord) {
        if meta.traced {
            self.trace.record(meta.trace_slot, self.trace_ns, record());
        }
    }
}

/// The `show errors` text of any stage's reason.
pub fn drop_reason_text(reason: DropReason) -> &'static str {
    fn text<E: NodeError>(code: u8) -> &'static str {
        E::ALL
            .get(usize::from(code))
            .map_or("unknown reason", |e| e.description())
    }
    match reason.node {
        NodeId::Input => text::<crate::pipeline::InputError>(reason.code),
        NodeId::EthernetInput => text::<ethernet_input::EthernetInputError>(reason.code),
        NodeId::Arp => text::<arp::ArpError>(reason.code),
        // VPP's two nodes share one set of counters, as here.
        NodeId::Ip4Arp | NodeId::Ip4Glean => text::<arp::Ip4ArpError>(reason.code),
        NodeId::Ip4Input => text::<ip4_input::Ip4InputError>(reason.code),
        NodeId::Ip4Lookup => text::<ip4_lookup::Ip4LookupError>(reason.code),
        NodeId::Ip4Local => text::<ip4_local::Ip4LocalError>(reason.code),
        NodeId::IcmpError => text::<icmp_error::IcmpErrorError>(reason.code),
        NodeId::Ip4Rewrite => text::<ip4_rewrite::Ip4RewriteError>(reason.code),
        NodeId::Ip4Frag => text::<ip4_frag::Ip4FragError>(reason.code),
        NodeId::AclIn => text::<crate::acl::AclInError>(reason.code),
        NodeId::AclOut => text::<crate::acl::AclOutError>(reason.code),
        NodeId::Nat44Out2in => text::<crate::nat44::Out2inError>(reason.code),
        NodeId::Nat44In2out | NodeId::Nat44In2outSlowpath => {
            text::<crate::nat44::In2outError>(reason.code)
        }
        NodeId::Nat44In2outOutput => text::<crate::nat44::In2outOutputError>(reason.code),
        NodeId::WorkerHandoff => text::<worker_handoff::WorkerHandoffError>(reason.code),
        // Nodes that drop nothing of their own: named, so a new node is not forgotten.
        NodeId::Ip4FlowCache
        | NodeId::Nat44Classify
        | NodeId::InterfaceOutput
        | NodeId::ErrorDrop => "unknown reason",
    }
}

/// Drops packet `i` for `error`.
pub(crate) fn drop<E: NodeError>(burst: &mut Burst, i: usize, error: E) {
    burst.set_disposition(i, Disposition::Drop(DropReason::of(error)));
}

/// The address of `itf` that shares a subnet with `peer`, or its first address.
pub(crate) fn source_address_for(itf: &InterfaceConfig, peer: Ipv4Addr) -> Option<Ipv4Addr> {
    itf.addresses
        .iter()
        .find(|p| p.contains(peer))
        .or(itf.addresses.first())
        .map(|p| p.addr)
}

/// Reads a big-endian IPv4 address at `at`, if the bytes are there.
pub(crate) fn ipv4_at(bytes: &[u8], at: usize) -> Option<Ipv4Addr> {
    let b = bytes.get(at..at + 4)?;
    Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A two-interface node like the spec's: tap0 (host side, 172.30.1.1/24, next hop
    //! 172.30.1.2 with MAC 3e:1b:70:2d:4d:51) and tap2 (pod side, 10.1.1.1/24), and a route
    //! to the service network 10.96.0.0/12 via 172.30.1.2 on tap0.

    use super::*;
    use crate::buffer::TestBuf;
    use crate::config::{ControlPlane, RouteTarget};
    use crate::node::InputKind;
    use crate::spec_frames::*;
    use crate::types::{IfIndex, Ipv4Prefix};

    pub const TAP0: IfIndex = IfIndex(1);
    pub const TAP2: IfIndex = IfIndex(2);
    pub const TAP0_IP: Ipv4Addr = Ipv4Addr::new(172, 30, 1, 1);
    pub const TAP2_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 1);

    pub fn control_plane() -> ControlPlane {
        let mut cp = ControlPlane::new();
        let tap0 = cp
            .add_interface("tap0", "net_tap0", TAP0_MAC, InputKind::Virtio)
            .unwrap();
        let tap2 = cp
            .add_interface("tap2", "net_tap2", TAP2_MAC, InputKind::Virtio)
            .unwrap();
        assert_eq!((tap0, tap2), (TAP0, TAP2));
        cp.set_state("tap0", true).unwrap();
        cp.set_state("tap2", true).unwrap();
        cp.add_address("tap0", Ipv4Prefix::new(TAP0_IP, 24).unwrap())
            .unwrap();
        cp.add_address("tap2", Ipv4Prefix::new(TAP2_IP, 24).unwrap())
            .unwrap();
        cp.add_neighbor("tap0", HOST_NEXT_HOP, HOST_MAC, true)
            .unwrap();
        cp.add_route(
            "10.96.0.0/12".parse().unwrap(),
            RouteTarget::Via {
                next_hop: HOST_NEXT_HOP,
                interface: Some(TAP0),
            },
        )
        .unwrap();
        cp
    }

    pub fn snapshot() -> Snapshot {
        control_plane().snapshot()
    }

    /// Runs `f` over a burst of `frames` received on `rx_if`, all live, with tracing off.
    pub fn run_stage(
        rx_if: IfIndex,
        frames: &[Vec<u8>],
        snapshot: &Snapshot,
        f: impl FnOnce(&mut Burst, &mut [TestBuf], &mut Context<'_>),
    ) -> (Burst, Vec<TestBuf>, WorkerCounters) {
        let mut pkts: Vec<TestBuf> = frames.iter().map(|f| TestBuf::new(f)).collect();
        let mut burst = Burst::new();
        burst.reset(rx_if, pkts.len());
        for i in 0..pkts.len() {
            burst.meta_mut(i).unwrap().l3_offset = 14;
        }
        let counters = WorkerCounters::new();
        let mut trace = TraceBuffer::new();
        let mut cx = Context {
            snapshot,
            counters: &counters,
            trace: &mut trace,
            now_ns: 1_000_000_000,
            trace_ns: 1_000_000_000,
            prefetch: crate::pipeline::no_prefetch,
        };
        f(&mut burst, &mut pkts, &mut cx);
        (burst, pkts, counters)
    }
}
