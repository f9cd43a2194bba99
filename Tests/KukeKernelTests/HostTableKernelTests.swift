import Foundation
import Glibc
import KukeModel
import KukeTestSupport
import Testing

/// Issue "fail closed, part two": the isolation table belongs to the host's network namespace,
/// not to one run path, and a run path kuke cannot read is never taken for an empty one.
@Suite("Kernel: the isolation table belongs to the host", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct HostTableKernelTests {
    static let realm = "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: main}\n"
    static let blog = realm + "---\napiVersion: v1beta1\nkind: Space\nmetadata: {name: blog}\nspec: {realmId: main}\n"
    static let lab =
        "apiVersion: v1beta1\nkind: Realm\nmetadata: {name: test}\n---\napiVersion: v1beta1\nkind: Space\nmetadata: {name: lab}\nspec: {realmId: test}\n"

    /// The table without its counters, to compare listings taken at different times.
    func table(_ sandbox: KernelSandbox) -> String {
        sandbox.run(["nft", "list", "table", "inet", "kukeon"]).stdout.replacing(/packets \d+ bytes \d+/, with: "")
    }

    @Test("another run path neither deletes nor rewrites the table; its own space fails; the owner's spaces keep their rules")
    func anotherRunPath() throws {
        try KernelSandbox.with { sandbox in
            #expect(sandbox.kuke("apply", "-f", try sandbox.writeManifest("blog.yaml", Self.blog)).status == 0)
            let before = table(sandbox)
            #expect(before.contains("iifname \"kuke-main-blog\"") && before.contains("run:\(sandbox.runPath)\""), "\(before)")
            let other = "\(sandbox.directory)/other-run"
            let realmOnly = sandbox.kuke("apply", "-f", try sandbox.writeManifest("realm.yaml", Self.realm), "--run-path", other)
            #expect(realmOnly.status == 0 && !realmOnly.stdout.contains("Firewall") && !realmOnly.stderr.contains("warning"), "\(realmOnly)")
            #expect(table(sandbox) == before, "the table was not deleted")
            let dry = sandbox.kuke("apply", "-f", try sandbox.writeManifest("lab.yaml", Self.lab), "--run-path", other, "--dry-run")
            let lab = sandbox.kuke("apply", "-f", "\(sandbox.directory)/manifests/lab.yaml", "--run-path", other)
            #expect(lab.status == 1 && lab.stdout.contains("Firewall \"inet kukeon\": failed: FirewallOwnedElsewhere"), "\(lab)")
            #expect(lab.stdout.contains("Space \"test/lab\": failed: FirewallFailed"), "\(lab)")
            #expect(dry.status == 1 && dry.stdout.contains("FirewallOwnedElsewhere"), "the dry run predicts it: \(dry)")
            #expect(table(sandbox) == before, "the table was not rewritten")
            #expect(sandbox.kuke("delete", "space", "lab", "--realm", "test", "--run-path", other).status == 0)
            #expect(table(sandbox) == before)
            #expect(sandbox.kuke("get", "spaces").stdout.contains("Ready"))
            #expect(sandbox.kuke("diff", "-f", "\(sandbox.directory)/manifests/blog.yaml").status == 0)
        }
    }

    @Test("a run path that cannot be read is a host-wide error: get, diff and apply change nothing and never say 'no spaces'")
    func unreadableRunPath() throws {
        try KernelSandbox.with { sandbox in
            let manifest = try sandbox.writeManifest("blog.yaml", Self.blog)
            let realmOnly = try sandbox.writeManifest("realm.yaml", Self.realm)
            #expect(sandbox.kuke("apply", "-f", manifest).status == 0)
            let before = table(sandbox)
            #expect(chmod(sandbox.runPath, 0) == 0)
            defer { chmod(sandbox.runPath, 0o755) }
            // Root reads anything: without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, as a
            // service confined by its unit or a directory on a root-squashed mount would be.
            let confined = { (arguments: [String]) in
                sandbox.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", sandbox.kukeBinary] + arguments)
            }
            let get = confined(["get", "spaces"])
            #expect(get.status == 1 && get.stderr.contains("the run path cannot be read") && !get.stdout.contains("No spaces found"), "\(get)")
            let diff = confined(["diff", "-f", realmOnly])
            #expect(diff.status == 2 && !diff.stdout.contains("delete table"), "\(diff)")
            let apply = confined(["apply", "-f", realmOnly])
            #expect(apply.status == 1 && !apply.stdout.contains("Firewall"), "\(apply)")
            #expect(table(sandbox) == before, "the table was left as it was")

            // A run path that is not a directory at all.
            let file = "\(sandbox.directory)/not-a-directory"
            #expect(FileManager.default.createFile(atPath: file, contents: Data()))
            let notDirectory = sandbox.kuke("get", "spaces", "--run-path", file)
            #expect(notDirectory.status == 1 && notDirectory.stderr.contains("the run path cannot be read"), "\(notDirectory)")
            #expect(table(sandbox) == before)
        }
    }
}
