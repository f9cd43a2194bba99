import KukeModel

/// One space as the firewall sees it: its bridge and, when its egress is denied, what it may reach.
public struct FirewallSpace: Sendable, Equatable {
    /// One accept rule of a space's egress chain.
    public struct Allow: Sendable, Equatable {
        /// `10.0.0.0/8` or `203.0.113.7`, sorted.
        public var destinations: [String]
        /// TCP destination ports; empty means any protocol and port.
        public var ports: [Int]
        /// `allow[0] cidr 10.0.0.0/8`, kept under nftables' 128-byte comment limit.
        public var label: String
    }

    public var id: SpaceID
    public var bridge: String
    /// nil when egress is open; otherwise everything else leaving the space is dropped.
    public var egress: [Allow]?

    public init(id: SpaceID, bridge: String, egress: [Allow]?) {
        self.id = id
        self.bridge = bridge
        self.egress = egress
    }

    /// The space of a record: its recorded bridge, its policy, and the addresses recorded for its hosts.
    public init?(record: SpaceRecord) {
        guard let network = record.status.network else { return nil }
        self.init(
            id: record.id, bridge: network.bridge, egress: Self.allows(EgressPolicy(network: record.spec.network), resolved: record.status.egress))
    }

    /// The accept rules of a policy (nil when egress is open); a host contributes the addresses
    /// recorded for it, and no rule while it has none.
    static func allows(_ policy: EgressPolicy?, resolved: EgressStatus?) -> [Allow]? {
        policy.map { policy in
            policy.rules.enumerated().compactMap { index, rule in
                let destinations: [String]
                let label: String
                switch rule.target {
                case .cidr(let address, let prefix):
                    destinations = [prefix == 32 ? address.description : "\(address)/\(prefix)"]
                    label = "allow[\(index)] cidr \(destinations[0])"
                case .host(let host):
                    destinations = (resolved?.addresses(of: host) ?? []).map(\.description)
                    label = "allow[\(index)] host \(host.prefix(80))"
                }
                return destinations.isEmpty ? nil : Allow(destinations: destinations, ports: rule.ports, label: label)
            }
        }
    }
}

/// Plans the table that makes spaces network boundaries. Forwarded traffic from one kuke bridge
/// to another is dropped, whatever the records say; traffic within a space, to and from the
/// host, and replies of established connections pass. A space whose egress is denied jumps to a
/// chain of its own: its allow rules, then a counted drop; a kuke bridge no record describes
/// sends nothing out. The table is kuke's own (`inet kukeon`), so other firewalls (Docker,
/// firewalld, iptables-nft) keep their tables untouched.
public enum FirewallPlanner {
    public static let table = "inet kukeon"
    static let egressChainPrefix = "egress_"
    /// The table's comment: `kuke:<fingerprint> <owner>`.
    static let markPrefix = "kuke:"

    /// `egress_kuke_main_blog`: bridge names have no `_`, so the chain names its bridge back.
    static func chain(ofBridge bridge: String) -> String { egressChainPrefix + bridge.replacingOccurrences(of: "-", with: "_") }
    static func bridge(ofChain chain: String) -> String {
        String(chain.dropFirst(egressChainPrefix.count)).replacingOccurrences(of: "_", with: "-")
    }

    /// The table's owner mark for a run path: `run:/opt/kukeon`, or `run:#<hash>` for a path too
    /// long for nftables' 128-byte comment or with characters a comment cannot quote.
    public static func owner(runPath: String) -> String {
        let plain = runPath.utf8.count <= 96 && runPath.unicodeScalars.allSatisfy { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 }
        return plain ? "run:\(runPath)" : "run:#" + String(BridgeName.fnv1a64(Array(runPath.utf8)), radix: 16)
    }

    /// The comment of the rules that hold every kuke bridge, recorded or not: `kuke-*` to
    /// `kuke-*` dropped, and anything else leaving a `kuke-*` bridge no record describes.
    static let isolateAnyComment = "isolate kuke-*"
    static let unrecordedComment = "unrecorded kuke-*"

