//! Per-worker counters: interfaces, drops per node and reason, and node runtime.
//!
//! Each worker owns one [`WorkerCounters`] (shared with the main lcore through an `Arc`)
//! and is its only writer. Counters are `AtomicU64`s written with a relaxed load and a
//! relaxed store, not a read-modify-write: on x86 both are plain `mov`s, so counting costs
//! what a plain integer would, and the main lcore reads them at any time without stopping
//! the worker (it may see a burst's counts half applied, never a torn value).
//! `show` commands take a [`CounterTotals`] copy per worker and sum them.

use crate::config::InterfaceConfig;
use crate::node::{DropReason, InputKind, NodeId, MAX_REASONS};
use crate::types::IfIndex;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Interfaces with an index at or above this share the last row of counters.
pub const MAX_INTERFACES: usize = 256;

/// Adds `n`; only the owning worker calls this.
#[inline]
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

#[derive(Debug, Default)]
struct InterfaceCells {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    drops: AtomicU64,
    tx_errors: AtomicU64,
}

#[derive(Debug, Default)]
struct RuntimeCells {
    calls: AtomicU64,
    vectors: AtomicU64,
    cycles: AtomicU64,
    cached: AtomicU64,
    /// The costliest call (`show runtime max`), and the packets it ran on.
    max_cycles: AtomicU64,
    max_vectors: AtomicU64,
}

impl RuntimeCells {
    fn call(&self, vectors: u64, cycles: u64) {
        bump(&self.calls, 1);
        bump(&self.vectors, vectors);
        bump(&self.cycles, cycles);
        // One writer (the worker): a plain compare, as `bump`.
        if cycles > self.max_cycles.load(Ordering::Relaxed) {
            self.max_cycles.store(cycles, Ordering::Relaxed);
            self.max_vectors.store(vectors, Ordering::Relaxed);
        }
    }
}

/// One worker's counters.
#[derive(Debug)]
pub struct WorkerCounters {
    interfaces: Box<[InterfaceCells]>,
    drops: [[AtomicU64; MAX_REASONS]; NodeId::COUNT],
    runtime: [RuntimeCells; NodeId::COUNT],
    /// The input node's runtime, per kind of port: VPP names an input node after its
    /// driver (`virtio-input`, `dpdk-input`), and so does `show runtime` here.
    inputs: [RuntimeCells; INPUT_KINDS],
}

const INPUT_KINDS: usize = InputKind::ALL.len();

impl Default for WorkerCounters {
    fn default() -> Self {
        WorkerCounters::new()
    }
}

impl WorkerCounters {
    pub fn new() -> Self {
        WorkerCounters {
            interfaces: (0..MAX_INTERFACES)
                .map(|_| InterfaceCells::default())
                .collect(),
            drops: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            runtime: std::array::from_fn(|_| RuntimeCells::default()),
            inputs: std::array::from_fn(|_| RuntimeCells::default()),
        }
    }

    fn interface(&self, i: IfIndex) -> &InterfaceCells {
        let row = i.as_usize().min(MAX_INTERFACES - 1);
        &self.interfaces[row]
    }

    pub fn count_rx(&self, i: IfIndex, packets: u64, bytes: u64) {
        let c = self.interface(i);
        bump(&c.rx_packets, packets);
        bump(&c.rx_bytes, bytes);
    }

    pub fn count_tx(&self, i: IfIndex, packets: u64, bytes: u64) {
        let c = self.interface(i);
        bump(&c.tx_packets, packets);
        bump(&c.tx_bytes, bytes);
    }

    /// Packets the port did not take (tx ring full); the app reports them after tx_burst.
    pub fn count_tx_error(&self, i: IfIndex, packets: u64) {
        bump(&self.interface(i).tx_errors, packets);
    }

    /// A packet received on `rx_if` and dropped for `reason`.
    pub fn count_drop(&self, rx_if: IfIndex, reason: DropReason) {
        bump(&self.interface(rx_if).drops, 1);
        self.count_reason(reason, 1);
    }

