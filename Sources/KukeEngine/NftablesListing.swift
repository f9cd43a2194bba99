import KukeModel

/// `nft -j list table inet kukeon`, decoded (the schema is libnftables-json(5)) into the
/// table's handle, its chains and its rules as data (`FirewallTable`), with each rule's counter.
///
/// Decoded with `JSONParser` into `JSONValue`, not Foundation's `JSONDecoder`: nft's JSON is a
/// list of one-key objects (`{"rule": …}`) whose expressions change shape with their kind
/// (`"right"` is a string, a number, a list, `{"set": …}` or `{"prefix": …}`), which a
/// `switch` over the enum reads directly where `Codable` would need a hand-written decoder per
/// level; and the parser is the strict one kuke already uses for conflists, in the kernel-free core.
/// A statement kuke never writes is kept as nft's JSON (`FirewallTable.Statement.other`), so it
/// is drift and the diff shows it; it is never dropped or guessed at.
public struct NftablesListing: Sendable, Equatable {
    /// One chain, in the order nft lists them.
    public struct Chain: Sendable, Equatable {
        public var name: String
        public var hook: FirewallTable.Hook?
        /// A base chain whose hook kuke cannot read (an unknown priority or policy), as nft's JSON.
        public var unreadHook: String?
    }

    /// One rule, in the order of its chain.
    public struct Rule: Sendable, Equatable {
        public var chain: String
        public var rule: FirewallTable.Rule
        /// The packets its `counter` counted, when it has one.
        public var packets: UInt64?

        /// The interface it matches with `iifname "…"`, when it does.
        public var inputInterface: String? {
            for case .match(let match) in rule.statements where match.field == .inputName && !match.negated && match.values.count == 1 {
                return match.values[0]
            }
            return nil
        }
    }

    /// Why the output could not be read.
    public struct DecodingError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The table's handle: a table deleted and created again has a new one.
    public var tableHandle: Int
    public var chains: [Chain]
    public var rules: [Rule]

    init(tableHandle: Int, chains: [Chain], rules: [Rule]) {
        self.tableHandle = tableHandle
        self.chains = chains
        self.rules = rules
    }

    /// Decodes the output of `nft -j list table …`: a `metainfo` object, one `table`, its
    /// `chain`s, then its `rule`s (anonymous sets are read inside the rules that use them).
    public init(json text: String) throws(DecodingError) {
        let root: JSONValue
        do {
            root = try JSONParser.parse(text)
        } catch {
            throw DecodingError(description: error.description)
        }
        guard let objects = root["nftables"]?.arrayValue else { throw DecodingError(description: "no \"nftables\" list") }
        var handle: Int?
        var chains: [Chain] = []
        var rules: [Rule] = []
        for object in objects {
            if let table = object["table"] {
                guard handle == nil, let number = table["handle"]?.integer else {
                    throw DecodingError(description: "a table without a handle, or more than one table")
                }
                handle = number
            } else if let chain = object["chain"] {
                guard let name = chain["name"]?.stringValue else { throw DecodingError(description: "a chain without a name") }
                let hook = Self.hook(of: chain)
                let based = chain["hook"] != nil
                chains.append(Chain(name: name, hook: hook, unreadHook: based && hook == nil ? chain.compactText : nil))
            } else if let rule = object["rule"] {
                guard let chain = rule["chain"]?.stringValue, let statements = rule["expr"]?.arrayValue else {
                    throw DecodingError(description: "a rule without a chain or statements")
                }
                var packets: UInt64?
                for statement in statements { if let counter = statement["counter"] { packets = counter["packets"]?.counterValue } }
                rules.append(
                    Rule(
                        chain: chain, rule: FirewallTable.Rule(statements.map(Self.statement), comment: rule["comment"]?.stringValue),
                        packets: packets))
            }
        }
        guard let handle else { throw DecodingError(description: "no table") }
        self.init(tableHandle: handle, chains: chains, rules: rules)
    }

    /// The listing as data: its chains in nft's order, each with its rules. A base chain whose
    /// hook kuke cannot read keeps it as a rule kuke never writes, so the table is drift.
    public var table: FirewallTable {
        let rulesByChain = Dictionary(grouping: rules, by: \.chain)
        return FirewallTable(
            chains: chains.map { chain in
                let unread = chain.unreadHook.map { [FirewallTable.Rule([.other($0)], comment: nil)] } ?? []
                return FirewallTable.Chain(name: chain.name, hook: chain.hook, rules: unread + (rulesByChain[chain.name] ?? []).map(\.rule))
            })
    }

    /// A base chain's hook; nil for a regular chain, or one with an unknown priority or no policy.
    static func hook(of chain: JSONValue) -> FirewallTable.Hook? {
        guard let type = chain["type"]?.stringValue, let hook = chain["hook"]?.stringValue, let priority = chain["prio"]?.integer,
            let policy = chain["policy"]?.stringValue
        else { return nil }
        return FirewallTable.Hook(type: type, hook: hook, priority: priority, policy: policy)
    }

