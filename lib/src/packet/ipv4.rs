//! The IPv4 header (RFC 791) and the validity checks of RFC 1812 §5.2.2.

use super::checksum;
use std::fmt;
use std::net::Ipv4Addr;

pub(crate) mod field {
    use std::ops::Range;
    pub const VERSION_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
    pub const OPTIONS: usize = DST.end;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;

const FLAG_DONT_FRAGMENT: u16 = 0x4000;
pub(crate) const FLAG_MORE_FRAGMENTS: u16 = 0x2000;
pub(crate) const FRAGMENT_OFFSET_MASK: u16 = 0x1fff;

/// The protocol field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Icmp,
    Tcp,
    Udp,
    Unknown(u8),
}

impl From<u8> for Protocol {
    #[inline]
    fn from(value: u8) -> Self {
        match value {
            crate::types::ip_proto::ICMP => Protocol::Icmp,
            crate::types::ip_proto::TCP => Protocol::Tcp,
            crate::types::ip_proto::UDP => Protocol::Udp,
            other => Protocol::Unknown(other),
        }
    }
}

impl From<Protocol> for u8 {
    #[inline]
    fn from(value: Protocol) -> u8 {
        match value {
            Protocol::Icmp => crate::types::ip_proto::ICMP,
            Protocol::Tcp => crate::types::ip_proto::TCP,
            Protocol::Udp => crate::types::ip_proto::UDP,
            Protocol::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Protocol {
    /// VPP's trace names (`TCP: a -> b`).
    #[inline]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Icmp => f.write_str("ICMP"),
            Protocol::Tcp => f.write_str("TCP"),
            Protocol::Udp => f.write_str("UDP"),
            Protocol::Unknown(p) => write!(f, "unknown {p}"),
        }
    }
}

/// Why bytes are not a valid IPv4 packet, one variant per RFC 1812 §5.2.2 rule.
///
/// The checks run in this order, and the first failure is the reason:
/// 1. [`Truncated`](Ipv4Error::Truncated): fewer than 20 bytes (nothing else is readable);
/// 2. [`BadVersion`](Ipv4Error::BadVersion): version is not 4;
/// 3. [`IhlBelowFive`](Ipv4Error::IhlBelowFive): header length below 20 bytes;
/// 4. [`OptionsTruncated`](Ipv4Error::OptionsTruncated): the options run past the frame;
/// 5. [`TotalLengthBelowHeader`](Ipv4Error::TotalLengthBelowHeader): total length below
///    20 or below the header length;
/// 6. [`TotalLengthExceedsFrame`](Ipv4Error::TotalLengthExceedsFrame): total length past
///    the end of the frame;
/// 7. [`BadChecksum`](Ipv4Error::BadChecksum): the header checksum is wrong (only with
///    [`Ipv4Packet::new_verified`]).
///
/// The length errors win over a bad checksum, as in VPP's ip4-input (each later check
/// there overwrites the error of an earlier one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv4Error {
    Truncated,
    BadVersion,
    IhlBelowFive,
    OptionsTruncated,
    BadChecksum,
    TotalLengthBelowHeader,
    TotalLengthExceedsFrame,
}

