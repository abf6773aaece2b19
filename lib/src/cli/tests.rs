use std::net::Ipv4Addr;

use super::*;
use crate::acl::{AclAction, PortRange, TimeoutKind};
use crate::counters::RuntimeView;
use crate::nat44::{LbLocal, NatProtocol, SessionSelector, Side, TwiceNat};

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn prefix(s: &str) -> Ipv4Prefix {
    s.parse().unwrap()
}

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

/// Parses a line that must be a command, and checks that its canonical form parses back
/// to the same command.
fn ok(line: &str) -> Command {
    let command = match parse(line) {
        Ok(Some(command)) => command,
        other => panic!("{line:?} gave {other:?}"),
    };
    let canonical = command.to_string();
    assert_eq!(
        parse(&canonical),
        Ok(Some(command.clone())),
        "{line:?} printed as {canonical:?}"
    );
    command
}

fn err(line: &str) -> String {
    match parse(line) {
        Err(e) => e,
        other => panic!("{line:?} gave {other:?}, expected an error"),
    }
}

// ---- the table and the words ----

#[test]
fn table_paths_are_unique_and_usages_start_with_them() {
    for (i, spec) in COMMANDS.iter().enumerate() {
        let words = spec.path.join(" ");
        assert!(spec.usage.starts_with(&words), "{words}: {}", spec.usage);
        assert!(!spec.help.is_empty(), "{words}");
        assert!(
            COMMANDS[i + 1..]
                .iter()
                .all(|other| other.path != spec.path),
            "{words} is in the table twice"
        );
    }
}

#[test]
fn blank_lines_and_comments_are_no_command() {
    assert_eq!(parse(""), Ok(None));
    assert_eq!(parse("   \t "), Ok(None));
    assert_eq!(parse("# ip route add 1.2.3.0/24 drop"), Ok(None));
    assert_eq!(parse("   #comment"), Ok(None));
}

#[test]
fn command_words_abbreviate_to_unique_prefixes() {
    assert_eq!(ok("sh int"), Command::ShowInterface { names: vec![] });
    assert_eq!(
        ok("sh int tap0"),
        Command::ShowInterface {
            names: vec!["tap0".into()]
        }
    );
    assert_eq!(
        ok("show interface tap0 tap2"),
        Command::ShowInterface {
            names: vec!["tap0".into(), "tap2".into()]
        }
    );
    let every = Command::ShowInterfaceAddress { names: vec![] };
    assert_eq!(ok("sh int addr"), every);
    assert_eq!(ok("show interface address"), every);
    assert_eq!(
        ok("show interface address tap0 tap2"),
        Command::ShowInterfaceAddress {
            names: vec!["tap0".into(), "tap2".into()]
        }
    );
    assert_eq!(
        ok("sh hardware tap0"),
        Command::ShowHardwareInterfaces {
            detail: HardwareDetail::Normal,
            name: Some("tap0".into())
        }
    );
    for (line, detail, name) in [
        ("sh hardware brief", HardwareDetail::Brief, None),
        (
            "show hardware-interfaces verbose tap0",
            HardwareDetail::Detail,
            Some("tap0"),
        ),
        (
            "show hardware-interfaces detail",
            HardwareDetail::Detail,
            None,
        ),
        // VPP's words in either order.
        ("sh hard tap0 verbose", HardwareDetail::Detail, Some("tap0")),
        ("sh hard tap0 brief", HardwareDetail::Brief, Some("tap0")),
    ] {
        assert_eq!(
            ok(line),
            Command::ShowHardwareInterfaces {
                detail,
                name: name.map(str::to_owned)
            },
            "{line}"
        );
    }
    assert_eq!(ok("sh ip fib"), Command::ShowIpFib { prefix: None });
    let all = Command::ShowIpNeighbors { interface: None };
    assert_eq!(ok("sh ip n"), all);
    assert_eq!(ok("sh ip arp"), all);
    assert_eq!(
        ok("show ip neighbors tap2"),
        Command::ShowIpNeighbors {
            interface: Some("tap2".into())
        }
    );
    assert_eq!(ok("sh err"), Command::ShowErrors);
    assert_eq!(ok("show node counters"), Command::ShowErrors);
    assert_eq!(
        ok("sh run"),
        Command::ShowRuntime {
            view: RuntimeView::default(),
            summary: false
        }
    );
    assert_eq!(ok("cl tr"), Command::ClearTrace);
    assert_eq!(ok("q"), Command::Quit);
    assert_eq!(ok("exit"), Command::Quit);
}

#[test]
fn ambiguous_words_list_the_candidates() {
    assert_eq!(err("sh i"), "ambiguous input 'i': could be interface or ip");
    assert_eq!(err("ex foo"), "ambiguous input 'ex': could be exec or exit");
    assert_eq!(
        err("set interface m tap0 1.2.3.4"),
        "ambiguous input 'm': could be mac or mtu"
    );
}

#[test]
fn unknown_words_quote_the_rest_of_the_line() {
    assert_eq!(err("foo"), "unknown input 'foo'");
    assert_eq!(err("show foo bar"), "unknown input 'foo bar'");
    assert_eq!(err("show ip neighbors tap0 extra"), "unknown input 'extra'");
    assert_eq!(err("show errors now"), "unknown input 'now'");
    assert_eq!(err("Show interface"), "unknown input 'Show interface'");
}

#[test]
fn incomplete_commands_say_what_may_follow() {
    assert_eq!(
        err("show ip"),
        "show ip: incomplete command, expected arp, fib or neighbors"
    );
    assert_eq!(
        err("set"),
        "set: incomplete command, expected acl-plugin, interface, ip, nat or nat44"
    );
    assert_eq!(
        err("nat44 add static"),
        "nat44 add static: incomplete command, expected mapping"
    );
}

// ---- interfaces ----

#[test]
fn set_interface_state() {
    assert_eq!(
        ok("set interface state tap0 up"),
        Command::SetInterfaceState {
            interface: "tap0".into(),
            up: true
        }
    );
    assert_eq!(
        ok("set int st tap0 down"),
        Command::SetInterfaceState {
            interface: "tap0".into(),
            up: false
        }
    );
    assert_eq!(
        err("set interface state tap0"),
        "set interface state: missing argument: expected up or down"
    );
    assert_eq!(
        err("set interface state"),
        "set interface state: missing argument: expected an interface name"
    );
    assert_eq!(
        err("set interface state tap0 sideways"),
        "set interface state: expected up or down, not 'sideways'"
    );
}

#[test]
fn set_interface_mac() {
    assert_eq!(
        ok("set interface mac address tap0 01:23:45:67:89:42"),
        Command::SetInterfaceMac {
            interface: "tap0".into(),
            mac: mac("01:23:45:67:89:42")
        }
    );
    assert_eq!(
        err("set interface mac address tap0 01:23:45:67:89"),
        "MAC 01:23:45:67:89: has 5 octets, expected 6"
    );
    assert_eq!(
        err("set interface mac address tap0"),
        "set interface mac address: missing argument: expected a MAC address like 02:fe:16:3f:5f:0f"
    );
}

#[test]
fn set_interface_ip_address() {
    assert_eq!(
        ok("set interface ip address tap0 172.30.1.1/24"),
        Command::SetInterfaceIpAddress {
            interface: "tap0".into(),
            prefix: prefix("172.30.1.1/24"),
            del: false
        }
    );
    assert_eq!(
        ok("set int ip addr del tap0 172.30.1.1/24"),
        Command::SetInterfaceIpAddress {
            interface: "tap0".into(),
            prefix: prefix("172.30.1.1/24"),
            del: true
        }
    );
    assert_eq!(
        ok("set interface ip address del tap0 all"),
        Command::DelInterfaceAddresses {
            interface: "tap0".into()
        }
    );
    // `all` only deletes.
    assert_eq!(
        err("set interface ip address tap0 all"),
        "prefix all: expected A.B.C.D/LEN"
    );
    assert_eq!(
        err("set interface ip address tap0 10.1.1.0/33"),
        "prefix 10.1.1.0/33: length must be 0..=32"
    );
    assert_eq!(
        err("set interface ip address tap0 10.1.1.1"),
        "prefix 10.1.1.1: expected A.B.C.D/LEN"
    );
}

#[test]
fn set_interface_mtu() {
    assert_eq!(
        ok("set interface mtu 1450 tap0"),
        Command::SetInterfaceMtu {
            interface: "tap0".into(),
            mtu: 1450
        }
    );
    // One range for the parser, its help and the executor (9216 passed the parser and
    // failed in the executor).
    assert_eq!(
        err("set interface mtu 9001 tap0"),
        "mtu 9001: must be in 68..=9000"
    );
    let range = crate::config::MTU_RANGE;
    assert!(crate::cli::help().contains(&format!("{}..={}", range.start(), range.end())));
    assert_eq!(
        err("set interface mtu 99999 tap0"),
        "mtu 99999: must be in 68..=9000"
    );
    assert_eq!(
        err("set interface mtu tap0 1450"),
        "mtu 'tap0': expected a number in 68..=9000"
    );
    assert_eq!(
        err("set interface mtu 1450"),
        "set interface mtu: missing argument: expected an interface name"
    );
}

// ---- routing and neighbours ----

#[test]
fn ip_route_add_forms() {
    assert_eq!(
        ok("ip route add 0.0.0.0/0 via 172.30.1.2 tap0"),
        Command::IpRouteAdd {
            prefix: prefix("0.0.0.0/0"),
            path: RoutePath::NextHop {
                next_hop: ip("172.30.1.2"),
                interface: Some("tap0".into())
            }
        }
    );
    assert_eq!(
        ok("ip route add 10.0.0.0/8 via 172.30.1.2"),
        Command::IpRouteAdd {
            prefix: prefix("10.0.0.0/8"),
            path: RoutePath::NextHop {
                next_hop: ip("172.30.1.2"),
                interface: None
            }
        }
    );
    assert_eq!(
        ok("ip route add 10.1.1.3/32 via tap1"),
        Command::IpRouteAdd {
            prefix: prefix("10.1.1.3/32"),
            path: RoutePath::Interface {
                interface: "tap1".into()
            }
        }
    );
    assert_eq!(
        ok("ip ro add 192.168.0.0/16 drop"),
        Command::IpRouteAdd {
            prefix: prefix("192.168.0.0/16"),
            path: RoutePath::Drop
        }
    );
}

