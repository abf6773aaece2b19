//! `podfwdctl [--socket PATH] [COMMAND...]`: runs CLI commands in a running podfwd.
//! With a command: prints its output and exits non-zero if it failed. Without: reads
//! commands from stdin until end of file or `quit`.
#![deny(unsafe_code)]

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use podfwd_app::console;
use podfwd_app::control::{self, DEFAULT_SOCKET};

#[derive(Debug, Parser)]
#[command(name = "podfwdctl", about = "Run CLI commands in a running podfwd")]
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
    let result = if options.command.is_empty() {
        interactive(stream)
    } else {
        one_command(stream, &options.command.join(" "))
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("podfwdctl: {e}");
            ExitCode::from(2)
        }
    }
}

fn one_command(stream: UnixStream, command: &str) -> std::io::Result<ExitCode> {
    let mut writer = stream.try_clone()?;
    writeln!(writer, "{command}")?;
    match control::read_reply(&mut BufReader::new(stream))? {
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

fn interactive(stream: UnixStream) -> std::io::Result<ExitCode> {
    let mut writer = stream.try_clone()?;
    let mut replies = BufReader::new(stream);
    let mut failures = false;
    let mut broken = None;
    console::read_stdin_lines("podfwd# ", |line| {
        let command = line.trim();
        if matches!(command, "quit" | "exit") {
            return false;
        }
        if command.is_empty() {
            return true;
        }
        let reply = writeln!(writer, "{command}").and_then(|()| control::read_reply(&mut replies));
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
