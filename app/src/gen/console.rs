//! The console grammar, shaped like testpmd's: one command per line.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Start,
    Stop,
    ShowPortStats,
    ShowFlows,
    SetFlows(u64),
    /// Packets per second; 0 means as fast as it goes.
    SetRate(u64),
    Help,
    Quit,
}

pub const HELP: &str = "\
commands:
  start                  start sending (and checking)
  stop                   stop sending; print the run's figures
  show port stats all    packets, bytes and rates per port
  show flows             the flow set and the checker's counts
  set flows N            cycle over N established flows
  set rate PPS|max       fixed packets per second (k/M/G suffixes) or unlimited
  help                   this text
  quit                   stop and exit";

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Start => f.write_str("start"),
            Command::Stop => f.write_str("stop"),
            Command::ShowPortStats => f.write_str("show port stats all"),
            Command::ShowFlows => f.write_str("show flows"),
            Command::SetFlows(n) => write!(f, "set flows {n}"),
            Command::SetRate(0) => f.write_str("set rate max"),
            Command::SetRate(pps) => write!(f, "set rate {pps}"),
            Command::Help => f.write_str("help"),
            Command::Quit => f.write_str("quit"),
        }
    }
}

/// A count with an optional k/M/G suffix (powers of ten, as rates are quoted).
pub fn parse_count(text: &str) -> Option<u64> {
    let (digits, scale) = match text.char_indices().last()? {
        (at, 'k' | 'K') => (&text[..at], 1_000),
        (at, 'm' | 'M') => (&text[..at], 1_000_000),
        (at, 'g' | 'G') => (&text[..at], 1_000_000_000),
        _ => (text, 1),
    };
    if let Ok(n) = digits.parse::<u64>() {
        return n.checked_mul(scale);
    }
    // "1.5M": a decimal only makes sense with a suffix.
    let value: f64 = digits.parse().ok()?;
    let scaled = value * scale as f64;
    (scale > 1
        && value.is_finite()
        && value >= 0.0
        && scaled < u64::MAX as f64
        && scaled.fract() == 0.0)
        .then_some(scaled as u64)
}

/// Parses one console line; blank lines and `#` comments give `None`.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let words: Vec<&str> = line
        .split('#')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let command = match words.as_slice() {
        [] => return Ok(None),
        ["start"] => Command::Start,
        ["stop"] => Command::Stop,
        ["show", "port", "stats", "all"] => Command::ShowPortStats,
        ["show", "port", "stats", other] => {
            return Err(format!("show port stats {other}: only 'all' is supported"))
        }
        ["show", "flows"] => Command::ShowFlows,
        ["set", "flows", n] => match parse_count(n) {
            Some(n) if n > 0 => Command::SetFlows(n),
            _ => return Err(format!("set flows {n}: expected a positive count")),
        },
        ["set", "rate", "max"] => Command::SetRate(0),
        ["set", "rate", pps] => match parse_count(pps) {
            Some(pps) if pps > 0 => Command::SetRate(pps),
            _ => {
                return Err(format!(
                    "set rate {pps}: expected packets per second (e.g. 500000, 2.5M) or 'max'"
                ))
            }
        },
        ["set", what, ..] if !["flows", "rate"].contains(what) => {
            return Err(format!("set {what}: unknown setting (known: flows, rate)"))
        }
        ["set", what] => return Err(format!("set {what}: missing value")),
        ["help"] => Command::Help,
        ["quit" | "exit"] => Command::Quit,
        _ => {
            return Err(format!(
                "unknown command '{}' (known: start, stop, show port stats all, show flows, set flows N, set rate PPS, help, quit)",
                words.join(" ")
            ))
        }
    };
    Ok(Some(command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_parses_and_prints_back() {
        for (line, command) in [
            ("start", Command::Start),
            ("stop", Command::Stop),
            ("show port stats all", Command::ShowPortStats),
            ("show flows", Command::ShowFlows),
            ("set flows 1024", Command::SetFlows(1024)),
            ("set rate 500000", Command::SetRate(500_000)),
            ("set rate max", Command::SetRate(0)),
            ("help", Command::Help),
            ("quit", Command::Quit),
        ] {
            assert_eq!(parse(line), Ok(Some(command)), "{line}");
            assert_eq!(command.to_string(), line);
        }
        assert_eq!(
            parse("  set   rate 2.5M  # half"),
            Ok(Some(Command::SetRate(2_500_000)))
        );
        assert_eq!(parse("set flows 1k"), Ok(Some(Command::SetFlows(1000))));
        assert_eq!(parse("exit"), Ok(Some(Command::Quit)));
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("   # comment"), Ok(None));
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            parse("set rate fast"),
            Err("set rate fast: expected packets per second (e.g. 500000, 2.5M) or 'max'".into())
        );
        assert_eq!(
            parse("set rate 0"),
            Err("set rate 0: expected packets per second (e.g. 500000, 2.5M) or 'max'".into())
        );
        assert_eq!(
            parse("set flows 0"),
            Err("set flows 0: expected a positive count".into())
        );
        assert_eq!(
            parse("set burst 3"),
            Err("set burst: unknown setting (known: flows, rate)".into())
        );
        assert_eq!(parse("set rate"), Err("set rate: missing value".into()));
        assert_eq!(
            parse("show port stats 0"),
            Err("show port stats 0: only 'all' is supported".into())
        );
        assert!(parse("launch")
            .unwrap_err()
            .starts_with("unknown command 'launch'"));
    }

    #[test]
    fn counts_with_suffixes() {
        assert_eq!(parse_count("7"), Some(7));
        assert_eq!(parse_count("3k"), Some(3000));
        assert_eq!(parse_count("1.25M"), Some(1_250_000));
        assert_eq!(parse_count("2G"), Some(2_000_000_000));
        assert_eq!(parse_count("1.5"), None);
        assert_eq!(parse_count("-1k"), None);
        assert_eq!(parse_count("99999999999999999999k"), None);
        assert_eq!(parse_count("M"), None);
        assert_eq!(parse_count(""), None);
    }
}
