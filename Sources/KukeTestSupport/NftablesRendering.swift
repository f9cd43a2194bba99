import Foundation
import KukeEngine
import KukeModel

/// What the real nft says of a table kuke's script made: `nft -j list table inet kukeon` and
/// the table's comment (which the kernel gives beside it, see `NftablesTableQuery`). FakeHost
/// keeps the script kuke wrote (tests read it and change it) and shows the engine the table the
/// way nftables 1.0.6 renders it, so engine tests decode the real format.
///
/// It is checked against the real thing twice: against `Tests/Fixtures/nftables/examples.json`,
/// captured from the kernel (`FakeHostNftablesTests`), and against the installed nft by a kernel
/// test (`NftablesKernelTests`). It knows the words kuke's scripts use and no others: anything
/// else is an error, never a guess.
public enum NftablesRendering {
    /// A script line the renderer does not know.
    public struct Unknown: Error, CustomStringConvertible {
        public var description: String
    }

    /// `{"metainfo": …}` of the nft the fixture was captured with.
    static let metainfo: JSONValue = .object([
        "metainfo": .object(["version": .string("1.0.6"), "release_name": .string("Lester Gooch #5"), "json_schema_version": .number(1)])
    ])

    /// The table's comment in `script`, as written (`kuke:<fingerprint> run:<path>`).
    public static func comment(ofScript script: String) -> String? {
        for line in script.split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("comment \""), text.hasSuffix("\"") { return String(text.dropFirst(9).dropLast()) }
            if text.hasPrefix("chain ") { return nil }
        }
        return nil
    }

    /// `nft -j list table inet kukeon` for the table `script` leaves, its handle `tableHandle`.
    /// Handles are numbered as the kernel numbers them in a new table: chains from 1, then each
    /// rule after any anonymous set it needs (one of two or more elements). Counters are zero.
    public static func json(ofScript script: String, tableHandle: Int) throws(Unknown) -> String {
        var objects = [
            metainfo, .object(["table": .object(["family": .string("inet"), "name": .string("kukeon"), "handle": .number(Double(tableHandle))])]),
        ]
        let (chains, rules) = parts(ofScript: script)
        var handle = 0
        for chain in chains {
            handle += 1
            var body: [String: JSONValue] = [
                "family": .string("inet"), "table": .string("kukeon"), "name": .string(chain.name), "handle": .number(Double(handle)),
            ]
            if let header = chain.header {
                guard header == "type filter hook forward priority filter; policy accept;" else {
                    throw Unknown(description: "chain header `\(header)`")
                }
                body.merge(["type": .string("filter"), "hook": .string("forward"), "prio": .number(0), "policy": .string("accept")]) { $1 }
            }
            objects.append(.object(["chain": .object(body)]))
        }
        for rule in rules {
            let (statements, comment, sets) = try Self.statements(of: rule.line)
            handle += sets + 1
            var body: [String: JSONValue] = [
                "family": .string("inet"), "table": .string("kukeon"), "chain": .string(rule.chain), "handle": .number(Double(handle)),
                "expr": .array(statements),
            ]
            if let comment { body["comment"] = .string(comment) }
            objects.append(.object(["rule": .object(body)]))
        }
        return JSONValue.object(["nftables": .array(objects)]).compactText
    }

    /// How many rules the table `script` leaves: the count the kernel's dump of its rules gives
    /// (`NftablesRuleQuery`), and the one `ObservedFirewall` takes from `json`.
    public static func ruleCount(ofScript script: String) throws(Unknown) -> Int {
        for rule in parts(ofScript: script).rules { _ = try statements(of: rule.line) }
        return parts(ofScript: script).rules.count
    }

    /// A digest of the chains and rules `script` leaves, in order (the table's comment aside):
    /// another for any rule added, removed, moved or changed, as the kernel's is.
    public static func digest(ofScript script: String) -> String {
        let (chains, rules) = parts(ofScript: script)
        let text = chains.map { "\($0.name) \($0.header ?? "")" } + rules.map { "\($0.chain) \($0.line)" }
        return String(BridgeName.fnv1a64(Array(text.joined(separator: "\n").utf8)), radix: 16)
    }

    /// The chains of `script` (with the header line of a base chain) and their rules, in order.
    static func parts(ofScript script: String) -> (chains: [(name: String, header: String?)], rules: [(chain: String, line: String)]) {
        var chains: [(name: String, header: String?)] = []
        var rules: [(chain: String, line: String)] = []
        var current: String?
        for raw in script.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("chain "), line.hasSuffix(" {") {
                current = String(line.dropFirst(6).dropLast(2))
                chains.append((current!, nil))
            } else if line == "}" {
                current = nil
            } else if let chain = current, !line.isEmpty {
                if line.hasPrefix("type ") {
                    chains[chains.count - 1].header = line
                } else {
                    rules.append((chain, line))
                }
            }
        }
        return (chains, rules)
    }

    /// The statements of one rule of kuke's script, its comment, and how many anonymous sets it needs.
    static func statements(of line: String) throws(Unknown) -> ([JSONValue], String?, Int) {
        var words = words(of: line)[...]
        var statements: [JSONValue] = []
        var comment: String?
        var sets = 0
        func match(_ op: String, _ left: JSONValue, _ right: JSONValue) -> JSONValue {
            .object(["match": .object(["op": .string(op), "left": left, "right": right])])
        }
        while let word = words.popFirst() {
            switch word {
            case "ct" where words.first == "state":
                words.removeFirst()
                let flags = (words.popFirst() ?? "").split(separator: ",").map { JSONValue.string(String($0)) }
                statements.append(match("in", .object(["ct": .object(["key": .string("state")])]), flags.count == 1 ? flags[0] : .array(flags)))
            case "iifname", "oifname":
                let op = words.first == "!=" ? "!=" : "=="
                if op == "!=" { words.removeFirst() }
                guard let name = words.popFirst(), name.hasPrefix("\""), name.hasSuffix("\"") else { throw Unknown(description: line) }
                statements.append(match(op, .object(["meta": .object(["key": .string(word)])]), .string(String(name.dropFirst().dropLast()))))
            case "meta" where words.first == "l4proto":
                words.removeFirst()
                let protocolKey = JSONValue.object(["meta": .object(["key": .string("l4proto")])])
                guard words.first == "." else {
                    guard let name = words.popFirst(), name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
                        throw Unknown(description: line)
                    }
                    statements.append(match("==", protocolKey, .string(name)))
                    continue
                }
                guard words.popFirst() == ".", words.popFirst() == "th", words.popFirst() == "dport", let set = words.popFirst() else {
                    throw Unknown(description: line)
                }
                let elements = try concatenations(set, line: line)
                if elements.count > 1 { sets += 1 }
                let left = JSONValue.object([
                    "concat": .array([protocolKey, .object(["payload": .object(["protocol": .string("th"), "field": .string("dport")])])])
                ])
                statements.append(match("==", left, elements.count == 1 ? elements[0] : .object(["set": .array(elements)])))
            case "ip" where words.first == "daddr", "ip6" where words.first == "daddr", "tcp" where words.first == "dport",
                "udp" where words.first == "dport",
                "sctp" where words.first == "dport":
                let field = words.removeFirst()
                let elements = try elements(words.popFirst() ?? "", numeric: word != "ip" && word != "ip6", line: line)
                if elements.count > 1 { sets += 1 }
                statements.append(
                    match(
                        "==", .object(["payload": .object(["protocol": .string(word), "field": .string(field)])]),
                        elements.count == 1 ? elements[0] : .object(["set": .array(elements)])))
            case "counter": statements.append(.object(["counter": .object(["packets": .number(0), "bytes": .number(0)])]))
            case "accept", "drop": statements.append(.object([word: .null]))
            case "jump":
                guard let target = words.popFirst() else { throw Unknown(description: line) }
                statements.append(.object(["jump": .object(["target": .string(target)])]))
            case "comment":
                guard let text = words.popFirst(), text.hasPrefix("\""), text.hasSuffix("\"") else { throw Unknown(description: line) }
                comment = String(text.dropFirst().dropLast())
            default: throw Unknown(description: "`\(word)` in `\(line)`")
            }
        }
        return (statements, comment, sets)
    }

    /// The elements of `{ a, b }` or of a single value, sorted as the kernel keeps them (by
    /// number, an address by its value): `203.0.113.0/24` as a prefix, `443` as a number.
    static func elements(_ word: String, numeric: Bool, line: String) throws(Unknown) -> [JSONValue] {
        let items =
            word.hasPrefix("{")
            ? word.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : [word]
        var keyed: [(key: UInt128, value: JSONValue)] = []
        for item in items {
            if numeric {
                guard let port = try port(item, line: line) else { throw Unknown(description: line) }
                keyed.append((UInt128(port.key), port.value))
                continue
            }
            let parts = item.split(separator: "/")
            guard let key = IPv4Address(String(parts[0])).map({ UInt128($0.value) }) ?? IPv6Address(String(parts[0]))?.value else {
                throw Unknown(description: line)
            }
            if parts.count == 2, let length = Int(parts[1]) {
                keyed.append((key, .object(["prefix": .object(["addr": .string(String(parts[0])), "len": .number(Double(length))])])))
            } else {
                keyed.append((key, .string(item)))
            }
        }
        return keyed.sorted { $0.key < $1.key }.map(\.value)
    }

    /// `443` as a number, `8000-8100` as a range, keyed by its first port.
    static func port(_ item: String, line: String) throws(Unknown) -> (key: UInt64, value: JSONValue)? {
        let bounds = item.split(separator: "-").compactMap { UInt64($0) }
        switch bounds.count {
        case 1: return (bounds[0], .number(Double(bounds[0])))
        case 2: return (bounds[0], .object(["range": .array([.number(Double(bounds[0])), .number(Double(bounds[1]))])]))
        default: return nil
        }
    }

    /// The elements of `{ tcp . 53, udp . 8000-8100 }` as nft 1.0.6 lists them: `{"concat": ["tcp", 53]}`,
    /// sorted by protocol name, then port (measured: `sctp` before `tcp`, whatever the script's order).
    static func concatenations(_ word: String, line: String) throws(Unknown) -> [JSONValue] {
        let items =
            word.hasPrefix("{")
            ? word.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : [word]
        let numbers = ["sctp": UInt64(0), "tcp": 1, "udp": 2]
        var keyed: [(key: [UInt64], value: JSONValue)] = []
        for item in items {
            let parts = item.components(separatedBy: " . ")
            guard parts.count == 2, let number = numbers[parts[0]], let port = try port(parts[1], line: line) else {
                throw Unknown(description: line)
            }
            keyed.append(([number, port.key], .object(["concat": .array([.string(parts[0]), port.value])])))
        }
        return keyed.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.value)
    }

    /// The words of a rule: a quoted string and a `{ … }` set are one word each.
    static func words(of line: String) -> [String] {
        var words: [String] = []
        var current = ""
        var closing: Character?
        for character in line {
            if let end = closing {
                current.append(character)
                if character == end { closing = nil }
            } else if character == " " {
                if !current.isEmpty { words.append(current) }
                current = ""
            } else {
                current.append(character)
                if character == "\"" { closing = "\"" } else if character == "{" { closing = "}" }
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
