//! The UDP header (RFC 768).

use super::checksum;
use std::net::Ipv4Addr;

pub(crate) mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const PAYLOAD: usize = CHECKSUM.end;
}

pub const HEADER_LEN: usize = field::PAYLOAD;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpError {
    /// Shorter than the 8-byte header.
    Truncated,
    /// The length field is below 8.
    LengthBelowHeader,
    /// The length field runs past the IP payload.
    LengthExceedsPayload,
}

/// A view of a UDP datagram; the buffer is the IP payload.
#[derive(Clone, Copy, Debug)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// A view of untrusted bytes: after this, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, UdpError> {
        let packet = UdpPacket { buffer };
        let len = packet.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(UdpError::Truncated);
        }
        let field_len = usize::from(packet.len());
        if field_len < HEADER_LEN {
            return Err(UdpError::LengthBelowHeader);
        }
        if field_len > len {
            return Err(UdpError::LengthExceedsPayload);
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
    /// The length field: header and payload.
    #[inline]
    pub fn len(&self) -> u16 {
        self.be16(field::LENGTH.start)
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }
    /// Zero means "no checksum" (RFC 768).
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM.start)
    }
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..usize::from(self.len())]
    }
    #[inline]
    pub fn compute_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
        let datagram = &self.buffer.as_ref()[..usize::from(self.len())];
        let sum = checksum::pseudo_header(src, dst, crate::types::ip_proto::UDP, self.len())
            + checksum::accumulate(0, datagram)
            + u64::from(!self.checksum());
        match !checksum::fold(sum) {
            // RFC 768: a computed zero is sent as all ones.
            0 => 0xffff,
            csum => csum,
        }
    }

    #[inline]
    fn be16(&self, at: usize) -> u16 {
        let b = &self.buffer.as_ref()[at..at + 2];
        u16::from_be_bytes([b[0], b[1]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    #[inline]
    pub fn set_src_port(&mut self, port: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&port.to_be_bytes());
    }
    #[inline]
    pub fn set_dst_port(&mut self, port: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&port.to_be_bytes());
    }
    #[inline]
    pub fn set_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&len.to_be_bytes());
    }
    #[inline]
    pub fn set_checksum(&mut self, csum: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&csum.to_be_bytes());
    }
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[field::PAYLOAD..end]
    }
    #[inline]
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let csum = self.compute_checksum(src, dst);
        self.set_checksum(csum);
    }
    /// Patches the checksum for a changed 16-bit word; a zero checksum (none) stays zero.
    #[inline]
    pub fn patch_checksum16(&mut self, old: u16, new: u16) {
        let csum = self.checksum();
        if csum != 0 {
            self.set_checksum(nonzero(checksum::update16(csum, old, new)));
        }
    }
    /// Patches the checksum for a changed address in the pseudo-header.
    #[inline]
    pub fn patch_checksum_for_address(&mut self, old: Ipv4Addr, new: Ipv4Addr) {
        let csum = self.checksum();
        if csum != 0 {
            self.set_checksum(nonzero(checksum::update32(
                csum,
                old.to_bits(),
                new.to_bits(),
            )));
        }
    }
}

