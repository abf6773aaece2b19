use super::*;
use crate::fib::{AdjIndex, Adjacency, RouteSource};

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn prefix(s: &str) -> Ipv4Prefix {
    s.parse().unwrap()
}
fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}
/// `via NEXT-HOP IFNAME`, by interface index.
fn via(next_hop: &str, interface: u16) -> RouteTarget {
    RouteTarget::Via {
        next_hop: ip(next_hop),
        interface: Some(IfIndex(interface)),
    }
}
/// `via NEXT-HOP`: resolved through the other routes.
fn recursive(next_hop: &str) -> RouteTarget {
    RouteTarget::Via {
        next_hop: ip(next_hop),
        interface: None,
    }
}

const TAP0_MAC: &str = "01:23:45:67:89:42";
const HOST_MAC: &str = "3e:1b:70:2d:4d:51";

/// The spec's node: tap0 to the host (172.30.1.1/24, host side .2 learned by ARP) and the
/// route to the host's management address via the host.
fn seed() -> ControlPlane {
    let mut cp = ControlPlane::new();
    cp.add_interface("tap0", "net_tap0", mac(TAP0_MAC), InputKind::Virtio)
        .unwrap();
    cp.set_state("tap0", true).unwrap();
    cp.add_address("tap0", prefix("172.30.1.1/24")).unwrap();
    assert!(cp.learn_neighbor(IfIndex(1), ip("172.30.1.2"), mac(HOST_MAC)));
    cp.add_route(prefix("10.20.0.2/32"), via("172.30.1.2", 1))
        .unwrap();
    cp
}

/// tap0 as in `seed`, plus tap1 (a pod, down) and tap2 (another pod, up).
fn three_interfaces() -> ControlPlane {
    let mut cp = seed();
    cp.add_interface(
        "tap1",
        "net_tap1",
        mac("02:fe:00:00:00:01"),
        InputKind::Virtio,
    )
    .unwrap();
    cp.add_interface(
        "tap2",
        "net_tap2",
        mac("02:fe:16:3f:5f:0f"),
        InputKind::Virtio,
    )
    .unwrap();
    cp.set_state("tap2", true).unwrap();
    cp.add_address("tap2", prefix("10.1.1.1/24")).unwrap();
    cp
}

fn adjacency_for(snapshot: &Snapshot, dst: &str) -> Adjacency {
    snapshot.fib.adjacency(snapshot.fib.lookup(ip(dst))).clone()
}

#[test]
fn seed_topology_rewrites_to_the_host_with_the_spec_bytes() {
    let snapshot = seed().snapshot();
    let expected: [u8; 14] = [
        0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51, // dst: the host's vpp1
        0x01, 0x23, 0x45, 0x67, 0x89, 0x42, // src: tap0
        0x08, 0x00, // IPv4
    ];
    assert_eq!(
        adjacency_for(&snapshot, "10.20.0.2"),
        Adjacency::Rewrite {
            tx_if: IfIndex(1),
            next_hop: ip("172.30.1.2"),
            rewrite: expected,
        }
    );
    let shown = format_fib(&snapshot, Some(prefix("10.20.0.2/32")));
    assert!(
        shown.contains("[@5]: ipv4 via 172.30.1.2 tap0: 3e1b702d4d510123456789420800\n"),
        "{shown}"
    );
}

#[test]
fn interface_address_gives_receive_and_attached_glean() {
    let snapshot = seed().snapshot();
    assert_eq!(
        adjacency_for(&snapshot, "172.30.1.1"),
        Adjacency::Receive {
            if_index: IfIndex(1)
        }
    );
    assert_eq!(
        adjacency_for(&snapshot, "172.30.1.77"),
        Adjacency::Glean {
            tx_if: IfIndex(1),
            next_hop: None
        }
    );
    let entry = snapshot.fib.entry(prefix("172.30.1.0/24")).unwrap();
    assert_eq!(entry.source, RouteSource::Interface);
}

#[test]
fn known_neighbor_on_attached_subnet_becomes_a_host_rewrite() {
    let snapshot = seed().snapshot();
    let entry = snapshot.fib.entry(prefix("172.30.1.2/32")).unwrap();
    assert_eq!(entry.source, RouteSource::Neighbor);
    // Shared with the 10.20.0.2/32 route: the same neighbour, the same adjacency.
    assert_eq!(
        snapshot.fib.lookup(ip("172.30.1.2")),
        snapshot.fib.lookup(ip("10.20.0.2"))
    );
}

#[test]
fn neighbor_outside_every_attached_subnet_gets_no_host_route() {
    let mut cp = seed();
    cp.add_neighbor("tap0", ip("192.0.2.9"), mac("02:00:00:00:00:09"), true)
        .unwrap();
    let snapshot = cp.snapshot();
    assert!(snapshot.fib.entry(prefix("192.0.2.9/32")).is_none());
    assert_eq!(snapshot.fib.lookup(ip("192.0.2.9")), AdjIndex::NO_ROUTE);
}

#[test]
fn route_via_unresolved_next_hop_gleans_for_the_next_hop() {
    let mut cp = seed();
    cp.add_route(prefix("10.30.0.0/16"), via("172.30.1.3", 1))
        .unwrap();
    assert_eq!(
        adjacency_for(&cp.snapshot(), "10.30.5.5"),
        Adjacency::Glean {
            tx_if: IfIndex(1),
            next_hop: Some(ip("172.30.1.3"))
        }
    );
    // Once ARP answers, the same route rewrites.
    assert!(cp.learn_neighbor(IfIndex(1), ip("172.30.1.3"), mac("02:00:00:00:00:03")));
    assert!(matches!(
        adjacency_for(&cp.snapshot(), "10.30.5.5"),
        Adjacency::Rewrite { next_hop, .. } if next_hop == ip("172.30.1.3")
    ));
}

