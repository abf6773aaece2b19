//! podfwd's dataplane, in safe Rust and without DPDK.
//!
//! Packets arrive as [`buffer::PacketBuf`] handles (an `rte_mbuf` view in the app, a
//! plain byte buffer in tests) and run through one fixed sequence of stages named after
//! their VPP nodes; see `../shared/DESIGN.md` and [`node::NodeId`].
#![forbid(unsafe_code)]

pub mod acl;
pub mod buffer;
pub mod burst;
pub mod cli;
pub mod config;
pub mod control;
pub mod counters;
pub mod fib;
mod flow_cache;
pub mod nat44;
pub mod node;
pub mod packet;
pub mod pipeline;
pub mod rand;
pub mod runtime;
#[doc(hidden)]
pub mod spec_frames;
pub mod stages;
pub mod trace;
pub mod types;
