//! ip4-frag: a datagram larger than its tx interface's MTU, with DF clear, leaves as
//! fragments (RFC 791 §3.2), as VPP's ip4-frag sends it.
//!
//! ip4-rewrite makes the decision and rewrites the datagram as any other (MAC, TTL);
//! acl-plugin-out and nat44-in2out-output then see it whole, so their one decision
//! holds for every fragment (VPP's see the fragments, and its NAT reassembles them
//! virtually to the same end). The fragments are cut last, when the packet leaves, into
//! buffers the app allocates (the stages only ever rewrite the buffers they are given):
//! [`Worker::fragment`](crate::pipeline::Worker::fragment).
//!
//! Each fragment carries the datagram's Ethernet header and identification; the first
//! carries its whole IPv4 header, the others only the options marked to be copied
//! (VPP copies the 20-byte header alone and cuts options as payload). Offsets add to
//! the datagram's own, and the last fragment keeps the datagram's MF: a fragment is
//! fragmented again as a router must. A datagram a fragment's header leaves no room
//! for (an MTU below the header plus 8 bytes) is dropped, counted.

use crate::node::NodeId;
use crate::node_errors;
use crate::packet::checksum;
use crate::packet::ipv4::{field, FLAG_MORE_FRAGMENTS, FRAGMENT_OFFSET_MASK, MIN_HEADER_LEN};

node_errors! {
    /// What ip4-frag counts: two informational counters, as VPP's, and its drops.
    pub enum Ip4FragError for NodeId::Ip4Frag {
        Fragmented => "packet fragmented",
        FragmentsSent => "number of sent fragments",
        CantFragmentHeader => "can't fragment header",
        Malformed => "malformed packet",
        NoBuffer => "could not allocate buffer",
    }
}

/// The longest IPv4 header, and so the most option bytes a fragment can copy.
const MAX_HEADER_LEN: usize = 60;

/// How one datagram is cut for one MTU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragments {
    /// Where the IPv4 header starts in the frame (the Ethernet header's length).
    l3: usize,
    /// The datagram's header length, and that of every fragment after the first.
    first_header: usize,
    later_header: usize,
    /// Payload bytes the first fragment and each later one carry (multiples of 8).
    first_payload: usize,
    later_payload: usize,
    payload: usize,
    /// The datagram's own offset (in 8-byte units) and MF: it may be a fragment.
    offset: u16,
    more: bool,
    count: usize,
}

impl Fragments {
    /// The fragments of the datagram at `l3` in `frame` for `mtu` (the IPv4 MTU).
    pub fn plan(frame: &[u8], l3: usize, mtu: u16) -> Result<Fragments, Ip4FragError> {
        let header = frame.get(l3..).ok_or(Ip4FragError::Malformed)?;
        let (Some(&version_ihl), Some(total)) = (header.first(), header.get(field::TOTAL_LEN))
        else {
            return Err(Ip4FragError::Malformed);
        };
        let first_header = usize::from(version_ihl & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([total[0], total[1]]));
        if first_header < MIN_HEADER_LEN || total < first_header || header.len() < total {
            return Err(Ip4FragError::Malformed);
        }
        let mut scratch = [0u8; MAX_HEADER_LEN - MIN_HEADER_LEN];
        let later_header = copied_options(&header[MIN_HEADER_LEN..first_header], &mut scratch)
            .ok_or(Ip4FragError::Malformed)?
            + MIN_HEADER_LEN;
        let room = |header_len: usize| (usize::from(mtu).saturating_sub(header_len)) & !7;
        let (first_payload, later_payload) = (room(first_header), room(later_header));
        let payload = total - first_header;
        if first_payload == 0 || later_payload == 0 {
            return Err(Ip4FragError::CantFragmentHeader);
        }
        let flags = u16::from_be_bytes([header[6], header[7]]);
        let offset = flags & FRAGMENT_OFFSET_MASK;
        // A fragment that ends past the largest datagram cannot be cut: its pieces'
        // offsets would wrap to the datagram's start (overlapping fragments).
        if usize::from(offset) * 8 + payload > usize::from(u16::MAX) {
            return Err(Ip4FragError::Malformed);
        }
        let count = 1 + payload
            .saturating_sub(first_payload)
            .div_ceil(later_payload);
        Ok(Fragments {
            l3,
            first_header,
            later_header,
            first_payload,
            later_payload,
            payload,
            offset,
            more: flags & FLAG_MORE_FRAGMENTS != 0,
            count,
        })
    }

