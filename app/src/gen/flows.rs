//! Which packets the client pods send: a tuple space of client addresses × ports, a
//! list of services (VIP:port, with the endpoints behind each), and how flows walk it.
//!
//! Flows are computed, not stored: flow `i` is client port `i mod ports` of client
//! address `i div ports`, talking to service `i mod services`. So a million flows cost
//! no memory, and a reply's destination (client addr:port) gives its flow back in O(1).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::str::FromStr;

/// Layer 4 of the generated packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Udp,
    /// TCP SYN: every packet opens a connection (the endpoint answers SYN-ACK).
    TcpSyn,
    /// TCP PSH+ACK: data on an established connection.
    TcpData,
}

impl Protocol {
    pub const fn ip_protocol(self) -> u8 {
        match self {
            Protocol::Udp => 17,
            Protocol::TcpSyn | Protocol::TcpData => 6,
        }
    }
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "udp" => Ok(Protocol::Udp),
            "tcp-syn" | "syn" => Ok(Protocol::TcpSyn),
            "tcp" | "tcp-data" => Ok(Protocol::TcpData),
            _ => Err(format!("protocol '{s}': expected udp, tcp-syn or tcp-data")),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Udp => "udp",
            Protocol::TcpSyn => "tcp-syn",
            Protocol::TcpData => "tcp-data",
        })
    }
}

/// Consecutive IPv4 addresses, `A` or `A-B` (inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrRange {
    pub first: u32,
    pub count: u32,
}

impl AddrRange {
    pub fn contains(&self, addr: u32) -> bool {
        addr.wrapping_sub(self.first) < self.count
    }
}

impl FromStr for AddrRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parse = |a: &str| {
            a.parse::<Ipv4Addr>()
                .map(u32::from)
                .map_err(|_| format!("address range {s}: '{a}' is not an IPv4 address"))
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(s)?, parse(s)?),
        };
        if last < first {
            return Err(format!(
                "address range {s}: the last address is below the first"
            ));
        }
        let count = (last - first)
            .checked_add(1)
            .ok_or_else(|| format!("address range {s}: covers the whole address space"))?;
        Ok(AddrRange { first, count })
    }
}

impl fmt::Display for AddrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = Ipv4Addr::from(self.first);
        if self.count == 1 {
            write!(f, "{first}")
        } else {
            write!(
                f,
                "{first}-{}",
                Ipv4Addr::from(self.first + (self.count - 1))
            )
        }
    }
}

/// Consecutive ports, `P` or `P-Q` (inclusive), never port 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub count: u32,
}

impl PortRange {
    pub fn contains(&self, port: u16) -> bool {
        port >= self.first && u32::from(port - self.first) < self.count
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parse = |p: &str| match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("port range {s}: '{p}' is not a port 1..=65535")),
            Ok(port) => Ok(port),
        };
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(s)?, parse(s)?),
        };
        if last < first {
            return Err(format!("port range {s}: the last port is below the first"));
        }
        Ok(PortRange {
            first,
            count: u32::from(last - first) + 1,
        })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count == 1 {
            write!(f, "{}", self.first)
        } else {
            write!(
                f,
                "{}-{}",
                self.first,
                u32::from(self.first) + self.count - 1
            )
        }
    }
}

/// A service: the VIP:port clients send to, and the endpoints it may be translated to.
/// `VIP:PORT` alone means the VIP is its own endpoint (no NAT in the path, e.g. when
/// testpmd stands where podfwd would).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub vip: SocketAddrV4,
    pub endpoints: Vec<SocketAddrV4>,
}

impl Service {
    pub fn has_endpoint(&self, addr: u32, port: u16) -> bool {
        self.endpoints
            .iter()
            .any(|e| u32::from(*e.ip()) == addr && e.port() == port)
    }
}

fn parse_socket(service: &str, text: &str) -> Result<SocketAddrV4, String> {
    let socket: SocketAddrV4 = text
        .parse()
        .map_err(|_| format!("service {service}: '{text}' is not ADDRESS:PORT"))?;
    if socket.port() == 0 {
        return Err(format!("service {service}: '{text}' has port 0"));
    }
    Ok(socket)
}

