//! The NAT44 configuration's value types, shared with the CLI grammar.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use super::rewrite::Side;
use crate::types::ip_proto;

/// The protocols NAT44 translates. For ICMP the echo identifier plays the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NatProtocol {
    Tcp,
    Udp,
    Icmp,
}

impl NatProtocol {
    pub const ALL: [NatProtocol; 3] = [NatProtocol::Tcp, NatProtocol::Udp, NatProtocol::Icmp];

    pub const fn name(self) -> &'static str {
        match self {
            NatProtocol::Tcp => "tcp",
            NatProtocol::Udp => "udp",
            NatProtocol::Icmp => "icmp",
        }
    }

    /// The IP protocol number.
    pub const fn ip_proto(self) -> u8 {
        match self {
            NatProtocol::Tcp => ip_proto::TCP,
            NatProtocol::Udp => ip_proto::UDP,
            NatProtocol::Icmp => ip_proto::ICMP,
        }
    }

    pub const fn from_ip_proto(proto: u8) -> Option<NatProtocol> {
        match proto {
            ip_proto::TCP => Some(NatProtocol::Tcp),
            ip_proto::UDP => Some(NatProtocol::Udp),
            ip_proto::ICMP => Some(NatProtocol::Icmp),
            _ => None,
        }
    }

    /// Dense index for per-protocol arrays (busy-port bitmaps).
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for NatProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NatProtocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tcp" => Ok(NatProtocol::Tcp),
            "udp" => Ok(NatProtocol::Udp),
            "icmp" => Ok(NatProtocol::Icmp),
            _ => Err(format!("protocol '{s}': expected tcp, udp or icmp")),
        }
    }
}

/// Whether a mapping also rewrites the source (VPP's twice-nat flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TwiceNat {
    #[default]
    No,
    /// Every session of the mapping gets a source from the twice-nat pool.
    TwiceNat,
    /// Only when the chosen local is the client itself (a pod reaching its own service).
    SelfTwiceNat,
}

impl TwiceNat {
    /// The keyword in `show nat44 static mappings` and the CLI; empty for `No`.
    pub const fn keyword(self) -> &'static str {
        match self {
            TwiceNat::No => "",
            TwiceNat::TwiceNat => "twice-nat",
            TwiceNat::SelfTwiceNat => "self-twice-nat",
        }
    }
}

/// `nat44 add static mapping tcp|udp|icmp local IP [PORT] external IP [PORT] ...`.
/// Without ports it is an address-only mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StaticMapping {
    pub proto: NatProtocol,
    pub local: (Ipv4Addr, Option<u16>),
    pub external: (Ipv4Addr, Option<u16>),
    pub twice_nat: TwiceNat,
    /// Sessions are created only by packets from the outside (Contiv always sets it).
    /// Without it, a flow the local end starts gets a session too, its source the
    /// external address and port.
    pub out2in_only: bool,
}

/// One endpoint of a load-balanced mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LbLocal {
    pub addr: Ipv4Addr,
    pub port: u16,
    /// Relative weight; the weights of a mapping need not sum to 100.
    pub probability: u8,
}

/// `nat44 add load-balancing static mapping protocol P external IP:PORT local ... ...`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LbStaticMapping {
    pub proto: NatProtocol,
    pub external: (Ipv4Addr, u16),
    pub locals: Vec<LbLocal>,
    pub twice_nat: TwiceNat,
    pub out2in_only: bool,
    /// Client-IP affinity: a client keeps its local for this long after its last new
    /// flow; 0 turns affinity off.
    pub affinity_secs: u32,
}

/// `nat44 add identity mapping IP [tcp|udp PORT]`: traffic to it passes untranslated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdentityMapping {
    pub addr: Ipv4Addr,
    pub proto_port: Option<(NatProtocol, u16)>,
}

/// The sessions `nat44 del session in|out A.B.C.D:PORT PROTO [external-host A.B.C.D:PORT]`
/// names: those with that endpoint on that side (in: the inside local end; out: the
/// outside address and port), and, with `external_host`, that remote end as the same side
/// sees it (they differ only under twice-NAT). Without it, every session of the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionSelector {
    pub side: Side,
    pub local: (Ipv4Addr, u16),
    pub proto: NatProtocol,
    pub external_host: Option<(Ipv4Addr, u16)>,
}

impl fmt::Display for SessionSelector {
    /// As the command takes it: `in 10.1.1.3:46310 tcp [external-host 8.8.8.8:53]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.side {
            Side::Inside => "in",
            Side::Outside => "out",
        };
        let (addr, port) = self.local;
        write!(f, "{side} {addr}:{port} {}", self.proto)?;
        match self.external_host {
            Some((addr, port)) => write!(f, " external-host {addr}:{port}"),
            None => Ok(()),
        }
    }
}

/// An interface's NAT44 role (`set interface nat44 in|out NAME [output-feature]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct NatInterfaceRole {
    pub inside: bool,
    pub outside: bool,
    /// Post-routing SNAT (`nat44-in2out-output`) on this interface.
    pub output_feature: bool,
}

impl NatInterfaceRole {
    pub const fn is_none(&self) -> bool {
        !self.inside && !self.outside && !self.output_feature
    }
}

/// Session idle timeouts in seconds (`set nat timeout ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NatTimeouts {
    pub udp: u32,
    pub tcp_established: u32,
    pub tcp_transitory: u32,
    pub icmp: u32,
}

impl Default for NatTimeouts {
    /// VPP 19.08's defaults (contiv-dataplane.md §5.1).
    fn default() -> Self {
        NatTimeouts {
            udp: 300,
            tcp_established: 7440,
            tcp_transitory: 240,
            icmp: 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_round_trips_through_text() {
        for p in NatProtocol::ALL {
            assert_eq!(p.to_string().parse::<NatProtocol>(), Ok(p));
            assert_eq!(NatProtocol::from_ip_proto(p.ip_proto()), Some(p));
        }
        assert_eq!(
            "sctp".parse::<NatProtocol>().unwrap_err(),
            "protocol 'sctp': expected tcp, udp or icmp"
        );
        assert_eq!(NatProtocol::from_ip_proto(47), None);
    }

    #[test]
    fn timeouts_default_to_vpp_values() {
        let t = NatTimeouts::default();
        assert_eq!(
            (t.udp, t.tcp_established, t.tcp_transitory, t.icmp),
            (300, 7440, 240, 60)
        );
    }
}
