//! Helpers shared by the end-to-end tests in `tests/`: where the binaries are, a lock
//! so that only one DPDK process runs at a time (two busy pollers per CPU collapse),
//! unique EAL file prefixes, and a minimal pcap reader/writer.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

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

/// Removes the EAL runtime directory of a prefix (`/var/run/dpdk/<prefix>`).
pub fn remove_runtime_dir(prefix: &str) {
    let _ = std::fs::remove_dir_all(Path::new("/var/run/dpdk").join(prefix));
}

/// A fresh scratch directory under the target dir, named after the test.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("PODFWD_BIN_DIR"))
        .join("test-scratch")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const LINKTYPE_ETHERNET: u32 = 1;
const PCAP_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// Writes an Ethernet pcap (little-endian, microsecond timestamps, all zero).
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&PCAP_MAGIC_MICROS.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&4u16.to_le_bytes());
    bytes.extend_from_slice(&0i32.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&65535u32.to_le_bytes());
    bytes.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for frame in frames {
        let len = frame.len() as u32;
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(frame);
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
