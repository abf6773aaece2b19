//! The command line: `podfwd [EAL options] -- [app options]`.

use std::path::PathBuf;

use clap::Parser;

use crate::dpdk::mbuf::MAX_BURST;

/// The most NAT44 sessions a worker's table may hold: ~2 GiB of it at ~120 B each.
pub const MAX_NAT_SESSIONS: u32 = 1 << 24;

/// What `--help` adds after the app's options.
const EAL_HELP: &str = "EAL options are DPDK's own (-l CORES, --main-lcore N, --vdev DEVICE, \
    --no-pci, --no-huge, --file-prefix NAME, ...; see DPDK's EAL parameters guide): they go \
    before '--', the options above after it.";

/// App options, the part after `--`.
#[derive(Debug, Parser)]
#[command(
    name = "podfwd",
    version,
    about = "DPDK IPv4 forwarder for a Kubernetes node",
    override_usage = "podfwd [EAL options] -- [OPTIONS]",
    after_help = EAL_HELP
)]
pub struct AppOptions {
    /// Binds interface NAME to the EAL device DEVICE (net_pcap0, net_tap0, virtio_user0,
    /// ...); repeatable. Without it every port is an interface named after its device.
    #[arg(long = "iface", value_name = "NAME=DEVICE", value_parser = parse_binding)]
    pub ifaces: Vec<IfaceBinding>,
    /// A startup file of CLI lines, run before forwarding starts.
    #[arg(long, value_name = "FILE")]
    pub exec: Option<PathBuf>,
    /// The control socket podfwdctl talks to. Its directory must exist (podfwd creates
    /// only the default's); a socket a dead podfwd left there is replaced, any other file
    /// is refused.
    #[arg(long, value_name = "PATH", default_value = crate::control::DEFAULT_SOCKET)]
    pub socket: PathBuf,
    /// Packets per RX burst and TX flush (1..=256).
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = parse_burst)]
    pub burst: u16,
    /// NAT44 sessions each worker's table holds (1..=16777216, allocated at start:
    /// ~120 B each).
    #[arg(long, value_name = "N", default_value_t = 262_144,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_NAT_SESSIONS)))]
    pub nat_sessions: u32,
    /// Every packet takes the stages: no ip4-flow-cache, which otherwise forwards the
    /// packets of established flows from one lookup (to compare, or to rule it out).
    #[arg(long)]
    pub no_flow_cache: bool,
    /// Mbufs in the packet pool [default: sized from ports, queues and descriptors].
    #[arg(long, value_name = "N")]
    pub mbufs: Option<u32>,
    /// RX descriptors per queue (1..=32768; the driver rounds to what it supports).
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u16).range(1..=32768))]
    pub rxd: u16,
    /// TX descriptors per queue (1..=32768; the driver rounds to what it supports).
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u16).range(1..=32768))]
    pub txd: u16,
    /// Microseconds a worker sleeps after a pass over its queues that received nothing
    /// (VPP's `poll-sleep-usec`, as Contiv set it on VMs), 0..=1000000; 0, the default,
    /// polls without pause. Under load no pass is idle and no worker sleeps; a packet
    /// that arrives while one sleeps waits up to N us longer.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub poll_sleep_usec: u32,
}

/// `NAME=DEVICE` from `--iface`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceBinding {
    pub name: String,
    pub device: String,
}

fn parse_binding(text: &str) -> Result<IfaceBinding, String> {
    match text.split_once('=') {
        Some((name, device)) if !name.is_empty() && !device.is_empty() => Ok(IfaceBinding {
            name: name.to_owned(),
            device: device.to_owned(),
        }),
        _ => Err(format!(
            "'{text}': expected NAME=DEVICE, e.g. tap0=net_tap0"
        )),
    }
}

fn parse_burst(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(n) if (1..=MAX_BURST as u16).contains(&n) => Ok(n),
        _ => Err(format!("'{text}': burst must be 1..={MAX_BURST}")),
    }
}

