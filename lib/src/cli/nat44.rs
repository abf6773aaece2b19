//! Parsers of the NAT44 commands (issue 6), in VPP's syntax. Each `add` form also takes
//! VPP's trailing `del`, and each has a `nat44 del ...` spelling.

use std::net::Ipv4Addr;

use crate::nat44::{
    IdentityMapping, LbLocal, LbStaticMapping, NatProtocol, SessionSelector, Side, StaticMapping,
    TwiceNat,
};

use super::acl::{SESSION_LIMIT_RANGE, TIMEOUT_RANGE};
use super::cursor::{parse_ipv4, Cursor};
use super::Command;

const PROTOCOLS: [(&str, NatProtocol); 3] = [
    ("tcp", NatProtocol::Tcp),
    ("udp", NatProtocol::Udp),
    ("icmp", NatProtocol::Icmp),
];
const PORT_PROTOCOLS: [(&str, NatProtocol); 2] =
    [("tcp", NatProtocol::Tcp), ("udp", NatProtocol::Udp)];
/// Kubernetes caps ClientIP affinity at a day (`timeoutSeconds` <= 86400).
const AFFINITY_RANGE: std::ops::RangeInclusive<u32> = 1..=86_400;

/// Port 0 names no TCP or UDP endpoint; an ICMP echo identifier may be 0.
fn port_range_for(proto: NatProtocol) -> std::ops::RangeInclusive<u32> {
    match proto {
        NatProtocol::Icmp => 0..=65_535,
        NatProtocol::Tcp | NatProtocol::Udp => 1..=65_535,
    }
}

fn port(c: &mut Cursor<'_>, what: &str, proto: NatProtocol) -> Result<u16, String> {
    let value = c.u32_in(what, port_range_for(proto))?;
    Ok(u16::try_from(value).unwrap_or(u16::MAX))
}

/// What an address-only mapping's `proto` holds: it maps every protocol, and neither the
/// tables, `show` nor `del` read it.
pub const ADDRESS_ONLY_PROTOCOL: NatProtocol = NatProtocol::Tcp;

/// The words that may follow a static mapping's address where no port is given.
const AFTER_MAPPING_ADDRESS: [&str; 7] = [
    "local",
    "external",
    "twice-nat",
    "self-twice-nat",
    "out2in-only",
    "del",
    "vrf",
];

/// A port after an address: absent at the end of the line or before one of
/// `followers`; any other word is read as the port, so that `http` or `+53` is refused
/// as a port rather than blamed on a missing one later.
fn optional_port(
    c: &mut Cursor<'_>,
    what: &str,
    proto: NatProtocol,
    followers: &[&str],
) -> Result<Option<u16>, String> {
    match c.peek() {
        Some(word) if !followers.contains(&word) => Ok(Some(port(c, what, proto)?)),
        _ => Ok(None),
    }
}

/// `A.B.C.D:PORT` with the port checked for the protocol.
fn endpoint(c: &mut Cursor<'_>, what: &str, proto: NatProtocol) -> Result<(Ipv4Addr, u16), String> {
    let (addr, port) = c.ip_port(what)?;
    let range = port_range_for(proto);
    if !range.contains(&u32::from(port)) {
        return Err(format!(
            "{what} {addr}:{port}: port must be in {}..={}",
            range.start(),
            range.end()
        ));
    }
    Ok((addr, port))
}

/// Sets a flag keyword's `slot`, refusing it if it was given already, as the ACL parser
/// refuses a repeated field: a repeat is usually a line edited wrong.
pub(super) fn set_once(c: &Cursor<'_>, slot: &mut bool, word: &str) -> Result<(), String> {
    if *slot {
        return Err(format!("{}: {word} given twice", c.command_name()));
    }
    *slot = true;
    Ok(())
}

/// The trailing `twice-nat` and `del` of the pool commands, each at most once, in any
/// order; `del_form` (the `nat44 del ...` spelling) starts with `del` set.
fn twice_nat_and_del(c: &mut Cursor<'_>, del_form: bool) -> Result<(bool, bool), String> {
    let (mut twice_nat, mut del) = (false, del_form);
    while let Some(word) = c.peek() {
        let slot = match word {
            "twice-nat" => &mut twice_nat,
            "del" => &mut del,
            _ => break,
        };
        set_once(c, slot, word)?;
        c.keyword(word);
    }
    Ok((twice_nat, del))
}

/// The trailing flags that static and load-balanced mappings share.
struct MappingFlags {
    twice_nat: TwiceNat,
    out2in_only: bool,
    del: bool,
}

impl MappingFlags {
    /// `del_form`: the command is spelt `nat44 del ...`, so a trailing `del` repeats it.
    fn new(del_form: bool) -> MappingFlags {
        MappingFlags {
            twice_nat: TwiceNat::No,
            out2in_only: false,
            del: del_form,
        }
    }

