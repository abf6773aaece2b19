//! The interface table and the bring-up commands that read it (`show
//! hardware-interfaces`), until the lib's CLI executor takes over.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use podfwd::config::ControlPlane;
use podfwd::counters::{vpp_center, PortErrors};
use podfwd::types::{IfIndex, MacAddr};

use crate::dpdk::port::{self, LinkStatus, PortId, PortInfo, PortStats};
use crate::forward::InterfaceCounters;
use crate::options::IfaceBinding;
use crate::pipeline::if_index;

/// One interface: a name bound to a DPDK port. Its position in the table is its
/// `sw_if_index` less one (see [`crate::pipeline::if_index`]).
#[derive(Debug, Clone)]
pub struct Interface {
    pub name: String,
    pub info: PortInfo,
}

impl Interface {
    pub fn port(&self) -> PortId {
        self.info.port
    }
}

/// The network devices the EAL options ask for with `--vdev NAME[,ARGS]` or
/// `--vdev=...` (net_*, eth_*, virtio_user*: their ports take the device's name).
pub fn vdev_names(eal_args: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    let mut args = eal_args.iter().map(String::as_str);
    while let Some(arg) = args.next() {
        let spec = match arg.strip_prefix("--vdev=") {
            Some(spec) => Some(spec),
            None if arg == "--vdev" => args.next(),
            None => None,
        };
        let name = spec.and_then(|s| s.split(',').next()).unwrap_or("");
        if ["net_", "eth_", "virtio_user"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            names.push(name.to_string());
        }
    }
    names
}

/// A `--vdev` that no port came from failed to probe: the EAL logged why, and carrying on
/// without it would number the other interfaces differently from what the user wrote.
fn unprobed(vdevs: &[String], devices: &[&str]) -> Option<String> {
    let missing: Vec<&str> = vdevs
        .iter()
        .map(String::as_str)
        .filter(|v| !devices.contains(v))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "device(s) {} given with --vdev failed to probe (see the EAL log above){}",
            missing.join(", "),
            match devices.is_empty() {
                true => String::new(),
                false => format!("; probed: {}", devices.join(", ")),
            }
        )
    })
}

/// The interfaces: from `--iface` bindings in their order, or else one per port, named
/// after its device, in port order. Every `--vdev` in `vdevs` must have become a port.
pub fn resolve_interfaces(
    bindings: &[IfaceBinding],
    vdevs: &[String],
) -> Result<Vec<Interface>, String> {
    let ports = port::ports();
    let mut known = Vec::with_capacity(ports.len());
    for &p in &ports {
        known.push(port::info(p).map_err(|e| e.to_string())?);
    }
    let names: Vec<&str> = known.iter().map(|i| i.device.as_str()).collect();
    if let Some(message) = unprobed(vdevs, &names) {
        return Err(message);
    }
    if known.is_empty() {
        return Err("no DPDK ports: add devices to the EAL options, e.g. --vdev=net_tap0 or --vdev=net_pcap0,rx_pcap=in.pcap".into());
    }
    if bindings.is_empty() {
        return Ok(known
            .into_iter()
            .map(|info| Interface {
                name: info.device.clone(),
                info,
            })
            .collect());
    }
    let mut interfaces: Vec<Interface> = Vec::with_capacity(bindings.len());
    for binding in bindings {
        let Some(info) = known.iter().find(|i| i.device == binding.device) else {
            return Err(format!(
                "unknown device '{}' in --iface {}={} (known: {})",
                binding.device,
                binding.name,
                binding.device,
                names.join(", ")
            ));
        };
        if let Some(other) = interfaces
            .iter()
            .find(|i| i.name == binding.name || i.port() == info.port)
        {
            return Err(format!(
                "--iface {}={}: interface '{}' is already bound to device '{}'",
                binding.name, binding.device, other.name, other.info.device
            ));
        }
        interfaces.push(Interface {
            name: binding.name.clone(),
            info: info.clone(),
        });
    }
    for warning in unused_ports(&known, &interfaces) {
        log::warn!("{warning}");
    }
    Ok(interfaces)
}

