//! The value types of an ACL rule, shared with the CLI.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::types::Ipv4Prefix;

/// What a matching rule does. The codes are VPP's (`format_acl_action`); code 3
/// ("existing session hit") is not an action a rule can have, only a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum AclAction {
    Deny = 0,
    Permit = 1,
    /// Permit, and create a session that admits the reply.
    PermitReflect = 2,
}

impl AclAction {
    pub const fn code(self) -> u8 {
        self as u8
    }

    pub const fn is_permit(self) -> bool {
        !matches!(self, AclAction::Deny)
    }
}

impl fmt::Display for AclAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AclAction::Deny => "deny",
            AclAction::Permit => "permit",
            AclAction::PermitReflect => "permit+reflect",
        })
    }
}

impl FromStr for AclAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "deny" => Ok(AclAction::Deny),
            "permit" => Ok(AclAction::Permit),
            "permit+reflect" => Ok(AclAction::PermitReflect),
            _ => Err(format!(
                "ACL action '{s}': expected permit, deny or permit+reflect"
            )),
        }
    }
}

/// An inclusive range of L4 ports (for ICMP: of types or of codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    pub const ANY: PortRange = PortRange {
        lo: 0,
        hi: u16::MAX,
    };

    /// A range; refused when `lo > hi`.
    pub fn new(lo: u16, hi: u16) -> Result<PortRange, String> {
        let range = PortRange { lo, hi };
        range.validate()?;
        Ok(range)
    }

    pub const fn single(port: u16) -> PortRange {
        PortRange { lo: port, hi: port }
    }

    /// The fields are public, so whoever consumes a range (the ACL table) checks it again.
    pub fn validate(&self) -> Result<(), String> {
        if self.lo > self.hi {
            Err(format!(
                "port range {}-{}: low end above high end",
                self.lo, self.hi
            ))
        } else {
            Ok(())
        }
    }

    pub const fn contains(&self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }

    pub const fn is_any(&self) -> bool {
        self.lo == 0 && self.hi == u16::MAX
    }

    pub const fn is_single(&self) -> bool {
        self.lo == self.hi
    }
}

impl fmt::Display for PortRange {
    /// VPP's form: `80` for a single port, `1024-65535` for a range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

impl FromStr for PortRange {
    type Err = String;
    /// `A` or `A-B`, each 0..=65535, `A <= B`.
    fn from_str(s: &str) -> Result<Self, String> {
        let port = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| format!("port range {s}: '{p}' is not a port 0..=65535"))
        };
        match s.split_once('-') {
            Some((lo, hi)) => PortRange::new(port(lo)?, port(hi)?),
            None => Ok(PortRange::single(port(s)?)),
        }
    }
}

/// Which way a packet crosses an interface: VPP's `is_input`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Input,
    Output,
}

impl Direction {
    pub const fn opposite(self) -> Direction {
        match self {
            Direction::Input => Direction::Output,
            Direction::Output => Direction::Input,
        }
    }

    pub const fn is_input(self) -> bool {
        matches!(self, Direction::Input)
    }

    /// Both, in the order of every per-direction pair (`[input, output]`).
    pub const BOTH: [Direction; 2] = [Direction::Input, Direction::Output];

    /// Its place in a per-direction pair (`[input, output]`).
    pub const fn slot(self) -> usize {
        match self {
            Direction::Input => 0,
            Direction::Output => 1,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
        })
    }
}

impl FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "input" => Ok(Direction::Input),
            "output" => Ok(Direction::Output),
            _ => Err(format!("direction '{s}': expected input or output")),
        }
    }
}

/// One rule of an ACL. `proto` 0 means any protocol, and then the ports and TCP flags
/// are not looked at. For ICMP, `sport` is the range of types and `dport` of codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AclRule {
    pub action: AclAction,
    pub src: Ipv4Prefix,
    pub dst: Ipv4Prefix,
    pub proto: u8,
    pub sport: PortRange,
    pub dport: PortRange,
    pub tcp_flags_value: u8,
    pub tcp_flags_mask: u8,
}

impl AclRule {
    const ANY_PREFIX: Ipv4Prefix = Ipv4Prefix {
        addr: Ipv4Addr::UNSPECIFIED,
        len: 0,
    };

