//! Engine tests: the spec's trace lines, the seed's ACL decisions, the rule-matching
//! matrix, a randomized comparison with a naive first-match, sessions and the control plane.

use std::net::Ipv4Addr;

use super::*;
use crate::node::{DropReason, NodeError};
use crate::rand::FastRng;
use crate::types::{ip_proto, IfIndex, Ipv4Prefix};

const SECOND: u64 = 1_000_000_000;
const POD: IfIndex = IfIndex(6);
const TAP0: IfIndex = IfIndex(2);

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn prefix(s: &str) -> Ipv4Prefix {
    s.parse().unwrap()
}

fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> AclPacketInfo {
    AclPacketInfo {
        src: ip(src),
        dst: ip(dst),
        proto: ip_proto::TCP,
        sport,
        dport,
        tcp_flags: flags,
        l4_valid: true,
        nonfirst_fragment: false,
    }
}

fn udp(src: &str, sport: u16, dst: &str, dport: u16) -> AclPacketInfo {
    AclPacketInfo {
        proto: ip_proto::UDP,
        tcp_flags: 0,
        ..tcp(src, sport, dst, dport, 0)
    }
}

fn icmp(src: &str, dst: &str, icmp_type: u16, code: u16) -> AclPacketInfo {
    AclPacketInfo {
        proto: ip_proto::ICMP,
        tcp_flags: 0,
        ..tcp(src, icmp_type, dst, code, 0)
    }
}

fn rule(action: AclAction) -> AclRule {
    AclRule::any(action)
}

const SYN: u8 = 0x02;
const SYN_ACK: u8 = 0x12;
const ACK: u8 = 0x10;
const RST: u8 = 0x04;
const FIN_ACK: u8 = 0x11;

/// Contiv's ACLs on the seed's node: ACL 0 and 1 are local tables (unused here), ACL 2
/// the global table (a few permits, permit-any last) on tap0 egress, ACL 3 the reflective
/// ACL on the pod's and tap0's ingress.
fn contiv_table() -> AclTable {
    let mut table = AclTable::new();
    let deny_all = vec![rule(AclAction::Deny)];
    table
        .create(deny_all.clone(), "contiv-policy-local-0")
        .unwrap();
    table.create(deny_all, "contiv-policy-local-1").unwrap();
    let mut global = Vec::new();
    for (src, dport) in [
        ("10.1.1.5/32", 80),
        ("10.1.1.6/32", 443),
        ("10.1.1.9/32", 53),
    ] {
        global.push(AclRule {
            src: prefix(src),
            proto: ip_proto::TCP,
            dport: PortRange::single(dport),
            ..rule(AclAction::Permit)
        });
    }
    global.push(rule(AclAction::Permit));
    assert_eq!(table.create(global, "contiv-policy-GLOBAL"), Ok(2));
    let reflect = vec![rule(AclAction::PermitReflect)];
    assert_eq!(table.create(reflect, "contiv-policy-REFLECTION"), Ok(3));
    table
        .set_interface_acl(POD, Direction::Input, 3, false)
        .unwrap();
    table
        .set_interface_acl(TAP0, Direction::Input, 3, false)
        .unwrap();
    table
        .set_interface_acl(TAP0, Direction::Output, 2, false)
        .unwrap();
    table
}

fn trace_text(
    sw_if: IfIndex,
    direction: Direction,
    next: u32,
    verdict: &AclVerdict,
    packet: &AclPacketInfo,
) -> String {
    AclTrace::new(sw_if, direction, next, verdict, packet).to_string()
}

/// The seed's request and response through the four ACL nodes they cross, compared with
/// the spec's trace entries byte for byte. As on the spec's node, 32 sessions came
/// before: the reply's session hit reports the request's session, index 32.
#[test]
fn seed_packets_with_contiv_acls_give_the_seed_traces() {
    let config = contiv_table().build();
    let mut worker = AclWorker::new(&config);
    let t = 100 * SECOND;
    // The pod's earlier connections: 5 to the service, 27 to the endpoint directly.
    for (sport, dst, dport) in (40_000..40_005)
        .map(|p| (p, "10.104.221.85", 80))
        .chain((41_000..41_027).map(|p| (p, "10.20.0.2", 8080)))
    {
        let earlier = tcp("10.1.1.3", sport, dst, dport, SYN);
        let v = worker.classify(&config, POD, Direction::Input, &earlier, t);
        assert_eq!((v.action, v.acl), (2, 3));
    }
    assert_eq!(worker.session_count(), 32);

    let request_in = tcp("10.1.1.3", 46310, "10.104.221.85", 80, SYN);
    let v = worker.classify(&config, POD, Direction::Input, &request_in, t);
    assert_eq!((v.action, v.acl, v.rule, v.permit), (2, 3, 0, true));
    assert_eq!(
        trace_text(POD, Direction::Input, 2, &v, &request_in),
        "acl-plugin: sw_if_index 6, next index 2, action: 2, match: acl 3 rule 0 trace_bits 00000000\n\
         \x20 pkt info 0000000000000000 0301010a00000000 0000000000000000 55dd680a00000000 000600060050b4e6 0702ffff00000006\n\
         \x20  input sw_if_index 6 (lsb16 6) l3 ip4 10.1.1.3 -> 10.104.221.85 l4 proto 6 l4_valid 1 port 46310 -> 80 tcp flags (valid) 02 rsvd 0"
    );

    // After DNAT to the endpoint in the host stack, out through tap0.
    let request_out = tcp("10.1.1.3", 46310, "10.20.0.2", 8080, SYN);
    let v = worker.classify(&config, TAP0, Direction::Output, &request_out, t);
    assert_eq!((v.action, v.acl, v.rule, v.permit), (1, 2, 3, true));
    assert_eq!(
        trace_text(TAP0, Direction::Output, 1, &v, &request_out),
        "acl-plugin: sw_if_index 2, next index 1, action: 1, match: acl 2 rule 3 trace_bits 00000000\n\
         \x20 pkt info 0000000000000000 0301010a00000000 0000000000000000 0200140a00000000 000200061f90b4e6 0502ffff00000002\n\
         \x20  output sw_if_index 2 (lsb16 2) l3 ip4 10.1.1.3 -> 10.20.0.2 l4 proto 6 l4_valid 1 port 46310 -> 8080 tcp flags (valid) 02 rsvd 0"
    );

    let response_in = tcp("10.20.0.2", 8080, "10.1.1.3", 46310, SYN_ACK);
    let v = worker.classify(&config, TAP0, Direction::Input, &response_in, t);
    assert_eq!((v.action, v.acl, v.rule, v.permit), (2, 3, 0, true));
    assert_eq!(
        trace_text(TAP0, Direction::Input, 1, &v, &response_in),
        "acl-plugin: sw_if_index 2, next index 1, action: 2, match: acl 3 rule 0 trace_bits 00000000\n\
         \x20 pkt info 0000000000000000 0200140a00000000 0000000000000000 0301010a00000000 00020006b4e61f90 0712ffff00000002\n\
         \x20  input sw_if_index 2 (lsb16 2) l3 ip4 10.20.0.2 -> 10.1.1.3 l4 proto 6 l4_valid 1 port 8080 -> 46310 tcp flags (valid) 12 rsvd 0"
    );

    // Un-NATed back to the VIP, out through the pod interface: the request's session.
    let response_out = tcp("10.104.221.85", 80, "10.1.1.3", 46310, SYN_ACK);
    let v = worker.classify(&config, POD, Direction::Output, &response_out, t);
    assert_eq!((v.action, v.acl, v.rule, v.permit), (3, -1, 32, true));
    assert_eq!(v.trace_bits, TRACE_BITS_SESSION_HIT);
    assert_eq!(
        trace_text(POD, Direction::Output, 1, &v, &response_out),
        "acl-plugin: sw_if_index 6, next index 1, action: 3, match: acl -1 rule 32 trace_bits 80000000\n\
         \x20 pkt info 0000000000000000 55dd680a00000000 0000000000000000 0301010a00000000 00060006b4e60050 0512ffff00000006\n\
         \x20  output sw_if_index 6 (lsb16 6) l3 ip4 10.104.221.85 -> 10.1.1.3 l4 proto 6 l4_valid 1 port 80 -> 46310 tcp flags (valid) 12 rsvd 0"
    );
    assert_eq!(worker.session_count(), 34);
}

#[test]
fn pkt_info_reads_the_seed_bytes() {
    let syn = [
        // IPv4: 10.1.1.3 -> 10.104.221.85, TCP, total length 40
        0x45u8, 0x00, 0x00, 0x28, 0x5e, 0xb4, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 0x0a, 0x01, 0x01,
        0x03, 0x0a, 0x68, 0xdd, 0x55, // TCP: 46310 -> 80, SYN
        0xb4, 0xe6, 0x00, 0x50, 0xba, 0x5b, 0xf3, 0x6d, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0x72,
        0x10, 0x00, 0x00, 0x00, 0x00,
    ];
    let info = AclPacketInfo::from_ipv4_bytes(&syn).unwrap();
    let trace = AclTrace::new(POD, Direction::Input, 2, &AclVerdict::NO_ACL, &info);
    assert_eq!(
        trace.pkt_info_words(),
        [
            0,
            0x0301010a00000000,
            0,
            0x55dd680a00000000,
            0x000600060050b4e6,
            0x0702ffff00000006
        ]
    );
}

/// The ports and flags come from after the options: the seed's SYN with a router alert
/// reads as the SYN without, and a port rule matches it.
#[test]
fn a_header_with_options_is_read_after_them() {
    let syn = crate::spec_frames::syn();
    let plain = AclPacketInfo::from_ipv4_bytes(&syn[14..]).unwrap();
    let mut with_option = syn[14..].to_vec();
    with_option.splice(20..20, [0x94, 0x04, 0x00, 0x00]);
    let mut v = crate::packet::Ipv4Packet::new_unchecked(&mut with_option[..]);
    v.set_version_and_header_len(24);
    v.set_total_len(64);
    v.fill_checksum();
    let info = AclPacketInfo::from_ipv4_bytes(&with_option).unwrap();
    assert_eq!(info, plain);
    let rules = vec![AclRule {
        proto: ip_proto::TCP,
        sport: PortRange::single(46310),
        dport: PortRange::single(80),
        tcp_flags_value: SYN,
        tcp_flags_mask: SYN,
        ..rule(AclAction::Permit)
    }];
    assert_eq!(matched(rules, info), Some((0, 0)));
}

/// One interface with `acls` on input, evaluated for `packet`.
fn verdict_with(acls: &[Vec<AclRule>], packet: &AclPacketInfo) -> AclVerdict {
    let mut table = AclTable::new();
    let indices: Vec<u32> = acls
        .iter()
        .map(|rules| table.create(rules.clone(), "t").unwrap())
        .collect();
    table
        .set_interface_acl_list(POD, Direction::Input, &indices)
        .unwrap();
    let config = table.build();
    AclWorker::new(&config).classify(&config, POD, Direction::Input, packet, 0)
}

fn matched(rules: Vec<AclRule>, packet: AclPacketInfo) -> Option<(i32, u32)> {
    let v = verdict_with(&[rules], &packet);
    (v.acl >= 0).then_some((v.acl, v.rule))
}

#[test]
fn prefixes_match_including_zero_and_thirty_two() {
    let host = AclRule {
        src: prefix("10.1.1.3/32"),
        ..rule(AclAction::Permit)
    };
    let subnet = AclRule {
        dst: prefix("10.104.0.0/16"),
        ..rule(AclAction::Permit)
    };
    let p = tcp("10.1.1.3", 1, "10.104.221.85", 80, SYN);
    assert_eq!(matched(vec![host], p), Some((0, 0)));
    assert_eq!(
        matched(vec![host], tcp("10.1.1.4", 1, "1.1.1.1", 80, SYN)),
        None
    );
    assert_eq!(matched(vec![subnet], p), Some((0, 0)));
    assert_eq!(
        matched(vec![subnet], tcp("10.1.1.3", 1, "10.105.0.1", 80, SYN)),
        None
    );
    // Host bits in a rule's prefix are ignored, as VPP masks them.
    let sloppy = AclRule {
        dst: prefix("10.104.9.9/16"),
        ..rule(AclAction::Permit)
    };
    assert_eq!(matched(vec![sloppy], p), Some((0, 0)));
    assert_eq!(matched(vec![rule(AclAction::Permit)], p), Some((0, 0)));
}

#[test]
fn proto_any_ignores_ports_and_proto_matches_exactly() {
    let any_with_ports = AclRule {
        sport: PortRange::single(7),
        dport: PortRange::single(7),
        ..rule(AclAction::Permit)
    };
    assert_eq!(
        matched(vec![any_with_ports], udp("1.1.1.1", 1000, "2.2.2.2", 53)),
        Some((0, 0))
    );
    let udp_only = AclRule {
        proto: ip_proto::UDP,
        ..rule(AclAction::Permit)
    };
    assert_eq!(
        matched(vec![udp_only], udp("1.1.1.1", 1, "2.2.2.2", 53)),
        Some((0, 0))
    );
    assert_eq!(
        matched(vec![udp_only], tcp("1.1.1.1", 1, "2.2.2.2", 53, SYN)),
        None
    );
}

#[test]
fn port_ranges_are_inclusive() {
    let range = AclRule {
        proto: ip_proto::TCP,
        dport: PortRange::new(8000, 8080).unwrap(),
        sport: PortRange::new(1024, 65535).unwrap(),
        ..rule(AclAction::Permit)
    };
    for (sport, dport, hit) in [
        (1024, 8000, true),
        (65535, 8080, true),
        (5000, 8040, true),
        (1023, 8040, false),
        (5000, 7999, false),
        (5000, 8081, false),
    ] {
        let got = matched(vec![range], tcp("1.1.1.1", sport, "2.2.2.2", dport, SYN));
        assert_eq!(got.is_some(), hit, "sport {sport} dport {dport}");
    }
}

#[test]
fn icmp_type_and_code_match_as_ports() {
    let echo_request = AclRule {
        proto: ip_proto::ICMP,
        sport: PortRange::single(8),
        dport: PortRange::single(0),
        ..rule(AclAction::Permit)
    };
    assert!(matched(vec![echo_request], icmp("1.1.1.1", "2.2.2.2", 8, 0)).is_some());
    assert!(matched(vec![echo_request], icmp("1.1.1.1", "2.2.2.2", 0, 0)).is_none());
    assert!(matched(vec![echo_request], icmp("1.1.1.1", "2.2.2.2", 8, 1)).is_none());
    let unreachable_codes = AclRule {
        proto: ip_proto::ICMP,
        sport: PortRange::single(3),
        dport: PortRange::new(0, 4).unwrap(),
        ..rule(AclAction::Permit)
    };
    assert!(matched(vec![unreachable_codes], icmp("1.1.1.1", "2.2.2.2", 3, 4)).is_some());
    assert!(matched(vec![unreachable_codes], icmp("1.1.1.1", "2.2.2.2", 3, 5)).is_none());
}

