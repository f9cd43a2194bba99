import KukeModel

/// Plans the bridge part: a link of kind `bridge` with the recorded name, up.
public enum BridgePlanner {
    /// The changes that make `observed` the bridge `name`, or a conflict when the name
    /// is held by a link that is not a bridge.
    public static func plan(name: String, observed: ObservedLink?) throws(Failure) -> [Change] {
        let diff = UnifiedDiff.make(
            old: observed.map(describe), new: "link: \(name)\nkind: bridge\nstate: up\n", oldLabel: "bridge/\(name)", newLabel: "bridge/\(name)")
        guard let observed else {
            return [
                Change(
                    part: .bridge, action: .create, subject: name, summary: "create bridge \(name)", diff: diff, operation: .createBridge(name: name)),
                Change(part: .bridge, action: .update, subject: name, summary: "set bridge \(name) up", operation: .setLinkUp(name: name)),
            ]
        }
        guard observed.kind == .bridge else {
            throw Failure(
                .bridgeConflict, "link \"\(name)\" exists and is \(observed.kind.map { "a \($0) link" } ?? "not a bridge"); kuke will not replace it"
            )
        }
        if observed.isUp { return [] }
        return [
            Change(part: .bridge, action: .update, subject: name, summary: "set bridge \(name) up", diff: diff, operation: .setLinkUp(name: name))
        ]
    }

    /// The state of a link as `kuke diff` shows it.
    static func describe(_ link: ObservedLink) -> String {
        "link: \(link.name)\nkind: \(link.kind ?? "none")\nstate: \(link.isUp ? "up" : "down")\n"
    }
}
