//! arp-input: replies for our addresses, learns neighbours, and resolves next hops.
//!
//! - A request for one of the receiving interface's addresses is answered in place, and
//!   on a NAT44 outside interface one for a pool address or a mapping's external address.
//! - The sender of a request or reply addressed to us is learnt: the worker queues a
//!   [`LearnEvent`] (a fixed-capacity array), the app drains the queue after each burst and
//!   the control plane applies it (`ControlPlane::learn_neighbor`, which never overwrites a
//!   static neighbour). A sender outside the interface's subnets is not learnt.
//! - ip4-arp and ip4-glean (a route's next hop, an attached destination): a packet whose next hop's MAC is unknown (a glean adjacency) is itself
//!   rewritten into an ARP request for that next hop and sent (no buffer is allocated on
//!   the fast path); the original is counted as VPP's ip4-arp counts it, a drop under
//!   `ARP requests sent`. Requests are rate-limited per worker and next hop; a packet
//!   that finds the limit reached is dropped as `ARP requests throttled`.

use super::{drop, source_address_for, Context};
use crate::buffer::PacketBuf;
use crate::burst::{Burst, Disposition};
use crate::config::{InterfaceConfig, Snapshot};
use crate::fib::{Adjacency, RouteSource};
use crate::node::{DropReason, NodeId};
use crate::node_errors;
use crate::packet::arp::{self, ArpPacket, Operation};
use crate::packet::ethernet::{self, EtherType, EthernetFrame};
use crate::trace::TraceRecord;
use crate::types::{IfIndex, Ipv4Prefix, MacAddr};
use std::fmt;
use std::net::Ipv4Addr;

node_errors! {
    /// What arp-input counts. Like VPP, it counts what it did, not only what it refused.
    pub enum ArpError for NodeId::Arp {
        Truncated => "ARP packet too short",
        NotEthernetIpv4 => "ARP hardware or protocol type not ethernet/IP4",
        BadOperation => "ARP operation neither request nor reply",
        NotForUs => "ARP target is not one of our addresses",
        RepliesSent => "ARP replies sent",
        RepliesReceived => "ARP replies received",
        SenderNotLocal => "ARP sender not on the interface's subnet",
        LearnQueueFull => "ARP learn queue full",
        L2AddressMismatch => "ARP hw addr does not match L2 frame src addr",
        SenderIsLocal => "IP4 source address matches local interface",
        Learned => "ARP request IP4 source address learned",
    }
}

/// Whether arp-input answers for `target` on `itf`: one of its addresses, or, on a NAT44
/// outside interface, a pool address or a mapping's external address, which VPP puts in
/// the FIB as local /32s on every outside interface, so that hosts on that link can
/// reach the translated flows.
fn answers_for(snapshot: &Snapshot, itf: &InterfaceConfig, target: Ipv4Addr) -> bool {
    if itf.addresses.iter().any(|p| p.addr == target) {
        return true;
    }
    let role = snapshot.nat.role(itf.index);
    (role.outside || role.output_feature) && snapshot.nat.is_outside_address(target)
}

/// The MAC of `ip` if it is a neighbour known on `if_index`: its /32 is in the FIB, from
/// the neighbour table, rewriting through that interface; or it is a `no-fib-entry` one.
fn known_neighbor(snapshot: &Snapshot, if_index: IfIndex, ip: Ipv4Addr) -> Option<MacAddr> {
    if let Some(mac) = snapshot.unrouted_neighbor(if_index, ip) {
        return Some(mac);
    }
    let entry = snapshot.fib.entry(Ipv4Prefix::host(ip))?;
    if entry.source != RouteSource::Neighbor {
        return None;
    }
    match snapshot.fib.adjacency(entry.adj) {
        Adjacency::Rewrite { tx_if, rewrite, .. } if *tx_if == if_index => {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&rewrite[..6]);
            Some(MacAddr(mac))
        }
        _ => None,
    }
}

node_errors! {
    /// What ip4-arp counts, as VPP's: each packet that waited for its next hop's MAC,
    /// under what became of it (its buffer carries the request, when one is sent).
    pub enum Ip4ArpError for NodeId::Ip4Arp {
        RequestSent => "ARP requests sent",
        Throttled => "ARP requests throttled",
        NoSourceAddress => "no source address for ARP request",
        NoRoom => "ARP requests out of buffer",
        NonArpAdjacency => "ARPs to non-ARP adjacencies",
    }
}

/// ip4-arp's trace: `request 172.30.1.1 (01:23:45:67:89:42) -> 172.30.1.2: ARP requests
/// sent`, the request asked (or that would have been) and what became of the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolveTrace {
    pub sender_ip: Ipv4Addr,
    pub sender_mac: MacAddr,
    pub target_ip: Ipv4Addr,
    pub outcome: Ip4ArpError,
}

impl fmt::Display for ResolveTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::node::NodeError;
        writeln!(
            f,
            "  request {} ({}) -> {}: {}",
            self.sender_ip,
            self.sender_mac,
            self.target_ip,
            self.outcome.description()
        )
    }
}