/// The command line split at the first `--`: (program, EAL args, app args).
pub fn split_args(mut args: Vec<String>) -> (String, Vec<String>, Vec<String>) {
    let program = if args.is_empty() {
        "podfwd".to_owned()
    } else {
        args.remove(0)
    };
    match args.iter().position(|a| a == "--") {
        Some(at) => {
            let app = args.split_off(at + 1);
            args.pop();
            (program, args, app)
        }
        None => (program, args, Vec::new()),
    }
}

/// What a DPDK app's command line asks for, decided before the EAL starts.
#[derive(Debug)]
pub enum Startup<P = AppOptions> {
    /// `--help` or `--version`: print this and exit successfully.
    Print(String),
    /// Bring up the EAL with the arguments before `--`, then run with these options.
    Run(P),
}

/// Reads a DPDK app's command line, already split by [`split_args`], without starting
/// the EAL: `-h`/`--help` or `-V`/`--version` anywhere print the app's help or version
/// (EAL's `--help` would start the EAL first, probing PCI devices, and print only its
/// own options); the app's own long options before `--` are refused with a sentence
/// instead of EAL's "unrecognized option" and usage; then the app options are parsed,
/// so a bad one fails before any DPDK work. An error is the sentence to print. Shared by
/// podfwd and podfwd-gen.
pub fn parse_before_eal<P: Parser>(
    program: &str,
    eal_args: &[String],
    app_args: &[String],
) -> Result<Startup<P>, String> {
    let command = P::command();
    let all = || eal_args.iter().chain(app_args).map(String::as_str);
    if all().any(|a| a == "-h" || a == "--help") {
        return Ok(Startup::Print(command.clone().render_help().to_string()));
    }
    if all().any(|a| a == "-V" || a == "--version") {
        return Ok(Startup::Print(command.render_version()));
    }
    // Whole names only: none of the apps' long options is an EAL option (podfwd's
    // `--socket` is not EAL's `--socket-mem`, and getopt takes no ambiguous prefix).
    let app = command.get_name();
    if let Some(option) = eal_args.iter().find_map(|arg| {
        let name = arg.strip_prefix("--")?;
        let name = name.split_once('=').map_or(name, |(n, _)| n);
        command
            .get_arguments()
            .find_map(|a| a.get_long().filter(|long| *long == name))
    }) {
        return Err(format!(
            "--{option} is a {app} option: put {app}'s options after '--' (EAL options before it)"
        ));
    }
    P::try_parse_from(std::iter::once(program).chain(app_args.iter().map(String::as_str)))
        .map(Startup::Run)
        .map_err(|e| e.render().to_string().trim_end().to_owned())
}

