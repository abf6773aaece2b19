//! The endpoint side: answer each request in place with the tuple swapped, as the
//! service endpoint would, and answer ARP for the addresses the generator stands for.

use super::checksum::update_word;
use super::frame::{offsets as field, Parsed, ETHERTYPE_ARP, TCP_ACK, TCP_RST, TCP_SYN};
use podfwd::types::MacAddr;

/// A fresh reply leaves the endpoint with a full TTL, whatever the request arrived with.
const REPLY_TTL: u8 = 64;

fn swap<const N: usize>(frame: &mut [u8], a: usize, b: usize) {
    let (Some(x), Some(y)) = (frame.get(a..a + N), frame.get(b..b + N)) else {
        return;
    };
    let (mut x_copy, mut y_copy) = ([0u8; N], [0u8; N]);
    x_copy.copy_from_slice(x);
    y_copy.copy_from_slice(y);
    if let Some(slot) = frame.get_mut(a..a + N) {
        slot.copy_from_slice(&y_copy);
    }
    if let Some(slot) = frame.get_mut(b..b + N) {
        slot.copy_from_slice(&x_copy);
    }
}

fn read16(frame: &[u8], at: usize) -> u16 {
    frame
        .get(at..at + 2)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
}

fn write16(frame: &mut [u8], at: usize, value: u16) {
    if let Some(slot) = frame.get_mut(at..at + 2) {
        slot.copy_from_slice(&value.to_be_bytes());
    }
}

/// Rewrites the 16-bit word at `at` and patches the checksum at `checksum_at` (RFC 1624).
fn rewrite_word(frame: &mut [u8], at: usize, new: u16, checksum_at: usize) {
    let old = read16(frame, at);
    let checksum = read16(frame, checksum_at);
    write16(frame, at, new);
    write16(frame, checksum_at, update_word(checksum, old, new));
}

/// Turns the request in `frame` (already parsed) into the endpoint's reply: MACs,
/// addresses and ports swapped (no checksum change: the sums are symmetric), TTL reset,
/// and a SYN answered with SYN-ACK acknowledging it.
pub fn reflect_in_place(frame: &mut [u8], parsed: &Parsed) {
    swap::<6>(frame, field::ETH_DST.start, field::ETH_SRC.start);
    let ip = parsed.ip_offset;
    swap::<4>(frame, ip + field::IP_SRC.start, ip + field::IP_DST.start);
    let l4 = parsed.l4_offset;
    swap::<2>(
        frame,
        l4 + field::L4_SRC_PORT.start,
        l4 + field::L4_DST_PORT.start,
    );
    let ttl_protocol = (u16::from(REPLY_TTL) << 8) | u16::from(parsed.protocol);
    rewrite_word(
        frame,
        ip + field::IP_TTL,
        ttl_protocol,
        ip + field::IP_CHECKSUM.start,
    );
    if parsed.protocol == 6 && parsed.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN {
        let checksum_at = l4 + field::TCP_CHECKSUM.start;
        let offset_flags = read16(frame, l4 + field::TCP_DATA_OFFSET);
        rewrite_word(
            frame,
            l4 + field::TCP_DATA_OFFSET,
            (offset_flags & 0xff00) | u16::from(TCP_SYN | TCP_ACK),
            checksum_at,
        );
        let seq_hi = read16(frame, l4 + field::TCP_SEQ.start);
        let seq_lo = read16(frame, l4 + field::TCP_SEQ.start + 2);
        let ack = ((u32::from(seq_hi) << 16) | u32::from(seq_lo)).wrapping_add(1);
        rewrite_word(
            frame,
            l4 + field::TCP_ACK.start,
            (ack >> 16) as u16,
            checksum_at,
        );
        rewrite_word(
            frame,
            l4 + field::TCP_ACK.start + 2,
            ack as u16,
            checksum_at,
        );
    }
}

/// Turns the SYN-ACK in `frame` (already parsed) into the client's RST that closes the
/// connection at once (RFC 9293 3.10.7.3: a reset for a segment with ACK takes its
/// sequence number from that ACK): the tuple swapped back towards the service, flags RST,
/// sequence = the SYN-ACK's acknowledgement, acknowledgement 0.
pub fn close_in_place(frame: &mut [u8], parsed: &Parsed) {
    let l4 = parsed.l4_offset;
    let ack_hi = read16(frame, l4 + field::TCP_ACK.start);
    let ack_lo = read16(frame, l4 + field::TCP_ACK.start + 2);
    reflect_in_place(frame, parsed);
    let checksum_at = l4 + field::TCP_CHECKSUM.start;
    let offset_flags = read16(frame, l4 + field::TCP_DATA_OFFSET);
    rewrite_word(
        frame,
        l4 + field::TCP_DATA_OFFSET,
        (offset_flags & 0xff00) | u16::from(TCP_RST),
        checksum_at,
    );
    rewrite_word(frame, l4 + field::TCP_SEQ.start, ack_hi, checksum_at);
    rewrite_word(frame, l4 + field::TCP_SEQ.start + 2, ack_lo, checksum_at);
    rewrite_word(frame, l4 + field::TCP_ACK.start, 0, checksum_at);
    rewrite_word(frame, l4 + field::TCP_ACK.start + 2, 0, checksum_at);
}

