//! The generator's frames: Ethernet / IPv4 / TCP or UDP / a stamp, built from a
//! template whose checksums are pre-summed, and a checked parse of what comes back.
//!
//! The stamp (magic, sequence, TSC at send) rides in the payload, which NAT leaves
//! alone, so latency is measured on the very packet that returns. A frame too small
//! to hold it (TCP at 64 bytes on the wire) is sent unstamped: it is still counted
//! and checked, it just carries no latency sample. Where two more bytes fit (UDP from
//! 64 bytes on the wire, TCP from 76), the flow's index follows the stamp, so a reply
//! delivered to another of our clients is told from a reply to its own.

use super::checksum::{add_bytes, finish, fold};
use super::flows::{FlowSpec, FlowTuple, Protocol};
use podfwd::buffer::PacketBuf;
use podfwd::types::MacAddr;

/// Byte offsets, from the start of the frame. The IPv4 header is always 20 bytes in
/// frames we build; parsing honours any IHL.
mod field {
    use std::ops::Range;
    pub const ETH_DST: Range<usize> = 0..6;
    pub const ETH_SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const IP: usize = 14;
    // Relative to the IPv4 header.
    pub const IP_VERSION_IHL: usize = 0;
    pub const IP_TOTAL_LEN: Range<usize> = 2..4;
    pub const IP_FLAGS_FRAGMENT: Range<usize> = 6..8;
    pub const IP_TTL: usize = 8;
    pub const IP_PROTOCOL: usize = 9;
    pub const IP_CHECKSUM: Range<usize> = 10..12;
    pub const IP_SRC: Range<usize> = 12..16;
    pub const IP_DST: Range<usize> = 16..20;
    // Relative to the L4 header.
    pub const L4_SRC_PORT: Range<usize> = 0..2;
    pub const L4_DST_PORT: Range<usize> = 2..4;
    pub const TCP_SEQ: Range<usize> = 4..8;
    pub const TCP_ACK: Range<usize> = 8..12;
    pub const TCP_DATA_OFFSET: usize = 12;
    pub const TCP_FLAGS: usize = 13;
    pub const TCP_WINDOW: Range<usize> = 14..16;
    pub const TCP_CHECKSUM: Range<usize> = 16..18;
    pub const UDP_LEN: Range<usize> = 4..6;
    pub const UDP_CHECKSUM: Range<usize> = 6..8;
    // Relative to the payload.
    pub const STAMP_MAGIC: Range<usize> = 0..4;
    pub const STAMP_SEQUENCE: Range<usize> = 4..8;
    pub const STAMP_TSC: Range<usize> = 8..16;
    pub const STAMP_FLOW: Range<usize> = 16..18;
}

pub const ETH_LEN: usize = field::ETHERTYPE.end;
pub const IPV4_LEN: usize = field::IP_DST.end;
pub const TCP_LEN: usize = 20;
pub const UDP_LEN: usize = field::UDP_CHECKSUM.end;
pub const STAMP_LEN: usize = field::STAMP_TSC.end;
/// Shorter Ethernet frames are padded to this (without FCS).
pub const MIN_FRAME_LEN: usize = 60;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// "PFGN": marks a payload as carrying our stamp.
pub const STAMP_MAGIC: u32 = 0x5046_474e;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_PSH: u8 = 0x08;
pub const TCP_ACK: u8 = 0x80 >> 3;

const TTL: u8 = 64;
const TCP_WINDOW: u16 = 29200;
const TCP_CLIENT_SEQ: u32 = 0x0000_0001;
const TCP_CLIENT_ACK: u32 = 0x0000_0001;

fn put(frame: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(slot) = frame.get_mut(at..at + bytes.len()) {
        slot.copy_from_slice(bytes);
    }
}

fn get<const N: usize>(frame: &[u8], at: usize) -> Option<[u8; N]> {
    frame.get(at..at + N)?.try_into().ok()
}

fn be16(frame: &[u8], at: usize) -> Option<u16> {
    get::<2>(frame, at).map(u16::from_be_bytes)
}

fn be32(frame: &[u8], at: usize) -> Option<u32> {
    get::<4>(frame, at).map(u32::from_be_bytes)
}

/// What a frame's payload says about when and in which order it was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub sequence: u32,
    pub tsc: u64,
}

