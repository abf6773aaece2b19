//! `ping`: a thread beside the console (podfwd's other commands go on meanwhile) builds
//! each echo request and hands it, in an mbuf, to worker 0's poll loop, which sends it
//! out of the route's interface; every worker's poll loop watches what it receives for
//! the replies while a ping runs (ip4-local then consumes them, counted as "echo replies
//! received"). The requests leave as ip4-rewrite would
//! write them, straight to the port: no output ACL or NAT44 on their way out.
//!
//! A request's data starts with the TSC when it was built; a reply brings it back, and
//! the worker notes the TSC it arrived at: the round trip, on one clock (the TSC is the
//! same on every core).

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use podfwd::control::PingRequest;
use podfwd::packet::ethernet::{EtherType, EthernetFrame};
use podfwd::packet::icmp::{IcmpPacket, MessageType};
use podfwd::packet::ipv4::{Ipv4Packet, Protocol};
use podfwd::spec_frames;
use podfwd::types::{IfIndex, MacAddr};

use crate::forward::{ask_loop, Answer, LoopMailbox, Question};

/// The TTL of the requests, as VPP's ping sends them.
const TTL: u8 = 64;

/// One reply, as a worker saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub seq: u16,
    pub ttl: u8,
    /// The ICMP message's length (header and data).
    pub bytes: u16,
    pub src: Ipv4Addr,
    /// The TSC the request was built at (its first 8 bytes of data).
    pub sent_tsc: u64,
    /// The TSC of the poll loop's pass that received it.
    pub rx_tsc: u64,
}

/// A worker's watch for the replies to one ping run.
#[derive(Debug)]
pub struct Watch {
    ident: u16,
    replies: Vec<Reply>,
}

impl Watch {
    /// Room for `capacity` replies, reserved now: a worker never grows it.
    pub fn new(ident: u16, capacity: usize) -> Watch {
        Watch {
            ident,
            replies: Vec::with_capacity(capacity),
        }
    }

    /// Notes `frame`, received at `now`, if it is a reply to this run and there is room.
    pub fn check(&mut self, frame: &[u8], now: u64) {
        if self.replies.len() == self.replies.capacity() {
            return;
        }
        if let Some((ident, mut reply)) = parse_reply(frame) {
            if ident == self.ident {
                reply.rx_tsc = now;
                self.replies.push(reply);
            }
        }
    }

    pub fn replies(&self) -> &[Reply] {
        &self.replies
    }
}

/// An echo reply's identifier and what it says (`rx_tsc` 0), or `None` for any other
/// frame.
pub fn parse_reply(frame: &[u8]) -> Option<(u16, Reply)> {
    let ethernet = EthernetFrame::new_checked(frame).ok()?;
    if ethernet.ethertype() != EtherType::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(ethernet.payload()).ok()?;
    if ip.protocol() != Protocol::Icmp || ip.more_fragments() || ip.is_non_first_fragment() {
        return None;
    }
    let icmp = IcmpPacket::new_checked(ip.payload()).ok()?;
    if icmp.msg_type() != MessageType::EchoReply {
        return None;
    }
    let stamp = icmp.data().first_chunk::<8>()?;
    let reply = Reply {
        seq: icmp.echo_seq(),
        ttl: ip.ttl(),
        bytes: ip.payload().len() as u16,
        src: ip.src(),
        sent_tsc: u64::from_le_bytes(*stamp),
        rx_tsc: 0,
    };
    Some((icmp.echo_ident(), reply))
}

/// Echo request `seq` of `request` under `ident`, stamped with `tsc`; its data is the
/// stamp, then bytes counting up, `request.args.size` in all.
pub fn echo_request(request: &PingRequest, ident: u16, seq: u16, tsc: u64) -> Vec<u8> {
    let mut data: Vec<u8> = (0..request.args.size).map(|i| i as u8).collect();
    // The parser keeps the size at 8 or more; a shorter one goes without its stamp.
    if let Some(stamp) = data.first_chunk_mut::<8>() {
        *stamp = tsc.to_le_bytes();
    }
    let mac = |at: usize| MacAddr(std::array::from_fn(|i| request.ethernet[at + i]));
    spec_frames::icmp_echo_request(
        mac(0),
        mac(6),
        request.src,
        request.args.dst,
        TTL,
        ident,
        seq,
        &data,
    )
}

