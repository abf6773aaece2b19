//! Counters the worker keeps, how the main lcore reads them while it runs, and the
//! figures of a run: a text table for the console and one JSON object for batch mode.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::check::{CheckCounters, Mistranslation};
use super::json::Json;
use super::latency::{cycles_to_ns, Histogram};
use super::worker::{Mode, RunResult};

/// One port's traffic as the generator saw it (frame bytes, FCS not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCounters {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Refused by a full TX queue. A request refused (pods' client port, txonly) waits
    /// and is sent first on the port's next pass: it counts here once and is not lost.
    /// A reply refused (pods' endpoint port, io) is dropped.
    pub tx_refused: u64,
    /// Wanted to send, but the mempool was empty.
    pub tx_no_mbuf: u64,
    /// Of `tx_packets`, the RSTs clients sent to close connections (not requests).
    pub tx_resets: u64,
    /// Of `tx_packets`, the ARP replies the port sent for the pods or endpoints it
    /// plays (not requests, not replies to requests).
    pub tx_arp_replies: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Of `rx_packets`, frames that came in several mbufs (longer than one): counted,
    /// then freed unread (no check, no reply, no forwarding).
    pub rx_chained: u64,
}

const PORT_FIELDS: usize = 9;

impl PortCounters {
    fn to_array(self) -> [u64; PORT_FIELDS] {
        [
            self.tx_packets,
            self.tx_bytes,
            self.tx_refused,
            self.tx_no_mbuf,
            self.tx_resets,
            self.tx_arp_replies,
            self.rx_packets,
            self.rx_bytes,
            self.rx_chained,
        ]
    }

    fn from_array(a: [u64; PORT_FIELDS]) -> PortCounters {
        let [tx_packets, tx_bytes, tx_refused, tx_no_mbuf, tx_resets, tx_arp_replies, rx_packets, rx_bytes, rx_chained] =
            a;
        PortCounters {
            tx_packets,
            tx_bytes,
            tx_refused,
            tx_no_mbuf,
            tx_resets,
            tx_arp_replies,
            rx_packets,
            rx_bytes,
            rx_chained,
        }
    }

    /// Of `tx_packets`, the requests: neither RSTs nor ARP replies.
    pub fn tx_requests(&self) -> u64 {
        self.tx_packets
            .saturating_sub(self.tx_resets)
            .saturating_sub(self.tx_arp_replies)
    }

    pub fn plus(&self, other: &PortCounters) -> PortCounters {
        self.field_by_field(other, u64::saturating_add)
    }

    pub fn since(&self, earlier: &PortCounters) -> PortCounters {
        self.field_by_field(earlier, u64::saturating_sub)
    }

    fn field_by_field(&self, other: &PortCounters, f: fn(u64, u64) -> u64) -> PortCounters {
        let (a, b) = (self.to_array(), other.to_array());
        let mut out = [0; PORT_FIELDS];
        for ((o, a), b) in out.iter_mut().zip(a).zip(b) {
            *o = f(a, b);
        }
        PortCounters::from_array(out)
    }
}

const CHECK_FIELDS: usize = 2 + Mistranslation::ALL.len();

fn check_to_array(c: &CheckCounters) -> [u64; CHECK_FIELDS] {
    let mut a = [0; CHECK_FIELDS];
    a[0] = c.good;
    a[1] = c.malformed;
    a[2..].copy_from_slice(&c.mistranslated);
    a
}

fn check_from_array(a: &[u64; CHECK_FIELDS]) -> CheckCounters {
    let mut c = CheckCounters {
        good: a[0],
        malformed: a[1],
        ..CheckCounters::default()
    };
    c.mistranslated.copy_from_slice(&a[2..]);
    c
}

/// Counters a worker publishes (relaxed stores, a few times per millisecond at most)
/// and the main lcore reads without stopping it.
#[derive(Debug)]
pub struct Published<const N: usize>([AtomicU64; N]);

impl<const N: usize> Default for Published<N> {
    fn default() -> Self {
        Published([const { AtomicU64::new(0) }; N])
    }
}

impl<const N: usize> Published<N> {
    fn store(&self, values: &[u64; N]) {
        for (slot, &v) in self.0.iter().zip(values) {
            slot.store(v, Ordering::Relaxed);
        }
    }

    fn load(&self) -> [u64; N] {
        let mut out = [0; N];
        for (o, slot) in out.iter_mut().zip(&self.0) {
            *o = slot.load(Ordering::Relaxed);
        }
        out
    }
}

/// Everything the worker shares with the main lcore, per port and per checker side.
#[derive(Debug)]
pub struct SharedCounters {
    ports: Vec<Published<PORT_FIELDS>>,
    client: Published<CHECK_FIELDS>,
    endpoint: Published<CHECK_FIELDS>,
}

impl SharedCounters {
    pub fn new(ports: usize) -> SharedCounters {
        SharedCounters {
            ports: (0..ports).map(|_| Published::default()).collect(),
            client: Published::default(),
            endpoint: Published::default(),
        }
    }

    pub fn publish(
        &self,
        ports: &[PortCounters],
        client: &CheckCounters,
        endpoint: &CheckCounters,
    ) {
        for (shared, port) in self.ports.iter().zip(ports) {
            shared.store(&port.to_array());
        }
        self.client.store(&check_to_array(client));
        self.endpoint.store(&check_to_array(endpoint));
    }

    pub fn ports(&self) -> Vec<PortCounters> {
        self.ports
            .iter()
            .map(|p| PortCounters::from_array(p.load()))
            .collect()
    }

    pub fn client(&self) -> CheckCounters {
        check_from_array(&self.client.load())
    }

    pub fn endpoint(&self) -> CheckCounters {
        check_from_array(&self.endpoint.load())
    }
}

