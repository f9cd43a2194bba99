import ArgumentParser
import Foundation
import KukeEngine
import KukeHost
import KukeModel

struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "List realms or spaces from their records.",
        discussion: """
            Examples:
              kuke get realms
              kuke get spaces --realm main
              kuke get space blog --realm main -o yaml
              kuke get host
            """,
        subcommands: [GetRealmsCommand.self, GetSpacesCommand.self, GetHostCommand.self])
}

/// Formats a table with columns padded to their widest cell (the header included even when
/// `headers` leaves it out, so columns line up the same either way); control characters in a
/// cell are escaped (`VisibleText`), so a label value cannot forge a row.
func table(_ rows: [[String]], headers: Bool = true) -> String {
    let rows = rows.map { $0.map(VisibleText.escaped) }
    guard let header = rows.first else { return "" }
    let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.dropFirst(headers ? 0 : 1).map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 3, withPad: " ", startingAt: 0)
        }.joined()
    }.joined(separator: "\n") + "\n"
}

/// `/sys/fs/cgroup/kukeon/main/blog` → `kukeon/main/blog`: a cgroupfs space's cgroup below the root.
func cgroupRelative(_ path: String) -> String {
    let last = path.split(separator: "/").suffix(3)
    return last.count == 3 && last.first == Substring(HostLayout.cgroupSubtree) ? last.joined(separator: "/") : path
}

/// `5s`, `12m`, `3h`, `4d`, as kubectl prints ages.
func age(since date: Date?, now: Date = Date()) -> String {
    guard let date else { return "-" }
    // Bounded before the conversion: a record's timestamp far off (or not a number) cannot trap it.
    let seconds = Int(max(0, min(now.timeIntervalSince(date), 1e15)))
    if seconds < 120 { return "\(seconds)s" }
    if seconds < 7200 { return "\(seconds / 60)m" }
    if seconds < 172_800 { return "\(seconds / 3600)h" }
    return "\(seconds / 86400)d"
}

/// Prints stored documents as YAML (one document each) or JSON (an array, or one object for a named resource).
/// Prints records as kubectl does: one named object as itself, anything else as a
/// `{apiVersion, kind: List, items}` object, so a script reads the same shape whatever matched.
func printDocuments(_ values: [ManifestValue], format: OutputFormat, single: Bool, console: Console) {
    let document: ManifestValue =
        single && values.count == 1
        ? values[0] : .map([.init("apiVersion", .string(ManifestDecoder.apiVersion)), .init("kind", .string("List")), .init("items", .list(values))])
    switch format {
    case .yaml: console.writeOut(RecordCodec.yaml(document))
    case .json: console.writeOut(JSONValue(document).canonicalText)
    }
}

/// Registry passwords are stored but never printed.
func redactingPasswords(_ value: ManifestValue) -> ManifestValue {
    switch value {
    case .map(let entries):
        return .map(
            entries.map { entry in
                entry.key == "password" ? .init("password", .string("<redacted>")) : .init(entry.key, redactingPasswords(entry.value))
            })
    case .list(let items): return .list(items.map(redactingPasswords))
    default: return value
    }
}

/// Loads the records for `get` and `top`, printing unreadable ones as warnings. A `realm` that
/// names no realm is an error (exit 1), not an empty list: a typo would read as "nothing there".
func loadInventory(_ host: HostOptions, _ console: Console, realm: String? = nil) throws -> Inventory {
    let layout = try host.layout(console)
    let engine = Engine(layout: layout, drivers: HostFactory.drivers(for: layout), hints: CommandHints())
    let inventory = try withEngine(console) { () throws(HostError) in try engine.inventory() }
    for (_, error) in inventory.unreadable.sorted(by: { $0.key < $1.key }) { console.error("warning: \(error)") }
    if let realm, inventory.realms[realm] == nil {
        console.error("error: realm \"\(realm)\" not found")
        throw ExitCode(ExitStatus.failed)
    }
    return inventory
}

