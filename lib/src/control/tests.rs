//! The executor end to end without DPDK: the seed's startup file applied through the CLI,
//! the seed's packets through a worker, the bytes compared with the spec.

use super::*;
use crate::buffer::{PacketBuf, TestBuf};
use crate::node::{InputKind, NodeId};
use crate::pipeline::{Verdict, Worker};
use crate::spec_frames::{self, HOST_MAC, HOST_NEXT_HOP};
use crate::types::{IfIndex, Ipv4Prefix};
use std::cell::Cell;

struct TestPlatform;

impl Platform for TestPlatform {
    fn hardware_interfaces(
        &self,
        _name: Option<&str>,
        _detail: crate::cli::HardwareDetail,
        _plane: &ControlPlane,
    ) -> Result<String, String> {
        Ok("no hardware in tests\n".into())
    }
    fn threads(&self) -> String {
        "ID Name\n".into()
    }
    fn versions(&self) -> String {
        "DPDK none".into()
    }
    fn tx_errors(&self, _if_index: IfIndex) -> u64 {
        0
    }
}

/// A platform with the app's limits where a test asks for them: ports that take frames
/// of up to 2048 bytes, as the app's mbufs (`max_mtu`); `pcap trace` requests taken and
/// kept (`pcap`).
#[derive(Default)]
struct FakePlatform {
    max_mtu: Option<u16>,
    nat_capacity: Option<u32>,
    pcap: Arc<std::sync::Mutex<Vec<PcapRequest>>>,
    pings: Arc<std::sync::Mutex<Vec<PingRequest>>>,
    port_errors: crate::counters::PortErrors,
    sent: Arc<std::sync::Mutex<Vec<SentFrame>>>,
    /// What the ports refused to send, since the last `clear interfaces`.
    tx_refused: Arc<std::sync::atomic::AtomicU64>,
    /// Refused as `clear interfaces` runs (a race that must lose none).
    refused_while_clearing: Arc<std::sync::atomic::AtomicU64>,
}

/// A frame the console sent, and the interface it went out of.
type SentFrame = (IfIndex, Vec<u8>);

impl Platform for FakePlatform {
    fn hardware_interfaces(
        &self,
        name: Option<&str>,
        detail: crate::cli::HardwareDetail,
        plane: &ControlPlane,
    ) -> Result<String, String> {
        TestPlatform.hardware_interfaces(name, detail, plane)
    }
    fn threads(&self) -> String {
        TestPlatform.threads()
    }
    fn versions(&self) -> String {
        TestPlatform.versions()
    }
    fn tx_errors(&self, _if_index: IfIndex) -> u64 {
        self.tx_refused.load(std::sync::atomic::Ordering::Relaxed)
    }
    fn interfaces_cleared(&self) -> Vec<(IfIndex, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        // Refusals that come while the clear runs, after the console's last look.
        self.tx_refused
            .fetch_add(self.refused_while_clearing.load(Relaxed), Relaxed);
        let went = self.tx_refused.swap(0, Relaxed);
        vec![(IfIndex(1), went)]
    }
    fn max_mtu(&self) -> Option<u16> {
        self.max_mtu
    }
    fn nat_session_capacity(&self) -> Option<u32> {
        self.nat_capacity
    }
    fn pcap_trace(&self, request: &PcapRequest) -> Result<String, String> {
        self.pcap.lock().unwrap().push(request.clone());
        Ok("taken\n".into())
    }
    fn ping(&self, request: &PingRequest) -> Result<Background, String> {
        self.pings.lock().unwrap().push(request.clone());
        Ok(Box::new(|_, show| {
            show("shown\n");
            Ok("sent\n".into())
        }))
    }
    fn port_errors(&self, _if_index: IfIndex) -> crate::counters::PortErrors {
        self.port_errors
    }
    fn send_frame(&self, if_index: IfIndex, frame: &[u8]) -> Result<(), String> {
        self.sent.lock().unwrap().push((if_index, frame.to_vec()));
        Ok(())
    }
}

/// A control with one interface, tap0, on `platform`.
fn one_tap(platform: FakePlatform) -> (Control, IfIndex) {
    let mut plane = ControlPlane::new();
    let tap0 = plane
        .add_interface(
            "tap0",
            "net_tap0",
            MacAddr([2, 0, 0, 0, 0, 1]),
            InputKind::Virtio,
        )
        .unwrap();
    (Control::new(plane, Box::new(platform)), tap0)
}

/// `ping` resolves the route and the neighbour as the workers' FIB has them, and the
/// source as the address of the interface the route leaves by (or `source`'s); what it
/// cannot send says why and reaches no platform.
#[test]
fn ping_reaches_the_platform_with_its_route_resolved() {
    let (mut control, _, _) = seed_node();
    assert_eq!(
        control.execute_line("ping 172.30.1.2").unwrap_err(),
        "ping: the workers are not running"
    );
    control.workers_started();
    for (line, error) in [
        (
            "ping 172.30.1.2",
            "ping: 172.30.1.2 on tap0 has no known MAC address, and the ARP request for it \
             was not sent: no ports to send from without DPDK",
        ),
        ("ping 8.8.8.8", "ping: no route to 8.8.8.8"),
        (
            "ping 172.30.1.1",
            "ping: 172.30.1.1 is one of podfwd's own addresses",
        ),
        (
            "ping 10.1.1.3",
            "ping: tap2 has no IPv4 address to send from",
        ),
    ] {
        assert_eq!(control.execute_line(line).unwrap_err(), error, "{line}");
    }
    control
        .execute_line("set ip neighbor tap0 172.30.1.2 3e:1b:70:2d:4d:51")
        .unwrap();
    // The platform without DPDK sends nothing, and says so once the route resolved.
    assert_eq!(
        control.execute_line("ping 172.30.1.2").unwrap_err(),
        "ping: no ports to send from without DPDK"
    );
    assert_eq!(
        control
            .execute_line("ping 10.1.1.3 source tap0")
            .unwrap_err(),
        "ping: no ports to send from without DPDK"
    );
    control
        .execute_line("ip route add 192.0.2.0/24 drop")
        .unwrap();
    assert_eq!(
        control.execute_line("ping 192.0.2.1").unwrap_err(),
        "ping: the route to 192.0.2.1 drops (a drop route, or its interface is down)"
    );
    // A down interface takes its attached prefix with it.
    control
        .execute_line("set interface state tap0 down")
        .unwrap();
    assert_eq!(
        control.execute_line("ping 172.30.1.2").unwrap_err(),
        "ping: no route to 172.30.1.2"
    );
}

/// What the platform gets for a ping: the route's Ethernet header and interface, the
/// source address.
#[test]
fn ping_gives_the_platform_the_routes_header() {
    let platform = FakePlatform::default();
    let (pings, platform_sent) = (Arc::clone(&platform.pings), Arc::clone(&platform.sent));
    let (mut control, tap0) = one_tap(platform);
    control.workers_started();
    let sent = Arc::clone(&platform_sent);
    for line in [
        "set interface state tap0 up",
        "set interface ip address tap0 10.0.0.1/8",
        "set interface ip address tap0 172.30.1.1/24",
    ] {
        control.execute_line(line).unwrap();
    }
    // An unknown next hop: an ARP request for it goes out of tap0 (from tap0's address
    // on its subnet), and the user is told to ping again.
    assert_eq!(
        control.execute_line("ping 172.30.1.2").unwrap_err(),
        "ping: 172.30.1.2 on tap0 has no known MAC address yet; sent an ARP request for \
         it: ping again once it answers (show ip neighbors)"
    );
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 8, 6, 0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&[
        2, 0, 0, 0, 0, 1, 172, 30, 1, 1, 0, 0, 0, 0, 0, 0, 172, 30, 1, 2,
    ]);
    arp.resize(60, 0);
    assert_eq!(*sent.lock().unwrap(), [(tap0, arp)]);
    control
        .execute_line("set ip neighbor tap0 172.30.1.2 3e:1b:70:2d:4d:51")
        .unwrap();
    // start_line leaves the sending and the wait to its caller; execute_line runs them.
    let Started::Background(work) = control.start_line("ping 172.30.1.2 repeat 2") else {
        panic!("a ping that can go is work to run beside the console");
    };
    let mut shown = String::new();
    assert_eq!(
        work(&|| false, &mut |s| shown.push_str(s)).unwrap(),
        "sent\n"
    );
    assert_eq!(shown, "shown\n");
    assert!(matches!(
        control.start_line("ping 8.8.8.8"),
        Started::Done(Err(e)) if e == "ping: no route to 8.8.8.8"
    ));
    assert!(matches!(
        control.start_line("show interface tap0"),
        Started::Done(Ok(text)) if text.contains("tap0")
    ));
    let mut ethernet = [0u8; 14];
    ethernet[..6].copy_from_slice(&[0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51]);
    ethernet[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    ethernet[12..].copy_from_slice(&[8, 0]);
    assert_eq!(
        *pings.lock().unwrap(),
        [PingRequest {
            args: crate::cli::PingArgs {
                dst: Ipv4Addr::new(172, 30, 1, 2),
                source: None,
                size: 60,
                interval_ms: 1000,
                repeat: 2,
            },
            src: Ipv4Addr::new(172, 30, 1, 1),
            tx_if: tap0,
            ethernet,
        }]
    );
    // The requests leave whole: they must fit the route's interface's MTU.
    control.execute_line("set interface mtu 1000 tap0").unwrap();
    assert_eq!(
        control
            .execute_line("ping 172.30.1.2 size 1400")
            .unwrap_err(),
        "ping: size 1400 makes 1428-byte IPv4 packets, over tap0's MTU 1000: at most size 972"
    );
    control.execute_line("ping 172.30.1.2 size 972").unwrap();
    assert_eq!(pings.lock().unwrap().len(), 2);
}

/// `show interface` adds what the port counted on receive (rx-miss: the workers fell
/// behind) to the workers' counters.
#[test]
fn show_interface_has_the_ports_receive_errors() {
    let (mut control, _) = one_tap(FakePlatform {
        port_errors: crate::counters::PortErrors {
            rx_no_buf: 3,
            rx_miss: 1000,
            rx_error: 0,
        },
        ..FakePlatform::default()
    });
    let text = control.execute_line("show interface").unwrap();
    let rows: Vec<&str> = text.lines().skip(1).map(|l| l[68..].trim()).collect();
    assert_eq!(
        rows,
        [
            "rx-no-buf                      3",
            "rx-miss                     1000"
        ],
        "{text}"
    );
}

/// `set interface ip address del NAME all` (VPP's) deletes every address of the
/// interface, and the routes and learnt neighbours that went with them; the other
/// interfaces keep theirs.
#[test]
fn deleting_all_of_an_interfaces_addresses() {
    let (mut control, _, _) = seed_node();
    control
        .execute_line("set interface ip address tap0 192.0.2.1/24")
        .unwrap();
    let epoch = control.snapshot().epoch;
    control
        .execute_line("set interface ip address del tap0 all")
        .unwrap();
    assert!(control.snapshot().epoch > epoch);
    let shown = control.execute_line("show interface address").unwrap();
    assert!(
        shown.contains("tap0 (up):\n") && !shown.contains("L3 172.30.1.1/24"),
        "{shown}"
    );
    assert!(!shown.contains("192.0.2.1"), "{shown}");
    let fib = control.execute_line("show ip fib").unwrap();
    assert!(
        !fib.contains("172.30.1.0/24") && !fib.contains("192.0.2.0/24"),
        "{fib}"
    );
    // Nothing left to delete is no error (VPP's neither).
    control
        .execute_line("set interface ip address del tap0 all")
        .unwrap();
    assert!(control
        .execute_line("set interface ip address del tap9 all")
        .unwrap_err()
        .contains("unknown interface 'tap9'"));
}

/// `show interface address NAME ...` lists those, in that order; an unknown name is an
/// error.
#[test]
fn show_interface_address_of_named_interfaces() {
    let (mut control, _, _) = seed_node();
    let text = control.execute_line("show interface address tap0").unwrap();
    assert!(text.starts_with("tap0 (up):\n  L3 172.30.1.1/24"), "{text}");
    assert!(!text.contains("tap2"), "{text}");
    let both = control
        .execute_line("show interface address tap0 tap2")
        .unwrap();
    assert!(
        both.find("tap0").unwrap() < both.find("tap2").unwrap(),
        "{both}"
    );
    let err = control
        .execute_line("show interface address tap9")
        .unwrap_err();
    assert!(err.contains("tap9"), "{err}");
}

