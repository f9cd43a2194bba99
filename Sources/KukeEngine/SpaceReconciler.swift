import Foundation
import KukeModel

/// Converges spaces: resolve each one's network, let each part (`PassContext.parts`) plan
/// against it, and apply in the order metadata (Pending) → the parts, in phase order → metadata
/// (Ready) (see `reconcileAll`).
public struct SpaceReconciler: Sendable {
    public var context: PassContext
    public var regenerateConflist: Bool

    /// Recorded as `status.managedBy` on spaces this pass creates (`kuke watch`).
    public var managedBy: String?

    public init(context: PassContext, regenerateConflist: Bool = false, managedBy: String? = nil) {
        self.context = context
        self.managedBy = managedBy
        self.regenerateConflist = regenerateConflist
    }

    /// What one space needs, worked out before anything changes.
    struct Plan {
        var record: SpaceRecord
        /// Temporary files interrupted writes left beside the space's record.
        var leftovers: [Change]
        /// Each part's changes, in the order of `PassContext.parts`.
        var parts: [PartChanges]
        var metadata: Change?
        var pendingFirst: Bool
        /// What the space converges without: egress hosts that did not resolve (the firewall keeps
        /// their last known addresses, or none), limits whose controller is unavailable. The other
        /// parts converge and the outcome fails so the operator sees it.
        var softFailure: Failure?
        /// What the operator should know and the space does not fail for (resolvers left out of `dns: allow`).
        var warnings: [String] = []

        var all: [Change] { leftovers + parts.flatMap(\.changes) + (metadata.map { [$0] } ?? []) }
    }

    /// The changes one part planned for a space, and its phase.
    struct PartChanges {
        var phase: Int
        var changes: [Change]
    }

    /// A dry run of one space: its plan, as the outcome's changes, and what the plan would leave
    /// (the record in the inventory, the cgroups in the context's prediction), so the spaces
    /// after it are planned as the real run would plan them. Real runs go through `reconcileAll`.
    func dryRun(_ manifest: SpaceManifest, inventory: inout Inventory) -> ResourceOutcome {
        let id = manifest.id
        var outcome = ResourceOutcome(kind: .space, realm: id.realm, name: id.name, outcome: .unchanged)
        let stored = inventory.spaces[id]
        let plan: Plan
        do {
            plan = try makePlan(manifest, stored: stored, inventory: inventory)
            outcome.warnings = context.foreignClaims.takeUnreadable() + plan.warnings
        } catch {
            outcome.warnings = context.foreignClaims.takeUnreadable()
            outcome.outcome = .failed
            outcome.failure = error
            return outcome
        }
        outcome.changes = plan.all
        if !plan.all.isEmpty {
            outcome.outcome = stored == nil ? .created : .updated
            context.pretend(plan.all)
            inventory.set(id, plan.record)
        }
        if let softFailure = plan.softFailure {
            outcome.outcome = .failed
            outcome.failure = softFailure
        }
        return outcome
    }