#[test]
fn tcp_flags_match_under_the_mask() {
    let syn_without_ack = AclRule {
        proto: ip_proto::TCP,
        tcp_flags_value: SYN,
        tcp_flags_mask: SYN | ACK,
        ..rule(AclAction::Deny)
    };
    let p = |flags| tcp("1.1.1.1", 1, "2.2.2.2", 80, flags);
    assert!(matched(vec![syn_without_ack], p(SYN)).is_some());
    assert!(matched(vec![syn_without_ack], p(SYN | 0x08)).is_some());
    assert!(matched(vec![syn_without_ack], p(SYN_ACK)).is_none());
    assert!(matched(vec![syn_without_ack], p(ACK)).is_none());
}

#[test]
fn nonfirst_fragments_match_only_rules_without_l4_fields() {
    let mut fragment = tcp("1.1.1.1", 0, "2.2.2.2", 0, 0);
    fragment.l4_valid = false;
    fragment.nonfirst_fragment = true;
    let zero_port_rule = AclRule {
        proto: ip_proto::TCP,
        dport: PortRange::single(0),
        ..rule(AclAction::Permit)
    };
    let port_rule = AclRule {
        dport: PortRange::single(80),
        ..zero_port_rule
    };
    let proto_rule = AclRule {
        proto: ip_proto::TCP,
        ..rule(AclAction::Permit)
    };
    // Not even a rule for port 0 matches the zero ports a fragment is read with.
    assert_eq!(
        matched(vec![zero_port_rule, proto_rule], fragment),
        Some((0, 1))
    );
    // Ports left in by the caller do not make a fragment match an L4 rule.
    fragment.dport = 80;
    fragment.l4_valid = true;
    assert_eq!(matched(vec![port_rule, proto_rule], fragment), Some((0, 1)));
    // The same packet, not a fragment, is the port rule's.
    fragment.nonfirst_fragment = false;
    assert_eq!(matched(vec![port_rule, proto_rule], fragment), Some((0, 0)));
}

#[test]
fn first_match_wins_across_two_acls_in_order() {
    let deny_web = AclRule {
        proto: ip_proto::TCP,
        dport: PortRange::single(80),
        ..rule(AclAction::Deny)
    };
    let permit_subnet = AclRule {
        dst: prefix("10.0.0.0/8"),
        ..rule(AclAction::Permit)
    };
    let acl0 = vec![permit_subnet, rule(AclAction::Deny)];
    let acl1 = vec![deny_web, rule(AclAction::Permit)];
    let to_web = tcp("1.1.1.1", 1, "10.0.0.1", 80, SYN);
    let v = verdict_with(&[acl0.clone(), acl1.clone()], &to_web);
    assert_eq!((v.acl, v.rule, v.permit), (0, 0, true));
    let v = verdict_with(&[acl1, acl0], &to_web);
    assert_eq!(
        (v.acl, v.rule, v.permit, v.drop),
        (0, 0, false, Some(AclDrop::Deny))
    );
    // Within one ACL, the earlier of two matching rules.
    let v = verdict_with(&[vec![rule(AclAction::Deny), permit_subnet]], &to_web);
    assert_eq!((v.rule, v.action), (0, 0));
}

#[test]
fn no_match_denies_and_no_acl_permits() {
    let only_dns = AclRule {
        proto: ip_proto::UDP,
        dport: PortRange::single(53),
        ..rule(AclAction::Permit)
    };
    let v = verdict_with(&[vec![only_dns]], &tcp("1.1.1.1", 1, "2.2.2.2", 80, SYN));
    assert_eq!(
        (v.action, v.acl, v.rule, v.permit),
        (0, -1, u32::MAX, false)
    );
    assert_eq!(
        v.drop_reason(Direction::Input),
        Some(DropReason::of(AclInError::AclDeny))
    );
    assert_eq!(AclOutError::AclDeny.description(), "acl deny");
    assert_eq!(
        AclInError::TooManySessions.description(),
        "too many sessions"
    );

    let config = AclTable::new().build();
    let mut worker = AclWorker::new(&config);
    let p = tcp("1.1.1.1", 1, "2.2.2.2", 80, SYN);
    let v = worker.classify(&config, POD, Direction::Input, &p, 0);
    // Written out, not compared with the constant: the trace shows no ACL as -1.
    assert_eq!((v.action, v.acl, v.rule, v.permit), (1, -1, u32::MAX, true));
    assert!(v.drop_reason(Direction::Input).is_none());
}

/// The rule semantics written directly from the description, one rule at a time.
fn naive_matches(rule: &AclRule, p: &AclPacketInfo) -> bool {
    if !rule.src.contains(p.src) || !rule.dst.contains(p.dst) {
        return false;
    }
    if rule.proto == 0 {
        return true;
    }
    if rule.proto != p.proto {
        return false;
    }
    let has_l4 = !rule.sport.is_any() || !rule.dport.is_any() || rule.tcp_flags_mask != 0;
    if !has_l4 {
        return true;
    }
    let l4 = p.l4_valid && !p.nonfirst_fragment;
    l4 && rule.sport.contains(p.sport)
        && rule.dport.contains(p.dport)
        && (rule.proto != ip_proto::TCP
            || p.tcp_flags & rule.tcp_flags_mask == rule.tcp_flags_value)
}

fn random_rule(rng: &mut FastRng, pool: &[u32]) -> AclRule {
    let random_prefix = |rng: &mut FastRng| {
        let base = pool[rng.below(pool.len() as u64) as usize];
        let len = [0, 8, 16, 20, 24, 28, 30, 32][rng.below(8) as usize];
        Ipv4Prefix::new(Ipv4Addr::from_bits(base), len).unwrap()
    };
    let src = random_prefix(rng);
    let dst = random_prefix(rng);
    let proto = match [0, 6, 17, 1][rng.below(4) as usize] {
        // Not a rule that matches every packet, which would end the lookup (and the
        // classifier's list: rules_behind_a_match_all_rule_are_left_out).
        0 if src.len == 0 && dst.len == 0 => 6,
        proto => proto,
    };
    let random_range = |rng: &mut FastRng| match rng.below(3) {
        0 => PortRange::ANY,
        1 => PortRange::single(rng.below(16) as u16 * 1000),
        _ => {
            let lo = rng.below(16) as u16 * 1000;
            PortRange::new(lo, lo + rng.below(3000) as u16).unwrap()
        }
    };
    let sport = random_range(rng);
    let dport = random_range(rng);
    let (tcp_flags_value, tcp_flags_mask) = if proto == 6 && rng.below(4) == 0 {
        (SYN, SYN | ACK)
    } else {
        (0, 0)
    };
    AclRule {
        action: [AclAction::Deny, AclAction::Permit][rng.below(2) as usize],
        src,
        dst,
        proto,
        sport,
        dport,
        tcp_flags_value,
        tcp_flags_mask,
    }
}

fn random_packet(rng: &mut FastRng, pool: &[u32]) -> AclPacketInfo {
    let near = |rng: &mut FastRng| {
        let base = pool[rng.below(pool.len() as u64) as usize];
        Ipv4Addr::from_bits(base ^ (rng.below(1 << 10) as u32))
    };
    let proto = [6, 17, 1, 47][rng.below(4) as usize];
    let port = |rng: &mut FastRng| {
        if rng.below(2) == 0 {
            rng.below(16) as u16 * 1000
        } else {
            rng.below(20_000) as u16
        }
    };
    AclPacketInfo {
        src: near(rng),
        dst: near(rng),
        proto,
        sport: port(rng),
        dport: port(rng),
        tcp_flags: if proto == 6 {
            [SYN, SYN_ACK, ACK][rng.below(3) as usize]
        } else {
            0
        },
        l4_valid: proto != 47 && rng.below(20) != 0,
        nonfirst_fragment: rng.below(20) == 0,
    }
}

/// A list closed by a rule that matches every packet (Contiv's permit-any, or a
/// permit+reflect): the tuple space finds that rule without hashing (its tuple compares
/// no field), after the rules before it, as a naive first match does. Lists of 20 rules
/// (the tuple space alone) and 300 (a bit-vector head, then the tuple space).
#[test]
fn classifier_finds_a_closing_match_all_rule_as_the_naive_first_match() {
    let mut rng = FastRng::new(0xc105_e0a1);
    let pool: Vec<u32> = (0..8).map(|_| rng.next_u64() as u32).collect();
    for rules in [20, 300] {
        let mut acl: Vec<AclRule> = (0..rules).map(|_| random_rule(&mut rng, &pool)).collect();
        acl.push(AclRule {
            action: AclAction::PermitReflect,
            src: Ipv4Prefix::new(Ipv4Addr::UNSPECIFIED, 0).unwrap(),
            dst: Ipv4Prefix::new(Ipv4Addr::UNSPECIFIED, 0).unwrap(),
            proto: 0,
            sport: PortRange::ANY,
            dport: PortRange::ANY,
            tcp_flags_value: 0,
            tcp_flags_mask: 0,
        });
        let mut table = AclTable::new();
        let index = table.create(acl.clone(), "closed").unwrap();
        table
            .set_interface_acl_list(POD, Direction::Input, &[index])
            .unwrap();
        let config = table.build();
        let mut worker = AclWorker::new(&config);
        let mut by_the_last = 0;
        for _ in 0..20_000 {
            let p = random_packet(&mut rng, &pool);
            let expected = acl.iter().position(|r| naive_matches(r, &p));
            let v = worker.classify(&config, POD, Direction::Input, &p, 0);
            let rule = expected.expect("the last rule matches everything");
            by_the_last += usize::from(rule == rules);
            assert_eq!(
                (v.acl, v.rule, v.action),
                (index as i32, rule as u32, acl[rule].action.code()),
                "{rules} rules, {p:?}"
            );
        }
        assert!(
            by_the_last > 1_000,
            "{rules} rules: {by_the_last} by the last"
        );
    }
}

/// 1k random rules in two ACLs against a naive first match, on 100k packets drawn near
/// the rules' addresses so that most of them match something. The first ACL has no /0
/// and the second its own addresses, so that both ACLs give first matches.
#[test]
fn classifier_agrees_with_naive_first_match() {
    let mut rng = FastRng::new(0x5eed_ac10_u64 | 1);
    let pools: [Vec<u32>; 2] = [6, 40].map(|n| (0..n).map(|_| rng.next_u64() as u32).collect());
    let mut acl_a: Vec<AclRule> = (0..600).map(|_| random_rule(&mut rng, &pools[0])).collect();
    for rule in &mut acl_a {
        rule.src.len = rule.src.len.max(8);
        rule.dst.len = rule.dst.len.max(8);
    }
    let acl_b: Vec<AclRule> = (0..400).map(|_| random_rule(&mut rng, &pools[1])).collect();
    let mut table = AclTable::new();
    let a = table.create(acl_a.clone(), "a").unwrap();
    let b = table.create(acl_b.clone(), "b").unwrap();
    table
        .set_interface_acl_list(POD, Direction::Input, &[a, b])
        .unwrap();
    let config = table.build();
    let classifier = config.classifier(POD, Direction::Input).unwrap();
    assert_eq!(classifier.rule_count(), 1000);
    let ordered: Vec<(i32, u32, &AclRule)> = acl_a
        .iter()
        .enumerate()
        .map(|(i, r)| (a as i32, i as u32, r))
        .chain(
            acl_b
                .iter()
                .enumerate()
                .map(|(i, r)| (b as i32, i as u32, r)),
        )
        .collect();
    let mut worker = AclWorker::new(&config);
    let mut matched = [0usize; 2];
    for n in 0..100_000 {
        let p = random_packet(&mut rng, &pools[n % 2]);
        let expected = ordered.iter().find(|(_, _, r)| naive_matches(r, &p));
        let v = worker.classify(&config, POD, Direction::Input, &p, 0);
        match expected {
            Some(&(acl, rule, r)) => {
                matched[usize::from(acl == b as i32)] += 1;
                assert_eq!(
                    (v.acl, v.rule, v.action),
                    (acl, rule, r.action.code()),
                    "{p:?}"
                );
            }
            None => assert_eq!((v.acl, v.action), (-1, 0), "{p:?}"),
        }
    }
    assert!(
        matched[0] > 5_000 && matched[1] > 5_000,
        "first matches in the two ACLs: {matched:?}"
    );
}

/// The rules of `lists`, concatenated, each with its ACL index and its index in the ACL.
fn in_list_order<'a>(lists: &[(u32, &'a [AclRule])]) -> Vec<(u32, u32, &'a AclRule)> {
    lists
        .iter()
        .flat_map(|&(acl, rules)| {
            rules
                .iter()
                .enumerate()
                .map(move |(i, r)| (acl, i as u32, r))
        })
        .collect()
}

/// A random packet near `pool`'s addresses, one in five at an edge (by `n`): the top
/// source port, destination port 0, the broadcast destination, a source in the lower half.
fn packet_at_edges(rng: &mut FastRng, pool: &[u32], n: usize) -> AclPacketInfo {
    let mut p = random_packet(rng, pool);
    match n % 20 {
        0 => p.sport = u16::MAX,
        1 => p.dport = 0,
        2 => p.dst = ip("255.255.255.255"),
        3 => p.src = Ipv4Addr::from_bits(rng.next_u64() as u32 >> 1),
        _ => {}
    }
    p
}

/// The first of `ordered` (from [`in_list_order`]) that matches `p`: its ACL, its index
/// there and its action.
fn naive_first_match(
    ordered: &[(u32, u32, &AclRule)],
    p: &AclPacketInfo,
) -> Option<(u32, u32, AclAction)> {
    ordered
        .iter()
        .find(|(_, _, r)| naive_matches(r, p))
        .map(|&(acl, rule, r)| (acl, rule, r.action))
}