    /// Consumes one flag if one comes next; `Ok(false)` when the next word is none.
    fn take(&mut self, c: &mut Cursor<'_>) -> Result<bool, String> {
        let twice_nat = match c.peek() {
            Some("twice-nat") => TwiceNat::TwiceNat,
            Some("self-twice-nat") => TwiceNat::SelfTwiceNat,
            Some(word @ "out2in-only") => {
                set_once(c, &mut self.out2in_only, word)?;
                c.keyword(word);
                return Ok(true);
            }
            Some(word @ "del") => {
                set_once(c, &mut self.del, word)?;
                c.keyword(word);
                return Ok(true);
            }
            Some("vrf") => {
                c.table_zero("vrf", "table")?;
                return Ok(true);
            }
            _ => return Ok(false),
        };
        if self.twice_nat == twice_nat {
            return Err(format!(
                "{}: {} given twice",
                c.command_name(),
                twice_nat.keyword()
            ));
        }
        if self.twice_nat != TwiceNat::No {
            return Err(format!(
                "{}: give at most one of twice-nat and self-twice-nat",
                c.command_name()
            ));
        }
        c.keyword(twice_nat.keyword());
        self.twice_nat = twice_nat;
        Ok(true)
    }
}

/// `A.B.C.D [- A.B.C.D] [twice-nat] [del]`; also `A-B` without spaces.
pub(super) fn parse_address(c: &mut Cursor<'_>, del_form: bool) -> Result<Command, String> {
    let word = c.word("an address A.B.C.D [- A.B.C.D]")?;
    let (first, last) = match word.split_once('-') {
        Some((a, b)) => {
            let bad = || format!("address range '{word}': expected A.B.C.D - A.B.C.D");
            let first: Ipv4Addr = a.parse().map_err(|_| bad())?;
            let last: Ipv4Addr = b.parse().map_err(|_| bad())?;
            (first, last)
        }
        None => {
            let first = parse_ipv4(word)?;
            let last = if c.keyword("-") {
                c.ipv4("the last address of the range")?
            } else {
                first
            };
            (first, last)
        }
    };
    if last < first {
        return Err(format!(
            "address range {first} - {last}: first address above last"
        ));
    }
    let (twice_nat, del) = twice_nat_and_del(c, del_form)?;
    Ok(Command::Nat44Address {
        first,
        last,
        twice_nat,
        del,
    })
}

/// `nat44 add interface address NAME [twice-nat] [del]`, as VPP spells it.
pub(super) fn parse_interface_address(c: &mut Cursor<'_>) -> Result<Command, String> {
    let interface = c.word("an interface name")?.to_string();
    let (twice_nat, del) = twice_nat_and_del(c, false)?;
    Ok(Command::Nat44InterfaceAddress {
        interface,
        twice_nat,
        del,
    })
}

pub(super) fn parse_static_mapping(c: &mut Cursor<'_>, del_form: bool) -> Result<Command, String> {
    // VPP's address-only (1:1) form has no protocol; a mapping with ports needs one.
    // `given_proto` is read only where it matters: with ports.
    let given_proto = match c.peek() {
        Some("local") => None,
        _ => Some(c.choice(&PROTOCOLS)?),
    };
    let proto = given_proto.unwrap_or(ADDRESS_ONLY_PROTOCOL);
    let mut local = None;
    let mut external = None;
    let mut flags = MappingFlags::new(del_form);
    while let Some(word) = c.peek() {
        if flags.take(c)? {
            continue;
        }
        if !matches!(word, "local" | "external") {
            break;
        }
        let slot = if word == "local" {
            &mut local
        } else {
            &mut external
        };
        if slot.is_some() {
            return Err(format!("{}: {word} given twice", c.command_name()));
        }
        c.keyword(word);
        let addr = c.ipv4(&format!("the {word} address"))?;
        let port = optional_port(c, &format!("{word} port"), proto, &AFTER_MAPPING_ADDRESS)?;
        *slot = Some((addr, port));
    }
    let local = local.ok_or_else(|| c.missing("local A.B.C.D [PORT]"))?;
    let external = external.ok_or_else(|| c.missing("external A.B.C.D [PORT]"))?;
    match (local.1, external.1) {
        (Some(_), None) => {
            return Err(format!(
                "{}: a local port needs an external port",
                c.command_name()
            ))
        }
        (None, Some(_)) => {
            return Err(format!(
                "{}: an external port needs a local port",
                c.command_name()
            ))
        }
        // An address-only mapping maps every protocol: a protocol given (as issue 6's
        // grammar has it; VPP refuses one) changes nothing, and `show` and `del` go
        // without it.
        (None, None) => {
            if flags.twice_nat != TwiceNat::No {
                return Err(format!(
                    "{}: {} applies to mappings with ports only (VPP: twice NAT only for \
                     1:1 NAPT)",
                    c.command_name(),
                    flags.twice_nat.keyword()
                ));
            }
        }
        (Some(_), Some(_)) => {
            if given_proto.is_none() {
                return Err(format!(
                    "{}: a mapping with ports needs its protocol: tcp, udp or icmp before \
                     local",
                    c.command_name()
                ));
            }
        }
    }
    Ok(Command::Nat44StaticMapping {
        mapping: StaticMapping {
            proto: match local.1 {
                Some(_) => proto,
                None => ADDRESS_ONLY_PROTOCOL,
            },
            local,
            external,
            twice_nat: flags.twice_nat,
            out2in_only: flags.out2in_only,
        },
        del: flags.del,
    })
}

