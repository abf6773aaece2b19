//! The per-packet ACL decision of one worker: sessions first, then rules.

use std::fmt::Write as _;

use super::classifier::{Classifier, RuleMatch};
use super::config::{AclConfig, AclTable};
use super::packet::AclPacketInfo;
use super::rule::{AclAction, Direction};
use super::session::{self, CreateError, Created, SessionHandle, SessionSummary, SessionTable};
use crate::burst::MAX_BURST;
use crate::node::{DropReason, NodeId};
use crate::node_errors;
use crate::pipeline::Prefetch;
use crate::types::IfIndex;

node_errors! {
    /// Why acl-plugin-in-ip4-fa drops a packet.
    pub enum AclInError for NodeId::AclIn {
        AclDeny => "acl deny",
        TooManySessions => "too many sessions",
    }
}

node_errors! {
    /// Why acl-plugin-out-ip4-fa drops a packet.
    pub enum AclOutError for NodeId::AclOut {
        AclDeny => "acl deny",
        TooManySessions => "too many sessions",
    }
}

/// The action code of an existing-session hit, as VPP's trace shows it.
pub const ACTION_SESSION_HIT: u8 = 3;
/// `trace_bits` of a session hit (VPP: a session was found).
pub const TRACE_BITS_SESSION_HIT: u32 = 0x8000_0000;

/// Why the engine refused a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclDrop {
    /// A deny rule matched, or ACLs are applied and none matched.
    Deny,
    /// A `permit+reflect` rule matched but the session table is full.
    TooManySessions,
}

/// The decision for one packet, with what VPP's trace reports of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclVerdict {
    /// 0 deny, 1 permit, 2 permit+reflect, 3 existing session hit.
    pub action: u8,
    /// The matching ACL; -1 for a session hit or when nothing matched.
    pub acl: i32,
    /// The rule within that ACL, or the session index for a session hit; `u32::MAX`
    /// (shown as -1) when nothing matched.
    pub rule: u32,
    pub trace_bits: u32,
    pub permit: bool,
    pub drop: Option<AclDrop>,
}

impl AclVerdict {
    /// The verdict on an interface without any ACL: permitted without a lookup.
    pub const NO_ACL: AclVerdict = AclVerdict {
        action: AclAction::Permit as u8,
        acl: -1,
        rule: u32::MAX,
        trace_bits: 0,
        permit: true,
        drop: None,
    };

    const NO_MATCH: AclVerdict = AclVerdict {
        action: AclAction::Deny as u8,
        acl: -1,
        rule: u32::MAX,
        trace_bits: 0,
        permit: false,
        drop: Some(AclDrop::Deny),
    };

    fn rule(found: &RuleMatch) -> AclVerdict {
        AclVerdict {
            action: found.action.code(),
            acl: found.acl as i32,
            rule: found.rule,
            trace_bits: 0,
            permit: found.action.is_permit(),
            drop: (!found.action.is_permit()).then_some(AclDrop::Deny),
        }
    }

    fn session(index: u32) -> AclVerdict {
        AclVerdict {
            action: ACTION_SESSION_HIT,
            acl: -1,
            rule: index,
            trace_bits: TRACE_BITS_SESSION_HIT,
            permit: true,
            drop: None,
        }
    }

    /// The drop reason for the stage on `direction`'s side, if the packet is dropped.
    pub fn drop_reason(&self, direction: Direction) -> Option<DropReason> {
        let cause = self.drop?;
        Some(match (direction, cause) {
            (Direction::Input, AclDrop::Deny) => DropReason::of(AclInError::AclDeny),
            (Direction::Input, AclDrop::TooManySessions) => {
                DropReason::of(AclInError::TooManySessions)
            }
            (Direction::Output, AclDrop::Deny) => DropReason::of(AclOutError::AclDeny),
            (Direction::Output, AclDrop::TooManySessions) => {
                DropReason::of(AclOutError::TooManySessions)
            }
        })
    }
}

