//! The safe `rte_mbuf` view, and bursts of them for RX and TX.
//!
//! **Single segment only.** An [`Mbuf`] exposes the first segment's data and keeps
//! `pkt_len == data_len`; RX frees chained (multi-segment) mbufs instead of handing
//! them out, so every `Mbuf` podfwd sees is one segment. Ports are configured without
//! the scatter offload and an mbuf holds 2048 bytes, a full 1518-byte frame; only a
//! frame larger than that arrives chained (net_pcap chains what it reads from its file
//! regardless), and the worker counts it received and dropped (`show errors`:
//! `dpdk-input`, see `podfwd::pipeline::InputError`).

use std::mem::MaybeUninit;
use std::ptr::NonNull;

use dpdk_sys as sys;
use podfwd::buffer::PacketBuf;

use super::mempool::Mempool;
use super::port::PortId;

/// One single-segment packet buffer, owned: dropping it returns it to its pool, and
/// [`tx_burst`] hands it to the driver.
#[repr(transparent)]
#[derive(Debug)]
pub struct Mbuf {
    raw: NonNull<sys::rte_mbuf>,
}

// SAFETY: an Mbuf is the only handle to its rte_mbuf, so moving it between lcores
// moves ownership; freeing into the mempool is thread-safe.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of a raw mbuf.
    ///
    /// # Safety
    /// `raw` is a valid single-segment mbuf with reference count 1, owned by nobody
    /// else from now on.
    pub unsafe fn from_raw(raw: NonNull<sys::rte_mbuf>) -> Mbuf {
        Mbuf { raw }
    }

    /// Gives up ownership without freeing (e.g. into a TX queue).
    pub fn into_raw(self) -> NonNull<sys::rte_mbuf> {
        let raw = self.raw;
        std::mem::forget(self);
        raw
    }

    /// A fresh, empty mbuf from `pool`, or None when the pool is exhausted.
    pub fn alloc(pool: &Mempool) -> Option<Mbuf> {
        // SAFETY: the pool is valid; the result is a new single-segment mbuf or NULL.
        let raw = unsafe { sys::podfwd_pktmbuf_alloc(pool.as_ptr()) };
        // SAFETY: freshly allocated, refcount 1, one segment, owned by us alone.
        NonNull::new(raw).map(|raw| unsafe { Mbuf::from_raw(raw) })
    }

    fn header(&self) -> &sys::rte_mbuf {
        // SAFETY: self owns a valid mbuf for its whole lifetime.
        unsafe { self.raw.as_ref() }
    }

    /// The port the driver received this mbuf on.
    pub fn port(&self) -> PortId {
        self.header().port
    }

    /// Number of segments; always 1 for mbufs that came through [`rx_burst`].
    pub fn segments(&self) -> u16 {
        self.header().nb_segs
    }

    /// The whole frame's length over all its segments (`pkt_len`).
    pub fn packet_len(&self) -> u32 {
        self.header().pkt_len
    }

    /// Copies `frame` into an empty mbuf; false (and unchanged) if it does not fit.
    pub fn write_frame(&mut self, frame: &[u8]) -> bool {
        if !self.set_len(frame.len()) {
            return false;
        }
        self.data_mut().copy_from_slice(frame);
        true
    }

    fn data_ptr(&self) -> *mut u8 {
        let header = self.header();
        // buf_addr + data_off: rte_pktmbuf_mtod, computed here instead of a C call per packet.
        header
            .buf_addr
            .cast::<u8>()
            .wrapping_add(usize::from(header.data_off))
    }
}

impl PacketBuf for Mbuf {
    #[inline]
    fn data(&self) -> &[u8] {
        let len = usize::from(self.header().data_len);
        // SAFETY: a single-segment mbuf's data_len bytes at buf_addr + data_off are
        // initialised packet data inside its buffer, owned by self.
        unsafe { std::slice::from_raw_parts(self.data_ptr(), len) }
    }

    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        let len = usize::from(self.header().data_len);
        // SAFETY: as in `data`, and &mut self makes this the only live view.
        unsafe { std::slice::from_raw_parts_mut(self.data_ptr(), len) }
    }

    fn set_len(&mut self, len: usize) -> bool {
        if len > self.capacity() {
            return false;
        }
        // capacity() <= buf_len, a u16, so both casts are lossless.
        let mut raw = self.raw;
        // SAFETY: we own the mbuf; the new length stays within the buffer's tailroom.
        let header = unsafe { raw.as_mut() };
        header.data_len = len as u16;
        header.pkt_len = len as u32;
        true
    }

    fn capacity(&self) -> usize {
        let header = self.header();
        usize::from(header.buf_len).saturating_sub(usize::from(header.data_off))
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf and give it back exactly once.
        unsafe { sys::podfwd_pktmbuf_free(self.raw.as_ptr()) };
    }
}

