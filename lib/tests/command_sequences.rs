//! Random command sequences against the executor while a worker forwards random traffic
//! between them, as an operator reconfigures a live node: nothing panics, a refused
//! command changes nothing, a `show` changes nothing, and once the configuration is gone
//! and every timeout has passed, no session is left.
//!
//! The worker runs on its own thread, as the app's, and answers the executor's questions
//! through its mailbox; the two take turns (a command, then a burst), so that a seed
//! replays the same run. `PODFWD_SEQUENCE_SEED=N` runs one seed, `PODFWD_SEQUENCE_STEPS=N`
//! sets the length.

use podfwd::buffer::TestBuf;
use podfwd::config::ControlPlane;
use podfwd::control::{Control, NoHardware, WorkerLink};
use podfwd::node::InputKind;
use podfwd::pipeline::{Verdict, Worker};
use podfwd::rand::FastRng;
use podfwd::runtime::Mailbox;
use podfwd::spec_frames::{self, TcpFrameSpec, CLIENT_POD_MAC, HOST_MAC, TAP0_MAC, TAP2_MAC};
use podfwd::types::{IfIndex, MacAddr};
use std::net::Ipv4Addr;
use std::sync::mpsc;
use std::sync::Arc;

const SEED_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed-node.conf");
const SECOND_NS: u64 = 1_000_000_000;

fn ticks() -> u64 {
    0
}

/// What the main thread tells the worker's thread.
enum Order {
    /// Forward these frames, received on this interface, `advance_ns` after the last burst.
    Burst {
        rx: IfIndex,
        frames: Vec<Vec<u8>>,
        advance_ns: u64,
    },
    Stop,
}

/// The worker's thread: answers questions until told to forward a burst or stop.
fn spawn_worker(
    mut worker: Worker,
    link: WorkerLink,
    publisher: Arc<podfwd::runtime::Publisher<podfwd::config::Snapshot>>,
) -> (
    mpsc::Sender<Order>,
    mpsc::Receiver<(usize, usize)>,
    std::thread::JoinHandle<()>,
) {
    let (orders, order_rx) = mpsc::channel::<Order>();
    let (done_tx, done) = mpsc::channel::<(usize, usize)>();
    let thread = std::thread::spawn(move || {
        let mut now: u64 = 1_000 * SECOND_NS;
        loop {
            match order_rx.try_recv() {
                Ok(Order::Burst {
                    rx,
                    frames,
                    advance_ns,
                }) => {
                    now += advance_ns;
                    let snapshot = publisher.current();
                    let mut pkts: Vec<TestBuf> = frames.iter().map(|f| TestBuf::new(f)).collect();
                    let verdicts = worker.process(rx, &mut pkts, &snapshot, now);
                    let sent = verdicts
                        .iter()
                        .filter(|v| matches!(v, Verdict::Tx(_)))
                        .count();
                    done_tx.send((verdicts.len(), sent)).unwrap();
                }
                Ok(Order::Stop) | Err(mpsc::TryRecvError::Disconnected) => return,
                Err(mpsc::TryRecvError::Empty) => {
                    let snapshot = publisher.current();
                    link.mailbox.serve(|q| worker.answer(q, &snapshot, now));
                    std::thread::yield_now();
                }
            }
        }
    });
    (orders, done, thread)
}

fn pick<'a>(rng: &mut FastRng, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len() as u64) as usize]
}

