//! `podfwd-gen [EAL options] -- [options]`: the part after `--`.

use clap::Parser;
use podfwd::types::MacAddr;

use super::console::parse_count;
use super::flows::{AddrRange, FlowSpec, PortRange, Protocol, Service};
use super::worker::Mode;
use crate::dpdk::mbuf::MAX_BURST;

/// What `--help` adds after the generator's options.
const EAL_HELP: &str = "EAL options are DPDK's own (-l CORES, --main-lcore N, --vdev DEVICE, \
    --no-pci, --no-huge, --file-prefix NAME, ...; see DPDK's EAL parameters guide): they go \
    before '--', the options above after it. Without --duration the generator reads \
    testpmd-style commands on stdin (type 'help').";

/// The service without `--service`: the seed's VIP and its endpoint in the host stack
/// (`--help` names it too).
pub const DEFAULT_SERVICE: &str = "10.104.221.85:80=10.20.0.2:8080";

#[derive(Debug, Parser)]
#[command(
    name = "podfwd-gen",
    version,
    about = "A testpmd-style traffic generator for pods and services",
    override_usage = "podfwd-gen [EAL options] -- [OPTIONS]",
    after_help = EAL_HELP
)]
pub struct GenOptions {
    /// txonly | rxonly | io | pods (port 0 plays the client pods, port 1 the endpoints).
    #[arg(long, default_value = "pods", value_parser = str::parse::<Mode>)]
    pub mode: Mode,
    /// EAL device names of the ports to drive, in order [default: every port].
    #[arg(long = "port", value_name = "DEVICE")]
    pub ports: Vec<String>,
    /// Pods mode: requests in flight at most (0 = unlimited), so that full rate means
    /// as fast as the forwarder answers [default: 1024].
    #[arg(long)]
    pub window: Option<u64>,
    /// Client pod addresses, A or A-B.
    #[arg(long, default_value = "10.1.1.3", value_parser = str::parse::<AddrRange>)]
    pub clients: AddrRange,
    /// Client source ports, P or P-Q.
    #[arg(long, default_value = "1024-65535", value_parser = str::parse::<PortRange>)]
    pub client_ports: PortRange,
    /// A service, VIP:PORT[=EP:PORT[+EP:PORT...]]; repeatable. Without endpoints the
    /// VIP is its own endpoint (no NAT in the path). Without the option: the seed's
    /// service [default: 10.104.221.85:80=10.20.0.2:8080].
    #[arg(long = "service", value_name = "SERVICE", value_parser = str::parse::<Service>)]
    pub services: Vec<Service>,
    /// udp | tcp-syn | tcp-data.
    #[arg(long, default_value = "udp", value_parser = str::parse::<Protocol>)]
    pub proto: Protocol,
    /// Frame size on the wire, FCS included (64..=1518).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Established flows to cycle over [default: 1024].
    #[arg(long, value_parser = parse_positive)]
    pub flows: Option<u64>,
    /// Every packet opens a new flow (the next tuple of clients x client ports). With
    /// tcp-syn, a client answers each SYN-ACK with an RST that closes the connection.
    #[arg(long)]
    pub new_flows: bool,
    /// One packet in N opens a new flow (the next client tuple past the established
    /// flows), the others cycle over the established flows: traffic that mixes new
    /// connections with established ones (udp or tcp-data).
    #[arg(long, value_name = "N", value_parser = parse_every)]
    pub new_flow_every: Option<u64>,
    /// The forwarder source-NATs the requests (its output feature on the endpoints'
    /// side): a request from an address that is no client's is then checked against every
    /// service's endpoints. Without it, such a request is a mistranslation.
    #[arg(long)]
    pub snat: bool,
    /// Packets per second (k/M/G suffixes), or max: in all, shared evenly by the ports
    /// txonly sends from.
    #[arg(long, default_value = "max", value_parser = parse_rate)]
    pub rate: u64,
    /// Source MAC of the client pods [default: the client port's MAC].
    #[arg(long, value_parser = str::parse::<MacAddr>)]
    pub client_mac: Option<MacAddr>,
    /// Destination MAC of the requests: the forwarder's port that faces the pods.
    #[arg(long, default_value = "02:fe:16:3f:5f:0f", value_parser = str::parse::<MacAddr>)]
    pub gateway_mac: MacAddr,
    /// Packets per RX burst and TX burst (1..=256).
    #[arg(long, default_value_t = 32, value_parser = parse_burst)]
    pub burst: usize,
    /// Mbufs in the pool [default: sized from ports and descriptors].
    #[arg(long)]
    pub mbufs: Option<u32>,
    /// RX descriptors per queue (1..=32768; the driver rounds to what it supports).
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u16).range(1..=32768))]
    pub rxd: u16,
    /// TX descriptors per queue (1..=32768; the driver rounds to what it supports).
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u16).range(1..=32768))]
    pub txd: u16,
    /// Batch mode: start at once, run this many seconds, print the figures, exit.
    #[arg(long, value_name = "SECONDS", value_parser = seconds_in(MIN_DURATION, MAX_DURATION))]
    pub duration: Option<f64>,
    /// Batch mode (needs --duration) prints one JSON object instead of text. Its counts
    /// take the drain after stop too; its rates are what was counted by stop over
    /// `seconds`.
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait for every port's link (a vhost port is down until its peer connects).
    #[arg(long, default_value_t = 10.0, value_parser = seconds_in(0.0, 3600.0))]
    pub wait_link: f64,
    /// Batch mode (needs --duration): seconds to let the peer settle after the links come
    /// up, before the run starts [default: 1].
    #[arg(long, value_parser = seconds_in(0.0, 60.0))]
    pub start_delay: Option<f64>,
    /// Batch mode (needs --duration): before the start delay, wait (up to 120 s) until
    /// this path exists, e.g. the control socket podfwd creates once its startup file
    /// has been applied.
    #[arg(long, value_name = "PATH")]
    pub wait_for: Option<std::path::PathBuf>,
    /// Milliseconds replies may still arrive after stop before they count as lost
    /// (0..=10000). They count in the totals, not in the rates, which are over the
    /// sending time.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub drain_ms: u64,
    /// Print the first N mistranslated frames to stderr as they arrive (which check
    /// failed, the side, the frame's first 64 bytes in hex), to see what the forwarder
    /// got wrong.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub show_mistranslated: u32,
}

