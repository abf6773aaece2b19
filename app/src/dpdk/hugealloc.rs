//! The heap for big tables: allocations of 2 MiB and more get their own 2 MiB-aligned
//! anonymous mapping, advised for transparent huge pages and faulted in at once (the
//! tables are sized for their limits, so podfwd's memory is resident from the start, as
//! VPP's heaps are); smaller ones go to the system allocator.
//!
//! The per-worker session tables and the FIB are sized for their limits (an ACL session
//! table for 500k sessions is ~66 MiB), so live entries sit on many different pages and a
//! lookup walks the page tables as often as it misses the cache (`cargo bench -p
//! podfwd-app --bench chain` compares the two heaps; BENCHMARKS.md has figures). DPDK's hugepages
//! are not used because these tables are Rust collections built before and outside the
//! EAL's memory; THP needs no reservation, and with THP off (`never`) this is plain mmap.
//!
//! Not in this module's scope: NUMA placement (one socket on the machines we target).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Allocations at least this big are mapped on their own, 2 MiB aligned.
const HUGE: usize = 2 << 20;

/// The mappings this heap holds and their bytes, for `show memory`. Tables are made and
/// dropped on the main lcore, never per packet, so the counting costs nothing that matters.
static MAPPINGS: AtomicUsize = AtomicUsize::new(0);
static MAPPED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// (mappings, bytes) of the big-table heap now.
pub fn table_heap() -> (usize, usize) {
    (
        MAPPINGS.load(Ordering::Relaxed),
        MAPPED_BYTES.load(Ordering::Relaxed),
    )
}

/// The app's global allocator (`#[global_allocator]` in each binary that builds tables).
pub struct HugePageAlloc;

fn rounded(size: usize) -> Option<usize> {
    size.checked_add(HUGE - 1).map(|s| s & !(HUGE - 1))
}

/// A 2 MiB-aligned mapping of `len` bytes (a multiple of 2 MiB), advised for huge pages.
/// Null on failure.
fn map_huge(len: usize) -> *mut u8 {
    let Some(span) = len.checked_add(HUGE) else {
        return std::ptr::null_mut();
    };
    // SAFETY: an anonymous private mapping at an address the kernel picks touches no
    // existing memory.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            span,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    let base = base as usize;
    let start = (base + HUGE - 1) & !(HUGE - 1);
    // SAFETY: the head [base, start) and the tail [start + len, base + span) are parts of
    // the mapping just made, outside the range handed out.
    unsafe {
        if start > base {
            libc::munmap(base as *mut libc::c_void, start - base);
        }
        let end = start + len;
        if base + span > end {
            libc::munmap(end as *mut libc::c_void, base + span - end);
        }
        // Advice only: without THP the mapping still works, with 4 KiB pages.
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        // Fault every page in now (as huge pages where THP can): a table's first touch
        // on the fast path would otherwise stop a worker in the kernel to zero memory.
        // Kernels before 5.14 refuse the advice; their pages fault in on first use.
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE);
    }
    MAPPINGS.fetch_add(1, Ordering::Relaxed);
    MAPPED_BYTES.fetch_add(len, Ordering::Relaxed);
    start as *mut u8
}

// SAFETY: small layouts are passed to `System` unchanged; a big one gets a fresh mapping
// of at least its size, aligned to 2 MiB (which satisfies any alignment Rust asks of a
// heap block up to 2 MiB), zeroed by the kernel, and unmapped with the same rounded size.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() < HUGE || layout.align() > HUGE {
            return System.alloc(layout);
        }
        match rounded(layout.size()) {
            Some(len) => map_huge(len),
            None => std::ptr::null_mut(),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() < HUGE || layout.align() > HUGE {
            return System.alloc_zeroed(layout);
        }
        // Fresh anonymous pages are zero.
        self.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() < HUGE || layout.align() > HUGE {
            return System.dealloc(ptr, layout);
        }
        if let Some(len) = rounded(layout.size()) {
            libc::munmap(ptr as *mut libc::c_void, len);
            MAPPINGS.fetch_sub(1, Ordering::Relaxed);
            MAPPED_BYTES.fetch_sub(len, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.size() < HUGE && new_size < HUGE {
            return System.realloc(ptr, layout, new_size);
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        let new = self.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

/// The kernel's transparent-huge-page mode (`always`, `madvise` or `never`), if it says.
pub fn thp_mode() -> Option<String> {
    let text = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?;
    bracketed(&text).map(str::to_owned)
}

/// The word between brackets: the kernel's choice among the modes it lists.
fn bracketed(text: &str) -> Option<&str> {
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_blocks_are_aligned_zeroed_and_reusable() {
        let alloc = HugePageAlloc;
        for size in [HUGE, HUGE + 1, 5 * HUGE + 12345] {
            let layout = Layout::from_size_align(size, 64).unwrap();
            // SAFETY: the layout has a non-zero size; the block is freed with it.
            unsafe {
                let p = alloc.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % HUGE, 0);
                assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                p.write_bytes(0xa5, size);
                let q = alloc.realloc(p, layout, 2 * size);
                assert!(!q.is_null());
                assert!(std::slice::from_raw_parts(q, size)
                    .iter()
                    .all(|&b| b == 0xa5));
                alloc.dealloc(q, Layout::from_size_align(2 * size, 64).unwrap());
            }
        }
    }

    #[test]
    fn small_blocks_grow_into_big_ones_and_back() {
        let alloc = HugePageAlloc;
        let small = Layout::from_size_align(1000, 8).unwrap();
        // SAFETY: each block is used within its size and freed with its layout.
        unsafe {
            let p = alloc.alloc(small);
            p.write_bytes(7, 1000);
            let q = alloc.realloc(p, small, 3 * HUGE);
            assert!(std::slice::from_raw_parts(q, 1000).iter().all(|&b| b == 7));
            let big = Layout::from_size_align(3 * HUGE, 8).unwrap();
            let r = alloc.realloc(q, big, 500);
            assert!(std::slice::from_raw_parts(r, 500).iter().all(|&b| b == 7));
            alloc.dealloc(r, Layout::from_size_align(500, 8).unwrap());
        }
    }

    #[test]
    fn thp_mode_reads_the_bracketed_word() {
        assert_eq!(bracketed("always [madvise] never\n"), Some("madvise"));
        assert_eq!(bracketed("[always] madvise never\n"), Some("always"));
        assert_eq!(bracketed("always madvise never\n"), None);
        assert_eq!(bracketed("always [madvise never"), None);
        // This machine's, when it has THP.
        if let Some(mode) = thp_mode() {
            assert!(
                ["always", "madvise", "never"].contains(&mode.as_str()),
                "{mode}"
            );
        }
    }
}
