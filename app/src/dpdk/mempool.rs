//! The packet mempool.

use std::ffi::CString;
use std::ptr::NonNull;

use dpdk_sys as sys;

use super::DpdkError;

/// A pool of packet mbufs (`rte_pktmbuf_pool_create`). Never freed: an `Mbuf` borrows
/// nothing from its pool (its buffer points back to it), so freeing the pool while one
/// lives, or while a port queue receives into it, would be a use after free that the
/// types could not prevent. A process makes one pool, and EAL cleanup releases its
/// memory at exit. So a clone (for `show buffers`) is only its address again.
#[derive(Debug, Clone)]
pub struct Mempool {
    pool: NonNull<sys::rte_mempool>,
}

// SAFETY: rte_mempool is designed for concurrent use from all lcores (lock-free ring
// plus per-lcore caches); the handle is just its address.
unsafe impl Send for Mempool {}
// SAFETY: as above; all operations through &Mempool are thread-safe in DPDK.
unsafe impl Sync for Mempool {}

/// What the pool has to hold at once, in mbufs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSizing {
    pub ports: u32,
    pub queues_per_port: u32,
    pub rx_descriptors: u32,
    pub tx_descriptors: u32,
    pub burst: u32,
    pub workers: u32,
    pub cache: u32,
    /// Slots of each worker handoff ring (one per ordered pair of workers).
    pub handoff_ring: u32,
}

impl PoolSizing {
    /// Every descriptor ring full, plus per worker one RX burst in flight and one TX
    /// buffer per port, plus the worker handoff rings, plus each lcore's cache (the main lcore's too), which holds up
    /// to its flush threshold, 1.5 x its size (`RTE_MEMPOOL_CACHE_FLUSHTHRESH_MULTIPLIER`).
    pub fn mbufs(&self) -> u32 {
        let rings = self.ports * self.queues_per_port * (self.rx_descriptors + self.tx_descriptors);
        let in_flight = self.workers * self.burst * (1 + self.ports);
        let caches = (self.workers + 1) * (self.cache * 3).div_ceil(2);
        // Every handoff ring full, and a burst staged toward each.
        let pairs = self.workers * self.workers.saturating_sub(1);
        let handoff = pairs * (self.handoff_ring + self.burst);
        rings + in_flight + caches + handoff
    }
}

/// Bytes of frame one mbuf of [`Mempool::create`]'s holds: DPDK's default data room.
/// A longer frame arrives as a chain, which RX drops (see `crate::dpdk::mbuf`).
pub const FRAME_ROOM: u16 = sys::RTE_MBUF_DEFAULT_DATAROOM as u16;

impl Mempool {
    /// `mbufs` buffers of the default data room (2048 B + headroom), `cache` per lcore.
    pub fn create(name: &str, mbufs: u32, cache: u32, socket: i32) -> Result<Mempool, DpdkError> {
        let subject = || format!("pool {name} ({mbufs} mbufs, cache {cache})");
        let cname = CString::new(name)
            .map_err(|_| DpdkError::new("rte_pktmbuf_pool_create", subject(), libc::EINVAL))?;
        // SAFETY: cname is NUL-terminated; the sizes are plain integers checked by DPDK.
        let raw = unsafe {
            sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                mbufs,
                cache,
                0,
                sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16,
                socket,
            )
        };
        match NonNull::new(raw) {
            Some(pool) => Ok(Mempool { pool }),
            None => Err(DpdkError::from_rte_errno(
                "rte_pktmbuf_pool_create",
                subject(),
            )),
        }
    }

    pub fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.pool.as_ptr()
    }

    /// Free mbufs (not exact while lcores hold cached ones).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is valid for self's lifetime.
        unsafe { sys::rte_mempool_avail_count(self.pool.as_ptr()) }
    }

    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is valid for self's lifetime.
        unsafe { sys::rte_mempool_in_use_count(self.pool.as_ptr()) }
    }

    /// What `show buffers` prints of the pool, read while the lcores use it: each count
    /// is a moment's, and they need not add up exactly.
    pub fn usage(&self) -> PoolUsage {
        let mp = self.pool.as_ptr();
        // SAFETY: the pool is valid for self's lifetime (never freed); these fields are
        // set at creation and never written again.
        let (name, socket, size, cache_size, element, local_cache) = unsafe {
            let p = &*mp;
            let name: Vec<u8> = p
                .name
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            (
                String::from_utf8_lossy(&name).into_owned(),
                p.socket_id,
                p.size,
                p.cache_size,
                p.header_size + p.elt_size + p.trailer_size,
                p.local_cache,
            )
        };
        let mut cached = 0u32;
        if cache_size != 0 && !local_cache.is_null() {
            for lcore in 0..sys::RTE_MAX_LCORE as usize {
                // SAFETY: a pool with a cache has RTE_MAX_LCORE of them from
                // `local_cache`; an lcore changes its own cache's length as it works, so
                // the read is volatile, as DPDK's own rte_mempool_avail_count reads it.
                cached += unsafe {
                    std::ptr::read_volatile(std::ptr::addr_of!((*local_cache.add(lcore)).len))
                };
            }
        }
        // The ring's own count is not exported: DPDK's free count is the ring's plus the
        // caches'.
        let free = self.available().min(size);
        let cached = cached.min(free);
        PoolUsage {
            name,
            socket,
            element_size: element,
            data_size: u32::from(FRAME_ROOM),
            total: size,
            available: free - cached,
            cached,
        }
    }
}

/// A pool's counts at one moment (see [`Mempool::usage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUsage {
    pub name: String,
    pub socket: i32,
    /// Bytes per mbuf in the pool, headers included.
    pub element_size: u32,
    /// Bytes of frame one mbuf holds.
    pub data_size: u32,
    pub total: u32,
    /// Free in the pool's ring.
    pub available: u32,
    /// Free in the lcores' caches.
    pub cached: u32,
}

impl PoolUsage {
    /// Neither free in the ring nor in a cache: in RX rings, TX rings, bursts.
    pub fn used(&self) -> u32 {
        self.total - self.available - self.cached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing_counts_rings_bursts_and_caches() {
        let sizing = PoolSizing {
            ports: 2,
            queues_per_port: 1,
            rx_descriptors: 1024,
            tx_descriptors: 1024,
            burst: 32,
            workers: 1,
            cache: 256,
            handoff_ring: 1024,
        };
        assert_eq!(sizing.mbufs(), 2 * 2048 + 32 * 3 + 2 * 384);
        // Two workers: a queue each per port, and a handoff ring each way.
        let two = PoolSizing {
            queues_per_port: 2,
            workers: 2,
            ..sizing
        };
        let handoff = 2 * (1024 + 32);
        assert_eq!(two.mbufs(), 2 * 2 * 2048 + 2 * 32 * 3 + 3 * 384 + handoff);
    }
}
