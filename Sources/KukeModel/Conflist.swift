/// The CNI network configuration list of a space.
///
/// kuke writes it canonically (sorted keys, two-space indent, final newline) and
/// compares what is on disk semantically, so reformatting by hand is not drift
/// but a changed value is.
public struct Conflist: Sendable, Equatable {
    public static let cniVersion = "1.0.0"

    public var networkName: String
    public var bridge: String
    public var subnet: IPv4Subnet
    /// The space's IPv6 /64 when it is dual-stack: a second range set, and a default route for IPv6.
    public var ipv6Subnet: IPv6Subnet?

    public init(networkName: String, bridge: String, subnet: IPv4Subnet, ipv6Subnet: IPv6Subnet? = nil) {
        self.networkName = networkName
        self.bridge = bridge
        self.subnet = subnet
        self.ipv6Subnet = ipv6Subnet
    }

    /// The JSON kuke writes: one `bridge` plugin with `host-local` IPAM owning the space's /24
    /// (and, dual-stack, its /64: one address of each family per container).
    public var json: JSONValue {
        var ranges: [JSONValue] = [.array([.object(["subnet": .string(subnet.description)])])]
        var routes: [JSONValue] = [.object(["dst": .string("0.0.0.0/0")])]
        if let ipv6Subnet {
            ranges.append(.array([.object(["subnet": .string(ipv6Subnet.description)])]))
            routes.append(.object(["dst": .string("::/0")]))
        }
        return
            .object([
                "cniVersion": .string(Self.cniVersion),
                "name": .string(networkName),
                "plugins": .array([
                    .object([
                        "type": .string("bridge"),
                        "bridge": .string(bridge),
                        "isGateway": .bool(true),
                        "ipMasq": .bool(true),
                        "ipam": .object([
                            "type": .string("host-local"),
                            "ranges": .array(ranges),
                            "routes": .array(routes),
                        ]),
                    ])
                ]),
            ])
    }

    public var text: String { json.canonicalText }

    /// The network name, bridge and subnet a conflist on disk declares, when it declares them
    /// the way kuke writes them (the values are read back from here, never recomputed).
    public static func recordedValues(in value: JSONValue) -> Conflist? {
        guard let name = value["name"]?.stringValue,
            let bridgePlugin = value["plugins"]?.arrayValue?.first(where: { $0["type"]?.stringValue == "bridge" }),
            let bridge = bridgePlugin["bridge"]?.stringValue,
            let subnetText = bridgePlugin["ipam"]?["ranges"]?.arrayValue?.first?.arrayValue?.first?["subnet"]?.stringValue,
            let subnet = IPv4Subnet(subnetText)
        else { return nil }
        let sets = bridgePlugin["ipam"]?["ranges"]?.arrayValue ?? []
        let ipv6 = sets.dropFirst().compactMap { $0.arrayValue?.first?["subnet"]?.stringValue.flatMap { IPv6Subnet($0) } }.first
        return Conflist(networkName: name, bridge: bridge, subnet: subnet, ipv6Subnet: ipv6)
    }
}
