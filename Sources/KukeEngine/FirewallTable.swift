import KukeModel

/// The isolation table as data: chains, each with its hook and its rules, each rule a list of
/// typed statements and a comment. kuke builds the desired table as this value
/// (`FirewallPlanner`), renders it to the nft script it writes, reads the kernel's table back
/// into the same value (`NftablesListing`), and compares the two with `==`: any rule added,
/// removed or changed (a match, a verdict, the order, a chain's policy) is drift. Counter
/// values are not part of it; whether a rule counts is.
public struct FirewallTable: Sendable, Equatable {
    public var chains: [Chain]

    public init(chains: [Chain]) { self.chains = chains }

    /// One chain: a base chain has a hook (`type filter hook forward priority filter; policy accept;`).
    public struct Chain: Sendable, Equatable {
        public var name: String
        public var hook: Hook?
        public var rules: [Rule]

        public init(name: String, hook: Hook? = nil, rules: [Rule]) {
            self.name = name
            self.hook = hook
            self.rules = rules
        }
    }

    /// Where a base chain hangs and what it does with what no rule decides.
    public struct Hook: Sendable, Equatable {
        public var type: String
        public var hook: String
        public var priority: Int
        public var policy: String

        public init(type: String, hook: String, priority: Int, policy: String) {
            self.type = type
            self.hook = hook
            self.priority = priority
            self.policy = policy
        }

        /// `type filter hook forward priority filter; policy accept;` (nft names the standard
        /// priorities of the ip, ip6 and inet families).
        public var text: String {
            let names = [-300: "raw", -150: "mangle", -100: "dstnat", 0: "filter", 50: "security", 100: "srcnat"]
            return "type \(type) hook \(hook) priority \(names[priority] ?? String(priority)); policy \(policy);"
        }
    }

    /// One rule: its statements in order, and its comment.
    public struct Rule: Sendable, Hashable {
        public var statements: [Statement]
        public var comment: String?

        public init(_ statements: [Statement], comment: String?) {
            self.statements = statements
            self.comment = comment
        }

        /// The rule in nft's syntax, as kuke writes it and `nft list` prints it (counter values left out).
        public var text: String {
            (statements.map(\.text) + (comment.map { ["comment \(Self.quoted($0))"] } ?? [])).joined(separator: " ")
        }

        static func quoted(_ text: String) -> String { "\"\(text)\"" }
    }

    /// One statement: a match, a counter, a verdict, or one kuke never writes.
    public enum Statement: Sendable, Hashable {
        case match(Match)
        case counter
        case verdict(Verdict)
        /// A statement kuke never writes, as nft's JSON gives it (`{"log":{"prefix":"x"}}`): it
        /// never equals one of kuke's, so the rule holding it is drift.
        case other(String)

        var text: String {
            switch self {
            case .match(let match): match.text
            case .counter: "counter"
            case .verdict(let verdict): verdict.text
            case .other(let json): json
            }
        }
    }

    /// `iifname "kuke-main-blog"`, `oifname != "kuke-*"`, `ct state established,related`,
    /// `ip daddr { 192.0.2.10, 192.0.2.20 }`, `tcp dport 443`, `udp dport { 53, 8000-8100 }`,
    /// `meta l4proto . th dport { tcp . 53, udp . 53 }`, `meta l4proto icmp`.
    public struct Match: Sendable, Hashable, Equatable {
        public enum Field: Sendable, Hashable {
            case inputName
            case outputName
            case connectionState
            case ipDestination
            case ip6Destination
            /// `tcp dport`, `udp dport`, `sctp dport`.
            case destinationPort(EgressPorts.Transport)
            /// `meta l4proto . th dport`: values `tcp . 53`, `udp . 8000-8100`.
            case protocolAndPort
            /// `meta l4proto`: values `icmp`, `udp`.
            case `protocol`

            public static let tcpDestinationPort = Field.destinationPort(.tcp)