pub(super) fn parse_lb_static_mapping(
    c: &mut Cursor<'_>,
    del_form: bool,
) -> Result<Command, String> {
    // VPP says only "missing protocol"; the mapping starts with it here.
    if !c.keyword("protocol") {
        return Err(format!(
            "{}: missing protocol: the mapping starts protocol tcp|udp external A.B.C.D:PORT",
            c.command_name()
        ));
    }
    let proto = c.choice(&PORT_PROTOCOLS)?;
    c.expect_keyword("external")?;
    let external = endpoint(c, "external", proto)?;
    let mut locals: Vec<LbLocal> = Vec::new();
    let (mut affinity_secs, mut affinity_given) = (0, false);
    let mut flags = MappingFlags::new(del_form);
    loop {
        if flags.take(c)? {
            continue;
        }
        if c.peek() == Some("affinity") {
            set_once(c, &mut affinity_given, "affinity")?;
            c.keyword("affinity");
            affinity_secs = c.u32_in("affinity", AFFINITY_RANGE)?;
            continue;
        }
        if !c.keyword("local") {
            break;
        }
        let (addr, port) = endpoint(c, "local", proto)?;
        // VPP's `local A:P vrf N probability P`, as `show` prints it.
        c.table_zero("vrf", "table")?;
        c.expect_keyword("probability")?;
        let probability = c.u32_in("probability", 0..=255)?;
        if locals.iter().any(|l| l.addr == addr && l.port == port) {
            return Err(format!(
                "{}: local {addr}:{port} given twice",
                c.command_name()
            ));
        }
        locals.push(LbLocal {
            addr,
            port,
            probability: u8::try_from(probability).unwrap_or(u8::MAX),
        });
    }
    // A deletion is keyed by the external endpoint; its locals may be left out.
    if !flags.del {
        if locals.is_empty() {
            return Err(c.missing("local A.B.C.D:PORT probability N"));
        }
        // A single local is Contiv's plain service (probability 0), as the table takes it.
        if locals.len() > 1 && locals.iter().all(|l| l.probability == 0) {
            return Err(format!(
                "{}: the probabilities sum to 0, so no local could be chosen",
                c.command_name()
            ));
        }
    }
    Ok(Command::Nat44LbStaticMapping {
        mapping: LbStaticMapping {
            proto,
            external,
            locals,
            twice_nat: flags.twice_nat,
            out2in_only: flags.out2in_only,
            affinity_secs,
        },
        del: flags.del,
    })
}

/// `protocol tcp|udp external A:P local A:P [vrf 0] probability N [del]`: VPP 19.04's
/// `nat44 add load-balancing back-end`, whose deletion is its trailing `del` (here also
/// spelt `nat44 del ...`, where the probability may be left out).
pub(super) fn parse_lb_backend(c: &mut Cursor<'_>, del_form: bool) -> Result<Command, String> {
    if !c.keyword("protocol") {
        return Err(format!(
            "{}: missing protocol: the back-end starts protocol tcp|udp external A.B.C.D:PORT",
            c.command_name()
        ));
    }
    let proto = c.choice(&PORT_PROTOCOLS)?;
    c.expect_keyword("external")?;
    let external = endpoint(c, "external", proto)?;
    c.expect_keyword("local")?;
    let local = endpoint(c, "local", proto)?;
    c.table_zero("vrf", "table")?;
    let mut probability = None;
    if c.keyword("probability") {
        let p = c.u32_in("probability", 0..=255)?;
        probability = Some(u8::try_from(p).unwrap_or(u8::MAX));
    }
    let mut del = del_form;
    while c.peek() == Some("del") {
        set_once(c, &mut del, "del")?;
        c.keyword("del");
    }
    if !del && probability.is_none() {
        return Err(c.missing("probability N"));
    }
    Ok(Command::Nat44LbBackend {
        proto,
        external,
        local,
        probability,
        del,
    })
}