/// The figures of one run (between `start` and `stop`, or a batch run).
///
/// Counts cover the whole run, the drain after stop included, so that a request still
/// in flight at stop is not taken as lost. Rates are over `seconds`, the sending time,
/// of what was counted by stop: a count that took the drain's packets over the sending
/// time alone would overstate the rate, and one over both would understate it by the
/// drain's share, which depends on `--drain-ms` rather than on the forwarder.
#[derive(Clone, Debug)]
pub struct Figures {
    pub mode: String,
    /// From start to stop: what every rate is over.
    pub seconds: f64,
    /// The drain after stop, which counts only towards the totals.
    pub drain_seconds: f64,
    /// Port name and its counters over the run, drain included.
    pub ports: Vec<(String, PortCounters)>,
    /// Each port's counters at stop, in `ports`' order: what rates are taken from.
    pub ports_at_stop: Vec<PortCounters>,
    /// In pods mode, what became of the requests.
    pub round_trip: Option<RoundTrip>,
    pub client: CheckCounters,
    /// Of `client.good`, those by stop.
    pub good_at_stop: u64,
    pub endpoint: CheckCounters,
    /// Round-trip latency in TSC cycles.
    pub latency: Histogram,
    pub tsc_hz: u64,
    /// Established flows cycled over (unused with `--new-flows`).
    pub flows: u64,
    pub new_flows: bool,
    /// `--new-flow-every N` (0: not given).
    pub new_every: u64,
    /// The rate asked for (`--rate`, `set rate`); 0 = unlimited. What was sent is in
    /// the ports' rates.
    pub target_pps: u64,
    /// Requests sent by stop (not the RSTs closing connections), in the modes that
    /// send them (pods, txonly): what new flows were opened by.
    pub requests_at_stop: Option<u64>,
    /// Times the new flows' tuple space was used up and walked again: after the first,
    /// a "new" flow reuses a tuple (its session may still be there).
    pub new_flow_wraps: u64,
    /// Pods mode: replies stamped before the run started (an earlier run's).
    pub earlier_replies: u64,
    /// `set rate` or `set flows` changed the run while it ran: `target_pps` and `flows`
    /// are the last ones.
    pub settings_changed: bool,
    /// A signal (Ctrl-C) ended a batch run before its `--duration`.
    pub interrupted: bool,
    /// The ports whose link was down when the run stopped (a peer that quit or
    /// disconnected): the rates then average over time it could not send.
    pub links_down_at_stop: Vec<String>,
}

/// Pods mode: what became of the requests. Each request sent is received back,
/// unanswered, or lost: `sent = received + unanswered + lost - surplus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoundTrip {
    /// Requests the clients sent (not the RSTs closing connections).
    pub sent: u64,
    /// Replies that came back, checked good or mistranslated (not what could not be
    /// parsed, nor ARP).
    pub received: u64,
    /// Requests the endpoint side got mistranslated and so did not answer: counted as
    /// mistranslated (endpoint side), not as lost.
    pub unanswered: u64,
}

impl RoundTrip {
    /// Requests of which nothing came back: neither a reply, nor the request itself at
    /// the endpoint side, mistranslated (by the end of the run, including those still in
    /// flight). Net of [`RoundTrip::surplus`]: a duplicated reply hides a lost one.
    pub fn lost(&self) -> u64 {
        self.sent
            .saturating_sub(self.received.saturating_add(self.unanswered))
    }

    /// Replies (and unanswered requests) beyond the requests sent: duplicates, or
    /// replies to an earlier run's.
    pub fn surplus(&self) -> u64 {
        self.received
            .saturating_add(self.unanswered)
            .saturating_sub(self.sent)
    }
}

fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

impl Figures {
    /// The figures of the worker's `result`, its ports named `names` in order.
    pub fn of_run(
        mode: Mode,
        names: &[String],
        result: RunResult,
        tsc_hz: u64,
        new_flows: bool,
        new_every: u64,
    ) -> Figures {
        let seconds = |cycles: u64| cycles as f64 / tsc_hz.max(1) as f64;
        let round_trip = (mode == Mode::Pods).then(|| {
            let client = result.ports.first().copied().unwrap_or_default();
            RoundTrip {
                sent: client.tx_requests(),
                received: result.client.good + result.client.mistranslated_total(),
                unanswered: result.unanswered,
            }
        });
        let requests_at_stop = match mode {
            Mode::Pods => result.ports_at_stop.first().map(PortCounters::tx_requests),
            Mode::TxOnly => Some(result.ports_at_stop.iter().map(|c| c.tx_packets).sum()),
            Mode::RxOnly | Mode::Io => None,
        };
        Figures {
            mode: mode.to_string(),
            seconds: seconds(result.cycles),
            drain_seconds: seconds(result.drain_cycles),
            ports: names.iter().cloned().zip(result.ports).collect(),
            ports_at_stop: result.ports_at_stop,
            round_trip,
            client: result.client,
            good_at_stop: result.client_at_stop.good,
            endpoint: result.endpoint,
            latency: result.latency,
            tsc_hz,
            flows: result.flows,
            new_flows,
            new_every,
            target_pps: result.rate_pps,
            requests_at_stop,
            new_flow_wraps: result.new_flow_wraps,
            earlier_replies: result.earlier_replies,
            interrupted: false,
            links_down_at_stop: Vec::new(),
            settings_changed: result.settings_changed,
        }
    }

    /// Pods mode: [`RoundTrip::lost`].
    pub fn lost(&self) -> Option<u64> {
        self.round_trip.map(|r| r.lost())
    }

    /// Pods mode: [`RoundTrip::surplus`].
    pub fn surplus(&self) -> Option<u64> {
        self.round_trip.map(|r| r.surplus())
    }

    /// Port `index`'s counters at stop (the totals, if none were taken).
    fn at_stop(&self, index: usize) -> PortCounters {
        match self.ports_at_stop.get(index) {
            Some(c) => *c,
            None => self.ports.get(index).map(|(_, c)| *c).unwrap_or_default(),
        }
    }

    pub fn mistranslated(&self) -> u64 {
        self.client.mistranslated_total() + self.endpoint.mistranslated_total()
    }

    fn latency_ns(&self, value: Option<u64>) -> Option<u64> {
        value.map(|c| cycles_to_ns(c, self.tsc_hz))
    }

    /// Connections answered per second when every packet opens a new flow.
    pub fn new_flows_per_second(&self) -> Option<f64> {
        // Only pods mode has replies (txonly opens flows but hears nothing back).
        (self.new_flows && self.mode == Mode::Pods.to_string())
            .then(|| per_second(self.good_at_stop, self.seconds))
    }

    /// New flows opened per second: every request with `--new-flows`, one in N with
    /// `--new-flow-every N`; None when no packet opens one.
    pub fn new_flows_sent_per_second(&self) -> Option<f64> {
        let requests_per_flow = match (self.new_flows, self.new_every) {
            (true, _) => 1,
            (false, 0) => return None,
            (false, n) => n,
        };
        self.requests_at_stop
            .map(|r| per_second(r, self.seconds) / requests_per_flow as f64)
    }