/// VPP's lines: one per reply in order of sequence (the first reply of each), then the
/// statistics.
pub fn format_replies(replies: &[Reply], sent: u32, tsc_hz: u64) -> String {
    let mut shown = Shown::default();
    let mut out = shown.new_lines(replies, tsc_hz);
    out.push_str(&shown.statistics(sent));
    out
}

/// The sequence numbers whose line has been shown, as a run's replies come.
#[derive(Debug, Default)]
struct Shown(Vec<u16>);

impl Shown {
    /// The lines of `replies` whose sequence has none yet, in order of sequence.
    fn new_lines(&mut self, replies: &[Reply], tsc_hz: u64) -> String {
        let mut new: Vec<Reply> = Vec::new();
        for reply in replies {
            if !self.0.contains(&reply.seq) {
                self.0.push(reply.seq);
                new.push(*reply);
            }
        }
        new.sort_by_key(|r| r.seq);
        let mut out = String::new();
        for r in &new {
            let ms = r.rx_tsc.saturating_sub(r.sent_tsc) as f64 * 1e3 / tsc_hz.max(1) as f64;
            out.push_str(&format!(
                "{} bytes from {}: icmp_seq={} ttl={} time={ms:.4} ms\n",
                r.bytes, r.src, r.seq, r.ttl
            ));
        }
        out
    }

    fn statistics(&self, sent: u32) -> String {
        let received = self.0.len() as u32;
        let loss = 100.0 * f64::from(sent.saturating_sub(received)) / f64::from(sent.max(1));
        format!("\nStatistics: {sent} sent, {received} received, {loss:.0}% packet loss\n")
    }
}

/// The console's side.
pub struct Pinger {
    mailboxes: Vec<Arc<LoopMailbox>>,
    /// A run holds it ([`PingRun`]): one at a time, since every worker keeps one watch.
    running: AtomicBool,
    next_ident: AtomicU16,
    tsc: fn() -> u64,
    tsc_hz: u64,
}

impl Pinger {
    pub fn new(mailboxes: Vec<Arc<LoopMailbox>>, tsc: fn() -> u64, tsc_hz: u64) -> Pinger {
        Pinger {
            mailboxes,
            running: AtomicBool::new(false),
            // Distinct from another podfwd's on the same link, most likely.
            next_ident: AtomicU16::new(std::process::id() as u16),
            tsc,
            tsc_hz,
        }
    }

    /// Worker 0's mailbox, which sends what the console sends.
    pub fn first_worker(&self) -> Option<&LoopMailbox> {
        self.mailboxes.first().map(|m| &**m)
    }

