//! The control-plane state the CLI edits, and the immutable [`Snapshot`] workers read.
//!
//! [`ControlPlane`] is owned by the main lcore. Every operation validates first and changes
//! nothing when it returns an error, so a bad command leaves the node as it was. After a
//! change, [`ControlPlane::snapshot`] resolves the routes and builds a new [`Fib`]; the
//! caller publishes it and workers pick it up between bursts.
//!
//! Behaviour that follows VPP:
//! - Interfaces are created admin-down and get indices from 1 in creation order.
//! - An admin-down interface contributes nothing: its subnet and address routes and its
//!   neighbours' /32s leave the FIB (VPP removes interface routes on admin-down), and a
//!   configured route through it resolves to [`Adjacency::Drop`](crate::fib::Adjacency::Drop) (VPP's unresolved path
//!   contributes a drop) rather than falling through to a shorter prefix.
//! - A route via a next hop without an interface is recursive: it resolves through the
//!   other installed prefixes and forwards as its cover does; if nothing covers the next
//!   hop it is not installed and `show ip fib` says why.
//! - A neighbour (static or learned) on one of its interface's subnets, or under a route
//!   attached to it, becomes a /32 with a rewrite (VPP's adj-fib). Learned entries never
//!   replace static ones; admin-down forgets them, and so does deleting the address whose
//!   subnet had them on the link.
//! - Source priority for one prefix: special > interface > configured route > neighbour.

mod resolve;
mod show;

pub use show::{format_fib, format_fib_summary, format_interface_addresses, format_neighbors};

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::acl::AclConfig;
use crate::fib::Fib;
use crate::nat44::Nat44Config;
use crate::node::InputKind;
use crate::types::{IfIndex, Ipv4Prefix, MacAddr};
use std::sync::Arc;

/// The smallest and largest L3 MTU an interface accepts (RFC 791's 68 up to jumbo frames).
pub const MTU_RANGE: std::ops::RangeInclusive<u16> = 68..=9000;
/// The MTU of a new interface: Ethernet's.
pub const DEFAULT_MTU: u16 = 1500;

/// One interface as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceConfig {
    pub index: IfIndex,
    pub name: String,
    /// The DPDK device it is bound to (e.g. `net_tap0`).
    pub device: String,
    pub mac: MacAddr,
    pub addresses: Vec<Ipv4Prefix>,
    pub mtu: u16,
    pub admin_up: bool,
    pub input_kind: InputKind,
}

/// Where a configured route sends packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteTarget {
    /// `via 172.30.1.2 [tap0]`; without an interface the next hop resolves recursively.
    Via {
        next_hop: Ipv4Addr,
        interface: Option<IfIndex>,
    },
    /// `via tap0`: the prefix is attached to the interface (ARP for each destination).
    Attached(IfIndex),
    /// `drop`.
    Drop,
}

/// A neighbour (ARP entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbor {
    pub if_index: IfIndex,
    pub ip: Ipv4Addr,
    pub mac: MacAddr,
    pub is_static: bool,
    /// `no-fib-entry`: its MAC serves routes through it, but it gets no /32 of its own
    /// (Contiv's pod entries, whose /32 routes are configured).
    pub no_fib_entry: bool,
    /// When it was last added or changed, since the control plane started.
    pub updated: Duration,
}

/// How a neighbour is configured: `static`, `no-fib-entry`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NeighborFlags {
    pub is_static: bool,
    pub no_fib_entry: bool,
}

/// What the workers read: everything a packet's processing needs, immutable.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Increases by one with every snapshot the control plane builds.
    pub epoch: u64,
    /// Indexed by `IfIndex - 1`.
    pub interfaces: Vec<InterfaceConfig>,
    pub fib: Fib,
    /// The ACLs in force; shared between snapshots until the ACL configuration changes.
    pub acl: Arc<AclConfig>,
    /// The NAT44 configuration; shared the same way.
    pub nat: Arc<Nat44Config>,
    /// The routes straight onto an interface, whose destinations are on its link.
    attached: Vec<(Ipv4Prefix, IfIndex)>,
    /// The `no-fib-entry` neighbours, which have no /32 to read their MAC from, sorted
    /// by interface and address.
    unrouted_neighbors: Vec<(IfIndex, Ipv4Addr, MacAddr)>,
}

impl Snapshot {
    pub fn interface(&self, i: IfIndex) -> Option<&InterfaceConfig> {
        interface_at(&self.interfaces, i)
    }