impl FromStr for Service {
    type Err = String;
    /// `VIP:PORT` or `VIP:PORT=EP:PORT[+EP:PORT...]`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (vip, endpoints) = match s.split_once('=') {
            Some((vip, eps)) => (vip, Some(eps)),
            None => (s, None),
        };
        let vip = parse_socket(s, vip)?;
        let endpoints = match endpoints {
            None => vec![vip],
            Some(eps) => eps
                .split('+')
                .map(|e| parse_socket(s, e))
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Service { vip, endpoints })
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.vip)?;
        if self.endpoints != [self.vip] {
            for (i, e) in self.endpoints.iter().enumerate() {
                write!(f, "{}{e}", if i == 0 { '=' } else { '+' })?;
            }
        }
        Ok(())
    }
}

/// One flow's identity as the client sends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowTuple {
    pub index: u64,
    pub client_addr: u32,
    pub client_port: u16,
    pub service: usize,
}

/// Frame sizes are given as on the wire, with the 4-byte FCS (a "64-byte frame" is the
/// shortest Ethernet frame, as traffic generators and RFC 2544 count it): the frame
/// podfwd-gen builds is 4 bytes shorter. testpmd's txonly lengths exclude the FCS.
pub const FCS_LEN: usize = 4;
pub const MIN_WIRE_SIZE: usize = 64;
pub const MAX_WIRE_SIZE: usize = 1518;

/// Everything that decides which packets the client pods send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSpec {
    pub clients: AddrRange,
    pub client_ports: PortRange,
    pub services: Vec<Service>,
    pub protocol: Protocol,
    /// On-wire frame size, FCS included.
    pub wire_size: usize,
    /// Established flows cycled over; with `new_flows` each packet takes the next
    /// tuple of the whole tuple space instead.
    pub flows: u64,
    pub new_flows: bool,
    /// 0, or N: one packet in N opens a new flow (the next tuple past the established
    /// ones, round and round), the others cycle over the established flows.
    pub new_every: u64,
    /// Requests may arrive source-NATed (`--snat`): their client is then unknown.
    pub snat: bool,
}