/// The largest burst podfwd moves at once.
pub const MAX_BURST: usize = 256;

/// A fixed-capacity array of owned mbufs (no heap), used for RX bursts and TX buffers.
pub struct MbufBurst {
    len: usize,
    slots: [MaybeUninit<Mbuf>; MAX_BURST],
}

impl Default for MbufBurst {
    fn default() -> Self {
        MbufBurst::new()
    }
}

impl std::fmt::Debug for MbufBurst {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MbufBurst({} mbufs)", self.len)
    }
}

impl MbufBurst {
    pub fn new() -> MbufBurst {
        MbufBurst {
            len: 0,
            slots: [const { MaybeUninit::uninit() }; MAX_BURST],
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == MAX_BURST
    }

    pub fn as_mut_slice(&mut self) -> &mut [Mbuf] {
        // SAFETY: slots[..len] are initialised; MaybeUninit<Mbuf> has Mbuf's layout.
        unsafe { std::slice::from_raw_parts_mut(self.slots.as_mut_ptr().cast::<Mbuf>(), self.len) }
    }

    pub fn as_slice(&self) -> &[Mbuf] {
        // SAFETY: as in `as_mut_slice`.
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().cast::<Mbuf>(), self.len) }
    }

    /// Appends `mbuf`, or gives it back when full.
    pub fn push(&mut self, mbuf: Mbuf) -> Result<(), Mbuf> {
        match self.slots.get_mut(self.len) {
            Some(slot) => {
                slot.write(mbuf);
                self.len += 1;
                Ok(())
            }
            None => Err(mbuf),
        }
    }

    /// Moves every mbuf of `other` to the end of this burst, in order, if they all fit;
    /// else moves none. Whether they moved.
    pub fn append(&mut self, other: &mut MbufBurst) -> bool {
        let (at, count) = (self.len, other.len);
        if count > MAX_BURST - at {
            return false;
        }
        // SAFETY: other.slots[..count] are initialised and owned by `other`; they are
        // copied (not duplicated: `other` forgets them by len = 0) into self.slots
        // [at..at + count], which are within bounds (checked above) and uninitialised.
        unsafe {
            std::ptr::copy_nonoverlapping(
                other.slots.as_ptr(),
                self.slots.as_mut_ptr().add(at),
                count,
            );
        }
        other.len = 0;
        self.len = at + count;
        true
    }

    /// Moves every mbuf out, in order, leaving the burst empty.
    pub fn drain(&mut self) -> Drain<'_> {
        let end = self.len;
        // From here the slots belong to the Drain; a leaked Drain leaks mbufs but
        // never double-frees them.
        self.len = 0;
        Drain {
            burst: self,
            next: 0,
            end,
        }
    }

    /// Frees every mbuf with one bulk call.
    pub fn clear(&mut self) {
        let count = self.len;
        self.len = 0;
        // SAFETY: slots[..count] are owned, initialised mbufs (layout of *mut rte_mbuf)
        // that are no longer reachable through self after len = 0.
        unsafe {
            sys::podfwd_pktmbuf_free_bulk(
                self.slots.as_mut_ptr().cast::<*mut sys::rte_mbuf>(),
                count as u32,
            )
        };
    }

    fn raw_slots(&mut self) -> *mut *mut sys::rte_mbuf {
        self.slots.as_mut_ptr().cast::<*mut sys::rte_mbuf>()
    }

    /// Asks for every mbuf's header lines and first data line: mbufs another lcore
    /// wrote (a handoff ring's) are in that lcore's cache, and a miss per packet taken
    /// one after the other costs far more than all of them at once.
    pub fn prefetch(&self) {
        for mbuf in self.as_slice() {
            let header = mbuf.raw.as_ptr().cast::<u8>();
            super::prefetch(header);
            super::prefetch(header.wrapping_add(64));
        }
        for mbuf in self.as_slice() {
            super::prefetch(mbuf.data_ptr());
        }
    }

    /// Every slot, for a C call that fills an empty burst (then [`MbufBurst::set_len`]).
    pub(super) fn spare_slots(&mut self) -> *mut *mut sys::rte_mbuf {
        debug_assert!(self.is_empty());
        self.raw_slots()
    }

    /// # Safety
    /// `slots[..len]` hold owned single-segment mbufs, and `len <= MAX_BURST`.
    pub(super) unsafe fn set_len(&mut self, len: usize) {
        debug_assert!(len <= MAX_BURST);
        self.len = len.min(MAX_BURST);
    }

    /// The first `n` mbufs were handed to someone else (a ring took them): forgets them,
    /// moving the rest to the front.
    pub(super) fn forget_front(&mut self, n: usize) {
        let n = n.min(self.len);
        let rest = self.len - n;
        // SAFETY: slots[n..len] are initialised and owned; they move (not copy: their
        // old places are beyond the new len) to slots[..rest]. The first n are no longer
        // ours and are overwritten or left beyond len, never dropped.
        unsafe {
            std::ptr::copy(self.slots.as_ptr().add(n), self.slots.as_mut_ptr(), rest);
        }
        self.len = rest;
    }
}