    pub fn interface_by_name(&self, name: &str) -> Option<&InterfaceConfig> {
        self.interfaces.iter().find(|c| c.name == name)
    }

    /// The interface's name, or `if<N>` for an index no interface has.
    pub fn interface_name(&self, i: IfIndex) -> String {
        interface_name(&self.interfaces, i)
    }

    /// The MAC of `ip` if it is a `no-fib-entry` neighbour on interface `i` (the others
    /// are in the FIB as /32s).
    pub fn unrouted_neighbor(&self, i: IfIndex, ip: Ipv4Addr) -> Option<MacAddr> {
        let at = self
            .unrouted_neighbors
            .binary_search_by(|&(n, a, _)| (n, a).cmp(&(i, ip)))
            .ok()?;
        self.unrouted_neighbors.get(at).map(|&(_, _, mac)| mac)
    }

    /// Whether `ip` may be a neighbour on interface `i` (up): a host on one of its
    /// subnets or under a route attached to it; not one of its own addresses.
    pub fn on_link(&self, i: IfIndex, ip: Ipv4Addr) -> bool {
        resolve::is_link_host(&self.interfaces, &self.attached, i, ip)
    }
}

fn interface_at(interfaces: &[InterfaceConfig], i: IfIndex) -> Option<&InterfaceConfig> {
    i.as_usize()
        .checked_sub(1)
        .and_then(|slot| interfaces.get(slot))
}

fn interface_name(interfaces: &[InterfaceConfig], i: IfIndex) -> String {
    interface_at(interfaces, i).map_or_else(|| format!("if{}", i.0), |c| c.name.clone())
}

/// The control-plane state: interfaces, configured routes and neighbours.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlPlane {
    interfaces: Vec<InterfaceConfig>,
    /// Keyed by the prefix with host bits cleared.
    routes: BTreeMap<Ipv4Prefix, RouteTarget>,
    neighbors: BTreeMap<(IfIndex, Ipv4Addr), Neighbor>,
    epoch: u64,
    started: Instant,
}

impl Default for ControlPlane {
    fn default() -> Self {
        ControlPlane::new()
    }
}

impl ControlPlane {
    pub fn new() -> Self {
        ControlPlane {
            interfaces: Vec::new(),
            routes: BTreeMap::new(),
            neighbors: BTreeMap::new(),
            epoch: 0,
            started: Instant::now(),
        }
    }

