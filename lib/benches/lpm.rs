//! `ip4-lookup`'s table: build time and ns per lookup for 10, 10k and 1M prefixes, and
//! the control plane's cost of one route change on a 10k-route table.
//!
//! Run: `cargo bench -p podfwd --bench lpm`. Prints figures; asserts nothing about time.

use podfwd::rand::FastRng;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use podfwd::config::{ControlPlane, RouteTarget};
use podfwd::fib::{Adjacency, Fib, RouteSource};
use podfwd::node::InputKind;
use podfwd::types::{IfIndex, Ipv4Prefix, MacAddr};

/// Prefix lengths shaped like an Internet table with some host routes (a k8s node's pods):
/// 1% /8-/15, 9% /16-/21, 15% /22-/23, 72% /24, 3% /25-/32.
fn random_prefix(rng: &mut FastRng) -> Ipv4Prefix {
    let len = match rng.below(100) {
        0 => 8 + rng.below(8),
        1..=9 => 16 + rng.below(6),
        10..=24 => 22 + rng.below(2),
        25..=96 => 24,
        _ => 25 + rng.below(8),
    } as u8;
    Ipv4Prefix::new(Ipv4Addr::from_bits(rng.next_u64() as u32), len)
        .expect("length is at most 32")
        .network()
}

fn next_hop_adjacency(n: u64) -> Adjacency {
    let mac = MacAddr([0x02, 0, 0, 0, 0, n as u8]);
    Adjacency::Rewrite {
        tx_if: IfIndex(1 + (n % 4) as u16),
        next_hop: Ipv4Addr::new(192, 168, 0, n as u8),
        rewrite: Adjacency::ethernet_rewrite(mac, MacAddr([0x02, 0xfe, 0, 0, 0, 1])),
    }
}

fn per_op(elapsed: Duration, ops: usize) -> f64 {
    elapsed.as_nanos() as f64 / ops as f64
}

fn bench_table(count: usize, rng: &mut FastRng) {
    let prefixes: Vec<Ipv4Prefix> = (0..count).map(|_| random_prefix(rng)).collect();
    let routes: Vec<(Ipv4Prefix, RouteSource, Adjacency)> = prefixes
        .iter()
        .map(|p| (*p, RouteSource::Static, next_hop_adjacency(rng.below(16))))
        .collect();
    let started = Instant::now();
    let fib = Fib::build(routes, Vec::new());
    let build = started.elapsed();

    const LOOKUPS: usize = 4_000_000;
    let uniform: Vec<Ipv4Addr> = (0..1 << 20)
        .map(|_| Ipv4Addr::from_bits(rng.next_u64() as u32))
        .collect();
    // Destinations inside installed prefixes: these walk to the deepest level they need.
    let routed: Vec<Ipv4Addr> = (0..1 << 20)
        .map(|_| {
            let p = prefixes[rng.below(count as u64) as usize];
            let host_bits = !p.mask() & rng.next_u64() as u32;
            Ipv4Addr::from_bits(p.addr.to_bits() | host_bits)
        })
        .collect();

    // Baseline: the same loop reading the same addresses, without the lookup.
    let started = Instant::now();
    let mut sum = 0u32;
    for i in 0..LOOKUPS {
        sum = sum.wrapping_add(black_box(uniform[i & (uniform.len() - 1)]).to_bits());
    }
    black_box(sum);
    let baseline = per_op(started.elapsed(), LOOKUPS);

    let measure = |addresses: &[Ipv4Addr]| {
        let started = Instant::now();
        let mut sum = 0u32;
        for i in 0..LOOKUPS {
            sum = sum.wrapping_add(
                fib.lookup(black_box(addresses[i & (addresses.len() - 1)]))
                    .0,
            );
        }
        black_box(sum);
        per_op(started.elapsed(), LOOKUPS)
    };
    let uniform_ns = measure(&uniform);
    let routed_ns = measure(&routed);
    println!(
        "lpm {count:>8} prefixes ({:>7} installed): build {:>9.2} ms, table {:>6.1} MiB; \
         lookup {uniform_ns:>5.1} ns random dst, {routed_ns:>5.1} ns routed dst \
         (loop baseline {baseline:.1} ns)",
        fib.entries().len(),
        build.as_secs_f64() * 1e3,
        fib.table_bytes() as f64 / (1 << 20) as f64,
    );
}

/// One `ip route add` plus the snapshot it triggers, on a control plane holding 10k routes.
fn bench_route_changes(rng: &mut FastRng) {
    let mut cp = ControlPlane::new();
    for i in 0..4u8 {
        let name = format!("tap{i}");
        cp.add_interface(
            &name,
            &format!("net_tap{i}"),
            MacAddr([2, 0xfe, 0, 0, 0, i]),
            InputKind::Virtio,
        )
        .expect("fresh interface");
        cp.set_state(&name, true).expect("known interface");
        let address = Ipv4Prefix::new(Ipv4Addr::new(192, 168, i, 1), 24).expect("valid length");
        cp.add_address(&name, address).expect("free subnet");
        cp.add_neighbor(
            &name,
            Ipv4Addr::new(192, 168, i, 2),
            MacAddr([2, 0, 0, 0, 0, i]),
            true,
        )
        .expect("valid neighbour");
    }
    let target = |rng: &mut FastRng| {
        let i = rng.below(4) as u8;
        match rng.below(3) {
            0 => RouteTarget::Via {
                next_hop: Ipv4Addr::new(192, 168, i, 2),
                interface: Some(IfIndex(u16::from(i) + 1)),
            },
            1 => RouteTarget::Via {
                next_hop: Ipv4Addr::new(192, 168, i, 2),
                interface: None,
            },
            _ => RouteTarget::Via {
                next_hop: Ipv4Addr::new(192, 168, i, 7),
                interface: Some(IfIndex(u16::from(i) + 1)),
            },
        }
    };
    while cp.routes().count() < 10_000 {
        let p = random_prefix(rng);
        let t = target(rng);
        let _ = cp.add_route(p, t);
    }
    black_box(cp.snapshot());
    const CHANGES: usize = 1000;
    let started = Instant::now();
    let mut changed = 0;
    while changed < CHANGES {
        let p = random_prefix(rng);
        let t = target(rng);
        if cp.add_route(p, t).is_ok() {
            black_box(cp.snapshot());
            changed += 1;
        }
    }
    let elapsed = started.elapsed();
    println!(
        "control plane: {CHANGES} route changes, each with a new snapshot, on ~10k routes: \
         {:.2} s total, {:.2} ms per change",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / CHANGES as f64
    );
}

fn main() {
    let mut rng = FastRng::new(0x1b4_f00d);
    for count in [10, 10_000, 1_000_000] {
        bench_table(count, &mut rng);
    }
    bench_route_changes(&mut rng);
}
