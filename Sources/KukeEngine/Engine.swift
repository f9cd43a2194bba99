import Foundation
import KukeModel

/// Options of one apply pass.
public struct ApplyOptions: Sendable {
    public var dryRun: Bool
    /// Rewrite every conflist canonically and replace unusable recorded bridge names.
    public var regenerateConflists: Bool
    /// Seconds to wait for the host lock; nil waits forever.
    public var lockTimeout: Double?
    /// The watcher applying the batch, recorded on the spaces it creates.
    public var managedBy: String?
    /// `kuke create`: a resource that already exists fails with `AlreadyExists` (checked under the lock).
    public var createOnly: Bool = false
    /// This host's labels, which `spec.hostSelector` is matched against.
    public var hostLabels: [String: String] = [:]

    public init(dryRun: Bool = false, regenerateConflists: Bool = false, lockTimeout: Double? = nil, managedBy: String? = nil) {
        self.dryRun = dryRun
        self.regenerateConflists = regenerateConflists
        self.lockTimeout = lockTimeout
        self.managedBy = managedBy
    }
}

/// What a delete pass targets.
public enum DeleteTarget: Sendable, Equatable {
    case realm(String)
    case space(SpaceID)
}

/// The reconcile pass: order → lock → one snapshot → per resource observe, diff, apply.
/// Validation happens before (see `ManifestLoader`); the engine only sees valid resources.
public struct Engine: Sendable {
    public var layout: HostLayout
    public var drivers: HostDrivers
    public var clock: @Sendable () -> Date
    /// Set by long-running callers (`kuke watch`) so unchanged records are not decoded again.
    public var recordCache: RecordCache?

    /// Reports progress: resources done, total, and the resource at hand.
    public typealias Progress = @Sendable (_ done: Int, _ total: Int, _ current: String) -> Void

    public init(layout: HostLayout, drivers: HostDrivers, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.layout = layout
        self.drivers = drivers
        self.clock = clock
    }

    /// Realms first, then spaces; the batch's order is kept within each kind.
    public static func ordered(_ resources: [Resource]) -> [Resource] {
        resources.filter { if case .realm = $0 { true } else { false } } + resources.filter { if case .space = $0 { true } else { false } }
    }

    /// The current records and network, without the lock (for `get`).
    public func inventory() throws(HostError) -> Inventory {
        try Inventory.load(layout: layout, drivers: drivers, cache: recordCache)
    }

    public func apply(_ resources: [Resource], options: ApplyOptions = ApplyOptions(), progress: Progress? = nil) throws(HostError)
        -> [ResourceOutcome]
    {
        try pass(options: options, progress: progress) { _ in resources }
    }

    /// One pass: the lock, one snapshot, then each resource (built from the snapshot, under the lock).
    func pass(options: ApplyOptions, progress: Progress?, resources: (Inventory) -> [Resource]) throws(HostError) -> [ResourceOutcome] {
        try observedPass(options: options, progress: progress, resources: resources).outcomes
    }

    /// Applies `resources` and also returns the inventory as the pass left it (what the watcher
    /// needs next: managed bridges and owned spaces), saving a second read of every record.
    public func applyObserving(_ resources: [Resource], options: ApplyOptions) throws(HostError) -> (
        outcomes: [ResourceOutcome], inventory: Inventory
    ) {
        try observedPass(options: options, progress: nil) { _ in resources }
    }

