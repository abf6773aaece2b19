//! The generator's one busy lcore: every port it drives, polled in turn, in the mode
//! chosen. The main lcore steers it through [`Control`] and reads its published
//! counters; the per-packet path takes no lock and allocates nothing.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use podfwd::buffer::PacketBuf;
use podfwd::types::MacAddr;

use super::check::{
    check_client_side, check_endpoint_side, Answer, CheckCounters, ClientSide, Verdict,
};
use super::flows::Protocol;
use super::flows::{FlowCursor, FlowSpec};
use super::frame::{parse, stamp, FrameTemplate, Stamp, TCP_ACK, TCP_SYN};
use super::latency::Histogram;
use super::rate::RateLimiter;
use super::reflect::{answer_arp, close_in_place, reflect_in_place};
use super::report::{PortCounters, SharedCounters};
use crate::dpdk::mbuf::{rx_burst, tx_burst_keeping, Mbuf, MbufBurst, RxQueue, TxQueue, MAX_BURST};
use crate::dpdk::mempool::Mempool;
use crate::dpdk::port::PortId;
use crate::dpdk::tsc;

/// testpmd's forwarding modes, plus `pods`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Generated flows out of every port; nothing received.
    TxOnly,
    /// Everything received is counted (and its stamp timed) and freed.
    RxOnly,
    /// Received on port i, sent out of port i^1 unchanged (the same port if alone).
    Io,
    /// Port 0 plays the client pods, port 1 the service endpoints.
    Pods,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "txonly" => Ok(Mode::TxOnly),
            "rxonly" => Ok(Mode::RxOnly),
            "io" => Ok(Mode::Io),
            "pods" => Ok(Mode::Pods),
            _ => Err(format!("mode '{s}': expected txonly, rxonly, io or pods")),
        }
    }
}

/// What one pass over the ports does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    Idle,
    /// Builds and sends requests (txonly).
    Generate,
    /// Counts and times what arrives (rxonly).
    Receive,
    /// Sends on what arrives (io).
    Forward,
    /// Clients take replies and endpoints answer requests; `generate`: clients also
    /// send new requests (pods).
    Serve {
        generate: bool,
    },
}

impl Mode {
    /// The pass of a worker that is `running`, or not: stopped, or draining after stop,
    /// when nothing new may be sent, but replies in flight still count.
    fn pass(self, running: bool) -> Pass {
        match (self, running) {
            (Mode::TxOnly, true) => Pass::Generate,
            (Mode::RxOnly, _) => Pass::Receive,
            // testpmd forwards nothing once stopped.
            (Mode::Io, true) => Pass::Forward,
            (Mode::TxOnly | Mode::Io, false) => Pass::Idle,
            (Mode::Pods, generate) => Pass::Serve { generate },
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::TxOnly => "txonly",
            Mode::RxOnly => "rxonly",
            Mode::Io => "io",
            Mode::Pods => "pods",
        })
    }
}

/// Longer than any drain (`--drain-ms`) the console would ask for.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const STOPPED: u8 = 0;
const RUNNING: u8 = 1;
const QUIT: u8 = 2;

/// What the worker hands back at the end of a run.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// TSC cycles from start to stop (the drain after stop not included).
    pub cycles: u64,
    /// TSC cycles of the drain after stop.
    pub drain_cycles: u64,
    /// Counters at the end of the drain: everything the run sent and received.
    pub ports: Vec<PortCounters>,
    /// Counters at stop, before the drain: what arrived within `cycles`.
    pub ports_at_stop: Vec<PortCounters>,
    pub client_at_stop: CheckCounters,
    pub client: CheckCounters,
    pub endpoint: CheckCounters,
    /// Pods mode: requests the endpoint side got mistranslated and did not answer (of
    /// `endpoint`'s mistranslations, those that were requests rather than resets).
    pub unanswered: u64,
    pub latency: Histogram,
    pub rate_pps: u64,
    pub flows: u64,
    /// Pods mode: good replies stamped before this run started (an earlier run's, come
    /// late): neither received nor timed in this run.
    pub earlier_replies: u64,
    /// Times the new flows' tuples were all used and the walk began again (0 without
    /// new flows).
    pub new_flow_wraps: u64,
    /// `set rate` or `set flows` changed the run while it ran: `rate_pps` and `flows`
    /// are the last ones, not those of the whole run.
    pub settings_changed: bool,
}

