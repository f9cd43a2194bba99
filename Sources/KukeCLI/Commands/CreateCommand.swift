import ArgumentParser
import KukeEngine
import KukeHost
import KukeModel

struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a realm or a space from the command line (the imperative form of a minimal manifest).",
        discussion: """
            Examples:
              kuke create realm main
              kuke create space blog --realm main
            """,
        subcommands: [CreateRealmCommand.self, CreateSpaceCommand.self])
}

/// Parses `--label key=value` flags, checking each key and value with Kubernetes' label rules
/// (`Label`), as manifests are; every bad label is reported.
func parseLabels(_ labels: [String]) throws -> [String: String] {
    var result: [String: String] = [:]
    var problems: [String] = []
    for label in labels {
        guard let equals = label.firstIndex(of: "="), equals != label.startIndex else {
            throw ValidationError("--label \"\(label)\" must be key=value")
        }
        let key = String(label[..<equals])
        let value = String(label[label.index(after: equals)...])
        problems += Label.problems(key: key, value: value).map { "--label \"\(label)\": \($0)" }
        result[key] = value
    }
    if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
    return result
}

/// Validates a name given on the command line with the manifest rule.
func validateName(_ name: String, what: String, isSpace: Bool) throws {
    if let problem = ResourceName.violation(of: name, isSpace: isSpace) {
        throw ValidationError("\(what) \"\(name)\" \(problem)")
    }
}

/// `--dry-run` and `-o` of `kuke create`.
struct CreateOptions: ParsableArguments {
    @Flag(name: .customLong("dry-run"), help: "Show what would be created without creating it.") var dryRun = false
    @Option(name: .shortAndLong, help: "Print results as json or yaml instead of lines.") var output: OutputFormat?
}

/// Applies one resource that must not exist yet (checked under the host lock).
func create(_ resource: Resource, options createOptions: CreateOptions, host: HostOptions, lock: LockOptions, console: Console) throws {
    let (layout, labels) = try host.settings(console)
    let engine = Engine(layout: layout, drivers: HostFactory.drivers(for: layout, onLockWait: { console.error($0) }), hints: CommandHints())
    var options = ApplyOptions(dryRun: createOptions.dryRun, lockTimeout: lock.lockTimeout)
    options.createOnly = true
    options.hostLabels = labels
    let outcomes = try withEngine(console) { () throws(HostError) in try engine.apply([resource], options: options) }
    throw OutcomePrinter(console: console, format: createOptions.output, dryRun: createOptions.dryRun).report(outcomes)
}

struct CreateRealmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realm", abstract: "Create a realm.", discussion: "Example:\n  kuke create realm main --label team=web")

    @Argument(help: "The realm's name.") var name: String
    @Option(name: .customLong("label"), help: ArgumentHelp("A label, key=value; repeatable.", valueName: "key=value")) var labels: [String] = []
    @OptionGroup var options: CreateOptions
    @OptionGroup var host: HostOptions
    @OptionGroup var lock: LockOptions

    func validate() throws {
        try validateName(name, what: "realm name", isSpace: false)
        _ = try parseLabels(labels)
    }

    func run() throws {
        let manifest = RealmManifest(metadata: ObjectMeta(name: name, labels: try parseLabels(labels)), origin: .command("kuke create realm"))
        try create(.realm(manifest), options: options, host: host, lock: lock, console: Console.current)
    }
}

struct CreateSpaceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "space", abstract: "Create a space in a realm.",
        discussion: "Examples:\n  kuke create space blog --realm main\n  kuke create space blog --realm main --cni-config-path /etc/cni/net.d")

    @Argument(help: "The space's name.") var name: String
    @Option(help: "The realm the space belongs to.") var realm: String
    @Option(name: .customLong("cni-config-path"), help: "Directory for the space's conflist (spec.cniConfigPath).") var cniConfigPath: String?
    @Option(name: .customLong("label"), help: ArgumentHelp("A label, key=value; repeatable.", valueName: "key=value")) var labels: [String] = []
    @OptionGroup var options: CreateOptions
    @OptionGroup var host: HostOptions
    @OptionGroup var lock: LockOptions

    func validate() throws {
        try validateName(name, what: "space name", isSpace: true)
        try validateName(realm, what: "--realm", isSpace: false)
        _ = try parseLabels(labels)
        if let cniConfigPath, case .failure(let problem) = CNIConfigPath.normalize(cniConfigPath) {
            throw ValidationError("--cni-config-path \"\(cniConfigPath)\" \(problem.message)")
        }
    }

    func run() throws {
        let path = cniConfigPath.flatMap { try? CNIConfigPath.normalize($0).get() }
        let manifest = SpaceManifest(
            metadata: ObjectMeta(name: name, labels: try parseLabels(labels)), spec: SpaceSpec(realmId: realm, cniConfigPath: path),
            origin: .command("kuke create space"))
        try create(.space(manifest), options: options, host: host, lock: lock, console: Console.current)
    }
}
