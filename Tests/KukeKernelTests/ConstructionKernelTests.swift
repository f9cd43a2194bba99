import Foundation
import Glibc
import KukeModel
import KukeTestSupport
import Testing

/// Issue "isolation by construction", on the real kernel with real cells: no kuke bridge
/// forwards to another whatever the records say, a bridge no record describes sends nothing
/// out, and a crash in the middle of a create leaves no moment with an open boundary.
@Suite("Kernel: isolation by construction", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct ConstructionKernelTests {
    static let realm = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n"
    static func space(_ name: String) -> String {
        "---\napiVersion: v1beta1\nkind: Space\nmetadata: {name: \(name)}\nspec: {realmId: main}\n"
    }

    @Test(
        "a lost record: the next unrelated apply keeps its bridge closed to other spaces and to the outside, warns with the fix; restored, it is open again",
        .enabled(if: KernelSandbox.hasBridgePlugin, "needs containernetworking-plugins in /usr/lib/cni"))
    func lostRecord() throws {
        try KernelSandbox.with { sandbox in
            let both = try sandbox.writeManifest("both.yaml", Self.realm + Self.space("a") + Self.space("b"))
            let onlyA = try sandbox.writeManifest("a.yaml", Self.realm + Self.space("a"))
            #expect(sandbox.kuke("apply", "-f", both).status == 0)
            let token = String(UInt32.random(in: 0...UInt32.max), radix: 36)
            let names = ["a1", "b1", "b2"].map { "kuke-cell-\($0)-\(token)" }
            let outside = "kuke-out-\(token)"
            defer { for namespace in names + [outside] { _ = Subprocess.run(["ip", "netns", "del", namespace]) } }
            let a1 = try sandbox.attach(space: "a", cell: names[0])
            let b1 = try sandbox.attach(space: "b", cell: names[1])
            let b2 = try sandbox.attach(space: "b", cell: names[2])
            try sandbox.makeOutside(outside)
            #expect(sandbox.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"]).status == 0)
            let servers = try [serveTCP(in: a1.namespace, ports: [7000]), serveTCP(in: b2.namespace, ports: [7000])]
            defer { for server in servers { server.signal(SIGKILL) } }
            #expect(ping(a1, "203.0.113.2") && ping(b1, "203.0.113.2"), "open egress while recorded")

            // The record directory is gone (moved, deleted, an old backup restored).
            try FileManager.default.removeItem(atPath: "\(sandbox.runPath)/main/b")
            let unrelated = sandbox.kuke("apply", "-f", onlyA)
            #expect(unrelated.status == 0, "\(unrelated)")
            #expect(
                unrelated.stderr.contains("warning: bridge kuke-main-b is a kuke bridge no space record describes")
                    && unrelated.stderr.contains("ip link delete kuke-main-b"), "\(unrelated)")
            let table = sandbox.run(["nft", "list", "table", "inet", "kukeon"]).stdout
            #expect(
                table.components(separatedBy: "\"kuke-main-b\"").count == 3
                    && table.contains("iifname \"kuke-main-b\" oifname \"kuke-main-b\" accept comment \"same bridge, unrecorded\""),
                "of b's rules only its same-bridge accept is left: \(table)")
            #expect(!ping(a1, b1.address) && !ping(b1, a1.address), "still no way between a and b")
            #expect(!connect(a1, b2.address, 7000) && !connect(b1, a1.address, 7000), "nor over TCP")
            #expect(connect(b1, b2.address, 7000), "within the bridge, TCP too")
            #expect(!ping(b1, "203.0.113.2"), "a bridge no record describes sends nothing out")
            #expect(ping(b1, b2.address), "within the bridge, cells still talk")
            #expect(ping(a1, "203.0.113.2"), "a is unaffected")
            let json = sandbox.kuke("apply", "-f", onlyA, "-o", "json")
            #expect(json.stdout.contains("\"warnings\""), "\(json)")
            let get = sandbox.kuke("get", "spaces")
            #expect(get.status == 0 && get.stderr.contains("warning: bridge kuke-main-b is a kuke bridge no space record describes"), "\(get)")

            // The manifest applied again adopts what is on the host: b is recorded and open again.
            let restored = sandbox.kuke("apply", "-f", both)
            #expect(restored.status == 0 && !restored.stderr.contains("warning:"), "\(restored)")
            #expect(ping(b1, "203.0.113.2") && !ping(b1, a1.address), "recorded again: egress open, isolation kept")
        }
    }

    @Test(
        "a bridge made by hand with a kuke- name is isolated from every space and sends nothing out; doctor and apply report it",
        .enabled(if: KernelSandbox.hasBridgePlugin, "needs containernetworking-plugins in /usr/lib/cni"))
    func handMadeBridge() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("a.yaml", Self.realm + Self.space("a"))
            #expect(sandbox.kuke("apply", "-f", path).status == 0)
            let token = String(UInt32.random(in: 0...UInt32.max), radix: 36)
            let cells = ["a1", "r1"].map { "kuke-cell-\($0)-\(token)" }
            defer { for namespace in cells { _ = Subprocess.run(["ip", "netns", "del", namespace]) } }
            let a1 = try sandbox.attach(space: "a", cell: cells[0])
            // kuke-rogue: a bridge with a cell behind a veth, 10.99.0.0/24, routed by the host.
            let steps: [[String]] = [
                ["ip", "-n", sandbox.namespace, "link", "add", "kuke-rogue", "type", "bridge"],
                ["ip", "-n", sandbox.namespace, "address", "add", "10.99.0.1/24", "dev", "kuke-rogue"],
                ["ip", "-n", sandbox.namespace, "link", "set", "kuke-rogue", "up"],
                ["ip", "netns", "add", cells[1]],
                ["ip", "-n", sandbox.namespace, "link", "add", "r\(token.prefix(8))", "type", "veth", "peer", "name", "eth0", "netns", cells[1]],
                ["ip", "-n", sandbox.namespace, "link", "set", "r\(token.prefix(8))", "master", "kuke-rogue", "up"],
                ["ip", "-n", cells[1], "address", "add", "10.99.0.2/24", "dev", "eth0"],
                ["ip", "-n", cells[1], "link", "set", "eth0", "up"],
                ["ip", "-n", cells[1], "route", "add", "default", "via", "10.99.0.1"],
            ]
            for step in steps { #expect(Subprocess.run(step).status == 0, "\(step)") }
            #expect(sandbox.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"]).status == 0)
            let rogue = Cell(namespace: cells[1], address: "10.99.0.2", gateway: "10.99.0.1")
            #expect(ping(rogue, rogue.gateway), "the host answers it")
            #expect(!ping(rogue, a1.address) && !ping(a1, rogue.address), "no record names it, and still no way across")
            let applied = sandbox.kuke("apply", "-f", path)
            #expect(
                applied.status == 0 && applied.stderr.contains("warning: bridge kuke-rogue is a kuke bridge no space record describes"), "\(applied)")
            let doctor = sandbox.kuke("doctor")
            #expect(doctor.stdout.contains("WARN") && doctor.stdout.contains("kuke-rogue"), "\(doctor)")
        }
    }

    @Test(
        "killed right after a new space's bridge is made, before its record is Ready: a cell on that bridge reaches no other space, and no record says Ready without rules",
        .enabled(if: KernelSandbox.hasBridgePlugin, "needs containernetworking-plugins in /usr/lib/cni"))
    func crashAfterBridge() throws {
        var found = false
        for k in 1...40 where !found {
            try KernelSandbox.with { sandbox in
                let first = try sandbox.writeManifest("a.yaml", Self.realm + Self.space("a"))
                #expect(sandbox.kuke("apply", "-f", first).status == 0)
                let second = try sandbox.writeManifest("ab.yaml", Self.realm + Self.space("a") + Self.space("b"))
                let crashed = sandbox.run(["env", "KUKE_TEST_CRASH_AFTER=\(k)", sandbox.kukeBinary, "apply", "-f", second])
                guard crashed.status == 86, crashed.stderr.contains("set up kuke-main-b") else {
                    #expect(crashed.status == 86, "the apply ends before b's bridge is up: \(crashed)")
                    return
                }
                found = true
                let token = String(UInt32.random(in: 0...UInt32.max), radix: 36)
                let cells = ["a1", "b1"].map { "kuke-cell-\($0)-\(token)" }
                defer { for namespace in cells { _ = Subprocess.run(["ip", "netns", "del", namespace]) } }
                let a1 = try sandbox.attach(space: "a", cell: cells[0])
                let b1 = try sandbox.attach(space: "b", cell: cells[1])
                #expect(!ping(b1, a1.address) && !ping(a1, b1.address), "k=\(k): \(crashed.stderr)")
                let record = try? String(contentsOfFile: "\(sandbox.runPath)/main/b/space.yaml", encoding: .utf8)
                let table = sandbox.run(["nft", "list", "table", "inet", "kukeon"]).stdout
                #expect(record?.contains("state: Ready") != true || table.contains("\"kuke-main-b\""), "k=\(k)")
                #expect(table.contains("iifname \"kuke-*\" oifname \"kuke-*\""), "the kuke-* rules were there before the bridge")
                #expect(sandbox.kuke("apply", "-f", second).status == 0)
                #expect(!ping(b1, a1.address) && ping(b1, b1.gateway), "after the re-run")
            }
        }
        #expect(found, "some crash point falls right after b's bridge is set up")
    }

    /// The handle of the first rule of `inet kukeon`'s `chain` whose text contains `text`.
    func handle(_ sandbox: KernelSandbox, chain: String, _ text: String) -> String? {
        let listed = sandbox.run(["nft", "-a", "list", "chain", "inet", "kukeon", chain]).stdout
        return listed.split(separator: "\n").first { $0.contains(text) }?.split(separator: " ").last.map(String.init)
    }

    @Test(
        "tampering with the table is drift: an accept added by hand, isolate verdicts changed with their comments kept, the chain's policy, a dormant table; diff exits 1, apply closes it again",
        .enabled(if: KernelSandbox.hasBridgePlugin, "needs containernetworking-plugins in /usr/lib/cni"))
    func tampering() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("ab.yaml", Self.realm + Self.space("a") + Self.space("b"))
            #expect(sandbox.kuke("apply", "-f", path).status == 0)
            let token = String(UInt32.random(in: 0...UInt32.max), radix: 36)
            let cells = ["a1", "b1"].map { "kuke-cell-\($0)-\(token)" }
            defer { for namespace in cells { _ = Subprocess.run(["ip", "netns", "del", namespace]) } }
            let a1 = try sandbox.attach(space: "a", cell: cells[0])
            let b1 = try sandbox.attach(space: "b", cell: cells[1])
            #expect(sandbox.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"]).status == 0)
            let server = try serveTCP(in: b1.namespace, ports: [7000])
            defer { server.signal(SIGKILL) }
            #expect(!ping(a1, b1.address) && !connect(a1, b1.address, 7000))

            func repaired(_ what: String) {
                let diff = sandbox.kuke("diff", "-f", path)
                #expect(diff.status == 1 && diff.stdout.contains("nftables/inet kukeon"), "\(what): \(diff)")
                let apply = sandbox.kuke("apply", "-f", path)
                #expect(apply.status == 0 && apply.stdout.contains("Firewall \"inet kukeon\": updated"), "\(what): \(apply)")
                #expect(!ping(a1, b1.address) && !ping(b1, a1.address) && !connect(a1, b1.address, 7000), "\(what): closed again")
                #expect(sandbox.kuke("diff", "-f", path).status == 0, "\(what): converged")
            }

            // An accept with no comment, first in the chain.
            let added = ["nft", "insert", "rule", "inet", "kukeon", "forward", "iifname", "kuke-main-a", "oifname", "kuke-main-b", "accept"]
            #expect(sandbox.run(added).status == 0)
            #expect(ping(a1, b1.address) && connect(a1, b1.address, 7000), "the hand-added accept opens a to b")
            let diff = sandbox.kuke("diff", "-f", path)
            #expect(diff.stdout.contains("-  iifname \"kuke-main-a\" oifname \"kuke-main-b\" accept"), "\(diff)")
            repaired("an accept added by hand")

            // Every isolate drop turned into an accept, comments kept: same fingerprint, same count.
            for text in ["comment \"isolate\"", "comment \"isolate\"", "comment \"isolate kuke-*\""] {
                guard let number = handle(sandbox, chain: "forward", "drop " + text) else {
                    Issue.record("no rule with \(text)")
                    continue
                }
                let line =
                    sandbox.run(["nft", "list", "chain", "inet", "kukeon", "forward"]).stdout.split(separator: "\n")
                    .first { $0.contains("drop " + text) }.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                let rule = line.replacing(/counter packets \d+ bytes \d+ drop/, with: "counter accept")
                let replaced = sandbox.run(["nft", "replace rule inet kukeon forward handle \(number) \(rule)"])
                #expect(replaced.status == 0, "\(replaced)")
            }
            #expect(ping(a1, b1.address), "with the verdicts changed, a reaches b")
            repaired("isolate verdicts changed in place")

            // The chain's policy, and a dormant table (a table that sees no packet).
            #expect(
                sandbox.run(["nft", "add", "chain", "inet", "kukeon", "forward", "{ type filter hook forward priority filter; policy drop; }"]).status
                    == 0)
            repaired("the chain's policy")
            #expect(sandbox.run(["nft", "add", "table", "inet", "kukeon", "{ flags dormant; }"]).status == 0)
            #expect(ping(a1, b1.address), "a dormant table holds nothing")
            repaired("a dormant table")
        }
    }

    @Test(
        "kill -9 at random moments of a 40-space apply: a cell on the newest kuke bridge reaches no other space, the kuke-* rules are in the kernel, no record is Ready without its rules; a re-run converges",
        .enabled(if: KernelSandbox.hasBridgePlugin, "needs containernetworking-plugins in /usr/lib/cni"))
    func killedApply() throws {
        try KernelSandbox.with { sandbox in
            let first = try sandbox.writeManifest("a.yaml", Self.realm + Self.space("a"))
            #expect(sandbox.kuke("apply", "-f", first).status == 0)
            let names = (1...40).map { "s\($0)" }
            let many = try sandbox.writeManifest("many.yaml", Self.realm + Self.space("a") + names.map(Self.space).joined())
            let token = String(UInt32.random(in: 0...UInt32.max), radix: 36)
            var namespaces = ["kuke-cell-a1-\(token)"]
            defer { for namespace in namespaces { _ = Subprocess.run(["ip", "netns", "del", namespace]) } }
            let a1 = try sandbox.attach(space: "a", cell: namespaces[0])
            var generator = SystemRandomNumberGenerator()
            for round in 1...6 {
                let running = try #require(sandbox.startKuke("apply", "-f", many))
                usleep(UInt32.random(in: 20_000...400_000, using: &generator))
                running.signal(SIGKILL)
                _ = running.wait(timeout: 10)
                let bridges = sandbox.links().filter { $0.value == "bridge" && $0.key.hasPrefix("kuke-main-s") }.keys
                let table = sandbox.run(["nft", "list", "table", "inet", "kukeon"]).stdout
                let context = Comment(rawValue: "round \(round): \(bridges.count) new bridges")
                if !bridges.isEmpty { #expect(table.contains("iifname \"kuke-*\" oifname \"kuke-*\""), context) }
                let listed = sandbox.kuke("get", "spaces", "-o", "json")
                for record in try JSONParser.parse(listed.stdout)["items"]?.arrayValue ?? []
                where record["status"]?["state"]?.stringValue == "Ready" {
                    let bridge = record["status"]?["network"]?["bridge"]?.stringValue ?? "?"
                    #expect(table.contains("iifname \"\(bridge)\" oifname \"\(bridge)\" accept"), "\(context): Ready without rules: \(bridge)")
                }
                // A cell on the newest bridge whose conflist is there: no way to space a.
                let newest = bridges.compactMap { Int($0.dropFirst("kuke-main-s".count)) }.max()
                if let newest, FileManager.default.fileExists(atPath: "\(sandbox.cniDirectory)/main-s\(newest).conflist") {
                    let cell = "kuke-cell-s\(newest)-\(round)-\(token)"
                    namespaces.append(cell)
                    let attached = try sandbox.attach(space: "s\(newest)", cell: cell)
                    #expect(!ping(attached, a1.address) && !ping(a1, attached.address), context)
                }
            }
            let converged = sandbox.kuke("apply", "-f", many)
            #expect(converged.status == 0, "\(converged)")
            #expect(sandbox.kuke("diff", "-f", many).status == 0)
            let listed = sandbox.kuke("get", "spaces", "-o", "json")
            let states = (try JSONParser.parse(listed.stdout)["items"]?.arrayValue ?? []).compactMap { $0["status"]?["state"]?.stringValue }
            #expect(states.count == 41 && states.allSatisfy { $0 == "Ready" })
        }
    }
}