#[test]
fn attached_route_and_drop_route() {
    let mut cp = seed();
    cp.add_route(prefix("192.168.50.0/24"), RouteTarget::Attached(IfIndex(1)))
        .unwrap();
    cp.add_route(prefix("10.1.0.0/16"), RouteTarget::Drop)
        .unwrap();
    let snapshot = cp.snapshot();
    assert_eq!(
        adjacency_for(&snapshot, "192.168.50.7"),
        Adjacency::Glean {
            tx_if: IfIndex(1),
            next_hop: None
        }
    );
    assert_eq!(adjacency_for(&snapshot, "10.1.200.3"), Adjacency::Drop);
    assert_eq!(snapshot.fib.lookup(ip("10.2.0.1")), AdjIndex::NO_ROUTE);
}

#[test]
fn default_route_catches_everything_else_but_special_addresses() {
    let mut cp = seed();
    cp.add_route(prefix("0.0.0.0/0"), via("172.30.1.2", 1))
        .unwrap();
    let snapshot = cp.snapshot();
    let via_host = snapshot.fib.lookup(ip("10.20.0.2"));
    for dst in ["8.8.8.8", "0.0.0.1", "223.255.255.255", "10.1.1.1"] {
        assert_eq!(snapshot.fib.lookup(ip(dst)), via_host, "{dst}");
    }
    for dst in [
        "224.0.0.5",
        "239.1.1.1",
        "240.0.0.1",
        "255.255.255.255",
        "0.0.0.0",
    ] {
        assert_eq!(adjacency_for(&snapshot, dst), Adjacency::Drop, "{dst}");
    }
}

#[test]
fn host_route_wins_over_its_covering_prefix() {
    let mut cp = seed();
    cp.add_route(prefix("10.20.0.0/16"), RouteTarget::Drop)
        .unwrap();
    let snapshot = cp.snapshot();
    assert!(matches!(
        adjacency_for(&snapshot, "10.20.0.2"),
        Adjacency::Rewrite { .. }
    ));
    assert_eq!(adjacency_for(&snapshot, "10.20.0.3"), Adjacency::Drop);
}

#[test]
fn configured_route_cannot_override_an_interface_address() {
    let mut cp = seed();
    cp.add_route(prefix("172.30.1.1/32"), RouteTarget::Drop)
        .unwrap();
    let snapshot = cp.snapshot();
    assert_eq!(
        adjacency_for(&snapshot, "172.30.1.1"),
        Adjacency::Receive {
            if_index: IfIndex(1)
        }
    );
}

#[test]
fn configured_host_route_beats_the_neighbor_entry() {
    let mut cp = seed();
    cp.add_route(prefix("172.30.1.2/32"), RouteTarget::Drop)
        .unwrap();
    let snapshot = cp.snapshot();
    assert_eq!(adjacency_for(&snapshot, "172.30.1.2"), Adjacency::Drop);
    assert_eq!(
        snapshot.fib.entry(prefix("172.30.1.2/32")).unwrap().source,
        RouteSource::Static
    );
}

#[test]
fn recursive_route_resolves_through_the_attached_subnet() {
    let mut cp = seed();
    cp.add_route(prefix("10.96.0.0/12"), recursive("172.30.1.2"))
        .unwrap();
    cp.add_route(prefix("10.50.0.0/16"), recursive("172.30.1.9"))
        .unwrap();
    let snapshot = cp.snapshot();
    // Through the neighbour's /32: the same rewrite as the direct route.
    assert_eq!(
        snapshot.fib.lookup(ip("10.97.193.160")),
        snapshot.fib.lookup(ip("10.20.0.2"))
    );
    // An unknown neighbour on the attached subnet: ARP for the next hop, not the packet.
    assert_eq!(
        adjacency_for(&snapshot, "10.50.1.1"),
        Adjacency::Glean {
            tx_if: IfIndex(1),
            next_hop: Some(ip("172.30.1.9"))
        }
    );
    assert!(snapshot.fib.unresolved().is_empty());
}

#[test]
fn recursive_route_through_another_route_forwards_as_that_route() {
    let mut cp = seed();
    cp.add_route(prefix("0.0.0.0/0"), via("172.30.1.2", 1))
        .unwrap();
    // 10.1.2.0/24 via 192.168.30.2, which only the default route covers; then a second
    // level: 10.9.0.0/16 via 10.1.2.77, covered by the recursive /24.
    cp.add_route(prefix("10.1.2.0/24"), recursive("192.168.30.2"))
        .unwrap();
    cp.add_route(prefix("10.9.0.0/16"), recursive("10.1.2.77"))
        .unwrap();
    let snapshot = cp.snapshot();
    let via_host = snapshot.fib.lookup(ip("10.20.0.2"));
    assert_eq!(snapshot.fib.lookup(ip("10.1.2.5")), via_host);
    assert_eq!(snapshot.fib.lookup(ip("10.9.1.1")), via_host);
    assert_eq!(
        snapshot.fib.entry(prefix("10.9.0.0/16")).unwrap().adj,
        via_host
    );
}

