//! The command table and the parsers of the interface, routing, tracing and console
//! commands. ACL and NAT44 parsers live in their own files.

use crate::counters::RuntimeView;
use crate::node::InputKind;
use crate::types::Ipv4Prefix;

use super::cursor::{parse_ipv4, Cursor};
use super::{
    acl, nat44, Command, HardwareDetail, InterfaceRef, PcapCapture, PcapTrace, PingArgs, RoutePath,
};

/// One command: the words that name it, how to use it, and its parser. The parser sees
/// only the arguments; the caller checks that it consumed all of them.
pub struct CommandSpec {
    pub path: &'static [&'static str],
    pub usage: &'static str,
    pub help: &'static str,
    pub parse: fn(&mut Cursor<'_>) -> Result<Command, String>,
}

/// The executor's range ([`crate::config::MTU_RANGE`]), so that the parser, its help
/// and the executor give one range.
const MTU_RANGE: std::ops::RangeInclusive<u32> =
    *crate::config::MTU_RANGE.start() as u32..=*crate::config::MTU_RANGE.end() as u32;
/// What one worker's trace buffer holds (it keeps its packets until `clear trace`): a
/// larger count would be taken and then silently cut.
pub const MAX_TRACE_COUNT: u32 = crate::trace::MAX_TRACED_PACKETS as u32;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        path: &["show", "interface"],
        usage: "show interface [NAME ...]",
        help: "Interfaces: index, state, MTU and counters",
        parse: |c| {
            Ok(Command::ShowInterface {
                names: interface_names(c),
            })
        },
    },
    CommandSpec {
        path: &["show", "interface", "rx-placement"],
        usage: "show interface rx-placement",
        help: "Which worker thread polls which interface queue, under its input node",
        parse: |_| Ok(Command::ShowInterfaceRxPlacement),
    },
    CommandSpec {
        path: &["show", "interface", "address"],
        usage: "show interface address [NAME ...]",
        help: "Interface addresses",
        parse: |c| {
            Ok(Command::ShowInterfaceAddress {
                names: interface_names(c),
            })
        },
    },
    CommandSpec {
        path: &["show", "hardware-interfaces"],
        usage: "show hardware-interfaces [brief|verbose|detail] [NAME]",
        help: "Driver, queues, MAC, link and DPDK extended stats",
        parse: parse_show_hardware_interfaces,
    },
    CommandSpec {
        path: &["set", "interface", "state"],
        usage: "set interface state NAME up|down",
        help: "Bring an interface up or down",
        parse: parse_set_interface_state,
    },
    CommandSpec {
        path: &["set", "interface", "mac", "address"],
        usage: "set interface mac address NAME MAC",
        help: "Set an interface's MAC address",
        parse: parse_set_interface_mac,
    },
    CommandSpec {
        path: &["set", "interface", "ip", "address"],
        usage: "set interface ip address [del] NAME A.B.C.D/LEN | del NAME all",
        help: "Add or delete an interface address",
        parse: parse_set_interface_ip_address,
    },
    CommandSpec {
        path: &["set", "interface", "mtu"],
        usage: "set interface mtu [packet|ip4] N NAME",
        help: "Set an interface's L3 MTU (68..=9000; at most what one mbuf holds, 2034 with DPDK's pool)",
        parse: parse_set_interface_mtu,
    },
    CommandSpec {
        path: &["ip", "route", "add"],
        usage: "ip route add A.B.C.D/LEN [table 0] via A.B.C.D [NAME] | via NAME | [via] drop",
        help: "Add a route",
        parse: parse_ip_route_add,
    },
    CommandSpec {
        path: &["ip", "route"],
        usage: "ip route A.B.C.D/LEN [table 0] via A.B.C.D [NAME] | via NAME | [via] drop",
        help: "Same as ip route add (VPP's add is optional)",
        parse: |c| {
            // What is neither add, del nor a prefix is a mistyped verb (`delete`), not a
            // bad prefix; alone, `ip route` lacks its verb rather than its prefix.
            match c.peek() {
                None => Err(
                    "ip route: incomplete command, expected add, del or a prefix A.B.C.D/LEN"
                        .to_string(),
                ),
                Some(word) if !word.starts_with(|ch: char| ch.is_ascii_digit()) => {
                    Err(c.unknown_input())
                }
                Some(_) => parse_ip_route_add(c),
            }
        },
    },
    CommandSpec {
        path: &["ip", "route", "del"],
        usage: "ip route del A.B.C.D/LEN [table 0] [via A.B.C.D [NAME] | via NAME | [via] drop]",
        help: "Delete a route; given a path, only if the route takes it (one path per prefix)",
        parse: |c| {
            let prefix = c.prefix()?;
            c.table_zero("table", "FIB table")?;
            let path = if c.at_end() {
                None
            } else {
                Some(parse_route_path(c)?)
            };
            c.table_zero("table", "FIB table")?;
            Ok(Command::IpRouteDel { prefix, path })
        },
    },
    CommandSpec {
        path: &["show", "ip", "fib"],
        usage: "show ip fib [table 0] [A.B.C.D[/LEN] | summary]",
        help: "The FIB: each prefix with its adjacency and rewrite (an address: its route; summary: prefixes per length)",
        parse: |c| {
            // VPP's `table 0` may come before or after the rest.
            c.table_zero("table", "FIB table")?;
            if c.keyword("summary") {
                c.table_zero("table", "FIB table")?;
                return Ok(Command::ShowIpFibSummary);
            }
            let prefix = match c.peek() {
                None => None,
                // As VPP's: an address alone is looked up as a /32.
                Some(word) if !word.contains('/') => {
                    Some(Ipv4Prefix::host(c.ipv4("an address or prefix")?))
                }
                Some(_) => Some(c.prefix()?),
            };
            c.table_zero("table", "FIB table")?;
            Ok(Command::ShowIpFib { prefix })
        },
    },
    CommandSpec {
        path: &["set", "ip", "neighbor"],
        usage: "set ip neighbor [del] NAME A.B.C.D MAC [static] [no-fib-entry]",
        help: "Add or delete an IPv4 neighbour (ARP entry)",
        parse: parse_set_ip_neighbor,
    },
    CommandSpec {
        path: &["ip", "neighbor"],
        usage: "ip neighbor [del] NAME A.B.C.D MAC [static] [no-fib-entry]",
        help: "Same as set ip neighbor",
        parse: parse_set_ip_neighbor,
    },
    CommandSpec {
        path: &["show", "ip", "neighbors"],
        usage: "show ip neighbors [NAME]",
        help: "IPv4 neighbours (ARP table), of one interface or all",
        parse: |c| {
            Ok(Command::ShowIpNeighbors {
                interface: optional_word(c),
            })
        },
    },
    CommandSpec {
        path: &["show", "ip", "arp"],
        usage: "show ip arp [NAME]",
        help: "Same as show ip neighbors",
        parse: |c| {
            Ok(Command::ShowIpNeighbors {
                interface: optional_word(c),
            })
        },
    },
    CommandSpec {
        path: &["trace", "add"],
        usage: "trace add INPUT-NODE N",
        help: "Trace the next N packets from an input node (virtio-input for virtio-user and tap ports, vhost-user-input, pcap-input, dpdk-input for any)",
        parse: parse_trace_add,
    },
    CommandSpec {
        path: &["show", "trace"],
        usage: "show trace [max N]",
        help: "Traced packets, one block per packet",
        parse: |c| {
            let max = if c.keyword("max") {
                Some(c.u32_in("max", 1..=u32::MAX)?)
            } else {
                None
            };
            Ok(Command::ShowTrace { max })
        },
    },
    CommandSpec {
        path: &["clear", "trace"],
        usage: "clear trace",
        help: "Forget traced packets",
        parse: |_| Ok(Command::ClearTrace),
    },
    CommandSpec {
        path: &["ping"],
        usage: "ping A.B.C.D [source NAME] [size N] [interval SECONDS] [repeat N]",
        help: "ICMP echo requests out of the interface the route takes; prints the replies \
               (defaults: 60 bytes of data, 1 s apart, 5 of them)",
        parse: parse_ping,
    },
    CommandSpec {
        path: &["pcap", "trace"],
        usage: "pcap trace [rx] [tx] [drop] [max N] [intfc NAME|any] [file NAME] \
                [max-bytes-per-pkt N] | off | status",
        help: "Capture received, transmitted or dropped packets to a pcap file in /tmp; \
               off stops and writes it",
        parse: parse_pcap_trace,
    },
    CommandSpec {
        path: &["show", "errors"],
        usage: "show errors",
        help: "Drop and error counters per stage and reason",
        parse: |_| Ok(Command::ShowErrors),
    },
    CommandSpec {
        path: &["show", "node", "counters"],
        usage: "show node counters",
        help: "Same as show errors (newer VPP's name for it)",
        parse: |_| Ok(Command::ShowErrors),
    },
    CommandSpec {
        path: &["show", "runtime"],
        usage: "show runtime [brief|verbose] [max] [summary]",
        help: "Per stage: calls, vectors, vectors/call, cycles/packet (max: the costliest \
               call; verbose: nodes that never ran too; summary: the rates alone)",
        parse: parse_show_runtime,
    },
    CommandSpec {
        path: &["clear", "errors"],
        usage: "clear errors",
        help: "Zero the error counters",
        parse: |_| Ok(Command::ClearErrors),
    },
    CommandSpec {
        path: &["clear", "node", "counters"],
        usage: "clear node counters",
        help: "Same as clear errors (newer VPP's name for it)",
        parse: |_| Ok(Command::ClearErrors),
    },
    CommandSpec {
        path: &["clear", "runtime"],
        usage: "clear runtime",
        help: "Zero the runtime statistics",
        parse: |_| Ok(Command::ClearRuntime),
    },
    CommandSpec {
        path: &["clear", "hardware-interfaces"],
        usage: "clear hardware-interfaces [NAME]",
        help: "Zero show hardware-interfaces' counters (the drivers' and podfwd's)",
        parse: |c| {
            Ok(Command::ClearHardwareInterfaces {
                name: optional_word(c),
            })
        },
    },
    CommandSpec {
        path: &["clear", "interfaces"],
        usage: "clear interfaces",
        help: "Zero the interface counters",
        parse: |_| Ok(Command::ClearInterfaces),
    },
    CommandSpec {
        path: &["show", "version"],
        usage: "show version [verbose]",
        help: "podfwd, DPDK and rustc versions (verbose: also the CPU, the PID and the \
               EAL's arguments)",
        parse: |c| {
            Ok(Command::ShowVersion {
                verbose: c.keyword("verbose"),
            })
        },
    },
    CommandSpec {
        path: &["show", "dpdk", "version"],
        usage: "show dpdk version",
        help: "DPDK's version and the arguments the EAL was started with",
        parse: |_| Ok(Command::ShowDpdkVersion),
    },
    CommandSpec {
        path: &["show", "memory"],
        usage: "show memory",
        help: "The heaps (big tables, system, DPDK) and the resident size",
        parse: |_| Ok(Command::ShowMemory),
    },
    CommandSpec {
        path: &["show", "logging"],
        usage: "show logging",
        help: "The last 512 lines of podfwd's log, in VPP's columns",
        parse: |_| Ok(Command::ShowLogging),
    },
    CommandSpec {
        path: &["show", "buffers"],
        usage: "show buffers",
        help: "The packet buffer pools: total, free, in lcore caches, in use",
        parse: |_| Ok(Command::ShowBuffers),
    },
    CommandSpec {
        path: &["show", "threads"],
        usage: "show threads",
        help: "Lcores, their queues and states",
        parse: |_| Ok(Command::ShowThreads),
    },
    CommandSpec {
        path: &["exec"],
        usage: "exec FILE",
        help: "Run the commands in FILE",
        parse: |c| {
            Ok(Command::Exec {
                file: c.rest("a file name")?.to_string(),
            })
        },
    },
    CommandSpec {
        path: &["comment"],
        usage: "comment {TEXT}",
        help: "Do nothing: the rest of the line is a comment (as # is)",
        parse: |c| {
            c.rest_or_empty();
            Ok(Command::Comment)
        },
    },
    CommandSpec {
        path: &["quit"],
        usage: "quit",
        help: "Stop podfwd (on the control socket: end the session)",
        parse: |_| Ok(Command::Quit),
    },
    CommandSpec {
        path: &["exit"],
        usage: "exit",
        help: "Same as quit",
        parse: |_| Ok(Command::Quit),
    },
    CommandSpec {
        path: &["help"],
        usage: "help [COMMAND]",
        help: "List commands, or show a command's usage (also: COMMAND ?)",
        parse: parse_help,
    },
    CommandSpec {
        path: &["?"],
        usage: "?",
        help: "Same as help",
        parse: parse_help,
    },
    // ACL (acl-plugin).
    CommandSpec {
        path: &["set", "acl-plugin", "acl"],
        usage: "set acl-plugin acl [index N] permit|deny|permit+reflect [src A.B.C.D/LEN] \
                [dst A.B.C.D/LEN] [proto N] [sport A[-B]] [dport A[-B]] [tcpflags VALUE [mask] MASK] \
                [tag TAG], RULE, ...",
        help: "Create an ACL, or replace ACL N",
        parse: acl::parse_set_acl,
    },
    CommandSpec {
        path: &["delete", "acl-plugin", "acl"],
        usage: "delete acl-plugin acl index N",
        help: "Delete an ACL that no interface uses",
        parse: acl::parse_delete_acl,
    },
    CommandSpec {
        path: &["set", "acl-plugin", "interface"],
        usage: "set acl-plugin interface NAME input|output acl N [del]",
        help: "Apply an ACL to an interface (or remove it)",
        parse: acl::parse_set_acl_interface,
    },
    CommandSpec {
        path: &["show", "acl-plugin", "acl"],
        usage: "show acl-plugin acl [index N]",
        help: "ACLs with their rules, where they are applied, and each worker's hits",
        parse: acl::parse_show_acl,
    },
    CommandSpec {
        path: &["show", "acl-plugin", "interface"],
        usage: "show acl-plugin interface [NAME | sw_if_index N] [acl]",
        help: "Input and output ACLs per interface (with `acl`, their rules)",
        parse: parse_show_acl_interface,
    },
    CommandSpec {
        path: &["show", "acl-plugin", "sessions"],
        usage: "show acl-plugin sessions [thread T index I]",
        help: "Reflective ACL sessions per worker (the first 1000 of each listed), or one",
        parse: acl::parse_show_sessions,
    },
    CommandSpec {
        path: &["clear", "acl-plugin", "sessions"],
        usage: "clear acl-plugin sessions",
        help: "Delete every reflective ACL session (their flows' next packets meet the rules)",
        parse: |_| Ok(Command::ClearAclSessions),
    },
    CommandSpec {
        path: &["show", "acl-plugin", "tables"],
        usage: "show acl-plugin tables",
        help: "How each interface's ACL rules are looked up: scheme, rules, memory",
        parse: |_| Ok(Command::ShowAclTables),
    },
    CommandSpec {
        path: &["set", "acl-plugin", "session", "timeout"],
        usage: "set acl-plugin session timeout tcp-transient|tcp-established|udp|other|tcp transient|tcp idle|udp idle SECONDS",
        help: "Set an ACL session idle timeout",
        parse: acl::parse_session_timeout,
    },
    CommandSpec {
        path: &["set", "acl-plugin", "session", "table", "max-entries"],
        usage: "set acl-plugin session table max-entries N",
        help: "Limit the ACL sessions per worker",
        parse: acl::parse_session_max_entries,
    },
    CommandSpec {
        path: &["set", "acl-plugin", "reclassify-sessions"],
        usage: "set acl-plugin reclassify-sessions 0|1",
        help: "1: a change of an interface's ACL list ends the sessions made in that direction (0, the default: only its last list emptying does)",
        parse: acl::parse_reclassify_sessions,
    },
    // NAT44.
    CommandSpec {
        path: &["nat44", "add", "address"],
        usage: "nat44 add address A.B.C.D [- A.B.C.D] [twice-nat] [del]",
        help: "Add pool addresses (twice-nat: to the twice-nat pool)",
        parse: |c| nat44::parse_address(c, false),
    },
    CommandSpec {
        path: &["nat44", "del", "address"],
        usage: "nat44 del address A.B.C.D [- A.B.C.D] [twice-nat]",
        help: "Delete pool addresses",
        parse: |c| nat44::parse_address(c, true),
    },
    CommandSpec {
        path: &["nat44", "add", "interface", "address"],
        usage: "nat44 add interface address NAME [twice-nat] [del]",
        help: "Make the interface's first address a pool address (twice-nat: of the \
               twice-nat pool), following it when it changes",
        parse: nat44::parse_interface_address,
    },
    CommandSpec {
        path: &["show", "nat44", "interface", "address"],
        usage: "show nat44 interface address",
        help: "Interfaces whose address is a NAT44 pool address",
        parse: |_| Ok(Command::ShowNat44InterfaceAddress),
    },
    CommandSpec {
        path: &["nat44", "add", "static", "mapping"],
        usage: "nat44 add static mapping [tcp|udp|icmp] local A.B.C.D [PORT] external A.B.C.D \
                [PORT] [vrf 0] [twice-nat|self-twice-nat] [out2in-only] [del] (the protocol \
                for a mapping with ports; without ports it maps every protocol, no twice-NAT)",
        help: "Add a static mapping (external -> local)",
        parse: |c| nat44::parse_static_mapping(c, false),
    },
    CommandSpec {
        path: &["nat44", "del", "static", "mapping"],
        usage: "nat44 del static mapping [tcp|udp|icmp] local A.B.C.D [PORT] external A.B.C.D \
                [PORT] [vrf 0] [twice-nat|self-twice-nat] [out2in-only]",
        help: "Delete a static mapping",
        parse: |c| nat44::parse_static_mapping(c, true),
    },
    CommandSpec {
        path: &["nat44", "add", "load-balancing", "static", "mapping"],
        usage: "nat44 add load-balancing static mapping protocol tcp|udp external A.B.C.D:PORT \
                local A.B.C.D:PORT [vrf 0] probability N [local A.B.C.D:PORT [vrf 0] \
                probability N ...] [twice-nat|self-twice-nat] [out2in-only] [affinity SECONDS] \
                [del]",
        help: "Add a service: an external address load-balanced over locals",
        parse: |c| nat44::parse_lb_static_mapping(c, false),
    },
    CommandSpec {
        path: &["nat44", "del", "load-balancing", "static", "mapping"],
        usage: "nat44 del load-balancing static mapping protocol tcp|udp external \
                A.B.C.D:PORT [local A.B.C.D:PORT [vrf 0] probability N ...] \
                [twice-nat|self-twice-nat] [out2in-only] [affinity SECONDS]",
        help: "Delete a load-balanced mapping",
        parse: |c| nat44::parse_lb_static_mapping(c, true),
    },
    CommandSpec {
        path: &["nat44", "add", "load-balancing", "back-end"],
        usage: "nat44 add load-balancing back-end protocol tcp|udp external A.B.C.D:PORT \
                local A.B.C.D:PORT [vrf 0] probability N [del]",
        help: "Add a local to a load-balanced mapping (del: remove one; its sessions go)",
        parse: |c| nat44::parse_lb_backend(c, false),
    },
    CommandSpec {
        path: &["nat44", "del", "load-balancing", "back-end"],
        usage: "nat44 del load-balancing back-end protocol tcp|udp external A.B.C.D:PORT \
                local A.B.C.D:PORT [vrf 0] [probability N]",
        help: "Remove a local from a load-balanced mapping; its sessions go",
        parse: |c| nat44::parse_lb_backend(c, true),
    },
    CommandSpec {
        path: &["nat44", "add", "identity", "mapping"],
        usage: "nat44 add identity mapping A.B.C.D [tcp|udp PORT] [vrf 0] [del]",
        help: "Let traffic to an address (and port) pass untranslated",
        parse: |c| nat44::parse_identity_mapping(c, false),
    },
    CommandSpec {
        path: &["nat44", "del", "identity", "mapping"],
        usage: "nat44 del identity mapping A.B.C.D [tcp|udp PORT] [vrf 0]",
        help: "Delete an identity mapping",
        parse: |c| nat44::parse_identity_mapping(c, true),
    },
    CommandSpec {
        path: &["nat44", "forwarding"],
        usage: "nat44 forwarding enable|disable",
        help: "Pass packets without a translation instead of dropping them",
        parse: |c| {
            let enable = c.choice(&[("enable", true), ("disable", false)])?;
            Ok(Command::Nat44Forwarding { enable })
        },
    },
    CommandSpec {
        path: &["set", "interface", "nat44"],
        usage: "set interface nat44 in NAME [out NAME] [del] | out NAME [output-feature] [del]",
        help: "Make interfaces NAT44 inside or outside",
        parse: nat44::parse_set_interface_nat44,
    },
    CommandSpec {
        path: &["set", "nat", "timeout"],
        usage: "set nat timeout [reset] [udp|tcp-established|tcp-transitory|icmp SECONDS ...]",
        help: "Set NAT44 session idle timeouts (reset: all to VPP's defaults first)",
        parse: nat44::parse_set_nat_timeout,
    },
    CommandSpec {
        path: &["nat44", "session", "limit"],
        usage: "nat44 session limit N [vrf 0]",
        help: "Limit the NAT44 sessions per worker (at most the table podfwd's \
               --nat-sessions allocated)",
        parse: nat44::parse_session_limit,
    },
    CommandSpec {
        path: &["set", "nat44", "session", "limit"],
        usage: "set nat44 session limit N [vrf 0]",
        help: "Same as nat44 session limit (VPP's nat44-ed spelling)",
        parse: nat44::parse_session_limit,
    },
    CommandSpec {
        path: &["show", "nat44", "interfaces"],
        usage: "show nat44 interfaces",
        help: "NAT44 interfaces and their roles",
        parse: |_| Ok(Command::ShowNat44Interfaces),
    },
    CommandSpec {
        path: &["show", "flow-cache"],
        usage: "show flow-cache",
        help: "ip4-flow-cache's size and counters, per worker",
        parse: |_| Ok(Command::ShowFlowCache),
    },
    CommandSpec {
        path: &["show", "nat44", "addresses"],
        usage: "show nat44 addresses",
        help: "NAT44 pools with busy ports",
        parse: |_| Ok(Command::ShowNat44Addresses),
    },
    CommandSpec {
        path: &["show", "nat44", "static", "mappings"],
        usage: "show nat44 static mappings",
        help: "Static, load-balanced and identity mappings",
        parse: |_| Ok(Command::ShowNat44StaticMappings),
    },
    CommandSpec {
        path: &["show", "nat44", "summary"],
        usage: "show nat44 summary",
        help: "NAT44 sessions per worker by state, and the session table's counters",
        parse: |_| Ok(Command::ShowNat44Summary),
    },
    CommandSpec {
        path: &["show", "nat", "timeouts"],
        usage: "show nat timeouts",
        help: "NAT44 session timeouts (set nat timeout ...)",
        parse: |_| Ok(Command::ShowNatTimeouts),
    },
    CommandSpec {
        path: &["show", "nat44", "sessions"],
        usage: "show nat44 sessions [detail]",
        help: "NAT44 sessions per inside address; detail: each session, its last heard in \
               seconds of the workers' clock (trace times') and its seconds left (timeout in)",
        parse: |c| {
            Ok(Command::ShowNat44Sessions {
                detail: c.keyword("detail"),
            })
        },
    },
    CommandSpec {
        path: &["nat44", "del", "session"],
        usage: "nat44 del session in|out A.B.C.D:PORT tcp|udp|icmp [vrf 0] \
                [external-host A.B.C.D:PORT]",
        help: "Delete the NAT44 sessions of an inside (in) or outside (out) endpoint, all \
               of them unless external-host names one; says how many",
        parse: nat44::parse_del_session,
    },
    CommandSpec {
        path: &["clear", "nat44", "sessions"],
        usage: "clear nat44 sessions",
        help: "Delete every NAT44 session (their flows' next packets meet the mappings \
               and the pool again)",
        parse: |_| Ok(Command::ClearNat44Sessions),
    },
];

