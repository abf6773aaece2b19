//! The NAT44 nodes: nat44-classify picks out2in or in2out for each packet by its
//! receiving interface's role; nat44-out2in and nat44-in2out (with the slow-path trace)
//! translate at ingress; nat44-in2out-output source-NATs packets leaving by an
//! output-feature interface, after acl-out. The engine is [`crate::nat44`].

use super::Context;
use crate::buffer::PacketBuf;
use crate::burst::{Burst, Disposition};
use crate::config::Snapshot;
use crate::fib::Adjacency;
use crate::nat44::engine::next;
use crate::nat44::{
    In2outTrace, Nat44Worker, NatDirection, NatVerdict, Out2inError, Out2inTrace, Warmed,
};
use crate::node::{DropReason, NodeError};
use crate::packet::ipv4::field as ip4;
use crate::stages::icmp_error::IcmpErrorKind;
use crate::trace::TraceRecord;
use crate::types::IfIndex;
use std::net::Ipv4Addr;

/// NAT44 keeps time in seconds.
fn seconds(now_ns: u64) -> u32 {
    (now_ns / 1_000_000_000) as u32
}

fn apply<E: NodeError>(burst: &mut Burst, i: usize, verdict: NatVerdict<E>) {
    if let NatVerdict::Drop(e) = verdict {
        burst.set_disposition(i, Disposition::Drop(DropReason::of(e)));
    }
}

/// nat44-classify: records each live packet's NAT44 node; returns how many go to
/// out2in and to in2out.
pub fn classify<B: PacketBuf>(
    nat: &Nat44Worker,
    burst: &mut Burst,
    pkts: &[B],
    cx: &Context<'_>,
) -> (usize, usize) {
    let config = &*cx.snapshot.nat;
    let (mut out2in, mut in2out) = (0, 0);
    for (i, pkt) in pkts.iter().enumerate().take(burst.len()) {
        if burst.disposition(i) != Disposition::Continue {
            continue;
        }
        let Some(meta) = burst.meta_mut(i) else {
            break;
        };
        let l3 = pkt.data().get(usize::from(meta.l3_offset)..).unwrap_or(&[]);
        meta.flow.nat = nat.classify(config, meta.rx_if, l3);
        match meta.flow.nat {
            Some(NatDirection::Out2in) => out2in += 1,
            Some(NatDirection::In2out) => in2out += 1,
            None => {}
        }
    }
    (out2in, in2out)
}

/// Whether the IPv4 packet `l3` is addressed to one of `rx`'s own addresses: without a
/// translation, nat44-out2in lets it through to ip4-local rather than drop it, so that
/// the node answers on its outside interfaces with forwarding off.
fn aimed_at_interface(snapshot: &Snapshot, rx: IfIndex, l3: &[u8]) -> bool {
    let Some(dst) = l3.get(ip4::DST).and_then(|d| <[u8; 4]>::try_from(d).ok()) else {
        return false;
    };
    let dst = Ipv4Addr::from(dst);
    snapshot
        .interface(rx)
        .is_some_and(|itf| itf.addresses.iter().any(|a| a.addr == dst))
}

