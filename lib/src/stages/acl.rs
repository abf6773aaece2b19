//! acl-plugin-in-ip4-fa and acl-plugin-out-ip4-fa: the ACL engine ([`crate::acl`]) at its
//! two places in the sequence, after ip4-input on the receiving interface and after
//! ip4-rewrite on the transmitting one.
//!
//! An interface without ACLs costs one table read per burst (input) or per run of packets
//! to the same interface (output), and no parsing.

use super::Context;
use crate::acl::AclInError;
use crate::acl::{AclConfig, AclTrace, AclWorker, Direction};
use crate::buffer::PacketBuf;
use crate::burst::{Burst, Disposition};
use crate::nat44::{Nat44Worker, NatDirection};
use crate::node::DropReason;
use crate::trace::TraceRecord;
use crate::types::IfIndex;

/// VPP's next indices out of the ACL nodes, so that the trace reads like the spec.
mod next {
    pub const DROP: u32 = 0;
    /// acl-out: on to `<interface>-output`; acl-in: on to nat44-in2out or ip4-lookup.
    pub const DEFAULT: u32 = 1;
    /// acl-in: on to nat44-out2in.
    pub const NAT44_OUT2IN: u32 = 2;
}

/// Runs the input ACLs of each packet's receiving interface over the live packets.
pub fn process_input<B: PacketBuf, const TRACE: bool>(
    acl: &mut AclWorker,
    nat: &Nat44Worker,
    burst: &mut Burst,
    pkts: &mut [B],
    cx: &mut Context<'_>,
) {
    let config = &*cx.snapshot.acl;
    // A burst comes from one port: an interface without ACLs costs one look per burst.
    let Some(burst_rx_if) = burst.get(0).map(|m| m.rx_if) else {
        return;
    };
    if config.interface(burst_rx_if, Direction::Input).is_none() {
        return;
    }
    // Two warm-up passes ask for every packet's cache bucket, then for the session it
    // names, so that the burst's cache misses overlap; the real pass finds its lines in
    // the cache. The first parses each packet and hashes its key once for all three.
    for (i, pkt) in pkts.iter().enumerate().take(burst.len()) {
        let Some(meta) = burst.get(i) else { break };
        let l3 = (meta.disposition() == Disposition::Continue)
            .then(|| pkt.data().get(usize::from(meta.l3_offset)..).unwrap_or(&[]));
        let hash = acl.warm_up(config, i, meta.rx_if, Direction::Input, l3, cx.prefetch);
        burst.set_warm_hash(i, hash);
    }
    warm_sessions(acl, config, burst, Direction::Input, cx);
    for (i, pkt) in pkts.iter().enumerate().take(burst.len()) {
        if burst.disposition(i) != Disposition::Continue {
            continue;
        }
        let Some(meta) = burst.get(i).copied() else {
            break;
        };
        let sw_if = meta.rx_if;
        if sw_if != burst_rx_if && config.interface(sw_if, Direction::Input).is_none() {
            continue;
        }
        let hash = meta.flow.warm_hash;
        let Some(verdict) =
            acl.classify_parsed(config, sw_if, Direction::Input, i, hash, cx.now_ns)
        else {
            // ip4-input has checked the header; only a corrupted view gets here.
            burst.set_disposition(i, Disposition::Drop(DropReason::of(AclInError::AclDeny)));
            continue;
        };
        if let Some(reason) = verdict.drop_reason(Direction::Input) {
            burst.set_disposition(i, Disposition::Drop(reason));
        }
        if TRACE && meta.traced {
            let l3 = pkt.data().get(usize::from(meta.l3_offset)..).unwrap_or(&[]);
            let next_index = if !verdict.permit {
                next::DROP
            } else if nat.classify(&cx.snapshot.nat, sw_if, l3) == Some(NatDirection::Out2in) {
                next::NAT44_OUT2IN
            } else {
                next::DEFAULT
            };
            if let Some(info) = acl.parsed(i) {
                let record = AclTrace::new(sw_if, Direction::Input, next_index, &verdict, info);
                cx.trace(&meta, || TraceRecord::Acl(record));
            }
        }
    }
}

