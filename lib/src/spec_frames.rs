//! The spec's frames, and small builders for others, shared by unit tests, the pipeline
//! tests of other stages (NAT44, ACL), benchmarks and end-to-end tests. Not part of the
//! dataplane; the bytes are the spec's (`shared/spec/000_427cca79a1f89da0.txt`).

use crate::packet::ethernet::{self, EtherType, EthernetFrame};
use crate::packet::ipv4::{Ipv4Packet, Protocol};
use crate::packet::tcp::{TcpFlags, TcpPacket};
use crate::types::MacAddr;
use std::net::Ipv4Addr;

/// The client pod's side (tap2 in the spec): the pod's MAC and podfwd's MAC on that port.
pub const CLIENT_POD_MAC: MacAddr = MacAddr([0x00, 0x00, 0x00, 0x00, 0x00, 0x02]);
pub const TAP2_MAC: MacAddr = MacAddr([0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f]);
/// The host side (tap0 in the spec): podfwd's MAC and the host's MAC (next hop 172.30.1.2).
pub const TAP0_MAC: MacAddr = MacAddr([0x01, 0x23, 0x45, 0x67, 0x89, 0x42]);
pub const HOST_MAC: MacAddr = MacAddr([0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51]);

pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 3);
pub const CLIENT_PORT: u16 = 46310;
pub const SERVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 104, 221, 85);
pub const SERVICE_PORT: u16 = 80;
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 20, 0, 2);
pub const SERVER_PORT: u16 = 8080;
pub const HOST_NEXT_HOP: Ipv4Addr = Ipv4Addr::new(172, 30, 1, 2);

/// TCP options of a Linux SYN: MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
/// The spec shows only the first six bytes; the timestamp values are chosen so that the
/// TCP checksums come out as the spec's (0xd22d for the SYN, 0xdab4 for the SYN-ACK).
pub const fn linux_syn_options(ts_value: u32, ts_echo: u32) -> [u8; 20] {
    let v = ts_value.to_be_bytes();
    let e = ts_echo.to_be_bytes();
    [
        0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, v[0], v[1], v[2], v[3], e[0], e[1], e[2],
        e[3], 0x01, 0x03, 0x03, 0x07,
    ]
}

pub const SYN_TS_VALUE: u32 = 0x0a1b_a3e5;
pub const SYN_ACK_TS_VALUE: u32 = 0x3c4d_71b3;
const SYN_OPTIONS: [u8; 20] = linux_syn_options(SYN_TS_VALUE, 0);
const SYN_ACK_OPTIONS: [u8; 20] = linux_syn_options(SYN_ACK_TS_VALUE, SYN_TS_VALUE);

/// What a TCP frame carries; [`tcp_frame`] builds it with correct checksums.
#[derive(Clone, Copy, Debug)]
pub struct TcpFrameSpec<'a> {
    pub dst_mac: MacAddr,
    pub src_mac: MacAddr,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub ident: u16,
    pub ttl: u8,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub options: &'a [u8],
    pub payload: &'a [u8],
}

/// An Ethernet + IPv4 (DF, no options) + TCP frame.
pub fn tcp_frame(s: &TcpFrameSpec<'_>) -> Vec<u8> {
    let tcp_len = 20 + s.options.len() + s.payload.len();
    let mut frame = ipv4_frame(
        (s.dst_mac, s.src_mac),
        Ipv4Header {
            src: s.src,
            dst: s.dst,
            protocol: Protocol::Tcp,
            ident: s.ident,
            ttl: s.ttl,
            dont_fragment: true,
        },
        tcp_len,
    );
    let mut tcp = TcpPacket::new_unchecked(&mut frame[ethernet::HEADER_LEN + 20..]);
    tcp.set_src_port(s.src_port);
    tcp.set_dst_port(s.dst_port);
    tcp.set_seq_number(s.seq);
    tcp.set_ack_number(s.ack);
    tcp.set_header_len(20 + s.options.len());
    tcp.set_flags(TcpFlags(s.flags));
    tcp.set_window(s.window);
    tcp.options_mut().copy_from_slice(s.options);
    tcp.payload_mut().copy_from_slice(s.payload);
    tcp.fill_checksum(s.src, s.dst);
    frame
}

/// The IPv4 header fields the builders vary (no options).
struct Ipv4Header {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: Protocol,
    ident: u16,
    ttl: u8,
    dont_fragment: bool,
}

/// An Ethernet + IPv4 frame with `l4_len` zero bytes of payload, the IP checksum filled.
fn ipv4_frame(macs: (MacAddr, MacAddr), h: Ipv4Header, l4_len: usize) -> Vec<u8> {
    let mut frame = vec![0u8; ethernet::HEADER_LEN + 20 + l4_len];
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.set_destination(macs.0);
    eth.set_source(macs.1);
    eth.set_ethertype(EtherType::Ipv4);
    let mut ip = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.set_version_and_header_len(20);
    ip.set_total_len((20 + l4_len) as u16);
    ip.set_ident(h.ident);
    ip.set_fragment(h.dont_fragment, false, 0);
    ip.set_ttl(h.ttl);
    ip.set_protocol(h.protocol);
    ip.set_src(h.src);
    ip.set_dst(h.dst);
    ip.fill_checksum();
    frame
}

