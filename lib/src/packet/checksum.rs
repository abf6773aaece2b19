//! The Internet checksum (RFC 1071): full sums, the TCP/UDP pseudo-header, and the
//! incremental update of RFC 1624 used when a stage rewrites a few header words.

use std::net::Ipv4Addr;

/// Adds `data` into a ones'-complement accumulator, as big-endian 16-bit words; an odd
/// trailing byte is padded with zero (RFC 1071). The result is a partial sum: sums over
/// consecutive even-length pieces, and [`pseudo_header`], can be added together.
#[inline]
pub fn accumulate(acc: u64, data: &[u8]) -> u64 {
    // The ones'-complement sum is byte-order independent (RFC 1071 §2(B)): summing native
    // words gives the byte-swapped sum, so the words are added without a swap each and the
    // folded total is swapped once. Four bytes at a time into 64 bits: carries pile up in
    // the high half and are folded at the end.
    let mut native = 0u64;
    // An IPv4 header without options, the common case, in five straight adds.
    if let Ok(header) = <&[u8; 20]>::try_from(data) {
        for w in header.chunks_exact(4) {
            native += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
        }
        return acc + u64::from(u16::from_be(fold(native)));
    }
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        native += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        native += u64::from(u16::from_ne_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        native += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    acc + u64::from(u16::from_be(fold(native)))
}

/// Folds an accumulator to 16 bits, end-around carry included.
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum to store over `data` (whose checksum field must read zero), or, over data
/// that includes a correct checksum, zero.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(accumulate(0, data))
}

/// The sum of the TCP/UDP pseudo-header (RFC 793 §3.1, RFC 768).
#[inline]
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u16) -> u64 {
    u64::from(src.to_bits()) + u64::from(dst.to_bits()) + u64::from(protocol) + u64::from(length)
}

/// The checksum after one 16-bit word of the covered data changes from `old_word` to
/// `new_word`: RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`, which, unlike eqn. 2, never
/// yields 0x0000 from a non-zero sum.
#[inline]
pub fn update16(old_csum: u16, old_word: u16, new_word: u16) -> u16 {
    let acc = u32::from(!old_csum) + u32::from(!old_word) + u32::from(new_word);
    !fold32(acc)
}

/// As [`update16`] for a 32-bit field (an IPv4 address): both halves at once.
#[inline]
pub fn update32(old_csum: u16, old_value: u32, new_value: u32) -> u16 {
    let acc = u32::from(!old_csum)
        + (!(old_value >> 16) & 0xffff)
        + (!old_value & 0xffff)
        + (new_value >> 16)
        + (new_value & 0xffff);
    !fold32(acc)
}

/// The terms [`update32`] adds for a 32-bit field that changes from `old` to `new`:
/// several changes' terms summed, folded and given to [`patch`] once give what the
/// updates one by one give (the tests compare them).
#[inline(always)]
pub fn terms32(old: u32, new: u32) -> u64 {
    u64::from(!(old >> 16) & 0xffff)
        + u64::from(!old & 0xffff)
        + u64::from(new >> 16)
        + u64::from(new & 0xffff)
}

/// The terms [`update16`] adds for a 16-bit field that changes from `old` to `new`.
#[inline(always)]
pub fn terms16(old: u16, new: u16) -> u64 {
    u64::from(!old) + u64::from(new)
}

/// `~HC' = ~HC + delta` (RFC 1624 eqn. 3 with every change summed in `delta`, the
/// folded sum of their [`terms32`] and [`terms16`]). Two 16-bit terms sum to at most
/// 0x1fffe, so one end-around carry folds them.
#[inline(always)]
pub fn patch(csum: u16, delta: u16) -> u16 {
    let sum = u32::from(!csum) + u32::from(delta);
    !(((sum & 0xffff) + (sum >> 16)) as u16)
}