    /// The batch run's object. Counts (packets, bytes, `sent`, `received`, `lost`,
    /// `surplus`, the checks, latency samples) cover `seconds` and `drain_seconds`;
    /// rates (`tx_pps`, `rx_pps`, `tx_bps`, `rx_bps`, `new_flows_per_s`,
    /// `new_flows_sent_per_s`) are what was counted by stop over `seconds`. `flows` is the
    /// established flows cycled over (null with `--new-flows`, where there are none);
    /// `target_pps`, the rate asked for (null: unlimited), not what was sent, which is
    /// `tx_pps`; `new_flows_per_s`, with `--new-flows`, the new flows answered (good
    /// replies) per second, and `new_flows_sent_per_s` the new flows opened per second. `received` counts replies (checked good or
    /// mistranslated); `unanswered`, requests the endpoint side got mistranslated and so
    /// did not answer; `lost`, requests of which neither came back: `sent = received +
    /// unanswered + lost - surplus`, and `mistranslated` takes the unanswered requests
    /// and the mistranslated replies, so no packet counts as both mistranslated and lost.
    pub fn to_json(&self) -> Json {
        let ports = self
            .ports
            .iter()
            .enumerate()
            .map(|(index, (name, c))| {
                let r = self.at_stop(index);
                Json::object([
                    ("name", Json::str(name.clone())),
                    ("tx_packets", Json::Int(c.tx_packets)),
                    ("rx_packets", Json::Int(c.rx_packets)),
                    ("tx_bytes", Json::Int(c.tx_bytes)),
                    ("rx_bytes", Json::Int(c.rx_bytes)),
                    ("tx_refused", Json::Int(c.tx_refused)),
                    ("tx_no_mbuf", Json::Int(c.tx_no_mbuf)),
                    ("tx_resets", Json::Int(c.tx_resets)),
                    ("tx_arp_replies", Json::Int(c.tx_arp_replies)),
                    ("rx_chained", Json::Int(c.rx_chained)),
                    (
                        "tx_pps",
                        Json::Float(per_second(r.tx_packets, self.seconds)),
                    ),
                    (
                        "rx_pps",
                        Json::Float(per_second(r.rx_packets, self.seconds)),
                    ),
                    (
                        "tx_bps",
                        Json::Float(per_second(r.tx_bytes * 8, self.seconds)),
                    ),
                    (
                        "rx_bps",
                        Json::Float(per_second(r.rx_bytes * 8, self.seconds)),
                    ),
                ])
            })
            .collect();
        let check = |c: &CheckCounters| {
            let mut fields = vec![
                ("good".to_owned(), Json::Int(c.good)),
                ("malformed".to_owned(), Json::Int(c.malformed)),
            ];
            for kind in Mistranslation::ALL {
                fields.push((kind.name().to_owned(), Json::Int(c.of(kind))));
            }
            Json::Object(fields)
        };
        let round_trip =
            |count: fn(&RoundTrip) -> u64| Json::opt_int(self.round_trip.as_ref().map(count));
        Json::object([
            ("mode", Json::str(self.mode.clone())),
            ("seconds", Json::Float(self.seconds)),
            ("drain_seconds", Json::Float(self.drain_seconds)),
            ("interrupted", Json::Bool(self.interrupted)),
            (
                "links_down_at_stop",
                Json::Array(
                    self.links_down_at_stop
                        .iter()
                        .cloned()
                        .map(Json::str)
                        .collect(),
                ),
            ),
            (
                "flows",
                if self.new_flows || !self.generates() {
                    Json::Null
                } else {
                    Json::Int(self.flows)
                },
            ),
            ("new_flows", Json::Bool(self.new_flows)),
            (
                "new_flow_every",
                match self.new_every {
                    0 => Json::Null,
                    n => Json::Int(n),
                },
            ),
            (
                "target_pps",
                match self.target_pps {
                    0 => Json::Null,
                    pps => Json::Int(pps),
                },
            ),
            ("ports", Json::Array(ports)),
            ("sent", round_trip(|r| r.sent)),
            ("received", round_trip(|r| r.received)),
            ("unanswered", round_trip(|r| r.unanswered)),
            ("lost", Json::opt_int(self.lost())),
            ("surplus", Json::opt_int(self.surplus())),
            (
                "earlier_run_replies",
                Json::opt_int(self.round_trip.map(|_| self.earlier_replies)),
            ),
            (
                "mistranslated",
                match self.checks() {
                    true => Json::Int(self.mistranslated()),
                    false => Json::Null,
                },
            ),
            (
                "client_check",
                match self.checks() {
                    true => check(&self.client),
                    false => Json::Null,
                },
            ),
            (
                "endpoint_check",
                match self.checks() {
                    true => check(&self.endpoint),
                    false => Json::Null,
                },
            ),
            (
                "new_flows_per_s",
                self.new_flows_per_second().map_or(Json::Null, Json::Float),
            ),
            (
                "new_flows_sent_per_s",
                self.new_flows_sent_per_second()
                    .map_or(Json::Null, Json::Float),
            ),
            (
                "new_flow_tuples_wrapped",
                match self.new_flows || self.new_every > 0 {
                    true => Json::Int(self.new_flow_wraps),
                    false => Json::Null,
                },
            ),
            (
                "latency_ns",
                Json::object([
                    ("samples", Json::Int(self.latency.samples())),
                    ("min", Json::opt_int(self.latency_ns(self.latency.min()))),
                    (
                        "median",
                        Json::opt_int(self.latency_ns(self.latency.quantile(0.5))),
                    ),
                    (
                        "p99",
                        Json::opt_int(self.latency_ns(self.latency.quantile(0.99))),
                    ),
                    ("max", Json::opt_int(self.latency_ns(self.latency.max()))),
                ]),
            ),
        ])
    }

    /// Whether the mode checks translations: pods alone (txonly hears nothing back,
    /// rxonly and io look at nothing they receive but rxonly's stamps).
    fn checks(&self) -> bool {
        self.mode == Mode::Pods.to_string()
    }

    /// Whether the mode sends packets of its own, over flows at a rate (pods, txonly).
    fn generates(&self) -> bool {
        self.mode == Mode::Pods.to_string() || self.mode == Mode::TxOnly.to_string()
    }

