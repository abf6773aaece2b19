//! Reading a packet's flow and rewriting its addresses and ports, with every checksum
//! patched incrementally (RFC 1624) through the packet views' helpers.

use std::net::Ipv4Addr;

use super::types::NatProtocol;
use crate::packet::checksum;
use crate::packet::udp::nonzero;
use crate::packet::{IcmpPacket, IcmpType, Ipv4Packet, Protocol, TcpPacket, UdpPacket};

/// Which side of the NAT a packet came from: it decides which end of the flow is the
/// `local` one (the end the translation is about).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Inside,
    Outside,
}

/// The flow a packet belongs to, seen from its side. For an ICMP error the flow is the
/// one the quoted packet belongs to (so the error finds that flow's session).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    pub local: (Ipv4Addr, u16),
    pub remote: (Ipv4Addr, u16),
    pub proto: NatProtocol,
    pub tcp_flags: u8,
    pub is_icmp_error: bool,
}

/// Why a packet cannot be translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A non-first fragment: it carries no ports, so only its first fragment's
    /// translation can place it. Its addresses say whether its flow may be one NAT44
    /// translates ([`crate::nat44::Nat44Config::may_translate_fragment`]).
    Fragment { src: Ipv4Addr, dst: Ipv4Addr },
    /// The L4 header (or the packet an ICMP error quotes) is cut short.
    Malformed,
}

/// Not a packet NAT44 translates (another protocol, or an ICMP type other than echo and
/// the errors): it passes untouched.
pub type Parsed = Result<Option<Flow>, ParseError>;

/// Fewest bytes of the quoted packet's L4 header an ICMP error must carry (RFC 792).
const QUOTED_L4_LEN: usize = 8;
/// Offset of the TCP checksum within its header.
const TCP_CHECKSUM_AT: usize = 16;
const UDP_CHECKSUM_AT: usize = 6;
const ECHO_IDENT_AT: usize = 4;

#[inline(always)]
pub fn parse<T: AsRef<[u8]>>(ip: &Ipv4Packet<T>, side: Side) -> Parsed {
    let proto = match ip.protocol() {
        Protocol::Tcp => NatProtocol::Tcp,
        Protocol::Udp => NatProtocol::Udp,
        Protocol::Icmp => NatProtocol::Icmp,
        Protocol::Unknown(_) => return Ok(None),
    };
    // A first fragment carries the L4 header and is read as a whole packet; its
    // translation is remembered for the others, which carry none (the engine's
    // virtual reassembly, `Fragments`).
    if ip.is_non_first_fragment() {
        return Err(ParseError::Fragment {
            src: ip.src(),
            dst: ip.dst(),
        });
    }
    let (src, dst) = (ip.src(), ip.dst());
    let payload = ip.payload();
    // A first fragment whose L4 header is cut (RFC 1858's tiny fragments) is a fragment
    // NAT44 cannot read, not a truncated packet: it goes as its flow's other fragments.
    let cut = match ip.more_fragments() {
        true => ParseError::Fragment { src, dst },
        false => ParseError::Malformed,
    };
    let (src_port, dst_port, tcp_flags) = match proto {
        NatProtocol::Tcp => {
            let tcp = TcpPacket::new_checked(payload).map_err(|_| cut)?;
            (tcp.src_port(), tcp.dst_port(), tcp.flags().0)
        }
        NatProtocol::Udp => {
            let udp = udp_view(payload, ip.more_fragments()).ok_or(cut)?;
            (udp.src_port(), udp.dst_port(), 0)
        }
        NatProtocol::Icmp => {
            let icmp = IcmpPacket::new_checked(payload).map_err(|_| cut)?;
            match icmp.msg_type() {
                IcmpType::EchoRequest | IcmpType::EchoReply => {
                    let ident = icmp.echo_ident();
                    return Ok(Some(echo_flow(src, dst, ident, side)));
                }
                IcmpType::DestinationUnreachable | IcmpType::TimeExceeded => {
                    // Its quote cut by fragmentation: a fragment, as above.
                    return parse_quoted(icmp.data(), side).map_err(|_| cut);
                }
                _ => return Ok(None),
            }
        }
    };
    let (local, remote) = match side {
        Side::Inside => ((src, src_port), (dst, dst_port)),
        Side::Outside => ((dst, dst_port), (src, src_port)),
    };
    Ok(Some(Flow {
        local,
        remote,
        proto,
        tcp_flags,
        is_icmp_error: false,
    }))
}

