//! Raw bindings to DPDK 22.11 (EAL, lcores, cycles, mempool, mbuf, ring, ethdev,
//! telemetry) and the `podfwd_*` shim over its static inline functions.
//!
//! This crate declares and links, nothing more; the safe wrappers live in the app's
//! `dpdk` module.
#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case)]
#![allow(dead_code, clippy::all, rustdoc::all)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// The version of the libdpdk this crate was built against (pkg-config's).
pub const DPDK_VERSION: &str = env!("PODFWD_DPDK_VERSION");
