import Foundation
import KukeModel
import KukeTestSupport
import Testing

/// Crash consistency on a real kernel: a create + update run and a delete run are killed after
/// their k-th mutating step, for every k in turn; after each crash a plain re-run converges,
/// with no orphans and no lost spaces.
@Suite("Kernel: crash consistency", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct CrashKernelTests {
    static let crashStatus: Int32 = 86

    static func space(_ name: String, _ extra: String = "") -> String {
        "---\napiVersion: v1beta1\nkind: Space\nmetadata:\n  name: \(name)\n\(extra)spec:\n  realmId: main\n"
    }

    static let realm = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n"
    static let baseline = realm + space("a") + space("b", "  labels: {tier: one}\n") + space("c")

    /// b's labels change and its conflist moves to another directory; d and e are new (e denies egress).
    static func change(cni2: String) -> String {
        realm + space("a") + space("b", "  labels: {tier: two}\n") + "  cniConfigPath: \(cni2)\n" + space("d")
            + space("e") + "  network:\n    egress:\n      default: deny\n      allow:\n        - cidr: 192.0.2.0/24\n"
    }

    struct Scenario: Sendable {
        var name: String
        /// The command under test; `CHANGE` stands for the change manifest's path.
        var command: [String]
        /// What a plain re-run is.
        var rerun: [String]
        var spaces: Set<String>

        func arguments(_ change: String, two: String) -> (command: [String], rerun: [String]) {
            func fill(_ word: String) -> String { word == "CHANGE" ? change : word == "TWO" ? two : word }
            return (command.map(fill), rerun.map(fill))
        }
    }

    static let scenarios = [
        Scenario(
            name: "create and update", command: ["apply", "-f", "CHANGE"], rerun: ["apply", "-f", "CHANGE"], spaces: ["a", "b", "c", "d", "e"]),
        Scenario(
            name: "delete", command: ["delete", "space", "c", "--realm", "main"],
            rerun: ["delete", "space", "c", "--realm", "main", "--ignore-not-found"], spaces: ["a", "b"]),
        // Two spaces: their bridges are moved into a link group and deleted together first.
        Scenario(name: "delete two", command: ["delete", "-f", "TWO"], rerun: ["delete", "-f", "TWO", "--ignore-not-found"], spaces: ["a"]),
    ]

    @Test("a crash after any mutating step is repaired by a plain re-run", arguments: scenarios.indices)
    func everyCrashPoint(_ index: Int) throws {
        let scenario = Self.scenarios[index]
        var crashes = 0
        var steps: [String] = []
        for k in 1...400 {
            let finished = try KernelSandbox.with { sandbox -> Bool in
                let cni2 = "\(sandbox.directory)/cni2"
                let baselinePath = try sandbox.writeManifest("baseline.yaml", Self.baseline)
                let changePath = try sandbox.writeManifest("change.yaml", Self.change(cni2: cni2))
                let setup = sandbox.kuke("apply", "-f", baselinePath)
                #expect(setup.status == 0, "\(setup)")
                let twoPath = try sandbox.writeManifest("two.yaml", Self.space("b", "  labels: {tier: one}\n") + Self.space("c"))
                let (command, rerunCommand) = scenario.arguments(changePath, two: twoPath)
                let crashed = sandbox.run(["env", "KUKE_TEST_CRASH_AFTER=\(k)", sandbox.kukeBinary] + command)
                if crashed.status != Self.crashStatus {
                    #expect(crashed.status == 0, "k=\(k): \(crashed)")
                    try verify(sandbox, scenario, cni2: cni2, changePath: changePath, k: k)
                    return true
                }
                crashes += 1
                #expect(crashed.stderr.contains("injected crash after step \(k)"), "\(crashed)")
                steps.append(crashed.stderr)
                try verifyClosed(sandbox, after: crashed.stderr)
                let rerun = sandbox.kuke(rerunCommand)
                #expect(rerun.status == 0, "k=\(k), re-run after \(crashed.stderr): \(rerun)")
                try verify(sandbox, scenario, cni2: cni2, changePath: changePath, k: k)
                return false
            }
            if finished { break }
        }
        #expect(crashes >= 5, "the scenario has mutating steps to crash at")
        if scenario.name == "delete two" {
            // The two bridges went together: moved into one group, then the group deleted.
            #expect(steps.filter { $0.contains("to group") }.count == 2, "\(steps)")
            #expect(steps.contains { $0.contains("delete link group") }, "\(steps)")
        }
        print("crash consistency (\(scenario.name)): \(crashes) crash points, each repaired by a re-run")
    }

    /// Right after a crash, before anything repairs it: when a kuke bridge exists, the table
    /// holds the `kuke-*` rules (no cell reaches another bridge, a bridge no rule names sends
    /// nothing out), and every record that says `Ready` has its rules in the kernel.
    func verifyClosed(_ sandbox: KernelSandbox, after crash: String) throws {
        let context = Comment(rawValue: crash)
        let table = sandbox.run(["nft", "list", "table", "inet", "kukeon"]).stdout
        if sandbox.links().contains(where: { $0.value == "bridge" && $0.key.hasPrefix("kuke-") }) {
            #expect(table.contains("iifname \"kuke-*\" oifname \"kuke-*\" counter"), context)
            #expect(table.contains("comment \"unrecorded kuke-*\""), context)
        }
        let listed = sandbox.kuke("get", "spaces", "-o", "json")
        for record in try JSONParser.parse(listed.stdout)["items"]?.arrayValue ?? [] where record["status"]?["state"]?.stringValue == "Ready" {
            let bridge = record["status"]?["network"]?["bridge"]?.stringValue ?? "?"
            #expect(table.contains("iifname \"\(bridge)\" oifname \"\(bridge)\" accept"), "\(crash): Ready without rules: \(bridge)")
        }
    }

    /// The host is exactly the desired state: records, bridges, conflists, cgroups and the
    /// isolation table name the same spaces, and nothing else (no temp files) is left.
    func verify(_ sandbox: KernelSandbox, _ scenario: Scenario, cni2: String, changePath: String, k: Int) throws {
        let context = Comment(rawValue: "\(scenario.name), crash after step \(k)")
        let listed = sandbox.kuke("get", "spaces", "-o", "json")
        #expect(listed.status == 0 && listed.stderr.isEmpty, "\(context): \(listed)")
        let records = try JSONParser.parse(listed.stdout)["items"]?.arrayValue ?? []
        let names = Set(records.compactMap { $0["metadata"]?["name"]?.stringValue })
        #expect(names == scenario.spaces, context)
        #expect(records.allSatisfy { $0["status"]?["state"]?.stringValue == "Ready" }, "\(context): \(listed.stdout)")

        let bridges = Set(records.compactMap { $0["status"]?["network"]?["bridge"]?.stringValue })
        #expect(Set(sandbox.links().filter { $0.value == "bridge" }.keys) == bridges, context)
        let conflists = Set(records.compactMap { $0["status"]?["network"]?["conflistPath"]?.stringValue })
        let onDisk = [sandbox.cniDirectory, cni2].flatMap { directory in
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).map { "\(directory)/\($0)" }
        }
        #expect(Set(onDisk) == conflists, "\(context): conflists without a record, or hidden files")
        let cgroups = Set((try? FileManager.default.contentsOfDirectory(atPath: "\(sandbox.cgroupRoot)/kukeon/main")) ?? []).filter {
            !$0.hasPrefix("cgroup.") && !$0.contains(".")
        }
        #expect(cgroups == scenario.spaces, context)
        var leftovers: [String] = []
        if let walker = FileManager.default.enumerator(atPath: sandbox.runPath) {
            for case let path as String in walker
            where (path as NSString).lastPathComponent.hasPrefix(".") && path != ".kuke.lock" && path != ".kuke.table" {
                leftovers.append(path)
            }
        }
        #expect(leftovers.isEmpty, "\(context): \(leftovers)")
        let table = sandbox.run(["nft", "list", "table", "inet", "kukeon"]).stdout
        for bridge in bridges { #expect(table.contains("iifname \"\(bridge)\""), context) }
        #expect(!table.contains("kuke-main-c") || scenario.spaces.contains("c"), context)

        // The same file names as applied, so `status.source` matches too.
        let kept = ["a", "b", "c"].filter(scenario.spaces.contains).map { $0 == "b" ? Self.space("b", "  labels: {tier: one}\n") : Self.space($0) }
        let desiredPath = scenario.spaces.contains("e") ? changePath : try sandbox.writeManifest("baseline.yaml", Self.realm + kept.joined())
        let diff = sandbox.kuke("diff", "-f", desiredPath)
        #expect(diff.status == 0, "\(context): not converged: \(diff)")
    }
}
