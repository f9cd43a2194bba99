import KukeModel

/// Converges the spaces of one pass in phases rather than one space after another: every plan,
/// then every `Pending` record, each part's phase in turn (cgroups, conflists, bridges: see
/// `SpacePart.phase`) and every `Ready` record. Records, and the files a phase's changes begin
/// with (conflists), are written with grouped durability (`FileStore.writeAll`: one sync for
/// the group, not one per file), which is most of what a new space costs. Each space still goes
/// through metadata (Pending) → its parts in phase order → metadata (Ready), so a crash anywhere
/// leaves what a crash of the one-by-one pass could, and the next pass converges it. A space
/// that fails leaves the later phases; the others go on. Between the last phase and the Ready
/// records, the isolation table is brought to the pass's spaces and read back (`beforeReady`):
/// a space whose rules the kernel does not hold is never recorded `Ready`.
extension SpaceReconciler {
    /// One space on its way through the phases.
    struct Staged {
        var manifest: SpaceManifest
        var outcome: ResourceOutcome
        var plan: Plan?
        var stored: SpaceRecord?
        /// The record as the host holds it now (the Pending one once written).
        var onDisk: SpaceRecord?
        var pending: SpaceRecord?
        /// What the space converges without (see `Plan.softFailure`).
        var softFailure: Failure?
        /// Still going through the phases.
        var live: Bool { plan != nil && outcome.failure == nil }
    }

    /// The outcomes of `manifests`, in their order. A dry run goes one space after another.
    /// `beforeReady` runs once in a real run (also with no manifests), after the bridges: it
    /// settles the isolation table and says which spaces' rules the kernel holds.
    func reconcileAll(
        _ manifests: [SpaceManifest], inventory: inout Inventory, progress: ((Int, String) -> Void)? = nil,
        beforeReady: ((Inventory) -> Engine.SettledFirewall?)? = nil
    ) -> [ResourceOutcome] {
        if context.dryRun {
            return manifests.enumerated().map { index, manifest in
                progress?(index, manifest.id.description)
                return dryRun(manifest, inventory: &inventory)
            }
        }
        var staged = manifests.map { stage($0, inventory: &inventory) }
        writePending(&staged, inventory: &inventory)
        performEach(&staged, inventory: &inventory) { $0.leftovers }
        let phases = Set(context.parts.map(\.phase)).sorted()
        for phase in phases {
            // Progress follows the last phase, the one a space is done after.
            performPhase(phase, &staged, inventory: &inventory, progress: phase == phases.last ? progress : nil)
        }
        // The table is settled for the records the pass is about to write (a re-resolved host
        // changes the record without a Pending step), so Ready never precedes its rules.
        for entry in staged where entry.live { inventory.forgetDeletedLinks(entry.plan?.parts.flatMap(\.changes) ?? []) }
        var planned = inventory
        for entry in staged where entry.live {
            if let record = entry.plan?.record { planned.set(entry.manifest.id, record) }
        }
        let firewall = beforeReady?(planned)
        writeReady(&staged, inventory: &inventory, firewall: firewall)
        return staged.map { entry in
            var outcome = entry.outcome
            if let soft = entry.softFailure, outcome.failure == nil {
                outcome.outcome = .failed
                outcome.failure = soft
            }
            return outcome
        }
    }

    /// Plans one space against the inventory as the spaces staged before it will leave it (their
    /// Pending records, which hold their networks), so ranges and bridge names are not given twice.
    func stage(_ manifest: SpaceManifest, inventory: inout Inventory) -> Staged {
        let id = manifest.id
        let stored = inventory.spaces[id]
        var entry = Staged(
            manifest: manifest, outcome: ResourceOutcome(kind: .space, realm: id.realm, name: id.name, outcome: .unchanged), stored: stored,
            onDisk: stored)
        let plan: Plan
        do {
            plan = try makePlan(manifest, stored: stored, inventory: inventory)
            entry.outcome.warnings = context.foreignClaims.takeUnreadable() + plan.warnings
        } catch {
            entry.outcome.warnings = context.foreignClaims.takeUnreadable()
            entry.outcome.outcome = .failed
            entry.outcome.failure = error
            let hostWide = [FailureReason.cgroupRootInvalid, .recordUnreadable].contains(error.reason)
            if !hostWide, let stored { recordFailure(error, on: stored, inventory: &inventory) }
            return entry
        }
        entry.outcome.changes = plan.all
        entry.softFailure = plan.softFailure
        if plan.all.isEmpty { return entry }
        entry.outcome.outcome = stored == nil ? .created : .updated
        entry.plan = plan
        if plan.pendingFirst {
            var pending = plan.record
            pending.status.state = .pending
            pending.status.readyAt = stored?.status.readyAt
            pending.status.cgroupReady = stored?.status.cgroupReady ?? false
            pending.status.observedGeneration = stored?.status.observedGeneration
            if let old = stored?.status.network?.conflistPath, old != plan.record.status.network?.conflistPath {
                pending.status.network?.conflistPath = old  // still the file this space owns until the new one is written
            }
            entry.pending = pending
            inventory.set(id, pending)
        }
        return entry
    }