/// One command line: mostly well-formed ones over a small set of names, addresses and
/// ports (so that they meet each other), some refused ones, some garbage.
fn command(rng: &mut FastRng) -> String {
    let itf = pick(rng, &["tap0", "tap2", "tap0", "tap2", "tap9"]);
    let addr = pick(
        rng,
        &[
            "10.1.1.3",
            "10.20.0.2",
            "10.104.221.85",
            "10.1.1.254",
            "172.30.1.1",
            "172.30.1.2",
            "10.9.0.1",
        ],
    );
    let prefix = pick(
        rng,
        &[
            "10.20.0.2/32",
            "10.20.0.0/16",
            "10.1.1.3/32",
            "0.0.0.0/0",
            "10.104.221.85/32",
            "172.30.1.0/24",
            "10.1.1.0/24",
        ],
    );
    let port = pick(rng, &["80", "8080", "53", "1000", "0", "65535"]);
    let proto = pick(rng, &["tcp", "udp", "icmp"]);
    let del = if rng.below(3) == 0 { " del" } else { "" };
    let acl = rng.below(6);
    match rng.below(40) {
        0 => format!(
            "set interface state {itf} {}",
            pick(rng, &["up", "up", "up", "down"])
        ),
        1 => format!(
            "set interface ip address{} {itf} {}",
            if del.is_empty() { "" } else { " del" },
            pick(
                rng,
                &[
                    "172.30.1.1/24",
                    "10.1.1.1/24",
                    "172.30.2.1/24",
                    "10.1.1.3/32"
                ]
            )
        ),
        2 => format!(
            "set interface mtu {} {itf}",
            pick(rng, &["1500", "576", "68", "2034", "9000", "0"])
        ),
        3 => format!(
            "ip route add {prefix} via {}",
            pick(
                rng,
                &[
                    "172.30.1.2 tap0",
                    "10.1.1.3 tap2",
                    "172.30.1.9",
                    "drop",
                    "tap0",
                    "tap2"
                ]
            )
        ),
        4 => format!("ip route del {prefix}"),
        5 => format!(
            "set ip neighbor{del} {itf} {} {}{}",
            pick(rng, &["172.30.1.2", "10.1.1.3", "172.30.1.9"]),
            pick(
                rng,
                &[
                    "3e:1b:70:2d:4d:51",
                    "00:00:00:00:00:02",
                    "02:00:00:00:00:09"
                ]
            ),
            pick(rng, &["", " static"])
        ),
        // Mostly back to the MACs the traffic is sent to.
        6 => format!(
            "set interface mac address {itf} {}",
            match (itf, rng.below(4)) {
                (_, 0) => "02:00:00:00:00:09",
                ("tap0", _) => "01:23:45:67:89:42",
                _ => "02:fe:16:3f:5f:0f",
            }
        ),
        7 => {
            let rules = [
                "permit+reflect",
                "permit",
                "deny",
                "deny src 10.1.1.3/32 proto 6 dport 80",
                "permit src 10.1.1.0/24 dst 10.104.221.85/32 proto 6 sport 1000-2000 dport 80",
                "permit proto 17 dport 53",
                "deny proto 1 sport 8 dport 0",
                "permit proto 6 tcpflags 2 18",
                "permit+reflect src 10.1.1.3/32",
                "deny dst 0.0.0.0/0",
            ];
            let count = 1 + rng.below(3) as usize;
            let list: Vec<&str> = (0..count).map(|_| pick(rng, &rules)).collect();
            let index = if rng.below(2) == 0 {
                format!("index {acl} ")
            } else {
                String::new()
            };
            format!("set acl-plugin acl {index}{}", list.join(", "))
        }
        8 => format!("delete acl-plugin acl index {acl}"),
        9 | 10 => format!(
            "set acl-plugin interface {itf} {} acl {acl}{del}",
            pick(rng, &["input", "output"])
        ),
        11 => format!(
            "set acl-plugin session timeout {} {}",
            pick(
                rng,
                &[
                    "tcp-transient",
                    "tcp-established",
                    "udp",
                    "other",
                    "tcp idle"
                ]
            ),
            pick(rng, &["1", "5", "120", "0", "86400"])
        ),
        12 => format!(
            "set acl-plugin session table max-entries {}",
            pick(rng, &["1", "4", "64", "500000", "0"])
        ),
        13 => "clear acl-plugin sessions".into(),
        14 => format!(
            "nat44 add address {}{}{del}",
            pick(
                rng,
                &[
                    "10.1.1.254",
                    "192.0.2.1",
                    "192.0.2.1 - 192.0.2.3",
                    "10.104.221.85"
                ]
            ),
            pick(rng, &["", " twice-nat"])
        ),
        15 | 16 => format!(
            "nat44 {} static mapping {proto} local {} {} external {} {}{}",
            if del.is_empty() { "add" } else { "del" },
            pick(rng, &["10.20.0.2", "10.1.1.3"]),
            pick(rng, &["8080", "80", "", "53"]),
            pick(rng, &["10.104.221.85", "192.0.2.1", "172.30.1.1"]),
            pick(rng, &["80", "", "53"]),
            pick(
                rng,
                &[
                    "",
                    " self-twice-nat",
                    " twice-nat",
                    " out2in-only",
                    " self-twice-nat out2in-only"
                ]
            )
        ),
        17 => format!(
            "nat44 {} load-balancing static mapping protocol {} external 10.104.221.86:80 \
             local 10.20.0.2:8080 probability {} local 10.1.1.3:8080 probability {}{}",
            if del.is_empty() { "add" } else { "del" },
            pick(rng, &["tcp", "udp"]),
            pick(rng, &["80", "0", "1"]),
            pick(rng, &["20", "0", "99"]),
            pick(rng, &["", " affinity 5", " self-twice-nat", " out2in-only"])
        ),
        18 => format!(
            "nat44 add identity mapping {addr}{}{del}",
            pick(rng, &["", " tcp 80", " udp 53"])
        ),
        19 => format!("nat44 forwarding {}", pick(rng, &["enable", "disable"])),
        20 | 21 => format!(
            "set interface nat44 {}{del}",
            pick(
                rng,
                &[
                    "in tap0",
                    "out tap0",
                    "out tap2",
                    "in tap2",
                    "in tap0 out tap0",
                    "out tap0 output-feature",
                    "out tap2 output-feature",
                    "in tap9",
                ]
            )
        ),
        22 => format!(
            "set nat timeout {} {}",
            pick(rng, &["udp", "tcp-established", "tcp-transitory", "icmp"]),
            pick(rng, &["1", "2", "300", "0"])
        ),
        23 => format!(
            "nat44 session limit {}",
            pick(rng, &["1", "3", "100", "262144", "0"])
        ),
        24 => format!("nat44 del session in {addr}:{port} {proto}"),
        25 => format!("trace add virtio-input {}", pick(rng, &["1", "10", "0"])),
        26 => "clear trace".into(),
        27 => pick(rng, &["clear errors", "clear runtime", "clear interfaces"]).into(),
        28..=35 => pick(
            rng,
            &[
                "show interface",
                "show interface address",
                "show ip fib",
                "show ip neighbors",
                "show trace",
                "show errors",
                "show runtime",
                "show acl-plugin acl",
                "show acl-plugin interface",
                "show acl-plugin sessions",
                "show acl-plugin tables",
                "show nat44 interfaces",
                "show nat44 addresses",
                "show nat44 static mappings",
                "show nat44 summary",
                "show nat44 sessions detail",
                "show nat timeouts",
                "show flow-cache",
                "show version",
            ],
        )
        .into(),
        _ => {
            // A well-formed line cut short or with a word swapped: the parser's and the
            // executor's error paths.
            let base = command(rng);
            let words: Vec<&str> = base.split_whitespace().collect();
            let keep = rng.below(words.len() as u64 + 1) as usize;
            let mut out: Vec<String> = words[..keep].iter().map(|w| w.to_string()).collect();
            if rng.below(2) == 0 {
                out.push(pick(rng, &["999999999999", "-1", "1.2.3", "del", "", "index"]).into());
            }
            out.join(" ")
        }
    }
}