/// [`fold`] for a `u32` accumulator: two end-around carries always suffice (the first
/// leaves at most 0x1fffe), so there is no loop and no branch.
#[inline(always)]
fn fold32(acc: u32) -> u16 {
    let acc = (acc & 0xffff) + (acc >> 16);
    ((acc & 0xffff) + (acc >> 16)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Summed terms patched once equal the updates one by one, for any checksum (0x0000
    /// and 0xffff included) and any set of changed addresses and ports.
    #[test]
    fn summed_patch_equals_updates_one_by_one() {
        let mut rng = crate::rand::FastRng::new(0x5d17);
        let edge16 = |rng: &mut crate::rand::FastRng| match rng.below(6) {
            0 => 0,
            1 => 0xffff,
            2 => 1,
            3 => 0xfffe,
            _ => rng.next_u32() as u16,
        };
        let edge32 = |rng: &mut crate::rand::FastRng| match rng.below(4) {
            0 => 0,
            1 => u32::MAX,
            _ => rng.next_u32(),
        };
        for _ in 0..200_000 {
            let csum = edge16(&mut rng);
            let (mut stepwise, mut terms) = (csum, 0u64);
            for _ in 0..rng.below(3) {
                let (old, new) = (edge32(&mut rng), edge32(&mut rng));
                stepwise = update32(stepwise, old, new);
                terms += terms32(old, new);
            }
            for _ in 0..rng.below(3) {
                let (old, new) = (edge16(&mut rng), edge16(&mut rng));
                stepwise = update16(stepwise, old, new);
                terms += terms16(old, new);
            }
            assert_eq!(patch(csum, fold(terms)), stepwise, "checksum {csum:#x}");
        }
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(accumulate(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(accumulate(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    #[test]
    fn spec_syn_ip_header_sums_to_e946() {
        // The spec's SYN: 10.1.1.3 -> 10.104.221.85, id 0x5eb4, DF, ttl 64, TCP.
        let mut header = [
            0x45, 0x00, 0x00, 0x3c, 0x5e, 0xb4, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 10, 1, 1, 3,
            10, 104, 221, 85,
        ];
        assert_eq!(checksum(&header), 0xe946);
        header[10..12].copy_from_slice(&0xe946u16.to_be_bytes());
        assert_eq!(checksum(&header), 0);
    }

    /// 0x0000 and 0xffff are the same ones'-complement value; a full sum never produces
    /// 0xffff unless all words are zero, and RFC 1624 eqn. 3 never produces 0x0000.
    fn assert_same_sum(patched: u16, full: u16, what: &str) {
        let canonical = |c: u16| if c == 0xffff { 0 } else { c };
        assert_eq!(
            canonical(patched),
            canonical(full),
            "{what} {patched:#06x} != recompute {full:#06x}"
        );
    }

    #[test]
    fn incremental_update_equals_full_recompute() {
        let mut rng = crate::rand::FastRng::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let len = 2 * (2 + (rng.next_u64() % 30) as usize);
            let mut data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            let csum_at = 2 * (rng.next_u64() as usize % (len / 2));
            data[csum_at..csum_at + 2].fill(0);
            let csum = checksum(&data);
            data[csum_at..csum_at + 2].copy_from_slice(&csum.to_be_bytes());

            // Change one 16-bit word (not the checksum itself) and patch.
            let mut at = 2 * (rng.next_u64() as usize % (len / 2));
            if at == csum_at {
                at = (at + 2) % len;
            }
            let old = u16::from_be_bytes([data[at], data[at + 1]]);
            let new = rng.next_u64() as u16;
            data[at..at + 2].copy_from_slice(&new.to_be_bytes());
            let patched = update16(csum, old, new);
            data[csum_at..csum_at + 2].fill(0);
            let full = checksum(&data);
            assert_same_sum(patched, full, "update16");

            // Then a 32-bit field at an even offset, as NAT rewrites an address.
            data[csum_at..csum_at + 2].copy_from_slice(&full.to_be_bytes());
            let mut at = 2 * (rng.next_u64() as usize % (len / 2 - 1));
            if at == csum_at || at + 2 == csum_at {
                at = (csum_at + 2) % (len - 2);
                if at == csum_at || at + 2 == csum_at {
                    continue;
                }
            }
            let old = u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
            let new = rng.next_u64() as u32;
            data[at..at + 4].copy_from_slice(&new.to_be_bytes());
            let patched = update32(full, old, new);
            data[csum_at..csum_at + 2].fill(0);
            let full = checksum(&data);
            assert_same_sum(patched, full, "update32");
        }
    }

    #[test]
    fn ttl_decrement_of_spec_syn() {
        // ip4-rewrite's job on the spec's post-NAT SYN: ttl 64 -> 63 turns 0xc6ee into
        // 0xc7ee (the tap0-output line of the spec).
        let old_word = u16::from_be_bytes([64, 6]);
        let new_word = u16::from_be_bytes([63, 6]);
        assert_eq!(update16(0xc6ee, old_word, new_word), 0xc7ee);
    }
}
