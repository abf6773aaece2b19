//! Ethernet ports: discovery, configuration, queues, start/stop, link and counters.

use std::ffi::CString;
use std::mem::MaybeUninit;
use std::os::raw::c_char;

use dpdk_sys as sys;

use super::mbuf::{self, RxQueue, TxQueue, Way};
use super::mempool::Mempool;
use super::{c_string, DpdkError};

/// A DPDK port id.
pub type PortId = u16;

/// What `rte_eth_dev_info_get` tells about a port, in the parts podfwd uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    pub port: PortId,
    /// The EAL device name (`net_pcap0`).
    pub device: String,
    pub driver: String,
    pub max_rx_queues: u16,
    pub max_tx_queues: u16,
    pub rx_offload_capa: u64,
    pub tx_offload_capa: u64,
    pub mac: [u8; 6],
    /// NUMA socket, or -1 when unknown (virtual devices).
    pub socket: i32,
}

/// Link state as reported without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

impl std::fmt::Display for LinkStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.up {
            let duplex = if self.full_duplex { "full" } else { "half" };
            write!(f, "up, {} Mbps, {duplex} duplex", self.speed_mbps)
        } else {
            write!(f, "down")
        }
    }
}

/// The basic per-port counters (`rte_eth_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_no_mbuf: u64,
}

/// The ports the EAL probed that no other device owns (RTE_ETH_FOREACH_DEV's set), in
/// port id order: a bonding or failsafe port's members are driven through it, not by us.
pub fn ports() -> Vec<PortId> {
    let mut ids = Vec::new();
    let next = |from: u64| {
        // SAFETY: rte_eth_find_next_owned_by only reads the ethdev table; it returns
        // RTE_MAX_ETHPORTS when no ownerless port is at or after `from`.
        unsafe {
            sys::rte_eth_find_next_owned_by(from as u16, u64::from(sys::RTE_ETH_DEV_NO_OWNER))
        }
    };
    let mut port = next(0);
    while port < u64::from(sys::RTE_MAX_ETHPORTS) {
        ids.push(port as PortId);
        port = next(port + 1);
    }
    ids
}

/// The port whose EAL device name is `device`.
pub fn port_by_device(device: &str) -> Option<PortId> {
    let name = CString::new(device).ok()?;
    let mut port: PortId = 0;
    // SAFETY: name is NUL-terminated; port is a valid out-pointer.
    let rc = unsafe { sys::rte_eth_dev_get_port_by_name(name.as_ptr(), &mut port) };
    (rc == 0).then_some(port)
}

/// The EAL device name of a port.
pub fn device_name(port: PortId) -> Result<String, DpdkError> {
    let mut name = [0 as c_char; sys::RTE_ETH_NAME_MAX_LEN as usize];
    // SAFETY: the buffer holds RTE_ETH_NAME_MAX_LEN bytes, the documented maximum.
    let rc = unsafe { sys::rte_eth_dev_get_name_by_port(port, name.as_mut_ptr()) };
    check(rc, "rte_eth_dev_get_name_by_port", || {
        format!("port {port}")
    })?;
    // SAFETY: on success DPDK wrote a NUL-terminated name into the buffer.
    Ok(unsafe { c_string(name.as_ptr()) })
}

pub fn info(port: PortId) -> Result<PortInfo, DpdkError> {
    let device = device_name(port)?;
    let mut raw = MaybeUninit::<sys::rte_eth_dev_info>::zeroed();
    // SAFETY: raw is a writable rte_eth_dev_info; DPDK fills it on success.
    let rc = unsafe { sys::rte_eth_dev_info_get(port, raw.as_mut_ptr()) };
    if rc < 0 {
        return Err(DpdkError::new(
            "rte_eth_dev_info_get",
            format!("port {port} ({device})"),
            rc,
        ));
    }
    // SAFETY: zero-initialised, then filled by DPDK; all-zero is a valid value of this
    // plain C struct in any case.
    let raw = unsafe { raw.assume_init() };
    let mut mac = MaybeUninit::<sys::rte_ether_addr>::zeroed();
    // SAFETY: mac is a writable rte_ether_addr.
    let rc = unsafe { sys::rte_eth_macaddr_get(port, mac.as_mut_ptr()) };
    // SAFETY: zeroed and possibly filled; six bytes, any value valid.
    let mac = if rc == 0 {
        unsafe { mac.assume_init() }.addr_bytes
    } else {
        [0; 6]
    };
    // SAFETY: any port id may be passed; -1 for unknown.
    let socket = unsafe { sys::rte_eth_dev_socket_id(port) };
    Ok(PortInfo {
        port,
        device,
        // SAFETY: driver_name points to the PMD's static name string (or is NULL).
        driver: unsafe { c_string(raw.driver_name) },
        max_rx_queues: raw.max_rx_queues,
        max_tx_queues: raw.max_tx_queues,
        rx_offload_capa: raw.rx_offload_capa,
        tx_offload_capa: raw.tx_offload_capa,
        mac,
        socket,
    })
}

