import KukeModel

/// What `kuke apply --prune --inventory NAME` (and `kuke diff --prune`) would delete: the spaces
/// the inventory created that the batch no longer declares, or that this host no longer selects.
/// A suspended space is never among them.
public enum Pruning {
    /// The owner recorded on the spaces an inventory creates (`status.managedBy`).
    public static func owner(inventory name: String) -> String { "inventory:\(name)" }

    /// The orphans, and how many spaces the batch declares and this host selects (what the
    /// inventory holds after the pass, dry or not).
    public static func orphans(owner: String, batch: [Resource], inventory: Inventory, labels: [String: String]) -> (
        orphans: [SpaceID], selected: Int
    ) {
        var selected: Set<SpaceID> = []
        let realmSelector = HostSelection.realmSelectors(in: batch) { inventory.realms[$0]?.spec.selector }
        for case .space(let space) in batch where HostSelection.isSelected(.space(space), labels: labels, realmSelector: realmSelector) {
            selected.insert(space.id)
        }
        let owned = inventory.spaces.values.filter { $0.status.managedBy == owner && $0.status.suspended == nil }
        return (owned.map(\.id).filter { !selected.contains($0) }.sorted(), selected.count)
    }

    /// Why nothing may be pruned after a pass with these outcomes, or nil: prune follows only a
    /// pass where every resource converged, and never empties an inventory unless allowed.
    public static func hold(outcomes: [ResourceOutcome], orphans: [SpaceID], selected: Int, allowEmpty: Bool, hints: any HintWording)
        -> String?
    {
        guard !orphans.isEmpty else { return nil }
        let names = orphans.prefix(3).map(\.description).joined(separator: ", ") + (orphans.count > 3 ? " and \(orphans.count - 3) more" : "")
        let failed = outcomes.filter { $0.outcome == .failed }
        if let first = failed.first {
            return
                "\(failed.count) resource(s) failed (\(first.kind) \(first.displayName): \(first.failure?.reason.rawValue ?? "failed")); \(orphans.count) space(s) to prune kept (\(names))"
        }
        if selected == 0 && !allowEmpty {
            return hints.text(
                "the manifests declare no space this host selects (an empty directory, a wrong path?)",
                hint: .allowEmptyPrune(count: orphans.count, names: names))
        }
        return nil
    }
}
