//! The lib's pipeline behind the worker poll loop, and the app's side of the executor.
//!
//! The app numbers interfaces from 0 in its table; the lib's `IfIndex` (VPP's
//! `sw_if_index`) starts at 1 for the same order, so the two differ by one.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use podfwd::buffer::PacketBuf;
use podfwd::cli::HardwareDetail;
use podfwd::config::{ControlPlane, Snapshot};
use podfwd::control::{Background, PcapRequest, PingRequest, Platform, WorkerMailbox};
use podfwd::counters::{vpp_center, PortErrors, WorkerCounters};
use podfwd::nat44::fragments::Datagrams;
use podfwd::node::{DropReason, NodeId};
use podfwd::pipeline::{self, InputError, Worker};
use podfwd::runtime::Subscriber;
use podfwd::stages::arp::LearnEvent;
use podfwd::stages::worker_handoff::{self, WorkerHandoffError};
use podfwd::types::IfIndex;

use crate::capture::Captures;
use crate::dpdk::hugealloc;
use crate::dpdk::mbuf::Mbuf;
use crate::dpdk::memory::{self, DpdkHeap, SystemHeap};
use crate::dpdk::mempool::{Mempool, PoolUsage};
use crate::dpdk::{tsc_hz, CpuPrefetch};
use crate::forward::{Answer, BurstProcessor, LoopMailbox, Question, Verdict};
use crate::hardware::HardwareCommands;
use crate::ping::{PingRun, Pinger};

/// The lib's `IfIndex` of the app's interface at `position`.
pub fn if_index(position: usize) -> IfIndex {
    IfIndex(position as u16 + 1)
}

/// Counts `frames` frames of `bytes` bytes that RX freed on `rx` (as an `IfIndex`) where
/// a VPP user looks: received and dropped in `show interface`, and under the input
/// node's [`InputError::MultiSegment`] in `show errors`. Only the worker that owns `counters` calls it.
pub fn count_multi_segment(counters: &WorkerCounters, rx: IfIndex, frames: usize, bytes: u64) {
    counters.count_rx(rx, frames as u64, bytes);
    for _ in 0..frames {
        counters.count_drop(rx, DropReason::of(InputError::MultiSegment));
    }
}

/// Ethernet's header: a frame is the L3 MTU and this.
const ETHERNET_HEADER: u16 = 14;

/// One worker lcore's pipeline.
pub struct PipelineProcessor {
    worker: Worker<CpuPrefetch>,
    /// The worker's counters, for what RX freed before the pipeline saw it.
    counters: Arc<WorkerCounters>,
    snapshot: Subscriber<Snapshot>,
    mailbox: Arc<WorkerMailbox>,
    learned: SyncSender<LearnEvent>,
    /// Nanoseconds per TSC tick, in 32.32 fixed point: a multiply per burst, not a
    /// 128-bit division.
    ns_per_tick_q32: u128,
    /// This worker's index and how many workers run (worker handoff).
    me: u16,
    workers: u16,
    /// Whether the configuration can make sessions (some interface has an ACL or a NAT44
    /// role): only then do packets need their owner. Known for `sessions_epoch`.
    sessions: bool,
    sessions_epoch: Option<u64>,
    /// Where the first fragments of the last datagrams went, for their later fragments
    /// (`worker_handoff::owner_remembering`).
    fragment_owners: Datagrams<u16>,
    /// The pool ip4-frag takes its fragments' mbufs from.
    pool: Option<Mempool>,
}

impl PipelineProcessor {
    pub fn new(
        worker: Worker<CpuPrefetch>,
        snapshot: Subscriber<Snapshot>,
        mailbox: Arc<WorkerMailbox>,
        learned: SyncSender<LearnEvent>,
    ) -> Self {
        PipelineProcessor {
            counters: worker.counters(),
            worker,
            snapshot,
            mailbox,
            learned,
            ns_per_tick_q32: (1_000_000_000u128 << 32) / u128::from(tsc_hz().max(1)),
            me: 0,
            workers: 1,
            sessions: false,
            sessions_epoch: None,
            fragment_owners: Datagrams::default(),
            pool: None,
        }
    }

