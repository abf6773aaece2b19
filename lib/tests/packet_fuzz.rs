//! Mutated frames through two workers of a node with every feature on: the seed's
//! services and policy, a load-balanced UDP service with affinity, SNAT on an uplink
//! with an identity mapping, ICMP through all of it. Frames are drawn from templates of
//! the node's flows (requests, replies, ICMP errors quoting either, ARP, fragments, IP
//! options) and then mutated where the parsers decide things (lengths, header length,
//! data offset, fragment fields, ICMP type and code, the quoted header), with their
//! checksums made right again most of the time so that a mutation reaches the stages
//! behind ip4-input. Each packet goes to its owner as the app's worker handoff sends it
//! (later fragments where their first one went).
//!
//! What must hold, packet by packet: nothing panics; every packet gets one verdict; each
//! `Drop` is counted once, on the receiving interface and under a named reason, and
//! nothing else is; `show trace` and the session listings format whatever was traced or
//! made. `PODFWD_FUZZ_SEED=N` runs one seed, `PODFWD_FUZZ_BURSTS=N` sets the length.

use podfwd::buffer::{PacketBuf, TestBuf};
use podfwd::config::{ControlPlane, Snapshot};
use podfwd::control::{Control, NoHardware, WorkerQuestion};
use podfwd::counters::CounterTotals;
use podfwd::nat44::fragments::Datagrams;
use podfwd::node::{InputKind, NodeId};
use podfwd::pipeline::{Verdict, Worker, WorkerSizes};
use podfwd::rand::FastRng;
use podfwd::spec_frames::{HOST_MAC, HOST_NEXT_HOP, TAP0_MAC, TAP2_MAC};
use podfwd::stages::worker_handoff::owner_remembering;
use podfwd::types::{IfIndex, MacAddr};
use std::net::Ipv4Addr;

const SEED_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed-node.conf");
const SECOND_NS: u64 = 1_000_000_000;
const WORKERS: u16 = 2;
const UPLINK_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 3]);
const ROUTER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x22]);
const POD_MAC: MacAddr = MacAddr([0, 0, 0, 0, 0, 2]);