/// podfwd's command line: [`parse_before_eal`] over [`AppOptions`].
pub fn parse_command_line(
    program: &str,
    eal_args: &[String],
    app_args: &[String],
) -> Result<Startup, String> {
    parse_before_eal::<AppOptions>(program, eal_args, app_args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_sessions_range() {
        let parse = |n: &str| AppOptions::try_parse_from(["podfwd", "--nat-sessions", n]);
        assert_eq!(parse("16777216").unwrap().nat_sessions, MAX_NAT_SESSIONS);
        for bad in ["0", "16777217", "4000000000"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(
                e.contains("--nat-sessions") && e.contains("1..=16777216"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn poll_sleep_is_off_unless_asked_and_at_most_a_second() {
        let parse = |args: &[&str]| AppOptions::try_parse_from([&["podfwd"], args].concat());
        assert_eq!(parse(&[]).unwrap().poll_sleep_usec, 0);
        assert_eq!(
            parse(&["--poll-sleep-usec", "1000000"])
                .unwrap()
                .poll_sleep_usec,
            1_000_000
        );
        for bad in ["1000001", "100us"] {
            let e = parse(&["--poll-sleep-usec", bad]).unwrap_err().to_string();
            assert!(e.contains("--poll-sleep-usec"), "{bad}: {e}");
        }
    }

    #[test]
    fn split_at_first_double_dash() {
        let args = ["podfwd", "-l", "0,1", "--", "--burst", "8", "--", "x"]
            .map(String::from)
            .to_vec();
        let (program, eal, app) = split_args(args);
        assert_eq!(program, "podfwd");
        assert_eq!(eal, ["-l", "0,1"]);
        assert_eq!(app, ["--burst", "8", "--", "x"]);
    }

    #[test]
    fn binding_needs_both_halves() {
        assert_eq!(
            parse_binding("tap0=net_tap0"),
            Ok(IfaceBinding {
                name: "tap0".into(),
                device: "net_tap0".into()
            })
        );
        assert!(parse_binding("tap0").is_err());
        assert!(parse_binding("=net_tap0").is_err());
        assert!(parse_binding("tap0=").is_err());
    }

    #[test]
    fn descriptor_counts_are_at_least_one() {
        for flag in ["--rxd", "--txd"] {
            let parse = |n: &str| AppOptions::try_parse_from(["podfwd", flag, n]);
            assert!(parse("1").is_ok());
            assert!(parse("32768").is_ok());
            for bad in ["0", "32769"] {
                let e = parse(bad).unwrap_err().to_string();
                assert!(
                    e.contains(flag) && e.contains("1..=32768"),
                    "{flag} {bad}: {e}"
                );
            }
        }
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    fn startup(eal: &[&str], app: &[&str]) -> Result<Startup, String> {
        parse_command_line("podfwd", &strings(eal), &strings(app))
    }

    #[test]
    fn help_anywhere_prints_the_apps_help_and_the_eal_line() {
        for (eal, app) in [
            (&["--help"][..], &[][..]),
            (&["-l", "0,1", "-h"], &["--burst", "8"]),
            (&[], &["--help"]),
            (&["--no-pci"], &["--iface", "up0=net_null0", "-h"]),
        ] {
            let Ok(Startup::Print(text)) = startup(eal, app) else {
                panic!("{eal:?} -- {app:?}: no help");
            };
            assert!(text.contains("--iface <NAME=DEVICE>"), "{text}");
            assert!(text.contains("podfwd [EAL options] -- [OPTIONS]"), "{text}");
            assert!(
                text.contains("they go before '--', the options above after it"),
                "{text}"
            );
        }
    }

    #[test]
    fn version_anywhere_prints_the_version() {
        for (eal, app) in [(&["--version"][..], &[][..]), (&[], &["-V"])] {
            let Ok(Startup::Print(text)) = startup(eal, app) else {
                panic!("{eal:?} -- {app:?}: no version");
            };
            assert_eq!(text, format!("podfwd {}\n", env!("CARGO_PKG_VERSION")));
        }
    }

    #[test]
    fn app_options_before_the_separator_are_named() {
        let expected = |name: &str| {
            format!(
                "--{name} is a podfwd option: put podfwd's options after '--' (EAL options before it)"
            )
        };
        assert_eq!(
            startup(&["-l", "0,1", "--iface", "up0=net_tap0"], &[]).unwrap_err(),
            expected("iface")
        );
        assert_eq!(
            startup(&["--socket=/tmp/x.sock", "--no-pci"], &["--burst", "8"]).unwrap_err(),
            expected("socket")
        );
        // Every long option clap knows, not a list kept by hand.
        for name in [
            "exec",
            "burst",
            "nat-sessions",
            "no-flow-cache",
            "mbufs",
            "rxd",
            "txd",
            "poll-sleep-usec",
        ] {
            assert_eq!(
                startup(&[&format!("--{name}")], &[]).unwrap_err(),
                expected(name)
            );
        }
        // EAL's own options, including those that start like podfwd's, pass through.
        let eal = [
            "-l",
            "0,1",
            "--socket-mem",
            "64",
            "--no-pci",
            "--file-prefix",
            "x",
        ];
        let Ok(Startup::Run(options)) = startup(&eal, &["--iface", "up0=net_tap0"]) else {
            panic!("EAL options refused");
        };
        assert_eq!(options.ifaces.len(), 1);
    }

    #[test]
    fn bad_app_option_fails_before_the_eal() {
        let e = startup(&["-l", "0,1"], &["--burst", "0"]).unwrap_err();
        assert!(e.contains("'0': burst must be 1..=256"), "{e}");
    }

    #[test]
    fn burst_range() {
        assert_eq!(parse_burst("256"), Ok(256));
        assert!(parse_burst("0").is_err());
        assert!(parse_burst("257").is_err());
    }
}
