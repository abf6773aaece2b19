//! ACL session hits (issue 5's "a session hit costs <= 25 cycles") measured two ways, at
//! 64, 4096 and 100k live sessions in a table sized for the default 500k limit:
//! - one `AclWorker::classify` call per packet, each waiting for its own cache misses
//!   (the call `cargo bench -p podfwd --bench acl` times, there on the system heap over
//!   replies taken in turn, here on the app's heap over replies drawn at random);
//! - as acl-plugin-in-ip4-fa and acl-plugin-out-ip4-fa run them: in bursts of 32 (the
//!   app's default `--burst`), a first pass that parses each packet and asks for its
//!   bucket (`warm_up`), a second that asks for the session the bucket names
//!   (`prefetch_session`), then the verdicts (`classify_parsed`), so that a burst's
//!   misses overlap.
//!
//! `cargo bench -p podfwd-app --bench acl_sessions`. It lives in the app for the app's
//! prefetch (safe library code cannot express one) and heap (huge pages), as podfwd's
//! workers have them. The loops' own cost is timed in the same run and subtracted: for
//! the bursts, the passes over an interface without ACLs (no parse); for one at a time,
//! the loop parsing each packet, so that its figure is the lookup alone (hash included),
//! as the library's acl bench times it. The stage's first pass parses, so the burst
//! figure includes the parse. The TSC rate it prints turns ns into cycles.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use podfwd::acl::{AclAction, AclConfig, AclPacketInfo, AclRule, AclTable, AclWorker, Direction};
use podfwd::packet::TcpFlags;
use podfwd::pipeline::Prefetch;
use podfwd::rand::FastRng;
use podfwd::spec_frames::tcp_segment;
use podfwd::types::IfIndex;

#[global_allocator]
static HEAP: podfwd_app::dpdk::hugealloc::HugePageAlloc =
    podfwd_app::dpdk::hugealloc::HugePageAlloc;

const POD: IfIndex = IfIndex(6);
/// The app's default RX burst.
const BURST: usize = 32;
/// Replies per timed round, drawn at random over the live sessions.
const PACKETS: usize = 8192;
const SERVER: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 20, 0, 2), 8080);

/// Client `i`: distinct (address, port) pairs.
fn client(i: u32) -> (Ipv4Addr, u16) {
    (
        Ipv4Addr::from(0x0a01_0000 + i / 50_000),
        10_000 + (i % 50_000) as u16,
    )
}

/// The config with a reflective ACL on the pod interface's input (the table at its
/// default limit), or with no ACL at all.
fn config(reflect: bool) -> AclConfig {
    let mut table = AclTable::new();
    if reflect {
        let acl = table
            .create(vec![AclRule::any(AclAction::PermitReflect)], "reflect")
            .expect("one permit+reflect rule");
        table
            .set_interface_acl(POD, Direction::Input, acl, false)
            .expect("the ACL exists");
    }
    table.build()
}