/// The low 16 bits of a flow's index, as the payload carries them after the stamp:
/// enough to catch a reply delivered to a neighbouring flow's client.
pub fn flow_tag(index: u64) -> u16 {
    index as u16
}

/// A frame for one flow spec, ready to be stamped with a tuple per packet.
#[derive(Clone, Debug)]
pub struct FrameTemplate {
    bytes: Vec<u8>,
    protocol: Protocol,
    l4: usize,
    payload: usize,
    stamped: bool,
    /// Whether the flow tag fits after the stamp.
    flow_tagged: bool,
    /// Sums of every checksummed word that does not change per packet.
    ip_base: u64,
    l4_base: u64,
}

impl FrameTemplate {
    /// A template for `spec`'s frames from `src_mac` (the client pod) to `dst_mac`
    /// (its gateway: podfwd's port).
    pub fn new(spec: &FlowSpec, src_mac: MacAddr, dst_mac: MacAddr) -> FrameTemplate {
        let protocol = spec.protocol;
        let l4_header = match protocol {
            Protocol::Udp => UDP_LEN,
            Protocol::TcpSyn | Protocol::TcpData => TCP_LEN,
        };
        let l4 = ETH_LEN + IPV4_LEN;
        let payload = l4 + l4_header;
        let frame_len = spec.frame_len().max(MIN_FRAME_LEN).max(payload);
        let stamped = frame_len >= payload + STAMP_LEN;
        let flow_tagged = frame_len >= payload + field::STAMP_FLOW.end;
        // A frame that can hold the stamp is payload to its end; one that cannot stays a
        // bare header (a clean SYN at 64 bytes) with the rest as Ethernet padding.
        let ip_len = if stamped {
            frame_len - ETH_LEN
        } else {
            IPV4_LEN + l4_header
        };
        let l4_len = ip_len - IPV4_LEN;
        let mut bytes = vec![0u8; frame_len];
        put(&mut bytes, field::ETH_DST.start, &dst_mac.0);
        put(&mut bytes, field::ETH_SRC.start, &src_mac.0);
        put(
            &mut bytes,
            field::ETHERTYPE.start,
            &ETHERTYPE_IPV4.to_be_bytes(),
        );
        let ip = field::IP;
        put(&mut bytes, ip + field::IP_VERSION_IHL, &[0x45]);
        put(
            &mut bytes,
            ip + field::IP_TOTAL_LEN.start,
            &(ip_len as u16).to_be_bytes(),
        );
        // DF, as the spec's pod sends it.
        put(
            &mut bytes,
            ip + field::IP_FLAGS_FRAGMENT.start,
            &0x4000u16.to_be_bytes(),
        );
        put(&mut bytes, ip + field::IP_TTL, &[TTL]);
        put(
            &mut bytes,
            ip + field::IP_PROTOCOL,
            &[protocol.ip_protocol()],
        );
        match protocol {
            Protocol::Udp => {
                put(
                    &mut bytes,
                    l4 + field::UDP_LEN.start,
                    &(l4_len as u16).to_be_bytes(),
                );
            }
            Protocol::TcpSyn | Protocol::TcpData => {
                let (flags, ack) = match protocol {
                    Protocol::TcpSyn => (TCP_SYN, 0),
                    _ => (TCP_PSH | TCP_ACK, TCP_CLIENT_ACK),
                };
                put(
                    &mut bytes,
                    l4 + field::TCP_SEQ.start,
                    &TCP_CLIENT_SEQ.to_be_bytes(),
                );
                put(&mut bytes, l4 + field::TCP_ACK.start, &ack.to_be_bytes());
                put(
                    &mut bytes,
                    l4 + field::TCP_DATA_OFFSET,
                    &[((TCP_LEN / 4) as u8) << 4],
                );
                put(&mut bytes, l4 + field::TCP_FLAGS, &[flags]);
                put(
                    &mut bytes,
                    l4 + field::TCP_WINDOW.start,
                    &TCP_WINDOW.to_be_bytes(),
                );
            }
        }
        if stamped {
            put(&mut bytes, payload, &STAMP_MAGIC.to_be_bytes());
        }
        // With addresses, ports and stamp still zero, these sums hold only the constant
        // words; `write` adds the variable ones.
        let ip_base = add_bytes(0, bytes.get(ip..l4).unwrap_or(&[]));
        let l4_base = add_bytes(
            u64::from(protocol.ip_protocol()) + l4_len as u64,
            bytes.get(l4..ETH_LEN + ip_len).unwrap_or(&[]),
        );
        FrameTemplate {
            bytes,
            protocol,
            l4,
            payload,
            stamped,
            flow_tagged,
            ip_base,
            l4_base,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Whether frames carry a stamp (and so a latency sample).
    pub fn stamped(&self) -> bool {
        self.stamped
    }

    /// Writes the frame of `tuple` towards `vip` into `buf`; false if it does not fit.
    pub fn write<B: PacketBuf>(
        &self,
        buf: &mut B,
        tuple: &FlowTuple,
        vip: (u32, u16),
        stamp: Stamp,
    ) -> bool {
        if !buf.set_len(self.bytes.len()) {
            return false;
        }
        let frame = buf.data_mut();
        frame.copy_from_slice(&self.bytes);
        let (src, dst) = (tuple.client_addr, vip.0);
        let ports = (u32::from(tuple.client_port) << 16) | u32::from(vip.1);
        let ip = field::IP;
        put(frame, ip + field::IP_SRC.start, &src.to_be_bytes());
        put(frame, ip + field::IP_DST.start, &dst.to_be_bytes());
        put(
            frame,
            self.l4 + field::L4_SRC_PORT.start,
            &ports.to_be_bytes(),
        );
        let addresses = u64::from(src) + u64::from(dst);
        let ip_checksum = finish(self.ip_base + addresses);
        put(
            frame,
            ip + field::IP_CHECKSUM.start,
            &ip_checksum.to_be_bytes(),
        );
        let mut l4_sum = self.l4_base + addresses + u64::from(ports);
        if self.stamped {
            put(
                frame,
                self.payload + field::STAMP_SEQUENCE.start,
                &stamp.sequence.to_be_bytes(),
            );
            put(
                frame,
                self.payload + field::STAMP_TSC.start,
                &stamp.tsc.to_be_bytes(),
            );
            l4_sum += u64::from(stamp.sequence) + (stamp.tsc >> 32) + (stamp.tsc & 0xffff_ffff);
        }
        if self.flow_tagged {
            // The payload starts at an even offset into the segment, so the tag is one
            // whole word of the checksum.
            let tag = flow_tag(tuple.index);
            put(
                frame,
                self.payload + field::STAMP_FLOW.start,
                &tag.to_be_bytes(),
            );
            l4_sum += u64::from(tag);
        }
        let l4_checksum = match self.protocol {
            // 0 means "no checksum" in UDP (RFC 768), so a computed 0 is sent as ffff.
            Protocol::Udp => match finish(l4_sum) {
                0 => 0xffff,
                c => c,
            },
            Protocol::TcpSyn | Protocol::TcpData => finish(l4_sum),
        };
        let at = match self.protocol {
            Protocol::Udp => field::UDP_CHECKSUM.start,
            Protocol::TcpSyn | Protocol::TcpData => field::TCP_CHECKSUM.start,
        };
        put(frame, self.l4 + at, &l4_checksum.to_be_bytes());
        true
    }
}

impl FrameTemplate {
    /// Sets the time in the stamp of a frame [`FrameTemplate::write`] made, its L4
    /// checksum patched (RFC 1624): a burst is stamped once it is built, just before it
    /// goes, so that its build time does not count as latency; a request the TX ring
    /// refused is stamped again when it goes again.
    pub fn restamp<B: PacketBuf>(&self, buf: &mut B, tsc: u64) {
        if !self.stamped {
            return;
        }
        let at = match self.protocol {
            Protocol::Udp => field::UDP_CHECKSUM.start,
            Protocol::TcpSyn | Protocol::TcpData => field::TCP_CHECKSUM.start,
        };
        let frame = buf.data_mut();
        let stamp_at = self.payload + field::STAMP_TSC.start;
        let (Some(old), Some(was)) = (be16(frame, self.l4 + at), get::<8>(frame, stamp_at)) else {
            return;
        };
        put(frame, stamp_at, &tsc.to_be_bytes());
        // The old stamp's words leave the sum (their complements added), the new ones
        // join it.
        let was = u64::from_be_bytes(was);
        let words = |v: u64| (v >> 48) + (v >> 32 & 0xffff) + (v >> 16 & 0xffff) + (v & 0xffff);
        let sum = u64::from(!old) + (4 * 0xffff - words(was)) + words(tsc);
        let checksum = match (self.protocol, finish(sum)) {
            (Protocol::Udp, 0) => 0xffff,
            (_, c) => c,
        };
        put(frame, self.l4 + at, &checksum.to_be_bytes());
    }
}

/// Why a received frame could not be read as IPv4 TCP/UDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    TooShort,
    NotIpv4,
    BadVersionOrHeaderLength,
    TotalLengthExceedsFrame,
    Fragment,
    NotTcpOrUdp,
    L4TooShort,
}

/// The parts of a received IPv4 TCP/UDP frame the checker looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub src_addr: u32,
    pub dst_addr: u32,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// TCP flags; 0 for UDP.
    pub tcp_flags: u8,
    pub ip_offset: usize,
    pub l4_offset: usize,
    /// L4 header and payload, as the IPv4 total length says.
    pub l4_len: usize,
    pub payload_offset: usize,
}