struct GetRealmsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "realms", abstract: "List realms.",
        discussion: "Example:\n  kuke get realms -o yaml", aliases: ["realm"])

    @Argument(help: "Show only these realms.") var names: [String] = []
    @OptionGroup var host: HostOptions
    @Option(name: .shortAndLong, help: "Print the stored documents as yaml or json, or realm/NAME per line.") var output: RealmsOutputFormat?
    @Flag(name: .customLong("no-headers"), help: "Leave out the table's header line.") var noHeaders = false
    @OptionGroup var selection: LabelSelection

    func run() throws {
        let console = Console.current
        let inventory = try loadInventory(host, console)
        let selector = try selection.selector()
        let realms = inventory.realms.values.filter {
            (names.isEmpty || names.contains($0.metadata.name)) && selector.matches($0.metadata.labels)
        }.sorted {
            $0.metadata.name < $1.metadata.name
        }
        let missing = names.filter { inventory.realms[$0] == nil }
        defer { reportMissing(missing.map { "realm \"\($0)\"" }, console: console) }
        if missing.count == names.count, !names.isEmpty { throw ExitCode(ExitStatus.failed) }
        if output == .name {
            for realm in realms { console.out("realm/\(realm.metadata.name)") }
            if !missing.isEmpty { throw ExitCode(ExitStatus.failed) }
            return
        }
        if let format = output?.documents {
            printDocuments(
                realms.map { redactingPasswords(RecordCodec.value(of: $0)) }, format: format, single: names.count == 1, console: console)
            if !missing.isEmpty { throw ExitCode(ExitStatus.failed) }
            return
        }
        if realms.isEmpty {
            console.out("No realms found.")
            return
        }
        var rows = [["NAME", "STATE", "SPACES", "AGE"]]
        for realm in realms {
            rows.append([
                realm.metadata.name,
                BootFreshness.shownState(realm.status.state, recordBoot: realm.status.bootId, currentBoot: inventory.bootID),
                String(inventory.spaces(in: realm.metadata.name).count),
                age(since: realm.status.createdAt),
            ])
        }
        console.writeOut(table(rows, headers: !noHeaders))
        if !missing.isEmpty { throw ExitCode(ExitStatus.failed) }
    }
}

/// `error: space "x" not found` for each name that matched nothing (after what did match).
func reportMissing(_ what: [String], console: Console) {
    for item in what { console.error("error: \(item) not found") }
}

struct GetSpacesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spaces", abstract: "List spaces.",
        discussion: "Examples:\n  kuke get spaces\n  kuke get space blog --realm main -o json", aliases: ["space"])

    @Argument(help: "Show only these spaces (in --realm, or in any realm).") var names: [String] = []
    @Option(help: "Only spaces of this realm.") var realm: String?
    @OptionGroup var host: HostOptions
    @Option(
        name: .shortAndLong,
        help:
            "Print the stored documents as yaml or json, realm/NAME per line (name), or a wide table with each space's limits, egress policy and dropped packets."
    )
    var output: SpacesOutputFormat?
    @Flag(name: .customLong("no-headers"), help: "Leave out the table's header line.") var noHeaders = false
    @OptionGroup var selection: LabelSelection

    func run() throws {
        let console = Console.current
        let inventory = try loadInventory(host, console, realm: realm)
        let selector = try selection.selector()
        let spaces = inventory.spaces.values
            .filter {
                (realm == nil || $0.spec.realmId == realm) && (names.isEmpty || names.contains($0.metadata.name))
                    && selector.matches($0.metadata.labels)
            }
            .sorted { $0.id < $1.id }
        let found = Set(spaces.map(\.metadata.name))
        let missing = names.filter { !found.contains($0) }
        defer { reportMissing(missing.map { "space \"\($0)\"\(realm.map { " in realm \"\($0)\"" } ?? "")" }, console: console) }
        if missing.count == names.count, !names.isEmpty { throw ExitCode(ExitStatus.failed) }
        if output == .name {
            for space in spaces { console.out("space/\(space.id)") }
            if !missing.isEmpty { throw ExitCode(ExitStatus.failed) }
            return
        }
        if let format = output?.documents {
            printDocuments(spaces.map(RecordCodec.value(of:)), format: format, single: names.count == 1 && spaces.count == 1, console: console)
            if !missing.isEmpty { throw ExitCode(ExitStatus.failed) }
            return
        }
        for warning in inventory.unrecordedBridgeWarnings { console.error("warning: \(warning)") }
        if spaces.isEmpty {
            console.out("No spaces found.")
            return
        }
        let wide = output == .wide
        let drops = wide ? observeDrops(console) : nil
        var rows = [["NAME", "REALM", "STATE", "BRIDGE", "SUBNET"] + (wide ? ["CPU", "MEMORY", "EGRESS", "DROPPED", "CGROUP"] : []) + ["AGE"]]
        var notHeld = Set<SpaceID>()
        for space in spaces {
            let network = space.status.network
            var row = [
                space.metadata.name, space.spec.realmId,
                BootFreshness.shownState(space.status.state, recordBoot: space.status.bootId, currentBoot: inventory.bootID)
                    + (space.status.suspended == nil ? "" : ",Suspended"),
                network?.bridge ?? "-", network.map { $0.subnet.description + ($0.ipv6Subnet.map { ",\($0)" } ?? "") } ?? "-",
            ]
            if wide {
                // The limits as the manifest writes them (`1.5`, `500m`, `2Gi`), `-` when none, and
                // `*` after one the record does not say kuke wrote (a Failed or Pending space's).
                for (group, file) in [("cpu", "cpu.max"), ("memory", "memory.max")] {
                    guard let declared = ResourceLimits.written(space.spec.resources, group, "max") else {
                        row.append("-")
                        continue
                    }
                    let held = space.status.resources?[file] != nil
                    if !held { notHeld.insert(space.id) }
                    row.append(held ? declared : declared + "*")
                }
                let policy = space.spec.egress
                row.append(policy.map { "deny(\($0.rules.count)\($0.allowsDNS ? ",dns" : ""))" } ?? "allow")
                row.append(network.flatMap { drops?[$0.bridge] }.map(String.init) ?? "-")
                // The slice under the systemd driver, else the cgroup's path below the root.
                row.append(space.status.slice ?? space.status.cgroupPath.map { cgroupRelative($0) } ?? "-")
            }
            rows.append(row + [age(since: space.status.createdAt)])
        }
        console.writeOut(table(rows, headers: !noHeaders))
        if !notHeld.isEmpty {
            console.error(
                "warning: * marks a declared limit the kernel does not hold: \(notHeld.sorted().map(\.description).joined(separator: ", ")) did not converge (kuke describe space NAME says why)"
            )
        }
        let stale = spaces.filter { BootFreshness.isStale($0.status.state, recordBoot: $0.status.bootId, currentBoot: inventory.bootID) }
        if !stale.isEmpty {
            console.error(
                "warning: \(stale.count) space(s) Stale: Ready in an earlier boot; the kernel forgot their bridges, cgroups and rules at the reboot, and holds them again after a pass (kuke apply, or kuke-watch's start)"
            )
        }
        if !missing.isEmpty { throw ExitCode(ExitStatus.failed) }
    }

    /// Packets the isolation table dropped, by bridge; nil (shown as `-`) when it cannot be read.
    func observeDrops(_ console: Console) -> [String: UInt64]? {
        do {
            guard let observed = try NftablesFirewall().observe() else { return [:] }
            return observed.drops
        } catch {
            console.error("warning: dropped packets unknown: \(error)")
            return nil
        }
    }
}

