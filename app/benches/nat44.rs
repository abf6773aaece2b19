//! NAT44 session-table benchmark: ns per session hit in both directions at 1k, 100k and
//! 1M sessions, new sessions per second (mapping and SNAT), bytes per session.
//!
//! `cargo bench -p podfwd-app --bench nat44`. Each hit is measured on a fresh copy of a
//! prebuilt packet (a translation rewrites it), so the copy alone is timed as the
//! baseline and subtracted.
//!
//! Hits are timed two ways:
//! - one engine call per packet, each waiting for its own cache misses;
//! - as the nat44-out2in / nat44-in2out stages run them: in bursts of 32 packets (the
//!   app's default `--burst`), with the stage's two warm-up passes first (every packet's
//!   lookup-cache bucket is asked for, then the session each bucket names), so that a
//!   burst's misses overlap. The prefetch is the app's, which is why this bench lives in
//!   the app; it also runs on the app's heap (tables on transparent huge pages), as
//!   podfwd's workers do.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use podfwd::nat44::session::Session;
use podfwd::nat44::{
    Nat44Config, Nat44Table, Nat44Worker, Nat44WorkerSizes, NatDirection, NatInterfaceRole,
    NatProtocol, NatVerdict, StaticMapping, TwiceNat, Warmed,
};
use podfwd::packet::TcpFlags;
use podfwd::pipeline::Prefetch;
use podfwd::rand::FastRng;
use podfwd::spec_frames::tcp_segment;
use podfwd::types::IfIndex;

#[global_allocator]
static HEAP: podfwd_app::dpdk::hugealloc::HugePageAlloc =
    podfwd_app::dpdk::hugealloc::HugePageAlloc;

const OUTSIDE: IfIndex = IfIndex(1);
const INSIDE: IfIndex = IfIndex(2);
const VIP: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 96, 0, 10), 80);
const ENDPOINT: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 1, 1, 5), 8080);
const PACKETS: usize = 8192;
/// The app's default RX burst.
const BURST: usize = 32;
/// Room for the bench's 60-byte packets.
const SCRATCH: usize = 64;

fn packet(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), flags: u8) -> Vec<u8> {
    tcp_segment(src, dst, flags, &[0u8; 6])
}

/// Client `i` of the benchmark: distinct (address, port) pairs.
fn client(i: u32) -> (Ipv4Addr, u16) {
    (
        Ipv4Addr::from(0x0b00_0000 + i / 50_000),
        10_000 + (i % 50_000) as u16,
    )
}

fn service_table() -> Nat44Table {
    let mut t = Nat44Table::new();
    t.add_static_mapping(StaticMapping {
        proto: NatProtocol::Tcp,
        local: (ENDPOINT.0, Some(ENDPOINT.1)),
        external: (VIP.0, Some(VIP.1)),
        twice_nat: TwiceNat::No,
        out2in_only: true,
    })
    .unwrap();
    let role = NatInterfaceRole {
        inside: true,
        outside: true,
        output_feature: false,
    };
    t.set_interface_role(
        OUTSIDE,
        NatInterfaceRole {
            outside: true,
            ..role
        },
        true,
    )
    .unwrap();
    t.set_interface_role(INSIDE, role, true).unwrap();
    t.add_addresses(
        Ipv4Addr::new(192, 168, 16, 1),
        Ipv4Addr::new(192, 168, 16, 17),
        false,
    )
    .unwrap();
    t.set_session_limit(4 << 20).unwrap();
    t
}

fn time_per_op(rounds: usize, packets: &[Vec<u8>], mut op: impl FnMut(&mut [u8])) -> f64 {
    let mut scratch = [0u8; 64];
    let start = Instant::now();
    for _ in 0..rounds {
        for p in packets {
            let buf = &mut scratch[..p.len()];
            buf.copy_from_slice(p);
            op(buf);
            black_box(&buf[..]);
        }
    }
    start.elapsed().as_nanos() as f64 / (rounds * packets.len()) as f64
}

