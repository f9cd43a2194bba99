import Foundation
import KukeEngine
import KukeModel
import Testing

@testable import KukeCLI

/// The CLI in-process: parsing, help, exit codes and printing. Every case here stops
/// before touching the kernel (validation) or only reads records from a temp run path.
@Suite("CLI")
struct CLITests {
    func run(_ arguments: [String], stdin: String = "", environment: [String: String] = [:]) async -> (status: Int32, out: String, err: String) {
        let (console, captured) = Console.capturing(environment: environment, stdin: Data(stdin.utf8))
        let status = await Kuke.run(arguments: arguments, console: console)
        return (status, captured.out, captured.error)
    }

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kuke-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test(
        "every command's help shows an example",
        arguments: [
            ["apply"], ["diff"], ["get"], ["get", "realms"], ["get", "spaces"], ["create"], ["create", "realm"], ["create", "space"],
            ["delete"], ["delete", "space"], ["delete", "realm"], ["init"], ["top", "spaces"], ["describe", "space"], ["version"], ["watch"],
            ["doctor"],
            ["get", "host"], ["suspend", "space"], ["resume", "space"],
        ])
    func helpHasExample(_ command: [String]) async {
        let result = await run(command + ["--help"])
        #expect(result.status == 0)
        #expect(result.out.contains("Example"), "\(result.out)")
        #expect(result.out.contains("kuke \(command[0])"))
        // A line of help (or of the man page made from it) never ends in a stray backslash.
        #expect(!result.out.contains("\\\n"), "\(result.out)")
    }

    @Test("an unknown command is named, with the one probably meant, and exits 2; so does help for one")
    func unknownCommands() async {
        let typo = await run(["aply", "-f", "x.yaml"])
        #expect(typo.status == 2 && typo.err.hasPrefix("Error: unknown command \"aply\" for \"kuke\" (did you mean \"apply\"?)"), "\(typo)")
        let nested = await run(["get", "spce"])
        #expect(nested.status == 2 && nested.err.contains("unknown command \"spce\" for \"kuke get\" (did you mean \"get space\"?)"), "\(nested)")
        let help = await run(["help", "nope"])
        #expect(help.status == 2 && help.err.contains("unknown command \"nope\" for \"kuke\"") && !help.err.contains("did you mean"), "\(help)")
        #expect(await run(["help", "get"]).status == 0)
        #expect(await run(["get", "spaces", "--help"]).status == 0)
    }

    @Test("usage errors exit 2")
    func usage() async {
        #expect(await run(["apply"]).status == 2)
        #expect(await run(["apply"]).err.contains("-f PATH is required"))
        #expect(await run(["frobnicate"]).status == 2)
        #expect(await run(["delete"]).status == 2)
        #expect(await run(["create", "space", "Bad_Name", "--realm", "main"]).status == 2)
        #expect(await run(["create", "space", "blog", "--realm", "main", "--cni-config-path", "relative"]).err.contains("must be an absolute path"))
        let pool = await run(["get", "spaces", "--subnet-pool", "10.0.0.0/25"])
        #expect(pool.status == 2)
        #expect(pool.err.contains("smaller than one /24"))
        #expect(pool.err.contains("Usage: kuke get spaces"), "\(pool.err)")
        #expect(await run(["apply", "-f", "x.yaml", "--lock-timeout", "-1"]).status == 2)
        #expect(await run(["create", "realm", "r", "--label", "novalue"]).err.contains("must be key=value"))
        #expect(await run(["get", "spaces", "--run-path", "relative"]).status == 2)
    }

