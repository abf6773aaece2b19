//! The seed, byte for byte through the real binary (issue 7, section 2): podfwd runs the
//! seed topology (examples/seed-node.conf) on two net_pcap ports, the pod port `tap2` and
//! the host port `tap0`. The spec's SYN enters on tap2, its SYN-ACK on tap0; the tx pcaps
//! must hold the spec's rewritten frames, and `show trace` the spec's stages and values.
//!
//! Sequencing. net_pcap reads its rx file per burst, and the one worker starts polling as
//! soon as it is launched, before it serves the `trace add` the startup file queued for
//! it. So the rx "files" are FIFOs the test writes into, and podfwd runs with `--burst 1`:
//! each rx burst reads exactly one record, blocking until the test writes it.
//! 1. The test writes one filler frame into each FIFO once the worker is launched (an
//!    unknown EtherType, dropped by ethernet-input). The worker's first pass reads them,
//!    then serves its mailbox: `trace add` is in force, and podfwd starts serving the
//!    control socket only once the worker answered it.
//! 2. Once the socket answers, the worker is blocked reading tap2's FIFO: the test writes
//!    the SYN there, then the SYN-ACK into tap0's FIFO. tap2 is interface 0 and polled
//!    first, so the SYN (which creates the NAT session) is processed before the SYN-ACK.
//! 3. The test closes both FIFOs: end of file, the worker polls freely from then on.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use podfwd::spec_frames;
use podfwd_suite::{
    bin, dpdk_lock, file_prefix, hex, pcap_file_header, pcap_record, read_pcap, scratch_dir,
    show_interface_counter, stage_text, traced_packets, DpdkProcess,
};

const SEED_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed-node.conf");

/// The spec's two ip4-rewrite hex dumps: the first 60 bytes of the frames as they leave.
const SYN_OUT: &str = "3e1b702d4d5101234567894208004500003c5eb440003f06c7ee0a0101030a14
    0002b4e61f90ba5bf36d00000000a002721090950000020405b40402";
const SYN_ACK_OUT: &str = "00000000000202fe163f5f0f08004500003c000040003f0648fb0a68dd550a01
    01030050b4e657f7b0c7ba5bf36ea01271201c4d0000020405b40402";

const REQUEST_PATH: [&str; 9] = [
    "pcap-input",
    "ethernet-input",
    "ip4-input",
    "acl-plugin-in-ip4-fa",
    "nat44-out2in",
    "ip4-lookup",
    "ip4-rewrite",
    "acl-plugin-out-ip4-fa",
    "tap0-output",
];
const RESPONSE_PATH: [&str; 10] = [
    "pcap-input",
    "ethernet-input",
    "ip4-input",
    "acl-plugin-in-ip4-fa",
    "nat44-in2out",
    "nat44-in2out-slowpath",
    "ip4-lookup",
    "ip4-rewrite",
    "acl-plugin-out-ip4-fa",
    "tap2-output",
];

