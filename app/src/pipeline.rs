//! The lib's pipeline behind the worker poll loop, and the app's side of the executor.
//!
//! The app numbers interfaces from 0 in its table; the lib's `IfIndex` (VPP's
//! `sw_if_index`) starts at 1 for the same order, so the two differ by one.

use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use podfwd::config::{ControlPlane, Snapshot};
use podfwd::control::{Platform, WorkerMailbox};
use podfwd::pipeline::{self, Worker};
use podfwd::runtime::Subscriber;
use podfwd::stages::arp::LearnEvent;
use podfwd::types::IfIndex;

use crate::dpdk::mbuf::Mbuf;
use crate::dpdk::{tsc_hz, CpuPrefetch};
use crate::forward::{BurstProcessor, Verdict};
use crate::hardware::HardwareCommands;

/// The lib's `IfIndex` of the app's interface at `position`.
pub fn if_index(position: usize) -> IfIndex {
    IfIndex(position as u16 + 1)
}

/// One worker lcore's pipeline.
pub struct PipelineProcessor {
    worker: Worker<CpuPrefetch>,
    snapshot: Subscriber<Snapshot>,
    mailbox: Arc<WorkerMailbox>,
    learned: SyncSender<LearnEvent>,
    /// Nanoseconds per TSC tick, in 32.32 fixed point: a multiply per burst, not a
    /// 128-bit division.
    ns_per_tick_q32: u128,
}

impl PipelineProcessor {
    pub fn new(
        worker: Worker<CpuPrefetch>,
        snapshot: Subscriber<Snapshot>,
        mailbox: Arc<WorkerMailbox>,
        learned: SyncSender<LearnEvent>,
    ) -> Self {
        PipelineProcessor {
            worker,
            snapshot,
            mailbox,
            learned,
            ns_per_tick_q32: (1_000_000_000u128 << 32) / u128::from(tsc_hz().max(1)),
        }
    }

    /// The TSC reading `tsc` in nanoseconds.
    fn ns_of(&self, tsc: u64) -> u64 {
        ((u128::from(tsc) * self.ns_per_tick_q32) >> 32) as u64
    }
}

impl BurstProcessor for PipelineProcessor {
    fn process_burst(
        &mut self,
        rx_interface: IfIndex,
        packets: &mut [Mbuf],
        verdicts: &mut [Verdict],
        now: u64,
    ) {
        let now = self.ns_of(now);
        let rx = if_index(rx_interface.as_usize());
        let out = self.worker.process(rx, packets, self.snapshot.get(), now);
        for (verdict, decided) in verdicts.iter_mut().zip(out) {
            *verdict = match *decided {
                pipeline::Verdict::Tx(i) if i.0 > 0 => Verdict::Transmit(IfIndex(i.0 - 1)),
                _ => Verdict::Drop,
            };
        }
        if !self.worker.learned().is_empty() {
            for event in self.worker.learned() {
                // A full channel means the main lcore is behind; the next ARP packet
                // from that neighbour teaches it again.
                let _ = self.learned.try_send(*event);
            }
            self.worker.clear_learned();
        }
    }

    fn between_bursts(&mut self, idle: bool, now: u64) {
        self.snapshot.refresh();
        let now = self.ns_of(now);
        let (worker, snapshot) = (&mut self.worker, self.snapshot.get());
        self.mailbox.serve(|q| worker.answer(q, snapshot, now));
        if idle {
            // Sessions expire even when no packet arrives.
            worker.housekeeping(snapshot, now);
        }
    }
}

/// The executor's view of the DPDK side.
pub struct AppPlatform {
    pub hardware: HardwareCommands,
    pub lcores: Vec<(u32, String)>,
}

impl Platform for AppPlatform {
    fn hardware_interfaces(
        &self,
        name: Option<&str>,
        _plane: &ControlPlane,
    ) -> Result<String, String> {
        self.hardware.show_hardware(name, true)
    }

    fn threads(&self) -> String {
        let mut out = String::from("ID     Name                Type        LWP     lcore\n");
        for (n, (lcore, role)) in self.lcores.iter().enumerate() {
            out.push_str(&format!(
                "{n:<6} {role:<19} {:<11} {:<7} {lcore}\n",
                "dpdk", "-"
            ));
        }
        out
    }

    fn versions(&self) -> String {
        format!(
            "DPDK {}, {}",
            dpdk_sys::DPDK_VERSION,
            env!("PODFWD_RUSTC_VERSION")
        )
    }

    fn tx_errors(&self, if_index: IfIndex) -> u64 {
        self.hardware.tx_errors(if_index.as_usize().wrapping_sub(1))
    }
}