    @Test("a negative or too long duration or interval says so, not \"Missing value\" (exit 2)")
    func negativeValues() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let debounce = await run(["watch", directory, "--debounce", "-1s"])
        #expect(debounce.status == 2 && debounce.err.contains("\"-1s\" is negative: a duration is 0s or more"), "\(debounce.err)")
        let resync = await run(["watch", directory, "--resync", "9000h"])
        #expect(resync.status == 2 && resync.err.contains("\"9000h\" is longer than a year (8760h)"), "\(resync.err)")
        let interval = await run(["top", "spaces", "--interval", "-1"])
        #expect(interval.status == 2 && interval.err.contains("--interval must be above 0 and at most 60 seconds"), "\(interval.err)")
        let timeout = await run(["apply", "-f", "x.yaml", "--lock-timeout", "-1"])
        #expect(timeout.status == 2 && timeout.err.contains("--lock-timeout must be a number of seconds, 0 or more"), "\(timeout.err)")
        for value in ["nan", "inf"] {
            let odd = await run(["apply", "-f", "x.yaml", "--lock-timeout", value])
            #expect(odd.status == 2 && odd.err.contains("--lock-timeout must be a number of seconds, 0 or more"), "\(value): \(odd.err)")
        }
        #expect(!(debounce.err + interval.err + timeout.err).contains("Missing value"))
    }

    @Test("--prune-grace takes a duration and goes with --prune; anything else is a usage error (exit 2) that says what a duration is")
    func pruneGraceUsage() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bad = await run(["watch", directory, "--prune", "--prune-grace", "soon"])
        #expect(bad.status == 2)
        #expect(bad.err.contains("\"soon\" is not a duration: give a number and a unit, as 30s, 2m or 0s"), "\(bad.err)")
        for value in ["-5s", "inf", "30x"] {
            #expect(await run(["watch", directory, "--prune", "--prune-grace", value]).status == 2, "\(value)")
        }
        let alone = await run(["watch", directory, "--prune-grace", "10s"])
        #expect(alone.status == 2 && alone.err.contains("--prune-grace goes with --prune"), "\(alone.err)")
    }

    @Test("apply --prune refuses a manifest file being replaced (exit 2, nothing changed); without --prune an empty file declares nothing")
    func applyPruneTransients() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manifests = "\(directory)/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n".write(toFile: "\(manifests)/realm.yaml", atomically: true, encoding: .utf8)
        try "".write(toFile: "\(manifests)/blog.yaml", atomically: true, encoding: .utf8)
        let flags = ["--run-path", "\(directory)/run", "--cni-config-dir", "\(directory)/cni", "--cgroup-root", directory, "--dry-run"]
        let pruning = await run(["apply", "-f", manifests, "--prune", "--inventory", "web"] + flags)
        #expect(pruning.status == 2, "\(pruning)")
        #expect(pruning.err.contains("\(manifests)/blog.yaml:1:1: is empty (a file being rewritten in place?)"), "\(pruning.err)")
        #expect(pruning.err.contains("[transient]") && pruning.err.contains("nothing was changed"))
        let diff = await run(["diff", "-f", manifests, "--prune", "--inventory", "web"] + flags.dropLast())
        #expect(diff.status == 2 && diff.err.contains("[transient]"), "\(diff)")
        let plain = await run(["apply", "-f", manifests] + flags)
        #expect(!plain.err.contains("[transient]"), "\(plain)")
    }

    @Test("--label follows Kubernetes' label rules: a bad key or value exits 2, names the rule, and writes nothing")
    func labels() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = "\(directory)/run"
        let flags = ["--run-path", run, "--cni-config-dir", "\(directory)/cni", "--cgroup-root", directory]
        let space = await self.run(["create", "space", "lab", "--realm", "main", "--label", "Bad Key=v a l"] + flags)
        #expect(space.status == 2)
        #expect(
            space.err.contains(
                "--label \"Bad Key=v a l\": label key \"Bad Key\": name part must consist of alphanumeric characters, '-', '_' or '.', "
                    + "and must start and end with an alphanumeric character"), "\(space.err)")
        #expect(space.err.contains("label value \"v a l\" of key \"Bad Key\": must be empty or consist of"), "\(space.err)")
        let realm = await self.run(["create", "realm", "main", "--label", "team=web", "--label", "example.com/a/b=x"] + flags)
        #expect(realm.status == 2)
        #expect(realm.err.contains("label key \"example.com/a/b\""), "\(realm.err)")
        #expect(!realm.err.contains("team"), "\(realm.err)")
        #expect(!FileManager.default.fileExists(atPath: run))
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/cni"))
    }

    @Test("watch refuses a directory others can write to, with exit 2, before reading it")
    func watchRefusesOpenDirectory() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(chmod(directory, 0o755) == 0)
        let manifests = "\(directory)/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        #expect(chmod(manifests, 0o777) == 0)
        let run = "\(directory)/run"
        let result = await self.run(["watch", manifests, "--run-path", run, "--cni-config-dir", "\(directory)/cni", "--cgroup-root", directory])
        #expect(result.status == 2)
        #expect(result.err.contains("error: refusing to watch \(manifests)"), "\(result.err)")
        #expect(result.err.contains("mode 0777); fix: chmod go-w \(manifests)"), "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: run))
    }

    @Test(
        "a watch interval that is not finite or is past a year is a usage error, not a trap",
        arguments: ["1e400s", "inf", "1e300", "8761h", "525601m", "31536001", "-1s", "nan"])
    func watchInterval(_ interval: String) async throws {
        #expect(Interval(argument: interval) == nil)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(chmod(directory, 0o755) == 0)
        let result = await run(["watch", directory, "--resync", interval, "--run-path", "\(directory)/run", "--cgroup-root", directory])
        #expect(result.status == 2, "\(result)")
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/run"))
    }

    @Test("the longest watch interval is a year")
    func longestInterval() {
        #expect(Interval(argument: "8760h")?.seconds == 31_536_000)
        #expect(Interval(argument: "31536000")?.seconds == 31_536_000)
        #expect(Interval(argument: "100ms")?.seconds == 0.1)
    }

    @Test("invalid manifests print FILE:LINE:COLUMN for every issue, exit 2, and create nothing")
    func invalidManifests() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let manifests = "\(directory)/manifests"
        try FileManager.default.createDirectory(atPath: "\(manifests)/nested", withIntermediateDirectories: true)
        try "kind: Space\nmetadata: {name: a_b}\nspec: {realmId: main}\n".write(toFile: "\(manifests)/a.yaml", atomically: true, encoding: .utf8)
        try "kind: Space\nmetadata: {name: ok}\nspec: {realmId: main, typo: 1}\n".write(
            toFile: "\(manifests)/nested/b.yml", atomically: true, encoding: .utf8)
        try "not: [valid".write(toFile: "\(manifests)/.hidden.yaml", atomically: true, encoding: .utf8)
        try "ignored".write(toFile: "\(manifests)/notes.txt", atomically: true, encoding: .utf8)
        let run = "\(directory)/run"
        let result = await self.run(["apply", "-f", manifests, "--run-path", run, "--cni-config-dir", "\(directory)/cni", "--cgroup-root", directory])
        #expect(result.status == 2)
        #expect(result.err.contains("\(manifests)/a.yaml:2:18: metadata.name \"a_b\" must not contain \"_\""), "\(result.err)")
        #expect(result.err.contains("\(manifests)/nested/b.yml:3:23: unknown field \"spec.typo\" [unknown-field]"), "\(result.err)")
        #expect(!result.err.contains("hidden"))
        #expect(result.err.contains("2 problems found; nothing was changed"))
        #expect(!FileManager.default.fileExists(atPath: run))
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/cni"))
    }

    @Test("stdin is read with -f -")
    func stdin() async {
        let result = await run(["apply", "-f", "-"], stdin: "kind: Space\nmetadata: {name: x}\nspec: {realmId: Ma_in}\n")
        #expect(result.status == 2)
        #expect(result.err.contains("<stdin>:3:17: spec.realmId \"Ma_in\""), "\(result.err)")
    }

    @Test("a missing path or an empty batch is an input error")
    func missingInput() async throws {
        #expect(await run(["apply", "-f", "/nonexistent/kuke.yaml"]).err.contains("/nonexistent/kuke.yaml:1:1: no such file or directory"))
        let empty = await run(["apply", "-f", "-"], stdin: "# nothing here\n")
        #expect(empty.status == 2)
        #expect(empty.err.contains("no Realm or Space manifests found"))
    }

    @Test("get reads records: table, json, yaml, and never prints a registry password")
    func get() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let flags = ["--run-path", directory, "--cgroup-root", directory]
        #expect(await run(["get", "spaces"] + flags).out == "No spaces found.\n")

        let realm = RealmRecord(
            metadata: ObjectMeta(name: "main", generation: 1),
            spec: RealmSpec(registryCredentials: .list([.map([.init("username", .string("u")), .init("password", .string("hunter2"))])])),
            status: RealmStatus(state: .ready, createdAt: Date()))
        let space = SpaceRecord(
            metadata: ObjectMeta(name: "blog", generation: 1), spec: SpaceSpec(realmId: "main"),
            status: SpaceStatus(
                state: .ready,
                network: SpaceNetworkStatus(name: "main-blog", bridge: "kuke-main-blog", subnet: IPv4Subnet("10.88.4.0/24")!, conflistPath: "/x"),
                createdAt: Date()))
        try FileManager.default.createDirectory(atPath: "\(directory)/main/blog", withIntermediateDirectories: true)
        try RecordCodec.recordText(RecordCodec.value(of: realm)).write(toFile: "\(directory)/main/realm.yaml", atomically: true, encoding: .utf8)
        try RecordCodec.recordText(RecordCodec.value(of: space)).write(toFile: "\(directory)/main/blog/space.yaml", atomically: true, encoding: .utf8)

        let table = await run(["get", "spaces"] + flags)
        #expect(
            table.out.hasPrefix(
                "NAME   REALM   STATE   BRIDGE           SUBNET         AGE\nblog   main    Ready   kuke-main-blog   10.88.4.0/24   "), "\(table.out)"
        )
        let json = await run(["get", "space", "blog", "--realm", "main", "-o", "json"] + flags)
        let parsed = try JSONParser.parse(json.out)
        #expect(parsed["status"]?["network"]?["subnet"]?.stringValue == "10.88.4.0/24")
        // A list is always a List object; one named object is itself.
        let list = try JSONParser.parse(await run(["get", "spaces", "-o", "json"] + flags).out)
        #expect(list["kind"]?.stringValue == "List" && list["apiVersion"]?.stringValue == "v1beta1")
        #expect(list["items"]?.arrayValue?.compactMap { $0["metadata"]?["name"]?.stringValue } == ["blog"])
        let realms = await run(["get", "realms", "-o", "yaml"] + flags)
        #expect(realms.out.hasPrefix("apiVersion: v1beta1\nkind: List\nitems:\n"), "\(realms.out)")
        #expect(realms.out.contains("password: <redacted>"))
        #expect(!realms.out.contains("hunter2"))
        #expect(await run(["get", "space", "nope"] + flags).status == 1)
        // A realm that does not exist is an error, not an empty list (a typo would read as "nothing there").
        let noRealm = await run(["get", "spaces", "--realm", "nope"] + flags)
        #expect(noRealm.status == 1 && noRealm.err == "error: realm \"nope\" not found\n" && noRealm.out.isEmpty, "\(noRealm)")
        #expect(await run(["get", "spaces", "--realm", "main"] + flags).status == 0)

        // kubectl habits: -o name, --no-headers, several names (what matched is printed, each missing one is an error).
        #expect(await run(["get", "spaces", "-o", "name"] + flags).out == "space/main/blog\n")
        #expect(await run(["get", "realms", "-o", "name"] + flags).out == "realm/main\n")
        let bare = await run(["get", "spaces", "--no-headers"] + flags)
        #expect(bare.out.hasPrefix("blog   main    Ready   kuke-main-blog   10.88.4.0/24   ") && !bare.out.contains("NAME"), "\(bare.out)")
        let several = await run(["get", "spaces", "blog", "nope", "-o", "name"] + flags)
        #expect(several.status == 1 && several.out == "space/main/blog\n" && several.err == "error: space \"nope\" not found\n", "\(several)")
        let both = try JSONParser.parse(await run(["get", "spaces", "blog", "blog2", "-o", "json"] + flags).out)
        #expect(both["kind"]?.stringValue == "List", "two names: a List even when one matched")
        // -l/--selector: what matches, nothing (an empty list, exit 0), or a usage error for a bad selector.
        #expect(await run(["get", "spaces", "-l", "!tier", "-o", "name"] + flags).out == "space/main/blog\n")
        #expect(await run(["get", "spaces", "-l", "tier=web"] + flags).out == "No spaces found.\n")
        #expect(await run(["get", "spaces", "--selector", "Bad Key=x"] + flags).status == 2)
    }
}

