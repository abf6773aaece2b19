//! The translation checker: what podfwd should have done to each packet, per side.
//!
//! Client side (port A, the pods): a reply must be addressed to the pods' MAC, come
//! from the VIP:port its flow was sent to, to the client addr:port of a flow requests
//! went to (the very flow, where the payload carries its tag), with valid checksums.
//! Endpoint side (port B): a request must arrive at one of its service's endpoints
//! (any service's, when source NAT hid the client: `--snat`; without it the request
//! must come from one of the flows' clients), with valid checksums. Its MAC is
//! not checked: the generator stands for every host behind the port, and a forwarder
//! may address them with any MAC its neighbour table holds (or none it rewrites, as
//! testpmd io).

use podfwd::types::MacAddr;

use super::flows::FlowSpec;
use super::frame::{
    flow_tag, ip_checksum_ok, l4_checksum_ok, offsets, parse, stamp, stamped_flow, Malformed,
    Parsed, Stamp, TCP_RST,
};

/// A packet podfwd forwarded, but not as the service mapping says it should.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mistranslation {
    WrongMac,
    UnknownClient,
    WrongClient,
    WrongService,
    WrongEndpoint,
    WrongProtocol,
    BadIpChecksum,
    BadL4Checksum,
}

impl Mistranslation {
    pub const ALL: [Mistranslation; 8] = [
        Mistranslation::WrongMac,
        Mistranslation::UnknownClient,
        Mistranslation::WrongClient,
        Mistranslation::WrongService,
        Mistranslation::WrongEndpoint,
        Mistranslation::WrongProtocol,
        Mistranslation::BadIpChecksum,
        Mistranslation::BadL4Checksum,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Mistranslation::WrongMac => "wrong_mac",
            Mistranslation::UnknownClient => "unknown_client",
            Mistranslation::WrongClient => "wrong_client",
            Mistranslation::WrongService => "wrong_service",
            Mistranslation::WrongEndpoint => "wrong_endpoint",
            Mistranslation::WrongProtocol => "wrong_protocol",
            Mistranslation::BadIpChecksum => "bad_ip_checksum",
            Mistranslation::BadL4Checksum => "bad_l4_checksum",
        }
    }

    pub const fn description(self) -> &'static str {
        match self {
            Mistranslation::WrongMac => "reply not addressed to the client pods' MAC",
            Mistranslation::UnknownClient => "reply to an address:port no flow of the run uses",
            Mistranslation::WrongClient => "another flow's client (its tag differs)",
            Mistranslation::WrongService => "reply not from the VIP:port the request went to",
            Mistranslation::WrongEndpoint => "request not delivered to an endpoint of its service",
            Mistranslation::WrongProtocol => "protocol differs from the one sent",
            Mistranslation::BadIpChecksum => "IPv4 header checksum does not verify",
            Mistranslation::BadL4Checksum => "TCP/UDP checksum does not verify",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// What the checker made of one received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Good {
        flow: Option<u64>,
        stamp: Option<Stamp>,
    },
    Mistranslated(Mistranslation),
    Malformed(Malformed),
}

fn checksums(frame: &[u8], parsed: &Parsed) -> Result<(), Mistranslation> {
    if !ip_checksum_ok(frame, parsed) {
        return Err(Mistranslation::BadIpChecksum);
    }
    if !l4_checksum_ok(frame, parsed) {
        return Err(Mistranslation::BadL4Checksum);
    }
    Ok(())
}

/// What a reply at the client side is checked against besides the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientSide {
    /// The pods' MAC, the requests' source: the port is promiscuous, so a reply the
    /// forwarder addressed elsewhere still arrives.
    pub mac: MacAddr,
    /// Established flows requests went to this run: the most `set flows` gave during
    /// it, as replies to a larger set may still be in flight after it shrinks.
    pub flows: u64,
}