/// Two ACLs of 500 random rules and the address pools they were drawn from: the first
/// from few addresses, with no prefix shorter than /8, so that its narrow rules still
/// match often; the second from its own addresses, with any prefix.
fn two_random_acls(rng: &mut FastRng) -> ([Vec<u32>; 2], Vec<AclRule>, Vec<AclRule>) {
    let pools: [Vec<u32>; 2] = [6, 40].map(|n| (0..n).map(|_| rng.next_u64() as u32).collect());
    let mut first: Vec<AclRule> = (0..500).map(|_| random_rule(rng, &pools[0])).collect();
    for rule in &mut first {
        rule.src.len = rule.src.len.max(8);
        rule.dst.len = rule.dst.len.max(8);
    }
    let second: Vec<AclRule> = (0..500).map(|_| random_rule(rng, &pools[1])).collect();
    (pools, first, second)
}

/// The classifier alone, head and tail: two ACLs of 500 random rules with every head
/// size the budget can give (all in bit vectors, about half, the 64 least), against the
/// naive first match on 50k packets each, edge ports and addresses among them. The first
/// ACL has no /0 and the second its own addresses, so that both give first matches.
#[test]
fn bit_vector_head_and_tuple_space_tail_agree_with_naive_first_match() {
    let mut rng = FastRng::new(0xb17_5ec7);
    let (pools, first, mut second) = two_random_acls(&mut rng);
    // Ranges that end at the top port, and prefixes at both ends of the address space.
    second[100].sport = PortRange::new(65000, u16::MAX).unwrap();
    second[200].dst = prefix("255.255.255.255/32");
    second[300].src = prefix("0.0.0.0/1");
    let lists = [(3, &first[..]), (5, &second[..])];
    let mut classifiers = Vec::new();
    for fields in [ClassifierFields::All, ClassifierFields::Addresses] {
        let full = Classifier::build_within(lists, usize::MAX, fields);
        // A quarter of the memory: about half the rules, as it grows with their square.
        let hybrid = Classifier::build_within(lists, full.bit_vector_bytes().0 / 4, fields);
        let least = Classifier::build_within(lists, 0, fields);
        assert_eq!(full.bit_vector_rules(), 1000);
        assert_eq!(full.tuple_count(), 0);
        assert!(
            (64..1000).contains(&hybrid.bit_vector_rules())
                && hybrid.bit_vector_rules().is_multiple_of(64),
            "{fields:?}: {}",
            hybrid.bit_vector_rules()
        );
        assert!(hybrid.tuple_count() > 0);
        assert_eq!(least.bit_vector_rules(), 64);
        classifiers.extend([full, hybrid, least]);
    }
    let ordered = in_list_order(&lists);
    let mut matched = [[0usize; 2]; 6];
    for n in 0..50_000 {
        let p = packet_at_edges(&mut rng, &pools[n % 2], n);
        let expected = naive_first_match(&ordered, &p);
        for (c, classifier) in classifiers.iter().enumerate() {
            let got = classifier.lookup(&p).map(|m| (m.acl, m.rule, m.action));
            assert_eq!(got, expected, "classifier {c}, {p:?}");
            if let Some((acl, ..)) = got {
                matched[c][usize::from(acl == 5)] += 1;
            }
        }
    }
    for (c, [first, second]) in matched.iter().enumerate() {
        assert!(
            *first > 2_000 && *second > 2_000,
            "classifier {c}: {first} and {second} first matches in the two ACLs"
        );
    }
}

/// The prefix index: two ACLs of 500 random rules, the first with prefixes of /8 and
/// longer (listed under their source prefix), the second any (so some listed under their
/// destination prefix, some in the index's bit vectors), against the naive first match
/// on 50k packets, edge ports and addresses among them.
#[test]
fn prefix_index_agrees_with_naive_first_match() {
    let mut rng = FastRng::new(0x1dea_5ec7);
    let (pools, first, mut second) = two_random_acls(&mut rng);
    // A quarter with short prefixes both (in the bit vectors), a quarter with any source
    // (listed by destination, where it is long).
    for (i, rule) in second.iter_mut().enumerate() {
        match i % 4 {
            0 => (rule.src.len, rule.dst.len) = (rng.below(8) as u8, rng.below(8) as u8),
            1 => rule.src.len = 0,
            _ => {}
        }
        rule.src = rule.src.network();
        rule.dst = rule.dst.network();
        if rule.src.len == 0 && rule.dst.len == 0 && rule.proto == 0 {
            // Not a rule that matches every packet, which would end the list.
            rule.proto = ip_proto::UDP;
        }
    }
    second[100].sport = PortRange::new(65000, u16::MAX).unwrap();
    second[200].dst = prefix("255.255.255.255/32");
    second[300].src = prefix("0.0.0.0/1");
    let lists = [(3, &first[..]), (5, &second[..])];
    let classifier = Classifier::build_index(lists);
    let (by_src, by_dst, short) = classifier.prefix_index_parts().unwrap();
    assert_eq!(by_src + by_dst + short, 1000);
    assert!(
        by_src > 500 && by_dst > 50 && short > 50,
        "{by_src} {by_dst} {short}"
    );
    let ordered = in_list_order(&lists);
    let mut matched = [0usize; 2];
    for n in 0..50_000 {
        let p = packet_at_edges(&mut rng, &pools[n % 2], n);
        let expected = naive_first_match(&ordered, &p);
        let got = classifier.lookup(&p).map(|m| (m.acl, m.rule, m.action));
        assert_eq!(got, expected, "{p:?}");
        if let Some((acl, ..)) = got {
            matched[usize::from(acl == 5)] += 1;
        }
    }
    assert!(
        matched[0] > 2_000 && matched[1] > 2_000,
        "first matches in the two ACLs: {matched:?}"
    );
}

/// The head's budget: its vectors fit it, in whole 64-rule words, and the estimate the
/// budget is held to is the layout built.
#[test]
fn bit_vector_head_stays_within_its_budget() {
    let mut rng = FastRng::new(0xb0d9e7);
    let pool: Vec<u32> = (0..400).map(|_| rng.next_u64() as u32).collect();
    let rules: Vec<AclRule> = (0..3000).map(|_| random_rule(&mut rng, &pool)).collect();
    let budgets = [64 << 10, 256 << 10, 512 << 10];
    let fields = [ClassifierFields::All, ClassifierFields::Addresses];
    for (budget, fields) in budgets.into_iter().flat_map(|b| fields.map(|f| (b, f))) {
        let classifier = Classifier::build_within([(0, &rules[..])], budget, fields);
        let head = classifier.bit_vector_rules();
        assert!(
            head < 3000 && head.is_multiple_of(64),
            "budget {budget}: head {head}"
        );
        let (built, expected) = classifier.bit_vector_bytes();
        assert_eq!(
            built, expected,
            "budget {budget}: the estimate is the layout"
        );
        assert!(
            built <= budget,
            "budget {budget}: head {head} takes {built} bytes"
        );
        let one_more = Classifier::build_within([(0, &rules[..head + 64])], usize::MAX, fields);
        assert!(
            one_more.bit_vector_bytes().0 > budget,
            "budget {budget}: {head} rules, and 64 more would fit too"
        );
    }
}

/// An ACL without rules denies everything.
#[test]
fn empty_rule_list_matches_nothing() {
    for fields in [ClassifierFields::All, ClassifierFields::Addresses] {
        let classifier = Classifier::build_within([(0, &[][..])], usize::MAX, fields);
        assert_eq!(classifier.rule_count(), 0);
        let p = tcp("10.1.1.3", 1234, "10.20.0.2", 80, SYN);
        assert_eq!(classifier.lookup(&p), None);
    }
}

/// A head past 4096 rules, so that a lookup walks more than one aggregate word: 10k rules
/// over few addresses and ports make few classes, and all fit the default budget; also
/// heads cut at 4096 and 4160 rules. A third of the first matches lie past rule 4100.
#[test]
fn bit_vector_head_with_several_aggregate_words() {
    let mut rng = FastRng::new(0xa66);
    let addrs: Vec<u32> = (0..10).map(|_| rng.next_u64() as u32).collect();
    let ports: Vec<u16> = (0..10).map(|i| i * 7 + 1).collect();
    let host =
        |rng: &mut FastRng| Ipv4Prefix::host(Ipv4Addr::from_bits(addrs[rng.below(10) as usize]));
    let port = |rng: &mut FastRng| ports[rng.below(10) as usize];
    let rules: Vec<AclRule> = (0..10_000)
        .map(|_| AclRule {
            src: host(&mut rng),
            dst: host(&mut rng),
            proto: [6, 17][rng.below(2) as usize],
            sport: PortRange::single(port(&mut rng)),
            dport: PortRange::single(port(&mut rng)),
            ..AclRule::any([AclAction::Deny, AclAction::Permit][rng.below(2) as usize])
        })
        .collect();
    let (a, b) = rules.split_at(4100);
    let lists = [(0, a), (1, b)];
    // (Classifier::build would take the tuple space alone here: one tuple.)
    let mut classifiers = Vec::new();
    for fields in [ClassifierFields::All, ClassifierFields::Addresses] {
        let whole = Classifier::build_within(lists, classifier::HEAD_BUDGET_BYTES, fields);
        assert_eq!(whole.bit_vector_rules(), 10_000);
        classifiers.push(whole);
        for head in [4096usize, 4160] {
            let budget = Classifier::build_within([(0, &rules[..head])], usize::MAX, fields)
                .bit_vector_bytes()
                .0;
            let cut = Classifier::build_within(lists, budget, fields);
            assert_eq!(cut.bit_vector_rules(), head);
            classifiers.push(cut);
        }
    }
    let mut past = 0;
    for _ in 0..20_000 {
        let p = AclPacketInfo {
            src: host(&mut rng).addr,
            dst: host(&mut rng).addr,
            proto: [6, 17][rng.below(2) as usize],
            sport: port(&mut rng),
            dport: port(&mut rng),
            tcp_flags: 0,
            l4_valid: true,
            nonfirst_fragment: false,
        };
        let expected = lists
            .iter()
            .flat_map(|&(acl, rs)| rs.iter().enumerate().map(move |(i, r)| (acl, i as u32, r)))
            .find(|(_, _, r)| naive_matches(r, &p))
            .map(|(acl, i, r)| (acl, i, r.action));
        past += usize::from(matches!(expected, Some((1, _, _))));
        for c in &classifiers {
            let got = c.lookup(&p).map(|m| (m.acl, m.rule, m.action));
            assert_eq!(got, expected, "head {}, {p:?}", c.bit_vector_rules());
        }
    }
    assert!(past > 1_000, "only {past} first matches past rule 4100");
}

/// Lists of up to SHORT_LIST rules take no bit vectors (nor their class tables); one
/// more rule does.
#[test]
fn short_lists_are_tuple_space_alone() {
    let mut rng = FastRng::new(0x5407);
    let pool: Vec<u32> = (0..8).map(|_| rng.next_u64() as u32).collect();
    let rules: Vec<AclRule> = (0..=classifier::SHORT_LIST)
        .map(|_| random_rule(&mut rng, &pool))
        .collect();
    let short = Classifier::build([(0, &rules[..classifier::SHORT_LIST])]);
    let long = Classifier::build([(0, &rules[..])]);
    assert_eq!(short.bit_vector_rules(), 0);
    assert!(short.tuple_count() > 0);
    assert!(
        short.memory_bytes() < 64 << 10,
        "{} bytes",
        short.memory_bytes()
    );
    // These rules are varied enough that a lookup would probe many tuples.
    assert_eq!(long.bit_vector_rules(), rules.len());
    for _ in 0..20_000 {
        let p = random_packet(&mut rng, &pool);
        for (c, n) in [(&short, classifier::SHORT_LIST), (&long, rules.len())] {
            let expected = rules[..n]
                .iter()
                .position(|r| naive_matches(r, &p))
                .map(|i| (i as u32, rules[i].action));
            assert_eq!(c.lookup(&p).map(|m| (m.rule, m.action)), expected, "{p:?}");
        }
    }
}

/// The tuple space alone when its lookups end early (deny TCP and deny UDP first, from
/// anywhere to anywhere: one tuple, one probe), bit vectors when they would visit many
/// tuples (rules of every prefix length, protocol and port shape, as the acl bench's
/// uniform set).
#[test]
fn tuple_space_alone_when_its_lookups_end_early() {
    let mut rng = FastRng::new(0x7e57);
    // As the acl bench's uniform set: any prefix length, any protocol or TCP or UDP, ports
    // any, single or a range.
    let varied: Vec<AclRule> = (0..1000)
        .map(|_| {
            let mut prefix = || {
                let len = rng.below(33) as u8;
                Ipv4Prefix::new(Ipv4Addr::from_bits(rng.next_u64() as u32), len)
                    .unwrap()
                    .network()
            };
            let (src, dst) = (prefix(), prefix());
            let mut range = || match rng.below(3) {
                0 => PortRange::ANY,
                1 => PortRange::single(rng.below(1 << 16) as u16),
                _ => {
                    let lo = rng.below(60_000) as u16;
                    PortRange::new(lo, lo + rng.below(5000) as u16).unwrap()
                }
            };
            let (sport, dport) = (range(), range());
            AclRule {
                src,
                dst,
                proto: [0, 6, 6, 17][rng.below(4) as usize],
                sport,
                dport,
                ..AclRule::any(AclAction::Permit)
            }
        })
        .collect();
    let deny = |proto| AclRule {
        proto,
        ..AclRule::any(AclAction::Deny)
    };
    let broad_first: Vec<AclRule> = [deny(ip_proto::TCP), deny(ip_proto::UDP)]
        .into_iter()
        .chain(varied.iter().copied())
        .collect();
    let early = Classifier::build([(0, &broad_first[..])]);
    assert_eq!(early.reachable_rules(), 1002);
    assert_eq!(early.bit_vector_rules(), 0);
    assert!(early.tuple_count() > 1);
    let late = Classifier::build([(0, &varied[..])]);
    assert_eq!(late.bit_vector_rules(), 1000);
    // Varied prefixes: few rules admit both addresses of a packet.
    assert_eq!(late.bit_vector_fields(), Some(ClassifierFields::Addresses));
    // Where every other rule admits any address and one port pair, a lookup on the
    // addresses would read most of those before its match: the prefix index lists the
    // varied rules under their prefixes, and its vectors cover the five fields of the
    // others.
    let broad: Vec<AclRule> = varied
        .iter()
        .enumerate()
        .map(|(i, r)| match i % 2 {
            0 => AclRule {
                src: prefix("0.0.0.0/0"),
                dst: prefix("0.0.0.0/0"),
                proto: ip_proto::TCP,
                sport: PortRange::single(rng.below(1 << 16) as u16),
                dport: PortRange::single(rng.below(1 << 16) as u16),
                ..*r
            },
            _ => *r,
        })
        .collect();
    let all = Classifier::build([(0, &broad[..])]);
    let (.., short) = all.prefix_index_parts().unwrap();
    assert!((500..600).contains(&short), "{short}");
    let p = tcp("10.1.1.3", 1234, "10.20.0.2", 80, SYN);
    assert_eq!(
        early.lookup(&p).map(|m| (m.rule, m.action)),
        Some((0, AclAction::Deny))
    );
}

