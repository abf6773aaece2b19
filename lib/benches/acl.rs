//! ACL engine cost per packet: a session miss then a rule match, at 10, 1k and 10k random
//! rules, and a session hit; beside them, in the same run, the no-ACL path and a linear
//! first-match scan as baselines.
//!
//! `cargo bench -p podfwd --bench acl` (`ACL_BENCH_ONLY_HITS=1`: the session hits alone)

use podfwd::rand::FastRng;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use podfwd::acl::{
    AclAction, AclConfig, AclPacketInfo, AclRule, AclTable, AclWorker, ClassifierFields, Direction,
    PortRange,
};
use podfwd::types::{IfIndex, Ipv4Prefix};

const POD: IfIndex = IfIndex(6);
const PACKETS: usize = 4096;

/// How rule prefixes are drawn.
#[derive(Clone, Copy)]
enum PrefixLengths {
    /// Any length 0..=32, uniformly: the hardest case for tuple space.
    Uniform,
    /// What Kubernetes policies produce: pod /32s, namespace or node /24s and /16s, any.
    Policy,
}

fn random_rule(rng: &mut FastRng, lengths: PrefixLengths) -> AclRule {
    let prefix = |rng: &mut FastRng| {
        let len = match lengths {
            PrefixLengths::Uniform => rng.below(33) as u8,
            PrefixLengths::Policy => [0, 16, 24, 32, 32, 32][rng.below(6) as usize],
        };
        Ipv4Prefix::new(Ipv4Addr::from_bits(rng.next_u64() as u32), len)
            .unwrap()
            .network()
    };
    let src = prefix(rng);
    let dst = prefix(rng);
    let proto = match [0, 6, 6, 17][rng.below(4) as usize] {
        // Never a rule that matches every packet: the lookup would end there, and the
        // classifier leaves every rule behind it out, so that "10k rules" would be fewer.
        0 if src.len == 0 && dst.len == 0 => 6,
        proto => proto,
    };
    let range = |rng: &mut FastRng| match rng.below(3) {
        0 => PortRange::ANY,
        1 => PortRange::single(rng.below(65536) as u16),
        _ => {
            let lo = rng.below(60000) as u16;
            PortRange::new(lo, lo + rng.below(5000) as u16).unwrap()
        }
    };
    AclRule {
        action: [AclAction::Permit, AclAction::Deny][rng.below(2) as usize],
        src,
        dst,
        proto,
        sport: range(rng),
        dport: range(rng),
        tcp_flags_value: 0,
        tcp_flags_mask: 0,
    }
}

/// A packet inside `rule`, so that it matches it or an earlier rule.
fn packet_in(rng: &mut FastRng, rule: &AclRule) -> AclPacketInfo {
    let inside = |rng: &mut FastRng, p: &Ipv4Prefix| {
        Ipv4Addr::from_bits(p.addr.to_bits() | (rng.next_u64() as u32 & !p.mask()))
    };
    let port =
        |rng: &mut FastRng, r: &PortRange| r.lo + rng.below(u64::from(r.hi - r.lo) + 1) as u16;
    AclPacketInfo {
        src: inside(rng, &rule.src),
        dst: inside(rng, &rule.dst),
        proto: if rule.proto == 0 { 6 } else { rule.proto },
        sport: port(rng, &rule.sport),
        dport: port(rng, &rule.dport),
        tcp_flags: 0x10,
        l4_valid: true,
        nonfirst_fragment: false,
    }
}