#[test]
fn ip_route_del_forms() {
    assert_eq!(
        ok("ip route del 10.0.0.0/8"),
        Command::IpRouteDel {
            prefix: prefix("10.0.0.0/8"),
            path: None
        }
    );
    assert_eq!(
        ok("ip route del 10.0.0.0/8 via 172.30.1.2 tap0"),
        Command::IpRouteDel {
            prefix: prefix("10.0.0.0/8"),
            path: Some(RoutePath::NextHop {
                next_hop: ip("172.30.1.2"),
                interface: Some("tap0".into())
            })
        }
    );
}

#[test]
fn ip_route_errors() {
    assert_eq!(
        err("ip route add 10.0.0.0/8"),
        "ip route add: missing argument: expected via A.B.C.D [NAME], via NAME or drop"
    );
    assert_eq!(
        err("ip route add 10.0.0.0/8 via"),
        "ip route add: missing argument: expected a next hop A.B.C.D or an interface name"
    );
    assert_eq!(
        err("ip route add 10.0.0.0/8 via 10.1.1"),
        "'10.1.1' is not an IPv4 address"
    );
    assert_eq!(
        err("ip route add 10.0.0.0/8 towards tap0"),
        "unknown input 'towards tap0'"
    );
    assert_eq!(
        err("ip route add 10.0.0.0/8 drop now"),
        "unknown input 'now'"
    );
    assert_eq!(
        err("ip route add 10.0.0.0/33 drop"),
        "prefix 10.0.0.0/33: length must be 0..=32"
    );
    assert_eq!(
        err("ip route add"),
        "ip route add: missing argument: expected a prefix A.B.C.D/LEN"
    );
    assert_eq!(
        err("ip route"),
        "ip route: incomplete command, expected add, del or a prefix A.B.C.D/LEN"
    );
    assert_eq!(
        err("ip route delete 10.0.0.0/8"),
        "unknown input 'delete 10.0.0.0/8'"
    );
}

#[test]
fn show_ip_fib() {
    assert_eq!(
        ok("show ip fib 10.1.1.0/24"),
        Command::ShowIpFib {
            prefix: Some(prefix("10.1.1.0/24"))
        }
    );
    assert_eq!(ok("sh ip fib summary"), Command::ShowIpFibSummary);
    assert_eq!(err("show ip fib summary x"), "unknown input 'x'");
    assert_eq!(
        err("show ip fib 10.1.1.0/40"),
        "prefix 10.1.1.0/40: length must be 0..=32"
    );
}

/// VPP's spellings: `add` is optional in `ip route`; `show ip fib ADDRESS` looks up a
/// /32; `ip neighbor` is `set ip neighbor`; `comment` ignores its line.
#[test]
fn vpp_spellings() {
    assert_eq!(
        ok("ip route 10.0.0.0/8 via 1.2.3.4"),
        ok("ip route add 10.0.0.0/8 via 1.2.3.4")
    );
    assert_eq!(
        ok("ip ro 10.0.0.0/8 drop"),
        Command::IpRouteAdd {
            prefix: prefix("10.0.0.0/8"),
            path: RoutePath::Drop
        }
    );
    assert_eq!(
        err("ip route 10.0.0.0/8"),
        "ip route: missing argument: expected via A.B.C.D [NAME], via NAME or drop"
    );
    assert_eq!(
        ok("show ip fib 10.0.0.1"),
        Command::ShowIpFib {
            prefix: Some(prefix("10.0.0.1/32"))
        }
    );
    assert_eq!(err("show ip fib 10.0.0"), "'10.0.0' is not an IPv4 address");
    assert_eq!(
        ok("ip neighbor del tap0 172.30.1.2 3e:1b:70:2d:4d:51"),
        ok("set ip neighbor del tap0 172.30.1.2 3e:1b:70:2d:4d:51")
    );
    assert_eq!(
        ok("ip neigh tap0 172.30.1.2 3e:1b:70:2d:4d:51 static"),
        ok("set ip neighbor tap0 172.30.1.2 3e:1b:70:2d:4d:51 static")
    );
    // VPP's own help spells it `delete`.
    assert_eq!(
        ok("set ip neighbor delete tap0 172.30.1.2 3e:1b:70:2d:4d:51"),
        ok("set ip neighbor del tap0 172.30.1.2 3e:1b:70:2d:4d:51")
    );
    assert_eq!(
        ok("comment { ip route add 10.0.0.0/8 drop }"),
        Command::Comment
    );
    assert_eq!(ok("comment"), Command::Comment);
    assert_eq!(ok("comm anything, at all"), Command::Comment);
}

/// VPP's `set interface mtu [packet|ip4|ip6|mpls] N NAME`: podfwd's one MTU is IPv4's.
#[test]
fn set_interface_mtu_kinds() {
    let mtu = Command::SetInterfaceMtu {
        interface: "tap0".into(),
        mtu: 9000,
    };
    assert_eq!(ok("set interface mtu packet 9000 tap0"), mtu);
    assert_eq!(ok("set interface mtu ip4 9000 tap0"), mtu);
    for kind in ["ip6", "mpls"] {
        assert_eq!(
            err(&format!("set interface mtu {kind} 9000 tap0")),
            format!(
                "set interface mtu: podfwd forwards IPv4 only, so it has no {kind} MTU \
                 (packet or ip4 sets the one MTU)"
            )
        );
    }
    assert_eq!(
        err("set interface mtu packet tap0"),
        "mtu 'tap0': expected a number in 68..=9000"
    );
}

/// Every `show` is one: in a batch it publishes first (see `Command::is_show`).
#[test]
fn every_show_command_is_a_show() {
    for spec in COMMANDS.iter().filter(|s| s.path[0] == "show") {
        let line = spec.path.join(" ");
        assert!(ok(&line).is_show(), "{line}");
    }
    for line in [
        "ip route add 10.0.0.0/8 drop",
        "clear trace",
        "help",
        "exec x",
    ] {
        assert!(!ok(line).is_show(), "{line}");
    }
}

#[test]
fn set_ip_neighbor() {
    assert_eq!(
        ok("set ip neighbor tap0 172.30.1.2 3e:1b:70:2d:4d:51 static"),
        Command::SetIpNeighbor {
            interface: "tap0".into(),
            ip: ip("172.30.1.2"),
            mac: mac("3e:1b:70:2d:4d:51"),
            is_static: true,
            no_fib_entry: false,
            del: false
        }
    );
    assert_eq!(
        ok("set ip neigh del tap0 172.30.1.2 3e1b.702d.4d51"),
        Command::SetIpNeighbor {
            interface: "tap0".into(),
            ip: ip("172.30.1.2"),
            mac: mac("3e:1b:70:2d:4d:51"),
            is_static: false,
            no_fib_entry: false,
            del: true
        }
    );
    // Contiv's pod entries; VPP takes the keywords in any order.
    let pod = Command::SetIpNeighbor {
        interface: "tap2".into(),
        ip: ip("10.1.1.3"),
        mac: mac("00:00:00:00:00:02"),
        is_static: true,
        no_fib_entry: true,
        del: false,
    };
    assert_eq!(
        ok("set ip neighbor tap2 10.1.1.3 00:00:00:00:00:02 static no-fib-entry"),
        pod
    );
    assert_eq!(
        ok("set ip neighbor static tap2 10.1.1.3 00:00:00:00:00:02 no-fib-entry"),
        pod
    );
    assert_eq!(
        ok("set ip neighbor no-fib-entry static tap2 10.1.1.3 00:00:00:00:00:02"),
        pod
    );
    assert_eq!(
        err("set ip neighbor static"),
        "set ip neighbor: missing argument: expected NAME A.B.C.D MAC"
    );
    assert_eq!(
        err("set ip neighbor tap2 10.1.1.3 00:00:00:00:00:02 tap2"),
        "unknown input 'tap2'"
    );
    assert_eq!(
        err("set ip neighbor tap0 172.30.1.2 3e:1b:70:2d:4d"),
        "MAC 3e:1b:70:2d:4d: has 5 octets, expected 6"
    );
    assert_eq!(
        err("set ip neighbor tap0 172.30.1.2"),
        "set ip neighbor: missing argument: expected a MAC address like 02:fe:16:3f:5f:0f"
    );
    assert_eq!(
        err("set ip neighbor tap0 172.30.1.256 3e:1b:70:2d:4d:51"),
        "'172.30.1.256' is not an IPv4 address"
    );
    assert_eq!(
        err("set ip neighbor tap0 172.30.1.2 3e:1b:70:2d:4d:51 dynamic"),
        "unknown input 'dynamic'"
    );
}

// ---- tracing, counters, console ----