/// Checks a reply arriving at the client pods.
pub fn check_client_side(spec: &FlowSpec, side: &ClientSide, frame: &[u8]) -> Verdict {
    let parsed = match parse(frame) {
        Ok(p) => p,
        Err(m) => return Verdict::Malformed(m),
    };
    if frame.get(offsets::ETH_DST) != Some(&side.mac.0[..]) {
        return Verdict::Mistranslated(Mistranslation::WrongMac);
    }
    let Some(flow) = spec.flow_of_client(parsed.dst_addr, parsed.dst_port) else {
        return Verdict::Mistranslated(Mistranslation::UnknownClient);
    };
    // New flows walk the tuple space past the established ones (or all of it).
    let only_established = !spec.new_flows && spec.new_every == 0;
    if only_established && flow >= side.flows {
        return Verdict::Mistranslated(Mistranslation::UnknownClient);
    }
    if parsed.protocol != spec.protocol.ip_protocol() {
        return Verdict::Mistranslated(Mistranslation::WrongProtocol);
    }
    let Some(service) = spec.services.get(spec.service_of(flow)) else {
        return Verdict::Mistranslated(Mistranslation::WrongService);
    };
    if parsed.src_addr != u32::from(*service.vip.ip()) || parsed.src_port != service.vip.port() {
        return Verdict::Mistranslated(Mistranslation::WrongService);
    }
    if let Err(m) = checksums(frame, &parsed) {
        return Verdict::Mistranslated(m);
    }
    // Another flow of the same service has the same source: only the tag tells.
    if stamped_flow(frame, &parsed).is_some_and(|tag| tag != flow_tag(flow)) {
        return Verdict::Mistranslated(Mistranslation::WrongClient);
    }
    Verdict::Good {
        flow: Some(flow),
        stamp: stamp(frame, &parsed),
    }
}

/// What the endpoint side does with a frame it has checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A good request: reflected as the endpoint's reply (this is its parse).
    Reflect(Parsed),
    /// A request (not a reset) that arrived mistranslated: no endpoint of its service
    /// got it, so none answers. Counted apart, so that the report takes it as
    /// mistranslated and not also as lost.
    Unanswered,
    /// Nothing to answer: a reset closing a connection, or a frame that does not parse.
    Nothing,
}

/// Checks a request arriving at the endpoints, and says how the endpoint side answers it.
pub fn check_endpoint_side(spec: &FlowSpec, frame: &[u8]) -> (Verdict, Answer) {
    let parsed = match parse(frame) {
        Ok(p) => p,
        Err(m) => return (Verdict::Malformed(m), Answer::Nothing),
    };
    let verdict = match check_request(spec, frame, &parsed) {
        Ok(flow) => Verdict::Good {
            flow,
            stamp: stamp(frame, &parsed),
        },
        Err(m) => Verdict::Mistranslated(m),
    };
    let answer = match verdict {
        // A reset closes the connection; nothing answers it, and it is no request.
        _ if parsed.tcp_flags & TCP_RST != 0 => Answer::Nothing,
        Verdict::Good { .. } => Answer::Reflect(parsed),
        _ => Answer::Unanswered,
    };
    (verdict, answer)
}

/// The flow of a request delivered right (None when source NAT hid its client).
fn check_request(
    spec: &FlowSpec,
    frame: &[u8],
    parsed: &Parsed,
) -> Result<Option<u64>, Mistranslation> {
    if parsed.protocol != spec.protocol.ip_protocol() {
        return Err(Mistranslation::WrongProtocol);
    }
    let flow = spec.flow_of_client(parsed.src_addr, parsed.src_port);
    if flow.is_none() && !spec.snat {
        // Without source NAT on the way, the request must still come from its client.
        return Err(Mistranslation::UnknownClient);
    }
    let delivered_right = match flow.and_then(|f| spec.services.get(spec.service_of(f))) {
        Some(service) => service.has_endpoint(parsed.dst_addr, parsed.dst_port),
        // Source NAT replaced the client: the endpoint can only be checked as a set.
        None => spec
            .services
            .iter()
            .any(|s| s.has_endpoint(parsed.dst_addr, parsed.dst_port)),
    };
    if !delivered_right {
        return Err(Mistranslation::WrongEndpoint);
    }
    checksums(frame, parsed)?;
    // A source rewritten to another flow's client of the same service (and back again
    // on the reply) passes every check above: the tag the client wrote tells.
    if let (Some(flow), Some(tag)) = (flow, stamped_flow(frame, parsed)) {
        if tag != flow_tag(flow) {
            return Err(Mistranslation::WrongClient);
        }
    }
    Ok(flow)
}