/// VPP's words in either order: `show hardware-interfaces tap0 verbose` as well.
fn parse_show_hardware_interfaces(c: &mut Cursor<'_>) -> Result<Command, String> {
    let level = |c: &mut Cursor<'_>| {
        if c.keyword("brief") {
            Some(HardwareDetail::Brief)
        } else if c.keyword("verbose") || c.keyword("detail") {
            Some(HardwareDetail::Detail)
        } else {
            None
        }
    };
    let before = level(c);
    let name = optional_word(c);
    let detail = match before {
        Some(detail) => detail,
        None => level(c).unwrap_or(HardwareDetail::Normal),
    };
    Ok(Command::ShowHardwareInterfaces { detail, name })
}

/// An optional trailing word, such as the interface of `show interface [NAME]`.
/// `show acl-plugin interface [NAME | sw_if_index N] [acl]`: VPP's `sw_if_index N` and
/// `acl`, and an interface's name as podfwd's other commands take it.
fn parse_show_acl_interface(c: &mut Cursor<'_>) -> Result<Command, String> {
    let (mut which, mut acls) = (None, false);
    while let Some(word) = c.peek() {
        if word == "acl" {
            nat44::set_once(c, &mut acls, "acl")?;
            c.keyword("acl");
            continue;
        }
        if which.is_some() {
            return Err(c.unknown_input());
        }
        which = Some(match word {
            "sw_if_index" => {
                c.keyword("sw_if_index");
                InterfaceRef::SwIfIndex(c.u32_in("sw_if_index", 0..=u32::MAX)?)
            }
            _ => InterfaceRef::Name(interface(c)?),
        });
    }
    Ok(Command::ShowAclInterface {
        interface: which,
        acls,
    })
}