#[test]
fn trace_commands() {
    assert_eq!(
        ok("trace add virtio-input 1000"),
        Command::TraceAdd {
            input: InputKind::Virtio,
            count: 1000
        }
    );
    assert_eq!(
        ok("tr add vhost-user-input 1"),
        Command::TraceAdd {
            input: InputKind::VhostUser,
            count: 1
        }
    );
    // VPP's taps receive in virtio-input; there is no tap-input node.
    assert_eq!(
        err("trace add tap-input 1"),
        "trace add: 'tap-input' is not an input node (known: virtio-input, \
         vhost-user-input, pcap-input, dpdk-input)"
    );
    assert_eq!(
        err("trace add ip4-lookup 10"),
        "trace add: 'ip4-lookup' is not an input node (known: virtio-input, \
         vhost-user-input, pcap-input, dpdk-input)"
    );
    assert_eq!(
        err("trace add dpdk-input 0"),
        "count 0: must be in 1..=1024"
    );
    // No more than a worker's trace buffer keeps.
    assert_eq!(
        err("trace add virtio-input 1025"),
        "count 1025: must be in 1..=1024"
    );
    assert_eq!(
        err("trace add dpdk-input"),
        "trace add: missing argument: expected count (1..=1024)"
    );
    assert_eq!(ok("show trace"), Command::ShowTrace { max: None });
    assert_eq!(ok("sh tr max 5"), Command::ShowTrace { max: Some(5) });
    assert_eq!(
        err("show trace max"),
        "show trace: missing argument: expected max (1..=4294967295)"
    );
    assert_eq!(err("show trace 5"), "unknown input '5'");
    assert_eq!(ok("clear trace"), Command::ClearTrace);
}

#[test]
fn show_runtime_takes_vpps_words_in_vpps_order() {
    let runtime = |verbose, max, summary| Command::ShowRuntime {
        view: RuntimeView { verbose, max },
        summary,
    };
    assert_eq!(ok("show runtime brief"), runtime(false, false, false));
    assert_eq!(ok("show runtime max"), runtime(false, true, false));
    assert_eq!(ok("sh run verbose max summary"), runtime(true, true, true));
    assert_eq!(ok("show runtime summary"), runtime(false, false, true));
    assert_eq!(err("show runtime max verbose"), "unknown input 'verbose'");
    assert_eq!(err("show runtime brief verbose"), "unknown input 'verbose'");
    // VPP's short forms.
    assert_eq!(ok("show runtime m"), runtime(false, true, false));
    assert_eq!(ok("sh run v m su"), runtime(true, true, true));
    assert_eq!(ok("sh run b sum"), runtime(false, false, true));
    assert_eq!(err("show runtime su m"), "unknown input 'm'");
}

#[test]
fn ping_takes_vpps_words() {
    let ping = |source: Option<&str>, size, interval_ms, repeat| {
        Command::Ping(PingArgs {
            dst: Ipv4Addr::new(172, 30, 1, 2),
            source: source.map(str::to_string),
            size,
            interval_ms,
            repeat,
        })
    };
    assert_eq!(ok("ping 172.30.1.2"), ping(None, 60, 1000, 5));
    assert_eq!(
        ok("ping ipv4 172.30.1.2 table-id 0"),
        ping(None, 60, 1000, 5)
    );
    assert_eq!(
        ok("ping 172.30.1.2 repeat 3 interval 0.2 source tap0 size 8"),
        ping(Some("tap0"), 8, 200, 3)
    );
    assert_eq!(ok("ping 172.30.1.2 interval .005"), ping(None, 60, 5, 5));
    assert_eq!(ok("ping 172.30.1.2 interval 60"), ping(None, 60, 60_000, 5));
    let interval = "expected seconds, 0.001 to 60 in steps of 0.001";
    for bad in [
        "0",
        "0.0001",
        "61",
        "1e3",
        "-1",
        ".",
        "1.2.3",
        "99999999999",
    ] {
        assert_eq!(
            err(&format!("ping 172.30.1.2 interval {bad}")),
            format!("interval '{bad}': {interval}"),
            "{bad}"
        );
    }
    assert_eq!(err("ping 172.30.1.2 size 7"), "size 7: must be in 8..=8972");
    assert_eq!(
        err("ping 172.30.1.2 repeat 0"),
        "repeat 0: must be in 1..=1000"
    );
    assert_eq!(
        err("ping 172.30.1.2 table-id 1"),
        "table-id 1: must be in 0..=0"
    );
    assert_eq!(err("ping 172.30.1.2 verbose"), "unknown input 'verbose'");
    assert_eq!(err("ping tap0"), "'tap0' is not an IPv4 address");
}

#[test]
fn pcap_trace_takes_vpp_words_in_any_order() {
    let start = |rx, tx, drop, max, max_bytes, interface: Option<&str>, file: Option<&str>| {
        Command::PcapTrace(PcapTrace::Start(PcapCapture {
            rx,
            tx,
            drop,
            max,
            max_bytes,
            interface: interface.map(str::to_string),
            file: file.map(str::to_string),
        }))
    };
    assert_eq!(
        ok("pcap trace rx"),
        start(true, false, false, 1000, 512, None, None)
    );
    assert_eq!(
        ok("pcap trace tx max 35 intfc tap0 file vppTest.pcap"),
        start(
            false,
            true,
            false,
            35,
            512,
            Some("tap0"),
            Some("vppTest.pcap")
        )
    );
    assert_eq!(
        ok("pcap trace drop rx interface any max-bytes-per-pkt 9000 tx"),
        start(true, true, true, 1000, 9000, None, None)
    );
    assert_eq!(ok("pcap trace off"), Command::PcapTrace(PcapTrace::Off));
    assert_eq!(ok("pcap tr status"), Command::PcapTrace(PcapTrace::Status));
    assert_eq!(
        err("pcap trace max 10"),
        "pcap trace: say what to capture (rx, tx, drop), or off, or status"
    );
    assert_eq!(err("pcap trace"), err("pcap trace max 10"));
    assert_eq!(
        err("pcap trace rx off"),
        "pcap trace: 'off' and 'status' stand alone"
    );
    assert_eq!(err("pcap trace off rx"), "unknown input 'rx'");
    assert_eq!(
        err("pcap trace rx max-bytes-per-pkt 31"),
        "max-bytes-per-pkt 31: must be in 32..=9000"
    );
    assert_eq!(err("pcap trace rx max 0"), "max 0: must be in 1..=1000000");
    assert_eq!(
        err("pcap trace rx file /etc/passwd"),
        "pcap trace: file '/etc/passwd': a file name without a directory (captures go to /tmp)"
    );
    assert_eq!(
        err("pcap trace rx file .."),
        "pcap trace: file '..': a file name without a directory (captures go to /tmp)"
    );
    assert_eq!(
        err("pcap trace rx intfc"),
        "pcap trace: missing argument: expected an interface name or any"
    );
    assert_eq!(err("pcap trace rx filter"), "unknown input 'filter'");
}

/// `str::parse` takes a leading '+'; VPP's `unformat` does not, and neither do we.
#[test]
fn plus_signs_are_no_numbers() {
    assert_eq!(
        err("trace add virtio-input +5"),
        "count '+5': expected a number in 1..=1024"
    );
    assert_eq!(
        err("set acl-plugin acl permit proto 0x+5"),
        "rule 1: proto '0x+5': expected a number in 0..=255"
    );
    assert_eq!(
        err("set acl-plugin acl permit proto 6 dport +80"),
        "rule 1: port range +80: '+80' is not a port 0..=65535"
    );
    assert_eq!(
        err("ip route add 10.0.0.0/+24 drop"),
        "prefix 10.0.0.0/+24: length must be 0..=32"
    );
    assert_eq!(
        err("set interface mac address tap0 02:fe:16:3f:5f:+f"),
        "MAC 02:fe:16:3f:5f:+f: expected six hex octets like 02:fe:16:3f:5f:0f"
    );
    assert_eq!(
        err("nat44 add static mapping tcp local 10.1.1.2 +53 external 1.2.3.4 53"),
        "local port '+53': expected a number in 1..=65535"
    );
    assert_eq!(
        err("nat44 del session in 10.1.1.3:+80 tcp"),
        "in 10.1.1.3:+80: '+80' is not a port 0..=65535"
    );
}

#[test]
fn counter_and_info_commands() {
    for (line, command) in [
        ("show errors", Command::ShowErrors),
        (
            "show runtime",
            Command::ShowRuntime {
                view: RuntimeView::default(),
                summary: false,
            },
        ),
        ("clear errors", Command::ClearErrors),
        ("clear runtime", Command::ClearRuntime),
        ("clear interfaces", Command::ClearInterfaces),
        (
            "clear hardware-interfaces",
            Command::ClearHardwareInterfaces { name: None },
        ),
        (
            "clear hardware-interfaces tap0",
            Command::ClearHardwareInterfaces {
                name: Some("tap0".into()),
            },
        ),
        ("show version", Command::ShowVersion { verbose: false }),
        (
            "show version verbose",
            Command::ShowVersion { verbose: true },
        ),
        ("sh dpdk ver", Command::ShowDpdkVersion),
        ("show threads", Command::ShowThreads),
        ("show buffers", Command::ShowBuffers),
        (
            "show interface rx-placement",
            Command::ShowInterfaceRxPlacement,
        ),
        ("sh buf", Command::ShowBuffers),
        ("show memory", Command::ShowMemory),
        ("show logging", Command::ShowLogging),
        ("quit", Command::Quit),
    ] {
        assert_eq!(ok(line), command, "{line}");
    }
}

#[test]
fn exec_takes_the_rest_of_the_line() {
    assert_eq!(
        ok("exec /etc/podfwd/startup.conf"),
        Command::Exec {
            file: "/etc/podfwd/startup.conf".into()
        }
    );
    assert_eq!(
        ok("exec  /tmp/my file.conf "),
        Command::Exec {
            file: "/tmp/my file.conf".into()
        }
    );
    assert_eq!(err("exec"), "exec: missing argument: expected a file name");
}

#[test]
fn help_and_question_mark() {
    assert_eq!(ok("help"), Command::Help { words: vec![] });
    assert_eq!(ok("?"), Command::Help { words: vec![] });
    assert_eq!(
        ok("show ?"),
        Command::Help {
            words: vec!["show"]
        }
    );
    assert_eq!(
        ok("sh int ?"),
        Command::Help {
            words: vec!["show", "interface"]
        }
    );
    assert_eq!(
        ok("set interface state tap0 ?"),
        Command::Help {
            words: vec!["set", "interface", "state"]
        }
    );
    assert_eq!(
        ok("help sh ip"),
        Command::Help {
            words: vec!["show", "ip"]
        }
    );
    assert_eq!(ok("? ?"), Command::Help { words: vec!["?"] });
    assert_eq!(err("frobnicate ?"), "unknown input 'frobnicate'");
    assert_eq!(err("help frobnicate"), "unknown input 'frobnicate'");
}

