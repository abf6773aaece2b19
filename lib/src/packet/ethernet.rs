//! The Ethernet II header (no 802.1Q tags: a tagged frame reads as an unknown ethertype).

use crate::types::MacAddr;
use std::fmt;

pub(crate) mod field {
    use std::ops::Range;
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: usize = ETHERTYPE.end;
}

/// Length of the Ethernet header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// The ethertypes the stages dispatch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EtherType {
    Ipv4,
    Arp,
    Ipv6,
    Vlan,
    Unknown(u16),
}

impl From<u16> for EtherType {
    #[inline]
    fn from(value: u16) -> Self {
        match value {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x86dd => EtherType::Ipv6,
            0x8100 => EtherType::Vlan,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    #[inline]
    fn from(value: EtherType) -> u16 {
        match value {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Ipv6 => 0x86dd,
            EtherType::Vlan => 0x8100,
            EtherType::Unknown(other) => other,
        }
    }
}

impl fmt::Display for EtherType {
    /// VPP's trace prefix: `IP4: src -> dst`.
    #[inline]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtherType::Ipv4 => f.write_str("IP4"),
            EtherType::Arp => f.write_str("ARP"),
            EtherType::Ipv6 => f.write_str("IP6"),
            EtherType::Vlan => f.write_str("VLAN"),
            EtherType::Unknown(t) => write!(f, "0x{t:04x}"),
        }
    }
}

/// Why bytes are not an Ethernet frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EthernetError {
    /// Shorter than the 14-byte header.
    Truncated,
}

/// A view of an Ethernet frame.
#[derive(Clone, Copy, Debug)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// A view without checks; accessors may panic on short buffers. For builders only.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// A view of untrusted bytes: after this, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, EthernetError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(EthernetError::Truncated);
        }
        Ok(EthernetFrame { buffer })
    }

    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn destination(&self) -> MacAddr {
        MacAddr(mac_at(self.buffer.as_ref(), field::DESTINATION.start))
    }

    #[inline]
    pub fn source(&self) -> MacAddr {
        MacAddr(mac_at(self.buffer.as_ref(), field::SOURCE.start))
    }

    #[inline]
    pub fn ethertype(&self) -> EtherType {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        EtherType::from(u16::from_be_bytes([b[0], b[1]]))
    }

    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    #[inline]
    pub fn set_destination(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&mac.0);
    }

    #[inline]
    pub fn set_source(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&mac.0);
    }

    #[inline]
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&u16::from(ethertype).to_be_bytes());
    }

    /// The whole header at once, as an adjacency stores it: dst, src, ethertype.
    #[inline]
    pub fn set_header(&mut self, header: &[u8; HEADER_LEN]) {
        self.buffer.as_mut()[..HEADER_LEN].copy_from_slice(header);
    }

    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

#[inline]
pub(crate) fn mac_at(bytes: &[u8], at: usize) -> [u8; 6] {
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&bytes[at..at + 6]);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    // Ethernet: dst 02:fe:16:3f:5f:0f, src 00:00:00:00:00:02, IPv4 (the spec's SYN).
    const FRAME: [u8; 16] = [
        0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
        // payload
        0x45, 0x00,
    ];

    #[test]
    fn reads_every_field() {
        let f = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.destination().to_string(), "02:fe:16:3f:5f:0f");
        assert_eq!(f.source().to_string(), "00:00:00:00:00:02");
        assert_eq!(f.ethertype(), EtherType::Ipv4);
        assert_eq!(f.payload(), &[0x45, 0x00]);
    }

    #[test]
    fn builds_with_setters() {
        let mut bytes = [0u8; 16];
        let mut f = EthernetFrame::new_unchecked(&mut bytes[..]);
        f.set_destination("02:fe:16:3f:5f:0f".parse().unwrap());
        f.set_source("00:00:00:00:00:02".parse().unwrap());
        f.set_ethertype(EtherType::Ipv4);
        f.payload_mut().copy_from_slice(&[0x45, 0x00]);
        assert_eq!(bytes, FRAME);
        let mut other = [0u8; 16];
        EthernetFrame::new_unchecked(&mut other[..]).set_header(FRAME[..14].try_into().unwrap());
        assert_eq!(other[..14], FRAME[..14]);
    }

    #[test]
    fn ethertypes_are_total() {
        for raw in [0x0800u16, 0x0806, 0x86dd, 0x8100, 0x88cc] {
            assert_eq!(u16::from(EtherType::from(raw)), raw);
        }
        assert_eq!(EtherType::from(0x88cc), EtherType::Unknown(0x88cc));
    }

    #[test]
    fn frame_shorter_than_header() {
        assert_eq!(
            EthernetFrame::new_checked(&FRAME[..13]).unwrap_err(),
            EthernetError::Truncated
        );
        assert!(EthernetFrame::new_checked(&FRAME[..14]).is_ok());
    }
}