/// The rest of the line as interface names.
fn interface_names(c: &mut Cursor<'_>) -> Vec<String> {
    let mut names = Vec::new();
    while let Some(name) = optional_word(c) {
        names.push(name);
    }
    names
}

pub(super) fn optional_word(c: &mut Cursor<'_>) -> Option<String> {
    c.word("").ok().map(str::to_string)
}

pub(super) fn interface(c: &mut Cursor<'_>) -> Result<String, String> {
    Ok(c.word("an interface name")?.to_string())
}

fn parse_set_interface_state(c: &mut Cursor<'_>) -> Result<Command, String> {
    let interface = interface(c)?;
    let up = c.choice(&[("up", true), ("down", false)])?;
    Ok(Command::SetInterfaceState { interface, up })
}

fn parse_set_interface_mac(c: &mut Cursor<'_>) -> Result<Command, String> {
    let interface = interface(c)?;
    let mac = c.mac()?;
    Ok(Command::SetInterfaceMac { interface, mac })
}

fn parse_set_interface_ip_address(c: &mut Cursor<'_>) -> Result<Command, String> {
    let del = c.keyword("del");
    let interface = interface(c)?;
    if del && c.keyword("all") {
        return Ok(Command::DelInterfaceAddresses { interface });
    }
    let prefix = c.prefix()?;
    Ok(Command::SetInterfaceIpAddress {
        interface,
        prefix,
        del,
    })
}

