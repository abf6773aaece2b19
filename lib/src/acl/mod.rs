//! VPP's acl-plugin: stateless rules and reflective (stateful) sessions, per packet.
//!
//! The control plane ([`AclTable`]) edits ACLs and their attachment to interfaces and
//! compiles an immutable [`AclConfig`] the workers read; a worker's [`AclWorker`] decides
//! one packet at a time against it and its own session table. The two stages
//! `acl-plugin-in-ip4-fa` and `acl-plugin-out-ip4-fa` wrap this engine.
//!
//! A session's idle time counts in whole seconds: it lives its timeout from the end of
//! the second it was last heard in (`heard_stamp` in `session`), so that more packets in
//! that second change nothing in it and the flow cache may leave their refreshes out.
//!
//! Rule lookup is by bit vectors, with a tuple-space search for rules past their memory
//! budget (see `classifier`), not a scan of the rules.

mod classifier;
mod config;
mod engine;
mod hash;
mod packet;
mod rule;
mod session;
mod trace;

pub use classifier::{Classifier, Fields as ClassifierFields};
pub use config::{Acl, AclConfig, AclTable, DEFAULT_MAX_SESSIONS};
pub use engine::{
    show_session, show_sessions, AclCounters, AclDrop, AclInError, AclOutError, AclVerdict,
    AclWorker, ACTION_SESSION_HIT, SHOW_SESSIONS_MAX, TRACE_BITS_SESSION_HIT,
};
pub use packet::AclPacketInfo;
pub use rule::{AclAction, AclRule, Direction, PortRange};
#[cfg(test)]
pub(crate) use session::heard_stamp;
pub use session::{SessionHandle, SessionSummary, SessionTimeouts, TimeoutKind};
pub use trace::AclTrace;

#[cfg(test)]
mod tests;
