//! What the ACL engine reads from a packet: VPP's 5-tuple plus the L4 validity bits.

use std::net::Ipv4Addr;

use crate::types::ip_proto;

/// The fields rules and sessions look at. For ICMP, `sport` is the type and `dport` the
/// code, as in VPP's rules. `tcp_flags` is meaningful only for TCP with `l4_valid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AclPacketInfo {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
    pub tcp_flags: u8,
    /// The L4 header (ports, ICMP type/code) was read from the packet.
    pub l4_valid: bool,
    /// Fragment offset is non-zero: the packet carries no L4 header.
    pub nonfirst_fragment: bool,
}

/// IPv4 header offsets used here (RFC 791).
mod field {
    pub const VERSION_IHL: usize = 0;
    pub const TOTAL_LEN: usize = 2;
    pub const FLAGS_FRAG: usize = 6;
    pub const PROTO: usize = 9;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
    pub const MIN_HEADER_LEN: usize = 20;
    /// TCP flags byte, from the start of the TCP header (RFC 9293).
    pub const TCP_FLAGS: usize = 13;
    pub const FRAG_OFFSET_MASK: u16 = 0x1fff;
}

/// A 20-byte IPv4 header and the 14 bytes of TCP header up to its flags.
const FIXED_LEN: usize = field::MIN_HEADER_LEN + field::TCP_FLAGS + 1;

impl AclPacketInfo {
    pub const fn tcp_flags_valid(&self) -> bool {
        self.l4_valid && self.proto == ip_proto::TCP
    }

    /// Whether ports (or ICMP type and code) can be looked at: a non-first fragment
    /// carries none, whatever the caller left in them.
    pub const fn has_l4(&self) -> bool {
        self.l4_valid && !self.nonfirst_fragment
    }

    /// Reads the 5-tuple from an IPv4 header and what follows it; `None` when the
    /// header itself is not there (not IPv4, IHL below 5, shorter than IHL). A truncated L4
    /// header gives `l4_valid == false` rather than `None`: the packet is still classified,
    /// by the rules that look at no L4 field.
    #[inline]
    pub fn from_ipv4_bytes(l3: &[u8]) -> Option<AclPacketInfo> {
        // Most packets have a 20-byte header, are not fragments, and carry at least 14
        // bytes of L4 header (through TCP's flags; UDP's ports and ICMP's type and code
        // come first): read at fixed offsets after one length check. This is what the
        // general reading gives for them (`fixed_offsets_read_as_the_general_path`).
        if let Some(h) = l3.first_chunk::<FIXED_LEN>() {
            let total_len = usize::from(u16::from_be_bytes([h[field::TOTAL_LEN], h[3]]));
            let fragment = u16::from_be_bytes([h[field::FLAGS_FRAG], h[7]]);
            if h[field::VERSION_IHL] == 0x45
                && fragment & field::FRAG_OFFSET_MASK == 0
                && total_len >= FIXED_LEN
            {
                return Some(Self::from_fixed(h));
            }
        }
        Self::from_any_ipv4_bytes(l3)
    }

    /// [`AclPacketInfo::from_ipv4_bytes`] for a header of 20 bytes, not a non-first
    /// fragment, with at least [`FIXED_LEN`] bytes within its total length.
    #[inline(always)]
    fn from_fixed(h: &[u8; FIXED_LEN]) -> AclPacketInfo {
        const L4: usize = field::MIN_HEADER_LEN;
        let proto = h[field::PROTO];
        let port = |at: usize| u16::from_be_bytes([h[at], h[at + 1]]);
        let (sport, dport, tcp_flags, l4_valid) = match proto {
            ip_proto::TCP => (port(L4), port(L4 + 2), h[L4 + field::TCP_FLAGS], true),
            ip_proto::UDP => (port(L4), port(L4 + 2), 0, true),
            ip_proto::ICMP => (u16::from(h[L4]), u16::from(h[L4 + 1]), 0, true),
            _ => (0, 0, 0, false),
        };
        let addr = |at: usize| Ipv4Addr::new(h[at], h[at + 1], h[at + 2], h[at + 3]);
        AclPacketInfo {
            src: addr(field::SRC),
            dst: addr(field::DST),
            proto,
            sport,
            dport,
            tcp_flags,
            l4_valid,
            nonfirst_fragment: false,
        }
    }

