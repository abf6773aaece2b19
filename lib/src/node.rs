//! The graph nodes (stages) and their drop reasons.
//!
//! A node's name is the same everywhere: its module, its trace entries, its `show runtime`
//! row and its `show errors` prefix. The names are VPP's, so a trace reads like the spec.

/// Every node a packet can visit, in pipeline order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum NodeId {
    /// The receive node of a port; its printed name depends on the port kind
    /// (`virtio-input`, `vhost-user-input`, ...), see [`InputKind`].
    Input,
    /// With more than one worker: packets whose sessions another worker holds go to it
    /// (VPP's `worker-handoff`), before any other stage.
    WorkerHandoff,
    /// Established flows' packets, every stage's decision applied at once; the rest go
    /// on to ethernet-input.
    Ip4FlowCache,
    EthernetInput,
    Arp,
    /// VPP's `ip4-arp`: a packet whose next hop's MAC is unknown becomes an ARP request.
    Ip4Arp,
    /// VPP's `ip4-glean`: the same for a destination on an attached subnet (no next hop;
    /// the ARP request asks for the destination itself).
    Ip4Glean,
    Ip4Input,
    AclIn,
    Nat44Classify,
    Nat44Out2in,
    Nat44In2out,
    Nat44In2outSlowpath,
    Ip4Lookup,
    Ip4Local,
    IcmpError,
    Ip4Rewrite,
    AclOut,
    Nat44In2outOutput,
    /// VPP's `ip4-frag`: a datagram over its tx interface's MTU with DF clear leaves as
    /// fragments.
    Ip4Frag,
    /// `<interface>-output`: the packet is queued for transmission.
    InterfaceOutput,
    /// VPP's `error-drop`: where every dropped packet ends, under its stage's reason.
    ErrorDrop,
}

impl NodeId {
    pub const COUNT: usize = 22;
    pub const ALL: [NodeId; NodeId::COUNT] = [
        NodeId::Input,
        NodeId::WorkerHandoff,
        NodeId::Ip4FlowCache,
        NodeId::EthernetInput,
        NodeId::Arp,
        NodeId::Ip4Arp,
        NodeId::Ip4Glean,
        NodeId::Ip4Input,
        NodeId::AclIn,
        NodeId::Nat44Classify,
        NodeId::Nat44Out2in,
        NodeId::Nat44In2out,
        NodeId::Nat44In2outSlowpath,
        NodeId::Ip4Lookup,
        NodeId::Ip4Local,
        NodeId::IcmpError,
        NodeId::Ip4Rewrite,
        NodeId::AclOut,
        NodeId::Nat44In2outOutput,
        NodeId::Ip4Frag,
        NodeId::InterfaceOutput,
        NodeId::ErrorDrop,
    ];

    /// VPP's node name. `Input` and `InterfaceOutput` are named per port; these are their
    /// generic names.
    pub const fn name(self) -> &'static str {
        match self {
            NodeId::Input => "dpdk-input",
            NodeId::WorkerHandoff => "worker-handoff",
            NodeId::Ip4FlowCache => "ip4-flow-cache",
            NodeId::EthernetInput => "ethernet-input",
            NodeId::Arp => "arp-input",
            NodeId::Ip4Arp => "ip4-arp",
            NodeId::Ip4Glean => "ip4-glean",
            NodeId::Ip4Input => "ip4-input",
            NodeId::AclIn => "acl-plugin-in-ip4-fa",
            NodeId::Nat44Classify => "nat44-classify",
            NodeId::Nat44Out2in => "nat44-out2in",
            NodeId::Nat44In2out => "nat44-in2out",
            NodeId::Nat44In2outSlowpath => "nat44-in2out-slowpath",
            NodeId::Ip4Lookup => "ip4-lookup",
            NodeId::Ip4Local => "ip4-local",
            NodeId::IcmpError => "ip4-icmp-error",
            NodeId::Ip4Rewrite => "ip4-rewrite",
            NodeId::AclOut => "acl-plugin-out-ip4-fa",
            NodeId::Nat44In2outOutput => "nat44-in2out-output",
            NodeId::Ip4Frag => "ip4-frag",
            NodeId::InterfaceOutput => "interface-output",
            NodeId::ErrorDrop => "error-drop",
        }
    }

    pub const fn index(self) -> usize {
        self as usize
    }

    /// The node whose name is `name`, as typed in `trace add` or `show runtime`.
    pub fn from_name(name: &str) -> Option<NodeId> {
        NodeId::ALL.into_iter().find(|n| n.name() == name)
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of port a packet came in on: it names the input node, as VPP's device
/// drivers do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// virtio-user and tap ports. VPP's tap interfaces (tapv2) are virtio devices and
    /// receive in `virtio-input`, as the spec's trace shows for tap0 and tap2.
    Virtio,
    VhostUser,
    Pcap,
    Dpdk,
}