/// nat44-out2in or nat44-in2out, over the packets classify sent to `direction`.
pub fn process<B: PacketBuf, const TRACE: bool>(
    direction: NatDirection,
    nat: &mut Nat44Worker,
    burst: &mut Burst,
    pkts: &mut [B],
    cx: &mut Context<'_>,
) {
    let config = &*cx.snapshot.nat;
    let now = seconds(cx.now_ns);
    // For nat44-in2out: whether a destination routes out of an outside interface.
    let fib = &cx.snapshot.fib;
    let routes_out = |dst: Ipv4Addr| match fib.adjacency(fib.lookup(dst)) {
        Adjacency::Glean { tx_if, .. } | Adjacency::Rewrite { tx_if, .. } => {
            config.role(*tx_if).outside
        }
        _ => false,
    };
    // Warm-up passes ask for every packet's cache bucket, then for the session it names
    // (and, for a new flow from outside, for what its session's creation will need), so
    // that the burst's cache misses overlap; the translating pass then finds its lines
    // in the cache.
    for (i, pkt) in pkts.iter().enumerate().take(burst.len()) {
        let Some(meta) = burst.get(i) else { break };
        let hash =
            if meta.flow.nat == Some(direction) && meta.disposition() == Disposition::Continue {
                let l3 = pkt.data().get(usize::from(meta.l3_offset)..).unwrap_or(&[]);
                nat.prefetch_bucket(i, direction, l3, cx.prefetch)
                    .unwrap_or(0)
            } else {
                0
            };
        burst.set_warm_hash(i, hash);
    }
    // A packet from outside without a session is most likely a new flow's: what its
    // session's creation will wait for is read ahead too.
    let mut new_flows = false;
    for i in 0..burst.len().min(pkts.len()) {
        let Some(meta) = burst.get(i) else { break };
        let hash = meta.flow.warm_hash;
        let new_flow = hash != 0 && !nat.prefetch_session(direction, hash, cx.prefetch);
        if direction == NatDirection::Out2in {
            nat.note_new_out2in(config, i, new_flow, hash, cx.prefetch);
            new_flows |= new_flow;
        }
    }
    if new_flows {
        nat.warm_inserts(config, burst.len(), cx.prefetch);
    }
    for (i, pkt) in pkts.iter_mut().enumerate().take(burst.len()) {
        let Some(meta) = burst.get(i).copied() else {
            break;
        };
        if meta.flow.nat != Some(direction) || meta.disposition() != Disposition::Continue {
            continue;
        }
        let Some(l3) = pkt.data_mut().get_mut(usize::from(meta.l3_offset)..) else {
            continue;
        };
        // As VPP's nat44 nodes: a packet whose TTL runs out here is answered with time
        // exceeded before it is translated (no session is made for it, and the error
        // quotes the header its sender sent), unless it is for the node itself.
        if l3.get(ip4::TTL).is_some_and(|&ttl| ttl <= 1)
            && !aimed_at_interface(cx.snapshot, meta.rx_if, l3)
        {
            burst.set_disposition(i, Disposition::ToIcmpError(IcmpErrorKind::TimeExceeded));
            if TRACE && meta.traced {
                let (sw_if_index, session) = (meta.rx_if, None);
                cx.trace(&meta, || match direction {
                    NatDirection::Out2in => TraceRecord::Nat44Out2in(Out2inTrace {
                        sw_if_index,
                        next_index: next::OUT2IN_ICMP_ERROR,
                        session,
                    }),
                    NatDirection::In2out => TraceRecord::Nat44In2out(In2outTrace {
                        slow_path: false,
                        sw_if_index,
                        next_index: next::IN2OUT_ICMP_ERROR,
                        session,
                    }),
                });
            }
            continue;
        }
        // The first pass's parse and hash serve again.
        let warmed = Some(Warmed {
            slot: i,
            hash: meta.flow.warm_hash,
        });
        match direction {
            NatDirection::Out2in => {
                let mut outcome = nat.out2in_warmed(config, meta.rx_if, l3, now, warmed);
                // A later fragment of such a packet too (its first fragment passed here).
                let unmatched = [Out2inError::NoTranslation, Out2inError::Fragment];
                if matches!(outcome.verdict, NatVerdict::Drop(e) if unmatched.contains(&e))
                    && aimed_at_interface(cx.snapshot, meta.rx_if, l3)
                {
                    // As VPP's out2in: "Don't NAT packet aimed at the intfc address".
                    // Nothing was looked up or made for it but the mapping it missed.
                    outcome.verdict = NatVerdict::Passed;
                    outcome.trace.next_index = next::OUT2IN_LOOKUP;
                }
                apply(burst, i, outcome.verdict);
                if TRACE && meta.traced {
                    cx.trace(&meta, || TraceRecord::Nat44Out2in(outcome.trace));
                }
            }
            NatDirection::In2out => {
                let outcome = nat.in2out_routed(config, meta.rx_if, l3, now, &routes_out, warmed);
                apply(burst, i, outcome.verdict);
                if TRACE && meta.traced {
                    cx.trace(&meta, || TraceRecord::Nat44In2out(outcome.fast_path));
                    if let Some(slow) = outcome.slow_path {
                        cx.trace(&meta, || TraceRecord::Nat44In2out(slow));
                    }
                }
            }
        }
    }
}

/// nat44-in2out-output: dynamic SNAT on interfaces with the output feature.
pub fn process_output<B: PacketBuf, const TRACE: bool>(
    nat: &mut Nat44Worker,
    burst: &mut Burst,
    pkts: &mut [B],
    cx: &mut Context<'_>,
) {
    let config = &*cx.snapshot.nat;
    let now = seconds(cx.now_ns);
    for (i, pkt) in pkts.iter_mut().enumerate().take(burst.len()) {
        let Disposition::Output(tx_if) = burst.disposition(i) else {
            continue;
        };
        if !config.role(tx_if).output_feature {
            continue;
        }
        let Some(meta) = burst.get(i).copied() else {
            break;
        };
        let Some(l3) = pkt.data_mut().get_mut(usize::from(meta.l3_offset)..) else {
            continue;
        };
        let outcome = nat.in2out_output(config, meta.rx_if, l3, now);
        apply(burst, i, outcome.verdict);
        if TRACE && meta.traced {
            cx.trace(&meta, || TraceRecord::Nat44In2outOutput(outcome.fast_path));
            if let Some(slow) = outcome.slow_path {
                cx.trace(&meta, || TraceRecord::Nat44In2outOutput(slow));
            }
        }
    }
}
