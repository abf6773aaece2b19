//! Packet trace: `trace add <input-node> N`, `show trace [max N]`, `clear trace`.
//!
//! Marked packets carry a slot number in their metadata; every stage appends a small typed
//! record for them ([`TraceRecord`]) into the worker's preallocated [`TraceBuffer`]. Text is
//! produced only by `show trace`, in the layout of the spec's VPP trace: one block per
//! packet, one entry per node (timestamp and node name), then what the node decided and the
//! headers as it left them.

use crate::node::{DropReason, InputKind, NodeId};
use crate::packet::icmp::IcmpPacket;
use crate::packet::ipv4::{Ipv4Packet, Protocol};
use crate::packet::tcp::{TcpFlags, TcpPacket};
use crate::packet::udp::UdpPacket;
use crate::stages;
use crate::types::{IfIndex, MacAddr};
use std::fmt;
use std::net::Ipv4Addr;

/// Most entries one packet collects; later ones are not recorded.
pub const MAX_ENTRIES: usize = 16;
/// Most packets one worker holds in its trace buffer (VPP's default is 50 per `trace add`;
/// this bounds memory at about 3 MiB).
pub const MAX_TRACED_PACKETS: usize = 1024;

/// An interface name kept inline in a record (names are short; longer ones are cut).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct InlineName {
    bytes: [u8; 24],
    len: u8,
}

impl InlineName {
    pub fn new(name: &str) -> Self {
        let mut end = name.len().min(24);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; 24];
        bytes[..end].copy_from_slice(&name.as_bytes()[..end]);
        InlineName {
            bytes,
            len: end as u8,
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("?")
    }
}

impl fmt::Display for InlineName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for InlineName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// The IPv4 header fields a trace shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Summary {
    pub protocol: Protocol,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub tos: u8,
    pub ttl: u8,
    pub total_len: u16,
    pub checksum: u16,
    pub ident: u16,
    pub dont_fragment: bool,
    pub more_fragments: bool,
    pub fragment_offset: u16,
}

/// The L4 header fields a trace shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Summary {
    None,
    Tcp {
        src_port: u16,
        dst_port: u16,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        header_len: u8,
        window: u16,
        checksum: u16,
    },
    Udp {
        src_port: u16,
        dst_port: u16,
        len: u16,
        checksum: u16,
    },
    Icmp {
        msg_type: crate::packet::icmp::MessageType,
        code: u8,
        checksum: u16,
    },
}

/// IPv4 and L4 headers as a stage left them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headers {
    pub ip: Option<Ipv4Summary>,
    pub l4: L4Summary,
}

impl Headers {
    /// Reads what it can of the headers starting at `l3`; never panics.
    pub fn capture(l3: &[u8]) -> Headers {
        let Some(fixed) = l3.get(..crate::packet::ipv4::MIN_HEADER_LEN) else {
            return Headers {
                ip: None,
                l4: L4Summary::None,
            };
        };
        let p = Ipv4Packet::new_unchecked(fixed);
        let ip = Ipv4Summary {
            protocol: p.protocol(),
            src: p.src(),
            dst: p.dst(),
            tos: p.tos(),
            ttl: p.ttl(),
            total_len: p.total_len(),
            checksum: p.checksum(),
            ident: p.ident(),
            dont_fragment: p.dont_fragment(),
            more_fragments: p.more_fragments(),
            fragment_offset: p.fragment_offset(),
        };
        let l4 = match Ipv4Packet::new_checked(l3) {
            Ok(p) if !p.is_non_first_fragment() => Self::capture_l4(p.protocol(), p.payload()),
            _ => L4Summary::None,
        };
        Headers { ip: Some(ip), l4 }
    }

