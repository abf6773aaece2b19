//! The ACL control plane: ACLs, their attachment to interfaces, session settings, and the
//! immutable [`AclConfig`] workers read.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use super::classifier::Classifier;
use super::rule::{AclRule, Direction};
use super::session::{SessionTimeouts, TimeoutKind};
use crate::types::IfIndex;

/// VPP 19.08's per-worker session limit.
pub const DEFAULT_MAX_SESSIONS: usize = 500_000;

/// One ACL: an ordered rule list and a free-form tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acl {
    pub tag: String,
    pub rules: Vec<AclRule>,
}

/// The ACL state the main lcore edits. Every operation validates first and changes
/// nothing when it returns an error.
#[derive(Clone, Debug)]
pub struct AclTable {
    acls: Vec<Option<Acl>>,
    /// Per ACL index, the version of the rules there: a new one each time an ACL is
    /// created or replaced at that index, so that workers start its hit counters from
    /// zero (as VPP zeroes them when it replaces an ACL).
    acl_versions: Vec<u64>,
    /// The last version handed out.
    last_acl_version: u64,
    /// Per interface, the ordered ACL lists: `[input, output]`.
    applied: BTreeMap<IfIndex, [Vec<u32>; 2]>,
    /// Per interface, `[input, output]`: how many times the sessions made in that
    /// direction were ended by a list change (see [`AclTable::lists_changed`]); a worker
    /// deletes those whose count moved since the last snapshot it installed.
    list_changes: BTreeMap<IfIndex, [u32; 2]>,
    /// `set acl-plugin reclassify-sessions`: a list change ends the sessions its
    /// direction made, not only the interface's last list emptying.
    reclassify_sessions: bool,
    timeouts: SessionTimeouts,
    max_sessions: usize,
}

impl Default for AclTable {
    fn default() -> Self {
        AclTable::new()
    }
}

fn list_indices(indices: &[impl std::fmt::Display]) -> String {
    let mut out = String::new();
    for (i, index) in indices.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{index}");
    }
    out
}

impl AclTable {
    pub fn new() -> AclTable {
        AclTable {
            acls: Vec::new(),
            acl_versions: Vec::new(),
            last_acl_version: 0,
            applied: BTreeMap::new(),
            list_changes: BTreeMap::new(),
            reclassify_sessions: false,
            timeouts: SessionTimeouts::default(),
            max_sessions: DEFAULT_MAX_SESSIONS,
        }
    }

    fn validate_rules(rules: &[AclRule]) -> Result<(), String> {
        for (i, rule) in rules.iter().enumerate() {
            rule.validate().map_err(|e| format!("rule {i}: {e}"))?;
        }
        Ok(())
    }

    /// The ACL at `index`, or a sentence naming the ACLs that exist.
    pub fn acl(&self, index: u32) -> Result<&Acl, String> {
        self.acls
            .get(index as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| {
                let known: Vec<usize> = self.indices().map(|i| i as usize).collect();
                if known.is_empty() {
                    format!("ACL index {index} does not exist (no ACLs defined)")
                } else {
                    format!(
                        "ACL index {index} does not exist (known: {})",
                        list_indices(&known)
                    )
                }
            })
    }

