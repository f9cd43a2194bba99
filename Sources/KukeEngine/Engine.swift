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
    /// The parts of every space (see `SpacePart`).
    public var parts: [any SpacePart] = SpaceParts.standard
    /// How failures' hints are worded in the records this engine writes (the caller's commands).
    public var hints: any HintWording

    /// Reports progress: resources done, total, and the resource at hand.
    public typealias Progress = @Sendable (_ done: Int, _ total: Int, _ current: String) -> Void

    public init(
        layout: HostLayout, drivers: HostDrivers, clock: @escaping @Sendable () -> Date = { Date() }, hints: any HintWording = NoHints()
    ) {
        self.hints = hints
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
        var inventory = try Inventory.load(layout: layout, drivers: drivers, cache: recordCache)
        inventory.bootID = PassContext.bootID(layout: layout, files: drivers.files)
        return inventory
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
        let realmSelector = HostSelection.realmSelectors(in: batch) { [inventory] in inventory.realms[$0]?.spec.selector }
        let holds = batch.map { HostSelection.hold($0, inventory: inventory, labels: options.hostLabels, realmSelector: realmSelector) }
        let ordered = zip(batch, holds).compactMap { $1 == nil ? $0 : nil }
        let context = PassContext(layout: layout, drivers: drivers, now: clock(), dryRun: options.dryRun, parts: parts, hints: hints)
        let realms = RealmReconciler(context: context)
        let spaces = SpaceReconciler(context: context, regenerateConflist: options.regenerateConflists, managedBy: options.managedBy)
        var outcomes: [ResourceOutcome] = []
        // The table before any part is made (see `preinstallFirewall`); after the bridges, it is
        // brought to what the pass left and read back before any record says `Ready`.
        let preinstalled = preinstallFirewall(ordered, inventory: inventory, context: context, regenerate: options.regenerateConflists)
        var settled: SettledFirewall?
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
                            .alreadyExists, "\(resource.kind) \"\(resource.displayName)\" already exists", hint: .applyInstead)))
                continue
            }
            switch resource {
            case .realm(let realm): outcomes.append(realms.reconcile(realm, inventory: &inventory))
            case .space(let space):
                // Spaces come after realms and go through their phases together, below.
                staged.append((outcomes.count, space))
                outcomes.append(ResourceOutcome(kind: .space, realm: space.id.realm, name: space.id.name, outcome: .unchanged))
            }
        }
        let realmCount = batch.count - staged.count
        let spaceOutcomes = spaces.reconcileAll(
            staged.map(\.manifest), inventory: &inventory,
            progress: { index, name in progress?(realmCount + index, batch.count, "Space \(name)") },
            beforeReady: { inventory in
                settled = settleFirewall(preinstalled: preinstalled, inventory: inventory, context: context)
                return settled
            })
        for (entry, outcome) in zip(staged, spaceOutcomes) { outcomes[entry.slot] = outcome }
        if settled == nil { settled = settleFirewall(preinstalled: preinstalled, inventory: inventory, context: context) }
        finishFirewall(settled, inventory: &inventory, outcomes: &outcomes, context: context)
        progress?(batch.count, batch.count, "")
        return (outcomes, inventory)
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
        var deleter = Deleter(context: PassContext(layout: layout, drivers: drivers, now: clock(), dryRun: dryRun, parts: parts, hints: hints))
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
        let settled = settleFirewall(preinstalled: nil, inventory: inventory, context: deleter.context)
        finishFirewall(settled, inventory: &inventory, outcomes: &outcomes, context: deleter.context)
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
        var outcome = ResourceOutcome(kind: .space, realm: id.realm, name: id.name, outcome: .unchanged)
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
            outcome.failure = Failure.host(.metadataWriteFailed, error)
            return outcome
        }
        outcome.outcome = .updated
        outcome.note = reason.map { "suspended: \($0)" } ?? "resumed"
        return outcome
    }
}
