//! The real `podfwd` on two net_pcap ports (no hugepages): it starts, runs a startup
//! file that routes between the ports, forwards through the real pipeline (ethernet-input,
//! ip4-input, ip4-lookup, ip4-rewrite), reports counters, and stops cleanly.

use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use podfwd::spec_frames::{tcp_frame, TcpFrameSpec};
use podfwd::types::MacAddr;
use podfwd_suite::{
    bin, dpdk_lock, file_prefix, ipv4_header_checksum, read_pcap, scratch_dir,
    show_interface_block, show_interface_counter, write_pcap, DpdkProcess,
};

const UP0_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x10];
const UP1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x01];
const SENDER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const NEXT_HOP_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x02];

/// Both ports up with addresses, a static neighbour behind up1 and a route through it.
const ROUTING: &str = "\
# bring-up: route 10.9.0.0/16 from up0 to the next hop 10.0.1.2 behind up1
set interface mac address up0 02:00:00:00:00:10
set interface mac address up1 02:00:00:00:01:01
set interface ip address up0 10.0.0.1/24
set interface ip address up1 10.0.1.1/24
set interface state up0 up
set interface state up1 up
set ip neighbor up1 10.0.1.2 02:00:00:00:01:02 static
ip route add 10.9.0.0/16 via 10.0.1.2 up1

show hardware-interfaces up0
";

/// Frame lengths of the input; the payload fills each TCP frame up to its length.
const LENGTHS: [usize; 4] = [60, 64, 128, 1514];

/// Four TCP frames to 10.9.x.y, addressed to up0's MAC, with valid checksums, of
/// different lengths, each with its own payload and TTL.
fn input_frames() -> Vec<Vec<u8>> {
    LENGTHS
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let payload: Vec<u8> = (0..len - 54).map(|j| (j * 7 + i) as u8).collect();
            tcp_frame(&TcpFrameSpec {
                dst_mac: MacAddr(UP0_MAC),
                src_mac: MacAddr(SENDER_MAC),
                src: Ipv4Addr::new(10, 0, 0, 2),
                dst: Ipv4Addr::new(10, 9, i as u8, 1 + i as u8),
                src_port: 40000 + i as u16,
                dst_port: 80,
                ident: 0x1000 + i as u16,
                ttl: 64 - i as u8,
                seq: 1000 * i as u32,
                ack: 0,
                flags: 0x18,
                window: 1024,
                options: &[],
                payload: &payload,
            })
        })
        .collect()
}

/// What up1 must send for `frame`, computed here without podfwd's code: the next hop's
/// MAC and up1's, TTL one less, the IP header checksum recomputed; the rest unchanged.
fn routed(frame: &[u8]) -> Vec<u8> {
    let mut out = frame.to_vec();
    out[..6].copy_from_slice(&NEXT_HOP_MAC);
    out[6..12].copy_from_slice(&UP1_MAC);
    out[14 + 8] -= 1;
    let checksum = ipv4_header_checksum(&out[14..34]);
    out[14 + 10..14 + 12].copy_from_slice(&checksum.to_be_bytes());
    out
}

/// The app options of a run with both ports and `startup` as its startup file.
fn both_ports_and(startup: &Path) -> [&str; 6] {
    let startup = startup.to_str().expect("a UTF-8 scratch path");
    [
        "--iface",
        "up0=net_pcap0",
        "--iface",
        "up1=net_pcap1",
        "--exec",
        startup,
    ]
}

fn spawn_piped(command: &mut Command) -> Child {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"))
}

/// podfwd with its output collected; dropped (a failing test), it is stopped and reaped.
struct Running {
    child: DpdkProcess,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(dir: &Path, test: &str, app_args: &[&str]) -> Running {
        Running::start_with(dir, test, &input_frames(), app_args)
    }

