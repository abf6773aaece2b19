//! ip4-rewrite: the Ethernet header from the adjacency, TTL − 1 with the checksum patched
//! (RFC 1624), and the MTU check.
//!
//! The TTL is checked here, where the packet is known to be forwarded (RFC 1812 §5.2.2
//! allows either place; VPP does the same): TTL ≤ 1 goes to icmp-error as time exceeded.
//! A packet larger than the tx interface's MTU goes to icmp-error as fragmentation needed
//! when DF is set, and is otherwise rewritten and marked to leave as fragments
//! ([`super::ip4_frag`], after the output features). Packets podfwd itself
//! generated keep their TTL. A next hop whose MAC is unknown (a glean adjacency) goes to
//! the arp stage.

use super::icmp_error::IcmpErrorKind;
use super::{drop, Context};
use crate::buffer::PacketBuf;
use crate::burst::{Burst, Disposition};
use crate::config::{InterfaceConfig, Snapshot};
use crate::fib::{AdjIndex, Adjacency};
use crate::node::NodeId;
use crate::node_errors;
use crate::packet::ethernet;
use crate::packet::ipv4::Ipv4Packet;
use crate::trace::{InlineName, TraceRecord};
use crate::types::IfIndex;
use std::fmt;
use std::net::Ipv4Addr;

node_errors! {
    /// Why ip4-rewrite drops a packet.
    pub enum Ip4RewriteError for NodeId::Ip4Rewrite {
        NoAdjacency => "no rewrite adjacency",
        TxInterfaceDown => "tx interface is down",
        Truncated => "ip4 header missing",
    }
}

/// How many bytes of the rewritten frame the trace keeps: 60, as the spec's dumps show
/// (VPP's ip4 forward trace keeps 64 bytes less its u32 of flow hash).
pub const TRACE_BYTES: usize = 60;