    /// The pool ip4-frag allocates fragments from; without one, a datagram to fragment
    /// is dropped under `could not allocate buffer`.
    pub fn fragmenting_from(mut self, pool: Option<Mempool>) -> Self {
        self.pool = pool;
        self
    }

    /// Worker `me` of `workers`: packets whose sessions another worker holds are handed
    /// to it.
    pub fn among_workers(mut self, me: u16, workers: u16) -> Self {
        self.me = me;
        self.workers = workers.max(1);
        self
    }

    /// The TSC reading `tsc` in nanoseconds.
    fn ns_of(&self, tsc: u64) -> u64 {
        ((u128::from(tsc) * self.ns_per_tick_q32) >> 32) as u64
    }
}

impl BurstProcessor for PipelineProcessor {
    fn process_burst(
        &mut self,
        rx_interface: IfIndex,
        packets: &mut [Mbuf],
        verdicts: &mut [Verdict],
        now: u64,
    ) {
        let now = self.ns_of(now);
        let rx = if_index(rx_interface.as_usize());
        let out = self.worker.process(rx, packets, self.snapshot.get(), now);
        for (verdict, decided) in verdicts.iter_mut().zip(out) {
            *verdict = match *decided {
                pipeline::Verdict::Tx(i) if i.0 > 0 => Verdict::Transmit(IfIndex(i.0 - 1)),
                pipeline::Verdict::Fragment(i) if i.0 > 0 => Verdict::Fragment(IfIndex(i.0 - 1)),
                _ => Verdict::Drop,
            };
        }
        if !self.worker.learned().is_empty() {
            for event in self.worker.learned() {
                // A full channel means the main lcore is behind; the next ARP packet
                // from that neighbour teaches it again.
                let _ = self.learned.try_send(*event);
            }
            self.worker.clear_learned();
        }
    }

    fn fragment(
        &mut self,
        rx_interface: IfIndex,
        index: usize,
        packet: &Mbuf,
        tx_interface: IfIndex,
        send: &mut dyn FnMut(Mbuf),
    ) {
        let (rx, tx) = (
            if_index(rx_interface.as_usize()),
            if_index(tx_interface.as_usize()),
        );
        let pool = self.pool.as_ref();
        let alloc = || pool.and_then(Mbuf::alloc);
        self.worker
            .fragment(rx, index, packet, tx, self.snapshot.get(), alloc, send);
    }

    fn rx_discarded(&mut self, rx_interface: IfIndex, frames: usize, bytes: u64) {
        let rx = if_index(rx_interface.as_usize());
        count_multi_segment(&self.counters, rx, frames, bytes);
    }

    fn console_sent(&mut self, tx_interface: IfIndex, bytes: u64) {
        let tx = if_index(tx_interface.as_usize());
        self.counters.count_tx(tx, 1, bytes);
    }

    fn owners(
        &mut self,
        _rx_interface: IfIndex,
        packets: &[Mbuf],
        owners: &mut [u16],
        now: u64,
    ) -> bool {
        if self.workers < 2 {
            return false;
        }
        let snapshot = self.snapshot.get();
        if self.sessions_epoch != Some(snapshot.epoch) {
            self.sessions = snapshot.acl.any_applied() || !snapshot.nat.interface_roles_empty();
            self.sessions_epoch = Some(snapshot.epoch);
        }
        if !self.sessions {
            return false;
        }
        // This pass's clock: the last processed burst's may be seconds old.
        let second = (self.ns_of(now) / 1_000_000_000) as u32;
        let (nat, me) = (&snapshot.nat, self.me);
        let fragments = &mut self.fragment_owners;
        let mut others = false;
        for (owner, mbuf) in owners.iter_mut().zip(packets) {
            let data = mbuf.data();
            *owner = worker_handoff::owner_remembering(nat, data, self.workers, fragments, second)
                .unwrap_or(me);
            others |= *owner != me;
        }
        others
    }

    fn handed_in(&mut self, from: Option<u16>) {
        self.worker.set_handed_from(from);
    }

