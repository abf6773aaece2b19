//! From configuration to FIB: which prefixes exist, from which source, and what each
//! resolves to. The rules are in the parent module's doc.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use super::{interface_at, InterfaceConfig, Neighbor, RouteTarget};
use crate::fib::{Adjacency, Fib, RouteSource, UnresolvedRoute};
use crate::types::{IfIndex, Ipv4Prefix};

/// Recursive routes may resolve through at most this many other recursive routes; a
/// longer chain is taken for a loop.
const MAX_RECURSION: usize = 8;

/// Addresses never forwarded, whatever the routes say (VPP's special FIB entries).
const SPECIAL_DROPS: [(Ipv4Addr, u8); 4] = [
    (Ipv4Addr::UNSPECIFIED, 32),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
    (Ipv4Addr::new(240, 0, 0, 0), 4),
    (Ipv4Addr::BROADCAST, 32),
];

#[derive(Clone, Debug)]
enum Candidate {
    Ready(Adjacency),
    /// Via a next hop with no interface: resolved once every other prefix is known.
    Recursive(Ipv4Addr),
}

type Neighbors = BTreeMap<(IfIndex, Ipv4Addr), Neighbor>;

pub(super) fn build_fib(
    interfaces: &[InterfaceConfig],
    routes: &BTreeMap<Ipv4Prefix, RouteTarget>,
    neighbors: &Neighbors,
) -> Fib {
    let mut table: BTreeMap<Ipv4Prefix, (RouteSource, Candidate)> = BTreeMap::new();
    let mut offer = |prefix: Ipv4Prefix, source: RouteSource, candidate: Candidate| match table
        .entry(prefix.network())
    {
        Entry::Vacant(slot) => {
            slot.insert((source, candidate));
        }
        Entry::Occupied(mut slot) => {
            if source < slot.get().0 {
                slot.insert((source, candidate));
            }
        }
    };

    for (addr, len) in SPECIAL_DROPS {
        offer(
            Ipv4Prefix { addr, len },
            RouteSource::Special,
            Candidate::Ready(Adjacency::Drop),
        );
    }

    for interface in interfaces.iter().filter(|i| i.admin_up) {
        for address in &interface.addresses {
            if address.len < 32 {
                let glean = Adjacency::Glean {
                    tx_if: interface.index,
                    next_hop: None,
                };
                offer(*address, RouteSource::Interface, Candidate::Ready(glean));
            }
            // As VPP: the subnet's network and broadcast addresses are drops, so a
            // packet to them is neither glean'd (an ARP request for the broadcast
            // address) nor forwarded (directed broadcast is off, as VPP's default).
            for end in address.subnet_ends().into_iter().flatten() {
                if end != address.addr {
                    offer(
                        Ipv4Prefix::host(end),
                        RouteSource::Interface,
                        Candidate::Ready(Adjacency::Drop),
                    );
                }
            }
            let receive = Adjacency::Receive {
                if_index: interface.index,
            };
            offer(
                Ipv4Prefix::host(address.addr),
                RouteSource::Interface,
                Candidate::Ready(receive),
            );
        }
    }

    for (prefix, target) in routes {
        let candidate = match *target {
            RouteTarget::Drop => Candidate::Ready(Adjacency::Drop),
            RouteTarget::Attached(tx_if) => Candidate::Ready(if is_up(interfaces, tx_if) {
                Adjacency::Glean {
                    tx_if,
                    next_hop: None,
                }
            } else {
                Adjacency::Drop
            }),
            RouteTarget::Via {
                next_hop,
                interface: Some(tx_if),
            } => Candidate::Ready(if is_up(interfaces, tx_if) {
                adjacency_to(interfaces, neighbors, tx_if, next_hop)
            } else {
                Adjacency::Drop
            }),
            RouteTarget::Via {
                next_hop,
                interface: None,
            } => Candidate::Recursive(next_hop),
        };
        offer(*prefix, RouteSource::Static, candidate);
    }

    let attached_routes = attached_routes(routes);
    for neighbor in neighbors.values().filter(|n| !n.no_fib_entry) {
        if is_attached(interfaces, &attached_routes, neighbor.if_index, neighbor.ip) {
            let rewrite = adjacency_to(interfaces, neighbors, neighbor.if_index, neighbor.ip);
            offer(
                Ipv4Prefix::host(neighbor.ip),
                RouteSource::Neighbor,
                Candidate::Ready(rewrite),
            );
        }
    }

    let mut resolver = Resolver {
        table: &table,
        interfaces,
        neighbors,
        done: HashMap::new(),
    };
    let mut installed = Vec::with_capacity(table.len());
    let mut unresolved = Vec::new();
    for (prefix, (source, candidate)) in &table {
        match candidate {
            Candidate::Ready(adjacency) => installed.push((*prefix, *source, adjacency.clone())),
            Candidate::Recursive(next_hop) => match resolver.resolve(*prefix, *next_hop, 0) {
                Ok(adjacency) => installed.push((*prefix, *source, adjacency)),
                Err(reason) => unresolved.push(UnresolvedRoute {
                    prefix: *prefix,
                    next_hop: *next_hop,
                    reason,
                }),
            },
        }
    }
    Fib::build(installed, unresolved)
}

fn is_up(interfaces: &[InterfaceConfig], i: IfIndex) -> bool {
    interface_at(interfaces, i).is_some_and(|c| c.admin_up)
}

