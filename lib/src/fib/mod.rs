//! `ip4-lookup`'s table: longest-prefix match to an adjacency index, and the adjacencies.
//!
//! A [`Fib`] is immutable. The control plane ([`crate::config::ControlPlane`]) resolves its
//! routes into `(prefix, source, Adjacency)` triples and builds a new `Fib` for every change;
//! workers swap snapshots between bursts, so a lookup never waits and never sees half a
//! change. The trie is a 16-8-8 multibit trie ([`lpm`]), chosen so that a lookup is at most
//! three loads and a rebuild costs milliseconds (its module doc says why not DIR-24-8).
//!
//! Adjacencies are deduplicated: every prefix routed through the same neighbour shares one
//! [`AdjIndex`], as VPP's adjacencies are shared. Index 0 is always [`Adjacency::NoRoute`].

pub mod lpm;

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::types::{IfIndex, Ipv4Prefix, MacAddr};
use lpm::Lpm;

/// An index into a [`Fib`]'s adjacencies; the trace's `dpo-idx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AdjIndex(pub u32);

impl AdjIndex {
    /// The index of [`Adjacency::NoRoute`] in every FIB.
    pub const NO_ROUTE: AdjIndex = AdjIndex(0);
}

/// What to do with a packet whose destination matched a prefix.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Adjacency {
    /// No prefix matched: the packet is answered with ICMP destination unreachable.
    NoRoute,
    /// An explicit drop route (`ip route add P drop`), or a path through an interface that
    /// is down: dropped without an ICMP error.
    Drop,
    /// One of our own addresses: to `ip4-local`.
    Receive { if_index: IfIndex },
    /// The next hop's MAC is unknown: ARP for `next_hop`, or for the packet's own
    /// destination when `None` (an attached subnet).
    Glean {
        tx_if: IfIndex,
        next_hop: Option<Ipv4Addr>,
    },
    /// Ready to send: the Ethernet header to write (destination MAC, source MAC = the tx
    /// interface's MAC, ethertype 0x0800).
    Rewrite {
        tx_if: IfIndex,
        next_hop: Ipv4Addr,
        rewrite: [u8; 14],
    },
}

static NO_ROUTE: Adjacency = Adjacency::NoRoute;

impl Adjacency {
    /// The Ethernet header for a packet from `src` (the tx interface) to `dst`.
    pub fn ethernet_rewrite(dst: MacAddr, src: MacAddr) -> [u8; 14] {
        let mut header = [0u8; 14];
        header[..6].copy_from_slice(&dst.0);
        header[6..12].copy_from_slice(&src.0);
        header[12..].copy_from_slice(&0x0800u16.to_be_bytes());
        header
    }

    /// The interface the packet leaves by, if it leaves.
    pub fn tx_interface(&self) -> Option<IfIndex> {
        match self {
            Adjacency::Glean { tx_if, .. } | Adjacency::Rewrite { tx_if, .. } => Some(*tx_if),
            _ => None,
        }
    }

    /// VPP's DPO type number, the `N` of `[@N]` in `show ip fib`.
    pub fn dpo_type(&self) -> u8 {
        match self {
            Adjacency::NoRoute | Adjacency::Drop => 0,
            Adjacency::Receive { .. } => 2,
            Adjacency::Glean { next_hop: None, .. } => 4,
            Adjacency::Glean {
                next_hop: Some(_), ..
            }
            | Adjacency::Rewrite { .. } => 5,
        }
    }