/// Runs `f` over the packets until about 100 ms have passed; ns per call.
fn ns_per_packet(packets: &[AclPacketInfo], mut f: impl FnMut(&AclPacketInfo) -> bool) -> f64 {
    let mut permitted = 0usize;
    for p in packets {
        permitted += usize::from(f(p));
    }
    let start = Instant::now();
    let mut calls = 0usize;
    while start.elapsed().as_millis() < 100 {
        for p in packets {
            permitted += usize::from(f(black_box(p)));
        }
        calls += packets.len();
    }
    black_box(permitted);
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn naive_first_match(rules: &[AclRule], p: &AclPacketInfo) -> Option<usize> {
    rules.iter().position(|r| {
        r.src.contains(p.src)
            && r.dst.contains(p.dst)
            && (r.proto == 0
                || (r.proto == p.proto && r.sport.contains(p.sport) && r.dport.contains(p.dport)))
    })
}

fn config_with(rules: Vec<AclRule>) -> AclConfig {
    let mut table = AclTable::new();
    table.set_max_sessions(max_sessions()).unwrap();
    let acl = table.create(rules, "bench").unwrap();
    table
        .set_interface_acl(POD, Direction::Input, acl, false)
        .unwrap();
    table.build()
}

fn rule_match(lengths: PrefixLengths, name: &str, no_acl_ns: f64) {
    println!("rule match, {name} prefix lengths:");
    for count in [10usize, 1_000, 10_000] {
        let mut rng = FastRng::new(0x00ac_1be7 + count as u64);
        let rules: Vec<AclRule> = (0..count).map(|_| random_rule(&mut rng, lengths)).collect();
        let packets: Vec<AclPacketInfo> = (0..PACKETS)
            .map(|_| {
                let rule = &rules[rng.below(count as u64) as usize];
                packet_in(&mut rng, rule)
            })
            .collect();
        let built = Instant::now();
        let config = config_with(rules.clone());
        let build_ms = built.elapsed().as_secs_f64() * 1e3;
        let classifier = config.classifier(POD, Direction::Input);
        let head = classifier.map_or(0, |c| c.bit_vector_rules());
        // A rule that matches every packet ends the list the lookup holds.
        let reachable = classifier.map_or(0, |c| c.reachable_rules());
        let fields = match classifier.and_then(|c| c.bit_vector_fields()) {
            Some(ClassifierFields::Addresses) => " on addresses",
            Some(ClassifierFields::All) => " on five fields",
            None => "",
        };
        let index = match classifier.and_then(|c| c.prefix_index_parts()) {
            Some((src, dst, short)) => format!(
                "prefix index: {src} by source, {dst} by destination, {short} in bit vectors; "
            ),
            None => String::new(),
        };
        let tuples = classifier.map_or(0, |c| c.tuple_count());
        let mib = classifier.map_or(0.0, |c| c.memory_bytes() as f64 / f64::from(1 << 20));
        let mut worker = AclWorker::new(&config);
        let engine = ns_per_packet(&packets, |p| {
            worker.classify(&config, POD, Direction::Input, p, 0).permit
        });
        // Where the first match falls says how much of the list a lookup must get past.
        let mut first: Vec<usize> = packets
            .iter()
            .map(|p| naive_first_match(&rules, p).unwrap_or(count))
            .collect();
        first.sort_unstable();
        let linear_packets = &packets[..PACKETS.min(400_000 / count)];
        let linear = ns_per_packet(linear_packets, |p| {
            naive_first_match(black_box(&rules), p).is_some()
        });
        println!(
            "  {count:>6} rules ({reachable} up to a match-all; {index}{head} in bit vectors{fields}, {tuples} tuples, {mib:.1} MiB, built in \
             {build_ms:.1} ms): \
             session miss + rule match {engine:>7.1} ns/pkt ({:.1}x no-ACL path), \
             linear scan {linear:>9.1} ns/pkt; first match at rule {} (median), {} (90 %)",
            engine / no_acl_ns,
            first[first.len() / 2],
            first[first.len() * 9 / 10],
        );
    }
}

/// The session table limit, `ACL_BENCH_MAX_SESSIONS` (default: VPP's 500k). The table is
/// sized for it, so it sets how far apart in memory the live sessions sit.
fn max_sessions() -> usize {
    std::env::var("ACL_BENCH_MAX_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(podfwd::acl::DEFAULT_MAX_SESSIONS)
}

fn main() {
    println!("session table limit {}", max_sessions());
    let empty = AclTable::new().build();
    let mut worker = AclWorker::new(&empty);
    let mut rng = FastRng::new(7);
    let any = AclRule::any(AclAction::Permit);
    let packets: Vec<AclPacketInfo> = (0..PACKETS).map(|_| packet_in(&mut rng, &any)).collect();
    let no_acl = ns_per_packet(&packets, |p| {
        worker.classify(&empty, POD, Direction::Input, p, 0).permit
    });
    println!("no ACL on the interface: {no_acl:.1} ns/pkt (baseline)");

    // ACL_BENCH_ONLY_HITS=1: the session hits alone, for a profiler's eyes.
    if std::env::var_os("ACL_BENCH_ONLY_HITS").is_none() {
        rule_match(
            PrefixLengths::Policy,
            "policy-like (/0, /16, /24, /32)",
            no_acl,
        );
        rule_match(PrefixLengths::Uniform, "uniform 0..=32", no_acl);
    }

    for flows in [64, PACKETS] {
        session_hit(&packets[..flows], no_acl);
    }
}

/// Replies to `flows` flows a reflective ACL admitted: a session hit each.
fn session_hit(requests: &[AclPacketInfo], no_acl_ns: f64) {
    let mut table = AclTable::new();
    table.set_max_sessions(max_sessions()).unwrap();
    let reflect = table
        .create(vec![AclRule::any(AclAction::PermitReflect)], "reflect")
        .unwrap();
    table
        .set_interface_acl(POD, Direction::Input, reflect, false)
        .unwrap();
    let config = table.build();
    let mut worker = AclWorker::new(&config);
    let replies: Vec<AclPacketInfo> = requests
        .iter()
        .map(|p| {
            assert_eq!(
                worker.classify(&config, POD, Direction::Input, p, 0).action,
                2
            );
            AclPacketInfo {
                src: p.dst,
                dst: p.src,
                sport: p.dport,
                dport: p.sport,
                ..*p
            }
        })
        .collect();
    // The same number of calls per round whatever the flow count.
    let rounds: Vec<AclPacketInfo> = replies.iter().cycle().take(PACKETS).copied().collect();
    let hit = ns_per_packet(&rounds, |p| {
        worker
            .classify(&config, POD, Direction::Output, p, 1)
            .action
            == 3
    });
    println!(
        "session hit, {} live sessions: {hit:.1} ns/pkt ({:.1}x no-ACL path)",
        worker.session_count(),
        hit / no_acl_ns
    );
}
