//! NAT44's control plane: [`Nat44Table`] takes validated commands on the main lcore and
//! builds the immutable [`Nat44Config`] that workers read.

use std::net::Ipv4Addr;
use std::sync::Arc;

use hashbrown::{HashMap, HashSet};

use super::types::{
    IdentityMapping, LbLocal, LbStaticMapping, NatInterfaceRole, NatProtocol, NatTimeouts,
    StaticMapping, TwiceNat,
};
use crate::types::IfIndex;

/// Default session limit per worker: Contiv's `max translations per user` is per user;
/// this bounds the whole table.
pub const DEFAULT_SESSION_LIMIT: u32 = 1 << 20;

/// A mapping as the data plane uses it: static, load-balanced and identity mappings in
/// one shape, the locals with prefix sums of their probabilities for weighted choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub proto: NatProtocol,
    pub external_addr: Ipv4Addr,
    /// `None`: address-only (every port and protocol of the address).
    pub external_port: Option<u16>,
    pub locals: Vec<LbLocal>,
    /// `prefix_sums[i]` = sum of `locals[..=i].probability`; empty unless load-balanced.
    pub prefix_sums: Vec<u32>,
    pub twice_nat: TwiceNat,
    pub out2in_only: bool,
    pub affinity_secs: u32,
    pub kind: MappingKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MappingKind {
    Static,
    LoadBalanced,
    Identity,
}

impl Mapping {
    pub fn is_address_only(&self) -> bool {
        self.external_port.is_none()
    }

    /// The local end a session from outside takes: `chosen` (address and port), but an
    /// address-only mapping keeps the port the packet came to (`packet_port`).
    pub fn local_end(&self, chosen: (Ipv4Addr, u16), packet_port: u16) -> (Ipv4Addr, u16) {
        if self.is_address_only() {
            (chosen.0, packet_port)
        } else {
            chosen
        }
    }

    /// Whether a session of this mapping from `client` to the local end `local` is
    /// twice-NATed (its source too taken from the twice-NAT pool): always, never, or
    /// (self-twice-nat) only when the client is that local end.
    pub fn twice_nat_for(&self, client: Ipv4Addr, local: Ipv4Addr) -> bool {
        match self.twice_nat {
            TwiceNat::No => false,
            TwiceNat::TwiceNat => true,
            TwiceNat::SelfTwiceNat => client == local,
        }
    }
}

/// The key a mapping is found by from the outside (or, for SNAT, from the inside).
type PortKey = (Ipv4Addr, u16, NatProtocol);

/// The configuration snapshot a worker reads; built by [`Nat44Table::snapshot`].
#[derive(Debug, Default)]
pub struct Nat44Config {
    pub(crate) pool: Vec<Ipv4Addr>,
    pub(crate) twice_nat_pool: Vec<Ipv4Addr>,
    pub(crate) mappings: Vec<Mapping>,
    /// (external addr, port, proto) -> index into `mappings`.
    pub(crate) by_external: HashMap<PortKey, u32>,
    /// Address-only mappings by external address.
    pub(crate) by_external_addr: HashMap<Ipv4Addr, u32>,
    /// Static (non-LB) and identity mappings by local (addr, port, proto), for SNAT.
    pub(crate) by_local: HashMap<PortKey, u32>,
    pub(crate) by_local_addr: HashMap<Ipv4Addr, u32>,
    /// Addresses that send an in+out interface's packets to out2in: pool addresses and
    /// the externals of non-identity mappings (contiv-dataplane.md §5.3, classify).
    pub(crate) outside_addrs: HashSet<Ipv4Addr>,
    /// The local addresses of non-identity mappings: the inside ends whose flows NAT44
    /// translates from the inside.
    pub(crate) local_addrs: HashSet<Ipv4Addr>,
    /// The ends of the mappings that translate (identity mappings do not), for
    /// [`Nat44Config::port_end`] and [`Nat44Config::address_end`] on every packet when
    /// several workers run: tables of packed keys, built once per snapshot.
    port_externals: KeySet,
    port_locals: KeySet,
    address_externals: KeySet,
    address_locals: KeySet,
    /// The pool and twice-NAT pool addresses, for [`Nat44Config::is_pool_address`].
    pool_table: KeySet,
    pub(crate) roles: Vec<NatInterfaceRole>,
    pub forwarding: bool,
    pub timeouts: NatTimeouts,
    pub session_limit: u32,
}

impl Nat44Config {
    /// No interface has a NAT44 role: the ingress NAT nodes have nothing to do.
    pub fn interface_roles_empty(&self) -> bool {
        self.roles.iter().all(|r| r.is_none())
    }

    /// Some interface runs nat44-in2out-output.
    pub fn has_output_feature(&self) -> bool {
        self.roles.iter().any(|r| r.output_feature)
    }