/// Rules behind one that matches every packet are left out of the lookup (and the
/// classifier says so), and lookups still give the naive first match: a list of two
/// ACLs with a permit-any at rule 100 of the second, so that the rules left out span the
/// rest of it.
#[test]
fn rules_behind_a_match_all_rule_are_left_out() {
    let mut rng = FastRng::new(0x4a11);
    let pool: Vec<u32> = (0..30).map(|_| rng.next_u64() as u32).collect();
    let first: Vec<AclRule> = (0..200).map(|_| random_rule(&mut rng, &pool)).collect();
    let mut second: Vec<AclRule> = (0..800).map(|_| random_rule(&mut rng, &pool)).collect();
    // Not a match-all: a protocol, or a prefix.
    second[40] = AclRule {
        proto: ip_proto::UDP,
        ..AclRule::any(AclAction::Deny)
    };
    second[50] = AclRule {
        src: prefix("0.0.0.0/1"),
        ..AclRule::any(AclAction::Deny)
    };
    second[100] = AclRule::any(AclAction::Permit);
    let lists = [(0, &first[..]), (1, &second[..])];
    let ordered = in_list_order(&lists);
    assert!(
        ordered[..300]
            .iter()
            .all(|(_, _, r)| r.src.len + r.dst.len > 0 || r.proto != 0),
        "no earlier match-all in this draw"
    );
    let classifiers = [
        Classifier::build(lists),
        Classifier::build_within(lists, usize::MAX, ClassifierFields::All),
    ];
    for c in &classifiers {
        assert_eq!(c.rule_count(), 1000);
        assert_eq!(c.reachable_rules(), 301);
    }
    assert!(
        classifiers[0]
            .describe()
            .starts_with("1000 rules (699 behind a rule that matches every packet: left out), "),
        "{}",
        classifiers[0].describe()
    );
    let mut permitted_any = 0;
    for _ in 0..20_000 {
        let p = random_packet(&mut rng, &pool);
        let expected = naive_first_match(&ordered, &p);
        permitted_any += usize::from(expected == Some((1, 100, AclAction::Permit)));
        for c in &classifiers {
            assert_eq!(c.lookup(&p).map(|m| (m.acl, m.rule, m.action)), expected);
        }
    }
    assert!(permitted_any > 1000, "{permitted_any}");
}

/// A TCP rule whose flags value lies outside its mask (the ACL table refuses it, so only
/// a direct build makes one) matches nothing, in the bit vectors as in the tuple space.
#[test]
fn flags_value_outside_the_mask_matches_nothing() {
    let odd = AclRule {
        proto: ip_proto::TCP,
        dport: PortRange::single(80),
        tcp_flags_value: SYN,
        tcp_flags_mask: 0,
        ..AclRule::any(AclAction::Permit)
    };
    assert!(odd.validate().is_err());
    let elsewhere = AclRule {
        dst: prefix("192.0.2.0/24"),
        ..AclRule::any(AclAction::Deny)
    };
    let rules: Vec<AclRule> = std::iter::once(odd)
        .chain(std::iter::repeat_n(elsewhere, 2 * classifier::SHORT_LIST))
        .collect();
    let p = tcp("10.1.1.3", 1234, "10.20.0.2", 80, SYN);
    assert!(!naive_matches(&odd, &p));
    for classifier in [
        Classifier::build_within([(0, &rules[..])], usize::MAX, ClassifierFields::All),
        Classifier::build_within([(0, &rules[..])], usize::MAX, ClassifierFields::Addresses),
        Classifier::build([(0, &rules[..1])]),
    ] {
        assert_eq!(classifier.lookup(&p), None);
    }
}

fn edge_rule(rng: &mut FastRng, pool: &[u32]) -> AclRule {
    let pick = |rng: &mut FastRng, n: usize| rng.below(n as u64) as usize;
    let pfx = |rng: &mut FastRng| {
        let base = pool[pick(rng, pool.len())];
        let len = [
            0u8, 1, 8, 16, 24, 31, 32, 32, 32, 32, 31, 24, 28, 30, 32, 32,
        ][pick(rng, 16)];
        Ipv4Prefix::new(Ipv4Addr::from_bits(base), len).unwrap()
    };
    let src = pfx(rng);
    let dst = pfx(rng);
    let range = |rng: &mut FastRng| {
        let r = [
            (0u16, 65535u16),
            (0, 0),
            (65535, 65535),
            (65534, 65535),
            (0, 1),
            (1, 65535),
            (0, 65534),
            (8, 8),
            (0, 8),
            (1000, 2000),
            (2000, 65535),
        ][pick(rng, 11)];
        PortRange::new(r.0, r.1).unwrap()
    };
    let sport = range(rng);
    let dport = range(rng);
    let proto = [0u8, 6, 6, 17, 17, 1, 1, 47, 6, 6, 17][pick(rng, 11)];
    let (v, m) = [
        (0u8, 0u8),
        (SYN, SYN),
        (SYN, SYN | ACK),
        (0, ACK),
        (0, 0xff),
        (0xff, 0xff),
    ][pick(rng, 6)];
    AclRule {
        action: [AclAction::Deny, AclAction::Permit, AclAction::PermitReflect][pick(rng, 3)],
        src,
        dst,
        proto,
        sport,
        dport,
        tcp_flags_value: v,
        tcp_flags_mask: m,
    }
}

fn edge_packet(rng: &mut FastRng, pool: &[u32]) -> AclPacketInfo {
    let pick = |rng: &mut FastRng, n: usize| rng.below(n as u64) as usize;
    let addr = |rng: &mut FastRng| {
        let base = pool[pick(rng, pool.len())];
        Ipv4Addr::from_bits(match pick(rng, 4) {
            0 => base,
            1 => base ^ 1,
            2 => base ^ (rng.below(1 << 9) as u32),
            _ => rng.next_u64() as u32,
        })
    };
    let port = |rng: &mut FastRng| {
        [
            0u16,
            1,
            7,
            8,
            9,
            999,
            1000,
            2000,
            2001,
            65534,
            65535,
            rng.below(65536) as u16,
        ][pick(rng, 12)]
    };
    AclPacketInfo {
        src: addr(rng),
        dst: addr(rng),
        proto: [0u8, 6, 6, 17, 1, 47, 255][pick(rng, 7)],
        sport: port(rng),
        dport: port(rng),
        tcp_flags: rng.below(256) as u8,
        l4_valid: rng.below(5) != 0,
        nonfirst_fragment: rng.below(6) == 0,
    }
}

/// Edge cases against the naive first match: an empty ACL in the middle of the list,
/// the same ACL three times, ACLs of 64, 127, 129 and 300 rules (head cuts on and off
/// word boundaries), prefixes /0, /1, /31, /32 at both ends of the address space, port
/// ranges ending at 0 and 65535, flags on any protocol, packets of protocol 0 and 255,
/// without L4 or non-first fragments, most of them aimed at one rule's edges; at three
/// head sizes. (From a review by a helper.)
#[test]
fn edge_cases_agree_with_naive_first_match() {
    let mut rng = FastRng::new(0x007e_51e4);
    let pool: Vec<u32> = vec![
        0,
        u32::MAX,
        0x0a00_0001,
        0x0a00_0002,
        0x8000_0000,
        0x7fff_ffff,
        0xc0a8_0101,
    ];
    let valid_rules = |n: usize, rng: &mut FastRng| -> Vec<AclRule> {
        (0..n)
            .map(|_| loop {
                let r = edge_rule(rng, &pool);
                if r.validate().is_ok() {
                    break r;
                }
            })
            .collect()
    };
    let a = valid_rules(64, &mut rng);
    let empty: Vec<AclRule> = Vec::new();
    let b = valid_rules(127, &mut rng);
    let c = valid_rules(129, &mut rng);
    let d = valid_rules(300, &mut rng);
    let lists: Vec<(u32, &[AclRule])> = vec![
        (7, &a[..]),
        (1, &empty[..]),
        (7, &a[..]),
        (2, &b[..]),
        (1, &empty[..]),
        (3, &c[..]),
        (7, &a[..]),
        (4, &d[..]),
    ];
    let ordered = in_list_order(&lists);
    let mut classifiers = Vec::new();
    for fields in [ClassifierFields::All, ClassifierFields::Addresses] {
        let full = Classifier::build_within(lists.iter().copied(), usize::MAX, fields);
        let quarter = full.bit_vector_bytes().0 / 4;
        classifiers.extend([
            Classifier::build_within(lists.iter().copied(), 0, fields),
            Classifier::build_within(lists.iter().copied(), quarter, fields),
            full,
        ]);
    }
    let mut matched = std::collections::BTreeSet::new();
    for _ in 0..40_000 {
        let mut p = edge_packet(&mut rng, &pool);
        if rng.below(4) != 0 {
            // Aimed at a rule: inside its prefixes, its protocol, an end of its ranges.
            let r = ordered[rng.below(ordered.len() as u64) as usize].2;
            let inside = |rng: &mut FastRng, pf: Ipv4Prefix| {
                let m = pf.mask();
                let host = rng.next_u64() as u32 & !m & [0u32, 1, u32::MAX][rng.below(3) as usize];
                Ipv4Addr::from_bits(pf.addr.to_bits() & m | host)
            };
            p.src = inside(&mut rng, r.src);
            p.dst = inside(&mut rng, r.dst);
            if r.proto != 0 {
                p.proto = r.proto;
            }
            let end = |rng: &mut FastRng, pr: PortRange| {
                [pr.lo, pr.hi, pr.lo.wrapping_sub(1), pr.hi.wrapping_add(1)][rng.below(4) as usize]
            };
            if rng.below(2) == 0 {
                p.sport = end(&mut rng, r.sport);
            }
            if rng.below(2) == 0 {
                p.dport = end(&mut rng, r.dport);
            }
            if rng.below(2) == 0 {
                p.tcp_flags = r.tcp_flags_value;
            }
        }
        let expected = naive_first_match(&ordered, &p);
        if let Some((acl, rule, _)) = expected {
            matched.insert((acl, rule / 64));
        }
        for c in &classifiers {
            let got = c.lookup(&p).map(|m| (m.acl, m.rule, m.action));
            assert_eq!(got, expected, "head {}, {p:?}", c.bit_vector_rules());
        }
    }
    // First matches in every ACL with rules, and in each of their 64-rule words but a
    // last one of a single rule.
    for (acl, words) in [(7, 1), (2, 2), (3, 2), (4, 5)] {
        for word in 0..words {
            assert!(
                matched.contains(&(acl, word)),
                "no first match in ACL {acl}, rules {}..",
                word * 64
            );
        }
    }
}

fn reflective_pod(max_sessions: usize) -> (AclTable, AclConfig) {
    let mut table = AclTable::new();
    let reflect = table
        .create(vec![rule(AclAction::PermitReflect)], "reflect")
        .unwrap();
    let only_dns = AclRule {
        proto: ip_proto::UDP,
        sport: PortRange::single(53),
        ..rule(AclAction::Permit)
    };
    let local = table.create(vec![only_dns], "local").unwrap();
    table
        .set_interface_acl(POD, Direction::Input, reflect, false)
        .unwrap();
    table
        .set_interface_acl(POD, Direction::Output, local, false)
        .unwrap();
    table.set_max_sessions(max_sessions).unwrap();
    let config = table.build();
    (table, config)
}

#[test]
fn reflected_session_admits_the_reply_and_nothing_else() {
    let (_, config) = reflective_pod(16);
    let mut worker = AclWorker::new(&config);
    let syn = tcp("10.1.1.3", 40000, "10.1.1.9", 80, SYN);
    let v = worker.classify(&config, POD, Direction::Input, &syn, 0);
    assert_eq!((v.action, v.acl), (2, 0));
    assert_eq!(worker.session_count(), 1);

    let syn_ack = tcp("10.1.1.9", 80, "10.1.1.3", 40000, SYN_ACK);
    let v = worker.classify(&config, POD, Direction::Output, &syn_ack, SECOND);
    assert_eq!(
        (v.action, v.acl, v.rule, v.trace_bits),
        (3, -1, 0, 0x8000_0000)
    );

    // An unrelated packet towards the pod falls to the local ACL and is denied.
    let stranger = tcp("10.1.1.9", 80, "10.1.1.3", 40001, SYN_ACK);
    let v = worker.classify(&config, POD, Direction::Output, &stranger, SECOND);
    assert_eq!(
        (v.action, v.permit, v.drop),
        (0, false, Some(AclDrop::Deny))
    );
    // The reply arriving on another interface's ingress is not this session's.
    let v = worker.classify(&config, TAP0, Direction::Input, &syn_ack, SECOND);
    assert_eq!(v, AclVerdict::NO_ACL);
    // The session is bound to its direction: the reply's tuple entering the pod is not it.
    let v = worker.classify(&config, POD, Direction::Input, &syn_ack, SECOND);
    assert_eq!(v.action, 2);

    assert_eq!(worker.counters().session_hits, 1);
    assert_eq!(worker.counters().sessions_created, 2);
}

/// What ip4-flow-cache may remember of a flow instead of asking the engine: nothing to
/// ask on an interface without ACLs, a watch where only sessions apply, the session once
/// there is one; where rules apply and no session holds the key, nothing, so that the
/// rules (and their hit counters) see every packet. Only a real session counts a hit.
#[test]
fn session_handles_leave_every_packet_to_the_rules_where_they_apply() {
    let mut table = AclTable::new();
    let reflect = table
        .create(vec![rule(AclAction::PermitReflect)], "reflect")
        .unwrap();
    table
        .set_interface_acl(POD, Direction::Input, reflect, false)
        .unwrap();
    let config = table.build();
    let mut worker = AclWorker::new(&config);
    let syn = tcp("10.1.1.3", 40000, "10.1.1.9", 80, SYN);
    let syn_ack = tcp("10.1.1.9", 80, "10.1.1.3", 40000, SYN_ACK);
    assert_eq!(
        worker.session_handle(&config, TAP0, Direction::Input, &syn),
        Some(SessionHandle::NONE)
    );
    assert_eq!(
        worker.session_handle(&config, POD, Direction::Input, &syn),
        None
    );
    let watch = worker
        .session_handle(&config, POD, Direction::Output, &syn_ack)
        .unwrap();
    assert!(watch.is_watch());
    for handle in [SessionHandle::NONE, watch] {
        worker.hit_session(handle, SECOND, Some(SYN_ACK));
    }
    assert_eq!(worker.counters().session_hits, 0);

    worker.classify(&config, POD, Direction::Input, &syn, 0);
    let session = worker
        .session_handle(&config, POD, Direction::Output, &syn_ack)
        .unwrap();
    assert!(session.is_session());
    worker.hit_session(session, SECOND, Some(SYN_ACK));
    assert_eq!(worker.counters().session_hits, 1);
}

