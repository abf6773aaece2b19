//! The CLI grammar: one line of VPP-syntax text in, one typed [`Command`] out.
//!
//! Every command is one entry of [`COMMANDS`] (its path words, usage, help and a pure
//! parser over a [`Cursor`]). Command words may be abbreviated to any unique prefix, as in
//! VPP (`sh int`, `sh ip fib`); arguments and keywords may not. Execution is elsewhere:
//! nothing here touches the control plane, so a bad line changes nothing by construction.

mod acl;
mod cursor;
mod display;
mod nat44;
mod table;

use std::net::Ipv4Addr;

pub use cursor::{tokenize, Cursor, Token};

/// `ping`: ICMP echo requests from the data plane, as VPP's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingArgs {
    pub dst: Ipv4Addr,
    /// The interface whose address is the source; `None`: the one the route leaves by.
    pub source: Option<String>,
    /// Bytes of ICMP data.
    pub size: u16,
    pub interval_ms: u32,
    pub repeat: u32,
}

impl PingArgs {
    /// VPP's defaults.
    pub const DEFAULT_SIZE: u16 = 60;
    pub const DEFAULT_INTERVAL_MS: u32 = 1000;
    pub const DEFAULT_REPEAT: u32 = 5;
    /// What fits the largest MTU podfwd takes ([`crate::config::MTU_RANGE`]) after the
    /// IPv4 and ICMP headers; the route's interface's MTU bounds it when the ping runs.
    /// The data starts with the send time, 8 bytes.
    pub const SIZE: std::ops::RangeInclusive<u32> =
        8..=(*crate::config::MTU_RANGE.end() as u32 - Self::HEADERS);
    /// The IPv4 and ICMP echo headers around the data.
    pub const HEADERS: u32 = 28;
    /// One request a minute at the slowest (a ping holds its client for its run).
    pub const INTERVAL_MS: std::ops::RangeInclusive<u32> = 1..=60_000;
    pub const REPEAT: std::ops::RangeInclusive<u32> = 1..=1000;
}

/// `pcap trace`: VPP's packet capture to a pcap file in /tmp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PcapTrace {
    Start(PcapCapture),
    /// `pcap trace off`: stop, and write what was captured.
    Off,
    /// `pcap trace status`
    Status,
}

/// What a capture takes: the directions, up to `max` packets, each cut at `max_bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapCapture {
    pub rx: bool,
    pub tx: bool,
    pub drop: bool,
    pub max: u32,
    pub max_bytes: u32,
    /// `None`: any interface.
    pub interface: Option<String>,
    /// A name in /tmp; `None`: VPP's default, `/tmp/rx.pcap`, `/tmp/rxtx.pcap`, ...
    pub file: Option<String>,
}

impl PcapCapture {
    /// VPP's words for the directions: `rx and tx`, `drop`, ... (`joiner` " and ").
    pub fn directions(&self, joiner: &str) -> String {
        let words = [(self.rx, "rx"), (self.tx, "tx"), (self.drop, "drop")];
        let on: Vec<&str> = words.iter().filter(|w| w.0).map(|w| w.1).collect();
        on.join(joiner)
    }
}

impl PcapTrace {
    /// VPP's defaults.
    pub const DEFAULT_MAX: u32 = 1000;
    pub const DEFAULT_MAX_BYTES: u32 = 512;
    /// VPP's bounds for `max-bytes-per-pkt`.
    pub const MAX_BYTES: std::ops::RangeInclusive<u32> = 32..=9000;
    /// Each worker keeps up to `max` packets in memory until `off`; this bounds it.
    pub const MAX_PACKETS: u32 = 1_000_000;
}

/// How much `show hardware-interfaces` prints: VPP's `brief|verbose|detail` word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HardwareDetail {
    /// The first line per interface (`brief`).
    Brief,
    /// No word.
    #[default]
    Normal,
    /// `verbose` or `detail`.
    Detail,
}
pub use table::{CommandSpec, COMMANDS};

use crate::acl::{AclRule, Direction, TimeoutKind};
use crate::counters::RuntimeView;
use crate::nat44::{IdentityMapping, LbStaticMapping, NatProtocol, SessionSelector, StaticMapping};
use crate::node::InputKind;
use crate::types::{Ipv4Prefix, MacAddr};

