import KukeModel

/// What `table inet kukeon` holds: its fingerprint and owner (in the table's comment), how many
/// rules it has (every rule kuke writes carries a comment), so a rule flushed by hand shows as
/// drift, the packets dropped per bridge (isolation and egress together), and its chains and
/// rules as lines, for `holding(_:)` and `kuke diff`.
public struct ObservedFirewall: Sendable, Equatable {
    public var fingerprint: String?
    /// Whose spaces the table holds: `run:<run path>` of the kuke that wrote it (see
    /// `FirewallPlanner.owner(runPath:)`); nil for a table written before kuke recorded it.
    public var owner: String?
    public var ruleCount: Int
    /// Packets dropped, by the bridge of the space they came from.
    public var drops: [String: UInt64]
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
        var fingerprint: String?
        var owner: String?
        if let mark = comment, mark.hasPrefix(FirewallPlanner.markPrefix) {
            let parts = mark.dropFirst(FirewallPlanner.markPrefix.count).split(separator: " ", maxSplits: 1)
            fingerprint = parts.first.map(String.init)
            owner = parts.count > 1 ? String(parts[1]) : nil
        }
        var drops: [String: UInt64] = [:]
        for rule in listing.rules where rule.drops {
            guard let packets = rule.packets else { continue }
            let chainBridge = rule.chain.hasPrefix(FirewallPlanner.egressChainPrefix) ? FirewallPlanner.bridge(ofChain: rule.chain) : nil
            if let bridge = rule.inputInterface ?? chainBridge { drops[bridge, default: 0] += packets }
        }
        self.init(fingerprint: fingerprint, ruleCount: listing.rules.filter { $0.comment != nil }.count, drops: drops, owner: owner)
        rules = .listed(listing)
    }
}