    fn handed_off(&mut self, rx: IfIndex, handed: usize, refused: (usize, u64), cycles: u64) {
        let rx = if_index(rx.as_usize());
        let counters = &self.counters;
        let (refused, bytes) = refused;
        counters.count_call(NodeId::WorkerHandoff, (handed + refused) as u64, cycles);
        // What is handed over is counted received by the worker that processes it;
        // these never get there.
        counters.count_rx(rx, refused as u64, bytes);
        for _ in 0..refused {
            counters.count_drop(rx, DropReason::of(WorkerHandoffError::CongestionDrop));
        }
    }

    fn between_bursts(&mut self, idle: bool, now: u64) {
        self.snapshot.refresh();
        let now = self.ns_of(now);
        let (worker, snapshot) = (&mut self.worker, self.snapshot.get());
        self.mailbox.serve(|q| worker.answer(q, snapshot, now));
        if idle {
            // Sessions expire even when no packet arrives.
            worker.housekeeping(snapshot, now);
        }
    }
}

/// The poll loop numbers its ports from 0; interface indices start after local0.
fn position(if_index: IfIndex) -> usize {
    if_index.as_usize().wrapping_sub(1)
}

/// `frame` in an mbuf from `pool`, out of the poll loop's interface `interface` of the
/// worker whose mailbox this is.
fn send_through(
    pool: Option<&Mempool>,
    mailbox: &LoopMailbox,
    frame: &[u8],
    interface: usize,
) -> Result<(), String> {
    let pool = pool.ok_or("no packet pool")?;
    let mut mbuf = Mbuf::alloc(pool).ok_or("the packet pool is empty")?;
    if !mbuf.write_frame(frame) {
        return Err("the frame does not fit one mbuf".into());
    }
    match mailbox.ask(
        Question::Send { mbuf, interface },
        std::time::Duration::from_secs(2),
    ) {
        Some(Answer::Sent(sent)) => sent,
        Some(other) => Err(format!("the worker answered {other:?}")),
        None => Err("the worker did not answer within 2 s".into()),
    }
}

/// The executor's view of the DPDK side.
pub struct AppPlatform {
    pub hardware: HardwareCommands,
    /// The packet pools, for `show buffers`.
    pub pools: Vec<Mempool>,
    /// The main lcore's thread first, then the workers', in thread order.
    pub threads: Vec<ThreadRow>,
    /// `pcap trace` on the workers (shared with the launch, which hands a startup file's
    /// capture to them).
    pub captures: Arc<Captures>,
    /// The EAL's arguments as given (`show dpdk version`).
    pub eal_args: String,
    /// `ping` through the workers' poll loops (shared with the ping running beside the
    /// console).
    pub pinger: Arc<Pinger>,
    /// Each worker's NAT44 session table (`--nat-sessions`).
    pub nat_sessions: u32,
}

/// One row of `show threads`.
#[derive(Debug)]
pub struct ThreadRow {
    /// `None` for the main thread, else the worker's index.
    pub worker: Option<u16>,
    pub lcore: u32,
    pub cpu: i32,
    pub socket: i32,
    /// The thread's kernel id, 0 until the thread has stored it (a worker does as it
    /// starts).
    pub lwp: Arc<AtomicI32>,
}

/// `show buffers` in VPP's columns (`%-20s%=6s%=6s%=6s%=11s%=6s%=8s%=8s%=8s`): a row per
/// pool, Avail what its ring holds, Cached what the lcores' caches hold, Used the rest
/// (in RX descriptor rings, which hold `--rxd` mbufs per queue even when idle, in TX
/// rings and in bursts).
pub fn format_buffers(pools: &[PoolUsage]) -> String {
    let line = |name: &str, cols: [String; 8]| {
        let widths = [6, 6, 6, 11, 6, 8, 8, 8];
        let mut text = format!("{name:<20}");
        for (col, width) in cols.iter().zip(widths) {
            text.push_str(&vpp_center(col, width));
        }
        format!("{}\n", text.trim_end())
    };
    let headers = [
        "Index",
        "NUMA",
        "Size",
        "Data Size",
        "Total",
        "Avail",
        "Cached",
        "Used",
    ];
    let mut out = line("Pool Name", headers.map(str::to_owned));
    for (index, pool) in pools.iter().enumerate() {
        out.push_str(&line(
            &pool.name,
            [
                index.to_string(),
                pool.socket.to_string(),
                pool.element_size.to_string(),
                pool.data_size.to_string(),
                pool.total.to_string(),
                pool.available.to_string(),
                pool.cached.to_string(),
                pool.used().to_string(),
            ],
        ));
    }
    out
}

