//! Tells the end-to-end tests in `tests/` where this build's binaries are: they
//! live in the profile directory above OUT_DIR (`target/<profile>/build/<pkg>/out`).
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let profile_dir = out
        .ancestors()
        .nth(3)
        .expect("OUT_DIR is target/<profile>/build/<pkg>/out")
        .to_path_buf();
    println!("cargo:rustc-env=PODFWD_BIN_DIR={}", profile_dir.display());
    println!("cargo:rerun-if-changed=build.rs");
}
