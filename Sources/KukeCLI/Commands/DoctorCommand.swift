import ArgumentParser
import Foundation
import KukeEngine
import KukeHost
import KukeModel

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check whether this host is fit for kuke: one OK/WARN/FAIL row per check, each with its fix.",
        discussion: """
            Checks, in order: cgroup2 (mount, unified or hybrid), cgroup-root (usable, a domain subtree, \
            no processes in kuke's own cgroup), controllers (those the recorded realms and spaces, and the \
            -f manifests, ask for, against those the cgroup root delegates), cni-plugins (bridge and \
            host-local on CNI_PATH, each asked VERSION), cni-version (the cniVersion of kuke's conflists \
            against what the plugins speak), nftables, ip-forward, br-netfilter, networkd (the .network \
            file systemd-networkd would apply to a kuke bridge), foreign-conflists (other networks' \
            ranges in the pool), host-local-state (leases of networks no configuration names) and run-path. \
            Read-only: it changes nothing and takes no lock. Run it as root, as kuke runs. Exits 1 when a \
            check fails, 0 otherwise (warnings included).

            Examples:
              kuke doctor
              kuke doctor -f manifests/ -o json
            """)

    @Option(
        name: [.customShort("f"), .customLong("filename")],
        help: ArgumentHelp("Also check the controllers these manifests ask for (a file, a directory or -).", valueName: "path"))
    var paths: [String] = []
    @Option(name: .shortAndLong, help: "Print the rows as json or yaml.") var output: OutputFormat?
    @OptionGroup var host: HostOptions

    func run() throws {
        let console = Console.current
        let layout = try host.layout(console)
        var manifests: [Resource] = []
        if !paths.isEmpty {
            let (resources, issues) = ManifestLoader.local(readStandardInput: console.readStandardInput).load(paths)
            if !issues.isEmpty {
                for issue in issues { console.error(issue.description) }
                console.error("error: \(issues.count) problem\(issues.count == 1 ? "" : "s") found in the manifests")
                throw ExitCode(ExitStatus.invalid)
            }
            manifests = resources
        }
        let drivers = HostFactory.drivers(for: layout)
        let inventory = try withEngine(console) { () throws(HostError) in try Engine(layout: layout, drivers: drivers).inventory() }
        let rows = Doctor.checks(HostProbe.facts(layout: layout, inventory: inventory, drivers: drivers, manifests: manifests))
        switch output {
        case .json: console.writeOut(JSONValue.array(rows.map { JSONValue(value($0)) }).canonicalText)
        case .yaml: console.writeOut(RecordCodec.yaml(.list(rows.map(value))))
        case nil: printTable(rows, console)
        }
        if rows.contains(where: { $0.status == .fail }) { throw ExitCode(ExitStatus.failed) }
    }

    func value(_ row: DoctorCheck) -> ManifestValue {
        var entries: [ManifestValue.Entry] = [.init("check", .string(row.check)), .init("status", .string(row.status.rawValue))]
        entries.append(.init("detail", .string(row.detail)))
        if let fix = row.fix(worded: CommandHints()) { entries.append(.init("fix", .string(fix))) }
        return .map(entries)
    }

    func printTable(_ rows: [DoctorCheck], _ console: Console) {
        let width = rows.map(\.check.count).max() ?? 0
        for row in rows {
            let status = row.status.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0)
            let color = row.status == .ok ? "32" : row.status == .warn ? "33" : "31;1"
            console.out([(status, color), ("  \(row.check.padding(toLength: width, withPad: " ", startingAt: 0))  \(row.detail)", nil)])
            if let fix = row.fix(worded: CommandHints()) { console.out("      \(String(repeating: " ", count: width))  fix: \(fix)") }
        }
        let count = { (status: DoctorCheck.Status) in rows.filter { $0.status == status }.count }
        console.out("\(rows.count) checks: \(count(.ok)) OK, \(count(.warn)) WARN, \(count(.fail)) FAIL")
    }
}
