//! `podfwd [EAL options] -- [app options]`: brings up the EAL, the ports and the
//! worker lcores, then serves commands on the main lcore until told to stop.
#![deny(unsafe_code)]

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use log::{info, warn};
use podfwd_app::{console, control, dpdk, forward, hardware, options};

use podfwd::config::ControlPlane;
use podfwd::control::{Control, WorkerLink};
use podfwd::node::InputKind;
use podfwd::pipeline::{Worker, WorkerSizes};
use podfwd::runtime::Mailbox;
use podfwd::types::MacAddr;
use podfwd_app::capture::{Captures, Clock};
use podfwd_app::console::Executor;
use podfwd_app::dpdk::eal::Eal;
use podfwd_app::dpdk::mempool::{Mempool, PoolSizing};
use podfwd_app::dpdk::port::{self, PortId};
use podfwd_app::dpdk::{lcore, signal};
use podfwd_app::forward::{InterfaceCounters, LoopMailbox, WorkerConfig, WorkerPort};
use podfwd_app::hardware::HardwareCommands;
use podfwd_app::options::Startup;
use podfwd_app::ping::Pinger;
use podfwd_app::pipeline::{AppPlatform, PipelineProcessor, ThreadRow};

/// Session tables and the FIB are big: they live on (transparent) huge pages.
#[global_allocator]
static HEAP: podfwd_app::dpdk::hugealloc::HugePageAlloc =
    podfwd_app::dpdk::hugealloc::HugePageAlloc;

/// Per-lcore mempool cache (mbufs).
const MEMPOOL_CACHE: u32 = 256;
/// TX buffers are flushed after this long even when not full.
const TX_DRAIN_MICROSECONDS: u64 = 100;
/// Learnt neighbours in flight from the workers to the main lcore.
const LEARN_QUEUE: usize = 1024;

/// A failure that ends podfwd: the sentence to print, and the exit code.
struct Failure {
    message: String,
    code: u8,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure {
            message: e.to_string(),
            code: 1,
        }
    }
}

