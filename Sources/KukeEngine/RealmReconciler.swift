import Foundation
import KukeModel

/// Converges one realm: its cgroup `<root>/kukeon/<realm>` and its `realm.yaml`.
public struct RealmReconciler: Sendable {
    public var layout: HostLayout
    public var drivers: HostDrivers
    public var now: Date
    public var dryRun: Bool

    public init(layout: HostLayout, drivers: HostDrivers, now: Date, dryRun: Bool) {
        self.layout = layout
        self.drivers = drivers
        self.now = now
        self.dryRun = dryRun
    }

    public func reconcile(_ manifest: RealmManifest, inventory: inout Inventory) -> ResourceOutcome {
        let name = manifest.metadata.name
        var outcome = ResourceOutcome(kind: "Realm", realm: nil, name: name, outcome: .unchanged)
        let recordPath = layout.realmRecordPath(name)
        let stored = inventory.realms[name]
        do throws(Failure) {
            if let problem = inventory.cgroupRootProblem { throw Failure("CgroupRootInvalid", problem) }
            if let error = inventory.unreadable[recordPath] { throw Failure("RecordUnreadable", "\(error); fix or remove the file") }
            let cgroupPath = layout.realmCgroup(name)
            let levels = [layout.kukeonCgroup, cgroupPath]
            var observed: [String: ObservedCgroup] = [:]
            for path in [layout.cgroupRoot] + levels {
                do {
                    if let state = try drivers.cgroups.observe(path) { observed[path] = state }
                } catch { throw Failure.host("CgroupFailed", error) }
            }
            let cgroupChanges = CgroupPlanner.plan(root: layout.cgroupRoot, levels: levels, offered: inventory.offeredControllers, observed: observed)
            let specChanged = stored.map { $0.spec != manifest.spec } ?? true
            var metadata = manifest.metadata
            metadata.generation = stored.map { specChanged ? ($0.metadata.generation ?? 0) + 1 : ($0.metadata.generation ?? 1) } ?? 1
            let record = RealmRecord(
                metadata: metadata, spec: manifest.spec,
                status: RealmStatus(state: .ready, cgroupPath: cgroupPath, createdAt: stored?.status.createdAt ?? now, updatedAt: now))
            let metadataChange = MetadataPlanner.plan(
                path: recordPath, desired: RecordCodec.value(of: record), stored: stored.map(RecordCodec.value(of:)),
                storedText: inventory.recordTexts[recordPath], mode: MetadataPlanner.realmMode)
            outcome.changes = cgroupChanges + (metadataChange.map { [$0] } ?? [])
            if outcome.changes.isEmpty { return outcome }
            outcome.outcome = stored == nil ? .created : .updated
            inventory.realms[name] = record
            if dryRun { return outcome }
            let executor = ChangeExecutor(drivers: drivers)
            for change in outcome.changes {
                do { try executor.perform(change) } catch { throw Failure.host(ChangeExecutor.reason(for: change.part), error) }
            }
        } catch {
            outcome.outcome = .failed
            outcome.failure = error
        }
        return outcome
    }
}