impl FlowSpec {
    /// Checks the combination; the error names the value that does not fit.
    pub fn validate(&self) -> Result<(), String> {
        if self.services.is_empty() {
            return Err("no service: give at least one --service VIP:PORT[=EP:PORT]".into());
        }
        if !(MIN_WIRE_SIZE..=MAX_WIRE_SIZE).contains(&self.wire_size) {
            return Err(format!(
                "packet size {}: must be {MIN_WIRE_SIZE}..={MAX_WIRE_SIZE} bytes on the wire",
                self.wire_size
            ));
        }
        // With --new-flows no flow is established: the count is unused.
        if !self.new_flows {
            self.check_flow_count(self.flows)?;
        }
        if self.new_every > 0 {
            if self.new_flows {
                return Err("--new-flow-every and --new-flows: give one of them".into());
            }
            if self.new_every < 2 {
                return Err(format!(
                    "new flow every {}: must be 2 or more (every packet: --new-flows)",
                    self.new_every
                ));
            }
            if self.protocol == Protocol::TcpSyn {
                return Err(
                    "--new-flow-every with tcp-syn: every packet opens a connection; use udp \
                     or tcp-data"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// Whether `flows` established flows fit the tuple space (for `set flows N`).
    pub fn check_flow_count(&self, flows: u64) -> Result<(), String> {
        if flows == 0 {
            return Err("flows 0: need at least one flow".into());
        }
        if flows > self.tuple_space() {
            return Err(format!(
                "flows {flows}: only {} client tuples ({} addresses x {} ports)",
                self.tuple_space(),
                self.clients.count,
                self.client_ports.count
            ));
        }
        if self.new_every > 0 && flows >= self.tuple_space() {
            return Err(format!(
                "flows {flows}: with --new-flow-every, new flows need client tuples past the \
                 established ones, and there are {} ({} addresses x {} ports)",
                self.tuple_space(),
                self.clients.count,
                self.client_ports.count
            ));
        }
        Ok(())
    }

    /// Frame length in the buffer (without FCS).
    pub fn frame_len(&self) -> usize {
        self.wire_size - FCS_LEN
    }

    pub fn tuple_space(&self) -> u64 {
        u64::from(self.clients.count) * u64::from(self.client_ports.count)
    }

    /// The flow the `sequence`-th packet belongs to.
    pub fn flow_for_packet(&self, sequence: u64) -> u64 {
        let span = if self.new_flows {
            self.tuple_space()
        } else {
            self.flows
        };
        sequence % span.max(1)
    }

    pub fn tuple(&self, index: u64) -> FlowTuple {
        let ports = u64::from(self.client_ports.count.max(1));
        let index = index % self.tuple_space().max(1);
        FlowTuple {
            index,
            client_addr: self.clients.first.wrapping_add((index / ports) as u32),
            client_port: self.client_ports.first.wrapping_add((index % ports) as u16),
            service: (index % self.services.len().max(1) as u64) as usize,
        }
    }

    /// The service flow `index` talks to (no division with a single service).
    pub fn service_of(&self, index: u64) -> usize {
        match self.services.len() {
            0 | 1 => 0,
            n => (index % n as u64) as usize,
        }
    }

    /// The flow whose client is `addr:port`, if it is one of ours.
    pub fn flow_of_client(&self, addr: u32, port: u16) -> Option<u64> {
        if !self.clients.contains(addr) || !self.client_ports.contains(port) {
            return None;
        }
        let address_offset = u64::from(addr.wrapping_sub(self.clients.first));
        let port_offset = u64::from(port - self.client_ports.first);
        Some(address_offset * u64::from(self.client_ports.count) + port_offset)
    }
}

/// Walks the flows of successive packets without a division per packet: the same
/// sequence as `spec.tuple(spec.flow_for_packet(n))` for n = 0, 1, 2, ... (or, for
/// [`FlowCursor::new_flows`], the tuples past the established flows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowCursor {
    tuple: FlowTuple,
    port_offset: u32,
    /// The tuples walked: [start, end).
    start: u64,
    end: u64,
    /// Times the walk came back to `start`.
    wraps: u64,
}

impl FlowCursor {
    pub fn new(spec: &FlowSpec) -> FlowCursor {
        let end = if spec.new_flows {
            spec.tuple_space()
        } else {
            spec.flows
        };
        FlowCursor::over(spec, 0, end)
    }

    /// The new flows of `--new-flow-every`: the tuples past the established ones.
    pub fn new_flows(spec: &FlowSpec) -> FlowCursor {
        FlowCursor::over(spec, spec.flows, spec.tuple_space())
    }

    fn over(spec: &FlowSpec, start: u64, end: u64) -> FlowCursor {
        let ports = u64::from(spec.client_ports.count.max(1));
        FlowCursor {
            tuple: spec.tuple(start),
            port_offset: (start % ports) as u32,
            start,
            end: end.max(start + 1),
            wraps: 0,
        }
    }

    /// Times the cursor has gone back to its first tuple: with new flows, each time
    /// every later "new" flow reuses a tuple an earlier one opened.
    pub fn wraps(&self) -> u64 {
        self.wraps
    }

    /// The current packet's flow; then moves to the next packet's.
    pub fn next(&mut self, spec: &FlowSpec) -> FlowTuple {
        let current = self.tuple;
        let index = current.index + 1;
        if index >= self.end {
            let wraps = self.wraps + 1;
            *self = FlowCursor::over(spec, self.start, self.end);
            self.wraps = wraps;
            return current;
        }
        self.port_offset += 1;
        if self.port_offset >= spec.client_ports.count {
            self.port_offset = 0;
            self.tuple.client_addr = self.tuple.client_addr.wrapping_add(1);
        }
        self.tuple.client_port = spec
            .client_ports
            .first
            .wrapping_add(self.port_offset as u16);
        self.tuple.service += 1;
        if self.tuple.service >= spec.services.len() {
            self.tuple.service = 0;
        }
        self.tuple.index = index;
        current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_counts_its_wraps() {
        let spec = FlowSpec {
            clients: "10.1.1.3".parse().unwrap(),
            client_ports: "1000-1009".parse().unwrap(),
            services: vec!["10.104.221.85:80=10.20.0.2:8080".parse().unwrap()],
            protocol: Protocol::Udp,
            wire_size: 64,
            flows: 4,
            new_flows: false,
            new_every: 0,
            snat: false,
        };
        let mut established = FlowCursor::new(&spec);
        let mut new = FlowCursor::new_flows(&spec);
        for _ in 0..4 * 3 {
            established.next(&spec);
        }
        for _ in 0..6 * 2 + 1 {
            new.next(&spec);
        }
        assert_eq!((established.wraps(), new.wraps()), (3, 2));
        assert_eq!(new.next(&spec).index, 5);
    }

    fn spec() -> FlowSpec {
        FlowSpec {
            clients: "10.1.1.3-10.1.1.4".parse().unwrap(),
            client_ports: "1024-1026".parse().unwrap(),
            services: vec![
                "10.104.221.85:80=10.20.0.2:8080".parse().unwrap(),
                "10.96.0.10:53=10.1.2.2:53+10.1.2.3:53".parse().unwrap(),
            ],
            protocol: Protocol::TcpSyn,
            wire_size: 64,
            flows: 4,
            new_flows: false,
            new_every: 0,
            snat: false,
        }
    }

    #[test]
    fn parses_ranges() {
        assert_eq!(
            "10.0.0.1-10.0.1.0".parse::<AddrRange>(),
            Ok(AddrRange {
                first: 0x0a00_0001,
                count: 256
            })
        );
        assert_eq!("10.0.0.1".parse::<AddrRange>().unwrap().count, 1);
        assert_eq!(
            "1024-65535".parse::<PortRange>(),
            Ok(PortRange {
                first: 1024,
                count: 64512
            })
        );
        assert_eq!(
            "1024-65535".parse::<PortRange>().unwrap().to_string(),
            "1024-65535"
        );
        assert_eq!(
            "10.0.0.1-10.0.1.0"
                .parse::<AddrRange>()
                .unwrap()
                .to_string(),
            "10.0.0.1-10.0.1.0"
        );
    }

    #[test]
    fn range_errors_name_the_problem() {
        assert_eq!(
            "10.0.0.9-10.0.0.1".parse::<AddrRange>(),
            Err("address range 10.0.0.9-10.0.0.1: the last address is below the first".into())
        );
        assert_eq!(
            "10.0.0.300".parse::<AddrRange>(),
            Err("address range 10.0.0.300: '10.0.0.300' is not an IPv4 address".into())
        );
        assert_eq!(
            "0.0.0.0-255.255.255.255".parse::<AddrRange>(),
            Err("address range 0.0.0.0-255.255.255.255: covers the whole address space".into())
        );
        assert_eq!(
            "0-10".parse::<PortRange>(),
            Err("port range 0-10: '0' is not a port 1..=65535".into())
        );
        assert!("20-10".parse::<PortRange>().is_err());
    }

    #[test]
    fn parses_services() {
        let s: Service = "10.96.0.10:53=10.1.2.2:53+10.1.2.3:5353".parse().unwrap();
        assert_eq!(s.vip, "10.96.0.10:53".parse().unwrap());
        assert_eq!(s.endpoints.len(), 2);
        assert!(s.has_endpoint(0x0a01_0203, 5353));
        assert!(!s.has_endpoint(0x0a01_0203, 53));
        assert_eq!(s.to_string(), "10.96.0.10:53=10.1.2.2:53+10.1.2.3:5353");
        let identity: Service = "10.96.0.10:80".parse().unwrap();
        assert_eq!(identity.endpoints, vec![identity.vip]);
        assert_eq!(identity.to_string(), "10.96.0.10:80");
        assert_eq!(
            "10.96.0.10:0".parse::<Service>(),
            Err("service 10.96.0.10:0: '10.96.0.10:0' has port 0".into())
        );
        assert!("10.96.0.10:80=".parse::<Service>().is_err());
        assert!("10.96.0.10".parse::<Service>().is_err());
    }

    #[test]
    fn tuples_walk_ports_then_addresses_and_map_back() {
        let spec = spec();
        assert_eq!(spec.tuple_space(), 6);
        let t = spec.tuple(4);
        assert_eq!(
            (t.client_addr, t.client_port, t.service),
            (0x0a01_0104, 1025, 0)
        );
        for index in 0..spec.tuple_space() {
            let t = spec.tuple(index);
            assert_eq!(
                spec.flow_of_client(t.client_addr, t.client_port),
                Some(index)
            );
            assert_eq!(spec.service_of(index), t.service);
        }
        assert_eq!(spec.flow_of_client(0x0a01_0105, 1024), None);
        assert_eq!(spec.flow_of_client(0x0a01_0103, 1027), None);
        assert_eq!(spec.flow_of_client(0x0a01_0103, 1023), None);
    }

    /// `--new-flow-every`: the new flows' cursor walks the tuples past the established
    /// ones, round and round, as `tuple` gives them; the established cursor is the same.
    #[test]
    fn new_flows_cursor_walks_the_tuples_past_the_established_ones() {
        let mut spec = spec();
        (spec.flows, spec.new_every, spec.protocol) = (4, 3, Protocol::Udp);
        assert_eq!(spec.tuple_space(), 6);
        spec.validate().unwrap();
        let mut new = FlowCursor::new_flows(&spec);
        let walked: Vec<FlowTuple> = (0..5).map(|_| new.next(&spec)).collect();
        let expected: Vec<FlowTuple> = [4, 5, 4, 5, 4].map(|i| spec.tuple(i)).to_vec();
        assert_eq!(walked, expected);
        let mut established = FlowCursor::new(&spec);
        let walked: Vec<u64> = (0..6).map(|_| established.next(&spec).index).collect();
        assert_eq!(walked, [0, 1, 2, 3, 0, 1]);
        // No room for new flows, or a combination that makes no sense: refused.
        assert!(spec
            .check_flow_count(6)
            .unwrap_err()
            .contains("new flows need"));
        for (flows, every, new_flows, proto, needle) in [
            (4, 1, false, Protocol::Udp, "must be 2 or more"),
            (4, 3, true, Protocol::Udp, "give one of them"),
            (4, 3, false, Protocol::TcpSyn, "with tcp-syn"),
            (6, 3, false, Protocol::Udp, "new flows need"),
        ] {
            let mut bad = spec.clone();
            (bad.flows, bad.new_every, bad.new_flows, bad.protocol) =
                (flows, every, new_flows, proto);
            let error = bad.validate().unwrap_err();
            assert!(error.contains(needle), "{error}");
        }
    }

    #[test]
    fn established_flows_cycle_and_new_flows_walk_the_tuple_space() {
        let mut spec = spec();
        let seen: Vec<u64> = (0..6).map(|s| spec.flow_for_packet(s)).collect();
        assert_eq!(seen, [0, 1, 2, 3, 0, 1]);
        spec.new_flows = true;
        let seen: Vec<u64> = (0..8).map(|s| spec.flow_for_packet(s)).collect();
        assert_eq!(seen, [0, 1, 2, 3, 4, 5, 0, 1]);
    }

    #[test]
    fn cursor_walks_the_same_flows_as_the_formula() {
        let mut spec = spec();
        spec.services.push("10.96.0.11:80".parse().unwrap());
        for (flows, new_flows) in [(4, false), (6, false), (1, false), (5, true)] {
            spec.flows = flows;
            spec.new_flows = new_flows;
            let mut cursor = FlowCursor::new(&spec);
            for n in 0..40 {
                assert_eq!(
                    cursor.next(&spec),
                    spec.tuple(spec.flow_for_packet(n)),
                    "flows {flows} packet {n}"
                );
            }
        }
    }

    #[test]
    fn validation_names_the_value() {
        let mut spec = spec();
        assert_eq!(spec.validate(), Ok(()));
        assert_eq!(
            spec.check_flow_count(7),
            Err("flows 7: only 6 client tuples (2 addresses x 3 ports)".into())
        );
        spec.wire_size = 63;
        assert_eq!(
            spec.validate(),
            Err("packet size 63: must be 64..=1518 bytes on the wire".into())
        );
        spec.wire_size = 64;
        spec.services.clear();
        assert!(spec.validate().unwrap_err().starts_with("no service"));
    }
}
