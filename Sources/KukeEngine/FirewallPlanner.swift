import KukeModel

/// One space as the firewall sees it: its bridge and, when its egress is denied, what it may reach.
public struct FirewallSpace: Sendable, Equatable {
    /// One accept rule of a space's egress chain.
    public struct Allow: Sendable, Equatable {
        /// `10.0.0.0/8` or `203.0.113.7`, sorted.
        public var destinations: [String]
        /// The protocols and destination ports; `.any` for every protocol and port.
        public var ports: EgressPorts
        /// `allow[0] cidr 10.0.0.0/8`, kept under nftables' 128-byte comment limit.
        public var label: String
        /// IPv6 destinations (`fd00::/8`, `2001:db8::7`), sorted: rules of their own (`ip6 daddr`).
        public var destinations6: [String] = []

        public init(destinations: [String], ports: EgressPorts, label: String, destinations6: [String] = []) {
            self.destinations = destinations
            self.ports = ports
            self.label = label
            self.destinations6 = destinations6
        }
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
            id: record.id, bridge: network.bridge, egress: Self.allows(record.spec.egress, resolved: record.status.egress))
    }

    /// The accept rules of a policy (nil when egress is open); a host contributes the addresses
    /// recorded for it, and no rule while it has none.
    static func allows(_ policy: EgressPolicy?, resolved: EgressStatus?) -> [Allow]? {
        policy.map { policy in
            let nameservers = policy.allowsDNS ? (resolved?.nameservers ?? []).map(\.description) : []
            let dns = nameservers.isEmpty ? [] : [Allow(destinations: nameservers, ports: dnsPorts, label: "dns")]
            return dns
                + policy.rules.enumerated().compactMap { index, rule in
                    var destinations: [String] = []
                    var destinations6: [String] = []
                    let label: String
                    switch rule.target {
                    case .cidr(let address, let prefix):
                        destinations = [prefix == 32 ? address.description : "\(address)/\(prefix)"]
                        label = "allow[\(index)] cidr \(destinations[0])"
                    case .cidr6(let network):
                        destinations6 = [network.prefixLength == 128 ? network.network.description : network.description]
                        label = "allow[\(index)] cidr \(destinations6[0])"
                    case .host(let host):
                        destinations = (resolved?.addresses(of: host) ?? []).map(\.description)
                        destinations6 = (resolved?.addresses6(of: host) ?? []).map(\.description)
                        label = "allow[\(index)] host \(host.prefix(80))"
                    }
                    return destinations.isEmpty && destinations6.isEmpty
                        ? nil : Allow(destinations: destinations, ports: rule.ports, label: label, destinations6: destinations6)
                }
        }
    }

    /// What `dns: allow` lets through to the resolvers: port 53 over UDP and TCP (TCP for
    /// answers too large for a datagram, and zone transfers' clients), nothing else.
    static let dnsPorts = EgressPorts(ranges: [.init(.udp, 53, 53), .init(.tcp, 53, 53)])
}

extension FirewallSpace.Allow {
    /// Its accept rules, per family of its destinations (`ip daddr`, then `ip6 daddr`): one for
    /// the ports (`tcp dport { 80, 443 }` when they are of one protocol,
    /// `meta l4proto . th dport { tcp . 53, udp . 53 }` when of several), one for ICMP
    /// (`meta l4proto icmp`, `ipv6-icmp` for IPv6), or one for everything when it has no ports.
    var rules: [FirewallTable.Rule] {
        typealias Match = FirewallTable.Match
        var rules: [FirewallTable.Rule] = []
        for (field, list, icmp) in [(Match.Field.ipDestination, destinations, "icmp"), (.ip6Destination, destinations6, "ipv6-icmp")]
        where !list.isEmpty {
            let destination = FirewallTable.Statement.match(Match(field, list))
            func rule(_ matches: [Match]) -> FirewallTable.Rule {
                FirewallTable.Rule([destination] + matches.map { .match($0) } + [.verdict(.accept)], comment: label)
            }
            if ports.isAny {
                rules.append(rule([]))
                continue
            }
            let transports = ports.transports
            if transports.count == 1 {
                rules.append(rule([Match(.destinationPort(transports[0]), ports.ranges.map(\.portText))]))
            } else if !transports.isEmpty {
                rules.append(rule([Match(.protocolAndPort, ports.ranges.map { "\($0.transport.rawValue) . \($0.portText)" })]))
            }
            if ports.icmp { rules.append(rule([Match(.protocol, [icmp])])) }
        }
        return rules
    }