    /// Whether the mode times what it receives (pods' replies, rxonly's stamped frames).
    fn times(&self) -> bool {
        self.mode == Mode::Pods.to_string() || self.mode == Mode::RxOnly.to_string()
    }

    /// The console's summary after `stop`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "{} run: {:.3} s", self.mode, self.seconds);
        if self.generates() {
            let _ = write!(
                out,
                ", {}, target rate {}",
                match (self.new_flows, self.new_every) {
                    (true, _) => "a new flow per packet".to_owned(),
                    (false, 0) => format!("{} flows", self.flows),
                    (false, n) => format!("{} flows and a new flow every {n} packets", self.flows),
                },
                match self.target_pps {
                    0 => "max".to_owned(),
                    pps => format!("{pps} pps"),
                }
            );
        }
        out.push('\n');
        if self.interrupted {
            out.push_str("(interrupted before its --duration: the figures are of what ran)\n");
        }
        if !self.links_down_at_stop.is_empty() {
            let _ = writeln!(
                out,
                "warning: link down at stop on {} (the peer quit or disconnected during the \
                 run: the rates average over time it could not send)",
                self.links_down_at_stop.join(", ")
            );
        }
        if self.settings_changed {
            out.push_str(
                "(set flows or set rate changed them during the run: those are the last; \
                 the figures below are of the whole run)\n",
            );
        }
        let at_stop: Vec<PortCounters> = (0..self.ports.len()).map(|i| self.at_stop(i)).collect();
        out.push_str(&table(&self.ports, &at_stop, self.seconds));
        // A rate asked for and not reached: the table's rates say so, this says why.
        if let (Some(sent), true) = (self.requests_at_stop, self.target_pps > 0) {
            let pps = sent as f64 / self.seconds.max(f64::MIN_POSITIVE);
            if pps < 0.95 * self.target_pps as f64 {
                // The ports that send requests: pods' client port, every txonly port.
                let request_ports = match self.mode.as_str() {
                    "pods" => &at_stop[..at_stop.len().min(1)],
                    _ => &at_stop[..],
                };
                let refused: u64 = request_ports.iter().map(|c| c.tx_refused).sum();
                let _ = writeln!(
                    out,
                    "warning: sent {pps:.0} pps of the {} asked for; the TX ring refused \
                     {refused} requests (each waited and went later: the peer or this core \
                     is the limit)",
                    self.target_pps
                );
            }
        }
        if self.drain_seconds > 0.0 {
            let _ = writeln!(
                out,
                "rates are over the {:.3} s of sending; counts also take the {:.3} s drain after it",
                self.seconds, self.drain_seconds
            );
        }
        if let Some(r) = self.round_trip {
            let _ = write!(out, "sent {}, received back {}", r.sent, r.received);
            if r.unanswered > 0 {
                let _ = write!(
                    out,
                    ", unanswered {} (mistranslated at the endpoint side)",
                    r.unanswered
                );
            }
            let _ = write!(out, ", lost {}", r.lost());
            // Replies the endpoint port could not send: its ring toward the device
            // under test was full. Counted lost, as the device did not drain it, but
            // said apart from what the device dropped.
            let endpoint_refused = self.ports.get(1).map_or(0, |(_, c)| c.tx_refused);
            if r.lost() > 0 && endpoint_refused > 0 {
                let _ = write!(
                    out,
                    " ({} of them replies the endpoint port's TX refused: its ring \
                     toward the device was full)",
                    endpoint_refused.min(r.lost())
                );
            }
            if self.earlier_replies > 0 {
                let _ = write!(
                    out,
                    " ({} replies to an earlier run's requests came late: not counted)",
                    self.earlier_replies
                );
            }
            match r.surplus() {
                surplus if surplus > 0 => {
                    let _ = writeln!(
                        out,
                        "; {surplus} replies more than requests (duplicates, or an earlier run's)"
                    );
                }
                _ => out.push('\n'),
            }
        }
        // Only pods checks translations; txonly hears nothing back.
        if self.checks() {
            let _ = writeln!(
                out,
                "mistranslated {} (client side {}, endpoint side {}); malformed {}",
                self.mistranslated(),
                self.client.mistranslated_total(),
                self.endpoint.mistranslated_total(),
                self.client.malformed + self.endpoint.malformed
            );
            for kind in Mistranslation::ALL {
                let n = self.client.of(kind) + self.endpoint.of(kind);
                if n > 0 {
                    let _ = writeln!(out, "  {n:>12} {}: {}", kind.name(), kind.description());
                }
            }
        }
        if let Some(cps) = self.new_flows_per_second() {
            let _ = writeln!(out, "new flows answered: {cps:.0}/s");
        }
        if let Some(opened) = self.new_flows_sent_per_second() {
            let _ = writeln!(out, "new flows opened: {opened:.0}/s");
        }
        if self.new_flow_wraps > 0 {
            let _ = writeln!(
                out,
                "warning: the new flows' client tuples ran out {} time(s): after the first \
                 pass a new flow reuses a tuple (widen --clients/--client-ports)",
                self.new_flow_wraps
            );
        }
        match (self.latency.min(), self.latency.max()) {
            _ if !self.times() => {}
            (Some(min), Some(max)) => {
                let ns = |c| cycles_to_ns(c, self.tsc_hz);
                let _ = writeln!(
                    out,
                    "latency ns: min {} median {} p99 {} max {} ({} samples)",
                    ns(min),
                    ns(self.latency.quantile(0.5).unwrap_or(min)),
                    ns(self.latency.quantile(0.99).unwrap_or(max)),
                    ns(max),
                    self.latency.samples()
                );
            }
            _ => out.push_str("latency: no stamped replies\n"),
        }
        out
    }
}

/// What the console's `show port stats` shows: each port's counts since its last
/// `clear port stats` (or since podfwd-gen started), across runs as testpmd's port
/// stats are (`start` zeroes the run's figures, not these), and, over the time since
/// the previous show, rates. Clearing moves only this view's zero: the run's figures
/// keep every packet.
#[derive(Debug)]
pub struct PortStatsView {
    /// Each port's counts in the runs before the current one.
    carried: Vec<PortCounters>,
    /// Each port's total (carried + the run's) at its last clear.
    cleared: Vec<PortCounters>,
    /// When the previous show was, and every port's total then.
    last_show: Option<(Instant, Vec<PortCounters>)>,
}

