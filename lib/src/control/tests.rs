//! The executor end to end without DPDK: the seed's startup file applied through the CLI,
//! the seed's packets through a worker, the bytes compared with the spec.

use super::*;
use crate::buffer::{PacketBuf, TestBuf};
use crate::node::InputKind;
use crate::pipeline::{Verdict, Worker};
use crate::spec_frames::{self, HOST_MAC, HOST_NEXT_HOP};
use crate::types::IfIndex;
use std::cell::Cell;

struct TestPlatform;

impl Platform for TestPlatform {
    fn hardware_interfaces(
        &self,
        _name: Option<&str>,
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

/// The seed node: tap2 (pod) and tap0 (host) as the app creates them from `--iface`,
/// then the shipped startup file.
fn seed_node() -> (Control, IfIndex, IfIndex) {
    let mut plane = ControlPlane::new();
    let tap2 = plane
        .add_interface(
            "tap2",
            "net_tap0",
            MacAddr([2, 0, 0, 0, 0, 2]),
            InputKind::Virtio,
        )
        .unwrap();
    let tap0 = plane
        .add_interface(
            "tap0",
            "net_tap1",
            MacAddr([2, 0, 0, 0, 0, 1]),
            InputKind::Virtio,
        )
        .unwrap();
    let mut control = Control::new(plane, Box::new(TestPlatform));
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
    worker
        .answer(
            WorkerQuestion::TraceAdd {
                input: InputKind::Virtio,
                count: 10,
            },
            &snapshot,
            NOW,
        )
        .unwrap();

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

    let trace = worker
        .answer(WorkerQuestion::ShowTrace { max: 10 }, &snapshot, NOW)
        .unwrap();
    let blocks: Vec<&str> = trace
        .split("Packet ")
        .filter(|b| !b.trim().is_empty())
        .collect();
    assert_eq!(blocks.len(), 2, "{trace}");
    let nodes = |block: &str| -> Vec<String> {
        block
            .lines()
            .filter_map(|l| l.split_once(": "))
            .filter(|(t, _)| t.len() == 15 && t.chars().filter(|c| *c == ':').count() == 3)
            .map(|(_, n)| n.to_string())
            .collect()
    };
    assert_eq!(
        nodes(blocks[0]),
        [
            "virtio-input",
            "ethernet-input",
            "ip4-input",
            "acl-plugin-in-ip4-fa",
            "nat44-out2in",
            "ip4-lookup",
            "ip4-rewrite",
            "acl-plugin-out-ip4-fa",
            "tap0-output"
        ],
        "{trace}"
    );
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
    let request = blocks[0];
    for expected in [
        "TCP: 10.1.1.3 -> 10.104.221.85",
        "tos 0x00, ttl 64, length 60, checksum 0xe946",
        "window 29200, checksum 0xd22d",
        "action: 2, match: acl 3 rule 0",
        "NAT44_OUT2IN: sw_if_index 1, next index 1, session index 0",
        "TCP: 10.1.1.3 -> 10.20.0.2",
        "tos 0x00, ttl 64, length 60, checksum 0xc6ee",
        "window 29200, checksum 0x9095",
        "ipv4 via 172.30.1.2 tap0: 3e1b702d4d510123456789420800",
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
        "tos 0x00, ttl 64, length 60, checksum 0x25a3",
        "window 28960, checksum 0xdab4",
        "action: 2, match: acl 3 rule 0",
        "NAT44_IN2OUT_FAST_PATH: sw_if_index 2, next index 3, session -1",
        "NAT44_IN2OUT_SLOW_PATH: sw_if_index 2, next index 0, session 0",
        "TCP: 10.104.221.85 -> 10.1.1.3",
        "tos 0x00, ttl 64, length 60, checksum 0x47fb",
        "window 28960, checksum 0x1c4d",
        "action: 3, match: acl -1 rule",
        "tos 0x00, ttl 63, length 60, checksum 0x48fb",
        "IP4: 02:fe:16:3f:5f:0f -> 00:00:00:00:00:02",
    ] {
        assert!(
            response.contains(expected),
            "response trace lacks '{expected}':\n{response}"
        );
    }
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
    assert!(control
        .execute_line("show version")
        .unwrap()
        .starts_with("podfwd v"));
    // Without running workers a worker question says so rather than hanging.
    assert_eq!(
        control.execute_line("show nat44 sessions").unwrap_err(),
        "the workers are not running"
    );
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
    ] {
        assert_eq!(control.execute_line(line).unwrap_err(), error, "{line}");
    }
    for line in [
        "set interface state tap0",
        "ip route del 10.99.0.0/16",
        "set ip neighbor del tap0 172.30.1.99 00:00:00:00:00:01",
        "delete acl-plugin acl index 3",
        "set acl-plugin interface tap0 input acl 9",
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
            "{}:4: unknown interface 'tap7' (known: tap2, tap0)",
            file.display()
        )
    );
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
    let worker = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut snapshot = publisher.subscribe();
            let mut worker = Worker::new(ticks);
            let syn = spec_frames::syn();
            let (mut sent, mut forwarded, mut epochs_seen) = (0u64, 0u64, 0u64);
            let mut last_epoch = 0;
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