    fn capture_l4(protocol: Protocol, payload: &[u8]) -> L4Summary {
        match protocol {
            Protocol::Tcp => match TcpPacket::new_checked(payload) {
                Ok(t) => L4Summary::Tcp {
                    src_port: t.src_port(),
                    dst_port: t.dst_port(),
                    seq: t.seq_number(),
                    ack: t.ack_number(),
                    flags: t.flags(),
                    header_len: t.header_len() as u8,
                    window: t.window(),
                    checksum: t.checksum(),
                },
                Err(_) => L4Summary::None,
            },
            Protocol::Udp => match UdpPacket::new_checked(payload) {
                Ok(u) => L4Summary::Udp {
                    src_port: u.src_port(),
                    dst_port: u.dst_port(),
                    len: u.len(),
                    checksum: u.checksum(),
                },
                Err(_) => L4Summary::None,
            },
            Protocol::Icmp => match IcmpPacket::new_checked(payload) {
                Ok(i) => L4Summary::Icmp {
                    msg_type: i.msg_type(),
                    code: i.code(),
                    checksum: i.checksum(),
                },
                Err(_) => L4Summary::None,
            },
            Protocol::Unknown(_) => L4Summary::None,
        }
    }
}

impl fmt::Display for Headers {
    /// The spec's layout, two-space indent:
    /// `  TCP: 10.1.1.3 -> 10.104.221.85` / `    tos 0x00, ttl 64, length 60, checksum
    /// 0xe946` / `    fragment id 0x5eb4, flags DONT_FRAGMENT` / `  TCP: 46310 -> 80` / ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(ip) = self.ip else {
            return writeln!(f, "  (no IPv4 header)");
        };
        writeln!(f, "  {}: {} -> {}", ip.protocol, ip.src, ip.dst)?;
        writeln!(
            f,
            "    tos 0x{:02x}, ttl {}, length {}, checksum 0x{:04x}",
            ip.tos, ip.ttl, ip.total_len, ip.checksum
        )?;
        write!(f, "    fragment id 0x{:04x}", ip.ident)?;
        if ip.fragment_offset != 0 || ip.more_fragments {
            write!(f, " offset {}", u32::from(ip.fragment_offset) * 8)?;
        }
        if ip.dont_fragment || ip.more_fragments {
            f.write_str(", flags")?;
            if ip.dont_fragment {
                f.write_str(" DONT_FRAGMENT")?;
            }
            if ip.more_fragments {
                f.write_str(" MORE_FRAGMENTS")?;
            }
        }
        writeln!(f)?;
        match self.l4 {
            L4Summary::None => Ok(()),
            L4Summary::Tcp {
                src_port,
                dst_port,
                seq,
                ack,
                flags,
                header_len,
                window,
                checksum,
            } => {
                writeln!(f, "  TCP: {src_port} -> {dst_port}")?;
                writeln!(f, "    seq. 0x{seq:08x} ack 0x{ack:08x}")?;
                writeln!(f, "    flags {flags}, tcp header: {header_len} bytes")?;
                writeln!(f, "    window {window}, checksum 0x{checksum:04x}")
            }
            L4Summary::Udp {
                src_port,
                dst_port,
                len,
                checksum,
            } => {
                writeln!(f, "  UDP: {src_port} -> {dst_port}")?;
                writeln!(f, "    length {len}, checksum 0x{checksum:04x}")
            }
            L4Summary::Icmp {
                msg_type,
                code,
                checksum,
            } => writeln!(f, "  ICMP {msg_type} code {code} checksum 0x{checksum:04x}"),
        }
    }
}

/// The input node's entry: where the packet came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputRecord {
    pub kind: InputKind,
    pub rx_if: IfIndex,
    /// The receive queue, which is the worker's index: worker N polls queue N of
    /// every port.
    pub queue: u16,
    pub interface: InlineName,
    pub len: u16,
}

/// virtio-input's next index for ethernet-input: VPP's device-input next nodes are
/// ip4-input-no-checksum, ip4-input, ip6-input, mpls-input, ethernet-input, drop.
const VIRTIO_NEXT_ETHERNET_INPUT: u8 = 4;