pub(super) fn parse_identity_mapping(
    c: &mut Cursor<'_>,
    del_form: bool,
) -> Result<Command, String> {
    let addr = c.ipv4("an address A.B.C.D")?;
    let proto_port = match c.peek() {
        Some("tcp" | "udp") => {
            let proto = c.choice(&PORT_PROTOCOLS)?;
            Some((proto, port(c, "port", proto)?))
        }
        _ => None,
    };
    c.table_zero("vrf", "table")?;
    let mut del = del_form;
    if c.peek() == Some("del") {
        set_once(c, &mut del, "del")?;
        c.keyword("del");
    }
    Ok(Command::Nat44IdentityMapping {
        mapping: IdentityMapping { addr, proto_port },
        del,
    })
}

pub(super) fn parse_set_interface_nat44(c: &mut Cursor<'_>) -> Result<Command, String> {
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    let mut output_feature = false;
    let mut del = false;
    while let Some(word) = c.peek() {
        match word {
            "in" | "out" => {
                c.keyword(word);
                let name = super::table::interface(c)?;
                let list = if word == "in" {
                    &mut inside
                } else {
                    &mut outside
                };
                if list.contains(&name) {
                    return Err(format!("set interface nat44: {word} {name} given twice"));
                }
                list.push(name);
            }
            "output-feature" | "del" => {
                let slot = if word == "del" {
                    &mut del
                } else {
                    &mut output_feature
                };
                set_once(c, slot, word)?;
                c.keyword(word);
            }
            _ => break,
        }
    }
    if inside.is_empty() && outside.is_empty() {
        return Err(c.missing("in NAME or out NAME"));
    }
    // podfwd's post-routing SNAT runs on outside interfaces only (issue 6).
    if output_feature && !inside.is_empty() {
        return Err(
            "set interface nat44: output-feature applies to out interfaces only".to_string(),
        );
    }
    Ok(Command::SetInterfaceNat44 {
        inside,
        outside,
        output_feature,
        del,
    })
}

/// `[reset] udp|tcp-established|tcp-transitory|icmp SECONDS ...`: `reset` (VPP's: every
/// timeout back to its default) comes first, as VPP would undo values given before it.
pub(super) fn parse_set_nat_timeout(c: &mut Cursor<'_>) -> Result<Command, String> {
    let reset = c.keyword("reset");
    let mut timeouts: [Option<u32>; 4] = [None; 4];
    let kinds = [
        ("udp", 0),
        ("tcp-established", 1),
        ("tcp-transitory", 2),
        ("icmp", 3),
    ];
    while let Some(kind) = c
        .peek()
        .filter(|word| kinds.iter().any(|(name, _)| name == word))
    {
        let slot = c.choice(&kinds)?;
        if timeouts[slot].is_some() {
            return Err(format!("set nat timeout: {kind} given twice"));
        }
        timeouts[slot] = Some(c.u32_in(kind, TIMEOUT_RANGE)?);
    }
    if c.peek() == Some("reset") {
        return Err(format!(
            "set nat timeout: {}reset undoes the timeouts before it: give it first",
            if reset { "reset given twice; " } else { "" }
        ));
    }
    if !reset && timeouts.iter().all(Option::is_none) {
        // The next word is no timeout kind (or there is none): say which were expected.
        c.choice(&[kinds.as_slice(), &[("reset", 0)]].concat())?;
    }
    let [udp, tcp_established, tcp_transitory, icmp] = timeouts;
    Ok(Command::SetNatTimeout {
        reset,
        udp,
        tcp_established,
        tcp_transitory,
        icmp,
    })
}

pub(super) fn parse_session_limit(c: &mut Cursor<'_>) -> Result<Command, String> {
    let limit = c.u32_in("limit", SESSION_LIMIT_RANGE)?;
    c.table_zero("vrf", "table")?;
    Ok(Command::Nat44SessionLimit { limit })
}

/// `in|out A.B.C.D:PORT tcp|udp|icmp [vrf 0] [external-host A.B.C.D:PORT]`.
pub(super) fn parse_del_session(c: &mut Cursor<'_>) -> Result<Command, String> {
    let side = c.choice(&[("in", Side::Inside), ("out", Side::Outside)])?;
    let local = c.ip_port(if side == Side::Inside { "in" } else { "out" })?;
    let proto = c.choice(&PROTOCOLS)?;
    let (mut external_host, mut vrf_given) = (None, false);
    while let Some(word) = c.peek() {
        match word {
            "vrf" => {
                set_once(c, &mut vrf_given, word)?;
                c.table_zero(word, "table")?;
            }
            "external-host" => {
                if external_host.is_some() {
                    return Err(format!("{}: {word} given twice", c.command_name()));
                }
                c.keyword(word);
                external_host = Some(c.ip_port(word)?);
            }
            _ => break,
        }
    }
    Ok(Command::Nat44DelSession {
        selector: SessionSelector {
            side,
            local,
            proto,
            external_host,
        },
    })
}
