//! ip4-local: packets addressed to one of our addresses.
//!
//! podfwd has no host stack of its own: an ICMP echo request is answered with an echo
//! reply built in place (then routed like any packet), and anything else is dropped as
//! `no listener`.

use super::icmp_error::IcmpErrorKind;
use super::{drop, Context};
use crate::buffer::PacketBuf;
use crate::burst::{Burst, Disposition};
use crate::fib::AdjIndex;
use crate::node::{DropReason, NodeId};
use crate::node_errors;
use crate::packet::checksum;
use crate::packet::icmp::{IcmpPacket, MessageType};
use crate::packet::ipv4::{Ipv4Packet, Protocol};
use crate::trace::{Headers, TraceRecord};
use std::fmt;

node_errors! {
    /// Why ip4-local drops a packet.
    pub enum Ip4LocalError for NodeId::Ip4Local {
        NoListener => "no listener",
        /// An answer to the console's `ping`, which reads it at the port (the app's poll
        /// loop) before the stages consume it here.
        EchoReply => "echo replies received",
        BadIcmp => "ICMP message truncated or bad checksum",
        BadSource => "echo request from a non-unicast source",
        Truncated => "ip4 header missing",
        /// VPP reassembles what is for it; podfwd holds no packets.
        Fragment => "fragment (no reassembly)",
        /// Counted beside each reply sent, as VPP's ip4-icmp-input counts it.
        EchoRepliesSent => "echo replies sent",
    }
}

const REPLY_TTL: u8 = 64;

/// The packet as ip4-local left it (the reply, when it answered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub replied: bool,
    pub headers: Headers,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.replied {
            writeln!(f, "  echo reply")?;
        }
        self.headers.fmt(f)
    }
}

/// Answers echo requests to our addresses, and UDP (no port listens) with a port
/// unreachable; drops every other packet for us.
pub fn process<B: PacketBuf, const TRACE: bool>(
    burst: &mut Burst,
    pkts: &mut [B],
    cx: &mut Context<'_>,
) {
    for (i, pkt) in pkts.iter_mut().enumerate().take(burst.len()) {
        if burst.disposition(i) != Disposition::ToLocal {
            continue;
        }
        let l3 = burst.get(i).map_or(0, |m| usize::from(m.l3_offset));
        let result = match pkt.data_mut().get_mut(l3..) {
            Some(bytes) => echo_reply(bytes),
            None => Err(Ip4LocalError::Truncated),
        };
        match result {
            Ok(()) => {
                cx.counters
                    .count_reason(DropReason::of(Ip4LocalError::EchoRepliesSent), 1);
                if let Some(meta) = burst.meta_mut(i) {
                    meta.generated = true;
                    meta.adjacency = AdjIndex::NO_ROUTE;
                }
                burst.set_disposition(i, Disposition::Continue);
            }
            // Nothing listens on UDP here: answered as VPP's udp-local does when no
            // port is registered, with an ICMP port unreachable (ip4-icmp-error
            // decides whether it may be sent, and counts it).
            Err(Ip4LocalError::NoListener | Ip4LocalError::Fragment)
                if is_udp(pkt.data().get(l3..)) =>
            {
                burst.set_disposition(i, Disposition::ToIcmpError(IcmpErrorKind::PortUnreachable));
            }
            Err(e) => drop(burst, i, e),
        }
        if TRACE {
            if let Some(meta) = burst.get(i) {
                let bytes = pkt.data().get(l3..).unwrap_or(&[]);
                cx.trace(meta, || {
                    TraceRecord::Ip4Local(Trace {
                        replied: result.is_ok(),
                        headers: Headers::capture(bytes),
                    })
                });
            }
        }
    }
}

/// Turns an echo request into its reply: addresses swapped, type 0, checksums patched.
/// Whether `l3` is a UDP datagram (or its first fragment).
fn is_udp(l3: Option<&[u8]>) -> bool {
    l3.and_then(|bytes| Ipv4Packet::new_checked(bytes).ok())
        .is_some_and(|ip| ip.protocol() == Protocol::Udp && !ip.is_non_first_fragment())
}

