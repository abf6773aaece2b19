//! Address and port allocation for dynamic translations (SNAT and twice-NAT sources).
//!
//! Each (pool address, protocol) has a busy bitmap over the whole port space. Worker `i`
//! of `n` only hands out ports from its own slice, `[1024 + i*per, 1024 + (i+1)*per)` with
//! `per = (65536 - 1024) / n` (VPP's `port_per_thread`): a reply to a dynamic port thus
//! names its owner, see [`super::engine::owner`].

use std::net::Ipv4Addr;

use super::types::NatProtocol;

/// Ports below this are never allocated (VPP's choice: keep well-known ports free).
pub const FIRST_DYNAMIC_PORT: u16 = 1024;
const WORDS: usize = 65536 / 64;

/// The worker's slice of the dynamic port space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortSlice {
    pub first: u16,
    pub len: u16,
}

impl PortSlice {
    /// Worker `index` of `count`; `count` 0 is read as 1.
    pub fn for_worker(index: u16, count: u16) -> PortSlice {
        let count = u32::from(count.max(1));
        let per = (65536 - u32::from(FIRST_DYNAMIC_PORT)) / count;
        let index = u32::from(index).min(count - 1);
        PortSlice {
            first: (u32::from(FIRST_DYNAMIC_PORT) + index * per) as u16,
            len: per as u16,
        }
    }

    pub fn contains(&self, port: u16) -> bool {
        port >= self.first && u32::from(port) < u32::from(self.first) + u32::from(self.len)
    }
}

struct AddressPorts {
    addr: Ipv4Addr,
    /// Held by a session or reserved: not to be handed out.
    busy: [Box<[u64; WORDS]>; 3],
    /// Held by a session (handed out and not yet released): a reservation lifted from
    /// such a port leaves it busy.
    held: [Box<[u64; WORDS]>; 3],
    busy_count: [u32; 3],
    /// Of those, the ones outside the worker's slice (reserved ports only): the slice is
    /// full when the others fill it.
    outside_slice: [u32; 3],
}

/// One pool's busy bitmaps, as one worker sees them.
pub struct PortAllocator {
    addresses: Vec<AddressPorts>,
    slice: PortSlice,
    /// Ports static mappings take on pool addresses: busy for good, never handed out,
    /// never released by a session ([`PortAllocator::reserve`]).
    reserved: Vec<(Ipv4Addr, NatProtocol, u16)>,
}

impl PortAllocator {
    pub fn new(slice: PortSlice) -> Self {
        PortAllocator {
            addresses: Vec::new(),
            slice,
            reserved: Vec::new(),
        }
    }

    /// Makes `wanted` the reserved ports (those of `wanted` on no pool address are
    /// ignored): a static mapping's external port on a pool address is busy, as VPP counts
    /// it, so that no dynamic translation takes it. Call after [`PortAllocator::sync`].
    pub fn reserve(&mut self, wanted: &[(Ipv4Addr, NatProtocol, u16)]) {
        for &(addr, proto, port) in &self.reserved.clone() {
            // A session may hold the port (handed out before the mapping came): it stays
            // busy until that session releases it.
            if !wanted.contains(&(addr, proto, port)) && !self.is_held(addr, proto, port) {
                self.set(addr, proto, port, false);
            }
        }
        for &(addr, proto, port) in wanted {
            // A port a session holds already stays busy; released, it stays reserved.
            self.set(addr, proto, port, true);
        }
        self.reserved = wanted.to_vec();
    }

    /// Sets or clears one port's busy bit, keeping the count.
    fn set(&mut self, addr: Ipv4Addr, proto: NatProtocol, port: u16, busy: bool) {
        let outside = u32::from(!self.slice.contains(port));
        let Some(entry) = self.addresses.iter_mut().find(|a| a.addr == addr) else {
            return;
        };
        let (word, bit) = (usize::from(port) / 64, port % 64);
        let Some(w) = entry.busy[proto.index()].get_mut(word) else {
            return;
        };
        let was = *w & (1 << bit) != 0;
        match (was, busy) {
            (false, true) => {
                *w |= 1 << bit;
                entry.busy_count[proto.index()] += 1;
                entry.outside_slice[proto.index()] += outside;
            }
            (true, false) => {
                *w &= !(1 << bit);
                entry.busy_count[proto.index()] -= 1;
                entry.outside_slice[proto.index()] -= outside;
            }
            _ => {}
        }
    }

