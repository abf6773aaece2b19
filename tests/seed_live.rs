//! The seed, live (issue 7, section 3): a real TCP connection from a pod to a service,
//! through the real podfwd. podfwd runs the seed topology (examples/seed-node.conf) on
//! two net_tap ports; scripts/seed-netns moves their kernel sides into two network
//! namespaces: the pod 10.1.1.3, and the node's host stack with an HTTP server on
//! 10.20.0.2:8080. The pod fetches the service VIP 10.104.221.85:80, which podfwd
//! translates to the server, and back.
//!
//! Needs root (namespaces, taps); CI runs as root. Elsewhere it fails, saying why,
//! unless PODFWD_SKIP_ROOT_TESTS is set (a pass that ran nothing would read as a pass).
//! Nothing is configured in the root namespace, and everything created is removed at the
//! end, also when an assertion fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use podfwd_suite::{
    bin, dpdk_lock, file_prefix, nat44_sessions_per_thread, read_pcap, runtime_vectors,
    scratch_dir, stage_text, traced_packets, DpdkProcess,
};

const SEED_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/seed-node.conf");
const SEED_NETNS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/seed-netns");

const SERVICE: &str = "10.104.221.85";
const SERVER: &str = "10.20.0.2";
const SERVER_PORT: u16 = 8080;
const PODFWD_HOST_SIDE: &str = "172.30.1.1";
const PODFWD_HOST_SIDE_MAC: &str = "01:23:45:67:89:42";
const HOST_MAC: &str = "3e:1b:70:2d:4d:51";
const BIG_FILE_LEN: usize = 1 << 20;

