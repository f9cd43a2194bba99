import Foundation
import KukeModel

/// Converges one space: observe its four parts, plan per driver, and apply in the
/// order metadata (Pending) → cgroup → conflist → bridge → metadata (Ready).
public struct SpaceReconciler: Sendable {
    public var layout: HostLayout
    public var drivers: HostDrivers
    public var now: Date
    public var dryRun: Bool
    public var regenerateConflist: Bool

    public init(layout: HostLayout, drivers: HostDrivers, now: Date, dryRun: Bool, regenerateConflist: Bool = false) {
        self.layout = layout
        self.drivers = drivers
        self.now = now
        self.dryRun = dryRun
        self.regenerateConflist = regenerateConflist
    }

    /// What one space needs, worked out before anything changes.
    struct Plan {
        var record: SpaceRecord
        var cgroup: [Change]
        var conflist: [Change]
        var bridge: [Change]
        var metadata: Change?
        var pendingFirst: Bool

        var parts: [Change] { cgroup + conflist + bridge }
        var all: [Change] { parts + (metadata.map { [$0] } ?? []) }
    }

    public func reconcile(_ manifest: SpaceManifest, inventory: inout Inventory) -> ResourceOutcome {
        let id = manifest.id
        var outcome = ResourceOutcome(kind: "Space", realm: id.realm, name: id.name, outcome: .unchanged)
        let stored = inventory.spaces[id]
        let plan: Plan
        do {
            plan = try makePlan(manifest, stored: stored, inventory: inventory)
        } catch {
            outcome.outcome = .failed
            outcome.failure = error
            if !dryRun, let stored { recordFailure(error, on: stored, inventory: &inventory) }
            return outcome
        }
        outcome.changes = plan.all
        if plan.all.isEmpty { return outcome }
        outcome.outcome = stored == nil ? .created : .updated
        if dryRun {
            inventory.spaces[id] = plan.record
            return outcome
        }
        let executor = ChangeExecutor(drivers: drivers)
        var onDisk = stored
        do throws(Failure) {
            if plan.pendingFirst {
                var pending = plan.record
                pending.status.state = .pending
                pending.status.readyAt = stored?.status.readyAt
                pending.status.cgroupReady = stored?.status.cgroupReady ?? false
                try writeRecord(pending)
                onDisk = pending
                inventory.spaces[id] = pending
            }
            for change in plan.parts {
                do {
                    try executor.perform(change)
                } catch {
                    throw Failure.host(ChangeExecutor.reason(for: change.part), error)
                }
            }
            var final = plan.record
            final.status.subtreeControllers = try readBackControllers(id)
            if let onDisk,
                MetadataPlanner.withoutUpdatedAt(RecordCodec.value(of: onDisk)) == MetadataPlanner.withoutUpdatedAt(RecordCodec.value(of: final))
            {
                inventory.spaces[id] = onDisk
            } else {
                try writeRecord(final)
                inventory.spaces[id] = final
            }
        } catch {
            outcome.outcome = .failed
            outcome.failure = error
            if let onDisk { recordFailure(error, on: onDisk, inventory: &inventory) }
        }
        return outcome
    }

