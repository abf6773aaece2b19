//! EAL initialisation and cleanup.

use std::ffi::CString;
use std::os::raw::c_char;

use super::DpdkError;

/// The initialised Environment Abstraction Layer. Dropping it calls `rte_eal_cleanup`;
/// [`Eal::cleanup`] does the same and reports the result.
#[derive(Debug)]
pub struct Eal {
    cleaned_up: bool,
}

/// Why EAL init failed, with a hint when the cause is a common set-up problem.
#[derive(Debug)]
pub struct EalInitError {
    pub error: DpdkError,
    pub hint: Option<&'static str>,
}

impl std::fmt::Display for EalInitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        if let Some(hint) = self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

const NO_HUGEPAGES_HINT: &str = "no free hugepages: run hugepages/setup (as root) \
     or pass --no-huge to the EAL";
const BAD_ARGUMENT_HINT: &str = "check the EAL options before '--' (see the EAL log above)";
/// EAL fails without an errno when another process holds its runtime directory's lock.
const NO_REASON_HINT: &str = "see the EAL log above; if it says 'Cannot create lock', \
     another DPDK process uses this --file-prefix: give each its own, or pass --in-memory";

impl Eal {
    /// Runs `rte_eal_init` on `program` followed by `eal_args` (everything before `--`).
    /// Can succeed only once per process.
    pub fn init(program: &str, eal_args: &[String]) -> Result<Eal, EalInitError> {
        let mut owned = Vec::with_capacity(eal_args.len() + 1);
        for arg in std::iter::once(program).chain(eal_args.iter().map(String::as_str)) {
            match CString::new(arg) {
                Ok(c) => owned.push(c),
                Err(_) => {
                    return Err(EalInitError {
                        error: DpdkError::new(
                            "rte_eal_init",
                            format!("argument {arg:?}"),
                            libc::EINVAL,
                        ),
                        hint: Some("an argument contains a NUL byte"),
                    })
                }
            }
        }
        // rte_eal_init permutes argv in place and may keep pointers into it (e.g. the
        // program name for logs), so the strings are leaked for the process lifetime.
        // into_raw, not as_ptr: EAL writes into some (rte_strsplit on --socket-mem's
        // value puts NULs in it), which a pointer from a shared borrow does not allow.
        let argv: Vec<*mut c_char> = owned.into_iter().map(CString::into_raw).collect();
        let argv: &'static mut [*mut c_char] = Box::leak(argv.into_boxed_slice());
        let argc = argv.len() as i32;
        // SAFETY: argv holds argc valid NUL-terminated strings that live forever; EAL init
        // is called from the main thread before any other DPDK call.
        let consumed = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if consumed < 0 {
            let error = DpdkError::from_rte_errno("rte_eal_init", "");
            // EAL sets EINVAL for options it cannot parse, and other codes (EACCES,
            // ENOMEM) when hugepage set-up fails: a bad option is not a hugepage
            // problem on a host whose hugepages happen to be taken.
            let hint = if error.errno == libc::EINVAL {
                Some(BAD_ARGUMENT_HINT)
            } else if error.errno == 0 {
                Some(NO_REASON_HINT)
            } else if !hugepages_optional(eal_args) && no_free_hugepages() {
                Some(NO_HUGEPAGES_HINT)
            } else {
                None
            };
            return Err(EalInitError { error, hint });
        }
        let consumed = consumed as usize;
        if consumed + 1 < argv.len() {
            // getopt stops at the first non-option; everything after it is not EAL's.
            // Dropping this cleans the half-used EAL up again.
            let _initialised = Eal { cleaned_up: false };
            // getopt moved the non-options to the end of argv, which EAL returned with
            // its program name at [consumed]: the rest are argv's tail, not eal_args'.
            let rest: Vec<String> = argv[consumed + 1..]
                .iter()
                // SAFETY: every pointer is one of the NUL-terminated strings leaked above;
                // EAL only permuted them (and may have cut one short with a NUL).
                .map(|&p| {
                    unsafe { std::ffi::CStr::from_ptr(p) }
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            return Err(EalInitError {
                error: DpdkError::new("rte_eal_init", format!("arguments {rest:?}"), libc::EINVAL),
                hint: Some("EAL options go before '--', app options after it"),
            });
        }
        Ok(Eal { cleaned_up: false })
    }

    /// Releases the EAL's resources (hugepage files, threads' state). Ports must be
    /// closed first.
    pub fn cleanup(mut self) -> Result<(), DpdkError> {
        self.cleaned_up = true;
        // SAFETY: called once, from the main lcore, after the workers returned.
        let rc = unsafe { dpdk_sys::rte_eal_cleanup() };
        if rc < 0 {
            return Err(DpdkError::new("rte_eal_cleanup", "", rc));
        }
        Ok(())
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        if !self.cleaned_up {
            // SAFETY: as in `cleanup`; the result cannot be reported from drop.
            unsafe { dpdk_sys::rte_eal_cleanup() };
        }
    }
}

fn hugepages_optional(eal_args: &[String]) -> bool {
    eal_args.iter().any(|a| a == "--no-huge")
}

/// True when the kernel reports no free hugepages.
fn no_free_hugepages() -> bool {
    std::fs::read_to_string("/proc/meminfo")
        .is_ok_and(|meminfo| free_hugepages(&meminfo) == Some(0))
}

/// `HugePages_Free` (default page size) from /proc/meminfo text.
fn free_hugepages(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("HugePages_Free:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_hugepages_from_meminfo() {
        let meminfo = "MemFree: 1 kB\nHugePages_Total:     256\nHugePages_Free:      255\nHugepagesize: 2048 kB\n";
        assert_eq!(free_hugepages(meminfo), Some(255));
        assert_eq!(free_hugepages("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn no_huge_makes_hugepages_optional() {
        let args = ["-l", "0,1", "--no-huge"].map(String::from);
        assert!(hugepages_optional(&args));
        assert!(!hugepages_optional(&args[..2]));
    }
}