/// The seed's path for the SYN: the taps receive in virtio-input, as VPP's do.
const SYN_PATH: [&str; 9] = [
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

/// Names unique to this run, so a demo or an earlier crashed run cannot collide.
struct Names {
    pod_ns: String,
    host_ns: String,
    /// Where podfwd runs, so that its kernel taps are never in the root namespace.
    stage_ns: String,
    pod_tap: String,
    host_tap: String,
}

/// The prefix of every namespace this test names.
const NS_PREFIX: &str = "pflive-";

impl Names {
    fn for_this_process() -> Names {
        // Kernel interface names hold at most 15 characters.
        let id = std::process::id() % 1_000_000;
        Names {
            pod_ns: format!("{NS_PREFIX}pod-{id}"),
            host_ns: format!("{NS_PREFIX}host-{id}"),
            stage_ns: format!("{NS_PREFIX}stage-{id}"),
            pod_tap: format!("pflp{id}"),
            host_tap: format!("pflh{id}"),
        }
    }

    /// scripts/seed-netns with these namespaces.
    fn seed_netns(&self, args: &[&str]) -> Output {
        Command::new(SEED_NETNS)
            .args(args)
            .env("PODFWD_NS_POD", &self.pod_ns)
            .env("PODFWD_NS_HOST", &self.host_ns)
            .env("PODFWD_NS_STAGE", &self.stage_ns)
            .output()
            .expect("run scripts/seed-netns")
    }
}

/// Removes what an earlier run that was killed without unwinding (Ctrl-C, a CI timeout)
/// left: every namespace of this test that seed-netns created, and what runs in them.
fn remove_stale_runs() {
    let Ok(entries) = std::fs::read_dir("/run/podfwd-seed-netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(ns) = name
            .strip_prefix("ns-")
            .filter(|ns| ns.starts_with(NS_PREFIX))
        else {
            continue;
        };
        // Each name alone: the other two point at namespaces that do not exist.
        let down = Command::new(SEED_NETNS)
            .arg("down")
            .env("PODFWD_NS_POD", ns)
            .env("PODFWD_NS_HOST", format!("{ns}-none"))
            .env("PODFWD_NS_STAGE", format!("{ns}-none"))
            .output()
            .expect("run scripts/seed-netns");
        assert_ran(&format!("scripts/seed-netns down ({ns}, stale)"), &down);
    }
}

/// A running podfwd plus the namespaces around it; dropping it tears everything down.
struct Live {
    /// Stopped (if still running) and its runtime directory removed when dropped, after
    /// [`Live`]'s own drop has taken the namespaces down.
    podfwd: DpdkProcess,
    stdin: Option<ChildStdin>,
    output: Arc<Mutex<Vec<String>>>,
    socket: PathBuf,
    names: Names,
    dir: PathBuf,
}

impl Live {
    /// podfwd with `lcores` (EAL's `--lcores`; lcore 0 is the main one, which sleeps).
    fn start(dir: &Path, names: Names, lcores: &str) -> Live {
        let prefix = file_prefix("seed-live");
        let socket = dir.join("cli.sock");
        // podfwd runs in the staging namespace: its kernel taps are born there.
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &names.stage_ns])
            .arg(bin("podfwd"));
        command
            .args([
                "--lcores",
                lcores,
                "--main-lcore",
                "0",
                "--no-pci",
                "--no-huge",
            ])
            .args(["--file-prefix", &prefix])
            .arg(format!("--vdev=net_tap0,iface={}", names.pod_tap))
            .arg(format!("--vdev=net_tap1,iface={}", names.host_tap))
            .arg("--")
            .args(["--iface", "tap2=net_tap0", "--iface", "tap0=net_tap1"])
            .args(["--exec", SEED_CONF])
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // `ip netns exec` execs podfwd: the process is podfwd's.
        let mut podfwd = DpdkProcess::spawn(&mut command, &prefix);
        let output = Arc::new(Mutex::new(Vec::new()));
        let stdout = podfwd.stdout.take().expect("piped stdout");
        let stderr = podfwd.stderr.take().expect("piped stderr");
        collect_lines(stdout, "", Arc::clone(&output));
        collect_lines(stderr, "stderr: ", Arc::clone(&output));
        let stdin = podfwd.stdin.take();
        Live {
            podfwd,
            stdin,
            output,
            socket,
            names,
            dir: dir.to_path_buf(),
        }
    }

    fn podfwd_output(&self) -> String {
        self.output.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Runs one CLI command through podfwdctl; a failed command fails the test.
    fn ctl(&self, command: &str) -> String {
        let out = self.try_ctl(command);
        assert!(
            out.status.success(),
            "podfwdctl {command}: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn try_ctl(&self, command: &str) -> Output {
        Command::new(bin("podfwdctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(command.split_whitespace())
            .output()
            .expect("run podfwdctl")
    }

    /// Waits until podfwd serves commands: by then its ports are started, which must
    /// happen before the taps leave the root namespace (the PMD brings them up by name).
    fn wait_until_serving(&mut self) {
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.podfwd.try_wait() {
                panic!("podfwd exited ({status}) before serving commands");
            }
            if self.socket.exists() && self.try_ctl("show interface").status.success() {
                return;
            }
            assert!(
                Instant::now() < give_up,
                "podfwd did not serve commands on {} within 60 s",
                self.socket.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn seed_netns(&self, args: &[&str]) -> Output {
        self.names.seed_netns(args)
    }

    fn in_namespace(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec {ns} {args:?}: {e}"))
    }

    /// Asks podfwd to quit, then SIGTERM, then SIGKILL, each after a bounded wait.
    fn stop_podfwd(&mut self) -> Option<ExitStatus> {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = writeln!(stdin, "quit").and_then(|()| stdin.flush());
        }
        self.stdin = None;
        self.podfwd
            .wait_at_most(Duration::from_secs(10))
            .or_else(|| self.podfwd.stop())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let status = self.stop_podfwd();
        // podfwd is gone, so are its taps; the namespaces hold only lo and the server.
        let down = self.seed_netns(&["down"]);
        if std::thread::panicking() {
            eprintln!(
                "podfwd exit: {status:?}\npodfwd output:\n{}",
                self.podfwd_output()
            );
        }
        if !down.status.success() {
            eprintln!(
                "scripts/seed-netns down failed ({}): {}",
                down.status,
                String::from_utf8_lossy(&down.stderr)
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ran(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn is_root() -> bool {
    // /proc/self belongs to the effective user of the process reading it.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Whether this test may run: as root, or else (when asked) skipped; a pass that ran
/// nothing would read as a pass, so not root fails unless PODFWD_SKIP_ROOT_TESTS is set.
fn root_or_skip() -> bool {
    if !is_root() {
        assert!(
            std::env::var_os("PODFWD_SKIP_ROOT_TESTS").is_some(),
            "needs root to create network namespaces and move taps (CI runs as root); \
             PODFWD_SKIP_ROOT_TESTS=1 skips it"
        );
        eprintln!("skipped (PODFWD_SKIP_ROOT_TESTS): needs root");
        return false;
    }
    true
}

/// podfwd on the seed node with `lcores`, its taps' kernel sides in the pod's and the
/// host's namespaces, and the host serving `www` on the server's port.
fn seed_up(dir: &Path, www: &Path, lcores: &str) -> Live {
    remove_stale_runs();
    let names = Names::for_this_process();
    let stage = names.seed_netns(&["stage"]);
    assert_ran("scripts/seed-netns stage", &stage);
    let mut live = Live::start(dir, names, lcores);
    live.wait_until_serving();
    let up = live.seed_netns(&["up", &live.names.pod_tap, &live.names.host_tap]);
    assert_ran("scripts/seed-netns up", &up);
    let serve = live.seed_netns(&["serve", www.to_str().unwrap(), &SERVER_PORT.to_string()]);
    assert_ran("scripts/seed-netns serve", &serve);
    live
}

#[test]
fn pod_reaches_service_in_host_stack_over_real_tcp() {
    if !root_or_skip() {
        return;
    }
    let _lock = dpdk_lock();
    let dir = scratch_dir("seed_live");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    let index = b"<html><body>podfwd seed: served from the host stack</body></html>\n";
    std::fs::write(www.join("index.html"), index).unwrap();
    let mut big = vec![0u8; BIG_FILE_LEN];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut big))
        .expect("read /dev/urandom");
    std::fs::write(www.join("big.bin"), &big).unwrap();

    // Main lcore 0 serves the console and sleeps; lcore 1 is the one busy worker.
    let live = seed_up(&dir, &www, "0@0,1@1");
    let (pod_ns, host_ns) = (live.names.pod_ns.clone(), live.names.host_ns.clone());

    // The host's ARP for podfwd is dynamic: podfwd must answer it, with its own MAC.
    // (The echo itself may go unanswered; only the resolution matters here.)
    let _ = live.in_namespace(&host_ns, &["ping", "-c", "1", "-W", "2", PODFWD_HOST_SIDE]);
    let neighbour = live.in_namespace(
        &host_ns,
        &[
            "ip",
            "neigh",
            "show",
            PODFWD_HOST_SIDE,
            "dev",
            &live.names.host_tap,
        ],
    );
    let neighbour = text(&neighbour.stdout);
    assert!(
        neighbour.contains(&format!("lladdr {PODFWD_HOST_SIDE_MAC} ")),
        "the host did not resolve {PODFWD_HOST_SIDE} to podfwd's MAC: {neighbour:?}"
    );

    // In the seed the host was long known; here one packet makes podfwd resolve
    // 172.30.1.2, so the first SYN is forwarded rather than held up by ARP.
    let _ = live.in_namespace(&pod_ns, &["ping", "-c", "1", "-W", "2", SERVER]);

    live.ctl("trace add virtio-input 50");

    let url = format!("http://{SERVICE}/");
    let page = live.in_namespace(&pod_ns, &["curl", "-sS", "--max-time", "10", &url]);
    assert_ran(&format!("curl {url} from the pod"), &page);
    assert_eq!(
        text(&page.stdout),
        text(index),
        "the page served through the VIP"
    );

    let fetched = dir.join("fetched.bin");
    let url = format!("http://{SERVICE}/big.bin");
    let transfer = live.in_namespace(
        &pod_ns,
        &[
            "curl",
            "-sS",
            "--max-time",
            "30",
            "-o",
            fetched.to_str().unwrap(),
            &url,
        ],
    );
    assert_ran(&format!("curl {url} from the pod"), &transfer);
    let got = std::fs::read(&fetched).expect("read the fetched file");
    assert_eq!(got.len(), big.len(), "length of the 1 MiB transfer");
    if let Some(at) = got.iter().zip(&big).position(|(a, b)| a != b) {
        panic!("the 1 MiB transfer differs from the served file at byte {at}");
    }

    // NAT: the static mapping's session, inside 10.20.0.2:8080, outside the VIP, and the
    // pod as the external host.
    let nat = live.ctl("show nat44 sessions detail");
    let lines: Vec<&str> = nat.lines().map(str::trim).collect();
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("{SERVER}: "))),
        "no NAT user {SERVER}:\n{nat}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("i2o {SERVER} proto tcp port {SERVER_PORT} "))),
        "no session inside {SERVER}:{SERVER_PORT}:\n{nat}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("o2i {SERVICE} proto tcp port 80 "))),
        "no session outside {SERVICE}:80:\n{nat}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("external host") && l.contains("10.1.1.3:")),
        "no session with the pod 10.1.1.3 as external host:\n{nat}"
    );

    // ACL: the reflective session that tap2's input ACL (acl 3, permit+reflect) created
    // for the pod's connection, before NAT, so toward the VIP.
    let acl = live.ctl("show acl-plugin sessions");
    assert!(
        acl.lines().any(|l| l.trim_start().starts_with("session ")
            && l.contains(" input proto 6 10.1.1.3:")
            && l.contains(&format!(" -> {SERVICE}:80 "))),
        "no reflective session 10.1.1.3 -> {SERVICE}:80 on input:\n{acl}"
    );

    // The console's ping, from podfwd's tap0 address to the host's side of the link
    // (its MAC learnt from the host's ARP above): every reply read, in VPP's lines.
    let capture = format!("podfwd-seed-live-{}.pcap", std::process::id());
    live.ctl(&format!(
        "pcap trace rx tx intfc tap0 max 100 file {capture}"
    ));
    let ping = live.ctl("ping 172.30.1.2 repeat 3 interval 0.2");
    live.ctl("pcap trace off");
    let capture = Path::new("/tmp").join(capture);
    let frames = read_pcap(&capture);
    let _ = std::fs::remove_file(&capture);
    // ICMP (byte 23) type (byte 34): the requests as they left tap0, the replies as
    // they came in.
    let icmp_types: Vec<u8> = frames
        .unwrap_or_default()
        .iter()
        .filter(|f| f.len() > 34 && f[23] == 1)
        .map(|f| f[34])
        .collect();
    assert_eq!(
        icmp_types,
        [8, 0, 8, 0, 8, 0],
        "pcap trace of the ping on tap0"
    );
    assert!(
        ping.starts_with("68 bytes from 172.30.1.2: icmp_seq=1 ttl=64 time=")
            && ping.contains("\n68 bytes from 172.30.1.2: icmp_seq=3 ttl=64 time=")
            && ping.ends_with("\nStatistics: 3 sent, 3 received, 0% packet loss\n"),
        "{ping}"
    );
    // Forgotten, the host is asked for by ARP, and a ping works once podfwd learnt it.
    live.ctl(&format!("set ip neighbor del tap0 172.30.1.2 {HOST_MAC}"));
    let unknown = live.try_ctl("ping 172.30.1.2 repeat 1");
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        !unknown.status.success()
            && said.contains("has no known MAC address yet; sent an ARP request for it"),
        "{said}"
    );
    let give_up = Instant::now() + Duration::from_secs(10);
    while !live.ctl("show ip neighbors tap0").contains(HOST_MAC) {
        assert!(
            Instant::now() < give_up,
            "podfwd never learnt 172.30.1.2 back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let again = live.ctl("ping 172.30.1.2 repeat 1 interval 0.2");
    assert!(
        again.ends_with("Statistics: 1 sent, 1 received, 0% packet loss\n"),
        "{again}"
    );
    let errors = live.ctl("show errors");
    assert!(
        errors
            .lines()
            .any(|l| l.trim_start().starts_with("4 ") && l.ends_with("echo replies received")),
        "ip4-local counts the 4 replies:\n{errors}"
    );
    // Everything that left tap0, the console's requests included, is in `show
    // interface`: as many as the port itself counted.
    let tx_packets = |text: &str| {
        text.lines()
            .find_map(|l| l.split("tx packets").nth(1))
            .and_then(|n| n.trim().parse::<u64>().ok())
    };
    let counted = live.ctl("show interface tap0");
    let port = live.ctl("show hardware-interfaces detail tap0");
    assert_eq!(tx_packets(&counted), tx_packets(&port), "{counted}\n{port}");

    // Trace: the pod's first SYN toward the VIP took the seed's path, with its values.
    let trace = live.ctl("show trace max 50");
    let packets = traced_packets(&trace);
    let Some((stages, syn)) = packets.iter().find(|(_, body)| {
        let ip4 = stage_text(body, "ip4-input");
        ip4.contains(&format!("TCP: 10.1.1.3 -> {SERVICE}\n")) && ip4.contains("flags 0x02 SYN,")
    }) else {
        panic!("no SYN from 10.1.1.3 to {SERVICE} in the trace:\n{trace}");
    };
    assert_eq!(stages, &SYN_PATH, "the SYN's stages:\n{syn}");
    // Linux's SYN carries 20 bytes of TCP options, as the spec's: 74 bytes on the wire.
    let input = stage_text(syn, "virtio-input");
    assert!(
        input.starts_with("  virtio: hw_if_index ")
            && input.ends_with(
                " next-index 4 vring 0 len 74\n    hdr: flags 0x00 gso_type 0x00 hdr_len 0 \
                 gso_size 0 csum_start 0 csum_offset 0 num_buffers 1\n"
            ),
        "{syn}"
    );
    let acl_in = stage_text(syn, "acl-plugin-in-ip4-fa");
    assert!(acl_in.contains("action: 2, match: acl 3 rule 0"), "{syn}");
    let nat_stage = stage_text(syn, "nat44-out2in");
    assert!(
        nat_stage.contains("session index ") && !nat_stage.contains("session index -1"),
        "{syn}"
    );
    let lookup = stage_text(syn, "ip4-lookup");
    assert!(
        lookup.contains(&format!("TCP: 10.1.1.3 -> {SERVER}\n")),
        "{syn}"
    );
    assert!(lookup.contains(&format!(" -> {SERVER_PORT}\n")), "{syn}");
    let acl_out = stage_text(syn, "acl-plugin-out-ip4-fa");
    assert!(acl_out.contains("action: 1, match: acl 2 rule 3"), "{syn}");
    let output = stage_text(syn, "tap0-output");
    assert!(
        output.contains(&format!("IP4: {PODFWD_HOST_SIDE_MAC} -> {HOST_MAC}\n")),
        "{syn}"
    );
    assert!(
        output.contains(&format!("TCP: 10.1.1.3 -> {SERVER}\n")),
        "{syn}"
    );
    assert!(output.contains("ttl 63,"), "{syn}");

    // Plain routing from the pod to the host's address (NAT forwarding, no mapping).
    let ping = live.in_namespace(&pod_ns, &["ping", "-c", "3", "-W", "2", SERVER]);
    assert_ran(&format!("ping {SERVER} from the pod"), &ping);
    assert!(
        text(&ping.stdout).contains("3 packets transmitted, 3 received"),
        "{}",
        text(&ping.stdout)
    );
}

/// Two workers, each polling its own queue of both taps (the kernel spreads connections
/// over a multi-queue tap by flow hash): connections from eight client pods to the
/// service all succeed, though some of their packets arrive at the worker that does not
/// hold their sessions and are handed to the one that does (`worker-handoff` in `show
/// runtime`), and both workers hold sessions.
#[test]
fn two_workers_hand_each_flow_to_its_sessions() {
    if !root_or_skip() {
        return;
    }
    let _lock = dpdk_lock();
    let dir = scratch_dir("seed_live_two_workers");
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    let index = b"<html><body>podfwd seed: two workers</body></html>\n";
    std::fs::write(www.join("index.html"), index).unwrap();

    // The main lcore sleeps beside worker lcore 1 on CPU 0; worker lcore 2 has CPU 1:
    // two busy pollers, each on its own CPU.
    let live = seed_up(&dir, &www, "0@0,1@0,2@1");
    let (pod_ns, host_ns) = (live.names.pod_ns.clone(), live.names.host_ns.clone());
    let _ = live.in_namespace(&host_ns, &["ping", "-c", "1", "-W", "2", PODFWD_HOST_SIDE]);
    let _ = live.in_namespace(&pod_ns, &["ping", "-c", "1", "-W", "2", SERVER]);

    // Eight client pods in the pod's namespace (one tap, one MAC), so that the flows
    // spread over both workers' sessions; podfwd routes them as it routes 10.1.1.3.
    let pod_tap = live.names.pod_tap.clone();
    // (Not 10.1.1.5: the seed's policy denies it.)
    let lasts = std::iter::once(3).chain(10..17);
    let clients: Vec<String> = lasts.map(|last| format!("10.1.1.{last}")).collect();
    for client in &clients[1..] {
        let add = [
            "ip",
            "addr",
            "add",
            &format!("{client}/32"),
            "dev",
            &pod_tap,
        ];
        assert_ran(
            &format!("add {client} to the pod"),
            &live.in_namespace(&pod_ns, &add),
        );
    }
    live.ctl("ip route add 10.1.1.0/24 via 10.1.1.3 tap2");
    let url = format!("http://{SERVICE}/");
    for fetch in 0..16 {
        let client = &clients[fetch % clients.len()];
        let args = [
            "curl",
            "-sS",
            "--max-time",
            "10",
            "--interface",
            client,
            &url,
        ];
        let page = live.in_namespace(&pod_ns, &args);
        assert_ran(&format!("curl {url} from {client} (fetch {fetch})"), &page);
        assert_eq!(
            text(&page.stdout),
            text(index),
            "fetch {fetch} through the VIP"
        );
    }
    let threads = live.ctl("show threads");
    assert_eq!(
        threads.lines().filter(|l| l.contains("podfwd_wk_")).count(),
        2,
        "two workers:\n{threads}"
    );
    // Every connection's packets met its sessions (the fetches above); some of them
    // got there by handoff: the kernel put them on the other worker's queue.
    let runtime = live.ctl("show runtime");
    let handed = runtime_vectors(&runtime, "worker-handoff");
    assert!(handed > 0, "no packet was handed off:\n{runtime}");
    let errors = live.ctl("show errors");
    assert!(!errors.contains("congestion drop"), "{errors}");
    // The clients' flows are spread: each worker holds some of the NAT44 sessions.
    let sessions = live.ctl("show nat44 sessions");
    let per_thread = nat44_sessions_per_thread(&sessions);
    assert_eq!(per_thread.len(), 2, "{sessions}");
    assert!(per_thread.iter().all(|n| *n > 0), "{sessions}");
}
