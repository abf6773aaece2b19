//! ip4-icmp-error: time exceeded, destination unreachable (no route) and fragmentation
//! needed, built in the offending packet's own buffer.
//!
//! The error quotes as much of the offending packet as fits in a 576-byte datagram
//! (RFC 1812 §4.3.2.3, as VPP and Linux do; RFC 792's header plus 8 bytes is the least),
//! comes from an address of the interface the packet arrived on, and then goes through
//! ip4-lookup and ip4-rewrite like any packet. No error is sent about an ICMP error, a
//! non-first fragment, or a packet whose source is not a unicast host (RFC 1812
//! §4.3.2.7). Errors are rate-limited per worker by a token bucket (RFC 1812 §4.3.2.8).

use super::{drop, source_address_for, Context};
use crate::buffer::PacketBuf;
use crate::burst::{Burst, Disposition};
use crate::fib::AdjIndex;
use crate::node::{DropReason, NodeId};
use crate::node_errors;
use crate::packet::ethernet;
use crate::packet::icmp::{self, IcmpPacket, MessageType};
use crate::packet::ipv4::{self, Ipv4Packet, Protocol};
use crate::trace::TraceRecord;
use std::fmt;
use std::net::Ipv4Addr;

/// Which error to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpErrorKind {
    /// TTL expired in transit.
    TimeExceeded,
    /// No route to the destination network.
    NetUnreachable,
    /// Larger than the next hop's MTU with DF set (RFC 1191).
    FragmentationNeeded { mtu: u16 },
    /// UDP to one of our addresses, where nothing listens (RFC 1122 §4.1.3.1).
    PortUnreachable,
}

impl IcmpErrorKind {
    fn type_and_code(self) -> (MessageType, u8, u16) {
        match self {
            IcmpErrorKind::TimeExceeded => {
                (MessageType::TimeExceeded, icmp::TIME_EXCEEDED_IN_TRANSIT, 0)
            }
            IcmpErrorKind::NetUnreachable => (
                MessageType::DestinationUnreachable,
                icmp::unreachable_code::NET,
                0,
            ),
            IcmpErrorKind::FragmentationNeeded { mtu } => (
                MessageType::DestinationUnreachable,
                icmp::unreachable_code::FRAGMENTATION_NEEDED,
                mtu,
            ),
            IcmpErrorKind::PortUnreachable => (
                MessageType::DestinationUnreachable,
                icmp::unreachable_code::PORT,
                0,
            ),
        }
    }

    /// The reason the offending packet itself is counted under.
    fn original_reason(self) -> IcmpErrorError {
        match self {
            IcmpErrorKind::TimeExceeded => IcmpErrorError::TtlExpired,
            IcmpErrorKind::NetUnreachable => IcmpErrorError::NoRoute,
            IcmpErrorKind::FragmentationNeeded { .. } => IcmpErrorError::MtuExceeded,
            IcmpErrorKind::PortUnreachable => IcmpErrorError::UdpNoListener,
        }
    }
}

impl fmt::Display for IcmpErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IcmpErrorKind::TimeExceeded => f.write_str("time exceeded (ttl <= 1)"),
            IcmpErrorKind::NetUnreachable => f.write_str("destination unreachable (no route)"),
            IcmpErrorKind::FragmentationNeeded { mtu } => {
                write!(
                    f,
                    "destination unreachable (fragmentation needed, mtu {mtu})"
                )
            }
            IcmpErrorKind::PortUnreachable => {
                f.write_str("destination unreachable (port unreachable)")
            }
        }
    }
}