/// What a route forwards to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoutePath {
    /// `via A.B.C.D [NAME]`: the interface is found from the next hop when not given.
    NextHop {
        next_hop: Ipv4Addr,
        interface: Option<String>,
    },
    /// `via NAME`: an attached route, destinations are resolved on the link.
    Interface { interface: String },
    /// `drop`.
    Drop,
}

/// An interface as a `show` command names it: by name, or by VPP's `sw_if_index N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterfaceRef {
    Name(String),
    SwIfIndex(u32),
}

impl std::fmt::Display for InterfaceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterfaceRef::Name(name) => f.write_str(name),
            InterfaceRef::SwIfIndex(n) => write!(f, "sw_if_index {n}"),
        }
    }
}

/// One parsed command line. Interface names stay strings: they are resolved when the
/// command runs, against the interfaces that exist then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    // Interfaces.
    /// `show interface [NAME ...]` (every interface when none is named)
    ShowInterface {
        names: Vec<String>,
    },
    /// `show interface address [NAME ...]`
    ShowInterfaceAddress {
        names: Vec<String>,
    },
    /// `show interface rx-placement`
    ShowInterfaceRxPlacement,
    /// `show hardware-interfaces [brief|verbose|detail] [NAME]`
    ShowHardwareInterfaces {
        detail: HardwareDetail,
        name: Option<String>,
    },
    /// `set interface state NAME up|down`
    SetInterfaceState {
        interface: String,
        up: bool,
    },
    /// `set interface mac address NAME MAC`
    SetInterfaceMac {
        interface: String,
        mac: MacAddr,
    },
    /// `set interface ip address [del] NAME A.B.C.D/LEN`
    SetInterfaceIpAddress {
        interface: String,
        prefix: Ipv4Prefix,
        del: bool,
    },
    /// `set interface ip address del NAME all`
    DelInterfaceAddresses {
        interface: String,
    },
    /// `set interface mtu N NAME`
    SetInterfaceMtu {
        interface: String,
        mtu: u16,
    },

    // Routing and neighbours.
    /// `ip route add PREFIX/LEN via A.B.C.D [NAME] | via NAME | drop`
    IpRouteAdd {
        prefix: Ipv4Prefix,
        path: RoutePath,
    },
    /// `ip route del PREFIX/LEN [via ... | drop]`; without a path, every path goes.
    IpRouteDel {
        prefix: Ipv4Prefix,
        path: Option<RoutePath>,
    },
    /// `show ip fib [PREFIX]`
    ShowIpFib {
        prefix: Option<Ipv4Prefix>,
    },
    /// `show ip fib summary`
    ShowIpFibSummary,
    /// `set ip neighbor [del] NAME A.B.C.D MAC [static] [no-fib-entry]`
    SetIpNeighbor {
        interface: String,
        ip: Ipv4Addr,
        mac: MacAddr,
        is_static: bool,
        no_fib_entry: bool,
        del: bool,
    },
    /// `show ip neighbors`, alias `show ip arp`
    /// `show ip neighbors [NAME]`
    ShowIpNeighbors {
        interface: Option<String>,
    },

    // Tracing and counters.
    /// `trace add NODE N`, NODE an input node (`virtio-input`, `vhost-user-input`, ...)
    TraceAdd {
        input: InputKind,
        count: u32,
    },
    /// `show trace [max N]`
    ShowTrace {
        max: Option<u32>,
    },
    ClearTrace,
    ShowErrors,
    /// `show runtime [brief|verbose] [max] [summary]`: `summary` only the lines above
    /// each thread's table.
    ShowRuntime {
        view: RuntimeView,
        summary: bool,
    },
    ClearErrors,
    ClearRuntime,
    ClearInterfaces,
    /// `clear hardware-interfaces [NAME]`
    ClearHardwareInterfaces {
        name: Option<String>,
    },
    /// `show version [verbose]`
    ShowVersion {
        verbose: bool,
    },
    /// `show dpdk version`: DPDK's version and the EAL's arguments.
    ShowDpdkVersion,
    ShowThreads,
    /// `show buffers`
    ShowBuffers,
    /// `show memory`
    ShowMemory,
    /// `show logging`: the last lines of podfwd's log.
    ShowLogging,
    /// `ping A.B.C.D [source NAME] [size N] [interval S] [repeat N]`
    Ping(PingArgs),
    /// `pcap trace [rx] [tx] [drop] [max N] [intfc NAME|any] [file NAME]
    /// [max-bytes-per-pkt N]`, `pcap trace off`, `pcap trace status`
    PcapTrace(PcapTrace),

    // The console itself.
    /// `exec FILE`
    Exec {
        file: String,
    },
    /// `comment {TEXT}`: VPP's command that does nothing.
    Comment,
    /// `quit` / `exit`
    Quit,
    /// `help [WORDS]`, `?`, `WORDS ?`: the resolved command words to show usage for
    /// (empty: list every command). Text from [`usage`] / [`help`].
    Help {
        words: Vec<&'static str>,
    },

    // ACL (acl-plugin).
    /// `set acl-plugin acl [index N] RULE, RULE, ... [tag T]`: creates, or replaces ACL N.
    SetAcl {
        index: Option<u32>,
        rules: Vec<AclRule>,
        tag: Option<String>,
    },
    /// `delete acl-plugin acl index N`
    DeleteAcl {
        index: u32,
    },
    /// `set acl-plugin interface NAME input|output acl N [del]`
    SetAclInterface {
        interface: String,
        direction: Direction,
        acl: u32,
        del: bool,
    },
    /// `show acl-plugin acl [index N]`
    ShowAcl {
        index: Option<u32>,
    },
    /// `show acl-plugin interface [NAME | sw_if_index N] [acl]`
    ShowAclInterface {
        interface: Option<InterfaceRef>,
        /// `acl`: each applied ACL's rules too.
        acls: bool,
    },
    /// `show acl-plugin sessions [thread T index I]`: every worker's sessions (a
    /// bounded number listed), or VPP's one session by thread and index.
    ShowAclSessions {
        one: Option<(u32, u32)>,
    },
    /// `clear acl-plugin sessions`: every worker's reflective sessions.
    ClearAclSessions,
    /// `show acl-plugin tables`: how each interface's rules are looked up.
    ShowAclTables,
    /// `set acl-plugin session timeout tcp-transient|tcp-established|udp|other N`, or
    /// VPP's `tcp transient|tcp idle|udp idle N`: the session types whose timeout it
    /// sets (`udp idle` sets two, see `acl::UDP_IDLE`).
    SetAclSessionTimeout {
        timeouts: &'static [TimeoutKind],
        secs: u32,
    },
    /// `set acl-plugin session table max-entries N`
    SetAclSessionMaxEntries {
        max: u32,
    },
    /// `set acl-plugin reclassify-sessions N` (VPP's: any N but 0 turns it on)
    SetAclReclassifySessions {
        on: bool,
    },

    // NAT44.
    /// `nat44 add|del address A [- B] [twice-nat] [del]`
    Nat44Address {
        first: Ipv4Addr,
        last: Ipv4Addr,
        twice_nat: bool,
        del: bool,
    },
    /// `nat44 add interface address NAME [twice-nat] [del]`
    Nat44InterfaceAddress {
        interface: String,
        twice_nat: bool,
        del: bool,
    },
    /// `show nat44 interface address`
    ShowNat44InterfaceAddress,
    /// `nat44 add|del static mapping ...`
    Nat44StaticMapping {
        mapping: StaticMapping,
        del: bool,
    },
    /// `nat44 add|del load-balancing static mapping ...`; a `del` may omit the locals.
    Nat44LbStaticMapping {
        mapping: LbStaticMapping,
        del: bool,
    },
    /// `nat44 add load-balancing back-end protocol tcp|udp external IP:PORT local IP:PORT
    /// probability N [del]` (VPP 19.04's): one local of an existing mapping; a `del` may
    /// omit the probability.
    Nat44LbBackend {
        proto: NatProtocol,
        external: (Ipv4Addr, u16),
        local: (Ipv4Addr, u16),
        probability: Option<u8>,
        del: bool,
    },
    /// `nat44 add|del identity mapping IP [tcp|udp PORT]`
    Nat44IdentityMapping {
        mapping: IdentityMapping,
        del: bool,
    },
    /// `nat44 forwarding enable|disable`
    Nat44Forwarding {
        enable: bool,
    },
    /// `set interface nat44 in NAME [out NAME] [output-feature] [del]` (in/out repeatable)
    SetInterfaceNat44 {
        inside: Vec<String>,
        outside: Vec<String>,
        output_feature: bool,
        del: bool,
    },
    /// `set nat timeout [reset] udp|tcp-established|tcp-transitory|icmp N ...`; only the
    /// given timeouts change, from their defaults after `reset`.
    SetNatTimeout {
        reset: bool,
        udp: Option<u32>,
        tcp_established: Option<u32>,
        tcp_transitory: Option<u32>,
        icmp: Option<u32>,
    },
    /// `nat44 session limit N`
    Nat44SessionLimit {
        limit: u32,
    },
    ShowNat44Interfaces,
    ShowNat44Addresses,
    /// `show flow-cache`: ip4-flow-cache's size and counters, per worker.
    ShowFlowCache,
    ShowNat44StaticMappings,
    /// `show nat44 summary`: per worker, sessions by expiry list and the table's
    /// counters (created, recycled and refused at the limit, expired).
    ShowNat44Summary,
    /// `show nat timeouts`
    ShowNatTimeouts,
    /// `show nat44 sessions [detail]`
    ShowNat44Sessions {
        detail: bool,
    },
    /// `nat44 del session in|out IP:PORT tcp|udp|icmp [vrf 0] [external-host IP:PORT]`:
    /// with external-host one session, without it every session of that endpoint.
    /// `clear nat44 sessions`: every worker's NAT44 sessions.
    ClearNat44Sessions,
    Nat44DelSession {
        selector: SessionSelector,
    },
}

