import Foundation
import KukeModel

/// Converges one realm: its cgroup `<root>/kukeon/<realm>` and its `realm.yaml`.
public struct RealmReconciler: Sendable {
    public var context: PassContext

    public init(context: PassContext) {
        self.context = context
    }

    public func reconcile(_ manifest: RealmManifest, inventory: inout Inventory) -> ResourceOutcome {
        let name = manifest.metadata.name
        var outcome = ResourceOutcome(kind: .realm, realm: nil, name: name, outcome: .unchanged)
        let recordPath = context.layout.realmRecordPath(name)
        let stored = inventory.realms[name]
        do throws(Failure) {
            if let problem = inventory.cgroupRootProblem { throw Failure(.cgroupRootInvalid, problem) }
            if let error = inventory.unreadable[recordPath] { throw Failure(.recordUnreadable, "\(error); fix or remove the file") }
            if stored == nil, let twin = inventory.caseTwin(ofRealm: name) {
                throw Failure(
                    .nameConflict,
                    "realm \"\(name)\" differs only in case from realm \"\(twin)\", which exists; names that differ only in case are one name to whoever reads them: rename this one"
                )
            }
            let cgroupPath = context.layout.realmCgroup(name)
            try CgroupMove.check(recorded: stored?.status.cgroupPath, current: cgroupPath, of: "realm \(name)", context: context)
            let levels = [context.layout.kukeonCgroup, cgroupPath]
            let observed = try context.observeCgroups([context.layout.cgroupRoot] + levels)
            let resources = ResourcePlanner.plan(
                path: cgroupPath, root: context.layout.cgroupRoot, limits: manifest.spec.limits,
                stored: stored?.status.resources, offered: inventory.offeredControllers, available: inventory.availableControllers,
                pageSizes: { context.drivers.cgroups.hugePageSizes() },
                read: { file in try? context.drivers.cgroups.readFile(file, in: cgroupPath) })
            let cgroupChanges =
                CgroupPlanner.plan(
                    root: context.layout.cgroupRoot, levels: levels, offered: inventory.offeredControllers, observed: observed,
                    managed: context.layout.managedControllers) + resources.changes
            let specChanged = stored.map { $0.spec != manifest.spec } ?? true
            var metadata = manifest.metadata
            metadata.generation = Generation.next(stored?.metadata.generation, specChanged: specChanged)
            var status = RealmStatus(
                state: .ready, cgroupPath: cgroupPath, createdAt: stored?.status.createdAt ?? context.now, updatedAt: context.now)
            status.resources = resources.written
            status.slice = context.layout.realmSlice(name)
            status.bootId = context.bootID
            if let failure = resources.failure {
                status.state = .failed
                status.reason = failure.reason
                status.message = context.hints.text(failure)
            }
            let record = RealmRecord(metadata: metadata, spec: manifest.spec, status: status)
            let metadataChange = MetadataPlanner.plan(
                path: recordPath, desired: RecordCodec.value(of: record), stored: stored.map(RecordCodec.value(of:)),
                storedText: inventory.recordTexts[recordPath], mode: MetadataPlanner.realmMode)
            let leftovers = LeftoverPlanner.plan([recordPath], part: .metadata, files: context.drivers.files)
            outcome.changes = leftovers + cgroupChanges + (metadataChange.map { [$0] } ?? [])
            if !outcome.changes.isEmpty {
                outcome.outcome = stored == nil ? .created : .updated
                if context.dryRun { context.pretend(outcome.changes) } else { try context.performAll(outcome.changes) }
                inventory.realms[name] = record
            }
            // Limits a controller cannot hold fail the realm; everything else converged.
            if let failure = resources.failure {
                outcome.outcome = .failed
                outcome.failure = failure
            }
        } catch {
            outcome.outcome = .failed
            outcome.failure = error
        }
        return outcome
    }
}
