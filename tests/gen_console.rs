//! `podfwd-gen`'s console, driven through a pipe as testpmd's is in scripts: txonly on a
//! `net_null` port (no hugepages), every command answered, errors named, and EOF quits.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use podfwd_suite::{bin, dpdk_lock, file_prefix, generator_eal, DpdkProcess};

/// podfwd-gen in txonly mode on a `net_null` port, its console on a pipe.
fn txonly_generator(prefix: &str, app_args: &[&str]) -> DpdkProcess {
    DpdkProcess::spawn(
        Command::new(bin("podfwd-gen"))
            .args(generator_eal(prefix, 256))
            .args(["--vdev=net_null0", "--", "--mode", "txonly"])
            .args(app_args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        prefix,
    )
}

/// The tx-packets of net_null0 in the run summary that `stop` or `quit` prints.
fn packets_sent(stdout: &str) -> u64 {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("txonly run:"))
        .find(|l| l.starts_with("net_null0"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no net_null0 row in the run summary:\n{stdout}"))
}

#[test]
fn console_commands_over_a_pipe() {
    let _lock = dpdk_lock();
    let prefix = file_prefix("gen-console");
    let mut child = txonly_generator(
        &prefix,
        &[
            "--clients",
            "10.1.1.3",
            "--client-ports",
            "1000-1999",
            "--flows",
            "100",
        ],
    );
    let mut stdin = child.stdin.take().expect("stdin");
    let mut say = |line: &str, pause_ms: u64| {
        writeln!(stdin, "{line}").expect("write a command");
        std::thread::sleep(Duration::from_millis(pause_ms));
    };
    say("help", 0);
    say("stop", 0);
    say("start", 300);
    say("start", 0);
    say("show port stats all", 300);
    say("show port stats all", 0);
    say("show port stats 0", 0);
    say("show port stats 5", 0);
    say("clear port stats all", 0);
    say("set rate 1M", 0);
    say("set flows 500", 0);
    say("show flows", 0);
    say("set flows 1001", 0);
    say("set rate fast", 0);
    say("launch", 0);
    say("stop", 0);
    drop(stdin);
    let output = child
        .wait_with_output()
        .expect("podfwd-gen exits at end of input");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "set rate PPS|max",
        "started",
        "Packet forwarding already started",
        "Packet forwarding not started",
        "error: Invalid port 5",
        "statistics for port 0 cleared",
        "over the last",
        "rate 1000000 pps",
        "flows 500",
        "clients 10.1.1.3 ports 1000-1999 (1000 tuples), udp 64 B on the wire, 500 established flows",
        "error: flows 1001: only 1000 client tuples (1 addresses x 1000 ports)",
        "error: set rate fast: expected packets per second (e.g. 500000, 2.5M) or 'max'",
        "error: unknown command 'launch'",
        "txonly run:",
    ] {
        assert!(stdout.contains(expected), "missing '{expected}' in:\n{stdout}");
    }
    let sent = packets_sent(&stdout);
    assert!(sent > 0, "{stdout}");
}

/// `set rate` reaches the worker: the console confirms the rate only once the worker has
/// acted on the request (it warns instead if the worker does not answer), and the run
/// is paced, far below what an unpaced worker sends; `quit` stops it, prints the run and
/// exits. How exactly the rate limiter paces is unit-tested with a simulated clock
/// (app/src/gen/rate.rs), not measured here.
#[test]
fn set_rate_paces_the_worker_and_quit_exits() {
    let _lock = dpdk_lock();
    let prefix = file_prefix("gen-quit");
    let mut child = txonly_generator(&prefix, &[]);
    let mut stdin = child.stdin.take().expect("stdin");
    for (line, pause_ms) in [("set rate 10k", 0), ("start", 1500), ("quit", 0)] {
        writeln!(stdin, "{line}").expect("write a command");
        std::thread::sleep(Duration::from_millis(pause_ms));
    }
    // The console exits on quit, with its input still open.
    let output = child.wait_with_output().expect("podfwd-gen exits on quit");
    drop(stdin);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}\n{stdout}\n{stderr}",
        output.status
    );
    // `set rate` waits for the worker's acknowledgement before it answers.
    assert!(
        stdout.lines().any(|l| l == "rate 10000 pps"),
        "set rate not confirmed:\n{stdout}"
    );
    assert!(
        !stderr.contains("did not answer"),
        "the worker did not take the request:\n{stderr}"
    );
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("txonly run: "))
        .unwrap_or_else(|| panic!("no run summary after quit:\n{stdout}"));
    let seconds: f64 = summary
        .trim_start_matches("txonly run: ")
        .split(' ')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no duration in '{summary}'"));
    let sent = packets_sent(&stdout);
    // A sanity bound, not a measurement: a hundred times the rate cannot be reached by a
    // paced worker however the run is scheduled (the limiter only lets it fall behind).
    assert!(
        sent > 0 && (sent as f64) < 100.0 * 10_000.0 * seconds,
        "{sent} packets in {seconds} s at 10k pps:\n{stdout}"
    );
}