/// The second warm-up pass: by now the first pass's buckets have arrived. A packet whose
/// bucket names no session is likely a new flow's: if the rules give it a session, the
/// session indexes its reply's key too, in another bucket, which is asked for here.
fn warm_sessions(
    acl: &AclWorker,
    config: &AclConfig,
    burst: &Burst,
    direction: Direction,
    cx: &Context<'_>,
) {
    for (i, meta) in burst.meta().iter().enumerate() {
        let hash = meta.flow.warm_hash;
        if hash == 0 || acl.prefetch_session(hash, cx.prefetch) {
            continue;
        }
        let sw_if = match (direction, burst.disposition(i)) {
            (Direction::Input, _) => meta.rx_if,
            (Direction::Output, Disposition::Output(sw_if)) => sw_if,
            (Direction::Output, _) => continue,
        };
        acl.prefetch_reply_bucket(config, sw_if, direction, i, cx.prefetch);
    }
}

/// Whether the interface a run of leaving packets takes has output ACLs (or sessions):
/// packets leave in runs by the same interface, so each run looks it up once.
#[derive(Default)]
struct RunCache {
    last: Option<(IfIndex, bool)>,
}

impl RunCache {
    fn on(&mut self, config: &AclConfig, sw_if: IfIndex) -> bool {
        match self.last {
            Some((index, has_acl)) if index == sw_if => has_acl,
            _ => {
                let has_acl = config.interface(sw_if, Direction::Output).is_some();
                self.last = Some((sw_if, has_acl));
                has_acl
            }
        }
    }
}

/// Runs the output ACLs of each packet's transmitting interface over the packets
/// leaving.
pub fn process_output<B: PacketBuf, const TRACE: bool>(
    acl: &mut AclWorker,
    burst: &mut Burst,
    pkts: &mut [B],
    cx: &mut Context<'_>,
) {
    let config = &*cx.snapshot.acl;
    // As in acl-in: the burst's buckets, then its sessions, are asked for first.
    // Interfaces without ACLs or sessions cost one look per run of packets, no parsing.
    let mut output_acls = RunCache::default();
    for (i, pkt) in pkts.iter().enumerate().take(burst.len()) {
        let (sw_if, l3) = match burst.disposition(i) {
            Disposition::Output(sw_if) if output_acls.on(config, sw_if) => {
                let l3_offset = burst.get(i).map_or(0, |m| usize::from(m.l3_offset));
                (sw_if, Some(pkt.data().get(l3_offset..).unwrap_or(&[])))
            }
            _ => (IfIndex(0), None),
        };
        let hash = acl.warm_up(config, i, sw_if, Direction::Output, l3, cx.prefetch);
        burst.set_warm_hash(i, hash);
    }
    warm_sessions(acl, config, burst, Direction::Output, cx);
    let mut output_acls = RunCache::default();
    // The slots the first pass wrote: no more.
    for i in 0..burst.len().min(pkts.len()) {
        let Disposition::Output(sw_if) = burst.disposition(i) else {
            continue;
        };
        if !output_acls.on(config, sw_if) {
            continue;
        }
        let Some(meta) = burst.get(i).copied() else {
            break;
        };
        let hash = meta.flow.warm_hash;
        let verdict =
            match acl.classify_parsed(config, sw_if, Direction::Output, i, hash, cx.now_ns) {
                Some(verdict) => {
                    if TRACE && meta.traced {
                        let next_index = if verdict.permit {
                            next::DEFAULT
                        } else {
                            next::DROP
                        };
                        if let Some(info) = acl.parsed(i) {
                            let record =
                                AclTrace::new(sw_if, Direction::Output, next_index, &verdict, info);
                            cx.trace(&meta, || TraceRecord::Acl(record));
                        }
                    }
                    verdict.drop_reason(Direction::Output)
                }
                None => Some(DropReason::of(crate::acl::AclOutError::AclDeny)),
            };
        if let Some(reason) = verdict {
            burst.set_disposition(i, Disposition::Drop(reason));
        }
    }
}