    func makePlan(_ manifest: SpaceManifest, stored: SpaceRecord?, inventory: Inventory) throws(Failure) -> Plan {
        let id = manifest.id
        if let problem = inventory.cgroupRootProblem { throw Failure("CgroupRootInvalid", problem) }
        guard inventory.realms[id.realm] != nil else {
            throw Failure("RealmNotFound", "realm \"\(id.realm)\" not found; declare it in the batch or run `kuke create realm \(id.realm)`")
        }
        if let error = inventory.unreadable[layout.spaceRecordPath(id)] {
            throw Failure("RecordUnreadable", "\(error); fix or remove the file")
        }
        let desiredPath = layout.conflistPath(id, cniConfigPath: manifest.spec.cniConfigPath)
        let primaryText = try read(desiredPath)
        let network = try NetworkResolver(layout: layout, regenerate: regenerateConflist)
            .resolve(id, spec: manifest.spec, stored: stored, conflistOnDisk: primaryText, inventory: inventory)

        // cgroup
        let cgroupPath = layout.spaceCgroup(id)
        let levels = [layout.kukeonCgroup, layout.realmCgroup(id.realm), cgroupPath]
        let observedCgroups = try observeCgroups([layout.cgroupRoot] + levels)
        let cgroupChanges = CgroupPlanner.plan(
            root: layout.cgroupRoot, levels: levels, offered: inventory.offeredControllers, observed: observedCgroups)

        // conflist
        var previousPath: String?
        if let recordedPath = stored?.status.network?.conflistPath, recordedPath != network.conflistPath, try read(recordedPath) != nil {
            previousPath = recordedPath
        }
        let conflist = Conflist(networkName: network.name, bridge: network.bridge, subnet: network.subnet)
        let observedConflist = ConflistPlanner.Observed(primary: primaryText, copy: try read(layout.conflistCopyPath(id)), previousPath: previousPath)
        let conflistChanges = ConflistPlanner.plan(
            desired: conflist, path: network.conflistPath, copyPath: layout.conflistCopyPath(id), observed: observedConflist,
            rewrite: regenerateConflist)

        // bridge
        var bridgeChanges = try BridgePlanner.plan(name: network.bridge, observed: inventory.network.links[network.bridge])
        if let oldBridge = stored?.status.network?.bridge, oldBridge != network.bridge, inventory.network.links[oldBridge]?.kind == "bridge" {
            bridgeChanges.append(
                Change(
                    part: .bridge, action: .delete, subject: oldBridge, summary: "delete bridge \(oldBridge) (renamed to \(network.bridge))",
                    operation: .deleteLink(name: oldBridge)))
        }

        // metadata
        let specChanged = stored.map { $0.spec != manifest.spec } ?? true
        let generation: Int64 = stored.map { specChanged ? ($0.metadata.generation ?? 0) + 1 : ($0.metadata.generation ?? 1) } ?? 1
        var metadata = manifest.metadata
        metadata.generation = generation
        let status = SpaceStatus(
            state: .ready, reason: nil, message: nil, cgroupPath: cgroupPath, cgroupReady: true,
            subtreeControllers: CgroupPlanner.predictedSubtree(of: cgroupPath, offered: inventory.offeredControllers, observed: observedCgroups),
            network: network, createdAt: stored?.status.createdAt ?? now, updatedAt: now,
            readyAt: stored?.status.readyAt ?? now, observedGeneration: generation)
        let record = SpaceRecord(metadata: metadata, spec: manifest.spec, status: status)
        let recordPath = layout.spaceRecordPath(id)
        let metadataChange = MetadataPlanner.plan(
            path: recordPath, desired: RecordCodec.value(of: record), stored: stored.map(RecordCodec.value(of:)),
            storedText: inventory.recordTexts[recordPath], mode: MetadataPlanner.spaceMode)
        let partsChange = !(cgroupChanges.isEmpty && conflistChanges.isEmpty && bridgeChanges.isEmpty)
        let pendingFirst = stored == nil || specChanged || stored?.status.network != network || (partsChange && stored?.status.state != .ready)
        return Plan(
            record: record, cgroup: cgroupChanges, conflist: conflistChanges, bridge: bridgeChanges,
            metadata: metadataChange, pendingFirst: pendingFirst)
    }

    func read(_ path: String) throws(Failure) -> String? {
        do { return try drivers.files.read(path) } catch { throw Failure.host("ConflistReadFailed", error) }
    }

    func observeCgroups(_ paths: [String]) throws(Failure) -> [String: ObservedCgroup] {
        var observed: [String: ObservedCgroup] = [:]
        for path in paths {
            do {
                if let state = try drivers.cgroups.observe(path) { observed[path] = state }
            } catch {
                throw Failure.host("CgroupFailed", error)
            }
        }
        return observed
    }

    func readBackControllers(_ id: SpaceID) throws(Failure) -> [String] {
        do {
            return (try drivers.cgroups.observe(layout.spaceCgroup(id))?.subtreeControl ?? []).sorted()
        } catch {
            throw Failure.host("CgroupFailed", error)
        }
    }

    func writeRecord(_ record: SpaceRecord) throws(Failure) {
        do {
            try drivers.files.write(
                layout.spaceRecordPath(record.id), RecordCodec.yaml(RecordCodec.value(of: record)), mode: MetadataPlanner.spaceMode)
        } catch {
            throw Failure.host("MetadataWriteFailed", error)
        }
    }

    /// Marks a stored space `Failed` with the reason; best effort, the outcome already carries the failure.
    func recordFailure(_ failure: Failure, on record: SpaceRecord, inventory: inout Inventory) {
        var failed = record
        failed.status.state = .failed
        failed.status.reason = failure.reason
        failed.status.message = failure.message
        failed.status.updatedAt = now
        if failed.status == record.status.with(updatedAt: now) && record.status.state == .failed { return }
        if (try? writeRecord(failed)) != nil { inventory.spaces[record.id] = failed }
    }
}

extension SpaceStatus {
    func with(updatedAt date: Date?) -> SpaceStatus {
        var copy = self
        copy.updatedAt = date
        return copy
    }
}
