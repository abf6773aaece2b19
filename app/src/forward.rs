//! The worker lcore's poll loop, and the boundary where a burst processor plugs in.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use podfwd::buffer::PacketBuf;
use podfwd::types::IfIndex;

use crate::capture::{CaptureBuffer, Point};
use crate::dpdk::mbuf::{rx_burst, tx_burst, Mbuf, MbufBurst, RxQueue, TxQueue, MAX_BURST};
use crate::dpdk::port::PortId;
use crate::dpdk::ring::{mbuf_ring, RingReceiver, RingSender};
use crate::dpdk::tsc;
use crate::dpdk::DpdkError;
use crate::ping::{Reply, Watch};

/// What the main lcore asks a worker's poll loop: `pcap trace`'s questions, and
/// `ping`'s (see [`crate::ping`]).
#[derive(Debug)]
pub enum Question {
    /// Capture into this buffer (a capture already on is given up).
    Start(CaptureBuffer),
    /// How many packets so far.
    Status,
    /// Stop, and give the buffer back.
    Stop,
    /// Watch for a ping run's replies (`None`: stop), giving back the watch before.
    Watch(Option<Watch>),
    /// The watch's replies from the `from`th on, copied into `into` (the asker's room:
    /// the worker allocates nothing).
    Replies { from: usize, into: Vec<Reply> },
    /// Send this frame out of the poll loop's interface `interface`, now.
    Send { mbuf: Mbuf, interface: usize },
}

#[derive(Debug)]
pub enum Answer {
    Started,
    Count(u32),
    Stopped(Option<CaptureBuffer>),
    Watching(Option<Watch>),
    /// Whether the port took the frame.
    Sent(Result<(), String>),
    Replies(Vec<Reply>),
}

/// A worker's mailbox from the main lcore, checked once per pass over its ports.
pub type LoopMailbox = podfwd::runtime::Mailbox<Question, Answer>;

/// How long the main lcore waits for a poll loop's answer.
const LOOP_ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Asks worker `worker`'s poll loop and waits for its answer; the error names the
/// command (`what`) and the worker.
pub fn ask_loop(
    what: &str,
    worker: usize,
    mailbox: &LoopMailbox,
    question: Question,
) -> Result<Answer, String> {
    mailbox.ask(question, LOOP_ANSWER_TIMEOUT).ok_or_else(|| {
        format!(
            "{what}: worker {worker} did not answer within {} s",
            LOOP_ANSWER_TIMEOUT.as_secs()
        )
    })
}

/// What the main lcore set up on a worker's poll loop: a capture, a ping's watch.
#[derive(Debug, Default)]
pub struct LoopState {
    pub buffer: Option<CaptureBuffer>,
    pub ping: Option<Watch>,
}

impl LoopState {
    /// Answers what needs no port; [`Question::Send`] is the poll loop's own to answer
    /// (here it is refused, the frame freed).
    pub fn answer(&mut self, question: Question) -> Answer {
        match question {
            Question::Start(buffer) => {
                self.buffer = Some(buffer);
                Answer::Started
            }
            Question::Status => Answer::Count(self.buffer.as_ref().map_or(0, CaptureBuffer::count)),
            Question::Stop => Answer::Stopped(self.buffer.take()),
            Question::Watch(watch) => Answer::Watching(std::mem::replace(&mut self.ping, watch)),
            Question::Replies { from, mut into } => {
                if let Some(watch) = &self.ping {
                    let new = watch.replies().get(from..).unwrap_or(&[]);
                    let room = into.capacity() - into.len();
                    into.extend_from_slice(&new[..new.len().min(room)]);
                }
                Answer::Replies(into)
            }
            Question::Send { .. } => Answer::Sent(Err("no port to send from here".into())),
        }
    }
}

/// Where one packet of a burst goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Out of this interface (an index into the interface table).
    Transmit(IfIndex),
    /// Out of this interface as fragments, which [`BurstProcessor::fragment`] cuts into
    /// new mbufs; the packet itself is freed.
    Fragment(IfIndex),
    /// Freed; the processor counts why.
    Drop,
}