    /// The text VPP prints for this adjacency, e.g.
    /// `ipv4 via 172.30.1.2 tap0: 3e1b702d4d510123456789420800` (the `ip4-rewrite` trace and
    /// `show ip fib`). `prefix` names the address of a receive entry.
    pub fn describe(
        &self,
        prefix: Option<Ipv4Prefix>,
        name_of: &dyn Fn(IfIndex) -> String,
    ) -> String {
        match self {
            Adjacency::NoRoute => "ip4-unreachable (no route)".to_string(),
            Adjacency::Drop => "dpo-drop ip4".to_string(),
            Adjacency::Receive { if_index } => match prefix {
                Some(p) => format!("dpo-receive: {} on {}", p.addr, name_of(*if_index)),
                None => format!("dpo-receive on {}", name_of(*if_index)),
            },
            Adjacency::Glean {
                tx_if,
                next_hop: None,
            } => format!("ipv4-glean: {}", name_of(*tx_if)),
            Adjacency::Glean {
                tx_if,
                next_hop: Some(nh),
            } => {
                format!("arp-ipv4: via {nh} {}", name_of(*tx_if))
            }
            Adjacency::Rewrite {
                tx_if,
                next_hop,
                rewrite,
            } => {
                let mut text = format!("ipv4 via {next_hop} {}: ", name_of(*tx_if));
                for byte in rewrite {
                    let _ = write!(text, "{byte:02x}");
                }
                text
            }
        }
    }
}

/// Who put a prefix in the FIB. When two sources give the same prefix, the one listed
/// first wins (VPP's source priorities, in the same order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteSource {
    /// Addresses that are never forwarded: 0.0.0.0/32, 224.0.0.0/4, 240.0.0.0/4,
    /// 255.255.255.255/32 (drop, no ICMP error).
    Special,
    /// An interface address: its subnet (glean) and the address itself (receive).
    Interface,
    /// A configured route (`ip route add`).
    Static,
    /// A known neighbour on an attached subnet: its /32 (VPP's adj-fib).
    Neighbor,
}

impl RouteSource {
    pub const fn name(self) -> &'static str {
        match self {
            RouteSource::Special => "special",
            RouteSource::Interface => "interface",
            RouteSource::Static => "cli",
            RouteSource::Neighbor => "adjacency",
        }
    }
}

/// One installed prefix, for `show ip fib`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FibEntry {
    pub prefix: Ipv4Prefix,
    pub source: RouteSource,
    pub adj: AdjIndex,
}

/// A configured route that could not be installed, and why (shown by `show ip fib`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnresolvedRoute {
    pub prefix: Ipv4Prefix,
    pub next_hop: Ipv4Addr,
    pub reason: String,
}

/// The forwarding table: immutable once built, shared read-only by the workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fib {
    lpm: Lpm,
    adjacencies: Vec<Adjacency>,
    /// Sorted by prefix (address, then length).
    entries: Vec<FibEntry>,
    unresolved: Vec<UnresolvedRoute>,
}

impl Default for Fib {
    fn default() -> Self {
        Fib::empty()
    }
}

impl Fib {
    /// A FIB without routes: every lookup gives [`AdjIndex::NO_ROUTE`].
    pub fn empty() -> Fib {
        Fib::build(Vec::new(), Vec::new())
    }

    /// Builds the table. A prefix given by several sources keeps the highest-priority one
    /// (then the last given); host bits of prefixes are cleared.
    pub fn build(
        routes: Vec<(Ipv4Prefix, RouteSource, Adjacency)>,
        unresolved: Vec<UnresolvedRoute>,
    ) -> Fib {
        let mut routes: Vec<(Ipv4Prefix, RouteSource, Adjacency)> = routes
            .into_iter()
            .map(|(prefix, source, adjacency)| (prefix.network(), source, adjacency))
            .collect();
        // Stable, so among equal (prefix, source) the order given is kept; the control
        // plane hands routes over already sorted, which makes this cheap.
        routes.sort_by_key(|(prefix, source, _)| (*prefix, *source));
        let mut adjacencies = vec![Adjacency::NoRoute];
        let mut adjacency_index: hashbrown::HashMap<Adjacency, AdjIndex> =
            hashbrown::HashMap::new();
        adjacency_index.insert(Adjacency::NoRoute, AdjIndex::NO_ROUTE);
        let mut entries: Vec<FibEntry> = Vec::with_capacity(routes.len());
        let mut pairs: Vec<(Ipv4Prefix, u32)> = Vec::with_capacity(routes.len());
        for (prefix, source, adjacency) in routes {
            let adj = match adjacency_index.get(&adjacency) {
                Some(known) => *known,
                None => {
                    let index = AdjIndex(adjacencies.len() as u32);
                    adjacencies.push(adjacency.clone());
                    adjacency_index.insert(adjacency, index);
                    index
                }
            };
            match entries.last_mut() {
                // Same prefix, lower priority: the first (best) source stays. Same source
                // again: the later one replaces it.
                Some(last) if last.prefix == prefix => {
                    if last.source == source {
                        last.adj = adj;
                        if let Some(pair) = pairs.last_mut() {
                            pair.1 = adj.0;
                        }
                    }
                }
                _ => {
                    entries.push(FibEntry {
                        prefix,
                        source,
                        adj,
                    });
                    pairs.push((prefix, adj.0));
                }
            }
        }
        let mut unresolved = unresolved;
        unresolved.sort_by_key(|u| u.prefix);
        Fib {
            lpm: Lpm::build(&pairs, AdjIndex::NO_ROUTE.0),
            adjacencies,
            entries,
            unresolved,
        }
    }

