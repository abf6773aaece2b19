//! The app's only door to DPDK: every `unsafe` call of the app lives in this module.
//!
//! Each submodule wraps one part of the C API in safe functions that return
//! [`DpdkError`] on failure. The rest of the app is `#![deny(unsafe_code)]`.

pub mod eal;
pub mod hugealloc;
pub mod lcore;
pub mod mbuf;
pub mod memory;
pub mod mempool;
pub mod port;
pub mod ring;
pub mod signal;
pub mod socket;

use std::ffi::CStr;
use std::fmt;

/// A failed DPDK call: which call, on what, and DPDK's own error string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpdkError {
    pub call: &'static str,
    /// What the call was about (`port 0 (net_pcap0) queue 1`), empty if nothing.
    pub subject: String,
    /// A positive errno value.
    pub errno: i32,
}

impl DpdkError {
    /// An error whose code is a negative return value (ethdev style) or `rte_errno`.
    pub fn new(call: &'static str, subject: impl Into<String>, errno: i32) -> DpdkError {
        DpdkError {
            call,
            subject: subject.into(),
            errno: errno.abs(),
        }
    }

    /// An error reported through `rte_errno` (EAL, mempool).
    pub fn from_rte_errno(call: &'static str, subject: impl Into<String>) -> DpdkError {
        DpdkError::new(call, subject, rte_errno())
    }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Some failures leave rte_errno at 0: "Success" would read as nonsense.
        let why = match self.errno {
            0 => "no error code given".to_string(),
            errno => strerror(errno),
        };
        if self.subject.is_empty() {
            write!(f, "{} failed: {why}", self.call)
        } else {
            write!(f, "{} failed on {}: {why}", self.call, self.subject)
        }
    }
}

impl std::error::Error for DpdkError {}

/// DPDK's text for an errno value (also knows DPDK's own codes above `__ELASTERROR`).
pub fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated
    // string for any input, valid until the next call on this thread; it is copied here.
    let text = unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(errno)) };
    format!("{} (errno {errno})", text.to_string_lossy())
}

/// The calling thread's `rte_errno`.
pub fn rte_errno() -> i32 {
    // SAFETY: reads a thread-local integer; no preconditions.
    unsafe { dpdk_sys::podfwd_errno() }
}

/// The time-stamp counter, for drain timers and cycle counts: inline where the CPU has
/// the instruction (a worker reads it several times a burst, for `show runtime`), else
/// DPDK's `rte_rdtsc` through the shim.
#[inline(always)]
pub fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: rdtsc has no preconditions.
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: rdtsc has no preconditions.
    unsafe {
        dpdk_sys::podfwd_rdtsc()
    }
}

/// [`prefetch`] as the library's [`podfwd::pipeline::PrefetchHint`]: the type the app's
/// workers are built with, so that the flow cache's prefetches inline.
pub struct CpuPrefetch;

impl podfwd::pipeline::PrefetchHint for CpuPrefetch {
    #[inline(always)]
    fn prefetch(address: *const u8) {
        prefetch(address);
    }
}

/// Asks for the cache line at `address` (DPDK's `rte_prefetch0`): the prefetch the
/// pipeline's warm-up passes use, which safe Rust cannot express.
#[inline(always)]
pub fn prefetch(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults and never reads into the program,
    // whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// TSC ticks per second, as measured by the EAL (0 before EAL init).
pub fn tsc_hz() -> u64 {
    // SAFETY: reads a value the EAL computed at init; no preconditions.
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}

/// Copies a C string owned by DPDK into a `String` (empty for NULL).
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid for this call.
unsafe fn c_string(ptr: *const std::os::raw::c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_without_errno_says_so() {
        let error = DpdkError::new("rte_eal_init", "", 0);
        assert_eq!(
            error.to_string(),
            "rte_eal_init failed: no error code given"
        );
        let error = DpdkError::new("rte_eth_dev_start", "port 1", libc::EIO);
        assert!(error
            .to_string()
            .starts_with("rte_eth_dev_start failed on port 1: "));
        assert!(!error.to_string().contains("no error code"));
    }
}