/// A warning for each port that no `--iface` binds: podfwd neither configures nor polls
/// it, which a user who gave the EAL the device probably did not mean.
fn unused_ports(known: &[PortInfo], interfaces: &[Interface]) -> Vec<String> {
    known
        .iter()
        .filter(|p| !interfaces.iter().any(|i| i.port() == p.port))
        .map(|p| {
            format!(
                "port {} (device {}) is bound by no --iface: podfwd leaves it unused",
                p.port, p.device
            )
        })
        .collect()
}

/// How much `show hardware-interfaces` prints (the CLI's `brief|verbose|detail` word):
/// `Detail` prints what `Normal` does for now.
pub use podfwd::cli::HardwareDetail as Verbosity;

/// What `show hardware-interfaces` reads: the interface table and the workers' port counters.
pub struct HardwareCommands {
    pub interfaces: Vec<Interface>,
    /// Per worker, per interface counters.
    pub workers: Vec<Arc<[InterfaceCounters]>>,
    /// What the counters read at the last clear, per interface position: shows print
    /// the difference, as VPP keeps `last_cleared_stats` rather than resetting the
    /// device (a reset would race the worker's own counting). Main lcore only.
    pub cleared: Mutex<Vec<Cleared>>,
}

/// The counters of one interface at a clear.
#[derive(Debug, Clone, Default)]
pub struct Cleared {
    /// At the last `clear interfaces`: the tx-error that `show interface` adds.
    pub interface_tx_errors: u64,
    /// At the last `clear interfaces`: the port's counters behind `show interface`'s
    /// rx-no-buf, rx-miss and rx-error.
    pub interface_port: PortErrors,
    /// At the last `clear hardware-interfaces`.
    pub stats: PortStats,
    pub counters: [u64; 3],
    pub xstats: Vec<(String, u64)>,
}

impl HardwareCommands {
    pub fn new(interfaces: Vec<Interface>, workers: Vec<Arc<[InterfaceCounters]>>) -> Self {
        let cleared = Mutex::new(vec![Cleared::default(); interfaces.len()]);
        HardwareCommands {
            interfaces,
            workers,
            cleared,
        }
    }

    /// What was cleared at `position`, a default one if none.
    fn cleared_at(&self, position: usize) -> Cleared {
        let cleared = self.cleared.lock().unwrap_or_else(|e| e.into_inner());
        cleared.get(position).cloned().unwrap_or_default()
    }

    /// `clear interfaces`: `show interface`'s tx-error and the port's receive errors
    /// count from now. Returns, per interface position, how far the tx-error went back.
    pub fn interfaces_cleared(&self) -> Vec<u64> {
        // Read before the lock: the driver calls take a while.
        let now: Vec<(u64, PortErrors)> = (0..self.interfaces.len())
            .map(|p| (self.tx_errors(p), self.port_errors_now(p)))
            .collect();
        let mut cleared = self.cleared.lock().unwrap_or_else(|e| e.into_inner());
        let mut back = Vec::with_capacity(now.len());
        for (c, (tx_errors, port)) in cleared.iter_mut().zip(now) {
            back.push(tx_errors.saturating_sub(c.interface_tx_errors));
            c.interface_tx_errors = tx_errors;
            c.interface_port = port;
        }
        back
    }

    /// The port's receive errors at `position` as its driver counts them now.
    fn port_errors_now(&self, position: usize) -> PortErrors {
        let Some(interface) = self.interfaces.get(position) else {
            return PortErrors::default();
        };
        port::stats(interface.info.port).map_or_else(
            |_| PortErrors::default(),
            |s| PortErrors {
                rx_no_buf: s.rx_no_mbuf,
                rx_miss: s.rx_missed,
                rx_error: s.rx_errors,
            },
        )
    }

    /// `show interface`'s rx-no-buf, rx-miss and rx-error at `position`: since the last
    /// `clear interfaces`.
    pub fn interface_port_errors(&self, position: usize) -> PortErrors {
        let (now, base) = (
            self.port_errors_now(position),
            self.cleared_at(position).interface_port,
        );
        PortErrors {
            rx_no_buf: now.rx_no_buf.saturating_sub(base.rx_no_buf),
            rx_miss: now.rx_miss.saturating_sub(base.rx_miss),
            rx_error: now.rx_error.saturating_sub(base.rx_error),
        }
    }