/// An Ethernet + IPv4 (ident 7, TTL 64, no DF) + UDP frame with correct checksums.
pub fn udp_frame(
    macs: (MacAddr, MacAddr),
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    payload: &[u8],
) -> Vec<u8> {
    use crate::packet::udp::UdpPacket;
    let udp_len = 8 + payload.len();
    let header = Ipv4Header {
        src: src.0,
        dst: dst.0,
        protocol: Protocol::Udp,
        ident: 7,
        ttl: 64,
        dont_fragment: false,
    };
    let mut frame = ipv4_frame(macs, header, udp_len);
    let mut udp = UdpPacket::new_unchecked(&mut frame[ethernet::HEADER_LEN + 20..]);
    udp.set_src_port(src.1);
    udp.set_dst_port(dst.1);
    udp.set_len(udp_len as u16);
    udp.payload_mut().copy_from_slice(payload);
    udp.fill_checksum(src.0, dst.0);
    frame
}

/// An IPv4 + TCP segment without Ethernet (no options; ident 1, TTL 64, seq 1, window
/// 1000), for benches that feed the L3 stages directly.
pub fn tcp_segment(
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    tcp_frame(&TcpFrameSpec {
        dst_mac: MacAddr::ZERO,
        src_mac: MacAddr::ZERO,
        src: src.0,
        dst: dst.0,
        src_port: src.1,
        dst_port: dst.1,
        ident: 1,
        ttl: 64,
        seq: 1,
        ack: 0,
        flags,
        window: 1000,
        options: &[],
        payload,
    })
    .split_off(ethernet::HEADER_LEN)
}

/// The spec's SYN as the client pod sends it (74 bytes): 10.1.1.3:46310 ->
/// 10.104.221.85:80, IP checksum 0xe946, TCP checksum 0xd22d.
pub fn syn() -> Vec<u8> {
    tcp_frame(&syn_spec())
}

/// What [`syn`] carries, to build variants with `..syn_spec()`.
pub fn syn_spec() -> TcpFrameSpec<'static> {
    TcpFrameSpec {
        dst_mac: TAP2_MAC,
        src_mac: CLIENT_POD_MAC,
        src: CLIENT_IP,
        dst: SERVICE_IP,
        src_port: CLIENT_PORT,
        dst_port: SERVICE_PORT,
        ident: 0x5eb4,
        ttl: 64,
        seq: 0xba5b_f36d,
        ack: 0,
        flags: TcpFlags::SYN,
        window: 29200,
        options: &SYN_OPTIONS,
        payload: &[],
    }
}

/// The spec's SYN-ACK as the server in the host stack sends it: 10.20.0.2:8080 ->
/// 10.1.1.3:46310, IP checksum 0x25a3, TCP checksum 0xdab4.
pub fn syn_ack() -> Vec<u8> {
    tcp_frame(&TcpFrameSpec {
        dst_mac: TAP0_MAC,
        src_mac: HOST_MAC,
        src: SERVER_IP,
        dst: CLIENT_IP,
        src_port: SERVER_PORT,
        dst_port: CLIENT_PORT,
        ident: 0,
        ttl: 64,
        seq: 0x57f7_b0c7,
        ack: 0xba5b_f36e,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 28960,
        options: &SYN_ACK_OPTIONS,
        payload: &[],
    })
}

/// An ICMP echo request frame with correct checksums.
#[allow(clippy::too_many_arguments)]
pub fn icmp_echo_request(
    dst_mac: MacAddr,
    src_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    ident: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    use crate::packet::icmp::{IcmpPacket, MessageType};
    let icmp_len = 8 + payload.len();
    let header = Ipv4Header {
        src,
        dst,
        protocol: Protocol::Icmp,
        ident: 0x1111,
        ttl,
        dont_fragment: false,
    };
    let mut frame = ipv4_frame((dst_mac, src_mac), header, icmp_len);
    let mut icmp = IcmpPacket::new_unchecked(&mut frame[ethernet::HEADER_LEN + 20..]);
    icmp.set_msg_type(MessageType::EchoRequest);
    icmp.set_code(0);
    icmp.set_echo_ident(ident);
    icmp.set_echo_seq(seq);
    icmp.data_mut().copy_from_slice(payload);
    icmp.fill_checksum();
    frame
}

/// An ARP request frame (broadcast): who has `target_ip`? tell `sender_ip`.
pub fn arp_request(sender_mac: MacAddr, sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
    let mut frame = vec![0u8; ethernet::HEADER_LEN + crate::packet::arp::PACKET_LEN];
    crate::stages::arp::write_request(&mut frame, sender_mac, sender_ip, target_ip)
        .expect("an Ethernet header and an ARP packet fit their own length");
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_has_the_spec_checksums() {
        let f = syn();
        assert_eq!(f.len(), 74);
        let ip = Ipv4Packet::new_verified(&f[14..]).unwrap();
        assert_eq!(ip.checksum(), 0xe946);
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(tcp.checksum(), 0xd22d);
        // The spec's hex dump shows these bytes of the options.
        assert_eq!(&tcp.options()[..6], &[0x02, 0x04, 0x05, 0xb4, 0x04, 0x02]);
    }

    #[test]
    fn syn_ack_has_the_spec_checksums() {
        let f = syn_ack();
        assert_eq!(f.len(), 74);
        let ip = Ipv4Packet::new_verified(&f[14..]).unwrap();
        assert_eq!(ip.checksum(), 0x25a3);
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(tcp.checksum(), 0xdab4);
        assert_eq!(tcp.ack_number(), 0xba5b_f36e);
        assert_eq!(tcp.window(), 28960);
    }
}
