//! The DPDK side of podfwd: EAL, ports and lcores (in [`dpdk`], the only module that calls
//! DPDK's C API), the worker poll loop, and the console that serves commands.
#![deny(unsafe_code)]

pub mod capture;
pub mod console;
pub mod control;
#[allow(unsafe_code)]
pub mod dpdk;
pub mod forward;
pub mod gen;
pub mod hardware;
pub mod logging;
pub mod options;
pub mod ping;
pub mod pipeline;
