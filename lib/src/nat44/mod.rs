//! NAT44 as VPP's endpoint-dependent NAT does it for Kubernetes services
//! (contiv-dataplane.md §5): static and load-balanced mappings (VIP -> endpoint), reverse
//! translation of replies, dynamic SNAT on output-feature interfaces, self-twice-nat.

pub mod types;

pub use types::{
    IdentityMapping, LbLocal, LbStaticMapping, NatInterfaceRole, NatProtocol, NatTimeouts,
    SessionSelector, StaticMapping, TwiceNat,
};
pub mod config;
pub mod engine;
pub mod fragments;
pub mod ports;
pub mod rewrite;
pub mod session;
pub mod show;

pub use config::{Nat44Config, Nat44Table};
pub use engine::{
    In2outError, In2outOutcome, In2outOutputError, In2outTrace, Nat44Counters, Nat44Worker,
    Nat44WorkerSizes, NatDirection, NatVerdict, Out2inError, Out2inOutcome, Out2inTrace, Warmed,
};
pub use rewrite::Side;

#[cfg(test)]
mod tests;