    /// Indices of the ACLs that exist, ascending.
    pub fn indices(&self) -> impl Iterator<Item = u32> + '_ {
        self.acls
            .iter()
            .enumerate()
            .filter(|(_, a)| a.is_some())
            .map(|(i, _)| i as u32)
    }

    /// `set acl-plugin acl <rules>`: a new ACL at the lowest free index, which it returns.
    pub fn create(&mut self, rules: Vec<AclRule>, tag: &str) -> Result<u32, String> {
        Self::validate_rules(&rules)?;
        let acl = Acl {
            tag: tag.to_string(),
            rules,
        };
        let index = match self.acls.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.acls.push(None);
                self.acls.len() - 1
            }
        };
        let index_u32 =
            u32::try_from(index).map_err(|_| "too many ACLs: no index left".to_string())?;
        self.acls[index] = Some(acl);
        self.new_acl_version(index);
        Ok(index_u32)
    }

    /// The rules at `index` are new: their hits count from zero.
    fn new_acl_version(&mut self, index: usize) {
        if self.acl_versions.len() <= index {
            self.acl_versions.resize(index + 1, 0);
        }
        self.last_acl_version += 1;
        self.acl_versions[index] = self.last_acl_version;
    }

    /// `set acl-plugin acl index N <rules>`: replaces ACL `index`, which must exist. On
    /// interfaces it is applied to, the new rules apply from the next snapshot.
    pub fn replace(&mut self, index: u32, rules: Vec<AclRule>, tag: &str) -> Result<u32, String> {
        Self::validate_rules(&rules)?;
        self.acl(index)?;
        if let Some(slot) = self.acls.get_mut(index as usize) {
            *slot = Some(Acl {
                tag: tag.to_string(),
                rules,
            });
        }
        self.new_acl_version(index as usize);
        Ok(index)
    }

    /// Where ACL `index` is applied, as `(interface, direction)` pairs.
    pub fn applied_on(&self, index: u32) -> Vec<(IfIndex, Direction)> {
        let mut out = Vec::new();
        for (&sw_if, lists) in &self.applied {
            for direction in [Direction::Input, Direction::Output] {
                if lists[direction.slot()].contains(&index) {
                    out.push((sw_if, direction));
                }
            }
        }
        out
    }

    /// `delete acl-plugin acl index N`: refused while the ACL is applied anywhere.
    pub fn delete(&mut self, index: u32) -> Result<(), String> {
        self.acl(index)?;
        let applied = self.applied_on(index);
        if !applied.is_empty() {
            let places: Vec<String> = applied
                .iter()
                .map(|(sw_if, direction)| format!("sw_if_index {sw_if} {direction}"))
                .collect();
            return Err(format!(
                "ACL {index} is applied on {}: remove it from there first",
                list_indices(&places)
            ));
        }
        if let Some(slot) = self.acls.get_mut(index as usize) {
            *slot = None;
        }
        Ok(())
    }

    /// `set acl-plugin interface NAME input|output acl N [del]`: appends ACL `acl` to the
    /// interface's list for `direction`, or removes it with `del`.
    pub fn set_interface_acl(
        &mut self,
        sw_if: IfIndex,
        direction: Direction,
        acl: u32,
        del: bool,
    ) -> Result<(), String> {
        self.acl(acl)?;
        let present = self
            .applied
            .get(&sw_if)
            .is_some_and(|lists| lists[direction.slot()].contains(&acl));
        match (del, present) {
            (false, true) => {
                return Err(format!(
                    "ACL {acl} is already applied on sw_if_index {sw_if} {direction}"
                ))
            }
            (true, false) => {
                return Err(format!(
                    "ACL {acl} is not applied on sw_if_index {sw_if} {direction}"
                ))
            }
            _ => {}
        }
        let lists = self.applied.entry(sw_if).or_default();
        if del {
            lists[direction.slot()].retain(|&a| a != acl);
        } else {
            lists[direction.slot()].push(acl);
        }
        if lists.iter().all(Vec::is_empty) {
            self.applied.remove(&sw_if);
        }
        self.lists_changed(sw_if, direction);
        Ok(())
    }

    /// Replaces an interface's whole list for one direction (the binary API's form).
    /// The same list again changes nothing, and so keeps the interface's sessions: an
    /// agent re-applies its whole configuration, lists it did not change included.
    pub fn set_interface_acl_list(
        &mut self,
        sw_if: IfIndex,
        direction: Direction,
        acls: &[u32],
    ) -> Result<(), String> {
        for &acl in acls {
            self.acl(acl)?;
        }
        for (i, acl) in acls.iter().enumerate() {
            if acls[..i].contains(acl) {
                return Err(format!("ACL {acl} appears twice in the list"));
            }
        }
        if self.interface_acls(sw_if, direction) == acls {
            return Ok(());
        }
        let lists = self.applied.entry(sw_if).or_default();
        lists[direction.slot()] = acls.to_vec();
        if lists.iter().all(Vec::is_empty) {
            self.applied.remove(&sw_if);
        }
        self.lists_changed(sw_if, direction);
        Ok(())
    }

    /// `sw_if`'s list for `direction` is not what it was. As in VPP, its sessions stay
    /// while it has an ACL in either direction, so that a policy update leaves the
    /// connections it still permits alone; they go when its last list empties (VPP's
    /// `acl_fa_enable_disable` cleans them then). With `reclassify-sessions` on, the
    /// sessions `direction` made go at once too: their flows' next packets meet the new
    /// rules (VPP finds them stale by the interface's policy epoch at their next hit).
    fn lists_changed(&mut self, sw_if: IfIndex, direction: Direction) {
        let emptied = !self.applied.contains_key(&sw_if);
        if !emptied && !self.reclassify_sessions {
            return;
        }
        let changes = self.list_changes.entry(sw_if).or_default();
        for ended in Direction::BOTH {
            if emptied || ended == direction {
                changes[ended.slot()] = changes[ended.slot()].wrapping_add(1);
            }
        }
    }

    /// `set acl-plugin reclassify-sessions 0|1` (VPP's, off by default): whether a
    /// change of an interface's list for a direction ends the sessions that direction
    /// made (see [`AclTable::lists_changed`]). It applies to the changes made while on.
    pub fn set_reclassify_sessions(&mut self, on: bool) {
        self.reclassify_sessions = on;
    }

    pub fn reclassify_sessions(&self) -> bool {
        self.reclassify_sessions
    }

    /// The ACLs on `sw_if` for `direction`, in evaluation order.
    pub fn interface_acls(&self, sw_if: IfIndex, direction: Direction) -> &[u32] {
        self.applied
            .get(&sw_if)
            .map_or(&[], |lists| &lists[direction.slot()])
    }

    /// `set acl-plugin session timeout <kind> N` (seconds).
    pub fn set_session_timeout(&mut self, kind: TimeoutKind, seconds: u64) -> Result<(), String> {
        self.set_session_timeouts(&[kind], seconds)
    }

    /// The timeout of each of `kinds` to `seconds`, or none of them: VPP's `udp idle`
    /// sets UDP's and other's together (see `cli/acl.rs`).
    pub fn set_session_timeouts(
        &mut self,
        kinds: &[TimeoutKind],
        seconds: u64,
    ) -> Result<(), String> {
        let ns = seconds
            .checked_mul(1_000_000_000)
            .filter(|_| seconds > 0)
            .ok_or_else(|| {
                let names: Vec<&str> = kinds.iter().map(|kind| kind.name()).collect();
                format!(
                    "session timeout {} {seconds}: must be 1..=18446744073 seconds",
                    names.join(" and ")
                )
            })?;
        for &kind in kinds {
            self.timeouts.set(kind, ns);
        }
        Ok(())
    }

    pub fn session_timeouts(&self) -> SessionTimeouts {
        self.timeouts
    }

    /// `set acl-plugin session table max-entries N`, per worker.
    pub fn set_max_sessions(&mut self, max: usize) -> Result<(), String> {
        if max == 0 || max > u32::MAX as usize / 2 {
            return Err(format!(
                "session table max-entries {max}: must be 1..={}",
                u32::MAX / 2
            ));
        }
        self.max_sessions = max;
        Ok(())
    }

    pub fn max_sessions(&self) -> usize {
        self.max_sessions
    }

    /// Compiles the snapshot workers read. Interfaces with the same ACL list share one
    /// classifier.
    pub fn build(&self) -> AclConfig {
        let mut compiled: HashMap<Vec<u32>, Arc<Classifier>> = HashMap::new();
        let mut interfaces = Vec::new();
        for (&sw_if, lists) in &self.applied {
            if interfaces.len() <= sw_if.as_usize() {
                interfaces.resize(sw_if.as_usize() + 1, InterfaceAcls::default());
            }
            let mut entry = InterfaceAcls {
                any: true,
                ..InterfaceAcls::default()
            };
            for direction in [Direction::Input, Direction::Output] {
                let list = &lists[direction.slot()];
                if list.is_empty() {
                    continue;
                }
                let classifier = compiled
                    .entry(list.clone())
                    .or_insert_with(|| {
                        Arc::new(Classifier::build(list.iter().filter_map(|&acl| {
                            let rules = self.acl(acl).ok()?.rules.as_slice();
                            Some((acl, rules))
                        })))
                    })
                    .clone();
                entry.classifiers[direction.slot()] = Some(classifier);
            }
            interfaces[sw_if.as_usize()] = entry;
        }
        for (&sw_if, &changes) in &self.list_changes {
            if interfaces.len() <= sw_if.as_usize() {
                interfaces.resize(sw_if.as_usize() + 1, InterfaceAcls::default());
            }
            if let Some(entry) = interfaces.get_mut(sw_if.as_usize()) {
                entry.list_changes = changes;
            }
        }
        AclConfig {
            interfaces,
            rule_counts: self
                .acls
                .iter()
                .map(|a| a.as_ref().map_or(0, |a| a.rules.len()))
                .collect(),
            acl_versions: self.acl_versions.clone(),
            timeouts: self.timeouts,
            max_sessions: self.max_sessions,
        }
    }

    /// ACL `index`'s head line and rules as `show acl-plugin acl` prints them, each line
    /// after `indent`.
    fn write_acl(&self, out: &mut String, index: u32, indent: &str) -> Result<(), String> {
        let acl = self.acl(index)?;
        let _ = writeln!(
            out,
            "{indent}acl-index {index} count {} tag {{{}}}",
            acl.rules.len(),
            acl.tag
        );
        for (i, rule) in acl.rules.iter().enumerate() {
            let _ = writeln!(out, "{indent}  {i:>9}: {rule}");
        }
        Ok(())
    }

    /// `show acl-plugin acl [index N]`, in VPP's format.
    pub fn show_acls(&self, only: Option<u32>) -> Result<String, String> {
        let indices: Vec<u32> = match only {
            Some(index) => {
                self.acl(index)?;
                vec![index]
            }
            None => self.indices().collect(),
        };
        let mut out = String::new();
        for index in indices {
            self.write_acl(&mut out, index, "")?;
            let applied = self.applied_on(index);
            for direction in [Direction::Input, Direction::Output] {
                let on: Vec<IfIndex> = applied
                    .iter()
                    .filter(|(_, d)| *d == direction)
                    .map(|(sw_if, _)| *sw_if)
                    .collect();
                let word = if direction.is_input() {
                    "inbound"
                } else {
                    "outbound"
                };
                let _ = writeln!(
                    out,
                    "  applied {word} on sw_if_index: {}",
                    list_indices(&on)
                );
            }
        }
        Ok(out)
    }

    /// `show acl-plugin interface [NAME | sw_if_index N] [acl]`: every interface with
    /// ACLs, or just `only`; with `acls`, each list's ACLs with their rules.
    pub fn show_interfaces(
        &self,
        only: Option<IfIndex>,
        acls: bool,
        name_of: &dyn Fn(IfIndex) -> String,
    ) -> String {
        let mut out = String::new();
        let mut interfaces: Vec<IfIndex> = self.applied.keys().copied().collect();
        if let Some(sw_if) = only {
            interfaces = vec![sw_if];
        }
        for sw_if in interfaces {
            let _ = writeln!(out, "sw_if_index {sw_if} ({}):", name_of(sw_if));
            for direction in [Direction::Input, Direction::Output] {
                let list = self.interface_acls(sw_if, direction);
                let _ = writeln!(out, "  {direction} acl(s): {}", list_indices(list));
                if acls {
                    for &index in list {
                        // Every listed ACL exists: one in use cannot be deleted.
                        let _ = self.write_acl(&mut out, index, "    ");
                    }
                }
            }
        }
        out
    }
}

