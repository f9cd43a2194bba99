import KukeModel

/// `nft -j list table inet kukeon`, decoded (the schema is libnftables-json(5)): the table's
/// handle, its chains, and each rule with its comment, its counter and its statements written
/// back in the syntax kuke's script uses, so observed and desired rules compare line by line.
///
/// Decoded with `JSONParser` into `JSONValue`, not Foundation's `JSONDecoder`: nft's JSON is a
/// list of one-key objects (`{"rule": …}`) whose expressions change shape with their kind
/// (`"right"` is a string, a number, a list, `{"set": …}` or `{"prefix": …}`), which a
/// `switch` over the enum reads directly where `Codable` would need a hand-written decoder per
/// level; and the parser is the strict one kuke already uses for conflists, in the kernel-free core.
public struct NftablesListing: Sendable, Equatable {
    /// One chain, in the order nft lists them.
    public struct Chain: Sendable, Equatable {
        public var name: String
        /// `type filter hook forward priority filter; policy accept;` for a base chain.
        public var header: String?
    }

    /// One rule, in the order of its chain.
    public struct Rule: Sendable, Equatable {
        public var chain: String
        /// Every rule kuke writes has one (`isolate`, `egress`, `allow[0] cidr …`, `deny`).
        public var comment: String?
        /// Its statements, as nft's JSON gives them (`{"match": …}`, `{"counter": …}`, `{"drop": null}`).
        public var statements: [JSONValue]
        /// The packets its `counter` counted, when it has one.
        public var packets: UInt64?
        /// Whether its verdict is `drop`.
        public var drops: Bool
        /// The interface it matches with `iifname "…"`, when it does.
        public var inputInterface: String?

        /// Reads what the pass needs from the statements; the line is written only when asked.
        init(chain: String, comment: String?, statements: [JSONValue]) {
            self.chain = chain
            self.comment = comment
            self.statements = statements
            drops = false
            for statement in statements {
                if let match = statement["match"], match["op"]?.stringValue == "==", match["left"]?["meta"]?["key"]?.stringValue == "iifname" {
                    inputInterface = match["right"]?.stringValue
                } else if let counter = statement["counter"] {
                    packets = counter["packets"]?.counterValue
                } else if statement["drop"] != nil {
                    drops = true
                }
            }
        }