    /// How many rules `rules` holds, without building them.
    var ruleCount: Int {
        let perFamily = ports.isAny ? 1 : (ports.ranges.isEmpty ? 0 : 1) + (ports.icmp ? 1 : 0)
        return perFamily * ((destinations.isEmpty ? 0 : 1) + (destinations6.isEmpty ? 0 : 1))
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

    /// The table kuke wants for some spaces, known first by its fingerprint and rule count (what
    /// every pass compares with the kernel's summary), built and rendered only when it must be:
    /// for a listing to compare, or a rewrite.
    public struct Desired: Sendable {
        /// The spaces, sorted by id, and the `kuke-*` bridges no record describes, sorted.
        public var spaces: [FirewallSpace]
        public var unrecorded: [String]
        /// The fingerprint written in the table's comment (beside `owner`, see `owner(runPath:)`).
        public var fingerprint: String
        public var ruleCount: Int
        public var owner: String

        /// The table as data (built anew on each use: take it once).
        public var table: FirewallTable { FirewallPlanner.table(spaces, unrecorded: unrecorded) }

        /// The script that replaces the kernel's table with `table` in one transaction.
        public func script(of table: FirewallTable) -> String {
            let mark = owner.isEmpty ? fingerprint : "\(fingerprint) \(owner)"
            let name = FirewallPlanner.table
            return "table \(name)\ndelete table \(name)\ntable \(name) {\n  comment \"\(markPrefix)\(mark)\"\n\(table.script)}\n"
        }
    }

    /// The format of the table `table(_:unrecorded:)` renders: part of every fingerprint, so a kuke
    /// that renders the table otherwise rewrites it. Bump it with any change to the rendering
    /// (`FirewallPlannerGoldenTests` fails until then).
    static let format = "kuke-table/3"

    /// The table for `spaces` (and the `kuke-*` bridges no record describes, `unrecorded`): its
    /// fingerprint, a digest of the format and of everything the table is made from, and its
    /// rule count, both without building it.
    public static func desired(_ spaces: [FirewallSpace], unrecorded: [String] = [], owner: String = "") -> Desired {
        let ordered = spaces.sorted { $0.id < $1.id }
        let loose = unrecorded.sorted().filter { violation(ofBridge: $0) == nil }
        var input = format
        var count = 3 + loose.count  // established, isolate kuke-*, unrecorded kuke-*; a same-bridge accept each
        for space in ordered {
            input += "\n\(space.bridge)"
            count += 3  // same bridge, isolate, egress
            guard let allows = space.egress else { continue }
            count += allows.reduce(0) { $0 + $1.ruleCount } + 1  // its chain: the allows, then deny
            for allow in allows {
                // `80,443` for TCP ports, as before protocols: the tables of earlier manifests keep their fingerprint.
                let six = allow.destinations6.isEmpty ? "" : ";" + allow.destinations6.joined(separator: ",")
                input += "\t\(allow.destinations.joined(separator: ","))\(six) \(allow.ports.entries.joined(separator: ",")) \(allow.label)"
            }
            input += "\tdeny"
        }
        input += "\n" + loose.joined(separator: " ")
        let fingerprint = String(BridgeName.fnv1a64(Array(input.utf8)), radix: 16)
        return Desired(spaces: ordered, unrecorded: loose, fingerprint: fingerprint, ruleCount: count, owner: owner)
    }

    /// The table for `spaces`, already sorted by id, and the `kuke-*` bridges no record describes.
    ///
    /// The forward chain holds the boundary by construction: the only accepts before the
    /// `kuke-*` to `kuke-*` drop are same-bridge ones (`iifname B oifname B`, which
    /// `br_netfilter` brings here), so no rule of a record, missing or wrong, can open one space
    /// to another; and a bridge no rule names gets none of the per-space accepts, so the last
    /// rule drops everything else it sends (egress denied). Per space, in order: same-bridge
    /// accept, a counted drop towards other kuke bridges (its isolation drops), then, after the
    /// `kuke-*` drop, its egress: a jump to its chain (`default: deny`) or an accept. A `kuke-*`
    /// bridge of the host that no record describes gets its same-bridge accept alone, so its
    /// cells still reach each other and nothing else.
    static func table(_ ordered: [FirewallSpace], unrecorded: [String]) -> FirewallTable {
        typealias Rule = FirewallTable.Rule
        typealias Match = FirewallTable.Match
        let any = [BridgeName.prefix + "*"]
        func sameBridge(_ bridge: String, _ comment: String) -> Rule {
            Rule([.match(Match(.inputName, [bridge])), .match(Match(.outputName, [bridge])), .verdict(.accept)], comment: comment)
        }
        var forward = [Rule([.match(Match(.connectionState, ["established", "related"])), .verdict(.accept)], comment: "established")]
        var chains: [FirewallTable.Chain] = []
        for space in ordered {
            forward.append(sameBridge(space.bridge, "same bridge"))
            forward.append(
                Rule([.match(Match(.inputName, [space.bridge])), .match(Match(.outputName, any)), .counter, .verdict(.drop)], comment: "isolate"))
        }
        for name in unrecorded { forward.append(sameBridge(name, "same bridge, unrecorded")) }
        forward.append(
            Rule([.match(Match(.inputName, any)), .match(Match(.outputName, any)), .counter, .verdict(.drop)], comment: isolateAnyComment))
        for space in ordered {
            guard let allows = space.egress else {
                forward.append(Rule([.match(Match(.inputName, [space.bridge])), .verdict(.accept)], comment: "egress"))
                continue
            }
            let chain = chain(ofBridge: space.bridge)
            forward.append(Rule([.match(Match(.inputName, [space.bridge])), .verdict(.jump(chain))], comment: "egress"))
            var rules = allows.flatMap(\.rules)
            rules.append(Rule([.counter, .verdict(.drop)], comment: "deny"))
            chains.append(FirewallTable.Chain(name: chain, rules: rules))
        }
        forward.append(Rule([.match(Match(.inputName, any)), .counter, .verdict(.drop)], comment: unrecordedComment))
        let hook = FirewallTable.Hook(type: "filter", hook: "forward", priority: 0, policy: "accept")
        return FirewallTable(chains: [FirewallTable.Chain(name: "forward", hook: hook, rules: forward)] + chains)
    }

    /// The table `desired(spaces, owner:)` writes, as `observe` reads it back (no drops yet).
    static func written(_ spaces: [FirewallSpace], unrecorded: [String] = [], owner: String = "") -> ObservedFirewall {
        let desired = desired(spaces, unrecorded: unrecorded, owner: owner)
        return ObservedFirewall(table: desired.table, fingerprint: desired.fingerprint, owner: owner.isEmpty ? nil : owner)
    }

    /// Whether the kernel's table, as the summary gives it, may be the desired one: kuke's
    /// fingerprint and owner in its comment, as many rules, and not dormant.
    static func summaryMatches(_ observed: FirewallSummary, _ desired: Desired) -> Bool {
        observed.fingerprint == desired.fingerprint && observed.ruleCount == desired.ruleCount
            && observed.owner == (desired.owner.isEmpty ? nil : desired.owner) && !observed.dormant
    }

    /// The change that brings the table to `spaces`: create or replace it, or nothing. With no
    /// spaces the table stays, holding the rules that isolate every `kuke-*` bridge: a bridge
    /// left behind is never open.
    ///
    /// The summary decides first: a fingerprint, owner or rule count that differs is drift. When
    /// it matches, the digest of the kernel's rules (`FirewallSummary.digest`) is compared with
    /// the one `recorded` after kuke's last write of this table; only when those differ (a rule
    /// changed in place, its comment kept) is the table listed (`observed`) and compared as data.
    /// The listing is also read for a rewrite's diff, made only when asked (`Change.diff`).
    public static func plan<E: Error>(
        _ spaces: [FirewallSpace], unrecorded: [String] = [], summary: FirewallSummary?, recorded: FirewallDigest? = nil, owner: String = "",
        observed: () throws(E) -> ObservedFirewall?
    ) throws(E) -> Change? {
        try plan(desired(spaces, unrecorded: unrecorded, owner: owner), summary: summary, recorded: recorded, observed: observed)
    }

    /// `plan(_:unrecorded:summary:recorded:owner:observed:)` of a table already worked out.
    public static func plan<E: Error>(
        _ desired: Desired, summary: FirewallSummary?, recorded: FirewallDigest?, observed: () throws(E) -> ObservedFirewall?
    ) throws(E) -> Change? {
        let spaces = desired.spaces
        var listed: ObservedFirewall?
        var asked = false
        if let summary, summaryMatches(summary, desired) {
            if let digest = summary.digest, recorded == FirewallDigest(fingerprint: desired.fingerprint, digest: digest) { return nil }
            listed = try observed()
            asked = true
        }
        let wanted = desired.table
        if asked, let listed, listed.table.sameRules(as: wanted) { return nil }
        // A dormant table is rewritten without a listing: nft 1.0.6 prints its flags as
        // uninitialized bytes in JSON, which may not parse.
        if let summary, !summary.dormant, !asked { listed = try observed() }
        let denied = spaces.filter { $0.egress != nil }.count
        let egress = denied == 0 ? "" : ", egress denied by default for \(denied)"
        let held = spaces.isEmpty ? "no spaces, the kuke-* rules alone" : "isolate \(spaces.count) space(s)\(egress)"
        let before = summary.map { summary in
            ["# table \(table), fingerprint \(summary.fingerprint ?? "none"), \(summary.ruleCount) rules\(summary.dormant ? ", dormant" : "")"]
                + (listed?.table.lines ?? [])
        }
        let after = ["# table \(table), fingerprint \(desired.fingerprint), \(desired.ruleCount) rules"] + wanted.lines
        return Change(
            part: .firewall, action: summary == nil ? .create : .update, subject: table,
            summary: "\(summary == nil ? "create" : "rewrite") table \(table): \(held)",
            diff: .lines(old: before, new: after, label: "nftables/\(table)"), operation: .replaceFirewall(script: desired.script(of: wanted)))
    }

    /// `plan(_:summary:owner:observed:)` of a table already listed.
    public static func plan(_ spaces: [FirewallSpace], observed: ObservedFirewall?, owner: String = "") -> Change? {
        plan(spaces, summary: observed?.summary, owner: owner) { observed }
    }
}

/// What kuke recorded after its last write of the table (`<run>/.kuke.table`): the fingerprint
/// it wrote and the digest of the rules the kernel then held, so a later pass whose summary
/// gives the same digest knows the rules are unchanged without listing them.
public struct FirewallDigest: Sendable, Equatable {
    public var fingerprint: String
    public var digest: String

    public init(fingerprint: String, digest: String) {
        self.fingerprint = fingerprint
        self.digest = digest
    }

    /// `kuke:<fingerprint> <digest>`, one line.
    public var text: String { "kuke:\(fingerprint) \(digest)\n" }

    /// The record's text read back; nil for anything else (a missing or damaged file only costs a listing).
    public init?(text: String) {
        let words = text.split(separator: "\n").first?.split(separator: " ") ?? []
        guard words.count == 2, words[0].hasPrefix("kuke:") else { return nil }
        self.init(fingerprint: String(words[0].dropFirst(5)), digest: String(words[1]))
    }
}