#[test]
fn recursive_route_without_a_cover_is_not_installed_and_show_says_why() {
    let mut cp = seed();
    cp.add_route(prefix("10.5.0.0/16"), recursive("9.9.9.9"))
        .unwrap();
    let snapshot = cp.snapshot();
    assert!(snapshot.fib.entry(prefix("10.5.0.0/16")).is_none());
    assert_eq!(snapshot.fib.lookup(ip("10.5.1.1")), AdjIndex::NO_ROUTE);
    assert_eq!(snapshot.fib.unresolved().len(), 1);
    assert_eq!(
        snapshot.fib.unresolved()[0].reason,
        "no route to next hop 9.9.9.9"
    );
    let shown = format_fib(&snapshot, None);
    assert!(
        shown.contains("10.5.0.0/16 via 9.9.9.9: not installed: no route to next hop 9.9.9.9\n"),
        "{shown}"
    );
}

#[test]
fn recursive_routes_that_resolve_through_each_other_are_not_installed() {
    let mut cp = seed();
    cp.add_route(prefix("10.7.0.0/16"), recursive("10.8.0.1"))
        .unwrap();
    cp.add_route(prefix("10.8.0.0/16"), recursive("10.7.0.1"))
        .unwrap();
    let snapshot = cp.snapshot();
    assert_eq!(snapshot.fib.unresolved().len(), 2);
    assert_eq!(snapshot.fib.lookup(ip("10.7.0.9")), AdjIndex::NO_ROUTE);
    assert_eq!(snapshot.fib.lookup(ip("10.8.0.9")), AdjIndex::NO_ROUTE);
}

#[test]
fn recursive_route_may_not_resolve_through_itself_or_our_own_address() {
    let mut cp = seed();
    // The only cover of 10.0.0.1 would be the route itself.
    cp.add_route(prefix("10.0.0.0/8"), recursive("10.0.0.1"))
        .unwrap();
    cp.add_route(prefix("10.44.0.0/16"), recursive("172.30.1.1"))
        .unwrap();
    let snapshot = cp.snapshot();
    let reasons: Vec<&str> = snapshot
        .fib
        .unresolved()
        .iter()
        .map(|u| u.reason.as_str())
        .collect();
    assert_eq!(
        reasons,
        [
            "no route to next hop 10.0.0.1",
            "next hop 172.30.1.1 is one of our own addresses (172.30.1.1/32)"
        ]
    );
}

#[test]
fn admin_down_interface_withdraws_its_routes_and_drops_routes_through_it() {
    let mut cp = seed();
    cp.add_route(prefix("10.96.0.0/12"), recursive("172.30.1.2"))
        .unwrap();
    cp.set_state("tap0", false).unwrap();
    let snapshot = cp.snapshot();
    assert_eq!(snapshot.fib.lookup(ip("172.30.1.1")), AdjIndex::NO_ROUTE);
    assert_eq!(snapshot.fib.lookup(ip("172.30.1.9")), AdjIndex::NO_ROUTE);
    assert!(snapshot.fib.entry(prefix("172.30.1.2/32")).is_none());
    assert_eq!(adjacency_for(&snapshot, "10.20.0.2"), Adjacency::Drop);
    assert_eq!(snapshot.fib.unresolved()[0].prefix, prefix("10.96.0.0/12"));
    // Back up: the routes return; the next hop, forgotten at admin-down, is asked for
    // again, and once learnt everything forwards as before.
    cp.set_state("tap0", true).unwrap();
    assert_eq!(
        adjacency_for(&cp.snapshot(), "10.20.0.2"),
        Adjacency::Glean {
            tx_if: IfIndex(1),
            next_hop: Some(ip("172.30.1.2"))
        }
    );
    assert!(cp.learn_neighbor(IfIndex(1), ip("172.30.1.2"), mac(HOST_MAC)));
    let snapshot = cp.snapshot();
    assert!(matches!(
        adjacency_for(&snapshot, "10.20.0.2"),
        Adjacency::Rewrite { .. }
    ));
    assert!(matches!(
        adjacency_for(&snapshot, "10.96.0.1"),
        Adjacency::Rewrite { .. }
    ));
}

#[test]
fn new_mac_changes_the_rewrite_source() {
    let mut cp = seed();
    cp.set_mac("tap0", mac("02:00:00:00:00:aa")).unwrap();
    let Adjacency::Rewrite { rewrite, .. } = adjacency_for(&cp.snapshot(), "10.20.0.2") else {
        panic!("expected a rewrite");
    };
    assert_eq!(rewrite[6..12], [0x02, 0, 0, 0, 0, 0xaa]);
}

#[test]
fn learning_never_overwrites_a_static_neighbor() {
    let mut cp = seed();
    cp.add_neighbor("tap0", ip("172.30.1.5"), mac("02:00:00:00:00:05"), true)
        .unwrap();
    let before = cp.clone();
    assert!(!cp.learn_neighbor(IfIndex(1), ip("172.30.1.5"), mac("02:00:00:00:00:66")));
    assert_eq!(cp, before);
    let n = cp.neighbor(IfIndex(1), ip("172.30.1.5")).unwrap();
    assert_eq!((n.mac, n.is_static), (mac("02:00:00:00:00:05"), true));
    // A dynamic add over the static entry is refused too; a static add replaces.
    assert_eq!(
        cp.add_neighbor("tap0", ip("172.30.1.5"), mac("02:00:00:00:00:66"), false),
        Err(
            "neighbor 172.30.1.5 on tap0 is static (02:00:00:00:00:05); delete it first"
                .to_string()
        )
    );
    cp.add_neighbor("tap0", ip("172.30.1.5"), mac("02:00:00:00:00:77"), true)
        .unwrap();
    assert_eq!(
        cp.neighbor(IfIndex(1), ip("172.30.1.5")).unwrap().mac,
        mac("02:00:00:00:00:77")
    );
}