/// Decides, for a burst received on one interface, where each packet goes. It may
/// rewrite the packets. `verdicts.len() == packets.len()`; every verdict must be set.
///
/// `now` is the lcore's TSC, read once at the start of the pass over the ports (so a
/// few microseconds old at most) and never decreasing from one call to the next.
pub trait BurstProcessor: Send {
    fn process_burst(
        &mut self,
        rx_interface: IfIndex,
        packets: &mut [Mbuf],
        verdicts: &mut [Verdict],
        now: u64,
    );

    /// `frames` frames of `bytes` bytes in all, received on `rx_interface`, that RX
    /// freed before any processing (multi-segment: larger than an mbuf). The processor
    /// counts them as received and dropped where the user looks (`show interface`,
    /// `show errors`).
    fn rx_discarded(&mut self, _rx_interface: IfIndex, _frames: usize, _bytes: u64) {}

    /// With more than one worker: sets `owners[i]` to the worker whose sessions packet
    /// `i`'s flow uses (see `podfwd::stages::worker_handoff`). False, `owners` untouched,
    /// when every packet is this worker's (always, while nothing makes sessions). `now`
    /// is the pass's TSC reading.
    fn owners(
        &mut self,
        _rx_interface: IfIndex,
        _packets: &[Mbuf],
        _owners: &mut [u16],
        _now: u64,
    ) -> bool {
        false
    }

    /// Of a burst received on `rx_interface`, `handed` packets went to other workers'
    /// handoff rings and `refused` more (`.0` packets, `.1` bytes in all) found their
    /// ring full and were freed: the processor counts them received and dropped where
    /// the user looks, as it counts what it processes. Computing the owners and the
    /// split took `cycles`.
    fn handed_off(&mut self, _rx: IfIndex, _handed: usize, _refused: (usize, u64), _cycles: u64) {}

    /// A packet whose verdict was [`Verdict::Fragment`], the `index`th of the burst just
    /// processed: the processor cuts it into fragments for `tx_interface`, each in a new
    /// mbuf handed to `send` in order, and counts them (and what it could not send) where
    /// the user looks. The caller frees `packet` afterwards.
    fn fragment(
        &mut self,
        _rx_interface: IfIndex,
        _index: usize,
        _packet: &Mbuf,
        _tx_interface: IfIndex,
        _send: &mut dyn FnMut(Mbuf),
    ) {
    }

    /// A frame of `bytes` bytes the console sent (`ping`) left by `tx_interface`: the
    /// processor counts it where the user looks (`show interface`), as VPP counts what
    /// its own nodes send.
    fn console_sent(&mut self, _tx_interface: IfIndex, _bytes: u64) {}

    /// The next bursts were received by worker `from` (its index) and handed to this
    /// one (their trace says so); `None`: received here.
    fn handed_in(&mut self, _from: Option<u16>) {}

    /// Called once per pass over the ports, `idle` when the pass received nothing, with
    /// the pass's `now`: where a processor picks up new configuration and answers the
    /// main lcore.
    fn between_bursts(&mut self, _idle: bool, _now: u64) {}
}

/// Bring-up processor: sends everything received on interface i out of interface
/// i ^ 1 (0 <-> 1, 2 <-> 3, ...), unchanged. A lone last interface drops.
#[derive(Debug, Clone, Copy)]
pub struct CrossConnect {
    pub interfaces: usize,
}

impl BurstProcessor for CrossConnect {
    fn process_burst(
        &mut self,
        rx_interface: IfIndex,
        _packets: &mut [Mbuf],
        verdicts: &mut [Verdict],
        _now: u64,
    ) {
        let peer = rx_interface.0 ^ 1;
        let verdict = if usize::from(peer) < self.interfaces {
            Verdict::Transmit(IfIndex(peer))
        } else {
            Verdict::Drop
        };
        verdicts.fill(verdict);
    }
}

