//! worker-handoff: with more than one worker, which worker a packet's flow belongs to.
//!
//! Sessions (reflective ACLs, NAT44) live in the worker that made them, with no locks
//! between workers. Virtio-user and vhost ports have no RSS, so the queue a packet
//! arrives on (and the worker that polls it) says nothing about its flow; the poll loop
//! therefore asks [`owner`] for each packet and hands the others' packets to their
//! owner through a ring before any stage runs (VPP's worker handoff). The owner is
//! computed from the packet alone, the same for a flow's packets in both directions,
//! before and after translation:
//!
//! 1. to a mapping's external end with ports (a service's VIP and port), whatever the
//!    source, so that a client that is itself an endpoint stays whole: the client's
//!    worker, `hash(src)`, or for a client on a pool address (the node's own) its
//!    port's as in 3; from such an end (untranslated): the other end's;
//! 2. to a mapping's local end (an endpoint reached directly) from elsewhere: the
//!    client's worker as in 1; from a local end to elsewhere (a service's reply): the
//!    destination's as in 1 (by port when it is a pool address: a twice-NATed or
//!    SNATed service's reply to the pool port its request was given); between two
//!    local ends (a service's reply to a client that is itself an endpoint): the
//!    destination's;
//! 3. to a pool address (SNAT, twice-NAT): the worker whose port slice holds the
//!    destination port, since that worker allocated it ([`PortSlice`]); from one
//!    (hairpinned traffic): its source port's. An endpoint's port on a pool address is
//!    never allocated (`Nat44Worker::sync_config` reserves it), so 2 and 3 agree;
//! 4. the same with address-only (1:1) mappings' ends; identity mappings translate
//!    nothing and are no ends;
//! 5. anything else (plain routed flows, pod to pod): `hash({src, dst})`, the same
//!    both ways.
//!
//! 2 before 3 because an endpoint may sit on a pool address (a host-network backend on
//! the node's address). One client's flows to services thus share a
//! worker, as VPP's in2out handoff does by source address. An ICMP error is placed as
//! the reply to the packet it quotes: that is the same flow, and the orientation rule
//! 2 knows for flows between two endpoints. Non-IPv4 frames and what cannot be parsed
//! stay where they arrived: they make no sessions (and bad ones are dropped by the
//! stages there).
//!
//! What the rule cannot tell from one packet, and so splits with several workers:
//! - non-first fragments carry no ports: [`owner_remembering`] sends them where their
//!   datagram's first fragment went when it came through the same worker in the last
//!   2 s; otherwise (another receiving queue, an orphan) they are placed by their
//!   addresses alone, and a fragmented flow that rules 1-4 place otherwise then loses
//!   them (NAT44's virtual reassembly is per worker);
//! - a direct flow between two endpoints, from a service port to a service port: its
//!   request is placed as a reply;
//! - flows between two 1:1 mappings' ends, or between a 1:1 mapping's end and a port
//!   mapping's, and a 1:1 mapping whose external address is also a pool address (VPP
//!   treats it as conflicting);
//! - load-balancing affinity of a client on a pool address: its flows are placed by
//!   port, on several workers, each with its own affinity table.
//!
//! The rule reads the configuration (mappings, pool addresses): adding or removing one
//! can move a live flow whose ends it names to another worker, where its sessions are
//! not; such a flow starts over (a TCP connection through NAT44 breaks) as it would
//! with the mapping or address removed. Packets of one flow that arrive on two queues
//! can be reordered: in each pass what was handed over goes before the own queues.

use std::net::Ipv4Addr;

use crate::nat44::config::MappingEnd;
use crate::nat44::fragments::{DatagramKey, Datagrams};
use crate::nat44::ports::PortSlice;
use crate::nat44::rewrite::{self, ParseError, Side};
use crate::nat44::{Nat44Config, NatProtocol};
use crate::node::NodeId;
use crate::node_errors;
use crate::packet::{EtherType, EthernetFrame, Ipv4Packet};

node_errors! {
    /// Why worker-handoff drops a packet.
    pub enum WorkerHandoffError for NodeId::WorkerHandoff {
        /// The owner's handoff ring was full: the owner is behind (VPP's text).
        CongestionDrop => "congestion drop",
    }
}

/// A packet's addresses and ports, as sent (for ICMP echo both ports are the
/// identifier; 0 where there is none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tuple {
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    proto: Option<NatProtocol>,
}