        /// The rule as kuke writes it, counter values left out:
        /// `iifname "kuke-main-blog" oifname "kuke-*" oifname != "kuke-main-blog" counter drop comment "isolate"`.
        /// Written only for a diff or a coverage check: a converged pass needs the counts alone.
        public var line: String {
            statements.map(NftablesListing.words(of:)).joined(separator: " ") + (comment.map { " comment \"\($0)\"" } ?? "")
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
    /// `chain`s, then its `rule`s (sets, maps and other objects kuke never writes are skipped).
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
                chains.append(Chain(name: name, header: Self.header(of: chain)))
            } else if let rule = object["rule"] {
                guard let chain = rule["chain"]?.stringValue, let statements = rule["expr"]?.arrayValue else {
                    throw DecodingError(description: "a rule without a chain or statements")
                }
                rules.append(Rule(chain: chain, comment: rule["comment"]?.stringValue, statements: statements))
            }
        }
        guard let handle else { throw DecodingError(description: "no table") }
        self.init(tableHandle: handle, chains: chains, rules: rules)
    }

    /// The chains and their rules one per line, as `FirewallPlanner.lines(of:)` gives kuke's script:
    /// `chain forward {`, then its header and rules indented by two spaces.
    public var lines: [String] {
        let rulesByChain = Dictionary(grouping: rules, by: \.chain)
        var lines: [String] = []
        for chain in chains {
            lines.append("chain \(chain.name) {")
            if let header = chain.header { lines.append("  " + header) }
            for rule in rulesByChain[chain.name] ?? [] { lines.append("  " + rule.line) }
        }
        return lines
    }

    /// `type filter hook forward priority filter; policy accept;`, nil for a regular chain.
    static func header(of chain: JSONValue) -> String? {
        guard let type = chain["type"]?.stringValue, let hook = chain["hook"]?.stringValue else { return nil }
        var text = "type \(type) hook \(hook)"
        if let priority = chain["prio"]?.integer {
            // nft names the standard priorities of the ip, ip6 and inet families.
            let names = [-300: "raw", -150: "mangle", -100: "dstnat", 0: "filter", 50: "security", 100: "srcnat"]
            text += " priority \(names[priority] ?? String(priority))"
        }
        text += ";"
        if let policy = chain["policy"]?.stringValue { text += " policy \(policy);" }
        return text
    }

    /// One statement in nft's syntax; one kuke never writes as nft's JSON for it.
    static func words(of statement: JSONValue) -> String {
        guard case .object(let members) = statement, members.count == 1, case (let kind, let body)? = members.first else {
            return statement.compactText
        }
        switch kind {
        case "match": return match(body)
        case "counter": return body.stringValue.map { "counter name \"\($0)\"" } ?? "counter"
        case "accept", "drop", "continue", "return": return kind
        case "jump", "goto": return "\(kind) \(body["target"]?.stringValue ?? body.compactText)"
        default: return statement.compactText
        }
    }

    /// `iifname "kuke-main-blog"`, `oifname != "kuke-*"`, `ct state established,related`,
    /// `ip daddr { 192.0.2.10, 192.0.2.20 }`, `tcp dport 443`.
    static func match(_ body: JSONValue) -> String {
        guard let left = body["left"], let right = body["right"] else { return JSONValue.object(["match": body]).compactText }
        var subject = left.compactText
        var quoted = false
        if let key = left["meta"]?["key"]?.stringValue {
            quoted = key.hasSuffix("name")
            subject = ["iifname", "oifname", "iif", "oif"].contains(key) ? key : "meta \(key)"
        } else if let key = left["ct"]?["key"]?.stringValue {
            subject = "ct \(key)"
        } else if let layer = left["payload"]?["protocol"]?.stringValue, let field = left["payload"]?["field"]?.stringValue {
            subject = "\(layer) \(field)"
        }
        let op = body["op"]?.stringValue ?? "=="
        let relation = op == "==" || op == "in" ? "" : "\(op) "
        return "\(subject) \(relation)\(value(right, quoted: quoted))"
    }

    /// A value as nft writes it: a set of one element without braces (as `lines(of:)` does),
    /// flags joined by commas, a prefix as `address/length`.
    static func value(_ value: JSONValue, quoted: Bool) -> String {
        switch value {
        case .string(let text): return quoted ? "\"\(text)\"" : text
        case .number: return value.compactText
        case .array(let flags): return flags.map { Self.value($0, quoted: quoted) }.joined(separator: ",")
        case .object:
            if let elements = value["set"] {
                let items = (elements.arrayValue ?? [elements]).map { Self.value($0, quoted: quoted) }
                return items.count == 1 ? items[0] : "{ \(items.joined(separator: ", ")) }"
            }
            if let address = value["prefix"]?["addr"]?.stringValue, let length = value["prefix"]?["len"]?.integer {
                return "\(address)/\(length)"
            }
            if let bounds = value["range"]?.arrayValue, bounds.count == 2 {
                return "\(Self.value(bounds[0], quoted: quoted))-\(Self.value(bounds[1], quoted: quoted))"
            }
            return value.compactText
        default: return value.compactText
        }
    }
}

extension JSONValue {
    /// A whole number (a handle, a priority, a prefix length).
    fileprivate var integer: Int? {
        guard case .number(let number) = self, number.rounded() == number, abs(number) < 1e15 else { return nil }
        return Int(number)
    }

    /// A counter's packets: `JSONParser` reads numbers as `Double`, exact up to 2^53 packets
    /// (years of line-rate drops); beyond that the count is approximate, never a crash.
    fileprivate var counterValue: UInt64? {
        guard case .number(let number) = self, number >= 0 else { return nil }
        return number < 18_446_744_073_709_551_616.0 ? UInt64(number) : UInt64.max
    }
}