    func observedPass(options: ApplyOptions, progress: Progress?, resources: (Inventory) -> [Resource]) throws(HostError)
        -> (outcomes: [ResourceOutcome], inventory: Inventory)
    {
        let held = options.dryRun ? nil : try drivers.lock.acquire(timeout: options.lockTimeout)
        defer { held?.release() }
        var inventory = try Inventory.load(layout: layout, drivers: drivers, cache: recordCache)
        let batch = Self.ordered(resources(inventory))
        // Resources this host does not select, and suspended spaces, are left as they are.
        let realmSelector = HostSelection.realmSelectors(in: batch) { [inventory] in inventory.realms[$0]?.spec.hostSelector }
        let holds = batch.map { HostSelection.hold($0, inventory: inventory, labels: options.hostLabels, realmSelector: realmSelector) }
        let ordered = zip(batch, holds).compactMap { $1 == nil ? $0 : nil }
        let context = PassContext(layout: layout, drivers: drivers, now: clock(), dryRun: options.dryRun)
        let realms = RealmReconciler(context: context)
        let spaces = SpaceReconciler(context: context, regenerateConflist: options.regenerateConflists, managedBy: options.managedBy)
        var outcomes: [ResourceOutcome] = []
        // Spaces of the batch that deny egress get their rules before any part is made: `iifname`
        // matches by name, so a rule for a bridge about to be created is harmless, and a new
        // space's cells never see open egress. The end of the pass brings the table to what the
        // pass left (resolved hosts, deleted and failed spaces).
        let preinstalled = preinstallFirewall(ordered, inventory: inventory, context: context)
        var staged: [(slot: Int, manifest: SpaceManifest)] = []
        for (index, resource) in batch.enumerated() {
            if case .realm = resource { progress?(index, batch.count, "\(resource.kind) \(resource.displayName)") }
            if let hold = holds[index] {
                outcomes.append(hold)
                continue
            }
            if options.createOnly, Self.exists(resource, in: inventory) {
                let realm: String? = if case .space(let space) = resource { space.id.realm } else { nil }
                let name = if case .space(let space) = resource { space.id.name } else { resource.displayName }
                outcomes.append(
                    ResourceOutcome(
                        kind: resource.kind, realm: realm, name: name, outcome: .failed,
                        failure: Failure(
                            .alreadyExists, "\(resource.kind) \"\(resource.displayName)\" already exists; use `kuke apply` to change it")))
                continue
            }
            switch resource {
            case .realm(let realm): outcomes.append(realms.reconcile(realm, inventory: &inventory))
            case .space(let space):
                // Spaces come after realms and go through their phases together, below.
                staged.append((outcomes.count, space))
                outcomes.append(ResourceOutcome(kind: "Space", realm: space.id.realm, name: space.id.name, outcome: .unchanged))
            }
        }
        let realmCount = batch.count - staged.count
        let spaceOutcomes = spaces.reconcileAll(staged.map(\.manifest), inventory: &inventory) { index, name in
            progress?(realmCount + index, batch.count, "Space \(name)")
        }
        for (entry, outcome) in zip(staged, spaceOutcomes) { outcomes[entry.slot] = outcome }
        finishFirewall(preinstalled: preinstalled, inventory: &inventory, outcomes: &outcomes, context: context)
        progress?(batch.count, batch.count, "")
        return (outcomes, inventory)
    }

    /// The table with the batch's `default: deny` spaces as their manifests say, before the pass
    /// makes anything, and the spaces it was planned for; nil when that is what the recorded
    /// spaces already give (nothing to do).
    func preinstallFirewall(_ batch: [Resource], inventory: Inventory, context: PassContext) -> Preinstalled? {
        guard drivers.firewall != nil else { return nil }
        var spaces = Dictionary(uniqueKeysWithValues: firewallSpaces(inventory).spaces.map { ($0.id, $0) })
        var bridges = Dictionary(spaces.values.map { ($0.bridge, $0.id) }, uniquingKeysWith: { first, _ in first })
        var changed = false
        for case .space(let manifest) in batch {
            guard let policy = EgressPolicy(network: manifest.spec.network) else { continue }
            let stored = inventory.spaces[manifest.id]
            let bridge = stored?.status.network?.bridge ?? BridgeName.make(for: manifest.id)
            // A conflict or a name the table cannot hold: the pass reports it.
            guard bridges[bridge].map({ $0 == manifest.id }) ?? true, FirewallPlanner.violation(ofBridge: bridge) == nil else { continue }
            let space = FirewallSpace(id: manifest.id, bridge: bridge, egress: FirewallSpace.allows(policy, resolved: stored?.status.egress))
            if spaces[manifest.id] != space {
                spaces[manifest.id] = space
                bridges[bridge] = manifest.id
                changed = true
            }
        }
        guard changed, let outcome = convergeFirewall(Array(spaces.values), inventory: inventory, context: context) else { return nil }
        return Preinstalled(outcome: outcome, spaces: Array(spaces.values))
    }

