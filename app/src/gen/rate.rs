//! Pacing: how many packets may go now to hold a fixed packets-per-second rate, or
//! any number when the rate is unlimited. Works in TSC cycles; called once per burst.

/// Bursts of credit the bucket holds at most. One is not enough: the worker's loop time
/// varies (a pass that also receives and answers bursts takes longer than one that
/// only sends), and credit beyond one burst earned in a long pass would be lost, so the
/// rate would fall short of the target. A few bursts carry it to the next short passes,
/// while a real pause (a descheduled lcore) is still made up for with at most that many.
const BACKLOG_BURSTS: u64 = 4;

/// A token bucket refilled at `pps`, holding at most [`BACKLOG_BURSTS`] bursts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimiter {
    /// Packets per second; 0 means as fast as it goes.
    pps: u64,
    tsc_hz: u64,
    burst: u64,
    /// Accumulated credit in packet·cycles (one packet is worth tsc_hz of it).
    credit: u128,
    last_tsc: u64,
}

impl RateLimiter {
    pub fn new(pps: u64, tsc_hz: u64, burst: usize, now: u64) -> RateLimiter {
        RateLimiter {
            pps,
            tsc_hz: tsc_hz.max(1),
            burst: burst.max(1) as u64,
            credit: 0,
            last_tsc: now,
        }
    }

    pub fn pps(&self) -> u64 {
        self.pps
    }

    /// Changes the rate from `now` on; earlier credit is dropped.
    pub fn set_pps(&mut self, pps: u64, now: u64) {
        self.pps = pps;
        self.credit = 0;
        self.last_tsc = now;
    }

    /// How many packets (at most `wanted`) may be sent at `now`. Call
    /// [`RateLimiter::spent`] with how many actually went.
    pub fn permits(&mut self, now: u64, wanted: usize) -> usize {
        if self.pps == 0 {
            return wanted;
        }
        let elapsed = now.saturating_sub(self.last_tsc);
        self.last_tsc = now;
        let cap = u128::from(self.burst * BACKLOG_BURSTS) * u128::from(self.tsc_hz);
        self.credit = (self.credit + u128::from(elapsed) * u128::from(self.pps)).min(cap);
        let whole = (self.credit / u128::from(self.tsc_hz)) as usize;
        whole.min(wanted)
    }

    /// Takes `sent` packets off the credit.
    pub fn spent(&mut self, sent: usize) {
        if self.pps != 0 {
            self.credit = self
                .credit
                .saturating_sub(sent as u128 * u128::from(self.tsc_hz));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HZ: u64 = 1_000_000;

    #[test]
    fn unlimited_always_permits_what_is_wanted() {
        let mut r = RateLimiter::new(0, HZ, 32, 0);
        assert_eq!(r.permits(0, 32), 32);
        r.spent(32);
        assert_eq!(r.permits(0, 32), 32);
    }

    #[test]
    fn fixed_rate_over_a_simulated_second() {
        // 1000 pps at a 1 MHz clock: one packet per 1000 cycles.
        let mut r = RateLimiter::new(1000, HZ, 32, 0);
        let mut sent = 0;
        for now in (0..=HZ).step_by(100) {
            let n = r.permits(now, 32);
            r.spent(n);
            sent += n;
        }
        assert_eq!(sent, 1000);
    }

    #[test]
    fn fractional_rates_accumulate() {
        // 3 pps: the credit crosses one packet every third of a second.
        let mut r = RateLimiter::new(3, HZ, 32, 0);
        let mut sent = 0;
        for now in (0..=HZ).step_by(1000) {
            let n = r.permits(now, 1);
            r.spent(n);
            sent += n;
        }
        assert_eq!(sent, 3);
    }

    #[test]
    fn a_pause_gives_at_most_the_backlog() {
        let mut r = RateLimiter::new(1_000_000, HZ, 32, 0);
        assert_eq!(r.permits(10 * HZ, 1000), 128);
        r.spent(128);
        assert_eq!(r.permits(10 * HZ, 1000), 0);
    }

    /// Loop times alternating 20 and 580 cycles (300 on average): a long pass earns 58
    /// packets at 100k pps, more than the burst of 32 it may send, and the next short
    /// pass sends the rest, so the second averages to the target.
    #[test]
    fn uneven_loop_times_still_average_to_the_rate() {
        let mut r = RateLimiter::new(100_000, HZ, 32, 0);
        let (mut now, mut sent) = (0, 0);
        for gap in [20, 580].into_iter().cycle() {
            now += gap;
            if now > HZ {
                break;
            }
            let n = r.permits(now, 32);
            r.spent(n);
            sent += n;
        }
        assert!((98_000..=100_000).contains(&sent), "{sent}");
    }

    #[test]
    fn unsent_permits_stay_as_credit_and_rate_changes_reset() {
        let mut r = RateLimiter::new(1000, HZ, 32, 0);
        assert_eq!(r.permits(10_000, 32), 10);
        r.spent(4);
        assert_eq!(r.permits(10_000, 32), 6);
        r.set_pps(0, 10_000);
        assert_eq!(r.permits(10_000, 32), 32);
        r.set_pps(2000, 10_000);
        assert_eq!(r.permits(10_000, 32), 0);
        assert_eq!(r.permits(11_000, 32), 2);
        assert_eq!(r.pps(), 2000);
    }
}
