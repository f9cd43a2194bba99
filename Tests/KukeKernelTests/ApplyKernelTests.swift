import Foundation
import KukeTestSupport
import KukeWatch
import Testing

/// `kuke` against a real kernel: rtnetlink bridges in a private network namespace,
/// directories in a private cgroup2 mount, files in temp directories.
@Suite("Kernel: apply, diff, delete", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct ApplyKernelTests {
    @Test("apply creates the four parts; a second apply is unchanged and rewrites no file")
    func createAndIdempotent() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("examples.yaml", examples)
            let first = sandbox.kuke("apply", "-f", path)
            #expect(first.status == 0, "\(first)")
            #expect(
                first.stdout
                    == "Realm \"main\": created\nSpace \"main/blog\": created\nSpace \"main/analytics-pipeline\": created\nFirewall \"inet kukeon\": created\n"
            )

            let links = sandbox.links()
            #expect(links["kuke-main-blog"] == "bridge")
            // IPv4 only: the bridge is up with IPv6 off on it (set before it came up), so it has no IPv6 address.
            #expect(sandbox.run(["ip", "link", "show", "dev", "kuke-main-blog"]).stdout.contains(",UP"))
            #expect(sandbox.run(["sysctl", "-n", "net.ipv6.conf.kuke-main-blog.disable_ipv6"]).stdout == "1\n")
            #expect(sandbox.run(["ip", "-6", "addr", "show", "dev", "kuke-main-blog"]).stdout.isEmpty)
            let longBridge = try #require(links.keys.first { $0.hasPrefix("kuke-mai-") })
            #expect(longBridge.utf8.count == 15)
            #expect(links[longBridge] == "bridge")
            #expect(sandbox.exists(sandbox.blogConflist))
            #expect(sandbox.exists("\(sandbox.runPath)/main/blog/network.conflist"))
            #expect(sandbox.exists("\(sandbox.blogCgroup)/cgroup.procs"))
            let record = try String(contentsOfFile: sandbox.blogRecord, encoding: .utf8)
            #expect(record.contains("state: Ready"))
            #expect(record.contains("bridge: kuke-main-blog"))
            let conflist = try String(contentsOfFile: sandbox.blogConflist, encoding: .utf8)
            #expect(conflist.contains("\"bridge\": \"kuke-main-blog\""))

            let files = [
                sandbox.blogConflist, sandbox.blogRecord, "\(sandbox.runPath)/main/realm.yaml", "\(sandbox.runPath)/main/blog/network.conflist",
            ]
            let before = files.map { FileIdentity($0) }
            let second = sandbox.kuke("apply", "-f", path)
            #expect(second.status == 0)
            #expect(second.stdout == "Realm \"main\": unchanged\nSpace \"main/blog\": unchanged\nSpace \"main/analytics-pipeline\": unchanged\n")
            #expect(files.map { FileIdentity($0) } == before)

            let table = sandbox.kuke("get", "spaces")
            #expect(table.stdout.contains("blog                 main    Ready   kuke-main-blog"), "\(table)")
        }
    }

    @Test("drift is shown by diff and repaired by apply")
    func drift() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.applyExamples()
            #expect(sandbox.run(["ip", "link", "delete", "kuke-main-blog"]).status == 0)
            let edited = try String(contentsOfFile: sandbox.blogConflist, encoding: .utf8).replacingOccurrences(
                of: "\"ipMasq\": true", with: "\"ipMasq\": false")
            try edited.write(toFile: sandbox.blogConflist, atomically: true, encoding: .utf8)
            #expect(rmdir("\(sandbox.cgroupRoot)/kukeon/main/analytics-pipeline") == 0)

            let diff = sandbox.kuke("diff", "-f", path)
            #expect(diff.status == 1, "\(diff)")
            #expect(diff.stdout.contains("+++ bridge/kuke-main-blog"))
            #expect(diff.stdout.contains("-      \"ipMasq\": false,"))
            #expect(diff.stdout.contains("+      \"ipMasq\": true,"))
            #expect(diff.stdout.contains("kukeon/main/analytics-pipeline"))

            let repair = sandbox.kuke("apply", "-f", path)
            #expect(repair.status == 0)
            #expect(
                repair.stdout.contains(
                    "Space \"main/blog\": updated\n  ~ rewrite conflist \(sandbox.blogConflist)\n  + create bridge kuke-main-blog\n"), "\(repair)")
            #expect(sandbox.links()["kuke-main-blog"] == "bridge")
            #expect(sandbox.exists("\(sandbox.cgroupRoot)/kukeon/main/analytics-pipeline"))
            #expect(try String(contentsOfFile: sandbox.blogConflist, encoding: .utf8).contains("\"ipMasq\": true"))
            #expect(sandbox.kuke("diff", "-f", path).status == 0)
        }
    }

    @Test("a value written by hand into the space's cgroup survives re-apply")
    func handWrittenValues() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.applyExamples()
            let file = "\(sandbox.blogCgroup)/cgroup.max.descendants"
            try "7\n".write(toFile: file, atomically: false, encoding: .utf8)
            // Force work on the space too: its bridge is gone.
            _ = sandbox.run(["ip", "link", "delete", "kuke-main-blog"])
            #expect(sandbox.kuke("apply", "-f", path).status == 0)
            #expect(try String(contentsOfFile: file, encoding: .utf8) == "7\n")
        }
    }

    @Test("delete removes the four parts and leaves nothing behind")
    func deleteLeavesNothing() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.applyExamples()
            let result = sandbox.kuke("delete", "-f", path)
            #expect(result.status == 0, "\(result)")
            #expect(
                result.stdout
                    == "Space \"main/blog\": deleted\nSpace \"main/analytics-pipeline\": deleted\nRealm \"main\": deleted\nFirewall \"inet kukeon\": updated\n  ~ rewrite table inet kukeon: no spaces, the kuke-* rules alone\n"
            )
            #expect(sandbox.links().keys.filter { $0.hasPrefix("kuke-") }.isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.cniDirectory).isEmpty)
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: sandbox.runPath)) == [".kuke.lock", ".kuke.table"])
            let cgroups = try FileManager.default.contentsOfDirectory(atPath: "\(sandbox.cgroupRoot)/kukeon")
            #expect(cgroups.allSatisfy { $0.hasPrefix("cgroup.") || $0.contains(".") }, "\(cgroups)")
        }
    }

    @Test("--cascade is required when the space has children")
    func cascade() throws {
        try KernelSandbox.with { sandbox in
            _ = try sandbox.applyExamples()
            #expect(mkdir("\(sandbox.blogCgroup)/stack-a", 0o755) == 0)
            #expect(mkdir("\(sandbox.blogCgroup)/stack-a/cell-1", 0o755) == 0)
            let refused = sandbox.kuke("delete", "space", "blog", "--realm", "main")
            #expect(refused.status == 1)
            #expect(refused.stdout.contains("HasChildren"), "\(refused)")
            #expect(sandbox.links()["kuke-main-blog"] == "bridge")
            let deleted = sandbox.kuke("delete", "space", "blog", "--realm", "main", "--cascade")
            #expect(deleted.status == 0, "\(deleted)")
            #expect(!sandbox.exists(sandbox.blogCgroup))
            #expect(!sandbox.exists(sandbox.blogConflist))
        }
    }

    @Test("invalid input changes nothing on disk or in the kernel (exit 2)")
    func invalidInput() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("bad.yaml", examples + "\n---\nkind: Space\nmetadata: {name: Bad_Name}\nspec: {realmId: main}\n")
            let result = sandbox.kuke("apply", "-f", path)
            #expect(result.status == 2)
            #expect(result.stderr.contains("bad.yaml:22:18: metadata.name \"Bad_Name\""), "\(result)")
            #expect(sandbox.links().keys.filter { $0.hasPrefix("kuke-") }.isEmpty)
            #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.runPath).isEmpty)
            #expect(!sandbox.exists("\(sandbox.cgroupRoot)/kukeon"))
        }
    }

    @Test("a veth holding the bridge name is a conflict and is left alone")
    func vethConflict() throws {
        try KernelSandbox.with { sandbox in
            #expect(sandbox.run(["ip", "link", "add", "kuke-main-blog", "type", "veth", "peer", "name", "peer0"]).status == 0)
            let path = try sandbox.writeManifest("examples.yaml", examples)
            let result = sandbox.kuke("apply", "-f", path)
            #expect(result.status == 1)
            #expect(
                result.stdout.contains("Space \"main/blog\": failed: BridgeConflict: link \"kuke-main-blog\" exists and is a veth link"), "\(result)")
            #expect(result.stdout.contains("Space \"main/analytics-pipeline\": created"))
            #expect(sandbox.links()["kuke-main-blog"] == "veth")
        }
    }

    @Test("a cgroup root that is not cgroup2 fails each resource with the reason")
    func notCgroup2() throws {
        try KernelSandbox.with { sandbox in
            let path = try sandbox.writeManifest("examples.yaml", examples)
            let result = sandbox.run(["env", "KUKEON_CGROUP_ROOT=\(sandbox.directory)", sandbox.kukeBinary, "apply", "-f", path])
            #expect(result.status == 1)
            #expect(result.stdout.contains("CgroupRootInvalid: cgroup root \(sandbox.directory) is not a cgroup2 filesystem"), "\(result)")
            #expect(sandbox.links().keys.filter { $0.hasPrefix("kuke-") }.isEmpty)
        }
    }
}