/// A burst as one side of the seed node sends it: the pod toward the service, the
/// endpoint or elsewhere, or the host answering; now and then a frame damaged.
fn burst(
    rng: &mut FastRng,
    tap2: (IfIndex, MacAddr),
    tap0: (IfIndex, MacAddr),
) -> (IfIndex, Vec<Vec<u8>>) {
    let from_pod = rng.below(2) == 0;
    let count = 1 + rng.below(8) as usize;
    let flags = [0x02, 0x10, 0x12, 0x11, 0x04, 0x18, 0x14];
    // Mostly to the interface's MAC of the moment, sometimes to the seed's.
    let (tap2_mac, tap0_mac) = match rng.below(8) {
        0 => (TAP2_MAC, TAP0_MAC),
        _ => (tap2.1, tap0.1),
    };
    let frames = (0..count)
        .map(|_| {
            let port = 1000 + rng.below(12) as u16;
            let flag = flags[rng.below(flags.len() as u64) as usize];
            let ttl = [64, 64, 64, 1, 2][rng.below(5) as usize];
            let mut frame = if from_pod {
                let dst = [
                    (spec_frames::SERVICE_IP, 80),
                    (Ipv4Addr::new(10, 104, 221, 86), 80),
                    (spec_frames::SERVER_IP, 8080),
                    (Ipv4Addr::new(192, 0, 2, 1), 80),
                    (Ipv4Addr::new(172, 30, 1, 1), 22),
                    (Ipv4Addr::new(172, 30, 1, 9), 80),
                ][rng.below(6) as usize];
                match rng.below(6) {
                    0 => spec_frames::udp_frame(
                        (tap2_mac, CLIENT_POD_MAC),
                        (spec_frames::CLIENT_IP, port),
                        (dst.0, 53),
                        &[0; 18],
                    ),
                    1 => spec_frames::icmp_echo_request(
                        tap2_mac,
                        CLIENT_POD_MAC,
                        spec_frames::CLIENT_IP,
                        dst.0,
                        ttl,
                        port,
                        1,
                        b"ping",
                    ),
                    _ => spec_frames::tcp_frame(&TcpFrameSpec {
                        dst_mac: tap2_mac,
                        src_port: port,
                        dst: dst.0,
                        dst_port: dst.1,
                        flags: flag,
                        ttl,
                        options: &[],
                        ..spec_frames::syn_spec()
                    }),
                }
            } else {
                let (src, dst) = [
                    (
                        (spec_frames::SERVER_IP, 8080),
                        (spec_frames::CLIENT_IP, port),
                    ),
                    (
                        (spec_frames::SERVER_IP, 8080),
                        (Ipv4Addr::new(10, 1, 1, 254), port),
                    ),
                    ((spec_frames::SERVER_IP, 53), (spec_frames::CLIENT_IP, port)),
                    (
                        (Ipv4Addr::new(172, 30, 1, 2), 80),
                        (Ipv4Addr::new(10, 104, 221, 85), 80),
                    ),
                    (
                        (Ipv4Addr::new(198, 51, 100, 7), 443),
                        (Ipv4Addr::new(192, 0, 2, 2), port),
                    ),
                ][rng.below(5) as usize];
                match rng.below(6) {
                    0 => spec_frames::udp_frame((tap0_mac, HOST_MAC), src, dst, &[0; 18]),
                    1 => spec_frames::arp_request(
                        HOST_MAC,
                        Ipv4Addr::new(172, 30, 1, 2),
                        Ipv4Addr::new(172, 30, 1, 1),
                    ),
                    _ => spec_frames::tcp_frame(&TcpFrameSpec {
                        dst_mac: tap0_mac,
                        src_mac: HOST_MAC,
                        src: src.0,
                        src_port: src.1,
                        dst: dst.0,
                        dst_port: dst.1,
                        flags: flag,
                        ttl,
                        options: &[],
                        ..spec_frames::syn_spec()
                    }),
                }
            };
            match rng.below(20) {
                0 => {
                    let at = rng.below(frame.len() as u64) as usize;
                    frame[at] ^= 1 << rng.below(8);
                }
                1 => {
                    let keep = rng.below(frame.len() as u64) as usize;
                    frame.truncate(keep);
                }
                _ => {}
            }
            frame
        })
        .collect();
    (if from_pod { tap2.0 } else { tap0.0 }, frames)
}