/// The worker of `workers` (0-based) whose sessions `frame`'s flow uses, or `None` when
/// it makes none (not IPv4, or unparseable): then it stays where it arrived.
pub fn owner(nat: &Nat44Config, frame: &[u8], workers: u16) -> Option<u16> {
    let workers = workers.max(1);
    let Tuple { src, dst, proto } = tuple(frame)?;
    // XOR is the same both ways; the multiply spreads its bits.
    let both = || {
        by_address(
            Ipv4Addr::from_bits(src.0.to_bits() ^ dst.0.to_bits()),
            workers,
        )
    };
    let Some(proto) = proto else {
        // No ports to go by (a fragment, another protocol): NAT44 translates none.
        return Some(both());
    };
    let pool = |(addr, _): (Ipv4Addr, u16)| nat.is_pool_address(addr);
    // A client on a pool address (the node's own) is placed by its port, as a reply
    // to that address and port is.
    let client = |end @ (addr, port): (Ipv4Addr, u16)| match pool(end) {
        true => by_port(port, workers),
        false => by_address(addr, workers),
    };
    let by_ends = |src_end: MappingEnd, dst_end: MappingEnd| match (src_end, dst_end) {
        (_, MappingEnd::External) => Some(client(src)),
        (MappingEnd::External, _) => Some(client(dst)),
        _ => None,
    };
    let by_locals = |src_end: MappingEnd, dst_end: MappingEnd| match (src_end, dst_end) {
        (MappingEnd::Local, MappingEnd::Local) | (MappingEnd::No, MappingEnd::Local) => {
            // Between two endpoints: a service's translated reply (to its client,
            // itself an endpoint) more likely than a direct flow from a service port.
            Some(if src_end == MappingEnd::Local {
                client(dst)
            } else {
                client(src)
            })
        }
        (MappingEnd::Local, MappingEnd::No) => Some(client(dst)),
        _ => None,
    };
    let port_end = |(addr, port): (Ipv4Addr, u16)| nat.port_end(addr, port, proto);
    let (src_end, dst_end) = (port_end(src), port_end(dst));
    let worker = by_ends(src_end, dst_end)
        // Before the pool rules: an endpoint may be on a pool address (a host-network
        // backend on the node's address); a reply from an endpoint to a pool port is
        // placed by that port all the same (`client`).
        .or_else(|| by_locals(src_end, dst_end))
        .or_else(|| pool(dst).then(|| by_port(dst.1, workers)))
        .or_else(|| pool(src).then(|| by_port(src.1, workers)))
        .or_else(|| {
            // Address-only (1:1) mappings last; identity mappings translate nothing and
            // are no ends: a node's own addresses are placed as pool addresses above.
            let (src_end, dst_end) = (nat.address_end(src.0), nat.address_end(dst.0));
            by_ends(src_end, dst_end).or_else(|| by_locals(src_end, dst_end))
        })
        .unwrap_or_else(both);
    Some(worker)
}

/// [`owner`], with first fragments' owners remembered in `fragments` (the receiving
/// worker's, the seconds of `now`): a datagram's later fragments carry no ports, and go
/// where its first one went (VPP reassembles virtually before its handoff for the same
/// reason), if they arrive on the same worker within the timeout. Otherwise by their
/// addresses, as before.
pub fn owner_remembering(
    nat: &Nat44Config,
    frame: &[u8],
    workers: u16,
    fragments: &mut Datagrams<u16>,
    now: u32,
) -> Option<u16> {
    // Most packets are no fragments: the flags and offset say so before any view is made
    // (`owner` makes its own).
    use crate::packet::ethernet;
    use crate::packet::ipv4::{field, FLAG_MORE_FRAGMENTS, FRAGMENT_OFFSET_MASK};
    let word = |at: usize| {
        frame
            .get(at..at + 2)
            .map(|w| u16::from_be_bytes([w[0], w[1]]))
    };
    let flags = word(ethernet::HEADER_LEN + field::FLAGS_FRAG.start).unwrap_or(0);
    if word(ethernet::field::ETHERTYPE.start) != Some(u16::from(EtherType::Ipv4))
        || flags & (FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK) == 0
    {
        return owner(nat, frame, workers);
    }
    let datagram = EthernetFrame::new_checked(frame)
        .ok()
        .filter(|e| e.ethertype() == EtherType::Ipv4)
        .and_then(|e| {
            let ip = Ipv4Packet::new_checked(e.payload()).ok()?;
            let fragment = ip.more_fragments() || ip.is_non_first_fragment();
            fragment.then(|| (DatagramKey::of(&ip), ip.is_non_first_fragment()))
        });
    match datagram {
        Some((key, true)) => fragments
            .find(&key, now)
            .or_else(|| owner(nat, frame, workers)),
        Some((key, false)) => {
            let worker = owner(nat, frame, workers)?;
            fragments.note(key, worker, now);
            Some(worker)
        }
        None => owner(nat, frame, workers),
    }
}

