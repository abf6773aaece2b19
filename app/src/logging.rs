//! podfwd's logger: env_logger on stderr as before, and the last lines kept in memory for
//! `show logging`, in VPP's columns. Workers do not log per packet; a line costs a lock.

use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// How many lines `show logging` keeps (VPP's default log size is 512).
pub const KEPT_LINES: usize = 512;

/// One logged line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Since the epoch.
    pub at: std::time::Duration,
    pub level: log::Level,
    /// The log target (the module that logged).
    pub class: String,
    pub message: String,
}

/// The last [`KEPT_LINES`] lines, oldest first.
#[derive(Debug, Default)]
pub struct Ring {
    lines: Mutex<VecDeque<Entry>>,
    /// The level filter lines pass (`RUST_LOG`'s), said when none has yet.
    filter: String,
}

impl Ring {
    pub fn push(&self, entry: Entry) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == KEPT_LINES {
            lines.pop_front();
        }
        lines.push_back(entry);
    }

    /// `show logging`: VPP's `%U %-10s %-14s %v` lines (date and time in UTC); with none
    /// yet, a line that says so and what the filter keeps, rather than nothing.
    pub fn format(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.is_empty() {
            return format!(
                "no log lines yet at level {} (RUST_LOG sets it)\n",
                self.filter
            );
        }
        lines
            .iter()
            .map(|e| {
                format!(
                    "{} {:<10} {:<14} {}\n",
                    utc_timestamp(e.at),
                    vpp_level(e.level),
                    e.class,
                    e.message
                )
            })
            .collect()
    }
}

/// VPP's level names (syslog's).
fn vpp_level(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "err",
        log::Level::Warn => "warn",
        log::Level::Info => "info",
        log::Level::Debug | log::Level::Trace => "debug",
    }
}

/// `2026/11/29 05:30:01:123`, as VPP stamps its log.
pub fn utc_timestamp(at: std::time::Duration) -> String {
    let secs = at.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}/{month:02}/{day:02} {:02}:{:02}:{:02}:{:03}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        at.subsec_millis()
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

static RING: OnceLock<Ring> = OnceLock::new();

/// The lines kept since [`init`]; empty before.
pub fn recent() -> String {
    RING.get().map(Ring::format).unwrap_or_default()
}

struct RingLogger {
    stderr: env_logger::Logger,
    ring: &'static Ring,
}

impl log::Log for RingLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.stderr.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.stderr.matches(record) {
            return;
        }
        self.stderr.log(record);
        self.ring.push(Entry {
            at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
            level: record.level(),
            class: record.target().to_string(),
            message: record.args().to_string(),
        });
    }

    fn flush(&self) {
        self.stderr.flush();
    }
}

/// env_logger as `RUST_LOG` (default `default_filter`) sets it, on stderr, and kept for
/// `show logging`.
pub fn init(default_filter: &str) {
    let stderr =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_filter))
            .build();
    let max = stderr.filter();
    let ring = RING.get_or_init(|| Ring {
        filter: std::env::var("RUST_LOG").unwrap_or_else(|_| default_filter.to_owned()),
        ..Ring::default()
    });
    if log::set_boxed_logger(Box::new(RingLogger { stderr, ring })).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_vpps_utc_date_and_time() {
        assert_eq!(utc_timestamp(Duration::ZERO), "1970/01/01 00:00:00:000");
        // 2026-11-29 05:30:01.123 UTC.
        assert_eq!(
            utc_timestamp(Duration::from_millis(1_795_930_201_123)),
            "2026/11/29 05:30:01:123"
        );
        // A leap day, and the last second of a year.
        assert_eq!(
            utc_timestamp(Duration::from_secs(951_782_400)),
            "2000/02/29 00:00:00:000"
        );
        assert_eq!(
            utc_timestamp(Duration::from_secs(1_767_225_599)),
            "2025/12/31 23:59:59:000"
        );
    }

    #[test]
    fn the_ring_keeps_the_last_lines_in_vpps_columns() {
        let ring = Ring {
            filter: "warn".into(),
            ..Ring::default()
        };
        assert_eq!(
            ring.format(),
            "no log lines yet at level warn (RUST_LOG sets it)\n"
        );
        for n in 0..KEPT_LINES + 2 {
            ring.push(Entry {
                at: Duration::from_secs(n as u64),
                level: if n % 2 == 0 {
                    log::Level::Info
                } else {
                    log::Level::Error
                },
                class: "podfwd".into(),
                message: format!("line {n}"),
            });
        }
        let text = ring.format();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), KEPT_LINES);
        assert_eq!(
            lines[0],
            "1970/01/01 00:00:02:000 info       podfwd         line 2"
        );
        assert_eq!(
            lines[KEPT_LINES - 1],
            "1970/01/01 00:08:33:000 err        podfwd         line 513"
        );
    }
}