/// What `show memory` prints, gathered by [`AppPlatform::memory`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryReport {
    /// The big-table heap: mappings and bytes ([`crate::dpdk::hugealloc`]).
    pub tables: (usize, usize),
    pub thp: Option<String>,
    pub system: SystemHeap,
    pub dpdk: Vec<DpdkHeap>,
    /// VmRSS, VmHWM and AnonHugePages, in bytes, where /proc says.
    pub resident: Option<u64>,
    pub peak: Option<u64>,
    pub anon_huge: Option<u64>,
}

/// Bytes as VPP's `format_memory_size` writes them: the number below 1K, else two
/// decimals and K, M or G.
pub fn memory_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (unit, suffix) in UNITS {
        if bytes >= unit {
            return format!("{:.2}{suffix}", bytes as f64 / unit as f64);
        }
    }
    bytes.to_string()
}

/// `show memory`: where podfwd's memory is, heap by heap, then the process's resident
/// size as the kernel counts it.
pub fn format_memory(report: &MemoryReport) -> String {
    let size = |b: usize| memory_size(b as u64);
    let mut out = String::new();
    let (mappings, bytes) = report.tables;
    let thp = report.thp.as_deref().unwrap_or("unknown");
    out.push_str(&format!(
        "  table heap: {mappings} mappings, {} (2M-aligned, faulted in at creation; transparent huge pages: {thp})\n",
        size(bytes)
    ));
    out.push_str(&format!(
        "  system heap: used {}, free {}, mapped {}\n",
        size(report.system.used),
        size(report.system.free),
        size(report.system.mapped)
    ));
    for heap in &report.dpdk {
        out.push_str(&format!(
            "  DPDK heap socket {}: total {}, used {}, free {}\n",
            heap.socket,
            size(heap.total),
            size(heap.used),
            size(heap.free)
        ));
    }
    let kernel = |v: Option<u64>| v.map_or_else(|| "unknown".to_owned(), memory_size);
    out.push_str(&format!(
        "  process: resident {} (peak {}), of which anonymous huge pages {}\n",
        kernel(report.resident),
        kernel(report.peak),
        kernel(report.anon_huge)
    ));
    out
}

/// A `Name:   1234 kB` line's value in bytes, from /proc/self/status or smaps_rollup.
pub fn proc_kb(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let mut words = rest.split_whitespace();
        let value: u64 = words.next()?.parse().ok()?;
        (words.next() == Some("kB")).then_some(value * 1024)
    })
}

/// `show threads` in VPP's columns (`%-7s%-20s%-12s%-8s%-25s%-7s%-7s%-7s%-10s`), the
/// scheduling policy read from `/proc`.
pub fn format_threads(rows: &[ThreadRow], sched: impl Fn(i32) -> Option<String>) -> String {
    let line = |cols: [&str; 9]| {
        let [id, name, kind, lwp, policy, lcore, core, socket, state] = cols;
        let text = format!(
            "{id:<7}{name:<20}{kind:<12}{lwp:<8}{policy:<25}{lcore:<7}{core:<7}{socket:<7}{state:<10}"
        );
        format!("{}\n", text.trim_end())
    };
    let mut out = line([
        "ID",
        "Name",
        "Type",
        "LWP",
        "Sched Policy (Priority)",
        "lcore",
        "Core",
        "Socket",
        "State",
    ]);
    for (n, row) in rows.iter().enumerate() {
        let (name, kind) = match row.worker {
            None => ("podfwd_main".to_owned(), ""),
            Some(i) => (format!("podfwd_wk_{i}"), "workers"),
        };
        let lwp = row.lwp.load(Ordering::Relaxed);
        let (lwp, policy) = if lwp > 0 {
            (lwp.to_string(), sched(lwp).unwrap_or_else(|| "-".into()))
        } else {
            ("-".into(), "-".into())
        };
        out.push_str(&line([
            &n.to_string(),
            &name,
            kind,
            &lwp,
            &policy,
            &row.lcore.to_string(),
            &row.cpu.to_string(),
            &row.socket.to_string(),
            "",
        ]));
    }
    out
}