/// One worker's hit counters. Plain integers: only the owning worker writes them; the
/// main lcore reads copies and sums them with [`AclCounters::add`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AclCounters {
    /// `rule_hits[acl][rule]`.
    pub rule_hits: Vec<Vec<u64>>,
    pub session_hits: u64,
    pub sessions_created: u64,
    /// Packets denied because ACLs were applied and no rule matched.
    pub no_match_denies: u64,
    pub too_many_sessions: u64,
}

impl AclCounters {
    /// Sizes the rule counters for `config`. `counted` is the version of the rules each
    /// ACL index had when its counts were kept: an ACL replaced since (or deleted and
    /// made anew at its index) counts from zero, as VPP zeroes a replaced ACL's
    /// counters; the counts of an ACL that kept its rules stay.
    fn fit(&mut self, config: &AclConfig, counted: &[u64]) {
        let counts = config.rule_counts();
        self.rule_hits.resize_with(counts.len(), Vec::new);
        for (index, (hits, &count)) in self.rule_hits.iter_mut().zip(counts).enumerate() {
            if counted.get(index).copied().unwrap_or(0) != config.acl_version(index) {
                hits.clear();
            }
            hits.resize(count, 0);
        }
    }

    /// Adds another worker's counts into these.
    pub fn add(&mut self, other: &AclCounters) {
        if self.rule_hits.len() < other.rule_hits.len() {
            self.rule_hits.resize_with(other.rule_hits.len(), Vec::new);
        }
        for (mine, theirs) in self.rule_hits.iter_mut().zip(&other.rule_hits) {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), 0);
            }
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
        self.session_hits += other.session_hits;
        self.sessions_created += other.sessions_created;
        self.no_match_denies += other.no_match_denies;
        self.too_many_sessions += other.too_many_sessions;
    }

    pub fn rule(&self, acl: u32, rule: u32) -> u64 {
        self.rule_hits
            .get(acl as usize)
            .and_then(|r| r.get(rule as usize))
            .copied()
            .unwrap_or(0)
    }

    pub fn acl(&self, acl: u32) -> u64 {
        self.rule_hits
            .get(acl as usize)
            .map_or(0, |r| r.iter().sum())
    }

    /// Per-ACL and per-rule hits of the ACLs in `table`, then the session counts.
    pub fn format(&self, table: &AclTable) -> String {
        let counts: Vec<usize> = (0..table.indices().max().map_or(0, |i| i + 1))
            .map(|i| table.acl(i).map_or(0, |a| a.rules.len()))
            .collect();
        self.format_hits(&counts, None)
    }

    /// As [`AclCounters::format`], from the rule count of every ACL index (0: a free
    /// index), for the ACL `only` or all of them: what a worker answers from its
    /// snapshot for `show acl-plugin acl`. The session counts belong to no one ACL: a
    /// view of one leaves them out.
    pub fn format_hits(&self, rule_counts: &[usize], only: Option<u32>) -> String {
        let mut out = String::new();
        for (index, &rules) in rule_counts.iter().enumerate() {
            let index = index as u32;
            if rules == 0 || only.is_some_and(|o| o != index) {
                continue;
            }
            let _ = writeln!(out, "acl-index {index} hits {}", self.acl(index));
            for rule in 0..rules as u32 {
                let _ = writeln!(out, "  {rule:>9}: hits {}", self.rule(index, rule));
            }
        }
        if only.is_none() {
            let _ = writeln!(
                out,
                "session hits {}, sessions created {}, no-match denies {}, too many sessions {}",
                self.session_hits,
                self.sessions_created,
                self.no_match_denies,
                self.too_many_sessions
            );
        }
        out
    }
}

/// The ACL engine of one worker: its sessions and counters.
pub struct AclWorker {
    sessions: SessionTable,
    counters: AclCounters,
    /// The burst a stage is running over, as its first pass parsed it (`None`: a packet
    /// it did not parse), so that its later passes neither parse nor hash again.
    parsed: Box<[Option<AclPacketInfo>; MAX_BURST]>,
    /// How many times each interface's ACL lists had changed in the last snapshot
    /// installed.
    list_changes: Vec<[u32; 2]>,
    /// The version of each ACL index's rules in the last snapshot installed: those the
    /// hit counters count for.
    acl_versions: Vec<u64>,
}

