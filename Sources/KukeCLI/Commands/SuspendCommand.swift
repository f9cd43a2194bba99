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

    @Argument(help: "The space's name.") var name: String
    @Option(help: "The realm of the space.") var realm: String
    @Option(help: "Why, for whoever finds it suspended.") var reason: String
    @Option(name: .shortAndLong, help: "Print the result as json or yaml.") var output: OutputFormat?
    @OptionGroup var host: HostOptions
    @OptionGroup var lock: LockOptions

    func validate() throws {
        try validateName(name, what: "space name", isSpace: true)
        try validateName(realm, what: "--realm", isSpace: false)
        if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--reason must say why") }
    }

    func run() throws {
        try setSuspension(SpaceID(realm: realm, name: name), reason: reason, host: host, lock: lock, output: output)
    }
}

struct ResumeSpaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "space", abstract: "Resume a suspended space.", discussion: "Example:\n  kuke resume space blog --realm main")

    @Argument(help: "The space's name.") var name: String
    @Option(help: "The realm of the space.") var realm: String
    @Option(name: .shortAndLong, help: "Print the result as json or yaml.") var output: OutputFormat?
    @OptionGroup var host: HostOptions
    @OptionGroup var lock: LockOptions

    func validate() throws {
        try validateName(name, what: "space name", isSpace: true)
        try validateName(realm, what: "--realm", isSpace: false)
    }

    func run() throws {
        try setSuspension(SpaceID(realm: realm, name: name), reason: nil, host: host, lock: lock, output: output)
    }
}

func setSuspension(_ id: SpaceID, reason: String?, host: HostOptions, lock: LockOptions, output: OutputFormat?) throws {
    let console = Console.current
    let layout = try host.layout(console)
    let engine = Engine(layout: layout, drivers: HostFactory.drivers(for: layout, onLockWait: { console.error($0) }))
    let outcome = try withEngine(console) { () throws(HostError) in try engine.suspend(id, reason: reason, lockTimeout: lock.lockTimeout) }
    throw OutcomePrinter(console: console, format: output).report([outcome])
}
