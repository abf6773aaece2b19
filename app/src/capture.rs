//! `pcap trace`: the workers copy the packets a capture asks for into a buffer the main
//! lcore made for them, and the main lcore writes the buffers out as one pcap file.
//!
//! A worker never allocates for a capture: its buffer arrives with room for `max`
//! records reserved, and it stops adding at `max` (or if a record would not fit, which
//! the reservation rules out). Records carry the TSC of the worker's pass; the file's
//! timestamps come from one TSC-to-wall-clock pair the main lcore took at the start.

use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use podfwd::control::{PcapRequest, PcapStart};
use podfwd::types::IfIndex;

use crate::forward::{ask_loop, Answer, LoopMailbox, LoopState, Question};

/// A record in a buffer: the TSC, the frame's length, the bytes kept, then the bytes.
const RECORD_HEADER: usize = 16;
/// Each worker's buffer is at most this large; a bigger `max` is refused up front.
pub const MAX_BUFFER_BYTES: usize = 256 << 20;

const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const LINKTYPE_ETHERNET: u32 = 1;

/// Where in the poll loop a packet was seen: VPP's rx, tx and drop captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// As received, before any stage.
    Rx,
    /// As it leaves, rewritten, for an interface's TX buffer.
    Tx,
    /// A packet the stages dropped, as they left it.
    Drop,
}

/// Which packets a capture takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    pub rx: bool,
    pub tx: bool,
    pub drop: bool,
    /// An interface index of the poll loop's (rx for rx and drop, tx for tx); `None`: any.
    pub interface: Option<usize>,
}

/// One worker's capture.
#[derive(Debug)]
pub struct CaptureBuffer {
    filter: Filter,
    max: u32,
    max_bytes: u32,
    count: u32,
    records: Vec<u8>,
}

impl CaptureBuffer {
    /// A buffer with room for `max` records of up to `max_bytes` bytes each, or why not.
    pub fn new(filter: Filter, max: u32, max_bytes: u32) -> Result<CaptureBuffer, String> {
        let need = (max as usize).saturating_mul(RECORD_HEADER + max_bytes as usize);
        if need > MAX_BUFFER_BYTES {
            return Err(format!(
                "pcap trace: max {max} x max-bytes-per-pkt {max_bytes} needs {} MiB a \
                 worker; the limit is {} MiB",
                need >> 20,
                MAX_BUFFER_BYTES >> 20
            ));
        }
        let mut records = Vec::new();
        records
            .try_reserve_exact(need)
            .map_err(|e| format!("pcap trace: no memory for {need} bytes of buffer: {e}"))?;
        Ok(CaptureBuffer {
            filter,
            max,
            max_bytes,
            count: 0,
            records,
        })
    }

    /// Whether a packet seen at `point` on `interface` goes in (and there is room).
    #[inline]
    pub fn wants(&self, point: Point, interface: usize) -> bool {
        let point_on = match point {
            Point::Rx => self.filter.rx,
            Point::Tx => self.filter.tx,
            Point::Drop => self.filter.drop,
        };
        point_on && self.count < self.max && self.filter.interface.is_none_or(|i| i == interface)
    }

    /// Adds `frame`, cut at `max_bytes`, seen at `tsc`. Full: nothing.
    pub fn add(&mut self, tsc: u64, frame: &[u8]) {
        let kept = frame.get(..self.max_bytes as usize).unwrap_or(frame);
        // The reservation makes room for `max` records; checked anyway, so that the
        // Vec can never grow on a worker.
        let room = self.records.capacity() - self.records.len();
        if self.count >= self.max || room < RECORD_HEADER + kept.len() {
            return;
        }
        self.records.extend_from_slice(&tsc.to_le_bytes());
        self.records
            .extend_from_slice(&(frame.len() as u32).to_le_bytes());
        self.records
            .extend_from_slice(&(kept.len() as u32).to_le_bytes());
        self.records.extend_from_slice(kept);
        self.count += 1;
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn max_bytes(&self) -> u32 {
        self.max_bytes
    }

    /// The records in the order they were added.
    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        let mut rest = self.records.as_slice();
        std::iter::from_fn(move || {
            let (header, after) = rest.split_first_chunk::<RECORD_HEADER>()?;
            let word = |at: usize| u32::from_le_bytes([0, 1, 2, 3].map(|i| header[at + i]));
            let tsc = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7].map(|i| header[i]));
            let (data, next) = after.split_at_checked(word(12) as usize)?;
            rest = next;
            Some(Record {
                tsc,
                wire_len: word(8),
                data,
            })
        })
    }
}

