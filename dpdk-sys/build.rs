//! Probes DPDK with pkg-config, generates bindings for the headers podfwd uses and
//! compiles the C shim for DPDK's static inline functions.
use std::env;
use std::path::PathBuf;
use std::process::{exit, Command};

const MISSING_DPDK: &str = "DPDK 22.11+ not found: run scripts/setup \
     (apt-get install dpdk libdpdk-dev libclang-dev pkg-config)";

/// Headers whose items are bound; everything else is pulled in only when one of these
/// items refers to it.
const BOUND_HEADERS: &str = ".*/rte_(eal|errno|lcore|launch|cycles|mempool|mbuf|mbuf_core|\
     mbuf_ptype|ring|ring_core|ethdev|ethdev_core|eth_ctrl|dev_info|telemetry|version|malloc)\\.h";

fn main() {
    for var in [
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
        "LIBCLANG_PATH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    for file in ["build.rs", "csrc/wrapper.h", "csrc/shim.h", "csrc/shim.c"] {
        println!("cargo:rerun-if-changed={file}");
    }

    // Emits the link lines; the raw cflags below keep `-include rte_config.h` and
    // `-march`, which the pkg-config crate does not expose.
    let Ok(library) = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
    else {
        eprintln!("{MISSING_DPDK}");
        exit(1);
    };
    // `show version` reports the DPDK this build links.
    println!("cargo:rustc-env=PODFWD_DPDK_VERSION={}", library.version);
    let cflags = raw_cflags();

    let bindings = bindgen::Builder::default()
        .header("csrc/wrapper.h")
        .clang_args(&cflags)
        .clang_arg("-Icsrc")
        .rust_target(bindgen::RustTarget::stable(82, 0).expect("1.82 is a known Rust target"))
        .allowlist_file(BOUND_HEADERS)
        .allowlist_function("podfwd_.*")
        // Flag macros without the RTE_ prefix are otherwise dropped.
        .allowlist_var("RTE_.*|RING_F_.*|SOCKET_ID_ANY|LCORE_ID_ANY")
        // Packed struct with bitfields and a flexible array: Debug cannot be derived for it.
        .no_debug("rte_flow_item_gtp_psc")
        .derive_default(true)
        .layout_tests(true)
        .generate();
    let bindings = match bindings {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bindgen failed on csrc/wrapper.h ({e}): is libclang-dev installed? run scripts/setup");
            exit(1);
        }
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("OUT_DIR is writable");

    let mut shim = cc::Build::new();
    shim.file("csrc/shim.c").include("csrc").opt_level(3);
    for flag in &cflags {
        shim.flag(flag);
    }
    shim.compile("podfwd_dpdk_shim");
}

/// `pkg-config --cflags libdpdk`, split on whitespace (`-include rte_config.h` stays two
/// arguments, as both clang and gcc expect).
fn raw_cflags() -> Vec<String> {
    let output = Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output();
    match output {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        _ => {
            eprintln!("{MISSING_DPDK}");
            exit(1);
        }
    }
}