/// The first number on the first line that names a session count, in either of the
/// shapes `show nat44 summary` has had (`sessions: N` and VPP's `total sessions: N`).
fn nat_sessions(summary: &str) -> u64 {
    summary
        .lines()
        .map(str::trim)
        .find_map(|l| {
            l.strip_prefix("total sessions:")
                .or_else(|| l.strip_prefix("sessions:"))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no session count in:\n{summary}"))
}

fn acl_sessions(show: &str) -> u64 {
    show.lines()
        .find_map(|l| l.strip_prefix("Sessions total: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no session total in:\n{show}"))
}

/// What a command may change, as text: a refused command or a `show` must leave it alone.
fn state(control: &Control) -> String {
    format!("{:?}\n{:?}\n{:?}", control.plane, control.acl, control.nat)
}

fn run_sequence(seed: u64, steps: usize) {
    let mut plane = ControlPlane::new();
    let mut add = |name: &str, device: &str, last: u8| {
        plane
            .add_interface(
                name,
                device,
                MacAddr([2, 0, 0, 0, 0, last]),
                InputKind::Virtio,
            )
            .unwrap()
    };
    let tap2 = add("tap2", "net_tap0", 2);
    let tap0 = add("tap0", "net_tap1", 1);
    let mut control = Control::new(plane, Box::new(NoHardware));
    control.exec_file(SEED_CONF).unwrap();
    control.learn_neighbor(tap0, spec_frames::HOST_NEXT_HOP, HOST_MAC);
    let worker = Worker::new(ticks);
    let link = WorkerLink {
        lcore: 1,
        counters: worker.counters(),
        mailbox: Mailbox::new(),
    };
    control.add_worker(link.clone());
    let (orders, done, thread) = spawn_worker(worker, link, control.publisher());
    control.workers_started();

    let mut rng = FastRng::new(seed);
    let mut history: Vec<String> = Vec::new();
    let mac = |control: &Control, i: IfIndex| control.plane.interface(i).unwrap().mac;
    let forward = |rng: &mut FastRng, macs: [MacAddr; 2], advance_ns: u64, history: &[String]| {
        let (rx, frames) = burst(rng, (tap2, macs[0]), (tap0, macs[1]));
        let count = frames.len();
        orders
            .send(Order::Burst {
                rx,
                frames,
                advance_ns,
            })
            .unwrap();
        let (processed, sent) = done.recv().unwrap_or_else(|_| {
            panic!(
                "seed {seed}: the worker died; commands so far:\n{}",
                history.join("\n")
            )
        });
        assert_eq!(processed, count, "seed {seed}");
        sent
    };
    // So that the run cannot pass by doing nothing: commands taken and refused, packets
    // sent, sessions made.
    let (mut accepted, mut refused, mut sent, mut most_nat, mut most_acl) = (0, 0, 0, 0, 0);
    for _ in 0..steps {
        let line = command(&mut rng);
        let before = state(&control);
        let result = control.execute_line(&line);
        history.push(format!("{line}  => {:?}", result.as_ref().map(|_| ())));
        match &result {
            Ok(_) => accepted += 1,
            Err(_) => refused += 1,
        }
        let after = state(&control);
        if result.is_err() || line.starts_with("show") {
            assert_eq!(
                before,
                after,
                "seed {seed}: '{line}' ({result:?}) changed the configuration; before it:\n{}",
                history.join("\n")
            );
        }
        for _ in 0..rng.below(4) {
            let advance = [0, 1_000_000, 100_000_000, 3 * SECOND_NS][rng.below(4) as usize];
            sent += forward(
                &mut rng,
                [mac(&control, tap2), mac(&control, tap0)],
                advance,
                &history,
            );
        }
        if rng.below(20) == 0 {
            let nat = control.execute_line("show nat44 summary").unwrap();
            let acl = control.execute_line("show acl-plugin sessions").unwrap();
            most_nat = most_nat.max(nat_sessions(&nat));
            most_acl = most_acl.max(acl_sessions(&acl));
        }
    }
    if std::env::var("PODFWD_SEQUENCE_ERRORS").is_ok() {
        eprintln!("{}", control.execute_line("show errors").unwrap());
    }
    eprintln!(
        "seed {seed}: {accepted} commands taken, {refused} refused, {sent} packets sent, \
         at most {most_nat} NAT44 and {most_acl} ACL sessions seen"
    );
    assert!(
        accepted > steps / 3
            && refused > steps / 10
            && sent > steps.min(600) / 4
            && most_nat > 0
            && most_acl > 0,
        "seed {seed}: the run did too little to show anything"
    );

    // The operator takes everything away; after the longest timeout, nothing is left.
    for line in [
        "set acl-plugin interface tap2 input acl 0 del",
        "set interface nat44 in tap0 del",
    ] {
        let _ = control.execute_line(line);
    }
    for itf in ["tap0", "tap2"] {
        for dir in ["input", "output"] {
            for acl in 0..8 {
                let _ = control.execute_line(&format!(
                    "set acl-plugin interface {itf} {dir} acl {acl} del"
                ));
            }
        }
        for role in ["in", "out", "out"] {
            let _ = control.execute_line(&format!("set interface nat44 {role} {itf} del"));
            let _ = control.execute_line(&format!(
                "set interface nat44 {role} {itf} output-feature del"
            ));
        }
    }
    // Established TCP lives 24 h in the acl-plugin: step past it, a burst per step so that
    // housekeeping runs.
    let macs = [mac(&control, tap2), mac(&control, tap0)];
    for _ in 0..2_000 {
        forward(&mut rng, macs, 60 * SECOND_NS, &history);
    }
    let nat = control.execute_line("show nat44 summary").unwrap();
    let acl = control.execute_line("show acl-plugin sessions").unwrap();
    orders.send(Order::Stop).unwrap();
    thread.join().unwrap();
    assert_eq!(
        nat_sessions(&nat),
        0,
        "seed {seed}: NAT44 sessions left:\n{nat}"
    );
    assert_eq!(
        acl_sessions(&acl),
        0,
        "seed {seed}: ACL sessions left:\n{acl}"
    );
}

#[test]
fn random_reconfiguration_under_traffic() {
    let steps = std::env::var("PODFWD_SEQUENCE_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    match std::env::var("PODFWD_SEQUENCE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => run_sequence(seed, steps),
        None => {
            for seed in 1..=6 {
                run_sequence(seed, steps);
            }
        }
    }
}
