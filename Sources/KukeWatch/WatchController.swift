import Foundation
import KukeEngine
import KukeHost
import KukeModel
import Logging

/// The watch loop's logic, free of threads and timers so it can be driven by tests: it
/// reads the directories, keeps the desired state per file, queues work per resource,
/// runs due work through the engine, backs off failures and prunes what it owns.
public final class WatchController {
    let engine: Engine
    let options: WatchOptions
    let logger: Logger
    /// Under `--prune`, a file being replaced (empty, a dangling link, a directory) is an error that holds the revision.
    let loader: ManifestLoader

    public private(set) var desired = DesiredState()
    var queue = WorkQueue<ResourceKey>()
    /// What was last handed to the engine per key (metadata and spec), to tell changes.
    var applied: [ResourceKey: Resource] = [:]
    /// Keys whose last pass failed, with the failure.
    public private(set) var failing: [ResourceKey: Failure] = [:]
    var reportedConflicts: [ResourceKey: [String]] = [:]
    var reportedOrphans: Set<SpaceID> = []
    /// The changes last reported held while a file is invalid (see `holdChanges`).
    var reportedHeld: Set<ResourceKey> = []
    /// Managed bridge names, for immediate repair on RTM_DELLINK.
    var bridges: [String: SpaceID] = [:]
    var reloadDue: Double?
    /// Watched directories that could not be read at the last reload: nothing is pruned meanwhile.
    var missingRoots: [String] = []
    /// Each manifest file's last decode, with the identity (inode, size, mtime) it was read at:
    /// a reload decodes only files that changed.
    var decoded: [String: (identity: FileIdentity, result: Result<[Resource], ManifestIssues>)] = [:]
    /// The records as of the last pass, for orphan detection and bridge lookups.
    var records: [SpaceID: SpaceRecord] = [:]
    /// Each recorded realm's `spec.hostSelector`, for spaces whose realm the directories do not declare.
    var recordedRealmSelectors: [String: HostSelector] = [:]
    var lastResync: Double = 0
    /// Set when the declared set or a pass's results changed: orphans are looked at again.
    var orphanCheckDue = false
    /// Why the last prune was held back (logged once per reason, shown in STATUS=).
    public internal(set) var pruneHeld: String?
    /// The isolation table's failure in the last pass that touched it: the pass did not converge.
    var tableFailure: Failure?
    /// The pass's warnings (`kuke-*` bridges no record describes), logged when they change.
    var warnings: [String] = []
    /// Passes run so far (for tests and the status line).
    public private(set) var passes = 0
    /// Metrics and health, when `--metrics-address` or `--metrics-file` asks for them.
    public var metrics: WatchMetrics?
    /// The last pass failed before any resource (lock, dump, records): `/healthz` does not count it.
    var hostFailing = false

    /// A pass waits this long for another kuke's host lock, then retries with backoff, so the
    /// loop (and the systemd watchdog) is never blocked for long.
    static let lockTimeout = 30.0

    /// How long each orphan has been gone (`--prune-grace`).
    var grace: PruneGrace
    /// Reads of the directories so far: an orphan is pruned only after two.
    var reads = 0
    /// When the directories are read again to decide on orphans still within their grace.
    var graceRecheck: Double?

    public init(engine: Engine, options: WatchOptions, logger: Logger) {
        self.engine = engine
        self.options = options
        self.logger = logger
        loader = ManifestLoader.local(readStandardInput: { Data() }, refusingTransients: options.prune)
        grace = PruneGrace(seconds: options.pruneGrace)
    }

    /// The first full pass: read everything, apply everything.
    public func start(now: Double) {
        fullResync(now: now, reason: "start")
        handleOrphans(now: now)
    }

    public func handle(_ trigger: WatchTrigger, now: Double) {
        react(to: trigger, now: now)
        handleOrphans(now: now)
        metrics?.queueDepth(queue.due.count)
    }

    func react(to trigger: WatchTrigger, now: Double) {
        switch trigger {
        case .filesChanged:
            if reloadDue == nil { reloadDue = now + options.debounce }
        case .overflow:
            metrics?.overflowed()
            logger.warning("file events were lost (inotify queue overflow); resyncing everything")
            fullResync(now: now, reason: "overflow")
        case .resync(let reason):
            fullResync(now: now, reason: reason)
        case .linkDeleted(let name):
            if let id = bridges[name], desired.resources[.space(id)] != nil {
                logger.info(
                    "managed bridge deleted", metadata: ["realm": "\(id.realm)", "space": "\(id.name)", "driver": "bridge", "bridge": "\(name)"])
                queue.schedule(.space(id), at: now)
                processDue(now: now)
            }
        case .tick:
            if let due = reloadDue, due <= now {
                reloadDue = nil
                reload(now: now)
            } else if let recheck = graceRecheck, recheck <= now {
                graceRecheck = nil
                reload(now: now)
            }
            if now - lastResync >= options.resyncInterval {
                fullResync(now: now, reason: "periodic")
            }
            processDue(now: now)
        }
    }