impl fmt::Display for InputRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            InputKind::Virtio => {
                // VPP's interface index is the hardware one; podfwd has one index per
                // port. The virtio-net header is stripped by the PMD before podfwd sees
                // the frame, and podfwd negotiates no offloads, so it is all zero but
                // for num_buffers, which is 1: a frame in several segments never
                // reaches the stages (the rx loop drops it).
                writeln!(
                    f,
                    "  virtio: hw_if_index {} next-index {VIRTIO_NEXT_ETHERNET_INPUT} vring {} len {}",
                    self.rx_if, self.queue, self.len
                )?;
                writeln!(
                    f,
                    "    hdr: flags 0x00 gso_type 0x00 hdr_len 0 gso_size 0 csum_start 0 \
                     csum_offset 0 num_buffers 1"
                )
            }
            InputKind::VhostUser | InputKind::Pcap | InputKind::Dpdk => writeln!(
                f,
                "  {}: sw_if_index {} len {}",
                self.interface, self.rx_if, self.len
            ),
        }
    }
}

/// The `<interface>-output` entry: the frame as it leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputRecord {
    pub tx_if: IfIndex,
    pub interface: InlineName,
    pub ethertype: crate::packet::EtherType,
    pub src_mac: MacAddr,
    pub dst_mac: MacAddr,
    pub headers: Headers,
}

impl fmt::Display for OutputRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  {}", self.interface)?;
        writeln!(
            f,
            "  {}: {} -> {}",
            self.ethertype, self.src_mac, self.dst_mac
        )?;
        if self.ethertype == crate::packet::EtherType::Ipv4 {
            write!(f, "{}", self.headers)?;
        }
        Ok(())
    }
}

/// One stage's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceRecord {
    Input(InputRecord),
    EthernetInput(stages::ethernet_input::Trace),
    Arp(stages::arp::Trace),
    Ip4Arp(stages::arp::ResolveTrace),
    Ip4Glean(stages::arp::ResolveTrace),
    Ip4Input(stages::ip4_input::Trace),
    Ip4Lookup(stages::ip4_lookup::Trace),
    Ip4Local(stages::ip4_local::Trace),
    IcmpError(stages::icmp_error::Trace),
    Ip4Rewrite(stages::ip4_rewrite::Trace),
    /// acl-plugin-in-ip4-fa or acl-plugin-out-ip4-fa, by the record's direction.
    Acl(crate::acl::AclTrace),
    Nat44Out2in(crate::nat44::Out2inTrace),
    /// nat44-in2out, or nat44-in2out-slowpath for the slow-path line.
    Nat44In2out(crate::nat44::In2outTrace),
    /// nat44-in2out-output, or its slow path.
    Nat44In2outOutput(crate::nat44::In2outTrace),
    Output(OutputRecord),
    /// Left as fragments: VPP's `ip4-frag` entry.
    Ip4Frag {
        mtu: u16,
        fragments: usize,
    },
    /// The packet was dropped: VPP's `error-drop` entry.
    Drop(DropReason),
    /// Received by another worker, which handed it to this one (the one that holds its
    /// flow's sessions): VPP's `handoff_trace` entry, with that worker's thread number.
    HandedOff {
        from_thread: u32,
    },
}

impl TraceRecord {
    fn write_node_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceRecord::Input(r) => f.write_str(r.kind.node_name()),
            TraceRecord::EthernetInput(_) => f.write_str(NodeId::EthernetInput.name()),
            TraceRecord::Arp(_) => f.write_str(NodeId::Arp.name()),
            TraceRecord::Ip4Arp(_) => f.write_str(NodeId::Ip4Arp.name()),
            TraceRecord::Ip4Glean(_) => f.write_str(NodeId::Ip4Glean.name()),
            TraceRecord::Ip4Input(_) => f.write_str(NodeId::Ip4Input.name()),
            TraceRecord::Ip4Lookup(_) => f.write_str(NodeId::Ip4Lookup.name()),
            TraceRecord::Ip4Local(_) => f.write_str(NodeId::Ip4Local.name()),
            TraceRecord::IcmpError(_) => f.write_str(NodeId::IcmpError.name()),
            TraceRecord::Ip4Rewrite(_) => f.write_str(NodeId::Ip4Rewrite.name()),
            TraceRecord::Acl(r) => f.write_str(match r.direction {
                crate::acl::Direction::Input => NodeId::AclIn.name(),
                crate::acl::Direction::Output => NodeId::AclOut.name(),
            }),
            TraceRecord::Nat44Out2in(_) => f.write_str(NodeId::Nat44Out2in.name()),
            TraceRecord::Nat44In2out(r) if r.slow_path => {
                f.write_str(NodeId::Nat44In2outSlowpath.name())
            }
            TraceRecord::Nat44In2out(_) => f.write_str(NodeId::Nat44In2out.name()),
            TraceRecord::Nat44In2outOutput(r) if r.slow_path => {
                write!(f, "{}-slowpath", NodeId::Nat44In2outOutput.name())
            }
            TraceRecord::Nat44In2outOutput(_) => f.write_str(NodeId::Nat44In2outOutput.name()),
            TraceRecord::Output(r) => write!(f, "{}-output", r.interface),
            TraceRecord::Ip4Frag { .. } => f.write_str(NodeId::Ip4Frag.name()),
            TraceRecord::Drop(_) => f.write_str("error-drop"),
            TraceRecord::HandedOff { .. } => f.write_str("handoff_trace"),
        }
    }
}