/// `tx_sw_if_index 2 dpo-idx 3 : ipv4 via 172.30.1.2 tap0: 3e1b...0800 flow hash: ...`
/// and a hex dump of the frame's first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub tx_if: IfIndex,
    pub interface: InlineName,
    pub adjacency: AdjIndex,
    pub next_hop: Ipv4Addr,
    pub rewrite: [u8; ethernet::HEADER_LEN],
    pub flow_hash: u32,
    pub bytes: [u8; TRACE_BYTES],
    pub captured: u8,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "  tx_sw_if_index {} dpo-idx {} : ipv4 via {} {}: ",
            self.tx_if, self.adjacency.0, self.next_hop, self.interface
        )?;
        for b in self.rewrite {
            write!(f, "{b:02x}")?;
        }
        writeln!(f, " flow hash: 0x{:08x}", self.flow_hash)?;
        let captured = &self.bytes[..usize::from(self.captured).min(TRACE_BYTES)];
        for (line, chunk) in captured.chunks(32).enumerate() {
            write!(f, "  {:08x}: ", line * 32)?;
            for b in chunk {
                write!(f, "{b:02x}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Rewrites every live packet for its adjacency.
pub fn process<B: PacketBuf, const TRACE: bool>(
    burst: &mut Burst,
    pkts: &mut [B],
    cx: &mut Context<'_>,
) {
    let snapshot = cx.snapshot;
    let all_live = burst.all_continue();
    // Consecutive packets mostly share an adjacency: resolve it and its interface once.
    let mut cached: Option<(AdjIndex, Resolved<'_>)> = None;
    for (i, pkt) in pkts.iter_mut().enumerate().take(burst.len()) {
        if !all_live && burst.disposition(i) != Disposition::Continue {
            continue;
        }
        let Some(meta) = burst.get(i) else {
            break;
        };
        let (l3, generated, adjacency) =
            (usize::from(meta.l3_offset), meta.generated, meta.adjacency);
        let resolved = match cached {
            Some((index, resolved)) if index == adjacency => resolved,
            _ => {
                let resolved = resolve(snapshot, adjacency);
                cached = Some((adjacency, resolved));
                resolved
            }
        };
        let (tx_if, next_hop, rewrite, itf) = match resolved {
            Resolved::Ready {
                tx_if,
                next_hop,
                rewrite,
                interface,
            } => (tx_if, next_hop, rewrite, interface),
            Resolved::Glean { attached: false } => {
                burst.set_disposition(i, Disposition::ToResolve);
                continue;
            }
            Resolved::Glean { attached: true } => {
                burst.set_disposition(i, Disposition::ToGlean);
                continue;
            }
            Resolved::Fail(e) => {
                drop(burst, i, e);
                continue;
            }
        };
        // The ethernet header sits right before L3; ethernet-input set l3 to its length.
        let Some(frame) = pkt
            .data_mut()
            .get_mut(l3.saturating_sub(ethernet::HEADER_LEN)..)
        else {
            drop(burst, i, Ip4RewriteError::Truncated);
            continue;
        };
        let Some(Ok(mut ip)) = frame
            .get_mut(ethernet::HEADER_LEN..)
            .map(Ipv4Packet::new_checked)
        else {
            drop(burst, i, Ip4RewriteError::Truncated);
            continue;
        };
        // A packet that cannot leave goes to ip4-icmp-error unchanged, traced here first
        // as VPP's ip4-rewrite traces every packet it sees.
        let error = if !generated && ip.ttl() <= 1 {
            Some(IcmpErrorKind::TimeExceeded)
        } else if ip.total_len() > itf.mtu && ip.dont_fragment() {
            Some(IcmpErrorKind::FragmentationNeeded { mtu: itf.mtu })
        } else {
            None
        };
        match error {
            Some(kind) => burst.set_disposition(i, Disposition::ToIcmpError(kind)),
            None => {
                if let Some(meta) = burst.meta_mut(i) {
                    meta.fragment = ip.total_len() > itf.mtu;
                }
                if !generated {
                    ip.decrement_ttl();
                }
                if let Some(header) = frame.get_mut(..ethernet::HEADER_LEN) {
                    header.copy_from_slice(rewrite);
                }
                burst.set_disposition(i, Disposition::Output(tx_if));
            }
        }
        if TRACE {
            if let Some(meta) = burst.get(i) {
                let data = pkt.data();
                cx.trace(meta, || {
                    let mut bytes = [0u8; TRACE_BYTES];
                    let captured = data.len().min(TRACE_BYTES);
                    bytes[..captured].copy_from_slice(&data[..captured]);
                    TraceRecord::Ip4Rewrite(Trace {
                        tx_if,
                        interface: InlineName::new(&itf.name),
                        adjacency,
                        next_hop,
                        rewrite: *rewrite,
                        flow_hash: meta.flow.flow_hash,
                        bytes,
                        captured: captured as u8,
                    })
                });
            }
        }
    }
}

/// What an adjacency means for ip4-rewrite, looked up once per run of packets.
#[derive(Clone, Copy)]
enum Resolved<'a> {
    Ready {
        tx_if: IfIndex,
        next_hop: Ipv4Addr,
        rewrite: &'a [u8; ethernet::HEADER_LEN],
        interface: &'a InterfaceConfig,
    },
    /// The MAC is not known yet: of a route's next hop, or (`attached`) of a destination on
    /// an attached subnet.
    Glean {
        attached: bool,
    },
    Fail(Ip4RewriteError),
}

fn resolve(snapshot: &Snapshot, adjacency: AdjIndex) -> Resolved<'_> {
    match snapshot.fib.adjacency(adjacency) {
        Adjacency::Rewrite {
            tx_if,
            next_hop,
            rewrite,
        } => match snapshot.interface(*tx_if).filter(|itf| itf.admin_up) {
            Some(interface) => Resolved::Ready {
                tx_if: *tx_if,
                next_hop: *next_hop,
                rewrite,
                interface,
            },
            None => Resolved::Fail(Ip4RewriteError::TxInterfaceDown),
        },
        Adjacency::Glean { next_hop, .. } => Resolved::Glean {
            attached: next_hop.is_none(),
        },
        Adjacency::NoRoute | Adjacency::Drop | Adjacency::Receive { .. } => {
            Resolved::Fail(Ip4RewriteError::NoAdjacency)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::config::Snapshot;
    use crate::node::DropReason;
    use crate::packet::EthernetFrame;
    use crate::spec_frames::{self, *};

    /// Runs ip4-lookup then ip4-rewrite.
    fn route(snap: &Snapshot, frame: Vec<u8>) -> (Disposition, Vec<u8>) {
        let (burst, pkts, _) = run_stage(TAP2, &[frame], snap, |b, p, cx| {
            super::super::ip4_lookup::process::<_, false>(b, p, cx);
            process::<_, false>(b, p, cx);
        });
        (burst.disposition(0), pkts[0].data().to_vec())
    }

    #[test]
    fn spec_syn_gets_macs_ttl_and_checksum() {
        let (d, out) = route(&snapshot(), spec_frames::syn());
        assert_eq!(d, Disposition::Output(TAP0));
        let eth = EthernetFrame::new_checked(&out[..]).unwrap();
        assert_eq!(eth.destination(), HOST_MAC);
        assert_eq!(eth.source(), TAP0_MAC);
        let ip = Ipv4Packet::new_verified(&out[14..]).unwrap();
        assert_eq!(ip.ttl(), 63);
        assert_eq!(ip.checksum(), ip.compute_checksum());
        assert_eq!(ip.checksum(), 0xea46);
        // Nothing after the IP header changed.
        assert_eq!(out[34..], spec_frames::syn()[34..]);
    }

    /// Each packet of a burst is rewritten by its own adjacency: the stage keeps the
    /// last one resolved only while the next packet shares it.
    #[test]
    fn a_burst_mixing_adjacencies_gets_each_its_own_rewrite() {
        let mut cp = control_plane();
        cp.add_neighbor("tap2", CLIENT_IP, CLIENT_POD_MAC, true)
            .unwrap();
        let snap = cp.snapshot();
        let to_pod = spec_frames::udp_frame(
            (TAP0_MAC, HOST_MAC),
            (HOST_NEXT_HOP, 53),
            (CLIENT_IP, 5000),
            b"reply",
        );
        let frames = [spec_frames::syn(), to_pod, spec_frames::syn()];
        let (burst, pkts, _) = run_stage(TAP0, &frames, &snap, |b, p, cx| {
            super::super::ip4_lookup::process::<_, false>(b, p, cx);
            process::<_, false>(b, p, cx);
        });
        let leaving: Vec<Disposition> = (0..3).map(|i| burst.disposition(i)).collect();
        assert_eq!(
            leaving,
            [
                Disposition::Output(TAP0),
                Disposition::Output(TAP2),
                Disposition::Output(TAP0)
            ]
        );
        let macs = |i: usize| {
            let eth = EthernetFrame::new_checked(pkts[i].data()).unwrap();
            (eth.destination(), eth.source())
        };
        assert_eq!(macs(0), (HOST_MAC, TAP0_MAC));
        assert_eq!(macs(1), (CLIENT_POD_MAC, TAP2_MAC));
        assert_eq!(macs(2), (HOST_MAC, TAP0_MAC));
    }

    #[test]
    fn ttl_one_is_time_exceeded() {
        let mut f = spec_frames::syn();
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
        ip.set_ttl(1);
        ip.fill_checksum();
        let (d, _) = route(&snapshot(), f);
        assert_eq!(d, Disposition::ToIcmpError(IcmpErrorKind::TimeExceeded));
    }

    fn with_mtu(mtu: u16) -> Snapshot {
        let mut cp = control_plane();
        cp.set_mtu("tap0", mtu).unwrap();
        cp.snapshot()
    }

    #[test]
    fn over_mtu_with_df_needs_fragmentation() {
        let (d, _) = route(&with_mtu(68), spec_frames::syn()[..].to_vec());
        // 60 bytes fit in 68.
        assert_eq!(d, Disposition::Output(TAP0));
        let mut big = spec_frames::tcp_frame(&TcpFrameSpec {
            payload: &[0u8; 100],
            ..syn_spec()
        });
        let (d, _) = route(&with_mtu(68), big.clone());
        assert_eq!(
            d,
            Disposition::ToIcmpError(IcmpErrorKind::FragmentationNeeded { mtu: 68 })
        );
        // Without DF: rewritten as any other, and marked for ip4-frag.
        let mut ip = Ipv4Packet::new_unchecked(&mut big[14..]);
        ip.set_fragment(false, false, 0);
        ip.fill_checksum();
        let (burst, pkts, _) = run_stage(TAP2, &[big], &with_mtu(68), |b, p, cx| {
            super::super::ip4_lookup::process::<_, false>(b, p, cx);
            process::<_, false>(b, p, cx);
        });
        assert_eq!(burst.disposition(0), Disposition::Output(TAP0));
        assert!(burst.get(0).unwrap().fragment);
        let ip = Ipv4Packet::new_verified(&pkts[0].data()[14..]).unwrap();
        assert_eq!(ip.ttl(), 63);
        assert_eq!(&pkts[0].data()[..6], &HOST_MAC.0);
        // Under the MTU, not marked.
        let (burst, _, _) = run_stage(TAP2, &[spec_frames::syn()], &with_mtu(68), |b, p, cx| {
            super::super::ip4_lookup::process::<_, false>(b, p, cx);
            process::<_, false>(b, p, cx);
        });
        assert!(!burst.get(0).unwrap().fragment);
    }

    /// An attached destination without a MAC goes to ip4-glean, a route's next hop
    /// without one to ip4-arp.
    #[test]
    fn unresolved_goes_to_glean_or_arp() {
        let f = spec_frames::tcp_frame(&TcpFrameSpec {
            dst: std::net::Ipv4Addr::new(172, 30, 1, 9),
            ..syn_spec()
        });
        assert_eq!(route(&snapshot(), f).0, Disposition::ToGlean);
        let mut cp = control_plane();
        let via = crate::config::RouteTarget::Via {
            next_hop: std::net::Ipv4Addr::new(172, 30, 1, 9),
            interface: None,
        };
        cp.add_route("192.0.2.0/24".parse().unwrap(), via).unwrap();
        let f = spec_frames::tcp_frame(&TcpFrameSpec {
            dst: std::net::Ipv4Addr::new(192, 0, 2, 1),
            ..syn_spec()
        });
        assert_eq!(route(&cp.snapshot(), f).0, Disposition::ToResolve);
    }

    #[test]
    fn no_adjacency() {
        // A packet reaching rewrite without a lookup has the no-route adjacency.
        let snap = snapshot();
        let (burst, _, _) = run_stage(TAP2, &[spec_frames::syn()], &snap, |b, p, cx| {
            process::<_, false>(b, p, cx)
        });
        assert_eq!(
            burst.disposition(0),
            Disposition::Drop(DropReason::of(Ip4RewriteError::NoAdjacency))
        );
    }

    #[test]
    fn tx_interface_down() {
        let snap = snapshot();
        let mut down = snapshot();
        for itf in &mut down.interfaces {
            if itf.index == TAP0 {
                itf.admin_up = false;
            }
        }
        // Same FIB (built while tap0 was up), tap0 now down.
        let (burst, _, _) = run_stage(TAP2, &[spec_frames::syn()], &down, |b, p, cx| {
            let adj = snap.fib.lookup(SERVICE_IP);
            b.meta_mut(0).unwrap().adjacency = adj;
            process::<_, false>(b, p, cx)
        });
        assert_eq!(
            burst.disposition(0),
            Disposition::Drop(DropReason::of(Ip4RewriteError::TxInterfaceDown))
        );
    }

    #[test]
    fn truncated() {
        let snap = snapshot();
        let (burst, _, _) = run_stage(
            TAP2,
            &[spec_frames::syn()[..30].to_vec()],
            &snap,
            |b, p, cx| {
                b.meta_mut(0).unwrap().adjacency = snap.fib.lookup(SERVICE_IP);
                process::<_, false>(b, p, cx)
            },
        );
        assert_eq!(
            burst.disposition(0),
            Disposition::Drop(DropReason::of(Ip4RewriteError::Truncated))
        );
    }
}
