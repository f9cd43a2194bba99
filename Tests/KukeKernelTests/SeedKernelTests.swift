import Foundation
import KukeModel
import KukeTestSupport
import Testing

/// The seed document's own operations, word for word (without `sudo`), on the real kernel.
@Suite("Kernel: the seed's examples", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct SeedKernelTests {
    @Test("after kuke init and kuke create realm main: create space mySpace, get spaces --realm main, delete space mySpace --cascade")
    func operations() throws {
        try KernelSandbox.with { sandbox in
            #expect(sandbox.kuke("init").status == 0)
            #expect(sandbox.kuke("create", "realm", "main").status == 0)

            // # Create a space inside the main realm
            let created = sandbox.kuke(["create", "space", "mySpace", "--realm", "main"])
            #expect(created.status == 0 && created.stdout.contains("Space \"main/mySpace\": created"), "\(created)")
            #expect(sandbox.exists("\(sandbox.cniDirectory)/main-mySpace.conflist"))
            #expect(sandbox.exists("\(sandbox.cgroupRoot)/kukeon/main/mySpace"))
            #expect(sandbox.exists("\(sandbox.runPath)/main/mySpace/space.yaml"))
            let bridge = BridgeName.make(for: SpaceID(realm: "main", name: "mySpace"))
            #expect(sandbox.links()[bridge] == "bridge", "\(bridge): \(sandbox.links())")

            // # List spaces in a realm
            let listed = sandbox.kuke(["get", "spaces", "--realm", "main"])
            #expect(listed.status == 0 && listed.stdout.contains("mySpace") && listed.stdout.contains("Ready"), "\(listed)")
            #expect(!listed.stdout.contains("default"), "only realm main's spaces")

            // A name that differs only in case is a conflict.
            let twin = sandbox.kuke(["create", "space", "myspace", "--realm", "main"])
            #expect(twin.status == 1 && twin.stdout.contains("NameConflict"), "\(twin)")

            // # Delete (with --cascade to remove child stacks, cells, containers)
            let deleted = sandbox.kuke(["delete", "space", "mySpace", "--realm", "main", "--cascade"])
            #expect(deleted.status == 0 && deleted.stdout.contains("Space \"main/mySpace\": deleted"), "\(deleted)")
            #expect(!sandbox.exists("\(sandbox.cniDirectory)/main-mySpace.conflist"))
            #expect(!sandbox.exists("\(sandbox.cgroupRoot)/kukeon/main/mySpace"))
            #expect(sandbox.links()[bridge] == nil)
        }
    }

    @Test(
        "the seed's troubleshooting step: an old conflist with a too-long bridge and no record is listed by init and taken over by apply --force-regenerate-cni"
    )
    func oldConflist() throws {
        try KernelSandbox.with { sandbox in
            let old = """
                {"cniVersion": "0.4.0", "name": "main-web", "plugins": [{"type": "bridge", "bridge": "kuke-main-web-from-before", "isGateway": true,
                 "ipMasq": true, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.7.0/24"}]]}}]}
                """
            try old.write(toFile: "\(sandbox.cniDirectory)/main-web.conflist", atomically: true, encoding: .utf8)
            let manifest = try sandbox.writeManifest(
                "web.yaml",
                "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n---\napiVersion: v1beta1\nkind: Space\nmetadata: {name: web}\nspec: {realmId: main}\n"
            )
            let refused = sandbox.kuke("apply", "-f", manifest)
            #expect(
                refused.status == 1 && refused.stdout.contains("ConflistConflict") && refused.stdout.contains("--force-regenerate-cni"), "\(refused)")
            let initialized = sandbox.kuke("init", "--force-regenerate-cni")
            #expect(
                initialized.stderr.contains("warning: \(sandbox.cniDirectory)/main-web.conflist names bridge \"kuke-main-web-from-before\""),
                "\(initialized)")
            let fixed = sandbox.kuke("apply", "--force-regenerate-cni", "-f", manifest)
            #expect(fixed.status == 0, "\(fixed)")
            let conflist = try String(contentsOfFile: "\(sandbox.cniDirectory)/main-web.conflist", encoding: .utf8)
            #expect(conflist.contains("\"bridge\": \"kuke-main-web\"") && conflist.contains("10.88.7.0/24"), "\(conflist)")
            #expect(sandbox.links()["kuke-main-web"] == "bridge")
            #expect(sandbox.kuke("diff", "-f", manifest).status == 0)
            #expect(!sandbox.kuke("init", "--force-regenerate-cni").stderr.contains("warning:"))
        }
    }
}