    /// A reason counted without a drop of the packet it is about (the packet was turned
    /// into something else, e.g. an ARP request).
    pub fn count_reason(&self, reason: DropReason, n: u64) {
        let code = usize::from(reason.code).min(MAX_REASONS - 1);
        bump(&self.drops[reason.node.index()][code], n);
    }

    /// One call of `node` over `vectors` packets, taking `cycles`. The input node's
    /// calls go by the port's kind: [`WorkerCounters::count_input`].
    pub fn count_call(&self, node: NodeId, vectors: u64, cycles: u64) {
        self.runtime[node.index()].call(vectors, cycles);
    }

    /// One call of the input node of `kind` over `vectors` packets, taking `cycles`.
    pub fn count_input(&self, kind: InputKind, vectors: u64, cycles: u64) {
        self.inputs[kind.index()].call(vectors, cycles);
    }

    /// Cycles `node` spent outside a call of its own (ip4-flow-cache learning, after
    /// `<interface>-output`).
    pub fn count_cycles(&self, node: NodeId, cycles: u64) {
        bump(&self.runtime[node.index()].cycles, cycles);
    }

    /// Packets ip4-flow-cache carried past `node`: they count as the node's vectors,
    /// without a call or cycles of the node's own.
    pub fn count_cached(&self, node: NodeId, packets: u64) {
        bump(&self.runtime[node.index()].cached, packets);
    }

    /// A plain copy of every counter, for `show` commands and tests.
    pub fn totals(&self) -> CounterTotals {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut totals = CounterTotals::default();
        for (t, c) in totals.interfaces.iter_mut().zip(self.interfaces.iter()) {
            *t = InterfaceTotals {
                rx_packets: load(&c.rx_packets),
                rx_bytes: load(&c.rx_bytes),
                tx_packets: load(&c.tx_packets),
                tx_bytes: load(&c.tx_bytes),
                drops: load(&c.drops),
                tx_errors: load(&c.tx_errors),
                port: PortErrors::default(),
            };
        }
        for (t, c) in totals.drops.iter_mut().zip(self.drops.iter()) {
            for (t, c) in t.iter_mut().zip(c.iter()) {
                *t = load(c);
            }
        }
        let runtime_totals = |c: &RuntimeCells| RuntimeTotals {
            calls: load(&c.calls),
            vectors: load(&c.vectors),
            cycles: load(&c.cycles),
            cached: load(&c.cached),
            max_cycles: load(&c.max_cycles),
            max_vectors: load(&c.max_vectors),
        };
        for (t, c) in totals.runtime.iter_mut().zip(self.runtime.iter()) {
            *t = runtime_totals(c);
        }
        for (t, c) in totals.inputs.iter_mut().zip(self.inputs.iter()) {
            *t = runtime_totals(c);
        }
        totals
    }

    /// `clear errors`, `clear runtime`, `clear interfaces` in one: only the worker may call
    /// it (it is a write), between bursts.
    pub fn clear(&self) {
        self.clear_interfaces();
        self.clear_errors();
        self.clear_runtime();
    }

    /// `clear interfaces`: only from the worker, like every write here.
    pub fn clear_interfaces(&self) {
        for c in self.interfaces.iter() {
            for cell in [
                &c.rx_packets,
                &c.rx_bytes,
                &c.tx_packets,
                &c.tx_bytes,
                &c.drops,
                &c.tx_errors,
            ] {
                cell.store(0, Ordering::Relaxed);
            }
        }
    }

    /// `clear errors`.
    pub fn clear_errors(&self) {
        self.drops
            .iter()
            .flatten()
            .for_each(|c| c.store(0, Ordering::Relaxed));
    }