    func makePlan(_ manifest: SpaceManifest, stored: SpaceRecord?, inventory: Inventory) throws(Failure) -> Plan {
        let id = manifest.id
        if let problem = inventory.cgroupRootProblem { throw Failure(.cgroupRootInvalid, problem) }
        guard inventory.realms[id.realm] != nil else {
            throw Failure(.realmNotFound, "realm \"\(id.realm)\" not found", hint: .createRealm(id.realm))
        }
        if let error = inventory.unreadable[context.layout.spaceRecordPath(id)] {
            throw Failure(.recordUnreadable, "\(error); fix or remove the file")
        }
        if stored == nil, let twin = inventory.caseTwin(of: id) {
            throw Failure(
                .nameConflict,
                "space \(id) differs only in case from space \(twin), which exists; names that differ only in case are one name to whoever reads them: rename this one"
            )
        }
        let desiredPath = context.layout.conflistPath(id, cniConfigPath: manifest.spec.cniConfigPath)
        let primaryText = try context.readConflist(desiredPath)
        let directory = manifest.spec.cniConfigPath ?? context.layout.cniConfigDirectory
        let dualStack = manifest.spec.wantsIPv6(realm: inventory.realms[id.realm]?.spec)
        let ipv6 =
            dualStack
            ? NetworkResolver.IPv6Request(
                pool: { [context] () throws(Failure) in try context.ipv6Pool() },
                foreignClaims: { [context] in context.foreignClaims6(inventory: inventory, directory: directory) },
                occupied: { [context] () throws(Failure) in
                    do throws(HostError) { return inventory.foreign(try context.drivers.links.occupied6()) } catch {
                        throw Failure.host(.bridgeFailed, error)
                    }
                })
            : nil
        let network = try NetworkResolver(layout: context.layout, regenerate: regenerateConflist)
            .resolve(
                id, spec: manifest.spec, stored: stored, conflistOnDisk: primaryText, inventory: inventory,
                foreignClaims: { context.foreignClaims(inventory: inventory, directory: directory) }, ipv6: ipv6)

        let desired = DesiredSpace(
            manifest: manifest, stored: stored, inventory: inventory, network: network, dualStack: dualStack, regenerate: regenerateConflist,
            conflistOnDisk: primaryText)
        var status = SpaceStatus(
            state: .ready, reason: nil, message: nil, network: network, createdAt: stored?.status.createdAt ?? context.now,
            updatedAt: context.now, readyAt: stored?.status.readyAt ?? context.now)
        var parts: [PartChanges] = []
        var partLeftovers: [Change] = []
        var softFailures: [Failure] = []
        var warnings: [String] = []
        for part in context.parts {
            let planned = try part.plan(desired, status: &status, context: context)
            parts.append(PartChanges(phase: part.phase, changes: planned.changes))
            partLeftovers += planned.leftovers
            if let soft = planned.softFailure { softFailures.append(soft) }
            warnings += planned.warnings
        }

        // metadata
        let specChanged = stored.map { $0.spec != manifest.spec } ?? true
        let generation = Generation.next(stored?.metadata.generation, specChanged: specChanged)
        var metadata = manifest.metadata
        metadata.generation = generation
        status.observedGeneration = generation
        status.managedBy = stored == nil ? managedBy : stored?.status.managedBy
        status.bootId = context.bootID
        status.source = manifest.origin.isFile ? manifest.origin.absoluteFile ?? manifest.origin.document.file : stored?.status.source
        let egress = resolveEgress(manifest.spec.egress, stored: stored?.status.egress, ipv6: network.ipv6Subnet != nil)
        status.egress = egress.status
        if let egressFailure = egress.failure { softFailures.append(egressFailure) }
        if let failure = softFailures.first {
            status.state = .failed
            status.reason = failure.reason
            status.message = context.hints.text(failure)
        }
        let record = SpaceRecord(metadata: metadata, spec: manifest.spec, status: status)
        let recordPath = context.layout.spaceRecordPath(id)
        let metadataChange = MetadataPlanner.plan(
            path: recordPath, desired: RecordCodec.value(of: record), stored: stored.map(RecordCodec.value(of:)),
            storedText: inventory.recordTexts[recordPath], mode: MetadataPlanner.spaceMode)
        let partsChange = parts.contains { !$0.changes.isEmpty }
        let pendingFirst = stored == nil || specChanged || stored?.status.network != network || (partsChange && stored?.status.state != .ready)
        let leftovers =
            LeftoverPlanner.plan([recordPath, context.layout.conflistCopyPath(id)], part: .metadata, files: context.drivers.files) + partLeftovers
        return Plan(
            record: record, leftovers: leftovers, parts: parts, metadata: metadataChange, pendingFirst: pendingFirst,
            softFailure: softFailures.first, warnings: warnings + egress.warnings)
    }