    /// The outcome of `preinstallFirewall` and the spaces it wrote the table for.
    struct Preinstalled {
        var outcome: ResourceOutcome
        var spaces: [FirewallSpace]
    }

    /// One outcome for the table from the change made before the spaces and the one after.
    static func merged(_ before: ResourceOutcome?, _ after: ResourceOutcome?) -> ResourceOutcome? {
        guard var first = before else { return after }
        guard let after else { return first }
        if after.failure != nil || first.failure != nil {
            var failed = after.failure != nil ? after : first
            failed.changes = first.changes + after.changes
            return failed
        }
        first.changes += after.changes
        if first.outcome == .created && after.outcome == .deleted {
            first.outcome = .unchanged
        } else if first.outcome != .created {
            first.outcome = after.outcome
        }
        return first
    }

    /// The isolation table brought to `spaces` (a fifth driver shared by all spaces): an outcome
    /// only when it changed or failed.
    /// - Parameter assumed: the table as an earlier step of this dry run would have left it, in
    ///   place of the kernel's, so the dry run predicts the real run's changes.
    func convergeFirewall(_ spaces: [FirewallSpace], inventory: Inventory, context: PassContext, assumed: ObservedFirewall? = nil)
        -> ResourceOutcome?
    {
        guard let firewall = drivers.firewall else { return nil }
        var outcome = ResourceOutcome(kind: "Firewall", realm: nil, name: FirewallPlanner.table, outcome: .unchanged)
        // A space whose record cannot be read still has its bridge: rebuilding the table without
        // it would drop its isolation and egress rules, so the table is left as it is.
        let unreadable = inventory.unreadable.keys.filter { $0.hasSuffix("/space.yaml") }.sorted()
        if let first = unreadable.first {
            outcome.outcome = .failed
            outcome.failure = Failure(
                .firewallFailed,
                "table \(FirewallPlanner.table) left as it is while \(first)\(unreadable.count > 1 ? " and \(unreadable.count - 1) more" : "") cannot be read (its rules would be dropped); fix or remove it"
            )
            return outcome
        }
        do {
            // The summary (no listing) decides; the listing is read only for a rewrite's diff.
            let observed = if let assumed { assumed.summary } else { try firewall.summary() }
            let owner = FirewallPlanner.owner(runPath: layout.runPath)
            // One table per network namespace: a kuke with another run path (a test, a second
            // install) neither rewrites nor deletes the spaces of the one that wrote it.
            if let observed, let holder = observed.owner, holder != owner {
                guard !spaces.isEmpty else { return nil }  // nothing of this run path's to hold
                outcome.outcome = .failed
                outcome.failure = Failure(
                    .firewallOwnedElsewhere,
                    "table \(FirewallPlanner.table) holds the spaces of the kuke whose run path is \(holder.dropFirst(4)), not this one (\(layout.runPath)); it is one table per network namespace, so kuke leaves it as it is: run with that --run-path, or delete that run path's spaces first (the table was not changed)"
                )
                return outcome
            }
            let listed = { () throws(HostError) -> [String] in
                if let assumed { return assumed.lines }
                return try firewall.observe()?.lines ?? []
            }
            guard let change = try FirewallPlanner.plan(spaces, summary: observed, owner: owner, observedLines: listed) else { return nil }
            outcome.changes = [change]
            outcome.outcome = change.action == .create ? .created : change.action == .delete ? .deleted : .updated
            if !context.dryRun { try context.perform(change) }
        } catch {
            outcome.outcome = .failed
            outcome.failure = Failure.host(.firewallFailed, error)
        }
        return outcome
    }

    static func exists(_ resource: Resource, in inventory: Inventory) -> Bool {
        switch resource {
        case .realm(let realm): inventory.realms[realm.metadata.name] != nil
        case .space(let space): inventory.spaces[space.id] != nil
        }
    }