/// Reads the headers of `frame`; never panics on any input.
pub fn parse(frame: &[u8]) -> Result<Parsed, Malformed> {
    let ethertype = be16(frame, field::ETHERTYPE.start).ok_or(Malformed::TooShort)?;
    if ethertype != ETHERTYPE_IPV4 {
        return Err(Malformed::NotIpv4);
    }
    let ip = field::IP;
    let version_ihl = *frame.get(ip).ok_or(Malformed::TooShort)?;
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || header_len < IPV4_LEN {
        return Err(Malformed::BadVersionOrHeaderLength);
    }
    if frame.len() < ip + header_len {
        return Err(Malformed::TooShort);
    }
    let total_len =
        usize::from(be16(frame, ip + field::IP_TOTAL_LEN.start).ok_or(Malformed::TooShort)?);
    if total_len < header_len || ip + total_len > frame.len() {
        return Err(Malformed::TotalLengthExceedsFrame);
    }
    let fragment = be16(frame, ip + field::IP_FLAGS_FRAGMENT.start).ok_or(Malformed::TooShort)?;
    // More-fragments set or a non-zero offset: ports are not in this packet.
    if fragment & 0x3fff != 0 {
        return Err(Malformed::Fragment);
    }
    let protocol = *frame
        .get(ip + field::IP_PROTOCOL)
        .ok_or(Malformed::TooShort)?;
    let l4_header = match protocol {
        6 => TCP_LEN,
        17 => UDP_LEN,
        _ => return Err(Malformed::NotTcpOrUdp),
    };
    let l4 = ip + header_len;
    let l4_len = total_len - header_len;
    if l4_len < l4_header {
        return Err(Malformed::L4TooShort);
    }
    let (tcp_flags, payload_offset) = if protocol == 6 {
        let data_offset = usize::from(
            frame
                .get(l4 + field::TCP_DATA_OFFSET)
                .ok_or(Malformed::L4TooShort)?
                >> 4,
        ) * 4;
        if data_offset < TCP_LEN || data_offset > l4_len {
            return Err(Malformed::L4TooShort);
        }
        let flags = *frame
            .get(l4 + field::TCP_FLAGS)
            .ok_or(Malformed::L4TooShort)?;
        (flags, l4 + data_offset)
    } else {
        (0, l4 + UDP_LEN)
    };
    Ok(Parsed {
        src_addr: be32(frame, ip + field::IP_SRC.start).ok_or(Malformed::TooShort)?,
        dst_addr: be32(frame, ip + field::IP_DST.start).ok_or(Malformed::TooShort)?,
        protocol,
        src_port: be16(frame, l4 + field::L4_SRC_PORT.start).ok_or(Malformed::L4TooShort)?,
        dst_port: be16(frame, l4 + field::L4_DST_PORT.start).ok_or(Malformed::L4TooShort)?,
        tcp_flags,
        ip_offset: ip,
        l4_offset: l4,
        l4_len,
        payload_offset,
    })
}