/// VPP's `set interface mtu [packet|ip4|ip6|mpls] N NAME`. podfwd forwards IPv4 only, with
/// one MTU checked against the IPv4 total length: that is both the packet MTU and the
/// ip4 one, and there is no ip6 or mpls MTU to set.
fn parse_set_interface_mtu(c: &mut Cursor<'_>) -> Result<Command, String> {
    match c.peek() {
        Some("packet" | "ip4") => {
            c.word("")?;
        }
        Some(kind @ ("ip6" | "mpls")) => {
            return Err(format!(
                "set interface mtu: podfwd forwards IPv4 only, so it has no {kind} MTU \
                 (packet or ip4 sets the one MTU)"
            ))
        }
        _ => {}
    }
    let mtu = c.u32_in("mtu", MTU_RANGE)?;
    let interface = interface(c)?;
    Ok(Command::SetInterfaceMtu {
        interface,
        // MTU_RANGE ends below u16::MAX.
        mtu: u16::try_from(mtu).unwrap_or(u16::MAX),
    })
}

/// `via A.B.C.D [NAME]`, `via NAME` or `drop`. A word after `via` that starts with a
/// digit is read as an address, so a mistyped one is reported as such rather than as an
/// unknown interface later.
fn parse_route_path(c: &mut Cursor<'_>) -> Result<RoutePath, String> {
    let expected = "via A.B.C.D [NAME], via NAME or drop";
    match c.peek() {
        None => return Err(c.missing(expected)),
        Some("drop") => {
            c.keyword("drop");
            return Ok(RoutePath::Drop);
        }
        Some("via") => {
            c.keyword("via");
        }
        Some(_) => return Err(c.unknown_input()),
    }
    // VPP also spells the drop path `via drop`.
    if c.keyword("drop") {
        return Ok(RoutePath::Drop);
    }
    let target = c.word("a next hop A.B.C.D or an interface name")?;
    if target.starts_with(|ch: char| ch.is_ascii_digit()) {
        let next_hop = parse_ipv4(target)?;
        // `via 172.30.1.2 table 0`: the table is the route's, not an interface.
        let interface = match c.peek() {
            Some("table") => None,
            _ => optional_word(c),
        };
        Ok(RoutePath::NextHop {
            next_hop,
            interface,
        })
    } else {
        Ok(RoutePath::Interface {
            interface: target.to_string(),
        })
    }
}

