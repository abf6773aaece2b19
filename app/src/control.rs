//! The control socket protocol shared by podfwd and podfwdctl.
//!
//! The client sends one command per line. For each, the server answers with a header
//! line `ok <len>` or `error <len>` followed by exactly `len` bytes of output (or of the
//! error sentence). Lengths make the reply unambiguous whatever the output contains.
//! Before its reply, a command may send parts, `part <len>` and `len` bytes, output to
//! show at once (a ping's lines as its replies come). While a command runs, the client
//! may send [`INTERRUPT`] (what Ctrl-C types): the command stops early (a ping reports
//! what it has) and its reply comes as usual.

use std::io::{self, BufRead, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Where podfwd listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/podfwd/cli.sock";

/// The byte that interrupts the running command (ETX, Ctrl-C's). Sent between commands
/// it is ignored.
pub const INTERRUPT: u8 = 0x03;

/// Writes one reply.
pub fn write_reply(out: &mut impl Write, reply: &Result<String, String>) -> io::Result<()> {
    let (status, body) = match reply {
        Ok(output) => ("ok", output),
        Err(error) => ("error", error),
    };
    write!(out, "{status} {}\n{body}", body.len())?;
    out.flush()
}

/// Writes output of a reply still to come, to show at once (a ping's lines): a reply's
/// parts come before it.
pub fn write_part(out: &mut impl Write, part: &str) -> io::Result<()> {
    write!(out, "part {}\n{part}", part.len())?;
    out.flush()
}

/// Reads one reply; an `Err` inside is the server's error sentence. Parts that came
/// before it lead it.
pub fn read_reply(input: &mut impl BufRead) -> io::Result<Result<String, String>> {
    let mut parts = String::new();
    let reply = read_reply_showing(input, |part| parts.push_str(part))?;
    Ok(match reply {
        Ok(body) => Ok(parts + &body),
        Err(body) => Err(parts + &body),
    })
}

/// Reads one reply, handing each part before it to `show` as it comes.
pub fn read_reply_showing(
    input: &mut impl BufRead,
    mut show: impl FnMut(&str),
) -> io::Result<Result<String, String>> {
    loop {
        match read_message(input)? {
            (Status::Part, part) => show(&part),
            (Status::Ok, body) => return Ok(Ok(body)),
            (Status::Error, body) => return Ok(Err(body)),
        }
    }
}

enum Status {
    Part,
    Ok,
    Error,
}

fn read_message(input: &mut impl BufRead) -> io::Result<(Status, String)> {
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
        "part" => Ok((Status::Part, body)),
        "ok" => Ok((Status::Ok, body)),
        "error" => Ok((Status::Error, body)),
        _ => Err(bad_header()),
    }
}

/// Binds the control socket at `path` with mode 0600. A socket file left by a dead
/// podfwd is replaced; one that a live podfwd answers on is an error, and so is any
/// other kind of file (a regular file given by mistake is never deleted). The parent
/// directory must exist, unless `create_parent`: the default socket's directory under
/// `/run` is podfwd's own and, `/run` being a tmpfs, gone after each boot, while a
/// missing directory in a path the user gave is more likely a typo than a wish.
/// Errors are sentences that name the path.
pub fn bind(path: &Path, create_parent: bool) -> Result<UnixListener, String> {
    let at = |e: io::Error| format!("control socket {}: {e}", path.display());
    if let (Some(dir), true) = (parent(path), create_parent) {
        std::fs::create_dir_all(dir).map_err(at)?;
    }
    if vet(path, create_parent)? {
        std::fs::remove_file(path).map_err(at)?;
    }
    let listener = UnixListener::bind(path).map_err(at)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(at)?;
    Ok(listener)
}

/// Whether [`bind`] can bind at `path`, changing nothing: checked before the EAL starts,
/// so that a socket in use or a typo fails podfwd before it takes ports and hugepages.
/// `Ok(true)`: a socket a dead podfwd left is there, to replace.
pub fn vet(path: &Path, create_parent: bool) -> Result<bool, String> {
    if let (Some(dir), false) = (parent(path), create_parent) {
        if !dir.is_dir() {
            return Err(format!(
                "control socket {}: directory {} does not exist",
                path.display(),
                dir.display()
            ));
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "control socket {}: another podfwd is listening on it",
                    path.display()
                ));
            }
            Ok(true)
        }
        Ok(meta) => Err(format!(
            "control socket {} is {}, not a socket: podfwd replaces only a socket that a \
             podfwd left behind; remove it or pass another --socket",
            path.display(),
            file_kind(meta.file_type())
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("control socket {}: {e}", path.display())),
    }
}

fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|d| !d.as_os_str().is_empty())
}

/// "a regular file", "a directory", ...: what is in the way of the socket.
fn file_kind(kind: std::fs::FileType) -> &'static str {
    if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "something else"
    }
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

    /// Parts come before their reply: shown one by one as they come, or joined to the
    /// reply's front (an error's too).
    #[test]
    fn parts_lead_their_reply() {
        let mut wire = Vec::new();
        write_part(&mut wire, "64 bytes from ...\n").unwrap();
        write_part(&mut wire, "").unwrap();
        write_reply(&mut wire, &Ok("Statistics\n".into())).unwrap();
        write_part(&mut wire, "line\n").unwrap();
        write_reply(&mut wire, &Err("gone".into())).unwrap();
        let mut input = &wire[..];
        let mut shown = Vec::new();
        let reply = read_reply_showing(&mut input, |p| shown.push(p.to_owned())).unwrap();
        assert_eq!(reply, Ok("Statistics\n".to_string()));
        assert_eq!(shown, ["64 bytes from ...\n", ""]);
        assert_eq!(
            read_reply(&mut input).unwrap(),
            Err("line\ngone".to_string())
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

    /// A fresh directory for one test's files.
    fn scratch(test: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("podfwd-control-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn bind_refuses_a_regular_file_and_leaves_it_alone() {
        let dir = scratch("regular");
        let path = dir.join("cli.sock");
        std::fs::write(&path, "precious").unwrap();
        let e = bind(&path, false).unwrap_err();
        assert_eq!(
            e,
            format!(
                "control socket {} is a regular file, not a socket: podfwd replaces only a \
                 socket that a podfwd left behind; remove it or pass another --socket",
                path.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bind_refuses_a_directory_and_a_symbolic_link() {
        let dir = scratch("others");
        let sub = dir.join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(bind(&sub, false)
            .unwrap_err()
            .contains("is a directory, not a socket"));
        assert!(sub.is_dir());
        let target = dir.join("target");
        std::fs::write(&target, "kept").unwrap();
        let link = dir.join("link.sock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(bind(&link, false)
            .unwrap_err()
            .contains("is a symbolic link, not a socket"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept");
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bind_replaces_a_dead_socket_but_not_a_live_one() {
        let dir = scratch("sockets");
        let path = dir.join("cli.sock");
        // A socket nobody listens on any more, as a killed podfwd leaves it.
        drop(UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let live = bind(&path, false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            bind(&path, false).unwrap_err(),
            format!(
                "control socket {}: another podfwd is listening on it",
                path.display()
            )
        );
        drop(live);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bind_creates_the_directory_only_when_asked() {
        let dir = scratch("parent");
        let path = dir.join("missing").join("cli.sock");
        assert_eq!(
            bind(&path, false).unwrap_err(),
            format!(
                "control socket {}: directory {} does not exist",
                path.display(),
                dir.join("missing").display()
            )
        );
        assert!(!dir.join("missing").exists());
        let listener = bind(&path, true).unwrap();
        assert!(std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_socket());
        drop(listener);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