fn ticks() -> u64 {
    0
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

/// The node's interfaces as the test sends to them.
#[derive(Clone, Copy)]
struct Ports {
    tap2: IfIndex,
    tap0: IfIndex,
    uplink: IfIndex,
}

fn node() -> (Control, Ports) {
    let mut plane = ControlPlane::new();
    let mut add = |name: &str, device: &str, mac: MacAddr| {
        plane
            .add_interface(name, device, mac, InputKind::Virtio)
            .unwrap()
    };
    let tap2 = add("tap2", "net_tap0", MacAddr([2, 0, 0, 0, 0, 2]));
    let tap0 = add("tap0", "net_tap1", MacAddr([2, 0, 0, 0, 0, 1]));
    let uplink = add("uplink", "net_tap2", UPLINK_MAC);
    let mut control = Control::new(plane, Box::new(NoHardware));
    control.exec_file(SEED_CONF).unwrap();
    control.learn_neighbor(tap0, HOST_NEXT_HOP, HOST_MAC);
    for line in [
        "set interface state uplink up",
        "set interface ip address uplink 192.0.2.1/24",
        "set ip neighbor uplink 192.0.2.2 02:00:00:00:00:22 static",
        "ip route add 0.0.0.0/0 via 192.0.2.2 uplink",
        "ip route add 10.1.0.0/16 via 10.1.1.3 tap2",
        "ip route add 10.20.0.0/24 via 172.30.1.2 tap0",
        "set ip neighbor tap2 10.1.1.4 00:00:00:00:00:04 static",
        "nat44 add address 192.0.2.1",
        "nat44 add identity mapping 192.0.2.1 tcp 22",
        "nat44 add load-balancing static mapping protocol udp external 10.104.221.85:53 \
         local 10.20.0.2:5353 probability 80 local 10.20.0.3:5353 probability 20 affinity 30",
        "nat44 add static mapping local 10.20.0.3 external 10.104.221.90",
        "set interface nat44 in tap2",
        "set interface nat44 out uplink output-feature",
        "set interface mtu 1400 uplink",
        "set nat timeout udp 5",
        "set nat timeout icmp 5",
    ] {
        control
            .execute_line(line)
            .unwrap_or_else(|e| panic!("'{line}': {e}"));
    }
    (control, Ports { tap2, tap0, uplink })
}

/// The Internet checksum of `data` added to `sum`.
fn checksum(data: &[u8], mut sum: u32) -> u16 {
    for pair in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const GRE: u8 = 47;

/// An IPv4 packet (no Ethernet): header with `options`, then `l4` whose checksum (TCP,
/// UDP) or ICMP checksum is filled in.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, ttl: u8, options: &[u8], l4: &[u8]) -> Vec<u8> {
    let header_len = 20 + options.len();
    let total = header_len + l4.len();
    let mut p = vec![0u8; total];
    p[0] = 0x40 | (header_len / 4) as u8;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    p[6] = 0x40; // DF
    p[8] = ttl;
    p[9] = proto;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p[20..header_len].copy_from_slice(options);
    p[header_len..].copy_from_slice(l4);
    fix_l4(&mut p);
    fix_ip(&mut p);
    p
}

/// Recomputes the IPv4 header checksum of `p` (an IPv4 packet), as far as it has one.
fn fix_ip(p: &mut [u8]) {
    let Some(&first) = p.first() else { return };
    let header_len = (usize::from(first & 0x0f) * 4).min(p.len());
    if header_len < 20 {
        return;
    }
    p[10..12].fill(0);
    let sum = checksum(&p[..header_len], 0);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
}

/// Recomputes the TCP, UDP or ICMP checksum of `p` over what it holds (a quoted packet's
/// is left as it is: it is cut short).
fn fix_l4(p: &mut [u8]) {
    if p.len() < 20 {
        return;
    }
    let header_len = usize::from(p[0] & 0x0f) * 4;
    if header_len < 20 || header_len > p.len() {
        return;
    }
    let (proto, src, dst) = (
        p[9],
        [p[12], p[13], p[14], p[15]],
        [p[16], p[17], p[18], p[19]],
    );
    let l4 = &mut p[header_len..];
    let at = match proto {
        TCP => 16,
        UDP => 6,
        ICMP => 2,
        _ => return,
    };
    if l4.len() < at + 2 {
        return;
    }
    if proto == UDP && l4[6..8] == [0, 0] {
        return;
    }
    l4[at..at + 2].fill(0);
    let mut sum = 0u32;
    if proto != ICMP {
        for pair in src.chunks(2).chain(dst.chunks(2)) {
            sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
        }
        sum += u32::from(proto) + l4.len() as u32;
    }
    let c = checksum(l4, sum);
    let c = if proto == UDP && c == 0 { 0xffff } else { c };
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

fn tcp(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = vec![0u8; 20 + payload.len()];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&0x1000u32.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&0xffffu16.to_be_bytes());
    t[20..].copy_from_slice(payload);
    t
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0u8; 8 + payload.len()];
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&dport.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u[6] = 1; // any non-zero checksum, filled in by fix_l4
    u[8..].copy_from_slice(payload);
    u
}

fn icmp(kind: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    m
}

