import ArgumentParser
import KukeEngine
import KukeHost

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the default realm and its default space on this host.",
        discussion: """
            Existing records are kept as they are. With --force-regenerate-cni every space's conflist is \
            rewritten from its record, a recorded bridge name the kernel cannot use (longer than 15 \
            bytes, from an old conflist) is replaced, and two records sharing a subnet or a bridge are \
            separated; conflists with such a name that no space records are listed with the command \
            that fixes them.

            Examples:
              kuke init
              kuke init --force-regenerate-cni
            """)

    @OptionGroup var host: HostOptions
    @OptionGroup var lock: LockOptions

    @Flag(name: .customLong("force-regenerate-cni"), help: "Rewrite every space's conflist and repair unusable bridge names.")
    var forceRegenerateCNI = false

    func run() throws {
        let console = Console.current
        let layout = try host.layout(console)
        let engine = Engine(layout: layout, drivers: HostFactory.drivers(for: layout, onLockWait: { console.error($0) }), hints: CommandHints())
        let progress = ProgressReporter.make(console: console, format: nil)
        let outcomes = try withEngine(console) { () throws(HostError) in
            try engine.initialize(regenerate: forceRegenerateCNI, lockTimeout: lock.lockTimeout, progress: progress?.callback)
        }
        let printer = OutcomePrinter(console: console, format: nil)
        printer.print(outcomes)
        if forceRegenerateCNI {
            for conflist in (try? engine.unplacedConflists()) ?? [] {
                console.error(
                    "warning: \(conflist.path) names bridge \"\(conflist.bridge)\" (\(conflist.bridge.utf8.count) bytes; Linux allows 15) and no space records it: run `kuke apply --force-regenerate-cni -f MANIFEST` with the manifest of its space, or move the file away"
                )
            }
        }
        printer.summarize(outcomes)
        throw ExitCode(OutcomePrinter.status(of: outcomes))
    }
}
