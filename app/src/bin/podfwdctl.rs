//! `podfwdctl [--socket PATH] [COMMAND...]`: runs CLI commands in a running podfwd.
//! With a command: prints its output and exits non-zero if it failed. Without: reads
//! commands from stdin until end of file or `quit`. Ctrl-C while a command runs (a ping)
//! interrupts it, and its reply (what the ping saw so far) is printed; a second Ctrl-C,
//! or one while no command runs, ends podfwdctl.
#![deny(unsafe_code)]

use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use clap::Parser;
use podfwd_app::console;
use podfwd_app::control::{self, DEFAULT_SOCKET};

#[derive(Debug, Parser)]
#[command(
    name = "podfwdctl",
    version,
    about = "Run CLI commands in a running podfwd"
)]
struct Options {
    /// podfwd's control socket.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
    /// The command, e.g. `show hardware-interfaces`; none for an interactive session.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let options = Options::parse();
    let stream = match UnixStream::connect(&options.socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "podfwdctl: cannot connect to {}: {e} (is podfwd running? --socket PATH)",
                options.socket.display()
            );
            return ExitCode::from(2);
        }
    };
    let waiting = Arc::new(AtomicU8::new(IDLE));
    if let Err(e) = forward_interrupts(&stream, Arc::clone(&waiting)) {
        eprintln!("podfwdctl: Ctrl-C will end podfwdctl rather than interrupt a command: {e}");
    }
    let waiting = Waiting(waiting);
    let result = if options.command.is_empty() {
        interactive(stream, &waiting)
    } else {
        match command_line(&options.command) {
            Ok(command) => one_command(stream, &command, &waiting),
            Err(e) => {
                eprintln!("podfwdctl: {e}");
                return ExitCode::from(2);
            }
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("podfwdctl: {e}");
            ExitCode::from(2)
        }
    }
}

/// The command line the arguments make. One line is one command with one reply: an
/// argument holding a line end would send several commands and show the reply of the
/// first only, running the others unreported.
fn command_line(args: &[String]) -> Result<String, String> {
    if let Some(arg) = args.iter().find(|a| a.contains(['\n', '\r'])) {
        return Err(format!(
            "argument {arg:?} holds a line end: give one command per podfwdctl run, or \
             several on stdin, one per line"
        ));
    }
    Ok(args.join(" "))
}

/// What the interrupt thread does on Ctrl-C: no command waits, or one does (and has been
/// interrupted already or not).
const IDLE: u8 = 0;
const RUNNING: u8 = 1;
const INTERRUPTED: u8 = 2;

/// Whether a command waits for its reply, for the interrupt thread.
struct Waiting(Arc<AtomicU8>);

/// On each SIGINT, sends podfwd [`control::INTERRUPT`] if a command waits for its reply
/// and was not interrupted yet; otherwise ends podfwdctl as SIGINT would.
fn forward_interrupts(stream: &UnixStream, waiting: Arc<AtomicU8>) -> std::io::Result<()> {
    let mut signals = podfwd_app::dpdk::signal::install_interrupt_handler()?;
    let mut to_podfwd = stream.try_clone()?;
    std::thread::Builder::new()
        .name("interrupts".into())
        .spawn(move || {
            let mut byte = [0u8; 1];
            while signals.read(&mut byte).is_ok_and(|n| n == 1) {
                let was = waiting.compare_exchange(
                    RUNNING,
                    INTERRUPTED,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
                if was.is_err() || to_podfwd.write_all(&[control::INTERRUPT]).is_err() {
                    // 128 + SIGINT, as a shell reports a process SIGINT ended.
                    std::process::exit(130);
                }
            }
        })?;
    Ok(())
}

/// Sends one command and reads its reply; output it sends ahead of the reply (a ping's
/// lines) is printed as it comes.
fn exchange(
    writer: &mut impl Write,
    replies: &mut impl std::io::BufRead,
    command: &str,
    waiting: &Waiting,
) -> std::io::Result<Result<String, String>> {
    // A podfwd that refuses the connection (too many clients) answers and closes
    // without reading: its answer is worth more than the failed write's error.
    let sent = writeln!(writer, "{command}");
    waiting.0.store(RUNNING, Ordering::SeqCst);
    let reply = control::read_reply_showing(replies, |part| {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(part.as_bytes());
        let _ = stdout.flush();
    });
    waiting.0.store(IDLE, Ordering::SeqCst);
    match (sent, reply) {
        (_, Ok(reply)) => Ok(reply),
        (Err(e), Err(_)) | (Ok(()), Err(e)) => Err(e),
    }
}

fn one_command(stream: UnixStream, command: &str, waiting: &Waiting) -> std::io::Result<ExitCode> {
    let mut writer = stream.try_clone()?;
    match exchange(&mut writer, &mut BufReader::new(stream), command, waiting)? {
        Ok(output) => {
            // A reader that stops early (`| head`) is its choice, not a failure.
            let _ = std::io::stdout().write_all(output.as_bytes());
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn interactive(stream: UnixStream, waiting: &Waiting) -> std::io::Result<ExitCode> {
    let mut writer = stream.try_clone()?;
    let mut replies = BufReader::new(stream);
    let mut failures = false;
    let mut broken = None;
    console::read_stdin_lines("podfwd# ", |line| {
        let command = line.trim();
        // Every spelling the CLI takes as quit (`qu` too): the server ends the session
        // on it, so the client must too.
        if console::is_quit(command) {
            return false;
        }
        if command.is_empty() {
            return true;
        }
        let reply = exchange(&mut writer, &mut replies, command, waiting);
        match reply {
            Ok(Ok(output)) => {
                let _ = std::io::stdout().write_all(output.as_bytes());
            }
            Ok(Err(error)) => {
                failures = true;
                println!("error: {error}");
            }
            Err(e) => {
                broken = Some(e);
                return false;
            }
        }
        let _ = std::io::stdout().flush();
        true
    });
    if let Some(e) = broken {
        return Err(e);
    }
    Ok(if failures {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn arguments_with_line_ends_are_refused() {
        assert_eq!(
            command_line(&args(&["show", "ip fib", "10.0.0.1"])),
            Ok("show ip fib 10.0.0.1".to_owned())
        );
        assert_eq!(
            command_line(&args(&["show\tversion"])),
            Ok("show\tversion".to_owned())
        );
        for bad in ["version\nclear errors", "version\r", "\n"] {
            assert_eq!(
                command_line(&args(&["show", bad])),
                Err(format!(
                    "argument {bad:?} holds a line end: give one command per podfwdctl \
                     run, or several on stdin, one per line"
                )),
                "{bad:?}"
            );
        }
    }
}