    /// As [`Running::start`], net_pcap0 reading `frames`.
    fn start_with(dir: &Path, test: &str, frames: &[Vec<u8>], app_args: &[&str]) -> Running {
        let prefix = file_prefix(test);
        let in_pcap = dir.join("in.pcap");
        let empty_pcap = dir.join("empty.pcap");
        write_pcap(&in_pcap, frames);
        write_pcap(&empty_pcap, &[]);
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
            .arg(format!(
                "--vdev=net_pcap0,rx_pcap={},tx_pcap={}",
                in_pcap.display(),
                dir.join("out0.pcap").display()
            ))
            .arg(format!(
                "--vdev=net_pcap1,rx_pcap={},tx_pcap={}",
                empty_pcap.display(),
                dir.join("out1.pcap").display()
            ))
            .arg("--")
            .args(["--socket", &dir.join("cli.sock").display().to_string()])
            .args(app_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = DpdkProcess::spawn(&mut command, &prefix);
        let (sender, lines) = channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let err_sender = sender.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_sender.send(format!("stderr: {line}"));
            }
        });
        let stdin = child.stdin.take();
        Running {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to podfwd stdin");
        stdin.flush().expect("flush podfwd stdin");
    }

    /// Collects output until `done` holds for the output so far; panics with the whole
    /// output if podfwd exits or nothing matches within a generous limit.
    fn wait_for(
        &mut self,
        what: &str,
        mut done: impl FnMut(&[String]) -> bool,
        mut poke: impl FnMut(&mut Running),
    ) {
        let give_up = Instant::now() + Duration::from_secs(60);
        while !done(&self.seen) {
            assert!(
                Instant::now() < give_up,
                "podfwd never showed {what}; output:\n{}",
                self.seen.join("\n")
            );
            poke(self);
            while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(line);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "podfwd exited ({status}) before showing {what}; output:\n{}",
                    self.seen.join("\n")
                );
            }
        }
    }

    /// Types `quit` and expects a clean exit; gives the whole output.
    fn quit(mut self) -> Vec<String> {
        self.send("quit");
        let (status, output) = self.finish();
        assert!(
            status.success(),
            "exit {status}; output:\n{}",
            output.join("\n")
        );
        output
    }

    fn finish(mut self) -> (std::process::ExitStatus, Vec<String>) {
        self.stdin = None;
        let Some(status) = self.child.wait_at_most(Duration::from_secs(60)) else {
            // Dropping `self` stops podfwd.
            panic!("podfwd did not exit; output:\n{}", self.seen.join("\n"));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(line);
        }
        (status, self.seen)
    }
}

/// The value of `label` in the last `show hardware-interfaces` block for `interface`.
fn counter(output: &[String], interface: &str, label: &str) -> Option<u64> {
    let start = output
        .iter()
        .rposition(|l| l.split_whitespace().next() == Some(interface))?;
    output[start + 1..]
        .iter()
        .take_while(|l| l.starts_with("  "))
        .find_map(|l| l.trim().strip_prefix(label)?.trim().parse().ok())
}