    /// Deletes spaces first, then realms, in the order given within each kind.
    public func delete(_ targets: [DeleteTarget], cascade: Bool, dryRun: Bool = false, lockTimeout: Double? = nil, progress: Progress? = nil)
        throws(HostError) -> [ResourceOutcome]
    {
        let held = dryRun ? nil : try drivers.lock.acquire(timeout: lockTimeout)
        defer { held?.release() }
        var inventory = try Inventory.load(layout: layout, drivers: drivers, cache: recordCache)
        var deleter = Deleter(context: PassContext(layout: layout, drivers: drivers, now: clock(), dryRun: dryRun))
        let ordered = targets.filter { if case .space = $0 { true } else { false } } + targets.filter { if case .realm = $0 { true } else { false } }
        if !dryRun {
            (deleter.markedDeleting, deleter.deletedTogether) = deleteBridgesTogether(
                ordered, cascade: cascade, inventory: &inventory, deleter: deleter)
        }
        var outcomes: [ResourceOutcome] = []
        for (index, target) in ordered.enumerated() {
            switch target {
            case .space(let id):
                progress?(index, ordered.count, "Space \(id)")
                outcomes.append(deleter.deleteSpace(id, cascade: cascade, inventory: &inventory))
            case .realm(let name):
                progress?(index, ordered.count, "Realm \(name)")
                outcomes += deleter.deleteRealm(name, cascade: cascade, inventory: &inventory)
            }
        }
        finishFirewall(preinstalled: nil, inventory: &inventory, outcomes: &outcomes, context: deleter.context)
        progress?(ordered.count, ordered.count, "")
        return outcomes
    }

    /// The bridges of the spaces a delete names, deleted together before the spaces are taken
    /// apart one by one (the kernel's teardown of a bridge costs tens of milliseconds, about half
    /// of it when bridges go together). Only spaces whose delete would start with their bridge
    /// (nothing attached, nothing refusing it) are taken, each marked `Deleting` in its record
    /// first, as its own delete would. Their deletes then report the bridge deleted and skip
    /// the step; a failure here leaves the bridges to those deletes, by name. The bridges deleted.
    func deleteBridgesTogether(_ targets: [DeleteTarget], cascade: Bool, inventory: inout Inventory, deleter: Deleter) -> (
        marked: Set<SpaceID>, deleted: Set<String>
    ) {
        var candidates: [(SpaceID, String)] = []
        for case .space(let id) in targets where !candidates.contains(where: { $0.0 == id }) {
            guard let changes = try? deleter.plan(id, cascade: cascade, inventory: inventory),
                case .deleteLink(let name)? = changes.first?.operation
            else { continue }
            candidates.append((id, name))
        }
        guard candidates.count > 1 else { return ([], []) }
        var marked: Set<SpaceID> = []
        var bridges: [String] = []
        // Every record marked Deleting, made durable together (one sync for the group), before
        // any bridge goes: a crash after the group delete finds each of them still recorded.
        var deleting: [(id: SpaceID, bridge: String, record: SpaceRecord)] = []
        for (id, name) in candidates {
            guard var record = inventory.spaces[id] else { continue }
            record.status.state = .deleting
            record.status.updatedAt = deleter.context.now
            deleting.append((id, name, record))
        }
        let written = drivers.files.writeAll(deleting.map { deleter.context.recordWrite($0.record) })
        for (entry, error) in zip(deleting, written) where error == nil {
            inventory.set(entry.id, entry.record)
            marked.insert(entry.id)
            bridges.append(entry.bridge)
        }
        guard (try? drivers.links.deleteAll(bridges)) != nil else { return (marked, []) }
        return (marked, Set(bridges))
    }

    /// A conflist no space records whose bridge is a `kuke-` name Linux cannot create (an old
    /// tool's): `init --force-regenerate-cni` could not place it, since only the space's manifest
    /// says which realm and space it belongs to.
    public struct UnplacedConflist: Sendable, Equatable {
        public var path: String
        public var bridge: String
    }