    /// Phase 1: the Pending records, durable together. A space whose record could not be
    /// written goes back to what it was and stops here.
    func writePending(_ staged: inout [Staged], inventory: inout Inventory) {
        let writing = staged.indices.filter { staged[$0].live && staged[$0].pending != nil }
        let results = context.drivers.files.writeAll(writing.map { context.recordWrite(staged[$0].pending!) })
        for (index, error) in zip(writing, results) {
            if let error {
                inventory.set(staged[index].manifest.id, staged[index].stored)
                fail(&staged[index], Failure.host(.metadataWriteFailed, error), inventory: &inventory)
            } else {
                staged[index].onDisk = staged[index].pending
            }
        }
    }

    /// Carries out `changes(plan)` of each live space in turn.
    func performEach(_ staged: inout [Staged], inventory: inout Inventory, _ changes: (Plan) -> [Change]) {
        for index in staged.indices where staged[index].live {
            guard let plan = staged[index].plan else { continue }
            do throws(Failure) {
                try context.performAll(changes(plan))
            } catch {
                fail(&staged[index], error, inventory: &inventory)
            }
        }
    }

    /// One phase of the parts: the files each live space's changes of this phase begin with
    /// (a conflist and its copy) written together; then, per space, the rest of them in order.
    func performPhase(_ phase: Int, _ staged: inout [Staged], inventory: inout Inventory, progress: ((Int, String) -> Void)?) {
        var writes: [FileWrite] = []
        var owners: [(index: Int, part: Part)] = []
        var rest: [Int: [Change]] = [:]
        for index in staged.indices where staged[index].live {
            guard let plan = staged[index].plan else { continue }
            let changes = plan.parts.filter { $0.phase == phase }.flatMap(\.changes)
            let leading = changes.prefix { if case .writeFile = $0.operation { true } else { false } }
            for change in leading {
                if case .writeFile(let path, let text, let mode) = change.operation {
                    writes.append(FileWrite(path: path, text: text, mode: mode))
                    owners.append((index, change.part))
                }
            }
            rest[index] = Array(changes.dropFirst(leading.count))
        }
        let results = writes.isEmpty ? [] : context.drivers.files.writeAll(writes)
        for (owner, error) in zip(owners, results) {
            if let error, staged[owner.index].live {
                fail(&staged[owner.index], Failure.host(owner.part.failureReason, error), inventory: &inventory)
            }
        }
        for index in rest.keys.sorted() {
            progress?(index, staged[index].manifest.id.description)
            guard staged[index].live else { continue }
            do throws(Failure) {
                try context.performAll(rest[index] ?? [])
            } catch {
                fail(&staged[index], error, inventory: &inventory)
            }
        }
    }

    /// The last phase: each space's Ready record, with what its parts read back (the controllers
    /// its cgroup really delegates), written together; a record the host already holds (but for its time stamp) is kept. A
    /// space whose rules `firewall` says the kernel does not hold fails instead.
    func writeReady(_ staged: inout [Staged], inventory: inout Inventory, firewall: Engine.SettledFirewall?) {
        var writing: [(index: Int, record: SpaceRecord)] = []
        for index in staged.indices where staged[index].live {
            guard let plan = staged[index].plan else { continue }
            let id = staged[index].manifest.id
            if let failure = firewall?.failure(of: id) {
                fail(&staged[index], failure, inventory: &inventory)
                continue
            }
            var final = plan.record
            do throws(Failure) {
                for part in context.parts { try part.confirm(id, status: &final.status, context: context) }
            } catch {
                fail(&staged[index], error, inventory: &inventory)
                continue
            }
            let legacyText = !plan.pendingFirst && inventory.recordTexts[context.layout.spaceRecordPath(id)].map(RecordCodec.isCurrentFormat) == false
            if let onDisk = staged[index].onDisk, !legacyText,
                MetadataPlanner.withoutUpdatedAt(RecordCodec.value(of: onDisk)) == MetadataPlanner.withoutUpdatedAt(RecordCodec.value(of: final))
            {
                inventory.set(id, onDisk)
            } else {
                writing.append((index, final))
            }
        }
        let results = context.drivers.files.writeAll(writing.map { context.recordWrite($0.record) })
        for (entry, error) in zip(writing, results) {
            if let error {
                fail(&staged[entry.index], Failure.host(.metadataWriteFailed, error), inventory: &inventory)
            } else {
                inventory.set(entry.record.id, entry.record)
            }
        }
    }

    /// A space stops: its outcome fails and its record (when the host holds one) says why.
    func fail(_ entry: inout Staged, _ failure: Failure, inventory: inout Inventory) {
        entry.outcome.outcome = .failed
        entry.outcome.failure = failure
        if let onDisk = entry.onDisk { recordFailure(failure, on: onDisk, inventory: &inventory) }
    }
}