    pub fn role(&self, ifindex: IfIndex) -> NatInterfaceRole {
        self.roles
            .get(ifindex.as_usize())
            .copied()
            .unwrap_or_default()
    }

    pub fn pool(&self) -> &[Ipv4Addr] {
        &self.pool
    }

    pub fn twice_nat_pool(&self) -> &[Ipv4Addr] {
        &self.twice_nat_pool
    }

    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// The mapping a packet to `addr:port` (proto) from the outside hits: address and
    /// port first, then address-only.
    pub fn mapping_by_external(
        &self,
        addr: Ipv4Addr,
        port: u16,
        proto: NatProtocol,
    ) -> Option<(u32, &Mapping)> {
        let index = self
            .by_external
            .get(&(addr, port, proto))
            .or_else(|| self.by_external_addr.get(&addr))?;
        self.mappings.get(*index as usize).map(|m| (*index, m))
    }

    /// The static or identity mapping whose local is `addr:port` (SNAT of its traffic).
    pub fn mapping_by_local(
        &self,
        addr: Ipv4Addr,
        port: u16,
        proto: NatProtocol,
    ) -> Option<&Mapping> {
        let index = self
            .by_local
            .get(&(addr, port, proto))
            .or_else(|| self.by_local_addr.get(&addr))?;
        self.mappings.get(*index as usize)
    }

    /// Whether a packet to `addr` arriving on an in+out interface goes to out2in when it
    /// has no session.
    pub fn is_outside_address(&self, addr: Ipv4Addr) -> bool {
        self.outside_addrs.contains(&addr)
    }

    /// Whether a fragment from `src` to `dst` may belong to a flow NAT44 translates at
    /// ingress (without reassembly it cannot be translated): one to a pool address or a
    /// mapping's external, or from a mapping's local end. Any other fragment's flow has
    /// no session and makes none, so it is treated as such a flow is.
    pub fn may_translate_fragment(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        self.outside_addrs.contains(&dst) || self.local_addrs.contains(&src)
    }

    #[inline]
    pub fn is_pool_address(&self, addr: Ipv4Addr) -> bool {
        self.pool_table.contains(address_key(addr))
    }

    /// Whether `addr:port` (proto) is an end of a translating mapping with ports: a
    /// service's VIP and port (external), or one of its endpoints (local).
    #[inline]
    pub fn port_end(&self, addr: Ipv4Addr, port: u16, proto: NatProtocol) -> MappingEnd {
        MappingEnd::of(
            port_key(addr, port, proto),
            &self.port_externals,
            &self.port_locals,
        )
    }

    /// Whether `addr` is an end of a translating address-only mapping (1:1 NAT).
    #[inline]
    pub fn address_end(&self, addr: Ipv4Addr) -> MappingEnd {
        MappingEnd::of(
            address_key(addr),
            &self.address_externals,
            &self.address_locals,
        )
    }
}

/// Which end of a mapping an address (and port) is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MappingEnd {
    No,
    External,
    Local,
}

impl MappingEnd {
    #[inline]
    fn of(key: u64, externals: &KeySet, locals: &KeySet) -> MappingEnd {
        if externals.contains(key) {
            MappingEnd::External
        } else if locals.contains(key) {
            MappingEnd::Local
        } else {
            MappingEnd::No
        }
    }
}

/// A set of nonzero `u64` keys looked up once or twice per packet: open addressing with
/// linear probing, at most a quarter full, built once per snapshot. A lookup is a
/// multiply, a load and a compare or two, where a general hash set hashes the fields of
/// a tuple one by one.
#[derive(Clone, Debug, Default)]
struct KeySet {
    slots: Vec<u64>,
}

impl KeySet {
    fn build(keys: impl ExactSizeIterator<Item = u64>) -> KeySet {
        if keys.len() == 0 {
            return KeySet::default();
        }
        let mut slots = vec![0u64; (keys.len() * 4).next_power_of_two().max(16)];
        let mask = slots.len() - 1;
        for key in keys {
            let mut i = KeySet::slot(key, mask);
            while slots[i] != 0 && slots[i] != key {
                i = (i + 1) & mask;
            }
            slots[i] = key;
        }
        KeySet { slots }
    }

    #[inline]
    fn slot(key: u64, mask: usize) -> usize {
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask
    }

    #[inline]
    fn contains(&self, key: u64) -> bool {
        let mask = self.slots.len().wrapping_sub(1);
        let mut i = KeySet::slot(key, mask);
        // At most a quarter full: a probe ends at an empty slot soon.
        while let Some(&slot) = self.slots.get(i) {
            if slot == key {
                return true;
            }
            if slot == 0 {
                return false;
            }
            i = (i + 1) & mask;
        }
        false
    }
}

/// Nonzero for every end: the protocol is stored plus one.
fn port_key(addr: Ipv4Addr, port: u16, proto: NatProtocol) -> u64 {
    (u64::from(addr.to_bits()) << 24) | (u64::from(port) << 8) | (proto.index() as u64 + 1)
}