/// Contiv's pod entries: `set ip neighbor static tap2 10.1.1.3 MAC no-fib-entry` beside
/// a configured /32 route through the pod.
#[test]
fn a_no_fib_entry_neighbour_serves_routes_but_gets_no_host_route() {
    let mut cp = three_interfaces();
    let flags = NeighborFlags {
        is_static: true,
        no_fib_entry: true,
    };
    let pod_mac = mac("00:00:00:00:00:02");
    cp.add_neighbor_with("tap2", ip("10.1.1.3"), pod_mac, flags)
        .unwrap();
    let snapshot = cp.snapshot();
    assert!(snapshot.fib.entry(prefix("10.1.1.3/32")).is_none());
    assert_eq!(
        adjacency_for(&snapshot, "10.1.1.3"),
        Adjacency::Glean {
            tx_if: IfIndex(3),
            next_hop: None
        }
    );
    cp.add_route(prefix("10.1.1.3/32"), via("10.1.1.3", 3))
        .unwrap();
    assert_eq!(
        adjacency_for(&cp.snapshot(), "10.1.1.3"),
        Adjacency::Rewrite {
            tx_if: IfIndex(3),
            next_hop: ip("10.1.1.3"),
            rewrite: Adjacency::ethernet_rewrite(pod_mac, mac("02:fe:16:3f:5f:0f")),
        }
    );
    let shown = format_neighbors(&cp, Some(IfIndex(3)));
    let row = shown.lines().nth(1).unwrap();
    assert_eq!(row.split_whitespace().nth(2), Some("SN"), "{shown}");
}

#[test]
fn admin_down_forgets_learnt_neighbours_and_keeps_static_ones() {
    let mut cp = seed();
    cp.add_neighbor("tap0", ip("172.30.1.5"), mac("02:00:00:00:00:05"), true)
        .unwrap();
    cp.set_state("tap0", false).unwrap();
    assert!(cp.neighbor(IfIndex(1), ip("172.30.1.2")).is_none());
    assert!(cp.neighbor(IfIndex(1), ip("172.30.1.5")).is_some());
    // Nothing is learnt while it is down.
    assert!(!cp.learn_neighbor(IfIndex(1), ip("172.30.1.2"), mac(HOST_MAC)));
    cp.set_state("tap0", true).unwrap();
    assert!(cp.learn_neighbor(IfIndex(1), ip("172.30.1.2"), mac(HOST_MAC)));
}

#[test]
fn deleting_an_address_forgets_the_learnt_neighbours_of_its_subnet() {
    let mut cp = three_interfaces();
    cp.add_route(prefix("172.30.1.128/25"), RouteTarget::Attached(IfIndex(1)))
        .unwrap();
    assert!(cp.learn_neighbor(IfIndex(1), ip("172.30.1.200"), mac("02:00:00:00:00:c8")));
    assert!(cp.learn_neighbor(IfIndex(3), ip("10.1.1.3"), mac("02:00:00:00:00:03")));
    cp.add_neighbor("tap0", ip("172.30.1.5"), mac("02:00:00:00:00:05"), true)
        .unwrap();
    cp.del_address("tap0", prefix("172.30.1.1/24")).unwrap();
    // Gone: the learnt host only the subnet had on the link.
    assert!(cp.neighbor(IfIndex(1), ip("172.30.1.2")).is_none());
    // Kept: one the attached route still has, a static one, another interface's.
    assert!(cp.neighbor(IfIndex(1), ip("172.30.1.200")).is_some());
    assert!(cp.neighbor(IfIndex(1), ip("172.30.1.5")).is_some());
    assert!(cp.neighbor(IfIndex(3), ip("10.1.1.3")).is_some());
}

#[test]
fn deleting_an_attached_route_forgets_the_learnt_neighbours_under_it() {
    let mut cp = seed();
    cp.add_route(prefix("10.5.0.0/16"), RouteTarget::Attached(IfIndex(1)))
        .unwrap();
    assert!(cp.learn_neighbor(IfIndex(1), ip("10.5.0.7"), mac("02:00:00:00:05:07")));
    cp.add_neighbor("tap0", ip("10.5.0.8"), mac("02:00:00:00:05:08"), true)
        .unwrap();
    cp.del_route(prefix("10.5.0.0/16"), None).unwrap();
    assert!(cp.neighbor(IfIndex(1), ip("10.5.0.7")).is_none());
    assert!(
        cp.neighbor(IfIndex(1), ip("10.5.0.8")).is_some(),
        "static stays"
    );
    assert!(
        cp.neighbor(IfIndex(1), ip("172.30.1.2")).is_some(),
        "not under it"
    );
}

