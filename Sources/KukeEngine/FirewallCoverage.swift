import KukeModel

extension FirewallPlanner {
    /// Why the bridge name `name` cannot be written into the table's rules and chain names
    /// (`iifname "<name>"`, `egress_<name>`), or nil when it can.
    public static func violation(ofBridge name: String) -> String? {
        if let problem = BridgeName.violation(of: name) { return problem }
        let allowed = name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == ".")
        }
        return allowed ? nil : "contains a character the isolation table cannot name (only letters, digits, '-' and '.')"
    }

    /// The rules of each chain, as `lines(of:)` gives them, keyed by the chain's header line.
    static func rulesByChain(_ lines: [String]) -> [String: Set<String>] {
        var chains: [String: Set<String>] = [:]
        var current = ""
        for line in lines {
            if line.hasPrefix("chain ") {
                current = line
                chains[current, default: []] = chains[current] ?? []
            } else {
                chains[current, default: []].insert(line)
            }
        }
        return chains
    }
}

extension ObservedFirewall {
    /// The spaces among `spaces` whose every rule is in the table: the isolation rule, and for a
    /// space that denies egress its jump and its chain with each allow rule and the final drop.
    public func holding(_ spaces: [FirewallSpace]) -> Set<SpaceID> {
        let observed = FirewallPlanner.rulesByChain(lines)
        var held: Set<SpaceID> = []
        for space in spaces {
            let wanted = FirewallPlanner.rulesByChain(FirewallPlanner.lines(of: FirewallPlanner.desired([space]).script))
            if wanted.allSatisfy({ chain, rules in observed[chain].map(rules.isSubset(of:)) ?? false }) { held.insert(space.id) }
        }
        return held
    }
}