/// The routes straight onto an interface (`ip route add P via NAME`): their
/// destinations are on its link, as its subnets' are.
pub(super) fn attached_routes(
    routes: &BTreeMap<Ipv4Prefix, RouteTarget>,
) -> Vec<(Ipv4Prefix, IfIndex)> {
    routes
        .iter()
        .filter_map(|(p, t)| match t {
            RouteTarget::Attached(i) => Some((*p, *i)),
            _ => None,
        })
        .collect()
}

/// Whether `ip` is on a subnet of the (up) interface: one of its addresses' subnets, or a
/// route attached to it (VPP's attached FIB entries). Only such neighbours get a /32,
/// and only such senders are answered and learnt by arp-input.
pub(super) fn is_attached(
    interfaces: &[InterfaceConfig],
    attached_routes: &[(Ipv4Prefix, IfIndex)],
    if_index: IfIndex,
    ip: Ipv4Addr,
) -> bool {
    let Some(interface) = interface_at(interfaces, if_index).filter(|c| c.admin_up) else {
        return false;
    };
    if interface.addresses.iter().any(|a| a.addr == ip) {
        return false;
    }
    interface.addresses.iter().any(|a| a.network().contains(ip))
        || attached_routes
            .iter()
            .any(|(p, i)| *i == if_index && p.contains(ip))
}

/// Whether `ip` may be a neighbour on interface `if_index`: on its link
/// ([`is_attached`]), and neither the network nor the broadcast address of one of its
/// subnets.
pub(super) fn is_link_host(
    interfaces: &[InterfaceConfig],
    attached_routes: &[(Ipv4Prefix, IfIndex)],
    if_index: IfIndex,
    ip: Ipv4Addr,
) -> bool {
    is_attached(interfaces, attached_routes, if_index, ip)
        && interface_at(interfaces, if_index).is_some_and(|c| {
            c.addresses
                .iter()
                .all(|a| !a.network().contains(ip) || a.has_host(ip))
        })
}

/// Rewrite towards `next_hop` on `tx_if` if its MAC is known, otherwise ARP for it.
fn adjacency_to(
    interfaces: &[InterfaceConfig],
    neighbors: &Neighbors,
    tx_if: IfIndex,
    next_hop: Ipv4Addr,
) -> Adjacency {
    let own_mac = interface_at(interfaces, tx_if).map(|c| c.mac);
    match (neighbors.get(&(tx_if, next_hop)), own_mac) {
        (Some(neighbor), Some(src)) => Adjacency::Rewrite {
            tx_if,
            next_hop,
            rewrite: Adjacency::ethernet_rewrite(neighbor.mac, src),
        },
        _ => Adjacency::Glean {
            tx_if,
            next_hop: Some(next_hop),
        },
    }
}

struct Resolver<'a> {
    table: &'a BTreeMap<Ipv4Prefix, (RouteSource, Candidate)>,
    interfaces: &'a [InterfaceConfig],
    neighbors: &'a Neighbors,
    done: HashMap<Ipv4Prefix, Result<Adjacency, String>>,
}

impl<'a> Resolver<'a> {
    /// What the route `prefix via next_hop` forwards with: whatever the longest other
    /// prefix covering `next_hop` forwards with (towards `next_hop` itself when that
    /// prefix is an attached subnet).
    fn resolve(
        &mut self,
        prefix: Ipv4Prefix,
        next_hop: Ipv4Addr,
        depth: usize,
    ) -> Result<Adjacency, String> {
        if let Some(known) = self.done.get(&prefix) {
            return known.clone();
        }
        if depth > MAX_RECURSION {
            return Err(format!(
                "next hop {next_hop} resolves through more than {MAX_RECURSION} recursive routes (a loop?)"
            ));
        }
        let result = match self.cover(prefix, next_hop) {
            None => Err(format!("no route to next hop {next_hop}")),
            Some((cover, Candidate::Ready(adjacency))) => match adjacency {
                Adjacency::Glean {
                    tx_if,
                    next_hop: None,
                } => Ok(adjacency_to(
                    self.interfaces,
                    self.neighbors,
                    *tx_if,
                    next_hop,
                )),
                Adjacency::Receive { .. } => Err(format!(
                    "next hop {next_hop} is one of our own addresses ({cover})"
                )),
                other => Ok(other.clone()),
            },
            Some((cover, Candidate::Recursive(cover_next_hop))) => {
                let cover_next_hop = *cover_next_hop;
                self.resolve(cover, cover_next_hop, depth + 1)
                    .map_err(|why| {
                        format!(
                            "next hop {next_hop} resolves via {cover}, which is unresolved: {why}"
                        )
                    })
            }
        };
        if depth == 0 || result.is_ok() {
            self.done.insert(prefix, result.clone());
        }
        result
    }

    /// The longest prefix other than `excluded` that contains `ip`.
    fn cover(&self, excluded: Ipv4Prefix, ip: Ipv4Addr) -> Option<(Ipv4Prefix, &'a Candidate)> {
        let table = self.table;
        (0..=32u8).rev().find_map(|len| {
            let prefix = Ipv4Prefix::new(ip, len)?.network();
            if prefix == excluded {
                return None;
            }
            table.get(&prefix).map(|(_, candidate)| (prefix, candidate))
        })
    }
}
