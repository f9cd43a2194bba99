import KukeModel

/// A link's `IFLA_INFO_KIND`: an open set (the kernel knows dozens), so a value with the kinds
/// kuke tells apart named, rather than an enum that would have to refuse the others.
public struct LinkKind: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.init(rawValue: value) }

    public static let bridge: LinkKind = "bridge"
    public static let veth: LinkKind = "veth"

    public var description: String { rawValue }
}

/// A link as one netlink dump shows it.
public struct ObservedLink: Sendable, Equatable {
    public var index: Int32
    public var name: String
    /// `IFLA_INFO_KIND` (`bridge`, `veth`, …); nil for links without one (loopback, physical).
    public var kind: LinkKind?
    public var isUp: Bool
    /// `IFLA_MASTER`: the index of the bridge this link is a port of, if any.
    public var master: Int32?
    /// `IFLA_GROUP`: the link group (0, the default, for almost every link).
    public var group: UInt32 = 0
    /// Its IPv6 settings (`IFLA_AF_SPEC`), nil when the kernel has no IPv6 for it.
    public var ipv6: LinkIPv6?

    public init(index: Int32, name: String, kind: LinkKind?, isUp: Bool, master: Int32? = nil) {
        self.index = index
        self.name = name
        self.kind = kind
        self.isUp = isUp
        self.master = master
    }
}

/// A link's IPv6 settings, as `net.ipv6.conf.<link>.*` has them.
public struct LinkIPv6: Sendable, Equatable {
    /// `disable_ipv6`
    public var disabled: Bool
    /// `accept_ra`: router advertisements are taken (routes, addresses) when not 0.
    public var acceptsRouterAdvertisements: Bool
    /// `autoconf`: addresses are made from advertised prefixes.
    public var autoconfigures: Bool

    public init(disabled: Bool, acceptsRouterAdvertisements: Bool, autoconfigures: Bool) {
        self.disabled = disabled
        self.acceptsRouterAdvertisements = acceptsRouterAdvertisements
        self.autoconfigures = autoconfigures
    }

    /// What a dual-stack space's bridge has: IPv6 on, and nothing taken from advertisements
    /// (a cell sending them cannot give the host routes or addresses).
    public static let dualStackBridge = LinkIPv6(disabled: false, acceptsRouterAdvertisements: false, autoconfigures: false)
}

/// An IPv4 address or route on the host, and the link it is on.
public struct OccupiedSubnet: Sendable, Equatable {
    public var subnet: IPv4Subnet
    public var linkName: String?

    public init(subnet: IPv4Subnet, linkName: String?) {
        self.subnet = subnet
        self.linkName = linkName
    }
}

/// An IPv6 address or route on the host, and the link it is on.
public struct OccupiedSubnet6: Sendable, Equatable {
    public var subnet: IPv6Subnet
    public var linkName: String?

    public init(subnet: IPv6Subnet, linkName: String?) {
        self.subnet = subnet
        self.linkName = linkName
    }
}

/// The network state of the host, taken once per pass.
public struct NetworkSnapshot: Sendable, Equatable {
    public var links: [String: ObservedLink]
    /// IPv4 addresses (with their prefix) and main-table routes.
    public var occupied: [OccupiedSubnet]

    public init(links: [ObservedLink] = [], occupied: [OccupiedSubnet] = []) {
        self.links = Dictionary(links.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.occupied = occupied
    }

    /// The links enslaved to the bridge `name` (`ip link show master NAME`), sorted.
    public func ports(of bridge: String) -> [String] {
        guard let index = links[bridge]?.index else { return [] }
        return links.values.filter { $0.master == index }.map(\.name).sorted()
    }
}

/// A cgroup directory's delegation state.
public struct ObservedCgroup: Sendable, Equatable {
    /// `cgroup.subtree_control`: the controllers delegated to children.
    public var subtreeControl: [String]
    /// `cgroup.controllers`: the controllers available in this directory (what its parent delegates;
    /// for the cgroup2 root, every controller the kernel does not keep bound to cgroup v1).
    public var controllers: [String]

    public init(subtreeControl: [String], controllers: [String] = []) {
        self.subtreeControl = subtreeControl
        self.controllers = controllers
    }
}
