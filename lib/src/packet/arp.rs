//! ARP for IPv4 over Ethernet (RFC 826). Other hardware or protocol types parse, and the
//! arp stage drops them by looking at [`ArpPacket::is_ethernet_ipv4`].

use super::ethernet::mac_at;
use crate::types::MacAddr;
use std::net::Ipv4Addr;

mod field {
    use std::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = field::TPA.end;

const HTYPE_ETHERNET: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    Request,
    Reply,
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(value: u16) -> Self {
        match value {
            1 => Operation::Request,
            2 => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(value: Operation) -> u16 {
        match value {
            Operation::Request => 1,
            Operation::Reply => 2,
            Operation::Unknown(other) => other,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpError {
    /// Shorter than the 28 bytes of an Ethernet/IPv4 ARP packet.
    Truncated,
}

/// A view of an ARP packet.
#[derive(Clone, Copy, Debug)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

fn be16(b: &[u8], r: std::ops::Range<usize>) -> u16 {
    u16::from_be_bytes([b[r.start], b[r.start + 1]])
}

fn ip_at(b: &[u8], r: std::ops::Range<usize>) -> Ipv4Addr {
    Ipv4Addr::new(b[r.start], b[r.start + 1], b[r.start + 2], b[r.start + 3])
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// A view of untrusted bytes: after this, no accessor panics.
    pub fn new_checked(buffer: T) -> Result<Self, ArpError> {
        if buffer.as_ref().len() < PACKET_LEN {
            return Err(ArpError::Truncated);
        }
        Ok(ArpPacket { buffer })
    }

    pub fn hardware_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::HTYPE)
    }
    pub fn protocol_type(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PTYPE)
    }
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }
    /// Ethernet hardware addresses and IPv4 protocol addresses, the only kind we speak.
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.hardware_type() == HTYPE_ETHERNET
            && self.protocol_type() == PTYPE_IPV4
            && self.hardware_len() == 6
            && self.protocol_len() == 4
    }
    pub fn operation(&self) -> Operation {
        Operation::from(be16(self.buffer.as_ref(), field::OPER))
    }
    pub fn sender_mac(&self) -> MacAddr {
        MacAddr(mac_at(self.buffer.as_ref(), field::SHA.start))
    }
    pub fn sender_ip(&self) -> Ipv4Addr {
        ip_at(self.buffer.as_ref(), field::SPA)
    }
    pub fn target_mac(&self) -> MacAddr {
        MacAddr(mac_at(self.buffer.as_ref(), field::THA.start))
    }
    pub fn target_ip(&self) -> Ipv4Addr {
        ip_at(self.buffer.as_ref(), field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Hardware Ethernet, protocol IPv4, lengths 6 and 4.
    pub fn set_ethernet_ipv4(&mut self) {
        let b = self.buffer.as_mut();
        b[field::HTYPE].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        b[field::PTYPE].copy_from_slice(&PTYPE_IPV4.to_be_bytes());
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
    }
    pub fn set_operation(&mut self, op: Operation) {
        self.buffer.as_mut()[field::OPER].copy_from_slice(&u16::from(op).to_be_bytes());
    }
    pub fn set_sender_mac(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&mac.0);
    }
    pub fn set_sender_ip(&mut self, ip: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&ip.octets());
    }
    pub fn set_target_mac(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&mac.0);
    }
    pub fn set_target_ip(&mut self, ip: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&ip.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ARP request: who has 172.30.1.1? tell 172.30.1.2 (3e:1b:70:2d:4d:51).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, // htype, ptype, hlen, plen, oper
        0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51, 172, 30, 1, 2, // sender
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 172, 30, 1, 1, // target
    ];

    #[test]
    fn reads_every_field() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), 0x0800);
        assert_eq!((p.hardware_len(), p.protocol_len()), (6, 4));
        assert!(p.is_ethernet_ipv4());
        assert_eq!(p.operation(), Operation::Request);
        assert_eq!(p.sender_mac().to_string(), "3e:1b:70:2d:4d:51");
        assert_eq!(p.sender_ip(), Ipv4Addr::new(172, 30, 1, 2));
        assert_eq!(p.target_mac(), MacAddr::ZERO);
        assert_eq!(p.target_ip(), Ipv4Addr::new(172, 30, 1, 1));
    }

    #[test]
    fn builds_with_setters() {
        let mut bytes = [0xaau8; 28];
        let mut p = ArpPacket::new_unchecked(&mut bytes[..]);
        p.set_ethernet_ipv4();
        p.set_operation(Operation::Request);
        p.set_sender_mac("3e:1b:70:2d:4d:51".parse().unwrap());
        p.set_sender_ip(Ipv4Addr::new(172, 30, 1, 2));
        p.set_target_mac(MacAddr::ZERO);
        p.set_target_ip(Ipv4Addr::new(172, 30, 1, 1));
        assert_eq!(bytes, REQUEST);
    }

    #[test]
    fn operations_are_total() {
        assert_eq!(Operation::from(2), Operation::Reply);
        assert_eq!(Operation::from(9), Operation::Unknown(9));
        assert_eq!(u16::from(Operation::Unknown(9)), 9);
    }

    #[test]
    fn packet_shorter_than_28_bytes() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).unwrap_err(),
            ArpError::Truncated
        );
    }

    #[test]
    fn non_ethernet_hardware_type_is_not_ours() {
        let mut bytes = REQUEST;
        bytes[1] = 6; // IEEE 802
        assert!(!ArpPacket::new_checked(&bytes[..])
            .unwrap()
            .is_ethernet_ipv4());
    }
}