    /// Follows the configured pool: keeps the bitmaps of addresses still in it, adds
    /// empty ones for new addresses. Allocates; called on a configuration change only.
    pub fn sync(&mut self, pool: &[Ipv4Addr]) {
        if self.addresses.len() == pool.len()
            && self.addresses.iter().zip(pool).all(|(a, p)| a.addr == *p)
        {
            return;
        }
        let mut old = std::mem::take(&mut self.addresses);
        for addr in pool {
            match old.iter().position(|a| a.addr == *addr) {
                Some(p) => self.addresses.push(old.swap_remove(p)),
                None => self.addresses.push(AddressPorts {
                    addr: *addr,
                    busy: [
                        Box::new([0; WORDS]),
                        Box::new([0; WORDS]),
                        Box::new([0; WORDS]),
                    ],
                    held: [
                        Box::new([0; WORDS]),
                        Box::new([0; WORDS]),
                        Box::new([0; WORDS]),
                    ],
                    busy_count: [0; 3],
                    outside_slice: [0; 3],
                }),
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    /// A free port on one of the pool's addresses, trying addresses from `hint` on and
    /// ports from a random point of the worker's slice; `None` when all are busy.
    pub fn allocate(
        &mut self,
        proto: NatProtocol,
        hint: u32,
        random: u32,
    ) -> Option<(Ipv4Addr, u16)> {
        let n = self.addresses.len();
        if n == 0 {
            return None;
        }
        let slice = self.slice;
        for k in 0..n {
            let entry = self.addresses.get_mut((hint as usize + k) % n)?;
            let p = proto.index();
            if entry.busy_count[p] - entry.outside_slice[p] >= u32::from(slice.len) {
                continue;
            }
            let start = random % u32::from(slice.len);
            if let Some(port) = take_free(&mut entry.busy[proto.index()], slice, start) {
                entry.busy_count[proto.index()] += 1;
                if let Some(w) = entry.held[p].get_mut(usize::from(port) / 64) {
                    *w |= 1 << (port % 64);
                }
                return Some((entry.addr, port));
            }
        }
        None
    }

    /// Returns a port; a port of an address no longer in the pool is simply forgotten,
    /// and a reserved one stays busy.
    pub fn release(&mut self, addr: Ipv4Addr, proto: NatProtocol, port: u16) {
        if let Some(entry) = self.addresses.iter_mut().find(|a| a.addr == addr) {
            if let Some(w) = entry.held[proto.index()].get_mut(usize::from(port) / 64) {
                *w &= !(1 << (port % 64));
            }
        }
        if !self.reserved.contains(&(addr, proto, port)) {
            self.set(addr, proto, port, false);
        }
    }

    /// Whether a session holds the port (handed out, not yet released).
    fn is_held(&self, addr: Ipv4Addr, proto: NatProtocol, port: u16) -> bool {
        self.addresses
            .iter()
            .find(|a| a.addr == addr)
            .and_then(|a| a.held[proto.index()].get(usize::from(port) / 64))
            .is_some_and(|w| w & (1 << (port % 64)) != 0)
    }

    pub fn is_busy(&self, addr: Ipv4Addr, proto: NatProtocol, port: u16) -> bool {
        self.addresses
            .iter()
            .find(|a| a.addr == addr)
            .and_then(|a| a.busy[proto.index()].get(usize::from(port) / 64))
            .is_some_and(|w| w & (1 << (port % 64)) != 0)
    }

    /// Busy ports of `addr` for `proto`, for `show nat44 addresses`.
    pub fn busy_count(&self, addr: Ipv4Addr, proto: NatProtocol) -> u32 {
        self.addresses
            .iter()
            .find(|a| a.addr == addr)
            .map_or(0, |a| a.busy_count[proto.index()])
    }

    /// Heap bytes held, for the bytes-per-session figure.
    pub fn heap_bytes(&self) -> usize {
        self.addresses.len() * (6 * WORDS * 8 + std::mem::size_of::<AddressPorts>())
    }
}

/// Marks and returns the first free port of `slice` at or after offset `start`, wrapping;
/// full words are skipped 64 ports at a time.
fn take_free(busy: &mut [u64; WORDS], slice: PortSlice, start: u32) -> Option<u16> {
    let len = u32::from(slice.len);
    let first = u32::from(slice.first);
    let mut scanned = 0u32;
    let mut offset = start;
    while scanned < len {
        let port = first + offset;
        let word = busy.get_mut((port / 64) as usize)?;
        let bit = port % 64;
        if *word == u64::MAX {
            let step = 64 - bit;
            scanned += step;
            offset = (offset + step) % len;
            continue;
        }
        if *word & (1 << bit) == 0 {
            *word |= 1 << bit;
            return Some(port as u16);
        }
        scanned += 1;
        offset = (offset + 1) % len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_slices_partition_the_dynamic_ports() {
        let slices: Vec<PortSlice> = (0..3).map(|i| PortSlice::for_worker(i, 3)).collect();
        assert_eq!(
            slices[0],
            PortSlice {
                first: 1024,
                len: 21504
            }
        );
        assert_eq!(slices[1].first, 1024 + 21504);
        assert!(slices[2].contains(65535));
        assert!(!slices[0].contains(1023));
        let single = PortSlice::for_worker(0, 1);
        assert_eq!((single.first, single.len), (1024, 64512));
        assert!(single.contains(65535));
    }

    #[test]
    fn allocation_never_repeats_a_busy_port_and_exhausts_cleanly() {
        let slice = PortSlice {
            first: 2000,
            len: 100,
        };
        let mut ports = PortAllocator::new(slice);
        let addr = Ipv4Addr::new(192, 168, 16, 1);
        ports.sync(&[addr]);
        let mut seen = std::collections::HashSet::new();
        for i in 0..100u32 {
            let (a, p) = ports.allocate(NatProtocol::Udp, 0, i * 7919).unwrap();
            assert_eq!(a, addr);
            assert!(slice.contains(p));
            assert!(seen.insert(p), "port {p} handed out twice");
        }
        assert_eq!(ports.allocate(NatProtocol::Udp, 0, 5), None);
        assert_eq!(ports.busy_count(addr, NatProtocol::Udp), 100);
        // Other protocols have their own ports.
        assert!(ports.allocate(NatProtocol::Tcp, 0, 5).is_some());
        ports.release(addr, NatProtocol::Udp, 2042);
        assert_eq!(ports.allocate(NatProtocol::Udp, 0, 99), Some((addr, 2042)));
    }

    /// A port a session holds stays busy when a mapping reserves it and then lets it go;
    /// the session's release frees it. Reserved alone, it frees when the reservation ends.
    #[test]
    fn a_reservation_lifted_from_a_held_port_leaves_it_busy() {
        let slice = PortSlice {
            first: 2000,
            len: 2,
        };
        let mut ports = PortAllocator::new(slice);
        let addr = Ipv4Addr::new(192, 168, 16, 1);
        ports.sync(&[addr]);
        let (_, held) = ports.allocate(NatProtocol::Tcp, 0, 0).unwrap();
        let free = if held == 2000 { 2001 } else { 2000 };
        ports.reserve(&[
            (addr, NatProtocol::Tcp, held),
            (addr, NatProtocol::Tcp, free),
        ]);
        ports.reserve(&[]);
        assert!(
            ports.is_busy(addr, NatProtocol::Tcp, held),
            "the session holds it"
        );
        assert!(!ports.is_busy(addr, NatProtocol::Tcp, free));
        assert_eq!(ports.busy_count(addr, NatProtocol::Tcp), 1);
        assert_eq!(ports.allocate(NatProtocol::Tcp, 0, 0), Some((addr, free)));
        assert_eq!(
            ports.allocate(NatProtocol::Tcp, 0, 0),
            None,
            "never the held one"
        );
        ports.release(addr, NatProtocol::Tcp, held);
        assert_eq!(ports.allocate(NatProtocol::Tcp, 0, 0), Some((addr, held)));
    }
}