#[test]
fn learning_reports_only_real_changes() {
    let mut cp = seed();
    // Same MAC again: nothing for the FIB.
    assert!(!cp.learn_neighbor(IfIndex(1), ip("172.30.1.2"), mac(HOST_MAC)));
    // A moved MAC replaces the dynamic entry.
    assert!(cp.learn_neighbor(IfIndex(1), ip("172.30.1.2"), mac("02:00:00:00:00:22")));
    assert_eq!(
        cp.neighbor(IfIndex(1), ip("172.30.1.2")).unwrap().mac,
        mac("02:00:00:00:00:22")
    );
    let before = cp.clone();
    // Off-subnet sender, our own address, unknown interface, multicast MAC: ignored.
    assert!(!cp.learn_neighbor(IfIndex(1), ip("10.9.9.9"), mac("02:00:00:00:00:01")));
    assert!(!cp.learn_neighbor(IfIndex(1), ip("172.30.1.1"), mac("02:00:00:00:00:01")));
    assert!(!cp.learn_neighbor(IfIndex(7), ip("172.30.1.3"), mac("02:00:00:00:00:01")));
    assert!(!cp.learn_neighbor(IfIndex(0), ip("172.30.1.3"), mac("02:00:00:00:00:01")));
    assert!(!cp.learn_neighbor(IfIndex(1), ip("172.30.1.3"), mac("01:00:5e:00:00:01")));
    assert_eq!(cp, before);
}

#[test]
fn interfaces_are_numbered_from_one_in_creation_order() {
    let cp = three_interfaces();
    let names: Vec<(u16, &str)> = cp
        .interfaces()
        .iter()
        .map(|c| (c.index.0, c.name.as_str()))
        .collect();
    assert_eq!(names, [(1, "tap0"), (2, "tap1"), (3, "tap2")]);
    assert_eq!(cp.interface_index("tap2"), Ok(IfIndex(3)));
    let tap1 = cp.interface(IfIndex(2)).unwrap();
    assert_eq!(
        (tap1.admin_up, tap1.mtu, tap1.addresses.len()),
        (false, DEFAULT_MTU, 0)
    );
    let snapshot = three_interfaces().snapshot();
    assert_eq!(
        snapshot.interface_by_name("tap2").unwrap().index,
        IfIndex(3)
    );
    assert_eq!(snapshot.interface(IfIndex(1)).unwrap().name, "tap0");
    assert!(snapshot.interface(IfIndex(0)).is_none());
    assert!(snapshot.interface(IfIndex(4)).is_none());
}

#[test]
fn unknown_interface_error_lists_the_known_ones() {
    let mut cp = ControlPlane::new();
    assert_eq!(
        cp.interface_index("tap0"),
        Err("unknown interface 'tap0' (no interfaces configured)".to_string())
    );
    cp.add_interface("tap0", "net_tap0", mac(TAP0_MAC), InputKind::Virtio)
        .unwrap();
    cp.add_interface("tap2", "net_tap2", mac(TAP0_MAC), InputKind::Virtio)
        .unwrap();
    let expected = "unknown interface 'tap9' (known: tap0, tap2)".to_string();
    assert_eq!(cp.interface_index("tap9"), Err(expected.clone()));
    assert_eq!(cp.set_state("tap9", true), Err(expected.clone()));
    assert_eq!(cp.set_mtu("tap9", 1500), Err(expected.clone()));
    assert_eq!(
        cp.add_address("tap9", prefix("10.0.0.1/24")),
        Err(expected.clone())
    );
    assert_eq!(
        cp.add_neighbor("tap9", ip("10.0.0.2"), mac("02:00:00:00:00:02"), true),
        Err(expected)
    );
}

#[test]
fn bad_deletes_name_what_is_missing() {
    let mut cp = three_interfaces();
    assert_eq!(
        cp.del_address("tap0", prefix("172.30.1.9/24")),
        Err("interface tap0 has no address 172.30.1.9/24 (has: 172.30.1.1/24)".to_string())
    );
    assert_eq!(
        cp.del_address("tap1", prefix("10.0.0.1/24")),
        Err("interface tap1 has no address 10.0.0.1/24 (has: none)".to_string())
    );
    assert_eq!(
        cp.del_route(prefix("10.99.0.0/16"), None),
        Err("no route 10.99.0.0/16 to delete".to_string())
    );
    assert_eq!(
        cp.del_route(prefix("10.20.0.2/32"), Some(RouteTarget::Drop)),
        Err("route 10.20.0.2/32 is via 172.30.1.2 tap0, not drop".to_string())
    );
    assert_eq!(
        cp.del_neighbor("tap0", ip("172.30.1.99")),
        Err("no neighbor 172.30.1.99 on tap0 to delete".to_string())
    );
}