    /// One statement as data; one kuke never writes, as nft's JSON for it.
    static func statement(_ statement: JSONValue) -> FirewallTable.Statement {
        let other = FirewallTable.Statement.other(statement.compactText)
        guard case .object(let members) = statement, members.count == 1, case (let kind, let body)? = members.first else { return other }
        switch kind {
        case "match": return match(body).map { .match($0) } ?? other
        case "counter": return body["packets"] != nil && body["bytes"] != nil && body.objectCount == 2 ? .counter : other
        case "accept": return body == .null ? .verdict(.accept) : other
        case "drop": return body == .null ? .verdict(.drop) : other
        case "jump": return body["target"]?.stringValue.map { .verdict(.jump($0)) } ?? other
        default: return other
        }
    }

    /// `iifname "kuke-main-blog"`, `oifname != "kuke-*"`, `ct state established,related`,
    /// `ip daddr { 192.0.2.10, 192.0.2.20 }`, `tcp dport 443` (and `udp`, `sctp`),
    /// `meta l4proto icmp`, `meta l4proto . th dport { tcp . 53, udp . 53 }`; nil for any other match.
    static func match(_ body: JSONValue) -> FirewallTable.Match? {
        guard let left = body["left"], let right = body["right"], let op = body["op"]?.stringValue else { return nil }
        let field: FirewallTable.Match.Field
        if let key = left["meta"]?["key"]?.stringValue, left.objectCount == 1, left["meta"]?.objectCount == 1 {
            guard let named = ["iifname": FirewallTable.Match.Field.inputName, "oifname": .outputName, "l4proto": .protocol][key] else { return nil }
            field = named
        } else if let parts = left["concat"]?.arrayValue, left.objectCount == 1 {
            guard parts.count == 2, parts[0] == .object(["meta": .object(["key": .string("l4proto")])]),
                parts[1] == .object(["payload": .object(["protocol": .string("th"), "field": .string("dport")])])
            else { return nil }
            field = .protocolAndPort
        } else if left["ct"]?["key"]?.stringValue == "state", left["ct"]?.objectCount == 1 {
            field = .connectionState
        } else if let payload = left["payload"], payload.objectCount == 2 {
            switch (payload["protocol"]?.stringValue, payload["field"]?.stringValue) {
            case ("ip", "daddr"): field = .ipDestination
            case ("ip6", "daddr"): field = .ip6Destination
            case (let name?, "dport"):
                guard let transport = EgressPorts.Transport(rawValue: name) else { return nil }
                field = .destinationPort(transport)
            default: return nil
            }
        } else {
            return nil
        }
        let negated: Bool
        switch (op, field) {
        case ("==", _), ("in", .connectionState): negated = false
        case ("!=", .inputName), ("!=", .outputName): negated = true
        default: return nil
        }
        guard let values = values(right, flags: field == .connectionState) else { return nil }
        return FirewallTable.Match(field, negated: negated, values)
    }

    /// A value or a set's elements as text: names, addresses, `address/length`, numbers,
    /// ranges `low-high`, concatenations `tcp . 53`; the flags of `ct state` as a list. Nil for
    /// a shape kuke never writes (a map).
    static func values(_ value: JSONValue, flags: Bool) -> [String]? {
        switch value {
        case .string(let text): return [text]
        case .number: return value.integer.map { [String($0)] }
        case .array(let items) where flags:
            let texts = items.compactMap(\.stringValue)
            return texts.count == items.count ? texts : nil
        case .object:
            if let elements = value["set"] {
                var all: [String] = []
                for element in elements.arrayValue ?? [elements] {
                    guard let one = values(element, flags: false), one.count == 1 else { return nil }
                    all += one
                }
                return all
            }
            if let address = value["prefix"]?["addr"]?.stringValue, let length = value["prefix"]?["len"]?.integer {
                return ["\(address)/\(length)"]
            }
            if let parts = value["concat"]?.arrayValue {
                var texts: [String] = []
                for part in parts {
                    guard let one = values(part, flags: false), one.count == 1 else { return nil }
                    texts += one
                }
                return [texts.joined(separator: " . ")]
            }
            if let bounds = value["range"]?.arrayValue, bounds.count == 2, let low = values(bounds[0], flags: false),
                let high = values(bounds[1], flags: false), low.count == 1, high.count == 1
            {
                return ["\(low[0])-\(high[0])"]
            }
            return nil
        default: return nil
        }
    }
}

extension JSONValue {
    /// A whole number (a handle, a priority, a prefix length, a port).
    fileprivate var integer: Int? {
        guard case .number(let number) = self, number.rounded() == number, abs(number) < 1e15 else { return nil }
        return Int(number)
    }

    /// How many members an object has; 0 for anything else.
    fileprivate var objectCount: Int {
        if case .object(let members) = self { return members.count }
        return 0
    }

    /// A counter's packets: `JSONParser` reads numbers as `Double`, exact up to 2^53 packets
    /// (years of line-rate drops); beyond that the count is approximate, never a crash.
    fileprivate var counterValue: UInt64? {
        guard case .number(let number) = self, number >= 0 else { return nil }
        return number < 18_446_744_073_709_551_616.0 ? UInt64(number) : UInt64.max
    }
}