/// One captured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub tsc: u64,
    /// The frame's length on the wire; `data` may be cut shorter.
    pub wire_len: u32,
    pub data: &'a [u8],
}

/// Turns a worker's TSC into wall-clock time: one pair read together, and the rate.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub tsc: u64,
    pub wall: SystemTime,
    pub tsc_hz: u64,
}

impl Clock {
    fn since_epoch(&self, tsc: u64) -> Duration {
        let ticks = i128::from(tsc) - i128::from(self.tsc);
        let ns = ticks * 1_000_000_000 / i128::from(self.tsc_hz.max(1));
        let base = self.wall.duration_since(UNIX_EPOCH).unwrap_or_default();
        let ns = (base.as_nanos() as i128 + ns).max(0);
        Duration::from_nanos(ns.min(i128::from(u64::MAX)) as u64)
    }
}

/// Every worker's records in time order (ties: worker, then order of capture), the
/// first `max` of them.
pub fn merge<'a>(buffers: &'a [CaptureBuffer], max: u32) -> Vec<Record<'a>> {
    let mut all: Vec<(u64, usize, usize, Record<'a>)> = buffers
        .iter()
        .enumerate()
        .flat_map(|(w, b)| b.records().enumerate().map(move |(n, r)| (r.tsc, w, n, r)))
        .collect();
    all.sort_unstable_by_key(|&(tsc, w, n, _)| (tsc, w, n));
    all.into_iter()
        .take(max as usize)
        .map(|(.., r)| r)
        .collect()
}

/// A little-endian Ethernet pcap with microsecond timestamps, as VPP writes them.
pub fn write_pcap(
    out: &mut impl Write,
    records: &[Record<'_>],
    snaplen: u32,
    clock: &Clock,
) -> io::Result<()> {
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&PCAP_MAGIC_MICROS.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&snaplen.to_le_bytes());
    header.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    out.write_all(&header)?;
    for record in records {
        let at = clock.since_epoch(record.tsc);
        let mut head = [0u8; RECORD_HEADER];
        head[..4].copy_from_slice(&(at.as_secs() as u32).to_le_bytes());
        head[4..8].copy_from_slice(&at.subsec_micros().to_le_bytes());
        head[8..12].copy_from_slice(&(record.data.len() as u32).to_le_bytes());
        head[12..].copy_from_slice(&record.wire_len.to_le_bytes());
        out.write_all(&head)?;
        out.write_all(record.data)?;
    }
    out.flush()
}

/// The main lcore's side of `pcap trace`: one mailbox per worker, and the capture on.
/// Before the workers launch (a startup file), their buffers wait here and go with
/// them ([`Captures::launch`]).
pub struct Captures {
    mailboxes: Vec<Arc<LoopMailbox>>,
    state: Mutex<State>,
    clock: fn() -> Clock,
}

struct State {
    on: Option<Running>,
    /// Until the workers launch: each one's buffer.
    before_launch: Option<Vec<Option<CaptureBuffer>>>,
}

struct Running {
    start: PcapStart,
    clock: Clock,
}

impl Captures {
    /// `clock` reads the TSC and the wall clock together (see [`Clock`]).
    pub fn new(mailboxes: Vec<Arc<LoopMailbox>>, clock: fn() -> Clock) -> Captures {
        let before_launch = Some(mailboxes.iter().map(|_| None).collect());
        Captures {
            mailboxes,
            state: Mutex::new(State {
                on: None,
                before_launch,
            }),
            clock,
        }
    }