impl fmt::Display for TraceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceRecord::Input(r) => r.fmt(f),
            TraceRecord::EthernetInput(r) => r.fmt(f),
            TraceRecord::Arp(r) => r.fmt(f),
            TraceRecord::Ip4Arp(r) | TraceRecord::Ip4Glean(r) => r.fmt(f),
            TraceRecord::Ip4Input(r) => r.fmt(f),
            TraceRecord::Ip4Lookup(r) => r.fmt(f),
            TraceRecord::Ip4Local(r) => r.fmt(f),
            TraceRecord::IcmpError(r) => r.fmt(f),
            TraceRecord::Ip4Rewrite(r) => r.fmt(f),
            // The policy engines print their lines unindented; VPP indents them by two.
            TraceRecord::Acl(r) => writeln!(f, "  {r}"),
            TraceRecord::Nat44Out2in(r) => writeln!(f, "  {r}"),
            TraceRecord::Nat44In2out(r) | TraceRecord::Nat44In2outOutput(r) => {
                writeln!(f, "  {r}")
            }
            TraceRecord::Output(r) => r.fmt(f),
            // VPP's line; its next is ip4-rewrite's index there (0), where the fragments
            // go on. Here they go to the interface directly.
            TraceRecord::Ip4Frag { mtu, fragments } => {
                writeln!(f, "  IPv4 mtu: {mtu} fragments: {fragments} next: 0")
            }
            TraceRecord::Drop(reason) => writeln!(
                f,
                "  {}: {}",
                reason.node,
                stages::drop_reason_text(*reason)
            ),
            TraceRecord::HandedOff { from_thread } => {
                writeln!(f, "  HANDED-OFF: from thread {from_thread}")
            }
        }
    }
}

/// One entry: when, and what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    pub time_ns: u64,
    pub record: TraceRecord,
}

impl fmt::Display for TraceEntry {
    /// `02:54:30:091783: ip4-input` and the record's lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.time_ns / 1_000;
        let secs = micros / 1_000_000;
        write!(
            f,
            "{:02}:{:02}:{:02}:{:06}: ",
            (secs / 3600) % 24,
            (secs / 60) % 60,
            secs % 60,
            micros % 1_000_000
        )?;
        self.record.write_node_name(f)?;
        writeln!(f)?;
        self.record.fmt(f)
    }
}

/// One traced packet's entries.
#[derive(Clone, Copy, Debug)]
pub struct TracedPacket {
    entries: [Option<TraceEntry>; MAX_ENTRIES],
    len: u8,
}

impl TracedPacket {
    const EMPTY: TracedPacket = TracedPacket {
        entries: [None; MAX_ENTRIES],
        len: 0,
    };

    pub fn entries(&self) -> impl Iterator<Item = &TraceEntry> {
        self.entries[..usize::from(self.len)].iter().flatten()
    }
}

/// A worker's trace buffer and what `trace add` asked for.
#[derive(Debug)]
pub struct TraceBuffer {
    /// Packets still to mark, per input kind (`dpdk-input` marks any kind).
    remaining: [u32; InputKind::ALL.len()],
    packets: Vec<TracedPacket>,
}

impl Default for TraceBuffer {
    fn default() -> Self {
        TraceBuffer::new()
    }
}

