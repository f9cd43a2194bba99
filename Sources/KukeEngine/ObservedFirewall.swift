import KukeModel

/// What a pass needs of `table inet kukeon` to tell whether it is as desired: its fingerprint and
/// owner (in the table's comment) and how many rules it has (every rule kuke writes carries a
/// comment), so a rule flushed by hand shows as drift. Read from the kernel without a listing
/// (see `FirewallControl.summary()`); `ObservedFirewall` adds the rules and counters.
public struct FirewallSummary: Sendable, Equatable {
    public var fingerprint: String?
    /// Whose spaces the table holds: `run:<run path>` of the kuke that wrote it (see
    /// `FirewallPlanner.owner(runPath:)`); nil for a table written before kuke recorded it.
    public var owner: String?
    public var ruleCount: Int

    public init(fingerprint: String?, ruleCount: Int, owner: String? = nil) {
        self.fingerprint = fingerprint
        self.ruleCount = ruleCount
        self.owner = owner
    }

    /// The table's comment, `kuke:<fingerprint> <owner>`, and its count of commented rules. A
    /// comment that is not kuke's gives no fingerprint and no owner.
    public init(comment: String?, ruleCount: Int) {
        var fingerprint: String?
        var owner: String?
        if let mark = comment, mark.hasPrefix(FirewallPlanner.markPrefix) {
            let parts = mark.dropFirst(FirewallPlanner.markPrefix.count).split(separator: " ", maxSplits: 1)
            fingerprint = parts.first.map(String.init)
            owner = parts.count > 1 ? String(parts[1]) : nil
        }
        self.init(fingerprint: fingerprint, ruleCount: ruleCount, owner: owner)
    }
}

/// What `table inet kukeon` holds, listed: its `FirewallSummary`, the packets dropped per bridge
/// (isolation and egress together), and its chains and rules as lines, for `holding(_:)` and the
/// diff of a rewrite. Reading it costs a listing (`FirewallControl.observe()`), so a pass asks for
/// it only when the summary shows a change, a write failed, or drops are shown.
public struct ObservedFirewall: Sendable, Equatable {
    public var fingerprint: String?
    /// Whose spaces the table holds: `run:<run path>` of the kuke that wrote it (see
    /// `FirewallPlanner.owner(runPath:)`); nil for a table written before kuke recorded it.
    public var owner: String?
    public var ruleCount: Int
    /// Packets dropped, by the bridge of the space they came from.
    public var drops: [String: UInt64]
    /// Of `drops`, those of each space's egress policy (its `deny` rules); the rest are isolation's.
    public var egressDrops: [String: UInt64] = [:]
    /// Where `lines` come from: nft's listing, written out only when asked (a diff or a coverage
    /// check; a converged pass needs the counts alone), or lines given as they are.
    var rules: Rules

    enum Rules: Sendable, Equatable {
        case listed(NftablesListing)
        case lines([String])
    }

    public init(fingerprint: String?, ruleCount: Int, drops: [String: UInt64] = [:], lines: [String] = [], owner: String? = nil) {
        self.fingerprint = fingerprint
        self.owner = owner
        self.ruleCount = ruleCount
        self.drops = drops
        rules = .lines(lines)
    }

    /// The fingerprint, owner and rule count alone.
    public var summary: FirewallSummary { FirewallSummary(fingerprint: fingerprint, ruleCount: ruleCount, owner: owner) }

    /// The chains and rules, one per line, counters left out, in the form `FirewallPlanner.lines(of:)`
    /// gives kuke's script, so the two compare line by line.
    public var lines: [String] {
        switch rules {
        case .listed(let listing): listing.lines
        case .lines(let lines): lines
        }
    }

    /// The table as nft listed it (`listing`) with its comment, `kuke:<fingerprint> <owner>`
    /// (read beside the listing: see `NftablesFirewall.observe`). A comment that is not kuke's
    /// gives no fingerprint and no owner.
    public init(listing: NftablesListing, comment: String?) {
        let summary = FirewallSummary(comment: comment, ruleCount: listing.rules.filter { $0.comment != nil }.count)
        var drops: [String: UInt64] = [:]
        var egressDrops: [String: UInt64] = [:]
        for rule in listing.rules where rule.drops {
            guard let packets = rule.packets else { continue }
            let chainBridge = rule.chain.hasPrefix(FirewallPlanner.egressChainPrefix) ? FirewallPlanner.bridge(ofChain: rule.chain) : nil
            // The `kuke-*` rules' drops belong to no space (a bridge no record describes).
            guard let bridge = rule.inputInterface ?? chainBridge, !bridge.hasSuffix("*") else { continue }
            drops[bridge, default: 0] += packets
            if chainBridge != nil { egressDrops[bridge, default: 0] += packets }
        }
        self.init(fingerprint: summary.fingerprint, ruleCount: summary.ruleCount, drops: drops, owner: summary.owner)
        self.egressDrops = egressDrops
        rules = .listed(listing)
    }
}