    /// `clear runtime`.
    pub fn clear_runtime(&self) {
        for c in self.runtime.iter().chain(&self.inputs) {
            c.calls.store(0, Ordering::Relaxed);
            c.vectors.store(0, Ordering::Relaxed);
            c.cycles.store(0, Ordering::Relaxed);
            c.cached.store(0, Ordering::Relaxed);
            c.max_cycles.store(0, Ordering::Relaxed);
            c.max_vectors.store(0, Ordering::Relaxed);
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InterfaceTotals {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub drops: u64,
    pub tx_errors: u64,
    /// What the port's driver counted (not the workers): see [`PortErrors`].
    pub port: PortErrors,
}

/// What a port's driver counts before any worker sees a frame, in VPP's names: frames
/// it had no buffer for (`rx-no-buf`), frames the port dropped because its ring was full
/// (`rx-miss`: the workers did not keep up), and bad frames (`rx-error`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortErrors {
    pub rx_no_buf: u64,
    pub rx_miss: u64,
    pub rx_error: u64,
}

/// How `show runtime` shows its table: VPP's `verbose` (every node, also those that
/// never ran) and `max` (the costliest call's columns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuntimeView {
    pub verbose: bool,
    pub max: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuntimeTotals {
    pub calls: u64,
    /// Packets the node itself ran on.
    pub vectors: u64,
    pub cycles: u64,
    /// Packets ip4-flow-cache carried past the node (an established flow's decisions,
    /// remembered): part of the node's traffic, not of its own calls or cycles.
    pub cached: u64,
    /// The costliest call's cycles, and the packets it ran on.
    pub max_cycles: u64,
    pub max_vectors: u64,
}

/// `text` centred in `width` as VPP's `%=Ns` centres it: an odd padding puts the extra
/// space on the left (Rust's `{:^N}` puts it on the right).
pub fn vpp_center(text: &str, width: usize) -> String {
    let pad = width.saturating_sub(text.chars().count());
    let left = pad.div_ceil(2);
    format!("{}{text}{}", " ".repeat(left), " ".repeat(pad - left))
}

/// Counter values, of one worker or summed over several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterTotals {
    pub interfaces: Vec<InterfaceTotals>,
    pub drops: [[u64; MAX_REASONS]; NodeId::COUNT],
    pub runtime: [RuntimeTotals; NodeId::COUNT],
    /// Per input kind, in [`InputKind::ALL`]'s order.
    pub inputs: [RuntimeTotals; INPUT_KINDS],
}

impl Default for CounterTotals {
    fn default() -> Self {
        CounterTotals {
            interfaces: vec![InterfaceTotals::default(); MAX_INTERFACES],
            drops: [[0; MAX_REASONS]; NodeId::COUNT],
            runtime: [RuntimeTotals::default(); NodeId::COUNT],
            inputs: [RuntimeTotals::default(); INPUT_KINDS],
        }
    }
}

impl CounterTotals {
    /// The sum over workers.
    pub fn sum<'a>(workers: impl IntoIterator<Item = &'a WorkerCounters>) -> CounterTotals {
        let mut sum = CounterTotals::default();
        for w in workers {
            sum.add(&w.totals());
        }
        sum
    }

    pub fn add(&mut self, other: &CounterTotals) {
        for (a, b) in self.interfaces.iter_mut().zip(&other.interfaces) {
            a.rx_packets += b.rx_packets;
            a.rx_bytes += b.rx_bytes;
            a.tx_packets += b.tx_packets;
            a.tx_bytes += b.tx_bytes;
            a.drops += b.drops;
            a.tx_errors += b.tx_errors;
        }
        for (a, b) in self.drops.iter_mut().zip(&other.drops) {
            for (a, b) in a.iter_mut().zip(b) {
                *a += b;
            }
        }
        let runtime = self.runtime.iter_mut().zip(&other.runtime);
        for (a, b) in runtime.chain(self.inputs.iter_mut().zip(&other.inputs)) {
            a.calls += b.calls;
            a.vectors += b.vectors;
            a.cycles += b.cycles;
            a.cached += b.cached;
            if b.max_cycles > a.max_cycles {
                (a.max_cycles, a.max_vectors) = (b.max_cycles, b.max_vectors);
            }
        }
    }

    pub fn interface(&self, i: IfIndex) -> InterfaceTotals {
        self.interfaces
            .get(i.as_usize())
            .copied()
            .unwrap_or_default()
    }