    /// Adds an interface (admin-down, MTU [`DEFAULT_MTU`], no addresses); indices count
    /// from 1 in creation order.
    pub fn add_interface(
        &mut self,
        name: &str,
        device: &str,
        mac: MacAddr,
        kind: InputKind,
    ) -> Result<IfIndex, String> {
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "interface name '{name}': must be non-empty, without spaces"
            ));
        }
        if self.interfaces.iter().any(|c| c.name == name) {
            return Err(format!("interface '{name}' already exists"));
        }
        if let Some(other) = self.interfaces.iter().find(|c| c.device == device) {
            return Err(format!(
                "device '{device}' is already bound to interface '{}'",
                other.name
            ));
        }
        let index = u16::try_from(self.interfaces.len() + 1)
            .map(IfIndex)
            .map_err(|_| format!("interface '{name}': too many interfaces"))?;
        self.interfaces.push(InterfaceConfig {
            index,
            name: name.to_string(),
            device: device.to_string(),
            mac,
            addresses: Vec::new(),
            mtu: DEFAULT_MTU,
            admin_up: false,
            input_kind: kind,
        });
        Ok(index)
    }

    /// The index of the interface called `name`.
    pub fn interface_index(&self, name: &str) -> Result<IfIndex, String> {
        self.interfaces
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.index)
            .ok_or_else(|| self.unknown_interface(name))
    }

    fn unknown_interface(&self, name: &str) -> String {
        let known: Vec<&str> = self.interfaces.iter().map(|c| c.name.as_str()).collect();
        if known.is_empty() {
            format!("unknown interface '{name}' (no interfaces configured)")
        } else {
            format!("unknown interface '{name}' (known: {})", known.join(", "))
        }
    }

    fn check_index(&self, i: IfIndex) -> Result<&InterfaceConfig, String> {
        interface_at(&self.interfaces, i).ok_or_else(|| {
            let known: Vec<String> = self
                .interfaces
                .iter()
                .map(|c| format!("{} = {}", c.index, c.name))
                .collect();
            format!(
                "unknown interface index {} (known: {})",
                i.0,
                known.join(", ")
            )
        })
    }

    fn interface_mut(&mut self, name: &str) -> Result<&mut InterfaceConfig, String> {
        let index = self.interface_index(name)?;
        let slot = index.as_usize() - 1;
        self.interfaces
            .get_mut(slot)
            .ok_or_else(|| format!("unknown interface '{name}'"))
    }

    /// Admin-down also forgets the neighbours ARP taught on the interface (VPP flushes
    /// them), so that a peer whose MAC changed is asked again once it is up.
    pub fn set_state(&mut self, name: &str, up: bool) -> Result<(), String> {
        let interface = self.interface_mut(name)?;
        interface.admin_up = up;
        let if_index = interface.index;
        if !up {
            self.neighbors
                .retain(|&(i, _), n| i != if_index || n.is_static);
        }
        Ok(())
    }

    pub fn set_mac(&mut self, name: &str, mac: MacAddr) -> Result<(), String> {
        let interface = self.interface_mut(name)?;
        // Every frame podfwd sends from the interface carries it as its source. A
        // multicast one is taken: Contiv gives its host taps 01:23:45:67:89:42, and the
        // spec's frames carry it; but no sender can be all-zero or broadcast.
        if mac == MacAddr([0; 6]) || mac == MacAddr([0xff; 6]) {
            return Err(format!(
                "set interface mac address {name} {mac}: not a MAC an interface can send from"
            ));
        }
        interface.mac = mac;
        Ok(())
    }

    pub fn set_mtu(&mut self, name: &str, mtu: u16) -> Result<(), String> {
        let interface = self.interface_mut(name)?;
        if !MTU_RANGE.contains(&mtu) {
            return Err(format!(
                "mtu {mtu} on {name}: must be {}..={}",
                MTU_RANGE.start(),
                MTU_RANGE.end()
            ));
        }
        interface.mtu = mtu;
        Ok(())
    }

    /// Adds `p` (address and subnet length) to the interface. Refused: a prefix length
    /// outside 1..=32, an address that is not unicast, an address already configured
    /// anywhere, and a subnet overlapping another interface's subnet.
    pub fn add_address(&mut self, name: &str, p: Ipv4Prefix) -> Result<(), String> {
        let index = self.interface_index(name)?;
        if p.len == 0 || p.len > 32 {
            return Err(format!("address {p}: length must be 1..=32"));
        }
        if let Some(why) = not_unicast(p.addr) {
            return Err(format!("address {p}: {why}"));
        }
        for other in &self.interfaces {
            for existing in &other.addresses {
                if existing.addr == p.addr {
                    return Err(format!(
                        "address {}: already configured on {} as {existing}",
                        p.addr, other.name
                    ));
                }
                let overlaps =
                    existing.network().contains(p.addr) || p.network().contains(existing.addr);
                if other.index != index && overlaps {
                    return Err(format!(
                        "address {p} on {name} conflicts with {existing} on {}",
                        other.name
                    ));
                }
            }
        }
        self.interface_mut(name)?.addresses.push(p);
        Ok(())
    }

    /// Removes exactly `p` (address and length) from the interface.
    pub fn del_address(&mut self, name: &str, p: Ipv4Prefix) -> Result<(), String> {
        let interface = self.interface_mut(name)?;
        match interface.addresses.iter().position(|a| *a == p) {
            Some(at) => {
                interface.addresses.remove(at);
                // The learnt neighbours the subnet held go with it (as VPP's), unless
                // another subnet or an attached route still has them on the link.
                let if_index = interface.index;
                self.forget_off_link(if_index, p);
                Ok(())
            }
            None => {
                let has: Vec<String> = interface.addresses.iter().map(|a| a.to_string()).collect();
                let has = if has.is_empty() {
                    "none".to_string()
                } else {
                    has.join(", ")
                };
                Err(format!("interface {name} has no address {p} (has: {has})"))
            }
        }
    }

    /// Adds a route. The same route again is accepted and changes nothing; a different
    /// target for a prefix that has a route is refused (no ECMP): delete it first.
    pub fn add_route(&mut self, prefix: Ipv4Prefix, target: RouteTarget) -> Result<(), String> {
        if prefix.len > 32 {
            return Err(format!("prefix {prefix}: length must be 0..=32"));
        }
        match target {
            RouteTarget::Via {
                next_hop,
                interface,
            } => {
                if let Some(why) = not_unicast(next_hop) {
                    return Err(format!("route {prefix} via {next_hop}: next hop {why}"));
                }
                if let Some(i) = interface {
                    self.check_index(i)?;
                }
            }
            RouteTarget::Attached(i) => {
                self.check_index(i)?;
            }
            RouteTarget::Drop => {}
        }
        let key = prefix.network();
        if let Some(existing) = self.routes.get(&key) {
            if self.same_path(existing, &target) {
                return Ok(());
            }
            return Err(format!(
                "route {key} already exists ({}): podfwd keeps one path per prefix (no \
                 ECMP); delete it first",
                self.describe_target(existing)
            ));
        }
        self.routes.insert(key, target);
        Ok(())
    }

    /// Deletes the route for `prefix`; with a target, only if the route has that target.
    pub fn del_route(
        &mut self,
        prefix: Ipv4Prefix,
        target: Option<RouteTarget>,
    ) -> Result<(), String> {
        let key = prefix.network();
        let Some(existing) = self.routes.get(&key) else {
            return Err(format!("no route {key} to delete"));
        };
        if let Some(wanted) = target {
            if !self.same_path(existing, &wanted) {
                return Err(format!(
                    "route {key} is {}, not {}",
                    self.describe_target(existing),
                    self.describe_target(&wanted)
                ));
            }
        }
        if let Some(RouteTarget::Attached(if_index)) = self.routes.remove(&key) {
            self.forget_off_link(if_index, key);
        }
        Ok(())
    }

    /// Forgets the learnt neighbours of `if_index` under `gone` (a subnet or an attached
    /// route just removed) that nothing else keeps on the interface's link.
    fn forget_off_link(&mut self, if_index: IfIndex, gone: Ipv4Prefix) {
        let attached = resolve::attached_routes(&self.routes);
        let interfaces = &self.interfaces;
        self.neighbors.retain(|&(i, ip), n| {
            i != if_index
                || n.is_static
                || !gone.network().contains(ip)
                || resolve::is_link_host(interfaces, &attached, i, ip)
        });
    }

    /// Whether `given` names the path of the configured `existing` target: the same
    /// target, or the same next hop where one side names no interface and the other
    /// names the interface on whose subnet the next hop is. `show ip fib` prints a route
    /// added as `via A` with the interface it resolves through (`via A tap0`), so what
    /// it shows must also delete it.
    fn same_path(&self, existing: &RouteTarget, given: &RouteTarget) -> bool {
        let on_subnet = |next_hop: Ipv4Addr, i: IfIndex| {
            interface_at(&self.interfaces, i)
                .is_some_and(|c| c.addresses.iter().any(|a| a.network().contains(next_hop)))
        };
        match (existing, given) {
            _ if existing == given => true,
            (
                RouteTarget::Via {
                    next_hop: a,
                    interface: None,
                },
                RouteTarget::Via {
                    next_hop: b,
                    interface: Some(i),
                },
            )
            | (
                RouteTarget::Via {
                    next_hop: a,
                    interface: Some(i),
                },
                RouteTarget::Via {
                    next_hop: b,
                    interface: None,
                },
            ) => a == b && on_subnet(*a, *i),
            _ => false,
        }
    }

    /// `via 172.30.1.2 tap0`, `via tap0`, `drop`: the CLI's words for a target.
    pub fn describe_target(&self, target: &RouteTarget) -> String {
        match target {
            RouteTarget::Via {
                next_hop,
                interface: None,
            } => format!("via {next_hop}"),
            RouteTarget::Via {
                next_hop,
                interface: Some(i),
            } => {
                format!("via {next_hop} {}", interface_name(&self.interfaces, *i))
            }
            RouteTarget::Attached(i) => format!("via {}", interface_name(&self.interfaces, *i)),
            RouteTarget::Drop => "drop".to_string(),
        }
    }

    /// Adds or replaces a neighbour. A dynamic entry does not replace a static one.
    pub fn add_neighbor(
        &mut self,
        name: &str,
        ip: Ipv4Addr,
        mac: MacAddr,
        is_static: bool,
    ) -> Result<(), String> {
        let flags = NeighborFlags {
            is_static,
            no_fib_entry: false,
        };
        self.add_neighbor_with(name, ip, mac, flags)
    }

    /// `add_neighbor`, with every flag `set ip neighbor` takes.
    pub fn add_neighbor_with(
        &mut self,
        name: &str,
        ip: Ipv4Addr,
        mac: MacAddr,
        flags: NeighborFlags,
    ) -> Result<(), String> {
        let is_static = flags.is_static;
        let if_index = self.interface_index(name)?;
        if let Some(why) = not_unicast(ip) {
            return Err(format!("neighbor {ip} on {name}: {why}"));
        }
        if mac.is_multicast() {
            return Err(format!(
                "neighbor {ip} on {name}: MAC {mac} is a multicast address"
            ));
        }
        if let Some(existing) = self.neighbors.get(&(if_index, ip)) {
            if existing.is_static && !is_static {
                return Err(format!(
                    "neighbor {ip} on {name} is static ({}); delete it first",
                    existing.mac
                ));
            }
        }
        self.put_neighbor(if_index, ip, mac, flags);
        Ok(())
    }

    fn put_neighbor(
        &mut self,
        if_index: IfIndex,
        ip: Ipv4Addr,
        mac: MacAddr,
        flags: NeighborFlags,
    ) {
        let updated = self.started.elapsed();
        let neighbor = Neighbor {
            if_index,
            ip,
            mac,
            is_static: flags.is_static,
            no_fib_entry: flags.no_fib_entry,
            updated,
        };
        self.neighbors.insert((if_index, ip), neighbor);
    }

    pub fn del_neighbor(&mut self, name: &str, ip: Ipv4Addr) -> Result<(), String> {
        let if_index = self.interface_index(name)?;
        match self.neighbors.remove(&(if_index, ip)) {
            Some(_) => Ok(()),
            None => Err(format!("no neighbor {ip} on {name} to delete")),
        }
    }

    /// Records what ARP taught us. Ignored (returns false): an unknown or admin-down
    /// interface, a sender not on its link (its subnets and the routes attached to it), a
    /// non-unicast address or MAC, a static entry for that address, and a MAC we already
    /// had. Returns whether the neighbour table changed.
    pub fn learn_neighbor(&mut self, if_index: IfIndex, ip: Ipv4Addr, mac: MacAddr) -> bool {
        let attached = resolve::attached_routes(&self.routes);
        let on_link = resolve::is_link_host(&self.interfaces, &attached, if_index, ip);
        if !on_link || not_unicast(ip).is_some() || mac.is_multicast() {
            return false;
        }
        match self.neighbors.get_mut(&(if_index, ip)) {
            Some(existing) if existing.is_static => false,
            Some(existing) if existing.mac == mac => {
                existing.updated = self.started.elapsed();
                false
            }
            existing => {
                // A new MAC keeps the entry's no-fib-entry.
                let flags = NeighborFlags {
                    is_static: false,
                    no_fib_entry: existing.is_some_and(|n| n.no_fib_entry),
                };
                self.put_neighbor(if_index, ip, mac, flags);
                true
            }
        }
    }

    /// Resolves the routes and builds the next snapshot; the epoch increases by one.
    pub fn snapshot(&mut self) -> Snapshot {
        self.epoch += 1;
        Snapshot {
            epoch: self.epoch,
            interfaces: self.interfaces.clone(),
            fib: resolve::build_fib(&self.interfaces, &self.routes, &self.neighbors),
            acl: Arc::default(),
            nat: Arc::default(),
            attached: resolve::attached_routes(&self.routes),
            // The map's order is (interface, address): sorted already.
            unrouted_neighbors: self
                .neighbors
                .values()
                .filter(|n| n.no_fib_entry)
                .map(|n| (n.if_index, n.ip, n.mac))
                .collect(),
        }
    }

    /// The epoch of the last snapshot built (0 before the first).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn interfaces(&self) -> &[InterfaceConfig] {
        &self.interfaces
    }

    pub fn interface(&self, i: IfIndex) -> Option<&InterfaceConfig> {
        interface_at(&self.interfaces, i)
    }

    /// Configured routes by prefix (host bits cleared).
    pub fn routes(&self) -> impl Iterator<Item = (Ipv4Prefix, RouteTarget)> + '_ {
        self.routes.iter().map(|(p, t)| (*p, *t))
    }

    /// Neighbours by interface, then address.
    pub fn neighbors(&self) -> impl Iterator<Item = &Neighbor> + '_ {
        self.neighbors.values()
    }

    pub fn neighbor(&self, if_index: IfIndex, ip: Ipv4Addr) -> Option<&Neighbor> {
        self.neighbors.get(&(if_index, ip))
    }
}

/// Why `ip` cannot be an interface address, neighbour or next hop, if it cannot.
pub(crate) fn not_unicast(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        Some("0.0.0.0 is not a unicast address")
    } else if ip.is_multicast() {
        Some("is a multicast address")
    } else if ip.is_broadcast() || ip.octets()[0] >= 240 {
        Some("is a reserved (class E) or broadcast address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
