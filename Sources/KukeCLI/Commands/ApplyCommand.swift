import ArgumentParser
import KukeEngine
import KukeHost

struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create or update realms and spaces so the host matches the manifests.",
        discussion: """
            Every manifest is parsed and validated first; any problem is printed as FILE:LINE:COLUMN and \
            nothing changes (exit 2). Then each resource is observed, compared and converged. Exit 1 when \
            some resource failed.

            A resource whose spec.hostSelector (or its realm's) does not select this host is skipped; a \
            suspended space is left as it is. With --prune --inventory NAME, the spaces NAME created \
            that the manifests no longer declare (or this host no longer selects) are deleted after a \
            pass in which every resource succeeded. Under --prune, a manifest file being replaced (empty \
            or only whitespace, a dangling link, a directory named like a manifest, a file gone while \
            read) is an error like an invalid file: nothing changes (exit 2). A one-shot apply does not \
            wait for a grace as kuke watch --prune-grace does: run it on a finished checkout.

            Examples:
              kuke apply -f examples/
              kuke apply -f space.yaml --dry-run
              cat space.yaml | kuke apply -f - -o json
              kuke apply -f /srv/manifests/ --prune --inventory web --dry-run
            """)

    @OptionGroup var input: ManifestInput
    @OptionGroup var host: HostOptions
    @OptionGroup var lock: LockOptions
    @OptionGroup var pruning: PruneOptions

    @Flag(name: .customLong("dry-run"), help: "Show what would change without changing anything.")
    var dryRun = false

    @Option(name: .shortAndLong, help: "Print results as json or yaml instead of lines.")
    var output: OutputFormat?

    @Flag(
        name: .customLong("force-regenerate-cni"),
        help: "Rewrite the conflist of every space applied, taking over one an older kuke wrote for a space whose record is lost.")
    var forceRegenerateCNI = false

    @Flag(
        name: .customLong("detailed-exitcode"),
        help: "Exit 0 when nothing changed, 3 when something changed and everything succeeded (1 failed, 2 invalid, as usual).")
    var detailedExitcode = false

    func run() throws {
        let console = Console.current
        let resources = try input.load(console, refusingTransients: pruning.prune)
        let (layout, labels) = try host.settings(console)
        let engine = Engine(layout: layout, drivers: HostFactory.drivers(for: layout, onLockWait: { console.error($0) }), hints: CommandHints())
        let progress = ProgressReporter.make(console: console, format: output)
        var options = ApplyOptions(dryRun: dryRun, regenerateConflists: forceRegenerateCNI, lockTimeout: lock.lockTimeout, managedBy: pruning.owner)
        options.hostLabels = labels
        let applied = try withEngine(console) { () throws(HostError) in
            try engine.apply(resources, options: options, progress: progress?.callback)
        }
        let outcomes =
            applied
            + (try pruning.prune(
                after: applied, batch: resources, engine: engine, labels: labels, dryRun: dryRun, lock: lock.lockTimeout, console: console))
        let printer = OutcomePrinter(console: console, format: output, dryRun: dryRun)
        let exit = printer.report(outcomes)
        if detailedExitcode, exit.rawValue == ExitStatus.success, outcomes.contains(where: { $0.outcome.changesHost }) {
            throw ExitCode(ExitStatus.changed)
        }
        throw exit
    }
}