/// Counters one worker publishes for one interface (single writer: that worker).
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct InterfaceCounters {
    pub rx_packets: AtomicU64,
    pub tx_packets: AtomicU64,
    /// Packets a TX burst refused (freed).
    pub tx_error: AtomicU64,
    /// Packets the processor dropped, or sent to an interface that does not exist.
    pub drops: AtomicU64,
    /// Chained mbufs freed at RX (podfwd handles single-segment mbufs only).
    pub rx_multi_segment: AtomicU64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct LocalCounters {
    rx_packets: u64,
    tx_packets: u64,
    tx_error: u64,
    drops: u64,
    rx_multi_segment: u64,
}

impl LocalCounters {
    fn publish(&self, to: &InterfaceCounters) {
        to.rx_packets.store(self.rx_packets, Ordering::Relaxed);
        to.tx_packets.store(self.tx_packets, Ordering::Relaxed);
        to.tx_error.store(self.tx_error, Ordering::Relaxed);
        to.drops.store(self.drops, Ordering::Relaxed);
        to.rx_multi_segment
            .store(self.rx_multi_segment, Ordering::Relaxed);
    }
}

/// One interface as a worker sees it: this worker's queues on its port, which only
/// this worker holds.
#[derive(Debug)]
pub struct WorkerPort {
    pub rx: RxQueue,
    pub tx: TxQueue,
}

/// Everything a worker needs, built before launch and moved into its lcore.
#[derive(Debug)]
pub struct WorkerConfig {
    /// Indexed by interface index.
    pub ports: Vec<WorkerPort>,
    pub burst: usize,
    /// TX buffers older than this (in TSC ticks) are flushed even when not full.
    pub drain_ticks: u64,
    /// How long to sleep after a pass that received and sent nothing (`--poll-sleep-usec`);
    /// zero: never.
    pub poll_sleep: Duration,
    pub stop: Arc<AtomicBool>,
    /// This worker's counters, indexed by interface index.
    pub counters: Arc<[InterfaceCounters]>,
    /// `pcap trace`'s questions to this worker.
    pub capture: Arc<LoopMailbox>,
    /// A capture the startup file started.
    pub capture_from_start: LoopState,
    /// With more than one worker: the rings to and from the others.
    pub handoff: Option<Handoff>,
}

/// Worker handoff (VPP's): packets whose sessions another worker holds go to it through
/// a ring per ordered pair of workers, and each worker processes what the others
/// handed it as if it had received it on the same interface.
#[derive(Debug)]
pub struct Handoff {
    /// This worker's index.
    pub me: u16,
    /// Toward each worker, by index (`None` at `me`).
    pub to: Vec<Option<RingSender>>,
    /// From every other worker: its index, and its ring.
    pub from: Vec<(u16, RingReceiver)>,
}

/// Mbufs one handoff ring holds at most (minus one): 4 bursts of 256, about what a
/// port's RX ring holds, so an owner that falls behind costs drops counted as
/// `congestion drop` instead of unbounded delay.
pub const HANDOFF_RING: u32 = 1024;

/// Each of `workers` workers' [`Handoff`], in worker order: a ring per ordered pair.
/// With one worker there is none (and nothing is ever handed off).
pub fn handoff_rings(workers: u16, socket: i32) -> Result<Vec<Option<Handoff>>, DpdkError> {
    if workers < 2 {
        return Ok((0..workers).map(|_| None).collect());
    }
    let mut handoffs: Vec<Handoff> = (0..workers)
        .map(|me| Handoff {
            me,
            to: (0..workers).map(|_| None).collect(),
            from: Vec::new(),
        })
        .collect();
    for from in 0..workers {
        for to in (0..workers).filter(|to| *to != from) {
            let name = format!("podfwd_handoff_{from}_{to}");
            let (sender, receiver) = mbuf_ring(&name, HANDOFF_RING, socket)?;
            if let Some(slot) = handoffs
                .get_mut(usize::from(from))
                .and_then(|h| h.to.get_mut(usize::from(to)))
            {
                *slot = Some(sender);
            }
            if let Some(h) = handoffs.get_mut(usize::from(to)) {
                h.from.push((from, receiver));
            }
        }
    }
    Ok(handoffs.into_iter().map(Some).collect())
}

impl Handoff {
    /// Leaves in `rx` the packets `owners` gives to this worker (or to no worker that
    /// exists), in order, and sends the others to their owners' rings, each owner's in
    /// order; what a full ring refused is moved to `refused`. How many were sent.
    fn split(
        &mut self,
        rx: &mut MbufBurst,
        owners: &[u16],
        staged: &mut [MbufBurst],
        refused: &mut MbufBurst,
    ) -> usize {
        let mut mine = MbufBurst::new();
        for (mbuf, &owner) in rx.drain().zip(owners) {
            let to = usize::from(owner);
            let place = match owner != self.me && self.to.get(to).is_some_and(Option::is_some) {
                true => staged.get_mut(to),
                false => None,
            };
            // Each staging burst holds at most one RX burst, so pushes succeed.
            let _ = place.unwrap_or(&mut mine).push(mbuf);
        }
        std::mem::swap(rx, &mut mine);
        let mut sent = 0;
        for (burst, sender) in staged.iter_mut().zip(self.to.iter_mut()) {
            let (false, Some(sender)) = (burst.is_empty(), sender.as_mut()) else {
                continue;
            };
            sent += sender.send(burst);
            for mbuf in burst.drain() {
                let _ = refused.push(mbuf);
            }
        }
        sent
    }
}

struct TxBuffer {
    pending: MbufBurst,
    /// The TSC of the pass that queued the oldest pending packet.
    oldest: u64,
    queue: TxQueue,
}

/// Where processed packets go: the per-port TX buffers, the counters, the capture.
struct Outputs {
    tx: Vec<TxBuffer>,
    local: Vec<LocalCounters>,
    capture: LoopState,
    dropped: MbufBurst,
    verdicts: [Verdict; MAX_BURST],
    burst: usize,
}

impl Outputs {
    /// `rx`, received on interface `rx_index`, through the processor and into the TX
    /// buffers (or freed); leaves `rx` empty.
    fn forward<P: BurstProcessor>(
        &mut self,
        processor: &mut P,
        rx_index: usize,
        rx: &mut MbufBurst,
        now: u64,
    ) {
        let n = rx.len();
        if n == 0 {
            return;
        }
        let burst = self.burst;
        let (tx, local, capture) = (&mut self.tx, &mut self.local, &mut self.capture);
        let verdicts = &mut self.verdicts[..n];
        verdicts.fill(Verdict::Drop);
        processor.process_burst(IfIndex(rx_index as u16), rx.as_mut_slice(), verdicts, now);
        // Most bursts leave by one interface: they move to its buffer at once, so
        // that the buffer's length is not read and written back per packet. Only
        // where they fit below `burst`, so that no flush sends more than `burst`.
        if let Some(out) = one_interface(verdicts) {
            if let (Some(buffer), Some(counters)) = (tx.get_mut(out), local.get_mut(out)) {
                let (was_empty, from) = (buffer.pending.is_empty(), buffer.pending.len());
                if buffer.pending.len() + rx.len() <= burst && buffer.pending.append(rx) {
                    let appended = buffer.pending.as_slice().get(from..).unwrap_or(&[]);
                    capture_all(capture, Point::Tx, out, appended, now);
                    if was_empty {
                        buffer.oldest = now;
                    }
                    if buffer.pending.len() >= burst {
                        flush(buffer, counters);
                    }
                    return;
                }
            }
        }
        for (index, (mbuf, verdict)) in rx.drain().zip(verdicts.iter()).enumerate() {
            let out = match *verdict {
                Verdict::Transmit(out) => out.as_usize(),
                Verdict::Fragment(at) => {
                    match (tx.get_mut(at.as_usize()), local.get_mut(at.as_usize())) {
                        (Some(buffer), Some(counters)) => {
                            let mut send = |fragment: Mbuf| {
                                let one = std::slice::from_ref(&fragment);
                                capture_all(capture, Point::Tx, at.as_usize(), one, now);
                                queue_for_tx(buffer, counters, fragment, burst, now);
                            };
                            let rx_if = IfIndex(rx_index as u16);
                            processor.fragment(rx_if, index, &mbuf, at, &mut send);
                            // The datagram itself goes back to the pool; its fragments are
                            // queued (or counted not sent by the processor).
                            drop(mbuf);
                            continue;
                        }
                        // An interface this loop has no buffer for: dropped, counted below.
                        _ => usize::MAX,
                    }
                }
                Verdict::Drop => usize::MAX,
            };
            match (tx.get_mut(out), local.get_mut(out)) {
                (Some(buffer), Some(counters)) => {
                    capture_all(capture, Point::Tx, out, std::slice::from_ref(&mbuf), now);
                    queue_for_tx(buffer, counters, mbuf, burst, now);
                }
                _ => {
                    if let Some(counters) = local.get_mut(rx_index) {
                        counters.drops += 1;
                    }
                    let one = std::slice::from_ref(&mbuf);
                    capture_all(capture, Point::Drop, rx_index, one, now);
                    // Full only if every packet of a MAX_BURST burst dropped;
                    // then the returned mbuf is freed right here by Drop.
                    let _ = self.dropped.push(mbuf);
                }
            }
        }
        self.dropped.clear();
    }
}

/// The poll loop: RX burst -> processor -> per-port TX buffers, until `stop` is set.
/// With more than one worker, a burst's packets owned by another worker go to it first,
/// and each pass processes what the others handed over.
/// Returns 0; pending TX is flushed before returning.
pub fn run_worker<P: BurstProcessor>(config: WorkerConfig, mut processor: P) -> i32 {
    let WorkerConfig {
        ports,
        burst,
        drain_ticks,
        poll_sleep,
        stop,
        counters: shared_counters,
        capture: capture_mailbox,
        capture_from_start,
        mut handoff,
    } = config;
    let interfaces = ports.len();
    let burst = burst.clamp(1, MAX_BURST);
    let mut rx = MbufBurst::new();
    let (mut rx_queues, tx): (Vec<RxQueue>, Vec<TxBuffer>) = ports
        .into_iter()
        .map(|p| {
            let buffer = TxBuffer {
                pending: MbufBurst::new(),
                oldest: 0,
                queue: p.tx,
            };
            (p.rx, buffer)
        })
        .unzip();
    let mut out = Outputs {
        tx,
        local: vec![LocalCounters::default(); interfaces],
        capture: capture_from_start,
        dropped: MbufBurst::new(),
        verdicts: [Verdict::Drop; MAX_BURST],
        burst,
    };
    // Handoff's scratch, allocated here and not per burst.
    let ports_in_order: Vec<PortId> = rx_queues.iter().map(RxQueue::port).collect();
    let mut owners = [0u16; MAX_BURST];
    let mut staged: Vec<MbufBurst> = match &handoff {
        Some(h) => h.to.iter().map(|_| MbufBurst::new()).collect(),
        None => Vec::new(),
    };
    let (mut handed_in, mut rest) = (MbufBurst::new(), MbufBurst::new());

    while !stop.load(Ordering::Relaxed) {
        // Read once a pass: the TX buffers age from it, and it is the processor's clock
        // (the stages read their own for `show runtime`).
        let now = tsc();
        let mut busy = false;
        // Whether some rx queue filled a whole burst: then more is probably waiting.
        let mut backlog = false;
        // What the other workers handed over first: under overload the excess then waits
        // in (and drops from) the rx queues, before any work was spent on it.
        if let Some(handoff) = handoff.as_mut() {
            for (from, receiver) in &mut handoff.from {
                processor.handed_in(Some(*from));
                // A sender hands over up to a burst per port per pass: as many are taken.
                for _ in 0..interfaces.max(1) {
                    let got = receiver.receive(&mut handed_in, burst);
                    if got == 0 {
                        break;
                    }
                    handed_in.prefetch();
                    busy = true;
                    backlog |= got >= burst;
                    // One interface's packets at a time, each in the order it was sent.
                    while let Some(port) = handed_in.as_slice().first().map(Mbuf::port) {
                        // Most often all from one interface: moved as they are (only
                        // their pointers are copied; `rx` is empty).
                        let one_port = handed_in.as_slice().iter().all(|m| m.port() == port);
                        if !(one_port && rx.append(&mut handed_in)) {
                            for mbuf in handed_in.drain() {
                                // Both hold at most what `handed_in` held: pushes succeed.
                                let _ = match mbuf.port() == port {
                                    true => rx.push(mbuf),
                                    false => rest.push(mbuf),
                                };
                            }
                            // `handed_in` is empty: the other interfaces' packets go back.
                            let _ = handed_in.append(&mut rest);
                        }
                        match ports_in_order.iter().position(|p| *p == port) {
                            Some(at) => out.forward(&mut processor, at, &mut rx, now),
                            // Every worker polls the same ports: not reached.
                            None => rx.clear(),
                        }
                    }
                    if got < burst {
                        break;
                    }
                }
            }
            processor.handed_in(None);
        }
        for (rx_index, rx_queue) in rx_queues.iter_mut().enumerate() {
            let got = rx_burst(rx_queue, &mut rx, burst);
            backlog |= got.received + got.multi_segment_dropped >= burst;
            if got.received == 0 && got.multi_segment_dropped == 0 {
                continue;
            }
            busy = true;
            if let Some(counters) = out.local.get_mut(rx_index) {
                counters.rx_packets += got.received as u64;
                counters.rx_multi_segment += got.multi_segment_dropped as u64;
            }
            let interface = IfIndex(rx_index as u16);
            if got.multi_segment_dropped > 0 {
                processor.rx_discarded(
                    interface,
                    got.multi_segment_dropped,
                    got.multi_segment_bytes,
                );
            }
            let n = rx.len();
            if n == 0 {
                continue;
            }
            capture_all(&mut out.capture, Point::Rx, rx_index, rx.as_slice(), now);
            if let Some(watch) = out.capture.ping.as_mut() {
                for mbuf in rx.as_slice() {
                    watch.check(mbuf.data(), now);
                }
            }
            if let Some(handoff) = handoff.as_mut() {
                let started = tsc();
                if processor.owners(interface, rx.as_slice(), &mut owners[..n], now) {
                    let refused = &mut out.dropped;
                    let sent = handoff.split(&mut rx, &owners[..n], &mut staged, refused);
                    let drops = refused.as_slice();
                    let bytes = drops.iter().map(|m| u64::from(m.packet_len())).sum();
                    let dropped = (drops.len(), bytes);
                    capture_all(&mut out.capture, Point::Drop, rx_index, drops, now);
                    if let Some(counters) = out.local.get_mut(rx_index) {
                        counters.drops += dropped.0 as u64;
                    }
                    refused.clear();
                    let cycles = tsc().wrapping_sub(started);
                    processor.handed_off(interface, sent, dropped, cycles);
                }
            }
            out.forward(&mut processor, rx_index, &mut rx, now);
        }
        // A pass in which no rx queue had a full burst has caught up: nothing is waiting
        // to fill the buffers, so waiting out the drain period would only add latency
        // (testpmd and VPP send what each poll produced). Under load every queue
        // gives full bursts, and buffers leave full or when they age.
        let quiet = !backlog;
        for (buffer, counters) in out.tx.iter_mut().zip(out.local.iter_mut()) {
            if !buffer.pending.is_empty()
                && (quiet || now.wrapping_sub(buffer.oldest) >= drain_ticks)
            {
                flush(buffer, counters);
                busy = true;
            }
        }
        let Outputs {
            tx, local, capture, ..
        } = &mut out;
        let (mut console_sent, mut sent_any) = (None, false);
        capture_mailbox.serve(|question| match question {
            Question::Send { mbuf, interface } => {
                // A ping's request leaves as any packet does: a tx capture has it.
                capture_all(
                    capture,
                    Point::Tx,
                    interface,
                    std::slice::from_ref(&mbuf),
                    now,
                );
                let bytes = mbuf.data().len() as u64;
                let sent = send_now(tx, local, interface, mbuf);
                sent_any = true;
                if sent.is_ok() {
                    console_sent = Some((interface, bytes));
                }
                Answer::Sent(sent)
            }
            other => capture.answer(other),
        });
        if let Some((interface, bytes)) = console_sent {
            processor.console_sent(IfIndex(interface as u16), bytes);
        }
        // A sent frame's counts (sent or refused) are published now, not at the next
        // busy pass: an idle worker has none.
        busy |= sent_any;
        processor.between_bursts(!busy, now);
        // An idle loop touches no shared cache line.
        if busy {
            for (counters, shared) in out.local.iter().zip(shared_counters.iter()) {
                counters.publish(shared);
            }
        } else if !poll_sleep.is_zero() {
            // Nothing came and nothing waits to leave (a quiet pass flushes every
            // buffer, and a flush makes the pass busy): only an idle worker sleeps.
            std::thread::sleep(poll_sleep);
        }
    }
    for (buffer, counters) in out.tx.iter_mut().zip(out.local.iter_mut()) {
        flush(buffer, counters);
    }
    for (counters, shared) in out.local.iter().zip(shared_counters.iter()) {
        counters.publish(shared);
    }
    0
}

/// The interface every packet of a burst leaves by, if they all leave by one.
fn one_interface(verdicts: &[Verdict]) -> Option<usize> {
    let first @ Verdict::Transmit(out) = *verdicts.first()? else {
        return None;
    };
    verdicts
        .iter()
        .all(|v| *v == first)
        .then_some(out.as_usize())
}

/// `pcap trace`: `packets`, seen at `point` on `interface`, into the capture if it
/// wants them. While no capture is on, one test.
#[inline]
fn capture_all(
    capture: &mut LoopState,
    point: Point,
    interface: usize,
    packets: &[Mbuf],
    now: u64,
) {
    if let Some(buffer) = capture.buffer.as_mut() {
        if buffer.wants(point, interface) {
            for mbuf in packets {
                buffer.add(now, mbuf.data());
            }
        }
    }
}

/// `ping`'s request: out of `interface` now, with whatever its buffer held.
fn send_now(
    tx: &mut [TxBuffer],
    local: &mut [LocalCounters],
    interface: usize,
    mbuf: Mbuf,
) -> Result<(), String> {
    let (Some(buffer), Some(counters)) = (tx.get_mut(interface), local.get_mut(interface)) else {
        return Err(format!("no interface {interface} on this worker"));
    };
    if buffer.pending.is_full() {
        flush(buffer, counters);
    }
    if buffer.pending.push(mbuf).is_err() {
        return Err("its TX buffer is full".into());
    }
    let refused_before = counters.tx_error;
    flush(buffer, counters);
    match counters.tx_error == refused_before {
        true => Ok(()),
        false => Err("the port refused it (TX ring full, or the link is down)".into()),
    }
}

/// Queues `mbuf` in an interface's TX buffer, flushed once it holds `burst`.
fn queue_for_tx(
    buffer: &mut TxBuffer,
    counters: &mut LocalCounters,
    mbuf: Mbuf,
    burst: usize,
    now: u64,
) {
    if buffer.pending.is_empty() {
        buffer.oldest = now;
    }
    // A buffer is flushed at `burst` <= MAX_BURST, so push succeeds.
    if buffer.pending.push(mbuf).is_err() {
        counters.tx_error += 1;
    }
    if buffer.pending.len() >= burst {
        flush(buffer, counters);
    }
}

fn flush(buffer: &mut TxBuffer, counters: &mut LocalCounters) {
    let count = tx_burst(&mut buffer.queue, &mut buffer.pending);
    counters.tx_packets += count.sent as u64;
    counters.tx_error += count.refused as u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_interface_only_when_every_packet_leaves_by_it() {
        let tx = |i| Verdict::Transmit(IfIndex(i));
        assert_eq!(one_interface(&[tx(1), tx(1), tx(1)]), Some(1));
        assert_eq!(one_interface(&[tx(0)]), Some(0));
        assert_eq!(one_interface(&[tx(1), tx(2), tx(1)]), None);
        assert_eq!(one_interface(&[tx(1), tx(1), Verdict::Drop]), None);
        assert_eq!(one_interface(&[Verdict::Drop, Verdict::Drop]), None);
        assert_eq!(one_interface(&[]), None);
    }
}