#[test]
fn help_lists_every_command_and_usage_shows_the_matching_ones() {
    let all = help();
    for spec in COMMANDS {
        let words = spec.path.join(" ");
        assert!(
            all.lines()
                .any(|l| l.trim_start().starts_with(&words) && l.ends_with(spec.help)),
            "{words} missing from help"
        );
    }
    assert_eq!(all.lines().count(), COMMANDS.len());
    let show_interface = usage(&["sh", "int"]).unwrap();
    assert_eq!(
        show_interface,
        "usage: show interface [NAME ...]\n  Interfaces: index, state, MTU and counters\n\
         usage: show interface rx-placement\n  Which worker thread polls which interface queue, under its input node\n\
         usage: show interface address [NAME ...]\n  Interface addresses\n"
    );
    assert_eq!(
        usage(&["set", "interface", "state"])
            .unwrap()
            .lines()
            .count(),
        2
    );
    assert_eq!(usage(&[]).unwrap(), all);
    assert_eq!(usage(&["nope"]).unwrap_err(), "unknown input 'nope'");
    assert_eq!(
        usage(&["show", "interface", "tap0"]).unwrap_err(),
        "unknown input 'tap0'"
    );
}

#[test]
fn startup_file_numbers_lines_and_stops_at_the_first_error() {
    let text = "# podfwd startup\n\
                set interface state tap0 up\n\
                \n\
                set interface ip address tap0 172.30.1.1/24\n\
                ip route add 0.0.0.0/0 via 172.30.1.2 tap0\n";
    let commands = parse_startup_file(text).unwrap();
    let numbers: Vec<usize> = commands.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [2, 4, 5]);
    assert_eq!(
        commands[0].1,
        Command::SetInterfaceState {
            interface: "tap0".into(),
            up: true
        }
    );
    let bad = "set interface state tap0 up\n# fine\nip route add 10.1.1.0/33 drop\nbogus\n";
    assert_eq!(
        parse_startup_file(bad).unwrap_err(),
        "3: prefix 10.1.1.0/33: length must be 0..=32"
    );
    assert_eq!(parse_startup_file(""), Ok(vec![]));
}

// ---- ACL ----

#[test]
fn set_acl_with_every_field() {
    let command = ok(
        "set acl-plugin acl index 3 permit+reflect src 10.1.1.3/32 dst 0.0.0.0/0 proto 6 \
         sport 1024-65535 dport 80 tcpflags 2 18 tag contiv-policy-1",
    );
    let Command::SetAcl { index, rules, tag } = command else {
        panic!("{command:?}");
    };
    assert_eq!(index, Some(3));
    assert_eq!(tag.as_deref(), Some("contiv-policy-1"));
    assert_eq!(
        rules,
        [AclRule {
            action: AclAction::PermitReflect,
            src: prefix("10.1.1.3/32"),
            dst: prefix("0.0.0.0/0"),
            proto: 6,
            sport: PortRange {
                lo: 1024,
                hi: 65535
            },
            dport: PortRange::single(80),
            tcp_flags_value: 2,
            tcp_flags_mask: 18,
        }]
    );
}

/// `tcpflags V mask M`, as `show acl-plugin acl` prints a rule, parses as `tcpflags V M`:
/// a shown rule can be typed back in.
#[test]
fn set_acl_takes_tcpflags_as_shown() {
    let typed = ok("set acl-plugin acl permit proto 6 dport 80 tcpflags 2 18");
    let shown = ok("set acl-plugin acl permit proto 6 dport 80 tcpflags 2 mask 18");
    assert_eq!(shown, typed);
    let Command::SetAcl { rules, .. } = shown else {
        panic!("{shown:?}");
    };
    let again = format!(
        "set acl-plugin acl {}",
        rules[0].to_string().trim_start_matches("ipv4 ")
    );
    assert_eq!(ok(&again), typed, "{again}");
    assert!(err("set acl-plugin acl permit proto 6 tcpflags 2 mask").contains("tcpflags mask"));
}

#[test]
fn set_acl_with_several_rules() {
    let command =
        ok("set acl-plugin acl deny proto 17 dport 53,permit+reflect src 10.1.0.0/16 , permit");
    let Command::SetAcl { index, rules, tag } = command else {
        panic!("{command:?}");
    };
    assert_eq!((index, tag), (None, None));
    let mut dns = AclRule::any(AclAction::Deny);
    dns.proto = 17;
    dns.dport = PortRange::single(53);
    let mut reflect = AclRule::any(AclAction::PermitReflect);
    reflect.src = prefix("10.1.0.0/16");
    assert_eq!(rules, [dns, reflect, AclRule::any(AclAction::Permit)]);
    // The tag may sit in any rule, or before the first action.
    let Command::SetAcl { tag, rules, .. } = ok("set acl-plugin acl tag t1 deny, permit") else {
        panic!()
    };
    assert_eq!((tag.as_deref(), rules.len()), (Some("t1"), 2));
}

#[test]
fn set_acl_errors() {
    assert_eq!(
        err("set acl-plugin acl permit src 10.1.1.0/33"),
        "rule 1: prefix 10.1.1.0/33: length must be 0..=32"
    );
    assert_eq!(
        err("set acl-plugin acl deny, permit proto 6 sport 90-80"),
        "rule 2: port range 90-80: low end above high end"
    );
    assert_eq!(
        err("set acl-plugin acl allow"),
        "rule 1: ACL action 'allow': expected permit, deny or permit+reflect"
    );
    assert_eq!(
        err("set acl-plugin acl"),
        "set acl-plugin acl: missing argument: expected permit, deny or permit+reflect to start rule 1"
    );
    assert_eq!(
        err("set acl-plugin acl permit,"),
        "set acl-plugin acl: missing argument: expected permit, deny or permit+reflect to start rule 2"
    );
    assert_eq!(
        err("set acl-plugin acl permit, , deny"),
        "set acl-plugin acl: missing argument: expected permit, deny or permit+reflect to start rule 2"
    );
    assert_eq!(
        err("set acl-plugin acl permit src 1.0.0.0/8 src 2.0.0.0/8"),
        "rule 1: src given twice"
    );
    assert_eq!(
        err("set acl-plugin acl permit tag a, deny tag b"),
        "rule 2: set acl-plugin acl: tag given twice"
    );
    assert_eq!(
        err(&format!("set acl-plugin acl permit tag {}", "x".repeat(64))),
        format!("rule 1: tag '{}': longer than 63 bytes", "x".repeat(64))
    );
    assert_eq!(
        err("set acl-plugin acl permit proto 6 tcpflags 2 1"),
        "rule 1: tcpflags 2 mask 1: value has bits outside the mask, so it can never match"
    );
    assert_eq!(
        err("set acl-plugin acl permit proto 256"),
        "rule 1: proto 256: must be in 0..=255"
    );
    assert_eq!(
        err("set acl-plugin acl permit port 80"),
        "rule 1: unknown input 'port'"
    );
    assert_eq!(
        err("set acl-plugin acl index x permit"),
        "ACL index 'x': expected a number in 0..=4294967294"
    );
}

#[test]
fn acl_interface_and_delete() {
    assert_eq!(
        ok("set acl-plugin interface tap1 input acl 3"),
        Command::SetAclInterface {
            interface: "tap1".into(),
            direction: Direction::Input,
            acl: 3,
            del: false
        }
    );
    assert_eq!(
        ok("set acl-plugin interface tap0 output acl 0 del"),
        Command::SetAclInterface {
            interface: "tap0".into(),
            direction: Direction::Output,
            acl: 0,
            del: true
        }
    );
    assert_eq!(
        err("set acl-plugin interface tap0 inbound acl 0"),
        "set acl-plugin interface: expected input or output, not 'inbound'"
    );
    assert_eq!(
        err("set acl-plugin interface tap0 input 3"),
        "unknown input '3'"
    );
    assert_eq!(
        err("set acl-plugin interface tap0 input acl"),
        "set acl-plugin interface: missing argument: expected ACL index (0..=4294967294)"
    );
    assert_eq!(
        ok("delete acl-plugin acl index 7"),
        Command::DeleteAcl { index: 7 }
    );
    assert_eq!(
        err("delete acl-plugin acl"),
        "delete acl-plugin acl: missing argument: expected index"
    );
    assert_eq!(
        err("delete acl-plugin acl index 4294967295"),
        "ACL index 4294967295: must be in 0..=4294967294"
    );
}

