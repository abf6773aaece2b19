//! The CLI executor: applies parsed commands ([`crate::cli::Command`]) to the control
//! plane, publishes the resulting snapshot, and answers `show` commands.
//!
//! One executor serves the console, the control socket and the startup file, all on the
//! main lcore. A command that fails changes nothing: every control-plane operation it
//! calls validates before it changes anything, and a snapshot is published only after a
//! change succeeded.
//!
//! Counters are read from the workers' shared counter blocks without stopping them. What
//! only a worker holds (its sessions, its trace buffer) is asked for through its
//! [`Mailbox`]; the worker answers between two bursts.

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::acl::{AclConfig, AclTable};
use crate::cli::{
    self, Command, HardwareDetail, InterfaceRef, PcapCapture, PcapTrace, PingArgs, RoutePath,
};
use crate::config::{
    format_fib, format_fib_summary, format_interface_addresses, format_neighbors, ControlPlane,
    InterfaceConfig, NeighborFlags, RouteTarget, Snapshot,
};
use crate::counters::{CounterTotals, PortErrors, RuntimeView, WorkerCounters};
use crate::fib::Adjacency;
use crate::nat44::{
    self, LbLocal, Nat44Config, Nat44Table, NatInterfaceRole, NatTimeouts, SessionSelector,
};
use crate::node::InputKind;
use crate::pipeline::WorkerThread;
use crate::runtime::{Mailbox, Publisher};
use crate::stages::drop_reason_text;
use crate::types::{IfIndex, MacAddr};

#[cfg(test)]
mod tests;

/// A question only a worker can answer, asked between its bursts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkerQuestion {
    TraceAdd {
        input: InputKind,
        count: u32,
    },
    ShowTrace {
        max: usize,
    },
    ClearTrace,
    ClearErrors,
    ClearRuntime,
    ClearInterfaces,
    /// `show acl-plugin sessions`, or with `one` (thread, index) that session alone,
    /// from the worker of that thread (the others answer nothing).
    AclSessions {
        one: Option<(u32, u32)>,
    },
    ClearAclSessions,
    /// The ACL hit counters, of one ACL index or all.
    AclHits {
        only: Option<u32>,
    },
    NatSessions {
        detail: bool,
    },
    NatAddresses,
    NatSummary,
    FlowCache,
    /// Deletes the sessions named; the answer is how many, a number.
    NatDeleteSessions(SessionSelector),
    /// Deletes every NAT44 session.
    NatClearSessions,
}

impl WorkerQuestion {
    /// Whether answering changes the worker's state: such a question that times out may
    /// still be applied, if the worker took it just before the deadline.
    pub fn changes_state(&self) -> bool {
        match self {
            WorkerQuestion::TraceAdd { .. }
            | WorkerQuestion::ClearTrace
            | WorkerQuestion::ClearErrors
            | WorkerQuestion::ClearRuntime
            | WorkerQuestion::ClearInterfaces
            | WorkerQuestion::ClearAclSessions
            | WorkerQuestion::NatDeleteSessions(_)
            | WorkerQuestion::NatClearSessions => true,
            WorkerQuestion::ShowTrace { .. }
            | WorkerQuestion::AclSessions { .. }
            | WorkerQuestion::AclHits { .. }
            | WorkerQuestion::NatSessions { .. }
            | WorkerQuestion::NatAddresses
            | WorkerQuestion::NatSummary
            | WorkerQuestion::FlowCache => false,
        }
    }
}

pub type WorkerAnswer = Result<String, String>;

/// What a `show` of the workers' state answers before they run (in the startup file).
pub const NOT_RUNNING_YET: &str =
    "nothing to show yet: the workers start once the startup file has run\n";
pub type WorkerMailbox = Mailbox<WorkerQuestion, WorkerAnswer>;

/// How the main lcore reaches one worker.
#[derive(Clone)]
pub struct WorkerLink {
    pub lcore: u32,
    pub counters: Arc<WorkerCounters>,
    pub mailbox: Arc<WorkerMailbox>,
}

/// What the executor needs from the program around it: the DPDK side in the app, a
/// stand-in in tests.
pub trait Platform {
    /// `show hardware-interfaces [brief|verbose|detail] [NAME]`: driver, queues, MAC,
    /// link, xstats.
    fn hardware_interfaces(
        &self,
        name: Option<&str>,
        detail: HardwareDetail,
        plane: &ControlPlane,
    ) -> Result<String, String>;
    /// `show threads`.
    fn threads(&self) -> String;
    /// `show memory`: the heaps and the process's resident size.
    fn memory(&self) -> Result<String, String> {
        Err("show memory: only podfwd's DPDK side counts its heaps".into())
    }
    /// `show logging`: the last lines of the process's log.
    fn logging(&self) -> Result<String, String> {
        Err("show logging: this process keeps no log".into())
    }
    /// `show buffers`: the packet buffer pools. Only a platform with DPDK has them.
    fn buffers(&self) -> Result<String, String> {
        Err("show buffers: no packet buffer pools without DPDK".into())
    }
    /// `ping`: the work that sends the requests, one per interval, and reports the
    /// replies as VPP's ping does; it runs beside the console ([`Background`]). Only a
    /// platform with ports sends.
    fn ping(&self, _request: &PingRequest) -> Result<Background, String> {
        Err("ping: no ports to send from without DPDK".into())
    }
    /// Sends `frame` out of `if_index` as it is (the console's ARP request for `ping`).
    fn send_frame(&self, _if_index: IfIndex, _frame: &[u8]) -> Result<(), String> {
        Err("no ports to send from without DPDK".into())
    }
    /// `pcap trace`: start a capture on the workers, stop it and write the file, or
    /// say how far it got. Only a platform with ports captures.
    fn pcap_trace(&self, _request: &PcapRequest) -> Result<String, String> {
        Err("pcap trace: no ports to capture on without DPDK".into())
    }
    /// The versions `show version` adds to podfwd's own (DPDK's, the compiler's).
    fn versions(&self) -> String;
    /// `show dpdk version`'s rows: `DPDK Version`, `DPDK EAL init args`.
    fn dpdk_version(&self) -> Result<Vec<(&'static str, String)>, String> {
        Err("show dpdk version: no DPDK in this process".into())
    }
    /// Packets the driver refused to send on an interface (counted outside the pipeline).
    fn tx_errors(&self, if_index: IfIndex) -> u64;
    /// What the interface's port counted on receive that no worker saw (`show
    /// interface`'s rx-no-buf, rx-miss, rx-error), since `clear interfaces`.
    fn port_errors(&self, _if_index: IfIndex) -> PortErrors {
        PortErrors::default()
    }
    /// `clear interfaces` done on the workers: counters kept outside them (tx errors)
    /// count from now. Returns how far each interface's tx errors went back (what they
    /// read at the clear), so that `show errors`' line, which no interface clear resets,
    /// goes on from exactly there.
    fn interfaces_cleared(&self) -> Vec<(IfIndex, u64)> {
        Vec::new()
    }
    /// `clear hardware-interfaces [NAME]`: the drivers' counters count from now.
    fn clear_hardware_interfaces(&self, _name: Option<&str>) {}
    /// The largest L3 MTU whose frames the ports can receive whole, if limited (the app:
    /// what fits one mbuf); `set interface mtu` refuses more.
    fn max_mtu(&self) -> Option<u16> {
        None
    }
    /// The NAT44 sessions each worker's table holds, if fixed (the app: allocated at
    /// start, `--nat-sessions`); `nat44 session limit` refuses more.
    fn nat_session_capacity(&self) -> Option<u32> {
        None
    }
}

