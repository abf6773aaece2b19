//! `podfwd-gen`'s logic, in safe Rust over plain byte buffers: which flows to send
//! ([`flows`]), how their frames look ([`frame`]), how the endpoint side answers
//! ([`reflect`]), what a correct translation looks like ([`check`]), latency
//! ([`latency`]), pacing ([`rate`]), the console grammar ([`console`]) and the result
//! object ([`report`], written with [`json`]).
//!
//! The binary (`src/bin/podfwd-gen.rs`) only moves mbufs between these and the ports.

pub mod check;
pub mod checksum;
pub mod console;
pub mod flows;
pub mod frame;
pub mod json;
pub mod latency;
pub mod options;
pub mod rate;
pub mod reflect;
pub mod report;
pub mod worker;