/// A view of an IPv4 packet.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// A view without checks; accessors may panic on short buffers. For builders, and for
    /// bytes a stage has already validated.
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// A view of untrusted bytes, checked for structure (every rule of [`Ipv4Error`] but
    /// the checksum): after this, no accessor panics. The buffer may extend past the total
    /// length (Ethernet padding); [`Ipv4Packet::payload`] stops at the total length.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Ipv4Error> {
        let packet = Ipv4Packet { buffer };
        packet.check(false)?;
        Ok(packet)
    }

    /// As [`Ipv4Packet::new_checked`], and the header checksum verifies: ip4-input's test.
    #[inline]
    pub fn new_verified(buffer: T) -> Result<Self, Ipv4Error> {
        let packet = Ipv4Packet { buffer };
        packet.check(true)?;
        Ok(packet)
    }

    #[inline]
    fn check(&self, verify_checksum: bool) -> Result<(), Ipv4Error> {
        let bytes = self.buffer.as_ref();
        if bytes.len() < MIN_HEADER_LEN {
            return Err(Ipv4Error::Truncated);
        }
        if self.version() != 4 {
            return Err(Ipv4Error::BadVersion);
        }
        let header_len = self.header_len();
        if header_len < MIN_HEADER_LEN {
            return Err(Ipv4Error::IhlBelowFive);
        }
        if header_len > bytes.len() {
            return Err(Ipv4Error::OptionsTruncated);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len {
            return Err(Ipv4Error::TotalLengthBelowHeader);
        }
        if total_len > bytes.len() {
            return Err(Ipv4Error::TotalLengthExceedsFrame);
        }
        if verify_checksum && checksum::checksum(&bytes[..header_len]) != 0 {
            return Err(Ipv4Error::BadChecksum);
        }
        Ok(())
    }

    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION_IHL] >> 4
    }
    /// The header length in bytes (IHL × 4).
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VERSION_IHL] & 0x0f) * 4
    }
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }
    #[inline(always)]
    pub fn total_len(&self) -> u16 {
        self.be16(field::TOTAL_LEN.start)
    }
    #[inline]
    pub fn ident(&self) -> u16 {
        self.be16(field::IDENT.start)
    }
    #[inline]
    pub fn dont_fragment(&self) -> bool {
        self.be16(field::FLAGS_FRAG.start) & FLAG_DONT_FRAGMENT != 0
    }
    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.be16(field::FLAGS_FRAG.start) & FLAG_MORE_FRAGMENTS != 0
    }
    /// In 8-byte units, as on the wire.
    #[inline]
    pub fn fragment_offset(&self) -> u16 {
        self.be16(field::FLAGS_FRAG.start) & FRAGMENT_OFFSET_MASK
    }
    /// A fragment other than the first carries no L4 header.
    #[inline]
    pub fn is_non_first_fragment(&self) -> bool {
        self.fragment_offset() != 0
    }
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    #[inline(always)]
    pub fn protocol(&self) -> Protocol {
        Protocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }
    #[inline]
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM.start)
    }
    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        self.ip_at(field::SRC.start)
    }
    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        self.ip_at(field::DST.start)
    }
    /// The option bytes (empty when IHL is 5).
    #[inline]
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }
    /// The header, options included.
    #[inline]
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }
    /// The bytes after the header, up to the total length.
    #[inline(always)]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
    /// The checksum the header should carry, computed afresh.
    #[inline]
    pub fn compute_checksum(&self) -> u16 {
        let header = self.header();
        let stored = self.checksum();
        // Sum with the stored value backed out, rather than copying the header to zero it.
        let sum = checksum::accumulate(0, header) + u64::from(!stored);
        !checksum::fold(sum)
    }

    #[inline]
    fn be16(&self, at: usize) -> u16 {
        let b = &self.buffer.as_ref()[at..at + 2];
        u16::from_be_bytes([b[0], b[1]])
    }
    #[inline]
    fn ip_at(&self, at: usize) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[at..at + 4];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Version 4 and the header length in bytes (a multiple of 4, 20..=60).
    #[inline]
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VERSION_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }
    /// Raw first byte, for tests that build malformed headers.
    #[inline]
    pub fn set_version_ihl_byte(&mut self, value: u8) {
        self.buffer.as_mut()[field::VERSION_IHL] = value;
    }
    #[inline]
    pub fn set_tos(&mut self, tos: u8) {
        self.buffer.as_mut()[field::TOS] = tos;
    }
    #[inline]
    pub fn set_total_len(&mut self, len: u16) {
        self.buffer.as_mut()[field::TOTAL_LEN].copy_from_slice(&len.to_be_bytes());
    }
    #[inline]
    pub fn set_ident(&mut self, ident: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&ident.to_be_bytes());
    }
    /// Flags and fragment offset (in 8-byte units) in one go.
    #[inline]
    pub fn set_fragment(&mut self, dont_fragment: bool, more_fragments: bool, offset: u16) {
        let mut word = offset & FRAGMENT_OFFSET_MASK;
        if dont_fragment {
            word |= FLAG_DONT_FRAGMENT;
        }
        if more_fragments {
            word |= FLAG_MORE_FRAGMENTS;
        }
        self.buffer.as_mut()[field::FLAGS_FRAG].copy_from_slice(&word.to_be_bytes());
    }
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }
    #[inline]
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.buffer.as_mut()[field::PROTOCOL] = u8::from(protocol);
    }
    #[inline]
    pub fn set_checksum(&mut self, csum: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&csum.to_be_bytes());
    }
    #[inline]
    pub fn set_src(&mut self, ip: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&ip.octets());
    }
    #[inline]
    pub fn set_dst(&mut self, ip: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&ip.octets());
    }
    /// Recomputes the header checksum from scratch.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let csum = checksum::checksum(self.header());
        self.set_checksum(csum);
    }
    /// TTL − 1 with the checksum patched (RFC 1624), as a router forwards; the caller has
    /// checked that TTL > 1.
    #[inline]
    pub fn decrement_ttl(&mut self) {
        // TTL, protocol and checksum are adjacent: one slice, one bounds check.
        let bytes = &mut self.buffer.as_mut()[field::TTL..field::CHECKSUM.end];
        let (ttl, protocol) = (bytes[0], bytes[1]);
        let old_word = u16::from_be_bytes([ttl, protocol]);
        let new_word = u16::from_be_bytes([ttl.wrapping_sub(1), protocol]);
        let old_csum = u16::from_be_bytes([bytes[2], bytes[3]]);
        let csum = checksum::update16(old_csum, old_word, new_word).to_be_bytes();
        bytes[0] = ttl.wrapping_sub(1);
        bytes[2] = csum[0];
        bytes[3] = csum[1];
    }
    /// Source and destination addresses with the checksum patched: NAT's rewrite.
    #[inline]
    pub fn set_src_patching_checksum(&mut self, ip: Ipv4Addr) {
        let csum = checksum::update32(self.checksum(), self.src().to_bits(), ip.to_bits());
        self.set_src(ip);
        self.set_checksum(csum);
    }
    #[inline]
    pub fn set_dst_patching_checksum(&mut self, ip: Ipv4Addr) {
        let csum = checksum::update32(self.checksum(), self.dst().to_bits(), ip.to_bits());
        self.set_dst(ip);
        self.set_checksum(csum);
    }
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS..end]
    }
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let end = usize::from(self.total_len());
        &mut self.buffer.as_mut()[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The spec's SYN, IPv4 header: 10.1.1.3 -> 10.104.221.85, id 0x5eb4, DF, ttl 64, TCP,
    // checksum 0xe946, total length 60; then 40 bytes of TCP (zeros here).
    fn syn_ip() -> Vec<u8> {
        let mut v = vec![
            0x45, 0x00, 0x00, 0x3c, 0x5e, 0xb4, 0x40, 0x00, 0x40, 0x06, 0xe9, 0x46, 10, 1, 1, 3,
            10, 104, 221, 85,
        ];
        v.resize(60, 0);
        v
    }

    #[test]
    fn reads_every_field() {
        let bytes = syn_ip();
        let p = Ipv4Packet::new_verified(&bytes[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.tos(), 0);
        assert_eq!(p.total_len(), 60);
        assert_eq!(p.ident(), 0x5eb4);
        assert!(p.dont_fragment());
        assert!(!p.more_fragments());
        assert_eq!(p.fragment_offset(), 0);
        assert!(!p.is_non_first_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), Protocol::Tcp);
        assert_eq!(p.checksum(), 0xe946);
        assert_eq!(p.compute_checksum(), 0xe946);
        assert_eq!(p.src(), Ipv4Addr::new(10, 1, 1, 3));
        assert_eq!(p.dst(), Ipv4Addr::new(10, 104, 221, 85));
        assert!(p.options().is_empty());
        assert_eq!(p.payload().len(), 40);
    }

    #[test]
    fn builds_with_setters() {
        let mut bytes = vec![0xeeu8; 20];
        bytes.resize(60, 0);
        let mut p = Ipv4Packet::new_unchecked(&mut bytes[..]);
        p.set_version_and_header_len(20);
        p.set_tos(0);
        p.set_total_len(60);
        p.set_ident(0x5eb4);
        p.set_fragment(true, false, 0);
        p.set_ttl(64);
        p.set_protocol(Protocol::Tcp);
        p.set_src(Ipv4Addr::new(10, 1, 1, 3));
        p.set_dst(Ipv4Addr::new(10, 104, 221, 85));
        p.fill_checksum();
        assert_eq!(bytes, syn_ip());
    }

    #[test]
    fn ttl_decrement_patches_checksum() {
        let mut bytes = syn_ip();
        let mut p = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
        p.decrement_ttl();
        assert_eq!(p.ttl(), 63);
        assert_eq!(p.checksum(), p.compute_checksum());
        assert_eq!(p.checksum(), 0xea46);
    }

    #[test]
    fn nat_rewrite_matches_spec() {
        // nat44-out2in turns dst 10.104.221.85 into 10.20.0.2: checksum 0xe946 -> 0xc6ee.
        let mut bytes = syn_ip();
        let mut p = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
        p.set_dst_patching_checksum(Ipv4Addr::new(10, 20, 0, 2));
        assert_eq!(p.checksum(), 0xc6ee);
        p.set_src_patching_checksum(Ipv4Addr::new(10, 1, 1, 4));
        assert_eq!(p.checksum(), p.compute_checksum());
    }

    #[test]
    fn options_are_kept_and_payload_follows_them() {
        let mut bytes = syn_ip();
        // Insert one 4-byte option (NOP x3, EOL) and grow IHL and total length.
        bytes.splice(20..20, [1, 1, 1, 0]);
        let mut p = Ipv4Packet::new_unchecked(&mut bytes[..]);
        p.set_version_and_header_len(24);
        p.set_total_len(64);
        p.fill_checksum();
        let p = Ipv4Packet::new_verified(&bytes[..]).unwrap();
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload().len(), 40);
    }

    #[test]
    fn padding_past_total_length_is_not_payload() {
        let mut bytes = syn_ip();
        bytes.resize(64, 0xff);
        let p = Ipv4Packet::new_verified(&bytes[..]).unwrap();
        assert_eq!(p.payload().len(), 40);
    }

    #[test]
    fn truncated_below_twenty_bytes() {
        let bytes = syn_ip();
        let e = Ipv4Packet::new_checked(&bytes[..19]).unwrap_err();
        assert_eq!(e, Ipv4Error::Truncated);
    }

    #[test]
    fn version_not_four() {
        let mut bytes = syn_ip();
        bytes[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&bytes[..]).unwrap_err(),
            Ipv4Error::BadVersion
        );
    }

    #[test]
    fn ihl_below_five() {
        let mut bytes = syn_ip();
        bytes[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&bytes[..]).unwrap_err(),
            Ipv4Error::IhlBelowFive
        );
    }

    #[test]
    fn options_past_end_of_frame() {
        let mut bytes = syn_ip();
        bytes[0] = 0x4f; // 60-byte header
        assert_eq!(
            Ipv4Packet::new_checked(&bytes[..40]).unwrap_err(),
            Ipv4Error::OptionsTruncated
        );
    }

    #[test]
    fn header_checksum_bad() {
        let mut bytes = syn_ip();
        bytes[11] ^= 1;
        assert!(Ipv4Packet::new_checked(&bytes[..]).is_ok());
        assert_eq!(
            Ipv4Packet::new_verified(&bytes[..]).unwrap_err(),
            Ipv4Error::BadChecksum
        );
    }

    #[test]
    fn total_len_below_twenty() {
        let mut bytes = syn_ip();
        let mut p = Ipv4Packet::new_unchecked(&mut bytes[..]);
        p.set_total_len(19);
        p.fill_checksum();
        assert_eq!(
            Ipv4Packet::new_verified(&bytes[..]).unwrap_err(),
            Ipv4Error::TotalLengthBelowHeader
        );
    }

    #[test]
    fn a_bad_length_is_reported_before_a_bad_checksum() {
        let mut bytes = syn_ip();
        Ipv4Packet::new_unchecked(&mut bytes[..]).set_total_len(61);
        assert_eq!(
            Ipv4Packet::new_verified(&bytes[..]).unwrap_err(),
            Ipv4Error::TotalLengthExceedsFrame
        );
    }

    #[test]
    fn total_len_exceeds_frame() {
        let mut bytes = syn_ip();
        let mut p = Ipv4Packet::new_unchecked(&mut bytes[..]);
        p.set_total_len(61);
        p.fill_checksum();
        assert_eq!(
            Ipv4Packet::new_verified(&bytes[..]).unwrap_err(),
            Ipv4Error::TotalLengthExceedsFrame
        );
    }

    #[test]
    fn protocols_are_total() {
        for raw in 0..=255u8 {
            assert_eq!(u8::from(Protocol::from(raw)), raw);
        }
        assert_eq!(Protocol::from(47), Protocol::Unknown(47));
    }
}
