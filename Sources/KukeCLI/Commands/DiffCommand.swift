import ArgumentParser
import KukeEngine
import KukeHost
import KukeModel

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show, as a unified diff, every part that apply would change.",
        discussion: """
            Files (conflists, space.yaml) are diffed as text; the bridge and cgroup parts as a short \
            description of their state. Exit 0 when nothing would change, 1 when something would, 2 on \
            invalid input or when a resource cannot be reconciled.

            Examples:
              kuke diff -f examples/
              kuke diff -f space.yaml && echo "host matches"
            """)

    @OptionGroup var input: ManifestInput
    @OptionGroup var host: HostOptions
    @OptionGroup var pruning: PruneOptions

    func run() throws {
        let console = Console.current
        let resources = try input.load(console, refusingTransients: pruning.prune)
        let (layout, labels) = try host.settings(console)
        let engine = Engine(layout: layout, drivers: HostFactory.drivers(for: layout), hints: CommandHints())
        var options = ApplyOptions(dryRun: true, managedBy: pruning.owner)
        options.hostLabels = labels
        let applied = try withEngine(console, status: ExitStatus.invalid) { () throws(HostError) in
            try engine.apply(resources, options: options)
        }
        let outcomes =
            applied + (try pruning.prune(after: applied, batch: resources, engine: engine, labels: labels, dryRun: true, lock: nil, console: console))
        var differs = false
        var failed = false
        for outcome in outcomes {
            if let failure = outcome.failure {
                failed = true
                console.error("\(outcome.kind) \"\(outcome.displayName)\": \(failure.reason): \(CommandHints().text(failure))")
                continue
            }
            var shown = Set<String>()
            for change in outcome.changes {
                differs = true
                let key = "\(change.part.name) \(change.subject)"
                if let diff = change.diff {
                    console.writeOut(diff)
                } else if !shown.contains(key) {
                    let (shownKey, summary) = (VisibleText.escaped(key), VisibleText.escaped(change.summary))
                    console.writeOut("--- \(shownKey)\n+++ \(shownKey)\n# \(summary)\n")
                }
                shown.insert(key)
            }
        }
        throw ExitCode(failed ? ExitStatus.invalid : differs ? ExitStatus.failed : ExitStatus.success)
    }
}
