import KukeModel

/// What `table inet kukeon` holds: its fingerprint (in the table's comment) and how many
/// rules its forward chain has, so a rule flushed by hand shows as drift.
public struct ObservedFirewall: Sendable, Equatable {
    public var fingerprint: String?
    public var ruleCount: Int

    public init(fingerprint: String?, ruleCount: Int) {
        self.fingerprint = fingerprint
        self.ruleCount = ruleCount
    }
}

/// Plans the isolation between spaces: forwarded traffic from one space's bridge to another
/// space's bridge is dropped; traffic within a space, to and from the host, and replies of
/// established connections pass. The table is kuke's own (`inet kukeon`), so other firewalls
/// (Docker, firewalld, iptables-nft) keep their tables untouched.
public enum FirewallPlanner {
    public static let table = "inet kukeon"

    /// The script that replaces the table in one transaction, and the rule count it leaves.
    public static func desired(_ spaces: [(id: SpaceID, bridge: String)]) -> (script: String, fingerprint: String, ruleCount: Int) {
        let ordered = spaces.sorted { $0.id < $1.id }
        var rules = ["ct state established,related accept"]
        for space in ordered {
            rules.append("iifname \"\(space.bridge)\" oifname \"kuke-*\" oifname != \"\(space.bridge)\" counter drop comment \"\(space.id)\"")
        }
        let body = rules.map { "    \($0)\n" }.joined()
        let fingerprint = String(BridgeName.fnv1a64(Array(body.utf8)), radix: 16)
        let script = """
            table \(table)
            delete table \(table)
            table \(table) {
              comment "kuke:\(fingerprint)"
              chain forward {
                type filter hook forward priority filter; policy accept;
            \(body)  }
            }

            """
        return (script, fingerprint, rules.count)
    }

    /// The change that brings the table to `spaces`: replace it, delete it (no spaces left), or nothing.
    public static func plan(_ spaces: [(id: SpaceID, bridge: String)], observed: ObservedFirewall?) -> Change? {
        if spaces.isEmpty {
            guard observed != nil else { return nil }
            return Change(
                part: .firewall, action: .delete, subject: table, summary: "delete table \(table) (no spaces left)", operation: .deleteFirewall)
        }
        let desired = desired(spaces)
        if let observed, observed.fingerprint == desired.fingerprint, observed.ruleCount == desired.ruleCount { return nil }
        let before = observed.map { "table: \(table)\nfingerprint: \($0.fingerprint ?? "none")\nrules: \($0.ruleCount)\n" }
        let after = "table: \(table)\nfingerprint: \(desired.fingerprint)\nrules: \(desired.ruleCount)\n"
        return Change(
            part: .firewall, action: observed == nil ? .create : .update, subject: table,
            summary: "\(observed == nil ? "create" : "rewrite") table \(table): isolate \(spaces.count) space(s)",
            diff: UnifiedDiff.make(old: before, new: after, oldLabel: "nftables/\(table)", newLabel: "nftables/\(table)"),
            operation: .replaceFirewall(script: desired.script))
    }
}
