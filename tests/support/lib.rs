//! Helpers shared by the end-to-end tests in `tests/`: where the binaries are, a lock
//! so that only one DPDK process runs at a time (two busy pollers per CPU collapse),
//! unique EAL file prefixes, and a minimal pcap reader/writer.

use std::io::{self, Read};
use std::ops::{Deref, DerefMut};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Path of a binary built by this workspace (`podfwd`, `podfwdctl`, `podfwd-gen`).
pub fn bin(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("PODFWD_BIN_DIR")).join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace` before the tests (scripts/test does)",
        path.display()
    );
    path
}

/// Held while a DPDK process of this test run is alive; released on drop, or by the
/// kernel when the test process dies (an abstract unix socket, so nothing goes stale).
#[derive(Debug)]
pub struct DpdkLock {
    _listener: UnixListener,
}

/// Waits until no other test (in any process) runs DPDK, then holds the lock.
pub fn dpdk_lock() -> DpdkLock {
    let addr =
        SocketAddr::from_abstract_name(b"podfwd-dpdk-test-lock").expect("abstract socket name");
    loop {
        match UnixListener::bind_addr(&addr) {
            Ok(listener) => {
                return DpdkLock {
                    _listener: listener,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("cannot take the DPDK test lock: {e}"),
        }
    }
}

/// An EAL `--file-prefix` no other run uses, so leftovers never collide.
pub fn file_prefix(test: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "pft-{test}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// EAL options for `podfwd-gen` in a test: its worker on CPU 0, its main lcore (asleep
/// at the console) on CPU 1, no hugepages, `memory_mb` of memory, its own prefix.
pub fn generator_eal(prefix: &str, memory_mb: u32) -> Vec<String> {
    let memory = memory_mb.to_string();
    [
        "-l",
        "0,1",
        "--main-lcore",
        "1",
        "--no-pci",
        "--no-huge",
        "-m",
        &memory,
        "--file-prefix",
        prefix,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Removes the EAL runtime directory of a prefix (`/var/run/dpdk/<prefix>`).
pub fn remove_runtime_dir(prefix: &str) {
    let _ = std::fs::remove_dir_all(Path::new("/var/run/dpdk").join(prefix));
}

/// Removes the EAL runtime directory of a prefix when dropped, also when the test
/// panics: for a test that runs EAL in its own process. Declare it after the
/// [`DpdkLock`], so that it drops first.
#[derive(Debug)]
pub struct RuntimeDir {
    prefix: String,
}

impl RuntimeDir {
    pub fn new(prefix: &str) -> RuntimeDir {
        RuntimeDir {
            prefix: prefix.to_owned(),
        }
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        remove_runtime_dir(&self.prefix);
    }
}

/// How long [`DpdkProcess::wait_with_output`] waits for a process to end by itself: far
/// past any test's run (the longest, the generator's, last seconds), so that a hung
/// process fails its test instead of stalling the suite until CI's limit.
pub const WAIT_LIMIT: Duration = Duration::from_secs(180);

/// How long a DPDK process gets to stop on its stop signal before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A DPDK process a test spawned (podfwd, podfwd-gen, dpdk-testpmd) with the EAL
/// `--file-prefix` `prefix`. Dropping it, as a failing test unwinds too, stops the
/// process if it still runs (its stop signal, SIGTERM unless [`DpdkProcess::stopped_by`]
/// says otherwise, then SIGKILL after a bounded wait), reaps it and removes its EAL
/// runtime directory: nothing keeps busy-polling once the test is over. Declare it after
/// the [`DpdkLock`], so that it drops (and the process is gone) before the lock is
/// released. It derefs to the [`Child`].
#[derive(Debug)]
pub struct DpdkProcess {
    child: Child,
    prefix: String,
    stop_signal: &'static str,
}

impl DpdkProcess {
    /// Spawns `command`, whose EAL options carry `--file-prefix prefix`.
    pub fn spawn(command: &mut Command, prefix: &str) -> DpdkProcess {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        DpdkProcess {
            child,
            prefix: prefix.to_owned(),
            stop_signal: "TERM",
        }
    }

    /// The signal (a `kill` name: `INT`, `TERM`) that asks this process to stop.
    pub fn stopped_by(mut self, signal: &'static str) -> DpdkProcess {
        self.stop_signal = signal;
        self
    }

    /// Sends `signal` (a `kill` name: `INT`, `TERM`) to the process, which must not have
    /// been reaped yet.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {}", self.child.id());
    }

    /// Waits up to `limit` for the process to exit: its status, or None if it still runs.
    pub fn wait_at_most(&mut self, limit: Duration) -> Option<ExitStatus> {
        let give_up = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => return None,
            }
        }
    }

    /// Stops the process if it still runs: its stop signal, a bounded wait, then SIGKILL;
    /// reaps it. Its exit status (None if it could not be had).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .arg(format!("-{}", self.stop_signal))
            .arg(self.child.id().to_string())
            .status();
        if let Some(status) = self.wait_at_most(STOP_GRACE) {
            return Some(status);
        }
        let _ = self.child.kill();
        self.child.wait().ok()
    }

    /// As [`Child::wait_with_output`]: closes stdin, reads whatever of stdout and stderr
    /// is piped (and not taken) to the end, and waits for the exit, at most
    /// [`WAIT_LIMIT`]: a process still running then is killed, and its stderr ends with a
    /// line that says so (the caller's check of the status then fails with the output).
    pub fn wait_with_output(&mut self) -> io::Result<Output> {
        drop(self.child.stdin.take());
        fn read_all(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                bytes
            })
        }
        let stdout = self.child.stdout.take().map(read_all);
        let stderr = self.child.stderr.take().map(read_all);
        let overran = self.wait_at_most(WAIT_LIMIT).is_none();
        if overran {
            let _ = self.child.kill();
        }
        let status = self.child.wait()?;
        let joined = |reader: Option<JoinHandle<Vec<u8>>>| {
            reader.and_then(|r| r.join().ok()).unwrap_or_default()
        };
        let mut stderr = joined(stderr);
        if overran {
            stderr.extend_from_slice(
                format!("\n[test support: killed after {WAIT_LIMIT:?} without exiting]\n")
                    .as_bytes(),
            );
        }
        Ok(Output {
            status,
            stdout: joined(stdout),
            stderr,
        })
    }
}

impl Deref for DpdkProcess {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.child
    }
}

impl DerefMut for DpdkProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for DpdkProcess {
    fn drop(&mut self) {
        self.stop();
        remove_runtime_dir(&self.prefix);
    }
}

/// A fresh scratch directory named after the test, under `/tmp/podfwd-tests-<H>`, `H`
/// a hash of this checkout's target dir (two checkouts' suites do not share it). Not
/// under the target dir: the tests put unix sockets here, whose paths must fit
/// `sun_path` (107 bytes), and a checkout may sit deep in the file system. Removed when
/// the test passes; kept, with its logs and pcaps, when it fails.
pub fn scratch_dir(test: &str) -> ScratchDir {
    // FNV-1a: stable across runs and toolchains, unlike std's hasher.
    let hash = env!("PODFWD_BIN_DIR")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let dir = std::env::temp_dir()
        .join(format!("podfwd-tests-{:08x}", hash as u32))
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    ScratchDir(dir)
}

/// [`scratch_dir`]'s directory; declared before the processes that use it, it is
/// dropped after them.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl Deref for ScratchDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for a look: {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
        // The suite's parent goes with its last test's directory.
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const LINKTYPE_ETHERNET: u32 = 1;
const PCAP_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// The file header of an Ethernet pcap (little-endian, microsecond timestamps).
pub fn pcap_file_header() -> Vec<u8> {
    let mut bytes = Vec::with_capacity(PCAP_HEADER_LEN);
    bytes.extend_from_slice(&PCAP_MAGIC_MICROS.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&4u16.to_le_bytes());
    bytes.extend_from_slice(&0i32.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&65535u32.to_le_bytes());
    bytes.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    bytes
}

/// One pcap record (timestamp zero) holding `frame` whole.
pub fn pcap_record(frame: &[u8]) -> Vec<u8> {
    let len = frame.len() as u32;
    let mut bytes = Vec::with_capacity(RECORD_HEADER_LEN + frame.len());
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(frame);
    bytes
}

/// Writes an Ethernet pcap (little-endian, microsecond timestamps, all zero).
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut bytes = pcap_file_header();
    for frame in frames {
        bytes.extend_from_slice(&pcap_record(frame));
    }
    std::fs::write(path, bytes).expect("write pcap");
}

/// Reads the frames of a little-endian Ethernet pcap (micro- or nanosecond flavour).
pub fn read_pcap(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    match word(0) {
        Some(PCAP_MAGIC_MICROS | PCAP_MAGIC_NANOS) => {}
        other => {
            return Err(format!(
                "{}: not a little-endian pcap (magic {other:x?})",
                path.display()
            ))
        }
    }
    if word(20) != Some(LINKTYPE_ETHERNET) {
        return Err(format!("{}: link type is not Ethernet", path.display()));
    }
    let mut frames = Vec::new();
    let mut at = PCAP_HEADER_LEN;
    while at < bytes.len() {
        let captured = word(at + 8)
            .ok_or_else(|| format!("{}: truncated record header at {at}", path.display()))?
            as usize;
        let start = at + RECORD_HEADER_LEN;
        let frame = bytes
            .get(start..start + captured)
            .ok_or_else(|| format!("{}: truncated record at {at}", path.display()))?;
        frames.push(frame.to_vec());
        at = start + captured;
    }
    Ok(frames)
}

/// Bytes from a hex dump; whitespace is ignored.
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    assert_eq!(s.len() % 2, 0, "odd number of hex digits");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// The IPv4 header checksum of `header` (its checksum field taken as zero), computed
/// from scratch: the one's complement of the one's-complement sum of its 16-bit words.
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for (i, pair) in header.chunks(2).enumerate() {
        if i == 5 {
            continue;
        }
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `show trace` split into packets: (stage names in order, the packet's whole text).
/// A stage line is `HH:MM:SS:micros: node-name`, not indented.
pub fn traced_packets(trace: &str) -> Vec<(Vec<String>, String)> {
    let mut packets: Vec<(Vec<String>, String)> = Vec::new();
    for line in trace.lines() {
        if line.starts_with("Packet ") {
            packets.push((Vec::new(), String::new()));
            continue;
        }
        let Some((stages, body)) = packets.last_mut() else {
            continue;
        };
        body.push_str(line);
        body.push('\n');
        if let Some((stamp, node)) = line.rsplit_once(": ") {
            let is_stamp = !stamp.is_empty()
                && !stamp.starts_with(' ')
                && stamp.chars().all(|c| c.is_ascii_digit() || c == ':');
            if is_stamp && !node.contains(' ') {
                stages.push(node.to_owned());
            }
        }
    }
    packets
}

/// The text of one stage of a traced packet (from [`traced_packets`]): the lines indented
/// below its `HH:MM:SS:micros: node` line; empty if the packet has no such stage.
pub fn stage_text<'a>(packet: &'a str, node: &str) -> &'a str {
    let header = format!(": {node}\n");
    let Some(at) = packet.find(&header) else {
        return "";
    };
    let rest = &packet[at + header.len()..];
    let end = rest
        .lines()
        .take_while(|l| l.starts_with(' '))
        .map(|l| l.len() + 1)
        .sum::<usize>();
    &rest[..end]
}

/// The vectors of `node` in `show runtime`, summed over the worker threads.
pub fn runtime_vectors(runtime: &str, node: &str) -> u64 {
    runtime
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(node))
        .filter_map(|l| l.split_whitespace().nth(3)?.parse::<u64>().ok())
        .sum()
}

/// Each worker thread's session count in `show nat44 sessions` (`... podfwd_wk_N: M
/// sessions`), in thread order.
pub fn nat44_sessions_per_thread(sessions: &str) -> Vec<u64> {
    sessions
        .lines()
        .filter(|l| l.contains(" podfwd_wk_"))
        .filter_map(|l| l.split(": ").nth(1)?.split(' ').next()?.parse().ok())
        .collect()
}

