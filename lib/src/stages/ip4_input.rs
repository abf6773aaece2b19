//! ip4-input: the validity checks of RFC 1812 §5.2.2 on every live packet.
//!
//! Checks, in order (the first failure is the reason; see [`Ipv4Error`]): frame shorter
//! than 20 bytes, version ≠ 4, IHL < 5, options past the frame, total length < header
//! length, total length > frame, bad header checksum. Then, as VPP's ip4-input: a fragment
//! at offset 1 (8 bytes) is dropped, since it can only serve to overwrite the TCP flags
//! of the first fragment (RFC 1858), and TTL 0 is answered with time exceeded. A frame
//! longer than the total length (Ethernet padding) is trimmed to it. Options are checked
//! for length only and forwarded untouched. TTL 1 is checked where a packet is known to be
//! forwarded, in ip4-rewrite (a packet to one of our addresses may arrive with TTL 1).
//!
//! VPP lets TTL 0 win over a bad checksum and sends time exceeded about the corrupted
//! header; podfwd answers only headers that verify.

use super::{drop, Context};
use crate::buffer::PacketBuf;
use crate::burst::{Burst, Disposition};
use crate::node::NodeId;
use crate::node_errors;
use crate::packet::ipv4::{Ipv4Error, Ipv4Packet};
use crate::stages::icmp_error::IcmpErrorKind;
use crate::trace::{Headers, TraceRecord};
use std::fmt;

node_errors! {
    /// Why ip4-input drops a packet, one reason per RFC 1812 §5.2.2 rule.
    pub enum Ip4InputError for NodeId::Ip4Input {
        Truncated => "ip4 frame shorter than 20 bytes",
        BadVersion => "ip4 version != 4",
        IhlBelowFive => "ip4 header length < 20 bytes",
        OptionsTruncated => "ip4 options past end of frame",
        BadChecksum => "bad ip4 checksum",
        TotalLengthBelowHeader => "ip4 length < header length",
        TotalLengthExceedsFrame => "ip4 length > l2 length",
        FragmentOffsetOne => "ip4 fragment offset == 1",
    }
}

impl From<Ipv4Error> for Ip4InputError {
    fn from(e: Ipv4Error) -> Self {
        match e {
            Ipv4Error::Truncated => Ip4InputError::Truncated,
            Ipv4Error::BadVersion => Ip4InputError::BadVersion,
            Ipv4Error::IhlBelowFive => Ip4InputError::IhlBelowFive,
            Ipv4Error::OptionsTruncated => Ip4InputError::OptionsTruncated,
            Ipv4Error::BadChecksum => Ip4InputError::BadChecksum,
            Ipv4Error::TotalLengthBelowHeader => Ip4InputError::TotalLengthBelowHeader,
            Ipv4Error::TotalLengthExceedsFrame => Ip4InputError::TotalLengthExceedsFrame,
        }
    }
}

/// The headers as received (after trimming).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trace {
    pub headers: Headers,
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.headers.fmt(f)
    }
}