    /// [`AclPacketInfo::from_ipv4_bytes`] for any packet: options, fragments, short or
    /// truncated L4 headers.
    fn from_any_ipv4_bytes(l3: &[u8]) -> Option<AclPacketInfo> {
        let version_ihl = *l3.get(field::VERSION_IHL)?;
        let header_len = usize::from(version_ihl & 0x0f) * 4;
        if version_ihl >> 4 != 4 || header_len < field::MIN_HEADER_LEN || l3.len() < header_len {
            return None;
        }
        let be16 = |at: usize| -> Option<u16> {
            Some(u16::from_be_bytes([*l3.get(at)?, *l3.get(at + 1)?]))
        };
        let addr = |at: usize| -> Option<Ipv4Addr> {
            let b = l3.get(at..at + 4)?;
            Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        };
        let total_len = usize::from(be16(field::TOTAL_LEN)?);
        let nonfirst_fragment = be16(field::FLAGS_FRAG)? & field::FRAG_OFFSET_MASK != 0;
        let mut info = AclPacketInfo {
            src: addr(field::SRC)?,
            dst: addr(field::DST)?,
            proto: *l3.get(field::PROTO)?,
            sport: 0,
            dport: 0,
            tcp_flags: 0,
            l4_valid: false,
            nonfirst_fragment,
        };
        if nonfirst_fragment {
            return Some(info);
        }
        // Bytes past the IP total length are Ethernet padding, not L4 header.
        let l4 = l3.get(header_len..total_len.min(l3.len()))?;
        match info.proto {
            ip_proto::TCP | ip_proto::UDP => {
                let (Some(ports), flags) = (l4.get(0..4), l4.get(field::TCP_FLAGS)) else {
                    return Some(info);
                };
                if info.proto == ip_proto::TCP {
                    let Some(&flags) = flags else {
                        return Some(info);
                    };
                    info.tcp_flags = flags;
                }
                info.sport = u16::from_be_bytes([ports[0], ports[1]]);
                info.dport = u16::from_be_bytes([ports[2], ports[3]]);
                info.l4_valid = true;
            }
            ip_proto::ICMP => {
                if let Some(type_code) = l4.get(0..2) {
                    info.sport = u16::from(type_code[0]);
                    info.dport = u16::from(type_code[1]);
                    info.l4_valid = true;
                }
            }
            _ => {}
        }
        Some(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's SYN as it reaches acl-plugin-in-ip4-fa (from the ip4-rewrite hex dump,
    /// with the pre-NAT addresses, ports and checksums put back).
    fn seed_syn() -> Vec<u8> {
        let mut p = vec![
            // IPv4: IHL 5, total length 60, DF, TTL 64, TCP, 10.1.1.3 -> 10.104.221.85
            0x45, 0x00, 0x00, 0x3c, 0x5e, 0xb4, 0x40, 0x00, 0x40, 0x06, 0xe9, 0x46, 0x0a, 0x01,
            0x01, 0x03, 0x0a, 0x68, 0xdd, 0x55, // TCP: 46310 -> 80, SYN, data offset 10
            0xb4, 0xe6, 0x00, 0x50, 0xba, 0x5b, 0xf3, 0x6d, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
            0x72, 0x10, 0xd2, 0x2d, 0x00, 0x00,
        ];
        p.resize(60, 0);
        p
    }

    #[test]
    fn reads_the_seed_syn() {
        let info = AclPacketInfo::from_ipv4_bytes(&seed_syn()).unwrap();
        assert_eq!(info.src, Ipv4Addr::new(10, 1, 1, 3));
        assert_eq!(info.dst, Ipv4Addr::new(10, 104, 221, 85));
        assert_eq!((info.proto, info.sport, info.dport), (6, 46310, 80));
        assert_eq!(info.tcp_flags, 0x02);
        assert!(info.l4_valid && info.tcp_flags_valid() && !info.nonfirst_fragment);
    }

    #[test]
    fn icmp_type_and_code_are_the_ports() {
        let mut p = seed_syn();
        p[9] = ip_proto::ICMP;
        p[20] = 8;
        p[21] = 0;
        let info = AclPacketInfo::from_ipv4_bytes(&p).unwrap();
        assert_eq!((info.sport, info.dport, info.l4_valid), (8, 0, true));
        assert!(!info.tcp_flags_valid());
    }

    #[test]
    fn nonfirst_fragment_has_no_l4() {
        let mut p = seed_syn();
        p[6] = 0x00;
        p[7] = 0xb9;
        let info = AclPacketInfo::from_ipv4_bytes(&p).unwrap();
        assert!(info.nonfirst_fragment && !info.l4_valid);
        assert_eq!((info.sport, info.dport), (0, 0));
    }

    #[test]
    fn tcp_header_cut_before_flags_is_not_l4_valid() {
        let mut p = seed_syn();
        p[3] = 30;
        let info = AclPacketInfo::from_ipv4_bytes(&p).unwrap();
        assert!(!info.l4_valid);
    }

    #[test]
    fn ihl_below_five_is_refused() {
        let mut p = seed_syn();
        p[0] = 0x44;
        assert_eq!(AclPacketInfo::from_ipv4_bytes(&p), None);
    }

    #[test]
    fn header_shorter_than_ihl_is_refused() {
        assert_eq!(AclPacketInfo::from_ipv4_bytes(&seed_syn()[..19]), None);
        assert_eq!(AclPacketInfo::from_ipv4_bytes(&[]), None);
    }

    /// Packets near the fixed-offset reading's edges: every protocol it knows and some
    /// it does not, IHL 5 and more, fragments, total lengths around [`FIXED_LEN`], short
    /// buffers, random bytes.
    #[test]
    fn fixed_offsets_read_as_the_general_path() {
        let mut rng = crate::rand::FastRng::new(0x0ac1);
        let mut fixed = 0;
        for _ in 0..200_000 {
            let mut p = seed_syn();
            p[9] = [ip_proto::TCP, ip_proto::UDP, ip_proto::ICMP, 47][rng.below(4) as usize];
            for _ in 0..rng.below(4) {
                let at = rng.below(p.len() as u64) as usize;
                p[at] = rng.next_u32() as u8;
            }
            match rng.below(6) {
                0 => p[0] = 0x40 | rng.below(16) as u8,
                1 => p[3] = (FIXED_LEN as u64 - 6 + rng.below(12)) as u8,
                2 => p.truncate(rng.below(p.len() as u64 + 1) as usize),
                3 => p[6] = rng.next_u32() as u8 & 0x3f,
                4 => p[7] = rng.next_u32() as u8,
                _ => {}
            }
            let general = AclPacketInfo::from_any_ipv4_bytes(&p);
            assert_eq!(AclPacketInfo::from_ipv4_bytes(&p), general, "{p:02x?}");
            fixed += usize::from(
                p.len() >= FIXED_LEN
                    && p[0] == 0x45
                    && u16::from_be_bytes([p[6], p[7]]) & field::FRAG_OFFSET_MASK == 0
                    && usize::from(u16::from_be_bytes([p[2], p[3]])) >= FIXED_LEN,
            );
        }
        // The fixed-offset reading took a good share of them.
        assert!(fixed > 50_000, "{fixed}");
    }

    #[test]
    fn version_six_is_refused() {
        let mut p = seed_syn();
        p[0] = 0x65;
        assert_eq!(AclPacketInfo::from_ipv4_bytes(&p), None);
    }
}