impl AclWorker {
    /// Allocates the session table for `config.max_sessions` up front.
    pub fn new(config: &AclConfig) -> AclWorker {
        let mut worker = AclWorker {
            sessions: SessionTable::new(config.max_sessions),
            counters: AclCounters::default(),
            parsed: Box::new([None; MAX_BURST]),
            list_changes: Vec::new(),
            acl_versions: Vec::new(),
        };
        worker.install(config);
        worker
    }

    /// The prefetch the session table asks with outside the stages' warm-up passes.
    pub fn set_prefetch(&mut self, prefetch: Prefetch) {
        self.sessions.set_prefetch(prefetch);
    }

    /// Adopts a new snapshot: sizes counters and the session table. Allocates, so it runs
    /// between bursts, never per packet.
    /// An interface whose last ACL list emptied loses its sessions, as in VPP, and with
    /// `reclassify-sessions` on, so do the sessions a direction made whose list changed
    /// ([`crate::acl::AclTable`]); replacing the rules of an ACL keeps them, but starts
    /// its hit counters from zero. A lower
    /// session limit is reached by eviction a bounded number at a time
    /// ([`AclWorker::reclaim_expired`]).
    pub fn install(&mut self, config: &AclConfig) {
        self.counters.fit(config, &self.acl_versions);
        self.acl_versions.clear();
        self.acl_versions
            .extend((0..config.rule_counts().len()).map(|index| config.acl_version(index)));
        self.sessions.set_max(config.max_sessions);
        let changes: Vec<[u32; 2]> = config.list_changes().collect();
        for (i, counts) in changes.iter().enumerate() {
            let before = self.list_changes.get(i).copied().unwrap_or([0; 2]);
            for direction in Direction::BOTH {
                if before[direction.slot()] != counts[direction.slot()] {
                    self.sessions.lists_changed(IfIndex(i as u16), direction);
                }
            }
        }
        self.list_changes = changes;
    }

    /// A stage's first warm-up pass over packet `slot` of its burst, crossing `sw_if` in
    /// `direction` with its IPv4 header at the start of `l3` (`None`: a packet the
    /// stage passes over): parses it into the slot, asks for the cache bucket of its
    /// session key, and returns the key's hash for the later passes; 0 when there is no
    /// key (no ACLs there, or a header the engine cannot read).
    #[inline]
    pub fn warm_up(
        &mut self,
        config: &AclConfig,
        slot: usize,
        sw_if: IfIndex,
        direction: Direction,
        l3: Option<&[u8]>,
        prefetch: Prefetch,
    ) -> u64 {
        let parsed = l3
            .filter(|_| config.interface(sw_if, direction).is_some())
            .and_then(AclPacketInfo::from_ipv4_bytes);
        if let Some(at) = self.parsed.get_mut(slot) {
            *at = parsed;
        }
        let Some(packet) = parsed else {
            return 0;
        };
        let hash = self.sessions.hash_of(&packet, sw_if, direction);
        self.sessions.prefetch_bucket(hash, prefetch);
        hash
    }

    /// The packet the first pass parsed into `slot`, if any.
    #[inline(always)]
    pub fn parsed(&self, slot: usize) -> Option<&AclPacketInfo> {
        self.parsed.get(slot)?.as_ref()
    }

    /// The second pass: asks for the session the bucket names, if any, and says
    /// whether it named one.
    #[inline]
    pub fn prefetch_session(&self, hash: u64, prefetch: Prefetch) -> bool {
        self.sessions.prefetch_session(hash, prefetch)
    }

    /// For a packet the second pass found no session for (parsed into `slot`): asks for
    /// the bucket its reply's key would take, should the rules create a session.
    #[inline]
    pub fn prefetch_reply_bucket(
        &self,
        config: &AclConfig,
        sw_if: IfIndex,
        direction: Direction,
        slot: usize,
        prefetch: Prefetch,
    ) {
        let Some(packet) = self.parsed(slot) else {
            return;
        };
        if config
            .interface(sw_if, direction)
            .is_some_and(|rules| rules.is_some())
        {
            self.sessions
                .prefetch_reply_bucket(packet, sw_if, direction, prefetch);
        }
    }