/// Work a command leaves to run beside the console, on a thread of its own: a ping's
/// requests and its wait for the replies, which must not hold every other client's
/// commands (VPP suspends the CLI process that runs a ping, and serves the others). Its
/// arguments: `stop`, which says to end it early (its client went, podfwd stops), and
/// `show`, which takes output to show at once (a ping's lines, as its replies come); it
/// returns the rest of the command's output.
pub type Background =
    Box<dyn FnOnce(&dyn Fn() -> bool, &mut dyn FnMut(&str)) -> Result<String, String> + Send>;

/// Runs `work` in place to its end, its shown output put before the rest.
fn run_in_place(work: Background) -> Result<String, String> {
    let mut shown = String::new();
    let rest = work(&|| false, &mut |part| shown.push_str(part));
    match rest {
        Ok(rest) => Ok(shown + &rest),
        Err(rest) => Err(shown + &rest),
    }
}

/// What [`Control::start_line`] did with a line.
pub enum Started {
    /// It ran; its output or error.
    Done(Result<String, String>),
    /// The rest of it is this work, for the caller to run.
    Background(Background),
}

/// A [`Platform`] with no DPDK side at all, for what runs the executor without one
/// (integration tests, benches): empty listings, no transmit errors.
pub struct NoHardware;

impl Platform for NoHardware {
    fn hardware_interfaces(
        &self,
        _name: Option<&str>,
        _detail: HardwareDetail,
        _plane: &ControlPlane,
    ) -> Result<String, String> {
        Ok(String::new())
    }
    fn threads(&self) -> String {
        String::new()
    }
    fn versions(&self) -> String {
        String::new()
    }
    fn tx_errors(&self, _if_index: IfIndex) -> u64 {
        0
    }
}

/// `ping` as the platform gets it: where the requests leave, from which address, with
/// which Ethernet header (the route's next hop, as ip4-rewrite would write it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingRequest {
    pub args: PingArgs,
    pub src: Ipv4Addr,
    pub tx_if: IfIndex,
    pub ethernet: [u8; 14],
}

/// `pcap trace` as the platform gets it: the interface resolved, the file's path made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PcapRequest {
    Start(PcapStart),
    Off,
    Status,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapStart {
    pub capture: PcapCapture,
    /// `capture.interface`'s index.
    pub interface: Option<IfIndex>,
    /// /tmp and the file's name.
    pub path: PathBuf,
}

/// VPP's `%-25s %s` rows of `show version verbose` and `show dpdk version`.
fn format_labelled(rows: &[(&str, String)]) -> String {
    rows.iter()
        .map(|(label, value)| format!("{:<25} {value}\n", format!("{label}:")))
        .collect()
}

/// The first `model name` of /proc/cpuinfo, as VPP's `show version verbose` gives it.
fn cpu_model_name() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map_or_else(|| "unknown".into(), |(_, name)| name.trim().to_string())
}

/// Ethernet's header, between an L3 MTU and the frame it makes.
const ETHERNET_HEADER: u32 = 14;

/// How long a `show` waits for a worker before saying it did not answer.
const WORKER_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// The main lcore's state: configuration, its published snapshot, and the workers.
pub struct Control {
    pub plane: ControlPlane,
    pub acl: AclTable,
    pub nat: Nat44Table,
    /// The ACL and NAT44 parts of the last snapshot; rebuilt only when they change, so
    /// a route change does not recompile the classifiers.
    acl_config: Arc<AclConfig>,
    nat_config: Arc<Nat44Config>,
    publisher: Arc<Publisher<Snapshot>>,
    workers: Vec<WorkerLink>,
    /// Questions for workers asked before they were launched (`trace add` in the
    /// startup file); the app answers them on each worker before its launch.
    pending: Vec<WorkerQuestion>,
    running: bool,
    /// How long a worker question waits ([`WORKER_ANSWER_TIMEOUT`]; shorter in tests).
    answer_timeout: Duration,
    platform: Box<dyn Platform + Send>,
    quit: bool,
    /// Inside a batch (a startup file, `exec FILE`): what changed and is not published
    /// yet. Publishing rebuilds the FIB, so a file of 10k routes publishing per line
    /// was quadratic; a batch publishes once at its end.
    batch: Option<Dirty>,
    /// The files `exec` is running, outermost first: a file that runs itself, directly
    /// or through others, is refused instead of recursing until the stack overflows.
    executing: Vec<PathBuf>,
    /// Since when the runtime counters count (start, or the last `clear runtime`): the
    /// Time and the vector rates of `show runtime`.
    runtime_since: Instant,
    /// By interface index, what to take from the platform's count of TX refusals for
    /// `show errors`: its count at the last `clear errors`, less what `show errors`
    /// showed when a `clear interfaces` (which the platform counts from 0 again, as
    /// `show interface` does) came after it. So only `clear errors` clears the line, as
    /// in VPP, where it is an error counter.
    tx_errors_base: Vec<i64>,
}