    pub fn reason(&self, reason: DropReason) -> u64 {
        self.drops
            .get(reason.node.index())
            .and_then(|row| row.get(usize::from(reason.code)))
            .copied()
            .unwrap_or(0)
    }

    /// `show errors`: count, node and reason of every non-zero counter, as VPP prints it.
    /// `reason_text` names a reason (see `stages::drop_reason_text`).
    pub fn format_errors(&self, reason_text: impl Fn(DropReason) -> &'static str) -> String {
        let mut out = format!(
            "{}{}Reason\n",
            vpp_center("Count", 10),
            vpp_center("Node", 40)
        );
        for node in NodeId::ALL {
            for (code, &count) in self.drops[node.index()].iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let reason = DropReason {
                    node,
                    code: code as u8,
                };
                let _ = writeln!(
                    out,
                    "{count:>10}{}{}",
                    vpp_center(node.name(), 40),
                    reason_text(reason)
                );
            }
        }
        out
    }

    /// `show runtime`, in VPP's columns: per node, its state, calls, vectors, suspends,
    /// clocks per packet and vectors per call, rows sorted by name as VPP sorts them.
    /// Vectors include the packets ip4-flow-cache carried past the node; clocks and
    /// vectors per call are over the packets the node ran on itself. Nodes never suspend
    /// here (there are no process nodes), so Suspends is 0.
    pub fn format_runtime(&self) -> String {
        self.format_runtime_as(RuntimeView::default())
    }

    /// `show runtime [verbose] [max]`: `verbose` lists the nodes that never ran too;
    /// `max` VPP's other columns: the costliest call's clocks and its vectors, its
    /// clocks per vector, then the averages.
    pub fn format_runtime_as(&self, view: RuntimeView) -> String {
        let columns: &[(&str, usize)] = match view.max {
            false => &[
                ("Name", 30),
                ("State", 12),
                ("Calls", 16),
                ("Vectors", 16),
                ("Suspends", 16),
                ("Clocks", 16),
                ("Vectors/Call", 16),
            ],
            true => &[
                ("Name", 30),
                ("Max Node Clocks", 17),
                ("Vectors at Max", 16),
                ("Max Clocks", 16),
                ("Avg Clocks", 16),
                ("Avg Vectors/Call", 16),
            ],
        };
        let mut out: String = columns.iter().map(|&(h, w)| vpp_center(h, w)).collect();
        out.push('\n');
        // VPP: input nodes poll, internal nodes are active. The input node has a row
        // per kind of port, named after it.
        let mut rows: Vec<(&str, &str, RuntimeTotals)> = NodeId::ALL
            .iter()
            .filter(|&&node| node != NodeId::Input)
            .map(|node| (node.name(), "active", self.runtime[node.index()]))
            .chain(
                InputKind::ALL
                    .iter()
                    .map(|kind| (kind.node_name(), "polling", self.inputs[kind.index()])),
            )
            .collect();
        rows.sort_by_key(|&(name, ..)| name);
        let mut cached = 0;
        for (name, state, r) in rows {
            if r.calls == 0 && r.cached == 0 && !view.verbose {
                continue;
            }
            cached = cached.max(r.cached);
            let clocks = r.cycles as f64 / r.vectors.max(1) as f64;
            let per_call = r.vectors as f64 / r.calls.max(1) as f64;
            let _ = match view.max {
                false => writeln!(
                    out,
                    "{:<30}{}{:>16}{:>16}{:>16}{:>16}{:>16.2}",
                    name,
                    vpp_center(state, 12),
                    r.calls,
                    r.vectors + r.cached,
                    0,
                    format!("{clocks:.2e}"),
                    per_call
                ),
                true => {
                    let at_max = r.max_cycles as f64 / r.max_vectors.max(1) as f64;
                    writeln!(
                        out,
                        "{:<30}{}{}{}{}{}",
                        name,
                        vpp_center(&format!("{:.2e}", r.max_cycles as f64), 17),
                        vpp_center(&r.max_vectors.to_string(), 16),
                        vpp_center(&format!("{at_max:.2e}"), 16),
                        vpp_center(&format!("{clocks:.2e}"), 16),
                        vpp_center(&format!("{per_call:.2e}"), 16)
                    )
                }
            };
        }
        if cached > 0 && !view.max {
            let _ = writeln!(
                out,
                "Vectors include the packets of established flows that {} carried past \
                 the node; Clocks and Vectors/Call are over the packets it ran on itself.",
                NodeId::Ip4FlowCache.name()
            );
        }
        out
    }

    /// The two lines above a thread's `show runtime` table, over `seconds` of counting:
    /// `Time 12.3, average vectors/node 31.50` and VPP's `vector rates in .., out ..,
    /// drop .., punt ..` per second (the input nodes' vectors, interface-output's,
    /// error-drop's; nothing is punted).
    pub fn format_runtime_rates(&self, seconds: f64) -> String {
        let rows = self.runtime.iter().chain(&self.inputs);
        let (calls, vectors) = rows.fold((0, 0), |(c, v), r| (c + r.calls, v + r.vectors));
        let input: u64 = self.inputs.iter().map(|r| r.vectors).sum();
        let vectors_of = |node: NodeId| self.runtime[node.index()].vectors;
        let per_second = |count: u64| match seconds > 0.0 {
            true => count as f64 / seconds,
            false => 0.0,
        };
        format!(
            "Time {seconds:.1}, average vectors/node {:.2}\n  vector rates in {:.4e}, out {:.4e}, \
             drop {:.4e}, punt {:.4e}\n",
            vectors as f64 / calls.max(1) as f64,
            per_second(input),
            per_second(vectors_of(NodeId::InterfaceOutput)),
            per_second(vectors_of(NodeId::ErrorDrop)),
            0.0
        )
    }

    /// `show interface`: VPP's table (`%=32s%=5s%=10s%=21s%=16s%=16s` over
    /// `%-32U%=5d%=10U%=21U` and a `%-16s%16Ld` row per non-zero counter, the following
    /// ones indented under the first).
    pub fn format_interfaces(&self, interfaces: &[InterfaceConfig]) -> String {
        let mut out: String = [
            ("Name", 32),
            ("Idx", 5),
            ("State", 10),
            ("MTU (L3/IP4/IP6/MPLS)", 21),
            ("Counter", 16),
            ("Count", 16),
        ]
        .iter()
        .map(|&(h, w)| vpp_center(h, w))
        .collect();
        out.push('\n');
        for itf in interfaces {
            let t = self.interface(itf.index);
            let rows = [
                ("rx packets", t.rx_packets),
                ("rx bytes", t.rx_bytes),
                ("tx packets", t.tx_packets),
                ("tx bytes", t.tx_bytes),
                ("drops", t.drops),
                ("rx-no-buf", t.port.rx_no_buf),
                ("rx-miss", t.port.rx_miss),
                ("rx-error", t.port.rx_error),
                ("tx-error", t.tx_errors),
            ];
            let state = if itf.admin_up { "up" } else { "down" };
            let mtu = format!("{}/0/0/0", itf.mtu);
            let head = format!(
                "{:<32}{}{}{}",
                itf.name,
                vpp_center(&itf.index.to_string(), 5),
                vpp_center(state, 10),
                vpp_center(&mtu, 21)
            );
            let indent = head.chars().count();
            let mut line = head;
            for (n, (name, count)) in rows.into_iter().filter(|r| r.1 != 0).enumerate() {
                if n > 0 {
                    let _ = writeln!(out, "{line}");
                    line = " ".repeat(indent);
                }
                let _ = write!(line, "{name:<16}{count:>16}");
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_sums_across_workers() {
        let a = WorkerCounters::new();
        let b = WorkerCounters::new();
        a.count_rx(IfIndex(1), 2, 148);
        b.count_rx(IfIndex(1), 1, 74);
        b.count_tx(IfIndex(2), 1, 74);
        b.count_tx_error(IfIndex(2), 3);
        let reason = DropReason {
            node: NodeId::Ip4Input,
            code: 2,
        };
        a.count_drop(IfIndex(1), reason);
        a.count_call(NodeId::Ip4Input, 256, 2560);
        b.count_call(NodeId::Ip4Input, 128, 1280);
        let sum = CounterTotals::sum([&a, &b]);
        let one = sum.interface(IfIndex(1));
        assert_eq!((one.rx_packets, one.rx_bytes, one.drops), (3, 222, 1));
        let two = sum.interface(IfIndex(2));
        assert_eq!((two.tx_packets, two.tx_bytes, two.tx_errors), (1, 74, 3));
        assert_eq!(sum.reason(reason), 1);
        let rt = sum.runtime[NodeId::Ip4Input.index()];
        assert_eq!((rt.calls, rt.vectors, rt.cycles), (2, 384, 3840));
        a.clear();
        assert_eq!(a.totals(), CounterTotals::default());
    }

    #[test]
    fn interface_index_past_table_does_not_panic() {
        let c = WorkerCounters::new();
        c.count_rx(IfIndex(u16::MAX), 1, 60);
        assert_eq!(
            c.totals()
                .interface(IfIndex(MAX_INTERFACES as u16 - 1))
                .rx_packets,
            1
        );
    }

    #[test]
    fn show_errors_lists_nonzero_counters() {
        let c = WorkerCounters::new();
        let reason = DropReason {
            node: NodeId::Ip4Input,
            code: 2,
        };
        c.count_drop(IfIndex(1), reason);
        c.count_drop(IfIndex(1), reason);
        let text = c.totals().format_errors(|_| "ip4 checksum error");
        let lines: Vec<&str> = text.lines().collect();
        // VPP's %=10s%=40s over %10lu%=40v, the odd centring space on the left.
        assert_eq!(
            lines,
            [
                concat!(
                    "   Count  ",
                    "                  Node                  ",
                    "Reason"
                ),
                concat!(
                    "         2",
                    "                ip4-input               ",
                    "ip4 checksum error"
                ),
            ]
        );
    }

    #[test]
    fn show_interface_has_vpps_columns() {
        use crate::config::ControlPlane;
        use crate::node::InputKind;
        let mut cp = ControlPlane::new();
        for name in ["tap0", "tap1"] {
            cp.add_interface(
                name,
                name,
                crate::types::MacAddr([2, 0, 0, 0, 0, 1]),
                InputKind::Virtio,
            )
            .unwrap();
        }
        cp.set_state("tap0", true).unwrap();
        let c = WorkerCounters::new();
        c.count_rx(IfIndex(1), 5, 518);
        c.count_tx(IfIndex(1), 4, 440);
        c.count_tx_error(IfIndex(2), 1);
        let mut totals = c.totals();
        // The port's own counts, in VPP's order after drops; a zero one is left out.
        totals.interfaces[2].port = PortErrors {
            rx_no_buf: 0,
            rx_miss: 7,
            rx_error: 2,
        };
        let text = totals.format_interfaces(cp.interfaces());
        // Widths and VPP's centring (the odd space on the left), as in VPP's output.
        let expected = [
            concat!(
                "              Name               Idx    State  MTU (L3/IP4/I",
                "P6/MPLS)     Counter          Count     "
            ),
            concat!(
                "tap0                              1      up          1500/0/",
                "0/0     rx packets                     5"
            ),
            concat!(
                "                                                            ",
                "        rx bytes                     518"
            ),
            concat!(
                "                                                            ",
                "        tx packets                     4"
            ),
            concat!(
                "                                                            ",
                "        tx bytes                     440"
            ),
            concat!(
                "tap1                              2     down         1500/0/",
                "0/0     rx-miss                        7"
            ),
            concat!(
                "                                                            ",
                "        rx-error                       2"
            ),
            concat!(
                "                                                            ",
                "        tx-error                       1"
            ),
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn runtime_rates_are_per_second_of_the_nodes_vectors() {
        let c = WorkerCounters::new();
        c.count_input(InputKind::Virtio, 30, 0);
        c.count_input(InputKind::Virtio, 10, 0);
        c.count_call(NodeId::Ip4Lookup, 40, 0);
        c.count_call(NodeId::InterfaceOutput, 36, 0);
        c.count_call(NodeId::ErrorDrop, 4, 0);
        // 120 vectors over 5 calls; in 40, out 36, drop 4 over 2 s.
        assert_eq!(
            c.totals().format_runtime_rates(2.0),
            "Time 2.0, average vectors/node 24.00\n  vector rates in 2.0000e1, out 1.8000e1, \
             drop 2.0000e0, punt 0.0000e0\n"
        );
        assert_eq!(
            CounterTotals::default().format_runtime_rates(0.0),
            "Time 0.0, average vectors/node 0.00\n  vector rates in 0.0000e0, out 0.0000e0, \
             drop 0.0000e0, punt 0.0000e0\n"
        );
    }

    #[test]
    fn show_runtime_gives_clocks_per_packet() {
        let c = WorkerCounters::new();
        c.count_call(NodeId::Ip4Lookup, 256, 2560);
        c.count_call(NodeId::Ip4Lookup, 256, 2560);
        c.count_input(InputKind::Dpdk, 2, 300);
        c.count_input(InputKind::Virtio, 4, 400);
        c.count_call(NodeId::AclIn, 1, 200);
        let text = c.totals().format_runtime();
        // VPP's widths (%=30s%=12s%=16s... over %-30v%=12U%16Ld...) and centring (the odd
        // space on the left), as VPP's own output reads; rows by name.
        let expected = [
            concat!(
                "             Name                 State         Calls         ",
                " Vectors        Suspends         Clocks       Vectors/Call  "
            ),
            concat!(
                "acl-plugin-in-ip4-fa             active                  1    ",
                "           1               0          2.00e2            1.00"
            ),
            concat!(
                "dpdk-input                       polling                 1    ",
                "           2               0          1.50e2            2.00"
            ),
            concat!(
                "ip4-lookup                       active                  2    ",
                "         512               0          1.00e1          256.00"
            ),
            concat!(
                "virtio-input                     polling                 1    ",
                "           4               0          1.00e2            4.00"
            ),
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    }

    /// `show runtime max`: the costliest call per node, summed over workers by taking the
    /// costlier; `verbose` lists the nodes that never ran; `clear runtime` forgets it.
    #[test]
    fn show_runtime_max_gives_the_costliest_call() {
        let (a, b) = (WorkerCounters::new(), WorkerCounters::new());
        a.count_call(NodeId::Ip4Lookup, 32, 3200);
        a.count_call(NodeId::Ip4Lookup, 1, 500);
        b.count_call(NodeId::Ip4Lookup, 2, 3000);
        b.count_input(InputKind::Dpdk, 4, 800);
        let totals = CounterTotals::sum([&a, &b]);
        let max = RuntimeView {
            verbose: false,
            max: true,
        };
        // VPP's %=30s%=17s%=16s... over %-30v%=17.2e%=16d%=16.2e%=16.2e%=16.2e.
        let expected = [
            concat!(
                "             Name              Max Node Clocks  Vectors at Max ",
                "   Max Clocks      Avg Clocks   Avg Vectors/Call"
            ),
            concat!(
                "dpdk-input                          8.00e2             4       ",
                "     2.00e2          2.00e2          4.00e0     "
            ),
            concat!(
                "ip4-lookup                          3.20e3            32       ",
                "     1.00e2          1.91e2          1.17e1     "
            ),
        ];
        let text = totals.format_runtime_as(max);
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
        let verbose = totals.format_runtime_as(RuntimeView {
            verbose: true,
            max: false,
        });
        let rows = |text: &str| text.lines().count() - 1;
        assert_eq!(rows(&verbose), NodeId::COUNT - 1 + InputKind::ALL.len());
        assert!(verbose.contains("\nip4-rewrite                      active                  0"));
        a.clear_runtime();
        let cleared = a.totals().format_runtime_as(RuntimeView {
            verbose: true,
            max: true,
        });
        assert!(cleared.contains("\nip4-lookup                          0.00e0             0  "));
    }
}