/// Which of VPP's two resolving nodes runs: `ip4-arp` for a route's next hop, `ip4-glean`
/// for a destination on an attached subnet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolveNode {
    Arp,
    Glean,
}

impl ResolveNode {
    pub const fn node(self) -> NodeId {
        match self {
            ResolveNode::Arp => NodeId::Ip4Arp,
            ResolveNode::Glean => NodeId::Ip4Glean,
        }
    }

    /// `e` counted under this node: ip4-glean counts [`Ip4ArpError`]'s reasons too.
    pub fn reason(self, e: Ip4ArpError) -> DropReason {
        DropReason {
            node: self.node(),
            code: crate::node::NodeError::code(e),
        }
    }
}

/// A neighbour seen by the data plane, for the control plane to learn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearnEvent {
    pub if_index: IfIndex,
    pub ip: Ipv4Addr,
    pub mac: MacAddr,
}

/// Learn events one worker holds between drains.
pub const LEARN_QUEUE_CAPACITY: usize = 64;
/// Least time between two requests for the same next hop from one worker.
pub const REQUEST_INTERVAL_NS: u64 = 10_000_000;
/// Next hops the rate limiter tracks at once (a small hashed table; a collision forgets
/// the older entry, which at worst allows one extra request).
const LIMITER_SLOTS: usize = 256;
/// Ethernet's shortest frame without FCS; a request is padded to it.
const MIN_FRAME_LEN: usize = 60;

/// What arp-input did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Replied,
    Learned,
    Dropped(ArpError),
}

