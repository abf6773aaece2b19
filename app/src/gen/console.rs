//! The console grammar, shaped like testpmd's: one command per line.

use std::fmt;

use super::worker::Mode;

/// The ports a `show port stats` or `clear port stats` names: all, or one by its DPDK
/// port id, as testpmd's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortSelection {
    All,
    One(u16),
}

impl PortSelection {
    /// The indices into `ports` (the DPDK port ids the generator drives, in its order)
    /// that this names; testpmd's words for a port it does not drive.
    pub fn indices(self, ports: &[u16]) -> Result<Vec<usize>, String> {
        match self {
            PortSelection::All => Ok((0..ports.len()).collect()),
            PortSelection::One(id) => match ports.iter().position(|&p| p == id) {
                Some(index) => Ok(vec![index]),
                None => Err(format!("Invalid port {id}")),
            },
        }
    }
}

impl fmt::Display for PortSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSelection::All => f.write_str("all"),
            PortSelection::One(id) => write!(f, "{id}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Start,
    Stop,
    ShowPortStats(PortSelection),
    /// Zeroes what `show port stats` counts from; the run's figures keep counting.
    ClearPortStats(PortSelection),
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
  show port stats all|N  packets, bytes and rates per port (N: a port id)
  clear port stats all|N count 'show port stats' from zero (not the run's figures)
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
            Command::ShowPortStats(ports) => write!(f, "show port stats {ports}"),
            Command::ClearPortStats(ports) => write!(f, "clear port stats {ports}"),
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
    // Decimal fractions are inexact in binary: "1.005k" scales to 1004.9999999999999.
    let whole = scaled.round();
    (scale > 1
        && value.is_finite()
        && value >= 0.0
        && whole < u64::MAX as f64
        && (scaled - whole).abs() <= whole * 1e-9)
        .then_some(whole as u64)
}

/// What the console reads: a line, the end of its input, or an interrupt (Ctrl-C).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Line(String),
    End,
    Interrupt,
}

/// The command an input asks for. The end of input and an interrupt both quit as `quit`
/// does, printing the run: a script piped in ends so, and testpmd prints its figures
/// on SIGINT too rather than losing the run.
pub fn command_of(input: &Input) -> Result<Option<Command>, String> {
    match input {
        Input::Line(line) => parse(line),
        Input::End | Input::Interrupt => Ok(Some(Command::Quit)),
    }
}

/// What a command's effect depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Situation {
    pub mode: Mode,
    pub running: bool,
    /// `--new-flows`: every packet takes the next tuple of the whole tuple space.
    pub new_flows: bool,
}