/// The generator reads its own options before the EAL starts, as podfwd does: with an
/// EAL option that EAL init would refuse, help, version and a bad option still get the
/// generator's answer, not EAL's (nor its start, memory and probes before the error).
#[test]
fn options_are_answered_before_the_eal_starts() {
    let run = |app_args: &[&str]| {
        let output = Command::new(bin("podfwd-gen"))
            .args(["--no-pci", "--not-an-eal-option", "--"])
            .args(app_args)
            .stdin(Stdio::null())
            .output()
            .expect("run podfwd-gen");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let (code, stdout, stderr) = run(&["--help"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("podfwd-gen [EAL options] -- [OPTIONS]"),
        "{stdout}"
    );
    assert!(!stderr.contains("EAL"), "{stderr}");
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!((code, stdout.starts_with("podfwd-gen ")), (Some(0), true));
    let (code, _, stderr) = run(&["--json"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "podfwd-gen: --json needs --duration: only a batch run prints JSON (the console prints text)"
    );
    let (code, _, stderr) = run(&["--size", "10"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "podfwd-gen: packet size 10: must be 64..=1518 bytes on the wire"
    );
}

/// A batch run whose stdout was closed (`podfwd-gen ... | true`) ends with an error
/// that names it. The failed print used to panic on the main lcore, and the worker,
/// never told to quit, kept the process spinning at 100 % until killed.
#[test]
fn batch_run_into_a_closed_pipe_ends() {
    let _lock = dpdk_lock();
    let prefix = file_prefix("gen-closed-stdout");
    let mut child = txonly_generator(&prefix, &["--duration", "0.5", "--rate", "10k"]);
    drop(child.stdout.take());
    let status = child.wait_at_most(Duration::from_secs(30));
    if status.is_none() {
        child.stop();
    }
    let output = child.wait_with_output().expect("podfwd-gen's stderr");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(1)),
        "still running 30 s after a 0.5 s run, or not the failure expected:\n{stderr}"
    );
    assert!(
        stderr.contains("writing the figures to stdout: Broken pipe"),
        "{stderr}"
    );
}

/// Ctrl-C during a batch run: the figures of what ran are printed, marked interrupted,
/// and the exit status is 130, so that a script cannot take them for a whole run.
#[test]
fn an_interrupted_batch_run_says_so() {
    let _lock = dpdk_lock();
    let prefix = file_prefix("gen-interrupted");
    let mut child = txonly_generator(&prefix, &["--duration", "30", "--rate", "10k", "--json"]);
    std::thread::sleep(Duration::from_secs(2));
    child.signal("INT");
    let status = child.wait_at_most(Duration::from_secs(30));
    if status.is_none() {
        child.stop();
    }
    let output = child.wait_with_output().expect("podfwd-gen's output");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(130)),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains(r#""interrupted":true,"#), "{stdout}");
    assert!(
        stderr.contains("interrupted before --duration: the figures above are of what ran"),
        "{stderr}"
    );
}
