//! ip4-lookup: longest-prefix match of the destination in the FIB, giving an adjacency.
//!
//! Own addresses go to ip4-local, a destination without a route is answered with ICMP
//! net unreachable (unless the packet is one we generated), a drop route drops. Everything
//! else goes on to ip4-rewrite with the adjacency in the packet's metadata.

use super::icmp_error::IcmpErrorKind;
use super::{drop, ipv4_at, Context};
use crate::buffer::PacketBuf;
use crate::burst::{Burst, Disposition};
use crate::fib::{AdjIndex, Adjacency};
use crate::node::NodeId;
use crate::node_errors;
use crate::trace::{Headers, TraceRecord};
use std::fmt;

/// Offset of the destination address in the IPv4 header.
const IPV4_DST_OFFSET: usize = 16;

node_errors! {
    /// Why ip4-lookup drops a packet.
    pub enum Ip4LookupError for NodeId::Ip4Lookup {
        NoRoute => "ip4 destination lookup miss",
        DropRoute => "ip4 drop route",
        Truncated => "ip4 header missing",
    }
}

/// `fib 0 dpo-idx 3 flow hash: 0x00000000` and the headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub adjacency: AdjIndex,
    pub flow_hash: u32,
    pub headers: Headers,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  fib 0 dpo-idx {} flow hash: 0x{:08x}",
            self.adjacency.0, self.flow_hash
        )?;
        self.headers.fmt(f)
    }
}

