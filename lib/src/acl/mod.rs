//! VPP's acl-plugin: stateless rules and reflective (stateful) sessions, per packet.
//!
//! The control plane ([`AclTable`]) edits ACLs and their attachment to interfaces and
//! compiles an immutable configuration the workers read; a worker evaluates one packet at a
//! time against it and its own session table. The two stages `acl-plugin-in-ip4-fa` and
//! `acl-plugin-out-ip4-fa` wrap this engine.

mod rule;

pub use rule::{AclAction, AclRule, Direction, PortRange};