/// The reflective pod after its echo request to 8.8.8.8 created a session.
fn after_echo_request() -> (AclConfig, AclWorker) {
    let (_, config) = reflective_pod(16);
    let mut worker = AclWorker::new(&config);
    let request = icmp("10.1.1.3", "8.8.8.8", 8, 0);
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Input, &request, 0)
            .action,
        2
    );
    (config, worker)
}

#[test]
fn icmp_echo_reply_matches_the_echo_request_session() {
    let (config, mut worker) = after_echo_request();
    let reply = icmp("8.8.8.8", "10.1.1.3", 0, 0);
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Output, &reply, 0)
            .action,
        3
    );
    let unreachable = icmp("8.8.8.8", "10.1.1.3", 3, 0);
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Output, &unreachable, 0)
            .action,
        0
    );
}

/// Only an ICMP request opens a session through permit+reflect (VPP's icmp4_valid_new):
/// an unreachable, or an echo reply, the pod sends is let through without one, and so
/// opens no way back in for the same type or for a request.
#[test]
fn only_icmp_requests_open_a_way_back() {
    let (_, config) = reflective_pod(16);
    let mut worker = AclWorker::new(&config);
    for (out_type, back_type) in [(3, 3), (0, 8), (11, 11)] {
        let sent = icmp("10.1.1.3", "8.8.8.8", out_type, 3);
        let v = worker.classify(&config, POD, Direction::Input, &sent, 0);
        assert_eq!(
            (v.action, v.permit),
            (2, true),
            "type {out_type} is let out"
        );
        let back = icmp("8.8.8.8", "10.1.1.3", back_type, 3);
        let v = worker.classify(&config, POD, Direction::Output, &back, 0);
        assert_eq!(
            (v.action, v.permit),
            (0, false),
            "type {back_type} in after {out_type}"
        );
    }
    assert_eq!(worker.session_count(), 0);
    for request in [8, 13, 15, 17] {
        let sent = icmp("10.1.1.3", "8.8.8.8", request, 0);
        worker.classify(&config, POD, Direction::Input, &sent, 0);
    }
    assert_eq!(worker.session_count(), 4, "each request opens one");
}

/// The reply's non-first fragments carry no ICMP header; like VPP, their key has no
/// ports, the same as the echo reply's type 0 code 0, so they too hit the session.
#[test]
fn non_first_fragments_of_an_echo_reply_hit_the_request_session() {
    let (config, mut worker) = after_echo_request();
    let fragment = AclPacketInfo {
        sport: 0,
        dport: 0,
        l4_valid: false,
        nonfirst_fragment: true,
        ..icmp("8.8.8.8", "10.1.1.3", 0, 0)
    };
    let v = worker.classify(&config, POD, Direction::Output, &fragment, 0);
    assert_eq!((v.action, v.permit), (3, true));
    assert_eq!(worker.session_count(), 1);
}

/// A non-first fragment of the pod's echo request makes no session of its own: its
/// key has no ports, and the reply's key it would take is the request session's. It
/// joins that session as a hit would (refreshed, so the reply is still let in after
/// the request's own timeout), and counts no creation; had the session expired, it
/// goes, and the fragment makes a new one.
#[test]
fn a_packet_joining_a_session_refreshes_it_and_counts_no_creation() {
    let fragment = AclPacketInfo {
        sport: 0,
        dport: 0,
        l4_valid: false,
        nonfirst_fragment: true,
        ..icmp("10.1.1.3", "8.8.8.8", 8, 0)
    };
    let reply = icmp("8.8.8.8", "10.1.1.3", 0, 0);
    let (config, mut worker) = after_echo_request();
    let v = worker.classify(&config, POD, Direction::Input, &fragment, 500 * SECOND);
    assert_eq!((v.action, v.acl, v.permit), (2, 0, true));
    assert_eq!(worker.session_count(), 1);
    assert_eq!(worker.counters().sessions_created, 1, "the fragment joined");
    // The request (second 0) alone would have expired at 601 s; the fragment was heard
    // in second 500.
    let v = worker.classify(&config, POD, Direction::Output, &reply, 700 * SECOND);
    assert_eq!((v.action, v.permit), (3, true));

    let (config, mut worker) = after_echo_request();
    let v = worker.classify(&config, POD, Direction::Input, &fragment, 700 * SECOND);
    assert_eq!((v.action, v.permit), (2, true));
    assert_eq!(worker.session_count(), 1);
    assert_eq!(
        worker.counters().sessions_created,
        2,
        "the expired session gave way to the fragment's"
    );
    // The fragment's own session admits the reply's fragments (and the reply: its key
    // reads the same).
    let v = worker.classify(&config, POD, Direction::Output, &reply, 700 * SECOND);
    assert_eq!((v.action, v.permit), (3, true));
}

/// Lowering the limit below the live count evicts down to it, a bounded number per
/// reclaim (which says there is more to do until then), in the order a full table
/// gives sessions up: the closed connection, the transient ones, then the least
/// recently heard. Meanwhile and afterwards, new flows get no session beyond the limit.
#[test]
fn lowering_the_session_limit_evicts_down_to_it_in_bounded_steps() {
    let (mut table, config) = reflective_pod(16);
    let mut worker = AclWorker::new(&config);
    let (input, output) = (Direction::Input, Direction::Output);
    let syn = |port: u16| tcp("10.1.1.3", port, "10.1.1.9", 80, SYN);
    let request = |port: u16| udp("10.1.1.3", port, "10.1.1.9", 80);
    let reply = |port: u16| udp("10.1.1.9", 80, "10.1.1.3", port);
    let echo = icmp("10.1.1.3", "10.1.1.9", 8, 0);
    for port in [1, 2, 3] {
        worker.classify(&config, POD, input, &syn(port), 0);
    }
    // Port 3's connection is reset: closed.
    let rst = tcp("10.1.1.3", 3, "10.1.1.9", 80, RST);
    assert_eq!(worker.classify(&config, POD, input, &rst, 0).action, 3);
    for port in 100..106 {
        worker.classify(&config, POD, input, &request(port), 0);
    }
    worker.classify(&config, POD, input, &echo, 2 * SECOND);
    assert_eq!(worker.session_count(), 10);
    // Done with the first snapshot's sweep (a backlog of its own).
    assert_eq!(worker.reclaim_expired(&config, 2 * SECOND, 64), 0);

    table.set_max_sessions(4).unwrap();
    let lower = table.build();
    worker.install(&lower);
    let now = 3 * SECOND;
    let mut left = Vec::new();
    for _ in 0..3 {
        assert_eq!(worker.reclaim_expired(&lower, now, 2), 2);
        assert_eq!(worker.reclaim_backlog(), worker.session_count() > 4);
        left.push(worker.session_count());
    }
    assert_eq!(left, [8, 6, 4]);
    assert_eq!(worker.reclaim_expired(&lower, now, 2), 0, "at the limit");
    assert!(!worker.reclaim_backlog());
    // Left: the three UDP flows and the echo heard last.
    let kept: Vec<(u8, u16)> = worker.sessions(now).map(|s| (s.proto, s.sport)).collect();
    let mut kept = kept;
    kept.sort();
    assert_eq!(
        kept,
        [
            (ip_proto::ICMP, 8),
            (ip_proto::UDP, 103),
            (ip_proto::UDP, 104),
            (ip_proto::UDP, 105)
        ]
    );
    assert_eq!(
        worker
            .classify(&lower, POD, output, &reply(105), now)
            .action,
        3
    );
    // Full at the new limit, with nothing to recycle: a new flow is refused.
    let v = worker.classify(&lower, POD, input, &request(200), now);
    assert_eq!(v.drop, Some(AclDrop::TooManySessions));
    assert_eq!(worker.session_count(), 4);

    // Lowered again, below what is live: a new flow evicts towards the limit (a few
    // sessions at most), and finds the table full; it never holds more than the limit
    // again.
    table.set_max_sessions(1).unwrap();
    let lowest = table.build();
    worker.install(&lowest);
    let v = worker.classify(&lowest, POD, input, &request(201), now);
    assert_eq!(v.drop, Some(AclDrop::TooManySessions));
    assert_eq!(worker.session_count(), 1);
    let v = worker.classify(&lowest, POD, input, &request(202), now);
    assert_eq!(v.drop, Some(AclDrop::TooManySessions));
    assert_eq!(worker.session_count(), 1);

    // Raised again: room for new sessions, and the one kept is still found.
    table.set_max_sessions(32).unwrap();
    let raised = table.build();
    worker.install(&raised);
    assert_eq!(
        worker
            .classify(&raised, POD, input, &request(203), now)
            .action,
        2
    );
    assert_eq!(worker.session_count(), 2);
    assert_eq!(
        worker
            .classify(&raised, POD, output, &reply(105), now)
            .action,
        3,
        "port 105's flow, heard last (its reply above), was kept"
    );
}

#[test]
fn sessions_time_out_by_type_with_the_injected_clock() {
    let (mut table, _) = reflective_pod(16);
    table.set_session_timeout(TimeoutKind::Udp, 30).unwrap();
    let config = table.build();
    let mut worker = AclWorker::new(&config);
    let query = udp("10.1.1.3", 5353, "10.96.0.10", 53);
    let answer = udp("10.96.0.10", 53, "10.1.1.3", 5353);
    worker.classify(&config, POD, Direction::Input, &query, 0);
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Output, &answer, 29 * SECOND)
            .action,
        3
    );
    // Refreshed in second 29: still there at 58 s; gone 30 s after the end of the
    // second of the last packet (58 s), at 89 s.
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Output, &answer, 58 * SECOND)
            .action,
        3
    );
    assert_eq!(worker.reclaim_expired(&config, 89 * SECOND - 1, 8), 0);
    assert_eq!(worker.session_count(), 1);
    assert_eq!(worker.reclaim_expired(&config, 89 * SECOND, 8), 1);
    assert_eq!(worker.session_count(), 0);
    // The reply now falls to the local ACL (it allows sport 53 from anywhere).
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Output, &answer, 90 * SECOND)
            .action,
        1
    );

    // TCP: transient (120 s) until SYN and ACK both ways, then established (24 h).
    let syn = tcp("10.1.1.3", 40000, "10.1.1.9", 80, SYN);
    let syn_ack = tcp("10.1.1.9", 80, "10.1.1.3", 40000, SYN_ACK);
    let ack = tcp("10.1.1.3", 40000, "10.1.1.9", 80, ACK);
    let t0 = 1000 * SECOND;
    worker.classify(&config, POD, Direction::Input, &syn, t0);
    worker.classify(&config, POD, Direction::Output, &syn_ack, t0);
    assert_eq!(
        worker.sessions(t0).next().map(|s| s.kind),
        Some(TimeoutKind::TcpTransient)
    );
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Input, &ack, t0)
            .action,
        3
    );
    assert_eq!(
        worker.sessions(t0).next().map(|s| s.kind),
        Some(TimeoutKind::TcpEstablished)
    );
    let an_hour_later = t0 + 3600 * SECOND;
    assert_eq!(worker.reclaim_expired(&config, an_hour_later, 8), 0);
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Output, &syn_ack, an_hour_later)
            .action,
        3
    );
    let fin = tcp("10.1.1.3", 40000, "10.1.1.9", 80, FIN_ACK);
    worker.classify(&config, POD, Direction::Input, &fin, an_hour_later);
    assert_eq!(
        worker.sessions(an_hour_later).next().map(|s| s.kind),
        Some(TimeoutKind::TcpTransient)
    );
    assert_eq!(
        worker.reclaim_expired(&config, an_hour_later + 121 * SECOND - 1, 8),
        0
    );
    assert_eq!(
        worker.reclaim_expired(&config, an_hour_later + 121 * SECOND, 8),
        1
    );
}

/// An established TCP session lives VPP's default 24 h (86 400 s) from the end of the
/// second of its last packet: kept a nanosecond before, reclaimed at it.
#[test]
fn an_established_tcp_session_is_reclaimed_24_hours_after_its_last_second() {
    let (_, config) = reflective_pod(16);
    let mut worker = AclWorker::new(&config);
    let syn = tcp("10.1.1.3", 40000, "10.1.1.9", 80, SYN);
    let syn_ack = tcp("10.1.1.9", 80, "10.1.1.3", 40000, SYN_ACK);
    let ack = tcp("10.1.1.3", 40000, "10.1.1.9", 80, ACK);
    let t0 = 1000 * SECOND;
    worker.classify(&config, POD, Direction::Input, &syn, t0);
    worker.classify(&config, POD, Direction::Output, &syn_ack, t0);
    // The last packet, in second 1000 (its end: 1001 s).
    let last = t0 + SECOND / 2;
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Input, &ack, last)
            .action,
        3
    );
    assert_eq!(
        worker.sessions(last).next().map(|s| s.kind),
        Some(TimeoutKind::TcpEstablished)
    );
    let expiry = 1001 * SECOND + 86_400 * SECOND;
    assert_eq!(worker.reclaim_expired(&config, expiry - 1, 8), 0);
    assert_eq!(worker.session_count(), 1);
    assert_eq!(worker.reclaim_expired(&config, expiry, 8), 1);
    assert_eq!(worker.session_count(), 0);
}

#[test]
fn expired_session_is_not_hit_before_it_is_reclaimed() {
    let (_, config) = reflective_pod(16);
    let mut worker = AclWorker::new(&config);
    let query = udp("10.1.1.3", 5000, "1.1.1.1", 5000);
    let answer = udp("1.1.1.1", 5000, "10.1.1.3", 5000);
    worker.classify(&config, POD, Direction::Input, &query, 0);
    // 600 s from the end of the second the query came in.
    let v = worker.classify(&config, POD, Direction::Output, &answer, 601 * SECOND);
    assert_eq!((v.action, v.drop), (0, Some(AclDrop::Deny)));
    assert_eq!(worker.session_count(), 0);
}