/// The line to print instead of acting on `command`, when acting would change nothing:
/// a command that is accepted but ignored reads as if it had worked.
pub fn refusal(command: Command, now: Situation) -> Option<String> {
    let generates = matches!(now.mode, Mode::TxOnly | Mode::Pods);
    match command {
        // testpmd's words.
        Command::Start if now.running => Some("Packet forwarding already started".into()),
        Command::Stop if !now.running => Some("Packet forwarding not started".into()),
        Command::SetFlows(_) | Command::SetRate(_) if !generates => Some(format!(
            "error: {command}: {} mode sends no packets of its own",
            now.mode
        )),
        Command::SetFlows(_) if now.new_flows => Some(format!(
            "error: {command}: with --new-flows every packet opens the next flow of the \
             tuple space; there is no flow count to set"
        )),
        _ => None,
    }
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
        [verb @ ("show" | "clear"), "port", "stats", which] => {
            let ports = match *which {
                "all" => PortSelection::All,
                id => match id.parse() {
                    Ok(id) => PortSelection::One(id),
                    Err(_) => {
                        return Err(format!(
                            "{verb} port stats {id}: expected a port id or 'all'"
                        ))
                    }
                },
            };
            if *verb == "show" {
                Command::ShowPortStats(ports)
            } else {
                Command::ClearPortStats(ports)
            }
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
                "unknown command '{}' (known: start, stop, show port stats all|N, clear port stats all|N, show flows, set flows N, set rate PPS|max, help, quit)",
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
            (
                "show port stats all",
                Command::ShowPortStats(PortSelection::All),
            ),
            (
                "show port stats 1",
                Command::ShowPortStats(PortSelection::One(1)),
            ),
            (
                "clear port stats all",
                Command::ClearPortStats(PortSelection::All),
            ),
            (
                "clear port stats 0",
                Command::ClearPortStats(PortSelection::One(0)),
            ),
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
            parse("show port stats eth0"),
            Err("show port stats eth0: expected a port id or 'all'".into())
        );
        assert_eq!(
            parse("clear port stats -1"),
            Err("clear port stats -1: expected a port id or 'all'".into())
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
        assert_eq!(parse_count("0.5k"), Some(500));
        assert_eq!(parse_count("0k"), Some(0));
        assert_eq!(parse_count("-1k"), None);
        assert_eq!(parse_count("99999999999999999999k"), None);
        assert_eq!(parse_count("M"), None);
        assert_eq!(parse_count(""), None);
    }

    /// Decimals that are not exact in binary still give the count they name, and a
    /// real fraction is still refused.
    #[test]
    fn decimal_counts_round_off_float_error() {
        assert_eq!(parse_count("1.005k"), Some(1005));
        assert_eq!(parse_count("2.675M"), Some(2_675_000));
        assert_eq!(parse_count("0.3k"), Some(300));
        assert_eq!(parse_count("4.35G"), Some(4_350_000_000));
        assert_eq!(parse_count("1.0005k"), None);
        assert_eq!(parse_count("0.0001k"), None);
    }

    fn situation(mode: Mode, running: bool, new_flows: bool) -> Situation {
        Situation {
            mode,
            running,
            new_flows,
        }
    }

    #[test]
    fn start_while_running_says_so_as_testpmd_does() {
        let running = situation(Mode::Pods, true, false);
        assert_eq!(
            refusal(Command::Start, running),
            Some("Packet forwarding already started".into())
        );
        assert_eq!(
            refusal(Command::Start, situation(Mode::Pods, false, false)),
            None
        );
        assert_eq!(refusal(Command::Stop, running), None);
    }

    /// testpmd's `stop` when forwarding is not started.
    #[test]
    fn stop_when_stopped_says_so_as_testpmd_does() {
        for mode in [Mode::Pods, Mode::TxOnly, Mode::RxOnly, Mode::Io] {
            assert_eq!(
                refusal(Command::Stop, situation(mode, false, false)),
                Some("Packet forwarding not started".into())
            );
        }
    }

    /// A port is named by its DPDK port id, as in testpmd, whichever order the
    /// generator drives its ports in; one it does not drive is testpmd's invalid port.
    #[test]
    fn port_selection_by_dpdk_port_id() {
        let driven = [2, 0];
        assert_eq!(PortSelection::All.indices(&driven), Ok(vec![0, 1]));
        assert_eq!(PortSelection::One(0).indices(&driven), Ok(vec![1]));
        assert_eq!(PortSelection::One(2).indices(&driven), Ok(vec![0]));
        assert_eq!(
            PortSelection::One(1).indices(&driven),
            Err("Invalid port 1".into())
        );
    }

    /// Settings that would be accepted and change nothing are refused by name: the flow
    /// count with `--new-flows`, flows and rate where the generator sends nothing.
    #[test]
    fn settings_without_effect_are_refused() {
        let new_flows = situation(Mode::Pods, true, true);
        assert_eq!(
            refusal(Command::SetFlows(500), new_flows),
            Some(
                "error: set flows 500: with --new-flows every packet opens the next flow of \
                 the tuple space; there is no flow count to set"
                    .into()
            )
        );
        assert_eq!(refusal(Command::SetRate(1000), new_flows), None);
        for mode in [Mode::RxOnly, Mode::Io] {
            for running in [false, true] {
                let now = situation(mode, running, false);
                assert_eq!(
                    refusal(Command::SetRate(0), now),
                    Some(format!(
                        "error: set rate max: {mode} mode sends no packets of its own"
                    ))
                );
                assert!(refusal(Command::SetFlows(8), now).is_some());
                assert_eq!(refusal(Command::ShowFlows, now), None);
            }
        }
        for mode in [Mode::TxOnly, Mode::Pods] {
            let now = situation(mode, false, false);
            assert_eq!(refusal(Command::SetRate(1000), now), None);
            assert_eq!(refusal(Command::SetFlows(8), now), None);
        }
    }

    /// Ctrl-C and the end of input quit as `quit` does, which prints the run.
    #[test]
    fn interrupt_and_end_of_input_quit_with_the_run() {
        assert_eq!(command_of(&Input::Interrupt), Ok(Some(Command::Quit)));
        assert_eq!(command_of(&Input::End), Ok(Some(Command::Quit)));
        assert_eq!(
            command_of(&Input::Line("stop".into())),
            Ok(Some(Command::Stop))
        );
        assert_eq!(command_of(&Input::Line(" # ".into())), Ok(None));
    }
}