fn address_key(addr: Ipv4Addr) -> u64 {
    u64::from(addr.to_bits()) | 1 << 32
}

/// NAT44's configuration as commands edit it. Every operation validates first and changes
/// nothing when it returns an error.
#[derive(Clone, Debug, Default)]
pub struct Nat44Table {
    pool: Vec<Ipv4Addr>,
    twice_nat_pool: Vec<Ipv4Addr>,
    static_mappings: Vec<StaticMapping>,
    lb_mappings: Vec<LbStaticMapping>,
    identity_mappings: Vec<IdentityMapping>,
    roles: Vec<(IfIndex, NatInterfaceRole)>,
    /// `nat44 add interface address`: interfaces whose first address is a pool address
    /// (twice-nat: of the twice-nat pool), whatever it is at the time.
    interface_addresses: Vec<(IfIndex, bool)>,
    forwarding: bool,
    timeouts: NatTimeouts,
    session_limit: Option<u32>,
}

/// Most addresses one `nat44 add address A - B` may add; a typo like 10.0.0.1 - 11.0.0.1
/// should not allocate port bitmaps for 16M addresses.
pub const MAX_RANGE_ADDRESSES: u32 = 1024;

impl Nat44Table {
    pub fn new() -> Self {
        Nat44Table::default()
    }

    /// `nat44 add address A[ - B] [twice-nat]`.
    pub fn add_addresses(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
        twice_nat: bool,
    ) -> Result<(), String> {
        let range = address_range(first, last)?;
        for addr in range.clone() {
            let addr = Ipv4Addr::from(addr);
            unicast("nat44 add address", addr)?;
            if self.pool.contains(&addr) || self.twice_nat_pool.contains(&addr) {
                return Err(format!("address {addr} is already in a NAT44 pool"));
            }
        }
        let pool = if twice_nat {
            &mut self.twice_nat_pool
        } else {
            &mut self.pool
        };
        pool.extend(range.map(Ipv4Addr::from));
        Ok(())
    }

    /// `nat44 del address A[ - B] [twice-nat]`.
    pub fn del_addresses(
        &mut self,
        first: Ipv4Addr,
        last: Ipv4Addr,
        twice_nat: bool,
    ) -> Result<(), String> {
        let range = address_range(first, last)?;
        let (pool, name) = if twice_nat {
            (&mut self.twice_nat_pool, "twice-nat pool")
        } else {
            (&mut self.pool, "pool")
        };
        for addr in range.clone() {
            let addr = Ipv4Addr::from(addr);
            if !pool.contains(&addr) {
                return Err(format!("address {addr} is not in the NAT44 {name}"));
            }
        }
        pool.retain(|a| !range.contains(&u32::from(*a)));
        Ok(())
    }

    /// `nat44 add interface address NAME [twice-nat]`, NAME being `interface`.
    pub fn add_interface_address(
        &mut self,
        interface: IfIndex,
        twice_nat: bool,
        name: &str,
    ) -> Result<(), String> {
        if let Some((_, twice)) = self.interface_addresses.iter().find(|a| a.0 == interface) {
            let pool = if *twice { "twice-nat pool" } else { "pool" };
            return Err(format!(
                "interface {name}: its address is already a NAT44 {pool} address"
            ));
        }
        self.interface_addresses.push((interface, twice_nat));
        Ok(())
    }

    /// `nat44 add interface address NAME [twice-nat] del`.
    pub fn del_interface_address(
        &mut self,
        interface: IfIndex,
        twice_nat: bool,
        name: &str,
    ) -> Result<(), String> {
        let before = self.interface_addresses.len();
        self.interface_addresses
            .retain(|&(i, twice)| (i, twice) != (interface, twice_nat));
        if self.interface_addresses.len() == before {
            let pool = if twice_nat { "twice-nat pool" } else { "pool" };
            return Err(format!(
                "interface {name}: its address is not a NAT44 {pool} address"
            ));
        }
        Ok(())
    }

    pub fn interface_addresses(&self) -> &[(IfIndex, bool)] {
        &self.interface_addresses
    }

    /// `nat44 add static mapping ...`.
    pub fn add_static_mapping(&mut self, mapping: StaticMapping) -> Result<(), String> {
        for addr in [mapping.local.0, mapping.external.0] {
            unicast(
                &format!("static mapping {}", describe_static(&mapping)),
                addr,
            )?;
        }
        if mapping.local.1.is_some() != mapping.external.1.is_some() {
            return Err(format!(
                "static mapping {}: local and external must both have a port or neither",
                describe_static(&mapping)
            ));
        }
        if mapping.proto == NatProtocol::Icmp && mapping.external.1.is_some() {
            return Err(format!(
                "static mapping {}: icmp mappings are address-only",
                describe_static(&mapping)
            ));
        }
        self.check_external_free(mapping.external.0, mapping.external.1, mapping.proto)?;
        self.static_mappings.push(mapping);
        Ok(())
    }