impl PortStatsView {
    pub fn new(ports: usize) -> PortStatsView {
        PortStatsView {
            carried: vec![PortCounters::default(); ports],
            cleared: vec![PortCounters::default(); ports],
            last_show: None,
        }
    }

    /// A run starts, and the worker counts from zero again: `finished` are its
    /// counters for the run before (all zero before the first).
    pub fn restart(&mut self, finished: &[PortCounters]) {
        for (carried, run) in self.carried.iter_mut().zip(finished) {
            *carried = carried.plus(run);
        }
    }

    /// Each port's total: the earlier runs' and `counters`, the current run's.
    fn totals(&self, counters: &[PortCounters]) -> Vec<PortCounters> {
        self.carried
            .iter()
            .enumerate()
            .map(|(row, carried)| carried.plus(&counters.get(row).copied().unwrap_or_default()))
            .collect()
    }

    /// `clear port stats`: the ports at `rows` count from their totals now (`counters`:
    /// the current run's).
    pub fn clear(&mut self, counters: &[PortCounters], rows: &[usize]) {
        let totals = self.totals(counters);
        for &row in rows {
            if let (Some(zero), Some(now)) = (self.cleared.get_mut(row), totals.get(row)) {
                *zero = *now;
            }
        }
    }

    /// `show port stats`: the ports at `rows` (of `names` and `counters`, the worker's
    /// counters for the current run `now`).
    pub fn show(
        &mut self,
        names: &[String],
        counters: &[PortCounters],
        rows: &[usize],
        now: Instant,
    ) -> String {
        let pick = |of: &dyn Fn(usize) -> PortCounters| -> Vec<(String, PortCounters)> {
            rows.iter()
                .filter_map(|&row| Some((names.get(row)?.clone(), of(row))))
                .collect()
        };
        let totals = self.totals(counters);
        let at = |row: usize| totals.get(row).copied().unwrap_or_default();
        let mut out = port_table(
            &pick(&|row| at(row).since(&self.cleared.get(row).copied().unwrap_or_default())),
            0.0,
        );
        if let Some((then, before)) = &self.last_show {
            let seconds = now.saturating_duration_since(*then).as_secs_f64();
            // Rates over less than the 0.01 s the line can show would read as 0.00 s.
            if seconds >= 0.01 {
                let _ = writeln!(out, "over the last {seconds:.2} s:");
                let delta =
                    |row: usize| at(row).since(&before.get(row).copied().unwrap_or_default());
                out.push_str(&port_table(&pick(&delta), seconds));
            }
        }
        self.last_show = Some((now, totals.clone()));
        out
    }
}

/// `show port stats all`: totals and, over `seconds`, rates ("-" without a period): as
/// testpmd's, packets and bytes each way, then packets and bits per second.
pub fn port_table(ports: &[(String, PortCounters)], seconds: f64) -> String {
    let counted: Vec<PortCounters> = ports.iter().map(|(_, c)| *c).collect();
    table(ports, &counted, seconds)
}

