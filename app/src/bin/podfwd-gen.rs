//! `podfwd-gen [EAL options] -- [options]`: a testpmd-style traffic generator. One
//! busy worker lcore drives every port; the main lcore sleeps on the console (or on
//! the batch timer) and reads the worker's published counters.
#![deny(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{info, warn};
use podfwd::types::MacAddr;
use podfwd_app::dpdk::eal::Eal;
use podfwd_app::dpdk::mbuf::{RxQueue, TxQueue};
use podfwd_app::dpdk::mempool::{Mempool, PoolSizing};
use podfwd_app::dpdk::port::{self, PortId, PortInfo};
use podfwd_app::dpdk::{lcore, signal, tsc_hz};
use podfwd_app::gen::console::{self, Command, Input, Situation, HELP};
use podfwd_app::gen::flows::FlowSpec;
use podfwd_app::gen::frame::FrameTemplate;
use podfwd_app::gen::options::{parse_command_line, GenOptions, Startup};
use podfwd_app::gen::report::{Figures, PortStatsView, SharedCounters};
use podfwd_app::gen::worker::{self, Control, Mode, RunResult, WorkerConfig};
use podfwd_app::options::split_args;

const MEMPOOL_CACHE: u32 = 256;
/// Requests in flight beyond the descriptor rings (a peer's rings, its TX buffers).
const MBUF_HEADROOM: u32 = 8192;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args: Vec<String> = match std::env::args_os().map(|a| a.into_string()).collect() {
        Ok(args) => args,
        Err(raw) => {
            eprintln!("podfwd-gen: argument {raw:?} is not valid UTF-8");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err((message, code)) => {
            eprintln!("podfwd-gen: {message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (String, u8);

fn fail<E: std::fmt::Display>(e: E) -> Failure {
    (e.to_string(), 1)
}

/// Started ports and their pool, released in order on every exit path.
struct Ports {
    configured: Vec<PortId>,
    started: Vec<PortId>,
    pool: Option<Arc<Mempool>>,
}

impl Drop for Ports {
    fn drop(&mut self) {
        for &port in &self.started {
            if let Err(e) = port::stop(port) {
                warn!("{e}");
            }
        }
        for &port in &self.configured {
            if let Err(e) = port::close(port) {
                warn!("{e}");
            }
        }
        self.pool = None;
    }
}

fn select_ports(options: &GenOptions) -> Result<Vec<PortInfo>, Failure> {
    let mut known = Vec::new();
    for id in port::ports() {
        known.push(port::info(id).map_err(fail)?);
    }
    let names: Vec<String> = known.iter().map(|i| i.device.clone()).collect();
    let mut chosen = if options.ports.is_empty() {
        known
    } else {
        let mut chosen = Vec::new();
        for (at, device) in options.ports.iter().enumerate() {
            if options.ports[..at].contains(device) {
                return Err((format!("--port {device} given twice"), 2));
            }
            match known.iter().find(|i| &i.device == device) {
                Some(info) => chosen.push(info.clone()),
                None => {
                    return Err((
                        format!(
                            "unknown device '{device}' in --port (known: {})",
                            names.join(", ")
                        ),
                        2,
                    ))
                }
            }
        }
        chosen
    };
    if chosen.len() < options.ports_needed() {
        return Err((
            format!(
                "mode {} needs {} port(s), found {} ({}): add --vdev devices to the EAL options",
                options.mode,
                options.ports_needed(),
                chosen.len(),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ),
            2,
        ));
    }
    if options.mode == Mode::Pods {
        chosen.truncate(2);
    }
    Ok(chosen)
}

/// A port's queue 0, for the worker alone.
type PortQueues = (RxQueue, TxQueue);

fn bring_up(
    options: &GenOptions,
    infos: &[PortInfo],
    ports: &mut Ports,
) -> Result<(Arc<Mempool>, Vec<PortQueues>), Failure> {
    let mut descriptors = Vec::new();
    for info in infos {
        info!(
            "port {} ({}, {}): configure 1 rx / 1 tx queue",
            info.port, info.device, info.driver
        );
        port::configure(info.port, 1, 1).map_err(fail)?;
        ports.configured.push(info.port);
        descriptors
            .push(port::adjust_descriptors(info.port, options.rxd, options.txd).map_err(fail)?);
    }
    let sizing = PoolSizing {
        ports: infos.len() as u32,
        queues_per_port: 1,
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
        burst: options.burst as u32,
        workers: 1,
        cache: MEMPOOL_CACHE,
        handoff_ring: 0,
    };
    let needed = sizing.mbufs();
    let mbufs = match options.mbufs {
        // As podfwd's: below this the ports' rings and the lcore cache hold every mbuf.
        Some(n) if n < needed => {
            return Err((
                format!(
                    "--mbufs {n} is below what the rings, bursts and lcore cache hold at once \
                     ({needed} for {} port(s) with {} rx / {} tx descriptors, a {MEMPOOL_CACHE}-mbuf \
                     cache): the ports would run out of mbufs",
                    sizing.ports, sizing.rx_descriptors, sizing.tx_descriptors
                ),
                2,
            ))
        }
        Some(n) => n,
        None => needed + MBUF_HEADROOM,
    };
    let socket = lcore::socket_of(lcore::main_lcore());
    let pool =
        Arc::new(Mempool::create("podfwd_gen_mbufs", mbufs, MEMPOOL_CACHE, socket).map_err(fail)?);
    ports.pool = Some(Arc::clone(&pool));
    let mut queues = Vec::with_capacity(infos.len());
    for (info, &(rxd, txd)) in infos.iter().zip(&descriptors) {
        let socket = if info.socket < 0 { socket } else { info.socket };
        let rx = port::rx_queue_setup(info.port, 0, rxd, socket, &pool).map_err(fail)?;
        let tx = port::tx_queue_setup(info.port, 0, txd, socket).map_err(fail)?;
        queues.push((rx, tx));
        port::start(info.port).map_err(fail)?;
        ports.started.push(info.port);
        port::enable_promiscuous(info.port).map_err(fail)?;
    }
    Ok((pool, queues))
}

/// Waits until every port's link is up (a vhost port comes up when its peer connects).
fn wait_for_links(infos: &[PortInfo], seconds: f64) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds.max(0.0));
    loop {
        let mut down = Vec::new();
        for info in infos {
            if !port::link(info.port).map_err(fail)?.up {
                down.push(info.device.clone());
            }
        }
        if down.is_empty() {
            return Ok(());
        }
        if signal::stop_requested() {
            let down = down.join(", ");
            return Err((
                format!("interrupted while waiting for the link of {down}"),
                130,
            ));
        }
        if Instant::now() >= deadline {
            return Err((
                format!(
                    "link still down after {seconds} s on {} (is the peer running?)",
                    down.join(", ")
                ),
                1,
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn figures(options: &GenOptions, infos: &[PortInfo], result: RunResult) -> Figures {
    let names: Vec<String> = infos.iter().map(|i| i.device.clone()).collect();
    let mut figures = Figures::of_run(
        options.mode,
        &names,
        result,
        tsc_hz(),
        options.new_flows,
        options.new_flow_every.unwrap_or(0),
    );
    // testpmd prints a port's link going down as it happens; the run's figures say it
    // at least when it is still down at stop.
    figures.links_down_at_stop = infos
        .iter()
        .filter(|i| port::link(i.port).is_ok_and(|link| !link.up))
        .map(|i| i.device.clone())
        .collect();
    figures
}

fn show_flows(spec: &FlowSpec, shared: &SharedCounters, control: &Control) {
    println!(
        "clients {} ports {} ({} tuples), {} {} B on the wire, {}",
        spec.clients,
        spec.client_ports,
        spec.tuple_space(),
        spec.protocol,
        spec.wire_size,
        if spec.new_flows {
            "a new flow per packet".to_owned()
        } else {
            format!("{} established flows", spec.flows)
        }
    );
    for (i, service) in spec.services.iter().enumerate() {
        println!("  service {i}: {service}");
    }
    let (client, endpoint) = (shared.client(), shared.endpoint());
    println!(
        "{}; client side good {} mistranslated {} malformed {}; endpoint side good {} mistranslated {} malformed {}",
        if control.running() { "running" } else { "stopped" },
        client.good,
        client.mistranslated_total(),
        client.malformed,
        endpoint.good,
        endpoint.mistranslated_total(),
        endpoint.malformed
    );
}

fn run(args: Vec<String>) -> Result<(), Failure> {
    let (program, eal_args, app_args) = split_args(args);
    // Help, version and bad options are answered before the EAL starts, as podfwd's:
    // EAL init probes devices and takes memory.
    let options = match parse_command_line(&program, &eal_args, &app_args) {
        Ok(Startup::Run(options)) => options,
        Ok(Startup::Print(text)) => {
            print!("{text}");
            return Ok(());
        }
        Err(message) => return Err((message, 2)),
    };
    let mut spec = options.flow_spec().map_err(|m| (m, 2))?;
    let eal = Eal::init(&program, &eal_args).map_err(fail)?;
    let Some(&worker_lcore) = lcore::worker_lcores().first() else {
        return Err((
            "no worker lcore: give two lcores, e.g. -l 0,1 --main-lcore 1 (the worker polls on lcore 0)".into(),
            2,
        ));
    };
    let infos = select_ports(&options)?;
    let mut ports = Ports {
        configured: Vec::new(),
        started: Vec::new(),
        pool: None,
    };
    let (pool, queues) = bring_up(&options, &infos, &mut ports)?;
    wait_for_links(&infos, options.wait_link)?;

    let client_mac = options
        .client_mac
        .unwrap_or(MacAddr(infos.first().map_or([0; 6], |i| i.mac)));
    let template = FrameTemplate::new(&spec, client_mac, options.gateway_mac);
    if !template.stamped() {
        warn!(
            "{} B {} frames are too small for a timestamp: no latency figures",
            spec.wire_size, spec.protocol
        );
    }
    let control = Arc::new(Control::new(options.rate, spec.flows));
    let shared = Arc::new(SharedCounters::new(infos.len()));
    let hz = tsc_hz();
    // The client port stands for the pods: it answers ARP with the MAC their requests
    // come from, and takes replies addressed to that MAC only.
    let mut port_macs: Vec<MacAddr> = infos.iter().map(|i| MacAddr(i.mac)).collect();
    if let Some(first) = port_macs.first_mut() {
        *first = client_mac;
    }
    let config = WorkerConfig {
        mode: options.mode,
        ports: infos.iter().map(|i| i.port).collect(),
        queues,
        port_macs,
        spec: spec.clone(),
        template,
        burst: options.burst,
        pool,
        control: Arc::clone(&control),
        shared: Arc::clone(&shared),
        tsc_hz: hz,
        drain_cycles: hz / 1000 * options.drain_ms,
        window: options.window(),
        show_mistranslated: options.show_mistranslated,
    };
    info!(
        "launch worker on lcore {worker_lcore}, mode {}",
        options.mode
    );
    let launched = lcore::launch(worker_lcore, move || worker::run(config)).map_err(fail)?;
    let _quit_worker = QuitOnDrop(Arc::clone(&control));
    let _stop_signal = signal::install_stop_handler().map_err(fail)?;

    let outcome = match options.duration {
        Some(seconds) => batch(&options, &infos, &control, seconds),
        None => interactive(&options, &infos, &mut spec, &control, &shared),
    };
    let _ = control.quit();
    let rc = launched.wait();
    if rc != 0 {
        warn!("worker lcore {worker_lcore} returned {rc}");
    }
    drop(ports);
    eal.cleanup().map_err(fail)?;
    outcome
}

fn batch(
    options: &GenOptions,
    infos: &[PortInfo],
    control: &Control,
    seconds: f64,
) -> Result<(), Failure> {
    if let Some(path) = &options.wait_for {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !path.exists() {
            if signal::stop_requested() {
                let path = path.display();
                return Err((
                    format!("interrupted while waiting for {path} to appear"),
                    130,
                ));
            }
            if Instant::now() >= deadline {
                return Err((format!("{} did not appear within 120 s", path.display()), 1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        info!("{} exists: starting", path.display());
    }
    std::thread::sleep(Duration::from_secs_f64(options.start_delay()));
    control.start();
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < end && !signal::stop_requested() {
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(100)));
    }
    // Ctrl-C ended the run early: its figures are printed, marked, and the exit status
    // says so (130, as a shell gives a command SIGINT ended), so that a script knows.
    let interrupted = Instant::now() < end;
    let result = control
        .stop()
        .ok_or_else(|| ("the worker returned no figures".to_owned(), 1))?;
    let mut figures = figures(options, infos, result);
    figures.interrupted = interrupted;
    let text = if options.json {
        format!("{}\n", figures.to_json())
    } else {
        figures.text()
    };
    // print! would panic on a closed pipe (`podfwd-gen ... | true`).
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(|e| (format!("writing the figures to stdout: {e}"), 1))?;
    match interrupted {
        true => Err((
            "interrupted before --duration: the figures above are of what ran".to_owned(),
            130,
        )),
        false => Ok(()),
    }
}

/// Tells the generator's worker to quit, without waiting, when dropped. Declared after
/// `launched`, it is dropped first: an early return or a panic on the main lcore would
/// otherwise leave `Launched`'s drop spinning in `rte_eal_wait_lcore` for a worker
/// nobody told to end.
struct QuitOnDrop(Arc<Control>);

impl Drop for QuitOnDrop {
    fn drop(&mut self) {
        self.0.order_quit();
    }
}

fn interactive(
    options: &GenOptions,
    infos: &[PortInfo],
    spec: &mut FlowSpec,
    control: &Control,
    shared: &SharedCounters,
) -> Result<(), Failure> {
    let (lines, input) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stdin, mut buf) = (std::io::stdin().lock(), Vec::new());
        while let Some(line) = podfwd_app::console::next_line(&mut stdin, &mut buf) {
            match line {
                Ok(line) => {
                    if lines.send(line).is_err() {
                        break;
                    }
                }
                Err(e) => eprintln!("error: {e}"),
            }
        }
    });
    let names: Vec<String> = infos.iter().map(|i| i.device.clone()).collect();
    let port_ids: Vec<PortId> = infos.iter().map(|i| i.port).collect();
    let mut stats_view = PortStatsView::new(infos.len());
    println!(
        "podfwd-gen: mode {}, ports {}; type 'help'",
        options.mode,
        names.join(", ")
    );
    loop {
        let read = if signal::stop_requested() {
            Input::Interrupt
        } else {
            match input.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => Input::Line(line),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => Input::End,
            }
        };
        let command = match console::command_of(&read) {
            Ok(Some(c)) => c,
            Ok(None) => continue,
            Err(message) => {
                println!("error: {message}");
                continue;
            }
        };
        let now = Situation {
            mode: options.mode,
            running: control.running(),
            new_flows: spec.new_flows,
        };
        if let Some(answer) = console::refusal(command, now) {
            println!("{answer}");
            continue;
        }
        match command {
            Command::Start => {
                // The last run's counters, before the worker zeroes them for this one.
                stats_view.restart(&shared.ports());
                control.start();
                println!("started");
            }
            Command::Stop => match control.stop() {
                Some(result) => print!("{}", figures(options, infos, result).text()),
                // `refusal` answered a stop when not running: the worker did not answer.
                None => println!("error: the worker returned no figures"),
            },
            Command::ShowPortStats(which) => match which.indices(&port_ids) {
                Ok(rows) => print!(
                    "{}",
                    stats_view.show(&names, &shared.ports(), &rows, Instant::now())
                ),
                Err(message) => println!("error: {message}"),
            },
            Command::ClearPortStats(which) => match which.indices(&port_ids) {
                Ok(rows) => {
                    stats_view.clear(&shared.ports(), &rows);
                    for row in rows {
                        // testpmd's line, but for "NIC": these counters are the generator's.
                        println!("statistics for port {} cleared", port_ids[row]);
                    }
                }
                Err(message) => println!("error: {message}"),
            },
            Command::ShowFlows => show_flows(spec, shared, control),
            Command::SetFlows(n) => match spec.check_flow_count(n) {
                Ok(()) => {
                    control.set_flows(n);
                    spec.flows = n;
                    println!("flows {n}");
                }
                Err(message) => println!("error: {message}"),
            },
            Command::SetRate(pps) => {
                control.set_rate(pps);
                if pps == 0 {
                    println!("rate max");
                } else {
                    println!("rate {pps} pps");
                }
            }
            Command::Help => println!("{HELP}"),
            Command::Quit => {
                if let Some(result) = control.stop() {
                    print!("{}", figures(options, infos, result).text());
                }
                return Ok(());
            }
        }
    }
}
