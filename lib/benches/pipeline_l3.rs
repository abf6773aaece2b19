//! ns and cycles per packet for ethernet-input -> ip4-input -> ip4-lookup -> ip4-rewrite ->
//! interface-output on 256-packet bursts of the spec's SYN (valid TCP, routed via
//! 172.30.1.2 on tap0), against a baseline measured in the same run.
//!
//! `cargo bench -p podfwd --bench pipeline_l3`. Cycles are estimated from ns with the
//! TSC frequency in /proc/cpuinfo (2596 MHz on the reference machine): the library has no
//! rdtsc (the app lends it one), and Instant is the clock safe Rust has.

use podfwd::buffer::{PacketBuf, TestBuf};
use podfwd::config::{ControlPlane, RouteTarget};
use podfwd::node::InputKind;
use podfwd::pipeline::{Verdict, Worker};
use podfwd::spec_frames::*;
use podfwd::types::{IfIndex, Ipv4Prefix};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const BURST: usize = 256;

/// A cycle source as cheap as rdtsc, so the runtime counters cost what they cost in the app.
static TICKS: AtomicU64 = AtomicU64::new(0);
fn ticks() -> u64 {
    TICKS.fetch_add(1, Ordering::Relaxed)
}

fn tsc_mhz() -> f64 {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("cpu MHz"))
                .and_then(|l| l.split(':').nth(1))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(2596.0)
}

fn snapshot() -> podfwd::config::Snapshot {
    let mut cp = ControlPlane::new();
    let tap0 = cp
        .add_interface("tap0", "net_tap0", TAP0_MAC, InputKind::Virtio)
        .expect("tap0");
    cp.add_interface("tap2", "net_tap2", TAP2_MAC, InputKind::Virtio)
        .expect("tap2");
    cp.set_state("tap0", true).expect("up");
    cp.set_state("tap2", true).expect("up");
    cp.add_address(
        "tap0",
        Ipv4Prefix::new(Ipv4Addr::new(172, 30, 1, 1), 24).expect("p"),
    )
    .expect("address");
    cp.add_address(
        "tap2",
        Ipv4Prefix::new(Ipv4Addr::new(10, 1, 1, 1), 24).expect("p"),
    )
    .expect("address");
    cp.add_neighbor("tap0", HOST_NEXT_HOP, HOST_MAC, true)
        .expect("neighbor");
    cp.add_route(
        "10.96.0.0/12".parse().expect("prefix"),
        RouteTarget::Via {
            next_hop: HOST_NEXT_HOP,
            interface: Some(tap0),
        },
    )
    .expect("route");
    cp.snapshot()
}

/// Puts back what the pipeline rewrote (Ethernet header; TTL, protocol and checksum), as
/// a new rx burst would bring fresh frames. Only those bytes, so the baseline stays small.
fn reset(pkts: &mut [TestBuf], frame: &[u8]) {
    for p in pkts.iter_mut() {
        let data = p.data_mut();
        data[..14].copy_from_slice(&frame[..14]);
        data[22..26].copy_from_slice(&frame[22..26]);
    }
}

/// ns per packet of `f` over `rounds` bursts, best of 5 runs.
fn measure(rounds: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..rounds {
            f();
        }
        let ns = start.elapsed().as_nanos() as f64 / (rounds * BURST) as f64;
        best = best.min(ns);
    }
    best
}

fn main() {
    let snap = snapshot();
    let frame = syn();
    let tap2 = IfIndex(2);
    let mut pkts: Vec<TestBuf> = (0..BURST).map(|_| TestBuf::new(&frame)).collect();
    let mut worker = Worker::new(ticks);

    // Check once that the burst really is routed, so the numbers measure forwarding.
    let verdicts = worker.process(tap2, &mut pkts, &snap, 0);
    assert!(verdicts.iter().all(|v| *v == Verdict::Tx(IfIndex(1))));

    let rounds = 20_000;
    let baseline = measure(rounds, || {
        reset(&mut pkts, &frame);
        black_box(&mut pkts);
    });
    let full = measure(rounds, || {
        reset(&mut pkts, &frame);
        black_box(worker.process(tap2, &mut pkts, &snap, 0));
    });
    let mhz = tsc_mhz();
    let pipeline = full - baseline;
    println!(
        "pipeline_l3: 256-packet bursts of the spec's SYN, ethernet-input -> ip4-rewrite -> output"
    );
    println!("  baseline (frame reset only)   {baseline:7.2} ns/packet");
    println!("  reset + pipeline              {full:7.2} ns/packet");
    println!(
        "  pipeline                      {pipeline:7.2} ns/packet  ~{:.1} cycles/packet at {mhz:.0} MHz",
        pipeline * mhz / 1000.0
    );
    let totals = worker.counters().totals();
    println!("\nper node (Clocks = ticks of the bench's counter, not cycles):");
    print!("{}", totals.format_runtime());
}
