//! Parsers of the `acl-plugin` commands (issue 5), in VPP's syntax.

use crate::acl::{AclAction, AclRule, Direction, TimeoutKind};

use super::cursor::Cursor;
use super::Command;

/// VPP's `~0` means "a new ACL" on the wire; as a typed index it is never valid.
const ACL_INDEX_RANGE: std::ops::RangeInclusive<u32> = 0..=u32::MAX - 1;
/// VPP stores the tag in 64 bytes with a terminating NUL.
const MAX_TAG_LEN: usize = 63;
/// Session timeouts up to a week; VPP's longest default is a day.
pub(super) const TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 1..=7 * 24 * 3600;
/// Per-worker session tables are pre-sized, so their limit bounds memory.
pub(super) const SESSION_LIMIT_RANGE: std::ops::RangeInclusive<u32> = 1..=16 * 1024 * 1024;

fn acl_index(c: &mut Cursor<'_>) -> Result<u32, String> {
    c.u32_in("ACL index", ACL_INDEX_RANGE)
}

pub(super) fn parse_set_acl(c: &mut Cursor<'_>) -> Result<Command, String> {
    let index = if c.keyword("index") {
        Some(acl_index(c)?)
    } else {
        None
    };
    let mut tag = None;
    let mut rules = Vec::new();
    loop {
        let number = rules.len() + 1;
        rules.push(parse_rule(c, number, &mut tag)?);
        if !c.keyword(",") {
            break;
        }
    }
    Ok(Command::SetAcl { index, rules, tag })
}

/// `tag T`, which names the whole ACL and may stand in any one rule.
fn parse_tag(c: &mut Cursor<'_>, tag: &mut Option<String>) -> Result<(), String> {
    let word = c.word("a tag")?;
    if tag.is_some() {
        return Err("set acl-plugin acl: tag given twice".to_string());
    }
    if word.len() > MAX_TAG_LEN {
        return Err(format!("tag '{word}': longer than {MAX_TAG_LEN} bytes"));
    }
    *tag = Some(word.to_string());
    Ok(())
}

/// One rule, up to the next comma: the action, then its fields in any order, each once.
fn parse_rule(
    c: &mut Cursor<'_>,
    number: usize,
    tag: &mut Option<String>,
) -> Result<AclRule, String> {
    let in_rule = |e: String| format!("rule {number}: {e}");
    if c.keyword("tag") {
        parse_tag(c, tag).map_err(in_rule)?;
    }
    let action = match c.peek() {
        None | Some(",") => {
            return Err(c.missing(&format!(
                "permit, deny or permit+reflect to start rule {number}"
            )))
        }
        Some(word) => word.parse::<AclAction>().map_err(in_rule)?,
    };
    c.word("")?;
    let mut rule = AclRule::any(action);
    let mut seen: Vec<&str> = Vec::new();
    while let Some(field) = c.peek() {
        if field == "," {
            break;
        }
        if !matches!(
            field,
            "src" | "dst" | "proto" | "sport" | "dport" | "tcpflags" | "tag"
        ) {
            return Err(in_rule(format!("unknown input '{field}'")));
        }
        if seen.contains(&field) {
            return Err(in_rule(format!("{field} given twice")));
        }
        seen.push(field);
        c.word("")?;
        match field {
            "src" => rule.src = c.prefix().map_err(in_rule)?,
            "dst" => rule.dst = c.prefix().map_err(in_rule)?,
            "proto" => rule.proto = byte(c, "proto").map_err(in_rule)?,
            "sport" => rule.sport = c.port_range().map_err(in_rule)?,
            "dport" => rule.dport = c.port_range().map_err(in_rule)?,
            "tcpflags" => {
                rule.tcp_flags_value = byte(c, "tcpflags value").map_err(in_rule)?;
                // `tcpflags V M`, or `tcpflags V mask M` as `show acl-plugin acl` prints
                // it (VPP's unformat takes both).
                c.keyword("mask");
                rule.tcp_flags_mask = byte(c, "tcpflags mask").map_err(in_rule)?;
            }
            _ => parse_tag(c, tag).map_err(in_rule)?,
        }
    }
    rule.validate().map_err(in_rule)?;
    Ok(rule)
}

fn byte(c: &mut Cursor<'_>, what: &str) -> Result<u8, String> {
    let value = c.u32_in(what, 0..=255)?;
    Ok(u8::try_from(value).unwrap_or(u8::MAX))
}

