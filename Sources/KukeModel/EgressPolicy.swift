/// `spec.network.egress` as kuke enforces it (upstream Kukeon's semantics): with
/// `default: deny`, forwarded traffic leaving the space is dropped unless an `allow` rule
/// matches its destination (and, when the rule has `ports`, its protocol and destination port,
/// see `EgressPorts`), or it is a DNS query to one of the host's resolvers and `dns: allow` is
/// set; established connections are kept. `default: allow` (or no `default`) leaves egress
/// open, whatever the rules say. IPv6 destinations are reached from dual-stack spaces.
public struct EgressPolicy: Sendable, Equatable {
    /// One `allow` entry.
    public struct Rule: Sendable, Equatable {
        public enum Target: Sendable, Equatable {
            /// A DNS name, resolved to IPv4 addresses when the space is applied.
            case host(String)
            /// An IPv4 network, host bits cleared (`10.1.2.3/8` becomes `10.0.0.0/8`).
            case cidr(IPv4Address, prefix: Int)
            /// An IPv6 network, host bits cleared (reached from dual-stack spaces).
            case cidr6(IPv6Subnet)
        }

        public var target: Target
        /// The protocols and destination ports it lets through; `.any` for every protocol and port.
        public var ports: EgressPorts

        public init(target: Target, ports: EgressPorts = .any) {
            self.target = target
            self.ports = ports
        }
    }

    /// Whether egress is denied unless a rule allows it.
    public var denies: Bool
    public var rules: [Rule]
    /// `dns: allow`: DNS (UDP and TCP port 53) to the host's resolvers, whatever they are when
    /// the space is applied (`status.egress.nameservers`).
    public var allowsDNS: Bool

    public init(denies: Bool, rules: [Rule], allowsDNS: Bool = false) {
        self.denies = denies
        self.rules = rules
        self.allowsDNS = allowsDNS
    }

    /// The policy of a stored or decoded `spec.network`; nil when there is none or it leaves
    /// egress open (`default: allow`). Rules that do not validate are left out (the decoder
    /// refuses them with positions before they are ever stored).
    public init?(network: ManifestValue?) {
        guard let egress = network?["egress"], egress["default"]?.stringValue == "deny" else { return nil }
        var rules: [Rule] = []
        if case .list(let entries)? = egress["allow"] {
            for entry in entries {
                var ports = EgressPorts.any
                if case .list(let items)? = entry["ports"] {
                    // A port that is not valid leaves the rule out: dropping only it could widen the rule to any port.
                    guard !items.isEmpty, case .success(let parsed) = EgressPorts.parse(items) else { continue }
                    ports = parsed
                }
                switch (entry["host"]?.stringValue, entry["cidr"]?.stringValue) {
                case (let host?, nil) where EgressRules.hostProblem(host) == nil:
                    rules.append(Rule(target: .host(host.lowercased()), ports: ports))
                case (nil, let cidr?):
                    if let network6 = IPv6Subnet(cidr, hostBits: true) {
                        rules.append(Rule(target: .cidr6(network6), ports: ports))
                        continue
                    }
                    guard let network = Self.network(cidr) else { continue }
                    rules.append(Rule(target: .cidr(network.address, prefix: network.prefix), ports: ports))
                default: continue
                }
            }
        }
        self.init(denies: true, rules: rules, allowsDNS: egress["dns"]?.stringValue == "allow")
    }

    /// The hosts to resolve, once each, in the order written.
    public var hosts: [String] {
        var seen = Set<String>()
        return rules.compactMap { rule in
            guard case .host(let host) = rule.target, seen.insert(host).inserted else { return nil }
            return host
        }
    }

    /// `a.b.c.d/n` with the host bits cleared; nil when it is not an IPv4 network in CIDR form.
    static func network(_ text: String) -> (address: IPv4Address, prefix: Int)? {
        guard EgressRules.isCIDR(text) else { return nil }
        let parts = text.split(separator: "/")
        guard let address = IPv4Address(String(parts[0])), let prefix = Int(parts[1]) else { return nil }
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
        return (IPv4Address(address.value & mask), prefix)
    }
}

/// Addresses a space's egress hosts resolved to, recorded in `status.egress` so the firewall
/// is built from what was looked up, and a failed lookup keeps the last known addresses.
public struct EgressStatus: Sendable, Equatable {
    public struct Resolved: Sendable, Equatable {
        public var host: String
        /// IPv4 addresses, sorted, without duplicates; empty when the host never resolved.
        public var addresses: [IPv4Address]
        /// IPv6 addresses (looked up for dual-stack spaces only), sorted, without duplicates.
        public var addresses6: [IPv6Address]

        public init(host: String, addresses: [IPv4Address], addresses6: [IPv6Address] = []) {
            self.host = host
            self.addresses = Array(Set(addresses)).sorted()
            self.addresses6 = Array(Set(addresses6)).sorted()
        }
    }

    public var resolved: [Resolved]
    /// The host's resolvers a `dns: allow` space may query, as read at the last apply (nil
    /// without `dns: allow`; empty when none could be read).
    public var nameservers: [IPv4Address]?

    public init(resolved: [Resolved], nameservers: [IPv4Address]? = nil) {
        self.resolved = resolved
        self.nameservers = nameservers.map { Array(Set($0)).sorted() }
    }

    /// The addresses recorded for `host` (empty when none).
    public func addresses(of host: String) -> [IPv4Address] {
        resolved.first { $0.host == host }?.addresses ?? []
    }

    /// The IPv6 addresses recorded for `host` (empty when none).
    public func addresses6(of host: String) -> [IPv6Address] {
        resolved.first { $0.host == host }?.addresses6 ?? []
    }
}
