import Foundation
import KukeModel

/// Removes spaces and realms in the order bridge → conflist → cgroup → metadata, so a
/// crash always leaves a record to resume from. Only what the record names is removed.
public struct Deleter: Sendable {
    public var context: PassContext

    public init(context: PassContext) {
        self.context = context
    }

    /// Children of a space: stack records beside `space.yaml` and child cgroups.
    func children(of id: SpaceID) throws(Failure) -> (records: [String], cgroups: [String]) {
        let records = context.drivers.files.subdirectories(context.layout.spaceDirectory(id)).sorted()
        do {
            let cgroups = try context.drivers.cgroups.children(context.layout.spaceCgroup(id)).sorted()
            return (records, cgroups)
        } catch {
            throw Failure.host("CgroupFailed", error)
        }
    }

    public func deleteSpace(_ id: SpaceID, cascade: Bool, inventory: inout Inventory) -> ResourceOutcome {
        var outcome = ResourceOutcome(kind: "Space", realm: id.realm, name: id.name, outcome: .deleted)
        do throws(Failure) {
            outcome.changes = try plan(id, cascade: cascade, inventory: inventory)
            if context.dryRun {
                inventory.spaces[id] = nil
                return outcome
            }
            if var record = inventory.spaces[id] {
                record.status.state = .deleting
                record.status.updatedAt = context.now
                try context.writeRecord(record)
            }
            try context.performAll(outcome.changes)
            inventory.spaces[id] = nil
        } catch {
            outcome.outcome = .failed
            outcome.failure = error
            if !context.dryRun, var record = inventory.spaces[id], error.reason != "HasChildren" {
                record.status.state = .failed
                record.status.reason = error.reason
                record.status.message = "delete: \(error.message)"
                try? context.writeRecord(record)
            }
        }
        return outcome
    }

    func plan(_ id: SpaceID, cascade: Bool, inventory: Inventory) throws(Failure) -> [Change] {
        guard let record = inventory.spaces[id] else {
            if let error = inventory.unreadable[context.layout.spaceRecordPath(id)] {
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
            for path in try descendantCgroups(of: context.layout.spaceCgroup(id)) {
                changes.append(
                    Change(
                        part: .cgroup, action: .delete, subject: path, summary: "remove child cgroup \(path)", operation: .removeCgroup(path: path)))
            }
            for child in found.records {
                let path = "\(context.layout.spaceDirectory(id))/\(child)"
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
        let cgroupPath = context.layout.spaceCgroup(id)
        do {
            if try context.drivers.cgroups.observe(cgroupPath) != nil {
                changes.append(
                    Change(
                        part: .cgroup, action: .delete, subject: cgroupPath, summary: "remove cgroup \(cgroupPath)",
                        operation: .removeCgroup(path: cgroupPath)))
            }
        } catch { throw Failure.host("CgroupFailed", error) }
        let directory = context.layout.spaceDirectory(id)
        changes.append(
            Change(
                part: .metadata, action: .delete, subject: directory, summary: "remove \(context.layout.spaceRecordPath(id))",
                operation: .removeTree(path: directory)))
        return changes
    }

    /// Every cgroup below `path`, deepest first, so each can be removed with rmdir.
    func descendantCgroups(of path: String) throws(Failure) -> [String] {
        let children: [String]
        do { children = try context.drivers.cgroups.children(path).sorted() } catch { throw Failure.host("CgroupFailed", error) }
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
        let unreadable = inventory.unreadable.keys.filter { $0.hasPrefix(context.layout.realmDirectory(name) + "/") }.sorted()
        if !unreadable.isEmpty {
            outcome.outcome = .failed
            outcome.failure = Failure(
                "RecordUnreadable",
                "realm \"\(name)\" holds records kuke cannot read (\(unreadable.joined(separator: ", "))); fix or remove them first")
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
        let cgroupPath = context.layout.realmCgroup(name)
        outcome.changes = [
            Change(
                part: .cgroup, action: .delete, subject: cgroupPath, summary: "remove cgroup \(cgroupPath)",
                operation: .removeCgroup(path: cgroupPath)),
            Change(
                part: .metadata, action: .delete, subject: context.layout.realmDirectory(name),
                summary: "remove \(context.layout.realmRecordPath(name))",
                operation: .removeTree(path: context.layout.realmDirectory(name))),
        ]
        do {
            if try context.drivers.cgroups.observe(cgroupPath) == nil { outcome.changes.removeFirst() }
        } catch {
            outcome.outcome = .failed
            outcome.failure = Failure.host("CgroupFailed", error)
            return outcomes + [outcome]
        }
        inventory.realms[name] = nil
        if context.dryRun { return outcomes + [outcome] }
        do {
            try context.performAll(outcome.changes)
        } catch {
            outcome.outcome = .failed
            outcome.failure = error
        }
        return outcomes + [outcome]
    }
}
