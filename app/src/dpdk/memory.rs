//! What `show memory` reads: DPDK's malloc heap per socket and the C allocator's arenas.
//! (The big-table heap counts itself: [`super::hugealloc::table_heap`].)

use dpdk_sys as sys;

/// One socket's DPDK heap (`rte_malloc_get_socket_stats`), in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpdkHeap {
    pub socket: i32,
    pub total: usize,
    pub used: usize,
    pub free: usize,
}

/// The DPDK heap of every socket that has one (a socket without memory reports 0 bytes
/// and is left out). Needs the EAL.
pub fn dpdk_heaps() -> Vec<DpdkHeap> {
    let mut heaps = Vec::new();
    for socket in 0..sys::RTE_MAX_NUMA_NODES as i32 {
        // SAFETY: the struct is plain data that DPDK fills; the call only reads the heap's
        // counters under its own lock.
        let mut stats: sys::rte_malloc_socket_stats = unsafe { std::mem::zeroed() };
        let rc = unsafe { sys::rte_malloc_get_socket_stats(socket, &mut stats) };
        if rc == 0 && stats.heap_totalsz_bytes > 0 {
            heaps.push(DpdkHeap {
                socket,
                total: stats.heap_totalsz_bytes,
                used: stats.heap_allocsz_bytes,
                free: stats.heap_freesz_bytes,
            });
        }
    }
    heaps
}

/// The C allocator's arenas (glibc's `mallinfo2`): bytes in use and free in them, and
/// bytes in blocks it mapped on their own. Rust's small allocations land here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemHeap {
    pub used: usize,
    pub free: usize,
    pub mapped: usize,
}

pub fn system_heap() -> SystemHeap {
    // SAFETY: mallinfo2 takes no arguments and returns plain data (glibc >= 2.33).
    let info = unsafe { libc::mallinfo2() };
    SystemHeap {
        used: info.uordblks,
        free: info.fordblks,
        mapped: info.hblkhd,
    }
}
