//! Bad command lines end podfwd with a sentence naming the problem and a non-zero
//! exit, before any forwarding.

use std::process::{Command, Output, Stdio};

use podfwd_suite::{bin, dpdk_lock, file_prefix, DpdkProcess};

fn podfwd(test: &str, eal: &[&str], app: &[&str]) -> Output {
    let _lock = dpdk_lock();
    let prefix = file_prefix(test);
    // Its runtime directory goes with it.
    let mut podfwd = DpdkProcess::spawn(
        Command::new(bin("podfwd"))
            .args(["--no-pci", "--no-huge", "--file-prefix", &prefix])
            .args(eal)
            .arg("--")
            .args(app)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        &prefix,
    );
    podfwd.wait_with_output().expect("run podfwd")
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