/// The engine's hints in kuke's words: each message reads as it did when the engine spelled the
/// command itself (the docs quote them).
@Suite("Hints")
struct HintWordingTests {
    @Test("failure messages end with the command that fixes them, joined as the sentence needs")
    func composed() {
        let hints = CommandHints()
        let id = SpaceID(realm: "main", name: "b")
        #expect(
            hints.text(Failure(.realmNotFound, "realm \"payments\" not found", hint: .createRealm("payments")))
                == "realm \"payments\" not found; declare it in the batch or run `kuke create realm payments`")
        #expect(
            hints.text("/cni/x.conflist exists and no space records it; kuke does not overwrite a conflist it did not write", hint: .takeOverConflist)
                == "/cni/x.conflist exists and no space records it; kuke does not overwrite a conflist it did not write (move it away to let kuke create it, or run with --force-regenerate-cni if an older kuke wrote it for this space)"
        )
        #expect(
            hints.text(
                "subnet 10.88.0.0/24 is also recorded by space main/a, created earlier; two spaces never share a range",
                hint: .regenerateNetwork(.ownSubnet(id)))
                == "subnet 10.88.0.0/24 is also recorded by space main/a, created earlier; two spaces never share a range: run `kuke init --force-regenerate-cni` to give main/b a subnet of its own"
        )
        #expect(
            hints.text("space main/b is in use: 1 interface(s) on its bridge (veth0)", hint: .stopContainersOrCascade)
                == "space main/b is in use: 1 interface(s) on its bridge (veth0); stop its containers first, or pass --cascade to detach them through the CNI plugins (nothing was changed)"
        )
        #expect(hints.text("x", hint: nil) == "x")
        #expect(NoHints().text("x", hint: .applyInstead) == "x")
    }
}