fn ethernet(dst: MacAddr, src: MacAddr, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn arp(op: u16, sender: (MacAddr, Ipv4Addr), target: (MacAddr, Ipv4Addr)) -> Vec<u8> {
    let mut a = vec![0, 1, 8, 0, 6, 4];
    a.extend_from_slice(&op.to_be_bytes());
    a.extend_from_slice(&sender.0 .0);
    a.extend_from_slice(&sender.1.octets());
    a.extend_from_slice(&target.0 .0);
    a.extend_from_slice(&target.1.octets());
    a
}

/// A flow's endpoints on the wire, as one side sends them.
type Ends = ((Ipv4Addr, u16), (Ipv4Addr, u16));

fn pick<T: Copy>(rng: &mut FastRng, items: &[T]) -> T {
    items[rng.below(items.len() as u64) as usize]
}

/// The L4 part of a packet between `ends`: TCP, UDP, or an ICMP echo (the first port
/// as its identifier). TCP flags of a `clean` packet are mostly a connection's middle.
fn l4(rng: &mut FastRng, proto: u8, ends: Ends, reply: bool, clean: bool) -> Vec<u8> {
    let payload_len = match rng.below(10) {
        0 => 1380 + rng.below(60) as usize,
        _ => rng.below(40) as usize,
    };
    let payload = vec![0xa5; payload_len];
    let ((_, sport), (_, dport)) = ends;
    match proto {
        TCP => tcp(
            sport,
            dport,
            match clean {
                true => pick(
                    rng,
                    &[0x02, 0x12, 0x10, 0x18, 0x10, 0x18, 0x10, 0x18, 0x11, 0x04],
                ),
                false => pick(rng, &[0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x10, 0x10]),
            },
            &payload,
        ),
        UDP => udp(sport, dport, &payload),
        GRE => vec![0, 0, 0x08, 0, 0, 0, 0, 1],
        _ => {
            let id = if reply { dport } else { sport };
            icmp(
                if reply { 0 } else { 8 },
                0,
                [(id >> 8) as u8, id as u8, 0, 1],
                &payload,
            )
        }
    }
}

/// An ICMP error from `from` to `ends`'s source about a packet `about` had sent it:
/// the quoted header and the first 8 bytes of its L4 (or all of it).
fn icmp_error(rng: &mut FastRng, from: Ipv4Addr, to: Ipv4Addr, quoted: &[u8]) -> Vec<u8> {
    let keep = match rng.below(3) {
        0 => quoted.len(),
        _ => quoted.len().min(usize::from(quoted[0] & 0x0f) * 4 + 8),
    };
    let (kind, code) = pick(rng, &[(3, 3), (3, 1), (3, 4), (11, 0), (12, 0), (3, 13)]);
    let rest = if kind == 3 && code == 4 {
        [0, 0, 5, 0xdc]
    } else {
        [0; 4]
    };
    ipv4(
        from,
        to,
        ICMP,
        64,
        &[],
        &icmp(kind, code, rest, &quoted[..keep]),
    )
}

/// One frame of the node's traffic, unmutated: on which interface, and its bytes. A
/// `clean` one is TCP or UDP with no IP options, a TTL of 64, to the interface's MAC.
fn template(rng: &mut FastRng, ports: Ports, clean: bool) -> (IfIndex, Vec<u8>) {
    let clients = [ip(10, 1, 1, 3), ip(10, 1, 1, 4), ip(10, 1, 1, 254)];
    let client = (pick(rng, &clients), 1000 + rng.below(6) as u16);
    let proto = match clean {
        true => pick(rng, &[TCP, TCP, UDP]),
        false => pick(rng, &[TCP, TCP, TCP, UDP, UDP, ICMP, ICMP, GRE]),
    };
    let ttl = match clean {
        true => 64,
        false => pick(rng, &[64, 64, 64, 64, 2, 1, 0, 255]),
    };
    let options: &[u8] = match (clean, rng.below(12)) {
        (false, 0) => &[1, 1, 1, 0],             // NOP NOP NOP EOL
        (false, 1) => &[0x94, 4, 0, 0],          // router alert
        (false, 2) => &[7, 7, 4, 0, 0, 0, 0, 0], // record route
        _ => &[],
    };
    let service = match proto {
        TCP => pick(
            rng,
            &[(ip(10, 104, 221, 85), 80), (ip(10, 104, 221, 90), 8080)],
        ),
        UDP => (ip(10, 104, 221, 85), 53),
        _ => (pick(rng, &[ip(10, 104, 221, 85), ip(10, 104, 221, 90)]), 0),
    };
    let endpoint = match proto {
        UDP => (pick(rng, &[ip(10, 20, 0, 2), ip(10, 20, 0, 3)]), 5353),
        _ => (pick(rng, &[ip(10, 20, 0, 2), ip(10, 20, 0, 3)]), 8080),
    };
    let internet = (ip(198, 51, 100, 7), 443);
    let snat = (ip(192, 0, 2, 1), 1024 + rng.below(64512) as u16);
    let (rx, packet, dst_mac, src_mac) = match rng.below(if clean { 5 } else { 9 }) {
        // From a pod: to a service, an endpoint, the Internet, the node.
        0 | 1 => {
            let dst = match clean {
                // A clean burst's requests go to the services, whose flows the cache
                // learns (not those leaving by the output-feature uplink).
                true => service,
                false => pick(
                    rng,
                    &[service, service, endpoint, internet, (ip(10, 1, 1, 1), 22)],
                ),
            };
            let ends = (client, dst);
            let l4 = l4(rng, proto, ends, false, clean);
            let p = ipv4(client.0, dst.0, proto, ttl, options, &l4);
            (ports.tap2, p, TAP2_MAC, POD_MAC)
        }
        // From the host stack: an endpoint's reply, to a client or the twice-NAT pool.
        2 | 3 => {
            let ends = (endpoint, client);
            let l4 = l4(rng, proto, ends, true, clean);
            let p = ipv4(endpoint.0, client.0, proto, ttl, options, &l4);
            (ports.tap0, p, TAP0_MAC, HOST_MAC)
        }
        // From the Internet: a reply to SNAT, to the identity mapping's port, or a pod.
        4 => {
            // Or straight to a pod, which no mapping translates (a forwarding bypass).
            let to = pick(
                rng,
                &[
                    snat,
                    (ip(192, 0, 2, 1), 22),
                    (ip(192, 0, 2, 1), 1024),
                    client,
                ],
            );
            let l4 = l4(rng, proto, (internet, to), true, clean);
            let p = ipv4(internet.0, to.0, proto, ttl, options, &l4);
            (ports.uplink, p, UPLINK_MAC, ROUTER_MAC)
        }
        // ICMP errors about a request or a reply, from where it went.
        5 => {
            let quoted_ends = pick(rng, &[(client, endpoint), (client, service)]);
            let l4 = l4(rng, proto, quoted_ends, false, clean);
            let quoted = ipv4(quoted_ends.0 .0, quoted_ends.1 .0, proto, 63, options, &l4);
            let p = icmp_error(rng, HOST_NEXT_HOP, client.0, &quoted);
            (ports.tap0, p, TAP0_MAC, HOST_MAC)
        }
        6 => {
            let quoted_ends = pick(rng, &[(service, client), (endpoint, client)]);
            let l4 = l4(rng, proto, quoted_ends, true, clean);
            let quoted = ipv4(quoted_ends.0 .0, quoted_ends.1 .0, proto, 63, &[], &l4);
            let p = icmp_error(rng, client.0, quoted_ends.0 .0, &quoted);
            (ports.tap2, p, TAP2_MAC, POD_MAC)
        }
        7 => {
            let l4 = l4(rng, proto, (snat, internet), false, clean);
            let quoted = ipv4(snat.0, internet.0, proto, 60, &[], &l4);
            let p = icmp_error(rng, ip(203, 0, 113, 9), snat.0, &quoted);
            (ports.uplink, p, UPLINK_MAC, ROUTER_MAC)
        }
        // ARP, asked and answered, on any interface.
        _ => {
            let (rx, mac, peer, ours) = pick(
                rng,
                &[
                    (ports.tap0, TAP0_MAC, HOST_NEXT_HOP, ip(172, 30, 1, 1)),
                    (ports.uplink, UPLINK_MAC, ip(192, 0, 2, 2), ip(192, 0, 2, 1)),
                    (ports.tap2, TAP2_MAC, ip(10, 1, 1, 3), ip(10, 1, 1, 1)),
                ],
            );
            let op = 1 + rng.below(2) as u16;
            let a = arp(op, (HOST_MAC, peer), (mac, ours));
            let dst = if op == 1 { MacAddr([0xff; 6]) } else { mac };
            return (rx, ethernet(dst, HOST_MAC, 0x0806, &a));
        }
    };
    let dst_mac = match (clean, rng.below(30)) {
        (false, 0) => MacAddr([0xff; 6]),
        (false, 1) => MacAddr([0x01, 0, 0x5e, 0, 0, 1]),
        _ => dst_mac,
    };
    (rx, ethernet(dst_mac, src_mac, 0x0800, &packet))
}

/// Where the IPv4 header of `frame` starts, and its L4.
fn l4_at(frame: &[u8]) -> usize {
    14 + frame.get(14).map_or(20, |b| usize::from(b & 0x0f) * 4)
}

/// Changes `frame` where a parser decides something, then (mostly) makes its checksums
/// right again so that the change reaches past ip4-input.
fn mutate(rng: &mut FastRng, frame: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
        let len = frame.len() as u64;
        if len == 0 {
            break;
        }
        let l4 = l4_at(frame);
        match rng.below(14) {
            0 => {
                let at = rng.below(len.min(80)) as usize;
                frame[at] ^= 1 << rng.below(8);
            }
            1 => {
                let at = rng.below(len) as usize;
                frame[at] = pick(rng, &[0, 1, 0x7f, 0x80, 0xff, 0x45, 0x0f]);
            }
            2 => frame.truncate(rng.below(len) as usize),
            3 => frame.extend((0..rng.below(64)).map(|_| rng.below(256) as u8)),
            // The version and header length.
            4 if len > 14 => {
                frame[14] = pick(rng, &[0x40, 0x44, 0x45, 0x46, 0x4f, 0x4c, 0x55, 0x60])
            }
            // The total length.
            5 if len > 17 => {
                let total = pick(rng, &[0, 19, 20, 21, 28, 40, 1499, 1500, 0xffff]);
                let total = if rng.below(2) == 0 {
                    total
                } else {
                    (len - 14) as u16 ^ 1
                };
                frame[16..18].copy_from_slice(&total.to_be_bytes());
            }
            // Fragments: more to come, an offset, or both.
            6 if len > 21 => {
                let frag: u16 = pick(rng, &[0x2000, 0x0001, 0x2001, 0x1fff, 0x4000, 0x8000]);
                frame[20..22].copy_from_slice(&frag.to_be_bytes());
            }
            // TCP's data offset, UDP's length, ICMP's type and code.
            7 if frame.len() > l4 + 14 => {
                frame[l4 + 12] = pick(rng, &[0x00, 0x40, 0x50, 0x60, 0xf0]);
            }
            8 if frame.len() > l4 + 6 => {
                let udp_len = pick(rng, &[0u16, 7, 8, 9, 0xffff]);
                frame[l4 + 4..l4 + 6].copy_from_slice(&udp_len.to_be_bytes());
            }
            9 if frame.len() > l4 + 2 => {
                frame[l4] = pick(rng, &[0, 3, 4, 5, 8, 11, 12, 13, 14, 255]);
                frame[l4 + 1] = rng.below(16) as u8;
            }
            // The protocol.
            10 if len > 23 => frame[23] = pick(rng, &[0, ICMP, TCP, UDP, 47, 255]),
            // Inside an ICMP error's quoted packet (8 bytes in).
            11 | 12 if frame.len() > l4 + 8 => {
                let inner = l4 + 8;
                let at = inner + rng.below((frame.len() - inner).min(36) as u64) as usize;
                let values = [
                    0, 1, 0x40, 0x45, 0x4f, 0x65, 0x80, 0xff, TCP, UDP, ICMP, GRE, 50,
                ];
                frame[at] = pick(rng, &values);
            }
            _ => {
                let at = rng.below(len) as usize;
                frame[at] = rng.below(256) as u8;
            }
        }
    }
    if frame.len() > 14 && rng.below(10) < 7 {
        if rng.below(2) == 0 {
            // The quoted packet's own header checksum, where there is one.
            let inner = l4_at(frame) + 8;
            if frame.len() > inner + 20 {
                fix_ip(&mut frame[inner..]);
            }
        }
        fix_ip(&mut frame[14..]);
    }
}

