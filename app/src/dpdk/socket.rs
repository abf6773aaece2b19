//! What std's sockets do not say: whether a stream's peer has closed it.

use std::os::fd::AsRawFd;

/// Whether the peer of the connected stream `socket` has closed it completely (a
/// hang-up), as opposed to having shut down only its sending side: a client that sent
/// its command and then `shutdown(SHUT_WR)` (`nc -N`) still reads the reply. A read
/// cannot tell the two apart (both give end of file); `poll` reports `POLLHUP` only for
/// the first.
pub fn peer_hung_up(socket: &impl AsRawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd for a descriptor `socket` keeps open; no waiting.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    ready == 1 && pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::Shutdown;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_half_close_is_no_hang_up() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        assert!(!peer_hung_up(&ours));
        (&theirs).write_all(b"ping 10.1.1.3\n").unwrap();
        theirs.shutdown(Shutdown::Write).unwrap();
        assert!(!peer_hung_up(&ours), "it still reads the reply");
        drop(theirs);
        assert!(peer_hung_up(&ours));
    }
}