/// The seed's values along the request's stages: (stage, one whole line of its text).
/// The spec's, with this test's interface and session numbers: tap2 is sw_if_index 1
/// here (6 in the spec; in the ACL's pkt info too, as the lsb16 of the L4 word and the
/// sw_if_index of the last), tap0 is 2 as there; the SYN's NAT44 session is this
/// worker's first, index 0 (5 in the spec). The FIB numbers its adjacencies in prefix
/// order after no-route (0): the drop of 0.0.0.0/32 is 1, 10.1.1.3/32 via tap2 is 2,
/// 10.20.0.2/32 via 172.30.1.2 is 3 (the spec's 8 and 3).
const REQUEST_LINES: [(&str, &str); 19] = [
    ("ethernet-input", "IP4: 00:00:00:00:00:02 -> 02:fe:16:3f:5f:0f"),
    ("ip4-input", "TCP: 10.1.1.3 -> 10.104.221.85"),
    ("ip4-input", "tos 0x00, ttl 64, length 60, checksum 0xe946"),
    ("ip4-input", "window 29200, checksum 0xd22d"),
    (
        "acl-plugin-in-ip4-fa",
        "acl-plugin: sw_if_index 1, next index 2, action: 2, match: acl 3 rule 0 trace_bits 00000000",
    ),
    (
        "acl-plugin-in-ip4-fa",
        "pkt info 0000000000000000 0301010a00000000 0000000000000000 55dd680a00000000 000100060050b4e6 0702ffff00000001",
    ),
    (
        "acl-plugin-in-ip4-fa",
        "input sw_if_index 1 (lsb16 1) l3 ip4 10.1.1.3 -> 10.104.221.85 l4 proto 6 l4_valid 1 port 46310 -> 80 tcp flags (valid) 02 rsvd 0",
    ),
    (
        "nat44-out2in",
        "NAT44_OUT2IN: sw_if_index 1, next index 1, session index 0",
    ),
    ("ip4-lookup", "fib 0 dpo-idx 3 flow hash: 0x00000000"),
    ("ip4-lookup", "TCP: 10.1.1.3 -> 10.20.0.2"),
    ("ip4-lookup", "tos 0x00, ttl 64, length 60, checksum 0xc6ee"),
    ("ip4-lookup", "window 29200, checksum 0x9095"),
    (
        "acl-plugin-out-ip4-fa",
        "acl-plugin: sw_if_index 2, next index 1, action: 1, match: acl 2 rule 3 trace_bits 00000000",
    ),
    (
        "acl-plugin-out-ip4-fa",
        "pkt info 0000000000000000 0301010a00000000 0000000000000000 0200140a00000000 000200061f90b4e6 0502ffff00000002",
    ),
    (
        "acl-plugin-out-ip4-fa",
        "output sw_if_index 2 (lsb16 2) l3 ip4 10.1.1.3 -> 10.20.0.2 l4 proto 6 l4_valid 1 port 46310 -> 8080 tcp flags (valid) 02 rsvd 0",
    ),
    ("tap0-output", "IP4: 01:23:45:67:89:42 -> 3e:1b:70:2d:4d:51"),
    ("tap0-output", "TCP: 10.1.1.3 -> 10.20.0.2"),
    ("tap0-output", "tos 0x00, ttl 63, length 60, checksum 0xc7ee"),
    ("tap0-output", "window 29200, checksum 0x9095"),
];
/// The request's ip4-rewrite (its dpo index is this FIB's, as ip4-lookup's): the
/// adjacency, and the spec's dump, whole (60 bytes, then the line ends).
const REQUEST_REWRITE: [&str; 2] = [
    "tx_sw_if_index 2 dpo-idx 3 : ipv4 via 172.30.1.2 tap0: 3e1b702d4d510123456789420800",
    "  00000000: 3e1b702d4d5101234567894208004500003c5eb440003f06c7ee0a0101030a14\n  \
     00000020: 0002b4e61f90ba5bf36d00000000a002721090950000020405b40402\n",
];
/// The seed's values along the response's stages: (stage, one whole line of its text).
/// The SYN-ACK leaves tap2 (sw_if_index 1) by the ACL session tap2's input created for
/// the SYN: this worker's first, so `rule 0` (the spec's was session 32); the
/// NAT44 session is the SYN's, 0.
const RESPONSE_LINES: [(&str, &str); 20] = [
    ("ethernet-input", "IP4: 3e:1b:70:2d:4d:51 -> 01:23:45:67:89:42"),
    ("ip4-input", "TCP: 10.20.0.2 -> 10.1.1.3"),
    ("ip4-input", "tos 0x00, ttl 64, length 60, checksum 0x25a3"),
    ("ip4-input", "window 28960, checksum 0xdab4"),
    (
        "acl-plugin-in-ip4-fa",
        "acl-plugin: sw_if_index 2, next index 1, action: 2, match: acl 3 rule 0 trace_bits 00000000",
    ),
    (
        "acl-plugin-in-ip4-fa",
        "pkt info 0000000000000000 0200140a00000000 0000000000000000 0301010a00000000 00020006b4e61f90 0712ffff00000002",
    ),
    (
        "acl-plugin-in-ip4-fa",
        "input sw_if_index 2 (lsb16 2) l3 ip4 10.20.0.2 -> 10.1.1.3 l4 proto 6 l4_valid 1 port 8080 -> 46310 tcp flags (valid) 12 rsvd 0",
    ),
    (
        "nat44-in2out",
        "NAT44_IN2OUT_FAST_PATH: sw_if_index 2, next index 3, session -1",
    ),
    (
        "nat44-in2out-slowpath",
        "NAT44_IN2OUT_SLOW_PATH: sw_if_index 2, next index 0, session 0",
    ),
    ("ip4-lookup", "fib 0 dpo-idx 2 flow hash: 0x00000000"),
    ("ip4-lookup", "TCP: 10.104.221.85 -> 10.1.1.3"),
    ("ip4-lookup", "tos 0x00, ttl 64, length 60, checksum 0x47fb"),
    ("ip4-lookup", "window 28960, checksum 0x1c4d"),
    (
        "acl-plugin-out-ip4-fa",
        "acl-plugin: sw_if_index 1, next index 1, action: 3, match: acl -1 rule 0 trace_bits 80000000",
    ),
    (
        "acl-plugin-out-ip4-fa",
        "pkt info 0000000000000000 55dd680a00000000 0000000000000000 0301010a00000000 00010006b4e60050 0512ffff00000001",
    ),
    (
        "acl-plugin-out-ip4-fa",
        "output sw_if_index 1 (lsb16 1) l3 ip4 10.104.221.85 -> 10.1.1.3 l4 proto 6 l4_valid 1 port 80 -> 46310 tcp flags (valid) 12 rsvd 0",
    ),
    ("tap2-output", "IP4: 02:fe:16:3f:5f:0f -> 00:00:00:00:00:02"),
    ("tap2-output", "TCP: 10.104.221.85 -> 10.1.1.3"),
    ("tap2-output", "tos 0x00, ttl 63, length 60, checksum 0x48fb"),
    ("tap2-output", "window 28960, checksum 0x1c4d"),
];
/// The response's ip4-rewrite: the adjacency, and the spec's dump, whole.
const RESPONSE_REWRITE: [&str; 2] = [
    "tx_sw_if_index 1 dpo-idx 2 : ipv4 via 10.1.1.3 tap2: 00000000000202fe163f5f0f0800",
    "  00000000: 00000000000202fe163f5f0f08004500003c000040003f0648fb0a68dd550a01\n  \
     00000020: 01030050b4e657f7b0c7ba5bf36ea01271201c4d0000020405b40402\n",
];

