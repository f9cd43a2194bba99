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
}

extension ObservedFirewall {
    /// The spaces among `spaces` whose every rule is in the table: its same-bridge accept and
    /// isolation drop, its egress, and for a space that denies egress its chain with each allow
    /// rule and the final drop (the `kuke-*` rules with them).
    public func holding(_ spaces: [FirewallSpace]) -> Set<SpaceID> {
        Set(spaces.filter { table.contains(FirewallPlanner.desired([$0]).table) }.map(\.id))
    }
}