fn parse_ip_route_add(c: &mut Cursor<'_>) -> Result<Command, String> {
    let prefix = c.prefix()?;
    c.table_zero("table", "FIB table")?;
    let path = parse_route_path(c)?;
    // VPP takes `table N` after the path too.
    c.table_zero("table", "FIB table")?;
    Ok(Command::IpRouteAdd { prefix, path })
}

fn parse_set_ip_neighbor(c: &mut Cursor<'_>) -> Result<Command, String> {
    // As VPP's: the keywords in any order around the entry itself.
    let (mut del, mut is_static, mut no_fib_entry) = (false, false, false);
    let mut entry = None;
    while !c.at_end() {
        if c.keyword("del") || c.keyword("delete") {
            del = true;
        } else if c.keyword("static") {
            is_static = true;
        } else if c.keyword("no-fib-entry") {
            no_fib_entry = true;
        } else if entry.is_none() {
            let interface = interface(c)?;
            let ip = c.ipv4("an IPv4 address")?;
            entry = Some((interface, ip, c.mac()?));
        } else {
            return Err(c.unknown_input());
        }
    }
    let Some((interface, ip, mac)) = entry else {
        return Err(c.missing("NAME A.B.C.D MAC"));
    };
    Ok(Command::SetIpNeighbor {
        interface,
        ip,
        mac,
        is_static,
        no_fib_entry,
        del,
    })
}