impl TraceBuffer {
    /// Allocates room for [`MAX_TRACED_PACKETS`] up front, so tracing never allocates.
    pub fn new() -> Self {
        TraceBuffer {
            remaining: [0; InputKind::ALL.len()],
            packets: Vec::with_capacity(MAX_TRACED_PACKETS),
        }
    }

    /// `trace add <input-node> N`: mark the next `count` packets received on inputs of
    /// that kind. An unknown node name is an error that lists the known ones.
    pub fn add(&mut self, input_node: &str, count: u32) -> Result<(), String> {
        let kind = InputKind::from_node_name(input_node).ok_or_else(|| {
            let known: Vec<&str> = InputKind::ALL.iter().map(|k| k.node_name()).collect();
            format!(
                "unknown input node '{input_node}' (known: {})",
                known.join(", ")
            )
        })?;
        let slot = &mut self.remaining[kind as usize];
        *slot = slot.saturating_add(count);
        Ok(())
    }

    /// Whether any packet may still be marked: the one branch per burst tracing costs
    /// when off. Not once the buffer is full, whatever `trace add` asked for (two adds
    /// may ask for more than it holds): a traced burst takes the stages, never
    /// ip4-flow-cache, and must not stay so until `clear trace`.
    pub fn armed(&self) -> bool {
        self.packets.len() < MAX_TRACED_PACKETS && self.remaining.iter().any(|&n| n != 0)
    }

    /// Marks a packet received on an input of `kind`, if `trace add` asked for one and
    /// there is room: its slot.
    pub fn mark(&mut self, kind: InputKind) -> Option<u16> {
        if self.packets.len() >= MAX_TRACED_PACKETS {
            return None;
        }
        let any = InputKind::Dpdk as usize;
        let which = if self.remaining[kind as usize] != 0 {
            kind as usize
        } else if self.remaining[any] != 0 {
            any
        } else {
            return None;
        };
        self.remaining[which] -= 1;
        let slot = self.packets.len() as u16;
        self.packets.push(TracedPacket::EMPTY);
        Some(slot)
    }

    /// Appends a record to a marked packet; past [`MAX_ENTRIES`] it is not kept.
    pub fn record(&mut self, slot: u16, time_ns: u64, record: TraceRecord) {
        if let Some(p) = self.packets.get_mut(usize::from(slot)) {
            if let Some(e) = p.entries.get_mut(usize::from(p.len)) {
                *e = Some(TraceEntry { time_ns, record });
                p.len += 1;
            }
        }
    }

    /// Appends `record` to packet `slot`'s trace, stamped as its last entry: for a node
    /// that runs on it after its burst's pass (ip4-frag's error-drop), when that pass's
    /// clock is gone.
    pub fn follow(&mut self, slot: u16, record: TraceRecord) {
        let last = self
            .packets
            .get(usize::from(slot))
            .and_then(|p| p.entries().last())
            .map(|e| e.time_ns);
        if let Some(time_ns) = last {
            self.record(slot, time_ns, record);
        }
    }

    pub fn packets(&self) -> &[TracedPacket] {
        &self.packets
    }

    /// `clear trace`: forget the packets and any marks still pending.
    pub fn clear(&mut self) {
        self.packets.clear();
        self.remaining = [0; InputKind::ALL.len()];
    }