impl Drop for MbufBurst {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The iterator of [`MbufBurst::drain`].
pub struct Drain<'a> {
    burst: &'a mut MbufBurst,
    next: usize,
    end: usize,
}

impl Iterator for Drain<'_> {
    type Item = Mbuf;

    fn next(&mut self) -> Option<Mbuf> {
        if self.next >= self.end {
            return None;
        }
        let slot = self.burst.slots.get(self.next)?;
        self.next += 1;
        // SAFETY: slots[next..end] are initialised and each is read out exactly once.
        Some(unsafe { slot.assume_init_read() })
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        for mbuf in self.by_ref() {
            drop(mbuf);
        }
    }
}

/// What one RX call brought in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxCount {
    pub received: usize,
    /// Chained mbufs freed on arrival (see the module doc): frames larger than an mbuf.
    pub multi_segment_dropped: usize,
    /// Their length, all segments counted.
    pub multi_segment_bytes: u64,
}

/// The right to receive from one rx queue of a port: made only by
/// [`super::port::rx_queue_setup`], and neither `Clone` nor `Copy`, so one lcore at a
/// time polls the queue. `rte_eth_rx_burst` checks neither its port nor its queue id
/// (Debian builds without `RTE_ETHDEV_DEBUG_RX`) and is not thread-safe per queue.
#[derive(Debug)]
pub struct RxQueue {
    port: PortId,
    queue: u16,
}

/// The right to transmit on one tx queue of a port: as [`RxQueue`], made only by
/// [`super::port::tx_queue_setup`].
#[derive(Debug)]
pub struct TxQueue {
    port: PortId,
    queue: u16,
}

/// Which way a held queue goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Way {
    Rx,
    Tx,
}

/// The queues an [`RxQueue`] or [`TxQueue`] lives for. A second set-up of one would
/// make a second handle (two lcores polling it), and stopping or closing its port
/// would pull the PMD's state from under the lcore that holds it: both are refused
/// while it is held ([`claim`], [`port_held`]). Touched at set-up and drop only.
static HELD: std::sync::Mutex<Vec<(PortId, u16, Way)>> = std::sync::Mutex::new(Vec::new());

fn held() -> std::sync::MutexGuard<'static, Vec<(PortId, u16, Way)>> {
    // A panic while holding it leaves the list as it was: still right.
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Marks a queue held, before it is set up; false if it already is.
pub(super) fn claim(port: PortId, queue: u16, way: Way) -> bool {
    let mut held = held();
    if held.contains(&(port, queue, way)) {
        return false;
    }
    held.push((port, queue, way));
    true
}

/// Gives a queue up (its handle dropped, or its set-up failed).
pub(super) fn release(port: PortId, queue: u16, way: Way) {
    held().retain(|&q| q != (port, queue, way));
}

/// Whether a handle to one of `port`'s queues lives.
pub(super) fn port_held(port: PortId) -> bool {
    held().iter().any(|&(p, _, _)| p == port)
}