fn parse_trace_add(c: &mut Cursor<'_>) -> Result<Command, String> {
    let known: Vec<&str> = InputKind::ALL.iter().map(|k| k.node_name()).collect();
    let node = c.word(&format!("an input node ({})", known.join(", ")))?;
    let input = InputKind::from_node_name(node).ok_or_else(|| {
        format!(
            "trace add: '{node}' is not an input node (known: {})",
            known.join(", ")
        )
    })?;
    let count = c.u32_in("count", 1..=MAX_TRACE_COUNT)?;
    Ok(Command::TraceAdd { input, count })
}

/// VPP's words after the address, in any order; VPP's `ipv4` before the address, and
/// `table-id 0`, are taken.
fn parse_ping(c: &mut Cursor<'_>) -> Result<Command, String> {
    c.keyword("ipv4");
    let dst = c.ipv4("an IPv4 address")?;
    let mut args = PingArgs {
        dst,
        source: None,
        size: PingArgs::DEFAULT_SIZE,
        interval_ms: PingArgs::DEFAULT_INTERVAL_MS,
        repeat: PingArgs::DEFAULT_REPEAT,
    };
    while !c.at_end() {
        if c.keyword("source") {
            args.source = Some(interface(c)?);
        } else if c.keyword("size") {
            args.size = c.u32_in("size", PingArgs::SIZE)? as u16;
        } else if c.keyword("interval") {
            args.interval_ms = seconds_as_ms(c.word("seconds")?)?;
        } else if c.keyword("repeat") {
            args.repeat = c.u32_in("repeat", PingArgs::REPEAT)?;
        } else if c.keyword("table-id") {
            c.u32_in("table-id", 0..=0)?;
        } else {
            return Err(c.unknown_input());
        }
    }
    Ok(Command::Ping(args))
}

