import KukeModel

/// The isolation table through one pass: in the kernel before the first bridge of the pass
/// (`preinstallFirewall`), brought to the spaces the pass made and read back before any record
/// says `Ready` (`settleFirewall`), then every recorded space whose rules the kernel does not
/// hold is failed (`finishFirewall`).
extension Engine {
    /// The table as one step of a pass left it: the spaces it was written for, its outcome (nil
    /// when nothing changed), and whether the kernel was read to hold exactly those rules.
    struct FirewallStep {
        var spaces: [FirewallSpace]
        /// The `kuke-*` bridges no record describes that it gives a same-bridge accept.
        var unrecorded: [String]
        var outcome: ResourceOutcome?
        var verified: Bool
        /// The table holds another run path's spaces (see `convergeFirewall`).
        var foreign = false
    }

    /// What the pass leaves: the table's outcome, the spaces whose rules the kernel holds, and
    /// the recorded spaces the table cannot hold (each with why).
    struct SettledFirewall {
        var outcome: ResourceOutcome?
        var held: Set<SpaceID>
        var refused: [SpaceID: Failure]
        /// Why the table could not be written or read back, when it could not.
        var failure: Failure?
        /// The table holds another run path's spaces: their bridges are not this one's to report.
        var foreign = false

        /// Why the kernel does not hold the rules of the recorded space `id`; nil when it does.
        func failure(of id: SpaceID) -> Failure? {
            held.contains(id) ? nil : refused[id] ?? Engine.unheld(failure)
        }
    }

    /// The table with every recorded space and every space of the batch as its manifest says,
    /// before the pass makes anything: the `kuke-*` rules are in the kernel before the first
    /// bridge, and a new space's same-bridge accept and egress chain before its bridge (`iifname`
    /// matches by name, so a rule for a bridge about to be created is harmless). A bridge name
    /// the resolver ends up changing gets nothing open until `settleFirewall`. With `regenerate`
    /// (`init --force-regenerate-cni`), a recorded name the table cannot hold is replaced by the
    /// name the repair gives.
    func preinstallFirewall(_ batch: [Resource], inventory: Inventory, context: PassContext, regenerate: Bool) -> FirewallStep? {
        guard drivers.firewall != nil else { return nil }
        var spaces = Dictionary(uniqueKeysWithValues: firewallSpaces(inventory).spaces.map { ($0.id, $0) })
        var bridges = Dictionary(spaces.values.map { ($0.bridge, $0.id) }, uniquingKeysWith: { first, _ in first })
        // A space whose realm is nowhere fails before any part; it would only churn the table.
        var realms = Set(inventory.realms.keys)
        for case .realm(let realm) in batch { realms.insert(realm.metadata.name) }
        for case .space(let manifest) in batch where realms.contains(manifest.id.realm) {
            let stored = inventory.spaces[manifest.id]
            let recorded = stored?.status.network?.bridge
            let repaired = regenerate && recorded.map { FirewallPlanner.violation(ofBridge: $0) != nil } == true
            let bridge = repaired ? BridgeName.make(for: manifest.id) : recorded ?? BridgeName.make(for: manifest.id)
            // A conflict or a name the table cannot hold: the pass reports it.
            guard bridges[bridge].map({ $0 == manifest.id }) ?? true, FirewallPlanner.violation(ofBridge: bridge) == nil else { continue }
            let policy = manifest.spec.egress
            spaces[manifest.id] = FirewallSpace(
                id: manifest.id, bridge: bridge, egress: FirewallSpace.allows(policy, resolved: stored?.status.egress))
            bridges[bridge] = manifest.id
        }
        let ordered = spaces.values.sorted { $0.id < $1.id }
        let unrecorded = inventory.unrecordedBridges.filter { bridges[$0] == nil }
        let converged = convergeFirewall(ordered, unrecorded: unrecorded, inventory: inventory, context: context)
        return FirewallStep(
            spaces: ordered, unrecorded: unrecorded, outcome: converged.outcome, verified: converged.verified, foreign: converged.foreign)
    }