#[test]
fn acl_show_and_session_settings() {
    assert_eq!(ok("show acl-plugin acl"), Command::ShowAcl { index: None });
    assert_eq!(
        ok("sh acl acl index 2"),
        Command::ShowAcl { index: Some(2) }
    );
    assert_eq!(
        ok("show acl-plugin interface tap0"),
        Command::ShowAclInterface {
            interface: Some(InterfaceRef::Name("tap0".into())),
            acls: false,
        }
    );
    // VPP's own spelling: `sw_if_index N`, and `acl` for the rules.
    assert_eq!(
        ok("show acl-plugin interface sw_if_index 1 acl"),
        Command::ShowAclInterface {
            interface: Some(InterfaceRef::SwIfIndex(1)),
            acls: true,
        }
    );
    assert_eq!(
        ok("show acl-plugin interface acl"),
        Command::ShowAclInterface {
            interface: None,
            acls: true,
        }
    );
    assert_eq!(
        err("show acl-plugin interface sw_if_index tap0"),
        "sw_if_index 'tap0': expected a number in 0..=4294967295"
    );
    assert_eq!(
        err("show acl-plugin interface tap0 tap2"),
        "unknown input 'tap2'"
    );
    assert_eq!(
        err("show acl-plugin interface acl tap0 acl"),
        "show acl-plugin interface: acl given twice"
    );
    assert_eq!(
        ok("show acl-plugin sessions"),
        Command::ShowAclSessions { one: None }
    );
    assert_eq!(
        ok("show acl-plugin sessions thread 1 index 22"),
        Command::ShowAclSessions { one: Some((1, 22)) }
    );
    assert_eq!(
        err("show acl-plugin sessions thread 0 index 1"),
        "thread 0: must be in 1..=4294967295"
    );
    assert!(
        err("show acl-plugin sessions thread 1").contains("index"),
        "VPP's form names both"
    );
    assert_eq!(ok("clear acl-plugin sessions"), Command::ClearAclSessions);
    assert_eq!(ok("clear nat44 sessions"), Command::ClearNat44Sessions);
    assert_eq!(ok("clear node counters"), Command::ClearErrors);
    assert_eq!(ok("show acl-plugin tables"), Command::ShowAclTables);
    assert_eq!(
        ok("set acl-plugin session timeout tcp-established 86400"),
        Command::SetAclSessionTimeout {
            timeouts: &[TimeoutKind::TcpEstablished],
            secs: 86400
        }
    );
    assert_eq!(
        ok("set acl-plugin session timeout other 600"),
        Command::SetAclSessionTimeout {
            timeouts: &[TimeoutKind::Other],
            secs: 600
        }
    );
    // VPP's spellings; VPP's `udp idle` is the timeout of every session but TCP's, so
    // it sets other's too, where our `udp` sets UDP's alone.
    for (line, timeouts) in [
        ("tcp transient 120", &[TimeoutKind::TcpTransient][..]),
        ("tcp idle 86400", &[TimeoutKind::TcpEstablished]),
        ("udp idle 600", &[TimeoutKind::Udp, TimeoutKind::Other]),
        ("udp 600", &[TimeoutKind::Udp]),
    ] {
        let secs = line.rsplit(' ').next().unwrap().parse().unwrap();
        let command = ok(&format!("set acl-plugin session timeout {line}"));
        assert_eq!(
            command,
            Command::SetAclSessionTimeout { timeouts, secs },
            "{line}"
        );
        assert_eq!(
            command.to_string(),
            format!(
                "set acl-plugin session timeout {}",
                line.replace("tcp transient", "tcp-transient")
                    .replace("tcp idle", "tcp-established")
            ),
            "{line} prints back"
        );
    }
    assert_eq!(
        err("set acl-plugin session timeout tcp 60"),
        "set acl-plugin session timeout: expected transient or idle, not '60'"
    );
    assert_eq!(
        err("set acl-plugin session timeout icmp 60"),
        "set acl-plugin session timeout: expected tcp-transient, tcp-established, udp, other, \
         tcp transient, tcp idle or udp idle, not 'icmp'"
    );
    assert_eq!(
        err("set acl-plugin session timeout udp 0"),
        "timeout 0: must be in 1..=604800"
    );
    assert_eq!(
        ok("set acl-plugin session table max-entries 500000"),
        Command::SetAclSessionMaxEntries { max: 500000 }
    );
    assert_eq!(
        err("set acl-plugin session table max-entries"),
        "set acl-plugin session table max-entries: missing argument: expected max-entries (1..=16777216)"
    );
}

#[test]
fn reclassify_sessions_takes_vpps_number() {
    // As VPP's `reclassify-sessions %u`: any number but 0 is on.
    for (line, on) in [("0", false), ("1", true), ("7", true)] {
        let line = format!("set acl-plugin reclassify-sessions {line}");
        assert_eq!(
            ok(&line),
            Command::SetAclReclassifySessions { on },
            "{line}"
        );
    }
    assert_eq!(
        ok("set acl-plugin reclassify-sessions 7").to_string(),
        "set acl-plugin reclassify-sessions 1"
    );
    assert_eq!(
        err("set acl-plugin reclassify-sessions"),
        "set acl-plugin reclassify-sessions: missing argument: expected reclassify-sessions (0..=4294967295)"
    );
    assert!(err("set acl-plugin reclassify-sessions on").contains("'on'"));
}

// ---- NAT44 ----

#[test]
fn nat44_interface_address_forms() {
    let form = |interface: &str, twice_nat, del| Command::Nat44InterfaceAddress {
        interface: interface.into(),
        twice_nat,
        del,
    };
    assert_eq!(
        ok("nat44 add interface address tap0"),
        form("tap0", false, false)
    );
    assert_eq!(
        ok("nat44 add int addr tap1 twice-nat del"),
        form("tap1", true, true)
    );
    assert_eq!(
        ok("show nat44 interface address"),
        Command::ShowNat44InterfaceAddress
    );
    assert_eq!(
        err("nat44 add interface address tap0 del del"),
        "nat44 add interface address: del given twice"
    );
    assert_eq!(
        err("nat44 add interface address"),
        "nat44 add interface address: missing argument: expected an interface name"
    );
    assert_eq!(
        err("nat44 add interface address tap0 out"),
        "unknown input 'out'"
    );
}

#[test]
fn nat44_address_forms() {
    let one = Command::Nat44Address {
        first: ip("192.168.16.10"),
        last: ip("192.168.16.10"),
        twice_nat: false,
        del: false,
    };
    assert_eq!(ok("nat44 add address 192.168.16.10"), one);
    let range = Command::Nat44Address {
        first: ip("10.0.0.1"),
        last: ip("10.0.0.9"),
        twice_nat: true,
        del: false,
    };
    assert_eq!(ok("nat44 add address 10.0.0.1 - 10.0.0.9 twice-nat"), range);
    assert_eq!(ok("nat44 add address 10.0.0.1-10.0.0.9 twice-nat"), range);
    let deleted = Command::Nat44Address {
        first: ip("10.0.0.1"),
        last: ip("10.0.0.1"),
        twice_nat: false,
        del: true,
    };
    assert_eq!(ok("nat44 add address 10.0.0.1 del"), deleted);
    assert_eq!(ok("nat44 del address 10.0.0.1"), deleted);
    assert_eq!(
        err("nat44 add address 10.0.0.9 - 10.0.0.1"),
        "address range 10.0.0.9 - 10.0.0.1: first address above last"
    );
    assert_eq!(
        err("nat44 add address 10.0.0.1-"),
        "address range '10.0.0.1-': expected A.B.C.D - A.B.C.D"
    );
    assert_eq!(
        err("nat44 add address 10.0.0.1 -"),
        "nat44 add address: missing argument: expected the last address of the range"
    );
    assert_eq!(
        err("nat44 add address"),
        "nat44 add address: missing argument: expected an address A.B.C.D [- A.B.C.D]"
    );
}

#[test]
fn nat44_static_mapping() {
    assert_eq!(
        ok("nat44 add static mapping tcp local 10.1.1.2 53 external 10.96.0.10 53 self-twice-nat out2in-only"),
        Command::Nat44StaticMapping {
            mapping: StaticMapping {
                proto: NatProtocol::Tcp,
                local: (ip("10.1.1.2"), Some(53)),
                external: (ip("10.96.0.10"), Some(53)),
                twice_nat: TwiceNat::SelfTwiceNat,
                out2in_only: true,
            },
            del: false
        }
    );
    assert_eq!(
        ok("nat44 del static mapping icmp local 10.1.1.2 0 external 1.2.3.4 7"),
        Command::Nat44StaticMapping {
            mapping: StaticMapping {
                proto: NatProtocol::Icmp,
                local: (ip("10.1.1.2"), Some(0)),
                external: (ip("1.2.3.4"), Some(7)),
                twice_nat: TwiceNat::No,
                out2in_only: false,
            },
            del: true
        }
    );
    // VPP's address-only (1:1) form: no protocol (it maps them all), no ports.
    let address_only = ok("nat44 add static mapping local 10.1.1.2 external 1.2.3.4 del");
    assert_eq!(
        address_only,
        Command::Nat44StaticMapping {
            mapping: StaticMapping {
                proto: super::nat44::ADDRESS_ONLY_PROTOCOL,
                local: (ip("10.1.1.2"), None),
                external: (ip("1.2.3.4"), None),
                twice_nat: TwiceNat::No,
                out2in_only: false,
            },
            del: true
        }
    );
    assert_eq!(
        address_only.to_string(),
        "nat44 del static mapping local 10.1.1.2 external 1.2.3.4"
    );
}

