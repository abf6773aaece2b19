//! Single-producer single-consumer rings of mbufs between two worker lcores: the queues
//! of worker handoff (`crate::forward`). One ring per ordered pair of workers, so each
//! end has one lcore and the ring needs no multi-thread synchronisation beyond its own.

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

use dpdk_sys as sys;

use super::mbuf::{MbufBurst, MAX_BURST};
use super::DpdkError;

struct Ring {
    raw: NonNull<sys::rte_ring>,
}

// SAFETY: the ring is DPDK shared memory made for use from two lcores; the halves below
// give each end to exactly one owner (the producer and the consumer), which is what
// RING_F_SP_ENQ | RING_F_SC_DEQ require.
unsafe impl Send for Ring {}
unsafe impl Sync for Ring {}

impl Drop for Ring {
    fn drop(&mut self) {
        // Both halves are gone: nobody else can reach the ring. Free what it still holds.
        let mut left = MbufBurst::new();
        while dequeue(self.raw, &mut left, MAX_BURST) > 0 {
            left.clear();
        }
        // SAFETY: created by rte_ring_create and freed once, here.
        unsafe { sys::rte_ring_free(self.raw.as_ptr()) };
    }
}

/// The producer's end.
pub struct RingSender {
    ring: Arc<Ring>,
}

/// The consumer's end.
pub struct RingReceiver {
    ring: Arc<Ring>,
}

impl std::fmt::Debug for RingSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RingSender")
    }
}

impl std::fmt::Debug for RingReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RingReceiver")
    }
}

/// A ring named `name` (unique in the process) holding up to `size - 1` mbufs;
/// `size` is a power of two.
pub fn mbuf_ring(
    name: &str,
    size: u32,
    socket: i32,
) -> Result<(RingSender, RingReceiver), DpdkError> {
    let subject = || format!("ring {name} ({size} slots)");
    let cname = CString::new(name)
        .map_err(|_| DpdkError::new("rte_ring_create", subject(), libc::EINVAL))?;
    // SAFETY: cname is NUL-terminated; DPDK checks the size and the flags.
    let raw = unsafe {
        sys::rte_ring_create(
            cname.as_ptr(),
            size,
            socket,
            sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ,
        )
    };
    let raw =
        NonNull::new(raw).ok_or_else(|| DpdkError::from_rte_errno("rte_ring_create", subject()))?;
    let ring = Arc::new(Ring { raw });
    Ok((
        RingSender {
            ring: Arc::clone(&ring),
        },
        RingReceiver { ring },
    ))
}

impl RingSender {
    /// Moves as many mbufs of `burst` as the ring has room for (from the front) into it;
    /// the ones it had no room for stay in `burst`. How many moved.
    pub fn send(&mut self, burst: &mut MbufBurst) -> usize {
        let count = burst.len();
        if count == 0 {
            return 0;
        }
        let slots = burst.as_slice().as_ptr().cast::<*mut std::ffi::c_void>();
        // SAFETY: `slots` are `count` owned mbuf pointers (Mbuf is a transparent
        // pointer); the ring takes the first `sent`, this lcore is its only producer.
        let sent = unsafe {
            sys::podfwd_ring_enqueue_burst(
                self.ring.raw.as_ptr(),
                slots,
                count as u32,
                std::ptr::null_mut(),
            )
        } as usize;
        burst.forget_front(sent);
        sent
    }
}

impl RingReceiver {
    /// Takes up to `max` mbufs from the ring into the empty `burst`; how many.
    pub fn receive(&mut self, burst: &mut MbufBurst, max: usize) -> usize {
        dequeue(self.ring.raw, burst, max)
    }
}

fn dequeue(ring: NonNull<sys::rte_ring>, burst: &mut MbufBurst, max: usize) -> usize {
    debug_assert!(burst.is_empty());
    if !burst.is_empty() {
        burst.clear();
    }
    let max = max.min(MAX_BURST);
    let slots = burst.spare_slots();
    // SAFETY: `slots` has room for MAX_BURST pointers; the ring writes `got` <= max mbufs
    // it owned (put there by the producer, which gave them up), now ours. This lcore is
    // the ring's only consumer.
    let got = unsafe {
        sys::podfwd_ring_dequeue_burst(
            ring.as_ptr(),
            slots.cast::<*mut std::ffi::c_void>(),
            max as u32,
            std::ptr::null_mut(),
        )
    } as usize;
    // SAFETY: the first `got` slots now hold owned, single-segment mbufs (each was an
    // `Mbuf` when sent).
    unsafe { burst.set_len(got) };
    got
}