    /// Reloads and queues every declared resource, so drift is observed and repaired.
    func fullResync(now: Double, reason: String) {
        lastResync = now
        reloadDue = nil
        logger.debug("full resync", metadata: ["reason": "\(reason)"])
        reload(now: now)
        for key in desired.resources.keys { queue.schedule(key, at: now) }
        processDue(now: now)
        if desired.resources.isEmpty { hostFailing = false }  // nothing to apply: the resync itself is the pass
        if !hostFailing { metrics?.passCompleted(unixTime: Date().timeIntervalSince1970) }
    }

    // MARK: Reading the directories

    func reload(now: Double) {
        var files: [String: Result<[Resource], ManifestIssues>] = [:]
        missingRoots = []
        reads += 1
        for root in options.roots {
            let paths: [String]
            do { paths = try loader.files(for: root) } catch {
                logger.warning("cannot read the watched directory: \(error)", metadata: ["path": "\(root)"])
                missingRoots.append(root)
                continue
            }
            for path in paths {
                let identity = FileIdentity(path)
                if let identity, let cached = decoded[path], cached.identity == identity {
                    files[path] = cached.result
                    continue
                }
                let (resources, issues) = loader.load(file: path)
                let result: Result<[Resource], ManifestIssues> = issues.isEmpty ? .success(resources) : .failure(ManifestIssues(issues))
                files[path] = result
                if let identity { decoded[path] = (identity, result) }
            }
        }
        for path in decoded.keys where files[path] == nil { decoded[path] = nil }
        let (broken, fixed) = desired.update(files: files)
        for file in broken {
            let issues = desired.invalid[file] ?? []
            if let issue = issues.first, issues.allSatisfy({ $0.rule == .transient }) {
                logger.warning(
                    "\(issue); what it declared is kept, and changes and prune are held until it reads as a manifest again",
                    metadata: ["file": "\(file)", "rule": "\(issue.rule.rawValue)"])
                continue
            }
            for issue in issues {
                logger.error("\(issue)", metadata: ["file": "\(file)", "rule": "\(issue.rule.rawValue)"])
            }
            logger.error("manifest is invalid; the resources it declared before are kept as they are", metadata: ["file": "\(file)"])
        }
        for file in fixed { logger.info("manifest is valid again", metadata: ["file": "\(file)"]) }

        let (resources, conflicts) = (desired.resources, desired.conflicts)
        for (key, files) in conflicts where reportedConflicts[key] != files {
            logger.error(
                "\(key) is declared by more than one file; it is left untouched until one declaration is removed",
                metadata: ["files": "\(files.joined(separator: ", "))"])
        }
        reportedConflicts = conflicts
        var changed = false
        for (key, entry) in resources where !Self.sameManifest(applied[key], entry.resource) {
            queue.schedule(key, at: now)
            changed = true
            // A realm's spec is its spaces' defaults too (`spec.network.ipv6`): they run with it.
            if case .realm(let realm) = key, applied[key] != nil {
                for case .space(let id) in resources.keys where id.realm == realm { queue.schedule(.space(id), at: now) }
            }
        }
        for key in applied.keys where resources[key] == nil && conflicts[key] == nil {
            applied[key] = nil
            queue.forget(key)
            failing[key] = nil
            changed = true
        }
        if changed { retryPermanentFailures(now: now) }
        orphanCheckDue = true
    }

    /// Manifests are the same when metadata and spec are; where they were written does not matter.
    static func sameManifest(_ a: Resource?, _ b: Resource) -> Bool {
        switch (a, b) {
        case (.realm(let x)?, .realm(let y)): x.metadata == y.metadata && x.spec == y.spec
        case (.space(let x)?, .space(let y)): x.metadata == y.metadata && x.spec == y.spec
        default: false
        }
    }

    // MARK: Running work

