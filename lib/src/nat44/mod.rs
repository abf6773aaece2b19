//! NAT44 as VPP's endpoint-dependent NAT does it for Kubernetes services
//! (contiv-dataplane.md §5): static and load-balanced mappings (VIP -> endpoint), reverse
//! translation of replies, dynamic SNAT on output-feature interfaces, self-twice-nat.

pub mod types;

pub use types::{
    IdentityMapping, LbLocal, LbStaticMapping, NatInterfaceRole, NatProtocol, NatTimeouts,
    StaticMapping, TwiceNat,
};
