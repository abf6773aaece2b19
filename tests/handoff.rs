//! Worker handoff through the real podfwd: two workers on two net_pcap ports of two
//! queues each (no hugepages, no namespaces). Each worker reads one queue of the pods'
//! port, SYNs from 64 client pods to a service; every SYN leaves the host port once,
//! translated, though about half of them arrived at the worker that does not own their
//! flow and went through a handoff ring (the poll loop's split, the ring, the owner's
//! regrouping by port) before the stages ran.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use podfwd::spec_frames::{syn_spec, tcp_frame, TcpFrameSpec};
use podfwd::types::MacAddr;
use podfwd_suite::{
    bin, dpdk_lock, file_prefix, nat44_sessions_per_thread, read_pcap, runtime_vectors,
    scratch_dir, show_interface_counter, write_pcap, DpdkProcess,
};

const PODS_MAC: [u8; 6] = [0x02, 0xfe, 0x16, 0x3f, 0x5f, 0x0f];
const SERVICE: Ipv4Addr = Ipv4Addr::new(10, 104, 221, 85);
const ENDPOINT: Ipv4Addr = Ipv4Addr::new(10, 20, 0, 2);
const CLIENTS_PER_QUEUE: u8 = 32;

const STARTUP: &str = "\
set interface mac address pods 02:fe:16:3f:5f:0f
set interface ip address pods 10.1.1.1/24
set interface state pods up
set interface mac address host 01:23:45:67:89:42
set interface ip address host 172.30.1.1/24
set interface state host up
set ip neighbor host 172.30.1.2 3e:1b:70:2d:4d:51 static
ip route add 10.20.0.0/24 via 172.30.1.2 host
nat44 add static mapping tcp local 10.20.0.2 8080 external 10.104.221.85 80 out2in-only
set interface nat44 out pods
set interface nat44 in host
set acl-plugin acl permit+reflect
set acl-plugin interface pods input acl 0
trace add pcap-input 100
";

/// SYNs to the service from clients 10.1.1.`first`.. (one flow each).
fn syns(first: u8) -> Vec<Vec<u8>> {
    (first..first + CLIENTS_PER_QUEUE)
        .map(|last| {
            tcp_frame(&TcpFrameSpec {
                dst_mac: MacAddr(PODS_MAC),
                src: Ipv4Addr::new(10, 1, 1, last),
                dst: SERVICE,
                ..syn_spec()
            })
        })
        .collect()
}

