//! The packet buffer a stage works on.
//!
//! The app implements [`PacketBuf`] over a single-segment `rte_mbuf`; tests use
//! [`TestBuf`]. Stages only see bytes, so they run the same over both.

/// One packet's bytes, starting at the Ethernet header.
pub trait PacketBuf {
    /// The frame as received (or as rewritten so far).
    fn data(&self) -> &[u8];
    /// The frame, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Sets the frame length. Shrinking always works; growing works up to
    /// [`PacketBuf::capacity`] and exposes whatever bytes were there. Returns false, and
    /// changes nothing, past capacity.
    fn set_len(&mut self, len: usize) -> bool;
    /// The longest frame this buffer can hold.
    fn capacity(&self) -> usize;
}

/// Room of a test buffer: an mbuf's default data room less its headroom.
pub const TEST_BUF_CAPACITY: usize = 2048;

/// A heap buffer with mbuf-like capacity, for tests and benchmarks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestBuf {
    bytes: Vec<u8>,
    len: usize,
}

impl TestBuf {
    /// A buffer holding `frame`; panics if the frame exceeds [`TEST_BUF_CAPACITY`], which
    /// only a test can do.
    pub fn new(frame: &[u8]) -> Self {
        assert!(frame.len() <= TEST_BUF_CAPACITY, "test frame too long");
        let mut bytes = vec![0u8; TEST_BUF_CAPACITY];
        bytes[..frame.len()].copy_from_slice(frame);
        TestBuf {
            bytes,
            len: frame.len(),
        }
    }
}

impl PacketBuf for TestBuf {
    #[inline]
    fn data(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }
    fn set_len(&mut self, len: usize) -> bool {
        if len > self.bytes.len() {
            return false;
        }
        self.len = len;
        true
    }
    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_len_grows_within_capacity_only() {
        let mut b = TestBuf::new(&[1, 2, 3]);
        assert!(b.set_len(10));
        assert_eq!(b.data().len(), 10);
        assert!(!b.set_len(TEST_BUF_CAPACITY + 1));
        assert_eq!(b.data().len(), 10);
        assert!(b.set_len(2));
        assert_eq!(b.data(), &[1, 2]);
    }
}