    /// The workers' captures as they launch (a capture the startup file started), in
    /// worker order; from now on they are asked through their mailboxes.
    pub fn launch(&self) -> Vec<LoopState> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let buffers = state.before_launch.take().unwrap_or_default();
        let mut captures: Vec<LoopState> = buffers
            .into_iter()
            .map(|buffer| LoopState { buffer, ping: None })
            .collect();
        captures.resize_with(self.mailboxes.len(), LoopState::default);
        captures
    }

    /// Asks every worker `question` (made per worker), or answers for them before launch.
    fn ask_all(
        &self,
        state: &mut State,
        mut question: impl FnMut(usize) -> Question,
    ) -> Vec<Result<Answer, String>> {
        match state.before_launch.as_mut() {
            Some(waiting) => waiting
                .iter_mut()
                .enumerate()
                .map(|(worker, buffer)| {
                    let mut capture = LoopState {
                        buffer: buffer.take(),
                        ping: None,
                    };
                    let answer = capture.answer(question(worker));
                    *buffer = capture.buffer;
                    Ok(answer)
                })
                .collect(),
            None => self
                .mailboxes
                .iter()
                .enumerate()
                .map(|(worker, mailbox)| ask(worker, mailbox, question(worker)))
                .collect(),
        }
    }

    /// Carries out `request`; `position` turns an interface index into the poll loop's.
    pub fn request(
        &self,
        request: &PcapRequest,
        position: impl Fn(IfIndex) -> usize,
    ) -> Result<String, String> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match request {
            PcapRequest::Status => {
                let Some(running) = state.on.as_ref() else {
                    return Ok("pcap capture disabled\n".into());
                };
                let (start, mut count) = (running.start.clone(), 0u32);
                for (worker, answer) in self
                    .ask_all(&mut state, |_| Question::Status)
                    .into_iter()
                    .enumerate()
                {
                    match answer? {
                        Answer::Count(n) => count = count.saturating_add(n),
                        other => return Err(unexpected(worker, &other)),
                    }
                }
                let c = &start.capture;
                Ok(format!(
                    "pcap {} capture enabled: {} of {} pkts...\ncapture to file {}\n\
                     interface {}, max-bytes-per-pkt {}\n",
                    c.directions(" and "),
                    count.min(c.max),
                    c.max,
                    start.path.display(),
                    c.interface.as_deref().unwrap_or("any"),
                    c.max_bytes
                ))
            }
            PcapRequest::Start(start) => {
                if let Some(running) = state.on.as_ref() {
                    return Err(format!(
                        "pcap trace: a capture is on (to {}); 'pcap trace off' first",
                        running.start.path.display()
                    ));
                }
                let c = &start.capture;
                let filter = Filter {
                    rx: c.rx,
                    tx: c.tx,
                    drop: c.drop,
                    interface: start.interface.map(position),
                };
                let mut buffers = self
                    .mailboxes
                    .iter()
                    .map(|_| CaptureBuffer::new(filter, c.max, c.max_bytes).map(Some))
                    .collect::<Result<Vec<_>, String>>()?;
                let clock = (self.clock)();
                let answers = self.ask_all(&mut state, |w| {
                    Question::Start(buffers[w].take().expect("one buffer a worker"))
                });
                if let Some(failed) = answers.into_iter().find_map(Result::err) {
                    // A capture is on everywhere or nowhere.
                    self.ask_all(&mut state, |_| Question::Stop);
                    return Err(failed);
                }
                state.on = Some(Running {
                    start: start.clone(),
                    clock,
                });
                Ok(String::new())
            }
            PcapRequest::Off => {
                let Some(running) = state.on.take() else {
                    return Err("pcap trace: no capture is on".into());
                };
                let mut buffers = Vec::with_capacity(self.mailboxes.len());
                let mut silent = None;
                for (worker, answer) in self
                    .ask_all(&mut state, |_| Question::Stop)
                    .into_iter()
                    .enumerate()
                {
                    match answer {
                        Ok(Answer::Stopped(buffer)) => buffers.extend(buffer),
                        Ok(other) => silent = Some(unexpected(worker, &other)),
                        Err(e) => silent = Some(e),
                    }
                }
                let (start, c) = (&running.start, &running.start.capture);
                let records = merge(&buffers, c.max);
                let written = match records.is_empty() {
                    true => Err(format!(
                        "pcap trace: no packets captured; {} not written",
                        start.path.display()
                    )),
                    false => {
                        write_file(&start.path, &records, c.max_bytes, &running.clock).map(|()| {
                            format!(
                                "Write {} packets to {}, and stop capture...\n",
                                records.len(),
                                start.path.display()
                            )
                        })
                    }
                };
                match silent {
                    // The other workers' packets are written; the error says whose are not.
                    Some(e) => Err(match written {
                        Ok(done) => format!("{done}{e}; its packets are not in the file"),
                        Err(other) => format!("{other}; {e}"),
                    }),
                    None => written,
                }
            }
        }
    }
}