impl Command {
    /// Whether this is a `show` command (or `ping`, which reads the published FIB).
    /// Inside a batch (`exec`, the startup file) these first publish what the batch
    /// changed, so that they show the lines before them however they read it: from the
    /// tables, the built classifiers or the workers.
    pub fn is_show(&self) -> bool {
        use Command as C;
        matches!(
            self,
            C::Ping(_)
                | C::ShowInterface { .. }
                | C::ShowInterfaceAddress { .. }
                | C::ShowInterfaceRxPlacement
                | C::ShowHardwareInterfaces { .. }
                | C::ShowIpFib { .. }
                | C::ShowIpFibSummary
                | C::ShowIpNeighbors { .. }
                | C::ShowTrace { .. }
                | C::ShowErrors
                | C::ShowRuntime { .. }
                | C::ShowVersion { .. }
                | C::ShowDpdkVersion
                | C::ShowThreads
                | C::ShowBuffers
                | C::ShowMemory
                | C::ShowLogging
                | C::ShowAcl { .. }
                | C::ShowAclInterface { .. }
                | C::ShowAclSessions { .. }
                | C::ShowAclTables
                | C::ShowNat44Interfaces
                | C::ShowNat44InterfaceAddress
                | C::ShowNat44Addresses
                | C::ShowFlowCache
                | C::ShowNat44StaticMappings
                | C::ShowNat44Summary
                | C::ShowNatTimeouts
                | C::ShowNat44Sessions { .. }
        )
    }
}