    /// The adjacency for `dst` (longest prefix match). Per packet: no allocation, no panic.
    #[inline]
    pub fn lookup(&self, dst: Ipv4Addr) -> AdjIndex {
        AdjIndex(self.lpm.lookup(dst.to_bits()))
    }

    /// The adjacency at `idx`; an index from another FIB that is out of range reads as
    /// [`Adjacency::NoRoute`] rather than panicking.
    #[inline]
    pub fn adjacency(&self, idx: AdjIndex) -> &Adjacency {
        self.adjacencies.get(idx.0 as usize).unwrap_or(&NO_ROUTE)
    }

    /// Every adjacency, indexed by [`AdjIndex`].
    pub fn adjacencies(&self) -> &[Adjacency] {
        &self.adjacencies
    }

    /// The installed prefixes, sorted by address then length.
    pub fn entries(&self) -> &[FibEntry] {
        &self.entries
    }

    /// The entry for exactly `prefix` (host bits ignored).
    pub fn entry(&self, prefix: Ipv4Prefix) -> Option<&FibEntry> {
        let key = prefix.network();
        self.entries
            .binary_search_by_key(&(key.addr, key.len), |e| (e.prefix.addr, e.prefix.len))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// The installed entry that `lookup(addr)` used: the longest prefix containing `addr`.
    pub fn longest_match(&self, addr: Ipv4Addr) -> Option<&FibEntry> {
        (0..=32u8).rev().find_map(|len| {
            let prefix = Ipv4Prefix::new(addr, len)?;
            self.entry(prefix)
        })
    }

    /// Configured routes left out because their next hop did not resolve.
    pub fn unresolved(&self) -> &[UnresolvedRoute] {
        &self.unresolved
    }

    /// Bytes held by the lookup table (the adjacencies and entry list are extra).
    pub fn table_bytes(&self) -> usize {
        self.lpm.memory_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(s: &str) -> Ipv4Prefix {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }
    fn mac(s: &str) -> MacAddr {
        s.parse().unwrap()
    }

    #[test]
    fn empty_fib_has_only_no_route() {
        let fib = Fib::empty();
        assert_eq!(fib.lookup(ip("1.2.3.4")), AdjIndex::NO_ROUTE);
        assert_eq!(fib.adjacency(AdjIndex::NO_ROUTE), &Adjacency::NoRoute);
        assert_eq!(fib.adjacencies().len(), 1);
        assert!(fib.entries().is_empty());
    }

    #[test]
    fn unknown_adjacency_index_reads_as_no_route() {
        let fib = Fib::build(
            vec![(prefix("0.0.0.0/0"), RouteSource::Static, Adjacency::Drop)],
            vec![],
        );
        assert_eq!(fib.adjacency(AdjIndex(1)), &Adjacency::Drop);
        assert_eq!(fib.adjacency(AdjIndex(2)), &Adjacency::NoRoute);
        assert_eq!(fib.adjacency(AdjIndex(u32::MAX)), &Adjacency::NoRoute);
    }

    #[test]
    fn equal_adjacencies_share_one_index() {
        let glean = Adjacency::Glean {
            tx_if: IfIndex(1),
            next_hop: Some(ip("10.0.0.1")),
        };
        let fib = Fib::build(
            vec![
                (prefix("10.1.0.0/16"), RouteSource::Static, glean.clone()),
                (prefix("10.2.0.0/16"), RouteSource::Static, glean.clone()),
            ],
            vec![],
        );
        assert_eq!(fib.adjacencies().len(), 2);
        assert_eq!(fib.lookup(ip("10.1.9.9")), fib.lookup(ip("10.2.9.9")));
        assert_eq!(fib.adjacency(fib.lookup(ip("10.2.9.9"))), &glean);
    }

    #[test]
    fn higher_priority_source_wins_for_the_same_prefix() {
        let receive = Adjacency::Receive {
            if_index: IfIndex(1),
        };
        for routes in [
            vec![
                (
                    prefix("10.0.0.1/32"),
                    RouteSource::Interface,
                    receive.clone(),
                ),
                (prefix("10.0.0.1/32"), RouteSource::Static, Adjacency::Drop),
            ],
            vec![
                (prefix("10.0.0.1/32"), RouteSource::Static, Adjacency::Drop),
                (
                    prefix("10.0.0.1/32"),
                    RouteSource::Interface,
                    receive.clone(),
                ),
            ],
        ] {
            let fib = Fib::build(routes, vec![]);
            assert_eq!(fib.adjacency(fib.lookup(ip("10.0.0.1"))), &receive);
            assert_eq!(fib.entries().len(), 1);
            assert_eq!(fib.entries()[0].source, RouteSource::Interface);
        }
    }

    #[test]
    fn entry_and_longest_match_find_what_lookup_used() {
        let fib = Fib::build(
            vec![
                (prefix("10.0.0.0/8"), RouteSource::Static, Adjacency::Drop),
                (
                    prefix("10.1.2.0/24"),
                    RouteSource::Interface,
                    Adjacency::Receive {
                        if_index: IfIndex(1),
                    },
                ),
            ],
            vec![],
        );
        assert_eq!(
            fib.entry(prefix("10.1.2.9/24")).unwrap().prefix,
            prefix("10.1.2.0/24")
        );
        assert!(fib.entry(prefix("10.1.0.0/16")).is_none());
        assert_eq!(
            fib.longest_match(ip("10.1.2.3")).unwrap().prefix,
            prefix("10.1.2.0/24")
        );
        assert_eq!(
            fib.longest_match(ip("10.9.9.9")).unwrap().prefix,
            prefix("10.0.0.0/8")
        );
        assert!(fib.longest_match(ip("11.0.0.1")).is_none());
    }

    #[test]
    fn rewrite_describes_like_vpp() {
        let rewrite = Adjacency::Rewrite {
            tx_if: IfIndex(1),
            next_hop: ip("172.30.1.2"),
            rewrite: Adjacency::ethernet_rewrite(
                mac("3e:1b:70:2d:4d:51"),
                mac("01:23:45:67:89:42"),
            ),
        };
        let names = |_: IfIndex| "tap0".to_string();
        assert_eq!(
            rewrite.describe(None, &names),
            "ipv4 via 172.30.1.2 tap0: 3e1b702d4d510123456789420800"
        );
        let glean = Adjacency::Glean {
            tx_if: IfIndex(1),
            next_hop: None,
        };
        assert_eq!(glean.describe(None, &names), "ipv4-glean: tap0");
        let arp = Adjacency::Glean {
            tx_if: IfIndex(1),
            next_hop: Some(ip("172.30.1.2")),
        };
        assert_eq!(arp.describe(None, &names), "arp-ipv4: via 172.30.1.2 tap0");
        let receive = Adjacency::Receive {
            if_index: IfIndex(1),
        };
        assert_eq!(
            receive.describe(Some(prefix("172.30.1.1/32")), &names),
            "dpo-receive: 172.30.1.1 on tap0"
        );
    }
}
