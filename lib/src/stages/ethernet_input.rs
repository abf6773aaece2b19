//! ethernet-input: IPv4 on to ip4-input, ARP to the arp stage, anything else dropped.

use super::{drop, Context};
use crate::buffer::PacketBuf;
use crate::burst::{Burst, Disposition};
use crate::node::NodeId;
use crate::node_errors;
use crate::packet::ethernet::{self, EtherType, EthernetFrame};
use crate::trace::TraceRecord;
use crate::types::MacAddr;
use std::fmt;

node_errors! {
    /// Why ethernet-input drops a frame.
    pub enum EthernetInputError for NodeId::EthernetInput {
        Truncated => "frame shorter than an ethernet header",
        InterfaceDown => "interface is down",
        L3MacMismatch => "l3 mac mismatch",
        UnknownType => "unknown ethernet type",
        UnknownVlan => "unknown vlan",
        Ip4NotUnicast => "ip4 to a broadcast or multicast mac (not routed)",
    }
}

/// The frame's Ethernet header: `IP4: 00:00:00:00:00:02 -> 02:fe:16:3f:5f:0f`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub ethertype: EtherType,
    pub src: MacAddr,
    pub dst: MacAddr,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  {}: {} -> {}", self.ethertype, self.src, self.dst)
    }
}

