//! The Internet checksum (RFC 1071) in the two shapes the generator needs: a full sum
//! to verify what comes back, and a partial sum that a frame template finishes per
//! packet with only the fields that vary.

/// Adds the big-endian 16-bit words of `bytes` to `sum` (an odd tail byte is padded
/// with zero, as RFC 1071 says). Sums 4 bytes at a time into a u64, which cannot
/// overflow for any frame size.
pub fn add_bytes(mut sum: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let mut rest = words.remainder();
    if rest.len() >= 2 {
        sum += u64::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
    }
    if let Some(&last) = rest.first() {
        sum += u64::from(last) << 8;
    }
    sum
}

/// Folds a wide sum to 16 bits (end-around carry).
pub fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum field value for data whose words add up to `sum`.
pub fn finish(sum: u64) -> u16 {
    !fold(sum)
}

/// The words of the TCP/UDP pseudo-header (RFC 793 / RFC 768).
pub fn pseudo_header(src: [u8; 4], dst: [u8; 4], protocol: u8, l4_len: u16) -> u64 {
    let sum = add_bytes(0, &src);
    let sum = add_bytes(sum, &dst);
    sum + u64::from(protocol) + u64::from(l4_len)
}

/// RFC 1624 eqn. 3: the new checksum after one 16-bit word changed from `old` to `new`.
pub fn update_word(checksum: u16, old: u16, new: u16) -> u16 {
    let sum = u64::from(!checksum) + u64::from(!old) + u64::from(new);
    !fold(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 section 3's worked example: words 0001 f203 f4f5 f6f7 sum to ddf2.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add_bytes(0, &data)), 0xddf2);
        assert_eq!(finish(add_bytes(0, &data)), !0xddf2);
    }

    #[test]
    fn odd_length_pads_last_byte_with_zero() {
        assert_eq!(fold(add_bytes(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
        assert_eq!(fold(add_bytes(0, &[0xab])), 0xab00);
    }

    /// The IPv4 header of the spec's SYN (10.1.1.3 -> 10.104.221.85, id 0x5eb4, DF,
    /// TTL 64), whose stored checksum 0xe946 must verify to zero.
    #[test]
    fn verifies_spec_ipv4_header() {
        let header = [
            0x45, 0x00, 0x00, 0x3c, 0x5e, 0xb4, 0x40, 0x00, 0x40, 0x06, 0xe9, 0x46, 0x0a, 0x01,
            0x01, 0x03, 0x0a, 0x68, 0xdd, 0x55,
        ];
        assert_eq!(finish(add_bytes(0, &header)), 0);
    }

    #[test]
    fn incremental_update_matches_recomputation() {
        let mut data = [0x45u8, 0x00, 0x00, 0x3c, 0x12, 0x34, 0xab, 0xcd];
        let before = finish(add_bytes(0, &data));
        data[4..6].copy_from_slice(&0xfedcu16.to_be_bytes());
        let after = finish(add_bytes(0, &data));
        assert_eq!(update_word(before, 0x1234, 0xfedc), after);
    }
}
