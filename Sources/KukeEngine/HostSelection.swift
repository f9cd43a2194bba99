import KukeModel

/// Which resources of a batch this host leaves alone: those its labels are not selected by
/// (`spec.hostSelector` of the resource, or of its realm), and suspended spaces.
public enum HostSelection {
    /// Why `resource` is not selected by a host with `labels` (nil when it is). A space's realm
    /// selector comes from the batch's realm manifest, else from the realm's record.
    public static func notSelected(_ resource: Resource, realmSelector: HostSelector?, labels: [String: String]) -> String? {
        let own: HostSelector?
        switch resource {
        case .realm(let realm): own = realm.spec.selector
        case .space(let space): own = space.spec.selector
        }
        if let selector = own, !selector.matches(labels) {
            return "hostSelector \(selector) does not select this host"
        }
        if case .space(let space) = resource, let selector = realmSelector, !selector.matches(labels) {
            return "realm \(space.spec.realmId)'s hostSelector \(selector) does not select this host"
        }
        return nil
    }

    /// The realm selector that applies to the spaces of a realm: the batch's realm manifest's,
    /// else the recorded realm's. The batch is indexed once.
    public static func realmSelectors(in batch: [Resource], recorded: @escaping (String) -> HostSelector?) -> (String) -> HostSelector? {
        var declared: [String: HostSelector?] = [:]
        for case .realm(let manifest) in batch where declared[manifest.metadata.name] == nil {
            declared[manifest.metadata.name] = manifest.spec.selector
        }
        return { realm in declared[realm] ?? recorded(realm) }
    }

    /// Whether this host (its `labels`) selects `resource`, its realm's selector from `realmSelector`.
    public static func isSelected(_ resource: Resource, labels: [String: String], realmSelector: (String) -> HostSelector?) -> Bool {
        let realm: HostSelector? = if case .space(let space) = resource { realmSelector(space.spec.realmId) } else { nil }
        return notSelected(resource, realmSelector: realm, labels: labels) == nil
    }

    /// The outcome of a resource left alone (skipped or suspended), or nil when the pass applies it.
    static func hold(
        _ resource: Resource, inventory: Inventory, labels: [String: String], realmSelector: (String) -> HostSelector?
    ) -> ResourceOutcome? {
        let realmID: String? = if case .space(let space) = resource { space.spec.realmId } else { nil }
        let name: String =
            switch resource {
            case .realm(let realm): realm.metadata.name
            case .space(let space): space.metadata.name
            }
        let selector: HostSelector? = realmID.flatMap(realmSelector)
        if let reason = notSelected(resource, realmSelector: selector, labels: labels) {
            var outcome = ResourceOutcome(kind: resource.kind, realm: realmID, name: name, outcome: .skipped)
            outcome.note = reason
            return outcome
        }
        if case .space(let space) = resource, let suspension = inventory.spaces[space.id]?.status.suspended {
            var outcome = ResourceOutcome(kind: .space, realm: realmID, name: name, outcome: .suspended)
            outcome.note = suspension.reason
            return outcome
        }
        return nil
    }
}
