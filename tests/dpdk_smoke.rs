//! dpdk-sys smoke test: EAL init without hugepages, one net_null port, TX and RX bursts
//! through the shim, the burst type's moves (drain, append), clean shutdown. EAL
//! initialises once per process, so this binary holds exactly one test.

use podfwd::buffer::PacketBuf;
use podfwd_app::dpdk::eal::Eal;
use podfwd_app::dpdk::mbuf::{rx_burst, tx_burst, Mbuf, MbufBurst, MAX_BURST};
use podfwd_app::dpdk::mempool::Mempool;
use podfwd_app::dpdk::{port, tsc, tsc_hz};
use podfwd_suite::{dpdk_lock, file_prefix, RuntimeDir};

/// net_null's default packet size.
const NULL_PACKET_LEN: usize = 64;

#[test]
fn eal_null_port_one_burst_each_way() {
    let _lock = dpdk_lock();
    let prefix = file_prefix("smoke");
    // Removed when the test ends, also by a failed assertion.
    let _runtime_dir = RuntimeDir::new(&prefix);
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
    let mut rxq = port::rx_queue_setup(port, 0, 256, 0, &pool).unwrap();
    let mut txq = port::tx_queue_setup(port, 0, 256, 0).unwrap();
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
    let sent = tx_burst(&mut txq, &mut burst);
    assert_eq!((sent.sent, sent.refused), (8, 0));
    assert!(burst.is_empty());

    let got = rx_burst(&mut rxq, &mut burst, 32);
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

    let got = rx_burst(&mut rxq, &mut burst, 32);
    assert_eq!(got.received, 32);
    // append moves a whole burst after what the other holds, in order, or none of it.
    let mut held = MbufBurst::new();
    let addresses = |b: &MbufBurst| -> Vec<*const u8> {
        b.as_slice().iter().map(|m| m.data().as_ptr()).collect()
    };
    let first = addresses(&burst);
    assert!(held.append(&mut burst));
    assert!(burst.is_empty() && held.len() == 32);
    assert!(rx_burst(&mut rxq, &mut burst, 32).received == 32);
    let second = addresses(&burst);
    assert!(held.append(&mut burst), "64 of 256");
    assert_eq!(addresses(&held), [first, second].concat());
    // Up to 240 of 256: 32 more do not fit, 16 do.
    while held.len() + 32 <= MAX_BURST - 32 {
        assert!(rx_burst(&mut rxq, &mut burst, 32).received == 32);
        assert!(held.append(&mut burst));
    }
    assert!(rx_burst(&mut rxq, &mut burst, 16).received == 16);
    assert!(held.append(&mut burst));
    assert!(rx_burst(&mut rxq, &mut burst, 32).received == 32);
    assert!(!held.append(&mut burst), "240 + 32 > 256");
    assert_eq!((held.len(), burst.len()), (MAX_BURST - 16, 32));
    burst.clear();
    assert!(rx_burst(&mut rxq, &mut burst, 16).received == 16);
    assert!(held.append(&mut burst), "240 + 16 = 256");
    assert_eq!((held.len(), burst.len()), (MAX_BURST, 0));
    assert!(rx_burst(&mut rxq, &mut burst, 1).received == 1);
    assert!(!held.append(&mut burst), "full");
    assert_eq!(pool.in_use(), MAX_BURST as u32 + 1);
    held.clear();
    burst.clear();

    let stats = port::stats(port).unwrap();
    // 32 drained, 256 appended, 32 refused then cleared, 1 refused.
    let received = 32 + MAX_BURST as u64 + 32 + 1;
    assert_eq!((stats.tx_packets, stats.rx_packets), (8, received));
    assert!(port::xstats(port).is_ok());
    // Every mbuf went back: 8 freed by net_null's TX, 32 by the drain, the rest by clear().
    assert_eq!(pool.in_use(), 0);

    // While a queue's handle lives an lcore may poll it: the port is not stopped.
    let busy = port::stop(port).unwrap_err();
    assert_eq!(busy.errno, libc::EBUSY, "{busy}");
    drop((rxq, txq));
    port::stop(port).unwrap();
    port::close(port).unwrap();
    eal.cleanup().unwrap();
}