impl Drop for RxQueue {
    fn drop(&mut self) {
        release(self.port, self.queue, Way::Rx);
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        release(self.port, self.queue, Way::Tx);
    }
}

impl RxQueue {
    /// Only for a queue `rte_eth_rx_queue_setup` accepted, [`claim`]ed first.
    pub(super) fn set_up(port: PortId, queue: u16) -> RxQueue {
        RxQueue { port, queue }
    }
    pub fn port(&self) -> PortId {
        self.port
    }
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

impl TxQueue {
    /// Only for a queue `rte_eth_tx_queue_setup` accepted, [`claim`]ed first.
    pub(super) fn set_up(port: PortId, queue: u16) -> TxQueue {
        TxQueue { port, queue }
    }
    pub fn port(&self) -> PortId {
        self.port
    }
    pub fn queue(&self) -> u16 {
        self.queue
    }
}

/// Receives up to `max` packets into the empty `burst`.
pub fn rx_burst(queue: &mut RxQueue, burst: &mut MbufBurst, max: usize) -> RxCount {
    debug_assert!(burst.is_empty());
    if !burst.is_empty() {
        burst.clear();
    }
    let max = max.min(MAX_BURST) as u16;
    // SAFETY: the slots have room for `max` pointers; the PMD writes `n` owned mbufs.
    // The queue was set up (RxQueue exists) and this lcore holds it exclusively.
    let n = usize::from(unsafe {
        sys::podfwd_eth_rx_burst(queue.port, queue.queue, burst.raw_slots(), max)
    });
    burst.len = n;
    let mut count = RxCount {
        received: n,
        multi_segment_dropped: 0,
        multi_segment_bytes: 0,
    };
    if burst.as_slice().iter().any(|m| m.segments() != 1) {
        (count.multi_segment_dropped, count.multi_segment_bytes) = retain_single_segment(burst);
        count.received -= count.multi_segment_dropped;
    }
    count
}

/// Frees the chained mbufs of `burst`, keeping the others in order: how many it freed
/// and their bytes.
fn retain_single_segment(burst: &mut MbufBurst) -> (usize, u64) {
    let mut kept = MbufBurst::new();
    let (mut dropped, mut bytes) = (0, 0);
    for mbuf in burst.drain() {
        if mbuf.segments() == 1 {
            // kept has the same capacity as burst, so this cannot fail.
            let _ = kept.push(mbuf);
        } else {
            dropped += 1;
            bytes += u64::from(mbuf.packet_len());
            // Dropping frees the whole chain (rte_pktmbuf_free walks the segments).
            drop(mbuf);
        }
    }
    std::mem::swap(burst, &mut kept);
    (dropped, bytes)
}

/// What one TX call did; `sent + refused` is what the burst held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxCount {
    pub sent: usize,
    /// Packets the queue did not take; they were freed.
    pub refused: usize,
}

/// Hands the whole burst to the driver; what it refuses stays in the burst, in order,
/// for the caller to try again (a generator's requests: testpmd's txonly would free
/// them and rewind its flow counter instead).
pub fn tx_burst_keeping(queue: &mut TxQueue, burst: &mut MbufBurst) -> TxCount {
    let count = burst.len;
    if count == 0 {
        return TxCount::default();
    }
    // SAFETY: slots[..count] are owned mbufs; the PMD takes ownership of the first
    // `sent` of them. The queue was set up (TxQueue exists) and this lcore holds it
    // exclusively.
    let sent = usize::from(unsafe {
        sys::podfwd_eth_tx_burst(queue.port, queue.queue, burst.raw_slots(), count as u16)
    });
    let refused = count - sent;
    if refused > 0 {
        // SAFETY: slots[sent..count] are still ours and initialised; they move to the
        // front (the ranges may overlap: `copy`), and len then counts exactly them.
        unsafe {
            let slots = burst.raw_slots();
            std::ptr::copy(slots.add(sent), slots, refused);
        }
    }
    burst.len = refused;
    TxCount { sent, refused }
}

/// Hands the whole burst to the driver; what it refuses is freed. Leaves it empty.
pub fn tx_burst(queue: &mut TxQueue, burst: &mut MbufBurst) -> TxCount {
    let count = tx_burst_keeping(queue, burst);
    // The refused, one bulk free.
    burst.clear();
    count
}
