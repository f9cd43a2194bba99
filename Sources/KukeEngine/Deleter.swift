import Foundation
import KukeModel

/// Removes spaces and realms in the order bridge → conflist → cgroup → metadata, so a
/// crash always leaves a record to resume from. Only what the record names is removed.
public struct Deleter: Sendable {
    public var context: PassContext
    /// Bridges already deleted together with others in this pass (see `Engine.deleteBridgesTogether`).
    var deletedTogether: Set<String> = []
    /// Spaces whose record that pre-pass already marked `Deleting`: a refusal after it is recorded.
    var markedDeleting: Set<SpaceID> = []

    public init(context: PassContext) {
        self.context = context
    }

    /// Children of a space: stack records beside `space.yaml` and child cgroups.
    func children(of id: SpaceID) throws(Failure) -> (records: [String], cgroups: [String]) {
        let records: [String]
        do {
            records = try context.drivers.files.subdirectories(context.layout.spaceDirectory(id)).sorted()
        } catch {
            throw Failure(.recordUnreadable, "\(error.message); its child records are unknown, so kuke will not guess what to delete")
        }
        do {
            let cgroups = try context.drivers.cgroups.children(context.layout.spaceCgroup(id)).sorted()
            return (records, cgroups)
        } catch {
            throw Failure.host(.cgroupFailed, error)
        }
    }

    public func deleteSpace(_ id: SpaceID, cascade: Bool, inventory: inout Inventory) -> ResourceOutcome {
        var outcome = ResourceOutcome(kind: .space, realm: id.realm, name: id.name, outcome: .deleted)
        // Marked Deleting (and maybe its bridge gone) by the pre-pass: a refusal now must say so in the record.
        var started = markedDeleting.contains(id)
        do throws(Failure) {
            outcome.changes = try plan(id, cascade: cascade, inventory: inventory, warnings: &outcome.warnings)
            if context.dryRun {
                context.pretend(outcome.changes)
                inventory.forgetDeletedLinks(outcome.changes)
                inventory.set(id, nil)
                inventory.deletedInDryRun.insert(context.layout.spaceDirectory(id))
                return outcome
            }
            started = true
            if var record = inventory.spaces[id], record.status.state != .deleting {
                record.status.state = .deleting
                record.status.updatedAt = context.now
                try context.writeRecord(record)
            }
            // A bridge deleted with others before this delete (`Engine.deleteBridgesTogether`) is reported, not deleted again.
            try context.performAll(
                outcome.changes.filter { change in
                    guard case .deleteLink(let name) = change.operation else { return true }
                    return !deletedTogether.contains(name)
                })
            inventory.forgetDeletedLinks(outcome.changes)
            inventory.set(id, nil)
        } catch {
            var error = error
            if let bridge = inventory.spaces[id]?.status.network?.bridge, deletedTogether.contains(bridge) {
                // Worded here, hint and all, since something was changed after all.
                error.message =
                    context.hints.text(error).replacingOccurrences(of: " (nothing was changed)", with: "")
                    + "; its bridge \(bridge) was already deleted, together with the other spaces of this delete"
                error.hint = nil
            }
            outcome.outcome = .failed
            outcome.failure = error
            // A refusal (children, processes, foreign files) changes nothing, not even the record,
            // unless the pre-pass of a delete of several spaces already marked it (and took its bridge).
            if started, var record = inventory.spaces[id] {
                record.status.state = .failed
                record.status.reason = error.reason
                record.status.message = "delete: \(context.hints.text(error))"
                try? context.writeRecord(record)
            }
        }
        return outcome
    }

    func plan(_ id: SpaceID, cascade: Bool, inventory: Inventory) throws(Failure) -> [Change] {
        var warnings: [String] = []
        return try plan(id, cascade: cascade, inventory: inventory, warnings: &warnings)
    }