/// ns per reply over `rounds` passes of `replies`: each parsed, then (`classify`) one
/// classify call, which must be a session hit; without, the parse alone (the baseline).
fn one_at_a_time(
    rounds: usize,
    replies: &[Vec<u8>],
    worker: &mut AclWorker,
    config: &AclConfig,
    classify: bool,
) -> f64 {
    let start = Instant::now();
    let mut hits = 0usize;
    for _ in 0..rounds {
        for p in replies {
            // Parsed here as the stage parses each packet, so that both ways do the same.
            let Some(p) = AclPacketInfo::from_ipv4_bytes(black_box(p)) else {
                continue;
            };
            if classify {
                let verdict = worker.classify(config, POD, Direction::Output, &p, 1);
                hits += usize::from(verdict.action == 3);
            } else {
                black_box(p);
            }
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / (rounds * replies.len()) as f64;
    if classify {
        assert_eq!(hits, rounds * replies.len(), "every reply is a session hit");
    }
    ns
}

/// ns per reply through the stage's three passes, in bursts; also the hits it counted.
fn in_bursts(
    rounds: usize,
    replies: &[Vec<u8>],
    worker: &mut AclWorker,
    config: &AclConfig,
    prefetch: Prefetch,
) -> (f64, usize) {
    let mut hashes = [0u64; BURST];
    let mut hits = 0usize;
    let start = Instant::now();
    for _ in 0..rounds {
        for chunk in replies.chunks(BURST) {
            for (slot, (hash, p)) in hashes.iter_mut().zip(chunk).enumerate() {
                *hash = worker.warm_up(
                    config,
                    slot,
                    POD,
                    Direction::Output,
                    Some(black_box(p)),
                    prefetch,
                );
            }
            for &hash in &hashes[..chunk.len()] {
                if hash != 0 {
                    worker.prefetch_session(hash, prefetch);
                }
            }
            for (slot, &hash) in hashes[..chunk.len()].iter().enumerate() {
                let verdict = worker.classify_parsed(config, POD, Direction::Output, slot, hash, 1);
                hits += usize::from(verdict.is_some_and(|v| v.action == 3));
            }
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / (rounds * replies.len()) as f64;
    (ns, hits)
}

fn hits(sessions: u32, tsc_ghz: f64) {
    let reflect = config(true);
    let none = config(false);
    let mut worker = AclWorker::new(&reflect);
    for i in 0..sessions {
        let request = tcp_segment(client(i), SERVER, TcpFlags::SYN | TcpFlags::ACK, &[]);
        let request = AclPacketInfo::from_ipv4_bytes(&request).expect("a TCP segment");
        let verdict = worker.classify(&reflect, POD, Direction::Input, &request, 0);
        assert_eq!(verdict.action, 2, "the request creates its session");
    }
    assert_eq!(worker.session_count(), sessions as usize);
    let mut rng = FastRng::new(5);
    let replies: Vec<Vec<u8>> = (0..PACKETS)
        .map(|_| {
            let i = rng.below(u64::from(sessions)) as u32;
            tcp_segment(SERVER, client(i), TcpFlags::ACK, &[])
        })
        .collect();
    let prefetch: Prefetch = podfwd_app::dpdk::prefetch;
    let rounds = (8_000_000 / PACKETS).max(1);
    // Warm the caches and the branch predictors the same way for every figure.
    in_bursts(1, &replies, &mut worker, &reflect, prefetch);
    let loop_alone = in_bursts(rounds, &replies, &mut worker, &none, prefetch).0;
    let (bursts, counted) = in_bursts(rounds, &replies, &mut worker, &reflect, prefetch);
    assert_eq!(counted, rounds * PACKETS, "every reply is a session hit");
    let single = one_at_a_time(rounds, &replies, &mut worker, &reflect, true);
    let single_loop = one_at_a_time(rounds, &replies, &mut worker, &reflect, false);
    let cycles = |ns: f64| ns * tsc_ghz;
    println!(
        "session hit, {sessions:>6} live sessions: in bursts of {BURST} (the stage's passes, its parse \
         included) {:5.1} ns (~{:3.0} cycles); one at a time (lookup alone) {:5.1} ns (~{:3.0} cycles); \
         loops alone {loop_alone:.1} / {single_loop:.1} ns (the latter parsing each packet) subtracted",
        bursts - loop_alone,
        cycles(bursts - loop_alone),
        single - single_loop,
        cycles(single - single_loop),
    );
}

/// The TSC's rate in GHz, measured against the wall clock over 50 ms.
fn tsc_ghz() -> f64 {
    let (t0, c0) = (Instant::now(), podfwd_app::dpdk::tsc());
    std::thread::sleep(std::time::Duration::from_millis(50));
    let (t1, c1) = (Instant::now(), podfwd_app::dpdk::tsc());
    (c1 - c0) as f64 / (t1 - t0).as_nanos() as f64
}

fn main() {
    let ghz = tsc_ghz();
    println!(
        "acl_sessions: a reflective ACL on one interface, its table sized for the default \
         limit ({} sessions); replies at random over the live sessions; TSC {:.0} MHz",
        podfwd::acl::DEFAULT_MAX_SESSIONS,
        ghz * 1000.0
    );
    for sessions in [64, 4096, 100_000] {
        hits(sessions, ghz);
    }
}