fn by_address(addr: Ipv4Addr, workers: u16) -> u16 {
    let h = u64::from(addr.to_bits()).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
    // h * workers / 2^32: in 0..workers without a division (one per packet showed).
    ((h * u64::from(workers)) >> 32) as u16
}

/// The worker that allocates `port` (a port outside every slice: worker 0).
fn by_port(port: u16, workers: u16) -> u16 {
    (0..workers)
        .find(|w| PortSlice::for_worker(*w, workers).contains(port))
        .unwrap_or(0)
}

fn tuple(frame: &[u8]) -> Option<Tuple> {
    let ethernet = EthernetFrame::new_checked(frame).ok()?;
    if ethernet.ethertype() != EtherType::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(ethernet.payload()).ok()?;
    let plain = Tuple {
        src: (ip.src(), 0),
        dst: (ip.dst(), 0),
        proto: None,
    };
    // Seen from the inside, a flow's local end is the packet's source. For an ICMP error
    // that is the quoted packet's destination: the tuple is the reply to the quoted
    // packet, the same flow, and the orientation the rule knows for flows between two
    // endpoints (their replies).
    let flow = match rewrite::parse(&ip, Side::Inside) {
        Ok(Some(flow)) => flow,
        Ok(None) | Err(ParseError::Fragment { .. }) => return Some(plain),
        Err(ParseError::Malformed) => return None,
    };
    let (src, mut dst) = (flow.local, flow.remote);
    if flow.proto == NatProtocol::Icmp {
        // The echo identifier plays the port on both ends (rewrite::parse gives it to
        // the local end only).
        dst.1 = src.1;
    }
    Some(Tuple {
        src,
        dst,
        proto: Some(flow.proto),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nat44::types::{StaticMapping, TwiceNat};
    use crate::nat44::Nat44Table;
    use crate::spec_frames::{self, CLIENT_POD_MAC, TAP2_MAC};
    use crate::types::MacAddr;

    const POOL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const WORKERS: u16 = 4;

    fn config() -> std::sync::Arc<Nat44Config> {
        let mut table = Nat44Table::new();
        table.add_addresses(POOL, POOL, false).unwrap();
        table
            .add_static_mapping(StaticMapping {
                proto: NatProtocol::Udp,
                local: (spec_frames::SERVER_IP, Some(5353)),
                external: (spec_frames::SERVICE_IP, Some(53)),
                twice_nat: TwiceNat::No,
                out2in_only: true,
            })
            .unwrap();
        table.snapshot()
    }

    fn udp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16)) -> Vec<u8> {
        spec_frames::udp_frame((TAP2_MAC, CLIENT_POD_MAC), src, dst, b"q")
    }

    fn owner_of(frame: &[u8]) -> u16 {
        owner(&config(), frame, WORKERS).expect("an IPv4 frame has an owner")
    }

    #[test]
    fn a_services_request_and_reply_go_to_the_clients_worker() {
        for last in 1..=32u8 {
            let client = (Ipv4Addr::new(10, 1, 1, last), 40000);
            let request = owner_of(&udp(client, (spec_frames::SERVICE_IP, 53)));
            assert_eq!(request, by_address(client.0, WORKERS));
            // From the endpoint, and to it directly: the same worker.
            let reply = owner_of(&udp((spec_frames::SERVER_IP, 5353), client));
            assert_eq!(reply, request);
            let direct = owner_of(&udp(client, (spec_frames::SERVER_IP, 5353)));
            assert_eq!(direct, request);
        }
    }

    #[test]
    fn a_reply_to_a_pool_port_goes_to_the_worker_that_allocated_it() {
        for w in 0..WORKERS {
            let port = PortSlice::for_worker(w, WORKERS).first + 7;
            let from_outside = udp((Ipv4Addr::new(8, 8, 8, 8), 53), (POOL, port));
            assert_eq!(owner_of(&from_outside), w);
            // Even from a mapping's endpoint (a twice-NATed or SNATed service's reply).
            let from_endpoint = udp((spec_frames::SERVER_IP, 5353), (POOL, port));
            assert_eq!(owner_of(&from_endpoint), w);
            let echo_reply = spec_frames::icmp_echo_request(
                TAP2_MAC,
                CLIENT_POD_MAC,
                Ipv4Addr::new(8, 8, 8, 8),
                POOL,
                64,
                port,
                1,
                b"",
            );
            assert_eq!(owner_of(&echo_reply), w, "the echo identifier is the port");
        }
    }

    #[test]
    fn plain_flows_and_icmp_errors_go_the_same_way_both_ways() {
        let mut seen = [false; WORKERS as usize];
        for last in 1..=64u8 {
            let a = (Ipv4Addr::new(10, 1, 1, last), 1000 + u16::from(last));
            let b = (Ipv4Addr::new(10, 9, 0, 1), 22);
            let there = udp(a, b);
            let worker = owner_of(&there);
            assert_eq!(owner_of(&udp(b, a)), worker);
            seen[usize::from(worker)] = true;
            // A router's error about the packet goes where the packet went.
            let mut error = spec_frames::icmp_echo_request(
                TAP2_MAC,
                CLIENT_POD_MAC,
                Ipv4Addr::new(10, 9, 9, 9),
                a.0,
                64,
                0,
                0,
                &there[14..14 + 28],
            );
            error[14 + 20] = 11; // time exceeded
            assert_eq!(owner_of(&error), worker, "{a:?} -> {b:?}");
        }
        assert!(seen.iter().all(|s| *s), "flows spread over every worker");
    }

    #[test]
    fn a_congestion_drop_says_so() {
        use crate::node::DropReason;
        let reason = DropReason::of(WorkerHandoffError::CongestionDrop);
        assert_eq!(crate::stages::drop_reason_text(reason), "congestion drop");
        assert_eq!(reason.node.name(), "worker-handoff");
    }

    #[test]
    fn what_makes_no_session_has_no_owner() {
        let arp = spec_frames::arp_request(
            MacAddr([2, 0, 0, 0, 0, 1]),
            Ipv4Addr::new(10, 1, 1, 3),
            Ipv4Addr::new(10, 1, 1, 1),
        );
        assert_eq!(owner(&config(), &arp, WORKERS), None);
        let short = udp(
            (Ipv4Addr::new(10, 1, 1, 3), 1),
            (Ipv4Addr::new(10, 1, 1, 4), 2),
        );
        assert_eq!(owner(&config(), &short[..30], WORKERS), None);
        // One worker: everything is its own.
        assert_eq!(owner(&config(), &short, 1), Some(0));
    }

    /// A SNAT reply's datagram in two fragments: the first (it has the port) goes to the
    /// worker that gave the port out, and so does the later one when its first came
    /// through the same worker within the timeout; an orphan goes by its addresses.
    #[test]
    fn a_later_fragment_follows_its_first_one() {
        let server = (Ipv4Addr::new(8, 8, 8, 8), 53);
        // A port in the last worker's slice; the addresses alone place it elsewhere.
        let port = PortSlice::for_worker(WORKERS - 1, WORKERS).first + 7;
        let reply = udp(server, (POOL, port));
        let fragment = |more: bool, offset: u16| {
            let mut f = reply.clone();
            let mut ip = Ipv4Packet::new_checked(&mut f[14..]).unwrap();
            ip.set_fragment(false, more, offset);
            ip.fill_checksum();
            f
        };
        let (first, later) = (fragment(true, 0), fragment(false, 1));
        let by_port = owner_of(&reply);
        assert_eq!(by_port, WORKERS - 1);
        let by_addresses = owner_of(&later);
        assert_ne!(by_addresses, by_port, "the test needs the two to differ");
        let config = config();
        let mut seen = Datagrams::default();
        let place = |frame: &[u8], seen: &mut Datagrams<u16>, now| {
            owner_remembering(&config, frame, WORKERS, seen, now)
        };
        assert_eq!(
            place(&later, &mut seen, 10),
            Some(by_addresses),
            "an orphan"
        );
        assert_eq!(place(&first, &mut seen, 10), Some(by_port));
        assert_eq!(place(&later, &mut seen, 12), Some(by_port));
        assert_eq!(place(&later, &mut seen, 13), Some(by_addresses), "past 2 s");
        assert_eq!(
            place(&reply, &mut seen, 13),
            Some(by_port),
            "whole packets as before"
        );
    }
}
