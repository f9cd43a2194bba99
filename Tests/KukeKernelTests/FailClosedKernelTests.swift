import Foundation
import Glibc
import KukeModel
import KukeTestSupport
import Testing

/// Issue "fail closed", on the real kernel: nftables, rtnetlink, Debian's CNI plugins.
@Suite("Kernel: fail closed", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct FailClosedKernelTests {
    static let realm = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n"
    static func space(_ name: String, realm: String = "main") -> String {
        "---\napiVersion: v1beta1\nkind: Space\nmetadata: {name: \(name)}\nspec: {realmId: \(realm)}\n"
    }

    func record(_ sandbox: KernelSandbox, _ name: String) -> SpaceRecord? {
        let path = "\(sandbox.runPath)/main/\(name)/space.yaml"
        return (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { try? RecordCodec.decodeSpace($0, file: path) }
    }

    /// Rewrites a record the way a hand edit or an old backup would.
    func edit(_ sandbox: KernelSandbox, _ name: String, _ old: String, _ new: String) throws {
        let path = "\(sandbox.runPath)/main/\(name)/space.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains(old))
        try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
    }

    func table(_ sandbox: KernelSandbox) -> String { sandbox.run(["nft", "list", "table", "inet", "kukeon"]).stdout }

    @Test("a recorded bridge name nftables cannot hold fails alone: the space created in the same pass is isolated, and the dry run predicts it")
    func inexpressibleBridge() throws {
        try KernelSandbox.with { sandbox in
            let first = try sandbox.writeManifest("first.yaml", Self.realm + Self.space("blog"))
            #expect(sandbox.kuke("apply", "-f", first).status == 0)
            // An old conflist's name, too long for an interface (as left "from before the fix").
            try edit(sandbox, "blog", "bridge: kuke-main-blog", "bridge: kuke-main-blog-before")
            let second = try sandbox.writeManifest("second.yaml", Self.realm + Self.space("shop"))
            let dry = sandbox.kuke("apply", "-f", second, "--dry-run", "-o", "json")
            let real = sandbox.kuke("apply", "-f", second, "-o", "json")
            #expect(real.status == 0, "\(real)")
            // The dry run predicted what the real run did: the same outcomes, no failure.
            let outcomes = { (text: String) in text.split(separator: "\n").filter { $0.contains("\"outcome\"") || $0.contains("\"name\"") } }
            #expect(outcomes(real.stdout).contains { $0.contains("\"name\": \"shop\"") }, "\(real)")
            #expect(outcomes(dry.stdout) == outcomes(real.stdout), "dry: \(dry)\nreal: \(real)")
            #expect(!real.stdout.contains("\"error\""), "\(real)")
            let listing = table(sandbox)
            #expect(listing.contains("iifname \"kuke-main-shop\""), "the new space is isolated in the kernel: \(listing)")
            #expect(!listing.contains("kuke-main-blog-before"))
            #expect(record(sandbox, "shop")?.status.state == .ready)
            let blog = record(sandbox, "blog")
            #expect(blog?.status.state == .failed && blog?.status.reason == .bridgeNameInvalid, "\(String(describing: blog?.status))")
            let get = sandbox.kuke("get", "spaces")
            #expect(get.stdout.split(separator: "\n").contains { $0.hasPrefix("blog ") && $0.contains("Failed") }, "\(get)")
            // The repair the message names gives blog a valid bridge and its rules.
            let repaired = sandbox.kuke("init", "--force-regenerate-cni")
            #expect(repaired.status == 0, "\(repaired)")
            #expect(table(sandbox).contains("iifname \"kuke-main-blog\""))
            #expect(record(sandbox, "blog")?.status.state == .ready)
        }
    }

    @Test(
        "delete of a space with cells: refused (dry run too), then --cascade detaches them through the real plugins; no lease, veth, cache or masquerade chain is left"
    )
    func deleteWithCells() throws {
        try KernelSandbox.with { sandbox in
            let manifest = try sandbox.writeManifest("blog.yaml", Self.realm + Self.space("blog"))
            #expect(sandbox.kuke("apply", "-f", manifest).status == 0)
            let token = String(UInt32.random(in: 0...UInt32.max), radix: 36)
            let cells = ["c1", "c2"].map { "kuke-cell-\($0)-\(token)" }
            defer { for cell in cells { _ = Subprocess.run(["ip", "netns", "del", cell]) } }
            let first = try sandbox.attach(space: "blog", cell: cells[0])
            _ = try sandbox.attach(space: "blog", cell: cells[1])
            let leases = "\(sandbox.cniStateDirectory)/networks/main-blog"
            #expect(sandbox.exists("\(leases)/\(first.address)"))
            let vethsBefore = sandbox.links().filter { $0.value == "veth" }.count
            #expect(vethsBefore == 2)
            #expect(sandbox.run(["iptables", "-t", "nat", "-S"]).stdout.contains("CNI-"), "the plugin's masquerade chain exists")

            for arguments in [["--dry-run"], []] {
                let refused = sandbox.kuke(["delete", "space", "blog", "--realm", "main"] + arguments)
                #expect(
                    refused.status == 1 && refused.stdout.contains("SpaceInUse") && refused.stdout.contains(String(cells[0].prefix(12))), "\(refused)"
                )
            }
            #expect(sandbox.links()["kuke-main-blog"] == "bridge" && record(sandbox, "blog")?.status.state == .ready, "nothing changed")

            let deleted = sandbox.kuke("delete", "space", "blog", "--realm", "main", "--cascade")
            #expect(deleted.status == 0, "\(deleted)")
            #expect(sandbox.links().filter { $0.value == "veth" || $0.value == "bridge" }.isEmpty, "\(sandbox.links())")
            #expect(!sandbox.exists(leases), "host-local's leases are gone")
            #expect((try? FileManager.default.contentsOfDirectory(atPath: "\(sandbox.cniStateDirectory)/results"))?.isEmpty ?? true)
            #expect(!sandbox.run(["iptables", "-t", "nat", "-S"]).stdout.contains("CNI-"), "the masquerade chain is gone")
            #expect(Subprocess.run(["ip", "-n", cells[0], "link", "show", "eth0"]).status != 0, "the cell's interface is gone")

            // Re-created, the first cell gets .2 again: no lease leaked into the new space.
            #expect(sandbox.kuke("apply", "-f", manifest).status == 0)
            let again = try sandbox.attach(space: "blog", cell: "kuke-cell-c3-\(token)")
            defer { _ = Subprocess.run(["ip", "netns", "del", "kuke-cell-c3-\(token)"]) }
            #expect(again.address == first.address, "\(again.address) vs \(first.address)")
        }
    }

    @Test("a Podman-shaped conflist claiming the default pool: nothing is allocated on top of it, the error names it; another pool works")
    func podmanConflist() throws {
        try KernelSandbox.with { sandbox in
            // Podman's stock 87-podman-bridge.conflist (CNI backend).
            let podman = """
                {
                  "cniVersion": "0.4.0",
                  "name": "podman",
                  "plugins": [
                    {"type": "bridge", "bridge": "cni-podman0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
                     "ipam": {"type": "host-local", "routes": [{"dst": "0.0.0.0/0"}], "ranges": [[{"subnet": "10.88.0.0/16", "gateway": "10.88.0.1"}]]}},
                    {"type": "portmap", "capabilities": {"portMappings": true}},
                    {"type": "firewall"},
                    {"type": "tuning"}
                  ]
                }
                """
            try podman.write(toFile: "\(sandbox.cniDirectory)/87-podman-bridge.conflist", atomically: true, encoding: .utf8)
            let manifest = try sandbox.writeManifest("blog.yaml", Self.realm + Self.space("blog"))
            let refused = sandbox.kuke("apply", "-f", manifest)
            #expect(refused.status == 1 && refused.stdout.contains("SubnetPoolExhausted"), "\(refused)")
            #expect(refused.stdout.contains("87-podman-bridge.conflist (10.88.0.0/16)"), "\(refused)")
            #expect(sandbox.links()["kuke-main-blog"] == nil)
            let moved = sandbox.kuke("apply", "-f", manifest, "--subnet-pool", "10.87.0.0/16")
            #expect(moved.status == 0, "\(moved)")
            #expect(record(sandbox, "blog")?.status.network?.subnet.description == "10.87.0.0/24")
        }
    }

    @Test("two records with one subnet or one bridge: the later fails with a conflict; init --force-regenerate-cni moves it, never sharing")
    func duplicates() throws {
        try KernelSandbox.with { sandbox in
            let a = try sandbox.writeManifest("a.yaml", Self.realm + Self.space("a"))
            let b = try sandbox.writeManifest("b.yaml", Self.space("b"))
            #expect(sandbox.kuke("apply", "-f", a).status == 0)
            usleep(1_100_000)  // b is created a second later: createdAt decides which record wins
            #expect(sandbox.kuke("apply", "-f", b).status == 0)

            try edit(sandbox, "b", "subnet: 10.88.1.0/24", "subnet: 10.88.0.0/24")
            let conflict = sandbox.kuke("apply", "-f", a, "-f", b)
            #expect(conflict.status == 1 && conflict.stdout.contains("Space \"main/b\": failed: SubnetConflict"), "\(conflict)")
            #expect(conflict.stdout.contains("Space \"main/a\": unchanged"))
            let repaired = sandbox.kuke("init", "--force-regenerate-cni")
            #expect(repaired.status == 0 && repaired.stdout.contains("subnet 10.88.0.0/24 -> "), "\(repaired)")
            let subnets = [record(sandbox, "a"), record(sandbox, "b")].map { $0?.status.network?.subnet }
            #expect(subnets[0] != subnets[1] && subnets[0]?.description == "10.88.0.0/24")
            let conflist = try String(contentsOfFile: "\(sandbox.cniDirectory)/main-b.conflist", encoding: .utf8)
            #expect(conflist.contains(subnets[1]?.description ?? "?"))

            try edit(sandbox, "b", "bridge: kuke-main-b", "bridge: kuke-main-a")
            let shared = sandbox.kuke("apply", "-f", a, "-f", b)
            #expect(shared.status == 1 && shared.stdout.contains("Space \"main/b\": failed: BridgeConflict"), "\(shared)")
            #expect(table(sandbox).components(separatedBy: "iifname \"kuke-main-a\" oifname").count == 3, "a's same-bridge and isolate rules, once")
            let fixed = sandbox.kuke("init", "--force-regenerate-cni")
            #expect(fixed.status == 0, "\(fixed)")
            #expect(record(sandbox, "b")?.status.network?.bridge == "kuke-main-b" && record(sandbox, "a")?.status.network?.bridge == "kuke-main-a")
            #expect(sandbox.links()["kuke-main-a"] == "bridge" && sandbox.links()["kuke-main-b"] == "bridge")
            #expect(sandbox.kuke("diff", "-f", a, "-f", b).status == 0)
        }
    }

    @Test("kuke watch --prune: realmId main -> mian keeps main/blog while mian/blog fails; STATUS and the log say prune held")
    func typoHoldsPrune() throws {
        try KernelSandbox.with { sandbox in
            let directory = "\(sandbox.directory)/watched"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Self.realm.write(toFile: "\(directory)/00-realm.yaml", atomically: true, encoding: .utf8)
            try Self.space("blog").write(toFile: "\(directory)/blog.yaml", atomically: true, encoding: .utf8)
            try Self.space("shop").write(toFile: "\(directory)/shop.yaml", atomically: true, encoding: .utf8)
            let watcher = try #require(sandbox.startKuke("watch", directory, "--prune", "--prune-grace", "0s", "--resync", "1h"))
            defer { watcher.signal(SIGTERM) }
            #expect(Subprocess.waitUntil { record(sandbox, "blog")?.status.state == .ready && record(sandbox, "shop") != nil }, "\(watcher.stderr)")

            try Self.space("blog", realm: "mian").write(toFile: "\(directory)/blog.yaml", atomically: true, encoding: .utf8)
            #expect(Subprocess.waitUntil { watcher.stderr.contains("prune held: 1 declared resource(s) failed") }, "\(watcher.stderr)")
            #expect(watcher.stderr.contains("RealmNotFound"))
            #expect(record(sandbox, "blog") != nil && sandbox.links()["kuke-main-blog"] == "bridge", "the live space is kept")

            try Self.space("blog").write(toFile: "\(directory)/blog.yaml", atomically: true, encoding: .utf8)
            #expect(Subprocess.waitUntil { watcher.stderr.contains("prune no longer held") }, "\(watcher.stderr)")
            try FileManager.default.removeItem(atPath: "\(directory)/shop.yaml")
            #expect(Subprocess.waitUntil { record(sandbox, "shop") == nil }, "a real removal is pruned: \(watcher.stderr)")
            #expect(record(sandbox, "blog") != nil)
            watcher.signal(SIGTERM)
            #expect(watcher.wait(timeout: 10) == 0)
        }
    }
}