/// The block of `interface` in `show interface` (VPP's table): its first row and the
/// continuation rows below it, one counter each; zero counters have no row.
pub fn show_interface_block<'a>(output: &'a str, interface: &str) -> Option<Vec<&'a str>> {
    let mut lines = output.lines();
    let first = lines.find(|l| l.split_whitespace().next() == Some(interface))?;
    let mut block = vec![first];
    block.extend(lines.take_while(|l| l.starts_with(' ')));
    Some(block)
}

/// A counter of `show interface` (VPP's table): the row `counter` of `interface`.
pub fn show_interface_counter(output: &str, interface: &str, counter: &str) -> Option<u64> {
    let mut current: Option<&str> = None;
    for line in output.lines() {
        if !line.starts_with(' ') {
            current = line.split_whitespace().next();
        }
        if current != Some(interface) {
            continue;
        }
        // The counter's name, then its count, end the row (first row or continuation).
        if let Some((_, value)) = line.split_once(&format!(" {counter} ")) {
            if let Ok(v) = value.trim().parse() {
                return Some(v);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcap_round_trip() {
        let dir = scratch_dir("pcap_round_trip");
        let frames = vec![vec![1u8; 60], vec![2u8; 1514], vec![]];
        let path = dir.join("x.pcap");
        write_pcap(&path, &frames);
        assert_eq!(read_pcap(&path), Ok(frames));
    }

    #[test]
    fn ipv4_checksum_of_a_known_header() {
        // The spec's SYN header, checksum 0xe946.
        let header = hex("4500003c5eb4400040060000 0a0101030a68dd55");
        assert_eq!(ipv4_header_checksum(&header), 0xe946);
    }

    #[test]
    fn trace_parser_reads_stages_and_stage_text() {
        let trace = "\
------------------- Start of thread 1 podfwd_wk_0 -------------------
Packet 1

02:54:30:091783: virtio-input
  virtio: hw_if_index 6 next-index 4 vring 0 len 74
    hdr: flags 0x00 gso_type 0x00 hdr_len 0 gso_size 0 csum_start 0 csum_offset 0 num_buffers 1
02:54:30:091788: ethernet-input
  IP4: 00:00:00:00:00:02 -> 02:fe:16:3f:5f:0f

Packet 2

02:54:30:091945: virtio-input
  virtio: hw_if_index 2 next-index 4 vring 0 len 42
";
        let packets = traced_packets(trace);
        assert_eq!(packets.len(), 2);
        assert_eq!(packets[0].0, ["virtio-input", "ethernet-input"]);
        assert_eq!(packets[1].0, ["virtio-input"]);
        assert!(stage_text(&packets[0].1, "virtio-input").ends_with("num_buffers 1\n"));
        assert_eq!(
            stage_text(&packets[0].1, "ethernet-input"),
            "  IP4: 00:00:00:00:00:02 -> 02:fe:16:3f:5f:0f\n"
        );
        assert_eq!(stage_text(&packets[0].1, "ip4-input"), "");
    }

    #[test]
    fn interface_block_ends_at_the_next_interface() {
        let table = "\
              Name               Idx    State  MTU (L3/IP4/IP6/MPLS)     Counter          Count
up0                               1      up          9000/0/0/0     rx packets                     4
                                                                    rx bytes                     366
up1                               2      up          9000/0/0/0     tx packets                     4
                                                                    drops                          1
up2                               3     down         9000/0/0/0
";
        assert_eq!(
            show_interface_block(table, "up0").map(|b| b.len()),
            Some(2),
            "{table}"
        );
        let up1 = show_interface_block(table, "up1").unwrap();
        assert!(up1[1].contains("drops"), "{up1:?}");
        assert_eq!(show_interface_block(table, "up2").map(|b| b.len()), Some(1));
        assert_eq!(show_interface_block(table, "up3"), None);
        assert_eq!(show_interface_counter(table, "up1", "drops"), Some(1));
    }

    #[test]
    fn pcap_rejects_truncated_record() {
        let dir = scratch_dir("pcap_truncated");
        let path = dir.join("x.pcap");
        write_pcap(&path, &[vec![7u8; 60]]);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 1);
        std::fs::write(&path, bytes).unwrap();
        assert!(read_pcap(&path).unwrap_err().contains("truncated record"));
    }
}