#[test]
fn nat44_static_mapping_errors() {
    // A word where a port may stand is read as the port, and refused as one.
    for (line, port) in [
        (
            "nat44 add static mapping tcp local 10.0.0.1 80 external 1.2.3.4 http",
            "external port",
        ),
        (
            "nat44 add static mapping tcp local 10.0.0.1 http external 1.2.3.4 80",
            "local port",
        ),
    ] {
        let e = err(line);
        assert!(e.contains(port) && e.contains("'http'"), "{line}: {e}");
    }
    assert_eq!(
        err("nat44 add static mapping tcp local 10.1.1.2 53 external 10.96.0.10"),
        "nat44 add static mapping: a local port needs an external port"
    );
    assert_eq!(
        err("nat44 add static mapping tcp local 10.1.1.2 external 10.96.0.10 53"),
        "nat44 add static mapping: an external port needs a local port"
    );
    assert_eq!(
        err(
            "nat44 add static mapping tcp local 10.1.1.2 80 external 1.2.3.4 80 twice-nat \
             self-twice-nat"
        ),
        "nat44 add static mapping: give at most one of twice-nat and self-twice-nat"
    );
    // As VPP: an address-only mapping takes no twice-NAT; a mapping with ports needs its
    // protocol.
    // A protocol given to an address-only mapping (issue 6's grammar) changes nothing.
    assert_eq!(
        ok("nat44 add static mapping udp local 10.1.1.2 external 1.2.3.4").to_string(),
        "nat44 add static mapping local 10.1.1.2 external 1.2.3.4"
    );
    assert_eq!(
        err("nat44 add static mapping local 10.1.1.2 external 1.2.3.4 self-twice-nat"),
        "nat44 add static mapping: self-twice-nat applies to mappings with ports only (VPP: \
         twice NAT only for 1:1 NAPT)"
    );
    assert_eq!(
        err("nat44 add static mapping local 10.1.1.2 80 external 1.2.3.4 80"),
        "nat44 add static mapping: a mapping with ports needs its protocol: tcp, udp or icmp \
         before local"
    );
    assert_eq!(
        err("nat44 add static mapping tcp local 10.1.1.2 53"),
        "nat44 add static mapping: missing argument: expected external A.B.C.D [PORT]"
    );
    assert_eq!(
        err("nat44 add static mapping tcp local 10.1.1.2 0 external 1.2.3.4 0"),
        "local port 0: must be in 1..=65535"
    );
    assert_eq!(
        err("nat44 add static mapping sctp local 10.1.1.2 external 1.2.3.4"),
        "nat44 add static mapping: expected tcp, udp or icmp, not 'sctp'"
    );
    assert_eq!(
        err("nat44 add static mapping tcp local 1.1.1.1 local 2.2.2.2 external 3.3.3.3"),
        "nat44 add static mapping: local given twice"
    );
    assert_eq!(
        err("nat44 add static mapping local 1.1.1.1 external 3.3.3.3 vrf 1"),
        "nat44 add static mapping: vrf 1: podfwd has one table, vrf 0"
    );
}

/// VPP 19.04's `nat44 add load-balancing back-end ... [del]`, and our `nat44 del ...`
/// spelling of its deletion, where the probability may be left out.
#[test]
fn nat44_lb_back_end_forms() {
    let head = "nat44 add load-balancing back-end protocol tcp external 10.96.0.10:80 \
                local 10.1.1.5:8080";
    let backend = |probability, del| Command::Nat44LbBackend {
        proto: NatProtocol::Tcp,
        external: (ip("10.96.0.10"), 80),
        local: (ip("10.1.1.5"), 8080),
        probability,
        del,
    };
    assert_eq!(
        ok(&format!("{head} probability 30")),
        backend(Some(30), false)
    );
    assert_eq!(
        ok(&format!("{head} vrf 0 probability 30 del")),
        backend(Some(30), true)
    );
    assert_eq!(ok(&format!("{head} del")), backend(None, true));
    assert_eq!(
        ok(
            "nat44 del load-balancing back-end protocol tcp external 10.96.0.10:80 \
            local 10.1.1.5:8080"
        ),
        backend(None, true)
    );
    for (line, error) in [
        (
            head.to_string(),
            "nat44 add load-balancing back-end: missing argument: expected probability N",
        ),
        (
            format!("{head} probability 256"),
            "probability 256: must be in 0..=255",
        ),
        (
            format!("{head} probability 1 del del"),
            "nat44 add load-balancing back-end: del given twice",
        ),
        (
            "nat44 add load-balancing back-end external 10.96.0.10:80".to_string(),
            "nat44 add load-balancing back-end: missing protocol: the back-end starts \
             protocol tcp|udp external A.B.C.D:PORT",
        ),
    ] {
        assert_eq!(err(&line), error, "{line}");
    }
}

/// A flag given twice is refused as the ACL parser refuses a repeated field: the line was
/// likely edited wrong, and a silent repeat would hide which one was meant.
#[test]
fn nat44_flags_given_twice_are_refused() {
    let static_head = "nat44 add static mapping tcp local 10.1.1.2 53 external 1.2.3.4 53";
    let lb_head = "nat44 add load-balancing static mapping protocol tcp external 1.2.3.4:80 \
                   local 10.1.1.2:80 probability 1";
    for (line, error) in [
        (
            format!("{static_head} out2in-only out2in-only"),
            "nat44 add static mapping: out2in-only given twice",
        ),
        (
            format!("{static_head} del del"),
            "nat44 add static mapping: del given twice",
        ),
        (
            format!("{static_head} twice-nat out2in-only twice-nat"),
            "nat44 add static mapping: twice-nat given twice",
        ),
        (
            format!("{static_head} self-twice-nat self-twice-nat"),
            "nat44 add static mapping: self-twice-nat given twice",
        ),
        (
            "nat44 del static mapping tcp local 10.1.1.2 53 external 1.2.3.4 53 del".into(),
            "nat44 del static mapping: del given twice",
        ),
        (
            format!("{lb_head} out2in-only out2in-only"),
            "nat44 add load-balancing static mapping: out2in-only given twice",
        ),
        (
            format!("{lb_head} affinity 10 affinity 20"),
            "nat44 add load-balancing static mapping: affinity given twice",
        ),
        (
            "nat44 add address 1.2.3.4 twice-nat twice-nat".into(),
            "nat44 add address: twice-nat given twice",
        ),
        (
            "nat44 add address 1.2.3.4 del twice-nat del".into(),
            "nat44 add address: del given twice",
        ),
        (
            "nat44 del address 1.2.3.4 del".into(),
            "nat44 del address: del given twice",
        ),
        (
            "nat44 del identity mapping 1.2.3.4 del".into(),
            "nat44 del identity mapping: del given twice",
        ),
        (
            "set interface nat44 in a del del".into(),
            "set interface nat44: del given twice",
        ),
        (
            "set interface nat44 out a output-feature output-feature".into(),
            "set interface nat44: output-feature given twice",
        ),
    ] {
        assert_eq!(err(&line), error, "{line}");
    }
    // Once each is still fine, in any order.
    ok(&format!("{static_head} out2in-only twice-nat del"));
    ok("set interface nat44 out a del output-feature");
}

#[test]
fn nat44_load_balancing_mapping() {
    // The seed's service: VIP 10.104.221.85:80 -> endpoint 10.20.0.2:8080.
    assert_eq!(
        ok(
            "nat44 add load-balancing static mapping protocol tcp external 10.104.221.85:80 \
            local 10.20.0.2:8080 probability 1 self-twice-nat out2in-only"
        ),
        Command::Nat44LbStaticMapping {
            mapping: LbStaticMapping {
                proto: NatProtocol::Tcp,
                external: (ip("10.104.221.85"), 80),
                locals: vec![LbLocal {
                    addr: ip("10.20.0.2"),
                    port: 8080,
                    probability: 1
                }],
                twice_nat: TwiceNat::SelfTwiceNat,
                out2in_only: true,
                affinity_secs: 0,
            },
            del: false
        }
    );
    let Command::Nat44LbStaticMapping { mapping, del } = ok(
        "nat44 add load-bal static mapping protocol udp external 10.96.0.10:53 \
         local 10.1.1.2:53 probability 80 local 10.1.1.3:53 probability 20 affinity 10800",
    ) else {
        panic!()
    };
    assert!(!del);
    assert_eq!(mapping.affinity_secs, 10800);
    let weights: Vec<u8> = mapping.locals.iter().map(|l| l.probability).collect();
    assert_eq!(weights, [80, 20]);
    // A local's `vrf 0`, as `show nat44 static mappings` prints it, is taken; another
    // table is refused.
    let with_vrf = "nat44 add load-balancing static mapping protocol udp external 10.96.0.10:53 \
         local 10.1.1.2:53 vrf 0 probability 80 local 10.1.1.3:53 probability 20 affinity 10800";
    assert_eq!(ok(with_vrf), Command::Nat44LbStaticMapping { mapping, del });
    assert_eq!(
        err(&with_vrf.replace("vrf 0", "vrf 1")),
        "nat44 add load-balancing static mapping: vrf 1: podfwd has one table, vrf 0"
    );
    // A deletion needs only the external endpoint.
    assert_eq!(
        ok("nat44 del load-balancing static mapping protocol tcp external 10.104.221.85:80"),
        Command::Nat44LbStaticMapping {
            mapping: LbStaticMapping {
                proto: NatProtocol::Tcp,
                external: (ip("10.104.221.85"), 80),
                locals: vec![],
                twice_nat: TwiceNat::No,
                out2in_only: false,
                affinity_secs: 0,
            },
            del: true
        }
    );
}

#[test]
fn nat44_load_balancing_errors() {
    let head = "nat44 add load-balancing static mapping protocol tcp external 10.104.221.85:80";
    assert_eq!(
        err(&format!(
            "{head} local 10.20.0.2:8080 probability 0 local 10.20.0.3:8080 probability 0"
        )),
        "nat44 add load-balancing static mapping: the probabilities sum to 0, so no local could be chosen"
    );
    // One local has no choice to weigh: probability 0 is Contiv's plain service.
    assert!(matches!(
        ok(&format!("{head} local 10.20.0.2:8080 probability 0")),
        Command::Nat44LbStaticMapping { mapping, .. } if mapping.locals.len() == 1
    ));
    assert_eq!(
        err(head),
        "nat44 add load-balancing static mapping: missing argument: expected local A.B.C.D:PORT probability N"
    );
    assert_eq!(
        err(&format!("{head} local 10.20.0.2:8080")),
        "nat44 add load-balancing static mapping: missing argument: expected probability"
    );
    assert_eq!(
        err(&format!("{head} local 10.20.0.2:8080 probability 256")),
        "probability 256: must be in 0..=255"
    );
    assert_eq!(
        err(&format!(
            "{head} local 10.20.0.2:8080 probability 1 local 10.20.0.2:8080 probability 2"
        )),
        "nat44 add load-balancing static mapping: local 10.20.0.2:8080 given twice"
    );
    assert_eq!(
        err(&format!("{head} local 10.20.0.2:0 probability 1")),
        "local 10.20.0.2:0: port must be in 1..=65535"
    );
    assert_eq!(
        err(&format!("{head} local 10.20.0.2 probability 1")),
        "local 10.20.0.2: expected A.B.C.D:PORT"
    );
    assert_eq!(
        err(&format!(
            "{head} local 10.20.0.2:80 probability 1 affinity 0"
        )),
        "affinity 0: must be in 1..=86400"
    );
    assert_eq!(
        err("nat44 add load-balancing static mapping protocol icmp external 1.2.3.4:1"),
        "nat44 add load-balancing static mapping: expected tcp or udp, not 'icmp'"
    );
    // VPP's error names what is missing; so does podfwd's, and where it goes.
    for line in [
        "nat44 add load-balancing static mapping external 1.2.3.4:1",
        "nat44 add load-balancing static mapping",
    ] {
        assert_eq!(
            err(line),
            "nat44 add load-balancing static mapping: missing protocol: the mapping starts \
             protocol tcp|udp external A.B.C.D:PORT"
        );
    }
}