fn main() -> ExitCode {
    podfwd_app::logging::init("info");
    let mut args = Vec::new();
    for arg in std::env::args_os() {
        match arg.into_string() {
            Ok(a) => args.push(a),
            Err(raw) => {
                eprintln!("podfwd: argument {raw:?} is not valid UTF-8");
                return ExitCode::from(2);
            }
        }
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("podfwd: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Started ports and the pool they receive into; dropping stops and closes the ports,
/// then frees the pool, so every exit path releases them in the right order.
struct Dataplane {
    started: Vec<PortId>,
    configured: Vec<PortId>,
    pool: Option<Mempool>,
}

impl Dataplane {
    fn shut_down(&mut self) -> Result<(), String> {
        let mut first_error = None;
        for port in self.started.drain(..) {
            if let Err(e) = port::stop(port) {
                first_error.get_or_insert(e.to_string());
            }
        }
        for port in self.configured.drain(..) {
            if let Err(e) = port::close(port) {
                first_error.get_or_insert(e.to_string());
            }
        }
        self.pool = None;
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        if let Err(e) = self.shut_down() {
            warn!("{e}");
        }
    }
}

/// Sets the workers' stop flag when dropped; see its use in [`run`].
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn run(args: Vec<String>) -> Result<(), Failure> {
    let (program, eal_args, app_args) = options::split_args(args);
    // Help, version and bad app options are answered before the EAL starts: EAL init
    // probes devices (the PCI bus unless --no-pci) and prints its own usage.
    let options = match options::parse_command_line(&program, &eal_args, &app_args) {
        Ok(Startup::Run(options)) => options,
        Ok(Startup::Print(text)) => {
            print!("{text}");
            return Ok(());
        }
        Err(message) => return Err(Failure { message, code: 2 }),
    };
    info!("app args: {}", app_args.join(" "));

    // What the user named is checked before the EAL starts (it probes devices and takes
    // hugepages and ports): the startup file, and the control socket's path.
    let startup = match &options.exec {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some((path.clone(), text)),
            Err(e) => {
                return Err(Failure {
                    message: format!("startup file '{}': {e}", path.display()),
                    code: 2,
                });
            }
        },
        None => None,
    };
    // Only the default socket's directory is podfwd's to make (see `control::bind`).
    let default_socket = options.socket.as_os_str() == control::DEFAULT_SOCKET;
    control::vet(&options.socket, default_socket)
        .map_err(|message| Failure { message, code: 2 })?;

    info!("EAL: rte_eal_init {}", eal_args.join(" "));
    let eal = Eal::init(&program, &eal_args)?;

    let workers = lcore::worker_lcores();
    if workers.is_empty() {
        return Err(Failure {
            message: "no worker lcore: give the EAL at least two lcores, e.g. -l 0,1 (the main lcore runs the console)".into(),
            code: 2,
        });
    }
    let queues = workers.len() as u16;
    let queue_count = queues;
    info!(
        "{} worker lcore(s) {:?}, main lcore {}",
        workers.len(),
        workers,
        lcore::main_lcore()
    );

    let vdevs = hardware::vdev_names(&eal_args);
    let interfaces =
        hardware::resolve_interfaces(&options.ifaces, &vdevs).map_err(|m| Failure {
            message: m,
            code: 2,
        })?;
    let mut dataplane = Dataplane {
        started: Vec::new(),
        configured: Vec::new(),
        pool: None,
    };
    let mut descriptors = Vec::with_capacity(interfaces.len());
    for interface in &interfaces {
        let info = &interface.info;
        let port = info.port;
        info!(
            "port {port} '{}': device {} driver {}, max {} rx / {} tx queues, socket {}",
            interface.name,
            info.device,
            info.driver,
            info.max_rx_queues,
            info.max_tx_queues,
            info.socket
        );
        if info.max_rx_queues < queues || info.max_tx_queues < queues {
            return Err(Failure {
                message: format!(
                    "port {port} ({}) has at most {} rx / {} tx queues, but {queues} worker lcore(s) need one each: pass fewer lcores with -l",
                    info.device, info.max_rx_queues, info.max_tx_queues
                ),
                code: 2,
            });
        }
        info!("port {port}: rte_eth_dev_configure {queues} rx, {queues} tx queues");
        port::configure(port, queues, queues)?;
        dataplane.configured.push(port);
        descriptors.push(port::adjust_descriptors(port, options.rxd, options.txd)?);
    }

    let sizing = PoolSizing {
        ports: interfaces.len() as u32,
        queues_per_port: u32::from(queues),
        rx_descriptors: descriptors
            .iter()
            .map(|d| u32::from(d.0))
            .max()
            .unwrap_or(0),
        tx_descriptors: descriptors
            .iter()
            .map(|d| u32::from(d.1))
            .max()
            .unwrap_or(0),
        burst: u32::from(options.burst),
        workers: u32::from(queues),
        cache: MEMPOOL_CACHE,
        handoff_ring: forward::HANDOFF_RING,
    };
    let needed = sizing.mbufs();
    let mbufs = match options.mbufs {
        Some(n) if n < needed => {
            return Err(Failure {
                message: format!(
                    "--mbufs {n} is below what the rings, bursts and lcore caches hold at \
                     once ({needed} for {} port(s) x {queues} queue(s) with {} rx / {} tx \
                     descriptors): rx would run out of mbufs",
                    sizing.ports, sizing.rx_descriptors, sizing.tx_descriptors
                ),
                code: 2,
            })
        }
        Some(n) => n,
        None => needed,
    };
    let socket = lcore::socket_of(lcore::main_lcore());
    info!("mempool: {mbufs} mbufs, cache {MEMPOOL_CACHE}, socket {socket}");
    let pool = dataplane.pool.insert(Mempool::create(
        "podfwd_mbufs",
        mbufs,
        MEMPOOL_CACHE,
        socket,
    )?);

    // Per worker (queue), its queues on every port, in interface order.
    let mut worker_ports: Vec<Vec<WorkerPort>> = (0..queues)
        .map(|_| Vec::with_capacity(interfaces.len()))
        .collect();
    for (interface, &(rxd, txd)) in interfaces.iter().zip(&descriptors) {
        let port = interface.port();
        let socket = if interface.info.socket < 0 {
            socket
        } else {
            interface.info.socket
        };
        for (queue, ports) in (0..queues).zip(worker_ports.iter_mut()) {
            info!("port {port} queue {queue}: rx {rxd} / tx {txd} descriptors");
            let rx = port::rx_queue_setup(port, queue, rxd, socket, pool)?;
            let tx = port::tx_queue_setup(port, queue, txd, socket)?;
            ports.push(WorkerPort { rx, tx });
        }
        info!("port {port}: rte_eth_dev_start");
        port::start(port)?;
        dataplane.started.push(port);
        port::enable_promiscuous(port)?;
        match port::link(port) {
            Ok(link) => info!("port {port} '{}': link {link}", interface.name),
            Err(e) => warn!("{e}"),
        }
    }

    let worker_counters: Vec<Arc<[InterfaceCounters]>> = workers
        .iter()
        .map(|_| {
            (0..interfaces.len())
                .map(|_| InterfaceCounters::default())
                .collect()
        })
        .collect();
    // The control plane knows each interface by name, with the port's MAC until the
    // configuration sets its own (net_tap: the kernel side's MAC; podfwd then sends its
    // configured MAC, never pushing it into the device).
    let mut plane = ControlPlane::new();
    for interface in &interfaces {
        let kind = InputKind::from_driver(&interface.info.driver);
        plane
            .add_interface(
                &interface.name,
                &interface.info.device,
                MacAddr(interface.info.mac),
                kind,
            )
            .map_err(|m| Failure {
                message: m,
                code: 2,
            })?;
    }
    let thread_row = |worker: Option<u16>, lcore: u32| ThreadRow {
        worker,
        lcore,
        cpu: lcore::cpu_of(lcore),
        socket: lcore::socket_of(lcore),
        lwp: Arc::new(AtomicI32::new(0)),
    };
    let main_thread = thread_row(None, lcore::main_lcore());
    main_thread.lwp.store(lcore::thread_id(), Ordering::Relaxed);
    let mut threads = vec![main_thread];
    threads.extend(
        workers
            .iter()
            .enumerate()
            .map(|(i, &l)| thread_row(Some(i as u16), l)),
    );
    let worker_lwps: Vec<Arc<AtomicI32>> = threads[1..].iter().map(|t| t.lwp.clone()).collect();
    let capture_mailboxes: Vec<Arc<LoopMailbox>> =
        workers.iter().map(|_| LoopMailbox::new()).collect();
    let captures = Arc::new(Captures::new(capture_mailboxes.clone(), || Clock {
        tsc: dpdk::tsc(),
        wall: std::time::SystemTime::now(),
        tsc_hz: dpdk::tsc_hz(),
    }));
    let platform = AppPlatform {
        hardware: HardwareCommands::new(interfaces.clone(), worker_counters.clone()),
        pools: dataplane.pool.iter().cloned().collect(),
        threads,
        captures: Arc::clone(&captures),
        eal_args: eal_args.join(" "),
        pinger: Arc::new(Pinger::new(
            capture_mailboxes.clone(),
            dpdk::tsc,
            dpdk::tsc_hz(),
        )),
        nat_sessions: options.nat_sessions,
    };
    let mut control = Control::new(plane, Box::new(platform));
    if let Some((path, text)) = &startup {
        info!("startup file {}", path.display());
        console::run_startup_file(path, text, &mut control, &mut std::io::stdout()).map_err(
            |m| Failure {
                message: m,
                code: 2,
            },
        )?;
    }

    let listener = control::bind(&options.socket, default_socket)
        .map_err(|message| Failure { message, code: 2 })?;
    info!("control socket {}", options.socket.display());
    match dpdk::hugealloc::thp_mode().as_deref() {
        Some("never") => warn!(
            "transparent huge pages are off (/sys/kernel/mm/transparent_hugepage/enabled): \
             session tables and the FIB sit on 4 KiB pages, and lookups miss the TLB more"
        ),
        mode => info!(
            "session tables and the FIB: 2 MiB-aligned, huge pages advised (THP mode {})",
            mode.unwrap_or("unknown")
        ),
    }
    let stop_signal = signal::install_stop_handler()?;
    let stop = Arc::new(AtomicBool::new(false));
    let drain_ticks = dpdk::tsc_hz() * TX_DRAIN_MICROSECONDS / 1_000_000;
    let (learned_tx, learned_rx) = std::sync::mpsc::sync_channel(LEARN_QUEUE);
    let mut launched = Vec::with_capacity(workers.len());
    let mut worker_captures = captures.launch().into_iter();
    // Declared after `launched`, so dropped before it: however `run` leaves from here
    // on (an error, a panic), the workers are told to stop before their handles wait.
    let _stop_workers = StopOnDrop(Arc::clone(&stop));
    let handoffs = forward::handoff_rings(queue_count, socket)?;
    let mut jobs = Vec::with_capacity(workers.len());
    for (queue, (((&lcore_id, counters), ports), handoff)) in workers
        .iter()
        .zip(&worker_counters)
        .zip(worker_ports)
        .zip(handoffs)
        .enumerate()
    {
        let config = WorkerConfig {
            handoff,
            ports,
            burst: usize::from(options.burst),
            drain_ticks,
            poll_sleep: Duration::from_micros(u64::from(options.poll_sleep_usec)),
            stop: Arc::clone(&stop),
            counters: Arc::clone(counters),
            capture: Arc::clone(&capture_mailboxes[queue]),
            capture_from_start: worker_captures.next().unwrap_or_default(),
        };
        let worker = Worker::with_sizes(
            dpdk::tsc,
            WorkerSizes {
                index: queue as u16,
                count: queue_count,
                nat_sessions: options.nat_sessions,
                nat_affinities: options.nat_sessions / 4,
            },
        );
        let mut worker = worker.prefetching::<dpdk::CpuPrefetch>();
        worker.set_flow_cache(!options.no_flow_cache);
        worker.set_tick_hz(dpdk::tsc_hz());
        let snapshot = control.snapshot();
        worker.adopt(&snapshot);
        for question in control.pending_questions() {
            worker
                .answer(question.clone(), &snapshot, 0)
                .map_err(|m| Failure {
                    message: m,
                    code: 2,
                })?;
        }
        let mailbox = Mailbox::new();
        control.add_worker(WorkerLink {
            lcore: lcore_id,
            counters: worker.counters(),
            mailbox: Arc::clone(&mailbox),
        });
        let processor = PipelineProcessor::new(
            worker,
            control.publisher().subscribe(),
            mailbox,
            learned_tx.clone(),
        )
        .among_workers(queue as u16, queue_count)
        .fragmenting_from(dataplane.pool.clone());
        let lwp = worker_lwps[queue].clone();
        let job = move || {
            lwp.store(lcore::thread_id(), Ordering::Relaxed);
            forward::run_worker(config, processor)
        };
        jobs.push((lcore_id, queue, job));
    }
    // Every worker is built before any runs: building one takes up to ~140 ms (its
    // session tables), and a worker already polling would hand packets to one not yet
    // launched until the handoff ring between them filled (congestion drops).
    for (lcore_id, queue, job) in jobs {
        info!("launch worker lcore {lcore_id}: queue {queue} on every port");
        match lcore::launch(lcore_id, job) {
            Ok(handle) => launched.push(handle),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                return Err(e.into());
            }
        }
    }
    drop(learned_tx);
    control.workers_started();

    if !signal::stop_requested() {
        let (sender, events) = console::event_sources(stop_signal);
        console::forward_learned(learned_rx, sender.clone());
        console::serve_socket(listener, sender);
        console::run_console(&mut control as &mut dyn Executor, &events);
        // A stop signal may come while the console thread holds the terminal raw.
        console::terminal::restore();
    }
    let _ = std::fs::remove_file(&options.socket);

    control.workers_stopped();
    info!("stopping workers");
    stop.store(true, Ordering::Relaxed);
    let mut panicked = Vec::new();
    for handle in launched {
        let lcore_id = handle.lcore();
        let rc = handle.wait();
        if rc == lcore::JOB_PANICKED {
            panicked.push(lcore_id);
        } else if rc != 0 {
            warn!("worker lcore {lcore_id} returned {rc}");
        }
    }
    info!("stopping and closing ports");
    dataplane.shut_down()?;
    drop(dataplane);
    info!("rte_eal_cleanup");
    eal.cleanup()?;
    if !panicked.is_empty() {
        // The panic's message is above, from the worker's thread.
        return Err(Failure {
            message: format!(
                "worker lcore(s) {panicked:?} panicked: their queues went unpolled, so podfwd stopped"
            ),
            code: 1,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handle that waits for its thread when dropped, as `lcore::Launched` does.
    struct JoinOnDrop(Option<std::thread::JoinHandle<()>>);

    impl Drop for JoinOnDrop {
        fn drop(&mut self) {
            if let Some(handle) = self.0.take() {
                handle.join().unwrap();
            }
        }
    }

    fn leave_early(stop: Arc<AtomicBool>) -> Result<(), String> {
        let mut launched = Vec::new();
        let _stop_workers = StopOnDrop(Arc::clone(&stop));
        let flag = Arc::clone(&stop);
        launched.push(JoinOnDrop(Some(std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::yield_now();
            }
        }))));
        Err("a later worker failed".into())
    }

    #[test]
    fn leaving_after_launch_stops_the_workers_before_waiting() {
        let stop = Arc::new(AtomicBool::new(false));
        // Without the guard this never returns: the handle waits for a thread that
        // polls until told to stop.
        assert!(leave_early(Arc::clone(&stop)).is_err());
        assert!(stop.load(Ordering::Relaxed));
    }
}