    /// `clear hardware-interfaces [NAME]`: the port's counters, its xstats and podfwd's
    /// own lines count from now, on every interface or `only`.
    pub fn clear_hardware(&self, only: Option<&str>) {
        // Read before the lock: the driver calls take a while.
        let now: Vec<Option<Cleared>> = self
            .interfaces
            .iter()
            .enumerate()
            .map(|(position, interface)| {
                only.is_none_or(|n| n == interface.name).then(|| {
                    let port = interface.info.port;
                    Cleared {
                        interface_tx_errors: 0,
                        interface_port: PortErrors::default(),
                        stats: port::stats(port).unwrap_or_default(),
                        counters: self.own_counters(position).map(|(_, v)| v),
                        xstats: port::xstats(port).unwrap_or_default(),
                    }
                })
            })
            .collect();
        let mut cleared = self.cleared.lock().unwrap_or_else(|e| e.into_inner());
        for (c, now) in cleared.iter_mut().zip(now) {
            if let Some(now) = now {
                // `show interface`'s baseline is clear interfaces' own.
                *c = Cleared {
                    interface_tx_errors: c.interface_tx_errors,
                    interface_port: c.interface_port,
                    ..now
                };
            }
        }
    }

    /// The tx-error `show interface` adds for the interface at `position`: since the
    /// last `clear interfaces`.
    pub fn interface_tx_errors(&self, position: usize) -> u64 {
        self.tx_errors(position)
            .saturating_sub(self.cleared_at(position).interface_tx_errors)
    }

