//! Zero-copy views of the headers the stages read and write.
//!
//! Each view wraps any `T: AsRef<[u8]>` (a test array, a `&mut [u8]` of an mbuf). Untrusted
//! bytes go through `new_checked`, after which no accessor panics; setters need `AsMut`.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod tcp;
pub mod udp;

pub use arp::{ArpPacket, Operation as ArpOperation};
pub use ethernet::{EtherType, EthernetFrame};
pub use icmp::{IcmpPacket, MessageType as IcmpType};
pub use ipv4::{Ipv4Error, Ipv4Packet, Protocol};
pub use tcp::{TcpFlags, TcpPacket};
pub use udp::UdpPacket;