            /// As nft writes it.
            public var text: String {
                switch self {
                case .inputName: "iifname"
                case .outputName: "oifname"
                case .connectionState: "ct state"
                case .ipDestination: "ip daddr"
                case .ip6Destination: "ip6 daddr"
                case .destinationPort(let transport): "\(transport.rawValue) dport"
                case .protocolAndPort: "meta l4proto . th dport"
                case .protocol: "meta l4proto"
                }
            }
        }

        public var field: Field
        public var negated: Bool
        /// One value, or the elements of a set, in the kernel's order (by number, an address by
        /// its value), as written or listed.
        public private(set) var values: [String]

        public init(_ field: Field, negated: Bool = false, _ values: [String]) {
            self.field = field
            self.negated = negated
            self.values = values.sorted { Self.order($0).lexicographicallyPrecedes(Self.order($1)) }
        }

        /// Two matches are equal when they match the same packets: addresses and ports compare
        /// as the intervals they cover, since the kernel keeps `{ 10.0.0.1, 10.0.0.2 }` as the
        /// range `10.0.0.1-10.0.0.2` and nft lists it so.
        public static func == (a: Match, b: Match) -> Bool {
            a.field == b.field && a.negated == b.negated && a.covered == b.covered
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(field)
            hasher.combine(negated)
            hasher.combine(covered)
        }

        /// The values as merged intervals (`lo-hi`, in numbers) for addresses and ports; as they
        /// are for names and flags. A value that cannot be read stays as its text.
        var covered: [String] {
            switch field {
            case .ipDestination: return Self.covered(values, address: true)
            case .ip6Destination: return Self.covered6(values)
            case .destinationPort: return Self.covered(values, address: false)
            case .protocolAndPort:
                // Per protocol: `tcp . 53` and `tcp . 54` cover `tcp . 53-54`.
                var byProtocol: [String: [String]] = [:]
                var unread: [String] = []
                for value in values {
                    let parts = value.components(separatedBy: " . ")
                    if parts.count == 2 { byProtocol[parts[0], default: []].append(parts[1]) } else { unread.append(value) }
                }
                return byProtocol.keys.sorted().flatMap { name in Self.covered(byProtocol[name]!, address: false).map { "\(name) . \($0)" } }
                    + unread.sorted()
            case .protocol: return values.sorted()
            default: return values
            }
        }

        /// Addresses or ports as merged intervals (`lo-hi`, in numbers), then what cannot be read, as text.
        static func covered(_ values: [String], address: Bool) -> [String] {
            var intervals: [(low: UInt128, high: UInt128)] = []
            var unread: [String] = []
            for value in values {
                if let interval = Self.interval(value, address: address) {
                    intervals.append((UInt128(interval.low), UInt128(interval.high)))
                } else {
                    unread.append(value)
                }
            }
            return merging(intervals) + unread.sorted()
        }

        /// IPv6 addresses and networks as merged intervals, then what cannot be read, as text.
        static func covered6(_ values: [String]) -> [String] {
            var intervals: [(low: UInt128, high: UInt128)] = []
            var unread: [String] = []
            for value in values {
                if let dash = value.firstIndex(of: "-"), let low = IPv6Address(String(value[..<dash])),
                    let high = IPv6Address(String(value[value.index(after: dash)...])), low <= high
                {
                    intervals.append((low.value, high.value))
                } else if let network = IPv6Subnet(value, hostBits: true) ?? IPv6Address(value).map({ IPv6Subnet(containing: $0, prefixLength: 128) })
                {
                    intervals.append((network.network.value, network.last.value))
                } else {
                    unread.append(value)
                }
            }
            return merging(intervals) + unread.sorted()
        }

        /// Intervals sorted, those that overlap or touch merged, as `lo-hi` in numbers: what
        /// the kernel keeps for a set of addresses or ports, whatever elements were written.
        static func merging(_ intervals: [(low: UInt128, high: UInt128)]) -> [String] {
            var merged: [(low: UInt128, high: UInt128)] = []
            for interval in intervals.sorted(by: { $0.low < $1.low }) {
                if let last = merged.last, last.high == UInt128.max || interval.low <= last.high + 1 {
                    merged[merged.count - 1].high = max(last.high, interval.high)
                } else {
                    merged.append(interval)
                }
            }
            return merged.map { "\($0.low)-\($0.high)" }
        }

