import ArgumentParser
import KukeEngine
import KukeHost
import KukeModel

struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete spaces and realms: by name, or those declared in manifests (-f).",
        discussion: """
            A space is removed in the order bridge, conflist, cgroup, metadata. A space with children \
            (stacks, cells, child cgroups) or a realm with spaces is refused unless --cascade is given.

            Examples:
              kuke delete space blog --realm main
              kuke delete -f examples/
              kuke delete realm main --cascade
            """,
        subcommands: [DeleteSpaceCommand.self, DeleteRealmCommand.self])

    @Option(
        name: [.customShort("f"), .customLong("filename")],
        help: ArgumentHelp("Delete what these manifests declare (file, directory or -).", valueName: "path"))
    var paths: [String] = []
    @OptionGroup var options: DeleteOptions
    @OptionGroup var host: HostOptions
    @OptionGroup var lock: LockOptions

    func run() throws {
        let console = Console.current
        if paths.isEmpty {
            throw ValidationError("give -f PATH, or a resource: kuke delete space NAME --realm REALM")
        }
        var input = ManifestInput()
        input.paths = paths
        let resources = try input.load(console)
        let targets: [DeleteTarget] = resources.map { resource in
            switch resource {
            case .realm(let realm): .realm(realm.metadata.name)
            case .space(let space): .space(space.id)
            }
        }
        try performDelete(targets, options: options, host: host, lock: lock, console: console)
    }
}

struct DeleteOptions: ParsableArguments {
    @Flag(help: "Also delete children (stacks and cells of a space, spaces of a realm).") var cascade = false
    @Flag(name: .customLong("dry-run"), help: "Show what would be deleted without deleting.") var dryRun = false
    @Flag(name: .customLong("ignore-not-found"), help: "Treat a resource that does not exist as deleted.") var ignoreNotFound = false
    @Option(name: .shortAndLong, help: "Print results as json or yaml instead of lines.") var output: OutputFormat?
}

func performDelete(_ targets: [DeleteTarget], options: DeleteOptions, host: HostOptions, lock: LockOptions, console: Console) throws {
    let layout = try host.layout(console)
    let engine = Engine(layout: layout, drivers: HostFactory.drivers(for: layout, onLockWait: { console.error($0) }), hints: CommandHints())
    let progress = ProgressReporter.make(console: console, format: options.output)
    var outcomes = try withEngine(console) { () throws(HostError) in
        try engine.delete(targets, cascade: options.cascade, dryRun: options.dryRun, lockTimeout: lock.lockTimeout, progress: progress?.callback)
    }
    if options.ignoreNotFound {
        outcomes = outcomes.map { outcome in
            guard outcome.failure?.reason == .notFound else { return outcome }
            var quiet = outcome
            quiet.outcome = .unchanged
            quiet.failure = nil
            return quiet
        }
    }
    throw OutcomePrinter(console: console, format: options.output, dryRun: options.dryRun).report(outcomes)
}

struct DeleteSpaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "space", abstract: "Delete a space.", discussion: "Example:\n  kuke delete space blog --realm main --cascade")

    @Argument(help: "The space's name.") var name: String
    @Option(help: "The realm of the space.") var realm: String
    @OptionGroup var options: DeleteOptions
    @OptionGroup var host: HostOptions
    @OptionGroup var lock: LockOptions

    func validate() throws {
        try validateName(name, what: "space name", isSpace: true)
        try validateName(realm, what: "--realm", isSpace: false)
    }

    func run() throws {
        try performDelete([.space(SpaceID(realm: realm, name: name))], options: options, host: host, lock: lock, console: Console.current)
    }
}

struct DeleteRealmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realm", abstract: "Delete a realm (with --cascade, its spaces first).",
        discussion: "Example:\n  kuke delete realm main --cascade")

    @Argument(help: "The realm's name.") var name: String
    @OptionGroup var options: DeleteOptions
    @OptionGroup var host: HostOptions
    @OptionGroup var lock: LockOptions

    func validate() throws { try validateName(name, what: "realm name", isSpace: false) }

    func run() throws {
        try performDelete([.realm(name)], options: options, host: host, lock: lock, console: Console.current)
    }
}