    /// podfwd's own lines of `show hardware-interfaces`, as the workers count them.
    fn own_counters(&self, position: usize) -> [(&'static str, u64); 3] {
        [
            ("tx-error", self.tx_errors(position)),
            (
                "drops",
                self.sum(position, |c| c.drops.load(Ordering::Relaxed)),
            ),
            (
                "rx multi-segment",
                self.sum(position, |c| c.rx_multi_segment.load(Ordering::Relaxed)),
            ),
        ]
    }
}

/// `now` less `base`, field by field (a counter read lower than at the clear, as a
/// driver's after a port restart, reads 0).
fn since(now: PortStats, base: &PortStats) -> PortStats {
    PortStats {
        rx_packets: now.rx_packets.saturating_sub(base.rx_packets),
        tx_packets: now.tx_packets.saturating_sub(base.tx_packets),
        rx_bytes: now.rx_bytes.saturating_sub(base.rx_bytes),
        tx_bytes: now.tx_bytes.saturating_sub(base.tx_bytes),
        rx_missed: now.rx_missed.saturating_sub(base.rx_missed),
        rx_errors: now.rx_errors.saturating_sub(base.rx_errors),
        tx_errors: now.tx_errors.saturating_sub(base.tx_errors),
        rx_no_mbuf: now.rx_no_mbuf.saturating_sub(base.rx_no_mbuf),
    }
}

/// One interface's block of `show hardware-interfaces`, gathered from the port, the
/// configuration and the workers, so that formatting it needs no DPDK.
#[derive(Debug, Clone)]
pub struct HardwareBlock {
    pub name: String,
    /// The `sw_if_index`, as `show interface` and the trace give it.
    pub index: IfIndex,
    pub admin_up: bool,
    /// The port's own link, as the driver reports it.
    pub link: Result<LinkStatus, String>,
    /// The MAC podfwd sends from (`set interface mac address`).
    pub mac: MacAddr,
    /// The port's own MAC (net_tap: the kernel side's).
    pub port_mac: MacAddr,
    pub port: PortId,
    pub device: String,
    pub driver: String,
    pub stats: Result<PortStats, String>,
    /// podfwd's own counters: tx-error, drops, rx multi-segment.
    pub counters: [(&'static str, u64); 3],
    pub xstats: Result<Vec<(String, u64)>, String>,
}

impl HardwareCommands {
    /// Packets the driver refused on the interface at `position`, over all workers.
    pub fn tx_errors(&self, position: usize) -> u64 {
        self.sum(position, |c| c.tx_error.load(Ordering::Relaxed))
    }

    fn sum(&self, position: usize, pick: fn(&InterfaceCounters) -> u64) -> u64 {
        self.workers
            .iter()
            .filter_map(|w| w.get(position))
            .map(pick)
            .sum()
    }

    /// `show hardware-interfaces [brief|verbose|detail] [NAME]`: every interface, or
    /// `only` (the executor has checked the name).
    pub fn show_hardware(
        &self,
        only: Option<&str>,
        verbosity: Verbosity,
        plane: &ControlPlane,
    ) -> Result<String, String> {
        let blocks: Vec<HardwareBlock> = self
            .interfaces
            .iter()
            .enumerate()
            .filter(|(_, i)| only.is_none_or(|n| n == i.name))
            .map(|(position, interface)| self.block(position, interface, plane, verbosity))
            .collect();
        Ok(format_hardware(&blocks, verbosity))
    }

    fn block(
        &self,
        position: usize,
        interface: &Interface,
        plane: &ControlPlane,
        verbosity: Verbosity,
    ) -> HardwareBlock {
        let info = &interface.info;
        let port = info.port;
        let config = plane.interfaces().iter().find(|c| c.name == interface.name);
        // `brief` prints neither counters nor xstats: the driver is not asked for them.
        let brief = verbosity == Verbosity::Brief;
        let (cleared, own) = (self.cleared_at(position), self.own_counters(position));
        HardwareBlock {
            name: interface.name.clone(),
            index: config.map_or(if_index(position), |c| c.index),
            admin_up: config.is_some_and(|c| c.admin_up),
            link: port::link(port).map_err(|e| e.to_string()),
            mac: config.map_or(MacAddr(info.mac), |c| c.mac),
            port_mac: MacAddr(info.mac),
            port,
            device: info.device.clone(),
            driver: info.driver.clone(),
            stats: if brief {
                Err(String::new())
            } else {
                port::stats(port)
                    .map(|now| since(now, &cleared.stats))
                    .map_err(|e| e.to_string())
            },
            counters: std::array::from_fn(|i| {
                (own[i].0, own[i].1.saturating_sub(cleared.counters[i]))
            }),
            xstats: if brief {
                Err(String::new())
            } else {
                port::xstats(port).map_err(|e| e.to_string()).map(|xstats| {
                    xstats
                        .into_iter()
                        .map(|(name, value)| {
                            let base = cleared.xstats.iter().find(|(n, _)| *n == name);
                            let value = value.saturating_sub(base.map_or(0, |(_, v)| *v));
                            (name, value)
                        })
                        .collect()
                })
            },
        }
    }
}

/// `show hardware-interfaces` in VPP's columns (`%=32s%=6s%=8s%s` over
/// `%-32v%=6d%=8s%s`): Link is `down` while the interface is admin-down, as VPP's
/// hardware link is with its port stopped; the port's own link has its line.
pub fn format_hardware(blocks: &[HardwareBlock], verbosity: Verbosity) -> String {
    let mut out = format!(
        "{}{}{}Hardware\n",
        vpp_center("Name", 32),
        vpp_center("Idx", 6),
        vpp_center("Link", 8)
    );
    for b in blocks {
        let up = b.admin_up && b.link.as_ref().is_ok_and(|l| l.up);
        let _ = writeln!(
            out,
            "{:<32}{}{}{}",
            b.name,
            vpp_center(&b.index.to_string(), 6),
            vpp_center(if up { "up" } else { "down" }, 8),
            b.device
        );
        if verbosity == Verbosity::Brief {
            continue;
        }
        let _ = writeln!(out, "  Ethernet address {}", b.mac);
        if b.port_mac != b.mac {
            let _ = writeln!(out, "  port's own address {}", b.port_mac);
        }
        let _ = writeln!(out, "  {} (DPDK port {})", b.driver, b.port);
        match &b.link {
            Ok(link) => {
                let _ = writeln!(out, "    port link {link}");
                if !link.up && b.driver == "net_tap" {
                    // The driver asks the kernel by the interface's name, in podfwd's
                    // own namespace.
                    let _ = writeln!(
                        out,
                        "    (net_tap reads its kernel side's state: down when that side is \
                         down, or in another network namespace, where it still forwards)"
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(out, "    port link unknown: {e}");
            }
        }
        match &b.stats {
            Ok(s) => {
                for (label, value) in [
                    ("rx packets", s.rx_packets),
                    ("rx bytes", s.rx_bytes),
                    ("rx missed", s.rx_missed),
                    ("rx errors", s.rx_errors),
                    ("rx no mbuf", s.rx_no_mbuf),
                    ("tx packets", s.tx_packets),
                    ("tx bytes", s.tx_bytes),
                    ("tx errors", s.tx_errors),
                ] {
                    let _ = writeln!(out, "  {label:<20} {value:>12}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "  counters unavailable: {e}");
            }
        }
        for (label, value) in b.counters {
            let _ = writeln!(out, "  {label:<20} {value:>12}");
        }
        match &b.xstats {
            Ok(xstats) => {
                for (name, value) in xstats.iter().filter(|(_, v)| *v != 0) {
                    let _ = writeln!(out, "    {name:<30} {value:>12}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "    xstats unavailable: {e}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vdev_that_made_no_port_is_named() {
        let args: Vec<String> = [
            "-l",
            "0,1",
            "--vdev=net_pcap0,rx_pcap=/nonexistent.pcap",
            "--vdev",
            "net_null1",
            "--vdev=crypto_null0",
            "--no-pci",
        ]
        .map(String::from)
        .to_vec();
        let vdevs = vdev_names(&args);
        assert_eq!(vdevs, ["net_pcap0", "net_null1"]);
        assert_eq!(unprobed(&vdevs, &["net_pcap0", "net_null1"]), None);
        assert_eq!(
            unprobed(&vdevs, &["net_null1"]).unwrap(),
            "device(s) net_pcap0 given with --vdev failed to probe (see the EAL log above); \
             probed: net_null1"
        );
        assert_eq!(
            unprobed(&vdevs, &[]).unwrap(),
            "device(s) net_pcap0, net_null1 given with --vdev failed to probe (see the EAL log above)"
        );
    }

    fn port_info(port: PortId, device: &str, mac: [u8; 6]) -> PortInfo {
        PortInfo {
            port,
            device: device.into(),
            driver: "net_tap".into(),
            max_rx_queues: 1,
            max_tx_queues: 1,
            rx_offload_capa: 0,
            tx_offload_capa: 0,
            mac,
            socket: -1,
        }
    }

    #[test]
    fn ports_no_iface_binds_are_named() {
        let known = [
            port_info(0, "net_tap0", [0; 6]),
            port_info(1, "net_tap1", [0; 6]),
            port_info(2, "net_pcap0", [0; 6]),
        ];
        let interfaces = [Interface {
            name: "tap0".into(),
            info: known[1].clone(),
        }];
        assert_eq!(
            unused_ports(&known, &interfaces),
            [
                "port 0 (device net_tap0) is bound by no --iface: podfwd leaves it unused",
                "port 2 (device net_pcap0) is bound by no --iface: podfwd leaves it unused",
            ]
        );
        let all: Vec<Interface> = known
            .iter()
            .map(|info| Interface {
                name: info.device.clone(),
                info: info.clone(),
            })
            .collect();
        assert!(unused_ports(&known, &all).is_empty());
    }

    fn block(admin_up: bool, link_up: bool) -> HardwareBlock {
        HardwareBlock {
            name: "tap0".into(),
            index: IfIndex(2),
            admin_up,
            link: Ok(LinkStatus {
                up: link_up,
                speed_mbps: 10_000,
                full_duplex: true,
            }),
            mac: MacAddr([0x01, 0x23, 0x45, 0x67, 0x89, 0x42]),
            port_mac: MacAddr([0x3e, 0x1b, 0x70, 0x2d, 0x4d, 0x51]),
            port: 1,
            device: "net_tap1".into(),
            driver: "net_tap".into(),
            stats: Ok(PortStats {
                rx_packets: 5,
                ..PortStats::default()
            }),
            counters: [("tx-error", 0), ("drops", 3), ("rx multi-segment", 1)],
            xstats: Ok(vec![
                ("rx_good_packets".into(), 5),
                ("rx_q0_errors".into(), 0),
            ]),
        }
    }

    #[test]
    fn show_hardware_has_vpps_columns_and_both_addresses() {
        let text = format_hardware(&[block(true, true)], Verbosity::Normal);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[..5],
            [
                "              Name                Idx   Link  Hardware",
                "tap0                               2     up   net_tap1",
                "  Ethernet address 01:23:45:67:89:42",
                "  port's own address 3e:1b:70:2d:4d:51",
                "  net_tap (DPDK port 1)",
            ]
        );
        assert!(
            lines.contains(&"    port link up, 10000 Mbps, full duplex"),
            "{text}"
        );
        assert!(lines
            .iter()
            .any(|l| l.split_whitespace().eq(["rx", "packets", "5"])));
        assert!(lines
            .iter()
            .any(|l| l.split_whitespace().eq(["drops", "3"])));
        assert!(lines
            .iter()
            .any(|l| l.split_whitespace().eq(["rx", "multi-segment", "1"])));
        assert!(lines
            .iter()
            .any(|l| l.split_whitespace().eq(["rx_good_packets", "5"])));
        assert!(
            !text.contains("rx_q0_errors"),
            "zero xstats are left out: {text}"
        );
    }

    #[test]
    fn admin_down_shows_link_down_and_the_ports_link_labelled() {
        let text = format_hardware(&[block(false, true)], Verbosity::Normal);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            "tap0                               2    down  net_tap1"
        );
        assert!(
            lines.contains(&"    port link up, 10000 Mbps, full duplex"),
            "{text}"
        );
        // Admin-up over a port without carrier is down too.
        let text = format_hardware(&[block(true, false)], Verbosity::Normal);
        assert!(text.lines().nth(1).unwrap().contains(" down "), "{text}");
        assert!(text.contains("    port link down\n"), "{text}");
        // A tap says why it may read down while it forwards; another driver does not.
        assert!(text.contains("in another network namespace"), "{text}");
        let mut pcap = block(true, false);
        pcap.driver = "net_pcap".into();
        let text = format_hardware(&[pcap], Verbosity::Normal);
        assert!(!text.contains("namespace"), "{text}");
    }

    #[test]
    fn same_address_is_printed_once() {
        let mut b = block(true, true);
        b.port_mac = b.mac;
        let text = format_hardware(&[b], Verbosity::Normal);
        assert!(!text.contains("port's own address"), "{text}");
    }

    #[test]
    fn brief_prints_the_first_line_only() {
        let text = format_hardware(&[block(true, true), block(false, true)], Verbosity::Brief);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert_eq!(
            format_hardware(&[block(true, true)], Verbosity::Detail),
            format_hardware(&[block(true, true)], Verbosity::Normal)
        );
    }

    /// `clear interfaces` zeroes the tx-error show interface adds (kept by the app, not
    /// the workers' pipeline counters), and only that: show hardware keeps it.
    #[test]
    fn clear_interfaces_counts_tx_errors_from_then() {
        let counters: Arc<[InterfaceCounters]> = (0..2).map(|_| Default::default()).collect();
        let interfaces = ["tap0", "tap2"]
            .iter()
            .enumerate()
            .map(|(i, name)| Interface {
                name: (*name).into(),
                info: port_info(i as PortId, "net_tap", [0; 6]),
            })
            .collect();
        let commands = HardwareCommands::new(interfaces, vec![Arc::clone(&counters)]);
        counters[1].tx_error.store(7, Ordering::Relaxed);
        assert_eq!(commands.interface_tx_errors(1), 7);
        // What it returns is how far each went back: show errors goes on from there.
        assert_eq!(commands.interfaces_cleared(), [0, 7]);
        assert_eq!(commands.interface_tx_errors(1), 0);
        counters[1].tx_error.store(9, Ordering::Relaxed);
        assert_eq!(commands.interface_tx_errors(1), 2);
        assert_eq!(commands.own_counters(1)[0], ("tx-error", 9));
        assert_eq!(commands.interface_tx_errors(0), 0);
        assert_eq!(commands.interfaces_cleared(), [0, 2]);
    }
}
