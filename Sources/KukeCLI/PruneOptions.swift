import ArgumentParser
import KukeEngine
import KukeModel

/// `--prune`, `--inventory`, `--allow-empty`, `--cascade` of `kuke apply` and `kuke diff`.
struct PruneOptions: ParsableArguments {
    @Flag(help: "Delete the spaces --inventory created that the manifests no longer declare, or that this host no longer selects.")
    var prune = false
    @Option(help: ArgumentHelp("Record this inventory on the spaces created (status.managedBy); --prune deletes only those.", valueName: "name"))
    var inventory: String?
    @Flag(name: .customLong("allow-empty"), help: "With --prune, allow deleting every space of the inventory.")
    var allowEmpty = false
    @Flag(help: "With --prune, also delete spaces that have children.")
    var cascade = false

    func validate() throws {
        if prune && inventory == nil { throw ValidationError("--prune needs --inventory NAME: only the spaces that inventory created are pruned") }
        if !prune && (allowEmpty || cascade) { throw ValidationError("--allow-empty and --cascade go with --prune") }
        if let inventory, let problem = Label.valueProblem(inventory, key: "inventory") ?? (inventory.isEmpty ? "is empty" : nil) {
            throw ValidationError("--inventory \"\(inventory)\": \(problem)")
        }
    }

    var owner: String? { inventory.map(Pruning.owner(inventory:)) }

    /// After a pass: the dry or real deletes of what the inventory no longer declares, or the
    /// reason nothing is pruned (printed on stderr).
    func prune(
        after outcomes: [ResourceOutcome], batch: [Resource], engine: Engine, labels: [String: String], dryRun: Bool, lock: Double?, console: Console
    )
        throws -> [ResourceOutcome]
    {
        guard prune, let owner else { return [] }
        let inventory = try withEngine(console) { () throws(HostError) in try engine.inventory() }
        let (orphans, selected) = Pruning.orphans(owner: owner, batch: batch, inventory: inventory, labels: labels)
        if let reason = Pruning.hold(outcomes: outcomes, orphans: orphans, selected: selected, allowEmpty: allowEmpty, hints: CommandHints()) {
            console.error("prune held: \(reason)")
            return []
        }
        guard !orphans.isEmpty else { return [] }
        return try withEngine(console) { () throws(HostError) in
            try engine.delete(orphans.map(DeleteTarget.space), cascade: cascade, dryRun: dryRun, lockTimeout: lock)
        }
    }
}