/// Configures `rx_queues`/`tx_queues` with no offloads and no RSS: queue choice is
/// the sender's on the virtual devices podfwd serves.
pub fn configure(port: PortId, rx_queues: u16, tx_queues: u16) -> Result<(), DpdkError> {
    let conf = sys::rte_eth_conf::default();
    // SAFETY: conf is a valid, fully initialised rte_eth_conf read by DPDK only.
    let rc = unsafe { sys::rte_eth_dev_configure(port, rx_queues, tx_queues, &conf) };
    check(rc, "rte_eth_dev_configure", || {
        format!("port {port} ({rx_queues} rx, {tx_queues} tx queues)")
    })
}

/// Clamps the descriptor counts to what the port accepts; returns (rx, tx).
pub fn adjust_descriptors(port: PortId, rx: u16, tx: u16) -> Result<(u16, u16), DpdkError> {
    let (mut rx, mut tx) = (rx, tx);
    // SAFETY: both pointers are valid, writable u16s.
    let rc = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(port, &mut rx, &mut tx) };
    check(rc, "rte_eth_dev_adjust_nb_rx_tx_desc", || {
        format!("port {port}")
    })?;
    Ok((rx, tx))
}

pub fn rx_queue_setup(
    port: PortId,
    queue: u16,
    descriptors: u16,
    socket: i32,
    pool: &Mempool,
) -> Result<RxQueue, DpdkError> {
    claim(port, queue, Way::Rx, "rte_eth_rx_queue_setup")?;
    // SAFETY: NULL rx_conf selects the PMD defaults; the pool is never freed (see
    // Mempool), so it outlives the queue. No handle to the queue lives (claimed).
    let rc = unsafe {
        sys::rte_eth_rx_queue_setup(
            port,
            queue,
            descriptors,
            socket_arg(socket),
            std::ptr::null(),
            pool.as_ptr(),
        )
    };
    check(rc, "rte_eth_rx_queue_setup", || {
        format!("port {port} queue {queue}")
    })
    .inspect_err(|_| mbuf::release(port, queue, Way::Rx))?;
    Ok(RxQueue::set_up(port, queue))
}

pub fn tx_queue_setup(
    port: PortId,
    queue: u16,
    descriptors: u16,
    socket: i32,
) -> Result<TxQueue, DpdkError> {
    claim(port, queue, Way::Tx, "rte_eth_tx_queue_setup")?;
    // SAFETY: NULL tx_conf selects the PMD defaults; no handle to the queue lives.
    let rc = unsafe {
        sys::rte_eth_tx_queue_setup(
            port,
            queue,
            descriptors,
            socket_arg(socket),
            std::ptr::null(),
        )
    };
    check(rc, "rte_eth_tx_queue_setup", || {
        format!("port {port} queue {queue}")
    })
    .inspect_err(|_| mbuf::release(port, queue, Way::Tx))?;
    Ok(TxQueue::set_up(port, queue))
}

/// Marks a queue held before its set-up, or says it already is.
fn claim(port: PortId, queue: u16, way: Way, call: &'static str) -> Result<(), DpdkError> {
    if mbuf::claim(port, queue, way) {
        return Ok(());
    }
    Err(DpdkError::new(
        call,
        format!("port {port} queue {queue}: set up already, and its handle still lives"),
        -libc::EBUSY,
    ))
}

/// Refuses `call` on `port` while a handle to one of its queues lives (an lcore may be
/// polling it).
fn unheld(port: PortId, call: &'static str) -> Result<(), DpdkError> {
    if mbuf::port_held(port) {
        return Err(DpdkError::new(
            call,
            format!("port {port}: a handle to one of its queues still lives"),
            -libc::EBUSY,
        ));
    }
    Ok(())
}

/// Ok for a non-negative return code, else the error naming `call` and its subject.
fn check(rc: i32, call: &'static str, subject: impl FnOnce() -> String) -> Result<(), DpdkError> {
    if rc < 0 {
        return Err(DpdkError::new(call, subject(), rc));
    }
    Ok(())
}

/// SOCKET_ID_ANY (-1) travels as unsigned through the C API.
fn socket_arg(socket: i32) -> u32 {
    socket as u32
}

pub fn start(port: PortId) -> Result<(), DpdkError> {
    // SAFETY: the port is configured with its queues set up.
    let rc = unsafe { sys::rte_eth_dev_start(port) };
    check(rc, "rte_eth_dev_start", || format!("port {port}"))
}

/// Receives everything, so forwarded frames need not carry the port's own MAC;
/// devices that cannot (ENOTSUP) keep working.
pub fn enable_promiscuous(port: PortId) -> Result<(), DpdkError> {
    // SAFETY: plain control call on a valid port id.
    let rc = unsafe { sys::rte_eth_promiscuous_enable(port) };
    if rc < 0 && -rc != libc::ENOTSUP {
        return Err(DpdkError::new(
            "rte_eth_promiscuous_enable",
            format!("port {port}"),
            rc,
        ));
    }
    Ok(())
}

