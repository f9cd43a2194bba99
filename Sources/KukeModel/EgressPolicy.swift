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
    /// egress open (`default: allow`). Each rule is read by `rule(_:)`, the reader the manifest's
    /// validation uses too, so a rule is enforced exactly as it was validated; one that does not
    /// read (never stored: the decoder refuses it with positions) is left out whole, since
    /// dropping only a bad port could widen it to every port.
    public init?(network: ManifestValue?) {
        guard let egress = network?["egress"], egress["default"]?.stringValue == "deny" else { return nil }
        var rules: [Rule] = []
        if case .list(let entries)? = egress["allow"] {
            for entry in entries {
                if case .success(let rule) = Self.rule(entry) { rules.append(rule) }
            }
        }
        self.init(denies: true, rules: rules, allowsDNS: egress["dns"]?.stringValue == "allow")
    }

    /// What is wrong with an `allow` entry: each problem with the field it is at (`""` for the
    /// entry, `.host`, `.cidr`, `.ports[1]`) and its text after the field's path.
    public struct RuleProblems: Error, Sendable, Equatable {
        public var problems: [(field: String, text: String)]

        public static func == (a: RuleProblems, b: RuleProblems) -> Bool {
            a.problems.map(\.field) == b.problems.map(\.field) && a.problems.map(\.text) == b.problems.map(\.text)
        }
    }

    /// One `allow` entry read: exactly one of `host` (a DNS name) or `cidr` (an IPv4 network in
    /// CIDR form, host bits allowed and cleared, or an IPv6 one), and `ports` when given (a
    /// non-empty list, each entry as `EgressPorts.entry` reads it).
    public static func rule(_ entry: ManifestValue) -> Result<Rule, RuleProblems> {
        var problems: [(field: String, text: String)] = []
        var ports = EgressPorts.any
        if case .list(let items)? = entry["ports"] {
            if items.isEmpty { problems.append((".ports", ": is empty; leave ports out to allow every protocol and port")) }
            for (index, item) in items.enumerated() {
                if case .failure(let error) = EgressPorts.entry(item) { problems.append((".ports[\(index)]", ": \(error)")) }
            }
            if problems.isEmpty, case .success(let parsed) = EgressPorts.parse(items) { ports = parsed }
        }
        var target: Rule.Target?
        switch (entry["host"]?.stringValue, entry["cidr"]?.stringValue) {
        case (nil, nil): problems.append(("", ": give one of host or cidr"))
        case (.some, .some): problems.append(("", ": give host or cidr, not both"))
        case (let host?, nil):
            if let problem = EgressRules.hostProblem(host) {
                problems.append((".host", " \"\(host)\" \(problem)"))
            } else {
                target = .host(host.lowercased())
            }
        case (nil, let cidr?):
            if let network6 = IPv6Subnet(cidr, hostBits: true) {
                target = .cidr6(network6)
            } else if let network = Self.network(cidr) {
                target = .cidr(network.address, prefix: network.prefix)
            } else {
                problems.append(
                    (".cidr", " \"\(cidr)\" is not an IPv4 network in CIDR form (like 10.0.0.0/8) or an IPv6 one (like fd00::/8)"))
            }
        }
        guard problems.isEmpty, let target else { return .failure(RuleProblems(problems: problems)) }
        return .success(Rule(target: target, ports: ports))
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
