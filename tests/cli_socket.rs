//! The CLI through the control socket against the real binary (issue 4): every command
//! family runs through `podfwdctl`, changes take effect while the workers run, and bad
//! lines fail with their sentence and exit 1 without changing anything.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use podfwd_suite::{bin, dpdk_lock, file_prefix, remove_runtime_dir, scratch_dir, write_pcap};

const SEED_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed-node.conf");

struct Podfwd {
    child: Child,
    socket: std::path::PathBuf,
    prefix: String,
}

impl Podfwd {
    fn start(dir: &Path) -> Podfwd {
        let prefix = file_prefix("cli-socket");
        let socket = dir.join("cli.sock");
        let empty = dir.join("empty.pcap");
        write_pcap(&empty, &[]);
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
                empty.display(),
                dir.join("out1.pcap").display()
            ))
            .arg("--")
            .args(["--iface", "tap2=net_pcap0", "--iface", "tap0=net_pcap1"])
            .args(["--exec", SEED_CONF])
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().expect("spawn podfwd");
        let mut podfwd = Podfwd {
            child,
            socket,
            prefix,
        };
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

impl Drop for Podfwd {
    fn drop(&mut self) {
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = stdin.write_all(b"quit\n");
        }
        let give_up = Instant::now() + Duration::from_secs(20);
        while Instant::now() < give_up {
            if let Ok(Some(_)) = self.child.try_wait() {
                remove_runtime_dir(&self.prefix);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        remove_runtime_dir(&self.prefix);
    }
}

#[test]
fn every_command_family_works_through_the_socket() {
    let _lock = dpdk_lock();
    let dir = scratch_dir("cli_socket");
    let podfwd = Podfwd::start(&dir);

    // Shows of what the startup file configured.
    assert!(podfwd.ok("show interface").contains("tap0"));
    assert!(podfwd.ok("sh int address").contains("172.30.1.1/24"));
    assert!(podfwd
        .ok("show hardware-interfaces tap0")
        .contains("net_pcap1"));
    assert!(podfwd.ok("show ip fib").contains("10.20.0.2/32"));
    assert!(podfwd.ok("show ip neighbors").contains("10.1.1.3"));
    let acl3 = podfwd.ok("show acl-plugin acl index 3");
    assert!(acl3.contains("permit+reflect"), "{acl3}");
    assert!(acl3.contains("acl-index 3 hits 0"), "{acl3}");
    assert!(podfwd
        .ok("show acl-plugin interface tap0")
        .contains("output acl(s): 2"));
    assert!(podfwd
        .ok("show acl-plugin sessions")
        .contains("Sessions total: 0"));
    assert!(podfwd.ok("show nat44 interfaces").contains("tap0 in out"));
    assert!(podfwd
        .ok("show nat44 static mappings")
        .contains("external 10.104.221.85:80"));
    assert!(podfwd.ok("show nat44 addresses").contains("10.1.1.254"));
    podfwd.ok("show nat44 sessions detail");
    assert!(podfwd
        .ok("show nat44 summary")
        .contains("sessions: 0 (limit"));
    assert!(podfwd.ok("show version").contains("DPDK 22.11"));
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
    podfwd.ok("show errors");
    let runtime = podfwd.ok("show runtime");
    assert!(runtime.contains("   State   "), "{runtime}");
    let trace = podfwd.ok("show trace");
    assert!(
        trace
            .starts_with("------------------- Start of thread 1 podfwd_wk_0 -------------------\n"),
        "{trace}"
    );
    assert!(podfwd.ok("help").contains("show ip fib"));

    // Live changes, seen by the next show.
    podfwd.ok("ip route add 10.50.0.0/16 via 172.30.1.2 tap0");
    assert!(podfwd
        .ok("show ip fib 10.50.0.0/16")
        .contains("10.50.0.0/16"));
    podfwd.ok("ip route del 10.50.0.0/16");
    podfwd.ok("set interface mtu 1400 tap0");
    assert!(podfwd.ok("show interface tap0").contains("1400/0/0/0"));
    podfwd.ok("set ip neighbor tap0 172.30.1.9 02:00:00:00:00:09");
    assert!(podfwd.ok("show ip neighbors").contains("172.30.1.9"));
    podfwd.ok("set ip neighbor del tap0 172.30.1.9 02:00:00:00:00:09");
    assert!(podfwd
        .ok("set acl-plugin acl permit src 10.9.0.0/16")
        .contains("ACL index:4"));
    podfwd.ok("delete acl-plugin acl index 4");
    podfwd.ok("nat44 add address 192.0.2.10");
    podfwd.ok("set nat timeout udp 30");
    podfwd.ok("trace add pcap-input 5");
    podfwd.ok("clear trace");
    podfwd.ok("show trace");
    podfwd.ok("clear errors");
    podfwd.ok("clear runtime");
    podfwd.ok("clear interfaces");
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
