//! Virtual reassembly, in order: what NAT44 did to a datagram's first fragment, kept for
//! the fragments after it.
//!
//! A first fragment carries the L4 header, so it is translated as a whole packet would
//! be (its L4 checksum covers the whole datagram, and the incremental update is the
//! same); the others carry only addresses. VPP reassembles virtually before NAT (on by
//! default: 2 s, 1024 datagrams): it remembers the first fragment's ports and holds up
//! to 5 fragments that came before it. Here a non-first fragment takes its datagram's
//! session, found under (protocol, source, destination, identification) as the first
//! fragment arrived, for 2 s; one that came before its first fragment is dropped (no
//! buffering: the fast path holds no packets).

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use hashbrown::HashMap;

use super::rewrite::Side;

/// The session of a first fragment that passed untranslated (an identity mapping,
/// forwarding): the fragments after it pass too.
pub const PASSED: u32 = u32::MAX;

/// Datagrams remembered at once (VPP's default `max-reassemblies`).
pub const CAPACITY: usize = 1024;
/// Seconds a first fragment's translation is kept (VPP's default reassembly timeout).
pub const TIMEOUT_SECONDS: u32 = 2;

/// A datagram as its fragments arrive: protocol, source, destination, identification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DatagramKey {
    pub proto: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ident: u16,
}

impl DatagramKey {
    /// The datagram `ip` is a fragment of, as it arrived.
    pub fn of<T: AsRef<[u8]>>(ip: &crate::packet::Ipv4Packet<T>) -> DatagramKey {
        DatagramKey {
            proto: u8::from(ip.protocol()),
            src: ip.src(),
            dst: ip.dst(),
            ident: ip.ident(),
        }
    }
}

/// How its first fragment was translated ([`PASSED`]: it was not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirstFragment {
    pub session: u32,
    pub generation: u32,
    pub side: Side,
}

/// What NAT44 remembers of first fragments.
pub type Fragments = Datagrams<FirstFragment>;

/// Something remembered of each of the last datagrams' first fragments, sized once: no
/// allocation per packet.
pub struct Datagrams<V> {
    by_key: HashMap<DatagramKey, (V, u32)>,
    /// Keys in the order they were noted, to give the oldest up when full.
    order: VecDeque<DatagramKey>,
}

impl<V> Default for Datagrams<V> {
    fn default() -> Self {
        Datagrams {
            // Twice what it holds: hashbrown grows a table more than half full once the
            // tombstones the oldest leave behind have used its free slots, and rehashes
            // a table less than half full in place.
            by_key: HashMap::with_capacity(2 * CAPACITY),
            order: VecDeque::with_capacity(CAPACITY),
        }
    }
}

impl<V: Copy> Datagrams<V> {
    /// Remembers `value` for `key`'s first fragment, seen at second `now`; the oldest
    /// datagram goes when all places are taken.
    pub fn note(&mut self, key: DatagramKey, value: V, now: u32) {
        let expires = now.saturating_add(TIMEOUT_SECONDS);
        if self.by_key.insert(key, (value, expires)).is_some() {
            // Noted again (a first fragment sent twice): its place in `order` stands.
            return;
        }
        if self.order.len() == CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                self.by_key.remove(&oldest);
            }
        }
        self.order.push_back(key);
    }

    /// What was noted for `key`'s first fragment, if it came within the timeout.
    pub fn find(&self, key: &DatagramKey, now: u32) -> Option<V> {
        self.by_key
            .get(key)
            .filter(|(_, expires)| now <= *expires)
            .map(|(value, _)| *value)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ident: u16) -> DatagramKey {
        DatagramKey {
            proto: 17,
            src: Ipv4Addr::new(10, 1, 1, 3),
            dst: Ipv4Addr::new(8, 8, 8, 8),
            ident,
        }
    }

    #[test]
    fn a_first_fragment_is_found_until_its_timeout_and_the_oldest_goes_first() {
        let mut f: Fragments = Datagrams::default();
        let first = |session| FirstFragment {
            session,
            generation: 0,
            side: Side::Inside,
        };
        f.note(key(1), first(7), 100);
        assert_eq!(f.find(&key(1), 102).map(|f| f.session), Some(7));
        assert_eq!(f.find(&key(1), 103), None, "past 2 s");
        assert_eq!(f.find(&key(2), 100), None);
        for ident in 2..=CAPACITY as u16 + 1 {
            f.note(key(ident), first(u32::from(ident)), 100);
        }
        assert_eq!(f.len(), CAPACITY);
        assert_eq!(f.find(&key(1), 100), None, "the oldest gave its place up");
        assert!(f.find(&key(2), 100).is_some());
    }

    /// Any sender can make first fragments with new identifiers: noting them for ever
    /// never grows the table (a reallocation and a rehash on a worker).
    #[test]
    fn endless_new_datagrams_never_grow_the_table() {
        let mut f: Datagrams<u32> = Datagrams::default();
        let bytes = f.by_key.allocation_size();
        for n in 0..500_000u32 {
            let key = DatagramKey {
                proto: 17,
                src: Ipv4Addr::from(0x0a00_0000 | (n >> 16)),
                dst: Ipv4Addr::new(8, 8, 8, 8),
                ident: n as u16,
            };
            f.note(key, n, 0);
            assert_eq!(f.by_key.allocation_size(), bytes, "after {n} datagrams");
        }
        assert_eq!(f.len(), CAPACITY);
    }
}