fn echo_flow(src: Ipv4Addr, dst: Ipv4Addr, ident: u16, side: Side) -> Flow {
    let (local, remote) = match side {
        Side::Inside => (src, dst),
        Side::Outside => (dst, src),
    };
    Flow {
        local: (local, ident),
        remote: (remote, 0),
        proto: NatProtocol::Icmp,
        tcp_flags: 0,
        is_icmp_error: false,
    }
}

/// The quoted packet went the other way: an error arriving from outside quotes a packet
/// our side sent out (its source is the local end), and vice versa. An error about a
/// packet NAT44 passes untouched (another protocol, an ICMP message other than an echo)
/// passes untouched too, as that packet did: path MTU discovery for GRE or ESP through
/// a NAT44 interface needs its "fragmentation needed" to arrive.
fn parse_quoted(quoted: &[u8], side: Side) -> Parsed {
    let (inner_ip, l4) = quoted_parts(quoted).ok_or(ParseError::Malformed)?;
    let (src, dst) = (inner_ip.src(), inner_ip.dst());
    let quoted_side = match side {
        Side::Inside => Side::Outside,
        Side::Outside => Side::Inside,
    };
    let mut flow = match inner_ip.protocol() {
        Protocol::Tcp | Protocol::Udp => {
            let proto = if inner_ip.protocol() == Protocol::Tcp {
                NatProtocol::Tcp
            } else {
                NatProtocol::Udp
            };
            let src_port = be16(l4, 0).ok_or(ParseError::Malformed)?;
            let dst_port = be16(l4, 2).ok_or(ParseError::Malformed)?;
            let (local, remote) = match quoted_side {
                Side::Inside => ((src, src_port), (dst, dst_port)),
                Side::Outside => ((dst, dst_port), (src, src_port)),
            };
            Flow {
                local,
                remote,
                proto,
                tcp_flags: 0,
                is_icmp_error: false,
            }
        }
        Protocol::Icmp => {
            let echo = [IcmpType::EchoRequest, IcmpType::EchoReply];
            if !echo.contains(&IcmpType::from(l4[0])) {
                return Ok(None);
            }
            let ident = be16(l4, ECHO_IDENT_AT).ok_or(ParseError::Malformed)?;
            echo_flow(src, dst, ident, quoted_side)
        }
        Protocol::Unknown(_) => return Ok(None),
    };
    flow.is_icmp_error = true;
    Ok(Some(flow))
}

/// The quoted IPv4 header and at least 8 bytes of its L4 header. The quoted total length
/// usually exceeds what is quoted, so the view is built unchecked after checking the
/// fixed header (every accessor used here reads below 20 bytes).
fn quoted_parts(quoted: &[u8]) -> Option<(Ipv4Packet<&[u8]>, &[u8])> {
    if quoted.len() < crate::packet::ipv4::MIN_HEADER_LEN {
        return None;
    }
    let ip = Ipv4Packet::new_unchecked(quoted);
    let header_len = ip.header_len();
    if ip.version() != 4 || header_len < crate::packet::ipv4::MIN_HEADER_LEN {
        return None;
    }
    let l4 = quoted.get(header_len..)?;
    (l4.len() >= QUOTED_L4_LEN).then_some((ip, l4))
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// The checksum changes of one translation of a TCP or UDP packet, each summed once
/// (RFC 1624): what the IPv4 header checksum and the L4 checksum get. Every packet of a
/// session changes the same fields from the same values to the same values in a given
/// direction, so a session keeps its two ([`super::session::Session::deltas`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deltas {
    pub ip: u16,
    pub l4: u16,
}