/// A UDP checksum that computes to zero is sent as all ones (RFC 768): zero on the wire
/// means "no checksum", and the next patch would then skip it.
pub fn nonzero(csum: u16) -> u16 {
    if csum == 0 {
        0xffff
    } else {
        csum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 3);
    const DST: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 10);

    /// The checksum of [`datagram`] from SRC to DST, summed by hand (and by a python3
    /// one-liner): pseudo-header 0a01 + 0103 + 0a60 + 000a + 0011 + 000c = 158b; UDP
    /// cf08 + 0035 + 000c + 0000 + 7069 + 6e67 = 1ae19; 158b + 1ae19 = 1c3a4, folded
    /// c3a5, complemented 3c5a.
    const CHECKSUM: [u8; 2] = [0x3c, 0x5a];

    // UDP header: 53000 -> 53, length 12, checksum CHECKSUM; then payload "ping".
    fn datagram() -> [u8; 12] {
        [
            0xcf, 0x08, 0x00, 0x35, 0x00, 0x0c, 0x3c, 0x5a, b'p', b'i', b'n', b'g',
        ]
    }

    #[test]
    fn checksum_is_the_one_summed_by_hand() {
        let d = datagram();
        let u = UdpPacket::new_checked(&d[..]).unwrap();
        assert_eq!(u.checksum(), u16::from_be_bytes(CHECKSUM));
        assert_eq!(u.compute_checksum(SRC, DST), u16::from_be_bytes(CHECKSUM));
        let mut zeroed = d;
        zeroed[6..8].fill(0);
        let mut u = UdpPacket::new_unchecked(&mut zeroed[..]);
        u.fill_checksum(SRC, DST);
        assert_eq!(zeroed, d);
    }

    /// A patch whose result computes to zero sends all ones (RFC 768), so that the
    /// checksum still counts, and a later patch still applies.
    #[test]
    fn a_patch_to_zero_sends_all_ones() {
        let mut d = datagram();
        let mut u = UdpPacket::new_unchecked(&mut d[..]);
        u.set_checksum(0xfffe);
        // ~0xfffe + ~0xffff + 0xfffe = 0xffff: RFC 1624 eqn. 3 gives 0x0000.
        assert_eq!(checksum::update16(0xfffe, 0xffff, 0xfffe), 0);
        u.patch_checksum16(0xffff, 0xfffe);
        assert_eq!(u.checksum(), 0xffff);
        u.patch_checksum16(0x0000, 0x0001);
        assert_eq!(u.checksum(), 0xfffe, "the second patch applied");
    }

    #[test]
    fn reads_every_field() {
        let d = datagram();
        let u = UdpPacket::new_checked(&d[..]).unwrap();
        assert_eq!(u.src_port(), 53000);
        assert_eq!(u.dst_port(), 53);
        assert_eq!(u.len(), 12);
        assert!(!u.is_empty());
        assert_eq!(u.payload(), b"ping");
        assert_eq!(u.compute_checksum(SRC, DST), u.checksum());
        // The checksum over the whole datagram plus pseudo-header verifies to zero.
        let sum = checksum::pseudo_header(SRC, DST, 17, 12) + checksum::accumulate(0, &d);
        assert_eq!(!checksum::fold(sum), 0);
    }

    #[test]
    fn builds_with_setters() {
        let mut bytes = [0u8; 12];
        let mut u = UdpPacket::new_unchecked(&mut bytes[..]);
        u.set_src_port(53000);
        u.set_dst_port(53);
        u.set_len(12);
        u.payload_mut().copy_from_slice(b"ping");
        u.fill_checksum(SRC, DST);
        assert_eq!(bytes, datagram());
    }

    #[test]
    fn port_patch_equals_recompute() {
        let mut bytes = datagram();
        let mut u = UdpPacket::new_checked(&mut bytes[..]).unwrap();
        u.set_dst_port(5353);
        u.patch_checksum16(53, 5353);
        assert_eq!(u.checksum(), u.compute_checksum(SRC, DST));
    }

    #[test]
    fn datagram_shorter_than_header() {
        assert_eq!(
            UdpPacket::new_checked(&datagram()[..7]).unwrap_err(),
            UdpError::Truncated
        );
    }

    #[test]
    fn length_field_below_eight() {
        let mut d = datagram();
        d[5] = 7;
        assert_eq!(
            UdpPacket::new_checked(&d[..]).unwrap_err(),
            UdpError::LengthBelowHeader
        );
    }

    #[test]
    fn length_field_exceeds_payload() {
        let mut d = datagram();
        d[5] = 13;
        assert_eq!(
            UdpPacket::new_checked(&d[..]).unwrap_err(),
            UdpError::LengthExceedsPayload
        );
    }
}