/// Where a line's command words lead.
struct Resolved {
    /// The full words matched so far.
    words: Vec<&'static str>,
    /// How many tokens they took.
    consumed: usize,
    /// The command those words name, if they name a whole one.
    spec: Option<&'static CommandSpec>,
}

/// Matches command words against the table, each word by exact match or unique prefix.
/// Stops at the first token that is no command word when the words so far name a
/// command (the token is then its first argument), or at the end of `tokens`.
fn resolve(line: &str, tokens: &[Token<'_>]) -> Result<Resolved, String> {
    let mut candidates: Vec<&'static CommandSpec> = COMMANDS.iter().collect();
    let mut words: Vec<&'static str> = Vec::new();
    loop {
        let depth = words.len();
        let complete = candidates.iter().copied().find(|s| s.path.len() == depth);
        let mut next_words: Vec<&'static str> = candidates
            .iter()
            .filter_map(|s| s.path.get(depth).copied())
            .collect();
        next_words.sort_unstable();
        next_words.dedup();
        let Some(token) = tokens.get(depth) else {
            return Ok(Resolved {
                words,
                consumed: depth,
                spec: complete,
            });
        };
        let exact = next_words.iter().copied().find(|w| *w == token.text);
        let word = if exact.is_some() {
            exact
        } else {
            let matches: Vec<&'static str> = next_words
                .iter()
                .copied()
                .filter(|w| w.starts_with(token.text))
                .collect();
            match matches.as_slice() {
                [one] => Some(*one),
                [] => None,
                many => {
                    return Err(format!(
                        "ambiguous input '{}': could be {}",
                        token.text,
                        cursor::one_of(many)
                    ))
                }
            }
        };
        match word {
            Some(word) => {
                candidates.retain(|s| s.path.get(depth) == Some(&word));
                words.push(word);
            }
            None if complete.is_some() || depth > 0 => {
                return Ok(Resolved {
                    words,
                    consumed: depth,
                    spec: complete,
                })
            }
            None => {
                return Err(format!(
                    "unknown input '{}'",
                    line[token.start..].trim_end()
                ))
            }
        }
    }
}

/// The error for words that lead somewhere but not to a whole command (`show ip`).
fn incomplete(words: &[&str], line: &str, tokens: &[Token<'_>], consumed: usize) -> String {
    if let Some(token) = tokens.get(consumed) {
        return format!("unknown input '{}'", line[token.start..].trim_end());
    }
    let mut next: Vec<&str> = COMMANDS
        .iter()
        .filter(|s| s.path.starts_with(words))
        .filter_map(|s| s.path.get(words.len()).copied())
        .collect();
    next.sort_unstable();
    next.dedup();
    format!(
        "{}: incomplete command, expected {}",
        words.join(" "),
        cursor::one_of(&next)
    )
}

/// Parses one line. `Ok(None)` for a blank line or a `#` comment.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let mut tokens = tokenize(line);
    // `<command> ?` asks for usage; a lone `?` is the help command itself.
    if tokens.len() > 1 && tokens.last().map(|t| t.text) == Some("?") {
        let question = tokens.pop().map_or(line.len(), |t| t.start);
        let words = help_words(&line[..question], &tokens)?;
        return Ok(Some(Command::Help { words }));
    }
    let resolved = resolve(line, &tokens)?;
    let Some(spec) = resolved.spec else {
        return Err(incomplete(
            &resolved.words,
            line,
            &tokens,
            resolved.consumed,
        ));
    };
    let mut cursor = Cursor::new(line, tokens, resolved.consumed, spec.path);
    let command = (spec.parse)(&mut cursor)?;
    cursor.end()?;
    Ok(Some(command))
}

/// The command words that `tokens` name, for usage: as far as they are command words.
pub(crate) fn help_words(line: &str, tokens: &[Token<'_>]) -> Result<Vec<&'static str>, String> {
    let resolved = resolve(line, tokens)?;
    Ok(resolved.words)
}

/// Every command, one line each: its words and what it does.
pub fn help() -> String {
    let width = COMMANDS
        .iter()
        .map(|s| s.path.join(" ").len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for spec in COMMANDS {
        out.push_str(&format!(
            "  {:<width$}  {}\n",
            spec.path.join(" "),
            spec.help
        ));
    }
    out
}

/// The usage of every command whose words start with `words` (abbreviations allowed);
/// all commands' list when `words` is empty.
pub fn usage(words: &[&str]) -> Result<String, String> {
    if words.is_empty() {
        return Ok(help());
    }
    let line = words.join(" ");
    let tokens = tokenize(&line);
    let resolved = resolve(&line, &tokens)?;
    if let Some(token) = tokens.get(resolved.consumed) {
        return Err(format!(
            "unknown input '{}'",
            line[token.start..].trim_end()
        ));
    }
    let mut out = String::new();
    for spec in COMMANDS
        .iter()
        .filter(|s| s.path.starts_with(&resolved.words))
    {
        out.push_str(&format!("usage: {}\n  {}\n", spec.usage, spec.help));
    }
    Ok(out)
}

/// Parses a startup file: every command with its 1-based line number. The first bad line
/// fails the whole file as `LINE: message`; the caller puts the file name in front.
pub fn parse_startup_file(text: &str) -> Result<Vec<(usize, Command)>, String> {
    let mut commands = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if let Some(command) = parse(line).map_err(|e| format!("{number}: {e}"))? {
            commands.push((number, command));
        }
    }
    Ok(commands)
}

#[cfg(test)]
mod tests;