    /// Runs `request`: `send` hands one frame to worker 0 for the poll loop's interface
    /// `position` (the request's tx interface); replies are gathered from every worker,
    /// and their lines handed to `show` after each interval, as they come (VPP prints
    /// each as it arrives); the rest of the report is returned. `stop` is asked between
    /// requests and while waiting: once it says so, no more requests go and the replies
    /// so far are reported.
    pub fn run(
        &self,
        request: &PingRequest,
        position: impl Fn(IfIndex) -> usize,
        send: impl Fn(&LoopMailbox, Vec<u8>, usize) -> Result<(), String>,
        stop: impl Fn() -> bool,
        show: &mut dyn FnMut(&str),
    ) -> Result<String, String> {
        let Some(first) = self.mailboxes.first() else {
            return Err("ping: no worker to send from".into());
        };
        let ident = self.next_ident.fetch_add(1, Ordering::Relaxed);
        let args = &request.args;
        // Room for every reply twice over (duplicates are shown once).
        let room = 2 * args.repeat as usize;
        for (worker, mailbox) in self.mailboxes.iter().enumerate() {
            ask(
                worker,
                mailbox,
                Question::Watch(Some(Watch::new(ident, room))),
            )?;
        }
        let interval = Duration::from_millis(u64::from(args.interval_ms));
        let mut sent = 0;
        let mut failed = None;
        let mut stopped = false;
        let mut shown = Shown::default();
        // Per worker, how many of its replies have been read.
        let mut read = vec![0; self.mailboxes.len()];
        for seq in 1..=args.repeat {
            let frame = echo_request(request, ident, seq as u16, (self.tsc)());
            match send(first, frame, position(request.tx_if)) {
                Ok(()) => sent += 1,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            // After the last request too: its reply has an interval to come back.
            if !sleep_unless(interval, &stop) {
                stopped = true;
                break;
            }
            let mut replies = Vec::new();
            for (worker, mailbox) in self.mailboxes.iter().enumerate() {
                let into = Vec::with_capacity(room);
                let from = read[worker];
                if let Answer::Replies(new) =
                    ask(worker, mailbox, Question::Replies { from, into })?
                {
                    read[worker] += new.len();
                    replies.extend_from_slice(&new);
                }
            }
            let lines = shown.new_lines(&replies, self.tsc_hz);
            if !lines.is_empty() {
                show(&lines);
            }
        }
        let mut replies = Vec::new();
        for (worker, mailbox) in self.mailboxes.iter().enumerate() {
            if let Answer::Watching(Some(watch)) = ask(worker, mailbox, Question::Watch(None))? {
                replies.extend_from_slice(watch.replies());
            }
        }
        let mut report = shown.new_lines(&replies, self.tsc_hz);
        report.push_str(&shown.statistics(sent));
        if stopped {
            report.push_str(&format!(
                "interrupted after {sent} of {} requests\n",
                args.repeat
            ));
        }
        match failed {
            Some(e) => Err(format!("{report}{e}")),
            None => Ok(report),
        }
    }
}

/// The right to run one ping: the workers' watches are this run's until it drops.
pub struct PingRun(Arc<Pinger>);

impl PingRun {
    pub fn claim(pinger: &Arc<Pinger>) -> Result<PingRun, String> {
        if pinger.running.swap(true, Ordering::Acquire) {
            return Err("ping: another ping is running; one runs at a time".into());
        }
        Ok(PingRun(Arc::clone(pinger)))
    }

    pub fn pinger(&self) -> &Pinger {
        &self.0
    }
}

impl Drop for PingRun {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

/// Sleeps `total` in slices, so that a stop is seen within one; false if `stop` said so.
fn sleep_unless(total: Duration, stop: &impl Fn() -> bool) -> bool {
    const SLICE: Duration = Duration::from_millis(50);
    let end = std::time::Instant::now() + total;
    loop {
        if stop() {
            return false;
        }
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(SLICE));
    }
}

fn ask(worker: usize, mailbox: &LoopMailbox, question: Question) -> Result<Answer, String> {
    ask_loop("ping", worker, mailbox, question)
}

#[cfg(test)]
mod tests {
    use super::*;
    use podfwd::cli::PingArgs;