    /// The conflists in the CNI directories kuke writes to that hold a `kuke-` bridge name over
    /// 15 bytes and that no space records.
    public func unplacedConflists() throws(HostError) -> [UnplacedConflist] {
        let inventory = try inventory()
        let directories = inventory.conflistDirectories.union([layout.cniConfigDirectory])
        var found: [UnplacedConflist] = []
        for directory in directories.sorted() {
            for name in drivers.files.entries(directory) where name.hasSuffix(".conflist") && !name.hasPrefix(".") {
                let path = "\(directory)/\(name)"
                guard inventory.conflistOwner(path) == nil, let text = try? drivers.files.read(path), let value = try? JSONParser.parse(text),
                    let values = Conflist.recordedValues(in: value), values.bridge.hasPrefix(BridgeName.prefix),
                    BridgeName.violation(of: values.bridge) != nil
                else { continue }
                found.append(UnplacedConflist(path: path, bridge: values.bridge))
            }
        }
        return found
    }

    /// `kuke init`: realm `default` and space `default/default` when missing; with
    /// `regenerate`, every space's conflist is rewritten too.
    public func initialize(regenerate: Bool, lockTimeout: Double? = nil, progress: Progress? = nil) throws(HostError) -> [ResourceOutcome] {
        try pass(options: ApplyOptions(regenerateConflists: regenerate, lockTimeout: lockTimeout), progress: progress) { current in
            let origin = ManifestOrigin.command("kuke init")
            var resources: [Resource] = []
            let defaultRealm =
                current.realms["default"].map { RealmManifest(metadata: $0.metadata, spec: $0.spec, origin: origin) }
                ?? RealmManifest(metadata: ObjectMeta(name: "default"), origin: origin)
            resources.append(.realm(defaultRealm))
            let defaultID = SpaceID(realm: "default", name: "default")
            var spaceIDs = [defaultID]
            if regenerate { spaceIDs += current.spaces.keys.sorted().filter { $0 != defaultID } }
            for id in spaceIDs {
                if let record = current.spaces[id] {
                    resources.append(.space(SpaceManifest(metadata: record.metadata, spec: record.spec, origin: origin)))
                } else {
                    resources.append(.space(SpaceManifest(metadata: ObjectMeta(name: id.name), spec: SpaceSpec(realmId: id.realm), origin: origin)))
                }
            }
            return resources
        }
    }

    /// `kuke suspend` (a reason) and `kuke resume` (nil): records the suspension in the space's
    /// record, under the host lock. Nothing else of the space is touched. Outcome `updated`,
    /// `unchanged` when it already was so, or `failed` (`NotFound`, `RecordUnreadable`).
    public func suspend(_ id: SpaceID, reason: String?, lockTimeout: Double? = nil) throws(HostError) -> ResourceOutcome {
        let held = try drivers.lock.acquire(timeout: lockTimeout)
        defer { held.release() }
        let inventory = try Inventory.load(layout: layout, drivers: drivers, cache: recordCache)
        var outcome = ResourceOutcome(kind: "Space", realm: id.realm, name: id.name, outcome: .unchanged)
        let path = layout.spaceRecordPath(id)
        guard var record = inventory.spaces[id] else {
            outcome.outcome = .failed
            outcome.failure =
                inventory.unreadable[path].map { Failure(.recordUnreadable, "\($0)") } ?? Failure(.notFound, "space \(id) not found")
            return outcome
        }
        if record.status.suspended?.reason == reason { return outcome }
        record.status.suspended = reason.map { Suspension(reason: $0, since: clock()) }
        do {
            try drivers.files.write(path, RecordCodec.recordText(RecordCodec.value(of: record)), mode: MetadataPlanner.spaceMode)
        } catch {
            outcome.outcome = .failed
            outcome.failure = Failure(.metadataWriteFailed, error.message)
            return outcome
        }
        outcome.outcome = .updated
        outcome.note = reason.map { "suspended: \($0)" } ?? "resumed"
        return outcome
    }
}