    /// The script that replaces the table in one transaction, its fingerprint, and the rule count
    /// it leaves. `owner` (see `owner(runPath:)`) is written beside the fingerprint.
    ///
    /// The forward chain holds the boundary by construction: the only accepts before the
    /// `kuke-*` to `kuke-*` drop are same-bridge ones (`iifname B oifname B`, which
    /// `br_netfilter` brings here), so no rule of a record, missing or wrong, can open one space
    /// to another; and a bridge no rule names gets none of the per-space accepts, so the last
    /// rule drops everything else it sends (egress denied). Per space, in order: same-bridge
    /// accept, a counted drop towards other kuke bridges (its isolation drops), then, after the
    /// `kuke-*` drop, its egress: a jump to its chain (`default: deny`) or an accept. A `kuke-*`
    /// bridge of the host that no record describes (`unrecorded`) gets its same-bridge accept
    /// alone, so its cells still reach each other and nothing else.
    public static func desired(_ spaces: [FirewallSpace], unrecorded: [String] = [], owner: String = "") -> (
        script: String, fingerprint: String, ruleCount: Int
    ) {
        let ordered = spaces.sorted { $0.id < $1.id }
        var forward = ["ct state established,related accept comment \"established\""]
        var chains = ""
        var chainRules = 0
        for space in ordered {
            let bridge = "\"\(space.bridge)\""
            forward.append("iifname \(bridge) oifname \(bridge) accept comment \"same bridge\"")
            forward.append("iifname \(bridge) oifname \"kuke-*\" counter drop comment \"isolate\"")
        }
        for name in unrecorded.sorted() where violation(ofBridge: name) == nil {
            forward.append("iifname \"\(name)\" oifname \"\(name)\" accept comment \"same bridge, unrecorded\"")
        }
        forward.append("iifname \"kuke-*\" oifname \"kuke-*\" counter drop comment \"\(isolateAnyComment)\"")
        for space in ordered {
            let bridge = "\"\(space.bridge)\""
            guard let allows = space.egress else {
                forward.append("iifname \(bridge) accept comment \"egress\"")
                continue
            }
            let chain = chain(ofBridge: space.bridge)
            forward.append("iifname \(bridge) jump \(chain) comment \"egress\"")
            var rules = allows.map { allow in
                let ports = allow.ports.isEmpty ? "" : " tcp dport { \(allow.ports.map(String.init).joined(separator: ", ")) }"
                return "ip daddr { \(allow.destinations.joined(separator: ", ")) }\(ports) accept comment \"\(allow.label)\""
            }
            rules.append("counter drop comment \"deny\"")
            chainRules += rules.count
            chains += "  chain \(chain) {\n" + rules.map { "    \($0)\n" }.joined() + "  }\n"
        }
        forward.append("iifname \"kuke-*\" counter drop comment \"\(unrecordedComment)\"")
        let body =
            "  chain forward {\n    type filter hook forward priority filter; policy accept;\n"
            + forward.map { "    \($0)\n" }.joined() + "  }\n" + chains
        let fingerprint = String(BridgeName.fnv1a64(Array(body.utf8)), radix: 16)
        let mark = owner.isEmpty ? fingerprint : "\(fingerprint) \(owner)"
        let script = "table \(table)\ndelete table \(table)\ntable \(table) {\n  comment \"\(markPrefix)\(mark)\"\n\(body)}\n"
        return (script, fingerprint, forward.count + chainRules)
    }

    /// The table `desired(spaces, owner:)` writes, as `observe` reads it back (no drops yet).
    static func written(_ spaces: [FirewallSpace], unrecorded: [String] = [], owner: String = "") -> ObservedFirewall {
        let desired = desired(spaces, unrecorded: unrecorded, owner: owner)
        return ObservedFirewall(
            fingerprint: desired.fingerprint, ruleCount: desired.ruleCount, lines: lines(of: desired.script), owner: owner.isEmpty ? nil : owner)
    }