#[test]
fn nat44_identity_mapping() {
    assert_eq!(
        ok("nat44 add identity mapping 192.168.16.2 udp 4789"),
        Command::Nat44IdentityMapping {
            mapping: IdentityMapping {
                addr: ip("192.168.16.2"),
                proto_port: Some((NatProtocol::Udp, 4789))
            },
            del: false
        }
    );
    let address_only = Command::Nat44IdentityMapping {
        mapping: IdentityMapping {
            addr: ip("192.168.16.2"),
            proto_port: None,
        },
        del: true,
    };
    assert_eq!(
        ok("nat44 add identity mapping 192.168.16.2 del"),
        address_only
    );
    assert_eq!(ok("nat44 del identity mapping 192.168.16.2"), address_only);
    assert_eq!(
        ok("nat44 del identity mapping 192.168.16.2 vrf 0"),
        address_only
    );
    assert_eq!(
        err("nat44 add identity mapping 192.168.16.2 udp 4789 vrf 2"),
        "nat44 add identity mapping: vrf 2: podfwd has one table, vrf 0"
    );
    assert_eq!(
        err("nat44 add identity mapping 192.168.16.2 tcp"),
        "nat44 add identity mapping: missing argument: expected port (1..=65535)"
    );
    assert_eq!(
        err("nat44 add identity mapping 192.168.16.2 icmp 1"),
        "unknown input 'icmp 1'"
    );
}

#[test]
fn nat44_interfaces() {
    assert_eq!(
        ok("set interface nat44 in tap1 out tap0"),
        Command::SetInterfaceNat44 {
            inside: vec!["tap1".into()],
            outside: vec!["tap0".into()],
            output_feature: false,
            del: false
        }
    );
    assert_eq!(
        ok("set int nat44 out GigabitEthernet0/8/0 output-feature del"),
        Command::SetInterfaceNat44 {
            inside: vec![],
            outside: vec!["GigabitEthernet0/8/0".into()],
            output_feature: true,
            del: true
        }
    );
    assert_eq!(
        err("set interface nat44 in tap1 output-feature"),
        "set interface nat44: output-feature applies to out interfaces only"
    );
    assert_eq!(
        err("set interface nat44"),
        "set interface nat44: missing argument: expected in NAME or out NAME"
    );
    assert_eq!(
        err("set interface nat44 del"),
        "set interface nat44: missing argument: expected in NAME or out NAME"
    );
    assert_eq!(
        err("set interface nat44 in"),
        "set interface nat44: missing argument: expected an interface name"
    );
    assert_eq!(
        err("set interface nat44 in tap1 in tap1"),
        "set interface nat44: in tap1 given twice"
    );
    assert_eq!(
        err("set interface nat44 inside tap1"),
        "set interface nat44: missing argument: expected in NAME or out NAME"
    );
}

#[test]
fn nat44_timeouts_limits_forwarding_sessions() {
    assert_eq!(
        ok("set nat timeout udp 300 icmp 60"),
        Command::SetNatTimeout {
            reset: false,
            udp: Some(300),
            tcp_established: None,
            tcp_transitory: None,
            icmp: Some(60)
        }
    );
    assert_eq!(
        ok("set nat timeout tcp-established 7440 tcp-transitory 240"),
        Command::SetNatTimeout {
            reset: false,
            udp: None,
            tcp_established: Some(7440),
            tcp_transitory: Some(240),
            icmp: None
        }
    );
    assert_eq!(
        err("set nat timeout"),
        "set nat timeout: missing argument: expected udp, tcp-established, tcp-transitory, icmp or reset"
    );
    assert_eq!(
        err("set nat timeout tcp 10"),
        "set nat timeout: expected udp, tcp-established, tcp-transitory, icmp or reset, not 'tcp'"
    );
    // VPP's `reset`: alone, or first with the timeouts that then differ from the defaults.
    assert_eq!(
        ok("set nat timeout reset"),
        Command::SetNatTimeout {
            reset: true,
            udp: None,
            tcp_established: None,
            tcp_transitory: None,
            icmp: None
        }
    );
    assert_eq!(
        ok("set nat timeout reset udp 30"),
        Command::SetNatTimeout {
            reset: true,
            udp: Some(30),
            tcp_established: None,
            tcp_transitory: None,
            icmp: None
        }
    );
    assert_eq!(
        err("set nat timeout udp 30 reset"),
        "set nat timeout: reset undoes the timeouts before it: give it first"
    );
    assert_eq!(
        err("set nat timeout reset reset"),
        "set nat timeout: reset given twice; reset undoes the timeouts before it: give it first"
    );
    assert_eq!(
        err("set nat timeout udp 1 udp 2"),
        "set nat timeout: udp given twice"
    );
    assert_eq!(
        err("set nat timeout icmp 0"),
        "icmp 0: must be in 1..=604800"
    );
    assert_eq!(
        ok("nat44 session limit 100000"),
        Command::Nat44SessionLimit { limit: 100000 }
    );
    assert_eq!(
        err("nat44 session limit 0"),
        "limit 0: must be in 1..=16777216"
    );
    assert_eq!(
        ok("nat44 forwarding enable"),
        Command::Nat44Forwarding { enable: true }
    );
    assert_eq!(
        ok("nat44 forw disable"),
        Command::Nat44Forwarding { enable: false }
    );
    assert_eq!(
        err("nat44 forwarding on"),
        "nat44 forwarding: expected enable or disable, not 'on'"
    );
    assert_eq!(
        ok("nat44 del session in 10.1.1.3:46310 tcp"),
        Command::Nat44DelSession {
            selector: SessionSelector {
                side: Side::Inside,
                local: (ip("10.1.1.3"), 46310),
                proto: NatProtocol::Tcp,
                external_host: None,
            }
        }
    );
    assert_eq!(
        err("nat44 del session in 10.1.1.3:46310"),
        "nat44 del session: missing argument: expected tcp, udp or icmp"
    );
}

/// VPP's `nat44 del session in|out <addr>:<port> <proto> [vrf <id>] [external-host
/// <addr>:<port>]`: either side, vrf 0 only, and the remote end that names one session.
#[test]
fn nat44_del_session_takes_either_side_vrf_0_and_external_host() {
    assert_eq!(
        ok("nat44 del session out 192.168.16.1:1025 udp vrf 0 external-host 8.8.8.8:53"),
        Command::Nat44DelSession {
            selector: SessionSelector {
                side: Side::Outside,
                local: (ip("192.168.16.1"), 1025),
                proto: NatProtocol::Udp,
                external_host: Some((ip("8.8.8.8"), 53)),
            }
        }
    );
    assert_eq!(
        ok("nat44 del session in 10.1.1.3:7 icmp external-host 10.1.1.1:0 vrf 0"),
        ok("nat44 del session in 10.1.1.3:7 icmp external-host 10.1.1.1:0")
    );
    assert_eq!(
        err("nat44 del session 10.1.1.3:46310 tcp"),
        "nat44 del session: expected in or out, not '10.1.1.3:46310'"
    );
    assert_eq!(
        err("nat44 del session in 10.1.1.3:46310 tcp vrf 1"),
        "nat44 del session: vrf 1: podfwd has one table, vrf 0"
    );
    assert_eq!(
        err("nat44 del session in 10.1.1.3:46310 tcp vrf 0 vrf 0"),
        "nat44 del session: vrf given twice"
    );
    assert_eq!(
        err("nat44 del session in 10.1.1.3:46310 tcp external-host 1.2.3.4:5 external-host 1.2.3.4:5"),
        "nat44 del session: external-host given twice"
    );
    assert_eq!(
        err("nat44 del session in 10.1.1.3:46310 tcp external-host 1.2.3.4"),
        "external-host 1.2.3.4: expected A.B.C.D:PORT"
    );
    assert_eq!(
        err("nat44 del session out 10.1.1.3:46310 tcp external-host"),
        "nat44 del session: missing argument: expected external-host A.B.C.D:PORT"
    );
}

#[test]
fn nat44_show_commands() {
    for (line, command) in [
        ("show nat44 interfaces", Command::ShowNat44Interfaces),
        ("show nat44 addresses", Command::ShowNat44Addresses),
        ("show flow-cache", Command::ShowFlowCache),
        ("sh nat44 static mappings", Command::ShowNat44StaticMappings),
        ("show nat44 summary", Command::ShowNat44Summary),
        ("show nat timeouts", Command::ShowNatTimeouts),
        (
            "show nat44 sessions",
            Command::ShowNat44Sessions { detail: false },
        ),
        (
            "show nat44 sessions detail",
            Command::ShowNat44Sessions { detail: true },
        ),
    ] {
        assert_eq!(ok(line), command, "{line}");
    }
}

