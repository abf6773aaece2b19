//! The DPDK side of podfwd.
#![deny(unsafe_code)]

pub mod gen;