/// The main lcore's handle on the worker: requests go in as a new generation, the
/// worker acknowledges each once it has acted on it.
#[derive(Debug, Default)]
pub struct Control {
    state: AtomicU8,
    rate_pps: AtomicU64,
    flows: AtomicU64,
    generation: AtomicU64,
    applied: AtomicU64,
    result: Mutex<Option<RunResult>>,
}

impl Control {
    pub fn new(rate_pps: u64, flows: u64) -> Control {
        let control = Control::default();
        control.rate_pps.store(rate_pps, Ordering::Relaxed);
        control.flows.store(flows, Ordering::Relaxed);
        control
    }

    fn request(&self, change: impl FnOnce(&Control)) {
        change(self);
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        // The worker checks once per loop; while it drains that takes the drain time.
        // A worker that died (a panic is contained on its lcore) never answers.
        let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
        while self.applied.load(Ordering::Acquire) < generation {
            if std::time::Instant::now() > deadline {
                log::warn!(
                    "the generator's worker lcore did not answer within {REQUEST_TIMEOUT:?}"
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn start(&self) {
        self.request(|c| c.state.store(RUNNING, Ordering::Relaxed));
    }

    /// Stops sending, lets replies in flight arrive, and returns the run's figures
    /// (None if it was not running).
    pub fn stop(&self) -> Option<RunResult> {
        self.request(|c| c.state.store(STOPPED, Ordering::Relaxed));
        self.result.lock().ok()?.take()
    }

    pub fn quit(&self) -> Option<RunResult> {
        self.request(|c| c.state.store(QUIT, Ordering::Relaxed));
        self.result.lock().ok()?.take()
    }

    /// [`Control::quit`] without waiting for the worker to see it (nor for its figures).
    pub fn order_quit(&self) {
        self.state.store(QUIT, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn set_rate(&self, pps: u64) {
        self.request(|c| c.rate_pps.store(pps, Ordering::Relaxed));
    }

    pub fn set_flows(&self, flows: u64) {
        self.request(|c| c.flows.store(flows, Ordering::Relaxed));
    }

    pub fn running(&self) -> bool {
        self.state.load(Ordering::Relaxed) == RUNNING
    }
}

/// Everything the worker owns, built on the main lcore and moved in.
pub struct WorkerConfig {
    pub mode: Mode,
    /// Ports in order; in pods mode [clients, endpoints].
    pub ports: Vec<PortId>,
    /// Each port's queue 0, which only this worker holds; in `ports`' order.
    pub queues: Vec<(RxQueue, TxQueue)>,
    pub port_macs: Vec<MacAddr>,
    pub spec: FlowSpec,
    pub template: FrameTemplate,
    pub burst: usize,
    pub pool: Arc<Mempool>,
    pub control: Arc<Control>,
    pub shared: Arc<SharedCounters>,
    pub tsc_hz: u64,
    /// How long replies may still arrive after `stop`.
    pub drain_cycles: u64,
    /// Pods mode: requests in flight at most (0 = no limit). An open loop at full
    /// rate only fills the peer's rings and burns the lcore on refused bursts.
    pub window: u64,
    /// Mistranslated frames still to print (`--show-mistranslated`).
    pub show_mistranslated: u32,
}

/// In-flight requests whose replies have not come for this long are taken as lost,
/// so losses do not shrink the window for good.
const WINDOW_RESET_MICROSECONDS: u64 = 1000;

/// How often counters are published for the console.
const PUBLISH_PER_SECOND: u64 = 100;
/// A stopped worker naps between polls instead of spinning.
const IDLE_NAP: Duration = Duration::from_micros(200);

struct Worker {
    config: WorkerConfig,
    counters: Vec<PortCounters>,
    client: CheckCounters,
    endpoint: CheckCounters,
    /// Requests the endpoint side got mistranslated, and so did not answer.
    unanswered: u64,
    latency: Histogram,
    rate: RateLimiter,
    sequence: u64,
    cursor: FlowCursor,
    /// With `--new-flow-every N`: the new flows' cursor, and packets until the next one.
    new_cursor: FlowCursor,
    /// `new_flow_wraps()` at the run's start.
    wraps_at_start: u64,
    /// When the run started (TSC), and the replies that came back stamped before it.
    started_tsc: u64,
    earlier_replies: u64,
    /// txonly: the port the last pass served first.
    first_port: usize,
    until_new: u64,
    in_flight: u64,
    last_reply_tsc: u64,
    /// What replies are checked against; its flows grow with `set flows`, never shrink
    /// within a run.
    client_side: ClientSide,
    rx: MbufBurst,
    tx: MbufBurst,
    /// Per port, the requests its TX ring refused, in order: sent first on its next
    /// pass, so that no flow tuple is skipped and the rate counts what left.
    waiting: Vec<MbufBurst>,
    trash: MbufBurst,
}

/// The lcore's entry point; returns 0 on quit.
pub fn run(config: WorkerConfig) -> i32 {
    let now = tsc();
    let rate_pps = config.control.rate_pps.load(Ordering::Relaxed);
    let ports = config.ports.len();
    let client_side = ClientSide {
        mac: config.port_macs.first().copied().unwrap_or_default(),
        flows: config.spec.flows,
    };
    let mut worker = Worker {
        rate: RateLimiter::new(rate_pps, config.tsc_hz, config.burst, now),
        counters: vec![PortCounters::default(); ports],
        client: CheckCounters::default(),
        endpoint: CheckCounters::default(),
        unanswered: 0,
        latency: Histogram::new(),
        sequence: 0,
        cursor: FlowCursor::new(&config.spec),
        new_cursor: FlowCursor::new_flows(&config.spec),
        wraps_at_start: 0,
        started_tsc: 0,
        earlier_replies: 0,
        first_port: 0,
        until_new: config.spec.new_every,
        in_flight: 0,
        last_reply_tsc: now,
        client_side,
        rx: MbufBurst::new(),
        tx: MbufBurst::new(),
        waiting: (0..ports).map(|_| MbufBurst::new()).collect(),
        trash: MbufBurst::new(),
        config,
    };
    worker.run();
    0
}

impl Worker {
    /// `--show-mistranslated`: the first frames a check rejected, on stderr. Off the
    /// fast path: only frames already found wrong get here, and only the first N.
    fn show_if_mistranslated(&mut self, verdict: &Verdict, side: &str, frame: &[u8]) {
        let Verdict::Mistranslated(m) = verdict else {
            return;
        };
        if self.config.show_mistranslated == 0 {
            return;
        }
        self.config.show_mistranslated -= 1;
        let hex: String = frame.iter().take(64).map(|b| format!("{b:02x}")).collect();
        eprintln!(
            "podfwd-gen: mistranslated at the {side} side ({}): {hex}",
            m.name()
        );
    }

    fn run(&mut self) {
        let control = Arc::clone(&self.config.control);
        let publish_every = (self.config.tsc_hz / PUBLISH_PER_SECOND).max(1);
        let mut seen_generation = 0;
        let mut running = false;
        let mut started_at = 0;
        let mut next_publish = 0;
        let mut settings_changed = false;
        loop {
            let generation = control.generation.load(Ordering::Acquire);
            if generation != seen_generation {
                seen_generation = generation;
                let state = control.state.load(Ordering::Relaxed);
                let now = tsc();
                let pps = control.rate_pps.load(Ordering::Relaxed);
                if pps != self.rate.pps() {
                    self.rate.set_pps(pps, now);
                    settings_changed |= running;
                }
                let flows = control.flows.load(Ordering::Relaxed);
                if flows != self.config.spec.flows
                    && self.config.spec.check_flow_count(flows).is_ok()
                {
                    settings_changed |= running;
                    self.config.spec.flows = flows;
                    self.client_side.flows = self.client_side.flows.max(flows);
                    self.cursor = FlowCursor::new(&self.config.spec);
                    self.new_cursor = FlowCursor::new_flows(&self.config.spec);
                    self.wraps_at_start = 0;
                }
                if state == RUNNING && !running {
                    self.reset();
                    running = true;
                    settings_changed = false;
                    started_at = now;
                    self.rate.set_pps(pps, now);
                } else if state != RUNNING && running {
                    running = false;
                    let cycles = now.saturating_sub(started_at);
                    let ports_at_stop = self.counters.clone();
                    let client_at_stop = self.client;
                    // Requests still waiting for a refusing ring never left: a stopped
                    // run sends nothing more.
                    self.drop_waiting();
                    self.drain(now + self.config.drain_cycles);
                    let drain_cycles = tsc().saturating_sub(now);
                    self.publish();
                    let result = RunResult {
                        cycles,
                        drain_cycles,
                        ports: self.counters.clone(),
                        ports_at_stop,
                        client_at_stop,
                        client: self.client,
                        endpoint: self.endpoint,
                        unanswered: self.unanswered,
                        latency: self.latency.clone(),
                        rate_pps: self.rate.pps(),
                        flows: self.config.spec.flows,
                        new_flow_wraps: self.new_flow_wraps().saturating_sub(self.wraps_at_start),
                        earlier_replies: self.earlier_replies,
                        settings_changed,
                    };
                    if let Ok(mut slot) = control.result.lock() {
                        *slot = Some(result);
                    }
                }
                control.applied.store(generation, Ordering::Release);
                if state == QUIT {
                    return;
                }
            }
            if running {
                self.poll(true);
                let now = tsc();
                if now >= next_publish {
                    self.publish();
                    next_publish = now + publish_every;
                }
            } else {
                // Stopped, the ports are still served (ARP, late replies, rxonly): what
                // they count is published too, for `show port stats` across runs.
                self.poll(false);
                let now = tsc();
                if now >= next_publish {
                    self.publish();
                    next_publish = now + publish_every;
                }
                std::thread::sleep(IDLE_NAP);
            }
        }
    }

    /// How often the cursor that opens new flows has wrapped (since it was made).
    fn new_flow_wraps(&self) -> u64 {
        let spec = &self.config.spec;
        match (spec.new_flows, spec.new_every) {
            (true, _) => self.cursor.wraps(),
            (false, 0) => 0,
            (false, _) => self.new_cursor.wraps(),
        }
    }

    fn reset(&mut self) {
        self.drop_waiting();
        self.wraps_at_start = self.new_flow_wraps();
        self.started_tsc = tsc();
        self.earlier_replies = 0;
        self.counters.fill(PortCounters::default());
        self.client = CheckCounters::default();
        self.endpoint = CheckCounters::default();
        self.unanswered = 0;
        self.latency.clear();
        self.in_flight = 0;
        self.client_side.flows = self.config.spec.flows;
        self.publish();
    }

    fn publish(&self) {
        self.config
            .shared
            .publish(&self.counters, &self.client, &self.endpoint);
    }

    /// Keeps receiving (and answering) without sending anything new until `until`.
    fn drain(&mut self, until: u64) {
        while tsc() < until {
            self.poll(false);
        }
    }

    /// One pass over the ports, as [`Mode::pass`] says for a worker `running` or not.
    fn poll(&mut self, running: bool) {
        match self.config.mode.pass(running) {
            Pass::Idle => {}
            Pass::Generate => {
                // One rate for all ports: the port served first in a pass takes the
                // credit the others' passes earned, so the first place goes round.
                let ports = self.config.ports.len();
                self.first_port = (self.first_port + 1) % ports.max(1);
                for offset in 0..ports {
                    self.generate((self.first_port + offset) % ports);
                }
            }
            Pass::Receive => {
                for index in 0..self.config.ports.len() {
                    self.receive_and_time(index);
                }
            }
            Pass::Forward => {
                for index in 0..self.config.ports.len() {
                    self.forward(index);
                }
            }
            Pass::Serve { generate } => {
                if generate {
                    self.generate(0);
                }
                self.client_receive(0);
                self.endpoint_answer(1);
            }
        }
    }

    fn port_mac(&self, index: usize) -> MacAddr {
        self.config
            .port_macs
            .get(index)
            .copied()
            .unwrap_or_default()
    }

    fn counters(&mut self, index: usize) -> Option<&mut PortCounters> {
        self.counters.get_mut(index)
    }

    /// Sends what `tx` holds on port `index`; returns how many the port took (the
    /// first ones: a refusal drops the burst's tail).
    fn send(&mut self, index: usize) -> usize {
        let all = self.tx.len();
        self.transmit(index, false, all)
    }

    fn receive(&mut self, index: usize) -> usize {
        let Some((queue, _)) = self.config.queues.get_mut(index) else {
            return 0;
        };
        let count = rx_burst(queue, &mut self.rx, self.config.burst);
        let bytes: u64 = self
            .rx
            .as_slice()
            .iter()
            .map(|m| m.data().len() as u64)
            .sum();
        if let Some(c) = self.counters(index) {
            // Chained frames were received too (testpmd counts them); rx_burst freed them.
            let chained = count.multi_segment_dropped as u64;
            c.rx_packets += count.received as u64 + chained;
            c.rx_bytes += bytes + count.multi_segment_bytes;
            c.rx_chained += chained;
        }
        count.received
    }

    /// Frees the requests the TX rings refused and that were not sent since.
    fn drop_waiting(&mut self) {
        for waiting in &mut self.waiting {
            waiting.clear();
        }
    }

    /// Sends what `tx` holds on port `index`, of which the last `fresh` are new (the
    /// others refused before), keeping what the port refuses in its `waiting` burst;
    /// returns how many the port took.
    fn send_keeping(&mut self, index: usize, fresh: usize) -> usize {
        self.transmit(index, true, fresh)
    }

    /// [`Worker::send`] and [`Worker::send_keeping`]: the refused tail is kept (`keep`)
    /// or freed; a packet counts as refused once, when it is among the last `fresh`.
    fn transmit(&mut self, index: usize, keep: bool, fresh: usize) -> usize {
        let bytes: u64 = self
            .tx
            .as_slice()
            .iter()
            .map(|m| m.data().len() as u64)
            .sum();
        let Some((_, queue)) = self.config.queues.get_mut(index) else {
            // No such port: nothing is sent, and the burst is freed.
            self.tx.clear();
            return 0;
        };
        let count = tx_burst_keeping(queue, &mut self.tx);
        // The refused tail waits behind nothing, or is dropped.
        let kept = keep
            && self
                .waiting
                .get_mut(index)
                .is_some_and(|waiting| waiting.append(&mut self.tx));
        if !kept {
            self.tx.clear();
        }
        if let Some(c) = self.counters(index) {
            c.tx_packets += count.sent as u64;
            // Refused packets are the burst's tail; all frames of a port are one size
            // except ARP replies, so this is exact whenever nothing is refused.
            c.tx_bytes += if count.refused == 0 {
                bytes
            } else {
                bytes * count.sent as u64 / (count.sent + count.refused).max(1) as u64
            };
            c.tx_refused += count.refused.min(fresh) as u64;
        }
        count.sent
    }

    /// How many more requests the in-flight window allows now.
    fn window_room(&mut self, now: u64) -> usize {
        let window = self.config.window;
        if window == 0 || self.config.mode != Mode::Pods {
            return usize::MAX;
        }
        let reset_after = self.config.tsc_hz / 1_000_000 * WINDOW_RESET_MICROSECONDS;
        if now.saturating_sub(self.last_reply_tsc) > reset_after {
            self.in_flight = 0;
            self.last_reply_tsc = now;
        }
        window.saturating_sub(self.in_flight) as usize
    }

    fn generate(&mut self, index: usize) {
        let now = tsc();
        let room = self.window_room(now);
        if room == 0 {
            return;
        }
        // What the ring refused last time goes first, built once: only new requests
        // take flow tuples, and only what leaves is charged to the rate.
        let waiting = self.waiting.get(index).map_or(0, MbufBurst::len);
        let allowed = self
            .rate
            .permits(now, self.config.burst.min(room).max(waiting));
        if allowed < waiting {
            return;
        }
        if let Some(w) = self.waiting.get_mut(index) {
            // tx is empty between passes, and a burst holds at least one burst's worth.
            let _ = self.tx.append(w);
        }
        let wanted = allowed - waiting;
        let mut built = 0;
        for _ in 0..wanted {
            let Some(mut mbuf) = Mbuf::alloc(&self.config.pool) else {
                if let Some(c) = self.counters(index) {
                    c.tx_no_mbuf += 1;
                }
                break;
            };
            let spec = &self.config.spec;
            let tuple = match self.until_new {
                // Not mixing: every packet from the established (or new) flows' cursor.
                0 => self.cursor.next(spec),
                1 => {
                    self.until_new = spec.new_every;
                    self.new_cursor.next(spec)
                }
                _ => {
                    self.until_new -= 1;
                    self.cursor.next(spec)
                }
            };
            let vip = spec
                .services
                .get(tuple.service)
                .map_or((0, 0), |s| (u32::from(*s.vip.ip()), s.vip.port()));
            // The time goes in once the burst is built (`restamp`, below).
            let stamp = Stamp {
                sequence: self.sequence as u32,
                tsc: 0,
            };
            if !self.config.template.write(&mut mbuf, &tuple, vip, stamp) {
                break;
            }
            self.sequence += 1;
            built += 1;
            if self.tx.push(mbuf).is_err() {
                break;
            }
        }
        if built + waiting > 0 {
            // Stamped as late as it can be: the build time is the generator's, not the
            // round trip's (at 32 packets a burst it was ~1.6 us here).
            let sent_at = tsc();
            for mbuf in self.tx.as_mut_slice() {
                self.config.template.restamp(mbuf, sent_at);
            }
            let sent = self.send_keeping(index, built);
            self.rate.spent(sent);
            self.in_flight += sent as u64;
        }
    }

    fn client_receive(&mut self, index: usize) {
        if self.receive(index) == 0 {
            return;
        }
        let our_mac = self.port_mac(index);
        let now = tsc();
        self.last_reply_tsc = now;
        let mut rx = std::mem::take(&mut self.rx);
        // A connection test closes what it opened: each SYN-ACK is answered with an RST,
        // so the data plane's sessions for it turn transitory and can be reclaimed.
        let close = self.config.spec.new_flows && self.config.spec.protocol == Protocol::TcpSyn;
        // Which of the frames queued for tx are RSTs, and which ARP replies.
        let mut is_reset = [false; MAX_BURST];
        let mut is_arp = [false; MAX_BURST];
        let mut replies = 0;
        for mut mbuf in rx.drain() {
            let clients = self.config.spec.clients;
            if answer_arp(mbuf.data_mut(), our_mac, |ip| clients.contains(ip)) {
                push_marked(&mut self.tx, mbuf, &mut is_arp);
                continue;
            }

            let verdict = check_client_side(&self.config.spec, &self.client_side, mbuf.data());
            if let Verdict::Good {
                stamp: Some(stamp), ..
            } = verdict
            {
                // An earlier run's reply, come late: not this run's, neither received nor
                // timed (it would hide a loss and skew the latency).
                if stamp.tsc < self.started_tsc {
                    self.earlier_replies += 1;
                    if let Err(mbuf) = self.trash.push(mbuf) {
                        drop(mbuf);
                    }
                    continue;
                }
            }
            replies += 1;
            self.client.count(&verdict);
            self.show_if_mistranslated(&verdict, "client", mbuf.data());
            if let Verdict::Good { stamp, .. } = verdict {
                if let Some(stamp) = stamp {
                    self.latency.record(now.saturating_sub(stamp.tsc));
                }
                if close {
                    if let Ok(parsed) = parse(mbuf.data()) {
                        if parsed.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK {
                            close_in_place(mbuf.data_mut(), &parsed);
                            push_marked(&mut self.tx, mbuf, &mut is_reset);
                            continue;
                        }
                    }
                }
            }
            if let Err(mbuf) = self.trash.push(mbuf) {
                drop(mbuf);
            }
        }
        self.in_flight = self.in_flight.saturating_sub(replies);
        self.rx = rx;
        self.trash.clear();
        if !self.tx.is_empty() {
            let sent = self.send(index);
            let resets = is_reset.iter().take(sent).filter(|r| **r).count() as u64;
            let arp = is_arp.iter().take(sent).filter(|a| **a).count() as u64;
            if let Some(c) = self.counters(index) {
                c.tx_resets += resets;
                c.tx_arp_replies += arp;
            }
        }
    }

    fn endpoint_answer(&mut self, index: usize) {
        if self.receive(index) == 0 {
            return;
        }
        let our_mac = self.port_mac(index);
        let mut rx = std::mem::take(&mut self.rx);
        let mut is_arp = [false; MAX_BURST];
        for mut mbuf in rx.drain() {
            // The endpoint side stands for every host behind it (endpoints, next hops).
            if answer_arp(mbuf.data_mut(), our_mac, |_| true) {
                push_marked(&mut self.tx, mbuf, &mut is_arp);
                continue;
            }
            let (verdict, answer) = check_endpoint_side(&self.config.spec, mbuf.data());
            self.endpoint.count(&verdict);
            self.show_if_mistranslated(&verdict, "endpoint", mbuf.data());
            match answer {
                Answer::Reflect(parsed) => {
                    reflect_in_place(mbuf.data_mut(), &parsed);
                    if let Err(mbuf) = self.tx.push(mbuf) {
                        drop(mbuf);
                    }
                    continue;
                }
                Answer::Unanswered => self.unanswered += 1,
                Answer::Nothing => {}
            }
            if let Err(mbuf) = self.trash.push(mbuf) {
                drop(mbuf);
            }
        }
        self.rx = rx;
        self.trash.clear();
        if !self.tx.is_empty() {
            let sent = self.send(index);
            let arp = is_arp.iter().take(sent).filter(|a| **a).count() as u64;
            if let Some(c) = self.counters(index) {
                c.tx_arp_replies += arp;
            }
        }
    }

    fn receive_and_time(&mut self, index: usize) {
        if self.receive(index) == 0 {
            return;
        }
        let now = tsc();
        for mbuf in self.rx.as_slice() {
            if let Some(sent) = parse(mbuf.data()).ok().and_then(|p| stamp(mbuf.data(), &p)) {
                self.latency.record(now.saturating_sub(sent.tsc));
            }
        }
        self.rx.clear();
    }

    fn forward(&mut self, index: usize) {
        if self.receive(index) == 0 {
            return;
        }
        let peer = if index ^ 1 < self.config.ports.len() {
            index ^ 1
        } else {
            index
        };
        std::mem::swap(&mut self.rx, &mut self.tx);
        self.send(peer);
    }
}

/// Queues `mbuf` for TX and marks its place in `marks` (which frames of the burst are
/// not requests, so that the sent prefix can be counted by kind). A full burst frees it.
fn push_marked(tx: &mut MbufBurst, mbuf: Mbuf, marks: &mut [bool; MAX_BURST]) {
    let at = tx.len();
    if tx.push(mbuf).is_ok() {
        if let Some(mark) = marks.get_mut(at) {
            *mark = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stopped, and in the drain after stop, nothing new goes out: no requests, and io
    /// mode forwards nothing, as testpmd once stopped. What arrives is still counted
    /// where it can be a reply (rxonly, pods).
    #[test]
    fn a_stopped_worker_sends_nothing_new() {
        assert_eq!(Mode::Io.pass(true), Pass::Forward);
        assert_eq!(Mode::Io.pass(false), Pass::Idle);
        assert_eq!(Mode::TxOnly.pass(true), Pass::Generate);
        assert_eq!(Mode::TxOnly.pass(false), Pass::Idle);
        assert_eq!(Mode::RxOnly.pass(false), Pass::Receive);
        assert_eq!(Mode::Pods.pass(true), Pass::Serve { generate: true });
        assert_eq!(Mode::Pods.pass(false), Pass::Serve { generate: false });
    }
}