    /// The chains and rules of kuke's script (or of nft's text listing of it), one per line, the
    /// way `kuke diff` shows them: indentation, counters (`packets N bytes M`), braces around a
    /// single set element, the table's own lines and its fingerprint left out. `NftablesListing`
    /// gives the observed table in the same form, so observed and desired compare equal when they are.
    static func lines(of text: String) -> [String] {
        text.split(separator: "\n").compactMap { raw -> String? in
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line == "}" || line.hasPrefix("table ") || line.hasPrefix("delete table ") || line.hasPrefix("comment \"\(markPrefix)")
            {
                return nil
            }
            if let range = line.range(of: "counter packets "), let end = line[range.upperBound...].range(of: " bytes ") {
                let afterBytes = line[end.upperBound...].drop { $0.isNumber }
                line = String(line[..<range.lowerBound]) + "counter" + afterBytes
            }
            // `{ 10.0.0.0/8 }` and `{ 443 }`: nft prints a one-element set without braces.
            var result = ""
            var rest = Substring(line)
            while let open = rest.range(of: "{ "), let close = rest[open.upperBound...].range(of: " }") {
                let inner = rest[open.upperBound..<close.lowerBound]
                result += rest[..<open.lowerBound]
                result += inner.contains(",") || inner.contains(" ") ? "{ \(inner) }" : String(inner)
                rest = rest[close.upperBound...]
            }
            result += rest
            return result.hasPrefix("chain ") ? result : "  " + result
        }
    }

    /// The change that brings the table to `spaces`: create or replace it, or nothing. With no
    /// spaces the table stays, holding the rules that isolate every `kuke-*` bridge: a bridge
    /// left behind is never open. The summary decides; `observedLines` (the table's listing) is
    /// asked for only when a rewrite is planned, for its diff.
    public static func plan<E: Error>(
        _ spaces: [FirewallSpace], unrecorded: [String] = [], summary observed: FirewallSummary?, owner: String = "",
        observedLines: () throws(E) -> [String]
    ) throws(E) -> Change? {
        let desired = desired(spaces, unrecorded: unrecorded, owner: owner)
        if let observed, observed.fingerprint == desired.fingerprint, observed.ruleCount == desired.ruleCount,
            observed.owner == (owner.isEmpty ? nil : owner)
        {
            return nil
        }
        // The rules themselves are diffed; the fingerprint and the rule count decide.
        func text(_ fingerprint: String?, _ count: Int, _ lines: [String]) -> String {
            "# table \(table), fingerprint \(fingerprint ?? "none"), \(count) rules\n" + lines.map { $0 + "\n" }.joined()
        }
        var before: String?
        if let observed { before = text(observed.fingerprint, observed.ruleCount, try observedLines()) }
        let after = text(desired.fingerprint, desired.ruleCount, lines(of: desired.script))
        let denied = spaces.filter { $0.egress != nil }.count
        let egress = denied == 0 ? "" : ", egress denied by default for \(denied)"
        let held = spaces.isEmpty ? "no spaces, the kuke-* rules alone" : "isolate \(spaces.count) space(s)\(egress)"
        return Change(
            part: .firewall, action: observed == nil ? .create : .update, subject: table,
            summary: "\(observed == nil ? "create" : "rewrite") table \(table): \(held)",
            diff: UnifiedDiff.make(old: before, new: after, oldLabel: "nftables/\(table)", newLabel: "nftables/\(table)"),
            operation: .replaceFirewall(script: desired.script))
    }

    /// `plan(_:summary:owner:observedLines:)` of a table already listed.
    public static func plan(_ spaces: [FirewallSpace], observed: ObservedFirewall?, owner: String = "") -> Change? {
        plan(spaces, summary: observed?.summary, owner: owner) { observed?.lines ?? [] }
    }
}
