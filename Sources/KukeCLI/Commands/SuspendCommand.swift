import ArgumentParser
import KukeEngine
import KukeHost
import KukeModel

struct SuspendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suspend", abstract: "Hold a space still: apply and watch neither change, repair nor prune it.",
        subcommands: [SuspendSpaceCommand.self])
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "End a space's suspension: apply and watch converge it again.", subcommands: [ResumeSpaceCommand.self])
}

struct SuspendSpaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "space",
        abstract: "Suspend a space, with the reason.",
        discussion: """
            Records the suspension (the reason and when) in the space's record, so it survives restarts. \
            While suspended, `kuke apply` and `kuke watch` report the space as `suspended: REASON` and \
            leave everything of it as it is (drift is not repaired, a changed manifest is not applied, \
            a prune passes it by), and `kuke delete` refuses it. `kuke get spaces` shows it. \
            Nothing else of the host is touched.

            Example:
              kuke suspend space blog --realm main --reason "disk maintenance, ticket 4711"
            """)

    @OptionGroup var target: SuspensionTarget
    @Option(help: "Why, for whoever finds it suspended.") var reason: String

    func validate() throws {
        if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--reason must say why") }
    }

    func run() throws { try target.set(reason: reason) }
}

struct ResumeSpaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "space", abstract: "Resume a suspended space.", discussion: "Example:\n  kuke resume space blog --realm main")

    @OptionGroup var target: SuspensionTarget

    func run() throws { try target.set(reason: nil) }
}

/// The space `suspend` and `resume` act on, and how they print.
struct SuspensionTarget: ParsableArguments {
    @Argument(help: "The space's name.") var name: String
    @Option(help: "The realm of the space.") var realm: String
    @Option(name: .shortAndLong, help: "Print the result as json or yaml.") var output: OutputFormat?
    @OptionGroup var host: HostOptions
    @OptionGroup var lock: LockOptions

    func validate() throws {
        try validateName(name, what: "space name", isSpace: true)
        try validateName(realm, what: "--realm", isSpace: false)
    }

    /// Records the suspension (a reason) or ends it (nil), and prints the outcome.
    func set(reason: String?) throws {
        let console = Console.current
        let layout = try host.layout(console)
        let engine = Engine(layout: layout, drivers: HostFactory.drivers(for: layout, onLockWait: { console.error($0) }), hints: CommandHints())
        let id = SpaceID(realm: realm, name: name)
        let outcome = try withEngine(console) { () throws(HostError) in try engine.suspend(id, reason: reason, lockTimeout: lock.lockTimeout) }
        throw OutcomePrinter(console: console, format: output).report([outcome])
    }
}