#[test]
fn every_refused_operation_changes_nothing() {
    let via_tap0 = via("172.30.1.2", 1);
    type Op = Box<dyn Fn(&mut ControlPlane) -> Result<(), String>>;
    let add_interface = |name: &'static str, device: &'static str| -> Op {
        Box::new(move |cp| {
            cp.add_interface(name, device, mac(TAP0_MAC), InputKind::Virtio)
                .map(|_| ())
        })
    };
    let ops: Vec<(&str, Op)> = vec![
        ("duplicate interface", add_interface("tap0", "net_x")),
        ("device bound twice", add_interface("tap5", "net_tap0")),
        ("empty name", add_interface("", "net_x")),
        ("name with space", add_interface("tap 5", "net_x")),
        (
            "state of unknown",
            Box::new(|cp| cp.set_state("tap9", false)),
        ),
        (
            "mac of unknown",
            Box::new(|cp| cp.set_mac("tap9", mac(TAP0_MAC))),
        ),
        ("mtu too small", Box::new(|cp| cp.set_mtu("tap0", 67))),
        ("mtu too large", Box::new(|cp| cp.set_mtu("tap0", 9001))),
        (
            "address length 0",
            Box::new(|cp| cp.add_address("tap1", prefix("10.3.0.1/0"))),
        ),
        (
            "address length 33",
            Box::new(|cp| {
                cp.add_address(
                    "tap1",
                    Ipv4Prefix {
                        addr: ip("10.3.0.1"),
                        len: 33,
                    },
                )
            }),
        ),
        (
            "multicast address",
            Box::new(|cp| cp.add_address("tap1", prefix("224.0.0.1/24"))),
        ),
        (
            "address twice",
            Box::new(|cp| cp.add_address("tap0", prefix("172.30.1.1/24"))),
        ),
        (
            "address on two interfaces",
            Box::new(|cp| cp.add_address("tap1", prefix("172.30.1.1/32"))),
        ),
        (
            "overlapping subnet",
            Box::new(|cp| cp.add_address("tap1", prefix("172.30.0.1/16"))),
        ),
        (
            "delete missing address",
            Box::new(|cp| cp.del_address("tap0", prefix("172.30.1.1/25"))),
        ),
        (
            "route length 33",
            Box::new(move |cp| {
                cp.add_route(
                    Ipv4Prefix {
                        addr: ip("10.0.0.0"),
                        len: 33,
                    },
                    via_tap0,
                )
            }),
        ),
        (
            "route via unknown index",
            Box::new(|cp| cp.add_route(prefix("10.0.0.0/8"), RouteTarget::Attached(IfIndex(9)))),
        ),
        (
            "route via index 0",
            Box::new(|cp| cp.add_route(prefix("10.0.0.0/8"), via("172.30.1.2", 0))),
        ),
        (
            "route via multicast",
            Box::new(|cp| cp.add_route(prefix("10.0.0.0/8"), recursive("224.1.1.1"))),
        ),
        (
            "route replaced",
            Box::new(|cp| cp.add_route(prefix("10.20.0.2/32"), RouteTarget::Drop)),
        ),
        (
            "delete missing route",
            Box::new(|cp| cp.del_route(prefix("10.99.0.0/16"), None)),
        ),
        (
            "delete with wrong target",
            Box::new(|cp| cp.del_route(prefix("10.20.0.2/32"), Some(RouteTarget::Drop))),
        ),
        (
            "neighbor broadcast",
            Box::new(|cp| cp.add_neighbor("tap0", ip("255.255.255.255"), mac(HOST_MAC), true)),
        ),
        (
            "neighbor multicast MAC",
            Box::new(|cp| {
                cp.add_neighbor("tap0", ip("172.30.1.8"), mac("01:00:5e:00:00:01"), true)
            }),
        ),
        (
            "delete missing neighbor",
            Box::new(|cp| cp.del_neighbor("tap0", ip("172.30.1.99"))),
        ),
        (
            "delete neighbor on unknown",
            Box::new(|cp| cp.del_neighbor("tap9", ip("172.30.1.2"))),
        ),
    ];
    for (what, op) in ops {
        let mut cp = three_interfaces();
        let before = cp.clone();
        let result = op(&mut cp);
        assert!(result.is_err(), "{what}: accepted");
        assert_eq!(cp, before, "{what}: state changed ({result:?})");
    }
}

#[test]
fn refusal_texts_for_values() {
    let mut cp = three_interfaces();
    assert_eq!(
        cp.set_mtu("tap0", 9001),
        Err("mtu 9001 on tap0: must be 68..=9000".to_string())
    );
    assert_eq!(
        cp.add_address("tap1", prefix("172.30.0.1/16")),
        Err("address 172.30.0.1/16 on tap1 conflicts with 172.30.1.1/24 on tap0".to_string())
    );
    assert_eq!(
        cp.add_route(prefix("10.20.0.2/32"), RouteTarget::Drop),
        Err(
            "route 10.20.0.2/32 already exists (via 172.30.1.2 tap0): podfwd keeps one path \
             per prefix (no ECMP); delete it first"
                .to_string()
        )
    );
    assert_eq!(
        cp.add_route(prefix("10.0.0.0/8"), RouteTarget::Attached(IfIndex(9))),
        Err("unknown interface index 9 (known: 1 = tap0, 2 = tap1, 3 = tap2)".to_string())
    );
}

#[test]
fn accepted_operations_do_what_they_say() {
    let mut cp = three_interfaces();
    cp.set_mtu("tap1", 1450).unwrap();
    assert_eq!(cp.interface(IfIndex(2)).unwrap().mtu, 1450);
    cp.add_address("tap1", prefix("10.2.1.2/32")).unwrap();
    cp.add_neighbor("tap2", ip("10.1.1.3"), mac("02:00:00:00:00:03"), true)
        .unwrap();
    cp.del_address("tap0", prefix("172.30.1.1/24")).unwrap();
    assert!(cp.interface(IfIndex(1)).unwrap().addresses.is_empty());
    // The host learnt on that subnet went with it.
    assert!(cp.neighbor(IfIndex(1), ip("172.30.1.2")).is_none());
    // The same route twice is fine and leaves one route.
    let via = via("172.30.1.2", 1);
    cp.add_route(prefix("10.20.0.2/32"), via).unwrap();
    assert_eq!(cp.routes().count(), 1);
    // Host bits are cleared, so the route is deleted by its network.
    cp.add_route(prefix("10.40.1.7/16"), RouteTarget::Drop)
        .unwrap();
    cp.del_route(prefix("10.40.0.0/16"), Some(RouteTarget::Drop))
        .unwrap();
    cp.del_route(prefix("10.20.0.2/32"), None).unwrap();
    assert_eq!(cp.routes().count(), 0);
    cp.del_neighbor("tap2", ip("10.1.1.3")).unwrap();
    assert_eq!(cp.neighbors().count(), 0);
}