    /// The verdict for `packet` crossing `sw_if` in `direction` at time `now_ns`.
    #[inline]
    pub fn classify(
        &mut self,
        config: &AclConfig,
        sw_if: IfIndex,
        direction: Direction,
        packet: &AclPacketInfo,
        now_ns: u64,
    ) -> AclVerdict {
        let hash = self.sessions.hash_of(packet, sw_if, direction);
        self.classify_hashed(config, sw_if, direction, packet, hash, now_ns)
    }

    /// The verdict for the packet a stage's first pass parsed into `slot`
    /// ([`AclWorker::warm_up`]), with the hash that pass returned (0: none, computed
    /// here); `None` if the pass parsed none there.
    #[inline]
    pub fn classify_parsed(
        &mut self,
        config: &AclConfig,
        sw_if: IfIndex,
        direction: Direction,
        slot: usize,
        hash: u64,
        now_ns: u64,
    ) -> Option<AclVerdict> {
        let packet = (*self.parsed.get(slot)?)?;
        let hash = match hash {
            0 => self.sessions.hash_of(&packet, sw_if, direction),
            hash => hash,
        };
        debug_assert_eq!(hash, self.sessions.hash_of(&packet, sw_if, direction));
        Some(self.classify_hashed(config, sw_if, direction, &packet, hash, now_ns))
    }

    #[inline(always)]
    fn classify_hashed(
        &mut self,
        config: &AclConfig,
        sw_if: IfIndex,
        direction: Direction,
        packet: &AclPacketInfo,
        hash: u64,
        now_ns: u64,
    ) -> AclVerdict {
        let Some(classifier) = config.interface(sw_if, direction) else {
            return AclVerdict::NO_ACL;
        };
        if let Some(index) =
            self.sessions
                .lookup(packet, sw_if, direction, hash, now_ns, &config.timeouts)
        {
            self.counters.session_hits += 1;
            return AclVerdict::session(index);
        }
        let Some(classifier) = classifier else {
            // Sessions only (an ACL in the other direction): no rule applies here.
            return AclVerdict::NO_ACL;
        };
        self.classify_by_rules(config, classifier, sw_if, direction, packet, hash, now_ns)
    }

    /// [`AclWorker::classify`] past the session lookup. Out of line, so that a session
    /// hit does not set up the frame the rule match and the session creation need.
    /// (`hash` is the session lookup's, which the creation does not make again.)
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn classify_by_rules(
        &mut self,
        config: &AclConfig,
        classifier: &Classifier,
        sw_if: IfIndex,
        direction: Direction,
        packet: &AclPacketInfo,
        hash: u64,
        now_ns: u64,
    ) -> AclVerdict {
        let Some(found) = classifier.lookup(packet) else {
            self.counters.no_match_denies += 1;
            return AclVerdict::NO_MATCH;
        };
        if let Some(hits) = self
            .counters
            .rule_hits
            .get_mut(found.acl as usize)
            .and_then(|r| r.get_mut(found.rule as usize))
        {
            *hits += 1;
        }
        let verdict = AclVerdict::rule(&found);
        if found.action == AclAction::PermitReflect && session::reflects(packet) {
            match self.sessions.create(
                packet,
                sw_if,
                direction,
                Some(hash),
                now_ns,
                &config.timeouts,
            ) {
                Ok(Created::New(_)) => self.counters.sessions_created += 1,
                // A session held the key already (an ICMP non-first fragment meets its
                // request's): the packet was counted by the rule it matched, and the
                // session it joined was refreshed; nothing was created.
                Ok(Created::Joined(_)) => {}
                Err(CreateError::TableFull) => {
                    self.counters.too_many_sessions += 1;
                    return AclVerdict {
                        action: AclAction::Deny as u8,
                        permit: false,
                        drop: Some(AclDrop::TooManySessions),
                        ..verdict
                    };
                }
            }
        }
        verdict
    }