    /// Brings the table to the spaces the inventory records now (after the pass's bridges, before
    /// its `Ready` records) and reads it back. When that is what `preinstalled` already wrote and
    /// read back, the kernel is not asked again.
    func settleFirewall(preinstalled: FirewallStep?, inventory: Inventory, context: PassContext) -> SettledFirewall? {
        guard let firewall = drivers.firewall else { return nil }
        let (spaces, refused) = firewallSpaces(inventory)
        let ordered = spaces.sorted { $0.id < $1.id }
        let ids = Set(ordered.map(\.id))
        let unrecorded = inventory.unrecordedBridges
        if let preinstalled, preinstalled.verified, preinstalled.spaces == ordered, preinstalled.unrecorded == unrecorded {
            return SettledFirewall(outcome: preinstalled.outcome, held: ids, refused: refused, foreign: preinstalled.foreign)
        }
        var assumed: ObservedFirewall?
        if context.dryRun, let preinstalled, case .replaceFirewall? = preinstalled.outcome?.changes.last?.operation {
            assumed = FirewallPlanner.written(
                preinstalled.spaces, unrecorded: preinstalled.unrecorded, owner: FirewallPlanner.owner(runPath: layout.runPath))
        }
        let converged = convergeFirewall(ordered, unrecorded: unrecorded, inventory: inventory, context: context, assumed: assumed)
        let outcome = Self.merged(preinstalled?.outcome, converged.outcome)
        if converged.verified { return SettledFirewall(outcome: outcome, held: ids, refused: refused, foreign: converged.foreign) }
        let failure = converged.outcome?.failure ?? Failure(.firewallFailed, "table \(FirewallPlanner.table) was not read back as written")
        let held = (try? firewall.observe())?.holding(ordered) ?? []
        return SettledFirewall(outcome: outcome, held: held, refused: refused, failure: failure)
    }

    /// Appends the table's outcome (with a warning for each `kuke-*` bridge no record describes),
    /// then fails closed: every recorded space whose rules the kernel does not hold (left out of
    /// the table, or the table could not be written) is reported failed if the pass handled it,
    /// and its record, if `Ready`, becomes `Failed`. A dry run predicts the same without writing.
    func finishFirewall(_ settled: SettledFirewall?, inventory: inout Inventory, outcomes: inout [ResourceOutcome], context: PassContext) {
        guard let settled else { return }
        var table = settled.outcome
        let warnings = settled.foreign ? [] : inventory.unrecordedBridgeWarnings
        if !warnings.isEmpty {
            if table == nil { table = ResourceOutcome(kind: .firewall, realm: nil, name: FirewallPlanner.table, outcome: .unchanged) }
            table?.warnings += warnings
        }
        if let table { outcomes.append(table) }
        let recorder = SpaceReconciler(context: context)
        for record in inventory.spaces.values where record.status.network != nil {
            guard let failure = settled.failure(of: record.id) else { continue }
            if let index = outcomes.firstIndex(where: { $0.kind == .space && $0.realm == record.id.realm && $0.name == record.id.name }),
                outcomes[index].failure == nil
            {
                outcomes[index].outcome = .failed
                outcomes[index].failure = failure
            }
            if !context.dryRun, record.status.state == .ready { recorder.recordFailure(failure, on: record, inventory: &inventory) }
        }
    }

    /// The failure of a space whose rules the kernel does not hold.
    static func unheld(_ cause: Failure?) -> Failure {
        Failure(
            .firewallFailed,
            "the kernel holds no isolation or egress rules for this space (table \(FirewallPlanner.table) was not written\(cause.map { ": \($0.message)" } ?? "")); its bridge stays closed to other spaces and to the outside; apply again once the table can be written"
        )
    }

    /// The spaces the isolation table is built from, and the recorded spaces it cannot hold, each
    /// with why: a bridge name nftables cannot name (an old conflist's), or a bridge another space
    /// created earlier also records. Those fail on their own; every other space keeps its rules.
    func firewallSpaces(_ inventory: Inventory) -> (spaces: [FirewallSpace], refused: [SpaceID: Failure]) {
        var spaces: [FirewallSpace] = []
        var refused: [SpaceID: Failure] = [:]
        for record in inventory.spaces.values {
            guard let space = FirewallSpace(record: record) else { continue }
            if let problem = FirewallPlanner.violation(ofBridge: space.bridge) {
                refused[space.id] = Failure(
                    .bridgeNameInvalid,
                    "recorded bridge name \"\(space.bridge)\" \(problem), so the isolation table cannot hold the space's rules (it is isolated and has no egress)",
                    hint: .regenerateNetwork(.validName(who: "it")))
            } else if let conflict = inventory.networkConflict(of: space.id), conflict.reason == .bridgeConflict {
                refused[space.id] = conflict
            } else {
                spaces.append(space)
            }
        }
        return (spaces, refused)
    }

    /// One outcome for the table from the change made before the spaces and the one after.
    static func merged(_ before: ResourceOutcome?, _ after: ResourceOutcome?) -> ResourceOutcome? {
        guard var first = before else { return after }
        guard let after else { return first }
        if after.failure != nil || first.failure != nil {
            var failed = after.failure != nil ? after : first
            failed.changes = first.changes + after.changes
            return failed
        }
        first.changes += after.changes
        if first.outcome != .created { first.outcome = after.outcome }
        return first
    }