fn echo_reply(l3: &mut [u8]) -> Result<(), Ip4LocalError> {
    let mut ip = Ipv4Packet::new_checked(l3).map_err(|_| Ip4LocalError::Truncated)?;
    if ip.more_fragments() || ip.is_non_first_fragment() {
        return Err(Ip4LocalError::Fragment);
    }
    if ip.protocol() != Protocol::Icmp {
        return Err(Ip4LocalError::NoListener);
    }
    let (src, dst) = (ip.src(), ip.dst());
    {
        let icmp = IcmpPacket::new_checked(ip.payload()).map_err(|_| Ip4LocalError::BadIcmp)?;
        match icmp.msg_type() {
            MessageType::EchoRequest => {}
            MessageType::EchoReply => return Err(Ip4LocalError::EchoReply),
            _ => return Err(Ip4LocalError::NoListener),
        }
        if !icmp.verify_checksum() {
            return Err(Ip4LocalError::BadIcmp);
        }
    }
    if src.is_unspecified() || src.is_broadcast() || src.is_multicast() {
        return Err(Ip4LocalError::BadSource);
    }
    let mut icmp = IcmpPacket::new_unchecked(ip.payload_mut());
    let old_word = u16::from_be_bytes([u8::from(MessageType::EchoRequest), icmp.code()]);
    let new_word = u16::from_be_bytes([u8::from(MessageType::EchoReply), icmp.code()]);
    let csum = checksum::update16(icmp.checksum(), old_word, new_word);
    icmp.set_msg_type(MessageType::EchoReply);
    icmp.set_checksum(csum);
    ip.set_src(dst);
    ip.set_dst(src);
    ip.set_ttl(REPLY_TTL);
    ip.fill_checksum();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::node::DropReason;
    use crate::spec_frames::{self, *};

    fn local(frame: Vec<u8>) -> (Disposition, Vec<u8>) {
        let (d, out, _) = local_counted(frame);
        (d, out)
    }

    /// `local`, and how many echo replies ip4-local counted.
    fn local_counted(frame: Vec<u8>) -> (Disposition, Vec<u8>, u64) {
        let snap = snapshot();
        let (burst, pkts, counters) = run_stage(TAP2, &[frame], &snap, |b, p, cx| {
            b.set_disposition(0, Disposition::ToLocal);
            process::<_, false>(b, p, cx)
        });
        let sent = DropReason::of(Ip4LocalError::EchoRepliesSent);
        let replies = counters.totals().reason(sent);
        (burst.disposition(0), pkts[0].data().to_vec(), replies)
    }

    fn ping() -> Vec<u8> {
        spec_frames::icmp_echo_request(
            TAP2_MAC,
            CLIENT_POD_MAC,
            CLIENT_IP,
            TAP2_IP,
            64,
            0x77,
            3,
            b"hello",
        )
    }

    #[test]
    fn echo_request_is_answered_in_place() {
        let (d, out, replies) = local_counted(ping());
        assert_eq!(d, Disposition::Continue);
        assert_eq!(replies, 1);
        let ip = Ipv4Packet::new_verified(&out[14..]).unwrap();
        assert_eq!((ip.src(), ip.dst()), (TAP2_IP, CLIENT_IP));
        assert_eq!(ip.ttl(), 64);
        let icmp = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(icmp.msg_type(), MessageType::EchoReply);
        assert_eq!((icmp.echo_ident(), icmp.echo_seq()), (0x77, 3));
        assert_eq!(icmp.data(), b"hello");
        assert!(icmp.verify_checksum());
    }

    /// `ping -s 3000` across a 1500-byte link: its fragments are not reassembled, and
    /// they say so (not 'no listener'); nothing is answered.
    #[test]
    fn fragments_of_an_echo_request_are_counted_as_fragments() {
        for (more_fragments, offset) in [(true, 0), (false, 185)] {
            let mut f = ping();
            let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
            ip.set_fragment(false, more_fragments, offset);
            ip.fill_checksum();
            let (d, _, replies) = local_counted(f);
            let fragment = Disposition::Drop(DropReason::of(Ip4LocalError::Fragment));
            assert_eq!(d, fragment, "offset {offset}");
            assert_eq!(replies, 0);
        }
    }

    #[test]
    fn no_listener() {
        let mut syn = spec_frames::syn();
        let mut ip = Ipv4Packet::new_unchecked(&mut syn[14..]);
        ip.set_dst(TAP2_IP);
        ip.fill_checksum();
        assert_eq!(
            local(syn).0,
            Disposition::Drop(DropReason::of(Ip4LocalError::NoListener))
        );
    }

    /// An echo reply to one of our addresses (the console's `ping`) is consumed and
    /// counted as such, not as a lack of listener.
    #[test]
    fn echo_replies_are_counted_as_received() {
        let mut reply = ping();
        let mut ip = Ipv4Packet::new_unchecked(&mut reply[14..]);
        let mut icmp = IcmpPacket::new_unchecked(ip.payload_mut());
        icmp.set_msg_type(MessageType::EchoReply);
        icmp.fill_checksum();
        assert_eq!(
            local(reply).0,
            Disposition::Drop(DropReason::of(Ip4LocalError::EchoReply))
        );
    }

    #[test]
    fn bad_icmp() {
        let mut f = ping();
        let last = f.len() - 1;
        f[last] ^= 1;
        assert_eq!(
            local(f).0,
            Disposition::Drop(DropReason::of(Ip4LocalError::BadIcmp))
        );
    }

    #[test]
    fn bad_source() {
        let f = spec_frames::icmp_echo_request(
            TAP2_MAC,
            CLIENT_POD_MAC,
            std::net::Ipv4Addr::new(224, 0, 0, 1),
            TAP2_IP,
            64,
            1,
            1,
            b"",
        );
        assert_eq!(
            local(f).0,
            Disposition::Drop(DropReason::of(Ip4LocalError::BadSource))
        );
    }

    #[test]
    fn truncated() {
        let f = ping()[..30].to_vec();
        assert_eq!(
            local(f).0,
            Disposition::Drop(DropReason::of(Ip4LocalError::Truncated))
        );
    }
}