    /// How the flow cache remembers what [`AclWorker::classify`] decides for `packet` on
    /// (sw_if, direction) without its rules: [`SessionHandle::NONE`] when the interface
    /// has no ACLs at all; the live session it would hit; or, where the interface has
    /// sessions but no rules in this direction and the key has no session, a watch (the
    /// packet passes untouched until a session for its key may exist). `None`: the rules
    /// would decide. Changes nothing.
    pub fn session_handle(
        &self,
        config: &AclConfig,
        sw_if: IfIndex,
        direction: Direction,
        packet: &AclPacketInfo,
    ) -> Option<SessionHandle> {
        let Some(rules) = config.interface(sw_if, direction) else {
            return Some(SessionHandle::NONE);
        };
        match self.sessions.handle(packet, sw_if, direction) {
            Some(handle) => Some(handle),
            None if rules.is_none() => Some(self.sessions.watch(packet, sw_if, direction)),
            None => None,
        }
    }

    /// Whether a [`AclWorker::classify`] of the handle's flow would still hit it.
    #[inline(always)]
    pub fn session_is_live(&self, config: &AclConfig, handle: SessionHandle, now_ns: u64) -> bool {
        self.sessions.is_live(handle, now_ns, &config.timeouts)
    }

    /// A session hit through the flow cache: what `classify` does on a hit, counters
    /// included. `tcp_flags` is `None` for a packet without them.
    #[inline(always)]
    pub fn hit_session(&mut self, handle: SessionHandle, now_ns: u64, tcp_flags: Option<u8>) {
        if handle.is_none() || handle.is_watch() {
            return;
        }
        self.counters.session_hits += 1;
        self.sessions.refresh_handle(handle, now_ns, tcp_flags);
    }

    /// Session hits the flow cache took without a refresh: see
    /// [`AclWorker::fresh_deletes`].
    #[inline(always)]
    pub fn count_session_hits(&mut self, hits: u64) {
        self.counters.session_hits += hits;
    }

    /// Sessions deleted in the second they were last heard in. While neither this
    /// count nor the clock's second changes, a session refreshed in this second is still
    /// the one in its slot and live, and another refresh of it in this second by a
    /// packet that brings no new TCP flags ([`AclWorker::session_seen_flags`]) changes
    /// nothing: the flow cache leaves such refreshes out.
    #[inline(always)]
    pub fn fresh_deletes(&self) -> u32 {
        self.sessions.fresh_deletes()
    }

    /// Sessions created since start (wrapping). While it does not change, every watch
    /// ([`AclWorker::session_handle`]) that held still holds: the flow cache checks its
    /// watches only when it has.
    #[inline(always)]
    pub fn creations(&self) -> u32 {
        self.sessions.creations()
    }

    /// The TCP flags the session `handle` names has seen in the handle's direction;
    /// `None` for no session, a watch, or a slot no longer live.
    pub fn session_seen_flags(&self, handle: SessionHandle) -> Option<u8> {
        if !handle.is_session() {
            return None;
        }
        self.sessions.seen_flags(handle.found())
    }

    /// Where the session `handle` names lives, for a prefetch.
    #[inline(always)]
    pub fn session_address(&self, handle: SessionHandle) -> Option<*const u8> {
        self.sessions.address(handle)
    }

    /// Deletes expired sessions, at most `budget` steps per expiry list, and sessions
    /// over a lowered limit, at most `budget` of them; housekeeping calls it. Returns
    /// how many were deleted.
    pub fn reclaim_expired(&mut self, config: &AclConfig, now_ns: u64, budget: usize) -> usize {
        self.sessions
            .reclaim_expired(now_ns, &config.timeouts, budget)
    }

    /// Whether the last reclaim stopped at its budget, or the table is still over its
    /// limit: there may be more to do at once.
    pub fn reclaim_backlog(&self) -> bool {
        self.sessions.backlog()
    }

    pub fn counters(&self) -> &AclCounters {
        &self.counters
    }

    #[cfg(test)]
    pub(crate) fn session_index_len(&self) -> usize {
        self.sessions.index_len()
    }

