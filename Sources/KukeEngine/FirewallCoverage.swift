import KukeModel

extension FirewallPlanner {
    /// Why the bridge name `name` cannot be written into the table's rules and chain names
    /// (`iifname "<name>"`, `egress_<name>`), or nil when it can.
    public static func violation(ofBridge name: String) -> String? {
        if let problem = BridgeName.violation(of: name) { return problem }
        let allowed = name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == ".")
        }
        return allowed ? nil : "contains a character the isolation table cannot name (only letters, digits, '-' and '.')"
    }

    /// The rules of each chain, as `lines(of:)` gives them, keyed by the chain's header line.
    static func rulesByChain(_ lines: [String]) -> [String: Set<String>] {
        var chains: [String: Set<String>] = [:]
        var current = ""
        for line in lines {
            if line.hasPrefix("chain ") {
                current = line
                chains[current, default: []] = chains[current] ?? []
            } else {
                chains[current, default: []].insert(line)
            }
        }
        return chains
    }
}

extension ObservedFirewall {
    /// The spaces among `spaces` whose every rule is in the table: the isolation rule, and for a
    /// space that denies egress its jump and its chain with each allow rule and the final drop.
    public func holding(_ spaces: [FirewallSpace]) -> Set<SpaceID> {
        let observed = FirewallPlanner.rulesByChain(lines)
        var held: Set<SpaceID> = []
        for space in spaces {
            let wanted = FirewallPlanner.rulesByChain(FirewallPlanner.lines(of: FirewallPlanner.desired([space]).script))
            if wanted.allSatisfy({ chain, rules in observed[chain].map(rules.isSubset(of:)) ?? false }) { held.insert(space.id) }
        }
        return held
    }
}

extension Engine {
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
                    "recorded bridge name \"\(space.bridge)\" \(problem), so the isolation table cannot hold the space's rules (it has no isolation or egress policy); run `kuke init --force-regenerate-cni` to give it a valid name"
                )
            } else if let conflict = inventory.networkConflict(of: space.id), conflict.reason == .bridgeConflict {
                refused[space.id] = conflict
            } else {
                spaces.append(space)
            }
        }
        return (spaces, refused)
    }

    /// Brings the table to the spaces the pass left, appends its outcome, then fails closed: every
    /// recorded space whose rules the kernel does not hold (left out of the table, or the table
    /// could not be written) is reported failed if the pass handled it, and its record, if `Ready`,
    /// becomes `Failed`. A dry run predicts the same without writing.
    func finishFirewall(preinstalled: Preinstalled?, inventory: inout Inventory, outcomes: inout [ResourceOutcome], context: PassContext) {
        guard let firewall = drivers.firewall else { return }
        let (spaces, refused) = firewallSpaces(inventory)
        var assumed: ObservedFirewall?
        if context.dryRun, let preinstalled, case .replaceFirewall? = preinstalled.outcome.changes.last?.operation {
            assumed = FirewallPlanner.written(preinstalled.spaces, owner: FirewallPlanner.owner(runPath: layout.runPath))
        }
        let converged = convergeFirewall(spaces, inventory: inventory, context: context, assumed: assumed)
        if let table = Self.merged(preinstalled?.outcome, converged) { outcomes.append(table) }
        let held: Set<SpaceID>
        if converged?.failure == nil {
            held = Set(spaces.map(\.id))  // written now, already as desired, or (dry run) what the real run writes
        } else {
            held = (try? firewall.observe())?.holding(spaces) ?? []
        }
        let cause = converged?.failure.map { ": \($0.message)" } ?? ""
        let recorder = SpaceReconciler(context: context)
        for record in inventory.spaces.values where record.status.network != nil && !held.contains(record.id) {
            let failure =
                refused[record.id]
                ?? Failure(
                    .firewallFailed,
                    "the kernel holds no isolation or egress rules for this space (table \(FirewallPlanner.table) was not written\(cause)); apply again once the table can be written"
                )
            if let index = outcomes.firstIndex(where: { $0.kind == "Space" && $0.realm == record.id.realm && $0.name == record.id.name }),
                outcomes[index].failure == nil
            {
                outcomes[index].outcome = .failed
                outcomes[index].failure = failure
            }
            if !context.dryRun, record.status.state == .ready { recorder.recordFailure(failure, on: record, inventory: &inventory) }
        }
    }
}
