//! dpdk-sys smoke test: EAL init without hugepages, one net_null port, one TX and one
//! RX burst through the shim, clean shutdown. EAL initialises once per process, so this
//! binary holds exactly one test.

use podfwd::buffer::PacketBuf;
use podfwd_app::dpdk::eal::Eal;
use podfwd_app::dpdk::mbuf::{rx_burst, tx_burst, Mbuf, MbufBurst};
use podfwd_app::dpdk::mempool::Mempool;
use podfwd_app::dpdk::{port, tsc, tsc_hz};
use podfwd_suite::{dpdk_lock, file_prefix, remove_runtime_dir};

/// net_null's default packet size.
const NULL_PACKET_LEN: usize = 64;

/// How many mbufs a burst holds.
fn held_capacity() -> usize {
    podfwd_app::dpdk::mbuf::MAX_BURST
}

#[test]
fn eal_null_port_one_burst_each_way() {
    let _lock = dpdk_lock();
    let prefix = file_prefix("smoke");
    let eal_args: Vec<String> = [
        "-l",
        "0",
        "--no-pci",
        "--no-huge",
        "--file-prefix",
        &prefix,
        "--vdev=net_null0",
    ]
    .map(String::from)
    .to_vec();
    let eal = Eal::init("dpdk_smoke", &eal_args).unwrap_or_else(|e| panic!("{e}"));
    assert!(tsc_hz() > 0);
    let before = tsc();
    assert!(tsc() >= before);

    let port = port::port_by_device("net_null0").expect("net_null0 probed");
    assert_eq!(port::ports(), vec![port]);
    let info = port::info(port).unwrap();
    assert_eq!(info.driver, "net_null");
    let pool = Mempool::create("smoke_pool", 1023, 0, 0).unwrap();
    port::configure(port, 1, 1).unwrap();
    port::rx_queue_setup(port, 0, 256, 0, &pool).unwrap();
    port::tx_queue_setup(port, 0, 256, 0).unwrap();
    port::start(port).unwrap();

    let frame: Vec<u8> = (0..60u8).collect();
    let mut burst = MbufBurst::new();
    for _ in 0..8 {
        let mut mbuf = Mbuf::alloc(&pool).expect("pool has mbufs");
        assert!(mbuf.write_frame(&frame));
        assert_eq!(mbuf.data(), &frame[..]);
        assert!(!mbuf.set_len(mbuf.capacity() + 1));
        assert!(burst.push(mbuf).is_ok());
    }
    let sent = tx_burst(port, 0, &mut burst);
    assert_eq!((sent.sent, sent.refused), (8, 0));
    assert!(burst.is_empty());

    let got = rx_burst(port, 0, &mut burst, 32);
    assert_eq!(got.received, 32, "net_null fills every RX burst");
    assert!(burst
        .as_slice()
        .iter()
        .all(|m| m.data().len() == NULL_PACKET_LEN && m.segments() == 1));
    // A drain dropped early frees what it did not hand out.
    let mut drain = burst.drain();
    let first = drain.next().expect("32 received");
    drop(drain);
    assert!(burst.is_empty());
    assert_eq!(pool.in_use(), 1);
    drop(first);
    assert_eq!(pool.in_use(), 0);

    let got = rx_burst(port, 0, &mut burst, 32);
    assert_eq!(got.received, 32);
    // append moves a whole burst after what the other holds, in order, or none of it.
    let mut held = MbufBurst::new();
    let first_three: Vec<_> = burst.as_slice()[..3]
        .iter()
        .map(|m| m.data().as_ptr())
        .collect();
    assert!(held.append(&mut burst));
    assert!(burst.is_empty() && held.len() == 32);
    assert!(rx_burst(port, 0, &mut burst, 32).received == 32);
    assert!(held.append(&mut burst), "64 of 256");
    let order: Vec<_> = held.as_slice()[..3]
        .iter()
        .map(|m| m.data().as_ptr())
        .collect();
    assert_eq!(order, first_three);
    while held.len() + 32 <= held_capacity() {
        assert!(rx_burst(port, 0, &mut burst, 32).received == 32);
        assert!(held.append(&mut burst));
    }
    assert!(rx_burst(port, 0, &mut burst, 32).received == 32);
    assert!(!held.append(&mut burst), "no room for 32 more");
    assert_eq!((held.len(), burst.len()), (held_capacity(), 32));
    assert_eq!(pool.in_use(), held_capacity() as u32 + 32);
    held.clear();
    burst.clear();

    let stats = port::stats(port).unwrap();
    let appended = held_capacity() as u64 + 32;
    assert_eq!((stats.tx_packets, stats.rx_packets), (8, 32 + appended));
    assert!(port::xstats(port).is_ok());
    // Every mbuf went back: 8 freed by net_null's TX, 32 by the drain, the rest by clear().
    assert_eq!(pool.in_use(), 0);

    port::stop(port).unwrap();
    port::close(port).unwrap();
    drop(pool);
    eal.cleanup().unwrap();
    remove_runtime_dir(&prefix);
}
