//! Every command printed back as the canonical line that parses to it: full command
//! words, every field spelled out. Logs and the control socket echo commands this way,
//! and the tests use it to check that parsing loses nothing.

use std::fmt::{self, Display, Formatter};

use crate::acl::AclRule;
use crate::nat44::TwiceNat;

use super::{Command, HardwareDetail, PcapTrace, RoutePath};

fn opt<T: Display>(f: &mut Formatter<'_>, value: &Option<T>) -> fmt::Result {
    match value {
        Some(v) => write!(f, " {v}"),
        None => Ok(()),
    }
}

fn flag(f: &mut Formatter<'_>, on: bool, word: &str) -> fmt::Result {
    if on {
        write!(f, " {word}")
    } else {
        Ok(())
    }
}

fn add_del(del: bool) -> &'static str {
    if del {
        "del"
    } else {
        "add"
    }
}

fn twice_nat(f: &mut Formatter<'_>, value: TwiceNat) -> fmt::Result {
    flag(f, value != TwiceNat::No, value.keyword())
}

impl Display for RoutePath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            RoutePath::NextHop {
                next_hop,
                interface,
            } => {
                write!(f, "via {next_hop}")?;
                opt(f, interface)
            }
            RoutePath::Interface { interface } => write!(f, "via {interface}"),
            RoutePath::Drop => f.write_str("drop"),
        }
    }
}

/// A rule in `set acl-plugin acl` syntax; prefixes as given, not masked, so that the
/// line parses back to the same rule.
fn acl_rule(out: &mut Formatter<'_>, rule: &AclRule) -> fmt::Result {
    write!(
        out,
        "{} src {} dst {} proto {} sport {} dport {}",
        rule.action, rule.src, rule.dst, rule.proto, rule.sport, rule.dport
    )?;
    if rule.tcp_flags_value != 0 || rule.tcp_flags_mask != 0 {
        write!(
            out,
            " tcpflags {} {}",
            rule.tcp_flags_value, rule.tcp_flags_mask
        )?;
    }
    Ok(())
}