/// A thread's policy and real-time priority as VPP prints them (`other (0)`), from
/// `/proc/self/task/TID/stat`: fields 40 (rt_priority) and 41 (policy), counted after
/// the command name, which may hold spaces and parentheses.
pub fn sched_policy(stat: &str) -> Option<String> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 3 (state) is the first after the name.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let rt_priority: u32 = fields.get(40 - 3)?.parse().ok()?;
    let policy = match fields.get(41 - 3)?.parse::<u32>().ok()? {
        0 => "other",
        1 => "fifo",
        2 => "rr",
        3 => "batch",
        5 => "idle",
        6 => "deadline",
        _ => "unknown",
    };
    Some(format!("{policy} ({rt_priority})"))
}

impl Platform for AppPlatform {
    fn hardware_interfaces(
        &self,
        name: Option<&str>,
        detail: HardwareDetail,
        plane: &ControlPlane,
    ) -> Result<String, String> {
        self.hardware.show_hardware(name, detail, plane)
    }

    fn threads(&self) -> String {
        format_threads(&self.threads, |tid| {
            let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
            sched_policy(&stat)
        })
    }

    fn memory(&self) -> Result<String, String> {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let smaps = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
        Ok(format_memory(&MemoryReport {
            tables: hugealloc::table_heap(),
            thp: hugealloc::thp_mode(),
            system: memory::system_heap(),
            dpdk: memory::dpdk_heaps(),
            resident: proc_kb(&status, "VmRSS"),
            peak: proc_kb(&status, "VmHWM"),
            anon_huge: proc_kb(&smaps, "AnonHugePages"),
        }))
    }

    fn logging(&self) -> Result<String, String> {
        Ok(crate::logging::recent())
    }

    fn buffers(&self) -> Result<String, String> {
        let usage: Vec<PoolUsage> = self.pools.iter().map(Mempool::usage).collect();
        Ok(format_buffers(&usage))
    }

    fn pcap_trace(&self, request: &PcapRequest) -> Result<String, String> {
        // The poll loop numbers its ports from 0; interface indices start after local0.
        self.captures.request(request, position)
    }

    fn ping(&self, request: &PingRequest) -> Result<Background, String> {
        let run = PingRun::claim(&self.pinger)?;
        let (pool, request) = (self.pools.first().cloned(), request.clone());
        Ok(Box::new(
            move |stop: &dyn Fn() -> bool, show: &mut dyn FnMut(&str)| {
                let send = |mailbox: &LoopMailbox, frame: Vec<u8>, interface: usize| {
                    send_through(pool.as_ref(), mailbox, &frame, interface)
                        .map_err(|e| format!("ping: {e}"))
                };
                // Ctrl-C ends a ping typed at the terminal, as it ends ping(8); SIGTERM ends
                // it and then podfwd; `stop` when its socket client goes, or podfwd stops.
                let scope = crate::dpdk::signal::Interruptible::begin();
                let stop =
                    || stop() || scope.interrupted() || crate::dpdk::signal::stop_requested();
                run.pinger().run(&request, position, send, stop, show)
            },
        ))
    }

    fn send_frame(&self, if_index: IfIndex, frame: &[u8]) -> Result<(), String> {
        let mailbox = self.pinger.first_worker().ok_or("no worker to send from")?;
        send_through(self.pools.first(), mailbox, frame, position(if_index))
    }

    fn dpdk_version(&self) -> Result<Vec<(&'static str, String)>, String> {
        Ok(vec![
            ("DPDK Version", format!("DPDK {}", dpdk_sys::DPDK_VERSION)),
            ("DPDK EAL init args", self.eal_args.clone()),
        ])
    }