/// What a port refused to send is in `show errors` under `<interface>-tx`, as VPP's
/// dpdk tx failures; `clear errors` counts it from zero, and `clear interfaces` (which
/// clears `show interface`'s tx-error) leaves it, as VPP leaves its error counters.
#[test]
fn tx_refusals_are_in_show_errors() {
    use std::sync::atomic::Ordering::Relaxed;
    let platform = FakePlatform::default();
    let refused = Arc::clone(&platform.tx_refused);
    let during = Arc::clone(&platform.refused_while_clearing);
    let (mut control, _) = one_tap(platform);
    let workers = WorkerThreads::start(&mut control, 1, |_, _, _| {});
    let row = |control: &mut Control| {
        let text = control.execute_line("show errors").unwrap();
        text.lines()
            .find(|l| l.contains("tap0-tx"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    assert_eq!(row(&mut control), None);
    refused.store(40, Relaxed);
    assert_eq!(
        row(&mut control).as_deref(),
        Some("40 tap0-tx Tx packet drops (dpdk tx failure)")
    );
    control.execute_line("clear errors").unwrap();
    assert_eq!(row(&mut control), None);
    refused.store(45, Relaxed);
    assert_eq!(
        row(&mut control).as_deref(),
        Some("5 tap0-tx Tx packet drops (dpdk tx failure)")
    );
    control.execute_line("clear interfaces").unwrap();
    assert_eq!(
        row(&mut control).as_deref(),
        Some("5 tap0-tx Tx packet drops (dpdk tx failure)")
    );
    refused.fetch_add(3, Relaxed);
    assert_eq!(
        row(&mut control).as_deref(),
        Some("8 tap0-tx Tx packet drops (dpdk tx failure)")
    );
    // Those refused while the clear runs are cleared from show interface, not lost here.
    during.store(4, Relaxed);
    control.execute_line("clear interfaces").unwrap();
    during.store(0, Relaxed);
    assert_eq!(
        row(&mut control).as_deref(),
        Some("12 tap0-tx Tx packet drops (dpdk tx failure)")
    );
    control.execute_line("clear errors").unwrap();
    assert_eq!(row(&mut control), None);
    refused.fetch_add(2, Relaxed);
    assert_eq!(
        row(&mut control).as_deref(),
        Some("2 tap0-tx Tx packet drops (dpdk tx failure)")
    );
    workers.stop();
}

/// `pcap trace` reaches the platform with its interface resolved and its file in /tmp
/// under VPP's default name; an unknown interface is refused before it.
#[test]
fn pcap_trace_reaches_the_platform_resolved() {
    let platform = FakePlatform::default();
    let taken = Arc::clone(&platform.pcap);
    let (mut control, tap0) = one_tap(platform);
    assert!(control
        .execute_line("pcap trace rx intfc tap9")
        .unwrap_err()
        .starts_with("unknown interface 'tap9'"));
    assert!(taken.lock().unwrap().is_empty());
    for line in [
        "pcap trace rx drop",
        "pcap trace tx max 35 intfc tap0 file vppTest.pcap max-bytes-per-pkt 64",
        "pcap trace status",
        "pcap trace off",
    ] {
        assert_eq!(control.execute_line(line).unwrap(), "taken\n", "{line}");
    }
    let start = |tx: bool, max, max_bytes, interface: Option<IfIndex>, path: &str| {
        PcapRequest::Start(PcapStart {
            capture: crate::cli::PcapCapture {
                rx: !tx,
                tx,
                drop: !tx,
                max,
                max_bytes,
                interface: interface.map(|_| "tap0".to_string()),
                file: tx.then(|| "vppTest.pcap".to_string()),
            },
            interface,
            path: PathBuf::from(path),
        })
    };
    assert_eq!(
        *taken.lock().unwrap(),
        [
            start(false, 1000, 512, None, "/tmp/rxdrop.pcap"),
            start(true, 35, 64, Some(tap0), "/tmp/vppTest.pcap"),
            PcapRequest::Status,
            PcapRequest::Off,
        ]
    );
    // Without DPDK there is nothing to capture on, and the error says so.
    let (mut bare, _, _) = seed_node();
    bare.workers_started();
    assert_eq!(
        bare.execute_line("pcap trace status").unwrap_err(),
        "pcap trace: no ports to capture on without DPDK"
    );
}

/// A session limit past what each worker's table holds (allocated at start) is refused,
/// saying where the size comes from, and changes nothing; the size itself is taken.
#[test]
fn a_session_limit_past_the_workers_tables_is_refused() {
    let (mut control, _) = one_tap(FakePlatform {
        nat_capacity: Some(262_144),
        ..FakePlatform::default()
    });
    let limit = |c: &Control| c.nat.snapshot().session_limit;
    let before = limit(&control);
    assert_eq!(
        control
            .execute_line("nat44 session limit 300000")
            .unwrap_err(),
        "nat44 session limit 300000: each worker's table holds 262144 sessions (podfwd \
         --nat-sessions, allocated at start)"
    );
    assert_eq!(limit(&control), before);
    control.execute_line("nat44 session limit 262144").unwrap();
    assert_eq!(limit(&control), 262_144);
}

/// An MTU whose frames would not fit the ports' buffers is refused, saying why, and
/// changes nothing; the largest is taken.
#[test]
fn an_mtu_past_what_the_ports_receive_whole_is_refused() {
    let (mut control, _) = one_tap(FakePlatform {
        max_mtu: Some(2034),
        ..FakePlatform::default()
    });
    let before = control.plane.clone();
    assert_eq!(
        control
            .execute_line("set interface mtu 9000 tap0")
            .unwrap_err(),
        "mtu 9000 on tap0: a frame above 2048 bytes does not fit one mbuf and is dropped \
         on receive; the largest MTU here is 2034"
    );
    assert_eq!(control.plane, before);
    assert!(control
        .execute_line("set interface mtu 9000 tap9")
        .unwrap_err()
        .starts_with("unknown interface 'tap9'"));
    control.execute_line("set interface mtu 2034 tap0").unwrap();
    assert_eq!(control.plane.interfaces()[0].mtu, 2034);
}

thread_local! {
    static TICKS: Cell<u64> = const { Cell::new(0) };
}

fn ticks() -> u64 {
    TICKS.with(|t| {
        t.set(t.get() + 10);
        t.get()
    })
}

const SEED_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed-node.conf");
/// 02:54:30.091783, the spec's first timestamp.
const NOW: u64 = ((2 * 3600 + 54 * 60 + 30) * 1_000_000 + 91_783) * 1_000;

/// A node with two interfaces, (name, device) each, as the app creates them from
/// `--iface`: the pods' side first, then the host's.
fn two_port_node(ports: [(&str, &str); 2]) -> (Control, IfIndex, IfIndex) {
    let mut plane = ControlPlane::new();
    let [pods, host] = [(ports[0], 2), (ports[1], 1)].map(|((name, device), last)| {
        plane
            .add_interface(
                name,
                device,
                MacAddr([2, 0, 0, 0, 0, last]),
                InputKind::Virtio,
            )
            .unwrap()
    });
    (Control::new(plane, Box::new(TestPlatform)), pods, host)
}

/// The seed node: tap2 (pod) and tap0 (host), then the shipped startup file.
fn seed_node() -> (Control, IfIndex, IfIndex) {
    let (mut control, tap2, tap0) = two_port_node([("tap2", "net_tap0"), ("tap0", "net_tap1")]);
    control
        .exec_file(SEED_CONF)
        .expect("the shipped seed-node.conf applies");
    (control, tap2, tap0)
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `trace add virtio-input COUNT` on the worker.
fn trace_add(worker: &mut Worker, snapshot: &Snapshot, count: u32) {
    worker
        .answer(
            WorkerQuestion::TraceAdd {
                input: InputKind::Virtio,
                count,
            },
            snapshot,
            NOW,
        )
        .unwrap();
}

fn run(
    worker: &mut Worker,
    snapshot: &Snapshot,
    rx: IfIndex,
    frame: Vec<u8>,
) -> (Verdict, Vec<u8>) {
    let mut pkts = [TestBuf::new(&frame)];
    let verdict = worker.process(rx, &mut pkts, snapshot, NOW)[0];
    (verdict, pkts[0].data().to_vec())
}

/// The nodes a traced request from the pod visits, as the spec's trace shows them.
const REQUEST_NODES: [&str; 9] = [
    "virtio-input",
    "ethernet-input",
    "ip4-input",
    "acl-plugin-in-ip4-fa",
    "nat44-out2in",
    "ip4-lookup",
    "ip4-rewrite",
    "acl-plugin-out-ip4-fa",
    "tap0-output",
];

/// `show trace max 10` on the worker.
fn show_trace(worker: &mut Worker, snapshot: &Snapshot) -> String {
    worker
        .answer(WorkerQuestion::ShowTrace { max: 10 }, snapshot, NOW)
        .unwrap()
}

/// The packets' blocks of a `show trace`.
fn trace_blocks(trace: &str) -> Vec<&str> {
    trace
        .split("Packet ")
        .filter(|b| !b.trim().is_empty())
        .collect()
}

/// The node names of one packet's trace block, in order.
fn trace_nodes(block: &str) -> Vec<String> {
    block
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(t, _)| t.len() == 15 && t.chars().filter(|c| *c == ':').count() == 3)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// The text of `node`'s entry in one packet's trace block: the lines after its
/// timestamped line, up to the next node's.
fn node_entry(block: &str, node: &str) -> String {
    let is_node_line = |l: &str| trace_nodes(&format!("{l}\n")).len() == 1;
    let mut lines = block
        .lines()
        .skip_while(|l| !(is_node_line(l) && l.split_once(": ").is_some_and(|(_, n)| n == node)));
    assert!(lines.next().is_some(), "no {node} entry in:\n{block}");
    lines
        .take_while(|l| !is_node_line(l))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The spec's two ip4-rewrite hex dumps: the first 60 bytes of the frames as they leave.
const SYN_OUT: &str = "3e1b702d4d5101234567894208004500003c5eb440003f06c7ee0a0101030a14
    0002b4e61f90ba5bf36d00000000a002721090950000020405b40402";
const SYN_ACK_OUT: &str = "00000000000202fe163f5f0f08004500003c000040003f0648fb0a68dd550a01
    01030050b4e657f7b0c7ba5bf36ea01271201c4d0000020405b40402";

#[test]
fn seed_request_and_response_byte_for_byte() {
    let (mut control, tap2, tap0) = seed_node();
    // The host side resolves by ARP in the seed; here the worker's learn event is
    // applied as the app applies it.
    control.learn_neighbor(tap0, HOST_NEXT_HOP, HOST_MAC);
    let snapshot = control.snapshot();
    let mut worker = Worker::new(ticks);
    // The spec's node had made 5 NAT44 sessions and 32 ACL sessions before the seed's
    // SYN (its trace shows session index 5 and, for the reply, rule 32): 5 other
    // connections of the pod to the service, then 27 to the endpoint directly (ACL
    // sessions that NAT44 passes untranslated, forwarding being on).
    for (port, dst) in (40_000..40_005)
        .map(|p| (p, (spec_frames::SERVICE_IP, spec_frames::SERVICE_PORT)))
        .chain((41_000..41_027).map(|p| (p, (Ipv4Addr::new(10, 20, 0, 2), 8080))))
    {
        let frame = spec_frames::tcp_frame(&spec_frames::TcpFrameSpec {
            src_port: port,
            dst: dst.0,
            dst_port: dst.1,
            ..spec_frames::syn_spec()
        });
        assert_eq!(
            run(&mut worker, &snapshot, tap2, frame).0,
            Verdict::Tx(tap0)
        );
    }
    assert_eq!(
        (worker.nat().session_count(), worker.acl().session_count()),
        (5, 32)
    );
    trace_add(&mut worker, &snapshot, 10);

    let syn = spec_frames::syn();
    let (verdict, out) = run(&mut worker, &snapshot, tap2, syn.clone());
    assert_eq!(verdict, Verdict::Tx(tap0));
    let dump = hex(SYN_OUT);
    assert_eq!(
        out[..dump.len()],
        dump[..],
        "the SYN leaves as the spec's hex dump"
    );
    assert_eq!(
        out[dump.len()..],
        syn[dump.len()..],
        "the rest of the frame is the input's"
    );

    let syn_ack = spec_frames::syn_ack();
    let (verdict, out) = run(&mut worker, &snapshot, tap0, syn_ack.clone());
    assert_eq!(verdict, Verdict::Tx(tap2));
    let dump = hex(SYN_ACK_OUT);
    assert_eq!(
        out[..dump.len()],
        dump[..],
        "the SYN-ACK leaves as the spec's hex dump"
    );
    assert_eq!(out[dump.len()..], syn_ack[dump.len()..]);

    let trace = show_trace(&mut worker, &snapshot);
    let blocks = trace_blocks(&trace);
    assert_eq!(blocks.len(), 2, "{trace}");
    let nodes = trace_nodes;
    assert_eq!(nodes(blocks[0]), REQUEST_NODES, "{trace}");
    assert_eq!(
        nodes(blocks[1]),
        [
            "virtio-input",
            "ethernet-input",
            "ip4-input",
            "acl-plugin-in-ip4-fa",
            "nat44-in2out",
            "nat44-in2out-slowpath",
            "ip4-lookup",
            "ip4-rewrite",
            "acl-plugin-out-ip4-fa",
            "tap2-output"
        ],
        "{trace}"
    );
    // The spec's four ACL entries, whole, and ip4-lookup's first line. The spec's pod
    // interface 6 is 1 here (in the pkt info too: the lsb16 of the L4 word and the
    // sw_if_index of the last); tap0 is 2 as in the spec. This FIB numbers its
    // adjacencies in prefix order after no-route (0): the drop of 0.0.0.0/32 is 1,
    // 10.1.1.3/32 via tap2 is 2 and 10.20.0.2/32 via 172.30.1.2 is 3 (the spec's 3 and
    // 8).
    let request_entries = [
        (
            "acl-plugin-in-ip4-fa",
            "  acl-plugin: sw_if_index 1, next index 2, action: 2, match: acl 3 rule 0 trace_bits 00000000\n\
             \x20 pkt info 0000000000000000 0301010a00000000 0000000000000000 55dd680a00000000 000100060050b4e6 0702ffff00000001\n\
             \x20  input sw_if_index 1 (lsb16 1) l3 ip4 10.1.1.3 -> 10.104.221.85 l4 proto 6 l4_valid 1 port 46310 -> 80 tcp flags (valid) 02 rsvd 0\n",
        ),
        (
            "acl-plugin-out-ip4-fa",
            "  acl-plugin: sw_if_index 2, next index 1, action: 1, match: acl 2 rule 3 trace_bits 00000000\n\
             \x20 pkt info 0000000000000000 0301010a00000000 0000000000000000 0200140a00000000 000200061f90b4e6 0502ffff00000002\n\
             \x20  output sw_if_index 2 (lsb16 2) l3 ip4 10.1.1.3 -> 10.20.0.2 l4 proto 6 l4_valid 1 port 46310 -> 8080 tcp flags (valid) 02 rsvd 0\n",
        ),
    ];
    let response_entries = [
        (
            "acl-plugin-in-ip4-fa",
            "  acl-plugin: sw_if_index 2, next index 1, action: 2, match: acl 3 rule 0 trace_bits 00000000\n\
             \x20 pkt info 0000000000000000 0200140a00000000 0000000000000000 0301010a00000000 00020006b4e61f90 0712ffff00000002\n\
             \x20  input sw_if_index 2 (lsb16 2) l3 ip4 10.20.0.2 -> 10.1.1.3 l4 proto 6 l4_valid 1 port 8080 -> 46310 tcp flags (valid) 12 rsvd 0\n",
        ),
        (
            "acl-plugin-out-ip4-fa",
            "  acl-plugin: sw_if_index 1, next index 1, action: 3, match: acl -1 rule 32 trace_bits 80000000\n\
             \x20 pkt info 0000000000000000 55dd680a00000000 0000000000000000 0301010a00000000 00010006b4e60050 0512ffff00000001\n\
             \x20  output sw_if_index 1 (lsb16 1) l3 ip4 10.104.221.85 -> 10.1.1.3 l4 proto 6 l4_valid 1 port 80 -> 46310 tcp flags (valid) 12 rsvd 0\n",
        ),
    ];
    let adjacencies = [
        (
            "  fib 0 dpo-idx 3 flow hash: 0x00000000",
            "  tx_sw_if_index 2 dpo-idx 3 : ipv4 via 172.30.1.2 tap0: \
             3e1b702d4d510123456789420800 flow hash: 0x00000000",
        ),
        (
            "  fib 0 dpo-idx 2 flow hash: 0x00000000",
            "  tx_sw_if_index 1 dpo-idx 2 : ipv4 via 10.1.1.3 tap2: \
             00000000000202fe163f5f0f0800 flow hash: 0x00000000",
        ),
    ];
    for (block, entries, (lookup, rewrite)) in [
        (blocks[0], request_entries, adjacencies[0]),
        (blocks[1], response_entries, adjacencies[1]),
    ] {
        for (node, expected) in entries {
            assert_eq!(node_entry(block, node), expected, "{node} in:\n{block}");
        }
        assert_eq!(
            node_entry(block, "ip4-lookup").lines().next(),
            Some(lookup),
            "{block}"
        );
        assert_eq!(
            node_entry(block, "ip4-rewrite").lines().next(),
            Some(rewrite),
            "{block}"
        );
    }

    let request = blocks[0];
    for expected in [
        // The spec's input lines; here the pod's interface is index 1.
        ": virtio-input\n  virtio: hw_if_index 1 next-index 4 vring 0 len 74\n    \
         hdr: flags 0x00 gso_type 0x00 hdr_len 0 gso_size 0 csum_start 0 csum_offset 0 \
         num_buffers 1\n",
        "TCP: 10.1.1.3 -> 10.104.221.85",
        "tos 0x00, ttl 64, length 60, checksum 0xe946",
        "window 29200, checksum 0xd22d",
        "action: 2, match: acl 3 rule 0",
        "NAT44_OUT2IN: sw_if_index 1, next index 1, session index 5\n",
        "TCP: 10.1.1.3 -> 10.20.0.2",
        "tos 0x00, ttl 64, length 60, checksum 0xc6ee",
        "window 29200, checksum 0x9095",
        "ipv4 via 172.30.1.2 tap0: 3e1b702d4d510123456789420800",
        // The spec's dump, whole: 60 bytes, then the line ends.
        "  00000000: 3e1b702d4d5101234567894208004500003c5eb440003f06c7ee0a0101030a14\n  \
         00000020: 0002b4e61f90ba5bf36d00000000a002721090950000020405b40402\n",
        "action: 1, match: acl 2 rule 3",
        "tos 0x00, ttl 63, length 60, checksum 0xc7ee",
        "IP4: 01:23:45:67:89:42 -> 3e:1b:70:2d:4d:51",
    ] {
        assert!(
            request.contains(expected),
            "request trace lacks '{expected}':\n{request}"
        );
    }
    let response = blocks[1];
    for expected in [
        ": virtio-input\n  virtio: hw_if_index 2 next-index 4 vring 0 len 74\n    \
         hdr: flags 0x00 gso_type 0x00 hdr_len 0 gso_size 0 csum_start 0 csum_offset 0 \
         num_buffers 1\n",
        "tos 0x00, ttl 64, length 60, checksum 0x25a3",
        "window 28960, checksum 0xdab4",
        "action: 2, match: acl 3 rule 0",
        "NAT44_IN2OUT_FAST_PATH: sw_if_index 2, next index 3, session -1",
        "NAT44_IN2OUT_SLOW_PATH: sw_if_index 2, next index 0, session 5\n",
        "TCP: 10.104.221.85 -> 10.1.1.3",
        "tos 0x00, ttl 64, length 60, checksum 0x47fb",
        "window 28960, checksum 0x1c4d",
        "ipv4 via 10.1.1.3 tap2: 00000000000202fe163f5f0f0800",
        "  00000000: 00000000000202fe163f5f0f08004500003c000040003f0648fb0a68dd550a01\n  \
         00000020: 01030050b4e657f7b0c7ba5bf36ea01271201c4d0000020405b40402\n",
        // The session the request made is the 33rd: rule 32, as in the spec.
        "acl-plugin: sw_if_index 1, next index 1, action: 3, match: acl -1 rule 32 \
         trace_bits 80000000\n",
        "tos 0x00, ttl 63, length 60, checksum 0x48fb",
        "IP4: 02:fe:16:3f:5f:0f -> 00:00:00:00:00:02",
    ] {
        assert!(
            response.contains(expected),
            "response trace lacks '{expected}':\n{response}"
        );
    }
}

/// `show acl-plugin tables`: the seed's short lists are tuple space; a long list of
/// varied rules gets bit vectors (on the addresses: varied prefixes leave few rules to
/// read), unless a permit-any comes first, and then the rest is left out.
#[test]
fn show_acl_tables_says_how_each_list_is_looked_up() {
    let (mut control, _, _) = seed_node();
    let tables = control.execute_line("show acl-plugin tables").unwrap();
    assert!(
        tables.contains("(tap2) input: 1 rules, tuple space (1 tuples), "),
        "{tables}"
    );
    assert!(
        tables.contains("(tap0) output: 4 rules, tuple space ("),
        "{tables}"
    );
    // 300 rules of every prefix length, protocol and port shape, then permit any.
    let mut rng = crate::rand::FastRng::new(0x7ab1e5);
    let mut rules: Vec<String> = (0..300)
        .map(|_| {
            let mut prefix = || {
                let len = rng.below(33) as u8;
                let addr = Ipv4Addr::from_bits(rng.next_u64() as u32);
                Ipv4Prefix::new(addr, len).unwrap().network()
            };
            let (src, dst) = (prefix(), prefix());
            let mut range = |field: &str| match rng.below(3) {
                0 => String::new(),
                1 => format!(" {field} {}", rng.below(65536)),
                _ => {
                    let lo = rng.below(60_000);
                    format!(" {field} {lo}-{}", lo + rng.below(5000))
                }
            };
            let (sport, dport) = (range("sport"), range("dport"));
            match rng.below(4) {
                0 => format!("deny src {src} dst {dst}"),
                p => {
                    let proto = [6, 6, 17][p as usize - 1];
                    format!("deny src {src} dst {dst} proto {proto}{sport}{dport}")
                }
            }
        })
        .collect();
    rules.push("permit".into());
    control
        .execute_line(&format!("set acl-plugin acl {}", rules.join(", ")))
        .unwrap();
    for line in [
        "set acl-plugin interface tap2 output acl 1 del",
        "set acl-plugin interface tap2 output acl 4",
        // Behind the reflective ACL's permit-any, no rule is looked up.
        "set acl-plugin interface tap0 input acl 4",
    ] {
        control.execute_line(line).unwrap();
    }
    let tables = control.execute_line("show acl-plugin tables").unwrap();
    assert!(
        tables.contains("(tap2) output: 301 rules, bit vectors on addresses (301 rules), "),
        "{tables}"
    );
    assert!(
        tables.contains(
            "(tap0) input: 302 rules (301 behind a rule that matches every packet: left out), \
             tuple space (1 tuples), "
        ),
        "{tables}"
    );
}

/// With forwarding off, nat44-out2in drops what no session or mapping translates, but
/// not what is aimed at the receiving interface's own address (VPP's "Don't NAT packet
/// aimed at the intfc address"): the node still answers a ping on its outside side.
#[test]
fn nat44_out2in_lets_through_what_is_aimed_at_the_interface() {
    let (mut control, tap2, _) = seed_node();
    for line in [
        "set interface ip address tap2 10.1.1.1/24",
        "nat44 forwarding disable",
    ] {
        control.execute_line(line).unwrap();
    }
    let snapshot = control.snapshot();
    assert!(snapshot.nat.role(tap2).outside && !snapshot.nat.role(tap2).inside);
    let mut worker = Worker::new(ticks);
    let ping = |dst| {
        spec_frames::icmp_echo_request(
            spec_frames::TAP2_MAC,
            spec_frames::CLIENT_POD_MAC,
            spec_frames::CLIENT_IP,
            dst,
            64,
            7,
            1,
            b"ping",
        )
    };
    let (verdict, reply) = run(
        &mut worker,
        &snapshot,
        tap2,
        ping(Ipv4Addr::new(10, 1, 1, 1)),
    );
    assert_eq!(verdict, Verdict::Tx(tap2), "the echo is answered");
    assert_eq!(reply[34], 0, "an echo reply");
    assert_eq!(&reply[26..34], &[10, 1, 1, 1, 10, 1, 1, 3]);
    let (verdict, _) = run(
        &mut worker,
        &snapshot,
        tap2,
        ping(Ipv4Addr::new(10, 1, 1, 9)),
    );
    assert_eq!(
        verdict,
        Verdict::Drop,
        "another address is not ours: no translation"
    );
    let totals = worker.counters().totals();
    assert_eq!(
        totals.reason(crate::node::DropReason::of(
            crate::nat44::Out2inError::NoTranslation
        )),
        1
    );
}

/// A packet whose TTL runs out at NAT44 is answered before it is translated, as VPP's
/// nat44 nodes answer it: the error quotes what its sender sent (the VIP, not the
/// endpoint; the endpoint, not the VIP), and no NAT44 session is made for it.
#[test]
fn nat44_answers_ttl_one_before_translating() {
    use crate::packet::icmp::{IcmpPacket, MessageType};
    use crate::packet::Ipv4Packet;
    let (mut control, tap2, tap0) = seed_node();
    // The pod's egress policy lets only the NAT loopback reach it: without it the error
    // to the pod leaves.
    for line in [
        "set interface ip address tap2 10.1.1.1/24",
        "set acl-plugin interface tap2 output acl 1 del",
    ] {
        control.execute_line(line).unwrap();
    }
    control.learn_neighbor(tap0, HOST_NEXT_HOP, HOST_MAC);
    let snapshot = control.snapshot();
    let mut worker = Worker::new(ticks);
    trace_add(&mut worker, &snapshot, 10);
    let expired = |frame: &[u8], rx, tx, worker: &mut Worker| {
        let (verdict, out) = run(worker, &snapshot, rx, frame.to_vec());
        assert_eq!(verdict, Verdict::Tx(tx));
        let ip = Ipv4Packet::new_checked(&out[14..]).unwrap();
        assert_eq!(
            ip.dst(),
            Ipv4Packet::new_checked(&frame[14..]).unwrap().src()
        );
        let icmp = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(
            (icmp.msg_type(), icmp.code()),
            (MessageType::TimeExceeded, 0)
        );
        assert_eq!(icmp.data(), &frame[14..], "the quote is what was sent");
    };
    let syn = spec_frames::tcp_frame(&spec_frames::TcpFrameSpec {
        ttl: 1,
        ..spec_frames::syn_spec()
    });
    expired(&syn, tap2, tap2, &mut worker);
    let mut syn_ack = spec_frames::syn_ack();
    syn_ack[14 + 8] = 1;
    let mut ip = Ipv4Packet::new_unchecked(&mut syn_ack[14..]);
    ip.fill_checksum();
    expired(&syn_ack, tap0, tap0, &mut worker);
    assert_eq!(worker.nat().session_count(), 0, "no session for either");
    let trace = worker
        .answer(WorkerQuestion::ShowTrace { max: 10 }, &snapshot, NOW)
        .unwrap();
    for line in [
        "NAT44_OUT2IN: sw_if_index 1, next index 2, session index -1\n",
        "NAT44_IN2OUT_FAST_PATH: sw_if_index 2, next index 2, session -1\n",
    ] {
        assert!(trace.contains(line), "{line}\n{trace}");
    }
}

/// A pool out of ports is counted, not a crash: through the whole pipeline, the SYNs
/// past the ports this worker owns are dropped under nat44-in2out-output's "out of
/// ports", each one drop on the interface it came in by.
#[test]
fn snat_port_exhaustion_is_counted_by_the_pipeline() {
    use crate::nat44::In2outOutputError;
    use crate::node::DropReason;
    use crate::pipeline::WorkerSizes;
    let (mut control, pods, host) = two_port_node([("pods", "net_tap0"), ("host", "net_tap1")]);
    for line in [
        "set interface state pods up",
        "set interface state host up",
        "set interface ip address host 192.0.2.1/24",
        "set ip neighbor host 192.0.2.2 02:00:00:00:00:22 static",
        "ip route add 0.0.0.0/0 via 192.0.2.2 host",
        "nat44 add address 192.0.2.1",
        "set interface nat44 in pods",
        "set interface nat44 out host output-feature",
    ] {
        control.execute_line(line).unwrap();
    }
    let snapshot = control.snapshot();
    // Worker 0 of 1000 owns 64 ports of each pool address.
    let sizes = WorkerSizes {
        index: 0,
        count: 1000,
        ..WorkerSizes::default()
    };
    let mut worker = Worker::with_sizes(ticks, sizes);
    let syns: Vec<Vec<u8>> = (0..100u16)
        .map(|i| {
            spec_frames::tcp_frame(&spec_frames::TcpFrameSpec {
                dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
                src_port: 1000 + i,
                dst: Ipv4Addr::new(8, 8, 8, 8),
                dst_port: 80,
                ..spec_frames::syn_spec()
            })
        })
        .collect();
    let mut verdicts = Vec::new();
    for burst in syns.chunks(32) {
        let mut pkts: Vec<TestBuf> = burst.iter().map(|f| TestBuf::new(f)).collect();
        verdicts.extend_from_slice(worker.process(pods, &mut pkts, &snapshot, NOW));
    }
    let sent = verdicts.iter().filter(|v| **v == Verdict::Tx(host)).count();
    assert_eq!((sent, verdicts.len() - sent), (64, 36), "{verdicts:?}");
    let totals = worker.counters().totals();
    assert_eq!(
        totals.reason(DropReason::of(In2outOutputError::OutOfPorts)),
        36
    );
    assert_eq!(totals.interface(pods).drops, 36);
    assert_eq!(worker.nat().session_count(), 64);
}

/// SNAT's refusals through the whole pipeline, counted under nat44-in2out-output's
/// reasons as `show errors` names them: a TCP opener without SYN is "non-SYN", and a new
/// flow past `nat44 session limit` is "max sessions" (echoes: no transitory TCP session
/// to give up for them).
#[test]
fn snat_refusals_are_counted_as_non_syn_and_max_sessions() {
    use crate::nat44::In2outOutputError;
    use crate::node::DropReason;
    let (mut control, pods, host) = two_port_node([("pods", "net_tap0"), ("host", "net_tap1")]);
    for line in [
        "set interface state pods up",
        "set interface state host up",
        "set interface ip address host 192.0.2.1/24",
        "set ip neighbor host 192.0.2.2 02:00:00:00:00:22 static",
        "ip route add 0.0.0.0/0 via 192.0.2.2 host",
        "nat44 add address 192.0.2.1",
        "nat44 session limit 2",
        "set interface nat44 in pods",
        "set interface nat44 out host output-feature",
    ] {
        control.execute_line(line).unwrap();
    }
    let snapshot = control.snapshot();
    let mut worker = Worker::new(ticks);
    let pods_mac = MacAddr([2, 0, 0, 0, 0, 2]);
    let ack = spec_frames::tcp_frame(&spec_frames::TcpFrameSpec {
        dst_mac: pods_mac,
        dst: Ipv4Addr::new(8, 8, 8, 8),
        flags: crate::packet::TcpFlags::ACK,
        ..spec_frames::syn_spec()
    });
    assert_eq!(run(&mut worker, &snapshot, pods, ack).0, Verdict::Drop);
    let ping = |ident| {
        spec_frames::icmp_echo_request(
            pods_mac,
            spec_frames::CLIENT_POD_MAC,
            spec_frames::CLIENT_IP,
            Ipv4Addr::new(8, 8, 8, 8),
            64,
            ident,
            1,
            b"ping",
        )
    };
    let verdicts: Vec<Verdict> = (1..=3)
        .map(|ident| run(&mut worker, &snapshot, pods, ping(ident)).0)
        .collect();
    assert_eq!(
        verdicts,
        [Verdict::Tx(host), Verdict::Tx(host), Verdict::Drop]
    );
    assert_eq!(worker.nat().session_count(), 2);
    let totals = worker.counters().totals();
    assert_eq!(totals.reason(DropReason::of(In2outOutputError::NonSyn)), 1);
    assert_eq!(
        totals.reason(DropReason::of(In2outOutputError::MaxSessions)),
        1
    );
    assert_eq!(totals.interface(pods).drops, 2);
    // VPP's columns: the count right-aligned in 10, the node centred in 40 (the odd
    // space on the left), then the reason.
    assert_eq!(
        totals.format_errors(crate::stages::drop_reason_text),
        "   Count                    Node                  Reason\n\
         \x20        1           nat44-in2out-output          non-SYN\n\
         \x20        1           nat44-in2out-output          max sessions\n"
    );
}

/// An output-feature interface loses its outside role only with its output-feature:
/// `out X del` alone would leave nat44-in2out-output making sessions whose replies no
/// longer take nat44-out2in. Output-feature twice is an error, and so is output-feature
/// beside in or out (either way), as VPP's "interface already configured": merged, the
/// roles could not be deleted one by one. Role errors name the interface as it was
/// typed.
#[test]
fn nat44_output_feature_role_goes_whole() {
    let (mut control, tap2, _) = seed_node();
    // The seed's tap2 is a plain outside interface.
    let before = control.snapshot().epoch;
    assert_eq!(
        control
            .execute_line("set interface nat44 out tap2 output-feature")
            .unwrap_err(),
        "set interface nat44: tap2 is already a NAT44 in/out interface: output-feature \
         needs an interface of its own (delete its roles first)"
    );
    assert_eq!(control.snapshot().epoch, before, "nothing was published");
    for line in [
        "set interface nat44 out tap2 del",
        "set interface nat44 out tap2 output-feature",
    ] {
        control.execute_line(line).unwrap();
    }
    let shown = control.execute_line("show nat44 interfaces").unwrap();
    let before = control.snapshot().epoch;
    // Twice is refused, as VPP refuses it, rather than taken silently.
    assert_eq!(
        control
            .execute_line("set interface nat44 out tap2 output-feature")
            .unwrap_err(),
        "set interface nat44: tap2 is already an output-feature interface"
    );
    for line in [
        "set interface nat44 out tap2",
        "set interface nat44 in tap2",
    ] {
        assert_eq!(
            control.execute_line(line).unwrap_err(),
            "set interface nat44: tap2 is an output-feature interface: it takes no in or \
             out role beside it",
            "{line}"
        );
    }
    assert_eq!(
        control
            .execute_line("set interface nat44 out tap2 del")
            .unwrap_err(),
        "set interface nat44: tap2 is an output-feature interface: delete it with \
         `out NAME output-feature del`"
    );
    assert_eq!(
        control.execute_line("show nat44 interfaces").unwrap(),
        shown
    );
    assert_eq!(control.snapshot().epoch, before, "nothing was published");
    control
        .execute_line("set interface nat44 out tap2 output-feature del")
        .unwrap();
    let role = control.snapshot().nat.role(tap2);
    assert!(!role.outside && !role.output_feature, "{role:?}");
    assert_eq!(
        control
            .execute_line("set interface nat44 out tap2 output-feature del")
            .unwrap_err(),
        "set interface nat44: tap2 is not a NAT44 outside interface: nothing to delete"
    );
}

#[test]
fn show_commands_answer_from_config() {
    let (mut control, _, _) = seed_node();
    let fib = control.execute_line("show ip fib 10.20.0.2/32").unwrap();
    assert!(fib.contains("10.20.0.2/32"), "{fib}");
    let acl = control.execute_line("show acl-plugin acl index 3").unwrap();
    assert!(acl.contains("permit+reflect"), "{acl}");
    let maps = control.execute_line("sh nat44 static mappings").unwrap();
    assert!(
        maps.contains("local 10.20.0.2:8080 external 10.104.221.85:80"),
        "{maps}"
    );
    let itf = control.execute_line("show nat44 interfaces").unwrap();
    assert!(itf.contains("tap0 in out"), "{itf}");
    assert!(control
        .execute_line("show interface")
        .unwrap()
        .contains("tap2"));
    // Several interfaces, in the order named (VPP's habit); an unknown one is refused.
    let two = control.execute_line("show interface tap0 tap2").unwrap();
    let names: Vec<&str> = two
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["tap0", "tap2"], "{two}");
    assert!(control
        .execute_line("show interface tap0 tap9")
        .unwrap_err()
        .starts_with("unknown interface 'tap9'"));
    // The seed's one neighbour is the pod's, on tap2.
    let on_tap2 = control.execute_line("show ip neighbors tap2").unwrap();
    assert!(on_tap2.contains(" 10.1.1.3 "), "{on_tap2}");
    let on_tap0 = control.execute_line("show ip neighbors tap0").unwrap();
    assert_eq!(on_tap0.lines().count(), 1, "{on_tap0}");
    assert!(control
        .execute_line("show version")
        .unwrap()
        .starts_with("podfwd v"));
    // VPP's `%-25s` rows; without DPDK, no DPDK rows, and `show dpdk version` says why.
    let verbose = control.execute_line("show version verbose").unwrap();
    let labels: Vec<&str> = verbose.lines().map(|l| &l[..26]).collect();
    assert_eq!(
        labels,
        [
            "Version:                  ",
            "Built with:               ",
            "CPU model name:           ",
            "Current PID:              "
        ],
        "{verbose}"
    );
    assert!(verbose.contains(&format!(
        "\nCurrent PID:              {}\n",
        std::process::id()
    )));
    assert_eq!(
        control.execute_line("show dpdk version").unwrap_err(),
        "show dpdk version: no DPDK in this process"
    );
    // Before the workers run (the startup file), a show of their state says why it
    // shows nothing, and a clear has nothing to clear: neither hangs nor fails.
    let shown = control.execute_line("show nat44 sessions").unwrap();
    assert!(shown.ends_with(NOT_RUNNING_YET), "{shown}");
    for clear in [
        "clear errors",
        "clear runtime",
        "clear interfaces",
        "clear acl-plugin sessions",
    ] {
        assert_eq!(control.execute_line(clear).unwrap(), "", "{clear}");
    }
    assert_eq!(
        control
            .execute_line("nat44 del session in 10.1.1.3:80 tcp")
            .unwrap_err(),
        "nat44 del session: no such session: in 10.1.1.3:80 tcp"
    );
}

/// `nat44 add interface address`: the interface's first address is a pool address, and
/// follows the interface's address; refused twice, or for an unknown interface.
#[test]
fn an_interface_address_in_the_pool_follows_the_interface() {
    let (mut control, _, _) = seed_node();
    let pools = |c: &Control| {
        let nat = c.snapshot().nat.clone();
        (nat.pool().to_vec(), nat.twice_nat_pool().to_vec())
    };
    let twice = vec![Ipv4Addr::new(10, 1, 1, 254)];
    assert_eq!(pools(&control), (vec![], twice.clone()));
    control
        .execute_line("nat44 add interface address tap0")
        .unwrap();
    assert_eq!(
        pools(&control),
        (vec![Ipv4Addr::new(172, 30, 1, 1)], twice.clone())
    );
    assert_eq!(
        control
            .execute_line("show nat44 interface address")
            .unwrap(),
        "NAT44 pool address interfaces:\n  tap0\nNAT44 twice-nat pool address interfaces:\n"
    );
    control
        .execute_line("set interface ip address del tap0 172.30.1.1/24")
        .unwrap();
    assert_eq!(pools(&control), (vec![], twice.clone()));
    control
        .execute_line("set interface ip address tap0 192.168.16.1/24")
        .unwrap();
    assert_eq!(
        pools(&control),
        (vec![Ipv4Addr::new(192, 168, 16, 1)], twice.clone())
    );
    // A packet to it on an in+out interface is out2in's, as one to a configured pool
    // address is.
    let nat = control.snapshot().nat.clone();
    assert!(nat.is_outside_address(Ipv4Addr::new(192, 168, 16, 1)));
    assert!(!nat.is_outside_address(Ipv4Addr::new(172, 30, 1, 1)));
    let before = pools(&control);
    assert_eq!(
        control
            .execute_line("nat44 add interface address tap0 twice-nat")
            .unwrap_err(),
        "interface tap0: its address is already a NAT44 pool address"
    );
    assert_eq!(
        control
            .execute_line("nat44 add interface address tap0 twice-nat del")
            .unwrap_err(),
        "interface tap0: its address is not a NAT44 twice-nat pool address"
    );
    assert!(control
        .execute_line("nat44 add interface address tap9")
        .unwrap_err()
        .starts_with("unknown interface 'tap9'"));
    assert_eq!(pools(&control), before);
    control
        .execute_line("nat44 add interface address tap0 del")
        .unwrap();
    assert_eq!(pools(&control), (vec![], twice));
}

/// SNAT through `nat44 add interface address`: a pod's SYN leaves the output-feature
/// interface from that interface's address.
#[test]
fn snat_takes_the_interface_address() {
    let (mut control, pods, host) = two_port_node([("pods", "net_tap0"), ("host", "net_tap1")]);
    for line in [
        "set interface state pods up",
        "set interface state host up",
        "nat44 add interface address host",
        "set interface ip address host 192.0.2.1/24",
        "set ip neighbor host 192.0.2.2 02:00:00:00:00:22 static",
        "ip route add 0.0.0.0/0 via 192.0.2.2 host",
        "set interface nat44 in pods",
        "set interface nat44 out host output-feature",
    ] {
        control.execute_line(line).unwrap();
    }
    let syn = spec_frames::tcp_frame(&spec_frames::TcpFrameSpec {
        dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
        dst: Ipv4Addr::new(8, 8, 8, 8),
        ..spec_frames::syn_spec()
    });
    let (verdict, out) = run(&mut Worker::new(ticks), &control.snapshot(), pods, syn);
    assert_eq!(verdict, Verdict::Tx(host));
    assert_eq!(out[26..30], [192, 0, 2, 1], "the source is host's address");
}

#[test]
fn bad_lines_say_what_is_wrong_and_change_nothing() {
    let (mut control, _, _) = seed_node();
    let before = (control.plane.clone(), control.snapshot().epoch);
    for (line, error) in [
        (
            "set interface state tap9 up",
            "unknown interface 'tap9' (known: tap2, tap0)",
        ),
        (
            "ip route add 10.1.1.0/33 via 1.2.3.4",
            "prefix 10.1.1.0/33: length must be 0..=32",
        ),
        ("foo", "unknown input 'foo'"),
        (
            "set ip neighbor tap0 1.2.3.4 02:00:00:00:00",
            "MAC 02:00:00:00:00: has 5 octets, expected 6",
        ),
        // The seed's startup file defines ACLs 0 to 3.
        (
            "set acl-plugin interface tap0 input acl 9",
            "ACL index 9 does not exist (known: 0, 1, 2, 3)",
        ),
        // Addresses a packet cannot carry as its source or destination.
        (
            "nat44 add address 0.0.0.0",
            "nat44 add address: 0.0.0.0 is not a unicast address",
        ),
        (
            "nat44 add address 224.0.0.1 - 224.0.0.3",
            "nat44 add address: 224.0.0.1 is a multicast address",
        ),
        // Refused whole: its first address is a good one.
        (
            "nat44 add address 223.255.255.255 - 224.0.0.0 twice-nat",
            "nat44 add address: 224.0.0.0 is a multicast address",
        ),
        (
            "nat44 add static mapping tcp local 10.1.1.3 80 external 255.255.255.255 80",
            "static mapping tcp local 10.1.1.3:80 external 255.255.255.255:80: 255.255.255.255 is a reserved (class E) or broadcast address",
        ),
        (
            "nat44 add load-balancing static mapping protocol tcp external 10.104.0.1:80 local 10.1.1.3:80 probability 50 local 239.1.1.1:80 probability 50",
            "load-balancing mapping tcp external 10.104.0.1:80: 239.1.1.1 is a multicast address",
        ),
        (
            "nat44 add identity mapping 240.0.0.1",
            "identity mapping 240.0.0.1: 240.0.0.1 is a reserved (class E) or broadcast address",
        ),
        // No frame can be sent from these.
        (
            "set interface mac address tap0 00:00:00:00:00:00",
            "set interface mac address tap0 00:00:00:00:00:00: not a MAC an interface can send from",
        ),
        (
            "set interface mac address tap0 ff:ff:ff:ff:ff:ff",
            "set interface mac address tap0 ff:ff:ff:ff:ff:ff: not a MAC an interface can send from",
        ),
    ] {
        assert_eq!(control.execute_line(line).unwrap_err(), error, "{line}");
    }
    for line in [
        "set interface state tap0",
        "ip route del 10.99.0.0/16",
        "set ip neighbor del tap0 172.30.1.99 00:00:00:00:00:01",
        "delete acl-plugin acl index 3",
        "set interface nat44 in tap0 out tap9",
        "nat44 del static mapping tcp local 10.20.0.9 8080 external 10.104.221.85 80",
    ] {
        let e = control.execute_line(line).unwrap_err();
        assert!(!e.is_empty() && !e.contains('\n'), "{line}: {e}");
    }
    assert_eq!((control.plane.clone(), control.snapshot().epoch), before);
    assert!(control
        .execute_line("delete acl-plugin acl index 3")
        .unwrap_err()
        .contains("applied"));
    let unknown = control
        .execute_line("set interface nat44 in tap0 out tap9")
        .unwrap_err();
    assert!(
        unknown.contains("unknown interface 'tap9'") && unknown.contains("tap0"),
        "{unknown}"
    );
}

#[test]
fn startup_file_errors_name_the_line() {
    let dir = std::env::temp_dir().join(format!("podfwd-exec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.conf");
    std::fs::write(
        &file,
        "# comment\n\nset interface state tap0 up\nset interface state tap7 up\n",
    )
    .unwrap();
    let (mut control, _, _) = seed_node();
    let e = control.exec_file(file.to_str().unwrap()).unwrap_err();
    assert_eq!(
        e,
        format!(
            "{}:4: unknown interface 'tap7' (known: tap2, tap0) (what ran before it stays \
             applied)",
            file.display()
        )
    );
    // A line that does not parse fails the file before any runs: said so.
    std::fs::write(
        &file,
        "ip route add 10.90.0.0/16 via 172.30.1.2 tap0\nbogus line\n",
    )
    .unwrap();
    let e = control.exec_file(file.to_str().unwrap()).unwrap_err();
    assert_eq!(
        e,
        format!(
            "{}:2: unknown input 'bogus line' (no command in the file ran)",
            file.display()
        )
    );
    assert!(!control
        .execute_line("show ip fib")
        .unwrap()
        .contains("10.90.0.0/16"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file that runs itself, directly or through another, is refused where the loop
/// closes (not a stack overflow), and the lines before it stay applied; a file past the
/// size cap is refused before it is read.
#[test]
fn exec_refuses_a_loop_and_an_oversized_file() {
    let dir = std::env::temp_dir().join(format!("podfwd-exec-loop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.conf"), dir.join("b.conf"));
    std::fs::write(
        &a,
        format!(
            "ip route add 10.70.0.0/16 via 172.30.1.2 tap0\nexec {}\n",
            b.display()
        ),
    )
    .unwrap();
    std::fs::write(&b, format!("exec {}\n", a.display())).unwrap();
    let (mut control, _, _) = seed_node();
    let e = control.exec_file(a.to_str().unwrap()).unwrap_err();
    let (ca, cb) = (a.canonicalize().unwrap(), b.canonicalize().unwrap());
    assert_eq!(
        e,
        format!(
            "{}:2: {}:1: exec {}: already running ({} -> {}): a file cannot exec itself \
             (what ran before it stays applied)",
            a.display(),
            b.display(),
            a.display(),
            ca.display(),
            cb.display()
        )
    );
    let snapshot = control.snapshot();
    assert_ne!(
        snapshot.fib.lookup(Ipv4Addr::new(10, 70, 1, 1)),
        snapshot.fib.lookup(Ipv4Addr::new(10, 71, 1, 1)),
        "the line before the loop stays applied"
    );
    // The files are not running any more: a file that runs neither may run again.
    std::fs::write(&b, "ip route add 10.71.0.0/16 via 172.30.1.2 tap0\n").unwrap();
    control.exec_file(a.to_str().unwrap()).unwrap();
    let snapshot = control.snapshot();
    assert_eq!(
        snapshot.fib.lookup(Ipv4Addr::new(10, 70, 1, 1)),
        snapshot.fib.lookup(Ipv4Addr::new(10, 71, 1, 1))
    );

    let big = dir.join("big.conf");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(EXEC_MAX_BYTES + 1)
        .unwrap();
    let epoch = control.snapshot().epoch;
    assert_eq!(
        control.exec_file(big.to_str().unwrap()).unwrap_err(),
        format!("exec {}: longer than 256 MiB", big.display())
    );
    assert_eq!(control.snapshot().epoch, epoch, "nothing was published");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `exec FILE` publishes once: one new snapshot for the whole file, holding every line's
/// change (routes, an ACL and a NAT mapping), and a `show ip fib` inside the file already
/// sees the routes before it. A failing line still publishes the lines before it.
#[test]
fn exec_file_publishes_one_snapshot() {
    let dir = std::env::temp_dir().join(format!("podfwd-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut control, _, _) = seed_node();
    let mut text = String::new();
    for n in 0..200u32 {
        text.push_str(&format!(
            "ip route add 10.{}.{}.0/24 via 172.30.1.2 tap0\n",
            50 + n / 256,
            n % 256
        ));
    }
    text.push_str("show ip fib 10.50.7.0/24\n");
    text.push_str("set acl-plugin acl deny src 10.9.9.9/32\n");
    text.push_str("nat44 add static mapping tcp local 10.20.0.9 80 external 10.96.0.9 80\n");
    let file = dir.join("many.conf");
    std::fs::write(&file, &text).unwrap();

    let old = control.snapshot();
    let before = old.epoch;
    let out = control.exec_file(file.to_str().unwrap()).unwrap();
    // The show flushed the routes (one snapshot), the end published the rest (one more).
    assert_eq!(control.snapshot().epoch, before + 2);
    assert!(out.contains("10.50.7.0/24"), "{out}");
    let snapshot = control.snapshot();
    let adj = snapshot.fib.lookup(Ipv4Addr::new(10, 50, 199, 1));
    assert_eq!(adj, snapshot.fib.lookup(Ipv4Addr::new(10, 50, 7, 1)));
    assert_ne!(adj, snapshot.fib.lookup(Ipv4Addr::new(10, 52, 0, 1)));
    assert!(
        !Arc::ptr_eq(&snapshot.acl, &old.acl),
        "the ACL part was rebuilt"
    );
    assert_eq!(snapshot.nat.mappings().len(), old.nat.mappings().len() + 1);

    std::fs::write(
        &file,
        "ip route add 10.60.0.0/16 via 172.30.1.2 tap0\nip route add 10.61.0.0/16 via 172.30.1.2 tap9\n",
    )
    .unwrap();
    let before = control.snapshot().epoch;
    control.exec_file(file.to_str().unwrap()).unwrap_err();
    assert_eq!(control.snapshot().epoch, before + 1);
    let snapshot = control.snapshot();
    assert_ne!(
        snapshot.fib.lookup(Ipv4Addr::new(10, 60, 1, 1)),
        snapshot.fib.lookup(Ipv4Addr::new(10, 61, 1, 1))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `exec` reads regular files only: a FIFO would block the main lcore until a writer
/// came (and the console and the socket with it), a directory cannot be read.
#[test]
fn exec_refuses_what_is_not_a_regular_file() {
    let dir = std::env::temp_dir().join(format!("podfwd-exec-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("pipe.conf");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let (mut control, _, _) = seed_node();
    let epoch = control.snapshot().epoch;
    // Run on another thread: without the check this blocks in open(2), and the test
    // must fail rather than hang.
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.to_str().unwrap().to_owned();
    std::thread::spawn(move || {
        let result = control.exec_file(&path);
        let _ = tx.send((result, control.snapshot().epoch));
    });
    let (result, after) = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("exec of a FIFO returned instead of blocking");
    assert_eq!(
        result.unwrap_err(),
        format!(
            "exec {}: not a regular file (a FIFO): exec reads only files",
            fifo.display()
        )
    );
    assert_eq!(after, epoch, "nothing was published");

    let (mut control, _, _) = seed_node();
    assert_eq!(
        control.exec_file(dir.to_str().unwrap()).unwrap_err(),
        format!(
            "exec {}: not a regular file (a directory): exec reads only files",
            dir.display()
        )
    );
    // A symbolic link to a file is the file.
    let file = dir.join("real.conf");
    std::fs::write(&file, "ip route add 10.80.0.0/16 via 172.30.1.2 tap0\n").unwrap();
    let link = dir.join("link.conf");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    control.exec_file(link.to_str().unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `quit` in a file would not stop podfwd there: it would set a flag that the next
/// socket command honoured, after the rest of the file ran. It is refused, naming the
/// line, before any line of the file runs; in the startup file (a batch, as the app
/// runs it) it fails that line.
#[test]
fn quit_in_a_file_is_refused_and_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("podfwd-exec-quit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("quit.conf");
    std::fs::write(
        &file,
        "ip route add 10.81.0.0/16 via 172.30.1.2 tap0\n# then\nquit\nip route add 10.82.0.0/16 via 172.30.1.2 tap0\n",
    )
    .unwrap();
    let (mut control, _, _) = seed_node();
    let epoch = control.snapshot().epoch;
    assert_eq!(
        control.exec_file(file.to_str().unwrap()).unwrap_err(),
        format!(
            "{}:3: quit is refused in a file: stop podfwd from its console or with SIGINT/SIGTERM",
            file.display()
        )
    );
    assert!(!control.quit_requested());
    assert_eq!(control.snapshot().epoch, epoch, "no line ran");
    assert!(!control
        .execute_line("show ip fib")
        .unwrap()
        .contains("10.81.0.0/16"));
    // `exit` is the same command; over `exec` from the socket too.
    std::fs::write(&file, "exit\n").unwrap();
    assert!(control
        .execute_line(&format!("exec {}", file.display()))
        .unwrap_err()
        .ends_with(
            ":1: quit is refused in a file: stop podfwd from its console or with SIGINT/SIGTERM"
        ));
    // The startup file: the app runs its lines one by one in a batch.
    control.begin_batch();
    assert_eq!(control.execute_line("qu").unwrap_err(), QUIT_IN_FILE);
    control.end_batch();
    assert!(!control.quit_requested());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// In a batch, every `show` sees the lines before it: `show acl-plugin tables` reads the
/// built classifiers, which only a publish rebuilds.
#[test]
fn shows_in_a_file_see_the_lines_before_them() {
    let dir = std::env::temp_dir().join(format!("podfwd-exec-show-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("show.conf");
    std::fs::write(
        &file,
        "set acl-plugin acl deny src 10.9.9.9/32, permit\n\
         set acl-plugin interface tap2 input acl 0\n\
         show acl-plugin tables\n\
         nat44 add static mapping tcp local 10.20.0.9 80 external 10.96.0.9 80\n\
         show nat44 static mappings\n",
    )
    .unwrap();
    let (mut control, _, _) = two_port_node([("tap2", "net_tap0"), ("tap0", "net_tap1")]);
    let out = control.exec_file(file.to_str().unwrap()).unwrap();
    assert!(
        out.contains("(tap2) input: 2 rules, "),
        "the new ACL is in the tables: {out}"
    );
    assert!(
        out.contains("local 10.20.0.9:80 external 10.96.0.9:80"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Outside a batch, a `show` publishes nothing and opens no batch: the changes after it
/// still reach the workers at once (`Option::replace` left a batch open for good).
#[test]
fn a_show_outside_a_batch_leaves_changes_published_at_once() {
    let (mut control, _, _) = seed_node();
    for show in [
        "show ip fib",
        "show acl-plugin tables",
        "show nat44 interfaces",
    ] {
        let epoch = control.snapshot().epoch;
        control.execute_line(show).unwrap();
        assert_eq!(control.snapshot().epoch, epoch, "{show} published");
        control
            .execute_line("ip route add 10.83.0.0/16 via 172.30.1.2 tap0")
            .unwrap();
        assert_eq!(control.snapshot().epoch, epoch + 1, "after {show}");
        control.execute_line("ip route del 10.83.0.0/16").unwrap();
        assert!(control.batch.is_none(), "{show} opened a batch");
    }
}

/// `show interface rx-placement`: each worker polls its own queue of every interface,
/// listed under the interface's input node, as VPP lists them.
#[test]
fn show_interface_rx_placement_lists_each_workers_queues() {
    let (mut control, _, _) = seed_node();
    assert_eq!(
        control.execute_line("show interface rx-placement").unwrap(),
        ""
    );
    control
        .plane
        .add_interface(
            "pcap0",
            "net_pcap0",
            MacAddr([2, 0, 0, 0, 0, 9]),
            InputKind::Pcap,
        )
        .unwrap();
    for lcore in [3, 5] {
        control.add_worker(WorkerLink {
            lcore,
            counters: Arc::default(),
            mailbox: Mailbox::new(),
        });
    }
    assert_eq!(
        control.execute_line("sh int rx-placement").unwrap(),
        "Thread 1 (podfwd_wk_0):\n  node virtio-input:\n    tap2 queue 0 (polling)\n    tap0 queue 0 (polling)\n  node pcap-input:\n    pcap0 queue 0 (polling)\n\
         Thread 2 (podfwd_wk_1):\n  node virtio-input:\n    tap2 queue 1 (polling)\n    tap0 queue 1 (polling)\n  node pcap-input:\n    pcap0 queue 1 (polling)\n"
    );
}

/// `show runtime` has VPP's block per worker thread: `Thread N name (lcore L)`, the
/// time and rates lines, then that worker's own nodes; blocks apart by VPP's dashes.
#[test]
fn show_runtime_has_a_block_per_worker_thread() {
    let (mut control, _, _) = seed_node();
    let counters: Vec<Arc<WorkerCounters>> = (0..2).map(|_| Arc::default()).collect();
    for (lcore, c) in [3, 5].into_iter().zip(&counters) {
        control.add_worker(WorkerLink {
            lcore,
            counters: Arc::clone(c),
            mailbox: Mailbox::new(),
        });
    }
    counters[0].count_call(NodeId::Ip4Lookup, 32, 320);
    counters[1].count_call(NodeId::Ip4Rewrite, 8, 80);
    let text = control.execute_line("show runtime").unwrap();
    let blocks: Vec<&str> = text.split("---------------\n").collect();
    assert_eq!(blocks.len(), 2, "{text}");
    for (block, (header, row, other)) in blocks.iter().zip([
        (
            "Thread 1 podfwd_wk_0 (lcore 3)",
            "ip4-lookup ",
            "ip4-rewrite ",
        ),
        (
            "Thread 2 podfwd_wk_1 (lcore 5)",
            "ip4-rewrite ",
            "ip4-lookup ",
        ),
    ]) {
        let lines: Vec<&str> = block.lines().collect();
        assert_eq!(lines[0], header, "{text}");
        assert!(lines[1].starts_with("Time "), "{text}");
        assert!(lines[2].starts_with("  vector rates in "), "{text}");
        assert!(lines[3].contains("   State   "), "{text}");
        assert!(lines[4].starts_with(row), "{text}");
        assert!(!block.contains(other), "{text}");
    }
    // `summary`: the lines above each table, no table; `max`: VPP's other columns.
    let summary = control.execute_line("show runtime summary").unwrap();
    assert_eq!(summary.lines().count(), 2 * 3 + 1, "{summary}");
    assert!(!summary.contains("ip4-lookup"), "{summary}");
    let max = control.execute_line("show runtime max").unwrap();
    assert!(max.contains(" Max Node Clocks "), "{max}");
    assert!(
        max.contains("\nip4-lookup                          3.20e2            32  "),
        "{max}"
    );
}

/// A worker that does not answer in time may still have taken the question: for one that
/// changes something, the error says the change may still happen.
#[test]
fn worker_timeouts_say_a_change_may_still_be_applied() {
    let (mut control, _, _) = seed_node();
    control.add_worker(WorkerLink {
        lcore: 3,
        counters: Arc::new(WorkerCounters::new()),
        mailbox: Mailbox::new(),
    });
    control.workers_started();
    control.answer_timeout = std::time::Duration::from_millis(20);
    for line in [
        "clear errors",
        "clear runtime",
        "clear interfaces",
        "clear trace",
        "trace add virtio-input 5",
        "nat44 del session in 10.1.1.3:1000 tcp",
    ] {
        assert_eq!(
            control.execute_line(line).unwrap_err(),
            "worker 0 (lcore 3) did not answer within 0.02 s; the change may still be applied",
            "{line}"
        );
    }
    assert_eq!(
        control.execute_line("show trace").unwrap_err(),
        "worker 0 (lcore 3) did not answer within 0.02 s"
    );
    control.answer_timeout = WORKER_ANSWER_TIMEOUT;
    assert!(control
        .execute_line("clear errors")
        .unwrap_err()
        .contains(" within 2 s; the change may still be applied"));
}

/// Issue 4's live-change test: a worker forwards a continuous stream while the main
/// thread applies 1000 route additions and removals through the CLI.
#[test]
fn live_route_changes_lose_no_packet_on_stable_routes() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;

    let (mut control, tap2, tap0) = seed_node();
    control.learn_neighbor(tap0, HOST_NEXT_HOP, HOST_MAC);
    let publisher = control.publisher();
    let stop = Arc::new(AtomicBool::new(false));
    // The worker reports each epoch it forwarded a burst with, so that the main thread
    // can wait for it mid-stream: otherwise it may make all its changes before the
    // worker's first refresh, and the worker would see one epoch only.
    let (seen_tx, seen_rx) = std::sync::mpsc::channel::<u64>();
    let worker = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut snapshot = publisher.subscribe();
            let mut worker = Worker::new(ticks);
            let syn = spec_frames::syn();
            let (mut sent, mut forwarded, mut epochs_seen) = (0u64, 0u64, 0u64);
            let mut last_epoch = 0;
            let mut seen_last = None;
            while !stop.load(Ordering::Relaxed) || sent < 10_000 {
                snapshot.refresh();
                let epoch = snapshot.get().epoch;
                if epoch != last_epoch {
                    epochs_seen += 1;
                    last_epoch = epoch;
                }
                let mut pkts: Vec<TestBuf> = (0..32).map(|_| TestBuf::new(&syn)).collect();
                let verdicts = worker.process(tap2, &mut pkts, snapshot.get(), NOW);
                sent += 32;
                forwarded += verdicts.iter().filter(|v| **v == Verdict::Tx(tap0)).count() as u64;
                if seen_last != Some(epoch) {
                    seen_last = Some(epoch);
                    // The main thread stops listening once it is done changing.
                    let _ = seen_tx.send(epoch);
                }
            }
            (sent, forwarded, epochs_seen)
        })
    };
    let first_epoch = control.snapshot().epoch;
    for i in 0..500u32 {
        let prefix = format!("10.77.{}.0/24", i % 250);
        control
            .execute_line(&format!("ip route add {prefix} via 172.30.1.2 tap0"))
            .unwrap();
        control
            .execute_line(&format!("ip route del {prefix}"))
            .unwrap();
        if i % 100 == 99 {
            let now = control.snapshot().epoch;
            while seen_rx
                .recv_timeout(std::time::Duration::from_secs(30))
                .expect("the worker forwards with the new snapshot")
                < now
            {}
        }
    }
    assert_eq!(control.snapshot().epoch, first_epoch + 1000);
    stop.store(true, Ordering::Relaxed);
    let (sent, forwarded, epochs_seen) = worker.join().unwrap();
    assert_eq!(
        forwarded, sent,
        "a stable route lost packets during the changes"
    );
    assert!(
        epochs_seen > 1,
        "the worker never saw a new snapshot mid-stream"
    );
    assert_eq!(
        control.publisher().collect(),
        1,
        "retired snapshots are freed once the worker moved on"
    );
}

/// The flow-cache tests' node: the seed, plus routes back to many client pods, a
/// load-balanced UDP service with two endpoints, and the host network routed on tap0.
fn flow_cache_node() -> (Control, IfIndex, IfIndex) {
    let (mut control, tap2, tap0) = seed_node();
    control.learn_neighbor(tap0, HOST_NEXT_HOP, HOST_MAC);
    for line in [
        "ip route add 10.1.0.0/16 via 10.1.1.3 tap2",
        "ip route add 10.20.0.0/24 via 172.30.1.2 tap0",
        "nat44 add load-balancing static mapping protocol udp external 10.104.221.85:53 \
         local 10.20.0.2:5353 probability 50 local 10.20.0.3:5353 probability 50 out2in-only",
    ] {
        control.execute_line(line).unwrap();
    }
    (control, tap2, tap0)
}

/// One flow of the flow-cache tests: a client pod to the TCP or the UDP service.
#[derive(Clone, Copy)]
struct TestFlow {
    client: std::net::Ipv4Addr,
    port: u16,
    udp: bool,
    /// The endpoint the request went to, once one did (the reply comes from it).
    endpoint: Option<(std::net::Ipv4Addr, u16)>,
}

/// A request (from the pod, on tap2) or a reply (from the endpoint, on tap0) of `flow`,
/// with what varies drawn from `rng`: TTL (1 among them), TCP flags, payload length
/// (above the MTU at times), Ethernet padding, an IP checksum of 0x0000 or 0xffff, a
/// wrong IP checksum, and any L4 checksum value (NAT44 patches it without checking),
/// including UDP's zero.
fn flow_frame(flow: &TestFlow, reply: bool, rng: &mut crate::rand::FastRng) -> Vec<u8> {
    use crate::packet::{EthernetFrame, Ipv4Packet, Protocol};
    use crate::spec_frames::{CLIENT_POD_MAC, SERVICE_IP, TAP0_MAC, TAP2_MAC};
    let (src_mac, dst_mac) = if reply {
        (HOST_MAC, TAP0_MAC)
    } else {
        (CLIENT_POD_MAC, TAP2_MAC)
    };
    let service = (SERVICE_IP, if flow.udp { 53 } else { 80 });
    let endpoint = flow
        .endpoint
        .unwrap_or((std::net::Ipv4Addr::new(10, 20, 0, 2), 8080));
    let ((src, sport), (dst, dport)) = if reply {
        (endpoint, (flow.client, flow.port))
    } else {
        ((flow.client, flow.port), service)
    };
    let payload_len = match rng.below(8) {
        0 => 1480 + rng.below(40) as usize,
        _ => rng.below(64) as usize,
    };
    let l4_len = if flow.udp { 8 } else { 20 } + payload_len;
    let mut frame = vec![0u8; 14 + 20 + l4_len];
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.set_destination(dst_mac);
    eth.set_source(src_mac);
    eth.set_ethertype(crate::packet::EtherType::Ipv4);
    let mut ip = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.set_version_and_header_len(20);
    ip.set_total_len((20 + l4_len) as u16);
    ip.set_fragment(true, false, 0);
    ip.set_ttl([1, 2, 64, 255][rng.below(4) as usize]);
    ip.set_protocol(if flow.udp {
        Protocol::Udp
    } else {
        Protocol::Tcp
    });
    ip.set_src(src);
    ip.set_dst(dst);
    let l4_csum = match rng.below(4) {
        0 => 0,
        1 => 0xffff,
        _ => rng.next_u32() as u16,
    };
    {
        let l4 = ip.payload_mut();
        l4[0..2].copy_from_slice(&sport.to_be_bytes());
        l4[2..4].copy_from_slice(&dport.to_be_bytes());
        if flow.udp {
            l4[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
            l4[6..8].copy_from_slice(&l4_csum.to_be_bytes());
        } else {
            const FLAGS: [u8; 6] = [0x02, 0x12, 0x10, 0x18, 0x11, 0x04];
            l4[12] = 5 << 4;
            l4[13] = FLAGS[rng.below(6) as usize];
            l4[16..18].copy_from_slice(&l4_csum.to_be_bytes());
        }
    }
    // An ident that makes the header checksum 0x0000 at times (it may then be sent as
    // 0xffff, which checks as well).
    ip.set_ident(0);
    ip.fill_checksum();
    let ident = match rng.below(4) {
        0 => ip.checksum(),
        _ => rng.next_u32() as u16,
    };
    ip.set_ident(ident);
    ip.fill_checksum();
    match rng.below(16) {
        0 if ip.checksum() == 0 => ip.set_checksum(0xffff),
        1 => ip.set_checksum(ip.checksum() ^ 0x0100),
        _ => {}
    }
    if rng.below(8) == 0 {
        frame.extend_from_slice(&[0; 6]);
    }
    frame
}

/// Two workers, one with the flow cache and one without, get the same bursts of
/// requests and replies over many flows, with sessions expiring, deleted and
/// re-created (on another endpoint at times), and the configuration changing: every
/// verdict, every byte, and the sessions and counters agree, and the cache did forward
/// most packets.
#[test]
fn flow_cache_forwards_exactly_as_the_stages() {
    let (mut control, tap2, tap0) = flow_cache_node();
    let mut snapshot = control.snapshot();
    let (mut cached, mut plain) = cached_and_plain();
    let mut rng = crate::rand::FastRng::new(7);
    let mut flows: Vec<TestFlow> = (0..48)
        .map(|n| TestFlow {
            client: std::net::Ipv4Addr::new(10, 1, 2 + (n / 200) as u8, (n % 200 + 1) as u8),
            port: 30_000 + n as u16,
            udp: n % 3 == 0,
            endpoint: None,
        })
        .collect();
    let mut now = NOW;
    let mut packets = 0u64;
    for round in 0..400 {
        // Time moves on by up to 32 s every eighth round and by up to 10 ms in the
        // others (so that a flow comes back within the second its ACL sessions were
        // refreshed in), and leaps now and then, so that sessions expire (ACL:
        // transient TCP after 120 s, UDP after 600 s; NAT44: transitory TCP after
        // 240 s, UDP after 300 s) and their slots go to other flows.
        now += match round % 8 {
            0 => rng.below(32_000_000_000),
            _ => rng.below(10_000_000),
        };
        match round {
            100 => now += 130_000_000_000,
            200 => now += 610_000_000_000,
            150 => {
                // A new neighbour MAC: a new snapshot, every entry stale.
                control
                    .execute_line("set ip neighbor tap0 172.30.1.2 3e:1b:70:2d:4d:52 static")
                    .unwrap();
                snapshot = control.snapshot();
            }
            250 | 320 => {
                for worker in [&mut cached, &mut plain] {
                    for addr in ["10.20.0.2", "10.20.0.3"] {
                        worker
                            .answer(
                                WorkerQuestion::NatDeleteSessions(SessionSelector {
                                    side: crate::nat44::Side::Inside,
                                    local: (addr.parse().unwrap(), 5353),
                                    proto: crate::nat44::NatProtocol::Udp,
                                    external_host: None,
                                }),
                                &snapshot,
                                now,
                            )
                            .unwrap();
                    }
                }
            }
            360 => {
                // clear nat44 sessions: every flow starts again from its mapping.
                for worker in [&mut cached, &mut plain] {
                    assert!(worker.nat().session_count() > 0);
                    worker
                        .answer(WorkerQuestion::NatClearSessions, &snapshot, now)
                        .unwrap();
                    assert_eq!(worker.nat().session_count(), 0);
                }
            }
            _ => {}
        }
        let reply = round % 2 == 1;
        // Each phase of 50 rounds uses a different two thirds of the flows: the others idle.
        let phase = round / 50;
        let picked: Vec<usize> = (0..32)
            .map(|_| (phase * 16 + rng.below(32) as usize) % flows.len())
            .collect();
        // Every other burst each way has only packets the cache may take (an established
        // flow's, nothing to drop or answer): the cache forwards a burst only whole.
        let clean = round % 4 >= 2;
        let frames: Vec<Vec<u8>> = picked
            .iter()
            .map(|&f| match clean {
                true => clean_frame(&flows[f], reply, [0x10, 0x18][round % 2], &mut rng),
                false => flow_frame(&flows[f], reply, &mut rng),
            })
            .collect();
        let rx = if reply { tap0 } else { tap2 };
        let mut outs = Vec::new();
        for worker in [&mut cached, &mut plain] {
            let mut pkts: Vec<TestBuf> = frames.iter().map(|f| TestBuf::new(f)).collect();
            let verdicts = worker.process(rx, &mut pkts, &snapshot, now).to_vec();
            let bytes: Vec<Vec<u8>> = pkts.iter().map(|p| p.data().to_vec()).collect();
            outs.push((verdicts, bytes));
        }
        assert_eq!(outs[0].0, outs[1].0, "round {round}: verdicts");
        for (k, (a, b)) in outs[0].1.iter().zip(&outs[1].1).enumerate() {
            assert_eq!(a, b, "round {round}, packet {k}: bytes");
        }
        // The endpoint each request reached is where its flow's replies come from.
        if !reply {
            for (k, &f) in picked.iter().enumerate() {
                if outs[0].0[k] == Verdict::Tx(tap0) {
                    let out = &outs[0].1[k];
                    let dst = std::net::Ipv4Addr::new(out[30], out[31], out[32], out[33]);
                    let dport = u16::from_be_bytes([out[36], out[37]]);
                    flows[f].endpoint = Some((dst, dport));
                }
            }
        }
        packets += frames.len() as u64;
    }
    let (c, p) = (cached.counters().totals(), plain.counters().totals());
    assert_eq!(c.interfaces, p.interfaces, "interface counters");
    assert_eq!(c.drops, p.drops, "drop counters");
    for node in NodeId::ALL {
        let (a, b) = (c.runtime[node.index()], p.runtime[node.index()]);
        if node != NodeId::Ip4FlowCache {
            assert_eq!(a.vectors + a.cached, b.vectors, "{node} vectors");
        }
    }
    assert_eq!(cached.nat().session_count(), plain.nat().session_count());
    assert_eq!(cached.acl().session_count(), plain.acl().session_count());
    assert_same_sessions([&mut cached, &mut plain], &snapshot, now);
    let stats = cached.flow_cache().stats();
    assert!(
        stats.hits > packets / 5,
        "the cache forwarded {} of {packets} packets",
        stats.hits
    );
    assert!(
        stats.misses > 0
            && stats.learnt > 0
            && stats.held > 0
            && stats.stale > 0
            && stats.acl_fresh > 0
            && stats.partial > 0,
        "{stats:?}"
    );
    assert_eq!(plain.flow_cache().stats().hits, 0);
}

/// Runs `frames` through both workers and checks that they agree; returns what left.
fn through_both(
    workers: [&mut Worker; 2],
    snapshot: &Snapshot,
    rx: IfIndex,
    frames: &[Vec<u8>],
    now: u64,
) -> Vec<(Verdict, Vec<u8>)> {
    let mut outs = Vec::new();
    for worker in workers {
        let mut pkts: Vec<TestBuf> = frames.iter().map(|f| TestBuf::new(f)).collect();
        let verdicts = worker.process(rx, &mut pkts, snapshot, now).to_vec();
        outs.push(
            verdicts
                .into_iter()
                .zip(pkts.iter().map(|p| p.data().to_vec()))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(outs[0], outs[1]);
    outs.swap_remove(0)
}

/// The two workers' sessions read alike: NAT44's in detail (packets, bytes, last
/// heard), the ACL's, and the ACL's session hits.
fn assert_same_sessions(workers: [&mut Worker; 2], snapshot: &Snapshot, now: u64) {
    let [cached, plain] = workers;
    assert_eq!(
        cached.acl().counters().session_hits,
        plain.acl().counters().session_hits
    );
    for question in [
        WorkerQuestion::NatSessions { detail: true },
        WorkerQuestion::AclSessions { one: None },
    ] {
        let cached_answer = cached.answer(question.clone(), snapshot, now);
        assert!(cached_answer.is_ok(), "{question:?}");
        assert_eq!(cached_answer, plain.answer(question, snapshot, now));
    }
    // What the show leaves out: each NAT44 session's class and place in its list.
    let classes = |w: &Worker| {
        let table = w.nat().sessions();
        table
            .indices()
            .map(|i| (i, table.get(i).map(|s| s.class())))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        classes(cached),
        classes(plain),
        "NAT44 sessions' classes and lists"
    );
}

/// Two workers, the first with the flow cache, the second without.
fn cached_and_plain() -> (Worker, Worker) {
    let mut plain = Worker::new(ticks);
    plain.set_flow_cache(false);
    (Worker::new(ticks), plain)
}

/// A TCP flow from client pod 10.1.2.`last`:`port` to the service, answered by 10.20.0.2.
fn tcp_flow(last: u8, port: u16) -> TestFlow {
    TestFlow {
        client: std::net::Ipv4Addr::new(10, 1, 2, last),
        port,
        udp: false,
        endpoint: Some((std::net::Ipv4Addr::new(10, 20, 0, 2), 8080)),
    }
}

/// A frame of `flow` that passes every check (TTL above 1, no padding, within the MTU,
/// a correct IP checksum) with TCP flags `flags` (a UDP flow's has none).
fn clean_frame(flow: &TestFlow, reply: bool, flags: u8, rng: &mut crate::rand::FastRng) -> Vec<u8> {
    loop {
        let frame = flow_frame(flow, reply, rng);
        let ip = crate::packet::Ipv4Packet::new_verified(&frame[14..]);
        if frame[22] > 1
            && (flow.udp || frame.get(47) == Some(&flags))
            && ip.is_ok_and(|ip| {
                usize::from(ip.total_len()) + 14 == frame.len() && frame.len() < 200
            })
        {
            return frame;
        }
    }
}

/// ACL sessions reclaimed by housekeeping whose slots then go to another flow: the first
/// flow's cached entry names those slots, and must not take the other flow's sessions
/// for its own (its packet takes the stages and gets a session of its own).
#[test]
fn flow_cache_entry_of_reclaimed_acl_sessions_is_stale() {
    let (control, tap2, tap0) = flow_cache_node();
    let snapshot = control.snapshot();
    let (mut cached, mut plain) = cached_and_plain();
    let mut rng = crate::rand::FastRng::new(3);
    let (a, b) = (tcp_flow(1, 30_000), tcp_flow(2, 30_001));
    let mut now = NOW;
    // The SYN passes tap0's output ACL by a rule (not learnt: a session may yet appear
    // for it there); the SYN-ACK's reflected session on tap0 then admits the ACK.
    let ports = (tap2, tap0);
    open_flow(
        [&mut cached, &mut plain],
        &snapshot,
        ports,
        &a,
        now,
        &mut rng,
    );
    assert_eq!(cached.flow_cache().stats().hits, 0);
    // The ACK was learnt; an RST of the flow is a hit, and turns its sessions transient.
    let rst = clean_frame(&a, false, 0x04, &mut rng);
    through_both(
        [&mut cached, &mut plain],
        &snapshot,
        tap2,
        std::slice::from_ref(&rst),
        now,
    );
    assert_eq!(cached.flow_cache().stats().hits, 1, "the RST was a hit");
    // 130 s on, a's transient ACL sessions have expired (its NAT44 session, 240 s, has
    // not); housekeeping reclaims them, and b's sessions take their slots.
    now += 130_000_000_000;
    for worker in [&mut cached, &mut plain] {
        worker.housekeeping(&snapshot, now);
        assert_eq!(worker.acl().session_count(), 0);
    }
    open_flow(
        [&mut cached, &mut plain],
        &snapshot,
        ports,
        &b,
        now,
        &mut rng,
    );
    through_both([&mut cached, &mut plain], &snapshot, tap2, &[rst], now);
    assert_eq!(
        cached.acl().session_count(),
        3,
        "a got a session of its own"
    );
    assert_eq!(plain.acl().session_count(), 3);
    assert_eq!(cached.flow_cache().stats().hits, 1, "a's entry was stale");
}

/// An entry whose ACL sessions were refreshed in this second leaves their refresh out
/// only while no session has been deleted in the second it was heard in: here a closed
/// connection's sessions, given up for a new flow at the table's limit in the same
/// second, send that connection's next packet to the stages, as without the cache.
#[test]
fn flow_cache_fresh_entry_sees_its_sessions_given_up_in_the_same_second() {
    let (mut control, tap2, tap0) = flow_cache_node();
    control
        .execute_line("set acl-plugin session table max-entries 2")
        .unwrap();
    let snapshot = control.snapshot();
    let (mut cached, mut plain) = cached_and_plain();
    let mut rng = crate::rand::FastRng::new(5);
    let a = tcp_flow(1, 30_000);
    let now = NOW;
    open_flow(
        [&mut cached, &mut plain],
        &snapshot,
        (tap2, tap0),
        &a,
        now,
        &mut rng,
    );
    assert_eq!(cached.acl().session_count(), 2, "the table is full");
    let ack = clean_frame(&a, false, 0x10, &mut rng);
    for _ in 0..2 {
        through_both(
            [&mut cached, &mut plain],
            &snapshot,
            tap2,
            std::slice::from_ref(&ack),
            now,
        );
    }
    let stats = cached.flow_cache().stats();
    assert_eq!(
        (stats.hits, stats.acl_fresh),
        (2, 1),
        "the second ACK was fresh"
    );
    // The client resets (a hit: new flags, so its sessions are refreshed and closed);
    // a new flow's SYN in the same second then takes their slots.
    let rst = clean_frame(&a, false, 0x04, &mut rng);
    through_both([&mut cached, &mut plain], &snapshot, tap2, &[rst], now);
    let syn = clean_frame(&tcp_flow(2, 30_001), false, 0x02, &mut rng);
    through_both([&mut cached, &mut plain], &snapshot, tap2, &[syn], now);
    through_both([&mut cached, &mut plain], &snapshot, tap2, &[ack], now);
    let stats = cached.flow_cache().stats();
    assert_eq!(stats.acl_fresh, 1, "a's entry was fresh no more: {stats:?}");
    let acl_sessions =
        |w: &mut Worker| w.answer(WorkerQuestion::AclSessions { one: None }, &snapshot, now);
    assert_eq!(acl_sessions(&mut cached), acl_sessions(&mut plain));
    assert_eq!(
        cached.acl().counters().session_hits,
        plain.acl().counters().session_hits
    );
}

/// Churn at the ACL session table's limit, within seconds: connections opened,
/// answered, reset and closed at random over more flows than the table holds, in
/// bursts of one to four packets from one side (known flows' packets are forwarded
/// from the cache between the others; beside them hardly ever, the table being full,
/// which the room rule's own tests cover). Closed connections'
/// sessions are given up for new flows in the second they were heard in, which ends
/// the freshness of the entries naming them: every verdict, every byte, the sessions
/// and the counters agree with the stages'.
#[test]
fn flow_cache_agrees_with_the_stages_through_churn_at_the_acl_limit() {
    let (mut control, tap2, tap0) = flow_cache_node();
    control
        .execute_line("set acl-plugin session table max-entries 16")
        .unwrap();
    let snapshot = control.snapshot();
    let (mut cached, mut plain) = cached_and_plain();
    let mut rng = crate::rand::FastRng::new(21);
    let flows: Vec<TestFlow> = (0..24u16)
        .map(|n| tcp_flow(1 + n as u8, 31_000 + n))
        .collect();
    let mut now = NOW;
    for step in 0..4000 {
        now += match step % 500 {
            0 => 1_000_000_000,
            _ => rng.below(1_000_000),
        };
        let reply = rng.below(2) == 0;
        let frames: Vec<Vec<u8>> = (0..1 + rng.below(4))
            .map(|_| {
                let flow = &flows[rng.below(flows.len() as u64) as usize];
                // SYNs rarer than the rest: a burst with one takes the stages whole at
                // the limit (the SYN is never looked for, and the table has no room to
                // forward the rest beside it).
                let flags = match (reply, rng.below(10)) {
                    (false, 0) => 0x02,
                    (false, 1 | 2) => 0x04,
                    (false, 3 | 4) => 0x11,
                    (true, 0) => 0x12,
                    (true, 1 | 2) => 0x11,
                    _ => 0x10,
                };
                clean_frame(flow, reply, flags, &mut rng)
            })
            .collect();
        let rx = if reply { tap0 } else { tap2 };
        through_both([&mut cached, &mut plain], &snapshot, rx, &frames, now);
    }
    let acl_sessions =
        |w: &mut Worker| w.answer(WorkerQuestion::AclSessions { one: None }, &snapshot, now);
    assert_eq!(acl_sessions(&mut cached), acl_sessions(&mut plain));
    let nat_sessions =
        |w: &mut Worker| w.answer(WorkerQuestion::NatSessions { detail: true }, &snapshot, now);
    assert_eq!(nat_sessions(&mut cached), nat_sessions(&mut plain));
    let (c, p) = (cached.acl().counters(), plain.acl().counters());
    assert_eq!(
        (c.session_hits, c.too_many_sessions),
        (p.session_hits, p.too_many_sessions)
    );
    let stats = cached.flow_cache().stats();
    assert!(
        stats.acl_fresh > 0 && cached.acl().fresh_deletes() > 0 && c.too_many_sessions > 0,
        "the churn missed what it is for: {stats:?}, {} fresh deletes, {} refused",
        cached.acl().fresh_deletes(),
        c.too_many_sessions
    );
}

/// A burst with a packet of a known flow behind a new flow's SYN, the ACL table full and
/// the known flow's connection closed (routed, no NAT44): the SYN takes the closed
/// connection's session, so the known flow's packet finds none and is refused as in
/// the stages. The cache forwards packets beside others that take the stages only
/// while both tables have room for what those may create.
#[test]
fn flow_cache_forwards_beside_the_stages_only_with_room_in_the_tables() {
    let (mut control, pods, host) = routed_acl_node(2);
    let snapshot = control.snapshot();
    let (mut cached, mut plain) = cached_and_plain();
    let mut rng = crate::rand::FastRng::new(31);
    let (a, b, c) = (
        tcp_flow(1, 40_001),
        tcp_flow(2, 40_002),
        tcp_flow(3, 40_003),
    );
    let mut frame = |flow: &TestFlow, flags: u8| clean_frame(flow, false, flags, &mut rng);
    let (a_syn, a_ack, a_rst) = (frame(&a, 0x02), frame(&a, 0x10), frame(&a, 0x04));
    let (b_syn, c_syn) = (frame(&b, 0x02), frame(&c, 0x02));
    let mut send = |frames: &[Vec<u8>]| {
        through_both([&mut cached, &mut plain], &snapshot, pods, frames, NOW)
            .into_iter()
            .map(|(verdict, _)| verdict)
            .collect::<Vec<_>>()
    };
    let sent = Verdict::Tx(host);
    assert_eq!(send(&[a_syn]), [sent]);
    // Learnt, then forwarded from the cache (its session refreshed), then fresh.
    for _ in 0..3 {
        assert_eq!(send(std::slice::from_ref(&a_ack)), [sent]);
    }
    assert_eq!(send(&[b_syn]), [sent], "the table is full now");
    assert_eq!(send(&[a_rst]), [sent], "a's connection closes");
    let verdicts = send(&[c_syn, a_ack.clone()]);
    assert_eq!(verdicts[0], sent, "c takes a's closed session's slot");
    assert_eq!(
        verdicts[1],
        Verdict::Drop,
        "a's packet has no session, no room"
    );
    let stats = cached.flow_cache().stats();
    assert_eq!((stats.hits, stats.partial), (3, 0), "{stats:?}");
    // With room (a larger table, emptied by expiry), the known flow's packet is
    // forwarded from the cache beside the new flow's SYN.
    control
        .execute_line("set acl-plugin session table max-entries 8")
        .unwrap();
    let snapshot = control.snapshot();
    let later = NOW + 200_000_000_000;
    for worker in [&mut cached, &mut plain] {
        worker.housekeeping(&snapshot, later);
        assert_eq!(worker.acl().session_count(), 0);
    }
    let d = tcp_flow(4, 40_004);
    let (d_syn, d_ack) = (frame(&d, 0x02), frame(&d, 0x10));
    let mut send = |frames: &[Vec<u8>]| {
        through_both([&mut cached, &mut plain], &snapshot, pods, frames, later)
    };
    send(&[d_syn]);
    send(std::slice::from_ref(&d_ack));
    let e_syn = frame(&tcp_flow(5, 40_005), 0x02);
    let out = send(&[e_syn, d_ack]);
    assert!(out.iter().all(|(v, _)| *v == sent));
    let stats = cached.flow_cache().stats();
    assert_eq!(stats.partial, 1, "{stats:?}");
    let acl_sessions =
        |w: &mut Worker| w.answer(WorkerQuestion::AclSessions { one: None }, &snapshot, later);
    assert_eq!(acl_sessions(&mut cached), acl_sessions(&mut plain));
}

/// scripts/bench's two interfaces, routed both ways without NAT44 (the service prefix
/// towards the host), with a reflective ACL on the pods' input and an ACL session
/// table of `max` per worker.
fn routed_acl_node(max: usize) -> (Control, IfIndex, IfIndex) {
    let (mut control, pods, host) = two_port_node([("pods", "net_pcap0"), ("host", "net_null0")]);
    let max_entries = format!("set acl-plugin session table max-entries {max}");
    let lines = [
        "ip route add 10.104.0.0/16 via 172.30.1.2 host",
        "set acl-plugin acl permit+reflect",
        "set acl-plugin interface pods input acl 0",
        &max_entries,
    ];
    for line in BENCH_INTERFACES.iter().chain(&lines) {
        control.execute_line(line).unwrap();
    }
    (control, pods, host)
}

/// scripts/bench's two interfaces: addresses, MACs, the client pods' neighbour and
/// route, the host's next hop.
const BENCH_INTERFACES: [&str; 9] = [
    "set interface mac address pods 02:fe:16:3f:5f:0f",
    "set interface ip address pods 10.1.1.1/24",
    "set interface state pods up",
    "set interface mac address host 01:23:45:67:89:42",
    "set interface ip address host 172.30.1.1/24",
    "set interface state host up",
    "set ip neighbor pods 10.1.1.3 00:00:00:00:00:02 static",
    "ip route add 10.1.0.0/16 via 10.1.1.3 pods",
    "set ip neighbor host 172.30.1.2 3e:1b:70:2d:4d:51 static",
];

/// The room the packets taking the stages need counts those whose entries turned out
/// stale, not only those without one: here two known flows' sessions expired, so their
/// packets take the stages too and, with a new flow's SYN, fill the table; the third
/// takes a closed connection's session, and that connection's ACK, further on in the
/// burst, is refused as in the stages.
#[test]
fn flow_cache_room_for_the_stages_counts_stale_entries() {
    let (control, pods, _host) = routed_acl_node(4);
    let snapshot = control.snapshot();
    let (mut cached, mut plain) = cached_and_plain();
    let mut rng = crate::rand::FastRng::new(43);
    let flow = |n: u8| tcp_flow(n, 41_000 + u16::from(n));
    let (a, b, c, d, e) = (flow(1), flow(2), flow(3), flow(4), flow(5));
    let mut frame = |flow: &TestFlow, flags: u8| clean_frame(flow, false, flags, &mut rng);
    let (d_ack, e_ack, a_ack) = (frame(&d, 0x10), frame(&e, 0x10), frame(&a, 0x10));
    let script = [
        (0, vec![frame(&d, 0x02), frame(&e, 0x02)]),
        (0, vec![d_ack.clone(), e_ack.clone()]),
        (0, vec![d_ack.clone(), e_ack.clone()]),
        (100_000, vec![frame(&a, 0x02)]),
        (100_000, vec![a_ack.clone()]),
        (100_000, vec![a_ack.clone()]),
        (100_000, vec![frame(&a, 0x04)]),
        (120_500, vec![frame(&b, 0x02)]),
    ];
    for (ms, frames) in script {
        through_both(
            [&mut cached, &mut plain],
            &snapshot,
            pods,
            &frames,
            NOW + ms * 1_000_000,
        );
    }
    let now = NOW + 121_000_000_000;
    for worker in [&mut cached, &mut plain] {
        worker.housekeeping(&snapshot, now);
        assert_eq!(
            worker.acl().session_count(),
            2,
            "d's and e's sessions expired"
        );
    }
    let out = through_both(
        [&mut cached, &mut plain],
        &snapshot,
        pods,
        &[frame(&c, 0x02), d_ack, e_ack, a_ack],
        now,
    );
    assert_eq!(
        out[3].0,
        Verdict::Drop,
        "a's session went to e; no room for another"
    );
    assert_eq!(cached.flow_cache().stats().partial, 0);
}

/// A packet the cache cannot take (here a TTL of 1) beside a known flow's packet: it
/// takes the stages (ICMP time exceeded), however the table's slot 0 is taken (a
/// packet without an entry once read slot 0 as its entry), and the known flow's packet
/// is forwarded from the cache beside it.
#[test]
fn flow_cache_never_takes_slot_zero_for_a_packet_without_an_entry() {
    let (control, tap2, tap0) = flow_cache_node();
    let KnownFlow {
        snapshot,
        mut cached,
        mut plain,
        ack,
        ..
    } = known_flow(&control, (tap2, tap0), &tcp_flow(1, 30_000), 41);
    assert!(cached.flow_cache_mut().copy_an_entry_to_slot_zero());
    let mut expiring = ack.clone();
    expiring[22] = 1;
    crate::packet::Ipv4Packet::new_unchecked(&mut expiring[14..]).fill_checksum();
    let out = through_both(
        [&mut cached, &mut plain],
        &snapshot,
        tap2,
        &[expiring, ack],
        NOW,
    );
    assert_eq!(out[1].0, Verdict::Tx(tap0));
    assert_ne!(out[0].0, Verdict::Tx(tap0), "TTL 1 is not forwarded");
    let stats = cached.flow_cache().stats();
    assert_eq!((stats.hits, stats.partial), (2, 1), "{stats:?}");
}

/// A known flow's packet in a traced burst takes the stages, so its trace reads as the
/// fixed sequence; untraced, it is a hit, and `show runtime` counts it in every stage it
/// passed by as well as in ip4-flow-cache's row.
#[test]
fn flow_cache_keeps_traces_and_runtime_rows() {
    let (control, tap2, tap0) = flow_cache_node();
    let snapshot = control.snapshot();
    let mut worker = Worker::new(ticks);
    let mut rng = crate::rand::FastRng::new(5);
    let flow = tcp_flow(9, 40_000);
    for (rx, reply, flags) in [(tap2, false, 0x02), (tap0, true, 0x12), (tap2, false, 0x10)] {
        let frame = clean_frame(&flow, reply, flags, &mut rng);
        let (verdict, _) = run(&mut worker, &snapshot, rx, frame);
        assert!(matches!(verdict, Verdict::Tx(_)));
    }
    assert_eq!(
        worker.flow_cache().stats().learnt,
        1,
        "the ACK was learnt, not the SYN nor the SYN-ACK"
    );
    let ack = clean_frame(&flow, false, 0x10, &mut rng);
    let (verdict, untraced) = run(&mut worker, &snapshot, tap2, ack.clone());
    assert_eq!(verdict, Verdict::Tx(tap0));
    assert_eq!(worker.flow_cache().stats().hits, 1);
    let shown = worker
        .answer(WorkerQuestion::FlowCache, &snapshot, NOW)
        .unwrap();
    assert!(
        shown.starts_with(
            "ip4-flow-cache: on, 65536 entries (4 MiB), 1 in use\n\
             prefetching its lookups: no (from 8192 entries in use)\n"
        ),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("{:>14} packets forwarded from the cache\n", 1)),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("{:>14} entries learnt\n", 1)),
        "{shown}"
    );
    trace_add(&mut worker, &snapshot, 1);
    let (_, traced) = run(&mut worker, &snapshot, tap2, ack);
    assert_eq!(
        traced, untraced,
        "the stages and the cache send the same bytes"
    );
    assert_eq!(
        worker.flow_cache().stats().hits,
        1,
        "the traced packet took the stages"
    );
    let trace = worker
        .answer(WorkerQuestion::ShowTrace { max: 1 }, &snapshot, NOW)
        .unwrap();
    let block = trace.split("Packet ").nth(1).unwrap_or_default();
    assert_eq!(trace_nodes(block), REQUEST_NODES, "{trace}");
    assert!(trace.contains("action: 3"), "{trace}");
    let totals = worker.counters().totals();
    let row = |node: NodeId| totals.runtime[node.index()];
    assert_eq!(row(NodeId::Nat44Out2in).cached, 1);
    assert_eq!(row(NodeId::Nat44In2out).cached, 0);
    assert_eq!(
        row(NodeId::Ip4Lookup).vectors + row(NodeId::Ip4Lookup).cached,
        5,
        "five packets were routed"
    );
    assert_eq!(
        row(NodeId::Ip4FlowCache).vectors,
        4,
        "four untraced packets tried it"
    );
    let runtime = totals.format_runtime();
    assert!(runtime.contains("ip4-flow-cache"), "{runtime}");
    assert!(runtime.contains("carried"), "{runtime}");
}

/// scripts/bench's node, small: ACLs (permit+reflect) on both interfaces' input only,
/// NAT44 out on the pods' side and in on the host's, the TCP service.
fn bench_node() -> (Control, IfIndex, IfIndex) {
    bench_node_with(&[
        "set acl-plugin acl deny src 192.0.2.1/32 proto 6 dport 22, permit+reflect tag bench",
        "set acl-plugin interface pods input acl 0",
        "set acl-plugin interface host input acl 0",
    ])
}

/// scripts/bench's interfaces, routes and NAT44, then `acl_lines`.
fn bench_node_with(acl_lines: &[&str]) -> (Control, IfIndex, IfIndex) {
    let (mut control, pods, host) = two_port_node([("pods", "net_pcap0"), ("host", "net_null0")]);
    let lines = [
        "ip route add 10.20.0.0/24 via 172.30.1.2 host",
        "nat44 add static mapping tcp local 10.20.0.2 8080 external 10.104.221.85 80 out2in-only",
        "set interface nat44 out pods",
        "set interface nat44 in host",
    ];
    for line in BENCH_INTERFACES.iter().chain(&lines).chain(acl_lines) {
        control.execute_line(line).unwrap();
    }
    (control, pods, host)
}

/// A request leaving an interface with sessions but no output rules, while its key has
/// no session there, is cached with a watch on that key: once the reply creates the
/// session (on the host's input, its reverse key on the host's output), the next
/// request takes the stages and refreshes it, so it lives as long as with the stages.
#[test]
fn flow_cache_watch_ends_when_the_session_appears() {
    let (control, pods, host) = bench_node();
    let snapshot = control.snapshot();
    let (mut cached, mut plain) = cached_and_plain();
    let mut rng = crate::rand::FastRng::new(9);
    let flow = tcp_flow(7, 41_000);
    let mut frame = |reply: bool, flags: u8| clean_frame(&flow, reply, flags, &mut rng);
    let (ack, syn_ack) = (frame(false, 0x10), frame(true, 0x12));
    let mut now = NOW;
    let mut send = |rx: IfIndex, f: &Vec<u8>, now: u64| {
        let out = through_both(
            [&mut cached, &mut plain],
            &snapshot,
            rx,
            std::slice::from_ref(f),
            now,
        );
        assert!(matches!(out[0].0, Verdict::Tx(_)));
    };
    // Requests as of an established connection, learnt from the first (the third, in
    // the same second as the second, leaves out its ACL session's refresh and its
    // watch's check: no session was created since); then a reply, which creates one,
    // and a request in the same second, which finds the watch ended though its
    // entry's sessions are fresh.
    send(pods, &ack, now);
    send(pods, &ack, now);
    send(pods, &ack, now);
    now += 50_000_000_000;
    send(pods, &ack, now);
    send(host, &syn_ack, now);
    send(pods, &ack, now);
    now += 100_000_000_000;
    send(pods, &ack, now);
    now += 100_000_000_000;
    for worker in [&mut cached, &mut plain] {
        worker.housekeeping(&snapshot, now);
    }
    // The pod's session and the host's, which the ACK refreshed (else, transient, it
    // would be 200 s idle and gone).
    assert_eq!(plain.acl().session_count(), 2);
    assert_eq!(
        cached.acl().session_count(),
        2,
        "the ACK refreshed the host's session"
    );
    let stats = cached.flow_cache().stats();
    assert_eq!(
        (stats.hits, stats.stale, stats.acl_fresh),
        (4, 1, 1),
        "{stats:?}"
    );
    assert_eq!(
        cached.acl().counters().session_hits,
        plain.acl().counters().session_hits
    );
}

/// Opens `flow` through both workers at `now` (SYN, SYN-ACK, ACK: the ACK is learnt).
fn open_flow(
    workers: [&mut Worker; 2],
    snapshot: &Snapshot,
    (pods, host): (IfIndex, IfIndex),
    flow: &TestFlow,
    now: u64,
    rng: &mut crate::rand::FastRng,
) {
    let [c, p] = workers;
    for (rx, reply, flags) in [(pods, false, 0x02), (host, true, 0x12), (pods, false, 0x10)] {
        let frame = clean_frame(flow, reply, flags, rng);
        let out = through_both([&mut *c, &mut *p], snapshot, rx, &[frame], now);
        assert!(matches!(out[0].0, Verdict::Tx(_)));
    }
}

/// Where several flow-cache tests start: `control`'s snapshot, a worker with the cache
/// and one without, and a flow opened on both at NOW (its ACK learnt) and sent an ACK
/// again (a hit in `cached`).
struct KnownFlow {
    snapshot: Arc<Snapshot>,
    cached: Worker,
    plain: Worker,
    rng: crate::rand::FastRng,
    /// The ACK sent last.
    ack: Vec<u8>,
}

fn known_flow(
    control: &Control,
    (pods, host): (IfIndex, IfIndex),
    flow: &TestFlow,
    seed: u64,
) -> KnownFlow {
    let snapshot = control.snapshot();
    let (mut cached, mut plain) = cached_and_plain();
    let mut rng = crate::rand::FastRng::new(seed);
    let workers = [&mut cached, &mut plain];
    open_flow(workers, &snapshot, (pods, host), flow, NOW, &mut rng);
    let ack = clean_frame(flow, false, 0x10, &mut rng);
    let burst = std::slice::from_ref(&ack);
    through_both([&mut cached, &mut plain], &snapshot, pods, burst, NOW);
    KnownFlow {
        snapshot,
        cached,
        plain,
        rng,
        ack,
    }
}

/// `clear acl-plugin sessions` deletes a worker's sessions at once, and ip4-flow-cache
/// forwards nothing more on them, even in the second its entry was freshened in: the
/// flow's next packet takes the stages, as it does without the cache.
#[test]
fn clear_acl_sessions_deletes_them_and_the_cache_lets_go() {
    let (control, pods, host) = bench_node();
    let KnownFlow {
        snapshot,
        mut cached,
        mut plain,
        ack,
        ..
    } = known_flow(&control, (pods, host), &tcp_flow(6, 43_000), 5);
    assert!(plain.acl().session_count() > 0);
    for worker in [&mut cached, &mut plain] {
        assert_eq!(
            worker.answer(WorkerQuestion::ClearAclSessions, &snapshot, NOW),
            Ok(String::new())
        );
        assert_eq!(worker.acl().session_count(), 0);
    }
    let hits = cached.flow_cache().stats().hits;
    through_both([&mut cached, &mut plain], &snapshot, pods, &[ack], NOW);
    assert_eq!(
        cached.flow_cache().stats().hits,
        hits,
        "forwarded from the cache on a cleared session"
    );
    assert_same_sessions([&mut cached, &mut plain], &snapshot, NOW);
}

thread_local! {
    static PREFETCHES: Cell<u64> = const { Cell::new(0) };
}

/// A prefetch that counts what it is asked for.
struct CountingPrefetch;

impl crate::pipeline::PrefetchHint for CountingPrefetch {
    fn prefetch(_: *const u8) {
        PREFETCHES.set(PREFETCHES.get() + 1);
    }
}

/// ip4-flow-cache asks for the lines a burst it forwards will read only once its table
/// holds many flows: with a few, they are in the caches already.
#[test]
fn flow_cache_prefetches_only_from_many_entries() {
    let (control, pods, host) = bench_node();
    let KnownFlow {
        snapshot,
        cached,
        ack,
        ..
    } = known_flow(&control, (pods, host), &tcp_flow(5, 42_000), 4);
    let mut cached = cached.prefetching::<CountingPrefetch>();
    let forward = |cached: &mut Worker<CountingPrefetch>| {
        let mut pkts = vec![TestBuf::new(&ack), TestBuf::new(&ack)];
        let hits = cached.flow_cache().stats().hits;
        PREFETCHES.set(0);
        let verdicts = cached.process(pods, &mut pkts, &snapshot, NOW).to_vec();
        assert_eq!(verdicts, [Verdict::Tx(host); 2]);
        assert_eq!(cached.flow_cache().stats().hits, hits + 2);
        PREFETCHES.get()
    };
    assert_eq!(forward(&mut cached), 0, "one flow: nothing to ask for");
    let from = crate::stages::ip4_flow_cache::PREFETCH_FROM_ENTRIES;
    cached.flow_cache_mut().set_used(from - 1);
    assert_eq!(forward(&mut cached), 0, "one entry short");
    let shown = |cached: &Worker<CountingPrefetch>| cached.flow_cache().show();
    assert!(shown(&cached).contains("prefetching its lookups: no (from 8192 entries in use)"));
    cached.flow_cache_mut().set_used(from);
    assert!(shown(&cached).contains("prefetching its lookups: yes"));
    // Each packet's bucket and its NAT44 session: its ACL sessions are fresh, and the
    // bench node's ACLs leave it no watch (which would be asked for even when fresh).
    assert_eq!(forward(&mut cached), 4);
}

/// Sessions on the host's output only (a reflective ACL there, none on the pods'
/// input): a pods request has an acl-out session and no acl-in one, so a burst of its
/// requests in a later second (its entry no longer fresh) refreshes acl-out sessions
/// alone, and NAT44's touches go with the send pass. Every count comes out as the
/// stages' own: NAT44's per-session packets and bytes once per packet, the ACL's hits.
#[test]
fn flow_cache_burst_refreshing_only_acl_out_sessions_counts_as_the_stages() {
    let (control, pods, host) = bench_node_with(&[
        "set acl-plugin acl permit+reflect",
        "set acl-plugin interface host output acl 0",
    ]);
    let KnownFlow {
        snapshot,
        mut cached,
        mut plain,
        ack,
        ..
    } = known_flow(&control, (pods, host), &tcp_flow(3, 44_000), 11);
    let before = cached.flow_cache().stats();
    let later = NOW + 1_000_000_000;
    let burst = [ack.clone(), ack];
    let out = through_both([&mut cached, &mut plain], &snapshot, pods, &burst, later);
    assert!(out.iter().all(|(v, _)| *v == Verdict::Tx(host)), "{out:?}");
    let after = cached.flow_cache().stats();
    assert_eq!(
        (after.hits - before.hits, after.acl_fresh - before.acl_fresh),
        (2, 0),
        "both forwarded from the cache, both refreshing the acl-out session"
    );
    assert_same_sessions([&mut cached, &mut plain], &snapshot, later);
}

/// A burst of a new flow's SYN, a known flow's RST and another known flow's ACK: the SYN
/// takes the stages, and so does the RST (not quiet: it changes its sessions' state);
/// only the ACK is forwarded beside them. The bytes and sessions are the stages' own.
#[test]
fn flow_cache_forwards_beside_the_stages_only_quiet_packets() {
    let (control, pods, host) = bench_node();
    let (a, d) = (tcp_flow(4, 45_000), tcp_flow(5, 45_001));
    let KnownFlow {
        snapshot,
        mut cached,
        mut plain,
        mut rng,
        ..
    } = known_flow(&control, (pods, host), &a, 12);
    open_flow(
        [&mut cached, &mut plain],
        &snapshot,
        (pods, host),
        &d,
        NOW,
        &mut rng,
    );
    let before = cached.flow_cache().stats();
    let burst = [
        clean_frame(&tcp_flow(6, 45_002), false, 0x02, &mut rng),
        clean_frame(&a, false, 0x04, &mut rng),
        clean_frame(&d, false, 0x10, &mut rng),
    ];
    let out = through_both([&mut cached, &mut plain], &snapshot, pods, &burst, NOW);
    assert!(out.iter().all(|(v, _)| *v == Verdict::Tx(host)), "{out:?}");
    let after = cached.flow_cache().stats();
    assert_eq!(
        (after.partial - before.partial, after.held - before.held),
        (1, 1),
        "the ACK forwarded beside the stages, the RST held for them: {after:?}"
    );
    assert_same_sessions([&mut cached, &mut plain], &snapshot, NOW);
}

/// A packet of a flow that an earlier packet of the same flow in the burst sends to the
/// stages takes them too: the stages would refresh its session after that packet's, and a
/// RST then a segment reopens a NAT44 session where the other order leaves it closed.
#[test]
fn flow_cache_keeps_a_flows_order_beside_the_stages() {
    let (control, pods, host) = bench_node();
    let a = tcp_flow(4, 45_000);
    let KnownFlow {
        snapshot,
        mut cached,
        mut plain,
        mut rng,
        ..
    } = known_flow(&control, (pods, host), &a, 12);
    let burst = [
        clean_frame(&tcp_flow(6, 45_002), false, 0x02, &mut rng),
        clean_frame(&a, false, 0x04, &mut rng),
        clean_frame(&a, false, 0x10, &mut rng),
    ];
    let out = through_both([&mut cached, &mut plain], &snapshot, pods, &burst, NOW);
    assert!(out.iter().all(|(v, _)| *v == Verdict::Tx(host)), "{out:?}");
    assert_same_sessions([&mut cached, &mut plain], &snapshot, NOW);
}

/// A SYN is never looked for in the cache, even on a flow the cache has an entry for (a
/// new connection on the tuple of one that had data): it takes the stages and comes out
/// as theirs, and the flow's next ACK is a hit again.
#[test]
fn a_syn_takes_the_stages_even_with_an_entry() {
    let (control, pods, host) = bench_node();
    let flow = tcp_flow(7, 43_000);
    let KnownFlow {
        snapshot,
        mut cached,
        mut plain,
        mut rng,
        ack,
    } = known_flow(&control, (pods, host), &flow, 8);
    let stats = |w: &Worker| {
        let s = w.flow_cache().stats();
        (s.opening, s.hits, s.misses)
    };
    let (opening, hits, misses) = stats(&cached);
    assert!(hits > 0);
    for (frame, after) in [
        (
            clean_frame(&flow, false, 0x02, &mut rng),
            (opening + 1, hits, misses),
        ),
        (ack, (opening + 1, hits + 1, misses)),
    ] {
        let out = through_both([&mut cached, &mut plain], &snapshot, pods, &[frame], NOW);
        assert!(matches!(out[0].0, Verdict::Tx(_)), "{out:?}");
        assert_eq!(stats(&cached), after);
    }
}

/// A new snapshot (here a neighbour's new MAC) makes every entry stale: the next packet
/// takes the stages and leaves with the new MAC.
#[test]
fn flow_cache_entry_is_stale_after_a_configuration_change() {
    let (mut control, pods, host) = bench_node();
    let KnownFlow {
        mut cached,
        mut plain,
        ack,
        ..
    } = known_flow(&control, (pods, host), &tcp_flow(5, 42_000), 4);
    assert_eq!(cached.flow_cache().stats().hits, 1);
    control
        .execute_line("set ip neighbor host 172.30.1.2 3e:1b:70:2d:4d:52 static")
        .unwrap();
    let snapshot = control.snapshot();
    let out = through_both([&mut cached, &mut plain], &snapshot, pods, &[ack], NOW);
    assert_eq!(out[0].1[..6], [0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x52]);
    let stats = cached.flow_cache().stats();
    assert_eq!((stats.hits, stats.stale), (1, 1), "{stats:?}");
}

/// A burst forwarded from the cache must not change the order in which the stages
/// would have seen its packets' sessions. Here a new flow's SYN comes first at the NAT44
/// session limit, before a cached flow's RST: the stages drop the SYN (the only session
/// is established, so none can be recycled) and only then make the cached session
/// transitory. The burst takes the stages as a whole.
#[test]
fn flow_cache_burst_with_a_new_flow_at_the_nat44_limit_takes_the_stages() {
    let (mut control, tap2, tap0) = flow_cache_node();
    control.execute_line("nat44 session limit 1").unwrap();
    let snapshot = control.snapshot();
    let (mut cached, mut plain) = cached_and_plain();
    let mut rng = crate::rand::FastRng::new(3);
    let (a, b) = (tcp_flow(1, 30_000), tcp_flow(2, 30_001));
    open_flow(
        [&mut cached, &mut plain],
        &snapshot,
        (tap2, tap0),
        &a,
        NOW,
        &mut rng,
    );
    let frames = [
        clean_frame(&b, false, 0x02, &mut rng),
        clean_frame(&a, false, 0x04, &mut rng),
    ];
    let out = through_both([&mut cached, &mut plain], &snapshot, tap2, &frames, NOW);
    assert_eq!(out[0].0, Verdict::Drop, "no room for b's session");
    let stats = cached.flow_cache().stats();
    assert_eq!((stats.hits, stats.held), (0, 1), "{stats:?}");
}

/// Two cached packets in one burst refresh their sessions in the stages' order (every
/// acl-in, then every acl-out), so the transient expiry list ends in the same order, and
/// a full ACL table later gives up the same session.
#[test]
fn flow_cache_refreshes_sessions_in_the_stages_order() {
    let (control, pods, host) = bench_node_with(&[
        "set acl-plugin acl permit+reflect tag both",
        "set acl-plugin interface pods input acl 0",
        "set acl-plugin interface host output acl 0",
        "set acl-plugin session table max-entries 4",
    ]);
    let snapshot = control.snapshot();
    let (mut cached, mut plain) = cached_and_plain();
    let mut rng = crate::rand::FastRng::new(9);
    let (a, b, c) = (
        tcp_flow(1, 30_000),
        tcp_flow(2, 30_001),
        tcp_flow(3, 30_002),
    );
    for flow in [&a, &b] {
        open_flow(
            [&mut cached, &mut plain],
            &snapshot,
            (pods, host),
            flow,
            NOW,
            &mut rng,
        );
    }
    let rsts = [
        clean_frame(&a, false, 0x04, &mut rng),
        clean_frame(&b, false, 0x04, &mut rng),
    ];
    through_both([&mut cached, &mut plain], &snapshot, pods, &rsts, NOW);
    assert_eq!(cached.flow_cache().stats().hits, 2, "both RSTs were hits");
    let syn = clean_frame(&c, false, 0x02, &mut rng);
    through_both([&mut cached, &mut plain], &snapshot, pods, &[syn], NOW);
    let sessions = |w: &Worker| {
        let mut v: Vec<_> = w
            .acl()
            .sessions(NOW)
            .map(|s| (s.sw_if, s.src, s.sport))
            .collect();
        v.sort();
        v
    };
    assert_eq!(sessions(&cached), sessions(&plain), "the ACL sessions left");
}

/// What became of one packet: where it went and its addresses and ports as it left.
type Outcome = (Verdict, (Ipv4Addr, u16), (Ipv4Addr, u16));

/// The seed node (reflective ACLs on both interfaces, the service and its self-twice-nat)
/// plus SNAT on a third interface to the node's address, which is in the host stack, has
/// an identity mapping (as Contiv gives the node's addresses) and is a service's backend, run on `workers` workers with arrivals
/// alternating between them: each packet processed by worker-handoff's owner, or with
/// `handoff` false where it arrived. Flows: pods to the service, the host to itself
/// through it (self-twice-nat), a client on the twice-NAT pool address to the service,
/// pods to the host directly (ACL sessions only), pods to the Internet (SNAT), endpoints
/// of UDP services to another service from their service port; each
/// request, its reply and an ICMP error about the request as it left. The outcomes, and
/// how many packets went to another worker than the one they arrived at.
fn handoff_run(workers: u16, handoff: bool) -> (Vec<Outcome>, usize) {
    use crate::pipeline::WorkerSizes;
    use crate::stages::worker_handoff::owner;

    let (mut control, tap2, tap0) = flow_cache_node();
    let mut plane = control.plane.clone();
    let uplink_mac = MacAddr([2, 0, 0, 0, 0, 3]);
    let _uplink = plane
        .add_interface("uplink", "net_tap2", uplink_mac, InputKind::Virtio)
        .unwrap();
    control.plane = plane;
    for line in [
        "set interface state uplink up",
        "set interface ip address uplink 192.0.2.254/24",
        "set ip neighbor uplink 192.0.2.2 02:00:00:00:00:22 static",
        "ip route add 0.0.0.0/0 via 192.0.2.2 uplink",
        // The node's address, in the host stack behind tap0: the SNAT pool, with
        // Contiv's identity mapping, and a service's backend (a host-network pod).
        "ip route add 192.0.2.1/32 via 172.30.1.2 tap0",
        "nat44 add address 192.0.2.1",
        "nat44 add identity mapping 192.0.2.1",
        "nat44 add static mapping tcp local 192.0.2.1 6443 external 10.104.221.1 443 out2in-only",
        "ip route add 172.16.9.0/24 via 172.30.1.2 tap0",
        "nat44 add static mapping udp local 172.16.9.3 123 external 10.104.221.85 123 out2in-only",
        "set interface nat44 in tap2",
        "set interface nat44 out uplink output-feature",
    ] {
        control.execute_line(line).unwrap();
    }
    for k in 0..8 {
        let line = format!(
            "nat44 add static mapping udp local 10.20.0.{} 123 external 10.104.221.{} 123 \
             out2in-only",
            10 + k,
            90 + k
        );
        control.execute_line(&line).unwrap();
    }
    let snapshot = control.snapshot();
    let mut pipelines: Vec<Worker> = (0..workers)
        .map(|index| {
            let sizes = WorkerSizes {
                index,
                count: workers,
                ..WorkerSizes::default()
            };
            Worker::with_sizes(ticks, sizes)
        })
        .collect();
    let mut handed = 0;
    let mut arrivals = 0usize;
    let mut deliver = |rx: IfIndex, frame: Vec<u8>| {
        let arrival = arrivals % usize::from(workers);
        arrivals += 1;
        let at = match handoff {
            true => owner(&snapshot.nat, &frame, workers).map_or(arrival, usize::from),
            false => arrival,
        };
        handed += usize::from(at != arrival);
        run(&mut pipelines[at], &snapshot, rx, frame)
    };
    let ends = |f: &[u8]| {
        let addr = |at: usize| Ipv4Addr::new(f[at], f[at + 1], f[at + 2], f[at + 3]);
        let port = |at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
        ((addr(26), port(34)), (addr(30), port(36)))
    };
    let mac_of = |interface: IfIndex| match interface {
        i if i == tap2 => spec_frames::TAP2_MAC,
        i if i == tap0 => spec_frames::TAP0_MAC,
        _ => uplink_mac,
    };
    let service = (spec_frames::SERVICE_IP, 80);
    let mut flows = Vec::new();
    for i in 0..16u16 {
        let pod = Ipv4Addr::new(10, 1, 2, 1 + (i % 8) as u8);
        let port = 40000 + i * 997;
        let tcp = false;
        flows.push(((pod, port), service, tap2, tcp));
        flows.push(((pod, port), (spec_frames::SERVER_IP, 22), tap2, tcp));
        flows.push(((pod, port), (Ipv4Addr::new(8, 8, 8, 8), 443), tap2, tcp));
        flows.push(((spec_frames::SERVER_IP, port), service, tap0, tcp));
        flows.push(((Ipv4Addr::new(10, 1, 1, 254), port), service, tap2, tcp));
        let api = (Ipv4Addr::new(10, 104, 221, 1), 443);
        flows.push(((pod, port), api, tap2, tcp));
        // An endpoint of one UDP service to another service from its service port (as
        // ntpd does): the reply goes between two endpoints.
        let endpoint = Ipv4Addr::new(10, 20, 0, 10 + (i % 8) as u8);
        flows.push(((endpoint, 123), (spec_frames::SERVICE_IP, 123), tap0, true));
    }
    let mut outcomes = Vec::new();
    for &(client, to, rx, udp) in &flows {
        let tcp = |src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), on: IfIndex, flags: u8| {
            let macs = (mac_of(on), HOST_MAC);
            match udp {
                true => spec_frames::udp_frame(macs, src, dst, b"ntp"),
                false => spec_frames::tcp_frame(&spec_frames::TcpFrameSpec {
                    dst_mac: macs.0,
                    src_mac: macs.1,
                    src: src.0,
                    dst: dst.0,
                    src_port: src.1,
                    dst_port: dst.1,
                    flags,
                    ..spec_frames::syn_spec()
                }),
            }
        };
        let syn = tcp(client, to, rx, crate::packet::TcpFlags::SYN);
        let (verdict, out) = deliver(rx, syn);
        let (from, at) = ends(&out);
        outcomes.push((verdict, from, at));
        let Verdict::Tx(tx) = verdict else {
            continue;
        };
        // The endpoint answers, and (a second flow's worth) says the port is closed:
        // an ICMP error quoting the request as it left.
        let syn_ack = crate::packet::TcpFlags::SYN | crate::packet::TcpFlags::ACK;
        let (verdict, back) = deliver(tx, tcp(at, from, tx, syn_ack));
        let (src, dst) = ends(&back);
        outcomes.push((verdict, src, dst));
        let quoted = &out[14..14 + 28];
        let mut error =
            spec_frames::icmp_echo_request(mac_of(tx), HOST_MAC, at.0, from.0, 64, 0, 0, quoted);
        let mut ip = crate::packet::Ipv4Packet::new_unchecked(&mut error[14..]);
        let mut icmp = crate::packet::IcmpPacket::new_unchecked(ip.payload_mut());
        icmp.set_msg_type(crate::packet::IcmpType::DestinationUnreachable);
        icmp.set_code(3);
        icmp.fill_checksum();
        let (verdict, told) = deliver(tx, error);
        // The outer addresses, and the quoted packet's (as translated back).
        let quoted_ends = ends(&told[28..]);
        outcomes.push((verdict, quoted_ends.0, quoted_ends.1));
    }
    (outcomes, handed)
}

/// Two workers, and four, with worker-handoff forward every request, reply and ICMP
/// error exactly where one worker does, with the same translations (the ports NAT44
/// allocates on pool addresses aside: each worker takes them from its own slice).
/// Without the handoff replies miss their sessions: the comparison sees it.
#[test]
fn two_workers_with_handoff_keep_every_flow_on_its_sessions() {
    let (one, _) = handoff_run(1, true);
    // A port on a pool address (SNAT's, twice-NAT's) is each worker's choice; any other
    // port must be the same.
    let pools = [Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(10, 1, 1, 254)];
    let same_end =
        |a: (Ipv4Addr, u16), b: (Ipv4Addr, u16)| a.0 == b.0 && (a.1 == b.1 || pools.contains(&a.0));
    // Four workers too: with two, half of the flows a wrong rule splits land on the
    // right worker by chance.
    for workers in [2, 4] {
        let (many, handed) = handoff_run(workers, true);
        assert!(handed > 0, "some packets arrived at another worker");
        assert_eq!(one.len(), many.len());
        let mut differ = Vec::new();
        for (n, (a, b)) in one.iter().zip(&many).enumerate() {
            if !(a.0 == b.0 && same_end(a.1, b.1) && same_end(a.2, b.2)) {
                differ.push(format!("{n}: one worker {a:?}, {workers} {b:?}"));
            }
        }
        assert!(differ.is_empty(), "{}", differ.join("\n"));
    }
    // Requests and replies leave; the ICMP errors are translated (their quoted packet
    // as it was before translation) and then denied by tap2's output ACL, which has no
    // rule for them (its reflective sessions do not cover ICMP errors, as in VPP).
    let forwarded = one.iter().filter(|o| matches!(o.0, Verdict::Tx(_))).count();
    assert!(
        forwarded >= one.len() * 2 / 3,
        "the flows are forwarded: {one:?}"
    );
    let (without, _) = handoff_run(2, false);
    assert_ne!(
        without, one,
        "without the handoff some replies miss their sessions"
    );
}

/// A packet another worker received and handed over is traced by the worker that
/// processes it: its input entry names the queue it arrived on (the other worker's),
/// then VPP's `handoff_trace` entry says from which thread, then the stages as usual.
/// The next packet, received by the worker itself, is traced as always.
#[test]
fn a_handed_over_packet_is_traced_with_where_it_came_from() {
    let (mut control, tap2, tap0) = seed_node();
    control.learn_neighbor(tap0, HOST_NEXT_HOP, HOST_MAC);
    let snapshot = control.snapshot();
    let sizes = crate::pipeline::WorkerSizes {
        index: 1,
        count: 2,
        ..crate::pipeline::WorkerSizes::default()
    };
    let mut worker = Worker::with_sizes(ticks, sizes);
    trace_add(&mut worker, &snapshot, 10);
    worker.set_handed_from(Some(0));
    assert_eq!(
        run(&mut worker, &snapshot, tap2, spec_frames::syn()).0,
        Verdict::Tx(tap0)
    );
    worker.set_handed_from(None);
    let again = spec_frames::tcp_frame(&spec_frames::TcpFrameSpec {
        src_port: 40_000,
        ..spec_frames::syn_spec()
    });
    assert_eq!(
        run(&mut worker, &snapshot, tap2, again).0,
        Verdict::Tx(tap0)
    );
    let trace = show_trace(&mut worker, &snapshot);
    let blocks = trace_blocks(&trace);
    assert_eq!(blocks.len(), 2, "{trace}");
    let mut handed = REQUEST_NODES.to_vec();
    handed.insert(1, "handoff_trace");
    assert_eq!(trace_nodes(blocks[0]), handed, "{trace}");
    assert!(blocks[0].contains(" vring 0 len 74\n"), "{trace}");
    assert_eq!(
        node_entry(blocks[0], "handoff_trace"),
        "  HANDED-OFF: from thread 1\n"
    );
    assert_eq!(trace_nodes(blocks[1]), REQUEST_NODES, "{trace}");
    assert!(blocks[1].contains(" vring 1 len 74\n"), "{trace}");
}

/// The nat44-in2out stage asks the FIB whether a new flow from a static mapping's local
/// end leaves by an outside interface: to a host routed out of tap0 (outside) it leaves
/// from the mapping's external address; to a pod on tap2 (inside) it passes untouched.
#[test]
fn static_mapping_local_end_is_translated_only_toward_outside() {
    let (mut control, tap2, tap0) = two_port_node([("tap2", "net_tap0"), ("tap0", "net_tap1")]);
    for line in [
        "set interface ip address tap2 10.1.1.1/24",
        "set interface state tap2 up",
        "set interface ip address tap0 172.30.1.1/24",
        "set interface state tap0 up",
        "set ip neighbor tap0 172.30.1.2 3e:1b:70:2d:4d:51 static",
        "ip route add 198.51.100.0/24 via 172.30.1.2 tap0",
        "set ip neighbor tap2 10.1.1.9 02:00:00:00:00:09 static",
        "nat44 add static mapping tcp local 10.1.1.5 8080 external 192.0.2.10 80",
        "set interface nat44 in tap2 out tap0",
    ] {
        control
            .execute_line(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    let snapshot = control.snapshot();
    let mut worker = Worker::new(ticks);
    let syn = |dst: &str, dport: u16| {
        spec_frames::tcp_frame(&spec_frames::TcpFrameSpec {
            dst_mac: MacAddr([2, 0, 0, 0, 0, 2]),
            src_mac: MacAddr([2, 0, 0, 0, 0, 5]),
            src: "10.1.1.5".parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: 8080,
            dst_port: dport,
            ident: 1,
            ttl: 64,
            seq: 1,
            ack: 0,
            flags: crate::packet::TcpFlags::SYN,
            window: 1000,
            options: &[],
            payload: &[],
        })
    };
    let (verdict, out) = run(&mut worker, &snapshot, tap2, syn("198.51.100.7", 5000));
    assert_eq!(verdict, Verdict::Tx(tap0));
    let ip = crate::packet::Ipv4Packet::new_checked(&out[14..]).unwrap();
    assert_eq!(ip.src(), "192.0.2.10".parse::<Ipv4Addr>().unwrap());
    assert_eq!(u16::from_be_bytes([out[34], out[35]]), 80);
    let (verdict, out) = run(&mut worker, &snapshot, tap2, syn("10.1.1.9", 80));
    assert_eq!(verdict, Verdict::Tx(tap2));
    let ip = crate::packet::Ipv4Packet::new_checked(&out[14..]).unwrap();
    assert_eq!(ip.src(), "10.1.1.5".parse::<Ipv4Addr>().unwrap());
    assert_eq!(u16::from_be_bytes([out[34], out[35]]), 8080);
}

/// Workers on their own threads, as the app launches them, each serving its mailbox
/// (with the snapshot of when it started) until [`WorkerThreads::stop`]; `prepare` runs
/// on each worker first, with its index.
struct WorkerThreads {
    stop: Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl WorkerThreads {
    fn start(
        control: &mut Control,
        count: u16,
        prepare: impl Fn(u16, &mut Worker, &Snapshot) + Clone + Send + 'static,
    ) -> WorkerThreads {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for index in 0..count {
            let link = WorkerLink {
                lcore: u32::from(index) + 1,
                counters: Arc::new(WorkerCounters::new()),
                mailbox: Mailbox::new(),
            };
            control.add_worker(link.clone());
            let (stop, publisher, prepare) = (stop.clone(), control.publisher(), prepare.clone());
            threads.push(std::thread::spawn(move || {
                let sizes = crate::pipeline::WorkerSizes {
                    index,
                    count,
                    ..Default::default()
                };
                let mut worker = Worker::with_sizes(ticks, sizes);
                let snapshot = publisher.current();
                prepare(index, &mut worker, &snapshot);
                while !stop.load(Ordering::Relaxed) {
                    link.mailbox.serve(|q| worker.answer(q, &snapshot, NOW));
                    std::thread::yield_now();
                }
            }));
        }
        control.workers_started();
        WorkerThreads { stop, threads }
    }

    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

/// Two workers on their own threads, as the app launches them: `show trace` heads each
/// thread's part as VPP does, even an empty one; NAT44 sessions name their thread in
/// their own header; other answers get a thread header when there are several workers.
#[test]
fn answers_from_several_workers_name_their_threads_as_vpp() {
    let (mut control, _, _) = seed_node();
    let workers = WorkerThreads::start(&mut control, 2, |_, _, _| {});
    let trace = control.execute_line("show trace").unwrap();
    let nat = control.execute_line("show nat44 sessions").unwrap();
    let cache = control.execute_line("show flow-cache").unwrap();
    workers.stop();
    assert_eq!(
        trace,
        "------------------- Start of thread 1 podfwd_wk_0 -------------------\n\
         No packets in trace buffer\n\
         ------------------- Start of thread 2 podfwd_wk_1 -------------------\n\
         No packets in trace buffer\n"
    );
    assert_eq!(
        nat,
        "NAT44 sessions:\n-------- thread 1 podfwd_wk_0: 0 sessions --------\n\
         -------- thread 2 podfwd_wk_1: 0 sessions --------\n"
    );
    assert!(
        cache.starts_with(
            "------------------- thread 1 podfwd_wk_0 (lcore 1) -------------------\n"
        ),
        "{cache}"
    );
    assert!(
        cache
            .contains("\n------------------- thread 2 podfwd_wk_1 (lcore 2) -------------------\n"),
        "{cache}"
    );
}

/// `nat44 del session` asks every worker and adds up what they deleted: a worker
/// without the session does not fail the command, deleting none anywhere is VPP's
/// error, and the count is said.
#[test]
fn nat44_del_session_counts_over_the_workers_and_refuses_none() {
    let (mut control, tap2, tap0) = seed_node();
    control.learn_neighbor(tap0, HOST_NEXT_HOP, HOST_MAC);
    // The seed's SYN, pod 10.1.1.3:46310 to the service: one static session on worker 0,
    // inside 10.20.0.2:8080, outside 10.104.221.85:80.
    let workers = WorkerThreads::start(&mut control, 2, move |index, worker, snapshot| {
        if index == 0 {
            let mut pkts = [TestBuf::new(&spec_frames::syn())];
            worker.process(tap2, &mut pkts, snapshot, NOW);
            assert_eq!(worker.nat().session_count(), 1);
        }
    });
    let results: Vec<Result<String, String>> = [
        "nat44 del session in 10.20.0.2:8080 tcp external-host 10.1.1.3:46311",
        "nat44 del session in 10.104.221.85:80 tcp",
        "nat44 del session out 10.104.221.85:80 tcp vrf 0 external-host 10.1.1.3:46310",
        "nat44 del session in 10.20.0.2:8080 tcp",
    ]
    .iter()
    .map(|line| control.execute_line(line))
    .collect();
    workers.stop();
    assert_eq!(
        results,
        [
            Err("nat44 del session: no such session: in 10.20.0.2:8080 tcp \
                 external-host 10.1.1.3:46311"
                .to_string()),
            Err("nat44 del session: no such session: in 10.104.221.85:80 tcp".to_string()),
            Ok("1 session deleted\n".to_string()),
            Err("nat44 del session: no such session: in 10.20.0.2:8080 tcp".to_string()),
        ]
    );
}

/// `show nat timeouts` reads as VPP's, and shows what `set nat timeout` set, `reset`
/// included.
#[test]
fn show_nat_timeouts_shows_what_was_set() {
    let (mut control, _, _) = seed_node();
    assert_eq!(
        control.execute_line("show nat timeouts").unwrap(),
        "udp timeout: 300sec\ntcp-established timeout: 7440sec\n\
         tcp-transitory timeout: 240sec\nicmp timeout: 60sec\n"
    );
    control.execute_line("set nat timeout udp 30").unwrap();
    control.execute_line("set nat timeout icmp 5").unwrap();
    assert_eq!(
        control.execute_line("sh nat timeouts").unwrap(),
        "udp timeout: 30sec\ntcp-established timeout: 7440sec\n\
         tcp-transitory timeout: 240sec\nicmp timeout: 5sec\n"
    );
    // VPP's `reset`: the defaults, then what follows it.
    control
        .execute_line("set nat timeout reset tcp-transitory 9")
        .unwrap();
    assert_eq!(
        control.execute_line("show nat timeouts").unwrap(),
        "udp timeout: 300sec\ntcp-established timeout: 7440sec\n\
         tcp-transitory timeout: 9sec\nicmp timeout: 60sec\n"
    );
}

/// `set acl-plugin acl index N ...` over ACL N starts its hits from zero, as VPP's
/// replace does: what `show acl-plugin acl` asks the workers for, once they have the
/// new snapshot. A change elsewhere (another ACL made) keeps the counts.
#[test]
fn replacing_an_acl_zeroes_its_hits_in_show_acl() {
    let (mut control, pods, _host) = routed_acl_node(64);
    let mut worker = Worker::new(ticks);
    worker.set_flow_cache(false);
    let mut rng = crate::rand::FastRng::new(7);
    let snapshot = control.snapshot();
    for port in [40_001, 40_002] {
        let syn = clean_frame(&tcp_flow(1, port), false, 0x02, &mut rng);
        worker.process(pods, &mut [TestBuf::new(&syn)], &snapshot, NOW);
    }
    let hits = |worker: &mut Worker, snapshot: &Snapshot| {
        worker
            .answer(WorkerQuestion::AclHits { only: Some(0) }, snapshot, NOW)
            .unwrap()
    };
    assert!(
        hits(&mut worker, &snapshot).starts_with("acl-index 0 hits 2\n          0: hits 2\n"),
        "{}",
        hits(&mut worker, &snapshot)
    );
    control.execute_line("set acl-plugin acl deny").unwrap();
    let snapshot = control.snapshot();
    assert!(hits(&mut worker, &snapshot).starts_with("acl-index 0 hits 2\n"));

    control
        .execute_line("set acl-plugin acl index 0 permit+reflect tag replaced")
        .unwrap();
    let snapshot = control.snapshot();
    assert!(
        hits(&mut worker, &snapshot).starts_with("acl-index 0 hits 0\n          0: hits 0\n"),
        "{}",
        hits(&mut worker, &snapshot)
    );
}

/// An interface's sessions go only when a change of its lists ends them: `set acl-plugin
/// interface pods input acl 0` with 0 already there is refused and changes nothing,
/// changes elsewhere that publish a snapshot (a route, a timeout, another ACL, that
/// ACL's rules, a larger table) keep them, and so does an ACL added to its output list
/// (VPP's default); with `reclassify-sessions 1`, a change of its input list ends the
/// session its input made.
#[test]
fn an_interfaces_sessions_go_only_when_a_list_change_ends_them() {
    let (mut control, pods, _host) = routed_acl_node(64);
    let mut worker = Worker::new(ticks);
    worker.set_flow_cache(false);
    let mut rng = crate::rand::FastRng::new(11);
    let syn = clean_frame(&tcp_flow(1, 40_001), false, 0x02, &mut rng);
    worker.process(pods, &mut [TestBuf::new(&syn)], &control.snapshot(), NOW);
    assert_eq!(worker.acl().session_count(), 1);
    let settle = |control: &Control, worker: &mut Worker| {
        let snapshot = control.snapshot();
        // Long enough for any sweep to finish, short of any timeout.
        for step in 1..=64 {
            worker.housekeeping(&snapshot, NOW + step * 1_000_000);
        }
        worker.acl().session_count()
    };
    assert_eq!(
        control
            .execute_line("set acl-plugin interface pods input acl 0")
            .unwrap_err(),
        "ACL 0 is already applied on sw_if_index 1 input"
    );
    assert_eq!(settle(&control, &mut worker), 1);
    for line in [
        "ip route add 10.99.0.0/16 via 172.30.1.2 host",
        "set acl-plugin session timeout udp 30",
        "set acl-plugin acl deny",
        "set acl-plugin acl index 0 permit+reflect",
        "set acl-plugin session table max-entries 128",
    ] {
        control.execute_line(line).unwrap();
        assert_eq!(settle(&control, &mut worker), 1, "after {line}");
    }
    control
        .execute_line("set acl-plugin interface pods output acl 1")
        .unwrap();
    assert_eq!(
        settle(&control, &mut worker),
        1,
        "after an output list change"
    );
    for line in [
        "set acl-plugin reclassify-sessions 1",
        "set acl-plugin interface pods input acl 1",
    ] {
        control.execute_line(line).unwrap();
    }
    assert_eq!(settle(&control, &mut worker), 0);
}

/// `set acl-plugin session table max-entries N` below the live count: the worker's
/// housekeeping evicts down to N, a bounded number per run (running again at once while
/// there is more), and new flows then find the table at its new limit.
#[test]
fn lowering_max_entries_shrinks_the_workers_session_table() {
    let (mut control, pods, _host) = routed_acl_node(64);
    let mut worker = Worker::new(ticks);
    worker.set_flow_cache(false);
    let mut rng = crate::rand::FastRng::new(13);
    let snapshot = control.snapshot();
    let syns: Vec<Vec<u8>> = (0..48)
        .map(|n| clean_frame(&tcp_flow(1, 42_000 + n), false, 0x02, &mut rng))
        .collect();
    for syn in &syns {
        worker.process(pods, &mut [TestBuf::new(syn)], &snapshot, NOW);
    }
    assert_eq!(worker.acl().session_count(), 48);

    control
        .execute_line("set acl-plugin session table max-entries 3")
        .unwrap();
    let snapshot = control.snapshot();
    // Past the housekeeping interval since the last burst; then again 1 us apart,
    // which runs only while there is a backlog.
    let then = NOW + 1_000_000;
    worker.housekeeping(&snapshot, then);
    let after_one = worker.acl().session_count();
    assert!(
        (4..48).contains(&after_one),
        "one run evicts some, not all: {after_one}"
    );
    for step in 1..=8 {
        worker.housekeeping(&snapshot, then + step * 1_000);
    }
    assert_eq!(worker.acl().session_count(), 3);
    assert_eq!(worker.acl().session_limit(), 3);

    let late = NOW + 5_000_000_000;
    for n in 100..110 {
        let syn = clean_frame(&tcp_flow(2, 43_000 + n), false, 0x02, &mut rng);
        worker.process(pods, &mut [TestBuf::new(&syn)], &snapshot, late);
        assert!(worker.acl().session_count() <= 3);
    }
}

/// VPP's `set acl-plugin session timeout udp idle N` sets the timeout of every session
/// that is not TCP (VPP has no other for them): UDP's and other's. Our `udp N` and
/// `other N` set one each.
#[test]
fn udp_idle_sets_the_udp_and_other_session_timeouts() {
    use crate::acl::{SessionTimeouts, TimeoutKind};
    let (mut control, _, _) = two_port_node([("tap2", "net_tap0"), ("tap0", "net_tap1")]);
    let timeouts = |control: &Control| {
        let t = control.snapshot().acl.timeouts;
        [TimeoutKind::Udp, TimeoutKind::Other].map(|kind| t.get(kind) / 1_000_000_000)
    };
    let default = SessionTimeouts::default().get(TimeoutKind::Udp) / 1_000_000_000;
    control
        .execute_line("set acl-plugin session timeout udp 45")
        .unwrap();
    assert_eq!(timeouts(&control), [45, default]);
    control
        .execute_line("set acl-plugin session timeout other 50")
        .unwrap();
    assert_eq!(timeouts(&control), [45, 50]);
    control
        .execute_line("set acl-plugin session timeout udp idle 30")
        .unwrap();
    assert_eq!(timeouts(&control), [30, 30]);
}

/// An echo reply the way back cannot carry (DF kept from the request, over the MTU of
/// the interface back) is dropped and counted as what it is: no error goes to this node
/// about its own packet. Under that MTU, the same request is answered.
#[test]
fn an_echo_reply_over_the_way_backs_mtu_is_dropped_as_made_here() {
    use crate::node::DropReason;
    use crate::packet::Ipv4Packet;
    use crate::stages::icmp_error::IcmpErrorError;
    let (mut control, tap2, tap0) = seed_node();
    control.learn_neighbor(tap0, HOST_NEXT_HOP, HOST_MAC);
    for line in [
        "set interface mtu 1400 tap2",
        // The pod's egress policy would deny the node's reply anyway.
        "set acl-plugin interface tap2 output acl 1 del",
    ] {
        control.execute_line(line).unwrap();
    }
    let snapshot = control.snapshot();
    let mut worker = Worker::new(ticks);
    let request = |payload: usize| {
        let mut frame = spec_frames::icmp_echo_request(
            spec_frames::TAP0_MAC,
            HOST_MAC,
            spec_frames::CLIENT_IP,
            Ipv4Addr::new(172, 30, 1, 1),
            64,
            7,
            1,
            &vec![0x5a; payload],
        );
        let mut ip = Ipv4Packet::new_unchecked(&mut frame[14..]);
        ip.set_fragment(true, false, 0);
        ip.fill_checksum();
        frame
    };
    assert_eq!(
        run(&mut worker, &snapshot, tap0, request(1472)).0,
        Verdict::Drop
    );
    let totals = worker.counters().totals();
    assert_eq!(
        totals.reason(DropReason::of(IcmpErrorError::AboutGenerated)),
        1,
        "{}",
        totals.format_errors(crate::stages::drop_reason_text)
    );
    assert_eq!(totals.interface(tap0).drops, 1);
    assert_eq!(
        run(&mut worker, &snapshot, tap0, request(1372)).0,
        Verdict::Tx(tap2)
    );
}

/// `show acl-plugin interface` in VPP's spelling: `sw_if_index N` for the interface, and
/// `acl` for each applied ACL's rules under its list; an index no interface has is named.
#[test]
fn show_acl_interface_by_sw_if_index_with_the_rules() {
    let (mut control, tap2, _) = seed_node();
    let by_name = control
        .execute_line("show acl-plugin interface tap2")
        .unwrap();
    let line = format!("show acl-plugin interface sw_if_index {}", tap2.0);
    assert_eq!(control.execute_line(&line).unwrap(), by_name);
    let with_rules = control.execute_line(&format!("{line} acl")).unwrap();
    assert_eq!(
        with_rules,
        format!(
            "sw_if_index {} (tap2):\n  input acl(s): 3\n    acl-index 3 count 1 tag \
             {{contiv-policy-REFLECTION}}\n              0: ipv4 permit+reflect src \
             0.0.0.0/0 dst 0.0.0.0/0 proto 0 sport 0-65535 dport 0-65535\n  output acl(s): \
             1\n    acl-index 1 count 2 tag {{contiv-policy-local-10.1.1.3}}\n              0: \
             ipv4 permit src 10.1.1.254/32 dst 0.0.0.0/0 proto 0 sport 0-65535 dport \
             0-65535\n              1: ipv4 deny src 0.0.0.0/0 dst 0.0.0.0/0 proto 0 sport \
             0-65535 dport 0-65535\n",
            tap2.0
        )
    );
    assert_eq!(
        control
            .execute_line("show acl-plugin interface sw_if_index 99")
            .unwrap_err(),
        "show acl-plugin interface: no interface has sw_if_index 99"
    );
}

/// An address-only (1:1) mapping as VPP spells it: no protocol; `show` prints it so,
/// and `del` takes the same words back.
#[test]
fn an_address_only_mapping_goes_in_and_out_without_a_protocol() {
    let (mut control, _, _) = seed_node();
    control
        .execute_line("nat44 add static mapping local 10.9.0.3 external 10.9.9.3")
        .unwrap();
    let shown = control.execute_line("show nat44 static mappings").unwrap();
    assert!(
        shown.contains("\n local 10.9.0.3 external 10.9.9.3 vrf 0\n"),
        "{shown}"
    );
    control
        .execute_line("nat44 del static mapping local 10.9.0.3 external 10.9.9.3")
        .unwrap();
    assert!(!control
        .execute_line("show nat44 static mappings")
        .unwrap()
        .contains("10.9.9.3"));
}

/// A deletion that names more than the key (locals, affinity, flags) must name what the
/// mapping has: a line meant for another mapping is refused and deletes nothing; the
/// add line with `del` appended, or the key alone, deletes.
#[test]
fn a_mapping_deletion_naming_what_the_mapping_lacks_is_refused() {
    let (mut control, _, _) = seed_node();
    let add = "nat44 add load-balancing static mapping protocol tcp external 10.9.9.12:80 \
               local 10.9.0.10:80 probability 1 local 10.9.0.11:80 probability 1";
    control.execute_line(add).unwrap();
    let key = "nat44 del load-balancing static mapping protocol tcp external 10.9.9.12:80";
    for (extra, error) in [
        (
            " local 1.1.1.1:5 probability 9",
            "has local 10.9.0.10:80 probability 1, local 10.9.0.11:80 probability 1, not \
             the locals given (or give none)",
        ),
        (" affinity 30", "has affinity 0, not 30"),
        (" twice-nat", "is not twice-nat"),
        (" out2in-only", "is not out2in-only"),
    ] {
        let line = format!("{key}{extra}");
        assert_eq!(
            control.execute_line(&line).unwrap_err(),
            format!("load-balancing mapping tcp external 10.9.9.12:80 {error}"),
            "{line}"
        );
    }
    control.execute_line(&format!("{add} del")).unwrap();
    let seed_mapping = "nat44 del static mapping tcp local 10.20.0.2 8080 external \
                        10.104.221.85 80";
    assert_eq!(
        control
            .execute_line(&format!("{seed_mapping} twice-nat"))
            .unwrap_err(),
        "static mapping tcp local 10.20.0.2:8080 external 10.104.221.85:80 is not twice-nat"
    );
    control
        .execute_line(&format!("{seed_mapping} self-twice-nat out2in-only"))
        .unwrap();
}
