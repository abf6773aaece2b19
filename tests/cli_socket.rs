//! The CLI through the control socket against the real binary (issue 4): every command
//! family runs through `podfwdctl`, changes take effect while the workers run, and bad
//! lines fail with their sentence and exit 1 without changing anything.
//!
//! So that the counters, the runtime and the trace have something to show (and to clear),
//! tap0 receives [`FRAMES`] frames as podfwd starts, traced by the startup file's `trace
//! add`, and dropped by ethernet-input; then nothing more.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use podfwd_suite::{
    bin, dpdk_lock, file_prefix, read_pcap, scratch_dir, show_interface_block,
    show_interface_counter, traced_packets, write_pcap, DpdkProcess,
};

const SEED_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed-node.conf");

/// The frames tap0 receives.
const FRAMES: u64 = 3;

/// The startup file's `pcap trace` file, in /tmp.
fn capture_name() -> String {
    format!("podfwd-cli-socket-{}.pcap", std::process::id())
}

/// `show trace` of the one worker with nothing traced.
const EMPTY_TRACE: &str = "------------------- Start of thread 1 podfwd_wk_0 -------------------\n\
                           No packets in trace buffer\n";

/// A frame to another host's MAC with an unknown EtherType: ethernet-input drops it.
fn stray_frame() -> Vec<u8> {
    let mut frame = vec![0u8; 60];
    frame[..14].copy_from_slice(&[2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 0x98, 0x88, 0xb5]);
    frame
}

struct Podfwd {
    child: DpdkProcess,
    socket: std::path::PathBuf,
}

impl Podfwd {
    fn start(dir: &Path) -> Podfwd {
        let prefix = file_prefix("cli-socket");
        let socket = dir.join("cli.sock");
        let empty = dir.join("empty.pcap");
        write_pcap(&empty, &[]);
        let frames = dir.join("frames.pcap");
        write_pcap(&frames, &vec![stray_frame(); FRAMES as usize]);
        // The startup file's `trace add` is handed to the worker before it polls.
        let startup = dir.join("startup.cli");
        std::fs::write(
            &startup,
            format!(
                "exec {SEED_CONF}\ntrace add pcap-input 10\n\
                 pcap trace rx drop intfc tap0 max 100 file {}\n",
                capture_name()
            ),
        )
        .unwrap();
        let mut command = Command::new(bin("podfwd"));
        command
            .args(["-l", "0,1", "--main-lcore", "0", "--no-pci", "--no-huge"])
            .args(["--file-prefix", &prefix])
            .arg(format!(
                "--vdev=net_pcap0,rx_pcap={},tx_pcap={}",
                empty.display(),
                dir.join("out0.pcap").display()
            ))
            .arg(format!(
                "--vdev=net_pcap1,rx_pcap={},tx_pcap={}",
                frames.display(),
                dir.join("out1.pcap").display()
            ))
            .arg("--")
            .args(["--iface", "tap2=net_pcap0", "--iface", "tap0=net_pcap1"])
            .arg("--exec")
            .arg(&startup)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Dropped with `Podfwd` (at the end, or by a failed assertion): podfwd stops.
        let child = DpdkProcess::spawn(&mut command, &prefix);
        let mut podfwd = Podfwd { child, socket };
        let give_up = Instant::now() + Duration::from_secs(60);
        while !(podfwd.socket.exists() && podfwd.ctl_raw("show version").status.success()) {
            if let Ok(Some(status)) = podfwd.child.try_wait() {
                panic!("podfwd exited ({status}) before serving commands");
            }
            assert!(Instant::now() < give_up, "podfwd never served its socket");
            std::thread::sleep(Duration::from_millis(100));
        }
        podfwd
    }