/// `-l/--selector` of `kuke get`, as kubectl takes it.
struct LabelSelection: ParsableArguments {
    @Option(
        name: [.customShort("l"), .customLong("selector")],
        help: ArgumentHelp("Only resources whose labels match: key=value, key==value, key!=value, key, !key; comma for AND.", valueName: "selector"))
    var text: String?

    func validate() throws { _ = try selector() }

    func selector() throws -> LabelSelector {
        guard let text else { return LabelSelector(requirements: []) }
        do { return try LabelSelector(parsing: text) } catch { throw ValidationError("-l/--selector: \(error.description)") }
    }
}

struct GetHostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Show this host's effective configuration: its labels and layout settings, each with where it came from.",
        discussion: """
            Labels: the built-in kukeon.io/hostname and kukeon.io/arch, then those of the host \
            configuration file (FILE:LINE:COLUMN), which may override them; spec.hostSelector is matched \
            against these. Settings: each from its flag, its environment variable, the host \
            configuration file, or the default, in that order of precedence.

            Examples:
              kuke get host
              kuke get host --config /etc/kukeon/kuke.yaml -o json
            """)

    @OptionGroup var host: HostOptions
    @Option(name: .shortAndLong, help: "Print as json or yaml.") var output: OutputFormat?

    func run() throws {
        let console = Console.current
        let config = try host.config(console)
        let labels = HostOptions.labels(file: config.config)
        let settings = host.effective(console, file: config.config)
        let file: String = config.path ?? "\(HostOptions.defaultConfigPath) (not found)"
        switch output {
        case .json, .yaml:
            let value = ManifestValue.map([
                .init("config", .string(config.path ?? "")),
                .init("labels", .map(labels.map { .init($0.key, .map([.init("value", .string($0.value)), .init("source", .string($0.source))])) })),
                .init(
                    "settings",
                    .map(settings.map { .init($0.name, .map([.init("value", .string($0.1.value)), .init("source", .string($0.1.source))])) })),
            ])
            console.writeOut(output == .json ? JSONValue(value).canonicalText : RecordCodec.yaml(value))
        case nil:
            console.out("Config: \(file)")
            console.writeOut(table([["LABEL", "VALUE", "SOURCE"]] + labels.map { [$0.key, $0.value, $0.source] }))
            console.out("")
            console.writeOut(table([["SETTING", "VALUE", "SOURCE"]] + settings.map { [$0.name, $0.1.value, $0.1.source] }))
        }
    }
}