#[test]
fn pod_host_address_is_receive_only() {
    let mut cp = three_interfaces();
    cp.set_state("tap1", true).unwrap();
    cp.add_address("tap1", prefix("10.2.1.2/32")).unwrap();
    let snapshot = cp.snapshot();
    assert_eq!(
        adjacency_for(&snapshot, "10.2.1.2"),
        Adjacency::Receive {
            if_index: IfIndex(2)
        }
    );
    assert_eq!(snapshot.fib.lookup(ip("10.2.1.3")), AdjIndex::NO_ROUTE);
}

#[test]
fn snapshots_count_epochs() {
    let mut cp = seed();
    assert_eq!(cp.epoch(), 0);
    assert_eq!(cp.snapshot().epoch, 1);
    assert_eq!(cp.snapshot().epoch, 2);
    assert_eq!(cp.epoch(), 2);
}

#[test]
fn snapshot_is_shareable_between_threads() {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Snapshot>();
    send_and_sync::<crate::fib::Fib>();
}

#[test]
fn show_ip_fib_lists_entries_in_vpp_shape() {
    let mut cp = seed();
    cp.add_route(prefix("10.1.0.0/16"), RouteTarget::Drop)
        .unwrap();
    let snapshot = cp.snapshot();
    let shown = format_fib(&snapshot, None);
    let receive = snapshot.fib.lookup(ip("172.30.1.1")).0;
    let expected_receive = format!(
        "172.30.1.1/32\n  unicast-ip4-chain\n  [@0]: dpo-load-balance: [proto:ip4 index:{receive} buckets:1 src:interface]\n    [0] [@2]: dpo-receive: 172.30.1.1 on tap0\n"
    );
    assert!(
        shown.starts_with(
            "ipv4-VRF:0, fib_index 0, flow hash:[src dst sport dport proto ]\n0.0.0.0/0\n"
        ),
        "{shown}"
    );
    assert!(shown.contains(&expected_receive), "{shown}");
    assert!(
        shown.contains("172.30.1.0/24\n  unicast-ip4-chain\n"),
        "{shown}"
    );
    assert!(
        shown.contains("    [0] [@4]: ipv4-glean: tap0\n"),
        "{shown}"
    );
    assert!(shown.contains("10.1.0.0/16\n"), "{shown}");
    assert!(shown.contains("    [0] [@0]: dpo-drop ip4\n"), "{shown}");
    // Entries come in address order.
    let drop_at = shown.find("10.1.0.0/16").unwrap();
    let host_at = shown.find("10.20.0.2/32").unwrap();
    let subnet_at = shown.find("172.30.1.0/24").unwrap();
    assert!(drop_at < host_at && host_at < subnet_at);
}

/// VPP's summary: entries counted per prefix length, ascending; the implicit default
/// counted until a real one replaces it; routes not installed said apart.
#[test]
fn show_ip_fib_summary_counts_prefixes_per_length() {
    let mut cp = seed();
    let header = "ipv4-VRF:0, fib_index 0, flow hash:[src dst sport dport proto ]\n   Prefix length         Count      \n";
    let before = format_fib_summary(&cp.snapshot());
    let lines_of = |shown: &str| -> Vec<(u8, u64)> {
        shown
            .lines()
            .skip(2)
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
            })
            .collect()
    };
    assert!(before.starts_with(header), "{before}");
    // The full listing has one line per entry that counts.
    let full = format_fib(&cp.snapshot(), None);
    let entries = full
        .lines()
        .filter(|l| l.contains('/') && !l.contains(' '))
        .count() as u64;
    assert_eq!(
        lines_of(&before).iter().map(|(_, c)| c).sum::<u64>(),
        entries,
        "{before}\n{full}"
    );
    assert_eq!(lines_of(&before)[0], (0, 1), "{before}");
    assert!(!before.contains("not installed"), "{before}");
    cp.add_route(prefix("10.5.0.0/16"), recursive("9.9.9.9"))
        .unwrap();
    let unresolved = format_fib_summary(&cp.snapshot());
    assert_eq!(lines_of(&unresolved), lines_of(&before), "{unresolved}");
    assert!(
        unresolved.ends_with("\nroutes not installed: 1 (show ip fib says why)\n"),
        "{unresolved}"
    );
    cp.add_route(prefix("10.1.0.0/16"), RouteTarget::Drop)
        .unwrap();
    cp.add_route(prefix("10.2.0.0/16"), RouteTarget::Drop)
        .unwrap();
    cp.add_route(prefix("0.0.0.0/0"), RouteTarget::Drop)
        .unwrap();
    let after = format_fib_summary(&cp.snapshot());
    let mut expected = lines_of(&before);
    // After 0.0.0.0/0 and the /4s (224/4, 240/4); 10.5.0.0/16 now resolves through the
    // default route.
    expected.insert(2, (16, 3));
    assert_eq!(lines_of(&after), expected, "{after}");
    assert!(
        after.contains("                  16               3\n"),
        "{after}"
    );
    assert!(!after.contains("not installed"), "{after}");
}

