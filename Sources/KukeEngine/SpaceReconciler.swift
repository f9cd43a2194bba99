import Foundation
import KukeModel

/// Converges spaces: observe each one's four parts, plan per driver, and apply in the order
/// metadata (Pending) → cgroup → conflist → bridge → metadata (Ready) (see `reconcileAll`).
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
        /// Temporary files interrupted writes left beside the space's files.
        var leftovers: [Change]
        var cgroup: [Change]
        var conflist: [Change]
        var bridge: [Change]
        var metadata: Change?
        var pendingFirst: Bool
        /// What the space converges without: egress hosts that did not resolve (the firewall keeps
        /// their last known addresses, or none), limits whose controller is unavailable. The other
        /// parts converge and the outcome fails so the operator sees it.
        var softFailure: Failure?
        /// What the operator should know and the space does not fail for (resolvers left out of `dns: allow`).
        var warnings: [String] = []

        var parts: [Change] { leftovers + cgroup + conflist + bridge }
        var all: [Change] { parts + (metadata.map { [$0] } ?? []) }
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
            throw Failure(.realmNotFound, "realm \"\(id.realm)\" not found; declare it in the batch or run `kuke create realm \(id.realm)`")
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
        let primaryText = try read(desiredPath)
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

        // cgroup
        let cgroupPath = context.layout.spaceCgroup(id)
        // A new space goes where its realm is: never beside a realm cgroup the settings moved.
        try CgroupMove.check(
            recorded: inventory.realms[id.realm]?.status.cgroupPath, current: context.layout.realmCgroup(id.realm), of: "realm \(id.realm)",
            context: context)
        try CgroupMove.check(recorded: stored?.status.cgroupPath, current: cgroupPath, of: "space \(id)", context: context)
        let levels = [context.layout.kukeonCgroup, context.layout.realmCgroup(id.realm), cgroupPath]
        let observedCgroups = try context.observeCgroups([context.layout.cgroupRoot] + levels)
        let resources = ResourcePlanner.plan(
            path: cgroupPath, root: context.layout.cgroupRoot, limits: ResourceLimits(manifest.spec.resources), stored: stored?.status.resources,
            offered: inventory.offeredControllers, available: inventory.availableControllers,
            pageSizes: { context.drivers.cgroups.hugePageSizes() },
            read: { file in try? context.drivers.cgroups.readFile(file, in: cgroupPath) })
        let cgroupChanges =
            CgroupPlanner.plan(
                root: context.layout.cgroupRoot, levels: levels, offered: inventory.offeredControllers, observed: observedCgroups,
                managed: context.layout.managedControllers) + resources.changes

        // conflist
        var previousPath: String?
        if let recordedPath = stored?.status.network?.conflistPath, recordedPath != network.conflistPath, try read(recordedPath) != nil {
            previousPath = recordedPath
        }
        let conflist = Conflist(networkName: network.name, bridge: network.bridge, subnet: network.subnet, ipv6Subnet: network.ipv6Subnet)
        let observedConflist = ConflistPlanner.Observed(
            primary: primaryText, copy: try read(context.layout.conflistCopyPath(id)), previousPath: previousPath)
        var conflistChanges = ConflistPlanner.plan(
            desired: conflist, path: network.conflistPath, copyPath: context.layout.conflistCopyPath(id), observed: observedConflist,
            rewrite: regenerateConflist)
        if let old = stored?.status.network {
            // A repair (`--force-regenerate-cni`) that moved the space off a name or range it may not use says so.
            var moves: [String] = []
            if old.bridge != network.bridge { moves.append("bridge \(old.bridge) -> \(network.bridge)") }
            if old.subnet != network.subnet { moves.append("subnet \(old.subnet) -> \(network.subnet)") }
            if let before = old.ipv6Subnet, let after = network.ipv6Subnet, before != after { moves.append("IPv6 network \(before) -> \(after)") }
            if !moves.isEmpty, !conflistChanges.isEmpty { conflistChanges[0].summary += " (\(moves.joined(separator: ", ")))" }
        }

        // bridge
        var bridgeChanges = try BridgePlanner.plan(
            name: network.bridge, observed: inventory.network.links[network.bridge], ipv6: dualStack,
            wasDualStack: stored?.status.network?.ipv6Subnet != nil)
        if let oldBridge = stored?.status.network?.bridge, oldBridge != network.bridge, inventory.network.links[oldBridge]?.kind == .bridge,
            inventory.bridgeOwner(oldBridge) == id  // a bridge another space owns stays with it
        {
            bridgeChanges.append(
                Change(
                    part: .bridge, action: .delete, subject: oldBridge, summary: "delete bridge \(oldBridge) (renamed to \(network.bridge))",
                    operation: .deleteLink(name: oldBridge)))
        }

        // metadata
        let specChanged = stored.map { $0.spec != manifest.spec } ?? true
        let generation = Generation.next(stored?.metadata.generation, specChanged: specChanged)
        var metadata = manifest.metadata
        metadata.generation = generation
        var status = SpaceStatus(
            state: .ready, reason: nil, message: nil, cgroupPath: cgroupPath, cgroupReady: true,
            subtreeControllers: CgroupPlanner.predictedSubtree(
                of: cgroupPath, offered: inventory.offeredControllers, observed: observedCgroups, managed: context.layout.managedControllers),
            network: network, createdAt: stored?.status.createdAt ?? context.now, updatedAt: context.now,
            readyAt: stored?.status.readyAt ?? context.now, observedGeneration: generation)
        status.slice = context.layout.spaceSlice(id)
        status.managedBy = stored == nil ? managedBy : stored?.status.managedBy
        status.bootId = context.bootID
        status.source = manifest.origin.isFile ? manifest.origin.absoluteFile ?? manifest.origin.document.file : stored?.status.source
        let egress = resolveEgress(EgressPolicy(network: manifest.spec.network), stored: stored?.status.egress, ipv6: network.ipv6Subnet != nil)
        status.egress = egress.status
        status.resources = resources.written
        if let failure = resources.failure ?? egress.failure {
            status.state = .failed
            status.reason = failure.reason
            status.message = failure.message
        }
        let record = SpaceRecord(metadata: metadata, spec: manifest.spec, status: status)
        let recordPath = context.layout.spaceRecordPath(id)
        let metadataChange = MetadataPlanner.plan(
            path: recordPath, desired: RecordCodec.value(of: record), stored: stored.map(RecordCodec.value(of:)),
            storedText: inventory.recordTexts[recordPath], mode: MetadataPlanner.spaceMode)
        let partsChange = !(cgroupChanges.isEmpty && conflistChanges.isEmpty && bridgeChanges.isEmpty)
        let pendingFirst = stored == nil || specChanged || stored?.status.network != network || (partsChange && stored?.status.state != .ready)
        let files = context.drivers.files
        let leftovers =
            LeftoverPlanner.plan([recordPath, context.layout.conflistCopyPath(id)], part: .metadata, files: files)
            + LeftoverPlanner.plan(
                Array(Set([network.conflistPath] + (stored?.status.network.map { [$0.conflistPath] } ?? []))).sorted(), part: .conflist,
                files: files)
        return Plan(
            record: record, leftovers: leftovers, cgroup: cgroupChanges, conflist: conflistChanges, bridge: bridgeChanges,
            metadata: metadataChange, pendingFirst: pendingFirst, softFailure: resources.failure ?? egress.failure, warnings: egress.warnings)
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

    func read(_ path: String) throws(Failure) -> String? {
        do { return try context.drivers.files.read(path) } catch { throw Failure.host(.conflistReadFailed, error) }
    }

    func readBackControllers(_ id: SpaceID) throws(Failure) -> [String] {
        do {
            let managed = context.layout.managedControllers
            return (try context.drivers.cgroups.observe(context.layout.spaceCgroup(id))?.subtreeControl ?? []).filter { !managed.contains($0) }
                .sorted()
        } catch {
            throw Failure.host(.cgroupFailed, error)
        }
    }

    /// Marks a stored space `Failed` with the reason; best effort, the outcome already carries the failure.
    func recordFailure(_ failure: Failure, on record: SpaceRecord, inventory: inout Inventory) {
        var failed = record
        failed.status.state = .failed
        failed.status.reason = failure.reason
        failed.status.message = failure.message
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
