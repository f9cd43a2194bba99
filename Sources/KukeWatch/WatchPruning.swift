import KukeEngine
import KukeModel

/// Orphans and pruning: spaces this watcher created whose manifests are gone are reported, or
/// deleted with `--prune` once the directories converged and the manifest stayed gone.
extension WatchController {
    /// Spaces this watcher created whose manifests are gone: reported, or deleted with `--prune`
    /// once the watched directories converged (see `pruneHold`) and their manifests stayed gone
    /// for the grace (see `PruneGrace`).
    func handleOrphans(now: Double) {
        guard orphanCheckDue else { return }
        orphanCheckDue = false
        graceRecheck = nil
        if records.isEmpty { refreshRecords() }
        // Declared and selected by this host: a space whose hostSelector (or its realm's) stopped
        // selecting this host is an orphan, as if its manifest were gone. A suspended space is never pruned.
        let recorded = recordedRealmSelectors
        let realmSelector = HostSelection.realmSelectors(in: desired.resources.values.map(\.resource)) { recorded[$0] }
        let selected = desired.resources.filter { _, entry in
            HostSelection.isSelected(entry.resource, labels: options.hostLabels, realmSelector: realmSelector)
        }
        let declared = Set(selected.keys).union(desired.conflicts.keys)
        let owned = records.values.filter { $0.status.managedBy == options.watcherID && $0.status.suspended == nil }
        let orphans = owned.filter { !declared.contains(.space($0.id)) }.map(\.id).sorted()
        grace.observe(orphans: orphans, now: now, read: reads)
        reportedOrphans.formIntersection(orphans)
        guard !orphans.isEmpty else {
            holdPrune(nil)
            return
        }
        guard options.prune else {
            for id in orphans where reportedOrphans.insert(id).inserted {
                logger.warning(
                    "space \(id) is orphaned: its manifest is gone; left as it is (pass --prune to delete it)",
                    metadata: ["realm": "\(id.realm)", "space": "\(id.name)"])
            }
            return
        }
        if let reason = pruneHold(orphans: orphans) {
            holdPrune(reason)
            return
        }
        if pendingKeys > 0 { return }  // the pass for the new declarations has not run yet: decided after it
        if orphans.count == owned.count && !options.allowEmpty {
            holdPrune(nil)
            if reportedOrphans.insert(orphans[0]).inserted {
                logger.error(
                    "refusing to prune: the directories declare none of the \(owned.count) spaces this watcher owns (an empty checkout, an unmounted directory, a half-finished flip?); pass --allow-empty to prune them all"
                )
            }
            return
        }
        let ripe = orphans.filter { grace.isRipe($0, now: now, read: reads) }
        let waiting = orphans.filter { !ripe.contains($0) }
        graceRecheck = grace.recheck(of: waiting, now: now)
        holdPrune(
            waiting.isEmpty
                ? nil
                : "\(Self.counted(waiting)) gone for less than --prune-grace \(grace.text) and two reads of the directories; kept in case the manifest comes back"
        )
        guard !ripe.isEmpty else { return }
        let outcomes: [ResourceOutcome]
        do {
            outcomes = try engine.delete(ripe.map(DeleteTarget.space), cascade: options.cascade, lockTimeout: Self.lockTimeout)
        } catch {
            logger.error("prune failed: \(engine.hints.text(error.message, hint: error.hint))")
            return
        }
        for outcome in outcomes {
            log(outcome)
            if outcome.outcome == .failed, let id = ripe.first(where: { $0.realm == outcome.realm && $0.name == outcome.name }) {
                reportedOrphans.insert(id)
            }
        }
        refreshRecords()
    }

    /// `2 orphaned space(s) (main/a, main/b)`, at most three named.
    static func counted(_ orphans: [SpaceID]) -> String {
        let names = orphans.prefix(3).map(\.description).joined(separator: ", ") + (orphans.count > 3 ? " and \(orphans.count - 3) more" : "")
        return "\(orphans.count) orphaned space(s) (\(names))"
    }

    /// Why nothing may be pruned now, or nil: prune follows only a pass that fully converged. A
    /// directory that cannot be read or a manifest that is invalid (or being replaced) hides what
    /// is declared; a declared resource that failed (a typo'd `realmId` that now names a realm
    /// that does not exist) may be the renamed form of an orphan; a declaration in two files, or
    /// an isolation table that could not be written, means the host is not as declared either.
    func pruneHold(orphans: [SpaceID]) -> String? {
        let waiting = "\(Self.counted(orphans)) kept"
        if !missingRoots.isEmpty {
            return "a watched directory cannot be read (\(missingRoots.joined(separator: ", "))); \(waiting)"
        }
        let replaced = replacedFiles
        let invalid = desired.invalid.keys.filter { replaced[$0] == nil }.sorted()
        if !invalid.isEmpty {
            return "\(invalid.count) manifest file(s) are invalid, so what they declare is unknown (\(invalid.joined(separator: ", "))); \(waiting)"
        }
        if let replacing = replacingHold {
            return "\(replacing); \(waiting)"
        }
        if !desired.conflicts.isEmpty {
            return "\(desired.conflicts.count) resource(s) are declared by more than one file; \(waiting)"
        }
        if let (key, failure) = failing.min(by: { $0.key < $1.key }) {
            return "\(failing.count) declared resource(s) failed in the last pass (\(key): \(failure.reason)); \(waiting)"
        }
        if let tableFailure {
            return "the isolation table failed in the last pass (\(tableFailure.reason)); \(waiting)"
        }
        return nil
    }

    /// The files whose only problems are transients (empty, a dangling link, a directory, gone
    /// while read), with the first: most likely files being replaced right now.
    var replacedFiles: [String: ManifestIssue] {
        desired.invalid.compactMapValues { issues in issues.allSatisfy { $0.rule == .transient } ? issues.first : nil }
    }

    /// What the files being replaced hold back (`1 manifest file(s) being replaced (/srv/m/a.yaml is empty …)`), or nil.
    var replacingHold: String? {
        let replaced = replacedFiles.sorted { $0.key < $1.key }
        guard let (file, issue) = replaced.first else { return nil }
        let more = replaced.count > 1 ? " and \(replaced.count - 1) more" : ""
        let why = issue.message.split(separator: ";", maxSplits: 1).first.map(String.init) ?? issue.message
        return "\(replaced.count) manifest file(s) being replaced, so what they declare is unknown (\(file) \(why)\(more))"
    }

    /// Declared resources whose current manifest has not been through a pass yet.
    var pendingKeys: Int {
        desired.resources.count { key, entry in !Self.sameManifest(applied[key], entry.resource) }
    }

    /// Logs `prune held: …` once per reason and keeps it for STATUS=; nil ends the hold.
    func holdPrune(_ reason: String?) {
        if reason != nil { metrics?.heldPrune() }
        if let reason, reason != pruneHeld {
            logger.warning("prune held: \(reason)")
        } else if reason == nil, pruneHeld != nil {
            logger.info("prune no longer held")
        }
        pruneHeld = reason
    }
}