impl Deltas {
    /// The changes from source `old_src` and destination `old_dst` to `new_src` and
    /// `new_dst`: the terms of the fields that change (none: zero, which patches
    /// nothing).
    pub fn of(
        old_src: (Ipv4Addr, u16),
        old_dst: (Ipv4Addr, u16),
        new_src: (Ipv4Addr, u16),
        new_dst: (Ipv4Addr, u16),
    ) -> Deltas {
        let mut addresses = 0;
        for (old, new) in [(old_src.0, new_src.0), (old_dst.0, new_dst.0)] {
            if old != new {
                addresses += checksum::terms32(old.to_bits(), new.to_bits());
            }
        }
        let mut ports = 0;
        for (old, new) in [(old_src.1, new_src.1), (old_dst.1, new_dst.1)] {
            if old != new {
                ports += checksum::terms16(old, new);
            }
        }
        Deltas {
            ip: checksum::fold(addresses),
            l4: checksum::fold(addresses + ports),
        }
    }
}

/// Rewrites the packet so that its flow's local end becomes `new_local` and its remote
/// end `new_remote` (either may equal the old one). TTL is not touched.
#[inline(always)]
pub fn rewrite(
    ip: &mut Ipv4Packet<&mut [u8]>,
    side: Side,
    flow: &Flow,
    new_local: (Ipv4Addr, u16),
    new_remote: (Ipv4Addr, u16),
) {
    if flow.is_icmp_error {
        rewrite_icmp_error(ip, side, flow, new_local, new_remote);
        return;
    }
    if flow.proto == NatProtocol::Icmp {
        // The echo identifier is the local end's "port"; ICMP has no pseudo-header.
        let (new_src, new_dst) = ends(side, new_local, new_remote);
        let deltas = Deltas::of((ip.src(), 0), (ip.dst(), 0), (new_src.0, 0), (new_dst.0, 0));
        set_addresses(ip, new_src.0, new_dst.0, deltas);
        if let Ok(mut icmp) = IcmpPacket::new_checked(ip.payload_mut()) {
            let old_ident = icmp.echo_ident();
            if old_ident != new_local.1 {
                let csum = checksum::update16(icmp.checksum(), old_ident, new_local.1);
                icmp.set_echo_ident(new_local.1);
                icmp.set_checksum(csum);
            }
        }
        return;
    }
    let (old_src, old_dst) = ends(side, flow.local, flow.remote);
    let (new_src, new_dst) = ends(side, new_local, new_remote);
    let deltas = Deltas::of(old_src, old_dst, new_src, new_dst);
    rewrite_with(ip, flow.proto, new_src, new_dst, deltas);
}

/// Source and destination of a packet from `side` whose flow has these ends.
fn ends(
    side: Side,
    local: (Ipv4Addr, u16),
    remote: (Ipv4Addr, u16),
) -> ((Ipv4Addr, u16), (Ipv4Addr, u16)) {
    match side {
        Side::Inside => (local, remote),
        Side::Outside => (remote, local),
    }
}

fn set_addresses(ip: &mut Ipv4Packet<&mut [u8]>, src: Ipv4Addr, dst: Ipv4Addr, deltas: Deltas) {
    ip.set_src(src);
    ip.set_dst(dst);
    ip.set_checksum(checksum::patch(ip.checksum(), deltas.ip));
}

/// Gives a TCP or UDP packet (not an ICMP error) source `new_src` and destination
/// `new_dst`, its checksums patched by `deltas`, which must be [`Deltas::of`] its
/// current ends and these.
#[inline(always)]
pub fn rewrite_with(
    ip: &mut Ipv4Packet<&mut [u8]>,
    proto: NatProtocol,
    new_src: (Ipv4Addr, u16),
    new_dst: (Ipv4Addr, u16),
    deltas: Deltas,
) {
    set_addresses(ip, new_src.0, new_dst.0, deltas);
    let first_fragment = ip.more_fragments();
    let payload = ip.payload_mut();
    match proto {
        NatProtocol::Tcp => {
            if let Ok(mut tcp) = TcpPacket::new_checked(payload) {
                tcp.set_src_port(new_src.1);
                tcp.set_dst_port(new_dst.1);
                tcp.set_checksum(checksum::patch(tcp.checksum(), deltas.l4));
            }
        }
        NatProtocol::Udp => {
            if let Some(mut udp) = udp_view(payload, first_fragment) {
                udp.set_src_port(new_src.1);
                udp.set_dst_port(new_dst.1);
                let csum = udp.checksum();
                // Zero: the sender computed none, and none is added.
                if csum != 0 {
                    udp.set_checksum(nonzero(checksum::patch(csum, deltas.l4)));
                }
            }
        }
        NatProtocol::Icmp => {}
    }
}

