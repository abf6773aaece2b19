//! A token cursor in the style of VPP's `unformat`: each call consumes one typed value
//! or fails with a sentence that names the command and what it expected.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use crate::acl::PortRange;
use crate::types::{Ipv4Prefix, MacAddr};

/// One whitespace-separated word of a line, with where it starts (so `rest()` can hand
/// back the line's own text, spaces included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub start: usize,
}

/// Splits a line into words. A comma is a word of its own even when glued to its
/// neighbours, because ACL rules are written `permit src 10.1.1.0/24, deny`.
pub fn tokenize(line: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut start: Option<usize> = None;
    for (i, ch) in line.char_indices() {
        if ch.is_whitespace() || ch == ',' {
            if let Some(s) = start.take() {
                tokens.push(Token {
                    text: &line[s..i],
                    start: s,
                });
            }
            if ch == ',' {
                tokens.push(Token {
                    text: &line[i..i + 1],
                    start: i,
                });
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        tokens.push(Token {
            text: &line[s..],
            start: s,
        });
    }
    tokens
}

/// The arguments of one command, after its path words.
pub struct Cursor<'a> {
    line: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
    command: &'static [&'static str],
}

impl<'a> Cursor<'a> {
    /// A cursor over `tokens[pos..]` of `line`, for the command named by `command`.
    pub fn new(
        line: &'a str,
        tokens: Vec<Token<'a>>,
        pos: usize,
        command: &'static [&'static str],
    ) -> Cursor<'a> {
        Cursor {
            line,
            tokens,
            pos,
            command,
        }
    }

    /// A cursor over a whole line; for tests of single parsers.
    #[cfg(test)]
    pub fn over(line: &'a str, command: &'static [&'static str]) -> Cursor<'a> {
        Cursor::new(line, tokenize(line), 0, command)
    }

    pub fn command_name(&self) -> String {
        self.command.join(" ")
    }

    pub fn peek(&self) -> Option<&'a str> {
        self.tokens.get(self.pos).map(|t| t.text)
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    fn advance(&mut self) -> Option<&'a str> {
        let token = self.peek()?;
        self.pos += 1;
        Some(token)
    }

    /// `<command>: missing argument: expected <expected>`.
    pub fn missing(&self, expected: &str) -> String {
        format!(
            "{}: missing argument: expected {expected}",
            self.command_name()
        )
    }

    /// VPP's sentence for input nobody asked for; it quotes the rest of the line.
    pub fn unknown_input(&self) -> String {
        match self.tokens.get(self.pos) {
            Some(t) => format!("unknown input '{}'", self.line[t.start..].trim_end()),
            None => self.missing("more input"),
        }
    }

    /// Fails unless every token has been consumed.
    pub fn end(&self) -> Result<(), String> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.unknown_input())
        }
    }

    /// Consumes `keyword` if it comes next; keywords are never abbreviated (as in
    /// `unformat`), only command words are.
    pub fn keyword(&mut self, keyword: &str) -> bool {
        if self.peek() == Some(keyword) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// VPP's optional `table N` / `vrf N`: podfwd has the one table, 0, so `KEYWORD 0` is
    /// taken (and the words may be left out) and any other number is refused, naming
    /// `what` has only table 0.
    pub fn table_zero(&mut self, keyword: &str, what: &str) -> Result<(), String> {
        if self.keyword(keyword) {
            let table = self.u32_in(keyword, 0..=u32::MAX)?;
            if table != 0 {
                return Err(format!(
                    "{}: {keyword} {table}: podfwd has one {what}, {keyword} 0",
                    self.command_name()
                ));
            }
        }
        Ok(())
    }

    pub fn expect_keyword(&mut self, keyword: &str) -> Result<(), String> {
        match self.peek() {
            None => Err(self.missing(keyword)),
            Some(_) if self.keyword(keyword) => Ok(()),
            Some(_) => Err(self.unknown_input()),
        }
    }

    /// Any one word: an interface name, a tag.
    pub fn word(&mut self, expected: &str) -> Result<&'a str, String> {
        self.advance().ok_or_else(|| self.missing(expected))
    }

    /// One of a fixed set of keywords, mapped to its value.
    pub fn choice<T: Copy>(&mut self, options: &[(&str, T)]) -> Result<T, String> {
        let expected = || {
            let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
            one_of(&names)
        };
        let Some(word) = self.peek() else {
            return Err(self.missing(&expected()));
        };
        match options.iter().find(|(name, _)| *name == word) {
            Some((_, value)) => {
                self.pos += 1;
                Ok(*value)
            }
            None => Err(format!(
                "{}: expected {}, not '{word}'",
                self.command_name(),
                expected()
            )),
        }
    }

    pub fn ipv4(&mut self, expected: &str) -> Result<Ipv4Addr, String> {
        let word = self.word(expected)?;
        parse_ipv4(word)
    }

    pub fn prefix(&mut self) -> Result<Ipv4Prefix, String> {
        let word = self.word("a prefix A.B.C.D/LEN")?;
        word.parse()
    }

    pub fn mac(&mut self) -> Result<MacAddr, String> {
        let word = self.word("a MAC address like 02:fe:16:3f:5f:0f")?;
        word.parse()
    }

    /// A number in `range`; `what` names it in the messages (`mtu 99999: must be in ...`).
    pub fn u32_in(&mut self, what: &str, range: RangeInclusive<u32>) -> Result<u32, String> {
        let Some(word) = self.peek() else {
            return Err(self.missing(&format!("{what} ({}..={})", range.start(), range.end())));
        };
        let value = parse_u32_in(what, word, range)?;
        self.pos += 1;
        Ok(value)
    }

    /// `A` or `A-B`.
    pub fn port_range(&mut self) -> Result<PortRange, String> {
        let word = self.word("a port or port range A-B")?;
        // Rust's integer parsing takes a leading '+', which no port is written with.
        if let Some(bad) = word.split('-').find(|p| !is_decimal(p)) {
            return Err(format!(
                "port range {word}: '{bad}' is not a port 0..=65535"
            ));
        }
        word.parse()
    }

    /// `A.B.C.D:PORT`.
    pub fn ip_port(&mut self, what: &str) -> Result<(Ipv4Addr, u16), String> {
        let word = self.word(&format!("{what} A.B.C.D:PORT"))?;
        let (addr, port) = word
            .split_once(':')
            .ok_or_else(|| format!("{what} {word}: expected A.B.C.D:PORT"))?;
        let addr = addr
            .parse()
            .map_err(|_| format!("{what} {word}: '{addr}' is not an IPv4 address"))?;
        let port = Some(port)
            .filter(|p| is_decimal(p))
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("{what} {word}: '{port}' is not a port 0..=65535"))?;
        Ok((addr, port))
    }

    /// The rest of the line as typed, possibly empty.
    pub fn rest_or_empty(&mut self) -> &'a str {
        self.rest("").unwrap_or("")
    }

    /// The rest of the line as typed (a file name may hold spaces).
    pub fn rest(&mut self, expected: &str) -> Result<&'a str, String> {
        let Some(first) = self.tokens.get(self.pos) else {
            return Err(self.missing(expected));
        };
        let rest = self.line[first.start..].trim_end();
        self.pos = self.tokens.len();
        Ok(rest)
    }
}