fn ask(worker: usize, mailbox: &LoopMailbox, question: Question) -> Result<Answer, String> {
    ask_loop("pcap trace", worker, mailbox, question)
}

fn unexpected(worker: usize, answer: &Answer) -> String {
    format!("pcap trace: worker {worker} answered {answer:?}")
}

fn write_file(
    path: &Path,
    records: &[Record<'_>],
    snaplen: u32,
    clock: &Clock,
) -> Result<(), String> {
    let written = std::fs::File::create(path).and_then(|file| {
        let mut out = io::BufWriter::new(file);
        write_pcap(&mut out, records, snaplen, clock)
    });
    written.map_err(|e| format!("pcap trace: writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: Filter = Filter {
        rx: true,
        tx: true,
        drop: true,
        interface: None,
    };

    #[test]
    fn a_buffer_takes_max_records_cut_at_max_bytes_and_never_grows() {
        let mut b = CaptureBuffer::new(ANY, 3, 40).unwrap();
        let capacity = b.records.capacity();
        let long: Vec<u8> = (0..100).collect();
        b.add(7, &long);
        b.add(8, &long[..10]);
        b.add(9, &long[..40]);
        assert!(!b.wants(Point::Rx, 0), "full");
        b.add(10, &long);
        assert_eq!(b.count(), 3);
        assert_eq!(b.records.capacity(), capacity);
        let got: Vec<Record<'_>> = b.records().collect();
        assert_eq!(
            got,
            [
                Record {
                    tsc: 7,
                    wire_len: 100,
                    data: &long[..40]
                },
                Record {
                    tsc: 8,
                    wire_len: 10,
                    data: &long[..10]
                },
                Record {
                    tsc: 9,
                    wire_len: 40,
                    data: &long[..40]
                },
            ]
        );
    }

    #[test]
    fn a_buffer_wants_only_its_points_and_interface() {
        let filter = Filter {
            rx: true,
            tx: false,
            drop: true,
            interface: Some(1),
        };
        let b = CaptureBuffer::new(filter, 10, 64).unwrap();
        assert!(b.wants(Point::Rx, 1));
        assert!(b.wants(Point::Drop, 1));
        assert!(!b.wants(Point::Tx, 1));
        assert!(!b.wants(Point::Rx, 0));
    }

    #[test]
    fn a_buffer_past_the_limit_is_refused_saying_how_big() {
        assert_eq!(
            CaptureBuffer::new(ANY, 1_000_000, 9000).unwrap_err(),
            "pcap trace: max 1000000 x max-bytes-per-pkt 9000 needs 8598 MiB a worker; \
             the limit is 256 MiB"
        );
    }

    #[test]
    fn merge_orders_by_time_across_workers_and_keeps_max() {
        let mut a = CaptureBuffer::new(ANY, 10, 64).unwrap();
        let mut b = CaptureBuffer::new(ANY, 10, 64).unwrap();
        a.add(5, b"a5");
        a.add(20, b"a20");
        b.add(5, b"b5");
        b.add(1, b"b1");
        a.add(30, b"a30");
        let buffers = [a, b];
        let data = |max| -> Vec<&[u8]> { merge(&buffers, max).iter().map(|r| r.data).collect() };
        assert_eq!(data(10), [&b"b1"[..], b"a5", b"b5", b"a20", b"a30"]);
        assert_eq!(data(2), [&b"b1"[..], b"a5"]);
    }

    /// A stand-in worker: serves its mailbox and, while its capture wants rx on
    /// position 0, adds one 60-byte frame a turn whose first byte counts the turns.
    fn fake_worker(mailbox: Arc<LoopMailbox>, stop: Arc<std::sync::atomic::AtomicBool>) {
        let mut capture = LoopState::default();
        let mut turn = 0u8;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            mailbox.serve(|q| capture.answer(q));
            if let Some(buffer) = capture.buffer.as_mut() {
                if buffer.wants(Point::Rx, 0) {
                    let mut frame = [0u8; 60];
                    frame[0] = turn;
                    turn = turn.wrapping_add(1);
                    buffer.add(u64::from(turn), &frame);
                }
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    fn test_clock() -> Clock {
        Clock {
            tsc: 0,
            wall: UNIX_EPOCH,
            tsc_hz: 1_000_000_000,
        }
    }

    fn start(max: u32, interface: Option<IfIndex>, path: &Path) -> PcapRequest {
        PcapRequest::Start(PcapStart {
            capture: podfwd::cli::PcapCapture {
                rx: true,
                tx: true,
                drop: false,
                max,
                max_bytes: 64,
                interface: interface.map(|_| "tap0".to_string()),
                file: None,
            },
            interface,
            path: path.to_path_buf(),
        })
    }

    #[test]
    fn a_capture_starts_reports_and_writes_its_file_once() {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mailbox = LoopMailbox::new();
        let worker = {
            let (mailbox, stop) = (Arc::clone(&mailbox), Arc::clone(&stop));
            std::thread::spawn(move || fake_worker(mailbox, stop))
        };
        let captures = Captures::new(vec![mailbox], test_clock);
        assert!(captures.launch()[0].buffer.is_none());
        let position = |i: IfIndex| i.as_usize() - 1;
        let path = std::env::temp_dir().join(format!("podfwd-capture-{}.pcap", std::process::id()));
        let ask = |r: &PcapRequest| captures.request(r, position);
        assert_eq!(
            ask(&PcapRequest::Status).unwrap(),
            "pcap capture disabled\n"
        );
        assert_eq!(
            ask(&PcapRequest::Off).unwrap_err(),
            "pcap trace: no capture is on"
        );
        assert_eq!(ask(&start(5, Some(IfIndex(1)), &path)).unwrap(), "");
        assert_eq!(
            ask(&start(5, None, &path)).unwrap_err(),
            format!(
                "pcap trace: a capture is on (to {}); 'pcap trace off' first",
                path.display()
            )
        );
        let full = format!(
            "pcap rx and tx capture enabled: 5 of 5 pkts...\ncapture to file {}\n\
             interface tap0, max-bytes-per-pkt 64\n",
            path.display()
        );
        let waited = std::time::Instant::now();
        while ask(&PcapRequest::Status).unwrap() != full {
            assert!(waited.elapsed() < Duration::from_secs(10), "never filled");
        }
        assert_eq!(
            ask(&PcapRequest::Off).unwrap(),
            format!(
                "Write 5 packets to {}, and stop capture...\n",
                path.display()
            )
        );
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(bytes.len(), 24 + 5 * (16 + 60));
        let firsts: Vec<u8> = (0..5).map(|n| bytes[24 + n * 76 + 16]).collect();
        assert_eq!(firsts, [0, 1, 2, 3, 4], "in capture order");
        assert_eq!(
            ask(&PcapRequest::Off).unwrap_err(),
            "pcap trace: no capture is on"
        );
        // On another interface nothing is taken, and nothing is written.
        assert_eq!(ask(&start(5, Some(IfIndex(2)), &path)).unwrap(), "");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            ask(&PcapRequest::Off).unwrap_err(),
            format!(
                "pcap trace: no packets captured; {} not written",
                path.display()
            )
        );
        assert!(!path.exists());
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        worker.join().unwrap();
    }

    /// A worker that never answers: the start is undone on the others, and nothing is on.
    #[test]
    fn a_silent_worker_leaves_no_capture_on() {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (live, silent) = (LoopMailbox::new(), LoopMailbox::new());
        let worker = {
            let (mailbox, stop) = (Arc::clone(&live), Arc::clone(&stop));
            std::thread::spawn(move || fake_worker(mailbox, stop))
        };
        let captures = Captures::new(vec![live, silent], test_clock);
        captures.launch();
        let path = std::env::temp_dir().join("podfwd-capture-silent.pcap");
        assert_eq!(
            captures
                .request(&start(5, None, &path), |i| i.as_usize())
                .unwrap_err(),
            "pcap trace: worker 1 did not answer within 2 s"
        );
        assert_eq!(
            captures
                .request(&PcapRequest::Status, |i| i.as_usize())
                .unwrap(),
            "pcap capture disabled\n"
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        worker.join().unwrap();
    }

    /// A startup file's capture waits for the workers and goes with them at launch.
    #[test]
    fn a_capture_before_launch_goes_with_the_workers() {
        let captures = Captures::new((0..2).map(|_| LoopMailbox::new()).collect(), test_clock);
        let path = Path::new("/tmp/podfwd-never-written.pcap");
        assert_eq!(
            captures
                .request(&start(7, None, path), |i| i.as_usize())
                .unwrap(),
            ""
        );
        assert!(captures
            .request(&PcapRequest::Status, |i| i.as_usize())
            .unwrap()
            .starts_with("pcap rx and tx capture enabled: 0 of 7 pkts...\n"));
        let launched = captures.launch();
        assert_eq!(launched.len(), 2);
        for capture in &launched {
            let buffer = capture.buffer.as_ref().expect("each worker has its buffer");
            assert!(buffer.wants(Point::Tx, 3) && !buffer.wants(Point::Drop, 3));
        }
        // Stopped before launch, nothing was captured and nothing is written.
        let captures = Captures::new(vec![LoopMailbox::new()], test_clock);
        captures
            .request(&start(7, None, path), |i| i.as_usize())
            .unwrap();
        assert_eq!(
            captures
                .request(&PcapRequest::Off, |i| i.as_usize())
                .unwrap_err(),
            format!(
                "pcap trace: no packets captured; {} not written",
                path.display()
            )
        );
        assert!(captures.launch()[0].buffer.is_none());
        assert!(!path.exists());
    }

    #[test]
    fn the_pcap_file_is_vpps_format_byte_for_byte() {
        let mut b = CaptureBuffer::new(ANY, 2, 32).unwrap();
        let frame: Vec<u8> = (0..60).collect();
        b.add(1_000, &frame);
        b.add(3_500, &frame[..14]);
        // 1 GHz: a tick is a nanosecond; the clock pair is 1000 ticks at 100 s + 1 us.
        let clock = Clock {
            tsc: 1_000,
            wall: UNIX_EPOCH + Duration::from_nanos(100_000_001_000),
            tsc_hz: 1_000_000_000,
        };
        let mut out = Vec::new();
        let records: Vec<Record<'_>> = b.records().collect();
        write_pcap(&mut out, &records, 32, &clock).unwrap();
        let mut expected = vec![
            0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0,
        ];
        // 100 s 1 us; 32 bytes kept of 60.
        expected.extend_from_slice(&[100, 0, 0, 0, 1, 0, 0, 0, 32, 0, 0, 0, 60, 0, 0, 0]);
        expected.extend_from_slice(&frame[..32]);
        // 2500 ns later: 100 s 3 us (3.5 us, cut to whole microseconds).
        expected.extend_from_slice(&[100, 0, 0, 0, 3, 0, 0, 0, 14, 0, 0, 0, 14, 0, 0, 0]);
        expected.extend_from_slice(&frame[..14]);
        assert_eq!(out, expected);
    }
}