/// Whether the IPv4 header checksum verifies.
pub fn ip_checksum_ok(frame: &[u8], parsed: &Parsed) -> bool {
    frame
        .get(parsed.ip_offset..parsed.l4_offset)
        .is_some_and(|header| fold(add_bytes(0, header)) == 0xffff)
}

/// Whether the TCP/UDP checksum verifies (a UDP checksum of 0 means none was sent).
pub fn l4_checksum_ok(frame: &[u8], parsed: &Parsed) -> bool {
    let Some(segment) = frame.get(parsed.l4_offset..parsed.l4_offset + parsed.l4_len) else {
        return false;
    };
    if parsed.protocol == 17 && be16(segment, field::UDP_CHECKSUM.start) == Some(0) {
        return true;
    }
    let pseudo = u64::from(parsed.src_addr)
        + u64::from(parsed.dst_addr)
        + u64::from(parsed.protocol)
        + parsed.l4_len as u64;
    fold(add_bytes(pseudo, segment)) == 0xffff
}

/// The stamp in the payload, if the payload carries one.
pub fn stamp(frame: &[u8], parsed: &Parsed) -> Option<Stamp> {
    let at = parsed.payload_offset;
    if parsed.l4_offset + parsed.l4_len < at + STAMP_LEN {
        return None;
    }
    if be32(frame, at + field::STAMP_MAGIC.start)? != STAMP_MAGIC {
        return None;
    }
    let sequence = be32(frame, at + field::STAMP_SEQUENCE.start)?;
    let tsc = u64::from_be_bytes(get::<8>(frame, at + field::STAMP_TSC.start)?);
    Some(Stamp { sequence, tsc })
}