#[test]
fn routes_pcap_between_ports_and_quits_cleanly() {
    let _lock = dpdk_lock();
    let dir = scratch_dir("bringup_quit");
    let startup = dir.join("startup.cli");
    std::fs::write(&startup, ROUTING).unwrap();
    let mut podfwd = Running::start(&dir, "quit", &both_ports_and(&startup));
    podfwd.wait_for(
        "4 packets out of up1",
        |out| counter(out, "up1", "tx packets") == Some(4),
        |p| p.send("show hardware-interfaces"),
    );
    let before = podfwd.seen.len();
    podfwd.send("show interface");
    podfwd.wait_for(
        "show interface",
        |out| out[before..].iter().any(|l| l.starts_with("up1 ")),
        |_| {},
    );
    // clear hardware-interfaces: up0's port counters read from zero again.
    let before_clear = podfwd.seen.len();
    podfwd.send("clear hardware-interfaces");
    podfwd.send("show hardware-interfaces up0");
    podfwd.wait_for(
        "show hardware-interfaces up0 after the clear",
        |out| counter(&out[before_clear..], "up0", "rx bytes").is_some(),
        |_| {},
    );
    let output = podfwd.quit();
    let cleared = &output[before_clear..];
    assert_eq!(
        counter(cleared, "up0", "rx packets"),
        Some(0),
        "{cleared:?}"
    );
    assert_eq!(counter(cleared, "up0", "rx bytes"), Some(0), "{cleared:?}");

    // The startup file ran before forwarding: its block shows up0 with nothing received.
    // (stderr's log lines interleave with stdout's: leave them out.)
    let stdout: Vec<&String> = output
        .iter()
        .filter(|l| !l.starts_with("stderr: "))
        .collect();
    let first_header = stdout
        .iter()
        .position(|l| l.trim_start().starts_with("Name"))
        .expect("startup output");
    assert!(stdout[first_header + 1].starts_with("up0 "), "{output:?}");
    assert!(
        stdout[first_header + 1..]
            .iter()
            .take_while(|l| !l.starts_with("Name"))
            .any(|l| l.trim().strip_prefix("rx packets").map(str::trim) == Some("0")),
        "{output:?}"
    );

    // `show hardware-interfaces` (the last one, before `show interface`'s table).
    let at = output
        .iter()
        .rposition(|l| l.trim_start().starts_with("Name") && l.contains("Counter"))
        .expect("show interface table");
    let hardware = &output[..at];
    let total: u64 = LENGTHS.iter().map(|&l| l as u64).sum();
    assert_eq!(counter(hardware, "up0", "rx packets"), Some(4));
    assert_eq!(counter(hardware, "up0", "rx bytes"), Some(total));
    assert_eq!(counter(hardware, "up1", "tx packets"), Some(4));
    assert_eq!(counter(hardware, "up1", "tx bytes"), Some(total));
    assert_eq!(counter(hardware, "up1", "tx-error"), Some(0));
    assert_eq!(counter(hardware, "up0", "drops"), Some(0));

    // `show interface`: the pipeline's own counters.
    let table = output[at..].join("\n");
    let count = |itf: &str, c: &str| show_interface_counter(&table, itf, c);
    assert_eq!(count("up0", "rx packets"), Some(4), "{table}");
    assert_eq!(count("up0", "rx bytes"), Some(total), "{table}");
    assert_eq!(count("up1", "tx packets"), Some(4), "{table}");
    assert_eq!(count("up1", "tx bytes"), Some(total), "{table}");
    // A zero counter has no row: each block is there, with its counters and no drops.
    for (itf, counter) in [("up0", "rx packets"), ("up1", "tx packets")] {
        let block = show_interface_block(&table, itf)
            .unwrap_or_else(|| panic!("no {itf} block in:\n{table}"));
        assert!(
            block.iter().any(|l| l.contains(counter)),
            "{itf}: {block:?}\n{table}"
        );
        assert!(
            !block.iter().any(|l| l.contains("drops")),
            "{itf} dropped: {block:?}\n{table}"
        );
    }
    assert!(
        output.iter().any(|l| l.contains("rte_eal_cleanup")),
        "{output:?}"
    );

    let expected: Vec<Vec<u8>> = input_frames().iter().map(|f| routed(f)).collect();
    assert_eq!(read_pcap(&dir.join("out1.pcap")), Ok(expected));
    assert_eq!(read_pcap(&dir.join("out0.pcap")), Ok(vec![]));
}