/// Checks each (stage, line) of `lines` and each part of ip4-rewrite's text in `packet`.
fn assert_stages(what: &str, packet: &str, lines: &[(&str, &str)], rewrite: &[&str]) {
    for (stage, line) in lines {
        let text = stage_text(packet, stage);
        assert!(
            text.lines().any(|l| l.trim() == *line),
            "{what}: {stage} lacks the line '{line}':\n{packet}"
        );
    }
    let text = stage_text(packet, "ip4-rewrite");
    for part in rewrite {
        assert!(
            text.contains(part),
            "{what}: ip4-rewrite lacks '{part}':\n{packet}"
        );
    }
}

/// The test's own startup lines after the shipped seed configuration.
fn startup(seed_conf: &str) -> String {
    format!(
        "exec {seed_conf}\n\
         # The seed resolves the host 172.30.1.2 by ARP. This test pre-seeds the neighbour\n\
         # instead of answering podfwd's ARP request: a dynamic entry, as ARP would learn.\n\
         set ip neighbor tap0 172.30.1.2 3e:1b:70:2d:4d:51\n\
         # Asked before the workers run, handed to them as they start.\n\
         trace add pcap-input 10\n\
         pcap trace rx tx drop max 10 file {}\n",
        capture_name()
    )
}

/// The startup file's capture, in /tmp (where VPP's `pcap trace` writes).
fn capture_name() -> String {
    format!("podfwd-seed-golden-{}.pcap", std::process::id())
}