@Suite("Kernel: apply --detailed-exitcode", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"))
struct DetailedExitcodeKernelTests {
    @Test("0 when nothing changed, 3 when something changed and all succeeded, 1 when a resource failed, 2 on invalid input")
    func codes() throws {
        try KernelSandbox.with { sandbox in
            let manifest = try sandbox.writeManifest("blog.yaml", examples)
            #expect(sandbox.kuke("apply", "-f", manifest, "--detailed-exitcode").status == 3)
            #expect(sandbox.kuke("apply", "-f", manifest, "--detailed-exitcode").status == 0)
            #expect(sandbox.kuke("apply", "-f", manifest).status == 0, "without the flag: 0 as before")
            let orphan = try sandbox.writeManifest("orphan.yaml", "apiVersion: v1beta1\nkind: Space\nmetadata: {name: x}\nspec: {realmId: nope}\n")
            #expect(sandbox.kuke("apply", "-f", orphan, "--detailed-exitcode").status == 1)
            let bad = try sandbox.writeManifest("bad.yaml", "kind: Space\n")
            #expect(sandbox.kuke("apply", "-f", bad, "--detailed-exitcode").status == 2)
        }
    }
}

@Suite("Kernel: describe space", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"))
struct DescribeKernelTests {
    @Test("describe shows each part as the host holds it now: attached interfaces, a conflist that drifted, a missing bridge, the space's rules")
    func describe() throws {
        try KernelSandbox.with { sandbox in
            let manifest = try sandbox.writeManifest("examples.yaml", examples)
            #expect(sandbox.kuke("apply", "-f", manifest).status == 0)
            #expect(sandbox.run(["ip", "link", "add", "kd0", "type", "veth", "peer", "name", "kd1"]).status == 0)
            #expect(sandbox.run(["ip", "link", "set", "kd0", "master", "kuke-main-blog"]).status == 0)
            let first = sandbox.kuke("describe", "space", "blog", "--realm", "main")
            #expect(first.status == 0, "\(first)")
            #expect(first.stdout.contains("Bridge:         kuke-main-blog (up, 1 interface(s) attached: kd0)"), "\(first.stdout)")
            #expect(first.stdout.contains("(hash ") && first.stdout.contains(", as recorded)"), "\(first.stdout)")
            #expect(first.stdout.contains("Isolation:      rules in table inet kukeon (egress open, 0 packets dropped)"), "\(first.stdout)")

            try String(contentsOfFile: sandbox.blogConflist, encoding: .utf8).replacingOccurrences(of: "\"ipMasq\": true", with: "\"ipMasq\": false")
                .write(toFile: sandbox.blogConflist, atomically: true, encoding: .utf8)
            #expect(sandbox.run(["ip", "link", "delete", "kuke-main-blog"]).status == 0)
            #expect(sandbox.run(["nft", "flush", "chain", "inet", "kukeon", "forward"]).status == 0)
            let drifted = sandbox.kuke("describe", "space", "blog", "--realm", "main")
            #expect(drifted.stdout.contains("Bridge:         kuke-main-blog (missing)"), "\(drifted.stdout)")
            #expect(drifted.stdout.contains("differs from the record (kuke diff shows how)"), "\(drifted.stdout)")
            #expect(drifted.stdout.contains("Isolation:      NO rules in the kernel"), "\(drifted.stdout)")
            #expect(sandbox.kuke("describe", "space", "nope", "--realm", "main").status == 1)
        }
    }
}
