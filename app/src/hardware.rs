//! The interface table and the bring-up commands that read it (`show
//! hardware-interfaces`), until the lib's CLI executor takes over.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::dpdk::port::{self, PortId, PortInfo};
use crate::forward::InterfaceCounters;
use crate::options::IfaceBinding;

/// One interface: a name bound to a DPDK port. Its index in the table is its IfIndex.
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

/// The interfaces: from `--iface` bindings in their order, or else one per port, named
/// after its device, in port order.
pub fn resolve_interfaces(bindings: &[IfaceBinding]) -> Result<Vec<Interface>, String> {
    let ports = port::ports();
    let mut known = Vec::with_capacity(ports.len());
    for &p in &ports {
        known.push(port::info(p).map_err(|e| e.to_string())?);
    }
    let names: Vec<&str> = known.iter().map(|i| i.device.as_str()).collect();
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
    Ok(interfaces)
}

/// What `show hardware-interfaces` reads: the interface table and the workers' port counters.
pub struct HardwareCommands {
    pub interfaces: Vec<Interface>,
    /// Per worker, per interface counters.
    pub workers: Vec<Arc<[InterfaceCounters]>>,
}

impl HardwareCommands {
    /// Packets the driver refused on the interface at `position`, over all workers.
    pub fn tx_errors(&self, position: usize) -> u64 {
        self.workers
            .iter()
            .filter_map(|w| w.get(position))
            .map(|c| c.tx_error.load(Ordering::Relaxed))
            .sum()
    }

    /// Port counters, podfwd's own counters and, with `detail`, the driver's xstats.
    pub fn show_hardware(&self, only: Option<&str>, detail: bool) -> Result<String, String> {
        if let Some(name) = only {
            if !self.interfaces.iter().any(|i| i.name == name) {
                let known: Vec<&str> = self.interfaces.iter().map(|i| i.name.as_str()).collect();
                return Err(format!(
                    "unknown interface '{name}' (known: {})",
                    known.join(", ")
                ));
            }
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<16} {:>4} {:<5} {:<16} Driver",
            "Name", "Idx", "Link", "Device"
        );
        for (index, interface) in self.interfaces.iter().enumerate() {
            if only.is_some_and(|n| n != interface.name) {
                continue;
            }
            let port = interface.port();
            let link = port::link(port)
                .map(|l| if l.up { "up" } else { "down" })
                .unwrap_or("?");
            let info = &interface.info;
            let _ = writeln!(
                out,
                "{:<16} {:>4} {:<5} {:<16} {}",
                interface.name, index, link, info.device, info.driver
            );
            let m = info.mac;
            let _ = writeln!(
                out,
                "  Ethernet address {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            );
            match port::stats(port) {
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
            let sum = |pick: fn(&InterfaceCounters) -> u64| -> u64 {
                self.workers
                    .iter()
                    .filter_map(|w| w.get(index))
                    .map(pick)
                    .sum()
            };
            for (label, value) in [
                ("tx-error", sum(|c| c.tx_error.load(Ordering::Relaxed))),
                ("drops", sum(|c| c.drops.load(Ordering::Relaxed))),
                (
                    "rx multi-segment",
                    sum(|c| c.rx_multi_segment.load(Ordering::Relaxed)),
                ),
            ] {
                let _ = writeln!(out, "  {label:<20} {value:>12}");
            }
            if detail {
                match port::xstats(port) {
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
        }
        Ok(out)
    }
}
