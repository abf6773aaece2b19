//! Small value types shared by the stages and the control plane.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An interface's index: VPP's `sw_if_index`. Assigned in the order interfaces are
/// created, from 1 (0 is VPP's `local0`, which podfwd does not have).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct IfIndex(pub u16);

impl IfIndex {
    pub const fn as_usize(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for IfIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An Ethernet address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for MacAddr {
    type Err = String;
    /// `aa:bb:cc:dd:ee:ff`; VPP also accepts `aabb.ccdd.eeff`, so do we.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("MAC {s}: expected six hex octets like 02:fe:16:3f:5f:0f");
        let mut out = [0u8; 6];
        if s.contains('.') {
            let groups: Vec<&str> = s.split('.').collect();
            if groups.len() != 3 {
                return Err(bad());
            }
            for (i, g) in groups.iter().enumerate() {
                if g.len() != 4 || !is_hex(g) {
                    return Err(bad());
                }
                let v = u16::from_str_radix(g, 16).map_err(|_| bad())?;
                out[2 * i..2 * i + 2].copy_from_slice(&v.to_be_bytes());
            }
            return Ok(MacAddr(out));
        }
        let octets: Vec<&str> = s.split(':').collect();
        if octets.len() != 6 {
            return Err(format!("MAC {s}: has {} octets, expected 6", octets.len()));
        }
        for (i, o) in octets.iter().enumerate() {
            if o.is_empty() || o.len() > 2 || !is_hex(o) {
                return Err(bad());
            }
            out[i] = u8::from_str_radix(o, 16).map_err(|_| bad())?;
        }
        Ok(MacAddr(out))
    }
}

/// Only hex digits: `from_str_radix` also takes a leading '+' (`+f` as an octet).
fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An IPv4 prefix; the address is kept as given, [`Ipv4Prefix::network`] masks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Prefix {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Ipv4Prefix {
    /// A prefix; `None` when `len > 32`.
    pub const fn new(addr: Ipv4Addr, len: u8) -> Option<Ipv4Prefix> {
        if len > 32 {
            None
        } else {
            Some(Ipv4Prefix { addr, len })
        }
    }

    pub const fn host(addr: Ipv4Addr) -> Ipv4Prefix {
        Ipv4Prefix { addr, len: 32 }
    }

    pub const fn mask(&self) -> u32 {
        if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - self.len as u32)
        }
    }

    /// The prefix with host bits cleared.
    pub const fn network(&self) -> Ipv4Prefix {
        Ipv4Prefix {
            addr: Ipv4Addr::from_bits(self.addr.to_bits() & self.mask()),
            len: self.len,
        }
    }

    pub const fn contains(&self, ip: Ipv4Addr) -> bool {
        (ip.to_bits() ^ self.addr.to_bits()) & self.mask() == 0
    }

    /// The subnet's network and broadcast addresses, which no host on it may use: only
    /// for /30 and shorter (a /31 has two hosts and no broadcast, RFC 3021).
    pub const fn subnet_ends(&self) -> Option<[Ipv4Addr; 2]> {
        if self.len > 30 {
            return None;
        }
        let network = self.addr.to_bits() & self.mask();
        Some([
            Ipv4Addr::from_bits(network),
            Ipv4Addr::from_bits(network | !self.mask()),
        ])
    }

    /// Whether `ip` is on this subnet and may be a host there.
    pub fn has_host(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && !self.subnet_ends().is_some_and(|ends| ends.contains(&ip))
    }
}

impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Ipv4Prefix {
    type Err = String;
    /// `A.B.C.D/LEN`; the message names the prefix and what is wrong with it.
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| format!("prefix {s}: expected A.B.C.D/LEN"))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("prefix {s}: '{a}' is not an IPv4 address"))?;
        let bad_len = || format!("prefix {s}: length must be 0..=32");
        // `str::parse` takes `+24`; a length is digits only.
        if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_len());
        }
        let len: u32 = l.parse().map_err(|_| bad_len())?;
        if len > 32 {
            return Err(bad_len());
        }
        Ok(Ipv4Prefix {
            addr,
            len: len as u8,
        })
    }
}

/// IP protocol numbers the stages care about.
pub mod ip_proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
}

/// A 5-tuple as the ACL and NAT stages see it. For ICMP echo, `src_port` is the
/// identifier and `dst_port` is 0 (NAT), or type and code (ACL rule matching).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub proto: u8,
}