    /// `nat44 del static mapping ...`: the mapping must exist as given.
    pub fn del_static_mapping(&mut self, mapping: &StaticMapping) -> Result<(), String> {
        let position = self
            .static_mappings
            .iter()
            .position(|m| {
                // An address-only mapping's protocol means nothing (it maps them all).
                (m.proto == mapping.proto || m.local.1.is_none())
                    && m.local == mapping.local
                    && m.external == mapping.external
            })
            .ok_or_else(|| format!("static mapping {} does not exist", describe_static(mapping)))?;
        // What a deletion names beyond the key must be the mapping's: a line that says
        // more than the mapping has was likely meant for another one.
        let existing = &self.static_mappings[position];
        let name = describe_static(existing);
        if mapping.twice_nat != TwiceNat::No && mapping.twice_nat != existing.twice_nat {
            return Err(format!(
                "static mapping {name} is not {}",
                mapping.twice_nat.keyword()
            ));
        }
        if mapping.out2in_only && !existing.out2in_only {
            return Err(format!("static mapping {name} is not out2in-only"));
        }
        self.static_mappings.remove(position);
        Ok(())
    }

    /// `nat44 add load-balancing static mapping ...`.
    pub fn add_lb_mapping(&mut self, mapping: LbStaticMapping) -> Result<(), String> {
        let name = format!(
            "{} external {}:{}",
            mapping.proto, mapping.external.0, mapping.external.1
        );
        if mapping.locals.is_empty() {
            return Err(format!("load-balancing mapping {name}: no local endpoints"));
        }
        let addrs = mapping.locals.iter().map(|l| l.addr);
        for addr in std::iter::once(mapping.external.0).chain(addrs) {
            unicast(&format!("load-balancing mapping {name}"), addr)?;
        }
        if mapping.proto == NatProtocol::Icmp {
            return Err(format!(
                "load-balancing mapping {name}: only tcp and udp can be load-balanced"
            ));
        }
        let total: u32 = mapping
            .locals
            .iter()
            .map(|l| u32::from(l.probability))
            .sum();
        // A single local is Contiv's plain service (probability 0): nothing to weigh.
        if total == 0 && mapping.locals.len() > 1 {
            return Err(format!(
                "load-balancing mapping {name}: probabilities sum to 0"
            ));
        }
        for (i, local) in mapping.locals.iter().enumerate() {
            if mapping.locals[..i]
                .iter()
                .any(|l| l.addr == local.addr && l.port == local.port)
            {
                return Err(format!(
                    "load-balancing mapping {name}: local {}:{} is listed twice",
                    local.addr, local.port
                ));
            }
        }
        self.check_external_free(mapping.external.0, Some(mapping.external.1), mapping.proto)?;
        self.lb_mappings.push(mapping);
        Ok(())
    }

    /// `nat44 del load-balancing static mapping protocol P external IP:PORT`.
    /// `nat44 del load-balancing static mapping ...`: found by protocol and external end;
    /// locals, affinity and flags may be left out, and those given must be the mapping's.
    pub fn del_lb_mapping(&mut self, given: &LbStaticMapping) -> Result<(), String> {
        let (name, position) = self.lb_mapping_at(given.proto, given.external)?;
        let existing = &self.lb_mappings[position];
        let same_locals = given.locals.len() == existing.locals.len()
            && given.locals.iter().all(|l| existing.locals.contains(l));
        if !given.locals.is_empty() && !same_locals {
            let has: Vec<String> = existing
                .locals
                .iter()
                .map(|l| format!("{}:{} probability {}", l.addr, l.port, l.probability))
                .collect();
            return Err(format!(
                "load-balancing mapping {name} has local {}, not the locals given (or give \
                 none)",
                has.join(", local ")
            ));
        }
        if given.twice_nat != TwiceNat::No && given.twice_nat != existing.twice_nat {
            let keyword = given.twice_nat.keyword();
            return Err(format!("load-balancing mapping {name} is not {keyword}"));
        }
        if given.out2in_only && !existing.out2in_only {
            return Err(format!("load-balancing mapping {name} is not out2in-only"));
        }
        if given.affinity_secs != 0 && given.affinity_secs != existing.affinity_secs {
            return Err(format!(
                "load-balancing mapping {name} has affinity {}, not {}",
                existing.affinity_secs, given.affinity_secs
            ));
        }
        self.lb_mappings.remove(position);
        Ok(())
    }