fn ctl(socket: &Path, command: &str) -> Output {
    Command::new(bin("podfwdctl"))
        .arg("--socket")
        .arg(socket)
        .args(command.split_whitespace())
        .output()
        .expect("run podfwdctl")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn two_workers_forward_every_packet_once_through_its_owner() {
    let _lock = dpdk_lock();
    let dir = scratch_dir("handoff");
    let prefix = file_prefix("handoff");
    let pcap = |name: &str| dir.join(name).display().to_string();
    write_pcap(&dir.join("q0.pcap"), &syns(2));
    write_pcap(&dir.join("q1.pcap"), &syns(2 + CLIENTS_PER_QUEUE));
    write_pcap(&dir.join("empty.pcap"), &[]);
    std::fs::write(dir.join("startup.cli"), STARTUP).unwrap();
    let socket = dir.join("cli.sock");
    let mut command = Command::new(bin("podfwd"));
    // Two workers, each on its own CPU; the main lcore sleeps beside the first.
    command
        .args(["--lcores", "0@0,1@0,2@1", "--main-lcore", "0"])
        .args(["--no-pci", "--no-huge", "--file-prefix", &prefix])
        .arg(format!(
            "--vdev=net_pcap0,rx_pcap={},rx_pcap={},tx_pcap={},tx_pcap={}",
            pcap("q0.pcap"),
            pcap("q1.pcap"),
            pcap("pods-out0.pcap"),
            pcap("pods-out1.pcap")
        ))
        .arg(format!(
            "--vdev=net_pcap1,rx_pcap={},rx_pcap={},tx_pcap={},tx_pcap={}",
            pcap("empty.pcap"),
            pcap("empty.pcap"),
            pcap("host-out0.pcap"),
            pcap("host-out1.pcap")
        ))
        .args([
            "--",
            "--iface",
            "pods=net_pcap0",
            "--iface",
            "host=net_pcap1",
        ])
        .arg("--exec")
        .arg(dir.join("startup.cli"))
        .arg("--socket")
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut podfwd = DpdkProcess::spawn(&mut command, &prefix);

    let sent = u64::from(CLIENTS_PER_QUEUE) * 2;
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut shown = String::new();
    while show_interface_counter(&shown, "host", "tx packets") != Some(sent) {
        assert!(
            Instant::now() < give_up,
            "{sent} SYNs never left host:\n{shown}"
        );
        if let Ok(Some(status)) = podfwd.try_wait() {
            panic!("podfwd exited ({status})");
        }
        std::thread::sleep(Duration::from_millis(100));
        if socket.exists() {
            shown = text(&ctl(&socket, "show interface"));
        }
    }
    let runtime = text(&ctl(&socket, "show runtime"));
    let sessions = text(&ctl(&socket, "show nat44 sessions"));
    let errors = text(&ctl(&socket, "show errors"));
    let trace = text(&ctl(&socket, "show trace max 100"));
    let status = podfwd.stop();
    assert!(
        status.is_some_and(|s| s.success()),
        "podfwd's exit: {status:?}"
    );

    // The handoff ran (each worker hands the flows it does not own) and dropped nothing.
    let handed = runtime_vectors(&runtime, "worker-handoff");
    assert!(handed > 0, "nothing was handed off:\n{runtime}");
    assert!(!errors.contains("congestion drop"), "{errors}");
    // Each thread traced its first packets. Those the other worker handed over say so,
    // naming its thread, and came from its queue's clients (queue 0: 10.1.1.2-33, read
    // by thread 1; queue 1: 10.1.1.34-65, thread 2); the others came from this
    // worker's own queue.
    let mut handed_traces = 0;
    for section in trace.split("Start of thread ").skip(1) {
        let thread: u8 = section
            .split(' ')
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap();
        let other = 3 - thread;
        for block in section.split("\nPacket ").skip(1) {
            let client: u8 = block
                .split("TCP: 10.1.1.")
                .nth(1)
                .and_then(|rest| rest.split(' ').next()?.parse().ok())
                .unwrap_or_else(|| panic!("no client in:\n{block}"));
            let queue_thread = if client < 2 + CLIENTS_PER_QUEUE { 1 } else { 2 };
            if block.contains(": handoff_trace\n") {
                handed_traces += 1;
                let line = format!("  HANDED-OFF: from thread {other}\n");
                assert!(block.contains(&line), "thread {thread}: {block}");
                assert_eq!(queue_thread, other, "thread {thread}: {block}");
            } else {
                assert_eq!(queue_thread, thread, "thread {thread}: {block}");
            }
        }
    }
    assert!(handed_traces > 0, "no handed-over packet traced:\n{trace}");
    // Both workers own flows: the sessions are spread, each made once.
    let per_thread = nat44_sessions_per_thread(&sessions);
    assert_eq!(per_thread.len(), 2, "{sessions}");
    assert!(per_thread.iter().all(|n| *n > 0), "{sessions}");
    assert_eq!(per_thread.iter().sum::<u64>(), sent, "{sessions}");

    // Every SYN left once, translated to the endpoint, from its own client.
    let mut clients: Vec<Ipv4Addr> = ["host-out0.pcap", "host-out1.pcap"]
        .iter()
        .flat_map(|f| read_pcap(&dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
        .map(|frame| {
            let at = |i: usize| Ipv4Addr::new(frame[i], frame[i + 1], frame[i + 2], frame[i + 3]);
            assert_eq!(at(30), ENDPOINT, "translated to the endpoint");
            assert_eq!(u16::from_be_bytes([frame[36], frame[37]]), 8080);
            at(26)
        })
        .collect();
    clients.sort();
    let expected: Vec<Ipv4Addr> = (2..2 + 2 * CLIENTS_PER_QUEUE)
        .map(|last| Ipv4Addr::new(10, 1, 1, last))
        .collect();
    assert_eq!(clients, expected, "each client's SYN, once");
    let _ = std::fs::remove_dir_all(&dir);
}