/// Classifies every live packet of the burst by its ethertype.
///
/// A unicast destination other than the interface's MAC is dropped (`l3 mac mismatch`),
/// as a router's port in promiscuous mode (net_tap, pcap) sees other hosts' traffic;
/// broadcast and multicast pass for ARP, since requests arrive that way. IPv4 sent to a
/// broadcast or multicast MAC is dropped: a router must not forward a link-layer
/// broadcast nor answer it with an ICMP error (RFC 1812 §5.3.4, RFC 1122 §3.2.2), podfwd
/// does no multicast, and nothing it listens to (ICMP echo) is reached that way. Tagged
/// frames are refused as VPP refuses a VLAN no sub-interface matches.
pub fn process<B: PacketBuf, const TRACE: bool>(
    burst: &mut Burst,
    pkts: &mut [B],
    cx: &mut Context<'_>,
) {
    let Some(burst_rx_if) = burst.get(0).map(|m| m.rx_if) else {
        return;
    };
    // A burst comes from one port, so its interface is looked up once.
    let interface = cx
        .snapshot
        .interface(burst_rx_if)
        .filter(|itf| itf.admin_up)
        .map(|itf| itf.mac);
    let all_live = burst.all_continue();
    for (i, pkt) in pkts.iter_mut().enumerate().take(burst.len()) {
        if !all_live && burst.disposition(i) != Disposition::Continue {
            continue;
        }
        let Ok(frame) = EthernetFrame::new_checked(pkt.data()) else {
            drop(burst, i, EthernetInputError::Truncated);
            continue;
        };
        let (ethertype, dst) = (frame.ethertype(), frame.destination());
        if TRACE {
            if let Some(meta) = burst.get(i) {
                let src = frame.source();
                cx.trace(meta, || {
                    TraceRecord::EthernetInput(Trace {
                        ethertype,
                        src,
                        dst,
                    })
                });
            }
        }
        let Some(our_mac) = interface else {
            drop(burst, i, EthernetInputError::InterfaceDown);
            continue;
        };
        if dst.is_unicast() && dst != our_mac {
            drop(burst, i, EthernetInputError::L3MacMismatch);
            continue;
        }
        match ethertype {
            // The spec's own tap0 MAC (01:23:45:67:89:42) has the group bit set: a
            // frame to the interface's MAC is always ours.
            EtherType::Ipv4 if !dst.is_unicast() && dst != our_mac => {
                drop(burst, i, EthernetInputError::Ip4NotUnicast);
            }
            EtherType::Ipv4 => {
                if let Some(meta) = burst.meta_mut(i) {
                    meta.l3_offset = ethernet::HEADER_LEN as u16;
                }
            }
            EtherType::Arp => {
                if let Some(meta) = burst.meta_mut(i) {
                    meta.l3_offset = ethernet::HEADER_LEN as u16;
                }
                burst.set_disposition(i, Disposition::ToArp);
            }
            EtherType::Vlan => drop(burst, i, EthernetInputError::UnknownVlan),
            EtherType::Ipv6 | EtherType::Unknown(_) => {
                drop(burst, i, EthernetInputError::UnknownType);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::node::DropReason;
    use crate::spec_frames;

    fn run(frames: &[Vec<u8>]) -> Burst {
        let snap = snapshot();
        run_stage(TAP2, frames, &snap, |b, p, cx| {
            process::<_, false>(b, p, cx)
        })
        .0
    }

    fn dropped(e: EthernetInputError) -> Disposition {
        Disposition::Drop(DropReason::of(e))
    }

    #[test]
    fn ipv4_continues_and_arp_goes_to_arp() {
        let arp =
            spec_frames::arp_request(spec_frames::CLIENT_POD_MAC, spec_frames::CLIENT_IP, TAP2_IP);
        let burst = run(&[spec_frames::syn(), arp]);
        assert_eq!(burst.disposition(0), Disposition::Continue);
        assert_eq!(burst.get(0).unwrap().l3_offset, 14);
        assert_eq!(burst.disposition(1), Disposition::ToArp);
    }

    #[test]
    fn l3_mac_mismatch() {
        let mut frame = spec_frames::syn();
        frame[5] ^= 0x01; // another unicast MAC
        assert_eq!(
            run(&[frame]).disposition(0),
            dropped(EthernetInputError::L3MacMismatch)
        );
    }

    #[test]
    fn ip4_to_a_broadcast_or_multicast_mac_is_not_routed() {
        let mut broadcast = spec_frames::syn();
        broadcast[..6].copy_from_slice(&[0xff; 6]);
        let mut multicast = spec_frames::syn();
        multicast[..6].copy_from_slice(&[0x01, 0x00, 0x5e, 0, 0, 1]);
        let burst = run(&[broadcast, multicast]);
        for i in 0..2 {
            assert_eq!(
                burst.disposition(i),
                dropped(EthernetInputError::Ip4NotUnicast)
            );
        }
    }

    #[test]
    fn an_interface_mac_with_the_group_bit_is_still_ours() {
        // tap0's MAC in the spec is 01:23:45:67:89:42; the host's SYN-ACK comes to it.
        let snap = snapshot();
        let (burst, _, _) = run_stage(TAP0, &[spec_frames::syn_ack()], &snap, |b, p, cx| {
            process::<_, false>(b, p, cx)
        });
        assert_eq!(burst.disposition(0), Disposition::Continue);
    }

    #[test]
    fn tagged_frame_is_an_unknown_vlan() {
        let mut tagged = spec_frames::syn();
        tagged[12..14].copy_from_slice(&[0x81, 0x00]);
        assert_eq!(
            run(&[tagged]).disposition(0),
            dropped(EthernetInputError::UnknownVlan)
        );
    }

    #[test]
    fn unknown_ethernet_type() {
        let mut ipv6 = spec_frames::syn();
        ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
        let mut lldp = spec_frames::syn();
        lldp[12..14].copy_from_slice(&[0x88, 0xcc]);
        let burst = run(&[ipv6, lldp]);
        assert_eq!(
            burst.disposition(0),
            dropped(EthernetInputError::UnknownType)
        );
        assert_eq!(
            burst.disposition(1),
            dropped(EthernetInputError::UnknownType)
        );
    }

    #[test]
    fn frame_shorter_than_ethernet_header() {
        let frame = spec_frames::syn()[..13].to_vec();
        assert_eq!(
            run(&[frame]).disposition(0),
            dropped(EthernetInputError::Truncated)
        );
    }

    #[test]
    fn interface_down() {
        let mut cp = control_plane();
        cp.set_state("tap2", false).unwrap();
        let snap = cp.snapshot();
        let (burst, _, _) = run_stage(TAP2, &[spec_frames::syn()], &snap, |b, p, cx| {
            process::<_, false>(b, p, cx)
        });
        assert_eq!(
            burst.disposition(0),
            dropped(EthernetInputError::InterfaceDown)
        );
    }
}