/// One interface's compiled lookups, `[input, output]`.
#[derive(Clone, Debug, Default)]
struct InterfaceAcls {
    classifiers: [Option<Arc<Classifier>>; 2],
    /// How many times a list change ended the sessions made in each direction,
    /// `[input, output]` ([`AclTable`]'s counts).
    list_changes: [u32; 2],
    /// The interface has an ACL in some direction, so a session may exist on it.
    any: bool,
}

/// The immutable ACL snapshot a worker reads.
#[derive(Clone, Debug)]
pub struct AclConfig {
    interfaces: Vec<InterfaceAcls>,
    rule_counts: Vec<usize>,
    /// Per ACL index, the version of its rules ([`AclTable`]'s).
    acl_versions: Vec<u64>,
    pub timeouts: SessionTimeouts,
    pub max_sessions: usize,
}

impl Default for AclConfig {
    fn default() -> Self {
        AclTable::new().build()
    }
}

impl AclConfig {
    /// Some interface has an ACL: sessions may be made, and a flow's packets must then
    /// reach the worker that holds them (see [`crate::stages::worker_handoff`]).
    pub fn any_applied(&self) -> bool {
        self.interfaces.iter().any(|e| e.any)
    }

    /// `None` when `sw_if` has no ACL in either direction: then it has no sessions either
    /// and every packet is permitted. Otherwise the rule lookup for `direction`, if any.
    #[inline(always)]
    pub(crate) fn interface(
        &self,
        sw_if: IfIndex,
        direction: Direction,
    ) -> Option<Option<&Classifier>> {
        let entry = self.interfaces.get(sw_if.as_usize())?;
        if !entry.any {
            return None;
        }
        Some(entry.classifiers[direction.slot()].as_deref())
    }