/// The flow tag after the stamp, if the payload carries both.
pub fn stamped_flow(frame: &[u8], parsed: &Parsed) -> Option<u16> {
    let at = parsed.payload_offset;
    if parsed.l4_offset + parsed.l4_len < at + field::STAMP_FLOW.end {
        return None;
    }
    if be32(frame, at + field::STAMP_MAGIC.start)? != STAMP_MAGIC {
        return None;
    }
    be16(frame, at + field::STAMP_FLOW.start)
}

/// Offsets of fields the reflector rewrites, for its in-place edits.
pub(super) mod offsets {
    pub use super::field::*;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::flows::{FlowSpec, Protocol};
    use podfwd::buffer::TestBuf;

    const POD_MAC: MacAddr = MacAddr([0, 0, 0, 0, 0, 2]);
    const GW_MAC: MacAddr = MacAddr([0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f]);

    fn spec(protocol: Protocol, wire_size: usize) -> FlowSpec {
        FlowSpec {
            clients: "10.1.1.3".parse().unwrap(),
            client_ports: "46310".parse().unwrap(),
            services: vec!["10.104.221.85:80=10.20.0.2:8080".parse().unwrap()],
            protocol,
            wire_size,
            flows: 1,
            new_flows: false,
            new_every: 0,
            snat: false,
        }
    }

    fn build(protocol: Protocol, wire_size: usize, stamp: Stamp) -> TestBuf {
        let spec = spec(protocol, wire_size);
        let template = FrameTemplate::new(&spec, POD_MAC, GW_MAC);
        let mut buf = TestBuf::new(&[]);
        let tuple = spec.tuple(0);
        assert!(template.write(&mut buf, &tuple, (0x0a68_dd55, 80), stamp));
        buf
    }

    /// A 64-byte TCP SYN of the spec's flow: every header byte as expected, and both
    /// checksums recomputed from scratch agree with the pre-summed ones.
    #[test]
    fn tcp_syn_64_bytes() {
        let buf = build(
            Protocol::TcpSyn,
            64,
            Stamp {
                sequence: 7,
                tsc: 9,
            },
        );
        #[rustfmt::skip]
        let expected_headers: [u8; 54] = [
            // Ethernet: gateway <- pod, IPv4
            0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f, 0, 0, 0, 0, 0, 2, 0x08, 0x00,
            // IPv4: 20 bytes, total 40, id 0, DF, TTL 64, TCP, checksum, 10.1.1.3 -> 10.104.221.85
            0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00,
            0x0a, 0x01, 0x01, 0x03, 0x0a, 0x68, 0xdd, 0x55,
            // TCP: 46310 -> 80, seq 1, ack 0, 20 bytes, SYN, window 29200, checksum, urg 0
            0xb4, 0xe6, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0x72, 0x10, 0x00, 0x00, 0, 0,
        ];
        let frame = buf.data();
        assert_eq!(frame.len(), 60, "64 on the wire less the FCS");
        let mut headers = frame[..54].to_vec();
        headers[24..26].copy_from_slice(&[0, 0]);
        headers[50..52].copy_from_slice(&[0, 0]);
        assert_eq!(headers, expected_headers);
        assert_eq!(&frame[54..], &[0; 6], "padding, and too short for a stamp");
        let parsed = parse(frame).unwrap();
        assert!(ip_checksum_ok(frame, &parsed));
        assert!(l4_checksum_ok(frame, &parsed));
        assert_eq!(stamp(frame, &parsed), None);
        assert_eq!(parsed.tcp_flags, TCP_SYN);
        assert_eq!(parsed.l4_len, 20);
    }

