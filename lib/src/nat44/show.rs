//! `show nat44 ...` in VPP's formats (contiv-dataplane.md §7). There are no VRFs, so
//! every `vrf`/`fib` field reads 0 and pools are "tenant VRF independent".

use crate::nat44::Nat44Config;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::Ipv4Addr;

use super::config::Nat44Table;
use super::engine::Nat44Worker;
use super::ports::PortAllocator;
use super::session::{flags, Session};
use super::types::{NatProtocol, NatTimeouts, TwiceNat};
use crate::types::IfIndex;

/// VPP lists busy ports in this protocol order.
const SHOW_ORDER: [NatProtocol; 3] = [NatProtocol::Udp, NatProtocol::Tcp, NatProtocol::Icmp];

/// `show nat44 interfaces`; `name` turns an index into the interface's name.
pub fn interfaces(table: &Nat44Table, name: impl Fn(IfIndex) -> String) -> String {
    let mut out = String::from("NAT44 interfaces:\n");
    let mut roles = table.interface_roles().to_vec();
    roles.sort_by_key(|(i, _)| *i);
    for (ifindex, role) in roles {
        let sides = match (role.inside, role.outside) {
            (true, true) => "in out",
            (true, false) => "in",
            _ => "out",
        };
        let feature = if role.output_feature {
            " output-feature"
        } else {
            ""
        };
        let _ = writeln!(out, " {}{feature} {sides}", name(ifindex));
    }
    out
}

/// `show nat44 interface address`: VPP's two lists of interfaces whose address is a
/// pool address.
pub fn interface_addresses(table: &Nat44Table, name: impl Fn(IfIndex) -> String) -> String {
    let mut out = String::new();
    for (title, twice_nat) in [
        ("NAT44 pool address interfaces:", false),
        ("NAT44 twice-nat pool address interfaces:", true),
    ] {
        let _ = writeln!(out, "{title}");
        for &(interface, _) in table
            .interface_addresses()
            .iter()
            .filter(|a| a.1 == twice_nat)
        {
            let _ = writeln!(out, "  {}", name(interface));
        }
    }
    out
}

/// `show nat44 addresses`, with the busy ports of this worker.
pub fn addresses(config: &Nat44Config, worker: &Nat44Worker) -> String {
    let mut out = String::from("NAT44 pool addresses:\n");
    pool(&mut out, config.pool(), worker.snat_ports());
    out.push_str("NAT44 twice-nat pool addresses:\n");
    pool(&mut out, config.twice_nat_pool(), worker.twice_nat_ports());
    out
}

/// `show nat44 summary` for one worker, in VPP nat44-ed's lines (its limit is the
/// one fib's), then what its table did. `now` is the worker's clock in seconds: a
/// session past its timeout and not yet swept counts as timed out, a closed TCP
/// connection as VPP's WAIT-CLOSED until then and CLOSED after.
pub fn summary(config: &Nat44Config, worker: &Nat44Worker, now: u32) -> String {
    let table = worker.sessions();
    let lists = table.list_lengths();
    let (mut timed_out, mut wait_closed, mut closed) = (0u32, 0u32, 0u32);
    for s in table.indices().filter_map(|i| table.get(i)) {
        let expired = s.expires_at(&config.timeouts) <= now;
        timed_out += u32::from(expired);
        if s.is_closed() {
            *if expired {
                &mut closed
            } else {
                &mut wait_closed
            } += 1;
        }
    }
    let transitory = lists.tcp_transitory + lists.tcp_closed;
    let c = &worker.counters;
    format!(
        "max translations per thread: {} fib 0\n\
         total timed out sessions: {timed_out}\n\
         total sessions: {}\n\
         total tcp sessions: {}\n\
         total tcp established sessions: {}\n\
         total tcp transitory sessions: {transitory}\n\
         total tcp transitory (WAIT-CLOSED) sessions: {wait_closed}\n\
         total tcp transitory (CLOSED) sessions: {closed}\n\
         total udp sessions: {}\n\
         total icmp sessions: {}\n\
         total other sessions: 0\n\
         session table: {} slots; created {}, expired {}, deleted {}\n\
         at the limit: {} given up for new flows, {} new flows refused (limit {}, table full {})\n",
        worker.session_limit(config),
        table.len(),
        lists.tcp_established + transitory,
        lists.tcp_established,
        lists.udp,
        lists.icmp,
        table.capacity(),
        c.sessions_created,
        c.sessions_expired,
        c.sessions_deleted,
        c.sessions_recycled,
        c.session_limit_hits + c.table_full_hits,
        c.session_limit_hits,
        c.table_full_hits,
    )
}

fn pool(out: &mut String, addrs: &[Ipv4Addr], ports: &PortAllocator) {
    for addr in addrs {
        let _ = writeln!(out, "{addr}\n  tenant VRF independent");
        for proto in SHOW_ORDER {
            let _ = writeln!(
                out,
                "  {} busy {proto} ports",
                ports.busy_count(*addr, proto)
            );
        }
    }
}

fn flag_words(twice_nat: TwiceNat, out2in_only: bool) -> String {
    let mut s = String::new();
    if twice_nat != TwiceNat::No {
        s.push(' ');
        s.push_str(twice_nat.keyword());
    }
    if out2in_only {
        s.push_str(" out2in-only");
    }
    s
}