    /// The changes that delete space `id`, and `warnings` about what its delete cannot do as a runtime would.
    func plan(_ id: SpaceID, cascade: Bool, inventory: Inventory, warnings: inout [String]) throws(Failure) -> [Change] {
        guard let record = inventory.spaces[id] else {
            if let error = inventory.unreadable[context.layout.spaceRecordPath(id)] {
                throw Failure(.recordUnreadable, "\(error); kuke will not guess what to delete")
            }
            throw Failure(.notFound, "space \(id) not found")
        }
        if let suspension = record.status.suspended {
            throw Failure(
                .suspended, "space \(id) is suspended (\(suspension.reason))", hint: .resume(id))
        }
        let layout = context.layout
        // Where the space's cgroup is, before what is below it is listed there.
        try CgroupMove.check(recorded: record.status.cgroupPath, current: layout.spaceCgroup(id), of: "space \(id)", context: context)
        let found = try children(of: id)
        if !found.records.isEmpty || !found.cgroups.isEmpty, !cascade {
            let names = Set(found.records + found.cgroups).sorted().joined(separator: ", ")
            throw Failure(.hasChildren, "space \(id) has children (\(names))", hint: .deleteChildrenOrCascade)
        }
        let conflistText = record.status.network.flatMap { network in
            (try? context.drivers.files.read(network.conflistPath)) ?? (try? context.drivers.files.read(layout.conflistCopyPath(id)))
        }
        let doomed = DoomedSpace(
            record: record, inventory: inventory, cascade: cascade,
            attached: record.status.network.map { attachments(of: $0, id: id, inventory: inventory) }, conflistText: conflistText)
        // Every part is asked before anything changes (so any of them can refuse), in phase order;
        // they are taken down in the reverse order, the record last.
        var teardowns: [PartPlan] = []
        for part in context.parts { teardowns.append(try part.teardown(doomed, context: context)) }
        let directory = layout.spaceDirectory(id)
        let files = try ownedEntries(of: directory, known: ["space.yaml", "network.conflist"], children: Set(found.records))
        var changes = teardowns.reversed().flatMap(\.changes)
        warnings += teardowns.flatMap(\.warnings)
        // Metadata last: child records, then kuke's own files (space.yaml last of them), then the directory.
        for child in found.records {
            let path = "\(directory)/\(child)"
            changes.append(
                Change(part: .metadata, action: .delete, subject: path, summary: "remove child record \(path)", operation: .removeTree(path: path)))
        }
        changes += metadataRemoval(directory: directory, files: files, record: layout.spaceRecordPath(id))
        return changes
    }

    /// What is attached to a space's network: ports of its bridge (from the pass's link dump) and
    /// the containers a CNI runtime cached as attached to it.
    public struct Attached: Sendable {
        /// The bridge's ports, by name.
        public var ports: [String]
        public var cached: [CNIAttachment]

        public var isEmpty: Bool { ports.isEmpty && cached.isEmpty }

        public var description: String {
            var parts: [String] = []
            if !ports.isEmpty { parts.append("\(ports.count) interface(s) on its bridge (\(Deleter.listed(ports)))") }
            if !cached.isEmpty {
                parts.append("\(cached.count) container(s) attached by a CNI runtime (\(Deleter.listed(CNIAttachment.labels(cached))))")
            }
            return parts.joined(separator: " and ")
        }
    }

    func attachments(of network: SpaceNetworkStatus, id: SpaceID, inventory: Inventory) -> Attached {
        let ports = inventory.network.links[network.bridge]?.kind == .bridge ? inventory.network.ports(of: network.bridge) : []
        let cached = CNIAttachment.cached(network: network.name, stateDirectory: context.layout.cniStateDirectory, files: context.drivers.files)
        return Attached(ports: ports, cached: cached)
    }

    static func listed(_ items: [String], limit: Int = 4) -> String {
        items.count <= limit ? items.joined(separator: ", ") : items.prefix(limit).joined(separator: ", ") + " and \(items.count - limit) more"
    }

    /// Changes that remove kuke's files from a record directory (the record itself last) and then the directory.
    func metadataRemoval(directory: String, files: [String], record: String) -> [Change] {
        let ordered = files.filter { "\(directory)/\($0)" != record } + files.filter { "\(directory)/\($0)" == record }
        var changes = ordered.map { name in
            Change(
                part: .metadata, action: .delete, subject: "\(directory)/\(name)", summary: "remove \(directory)/\(name)",
                operation: .removeFile(path: "\(directory)/\(name)"))
        }
        changes.append(
            Change(
                part: .metadata, action: .delete, subject: directory, summary: "remove directory \(directory)",
                operation: .removeDirectory(path: directory)))
        return changes
    }

    /// kuke's own files in a record directory (and temp files a crash left), or a refusal naming
    /// what else is there: kuke never deletes what it did not write.
    func ownedEntries(of directory: String, known: Set<String>, children: Set<String>) throws(Failure) -> [String] {
        let entries = context.drivers.files.entries(directory)
        let strangers = entries.filter { !known.contains($0) && !children.contains($0) && !Self.isTemporary($0, of: known) }
        guard strangers.isEmpty else {
            throw Failure(
                .foreignFiles,
                "\(directory) holds entries kuke did not write (\(strangers.sorted().joined(separator: ", "))); move them away first (nothing was changed)"
            )
        }
        return entries.filter { !children.contains($0) }.sorted()
    }