    /// `show trace [max N]`: one block per packet.
    pub fn format(&self, max: usize) -> String {
        let mut out = String::new();
        if self.packets.is_empty() {
            out.push_str("No packets in trace buffer\n");
        }
        for (i, p) in self.packets.iter().take(max).enumerate() {
            use std::fmt::Write as _;
            let _ = writeln!(out, "Packet {}\n", i + 1);
            for e in p.entries() {
                let _ = write!(out, "{e}");
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec_frames;

    #[test]
    fn headers_print_as_the_spec() {
        let syn = spec_frames::syn();
        let text = Headers::capture(&syn[14..]).to_string();
        assert_eq!(
            text,
            "  TCP: 10.1.1.3 -> 10.104.221.85\n\
             \x20   tos 0x00, ttl 64, length 60, checksum 0xe946\n\
             \x20   fragment id 0x5eb4, flags DONT_FRAGMENT\n\
             \x20 TCP: 46310 -> 80\n\
             \x20   seq. 0xba5bf36d ack 0x00000000\n\
             \x20   flags 0x02 SYN, tcp header: 40 bytes\n\
             \x20   window 29200, checksum 0xd22d\n"
        );
        let syn_ack = spec_frames::syn_ack();
        let text = Headers::capture(&syn_ack[14..]).to_string();
        assert!(text.contains("    fragment id 0x0000, flags DONT_FRAGMENT\n"));
        assert!(text.contains("    flags 0x12 SYN ACK, tcp header: 40 bytes\n"));
        assert!(text.contains("    window 28960, checksum 0xdab4\n"));
    }

    #[test]
    fn capture_of_garbage_does_not_panic() {
        assert_eq!(Headers::capture(&[0x45; 7]).ip, None);
        let h = Headers::capture(&[0x4f; 20]);
        assert!(h.ip.is_some());
        assert_eq!(h.l4, L4Summary::None);
    }

    #[test]
    fn marks_only_what_was_asked_for() {
        let mut t = TraceBuffer::new();
        assert!(!t.armed());
        assert_eq!(t.mark(InputKind::Virtio), None);
        t.add("virtio-input", 1).unwrap();
        assert_eq!(t.mark(InputKind::VhostUser), None);
        assert_eq!(t.mark(InputKind::Virtio), Some(0));
        assert_eq!(t.mark(InputKind::Virtio), None);
        t.add("dpdk-input", 2).unwrap();
        assert_eq!(t.mark(InputKind::VhostUser), Some(1));
        assert_eq!(t.mark(InputKind::Pcap), Some(2));
        assert!(!t.armed());
        assert_eq!(
            t.add("foo-input", 1).unwrap_err(),
            "unknown input node 'foo-input' (known: virtio-input, \
             vhost-user-input, pcap-input, dpdk-input)"
        );
        t.clear();
        assert!(t.packets().is_empty());
        assert_eq!(t.format(10), "No packets in trace buffer\n");
    }

    /// Two adds may ask for more than the buffer holds: once it is full the trace is
    /// no longer armed (an armed trace keeps every burst off ip4-flow-cache), and is
    /// again after `clear trace` makes room.
    #[test]
    fn a_full_buffer_disarms_the_trace() {
        let mut t = TraceBuffer::new();
        t.add("dpdk-input", 1000).unwrap();
        t.add("dpdk-input", 1000).unwrap();
        for _ in 0..MAX_TRACED_PACKETS {
            assert!(t.armed());
            assert!(t.mark(InputKind::Pcap).is_some());
        }
        assert!(!t.armed());
        assert_eq!(t.mark(InputKind::Pcap), None);
        t.clear();
        assert!(
            !t.armed(),
            "clear trace also drops what was still asked for"
        );
    }

    #[test]
    fn entry_prints_timestamp_and_node() {
        let mut t = TraceBuffer::new();
        t.add("pcap-input", 1).unwrap();
        let slot = t.mark(InputKind::Pcap).unwrap();
        // 02:54:30.091783 after midnight.
        let ns = ((2 * 3600 + 54 * 60 + 30) * 1_000_000 + 91_783) * 1_000;
        t.record(
            slot,
            ns,
            TraceRecord::Input(InputRecord {
                kind: InputKind::Pcap,
                rx_if: IfIndex(1),
                queue: 0,
                interface: InlineName::new("pcap0"),
                len: 74,
            }),
        );
        assert_eq!(
            t.format(1),
            "Packet 1\n\n02:54:30:091783: pcap-input\n  pcap0: sw_if_index 1 len 74\n\n"
        );
    }

    #[test]
    fn virtio_entry_reads_like_vpps_virtio_input() {
        let record = InputRecord {
            kind: InputKind::Virtio,
            rx_if: IfIndex(6),
            queue: 1,
            interface: InlineName::new("tap2"),
            len: 74,
        };
        assert_eq!(
            record.to_string(),
            "  virtio: hw_if_index 6 next-index 4 vring 1 len 74\n    hdr: flags 0x00 \
             gso_type 0x00 hdr_len 0 gso_size 0 csum_start 0 csum_offset 0 num_buffers 1\n"
        );
    }
}