    fn versions(&self) -> String {
        format!(
            "DPDK {}, {}",
            dpdk_sys::DPDK_VERSION,
            env!("PODFWD_RUSTC_VERSION")
        )
    }

    fn tx_errors(&self, if_index: IfIndex) -> u64 {
        self.hardware.interface_tx_errors(position(if_index))
    }

    fn port_errors(&self, if_index: IfIndex) -> PortErrors {
        self.hardware.interface_port_errors(position(if_index))
    }

    fn interfaces_cleared(&self) -> Vec<(IfIndex, u64)> {
        let back = self.hardware.interfaces_cleared();
        back.into_iter()
            .enumerate()
            .map(|(p, went)| (if_index(p), went))
            .collect()
    }

    fn clear_hardware_interfaces(&self, name: Option<&str>) {
        self.hardware.clear_hardware(name);
    }

    fn nat_session_capacity(&self) -> Option<u32> {
        Some(self.nat_sessions)
    }

    /// A frame must fit one mbuf: RX drops chains (`crate::dpdk::mbuf`).
    fn max_mtu(&self) -> Option<u16> {
        Some(crate::dpdk::mempool::FRAME_ROOM - ETHERNET_HEADER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `/proc/self/task/TID/stat` line whose command name holds a space and a `)`.
    const STAT: &str = "4242 (lcore-worker) 1) R 1 4242 4242 0 -1 4194368 95 0 0 0 \
        312 5 0 0 20 0 3 0 1797 1234567 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 \
        0 -1 1 0 0 0 0 0 0 0 0 0 0 0 0";

    #[test]
    fn sched_policy_reads_rt_priority_and_policy_after_the_name() {
        assert_eq!(sched_policy(STAT).as_deref(), Some("other (0)"));
        let fifo = STAT.replace("-1 1 0 0 0", "-1 1 10 1 0");
        assert_eq!(sched_policy(&fifo).as_deref(), Some("fifo (10)"));
        assert_eq!(sched_policy("4242 (x) R 1 2"), None);
        assert_eq!(sched_policy("no name at all"), None);
    }

    #[test]
    fn show_threads_has_vpps_columns() {
        let row = |worker, lcore, lwp| ThreadRow {
            worker,
            lcore,
            cpu: lcore as i32,
            socket: 0,
            lwp: Arc::new(AtomicI32::new(lwp)),
        };
        let rows = [
            row(None, 0, 1009),
            row(Some(0), 1, 1011),
            row(Some(1), 2, 0),
        ];
        let text = format_threads(&rows, |tid| (tid == 1011).then(|| "other (0)".into()));
        let expected = [
            "ID     Name                Type        LWP     Sched Policy (Priority)  lcore  Core   Socket State",
            "0      podfwd_main                     1009    -                        0      0      0",
            "1      podfwd_wk_0         workers     1011    other (0)                1      1      0",
            "2      podfwd_wk_1         workers     -       -                        2      2      0",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn show_memory_sizes_and_proc_lines() {
        assert_eq!(memory_size(0), "0");
        assert_eq!(memory_size(1023), "1023");
        assert_eq!(memory_size(1536), "1.50K");
        assert_eq!(memory_size(120 << 20), "120.00M");
        assert_eq!(memory_size(3 << 30), "3.00G");
        let status = "Name:\tpodfwd\nVmHWM:\t  470000 kB\nVmRSS:\t  460512 kB\nThreads:\t3\n";
        assert_eq!(proc_kb(status, "VmRSS"), Some(460512 * 1024));
        assert_eq!(proc_kb(status, "VmHWM"), Some(470000 * 1024));
        assert_eq!(proc_kb(status, "Threads"), None, "no unit: not a size");
        assert_eq!(proc_kb(status, "VmSwap"), None);
        let report = MemoryReport {
            tables: (3, 6 << 20),
            thp: Some("madvise".into()),
            system: SystemHeap {
                used: 2 << 20,
                free: 512 << 10,
                mapped: 0,
            },
            dpdk: vec![DpdkHeap {
                socket: 0,
                total: 1 << 30,
                used: 40 << 20,
                free: (1 << 30) - (40 << 20),
            }],
            resident: Some(460512 * 1024),
            peak: None,
            anon_huge: Some(4 << 20),
        };
        let expected = [
            "  table heap: 3 mappings, 6.00M (2M-aligned, faulted in at creation; transparent huge pages: madvise)",
            "  system heap: used 2.00M, free 512.00K, mapped 0",
            "  DPDK heap socket 0: total 1.00G, used 40.00M, free 984.00M",
            "  process: resident 449.72M (peak unknown), of which anonymous huge pages 4.00M",
        ];
        assert_eq!(format_memory(&report).lines().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn show_buffers_has_vpps_columns_and_used_is_the_rest() {
        let pool = PoolUsage {
            name: "podfwd_mbufs".into(),
            socket: 0,
            element_size: 2432,
            data_size: 2048,
            total: 4960,
            available: 2500,
            cached: 300,
        };
        let text = format_buffers(&[pool]);
        let expected = [
            "Pool Name            Index NUMA  Size  Data Size  Total  Avail  Cached   Used",
            "podfwd_mbufs           0     0   2432     2048    4960   2500     300    2160",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    }

    /// Frames RX freed as chains reach `show interface` (received, dropped) and `show
    /// errors` (at dpdk-input, named) through the executor, as a VPP user looks for them.
    #[test]
    fn multi_segment_frames_are_received_and_dropped_where_vpp_shows_them() {
        use podfwd::control::{Control, WorkerLink};
        use podfwd::node::InputKind;
        use podfwd::runtime::Mailbox;
        use podfwd::types::MacAddr;

        let mut plane = ControlPlane::new();
        for (name, device) in [("up0", "net_pcap0"), ("up1", "net_pcap1")] {
            plane
                .add_interface(name, device, MacAddr([2, 0, 0, 0, 0, 1]), InputKind::Dpdk)
                .unwrap();
        }
        let platform = AppPlatform {
            hardware: HardwareCommands::new(Vec::new(), Vec::new()),
            pools: Vec::new(),
            threads: Vec::new(),
            captures: Arc::new(Captures::new(Vec::new(), || crate::capture::Clock {
                tsc: 0,
                wall: std::time::UNIX_EPOCH,
                tsc_hz: 1,
            })),
            eal_args: String::new(),
            pinger: Arc::new(Pinger::new(Vec::new(), || 0, 1)),
            nat_sessions: 1024,
        };
        let mut control = Control::new(plane, Box::new(platform));
        let counters = Arc::new(WorkerCounters::new());
        control.add_worker(WorkerLink {
            lcore: 1,
            counters: Arc::clone(&counters),
            mailbox: Mailbox::new(),
        });
        // Two 3000-byte frames on the app's interface 1: up1, sw_if_index 2.
        count_multi_segment(&counters, if_index(1), 2, 6000);

        let errors = control.execute_line("show errors").unwrap();
        let row = errors
            .lines()
            .find(|l| l.contains("dpdk-input"))
            .unwrap_or_else(|| panic!("no dpdk-input row:\n{errors}"));
        assert_eq!(
            row.split_whitespace().collect::<Vec<_>>(),
            [
                "2",
                "dpdk-input",
                "multi-segment",
                "frame",
                "(larger",
                "than",
                "an",
                "mbuf)"
            ]
        );
        let interfaces = control.execute_line("show interface").unwrap();
        let counter = |name: &str| {
            interfaces
                .lines()
                .skip_while(|l| !l.starts_with("up1 "))
                .take_while(|l| l.starts_with("up1 ") || l.starts_with(' '))
                .find_map(|l| l.split_once(name)?.1.trim().parse::<u64>().ok())
        };
        assert_eq!(counter("rx packets"), Some(2), "{interfaces}");
        assert_eq!(counter("rx bytes"), Some(6000), "{interfaces}");
        assert_eq!(counter("drops"), Some(2), "{interfaces}");
        assert!(
            !interfaces
                .lines()
                .take_while(|l| !l.starts_with("up1 "))
                .any(|l| l.contains("drops")),
            "up0 dropped nothing: {interfaces}"
        );
    }
}