    /// `nat44 add load-balancing back-end protocol P external IP:PORT local IP:PORT
    /// probability N` (VPP 19.04's): one more local for an existing mapping. The sessions
    /// of its other locals stay.
    pub fn add_lb_backend(
        &mut self,
        proto: NatProtocol,
        external: (Ipv4Addr, u16),
        local: LbLocal,
    ) -> Result<(), String> {
        let (name, position) = self.lb_mapping_at(proto, external)?;
        unicast(&format!("load-balancing mapping {name}"), local.addr)?;
        let mapping = &mut self.lb_mappings[position];
        if let Some(has) = mapping
            .locals
            .iter()
            .find(|l| (l.addr, l.port) == (local.addr, local.port))
        {
            return Err(format!(
                "load-balancing mapping {name} has local {}:{} already (probability {})",
                local.addr, local.port, has.probability
            ));
        }
        let total: u32 = mapping
            .locals
            .iter()
            .map(|l| u32::from(l.probability))
            .sum();
        if total + u32::from(local.probability) == 0 {
            return Err(format!(
                "load-balancing mapping {name}: the probabilities would sum to 0, so no \
                 local could be chosen"
            ));
        }
        mapping.locals.push(local);
        Ok(())
    }

    /// `nat44 add load-balancing back-end ... del`: a local out of an existing mapping
    /// (`probability`, if given, must be its). Its sessions go, as VPP deletes them, with
    /// the reclaim sweep's next pass; the other locals' stay. The last local is refused:
    /// the mapping is deleted instead.
    pub fn del_lb_backend(
        &mut self,
        proto: NatProtocol,
        external: (Ipv4Addr, u16),
        local: (Ipv4Addr, u16),
        probability: Option<u8>,
    ) -> Result<(), String> {
        let (name, position) = self.lb_mapping_at(proto, external)?;
        let mapping = &mut self.lb_mappings[position];
        let Some(at) = mapping
            .locals
            .iter()
            .position(|l| (l.addr, l.port) == local)
        else {
            let has: Vec<String> = mapping
                .locals
                .iter()
                .map(|l| format!("{}:{}", l.addr, l.port))
                .collect();
            return Err(format!(
                "load-balancing mapping {name} has no local {}:{} (it has {})",
                local.0,
                local.1,
                has.join(", ")
            ));
        };
        let has = mapping.locals[at].probability;
        if probability.is_some_and(|p| p != has) {
            return Err(format!(
                "load-balancing mapping {name} has local {}:{} with probability {has}",
                local.0, local.1
            ));
        }
        if mapping.locals.len() == 1 {
            return Err(format!(
                "load-balancing mapping {name}: {}:{} is its only local; delete the mapping \
                 instead (nat44 del load-balancing static mapping protocol {proto} external \
                 {}:{})",
                local.0, local.1, external.0, external.1
            ));
        }
        let rest: u32 = mapping
            .locals
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != at)
            .map(|(_, l)| u32::from(l.probability))
            .sum();
        if rest == 0 && mapping.locals.len() > 2 {
            return Err(format!(
                "load-balancing mapping {name}: the other locals' probabilities sum to 0, so \
                 no local could be chosen"
            ));
        }
        mapping.locals.remove(at);
        Ok(())
    }

    /// The load-balanced mapping of `proto` on `external`: its name for messages and its
    /// place.
    fn lb_mapping_at(
        &self,
        proto: NatProtocol,
        external: (Ipv4Addr, u16),
    ) -> Result<(String, usize), String> {
        let name = format!("{proto} external {}:{}", external.0, external.1);
        let position = self
            .lb_mappings
            .iter()
            .position(|m| m.proto == proto && m.external == external)
            .ok_or_else(|| format!("load-balancing mapping {name} does not exist"))?;
        Ok((name, position))
    }

    /// `nat44 add identity mapping IP [tcp|udp PORT]`.
    pub fn add_identity_mapping(&mut self, mapping: IdentityMapping) -> Result<(), String> {
        unicast(
            &format!("identity mapping {}", describe_identity(&mapping)),
            mapping.addr,
        )?;
        if self.identity_mappings.contains(&mapping) {
            return Err(format!(
                "identity mapping {} already exists",
                describe_identity(&mapping)
            ));
        }
        match mapping.proto_port {
            Some((proto, port)) => self.check_external_free(mapping.addr, Some(port), proto)?,
            None => self.check_external_free(mapping.addr, None, NatProtocol::Tcp)?,
        }
        self.identity_mappings.push(mapping);
        Ok(())
    }

    pub fn del_identity_mapping(&mut self, mapping: &IdentityMapping) -> Result<(), String> {
        let position = self
            .identity_mappings
            .iter()
            .position(|m| m == mapping)
            .ok_or_else(|| {
                format!(
                    "identity mapping {} does not exist",
                    describe_identity(mapping)
                )
            })?;
        self.identity_mappings.remove(position);
        Ok(())
    }

    /// `set interface nat44 in|out NAME [output-feature]` (`is_add`) or its `del` form;
    /// the caller resolves NAME, and its errors say what is wrong with the interface
    /// (the caller puts its name in front). Adding merges with the roles the interface
    /// already has.
    pub fn set_interface_role(
        &mut self,
        ifindex: IfIndex,
        role: NatInterfaceRole,
        is_add: bool,
    ) -> Result<(), String> {
        if role.is_none() {
            return Err("needs at least one of in, out, output-feature".to_string());
        }
        if role.output_feature && role.inside {
            return Err("cannot be inside with output-feature (outside interfaces only)".into());
        }
        let current = self.roles.iter().position(|(i, _)| *i == ifindex);
        let old = current.map(|p| self.roles[p].1).unwrap_or_default();
        // VPP fails output-feature on an interface that has it, or that has in or out,
        // and in or out on an output-feature interface ("interface already
        // configured"); in or out twice is a silent success there, as here.
        if is_add && role.output_feature && old.output_feature {
            return Err("is already an output-feature interface".into());
        }
        // Nor does it take output-feature beside in or out, or in or out beside
        // output-feature: merged, the roles could no longer be deleted one by one.
        if is_add && role.output_feature && (old.inside || old.outside) {
            return Err(
                "is already a NAT44 in/out interface: output-feature needs an interface of \
                 its own (delete its roles first)"
                    .into(),
            );
        }
        if is_add && !role.output_feature && old.output_feature {
            return Err(
                "is an output-feature interface: it takes no in or out role beside it".into(),
            );
        }
        let new = if is_add {
            NatInterfaceRole {
                inside: old.inside || role.inside,
                outside: old.outside || role.outside || role.output_feature,
                output_feature: old.output_feature || role.output_feature,
            }
        } else {
            let missing = [
                (role.inside && !old.inside, "inside"),
                (role.outside && !old.outside, "outside"),
                (role.output_feature && !old.output_feature, "output-feature"),
            ];
            if let Some((_, what)) = missing.iter().find(|(missing, _)| *missing) {
                return Err(format!(
                    "is not a NAT44 {what} interface: nothing to delete"
                ));
            }
            // Its outside role came with output-feature and goes with it: left alone,
            // nat44-in2out-output would go on making sessions whose replies no longer
            // take nat44-out2in.
            if old.output_feature && role.outside && !role.output_feature {
                return Err(
                    "is an output-feature interface: delete it with `out NAME output-feature del`"
                        .into(),
                );
            }
            NatInterfaceRole {
                inside: old.inside && !role.inside,
                outside: old.outside && !role.outside,
                output_feature: old.output_feature && !role.output_feature,
            }
        };
        if new.output_feature && new.inside {
            return Err("is inside, and output-feature applies to outside interfaces only".into());
        }
        match (current, new.is_none()) {
            (Some(p), true) => {
                self.roles.remove(p);
            }
            (Some(p), false) => self.roles[p].1 = new,
            (None, _) => self.roles.push((ifindex, new)),
        }
        Ok(())
    }

    pub fn set_forwarding(&mut self, enabled: bool) {
        self.forwarding = enabled;
    }

    /// `set nat timeout ...`; zero would expire sessions before their first reply.
    pub fn set_timeouts(&mut self, timeouts: NatTimeouts) -> Result<(), String> {
        let NatTimeouts {
            udp,
            tcp_established,
            tcp_transitory,
            icmp,
        } = timeouts;
        for (name, value) in [
            ("udp", udp),
            ("tcp-established", tcp_established),
            ("tcp-transitory", tcp_transitory),
            ("icmp", icmp),
        ] {
            if value == 0 {
                return Err(format!("nat timeout {name}: must be at least 1 second"));
            }
        }
        self.timeouts = timeouts;
        Ok(())
    }

    /// `nat44 session limit N`: per worker.
    pub fn set_session_limit(&mut self, limit: u32) -> Result<(), String> {
        if limit == 0 {
            return Err("nat44 session limit: must be at least 1".to_string());
        }
        self.session_limit = Some(limit);
        Ok(())
    }

    pub fn timeouts(&self) -> NatTimeouts {
        self.timeouts
    }

    pub fn forwarding(&self) -> bool {
        self.forwarding
    }

    pub fn static_mappings(&self) -> &[StaticMapping] {
        &self.static_mappings
    }

    pub fn lb_mappings(&self) -> &[LbStaticMapping] {
        &self.lb_mappings
    }

    pub fn identity_mappings(&self) -> &[IdentityMapping] {
        &self.identity_mappings
    }

    pub fn interface_roles(&self) -> &[(IfIndex, NatInterfaceRole)] {
        &self.roles
    }

    /// Refuses a second mapping on the same outside key: out2in could not tell them apart.
    fn check_external_free(
        &self,
        addr: Ipv4Addr,
        port: Option<u16>,
        proto: NatProtocol,
    ) -> Result<(), String> {
        let clash = |other_addr: Ipv4Addr, other_port: Option<u16>, other_proto: NatProtocol| {
            other_addr == addr
                && match (port, other_port) {
                    (Some(a), Some(b)) => a == b && proto == other_proto,
                    (None, None) => true,
                    _ => false,
                }
        };
        let taken = self
            .static_mappings
            .iter()
            .any(|m| clash(m.external.0, m.external.1, m.proto))
            || self
                .lb_mappings
                .iter()
                .any(|m| clash(m.external.0, Some(m.external.1), m.proto))
            || self.identity_mappings.iter().any(|m| match m.proto_port {
                Some((p, port)) => clash(m.addr, Some(port), p),
                None => clash(m.addr, None, proto),
            });
        if taken {
            let what = match port {
                Some(p) => format!("{proto} {addr}:{p}"),
                None => format!("{addr}"),
            };
            return Err(format!("external {what} is already mapped"));
        }
        Ok(())
    }

    /// The snapshot workers read, without interface addresses (see
    /// [`Nat44Table::snapshot_with`]). Building it allocates; publishing it is the caller's.
    pub fn snapshot(&self) -> Arc<Nat44Config> {
        self.snapshot_with(|_| None)
    }

    /// The snapshot workers read, the pools holding the first address of each
    /// `nat44 add interface address` interface as `address_of` gives it now (none: the
    /// interface adds nothing; an address already in a pool is not added twice).
    pub fn snapshot_with(
        &self,
        address_of: impl Fn(IfIndex) -> Option<Ipv4Addr>,
    ) -> Arc<Nat44Config> {
        let (mut pool, mut twice_nat_pool) = (self.pool.clone(), self.twice_nat_pool.clone());
        for &(interface, twice_nat) in &self.interface_addresses {
            let Some(addr) = address_of(interface) else {
                continue;
            };
            if pool.contains(&addr) || twice_nat_pool.contains(&addr) {
                continue;
            }
            match twice_nat {
                true => twice_nat_pool.push(addr),
                false => pool.push(addr),
            }
        }
        let mut config = Nat44Config {
            pool,
            twice_nat_pool,
            forwarding: self.forwarding,
            timeouts: self.timeouts,
            session_limit: self.session_limit.unwrap_or(DEFAULT_SESSION_LIMIT),
            ..Nat44Config::default()
        };
        for m in &self.static_mappings {
            let local = LbLocal {
                addr: m.local.0,
                port: m.local.1.unwrap_or(0),
                probability: 1,
            };
            config.add_mapping(Mapping {
                proto: m.proto,
                external_addr: m.external.0,
                external_port: m.external.1,
                locals: vec![local],
                prefix_sums: Vec::new(),
                twice_nat: m.twice_nat,
                out2in_only: m.out2in_only,
                affinity_secs: 0,
                kind: MappingKind::Static,
            });
        }
        for m in &self.lb_mappings {
            let mut sum = 0u32;
            let prefix_sums = m
                .locals
                .iter()
                .map(|l| {
                    sum += u32::from(l.probability);
                    sum
                })
                .collect();
            config.add_mapping(Mapping {
                proto: m.proto,
                external_addr: m.external.0,
                external_port: Some(m.external.1),
                locals: m.locals.clone(),
                prefix_sums,
                twice_nat: m.twice_nat,
                out2in_only: m.out2in_only,
                affinity_secs: m.affinity_secs,
                kind: MappingKind::LoadBalanced,
            });
        }
        for m in &self.identity_mappings {
            let (proto, port) = match m.proto_port {
                Some((proto, port)) => (proto, Some(port)),
                None => (NatProtocol::Tcp, None),
            };
            config.add_mapping(Mapping {
                proto,
                external_addr: m.addr,
                external_port: port,
                locals: vec![LbLocal {
                    addr: m.addr,
                    port: port.unwrap_or(0),
                    probability: 1,
                }],
                prefix_sums: Vec::new(),
                twice_nat: TwiceNat::No,
                out2in_only: false,
                affinity_secs: 0,
                kind: MappingKind::Identity,
            });
        }
        // The interfaces' addresses too: a packet to one is out2in's as much as one to a
        // configured pool address.
        let pools = config.pool.iter().chain(&config.twice_nat_pool).copied();
        let pools: Vec<Ipv4Addr> = pools.collect();
        config.outside_addrs.extend(pools);
        config.build_tables();
        let max_ifindex = self.roles.iter().map(|(i, _)| i.as_usize()).max();
        if let Some(max) = max_ifindex {
            config.roles = vec![NatInterfaceRole::default(); max + 1];
            for (ifindex, role) in &self.roles {
                config.roles[ifindex.as_usize()] = *role;
            }
        }
        Arc::new(config)
    }
}