/// ARP field offsets (RFC 826), from the start of the frame.
mod arp {
    pub const HARDWARE_TYPE: usize = 14;
    pub const PROTOCOL_TYPE: usize = 16;
    pub const LENGTHS: usize = 18;
    pub const OPERATION: usize = 20;
    pub const SENDER_MAC: usize = 22;
    pub const SENDER_IP: usize = 28;
    pub const TARGET_MAC: usize = 32;
    pub const TARGET_IP: usize = 38;
    pub const END: usize = 42;
}

/// If `frame` is an ARP request for an address `owned` accepts, rewrites it into the
/// reply from `our_mac` and returns true; otherwise leaves it alone.
pub fn answer_arp(frame: &mut [u8], our_mac: MacAddr, owned: impl Fn(u32) -> bool) -> bool {
    if frame.len() < arp::END
        || read16(frame, field::ETHERTYPE.start) != ETHERTYPE_ARP
        || read16(frame, arp::HARDWARE_TYPE) != 1
        || read16(frame, arp::PROTOCOL_TYPE) != 0x0800
        || read16(frame, arp::LENGTHS) != 0x0604
        || read16(frame, arp::OPERATION) != 1
    {
        return false;
    }
    let target = (u32::from(read16(frame, arp::TARGET_IP)) << 16)
        | u32::from(read16(frame, arp::TARGET_IP + 2));
    let sender = (u32::from(read16(frame, arp::SENDER_IP)) << 16)
        | u32::from(read16(frame, arp::SENDER_IP + 2));
    // A gratuitous announcement asks nothing.
    if target == sender || !owned(target) {
        return false;
    }
    let mut requester = [0u8; 6];
    if let Some(mac) = frame.get(arp::SENDER_MAC..arp::SENDER_MAC + 6) {
        requester.copy_from_slice(mac);
    }
    let writes: [(usize, &[u8]); 7] = [
        (field::ETH_DST.start, &requester),
        (field::ETH_SRC.start, &our_mac.0),
        (arp::OPERATION, &[0, 2]),
        (arp::SENDER_MAC, &our_mac.0),
        (arp::SENDER_IP, &target.to_be_bytes()),
        (arp::TARGET_MAC, &requester),
        (arp::TARGET_IP, &sender.to_be_bytes()),
    ];
    for (at, bytes) in writes {
        if let Some(slot) = frame.get_mut(at..at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::flows::{FlowSpec, Protocol};
    use crate::gen::frame::{ip_checksum_ok, l4_checksum_ok, parse, stamp, FrameTemplate, Stamp};
    use podfwd::buffer::{PacketBuf, TestBuf};

    const POD_MAC: MacAddr = MacAddr([0, 0, 0, 0, 0, 2]);
    const GW_MAC: MacAddr = MacAddr([0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f]);

    fn request(protocol: Protocol, wire_size: usize) -> TestBuf {
        let spec = FlowSpec {
            clients: "10.1.1.3".parse().unwrap(),
            client_ports: "46310".parse().unwrap(),
            services: vec!["10.104.221.85:80".parse().unwrap()],
            protocol,
            wire_size,
            flows: 1,
            new_flows: false,
            new_every: 0,
            snat: false,
        };
        let mut buf = TestBuf::new(&[]);
        let template = FrameTemplate::new(&spec, POD_MAC, GW_MAC);
        assert!(template.write(
            &mut buf,
            &spec.tuple(0),
            (0x0a14_0002, 8080),
            Stamp {
                sequence: 5,
                tsc: 77
            }
        ));
        // As podfwd forwards it: TTL 63 (checksum patched like ip4-rewrite does).
        let ttl_word = u16::from_be_bytes([buf.data()[22], buf.data()[23]]);
        let checksum = u16::from_be_bytes([buf.data()[24], buf.data()[25]]);
        let new_checksum = update_word(checksum, ttl_word, ttl_word - 0x0100);
        buf.data_mut()[22] = 63;
        buf.data_mut()[24..26].copy_from_slice(&new_checksum.to_be_bytes());
        buf
    }

    #[test]
    fn syn_becomes_syn_ack_with_tuple_swapped() {
        let mut buf = request(Protocol::TcpSyn, 64);
        let parsed = parse(buf.data()).unwrap();
        reflect_in_place(buf.data_mut(), &parsed);
        let frame = buf.data();
        assert_eq!(&frame[0..6], &POD_MAC.0);
        assert_eq!(&frame[6..12], &GW_MAC.0);
        let reply = parse(frame).unwrap();
        assert_eq!((reply.src_addr, reply.src_port), (0x0a14_0002, 8080));
        assert_eq!((reply.dst_addr, reply.dst_port), (0x0a01_0103, 46310));
        assert_eq!(reply.tcp_flags, TCP_SYN | TCP_ACK);
        assert_eq!(frame[22], REPLY_TTL);
        assert_eq!(&frame[42..46], &[0, 0, 0, 2], "acknowledges seq 1");
        assert!(ip_checksum_ok(frame, &reply));
        assert!(l4_checksum_ok(frame, &reply));
    }

    #[test]
    fn syn_ack_becomes_the_clients_rst() {
        let mut buf = request(Protocol::TcpSyn, 64);
        let parsed = parse(buf.data()).unwrap();
        reflect_in_place(buf.data_mut(), &parsed);
        let syn_ack = parse(buf.data()).unwrap();
        close_in_place(buf.data_mut(), &syn_ack);
        let frame = buf.data();
        assert_eq!(&frame[0..6], &GW_MAC.0, "back towards the gateway");
        assert_eq!(&frame[6..12], &POD_MAC.0);
        let rst = parse(frame).unwrap();
        assert_eq!((rst.src_addr, rst.src_port), (0x0a01_0103, 46310));
        assert_eq!((rst.dst_addr, rst.dst_port), (0x0a14_0002, 8080));
        assert_eq!(rst.tcp_flags, TCP_RST);
        assert_eq!(&frame[38..42], &[0, 0, 0, 2], "seq = the SYN-ACK's ack");
        assert_eq!(&frame[42..46], &[0, 0, 0, 0]);
        assert!(ip_checksum_ok(frame, &rst));
        assert!(l4_checksum_ok(frame, &rst));
    }

    #[test]
    fn udp_and_data_keep_flags_and_stamp() {
        for protocol in [Protocol::Udp, Protocol::TcpData] {
            let mut buf = request(protocol, 128);
            let parsed = parse(buf.data()).unwrap();
            reflect_in_place(buf.data_mut(), &parsed);
            let reply = parse(buf.data()).unwrap();
            assert_eq!(reply.tcp_flags, parsed.tcp_flags);
            assert_eq!(reply.dst_port, parsed.src_port);
            assert!(ip_checksum_ok(buf.data(), &reply), "{protocol}");
            assert!(l4_checksum_ok(buf.data(), &reply), "{protocol}");
            assert_eq!(
                stamp(buf.data(), &reply),
                Some(Stamp {
                    sequence: 5,
                    tsc: 77
                })
            );
        }
    }

    #[rustfmt::skip]
    const ARP_REQUEST: [u8; 42] = [
        // Ethernet: broadcast <- 02:fe:16:3f:5f:0f, ARP
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f, 0x08, 0x06,
        // Ethernet/IPv4, 6/4, request
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
        // sender 02:fe:16:3f:5f:0f 172.30.1.1
        0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f, 172, 30, 1, 1,
        // target 00:00:00:00:00:00 172.30.1.2
        0, 0, 0, 0, 0, 0, 172, 30, 1, 2,
    ];

    #[test]
    fn answers_arp_for_owned_addresses_only() {
        let ours = MacAddr([0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51]);
        let mut frame = ARP_REQUEST;
        assert!(answer_arp(&mut frame, ours, |ip| ip == 0xac1e_0102));
        #[rustfmt::skip]
        let expected: [u8; 42] = [
            0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f, 0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51, 0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
            0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51, 172, 30, 1, 2,
            0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f, 172, 30, 1, 1,
        ];
        assert_eq!(frame, expected);
        let mut other = ARP_REQUEST;
        assert!(!answer_arp(&mut other, ours, |ip| ip == 0xac1e_0103));
        assert_eq!(other, ARP_REQUEST);
        // A reply is not answered.
        let mut reply = expected;
        assert!(!answer_arp(&mut reply, ours, |_| true));
        let mut truncated = ARP_REQUEST;
        assert!(!answer_arp(&mut truncated[..41], ours, |_| true));
    }
}