/// `1`, `0.5`, `0.001`: whole milliseconds in [`PingArgs::INTERVAL_MS`].
fn seconds_as_ms(word: &str) -> Result<u32, String> {
    let range = PingArgs::INTERVAL_MS;
    let bad = || {
        format!(
            "interval '{word}': expected seconds, {} to {} in steps of 0.001",
            f64::from(*range.start()) / 1000.0,
            f64::from(*range.end()) / 1000.0
        )
    };
    let (whole, fraction) = word.split_once('.').unwrap_or((word, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !digits(whole)
        || !digits(fraction)
        || fraction.len() > 3
    {
        return Err(bad());
    }
    let whole: u32 = match whole {
        "" => 0,
        w => w.parse().map_err(|_| bad())?,
    };
    let fraction: u32 = format!("{fraction:0<3}").parse().map_err(|_| bad())?;
    let ms = whole
        .checked_mul(1000)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(bad)?;
    range.contains(&ms).then_some(ms).ok_or_else(bad)
}

/// VPP's words in any order; `off` and `status` stand alone here (VPP lets a later
/// word undo an earlier one, which hides typos).
fn parse_pcap_trace(c: &mut Cursor<'_>) -> Result<Command, String> {
    if c.keyword("off") {
        return Ok(Command::PcapTrace(PcapTrace::Off));
    }
    if c.keyword("status") {
        return Ok(Command::PcapTrace(PcapTrace::Status));
    }
    let (mut rx, mut tx, mut drop) = (false, false, false);
    let mut max = PcapTrace::DEFAULT_MAX;
    let mut max_bytes = PcapTrace::DEFAULT_MAX_BYTES;
    let (mut interface, mut file) = (None, None);
    while !c.at_end() {
        if c.keyword("rx") {
            rx = true;
        } else if c.keyword("tx") {
            tx = true;
        } else if c.keyword("drop") {
            drop = true;
        } else if c.keyword("max-bytes-per-pkt") {
            max_bytes = c.u32_in("max-bytes-per-pkt", PcapTrace::MAX_BYTES)?;
        } else if c.keyword("max") {
            max = c.u32_in("max", 1..=PcapTrace::MAX_PACKETS)?;
        } else if c.keyword("intfc") || c.keyword("interface") {
            let name = interface_word(c)?;
            interface = (name != "any").then_some(name);
        } else if c.keyword("file") {
            file = Some(pcap_file_name(c.word("a file name (it goes to /tmp)")?)?);
        } else if c.keyword("off") || c.keyword("status") {
            return Err("pcap trace: 'off' and 'status' stand alone".into());
        } else {
            return Err(c.unknown_input());
        }
    }
    if !(rx || tx || drop) {
        return Err("pcap trace: say what to capture (rx, tx, drop), or off, or status".into());
    }
    Ok(Command::PcapTrace(PcapTrace::Start(PcapCapture {
        rx,
        tx,
        drop,
        max,
        max_bytes,
        interface,
        file,
    })))
}

fn interface_word(c: &mut Cursor<'_>) -> Result<String, String> {
    Ok(c.word("an interface name or any")?.to_string())
}

/// As VPP: the capture goes to /tmp, so a bare file name.
fn pcap_file_name(name: &str) -> Result<String, String> {
    if name.contains('/') || name == "." || name == ".." {
        return Err(format!(
            "pcap trace: file '{name}': a file name without a directory (captures go to /tmp)"
        ));
    }
    Ok(name.to_string())
}

/// VPP's words, each at most once, in its order: `brief` (the default) or `verbose`,
/// `max`, `summary`.
fn parse_show_runtime(c: &mut Cursor<'_>) -> Result<Command, String> {
    // VPP's order, and its short forms (VPP reads each word once, in this order).
    let mut any = |words: &[&str]| words.iter().any(|w| c.keyword(w));
    let verbose = match any(&["brief", "b"]) {
        true => false,
        false => any(&["verbose", "v"]),
    };
    let max = any(&["max", "m"]);
    let summary = any(&["summary", "sum", "su"]);
    Ok(Command::ShowRuntime {
        view: RuntimeView { verbose, max },
        summary,
    })
}

fn parse_help(c: &mut Cursor<'_>) -> Result<Command, String> {
    let rest = c.rest_or_empty();
    let words = super::help_words(rest, &super::tokenize(rest))?;
    Ok(Command::Help { words })
}