impl InputKind {
    pub const ALL: [InputKind; 4] = [
        InputKind::Virtio,
        InputKind::VhostUser,
        InputKind::Pcap,
        InputKind::Dpdk,
    ];

    /// Where the kind's counters sit in per-kind arrays (`InputKind::ALL[kind.index()]`).
    pub const fn index(self) -> usize {
        self as usize
    }

    pub const fn node_name(self) -> &'static str {
        match self {
            InputKind::Virtio => "virtio-input",
            InputKind::VhostUser => "vhost-user-input",
            InputKind::Pcap => "pcap-input",
            InputKind::Dpdk => "dpdk-input",
        }
    }

    /// The kind for a DPDK driver name (`net_virtio_user`, `net_tap`, ...).
    pub fn from_driver(driver: &str) -> InputKind {
        match driver {
            "net_virtio_user" | "virtio_user" | "net_virtio" | "net_tap" => InputKind::Virtio,
            "net_vhost" => InputKind::VhostUser,
            "net_pcap" => InputKind::Pcap,
            _ => InputKind::Dpdk,
        }
    }

    pub fn from_node_name(name: &str) -> Option<InputKind> {
        InputKind::ALL.into_iter().find(|k| k.node_name() == name)
    }
}

/// Most drop reasons any one node has; sizes the per-lcore counter arrays.
pub const MAX_REASONS: usize = 16;

/// A node's drop reasons: one enum per node, one variant per reason, each with the
/// one-line text `show errors` prints.
pub trait NodeError: Copy + 'static {
    /// The node these reasons belong to.
    const NODE: NodeId;
    /// Every reason, in code order; `ALL[e.code()] == e`.
    const ALL: &'static [Self];
    /// Index into the node's counter row, below [`MAX_REASONS`].
    fn code(self) -> u8;
    /// The `show errors` text.
    fn description(self) -> &'static str;
}

/// A drop as it travels with the packet: which node dropped it and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropReason {
    pub node: NodeId,
    pub code: u8,
}

impl DropReason {
    pub fn of<E: NodeError>(e: E) -> DropReason {
        DropReason {
            node: E::NODE,
            code: e.code(),
        }
    }
}

/// Declares a node's error enum with its descriptions and implements [`NodeError`].
///
/// ```ignore
/// node_errors! {
///     /// Why ip4-input drops a packet.
///     pub enum Ip4InputError for NodeId::Ip4Input {
///         BadVersion => "ip4 version != 4",
///     }
/// }
/// ```
#[macro_export]
macro_rules! node_errors {
    ($(#[$m:meta])* pub enum $name:ident for $node:path { $($(#[$vm:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $variant,)+ }

        impl $crate::node::NodeError for $name {
            const NODE: $crate::node::NodeId = $node;
            const ALL: &'static [Self] = &[$($name::$variant,)+];
            fn code(self) -> u8 { self as u8 }
            fn description(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        const _: () = assert!(
            <$name as $crate::node::NodeError>::ALL.len() <= $crate::node::MAX_REASONS,
            "too many drop reasons for one node"
        );
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    node_errors! {
        /// Reasons for the test.
        pub enum TestError for NodeId::Ip4Input {
            First => "first reason",
            Second => "second reason",
        }
    }

    #[test]
    fn names_round_trip() {
        for n in NodeId::ALL {
            assert_eq!(NodeId::from_name(n.name()), Some(n));
            assert_eq!(NodeId::ALL[n.index()], n);
        }
        assert_eq!(
            InputKind::from_node_name("virtio-input"),
            Some(InputKind::Virtio)
        );
        assert_eq!(InputKind::from_driver("net_tap"), InputKind::Virtio);
        assert_eq!(InputKind::from_driver("net_vhost"), InputKind::VhostUser);
        assert_eq!(InputKind::from_node_name("tap-input"), None);
    }

    #[test]
    fn error_codes_index_all() {
        for (i, e) in TestError::ALL.iter().enumerate() {
            assert_eq!(e.code() as usize, i);
        }
        assert_eq!(TestError::Second.description(), "second reason");
        let d = DropReason::of(TestError::Second);
        assert_eq!((d.node, d.code), (NodeId::Ip4Input, 1));
    }
}