/// The UDP header of `payload`; of a first fragment (`first_fragment`), whose UDP length
/// is the whole datagram's and so longer than the fragment, the header alone is checked.
fn udp_view<T: AsRef<[u8]>>(payload: T, first_fragment: bool) -> Option<UdpPacket<T>> {
    match first_fragment {
        true => (payload.as_ref().len() >= crate::packet::udp::HEADER_LEN)
            .then(|| UdpPacket::new_unchecked(payload)),
        false => UdpPacket::new_checked(payload).ok(),
    }
}

/// Longest stretch of the quoted packet a translation changes: a 60-byte header plus the
/// TCP checksum's end.
const MAX_QUOTED_CHANGE: usize = 60 + TCP_CHECKSUM_AT + 2;

/// An ICMP error: the outer header's addresses, and the quoted packet (its addresses,
/// ports, header checksum, L4 checksum when quoted). The ICMP checksum is patched word by
/// word over the quoted bytes that changed.
fn rewrite_icmp_error(
    ip: &mut Ipv4Packet<&mut [u8]>,
    side: Side,
    flow: &Flow,
    new_local: (Ipv4Addr, u16),
    new_remote: (Ipv4Addr, u16),
) {
    // The outer header: the local end is the error's destination from outside, its
    // source from inside; the other address is the remote end only if the remote host
    // itself reported the error (otherwise a router between did, and it stays).
    let (outer_local, outer_other) = match side {
        Side::Outside => (ip.dst(), ip.src()),
        Side::Inside => (ip.src(), ip.dst()),
    };
    let local_changes = outer_local != new_local.0;
    let new_other = if outer_other == flow.remote.0 {
        new_remote.0
    } else {
        outer_other
    };
    match side {
        Side::Outside => {
            if local_changes {
                ip.set_dst_patching_checksum(new_local.0);
            }
            if new_other != outer_other {
                ip.set_src_patching_checksum(new_other);
            }
        }
        Side::Inside => {
            if local_changes {
                ip.set_src_patching_checksum(new_local.0);
            }
            if new_other != outer_other {
                ip.set_dst_patching_checksum(new_other);
            }
        }
    }
    let Ok(mut icmp) = IcmpPacket::new_checked(ip.payload_mut()) else {
        return;
    };
    let old_icmp_csum = icmp.checksum();
    let quoted = icmp.data_mut();
    let header_len = match quoted_parts(quoted) {
        Some((inner, _)) => inner.header_len(),
        None => return,
    };
    let changed = quoted.len().min(header_len + TCP_CHECKSUM_AT + 2) & !1;
    let mut before = [0u8; MAX_QUOTED_CHANGE];
    let (Some(saved), Some(original)) = (before.get_mut(..changed), quoted.get(..changed)) else {
        return;
    };
    saved.copy_from_slice(original);

    // The quoted packet travelled the other way: from outside, its source is the local end.
    let (new_src, new_dst) = match side {
        Side::Outside => (new_local, new_remote),
        Side::Inside => (new_remote, new_local),
    };
    let (head, l4) = quoted.split_at_mut(header_len);
    let mut inner = Ipv4Packet::new_unchecked(head);
    let (old_src, old_dst) = (inner.src(), inner.dst());
    if old_src != new_src.0 {
        inner.set_src_patching_checksum(new_src.0);
    }
    if old_dst != new_dst.0 {
        inner.set_dst_patching_checksum(new_dst.0);
    }
    match flow.proto {
        NatProtocol::Tcp | NatProtocol::Udp => {
            let (old_sport, old_dport) = (be16(l4, 0).unwrap_or(0), be16(l4, 2).unwrap_or(0));
            put16(l4, 0, new_src.1);
            put16(l4, 2, new_dst.1);
            let at = if flow.proto == NatProtocol::Tcp {
                TCP_CHECKSUM_AT
            } else {
                UDP_CHECKSUM_AT
            };
            if let Some(mut csum) = be16(l4, at).filter(|c| *c != 0) {
                if old_src != new_src.0 {
                    csum = checksum::update32(csum, old_src.to_bits(), new_src.0.to_bits());
                }
                if old_dst != new_dst.0 {
                    csum = checksum::update32(csum, old_dst.to_bits(), new_dst.0.to_bits());
                }
                if old_sport != new_src.1 {
                    csum = checksum::update16(csum, old_sport, new_src.1);
                }
                if old_dport != new_dst.1 {
                    csum = checksum::update16(csum, old_dport, new_dst.1);
                }
                put16(l4, at, csum);
            }
        }
        NatProtocol::Icmp => {
            // The identifier is the local end's, whichever way the quoted echo went.
            let ident = new_local.1;
            if let Some(old_ident) = be16(l4, ECHO_IDENT_AT).filter(|i| *i != ident) {
                put16(l4, ECHO_IDENT_AT, ident);
                if let Some(old) = be16(l4, 2) {
                    put16(l4, 2, checksum::update16(old, old_ident, ident));
                }
            }
        }
    }
    let mut csum = old_icmp_csum;
    for (old, new) in saved.chunks_exact(2).zip(quoted.chunks_exact(2)) {
        if old != new {
            let (o, n) = (
                u16::from_be_bytes([old[0], old[1]]),
                u16::from_be_bytes([new[0], new[1]]),
            );
            csum = checksum::update16(csum, o, n);
        }
    }
    icmp.set_checksum(csum);
}