    /// Looks up the hosts of a `default: deny` policy, and reads the host's resolvers for
    /// `dns: allow`. A host that does not resolve keeps the addresses recorded last time (none
    /// for a new host), and resolvers that cannot be read keep the ones recorded, so a passing
    /// DNS outage or a resolv.conf being rewritten neither opens nor closes anything; the
    /// failure is reported.
    func resolveEgress(_ policy: EgressPolicy?, stored: EgressStatus?, ipv6: Bool = false) -> (
        status: EgressStatus?, failure: Failure?, warnings: [String]
    ) {
        guard let policy, !policy.hosts.isEmpty || policy.allowsDNS else { return (nil, nil, []) }
        var nameservers: [IPv4Address]?
        var warnings: [String] = []
        var unreadable: String?
        if policy.allowsDNS {
            do {
                let found = try context.drivers.resolver.nameservers()
                nameservers = found.addresses
                warnings = found.skipped.map { "dns: allow: left out \($0)" }
            } catch {
                let kept = stored?.nameservers ?? []
                nameservers = kept
                unreadable =
                    "dns: allow: " + error.message
                    + (kept.isEmpty ? " (no DNS allowed until it can be read)" : " (keeping the \(kept.count) resolver(s) read before)")
            }
        }
        var resolved: [EgressStatus.Resolved] = []
        var problems: [String] = []
        for host in policy.hosts {
            // A dual-stack space looks up both families: a host with addresses of either resolved.
            var found4: [IPv4Address]?
            var found6: [IPv6Address]?
            var failure4: HostError?
            var failure6: HostError?
            do { found4 = try context.drivers.resolver.resolveIPv4(host) } catch { failure4 = error }
            if ipv6 {
                do { found6 = try context.drivers.resolver.resolveIPv6(host) } catch { failure6 = error }
            }
            let failure = failure4 ?? failure6
            if found4 != nil || found6 != nil {
                // One family looked up, the other not: a temporary failure (EAGAIN: a resolver
                // outage) keeps that family's recorded addresses, so an outage closes nothing.
                func kept<A>(_ stored: [A], _ found: [A]?, _ error: HostError?) -> [A] {
                    found ?? (error?.errno == .resourceTemporarilyUnavailable ? stored : [])
                }
                resolved.append(
                    .init(
                        host: host, addresses: kept(stored?.addresses(of: host) ?? [], found4, failure4),
                        addresses6: ipv6 ? kept(stored?.addresses6(of: host) ?? [], found6, failure6) : []))
                continue
            }
            let kept = stored?.addresses(of: host) ?? []
            let kept6 = ipv6 ? stored?.addresses6(of: host) ?? [] : []
            resolved.append(.init(host: host, addresses: kept, addresses6: kept6))
            let count = kept.count + kept6.count
            problems.append(
                (failure?.message ?? "egress host \"\(host)\" did not resolve")
                    + (count == 0 ? " (not allowed until it resolves)" : " (keeping \(count) address(es) resolved before)"))
        }
        var failure = problems.isEmpty ? nil : Failure(.egressHostUnresolved, problems.joined(separator: "; "))
        if let unreadable {
            failure = failure.map { Failure($0.reason, $0.message + "; " + unreadable) } ?? Failure(.nameserversUnavailable, unreadable)
        }
        return (EgressStatus(resolved: resolved, nameservers: nameservers), failure, warnings)
    }

    /// Marks a stored space `Failed` with the reason; best effort, the outcome already carries the failure.
    func recordFailure(_ failure: Failure, on record: SpaceRecord, inventory: inout Inventory) {
        var failed = record
        failed.status.state = .failed
        failed.status.reason = failure.reason
        failed.status.message = context.hints.text(failure)
        failed.status.updatedAt = context.now
        failed.status.bootId = context.bootID
        if failed.status == record.status.with(updatedAt: context.now) && record.status.state == .failed { return }
        if (try? context.writeRecord(failed)) != nil { inventory.set(record.id, failed) }
    }
}

extension SpaceStatus {
    func with(updatedAt date: Date?) -> SpaceStatus {
        var copy = self
        copy.updatedAt = date
        return copy
    }
}