/// The frame each FIFO gets first: an unknown EtherType, dropped by ethernet-input.
fn filler() -> Vec<u8> {
    let mut frame = vec![0u8; 60];
    frame[..14].copy_from_slice(&[2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 0x98, 0x88, 0xb5]);
    frame
}

/// The writing end of an rx FIFO: opened (and given the pcap file header) on a thread,
/// as podfwd opens the reading end while the EAL probes the device.
struct Feed {
    name: &'static str,
    file: Receiver<File>,
    open: Option<File>,
}

impl Feed {
    fn new(path: &Path, name: &'static str) -> Feed {
        let made = Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("run mkfifo");
        assert!(made.success(), "mkfifo {}", path.display());
        let (sender, file) = channel();
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            let mut fifo = File::options()
                .write(true)
                .open(&path)
                .expect("open rx FIFO");
            fifo.write_all(&pcap_file_header()).expect("pcap header");
            let _ = sender.send(fifo);
        });
        Feed {
            name,
            file,
            open: None,
        }
    }

    fn write(&mut self, frame: &[u8]) {
        if self.open.is_none() {
            let file = self
                .file
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("podfwd never opened {}'s rx FIFO: {e}", self.name));
            self.open = Some(file);
        }
        let file = self.open.as_mut().expect("opened");
        file.write_all(&pcap_record(frame))
            .unwrap_or_else(|e| panic!("write into {}'s rx FIFO: {e}", self.name));
    }

    fn close(&mut self) {
        self.open = None;
    }
}

/// podfwd with its output collected; dropped (a failing test), it is stopped and reaped.
struct Golden {
    child: DpdkProcess,
    stdin: Option<ChildStdin>,
    output: Arc<Mutex<Vec<String>>>,
    socket: std::path::PathBuf,
}

impl Golden {
    /// Starts podfwd; its rx pcaps are `tap2-rx.pcap` and `tap0-rx.pcap` in `dir`.
    fn start(dir: &Path) -> Golden {
        let prefix = file_prefix("seed-golden");
        let socket = dir.join("cli.sock");
        let startup_file = dir.join("golden.cli");
        std::fs::write(&startup_file, startup(SEED_CONF)).unwrap();
        let vdev = |n: u32, name: &str| {
            format!(
                "--vdev=net_pcap{n},rx_pcap={},tx_pcap={}",
                dir.join(format!("{name}-rx.pcap")).display(),
                dir.join(format!("{name}-tx.pcap")).display()
            )
        };
        let mut command = Command::new(bin("podfwd"));
        command
            .args([
                "-l",
                "0,1",
                "--no-pci",
                "--no-huge",
                "--file-prefix",
                &prefix,
            ])
            .arg(vdev(0, "tap2"))
            .arg(vdev(1, "tap0"))
            .arg("--")
            // tap2 (the pod) is net_pcap0, interface 0, polled first by the one worker.
            .args(["--iface", "tap2=net_pcap0", "--iface", "tap0=net_pcap1"])
            .args(["--burst", "1"])
            .arg("--exec")
            .arg(&startup_file)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = DpdkProcess::spawn(&mut command, &prefix);
        let output = Arc::new(Mutex::new(Vec::new()));
        collect_lines(child.stdout.take().unwrap(), "", Arc::clone(&output));
        collect_lines(
            child.stderr.take().unwrap(),
            "stderr: ",
            Arc::clone(&output),
        );
        let stdin = child.stdin.take();
        Golden {
            child,
            stdin,
            output,
            socket,
        }
    }