impl Nat44Config {
    /// The per-packet tables of the pools and the translating mappings' ends.
    fn build_tables(&mut self) {
        let table = |keys: Vec<u64>| KeySet::build(keys.into_iter());
        let pools = self.pool.iter().chain(&self.twice_nat_pool);
        self.pool_table = table(pools.map(|&a| address_key(a)).collect());
        let translating = || {
            self.mappings
                .iter()
                .filter(|m| m.kind != MappingKind::Identity)
        };
        let mut keys: [Vec<u64>; 4] = Default::default();
        for m in translating() {
            let locals = m.locals.iter();
            match m.external_port {
                Some(port) => {
                    keys[0].push(port_key(m.external_addr, port, m.proto));
                    keys[1].extend(locals.map(|l| port_key(l.addr, l.port, m.proto)));
                }
                None => {
                    keys[2].push(address_key(m.external_addr));
                    keys[3].extend(locals.map(|l| address_key(l.addr)));
                }
            }
        }
        let [port_externals, port_locals, address_externals, address_locals] = keys.map(table);
        self.port_externals = port_externals;
        self.port_locals = port_locals;
        self.address_externals = address_externals;
        self.address_locals = address_locals;
    }

    fn add_mapping(&mut self, mapping: Mapping) {
        let index = self.mappings.len() as u32;
        let external = mapping.external_addr;
        match mapping.external_port {
            Some(port) => self
                .by_external
                .insert((external, port, mapping.proto), index),
            None => self.by_external_addr.insert(external, index),
        };
        // The local-side lookup finds the mapping a flow the local end starts leaves
        // by: never an out2in-only one (it would hide the local end's own mapping).
        if mapping.kind != MappingKind::LoadBalanced && !mapping.out2in_only {
            if let Some(local) = mapping.locals.first() {
                match mapping.external_port {
                    Some(_) => self
                        .by_local
                        .insert((local.addr, local.port, mapping.proto), index),
                    None => self.by_local_addr.insert(local.addr, index),
                };
            }
        }
        if mapping.kind != MappingKind::Identity {
            self.outside_addrs.insert(external);
            self.local_addrs
                .extend(mapping.locals.iter().map(|local| local.addr));
        }
        self.mappings.push(mapping);
    }
}