// ---- robustness ----

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// The grammar's own words, values that are nearly right, and junk.
const VOCABULARY: &[&str] = &[
    "up",
    "down",
    "del",
    "via",
    "drop",
    "static",
    "max",
    "index",
    "permit",
    "deny",
    "permit+reflect",
    "src",
    "dst",
    "proto",
    "sport",
    "dport",
    "tcpflags",
    "tag",
    ",",
    "input",
    "output",
    "acl",
    "tcp-transient",
    "tcp-established",
    "tcp-transitory",
    "udp",
    "tcp",
    "icmp",
    "other",
    "local",
    "external",
    "twice-nat",
    "self-twice-nat",
    "out2in-only",
    "probability",
    "affinity",
    "protocol",
    "in",
    "out",
    "output-feature",
    "external-host",
    "10.1.1.3:80",
    "vrf",
    "reset",
    "enable",
    "disable",
    "detail",
    "-",
    "?",
    "#",
    "tap0",
    "tap1",
    "virtio-input",
    "rx",
    "tx",
    "intfc",
    "file",
    "off",
    "status",
    "dpdk-input",
    "10.1.1.3",
    "10.1.1.0/24",
    "0.0.0.0/0",
    "10.1.1.0/33",
    "10.1.1",
    "256.1.1.1",
    "1.2.3.4/",
    "/24",
    "02:fe:16:3f:5f:0f",
    "02:fe:16:3f:5f",
    "02fe.163f.5f0f",
    "0",
    "1",
    "80",
    "1500",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "99999999999999999999999",
    "-1",
    "0x",
    "0x12",
    "80-90",
    "90-80",
    "-80",
    "80-",
    "10.1.1.2:8080",
    "10.1.1.2:",
    ":80",
    "10.1.1.2:0",
    "1.2.3.4-1.2.3.9",
    "1.2.3.9-1.2.3.4",
    "",
    "é",
    "ß/32",
    "💥",
    "a,b",
    ",,",
    "\t",
    "::",
    "//",
];

/// Valid lines of every shape; mutated, they probe each parser near its grammar.
const SEEDS: &[&str] = &[
    "set interface state tap0 up",
    "set interface mac address tap0 01:23:45:67:89:42",
    "set interface ip address del tap0 172.30.1.1/24",
    "set interface mtu 1450 tap0",
    "set interface mtu packet 1450 tap0",
    "ip route add 0.0.0.0/0 via 172.30.1.2 tap0",
    "ip route 10.0.0.0/8 via 172.30.1.2",
    "ip neighbor tap0 172.30.1.2 3e:1b:70:2d:4d:51",
    "show ip fib 10.1.1.3",
    "comment { anything }",
    "ip route del 10.0.0.0/8 via tap1",
    "set ip neighbor del tap0 172.30.1.2 3e:1b:70:2d:4d:51 static",
    "set ip neighbor static tap2 10.1.1.3 00:00:00:00:00:02 no-fib-entry",
    "trace add virtio-input 10",
    "show trace max 5",
    "exec /tmp/startup.conf",
    "set acl-plugin acl index 3 permit+reflect src 10.1.1.3/32 proto 6 sport 1024-65535 \
     dport 80 tcpflags 2 18 tag t, deny dst 10.0.0.0/8, permit",
    "set acl-plugin interface tap1 input acl 3 del",
    "set acl-plugin session timeout udp 600",
    "nat44 add address 10.0.0.1 - 10.0.0.9 twice-nat del",
    "nat44 add static mapping tcp local 10.1.1.2 53 external 10.96.0.10 53 self-twice-nat \
     out2in-only del",
    "nat44 add load-balancing static mapping protocol tcp external 10.104.221.85:80 local \
     10.20.0.2:8080 probability 80 local 10.20.0.3:8080 probability 20 twice-nat out2in-only \
     affinity 60 del",
    "nat44 add identity mapping 192.168.16.2 udp 4789 del",
    "set interface nat44 in tap1 out tap0 del",
    "set interface nat44 out tap0 output-feature",
    "set nat timeout udp 300 tcp-established 7440 tcp-transitory 240 icmp 60",
    "set nat timeout reset icmp 30",
    "nat44 del session in 10.1.1.3:46310 tcp",
    "nat44 del session out 192.168.16.1:1025 udp vrf 0 external-host 8.8.8.8:53",
    "pcap trace rx tx drop max 100 intfc tap0 file x.pcap max-bytes-per-pkt 64",
    "pcap trace off",
];

#[test]
fn seeds_parse() {
    for seed in SEEDS {
        ok(seed);
    }
}

/// A seed with one or two tokens dropped, replaced, inserted or the line cut short.
fn mutated_seed(rng: &mut Rng) -> String {
    let mut words: Vec<&str> = rng.pick(SEEDS).split_whitespace().collect();
    for _ in 0..1 + rng.below(2) {
        let at = rng.below(words.len() + 1);
        match rng.below(4) {
            0 if at < words.len() => {
                words.remove(at);
            }
            1 if at < words.len() => words[at] = rng.pick(VOCABULARY),
            2 => words.insert(at, rng.pick(VOCABULARY)),
            _ => words.truncate(at),
        }
    }
    words.join(" ")
}

fn random_line(rng: &mut Rng) -> String {
    if rng.below(3) == 0 {
        return mutated_seed(rng);
    }
    let mut words: Vec<String> = Vec::new();
    // Mostly start with a real command so the parsers, not just the lookup, get exercised.
    if rng.below(8) != 0 {
        let spec = &COMMANDS[rng.below(COMMANDS.len())];
        for word in spec.path {
            // Sometimes abbreviate a command word.
            let keep = if rng.below(4) == 0 {
                1 + rng.below(word.len())
            } else {
                word.len()
            };
            words.push(word.get(..keep).unwrap_or(word).to_string());
        }
    }
    for _ in 0..rng.below(12) {
        words.push(rng.pick(VOCABULARY).to_string());
    }
    let separator = if rng.below(5) == 0 { "  " } else { " " };
    words.join(separator)
}

#[test]
fn random_lines_never_panic_and_parsed_ones_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    let mut refused = 0;
    for _ in 0..6000 {
        let line = random_line(&mut rng);
        match parse(&line) {
            Ok(Some(command)) => {
                parsed += 1;
                let canonical = command.to_string();
                assert_eq!(
                    parse(&canonical),
                    Ok(Some(command)),
                    "{line:?} printed as {canonical:?}"
                );
            }
            Ok(None) => {}
            Err(e) => {
                refused += 1;
                assert!(!e.is_empty() && !e.contains('\n'), "{line:?}: {e:?}");
            }
        }
        let _ = usage(&line.split(' ').collect::<Vec<_>>());
    }
    // Both sides must have been exercised for the test to mean anything.
    assert!(parsed > 300, "only {parsed} lines parsed");
    assert!(refused > 3000, "only {refused} lines refused");
    let file: Vec<String> = (0..200).map(|_| random_line(&mut rng)).collect();
    let _ = parse_startup_file(&file.join("\n"));
}

/// VPP's words for the one table podfwd has: `table 0` in `ip route`, `vrf 0` in NAT44
/// (as `show nat44 static mappings` prints it), `via drop`, and nat44-ed's `set nat44
/// session limit`; any other table is refused by name.
#[test]
fn the_one_table_and_vpp_spellings() {
    assert_eq!(
        ok("ip route add 10.5.0.0/16 table 0 via 172.30.1.9 tap0"),
        ok("ip route add 10.5.0.0/16 via 172.30.1.9 tap0")
    );
    assert_eq!(
        ok("ip route add 10.5.0.0/16 via drop"),
        Command::IpRouteAdd {
            prefix: prefix("10.5.0.0/16"),
            path: RoutePath::Drop
        }
    );
    assert_eq!(
        ok("ip route del 10.5.0.0/16 table 0"),
        ok("ip route del 10.5.0.0/16")
    );
    // After the path too, as VPP takes it; `table` is never an interface.
    assert_eq!(
        ok("ip route add 10.5.0.0/16 via 172.30.1.9 tap0 table 0"),
        ok("ip route add 10.5.0.0/16 via 172.30.1.9 tap0")
    );
    assert_eq!(
        ok("ip route add 10.5.0.0/16 via 172.30.1.9 table 0"),
        ok("ip route add 10.5.0.0/16 via 172.30.1.9")
    );
    assert_eq!(
        ok("ip route del 10.5.0.0/16 via tap0 table 0"),
        ok("ip route del 10.5.0.0/16 via tap0")
    );
    assert_eq!(
        err("ip route add 10.5.0.0/16 via 172.30.1.9 table 2"),
        "ip route add: table 2: podfwd has one FIB table, table 0"
    );
    assert_eq!(ok("show ip fib table 0"), ok("show ip fib"));
    assert_eq!(
        ok("show ip fib table 0 10.1.1.3"),
        ok("show ip fib 10.1.1.3")
    );
    assert_eq!(
        ok("show ip fib 10.1.1.0/24 table 0"),
        ok("show ip fib 10.1.1.0/24")
    );
    assert_eq!(ok("show ip fib table 0 summary"), ok("show ip fib summary"));
    assert_eq!(
        err("show ip fib table 3"),
        "show ip fib: table 3: podfwd has one FIB table, table 0"
    );
    assert_eq!(
        err("ip route add 10.5.0.0/16 table 7 via 172.30.1.9"),
        "ip route add: table 7: podfwd has one FIB table, table 0"
    );
    assert_eq!(
        ok("nat44 add static mapping tcp local 10.20.0.2 8080 external 10.104.221.85 80 vrf 0"),
        ok("nat44 add static mapping tcp local 10.20.0.2 8080 external 10.104.221.85 80")
    );
    assert_eq!(
        ok("set nat44 session limit 1000 vrf 0"),
        Command::Nat44SessionLimit { limit: 1000 }
    );
    assert_eq!(
        ok("set nat44 session limit 1000"),
        ok("nat44 session limit 1000")
    );
    assert_eq!(
        err("set nat44 session limit 1000 vrf 2"),
        "set nat44 session limit: vrf 2: podfwd has one table, vrf 0"
    );
}