    /// The isolation table brought to `spaces` (a fifth driver shared by all spaces), and whether
    /// the kernel was read to hold it: as it was (the summary matched), or as written (read back
    /// after the write). The outcome only when it changed or failed.
    /// - Parameter assumed: the table as an earlier step of this dry run would have left it, in
    ///   place of the kernel's, so the dry run predicts the real run's changes.
    func convergeFirewall(
        _ spaces: [FirewallSpace], unrecorded: [String], inventory: Inventory, context: PassContext, assumed: ObservedFirewall? = nil
    ) -> (outcome: ResourceOutcome?, verified: Bool, foreign: Bool) {
        guard let firewall = drivers.firewall else { return (nil, false, false) }
        var outcome = ResourceOutcome(kind: .firewall, realm: nil, name: FirewallPlanner.table, outcome: .unchanged)
        // A space whose record cannot be read still has its bridge: the `kuke-*` rules keep it
        // closed, but rebuilding the table without it would drop its same-bridge and egress
        // rules, so the table is left as it is.
        let unreadable = inventory.unreadable.keys.filter { $0.hasSuffix("/space.yaml") }.sorted()
        if let first = unreadable.first {
            outcome.outcome = .failed
            outcome.failure = Failure(
                .firewallFailed,
                "table \(FirewallPlanner.table) left as it is while \(first)\(unreadable.count > 1 ? " and \(unreadable.count - 1) more" : "") cannot be read (its rules would be dropped); fix or remove it"
            )
            return (outcome, false, false)
        }
        do {
            // The summary (no listing) decides; the listing is read only for a rewrite's diff.
            let observed = if let assumed { assumed.summary } else { try firewall.summary() }
            let owner = FirewallPlanner.owner(runPath: layout.runPath)
            // One table per network namespace: a kuke with another run path (a test, a second
            // install) neither rewrites nor deletes the spaces of the one that wrote it. A table
            // that holds no space (the kuke-* rules alone) is taken over: nothing of it is lost.
            if let observed, let holder = observed.owner, holder != owner, observed.fingerprint != FirewallPlanner.desired([]).fingerprint {
                guard !spaces.isEmpty else { return (nil, true, true) }  // nothing of this run path's to hold; its kuke-* rules stand
                outcome.outcome = .failed
                outcome.failure = Failure(
                    .firewallOwnedElsewhere,
                    "table \(FirewallPlanner.table) holds the spaces of the kuke whose run path is \(holder.dropFirst(4)), not this one (\(layout.runPath)); it is one table per network namespace, so kuke leaves it as it is: run with that --run-path, or delete that run path's spaces first (the table was not changed)"
                )
                return (outcome, false, true)
            }
            let listed = { () throws(HostError) -> ObservedFirewall? in
                if let assumed { return assumed }
                return try firewall.observe()
            }
            let digestPath = layout.firewallDigestPath
            let recorded = assumed == nil ? ((try? drivers.files.read(digestPath)) ?? nil).flatMap(FirewallDigest.init(text:)) : nil
            let desired = FirewallPlanner.desired(spaces, unrecorded: unrecorded, owner: owner)
            // The digest of the kernel's rules, recorded for the passes after (best effort: a
            // record that cannot be written only costs the next pass a listing).
            func record(_ digest: String?) {
                guard let digest, recorded != FirewallDigest(fingerprint: desired.fingerprint, digest: digest) else { return }
                try? drivers.files.write(digestPath, FirewallDigest(fingerprint: desired.fingerprint, digest: digest).text, mode: 0o644)
            }
            guard let change = try FirewallPlanner.plan(desired, summary: observed, recorded: recorded, observed: listed) else {
                // As desired: listed and compared as data when the digest was not the recorded
                // one (a lost record of it), which is recorded now, so the next pass need not list.
                if !context.dryRun { record(observed?.digest) }
                return (nil, true, false)
            }
            outcome.changes = [change]
            outcome.outcome = change.action == .create ? .created : .updated
            if context.dryRun { return (outcome, true, false) }
            try context.perform(change)
            // Read back: the kernel holds what was written (its fingerprint, owner and every
            // rule); the digest of its rules is recorded for the passes after.
            let after = try firewall.summary()
            guard let after, FirewallPlanner.summaryMatches(after, desired) else {
                outcome.outcome = .failed
                outcome.failure = Failure(
                    .firewallFailed,
                    "table \(FirewallPlanner.table) was written, but the kernel holds \(after.map { "\($0.ruleCount) rules, fingerprint \($0.fingerprint ?? "none")" } ?? "no table") (expected \(desired.ruleCount) rules, fingerprint \(desired.fingerprint))"
                )
                return (outcome, false, false)
            }
            record(after.digest)
        } catch {
            outcome.outcome = .failed
            outcome.failure = Failure.host(.firewallFailed, error)
            return (outcome, false, false)
        }
        return (outcome, true, false)
    }
}