/// `request 172.30.1.2 (3e:1b:70:2d:4d:51) -> 172.30.1.1: replied`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub operation: Operation,
    pub sender_ip: Ipv4Addr,
    pub sender_mac: MacAddr,
    pub target_ip: Ipv4Addr,
    pub action: Action,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operation {
            Operation::Request => "request".to_string(),
            Operation::Reply => "reply".to_string(),
            Operation::Unknown(n) => format!("operation {n}"),
        };
        write!(
            f,
            "  {op} {} ({}) -> {}: ",
            self.sender_ip, self.sender_mac, self.target_ip
        )?;
        match self.action {
            Action::Replied => writeln!(f, "replied"),
            Action::Learned => writeln!(f, "learned"),
            Action::Dropped(e) => {
                use crate::node::NodeError;
                writeln!(f, "{}", e.description())
            }
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct LimiterSlot {
    ip: u32,
    last_ns: u64,
    used: bool,
}

/// The stage, with its per-worker request limiter and learn queue.
#[derive(Debug)]
pub struct Arp {
    limiter: [LimiterSlot; LIMITER_SLOTS],
    learned: [LearnEvent; LEARN_QUEUE_CAPACITY],
    learned_len: usize,
}

impl Default for Arp {
    fn default() -> Self {
        Arp::new()
    }
}

impl Arp {
    pub fn new() -> Self {
        Arp {
            limiter: [LimiterSlot::default(); LIMITER_SLOTS],
            learned: [LearnEvent {
                if_index: IfIndex(0),
                ip: Ipv4Addr::UNSPECIFIED,
                mac: MacAddr::ZERO,
            }; LEARN_QUEUE_CAPACITY],
            learned_len: 0,
        }
    }

    /// The neighbours learnt since the last [`Arp::clear_learned`].
    pub fn learned(&self) -> &[LearnEvent] {
        &self.learned[..self.learned_len]
    }

    pub fn clear_learned(&mut self) {
        self.learned_len = 0;
    }

    fn queue_learn(&mut self, event: LearnEvent) -> bool {
        if self.learned().contains(&event) {
            return true;
        }
        match self.learned.get_mut(self.learned_len) {
            Some(slot) => {
                *slot = event;
                self.learned_len += 1;
                true
            }
            None => false,
        }
    }

    fn may_request(&mut self, target: Ipv4Addr, now_ns: u64) -> bool {
        let bits = target.to_bits();
        // Fibonacci hashing spreads neighbouring addresses over the table.
        let slot_index = (bits.wrapping_mul(0x9e37_79b9) >> 24) as usize % LIMITER_SLOTS;
        let slot = &mut self.limiter[slot_index];
        if slot.used && slot.ip == bits && now_ns.saturating_sub(slot.last_ns) < REQUEST_INTERVAL_NS
        {
            return false;
        }
        *slot = LimiterSlot {
            ip: bits,
            last_ns: now_ns,
            used: true,
        };
        true
    }

    /// Handles received ARP frames (disposition `ToArp`).
    pub fn process_input<B: PacketBuf, const TRACE: bool>(
        &mut self,
        burst: &mut Burst,
        pkts: &mut [B],
        cx: &mut Context<'_>,
    ) {
        for (i, pkt) in pkts.iter_mut().enumerate().take(burst.len()) {
            if burst.disposition(i) != Disposition::ToArp {
                continue;
            }
            let Some(meta) = burst.get(i) else {
                break;
            };
            let rx_if = meta.rx_if;
            let itf = cx.snapshot.interface(rx_if);
            let (action, seen) = match (itf, EthernetFrame::new_checked(pkt.data_mut())) {
                (Some(itf), Ok(mut frame)) => self.input_one(cx.snapshot, itf, &mut frame),
                _ => (Action::Dropped(ArpError::Truncated), None),
            };
            match action {
                Action::Replied => {
                    cx.counters
                        .count_reason(DropReason::of(ArpError::RepliesSent), 1);
                    if let Some(meta) = burst.meta_mut(i) {
                        meta.generated = true;
                    }
                    burst.set_disposition(i, Disposition::Output(rx_if));
                }
                Action::Learned => drop(burst, i, ArpError::RepliesReceived),
                Action::Dropped(e) => drop(burst, i, e),
            }
            if TRACE {
                if let (Some(meta), Some((operation, sender_ip, sender_mac, target_ip))) =
                    (burst.get(i), seen)
                {
                    cx.trace(meta, || {
                        TraceRecord::Arp(Trace {
                            operation,
                            sender_ip,
                            sender_mac,
                            target_ip,
                            action,
                        })
                    });
                }
            }
        }
    }

    /// One ARP frame: the action, and what the packet said (for the trace).
    #[allow(clippy::type_complexity)]
    fn input_one(
        &mut self,
        snapshot: &Snapshot,
        itf: &InterfaceConfig,
        frame: &mut EthernetFrame<&mut [u8]>,
    ) -> (Action, Option<(Operation, Ipv4Addr, MacAddr, Ipv4Addr)>) {
        let frame_source = frame.source();
        let Ok(mut packet) = ArpPacket::new_checked(frame.payload_mut()) else {
            return (Action::Dropped(ArpError::Truncated), None);
        };
        let (operation, sender_ip, sender_mac, target_ip) = (
            packet.operation(),
            packet.sender_ip(),
            packet.sender_mac(),
            packet.target_ip(),
        );
        let seen = Some((operation, sender_ip, sender_mac, target_ip));
        if !packet.is_ethernet_ipv4() {
            return (Action::Dropped(ArpError::NotEthernetIpv4), seen);
        }
        if !matches!(operation, Operation::Request | Operation::Reply) {
            return (Action::Dropped(ArpError::BadOperation), seen);
        }
        // A gratuitous ARP (sender = target) from a neighbour we know on this link tells
        // its new MAC: learnt, as VPP's arp-input learns it for an adjacency's address.
        let known = known_neighbor(snapshot, itf.index, sender_ip);
        let gratuitous = sender_ip == target_ip && known.is_some();
        if !gratuitous && !answers_for(snapshot, itf, target_ip) {
            return (Action::Dropped(ArpError::NotForUs), seen);
        }
        // As VPP's arp-input: a sender that names another MAC than the frame's source,
        // or claims one of our addresses, would poison the neighbour table.
        if sender_mac != frame_source {
            return (Action::Dropped(ArpError::L2AddressMismatch), seen);
        }
        if itf.addresses.iter().any(|p| p.addr == sender_ip) {
            return (Action::Dropped(ArpError::SenderIsLocal), seen);
        }
        // On the link: a host of one of its subnets, or under a route attached to it
        // (VPP walks the sender's covering prefixes to an attached one).
        let on_link = snapshot.on_link(itf.index, sender_ip)
            && sender_mac.is_unicast()
            && sender_mac != MacAddr::ZERO;
        if !on_link {
            return (Action::Dropped(ArpError::SenderNotLocal), seen);
        }
        // A neighbour the snapshot already has with this MAC teaches nothing: no event,
        // so the worker wakes no thread for it (each ARP request from the host would).
        let queued = known == Some(sender_mac)
            || self.queue_learn(LearnEvent {
                if_index: itf.index,
                ip: sender_ip,
                mac: sender_mac,
            });
        if gratuitous || operation == Operation::Reply {
            let action = match (queued, gratuitous) {
                (false, _) => Action::Dropped(ArpError::LearnQueueFull),
                (true, true) => Action::Dropped(ArpError::Learned),
                (true, false) => Action::Learned,
            };
            return (action, seen);
        }
        // The reply, in place: to the requester, from us.
        packet.set_operation(Operation::Reply);
        packet.set_sender_mac(itf.mac);
        packet.set_sender_ip(target_ip);
        packet.set_target_mac(sender_mac);
        packet.set_target_ip(sender_ip);
        frame.set_destination(sender_mac);
        frame.set_source(itf.mac);
        (Action::Replied, seen)
    }

    /// ip4-arp (`node` [`NodeId::Ip4Arp`]): turns packets waiting for a next hop's MAC
    /// (disposition `ToResolve`) into ARP requests; ip4-glean ([`NodeId::Ip4Glean`]) the
    /// same for those waiting for an attached destination's (`ToGlean`). The two count
    /// the same reasons, each under its own name, as VPP's. Returns how many packets
    /// became requests: each is a drop (VPP's ip4-arp drops the packet and sends a new
    /// buffer), which error-drop counts with the burst's other drops.
    pub fn process_resolve<B: PacketBuf, const TRACE: bool>(
        &mut self,
        node: ResolveNode,
        burst: &mut Burst,
        pkts: &mut [B],
        cx: &mut Context<'_>,
    ) -> u64 {
        let mut replaced = 0;
        let waiting = match node {
            ResolveNode::Arp => Disposition::ToResolve,
            ResolveNode::Glean => Disposition::ToGlean,
        };
        let drop = |burst: &mut Burst, i: usize, e: Ip4ArpError| {
            burst.set_disposition(i, Disposition::Drop(node.reason(e)));
        };
        for (i, pkt) in pkts.iter_mut().enumerate().take(burst.len()) {
            if burst.disposition(i) != waiting {
                continue;
            }
            let Some(meta) = burst.get(i) else {
                break;
            };
            let (rx_if, l3) = (meta.rx_if, usize::from(meta.l3_offset));
            let (tx_if, next_hop) = match cx.snapshot.fib.adjacency(meta.adjacency) {
                Adjacency::Glean { tx_if, next_hop } => (*tx_if, *next_hop),
                _ => {
                    drop(burst, i, Ip4ArpError::NonArpAdjacency);
                    continue;
                }
            };
            let target = next_hop.or_else(|| super::ipv4_at(pkt.data(), l3 + 16));
            let itf = cx.snapshot.interface(tx_if);
            let result = match (target, itf) {
                (Some(target), Some(itf)) => self.request(pkt, itf, target, cx.now_ns),
                _ => Err(Ip4ArpError::NonArpAdjacency),
            };
            match result {
                Ok(()) => {
                    // The packet is gone (its buffer is the request): counted as VPP's
                    // ip4-arp counts it, a drop under "ARP requests sent".
                    cx.counters
                        .count_drop(rx_if, node.reason(Ip4ArpError::RequestSent));
                    replaced += 1;
                    if let Some(meta) = burst.meta_mut(i) {
                        meta.generated = true;
                    }
                    burst.set_disposition(i, Disposition::Output(tx_if));
                }
                Err(e) => drop(burst, i, e),
            }
            if TRACE {
                if let (Some(meta), Some(itf), Some(target)) = (burst.get(i), itf, target) {
                    let sender_ip =
                        source_address_for(itf, target).unwrap_or(Ipv4Addr::UNSPECIFIED);
                    let trace = ResolveTrace {
                        sender_ip,
                        sender_mac: itf.mac,
                        target_ip: target,
                        outcome: result.err().unwrap_or(Ip4ArpError::RequestSent),
                    };
                    cx.trace(meta, || match node {
                        ResolveNode::Arp => TraceRecord::Ip4Arp(trace),
                        ResolveNode::Glean => TraceRecord::Ip4Glean(trace),
                    });
                }
            }
        }
        replaced
    }

    fn request<B: PacketBuf>(
        &mut self,
        pkt: &mut B,
        itf: &InterfaceConfig,
        target: Ipv4Addr,
        now_ns: u64,
    ) -> Result<(), Ip4ArpError> {
        let source = source_address_for(itf, target).ok_or(Ip4ArpError::NoSourceAddress)?;
        if !self.may_request(target, now_ns) {
            return Err(Ip4ArpError::Throttled);
        }
        if !pkt.set_len(REQUEST_LEN) {
            return Err(Ip4ArpError::NoRoom);
        }
        write_request(pkt.data_mut(), itf.mac, source, target)
    }
}

/// An ARP request's frame: Ethernet and ARP, padded to the minimum frame.
const REQUEST_LEN: usize = if ethernet::HEADER_LEN + arp::PACKET_LEN > MIN_FRAME_LEN {
    ethernet::HEADER_LEN + arp::PACKET_LEN
} else {
    MIN_FRAME_LEN
};

/// Writes into `data` (zeroed first) a broadcast request from `mac`, `source`, for
/// `target`.
pub(crate) fn write_request(
    data: &mut [u8],
    mac: MacAddr,
    source: Ipv4Addr,
    target: Ipv4Addr,
) -> Result<(), Ip4ArpError> {
    data.fill(0);
    let mut frame = EthernetFrame::new_checked(data).map_err(|_| Ip4ArpError::NoRoom)?;
    frame.set_destination(MacAddr::BROADCAST);
    frame.set_source(mac);
    frame.set_ethertype(EtherType::Arp);
    let mut request =
        ArpPacket::new_checked(frame.payload_mut()).map_err(|_| Ip4ArpError::NoRoom)?;
    request.set_ethernet_ipv4();
    request.set_operation(Operation::Request);
    request.set_sender_mac(mac);
    request.set_sender_ip(source);
    request.set_target_mac(MacAddr::ZERO);
    request.set_target_ip(target);
    Ok(())
}

/// The request ip4-arp would send out of `itf` for `target` (from the interface's address
/// facing it), for the console to send itself (`ping` toward an unknown next hop).
/// `None` when the interface has no address.
pub fn request_frame(itf: &InterfaceConfig, target: Ipv4Addr) -> Option<Vec<u8>> {
    let source = source_address_for(itf, target)?;
    let mut data = vec![0; REQUEST_LEN];
    write_request(&mut data, itf.mac, source, target).ok()?;
    Some(data)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::config::{ControlPlane, RouteTarget, Snapshot};
    use crate::spec_frames::{self, *};

    fn input(
        stage: &mut Arp,
        snap: &Snapshot,
        rx_if: IfIndex,
        frame: Vec<u8>,
    ) -> (Disposition, Vec<u8>) {
        let (burst, pkts, _) = run_stage(rx_if, &[frame], snap, |b, p, cx| {
            b.set_disposition(0, Disposition::ToArp);
            stage.process_input::<_, false>(b, p, cx)
        });
        (burst.disposition(0), pkts[0].data().to_vec())
    }

    fn dropped(e: ArpError) -> Disposition {
        Disposition::Drop(DropReason::of(e))
    }

    #[test]
    fn request_for_our_address_is_answered_and_sender_learnt() {
        let mut stage = Arp::new();
        let request = spec_frames::arp_request(HOST_MAC, HOST_NEXT_HOP, TAP0_IP);
        let (d, out) = input(&mut stage, &unknown_host(), TAP0, request);
        assert_eq!(d, Disposition::Output(TAP0));
        // Ethernet: to the requester, from tap0; ARP reply 172.30.1.1 is-at tap0's MAC.
        let mut expected = vec![
            0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51, 0x01, 0x23, 0x45, 0x67, 0x89, 0x42, 0x08, 0x06,
            // htype, ptype, hlen, plen, oper = reply
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
            // sender: tap0's MAC, 172.30.1.1
            0x01, 0x23, 0x45, 0x67, 0x89, 0x42, 172, 30, 1, 1, // target: the requester
            0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51, 172, 30, 1, 2,
        ];
        assert_eq!(out, expected);
        expected.clear();
        assert_eq!(
            stage.learned(),
            &[LearnEvent {
                if_index: TAP0,
                ip: HOST_NEXT_HOP,
                mac: HOST_MAC
            }]
        );
        stage.clear_learned();
        assert!(stage.learned().is_empty());
    }

    /// The spec's node before tap0's host is known.
    fn unknown_host() -> Snapshot {
        let mut cp = control_plane();
        cp.del_neighbor("tap0", HOST_NEXT_HOP).unwrap();
        cp.snapshot()
    }

    /// A request from a neighbour known with the same MAC teaches nothing: it is
    /// answered and queues no event (the worker would wake a thread for it).
    #[test]
    fn request_from_a_known_neighbour_queues_nothing() {
        let mut stage = Arp::new();
        let request = spec_frames::arp_request(HOST_MAC, HOST_NEXT_HOP, TAP0_IP);
        let (d, _) = input(&mut stage, &snapshot(), TAP0, request);
        assert_eq!(d, Disposition::Output(TAP0));
        assert!(stage.learned().is_empty());
    }

    /// A `no-fib-entry` neighbour (Contiv's pod entries) has no /32 to read its MAC
    /// from, but is known all the same: its requests are answered and queue no event,
    /// and its gratuitous ARP is one from a known neighbour, not one 'not for us'.
    #[test]
    fn a_no_fib_entry_neighbour_is_known() {
        let mut cp = control_plane();
        let flags = crate::config::NeighborFlags {
            is_static: true,
            no_fib_entry: true,
        };
        cp.add_neighbor_with("tap2", CLIENT_IP, CLIENT_POD_MAC, flags)
            .unwrap();
        let snap = cp.snapshot();
        let mut stage = Arp::new();
        let request = spec_frames::arp_request(CLIENT_POD_MAC, CLIENT_IP, TAP2_IP);
        let (d, _) = input(&mut stage, &snap, TAP2, request);
        assert_eq!(d, Disposition::Output(TAP2));
        assert!(stage.learned().is_empty());
        let garp = spec_frames::arp_request(CLIENT_POD_MAC, CLIENT_IP, CLIENT_IP);
        let (d, _) = input(&mut stage, &snap, TAP2, garp);
        assert_eq!(d, dropped(ArpError::Learned));
        assert!(stage.learned().is_empty(), "the same MAC: nothing to learn");
        // Another pod, not a neighbour, is not known.
        assert_eq!(
            snap.unrouted_neighbor(TAP2, Ipv4Addr::new(10, 1, 1, 4)),
            None
        );
        assert_eq!(snap.unrouted_neighbor(TAP0, CLIENT_IP), None);
    }

    /// On a NAT44 outside interface, a pool address and a mapping's external address are
    /// answered for, as VPP's FIB has them local there: hosts on that link reach the
    /// SNAT'd flows' replies to them. Not on another interface, nor on tap0 once it has
    /// no outside role.
    #[test]
    fn nat44_outside_addresses_are_answered_for_on_outside_interfaces() {
        use crate::nat44::{NatInterfaceRole, NatProtocol, StaticMapping, TwiceNat};
        let pool = Ipv4Addr::new(172, 30, 1, 100);
        let vip = Ipv4Addr::new(172, 30, 1, 101);
        let mut nat = crate::nat44::Nat44Table::new();
        nat.add_addresses(pool, pool, false).unwrap();
        nat.add_static_mapping(StaticMapping {
            proto: NatProtocol::Tcp,
            local: (CLIENT_IP, Some(8080)),
            external: (vip, Some(80)),
            twice_nat: TwiceNat::No,
            out2in_only: false,
        })
        .unwrap();
        let with_role = |role: Option<NatInterfaceRole>| {
            let mut nat = nat.clone();
            if let Some(role) = role {
                nat.set_interface_role(TAP0, role, true).unwrap();
            }
            let mut snap = snapshot();
            snap.nat = nat.snapshot();
            snap
        };
        let output_feature = NatInterfaceRole {
            output_feature: true,
            ..NatInterfaceRole::default()
        };
        let outside = NatInterfaceRole {
            outside: true,
            ..NatInterfaceRole::default()
        };
        for (role, answered) in [
            (Some(output_feature), true),
            (Some(outside), true),
            (None, false),
        ] {
            let snap = with_role(role);
            for target in [pool, vip] {
                let mut stage = Arp::new();
                let request = spec_frames::arp_request(HOST_MAC, HOST_NEXT_HOP, target);
                let (d, out) = input(&mut stage, &snap, TAP0, request);
                if answered {
                    assert_eq!(d, Disposition::Output(TAP0), "{role:?} {target}");
                    let reply = ArpPacket::new_checked(&out[14..]).unwrap();
                    assert_eq!((reply.sender_mac(), reply.sender_ip()), (TAP0_MAC, target));
                } else {
                    assert_eq!(d, dropped(ArpError::NotForUs), "{role:?} {target}");
                }
            }
            // tap2 has no outside role in any of them.
            let mut stage = Arp::new();
            let request = spec_frames::arp_request(CLIENT_POD_MAC, CLIENT_IP, pool);
            assert_eq!(
                input(&mut stage, &snap, TAP2, request).0,
                dropped(ArpError::NotForUs)
            );
        }
    }

    #[test]
    fn reply_to_us_is_learnt() {
        let mut stage = Arp::new();
        let mut reply = spec_frames::arp_request(HOST_MAC, Ipv4Addr::new(172, 30, 1, 7), TAP0_IP);
        reply[14 + 7] = 2;
        let (d, _) = input(&mut stage, &snapshot(), TAP0, reply);
        assert_eq!(d, dropped(ArpError::RepliesReceived));
        assert_eq!(stage.learned()[0].ip, Ipv4Addr::new(172, 30, 1, 7));
    }

    #[test]
    fn not_for_us() {
        let mut stage = Arp::new();
        let request =
            spec_frames::arp_request(HOST_MAC, HOST_NEXT_HOP, Ipv4Addr::new(172, 30, 1, 99));
        assert_eq!(
            input(&mut stage, &snapshot(), TAP0, request).0,
            dropped(ArpError::NotForUs)
        );
        assert!(stage.learned().is_empty());
    }

    #[test]
    fn sender_not_local() {
        let mut stage = Arp::new();
        let request = spec_frames::arp_request(HOST_MAC, Ipv4Addr::new(192, 0, 2, 1), TAP0_IP);
        assert_eq!(
            input(&mut stage, &snapshot(), TAP0, request).0,
            dropped(ArpError::SenderNotLocal)
        );
    }

    /// The spec's node with 10.5.0.0/16 routed straight onto tap0 (`via tap0`).
    fn with_attached_route() -> ControlPlane {
        let mut cp = control_plane();
        let prefix = "10.5.0.0/16".parse().unwrap();
        cp.add_route(prefix, RouteTarget::Attached(TAP0)).unwrap();
        cp
    }

    #[test]
    fn sender_under_a_route_attached_to_the_interface_is_learnt() {
        let mut cp = with_attached_route();
        let (host, mac) = (Ipv4Addr::new(10, 5, 0, 7), MacAddr([2, 0, 0, 0, 5, 7]));
        let mut reply = spec_frames::arp_request(mac, host, TAP0_IP);
        reply[14 + 7] = 2;
        let mut stage = Arp::new();
        let (d, _) = input(&mut stage, &cp.snapshot(), TAP0, reply.clone());
        assert_eq!(d, dropped(ArpError::RepliesReceived));
        let event = stage.learned()[0];
        assert_eq!((event.if_index, event.ip, event.mac), (TAP0, host, mac));
        assert!(cp.learn_neighbor(event.if_index, event.ip, event.mac));
        // Its /32 now rewrites toward it through tap0.
        let snap = cp.snapshot();
        assert_eq!(
            snap.fib.adjacency(snap.fib.lookup(host)),
            &Adjacency::Rewrite {
                tx_if: TAP0,
                next_hop: host,
                rewrite: Adjacency::ethernet_rewrite(mac, spec_frames::TAP0_MAC),
            }
        );
        // The same sender on another interface is not on that one's link.
        let mut stage = Arp::new();
        let mut on_tap2 = reply;
        on_tap2[14 + 24..14 + 28].copy_from_slice(&TAP2_IP.octets());
        let (d, _) = input(&mut stage, &snap, TAP2, on_tap2);
        assert_eq!(d, dropped(ArpError::SenderNotLocal));
        assert!(!cp.learn_neighbor(TAP2, host, mac));
    }

    #[test]
    fn gratuitous_arp_from_a_known_neighbour_updates_its_mac() {
        let mut cp = control_plane();
        let host = Ipv4Addr::new(172, 30, 1, 7);
        assert!(cp.learn_neighbor(TAP0, host, MacAddr([2, 0, 0, 0, 0, 7])));
        let snap = cp.snapshot();
        let moved = MacAddr([2, 0, 0, 0, 0, 0x77]);
        for operation in [1, 2] {
            let mut garp = spec_frames::arp_request(moved, host, host);
            garp[14 + 7] = operation;
            let mut stage = Arp::new();
            let (d, _) = input(&mut stage, &snap, TAP0, garp);
            assert_eq!(d, dropped(ArpError::Learned));
            assert_eq!(
                stage.learned(),
                &[LearnEvent {
                    if_index: TAP0,
                    ip: host,
                    mac: moved
                }]
            );
        }
        assert!(cp.learn_neighbor(TAP0, host, moved));
        assert_eq!(cp.neighbor(TAP0, host).unwrap().mac, moved);
        // One for a host we do not know is not for us.
        let stranger = Ipv4Addr::new(172, 30, 1, 8);
        let mut stage = Arp::new();
        let garp = spec_frames::arp_request(moved, stranger, stranger);
        let (d, _) = input(&mut stage, &snap, TAP0, garp);
        assert_eq!(d, dropped(ArpError::NotForUs));
        assert!(stage.learned().is_empty());
    }

    #[test]
    fn sender_on_the_subnet_but_its_network_or_broadcast_address() {
        for last in [0, 255] {
            let mut stage = Arp::new();
            let sender = Ipv4Addr::new(172, 30, 1, last);
            let request = spec_frames::arp_request(HOST_MAC, sender, TAP0_IP);
            assert_eq!(
                input(&mut stage, &snapshot(), TAP0, request).0,
                dropped(ArpError::SenderNotLocal)
            );
            assert!(stage.learned().is_empty());
        }
    }

    #[test]
    fn sender_mac_other_than_the_frames_source_is_refused() {
        let mut stage = Arp::new();
        let mut request = spec_frames::arp_request(HOST_MAC, HOST_NEXT_HOP, TAP0_IP);
        request[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 0x66]);
        assert_eq!(
            input(&mut stage, &snapshot(), TAP0, request).0,
            dropped(ArpError::L2AddressMismatch)
        );
        assert!(stage.learned().is_empty());
    }

    #[test]
    fn sender_claiming_our_address_is_refused() {
        let mut stage = Arp::new();
        let request = spec_frames::arp_request(HOST_MAC, TAP0_IP, TAP0_IP);
        assert_eq!(
            input(&mut stage, &snapshot(), TAP0, request).0,
            dropped(ArpError::SenderIsLocal)
        );
        assert!(stage.learned().is_empty());
    }

    #[test]
    fn truncated() {
        let mut stage = Arp::new();
        let request = spec_frames::arp_request(HOST_MAC, HOST_NEXT_HOP, TAP0_IP)[..41].to_vec();
        assert_eq!(
            input(&mut stage, &snapshot(), TAP0, request).0,
            dropped(ArpError::Truncated)
        );
    }

    #[test]
    fn not_ethernet_ipv4() {
        let mut stage = Arp::new();
        let mut request = spec_frames::arp_request(HOST_MAC, HOST_NEXT_HOP, TAP0_IP);
        request[14 + 2] = 0x86; // ptype 0x86dd
        request[14 + 3] = 0xdd;
        assert_eq!(
            input(&mut stage, &snapshot(), TAP0, request).0,
            dropped(ArpError::NotEthernetIpv4)
        );
    }

    #[test]
    fn bad_operation() {
        let mut stage = Arp::new();
        let mut request = spec_frames::arp_request(HOST_MAC, HOST_NEXT_HOP, TAP0_IP);
        request[14 + 7] = 9;
        assert_eq!(
            input(&mut stage, &snapshot(), TAP0, request).0,
            dropped(ArpError::BadOperation)
        );
    }

    #[test]
    fn learn_queue_full() {
        let mut stage = Arp::new();
        let snap = snapshot();
        for host in 0..LEARN_QUEUE_CAPACITY as u8 {
            let mut reply =
                spec_frames::arp_request(HOST_MAC, Ipv4Addr::new(172, 30, 1, 10 + host), TAP0_IP);
            reply[14 + 7] = 2;
            assert_eq!(
                input(&mut stage, &snap, TAP0, reply).0,
                dropped(ArpError::RepliesReceived)
            );
        }
        let mut reply = spec_frames::arp_request(HOST_MAC, Ipv4Addr::new(172, 30, 1, 200), TAP0_IP);
        reply[14 + 7] = 2;
        assert_eq!(
            input(&mut stage, &snap, TAP0, reply).0,
            dropped(ArpError::LearnQueueFull)
        );
    }

    /// A SYN to `dst` through lookup, rewrite, ip4-arp and ip4-glean.
    fn resolve_to(
        stage: &mut Arp,
        snap: &crate::config::Snapshot,
        dst: Ipv4Addr,
        now_ns: u64,
    ) -> (Disposition, Vec<u8>, crate::counters::CounterTotals) {
        let mut syn = spec_frames::syn();
        let mut ip = crate::packet::Ipv4Packet::new_unchecked(&mut syn[14..]);
        ip.set_dst(dst);
        ip.fill_checksum();
        let (burst, pkts, counters) = run_stage(TAP0, &[syn], snap, |b, p, cx| {
            cx.now_ns = now_ns;
            super::super::ip4_lookup::process::<_, false>(b, p, cx);
            super::super::ip4_rewrite::process::<_, false>(b, p, cx);
            stage.process_resolve::<_, false>(ResolveNode::Arp, b, p, cx);
            stage.process_resolve::<_, false>(ResolveNode::Glean, b, p, cx);
        });
        (
            burst.disposition(0),
            pkts[0].data().to_vec(),
            counters.totals(),
        )
    }

    /// A SYN to an attached host nobody has resolved (10.1.1.9 on tap2).
    fn resolve(
        stage: &mut Arp,
        now_ns: u64,
    ) -> (Disposition, Vec<u8>, crate::counters::CounterTotals) {
        resolve_to(stage, &snapshot(), Ipv4Addr::new(10, 1, 1, 9), now_ns)
    }

    /// The request for `target`, from tap2 (10.1.1.1), padded to 60 bytes.
    fn request_from_tap2(target: [u8; 4]) -> Vec<u8> {
        let mut expected = vec![
            // broadcast, from tap2's MAC, ARP
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f, 0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // request
            0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f, 10, 1, 1, 1, // sender: tap2, 10.1.1.1
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // target MAC unknown
        ];
        expected.extend(target);
        expected.resize(60, 0);
        expected
    }

    /// An attached destination is VPP's ip4-glean: the request asks for the destination.
    #[test]
    fn unresolved_attached_host_is_gleaned() {
        let mut stage = Arp::new();
        let (d, out, counters) = resolve(&mut stage, 1);
        assert_eq!(d, Disposition::Output(TAP2));
        assert_eq!(out, request_from_tap2([10, 1, 1, 9]));
        let sent = ResolveNode::Glean.reason(Ip4ArpError::RequestSent);
        assert_eq!(sent.node, NodeId::Ip4Glean);
        assert_eq!(counters.reason(sent), 1);
        assert_eq!(counters.reason(DropReason::of(Ip4ArpError::RequestSent)), 0);
        assert_eq!(counters.interface(TAP0).drops, 1);
    }

    /// A route's next hop is VPP's ip4-arp: the request asks for the next hop, not for
    /// the destination.
    #[test]
    fn unresolved_next_hop_is_ip4_arp() {
        let mut cp = control_plane();
        let next_hop = RouteTarget::Via {
            next_hop: Ipv4Addr::new(10, 1, 1, 7),
            interface: Some(TAP2),
        };
        cp.add_route("192.0.2.0/24".parse().unwrap(), next_hop)
            .unwrap();
        let mut stage = Arp::new();
        let (d, out, counters) =
            resolve_to(&mut stage, &cp.snapshot(), Ipv4Addr::new(192, 0, 2, 1), 1);
        assert_eq!(d, Disposition::Output(TAP2));
        assert_eq!(out, request_from_tap2([10, 1, 1, 7]));
        assert_eq!(counters.reason(DropReason::of(Ip4ArpError::RequestSent)), 1);
        let gleaned = ResolveNode::Glean.reason(Ip4ArpError::RequestSent);
        assert_eq!(counters.reason(gleaned), 0);
    }

    #[test]
    fn no_source_address() {
        // A glean adjacency on an interface whose addresses were removed since the FIB was
        // built: no address to ask from.
        let built = snapshot();
        let mut stripped = snapshot();
        for itf in &mut stripped.interfaces {
            itf.addresses.clear();
        }
        let mut stage = Arp::new();
        let (burst, _, _) = run_stage(TAP0, &[spec_frames::syn()], &stripped, |b, p, cx| {
            b.meta_mut(0).unwrap().adjacency = built.fib.lookup(Ipv4Addr::new(10, 1, 1, 9));
            b.set_disposition(0, Disposition::ToGlean);
            stage.process_resolve::<_, false>(ResolveNode::Glean, b, p, cx);
        });
        assert_eq!(
            burst.disposition(0),
            Disposition::Drop(ResolveNode::Glean.reason(Ip4ArpError::NoSourceAddress))
        );
    }

    #[test]
    fn requests_are_rate_limited_per_next_hop() {
        let mut stage = Arp::new();
        assert_eq!(resolve(&mut stage, 1).0, Disposition::Output(TAP2));
        assert_eq!(
            resolve(&mut stage, 2).0,
            Disposition::Drop(ResolveNode::Glean.reason(Ip4ArpError::Throttled))
        );
        assert_eq!(
            resolve(&mut stage, 1 + REQUEST_INTERVAL_NS).0,
            Disposition::Output(TAP2)
        );
    }
}