/// `show nat44 static mappings`, as VPP's `format_snat_static_mapping` (without its
/// trailing spaces where a flag is not set). A load-balanced mapping's locals print
/// their probability as given, with no `%`: VPP's format string ends in `%`, which its
/// `format` drops.
pub fn static_mappings(table: &Nat44Table) -> String {
    let mut out = String::from("NAT44 static mappings:\n");
    for m in table.static_mappings() {
        let words = flag_words(m.twice_nat, m.out2in_only);
        match (m.local.1, m.external.1) {
            (Some(lp), Some(ep)) => {
                let _ = writeln!(
                    out,
                    " {} local {}:{lp} external {}:{ep} vrf 0{words}",
                    m.proto, m.local.0, m.external.0
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    " local {} external {} vrf 0{words}",
                    m.local.0, m.external.0
                );
            }
        }
    }
    // VPP's words for an identity mapping, with the vrf of its one local.
    for m in table.identity_mappings() {
        match m.proto_port {
            Some((proto, port)) => {
                let _ = writeln!(out, " identity mapping {proto} {}:{port} vrf 0", m.addr);
            }
            None => {
                let _ = writeln!(out, " identity mapping {} vrf 0", m.addr);
            }
        }
    }
    for m in table.lb_mappings() {
        let words = flag_words(m.twice_nat, m.out2in_only);
        let _ = writeln!(
            out,
            " {} external {}:{}{words}",
            m.proto, m.external.0, m.external.1
        );
        for l in &m.locals {
            let _ = writeln!(
                out,
                "  local {}:{} vrf 0 probability {}",
                l.addr, l.port, l.probability
            );
        }
    }
    out
}

/// `show nat timeouts`, in VPP's words.
pub fn timeouts(t: super::NatTimeouts) -> String {
    format!(
        "udp timeout: {}sec\ntcp-established timeout: {}sec\ntcp-transitory timeout: {}sec\n\
         icmp timeout: {}sec\n",
        t.udp, t.tcp_established, t.tcp_transitory, t.icmp
    )
}

/// `show nat44 sessions [detail]` for one worker, its sessions grouped by inside
/// address as VPP groups them by user; the executor heads the workers' parts. `now` is
/// the worker's clock in seconds, the one `last heard` counts on.
pub fn sessions(
    config: &Nat44Config,
    worker: &Nat44Worker,
    thread: crate::pipeline::WorkerThread,
    detail: bool,
    now: u32,
) -> String {
    let table = worker.sessions();
    let mut users: BTreeMap<Ipv4Addr, Vec<(u32, Session)>> = BTreeMap::new();
    for index in table.indices() {
        if let Some(s) = table.get(index) {
            users.entry(s.in_local).or_default().push((index, *s));
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "-------- {thread}: {} sessions --------", table.len());
    for (user, mut list) in users {
        list.sort_by_key(|(i, _)| *i);
        let statics = list.iter().filter(|(_, s)| s.has(flags::STATIC)).count();
        let _ = writeln!(
            out,
            "  {user}: {} dynamic translations, {statics} static translations",
            list.len() - statics
        );
        if detail {
            for (index, s) in &list {
                session_detail(&mut out, *index, s, &config.timeouts, now);
            }
        }
    }
    out
}

/// One session as VPP's `format_snat_session` prints it. `last heard` is whole seconds on
/// the worker's clock (VPP: seconds of vlib time, with two decimals); `timeout in` is
/// what is left of its idle timeout, negative once expired and not yet swept (as VPP's).
fn session_detail(out: &mut String, index: u32, s: &Session, timeouts: &NatTimeouts, now: u32) {
    let _ = writeln!(
        out,
        "    i2o {} proto {} port {} fib 0",
        s.in_local, s.proto, s.in_local_port
    );
    let _ = writeln!(
        out,
        "    o2i {} proto {} port {} fib 0",
        s.out_local, s.proto, s.out_local_port
    );
    if s.has(flags::TWICE_NAT) {
        let _ = writeln!(
            out,
            "       external host o2i {}:{} i2o {}:{}",
            s.out_remote, s.out_remote_port, s.in_remote, s.in_remote_port
        );
    } else {
        let _ = writeln!(
            out,
            "       external host {}:{}",
            s.out_remote, s.out_remote_port
        );
    }
    let _ = writeln!(out, "       index {index}");
    let _ = writeln!(out, "       last heard {}", s.last_heard);
    let _ = writeln!(
        out,
        "       timeout in {}",
        i64::from(s.expires_at(timeouts)) - i64::from(now)
    );
    let _ = writeln!(
        out,
        "       total pkts {}, total bytes {}",
        s.packets, s.bytes
    );
    let kind = if s.has(flags::STATIC) {
        "static"
    } else {
        "dynamic"
    };
    let _ = writeln!(out, "       {kind} translation");
    if s.has(flags::FORWARDING_BYPASS) {
        let _ = writeln!(out, "       forwarding-bypass");
    }
    if s.has(flags::LOAD_BALANCED) {
        let _ = writeln!(out, "       load-balancing");
    }
    if s.has(flags::TWICE_NAT) {
        let _ = writeln!(out, "       twice-nat");
    }
}