/// Stops the port; pending TX descriptors are flushed (pcap writes its file here).
pub fn stop(port: PortId) -> Result<(), DpdkError> {
    unheld(port, "rte_eth_dev_stop")?;
    // SAFETY: no lcore polls the port: no queue handle lives.
    let rc = unsafe { sys::rte_eth_dev_stop(port) };
    check(rc, "rte_eth_dev_stop", || format!("port {port}"))
}

pub fn close(port: PortId) -> Result<(), DpdkError> {
    unheld(port, "rte_eth_dev_close")?;
    // SAFETY: no queue handle lives, so nothing polls it; nothing uses it afterwards.
    let rc = unsafe { sys::rte_eth_dev_close(port) };
    check(rc, "rte_eth_dev_close", || format!("port {port}"))
}

pub fn link(port: PortId) -> Result<LinkStatus, DpdkError> {
    let mut raw = sys::rte_eth_link::default();
    // SAFETY: raw is a valid, writable rte_eth_link.
    let rc = unsafe { sys::rte_eth_link_get_nowait(port, &mut raw) };
    if rc < 0 {
        return Err(DpdkError::new(
            "rte_eth_link_get_nowait",
            format!("port {port}"),
            rc,
        ));
    }
    Ok(LinkStatus {
        up: raw.link_status() == sys::RTE_ETH_LINK_UP as u16,
        speed_mbps: raw.link_speed,
        full_duplex: raw.link_duplex() == sys::RTE_ETH_LINK_FULL_DUPLEX as u16,
    })
}

pub fn stats(port: PortId) -> Result<PortStats, DpdkError> {
    let mut raw = sys::rte_eth_stats::default();
    // SAFETY: raw is a valid, writable rte_eth_stats.
    let rc = unsafe { sys::rte_eth_stats_get(port, &mut raw) };
    if rc < 0 {
        return Err(DpdkError::new(
            "rte_eth_stats_get",
            format!("port {port}"),
            rc,
        ));
    }
    Ok(PortStats {
        rx_packets: raw.ipackets,
        tx_packets: raw.opackets,
        rx_bytes: raw.ibytes,
        tx_bytes: raw.obytes,
        rx_missed: raw.imissed,
        rx_errors: raw.ierrors,
        tx_errors: raw.oerrors,
        rx_no_mbuf: raw.rx_nombuf,
    })
}

/// The driver's extended counters, by name, in driver order.
pub fn xstats(port: PortId) -> Result<Vec<(String, u64)>, DpdkError> {
    let subject = || format!("port {port}");
    // SAFETY: a NULL array with size 0 asks for the count only.
    let count = unsafe { sys::rte_eth_xstats_get_names(port, std::ptr::null_mut(), 0) };
    if count < 0 {
        return Err(DpdkError::new("rte_eth_xstats_get_names", subject(), count));
    }
    let len = count as usize;
    let mut names = vec![sys::rte_eth_xstat_name::default(); len];
    let mut values = vec![sys::rte_eth_xstat::default(); len];
    // SAFETY: names has room for `count` entries.
    let got_names =
        unsafe { sys::rte_eth_xstats_get_names(port, names.as_mut_ptr(), count as u32) };
    // SAFETY: values has room for `count` entries.
    let got_values = unsafe { sys::rte_eth_xstats_get(port, values.as_mut_ptr(), count as u32) };
    if got_names < 0 || got_values < 0 {
        let rc = if got_names < 0 { got_names } else { got_values };
        return Err(DpdkError::new("rte_eth_xstats_get", subject(), rc));
    }
    let usable = len.min(got_names as usize).min(got_values as usize);
    Ok(values[..usable]
        .iter()
        .filter_map(|v| {
            let name = names.get(v.id as usize)?;
            // SAFETY: DPDK NUL-terminates each name within its fixed-size array.
            let text = unsafe { c_string(name.name.as_ptr()) };
            Some((text, v.value))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue is held from its set-up to its handle's drop: a second set-up, and
    /// stopping or closing its port, are refused meanwhile (before DPDK sees them, so
    /// no EAL is needed here).
    #[test]
    fn a_port_whose_queue_handle_lives_is_not_stopped() {
        const PORT: PortId = 4000;
        claim(PORT, 0, Way::Rx, "rte_eth_rx_queue_setup").unwrap();
        let queue = RxQueue::set_up(PORT, 0);
        let again = claim(PORT, 0, Way::Rx, "rte_eth_rx_queue_setup").unwrap_err();
        assert_eq!(again.errno, libc::EBUSY);
        claim(PORT, 0, Way::Tx, "rte_eth_tx_queue_setup").unwrap();
        let tx = TxQueue::set_up(PORT, 0);
        for refused in [stop(PORT), close(PORT)] {
            let e = refused.unwrap_err();
            assert_eq!(e.errno, libc::EBUSY);
            assert!(e.to_string().contains("still lives"), "{e}");
        }
        drop(queue);
        assert!(mbuf::port_held(PORT), "the tx queue's handle lives");
        drop(tx);
        assert!(!mbuf::port_held(PORT));
        claim(PORT, 0, Way::Rx, "rte_eth_rx_queue_setup").unwrap();
        mbuf::release(PORT, 0, Way::Rx);
        assert!(!mbuf::port_held(PORT));
    }
}
