//! Helpers shared by the end-to-end tests in `tests/`: where the binaries are, and a
//! lock so that only one DPDK process runs at a time (two busy pollers per CPU collapse).

use std::path::PathBuf;

/// Path of a binary built by this workspace (`podfwd`, `podfwdctl`, `podfwd-gen`).
pub fn bin(name: &str) -> PathBuf {
    PathBuf::from(env!("PODFWD_BIN_DIR")).join(name)
}