/// ns per packet through the engine in bursts, as the stage runs it: the two warm-up
/// passes with `prefetch` (skipped when `warm` is false: the copy baseline), then one
/// engine call per packet in `direction`.
fn time_per_burst(
    rounds: usize,
    packets: &[Vec<u8>],
    w: &mut Nat44Worker,
    config: &Nat44Config,
    (direction, rx): (NatDirection, IfIndex),
    (warm, translate, prefetch): (bool, bool, Prefetch),
) -> f64 {
    let mut bufs = [[0u8; SCRATCH]; BURST];
    let mut hashes = [0u64; BURST];
    let start = Instant::now();
    for _ in 0..rounds {
        for chunk in packets.chunks(BURST) {
            for (buf, p) in bufs.iter_mut().zip(chunk) {
                buf[..p.len()].copy_from_slice(p);
            }
            if warm {
                for (slot, ((hash, buf), p)) in hashes.iter_mut().zip(&bufs).zip(chunk).enumerate()
                {
                    *hash = w
                        .prefetch_bucket(slot, direction, &buf[..p.len()], prefetch)
                        .unwrap_or(0);
                }
                for hash in &hashes[..chunk.len()] {
                    w.prefetch_session(direction, *hash, prefetch);
                }
            }
            if translate {
                for (slot, ((buf, p), &hash)) in bufs.iter_mut().zip(chunk).zip(&hashes).enumerate()
                {
                    let l3 = &mut buf[..p.len()];
                    // As the stage hands over what its first pass read.
                    let warmed = Some(Warmed { slot, hash });
                    match direction {
                        NatDirection::Out2in => {
                            black_box(w.out2in_warmed(config, rx, l3, 1, warmed));
                        }
                        NatDirection::In2out => {
                            let plain = |_| false;
                            black_box(w.in2out_routed(config, rx, l3, 1, &plain, warmed));
                        }
                    }
                }
            }
            black_box(&bufs);
        }
    }
    start.elapsed().as_nanos() as f64 / (rounds * packets.len()) as f64
}

/// This process's resident memory in bytes (VmRSS), if /proc says.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn hits(sessions: u32) {
    let table = service_table();
    let config = table.snapshot();
    let resident_before = resident_bytes();
    let mut w = Nat44Worker::new(
        0,
        1,
        Nat44WorkerSizes {
            sessions,
            affinities: 0,
        },
        1,
    );
    w.sync_config(&config);
    for i in 0..sessions {
        let mut p = packet(client(i), VIP, TcpFlags::SYN);
        assert!(matches!(
            w.out2in(&config, OUTSIDE, &mut p, 0).verdict,
            NatVerdict::Translated(_)
        ));
    }
    // The worker's tables, as the kernel counts them once every session is written.
    let resident = resident_before
        .zip(resident_bytes())
        .map(|(before, after)| after.saturating_sub(before));
    let mut rng = FastRng::new(42);
    let picks: Vec<u32> = (0..PACKETS).map(|_| rng.next_u32() % sessions).collect();
    let to_vip: Vec<Vec<u8>> = picks
        .iter()
        .map(|i| packet(client(*i), VIP, TcpFlags::ACK))
        .collect();
    let replies: Vec<Vec<u8>> = picks
        .iter()
        .map(|i| packet(ENDPOINT, client(*i), TcpFlags::ACK))
        .collect();
    let rounds = (4_000_000 / PACKETS).max(1);
    let baseline = time_per_op(rounds, &to_vip, |_| {});
    let out2in = time_per_op(rounds, &to_vip, |p| {
        black_box(w.out2in(&config, OUTSIDE, p, 1));
    });
    let in2out = time_per_op(rounds, &replies, |p| {
        black_box(w.in2out(&config, INSIDE, p, 1));
    });
    let classify_in2out = time_per_op(rounds, &replies, |p| {
        black_box(w.classify(&config, INSIDE, p));
        black_box(w.in2out(&config, INSIDE, p, 1));
    });
    let prefetch: Prefetch = podfwd_app::dpdk::prefetch;
    let outside = (NatDirection::Out2in, OUTSIDE);
    let inside = (NatDirection::In2out, INSIDE);
    let burst_baseline = time_per_burst(
        rounds,
        &to_vip,
        &mut w,
        &config,
        outside,
        (false, false, prefetch),
    );
    let burst_out2in = time_per_burst(
        rounds,
        &to_vip,
        &mut w,
        &config,
        outside,
        (true, true, prefetch),
    );
    let burst_in2out = time_per_burst(
        rounds,
        &replies,
        &mut w,
        &config,
        inside,
        (true, true, prefetch),
    );
    assert_eq!(w.session_count(), sessions);
    println!(
        "session hit, {sessions:>8} sessions: out2in {:6.1} ns, in2out {:6.1} ns, classify+in2out {:6.1} ns (copy baseline {:4.1} ns subtracted)",
        out2in - baseline,
        in2out - baseline,
        classify_in2out - baseline,
        baseline
    );
    println!(
        "  in bursts of {BURST}, warm-up passes with prefetch: out2in {:6.1} ns, in2out {:6.1} ns (copy baseline {:4.1} ns subtracted)",
        burst_out2in - burst_baseline,
        burst_in2out - burst_baseline,
        burst_baseline
    );
    if sessions == 1 << 20 {
        println!(
            "bytes per session at {sessions} slots: {:.1} (Session {} B + two index tables)",
            w.bytes_per_session(),
            std::mem::size_of::<Session>()
        );
        if let Some(resident) = resident {
            println!(
                "resident memory delta with {sessions} sessions: {:.1} MiB, {:.1} B per session",
                resident as f64 / (1u64 << 20) as f64,
                resident as f64 / f64::from(sessions)
            );
        }
    }
}

