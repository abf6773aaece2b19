//! Bad command lines end podfwd with a sentence naming the problem and a non-zero
//! exit, before any forwarding.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use podfwd_suite::{bin, dpdk_lock, file_prefix, scratch_dir, DpdkProcess};

fn podfwd(test: &str, eal: &[&str], app: &[&str]) -> Output {
    podfwd_with_stdin(test, eal, app, "")
}

fn last_stderr_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn unknown_iface_device_is_named_with_the_known_ones() {
    let out = podfwd(
        "bad_iface",
        &["-l", "0,1", "--vdev=net_null0"],
        &["--iface", "up0=net_nope7"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        last_stderr_line(&out),
        "podfwd: unknown device 'net_nope7' in --iface up0=net_nope7 (known: net_null0)"
    );
}

/// A --vdev that fails to probe is named, not taken for "no ports" or skipped (which
/// would renumber the other interfaces).
#[test]
fn vdev_that_fails_to_probe_is_named() {
    let out = podfwd(
        "bad_vdev",
        &[
            "-l",
            "0,1",
            "--vdev=net_pcap0,rx_pcap=/nonexistent/podfwd-test.pcap",
            "--vdev=net_null1",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        last_stderr_line(&out),
        "podfwd: device(s) net_pcap0 given with --vdev failed to probe (see the EAL log \
         above); probed: net_null1"
    );
}

#[test]
fn malformed_eal_argument_fails_eal_init() {
    let out = podfwd("bad_eal", &["-l", "zero,one", "--vdev=net_null0"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        last_stderr_line(&out),
        "podfwd: rte_eal_init failed: Invalid argument (errno 22); check the EAL options before '--' (see the EAL log above)"
    );
}

/// getopt permutes argv: the stray word is named even with EAL options after it.
#[test]
fn stray_eal_argument_is_named() {
    let out = podfwd(
        "bad_eal_stray",
        &["-l", "0,1", "stray", "--vdev=net_null0"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        last_stderr_line(&out),
        "podfwd: rte_eal_init failed on arguments [\"stray\"]: Invalid argument (errno 22); \
         EAL options go before '--', app options after it"
    );
}

#[test]
fn too_few_mbufs_is_refused_with_what_is_needed() {
    let out = podfwd(
        "bad_mbufs",
        &["-l", "0,1", "--vdev=net_null0"],
        &["--mbufs", "100"],
    );
    assert_eq!(out.status.code(), Some(2));
    let line = last_stderr_line(&out);
    assert!(
        line.starts_with("podfwd: --mbufs 100 is below what the rings, bursts and lcore caches hold at once (")
            && line.ends_with(" for 1 port(s) x 1 queue(s) with 1024 rx / 1024 tx descriptors): rx would run out of mbufs"),
        "{line}"
    );
}

/// Named before the EAL starts (it would probe devices and take hugepages first).
#[test]
fn missing_startup_file_is_named() {
    let out = podfwd(
        "bad_exec",
        &["-l", "0,1", "--vdev=net_null0"],
        &["--exec", "/nonexistent/podfwd.cli"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        last_stderr_line(&out),
        "podfwd: startup file '/nonexistent/podfwd.cli': No such file or directory (os error 2)"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("EAL:"), "the EAL ran: {stderr}");
}

#[test]
fn single_lcore_leaves_no_worker() {
    let out = podfwd("one_lcore", &["-l", "0", "--vdev=net_null0"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        last_stderr_line(&out).starts_with("podfwd: no worker lcore"),
        "{}",
        last_stderr_line(&out)
    );
}

#[test]
fn burst_out_of_range_is_refused() {
    let out = podfwd(
        "bad_burst",
        &["-l", "0,1", "--vdev=net_null0"],
        &["--burst", "257"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("'257': burst must be 1..=256"), "{stderr}");
}

/// `--help`, before or after `--`: the app's options and a line on EAL's, exit 0, and
/// the EAL never starts (it would probe devices first, and print only its own usage).
#[test]
fn help_prints_the_apps_options_without_starting_the_eal() {
    for (test, eal, app) in [
        ("help_app", &[][..], &["--help"][..]),
        ("help_eal", &["--help"], &[]),
        ("help_short", &["-l", "0,1"], &["--burst", "8", "-h"]),
    ] {
        let out = podfwd(test, eal, app);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{test}: {stderr}");
        assert!(
            stdout.contains("Usage: podfwd [EAL options] -- [OPTIONS]"),
            "{test}: {stdout}"
        );
        assert!(stdout.contains("--iface <NAME=DEVICE>"), "{test}: {stdout}");
        assert!(
            stdout.contains("they go before '--', the options above after it"),
            "{test}: {stdout}"
        );
        assert!(
            !stderr.contains("EAL:") && !stdout.contains("EAL:"),
            "{test}: the EAL ran: {stderr}"
        );
    }
}

#[test]
fn version_prints_without_starting_the_eal() {
    let out = podfwd("version", &[], &["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("podfwd "),
        "{out:?}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("EAL"),
        "{out:?}"
    );
}

/// podfwd's options before `--` get one sentence, not EAL's "unrecognized option" and
/// its usage.
#[test]
fn app_option_before_the_separator_is_named() {
    let out = podfwd(
        "app_option_early",
        &["-l", "0,1", "--vdev=net_null0", "--iface", "up0=net_null0"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().last().unwrap_or_default(),
        "podfwd: --iface is a podfwd option: put podfwd's options after '--' (EAL options before it)"
    );
    assert!(!stderr.contains("EAL:"), "the EAL ran: {stderr}");
}

/// podfwd on `eal`, `app`, its console given `stdin`.
fn podfwd_with_stdin(test: &str, eal: &[&str], app: &[&str], stdin: &str) -> Output {
    let _lock = dpdk_lock();
    let prefix = file_prefix(test);
    let mut podfwd = DpdkProcess::spawn(
        Command::new(bin("podfwd"))
            .args(["--no-pci", "--no-huge", "--file-prefix", &prefix])
            .args(eal)
            .arg("--")
            .args(app)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        &prefix,
    );
    podfwd
        .stdin
        .as_mut()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write podfwd stdin");
    podfwd.wait_with_output().expect("run podfwd")
}

/// `--socket` naming a regular file: refused with a sentence, and the file kept.
#[test]
fn socket_path_of_a_regular_file_is_refused_and_kept() {
    let dir = scratch_dir("bad_socket_file");
    let path = dir.join("notes.txt");
    std::fs::write(&path, "precious\n").unwrap();
    let out = podfwd(
        "bad_socket_file",
        &["-l", "0,1", "--vdev=net_null0,no-rx=1"],
        &["--socket", path.to_str().unwrap()],
    );
    // Refused before the EAL starts, as the other start-up mistakes are.
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("EAL:"), "the EAL ran: {stderr}");
    assert_eq!(
        last_stderr_line(&out),
        format!(
            "podfwd: control socket {} is a regular file, not a socket: podfwd replaces \
             only a socket that a podfwd left behind; remove it or pass another --socket",
            path.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious\n");
}

/// A port that no `--iface` binds is named in a warning at start-up.
#[test]
fn port_bound_by_no_iface_is_warned_about() {
    let dir = scratch_dir("unused_port");
    let socket = dir.join("cli.sock");
    let out = podfwd_with_stdin(
        "unused_port",
        &[
            "-l",
            "0,1",
            "--vdev=net_null0,no-rx=1",
            "--vdev=net_null1,no-rx=1",
        ],
        &[
            "--iface",
            "up0=net_null1",
            "--socket",
            socket.to_str().unwrap(),
        ],
        "quit\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("bound by no --iface"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("WARN")
            && warnings[0].ends_with(
                "port 0 (device net_null0) is bound by no --iface: podfwd leaves it unused"
            ),
        "{stderr}"
    );
}