    /// How many times a list change ended each interface's sessions, per direction
    /// (`[input, output]`), by interface index.
    pub(crate) fn list_changes(&self) -> impl Iterator<Item = [u32; 2]> + '_ {
        self.interfaces.iter().map(|entry| entry.list_changes)
    }

    /// Rules per ACL index (0 for a free index): sizes the workers' hit counters.
    pub fn rule_counts(&self) -> &[usize] {
        &self.rule_counts
    }

    /// The version of the rules at ACL `index` (0: never any): a worker whose
    /// counters were kept for another version starts them from zero.
    pub(crate) fn acl_version(&self, index: usize) -> u64 {
        self.acl_versions.get(index).copied().unwrap_or(0)
    }

    /// `show acl-plugin tables`: per interface and direction with ACLs, how the compiled
    /// rule list is looked up (see the classifier module) and what it holds.
    pub fn show_tables(&self, name_of: &dyn Fn(IfIndex) -> String) -> String {
        let mut out = String::new();
        for (index, entry) in self.interfaces.iter().enumerate() {
            let sw_if = IfIndex(index as u16);
            for direction in [Direction::Input, Direction::Output] {
                let Some(classifier) = entry.classifiers[direction.slot()].as_deref() else {
                    continue;
                };
                let _ = writeln!(
                    out,
                    "sw_if_index {sw_if} ({}) {direction}: {}",
                    name_of(sw_if),
                    classifier.describe()
                );
            }
        }
        if out.is_empty() {
            out.push_str("no ACL applied\n");
        }
        out
    }

    /// The classifier for (sw_if, direction), for inspection and benchmarks.
    pub fn classifier(&self, sw_if: IfIndex, direction: Direction) -> Option<&Classifier> {
        self.interfaces.get(sw_if.as_usize())?.classifiers[direction.slot()].as_deref()
    }
}