    /// `.<name>.kuke-tmp` (or `.<name>.<pid>.<random>.tmp` from earlier builds), what an
    /// interrupted atomic write of `name` leaves.
    static func isTemporary(_ entry: String, of known: Set<String>) -> Bool {
        known.contains { entry == HostLayout.temporaryName(of: $0) || (entry.hasPrefix(".\($0).") && entry.hasSuffix(".tmp")) }
    }

    /// Deletes a realm; its spaces are deleted first with `cascade`, otherwise it is refused.
    public func deleteRealm(_ name: String, cascade: Bool, inventory: inout Inventory) -> [ResourceOutcome] {
        var outcomes: [ResourceOutcome] = []
        var outcome = ResourceOutcome(kind: .realm, realm: nil, name: name, outcome: .deleted)
        guard inventory.realms[name] != nil else {
            outcome.outcome = .failed
            if let error = inventory.unreadable[context.layout.realmRecordPath(name)] {
                outcome.failure = Failure(.recordUnreadable, "\(error); kuke will not guess what to delete")
            } else {
                outcome.failure = Failure(.notFound, "realm \"\(name)\" not found")
            }
            return [outcome]
        }
        let unreadable = inventory.unreadable.keys.filter { $0.hasPrefix(context.layout.realmDirectory(name) + "/") }.sorted()
        if !unreadable.isEmpty {
            outcome.outcome = .failed
            outcome.failure = Failure(
                .recordUnreadable,
                "realm \"\(name)\" holds records kuke cannot read (\(unreadable.joined(separator: ", "))); fix or remove them first")
            return [outcome]
        }
        let spaces = inventory.spaces(in: name)
        if !spaces.isEmpty && !cascade {
            outcome.outcome = .failed
            outcome.failure = Failure(
                .hasChildren,
                "realm \"\(name)\" has \(spaces.count) space(s) (\(spaces.map(\.metadata.name).joined(separator: ", ")))",
                hint: .deleteChildrenOrCascade)
            return [outcome]
        }
        do throws(Failure) {
            try CgroupMove.check(
                recorded: inventory.realms[name]?.status.cgroupPath, current: context.layout.realmCgroup(name), of: "realm \(name)", context: context)
        } catch {
            outcome.outcome = .failed
            outcome.failure = error
            return [outcome]
        }
        // What is in the realm's directory besides its spaces is checked before any space goes; the
        // directories of spaces this dry run deleted are gone in the real run.
        let realmDirectory = context.layout.realmDirectory(name)
        let goneInDryRun = Set(
            inventory.deletedInDryRun.filter { $0.hasPrefix(realmDirectory + "/") }.map { String($0.dropFirst(realmDirectory.count + 1)) })
        do {
            _ = try ownedEntries(of: realmDirectory, known: ["realm.yaml"], children: Set(spaces.map(\.metadata.name)).union(goneInDryRun))
        } catch {
            outcome.outcome = .failed
            outcome.failure = error
            return [outcome]
        }
        for space in spaces {
            outcomes.append(deleteSpace(space.id, cascade: cascade, inventory: &inventory))
        }
        if outcomes.contains(where: { $0.outcome == .failed }) {
            outcome.outcome = .failed
            outcome.failure = Failure(.childFailed, "a space of realm \"\(name)\" could not be deleted")
            return outcomes + [outcome]
        }
        let cgroupPath = context.layout.realmCgroup(name)
        let directory = context.layout.realmDirectory(name)
        do {
            let remainingSpaces = Set(spaces.map(\.metadata.name)).union(goneInDryRun)
            let files = try ownedEntries(of: directory, known: ["realm.yaml"], children: remainingSpaces)
            outcome.changes = []
            if try context.drivers.cgroups.observe(cgroupPath) != nil {
                outcome.changes.append(
                    Change(
                        part: .cgroup, action: .delete, subject: cgroupPath, summary: "remove cgroup \(cgroupPath)",
                        operation: .removeCgroup(path: cgroupPath)))
            }
            outcome.changes += metadataRemoval(directory: directory, files: files, record: context.layout.realmRecordPath(name))
        } catch let failure as Failure {
            outcome.outcome = .failed
            outcome.failure = failure
            return outcomes + [outcome]
        } catch {
            outcome.outcome = .failed
            outcome.failure = Failure(.cgroupFailed, "\(error)")
            return outcomes + [outcome]
        }
        inventory.realms[name] = nil
        if context.dryRun {
            context.pretend(outcome.changes)
            return outcomes + [outcome]
        }
        do {
            try context.performAll(outcome.changes)
        } catch {
            outcome.outcome = .failed
            outcome.failure = error
        }
        return outcomes + [outcome]
    }
}