impl Display for Command {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use Command as C;
        match self {
            C::ShowInterface { names } => {
                f.write_str("show interface")?;
                names.iter().try_for_each(|name| write!(f, " {name}"))
            }
            C::ShowInterfaceAddress { names } => {
                f.write_str("show interface address")?;
                names.iter().try_for_each(|name| write!(f, " {name}"))
            }
            C::ShowInterfaceRxPlacement => f.write_str("show interface rx-placement"),
            C::ShowHardwareInterfaces { detail, name } => {
                f.write_str("show hardware-interfaces")?;
                match detail {
                    HardwareDetail::Brief => f.write_str(" brief")?,
                    HardwareDetail::Normal => {}
                    HardwareDetail::Detail => f.write_str(" detail")?,
                }
                opt(f, name)
            }
            C::SetInterfaceState { interface, up } => write!(
                f,
                "set interface state {interface} {}",
                if *up { "up" } else { "down" }
            ),
            C::SetInterfaceMac { interface, mac } => {
                write!(f, "set interface mac address {interface} {mac}")
            }
            C::SetInterfaceIpAddress {
                interface,
                prefix,
                del,
            } => {
                f.write_str("set interface ip address")?;
                flag(f, *del, "del")?;
                write!(f, " {interface} {prefix}")
            }
            C::DelInterfaceAddresses { interface } => {
                write!(f, "set interface ip address del {interface} all")
            }
            C::SetInterfaceMtu { interface, mtu } => {
                write!(f, "set interface mtu {mtu} {interface}")
            }
            C::IpRouteAdd { prefix, path } => write!(f, "ip route add {prefix} {path}"),
            C::IpRouteDel { prefix, path } => {
                write!(f, "ip route del {prefix}")?;
                opt(f, path)
            }
            C::ShowIpFib { prefix } => {
                f.write_str("show ip fib")?;
                opt(f, prefix)
            }
            C::ShowIpFibSummary => f.write_str("show ip fib summary"),
            C::SetIpNeighbor {
                interface,
                ip,
                mac,
                is_static,
                no_fib_entry,
                del,
            } => {
                f.write_str("set ip neighbor")?;
                flag(f, *del, "del")?;
                write!(f, " {interface} {ip} {mac}")?;
                flag(f, *is_static, "static")?;
                flag(f, *no_fib_entry, "no-fib-entry")
            }
            C::ShowIpNeighbors { interface } => {
                f.write_str("show ip neighbors")?;
                opt(f, interface)
            }
            C::TraceAdd { input, count } => {
                write!(f, "trace add {} {count}", input.node_name())
            }
            C::ShowTrace { max } => {
                f.write_str("show trace")?;
                match max {
                    Some(max) => write!(f, " max {max}"),
                    None => Ok(()),
                }
            }
            C::ClearTrace => f.write_str("clear trace"),
            C::ShowErrors => f.write_str("show errors"),
            C::ShowRuntime { view, summary } => {
                f.write_str("show runtime")?;
                flag(f, view.verbose, "verbose")?;
                flag(f, view.max, "max")?;
                flag(f, *summary, "summary")
            }
            C::ClearErrors => f.write_str("clear errors"),
            C::ClearRuntime => f.write_str("clear runtime"),
            C::ClearHardwareInterfaces { name } => {
                f.write_str("clear hardware-interfaces")?;
                opt(f, name)
            }
            C::ClearInterfaces => f.write_str("clear interfaces"),
            C::ShowVersion { verbose } => {
                f.write_str("show version")?;
                flag(f, *verbose, "verbose")
            }
            C::ShowDpdkVersion => f.write_str("show dpdk version"),
            C::ShowThreads => f.write_str("show threads"),
            C::ShowBuffers => f.write_str("show buffers"),
            C::ShowMemory => f.write_str("show memory"),
            C::ShowLogging => f.write_str("show logging"),
            C::Ping(p) => {
                write!(f, "ping {}", p.dst)?;
                opt(f, &p.source.as_ref().map(|s| format!("source {s}")))?;
                write!(
                    f,
                    " size {} interval {} repeat {}",
                    p.size,
                    f64::from(p.interval_ms) / 1000.0,
                    p.repeat
                )
            }
            C::PcapTrace(PcapTrace::Off) => f.write_str("pcap trace off"),
            C::PcapTrace(PcapTrace::Status) => f.write_str("pcap trace status"),
            C::PcapTrace(PcapTrace::Start(capture)) => {
                write!(f, "pcap trace {}", capture.directions(" "))?;
                write!(
                    f,
                    " max {} max-bytes-per-pkt {} intfc {}",
                    capture.max,
                    capture.max_bytes,
                    capture.interface.as_deref().unwrap_or("any")
                )?;
                opt(f, &capture.file.as_ref().map(|file| format!("file {file}")))
            }
            C::Exec { file } => write!(f, "exec {file}"),
            C::Comment => f.write_str("comment"),
            C::Quit => f.write_str("quit"),
            // `WORDS ?` rather than `help WORDS`: it stays unambiguous when a word is `?`.
            C::Help { words } if words.is_empty() => f.write_str("help"),
            C::Help { words } => write!(f, "{} ?", words.join(" ")),
            C::SetAcl { index, rules, tag } => {
                f.write_str("set acl-plugin acl")?;
                if let Some(index) = index {
                    write!(f, " index {index}")?;
                }
                for (i, rule) in rules.iter().enumerate() {
                    f.write_str(if i == 0 { " " } else { ", " })?;
                    acl_rule(f, rule)?;
                }
                match tag {
                    Some(tag) => write!(f, " tag {tag}"),
                    None => Ok(()),
                }
            }
            C::DeleteAcl { index } => write!(f, "delete acl-plugin acl index {index}"),
            C::SetAclInterface {
                interface,
                direction,
                acl,
                del,
            } => {
                write!(
                    f,
                    "set acl-plugin interface {interface} {direction} acl {acl}"
                )?;
                flag(f, *del, "del")
            }
            C::ShowAcl { index } => {
                f.write_str("show acl-plugin acl")?;
                match index {
                    Some(index) => write!(f, " index {index}"),
                    None => Ok(()),
                }
            }
            C::ShowAclInterface { interface, acls } => {
                f.write_str("show acl-plugin interface")?;
                opt(f, interface)?;
                flag(f, *acls, "acl")
            }
            C::ShowAclSessions { one: None } => f.write_str("show acl-plugin sessions"),
            C::ShowAclSessions {
                one: Some((thread, index)),
            } => write!(f, "show acl-plugin sessions thread {thread} index {index}"),
            C::ClearAclSessions => f.write_str("clear acl-plugin sessions"),
            C::ShowAclTables => f.write_str("show acl-plugin tables"),
            C::SetAclSessionTimeout { timeouts, secs } => match timeouts {
                [kind] => write!(f, "set acl-plugin session timeout {kind} {secs}"),
                // The parser makes no other list than `udp idle`'s.
                _ => write!(f, "set acl-plugin session timeout udp idle {secs}"),
            },
            C::SetAclSessionMaxEntries { max } => {
                write!(f, "set acl-plugin session table max-entries {max}")
            }
            C::SetAclReclassifySessions { on } => {
                write!(f, "set acl-plugin reclassify-sessions {}", u8::from(*on))
            }
            C::Nat44Address {
                first,
                last,
                twice_nat,
                del,
            } => {
                write!(f, "nat44 {} address {first}", add_del(*del))?;
                if first != last {
                    write!(f, " - {last}")?;
                }
                flag(f, *twice_nat, "twice-nat")
            }
            C::Nat44InterfaceAddress {
                interface,
                twice_nat,
                del,
            } => {
                write!(f, "nat44 add interface address {interface}")?;
                flag(f, *twice_nat, "twice-nat")?;
                flag(f, *del, "del")
            }
            C::ShowNat44InterfaceAddress => f.write_str("show nat44 interface address"),
            C::Nat44StaticMapping { mapping: m, del } => {
                write!(f, "nat44 {} static mapping ", add_del(*del))?;
                // An address-only mapping has no protocol (VPP refuses one).
                if m.local.1.is_some() {
                    write!(f, "{} ", m.proto)?;
                }
                write!(f, "local {}", m.local.0)?;
                opt(f, &m.local.1)?;
                write!(f, " external {}", m.external.0)?;
                opt(f, &m.external.1)?;
                twice_nat(f, m.twice_nat)?;
                flag(f, m.out2in_only, "out2in-only")
            }
            C::Nat44LbStaticMapping { mapping: m, del } => {
                write!(
                    f,
                    "nat44 {} load-balancing static mapping protocol {} external {}:{}",
                    add_del(*del),
                    m.proto,
                    m.external.0,
                    m.external.1
                )?;
                for local in &m.locals {
                    write!(
                        f,
                        " local {}:{} probability {}",
                        local.addr, local.port, local.probability
                    )?;
                }
                twice_nat(f, m.twice_nat)?;
                flag(f, m.out2in_only, "out2in-only")?;
                if m.affinity_secs != 0 {
                    write!(f, " affinity {}", m.affinity_secs)?;
                }
                Ok(())
            }
            C::Nat44LbBackend {
                proto,
                external,
                local,
                probability,
                del,
            } => {
                write!(
                    f,
                    "nat44 add load-balancing back-end protocol {proto} external {}:{} local {}:{}",
                    external.0, external.1, local.0, local.1
                )?;
                if let Some(p) = probability {
                    write!(f, " probability {p}")?;
                }
                flag(f, *del, "del")
            }
            C::Nat44IdentityMapping { mapping, del } => {
                write!(
                    f,
                    "nat44 {} identity mapping {}",
                    add_del(*del),
                    mapping.addr
                )?;
                match mapping.proto_port {
                    Some((proto, port)) => write!(f, " {proto} {port}"),
                    None => Ok(()),
                }
            }
            C::Nat44Forwarding { enable } => write!(
                f,
                "nat44 forwarding {}",
                if *enable { "enable" } else { "disable" }
            ),
            C::SetInterfaceNat44 {
                inside,
                outside,
                output_feature,
                del,
            } => {
                f.write_str("set interface nat44")?;
                for name in inside {
                    write!(f, " in {name}")?;
                }
                for name in outside {
                    write!(f, " out {name}")?;
                }
                flag(f, *output_feature, "output-feature")?;
                flag(f, *del, "del")
            }
            C::SetNatTimeout {
                reset,
                udp,
                tcp_established,
                tcp_transitory,
                icmp,
            } => {
                f.write_str("set nat timeout")?;
                flag(f, *reset, "reset")?;
                for (name, value) in [
                    ("udp", udp),
                    ("tcp-established", tcp_established),
                    ("tcp-transitory", tcp_transitory),
                    ("icmp", icmp),
                ] {
                    if let Some(value) = value {
                        write!(f, " {name} {value}")?;
                    }
                }
                Ok(())
            }
            C::Nat44SessionLimit { limit } => write!(f, "nat44 session limit {limit}"),
            C::ShowNat44Interfaces => f.write_str("show nat44 interfaces"),
            C::ShowNat44Addresses => f.write_str("show nat44 addresses"),
            C::ShowFlowCache => f.write_str("show flow-cache"),
            C::ShowNat44StaticMappings => f.write_str("show nat44 static mappings"),
            C::ShowNat44Summary => f.write_str("show nat44 summary"),
            C::ShowNatTimeouts => f.write_str("show nat timeouts"),
            C::ShowNat44Sessions { detail } => {
                f.write_str("show nat44 sessions")?;
                flag(f, *detail, "detail")
            }
            C::Nat44DelSession { selector } => write!(f, "nat44 del session {selector}"),
            C::ClearNat44Sessions => f.write_str("clear nat44 sessions"),
        }
    }
}