        /// `10.0.0.1`, `10.0.0.0/8`, `10.0.0.1-10.0.0.3`, `443`, `80-90` as the interval it covers.
        static func interval(_ value: String, address: Bool) -> (low: UInt64, high: UInt64)? {
            func one(_ text: Substring) -> UInt64? {
                if !address { return UInt64(text).flatMap { $0 <= 65535 ? $0 : nil } }
                return IPv4Address(String(text)).map { UInt64($0.value) }
            }
            if let dash = value.firstIndex(of: "-") {
                guard let low = one(value[..<dash]), let high = one(value[value.index(after: dash)...]), low <= high else { return nil }
                return (low, high)
            }
            if address, let slash = value.firstIndex(of: "/") {
                guard let base = one(value[..<slash]), let length = UInt64(value[value.index(after: slash)...]), length <= 32 else { return nil }
                let size: UInt64 = 1 << (32 - length)
                let low = base & ~(size - 1)
                return (low, low + size - 1)
            }
            return one(value[...]).map { ($0, $0) }
        }

        /// The kernel's order of set elements: numbers by value, addresses and prefixes by
        /// address then length; anything else after them, by its text.
        static func order(_ value: String) -> [UInt64] {
            if let number = UInt64(value) { return [number] }
            if let dash = value.firstIndex(of: "-"), let low = UInt64(value[..<dash]), let high = UInt64(value[value.index(after: dash)...]) {
                return [low, high]
            }
            let parts = value.split(separator: "/", maxSplits: 1)
            if let address = IPv4Address(String(parts[0])) { return [UInt64(address.value), parts.count > 1 ? UInt64(parts[1]) ?? 0 : 32] }
            return [UInt64.max] + value.utf8.map(UInt64.init)
        }

        var text: String {
            let quoted = field == .inputName || field == .outputName
            let shown = values.map { quoted ? Rule.quoted($0) : $0 }
            let value =
                field == .connectionState ? shown.joined(separator: ",") : shown.count == 1 ? shown[0] : "{ \(shown.joined(separator: ", ")) }"
            return "\(field.text) \(negated ? "!= " : "")\(value)"
        }
    }

    public enum Verdict: Sendable, Hashable {
        case accept
        case drop
        case jump(String)

        var text: String {
            switch self {
            case .accept: "accept"
            case .drop: "drop"
            case .jump(let chain): "jump \(chain)"
            }
        }
    }

    /// The chains and their rules, one per line, for a diff: `chain forward {`, then its hook and
    /// its rules indented by two spaces.
    public var lines: [String] {
        var lines: [String] = []
        for chain in chains {
            lines.append("chain \(chain.name) {")
            if let hook = chain.hook { lines.append("  " + hook.text) }
            lines += chain.rules.map { "  " + $0.text }
        }
        return lines
    }

    /// The body of the nft script that declares the table's chains and rules.
    var script: String {
        chains.map { chain in
            "  chain \(chain.name) {\n" + (chain.hook.map { "    \($0.text)\n" } ?? "") + chain.rules.map { "    \($0.text)\n" }.joined() + "  }\n"
        }.joined()
    }

    /// How many rules all chains hold.
    public var ruleCount: Int { chains.reduce(0) { $0 + $1.rules.count } }

    /// The table equal to this one whatever order its chains come in (nft lists them in
    /// creation order, which is not part of what a table does).
    public func sameRules(as other: FirewallTable) -> Bool {
        chains.count == other.chains.count && chains.sorted { $0.name < $1.name } == other.chains.sorted { $0.name < $1.name }
    }

    /// Whether every chain of `part` is in this table with every one of its rules (in any order:
    /// what `ObservedFirewall.holding` asks of one space's rules).
    func contains(_ part: FirewallTable) -> Bool {
        let own = Dictionary(chains.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        return part.chains.allSatisfy { wanted in
            guard let chain = own[wanted.name], chain.hook == wanted.hook else { return false }
            return Set(wanted.rules).isSubset(of: Set(chain.rules))
        }
    }
}
