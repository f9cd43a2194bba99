import KukeModel

/// Plans the bridge part: a link of kind `bridge` with the recorded name, up; for a
/// dual-stack space, with IPv6 on and nothing taken from router advertisements.
public enum BridgePlanner {
    /// The changes that make `observed` the bridge `name`, or a conflict when the name
    /// is held by a link that is not a bridge.
    /// - Parameter wasDualStack: the record had an IPv6 network: a bridge that still has IPv6 on
    ///   gets it turned off (an IPv4-only bridge otherwise keeps what it has: IPv6 off is a
    ///   best-effort speed-up there, not part of the space).
    public static func plan(name: String, observed: ObservedLink?, ipv6: Bool = false, wasDualStack: Bool = false) throws(Failure) -> [Change] {
        let wanted = "link: \(name)\nkind: bridge\nstate: up\n" + (ipv6 ? describe(LinkIPv6.dualStackBridge) : "")
        let diff = UnifiedDiff.make(
            old: observed.map { describe($0, ipv6: ipv6) }, new: wanted, oldLabel: "bridge/\(name)", newLabel: "bridge/\(name)")
        guard let observed else {
            return [
                Change(
                    part: .bridge, action: .create, subject: name, summary: "create bridge \(name)", diff: diff, operation: .createBridge(name: name)),
                Change(
                    part: .bridge, action: .update, subject: name, summary: "set bridge \(name) up\(ipv6 ? " with IPv6" : "")",
                    operation: .setLinkUp(name: name, ipv6: ipv6)),
            ]
        }
        guard observed.kind == .bridge else {
            throw Failure(
                .bridgeConflict, "link \"\(name)\" exists and is \(observed.kind.map { "a \($0) link" } ?? "not a bridge"); kuke will not replace it"
            )
        }
        var changes: [Change] = []
        if ipv6, observed.ipv6 != LinkIPv6.dualStackBridge {
            changes.append(
                Change(
                    part: .bridge, action: .update, subject: name,
                    summary: "turn IPv6 on for bridge \(name) (no router advertisements, no autoconfiguration)", diff: diff,
                    operation: .enableIPv6(name: name)))
        }
        if !ipv6, wasDualStack, let settings = observed.ipv6, !settings.disabled {
            changes.append(
                Change(
                    part: .bridge, action: .update, subject: name, summary: "turn IPv6 off for bridge \(name) (the space is IPv4-only now)",
                    operation: .disableIPv6(name: name)))
        }
        if !observed.isUp {
            changes.append(
                Change(
                    part: .bridge, action: .update, subject: name, summary: "set bridge \(name) up\(ipv6 ? " with IPv6" : "")",
                    diff: changes.isEmpty ? diff : nil, operation: .setLinkUp(name: name, ipv6: ipv6)))
        }
        return changes
    }

    /// The state of a link as `kuke diff` shows it (its IPv6 settings for a dual-stack space's bridge).
    static func describe(_ link: ObservedLink, ipv6: Bool = false) -> String {
        "link: \(link.name)\nkind: \(link.kind ?? "none")\nstate: \(link.isUp ? "up" : "down")\n"
            + (ipv6 ? link.ipv6.map(describe) ?? "ipv6: none in this kernel\n" : "")
    }

    static func describe(_ settings: LinkIPv6) -> String {
        "ipv6: \(settings.disabled ? "off" : "on")\naccept_ra: \(settings.acceptsRouterAdvertisements ? 1 : 0)\nautoconf: \(settings.autoconfigures ? 1 : 0)\n"
    }
}