    /// Waits for a line of podfwd's output containing `text`.
    fn wait_for_output(&mut self, text: &str) {
        let give_up = Instant::now() + Duration::from_secs(60);
        while !self.output().contains(text) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "podfwd exited ({status}) before '{text}':\n{}",
                    self.output()
                );
            }
            assert!(
                Instant::now() < give_up,
                "podfwd never showed '{text}':\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn output(&self) -> String {
        self.output.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    fn try_ctl(&self, command: &str) -> Output {
        Command::new(bin("podfwdctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(command.split_whitespace())
            .output()
            .expect("run podfwdctl")
    }

    fn ctl(&self, command: &str) -> String {
        let out = self.try_ctl(command);
        assert!(
            out.status.success(),
            "podfwdctl {command}: {}\nstdout:\n{}\nstderr:\n{}\npodfwd:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.output()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls `show interface` until `done` holds for it.
    fn wait_for(&mut self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("podfwd exited ({status}) before {what}:\n{}", self.output());
            }
            if self.socket.exists() {
                let out = self.try_ctl("show interface");
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                if out.status.success() && done(&text) {
                    return text;
                }
            }
            assert!(
                Instant::now() < give_up,
                "podfwd never showed {what}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `quit` on the console; gives the exit status (stopped otherwise if podfwd
    /// does not exit).
    fn quit(&mut self) -> Option<ExitStatus> {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = writeln!(stdin, "quit").and_then(|()| stdin.flush());
        }
        self.stdin = None;
        self.child
            .wait_at_most(Duration::from_secs(30))
            .or_else(|| self.child.stop())
    }
}

fn collect_lines(
    stream: impl Read + Send + 'static,
    tag: &'static str,
    into: Arc<Mutex<Vec<String>>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Ok(mut lines) = into.lock() {
                lines.push(format!("{tag}{line}"));
            }
        }
    });
}

/// `frame` as it must leave: the spec's dump, then the rest of the input unchanged.
fn rewritten(dump: &str, input: &[u8]) -> Vec<u8> {
    let mut out = hex(dump);
    assert_eq!(out.len(), 60);
    out.extend_from_slice(&input[out.len()..]);
    out
}

#[test]
fn seed_syn_and_syn_ack_byte_for_byte_with_the_seed_trace() {
    let _lock = dpdk_lock();
    let dir = scratch_dir("seed_golden");
    let mut tap2_rx = Feed::new(&dir.join("tap2-rx.pcap"), "tap2");
    let mut tap0_rx = Feed::new(&dir.join("tap0-rx.pcap"), "tap0");
    let mut podfwd = Golden::start(&dir);
    let syn = spec_frames::syn();
    let syn_ack = spec_frames::syn_ack();

    // 1. The fillers let the worker finish its first pass and take up `trace add`.
    podfwd.wait_for_output("launch worker lcore 1");
    tap2_rx.write(&filler());
    tap0_rx.write(&filler());
    podfwd.wait_for("the control socket served", |_| true);
    // 2. The seed's packets, in order; 3. end of file.
    tap2_rx.write(&syn);
    tap0_rx.write(&syn_ack);
    tap2_rx.close();
    tap0_rx.close();

    let counters = podfwd.wait_for("one packet out of each port", |t| {
        show_interface_counter(t, "tap0", "tx packets") == Some(1)
            && show_interface_counter(t, "tap2", "tx packets") == Some(1)
    });
    for (itf, counter, value) in [
        ("tap2", "rx packets", Some(2)),
        ("tap0", "rx packets", Some(2)),
        ("tap2", "drops", Some(1)),
        ("tap0", "drops", Some(1)),
    ] {
        assert_eq!(
            show_interface_counter(&counters, itf, counter),
            value,
            "{itf} {counter}:\n{counters}"
        );
    }

    // The startup file's `pcap trace`: each frame as received, then as sent or dropped,
    // in the order the one worker saw them.
    let capture_path = Path::new("/tmp").join(capture_name());
    assert_eq!(
        podfwd.ctl("pcap trace status"),
        format!(
            "pcap rx and tx and drop capture enabled: 8 of 10 pkts...\n\
             capture to file {}\ninterface any, max-bytes-per-pkt 512\n",
            capture_path.display()
        )
    );
    assert_eq!(
        podfwd.ctl("pcap trace off"),
        format!(
            "Write 8 packets to {}, and stop capture...\n",
            capture_path.display()
        )
    );
    let captured = read_pcap(&capture_path);
    let _ = std::fs::remove_file(&capture_path);
    assert_eq!(
        captured,
        Ok(vec![
            filler(),
            filler(),
            filler(),
            filler(),
            syn.clone(),
            rewritten(SYN_OUT, &syn),
            syn_ack.clone(),
            rewritten(SYN_ACK_OUT, &syn_ack),
        ]),
        "pcap trace: each frame as received, then as sent or dropped"
    );
    let trace = podfwd.ctl("show trace");
    let acls = podfwd.ctl("show acl-plugin acl");
    let status = podfwd.quit();
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?}:\n{}",
        podfwd.output()
    );

    assert_eq!(
        read_pcap(&dir.join("tap0-tx.pcap")),
        Ok(vec![rewritten(SYN_OUT, &syn)]),
        "tap0 sends the spec's SYN"
    );
    assert_eq!(
        read_pcap(&dir.join("tap2-tx.pcap")),
        Ok(vec![rewritten(SYN_ACK_OUT, &syn_ack)]),
        "tap2 sends the spec's SYN-ACK"
    );

    // The fillers may be traced too (if `trace add` came before them); they stop at
    // ethernet-input.
    let packets: Vec<_> = traced_packets(&trace)
        .into_iter()
        .filter(|(path, _)| path.iter().any(|n| n == "ip4-input"))
        .collect();
    assert_eq!(packets.len(), 2, "two packets traced:\n{trace}");
    let (request_path, request) = &packets[0];
    let (response_path, response) = &packets[1];
    assert_eq!(request_path, &REQUEST_PATH, "the SYN's stages:\n{trace}");
    assert_eq!(
        response_path, &RESPONSE_PATH,
        "the SYN-ACK's stages:\n{trace}"
    );
    assert_stages("the SYN", request, &REQUEST_LINES, &REQUEST_REWRITE);
    assert_stages("the SYN-ACK", response, &RESPONSE_LINES, &RESPONSE_REWRITE);

    // The rules' hits: ACL 3's permit+reflect took the SYN on tap2 and the SYN-ACK on
    // tap0, ACL 2's last rule (permit any) the SYN leaving by tap0; the SYN-ACK left
    // tap2 by the SYN's session.
    let hits_of = |acl: &str| -> Vec<&str> {
        acls.lines()
            .skip_while(|l| !l.starts_with(&format!("acl-index {acl} hits")))
            .take_while(|l| {
                !l.starts_with("acl-index") || l.contains(&format!("acl-index {acl} hits"))
            })
            .collect()
    };
    let acl3 = hits_of("3");
    assert_eq!(acl3.first(), Some(&"acl-index 3 hits 2"), "{acls}");
    assert_eq!(acl3.get(1).map(|l| l.trim()), Some("0: hits 2"), "{acls}");
    let acl2 = hits_of("2");
    assert_eq!(acl2.first(), Some(&"acl-index 2 hits 1"), "{acls}");
    assert_eq!(acl2.get(4).map(|l| l.trim()), Some("3: hits 1"), "{acls}");
    assert!(
        acls.contains("session hits 1, sessions created 2, no-match denies 0, too many sessions 0"),
        "{acls}"
    );
}
