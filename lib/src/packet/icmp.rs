//! ICMPv4 (RFC 792): echo, and the error messages ip4-icmp-error builds.

use super::checksum;
use std::fmt;

mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// Echo: identifier and sequence number; errors: unused, or the next-hop MTU of a
    /// fragmentation-needed message (RFC 1191).
    pub const REST_HIGH: Range<usize> = 4..6;
    pub const REST_LOW: Range<usize> = 6..8;
    pub const DATA: usize = REST_LOW.end;
}

pub const HEADER_LEN: usize = field::DATA;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    EchoReply,
    DestinationUnreachable,
    EchoRequest,
    TimeExceeded,
    Unknown(u8),
}

impl From<u8> for MessageType {
    #[inline]
    fn from(value: u8) -> Self {
        match value {
            0 => MessageType::EchoReply,
            3 => MessageType::DestinationUnreachable,
            8 => MessageType::EchoRequest,
            11 => MessageType::TimeExceeded,
            other => MessageType::Unknown(other),
        }
    }
}

impl From<MessageType> for u8 {
    #[inline]
    fn from(value: MessageType) -> u8 {
        match value {
            MessageType::EchoReply => 0,
            MessageType::DestinationUnreachable => 3,
            MessageType::EchoRequest => 8,
            MessageType::TimeExceeded => 11,
            MessageType::Unknown(other) => other,
        }
    }
}

impl MessageType {
    /// Error messages quote another packet; an error is never sent about one (RFC 1812
    /// §4.3.2.7).
    #[inline]
    pub fn is_error(self) -> bool {
        matches!(
            self,
            MessageType::DestinationUnreachable | MessageType::TimeExceeded
        ) || matches!(self, MessageType::Unknown(4 | 5 | 12))
    }
}

impl fmt::Display for MessageType {
    #[inline]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageType::EchoReply => f.write_str("echo_reply"),
            MessageType::DestinationUnreachable => f.write_str("destination_unreachable"),
            MessageType::EchoRequest => f.write_str("echo_request"),
            MessageType::TimeExceeded => f.write_str("time_exceeded"),
            MessageType::Unknown(t) => write!(f, "type {t}"),
        }
    }
}

/// Codes of destination unreachable (RFC 792, RFC 1191).
pub mod unreachable_code {
    pub const NET: u8 = 0;
    pub const HOST: u8 = 1;
    pub const PORT: u8 = 3;
    pub const FRAGMENTATION_NEEDED: u8 = 4;
}

/// Code of time exceeded: TTL expired in transit.
pub const TIME_EXCEEDED_IN_TRANSIT: u8 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpError {
    /// Shorter than the 8-byte header.
    Truncated,
}

/// A view of an ICMP message; the buffer is the IP payload.
#[derive(Clone, Copy, Debug)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        IcmpPacket { buffer }
    }

    /// A view of untrusted bytes: after this, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, IcmpError> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(IcmpError::Truncated);
        }
        Ok(IcmpPacket { buffer })
    }

    #[inline]
    pub fn msg_type(&self) -> MessageType {
        MessageType::from(self.buffer.as_ref()[field::TYPE])
    }
    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM.start)
    }
    /// Echo identifier (also where NAT keeps its "port" for ICMP).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        self.be16(field::REST_HIGH.start)
    }
    #[inline]
    pub fn echo_seq(&self) -> u16 {
        self.be16(field::REST_LOW.start)
    }
    /// Next-hop MTU of a fragmentation-needed message.
    #[inline]
    pub fn next_hop_mtu(&self) -> u16 {
        self.be16(field::REST_LOW.start)
    }
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
    }

    #[inline]
    fn be16(&self, at: usize) -> u16 {
        let b = &self.buffer.as_ref()[at..at + 2];
        u16::from_be_bytes([b[0], b[1]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    #[inline]
    pub fn set_msg_type(&mut self, t: MessageType) {
        self.buffer.as_mut()[field::TYPE] = u8::from(t);
    }
    #[inline]
    pub fn set_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code;
    }
    #[inline]
    pub fn set_checksum(&mut self, csum: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&csum.to_be_bytes());
    }
    #[inline]
    pub fn set_echo_ident(&mut self, ident: u16) {
        self.buffer.as_mut()[field::REST_HIGH].copy_from_slice(&ident.to_be_bytes());
    }
    #[inline]
    pub fn set_echo_seq(&mut self, seq: u16) {
        self.buffer.as_mut()[field::REST_LOW].copy_from_slice(&seq.to_be_bytes());
    }
    /// The four bytes after the checksum: unused (zero) in time exceeded, the MTU in
    /// fragmentation needed.
    #[inline]
    pub fn set_rest_of_header(&mut self, high: u16, low: u16) {
        self.buffer.as_mut()[field::REST_HIGH].copy_from_slice(&high.to_be_bytes());
        self.buffer.as_mut()[field::REST_LOW].copy_from_slice(&low.to_be_bytes());
    }
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let csum = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(csum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Echo request, id 0x1234, seq 1, payload "abcd"; checksum filled by the test.
    fn echo() -> [u8; 12] {
        let mut m = [8, 0, 0, 0, 0x12, 0x34, 0x00, 0x01, b'a', b'b', b'c', b'd'];
        let c = checksum::checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        m
    }

    #[test]
    fn reads_every_field() {
        let m = echo();
        let p = IcmpPacket::new_checked(&m[..]).unwrap();
        assert_eq!(p.msg_type(), MessageType::EchoRequest);
        assert_eq!(p.code(), 0);
        assert_eq!(p.checksum(), u16::from_be_bytes([m[2], m[3]]));
        assert_eq!(p.echo_ident(), 0x1234);
        assert_eq!(p.echo_seq(), 1);
        assert_eq!(p.next_hop_mtu(), 1);
        assert_eq!(p.data(), b"abcd");
        assert!(p.verify_checksum());
    }

    #[test]
    fn builds_with_setters() {
        let mut m = [0xffu8; 12];
        let mut p = IcmpPacket::new_unchecked(&mut m[..]);
        p.set_msg_type(MessageType::EchoRequest);
        p.set_code(0);
        p.set_echo_ident(0x1234);
        p.set_echo_seq(1);
        p.data_mut().copy_from_slice(b"abcd");
        p.fill_checksum();
        assert_eq!(m, echo());
        p = IcmpPacket::new_unchecked(&mut m[..]);
        p.set_rest_of_header(0, 1500);
        assert_eq!(p.next_hop_mtu(), 1500);
    }

    #[test]
    fn types_are_total() {
        for raw in 0..=255u8 {
            assert_eq!(u8::from(MessageType::from(raw)), raw);
        }
        assert!(MessageType::TimeExceeded.is_error());
        assert!(!MessageType::EchoRequest.is_error());
    }

    #[test]
    fn message_shorter_than_header() {
        assert_eq!(
            IcmpPacket::new_checked(&echo()[..7]).unwrap_err(),
            IcmpError::Truncated
        );
    }
}