    #[cfg(test)]
    pub(crate) fn session_index_allocation(&self) -> usize {
        self.sessions.index_allocation()
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// `clear acl-plugin sessions`: deletes every session now, between bursts, as VPP
    /// clears them under its worker barrier (a walk of the table: some milliseconds at
    /// hundreds of thousands). Deleted, not marked: their slots' generations move, so
    /// ip4-flow-cache's entries naming them go stale too. Returns how many.
    pub fn clear_sessions(&mut self, now_ns: u64) -> usize {
        self.sessions.clear_all(now_ns)
    }

    pub fn session_limit(&self) -> usize {
        self.sessions.max()
    }

    /// Live sessions, for `show acl-plugin sessions`; walks the table.
    pub fn sessions(&self, now_ns: u64) -> impl Iterator<Item = SessionSummary> + '_ {
        self.sessions.summaries(now_ns)
    }

    /// The live session at `index`, without walking the table.
    pub fn session(&self, index: u32, now_ns: u64) -> Option<SessionSummary> {
        self.sessions.summary(index, now_ns)
    }
}

/// Sessions `show acl-plugin sessions` lists per worker: a table holds up to 16M, and
/// the worker writes the listing between two bursts (VPP lists none there, only counts).
pub const SHOW_SESSIONS_MAX: usize = 1000;

/// `show acl-plugin sessions` over every worker: totals, per-interface counts, then the
/// first [`SHOW_SESSIONS_MAX`] sessions by index with tuple, type and age. `name_of`
/// names an interface. The workers are VPP's threads `first_thread`, `first_thread + 1`,
/// ... (workers count from 1 in VPP, the main thread being 0, as in `show trace` and
/// `show runtime`).
pub fn show_sessions(
    workers: &[&AclWorker],
    first_thread: u32,
    now_ns: u64,
    name_of: &dyn Fn(IfIndex) -> String,
) -> String {
    let mut out = String::new();
    let total: usize = workers.iter().map(|w| w.session_count()).sum();
    let _ = writeln!(out, "Sessions total: {total}");
    for (thread, worker) in (first_thread..).zip(workers) {
        // In index order (the table's slots), counted whole, listed up to the bound.
        let (mut count, mut listed) = (0, Vec::new());
        let mut per_interface: Vec<(IfIndex, usize)> = Vec::new();
        for s in worker.sessions(now_ns) {
            count += 1;
            match per_interface.iter_mut().find(|(i, _)| *i == s.sw_if) {
                Some((_, n)) => *n += 1,
                None => per_interface.push((s.sw_if, 1)),
            }
            if listed.len() < SHOW_SESSIONS_MAX {
                listed.push(s);
            }
        }
        let _ = writeln!(
            out,
            "Thread #{thread}: {count} sessions (limit {})",
            worker.session_limit()
        );
        per_interface.sort();
        for (sw_if, n) in per_interface {
            let _ = writeln!(
                out,
                "  sw_if_index {sw_if} ({}): {n} sessions",
                name_of(sw_if)
            );
        }
        for s in &listed {
            write_session(&mut out, s);
        }
        if count > listed.len() {
            let _ = writeln!(
                out,
                "  ... {} more (show acl-plugin sessions thread {thread} index N shows one)",
                count - listed.len()
            );
        }
    }
    out
}

/// `show acl-plugin sessions thread T index I`: session `index` of `worker` (thread
/// `thread`), as the listing shows it, and its interface's name.
pub fn show_session(
    worker: &AclWorker,
    thread: u32,
    index: u32,
    now_ns: u64,
    name_of: &dyn Fn(IfIndex) -> String,
) -> Result<String, String> {
    let s = worker
        .session(index, now_ns)
        .ok_or_else(|| format!("no session {index} on thread {thread}"))?;
    let mut out = String::new();
    let _ = writeln!(out, "Thread #{thread}, session {index}:");
    write_session(&mut out, &s);
    let _ = writeln!(out, "  interface {} ({})", s.sw_if, name_of(s.sw_if));
    Ok(out)
}

fn write_session(out: &mut String, s: &SessionSummary) {
    let _ = writeln!(
        out,
        "  session {} sw_if_index {} {} proto {} {}:{} -> {}:{} type {} age {}s idle {}s",
        s.index,
        s.sw_if,
        s.direction,
        s.proto,
        s.src,
        s.sport,
        s.dst,
        s.dport,
        s.kind,
        s.age_ns / 1_000_000_000,
        s.idle_ns / 1_000_000_000
    );
}
