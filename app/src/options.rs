//! The command line: `podfwd [EAL options] -- [app options]`.

use std::path::PathBuf;

use clap::Parser;

use crate::dpdk::mbuf::MAX_BURST;

/// The most NAT44 sessions a worker's table may hold: ~2 GiB of it at ~120 B each.
pub const MAX_NAT_SESSIONS: u32 = 1 << 24;

/// App options, the part after `--`.
#[derive(Debug, Parser)]
#[command(
    name = "podfwd",
    about = "DPDK IPv4 forwarder for a Kubernetes node",
    override_usage = "podfwd [EAL options] -- [OPTIONS]"
)]
pub struct AppOptions {
    /// Binds interface NAME to the EAL device DEVICE (net_pcap0, net_tap0, virtio_user0,
    /// ...); repeatable. Without it every port is an interface named after its device.
    #[arg(long = "iface", value_name = "NAME=DEVICE", value_parser = parse_binding)]
    pub ifaces: Vec<IfaceBinding>,
    /// A startup file of CLI lines, run before forwarding starts.
    #[arg(long, value_name = "FILE")]
    pub exec: Option<PathBuf>,
    /// The control socket podfwdctl talks to.
    #[arg(long, value_name = "PATH", default_value = "/run/podfwd/cli.sock")]
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

    #[test]
    fn burst_range() {
        assert_eq!(parse_burst("256"), Ok(256));
        assert!(parse_burst("0").is_err());
        assert!(parse_burst("257").is_err());
    }
}