/// `a`, `a or b`, `a, b or c`.
pub fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

pub fn parse_ipv4(word: &str) -> Result<Ipv4Addr, String> {
    word.parse()
        .map_err(|_| format!("'{word}' is not an IPv4 address"))
}

/// Whether `word` is one or more decimal digits and nothing else: Rust's integer parsing
/// also takes a leading '+', which `unformat` does not.
pub fn is_decimal(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit())
}

/// Decimal, or hexadecimal with `0x` (as `unformat`'s `%U` for flags and masks).
pub fn parse_u32_in(what: &str, word: &str, range: RangeInclusive<u32>) -> Result<u32, String> {
    let (digits, radix, is_digit): (_, _, fn(&u8) -> bool) =
        match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
            Some(hex) => (hex, 16, u8::is_ascii_hexdigit),
            None => (word, 10, u8::is_ascii_digit),
        };
    let bounds = format!("{}..={}", range.start(), range.end());
    if digits.is_empty() || !digits.bytes().all(|b| is_digit(&b)) {
        return Err(format!("{what} '{word}': expected a number in {bounds}"));
    }
    match u32::from_str_radix(digits, radix) {
        Ok(value) if range.contains(&value) => Ok(value),
        // Only digits, so the only failure left is overflowing u32: a range problem too.
        _ => Err(format!("{what} {word}: must be in {bounds}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMD: &[&str] = &["test", "command"];

    #[test]
    fn tokenize_splits_on_space_and_commas() {
        let words: Vec<&str> = tokenize("  a  b,c , d,\te ")
            .iter()
            .map(|t| t.text)
            .collect();
        assert_eq!(words, ["a", "b", ",", "c", ",", "d", ",", "e"]);
        assert!(tokenize(" \t ").is_empty());
        let tokens = tokenize("é x");
        assert_eq!(
            tokens[1],
            Token {
                text: "x",
                start: 3
            }
        );
    }

    #[test]
    fn missing_and_unknown_name_the_command_and_the_rest() {
        let mut c = Cursor::over("up sideways now", CMD);
        assert!(c.keyword("up"));
        assert!(!c.keyword("down"));
        assert_eq!(c.end().unwrap_err(), "unknown input 'sideways now'");
        assert_eq!(c.word("x").unwrap(), "sideways");
        assert_eq!(c.word("x").unwrap(), "now");
        assert_eq!(
            c.word("an interface name").unwrap_err(),
            "test command: missing argument: expected an interface name"
        );
        assert_eq!(c.end(), Ok(()));
    }

    #[test]
    fn choice_lists_the_options() {
        let options = [("up", true), ("down", false)];
        let mut c = Cursor::over("down sideways", CMD);
        assert_eq!(c.choice(&options), Ok(false));
        assert_eq!(
            c.choice(&options).unwrap_err(),
            "test command: expected up or down, not 'sideways'"
        );
        let mut empty = Cursor::over("", CMD);
        assert_eq!(
            empty.choice(&[("a", 1), ("b", 2), ("c", 3)]).unwrap_err(),
            "test command: missing argument: expected a, b or c"
        );
    }

    #[test]
    fn numbers_check_their_range() {
        assert_eq!(parse_u32_in("mtu", "1500", 68..=9216), Ok(1500));
        assert_eq!(parse_u32_in("flags", "0x12", 0..=255), Ok(18));
        assert_eq!(
            parse_u32_in("mtu", "99999", 68..=9216).unwrap_err(),
            "mtu 99999: must be in 68..=9216"
        );
        assert_eq!(
            parse_u32_in("mtu", "99999999999999999999", 68..=9216).unwrap_err(),
            "mtu 99999999999999999999: must be in 68..=9216"
        );
        assert_eq!(
            parse_u32_in("mtu", "-5", 68..=9216).unwrap_err(),
            "mtu '-5': expected a number in 68..=9216"
        );
        assert_eq!(
            parse_u32_in("mtu", "0x", 68..=9216).unwrap_err(),
            "mtu '0x': expected a number in 68..=9216"
        );
        assert_eq!(
            parse_u32_in("flags", "0xffffffffff", 0..=255).unwrap_err(),
            "flags 0xffffffffff: must be in 0..=255"
        );
        assert_eq!(parse_u32_in("flags", "0XfF", 0..=255), Ok(255));
        let mut c = Cursor::over("", CMD);
        assert_eq!(
            c.u32_in("mtu", 68..=9216).unwrap_err(),
            "test command: missing argument: expected mtu (68..=9216)"
        );
    }

    /// `str::parse` and `from_str_radix` take a leading '+'; `unformat` does not.
    #[test]
    fn numbers_refuse_a_plus_sign() {
        for word in ["+5", "0x+5", "0X+5", "+0x5", " 5", "5 "] {
            assert_eq!(
                parse_u32_in("count", word, 1..=100).unwrap_err(),
                format!("count '{word}': expected a number in 1..=100"),
            );
        }
        let mut c = Cursor::over("1.2.3.4:+80 +80 80-+90", CMD);
        assert_eq!(
            c.ip_port("local").unwrap_err(),
            "local 1.2.3.4:+80: '+80' is not a port 0..=65535"
        );
        assert_eq!(
            c.port_range().unwrap_err(),
            "port range +80: '+80' is not a port 0..=65535"
        );
        assert_eq!(
            c.port_range().unwrap_err(),
            "port range 80-+90: '+90' is not a port 0..=65535"
        );
    }

    #[test]
    fn values_use_their_types_messages() {
        let mut c = Cursor::over("10.1.1.0/33 02:fe:16:3f:5f 90-80 10.1.1.2:http 1.2.3", CMD);
        assert_eq!(
            c.prefix().unwrap_err(),
            "prefix 10.1.1.0/33: length must be 0..=32"
        );
        assert_eq!(
            c.mac().unwrap_err(),
            "MAC 02:fe:16:3f:5f: has 5 octets, expected 6"
        );
        assert_eq!(
            c.port_range().unwrap_err(),
            "port range 90-80: low end above high end"
        );
        assert_eq!(
            c.ip_port("local").unwrap_err(),
            "local 10.1.1.2:http: 'http' is not a port 0..=65535"
        );
        assert_eq!(
            c.ipv4("an address").unwrap_err(),
            "'1.2.3' is not an IPv4 address"
        );
    }

    #[test]
    fn rest_keeps_the_lines_own_spacing() {
        let line = "exec  /tmp/my  file.conf  ";
        let mut c = Cursor::new(line, tokenize(line), 1, CMD);
        assert_eq!(c.rest("a file"), Ok("/tmp/my  file.conf"));
        assert!(c.at_end());
        assert_eq!(
            c.rest("a file").unwrap_err(),
            "test command: missing argument: expected a file"
        );
    }
}