pub(super) fn parse_delete_acl(c: &mut Cursor<'_>) -> Result<Command, String> {
    c.expect_keyword("index")?;
    Ok(Command::DeleteAcl {
        index: acl_index(c)?,
    })
}

pub(super) fn parse_set_acl_interface(c: &mut Cursor<'_>) -> Result<Command, String> {
    let interface = super::table::interface(c)?;
    let direction = c.choice(&[("input", Direction::Input), ("output", Direction::Output)])?;
    c.expect_keyword("acl")?;
    let acl = acl_index(c)?;
    let del = c.keyword("del");
    Ok(Command::SetAclInterface {
        interface,
        direction,
        acl,
        del,
    })
}

pub(super) fn parse_show_acl(c: &mut Cursor<'_>) -> Result<Command, String> {
    let index = if c.keyword("index") {
        Some(acl_index(c)?)
    } else {
        None
    };
    Ok(Command::ShowAcl { index })
}

/// What VPP's `udp idle` sets: in VPP it is the timeout of every session that is not
/// TCP (`acl_fa_get_session_timeout` gives all but TCP `ACL_TIMEOUT_UDP_IDLE`), so it is
/// ours for UDP and for other protocols both. Our own `udp` and `other` set one each.
pub(super) const UDP_IDLE: &[TimeoutKind] = &[TimeoutKind::Udp, TimeoutKind::Other];

/// `tcp-transient|tcp-established|udp|other N`, and VPP's own spellings: `tcp transient
/// N`, `tcp idle N` (established), `udp idle N` (UDP and other: [`UDP_IDLE`]).
pub(super) fn parse_session_timeout(c: &mut Cursor<'_>) -> Result<Command, String> {
    let timeouts = if c.keyword("tcp") {
        only(c.choice(&[
            ("transient", TimeoutKind::TcpTransient),
            ("idle", TimeoutKind::TcpEstablished),
        ])?)
    } else if c.keyword("udp") {
        if c.keyword("idle") {
            UDP_IDLE
        } else {
            only(TimeoutKind::Udp)
        }
    } else {
        let kinds = TimeoutKind::ALL.map(|kind| (kind.name(), kind));
        // The error lists VPP's spellings too: a VPP user types those first.
        only(c.choice(&kinds).map_err(|e| {
            e.replacen(
                "udp or other",
                "udp, other, tcp transient, tcp idle or udp idle",
                1,
            )
        })?)
    };
    let secs = c.u32_in("timeout", TIMEOUT_RANGE)?;
    Ok(Command::SetAclSessionTimeout { timeouts, secs })
}

/// The one timeout `kind`, as the list a command sets.
fn only(kind: TimeoutKind) -> &'static [TimeoutKind] {
    match kind {
        TimeoutKind::TcpTransient => &[TimeoutKind::TcpTransient],
        TimeoutKind::TcpEstablished => &[TimeoutKind::TcpEstablished],
        TimeoutKind::Udp => &[TimeoutKind::Udp],
        TimeoutKind::Other => &[TimeoutKind::Other],
    }
}

pub(super) fn parse_session_max_entries(c: &mut Cursor<'_>) -> Result<Command, String> {
    Ok(Command::SetAclSessionMaxEntries {
        max: c.u32_in("max-entries", SESSION_LIMIT_RANGE)?,
    })
}

/// VPP's `reclassify-sessions %u`: any number but 0 turns it on.
pub(super) fn parse_reclassify_sessions(c: &mut Cursor<'_>) -> Result<Command, String> {
    let value = c.u32_in("reclassify-sessions", 0..=u32::MAX)?;
    Ok(Command::SetAclReclassifySessions { on: value != 0 })
}

/// `show acl-plugin sessions [thread T index I]`: VPP's form for one session, by the
/// worker's thread number (workers count from 1) and its index there.
pub(super) fn parse_show_sessions(c: &mut Cursor<'_>) -> Result<Command, String> {
    if !c.keyword("thread") {
        return Ok(Command::ShowAclSessions { one: None });
    }
    let thread = c.u32_in("thread", 1..=u32::MAX)?;
    c.expect_keyword("index")?;
    let index = c.u32_in("index", 0..=u32::MAX)?;
    Ok(Command::ShowAclSessions {
        one: Some((thread, index)),
    })
}
