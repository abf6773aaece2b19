//! `show ip fib`, `show ip neighbors` and `show interface address`, in VPP's shape.

use std::fmt::Write as _;

use super::{interface_name, ControlPlane, InterfaceConfig, Snapshot};
use crate::fib::{AdjIndex, Adjacency, FibEntry};
use crate::types::{IfIndex, Ipv4Prefix};

const FIB_HEADER: &str = "ipv4-VRF:0, fib_index 0, flow hash:[src dst sport dport proto ]";

/// `show ip fib [PREFIX]`: every installed prefix with its adjacency, then the configured
/// routes that are not installed and why. With a prefix: the entry that forwards it (the
/// longest installed prefix covering it), as VPP does.
pub fn format_fib(snapshot: &Snapshot, filter: Option<Ipv4Prefix>) -> String {
    let fib = &snapshot.fib;
    let name_of = |i: IfIndex| snapshot.interface_name(i);
    let mut out = String::new();
    let _ = writeln!(out, "{FIB_HEADER}");
    let write_entry = |out: &mut String, entry: &FibEntry| {
        let adjacency = fib.adjacency(entry.adj);
        let _ = writeln!(out, "{}", entry.prefix);
        let _ = writeln!(out, "  unicast-ip4-chain");
        let _ = writeln!(
            out,
            "  [@0]: dpo-load-balance: [proto:ip4 index:{} buckets:1 src:{}]",
            entry.adj.0,
            entry.source.name()
        );
        let _ = writeln!(
            out,
            "    [0] [@{}]: {}",
            adjacency.dpo_type(),
            adjacency.describe(Some(entry.prefix), &name_of)
        );
    };
    let write_no_route = |out: &mut String| {
        let _ = writeln!(out, "0.0.0.0/0");
        let _ = writeln!(out, "  unicast-ip4-chain");
        let _ = writeln!(
            out,
            "  [@0]: dpo-load-balance: [proto:ip4 index:{} buckets:1 src:default-route]",
            AdjIndex::NO_ROUTE.0
        );
        let _ = writeln!(
            out,
            "    [0] [@0]: {}",
            Adjacency::NoRoute.describe(None, &name_of)
        );
    };
    let has_default = fib
        .entry(Ipv4Prefix {
            addr: std::net::Ipv4Addr::UNSPECIFIED,
            len: 0,
        })
        .is_some();
    match filter {
        None => {
            if !has_default {
                write_no_route(&mut out);
            }
            for entry in fib.entries() {
                write_entry(&mut out, entry);
            }
            for route in fib.unresolved() {
                let _ = writeln!(
                    out,
                    "{} via {}: not installed: {}",
                    route.prefix, route.next_hop, route.reason
                );
            }
        }
        Some(wanted) => {
            let wanted_net = wanted.network();
            let covering = (0..=wanted.len.min(32)).rev().find_map(|len| {
                fib.entry(Ipv4Prefix {
                    addr: wanted.addr,
                    len,
                })
            });
            match covering {
                Some(entry) => write_entry(&mut out, entry),
                None => write_no_route(&mut out),
            }
            for route in fib.unresolved().iter().filter(|r| r.prefix == wanted_net) {
                let _ = writeln!(
                    out,
                    "{} via {}: not installed: {}",
                    route.prefix, route.next_hop, route.reason
                );
            }
        }
    }
    out
}

/// `show ip fib summary`: the installed prefixes counted by length, in VPP's columns
/// (`%=20s%=16s` over `%20d%16d`), the implicit default drop counted as `show ip fib`
/// prints it. Routes that are not installed are counted on a line of their own.
pub fn format_fib_summary(snapshot: &Snapshot) -> String {
    let fib = &snapshot.fib;
    let mut by_length = [0u64; 33];
    for entry in fib.entries() {
        by_length[usize::from(entry.prefix.len.min(32))] += 1;
    }
    if by_length[0] == 0 {
        by_length[0] = 1;
    }
    let mut out = String::new();
    let _ = writeln!(out, "{FIB_HEADER}");
    let _ = writeln!(out, "{:^20}{:^16}", "Prefix length", "Count");
    for (len, count) in by_length.iter().enumerate().filter(|(_, &c)| c > 0) {
        let _ = writeln!(out, "{len:>20}{count:>16}");
    }
    let unresolved = fib.unresolved().len();
    if unresolved > 0 {
        let _ = writeln!(
            out,
            "routes not installed: {unresolved} (show ip fib says why)"
        );
    }
    out
}

/// `show ip neighbors`: `Time IP4 Flags Ethernet Interface`, flags `S` static, `D` dynamic.
/// `show ip neighbors [NAME]`: every neighbour, or those of interface `only`.
pub fn format_neighbors(control: &ControlPlane, only: Option<IfIndex>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:^12}{:^16}{:^6}{:^20}Interface",
        "Time", "IP4", "Flags", "Ethernet"
    );
    for neighbor in control
        .neighbors()
        .filter(|n| only.is_none_or(|i| n.if_index == i))
    {
        let flags = match (neighbor.is_static, neighbor.no_fib_entry) {
            (true, false) => "S",
            (true, true) => "SN",
            (false, false) => "D",
            (false, true) => "DN",
        };
        let _ = writeln!(
            out,
            "{:^12}{:^16}{:^6}{:^20}{}",
            format!("{:.4}", neighbor.updated.as_secs_f64()),
            neighbor.ip.to_string(),
            flags,
            neighbor.mac.to_string(),
            interface_name(control.interfaces(), neighbor.if_index)
        );
    }
    out
}

/// `show interface address`: each interface, its state (`up` / `dn`) and its addresses.
pub fn format_interface_addresses(interfaces: &[InterfaceConfig]) -> String {
    let mut out = String::new();
    for interface in interfaces {
        let state = if interface.admin_up { "up" } else { "dn" };
        let _ = writeln!(out, "{} ({state}):", interface.name);
        for address in &interface.addresses {
            let _ = writeln!(out, "  L3 {address}");
        }
    }
    out
}
