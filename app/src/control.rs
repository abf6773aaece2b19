//! The control socket protocol shared by podfwd and podfwdctl.
//!
//! The client sends one command per line. For each, the server answers with a header
//! line `ok <len>` or `error <len>` followed by exactly `len` bytes of output (or of the
//! error sentence). Lengths make the reply unambiguous whatever the output contains.

use std::io::{self, BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Where podfwd listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/podfwd/cli.sock";

/// Writes one reply.
pub fn write_reply(out: &mut impl Write, reply: &Result<String, String>) -> io::Result<()> {
    let (status, body) = match reply {
        Ok(output) => ("ok", output),
        Err(error) => ("error", error),
    };
    write!(out, "{status} {}\n{body}", body.len())?;
    out.flush()
}

/// Reads one reply; an `Err` inside is the server's error sentence.
pub fn read_reply(input: &mut impl BufRead) -> io::Result<Result<String, String>> {
    let mut header = String::new();
    if input.read_line(&mut header)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "podfwd closed the connection",
        ));
    }
    let bad_header = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad reply header {header:?}"),
        )
    };
    let (status, len) = header.trim_end().split_once(' ').ok_or_else(bad_header)?;
    let len: usize = len.parse().map_err(|_| bad_header())?;
    let mut body = vec![0u8; len];
    input.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    match status {
        "ok" => Ok(Ok(body)),
        "error" => Ok(Err(body)),
        _ => Err(bad_header()),
    }
}

/// Binds the control socket with mode 0600, creating its directory. A socket file left
/// by a dead podfwd is replaced; one that a live podfwd answers on is an error.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another podfwd is listening on it",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip_including_newlines_and_empty_bodies() {
        let replies = [
            Ok("line one\nline two\n".to_owned()),
            Err("unknown interface 'tap9' (known: tap0)".to_owned()),
            Ok(String::new()),
        ];
        let mut wire = Vec::new();
        for reply in &replies {
            write_reply(&mut wire, reply).unwrap();
        }
        let mut input = io::BufReader::new(&wire[..]);
        for reply in &replies {
            assert_eq!(&read_reply(&mut input).unwrap(), reply);
        }
        assert_eq!(
            read_reply(&mut input).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn malformed_header_is_an_error() {
        let mut input = io::BufReader::new(&b"maybe 3\nabc"[..]);
        assert_eq!(
            read_reply(&mut input).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let mut input = io::BufReader::new(&b"ok many\n"[..]);
        assert_eq!(
            read_reply(&mut input).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
