import KukeModel

/// Which resources of a batch this host leaves alone: those its labels are not selected by
/// (`spec.hostSelector` of the resource, or of its realm), and suspended spaces.
public enum HostSelection {
    /// Why `resource` is not selected by a host with `labels` (nil when it is). A space's realm
    /// selector comes from the batch's realm manifest, else from the realm's record.
    public static func notSelected(_ resource: Resource, realmSelector: ManifestValue?, labels: [String: String]) -> String? {
        let own: ManifestValue?
        switch resource {
        case .realm(let realm): own = realm.spec.hostSelector
        case .space(let space): own = space.spec.hostSelector
        }
        if let selector = HostSelector(own), !selector.matches(labels) {
            return "hostSelector \(selector) does not select this host"
        }
        if case .space(let space) = resource, let selector = HostSelector(realmSelector), !selector.matches(labels) {
            return "realm \(space.spec.realmId)'s hostSelector \(selector) does not select this host"
        }
        return nil
    }

    /// The realm selector that applies to a space of `batch`.
    public static func realmSelector(of realm: String, batch: [Resource], inventory: Inventory) -> ManifestValue? {
        for case .realm(let manifest) in batch where manifest.metadata.name == realm { return manifest.spec.hostSelector }
        return inventory.realms[realm]?.spec.hostSelector
    }

    /// The outcome of a resource left alone (skipped or suspended), or nil when the pass applies it.
    static func hold(_ resource: Resource, batch: [Resource], inventory: Inventory, labels: [String: String]) -> ResourceOutcome? {
        let realmID: String? = if case .space(let space) = resource { space.spec.realmId } else { nil }
        let name: String =
            switch resource {
            case .realm(let realm): realm.metadata.name
            case .space(let space): space.metadata.name
            }
        let selector: ManifestValue? = realmID.flatMap { Self.realmSelector(of: $0, batch: batch, inventory: inventory) }
        if let reason = notSelected(resource, realmSelector: selector, labels: labels) {
            var outcome = ResourceOutcome(kind: resource.kind, realm: realmID, name: name, outcome: .skipped)
            outcome.note = reason
            return outcome
        }
        if case .space(let space) = resource, let suspension = inventory.spaces[space.id]?.status.suspended {
            var outcome = ResourceOutcome(kind: "Space", realm: realmID, name: name, outcome: .suspended)
            outcome.note = suspension.reason
            return outcome
        }
        return nil
    }
}