/// NAT44 writes its addresses into packets as sources and destinations: a pool or
/// mapping address must be one a host can have.
fn unicast(what: &str, addr: Ipv4Addr) -> Result<(), String> {
    match crate::config::not_unicast(addr) {
        Some(why) if addr.is_unspecified() => Err(format!("{what}: {why}")),
        Some(why) => Err(format!("{what}: {addr} {why}")),
        None => Ok(()),
    }
}

fn address_range(first: Ipv4Addr, last: Ipv4Addr) -> Result<std::ops::RangeInclusive<u32>, String> {
    let (a, b) = (u32::from(first), u32::from(last));
    if a > b {
        return Err(format!(
            "address range {first} - {last}: the first address is above the last"
        ));
    }
    if b - a >= MAX_RANGE_ADDRESSES {
        return Err(format!(
            "address range {first} - {last}: more than {MAX_RANGE_ADDRESSES} addresses"
        ));
    }
    Ok(a..=b)
}

fn describe_static(m: &StaticMapping) -> String {
    let end = |(addr, port): (Ipv4Addr, Option<u16>)| match port {
        Some(p) => format!("{addr}:{p}"),
        None => addr.to_string(),
    };
    let proto = match m.local.1 {
        Some(_) => format!("{} ", m.proto),
        None => String::new(),
    };
    format!("{proto}local {} external {}", end(m.local), end(m.external))
}