#[test]
fn show_ip_fib_with_a_prefix_shows_the_covering_entry() {
    let snapshot = seed().snapshot();
    let shown = format_fib(&snapshot, Some(prefix("172.30.1.77/32")));
    let glean = snapshot.fib.lookup(ip("172.30.1.77")).0;
    assert_eq!(
        shown,
        format!(
            "ipv4-VRF:0, fib_index 0, flow hash:[src dst sport dport proto ]\n172.30.1.0/24\n  unicast-ip4-chain\n  [@0]: dpo-load-balance: [proto:ip4 index:{glean} buckets:1 src:interface]\n    [0] [@4]: ipv4-glean: tap0\n"
        )
    );
    let nothing = format_fib(&snapshot, Some(prefix("8.8.8.8/32")));
    assert!(nothing.ends_with("0.0.0.0/0\n  unicast-ip4-chain\n  [@0]: dpo-load-balance: [proto:ip4 index:0 buckets:1 src:default-route]\n    [0] [@0]: ip4-unreachable (no route)\n"), "{nothing}");
}

#[test]
fn show_ip_neighbors_flags_static_and_dynamic() {
    let mut cp = three_interfaces();
    cp.add_neighbor("tap2", ip("10.1.1.3"), mac("00:00:00:00:00:02"), true)
        .unwrap();
    let shown = format_neighbors(&cp, None);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert_eq!(
        lines[0],
        "    Time          IP4       Flags       Ethernet      Interface"
    );
    // The time column is wall time; compare what follows it.
    assert_eq!(
        &lines[1][12..],
        "   172.30.1.2     D    3e:1b:70:2d:4d:51  tap0"
    );
    assert_eq!(
        &lines[2][12..],
        "    10.1.1.3      S    00:00:00:00:00:02  tap2"
    );
    assert!(lines[1][..12].trim().parse::<f64>().is_ok(), "{shown}");
    // One interface's: the header and tap2's neighbour alone.
    let tap2 = format_neighbors(&cp, Some(IfIndex(3)));
    let lines: Vec<&str> = tap2.lines().collect();
    assert_eq!(lines.len(), 2, "{tap2}");
    assert!(lines[1].ends_with(" tap2"), "{tap2}");
}

#[test]
fn show_interface_address_lists_state_and_addresses() {
    let cp = three_interfaces();
    assert_eq!(
        format_interface_addresses(cp.interfaces()),
        "tap0 (up):\n  L3 172.30.1.1/24\ntap1 (dn):\ntap2 (up):\n  L3 10.1.1.1/24\n"
    );
}

/// As VPP: a connected /30-or-shorter subnet's network and broadcast addresses are
/// drops (neither glean'd nor forwarded), and nobody there is learnt as a neighbour.
#[test]
fn subnet_network_and_broadcast_addresses_are_drops() {
    let mut cp = seed();
    let snapshot = cp.snapshot();
    for end in ["172.30.1.0", "172.30.1.255"] {
        let adj = snapshot.fib.lookup(ip(end));
        assert_eq!(*snapshot.fib.adjacency(adj), Adjacency::Drop, "{end}");
        assert!(!cp.learn_neighbor(IfIndex(1), ip(end), mac("02:00:00:00:00:09")));
    }
    let adj = snapshot.fib.lookup(ip("172.30.1.254"));
    assert!(
        matches!(snapshot.fib.adjacency(adj), Adjacency::Glean { .. }),
        "the rest of the subnet still gleans"
    );
    // A /31 has no network or broadcast address (RFC 3021): both ends are hosts.
    cp.add_address("tap0", prefix("192.168.7.0/31")).unwrap();
    let snapshot = cp.snapshot();
    let adj = snapshot.fib.lookup(ip("192.168.7.1"));
    assert!(matches!(
        snapshot.fib.adjacency(adj),
        Adjacency::Glean { .. }
    ));
    // An address that is itself the subnet's first address stays a receive.
    cp.add_address("tap0", prefix("192.168.8.0/24")).unwrap();
    let snapshot = cp.snapshot();
    let adj = snapshot.fib.lookup(ip("192.168.8.0"));
    assert!(matches!(
        snapshot.fib.adjacency(adj),
        Adjacency::Receive { .. }
    ));
}

/// A route added `via A` shows in `show ip fib` as `via A tap0` (the interface it
/// resolves through), and that shown path deletes it and re-adds as the same route; a
/// next hop that is not on the named interface's subnet is another path.
#[test]
fn a_route_via_a_next_hop_is_the_same_path_with_its_interface_named() {
    let mut cp = three_interfaces();
    let seeded = cp.routes().count();
    let bare = RouteTarget::Via {
        next_hop: ip("172.30.1.9"),
        interface: None,
    };
    cp.add_route(prefix("10.5.0.0/16"), bare).unwrap();
    // tap0 holds 172.30.1.1/24: the shown path is the same route.
    cp.add_route(prefix("10.5.0.0/16"), via("172.30.1.9", 1))
        .unwrap();
    assert_eq!(cp.routes().count(), seeded + 1);
    // tap1 is not where 172.30.1.9 is.
    let before = cp.clone();
    assert_eq!(
        cp.del_route(prefix("10.5.0.0/16"), Some(via("172.30.1.9", 2))),
        Err("route 10.5.0.0/16 is via 172.30.1.9, not via 172.30.1.9 tap1".to_string())
    );
    assert_eq!(cp, before);
    cp.del_route(prefix("10.5.0.0/16"), Some(via("172.30.1.9", 1)))
        .unwrap();
    assert_eq!(cp.routes().count(), seeded);
    // And the other way round: added with its interface, deleted without.
    cp.add_route(prefix("10.5.0.0/16"), via("172.30.1.9", 1))
        .unwrap();
    cp.del_route(prefix("10.5.0.0/16"), Some(bare)).unwrap();
    assert_eq!(cp.routes().count(), seeded);
}