/// New sessions per second: `open` sends each packet of a fresh flow into a worker
/// sized for exactly `flows` sessions.
fn creation_rate(
    flows: u32,
    packets: &[Vec<u8>],
    mut open: impl FnMut(&mut Nat44Worker, &mut [u8]),
) -> f64 {
    let config = service_table().snapshot();
    let sizes = Nat44WorkerSizes {
        sessions: flows,
        affinities: 0,
    };
    let mut w = Nat44Worker::new(0, 1, sizes, 1);
    w.sync_config(&config);
    let mut scratch = [0u8; 64];
    let start = Instant::now();
    for p in packets {
        let buf = &mut scratch[..p.len()];
        buf.copy_from_slice(p);
        open(&mut w, buf);
    }
    let rate = f64::from(flows) / start.elapsed().as_secs_f64();
    assert_eq!(w.session_count(), flows);
    rate
}

fn connections_per_second(flows: u32) {
    let config = service_table().snapshot();
    let syns: Vec<Vec<u8>> = (0..flows)
        .map(|i| packet(client(i), VIP, TcpFlags::SYN))
        .collect();
    let mapping_cps = creation_rate(flows, &syns, |w, p| {
        black_box(w.out2in(&config, OUTSIDE, p, 0));
    });
    let server = (Ipv4Addr::new(31, 134, 97, 51), 80);
    let outgoing: Vec<Vec<u8>> = (0..flows)
        .map(|i| packet(client(i), server, TcpFlags::SYN))
        .collect();
    let snat_cps = creation_rate(flows, &outgoing, |w, p| {
        black_box(w.in2out_output(&config, INSIDE, p, 0));
    });
    println!(
        "new sessions, {flows} flows: mapping (out2in) {:.2} M/s, SNAT (in2out-output) {:.2} M/s (each includes a 60-byte packet copy)",
        mapping_cps / 1e6,
        snat_cps / 1e6
    );
}

fn main() {
    let mhz = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("cpu MHz"))
                .and_then(|l| l.split(':').nth(1))
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0);
    println!(
        "nat44 bench (cpu MHz {mhz:.0}; cycles = ns * {:.2})",
        mhz / 1000.0
    );
    // `-- small`: only the cache-resident case, for profiling the per-packet work.
    if std::env::args().any(|a| a == "small") {
        hits(1_000);
        return;
    }
    for sessions in [1_000, 100_000, 1 << 20] {
        hits(sessions);
    }
    connections_per_second(100_000);
    connections_per_second(1 << 20);
}