node_errors! {
    /// What ip4-icmp-error counts: the offending packets (turned into errors) and those
    /// it answers with nothing. VPP's own counters by the type sent ("hop limit exceeded
    /// response sent", "destination unreachable response sent", "error message
    /// dropped"), the unreachables and the drops told apart by their cause.
    pub enum IcmpErrorError for NodeId::IcmpError {
        TtlExpired => "hop limit exceeded response sent",
        NoRoute => "destination unreachable response sent (no route)",
        MtuExceeded => "destination unreachable response sent (fragmentation needed)",
        RateLimited => "error message dropped (rate limited)",
        NotSent => "error message dropped (about an ICMP error, fragment or non-unicast)",
        NoSourceAddress => "error message dropped (no interface address)",
        NoRoom => "error message dropped (does not fit the buffer)",
        UdpNoListener => "destination unreachable response sent (port unreachable)",
        AboutGenerated => "error message dropped (about a packet sent from here)",
    }
}

/// What became of the offending packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent { to: Ipv4Addr },
    Dropped(IcmpErrorError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub kind: IcmpErrorKind,
    pub outcome: Outcome,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.outcome {
            Outcome::Sent { to } => writeln!(f, "  {} sent to {to}", self.kind),
            Outcome::Dropped(e) => {
                use crate::node::NodeError;
                writeln!(f, "  {}: {}", self.kind, e.description())
            }
        }
    }
}

/// Errors each worker may send per second, and how many at once.
pub const ERRORS_PER_SECOND: u64 = 1000;
pub const BURST_ALLOWANCE: u64 = 64;

/// The most an error datagram may be (RFC 1812 §4.3.2.3): its header, the ICMP header
/// and the quote.
const MAX_ERROR_DATAGRAM: usize = 576;
const MAX_QUOTE: usize = MAX_ERROR_DATAGRAM - ipv4::MIN_HEADER_LEN - icmp::HEADER_LEN;
const ERROR_TTL: u8 = 64;

/// The stage, with its per-worker rate limiter.
#[derive(Debug)]
pub struct IcmpError {
    tokens: u64,
    last_refill_ns: u64,
    next_ident: u16,
}

impl Default for IcmpError {
    fn default() -> Self {
        IcmpError::new()
    }
}

impl IcmpError {
    pub fn new() -> Self {
        IcmpError {
            tokens: BURST_ALLOWANCE,
            last_refill_ns: 0,
            next_ident: 0,
        }
    }