fn describe_identity(m: &IdentityMapping) -> String {
    match m.proto_port {
        Some((proto, port)) => format!("{} {proto} {port}", m.addr),
        None => m.addr.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KeySet agrees with a hash set on keys in it and on keys near them (colliding
    /// slots, probes that wrap), and an empty one holds nothing.
    #[test]
    fn key_set_holds_exactly_its_keys() {
        assert!(!KeySet::default().contains(1));
        let mut rng = crate::rand::FastRng::new(7);
        for count in [1usize, 3, 16, 100, 1000] {
            let keys: HashSet<u64> = (0..count).map(|_| rng.next_u64() | 1).collect();
            let set = KeySet::build(keys.iter().copied().collect::<Vec<_>>().into_iter());
            for &key in &keys {
                assert!(set.contains(key));
                for other in [key ^ 2, key.wrapping_add(1 << 40), key >> 1] {
                    assert_eq!(set.contains(other), keys.contains(&other), "{other:#x}");
                }
            }
        }
        let a = Ipv4Addr::new(10, 104, 221, 85);
        assert_ne!(
            port_key(a, 80, NatProtocol::Tcp),
            port_key(a, 80, NatProtocol::Udp)
        );
        assert_ne!(address_key(Ipv4Addr::UNSPECIFIED), 0);
    }
}
