//! SIGINT/SIGTERM as a stop request that a blocking reader can wait for.

use std::io;
use std::os::fd::IntoRawFd;
use std::os::raw::{c_int, c_void};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);
/// Write end of the wake-up pair, or -1 before installation.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// While an [`Interruptible`] lives, SIGINT interrupts it rather than stopping podfwd.
static INTERRUPTIBLE: AtomicBool = AtomicBool::new(false);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// A command typed at the terminal runs (see [`TerminalCommand`]).
static AT_TERMINAL: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(signal: c_int) {
    // The thread the signal interrupted may be between a call and its errno check; the
    // wake-up write can fail (EPIPE once the waiting thread has gone, EAGAIN when full).
    // SAFETY: __errno_location returns the calling thread's errno, always valid.
    let errno = unsafe { *libc::__errno_location() };
    if signal == libc::SIGINT && INTERRUPTIBLE.load(Ordering::SeqCst) {
        INTERRUPTED.store(true, Ordering::SeqCst);
    } else {
        request_stop();
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// A long command (`ping ... repeat N`): while it lives, and if it was typed at the
/// terminal (a [`TerminalCommand`] runs), Ctrl-C (SIGINT) ends the command, as it ends
/// ping(8), instead of stopping the data plane. Run from the socket, a file or a pipe,
/// SIGINT stops podfwd as ever. SIGTERM always stops it; the command should check
/// [`stop_requested`] too.
pub struct Interruptible(());

impl Interruptible {
    pub fn begin() -> Interruptible {
        INTERRUPTED.store(false, Ordering::SeqCst);
        INTERRUPTIBLE.store(AT_TERMINAL.load(Ordering::SeqCst), Ordering::SeqCst);
        Interruptible(())
    }

    /// Whether SIGINT arrived since `begin`.
    pub fn interrupted(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }
}

impl Drop for Interruptible {
    fn drop(&mut self) {
        INTERRUPTIBLE.store(false, Ordering::SeqCst);
    }
}

/// While it lives, the command running was typed at the terminal's prompt, where Ctrl-C
/// is the user's way to interrupt it.
pub struct TerminalCommand(());

impl TerminalCommand {
    pub fn enter() -> TerminalCommand {
        AT_TERMINAL.store(true, Ordering::SeqCst);
        TerminalCommand(())
    }
}

impl Drop for TerminalCommand {
    fn drop(&mut self) {
        AT_TERMINAL.store(false, Ordering::SeqCst);
    }
}

/// What SIGINT does, from code: a worker lcore whose job panicked asks the process to
/// stop, since its queues would otherwise go unpolled while the console carries on.
/// Async-signal-safe (atomics and write(2) only), as the handler needs.
pub fn request_stop() {
    STOP_REQUESTED.store(true, Ordering::SeqCst);
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; fd is the non-blocking write end that
        // stays open for the process lifetime; a full buffer only loses a duplicate wake-up.
        unsafe { libc::write(fd, (&byte as *const u8).cast::<c_void>(), 1) };
    }
}

/// Installs the SIGINT/SIGTERM handler. Each signal makes one byte readable on the
/// returned stream, so a thread can block on it instead of polling.
pub fn install_stop_handler() -> io::Result<UnixStream> {
    install_handler(&[libc::SIGINT, libc::SIGTERM])
}

/// The same handler for SIGINT alone (SIGTERM keeps its default, ending the process):
/// for podfwdctl, whose Ctrl-C interrupts the command it waits for.
pub fn install_interrupt_handler() -> io::Result<UnixStream> {
    install_handler(&[libc::SIGINT])
}

fn install_handler(signals: &[c_int]) -> io::Result<UnixStream> {
    let (reader, writer) = UnixStream::pair()?;
    writer.set_nonblocking(true)?;
    let previous = WAKE_FD.swap(writer.into_raw_fd(), Ordering::SeqCst);
    if previous >= 0 {
        // SAFETY: the previous write end was leaked by an earlier call and is closed once.
        unsafe { libc::close(previous) };
    }
    for &signal in signals {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler
        // only touches atomics and write(2). No SA_RESTART: blocked reads see EINTR.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_stop_signal as extern "C" fn(c_int) as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(reader)
}

/// True once SIGINT or SIGTERM arrived.
pub fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// SIGINT during an `Interruptible` typed at the terminal ends it and leaves podfwd
    /// running; otherwise, or after it, a stop (from a signal or from code) wakes the
    /// reader. One test: the handler and its flags are the process's.
    #[test]
    fn sigint_interrupts_an_interruptible_and_request_stop_wakes_the_reader() {
        let mut reader = install_stop_handler().unwrap();
        assert!(!stop_requested());
        {
            let _typed = TerminalCommand::enter();
            let scope = Interruptible::begin();
            assert!(!scope.interrupted());
            on_stop_signal(libc::SIGINT);
            assert!(scope.interrupted());
            assert!(!stop_requested());
        }
        // Not typed at the terminal (the socket, a pipe): SIGINT stops podfwd.
        {
            let scope = Interruptible::begin();
            on_stop_signal(libc::SIGINT);
            assert!(!scope.interrupted());
            assert!(stop_requested());
        }
        let mut byte = [0u8; 1];
        assert_eq!(reader.read(&mut byte).unwrap(), 1);
        request_stop();
        assert!(stop_requested());
        let mut byte = [0u8; 1];
        assert_eq!(reader.read(&mut byte).unwrap(), 1);
        // Once the reader has gone (podfwd's stop-signal thread returns after one byte),
        // the wake-up write fails with EPIPE: the interrupted thread's errno stays.
        drop(reader);
        // SAFETY: the calling thread's errno.
        unsafe { *libc::__errno_location() = 4242 };
        on_stop_signal(libc::SIGTERM);
        assert_eq!(io::Error::last_os_error().raw_os_error(), Some(4242));
    }
}