    #[test]
    fn udp_64_bytes_carries_a_stamp() {
        let sent = Stamp {
            sequence: 0xdead_beef,
            tsc: 0x0123_4567_89ab_cdef,
        };
        let buf = build(Protocol::Udp, 64, sent);
        let frame = buf.data();
        assert_eq!(frame.len(), 60);
        // IPv4 total length 46 = 20 + UDP 8 + 18 payload; UDP length 26.
        assert_eq!(&frame[16..18], &[0, 46]);
        assert_eq!(&frame[38..40], &[0, 26]);
        assert_eq!(&frame[42..46], b"PFGN");
        let parsed = parse(frame).unwrap();
        assert_eq!((parsed.src_port, parsed.dst_port), (46310, 80));
        assert!(ip_checksum_ok(frame, &parsed));
        assert!(l4_checksum_ok(frame, &parsed));
        assert_eq!(stamp(frame, &parsed), Some(sent));
    }

    #[test]
    fn checksums_hold_for_every_size_and_protocol() {
        for protocol in [Protocol::Udp, Protocol::TcpSyn, Protocol::TcpData] {
            for size in [64, 65, 70, 73, 74, 75, 128, 1000, 1518] {
                let buf = build(
                    protocol,
                    size,
                    Stamp {
                        sequence: size as u32,
                        tsc: u64::MAX - 3,
                    },
                );
                let frame = buf.data();
                assert_eq!(frame.len(), (size - 4).max(60));
                let parsed = parse(frame).unwrap();
                assert!(ip_checksum_ok(frame, &parsed), "{protocol} {size}");
                assert!(l4_checksum_ok(frame, &parsed), "{protocol} {size}");
                let stamped = frame.len() >= parsed.payload_offset + STAMP_LEN;
                assert_eq!(
                    stamp(frame, &parsed).is_some(),
                    stamped,
                    "{protocol} {size}"
                );
            }
        }
    }

    /// The flow tag after the stamp: the low 16 bits of the tuple's index, wherever it
    /// fits, and the pre-summed checksum still verifies with it.
    #[test]
    fn flow_tag_follows_the_stamp_where_it_fits() {
        for protocol in [Protocol::Udp, Protocol::TcpSyn, Protocol::TcpData] {
            for size in [64, 74, 75, 76, 77, 128, 1518] {
                let mut spec = spec(protocol, size);
                spec.client_ports = "1-65535".parse().unwrap();
                spec.clients = "10.1.1.3-10.1.1.9".parse().unwrap();
                let template = FrameTemplate::new(&spec, POD_MAC, GW_MAC);
                let tuple = spec.tuple(0x1_2345);
                let mut buf = TestBuf::new(&[]);
                let sent = Stamp {
                    sequence: 0xfedc_ba98,
                    tsc: 0x8000_0000_ffff_0001,
                };
                assert!(template.write(&mut buf, &tuple, (0x0a68_dd55, 80), sent));
                let frame = buf.data();
                let parsed = parse(frame).unwrap();
                assert!(l4_checksum_ok(frame, &parsed), "{protocol} {size}");
                let room = frame.len() >= parsed.payload_offset + STAMP_LEN + 2;
                let expected = room.then_some(0x2345);
                assert_eq!(stamped_flow(frame, &parsed), expected, "{protocol} {size}");
            }
        }
        let udp = build(
            Protocol::Udp,
            64,
            Stamp {
                sequence: 0,
                tsc: 0,
            },
        );
        assert_eq!(
            &udp.data()[58..60],
            &[0, 0],
            "flow 0, in the last two bytes"
        );
    }