fn parse_positive(text: &str) -> Result<u64, String> {
    match parse_count(text) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "'{text}': expected a positive count (k/M suffixes allowed)"
        )),
    }
}

/// The shortest and longest batch run: a year keeps every deadline the generator computes
/// from it far from `Instant`'s limits.
const MIN_DURATION: f64 = 0.001;
const MAX_DURATION: f64 = 365.0 * 86_400.0;

/// A number of seconds within `min..=max` (not NaN, not infinite).
fn seconds_in(min: f64, max: f64) -> impl Fn(&str) -> Result<f64, String> + Clone {
    move |text| match text.parse::<f64>() {
        Ok(s) if (min..=max).contains(&s) => Ok(s),
        _ => Err(format!("'{text}': expected seconds in {min}..={max}")),
    }
}

/// `--new-flow-every N`: one packet in N opens a flow, so N is 2 or more (1 is
/// `--new-flows`).
fn parse_every(text: &str) -> Result<u64, String> {
    match parse_count(text) {
        Some(n) if n >= 2 => Ok(n),
        _ => Err(format!(
            "'{text}': expected 2 or more (one packet in N opens a flow; every packet: --new-flows)"
        )),
    }
}

fn parse_rate(text: &str) -> Result<u64, String> {
    if text == "max" {
        return Ok(0);
    }
    parse_positive(text)
        .map_err(|_| format!("'{text}': expected packets per second (e.g. 500000, 2.5M) or max"))
}

fn parse_burst(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_BURST).contains(&n) => Ok(n),
        _ => Err(format!("'{text}': burst must be 1..={MAX_BURST}")),
    }
}

/// What the generator's command line asks for, decided before the EAL starts.
pub type Startup = crate::options::Startup<GenOptions>;

/// [`crate::options::parse_before_eal`] for the generator, with the options that only make sense
/// together checked too.
pub fn parse_command_line(
    program: &str,
    eal_args: &[String],
    app_args: &[String],
) -> Result<Startup, String> {
    let startup = crate::options::parse_before_eal::<GenOptions>(program, eal_args, app_args)?;
    if let Startup::Run(options) = &startup {
        options.check_batch_options()?;
        options.check_mode_options()?;
    }
    Ok(startup)
}