    func processDue(now: Double) {
        let keys = queue.takeDue(now: now)
        guard !keys.isEmpty else { return }
        let resolved = desired.resources
        // While a manifest file is invalid the directories are not a revision kuke can trust (a
        // commit half right): no change is applied, from any file. What was applied before is
        // still re-applied as it was (drift repair), and nothing is pruned (`pruneHold`).
        let holding = !desired.invalid.isEmpty
        var held: [ResourceKey] = []
        let batch = keys.sorted().compactMap { key -> Resource? in
            guard let resource = resolved[key]?.resource else { return nil }
            guard holding, !Self.sameManifest(applied[key], resource) else { return resource }
            held.append(key)
            return applied[key]
        }
        holdChanges(held)
        guard !batch.isEmpty else { return }
        passes += 1
        let outcomes: [ResourceOutcome]
        let started = ContinuousClock.now
        do {
            var applyOptions = ApplyOptions(lockTimeout: Self.lockTimeout, managedBy: options.watcherID)
            applyOptions.hostLabels = options.hostLabels
            let result = try engine.applyObserving(batch, options: applyOptions)
            outcomes = result.outcomes
            remember(result.inventory)
        } catch {
            let failed = batch.map { resource in
                switch resource {
                case .realm(let realm): ResourceOutcome(kind: .realm, realm: nil, name: realm.metadata.name, outcome: .failed)
                case .space(let space): ResourceOutcome(kind: .space, realm: space.spec.realmId, name: space.metadata.name, outcome: .failed)
                }
            }
            metrics?.recordPass(failed, seconds: Self.seconds(since: started), repairedParts: [])
            hostFailing = true  // not a pass for /healthz: the lock, a dump or a record read failed
            logger.error("pass failed: \(engine.hints.text(error.message, hint: error.hint))")
            for resource in batch {
                applied[ResourceKey(resource)] = resource  // so a reload does not requeue it ahead of its backoff
                retry(ResourceKey(resource), Failure(.hostFailed, error.message, hint: error.hint), now: now)
            }
            return
        }
        var repaired: [String] = []
        for (resource, outcome) in zip(Engine.ordered(batch), outcomes) {
            let key = ResourceKey(resource)
            // Changes to a resource whose manifest was already applied as it is: drift repaired,
            // counted once per part (a bridge made and set up is one repair of the bridge).
            if outcome.outcome == .updated, Self.sameManifest(applied[key], resource) {
                repaired += Set(outcome.changes.map(\.part.name)).sorted()
            }
            applied[key] = resource
            log(outcome)
            if let failure = outcome.failure {
                retry(key, failure, now: now)
            } else {
                queue.succeeded(key)
                failing[key] = nil
            }
        }
        // A pass that changed the host may have removed what a permanent failure waits for (a
        // realm now recorded, a conflicting space gone): those resources are tried again.
        // The resources of this pass are left out: they just ran, so a pass never requeues itself.
        if outcomes.contains(where: { $0.outcome.changesHost }) { retryPermanentFailures(now: now, except: Set(batch.map(ResourceKey.init))) }
        // Outcomes past the batch are the pass's own (the isolation table), logged after the
        // resources as `apply` prints them; the next resync retries a failure.
        tableFailure = nil
        for outcome in outcomes.dropFirst(batch.count) {
            log(outcome)
            if let failure = outcome.failure { tableFailure = failure }
        }
        let passWarnings = outcomes.flatMap(\.warnings)
        if passWarnings != warnings {
            for warning in passWarnings where !warnings.contains(warning) { logger.warning("\(warning)") }
            warnings = passWarnings
        }
        metrics?.recordPass(outcomes, seconds: Self.seconds(since: started), repairedParts: repaired)
        hostFailing = false
        metrics?.passCompleted(unixTime: Date().timeIntervalSince1970)
        orphanCheckDue = true
    }

