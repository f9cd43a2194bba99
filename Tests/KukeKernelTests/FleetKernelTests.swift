import Foundation
import KukeModel
import KukeTestSupport
import Testing

/// The fleet features through the real binary in a sandbox: the host configuration and its
/// labels, host selectors, inventory prune, suspend and resume.
@Suite("fleet (kernel)", .enabled(if: KernelSandbox.enabled, "\(KernelSandbox.skipReason)"), .serialized)
struct FleetKernelTests {
    static let manifests = """
        kind: Realm
        metadata: {name: main}
        spec: {}
        ---
        kind: Space
        metadata: {name: web}
        spec:
          realmId: main
          hostSelector: {matchLabels: {role: web}}
        ---
        kind: Space
        metadata: {name: db}
        spec:
          realmId: main
          hostSelector:
            matchExpressions: [{key: role, operator: In, values: [db]}]
        """

    func config(_ sandbox: KernelSandbox, role: String) throws -> String {
        let path = "\(sandbox.directory)/kuke.yaml"
        try "apiVersion: v1beta1\nkind: HostConfig\nspec:\n  labels:\n    site: fra\n    role: \(role)\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func kuke(_ sandbox: KernelSandbox, config: String, _ arguments: String...) -> Subprocess.Result {
        sandbox.run(["env", "KUKEON_CONFIG=\(config)", sandbox.kukeBinary] + arguments)
    }

    @Test("labels from the host configuration select what is applied; prune follows the selection; suspend holds a space still")
    func fleet() throws {
        try KernelSandbox.with { sandbox in
            let config = try config(sandbox, role: "web")
            let host = kuke(sandbox, config: config, "get", "host", "-o", "json")
            #expect(host.status == 0, "\(host)")
            let shown = try JSONParser.parse(host.stdout)
            #expect(shown["labels"]?["role"]?["value"]?.stringValue == "web")
            #expect(shown["labels"]?["role"]?["source"]?.stringValue == "\(config):6:11", "\(host.stdout)")
            #expect(shown["labels"]?["kukeon.io/arch"]?["source"]?.stringValue == "built-in")
            #expect(shown["settings"]?["run-path"]?["source"]?.stringValue == "KUKEON_RUN_PATH")
            #expect(shown["settings"]?["run-path"]?["value"]?.stringValue == sandbox.runPath)

            let path = try sandbox.writeManifest("fleet.yaml", Self.manifests)
            let applied = kuke(sandbox, config: config, "apply", "-f", path, "--prune", "--inventory", "fleet")
            #expect(applied.status == 0, "\(applied)")
            #expect(applied.stdout.contains("Space \"main/web\": created"))
            #expect(applied.stdout.contains("Space \"main/db\": skipped: hostSelector role in (db) does not select this host"), "\(applied)")
            #expect(sandbox.links()["kuke-main-web"] == "bridge" && sandbox.links()["kuke-main-db"] == nil)

            // The host becomes a database host: web is no longer selected and goes, db comes.
            let moved = try self.config(sandbox, role: "db")
            let preview = kuke(sandbox, config: moved, "diff", "-f", path, "--prune", "--inventory", "fleet")
            #expect(preview.status == 1 && preview.stdout.contains("kuke-main-web"), "\(preview)")
            let dry = kuke(sandbox, config: moved, "apply", "-f", path, "--prune", "--inventory", "fleet", "--dry-run")
            #expect(dry.stdout.contains("Space \"main/web\": deleted (dry run)"), "\(dry)")
            #expect(sandbox.links()["kuke-main-web"] == "bridge", "a dry run deletes nothing")
            let pruned = kuke(sandbox, config: moved, "apply", "-f", path, "--prune", "--inventory", "fleet")
            #expect(pruned.status == 0, "\(pruned)")
            #expect(pruned.stdout.contains("Space \"main/web\": deleted") && pruned.stdout.contains("Space \"main/db\": created"), "\(pruned)")
            #expect(sandbox.links()["kuke-main-web"] == nil && sandbox.links()["kuke-main-db"] == "bridge")

            // Suspended: drift is left alone, delete refused, prune passes it by; resumed: repaired.
            let suspend = kuke(sandbox, config: moved, "suspend", "space", "db", "--realm", "main", "--reason", "disk swap")
            #expect(suspend.status == 0 && suspend.stdout.contains("suspended: disk swap"), "\(suspend)")
            #expect(kuke(sandbox, config: moved, "get", "spaces").stdout.contains("Ready,Suspended"))
            #expect(sandbox.run(["ip", "link", "delete", "kuke-main-db"]).status == 0)
            let held = kuke(sandbox, config: moved, "apply", "-f", path)
            #expect(held.stdout.contains("Space \"main/db\": suspended: disk swap"), "\(held)")
            #expect(sandbox.links()["kuke-main-db"] == nil)
            let refused = kuke(sandbox, config: moved, "delete", "space", "db", "--realm", "main")
            #expect(refused.status == 1 && refused.stdout.contains("Suspended"), "\(refused)")
            let realmOnly = try sandbox.writeManifest("realm.yaml", "kind: Realm\nmetadata: {name: main}\nspec: {}\n")
            let passedBy = kuke(sandbox, config: moved, "apply", "-f", realmOnly, "--prune", "--inventory", "fleet", "--allow-empty")
            #expect(!passedBy.stdout.contains("main/db"), "\(passedBy)")
            #expect(sandbox.exists("\(sandbox.runPath)/main/db/space.yaml"))
            #expect(kuke(sandbox, config: moved, "resume", "space", "db", "--realm", "main").stdout.contains("resumed"))
            let repaired = kuke(sandbox, config: moved, "apply", "-f", path)
            #expect(repaired.stdout.contains("Space \"main/db\": updated"), "\(repaired)")
            #expect(sandbox.links()["kuke-main-db"] == "bridge")
        }
    }

    @Test("an invalid host configuration stops every command with its positions (exit 2); a named one that is missing too")
    func invalidConfig() throws {
        try KernelSandbox.with { sandbox in
            let path = "\(sandbox.directory)/kuke.yaml"
            try "kind: HostConfig\nspec:\n  labels: {role: \"no good\"}\n  subnetPool: 10.0.0.0/33\n".write(
                toFile: path, atomically: true, encoding: .utf8)
            let result = kuke(sandbox, config: path, "get", "spaces")
            #expect(result.status == 2, "\(result)")
            #expect(result.stderr.contains("\(path):3:18: label value \"no good\""), "\(result)")
            #expect(result.stderr.contains("\(path):4:15: spec.subnetPool \"10.0.0.0/33\""), "\(result)")
            let missing = kuke(sandbox, config: "\(sandbox.directory)/nope.yaml", "get", "spaces")
            #expect(missing.status == 2 && missing.stderr.contains("nope.yaml"), "\(missing)")
        }
    }
}