/// Established flows without `--flows`.
const DEFAULT_FLOWS: u64 = 1024;
/// Requests in flight without `--window`.
const DEFAULT_WINDOW: u64 = 1024;

impl GenOptions {
    /// Options the mode would ignore are refused, as the console refuses `set rate` in
    /// rxonly: a run that echoes a rate it never applied misleads.
    fn check_mode_options(&self) -> Result<(), String> {
        let given = [
            ("--rate", self.rate != 0),
            ("--flows", self.flows.is_some()),
            ("--new-flows", self.new_flows),
            ("--new-flow-every", self.new_flow_every.is_some()),
            ("--window", self.window.is_some()),
            ("--snat", self.snat),
        ];
        // What each mode acts on: rxonly and io send nothing of their own; txonly
        // receives nothing, so it has no window and no endpoint side.
        let ignored: &[&str] = match self.mode {
            Mode::RxOnly | Mode::Io => &[
                "--rate",
                "--flows",
                "--new-flows",
                "--new-flow-every",
                "--window",
                "--snat",
            ],
            Mode::TxOnly => &["--window", "--snat"],
            Mode::Pods => &[],
        };
        if let Some((option, _)) = given
            .iter()
            .find(|(option, on)| *on && ignored.contains(option))
        {
            let why = match self.mode {
                Mode::TxOnly => "receives nothing (pods mode has replies)",
                _ => "sends no packets of its own",
            };
            return Err(format!(
                "{option} with --mode {}: {} {why}",
                self.mode, self.mode
            ));
        }
        if self.new_flows && self.flows.is_some() {
            return Err(
                "--flows with --new-flows: every packet opens a new flow, none is established"
                    .into(),
            );
        }
        Ok(())
    }

    /// Pods mode's requests in flight at most (0 = unlimited).
    pub fn window(&self) -> u64 {
        self.window.unwrap_or(DEFAULT_WINDOW)
    }

    /// Options that only a batch run (`--duration`) acts on are refused without it,
    /// rather than ignored: the console prints text, and starts on `start`.
    fn check_batch_options(&self) -> Result<(), String> {
        if self.duration.is_some() {
            return Ok(());
        }
        if self.json {
            return Err(
                "--json needs --duration: only a batch run prints JSON (the console prints text)"
                    .into(),
            );
        }
        if self.wait_for.is_some() {
            return Err("--wait-for needs --duration: it delays a batch run's start (the console starts on 'start')".into());
        }
        if self.start_delay.is_some() {
            return Err("--start-delay needs --duration: it delays a batch run's start (the console starts on 'start')".into());
        }
        Ok(())
    }

    /// Seconds a batch run waits after the links come up before it starts.
    pub fn start_delay(&self) -> f64 {
        self.start_delay.unwrap_or(1.0)
    }

