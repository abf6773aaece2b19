//! Latency samples in TSC cycles: exact min and max, and a fixed log-linear histogram
//! for quantiles. Recording is a few integer operations and one increment; nothing is
//! allocated after construction.
//!
//! Buckets: values below 2·SUB are exact; above, each power of two is split into SUB
//! equal sub-buckets, so a quantile is off by less than 1/SUB (6.25 %) of its value.

const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
/// Enough groups for every u64 value.
const BUCKETS: usize = (64 - SUB_BITS as usize) * SUB + SUB;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    samples: u64,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

fn bucket_of(value: u64) -> usize {
    if value < (2 * SUB) as u64 {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros();
    let sub = ((value >> (exponent - SUB_BITS)) as usize) & (SUB - 1);
    (exponent - SUB_BITS) as usize * SUB + SUB + sub
}

/// The smallest value of a bucket and the bucket's width.
fn bucket_range(bucket: usize) -> (u64, u64) {
    if bucket < 2 * SUB {
        return (bucket as u64, 1);
    }
    let group = (bucket - SUB) / SUB;
    let sub = ((bucket - SUB) % SUB) as u64;
    let exponent = group as u32 + SUB_BITS;
    let width = 1u64 << (exponent - SUB_BITS);
    ((1u64 << exponent) + sub * width, width)
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: Box::new([0; BUCKETS]),
            samples: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    pub fn record(&mut self, value: u64) {
        if let Some(count) = self.counts.get_mut(bucket_of(value)) {
            *count += 1;
        }
        self.samples += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }

    pub fn samples(&self) -> u64 {
        self.samples
    }

    pub fn min(&self) -> Option<u64> {
        (self.samples > 0).then_some(self.min)
    }

    pub fn max(&self) -> Option<u64> {
        (self.samples > 0).then_some(self.max)
    }

    /// The value below which a fraction `q` (0..=1) of the samples lie: the middle of
    /// the bucket holding that rank, kept within [min, max].
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.samples == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.samples as f64).ceil() as u64).max(1);
        // The extremes are known exactly; the buckets would only blur them.
        if rank == 1 {
            return Some(self.min);
        }
        if rank >= self.samples {
            return Some(self.max);
        }
        let mut seen = 0;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, width) = bucket_range(bucket);
                return Some((low + (width - 1) / 2).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.samples += other.samples;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn clear(&mut self) {
        *self = Histogram::new();
    }
}

/// Cycles to nanoseconds at `tsc_hz`.
pub fn cycles_to_ns(cycles: u64, tsc_hz: u64) -> u64 {
    if tsc_hz == 0 {
        return 0;
    }
    (u128::from(cycles) * 1_000_000_000 / u128::from(tsc_hz)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        let mut previous = 0;
        for value in (0..5000u64).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let bucket = bucket_of(value);
            assert!(bucket < BUCKETS, "{value}");
            assert!(bucket >= previous, "{value}");
            previous = bucket;
            let (low, width) = bucket_range(bucket);
            assert!(
                low <= value && value - low < width,
                "{value} in {low}+{width}"
            );
        }
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in [3, 1, 2, 5, 4] {
            h.record(v);
        }
        assert_eq!(h.samples(), 5);
        assert_eq!(h.min(), Some(1));
        assert_eq!(h.max(), Some(5));
        assert_eq!(h.quantile(0.5), Some(3));
        assert_eq!(h.quantile(0.0), Some(1));
        assert_eq!(h.quantile(1.0), Some(5));
    }

    #[test]
    fn quantiles_within_one_sixteenth() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v * 10);
        }
        for (q, exact) in [(0.5, 500_000.0), (0.99, 990_000.0), (0.999, 999_000.0)] {
            let got = h.quantile(q).unwrap() as f64;
            assert!(
                (got - exact).abs() / exact < 1.0 / 16.0,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!(h.max(), Some(1_000_000));
        assert_eq!(h.quantile(1.0), Some(1_000_000));
    }

    #[test]
    fn empty_has_no_figures_and_merge_adds() {
        let mut a = Histogram::new();
        assert_eq!((a.min(), a.max(), a.quantile(0.5)), (None, None, None));
        let mut b = Histogram::new();
        b.record(100);
        b.record(7);
        a.record(50);
        a.merge(&b);
        assert_eq!((a.samples(), a.min(), a.max()), (3, Some(7), Some(100)));
        assert_eq!(a.quantile(0.5), Some(50));
        a.clear();
        assert_eq!(a.samples(), 0);
    }

    #[test]
    fn converts_cycles_at_tsc_rate() {
        assert_eq!(cycles_to_ns(2_596_000_000, 2_596_000_000), 1_000_000_000);
        assert_eq!(cycles_to_ns(2596, 2_596_000_000), 1000);
        assert_eq!(cycles_to_ns(u64::MAX, 1_000_000_000), u64::MAX);
        assert_eq!(cycles_to_ns(5, 0), 0);
    }
}
