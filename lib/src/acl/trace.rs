//! The ACL stages' trace record, printed in VPP's shape.

use std::fmt;

use super::engine::AclVerdict;
use super::packet::AclPacketInfo;
use super::rule::Direction;
use crate::types::IfIndex;

/// VPP records no mask type in these traces: its 16 bits read all ones.
const MASK_TYPE_INDEX_NONE: u64 = 0xffff;

/// Bits of the top byte of VPP's `fa_packet_info_t` word.
mod pkt_flag {
    pub const TCP_FLAGS_VALID: u64 = 0x01;
    pub const IS_INPUT: u64 = 0x02;
    pub const L4_VALID: u64 = 0x04;
    pub const NONFIRST_FRAGMENT: u64 = 0x08;
}

/// What acl-plugin-in/out-ip4-fa records of one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclTrace {
    pub sw_if: IfIndex,
    pub direction: Direction,
    pub next_index: u32,
    pub action: u8,
    pub acl: i32,
    pub rule: u32,
    pub trace_bits: u32,
    pub packet: AclPacketInfo,
}

impl AclTrace {
    pub fn new(
        sw_if: IfIndex,
        direction: Direction,
        next_index: u32,
        verdict: &AclVerdict,
        packet: &AclPacketInfo,
    ) -> AclTrace {
        AclTrace {
            sw_if,
            direction,
            next_index,
            action: verdict.action,
            acl: verdict.acl,
            rule: verdict.rule,
            trace_bits: verdict.trace_bits,
            packet: *packet,
        }
    }

    /// VPP's 5-tuple as six little-endian words: the addresses as ip46 (the IPv4 address
    /// in the last four bytes of 16), the L4 word (ports, proto, lsb16 of sw_if_index) and
    /// the packet word (sw_if_index, mask type, TCP flags, flag bits).
    pub fn pkt_info_words(&self) -> [u64; 6] {
        let p = &self.packet;
        let ip46_low_word =
            |addr: std::net::Ipv4Addr| u64::from(u32::from_le_bytes(addr.octets())) << 32;
        let sw_if = u64::from(self.sw_if.0);
        let l4 =
            u64::from(p.sport) | u64::from(p.dport) << 16 | u64::from(p.proto) << 32 | sw_if << 48;
        let mut flags = 0;
        if p.tcp_flags_valid() {
            flags |= pkt_flag::TCP_FLAGS_VALID;
        }
        if self.direction.is_input() {
            flags |= pkt_flag::IS_INPUT;
        }
        if p.l4_valid {
            flags |= pkt_flag::L4_VALID;
        }
        if p.nonfirst_fragment {
            flags |= pkt_flag::NONFIRST_FRAGMENT;
        }
        let pkt = sw_if | MASK_TYPE_INDEX_NONE << 32 | u64::from(p.tcp_flags) << 48 | flags << 56;
        [0, ip46_low_word(p.src), 0, ip46_low_word(p.dst), l4, pkt]
    }
}

impl fmt::Display for AclTrace {
    /// Three lines as in VPP's trace. The first is not indented (the trace printer indents
    /// it under the node name); the other two carry their own indentation, as VPP's do.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "acl-plugin: sw_if_index {}, next index {}, action: {}, match: acl {} rule {} trace_bits {:08x}",
            self.sw_if, self.next_index, self.action, self.acl, self.rule as i32, self.trace_bits
        )?;
        let w = self.pkt_info_words();
        writeln!(
            f,
            "  pkt info {:016x} {:016x} {:016x} {:016x} {:016x} {:016x}",
            w[0], w[1], w[2], w[3], w[4], w[5]
        )?;
        let p = &self.packet;
        write!(
            f,
            "   {} sw_if_index {} (lsb16 {}) l3 ip4 {} -> {} l4 proto {} l4_valid {} port {} -> {} tcp flags ({}) {:02x} rsvd 0",
            self.direction,
            self.sw_if,
            self.sw_if.0,
            p.src,
            p.dst,
            p.proto,
            u8::from(p.l4_valid),
            p.sport,
            p.dport,
            if p.tcp_flags_valid() { "valid" } else { "invalid" },
            p.tcp_flags
        )
    }
}