    /// A rule that matches every packet: `<action> src 0.0.0.0/0 dst 0.0.0.0/0 proto 0`.
    pub const fn any(action: AclAction) -> AclRule {
        AclRule {
            action,
            src: AclRule::ANY_PREFIX,
            dst: AclRule::ANY_PREFIX,
            proto: 0,
            sport: PortRange::ANY,
            dport: PortRange::ANY,
            tcp_flags_value: 0,
            tcp_flags_mask: 0,
        }
    }

    /// Checks what the public fields cannot enforce by themselves.
    pub fn validate(&self) -> Result<(), String> {
        self.sport.validate()?;
        self.dport.validate()?;
        if self.tcp_flags_value & !self.tcp_flags_mask != 0 {
            return Err(format!(
                "tcpflags {} mask {}: value has bits outside the mask, so it can never match",
                self.tcp_flags_value, self.tcp_flags_mask
            ));
        }
        Ok(())
    }

    /// Whether the rule looks at L4 fields at all; only such rules skip non-first fragments.
    pub const fn has_l4_fields(&self) -> bool {
        self.proto != 0
            && (!self.sport.is_any() || !self.dport.is_any() || self.tcp_flags_mask != 0)
    }
}

impl fmt::Display for AclRule {
    /// The rule part of VPP's `show acl-plugin acl` line, after the index.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ipv4 {} src {} dst {} proto {} sport {} dport {}",
            self.action,
            self.src.network(),
            self.dst.network(),
            self.proto,
            self.sport,
            self.dport
        )?;
        if self.tcp_flags_mask != 0 || self.tcp_flags_value != 0 {
            write!(
                f,
                " tcpflags {} mask {}",
                self.tcp_flags_value, self.tcp_flags_mask
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_prints_and_parses_as_vpp() {
        for (a, s, code) in [
            (AclAction::Deny, "deny", 0),
            (AclAction::Permit, "permit", 1),
            (AclAction::PermitReflect, "permit+reflect", 2),
        ] {
            assert_eq!(a.to_string(), s);
            assert_eq!(s.parse::<AclAction>(), Ok(a));
            assert_eq!(a.code(), code);
        }
        assert_eq!(
            "allow".parse::<AclAction>().unwrap_err(),
            "ACL action 'allow': expected permit, deny or permit+reflect"
        );
    }

    #[test]
    fn port_range_parses_and_refuses_reversed() {
        assert_eq!("80".parse::<PortRange>(), Ok(PortRange::single(80)));
        assert_eq!(
            "1024-65535".parse::<PortRange>(),
            Ok(PortRange {
                lo: 1024,
                hi: 65535
            })
        );
        assert_eq!(
            "90-80".parse::<PortRange>().unwrap_err(),
            "port range 90-80: low end above high end"
        );
        assert_eq!(
            PortRange::new(90, 80).unwrap_err(),
            "port range 90-80: low end above high end"
        );
        assert_eq!(
            "80-70000".parse::<PortRange>().unwrap_err(),
            "port range 80-70000: '70000' is not a port 0..=65535"
        );
        assert_eq!(PortRange::ANY.to_string(), "0-65535");
        assert_eq!(PortRange::single(53).to_string(), "53");
    }

    #[test]
    fn rule_prints_as_vpp_show_acl() {
        let mut rule = AclRule::any(AclAction::PermitReflect);
        assert_eq!(
            rule.to_string(),
            "ipv4 permit+reflect src 0.0.0.0/0 dst 0.0.0.0/0 proto 0 sport 0-65535 dport 0-65535"
        );
        rule.proto = 6;
        rule.dport = PortRange::single(80);
        rule.tcp_flags_value = 2;
        rule.tcp_flags_mask = 0x12;
        assert_eq!(
            rule.to_string(),
            "ipv4 permit+reflect src 0.0.0.0/0 dst 0.0.0.0/0 proto 6 sport 0-65535 dport 80 tcpflags 2 mask 18"
        );
        assert!(rule.has_l4_fields());
        assert!(!AclRule::any(AclAction::Deny).has_l4_fields());
    }

    #[test]
    fn direction_round_trips() {
        for d in [Direction::Input, Direction::Output] {
            assert_eq!(d.to_string().parse::<Direction>(), Ok(d));
            assert_eq!(d.opposite().opposite(), d);
        }
        assert!("in".parse::<Direction>().is_err());
    }
}