/// Why `quit` is refused in a file: it would not stop podfwd there, but at whatever
/// command came next (a socket client's), after the rest of the file ran.
const QUIT_IN_FILE: &str =
    "quit is refused in a file: stop podfwd from its console or with SIGINT/SIGTERM";

/// The largest file `exec` reads (a startup file of a million routes is ~40 MB): reading
/// a runaway log must fail with an error, not take the memory.
pub(crate) const EXEC_MAX_BYTES: u64 = 256 << 20;

/// The parts of the snapshot a batch has changed so far.
#[derive(Clone, Copy, Default)]
struct Dirty {
    plane: bool,
    acl: bool,
    nat: bool,
}

impl Dirty {
    fn add(&mut self, changed: Changed) {
        match changed {
            Changed::Nothing => {}
            Changed::Plane => self.plane = true,
            Changed::Acl => self.acl = true,
            Changed::Nat => self.nat = true,
        }
    }
}

/// What changed, and so which parts of the snapshot to rebuild.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Changed {
    Nothing,
    Plane,
    Acl,
    Nat,
}

impl Control {
    /// An executor over `plane` (its interfaces already created), with an initial
    /// snapshot published.
    pub fn new(mut plane: ControlPlane, platform: Box<dyn Platform + Send>) -> Control {
        let acl = AclTable::new();
        let nat = Nat44Table::new();
        let acl_config = Arc::new(acl.build());
        let nat_config = nat.snapshot();
        let mut first = plane.snapshot();
        first.acl = acl_config.clone();
        first.nat = nat_config.clone();
        Control {
            plane,
            acl,
            nat,
            acl_config,
            nat_config,
            publisher: Publisher::new(first),
            workers: Vec::new(),
            pending: Vec::new(),
            running: false,
            answer_timeout: WORKER_ANSWER_TIMEOUT,
            platform,
            quit: false,
            batch: None,
            executing: Vec::new(),
            runtime_since: Instant::now(),
            tx_errors_base: Vec::new(),
        }
    }

    /// From here until [`Control::end_batch`], changes are published once, at the end.
    pub fn begin_batch(&mut self) {
        self.batch.get_or_insert_with(Dirty::default);
    }

    /// Publishes what the batch changed, in one snapshot.
    pub fn end_batch(&mut self) {
        if let Some(dirty) = self.batch.take() {
            self.publish_dirty(dirty);
        }
    }

    /// Publishes what a batch has changed so far and keeps batching: for commands that
    /// read the published snapshot.
    fn flush_batch(&mut self) {
        // Not `Option::replace`, which would open a batch where there was none.
        if let Some(batch) = &mut self.batch {
            let dirty = std::mem::take(batch);
            self.publish_dirty(dirty);
        }
    }

    /// Where workers subscribe to snapshots.
    pub fn publisher(&self) -> Arc<Publisher<Snapshot>> {
        self.publisher.clone()
    }

    pub fn add_worker(&mut self, link: WorkerLink) {
        self.workers.push(link);
    }

    /// What was asked of the workers before they existed (`trace add` in the startup
    /// file): the app answers these on each worker before launching it, so that the
    /// first packet a port reads is already traced.
    pub fn pending_questions(&self) -> &[WorkerQuestion] {
        &self.pending
    }

    /// The workers are launched and serve their mailboxes; they have answered the
    /// pending questions already.
    pub fn workers_started(&mut self) {
        self.running = true;
        self.runtime_since = Instant::now();
        self.pending.clear();
    }

    /// The workers are stopping: answer from here on without them.
    pub fn workers_stopped(&mut self) {
        self.running = false;
    }

    /// `quit` was executed.
    pub fn quit_requested(&self) -> bool {
        self.quit
    }

    /// A neighbour a worker learnt from ARP; publishes when it changed the FIB.
    pub fn learn_neighbor(&mut self, if_index: IfIndex, ip: Ipv4Addr, mac: MacAddr) {
        if self.plane.learn_neighbor(if_index, ip, mac) {
            self.publish(Changed::Plane);
        }
    }

    /// Parses and runs one line. Blank lines and comments succeed with no output.
    pub fn execute_line(&mut self, line: &str) -> Result<String, String> {
        match self.start_line(line) {
            Started::Done(result) => result,
            Started::Background(work) => run_in_place(work),
        }
    }

    /// Runs `line`, or, for a command that waits (`ping`), does what needs the
    /// configuration (the route, the neighbour) and returns the rest as work for the
    /// caller to run beside the console.
    pub fn start_line(&mut self, line: &str) -> Started {
        match cli::parse(line) {
            Err(e) => Started::Done(Err(e)),
            Ok(None) => Started::Done(Ok(String::new())),
            Ok(Some(Command::Ping(args))) => match self.ping(args) {
                Ok(work) => Started::Background(work),
                Err(e) => Started::Done(Err(e)),
            },
            Ok(Some(command)) => Started::Done(self.execute(command)),
        }
    }

    fn publish(&mut self, changed: Changed) {
        let mut dirty = Dirty::default();
        dirty.add(changed);
        match &mut self.batch {
            Some(pending) => pending.add(changed),
            None => self.publish_dirty(dirty),
        }
    }

    fn publish_dirty(&mut self, dirty: Dirty) {
        if !(dirty.plane || dirty.acl || dirty.nat) {
            return;
        }
        if dirty.acl {
            self.acl_config = Arc::new(self.acl.build());
        }
        // An interface address in a NAT44 pool follows the interface's address.
        if dirty.nat || (dirty.plane && !self.nat.interface_addresses().is_empty()) {
            let plane = &self.plane;
            self.nat_config = self.nat.snapshot_with(|i| {
                let interface = plane.interface(i)?;
                interface.addresses.first().map(|p| p.addr)
            });
        }
        let mut snapshot = self.plane.snapshot();
        snapshot.acl = self.acl_config.clone();
        snapshot.nat = self.nat_config.clone();
        self.publisher.publish(snapshot);
    }