#[test]
fn reclaiming_is_bounded_per_call() {
    let (_, config) = reflective_pod(64);
    let mut worker = AclWorker::new(&config);
    for port in 0..40 {
        let p = udp("10.1.1.3", 1000 + port, "1.1.1.1", 53);
        worker.classify(&config, POD, Direction::Input, &p, 0);
    }
    assert_eq!(worker.session_count(), 40);
    let late = 601 * SECOND;
    assert_eq!(worker.reclaim_expired(&config, late, 16), 16);
    assert_eq!(worker.reclaim_expired(&config, late, 16), 16);
    assert_eq!(worker.reclaim_expired(&config, late, 16), 8);
    assert_eq!(worker.session_count(), 0);
}

#[test]
fn full_table_recycles_the_oldest_transient_tcp_session_else_drops() {
    let (_, config) = reflective_pod(2);
    let mut worker = AclWorker::new(&config);
    let first = tcp("10.1.1.3", 1, "10.1.1.9", 80, SYN);
    let second = tcp("10.1.1.3", 2, "10.1.1.9", 80, SYN);
    let third = tcp("10.1.1.3", 3, "10.1.1.9", 80, SYN);
    // The third comes when the first has been idle 2 s from the end of its second.
    for (p, second) in [(first, 0), (second, 1), (third, 3)] {
        let v = worker.classify(&config, POD, Direction::Input, &p, second * SECOND);
        assert_eq!(v.action, 2);
    }
    assert_eq!(worker.session_count(), 2);
    let reply = |p: &AclPacketInfo| tcp("10.1.1.9", 80, "10.1.1.3", p.sport, SYN_ACK);
    let at = 4 * SECOND;
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Output, &reply(&first), at)
            .action,
        0
    );
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Output, &reply(&second), at)
            .action,
        3
    );
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Output, &reply(&third), at)
            .action,
        3
    );

    // With only UDP sessions there is nothing to recycle: the packet is dropped.
    let (_, config) = reflective_pod(2);
    let mut worker = AclWorker::new(&config);
    for port in 1..=2 {
        let p = udp("10.1.1.3", port, "1.1.1.1", 53);
        assert_eq!(
            worker
                .classify(&config, POD, Direction::Input, &p, 0)
                .action,
            2
        );
    }
    let p = udp("10.1.1.3", 3, "1.1.1.1", 53);
    let v = worker.classify(&config, POD, Direction::Input, &p, SECOND);
    assert_eq!((v.permit, v.drop), (false, Some(AclDrop::TooManySessions)));
    assert_eq!((v.acl, v.rule), (0, 0));
    assert_eq!(
        v.drop_reason(Direction::Input),
        Some(DropReason::of(AclInError::TooManySessions))
    );
    assert_eq!(worker.counters().too_many_sessions, 1);
    // Once one expires, there is room again.
    let v = worker.classify(&config, POD, Direction::Input, &p, 601 * SECOND);
    assert_eq!(v.action, 2);
}

/// A full table gives up a closed connection's session at any age, and an unclosed
/// transient one only once idle 2 s: a handshake under way keeps its session, so its
/// reply is still let out; the new flow is refused meanwhile.
#[test]
fn full_table_keeps_a_handshake_under_way_and_gives_up_a_closed_connection() {
    let (_, config) = reflective_pod(2);
    let mut worker = AclWorker::new(&config);
    let mut classify =
        |p: &AclPacketInfo, direction, at| worker.classify(&config, POD, direction, p, at);
    let syn = |port| tcp("10.1.1.3", port, "10.1.1.9", 80, SYN);
    let (input, output) = (Direction::Input, Direction::Output);
    assert_eq!(classify(&syn(1), input, 0).action, 2);
    assert_eq!(classify(&syn(2), input, 0).action, 2);
    let rst = tcp("10.1.1.3", 2, "10.1.1.9", 80, RST);
    assert_eq!(classify(&rst, input, 0).action, 3);
    // The closed connection's session goes, though the half-open one is older.
    assert_eq!(classify(&syn(3), input, SECOND).action, 2);
    let reply = tcp("10.1.1.9", 80, "10.1.1.3", 1, SYN_ACK);
    let v = classify(&reply, output, SECOND);
    assert_eq!(v.action, 3, "the handshake's reply still has its session");
    // Two unclosed sessions heard within 2 s: the next new flow is refused...
    let v = classify(&syn(4), input, 2 * SECOND);
    assert_eq!(v.drop, Some(AclDrop::TooManySessions));
    // ...until the one queued longest (the first, last heard in second 1, its reply)
    // has been idle 2 s from the end of that second.
    let v = classify(&syn(4), input, 4 * SECOND - 1);
    assert_eq!(v.drop, Some(AclDrop::TooManySessions));
    assert_eq!(classify(&syn(4), input, 4 * SECOND).action, 2);
    assert_eq!(worker.session_count(), 2);
}

/// Churn through a small table: 20 000 connections through 1000 slots, each opened,
/// answered and reset, with recycling at the limit. The table keeps only slot numbers and
/// compares the keys held in the slots, so after each round exactly as many replies (of
/// all the connections ever opened) hit a session as there are sessions, each a
/// different one: every live session is findable and no key outlives its session.
#[test]
fn churn_keeps_every_live_session_findable_and_nothing_else() {
    let (_, config) = reflective_pod(1000);
    let mut worker = AclWorker::new(&config);
    let request = |n: u32| {
        tcp(
            &format!("10.1.{}.{}", n / 250 % 250, n % 250 + 1),
            1024 + (n / 62_500) as u16,
            "10.1.1.9",
            80,
            SYN,
        )
    };
    let reply = |p: &AclPacketInfo, flags| tcp("10.1.1.9", 80, &p.src.to_string(), p.sport, flags);
    let index_allocation = worker.session_index_allocation();
    let mut now = 0;
    for round in 1..=4u32 {
        for n in (round - 1) * 5000..round * 5000 {
            now += 1000;
            let p = request(n);
            assert_eq!(
                worker
                    .classify(&config, POD, Direction::Input, &p, now)
                    .action,
                2,
                "connection {n}"
            );
            let v = worker.classify(&config, POD, Direction::Output, &reply(&p, SYN_ACK), now);
            assert_eq!(v.action, 3, "connection {n}'s reply");
            // The client resets: the session turns transient and can be recycled.
            let rst = tcp(&p.src.to_string(), p.sport, "10.1.1.9", 80, RST);
            assert_eq!(
                worker
                    .classify(&config, POD, Direction::Input, &rst, now)
                    .action,
                3
            );
        }
        assert_eq!(worker.session_count(), 1000);
        assert_eq!(worker.session_index_len(), 2000, "two keys per session");
        assert_eq!(
            worker.session_index_allocation(),
            index_allocation,
            "the index rehashed in place, never grew (an allocation)"
        );
        let mut hit = std::collections::HashSet::new();
        for n in 0..round * 5000 {
            let v = worker.classify(
                &config,
                POD,
                Direction::Output,
                &reply(&request(n), ACK),
                now,
            );
            if v.action == 3 {
                assert!(
                    hit.insert(v.rule),
                    "two connections share session {}",
                    v.rule
                );
            }
        }
        assert_eq!(hit.len(), 1000, "round {round}");
    }
}

#[test]
fn rule_and_acl_hits_are_counted_and_summed_across_workers() {
    let mut table = AclTable::new();
    let web = AclRule {
        proto: ip_proto::TCP,
        dport: PortRange::single(80),
        ..rule(AclAction::Permit)
    };
    let acl = table
        .create(vec![web, rule(AclAction::Deny)], "web")
        .unwrap();
    table
        .set_interface_acl(POD, Direction::Input, acl, false)
        .unwrap();
    let config = table.build();
    let mut one = AclWorker::new(&config);
    let mut two = AclWorker::new(&config);
    for _ in 0..3 {
        one.classify(
            &config,
            POD,
            Direction::Input,
            &tcp("1.1.1.1", 1, "2.2.2.2", 80, SYN),
            0,
        );
    }
    two.classify(
        &config,
        POD,
        Direction::Input,
        &tcp("1.1.1.1", 1, "2.2.2.2", 80, SYN),
        0,
    );
    two.classify(
        &config,
        POD,
        Direction::Input,
        &udp("1.1.1.1", 1, "2.2.2.2", 80),
        0,
    );
    assert_eq!(one.counters().rule(acl, 0), 3);
    let mut sum = one.counters().clone();
    sum.add(two.counters());
    assert_eq!(
        (sum.rule(acl, 0), sum.rule(acl, 1), sum.acl(acl)),
        (4, 1, 5)
    );
    assert_eq!(
        sum.format(&table),
        "acl-index 0 hits 5\n        0: hits 4\n        1: hits 1\n\
         session hits 0, sessions created 0, no-match denies 0, too many sessions 0\n"
            .replace("        0:", "          0:")
            .replace("        1:", "          1:")
    );
}

/// The main lcore sums the workers' copies into an empty total: the total takes the
/// shape of every ACL and rule it is given counts for, and the session counters sum as
/// the rule hits do.
#[test]
fn counters_sum_into_an_empty_total() {
    let (_, config) = reflective_pod(1);
    let mut worker = AclWorker::new(&config);
    // The query's session, one refused for the full table, the local ACL's permit and
    // its no-match deny: one of each counter.
    for (direction, packet) in [
        (Direction::Input, udp("10.1.1.3", 1000, "8.8.8.8", 53)),
        (Direction::Output, udp("8.8.8.8", 53, "10.1.1.3", 1000)),
        (Direction::Input, udp("10.1.1.3", 1001, "8.8.8.8", 53)),
        (Direction::Output, udp("8.8.4.4", 53, "10.1.1.3", 2000)),
        (
            Direction::Output,
            tcp("10.1.1.9", 80, "10.1.1.3", 40001, SYN_ACK),
        ),
    ] {
        worker.classify(&config, POD, direction, &packet, 0);
    }
    let mut sum = AclCounters::default();
    sum.add(worker.counters());
    sum.add(worker.counters());
    assert_eq!(
        sum,
        AclCounters {
            rule_hits: vec![vec![4], vec![2]],
            session_hits: 2,
            sessions_created: 2,
            no_match_denies: 2,
            too_many_sessions: 2,
        }
    );
}

/// Replacing an ACL starts its per-rule and per-ACL hits from zero, as VPP does, also
/// with as many rules as before; an ACL left alone keeps its counts, and one deleted
/// and made anew at its index starts from zero too.
#[test]
fn a_replaced_acl_counts_its_hits_from_zero() {
    let mut table = AclTable::new();
    let web = AclRule {
        proto: ip_proto::TCP,
        dport: PortRange::single(80),
        ..rule(AclAction::Permit)
    };
    let first = table
        .create(vec![web, rule(AclAction::Deny)], "web")
        .unwrap();
    let second = table.create(vec![rule(AclAction::Permit)], "any").unwrap();
    table
        .set_interface_acl(POD, Direction::Input, first, false)
        .unwrap();
    table
        .set_interface_acl(TAP0, Direction::Input, second, false)
        .unwrap();
    let config = table.build();
    let mut worker = AclWorker::new(&config);
    let syn = tcp("1.1.1.1", 1, "2.2.2.2", 80, SYN);
    let dns = udp("1.1.1.1", 1, "2.2.2.2", 53);
    for packet in [&syn, &syn, &dns] {
        worker.classify(&config, POD, Direction::Input, packet, 0);
        worker.classify(&config, TAP0, Direction::Input, packet, 0);
    }
    assert_eq!(
        (
            worker.counters().rule(first, 0),
            worker.counters().acl(first)
        ),
        (2, 3)
    );
    assert_eq!(worker.counters().acl(second), 3);

    table
        .replace(first, vec![rule(AclAction::Deny), web], "web again")
        .unwrap();
    let next = table.build();
    worker.install(&next);
    assert_eq!(
        (
            worker.counters().rule(first, 0),
            worker.counters().rule(first, 1),
            worker.counters().acl(first)
        ),
        (0, 0, 0),
        "the replaced ACL counts from zero"
    );
    assert_eq!(
        worker.counters().acl(second),
        3,
        "the other ACL keeps its hits"
    );
    assert_eq!(
        worker
            .counters()
            .format_hits(next.rule_counts(), Some(first)),
        "acl-index 0 hits 0\n          0: hits 0\n          1: hits 0\n",
        "one ACL's view: no session counts, which are every ACL's"
    );
    worker.classify(&next, POD, Direction::Input, &syn, 0);
    assert_eq!(
        (
            worker.counters().rule(first, 0),
            worker.counters().acl(first)
        ),
        (1, 1)
    );
    // A snapshot that changed nothing of it keeps the new counts.
    table.set_session_timeout(TimeoutKind::Udp, 30).unwrap();
    let unrelated = table.build();
    worker.install(&unrelated);
    assert_eq!(worker.counters().acl(first), 1);

    // Deleted and made again at its index: from zero.
    table
        .set_interface_acl(TAP0, Direction::Input, second, true)
        .unwrap();
    table.delete(second).unwrap();
    assert_eq!(
        table.create(vec![rule(AclAction::Permit)], "new"),
        Ok(second)
    );
    let last = table.build();
    worker.install(&last);
    assert_eq!(worker.counters().acl(second), 0);
}

/// Several timeouts set at once (VPP's `udp idle`: UDP's and other's), or, for a
/// value out of range, none of them.
#[test]
fn session_timeouts_set_together_or_not_at_all() {
    let mut table = AclTable::new();
    let both = [TimeoutKind::Udp, TimeoutKind::Other];
    assert_eq!(
        table.set_session_timeouts(&both, 0).unwrap_err(),
        "session timeout udp and other 0: must be 1..=18446744073 seconds"
    );
    assert_eq!(table.session_timeouts(), SessionTimeouts::default());
    table.set_session_timeouts(&both, 30).unwrap();
    let mut expected = SessionTimeouts::default();
    expected.set(TimeoutKind::Udp, 30 * SECOND);
    expected.set(TimeoutKind::Other, 30 * SECOND);
    assert_eq!(table.session_timeouts(), expected);
}