    fn ctl_raw(&self, line: &str) -> Output {
        Command::new(bin("podfwdctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(line.split_whitespace())
            .output()
            .expect("run podfwdctl")
    }

    /// A command that must succeed; its output.
    fn ok(&self, line: &str) -> String {
        let out = self.ctl_raw(line);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{line}: {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// A command that must fail with exit 1; its error text.
    fn fails(&self, line: &str) -> String {
        let out = self.ctl_raw(line);
        assert_eq!(out.status.code(), Some(1), "{line} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// The rows of `show errors`, or of `show runtime`'s one worker, below the column header
/// (`show runtime` has its thread's lines above it: `Thread 1 ...`, `Time ...`, rates).
fn table_rows(table: &str) -> Vec<&str> {
    let skip = if table.starts_with("Thread ") { 4 } else { 1 };
    table.lines().skip(skip).collect()
}

#[test]
fn every_command_family_works_through_the_socket() {
    let _lock = dpdk_lock();
    let dir = scratch_dir("cli_socket");
    let podfwd = Podfwd::start(&dir);

    // tap0's frames, received and dropped as the worker starts (counted as it goes).
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let out = podfwd.ok("show interface tap0");
        let count = |counter| show_interface_counter(&out, "tap0", counter);
        if (count("rx packets"), count("drops")) == (Some(FRAMES), Some(FRAMES)) {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "tap0 never received and dropped its {FRAMES} frames:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The startup file's capture: each frame as received, then as dropped, in bursts
    // (the port gives them all at once: rx records first, then the burst's drops).
    let capture = Path::new("/tmp").join(capture_name());
    assert_eq!(
        podfwd.ok("pcap trace off"),
        format!(
            "Write {} packets to {}, and stop capture...\n",
            2 * FRAMES,
            capture.display()
        )
    );
    let captured = read_pcap(&capture);
    let _ = std::fs::remove_file(&capture);
    assert_eq!(captured, Ok(vec![stray_frame(); 2 * FRAMES as usize]));
    assert_eq!(
        podfwd.fails("pcap trace off"),
        "error: pcap trace: no capture is on\n"
    );

    // podfwd's log as it went to stderr, kept for VPP's `show logging`: date, time,
    // level, class, message.
    let logging = podfwd.ok("show logging");
    assert!(
        logging.lines().any(|l| l.len() > 24
            && l[24..].starts_with("info       podfwd         launch worker lcore 1: ")),
        "{logging}"
    );

    // Shows of what the startup file configured.
    assert!(podfwd.ok("show interface").contains("tap0"));
    assert!(podfwd.ok("sh int address").contains("172.30.1.1/24"));
    assert!(podfwd
        .ok("show hardware-interfaces tap0")
        .contains("net_pcap1"));
    // brief: the header and one line per interface (tap2, tap0).
    let brief = podfwd.ok("show hardware-interfaces brief");
    assert_eq!(brief.lines().count(), 3, "{brief}");
    assert!(
        brief.lines().nth(2).is_some_and(|l| l.starts_with("tap0 ")),
        "{brief}"
    );
    assert!(podfwd
        .ok("show hardware-interfaces detail tap0")
        .contains("Ethernet address"));
    assert!(podfwd.ok("show ip fib").contains("10.20.0.2/32"));
    assert!(podfwd.ok("show ip neighbors").contains("10.1.1.3"));
    let acl3 = podfwd.ok("show acl-plugin acl index 3");
    assert!(acl3.contains("permit+reflect"), "{acl3}");
    assert!(acl3.contains("acl-index 3 hits 0"), "{acl3}");
    assert!(podfwd
        .ok("show acl-plugin interface tap0")
        .contains("output acl(s): 2"));
    let sessions = podfwd.ok("show acl-plugin sessions");
    assert!(sessions.contains("Sessions total: 0"), "{sessions}");
    assert!(
        sessions.trim_end().ends_with("Reclassify sessions: 0"),
        "VPP's last line:\n{sessions}"
    );
    for (line, error) in [
        (
            "show acl-plugin sessions thread 2 index 0",
            "no thread 2: the workers are threads 1..=1",
        ),
        (
            "show acl-plugin sessions thread 1 index 0",
            "no session 0 on thread 1",
        ),
    ] {
        let e = podfwd.fails(line);
        assert!(e.contains(error), "{line}: {e}");
    }
    assert_eq!(podfwd.ok("clear acl-plugin sessions"), "");
    assert!(podfwd.ok("show nat44 interfaces").contains("tap0 in out"));
    assert!(podfwd
        .ok("show nat44 static mappings")
        .contains("external 10.104.221.85:80"));
    assert!(podfwd.ok("show nat44 addresses").contains("10.1.1.254"));
    assert_eq!(
        podfwd.ok("show nat44 sessions detail"),
        "NAT44 sessions:\n-------- thread 1 podfwd_wk_0: 0 sessions --------\n"
    );
    assert!(podfwd
        .ok("show nat44 summary")
        .contains("total sessions: 0\n"));
    assert!(podfwd.ok("show version").contains("DPDK 22.11"));
    // VPP's rows: the version, and the EAL's arguments as podfwd was started.
    let dpdk = podfwd.ok("show dpdk version");
    assert!(
        dpdk.starts_with("DPDK Version:             DPDK 22.11"),
        "{dpdk}"
    );
    assert!(
        dpdk.contains(
            "\nDPDK EAL init args:       -l 0,1 --main-lcore 0 --no-pci --no-huge --file-prefix "
        ),
        "{dpdk}"
    );
    assert!(podfwd.ok("show version verbose").ends_with(&dpdk));
    // VPP's columns; both threads have stored their LWP and run SCHED_OTHER.
    let threads = podfwd.ok("show threads");
    let rows: Vec<Vec<&str>> = threads
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{threads}");
    assert!(threads.starts_with("ID     Name                Type        LWP     Sched Policy"));
    assert_eq!(rows[1][..2], ["0", "podfwd_main"], "{threads}");
    assert_eq!(rows[2][..3], ["1", "podfwd_wk_0", "workers"], "{threads}");
    for (row, lwp_col) in [(&rows[1], 2), (&rows[2], 3)] {
        assert!(row[lwp_col].parse::<u32>().is_ok(), "{threads}");
        assert_eq!(row[lwp_col + 1..lwp_col + 3], ["other", "(0)"], "{threads}");
    }
    assert_eq!(
        podfwd.ok("show interface rx-placement"),
        "Thread 1 (podfwd_wk_0):\n  node pcap-input:\n    tap2 queue 0 (polling)\n    tap0 queue 0 (polling)\n"
    );
    let memory = podfwd.ok("show memory");
    assert!(memory.starts_with("  table heap: "), "{memory}");
    assert!(
        memory.contains("\n  DPDK heap socket 0: total "),
        "{memory}"
    );
    assert!(memory.contains("\n  process: resident "), "{memory}");
    assert!(!memory.contains("resident unknown"), "{memory}");
    // One pool, whose counts add up to its size.
    let buffers = podfwd.ok("show buffers");
    let rows: Vec<Vec<&str>> = buffers
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        buffers.starts_with("Pool Name            Index NUMA  Size  Data Size  Total"),
        "{buffers}"
    );
    assert_eq!(rows.len(), 2, "{buffers}");
    assert_eq!(rows[1][..2], ["podfwd_mbufs", "0"], "{buffers}");
    let n: Vec<u64> = rows[1][2..].iter().map(|v| v.parse().unwrap()).collect();
    let [_numa, _size, data_size, total, avail, cached, used] = n[..] else {
        panic!("seven numbers after the name: {buffers}");
    };
    assert_eq!(data_size, 2048, "{buffers}");
    assert_eq!(avail + cached + used, total, "{buffers}");
    // The counters of tap0's frames, to be cleared below.
    let errors = podfwd.ok("show errors");
    assert!(
        table_rows(&errors).iter().any(|r| {
            r.split_whitespace().next() == Some(&FRAMES.to_string()) && r.contains("ethernet-input")
        }),
        "{errors}"
    );
    let runtime = podfwd.ok("show runtime");
    assert!(
        runtime.starts_with("Thread 1 podfwd_wk_0 (lcore "),
        "{runtime}"
    );
    assert!(runtime.contains("\n  vector rates in "), "{runtime}");
    assert!(runtime.contains("   State   "), "{runtime}");
    let ethernet_input: Vec<&str> = table_rows(&runtime)
        .into_iter()
        .find(|r| r.starts_with("ethernet-input "))
        .unwrap_or_else(|| panic!("no ethernet-input row:\n{runtime}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        ethernet_input.get(3),
        Some(&FRAMES.to_string().as_str()),
        "Vectors: {runtime}"
    );
    let trace = podfwd.ok("show trace");
    assert!(
        trace
            .starts_with("------------------- Start of thread 1 podfwd_wk_0 -------------------\n"),
        "{trace}"
    );
    let traced = traced_packets(&trace);
    assert_eq!(traced.len(), FRAMES as usize, "{trace}");
    for (stages, _) in &traced {
        assert!(
            stages
                .iter()
                .map(String::as_str)
                .take(2)
                .eq(["pcap-input", "ethernet-input"]),
            "{trace}"
        );
    }
    assert!(podfwd.ok("help").contains("show ip fib"));

    // Live changes, seen by the next show.
    // A FIB entry (or a route not installed) is listed under its prefix, first on its line.
    let lists = |fib: &str, prefix: &str| {
        fib.lines()
            .any(|l| l.split_whitespace().next() == Some(prefix))
    };
    podfwd.ok("ip route add 10.50.0.0/16 via 172.30.1.2 tap0");
    assert!(podfwd
        .ok("show ip fib 10.50.0.0/16")
        .contains("10.50.0.0/16"));
    let fib = podfwd.ok("show ip fib");
    assert!(lists(&fib, "10.50.0.0/16"), "{fib}");
    podfwd.ok("ip route del 10.50.0.0/16");
    let fib = podfwd.ok("show ip fib");
    assert!(!lists(&fib, "10.50.0.0/16"), "route deleted:\n{fib}");
    assert!(
        lists(&fib, "10.20.0.2/32"),
        "the seed's routes stay:\n{fib}"
    );
    podfwd.ok("set interface mtu 1400 tap0");
    assert!(podfwd.ok("show interface tap0").contains("1400/0/0/0"));
    // Frames above one mbuf (2048 B) are dropped on receive: such an MTU is refused.
    let refused = podfwd.fails("set interface mtu 9000 tap0");
    assert!(
        refused.contains("the largest MTU here is 2034"),
        "{refused}"
    );
    assert!(podfwd.ok("show interface tap0").contains("1400/0/0/0"));
    podfwd.ok("set ip neighbor tap0 172.30.1.9 02:00:00:00:00:09");
    assert!(podfwd.ok("show ip neighbors").contains("172.30.1.9"));
    podfwd.ok("set ip neighbor del tap0 172.30.1.9 02:00:00:00:00:09");
    let neighbors = podfwd.ok("show ip neighbors");
    assert!(
        !neighbors.contains("172.30.1.9"),
        "neighbour deleted:\n{neighbors}"
    );
    assert!(
        neighbors.contains("10.1.1.3"),
        "the seed's stays:\n{neighbors}"
    );
    assert!(podfwd
        .ok("set acl-plugin acl permit src 10.9.0.0/16")
        .contains("ACL index:4"));
    let acl4 = podfwd.ok("show acl-plugin acl index 4");
    assert!(acl4.starts_with("acl-index 4 count 1 "), "{acl4}");
    podfwd.ok("delete acl-plugin acl index 4");
    podfwd.fails("show acl-plugin acl index 4");
    let acls = podfwd.ok("show acl-plugin acl");
    assert!(!acls.contains("acl-index 4 "), "ACL 4 deleted:\n{acls}");
    assert!(acls.contains("acl-index 3 "), "{acls}");
    // The address goes to the pool, the part before the twice-NAT pool's.
    let pool = |show: &str| -> Vec<String> {
        show.lines()
            .take_while(|l| !l.starts_with("NAT44 twice-nat pool addresses:"))
            .map(str::to_owned)
            .collect()
    };
    let before = podfwd.ok("show nat44 addresses");
    assert!(!pool(&before).iter().any(|l| l == "192.0.2.10"), "{before}");
    podfwd.ok("nat44 add address 192.0.2.10");
    let after = podfwd.ok("show nat44 addresses");
    assert!(pool(&after).iter().any(|l| l == "192.0.2.10"), "{after}");
    // That the timeouts take effect, gen_vhost's runs through podfwd show (sessions
    // expire); here, that the setting is the one shown.
    assert!(podfwd.ok("show nat timeouts").starts_with(
        "udp timeout: 300sec
"
    ));
    podfwd.ok("set nat timeout udp 30");
    assert!(podfwd.ok("show nat timeouts").starts_with(
        "udp timeout: 30sec
"
    ));
    // `clear trace` forgets the packets traced and the ones still to trace.
    podfwd.ok("trace add pcap-input 5");
    podfwd.ok("clear trace");
    assert_eq!(podfwd.ok("show trace"), EMPTY_TRACE);
    podfwd.ok("clear errors");
    let errors = podfwd.ok("show errors");
    assert_eq!(table_rows(&errors), Vec::<&str>::new(), "{errors}");
    podfwd.ok("clear runtime");
    let runtime = podfwd.ok("show runtime");
    assert_eq!(table_rows(&runtime), Vec::<&str>::new(), "{runtime}");
    podfwd.ok("clear interfaces");
    let interfaces = podfwd.ok("show interface");
    for itf in ["tap0", "tap2"] {
        // A zero counter has no row: the interface's line alone.
        assert_eq!(
            show_interface_block(&interfaces, itf).map(|b| b.len()),
            Some(1),
            "{itf}:\n{interfaces}"
        );
    }
    let file = dir.join("more.conf");
    std::fs::write(&file, "# a comment\nip route add 10.60.0.0/16 drop\n").unwrap();
    podfwd.ok(&format!("exec {}", file.display()));
    assert!(podfwd.ok("show ip fib 10.60.0.0/16").contains("drop"));

    // Bad lines: one sentence, exit 1, nothing changed.
    let fib_before = podfwd.ok("show ip fib");
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
            "has 5 octets",
        ),
        ("ip route del 10.99.0.0/16", "10.99.0.0/16"),
        ("delete acl-plugin acl index 3", "applied"),
    ] {
        let e = podfwd.fails(line);
        assert!(e.contains(error), "{line}: {e}");
    }
    assert_eq!(podfwd.ok("show ip fib"), fib_before);

    // A line that is not UTF-8 gets an error reply; the session goes on.
    {
        use std::io::{BufReader, Write};
        let stream = std::os::unix::net::UnixStream::connect(&podfwd.socket).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut replies = BufReader::new(stream);
        writer.write_all(b"show \xff\nshow version\n").unwrap();
        let reply = podfwd_app::control::read_reply(&mut replies).unwrap();
        assert_eq!(
            reply,
            Err("input line is not UTF-8 text (byte 5)".to_string())
        );
        let reply = podfwd_app::control::read_reply(&mut replies).unwrap();
        assert!(reply.unwrap().starts_with("podfwd v"));
    }

    // `quit` on the socket, in any spelling the CLI takes, ends that session only.
    for quit in ["quit", "qu", "exit"] {
        assert_eq!(podfwd.ok(quit), "", "{quit}");
        assert!(
            podfwd.ok("show version").starts_with("podfwd v"),
            "after {quit}"
        );
    }
}

/// A ping runs beside the console: other clients are served while it waits, a second
/// ping is refused while it runs, and when the client that asked for it goes (Ctrl-C on
/// podfwdctl) it stops, rather than after its 100 requests' 100 s.
#[test]
fn a_ping_ends_when_its_client_goes() {
    let _lock = dpdk_lock();
    let dir = scratch_dir("cli_socket_ping");
    let podfwd = Podfwd::start(&dir);
    // A source address for the echo requests to the seed's pod (a static neighbour).
    podfwd.ok("set interface ip address tap2 10.1.1.1/24");
    // 100 requests, one a second, from podfwdctl; given 1.5 s to start.
    let long_ping = || {
        let ping = Command::new(bin("podfwdctl"))
            .arg("--socket")
            .arg(&podfwd.socket)
            .args(["ping", "10.1.1.3", "repeat", "100", "interval", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run podfwdctl");
        std::thread::sleep(Duration::from_millis(1500));
        ping
    };
    let mut ping = long_ping();
    let asked = Instant::now();
    assert!(podfwd.ok("show version").starts_with("podfwd v"));
    assert!(
        asked.elapsed() < Duration::from_secs(30),
        "show version waited {:?} for the ping",
        asked.elapsed()
    );
    let refused = podfwd.fails("ping 10.1.1.3 repeat 1");
    assert!(refused.contains("another ping is running"), "{refused}");
    ping.kill().unwrap();
    ping.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = podfwd.ctl_raw("ping 10.1.1.3 repeat 1 interval 0.1");
        let error = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => break,
            Some(1) if error.contains("another ping is running") => {
                assert!(
                    Instant::now() < deadline,
                    "the first ping ran on without its client"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => panic!("ping: {}: {error}", out.status),
        }
    }

    // Ctrl-C on podfwdctl interrupts the ping, which reports what it saw, as ping(8).
    let ping = long_ping();
    let kill = Command::new("kill")
        .args(["-INT", &ping.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = ping.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("Statistics: ") && stdout.contains(" of 100 requests"),
        "{stdout}"
    );
}
