//! Commands from people: the startup file, the console on stdin and the control
//! socket all feed one [`Executor`] on the main lcore.

use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use podfwd::control::{Background, Started};

use crate::control;

/// Runs one CLI line; `Ok` is the output to show, `Err` a sentence saying what is wrong.
pub trait Executor {
    fn execute(&mut self, line: &str) -> Result<String, String>;
    /// Runs `line`, or leaves the part of it that waits (a ping) as work for the
    /// console to run beside the other commands.
    fn start(&mut self, line: &str) -> Started {
        Started::Done(self.execute(line))
    }
    /// A neighbour a worker learnt from ARP.
    fn learned(&mut self, _event: podfwd::stages::arp::LearnEvent) {}
    /// The last command asked podfwd to stop (`quit` over the socket).
    fn quit_requested(&self) -> bool {
        false
    }
    /// Changes from here on may be published together, at [`Executor::end_batch`].
    fn begin_batch(&mut self) {}
    fn end_batch(&mut self) {}
}

impl Executor for podfwd::control::Control {
    fn execute(&mut self, line: &str) -> Result<String, String> {
        self.execute_line(line)
    }
    fn start(&mut self, line: &str) -> Started {
        self.start_line(line)
    }
    fn learned(&mut self, event: podfwd::stages::arp::LearnEvent) {
        self.learn_neighbor(event.if_index, event.ip, event.mac);
    }
    fn quit_requested(&self) -> bool {
        podfwd::control::Control::quit_requested(self)
    }
    fn begin_batch(&mut self) {
        podfwd::control::Control::begin_batch(self);
    }
    fn end_batch(&mut self) {
        podfwd::control::Control::end_batch(self);
    }
}

/// Why the main lcore woke up.
#[derive(Debug)]
pub enum Event {
    /// A line typed on stdin; `done` is signalled once it has run.
    ConsoleLine { line: String, done: Sender<()> },
    /// stdin reached end of file; forwarding goes on until a signal or `quit`.
    ConsoleClosed,
    /// SIGINT or SIGTERM.
    StopSignal,
    /// A worker learnt a neighbour from ARP.
    Learned(podfwd::stages::arp::LearnEvent),
    /// A line from a control socket client, and where its reply goes; `gone` turns true
    /// if the client disconnects before the reply (a long command may stop then).
    Remote {
        line: String,
        reply: Sender<Output>,
        gone: Arc<AtomicBool>,
    },
}

/// What a socket client's command sends back: output to show at once (a ping's lines),
/// then its reply.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    Part(String),
    Done(Result<String, String>),
}

/// Lines that end podfwd rather than go to the executor.
pub fn is_quit(line: &str) -> bool {
    // As the CLI reads it, abbreviations included: `qu` must not mean one thing here
    // and another to the executor.
    matches!(
        podfwd::cli::parse(line),
        Ok(Some(podfwd::cli::Command::Quit))
    )
}

/// Runs every line of a startup file; blank lines and `#` comments are skipped. Stops
/// at the first failing line with `FILE:LINE: error`.
pub fn run_startup_file(
    path: &Path,
    text: &str,
    executor: &mut dyn Executor,
    out: &mut dyn Write,
) -> Result<(), String> {
    // No worker runs yet, so nothing reads the snapshots in between: publish once.
    executor.begin_batch();
    let mut result = Ok(());
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match executor.execute(line) {
            Ok(output) => {
                let _ = out.write_all(output.as_bytes());
            }
            Err(e) => {
                result = Err(format!("{}:{}: {line}: {e}", path.display(), number + 1));
                break;
            }
        }
    }
    executor.end_batch();
    result
}

