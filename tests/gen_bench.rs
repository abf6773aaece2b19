//! `scripts/bench --quick` runs inside the suite so that it never rots: it must finish
//! and print a figure in every row. What the figures are is not asserted (the machine
//! is shared and noisy); `scripts/bench` without --quick is how they are measured. Only
//! podfwd's mistranslations must be zero: they are defects, not speeds.

use std::process::Command;

use podfwd_suite::{bin, dpdk_lock};

/// The cells of the markdown table row whose first cell starts with `label`.
fn row<'a>(report: &'a str, label: &str) -> Vec<&'a str> {
    let line = report
        .lines()
        .find(|l| l.starts_with(&format!("| {label}")))
        .unwrap_or_else(|| panic!("no row '{label}' in:\n{report}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

fn assert_number(cell: &str, what: &str, report: &str) {
    assert!(
        cell.parse::<f64>().is_ok_and(|v| v.is_finite() && v >= 0.0),
        "{what}: '{cell}' is not a figure in:\n{report}"
    );
}

#[test]
fn bench_quick_prints_every_figure() {
    let _lock = dpdk_lock();
    let bin_dir = bin("podfwd-gen")
        .parent()
        .expect("binary directory")
        .to_path_buf();
    bin("podfwd");
    // timeout(1): a hung part fails the test (the script cleans up on TERM) instead of
    // stalling the suite; --quick takes ~45 s.
    let output = Command::new("timeout")
        .args(["--kill-after=30", "600"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench"))
        .args(["--quick", "--parts", "a,b,c,d,e", "--bin-dir"])
        .arg(&bin_dir)
        .output()
        .expect("run scripts/bench");
    let report = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "scripts/bench --quick failed ({}):\n{report}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for label in ["dpdk-testpmd io", "l3fwd LPM", "l3fwd-graph"] {
        assert_number(row(&report, label)[1], label, &report);
    }
    // podfwd runs the full chain from the bench's startup file; the script's fallback
    // (podfwd without the startup file) must not be taken.
    assert!(
        !report.contains("podfwd without startup file"),
        "podfwd rejected the chain's startup file:\n{report}"
    );
    assert_number(
        row(&report, "podfwd (full chain")[1],
        "podfwd full chain",
        &report,
    );
    let vhost = row(&report, "testpmd |");
    assert_number(vhost[1], "vhost testpmd Mpps", &report);
    assert_number(vhost[3], "vhost testpmd median latency", &report);
    // What the latency runs offered, beside the rate they asked for.
    let offered = vhost[5].split_whitespace().next().unwrap_or_default();
    assert_number(offered, "vhost testpmd offered pps", &report);
    let cps = report.split("## (c)").nth(1).expect("section (c)");
    assert_number(
        row(cps, "testpmd |")[1],
        "new flows per second through testpmd",
        &report,
    );
    let vhost_podfwd = row(&report, "podfwd (full chain) |");
    assert_number(vhost_podfwd[1], "vhost podfwd Mpps", &report);
    assert_number(vhost_podfwd[3], "vhost podfwd median latency", &report);
    let cps_podfwd = row(cps, "podfwd (full chain) |");
    assert_number(
        cps_podfwd[1],
        "new flows per second through podfwd",
        &report,
    );
    let mixed = report.split("## (d)").nth(1).expect("section (d)");
    assert_number(
        row(mixed, "testpmd |")[1],
        "mixed traffic through testpmd",
        &report,
    );
    let mixed_podfwd = row(mixed, "podfwd (full chain) |");
    assert_number(mixed_podfwd[1], "mixed traffic through podfwd", &report);
    let two = report.split("## (e)").nth(1).expect("section (e)");
    for label in [
        "dpdk-testpmd io, two cores",
        "podfwd, one worker",
        "podfwd, two workers",
        "podfwd, routes only (no sessions), one worker",
        "podfwd, routes only (no sessions), two workers",
    ] {
        assert_number(row(two, label)[1], label, &report);
    }
    // Not a speed: a translation podfwd got wrong is a defect at any rate.
    for (cell, what) in [
        (vhost_podfwd[7], "(b)"),
        (cps_podfwd[3], "(c)"),
        (mixed_podfwd[4], "(d)"),
    ] {
        assert_eq!(
            cell.parse::<f64>().ok(),
            Some(0.0),
            "mistranslated through podfwd in {what}:\n{report}"
        );
    }
}