    /// How many fragments the datagram makes.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Where fragment `k`'s payload starts in the datagram's payload, and its length.
    fn span(&self, k: usize) -> (usize, usize) {
        let start = match k {
            0 => 0,
            _ => self.first_payload + (k - 1) * self.later_payload,
        };
        let room = if k == 0 {
            self.first_payload
        } else {
            self.later_payload
        };
        (start, room.min(self.payload.saturating_sub(start)))
    }

    /// The frame length of fragment `k`.
    pub fn frame_len(&self, k: usize) -> usize {
        let header = if k == 0 {
            self.first_header
        } else {
            self.later_header
        };
        self.l3 + header + self.span(k).1
    }

    /// Writes fragment `k` of the datagram in `frame` (the frame [`Fragments::plan`]
    /// was made from) to the start of `out`; returns its length, or `None` when `k` is
    /// past the last or `out` is too short for it.
    pub fn write(&self, frame: &[u8], k: usize, out: &mut [u8]) -> Option<usize> {
        if k >= self.count {
            return None;
        }
        let len = self.frame_len(k);
        let (start, payload_len) = self.span(k);
        let out = out.get_mut(..len)?;
        let l3 = self.l3;
        let datagram = frame.get(l3..)?;
        out.get_mut(..l3)?.copy_from_slice(frame.get(..l3)?);
        let header_len = if k == 0 {
            out.get_mut(l3..l3 + self.first_header)?
                .copy_from_slice(datagram.get(..self.first_header)?);
            self.first_header
        } else {
            out.get_mut(l3..l3 + MIN_HEADER_LEN)?
                .copy_from_slice(datagram.get(..MIN_HEADER_LEN)?);
            let options = datagram.get(MIN_HEADER_LEN..self.first_header)?;
            let mut copied = [0u8; MAX_HEADER_LEN - MIN_HEADER_LEN];
            let padded = copied_options(options, &mut copied)?;
            out.get_mut(l3 + MIN_HEADER_LEN..l3 + MIN_HEADER_LEN + padded)?
                .copy_from_slice(copied.get(..padded)?);
            MIN_HEADER_LEN + padded
        };
        let payload = datagram
            .get(self.first_header + start..)?
            .get(..payload_len)?;
        out.get_mut(l3 + header_len..)?.copy_from_slice(payload);
        let header = out.get_mut(l3..l3 + header_len)?;
        header[0] = 0x40 | (header_len / 4) as u8;
        let total = (header_len + payload_len) as u16;
        header[field::TOTAL_LEN].copy_from_slice(&total.to_be_bytes());
        let last = k + 1 == self.count;
        let more = !last || self.more;
        let offset = self.offset + (start / 8) as u16;
        let flags = if more { FLAG_MORE_FRAGMENTS } else { 0 } | (offset & FRAGMENT_OFFSET_MASK);
        header[field::FLAGS_FRAG].copy_from_slice(&flags.to_be_bytes());
        header[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let sum = checksum::checksum(header);
        header[field::CHECKSUM].copy_from_slice(&sum.to_be_bytes());
        Some(len)
    }
}

/// Writes into `out` the options a later fragment copies (RFC 791: those whose type has
/// the copied flag), padded with end-of-list to a 4-byte header; their padded length.
/// `None` for options whose lengths run past the header.
fn copied_options(options: &[u8], out: &mut [u8]) -> Option<usize> {
    const END: u8 = 0;
    const NOP: u8 = 1;
    const COPIED: u8 = 0x80;
    let (mut at, mut n) = (0, 0);
    while let Some(&kind) = options.get(at) {
        let len = match kind {
            END => break,
            NOP => 1,
            _ => usize::from(*options.get(at + 1)?),
        };
        if len == 0 || (kind != NOP && len < 2) {
            return None;
        }
        let option = options.get(at..at + len)?;
        if kind & COPIED != 0 {
            out.get_mut(n..n + len)?.copy_from_slice(option);
            n += len;
        }
        at += len;
    }
    let padded = n.div_ceil(4) * 4;
    out.get_mut(n..padded)?.fill(END);
    Some(padded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::ipv4::Ipv4Packet;
    use crate::spec_frames;
    use std::net::Ipv4Addr;

    /// A UDP datagram of `payload` bytes from the seed's pod, DF clear, in an Ethernet
    /// frame; `options` go into its header.
    fn datagram(payload: usize, options: &[u8]) -> Vec<u8> {
        let data: Vec<u8> = (0..payload).map(|i| (i * 7 + 3) as u8).collect();
        let mut frame = spec_frames::udp_frame(
            (spec_frames::HOST_MAC, spec_frames::TAP0_MAC),
            (Ipv4Addr::new(10, 1, 1, 3), 5000),
            (Ipv4Addr::new(172, 30, 1, 2), 53),
            &data,
        );
        if !options.is_empty() {
            frame.splice(34..34, options.iter().copied());
            let mut ip = Ipv4Packet::new_unchecked(&mut frame[14..]);
            ip.set_version_and_header_len(20 + options.len());
            let total = ip.total_len() + options.len() as u16;
            ip.set_total_len(total);
        }
        let mut ip = Ipv4Packet::new_unchecked(&mut frame[14..]);
        ip.set_ident(0x1234);
        ip.set_fragment(false, false, 0);
        ip.fill_checksum();
        frame
    }

    /// `frame`'s datagram made a fragment at `offset` (8-byte units) with MF set.
    fn fragment_at(mut frame: Vec<u8>, offset: u16) -> Vec<u8> {
        let mut ip = Ipv4Packet::new_unchecked(&mut frame[14..]);
        ip.set_fragment(false, true, offset);
        ip.fill_checksum();
        frame
    }

    fn cut(frame: &[u8], mtu: u16) -> Vec<Vec<u8>> {
        let plan = Fragments::plan(frame, 14, mtu).unwrap();
        (0..plan.count())
            .map(|k| {
                let mut out = vec![0u8; 2048];
                let len = plan.write(frame, k, &mut out).unwrap();
                assert_eq!(len, plan.frame_len(k));
                out.truncate(len);
                out
            })
            .collect()
    }

    /// Puts the fragments back together as a receiver would: by offset, each header
    /// checked.
    fn reassemble(fragments: &[Vec<u8>]) -> Vec<u8> {
        let mut payload = Vec::new();
        for (k, f) in fragments.iter().enumerate() {
            let ip = Ipv4Packet::new_verified(&f[14..]).expect("a valid header");
            assert_eq!(ip.ident(), 0x1234);
            assert!(!ip.dont_fragment());
            assert_eq!(ip.more_fragments(), k + 1 < fragments.len(), "fragment {k}");
            assert_eq!(
                usize::from(ip.fragment_offset()) * 8,
                payload.len(),
                "fragment {k}"
            );
            assert_eq!(usize::from(ip.total_len()), f.len() - 14);
            assert_eq!(&f[..14], &fragments[0][..14], "the Ethernet header");
            payload.extend_from_slice(ip.payload());
        }
        payload
    }

    #[test]
    fn a_datagram_comes_back_whole_from_its_fragments() {
        for (payload, mtu, count) in [(1472, 576, 3), (1000, 1000, 2), (100, 68, 3), (8, 28, 2)] {
            let frame = datagram(payload, &[]);
            let fragments = cut(&frame, mtu);
            assert_eq!(fragments.len(), count, "{payload} B at MTU {mtu}");
            for f in &fragments {
                assert!(f.len() - 14 <= usize::from(mtu), "{} > {mtu}", f.len() - 14);
            }
            // Every fragment but the last carries a multiple of 8 bytes.
            for f in &fragments[..count - 1] {
                assert_eq!((f.len() - 14 - 20) % 8, 0);
            }
            assert_eq!(
                reassemble(&fragments),
                frame[34..],
                "{payload} B at MTU {mtu}"
            );
        }
        // 576: 552 payload bytes a fragment, so 552 + 552 + 376 for the UDP header and
        // 1472 bytes.
        let fragments = cut(&datagram(1472, &[]), 576);
        let lens: Vec<usize> = fragments.iter().map(|f| f.len() - 34).collect();
        assert_eq!(lens, [552, 552, 376]);
    }

    /// A fragment cut again: the offsets add to its own, and its last piece keeps its MF.
    #[test]
    fn a_fragment_is_fragmented_again() {
        let frame = fragment_at(datagram(1000, &[]), 100);
        let fragments = cut(&frame, 500);
        assert_eq!(fragments.len(), 3);
        for (k, f) in fragments.iter().enumerate() {
            let ip = Ipv4Packet::new_verified(&f[14..]).unwrap();
            assert!(ip.more_fragments(), "fragment {k}: the datagram's own MF");
        }
        let offsets: Vec<u16> = fragments
            .iter()
            .map(|f| Ipv4Packet::new_checked(&f[14..]).unwrap().fragment_offset())
            .collect();
        assert_eq!(offsets, [100, 100 + 480 / 8, 100 + 960 / 8]);
    }

    /// The first fragment keeps every option; the later ones only those with the copied
    /// flag, padded to a 4-byte header.
    #[test]
    fn later_fragments_carry_only_the_copied_options() {
        // Record route (7, not copied, 7 bytes), NOP, a copied 4-byte option (0x94:
        // router alert, copied), then end of list.
        let options = [7, 7, 4, 0, 0, 0, 0, 1, 0x94, 4, 0, 0];
        let frame = datagram(600, &options);
        let fragments = cut(&frame, 300);
        let first = Ipv4Packet::new_verified(&fragments[0][14..]).unwrap();
        assert_eq!(first.header_len(), 32);
        assert_eq!(first.options(), &options);
        for f in &fragments[1..] {
            let ip = Ipv4Packet::new_verified(&f[14..]).unwrap();
            assert_eq!(ip.header_len(), 24);
            assert_eq!(ip.options(), &[0x94, 4, 0, 0]);
        }
        assert_eq!(reassemble(&fragments), frame[14 + 32..]);
    }

    /// Options are walked by their lengths: a two-byte option is one, and an end of
    /// list followed by padding ends them. Such a header is common on the wire; read as
    /// malformed, its datagram would be dropped instead of cut.
    #[test]
    fn a_two_byte_option_and_end_of_list_padding_are_read() {
        // A copied two-byte option (0x9e: experimental, copied), NOP, router alert, end
        // of list.
        let options = [0x9e, 2, 1, 0x94, 4, 0, 0, 0];
        let frame = datagram(600, &options);
        let fragments = cut(&frame, 300);
        for f in &fragments[1..] {
            let ip = Ipv4Packet::new_verified(&f[14..]).unwrap();
            assert_eq!(ip.options(), &[0x9e, 2, 0x94, 4, 0, 0, 0, 0]);
        }
        assert_eq!(reassemble(&fragments), frame[14 + 28..]);
    }

    /// A header whose lengths do not hold (shorter than 20 bytes, longer than the
    /// datagram, or an option of length 0 or 1) is malformed: planned anyway, it would
    /// panic the worker or, for a zero-length option, never end the walk.
    #[test]
    fn a_header_whose_lengths_do_not_hold_is_malformed() {
        let mut short = datagram(100, &[]);
        short[14] = 0x44;
        assert_eq!(
            Fragments::plan(&short, 14, 68),
            Err(Ip4FragError::Malformed)
        );
        let mut beyond = datagram(100, &[0x94, 4, 0, 0]);
        Ipv4Packet::new_unchecked(&mut beyond[14..]).set_total_len(20);
        assert_eq!(
            Fragments::plan(&beyond, 14, 68),
            Err(Ip4FragError::Malformed)
        );
        for option in [[0x94, 0, 0, 0], [0x94, 1, 0, 0]] {
            let frame = datagram(100, &option);
            assert_eq!(
                Fragments::plan(&frame, 14, 68),
                Err(Ip4FragError::Malformed),
                "{option:?}"
            );
        }
    }

    /// The drop is "can't fragment header" when either the first fragment's header (all
    /// the options) or a later one's (the copied ones) leaves no 8 bytes under the MTU:
    /// the first alone is enough, and a datagram of a bare header is not malformed.
    #[test]
    fn a_first_header_without_room_is_named() {
        // Record route (not copied): 28 bytes in the first header, 20 in the others.
        let frame = datagram(100, &[7, 7, 4, 0, 0, 0, 0, 0]);
        assert_eq!(
            Fragments::plan(&frame, 14, 35),
            Err(Ip4FragError::CantFragmentHeader)
        );
        let mut bare = datagram(100, &[]);
        Ipv4Packet::new_unchecked(&mut bare[14..]).set_total_len(20);
        assert_eq!(
            Fragments::plan(&bare, 14, 19),
            Err(Ip4FragError::CantFragmentHeader)
        );
    }

    /// A fragment that ends at exactly 65535 bytes is still cut: its pieces' offsets
    /// all fit the field.
    #[test]
    fn a_fragment_ending_at_65535_is_cut() {
        let frame = fragment_at(datagram(1471, &[]), 8007);
        let fragments = cut(&frame, 576);
        let last = Ipv4Packet::new_verified(&fragments[fragments.len() - 1][14..]).unwrap();
        assert_eq!(
            usize::from(last.fragment_offset()) * 8 + last.payload().len(),
            65535
        );
    }

    #[test]
    fn what_cannot_be_cut_is_named() {
        let frame = datagram(100, &[]);
        assert_eq!(
            Fragments::plan(&frame, 14, 27),
            Err(Ip4FragError::CantFragmentHeader)
        );
        // Shorter than its total length, or an option running past the header.
        assert_eq!(
            Fragments::plan(&frame[..100], 14, 68),
            Err(Ip4FragError::Malformed)
        );
        let bad = datagram(100, &[0x94, 9, 0, 0]);
        assert_eq!(Fragments::plan(&bad, 14, 68), Err(Ip4FragError::Malformed));
        // A fragment whose end lies past 65535 bytes: its pieces' offsets would wrap.
        let high = fragment_at(datagram(1480, &[]), 8150);
        assert_eq!(
            Fragments::plan(&high, 14, 576),
            Err(Ip4FragError::Malformed)
        );
        let highest = fragment_at(datagram(1480, &[]), (65535 - 1488) / 8);
        assert!(
            Fragments::plan(&highest, 14, 576).is_ok(),
            "ends at 65535 or below"
        );
        let plan = Fragments::plan(&frame, 14, 68).unwrap();
        assert_eq!(plan.write(&frame, plan.count(), &mut [0u8; 2048]), None);
        assert_eq!(
            plan.write(&frame, 0, &mut [0u8; 40]),
            None,
            "too short a buffer"
        );
    }
}