#[test]
fn control_plane_refuses_bad_operations_and_changes_nothing() {
    let mut table = contiv_table();
    let before = table.show_acls(None).unwrap();

    assert_eq!(
        table
            .replace(7, vec![rule(AclAction::Deny)], "x")
            .unwrap_err(),
        "ACL index 7 does not exist (known: 0, 1, 2, 3)"
    );
    assert_eq!(
        table
            .set_interface_acl(POD, Direction::Input, 9, false)
            .unwrap_err(),
        "ACL index 9 does not exist (known: 0, 1, 2, 3)"
    );
    assert_eq!(
        table.delete(3).unwrap_err(),
        "ACL 3 is applied on sw_if_index 2 input, sw_if_index 6 input: remove it from there first"
    );
    let reversed = AclRule {
        proto: ip_proto::TCP,
        dport: PortRange { lo: 90, hi: 80 },
        ..rule(AclAction::Permit)
    };
    assert_eq!(
        table
            .create(vec![rule(AclAction::Permit), reversed], "bad")
            .unwrap_err(),
        "rule 1: port range 90-80: low end above high end"
    );
    assert_eq!(
        table.replace(2, vec![reversed], "bad").unwrap_err(),
        "rule 0: port range 90-80: low end above high end"
    );
    assert_eq!(
        table
            .set_interface_acl(POD, Direction::Input, 3, false)
            .unwrap_err(),
        "ACL 3 is already applied on sw_if_index 6 input"
    );
    assert_eq!(
        table
            .set_interface_acl(POD, Direction::Output, 3, true)
            .unwrap_err(),
        "ACL 3 is not applied on sw_if_index 6 output"
    );
    assert_eq!(
        table.set_session_timeout(TimeoutKind::Udp, 0).unwrap_err(),
        "session timeout udp 0: must be 1..=18446744073 seconds"
    );
    assert!(table.set_max_sessions(0).is_err());
    assert_eq!(table.show_acls(None).unwrap(), before);
    assert_eq!(table.session_timeouts(), SessionTimeouts::default());
    assert_eq!(table.max_sessions(), DEFAULT_MAX_SESSIONS);

    assert_eq!(
        "tcp-idle".parse::<TimeoutKind>().unwrap_err(),
        "session timeout type 'tcp-idle': expected tcp-transient, tcp-established, udp or other"
    );
    assert_eq!(
        AclTable::new().delete(0).unwrap_err(),
        "ACL index 0 does not exist (no ACLs defined)"
    );

    // Removing the ACL everywhere lets the delete through, and the index is reused.
    table
        .set_interface_acl(POD, Direction::Input, 3, true)
        .unwrap();
    table
        .set_interface_acl(TAP0, Direction::Input, 3, true)
        .unwrap();
    table.delete(3).unwrap();
    assert_eq!(table.create(vec![rule(AclAction::Deny)], "again"), Ok(3));
}

#[test]
fn replaced_acl_applies_from_the_next_snapshot_and_sessions_stay() {
    let (mut table, config) = reflective_pod(16);
    let mut worker = AclWorker::new(&config);
    let syn = tcp("10.1.1.3", 40000, "10.1.1.9", 80, SYN);
    worker.classify(&config, POD, Direction::Input, &syn, 0);
    table
        .replace(0, vec![rule(AclAction::Deny)], "closed")
        .unwrap();
    let next = table.build();
    worker.install(&next);
    let other = tcp("10.1.1.3", 40001, "10.1.1.9", 80, SYN);
    assert_eq!(
        worker
            .classify(&next, POD, Direction::Input, &other, 0)
            .action,
        0
    );
    let syn_ack = tcp("10.1.1.9", 80, "10.1.1.3", 40000, SYN_ACK);
    assert_eq!(
        worker
            .classify(&next, POD, Direction::Output, &syn_ack, 0)
            .action,
        3
    );
}

/// Changing an interface's ACL lists keeps its sessions while it has an ACL in either
/// direction, as in VPP (whose `reclassify-sessions` is off by default): a policy update
/// leaves the connections it still permits alone. Its last list emptying clears them, as
/// VPP's `acl_fa_enable_disable` does: a reply its session let in is judged by the rules
/// again, the sessions of other interfaces stay, and the sweep deletes the cleared ones
/// within bounded steps.
#[test]
fn an_interfaces_sessions_outlive_list_changes_until_its_last_list_empties() {
    let (mut table, config) = reflective_pod(64);
    let reflect = table.interface_acls(POD, Direction::Input)[0];
    table
        .set_interface_acl(TAP0, Direction::Input, reflect, false)
        .unwrap();
    let config = {
        drop(config);
        table.build()
    };
    let mut worker = AclWorker::new(&config);
    for port in 0..10 {
        let syn = tcp("10.1.1.3", 40000 + port, "10.1.1.9", 80, SYN);
        worker.classify(&config, POD, Direction::Input, &syn, 0);
    }
    let from_host = tcp("172.30.1.2", 5000, "10.1.1.3", 22, SYN);
    worker.classify(&config, TAP0, Direction::Input, &from_host, 0);
    assert_eq!(worker.session_count(), 11);
    let syn_ack = tcp("10.1.1.9", 80, "10.1.1.3", 40000, SYN_ACK);
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Output, &syn_ack, 0)
            .action,
        3
    );

    // Another ACL on the pod's output, then without it again, then its input list
    // emptied (its output keeps the local table): the sessions stay.
    let extra = table.create(vec![rule(AclAction::Deny)], "extra").unwrap();
    table
        .set_interface_acl(POD, Direction::Output, extra, false)
        .unwrap();
    table
        .set_interface_acl(POD, Direction::Output, extra, true)
        .unwrap();
    table
        .set_interface_acl(POD, Direction::Input, reflect, true)
        .unwrap();
    let next = table.build();
    worker.install(&next);
    worker.reclaim_expired(&next, 1, 64);
    assert_eq!(worker.session_count(), 11);
    assert_eq!(
        worker
            .classify(&next, POD, Direction::Output, &syn_ack, 1)
            .action,
        3,
        "the reply still hits its session"
    );

    // The pod's last list emptied: its sessions go.
    let local = table.interface_acls(POD, Direction::Output)[0];
    table
        .set_interface_acl(POD, Direction::Output, local, true)
        .unwrap();
    let last = table.build();
    worker.install(&last);
    let reply_to_host = tcp("10.1.1.3", 22, "172.30.1.2", 5000, SYN_ACK);
    assert_eq!(
        worker
            .classify(&last, TAP0, Direction::Output, &reply_to_host, 1)
            .action,
        3,
        "tap0's lists did not change"
    );
    // The sweep, 4 slots a step: the pod's ten sessions go, tap0's stays.
    let mut steps = 0;
    while worker.session_count() > 1 {
        worker.reclaim_expired(&last, 2, 4);
        steps += 1;
        assert!(steps <= 4, "{} sessions left", worker.session_count());
    }
    assert_eq!(worker.session_count(), 1);
    // Its output list back: the reply meets the rules, its session gone.
    table
        .set_interface_acl(POD, Direction::Output, local, false)
        .unwrap();
    let again = table.build();
    worker.install(&again);
    let v = worker.classify(&again, POD, Direction::Output, &syn_ack, 2);
    assert_eq!(
        (v.action, v.permit),
        (0, false),
        "the reply meets the rules again"
    );
}

/// With `reclassify-sessions 1`, a change of an interface's list for a direction ends
/// the sessions made in that direction at once (VPP finds them stale by the interface's
/// policy epoch at their next hit): their flows' next packets meet the new rules. The
/// sessions the other direction made stay.
#[test]
fn reclassify_sessions_ends_the_sessions_of_the_direction_whose_list_changed() {
    let (mut table, _) = reflective_pod(64);
    let reflect = table.interface_acls(POD, Direction::Input)[0];
    // tap0 reflects both ways; its session below is made by its output.
    for direction in [Direction::Input, Direction::Output] {
        table
            .set_interface_acl(TAP0, direction, reflect, false)
            .unwrap();
    }
    table.set_reclassify_sessions(true);
    let config = table.build();
    let mut worker = AclWorker::new(&config);
    let syn = tcp("10.1.1.3", 40000, "10.1.1.9", 80, SYN);
    let syn_ack = tcp("10.1.1.9", 80, "10.1.1.3", 40000, SYN_ACK);
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Input, &syn, 0)
            .action,
        2
    );
    let to_host = tcp("10.1.1.3", 40001, "172.30.1.2", 22, SYN);
    assert_eq!(
        worker
            .classify(&config, TAP0, Direction::Output, &to_host, 0)
            .action,
        2
    );

    // The pod's output list changes: the session its input made stays.
    let extra = table.create(vec![rule(AclAction::Deny)], "extra").unwrap();
    table
        .set_interface_acl(POD, Direction::Output, extra, false)
        .unwrap();
    let next = table.build();
    worker.install(&next);
    assert_eq!(
        worker
            .classify(&next, POD, Direction::Output, &syn_ack, 1)
            .action,
        3
    );

    // Its input list changes: the session goes, and the reply meets the output rules
    // (the local table's DNS rule, then `extra`).
    let again = table
        .create(vec![rule(AclAction::PermitReflect)], "reflect again")
        .unwrap();
    table
        .set_interface_acl_list(POD, Direction::Input, &[again])
        .unwrap();
    let changed = table.build();
    worker.install(&changed);
    let v = worker.classify(&changed, POD, Direction::Output, &syn_ack, 2);
    assert_eq!((v.action, v.permit), (0, false));
    // tap0's session, made by its output, stays: the reply coming in hits it.
    let from_host = tcp("172.30.1.2", 22, "10.1.1.3", 40001, SYN_ACK);
    assert_eq!(
        worker
            .classify(&changed, TAP0, Direction::Input, &from_host, 2)
            .action,
        3
    );
    worker.reclaim_expired(&changed, 2, 64);
    assert_eq!(worker.session_count(), 1);
}

/// Setting an interface's list to the list it has (an agent re-applying its whole
/// configuration), in either direction, or any snapshot that changed nothing of its
/// lists, keeps its sessions; emptying both clears them.
#[test]
fn re_setting_an_interfaces_identical_list_keeps_its_sessions() {
    let (mut table, config) = reflective_pod(64);
    let mut worker = AclWorker::new(&config);
    let syn = tcp("10.1.1.3", 40000, "10.1.1.9", 80, SYN);
    let syn_ack = tcp("10.1.1.9", 80, "10.1.1.3", 40000, SYN_ACK);
    worker.classify(&config, POD, Direction::Input, &syn, 0);
    assert_eq!(worker.session_count(), 1);
    let (input, output) = (
        table.interface_acls(POD, Direction::Input).to_vec(),
        table.interface_acls(POD, Direction::Output).to_vec(),
    );
    table
        .set_interface_acl_list(POD, Direction::Input, &input)
        .unwrap();
    table
        .set_interface_acl_list(POD, Direction::Output, &output)
        .unwrap();
    table.set_session_timeout(TimeoutKind::Other, 60).unwrap();
    let next = table.build();
    worker.install(&next);
    worker.reclaim_expired(&next, SECOND, 64);
    assert_eq!(worker.session_count(), 1, "the session stays");
    assert_eq!(
        worker
            .classify(&next, POD, Direction::Output, &syn_ack, SECOND)
            .action,
        3
    );

    // Both lists emptied: the session goes.
    for direction in [Direction::Input, Direction::Output] {
        table.set_interface_acl_list(POD, direction, &[]).unwrap();
    }
    let changed = table.build();
    worker.install(&changed);
    worker.reclaim_expired(&changed, SECOND, 64);
    assert_eq!(worker.session_count(), 0);
}

#[test]
fn show_commands_print_vpp_formats() {
    let table = contiv_table();
    assert_eq!(
        table.show_acls(Some(3)).unwrap(),
        "acl-index 3 count 1 tag {contiv-policy-REFLECTION}\n\
         \x20         0: ipv4 permit+reflect src 0.0.0.0/0 dst 0.0.0.0/0 proto 0 sport 0-65535 dport 0-65535\n\
         \x20 applied inbound on sw_if_index: 2, 6\n\
         \x20 applied outbound on sw_if_index: \n"
    );
    assert!(table.show_acls(Some(2)).unwrap().contains(
        "          0: ipv4 permit src 10.1.1.5/32 dst 0.0.0.0/0 proto 6 sport 0-65535 dport 80\n"
    ));
    assert_eq!(
        table.show_acls(Some(5)).unwrap_err(),
        "ACL index 5 does not exist (known: 0, 1, 2, 3)"
    );
    let name = |sw_if: IfIndex| {
        if sw_if == TAP0 {
            "tap0".to_string()
        } else {
            format!("tap{}", sw_if.0 - 4)
        }
    };
    assert_eq!(
        table.show_interfaces(None, false, &name),
        "sw_if_index 2 (tap0):\n  input acl(s): 3\n  output acl(s): 2\n\
         sw_if_index 6 (tap2):\n  input acl(s): 3\n  output acl(s): \n"
    );

    let config = table.build();
    let mut worker = AclWorker::new(&config);
    let syn = tcp("10.1.1.3", 46310, "10.104.221.85", 80, SYN);
    worker.classify(&config, POD, Direction::Input, &syn, SECOND);
    assert_eq!(
        show_sessions(&[&worker], 1, 5 * SECOND, &name),
        "Sessions total: 1\n\
         Thread #1: 1 sessions (limit 500000)\n\
         \x20 sw_if_index 6 (tap2): 1 sessions\n\
         \x20 session 0 sw_if_index 6 input proto 6 10.1.1.3:46310 -> 10.104.221.85:80 type tcp-transient age 4s idle 4s\n"
    );
    // Idle counts from the start of the second last heard in, but never past the age: a
    // session made at 1.9 s reads age 0s idle 0s at 2.5 s, not idle 1s.
    let mut worker = AclWorker::new(&config);
    worker.classify(&config, POD, Direction::Input, &syn, 19 * SECOND / 10);
    let shown = show_sessions(&[&worker], 2, 25 * SECOND / 10, &name);
    assert!(shown.contains("Thread #2: 1 sessions"), "{shown}");
    assert!(shown.ends_with(" age 0s idle 0s\n"), "{shown}");
}

/// `show acl-plugin sessions` counts every session of an interface on its one line, with
/// the interfaces' sessions interleaved in the table.
#[test]
fn show_sessions_counts_each_interfaces_sessions_once() {
    let config = contiv_table().build();
    let mut worker = AclWorker::new(&config);
    for (sw_if, sport) in [(POD, 1), (TAP0, 2), (POD, 3)] {
        let syn = tcp("10.1.1.3", sport, "10.104.221.85", 80, SYN);
        worker.classify(&config, sw_if, Direction::Input, &syn, 0);
    }
    let shown = show_sessions(&[&worker], 1, SECOND, &|sw_if| format!("if{sw_if}"));
    assert!(
        shown.contains(
            "\n  sw_if_index 2 (if2): 1 sessions\n  sw_if_index 6 (if6): 2 sessions\n  session 0 "
        ),
        "{shown}"
    );
}