/// Looks up every live packet's destination.
pub fn process<B: PacketBuf, const TRACE: bool>(
    burst: &mut Burst,
    pkts: &mut [B],
    cx: &mut Context<'_>,
) {
    let fib = &cx.snapshot.fib;
    let all_live = burst.all_continue();
    for (i, pkt) in pkts.iter_mut().enumerate().take(burst.len()) {
        if !all_live && burst.disposition(i) != Disposition::Continue {
            continue;
        }
        let Some(meta) = burst.meta_mut(i) else {
            break;
        };
        let l3 = usize::from(meta.l3_offset);
        let Some(dst) = ipv4_at(pkt.data(), l3 + IPV4_DST_OFFSET) else {
            drop(burst, i, Ip4LookupError::Truncated);
            continue;
        };
        let adjacency = fib.lookup(dst);
        meta.adjacency = adjacency;
        let generated = meta.generated;
        match fib.adjacency(adjacency) {
            Adjacency::NoRoute if generated => drop(burst, i, Ip4LookupError::NoRoute),
            Adjacency::NoRoute => {
                burst.set_disposition(i, Disposition::ToIcmpError(IcmpErrorKind::NetUnreachable))
            }
            Adjacency::Drop => drop(burst, i, Ip4LookupError::DropRoute),
            Adjacency::Receive { .. } => burst.set_disposition(i, Disposition::ToLocal),
            Adjacency::Glean { .. } | Adjacency::Rewrite { .. } => {}
        }
        if TRACE {
            if let Some(meta) = burst.get(i) {
                let bytes = pkt.data().get(l3..).unwrap_or(&[]);
                cx.trace(meta, || {
                    TraceRecord::Ip4Lookup(Trace {
                        adjacency,
                        flow_hash: meta.flow.flow_hash,
                        headers: Headers::capture(bytes),
                    })
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::config::RouteTarget;
    use crate::node::DropReason;
    use crate::spec_frames::{self, *};
    use std::net::Ipv4Addr;

    fn syn_to(dst: Ipv4Addr) -> Vec<u8> {
        let mut f = spec_frames::syn();
        let mut ip = crate::packet::Ipv4Packet::new_unchecked(&mut f[14..]);
        ip.set_dst(dst);
        ip.fill_checksum();
        f
    }

    fn run_with(snap: &crate::config::Snapshot, frames: &[Vec<u8>]) -> Burst {
        run_stage(TAP2, frames, snap, process::<_, false>).0
    }

    #[test]
    fn route_via_next_hop_continues_with_its_adjacency() {
        let snap = snapshot();
        let burst = run_with(&snap, &[spec_frames::syn()]);
        assert_eq!(burst.disposition(0), Disposition::Continue);
        let adj = burst.get(0).unwrap().adjacency;
        match snap.fib.adjacency(adj) {
            Adjacency::Rewrite {
                tx_if, next_hop, ..
            } => assert_eq!((*tx_if, *next_hop), (TAP0, HOST_NEXT_HOP)),
            other => panic!("expected a rewrite adjacency, got {other:?}"),
        }
    }

    #[test]
    fn own_address_goes_to_ip4_local() {
        let snap = snapshot();
        let burst = run_with(&snap, &[syn_to(TAP2_IP), syn_to(TAP0_IP)]);
        assert_eq!(burst.disposition(0), Disposition::ToLocal);
        assert_eq!(burst.disposition(1), Disposition::ToLocal);
    }

    #[test]
    fn no_route_is_answered_with_unreachable() {
        let snap = snapshot();
        let burst = run_with(&snap, &[syn_to(Ipv4Addr::new(192, 0, 2, 1))]);
        assert_eq!(
            burst.disposition(0),
            Disposition::ToIcmpError(IcmpErrorKind::NetUnreachable)
        );
    }

    #[test]
    fn no_route_for_a_generated_packet_drops() {
        let snap = snapshot();
        let (burst, _, _) = run_stage(
            TAP2,
            &[syn_to(Ipv4Addr::new(192, 0, 2, 1))],
            &snap,
            |b, p, cx| {
                b.meta_mut(0).unwrap().generated = true;
                process::<_, false>(b, p, cx)
            },
        );
        assert_eq!(
            burst.disposition(0),
            Disposition::Drop(DropReason::of(Ip4LookupError::NoRoute))
        );
    }

    #[test]
    fn drop_route() {
        let mut cp = control_plane();
        cp.add_route("192.0.2.0/24".parse().unwrap(), RouteTarget::Drop)
            .unwrap();
        let snap = cp.snapshot();
        let burst = run_with(&snap, &[syn_to(Ipv4Addr::new(192, 0, 2, 1))]);
        assert_eq!(
            burst.disposition(0),
            Disposition::Drop(DropReason::of(Ip4LookupError::DropRoute))
        );
    }

    /// The README's way to VPP's behaviour: a default drop route silences the
    /// unreachables and leaves the other routes alone.
    #[test]
    fn default_drop_route_drops_what_has_no_route() {
        let mut cp = control_plane();
        cp.add_route("0.0.0.0/0".parse().unwrap(), RouteTarget::Drop)
            .unwrap();
        let snap = cp.snapshot();
        let burst = run_with(
            &snap,
            &[syn_to(Ipv4Addr::new(192, 0, 2, 1)), spec_frames::syn()],
        );
        assert_eq!(
            burst.disposition(0),
            Disposition::Drop(DropReason::of(Ip4LookupError::DropRoute))
        );
        assert_eq!(burst.disposition(1), Disposition::Continue);
    }

    #[test]
    fn attached_host_without_neighbor_gleans() {
        let snap = snapshot();
        let burst = run_with(&snap, &[syn_to(Ipv4Addr::new(10, 1, 1, 9))]);
        assert_eq!(burst.disposition(0), Disposition::Continue);
        let adj = burst.get(0).unwrap().adjacency;
        assert!(matches!(
            snap.fib.adjacency(adj),
            Adjacency::Glean {
                tx_if: TAP2,
                next_hop: None
            }
        ));
    }

    #[test]
    fn truncated() {
        let snap = snapshot();
        let burst = run_with(&snap, &[spec_frames::syn()[..20].to_vec()]);
        assert_eq!(
            burst.disposition(0),
            Disposition::Drop(DropReason::of(Ip4LookupError::Truncated))
        );
    }
}
