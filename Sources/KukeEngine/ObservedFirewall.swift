import KukeModel

/// What a pass needs of `table inet kukeon` to tell whether it may be as desired, read from the
/// kernel without a listing (see `FirewallControl.summary()`): the fingerprint and owner in the
/// table's comment, how many rules it has, whether it is dormant (`flags dormant` switches a
/// whole table off), and a digest of its chains and rules as the kernel holds them (counter
/// values aside), which `FirewallDigest` compares with the one recorded after kuke's last write.
/// `ObservedFirewall` adds the rules themselves and their counters.
public struct FirewallSummary: Sendable, Equatable {
    public var fingerprint: String?
    /// Whose spaces the table holds: `run:<run path>` of the kuke that wrote it (see
    /// `FirewallPlanner.owner(runPath:)`); nil for a table written before kuke recorded it.
    public var owner: String?
    public var ruleCount: Int
    /// The digest of the table's chains and rules; nil when the reader does not give one.
    public var digest: String?
    public var dormant: Bool

    public init(fingerprint: String?, ruleCount: Int, owner: String? = nil, digest: String? = nil, dormant: Bool = false) {
        self.fingerprint = fingerprint
        self.ruleCount = ruleCount
        self.owner = owner
        self.digest = digest
        self.dormant = dormant
    }

    /// The table's comment, `kuke:<fingerprint> <owner>`, with the rest as read. A comment that
    /// is not kuke's gives no fingerprint and no owner.
    public init(comment: String?, ruleCount: Int, digest: String? = nil, dormant: Bool = false) {
        var fingerprint: String?
        var owner: String?
        if let mark = comment, mark.hasPrefix(FirewallPlanner.markPrefix) {
            let parts = mark.dropFirst(FirewallPlanner.markPrefix.count).split(separator: " ", maxSplits: 1)
            fingerprint = parts.first.map(String.init)
            owner = parts.count > 1 ? String(parts[1]) : nil
        }
        self.init(fingerprint: fingerprint, ruleCount: ruleCount, owner: owner, digest: digest, dormant: dormant)
    }
}

/// What `table inet kukeon` holds, listed: its fingerprint and owner, its rules as data
/// (`FirewallTable`), and the packets dropped per bridge (isolation and egress together).
/// Reading it costs a listing (`FirewallControl.observe()`), so a pass asks for it only when the
/// summary leaves a doubt, for a rewrite's diff, after a failed write, or to show drops.
public struct ObservedFirewall: Sendable, Equatable {
    public var fingerprint: String?
    /// Whose spaces the table holds (see `FirewallSummary.owner`).
    public var owner: String?
    public var table: FirewallTable
    /// Packets dropped, by the bridge of the space they came from.
    public var drops: [String: UInt64] = [:]
    /// Of `drops`, those of each space's egress policy (its `deny` rules); the rest are isolation's.
    public var egressDrops: [String: UInt64] = [:]
    public var dormant = false

    public init(table: FirewallTable, fingerprint: String?, owner: String? = nil, drops: [String: UInt64] = [:]) {
        self.table = table
        self.fingerprint = fingerprint
        self.owner = owner
        self.drops = drops
    }

    public var ruleCount: Int { table.ruleCount }

    /// The fingerprint, owner and rule count alone.
    public var summary: FirewallSummary { FirewallSummary(fingerprint: fingerprint, ruleCount: ruleCount, owner: owner, dormant: dormant) }

    /// The chains and rules, one per line, as a diff shows them.
    public var lines: [String] { table.lines }

    /// The table as nft listed it (`listing`) with its comment, `kuke:<fingerprint> <owner>`
    /// (read beside the listing: see `NftablesFirewall.observe`). A comment that is not kuke's
    /// gives no fingerprint and no owner.
    public init(listing: NftablesListing, comment: String?) {
        let summary = FirewallSummary(comment: comment, ruleCount: 0)
        self.init(table: listing.table, fingerprint: summary.fingerprint, owner: summary.owner)
        for rule in listing.rules where rule.rule.statements.contains(.verdict(.drop)) {
            guard let packets = rule.packets else { continue }
            let chainBridge = rule.chain.hasPrefix(FirewallPlanner.egressChainPrefix) ? FirewallPlanner.bridge(ofChain: rule.chain) : nil
            // The `kuke-*` rules' drops belong to no space (a bridge no record describes).
            guard let bridge = rule.inputInterface ?? chainBridge, !bridge.hasSuffix("*") else { continue }
            drops[bridge, default: 0] += packets
            if chainBridge != nil { egressDrops[bridge, default: 0] += packets }
        }
    }
}