    /// The flow spec the options describe, validated (the seed's service,
    /// [`DEFAULT_SERVICE`], where none is given).
    pub fn flow_spec(&self) -> Result<FlowSpec, String> {
        let services = if self.services.is_empty() {
            vec![DEFAULT_SERVICE.parse::<Service>()?]
        } else {
            self.services.clone()
        };
        let spec = FlowSpec {
            clients: self.clients,
            client_ports: self.client_ports,
            services,
            protocol: self.proto,
            wire_size: self.size,
            flows: self.flows.unwrap_or(DEFAULT_FLOWS),
            new_flows: self.new_flows,
            new_every: self.new_flow_every.unwrap_or(0),
            snat: self.snat,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// How many ports the mode needs at least.
    pub fn ports_needed(&self) -> usize {
        match self.mode {
            Mode::Pods => 2,
            Mode::TxOnly | Mode::RxOnly | Mode::Io => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<GenOptions, String> {
        GenOptions::try_parse_from(std::iter::once("podfwd-gen").chain(args.iter().copied()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn help_names_the_default_service() {
        use clap::CommandFactory;
        let help = GenOptions::command().render_long_help().to_string();
        assert!(help.contains(DEFAULT_SERVICE), "{help}");
    }

    #[test]
    fn defaults_describe_the_seed_service() {
        let options = parse(&[]).unwrap();
        assert_eq!(options.mode, Mode::Pods);
        assert_eq!(options.rate, 0);
        let spec = options.flow_spec().unwrap();
        assert_eq!(
            spec.services[0].to_string(),
            "10.104.221.85:80=10.20.0.2:8080"
        );
        assert_eq!(
            (spec.flows, spec.wire_size, spec.protocol),
            (1024, 64, Protocol::Udp)
        );
        assert_eq!(options.ports_needed(), 2);
    }

    #[test]
    fn full_command_line() {
        let options = parse(&[
            "--mode",
            "txonly",
            "--port",
            "net_vhost0",
            "--clients",
            "10.1.1.2-10.1.1.9",
            "--client-ports",
            "2000-2999",
            "--service",
            "10.96.0.1:80=10.20.0.2:8080+10.20.0.3:8080",
            "--service",
            "10.96.0.2:53",
            "--proto",
            "tcp-syn",
            "--size",
            "128",
            "--flows",
            "4k",
            "--new-flows",
            "--rate",
            "2.5M",
            "--gateway-mac",
            "02:00:00:00:00:09",
            "--duration",
            "3",
            "--json",
            "--burst",
            "64",
        ])
        .unwrap();
        assert_eq!(options.mode, Mode::TxOnly);
        assert_eq!(options.ports, ["net_vhost0"]);
        assert_eq!(
            (options.rate, options.burst, options.json),
            (2_500_000, 64, true)
        );
        let spec = options.flow_spec().unwrap();
        assert_eq!(
            (spec.tuple_space(), spec.flows, spec.new_flows),
            (8000, 4000, true)
        );
        assert_eq!(spec.services.len(), 2);
    }

    #[test]
    fn bad_values_are_named() {
        assert!(parse(&["--mode", "fwd"])
            .unwrap_err()
            .contains("mode 'fwd': expected txonly, rxonly, io or pods"));
        assert!(parse(&["--rate", "0"])
            .unwrap_err()
            .contains("'0': expected packets per second"));
        assert!(parse(&["--burst", "300"])
            .unwrap_err()
            .contains("burst must be 1..=256"));
        // As podfwd's: no queue without descriptors.
        for flag in ["--rxd", "--txd"] {
            assert!(parse(&[flag, "0"])
                .unwrap_err()
                .contains("0 is not in 1..=32768"));
        }
        let too_many = parse(&[
            "--clients",
            "10.0.0.1",
            "--client-ports",
            "1-10",
            "--flows",
            "11",
        ])
        .unwrap();
        assert_eq!(
            too_many.flow_spec(),
            Err("flows 11: only 10 client tuples (1 addresses x 10 ports)".into())
        );
        let tiny = parse(&["--size", "60"]).unwrap();
        assert!(tiny.flow_spec().unwrap_err().starts_with("packet size 60"));
        // Seconds that would overflow a deadline, or are not numbers, are refused by
        // name rather than panicking later.
        for (option, value) in [
            ("--duration", "0"),
            ("--duration", "1e19"),
            ("--duration", "inf"),
            ("--start-delay", "nan"),
            ("--start-delay", "61"),
            ("--wait-link", "inf"),
            ("--wait-link", "-1"),
        ] {
            let e = parse(&[&format!("{option}={value}")]).unwrap_err();
            assert!(
                e.contains(option) && e.contains(&format!("'{value}': expected seconds in")),
                "{option} {value}: {e}"
            );
        }
        assert_eq!(parse(&["--duration", "0.5"]).unwrap().duration, Some(0.5));
        for value in ["0", "1"] {
            let e = parse(&["--new-flow-every", value]).unwrap_err();
            assert!(e.contains("expected 2 or more"), "{value}: {e}");
        }
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    fn startup(eal: &[&str], app: &[&str]) -> Result<Startup, String> {
        parse_command_line("podfwd-gen", &strings(eal), &strings(app))
    }

    /// `--json`, `--wait-for` and `--start-delay` act only on a batch run: without `--duration` they are
    /// refused by name, with the reason, instead of being ignored.
    #[test]
    fn batch_options_need_a_duration() {
        assert_eq!(
            startup(&["--no-pci"], &["--json"]).unwrap_err(),
            "--json needs --duration: only a batch run prints JSON (the console prints text)"
        );
        assert_eq!(
            startup(&[], &["--wait-for", "/tmp/ready"]).unwrap_err(),
            "--wait-for needs --duration: it delays a batch run's start (the console starts on 'start')"
        );
        assert_eq!(
            startup(&[], &["--start-delay", "0"]).unwrap_err(),
            "--start-delay needs --duration: it delays a batch run's start (the console starts on 'start')"
        );
        let Ok(Startup::Run(options)) = startup(&[], &["--duration", "2", "--start-delay", "0.5"])
        else {
            panic!("--start-delay with --duration refused");
        };
        assert_eq!(options.start_delay(), 0.5);
        let Ok(Startup::Run(options)) = startup(&[], &["--json", "--duration", "2"]) else {
            panic!("--json with --duration refused");
        };
        assert!(options.json);
        assert!(matches!(startup(&[], &[]), Ok(Startup::Run(_))));
    }

    /// Help, version and bad options are answered from the command line alone, before
    /// any EAL work: `parse_command_line` is all the binary runs before EAL init.
    #[test]
    fn help_and_version_anywhere_without_the_eal() {
        for (eal, app) in [
            (&["--help"][..], &[][..]),
            (&["-l", "0,1", "-h"], &["--mode", "txonly"]),
            (&[], &["--help"]),
        ] {
            let Ok(Startup::Print(text)) = startup(eal, app) else {
                panic!("{eal:?} -- {app:?}: no help");
            };
            assert!(
                text.contains("podfwd-gen [EAL options] -- [OPTIONS]"),
                "{text}"
            );
            assert!(text.contains("--new-flow-every <N>"), "{text}");
            assert!(
                text.contains("they go before '--', the options above after it"),
                "{text}"
            );
        }
        for (eal, app) in [(&["--version"][..], &[][..]), (&[], &["-V"])] {
            let Ok(Startup::Print(text)) = startup(eal, app) else {
                panic!("{eal:?} -- {app:?}: no version");
            };
            assert_eq!(text, format!("podfwd-gen {}\n", env!("CARGO_PKG_VERSION")));
        }
    }

    #[test]
    fn bad_options_fail_before_the_eal() {
        let e = startup(&["-l", "0,1", "--no-pci"], &["--burst", "0"]).unwrap_err();
        assert!(e.contains("'0': burst must be 1..=256"), "{e}");
        let e = startup(&["--no-pci", "--duration=3"], &[]).unwrap_err();
        assert_eq!(
            e,
            "--duration is a podfwd-gen option: put podfwd-gen's options after '--' (EAL options before it)"
        );
        // EAL's own options pass through to the EAL.
        let eal = [
            "-l",
            "0,1",
            "--vdev=net_null0",
            "--file-prefix",
            "x",
            "--no-pci",
        ];
        assert!(matches!(
            startup(&eal, &["--mode", "txonly"]),
            Ok(Startup::Run(o)) if o.mode == Mode::TxOnly
        ));
    }

    /// What a mode would not act on is refused, not echoed in its report.
    #[test]
    fn options_the_mode_ignores_are_refused() {
        let eal = ["-l", "0,1", "--no-pci"];
        for (app, expected) in [
            (
                &["--mode", "rxonly", "--rate", "10k"][..],
                "--rate with --mode rxonly: rxonly sends no packets of its own",
            ),
            (
                &["--mode", "io", "--new-flows"][..],
                "--new-flows with --mode io: io sends no packets of its own",
            ),
            (
                &["--mode", "rxonly", "--window", "5"][..],
                "--window with --mode rxonly: rxonly sends no packets of its own",
            ),
            (
                &["--mode", "txonly", "--snat"][..],
                "--snat with --mode txonly: txonly receives nothing (pods mode has replies)",
            ),
            (
                &["--new-flows", "--flows", "10"][..],
                "--flows with --new-flows: every packet opens a new flow, none is established",
            ),
        ] {
            assert_eq!(startup(&eal, app).unwrap_err(), expected, "{app:?}");
        }
        // --new-flows over fewer tuples than the unused default of --flows.
        let Ok(Startup::Run(o)) = startup(&eal, &["--new-flows", "--client-ports", "1024-1033"])
        else {
            panic!("--new-flows over 10 tuples refused");
        };
        assert_eq!(o.flow_spec().unwrap().tuple_space(), 10);
        assert!(matches!(
            startup(&eal, &["--mode", "txonly", "--rate", "1k", "--new-flows"]),
            Ok(Startup::Run(_))
        ));
    }
}