/// Reads command lines from stdin until end of input or until `handle` returns false:
/// with line editing and history (rustyline) when stdin is a terminal, plain lines
/// otherwise. At the terminal, Ctrl-D at the prompt is `quit` (VPP: "Quit/EOF on stdin
/// means quit program") and Ctrl-C stops podfwd as SIGINT does; a pipe's end only ends
/// the console. A terminal this
/// process does not own (started with `&`) is not read at all: reading or setting it
/// would stop the whole process, workers included, with SIGTTIN/SIGTTOU.
pub fn read_stdin_lines(prompt: &str, mut handle: impl FnMut(String) -> bool) {
    if std::io::stdin().is_terminal() {
        if !in_foreground() {
            log::warn!(
                "started in the background of a terminal: no console on stdin (use podfwdctl)"
            );
            return;
        }
        terminal::save();
        match rustyline::DefaultEditor::new() {
            Ok(mut editor) => loop {
                let line = match editor.readline(prompt) {
                    Ok(line) => line,
                    Err(rustyline::error::ReadlineError::Eof) => "quit".to_owned(),
                    // Ctrl-C at the prompt, or SIGINT from outside (rustyline holds the
                    // signal while it reads, and reports both so): a stop, as the handler
                    // makes it otherwise, at once, not queued behind a command running
                    // from the socket (a long ping would hold it).
                    Err(rustyline::error::ReadlineError::Interrupted) => {
                        crate::dpdk::signal::request_stop();
                        return;
                    }
                    Err(_) => return,
                };
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if !handle(line) {
                    return;
                }
            },
            Err(e) => log::warn!("no line editing on this terminal: {e}"),
        }
    }
    let (mut stdin, mut buf) = (std::io::stdin().lock(), Vec::new());
    while let Some(line) = next_line(&mut stdin, &mut buf) {
        match line {
            Ok(line) => {
                if !handle(line) {
                    return;
                }
            }
            Err(e) => eprintln!("error: {e}"),
        }
    }
}

/// Whether this process's group owns its controlling terminal (job control: `cmd &`
/// does not). Read from /proc/self/stat (pgrp, tpgid); in doubt, yes.
fn in_foreground() -> bool {
    std::fs::read_to_string("/proc/self/stat").map_or(true, |stat| foreground_in(&stat))
}

/// [`in_foreground`] from the text of /proc/PID/stat.
fn foreground_in(stat: &str) -> bool {
    // The command name, in parentheses, may hold spaces: fields count from after it.
    let Some(after_name) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return true;
    };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // state ppid pgrp session tty_nr tpgid
    match (fields.get(2), fields.get(5)) {
        (Some(pgrp), Some(tpgid)) => pgrp == tpgid,
        _ => true,
    }
}

/// The terminal's settings as the console found them, put back when podfwd leaves: a
/// stop signal may end the process while rustyline holds the terminal in raw mode.
pub mod terminal {
    use std::process::{Command, Stdio};
    use std::sync::OnceLock;

    static SAVED: OnceLock<String> = OnceLock::new();

    /// `stty -g` of stdin, once.
    pub fn save() {
        let saved = Command::new("stty")
            .arg("-g")
            .stdin(Stdio::inherit())
            .stderr(Stdio::null())
            .output();
        if let Some(out) = saved.ok().filter(|o| o.status.success()) {
            let settings = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let _ = SAVED.set(settings);
        }
    }