/// The counters of both workers, summed.
fn totals(workers: &[Worker]) -> CounterTotals {
    let counters: Vec<_> = workers.iter().map(|w| w.counters()).collect();
    CounterTotals::sum(counters.iter().map(|c| &**c))
}

/// `show errors` as (node and reason, count).
fn errors(t: &CounterTotals) -> std::collections::HashMap<String, u64> {
    t.format_errors(podfwd::stages::drop_reason_text)
        .lines()
        .skip(1)
        .filter_map(|line| {
            let line = line.trim_start();
            let (count, rest) = line.split_once(char::is_whitespace)?;
            Some((rest.trim().to_string(), count.parse().ok()?))
        })
        .collect()
}

fn ask(worker: &mut Worker, question: WorkerQuestion, snapshot: &Snapshot, now: u64) -> String {
    worker
        .answer(question, snapshot, now)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn run(seed: u64, bursts: usize) {
    let (control, ports) = node();
    let snapshot = control.snapshot();
    let build = |cache: bool| -> Vec<Worker> {
        (0..WORKERS)
            .map(|index| {
                let sizes = WorkerSizes {
                    index,
                    count: WORKERS,
                    ..WorkerSizes::default()
                };
                let mut w = Worker::with_sizes(ticks, sizes);
                w.set_flow_cache(cache);
                w.adopt(&snapshot);
                w
            })
            .collect()
    };
    // The same workers without ip4-flow-cache take every packet through the stages: both
    // must send the same bytes, drop the same packets and hold the same sessions.
    let (mut workers, mut plain) = (build(true), build(false));
    // Each receiving worker's memory of where first fragments went.
    let mut placers: Vec<Datagrams<u16>> = (0..WORKERS).map(|_| Datagrams::default()).collect();
    let mut rng = FastRng::new(seed);
    let mut now = 1_000 * SECOND_NS;
    let (mut sent, mut dropped, mut traced) = (0u64, 0u64, 0usize);
    let mut fragmented = 0u64;
    for step in 0..bursts {
        now += pick(&mut rng, &[0, 1_000, 1_000_000, 300_000_000, 2 * SECOND_NS]);
        // Trace what the next bursts bring, and format what the last ones left.
        if step % 97 == 0 {
            for w in workers.iter_mut().chain(plain.iter_mut()) {
                let shown = ask(w, WorkerQuestion::ShowTrace { max: 50 }, &snapshot, now);
                traced += shown.matches("Packet ").count();
                ask(w, WorkerQuestion::ClearTrace, &snapshot, now);
                let input = InputKind::Virtio;
                let add = WorkerQuestion::TraceAdd { input, count: 50 };
                ask(w, add, &snapshot, now);
            }
        }
        if step % 211 == 0 {
            for w in workers.iter_mut() {
                ask(
                    w,
                    WorkerQuestion::NatSessions { detail: true },
                    &snapshot,
                    now,
                );
                ask(w, WorkerQuestion::AclSessions { one: None }, &snapshot, now);
                ask(w, WorkerQuestion::NatAddresses, &snapshot, now);
                ask(w, WorkerQuestion::FlowCache, &snapshot, now);
            }
        }
        // One burst received by one worker, from one interface; each packet goes to its
        // owner, which processes it as received there.
        let receiver = rng.below(u64::from(WORKERS)) as u16;
        let (rx, _) = template(&mut rng, ports, false);
        let count = 1 + rng.below(32) as usize;
        // Half the bursts unmutated, so that flows get established and their
        // packets reach ip4-flow-cache's forwarding.
        let mutating = rng.below(2) != 0;
        let mut frames = Vec::with_capacity(count);
        while frames.len() < count {
            let (from, mut frame) = template(&mut rng, ports, !mutating);
            if from != rx {
                continue;
            }
            if mutating && rng.below(10) < 6 {
                mutate(&mut rng, &mut frame);
            }
            frames.push(frame);
        }
        let placer = &mut placers[usize::from(receiver)];
        let second = (now / SECOND_NS) as u32;
        let owners: Vec<u16> = frames
            .iter()
            .map(|f| {
                owner_remembering(&snapshot.nat, f, WORKERS, placer, second).unwrap_or(receiver)
            })
            .collect();
        for owner_index in 0..WORKERS {
            let mine: Vec<&Vec<u8>> = frames
                .iter()
                .zip(&owners)
                .filter(|(_, o)| **o == owner_index)
                .map(|(f, _)| f)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let before = totals(&workers);
            let w = &mut workers[usize::from(owner_index)];
            w.set_handed_from((owner_index != receiver).then_some(receiver));
            let mut pkts: Vec<TestBuf> = mine.iter().map(|f| TestBuf::new(f)).collect();
            let verdicts = w.process(rx, &mut pkts, &snapshot, now).to_vec();
            w.set_handed_from(None);
            let twin = &mut plain[usize::from(owner_index)];
            twin.set_handed_from((owner_index != receiver).then_some(receiver));
            let mut twin_pkts: Vec<TestBuf> = mine.iter().map(|f| TestBuf::new(f)).collect();
            let twin_verdicts = twin.process(rx, &mut twin_pkts, &snapshot, now).to_vec();
            twin.set_handed_from(None);
            let history = || {
                mine.iter()
                    .map(|f| f.iter().map(|b| format!("{b:02x}")).collect::<String>())
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(verdicts.len(), mine.len(), "seed {seed} step {step}");
            let bytes = |p: &[TestBuf]| p.iter().map(|b| b.data().to_vec()).collect::<Vec<_>>();
            assert!(
                verdicts == twin_verdicts && bytes(&pkts) == bytes(&twin_pkts),
                "seed {seed} step {step}: with and without ip4-flow-cache differ: \
                 {verdicts:?} against {twin_verdicts:?}; the burst:\n{}",
                history()
            );
            let drops = verdicts.iter().filter(|v| **v == Verdict::Drop).count() as u64;
            let after = totals(&workers);
            let (was, is) = (errors(&before), errors(&after));
            let delta = |pick: &dyn Fn(&str) -> bool| -> u64 {
                is.iter()
                    .filter(|(reason, _)| pick(reason))
                    .map(|(reason, n)| n - was.get(reason).copied().unwrap_or(0))
                    .sum()
            };
            // Counted beside a packet sent: an ARP reply or request, an ICMP error. The
            // ARP request's buffer was a packet the interface counts as dropped (VPP's
            // ip4-glean and ip4-arp drop it and send a request).
            let all = delta(&|_| true);
            let sent_beside = delta(&|r| r.contains(" sent"));
            let requests = delta(&|r| r.ends_with("ARP requests sent"));
            let on_rx = after.interface(rx).drops - before.interface(rx).drops;
            // show runtime's error-drop adds up with show interface's drops.
            let error_drop = |t: &CounterTotals| t.runtime[NodeId::ErrorDrop.index()].vectors;
            assert_eq!(
                error_drop(&after) - error_drop(&before),
                on_rx,
                "seed {seed} step {step}: error-drop against {rx:?}'s drops; the burst:\n{}",
                history()
            );
            assert!(
                all == drops + sent_beside && on_rx == drops + requests,
                "seed {seed} step {step}: {drops} dropped, {all} counted under reasons \
                 ({sent_beside} of them beside a packet sent), {on_rx} on the interface \
                 ({requests} ARP requests); verdicts {verdicts:?}\nerrors before:\n{}\n\
                 after:\n{}\nthe burst:\n{}",
                before.format_errors(podfwd::stages::drop_reason_text),
                after.format_errors(podfwd::stages::drop_reason_text),
                history()
            );
            sent += verdicts.len() as u64 - drops;
            dropped += drops;
            // What ip4-frag cuts goes back together as the datagram it was, each piece
            // a valid header within the MTU.
            for (index, (pkt, verdict)) in pkts.iter().zip(&verdicts).enumerate() {
                let Verdict::Fragment(tx) = *verdict else {
                    continue;
                };
                let mtu = snapshot.interface(tx).map_or(0, |i| usize::from(i.mtu));
                let mut pieces = Vec::new();
                let w = &mut workers[usize::from(owner_index)];
                w.fragment(
                    rx,
                    index,
                    pkt,
                    tx,
                    &snapshot,
                    || Some(TestBuf::new(&[])),
                    |b| pieces.push(b.data().to_vec()),
                );
                if pieces.is_empty() {
                    continue; // Counted as a drop (a header it cannot cut).
                }
                fragmented += 1;
                let datagram = &pkt.data()[14..];
                let header_len = usize::from(datagram[0] & 0x0f) * 4;
                let total = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
                let mut payload = Vec::new();
                for piece in &pieces {
                    assert!(
                        piece.len() - 14 <= mtu,
                        "seed {seed} step {step}: over the MTU"
                    );
                    assert_eq!(&piece[..14], &pkt.data()[..14], "seed {seed} step {step}");
                    let header = &piece[14..];
                    let len = usize::from(header[0] & 0x0f) * 4;
                    assert_eq!(checksum(&header[..len], 0), 0, "seed {seed} step {step}");
                    payload.extend_from_slice(&header[len..]);
                }
                assert_eq!(
                    payload,
                    datagram[header_len..total],
                    "seed {seed} step {step}: the fragments' payloads"
                );
            }
        }
    }
    if std::env::var_os("PODFWD_FUZZ_ERRORS").is_some() {
        let t = totals(&workers);
        eprintln!("{}", t.format_errors(podfwd::stages::drop_reason_text));
        eprintln!("{}", t.format_runtime());
    }
    let cache_hits: u64 = workers.iter().map(|w| w.flow_cache().stats().hits).sum();
    let mut sessions = 0;
    for (w, twin) in workers.iter_mut().zip(plain.iter_mut()) {
        for question in [
            WorkerQuestion::NatSessions { detail: true },
            WorkerQuestion::AclSessions { one: None },
        ] {
            let shown = ask(w, question.clone(), &snapshot, now);
            assert_eq!(
                shown,
                ask(twin, question, &snapshot, now),
                "seed {seed}: sessions with and without ip4-flow-cache"
            );
            sessions += shown.matches("i2o").count();
        }
        ask(w, WorkerQuestion::ShowTrace { max: 1000 }, &snapshot, now);
    }
    eprintln!(
        "seed {seed}: {sent} packets sent ({cache_hits} by ip4-flow-cache, {fragmented} as \
         fragments), {dropped} dropped, {traced} traced, {sessions} NAT44 sessions listed at \
         the end"
    );
    // So that the run cannot pass by doing nothing: some packets through, some from the
    // flow cache, some as fragments, some dropped, some traced.
    assert!(
        sent > bursts as u64
            && cache_hits > 0
            && fragmented > 0
            && dropped > bursts as u64 / 4
            && traced > 0,
        "seed {seed}: the run did too little to show anything"
    );
}

#[test]
fn mutated_frames_are_forwarded_or_dropped_and_counted() {
    let bursts = std::env::var("PODFWD_FUZZ_BURSTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    match std::env::var("PODFWD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => run(seed, bursts),
        None => {
            for seed in 1..=4 {
                run(seed, bursts);
            }
        }
    }
}