    fn take_token(&mut self, now_ns: u64) -> bool {
        let elapsed = now_ns.saturating_sub(self.last_refill_ns);
        let earned = elapsed.saturating_mul(ERRORS_PER_SECOND) / 1_000_000_000;
        if earned > 0 {
            self.tokens = (self.tokens + earned).min(BURST_ALLOWANCE);
            self.last_refill_ns = now_ns;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }

    /// Turns every packet waiting for an ICMP error into that error, live again for
    /// ip4-lookup, or drops it.
    pub fn process<B: PacketBuf, const TRACE: bool>(
        &mut self,
        burst: &mut Burst,
        pkts: &mut [B],
        cx: &mut Context<'_>,
    ) {
        for (i, pkt) in pkts.iter_mut().enumerate().take(burst.len()) {
            let Disposition::ToIcmpError(kind) = burst.disposition(i) else {
                continue;
            };
            let outcome = self.build(kind, burst, i, pkt, cx);
            match outcome {
                Outcome::Sent { .. } => {
                    if let Some(meta) = burst.meta_mut(i) {
                        // The buffer lives on as the error: its reason is counted, but
                        // not a drop on the interface; should the error itself be
                        // dropped later, that drop is the one the interface counts.
                        cx.counters
                            .count_reason(DropReason::of(kind.original_reason()), 1);
                        meta.generated = true;
                        meta.adjacency = AdjIndex::NO_ROUTE;
                    }
                    burst.set_disposition(i, Disposition::Continue);
                }
                Outcome::Dropped(e) => drop(burst, i, e),
            }
            if TRACE {
                if let Some(meta) = burst.get(i) {
                    cx.trace(meta, || TraceRecord::IcmpError(Trace { kind, outcome }));
                }
            }
        }
    }

    fn build<B: PacketBuf>(
        &mut self,
        kind: IcmpErrorKind,
        burst: &Burst,
        i: usize,
        pkt: &mut B,
        cx: &Context<'_>,
    ) -> Outcome {
        let Some(meta) = burst.get(i) else {
            return Outcome::Dropped(IcmpErrorError::NotSent);
        };
        let l3 = usize::from(meta.l3_offset);
        let Some(Ok(original)) = pkt.data().get(l3..).map(Ipv4Packet::new_checked) else {
            return Outcome::Dropped(IcmpErrorError::NotSent);
        };
        let offender = original.src();
        let subnet_broadcast = cx.snapshot.interfaces.iter().any(|itf| {
            itf.addresses
                .iter()
                .any(|p| p.subnet_ends().is_some_and(|ends| ends.contains(&offender)))
        });
        if subnet_broadcast || !may_answer(&original) {
            return Outcome::Dropped(IcmpErrorError::NotSent);
        }
        // A port unreachable comes from the address the datagram was sent to, ours.
        let own = (kind == IcmpErrorKind::PortUnreachable).then(|| original.dst());
        let source = own
            .or_else(|| {
                cx.snapshot
                    .interface(meta.rx_if)
                    .and_then(|itf| source_address_for(itf, offender))
            })
            .or_else(|| {
                cx.snapshot
                    .interfaces
                    .iter()
                    .find_map(|itf| itf.addresses.first().map(|p| p.addr))
            });
        let Some(source) = source else {
            return Outcome::Dropped(IcmpErrorError::NoSourceAddress);
        };
        let quote_len = usize::from(original.total_len()).min(MAX_QUOTE);
        if !self.take_token(cx.now_ns) {
            return Outcome::Dropped(IcmpErrorError::RateLimited);
        }

        // New layout: [ethernet][IPv4 20][ICMP 8][quote]; the quote is the old IP header
        // and payload start, moved back by 28 bytes (copy_within handles the overlap).
        let ip_at = ethernet::HEADER_LEN;
        let icmp_at = ip_at + ipv4::MIN_HEADER_LEN;
        let quote_at = icmp_at + icmp::HEADER_LEN;
        let new_len = quote_at + quote_len;
        if !pkt.set_len(new_len.max(l3 + quote_len)) {
            return Outcome::Dropped(IcmpErrorError::NoRoom);
        }
        let data = pkt.data_mut();
        data.copy_within(l3..l3 + quote_len, quote_at);
        pkt.set_len(new_len);
        let data = pkt.data_mut();
        self.next_ident = self.next_ident.wrapping_add(1);
        let Some(ip_bytes) = data.get_mut(ip_at..) else {
            return Outcome::Dropped(IcmpErrorError::NoRoom);
        };
        let mut ip = Ipv4Packet::new_unchecked(ip_bytes);
        ip.set_version_and_header_len(ipv4::MIN_HEADER_LEN);
        ip.set_tos(0);
        ip.set_total_len((new_len - ip_at) as u16);
        ip.set_ident(self.next_ident);
        ip.set_fragment(false, false, 0);
        ip.set_ttl(ERROR_TTL);
        ip.set_protocol(Protocol::Icmp);
        ip.set_src(source);
        ip.set_dst(offender);
        ip.fill_checksum();
        let (msg_type, code, mtu) = kind.type_and_code();
        let mut icmp = IcmpPacket::new_unchecked(ip.payload_mut());
        icmp.set_msg_type(msg_type);
        icmp.set_code(code);
        icmp.set_rest_of_header(0, mtu);
        icmp.fill_checksum();
        Outcome::Sent { to: offender }
    }
}

/// RFC 1812 §4.3.2.7: not about an ICMP error, not about a non-first fragment, not to a
/// source that is not a unicast host.
fn may_answer<T: AsRef<[u8]>>(original: &Ipv4Packet<T>) -> bool {
    let src = original.src();
    // 0/8 ("this network"), 127/8, 224/4 and 240/4 (with 255.255.255.255) never name a
    // host to answer (RFC 1812 §5.3.7).
    let first = src.octets()[0];
    if first == 0 || first >= 240 || src.is_multicast() || src.is_loopback() {
        return false;
    }
    if original.is_non_first_fragment() {
        return false;
    }
    if original.protocol() == Protocol::Icmp {
        let is_error = original
            .payload()
            .first()
            .is_some_and(|&t| MessageType::from(t).is_error());
        if is_error {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::spec_frames::{self, *};

    fn answer(
        stage: &mut IcmpError,
        frame: Vec<u8>,
        kind: IcmpErrorKind,
        now_ns: u64,
    ) -> (Disposition, Vec<u8>) {
        let snap = snapshot();
        let (burst, pkts, _) = run_stage(TAP2, &[frame], &snap, |b, p, cx| {
            cx.now_ns = now_ns;
            b.set_disposition(0, Disposition::ToIcmpError(kind));
            stage.process::<_, false>(b, p, cx)
        });
        (burst.disposition(0), pkts[0].data().to_vec())
    }

    #[test]
    fn time_exceeded_quotes_the_whole_short_packet() {
        let syn = spec_frames::syn();
        let (d, out) = answer(
            &mut IcmpError::new(),
            syn.clone(),
            IcmpErrorKind::TimeExceeded,
            1,
        );
        assert_eq!(d, Disposition::Continue);
        assert_eq!(out.len(), 14 + 20 + 8 + 60);
        let ip = Ipv4Packet::new_verified(&out[14..]).unwrap();
        assert_eq!(ip.src(), TAP2_IP);
        assert_eq!(ip.dst(), CLIENT_IP);
        assert_eq!(ip.protocol(), Protocol::Icmp);
        assert_eq!(ip.ttl(), 64);
        assert_eq!(ip.total_len(), 88);
        let icmp = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(icmp.msg_type(), MessageType::TimeExceeded);
        assert_eq!(icmp.code(), 0);
        assert!(icmp.verify_checksum());
        assert_eq!(icmp.data(), &syn[14..]);
    }

    /// The error's IPv4 header is its own: written over the offender's bytes, it must
    /// keep none of its TOS, identification or flags. An error that kept MF would wait
    /// at the receiver for a reassembly that never completes.
    #[test]
    fn the_errors_header_keeps_nothing_of_the_offenders() {
        let mut f = spec_frames::syn();
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
        ip.set_tos(0xb8);
        ip.set_ident(0x1234);
        ip.set_fragment(true, true, 0);
        ip.fill_checksum();
        let mut stage = IcmpError::new();
        let mut idents = Vec::new();
        for now in [1, 2] {
            let (d, out) = answer(&mut stage, f.clone(), IcmpErrorKind::TimeExceeded, now);
            assert_eq!(d, Disposition::Continue);
            let ip = Ipv4Packet::new_verified(&out[14..]).unwrap();
            assert_eq!(ip.tos(), 0);
            assert!(!ip.dont_fragment() && !ip.more_fragments());
            assert_eq!(ip.fragment_offset(), 0);
            assert_ne!(ip.ident(), 0x1234);
            idents.push(ip.ident());
            // The offender is quoted as it came, flags and all.
            let icmp = IcmpPacket::new_checked(ip.payload()).unwrap();
            assert_eq!(icmp.data(), &f[14..]);
        }
        assert_ne!(idents[0], idents[1], "each error its own identification");
    }

    #[test]
    fn a_long_packet_is_quoted_up_to_a_576_byte_error() {
        // The SYN with 1000 bytes of payload: 1040 bytes of IP, quoted up to 548.
        let mut f = spec_frames::syn();
        f.extend((0..1000).map(|i| i as u8));
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
        ip.set_total_len(1040);
        ip.fill_checksum();
        let (d, out) = answer(
            &mut IcmpError::new(),
            f.clone(),
            IcmpErrorKind::TimeExceeded,
            1,
        );
        assert_eq!(d, Disposition::Continue);
        assert_eq!(out.len(), 14 + 576);
        let ip = Ipv4Packet::new_verified(&out[14..]).unwrap();
        assert_eq!(ip.total_len(), 576);
        let icmp = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert!(icmp.verify_checksum());
        assert_eq!(icmp.data(), &f[14..14 + 548]);
    }

    #[test]
    fn no_error_to_a_source_that_is_no_host() {
        // 10.1.1.255 is tap2's subnet broadcast, 10.1.1.0 its network address.
        for src in [
            "0.1.2.3",
            "127.0.0.1",
            "224.0.0.5",
            "240.0.0.1",
            "255.255.255.255",
            "10.1.1.255",
            "10.1.1.0",
        ] {
            let frame = spec_frames::tcp_frame(&spec_frames::TcpFrameSpec {
                src: src.parse().unwrap(),
                ..spec_frames::syn_spec()
            });
            let (d, _) = answer(&mut IcmpError::new(), frame, IcmpErrorKind::TimeExceeded, 1);
            assert_eq!(
                d,
                Disposition::Drop(DropReason::of(IcmpErrorError::NotSent)),
                "{src}"
            );
        }
    }

    #[test]
    fn fragmentation_needed_carries_the_mtu() {
        let (_, out) = answer(
            &mut IcmpError::new(),
            spec_frames::syn(),
            IcmpErrorKind::FragmentationNeeded { mtu: 1400 },
            1,
        );
        let icmp = IcmpPacket::new_checked(&out[34..]).unwrap();
        assert_eq!(icmp.msg_type(), MessageType::DestinationUnreachable);
        assert_eq!(icmp.code(), 4);
        assert_eq!(icmp.next_hop_mtu(), 1400);
        assert!(icmp.verify_checksum());
    }

    #[test]
    fn short_packet_grows_to_hold_the_error() {
        // A 20-byte IP packet with no payload: the error is longer than the original.
        let mut f = spec_frames::syn();
        f.truncate(34);
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
        ip.set_total_len(20);
        ip.fill_checksum();
        let (d, out) = answer(
            &mut IcmpError::new(),
            f.clone(),
            IcmpErrorKind::NetUnreachable,
            1,
        );
        assert_eq!(d, Disposition::Continue);
        assert_eq!(out.len(), 14 + 28 + 20);
        assert_eq!(&out[42..], &f[14..]);
        let icmp = IcmpPacket::new_checked(&out[34..]).unwrap();
        assert_eq!(
            (icmp.msg_type(), icmp.code()),
            (MessageType::DestinationUnreachable, 0)
        );
    }

    #[test]
    fn rate_limited() {
        let mut stage = IcmpError::new();
        for _ in 0..BURST_ALLOWANCE {
            let (d, _) = answer(
                &mut stage,
                spec_frames::syn(),
                IcmpErrorKind::TimeExceeded,
                0,
            );
            assert_eq!(d, Disposition::Continue);
        }
        let (d, _) = answer(
            &mut stage,
            spec_frames::syn(),
            IcmpErrorKind::TimeExceeded,
            0,
        );
        assert_eq!(
            d,
            Disposition::Drop(DropReason::of(IcmpErrorError::RateLimited))
        );
        // A millisecond later one more token has been earned.
        let (d, _) = answer(
            &mut stage,
            spec_frames::syn(),
            IcmpErrorKind::TimeExceeded,
            1_000_000,
        );
        assert_eq!(d, Disposition::Continue);
    }

    /// Tokens come back at ERRORS_PER_SECOND, one a millisecond, however often errors
    /// are asked for meanwhile: a flood of offenders neither stops the refill (each ask
    /// restarting the clock) nor speeds it up; after a pause, one a millisecond of it.
    #[test]
    fn tokens_come_back_one_a_millisecond_under_a_flood() {
        let mut stage = IcmpError::new();
        let mut ask = |now_ns: u64| {
            let (d, _) = answer(
                &mut stage,
                spec_frames::syn(),
                IcmpErrorKind::TimeExceeded,
                now_ns,
            );
            d == Disposition::Continue
        };
        for _ in 0..BURST_ALLOWANCE {
            assert!(ask(0));
        }
        // Asked every 100 µs for 5 ms: one error a millisecond.
        let sent: Vec<u64> = (1..=50u64).filter(|&k| ask(k * 100_000)).collect();
        assert_eq!(sent, [10, 20, 30, 40, 50]);
        // 3 ms of quiet earn three.
        let sent = (0..5).filter(|_| ask(8_000_000)).count();
        assert_eq!(sent, 3);
    }

    #[test]
    fn not_sent_about_an_icmp_error() {
        let mut stage = IcmpError::new();
        let (_, error) = answer(
            &mut stage,
            spec_frames::syn(),
            IcmpErrorKind::TimeExceeded,
            1,
        );
        let (d, _) = answer(&mut stage, error, IcmpErrorKind::TimeExceeded, 1);
        assert_eq!(
            d,
            Disposition::Drop(DropReason::of(IcmpErrorError::NotSent))
        );
    }

    #[test]
    fn not_sent_to_a_broadcast_source() {
        let mut f = spec_frames::syn();
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
        ip.set_src(Ipv4Addr::BROADCAST);
        ip.fill_checksum();
        let (d, _) = answer(&mut IcmpError::new(), f, IcmpErrorKind::NetUnreachable, 1);
        assert_eq!(
            d,
            Disposition::Drop(DropReason::of(IcmpErrorError::NotSent))
        );
    }

    #[test]
    fn no_source_address() {
        let mut snap = snapshot();
        for itf in &mut snap.interfaces {
            itf.addresses.clear();
        }
        let mut stage = IcmpError::new();
        let (burst, _, _) = run_stage(TAP2, &[spec_frames::syn()], &snap, |b, p, cx| {
            b.set_disposition(0, Disposition::ToIcmpError(IcmpErrorKind::TimeExceeded));
            stage.process::<_, false>(b, p, cx)
        });
        assert_eq!(
            burst.disposition(0),
            Disposition::Drop(DropReason::of(IcmpErrorError::NoSourceAddress))
        );
    }

    #[test]
    fn no_room() {
        /// A buffer that cannot grow.
        struct Tight(Vec<u8>);
        impl PacketBuf for Tight {
            fn data(&self) -> &[u8] {
                &self.0
            }
            fn data_mut(&mut self) -> &mut [u8] {
                &mut self.0
            }
            fn set_len(&mut self, len: usize) -> bool {
                if len > self.0.len() {
                    return false;
                }
                self.0.truncate(len);
                true
            }
            fn capacity(&self) -> usize {
                self.0.len()
            }
        }
        let mut f = spec_frames::syn();
        f.truncate(34);
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
        ip.set_total_len(20);
        ip.fill_checksum();
        let snap = snapshot();
        let counters = crate::counters::WorkerCounters::new();
        let mut trace = crate::trace::TraceBuffer::new();
        let mut cx = Context {
            snapshot: &snap,
            counters: &counters,
            trace: &mut trace,
            now_ns: 1,
            trace_ns: 1,
            prefetch: crate::pipeline::no_prefetch,
        };
        let mut burst = Burst::new();
        burst.reset(TAP2, 1);
        burst.meta_mut(0).unwrap().l3_offset = 14;
        burst.set_disposition(0, Disposition::ToIcmpError(IcmpErrorKind::NetUnreachable));
        let mut pkts = [Tight(f)];
        IcmpError::new().process::<_, false>(&mut burst, &mut pkts, &mut cx);
        assert_eq!(
            burst.disposition(0),
            Disposition::Drop(DropReason::of(IcmpErrorError::NoRoom))
        );
    }
}