    /// The snapshot workers see now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.publisher.current()
    }

    /// `ping`: the route and the neighbour as the workers' FIB has them now; the
    /// platform's work sends and listens.
    fn ping(&self, args: PingArgs) -> Result<Background, String> {
        if !self.running {
            return Err("ping: the workers are not running".into());
        }
        let snapshot = self.snapshot();
        let dst = args.dst;
        let (tx_if, ethernet) = match *snapshot.fib.adjacency(snapshot.fib.lookup(dst)) {
            Adjacency::Rewrite { tx_if, rewrite, .. } => (tx_if, rewrite),
            Adjacency::Receive { .. } => {
                return Err(format!("ping: {dst} is one of podfwd's own addresses"))
            }
            Adjacency::Glean { tx_if, next_hop } => {
                // As VPP's first ping to an unknown neighbour loses its first packets to
                // ARP: ask, and let the user ping again once the worker learnt it (the
                // console applies what workers learn between commands).
                let (target, name) = (next_hop.unwrap_or(dst), self.name_of()(tx_if));
                let request = self
                    .plane
                    .interface(tx_if)
                    .and_then(|itf| crate::stages::arp::request_frame(itf, target));
                return Err(match request.map(|f| self.platform.send_frame(tx_if, &f)) {
                    Some(Ok(())) => format!(
                        "ping: {target} on {name} has no known MAC address yet; sent an ARP \
                         request for it: ping again once it answers (show ip neighbors)"
                    ),
                    Some(Err(e)) => format!(
                        "ping: {target} on {name} has no known MAC address, and the ARP \
                         request for it was not sent: {e}"
                    ),
                    None => format!(
                        "ping: {target} on {name} has no known MAC address, and {name} has \
                         no address to ask for it from"
                    ),
                });
            }
            Adjacency::Drop => {
                return Err(format!(
                    "ping: the route to {dst} drops (a drop route, or its interface is down)"
                ))
            }
            Adjacency::NoRoute => return Err(format!("ping: no route to {dst}")),
        };
        // The requests leave whole, straight to the port: they must fit the interface's
        // MTU (fragments of the replies would not be reassembled either).
        let mtu = snapshot.interface(tx_if).map_or(0, |i| i.mtu);
        let packet = u32::from(args.size) + PingArgs::HEADERS;
        if packet > u32::from(mtu) {
            return Err(format!(
                "ping: size {} makes {packet}-byte IPv4 packets, over {}'s MTU {mtu}: at \
                 most size {}",
                args.size,
                self.name_of()(tx_if),
                u32::from(mtu).saturating_sub(PingArgs::HEADERS)
            ));
        }
        let from = match &args.source {
            Some(name) => self.index(name)?,
            None => tx_if,
        };
        let src = self
            .plane
            .interface(from)
            .and_then(|i| crate::stages::source_address_for(i, dst))
            .ok_or_else(|| {
                format!(
                    "ping: {} has no IPv4 address to send from",
                    self.name_of()(from)
                )
            })?;
        self.platform.ping(&PingRequest {
            args,
            src,
            tx_if,
            ethernet,
        })
    }

    fn pcap_trace(&self, trace: PcapTrace) -> Result<String, String> {
        let request = match trace {
            PcapTrace::Off => PcapRequest::Off,
            PcapTrace::Status => PcapRequest::Status,
            PcapTrace::Start(capture) => {
                let interface = match &capture.interface {
                    Some(name) => Some(self.index(name)?),
                    None => None,
                };
                // VPP's default name: the directions captured, /tmp/rxtx.pcap and so on.
                let file = match &capture.file {
                    Some(file) => file.clone(),
                    None => format!("{}.pcap", capture.directions("")),
                };
                PcapRequest::Start(PcapStart {
                    capture,
                    interface,
                    path: PathBuf::from("/tmp").join(file),
                })
            }
        };
        self.platform.pcap_trace(&request)
    }

    /// The interfaces `names` names, in that order (as VPP lists them), or every one
    /// when it names none; every name must exist.
    fn named_interfaces(&self, names: &[String]) -> Result<Vec<InterfaceConfig>, String> {
        if names.is_empty() {
            return Ok(self.plane.interfaces().to_vec());
        }
        names
            .iter()
            .map(|n| {
                let i = self.index(n)?;
                let found = self.plane.interfaces().iter().find(|c| c.index == i);
                found
                    .cloned()
                    .ok_or_else(|| format!("unknown interface '{n}'"))
            })
            .collect()
    }

    fn index(&self, name: &str) -> Result<IfIndex, String> {
        self.plane.interface_index(name)
    }

    fn name_of(&self) -> impl Fn(IfIndex) -> String + '_ {
        |i| {
            self.plane
                .interface(i)
                .map_or_else(|| format!("if{}", i.0), |c| c.name.clone())
        }
    }

    fn totals(&self) -> CounterTotals {
        let mut totals = CounterTotals::sum(self.workers.iter().map(|w| &*w.counters));
        for itf in self.plane.interfaces() {
            if let Some(t) = totals.interfaces.get_mut(itf.index.as_usize()) {
                t.tx_errors += self.platform.tx_errors(itf.index);
                t.port = self.platform.port_errors(itf.index);
            }
        }
        totals
    }

    /// `show errors`: the workers' counters, then what the ports refused to send, as
    /// VPP's `<interface>-tx` node counts it ("Tx packet drops (dpdk tx failure)").
    fn show_errors(&self) -> String {
        let totals = self.totals();
        let mut out = totals.format_errors(drop_reason_text);
        for itf in self.plane.interfaces() {
            let i = itf.index.as_usize();
            let since = self.tx_errors_shown(&totals, i);
            if since > 0 {
                let _ = writeln!(
                    out,
                    "{since:>10}{}Tx packet drops (dpdk tx failure)",
                    crate::counters::vpp_center(&format!("{}-tx", itf.name), 40)
                );
            }
        }
        out
    }

    /// Interface `i`'s line of TX refusals in `show errors`.
    fn tx_errors_shown(&self, totals: &CounterTotals, i: usize) -> u64 {
        let refused = totals.interfaces.get(i).map_or(0, |t| t.tx_errors) as i64;
        (refused - self.tx_errors_base.get(i).copied().unwrap_or(0)).max(0) as u64
    }

    /// `show interface rx-placement` as VPP prints it: per worker thread, per input node,
    /// the queues it polls. Worker N polls queue N of every interface (the app sets up
    /// one queue per worker on each port), always in polling mode.
    fn show_rx_placement(&self) -> String {
        let mut out = String::new();
        for n in 0..self.workers.len() {
            let thread = WorkerThread(n as u16);
            let _ = writeln!(out, "Thread {} ({}):", thread.number(), thread.name());
            for kind in InputKind::ALL {
                let mut polled = self
                    .plane
                    .interfaces()
                    .iter()
                    .filter(|i| i.input_kind == kind)
                    .peekable();
                if polled.peek().is_none() {
                    continue;
                }
                let _ = writeln!(out, "  node {}:", kind.node_name());
                for itf in polled {
                    let _ = writeln!(out, "    {} queue {n} (polling)", itf.name);
                }
            }
        }
        out
    }

    /// `show runtime` as VPP prints it: a block per worker thread, its header (thread,
    /// lcore, the time counted and the vector rates in, out and dropped per second), then
    /// its nodes. VPP's header also has the main loop's rates, which podfwd does not
    /// count; the average vectors per node call stands in the first line.
    fn show_runtime(&self, view: RuntimeView, summary: bool) -> String {
        let seconds = self.runtime_since.elapsed().as_secs_f64();
        let table = |totals: &CounterTotals| match summary {
            true => String::new(),
            false => totals.format_runtime_as(view),
        };
        if self.workers.is_empty() {
            return table(&self.totals());
        }
        let blocks: Vec<String> = self
            .workers
            .iter()
            .enumerate()
            .map(|(n, worker)| {
                let totals = CounterTotals::sum([&*worker.counters]);
                let thread = WorkerThread(n as u16);
                format!(
                    "Thread {} {} (lcore {})\n{}{}",
                    thread.number(),
                    thread.name(),
                    worker.lcore,
                    totals.format_runtime_rates(seconds),
                    table(&totals)
                )
            })
            .collect();
        blocks.join("---------------\n")
    }

    /// Asks every worker; their answers, one block per worker when there are several.
    fn ask_all(&mut self, question: WorkerQuestion) -> Result<String, String> {
        if !self.running {
            // The startup file runs before the workers start: a trace is handed to them
            // then; there is nothing to clear yet; a show says why it shows nothing
            // (an error would stop podfwd at that line).
            return match question {
                WorkerQuestion::TraceAdd { .. } | WorkerQuestion::ClearTrace => {
                    self.pending.push(question);
                    Ok(String::new())
                }
                _ if question.changes_state() => Ok(String::new()),
                _ => Ok(NOT_RUNNING_YET.to_string()),
            };
        }
        // VPP heads every thread's trace, even a lone one's; NAT44 sessions name their
        // thread themselves; the rest get a header when there are several workers.
        let (trace, several) = (
            matches!(question, WorkerQuestion::ShowTrace { .. }),
            self.workers.len() > 1 && !matches!(question, WorkerQuestion::NatSessions { .. }),
        );
        let answers = self.ask_each(&question)?;
        let mut out = String::new();
        for ((n, worker), answer) in self.workers.iter().enumerate().zip(answers) {
            let thread = WorkerThread(n as u16);
            if trace {
                let _ = writeln!(
                    out,
                    "------------------- Start of {thread} -------------------"
                );
            } else if several && !answer.is_empty() {
                let _ = writeln!(
                    out,
                    "------------------- {thread} (lcore {}) -------------------",
                    worker.lcore
                );
            }
            out.push_str(&answer);
        }
        Ok(out)
    }

    /// Asks every running worker in turn; their answers in worker order. The first
    /// worker that fails or does not answer fails the whole question.
    fn ask_each(&self, question: &WorkerQuestion) -> Result<Vec<String>, String> {
        if !self.running {
            // No worker holds anything yet (no session to delete, say).
            return Ok(Vec::new());
        }
        let mut answers = Vec::with_capacity(self.workers.len());
        for (n, worker) in self.workers.iter().enumerate() {
            let answer = worker
                .mailbox
                .ask(question.clone(), self.answer_timeout)
                .ok_or_else(|| {
                    // The worker may have taken the question just before the deadline
                    // and still act on it: the user must not believe nothing changed.
                    let maybe_applied = if question.changes_state() {
                        "; the change may still be applied"
                    } else {
                        ""
                    };
                    format!(
                        "worker {n} (lcore {}) did not answer within {} s{maybe_applied}",
                        worker.lcore,
                        self.answer_timeout.as_secs_f64()
                    )
                })??;
            answers.push(answer);
        }
        Ok(answers)
    }

    /// `nat44 del session ...`: the sessions live in the workers, each deletes its own
    /// and says how many. Deleting none is an error, as VPP's is (`no such session`).
    fn delete_nat_sessions(&mut self, selector: SessionSelector) -> Result<String, String> {
        let answers = self.ask_each(&WorkerQuestion::NatDeleteSessions(selector))?;
        let mut deleted = 0usize;
        for answer in answers {
            deleted += answer.trim().parse::<usize>().map_err(|_| {
                format!("nat44 del session: a worker answered {answer:?}, not a count")
            })?;
        }
        match deleted {
            0 => Err(format!("nat44 del session: no such session: {selector}")),
            1 => Ok("1 session deleted\n".to_string()),
            n => Ok(format!("{n} sessions deleted\n")),
        }
    }

    /// Runs one command.
    pub fn execute(&mut self, command: Command) -> Result<String, String> {
        if command.is_show() {
            self.flush_batch();
        }
        let mut changed = Changed::Nothing;
        let out = self.run(command, &mut changed)?;
        self.publish(changed);
        Ok(out)
    }

    fn run(&mut self, command: Command, changed: &mut Changed) -> Result<String, String> {
        let none = Ok(String::new());
        match command {
            Command::Help { words } if words.is_empty() => Ok(cli::help()),
            Command::Help { words } => cli::usage(&words),
            // A batch is open exactly while a file runs (the startup file, `exec`).
            Command::Quit if self.batch.is_some() => Err(QUIT_IN_FILE.into()),
            Command::Quit => {
                self.quit = true;
                none
            }
            Command::Comment => none,
            Command::Exec { file } => self.exec_file(&file),
            Command::ShowVersion { verbose: false } => Ok(format!(
                "podfwd v{}, {}\n",
                env!("CARGO_PKG_VERSION"),
                self.platform.versions()
            )),
            Command::ShowVersion { verbose: true } => {
                let mut rows = vec![
                    ("Version", format!("v{}", env!("CARGO_PKG_VERSION"))),
                    ("Built with", self.platform.versions()),
                    ("CPU model name", cpu_model_name()),
                    ("Current PID", std::process::id().to_string()),
                ];
                rows.extend(self.platform.dpdk_version().unwrap_or_default());
                Ok(format_labelled(&rows))
            }
            Command::ShowDpdkVersion => Ok(format_labelled(&self.platform.dpdk_version()?)),
            Command::ShowThreads => Ok(self.platform.threads()),
            Command::ShowBuffers => self.platform.buffers(),
            Command::ShowMemory => self.platform.memory(),
            Command::ShowLogging => self.platform.logging(),
            Command::PcapTrace(trace) => self.pcap_trace(trace),
            Command::Ping(args) => self.ping(args).and_then(run_in_place),

            // Interfaces.
            Command::ShowInterface { names } => {
                let interfaces = self.named_interfaces(&names)?;
                Ok(self.totals().format_interfaces(&interfaces))
            }
            Command::ShowInterfaceAddress { names } => {
                Ok(format_interface_addresses(&self.named_interfaces(&names)?))
            }
            Command::ShowInterfaceRxPlacement => Ok(self.show_rx_placement()),
            Command::ShowHardwareInterfaces { detail, name } => {
                if let Some(n) = &name {
                    self.index(n)?;
                }
                self.platform
                    .hardware_interfaces(name.as_deref(), detail, &self.plane)
            }
            Command::SetInterfaceState { interface, up } => {
                self.plane.set_state(&interface, up)?;
                *changed = Changed::Plane;
                none
            }
            Command::SetInterfaceMac { interface, mac } => {
                self.plane.set_mac(&interface, mac)?;
                *changed = Changed::Plane;
                none
            }
            Command::SetInterfaceIpAddress {
                interface,
                prefix,
                del,
            } => {
                if del {
                    self.plane.del_address(&interface, prefix)?;
                } else {
                    self.plane.add_address(&interface, prefix)?;
                }
                *changed = Changed::Plane;
                none
            }
            Command::DelInterfaceAddresses { interface } => {
                // On a copy: all go, or none.
                let i = self.index(&interface)?;
                let mut plane = self.plane.clone();
                let addresses = plane.interface(i).map(|c| c.addresses.clone());
                for prefix in addresses.unwrap_or_default() {
                    plane.del_address(&interface, prefix)?;
                }
                self.plane = plane;
                *changed = Changed::Plane;
                none
            }
            Command::SetInterfaceMtu { interface, mtu } => {
                if let Some(max) = self.platform.max_mtu().filter(|&max| mtu > max) {
                    self.index(&interface)?;
                    return Err(format!(
                        "mtu {mtu} on {interface}: a frame above {} bytes does not fit one \
                         mbuf and is dropped on receive; the largest MTU here is {max}",
                        u32::from(max) + ETHERNET_HEADER
                    ));
                }
                self.plane.set_mtu(&interface, mtu)?;
                *changed = Changed::Plane;
                none
            }

            // Routes and neighbours.
            Command::IpRouteAdd { prefix, path } => {
                let target = self.route_target(&path)?;
                self.plane.add_route(prefix, target)?;
                *changed = Changed::Plane;
                none
            }
            Command::IpRouteDel { prefix, path } => {
                let target = path.as_ref().map(|p| self.route_target(p)).transpose()?;
                self.plane.del_route(prefix, target)?;
                *changed = Changed::Plane;
                none
            }
            Command::ShowIpFib { prefix } => Ok(format_fib(&self.snapshot(), prefix)),
            Command::ShowIpFibSummary => Ok(format_fib_summary(&self.snapshot())),
            Command::SetIpNeighbor {
                interface,
                ip,
                mac,
                is_static,
                no_fib_entry,
                del,
            } => {
                if del {
                    self.plane.del_neighbor(&interface, ip)?;
                } else {
                    let flags = NeighborFlags {
                        is_static,
                        no_fib_entry,
                    };
                    self.plane.add_neighbor_with(&interface, ip, mac, flags)?;
                }
                *changed = Changed::Plane;
                none
            }
            Command::ShowIpNeighbors { interface } => {
                let only = interface.as_deref().map(|n| self.index(n)).transpose()?;
                Ok(format_neighbors(&self.plane, only))
            }

            // Trace and counters.
            Command::TraceAdd { input, count } => {
                self.ask_all(WorkerQuestion::TraceAdd { input, count })
            }
            Command::ShowTrace { max } => self.ask_all(WorkerQuestion::ShowTrace {
                max: max.map_or(usize::MAX, |m| m as usize),
            }),
            Command::ClearTrace => self.ask_all(WorkerQuestion::ClearTrace),
            Command::ShowErrors => Ok(self.show_errors()),
            Command::ShowRuntime { view, summary } => Ok(self.show_runtime(view, summary)),
            Command::ClearErrors => {
                let answer = self.ask_all(WorkerQuestion::ClearErrors)?;
                let totals = self.totals();
                self.tx_errors_base = totals
                    .interfaces
                    .iter()
                    .map(|t| t.tx_errors as i64)
                    .collect();
                Ok(answer)
            }
            Command::ClearRuntime => {
                let answer = self.ask_all(WorkerQuestion::ClearRuntime)?;
                self.runtime_since = Instant::now();
                Ok(answer)
            }
            Command::ClearInterfaces => {
                // The workers' refusal counts and the platform's start from 0 again;
                // show errors' line goes on from what it counted: its base goes back by
                // as much as they did.
                let workers = CounterTotals::sum(self.workers.iter().map(|w| &*w.counters));
                let answer = self.ask_all(WorkerQuestion::ClearInterfaces)?;
                let base = &mut self.tx_errors_base;
                let mut go_back = |i: usize, went: u64| {
                    if base.len() <= i {
                        base.resize(i + 1, 0);
                    }
                    base[i] -= went as i64;
                };
                for (i, t) in workers.interfaces.iter().enumerate() {
                    go_back(i, t.tx_errors);
                }
                for (if_index, went) in self.platform.interfaces_cleared() {
                    go_back(if_index.as_usize(), went);
                }
                Ok(answer)
            }
            Command::ClearHardwareInterfaces { name } => {
                if let Some(n) = &name {
                    self.index(n)?;
                }
                self.platform.clear_hardware_interfaces(name.as_deref());
                none
            }

            // ACL.
            Command::SetAcl { index, rules, tag } => {
                let tag = tag.unwrap_or_default();
                let index = match index {
                    Some(i) => self.acl.replace(i, rules, &tag)?,
                    None => self.acl.create(rules, &tag)?,
                };
                *changed = Changed::Acl;
                Ok(format!("ACL index:{index}\n"))
            }
            Command::DeleteAcl { index } => {
                self.acl.delete(index)?;
                *changed = Changed::Acl;
                none
            }
            Command::SetAclInterface {
                interface,
                direction,
                acl,
                del,
            } => {
                let i = self.index(&interface)?;
                self.acl.set_interface_acl(i, direction, acl, del)?;
                *changed = Changed::Acl;
                none
            }
            Command::ShowAcl { index } => {
                let mut out = self.acl.show_acls(index)?;
                // The hits are the workers' (none before they run).
                if self.running {
                    out.push_str(&self.ask_all(WorkerQuestion::AclHits { only: index })?);
                }
                Ok(out)
            }
            Command::ShowAclInterface { interface, acls } => {
                let only = match interface {
                    None => None,
                    Some(InterfaceRef::Name(name)) => Some(self.index(&name)?),
                    Some(InterfaceRef::SwIfIndex(n)) => {
                        let found = u16::try_from(n)
                            .ok()
                            .map(IfIndex)
                            .filter(|i| self.plane.interface(*i).is_some());
                        Some(found.ok_or_else(|| {
                            format!("show acl-plugin interface: no interface has sw_if_index {n}")
                        })?)
                    }
                };
                Ok(self.acl.show_interfaces(only, acls, &self.name_of()))
            }
            Command::ShowAclSessions { one: None } => {
                let sessions = self.ask_all(WorkerQuestion::AclSessions { one: None })?;
                let on = u8::from(self.acl.reclassify_sessions());
                Ok(format!("{sessions}Reclassify sessions: {on}\n"))
            }
            Command::ShowAclSessions {
                one: Some((thread, index)),
            } => {
                let workers = self.workers.len() as u32;
                if self.running && !(1..=workers).contains(&thread) {
                    return Err(format!(
                        "show acl-plugin sessions: no thread {thread}: the workers are \
                         threads 1..={workers}"
                    ));
                }
                self.ask_all(WorkerQuestion::AclSessions {
                    one: Some((thread, index)),
                })
            }
            Command::ClearAclSessions => self.ask_all(WorkerQuestion::ClearAclSessions),
            Command::ShowAclTables => Ok(self.acl_config.show_tables(&self.name_of())),
            Command::SetAclSessionTimeout { timeouts, secs } => {
                self.acl.set_session_timeouts(timeouts, u64::from(secs))?;
                *changed = Changed::Acl;
                none
            }
            Command::SetAclSessionMaxEntries { max } => {
                self.acl.set_max_sessions(max as usize)?;
                *changed = Changed::Acl;
                none
            }
            Command::SetAclReclassifySessions { on } => {
                // Read by the next list change, on the main lcore: no snapshot to publish.
                self.acl.set_reclassify_sessions(on);
                none
            }

            // NAT44.
            Command::Nat44Address {
                first,
                last,
                twice_nat,
                del,
            } => {
                if del {
                    self.nat.del_addresses(first, last, twice_nat)?;
                } else {
                    self.nat.add_addresses(first, last, twice_nat)?;
                }
                *changed = Changed::Nat;
                none
            }
            Command::Nat44InterfaceAddress {
                interface,
                twice_nat,
                del,
            } => {
                let index = self.index(&interface)?;
                match del {
                    true => self
                        .nat
                        .del_interface_address(index, twice_nat, &interface)?,
                    false => self
                        .nat
                        .add_interface_address(index, twice_nat, &interface)?,
                }
                *changed = Changed::Nat;
                none
            }
            Command::ShowNat44InterfaceAddress => {
                Ok(nat44::show::interface_addresses(&self.nat, self.name_of()))
            }
            Command::Nat44StaticMapping { mapping, del } => {
                if del {
                    self.nat.del_static_mapping(&mapping)?;
                } else {
                    self.nat.add_static_mapping(mapping)?;
                }
                *changed = Changed::Nat;
                none
            }
            Command::Nat44LbStaticMapping { mapping, del } => {
                if del {
                    self.nat.del_lb_mapping(&mapping)?;
                } else {
                    self.nat.add_lb_mapping(mapping)?;
                }
                *changed = Changed::Nat;
                none
            }
            Command::Nat44LbBackend {
                proto,
                external,
                local,
                probability,
                del,
            } => {
                if del {
                    self.nat
                        .del_lb_backend(proto, external, local, probability)?;
                } else {
                    let local = LbLocal {
                        addr: local.0,
                        port: local.1,
                        probability: probability.unwrap_or(0),
                    };
                    self.nat.add_lb_backend(proto, external, local)?;
                }
                *changed = Changed::Nat;
                none
            }
            Command::Nat44IdentityMapping { mapping, del } => {
                if del {
                    self.nat.del_identity_mapping(&mapping)?;
                } else {
                    self.nat.add_identity_mapping(mapping)?;
                }
                *changed = Changed::Nat;
                none
            }
            Command::Nat44Forwarding { enable } => {
                self.nat.set_forwarding(enable);
                *changed = Changed::Nat;
                none
            }
            Command::SetInterfaceNat44 {
                inside,
                outside,
                output_feature,
                del,
            } => {
                self.set_nat_roles(&inside, &outside, output_feature, del)?;
                *changed = Changed::Nat;
                none
            }
            Command::SetNatTimeout {
                reset,
                udp,
                tcp_established,
                tcp_transitory,
                icmp,
            } => {
                let old = match reset {
                    true => NatTimeouts::default(),
                    false => self.nat.timeouts(),
                };
                self.nat.set_timeouts(NatTimeouts {
                    udp: udp.unwrap_or(old.udp),
                    tcp_established: tcp_established.unwrap_or(old.tcp_established),
                    tcp_transitory: tcp_transitory.unwrap_or(old.tcp_transitory),
                    icmp: icmp.unwrap_or(old.icmp),
                })?;
                *changed = Changed::Nat;
                none
            }
            Command::Nat44SessionLimit { limit } => {
                if let Some(capacity) = self.platform.nat_session_capacity() {
                    if limit > capacity {
                        return Err(format!(
                            "nat44 session limit {limit}: each worker's table holds \
                             {capacity} sessions (podfwd --nat-sessions, allocated at \
                             start)"
                        ));
                    }
                }
                self.nat.set_session_limit(limit)?;
                *changed = Changed::Nat;
                none
            }
            Command::ShowNat44Interfaces => Ok(nat44::show::interfaces(&self.nat, self.name_of())),
            Command::ShowNat44Addresses => self.ask_all(WorkerQuestion::NatAddresses),
            Command::ShowNat44Summary => self.ask_all(WorkerQuestion::NatSummary),
            Command::ShowNatTimeouts => Ok(nat44::show::timeouts(self.nat.timeouts())),
            Command::ShowFlowCache => self.ask_all(WorkerQuestion::FlowCache),
            Command::ShowNat44StaticMappings => Ok(nat44::show::static_mappings(&self.nat)),
            Command::ShowNat44Sessions { detail } => Ok(format!(
                "NAT44 sessions:\n{}",
                self.ask_all(WorkerQuestion::NatSessions { detail })?
            )),
            Command::Nat44DelSession { selector } => self.delete_nat_sessions(selector),
            Command::ClearNat44Sessions => self.ask_all(WorkerQuestion::NatClearSessions),
        }
    }

    fn route_target(&self, path: &RoutePath) -> Result<RouteTarget, String> {
        Ok(match path {
            RoutePath::NextHop {
                next_hop,
                interface,
            } => RouteTarget::Via {
                next_hop: *next_hop,
                interface: interface.as_deref().map(|n| self.index(n)).transpose()?,
            },
            RoutePath::Interface { interface } => RouteTarget::Attached(self.index(interface)?),
            RoutePath::Drop => RouteTarget::Drop,
        })
    }

    /// `set interface nat44 in A [out B] [output-feature] [del]`: all interfaces are
    /// resolved before any role changes, and a refused role undoes nothing because
    /// nothing was applied yet.
    fn set_nat_roles(
        &mut self,
        inside: &[String],
        outside: &[String],
        output_feature: bool,
        del: bool,
    ) -> Result<(), String> {
        let mut roles: Vec<(IfIndex, &str, NatInterfaceRole)> = Vec::new();
        for (names, is_inside) in [(inside, true), (outside, false)] {
            for name in names {
                let i = self.index(name)?;
                let role = NatInterfaceRole {
                    inside: is_inside,
                    outside: !is_inside,
                    output_feature: !is_inside && output_feature,
                };
                match roles.iter_mut().find(|(j, _, _)| *j == i) {
                    Some((_, _, r)) => {
                        r.inside |= role.inside;
                        r.outside |= role.outside;
                        r.output_feature |= role.output_feature;
                    }
                    None => roles.push((i, name, role)),
                }
            }
        }
        let mut trial = self.nat.clone();
        for (i, name, role) in &roles {
            trial
                .set_interface_role(*i, *role, !del)
                .map_err(|e| format!("set interface nat44: {name} {e}"))?;
        }
        self.nat = trial;
        Ok(())
    }

    /// `exec FILE`: runs the file's lines in order; the first error stops it and names
    /// the line (the lines before it stay applied, as in VPP). A file that cannot be
    /// parsed, or holds `quit`, runs no line.
    pub fn exec_file(&mut self, path: &str) -> Result<String, String> {
        let cannot_read = |e: std::io::Error| format!("exec {path}: cannot read: {e}");
        let canonical = std::fs::canonicalize(path).map_err(cannot_read)?;
        // Opening or reading a FIFO or a terminal waits for the other end, and would
        // block the main lcore, which serves the console and the socket; a device may
        // never end. Checked on the resolved path, before anything is opened.
        let kind = std::fs::metadata(&canonical)
            .map_err(cannot_read)?
            .file_type();
        if !kind.is_file() {
            return Err(format!(
                "exec {path}: not a regular file ({}): exec reads only files",
                file_kind(kind)
            ));
        }
        if self.executing.contains(&canonical) {
            return Err(format!(
                "exec {path}: already running ({}): a file cannot exec itself",
                self.executing
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" -> ")
            ));
        }
        let too_long = || format!("exec {path}: longer than {} MiB", EXEC_MAX_BYTES >> 20);
        let file = std::fs::File::open(&canonical).map_err(cannot_read)?;
        // Refused unread when it says so; reading is cut off too, as a file (a log being
        // written) may grow while it is read.
        if file.metadata().map_err(cannot_read)?.len() > EXEC_MAX_BYTES {
            return Err(too_long());
        }
        let mut text = String::new();
        file.take(EXEC_MAX_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(cannot_read)?;
        if text.len() as u64 > EXEC_MAX_BYTES {
            return Err(too_long());
        }
        // A line that does not parse fails the file before any line runs; one that fails
        // as it runs leaves those before it applied, as in VPP. The error says which.
        let commands = cli::parse_startup_file(&text)
            .map_err(|e| format!("{path}:{e} (no command in the file ran)"))?;
        if let Some((line, _)) = commands.iter().find(|(_, c)| *c == Command::Quit) {
            return Err(format!("{path}:{line}: {QUIT_IN_FILE}"));
        }
        self.executing.push(canonical);
        let mut out = String::new();
        // A nested `exec` joins the batch it runs in; only the outermost one publishes.
        let outermost = self.batch.is_none();
        self.begin_batch();
        let mut result = Ok(());
        for (ran, (line, command)) in commands.into_iter().enumerate() {
            let nested = matches!(command, Command::Exec { .. });
            match self.execute(command) {
                Ok(output) => out.push_str(&output),
                // Said once, by the outermost file, of everything that ran.
                Err(e) if !outermost => {
                    result = Err(format!("{path}:{line}: {e}"));
                    break;
                }
                Err(e) => {
                    let before = if ran == 0 && !nested {
                        "no command before it ran"
                    } else {
                        "what ran before it stays applied"
                    };
                    result = Err(format!("{path}:{line}: {e} ({before})"));
                    break;
                }
            }
        }
        self.executing.pop();
        if outermost {
            self.end_batch();
        }
        result.map(|()| out)
    }
}

/// What a path that is no regular file is, for `exec`'s error.
fn file_kind(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "of an unknown kind"
    }
}
