//! Commands from people: the startup file, the console on stdin and (later) the
//! control socket all feed one [`Executor`] on the main lcore.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{channel, Receiver, Sender};

/// Runs one CLI line; `Ok` is the output to show, `Err` a sentence saying what is wrong.
pub trait Executor {
    fn execute(&mut self, line: &str) -> Result<String, String>;
}

/// Why the main lcore woke up.
#[derive(Debug)]
pub enum Event {
    /// A line typed on stdin.
    ConsoleLine(String),
    /// stdin reached end of file; forwarding goes on until a signal or `quit`.
    ConsoleClosed,
    /// SIGINT or SIGTERM.
    StopSignal,
}

/// Lines that end podfwd rather than go to the executor.
pub fn is_quit(line: &str) -> bool {
    matches!(line.trim(), "quit" | "exit")
}

/// Runs every line of a startup file; blank lines and `#` comments are skipped. Stops
/// at the first failing line with `FILE:LINE: error`.
pub fn run_startup_file(
    path: &Path,
    text: &str,
    executor: &mut dyn Executor,
    out: &mut dyn Write,
) -> Result<(), String> {
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match executor.execute(line) {
            Ok(output) => {
                let _ = out.write_all(output.as_bytes());
            }
            Err(e) => return Err(format!("{}:{}: {line}: {e}", path.display(), number + 1)),
        }
    }
    Ok(())
}

/// Starts the threads that turn stdin and stop signals into [`Event`]s. They block in
/// read(2), so the main lcore sleeps until something happens.
pub fn event_sources(stop_signal: UnixStream) -> (Sender<Event>, Receiver<Event>) {
    let (sender, receiver) = channel();
    let console = sender.clone();
    std::thread::Builder::new()
        .name("console-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if console.send(Event::ConsoleLine(line)).is_err() {
                    return;
                }
            }
            let _ = console.send(Event::ConsoleClosed);
        })
        .ok();
    let signals = sender.clone();
    std::thread::Builder::new()
        .name("stop-signal".into())
        .spawn(move || {
            let mut stop_signal = stop_signal;
            let mut byte = [0u8; 1];
            loop {
                match stop_signal.read(&mut byte) {
                    Ok(1) => {
                        let _ = signals.send(Event::StopSignal);
                        return;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    _ => return,
                }
            }
        })
        .ok();
    (sender, receiver)
}

/// Serves events until `quit`/`exit` or a stop signal.
pub fn run_console(executor: &mut dyn Executor, events: &Receiver<Event>) {
    let interactive = std::io::stdin().is_terminal();
    let prompt = || {
        if interactive {
            print!("podfwd# ");
            let _ = std::io::stdout().flush();
        }
    };
    prompt();
    while let Ok(event) = events.recv() {
        match event {
            Event::StopSignal => {
                log::info!("stop signal received");
                return;
            }
            Event::ConsoleClosed => log::info!("console input closed; stop with SIGINT/SIGTERM"),
            Event::ConsoleLine(line) => {
                if is_quit(&line) {
                    return;
                }
                if !line.trim().is_empty() {
                    let mut stdout = std::io::stdout().lock();
                    match executor.execute(line.trim()) {
                        Ok(output) => {
                            let _ = stdout.write_all(output.as_bytes());
                        }
                        Err(e) => {
                            let _ = writeln!(stdout, "error: {e}");
                        }
                    }
                    let _ = stdout.flush();
                }
                prompt();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(Vec<String>);
    impl Executor for Echo {
        fn execute(&mut self, line: &str) -> Result<String, String> {
            self.0.push(line.to_owned());
            if line == "bad" {
                Err("bad command".into())
            } else {
                Ok(format!("did {line}\n"))
            }
        }
    }

    #[test]
    fn startup_file_skips_comments_and_stops_at_first_error() {
        let mut echo = Echo(Vec::new());
        let mut out = Vec::new();
        let text = "# comment\n\n  one  \nbad\nthree\n";
        let err = run_startup_file(Path::new("s.cli"), text, &mut echo, &mut out).unwrap_err();
        assert_eq!(err, "s.cli:4: bad: bad command");
        assert_eq!(echo.0, ["one", "bad"]);
        assert_eq!(out, b"did one\n");
    }

    #[test]
    fn quit_words() {
        assert!(is_quit(" quit "));
        assert!(is_quit("exit"));
        assert!(!is_quit("quitter"));
    }
}