    /// Logs the changes held back while a manifest file is invalid, once per set.
    func holdChanges(_ keys: [ResourceKey]) {
        guard !keys.isEmpty else {
            if desired.invalid.isEmpty { reportedHeld = [] }
            return
        }
        guard Set(keys) != reportedHeld else { return }
        reportedHeld = Set(keys)
        let names = keys.prefix(3).map(\.description).joined(separator: ", ") + (keys.count > 3 ? " and \(keys.count - 3) more" : "")
        logger.warning(
            "\(keys.count) change(s) held while manifest file(s) are invalid: the revision is applied whole once every file is valid (\(names))")
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Queues every resource whose last failure was permanent: something changed that may fix it.
    func retryPermanentFailures(now: Double, except ran: Set<ResourceKey> = []) {
        for (key, failure) in failing where failure.persistence == .permanent && queue.dueTime(key) == nil && !ran.contains(key) {
            queue.schedule(key, at: now)
        }
    }

    /// A transient failure is retried with backoff; a permanent one (`Failure.persistence`)
    /// waits for a change: to the manifests, a pass that changed the host, the next resync or
    /// SIGHUP, so a conflict that only an edit fixes is not retried on a timer.
    func retry(_ key: ResourceKey, _ failure: Failure, now: Double) {
        failing[key] = failure
        metrics?.recordFailure(failure)
        guard failure.persistence == .transient else {
            let attempt = queue.failedPermanently(key)
            logger.warning(
                "\(key) failed; retried when the manifests or the host change, at the next resync or on SIGHUP: \(failure.reason) needs a change to be fixed",
                metadata: ["reason": "\(failure.reason)", "attempt": "\(attempt)", "persistence": "permanent"])
            return
        }
        let (delay, attempt) = queue.failed(key, now: now)
        logger.warning(
            "\(key) failed; next attempt in \(Self.format(seconds: delay))",
            metadata: [
                "reason": "\(failure.reason)", "attempt": "\(attempt)", "nextAttemptIn": "\(Self.format(seconds: delay))", "persistence": "transient",
            ])
    }

    static func format(seconds: Double) -> String {
        seconds < 1 ? "\(Int(seconds * 1000))ms" : seconds < 120 ? "\(Int(seconds))s" : "\(Int(seconds / 60))m"
    }

    /// One line per change with realm, space, driver and outcome; one line per failure.
    func log(_ outcome: ResourceOutcome) {
        var metadata: Logger.Metadata = ["outcome": "\(outcome.outcome.rawValue)"]
        if outcome.kind == .firewall {
            metadata["table"] = "\(outcome.name)"
        } else if let realm = outcome.realm {
            metadata["realm"] = "\(realm)"
            metadata["space"] = "\(outcome.name)"
        } else {
            metadata["realm"] = "\(outcome.name)"
        }
        for change in outcome.changes where outcome.outcome != .failed {
            var line = metadata
            line["driver"] = "\(change.part.name)"
            logger.info("\(change.summary)", metadata: line)
        }
        if let failure = outcome.failure {
            metadata["reason"] = "\(failure.reason)"
            logger.error("\(outcome.kind) \(outcome.displayName) failed: \(engine.hints.text(failure))", metadata: metadata)
        } else if outcome.outcome == .skipped {
            // Not this host's: at every resync, so only at debug level.
            logger.debug("\(outcome.kind) \(outcome.displayName) skipped: \(outcome.note ?? "")", metadata: metadata)
        } else if outcome.outcome != .unchanged {
            logger.info(
                "\(outcome.kind) \(outcome.displayName) \(outcome.outcome.rawValue)\(outcome.note.map { ": \($0)" } ?? "")", metadata: metadata)
        }
    }

    /// Re-reads the records after a prune (a pass hands back its inventory instead).
    func refreshRecords() {
        guard let inventory = try? engine.inventory() else { return }
        remember(inventory)
    }

    /// The bridges to repair and the spaces owned, from a pass's view of the records.
    func remember(_ inventory: Inventory) {
        records = inventory.spaces
        recordedRealmSelectors = inventory.realms.compactMapValues(\.spec.selector)
        metrics?.spaces(inventory.spaces)
        bridges = [:]
        for record in inventory.spaces.values {
            if let bridge = record.status.network?.bridge { bridges[bridge] = record.id }
        }
    }

    /// When the loop next has something to do: the end of a debounce or of a prune grace, a retry, or the periodic resync.
    public var nextWake: Double {
        let dues = [reloadDue, graceRecheck, queue.earliestDue, lastResync + options.resyncInterval].compactMap { $0 }
        return dues.min() ?? lastResync + options.resyncInterval
    }

    // MARK: Status

    /// Counts for systemd's STATUS= line, and when the first failing resource is retried next
    /// (as a wall-clock time, so the line only changes when something happens).
    public func statusLine(now: Double, wallClock: Date = Date()) -> String {
        var line = statusLine
        if let (key, due) = failing.keys.compactMap({ key in queue.dueTime(key).map { (key, $0) } }).min(by: { $0.1 < $1.1 }) {
            let at = wallClock.addingTimeInterval(max(0, due - now))
            let time = at.formatted(Date.ISO8601FormatStyle(timeZone: .current).time(includingFractionalSeconds: false))
            line += "; \(key) \(failing[key]?.reason.rawValue ?? "failed"), next attempt at \(time)"
        } else if let (key, failure) = failing.filter({ queue.dueTime($0.key) == nil }).min(by: { $0.key < $1.key }) {
            line += "; \(key) \(failure.reason.rawValue), waits for a change"
        }
        return line
    }

    /// Counts for systemd's STATUS= line.
    public var statusLine: String {
        let declared = desired.resources.count
        let failed = failing.count
        // Changes held while a file is invalid are pending, not ready: they are not on the host.
        let pending = desired.resources.keys.filter { (queue.dueTime($0) != nil || reportedHeld.contains($0)) && failing[$0] == nil }.count
        var line = "ready \(max(0, declared - failed - pending)), failed \(failed), pending \(pending)"
        let replaced = replacedFiles.count
        if desired.invalid.count > replaced { line += ", invalid files \(desired.invalid.count - replaced)" }
        if replaced > 0 { line += ", files being replaced \(replaced)" }
        if !reportedConflicts.isEmpty { line += ", conflicts \(reportedConflicts.count)" }
        if let pruneHeld {
            line += "; prune held: \(pruneHeld)"
        } else if options.prune, let replacing = replacingHold {
            line += "; prune held: \(replacing)"
        }
        return line
    }
}