/// Verdict counts of one side, owned by the worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckCounters {
    pub good: u64,
    pub malformed: u64,
    pub mistranslated: [u64; Mistranslation::ALL.len()],
}

impl CheckCounters {
    pub fn count(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Good { .. } => self.good += 1,
            Verdict::Malformed(_) => self.malformed += 1,
            Verdict::Mistranslated(m) => {
                if let Some(c) = self.mistranslated.get_mut(m.index()) {
                    *c += 1;
                }
            }
        }
    }

    pub fn mistranslated_total(&self) -> u64 {
        self.mistranslated.iter().sum()
    }

    pub fn of(&self, kind: Mistranslation) -> u64 {
        self.mistranslated.get(kind.index()).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::flows::Protocol;
    use crate::gen::frame::{FrameTemplate, Stamp};
    use crate::gen::reflect::reflect_in_place;
    use podfwd::buffer::{PacketBuf, TestBuf};

    const VIP: u32 = 0x0a68_dd55; // 10.104.221.85
    const POD_MAC: MacAddr = MacAddr([0, 0, 0, 0, 0, 2]);
    const GATEWAY_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const ENDPOINT: u32 = 0x0a14_0002; // 10.20.0.2

    fn spec() -> FlowSpec {
        FlowSpec {
            clients: "10.1.1.3-10.1.1.4".parse().unwrap(),
            client_ports: "40000-40009".parse().unwrap(),
            services: vec![
                "10.104.221.85:80=10.20.0.2:8080".parse().unwrap(),
                "10.96.0.10:53=10.1.2.2:53".parse().unwrap(),
            ],
            protocol: Protocol::Udp,
            wire_size: 64,
            flows: 20,
            new_flows: false,
            new_every: 0,
            snat: false,
        }
    }

    /// The client side as the generator runs it with `spec`.
    fn side(spec: &FlowSpec) -> ClientSide {
        ClientSide {
            mac: POD_MAC,
            flows: spec.flows,
        }
    }

    /// What the client sends for `flow` (to the VIP of service 0).
    fn sent_for(flow: u64) -> TestBuf {
        let spec = spec();
        let template = FrameTemplate::new(&spec, POD_MAC, GATEWAY_MAC);
        let mut buf = TestBuf::new(&[]);
        assert!(template.write(
            &mut buf,
            &spec.tuple(flow),
            (VIP, 80),
            Stamp {
                sequence: 1,
                tsc: 2
            }
        ));
        buf
    }

    /// What the client sends for flow 0 (to service 0).
    fn sent() -> TestBuf {
        sent_for(0)
    }

    /// The service's correct reply to what the client sent for `flow`.
    fn reply_for(flow: u64) -> TestBuf {
        let mut buf = sent_for(flow);
        let parsed = parse(buf.data()).unwrap();
        reflect_in_place(buf.data_mut(), &parsed);
        buf
    }

    /// Rewrites a frame's address or port the way a NAT would, checksums fixed from
    /// scratch, so only the tuple differs from what was sent.
    fn translate(buf: &mut TestBuf, dst: Option<(u32, u16)>, src: Option<(u32, u16)>) {
        use crate::gen::checksum::{add_bytes, finish};
        let f = buf.data_mut();
        if let Some((addr, port)) = dst {
            f[30..34].copy_from_slice(&addr.to_be_bytes());
            f[36..38].copy_from_slice(&port.to_be_bytes());
        }
        if let Some((addr, port)) = src {
            f[26..30].copy_from_slice(&addr.to_be_bytes());
            f[34..36].copy_from_slice(&port.to_be_bytes());
        }
        f[24..26].copy_from_slice(&[0, 0]);
        let ip = finish(add_bytes(0, &f[14..34]));
        f[24..26].copy_from_slice(&ip.to_be_bytes());
        let l4_len = u16::from_be_bytes([f[16], f[17]]) as usize - 20;
        f[40..42].copy_from_slice(&[0, 0]);
        let pseudo = add_bytes(0, &f[26..34]) + 17 + l4_len as u64;
        let l4 = finish(add_bytes(pseudo, &f[34..34 + l4_len]));
        f[40..42].copy_from_slice(&l4.to_be_bytes());
    }

    #[test]
    fn correct_round_trip_is_good_on_both_sides() {
        let spec = spec();
        let mut buf = sent();
        translate(&mut buf, Some((ENDPOINT, 8080)), None);
        let (verdict, answer) = check_endpoint_side(&spec, buf.data());
        assert_eq!(
            verdict,
            Verdict::Good {
                flow: Some(0),
                stamp: Some(Stamp {
                    sequence: 1,
                    tsc: 2
                })
            }
        );
        let Answer::Reflect(parsed) = answer else {
            panic!("a good request is not reflected: {answer:?}");
        };
        reflect_in_place(buf.data_mut(), &parsed);
        translate(&mut buf, None, Some((VIP, 80)));
        let verdict = check_client_side(&spec, &side(&spec), buf.data());
        assert_eq!(
            verdict,
            Verdict::Good {
                flow: Some(0),
                stamp: Some(Stamp {
                    sequence: 1,
                    tsc: 2
                })
            }
        );
    }

    #[test]
    fn endpoint_of_another_service_is_wrong() {
        let spec = spec();
        let mut buf = sent();
        translate(&mut buf, Some((0x0a01_0202, 53)), None);
        assert_eq!(
            check_endpoint_side(&spec, buf.data()).0,
            Verdict::Mistranslated(Mistranslation::WrongEndpoint)
        );
        // Untranslated: the VIP is not an endpoint of its service.
        assert_eq!(
            check_endpoint_side(&spec, sent().data()).0,
            Verdict::Mistranslated(Mistranslation::WrongEndpoint)
        );
    }

    #[test]
    fn snat_client_is_checked_against_all_endpoints() {
        let mut spec = spec();
        let mut buf = sent();
        translate(&mut buf, Some((0x0a01_0202, 53)), Some((0x0a01_01fe, 1)));
        // Without --snat, a source that is no client's is a mistranslation.
        assert_eq!(
            check_endpoint_side(&spec, buf.data()).0,
            Verdict::Mistranslated(Mistranslation::UnknownClient)
        );
        spec.snat = true;
        assert!(matches!(
            check_endpoint_side(&spec, buf.data()).0,
            Verdict::Good { flow: None, .. }
        ));
        translate(&mut buf, Some((0x0a01_0202, 54)), None);
        assert_eq!(
            check_endpoint_side(&spec, buf.data()).0,
            Verdict::Mistranslated(Mistranslation::WrongEndpoint)
        );
    }

    #[test]
    fn client_side_mistranslations() {
        let spec = spec();
        let side = side(&spec);
        // Reply still from the endpoint: the reverse translation did not happen.
        let mut buf = reply_for(0);
        translate(&mut buf, Some((0x0a01_0103, 40000)), Some((ENDPOINT, 8080)));
        assert_eq!(
            check_client_side(&spec, &side, buf.data()),
            Verdict::Mistranslated(Mistranslation::WrongService)
        );
        // From the other service's VIP.
        translate(&mut buf, None, Some((0x0a60_000a, 53)));
        assert_eq!(
            check_client_side(&spec, &side, buf.data()),
            Verdict::Mistranslated(Mistranslation::WrongService)
        );
        // To a port no pod uses.
        translate(&mut buf, Some((0x0a01_0103, 50000)), Some((VIP, 80)));
        assert_eq!(
            check_client_side(&spec, &side, buf.data()),
            Verdict::Mistranslated(Mistranslation::UnknownClient)
        );
        // Right tuple, broken checksums.
        translate(&mut buf, Some((0x0a01_0103, 40000)), None);
        assert!(matches!(
            check_client_side(&spec, &side, buf.data()),
            Verdict::Good { flow: Some(0), .. }
        ));
        buf.data_mut()[41] ^= 1;
        assert_eq!(
            check_client_side(&spec, &side, buf.data()),
            Verdict::Mistranslated(Mistranslation::BadL4Checksum)
        );
        buf.data_mut()[25] ^= 1;
        assert_eq!(
            check_client_side(&spec, &side, buf.data()),
            Verdict::Mistranslated(Mistranslation::BadIpChecksum)
        );
    }

    /// With 4 established flows, a client address:port of ours that no request came
    /// from (flow 10: 10.1.1.4:40000, service 0 like flow 0) is not a client of the run;
    /// with new flows, any tuple is.
    #[test]
    fn reply_to_a_flow_never_sent_is_unknown() {
        let mut spec = spec();
        spec.flows = 4;
        let mut buf = reply_for(10);
        translate(&mut buf, None, Some((VIP, 80)));
        assert_eq!(
            check_client_side(&spec, &side(&spec), buf.data()),
            Verdict::Mistranslated(Mistranslation::UnknownClient)
        );
        // After `set flows 4` shrank a run of 20, flow 10's replies may still come.
        let earlier = ClientSide {
            flows: 20,
            ..side(&spec)
        };
        assert!(matches!(
            check_client_side(&spec, &earlier, buf.data()),
            Verdict::Good { flow: Some(10), .. }
        ));
        for (new_flows, new_every) in [(true, 0), (false, 8)] {
            (spec.new_flows, spec.new_every) = (new_flows, new_every);
            assert!(matches!(
                check_client_side(&spec, &side(&spec), buf.data()),
                Verdict::Good { flow: Some(10), .. }
            ));
        }
    }

    /// Flow 0's request arriving from flow 2's client (10.1.1.3:40002, the same
    /// service): delivered to the right endpoint with the right checksums, and answered
    /// back to the right client if the reverse path undoes it, but the backend saw
    /// another client. The tag tells.
    #[test]
    fn request_from_another_flows_client_is_wrong_client() {
        let spec = spec();
        let mut buf = sent_for(0);
        translate(&mut buf, Some((ENDPOINT, 8080)), Some((0x0a01_0103, 40002)));
        assert_eq!(spec.service_of(2), spec.service_of(0));
        assert_eq!(
            check_endpoint_side(&spec, buf.data()),
            (
                Verdict::Mistranslated(Mistranslation::WrongClient),
                Answer::Unanswered
            )
        );
        let mut own = sent_for(2);
        translate(&mut own, Some((ENDPOINT, 8080)), None);
        assert!(matches!(
            check_endpoint_side(&spec, own.data()).0,
            Verdict::Good { flow: Some(2), .. }
        ));
    }

    /// Flow 0's reply delivered to flow 2's client (10.1.1.3:40002, also service 0, so the
    /// same VIP:port), checksums fixed: the flow tag in the payload gives it away.
    #[test]
    fn reply_to_another_flows_client_is_wrong_client() {
        let spec = spec();
        let mut buf = reply_for(0);
        translate(&mut buf, Some((0x0a01_0103, 40002)), Some((VIP, 80)));
        assert_eq!(spec.service_of(2), spec.service_of(0));
        assert_eq!(
            check_client_side(&spec, &side(&spec), buf.data()),
            Verdict::Mistranslated(Mistranslation::WrongClient)
        );
        let mut own = reply_for(2);
        translate(&mut own, None, Some((VIP, 80)));
        assert!(matches!(
            check_client_side(&spec, &side(&spec), own.data()),
            Verdict::Good { flow: Some(2), .. }
        ));
    }

    /// Both ports are promiscuous: a reply the forwarder addressed to another MAC still
    /// arrives, and is not one the pods would have taken.
    #[test]
    fn reply_to_another_mac_is_wrong_mac() {
        let spec = spec();
        let mut buf = reply_for(0);
        translate(&mut buf, None, Some((VIP, 80)));
        buf.data_mut()[..6].copy_from_slice(&GATEWAY_MAC.0);
        assert_eq!(
            check_client_side(&spec, &side(&spec), buf.data()),
            Verdict::Mistranslated(Mistranslation::WrongMac)
        );
        buf.data_mut()[..6].copy_from_slice(&POD_MAC.0);
        assert!(matches!(
            check_client_side(&spec, &side(&spec), buf.data()),
            Verdict::Good { .. }
        ));
    }

    /// A request delivered to no endpoint of its service is not answered, and says so,
    /// so that the report counts it as mistranslated and not again as lost; a reset
    /// (no request) and a frame that does not parse are answered by nothing.
    #[test]
    fn a_mistranslated_request_is_unanswered_not_lost() {
        let spec = spec();
        let (verdict, answer) = check_endpoint_side(&spec, sent().data());
        assert_eq!(
            (verdict, answer),
            (
                Verdict::Mistranslated(Mistranslation::WrongEndpoint),
                Answer::Unanswered
            )
        );
        let mut bad_sum = sent();
        translate(&mut bad_sum, Some((ENDPOINT, 8080)), None);
        bad_sum.data_mut()[41] ^= 0xff;
        assert_eq!(
            check_endpoint_side(&spec, bad_sum.data()),
            (
                Verdict::Mistranslated(Mistranslation::BadL4Checksum),
                Answer::Unanswered
            )
        );
        let mut tcp = spec.clone();
        tcp.protocol = Protocol::TcpSyn;
        let template = FrameTemplate::new(&tcp, POD_MAC, GATEWAY_MAC);
        let mut reset = TestBuf::new(&[]);
        let stamp = Stamp {
            sequence: 1,
            tsc: 2,
        };
        assert!(template.write(&mut reset, &tcp.tuple(0), (VIP, 80), stamp));
        let parsed = parse(reset.data()).unwrap();
        reset.data_mut()[parsed.l4_offset + 13] = TCP_RST;
        assert_eq!(
            check_endpoint_side(&tcp, reset.data()),
            (
                Verdict::Mistranslated(Mistranslation::WrongEndpoint),
                Answer::Nothing
            )
        );
        assert_eq!(
            check_endpoint_side(&spec, &sent().data()[..20]),
            (Verdict::Malformed(Malformed::TooShort), Answer::Nothing)
        );
    }

    #[test]
    fn wrong_protocol_and_malformed() {
        let mut spec = spec();
        let mut buf = reply_for(0);
        translate(&mut buf, Some((0x0a01_0103, 40000)), Some((VIP, 80)));
        spec.protocol = Protocol::TcpData;
        assert_eq!(
            check_client_side(&spec, &side(&spec), buf.data()),
            Verdict::Mistranslated(Mistranslation::WrongProtocol)
        );
        assert_eq!(
            check_endpoint_side(&spec, buf.data()).0,
            Verdict::Mistranslated(Mistranslation::WrongProtocol)
        );
        assert_eq!(
            check_client_side(&spec, &side(&spec), &buf.data()[..20]),
            Verdict::Malformed(Malformed::TooShort)
        );
    }

    #[test]
    fn counters_sum_by_kind() {
        let mut c = CheckCounters::default();
        c.count(&Verdict::Good {
            flow: None,
            stamp: None,
        });
        c.count(&Verdict::Malformed(Malformed::NotIpv4));
        c.count(&Verdict::Mistranslated(Mistranslation::WrongService));
        c.count(&Verdict::Mistranslated(Mistranslation::WrongService));
        c.count(&Verdict::Mistranslated(Mistranslation::BadL4Checksum));
        assert_eq!((c.good, c.malformed, c.mistranslated_total()), (1, 1, 3));
        assert_eq!(c.of(Mistranslation::WrongService), 2);
        assert_eq!(c.of(Mistranslation::UnknownClient), 0);
    }
}