/// Validates every live packet; bad ones are dropped with their reason.
pub fn process<B: PacketBuf, const TRACE: bool>(
    burst: &mut Burst,
    pkts: &mut [B],
    cx: &mut Context<'_>,
) {
    let all_live = burst.all_continue();
    for (i, pkt) in pkts.iter_mut().enumerate().take(burst.len()) {
        if !all_live && burst.disposition(i) != Disposition::Continue {
            continue;
        }
        let l3 = burst.get(i).map_or(0, |m| usize::from(m.l3_offset));
        let checked = match pkt.data().get(l3..) {
            Some(bytes) => Ipv4Packet::new_verified(bytes)
                .map(|p| (usize::from(p.total_len()), p.fragment_offset(), p.ttl())),
            None => Err(Ipv4Error::Truncated),
        };
        match checked {
            Ok((total_len, fragment_offset, ttl)) => {
                if pkt.data().len() > l3 + total_len {
                    pkt.set_len(l3 + total_len);
                }
                if fragment_offset == 1 {
                    drop(burst, i, Ip4InputError::FragmentOffsetOne);
                } else if ttl == 0 {
                    burst.set_disposition(i, Disposition::ToIcmpError(IcmpErrorKind::TimeExceeded));
                }
            }
            Err(e) => drop(burst, i, Ip4InputError::from(e)),
        }
        if TRACE {
            if let Some(meta) = burst.get(i) {
                let bytes = pkt.data().get(l3..).unwrap_or(&[]);
                cx.trace(meta, || {
                    TraceRecord::Ip4Input(Trace {
                        headers: Headers::capture(bytes),
                    })
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::node::DropReason;
    use crate::spec_frames;

    fn run(frame: Vec<u8>) -> (Disposition, Vec<u8>) {
        let snap = snapshot();
        let (burst, pkts, _) = run_stage(TAP2, &[frame], &snap, |b, p, cx| {
            process::<_, false>(b, p, cx)
        });
        (burst.disposition(0), pkts[0].data().to_vec())
    }

    fn dropped(e: Ip4InputError) -> Disposition {
        Disposition::Drop(DropReason::of(e))
    }

    /// The SYN with its IP header edited by `edit`.
    fn edited(edit: impl FnOnce(&mut Ipv4Packet<&mut [u8]>)) -> Vec<u8> {
        let mut frame = spec_frames::syn();
        let mut ip = Ipv4Packet::new_unchecked(&mut frame[14..]);
        edit(&mut ip);
        frame
    }

    #[test]
    fn valid_packet_continues_unchanged() {
        let syn = spec_frames::syn();
        assert_eq!(run(syn.clone()), (Disposition::Continue, syn));
    }

    #[test]
    fn ethernet_padding_is_trimmed() {
        let syn = spec_frames::syn();
        let mut padded = syn.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(run(padded), (Disposition::Continue, syn));
    }

    #[test]
    fn options_are_forwarded_untouched() {
        let mut frame = spec_frames::syn();
        frame.splice(34..34, [0x94, 0x04, 0x00, 0x00]); // router alert
        let mut ip = Ipv4Packet::new_unchecked(&mut frame[14..]);
        ip.set_version_and_header_len(24);
        ip.set_total_len(64);
        ip.fill_checksum();
        let (d, out) = run(frame.clone());
        assert_eq!((d, out), (Disposition::Continue, frame));
    }

    #[test]
    fn truncated() {
        assert_eq!(
            run(spec_frames::syn()[..33].to_vec()).0,
            dropped(Ip4InputError::Truncated)
        );
    }

    #[test]
    fn version_not_four() {
        let f = edited(|ip| {
            ip.set_version_ihl_byte(0x65);
            ip.fill_checksum();
        });
        assert_eq!(run(f).0, dropped(Ip4InputError::BadVersion));
    }

    #[test]
    fn ihl_below_five() {
        let f = edited(|ip| ip.set_version_ihl_byte(0x44));
        assert_eq!(run(f).0, dropped(Ip4InputError::IhlBelowFive));
    }

    #[test]
    fn options_past_end_of_frame() {
        let mut f = spec_frames::syn();
        f[14] = 0x4f;
        f.truncate(14 + 40);
        assert_eq!(run(f).0, dropped(Ip4InputError::OptionsTruncated));
    }

    #[test]
    fn bad_checksum() {
        let mut f = spec_frames::syn();
        f[14 + 11] ^= 0xff;
        assert_eq!(run(f).0, dropped(Ip4InputError::BadChecksum));
    }

    #[test]
    fn total_length_below_header() {
        let f = edited(|ip| {
            ip.set_total_len(19);
            ip.fill_checksum();
        });
        assert_eq!(run(f).0, dropped(Ip4InputError::TotalLengthBelowHeader));
    }

    #[test]
    fn total_length_exceeds_frame() {
        let f = edited(|ip| {
            ip.set_total_len(61);
            ip.fill_checksum();
        });
        assert_eq!(run(f).0, dropped(Ip4InputError::TotalLengthExceedsFrame));
    }

    #[test]
    fn a_bad_length_wins_over_a_bad_checksum_as_in_vpp() {
        let f = edited(|ip| ip.set_total_len(61));
        assert_eq!(run(f).0, dropped(Ip4InputError::TotalLengthExceedsFrame));
        let f = edited(|ip| ip.set_total_len(19));
        assert_eq!(run(f).0, dropped(Ip4InputError::TotalLengthBelowHeader));
    }

    #[test]
    fn fragment_at_offset_one_is_dropped() {
        for (offset, more) in [(1, false), (1, true)] {
            let f = edited(|ip| {
                ip.set_fragment(false, more, offset);
                ip.fill_checksum();
            });
            assert_eq!(run(f).0, dropped(Ip4InputError::FragmentOffsetOne));
        }
        let f = edited(|ip| {
            ip.set_fragment(false, false, 2);
            ip.fill_checksum();
        });
        assert_eq!(run(f).0, Disposition::Continue);
    }

    #[test]
    fn ttl_zero_is_time_exceeded_and_one_goes_on() {
        let f = edited(|ip| {
            ip.set_ttl(0);
            ip.fill_checksum();
        });
        assert_eq!(
            run(f).0,
            Disposition::ToIcmpError(IcmpErrorKind::TimeExceeded)
        );
        // Only verified headers are answered.
        let f = edited(|ip| ip.set_ttl(0));
        assert_eq!(run(f).0, dropped(Ip4InputError::BadChecksum));
        let f = edited(|ip| {
            ip.set_ttl(1);
            ip.fill_checksum();
        });
        assert_eq!(run(f).0, Disposition::Continue);
    }

    #[test]
    fn skips_packets_already_disposed_of() {
        let snap = snapshot();
        let mut bad = spec_frames::syn();
        bad[14] = 0x65;
        let (burst, _, _) = run_stage(TAP2, &[bad], &snap, |b, p, cx| {
            b.set_disposition(0, Disposition::ToArp);
            process::<_, false>(b, p, cx)
        });
        assert_eq!(burst.disposition(0), Disposition::ToArp);
    }
}
