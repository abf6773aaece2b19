//! Lcores: which exist, and running a Rust closure on a worker lcore.

use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use dpdk_sys as sys;

use super::DpdkError;

/// An EAL lcore id.
pub type LcoreId = u32;

pub fn main_lcore() -> LcoreId {
    // SAFETY: reads EAL configuration set at init.
    unsafe { sys::rte_get_main_lcore() }
}

/// The enabled lcores other than the main one, in id order.
pub fn worker_lcores() -> Vec<LcoreId> {
    let mut lcores = Vec::new();
    // SAFETY: iterates EAL configuration; returns >= RTE_MAX_LCORE at the end.
    let mut lcore = unsafe { sys::rte_get_next_lcore(u32::MAX, 1, 0) };
    while lcore < sys::RTE_MAX_LCORE {
        lcores.push(lcore);
        // SAFETY: as above.
        lcore = unsafe { sys::rte_get_next_lcore(lcore, 1, 0) };
    }
    lcores
}

/// The calling thread's lcore id (`LCORE_ID_ANY` on non-EAL threads).
pub fn current() -> LcoreId {
    // SAFETY: reads a thread-local set by the EAL.
    unsafe { sys::podfwd_lcore_id() }
}

/// The CPU an lcore runs on (the first of its set when `--lcores` gives several).
pub fn cpu_of(lcore: LcoreId) -> i32 {
    // SAFETY: pure lookup in EAL configuration.
    unsafe { sys::rte_lcore_to_cpu_id(lcore as c_int) }
}

/// The calling thread's kernel id (its LWP), for `show threads`.
pub fn thread_id() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// NUMA socket of an lcore; `SOCKET_ID_ANY` (-1) for an id past `RTE_MAX_LCORE`, such
/// as [`current`] on a thread the EAL did not start.
pub fn socket_of(lcore: LcoreId) -> i32 {
    if lcore >= sys::RTE_MAX_LCORE {
        return sys::SOCKET_ID_ANY;
    }
    // SAFETY: in bounds (DPDK 22.11 indexes lcore_config[] unchecked here).
    unsafe { sys::rte_lcore_to_socket_id(lcore) as i32 }
}

type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

/// A job running on a worker lcore; [`Launched::wait`] collects its result.
#[derive(Debug)]
#[must_use = "a launched lcore must be waited for"]
pub struct Launched {
    lcore: LcoreId,
    waited: bool,
}

/// Result code of a job that panicked (the panic is contained on its lcore).
pub const JOB_PANICKED: i32 = -1;

extern "C" fn run_job(arg: *mut c_void) -> c_int {
    // SAFETY: `launch` passed a pointer from Box::into_raw(Box<Job>) and gives up
    // ownership; this is its only reconstruction.
    let job: Box<Job> = unsafe { Box::from_raw(arg.cast::<Job>()) };
    // Unwinding out of an extern "C" function would abort the whole process. A job that
    // panicked leaves its queues unpolled: the process is asked to stop (as by SIGINT),
    // and the waiting main lcore sees JOB_PANICKED.
    catch_unwind(AssertUnwindSafe(job)).unwrap_or_else(|_| {
        super::signal::request_stop();
        JOB_PANICKED
    })
}

/// Runs `job` on worker `lcore`. The job owns everything it needs (moved in).
pub fn launch<F>(lcore: LcoreId, job: F) -> Result<Launched, DpdkError>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    // DPDK 22.11 indexes lcore_config[] with the id unchecked, and writes the job
    // there: only an enabled worker lcore goes to it.
    // SAFETY: rte_lcore_is_enabled checks its bound itself.
    let enabled = lcore < sys::RTE_MAX_LCORE && unsafe { sys::rte_lcore_is_enabled(lcore) } != 0;
    if !enabled || lcore == main_lcore() {
        return Err(DpdkError::new(
            "rte_eal_remote_launch",
            format!("lcore {lcore}: not one of this process's worker lcores"),
            -libc::EINVAL,
        ));
    }
    let job: Box<Job> = Box::new(Box::new(job));
    let arg = Box::into_raw(job).cast::<c_void>();
    // SAFETY: run_job matches lcore_function_t and takes ownership of arg only if the
    // launch succeeds.
    let rc = unsafe { sys::rte_eal_remote_launch(Some(run_job), arg, lcore) };
    if rc < 0 {
        // -EPIPE can come after the worker was woken (only the acknowledgement failed):
        // the job may be running, so it is left to it (a leak at worst).
        if rc != -libc::EPIPE {
            // SAFETY: the launch failed before the wake-up, so the job was never
            // handed over; reclaim it.
            drop(unsafe { Box::from_raw(arg.cast::<Job>()) });
        }
        return Err(DpdkError::new(
            "rte_eal_remote_launch",
            format!("lcore {lcore}"),
            rc,
        ));
    }
    Ok(Launched {
        lcore,
        waited: false,
    })
}

impl Launched {
    pub fn lcore(&self) -> LcoreId {
        self.lcore
    }

    /// Blocks until the job returns; gives its return code.
    pub fn wait(mut self) -> i32 {
        self.waited = true;
        // SAFETY: called from the main lcore for a lcore this process launched.
        unsafe { sys::rte_eal_wait_lcore(self.lcore) }
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        if !self.waited {
            // SAFETY: as in `wait`; never leave a job running past its handle.
            unsafe { sys::rte_eal_wait_lcore(self.lcore) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DPDK 22.11 indexes `lcore_config[]` unchecked in both calls: an id past
    /// `RTE_MAX_LCORE` (as `current()` gives on a thread the EAL did not start) read or
    /// wrote past it. No EAL is needed to show it.
    #[test]
    fn lcore_ids_out_of_range_are_refused_before_dpdk_sees_them() {
        assert_eq!(socket_of(u32::MAX), -1);
        assert_eq!(socket_of(sys::RTE_MAX_LCORE), -1);
        let error = launch(sys::RTE_MAX_LCORE + 72, || 0).unwrap_err();
        assert_eq!(error.errno, libc::EINVAL);
        assert!(error
            .to_string()
            .contains("not one of this process's worker lcores"));
    }
}