impl FlowKey {
    /// The same flow seen from the other end.
    pub const fn reversed(&self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            proto: self.proto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parses_and_prints() {
        let m: MacAddr = "02:fe:16:3f:5f:0f".parse().unwrap();
        assert_eq!(m.0, [0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f]);
        assert_eq!(m.to_string(), "02:fe:16:3f:5f:0f");
        assert_eq!("02fe.163f.5f0f".parse::<MacAddr>().unwrap(), m);
        assert!(m.is_unicast());
        assert!(MacAddr::BROADCAST.is_multicast());
    }

    #[test]
    fn mac_with_five_octets_is_refused() {
        let e = "02:fe:16:3f:5f".parse::<MacAddr>().unwrap_err();
        assert_eq!(e, "MAC 02:fe:16:3f:5f: has 5 octets, expected 6");
        assert!("02:fe:16:3f:5f:zz".parse::<MacAddr>().is_err());
        assert!("02:fe:16:3f:5f:100".parse::<MacAddr>().is_err());
    }

    /// `from_str_radix` and `str::parse` take a leading '+'; an address does not.
    #[test]
    fn plus_signs_are_refused_in_macs_and_prefix_lengths() {
        for mac in ["02:fe:16:3f:5f:+f", "+2:fe:16:3f:5f:0f", "02fe.163f.+f0f"] {
            assert_eq!(
                mac.parse::<MacAddr>().unwrap_err(),
                format!("MAC {mac}: expected six hex octets like 02:fe:16:3f:5f:0f")
            );
        }
        for prefix in ["10.0.0.0/+24", "10.0.0.0/+0", "10.0.0.0/", "10.0.0.0/ 8"] {
            assert_eq!(
                prefix.parse::<Ipv4Prefix>().unwrap_err(),
                format!("prefix {prefix}: length must be 0..=32")
            );
        }
        assert_eq!("10.0.0.0/024".parse::<Ipv4Prefix>().map(|p| p.len), Ok(24));
        // The spec's tap0 MAC has the group bit set and stays accepted.
        assert!("01:23:45:67:89:42".parse::<MacAddr>().is_ok());
    }

    #[test]
    fn subnet_ends_are_network_and_broadcast_up_to_slash_30() {
        let p = |s: &str| s.parse::<Ipv4Prefix>().unwrap();
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            p("10.1.1.1/24").subnet_ends(),
            Some([ip("10.1.1.0"), ip("10.1.1.255")])
        );
        assert_eq!(
            p("10.1.1.6/30").subnet_ends(),
            Some([ip("10.1.1.4"), ip("10.1.1.7")])
        );
        assert_eq!(p("10.1.1.1/31").subnet_ends(), None);
        assert_eq!(p("10.1.1.1/32").subnet_ends(), None);
        assert_eq!(
            p("0.0.0.0/0").subnet_ends(),
            Some([ip("0.0.0.0"), ip("255.255.255.255")])
        );
        let net = p("10.1.1.1/24");
        assert!(net.has_host(ip("10.1.1.254")));
        assert!(!net.has_host(ip("10.1.1.255")));
        assert!(!net.has_host(ip("10.1.1.0")));
        assert!(!net.has_host(ip("10.1.2.1")));
        assert!(p("10.1.1.0/31").has_host(ip("10.1.1.0")));
    }

    #[test]
    fn prefix_parses_and_checks_length() {
        let p: Ipv4Prefix = "10.1.1.7/24".parse().unwrap();
        assert_eq!(p.network().to_string(), "10.1.1.0/24");
        assert!(p.contains("10.1.1.200".parse().unwrap()));
        assert!(!p.contains("10.1.2.1".parse().unwrap()));
        assert_eq!(
            "10.1.1.0/33".parse::<Ipv4Prefix>().unwrap_err(),
            "prefix 10.1.1.0/33: length must be 0..=32"
        );
        assert!("10.1.1/24".parse::<Ipv4Prefix>().is_err());
        let any: Ipv4Prefix = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("255.1.2.3".parse().unwrap()));
        assert_eq!(
            Ipv4Prefix::host("1.2.3.4".parse().unwrap()).mask(),
            u32::MAX
        );
    }

    #[test]
    fn flow_key_reverses() {
        let k = FlowKey {
            src: "10.1.1.3".parse().unwrap(),
            dst: "10.104.221.85".parse().unwrap(),
            src_port: 46310,
            dst_port: 80,
            proto: ip_proto::TCP,
        };
        let r = k.reversed();
        assert_eq!((r.src, r.src_port, r.dst_port), (k.dst, 80, 46310));
        assert_eq!(r.reversed(), k);
    }
}