/// `show acl-plugin sessions` counts every session but lists the first
/// [`SHOW_SESSIONS_MAX`] by index, saying how many more there are and how to see one:
/// VPP's `thread T index I`, which shows that session or says it is not there.
#[test]
fn show_sessions_lists_a_bounded_number_and_thread_index_shows_one() {
    let (_, config) = reflective_pod(4096);
    let mut worker = AclWorker::new(&config);
    let extra = 3;
    for port in 0..(SHOW_SESSIONS_MAX + extra) as u16 {
        let p = udp("10.1.1.3", 10_000 + port, "10.1.1.9", 53);
        worker.classify(&config, POD, Direction::Input, &p, 0);
    }
    let name = |sw_if: IfIndex| format!("if{sw_if}");
    let shown = show_sessions(&[&worker], 1, SECOND, &name);
    let total = SHOW_SESSIONS_MAX + extra;
    assert!(shown.contains(&format!("Thread #1: {total} sessions (limit 4096)\n")));
    assert!(shown.contains(&format!("  sw_if_index 6 (if6): {total} sessions\n")));
    let listed = shown
        .lines()
        .filter(|l| l.starts_with("  session "))
        .count();
    assert_eq!(listed, SHOW_SESSIONS_MAX);
    assert!(
        shown.ends_with("  ... 3 more (show acl-plugin sessions thread 1 index N shows one)\n"),
        "{}",
        &shown[shown.len() - 200..]
    );
    let last = total as u32 - 1;
    let one = show_session(&worker, 1, last, SECOND, &name).unwrap();
    assert_eq!(
        one,
        format!(
            "Thread #1, session {last}:\n  session {last} sw_if_index 6 input proto 17 \
             10.1.1.3:11002 -> 10.1.1.9:53 type udp age 1s idle 1s\n  interface 6 (if6)\n"
        )
    );
    assert_eq!(
        show_session(&worker, 1, 5000, SECOND, &name).unwrap_err(),
        "no session 5000 on thread 1"
    );
}

#[test]
fn snapshot_is_shareable_and_trace_is_copy() {
    fn shareable<T: Send + Sync + 'static>() {}
    fn copyable<T: Copy>() {}
    shareable::<AclConfig>();
    copyable::<AclTrace>();
    copyable::<AclVerdict>();
}

use crate::flow_cache::recording::{asked, recording_prefetch};

/// The IPv4 header and TCP or UDP header of `info`: what a stage's first pass reads.
fn ipv4_bytes(info: &AclPacketInfo) -> Vec<u8> {
    let l4_len = if info.proto == ip_proto::TCP { 20 } else { 8 };
    let mut bytes = vec![0u8; 20 + l4_len];
    bytes[0] = 0x45;
    bytes[2..4].copy_from_slice(&(20 + l4_len as u16).to_be_bytes());
    bytes[8] = 64;
    bytes[9] = info.proto;
    bytes[12..16].copy_from_slice(&info.src.octets());
    bytes[16..20].copy_from_slice(&info.dst.octets());
    bytes[20..22].copy_from_slice(&info.sport.to_be_bytes());
    bytes[22..24].copy_from_slice(&info.dport.to_be_bytes());
    if info.proto == ip_proto::TCP {
        bytes[33] = info.tcp_flags;
    }
    bytes
}

#[test]
fn warm_up_passes_ask_for_the_bucket_then_the_session() {
    let (_, config) = reflective_pod(16);
    let mut worker = AclWorker::new(&config);
    let syn = tcp("10.1.1.3", 40000, "10.1.1.9", 80, SYN);
    let syn_ack = tcp("10.1.1.9", 80, "10.1.1.3", 40000, SYN_ACK);
    let warm_up = |worker: &mut AclWorker, slot, sw_if, direction, packet: &AclPacketInfo| {
        let bytes = ipv4_bytes(packet);
        worker.warm_up(
            &config,
            slot,
            sw_if,
            direction,
            Some(&bytes),
            recording_prefetch,
        )
    };
    let reply_bucket =
        |worker: &mut AclWorker| warm_up(worker, 0, POD, Direction::Output, &syn_ack);
    // No ACL on tap0's input: not parsed (what the slot held before is gone), no
    // hash, nothing asked.
    assert_ne!(warm_up(&mut worker, 3, POD, Direction::Input, &syn), 0);
    assert_eq!(worker.parsed(3), Some(&syn));
    asked();
    assert_eq!(warm_up(&mut worker, 3, TAP0, Direction::Input, &syn), 0);
    assert_eq!(worker.parsed(3), None);
    assert!(asked().is_empty());

    // Before the session exists: the bucket is asked for, and no session.
    let hash = reply_bucket(&mut worker);
    assert_ne!(hash, 0);
    assert_eq!(
        worker.parsed(0),
        Some(&syn_ack),
        "parsed once, for the later passes"
    );
    assert_eq!(asked().len(), 1);
    assert!(!worker.prefetch_session(hash, recording_prefetch));
    assert!(asked().is_empty());

    // A new flow's bucket names no session: the bucket its reply's key will take when
    // the rules create the session is asked for; on an interface without ACLs,
    // nothing. (A flow whose own bucket is its reply's, one in eight with this table's
    // eight buckets and its random seed, could not tell the two apart: ports are tried
    // until they differ.)
    let (own_hash, reply_line) = (40001u16..)
        .map(|port| {
            let flow = tcp("10.1.1.3", port, "10.1.1.9", 80, SYN);
            let reply = tcp("10.1.1.9", 80, "10.1.1.3", port, SYN_ACK);
            let own = warm_up(&mut worker, 1, POD, Direction::Input, &flow);
            warm_up(&mut worker, 2, POD, Direction::Output, &reply);
            (own, asked())
        })
        .find(|(_, lines)| lines[0] != lines[1])
        .map(|(own, lines)| (own, lines[1]))
        .unwrap();
    assert!(!worker.prefetch_session(own_hash, recording_prefetch));
    worker.prefetch_reply_bucket(&config, POD, Direction::Input, 1, recording_prefetch);
    assert_eq!(asked(), vec![reply_line], "the reply's bucket");
    worker.prefetch_reply_bucket(&config, TAP0, Direction::Input, 1, recording_prefetch);
    assert!(asked().is_empty(), "no ACL on tap0");
    worker.prefetch_reply_bucket(&config, POD, Direction::Input, 3, recording_prefetch);
    assert!(asked().is_empty(), "nothing parsed in slot 3");

    worker.classify(&config, POD, Direction::Input, &syn, 0);
    let again = reply_bucket(&mut worker);
    assert_eq!(
        again, hash,
        "the reply's hash does not depend on the session"
    );
    let bucket = asked();
    assert_eq!(bucket.len(), 1);
    assert_eq!(bucket[0] % 64, 0, "a bucket is one aligned cache line");
    assert!(worker.prefetch_session(hash, recording_prefetch));
    let lines = asked();
    assert_eq!(lines.len(), 1, "a session is one line");
    assert_eq!(lines[0] % 64, 0, "and aligned to it");
    // ip4-flow-cache asks for the same line through the handle it keeps.
    let handle = worker
        .session_handle(&config, POD, Direction::Output, &syn_ack)
        .unwrap();
    assert_eq!(
        worker.session_address(handle).map(|at| at as usize),
        Some(lines[0])
    );
}

/// A full table recycling a session asks for the next one's lines with the prefetch the
/// worker was given, not only the stages' warm-up passes with theirs.
#[test]
fn recycling_asks_with_the_workers_prefetch() {
    let (_, config) = reflective_pod(2);
    let mut worker = AclWorker::new(&config);
    worker.set_prefetch(recording_prefetch);
    // As in the full-table test: the third comes when the first may be recycled.
    for (port, second) in [(1, 0), (2, 1), (3, 3)] {
        asked();
        let syn = tcp("10.1.1.3", port, "10.1.1.9", 80, SYN);
        let v = worker.classify(&config, POD, Direction::Input, &syn, second * SECOND);
        assert_eq!(v.action, 2);
    }
    assert!(!asked().is_empty());
}

#[test]
fn raising_the_session_limit_keeps_every_session() {
    let (mut table, config) = reflective_pod(16);
    let mut worker = AclWorker::new(&config);
    // UDP: a full table recycles only transient TCP sessions, so the 17th is refused.
    let request = |port: u16| udp("10.1.1.3", port, "10.1.1.9", 80);
    let reply = |port: u16| udp("10.1.1.9", 80, "10.1.1.3", port);
    for port in 0..16 {
        assert_eq!(
            worker
                .classify(&config, POD, Direction::Input, &request(port), 0)
                .action,
            2
        );
    }
    assert_eq!(
        worker
            .classify(&config, POD, Direction::Input, &request(99), 0)
            .action,
        0
    );

    table.set_max_sessions(100_000).unwrap();
    let bigger = table.build();
    worker.install(&bigger);
    assert_eq!(worker.session_index_len(), 32);
    for port in 0..16 {
        let v = worker.classify(&bigger, POD, Direction::Output, &reply(port), SECOND);
        assert_eq!(v.action, 3, "reply to port {port}");
    }
    assert_eq!(
        worker
            .classify(&bigger, POD, Direction::Input, &request(99), 0)
            .action,
        2
    );
    assert_eq!(worker.session_count(), 17);
}

/// Hundreds of transient TCP sessions heard every 5 ms do not keep an idle UDP session
/// from expiring (each list has its own budget), and between the moments they come due
/// (once per timeout) a reclaim pass has nothing left to do (no backlog).
#[test]
fn busy_transient_sessions_do_not_starve_expiry_of_other_types() {
    let (mut table, _) = reflective_pod(1000);
    table.set_session_timeout(TimeoutKind::Udp, 1).unwrap();
    table
        .set_session_timeout(TimeoutKind::TcpTransient, 1)
        .unwrap();
    let config = table.build();
    let mut worker = AclWorker::new(&config);
    // Mid-flow ACKs: sessions that stay transient.
    let ack = |port: u16| tcp("10.1.1.3", 20000 + port, "10.1.1.9", 80, ACK);
    for port in 0..200 {
        worker.classify(&config, POD, Direction::Input, &ack(port), 0);
    }
    worker.classify(
        &config,
        POD,
        Direction::Input,
        &udp("10.1.1.3", 53, "10.96.0.10", 53),
        0,
    );
    assert_eq!(worker.session_count(), 201);
    let mut udp_gone_at = None;
    for step in 1..=25_000u64 {
        let now = step * 100_000;
        if step % 50 == 0 {
            for port in 0..200 {
                worker.classify(&config, POD, Direction::Input, &ack(port), now);
            }
        }
        worker.reclaim_expired(&config, now, 32);
        if udp_gone_at.is_none() && worker.session_count() == 200 {
            udp_gone_at = Some(now);
        }
        if step == 15_000 {
            assert!(!worker.reclaim_backlog(), "at 1.5 s");
        }
    }
    let gone = udp_gone_at.expect("the idle UDP session was never reclaimed");
    // Heard in second 0, idle from the end of it: due 1 s later, at 2 s.
    assert!(
        (2_000_000_000..=2_001_000_000).contains(&gone),
        "reclaimed at {gone} ns, due at 2 s"
    );
    assert_eq!(worker.session_count(), 200, "the heard TCP sessions stay");
}

/// A refresh does not move a session in its list: an active transient session at the
/// head (a pod's server connection never sees its own SYN, so it stays transient) must
/// not keep a full table from giving up an idle one behind it.
#[test]
fn full_table_recycles_an_idle_transient_session_behind_a_busy_head() {
    let (_, config) = reflective_pod(3);
    let mut worker = AclWorker::new(&config);
    let (input, output) = (Direction::Input, Direction::Output);
    let syn = |port| tcp("10.1.1.3", port, "10.1.1.9", 80, SYN);
    for port in 1..=3 {
        assert_eq!(
            worker.classify(&config, POD, input, &syn(port), 0).action,
            2
        );
    }
    // Port 1's connection stays busy; 2 and 3 go quiet.
    assert_eq!(
        worker
            .classify(&config, POD, input, &syn(1), 5 * SECOND)
            .action,
        3
    );
    let v = worker.classify(&config, POD, input, &syn(4), 5 * SECOND + SECOND / 2);
    assert_eq!((v.action, v.drop), (2, None));
    assert_eq!(worker.session_count(), 3);
    let reply = |port| tcp("10.1.1.9", 80, "10.1.1.3", port, SYN_ACK);
    let at = 6 * SECOND;
    assert_eq!(
        worker.classify(&config, POD, output, &reply(1), at).action,
        3
    );
    assert_eq!(
        worker.classify(&config, POD, output, &reply(3), at).action,
        3
    );
    let v = worker.classify(&config, POD, output, &reply(2), at);
    assert!(!v.permit, "port 2's idle session was the one given up");
}

/// Sessions a list change cleared (`reclassify-sessions`) no longer hold a full table's room: a new flow sweeps
/// them out instead of being refused until the background sweep comes round (4 slots a
/// step, here past tap0's twelve live sessions first).
#[test]
fn sessions_a_list_change_cleared_make_room_at_once() {
    let (mut table, config) = reflective_pod(16);
    let reflect = table.interface_acls(POD, Direction::Input)[0];
    table
        .set_interface_acl(TAP0, Direction::Input, reflect, false)
        .unwrap();
    let config = {
        drop(config);
        table.build()
    };
    let mut worker = AclWorker::new(&config);
    for port in 0..12 {
        let p = udp("172.30.1.2", 5000 + port, "10.1.1.3", 53);
        assert_eq!(
            worker
                .classify(&config, TAP0, Direction::Input, &p, 0)
                .action,
            2
        );
    }
    for port in 0..4 {
        let p = udp("10.1.1.3", 5000 + port, "10.1.1.9", 53);
        assert_eq!(
            worker
                .classify(&config, POD, Direction::Input, &p, 0)
                .action,
            2
        );
    }
    assert_eq!(worker.session_count(), 16);
    // A change of the pod's input list that ends the sessions its input made.
    table.set_reclassify_sessions(true);
    let extra = table.create(vec![rule(AclAction::Deny)], "extra").unwrap();
    table
        .set_interface_acl(POD, Direction::Input, extra, false)
        .unwrap();
    let next = table.build();
    worker.install(&next);
    let p = udp("10.1.1.3", 6000, "10.1.1.9", 53);
    let v = worker.classify(&next, POD, Direction::Input, &p, SECOND);
    assert_eq!((v.action, v.drop), (2, None));
    assert_eq!(worker.session_count(), 13, "tap0's twelve and the new one");
}