/// `--poll-sleep-usec`: the worker forwards as before, and once idle it sleeps between
/// passes: over a second it is on its CPU for under a tenth of it (~1 % here), where a
/// polling worker (the default) is on it for all of it, or half beside another poller.
#[test]
fn an_idle_worker_sleeps_with_poll_sleep_usec() {
    let _lock = dpdk_lock();
    let dir = scratch_dir("bringup_poll_sleep");
    let startup = dir.join("startup.cli");
    std::fs::write(&startup, ROUTING).unwrap();
    let mut args = both_ports_and(&startup).to_vec();
    args.extend(["--poll-sleep-usec", "1000"]);
    let mut podfwd = Running::start(&dir, "poll_sleep", &args);
    podfwd.wait_for(
        "4 packets out of up1",
        |out| counter(out, "up1", "tx packets") == Some(4),
        |p| p.send("show hardware-interfaces"),
    );
    // The worker's thread, as `show threads` names it.
    let before = podfwd.seen.len();
    podfwd.send("show threads");
    let worker_row = |out: &[String]| out.iter().find(|l| l.contains("podfwd_wk_0")).cloned();
    podfwd.wait_for(
        "show threads",
        |out| worker_row(&out[before..]).is_some(),
        |_| {},
    );
    let row = worker_row(&podfwd.seen[before..]).unwrap_or_default();
    let lwp: u32 = row
        .split_whitespace()
        .nth(3)
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no LWP in {row:?}"));
    let schedstat = format!("/proc/{}/task/{lwp}/schedstat", podfwd.child.id());
    // Its first field: nanoseconds on a CPU.
    let on_cpu = || -> u64 {
        let text = std::fs::read_to_string(&schedstat).expect("the worker's schedstat");
        let first = text.split_whitespace().next().unwrap_or_default();
        first
            .parse()
            .unwrap_or_else(|_| panic!("{schedstat}: {text:?}"))
    };
    let (ran_before, started) = (on_cpu(), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let (ran, elapsed) = (on_cpu() - ran_before, started.elapsed());
    assert!(
        u128::from(ran) * 10 < elapsed.as_nanos(),
        "the idle worker ran {ran} ns of {elapsed:?}"
    );
    podfwd.quit();
}

/// `pcap trace tx` holds exactly what left, when bursts reach a TX buffer that a burst
/// with a drop left partly filled (with `--burst 4`: 3 of 4 pending, then a whole burst
/// that does not fit beside them, then 3 more).
#[test]
fn pcap_trace_tx_holds_what_left_across_split_bursts() {
    let _lock = dpdk_lock();
    let dir = scratch_dir("bringup_pcap_tx");
    let capture = format!("podfwd-bringup-{}.pcap", std::process::id());
    let startup = dir.join("startup.cli");
    std::fs::write(
        &startup,
        format!("{ROUTING}pcap trace tx max 100 file {capture}\n"),
    )
    .unwrap();
    // Ten routed frames, the third one an EtherType that ethernet-input drops.
    let routed_frames = || {
        (0..10u8).map(|i| {
            tcp_frame(&TcpFrameSpec {
                dst_mac: MacAddr(UP0_MAC),
                src_mac: MacAddr(SENDER_MAC),
                dst: Ipv4Addr::new(10, 9, 0, 1 + i),
                ..podfwd::spec_frames::syn_spec()
            })
        })
    };
    let mut frames: Vec<Vec<u8>> = routed_frames().collect();
    let mut stray = frames[0].clone();
    stray[12..14].copy_from_slice(&[0x88, 0xb5]);
    frames.insert(2, stray);
    let mut podfwd = Running::start_with(
        &dir,
        "pcap_tx",
        &frames,
        &[
            "--iface",
            "up0=net_pcap0",
            "--iface",
            "up1=net_pcap1",
            "--burst",
            "4",
            "--exec",
            startup.to_str().unwrap(),
        ],
    );
    podfwd.wait_for(
        "10 packets out of up1",
        |out| counter(out, "up1", "tx packets") == Some(10),
        |p| p.send("show hardware-interfaces"),
    );
    podfwd.send("pcap trace off");
    podfwd.wait_for(
        "the capture written",
        |out| {
            out.iter()
                .any(|l| l.starts_with("Write 10 packets to /tmp/"))
        },
        |_| {},
    );
    podfwd.quit();
    let path = Path::new("/tmp").join(&capture);
    let captured = read_pcap(&path);
    let _ = std::fs::remove_file(&path);
    let sent = read_pcap(&dir.join("out1.pcap"));
    assert_eq!(sent.as_ref().map(Vec::len), Ok(10));
    assert_eq!(captured, sent, "the capture is what up1 sent, once each");
}

#[test]
fn sigterm_stops_cleanly() {
    let _lock = dpdk_lock();
    let dir = scratch_dir("bringup_sigterm");
    let mut podfwd = Running::start(&dir, "sigterm", &[]);
    // Without --iface the interfaces are named after their devices; without a startup
    // file they stay admin-down, so what net_pcap0 receives is dropped.
    podfwd.wait_for(
        "4 packets into net_pcap0",
        |out| counter(out, "net_pcap0", "drops") == Some(4),
        |p| p.send("show hardware-interfaces net_pcap0"),
    );
    assert_eq!(counter(&podfwd.seen, "net_pcap0", "rx packets"), Some(4));
    // Admin-down: its link is down in VPP's columns, whatever the port's own link.
    let first_line = podfwd
        .seen
        .iter()
        .rfind(|l| l.starts_with("net_pcap0 "))
        .expect("a net_pcap0 block");
    assert_eq!(
        first_line.split_whitespace().collect::<Vec<_>>(),
        ["net_pcap0", "1", "down", "net_pcap0"]
    );
    assert!(
        podfwd.seen.iter().any(|l| l.starts_with("    port link ")),
        "the port's own link has its line: {:?}",
        podfwd.seen
    );
    podfwd.child.signal("TERM");
    let (status, output) = podfwd.finish();
    assert!(
        status.success(),
        "exit {status}; output:\n{}",
        output.join("\n")
    );
    assert!(
        output.iter().any(|l| l.contains("stop signal received")),
        "{output:?}"
    );
    assert_eq!(read_pcap(&dir.join("out1.pcap")), Ok(vec![]));
    assert_eq!(read_pcap(&dir.join("out0.pcap")), Ok(vec![]));
}

/// A datagram over up1's MTU (576 here) with DF clear leaves as fragments (ip4-frag),
/// computed here without podfwd's code: the routed datagram's header on each, total
/// length, MF and offset set, the checksum recomputed, 552 payload bytes a fragment.
#[test]
fn a_datagram_over_the_mtu_leaves_as_fragments() {
    let _lock = dpdk_lock();
    let dir = scratch_dir("bringup_fragments");
    let startup = dir.join("startup.cli");
    std::fs::write(&startup, format!("{ROUTING}set interface mtu 576 up1\n")).unwrap();
    let mut frames = input_frames();
    let big = &mut frames[3];
    big[14 + 6] &= !0x40;
    let checksum = ipv4_header_checksum(&big[14..34]);
    big[14 + 10..14 + 12].copy_from_slice(&checksum.to_be_bytes());
    let mut podfwd = Running::start_with(&dir, "fragments", &frames, &both_ports_and(&startup));
    podfwd.wait_for(
        "3 packets and 3 fragments out of up1",
        |out| counter(out, "up1", "tx packets") == Some(6),
        |p| p.send("show hardware-interfaces up1"),
    );
    let before = podfwd.seen.len();
    podfwd.send("show errors");
    podfwd.wait_for(
        "show errors",
        |out| {
            out[before..]
                .iter()
                .any(|l| l.contains("number of sent fragments"))
        },
        |_| {},
    );
    let output = podfwd.quit();
    let row = |text: &str| {
        output[before..]
            .iter()
            .find(|l| l.contains(text))
            .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
    };
    assert_eq!(row("number of sent fragments").as_deref(), Some("3"));
    assert_eq!(row("packet fragmented").as_deref(), Some("1"));

    let mut expected: Vec<Vec<u8>> = frames[..3].iter().map(|f| routed(f)).collect();
    let whole = routed(&frames[3]);
    let payload = &whole[34..];
    for (k, chunk) in payload.chunks(552).enumerate() {
        let mut fragment = whole[..34].to_vec();
        fragment[14 + 2..14 + 4].copy_from_slice(&(20 + chunk.len() as u16).to_be_bytes());
        let more = if (k + 1) * 552 < payload.len() {
            0x2000
        } else {
            0
        };
        let flags = more | (k * 552 / 8) as u16;
        fragment[14 + 6..14 + 8].copy_from_slice(&flags.to_be_bytes());
        let checksum = ipv4_header_checksum(&fragment[14..34]);
        fragment[14 + 10..14 + 12].copy_from_slice(&checksum.to_be_bytes());
        fragment.extend_from_slice(chunk);
        expected.push(fragment);
    }
    assert_eq!(expected.len(), 6);
    assert_eq!(read_pcap(&dir.join("out1.pcap")), Ok(expected));
}

/// A frame larger than an mbuf (2048 bytes of data room) arrives as a chain, which
/// podfwd frees at RX: `show interface` counts it received and dropped, `show errors`
/// names why, and the frames around it are forwarded as ever. `show hardware-interfaces`
/// gives VPP's columns, the sw_if_index, and the MAC podfwd sends from beside the port's.
#[test]
fn oversized_frame_is_counted_received_and_dropped() {
    let _lock = dpdk_lock();
    let dir = scratch_dir("bringup_oversized");
    let startup = dir.join("startup.cli");
    std::fs::write(&startup, ROUTING).unwrap();
    let mut frames = input_frames();
    let payload = vec![0x5a; 3000 - 54];
    frames.insert(
        2,
        tcp_frame(&TcpFrameSpec {
            dst_mac: MacAddr(UP0_MAC),
            src_mac: MacAddr(SENDER_MAC),
            src: Ipv4Addr::new(10, 0, 0, 2),
            dst: Ipv4Addr::new(10, 9, 9, 9),
            src_port: 40009,
            dst_port: 80,
            ident: 0x1009,
            ttl: 64,
            seq: 9,
            ack: 0,
            flags: 0x18,
            window: 1024,
            options: &[],
            payload: &payload,
        }),
    );
    let mut podfwd = Running::start_with(&dir, "oversized", &frames, &both_ports_and(&startup));
    podfwd.wait_for(
        "the chained frame counted",
        |out| {
            counter(out, "up1", "tx packets") == Some(4)
                && counter(out, "up0", "rx multi-segment") == Some(1)
        },
        |p| p.send("show hardware-interfaces"),
    );
    let before = podfwd.seen.len();
    podfwd.send("show interface");
    podfwd.send("show errors");
    podfwd.send("show hardware-interfaces up0");
    podfwd.wait_for(
        "show errors and show hardware-interfaces",
        |out| {
            out[before..].iter().any(|l| l.contains("dpdk-input"))
                && out[before..].iter().any(|l| l.contains("port link"))
        },
        |_| {},
    );
    let output = podfwd.quit();
    let shown: Vec<&String> = output[before..]
        .iter()
        .filter(|l| !l.starts_with("stderr: "))
        .collect();
    let table: String = shown.iter().map(|l| format!("{l}\n")).collect();
    let count = |itf: &str, c: &str| show_interface_counter(&table, itf, c);
    assert_eq!(count("up0", "rx packets"), Some(5), "{table}");
    assert_eq!(count("up0", "drops"), Some(1), "{table}");
    let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    assert_eq!(count("up0", "rx bytes"), Some(bytes), "{table}");
    assert_eq!(count("up1", "tx packets"), Some(4), "{table}");
    let errors = shown
        .iter()
        .find(|l| l.contains("dpdk-input"))
        .expect("a dpdk-input row");
    assert_eq!(
        errors.split_whitespace().collect::<Vec<_>>(),
        [
            "1",
            "dpdk-input",
            "multi-segment",
            "frame",
            "(larger",
            "than",
            "an",
            "mbuf)"
        ]
    );

    // `show hardware-interfaces up0`: the last block.
    let header = shown
        .iter()
        .rposition(|l| l.trim_start().starts_with("Name") && l.ends_with("Hardware"))
        .expect("show hardware-interfaces header");
    assert_eq!(
        shown[header].as_str(),
        "              Name                Idx   Link  Hardware"
    );
    assert_eq!(
        shown[header + 1].split_whitespace().collect::<Vec<_>>(),
        ["up0", "1", "up", "net_pcap0"]
    );
    assert_eq!(
        shown[header + 2].as_str(),
        "  Ethernet address 02:00:00:00:00:10"
    );
    assert!(
        shown[header + 3].starts_with("  port's own address ")
            && !shown[header + 3].ends_with("02:00:00:00:00:10"),
        "{table}"
    );

    let expected: Vec<Vec<u8>> = input_frames().iter().map(|f| routed(f)).collect();
    assert_eq!(read_pcap(&dir.join("out1.pcap")), Ok(expected));
}

fn podfwdctl(socket: &Path, command: &[&str], stdin: &str) -> std::process::Output {
    let mut child = spawn_piped(
        Command::new(bin("podfwdctl"))
            .arg("--socket")
            .arg(socket)
            .args(command),
    );
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write podfwdctl stdin");
    child.wait_with_output().expect("wait for podfwdctl")
}

#[test]
fn podfwdctl_runs_commands_over_the_control_socket() {
    use std::os::unix::fs::PermissionsExt;

    let _lock = dpdk_lock();
    let dir = scratch_dir("bringup_podfwdctl");
    let socket = dir.join("cli.sock");
    let startup = dir.join("startup.cli");
    std::fs::write(&startup, ROUTING).unwrap();
    let mut podfwd = Running::start(&dir, "podfwdctl", &both_ports_and(&startup));
    podfwd.wait_for(
        "the workers launched",
        |out| out.iter().any(|l| l.contains("launch worker lcore 1")),
        |_| {},
    );
    let mode = std::fs::metadata(&socket)
        .expect("socket exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // One command: its output on stdout, exit 0; polled until the 4 frames went out.
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let out = podfwdctl(&socket, &["show", "hardware-interfaces", "up1"], "");
        assert!(out.status.success(), "{out:?}");
        let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        assert!(
            lines.iter().all(|l| !l.starts_with("up0")),
            "only up1 asked for: {lines:?}"
        );
        if counter(&lines, "up1", "tx packets") == Some(4) {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "up1 never sent 4 packets: {lines:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A failing command: its sentence on stderr, non-zero exit.
    let out = podfwdctl(&socket, &["show", "hardware-interfaces", "tap9"], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: unknown interface 'tap9' (known: up0, up1)\n"
    );

    // Interactive: one reply per line, `quit` ends the session but not podfwd.
    let out = podfwdctl(
        &socket,
        &[],
        "show hardware-interfaces up0\nnonsense\nquit\nshow hardware-interfaces up1\n",
    );
    assert_eq!(out.status.code(), Some(1), "one command failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    assert_eq!(counter(&lines, "up0", "rx packets"), Some(4), "{stdout}");
    assert!(
        stdout.contains("error: unknown input 'nonsense'"),
        "{stdout}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("up1")),
        "nothing after quit runs: {stdout}"
    );

    podfwd.quit();
    assert!(!socket.exists(), "socket removed on exit");
    let expected: Vec<Vec<u8>> = input_frames().iter().map(|f| routed(f)).collect();
    assert_eq!(read_pcap(&dir.join("out1.pcap")), Ok(expected));
}

#[test]
fn podfwdctl_without_podfwd_names_the_socket() {
    let dir = scratch_dir("podfwdctl_no_server");
    let socket = dir.join("absent.sock");
    let out = podfwdctl(&socket, &["show", "hardware-interfaces"], "");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "podfwdctl: cannot connect to {}:",
            socket.display()
        )),
        "{stderr}"
    );
}
