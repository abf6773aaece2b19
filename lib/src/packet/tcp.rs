//! The TCP header (RFC 793), enough for NAT, ACL and trace: ports, sequence numbers,
//! flags, window and the checksum over the pseudo-header.

use super::checksum;
use std::fmt;
use std::net::Ipv4Addr;

pub(crate) mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
    pub const OPTIONS: usize = URGENT.end;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;

/// The eight flag bits of byte 13.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
    const NAMES: [(u8, &'static str); 8] = [
        (Self::FIN, "FIN"),
        (Self::SYN, "SYN"),
        (Self::RST, "RST"),
        (Self::PSH, "PSH"),
        (Self::ACK, "ACK"),
        (Self::URG, "URG"),
        (Self::ECE, "ECE"),
        (Self::CWR, "CWR"),
    ];

    #[inline]
    pub const fn contains(self, bits: u8) -> bool {
        self.0 & bits == bits
    }
}

impl fmt::Display for TcpFlags {
    /// `0x12 SYN ACK`, as VPP's trace prints them.
    #[inline]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02x}", self.0)?;
        for (bit, name) in Self::NAMES {
            if self.0 & bit != 0 {
                write!(f, " {name}")?;
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpError {
    /// Shorter than the 20-byte header.
    Truncated,
    /// Data offset below 5 words.
    DataOffsetBelowFive,
    /// The header (options) runs past the segment.
    OptionsTruncated,
}

/// A view of a TCP segment; the buffer is the segment, from the TCP header to the end of
/// the IP payload.
#[derive(Clone, Copy, Debug)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// A view of untrusted bytes: after this, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, TcpError> {
        let packet = TcpPacket { buffer };
        let len = packet.buffer.as_ref().len();
        if len < MIN_HEADER_LEN {
            return Err(TcpError::Truncated);
        }
        let header_len = packet.header_len();
        if header_len < MIN_HEADER_LEN {
            return Err(TcpError::DataOffsetBelowFive);
        }
        if header_len > len {
            return Err(TcpError::OptionsTruncated);
        }
        Ok(packet)
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        self.be16(field::SRC_PORT.start)
    }
    #[inline]
    pub fn dst_port(&self) -> u16 {
        self.be16(field::DST_PORT.start)
    }
    #[inline]
    pub fn seq_number(&self) -> u32 {
        self.be32(field::SEQ.start)
    }
    #[inline]
    pub fn ack_number(&self) -> u32 {
        self.be32(field::ACK.start)
    }
    /// The header length in bytes (data offset × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFFSET] >> 4) * 4
    }
    #[inline]
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }
    #[inline]
    pub fn window(&self) -> u16 {
        self.be16(field::WINDOW.start)
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM.start)
    }
    #[inline]
    pub fn urgent_pointer(&self) -> u16 {
        self.be16(field::URGENT.start)
    }
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
    /// The checksum the segment should carry, given the IP addresses around it.
    #[inline]
    pub fn compute_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
        let bytes = self.buffer.as_ref();
        let length = bytes.len() as u16;
        let sum = checksum::pseudo_header(src, dst, crate::types::ip_proto::TCP, length)
            + checksum::accumulate(0, bytes)
            + u64::from(!self.checksum());
        !checksum::fold(sum)
    }
    #[inline]
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        self.compute_checksum(src, dst) == self.checksum()
    }

    #[inline]
    fn be16(&self, at: usize) -> u16 {
        let b = &self.buffer.as_ref()[at..at + 2];
        u16::from_be_bytes([b[0], b[1]])
    }
    #[inline]
    fn be32(&self, at: usize) -> u32 {
        let b = &self.buffer.as_ref()[at..at + 4];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    #[inline]
    pub fn set_src_port(&mut self, port: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&port.to_be_bytes());
    }
    #[inline]
    pub fn set_dst_port(&mut self, port: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&port.to_be_bytes());
    }
    #[inline]
    pub fn set_seq_number(&mut self, seq: u32) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&seq.to_be_bytes());
    }
    #[inline]
    pub fn set_ack_number(&mut self, ack: u32) {
        self.buffer.as_mut()[field::ACK].copy_from_slice(&ack.to_be_bytes());
    }
    /// In bytes, a multiple of 4 in 20..=60.
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        self.buffer.as_mut()[field::DATA_OFFSET] = ((len / 4) as u8) << 4;
    }
    #[inline]
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }
    #[inline]
    pub fn set_window(&mut self, window: u16) {
        self.buffer.as_mut()[field::WINDOW].copy_from_slice(&window.to_be_bytes());
    }
    #[inline]
    pub fn set_checksum(&mut self, csum: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&csum.to_be_bytes());
    }
    #[inline]
    pub fn set_urgent_pointer(&mut self, pointer: u16) {
        self.buffer.as_mut()[field::URGENT].copy_from_slice(&pointer.to_be_bytes());
    }
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS..end]
    }
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        &mut self.buffer.as_mut()[start..]
    }
    #[inline]
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let csum = self.compute_checksum(src, dst);
        self.set_checksum(csum);
    }
    /// Patches the checksum for an address change in the pseudo-header (NAT).
    #[inline]
    pub fn patch_checksum_for_address(&mut self, old: Ipv4Addr, new: Ipv4Addr) {
        let csum = checksum::update32(self.checksum(), old.to_bits(), new.to_bits());
        self.set_checksum(csum);
    }
    #[inline]
    pub fn set_src_port_patching_checksum(&mut self, port: u16) {
        let csum = checksum::update16(self.checksum(), self.src_port(), port);
        self.set_src_port(port);
        self.set_checksum(csum);
    }
    #[inline]
    pub fn set_dst_port_patching_checksum(&mut self, port: u16) {
        let csum = checksum::update16(self.checksum(), self.dst_port(), port);
        self.set_dst_port(port);
        self.set_checksum(csum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 3);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 104, 221, 85);

    // The spec's SYN, TCP header: 46310 -> 80, seq 0xba5bf36d, SYN, 40-byte header,
    // window 29200, checksum 0xd22d; options MSS 1460, SACK permitted, timestamps
    // (TSval 0x0a1ba3e5, TSecr 0), NOP, window scale 7.
    const SYN: [u8; 40] = [
        0xb4, 0xe6, 0x00, 0x50, 0xba, 0x5b, 0xf3, 0x6d, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0x72,
        0x10, 0xd2, 0x2d, 0x00, 0x00, // options
        0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x0a, 0x1b, 0xa3, 0xe5, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    #[test]
    fn reads_every_field() {
        let t = TcpPacket::new_checked(&SYN[..]).unwrap();
        assert_eq!(t.src_port(), 46310);
        assert_eq!(t.dst_port(), 80);
        assert_eq!(t.seq_number(), 0xba5bf36d);
        assert_eq!(t.ack_number(), 0);
        assert_eq!(t.header_len(), 40);
        assert_eq!(t.flags(), TcpFlags(TcpFlags::SYN));
        assert_eq!(t.window(), 29200);
        assert_eq!(t.checksum(), 0xd22d);
        assert_eq!(t.urgent_pointer(), 0);
        assert_eq!(&t.options()[..6], &[0x02, 0x04, 0x05, 0xb4, 0x04, 0x02]);
        assert!(t.payload().is_empty());
        assert!(t.verify_checksum(SRC, DST));
    }

    #[test]
    fn builds_with_setters() {
        let mut bytes = [0x55u8; 40];
        let mut t = TcpPacket::new_unchecked(&mut bytes[..]);
        t.set_src_port(46310);
        t.set_dst_port(80);
        t.set_seq_number(0xba5bf36d);
        t.set_ack_number(0);
        t.set_header_len(40);
        t.set_flags(TcpFlags(TcpFlags::SYN));
        t.set_window(29200);
        t.set_urgent_pointer(0);
        t.options_mut().copy_from_slice(&SYN[20..]);
        t.fill_checksum(SRC, DST);
        assert_eq!(bytes, SYN);
    }

    #[test]
    fn nat_patches_match_spec() {
        // nat44-out2in: 10.104.221.85:80 -> 10.20.0.2:8080 gives checksum 0x9095.
        let mut bytes = SYN;
        let mut t = TcpPacket::new_checked(&mut bytes[..]).unwrap();
        let endpoint = Ipv4Addr::new(10, 20, 0, 2);
        t.patch_checksum_for_address(DST, endpoint);
        t.set_dst_port_patching_checksum(8080);
        assert_eq!(t.checksum(), 0x9095);
        assert!(t.verify_checksum(SRC, endpoint));
    }

    #[test]
    fn flags_print_as_vpp() {
        assert_eq!(TcpFlags(0x02).to_string(), "0x02 SYN");
        assert_eq!(TcpFlags(0x12).to_string(), "0x12 SYN ACK");
        assert_eq!(TcpFlags(0x00).to_string(), "0x00");
        assert!(TcpFlags(0x12).contains(TcpFlags::ACK));
    }

    #[test]
    fn segment_shorter_than_header() {
        assert_eq!(
            TcpPacket::new_checked(&SYN[..19]).unwrap_err(),
            TcpError::Truncated
        );
    }

    #[test]
    fn data_offset_below_five() {
        let mut bytes = SYN;
        bytes[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&bytes[..]).unwrap_err(),
            TcpError::DataOffsetBelowFive
        );
    }

    #[test]
    fn options_past_end_of_segment() {
        assert_eq!(
            TcpPacket::new_checked(&SYN[..39]).unwrap_err(),
            TcpError::OptionsTruncated
        );
    }
}