fn put16(bytes: &mut [u8], at: usize, value: u16) {
    if let Some(b) = bytes.get_mut(at..at + 2) {
        b.copy_from_slice(&value.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nat44::session::Session;
    use crate::rand::FastRng;

    const TCP: u8 = 6;
    const UDP: u8 = 17;

    /// A checksum: any value, the edges often.
    fn csum(rng: &mut FastRng) -> u16 {
        [0, 0xffff, 1, 0xfffe, rng.next_u32() as u16][rng.below(5) as usize]
    }

    /// An IPv4 packet from `src` to `dst` (no options), its checksums arbitrary: an
    /// incremental patch does not care whether they were right.
    fn packet(rng: &mut FastRng, proto: u8, src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16)) -> Vec<u8> {
        let l4_len = if proto == TCP { 20 } else { 8 };
        let mut p = vec![0u8; 20 + l4_len + 4];
        let total = p.len() as u16;
        p[0] = 0x45;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[8] = 64;
        p[9] = proto;
        p[10..12].copy_from_slice(&csum(rng).to_be_bytes());
        p[12..16].copy_from_slice(&src.0.octets());
        p[16..20].copy_from_slice(&dst.0.octets());
        p[20..22].copy_from_slice(&src.1.to_be_bytes());
        p[22..24].copy_from_slice(&dst.1.to_be_bytes());
        let at = 20
            + if proto == TCP {
                TCP_CHECKSUM_AT
            } else {
                UDP_CHECKSUM_AT
            };
        p[at..at + 2].copy_from_slice(&csum(rng).to_be_bytes());
        if proto == TCP {
            p[32] = 0x50;
        } else {
            p[24..26].copy_from_slice(&(l4_len as u16 + 4).to_be_bytes());
        }
        p
    }

    /// The reference: RFC 1624 updates one changed field at a time, in the header and
    /// in the L4 checksum; a zero UDP checksum stays zero, and a computed one is never
    /// zero.
    fn stepwise(p: &[u8], new_src: (Ipv4Addr, u16), new_dst: (Ipv4Addr, u16)) -> Vec<u8> {
        let mut p = p.to_vec();
        let word = |p: &[u8], at: usize| u16::from_be_bytes([p[at], p[at + 1]]);
        let addr =
            |p: &[u8], at: usize| u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        let udp = p[9] == UDP;
        let l4_at = 20
            + if udp {
                UDP_CHECKSUM_AT
            } else {
                TCP_CHECKSUM_AT
            };
        let (mut ip_csum, mut l4_csum) = (word(&p, 10), word(&p, l4_at));
        let skip_l4 = udp && l4_csum == 0;
        for (at, new) in [(12, new_src.0.to_bits()), (16, new_dst.0.to_bits())] {
            let old = addr(&p, at);
            if old != new {
                ip_csum = checksum::update32(ip_csum, old, new);
                l4_csum = checksum::update32(l4_csum, old, new);
                p[at..at + 4].copy_from_slice(&new.to_be_bytes());
            }
        }
        for (at, new) in [(20, new_src.1), (22, new_dst.1)] {
            let old = word(&p, at);
            if old != new {
                l4_csum = checksum::update16(l4_csum, old, new);
                p[at..at + 2].copy_from_slice(&new.to_be_bytes());
            }
        }
        if udp {
            l4_csum = if skip_l4 { 0 } else { nonzero(l4_csum) };
        }
        p[10..12].copy_from_slice(&ip_csum.to_be_bytes());
        p[l4_at..l4_at + 2].copy_from_slice(&l4_csum.to_be_bytes());
        p
    }

    /// A session's two deltas, and the rewrite that computes them from the packet, give
    /// the bytes of the field-by-field updates, for TCP and UDP from either side, with
    /// ends drawn from small pools so that addresses and ports often stay (nothing to
    /// patch) and inside and outside remotes differ (twice-nat); a packet whose ends are
    /// not the session's gets no delta.
    #[test]
    fn session_deltas_rewrite_as_the_field_by_field_updates() {
        let mut rng = FastRng::new(0xde17a);
        let addrs: Vec<Ipv4Addr> = (0..3)
            .map(|_| Ipv4Addr::from_bits(rng.next_u32()))
            .collect();
        let end = |rng: &mut FastRng| {
            let port = [80, 8080, rng.next_u32() as u16][rng.below(3) as usize];
            (addrs[rng.below(3) as usize], port)
        };
        let mut patched = 0;
        for _ in 0..20_000 {
            let (proto, nat_proto) =
                [(TCP, NatProtocol::Tcp), (UDP, NatProtocol::Udp)][rng.below(2) as usize];
            let [in_local, in_remote, out_local, out_remote] =
                [end(&mut rng), end(&mut rng), end(&mut rng), end(&mut rng)];
            let session = Session::new(nat_proto, in_local, in_remote, out_local, out_remote, 0);
            let side = [Side::Inside, Side::Outside][rng.below(2) as usize];
            let ((src, dst), (new_local, new_remote)) = match side {
                Side::Inside => ((in_local, in_remote), (out_local, out_remote)),
                Side::Outside => ((out_remote, out_local), (in_local, in_remote)),
            };
            let (new_src, new_dst) = ends(side, new_local, new_remote);
            let original = packet(&mut rng, proto, src, dst);
            let expected = stepwise(&original, new_src, new_dst);
            patched += usize::from(expected[10..12] != original[10..12]);

            let mut generic = original.clone();
            let mut ip = Ipv4Packet::new_checked(&mut generic[..]).unwrap();
            let flow = parse(&ip, side).unwrap().unwrap();
            rewrite(&mut ip, side, &flow, new_local, new_remote);
            assert_eq!(generic, expected, "generic, {side:?} {flow:?}");

            let mut with_deltas = original.clone();
            let mut ip = Ipv4Packet::new_checked(&mut with_deltas[..]).unwrap();
            let deltas = session.deltas(side, &flow).expect("the session's own ends");
            rewrite_with(&mut ip, nat_proto, new_src, new_dst, deltas);
            assert_eq!(with_deltas, expected, "deltas, {side:?} {flow:?}");

            let other = Flow {
                remote: (flow.remote.0, flow.remote.1.wrapping_add(1)),
                ..flow
            };
            assert_eq!(session.deltas(side, &other), None);
            let error = Flow {
                is_icmp_error: true,
                ..flow
            };
            assert_eq!(session.deltas(side, &error), None);
        }
        assert!(patched > 10_000, "{patched}");
    }
}