/// [`port_table`] with the rates taken from `counted` (per port, in order), what was
/// counted within `seconds`.
fn table(ports: &[(String, PortCounters)], counted: &[PortCounters], seconds: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>12} {:>12} {:>14} {:>14} {:>10} {:>10} {:>13} {:>13} {:>8} {:>8}",
        "port",
        "tx-packets",
        "rx-packets",
        "tx-bytes",
        "rx-bytes",
        "tx-pps",
        "rx-pps",
        "tx-bps",
        "rx-bps",
        "tx-full",
        "no-mbuf"
    );
    let rate = |count: u64| {
        if seconds > 0.0 {
            format!("{:.0}", per_second(count, seconds))
        } else {
            "-".to_owned()
        }
    };
    for ((name, c), r) in ports.iter().zip(counted) {
        let _ = writeln!(
            out,
            "{:<16} {:>12} {:>12} {:>14} {:>14} {:>10} {:>10} {:>13} {:>13} {:>8} {:>8}",
            name,
            c.tx_packets,
            c.rx_packets,
            c.tx_bytes,
            c.rx_bytes,
            rate(r.tx_packets),
            rate(r.rx_packets),
            rate(r.tx_bytes * 8),
            rate(r.rx_bytes * 8),
            c.tx_refused,
            c.tx_no_mbuf
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HZ: u64 = 2_596_000_000;

    /// A pods run of 2 s and a 0.1 s drain: the client port got 991 replies (one of them
    /// mistranslated) and 5 frames that were none; by stop it had 900 of them.
    fn result() -> RunResult {
        let mut latency = Histogram::new();
        for cycles in [2596, 5192, 25960] {
            latency.record(cycles);
        }
        let mut client = CheckCounters {
            good: 990,
            malformed: 5,
            ..CheckCounters::default()
        };
        client.count(&super::super::check::Verdict::Mistranslated(
            Mistranslation::WrongService,
        ));
        RunResult {
            cycles: 2 * HZ,
            drain_cycles: HZ / 10,
            ports: vec![
                PortCounters {
                    tx_packets: 1000,
                    tx_bytes: 60_000,
                    rx_packets: 996,
                    rx_bytes: 59_760,
                    ..PortCounters::default()
                },
                PortCounters {
                    tx_packets: 995,
                    tx_bytes: 59_700,
                    rx_packets: 995,
                    rx_bytes: 59_700,
                    ..PortCounters::default()
                },
            ],
            ports_at_stop: vec![
                PortCounters {
                    tx_packets: 1000,
                    tx_bytes: 60_000,
                    rx_packets: 900,
                    rx_bytes: 54_000,
                    ..PortCounters::default()
                },
                PortCounters {
                    tx_packets: 950,
                    tx_bytes: 57_000,
                    rx_packets: 960,
                    rx_bytes: 57_600,
                    ..PortCounters::default()
                },
            ],
            client_at_stop: CheckCounters {
                good: 896,
                ..CheckCounters::default()
            },
            client,
            endpoint: CheckCounters {
                good: 995,
                ..CheckCounters::default()
            },
            unanswered: 0,
            latency,
            rate_pps: 500,
            flows: 1024,
            new_flow_wraps: 0,
            earlier_replies: 0,
            settings_changed: false,
        }
    }

    /// The summary says what a testpmd user would ask: settings changed mid-run, a rate
    /// not reached, the generator's own refusals among the lost, and no translation or
    /// latency lines for txonly, which hears nothing back.
    #[test]
    fn the_summary_says_what_the_figures_alone_do_not() {
        let text = figures().text();
        for absent in ["changed them", "warning: sent", "TX refused"] {
            assert!(!text.contains(absent), "{absent}: {text}");
        }
        let mut run = result();
        run.settings_changed = true;
        run.rate_pps = 1000;
        run.ports[1].tx_refused = 5;
        run.ports_at_stop[0].tx_refused = 7;
        // The endpoint port's refused replies have nothing to do with the request rate.
        run.ports_at_stop[1].tx_refused = 4;
        let names = ["vhost0".to_owned(), "vhost1".to_owned()];
        let f = Figures::of_run(Mode::Pods, &names, run, HZ, false, 0);
        let text = f.text();
        assert!(
            text.contains("(set flows or set rate changed them during the run: those are the last; the figures below are of the whole run)\n"),
            "{text}"
        );
        assert!(
            text.contains("warning: sent 500 pps of the 1000 asked for; the TX ring refused 7 requests (each waited and went later: the peer or this core is the limit)\n"),
            "{text}"
        );
        assert!(
            text.contains("lost 9 (5 of them replies the endpoint port's TX refused: its ring toward the device was full)"),
            "{text}"
        );
        let txonly = Figures::of_run(Mode::TxOnly, &[], result(), HZ, false, 0).text();
        assert!(
            !txonly.contains("mistranslated") && !txonly.contains("latency"),
            "{txonly}"
        );
    }

    fn figures() -> Figures {
        Figures::of_run(
            Mode::Pods,
            &["vhost0".to_owned(), "vhost1".to_owned()],
            result(),
            HZ,
            false,
            0,
        )
    }

    #[test]
    fn json_holds_every_figure() {
        let json = figures().to_json().to_string();
        assert!(json.starts_with(r#"{"mode":"pods","seconds":2,"drain_seconds":0.1,"interrupted":false,"links_down_at_stop":[],"flows":1024,"new_flows":false,"new_flow_every":null,"target_pps":500,"ports":[{"name":"vhost0","tx_packets":1000,"rx_packets":996,"tx_bytes":60000,"rx_bytes":59760,"tx_refused":0,"tx_no_mbuf":0,"tx_resets":0,"tx_arp_replies":0,"rx_chained":0,"tx_pps":500,"rx_pps":450,"tx_bps":240000,"rx_bps":216000}"#), "{json}");
        assert!(json.contains(r#""sent":1000,"received":991,"unanswered":0,"lost":9,"surplus":0,"earlier_run_replies":0,"mistranslated":1,"client_check":{"good":990,"malformed":5,"wrong_mac":0,"unknown_client":0,"wrong_client":0,"wrong_service":1,"#), "{json}");
        // The median is a bucket middle: 5192 cycles reads as 5247 (2021 ns), within 1/16.
        assert!(json.ends_with(r#""new_flows_per_s":null,"new_flows_sent_per_s":null,"new_flow_tuples_wrapped":null,"latency_ns":{"samples":3,"min":1000,"median":2021,"p99":10000,"max":10000}}"#), "{json}");
    }

    /// What a mode does not do, its JSON gives as null, not as a count that reads as
    /// passed: no checks outside pods, no flows or rate where nothing is generated; an
    /// interrupted batch run says so, in both forms.
    #[test]
    fn figures_a_mode_has_none_of_are_null() {
        for (mode, flows) in [
            (Mode::TxOnly, r#""flows":1024,"#),
            (Mode::RxOnly, r#""flows":null,"#),
            (Mode::Io, r#""flows":null,"#),
        ] {
            let json = Figures::of_run(mode, &[], result(), HZ, false, 0)
                .to_json()
                .to_string();
            assert!(json.contains(flows), "{mode}: {json}");
            assert!(
                json.contains(r#""mistranslated":null,"client_check":null,"endpoint_check":null,"#),
                "{mode}: {json}"
            );
        }
        let io = Figures::of_run(Mode::Io, &[], result(), HZ, false, 0).text();
        assert!(io.starts_with("io run: 2.000 s\n"), "{io}");
        for absent in ["flows", "target rate", "mistranslated", "latency"] {
            assert!(!io.contains(absent), "{absent}: {io}");
        }
        let rxonly = Figures::of_run(Mode::RxOnly, &[], result(), HZ, false, 0).text();
        assert!(
            rxonly.contains("latency ns: "),
            "rxonly times stamps: {rxonly}"
        );
        let mut cut = figures();
        cut.interrupted = true;
        cut.links_down_at_stop = vec!["net_vhost1".to_owned()];
        let json = cut.to_json().to_string();
        assert!(
            json.contains(r#""interrupted":true,"links_down_at_stop":["net_vhost1"],"#),
            "{json}"
        );
        let text = cut.text();
        assert!(text.contains("(interrupted before its --duration: the figures are of what ran)\n"));
        assert!(
            text.contains("warning: link down at stop on net_vhost1 (the peer quit"),
            "{text}"
        );
    }

    /// Rates are what was counted by stop over the sending time; counts take the drain
    /// after it too. Port 0 received 996 frames, 900 of them by stop, in 2 s of sending
    /// and 0.1 s of drain: 450 pps, not 996 / 2 (the drain's frames over the sending
    /// time) nor 996 / 2.1 (a rate diluted by however long the drain was).
    #[test]
    fn rates_are_over_the_sending_time_of_what_came_by_stop() {
        let f = figures();
        assert_eq!((f.seconds, f.drain_seconds), (2.0, 0.1));
        let json = f.to_json().to_string();
        assert!(json.contains(r#""rx_packets":996,"#), "{json}");
        assert!(json.contains(r#""rx_pps":450,"#), "{json}");
        assert!(json.contains(r#""name":"vhost1","tx_packets":995,"rx_packets":995,"tx_bytes":59700,"rx_bytes":59700,"tx_refused":0,"tx_no_mbuf":0,"tx_resets":0,"tx_arp_replies":0,"rx_chained":0,"tx_pps":475,"rx_pps":480,"tx_bps":228000,"rx_bps":230400}"#), "{json}");
        let text = f.text();
        let row: Vec<&str> = text
            .lines()
            .find(|l| l.starts_with("vhost0"))
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(
            row,
            [
                "vhost0", "1000", "996", "60000", "59760", "500", "450", "240000", "216000", "0",
                "0"
            ],
            "{text}"
        );
        assert!(
            text.contains("rates are over the 2.000 s of sending; counts also take the 0.100 s drain after it"),
            "{text}"
        );
        let mut connections = figures();
        connections.new_flows = true;
        // 896 good replies by stop (990 with the drain's) over 2 s.
        assert_eq!(connections.new_flows_per_second(), Some(448.0));
    }

    /// `received` counts replies, not every frame the client port got (5 were not
    /// replies), and more replies than requests shows rather than reading as no loss.
    #[test]
    fn received_counts_replies_and_shows_a_surplus() {
        let f = figures();
        assert_eq!(
            f.round_trip,
            Some(RoundTrip {
                sent: 1000,
                received: 991,
                unanswered: 0
            })
        );
        assert_eq!((f.lost(), f.surplus()), (Some(9), Some(0)));
        let mut run = result();
        run.client.good = 1009;
        let f = Figures::of_run(Mode::Pods, &[], run, HZ, false, 0);
        assert_eq!(
            f.round_trip.map(|r| (r.sent, r.received)),
            Some((1000, 1010))
        );
        assert_eq!((f.lost(), f.surplus()), (Some(0), Some(10)));
        let json = f.to_json().to_string();
        assert!(
            json.contains(r#""sent":1000,"received":1010,"unanswered":0,"lost":0,"surplus":10,"earlier_run_replies":0,"#),
            "{json}"
        );
        let text = f.text();
        assert!(
            text.contains("sent 1000, received back 1010, lost 0; 10 replies more than requests (duplicates, or an earlier run's)"),
            "{text}"
        );
        let txonly = Figures::of_run(Mode::TxOnly, &[], result(), HZ, false, 0);
        assert_eq!((txonly.lost(), txonly.surplus()), (None, None));
        // Replies to an earlier run's requests are said apart, not received.
        let mut late = result();
        late.earlier_replies = 7;
        let f = Figures::of_run(Mode::Pods, &[], late, HZ, false, 0);
        assert_eq!(f.round_trip.map(|r| r.received), Some(991));
        assert!(f
            .to_json()
            .to_string()
            .contains(r#""earlier_run_replies":7,"#));
        assert!(
            f.text().contains(
                "lost 9 (7 replies to an earlier run's requests came late: not counted)\n"
            ),
            "{}",
            f.text()
        );
    }

    /// ARP replies the client port sent for its pods (a data plane resolving them) are
    /// not requests: neither sent nor lost, nor new flows opened.
    #[test]
    fn arp_replies_are_not_requests() {
        let mut run = result();
        for ports in [&mut run.ports, &mut run.ports_at_stop] {
            ports[0].tx_packets += 50;
            ports[0].tx_arp_replies = 50;
        }
        let f = Figures::of_run(Mode::Pods, &[], run, HZ, true, 0);
        assert_eq!(f.round_trip.map(|r| r.sent), Some(1000));
        assert_eq!(f.lost(), Some(9));
        assert_eq!(f.new_flows_sent_per_second(), Some(500.0));
    }

    /// A request the endpoint side got mistranslated is not answered: it counts once,
    /// as mistranslated, and not again as lost. Of 1000 requests, 991 replies came
    /// back and 4 reached the endpoint side at the wrong endpoint: 5 are lost, not 9.
    #[test]
    fn an_unanswered_request_is_mistranslated_not_lost() {
        let mut run = result();
        for _ in 0..4 {
            run.endpoint
                .count(&super::super::check::Verdict::Mistranslated(
                    Mistranslation::WrongEndpoint,
                ));
        }
        run.unanswered = 4;
        let f = Figures::of_run(Mode::Pods, &[], run, HZ, false, 0);
        assert_eq!((f.lost(), f.surplus()), (Some(5), Some(0)));
        assert_eq!(f.mistranslated(), 5);
        let json = f.to_json().to_string();
        assert!(
            json.contains(r#""sent":1000,"received":991,"unanswered":4,"lost":5,"surplus":0,"earlier_run_replies":0,"mistranslated":5,"#),
            "{json}"
        );
        let text = f.text();
        assert!(
            text.contains("sent 1000, received back 991, unanswered 4 (mistranslated at the endpoint side), lost 5\n"),
            "{text}"
        );
        // More replies and unanswered requests than requests: the excess is a surplus.
        let over = RoundTrip {
            sent: 10,
            received: 8,
            unanswered: 3,
        };
        assert_eq!((over.lost(), over.surplus()), (0, 1));
    }

    #[test]
    fn text_names_mistranslations_and_latency() {
        let text = figures().text();
        assert!(
            text.contains("sent 1000, received back 991, lost 9\n"),
            "{text}"
        );
        assert!(
            text.contains("1 wrong_service: reply not from the VIP:port the request went to"),
            "{text}"
        );
        assert!(
            text.contains("latency ns: min 1000 median 2021 p99 10000 max 10000 (3 samples)"),
            "{text}"
        );
    }

    #[test]
    fn port_table_shows_rates_only_over_a_period() {
        let ports = vec![(
            "net_null0".to_owned(),
            PortCounters {
                tx_packets: 3000,
                tx_bytes: 192_000,
                ..PortCounters::default()
            },
        )];
        let row = |table: &str| -> Vec<String> {
            let line = table.lines().nth(1).unwrap_or_default();
            line.split_whitespace().map(str::to_owned).collect()
        };
        let totals = port_table(&ports, 0.0);
        assert_eq!(
            row(&totals),
            [
                "net_null0",
                "3000",
                "0",
                "192000",
                "0",
                "-",
                "-",
                "-",
                "-",
                "0",
                "0"
            ],
            "{totals}"
        );
        let rates = port_table(&ports, 2.0);
        assert_eq!(
            row(&rates),
            [
                "net_null0",
                "3000",
                "0",
                "192000",
                "0",
                "1500",
                "0",
                "768000",
                "0",
                "0",
                "0"
            ],
            "{rates}"
        );
        let header: Vec<&str> = rates.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header.len(), row(&rates).len(), "{rates}");
    }

    /// With `--new-flows` there are no established flows and a rate of 0 is no rate:
    /// the object says so rather than "flows":1024 (the unused default) and
    /// "rate_pps":0, and gives the new flows opened per second beside those answered.
    #[test]
    fn new_flow_runs_say_what_their_flows_and_rate_are() {
        let mut run = result();
        run.rate_pps = 0;
        let f = Figures::of_run(Mode::Pods, &[], run, HZ, true, 0);
        let json = f.to_json().to_string();
        assert!(
            json.contains(
                r#""flows":null,"new_flows":true,"new_flow_every":null,"target_pps":null,"#
            ),
            "{json}"
        );
        // 1000 requests by stop over 2 s opened 500 flows/s; 896 answered by stop.
        assert!(
            json.contains(r#""new_flows_per_s":448,"new_flows_sent_per_s":500,"#),
            "{json}"
        );
        let text = f.text();
        assert!(
            text.starts_with("pods run: 2.000 s, a new flow per packet, target rate max\n"),
            "{text}"
        );
        assert!(text.contains("new flows opened: 500/s\n"), "{text}");
        assert!(json.contains(r#""new_flow_tuples_wrapped":0,"#), "{json}");
        assert!(!text.contains("ran out"), "{text}");
        // Tuples reused: said in both.
        let mut wrapped = result();
        wrapped.new_flow_wraps = 3;
        let f = Figures::of_run(Mode::Pods, &[], wrapped, HZ, true, 0);
        assert!(f
            .to_json()
            .to_string()
            .contains(r#""new_flow_tuples_wrapped":3,"#));
        assert!(f
            .text()
            .contains("the new flows' client tuples ran out 3 time(s)"));
        // One request in 4 opens a flow; the established ones are named with it.
        let mixed = Figures::of_run(Mode::Pods, &[], result(), HZ, false, 4);
        assert_eq!(mixed.new_flows_sent_per_second(), Some(125.0));
        assert!(
            mixed
                .text()
                .starts_with("pods run: 2.000 s, 1024 flows and a new flow every 4 packets, target rate 500 pps\n"),
            "{}",
            mixed.text()
        );
        assert_eq!(figures().new_flows_sent_per_second(), None);
        // txonly opens flows on every port it sends from.
        let txonly = Figures::of_run(Mode::TxOnly, &[], result(), HZ, true, 0);
        assert_eq!(txonly.new_flows_sent_per_second(), Some(975.0));
        // ... and hears no answers: none, rather than 0.
        assert_eq!(txonly.new_flows_per_second(), None);
    }

    #[test]
    fn new_flow_rate_and_no_latency() {
        let mut f = figures();
        f.new_flows = true;
        f.latency.clear();
        f.round_trip = None;
        assert_eq!(f.new_flows_per_second(), Some(448.0));
        assert_eq!(f.lost(), None);
        assert!(f.text().contains("latency: no stamped replies"));
        assert!(f.to_json().to_string().contains(
            r#""sent":null,"received":null,"unanswered":null,"lost":null,"surplus":null,"earlier_run_replies":null"#
        ));
    }

    /// `show port stats N` shows port N alone; `clear port stats` zeroes what the view
    /// counts from, not the rates (taken between shows) nor the worker's counters; a
    /// new run does not zero it.
    #[test]
    fn port_stats_view_shows_one_port_and_clears() {
        let names = ["net_null0".to_owned(), "net_null1".to_owned()];
        let sent = |a: u64, b: u64| {
            [a, b].map(|tx_packets| PortCounters {
                tx_packets,
                tx_bytes: tx_packets * 60,
                ..PortCounters::default()
            })
        };
        let rows = |text: &str| -> Vec<Vec<String>> {
            text.lines()
                .filter(|l| l.starts_with("net_null"))
                .map(|l| l.split_whitespace().take(2).map(str::to_owned).collect())
                .collect()
        };
        let t0 = Instant::now();
        let mut view = PortStatsView::new(2);
        let first = view.show(&names, &sent(100, 7), &[1], t0);
        assert_eq!(rows(&first), [["net_null1", "7"]], "{first}");
        assert!(!first.contains("over the last"), "{first}");
        view.clear(&sent(300, 9), &[0]);
        let t1 = t0 + std::time::Duration::from_secs(2);
        let second = view.show(&names, &sent(500, 11), &[0, 1], t1);
        assert_eq!(
            rows(&second),
            [
                ["net_null0", "200"],
                ["net_null1", "11"],
                ["net_null0", "400"],
                ["net_null1", "4"]
            ],
            "{second}"
        );
        assert!(second.contains("over the last 2.00 s:"), "{second}");
        // A show right after another has no period to give rates over.
        let soon = t1 + std::time::Duration::from_millis(1);
        let third = view.show(&names, &sent(500, 11), &[0], soon);
        assert!(!third.contains("over the last"), "{third}");
        // 400 packets over 2 s since the first show, whatever the clear in between.
        assert!(
            second.lines().nth(5).is_some_and(|l| l.contains(" 200 ")),
            "{second}"
        );
        // A new run: the worker counts from 0, the view goes on from the last run's
        // 600 and 12 (as testpmd's port stats go on over `start`).
        view.restart(&sent(600, 12));
        let t2 = t1 + std::time::Duration::from_secs(1);
        let third = view.show(&names, &sent(5, 6), &[0, 1], t2);
        assert_eq!(
            rows(&third),
            [
                ["net_null0", "305"],
                ["net_null1", "18"],
                ["net_null0", "105"],
                ["net_null1", "7"]
            ],
            "{third}"
        );
    }

    #[test]
    fn shared_counters_round_trip_and_deltas() {
        let shared = SharedCounters::new(2);
        let ports = [
            PortCounters {
                tx_packets: 5,
                tx_bytes: 300,
                tx_refused: 1,
                tx_no_mbuf: 2,
                tx_resets: 3,
                tx_arp_replies: 1,
                rx_packets: 4,
                rx_bytes: 240,
                rx_chained: 1,
            },
            PortCounters::default(),
        ];
        let mut client = CheckCounters {
            good: 3,
            malformed: 1,
            ..CheckCounters::default()
        };
        client.count(&super::super::check::Verdict::Mistranslated(
            Mistranslation::BadL4Checksum,
        ));
        shared.publish(&ports, &client, &CheckCounters::default());
        assert_eq!(shared.ports(), ports.to_vec());
        assert_eq!(shared.client(), client);
        assert_eq!(shared.endpoint(), CheckCounters::default());
        let earlier = PortCounters {
            tx_packets: 2,
            rx_bytes: 1000,
            ..PortCounters::default()
        };
        let delta = ports[0].since(&earlier);
        assert_eq!(
            (delta.tx_packets, delta.rx_bytes, delta.tx_bytes),
            (3, 0, 300)
        );
    }
}