    fn request() -> PingRequest {
        let mut ethernet = [0u8; 14];
        ethernet[..6].copy_from_slice(&[0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51]);
        ethernet[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        ethernet[12..].copy_from_slice(&[8, 0]);
        PingRequest {
            args: PingArgs {
                dst: Ipv4Addr::new(172, 30, 1, 2),
                source: None,
                size: 60,
                interval_ms: 1,
                repeat: 3,
            },
            src: Ipv4Addr::new(172, 30, 1, 1),
            tx_if: IfIndex(2),
            ethernet,
        }
    }

    /// The request turned into the reply its destination sends: addresses and MACs
    /// swapped, type 0, checksums recomputed, TTL `ttl`.
    fn reply_to(frame: &[u8], ttl: u8) -> Vec<u8> {
        let mut out = frame.to_vec();
        out.copy_within(0..6, 6);
        out[..6].copy_from_slice(&frame[6..12]);
        let mut ip = Ipv4Packet::new_unchecked(&mut out[14..]);
        let (src, dst) = (ip.src(), ip.dst());
        ip.set_src(dst);
        ip.set_dst(src);
        ip.set_ttl(ttl);
        ip.fill_checksum();
        let mut icmp = IcmpPacket::new_unchecked(ip.payload_mut());
        icmp.set_msg_type(MessageType::EchoReply);
        icmp.fill_checksum();
        out
    }

    #[test]
    fn a_request_is_the_routes_frame_with_the_stamp_first() {
        let frame = echo_request(&request(), 0x4242, 7, 0x0102_0304_0506_0708);
        assert_eq!(frame[..14], request().ethernet);
        // Verified: lengths and the header checksum.
        let ip = Ipv4Packet::new_verified(&frame[14..]).unwrap();
        assert_eq!(
            (ip.src(), ip.dst(), ip.ttl()),
            (request().src, request().args.dst, 64)
        );
        let icmp = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert!(icmp.verify_checksum());
        assert_eq!(icmp.msg_type(), MessageType::EchoRequest);
        assert_eq!((icmp.echo_ident(), icmp.echo_seq()), (0x4242, 7));
        assert_eq!(icmp.data().len(), 60);
        assert_eq!(icmp.data()[..9], [8, 7, 6, 5, 4, 3, 2, 1, 8]);
    }

    #[test]
    fn a_watch_takes_its_replies_only_and_never_grows() {
        let request = echo_request(&request(), 9, 1, 1000);
        let mut watch = Watch::new(9, 2);
        watch.check(&request, 5000);
        assert!(watch.replies().is_empty(), "a request is no reply");
        let other = reply_to(&echo_request(&self::request(), 10, 1, 1000), 63);
        watch.check(&other, 5000);
        assert!(watch.replies().is_empty(), "another run's reply");
        let reply = reply_to(&request, 63);
        watch.check(&reply[..40], 5000);
        assert!(watch.replies().is_empty(), "truncated");
        for _ in 0..3 {
            watch.check(&reply, 5000);
        }
        assert_eq!(watch.replies().len(), 2);
        assert_eq!(
            watch.replies()[0],
            Reply {
                seq: 1,
                ttl: 63,
                bytes: 68,
                src: Ipv4Addr::new(172, 30, 1, 2),
                sent_tsc: 1000,
                rx_tsc: 5000,
            }
        );
    }

    /// Lines shown as replies come are not shown again: the report's end has the rest
    /// (a late reply, a duplicate's sequence once) and the statistics of all.
    #[test]
    fn lines_shown_as_they_come_are_shown_once() {
        let reply = |seq| Reply {
            seq,
            ttl: 64,
            bytes: 68,
            src: Ipv4Addr::new(172, 30, 1, 2),
            sent_tsc: 0,
            rx_tsc: 1_000_000,
        };
        let mut shown = Shown::default();
        let first = shown.new_lines(&[reply(1)], 1_000_000_000);
        assert_eq!(
            first,
            "68 bytes from 172.30.1.2: icmp_seq=1 ttl=64 time=1.0000 ms\n"
        );
        // The watch gives back every reply at the end, the first one's included.
        let rest = shown.new_lines(&[reply(1), reply(3), reply(1)], 1_000_000_000);
        assert_eq!(
            rest,
            "68 bytes from 172.30.1.2: icmp_seq=3 ttl=64 time=1.0000 ms\n"
        );
        assert_eq!(
            shown.statistics(3),
            "\nStatistics: 3 sent, 2 received, 33% packet loss\n"
        );
    }

    #[test]
    fn the_report_is_vpps_lines_in_sequence_then_the_statistics() {
        let reply = |seq, rx_tsc| Reply {
            seq,
            ttl: 64,
            bytes: 68,
            src: Ipv4Addr::new(172, 30, 1, 2),
            sent_tsc: 1_000_000,
            rx_tsc,
        };
        // 1 GHz: 73 100 ticks are 0.0731 ms. Seq 2 twice, seq 3 lost.
        let replies = [
            reply(2, 1_100_000),
            reply(1, 1_073_100),
            reply(2, 1_200_000),
        ];
        assert_eq!(
            format_replies(&replies, 4, 1_000_000_000),
            "68 bytes from 172.30.1.2: icmp_seq=1 ttl=64 time=0.0731 ms\n\
             68 bytes from 172.30.1.2: icmp_seq=2 ttl=64 time=0.1000 ms\n\
             \nStatistics: 4 sent, 2 received, 50% packet loss\n"
        );
    }
}