    /// Stamped after the build, and stamped again: the same bytes as a frame written
    /// with the last time, whatever the times and the checksum's carries (many tuples
    /// and times).
    #[test]
    fn restamping_equals_writing_with_the_time() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for protocol in [Protocol::Udp, Protocol::TcpSyn, Protocol::TcpData] {
            for size in [64, 78, 128, 1518] {
                let mut spec = spec(protocol, size);
                spec.client_ports = "1-65535".parse().unwrap();
                let template = FrameTemplate::new(&spec, POD_MAC, GW_MAC);
                for round in 0..2000u64 {
                    let tuple = spec.tuple(next() % 65535);
                    let tsc = match round {
                        0 => 0,
                        1 => u64::MAX,
                        _ => next(),
                    };
                    let sequence = next() as u32;
                    let vip = (next() as u32, next() as u16);
                    let mut direct = TestBuf::new(&[]);
                    assert!(template.write(&mut direct, &tuple, vip, Stamp { sequence, tsc }));
                    let mut later = TestBuf::new(&[]);
                    let unstamped = Stamp { sequence, tsc: 0 };
                    assert!(template.write(&mut later, &tuple, vip, unstamped));
                    template.restamp(&mut later, tsc);
                    assert_eq!(direct.data(), later.data(), "{protocol} {size} {tsc:#x}");
                    // Stamped again (a refused request, sent again): as if written then.
                    let again = next();
                    template.restamp(&mut later, again);
                    let mut direct = TestBuf::new(&[]);
                    let stamp = Stamp {
                        sequence,
                        tsc: again,
                    };
                    assert!(template.write(&mut direct, &tuple, vip, stamp));
                    assert_eq!(direct.data(), later.data(), "again {protocol} {size}");
                }
            }
        }
    }

    #[test]
    fn corrupted_byte_fails_the_checksum() {
        let mut buf = build(
            Protocol::TcpData,
            128,
            Stamp {
                sequence: 1,
                tsc: 2,
            },
        );
        buf.data_mut()[100] ^= 0x40;
        let parsed = parse(buf.data()).unwrap();
        assert!(ip_checksum_ok(buf.data(), &parsed));
        assert!(!l4_checksum_ok(buf.data(), &parsed));
        buf.data_mut()[22] ^= 1;
        assert!(!ip_checksum_ok(buf.data(), &parsed));
    }

    #[test]
    fn write_refuses_a_buffer_too_small() {
        let spec = spec(Protocol::Udp, 1518);
        let template = FrameTemplate::new(&spec, POD_MAC, GW_MAC);
        struct Tiny(Vec<u8>);
        impl PacketBuf for Tiny {
            fn data(&self) -> &[u8] {
                &self.0
            }
            fn data_mut(&mut self) -> &mut [u8] {
                &mut self.0
            }
            fn set_len(&mut self, len: usize) -> bool {
                len <= 100 && {
                    self.0.resize(len, 0);
                    true
                }
            }
            fn capacity(&self) -> usize {
                100
            }
        }
        let mut tiny = Tiny(Vec::new());
        assert!(!template.write(
            &mut tiny,
            &spec.tuple(0),
            (1, 1),
            Stamp {
                sequence: 0,
                tsc: 0
            }
        ));
        assert!(tiny.0.is_empty());
    }

    #[test]
    fn parse_rejects_each_malformation() {
        let good = build(
            Protocol::TcpSyn,
            64,
            Stamp {
                sequence: 0,
                tsc: 0,
            },
        )
        .data()
        .to_vec();
        let with = |at: usize, value: u8| {
            let mut f = good.clone();
            f[at] = value;
            f
        };
        assert_eq!(parse(&good[..13]), Err(Malformed::TooShort));
        assert_eq!(parse(&with(12, 0x86)), Err(Malformed::NotIpv4));
        assert_eq!(
            parse(&with(14, 0x65)),
            Err(Malformed::BadVersionOrHeaderLength)
        );
        assert_eq!(
            parse(&with(14, 0x44)),
            Err(Malformed::BadVersionOrHeaderLength)
        );
        assert_eq!(parse(&good[..30]), Err(Malformed::TooShort));
        assert_eq!(
            parse(&with(17, 0xff)),
            Err(Malformed::TotalLengthExceedsFrame)
        );
        assert_eq!(
            parse(&with(17, 19)),
            Err(Malformed::TotalLengthExceedsFrame)
        );
        assert_eq!(parse(&with(20, 0x60)), Err(Malformed::Fragment));
        assert_eq!(parse(&with(23, 1)), Err(Malformed::NotTcpOrUdp));
        assert_eq!(parse(&with(17, 30)), Err(Malformed::L4TooShort));
        assert_eq!(parse(&with(46, 0x40)), Err(Malformed::L4TooShort));
    }
}
