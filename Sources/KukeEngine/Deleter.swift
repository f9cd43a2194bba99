import Foundation
import KukeModel

/// Removes spaces and realms in the order bridge → conflist → cgroup → metadata, so a
/// crash always leaves a record to resume from. Only what the record names is removed.
public struct Deleter: Sendable {
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

    /// Children of a space: stack records beside `space.yaml` and child cgroups.
    func children(of id: SpaceID) throws(Failure) -> (records: [String], cgroups: [String]) {
        let records = drivers.files.subdirectories(layout.spaceDirectory(id)).sorted()
        do {
            let cgroups = try drivers.cgroups.children(layout.spaceCgroup(id)).sorted()
            return (records, cgroups)
        } catch {
            throw Failure.host("CgroupFailed", error)
        }
    }

    public func deleteSpace(_ id: SpaceID, cascade: Bool, inventory: inout Inventory) -> ResourceOutcome {
        var outcome = ResourceOutcome(kind: "Space", realm: id.realm, name: id.name, outcome: .deleted)
        do throws(Failure) {
            outcome.changes = try plan(id, cascade: cascade, inventory: inventory)
            if dryRun {
                inventory.spaces[id] = nil
                return outcome
            }
            if var record = inventory.spaces[id] {
                record.status.state = .deleting
                record.status.updatedAt = now
                do {
                    try drivers.files.write(
                        layout.spaceRecordPath(id), RecordCodec.yaml(RecordCodec.value(of: record)), mode: MetadataPlanner.spaceMode)
                } catch { throw Failure.host("MetadataWriteFailed", error) }
            }
            let executor = ChangeExecutor(drivers: drivers)
            for change in outcome.changes {
                do { try executor.perform(change) } catch { throw Failure.host(ChangeExecutor.reason(for: change.part), error) }
            }
            inventory.spaces[id] = nil
        } catch {
            outcome.outcome = .failed
            outcome.failure = error
            if !dryRun, var record = inventory.spaces[id], error.reason != "HasChildren" {
                record.status.state = .failed
                record.status.reason = error.reason
                record.status.message = "delete: \(error.message)"
                try? drivers.files.write(layout.spaceRecordPath(id), RecordCodec.yaml(RecordCodec.value(of: record)), mode: MetadataPlanner.spaceMode)
            }
        }
        return outcome
    }

    func plan(_ id: SpaceID, cascade: Bool, inventory: Inventory) throws(Failure) -> [Change] {
        guard let record = inventory.spaces[id] else {
            if let error = inventory.unreadable[layout.spaceRecordPath(id)] {
                throw Failure("RecordUnreadable", "\(error); kuke will not guess what to delete")
            }
            throw Failure("NotFound", "space \(id) not found")
        }
        let found = try children(of: id)
        var changes: [Change] = []
        if !found.records.isEmpty || !found.cgroups.isEmpty {
            guard cascade else {
                let names = Set(found.records + found.cgroups).sorted().joined(separator: ", ")
                throw Failure("HasChildren", "space \(id) has children (\(names)); delete them first or pass --cascade")
            }
            for path in try descendantCgroups(of: layout.spaceCgroup(id)) {
                changes.append(
                    Change(
                        part: .cgroup, action: .delete, subject: path, summary: "remove child cgroup \(path)", operation: .removeCgroup(path: path)))
            }
            for child in found.records {
                let path = "\(layout.spaceDirectory(id))/\(child)"
                changes.append(
                    Change(
                        part: .metadata, action: .delete, subject: path, summary: "remove child record \(path)", operation: .removeTree(path: path)))
            }
        }
        if let network = record.status.network {
            if inventory.network.links[network.bridge]?.kind == "bridge" {
                changes.append(
                    Change(
                        part: .bridge, action: .delete, subject: network.bridge, summary: "delete bridge \(network.bridge)",
                        operation: .deleteLink(name: network.bridge)))
            }
            changes.append(
                Change(
                    part: .conflist, action: .delete, subject: network.conflistPath, summary: "remove conflist \(network.conflistPath)",
                    operation: .removeFile(path: network.conflistPath)))
        }
        let cgroupPath = layout.spaceCgroup(id)
        do {
            if try drivers.cgroups.observe(cgroupPath) != nil {
                changes.append(
                    Change(
                        part: .cgroup, action: .delete, subject: cgroupPath, summary: "remove cgroup \(cgroupPath)",
                        operation: .removeCgroup(path: cgroupPath)))
            }
        } catch { throw Failure.host("CgroupFailed", error) }
        let directory = layout.spaceDirectory(id)
        changes.append(
            Change(
                part: .metadata, action: .delete, subject: directory, summary: "remove \(layout.spaceRecordPath(id))",
                operation: .removeTree(path: directory)))
        return changes
    }

    /// Every cgroup below `path`, deepest first, so each can be removed with rmdir.
    func descendantCgroups(of path: String) throws(Failure) -> [String] {
        let children: [String]
        do { children = try drivers.cgroups.children(path).sorted() } catch { throw Failure.host("CgroupFailed", error) }
        var result: [String] = []
        for child in children {
            let childPath = "\(path)/\(child)"
            result += try descendantCgroups(of: childPath)
            result.append(childPath)
        }
        return result
    }

    /// Deletes a realm; its spaces are deleted first with `cascade`, otherwise it is refused.
    public func deleteRealm(_ name: String, cascade: Bool, inventory: inout Inventory) -> [ResourceOutcome] {
        var outcomes: [ResourceOutcome] = []
        var outcome = ResourceOutcome(kind: "Realm", realm: nil, name: name, outcome: .deleted)
        guard inventory.realms[name] != nil else {
            outcome.outcome = .failed
            outcome.failure = Failure("NotFound", "realm \"\(name)\" not found")
            return [outcome]
        }
        let spaces = inventory.spaces(in: name)
        if !spaces.isEmpty && !cascade {
            outcome.outcome = .failed
            outcome.failure = Failure(
                "HasChildren",
                "realm \"\(name)\" has \(spaces.count) space(s) (\(spaces.map(\.metadata.name).joined(separator: ", "))); delete them first or pass --cascade"
            )
            return [outcome]
        }
        for space in spaces {
            outcomes.append(deleteSpace(space.id, cascade: cascade, inventory: &inventory))
        }
        if outcomes.contains(where: { $0.outcome == .failed }) {
            outcome.outcome = .failed
            outcome.failure = Failure("ChildFailed", "a space of realm \"\(name)\" could not be deleted")
            return outcomes + [outcome]
        }
        let cgroupPath = layout.realmCgroup(name)
        outcome.changes = [
            Change(
                part: .cgroup, action: .delete, subject: cgroupPath, summary: "remove cgroup \(cgroupPath)",
                operation: .removeCgroup(path: cgroupPath)),
            Change(
                part: .metadata, action: .delete, subject: layout.realmDirectory(name), summary: "remove \(layout.realmRecordPath(name))",
                operation: .removeTree(path: layout.realmDirectory(name))),
        ]
        do {
            if try drivers.cgroups.observe(cgroupPath) == nil { outcome.changes.removeFirst() }
        } catch {
            outcome.outcome = .failed
            outcome.failure = Failure.host("CgroupFailed", error)
            return outcomes + [outcome]
        }
        inventory.realms[name] = nil
        if dryRun { return outcomes + [outcome] }
        let executor = ChangeExecutor(drivers: drivers)
        for change in outcome.changes {
            do {
                try executor.perform(change)
            } catch {
                outcome.outcome = .failed
                outcome.failure = Failure.host(ChangeExecutor.reason(for: change.part), error)
                break
            }
        }
        return outcomes + [outcome]
    }
}