    /// Puts the saved settings back (nothing if none were saved).
    pub fn restore() {
        if let Some(settings) = SAVED.get() {
            let _ = Command::new("stty")
                .arg(settings)
                .stdin(Stdio::inherit())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The longest line read from stdin or a socket client, line end excluded. A startup
/// file of a million routes has lines of ~50 bytes; without a cap, a client that never
/// sends a newline grows the buffer until podfwd runs out of memory.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The next line of `reader`, without its line end: `None` at the end of input (or on a
/// read error), `Some(Err(..))` for a line that is not UTF-8 or is longer than
/// [`MAX_LINE_BYTES`], which is refused on its own (and, when too long, read up to its
/// newline without being kept) rather than ending the input as `BufRead::lines` would.
pub fn next_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> Option<Result<String, String>> {
    read_line(reader, buf, true)
}

/// [`next_line`] for a control socket: a last line without its newline is not a line.
/// A client that dies mid-write must not have half a command run (`set interface nat44
/// in NAME` of `... del`); vppctl's sessions discard it too.
pub fn next_full_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
) -> Option<Result<String, String>> {
    read_line(reader, buf, false)
}

fn read_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    unterminated_too: bool,
) -> Option<Result<String, String>> {
    buf.clear();
    let (mut read_any, mut too_long, mut terminated) = (false, false, false);
    loop {
        let available = match reader.fill_buf() {
            Ok([]) => break,
            Ok(available) => available,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        read_any = true;
        let (chunk, ends_line) = match available.iter().position(|&b| b == b'\n') {
            Some(newline) => (&available[..=newline], true),
            None => (available, false),
        };
        let taken = chunk.len();
        // Room for the line and its "\r\n"; past that the line is refused, not kept.
        if !too_long && buf.len() + taken <= MAX_LINE_BYTES + 2 {
            buf.extend_from_slice(chunk);
        } else {
            too_long = true;
            buf.clear();
        }
        reader.consume(taken);
        if ends_line {
            terminated = true;
            break;
        }
    }
    if !read_any || !(terminated || unterminated_too) {
        buf.clear();
        return None;
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    if too_long || buf.len() > MAX_LINE_BYTES {
        buf.clear();
        return Some(Err(format!("line longer than {MAX_LINE_BYTES} bytes")));
    }
    Some(String::from_utf8(std::mem::take(buf)).map_err(|e| {
        format!(
            "input line is not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        )
    }))
}

/// Starts the threads that turn stdin and stop signals into [`Event`]s. They block in
/// read(2), so the main lcore sleeps until something happens.
pub fn event_sources(stop_signal: UnixStream) -> (Sender<Event>, Receiver<Event>) {
    let (sender, receiver) = channel();
    let console = sender.clone();
    std::thread::Builder::new()
        .name("console-stdin".into())
        .spawn(move || {
            let (done, executed) = channel();
            read_stdin_lines("podfwd# ", |line| {
                // Wait for the command to finish, so its output comes before the next
                // prompt.
                console
                    .send(Event::ConsoleLine {
                        line,
                        done: done.clone(),
                    })
                    .is_ok()
                    && executed.recv().is_ok()
            });
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

/// The most control socket clients served at once: each has a thread and a line buffer,
/// and a client that connects in a loop must not take the memory.
pub const MAX_SOCKET_CLIENTS: usize = 16;

/// Counts a client as served until it is dropped, with its thread or with the closure a
/// thread could not be spawned for.
struct ClientSlot(Arc<AtomicUsize>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accepts control socket clients; each connection's lines go to the main lcore as
/// [`Event::Remote`] and the replies back in order. `quit`/`exit` close the connection.
/// Beyond [`MAX_SOCKET_CLIENTS`] at once, a client is answered an error and closed.
pub fn serve_socket(listener: UnixListener, events: Sender<Event>) {
    let spawned = std::thread::Builder::new()
        .name("control-socket".into())
        .spawn(move || {
            let clients = Arc::new(AtomicUsize::new(0));
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if clients.fetch_add(1, Ordering::AcqRel) >= MAX_SOCKET_CLIENTS {
                    clients.fetch_sub(1, Ordering::AcqRel);
                    // Its first line is answered with this, whatever it is; a client that
                    // sends nothing must not hold up the accept loop, hence no read.
                    let _ = control::write_reply(
                        &mut stream,
                        &Err(format!(
                            "too many control socket clients ({MAX_SOCKET_CLIENTS} at once); \
                             try again when one has left"
                        )),
                    );
                    continue;
                }
                let slot = ClientSlot(Arc::clone(&clients));
                let events = events.clone();
                let _ = std::thread::Builder::new()
                    .name("control-client".into())
                    .spawn(move || {
                        let _slot = slot;
                        serve_client(stream, &events);
                    });
            }
        });
    if let Err(e) = spawned {
        log::warn!("control socket not served: {e}");
    }
}

fn serve_client(stream: UnixStream, events: &Sender<Event>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let (mut reader, mut buf) = (BufReader::new(stream), Vec::new());
    while let Some(line) = next_full_line(&mut reader, &mut buf) {
        let line = match line {
            // An interrupt that came after its command ended is no part of the next.
            Ok(line) => line
                .trim_start_matches(char::from(control::INTERRUPT))
                .to_owned(),
            Err(e) => {
                if control::write_reply(&mut writer, &Err(e)).is_err() {
                    return;
                }
                continue;
            }
        };
        if is_quit(&line) {
            // Over the socket `quit` ends the session, not podfwd (as vppctl's): it is
            // answered, then the connection closes.
            let _ = control::write_reply(&mut writer, &Ok(String::new()));
            return;
        }
        let reply = if line.trim().is_empty() {
            Ok(String::new())
        } else {
            let (sender, receiver) = channel();
            let gone = Arc::new(AtomicBool::new(false));
            if events
                .send(Event::Remote {
                    line,
                    reply: sender,
                    gone: Arc::clone(&gone),
                })
                .is_err()
            {
                return;
            }
            loop {
                match receiver.recv_timeout(GONE_CHECK) {
                    Ok(Output::Done(reply)) => break reply,
                    // A client that cannot take it has gone: the check below sees it.
                    Ok(Output::Part(part)) => {
                        let _ = control::write_part(&mut writer, &part);
                    }
                    // A dropped sender means podfwd is shutting down.
                    Err(RecvTimeoutError::Disconnected) => {
                        break Err("podfwd is shutting down".into())
                    }
                    // A client that hung up, or interrupted its command (Ctrl-C on
                    // podfwdctl): the command stops early.
                    Err(RecvTimeoutError::Timeout) => {
                        if !gone.load(Ordering::Relaxed)
                            && (hung_up(&mut reader) || interrupted(&mut reader))
                        {
                            gone.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
        };
        if control::write_reply(&mut writer, &reply).is_err() {
            return;
        }
    }
}

/// How often a client waiting for its reply is checked for having gone.
const GONE_CHECK: Duration = Duration::from_millis(100);

/// Whether the client closed its end: a hang-up, not a client that only shut down its
/// sending side after its command (it still reads the reply). Reads nothing, so lines
/// sent ahead stay for the loop.
fn hung_up(reader: &mut BufReader<UnixStream>) -> bool {
    crate::dpdk::socket::peer_hung_up(reader.get_ref())
}

/// Whether the client sent [`control::INTERRUPT`] while its command runs: taken if it is
/// the next byte. Reads what has arrived without waiting; lines sent ahead stay for the
/// loop.
fn interrupted(reader: &mut BufReader<UnixStream>) -> bool {
    if reader.buffer().is_empty() && reader.get_ref().set_nonblocking(true).is_ok() {
        // Nothing there (WouldBlock), the end, or an error: nothing to take.
        let _ = reader.fill_buf();
        let _ = reader.get_ref().set_nonblocking(false);
    }
    if reader.buffer().first() == Some(&control::INTERRUPT) {
        reader.consume(1);
        return true;
    }
    false
}

/// Hands neighbours the workers learnt to the main lcore's event loop.
pub fn forward_learned(
    learned: std::sync::mpsc::Receiver<podfwd::stages::arp::LearnEvent>,
    events: Sender<Event>,
) {
    let spawned = std::thread::Builder::new()
        .name("arp-learn".into())
        .spawn(move || {
            for event in learned {
                if events.send(Event::Learned(event)).is_err() {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("learnt neighbours will not be applied: {e}");
    }
}

/// Serves events until `quit`/`exit` or a stop signal, then waits for the work still
/// running beside it (told to stop) or, once every event source has gone, for its end.
pub fn run_console(executor: &mut dyn Executor, events: &Receiver<Event>) {
    let mut beside = Beside::default();
    let stop = serve_events(executor, events, &mut beside);
    beside.finish(stop);
}

/// Whether [`serve_events`] ended on a stop (quit, a signal) rather than on its event
/// sources all going.
type Stopped = bool;

fn serve_events(
    executor: &mut dyn Executor,
    events: &Receiver<Event>,
    beside: &mut Beside,
) -> Stopped {
    while let Ok(event) = events.recv() {
        match event {
            Event::StopSignal => {
                log::info!("stop signal received");
                return true;
            }
            Event::Remote { line, reply, gone } => {
                match executor.start(line.trim()) {
                    Started::Done(result) => {
                        let _ = reply.send(Output::Done(result));
                    }
                    // It stops early if its client goes.
                    Started::Background(work) => {
                        let parts = reply.clone();
                        let show = move |part: &str| {
                            let _ = parts.send(Output::Part(part.to_owned()));
                        };
                        beside.run(work, gone, show, move |result| {
                            let _ = reply.send(Output::Done(result));
                        });
                    }
                }
                if executor.quit_requested() {
                    return true;
                }
            }
            Event::Learned(event) => executor.learned(event),
            Event::ConsoleClosed => log::info!("console input closed; stop with SIGINT/SIGTERM"),
            Event::ConsoleLine { line, done } => {
                if is_quit(&line) {
                    return true;
                }
                if line.trim().is_empty() {
                    let _ = done.send(());
                    continue;
                }
                // Ctrl-C may interrupt what was typed at the terminal (a ping), for as
                // long as it runs.
                let typed = std::io::stdin()
                    .is_terminal()
                    .then(crate::dpdk::signal::TerminalCommand::enter);
                let show = move |result: Result<String, String>| {
                    let mut stdout = std::io::stdout().lock();
                    let _ = match result {
                        Ok(output) => stdout.write_all(output.as_bytes()),
                        Err(e) => writeln!(stdout, "error: {e}"),
                    };
                    let _ = stdout.flush();
                    drop(typed);
                    // The prompt comes back once the command has ended.
                    let _ = done.send(());
                };
                match executor.start(line.trim()) {
                    Started::Done(result) => show(result),
                    Started::Background(work) => {
                        let part = |part: &str| {
                            let mut stdout = std::io::stdout().lock();
                            let _ = stdout.write_all(part.as_bytes());
                            let _ = stdout.flush();
                        };
                        beside.run(work, Arc::new(AtomicBool::new(false)), part, show);
                    }
                }
                if executor.quit_requested() {
                    return true;
                }
            }
        }
    }
    false
}

/// Work running beside the console ([`Background`]), each on its own thread.
#[derive(Default)]
struct Beside {
    running: Vec<std::thread::JoinHandle<()>>,
    /// Set when podfwd stops: the work ends early.
    stopping: Arc<AtomicBool>,
}

impl Beside {
    /// Runs `work` on a thread of its own, handing what it shows as it goes to `show`,
    /// then the rest to `report`; `gone` (its client went) or a stop ends it early.
    fn run(
        &mut self,
        work: Background,
        gone: Arc<AtomicBool>,
        mut show: impl FnMut(&str) + Send + 'static,
        report: impl FnOnce(Result<String, String>) + Send + 'static,
    ) {
        self.running.retain(|t| !t.is_finished());
        let stopping = Arc::clone(&self.stopping);
        let spawned = std::thread::Builder::new()
            .name("console-work".into())
            .spawn(move || {
                let stop = || gone.load(Ordering::Relaxed) || stopping.load(Ordering::Relaxed);
                report(work(&stop, &mut show));
            });
        match spawned {
            Ok(thread) => self.running.push(thread),
            // The work and its report went with the closure: its client reads a
            // shutdown, the terminal its prompt.
            Err(e) => log::error!("no thread to run a command on: {e}"),
        }
    }

    /// Waits for the work still running; tells it to stop first when podfwd stops.
    fn finish(self, stop: Stopped) {
        if stop {
            self.stopping.store(true, Ordering::Relaxed);
        }
        for thread in self.running {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreground_is_the_terminals_process_group() {
        // pid (comm) state ppid pgrp session tty_nr tpgid ...
        let stat = |pgrp: u32, tpgid: u32| {
            format!("4242 (pod fwd) (x)) S 1000 {pgrp} 1000 34817 {tpgid} 4194560 120 0 0 0")
        };
        assert!(foreground_in(&stat(4242, 4242)));
        assert!(!foreground_in(&stat(4242, 1000)));
        // Unreadable: taken as the foreground, as before.
        assert!(foreground_in("garbage"));
    }

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
    fn lines_that_are_not_utf8_are_refused_alone() {
        let mut input: &[u8] = b"show version\r\nshow \xff\nquit\nlast";
        let mut buf = Vec::new();
        let mut lines = Vec::new();
        while let Some(line) = next_line(&mut input, &mut buf) {
            lines.push(line);
        }
        assert_eq!(
            lines,
            [
                Ok("show version".to_string()),
                Err("input line is not UTF-8 text (byte 5)".to_string()),
                Ok("quit".to_string()),
                Ok("last".to_string()),
            ]
        );
    }

    /// A line past the cap is refused with its own error, read up to its newline and not
    /// kept; the lines around it are served as usual, whatever the reader's buffer size.
    #[test]
    fn overlong_lines_are_refused_alone() {
        let long = "x".repeat(MAX_LINE_BYTES + 1);
        let longest = "y".repeat(MAX_LINE_BYTES);
        let text = format!("show version\n{long}\n{longest}\r\n{long}{long}\r\nquit\n{long}");
        let error = Err(format!("line longer than {MAX_LINE_BYTES} bytes"));
        for capacity in [1, 7, 8192, 1 << 20] {
            let mut input = BufReader::with_capacity(capacity, text.as_bytes());
            let mut buf = Vec::new();
            let mut lines = Vec::new();
            while let Some(line) = next_line(&mut input, &mut buf) {
                lines.push(line);
            }
            assert_eq!(
                lines,
                [
                    Ok("show version".to_string()),
                    error.clone(),
                    Ok(longest.clone()),
                    error.clone(),
                    Ok("quit".to_string()),
                    error.clone(),
                ],
                "buffer of {capacity} bytes"
            );
            assert!(
                buf.capacity() <= 2 * (MAX_LINE_BYTES + 2) + capacity,
                "the buffer grew to {} bytes",
                buf.capacity()
            );
        }
    }

    /// Clients past the limit are answered with an error and closed; those within it
    /// are served as before, and a client that leaves frees its place.
    #[test]
    fn socket_clients_beyond_the_limit_are_refused() {
        let dir = std::env::temp_dir().join(format!("podfwd-clients-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cli.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let (events, received) = channel();
        serve_socket(listener, events);
        // Nobody runs commands here: the blank line is answered by the client's thread.
        // A refused client may be closed before it writes: its reply is read anyway.
        let ask = |stream: &UnixStream| {
            let mut writer = stream;
            let _ = writer.write_all(b"\n");
            control::read_reply(&mut BufReader::new(stream)).unwrap()
        };
        let mut clients: Vec<UnixStream> = (0..MAX_SOCKET_CLIENTS)
            .map(|_| UnixStream::connect(&path).unwrap())
            .collect();
        for client in &clients {
            assert_eq!(ask(client), Ok(String::new()));
        }
        let extra = UnixStream::connect(&path).unwrap();
        assert_eq!(
            ask(&extra),
            Err(format!(
                "too many control socket clients ({MAX_SOCKET_CLIENTS} at once); \
                 try again when one has left"
            ))
        );
        drop(clients.pop());
        // The departed client's thread ends on its own; wait for its place to free.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let again = UnixStream::connect(&path).unwrap();
            if ask(&again).is_ok() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the place never freed"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            received.try_recv().is_err(),
            "no command reached the executor"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A client that closes after half a line has nothing run: the line could be a
    /// `... del` cut before its last word. Whole lines before it run.
    #[test]
    fn a_socket_line_cut_by_the_disconnect_is_not_run() {
        let (client, server) = UnixStream::pair().unwrap();
        let (events, received) = channel();
        let serving = std::thread::spawn(move || serve_client(server, &events));
        (&client)
            .write_all(b"show version\nset interface nat44 in tap2")
            .unwrap();
        let Ok(Event::Remote { line, reply, .. }) = received.recv() else {
            panic!("the whole line was not sent on");
        };
        assert_eq!(line, "show version");
        drop(client);
        reply.send(Output::Done(Ok(String::new()))).unwrap();
        assert!(received.recv().is_err(), "the cut line was sent on");
        serving.join().unwrap();
        // A file or stdin still gives its last line without a newline (next_line).
        let mut input: &[u8] = b"one\ntwo";
        let mut buf = Vec::new();
        assert_eq!(next_full_line(&mut input, &mut buf), Some(Ok("one".into())));
        assert_eq!(next_full_line(&mut input, &mut buf), None);
    }

    /// Work beside the console that shows a line at once, waits for its stop (up to
    /// 10 s) and reports whether it saw one, as a ping's does between its requests.
    fn waits_for_stop() -> Background {
        Box::new(|stop: &dyn Fn() -> bool, show: &mut dyn FnMut(&str)| {
            show("waiting\n");
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while !stop() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(format!("stopped: {}\n", stop()))
        })
    }

    /// Starts `ping` lines as [`waits_for_stop`]; runs any other line at once.
    struct Pings;
    impl Executor for Pings {
        fn execute(&mut self, line: &str) -> Result<String, String> {
            Ok(format!("did {line}\n"))
        }
        fn start(&mut self, line: &str) -> Started {
            if line.starts_with("ping") {
                Started::Background(waits_for_stop())
            } else {
                Started::Done(self.execute(line))
            }
        }
    }

    /// A client that disconnects while its command runs is seen as gone by the command
    /// (a ping stops then).
    #[test]
    fn a_command_sees_its_socket_client_go() {
        let (client, server) = UnixStream::pair().unwrap();
        let (events, received) = channel();
        let serving = std::thread::spawn(move || serve_client(server, &events));
        (&client).write_all(b"ping 10.1.1.3 repeat 1000\n").unwrap();
        let Ok(Event::Remote { line, reply, gone }) = received.recv() else {
            panic!("the line was not sent on");
        };
        let work = match Pings.start(&line) {
            Started::Background(work) => work,
            Started::Done(_) => unreachable!("Pings starts every ping"),
        };
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(client);
        });
        let started = std::time::Instant::now();
        // As the console runs it beside itself, with the client's flag.
        let mut beside = Beside::default();
        let (sender, report) = channel();
        beside.run(
            work,
            gone,
            |_| {},
            move |result| {
                sender.send(result.clone()).unwrap();
                let _ = reply.send(Output::Done(result));
            },
        );
        beside.finish(false);
        assert_eq!(report.recv().unwrap(), Ok("stopped: true\n".into()));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "it ran to its end"
        );
        closer.join().unwrap();
        serving.join().unwrap();
    }

    /// A client that sends the interrupt byte while its command runs (Ctrl-C on
    /// podfwdctl) stops it and still gets its reply; an interrupt byte that arrives after
    /// the command ended is no part of the next line.
    #[test]
    fn an_interrupt_stops_the_command_and_its_reply_comes() {
        let (client, server) = UnixStream::pair().unwrap();
        let (events, received) = channel();
        let serving = std::thread::spawn(move || serve_client(server, &events));
        (&client).write_all(b"ping 10.1.1.3 repeat 1000\n").unwrap();
        let event = received.recv().unwrap();
        let interrupter = client.try_clone().unwrap();
        let interrupting = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            (&interrupter).write_all(&[control::INTERRUPT]).unwrap();
        });
        let (sender, queue) = channel();
        sender.send(event).unwrap();
        drop(sender);
        run_console(&mut Pings, &queue);
        interrupting.join().unwrap();
        // What it showed at once, then the rest.
        let mut shown = String::new();
        let reply =
            control::read_reply_showing(&mut BufReader::new(&client), |part| shown.push_str(part));
        assert_eq!(shown, "waiting\n");
        assert_eq!(reply.unwrap(), Ok("stopped: true\n".to_string()));
        // A late interrupt, then the next command.
        (&client).write_all(&[control::INTERRUPT]).unwrap();
        (&client).write_all(b"show version\n").unwrap();
        let Ok(Event::Remote { line, reply, .. }) = received.recv() else {
            panic!("the next line was not sent on");
        };
        assert_eq!(line, "show version");
        reply.send(Output::Done(Ok(String::new()))).unwrap();
        drop(client);
        serving.join().unwrap();
    }

    /// A client that shut down only its sending side after its command (`nc -N`) is
    /// still there: its command runs to the end and it reads the reply.
    #[test]
    fn a_half_closed_client_is_not_gone() {
        struct Watches;
        impl Executor for Watches {
            fn execute(&mut self, _line: &str) -> Result<String, String> {
                unreachable!("the ping is started, not executed")
            }
            fn start(&mut self, _line: &str) -> Started {
                Started::Background(Box::new(
                    |stop: &dyn Fn() -> bool, _: &mut dyn FnMut(&str)| {
                        // Four of the client thread's checks.
                        let mut stopped = false;
                        for _ in 0..40 {
                            stopped |= stop();
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Ok(format!("5 replies, stopped: {stopped}\n"))
                    },
                ))
            }
        }
        let (client, server) = UnixStream::pair().unwrap();
        let (events, received) = channel();
        let serving = std::thread::spawn(move || serve_client(server, &events));
        (&client).write_all(b"ping 10.1.1.3 repeat 5\n").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let event = received.recv().unwrap();
        let (sender, queue) = channel();
        sender.send(event).unwrap();
        drop(sender);
        run_console(&mut Watches, &queue);
        let reply = control::read_reply(&mut BufReader::new(&client)).unwrap();
        assert_eq!(reply, Ok("5 replies, stopped: false\n".to_string()));
        serving.join().unwrap();
    }

    /// A ping from one client does not hold the others: their commands run while it
    /// waits (VPP serves its other CLI sessions during a ping). `quit` from the
    /// terminal stops it, and the console waits for it to report before it returns.
    #[test]
    fn other_clients_are_served_while_a_ping_runs() {
        let (events, queue) = channel();
        let remote = |line: &str| {
            let (reply, answer) = channel();
            let gone = Arc::new(AtomicBool::new(false));
            let line = line.to_owned();
            events.send(Event::Remote { line, reply, gone }).unwrap();
            answer
        };
        let ping = remote("ping 172.30.1.2 repeat 1000");
        let show = remote("show interface");
        let console = std::thread::spawn(move || run_console(&mut Pings, &queue));
        assert_eq!(
            show.recv_timeout(Duration::from_secs(5)),
            Ok(Output::Done(Ok("did show interface\n".into()))),
            "the second client waited for the ping"
        );
        // The ping's client has what it showed at once, not yet its reply.
        assert_eq!(
            ping.recv_timeout(Duration::from_secs(5)),
            Ok(Output::Part("waiting\n".into()))
        );
        assert!(ping.try_recv().is_err(), "the ping ended early");
        let (done, _prompt) = channel();
        events
            .send(Event::ConsoleLine {
                line: "quit".into(),
                done,
            })
            .unwrap();
        console.join().unwrap();
        assert_eq!(
            ping.try_recv(),
            Ok(Output::Done(Ok("stopped: true\n".into())))
        );
    }

    /// A ping typed at the console gives the prompt back when it ends (as VPP's CLI
    /// session), and the socket's clients are served meanwhile; a stop signal ends it.
    #[test]
    fn a_ping_typed_at_the_console_holds_only_the_prompt() {
        let (events, queue) = channel();
        let (done, prompt) = channel();
        let line = "ping 172.30.1.2 repeat 1000".to_owned();
        events.send(Event::ConsoleLine { line, done }).unwrap();
        let (reply, answer) = channel();
        let (line, gone) = (
            "show interface".to_owned(),
            Arc::new(AtomicBool::new(false)),
        );
        events.send(Event::Remote { line, reply, gone }).unwrap();
        let console = std::thread::spawn(move || run_console(&mut Pings, &queue));
        assert_eq!(
            answer.recv_timeout(Duration::from_secs(5)),
            Ok(Output::Done(Ok("did show interface\n".into())))
        );
        assert!(prompt.try_recv().is_err(), "the prompt came back mid-ping");
        events.send(Event::StopSignal).unwrap();
        console.join().unwrap();
        assert_eq!(prompt.try_recv(), Ok(()), "the prompt never came back");
    }

    #[test]
    fn quit_words() {
        assert!(is_quit(" quit "));
        assert!(is_quit("exit"));
        assert!(is_quit("qu"), "an abbreviation the CLI takes");
        assert!(!is_quit("quitter"));
        assert!(!is_quit("show version"));
    }
}
